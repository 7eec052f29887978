package server

import (
	"fmt"
	"testing"
)

// TestLoadSpool checks that batches come back whole and in order, from
// memory and, past the memory limit, from the temporary file.
func TestLoadSpool(t *testing.T) {
	for _, limit := range []int{1 << 20, 100} {
		t.Run(fmt.Sprintf("memory limit %d", limit), func(t *testing.T) {
			s := &loadSpool{memLimit: limit}
			defer s.close()
			var want []string
			for i := 0; i < 50; i++ {
				b := fmt.Sprintf("batch %d %s", i, make([]byte, i*7))
				want = append(want, b)
				if err := s.add([]byte(b)); err != nil {
					t.Fatal(err)
				}
			}
			if spilled := s.file != nil; spilled != (limit == 100) {
				t.Fatalf("spilled to a file: %v", spilled)
			}
			var got []string
			if err := s.replay(func(b []byte) error { got = append(got, string(b)); return nil }); err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("replayed %d batches, want %d in order", len(got), len(want))
			}
		})
	}
}

func TestQuoteLoadColumns(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"LOAD DATA LOCAL INFILE 'f' INTO TABLE events (time, event, plan)", "LOAD DATA LOCAL INFILE 'f' INTO TABLE events (`time`, `event`, `plan`)"},
		{"LOAD DATA LOCAL INFILE 'f' INTO TABLE events (`$os`,name)", "LOAD DATA LOCAL INFILE 'f' INTO TABLE events (`$os`, `name`)"},
		{"LOAD DATA LOCAL INFILE 'f' INTO TABLE events", ""},                 // no column list
		{"LOAD DATA LOCAL INFILE 'f' INTO TABLE events (a, @skip)", ""},      // a variable: not rewritten
		{"LOAD DATA LOCAL INFILE 'f' INTO TABLE events (a); SELECT (1)", ""}, // two statements
		{"LOAD DATA LOCAL INFILE 'f' INTO TABLE events (a,)", ""},            // empty name
	} {
		got, ok := quoteLoadColumns(tc.in)
		if !ok {
			got = ""
		}
		if got != tc.want {
			t.Errorf("%s:\n got %q\nwant %q", tc.in, got, tc.want)
		}
	}
}

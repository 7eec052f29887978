package server

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/dolthub/go-mysql-server/sql"
	ast "github.com/dolthub/vitess/go/vt/sqlparser"

	"arb/storage"
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

// BenchmarkLoadDataRead measures pass 1 of LOAD DATA (read, convert,
// check, encode into the spool) per row of a CSV shaped like the bench
// workload: low-cardinality strings, a user id of high cardinality, a
// nullable number.
//
//	go test ./server -run '^$' -bench BenchmarkLoadDataRead -count 5
func BenchmarkLoadDataRead(b *testing.B) {
	benchmarkLoad(b, false)
}

// BenchmarkLoadData is a whole load (staged as a bulk, committed) into a
// fresh store each time.
//
//	go test ./server -run '^$' -bench 'BenchmarkLoadData$' -count 5
func BenchmarkLoadData(b *testing.B) {
	benchmarkLoad(b, true)
}

func benchmarkLoad(b *testing.B, store bool) {
	const rows = 100_000
	var csv bytes.Buffer
	for i := 0; i < rows; i++ {
		amount := `\N`
		if i%30 == 0 {
			amount = fmt.Sprintf("%d.%02d", i%500, i%100)
		}
		fmt.Fprintf(&csv, "2025-01-%02d %02d:%02d:%02d,%s,user-%08d,%s,%s,City %d,%s,%s,%s\n",
			1+i%28, i%24, i%60, i%60, []string{"Page View", "Click", "Purchase", "Signup"}[i%4], i*7919%200_000,
			[]string{"Windows", "Mac OS X", "iOS"}[i%3], []string{"Chrome", "Firefox"}[i%2], i%300,
			[]string{"free", "pro"}[i%2], []string{"", "ads", "mail"}[i%3], amount)
	}
	ld, err := ast.Parse(`LOAD DATA LOCAL INFILE 'f' INTO TABLE events FIELDS TERMINATED BY ',' OPTIONALLY ENCLOSED BY '"' ` +
		"(`time`, `event`, distinct_id, `$os`, `$browser`, `$city`, `plan`, utm_source, amount)")
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(csv.Len()))
	b.ReportAllocs()
	var elapsed time.Duration
	for range b.N {
		st, err := storage.Open(storage.Options{Dir: b.TempDir(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := st.CreateProject("bench", "t", "s"); err != nil {
			b.Fatal(err)
		}
		project, _ := st.Project("bench")
		start := time.Now()
		plan, err := planLoad(project, ld.(*ast.Load))
		if err != nil {
			b.Fatal(err)
		}
		plan.ctx = sql.NewEmptyContext()
		var n int64
		if store {
			n, err = plan.load(context.Background(), io.NopCloser(bytes.NewReader(csv.Bytes())))
		} else {
			spool := &loadSpool{}
			n, err = plan.read(context.Background(), bytes.NewReader(csv.Bytes()), spoolSink{spool})
			spool.close()
		}
		elapsed += time.Since(start)
		st.Close()
		if err != nil || n != rows {
			b.Fatalf("loaded %d rows: %v", n, err)
		}
	}
	b.ReportMetric(float64(elapsed.Nanoseconds())/float64(b.N*rows), "ns/row")
}

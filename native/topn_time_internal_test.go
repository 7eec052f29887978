package native

import "testing"

// TestPartSkipper checks which parts the time-ordered TopN leaves unread:
// only those whose every row sorts strictly after the bound on the time
// key, NULL times counted where the key puts them.
func TestPartSkipper(t *testing.T) {
	spans := []partSpan{
		{}, // 0: unknown (buffered rows)
		{known: true, values: true, lo: 10, hi: 20},
		{known: true, values: true, lo: 20, hi: 30},
		{known: true, values: true, lo: 5, hi: 19, hasNull: true},
		{known: true, hasNull: true}, // 4: every time NULL
		{known: true, values: true, lo: 31, hi: 40},
	}
	for _, c := range []struct {
		desc, nullFirst bool
		bound           int64
		want            []bool // per part
	}{
		// DESC: skip when the latest time is before the bound; a part
		// reaching the bound's time may tie it and win on a later key.
		{desc: true, bound: 20, want: []bool{false, false, false, true, true, false}},
		{desc: true, bound: 21, want: []bool{false, true, false, true, true, false}},
		// NULLs first (DESC NULLS FIRST): parts with NULLs are read.
		{desc: true, nullFirst: true, bound: 21, want: []bool{false, true, false, false, false, false}},
		// ASC: skip when the earliest time is after the bound.
		{bound: 20, want: []bool{false, false, false, false, true, true}},
		{bound: 19, want: []bool{false, false, true, false, true, true}},
		{nullFirst: true, bound: 19, want: []bool{false, false, true, false, false, true}},
	} {
		k := &partSkipper{spans: spans, desc: c.desc, nullFirst: c.nullFirst}
		for p := range spans {
			if k.skip(p) {
				t.Fatalf("%+v: part %d skipped before any bound", c, p)
			}
		}
		k.publish(c.bound)
		for p, want := range c.want {
			if got := k.skip(p); got != want {
				t.Errorf("desc=%v nullFirst=%v bound=%d: part %d %+v skipped=%v, want %v", c.desc, c.nullFirst, c.bound, p, spans[p], got, want)
			}
		}
	}
}

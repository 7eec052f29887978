package engine

import (
	"testing"

	"arb/storage"
)

// TestComparesTime: timeMayMatch skips the zone maps exactly when no term
// it could decide (a comparison of time with a time value, under AND/OR)
// is in the predicate.
func TestComparesTime(t *testing.T) {
	tm := Compare{Column: "Time", Op: OpGE, Value: storage.TimeValue(1)}
	ev := Compare{Column: "event", Op: OpEQ, Value: storage.StringValue("Purchase")}
	for _, c := range []struct {
		p    Predicate
		want bool
	}{
		{ev, false},
		{tm, true},
		{Compare{Column: "time", Op: OpEQ, Value: storage.IntValue(5)}, false}, // not a time value: may never decides it
		{And{Terms: []Predicate{ev, tm}}, true},
		{Or{Terms: []Predicate{ev, And{Terms: []Predicate{ev, tm}}}}, true},
		{And{Terms: []Predicate{ev, In{Column: "event", Values: []storage.Value{storage.StringValue("a")}}}}, false},
		{Not{Term: tm}, false}, // may treats NOT as undecided
	} {
		if got := comparesTime(c.p); got != c.want {
			t.Errorf("comparesTime(%s) = %v, want %v", c.p, got, c.want)
		}
	}
}

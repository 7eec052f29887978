package engine

import (
	"context"
	"testing"

	"arb/storage"
)

// TestAggregateRunUsers checks RunUsers' user numbers: for a GROUP BY
// distinct_id (alone or with another key), the any(distinct_id) output
// carries each row's user number, whose id is the row's string; every
// other output has none; and the rows are Run's.
func TestAggregateRunUsers(t *testing.T) {
	snap := benchSnapshot(t, 2*storage.SegmentBlockRows+77)
	ev := Compare{Column: "event", Op: OpEQ, Value: storage.StringValue("Purchase")}
	for _, c := range []struct {
		name  string
		keys  []GroupKey
		aggs  []Agg
		users []bool // per agg: numbers expected
	}{
		{"user", []GroupKey{{Column: "distinct_id"}},
			[]Agg{{Kind: AggMin, Column: "time"}, {Kind: AggAny, Column: "distinct_id"}, {Kind: AggCount}}, []bool{false, true, false}},
		{"user,event", []GroupKey{{Column: "event"}, {Column: "distinct_id"}},
			[]Agg{{Kind: AggAny, Column: "event"}, {Kind: AggAny, Column: "distinct_id"}, {Kind: AggSum, Column: "amount"}}, []bool{false, true, false}},
		{"event", []GroupKey{{Column: "event"}},
			[]Agg{{Kind: AggAny, Column: "event"}, {Kind: AggCountDistinct, Column: "distinct_id"}}, []bool{false, false}},
	} {
		for _, f := range []Predicate{nil, ev} {
			a := &Aggregation{Snap: snap, Filter: f, Keys: c.keys, Aggs: c.aggs}
			want, err := a.Run(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			rows, users, err := a.RunUsers(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if w, g := renderGroups(want), renderGroups(rows); len(w) != len(g) || len(g) == 0 {
				t.Fatalf("%s: RunUsers gave %d rows, Run %d", c.name, len(g), len(w))
			} else {
				for i := range w {
					if w[i] != g[i] {
						t.Fatalf("%s: row %d: RunUsers %q, Run %q", c.name, i, g[i], w[i])
					}
				}
			}
			if len(users) != len(c.aggs) {
				t.Fatalf("%s: %d user columns for %d aggregates", c.name, len(users), len(c.aggs))
			}
			for j, want := range c.users {
				if (users[j] != nil) != want {
					t.Fatalf("%s: aggregate %d: numbers %v, want %v", c.name, j, users[j] != nil, want)
				}
				if users[j] == nil {
					continue
				}
				seen := map[uint32]bool{}
				for g, row := range rows {
					u := users[j][g]
					if id := snap.UserIDs.ID(u); row[j].Str != id {
						t.Fatalf("%s: row %d: %q carries user %d, whose id is %q", c.name, g, row[j].Str, u, id)
					}
					seen[u] = true
				}
				if len(c.keys) == 1 && len(seen) != len(rows) {
					t.Fatalf("%s: %d rows, %d distinct users", c.name, len(rows), len(seen))
				}
			}
		}
	}
}

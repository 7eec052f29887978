package engine

import (
	"context"
	"slices"
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

// TestAggregateUnread: an aggregate marked Unread is NULL in every row
// and carries no user numbers; the other outputs and the groups are
// those of the run that reads everything, through Run and RunGroups.
func TestAggregateUnread(t *testing.T) {
	snap := benchSnapshot(t, 2*storage.SegmentBlockRows+77)
	ctx := context.Background()
	keys := []GroupKey{{Column: "distinct_id"}}
	aggs := []Agg{{Kind: AggAny, Column: "distinct_id"}, {Kind: AggCount}, {Kind: AggSum, Column: "amount"}}
	all := &Aggregation{Snap: snap, Keys: keys, Aggs: aggs, Workers: 1} // one worker: the same row order each run
	want, err := all.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	some := &Aggregation{Snap: snap, Keys: keys, Aggs: aggs, Workers: 1, Unread: []bool{true, false, false}}
	rows, users, err := some.RunUsers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != len(want) || len(rows) < 2 {
		t.Fatalf("%d rows, want %d (and more than one)", len(rows), len(want))
	}
	if users[0] != nil {
		t.Fatal("an unread distinct_id output carries user numbers")
	}
	gs, err := some.RunGroups(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer gs.Release()
	if gs.Len() != len(want) {
		t.Fatalf("RunGroups: %d groups, want %d", gs.Len(), len(want))
	}
	for g := range rows {
		if !rows[g][0].IsNull() || !gs.Value(g, 0).IsNull() {
			t.Fatalf("row %d: unread output %v / %v, want NULL", g, rows[g][0], gs.Value(g, 0))
		}
		for j := 1; j < len(aggs); j++ {
			if rows[g][j] != want[g][j] || gs.Value(g, j) != want[g][j] {
				t.Fatalf("row %d, output %d: %v / %v, want %v", g, j, rows[g][j], gs.Value(g, j), want[g][j])
			}
		}
	}
}

// TestGroupTableOneKey: a one-key table's groups by value across its
// dense index, its map (keys beyond denseLimit) and the NULL group, also
// after growDense comes to cover keys the map held.
func TestGroupTableOneKey(t *testing.T) {
	g := newGroupTable(1)
	key := func(k uint64) groupKey { return groupKey{k: [maxGroupKeys]uint64{k}} }
	big := uint64(denseLimit + 5)
	ids := []int32{g.lookup(key(3)), g.lookup(key(big)), g.lookup(groupKey{nulls: 1}), g.lookup(key(0))}
	if want := []int32{0, 1, 2, 3}; !slices.Equal(ids, want) {
		t.Fatalf("first lookups: %v, want %v", ids, want)
	}
	g.growDense(int(big) + 1)
	again := []int32{g.lookup(key(big)), g.lookup(key(3)), g.lookup(groupKey{nulls: 1}), g.lookup(key(big + 1))}
	if want := []int32{1, 0, 2, 4}; !slices.Equal(again, want) {
		t.Fatalf("after growDense: %v, want %v", again, want)
	}
	if len(g.m1) != 1 || g.len() != 5 {
		t.Fatalf("map holds %d keys, table %d groups; want 1 (big+1) and 5", len(g.m1), g.len())
	}
	for gid, want := range []groupKey{key(3), key(big), {nulls: 1}, key(0), key(big + 1)} {
		if k := g.key(int32(gid)); k != want {
			t.Fatalf("key of group %d: %v, want %v", gid, k, want)
		}
	}
}

package engine

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"

	"arb/storage"
)

// TestExtremeTimeMatchesValues: MIN(time) and MAX(time) in typed state
// (aggregate_extreme_time.go) give exactly what extremeState gives, value
// and type, grouped by user (one group per user, merged over two parts
// read by two workers), by event, by plan and not at all, with and
// without a filter that leaves most users out; and the per-user grouping
// is charged less for it.
func TestExtremeTimeMatchesValues(t *testing.T) {
	one := benchSnapshot(t, 3*storage.SegmentBlockRows+123)
	snap := *one
	snap.Segments = []*storage.SegmentRef{one.Segments[0], one.Segments[0]} // every user in two parts
	purchases := Compare{Column: "event", Op: OpEQ, Value: storage.StringValue("Purchase")}
	aggs := []Agg{{Kind: AggMin, Column: "time"}, {Kind: AggMax, Column: "time"}, {Kind: AggCount}}
	render := func(rows [][]storage.Value) string {
		out := make([]string, len(rows))
		for i, r := range rows {
			parts := make([]string, len(r))
			for j, v := range r {
				parts[j] = fmt.Sprintf("%d:%d:%g:%q", v.Type, v.Int, v.Float, v.Str)
			}
			out[i] = strings.Join(parts, "|")
		}
		sort.Strings(out)
		return strings.Join(out, "\n")
	}
	run := func(typed bool, keys []GroupKey, f Predicate, b *MemoryBudget) string {
		t.Helper()
		defer func(on bool) { extremeTimeOn = on }(extremeTimeOn)
		extremeTimeOn = typed
		a := &Aggregation{Snap: &snap, Filter: f, Keys: keys, Aggs: append(keyAnys(keys), aggs...), Workers: 2}
		ctx := context.Background()
		if b != nil {
			ctx = WithMemoryBudget(ctx, b)
		}
		rows, err := a.Run(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) == 0 {
			t.Fatalf("keys %v, filter %v: no groups", keys, f)
		}
		return render(rows)
	}
	for _, keys := range [][]GroupKey{{{Column: "distinct_id"}}, {{Column: "event"}}, {{Column: "plan"}}, nil} {
		for _, f := range []Predicate{nil, purchases} {
			if want, got := run(false, keys, f, nil), run(true, keys, f, nil); got != want {
				t.Errorf("keys %v, filter %v: typed state\n%.600s\nwant\n%.600s", keys, f, got, want)
			}
		}
	}
	users := []GroupKey{{Column: "distinct_id"}}
	general, typed := NewMemoryBudget(1<<30), NewMemoryBudget(1<<30)
	run(false, users, nil, general)
	run(true, users, nil, typed)
	if typed.PeakBytes() >= general.PeakBytes() {
		t.Errorf("per-user MIN/MAX(time) charged %d bytes typed, %d with values: want less", typed.PeakBytes(), general.PeakBytes())
	}
}

// keyAnys shows each key's column, as a GROUP BY's select list does.
func keyAnys(keys []GroupKey) []Agg {
	var out []Agg
	for _, k := range keys {
		out = append(out, Agg{Kind: AggAny, Column: k.Column})
	}
	return out
}

// TestAggregationReleasesState: once the rows are built, the workers'
// state is given back to the budget and only the rows stay charged.
func TestAggregationReleasesState(t *testing.T) {
	snap := benchSnapshot(t, 3*storage.SegmentBlockRows+123)
	aggs := []Agg{{Kind: AggAny, Column: "distinct_id"}, {Kind: AggMin, Column: "time"}}
	pool := NewMemoryPool(1 << 30)
	b := NewMemoryBudgetIn(pool, 1<<30)
	a := &Aggregation{Snap: snap, Filter: Compare{Column: "event", Op: OpEQ, Value: storage.StringValue("Page View")},
		Keys: []GroupKey{{Column: "distinct_id"}}, Aggs: aggs, Workers: 2}
	rows, err := a.Run(WithMemoryBudget(context.Background(), b))
	if err != nil {
		t.Fatal(err)
	}
	want := int64(len(rows)) * (rowBytes + int64(len(aggs))*rowValueBytes)
	if len(rows) < 100 || pool.UsedBytes() != want || b.PeakBytes() <= want {
		t.Errorf("%d groups: %d bytes charged after the run (peak %d), want the rows' %d", len(rows), pool.UsedBytes(), b.PeakBytes(), want)
	}
}

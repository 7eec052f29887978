package engine

import (
	"bytes"
	"context"
	"fmt"
	"math/rand"
	"testing"

	"arb/storage"
)

// benchSnapshot is one in-memory segment of n Mixpanel-shaped rows with
// user numbers: event (30 names, skewed), plan (3 values), amount on ~3 %
// of rows, n/20 users, time ordered over one day.
func benchSnapshot(tb testing.TB, n int) *storage.Snapshot {
	tb.Helper()
	r := rand.New(rand.NewSource(1))
	names := make([]string, 30)
	for i := range names {
		names[i] = fmt.Sprintf("Event %02d", i)
	}
	names[0], names[1] = "Page View", "Purchase"
	users := max(n/20, 1)
	ids := make([]string, users)
	for i := range ids {
		ids[i] = fmt.Sprintf("%016x", r.Uint64())
	}
	cols := []storage.SegmentColumn{
		{Name: storage.ColTime, Type: storage.TypeTime, Ints: make([]int64, n)},
		{Name: storage.ColEvent, Type: storage.TypeString, Strs: make([]string, n)},
		{Name: storage.ColDistinctID, Type: storage.TypeString, Strs: make([]string, n)},
		{Name: storage.ColInsertID, Type: storage.TypeString, Strs: make([]string, n)},
		{Name: storage.ColUserNumber, Type: storage.TypeInt, Ints: make([]int64, n)},
		{Name: "plan", Type: storage.TypeString, Strs: make([]string, n)},
		{Name: "amount", Type: storage.TypeFloat, Floats: make([]float64, n), Nulls: make([]bool, n)},
	}
	base := int64(1_735_689_600_000)
	for i := 0; i < n; i++ {
		u := r.Intn(users)
		name := names[min(int(r.ExpFloat64()*3), len(names)-1)]
		if r.Intn(33) == 0 {
			name = "Purchase"
		}
		cols[0].Ints[i] = base + int64(i)*86_400_000/int64(n)
		cols[1].Strs[i] = name
		cols[2].Strs[i] = ids[u]
		cols[4].Ints[i] = int64(u)
		cols[5].Strs[i] = []string{"free", "free", "free", "free", "pro", "enterprise"}[u%6]
		cols[6].Nulls[i] = name != "Purchase"
		cols[6].Floats[i] = r.ExpFloat64() * 30
	}
	var buf bytes.Buffer
	if _, err := storage.WriteSegment(&buf, nil, n, cols); err != nil {
		tb.Fatal(err)
	}
	seg, err := storage.OpenSegment(bytes.NewReader(buf.Bytes()), int64(buf.Len()), "bench.seg")
	if err != nil {
		tb.Fatal(err)
	}
	return &storage.Snapshot{
		Columns:  []storage.Column{{Name: "plan", Type: storage.TypeString}, {Name: "amount", Type: storage.TypeFloat}},
		Segments: []*storage.SegmentRef{{Segment: seg}},
		UserIDs:  storage.NewUserIDs(ids),
	}
}

func runBench(b *testing.B, snap *storage.Snapshot, a Aggregation) {
	b.ReportAllocs()
	rows := snap.Segments[0].Segment.Rows()
	b.SetBytes(int64(rows)) // "bytes" are rows: MB/s reads as million rows/s
	a.Snap = snap
	ctx := context.Background()
	if _, err := a.Run(ctx); err != nil { // warm the block cache
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := a.Run(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAggregate covers the hot loops: a bitmap filter, group by on
// dictionary codes, a sparse float sum, an integer sum as floats and
// exact, distinct users per day, and a
// three-step funnel per user.
//
//	go test ./engine -run '^$' -bench BenchmarkAggregate -benchmem
func BenchmarkAggregate(b *testing.B) {
	for _, n := range []int{100_000, 1_000_000} {
		snap := benchSnapshot(b, n)
		day := func(ms int64) (uint64, error) { return uint64(ms / 86_400_000), nil }
		cases := []struct {
			name string
			a    Aggregation
		}{
			{"count_star", Aggregation{Aggs: []Agg{{Kind: AggCount}}}},
			{"bitmap_filter_count", Aggregation{Filter: Compare{Column: "event", Op: OpEQ, Value: storage.StringValue("Purchase")},
				Aggs: []Agg{{Kind: AggCount}}}},
			{"dict_group_count", Aggregation{Keys: []GroupKey{{Column: "event"}},
				Aggs: []Agg{{Kind: AggCount}, {Kind: AggAny, Column: "event"}}}},
			{"sum_by_plan", Aggregation{Keys: []GroupKey{{Column: "plan"}},
				Aggs: []Agg{{Kind: AggSum, Column: "amount"}, {Kind: AggAny, Column: "plan"}}}},
			// An integer column (time's milliseconds) summed as floats
			// and exactly (aggregate_exact_sum.go), the two side by side.
			{"sum_int_float_by_plan", Aggregation{Keys: []GroupKey{{Column: "plan"}},
				Aggs: []Agg{{Kind: AggSum, Column: "time"}, {Kind: AggAny, Column: "plan"}}}},
			{"sum_int_exact_by_plan", Aggregation{Keys: []GroupKey{{Column: "plan"}},
				Aggs: []Agg{{Kind: AggSum, Column: "time", Exact: true}, {Kind: AggAny, Column: "plan"}}}},
			{"uniques_by_day", Aggregation{Keys: []GroupKey{{Column: "time", BucketMillis: 86_400_000, Bucket: day}},
				Aggs: []Agg{{Kind: AggCountDistinct, Column: "distinct_id"}, {Kind: AggAny, Column: "time"}}}},
			{"funnel_by_user", Aggregation{Keys: []GroupKey{{Column: "distinct_id"}},
				Aggs: []Agg{{Kind: AggWindowFunnel, Column: "time", WindowMillis: 7 * 86_400_000, Conds: []Predicate{
					Compare{Column: "event", Op: OpEQ, Value: storage.StringValue("Event 02")},
					Compare{Column: "event", Op: OpEQ, Value: storage.StringValue("Page View")},
					Compare{Column: "event", Op: OpEQ, Value: storage.StringValue("Purchase")},
				}}, {Kind: AggAny, Column: "distinct_id"}}}},
		}
		for _, c := range cases {
			b.Run(fmt.Sprintf("%s/rows=%d", c.name, n), func(b *testing.B) { runBench(b, snap, c.a) })
		}
		b.Run(fmt.Sprintf("block_decode/rows=%d", n), func(b *testing.B) {
			seg := snap.Segments[0].Segment
			b.ReportAllocs()
			b.SetBytes(int64(n))
			for i := 0; i < b.N; i++ {
				for blk := 0; blk < seg.NumBlocks(); blk++ {
					for _, col := range []string{storage.ColTime, storage.ColEvent, storage.ColUserNumber, "amount"} {
						if _, err := seg.ReadBlock(col, blk); err != nil {
							b.Fatal(err)
						}
					}
				}
			}
		})
	}
}

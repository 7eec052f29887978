package engine

import (
	"bytes"
	"context"
	"fmt"
	"math/rand"
	"sort"
	"strings"
	"testing"
	"time"

	"arb/storage"
)

// TestBucketGroupsOutOfOrder checks a grouping by one time bucket key
// over rows whose times are not in order (so the last bucket rarely
// answers) against brute force: buckets before the epoch, a Bucket
// function folding many buckets into one key (hour of day), and spans
// wider than bucketDense's table (its fallback), blocks whose buckets
// lie before and after those already seen.
func TestBucketGroupsOutOfOrder(t *testing.T) {
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewSource(seed))
	const hour = 3_600_000
	for _, c := range []struct {
		name       string
		base, span int64 // times in [base, base+span)
	}{
		{"days", 1_735_689_600_000, 40 * 24 * hour},
		{"before epoch", -3 * 24 * hour, 7 * 24 * hour},
		{"too wide for the table", 0, 3 * maxBucketSpan * hour},
	} {
		t.Run(c.name, func(t *testing.T) {
			n := 2*storage.SegmentBlockRows + 77
			times := make([]int64, n)
			cols := []storage.SegmentColumn{
				{Name: storage.ColTime, Type: storage.TypeTime, Ints: times},
				{Name: storage.ColEvent, Type: storage.TypeString, Strs: make([]string, n)},
				{Name: storage.ColDistinctID, Type: storage.TypeString, Strs: make([]string, n)},
				{Name: storage.ColInsertID, Type: storage.TypeString, Strs: make([]string, n)},
			}
			for i := range times {
				// Block 1 lies before block 0 and block 2 after it:
				// the table grows at both ends.
				third := c.span / 3
				times[i] = c.base + []int64{1, 0, 2}[i/storage.SegmentBlockRows]*third + r.Int63n(third)
				cols[1].Strs[i] = []string{"a", "b"}[r.Intn(2)]
				cols[2].Strs[i] = "u"
				cols[3].Strs[i] = fmt.Sprint(i)
			}
			var buf bytes.Buffer
			if _, err := storage.WriteSegment(&buf, nil, n, cols); err != nil {
				t.Fatal(err)
			}
			seg, err := storage.OpenSegment(bytes.NewReader(buf.Bytes()), int64(buf.Len()), "bucket.seg")
			if err != nil {
				t.Fatal(err)
			}
			snap := &storage.Snapshot{Segments: []*storage.SegmentRef{{Segment: seg}}}
			hourOfDay := func(ms int64) (uint64, error) { return uint64((floorDiv(ms, hour)%24 + 24) % 24), nil }
			for _, f := range []Predicate{nil, Compare{"event", OpEQ, storage.StringValue("a")}} {
				want := map[string]int{}
				for i, tm := range times {
					if f == nil || cols[1].Strs[i] == "a" {
						want[fmt.Sprint((floorDiv(tm, hour)%24+24)%24)]++
					}
				}
				var wantRows []string
				for k, v := range want {
					wantRows = append(wantRows, fmt.Sprintf("%s|%d", k, v))
				}
				sort.Strings(wantRows)
				a := &Aggregation{Snap: snap, Filter: f, Workers: 1,
					Keys: []GroupKey{{Column: "time", BucketMillis: hour, Bucket: hourOfDay}}, Aggs: []Agg{{Kind: AggAny, Column: "time"}, {Kind: AggCount}}}
				got, err := a.Run(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				var gotRows []string
				for _, g := range got {
					gotRows = append(gotRows, fmt.Sprintf("%d|%d", (floorDiv(g[0].Int, hour)%24+24)%24, g[1].Int))
				}
				sort.Strings(gotRows)
				if g, w := strings.Join(gotRows, " "), strings.Join(wantRows, " "); g != w {
					t.Fatalf("filter %v:\ngot  %s\nwant %s", f, g, w)
				}
			}
		})
	}
}

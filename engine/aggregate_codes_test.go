package engine

import (
	"context"
	"fmt"
	"math/rand"
	"sort"
	"strings"
	"testing"
	"time"

	"arb/storage"
)

// TestMultiKeyCodeGroupsMatchBruteForce checks groupings by several keys
// (codeTupleGroups when every key is dictionary-coded, the key-tuple path
// otherwise) against groups built from the events one by one: keys with
// NULLs, a key stored as int and widened to string (its codes and
// dictionary are rebuilt per block), a key missing everywhere, the same
// key twice, buffered rows beside the segment, and filters evaluated per
// row.
func TestMultiKeyCodeGroupsMatchBruteForce(t *testing.T) {
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewSource(seed))
	snap, all := testSnapshot(t, r, 2*storage.SegmentBlockRows+400, 900)
	str := func(v string) storage.Value { return storage.StringValue(v) }
	filters := []Predicate{
		nil,
		Not{Term: Compare{"event", OpEQ, str("Signup")}},
		Or{Terms: []Predicate{Compare{"amount", OpGT, storage.FloatValue(25)}, IsNull{"plan"}}},
	}
	text := func(v storage.Value) string {
		if v.IsNull() {
			return "NULL"
		}
		return v.Text()
	}
	for fi, f := range filters {
		for _, keys := range [][]string{
			{"event", "plan"},
			{"plan", "n"},
			{"plan", "missing", "event"},
			{"plan", "event", "plan"},
			{"event", "amount"}, // amount is not coded: the key-tuple path
		} {
			t.Run(fmt.Sprintf("filter%d/%s", fi, strings.Join(keys, ",")), func(t *testing.T) {
				type acc struct {
					n   int64
					sum float64
					has bool
				}
				groups := map[string]*acc{}
				for k := range all {
					e := &all[k]
					if f != nil && eval(f, func(col string) storage.Value { return bruteValue(e, col) }) != tTrue {
						continue
					}
					var parts []string
					for _, c := range keys {
						parts = append(parts, text(bruteValue(e, c)))
					}
					key := strings.Join(parts, "|")
					a := groups[key]
					if a == nil {
						a = &acc{}
						groups[key] = a
					}
					a.n++
					if v := bruteValue(e, "amount"); !v.IsNull() {
						a.sum, a.has = a.sum+v.Float, true
					}
				}
				var want []string
				for k, a := range groups {
					sum := "NULL"
					if a.has {
						sum = fmt.Sprintf("%.6g", a.sum)
					}
					want = append(want, fmt.Sprintf("%s|%d|%s", k, a.n, sum))
				}
				sort.Strings(want)
				var gks []GroupKey
				var aggs []Agg
				for _, c := range keys {
					gks = append(gks, GroupKey{Column: c})
					aggs = append(aggs, Agg{Kind: AggAny, Column: c})
				}
				aggs = append(aggs, Agg{Kind: AggCount}, Agg{Kind: AggSum, Column: "amount"})
				a := &Aggregation{Snap: snap, Filter: f, Keys: gks, Aggs: aggs, Workers: 1 + r.Intn(2)}
				got, err := a.Run(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				if g, w := strings.Join(renderGroups(got), "\n"), strings.Join(want, "\n"); g != w {
					t.Fatalf("aggregation %s\ngot  %.800v\nwant %.800v", a, g, w)
				}
				if len(want) < 4 {
					t.Fatalf("only %d groups: the test data does not exercise the grouping", len(want))
				}
			})
		}
	}
}

// TestRunRowsAreIndependent checks that Run's rows, which share one
// allocation, do not overlap: appending to one leaves the next intact.
func TestRunRowsAreIndependent(t *testing.T) {
	snap := benchSnapshot(t, 1000)
	a := &Aggregation{Snap: snap, Keys: []GroupKey{{Column: "plan"}}, Aggs: []Agg{{Kind: AggAny, Column: "plan"}, {Kind: AggCount}}}
	got, err := a.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(got) < 2 {
		t.Fatalf("%d groups, want several", len(got))
	}
	before := renderGroups(got[1:2])[0]
	_ = append(got[0], storage.StringValue("extra"), storage.StringValue("extra"))
	if after := renderGroups(got[1:2])[0]; after != before {
		t.Fatalf("appending to row 0 changed row 1 from %s to %s", before, after)
	}
}

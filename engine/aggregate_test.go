package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"testing"

	"arb/storage"
)

// scanRows reads cols of the rows matching f through the plain Scan.
func scanRows(t *testing.T, snap *storage.Snapshot, f Predicate, cols ...string) [][]storage.Value {
	t.Helper()
	s := &Scan{Snap: snap, Columns: cols, Filter: f}
	var out [][]storage.Value
	for part := 0; part < s.Parts(); part++ {
		it, err := s.PartRows(context.Background(), part)
		if err != nil {
			t.Fatal(err)
		}
		for {
			row, err := it.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, row)
		}
	}
	return out
}

func renderGroups(rows [][]storage.Value) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		parts := make([]string, len(r))
		for j, v := range r {
			if v.Type == storage.TypeFloat {
				parts[j] = fmt.Sprintf("%.6g", v.Float)
			} else {
				parts[j] = v.Text()
			}
			if v.IsNull() {
				parts[j] = "NULL"
			}
		}
		out[i] = strings.Join(parts, "|")
	}
	sort.Strings(out)
	return out
}

// TestAggregateMatchesScan checks the native aggregation, including its
// shortcuts (count(*) from part sizes, counts from bitmap cardinalities,
// dictionary-code, user and bucket groups) against sums over plain scan
// rows.
func TestAggregateMatchesScan(t *testing.T) {
	snap := benchSnapshot(t, 3*storage.SegmentBlockRows+123)
	ev := func(s string) Predicate { return Compare{Column: "event", Op: OpEQ, Value: storage.StringValue(s)} }
	filters := []Predicate{
		nil,
		ev("Purchase"),
		Or{Terms: []Predicate{ev("Purchase"), ev("Page View")}},
		And{Terms: []Predicate{ev("Page View"), Compare{Column: "time", Op: OpGE, Value: storage.TimeValue(1_735_689_600_000 + 40_000_000)}}},
		// The time bound holds for the whole segment: the bitmaps answer.
		And{Terms: []Predicate{ev("Purchase"), Compare{Column: "time", Op: OpGE, Value: storage.TimeValue(1_735_689_600_000)}}},
		// It holds for no block: nothing is read.
		And{Terms: []Predicate{ev("Purchase"), Compare{Column: "time", Op: OpLT, Value: storage.TimeValue(1_735_689_600_000)}}},
		Not{Term: ev("Purchase")},
		Compare{Column: "amount", Op: OpGT, Value: storage.FloatValue(20)},
	}
	day := func(ms int64) (uint64, error) { return uint64(ms / 3_600_000), nil } // hours, named by hour number
	for fi, f := range filters {
		rows := scanRows(t, snap, f, "event", "plan", "amount", "time", "distinct_id")
		type acc struct {
			n, nAmount int64
			sum        float64
			users      map[string]bool
		}
		brute := func(key func(r []storage.Value) string) []string {
			groups := map[string]*acc{}
			for _, r := range rows {
				k := key(r)
				a := groups[k]
				if a == nil {
					a = &acc{users: map[string]bool{}}
					groups[k] = a
				}
				a.n++
				if !r[2].IsNull() {
					a.nAmount++
					a.sum += r[2].Float
				}
				a.users[r[4].Str] = true
			}
			var out []string
			for k, a := range groups {
				sum := "NULL"
				if a.nAmount > 0 {
					sum = fmt.Sprintf("%.6g", a.sum)
				}
				out = append(out, fmt.Sprintf("%s|%d|%s|%d", k, a.n, sum, len(a.users)))
			}
			sort.Strings(out)
			return out
		}
		for _, c := range []struct {
			name string
			keys []GroupKey
			key  func(r []storage.Value) string
		}{
			{"none", nil, func([]storage.Value) string { return "" }},
			{"event", []GroupKey{{Column: "event"}}, func(r []storage.Value) string { return r[0].Str }},
			{"plan", []GroupKey{{Column: "plan"}}, func(r []storage.Value) string { return r[1].Str }},
			{"hour", []GroupKey{{Column: "time", BucketMillis: 3_600_000, Bucket: day}},
				func(r []storage.Value) string { return fmt.Sprint(r[3].Int / 3_600_000) }},
			{"event,plan", []GroupKey{{Column: "event"}, {Column: "plan"}}, func(r []storage.Value) string { return r[0].Str + "|" + r[1].Str }},
		} {
			t.Run(fmt.Sprintf("filter%d/%s", fi, c.name), func(t *testing.T) {
				var aggs []Agg
				for _, k := range c.keys {
					if k.BucketMillis > 0 {
						aggs = append(aggs, Agg{Kind: AggAny, Column: "time"})
					} else {
						aggs = append(aggs, Agg{Kind: AggAny, Column: k.Column})
					}
				}
				aggs = append(aggs, Agg{Kind: AggCount}, Agg{Kind: AggSum, Column: "amount"}, Agg{Kind: AggCountDistinct, Column: "distinct_id"})
				a := &Aggregation{Snap: snap, Filter: f, Keys: c.keys, Aggs: aggs}
				got, err := a.Run(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				rendered := renderGroups(got)
				if c.name == "hour" { // the key shows as the group's first time: render its hour
					rendered = nil
					for _, g := range got {
						sum := "NULL"
						if !g[2].IsNull() {
							sum = fmt.Sprintf("%.6g", g[2].Float)
						}
						rendered = append(rendered, fmt.Sprintf("%d|%d|%s|%d", g[0].Int/3_600_000, g[1].Int, sum, g[3].Int))
					}
					sort.Strings(rendered)
				}
				want := brute(c.key)
				if len(c.keys) == 0 && len(want) == 0 {
					want = []string{"|0|NULL|0"}
				}
				if len(c.keys) == 0 {
					for i := range want {
						want[i] = strings.TrimPrefix(want[i], "|")
					}
				}
				if strings.Join(rendered, "\n") != strings.Join(want, "\n") {
					t.Fatalf("aggregation %s\ngot  %.600v\nwant %.600v", a, rendered, want)
				}
			})
		}
		// count(*) and SUM/AVG of one sparse column by a dictionary key:
		// counts from bitmaps, sums per key code (groupByBitmaps).
		for ki, col := range []string{"event", "plan"} {
			got, err := (&Aggregation{Snap: snap, Filter: f, Keys: []GroupKey{{Column: col}},
				Aggs: []Agg{{Kind: AggAny, Column: col}, {Kind: AggCount}, {Kind: AggSum, Column: "amount"}, {Kind: AggAvg, Column: "amount"}}}).Run(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			type acc struct {
				n, nAmount int64
				sum        float64
			}
			groups := map[string]*acc{}
			for _, r := range rows {
				k := r[ki].Str
				if r[ki].IsNull() {
					k = "NULL"
				}
				a := groups[k]
				if a == nil {
					a = &acc{}
					groups[k] = a
				}
				a.n++
				if !r[2].IsNull() {
					a.nAmount++
					a.sum += r[2].Float
				}
			}
			var want []string
			for k, a := range groups {
				sum, avg := "NULL", "NULL"
				if a.nAmount > 0 {
					sum, avg = fmt.Sprintf("%.6g", a.sum), fmt.Sprintf("%.6g", a.sum/float64(a.nAmount))
				}
				want = append(want, fmt.Sprintf("%s|%d|%s|%s", k, a.n, sum, avg))
			}
			sort.Strings(want)
			if rendered := renderGroups(got); strings.Join(rendered, "\n") != strings.Join(want, "\n") {
				t.Fatalf("filter %v, sums by %s:\ngot  %.600v\nwant %.600v", f, col, rendered, want)
			}
		}
		// count(*) alone takes the shortcuts.
		got, err := (&Aggregation{Snap: snap, Filter: f, Aggs: []Agg{{Kind: AggCount}}}).Run(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if got[0][0].Int != int64(len(rows)) {
			t.Fatalf("filter %v: count(*) = %d, scan has %d rows", f, got[0][0].Int, len(rows))
		}
		got, err = (&Aggregation{Snap: snap, Filter: f, Keys: []GroupKey{{Column: "event"}},
			Aggs: []Agg{{Kind: AggCount}, {Kind: AggAny, Column: "event"}}}).Run(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		var total int64
		for _, g := range got {
			total += g[0].Int
		}
		if total != int64(len(rows)) {
			t.Fatalf("filter %v: count(*) by event sums to %d, scan has %d rows", f, total, len(rows))
		}
	}
}

func TestRegroup(t *testing.T) {
	rows := [][]storage.Value{
		{storage.StringValue("u1"), storage.IntValue(2), storage.FloatValue(1.5)},
		{storage.StringValue("u2"), storage.IntValue(0), storage.Value{}},
		{storage.StringValue("u3"), storage.IntValue(2), storage.FloatValue(2.5)},
		{storage.StringValue("u4"), storage.IntValue(3), storage.FloatValue(-0.0)},
	}
	r := Regroup{Keys: []int{1}, Aggs: []RegroupAgg{
		{Kind: AggAny, Column: 1}, {Kind: AggCount, Column: -1}, {Kind: AggCount, Column: 2},
		{Kind: AggSum, Column: 2}, {Kind: AggAvg, Column: 2}, {Kind: AggMax, Column: 0}, {Kind: AggCountDistinct, Column: 2},
	}}
	got, err := r.Run(rows)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"0|1|0|NULL|NULL|u2|0", "2|2|2|4|2|u3|2", "3|1|1|0|0|u4|1"}
	if g := renderGroups(got); strings.Join(g, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got %v, want %v", g, want)
	}
	empty, err := (&Regroup{Aggs: []RegroupAgg{{Kind: AggCount, Column: -1}, {Kind: AggSum, Column: 0}}}).Run(nil)
	if err != nil || len(empty) != 1 || empty[0][0].Int != 0 || !empty[0][1].IsNull() {
		t.Fatalf("no rows, no keys: %v, %v; want one row 0|NULL", empty, err)
	}
}

package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"sort"
	"strings"
	"testing"
	"time"

	"arb/storage"
)

// testSnapshot builds a snapshot of one multi-block segment plus buffered
// rows from random events, and returns it with all its events.
func testSnapshot(t *testing.T, r *rand.Rand, segRows, memRows int) (*storage.Snapshot, []storage.Event) {
	t.Helper()
	names := []string{"Signup", "Page View", "Purchase", "Click", "Pa"}
	gen := func(i int) storage.Event {
		e := storage.Event{TimeMillis: int64(1_000_000 + i*10), Name: names[r.Intn(len(names))],
			DistinctID: fmt.Sprintf("u%d", r.Intn(40)), InsertID: fmt.Sprint(i)}
		if r.Intn(3) > 0 {
			e.Props = append(e.Props, storage.Prop{Key: "amount", Value: storage.FloatValue(float64(r.Intn(50)) + []float64{0, 0.5}[r.Intn(2)])})
		}
		if r.Intn(2) == 0 {
			e.Props = append(e.Props, storage.Prop{Key: "plan", Value: storage.StringValue([]string{"free", "pro", "ent"}[r.Intn(3)])})
		}
		if r.Intn(4) == 0 {
			e.Props = append(e.Props, storage.Prop{Key: "n", Value: storage.IntValue(int64(r.Intn(10)))})
		}
		return e
	}
	var all []storage.Event
	cols := []storage.SegmentColumn{
		{Name: storage.ColTime, Type: storage.TypeTime}, {Name: storage.ColEvent, Type: storage.TypeString},
		{Name: storage.ColDistinctID, Type: storage.TypeString}, {Name: storage.ColInsertID, Type: storage.TypeString},
		{Name: "amount", Type: storage.TypeFloat, Nulls: make([]bool, segRows), Floats: make([]float64, segRows)},
		{Name: "plan", Type: storage.TypeString, Nulls: make([]bool, segRows), Strs: make([]string, segRows)},
		// n is stored as int here but the schema has since widened it to string.
		{Name: "n", Type: storage.TypeInt, Nulls: make([]bool, segRows), Ints: make([]int64, segRows)},
	}
	for i := 0; i < segRows; i++ {
		e := gen(i)
		all = append(all, e)
		cols[0].Ints = append(cols[0].Ints, e.TimeMillis)
		cols[1].Strs = append(cols[1].Strs, e.Name)
		cols[2].Strs = append(cols[2].Strs, e.DistinctID)
		cols[3].Strs = append(cols[3].Strs, e.InsertID)
		for c := 4; c < 7; c++ {
			cols[c].Nulls[i] = true
		}
		for _, p := range e.Props {
			switch p.Key {
			case "amount":
				cols[4].Nulls[i], cols[4].Floats[i] = false, p.Value.Float
			case "plan":
				cols[5].Nulls[i], cols[5].Strs[i] = false, p.Value.Str
			case "n":
				cols[6].Nulls[i], cols[6].Ints[i] = false, p.Value.Int
			}
		}
	}
	var buf bytes.Buffer
	if _, err := storage.WriteSegment(&buf, nil, segRows, cols); err != nil {
		t.Fatal(err)
	}
	seg, err := storage.OpenSegment(bytes.NewReader(buf.Bytes()), int64(buf.Len()), "test.seg")
	if err != nil {
		t.Fatal(err)
	}
	var mem storage.MemRows
	for i := 0; i < memRows; i++ {
		e := gen(segRows + i)
		all = append(all, e)
		mem.Rows = append(mem.Rows, e)
	}
	snap := &storage.Snapshot{
		Columns:  []storage.Column{{Name: "amount", Type: storage.TypeFloat}, {Name: "plan", Type: storage.TypeString}, {Name: "n", Type: storage.TypeString}},
		Segments: []*storage.SegmentRef{{Segment: seg}},
		Mem:      []storage.MemRows{mem},
	}
	return snap, all
}

// bruteValue is the plain reading of a column of e at the snapshot's types.
func bruteValue(e *storage.Event, col string) storage.Value {
	switch col {
	case "time":
		return storage.TimeValue(e.TimeMillis)
	case "event":
		return storage.StringValue(e.Name)
	case "distinct_id":
		return storage.StringValue(e.DistinctID)
	}
	for _, p := range e.Props {
		if p.Key == col {
			if col == "n" {
				return storage.StringValue(p.Value.Text())
			}
			return p.Value
		}
	}
	return storage.Value{}
}

func scanAll(t *testing.T, s *Scan) []string {
	t.Helper()
	var out []string
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
			out = append(out, row[0].Str)
		}
	}
	sort.Strings(out)
	return out
}

func TestScanMatchesBruteForce(t *testing.T) {
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewSource(seed))
	snap, all := testSnapshot(t, r, 2*storage.SegmentBlockRows+500, 700)
	str := func(v string) storage.Value { return storage.StringValue(v) }
	atoms := []func() Predicate{
		func() Predicate {
			return Compare{"event", CompareOp(r.Intn(6)), str([]string{"Signup", "Purchase", "Pa", "Zzz", "A"}[r.Intn(5)])}
		},
		func() Predicate {
			return Compare{"amount", CompareOp(r.Intn(6)), storage.FloatValue(float64(r.Intn(52)))}
		},
		func() Predicate { return Compare{"amount", CompareOp(r.Intn(6)), storage.IntValue(int64(r.Intn(52)))} },
		func() Predicate {
			return Compare{"plan", CompareOp(r.Intn(6)), str([]string{"free", "pro", "x"}[r.Intn(3)])}
		},
		func() Predicate { return Compare{"n", OpEQ, str(fmt.Sprint(r.Intn(10)))} },
		func() Predicate { return Compare{"n", OpEQ, storage.IntValue(3)} }, // string vs number: UNKNOWN
		func() Predicate {
			lo := int64(1_000_000 + r.Intn(len(all))*10)
			return And{[]Predicate{Compare{"time", OpGE, storage.TimeValue(lo)}, Compare{"time", OpLT, storage.TimeValue(lo + int64(r.Intn(3000)))}}}
		},
		func() Predicate { return In{"event", []storage.Value{str("Click"), str("Nope")}} },
		func() Predicate { return In{"plan", []storage.Value{str("pro"), str("ent")}} },
		func() Predicate { return IsNull{[]string{"plan", "amount", "missing"}[r.Intn(3)]} },
		func() Predicate { return Prefix{"event", []string{"P", "Pa", "Si", "", "Q"}[r.Intn(5)]} },
		func() Predicate { return Compare{"missing", OpEQ, str("x")} },
		func() Predicate { return Compare{"DISTINCT_ID", OpEQ, str(fmt.Sprintf("u%d", r.Intn(40)))} },
	}
	var gen func(d int) Predicate
	gen = func(d int) Predicate {
		if d == 0 || r.Intn(3) == 0 {
			return atoms[r.Intn(len(atoms))]()
		}
		switch r.Intn(3) {
		case 0:
			return And{[]Predicate{gen(d - 1), gen(d - 1)}}
		case 1:
			return Or{[]Predicate{gen(d - 1), gen(d - 1)}}
		}
		return Not{gen(d - 1)}
	}
	for i := 0; i < 200; i++ {
		p := gen(3)
		var want []string
		for k := range all {
			e := &all[k]
			if eval(p, func(col string) storage.Value { return bruteValue(e, strings.ToLower(col)) }) == tTrue {
				want = append(want, e.InsertID)
			}
		}
		sort.Strings(want)
		got := scanAll(t, &Scan{Snap: snap, Columns: []string{"insert_id"}, Filter: p})
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Fatalf("predicate %s: scan gave %d rows, brute force %d", p, len(got), len(want))
		}
	}
}

func TestScanPrunesBlocks(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	snap, _ := testSnapshot(t, r, 8*storage.SegmentBlockRows, 0)
	s := &Scan{Snap: snap, Columns: []string{"insert_id"}, Filter: And{[]Predicate{
		Compare{"time", OpGE, storage.TimeValue(1_000_000 + 3*storage.SegmentBlockRows*10 + 50)},
		Compare{"time", OpLT, storage.TimeValue(1_000_000 + 3*storage.SegmentBlockRows*10 + 500)},
	}}}
	if got := len(scanAll(t, s)); got != 45 {
		t.Fatalf("time range returned %d rows, want 45", got)
	}
	if st := s.Stats(); st.BlocksRead != 1 || st.BlocksSkipped != 7 {
		t.Fatalf("time range read %d blocks and skipped %d; want 1 and 7", st.BlocksRead, st.BlocksSkipped)
	}
	s = &Scan{Snap: snap, Columns: []string{"insert_id"}, Filter: Compare{"event", OpEQ, storage.StringValue("Nope")}}
	if got := len(scanAll(t, s)); got != 0 || s.Stats().BlocksRead != 0 {
		t.Fatalf("absent event name: %d rows, %d blocks read; want none", got, s.Stats().BlocksRead)
	}
}

// A block with no matching row must not make the scan skip the next one.
func TestScanContinuesPastEmptyBlocks(t *testing.T) {
	n := 3 * storage.SegmentBlockRows
	amount := make([]float64, n)
	amount[n-1] = 42
	cols := []storage.SegmentColumn{{Name: "amount", Type: storage.TypeFloat, Floats: amount}}
	var buf bytes.Buffer
	storage.WriteSegment(&buf, nil, n, cols)
	seg, err := storage.OpenSegment(bytes.NewReader(buf.Bytes()), int64(buf.Len()), "x")
	if err != nil {
		t.Fatal(err)
	}
	snap := &storage.Snapshot{Columns: []storage.Column{{Name: "amount", Type: storage.TypeFloat}}, Segments: []*storage.SegmentRef{{Segment: seg}}}
	s := &Scan{Snap: snap, Columns: []string{"amount"}, Filter: Compare{"amount", OpGE, storage.FloatValue(1)}}
	it, _ := s.PartRows(context.Background(), 0)
	row, err := it.Next()
	if err != nil || row[0].Float != 42 {
		t.Fatalf("got %v, %v; want the row in the last block", row, err)
	}
}

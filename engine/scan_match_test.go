package engine

import (
	"context"
	"fmt"
	"math/rand"
	"testing"
	"time"

	"arb/storage"
)

// TestCompileRowsMatchesEval checks the compiled residual test of every
// row of every block against eval reading columns by name, for random
// predicates compiled one after another on the same iterator (so that
// a code table left over from the previous predicate would show).
func TestCompileRowsMatchesEval(t *testing.T) {
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewSource(seed))
	snap, _ := testSnapshot(t, r, 2*storage.SegmentBlockRows+300, 0)
	str := func(v string) storage.Value { return storage.StringValue(v) }
	atoms := []func() Predicate{
		func() Predicate {
			return Compare{"event", CompareOp(r.Intn(6)), str([]string{"Signup", "Purchase", "Pa", "Zzz", "A"}[r.Intn(5)])}
		},
		func() Predicate {
			return Compare{"plan", CompareOp(r.Intn(6)), str([]string{"free", "pro", "x"}[r.Intn(3)])}
		},
		func() Predicate {
			return Compare{"amount", CompareOp(r.Intn(6)), storage.FloatValue(float64(r.Intn(52)))}
		},
		func() Predicate { return Compare{"n", CompareOp(r.Intn(6)), str(fmt.Sprint(r.Intn(10)))} }, // stored int, read as string
		func() Predicate { return Compare{"plan", OpEQ, storage.IntValue(3)} },                      // string vs number: UNKNOWN
		func() Predicate { return Compare{"n", CompareOp(r.Intn(6)), storage.IntValue(int64(r.Intn(10)))} },
		func() Predicate {
			return Compare{"n", CompareOp(r.Intn(6)), storage.FloatValue(float64(r.Intn(10)) + 0.5)}
		},
		func() Predicate { return Compare{"time", CompareOp(r.Intn(6)), storage.IntValue(1_000_000)} }, // time vs number: UNKNOWN
		func() Predicate {
			return In{"event", []storage.Value{str("Click"), str([]string{"Pa", "Nope"}[r.Intn(2)])}}
		},
		func() Predicate { return In{"plan", []storage.Value{str("pro"), str("ent")}} },
		func() Predicate { return IsNull{[]string{"plan", "amount", "missing", "event"}[r.Intn(4)]} },
		func() Predicate {
			return Prefix{[]string{"event", "plan"}[r.Intn(2)], []string{"P", "Pa", "Si", "", "fr"}[r.Intn(5)]}
		},
		func() Predicate { return Compare{"missing", OpEQ, str("x")} },
		func() Predicate { return Compare{"distinct_id", OpEQ, str(fmt.Sprintf("u%d", r.Intn(40)))} },
		func() Predicate {
			return Compare{"time", CompareOp(r.Intn(6)), storage.TimeValue(int64(1_000_000 + r.Intn(2*storage.SegmentBlockRows)*10))}
		},
	}
	var gen func(d int) Predicate
	gen = func(d int) Predicate {
		if d == 0 || r.Intn(3) == 0 {
			return atoms[r.Intn(len(atoms))]()
		}
		switch r.Intn(3) {
		case 0:
			return And{[]Predicate{gen(d - 1), gen(d - 1), gen(d - 1)}}
		case 1:
			return Or{[]Predicate{gen(d - 1), gen(d - 1)}}
		}
		return Not{gen(d - 1)}
	}
	var preds []Predicate
	for i := 0; i < 150; i++ {
		preds = append(preds, gen(3))
	}
	s := &Scan{Snap: snap, Columns: []string{"insert_id"}, extraPreds: preds}
	if err := s.prepare(context.Background()); err != nil {
		t.Fatal(err)
	}
	seg := snap.Segments[0].Segment
	it, err := newSegmentIter(context.Background(), s, seg, s.outRefs(), s.predRefs())
	if err != nil {
		t.Fatal(err)
	}
	tested := [3]int{}
	for b := 0; b < seg.NumBlocks(); b++ {
		if err := it.decode(b); err != nil {
			t.Fatal(err)
		}
		first, n := seg.BlockRange(b)
		it.first, it.n = first, n
		for _, p := range preds {
			test := it.compileRows(p)
			for row := 0; row < n; row++ {
				want := eval(p, func(col string) storage.Value { return it.value(it.preds[col], row) })
				if got := test(row); got != want {
					t.Fatalf("block %d row %d: %s: compiled %d, eval %d", b, row, p, got, want)
				}
				tested[want]++
			}
		}
	}
	if tested[tTrue] == 0 || tested[tFalse] == 0 || tested[tUnknown] == 0 {
		t.Fatalf("answers seen %v: the predicates do not exercise TRUE, FALSE and UNKNOWN", tested)
	}
}

package engine

import (
	"context"
	"fmt"
	"io"
	"math/rand"
	"testing"

	"arb/storage"
)

// TestPartBatchesMatchPartRows reads every part of a snapshot (segment
// blocks, buffered rows) both ways, with filters that keep all, some and
// no rows of a block, and columns of every kind (a widened one, a
// missing one, properties): the batches hold exactly the rows, in order.
func TestPartBatchesMatchPartRows(t *testing.T) {
	r := rand.New(rand.NewSource(7))
	snap, _ := testSnapshot(t, r, 2*storage.SegmentBlockRows+500, 700)
	cols := []string{"time", "event", "distinct_id", "insert_id", "amount", "plan", "n", "missing", ColProperties}
	filters := []Predicate{
		nil,
		Compare{"event", OpEQ, storage.StringValue("Purchase")},
		Compare{"amount", OpGT, storage.FloatValue(25)},
		Compare{"event", OpEQ, storage.StringValue("nothing")},
		Or{[]Predicate{IsNull{"plan"}, Compare{"time", OpLT, storage.TimeValue(1_100_000)}}},
	}
	ctx := context.Background()
	coded := 0                 // batch columns that came with dictionary codes
	codesAlone, micros := 0, 0 // batch columns with codes and no strings; with microseconds
	bounded := 0               // batch columns with bounds
	for _, f := range filters {
		s := &Scan{Snap: snap, Columns: cols, Filter: f}
		for part := range s.Parts() {
			var want [][]storage.Value
			it, err := s.PartRows(ctx, part)
			if err != nil {
				t.Fatal(err)
			}
			for {
				row, err := it.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				want = append(want, row)
			}
			// Plain batches, then codes alone for every string column and
			// times in microseconds: the same values.
			all := make([]bool, len(cols))
			for i := range all {
				all[i] = true
			}
			for _, opts := range []BatchOptions{{}, {CodesOnly: all, TimeMicros: true}} {
				var got []string
				err = s.PartBatchesWith(ctx, part, opts, func(b *ColumnBatch) error {
					for k := range b.N {
						got = append(got, batchRowText(b, k))
					}
					if opts.CodesOnly == nil {
						coded += checkBatchCodes(t, b)
					}
					for j, c := range b.Cols {
						if c.Strs == nil && c.Codes != nil {
							codesAlone++
						}
						if c.Micros {
							micros++
						}
						if c.Bounded {
							// The bounds are the values' own smallest and largest.
							lo, hi := c.Ints[0], c.Ints[0]
							for _, v := range c.Ints {
								lo, hi = min(lo, v), max(hi, v)
							}
							if !c.Micros || c.Nulls != nil || lo != c.Lo || hi != c.Hi {
								t.Fatalf("column %d: bounds [%d, %d] (micros %v, nulls %v), values in [%d, %d]", j, c.Lo, c.Hi, c.Micros, c.Nulls != nil, lo, hi)
							}
							bounded++
						}
						if c.Micros && !opts.TimeMicros || c.Strs == nil && c.Codes != nil && opts.CodesOnly == nil {
							t.Fatalf("column %d: micros %v, strings %v, with options %+v", j, c.Micros, c.Strs != nil, opts)
						}
					}
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
				if len(got) != len(want) {
					t.Fatalf("filter %v part %d options %+v: %d rows in batches, %d by rows", f, part, opts, len(got), len(want))
				}
				for k, row := range want {
					if w := rowText(row); got[k] != w {
						t.Fatalf("filter %v part %d options %+v row %d: batch %s, rows %s", f, part, opts, k, got[k], w)
					}
				}
			}
		}
	}
	if coded == 0 || codesAlone == 0 || micros == 0 || bounded == 0 {
		t.Fatalf("batch columns with codes %d, codes alone %d, microseconds %d, bounds %d: each should be some", coded, codesAlone, micros, bounded)
	}
}

// checkBatchCodes checks BatchColumn's INVARIANT on Codes and Dict and
// returns how many of b's columns carry codes.
func checkBatchCodes(t *testing.T, b *ColumnBatch) int {
	t.Helper()
	n := 0
	for j, c := range b.Cols {
		if c.Codes == nil {
			continue
		}
		n++
		if c.Dict == nil || len(c.Codes) != b.N || len(c.Strs) != b.N {
			t.Fatalf("column %d: %d codes, dict %v, %d strings for %d rows", j, len(c.Codes), c.Dict != nil, len(c.Strs), b.N)
		}
		for k, code := range c.Codes {
			if c.Nulls != nil && c.Nulls[k] {
				continue
			}
			if int(code) >= len(c.Dict) || c.Dict[code] != c.Strs[k] {
				t.Fatalf("column %d row %d: code %d of %d does not give %q", j, k, code, len(c.Dict), c.Strs[k])
			}
		}
	}
	return n
}

func rowText(row []storage.Value) string {
	s := ""
	for _, v := range row {
		if v.IsNull() {
			s += "NULL|"
			continue
		}
		s += fmt.Sprintf("%s:%s|", v.Type, v.Text())
	}
	return s
}

func batchRowText(b *ColumnBatch, k int) string {
	s := ""
	for _, c := range b.Cols {
		if c.Type == storage.TypeNull || (c.Nulls != nil && c.Nulls[k]) {
			s += "NULL|"
			continue
		}
		var v storage.Value
		switch {
		case c.Floats != nil:
			v = storage.FloatValue(c.Floats[k])
		case c.Strs != nil:
			v = storage.Value{Type: c.Type, Str: c.Strs[k]}
		case c.Codes != nil: // BatchOptions.CodesOnly
			v = storage.Value{Type: c.Type, Str: c.Dict[c.Codes[k]]}
		case c.Micros:
			v = storage.Value{Type: c.Type, Int: c.Ints[k] / 1000}
		default:
			v = storage.Value{Type: c.Type, Int: c.Ints[k]}
		}
		s += fmt.Sprintf("%s:%s|", v.Type, v.Text())
	}
	return s
}

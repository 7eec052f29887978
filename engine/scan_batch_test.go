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
			var got []string
			err = s.PartBatches(ctx, part, func(b *ColumnBatch) error {
				for k := range b.N {
					got = append(got, batchRowText(b, k))
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) {
				t.Fatalf("filter %v part %d: %d rows in batches, %d by rows", f, part, len(got), len(want))
			}
			for k, row := range want {
				if w := rowText(row); got[k] != w {
					t.Fatalf("filter %v part %d row %d: batch %s, rows %s", f, part, k, got[k], w)
				}
			}
		}
	}
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
		default:
			v = storage.Value{Type: c.Type, Int: c.Ints[k]}
		}
		s += fmt.Sprintf("%s:%s|", v.Type, v.Text())
	}
	return s
}

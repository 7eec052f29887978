package native

// Benchmarks of HashAggregate's hot loops over batches made in memory:
// the product-analytics shapes (events by day, uniques by day, events by
// day and event).

import (
	"fmt"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/types"

	"arb/storage"
)

// batchesOp hands out the same batches on every run.
type batchesOp struct {
	sch     sql.Schema
	batches []*Batch
}

func (o *batchesOp) Schema() sql.Schema   { return o.sch }
func (o *batchesOp) Children() []Operator { return nil }
func (o *batchesOp) Describe() string     { return "batches" }
func (o *batchesOp) Open(*sql.Context, *Run) (BatchIter, error) {
	return &sliceIter{batches: append([]*Batch(nil), o.batches...)}, nil
}

// benchEvents is rows events over 30 days in time order: time, event (6
// names), distinct_id (users users, with their user numbers as the
// events scan hands them over), amount.
func benchEvents(rows, users int) *batchesOp {
	rng := rand.New(rand.NewPCG(3, 4))
	names := []string{"Signup", "Login", "Page View", "Purchase", "Search", "Share"}
	ids := make([]string, users)
	for i := range ids {
		ids[i] = fmt.Sprintf("user-%d", i)
	}
	numbering := storage.NewUserIDs(ids)
	sch := sql.Schema{
		{Name: "day", Type: types.Date}, {Name: "event", Type: types.Text},
		{Name: "distinct_id", Type: types.Text}, {Name: "amount", Type: types.Float64},
	}
	op := &batchesOp{sch: sch}
	const day = 86400 * 1e6
	for start := 0; start < rows; start += BatchSize {
		n := min(BatchSize, rows-start)
		b := &Batch{N: n, Cols: []*Column{NewColumn(types.Date, n), NewColumn(types.Text, n), NewColumn(types.Text, n), NewColumn(types.Float64, n)}}
		b.Cols[2].U, b.Cols[2].Users = make([]uint32, 0, n), numbering
		for r := range n {
			b.Cols[0].I = append(b.Cols[0].I, int64((start+r)*30/rows)*day)
			b.Cols[1].S = append(b.Cols[1].S, names[rng.IntN(len(names))])
			u := rng.IntN(users)
			b.Cols[2].S = append(b.Cols[2].S, ids[u])
			b.Cols[2].U = append(b.Cols[2].U, uint32(u))
			b.Cols[3].F = append(b.Cols[3].F, rng.Float64()*100)
		}
		op.batches = append(op.batches, b)
	}
	return op
}

func field(sch sql.Schema, i int) Expr {
	return &fieldExpr{idx: i, typ: sch[i].Type, name: sch[i].Name}
}

func BenchmarkHashAggregate(b *testing.B) {
	const rows = 1 << 20
	in := benchEvents(rows, 100_000)
	sch := in.sch
	cases := []struct {
		name string
		keys []int
		aggs func() []aggFunc
	}{
		{"count_by_day", []int{0}, func() []aggFunc { return []aggFunc{&countAgg{}} }},
		{"uniques_by_day", []int{0}, func() []aggFunc {
			return []aggFunc{&countDistinctAgg{args: []Expr{field(sch, 2)}, expect: KindString}}
		}},
		{"count_sum_by_day_event", []int{0, 1}, func() []aggFunc {
			return []aggFunc{&countAgg{}, &sumAgg{arg: field(sch, 3), childType: types.Float64}}
		}},
		{"count_by_user", []int{2}, func() []aggFunc { return []aggFunc{&countAgg{}} }},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			op := &hashAggOp{child: in, aggs: tc.aggs()}
			for _, k := range tc.keys {
				op.keys = append(op.keys, field(sch, k))
				op.keyCols = append(op.keyCols, newKeyColumn(sch[k].Type))
			}
			ctx := sql.NewEmptyContext()
			b.ReportAllocs()
			b.SetBytes(rows)
			for b.Loop() {
				it, err := op.Open(ctx, &Run{})
				if err != nil {
					b.Fatal(err)
				}
				for {
					if _, err := it.Next(ctx); err == io.EOF {
						break
					} else if err != nil {
						b.Fatal(err)
					}
				}
				it.Close(ctx)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/rows, "ns/row")
		})
	}
}

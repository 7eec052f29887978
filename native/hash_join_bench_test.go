package native

// Benchmarks of the hash join's hot case: events joined to events on
// distinct_id (a string key, or an integer one) with a time window as
// the residual, and the same join without a residual.

import (
	"fmt"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/expression"
	"github.com/dolthub/go-mysql-server/sql/types"
	"github.com/dolthub/vitess/go/sqltypes"

	"arb/storage"
)

// joinBenchInput is n events of users distinct ids over 30 days: columns
// (id, time) in batches of BatchSize. String ids carry their user
// numbers, as the events scan hands distinct_id over.
func joinBenchInput(n, users int, strKey bool) (sql.Schema, []*Batch) {
	rng := rand.New(rand.NewPCG(5, 6))
	idType := sql.Type(types.Int64)
	if strKey {
		idType = types.MustCreateStringWithDefaults(sqltypes.VarChar, 64)
	}
	sch := sql.Schema{{Name: "id", Type: idType}, {Name: "time", Type: types.DatetimeMaxPrecision}}
	ids := make([]string, users)
	for u := range ids {
		ids[u] = fmt.Sprintf("user-%07d", u)
	}
	numbering := storage.NewUserIDs(ids)
	var out []*Batch
	for i := 0; i < n; i += BatchSize {
		m := min(BatchSize, n-i)
		b := &Batch{N: m, Cols: []*Column{NewColumn(idType, m), NewColumn(sch[1].Type, m)}}
		if strKey {
			b.Cols[0].U, b.Cols[0].Users = make([]uint32, 0, m), numbering
		}
		for range m {
			u := rng.IntN(users)
			if strKey {
				b.Cols[0].S = append(b.Cols[0].S, ids[u])
				b.Cols[0].U = append(b.Cols[0].U, uint32(u))
			} else {
				b.Cols[0].I = append(b.Cols[0].I, int64(u))
			}
			b.Cols[1].I = append(b.Cols[1].I, 1_717_200_000_000_000+rng.Int64N(30*86400*1_000_000))
		}
		out = append(out, b)
	}
	return sch, out
}

func BenchmarkJoin(b *testing.B) {
	for _, strKey := range []bool{true, false} {
		for _, window := range []bool{false, true} {
			name := fmt.Sprintf("str=%v/window=%v", strKey, window)
			b.Run(name, func(b *testing.B) {
				const n, users = 200_000, 20_000
				sch, batches := joinBenchInput(n, users, strKey)
				ctx := sql.NewEmptyContext()
				ls := sql.Schema{{Name: "id", Source: "l", Type: sch[0].Type}, {Name: "time", Source: "l", Type: sch[1].Type}}
				rs := sql.Schema{{Name: "id", Source: "r", Type: sch[0].Type}, {Name: "time", Source: "r", Type: sch[1].Type}}
				both := append(append(sql.Schema{}, ls...), rs...)
				gf := func(i int) sql.Expression {
					return expression.NewGetFieldWithTable(i, 1, both[i].Type, "db", both[i].Source, both[i].Name, false)
				}
				var cond sql.Expression = expression.NewEquals(gf(0), gf(2))
				if window {
					cond = expression.NewAnd(cond, expression.NewAnd(
						expression.NewGreaterThan(gf(3), gf(1)),
						expression.NewLessThan(gf(3), expression.NewPlus(gf(1), expression.NewInterval(expression.NewLiteral(int64(1), types.Int64), "DAY")))))
				}
				op := &joinOp{kind: joinInner, sch: both, nl: 2, nr: 2,
					left:  &joinTestSource{sch: ls, batches: batches},
					right: &joinTestSource{sch: rs, batches: batches}}
				if reason := op.planCondition(ctx, cond, ls, rs, both); reason != "" {
					b.Fatal(reason)
				}
				b.ReportAllocs()
				b.ResetTimer()
				var rows int
				for range b.N {
					it, err := op.Open(ctx, &Run{})
					if err != nil {
						b.Fatal(err)
					}
					rows = 0
					for {
						ob, err := it.Next(ctx)
						if err == io.EOF {
							break
						}
						if err != nil {
							b.Fatal(err)
						}
						rows += ob.N
					}
					it.Close(ctx)
				}
				b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "leftrows/s")
				b.ReportMetric(float64(rows), "outrows")
			})
		}
	}
}

package planner

import (
	"fmt"
	"math/rand"
	"testing"
	"time"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/expression"
	"github.com/dolthub/go-mysql-server/sql/types"

	"arb/native"
)

// TestGrainUnixTimestampDiv: Grafana's bucket UNIX_TIMESTAMP(time) DIV k
// * k compiles to native's grain cache in a zone of offset zero (and
// only there), and gives Eval's values row by row in every zone, over
// time-ordered batches that cross minutes, hours, days and 1970.
func TestGrainUnixTimestampDiv(t *testing.T) {
	r := rand.New(rand.NewSource(11))
	for _, tz := range []string{"+00:00", "UTC", "SYSTEM", "+05:30", "-08:00", "Europe/Paris"} {
		ctx := sql.NewEmptyContext()
		if err := ctx.SetSessionVariable(ctx, "time_zone", tz); err != nil {
			t.Fatal(err)
		}
		utc := tz == "+00:00" || tz == "UTC" || tz == "SYSTEM" && sql.SystemTimezoneOffset() == "+00:00"
		for _, scale := range []int{0, 3, 6} {
			typ := types.MustCreateDatetimeType(types.DatetimeMaxPrecision.Type(), scale)
			sch := sql.Schema{{Name: "time", Type: typ, Nullable: true}}
			arg := expression.NewGetField(0, typ, "time", true)
			ut, err := newUnixTimestamp(ctx, arg)
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range []int64{60, 300, 3600, 86400, 7} {
				kl := expression.NewLiteral(k, types.Int64)
				e := expression.NewMult(&intDiv{expression.BinaryExpressionStub{LeftChild: ut, RightChild: kl}}, kl)
				x, err := (&native.Compiler{In: sch}).Compile(ctx, e)
				if err != nil {
					t.Fatal(err)
				}
				cached := fmt.Sprintf("%T", x) == "*native.grainExpr"
				if want := utc && k >= 60; cached != want {
					t.Fatalf("zone %s, k %d: compiled to %T, want grain cache %v", tz, k, x, want)
				}
				for _, base := range []time.Time{time.Date(2025, 3, 1, 23, 50, 0, 0, time.UTC),
					time.Date(1969, 12, 31, 23, 0, 0, 0, time.UTC), time.Date(2025, 3, 30, 0, 30, 0, 0, time.UTC)} {
					col := native.NewColumn(typ, 2000)
					v := base
					for range 2000 {
						v = v.Add(time.Duration(r.Int63n(4e9)) * time.Microsecond / 1000 * 1000)
						if r.Intn(40) == 0 {
							col.AppendNull()
							continue
						}
						vv, _, err := typ.Convert(ctx, v)
						if err != nil {
							t.Fatal(err)
						}
						col.Append(vv)
					}
					b := &native.Batch{N: 2000, Cols: []*native.Column{col}}
					got, err := x.Eval(ctx, b)
					if err != nil {
						t.Fatal(err)
					}
					for i := range b.N {
						want, err := e.Eval(ctx, sql.Row{col.Value(i)})
						if err != nil {
							t.Fatal(err)
						}
						if g := got.Value(i); fmt.Sprint(g) != fmt.Sprint(want) {
							t.Fatalf("zone %s scale %d k %d row %d (%v): got %v, want %v", tz, scale, k, i, col.Value(i), g, want)
						}
					}
				}
			}
		}
	}
}

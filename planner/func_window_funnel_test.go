package planner

import (
	"testing"
	"time"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/expression"
	"github.com/dolthub/go-mysql-server/sql/types"
)

// funnelOverRows builds window_funnel(windowSeconds, row[0], row[1] = 1,
// …, row[steps] = 1)-like conditions as plain row fields and runs its
// buffer over rows.
func funnelOverRows(t *testing.T, windowSeconds int64, steps int, rows []sql.Row) any {
	t.Helper()
	ctx := sql.NewEmptyContext()
	args := []sql.Expression{
		expression.NewLiteral(windowSeconds, types.Int64),
		expression.NewGetField(0, types.DatetimeMaxPrecision, "time", true),
	}
	for i := 1; i <= steps; i++ {
		args = append(args, expression.NewGetField(i, types.Boolean, "c", true))
	}
	f, err := NewWindowFunnel(nil, args...) // the planbuilder passes a nil context too
	if err != nil {
		t.Fatal(err)
	}
	buf, err := f.(sql.Aggregation).NewBuffer(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if err := buf.Update(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	v, err := buf.Eval(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestWindowFunnelBuffer(t *testing.T) {
	day := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	// The same instant in another zone: milliseconds are UTC whatever the
	// time.Time's location.
	plus2 := day.In(time.FixedZone("UTC+2", 2*3600))
	for _, tc := range []struct {
		name   string
		window int64
		steps  int
		rows   []sql.Row
		want   int64
	}{
		{"no rows", 60, 2, nil, 0},
		{"inclusive boundary", 60, 2, []sql.Row{{day, true, false}, {day.Add(time.Minute), false, true}}, 2},
		{"one ms beyond", 60, 2, []sql.Row{{day, true, false}, {day.Add(time.Minute + time.Millisecond), false, true}}, 1},
		{"sub-millisecond part is truncated", 60, 2,
			[]sql.Row{{day, true, false}, {day.Add(time.Minute + 999*time.Microsecond), false, true}}, 2},
		{"location does not matter", 0, 2, []sql.Row{{plus2, true, false}, {day, false, true}}, 2},
		{"NULL time ignored", 60, 2, []sql.Row{{day, true, false}, {nil, false, true}}, 1},
		{"NULL condition not met", 60, 2, []sql.Row{{day, true, nil}}, 1},
		{"integer conditions", 60, 2, []sql.Row{{day, int8(1), int8(0)}, {day, int64(0), int64(7)}}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := funnelOverRows(t, tc.window, tc.steps, tc.rows); got != tc.want {
				t.Errorf("level %v, want %d", got, tc.want)
			}
		})
	}
}

func TestWindowFunnelExpression(t *testing.T) {
	ctx := sql.NewEmptyContext()
	tm := expression.NewGetField(0, types.DatetimeMaxPrecision, "time", true)
	c1 := expression.NewGetField(1, types.Boolean, "a", true)
	c2 := expression.NewGetField(2, types.Boolean, "b", true)
	e, err := NewWindowFunnel(ctx, expression.NewLiteral(int64(604800), types.Int64), tm, c1, c2)
	if err != nil {
		t.Fatal(err)
	}
	f := e.(*WindowFunnel)
	if f.WindowMillis() != 604800_000 || f.Time() != tm || len(f.Conditions()) != 2 {
		t.Errorf("accessors: window %d ms, time %v, %d conditions", f.WindowMillis(), f.Time(), len(f.Conditions()))
	}
	if got, want := f.String(), "window_funnel(604800, time, a, b)"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	// The window is not a child, so rewriting children keeps it.
	if n := len(f.Children()); n != 3 {
		t.Fatalf("%d children, want time and 2 conditions", n)
	}
	e2, err := f.WithChildren(ctx, c2, c1, c2)
	if err != nil {
		t.Fatal(err)
	}
	if got := e2.(*WindowFunnel); got.WindowMillis() != f.WindowMillis() || got.String() != "window_funnel(604800, b, a, b)" {
		t.Errorf("after WithChildren: %s, window %d ms", got, got.WindowMillis())
	}
	if _, err := f.WithChildren(ctx, c1); err == nil {
		t.Error("WithChildren with the wrong number of children did not fail")
	}
	if _, err := f.Eval(ctx, nil); err == nil {
		t.Error("Eval of the aggregate as a scalar did not fail")
	}
	if !aggregateNames["window_funnel"] || !aggregateNames["windowfunnel"] || !aggregateNames["retention"] {
		t.Error("aggregateNames misses a name")
	}
	scalars := map[string]bool{}
	for _, fn := range timeFunctions() {
		scalars[fn.FunctionName()] = true
	}
	for _, fn := range Functions() {
		if !aggregateNames[fn.FunctionName()] && !scalars[fn.FunctionName()] {
			t.Errorf("function %s is registered but not declared an aggregate", fn.FunctionName())
		}
	}
}

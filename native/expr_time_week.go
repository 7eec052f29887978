package native

// This file owns the week numbers of a datetime column: YEARWEEK(x,
// mode) and WEEK(x, mode) with a constant mode (Metabase's
// week grain, STR_TO_DATE(CONCAT(YEARWEEK(time), ' Sunday'), '%X%V %W')).
//
// Each is go-mysql-server's own Eval, run once per day of the batch: the
// week of a datetime depends only on its date (the functions read year,
// month and day of the value converted to DATETIME), so a day's other
// rows take the first row's value. Values outside [1000-01-01,
// 9999-12-31] (the zero time, which warns) send the batch to
// go-mysql-server's node whole, row by row.

import (
	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/expression/function"
	"github.com/dolthub/go-mysql-server/sql/types"
)

// weekExpr is a week-number function of a datetime, evaluated once a day.
type weekExpr struct {
	name string
	x    Expr
	fb   *nodeEval // the function over its compiled datetime (child 0)
}

func init() {
	compileWeek := func(ctx *sql.Context, c *Compiler, e sql.Expression) (Expr, error) {
		f, ok := e.(sql.FunctionExpression)
		ch := e.Children()
		if !ok || len(ch) == 0 || len(ch) > 2 || !types.TypesEqual(e.Type(ctx), types.Int32) {
			return nil, nil
		}
		o, ok, err := timeArg(ctx, c, ch[0])
		if !ok || err != nil {
			return nil, err
		}
		ops := []operand{o}
		if len(ch) == 2 {
			mode, err := compileOperand(ctx, c, ch[1])
			if err != nil || !mode.konst {
				return nil, err // a mode per row: go-mysql-server's Eval
			}
			ops = append(ops, mode)
		}
		return &weekExpr{name: f.FunctionName(), x: o.x, fb: fallback(ctx, e, ops...)}, nil
	}
	registerExpr((*function.YearWeek)(nil), compileWeek)
	registerExpr((*function.Week)(nil), compileWeek)
}

func (x *weekExpr) Type() sql.Type { return types.Int32 }
func (x *weekExpr) String() string { return x.name + "(" + x.x.String() + ")" }
func (x *weekExpr) mayFail() bool  { return mayFail(x.x) }

func (x *weekExpr) Eval(ctx *sql.Context, b *Batch) (*Column, error) {
	c, err := x.x.Eval(ctx, b)
	if err != nil {
		return nil, err
	}
	n := b.N
	if c.Kind == KindNull {
		return allNull(types.Int32, n), nil
	}
	if c.Kind != KindTime {
		return x.fb.eval(ctx, n, c, nil)
	}
	out := &Column{Kind: KindInt, Type: types.Int32, I: make([]int64, n), Nulls: c.Nulls}
	var last int64
	lastDay, have := int64(0), false
	one := &Column{Kind: KindTime, Type: c.Type, I: make([]int64, 1)}
	for r, v := range c.I[:n] {
		if c.Nulls != nil && c.Nulls[r] {
			continue
		}
		if v < safeMinMicros || v > safeMaxMicros {
			return x.fb.eval(ctx, n, c, nil) // the zero time warns
		}
		day := floorDiv(v, microsPerDay)
		if !have || day != lastDay {
			one.I[0] = v
			w, err := x.fb.eval(ctx, 1, one, nil)
			if err != nil {
				return nil, err
			}
			i, ok := IntOf(w.Value(0))
			if !ok {
				return x.fb.eval(ctx, n, c, nil)
			}
			last, lastDay, have = i, day, true
		}
		out.I[r] = last
	}
	return out, nil
}

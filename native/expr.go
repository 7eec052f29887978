package native

import (
	"fmt"
	"math/bits"
	"reflect"
	"sync/atomic"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/expression"
)

// Expr is a compiled expression: one value per row of a batch.
type Expr interface {
	// Eval is the expression over every row of b; the column has b.N
	// values of Type(). It may return a column of b itself (read-only).
	Eval(ctx *sql.Context, b *Batch) (*Column, error)
	Type() sql.Type
	String() string
}

// exprCompiler compiles one kind of go-mysql-server expression, or returns
// nil when it does not implement this form (then the expression is
// evaluated by go-mysql-server's Eval).
type exprCompiler func(ctx *sql.Context, c *Compiler, e sql.Expression) (Expr, error)

var exprCompilers = map[reflect.Type]exprCompiler{}

// registerExpr declares how expressions of sample's type compile.
func registerExpr(sample sql.Expression, fn exprCompiler) {
	t := reflect.TypeOf(sample)
	if _, dup := exprCompilers[t]; dup {
		panic(fmt.Sprintf("native: two compilers for %s", t))
	}
	exprCompilers[t] = fn
}

// Compiler compiles expressions over the rows of one input schema.
type Compiler struct {
	In sql.Schema
	// inGrain is set while compiling inside an expression that a grain
	// cache wraps (expr_grain.go): its parts are not wrapped again.
	inGrain bool
}

// Compile is e over rows of c.In. It never fails for an expression
// go-mysql-server can evaluate: what is not implemented natively falls
// back to e.Eval row by row. An expression of one time column that
// depends on it only through a coarse grain is evaluated once per
// bucket of the grain (expr_grain.go).
func (c *Compiler) Compile(ctx *sql.Context, e sql.Expression) (Expr, error) {
	if c.inGrain {
		return c.compile(ctx, e)
	}
	col, g, utc, ok := exprGrain(ctx, c.In, e)
	if !ok || g < minGrain {
		return c.compile(ctx, e)
	}
	x, err := (&Compiler{In: c.In, inGrain: true}).compile(ctx, e)
	if err != nil {
		return nil, err
	}
	return grainCache(x, col, g, utc), nil
}

func (c *Compiler) compile(ctx *sql.Context, e sql.Expression) (Expr, error) {
	if fn, ok := exprCompilers[reflect.TypeOf(e)]; ok {
		x, err := fn(ctx, c, e)
		if err != nil {
			return nil, err
		}
		if x != nil {
			return x, nil
		}
	}
	if cf, ok := e.(ColumnFunction); ok {
		if argExprs, eval := cf.ColumnEval(); eval != nil {
			args, err := c.CompileAll(ctx, argExprs)
			if err != nil {
				return nil, err
			}
			return &columnFuncExpr{e: cf, args: args, eval: eval, row: newEvalExpr(ctx, e)}, nil
		}
	}
	return newEvalExpr(ctx, e), nil
}

// newEvalExpr is e evaluated row by row through Eval. A compiled
// expression may run in several scan workers at once, and some
// go-mysql-server nodes fill a cache on their first Type call
// (Arithmetic): every node's Type is called here, before any batch.
func newEvalExpr(ctx *sql.Context, e sql.Expression) *evalExpr {
	warmTypes(ctx, e)
	return &evalExpr{e: e, typ: e.Type(ctx)}
}

// warmTypes calls Type on e and every expression below it.
func warmTypes(ctx *sql.Context, e sql.Expression) {
	sql.Inspect(ctx, e, func(ctx *sql.Context, x sql.Expression) bool {
		if x != nil {
			x.Type(ctx)
		}
		return true
	})
}

// ColumnFunction is an expression defined outside this package (arb's
// own SQL functions and operators, in package planner) that can compute
// a whole batch from its arguments' columns.
type ColumnFunction interface {
	sql.Expression
	// ColumnEval is the batch form, or a nil eval: the expressions it
	// reads (its children, or parts of them) and the function that gets
	// their columns (n rows each) and returns n values of the
	// expression's type; ok false declines these columns (their Kinds,
	// say), and the batch is then evaluated row by row through Eval.
	ColumnEval() (args []sql.Expression, eval func(ctx *sql.Context, args []*Column, n int) (out *Column, ok bool, err error))
}

// columnFuncExpr is a ColumnFunction over natively compiled arguments.
type columnFuncExpr struct {
	e    ColumnFunction
	args []Expr
	eval func(ctx *sql.Context, args []*Column, n int) (*Column, bool, error)
	row  *evalExpr
}

func (x *columnFuncExpr) Type() sql.Type { return x.row.typ }
func (x *columnFuncExpr) String() string { return x.e.String() }

func (x *columnFuncExpr) Eval(ctx *sql.Context, b *Batch) (*Column, error) {
	cols := make([]*Column, len(x.args))
	for i, a := range x.args {
		c, err := a.Eval(ctx, b)
		if err != nil {
			return nil, err
		}
		cols[i] = c
	}
	out, ok, err := x.eval(ctx, cols, b.N)
	if err != nil || ok {
		return out, err
	}
	return x.row.Eval(ctx, b)
}

// CompileAll compiles each of es.
func (c *Compiler) CompileAll(ctx *sql.Context, es []sql.Expression) ([]Expr, error) {
	out := make([]Expr, len(es))
	for i, e := range es {
		x, err := c.Compile(ctx, e)
		if err != nil {
			return nil, err
		}
		out[i] = x
	}
	return out, nil
}

// Native reports whether x runs without go-mysql-server's Eval anywhere.
func Native(x Expr) bool {
	if g, ok := x.(*grainExpr); ok {
		return Native(g.inner)
	}
	_, fallback := x.(*evalExpr)
	return !fallback
}

// evalExpr evaluates a go-mysql-server expression row by row.
type evalExpr struct {
	e   sql.Expression
	typ sql.Type
}

func (x *evalExpr) Type() sql.Type { return x.typ }
func (x *evalExpr) String() string { return "eval(" + x.e.String() + ")" }

func (x *evalExpr) Eval(ctx *sql.Context, b *Batch) (*Column, error) {
	out := NewColumn(x.typ, b.N)
	row := make(sql.Row, len(b.Cols))
	for r := range b.N {
		b.FillRow(r, row, 0)
		v, err := x.e.Eval(ctx, row)
		if err != nil {
			return nil, err
		}
		out.Append(v)
	}
	return out, nil
}

// fieldExpr is an input column.
type fieldExpr struct {
	idx  int
	typ  sql.Type
	name string
}

func (x *fieldExpr) Type() sql.Type { return x.typ }
func (x *fieldExpr) String() string { return x.name }
func (x *fieldExpr) Eval(_ *sql.Context, b *Batch) (*Column, error) {
	return b.Cols[x.idx], nil
}

// constExpr is a value that does not depend on the row.
type constExpr struct {
	v   any
	typ sql.Type
	// full is the value repeated BatchSize times, made on first need: a
	// batch's column shares its prefix (columns are read-only; the
	// capacity is cut at the batch's length, so an append copies).
	full atomic.Pointer[Column]
}

func (x *constExpr) Type() sql.Type { return x.typ }
func (x *constExpr) String() string { return fmt.Sprint(x.v) }
func (x *constExpr) Eval(_ *sql.Context, b *Batch) (*Column, error) {
	// The value as one row holds it, then repeated (Append per row
	// showed in profiles: MAKEDATE(YEAR(time), 1)).
	full := x.full.Load()
	if full != nil && b.N <= full.Len() {
		return constPrefix(full, b.N), nil
	}
	one := ConstColumn(x.typ, x.v, 1)
	if one.Nulls == nil && b.N > 1 && b.N <= BatchSize && one.Kind != KindAny {
		// As long as the longest batch yet, in powers of two: a plan
		// compiled for a few rows (a projection over a small aggregate)
		// does not fill a whole batch's worth per constant.
		size := min(BatchSize, max(64, 1<<bits.Len(uint(b.N-1))))
		full = &Column{Kind: one.Kind, Type: one.Type}
		switch one.Kind {
		case KindInt, KindTime:
			full.I = repeatValue(one.I[0], size)
		case KindFloat:
			full.F = repeatValue(one.F[0], size)
		case KindString:
			full.S = repeatValue(one.S[0], size)
		}
		if full.I != nil || full.F != nil || full.S != nil {
			x.full.Store(full)
			return constPrefix(full, b.N), nil
		}
	}
	if one.Nulls != nil || b.N <= 1 {
		return ConstColumn(x.typ, x.v, b.N), nil
	}
	switch one.Kind {
	case KindInt, KindTime:
		one.I = repeatValue(one.I[0], b.N)
	case KindFloat:
		one.F = repeatValue(one.F[0], b.N)
	case KindString:
		one.S = repeatValue(one.S[0], b.N)
	default:
		return ConstColumn(x.typ, x.v, b.N), nil
	}
	return one, nil
}

// constPrefix is full's first n rows, their capacity n.
func constPrefix(full *Column, n int) *Column {
	out := &Column{Kind: full.Kind, Type: full.Type}
	switch full.Kind {
	case KindInt, KindTime:
		out.I = full.I[:n:n]
	case KindFloat:
		out.F = full.F[:n:n]
	case KindString:
		out.S = full.S[:n:n]
	}
	return out
}

func repeatValue[T any](v T, n int) []T {
	s := make([]T, n)
	for i := range s {
		s[i] = v
	}
	return s
}

func init() {
	registerExpr((*expression.GetField)(nil), func(ctx *sql.Context, c *Compiler, e sql.Expression) (Expr, error) {
		gf := e.(*expression.GetField)
		i := gf.Index()
		if i < 0 || i >= len(c.In) {
			return nil, nil // an outer scope's column: Eval it
		}
		// A column's values already have its input type; the field's type
		// is what go-mysql-server planned and may differ only in details
		// (nullability, length) that do not change values.
		return &fieldExpr{idx: i, typ: c.In[i].Type, name: gf.String()}, nil
	})
	registerExpr((*expression.Literal)(nil), func(ctx *sql.Context, c *Compiler, e sql.Expression) (Expr, error) {
		l := e.(*expression.Literal)
		return &constExpr{v: l.Value(), typ: l.Type(ctx)}, nil
	})
}

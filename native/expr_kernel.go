package native

// This file owns what the vectorized expression compilers share: compiled
// operands (a column per batch, or a constant known at compile time),
// boolean result columns, NULL masks, truth values as go-mysql-server's
// sql.ConvertToBool sees them, evaluation on a subset of a batch (for the
// children of AND, OR, CASE and friends that go-mysql-server would not
// evaluate on every row), compile-time constant folding, and the batch
// fallback to go-mysql-server's Eval.
//
// Invariants:
//   - A compiled expression returns, for every row, the value
//     go-mysql-server's Eval returns for that expression, as a Column of
//     the expression's go-mysql-server type would hold it (see
//     Column.Append): a boolean is KindInt 0/1 of types.Boolean.
//   - A compiled expression never evaluates a child that may fail or
//     warn (an evalExpr somewhere below it) on a row go-mysql-server's
//     Eval would not evaluate it on, so errors and warnings are the same.
//   - When a child's column does not have the Kind the compiler planned
//     for (an evalExpr child whose values did not fit its Kind), the
//     batch is evaluated by go-mysql-server's Eval instead (fallback).
//   - Output columns are new (or an input column returned as it is);
//     input columns are never written. A Nulls slice may be shared
//     between columns, so none is written after the column holding it
//     is returned.

import (
	"time"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/expression"
	"github.com/dolthub/go-mysql-server/sql/types"
)

// fallible is implemented by compiled expressions that know whether
// anything below them can fail or warn.
type fallible interface{ mayFail() bool }

// mayFail reports whether evaluating x can return an error or add a
// warning: true for go-mysql-server's Eval and anything above it, and
// for any Expr this file does not know (another file's, which may fall
// back to Eval); false for columns and constants.
func mayFail(x Expr) bool {
	switch v := x.(type) {
	case *fieldExpr, *constExpr:
		return false
	case fallible:
		return v.mayFail()
	}
	return true
}

func anyMayFail(xs ...Expr) bool {
	for _, x := range xs {
		if mayFail(x) {
			return true
		}
	}
	return false
}

// operand is a compiled child: either an expression evaluated per batch
// or a constant (a literal, or a folded constant expression) kept as a
// scalar so that loops compare against it without materialising it.
type operand struct {
	x     Expr
	konst bool
	null  bool // a constant NULL
	v     any  // the constant as go-mysql-server has it
	vk    Kind // the Kind that holds v (which need not be its type's: a folded TIMESTAMP('…') is a time typed LONGTEXT)
	i     int64
	f     float64
	s     string
}

// compileOperand compiles e and, when it is constant, unpacks its value.
func compileOperand(ctx *sql.Context, c *Compiler, e sql.Expression) (operand, error) {
	if _, lit := e.(*expression.Literal); !lit {
		if v, ok := foldConst(ctx, e); ok {
			return operandOf(&constExpr{v: v, typ: e.Type(ctx)}), nil
		}
	}
	x, err := c.Compile(ctx, e)
	if err != nil {
		return operand{}, err
	}
	return operandOf(x), nil
}

func operandOf(x Expr) operand {
	o := operand{x: x}
	ce, ok := x.(*constExpr)
	if !ok {
		return o
	}
	o.konst, o.v, o.vk = true, ce.v, valueKind(ce.v)
	if ce.v == nil {
		o.null = true
		return o
	}
	o.i, _ = IntOf(ce.v)
	if t, ok := ce.v.(time.Time); ok {
		o.i = t.UnixMicro()
	}
	o.f, _ = floatOf(ce.v)
	o.s, _ = ce.v.(string)
	return o
}

// valueKind is the Kind whose slice holds v as it is.
func valueKind(v any) Kind {
	if v == nil {
		return KindNull
	}
	if _, ok := IntOf(v); ok {
		return KindInt
	}
	if _, ok := floatOf(v); ok {
		return KindFloat
	}
	switch v.(type) {
	case string:
		return KindString
	case time.Time:
		return KindTime
	}
	return KindAny
}

// kind is the Kind of o's values: its constant's, or its type's.
func (o *operand) kind() Kind {
	if o.konst {
		return o.vk
	}
	return KindOf(o.x.Type())
}

// boolType is the type of every predicate's result.
var boolType = types.Boolean

// newBoolCol is a boolean column of n values (all FALSE) with nulls.
func newBoolCol(n int, nulls []bool) *Column {
	return &Column{Kind: KindInt, Type: boolType, I: make([]int64, n), Nulls: nulls}
}

// allNull is a column of n NULLs of type t, as Column.Append builds it.
func allNull(t sql.Type, n int) *Column {
	c := NewColumn(t, n)
	for range n {
		c.AppendNull()
	}
	return c
}

// orNulls is the NULL mask of rows NULL in a or in b (nil: none). It may
// return a or b itself.
func orNulls(a, b []bool) []bool {
	switch {
	case a == nil:
		return b
	case b == nil:
		return a
	}
	out := make([]bool, len(a))
	for r := range out {
		out[r] = a[r] || b[r]
	}
	return out
}

// numeric reports whether c's values are in I or F (not NULL-only, not
// boxed).
func numeric(c *Column) bool { return c.Kind == KindInt || c.Kind == KindFloat }

// truthMayWarn reports whether truth can warn or fail on x's values:
// anything but integers and floats goes through sql.ConvertToBool, which
// warns on a string that is not a number.
func truthMayWarn(x Expr) bool { return !numericKind(KindOf(x.Type())) }

// truth is row r of c as a boolean operand of AND, OR, NOT, XOR, IF and
// CASE: null, or its sql.ConvertToBool value (and that call's error,
// only possible for boxed values).
func truth(ctx *sql.Context, c *Column, r int) (null, t bool, err error) {
	if c.IsNull(r) {
		return true, false, nil
	}
	// KindTime goes through ConvertToBool: a time's truth is UnixNano ≠ 0.
	switch c.Kind {
	case KindInt:
		return false, c.I[r] != 0, nil
	case KindFloat:
		return false, c.F[r] != 0, nil
	}
	t, err = sql.ConvertToBool(ctx, c.Value(r))
	return false, t, err
}

// evalOn evaluates x on rows sel of b (all of b when sel is nil), giving
// a column of len(sel) values.
func evalOn(ctx *sql.Context, x Expr, b *Batch, sel []int32) (*Column, error) {
	if sel == nil {
		return x.Eval(ctx, b)
	}
	return x.Eval(ctx, b.Gather(sel))
}

// nodeEval is go-mysql-server's Eval of one node over the values its
// children already have: for batches whose child columns the compiled
// loops do not handle. It does not evaluate the children again (which
// could repeat their warnings): child i reads column i of the batch
// given to eval, except a constant child, which stays as it is.
type nodeEval struct {
	e   sql.Expression // e with GetFields for its non-constant children
	typ sql.Type
}

// fallback is nodeEval of e whose children compiled to ops (a constant
// operand keeps its child).
func fallback(ctx *sql.Context, e sql.Expression, ops ...operand) *nodeEval {
	ch := e.Children()
	nch := make([]sql.Expression, len(ch))
	for i, c := range ch {
		if i < len(ops) && !ops[i].konst {
			nch[i] = expression.NewGetField(i, c.Type(ctx), c.String(), true)
		} else {
			nch[i] = c
		}
	}
	e2, err := e.WithChildren(ctx, nch...)
	if err != nil {
		e2 = e // cannot happen for the nodes compiled here; Eval of e is still right
	}
	// Type caches lazily in some nodes (Arithmetic): fill the caches of
	// e2 and everything below it now, before batches may evaluate e2
	// from several goroutines.
	warmTypes(ctx, e2)
	return &nodeEval{e: e2, typ: e.Type(ctx)}
}

// eval is the node over n rows whose child values are cols (nil for a
// constant child).
func (f *nodeEval) eval(ctx *sql.Context, n int, cols ...*Column) (*Column, error) {
	b := &Batch{N: n, Cols: make([]*Column, len(cols))}
	for i, c := range cols {
		if c == nil {
			c = allNull(types.Null, n)
		}
		b.Cols[i] = c
	}
	return (&evalExpr{e: f.e, typ: f.typ}).Eval(ctx, b)
}

// foldable names the functions whose value depends only on their
// arguments and the session (time zone), so that with constant arguments
// they are evaluated once at compile time. Functions are matched by name
// so that arb's own replacements (planner's FROM_UNIXTIME) qualify too.
var foldable = map[string]bool{
	"timestamp": true, "datetime": true, "date": true, "from_unixtime": true, "str_to_date": true,
	"makedate": true, "date_add": true, "date_sub": true, "lower": true, "upper": true,
	"concat": true,
}

// foldConst evaluates e once if it is a constant expression (literals
// under casts and foldable functions) whose evaluation neither fails nor
// warns; ok is false otherwise.
func foldConst(ctx *sql.Context, e sql.Expression) (v any, ok bool) {
	if !constTree(e) {
		return nil, false
	}
	if ctx.Session == nil {
		return nil, false
	}
	before := ctx.Session.WarningCount()
	v, err := e.Eval(ctx, nil)
	if err != nil || ctx.Session.WarningCount() != before {
		return nil, false
	}
	return v, true
}

func constTree(e sql.Expression) bool {
	switch e.(type) {
	case *expression.Literal:
		return true
	case *expression.Convert:
	default:
		f, ok := e.(sql.FunctionExpression)
		if !ok || !foldable[f.FunctionName()] {
			return false
		}
	}
	for _, ch := range e.Children() {
		if !constTree(ch) {
			return false
		}
	}
	return true
}

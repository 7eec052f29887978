package native

// This file owns vectorized arithmetic: +, -, * of integers or floats, /
// and % of floats, unary minus, and LEAST/GREATEST of numbers, where go-mysql-server's result type
// is BIGINT or DOUBLE (expression/arithmetic.go getReturnType,
// div.go determineResultType, mod.go Type):
//
//   - BIGINT (both operands integers): each converted to int64, then
//     Go's int64 arithmetic, which wraps on overflow as go-mysql-server's
//     does;
//   - DOUBLE (a float on either side): each converted to float64.
//
// Everything whose result is DECIMAL (an integer divided by an integer,
// % of integers, any DECIMAL operand), UNSIGNED BIGINT, a DATETIME
// (date ± INTERVAL) or involves strings stays go-mysql-server's; so
// does DIV, which arb replaces with its own expression in planner (not
// importable here). / and % by zero are NULL with a warning: a batch
// with a zero divisor is evaluated by go-mysql-server's node, which
// warns exactly as it does.

import (
	"math"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/expression"
	"github.com/dolthub/go-mysql-server/sql/expression/function"
	"github.com/dolthub/go-mysql-server/sql/types"
)

type arithExpr struct {
	op    byte // + - * / %
	l, r  operand
	float bool // DOUBLE result, else BIGINT
	fb    *nodeEval
}

func init() {
	registerExpr((*expression.Arithmetic)(nil), func(ctx *sql.Context, c *Compiler, e sql.Expression) (Expr, error) {
		a := e.(*expression.Arithmetic)
		if len(a.Op) != 1 || a.Op[0] != '+' && a.Op[0] != '-' && a.Op[0] != '*' {
			return nil, nil
		}
		return compileArith(ctx, c, e, a.Op[0], a.LeftChild, a.RightChild)
	})
	registerExpr((*expression.Div)(nil), func(ctx *sql.Context, c *Compiler, e sql.Expression) (Expr, error) {
		d := e.(*expression.Div)
		return compileArith(ctx, c, e, '/', d.LeftChild, d.RightChild)
	})
	registerExpr((*expression.Mod)(nil), func(ctx *sql.Context, c *Compiler, e sql.Expression) (Expr, error) {
		m := e.(*expression.Mod)
		return compileArith(ctx, c, e, '%', m.LeftChild, m.RightChild)
	})
	registerExpr((*expression.UnaryMinus)(nil), compileNeg)
}

// arithOperand reports whether a child's type is an integer or a float
// go-mysql-server converts plainly (no BIT, YEAR, DECIMAL or INTERVAL).
func arithOperand(ctx *sql.Context, e sql.Expression) bool {
	if _, iv := e.(*expression.Interval); iv {
		return false
	}
	t := e.Type(ctx)
	if types.IsBit(t) || types.IsYear(t) || types.IsDecimal(t) {
		return false
	}
	return types.IsInteger(t) || types.IsFloat(t)
}

func compileArith(ctx *sql.Context, c *Compiler, e sql.Expression, op byte, le, re sql.Expression) (Expr, error) {
	typ := e.Type(ctx)
	float := types.TypesEqual(typ, types.Float64)
	if !float && !types.TypesEqual(typ, types.Int64) || !arithOperand(ctx, le) || !arithOperand(ctx, re) {
		return nil, nil
	}
	if !float && (op == '/' || op == '%') {
		return nil, nil
	}
	l, err := compileOperand(ctx, c, le)
	if err != nil {
		return nil, err
	}
	r, err := compileOperand(ctx, c, re)
	if err != nil {
		return nil, err
	}
	if l.konst && r.konst || l.null || r.null {
		return nil, nil
	}
	for _, o := range []*operand{&l, &r} {
		k := o.kind()
		if k != KindInt && (k != KindFloat || !float) {
			return nil, nil
		}
		if o.konst && float {
			o.f = constFloat(o)
		}
	}
	if (op == '/' || op == '%') && r.konst && r.f == 0 {
		return nil, nil // NULL and a warning on every row: Eval's
	}
	return &arithExpr{op: op, l: l, r: r, float: float, fb: fallback(ctx, e, l, r)}, nil
}

func (x *arithExpr) Type() sql.Type {
	if x.float {
		return types.Float64
	}
	return types.Int64
}
func (x *arithExpr) String() string {
	return "(" + x.l.x.String() + " " + string(x.op) + " " + x.r.x.String() + ")"
}
func (x *arithExpr) mayFail() bool { return anyMayFail(x.l.x, x.r.x) || x.op == '/' || x.op == '%' }

func (x *arithExpr) Eval(ctx *sql.Context, b *Batch) (*Column, error) {
	n := b.N
	var lc, rc *Column
	var err error
	if !x.l.konst {
		if lc, err = x.l.x.Eval(ctx, b); err != nil {
			return nil, err
		}
	}
	if !x.r.konst {
		if rc, err = x.r.x.Eval(ctx, b); err != nil {
			return nil, err
		}
	}
	var nulls []bool
	for _, c := range []*Column{lc, rc} {
		if c == nil {
			continue
		}
		if c.Kind == KindNull {
			return allNull(x.Type(), n), nil
		}
		if c.Kind != KindInt && (c.Kind != KindFloat || !x.float) {
			return x.fb.eval(ctx, n, lc, rc)
		}
		nulls = orNulls(nulls, c.Nulls)
	}
	if !x.float {
		out := &Column{Kind: KindInt, Type: types.Int64, I: make([]int64, n), Nulls: nulls}
		switch {
		case lc == nil:
			arithConstLeft(x.op, x.l.i, rc.I[:n], out.I)
		case rc == nil:
			arithConst(x.op, lc.I[:n], x.r.i, out.I)
		default:
			arithCols(x.op, lc.I[:n], rc.I[:n], out.I)
		}
		zeroNulls(out)
		return out, nil
	}
	var lf, rf []float64
	if lc != nil {
		lf = floats(lc)[:n]
	}
	if rc != nil {
		rf = floats(rc)[:n]
		if x.op == '/' || x.op == '%' {
			for r, v := range rf {
				if v == 0 && (nulls == nil || !nulls[r]) {
					return x.fb.eval(ctx, n, lc, rc) // NULL with go-mysql-server's warning
				}
			}
		}
	}
	out := &Column{Kind: KindFloat, Type: types.Float64, F: make([]float64, n), Nulls: nulls}
	switch {
	case lc == nil:
		arithConstLeft(x.op, x.l.f, rf, out.F)
	case rc == nil:
		arithConst(x.op, lf, x.r.f, out.F)
	default:
		arithCols(x.op, lf, rf, out.F)
	}
	if nulls != nil {
		for r, null := range nulls {
			if null {
				out.F[r] = 0
			}
		}
	}
	return out, nil
}

type number interface{ int64 | float64 }

// fmod is % as go-mysql-server computes it (math.Mod); ints never get
// here (their % is DECIMAL).
func fmod[T number](a, b T) T { return T(math.Mod(float64(a), float64(b))) }

func arithCols[T number](op byte, a, b, out []T) {
	b = b[:len(a)]
	switch op {
	case '+':
		for r, v := range a {
			out[r] = v + b[r]
		}
	case '-':
		for r, v := range a {
			out[r] = v - b[r]
		}
	case '*':
		for r, v := range a {
			out[r] = v * b[r]
		}
	case '/':
		for r, v := range a {
			if b[r] != 0 { // a zero divisor is on a NULL row
				out[r] = v / b[r]
			}
		}
	case '%':
		for r, v := range a {
			if b[r] != 0 {
				out[r] = fmod(v, b[r])
			}
		}
	}
}

func arithConst[T number](op byte, a []T, k T, out []T) {
	switch op {
	case '+':
		for r, v := range a {
			out[r] = v + k
		}
	case '-':
		for r, v := range a {
			out[r] = v - k
		}
	case '*':
		for r, v := range a {
			out[r] = v * k
		}
	case '/':
		for r, v := range a {
			out[r] = v / k
		}
	case '%':
		for r, v := range a {
			out[r] = fmod(v, k)
		}
	}
}

func arithConstLeft[T number](op byte, k T, b []T, out []T) {
	switch op {
	case '+':
		for r, v := range b {
			out[r] = k + v
		}
	case '-':
		for r, v := range b {
			out[r] = k - v
		}
	case '*':
		for r, v := range b {
			out[r] = k * v
		}
	case '/':
		for r, v := range b {
			if v != 0 {
				out[r] = k / v
			}
		}
	case '%':
		for r, v := range b {
			if v != 0 {
				out[r] = fmod(k, v)
			}
		}
	}
}

// negExpr is -x of a DOUBLE (a DOUBLE) or a signed integer (a BIGINT;
// -MinInt64 of a column is go-mysql-server's out-of-range error, so such
// a batch goes to its node).
type negExpr struct {
	x     Expr
	float bool
	fb    *nodeEval
}

func compileNeg(ctx *sql.Context, c *Compiler, e sql.Expression) (Expr, error) {
	u := e.(*expression.UnaryMinus)
	ct, typ := u.Child.Type(ctx), e.Type(ctx)
	// The result type must be DOUBLE or BIGINT: UnaryMinus keeps a
	// BOOLEAN's or an unsigned type (negating within it).
	var float bool
	switch {
	case types.TypesEqual(ct, types.Float64) && types.TypesEqual(typ, types.Float64):
		float = true
	case types.IsSigned(ct) && types.TypesEqual(typ, types.Int64):
	default:
		return nil, nil
	}
	if _, lit := u.Child.(*expression.Literal); lit {
		return nil, nil
	}
	o, err := compileOperand(ctx, c, u.Child)
	if err != nil || o.konst {
		return nil, err
	}
	if k := KindOf(o.x.Type()); float && k != KindFloat || !float && k != KindInt {
		return nil, nil
	}
	return &negExpr{x: o.x, float: float, fb: fallback(ctx, e, o)}, nil
}

func (x *negExpr) Type() sql.Type {
	if x.float {
		return types.Float64
	}
	return types.Int64
}
func (x *negExpr) String() string { return "(-" + x.x.String() + ")" }
func (x *negExpr) mayFail() bool  { return true } // -MinInt64

func (x *negExpr) Eval(ctx *sql.Context, b *Batch) (*Column, error) {
	c, err := x.x.Eval(ctx, b)
	if err != nil {
		return nil, err
	}
	n := b.N
	switch {
	case c.Kind == KindNull:
		return allNull(x.Type(), n), nil
	case x.float && c.Kind == KindFloat:
		out := &Column{Kind: KindFloat, Type: types.Float64, F: make([]float64, n), Nulls: c.Nulls}
		for r, v := range c.F[:n] {
			out.F[r] = -v
		}
		return out, nil
	case !x.float && c.Kind == KindInt:
		out := &Column{Kind: KindInt, Type: types.Int64, I: make([]int64, n), Nulls: c.Nulls}
		for r, v := range c.I[:n] {
			if v == math.MinInt64 && !c.IsNull(r) {
				return x.fb.eval(ctx, n, c)
			}
			out.I[r] = -v
		}
		return out, nil
	}
	return x.fb.eval(ctx, n, c)
}

// leastExpr is LEAST or GREATEST of numbers (go-mysql-server's
// function/greatest_least.go compEval): NULL if any argument is NULL;
// else, argument by argument, a candidate replaces the selection when it
// compares less (greater) — an integer against the selection truncated
// to int64, a float against the selection — the selection kept as a
// float64 throughout and the result converted to the BIGINT or DOUBLE
// type. (So an integer beyond 2^53 comes back rounded, and an integer
// can lose to a float it equals when truncated: as go-mysql-server.)
type leastExpr struct {
	args     []operand
	greatest bool
	float    bool
	fb       *nodeEval
}

func init() {
	compile := func(greatest bool) exprCompiler {
		return func(ctx *sql.Context, c *Compiler, e sql.Expression) (Expr, error) {
			typ := e.Type(ctx)
			float := types.TypesEqual(typ, types.Float64)
			if !float && !types.TypesEqual(typ, types.Int64) {
				return nil, nil
			}
			x := &leastExpr{greatest: greatest, float: float}
			nonConst := false
			for i, a := range e.Children() {
				if !arithOperand(ctx, a) {
					return nil, nil
				}
				o, err := compileOperand(ctx, c, a)
				if err != nil {
					return nil, err
				}
				if k := o.kind(); k != KindInt && k != KindFloat && k != KindNull {
					return nil, nil
				}
				// compEval stops at the first NULL: a later argument that
				// may fail or warn would be evaluated on rows it never sees.
				if i > 0 && mayFail(o.x) {
					return nil, nil
				}
				nonConst = nonConst || !o.konst
				x.args = append(x.args, o)
			}
			if !nonConst || len(x.args) == 0 {
				return nil, nil
			}
			x.fb = fallback(ctx, e, x.args...)
			return x, nil
		}
	}
	registerExpr((*function.Least)(nil), compile(false))
	registerExpr((*function.Greatest)(nil), compile(true))
}

func (x *leastExpr) Type() sql.Type {
	if x.float {
		return types.Float64
	}
	return types.Int64
}
func (x *leastExpr) String() string {
	name := "least("
	if x.greatest {
		name = "greatest("
	}
	for i, a := range x.args {
		if i > 0 {
			name += ", "
		}
		name += a.x.String()
	}
	return name + ")"
}
func (x *leastExpr) mayFail() bool {
	for _, a := range x.args {
		if mayFail(a.x) {
			return true
		}
	}
	return false
}

func (x *leastExpr) Eval(ctx *sql.Context, b *Batch) (*Column, error) {
	n := b.N
	cols := make([]*Column, len(x.args))
	var nulls []bool
	for i, a := range x.args {
		if a.konst {
			if a.null {
				return allNull(x.Type(), n), nil
			}
			continue
		}
		c, err := a.x.Eval(ctx, b)
		if err != nil {
			return nil, err
		}
		if c.Kind == KindNull {
			return allNull(x.Type(), n), nil
		}
		cols[i] = c
		if c.Kind != KindInt && c.Kind != KindFloat {
			return x.fallback(ctx, b, cols, i)
		}
		nulls = orNulls(nulls, c.Nulls)
	}
	sel := make([]float64, n)
	for i, a := range x.args {
		c := cols[i]
		for r := range sel {
			var better bool
			switch {
			case c == nil && a.vk == KindInt, c != nil && c.Kind == KindInt:
				v := a.i
				if c != nil {
					v = c.I[r]
				}
				s := int64(sel[r])
				better = i == 0 || x.greatest && v > s || !x.greatest && v < s
				if better {
					sel[r] = float64(v)
				}
			default:
				v := a.f
				if c != nil {
					v = c.F[r]
				}
				s := sel[r]
				better = i == 0 || x.greatest && v > s || !x.greatest && v < s
				if better {
					sel[r] = v
				}
			}
		}
	}
	if x.float {
		out := &Column{Kind: KindFloat, Type: types.Float64, F: sel, Nulls: nulls}
		for r := range sel {
			if nulls != nil && nulls[r] {
				sel[r] = 0
			}
		}
		return out, nil
	}
	out := &Column{Kind: KindInt, Type: types.Int64, I: make([]int64, n), Nulls: nulls}
	for r, s := range sel {
		if nulls == nil || !nulls[r] {
			out.I[r] = int64(s)
		}
	}
	return out, nil
}

// fallback evaluates the batch by go-mysql-server's node, over the
// argument columns evaluated so far (cols[:done+1]) and the rest.
func (x *leastExpr) fallback(ctx *sql.Context, b *Batch, cols []*Column, done int) (*Column, error) {
	for i := done + 1; i < len(x.args); i++ {
		if x.args[i].konst {
			continue
		}
		c, err := x.args[i].x.Eval(ctx, b)
		if err != nil {
			return nil, err
		}
		cols[i] = c
	}
	return x.fb.eval(ctx, b.N, cols...)
}

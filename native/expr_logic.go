package native

// This file owns the vectorized logical operators AND, OR, XOR and NOT
// with SQL's three-valued logic, exactly as go-mysql-server's
// expression/logic.go and boolean.go evaluate them:
//
//   - AND is FALSE if either side is FALSE, else NULL if either is NULL,
//     else TRUE; OR is TRUE if either is TRUE, else NULL if either is
//     NULL, else FALSE. go-mysql-server does not evaluate the right side
//     when the left decides; here the right side is evaluated on the
//     whole batch only when it cannot fail or warn (see mayFail), else
//     only on the rows the left side leaves undecided. A value whose
//     sql.ConvertToBool fails decides nothing (go-mysql-server ignores
//     that error in AND and OR).
//   - XOR and NOT are NULL on a NULL operand; XOR's right side is
//     evaluated only where the left is not NULL; a failing
//     sql.ConvertToBool is the statement's error.

import (
	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/expression"
)

type logicOp uint8

const (
	logicAnd logicOp = iota
	logicOr
	logicXor
)

var logicNames = [...]string{"AND", "OR", "XOR"}

// Row states of a logical operand.
const (
	stFalse int8 = iota
	stTrue
	stNull
	stOther // not NULL, and sql.ConvertToBool failed
)

type logicExpr struct {
	op   logicOp
	l, r Expr
}

func init() {
	compile := func(op logicOp) exprCompiler {
		return func(ctx *sql.Context, c *Compiler, e sql.Expression) (Expr, error) {
			ch := e.Children()
			l, err := c.Compile(ctx, ch[0])
			if err != nil {
				return nil, err
			}
			r, err := c.Compile(ctx, ch[1])
			if err != nil {
				return nil, err
			}
			return &logicExpr{op: op, l: l, r: r}, nil
		}
	}
	registerExpr((*expression.And)(nil), compile(logicAnd))
	registerExpr((*expression.Or)(nil), compile(logicOr))
	registerExpr((*expression.Xor)(nil), compile(logicXor))
}

func (x *logicExpr) Type() sql.Type { return boolType }
func (x *logicExpr) String() string {
	return "(" + x.l.String() + " " + logicNames[x.op] + " " + x.r.String() + ")"
}
func (x *logicExpr) mayFail() bool {
	return anyMayFail(x.l, x.r) || truthMayWarn(x.l) || truthMayWarn(x.r)
}

// states is every row's state of c; strict makes a failing conversion
// an error, as XOR and NOT have it. Rows r with skip[r] == skipped (skip
// may be nil) are not converted, so that a string's conversion warns
// only where go-mysql-server converts it; their state is meaningless.
func states(ctx *sql.Context, c *Column, n int, strict bool, skip []int8, skipped int8) ([]int8, error) {
	var st []int8
	if cap(st) < n {
		st = make([]int8, n)
	}
	st = st[:n]
	switch c.Kind {
	case KindNull:
		for r := range st {
			st[r] = stNull
		}
		return st, nil
	case KindInt:
		for r, v := range c.I[:n] {
			st[r] = int8(b2i(v != 0))
		}
	case KindFloat:
		for r, v := range c.F[:n] {
			st[r] = int8(b2i(v != 0))
		}
	default:
		for r := range st {
			if skip != nil && skip[r] == skipped {
				continue
			}
			null, t, err := truth(ctx, c, r)
			switch {
			case null:
				st[r] = stNull
			case err != nil && strict:
				return nil, err
			case err != nil:
				st[r] = stOther
			default:
				st[r] = int8(b2i(t))
			}
		}
		return st, nil
	}
	if c.Nulls != nil {
		for r, null := range c.Nulls[:n] {
			if null {
				st[r] = stNull
			}
		}
	}
	return st, nil
}

func (x *logicExpr) Eval(ctx *sql.Context, b *Batch) (*Column, error) {
	n := b.N
	lc, err := x.l.Eval(ctx, b)
	if err != nil {
		return nil, err
	}
	if x.op != logicXor && lc.Kind == KindInt && !mayFail(x.r) {
		if out, ok, err := x.fast(ctx, b, lc); ok || err != nil {
			return out, err
		}
	}
	ls, err := states(ctx, lc, n, x.op == logicXor, nil, 0)
	if err != nil {
		return nil, err
	}
	// The rows whose result the left side does not decide.
	var decide int8 = -1
	switch x.op {
	case logicAnd:
		decide = stFalse
	case logicOr:
		decide = stTrue
	case logicXor:
		decide = stNull
	}
	var rs []int8
	if mayFail(x.r) {
		sel := make([]int32, 0, n)
		for r, s := range ls {
			if s != decide {
				sel = append(sel, int32(r))
			}
		}
		rs = make([]int8, n)
		if len(sel) > 0 {
			rc, err := evalOn(ctx, x.r, b, sel)
			if err != nil {
				return nil, err
			}
			sub, err := states(ctx, rc, len(sel), x.op == logicXor, nil, 0)
			if err != nil {
				return nil, err
			}
			for i, r := range sel {
				rs[r] = sub[i]
			}
		}
	} else {
		rc, err := x.r.Eval(ctx, b)
		if err != nil {
			return nil, err
		}
		if rs, err = states(ctx, rc, n, x.op == logicXor, ls, decide); err != nil {
			return nil, err
		}
	}
	out := newBoolCol(n, nil)
	var nulls []bool
	setNull := func(r int) {
		if nulls == nil {
			nulls = make([]bool, n)
		}
		nulls[r] = true
	}
	for r := range n {
		l, rr := ls[r], rs[r]
		switch x.op {
		case logicAnd:
			switch {
			case l == stFalse || rr == stFalse:
			case l == stNull || rr == stNull:
				setNull(r)
			default:
				out.I[r] = 1
			}
		case logicOr:
			switch {
			case l == stTrue || rr == stTrue:
				out.I[r] = 1
			case l == stNull || rr == stNull:
				setNull(r)
			}
		case logicXor:
			if l == stNull || rr == stNull {
				setNull(r)
			} else {
				out.I[r] = b2i((l == stTrue) != (rr == stTrue))
			}
		}
	}
	out.Nulls = nulls
	return out, nil
}

// fast is AND or OR of integer (boolean) columns, the right side one
// that cannot fail or warn (so evaluating it on every row is what
// go-mysql-server's short circuit would see): one loop, no state arrays.
func (x *logicExpr) fast(ctx *sql.Context, b *Batch, lc *Column) (*Column, bool, error) {
	rc, err := x.r.Eval(ctx, b)
	if err != nil {
		return nil, false, err
	}
	if rc.Kind != KindInt {
		// Evaluating r again in the general path is harmless: it cannot
		// fail or warn. Rare (a float or boxed right side).
		return nil, false, nil
	}
	n := b.N
	out := newBoolCol(n, nil)
	l, r := lc.I[:n], rc.I[:n]
	if lc.Nulls == nil && rc.Nulls == nil {
		if x.op == logicAnd {
			for i, v := range l {
				out.I[i] = b2i(v != 0 && r[i] != 0)
			}
		} else {
			for i, v := range l {
				out.I[i] = b2i(v != 0 || r[i] != 0)
			}
		}
		return out, true, nil
	}
	and := x.op == logicAnd
	var nulls []bool
	for i, v := range l {
		ln := lc.Nulls != nil && lc.Nulls[i]
		rn := rc.Nulls != nil && rc.Nulls[i]
		lt, rt := v != 0, r[i] != 0
		switch {
		case and && (!ln && !lt || !rn && !rt):
			// FALSE
		case !and && (!ln && lt || !rn && rt):
			out.I[i] = 1
		case ln || rn:
			if nulls == nil {
				nulls = make([]bool, n)
			}
			nulls[i] = true
		default:
			out.I[i] = b2i(and)
		}
	}
	out.Nulls = nulls
	return out, true, nil
}

// notExpr is NOT x.
type notExpr struct{ x Expr }

func compileNot(ctx *sql.Context, c *Compiler, e sql.Expression) (Expr, error) {
	x, err := c.Compile(ctx, e.(*expression.Not).Child)
	if err != nil {
		return nil, err
	}
	return &notExpr{x: x}, nil
}

func (x *notExpr) Type() sql.Type { return boolType }
func (x *notExpr) String() string { return "(NOT " + x.x.String() + ")" }
func (x *notExpr) mayFail() bool  { return mayFail(x.x) || truthMayWarn(x.x) }
func (x *notExpr) Eval(ctx *sql.Context, b *Batch) (*Column, error) {
	c, err := x.x.Eval(ctx, b)
	if err != nil {
		return nil, err
	}
	if c.Kind == KindNull {
		return allNull(boolType, b.N), nil
	}
	if c.Kind == KindInt {
		out := newBoolCol(b.N, c.Nulls)
		for r, v := range c.I[:b.N] {
			out.I[r] = b2i(v == 0)
		}
		zeroNulls(out)
		return out, nil
	}
	st, err := states(ctx, c, b.N, true, nil, 0)
	if err != nil {
		return nil, err
	}
	out := newBoolCol(b.N, nil)
	for r, s := range st {
		if s == stNull {
			if out.Nulls == nil {
				out.Nulls = make([]bool, b.N)
			}
			out.Nulls[r] = true
		} else {
			out.I[r] = b2i(s == stFalse)
		}
	}
	return out, nil
}

package native

// This file owns the vectorized conditional expressions: CASE (searched
// and simple), IF, COALESCE, IFNULL and NULLIF, as go-mysql-server
// evaluates them (expression/case.go, function/if.go, coalesce.go,
// ifnull.go, nullif.go):
//
//   - A condition is TRUE when not NULL and sql.ConvertToBool is true;
//     that call's error is the statement's (EvaluateCondition, If).
//   - A branch is evaluated only on the rows that take it (the rows a
//     condition sends there, or that are still NULL for COALESCE and
//     IFNULL) whenever it may fail or warn (mayFail); one that cannot is
//     evaluated on the whole batch and read at those rows.
//   - The chosen value is converted to the expression's type as
//     go-mysql-server converts it: CASE keeps the original value when
//     the conversion fails or is out of range; IF and IFNULL keep it
//     when the conversion fails; COALESCE fails with the conversion's
//     error. Where the conversion is the
//     identity on what the column holds (assemble's fast path: integers
//     into BIGINT or their own type, numbers into DOUBLE, valid UTF-8
//     into a string type at least as long, a datetime into its own
//     type), values are copied in place; otherwise each value goes
//     through go-mysql-server's conversion.
//   - NULLIF(a, b) is NULL where a = b is TRUE, else a, unconverted.

import (
	"time"
	"unicode/utf8"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/expression"
	"github.com/dolthub/go-mysql-server/sql/expression/function"
	"github.com/dolthub/go-mysql-server/sql/types"
	"github.com/dolthub/vitess/go/sqltypes"

	"arb/storage"
)

// convPolicy is what a failed conversion to the result type does.
type convPolicy uint8

const (
	convKeep      convPolicy = iota // CASE: the original value when it fails or is out of range
	convKeepOnErr                   // IF, IFNULL: the original value when it fails
	convFail                        // COALESCE: the statement fails
)

// choice is one source of result values: rows (of the batch) whose
// values come from col (indexed by row when full, else by position in
// rows) or from a constant.
type choice struct {
	rows []int32
	col  *Column
	full bool
	k    *operand
	srcT sql.Type
}

func (ch *choice) value(i int) any {
	if ch.k != nil {
		return ch.k.v
	}
	if ch.full {
		return ch.col.Value(int(ch.rows[i]))
	}
	return ch.col.Value(i)
}

// pick evaluates o on rows (all rows of b when rows is nil), as a
// choice: a constant, the whole batch when o cannot fail (no gather), or
// just those rows.
func pick(ctx *sql.Context, o *operand, srcT sql.Type, b *Batch, rows []int32) (choice, error) {
	ch := choice{rows: rows, srcT: srcT}
	if o.konst {
		ch.k = o
		return ch, nil
	}
	if !mayFail(o.x) || len(rows) == b.N {
		c, err := o.x.Eval(ctx, b)
		ch.col, ch.full = c, true
		return ch, err
	}
	c, err := evalOn(ctx, o.x, b, rows)
	ch.col = c
	return ch, err
}

// fastFits reports whether converting a value held in a column of Kind
// k and SQL type srcT to t is the identity on the Column's slots.
func fastFits(t, srcT sql.Type, k Kind) bool {
	if k == KindNull || srcT == types.Null {
		return true
	}
	switch KindOf(t) {
	case KindInt:
		return k == KindInt && (types.TypesEqual(t, types.Int64) || types.TypesEqual(srcT, t))
	case KindFloat:
		return types.TypesEqual(t, types.Float64) && (k == KindInt || k == KindFloat)
	case KindString:
		if k != KindString {
			return false
		}
		if types.TypesEqual(srcT, t) {
			return true
		}
		st, ok1 := t.(sql.StringType)
		ss, ok2 := srcT.(sql.StringType)
		return ok1 && ok2 && types.IsTextOnly(t) && st.MaxCharacterLength() >= ss.MaxCharacterLength()
	case KindTime:
		// DATETIME only (a TIMESTAMP's Convert checks its narrower
		// range); choiceTimesFit checks the values.
		return k == KindTime && types.TypesEqual(srcT, t) && t.Type() == sqltypes.Datetime
	}
	return false
}

// Datetime's Convert range (types.datetimeTypeMinDatetime and
// datetimeTypeMaxDatetime), in microseconds.
var (
	minDatetimeMicros = time.Date(1000, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro()
	maxDatetimeMicros = time.Date(9999, 12, 31, 23, 59, 59, 499999000, time.UTC).UnixMicro()
)

// choiceTimesFit reports whether Convert to DATETIME(p) t leaves every
// value of ch as it is: in range and already at t's precision.
func choiceTimesFit(t sql.Type, ch *choice) bool {
	dt, ok := t.(sql.DatetimeType)
	if !ok {
		return false
	}
	unit := int64(1)
	for range 6 - dt.Precision() {
		unit *= 10
	}
	fits := func(v int64) bool { return v >= minDatetimeMicros && v <= maxDatetimeMicros && v%unit == 0 }
	if ch.k != nil {
		return ch.k.null || fits(ch.k.i)
	}
	for i, r := range ch.rows {
		j := i
		if ch.full {
			j = int(r)
		}
		if !ch.col.IsNull(j) && !fits(ch.col.I[j]) {
			return false
		}
	}
	return true
}

// assemble is the result column of n rows of type t from chs; rows in
// no choice are NULL.
func assemble(ctx *sql.Context, n int, t sql.Type, policy convPolicy, chs []choice) (*Column, error) {
	fast := true
	for i := range chs {
		ch := &chs[i]
		k := KindOf(ch.srcT)
		if ch.col != nil {
			k = ch.col.Kind
		}
		if ch.k != nil {
			k = ch.k.vk
		}
		if !fastFits(t, ch.srcT, k) {
			fast = false
			break
		}
		if k == KindString && !choiceValidUTF8(ch) || k == KindTime && !choiceTimesFit(t, ch) {
			fast = false // a conversion that fails, truncates or rounds
			break
		}
	}
	if !fast {
		return assembleSlow(ctx, n, t, policy, chs)
	}
	out := NewColumn(t, 0)
	nulls := make([]bool, n)
	for r := range nulls {
		nulls[r] = true
	}
	switch out.Kind {
	case KindInt, KindTime:
		out.I = make([]int64, n)
	case KindFloat:
		out.F = make([]float64, n)
	case KindString:
		out.S = make([]string, n)
		// User numbers (Column.U) stay with the strings when every value
		// picked is a column's that has them, under one numbering
		// (COUNT(DISTINCT CASE WHEN … THEN distinct_id END) counts them).
		out.Users = choiceUsers(chs)
		if out.Users != nil {
			out.U = make([]uint32, n)
		}
	}
	for _, ch := range chs {
		for i, r := range ch.rows {
			var src *Column
			j := i
			if ch.k != nil {
				if ch.k.null {
					continue
				}
			} else {
				src = ch.col
				if ch.full {
					j = int(r)
				}
				if src.IsNull(j) {
					continue
				}
			}
			nulls[r] = false
			switch out.Kind {
			case KindInt, KindTime:
				if src == nil {
					out.I[r] = ch.k.i
				} else {
					out.I[r] = src.I[j]
				}
			case KindFloat:
				switch {
				case src == nil:
					out.F[r] = constFloat(ch.k)
				case src.Kind == KindInt:
					out.F[r] = float64(src.I[j])
				default:
					out.F[r] = src.F[j]
				}
			case KindString:
				if src == nil {
					out.S[r] = ch.k.s
				} else {
					out.S[r] = src.S[j]
					if out.U != nil {
						out.U[r] = src.U[j]
					}
				}
			}
		}
	}
	if out.Kind == KindNull {
		return allNull(t, n), nil
	}
	for _, null := range nulls {
		if null {
			out.Nulls = nulls
			break
		}
	}
	return out, nil
}

// choiceUsers is the numbering of the user numbers every choice's
// values carry, nil unless each is a column with numbers (or a NULL
// constant) and all share one numbering.
func choiceUsers(chs []choice) *storage.UserIDs {
	var users *storage.UserIDs
	for i := range chs {
		ch := &chs[i]
		if ch.k != nil {
			if !ch.k.null {
				return nil
			}
			continue
		}
		us, u := ch.col.userNumbers()
		if us == nil || (users != nil && !users.SameNumbering(u)) {
			return nil
		}
		users = widerNumbering(users, u)
	}
	return users
}

func choiceValidUTF8(ch *choice) bool {
	if ch.k != nil {
		return ch.k.null || utf8.ValidString(ch.k.s)
	}
	for i, r := range ch.rows {
		j := i
		if ch.full {
			j = int(r)
		}
		if !ch.col.IsNull(j) && !utf8.ValidString(ch.col.S[j]) {
			return false
		}
	}
	return true
}

// assembleSlow converts every value as go-mysql-server does.
func assembleSlow(ctx *sql.Context, n int, t sql.Type, policy convPolicy, chs []choice) (*Column, error) {
	vals := make([]any, n)
	for _, ch := range chs {
		for i, r := range ch.rows {
			v := ch.value(i)
			if v == nil {
				continue
			}
			switch policy {
			case convKeep:
				if ret, inRange, err := types.TypeAwareConversion(ctx, v, ch.srcT, t); inRange == sql.InRange && err == nil {
					v = ret
				}
			case convKeepOnErr:
				if ret, _, err := t.Convert(ctx, v); err == nil {
					v = ret
				}
			case convFail:
				if !types.IsEnum(t) && !types.IsSet(t) {
					ret, _, err := t.Convert(ctx, v)
					if err != nil {
						return nil, err
					}
					v = ret
				}
			}
			vals[r] = v
		}
	}
	out := NewColumn(t, n)
	for _, v := range vals {
		out.Append(v)
	}
	return out, nil
}

// caseExpr is CASE, IF (one branch and an else), or, with nullChain,
// COALESCE and IFNULL (each argument where the ones before are NULL).
type caseExpr struct {
	conds     []Expr // one per branch; nil with nullChain
	vals      []operand
	valTs     []sql.Type
	els       *operand // nil: NULL
	elsT      sql.Type
	typ       sql.Type
	policy    convPolicy
	nullChain bool
	name      string
	labels    *caseLabels // every value a constant (expr_case_labels.go); nil: none
}

func init() {
	registerExpr((*expression.Case)(nil), compileCase)
	registerExpr((*function.If)(nil), func(ctx *sql.Context, c *Compiler, e sql.Expression) (Expr, error) {
		ch := e.Children()
		cond, err := c.Compile(ctx, ch[0])
		if err != nil {
			return nil, err
		}
		x := &caseExpr{conds: []Expr{cond}, typ: e.Type(ctx), policy: convKeepOnErr, name: "IF"}
		return x.withValues(ctx, c, ch[1:2], ch[2])
	})
	registerExpr((*function.IfNull)(nil), func(ctx *sql.Context, c *Compiler, e sql.Expression) (Expr, error) {
		f := e.(*function.IfNull)
		x := &caseExpr{nullChain: true, typ: e.Type(ctx), policy: convKeepOnErr, name: "IFNULL"}
		return x.withValues(ctx, c, []sql.Expression{f.LeftChild}, f.RightChild)
	})
	registerExpr((*function.Coalesce)(nil), func(ctx *sql.Context, c *Compiler, e sql.Expression) (Expr, error) {
		var args []sql.Expression
		for _, a := range e.Children() {
			if a != nil {
				args = append(args, a)
			}
		}
		if len(args) == 0 || types.IsEnum(e.Type(ctx)) || types.IsSet(e.Type(ctx)) {
			return nil, nil
		}
		x := &caseExpr{nullChain: true, typ: e.Type(ctx), policy: convFail, name: "COALESCE"}
		return x.withValues(ctx, c, args[:len(args)-1], args[len(args)-1])
	})
	registerExpr((*function.NullIf)(nil), compileNullIf)
}

func compileCase(ctx *sql.Context, c *Compiler, e sql.Expression) (Expr, error) {
	ce := e.(*expression.Case)
	x := &caseExpr{typ: e.Type(ctx), policy: convKeep, name: "CASE"}
	vals := make([]sql.Expression, len(ce.Branches))
	for i, br := range ce.Branches {
		cond := br.Cond
		if ce.Expr != nil {
			cond = expression.NewEquals(ce.Expr, br.Cond)
		}
		cx, err := c.Compile(ctx, cond)
		if err != nil {
			return nil, err
		}
		x.conds = append(x.conds, cx)
		vals[i] = br.Value
	}
	return x.withValues(ctx, c, vals, ce.Else)
}

// withValues compiles the branch values and the else (nil: none).
func (x *caseExpr) withValues(ctx *sql.Context, c *Compiler, vals []sql.Expression, els sql.Expression) (Expr, error) {
	if k := KindOf(x.typ); k == KindAny {
		return nil, nil // DECIMAL, JSON, …: boxed per row anyway; Eval is as good
	}
	for _, v := range vals {
		o, err := compileOperand(ctx, c, v)
		if err != nil {
			return nil, err
		}
		x.vals = append(x.vals, o)
		x.valTs = append(x.valTs, v.Type(ctx))
	}
	if els != nil {
		o, err := compileOperand(ctx, c, els)
		if err != nil {
			return nil, err
		}
		x.els, x.elsT = &o, els.Type(ctx)
	}
	x.prepareLabels()
	return x, nil
}

func (x *caseExpr) Type() sql.Type { return x.typ }
func (x *caseExpr) String() string {
	s := x.name + "("
	for i, v := range x.vals {
		if i > 0 {
			s += ", "
		}
		if !x.nullChain {
			s += x.conds[i].String() + " THEN "
		}
		s += v.x.String()
	}
	if x.els != nil {
		s += ", ELSE " + x.els.x.String()
	}
	return s + ")"
}
func (x *caseExpr) mayFail() bool {
	// A condition's ConvertToBool can fail or warn on strings; a
	// conversion of a value can fail.
	for _, c := range x.conds {
		if mayFail(c) || truthMayWarn(c) {
			return true
		}
	}
	for _, v := range x.vals {
		if mayFail(v.x) {
			return true
		}
	}
	return x.policy == convFail || x.els != nil && mayFail(x.els.x)
}

func (x *caseExpr) Eval(ctx *sql.Context, b *Batch) (*Column, error) {
	if x.labels != nil {
		if out, ok, err := x.evalLabels(ctx, b); ok || err != nil {
			return out, err
		}
	}
	if out, ok, err := x.evalOneWhen(ctx, b); ok || err != nil {
		return out, err
	}
	n := b.N
	rem := make([]int32, n)
	for r := range rem {
		rem[r] = int32(r)
	}
	var chs []choice
	for i := range x.vals {
		if len(rem) == 0 {
			break
		}
		var take, keep []int32
		if x.nullChain {
			ch, err := pick(ctx, &x.vals[i], x.valTs[i], b, rem)
			if err != nil {
				return nil, err
			}
			for j, r := range rem {
				if ch.value0Null(j) {
					keep = append(keep, r)
				} else {
					take = append(take, r)
				}
			}
			if len(take) > 0 {
				chs = append(chs, ch.restrict(rem, take))
			}
			rem = keep
			continue
		}
		cond := operandOf(x.conds[i])
		cc, err := pick(ctx, &cond, x.conds[i].Type(), b, rem)
		if err != nil {
			return nil, err
		}
		for j, r := range rem {
			t, err := cc.truth(ctx, j)
			if err != nil {
				return nil, err
			}
			if t {
				take = append(take, r)
			} else {
				keep = append(keep, r)
			}
		}
		if len(take) > 0 {
			ch, err := pick(ctx, &x.vals[i], x.valTs[i], b, take)
			if err != nil {
				return nil, err
			}
			chs = append(chs, ch)
		}
		rem = keep
	}
	if x.els != nil && len(rem) > 0 {
		ch, err := pick(ctx, x.els, x.elsT, b, rem)
		if err != nil {
			return nil, err
		}
		chs = append(chs, ch)
	}
	return assemble(ctx, n, x.typ, x.policy, chs)
}

// evalOneWhen is Eval for CASE WHEN c THEN a [ELSE b] END and IF(c, a,
// b) — conditional aggregates' arguments — when neither c nor a nor b
// can fail or warn (so evaluating them over every row changes nothing)
// and the values taken are held as the result type holds them
// (assemble's fast path): one pass picks each row's value, without the
// general path's row lists. A string result without ELSE shares a's
// column (strings, user numbers, dictionary codes) under NULLs of its
// own. ok false: a form or a batch for the general path.
func (x *caseExpr) evalOneWhen(ctx *sql.Context, b *Batch) (out *Column, ok bool, err error) {
	if x.nullChain || len(x.conds) != 1 || mayFail(x.conds[0]) || truthMayWarn(x.conds[0]) {
		return nil, false, nil
	}
	then, els := &x.vals[0], x.els
	if !then.konst && mayFail(then.x) || els != nil && !els.konst && mayFail(els.x) {
		return nil, false, nil
	}
	kind := KindOf(x.typ)
	if kind != KindInt && kind != KindFloat && kind != KindString {
		return nil, false, nil
	}
	n := b.N
	cc, err := x.conds[0].Eval(ctx, b)
	if err != nil {
		return nil, false, err
	}
	on := make([]bool, n)
	switch cc.Kind {
	case KindNull:
	case KindInt:
		for r := range on {
			on[r] = cc.I[r] != 0 && (cc.Nulls == nil || !cc.Nulls[r])
		}
	case KindFloat:
		for r := range on {
			on[r] = cc.F[r] != 0 && (cc.Nulls == nil || !cc.Nulls[r])
		}
	default:
		return nil, false, nil
	}
	tc, err := pick(ctx, then, x.valTs[0], b, nil)
	if err != nil {
		return nil, false, err
	}
	var ec choice
	if els != nil {
		if ec, err = pick(ctx, els, x.elsT, b, nil); err != nil {
			return nil, false, err
		}
	}
	// Each source's values must pass into the result type unchanged.
	srcKind := func(ch *choice) Kind {
		if ch.k != nil {
			if ch.k.null {
				return KindNull
			}
			return ch.k.vk
		}
		return ch.col.Kind
	}
	tk := srcKind(&tc)
	if !fastFits(x.typ, tc.srcT, tk) || els != nil && !fastFits(x.typ, ec.srcT, srcKind(&ec)) {
		return nil, false, nil
	}
	switch kind {
	case KindString:
		// a column's strings, NULL elsewhere: shared under new NULLs.
		if tc.k != nil || tk != KindString || els != nil && !els.null {
			return nil, false, nil
		}
		c := tc.col
		for r, t := range on {
			if t && !c.IsNull(r) && !utf8.ValidString(c.str(r)) {
				return nil, false, nil // a conversion that fails or warns
			}
		}
		nulls := make([]bool, n)
		for r, t := range on {
			nulls[r] = !t || c.IsNull(r)
		}
		return &Column{Kind: KindString, Type: x.typ, Nulls: nulls, S: c.S, U: c.U, Users: c.Users, Codes: c.Codes, Dict: c.Dict}, true, nil
	case KindInt:
		out = &Column{Kind: KindInt, Type: x.typ, I: make([]int64, n)}
	default:
		out = &Column{Kind: KindFloat, Type: x.typ, F: make([]float64, n)}
	}
	var nulls []bool
	for r, t := range on {
		ch := &tc
		if !t {
			if els == nil {
				if nulls == nil {
					nulls = make([]bool, n)
				}
				nulls[r] = true
				continue
			}
			ch = &ec
		}
		var iv int64
		var fv float64
		isFloat := false
		switch {
		case ch.k != nil && ch.k.null, ch.k == nil && ch.col.IsNull(r):
			if nulls == nil {
				nulls = make([]bool, n)
			}
			nulls[r] = true
			continue
		case ch.k != nil && ch.k.vk == KindInt:
			iv = ch.k.i
		case ch.k != nil && ch.k.vk == KindFloat:
			fv, isFloat = ch.k.f, true
		case ch.k != nil:
			return nil, false, nil
		case ch.col.Kind == KindInt:
			iv = ch.col.I[r]
		case ch.col.Kind == KindFloat:
			fv, isFloat = ch.col.F[r], true
		default:
			return nil, false, nil
		}
		if out.Kind == KindInt {
			if isFloat {
				return nil, false, nil
			}
			out.I[r] = iv
		} else if isFloat {
			out.F[r] = fv
		} else {
			out.F[r] = float64(iv)
		}
	}
	out.Nulls = nulls
	return out, true, nil
}

// value0Null reports whether the choice's i-th row is NULL.
func (ch *choice) value0Null(i int) bool {
	if ch.k != nil {
		return ch.k.null
	}
	j := i
	if ch.full {
		j = int(ch.rows[i])
	}
	return ch.col.IsNull(j)
}

// restrict is ch (over rows) narrowed to sub, a subsequence of rows.
func (ch choice) restrict(rows, sub []int32) choice {
	if ch.k != nil || ch.full {
		ch.rows = sub
		return ch
	}
	// Positions of sub within rows, to gather the evaluated values.
	pos := make([]int32, 0, len(sub))
	j := 0
	for i, r := range rows {
		if j < len(sub) && sub[j] == r {
			pos = append(pos, int32(i))
			j++
		}
	}
	ch.col = ch.col.Gather(pos)
	ch.rows = sub
	return ch
}

// truth is whether the i-th row of a condition choice is TRUE, as
// sql.EvaluateCondition and If see it.
func (ch *choice) truth(ctx *sql.Context, i int) (bool, error) {
	if ch.k != nil {
		if ch.k.null {
			return false, nil
		}
		return sql.ConvertToBool(ctx, ch.k.v)
	}
	j := i
	if ch.full {
		j = int(ch.rows[i])
	}
	null, t, err := truth(ctx, ch.col, j)
	return !null && t, err
}

// nullIfExpr is NULLIF(a, b).
type nullIfExpr struct {
	eq, a Expr
}

func compileNullIf(ctx *sql.Context, c *Compiler, e sql.Expression) (Expr, error) {
	f := e.(*function.NullIf)
	if types.IsNull(ctx, f.LeftChild) {
		return nil, nil
	}
	a, err := c.Compile(ctx, f.LeftChild)
	if err != nil || mayFail(a) {
		return nil, err // go-mysql-server evaluates a twice on some rows
	}
	eq, err := c.Compile(ctx, expression.NewEquals(f.LeftChild, f.RightChild))
	if err != nil {
		return nil, err
	}
	return &nullIfExpr{eq: eq, a: a}, nil
}

func (x *nullIfExpr) Type() sql.Type { return x.a.Type() }
func (x *nullIfExpr) String() string { return "NULLIF(" + x.a.String() + ", " + x.eq.String() + ")" }
func (x *nullIfExpr) mayFail() bool  { return mayFail(x.eq) || mayFail(x.a) }
func (x *nullIfExpr) Eval(ctx *sql.Context, b *Batch) (*Column, error) {
	eq, err := x.eq.Eval(ctx, b)
	if err != nil {
		return nil, err
	}
	a, err := x.a.Eval(ctx, b)
	if err != nil {
		return nil, err
	}
	n := b.N
	idx := make([]int32, n)
	for r := range idx {
		idx[r] = int32(r)
		if !eq.IsNull(r) && (eq.Kind == KindInt && eq.I[r] != 0 || eq.Kind != KindInt && isTrueBool(eq.Value(r))) {
			idx[r] = -1 // NULL
		}
	}
	return a.Gather(idx), nil
}

// isTrueBool is go-mysql-server's `val.(bool) && val` for an Equals
// result that a column holds as something other than KindInt.
func isTrueBool(v any) bool {
	i, ok := IntOf(v)
	return ok && i != 0
}

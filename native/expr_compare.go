package native

// This file owns the vectorized comparisons: =, <>, <, <=, >, >=, <=>,
// BETWEEN, IN (a list of constants, go-mysql-server's InTuple and
// HashInTuple), IS NULL and IS TRUE / IS FALSE.
//
// A comparison is planned at compile time the way go-mysql-server's
// comparison.Compare converts its operands (expression/comparison.go:
// the left type's Compare when both types are equal, castLeftAndRight
// otherwise), into one of four loops:
//
//   - cmpInt: both sides integers of one signedness (int64 values);
//   - cmpFloat: a float on either side, or signed against unsigned
//     (both sides converted to float64, as go-mysql-server does);
//   - cmpStr: strings whose comparison collation is utf8mb4_0900_bin or
//     utf8mb4_bin (see runeOrder), compared as go-mysql-server does (runes of UTF-8, an invalid byte
//     weighing as U+FFFD; bytes where that is the same, see strCmp);
//   - cmpTime: datetimes as microseconds; a string constant compared
//     with a datetime is converted once, here, by the same
//     types.Datetime(6).Convert go-mysql-server applies to every row,
//     and only when that conversion neither fails nor warns.
//
// Anything else (decimals other than an exactly representable constant,
// another collation, strings against numbers, JSON, enums, times of
// day) is left to go-mysql-server's Eval.

import (
	"math"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/expression"
	"github.com/dolthub/go-mysql-server/sql/types"
	"github.com/dolthub/vitess/go/sqltypes"
	"github.com/shopspring/decimal"
)

type cmpOp uint8

const (
	opEQ  cmpOp = iota
	opNE        // <>
	opLT        // <
	opLE        // <=
	opGT        // >
	opGE        // >=
	opNSE       // <=>: NULL-safe equality, never NULL
)

var cmpOpNames = [...]string{"=", "<>", "<", "<=", ">", ">=", "<=>"}

// flip is the operator with its operands swapped: a op b ⇔ b op.flip() a.
func (op cmpOp) flip() cmpOp {
	switch op {
	case opLT:
		return opGT
	case opLE:
		return opGE
	case opGT:
		return opLT
	case opGE:
		return opLE
	}
	return op
}

// holds reports whether a three-way comparison result satisfies op.
func (op cmpOp) holds(c int) bool {
	switch op {
	case opEQ, opNSE:
		return c == 0
	case opNE:
		return c != 0
	case opLT:
		return c < 0
	case opLE:
		return c <= 0
	case opGT:
		return c > 0
	}
	return c >= 0
}

type cmpMode uint8

const (
	cmpInt cmpMode = iota
	cmpFloat
	cmpStr
	cmpTime
)

// compareExpr is l op r.
type compareExpr struct {
	op   cmpOp
	mode cmpMode
	l, r operand   // at most one is constant, and then it is r
	fb   *nodeEval // over (l, r), as l and r were before any swap
	swap bool
	// decimal: r is a DECIMAL constant compared in floats, exact only
	// for left values in decimalSafe's range (other batches go to fb).
	decimal bool
	// checkUTF8: strings of different types, which go-mysql-server
	// converts to LONGTEXT first, and which an invalid UTF-8 value makes
	// a NULL (strict mode) or truncates: such batches go to fb.
	checkUTF8 bool
	// days: two DATE columns (cmpTime), compared by their UTC days as
	// Date's Compare truncates them.
	days bool
}

// utf8Moot reports whether an invalid UTF-8 value cannot change the
// result here: an equality with a constant (which passed strConstOK)
// under a strict sql_mode, where such a value converts to NULL, which
// compares unequal to the constant, as its bytes do.
func (x *compareExpr) utf8Moot(ctx *sql.Context, rc *Column) bool {
	return rc == nil && (x.op == opEQ || x.op == opNE || x.op == opNSE) && strictMode(ctx)
}

// strictMode reports whether the session's sql_mode is strict, in which
// go-mysql-server's string conversion rejects invalid UTF-8 rather than
// truncating it.
func strictMode(ctx *sql.Context) bool {
	return ctx.Session != nil && sql.LoadSqlMode(ctx).Strict()
}

// fallback evaluates the batch's rows by go-mysql-server's comparison
// over the already evaluated operands.
func (x *compareExpr) fallback(ctx *sql.Context, n int, lc, rc *Column) (*Column, error) {
	if x.swap {
		return x.fb.eval(ctx, n, rc, lc)
	}
	return x.fb.eval(ctx, n, lc, rc)
}

func init() {
	for _, sample := range []sql.Expression{
		(*expression.Equals)(nil), (*expression.GreaterThan)(nil), (*expression.LessThan)(nil),
		(*expression.GreaterThanOrEqual)(nil), (*expression.LessThanOrEqual)(nil),
		(*expression.NullSafeEquals)(nil),
	} {
		registerExpr(sample, compileComparison)
	}
	registerExpr((*expression.Not)(nil), compileNot)
	registerExpr((*expression.Between)(nil), func(ctx *sql.Context, c *Compiler, e sql.Expression) (Expr, error) {
		// go-mysql-server's Between.Eval is exactly this expression.
		b := e.(*expression.Between)
		return c.Compile(ctx, expression.NewAnd(
			expression.NewLessThanOrEqual(b.Lower, b.Val),
			expression.NewGreaterThanOrEqual(b.Upper, b.Val)))
	})
	registerExpr((*expression.InTuple)(nil), func(ctx *sql.Context, c *Compiler, e sql.Expression) (Expr, error) {
		in := e.(*expression.InTuple)
		return compileIn(ctx, c, e, in.Left(), in.Right(), false)
	})
	registerExpr((*expression.HashInTuple)(nil), func(ctx *sql.Context, c *Compiler, e sql.Expression) (Expr, error) {
		in := e.(*expression.HashInTuple)
		return compileIn(ctx, c, e, in.Left(), in.Right(), true)
	})
	registerExpr((*expression.IsNull)(nil), func(ctx *sql.Context, c *Compiler, e sql.Expression) (Expr, error) {
		x, err := c.Compile(ctx, e.(*expression.IsNull).Child)
		if err != nil {
			return nil, err
		}
		return &isNullExpr{x: x}, nil
	})
	registerExpr((*expression.IsTrue)(nil), func(ctx *sql.Context, c *Compiler, e sql.Expression) (Expr, error) {
		it := e.(*expression.IsTrue)
		x, err := c.Compile(ctx, it.Child)
		if err != nil {
			return nil, err
		}
		return &isTrueExpr{x: x, invert: e.String() == it.Child.String()+" "+expression.IsFalseStr}, nil
	})
}

func compileComparison(ctx *sql.Context, c *Compiler, e sql.Expression) (Expr, error) {
	cmp := e.(expression.Comparer)
	var op cmpOp
	switch e.(type) {
	case *expression.Equals:
		op = opEQ
	case *expression.GreaterThan:
		op = opGT
	case *expression.LessThan:
		op = opLT
	case *expression.GreaterThanOrEqual:
		op = opGE
	case *expression.LessThanOrEqual:
		op = opLE
	case *expression.NullSafeEquals:
		op = opNSE
	}
	lT, rT := cmp.Left().Type(ctx), cmp.Right().Type(ctx)
	l, err := compileOperand(ctx, c, cmp.Left())
	if err != nil {
		return nil, err
	}
	r, err := compileOperand(ctx, c, cmp.Right())
	if err != nil {
		return nil, err
	}
	if l.konst && r.konst {
		return nil, nil // constant: nothing to vectorize
	}
	fb := fallback(ctx, e, l, r)
	swap := l.konst
	if swap {
		l, r, lT, rT, op = r, l, rT, lT, op.flip()
	}
	if r.null || lT == types.Null {
		// x op NULL is NULL on every row; x <=> NULL is x IS NULL.
		if op == opNSE && r.null && !l.konst {
			return &isNullExpr{x: l.x}, nil
		}
		return nil, nil
	}
	var collation sql.CollationID
	if !types.TypesEqual(lT, rT) && op != opNSE {
		collation, _ = (&comparisonCollation{cmp.Left(), cmp.Right()}).resolve(ctx)
	}
	mode, ok := planCompare(ctx, lT, rT, &l, &r, collation)
	days := false
	if !ok && !r.konst && types.TypesEqual(lT, rT) && lT.Type() == sqltypes.Date &&
		l.kind() == KindTime && r.kind() == KindTime {
		// DATE = DATE of two columns (CAST(a AS DATE) = CAST(b AS DATE)):
		// Date's Compare truncates both times to their UTC day.
		mode, ok, days = cmpTime, true, true
	}
	if !ok {
		return nil, nil
	}
	x := &compareExpr{op: op, mode: mode, l: l, r: r, fb: fb, swap: swap, days: days,
		checkUTF8: mode == cmpStr && !types.TypesEqual(lT, rT)}
	if _, dec := r.v.(decimal.Decimal); dec && mode == cmpFloat {
		if !decimalSafe(r.f) {
			return nil, nil
		}
		x.decimal = true
	}
	return x, nil
}

// comparisonCollation resolves the collation go-mysql-server's
// comparison.Compare uses for two strings of different types.
type comparisonCollation struct{ l, r sql.Expression }

func (cc *comparisonCollation) resolve(ctx *sql.Context) (sql.CollationID, byte) {
	lc, lco := sql.GetCoercibility(ctx, cc.l)
	rc, rco := sql.GetCoercibility(ctx, cc.r)
	return sql.ResolveCoercibility(lc, lco, rc, rco)
}

// planCompare chooses the loop for comparing l (type lT, not constant)
// with r (type rT), and converts a constant r to that loop's domain. It
// mirrors comparison.Compare: lT.Compare when the types are equal,
// castLeftAndRight otherwise. collation is the one castLeftAndRight
// compares strings of different types with (0 for <=>, which uses the
// default, and for equal types, which use lT's).
func planCompare(ctx *sql.Context, lT, rT sql.Type, l, r *operand, collation sql.CollationID) (cmpMode, bool) {
	lk, rk := l.kind(), r.kind()
	if types.TypesEqual(lT, rT) {
		if lk != KindOf(lT) || rk != lk {
			return 0, false
		}
		switch lk {
		case KindInt:
			return cmpInt, true
		case KindFloat:
			return cmpFloat, true
		case KindString:
			st, ok := lT.(sql.StringType)
			return cmpStr, ok && runeOrder(st.Collation()) && strConstOK(r)
		case KindTime:
			// Date's Compare truncates to days; a stored DATE already is,
			// but leave the rare DATE = DATE to Eval rather than rely on it.
			return cmpTime, lT.Type() != sqltypes.Date
		}
		return 0, false
	}
	switch {
	case types.IsEnum(lT), types.IsSet(lT), types.IsEnum(rT), types.IsSet(rT),
		types.IsTimespan(lT), types.IsTimespan(rT), types.IsTuple(lT), types.IsTuple(rT):
		return 0, false
	case types.IsTime(lT) || types.IsTime(rT):
		if lk != KindTime {
			return 0, false
		}
		if !r.konst {
			return cmpTime, rk == KindTime
		}
		// The constant is converted as castLeftAndRight converts it on
		// every row: to DATETIME(6) from a time or a string.
		// (TIMESTAMP('…') folds to a time.Time literal typed LONGTEXT.)
		switch r.v.(type) {
		case string, []byte, time.Time:
		default:
			return 0, false
		}
		before := ctx.Session.WarningCount()
		v, _, err := types.MustCreateDatetimeType(sqltypes.Datetime, types.MaxDatetimePrecision).Convert(ctx, r.v)
		if err != nil || ctx.Session.WarningCount() != before {
			return 0, false
		}
		t, ok := v.(time.Time)
		if !ok {
			return 0, false
		}
		r.i = t.UnixMicro()
		return cmpTime, true
	case types.IsJSON(lT) || types.IsJSON(rT), types.IsBinaryType(lT) || types.IsBinaryType(rT):
		return 0, false
	case types.IsNumber(lT) || types.IsNumber(rT):
		if types.IsDecimal(lT) || types.IsDecimal(rT) {
			return decimalConst(lT, rT, l, r)
		}
		if !numericKind(lk) || !numericKind(rk) {
			return 0, false // a string or a boxed number against a number
		}
		if types.IsFloat(lT) || types.IsFloat(rT) {
			if r.konst {
				r.f = constFloat(r)
			}
			return cmpFloat, true
		}
		if lk == KindInt && rk == KindInt &&
			(types.IsSigned(lT) && types.IsSigned(rT) || types.IsUnsigned(lT) && types.IsUnsigned(rT)) {
			return cmpInt, true
		}
		if r.konst {
			r.f = constFloat(r)
		}
		return cmpFloat, true // signed against unsigned: as float64
	}
	if lk != KindString || rk != KindString || !types.IsTextOnly(lT) || !types.IsTextOnly(rT) {
		return 0, false
	}
	if collation == 0 {
		collation = sql.Collation_Default
	}
	return cmpStr, runeOrder(collation) && strConstOK(r)
}

// runeOrder reports whether go-mysql-server compares (and hashes)
// strings of collation c by their runes in code point order: true for
// utf8mb4_0900_bin (weight = rune) and utf8mb4_bin, arb's events table's
// collation, whose weights (encodings.Utf8mb4_bin_RuneWeight: r up to
// U+D7FF, r-2048 from U+E000, surrogates never decoded) rise with the
// code point; go-mysql-server's Compare ignores utf8mb4_bin's PAD SPACE.
func runeOrder(c sql.CollationID) bool {
	return c == sql.Collation_utf8mb4_0900_bin || c == sql.Collation_utf8mb4_bin
}

func numericKind(k Kind) bool { return k == KindInt || k == KindFloat }

// constFloat is a numeric constant as float64.
func constFloat(o *operand) float64 {
	if _, isF := floatOf(o.v); isF {
		return o.f
	}
	return float64(o.i)
}

// strConstOK reports whether a constant string compares with any string
// exactly as bytes do for equality: it is valid UTF-8 without U+FFFD (an
// invalid byte in the other string decodes to U+FFFD and could equal it).
func strConstOK(o *operand) bool {
	if !o.konst {
		return true
	}
	s, ok := o.v.(string)
	if !ok {
		return false
	}
	o.s = s
	return utf8.ValidString(s) && !containsRune(s, utf8.RuneError)
}

func containsRune(s string, r rune) bool {
	for _, c := range s {
		if c == r {
			return true
		}
	}
	return false
}

// decimalConst handles a number compared with a DECIMAL constant, which
// go-mysql-server compares as decimals: with a float column it is the
// float comparison when the constant is exactly the shortest decimal of
// a float64 (decimal.NewFromFloat, which the conversion uses, is then
// order-preserving and exact); with an integer column, when the constant
// is an integer in int64's range. Otherwise the comparison stays Eval's.
func decimalConst(lT, rT sql.Type, l, r *operand) (cmpMode, bool) {
	if types.IsDecimal(lT) || !r.konst {
		return 0, false
	}
	d, ok := r.v.(decimal.Decimal)
	if !ok {
		return 0, false
	}
	switch KindOf(l.x.Type()) {
	case KindFloat:
		if l.x.Type().Type() != sqltypes.Float64 {
			return 0, false // a FLOAT converts by its float32 shortest decimal
		}
		f, _ := d.Float64()
		if !decimal.NewFromFloat(f).Equal(d) {
			return 0, false
		}
		r.f = f
		return cmpFloat, true
	case KindInt:
		if !d.Equal(d.Truncate(0)) || !d.IsInteger() {
			return 0, false
		}
		bi := d.BigInt()
		if !bi.IsInt64() {
			return 0, false
		}
		r.i = bi.Int64()
		if types.IsUnsigned(lT) || types.IsSigned(lT) {
			return cmpInt, true
		}
	}
	return 0, false
}

// decimalSafe reports whether go-mysql-server's conversion of float f to
// its internal DECIMAL(65,30) is exactly decimal.NewFromFloat(f): at most
// 35 integer digits (else the conversion fails and gives 0) and at most
// 30 decimals (else it rounds); a float64's shortest decimal has at most
// 17 significant digits, so 1e-13 ≤ |f| < 1e35 (or 0) is enough.
func decimalSafe(f float64) bool {
	a := math.Abs(f)
	return a == 0 || a >= 1e-13 && a < 1e35
}

func allDecimalSafe(f []float64, nulls []bool) bool {
	for r, v := range f {
		if !decimalSafe(v) && (nulls == nil || !nulls[r]) {
			return false
		}
	}
	return true
}

func (x *compareExpr) Type() sql.Type { return boolType }
func (x *compareExpr) String() string {
	return "(" + x.l.x.String() + " " + cmpOpNames[x.op] + " " + x.r.x.String() + ")"
}
func (x *compareExpr) mayFail() bool { return anyMayFail(x.l.x, x.r.x) }

// kindFits reports whether a column can go through the loop of mode.
func kindFits(mode cmpMode, k Kind) bool {
	switch mode {
	case cmpInt:
		return k == KindInt
	case cmpFloat:
		return k == KindInt || k == KindFloat
	case cmpStr:
		return k == KindString
	}
	return k == KindTime
}

func (x *compareExpr) Eval(ctx *sql.Context, b *Batch) (*Column, error) {
	n := b.N
	lc, err := x.l.x.Eval(ctx, b)
	if err != nil {
		return nil, err
	}
	var rc *Column
	if !x.r.konst {
		if rc, err = x.r.x.Eval(ctx, b); err != nil {
			return nil, err
		}
	}
	if lc.Kind == KindNull || rc != nil && rc.Kind == KindNull {
		if x.op != opNSE {
			return allNull(boolType, n), nil
		}
		return x.fallback(ctx, n, lc, rc)
	}
	if !kindFits(x.mode, lc.Kind) || rc != nil && !kindFits(x.mode, rc.Kind) ||
		x.checkUTF8 && !x.utf8Moot(ctx, rc) && (!validStrings(lc) || rc != nil && !validStrings(rc)) {
		return x.fallback(ctx, n, lc, rc)
	}
	var nulls []bool
	if x.op != opNSE {
		if rc != nil {
			nulls = orNulls(lc.Nulls, rc.Nulls)
		} else {
			nulls = lc.Nulls
		}
	}
	out := newBoolCol(n, nulls)
	switch x.mode {
	case cmpInt, cmpTime:
		switch {
		case rc == nil:
			cmpConst(x.op, lc.I, x.r.i, out.I)
		case x.days:
			cmpCols(x.op, utcDays(lc.I[:n]), utcDays(rc.I[:n]), out.I)
		default:
			cmpCols(x.op, lc.I, rc.I, out.I)
		}
	case cmpFloat:
		lf := floats(lc)
		if x.decimal && !allDecimalSafe(lf, lc.Nulls) {
			return x.fallback(ctx, n, lc, rc)
		}
		if rc == nil {
			cmpConst(x.op, lf, x.r.f, out.I)
		} else {
			cmpCols(x.op, lf, floats(rc), out.I)
		}
	case cmpStr:
		if rc == nil {
			cmpStrConst(x.op, lc.S, x.r.s, out.I)
		} else {
			cmpStrCols(x.op, lc.S, rc.S, out.I)
		}
	}
	if x.op == opNSE {
		nullSafe(lc, rc, out.I)
	} else {
		zeroNulls(out)
	}
	return out, nil
}

// utcDays is each time of ts (microseconds) as its UTC day: what
// time.Truncate(24 * time.Hour) keeps.
func utcDays(ts []int64) []int64 {
	out := make([]int64, len(ts))
	for i, v := range ts {
		out[i] = floorDiv(v, microsPerDay)
	}
	return out
}

// validStrings reports whether every non-NULL string of c is valid UTF-8.
func validStrings(c *Column) bool {
	for r, s := range c.S {
		if !utf8.ValidString(s) && (c.Nulls == nil || !c.Nulls[r]) {
			return false
		}
	}
	return true
}

// nullSafe fixes <=>'s NULL rows: NULL <=> NULL is 1, NULL <=> x is 0.
func nullSafe(lc, rc *Column, out []int64) {
	if lc.Nulls == nil && (rc == nil || rc.Nulls == nil) {
		return
	}
	for r := range out {
		ln := lc.Nulls != nil && lc.Nulls[r]
		rn := rc != nil && rc.Nulls != nil && rc.Nulls[r]
		if ln || rn {
			out[r] = b2i(ln && rn)
		}
	}
}

// zeroNulls keeps Column's invariant that a NULL row's slot is zero.
func zeroNulls(c *Column) {
	if c.Nulls == nil {
		return
	}
	for r, null := range c.Nulls {
		if null {
			c.I[r] = 0
		}
	}
}

// floats is an int or float column's values as float64 (a new slice for
// ints: go-mysql-server converts them with float64(i)).
func floats(c *Column) []float64 {
	if c.Kind == KindFloat {
		return c.F
	}
	f := make([]float64, len(c.I))
	for r, v := range c.I {
		f[r] = float64(v)
	}
	return f
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// cmpConst sets out[r] = a[r] op k.
func cmpConst[T int64 | float64](op cmpOp, a []T, k T, out []int64) {
	switch op {
	case opEQ, opNSE:
		for r, v := range a {
			out[r] = b2i(v == k)
		}
	case opNE:
		for r, v := range a {
			out[r] = b2i(v != k)
		}
	case opLT:
		for r, v := range a {
			out[r] = b2i(v < k)
		}
	case opLE:
		for r, v := range a {
			out[r] = b2i(v <= k)
		}
	case opGT:
		for r, v := range a {
			out[r] = b2i(v > k)
		}
	case opGE:
		for r, v := range a {
			out[r] = b2i(v >= k)
		}
	}
}

// cmpCols sets out[r] = a[r] op b[r].
func cmpCols[T int64 | float64](op cmpOp, a, b []T, out []int64) {
	b = b[:len(a)]
	switch op {
	case opEQ, opNSE:
		for r, v := range a {
			out[r] = b2i(v == b[r])
		}
	case opNE:
		for r, v := range a {
			out[r] = b2i(v != b[r])
		}
	case opLT:
		for r, v := range a {
			out[r] = b2i(v < b[r])
		}
	case opLE:
		for r, v := range a {
			out[r] = b2i(v <= b[r])
		}
	case opGT:
		for r, v := range a {
			out[r] = b2i(v > b[r])
		}
	case opGE:
		for r, v := range a {
			out[r] = b2i(v >= b[r])
		}
	}
}

// cmpStrConst sets out[r] = a[r] op k; k passed strConstOK, so equality
// is byte equality.
func cmpStrConst(op cmpOp, a []string, k string, out []int64) {
	switch op {
	case opEQ, opNSE:
		for r, v := range a {
			out[r] = b2i(v == k)
		}
	case opNE:
		for r, v := range a {
			out[r] = b2i(v != k)
		}
	default:
		for r, v := range a {
			out[r] = b2i(op.holds(strCmp(v, k)))
		}
	}
}

func cmpStrCols(op cmpOp, a, b []string, out []int64) {
	b = b[:len(a)]
	for r, v := range a {
		out[r] = b2i(op.holds(strCmp(v, b[r])))
	}
}

// strCmp compares two strings as go-mysql-server's StringType.Compare
// does under utf8mb4_0900_bin: rune by rune (utf8.DecodeRuneInString,
// so an invalid byte is U+FFFD), then the shorter remainder first. Where
// the strings first differ in an ASCII byte (or one ends and the other
// goes on with one), that is byte order: the common prefix decodes the
// same in both, and an ASCII byte cannot continue a rune.
func strCmp(a, b string) int {
	if a == b {
		return 0
	}
	n := min(len(a), len(b))
	i := 0
	for i < n && a[i] == b[i] {
		i++
	}
	aEnd, bEnd := i == len(a), i == len(b)
	if (aEnd || a[i] < utf8.RuneSelf) && (bEnd || b[i] < utf8.RuneSelf) {
		switch {
		case aEnd:
			return -1
		case bEnd:
			return 1
		case a[i] < b[i]:
			return -1
		}
		return 1
	}
	return strCmpRunes(a, b)
}

func strCmpRunes(a, b string) int {
	for len(a) > 0 && len(b) > 0 {
		ar, an := utf8.DecodeRuneInString(a)
		br, bn := utf8.DecodeRuneInString(b)
		if ar != br {
			if ar < br {
				return -1
			}
			return 1
		}
		a, b = a[an:], b[bn:]
	}
	switch {
	case len(a) < len(b):
		return -1
	case len(a) > len(b):
		return 1
	}
	return 0
}

// isNullExpr is x IS NULL (never NULL itself).
type isNullExpr struct{ x Expr }

func (x *isNullExpr) Type() sql.Type { return boolType }
func (x *isNullExpr) String() string { return x.x.String() + " IS NULL" }
func (x *isNullExpr) mayFail() bool  { return mayFail(x.x) }
func (x *isNullExpr) Eval(ctx *sql.Context, b *Batch) (*Column, error) {
	c, err := x.x.Eval(ctx, b)
	if err != nil {
		return nil, err
	}
	out := newBoolCol(b.N, nil)
	if c.Kind == KindNull {
		for r := range out.I {
			out.I[r] = 1
		}
	} else if c.Nulls != nil {
		for r, null := range c.Nulls[:b.N] {
			out.I[r] = b2i(null)
		}
	}
	return out, nil
}

// isTrueExpr is x IS TRUE, or x IS FALSE when invert: FALSE for NULL.
type isTrueExpr struct {
	x      Expr
	invert bool
}

func (x *isTrueExpr) Type() sql.Type { return boolType }
func (x *isTrueExpr) String() string {
	if x.invert {
		return x.x.String() + " " + expression.IsFalseStr
	}
	return x.x.String() + " " + expression.IsTrueStr
}
func (x *isTrueExpr) mayFail() bool { return mayFail(x.x) || truthMayWarn(x.x) }
func (x *isTrueExpr) Eval(ctx *sql.Context, b *Batch) (*Column, error) {
	c, err := x.x.Eval(ctx, b)
	if err != nil {
		return nil, err
	}
	out := newBoolCol(b.N, nil)
	for r := range out.I {
		null, t, err := truth(ctx, c, r)
		if err != nil {
			return nil, err
		}
		if !null {
			out.I[r] = b2i(t != x.invert)
		}
	}
	return out, nil
}

// inExpr is l IN (constants): go-mysql-server's InTuple (an equality
// comparison with each element) and HashInTuple (a hash of each value
// converted to one compare type) agree on the forms compiled here: an
// integer against integers, a float against numbers, a string against
// strings of utf8mb4_0900_bin, a datetime against datetimes and strings
// that convert cleanly. TRUE on a match; else NULL if the left side or
// an element is NULL; else FALSE.
type inExpr struct {
	l       Expr
	mode    cmpMode
	hasNull bool
	ints    map[int64]struct{}
	floats  map[float64]struct{}
	strs    map[string]struct{}
	fb      *nodeEval
	desc    string
}

// hashed is HashInTuple, which hashes strings by the left type's
// collation when the first element has the same type, else by LONGTEXT's
// default utf8mb4_0900_bin (types.GetCompareType): the elements' own
// collations (the connection's, for literals) do not count. InTuple
// compares each pair of literals, whose collations both count.
func compileIn(ctx *sql.Context, c *Compiler, e, left, right sql.Expression, hashed bool) (Expr, error) {
	tup, ok := right.(expression.Tuple)
	lT := left.Type(ctx)
	if !ok || len(tup) == 0 || types.IsTuple(lT) || lT == types.Null {
		return nil, nil
	}
	l, err := compileOperand(ctx, c, left)
	if err != nil || l.konst {
		return nil, err
	}
	x := &inExpr{l: l.x, fb: fallback(ctx, e, l, operand{konst: true}), desc: tup.String()}
	lk := KindOf(l.x.Type())
	first := true
	for _, el := range tup {
		rT := el.Type(ctx)
		if rT == types.Null {
			x.hasNull = true
			continue
		}
		v, ok := foldConst(ctx, el)
		if !ok {
			return nil, nil
		}
		if v == nil {
			x.hasNull = true
			continue
		}
		r := operandOf(&constExpr{v: v, typ: rT})
		if lk == KindInt && (KindOf(rT) != KindInt || r.vk != KindInt) {
			return nil, nil // HashInTuple would convert it to the first element's type
		}
		if types.IsDecimal(rT) {
			return nil, nil
		}
		collation := sql.Collation_binary // refused unless compared in code point order
		if ls, ok := lT.(sql.StringType); ok && types.IsTextOnly(lT) && types.IsTextOnly(rT) && runeOrder(ls.Collation()) &&
			(hashed || inTupleBytewise(ls.Collation(), rT.(sql.StringType).Collation())) {
			collation = sql.Collation_utf8mb4_0900_bin
		}
		lo := l
		mode, ok := cmpInt, true
		if lk != KindInt {
			// (An integer against integers is integer equality whatever
			// the signedness: go-mysql-server's float64 comparison of
			// signed with unsigned agrees with it, as every unsigned
			// constant here is below 2^32.)
			mode, ok = planCompare(ctx, lT, rT, &lo, &r, collation)
		}
		if !ok || !first && mode != x.mode {
			return nil, nil
		}
		if first {
			x.mode, first = mode, false
			x.ints, x.floats, x.strs = map[int64]struct{}{}, map[float64]struct{}{}, map[string]struct{}{}
		}
		switch mode {
		case cmpInt, cmpTime:
			x.ints[r.i] = struct{}{}
		case cmpFloat:
			x.floats[r.f] = struct{}{}
		case cmpStr:
			x.strs[r.s] = struct{}{}
		}
	}
	if first {
		return nil, nil // only NULLs
	}
	return x, nil
}

// inTupleBytewise reports whether InTuple compares a value of collation
// l with an element of collation r in code point order. InTuple.Eval
// compares two literals (the value typed as the left side), both
// coercible, so ResolveCoercibility decides: the left's collation unless
// the right's is a _bin one of the same character set, and binary across
// character sets — the mariadb CLI's utf8mb3 connection against the
// events table's utf8mb4 strings. Binary compares bytes, which for valid
// UTF-8 (what every stored string and strConstOK's constants are) order
// as their code points do.
func inTupleBytewise(l, r sql.CollationID) bool {
	c, _ := sql.ResolveCoercibility(l, 4, r, 4)
	return runeOrder(c) || c == sql.Collation_binary
}

func (x *inExpr) Type() sql.Type { return boolType }
func (x *inExpr) String() string { return "(" + x.l.String() + " IN " + x.desc + ")" }
func (x *inExpr) mayFail() bool  { return mayFail(x.l) }

func (x *inExpr) Eval(ctx *sql.Context, b *Batch) (*Column, error) {
	c, err := x.l.Eval(ctx, b)
	if err != nil {
		return nil, err
	}
	if c.Kind == KindNull {
		return allNull(boolType, b.N), nil
	}
	// An invalid UTF-8 value: InTuple's comparison converts it to NULL
	// (unequal to every element) in a strict sql_mode, or truncates it.
	if !kindFits(x.mode, c.Kind) || x.mode == cmpStr && !strictMode(ctx) && !validStrings(c) {
		return x.fb.eval(ctx, b.N, c, nil)
	}
	out := newBoolCol(b.N, nil)
	hit := out.I
	switch x.mode {
	case cmpInt, cmpTime:
		for r, v := range c.I {
			if _, ok := x.ints[v]; ok {
				hit[r] = 1
			}
		}
	case cmpFloat:
		if c.Kind == KindFloat {
			for r, v := range c.F {
				if _, ok := x.floats[v]; ok {
					hit[r] = 1
				}
			}
		} else {
			for r, v := range c.I {
				if _, ok := x.floats[float64(v)]; ok {
					hit[r] = 1
				}
			}
		}
	case cmpStr:
		// Dictionary strings repeat (event names), one string per value
		// and part: a string seen before at the same address takes its
		// answer from a small cache without comparing bytes.
		var seen [64]stringSlot
		for r, v := range c.S {
			p := uintptr(unsafe.Pointer(unsafe.StringData(v)))
			slot := &seen[(p>>3^p>>9)&63]
			if slot.holds(v) {
				hit[r] = int64(slot.id)
				continue
			}
			slot.s, slot.id = v, 0
			if _, ok := x.strs[v]; ok {
				hit[r], slot.id = 1, 1
			}
		}
	}
	if c.Nulls == nil && !x.hasNull {
		return out, nil
	}
	nulls := make([]bool, b.N)
	for r := range nulls {
		if c.Nulls != nil && c.Nulls[r] || x.hasNull && hit[r] == 0 {
			nulls[r], hit[r] = true, 0
		}
	}
	out.Nulls = nulls
	return out, nil
}

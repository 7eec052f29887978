package native

// This file owns the vectorized string functions over utf8mb4 string
// columns (KindString): LOWER, UPPER, LENGTH, CHAR_LENGTH, CONCAT of
// strings, and LIKE with a constant pattern, as go-mysql-server's
// function/lower_upper.go, length.go, concat.go and expression/like.go
// compute them:
//
//   - LOWER/UPPER are strings.ToLower/ToUpper (utf8mb4's encoder), one
//     call per run of equal inputs;
//   - LENGTH is the byte length; CHAR_LENGTH counts runes, and a
//     malformed string (or U+FFFD, which go-mysql-server cannot tell
//     from one) sends the batch to go-mysql-server's node for its error;
//   - LIKE compiles its pattern once with go-mysql-server's own
//     ConstructLikeMatcher (any collation); under a binary utf8mb4
//     collation (runeOrder: utf8mb4_0900_bin, utf8mb4_bin) a
//     pattern of literal text with % only at its ends runs as byte
//     comparisons (prefix, suffix, substring, equality), which match
//     exactly when go-mysql-server's rune matcher does for a pattern
//     that is valid UTF-8 without U+FFFD and a string that is too (a
//     string that is not goes to the matcher, see likeExpr.Eval).
//
//   - SUBSTRING with constant positions counts runes as go-mysql-server
//     does ([]rune of the string), slicing ASCII strings in place; a
//     string that is not valid UTF-8 (which LONGTEXT's conversion
//     rejects or truncates by sql_mode) sends the batch to
//     go-mysql-server's node.
//
// TRIM and CONCAT of non-strings stay go-mysql-server's Eval
// (JSON_EXTRACT: expr_json.go).

import (
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/expression"
	"github.com/dolthub/go-mysql-server/sql/expression/function"
	"github.com/dolthub/go-mysql-server/sql/types"
	"github.com/dolthub/vitess/go/sqltypes"
)

// utf8mb4Arg compiles a string function's argument of a utf8mb4 string
// type, or reports that the function stays go-mysql-server's.
func utf8mb4Arg(ctx *sql.Context, c *Compiler, arg sql.Expression) (operand, bool, error) {
	t := arg.Type(ctx)
	st, ok := t.(sql.StringType)
	if !ok || !types.IsTextOnly(t) || st.Collation().CharacterSet() != sql.CharacterSet_utf8mb4 {
		return operand{}, false, nil
	}
	o, err := compileOperand(ctx, c, arg)
	if err != nil || KindOf(o.x.Type()) != KindString {
		return operand{}, false, err
	}
	return o, true, nil
}

// caseExprFn is LOWER or UPPER.
type caseFnExpr struct {
	x     Expr
	upper bool
	typ   sql.Type
}

func init() {
	caseFn := func(upper bool) exprCompiler {
		return func(ctx *sql.Context, c *Compiler, e sql.Expression) (Expr, error) {
			o, ok, err := utf8mb4Arg(ctx, c, e.Children()[0])
			if !ok || err != nil || o.konst {
				return nil, err
			}
			return &caseFnExpr{x: o.x, upper: upper, typ: e.Type(ctx)}, nil
		}
	}
	registerExpr((*function.Lower)(nil), caseFn(false))
	registerExpr((*function.Upper)(nil), caseFn(true))
	registerExpr((*function.Length)(nil), func(ctx *sql.Context, c *Compiler, e sql.Expression) (Expr, error) {
		l := e.(*function.Length)
		o, ok, err := utf8mb4Arg(ctx, c, l.Child)
		if !ok || err != nil || o.konst {
			return nil, err
		}
		return &lengthExpr{x: o.x, chars: l.CountType == function.NumChars, fb: fallback(ctx, e, o)}, nil
	})
	registerExpr((*function.Concat)(nil), compileConcat)
	registerExpr((*expression.Like)(nil), compileLike)
	registerExpr((*function.Substring)(nil), compileSubstring)
}

func (x *caseFnExpr) Type() sql.Type { return x.typ }
func (x *caseFnExpr) String() string {
	if x.upper {
		return "upper(" + x.x.String() + ")"
	}
	return "lower(" + x.x.String() + ")"
}
func (x *caseFnExpr) mayFail() bool { return mayFail(x.x) }
func (x *caseFnExpr) Eval(ctx *sql.Context, b *Batch) (*Column, error) {
	c, err := x.x.Eval(ctx, b)
	if err != nil {
		return nil, err
	}
	n := b.N
	if c.Kind != KindString {
		// A NULL-only column, or values the column could not hold as
		// strings: go-mysql-server's function over each value.
		return (&evalExpr{e: x.gmsExpr(), typ: x.typ}).Eval(ctx, &Batch{N: n, Cols: []*Column{c}})
	}
	out := &Column{Kind: KindString, Type: x.typ, S: make([]string, n), Nulls: c.Nulls}
	conv := strings.ToLower
	if x.upper {
		conv = strings.ToUpper
	}
	var lastIn, lastOut string
	have := false
	for r, s := range c.S[:n] {
		if c.Nulls != nil && c.Nulls[r] {
			continue
		}
		if !have || s != lastIn {
			lastIn, lastOut, have = s, conv(s), true
		}
		out.S[r] = lastOut
	}
	return out, nil
}

// gmsExpr is the function over column 0, for the fallback.
func (x *caseFnExpr) gmsExpr() sql.Expression {
	arg := expression.NewGetField(0, x.x.Type(), "x", true)
	if x.upper {
		return function.NewUpper(nil, arg)
	}
	return function.NewLower(nil, arg)
}

// lengthExpr is LENGTH (bytes) or CHAR_LENGTH (runes), an INT.
type lengthExpr struct {
	x     Expr
	chars bool
	fb    *nodeEval
}

func (x *lengthExpr) Type() sql.Type { return types.Int32 }
func (x *lengthExpr) String() string {
	if x.chars {
		return "char_length(" + x.x.String() + ")"
	}
	return "length(" + x.x.String() + ")"
}
func (x *lengthExpr) mayFail() bool { return mayFail(x.x) || x.chars }
func (x *lengthExpr) Eval(ctx *sql.Context, b *Batch) (*Column, error) {
	c, err := x.x.Eval(ctx, b)
	if err != nil {
		return nil, err
	}
	n := b.N
	if c.Kind != KindString {
		return x.fb.eval(ctx, n, c)
	}
	out := &Column{Kind: KindInt, Type: types.Int32, I: make([]int64, n), Nulls: c.Nulls}
	for r, s := range c.S[:n] {
		if c.Nulls != nil && c.Nulls[r] {
			continue
		}
		if !x.chars {
			out.I[r] = int64(len(s))
			continue
		}
		count := int64(0)
		for i := 0; i < len(s); {
			if s[i] < utf8.RuneSelf {
				i++
				count++
				continue
			}
			ru, size := utf8.DecodeRuneInString(s[i:])
			if ru == utf8.RuneError {
				return x.fb.eval(ctx, n, c) // go-mysql-server's malformed-string error
			}
			i += size
			count++
		}
		out.I[r] = count
	}
	return out, nil
}

// concatExpr is CONCAT of strings and signed integers: NULL if any
// argument is NULL.
type concatExpr struct {
	args []operand
}

// concatInteger reports whether CONCAT prints values of type t as
// strconv.AppendInt does (LongText's conversion of an int): the signed
// integer types but BOOLEAN (TINYINT), whose values may be Go bools.
func concatInteger(t sql.Type) bool {
	switch t.Type() {
	case sqltypes.Int16, sqltypes.Int24, sqltypes.Int32, sqltypes.Int64:
		return true
	}
	return false
}

func compileConcat(ctx *sql.Context, c *Compiler, e sql.Expression) (Expr, error) {
	args := e.Children()
	if len(args) == 0 {
		return nil, nil
	}
	x := &concatExpr{}
	nonConst := false
	for _, a := range args {
		// ConvertToCollatedString gives a string value as it is,
		// whatever its type's character set, and a signed integer's
		// decimal digits (YEARWEEK(time) in Metabase's week grain).
		integer := concatInteger(a.Type(ctx))
		if !types.IsTextOnly(a.Type(ctx)) && !integer {
			return nil, nil
		}
		o, err := compileOperand(ctx, c, a)
		if err != nil {
			return nil, err
		}
		if o.konst && !o.null {
			if _, ok := o.v.(string); !ok {
				return nil, nil
			}
		}
		if !o.konst {
			if k := KindOf(o.x.Type()); k != KindString && !(integer && k == KindInt) {
				return nil, nil
			}
			nonConst = true
		}
		x.args = append(x.args, o)
	}
	if !nonConst {
		return nil, nil
	}
	// go-mysql-server stops at the first NULL argument: an argument
	// after the first that may fail or warn would be evaluated here on
	// rows it never sees.
	for _, a := range x.args[1:] {
		if mayFail(a.x) {
			return nil, nil
		}
	}
	return x, nil
}

func (x *concatExpr) Type() sql.Type { return types.LongText }
func (x *concatExpr) String() string {
	parts := make([]string, len(x.args))
	for i, a := range x.args {
		parts[i] = a.x.String()
	}
	return "concat(" + strings.Join(parts, ", ") + ")"
}
func (x *concatExpr) mayFail() bool {
	for _, a := range x.args {
		if mayFail(a.x) {
			return true
		}
	}
	return false
}

func (x *concatExpr) Eval(ctx *sql.Context, b *Batch) (*Column, error) {
	n := b.N
	cols := make([]*Column, len(x.args))
	var nulls []bool
	for i, a := range x.args {
		if a.konst {
			if a.null {
				return allNull(types.LongText, n), nil
			}
			continue
		}
		c, err := a.x.Eval(ctx, b)
		if err != nil {
			return nil, err
		}
		if c.Kind == KindNull {
			return allNull(types.LongText, n), nil
		}
		if c.Kind != KindString && !(c.Kind == KindInt && concatInteger(c.Type)) {
			return x.slow(ctx, n, cols, i, b)
		}
		cols[i] = c
		nulls = orNulls(nulls, c.Nulls)
	}
	out := &Column{Kind: KindString, Type: types.LongText, S: make([]string, n), Nulls: nulls}
	var buf []byte
	prev := -1 // the last row concatenated
	for r := range n {
		if nulls != nil && nulls[r] {
			continue
		}
		// Runs of equal inputs (a week's rows) share one string.
		if prev >= 0 && x.sameInputs(cols, prev, r) {
			out.S[r] = out.S[prev]
			continue
		}
		buf = buf[:0]
		for i, a := range x.args {
			switch {
			case a.konst:
				buf = append(buf, a.s...)
			case cols[i].Kind == KindInt:
				buf = strconv.AppendInt(buf, cols[i].I[r], 10)
			default:
				buf = append(buf, cols[i].S[r]...)
			}
		}
		out.S[r] = string(buf)
		prev = r
	}
	return out, nil
}

// sameInputs reports whether rows a and b have the same argument values.
func (x *concatExpr) sameInputs(cols []*Column, a, b int) bool {
	for _, c := range cols {
		if c == nil {
			continue // a constant
		}
		if c.Kind == KindInt {
			if c.I[a] != c.I[b] {
				return false
			}
		} else if c.S[a] != c.S[b] {
			return false
		}
	}
	return true
}

// slow finishes a batch in which argument i's column is not KindString
// (an Eval child's values): each value as go-mysql-server converts it.
func (x *concatExpr) slow(ctx *sql.Context, n int, cols []*Column, from int, b *Batch) (*Column, error) {
	for i := from; i < len(x.args); i++ {
		if x.args[i].konst {
			continue
		}
		c, err := x.args[i].x.Eval(ctx, b)
		if err != nil {
			return nil, err
		}
		cols[i] = c
	}
	out := NewColumn(types.LongText, n)
	var sb strings.Builder
rows:
	for r := range n {
		sb.Reset()
		for i, a := range x.args {
			v := a.v
			if !a.konst {
				v = cols[i].Value(r)
			}
			if v == nil {
				out.AppendNull()
				continue rows
			}
			s, _, err := types.ConvertToCollatedString(ctx, v, a.x.Type())
			if err != nil {
				return nil, err
			}
			sb.WriteString(s)
		}
		out.Append(sb.String())
	}
	return out, nil
}

// likeExpr is x LIKE a constant pattern.
type likeExpr struct {
	x       Expr
	pattern string
	m       expression.LikeMatcher
	// The byte-comparison form, when fast: s == lit, HasPrefix,
	// HasSuffix or Contains by the % at the pattern's ends.
	fast, pre, suf bool
	lit            string
	fb             *nodeEval
}

func compileLike(ctx *sql.Context, c *Compiler, e sql.Expression) (Expr, error) {
	l := e.(*expression.Like)
	if !types.IsTextOnly(l.Left().Type(ctx)) {
		return nil, nil
	}
	pv, ok := foldConst(ctx, l.Right())
	pattern, isStr := pv.(string)
	if !ok || !isStr {
		return nil, nil
	}
	escape := '\\'
	if l.Escape != nil {
		ev, ok := foldConst(ctx, l.Escape)
		es, isStr := ev.(string)
		if !ok || !isStr || utf8.RuneCountInString(es) != 1 {
			return nil, nil
		}
		escape = []rune(es)[0]
	}
	o, err := compileOperand(ctx, c, l.Left())
	if err != nil || o.konst || KindOf(o.x.Type()) != KindString {
		return nil, err
	}
	collation, _ := l.CollationCoercibility(ctx)
	m, err := expression.ConstructLikeMatcher(collation, pattern, escape)
	if err != nil {
		return nil, nil
	}
	x := &likeExpr{x: o.x, pattern: pattern, m: m, fb: fallback(ctx, e, o, operand{konst: true})}
	if runeOrder(collation) {
		x.simplify(escape)
	}
	return x, nil
}

// simplify finds the byte-comparison form of a pattern of literal text
// with % only at its ends (see the file comment for why it is exact).
func (x *likeExpr) simplify(escape rune) {
	p := x.pattern
	pre := strings.HasSuffix(p, "%") // text% : a prefix
	p = strings.TrimRight(p, "%")
	suf := strings.HasPrefix(p, "%")
	p = strings.TrimLeft(p, "%")
	if p == "" && (pre || suf) {
		return // '%' alone and the like: the matcher is fast enough
	}
	if strings.ContainsAny(p, "%_") || strings.ContainsRune(p, escape) ||
		!utf8.ValidString(p) || strings.ContainsRune(p, utf8.RuneError) {
		return
	}
	x.fast, x.pre, x.suf, x.lit = true, pre, suf, p
}

func (x *likeExpr) Type() sql.Type { return boolType }
func (x *likeExpr) String() string { return "(" + x.x.String() + " LIKE '" + x.pattern + "')" }
func (x *likeExpr) mayFail() bool  { return mayFail(x.x) }
func (x *likeExpr) Eval(ctx *sql.Context, b *Batch) (*Column, error) {
	c, err := x.x.Eval(ctx, b)
	if err != nil {
		return nil, err
	}
	n := b.N
	if c.Kind == KindNull {
		return allNull(boolType, n), nil
	}
	if c.Kind != KindString {
		return x.fb.eval(ctx, n, c, nil)
	}
	out := newBoolCol(n, c.Nulls)
	ss := c.S[:n]
	switch {
	case !x.fast:
		for r, s := range ss {
			out.I[r] = b2i(x.m.Match(s))
		}
	default:
		// A byte match is go-mysql-server's match when the string is
		// clean UTF-8; its matcher gives up (no match) at the first
		// U+FFFD or malformed byte it reads, and it reads all of a
		// matching string, so a byte match of an unclean string is
		// decided by the matcher itself. No byte match means no match.
		for r, s := range ss {
			var hit bool
			switch {
			case x.pre && x.suf:
				hit = strings.Contains(s, x.lit)
			case x.pre:
				hit = strings.HasPrefix(s, x.lit)
			case x.suf:
				hit = strings.HasSuffix(s, x.lit)
			default:
				hit = s == x.lit
			}
			if hit && !cleanUTF8(s) {
				hit = x.m.Match(s)
			}
			out.I[r] = b2i(hit)
		}
	}
	zeroNulls(out)
	return out, nil
}

// cleanUTF8 reports whether s is valid UTF-8 without U+FFFD: what
// go-mysql-server's LIKE matcher reads without giving up.
func cleanUTF8(s string) bool {
	for i := 0; i < len(s); {
		if s[i] < utf8.RuneSelf {
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError {
			return false
		}
		i += size
	}
	return true
}

// substrExpr is SUBSTRING(x, start[, length]) with constant positions.
type substrExpr struct {
	x             Expr
	start, length int64
	hasLen        bool
	typ           sql.Type
	fb            *nodeEval
}

func compileSubstring(ctx *sql.Context, c *Compiler, e sql.Expression) (Expr, error) {
	f := e.(*function.Substring)
	if !types.IsTextOnly(f.Str.Type(ctx)) {
		return nil, nil
	}
	pos := func(p sql.Expression) (int64, bool) {
		v, ok := foldConst(ctx, p)
		if !ok || valueKind(v) != KindInt {
			return 0, false
		}
		i, _ := IntOf(v)
		return i, true
	}
	start, ok := pos(f.Start)
	if !ok {
		return nil, nil
	}
	x := &substrExpr{start: start, typ: e.Type(ctx)}
	if f.Len != nil {
		if x.length, ok = pos(f.Len); !ok {
			return nil, nil
		}
		x.hasLen = true
	}
	o, err := compileOperand(ctx, c, f.Str)
	if err != nil || o.konst || KindOf(o.x.Type()) != KindString {
		return nil, err
	}
	x.x = o.x
	consts := []operand{o, {konst: true}, {konst: true}}
	x.fb = fallback(ctx, e, consts...)
	return x, nil
}

func (x *substrExpr) Type() sql.Type { return x.typ }
func (x *substrExpr) String() string {
	s := "substring(" + x.x.String() + ", " + strconv.FormatInt(x.start, 10)
	if x.hasLen {
		s += ", " + strconv.FormatInt(x.length, 10)
	}
	return s + ")"
}
func (x *substrExpr) mayFail() bool { return mayFail(x.x) }

func (x *substrExpr) Eval(ctx *sql.Context, b *Batch) (*Column, error) {
	c, err := x.x.Eval(ctx, b)
	if err != nil {
		return nil, err
	}
	n := b.N
	if c.Kind != KindString {
		return x.fb.eval(ctx, n, c)
	}
	out := &Column{Kind: KindString, Type: x.typ, S: make([]string, n), Nulls: c.Nulls}
	for r, s := range c.S[:n] {
		if c.Nulls != nil && c.Nulls[r] {
			continue
		}
		ascii := true
		for i := 0; i < len(s); i++ {
			if s[i] >= utf8.RuneSelf {
				ascii = false
				break
			}
		}
		if !ascii && !utf8.ValidString(s) {
			return x.fb.eval(ctx, n, c)
		}
		count := int64(len(s))
		if !ascii {
			count = int64(utf8.RuneCountInString(s))
		}
		length := count
		if x.hasLen {
			length = x.length
		}
		from := x.start - 1
		if x.start < 0 {
			from = count + x.start
		}
		if from < 0 || from >= count || length <= 0 {
			continue // ""
		}
		length = min(length, count-from)
		if ascii {
			out.S[r] = s[from : from+length]
			continue
		}
		// Byte offsets of runes from and from+length.
		lo, hi := len(s), len(s)
		k := int64(0)
		for i := range s {
			if k == from {
				lo = i
			}
			if k == from+length {
				hi = i
				break
			}
			k++
		}
		out.S[r] = s[lo:hi]
	}
	return out, nil
}

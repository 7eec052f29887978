package native

// Differential tests of the vectorized expression compilers: every
// expression is evaluated over random batches both by its compiled Expr
// and by go-mysql-server's Eval row by row (evalExpr, the fallback), and
// the two columns must hold the same values of the same Go types, give
// the same error (or none) and the same number of warnings.

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/expression"
	"github.com/dolthub/go-mysql-server/sql/expression/function"
	"github.com/dolthub/go-mysql-server/sql/types"
	"github.com/dolthub/vitess/go/sqltypes"
	"github.com/shopspring/decimal"
)

// exprCols is the schema of the random batches.
var exprCols = []struct {
	name string
	typ  sql.Type
}{
	{"i64", types.Int64},
	{"i32", types.Int32},
	{"u32", types.Uint32},
	{"f64", types.Float64},
	{"f32", types.Float32},
	{"s", types.Text},
	{"s2", types.MustCreateString(sqltypes.VarChar, 64, sql.Collation_utf8mb4_0900_bin)},
	{"sci", types.MustCreateString(sqltypes.Text, types.TextBlobMax, sql.Collation_utf8mb4_general_ci)},
	{"t", types.DatetimeMaxPrecision},
	{"t0", types.Datetime},
	{"d", types.Date},
	{"ts", types.TimestampMaxPrecision},
	{"b", types.Boolean},
	{"dec", types.MustCreateDecimalType(10, 2)},
	{"i8", types.Int8},
	{"ds", types.Text},                                      // strings that look like dates and numbers
	{"sb", types.CreateLongText(sql.Collation_utf8mb4_bin)}, // arb's events table's strings
}

func colIdx(name string) int {
	for i, c := range exprCols {
		if c.name == name {
			return i
		}
	}
	panic(name)
}

func gf(name string) *expression.GetField {
	i := colIdx(name)
	return expression.NewGetField(i, exprCols[i].typ, name, true)
}

var (
	testStrings = []string{"", "a", "A", "abc", "Abc", "ABC", "abd", "Purchase", "purchase", "Page View",
		"é", "É", "e", "\xff", "\uFFFD", "a\xc3", "a\xc3\xa9", "a\xc3b", "12", " 5", "5abc", "zz", "z",
		"%", "_", "a%b", "a_c", "\\", "Paris", "paris", "日本", "abc\xff", "Purchase\uFFFD", "\xffase"}
	testDateStrings = []string{"2024-06-01", "2024-06-01 00:00:00", "2024-06-01 00:00:00.000000",
		"2024-06-15 12:30:00.5", "2024-06-01T10:00:00", "abc", "2024-13-01", "", "2024-06-01 25:00:00",
		"2024-06-30 23:59:59.999999", "20240601", "2024-6-1", "1000-01-01", "9999-12-31 23:59:59"}
	testBase = time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)
)

func randTime(rng *rand.Rand) time.Time {
	switch rng.IntN(12) {
	case 0:
		return testBase
	case 1:
		return time.Date(1000, 1, 1, 0, 0, 0, 0, time.UTC)
	case 2:
		return time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC)
	case 3:
		return time.Date(1969, 12, 31, 23, 59, 59, 500000000, time.UTC)
	}
	return testBase.Add(time.Duration(rng.IntN(40*24*3600))*time.Second - 5*24*time.Hour).
		Add(time.Duration(rng.IntN(3)*rng.IntN(1000000)) * time.Microsecond)
}

func randValue(rng *rand.Rand, name string) any {
	if rng.IntN(7) == 0 {
		return nil
	}
	ints := []int64{0, 1, -1, 2, 5, -5, 17, 127, -128, 200, 255, 256, 1 << 31, -(1 << 31), 1 << 40,
		math.MaxInt64, math.MinInt64, 1<<53 + 1, 1 << 53}
	floats := []float64{0, math.Copysign(0, -1), 0.5, 1, -1, 50.5, 1e300, -1e-300, 1e-20, 3.14159, 0.1,
		1e40, 1e15 + 0.5, 2.5, -2.5}
	switch name {
	case "i64":
		if rng.IntN(2) == 0 {
			return ints[rng.IntN(len(ints))]
		}
		return int64(rng.IntN(41) - 20)
	case "i32":
		if rng.IntN(3) == 0 {
			return int32(ints[rng.IntN(len(ints))])
		}
		return int32(rng.IntN(41) - 20)
	case "i8":
		return int8(rng.IntN(256) - 128)
	case "u32":
		if rng.IntN(3) == 0 {
			return uint32(math.MaxUint32)
		}
		return uint32(rng.IntN(300))
	case "f64":
		if rng.IntN(2) == 0 {
			return floats[rng.IntN(len(floats))]
		}
		return math.Round(rng.Float64()*20000-10000) / 100
	case "f32":
		f32 := []float32{0, 0.5, 1, -1, 50.5, 0.1, 3.14159, 2.5, -2.5, 1e20, 1e-20}
		return f32[rng.IntN(len(f32))]
	case "s", "s2", "sci", "sb":
		return testStrings[rng.IntN(len(testStrings))]
	case "ds":
		return testDateStrings[rng.IntN(len(testDateStrings))]
	case "t", "ts":
		return randTime(rng)
	case "t0":
		return randTime(rng).Truncate(time.Second)
	case "d":
		return randTime(rng).Truncate(24 * time.Hour)
	case "b":
		return int8(rng.IntN(2))
	case "dec":
		return decimal.New(int64(rng.IntN(20001)-10000), -2)
	}
	panic(name)
}

// randBatch is n random rows of exprCols.
func randBatch(rng *rand.Rand, n int) *Batch {
	sch := make(sql.Schema, len(exprCols))
	for i, c := range exprCols {
		sch[i] = &sql.Column{Name: c.name, Type: c.typ, Nullable: true}
	}
	rows := make([]sql.Row, n)
	for r := range rows {
		row := make(sql.Row, len(exprCols))
		for i, c := range exprCols {
			row[i] = randValue(rng, c.name)
		}
		rows[r] = row
	}
	return BatchFromRows(sch, rows)
}

func exprSchema() sql.Schema {
	sch := make(sql.Schema, len(exprCols))
	for i, c := range exprCols {
		sch[i] = &sql.Column{Name: c.name, Type: c.typ, Nullable: true}
	}
	return sch
}

// newTestCtx is a session in go-mysql-server's default sql_mode (strict).
func newTestCtx() *sql.Context {
	return sql.NewContext(context.Background(), sql.WithSession(sql.NewBaseSession()))
}

// lenientCtx is a session whose sql_mode is not strict: string
// conversions truncate invalid UTF-8 instead of failing.
func lenientCtx() *sql.Context {
	ctx := newTestCtx()
	if err := ctx.SetSessionVariable(ctx, "sql_mode", ""); err != nil {
		panic(err)
	}
	return ctx
}

// normalize prints a value with its Go type; times as UTC instants.
func normalize(v any) string {
	if t, ok := v.(time.Time); ok {
		return "time " + t.UTC().Format(time.RFC3339Nano)
	}
	if d, ok := v.(decimal.Decimal); ok {
		return "decimal " + d.String()
	}
	if b, ok := v.([]byte); ok {
		return fmt.Sprintf("[]byte %q", b)
	}
	return fmt.Sprintf("%T %#v", v, v)
}

// diffResult is how an expression's compiled and Eval results differ
// over b ("" when they do not).
func diffResult(t *testing.T, e sql.Expression, b *Batch, lenient bool) (native bool, diff string) {
	t.Helper()
	newCtx := newTestCtx
	if lenient {
		newCtx = lenientCtx
	}
	ctx := newCtx()
	c := &Compiler{In: exprSchema()}
	x, err := c.Compile(ctx, e)
	if err != nil {
		return false, fmt.Sprintf("compile: %v", err)
	}
	native = Native(x)
	ctx.ClearWarnings()
	got, gerr := x.Eval(ctx, b)
	gw := ctx.Session.WarningCount()
	ctx2 := newCtx()
	ref := &evalExpr{e: e, typ: e.Type(ctx2)}
	want, werr := ref.Eval(ctx2, b)
	ww := ctx2.Session.WarningCount()
	if (gerr != nil) != (werr != nil) {
		return native, fmt.Sprintf("error: got %v, want %v", gerr, werr)
	}
	if gerr != nil {
		return native, ""
	}
	if gw != ww {
		return native, fmt.Sprintf("warnings: got %d, want %d", gw, ww)
	}
	if got.Len() != b.N {
		return native, fmt.Sprintf("got %d values for %d rows", got.Len(), b.N)
	}
	for r := range b.N {
		g, w := normalize(got.Value(r)), normalize(want.Value(r))
		if g != w {
			return native, fmt.Sprintf("row %d (%s): got %s, want %s", r, rowString(b, r), g, w)
		}
	}
	return native, ""
}

func rowString(b *Batch, r int) string {
	parts := make([]string, len(b.Cols))
	for i, c := range b.Cols {
		parts[i] = exprCols[i].name + "=" + fmt.Sprintf("%q", fmt.Sprint(c.Value(r)))
	}
	return strings.Join(parts, " ")
}

// checkExprs runs every expression over several random batches and
// fails on any difference; it returns how many compiled natively.
func checkExprs(t *testing.T, seed uint64, es []sql.Expression) int {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 7))
	// The last batch runs in a lenient sql_mode.
	batches := []*Batch{randBatch(rng, 100), randBatch(rng, 1), randBatch(rng, 40)}
	natives := 0
	for _, e := range es {
		native := false
		for i, b := range batches {
			n, diff := diffResult(t, e, b, i == len(batches)-1)
			native = n
			if diff != "" {
				t.Fatalf("%s (native %v, lenient %v): %s", e, n, i == len(batches)-1, diff)
			}
		}
		if native {
			natives++
		}
	}
	return natives
}

// requireExprNative fails unless each expression compiles without
// go-mysql-server's Eval anywhere.
func requireExprNative(t *testing.T, es ...sql.Expression) {
	t.Helper()
	ctx := newTestCtx()
	c := &Compiler{In: exprSchema()}
	for _, e := range es {
		x, err := c.Compile(ctx, e)
		if err != nil {
			t.Fatalf("%s: %v", e, err)
		}
		if !Native(x) || strings.Contains(x.String(), "eval(") {
			t.Fatalf("%s compiled to %s, want native", e, x)
		}
	}
}

func lit(v any, t sql.Type) *expression.Literal { return expression.NewLiteral(v, t) }
func strLit(s string) *expression.Literal {
	return lit(s, types.CreateLongText(sql.Collation_utf8mb4_0900_bin))
}
func ciLit(s string) *expression.Literal {
	return lit(s, types.CreateLongText(sql.Collation_utf8mb4_general_ci))
}

func decLit(s string) *expression.Literal {
	d := decimal.RequireFromString(s)
	prec := max(len(d.Coefficient().String()), int(-d.Exponent())+1)
	return lit(d, types.MustCreateDecimalType(uint8(prec), uint8(max(0, -d.Exponent()))))
}

// testLiterals are constants of every class the planbuilder makes.
func testLiterals() []sql.Expression {
	ls := []sql.Expression{
		lit(int8(5), types.Int8), lit(int8(-1), types.Int8), lit(int8(0), types.Int8),
		lit(uint8(200), types.Uint8), lit(int16(-300), types.Int16), lit(uint16(60000), types.Uint16),
		lit(int32(-70000), types.Int32), lit(uint32(4000000000), types.Uint32),
		lit(int64(1<<40), types.Int64), lit(int64(math.MinInt64), types.Int64),
		lit(uint64(math.MaxUint64), types.Uint64),
		lit(0.5, types.Float64), lit(-1.0, types.Float64), lit(1e300, types.Float64), lit(50.5, types.Float64),
		decLit("50.5"), decLit("5"), decLit("0.1"), decLit("-2.50"), decLit("0.10000000000000001"),
		decLit("0.000000000000001"), decLit("123456789012345678901234567890123456789"),
		lit(nil, types.Null),
		lit(testBase, types.DatetimeMaxPrecision), lit(testBase.Add(36*time.Hour), types.Datetime),
		lit(testBase, types.Date),
		lit(testBase.Add(time.Hour), types.LongText), // TIMESTAMP('…') folded: a time typed LONGTEXT
		lit(true, types.Boolean),
	}
	for _, s := range testStrings {
		ls = append(ls, strLit(s))
	}
	for _, s := range testDateStrings {
		ls = append(ls, strLit(s))
	}
	return ls
}

func comparisons(l, r sql.Expression) []sql.Expression {
	return []sql.Expression{
		expression.NewEquals(l, r), expression.NewNullSafeEquals(l, r),
		expression.NewLessThan(l, r), expression.NewLessThanOrEqual(l, r),
		expression.NewGreaterThan(l, r), expression.NewGreaterThanOrEqual(l, r),
		expression.NewNot(expression.NewEquals(l, r)),
	}
}

func TestExprCompareColumnLiteral(t *testing.T) {
	// Every column against every literal, on both sides, by three of the
	// seven operators chosen at random (all seven would take minutes
	// under -race for little more coverage).
	rng := rand.New(rand.NewPCG(1, 1))
	var es []sql.Expression
	for _, c := range exprCols {
		for _, l := range testLiterals() {
			lc, cl := comparisons(gf(c.name), l), comparisons(l, gf(c.name))
			for range 3 {
				es = append(es, lc[rng.IntN(len(lc))], cl[rng.IntN(len(cl))])
			}
		}
	}
	n := checkExprs(t, 1, es)
	t.Logf("%d of %d comparisons with a literal native", n, len(es))
	requireExprNative(t,
		expression.NewEquals(gf("i64"), lit(int8(5), types.Int8)),
		expression.NewGreaterThan(gf("i64"), lit(uint8(200), types.Uint8)),
		expression.NewLessThan(gf("i32"), lit(int64(1<<40), types.Int64)),
		expression.NewGreaterThan(gf("f64"), decLit("50.5")),
		expression.NewGreaterThanOrEqual(gf("f64"), lit(int8(5), types.Int8)),
		expression.NewEquals(gf("i64"), decLit("5")),
		expression.NewEquals(gf("s"), strLit("Purchase")),
		expression.NewNullSafeEquals(gf("s"), strLit("Purchase")),
		expression.NewLessThan(gf("s2"), strLit("abc")),
		expression.NewEquals(gf("sb"), strLit("Purchase")),
		expression.NewGreaterThanOrEqual(gf("sb"), strLit("abc")),
		expression.NewGreaterThanOrEqual(gf("t"), strLit("2024-06-01")),
		expression.NewLessThan(gf("t"), strLit("2024-06-01 00:00:00")),
		expression.NewLessThan(gf("t"), strLit("2024-06-01 00:00:00.000000")),
		expression.NewGreaterThanOrEqual(strLit("2024-06-15 12:30:00.5"), gf("t0")),
		expression.NewGreaterThanOrEqual(gf("d"), strLit("2024-06-01")),
		expression.NewGreaterThanOrEqual(gf("ts"), lit(testBase, types.Datetime)),
		expression.NewLessThan(gf("t"), lit(testBase, types.LongText)),
		expression.NewNullSafeEquals(gf("i64"), lit(nil, types.Null)),
	)
}

func TestExprCompareColumns(t *testing.T) {
	var es []sql.Expression
	for _, a := range exprCols {
		for _, b := range exprCols {
			es = append(es, comparisons(gf(a.name), gf(b.name))...)
		}
	}
	n := checkExprs(t, 2, es)
	t.Logf("%d of %d column comparisons native", n, len(es))
	requireExprNative(t,
		expression.NewEquals(gf("i64"), gf("i32")),
		expression.NewLessThan(gf("i64"), gf("f64")),
		expression.NewLessThan(gf("i64"), gf("u32")),
		expression.NewGreaterThan(gf("s"), gf("s2")),
		expression.NewLessThan(gf("sb"), gf("s")),
		expression.NewNullSafeEquals(gf("s"), gf("s")),
		expression.NewLessThanOrEqual(gf("t"), gf("t0")),
		expression.NewLessThanOrEqual(gf("d"), gf("ts")),
	)
}

func TestExprStrCmp(t *testing.T) {
	// strCmp against the rune-by-rune definition, over every pair of
	// test strings and their concatenations.
	var ss []string
	for _, a := range testStrings {
		for _, b := range testStrings[:8] {
			ss = append(ss, a+b, b+a)
		}
	}
	ss = append(ss, testStrings...)
	for _, a := range ss {
		for _, b := range ss {
			if got, want := strCmp(a, b), strCmpRunes(a, b); got != want {
				t.Fatalf("strCmp(%q, %q) = %d, want %d", a, b, got, want)
			}
		}
	}
}

func TestExprBetweenInIs(t *testing.T) {
	ctx := newTestCtx()
	var es []sql.Expression
	lits := testLiterals()
	rng := rand.New(rand.NewPCG(3, 3))
	for _, c := range exprCols {
		for range 15 {
			lo, hi := lits[rng.IntN(len(lits))], lits[rng.IntN(len(lits))]
			es = append(es, expression.NewBetween(gf(c.name), lo, hi))
		}
		es = append(es, expression.NewIsNull(gf(c.name)), expression.NewNot(expression.NewIsNull(gf(c.name))),
			expression.NewIsTrue(gf(c.name)), expression.NewIsFalse(gf(c.name)))
		for range 12 {
			var tup []sql.Expression
			for range 1 + rng.IntN(12) {
				tup = append(tup, lits[rng.IntN(len(lits))])
			}
			es = append(es, expression.NewInTuple(gf(c.name), expression.NewTuple(tup...)))
			if h, err := expression.NewHashInTuple(ctx, gf(c.name), expression.NewTuple(tup...)); err == nil {
				es = append(es, h)
			}
		}
	}
	// Lists of one class, the form BI tools send.
	classes := map[string][]sql.Expression{
		"i64": {lit(int8(5), types.Int8), lit(uint8(200), types.Uint8), lit(int8(-1), types.Int8), lit(nil, types.Null)},
		"f64": {lit(int8(5), types.Int8), lit(0.5, types.Float64), lit(50.5, types.Float64)},
		"s":   {strLit("Purchase"), strLit("abc"), strLit(""), strLit("é")},
		"s2":  {strLit("Purchase"), strLit("abc"), lit(nil, types.Null)},
		"sb":  {strLit("Purchase"), strLit("Login"), strLit("é")},
		"t":   {strLit("2024-06-01"), strLit("2024-06-01 00:00:00"), lit(testBase, types.Datetime)},
	}
	var must []sql.Expression
	for name, tup := range classes {
		for k := 1; k <= len(tup); k++ {
			in := expression.NewInTuple(gf(name), expression.NewTuple(tup[:k]...))
			h, err := expression.NewHashInTuple(ctx, gf(name), expression.NewTuple(tup[:k]...))
			if err != nil {
				t.Fatal(err)
			}
			es = append(es, in, h)
			must = append(must, in, h)
		}
	}
	// Literals in a connection's case-insensitive collation
	// (go-sql-driver's utf8mb4_general_ci): HashInTuple hashes by the
	// column's collation or utf8mb4_0900_bin, so it is native; InTuple
	// resolves the two literals' collations and stays Eval's.
	for _, name := range []string{"s", "sb"} {
		tup := expression.NewTuple(ciLit("Purchase"), ciLit("abc"), ciLit("É"), ciLit("purchase"))
		h, err := expression.NewHashInTuple(ctx, gf(name), tup)
		if err != nil {
			t.Fatal(err)
		}
		es = append(es, h, expression.NewInTuple(gf(name), tup))
		must = append(must, h)
	}
	n := checkExprs(t, 3, es)
	t.Logf("%d of %d BETWEEN/IN/IS native", n, len(es))
	requireExprNative(t, must...)
	requireExprNative(t,
		expression.NewBetween(gf("t"), strLit("2024-06-01"), strLit("2024-06-30 23:59:59")),
		expression.NewBetween(gf("i64"), lit(int8(-1), types.Int8), lit(int8(5), types.Int8)),
		expression.NewIsNull(gf("s")), expression.NewIsTrue(gf("b")), expression.NewIsFalse(gf("f64")),
	)
}

// randPredicate is a random boolean-ish expression over exprCols.
func randPredicate(rng *rand.Rand, depth int) sql.Expression {
	lits := testLiterals()
	if depth == 0 || rng.IntN(3) == 0 {
		switch rng.IntN(5) {
		case 0:
			return gf([]string{"b", "i64", "f64", "s", "ds", "t", "i8", "dec"}[rng.IntN(8)])
		case 1:
			return lits[rng.IntN(len(lits))]
		}
		c := exprCols[rng.IntN(len(exprCols))].name
		cmps := comparisons(gf(c), lits[rng.IntN(len(lits))])
		return cmps[rng.IntN(len(cmps))]
	}
	l, r := randPredicate(rng, depth-1), randPredicate(rng, depth-1)
	switch rng.IntN(6) {
	case 0, 1:
		return expression.NewAnd(l, r)
	case 2, 3:
		return expression.NewOr(l, r)
	case 4:
		return expression.NewXor(l, r)
	}
	return expression.NewNot(l)
}

func TestExprLogic(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	var es []sql.Expression
	for range 1200 {
		es = append(es, randPredicate(rng, 3))
	}
	n := checkExprs(t, 4, es)
	t.Logf("%d of %d logical expressions native", n, len(es))
	requireExprNative(t,
		expression.NewAnd(expression.NewGreaterThanOrEqual(gf("t"), strLit("2024-06-01")),
			expression.NewLessThan(gf("t"), strLit("2024-06-08"))),
		expression.NewOr(expression.NewIsNull(gf("s")), gf("b")),
		expression.NewXor(gf("b"), expression.NewEquals(gf("s"), strLit("abc"))),
		expression.NewNot(gf("f64")),
	)
}

// numeric operands for arithmetic.
func randNumeric(rng *rand.Rand, depth int) sql.Expression {
	if depth == 0 || rng.IntN(3) == 0 {
		switch rng.IntN(3) {
		case 0:
			ls := []sql.Expression{lit(int8(5), types.Int8), lit(int8(0), types.Int8), lit(int8(-1), types.Int8),
				lit(uint8(200), types.Uint8), lit(int64(math.MaxInt64), types.Int64), lit(0.5, types.Float64),
				lit(0.0, types.Float64), decLit("2.5"), lit(nil, types.Null), strLit("3")}
			return ls[rng.IntN(len(ls))]
		}
		return gf([]string{"i64", "i32", "u32", "f64", "f32", "i8", "b", "dec", "s"}[rng.IntN(9)])
	}
	l, r := randNumeric(rng, depth-1), randNumeric(rng, depth-1)
	switch rng.IntN(6) {
	case 0:
		return expression.NewPlus(l, r)
	case 1:
		return expression.NewMinus(l, r)
	case 2:
		return expression.NewMult(l, r)
	case 3:
		return expression.NewDiv(l, r)
	case 4:
		return expression.NewMod(l, r)
	}
	return expression.NewUnaryMinus(l)
}

func TestExprArith(t *testing.T) {
	ctx := newTestCtx()
	rng := rand.New(rand.NewPCG(5, 5))
	var es []sql.Expression
	for range 2500 {
		es = append(es, randNumeric(rng, 2))
	}
	for _, a := range []string{"i64", "i32", "u32", "f64", "f32", "i8", "b"} {
		for _, b := range []string{"i64", "i32", "u32", "f64", "f32", "i8", "b"} {
			es = append(es, expression.NewPlus(gf(a), gf(b)), expression.NewMinus(gf(a), gf(b)),
				expression.NewMult(gf(a), gf(b)), expression.NewDiv(gf(a), gf(b)), expression.NewMod(gf(a), gf(b)))
		}
	}
	for range 300 {
		var args []sql.Expression
		for range 1 + rng.IntN(3) {
			args = append(args, randNumeric(rng, 1))
		}
		es = append(es, mustFunc(function.NewLeast(ctx, args...)), mustFunc(function.NewGreatest(ctx, args...)))
	}
	n := checkExprs(t, 5, es)
	t.Logf("%d of %d arithmetic expressions native", n, len(es))
	requireExprNative(t,
		expression.NewMult(gf("i64"), lit(int8(2), types.Int8)),
		expression.NewPlus(gf("i64"), gf("i32")),
		expression.NewMinus(lit(int8(5), types.Int8), gf("u32")),
		expression.NewMult(gf("f64"), lit(int8(100), types.Int8)),
		expression.NewDiv(gf("f64"), lit(int8(100), types.Int8)),
		expression.NewDiv(gf("f64"), gf("i64")),
		expression.NewMod(gf("f64"), lit(int8(7), types.Int8)),
		expression.NewUnaryMinus(gf("f64")), expression.NewUnaryMinus(gf("i64")),
		expression.NewGreaterThan(expression.NewMult(gf("f64"), lit(0.5, types.Float64)), lit(int8(10), types.Int8)),
		mustFunc(function.NewLeast(ctx, gf("i64"), lit(int8(50), types.Int8))),
		mustFunc(function.NewGreatest(ctx, gf("f64"), gf("i32"), lit(0.5, types.Float64))),
	)
}

// randValueExpr is a value of any class: columns, constants, arithmetic.
func randValueExpr(rng *rand.Rand) sql.Expression {
	lits := testLiterals()
	switch rng.IntN(4) {
	case 0:
		return lits[rng.IntN(len(lits))]
	case 1:
		return randNumeric(rng, 1)
	}
	return gf(exprCols[rng.IntN(len(exprCols))].name)
}

func TestExprCond(t *testing.T) {
	ctx := newTestCtx()
	rng := rand.New(rand.NewPCG(6, 6))
	var es []sql.Expression
	for range 300 {
		var brs []expression.CaseBranch
		for range 1 + rng.IntN(4) {
			brs = append(brs, expression.CaseBranch{Cond: randPredicate(rng, 1), Value: randValueExpr(rng)})
		}
		var els sql.Expression
		if rng.IntN(3) > 0 {
			els = randValueExpr(rng)
		}
		es = append(es, expression.NewCase(nil, brs, els))
		subject := randValueExpr(rng)
		var sbrs []expression.CaseBranch
		for range 1 + rng.IntN(3) {
			sbrs = append(sbrs, expression.CaseBranch{Cond: randValueExpr(rng), Value: randValueExpr(rng)})
		}
		es = append(es, expression.NewCase(subject, sbrs, els))
		es = append(es, function.NewIf(ctx, randPredicate(rng, 1), randValueExpr(rng), randValueExpr(rng)))
		es = append(es, function.NewIfNull(ctx, randValueExpr(rng), randValueExpr(rng)))
		es = append(es, function.NewNullIf(ctx, randValueExpr(rng), randValueExpr(rng)))
		args := []sql.Expression{randValueExpr(rng), randValueExpr(rng)}
		if rng.IntN(2) == 0 {
			args = append(args, randValueExpr(rng))
		}
		if co, err := function.NewCoalesce(ctx, args...); err == nil {
			es = append(es, co)
		}
	}
	n := checkExprs(t, 6, es)
	t.Logf("%d of %d conditional expressions native", n, len(es))
	coalesce, err := function.NewCoalesce(ctx, gf("s"), gf("s2"), strLit("none"))
	if err != nil {
		t.Fatal(err)
	}
	requireExprNative(t,
		expression.NewCase(nil, []expression.CaseBranch{
			{Cond: expression.NewEquals(gf("i64"), lit(int8(1), types.Int8)), Value: strLit("1")},
			{Cond: expression.NewLessThanOrEqual(gf("i64"), lit(int8(5), types.Int8)), Value: strLit("2-5")},
		}, strLit("6+")),
		expression.NewCase(gf("s"), []expression.CaseBranch{{Cond: strLit("abc"), Value: gf("f64")}}, lit(int8(0), types.Int8)),
		function.NewIf(ctx, expression.NewEquals(gf("s"), strLit("Purchase")), gf("f64"), lit(0.0, types.Float64)),
		function.NewIfNull(ctx, gf("f64"), lit(0.0, types.Float64)),
		function.NewIfNull(ctx, gf("s"), strLit("(none)")),
		function.NewNullIf(ctx, gf("i64"), lit(int8(0), types.Int8)),
		coalesce,
	)
}

func TestExprTime(t *testing.T) {
	ctx := newTestCtx()
	var es []sql.Expression
	formats := []string{"%Y-%m-%d", "%Y-%m", "%Y-%m-%d %H:00:00", "%Y-%m-%d %H:%i:%s", "%H", "%Y", "%y/%c/%e",
		"%M %b %W %a %j", "%T.%f", "%S", "week of %Y-%m-%d", "", "plain", "%Y-%m-%d %H:%i:00", "%x", "100%", "%%"}
	for _, name := range []string{"t", "t0", "d", "ts", "ds", "s", "i64"} {
		arg := gf(name)
		es = append(es, function.NewYear(ctx, arg), function.NewQuarter(ctx, arg), function.NewMonth(ctx, arg),
			function.NewDay(ctx, arg), function.NewHour(ctx, arg), function.NewMinute(ctx, arg),
			function.NewSecond(ctx, arg), function.NewDayOfWeek(ctx, arg), function.NewWeekday(ctx, arg),
			function.NewDayOfYear(ctx, arg), function.NewDate(ctx, arg), expression.NewConvert(arg, expression.ConvertToDate))
		for _, f := range formats {
			es = append(es, function.NewDateFormat(ctx, arg, strLit(f)))
		}
		// Week numbers in every mode (go-mysql-server's, once per day).
		es = append(es, mustFunc(function.NewYearWeek(ctx, arg)), mustFunc(function.NewWeek(ctx, arg)), function.NewWeekOfYear(ctx, arg))
		for mode := range 9 {
			m := lit(int64(mode), types.Int64)
			es = append(es, mustFunc(function.NewYearWeek(ctx, arg, m)), mustFunc(function.NewWeek(ctx, arg, m)))
		}
	}
	for _, a := range []sql.Expression{gf("t"), gf("t0"), gf("d"), gf("ts"), gf("ds"), strLit("2024-06-10"),
		strLit("2024-06-10 12:00:00.5"), strLit("bad"), lit(testBase, types.LongText), gf("i64")} {
		for _, b := range []sql.Expression{gf("t"), gf("d"), strLit("2024-06-01"), lit(nil, types.Null)} {
			es = append(es, function.NewDateDiff(ctx, a, b), function.NewDateDiff(ctx, b, a))
			for _, u := range []string{"MICROSECOND", "second", "MINUTE", "hour", "DAY", "week", "SQL_TSI_HOUR", "month", "year"} {
				es = append(es, function.NewTimestampDiff(ctx, strLit(u), a, b))
			}
		}
	}
	for _, name := range []string{"t", "t0", "d", "ts", "ds", "s", "i64"} {
		es = append(es, mustFunc(function.NewDatetime(ctx, gf(name))))
		es = append(es, mustFunc(function.NewDatetime(ctx, function.NewDateFormat(ctx, gf("t"), strLit("%Y-%m-01 00:00:00")))))
	}
	// Time zero and values outside the conversions' ranges.
	zero := lit(types.ZeroTime, types.DatetimeMaxPrecision)
	es = append(es, function.NewYear(ctx, zero), function.NewDayOfWeek(ctx, zero))
	n := checkExprs(t, 7, es)
	t.Logf("%d of %d date/time expressions native", n, len(es))
	var must []sql.Expression
	for _, name := range []string{"t", "t0", "d", "ts"} {
		arg := gf(name)
		must = append(must, function.NewYear(ctx, arg), function.NewMonth(ctx, arg), function.NewDay(ctx, arg),
			function.NewHour(ctx, arg), function.NewMinute(ctx, arg), function.NewDayOfWeek(ctx, arg),
			function.NewWeekday(ctx, arg), function.NewDate(ctx, arg),
			expression.NewConvert(arg, expression.ConvertToDate), function.NewDateFormat(ctx, arg, strLit("%Y-%m-%d %H:00:00")),
			function.NewDateDiff(ctx, arg, strLit("2024-06-01")), function.NewDateDiff(ctx, gf("t"), arg),
			function.NewTimestampDiff(ctx, strLit("SECOND"), arg, gf("t")),
			function.NewTimestampDiff(ctx, strLit("day"), strLit("2024-06-01"), arg),
			mustFunc(function.NewDatetime(ctx, arg)), mustFunc(function.NewYearWeek(ctx, arg)),
			mustFunc(function.NewWeek(ctx, arg, lit(int64(3), types.Int64))))
	}
	requireExprNative(t, append(must, mustFunc(function.NewDatetime(ctx, gf("ds"))),
		mustFunc(function.NewDatetime(ctx, function.NewDateFormat(ctx, gf("t"), strLit("%Y-%m-01 00:00:00")))))...)
}

// TestExprTimeZeroAndRange checks the rows go-mysql-server treats
// specially: the zero time and times outside DATETIME's range.
func TestExprTimeZeroAndRange(t *testing.T) {
	ctx := newTestCtx()
	sch := sql.Schema{{Name: "t", Type: types.DatetimeMaxPrecision, Nullable: true}}
	rows := []sql.Row{{types.ZeroTime}, {testBase}, {nil}, {time.Date(999, 12, 31, 23, 0, 0, 0, time.UTC)},
		{time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)}}
	b := BatchFromRows(sch, rows)
	arg := expression.NewGetField(0, types.DatetimeMaxPrecision, "t", true)
	for _, e := range []sql.Expression{
		function.NewYear(ctx, arg), function.NewWeekday(ctx, arg), function.NewDayOfWeek(ctx, arg),
		function.NewDate(ctx, arg), expression.NewConvert(arg, expression.ConvertToDate),
		function.NewDateFormat(ctx, arg, strLit("%Y-%m-%d")), function.NewDateDiff(ctx, arg, strLit("2024-06-01")),
		function.NewTimestampDiff(ctx, strLit("hour"), arg, strLit("2024-06-01")),
		mustFunc(function.NewDatetime(ctx, arg)), mustFunc(function.NewYearWeek(ctx, arg)),
		mustFunc(function.NewWeek(ctx, arg, lit(int64(1), types.Int64))), function.NewWeekOfYear(ctx, arg),
	} {
		x, err := (&Compiler{In: sch}).Compile(ctx, e)
		if err != nil {
			t.Fatal(err)
		}
		c1 := newTestCtx()
		got, gerr := x.Eval(c1, b)
		c2 := newTestCtx()
		want, werr := (&evalExpr{e: e, typ: e.Type(c2)}).Eval(c2, b)
		if (gerr != nil) != (werr != nil) || c1.Session.WarningCount() != c2.Session.WarningCount() {
			t.Fatalf("%s: err %v / %v, warnings %d / %d", e, gerr, werr, c1.Session.WarningCount(), c2.Session.WarningCount())
		}
		if gerr != nil {
			continue
		}
		for r := range b.N {
			if g, w := normalize(got.Value(r)), normalize(want.Value(r)); g != w {
				t.Fatalf("%s row %d: got %s, want %s", e, r, g, w)
			}
		}
	}
}

func TestExprString(t *testing.T) {
	ctx := newTestCtx()
	var es []sql.Expression
	patterns := []string{"abc", "a%", "%c", "%b%", "Purchase", "Pur%", "%ase", "%", "%%", "", "a_c", "_", "%é%",
		"é%", "a\\%b", "a\\_c", "A%", "%\xff%", "%\uFFFD%", "a%b%c", "%a%b%", "P%e", "Page View", "%View", "ab%"}
	for _, name := range []string{"s", "s2", "sci", "sb", "ds", "i64", "f64", "t"} {
		arg := gf(name)
		es = append(es, function.NewLower(ctx, arg), function.NewUpper(ctx, arg), function.NewLength(ctx, arg),
			function.NewCharLength(ctx, arg))
		for _, p := range patterns {
			es = append(es, expression.NewLike(arg, strLit(p), nil))
			es = append(es, expression.NewNot(expression.NewLike(arg, strLit(p), nil)))
		}
		es = append(es, expression.NewLike(arg, strLit("a|%"), strLit("|")))
		for _, pos := range [][]int64{{1, 3}, {2, 1}, {0, 2}, {-2, 5}, {-1, 1}, {3, 0}, {2, -1}, {1, 100}, {5, 2}, {-10, 2}} {
			es = append(es, mustFunc(function.NewSubstring(ctx, arg, lit(int8(pos[0]), types.Int8), lit(int8(pos[1]), types.Int8))))
			es = append(es, mustFunc(function.NewSubstring(ctx, arg, lit(int8(pos[0]), types.Int8))))
		}
		for _, other := range []sql.Expression{gf("s"), gf("s2"), strLit("-"), strLit(""), lit(nil, types.Null), gf("i64")} {
			if c, err := function.NewConcat(ctx, arg, other); err == nil {
				es = append(es, c)
			}
			if c, err := function.NewConcat(ctx, other, arg, strLit("!")); err == nil {
				es = append(es, c)
			}
		}
	}
	// Metabase's week grain prints YEARWEEK's integer.
	weekConcat := mustFunc(function.NewConcat(ctx, mustFunc(function.NewYearWeek(ctx, gf("t"))), strLit(" Sunday")))
	es = append(es, weekConcat)
	n := checkExprs(t, 8, es)
	t.Logf("%d of %d string expressions native", n, len(es))
	concat, err := function.NewConcat(ctx, gf("s"), strLit("-"), gf("s2"))
	if err != nil {
		t.Fatal(err)
	}
	requireExprNative(t, function.NewLower(ctx, gf("s")), function.NewUpper(ctx, gf("sci")),
		function.NewLength(ctx, gf("s")), function.NewCharLength(ctx, gf("s2")), concat, weekConcat,
		expression.NewLike(gf("s"), strLit("Pur%"), nil), expression.NewLike(gf("s"), strLit("%a_c%"), nil),
		expression.NewLike(gf("sci"), strLit("%view"), nil), expression.NewLike(gf("sb"), strLit("%View"), nil),
		mustFunc(function.NewSubstring(ctx, gf("sb"), lit(int8(1), types.Int8), lit(int8(3), types.Int8))))
	// LIKE under utf8mb4_0900_bin with a clean pattern takes the byte form.
	x, err := (&Compiler{In: exprSchema()}).Compile(ctx, expression.NewLike(gf("s"), strLit("%ase"), nil))
	if err != nil {
		t.Fatal(err)
	}
	if lx, ok := x.(*likeExpr); !ok || !lx.fast || !lx.suf || lx.pre {
		t.Fatalf("LIKE '%%ase' compiled to %#v, want the suffix form", x)
	}
}

func mustFunc(e sql.Expression, err error) sql.Expression {
	if err != nil {
		panic(err)
	}
	return e
}

// benchBatch is a batch of BatchSize time-ordered events, as a scan of
// the events table gives them.
func benchBatch() (*Batch, sql.Schema) {
	sch := sql.Schema{
		{Name: "time", Type: types.MustCreateDatetimeType(sqltypes.Datetime, 3), Nullable: true},
		{Name: "event", Type: types.CreateLongText(sql.Collation_utf8mb4_bin), Nullable: true},
		{Name: "amount", Type: types.Float64, Nullable: true},
		{Name: "n", Type: types.Int64, Nullable: true},
	}
	events := []string{"Signup", "Login", "Page View", "Purchase", "Search"}
	rows := make([]sql.Row, BatchSize)
	for r := range rows {
		var amount any
		if r%3 == 0 {
			amount = float64(r%1000) / 10
		}
		rows[r] = sql.Row{testBase.Add(time.Duration(r) * 7 * time.Second), events[r%len(events)], amount, int64(r % 20)}
	}
	return BatchFromRows(sch, rows), sch
}

func benchExpr(b *testing.B, native bool, build func(sch sql.Schema) sql.Expression) {
	batch, sch := benchBatch()
	ctx := newTestCtx()
	e := build(sch)
	var x Expr = &evalExpr{e: e, typ: e.Type(ctx)}
	if native {
		var err error
		if x, err = (&Compiler{In: sch}).Compile(ctx, e); err != nil || !Native(x) {
			b.Fatalf("%s: %v native %v", e, err, Native(x))
		}
	}
	b.ResetTimer()
	for range b.N {
		if _, err := x.Eval(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*BatchSize), "ns/row")
}

func benchField(sch sql.Schema, i int) *expression.GetField {
	return expression.NewGetField(i, sch[i].Type, sch[i].Name, true)
}

// BenchmarkExprFilter is a BI tool's filter: a time range given as
// strings and an event name, native and through go-mysql-server's Eval.
func BenchmarkExprFilter(b *testing.B) {
	build := func(sch sql.Schema) sql.Expression {
		return expression.NewAnd(expression.NewAnd(
			expression.NewGreaterThanOrEqual(benchField(sch, 0), strLit("2024-06-01 02:00:00")),
			expression.NewLessThan(benchField(sch, 0), strLit("2024-06-01 06:00:00.000000"))),
			expression.NewEquals(benchField(sch, 1), strLit("Purchase")))
	}
	b.Run("native", func(b *testing.B) { benchExpr(b, true, build) })
	b.Run("eval", func(b *testing.B) { benchExpr(b, false, build) })
}

// BenchmarkExprProject is a grouped report's select list: an hour
// bucket, a CASE and arithmetic.
func BenchmarkExprProject(b *testing.B) {
	ctx := newTestCtx()
	for _, tc := range []struct {
		name  string
		build func(sch sql.Schema) sql.Expression
	}{
		{"date_format", func(sch sql.Schema) sql.Expression {
			return function.NewDateFormat(ctx, benchField(sch, 0), strLit("%Y-%m-%d %H:00:00"))
		}},
		{"case", func(sch sql.Schema) sql.Expression {
			return expression.NewCase(nil, []expression.CaseBranch{
				{Cond: expression.NewEquals(benchField(sch, 3), lit(int8(1), types.Int8)), Value: strLit("1")},
				{Cond: expression.NewLessThanOrEqual(benchField(sch, 3), lit(int8(5), types.Int8)), Value: strLit("2-5")},
			}, strLit("6+"))
		}},
		{"arith", func(sch sql.Schema) sql.Expression {
			return expression.NewMult(function.NewIfNull(ctx, benchField(sch, 2), lit(0.0, types.Float64)), lit(int8(100), types.Int8))
		}},
	} {
		b.Run(tc.name+"/native", func(b *testing.B) { benchExpr(b, true, tc.build) })
		b.Run(tc.name+"/eval", func(b *testing.B) { benchExpr(b, false, tc.build) })
	}
}

package planner

// This file owns arb's date/time functions and its DIV operator, the ones
// BI tools' time grains send (Metabase, Grafana, Superset) where
// go-mysql-server is missing the function or answers differently from
// MySQL 8:
//
//   - added: MAKEDATE, MAKETIME, SEC_TO_TIME, PERIOD_ADD, PERIOD_DIFF
//     (registered through Functions);
//   - replaced: STR_TO_DATE (week formats %X%V, %x%v, %Y%U, %Y%u),
//     TIME_TO_SEC, UNIX_TIMESTAMP (BIGINT unless the argument has
//     fractional seconds), FROM_UNIXTIME (keeps the argument's fraction),
//     UTC_TIMESTAMP (prints the asked precision). go-mysql-server's
//     catalog refuses a second function under a taken name, so init swaps
//     these into function.BuiltIns before any engine builds its catalog;
//   - DIV: the planbuilder builds expression.IntDiv (which rounds a
//     DECIMAL dividend: 599.000 DIV 300 = 2) directly, so the analyzer
//     rule replaceIntDiv swaps every IntDiv for intDiv, which truncates
//     the exact quotient as MySQL does.
//
// INVARIANT: each result is MySQL 8's documented result for the same
// arguments in the same session time zone (server/time_functions_test.go).
// None of these functions is pushed down to the native engine, so the
// arb_pushdown setting cannot change their results.

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/analyzer"
	"github.com/dolthub/go-mysql-server/sql/expression"
	"github.com/dolthub/go-mysql-server/sql/expression/function"
	"github.com/dolthub/go-mysql-server/sql/plan"
	"github.com/dolthub/go-mysql-server/sql/transform"
	"github.com/dolthub/go-mysql-server/sql/types"
	"github.com/dolthub/vitess/go/sqltypes"
	"github.com/shopspring/decimal"
)

// timeFunctions are the added functions, for Functions.
func timeFunctions() []sql.Function {
	return []sql.Function{
		sql.Function2{Name: "makedate", Fn: newMakedate},
		sql.Function3{Name: "maketime", Fn: newMaketime},
		sql.Function1{Name: "sec_to_time", Fn: newSecToTime},
		sql.Function2{Name: "period_add", Fn: newPeriodAdd},
		sql.Function2{Name: "period_diff", Fn: newPeriodDiff},
		sql.FunctionN{Name: "utc_time", Fn: newUTCTime}, // clock_functions.go
	}
}

// timeOverrides are the replacements for go-mysql-server built-ins of
// the same names.
func timeOverrides() []sql.Function {
	return []sql.Function{
		sql.Function2{Name: "str_to_date", Fn: newStrToDate},
		sql.Function1{Name: "time_to_sec", Fn: newTimeToSec},
		sql.FunctionN{Name: "unix_timestamp", Fn: newUnixTimestamp},
		sql.FunctionN{Name: "from_unixtime", Fn: newFromUnixtime},
		sql.FunctionN{Name: "utc_timestamp", Fn: newUTCTimestamp},
		sql.FunctionN{Name: "greatest", Fn: newGreatest}, // greatest_least.go
		sql.FunctionN{Name: "least", Fn: newLeast},
	}
}

func init() {
	// Runs before any engine is built (function.NewRegistry copies
	// BuiltIns when a catalog is made), so no catalog sees the old ones.
	over := map[string]sql.Function{}
	for _, f := range timeOverrides() {
		over[f.FunctionName()] = f
	}
	for i, f := range function.BuiltIns {
		if o, ok := over[f.FunctionName()]; ok {
			function.BuiltIns[i] = o
			delete(over, f.FunctionName())
		}
	}
	for name := range over {
		panic("planner: no go-mysql-server built-in " + name + " to replace")
	}
}

// scalar is a function of evaluated arguments. eval is called only when
// no argument is NULL (every function here is NULL on a NULL argument).
type scalar struct {
	name string
	args []sql.Expression
	typ  sql.Type
	eval func(ctx *sql.Context, vals []any) (any, error)
	// columns is the batch form for the native plan, or nil
	// (column_functions.go).
	columns columnEval
	// remake rebuilds the function over new arguments (WithChildren).
	remake func(ctx *sql.Context, args []sql.Expression) (sql.Expression, error)
}

var _ sql.FunctionExpression = (*scalar)(nil)

func (s *scalar) FunctionName() string { return s.name }
func (s *scalar) Description() string  { return "arb: MySQL 8 " + strings.ToUpper(s.name) }
func (s *scalar) Children() []sql.Expression {
	return s.args
}
func (s *scalar) Type(*sql.Context) sql.Type   { return s.typ }
func (s *scalar) IsNullable(*sql.Context) bool { return true }
func (s *scalar) WithChildren(ctx *sql.Context, ch ...sql.Expression) (sql.Expression, error) {
	if len(ch) != len(s.args) {
		return nil, sql.ErrInvalidChildrenNumber.New(s, len(ch), len(s.args))
	}
	return s.remake(evalContext(ctx), ch)
}
func (s *scalar) Resolved() bool {
	for _, a := range s.args {
		if !a.Resolved() {
			return false
		}
	}
	return true
}
func (s *scalar) String() string {
	parts := make([]string, len(s.args))
	for i, a := range s.args {
		parts[i] = a.String()
	}
	return strings.ToUpper(s.name) + "(" + strings.Join(parts, ",") + ")"
}
func (s *scalar) Eval(ctx *sql.Context, row sql.Row) (any, error) {
	vals := make([]any, len(s.args))
	for i, a := range s.args {
		v, err := a.Eval(ctx, row)
		if err != nil || v == nil {
			return nil, err
		}
		vals[i] = v
	}
	return s.eval(ctx, vals)
}

// toInt64 converts v as MySQL does for an integer argument (rounding).
func toInt64(ctx *sql.Context, v any) (int64, bool) {
	n, _, err := types.Int64.Convert(ctx, v)
	if err != nil || n == nil {
		return 0, false
	}
	return n.(int64), true
}

// toDecimal converts v to an exact number (strings and floats included).
func toDecimal(ctx *sql.Context, v any) (decimal.Decimal, bool) {
	switch x := v.(type) {
	case float32:
		return decimal.NewFromFloat32(x), true
	case float64:
		return decimal.NewFromFloat(x), true
	}
	d, _, err := types.InternalDecimalType.Convert(ctx, v)
	if err != nil || d == nil {
		return decimal.Decimal{}, false
	}
	switch x := d.(type) {
	case decimal.Decimal:
		return x, true
	case decimal.NullDecimal:
		return x.Decimal, x.Valid
	}
	return decimal.Decimal{}, false
}

// mysqlYear maps a two-digit year as MySQL does (0-69: 20xx, 70-99: 19xx).
func mysqlYear(y int64) int64 {
	switch {
	case y < 0:
		return y
	case y < 70:
		return y + 2000
	case y < 100:
		return y + 1900
	}
	return y
}

// MAKEDATE(year, dayofyear): NULL when dayofyear < 1 or past 9999-12-31.
func newMakedate(ctx *sql.Context, y, d sql.Expression) sql.Expression {
	return &scalar{name: "makedate", args: []sql.Expression{y, d}, typ: types.Date, columns: makedateColumns,
		eval: func(ctx *sql.Context, v []any) (any, error) {
			year, ok1 := toInt64(ctx, v[0])
			day, ok2 := toInt64(ctx, v[1])
			year = mysqlYear(year)
			if !ok1 || !ok2 || day < 1 || year < 0 || year > 9999 || day > 366*10000 {
				return nil, nil
			}
			t := time.Date(int(year), 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, int(day-1))
			if t.Year() > 9999 {
				return nil, nil
			}
			return t, nil
		},
		remake: func(ctx *sql.Context, a []sql.Expression) (sql.Expression, error) {
			return newMakedate(ctx, a[0], a[1]), nil
		}}
}

// maxTimeMicros is TIME's range, 838:59:59 either way.
const maxTimeMicros = (838*3600 + 59*60 + 59) * 1e6

// timeType is TIME as MySQL prints it: fractional digits only when the
// value has a fraction (go-mysql-server always prints six).
type timeType struct{ types.TimeType }

var timeNoFraction sql.Type = timeType{types.Time}

func (t timeType) SQL(ctx *sql.Context, dest []byte, v any) (sqltypes.Value, error) {
	return timeSQL(dest, v, -1)
}

// timeSQL is v as a TIME on the wire: [-]hh:mm:ss, then fsp fractional
// digits (fsp < 0: six when the value has a fraction, else none).
func timeSQL(dest []byte, v any, fsp int) (sqltypes.Value, error) {
	if v == nil {
		return sqltypes.NULL, nil
	}
	ts, err := types.TimespanType_{}.ConvertToTimespan(v)
	if err != nil {
		return sqltypes.Value{}, err
	}
	us := ts.AsMicroseconds()
	sign := ""
	if us < 0 {
		sign, us = "-", -us
	}
	s := fmt.Sprintf("%s%02d:%02d:%02d", sign, us/3600e6, us/60e6%60, us/1e6%60)
	switch {
	case fsp < 0 && us%1e6 != 0:
		s += fmt.Sprintf(".%06d", us%1e6)
	case fsp > 0:
		s += fmt.Sprintf(".%06d", us%1e6)[:fsp+1]
	}
	return sqltypes.MakeTrusted(sqltypes.Time, append(dest, s...)), nil
}

// timespan makes a TIME value of us microseconds, clamped to TIME's range.
func timespan(us int64) types.Timespan {
	us = max(-maxTimeMicros, min(maxTimeMicros, us))
	return types.TimespanType_{}.MicrosecondsToTimespan(us)
}

// MAKETIME(hour, minute, second): NULL unless minute is 0-59 and second
// is in [0, 60).
func newMaketime(ctx *sql.Context, h, m, s sql.Expression) sql.Expression {
	return &scalar{name: "maketime", args: []sql.Expression{h, m, s}, typ: timeNoFraction,
		eval: func(ctx *sql.Context, v []any) (any, error) {
			hour, ok1 := toInt64(ctx, v[0])
			minute, ok2 := toInt64(ctx, v[1])
			sec, ok3 := toDecimal(ctx, v[2])
			if !ok1 || !ok2 || !ok3 || minute < 0 || minute > 59 || sec.Sign() < 0 || sec.GreaterThanOrEqual(decimal.NewFromInt(60)) {
				return nil, nil
			}
			us := sec.Shift(6).Round(0).IntPart() + minute*60e6
			if hour < 0 {
				return timespan(hour*3600e6 - us), nil
			}
			return timespan(hour*3600e6 + us), nil
		},
		remake: func(ctx *sql.Context, a []sql.Expression) (sql.Expression, error) {
			return newMaketime(ctx, a[0], a[1], a[2]), nil
		}}
}

// SEC_TO_TIME(seconds): a TIME, clamped to its range.
func newSecToTime(ctx *sql.Context, s sql.Expression) sql.Expression {
	return &scalar{name: "sec_to_time", args: []sql.Expression{s}, typ: timeNoFraction,
		eval: func(ctx *sql.Context, v []any) (any, error) {
			sec, ok := toDecimal(ctx, v[0])
			if !ok {
				return nil, nil
			}
			us := sec.Shift(6).Round(0)
			if us.Abs().GreaterThan(decimal.NewFromInt(maxTimeMicros)) {
				return timespan(int64(us.Sign()) * maxTimeMicros), nil
			}
			return timespan(us.IntPart()), nil
		},
		remake: func(ctx *sql.Context, a []sql.Expression) (sql.Expression, error) {
			return newSecToTime(ctx, a[0]), nil
		}}
}

// TIME_TO_SEC(time): whole seconds of a TIME (or of a DATETIME's time of
// day), negative for a negative TIME.
func newTimeToSec(ctx *sql.Context, t sql.Expression) sql.Expression {
	return &scalar{name: "time_to_sec", args: []sql.Expression{t}, typ: types.Int64,
		eval: func(ctx *sql.Context, v []any) (any, error) {
			if tm, ok := v[0].(time.Time); ok {
				return int64(tm.Hour()*3600 + tm.Minute()*60 + tm.Second()), nil
			}
			ts, err := types.TimespanType_{}.ConvertToTimespan(v[0])
			if err != nil {
				ctx.Warn(1292, "Truncated incorrect time value: '%v'", v[0])
				return nil, nil
			}
			return ts.AsMicroseconds() / 1e6, nil
		},
		remake: func(ctx *sql.Context, a []sql.Expression) (sql.Expression, error) {
			return newTimeToSec(ctx, a[0]), nil
		}}
}

// periodMonths is a period (YYMM or YYYYMM) as a count of months.
func periodMonths(p int64) int64 {
	if p == 0 {
		return 0
	}
	return mysqlYear(p/100)*12 + p%100 - 1
}

// PERIOD_ADD(period, n): the period n months later, as YYYYMM.
func newPeriodAdd(ctx *sql.Context, p, n sql.Expression) sql.Expression {
	return &scalar{name: "period_add", args: []sql.Expression{p, n}, typ: types.Int64,
		eval: func(ctx *sql.Context, v []any) (any, error) {
			p, ok1 := toInt64(ctx, v[0])
			n, ok2 := toInt64(ctx, v[1])
			if !ok1 || !ok2 {
				return nil, nil
			}
			if p == 0 {
				return int64(0), nil
			}
			m := periodMonths(p) + n
			return m/12*100 + m%12 + 1, nil
		},
		remake: func(ctx *sql.Context, a []sql.Expression) (sql.Expression, error) {
			return newPeriodAdd(ctx, a[0], a[1]), nil
		}}
}

// PERIOD_DIFF(p1, p2): months from p2 to p1.
func newPeriodDiff(ctx *sql.Context, p1, p2 sql.Expression) sql.Expression {
	return &scalar{name: "period_diff", args: []sql.Expression{p1, p2}, typ: types.Int64,
		eval: func(ctx *sql.Context, v []any) (any, error) {
			a, ok1 := toInt64(ctx, v[0])
			b, ok2 := toInt64(ctx, v[1])
			if !ok1 || !ok2 {
				return nil, nil
			}
			return periodMonths(a) - periodMonths(b), nil
		},
		remake: func(ctx *sql.Context, a []sql.Expression) (sql.Expression, error) {
			return newPeriodDiff(ctx, a[0], a[1]), nil
		}}
}

// literalString is e's value when e is a string literal.
func literalString(e sql.Expression) (string, bool) {
	lit, ok := e.(*expression.Literal)
	if !ok {
		return "", false
	}
	s, ok := lit.Value().(string)
	return s, ok
}

// fractionDigits is how many fractional-second digits a datetime string
// carries ('2015-11-13 10:20:19.012' has 3), at most 6.
func fractionDigits(s string) int {
	s = strings.TrimSpace(s)
	dot := strings.LastIndexByte(s, '.')
	if dot < 0 || !strings.ContainsAny(s, ":") || dot < strings.LastIndexByte(s, ':') {
		return 0
	}
	return min(6, len(s)-dot-1)
}

// unixTimestampScale is the number of fractional digits UNIX_TIMESTAMP(arg)
// returns, from the argument's type as MySQL decides it: a DATE or a
// DATETIME/TIMESTAMP without fractional seconds gives an integer; a string
// literal its own digits; any other string 6.
func unixTimestampScale(ctx *sql.Context, arg sql.Expression) int {
	if s, ok := literalString(arg); ok {
		return fractionDigits(s)
	}
	switch t := arg.Type(ctx).(type) {
	case sql.DatetimeType:
		return t.Precision()
	case sql.NumberType:
		if types.IsInteger(t) {
			return 0
		}
	}
	return 6
}

// UNIX_TIMESTAMP([date]): seconds since the epoch of date read in the
// session time zone; BIGINT unless the argument has fractional seconds,
// then DECIMAL with as many digits.
func newUnixTimestamp(ctx *sql.Context, args ...sql.Expression) (sql.Expression, error) {
	if len(args) > 1 {
		return nil, sql.ErrInvalidArgumentNumber.New("UNIX_TIMESTAMP", "0 or 1", len(args))
	}
	scale := 0
	if len(args) == 1 {
		scale = unixTimestampScale(evalContext(ctx), args[0])
	}
	var typ sql.Type = types.Int64
	if scale > 0 {
		typ = types.MustCreateDecimalType(18, uint8(scale))
	}
	s := &scalar{name: "unix_timestamp", args: args, typ: typ,
		remake: func(ctx *sql.Context, a []sql.Expression) (sql.Expression, error) {
			return newUnixTimestamp(ctx, a...)
		}}
	s.eval = func(ctx *sql.Context, v []any) (any, error) {
		var t time.Time
		if len(v) == 0 {
			t = ctx.QueryTime()
		} else {
			tv, _, err := types.DatetimeMaxPrecision.Convert(ctx, v[0])
			if err != nil || tv == nil {
				ctx.Warn(1292, "Incorrect datetime value: '%v'", v[0])
				return int64(0), nil
			}
			t = tv.(time.Time)
			if !args[0].Type(ctx).Equals(types.Timestamp) {
				tz, err := sessionTimeZone(ctx)
				if err != nil {
					return nil, err
				}
				if utc, ok := convertTimeZone(t, tz, "UTC"); ok {
					t = utc
				}
			}
		}
		us := t.UnixMicro()
		if us < 0 {
			us = 0
		}
		if scale == 0 {
			return us / 1e6, nil
		}
		return decimal.New(us, -6).Truncate(int32(scale)), nil
	}
	if len(args) == 1 {
		s.columns = unixTimestampColumns(args[0].Type(ctx), scale)
	}
	return s, nil
}

// FROM_UNIXTIME(seconds[, format]): the moment in the session time zone,
// with as many fractional digits as the argument (at most 6). With a
// format, go-mysql-server's implementation formats the value.
func newFromUnixtime(ctx *sql.Context, args ...sql.Expression) (sql.Expression, error) {
	if len(args) != 1 {
		return function.NewFromUnixtime(ctx, args...)
	}
	scale := 0
	if t, ok := args[0].Type(evalContext(ctx)).(sql.DecimalType); ok {
		scale = min(6, int(t.Scale()))
	} else if types.IsFloat(args[0].Type(evalContext(ctx))) || types.IsText(args[0].Type(evalContext(ctx))) {
		scale = 6
	}
	s := &scalar{name: "from_unixtime", args: args,
		typ: types.MustCreateDatetimeType(types.Datetime.Type(), scale),
		remake: func(ctx *sql.Context, a []sql.Expression) (sql.Expression, error) {
			return newFromUnixtime(ctx, a...)
		}}
	s.eval = func(ctx *sql.Context, v []any) (any, error) {
		sec, ok := toDecimal(ctx, v[0])
		if !ok || sec.Sign() < 0 || sec.GreaterThan(decimal.NewFromInt(32536771199)) {
			return nil, nil
		}
		us := sec.Shift(6).Truncate(0).IntPart()
		t := time.UnixMicro(us).UTC().Truncate(time.Duration(math.Pow10(6-scale)) * time.Microsecond)
		tz, err := sessionTimeZone(ctx)
		if err != nil {
			return nil, err
		}
		if local, ok := convertTimeZone(t, "UTC", tz); ok {
			t = local
		}
		return t, nil
	}
	return s, nil
}

// UTC_TIMESTAMP([fsp]): the statement's time in UTC, with fsp fractional
// digits (0 by default).
func newUTCTimestamp(ctx *sql.Context, args ...sql.Expression) (sql.Expression, error) {
	if len(args) > 1 {
		return nil, sql.ErrInvalidArgumentNumber.New("UTC_TIMESTAMP", "0 or 1", len(args))
	}
	fsp := int64(0)
	if len(args) == 1 {
		v, err := args[0].Eval(evalContext(ctx), nil)
		if err != nil {
			return nil, err
		}
		n, ok := toInt64(evalContext(ctx), v)
		if !ok || n < 0 || n > 6 {
			return nil, fmt.Errorf("too-big precision %v specified for 'utc_timestamp'. Maximum is 6", v)
		}
		fsp = n
	}
	s := &scalar{name: "utc_timestamp", args: args,
		typ: types.MustCreateDatetimeType(types.Datetime.Type(), int(fsp)),
		remake: func(ctx *sql.Context, a []sql.Expression) (sql.Expression, error) {
			return newUTCTimestamp(ctx, a...)
		}}
	s.eval = func(ctx *sql.Context, _ []any) (any, error) {
		return ctx.QueryTime().UTC().Truncate(time.Duration(math.Pow10(9 - int(fsp)))), nil
	}
	return s, nil
}

// intDiv is MySQL's DIV: the exact quotient truncated toward zero, as a
// BIGINT; NULL when either side is NULL or the divisor is zero.
type intDiv struct {
	expression.BinaryExpressionStub
}

// IntegerDivision marks DIV for native's grain analysis
// (native.IntegerDivision).
func (d *intDiv) IntegerDivision() {}

func (d *intDiv) String() string {
	return fmt.Sprintf("(%s DIV %s)", d.LeftChild, d.RightChild)
}
func (d *intDiv) Type(*sql.Context) sql.Type   { return types.Int64 }
func (d *intDiv) IsNullable(*sql.Context) bool { return true }
func (d *intDiv) WithChildren(_ *sql.Context, ch ...sql.Expression) (sql.Expression, error) {
	if len(ch) != 2 {
		return nil, sql.ErrInvalidChildrenNumber.New(d, len(ch), 2)
	}
	return &intDiv{expression.BinaryExpressionStub{LeftChild: ch[0], RightChild: ch[1]}}, nil
}
func (d *intDiv) Eval(ctx *sql.Context, row sql.Row) (any, error) {
	l, err := d.LeftChild.Eval(ctx, row)
	if err != nil || l == nil {
		return nil, err
	}
	r, err := d.RightChild.Eval(ctx, row)
	if err != nil || r == nil {
		return nil, err
	}
	if x, y, ok := int64Operands(l, r); ok {
		// The common case (UNIX_TIMESTAMP(time) DIV 300): Go's integer
		// division truncates toward zero as DIV does; only MinInt64 DIV
		// -1 overflows BIGINT.
		switch {
		case y == 0:
			ctx.Warn(1365, "Division by 0")
			return nil, nil
		case x == math.MinInt64 && y == -1:
			return nil, sql.ErrValueOutOfRange.New("9223372036854775808", "BIGINT")
		}
		return x / y, nil
	}
	if q, ok := decimalDivInt(l, r); ok {
		return q, nil
	}
	a, ok1 := toDecimal(ctx, l)
	b, ok2 := toDecimal(ctx, r)
	if !ok1 || !ok2 {
		return nil, nil
	}
	if b.IsZero() {
		ctx.Warn(1365, "Division by 0")
		return nil, nil
	}
	// a - a%b is an exact multiple of b (Mod truncates toward zero, as
	// DIV does), so the quotient is exact: no rounding can carry 1.999…
	// up to 2, as go-mysql-server's IntDiv does for a DECIMAL.
	q := a.Sub(a.Mod(b)).Div(b).Round(0)
	if !q.BigInt().IsInt64() {
		return nil, sql.ErrValueOutOfRange.New(q.String(), "BIGINT")
	}
	return q.IntPart(), nil
}

// decimalDivInt is l DIV r for a DECIMAL l of at most 18 digits (say
// UNIX_TIMESTAMP of a DATETIME(3)) and a non-zero integer r, in integers:
// l = c·10^-k, so l DIV r = trunc(c / (r·10^k)), exact while r·10^k fits
// an int64. ok is false for any other operands (the exact decimal path
// takes them).
func decimalDivInt(l, r any) (int64, bool) {
	d, ok := l.(decimal.Decimal)
	if !ok {
		return 0, false
	}
	y, ok := signedInt(r)
	if !ok || y == 0 || d.NumDigits() > 18 {
		return 0, false
	}
	exp := d.Exponent()
	if exp > 0 || exp < -18 {
		return 0, false
	}
	div := y
	for range -exp {
		if div > math.MaxInt64/10 || div < math.MinInt64/10 {
			return 0, false
		}
		div *= 10
	}
	return d.CoefficientInt64() / div, true
}

// int64Operands is l and r when both are signed integers.
func int64Operands(l, r any) (int64, int64, bool) {
	x, ok1 := signedInt(l)
	y, ok2 := signedInt(r)
	return x, y, ok1 && ok2
}

func signedInt(v any) (int64, bool) {
	switch n := v.(type) {
	case int64:
		return n, true
	case int32:
		return int64(n), true
	case int16:
		return int64(n), true
	case int8:
		return int64(n), true
	case int:
		return int64(n), true
	}
	return 0, false
}

// replaceIntDiv swaps every go-mysql-server IntDiv in the plan for
// intDiv, whose truncation matches MySQL for DECIMAL operands. Register
// runs it first in every analysis (see rules.go).
func replaceIntDiv(ctx *sql.Context, _ *analyzer.Analyzer, n sql.Node, _ *plan.Scope, _ analyzer.RuleSelector, _ *sql.QueryFlags) (sql.Node, transform.TreeIdentity, error) {
	swap := func(ctx *sql.Context, e sql.Expression) (sql.Expression, transform.TreeIdentity, error) {
		if d, ok := e.(*expression.IntDiv); ok {
			return &intDiv{expression.BinaryExpressionStub{LeftChild: d.LeftChild, RightChild: d.RightChild}}, transform.NewTree, nil
		}
		return e, transform.SameTree, nil
	}
	return transform.NodeWithOpaque(ctx, n, func(ctx *sql.Context, n sql.Node) (sql.Node, transform.TreeIdentity, error) {
		return transform.NodeExprsWithOpaque(ctx, n, swap)
	})
}

package native

// This file owns the vectorized date/time functions over datetime
// columns (KindTime, microseconds UTC): YEAR, QUARTER, MONTH, DAY /
// DAYOFMONTH, HOUR, MINUTE, SECOND, DAYOFWEEK, WEEKDAY, DAYOFYEAR,
// CAST(… AS DATE), DATE(), DATE_FORMAT with a constant format of
// common specifiers, DATEDIFF and TIMESTAMPDIFF (units of fixed length), each as go-mysql-server's function/time.go,
// expression/convert.go and function/date_format.go compute it.
//
// Rows of one day (or hour, for formats that print the hour) share one
// civil-date computation and one result string: a batch of time-ordered
// events does the calendar arithmetic a few times, not once per row. A
// batch whose time bounds (column_hints.go) lie in one day (one bucket
// of the part) gives a column hinted as one value, whose value slice
// the expression shares among such batches (sharedConst).
//
// A value go-mysql-server treats specially (its zero time, or outside
// the range its conversions accept) sends the batch to go-mysql-server's
// node (nodeEval), which warns or fails exactly as it does. Arguments
// that are strings (parsed per row, with warnings) stay go-mysql-server's.
//
// UNIX_TIMESTAMP, FROM_UNIXTIME, DATE_ADD/DATE_SUB/± INTERVAL and
// STR_TO_DATE are arb's own functions in planner (which native cannot
// import): they stay go-mysql-server's Eval.

import (
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/expression"
	"github.com/dolthub/go-mysql-server/sql/expression/function"
	"github.com/dolthub/go-mysql-server/sql/types"
	"github.com/dolthub/vitess/go/sqltypes"
)

const (
	microsPerSecond = int64(time.Second / time.Microsecond)
	microsPerDay    = 86400 * microsPerSecond
)

var (
	// zeroMicros is go-mysql-server's zero time (types.ZeroTime).
	zeroMicros = types.ZeroTime.UnixMicro()
	// Datetime conversions accept [1000-01-01, 9999-12-31 23:59:59.999999]
	// at least (types.ValidateTime's range is wider below).
	safeMinMicros = time.Date(1000, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro()
	safeMaxMicros = time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC).UnixMicro()
)

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}

// civil is the calendar fields of one UTC day, cached across rows.
type civil struct {
	day               int64 // days since 1970-01-01; valid when set
	set               bool
	year, month, mday int
	wday, yday        int
	t                 time.Time // the day's midnight
}

func (c *civil) at(v int64) {
	day := floorDiv(v, microsPerDay)
	if c.set && day == c.day {
		return
	}
	t := time.UnixMicro(day * microsPerDay).UTC()
	y, m, d := t.Date()
	*c = civil{day: day, set: true, year: y, month: int(m), mday: d, wday: int(t.Weekday()), yday: t.YearDay(), t: t}
}

type datePart uint8

const (
	partYear datePart = iota
	partQuarter
	partMonth
	partDay
	partHour
	partMinute
	partSecond
	partDayOfWeek
	partWeekday
	partDayOfYear
)

var datePartNames = [...]string{"year", "quarter", "month", "day", "hour", "minute", "second", "dayofweek", "weekday", "dayofyear"}

// datePartExpr is one calendar field of a datetime, an INT.
type datePartExpr struct {
	part   datePart
	x      Expr
	fb     *nodeEval
	consts sharedConst[int64] // one-bucket batches' values
}

// timeArg compiles a function's datetime argument, or reports that the
// function stays go-mysql-server's.
func timeArg(ctx *sql.Context, c *Compiler, arg sql.Expression) (operand, bool, error) {
	if !types.IsTime(arg.Type(ctx)) {
		return operand{}, false, nil
	}
	o, err := compileOperand(ctx, c, arg)
	if err != nil || o.konst || KindOf(o.x.Type()) != KindTime {
		return operand{}, false, err
	}
	return o, true, nil
}

func init() {
	parts := map[string]datePart{}
	for i, n := range datePartNames {
		parts[n] = datePart(i)
	}
	compilePart := func(ctx *sql.Context, c *Compiler, e sql.Expression) (Expr, error) {
		f, ok := e.(sql.FunctionExpression)
		if !ok {
			return nil, nil
		}
		part, ok := parts[f.FunctionName()]
		if !ok || len(e.Children()) != 1 || !types.TypesEqual(e.Type(ctx), types.Int32) {
			return nil, nil
		}
		o, ok, err := timeArg(ctx, c, e.Children()[0])
		if !ok || err != nil {
			return nil, err
		}
		return &datePartExpr{part: part, x: o.x, fb: fallback(ctx, e, o)}, nil
	}
	for _, sample := range []sql.Expression{
		(*function.Year)(nil), (*function.Quarter)(nil), (*function.Month)(nil), (*function.Day)(nil),
		(*function.Hour)(nil), (*function.Minute)(nil), (*function.Second)(nil),
		(*function.DayOfWeek)(nil), (*function.Weekday)(nil), (*function.DayOfYear)(nil),
	} {
		registerExpr(sample, compilePart)
	}
	registerExpr((*function.Date)(nil), func(ctx *sql.Context, c *Compiler, e sql.Expression) (Expr, error) {
		o, ok, err := timeArg(ctx, c, e.Children()[0])
		if !ok || err != nil {
			return nil, err
		}
		return &dateStrExpr{x: o.x, fb: fallback(ctx, e, o)}, nil
	})
	registerExpr((*expression.Convert)(nil), func(ctx *sql.Context, c *Compiler, e sql.Expression) (Expr, error) {
		if e.Type(ctx).Type() != sqltypes.Date {
			return nil, nil // only CAST(… AS DATE)
		}
		o, ok, err := timeArg(ctx, c, e.Children()[0])
		if !ok || err != nil {
			return nil, err
		}
		return &castDateExpr{x: o.x, fb: fallback(ctx, e, o)}, nil
	})
	registerExpr((*function.DateFormat)(nil), compileDateFormat)
}

func (x *datePartExpr) Type() sql.Type { return types.Int32 }
func (x *datePartExpr) String() string { return datePartNames[x.part] + "(" + x.x.String() + ")" }
func (x *datePartExpr) mayFail() bool  { return mayFail(x.x) }

func (x *datePartExpr) Eval(ctx *sql.Context, b *Batch) (*Column, error) {
	c, err := x.x.Eval(ctx, b)
	if err != nil {
		return nil, err
	}
	n := b.N
	if c.Kind == KindNull {
		return allNull(types.Int32, n), nil
	}
	if c.Kind != KindTime {
		return x.fb.eval(ctx, n, c)
	}
	var cv civil
	// Rows in [lo, hi), the current bucket of the part's grain (a day, or
	// an hour, minute, second for the clock parts), share its value: two
	// comparisons a row for time-ordered events.
	gran := partGran[x.part]
	if blo, bhi, ok := boundsInSafeRange(c, n); ok && c.Nulls == nil && floorDiv(blo, gran) == floorDiv(bhi, gran) {
		cv.at(blo)
		return constInts(&x.consts, KindInt, types.Int32, int64(x.of(&cv, blo)), n), nil // one bucket
	}
	out := &Column{Kind: KindInt, Type: types.Int32, I: make([]int64, n), Nulls: c.Nulls}
	lo, hi, last := int64(1), int64(0), int64(0)
	for r, v := range c.I[:n] {
		if c.Nulls != nil && c.Nulls[r] {
			continue
		}
		if v >= lo && v < hi {
			out.I[r] = last
			continue
		}
		if v == zeroMicros {
			return x.fb.eval(ctx, n, c) // 0 or NULL with a warning, by part
		}
		cv.at(v)
		p := x.of(&cv, v)
		out.I[r] = int64(p)
		// The zero time is inside no bucket: its day would hold it.
		if lo, hi, last = floorDiv(v, gran)*gran, floorDiv(v, gran)*gran+gran, int64(p); zeroMicros >= lo && zeroMicros < hi {
			lo, hi = 1, 0
		}
	}
	return out, nil
}

// of is the part of time v, whose day cv holds.
func (x *datePartExpr) of(cv *civil, v int64) int {
	switch x.part {
	case partYear:
		return cv.year
	case partQuarter:
		return (cv.month-1)/3 + 1
	case partMonth:
		return cv.month
	case partDay:
		return cv.mday
	case partHour:
		return int((v - cv.day*microsPerDay) / (3600 * microsPerSecond))
	case partMinute:
		return int((v - cv.day*microsPerDay) / (60 * microsPerSecond) % 60)
	case partSecond:
		return int((v - cv.day*microsPerDay) / microsPerSecond % 60)
	case partDayOfWeek:
		return cv.wday + 1
	case partWeekday:
		return (cv.wday + 6) % 7
	case partDayOfYear:
		return cv.yday
	}
	return 0
}

// partGran is, per part, the span of time within which it is the same.
var partGran = [...]int64{
	partYear: microsPerDay, partQuarter: microsPerDay, partMonth: microsPerDay, partDay: microsPerDay,
	partHour: 3600 * microsPerSecond, partMinute: 60 * microsPerSecond, partSecond: microsPerSecond,
	partDayOfWeek: microsPerDay, partWeekday: microsPerDay, partDayOfYear: microsPerDay,
}

// boundsInSafeRange is bounds of the first n values of KindTime column c
// by its hints (column_hints.go), when it has them, has rows, and they
// lie in the safe range (so no value is the zero time).
func boundsInSafeRange(c *Column, n int) (lo, hi int64, ok bool) {
	if !c.Bounded || n == 0 || c.Lo < safeMinMicros || c.Hi > safeMaxMicros {
		return 0, 0, false
	}
	return c.Lo, c.Hi, true
}

// castDateExpr is CAST(x AS DATE) of a datetime: its UTC day.
type castDateExpr struct {
	x      Expr
	fb     *nodeEval
	consts sharedConst[int64] // one-day batches' days
}

func (x *castDateExpr) Type() sql.Type { return types.Date }
func (x *castDateExpr) String() string { return "cast(" + x.x.String() + " as date)" }
func (x *castDateExpr) mayFail() bool  { return mayFail(x.x) }
func (x *castDateExpr) Eval(ctx *sql.Context, b *Batch) (*Column, error) {
	c, err := x.x.Eval(ctx, b)
	if err != nil {
		return nil, err
	}
	n := b.N
	if c.Kind == KindNull {
		return allNull(types.Date, n), nil
	}
	if c.Kind != KindTime {
		return x.fb.eval(ctx, n, c)
	}
	blo, bhi, bounded := boundsInSafeRange(c, n)
	dlo, dhi := floorDiv(blo, microsPerDay)*microsPerDay, floorDiv(bhi, microsPerDay)*microsPerDay
	if bounded && dlo == dhi && c.Nulls == nil {
		return constInts(&x.consts, KindTime, types.Date, dlo, n), nil // one day (a day's segment)
	}
	out := &Column{Kind: KindTime, Type: types.Date, I: make([]int64, n), Nulls: c.Nulls}
	// The current day [lo, lo+microsPerDay), inside the safe range: rows
	// of one day (a segment's) skip the division.
	lo, hi := int64(1), int64(0)
	for r, v := range c.I[:n] {
		if c.Nulls != nil && c.Nulls[r] {
			continue
		}
		if v >= lo && v < hi {
			out.I[r] = lo
			continue
		}
		if v < safeMinMicros || v > safeMaxMicros {
			return x.fb.eval(ctx, n, c) // the zero time, or out of DATE's range
		}
		lo = floorDiv(v, microsPerDay) * microsPerDay
		hi = min(lo+microsPerDay, safeMaxMicros+1)
		out.I[r] = lo
	}
	if bounded {
		out.setBounds(dlo, dhi) // the day is monotone in the time
	}
	return out, nil
}

// dateStrExpr is DATE(x) of a datetime: go-mysql-server's Date returns
// the day as a string ("2006-01-02") although its type is DATE, so the
// column holds strings boxed (KindAny), as Column.Append makes them.
type dateStrExpr struct {
	x      Expr
	fb     *nodeEval
	consts sharedConst[any] // one-day batches' strings, by day
}

func (x *dateStrExpr) Type() sql.Type { return types.Date }
func (x *dateStrExpr) String() string { return "date(" + x.x.String() + ")" }
func (x *dateStrExpr) mayFail() bool  { return mayFail(x.x) }
func (x *dateStrExpr) Eval(ctx *sql.Context, b *Batch) (*Column, error) {
	c, err := x.x.Eval(ctx, b)
	if err != nil {
		return nil, err
	}
	n := b.N
	if c.Kind == KindNull {
		return allNull(types.Date, n), nil
	}
	if c.Kind != KindTime {
		return x.fb.eval(ctx, n, c)
	}
	var cv civil
	if lo, hi, seen := minMaxTimes(c, n); seen && c.Nulls == nil && floorDiv(lo, microsPerDay) == floorDiv(hi, microsPerDay) &&
		floorDiv(lo, microsPerDay) != floorDiv(zeroMicros, microsPerDay) {
		// One day (a day's segment): one string, boxed once.
		vals := x.consts.get(floorDiv(lo, microsPerDay), n, func() any {
			cv.at(lo)
			return cv.t.Format("2006-01-02")
		})
		return &Column{Kind: KindAny, Type: types.Date, A: vals, Const: n > 0}, nil
	}
	out := &Column{Kind: KindAny, Type: types.Date, A: make([]any, n), Nulls: c.Nulls}
	var last any
	lo, hi := int64(1), int64(0) // the current day's microseconds
	for r, v := range c.I[:n] {
		if c.Nulls != nil && c.Nulls[r] {
			continue
		}
		if v >= lo && v < hi {
			out.A[r] = last
			continue
		}
		if v == zeroMicros {
			return x.fb.eval(ctx, n, c) // "0000-00-00"
		}
		cv.at(v)
		last = cv.t.Format("2006-01-02")
		if lo, hi = cv.day*microsPerDay, cv.day*microsPerDay+microsPerDay; zeroMicros >= lo && zeroMicros < hi {
			lo, hi = 1, 0
		}
		out.A[r] = last
	}
	return out, nil
}

// dateFormatExpr is DATE_FORMAT(x, constant format) of a datetime.
type dateFormatExpr struct {
	x      Expr
	format string
	specs  []fmtSpec
	gran   int64 // rows in one bucket of gran microseconds print the same
	fb     *nodeEval
}

// fmtSpec is one piece of a format: verbatim text, or a specifier.
type fmtSpec struct {
	verbatim string
	spec     byte // 0 for verbatim
}

// fmtGran is, for each supported specifier, the span of time within
// which it prints the same (a day for the calendar ones).
var fmtGran = map[byte]int64{
	'Y': microsPerDay, 'y': microsPerDay, 'm': microsPerDay, 'c': microsPerDay, 'M': microsPerDay,
	'b': microsPerDay, 'd': microsPerDay, 'e': microsPerDay, 'j': microsPerDay, 'W': microsPerDay,
	'a': microsPerDay, 'H': 3600 * microsPerSecond, 'i': 60 * microsPerSecond, 's': microsPerSecond,
	'S': microsPerSecond, 'T': microsPerSecond, 'f': 1,
}

// parseDateFormat splits a format as lestrrat-go/strftime compiles it
// (a '%' and the next byte are a specifier); ok is false for anything
// but the supported specifiers.
func parseDateFormat(f string) (specs []fmtSpec, gran int64, ok bool) {
	gran = microsPerDay
	for len(f) > 0 {
		i := 0
		for i < len(f) && f[i] != '%' {
			i++
		}
		if i > 0 {
			specs = append(specs, fmtSpec{verbatim: f[:i]})
			f = f[i:]
			continue
		}
		if len(f) < 2 {
			return nil, 0, false // a stray % is go-mysql-server's error
		}
		g, known := fmtGran[f[1]]
		if !known {
			return nil, 0, false
		}
		gran = min(gran, g)
		specs = append(specs, fmtSpec{spec: f[1]})
		f = f[2:]
	}
	return specs, gran, true
}

func compileDateFormat(ctx *sql.Context, c *Compiler, e sql.Expression) (Expr, error) {
	f := e.(*function.DateFormat)
	if f.LeftChild == nil || f.RightChild == nil {
		return nil, nil
	}
	lf, ok := f.RightChild.(*expression.Literal)
	if !ok {
		return nil, nil
	}
	format, ok := lf.Value().(string)
	if !ok {
		return nil, nil
	}
	specs, gran, ok := parseDateFormat(format)
	if !ok {
		return nil, nil
	}
	o, ok, err := timeArg(ctx, c, f.LeftChild)
	if !ok || err != nil {
		return nil, err
	}
	return &dateFormatExpr{x: o.x, format: format, specs: specs, gran: gran,
		fb: fallback(ctx, e, o, operand{konst: true})}, nil
}

func (x *dateFormatExpr) Type() sql.Type { return types.Text }
func (x *dateFormatExpr) String() string {
	return "date_format(" + x.x.String() + ", " + strconv.Quote(x.format) + ")"
}
func (x *dateFormatExpr) mayFail() bool { return mayFail(x.x) }

func (x *dateFormatExpr) Eval(ctx *sql.Context, b *Batch) (*Column, error) {
	c, err := x.x.Eval(ctx, b)
	if err != nil {
		return nil, err
	}
	n := b.N
	if c.Kind == KindNull {
		return allNull(types.Text, n), nil
	}
	if c.Kind != KindTime {
		return x.fb.eval(ctx, n, c, nil)
	}
	out := &Column{Kind: KindString, Type: types.Text, S: make([]string, n), Nulls: c.Nulls}
	var buf []byte
	var last string
	lo, hi := int64(1), int64(0) // the current bucket of x.gran, inside the safe range
	for r, v := range c.I[:n] {
		if c.Nulls != nil && c.Nulls[r] {
			continue
		}
		if v >= lo && v < hi {
			out.S[r] = last
			continue
		}
		if v < safeMinMicros || v > safeMaxMicros {
			return x.fb.eval(ctx, n, c, nil)
		}
		buf = x.appendFormat(buf[:0], time.UnixMicro(v).UTC())
		last = string(buf)
		k := floorDiv(v, x.gran)
		lo, hi = max(k*x.gran, safeMinMicros), min(k*x.gran+x.gran, safeMaxMicros+1)
		out.S[r] = last
	}
	return out, nil
}

// appendFormat prints t as go-mysql-server's DATE_FORMAT specification
// set does (function/date_format.go over lestrrat-go/strftime).
func (x *dateFormatExpr) appendFormat(b []byte, t time.Time) []byte {
	pad2 := func(b []byte, v int) []byte { return append(b, byte('0'+v/10), byte('0'+v%10)) }
	for _, s := range x.specs {
		switch s.spec {
		case 0:
			b = append(b, s.verbatim...)
		case 'Y':
			b = t.AppendFormat(b, "2006")
		case 'y':
			b = strconv.AppendInt(b, int64(t.Year()%100), 10)
		case 'm':
			b = pad2(b, int(t.Month()))
		case 'c':
			b = strconv.AppendInt(b, int64(t.Month()), 10)
		case 'M':
			b = append(b, t.Month().String()...)
		case 'b':
			b = t.AppendFormat(b, "Jan")
		case 'd':
			b = pad2(b, t.Day())
		case 'e':
			b = strconv.AppendInt(b, int64(t.Day()), 10)
		case 'j':
			yd := t.YearDay()
			if yd < 100 {
				b = append(b, '0')
			}
			if yd < 10 {
				b = append(b, '0')
			}
			b = strconv.AppendInt(b, int64(yd), 10)
		case 'W':
			b = append(b, t.Weekday().String()...)
		case 'a':
			b = t.AppendFormat(b, "Mon")
		case 'H':
			b = pad2(b, t.Hour())
		case 'i':
			b = pad2(b, t.Minute())
		case 's', 'S':
			b = pad2(b, t.Second())
		case 'T':
			b = t.AppendFormat(b, "15:04:05")
		case 'f':
			us := t.Nanosecond() / 1000
			for d := 100000; d >= 1; d /= 10 {
				b = append(b, byte('0'+us/d%10))
			}
		}
	}
	return b
}

// diffExpr is DATEDIFF(a, b) (days between the dates of a and b) or
// TIMESTAMPDIFF(unit, a, b) for the units of fixed length (b - a in
// whole units, truncated toward zero as go-mysql-server's int64
// division does). MONTH, QUARTER and YEAR stay go-mysql-server's.
type diffExpr struct {
	a, b operand // datetimes; a constant is converted, its micros in i
	unit int64   // TIMESTAMPDIFF's unit in microseconds; 0 for DATEDIFF
	name string
	fb   *nodeEval
}

var diffUnits = map[string]int64{
	"microsecond": 1, "second": microsPerSecond, "minute": 60 * microsPerSecond,
	"hour": 3600 * microsPerSecond, "day": microsPerDay, "week": 7 * microsPerDay,
}

func init() {
	registerExpr((*function.DateDiff)(nil), func(ctx *sql.Context, c *Compiler, e sql.Expression) (Expr, error) {
		d := e.(*function.DateDiff)
		if d.LeftChild == nil || d.RightChild == nil {
			return nil, nil
		}
		return compileDiff(ctx, c, e, 0, d.LeftChild, d.RightChild, operand{})
	})
	registerExpr((*function.TimestampDiff)(nil), func(ctx *sql.Context, c *Compiler, e sql.Expression) (Expr, error) {
		ch := e.Children()
		if len(ch) != 3 || ch[0] == nil || ch[1] == nil || ch[2] == nil {
			return nil, nil
		}
		uv, ok := foldConst(ctx, ch[0])
		us, isStr := uv.(string)
		if !ok || !isStr {
			return nil, nil
		}
		unit, ok := diffUnits[strings.TrimPrefix(strings.ToLower(us), "sql_tsi_")]
		if !ok {
			return nil, nil
		}
		return compileDiff(ctx, c, e, unit, ch[1], ch[2], operand{konst: true})
	})
}

// diffArg compiles a datetime argument of DATEDIFF or TIMESTAMPDIFF: a
// datetime column, or a constant that converts to DATETIME(6) in range
// without a warning.
func diffArg(ctx *sql.Context, c *Compiler, arg sql.Expression) (operand, bool, error) {
	if types.IsTime(arg.Type(ctx)) {
		if o, ok, err := timeArg(ctx, c, arg); ok || err != nil {
			return o, ok, err
		}
	}
	v, ok := foldConst(ctx, arg)
	if !ok || v == nil {
		return operand{}, false, nil
	}
	before := ctx.Session.WarningCount()
	tv, _, err := types.DatetimeMaxPrecision.Convert(ctx, v)
	t, isTime := tv.(time.Time)
	if err != nil || !isTime || ctx.Session.WarningCount() != before {
		return operand{}, false, nil
	}
	o := operandOf(&constExpr{v: v, typ: arg.Type(ctx)})
	o.i = t.UnixMicro()
	if o.i < safeMinMicros || o.i > safeMaxMicros {
		return operand{}, false, nil
	}
	return o, true, nil
}

func compileDiff(ctx *sql.Context, c *Compiler, e sql.Expression, unit int64, ae, be sql.Expression, first operand) (Expr, error) {
	a, ok, err := diffArg(ctx, c, ae)
	if !ok || err != nil {
		return nil, err
	}
	b, ok, err := diffArg(ctx, c, be)
	// go-mysql-server does not evaluate b where a is NULL: a b that may
	// fail or warn stays its.
	if !ok || err != nil || a.konst && b.konst || mayFail(b.x) {
		return nil, err
	}
	name := "datediff"
	var fb *nodeEval
	if unit == 0 {
		fb = fallback(ctx, e, a, b)
	} else {
		name = "timestampdiff"
		fb = fallback(ctx, e, first, a, b)
	}
	return &diffExpr{a: a, b: b, unit: unit, name: name, fb: fb}, nil
}

func (x *diffExpr) Type() sql.Type { return types.Int64 }
func (x *diffExpr) String() string {
	return x.name + "(" + x.a.x.String() + ", " + x.b.x.String() + ")"
}
func (x *diffExpr) mayFail() bool { return anyMayFail(x.a.x, x.b.x) }

func (x *diffExpr) Eval(ctx *sql.Context, b *Batch) (*Column, error) {
	n := b.N
	var ac, bc *Column
	var err error
	if !x.a.konst {
		if ac, err = x.a.x.Eval(ctx, b); err != nil {
			return nil, err
		}
	}
	if !x.b.konst {
		if bc, err = x.b.x.Eval(ctx, b); err != nil {
			return nil, err
		}
	}
	var nulls []bool
	for _, c := range []*Column{ac, bc} {
		if c == nil {
			continue
		}
		if c.Kind == KindNull {
			return allNull(types.Int64, n), nil
		}
		if c.Kind != KindTime {
			return x.fallback(ctx, n, ac, bc)
		}
		for r, v := range c.I[:n] {
			if (v < safeMinMicros || v > safeMaxMicros) && !c.IsNull(r) {
				return x.fallback(ctx, n, ac, bc)
			}
		}
		nulls = orNulls(nulls, c.Nulls)
	}
	out := &Column{Kind: KindInt, Type: types.Int64, I: make([]int64, n), Nulls: nulls}
	for r := range n {
		if nulls != nil && nulls[r] {
			continue
		}
		av, bv := x.a.i, x.b.i
		if ac != nil {
			av = ac.I[r]
		}
		if bc != nil {
			bv = bc.I[r]
		}
		if x.unit == 0 {
			out.I[r] = dayDiff(floorDiv(av, microsPerDay) - floorDiv(bv, microsPerDay))
		} else {
			out.I[r] = (bv - av) / x.unit
		}
	}
	return out, nil
}

// dayDiff is go-mysql-server's DATEDIFF of dates days apart:
// round(date1.Sub(date2).Hours() / 24), where Sub saturates at
// time.Duration's ±292 years.
func dayDiff(days int64) int64 {
	const maxDays = math.MaxInt64 / (24 * int64(time.Hour))
	switch {
	case days > maxDays:
		return int64(math.Round(time.Duration(math.MaxInt64).Hours() / 24))
	case days < -maxDays:
		return int64(math.Round(time.Duration(math.MinInt64).Hours() / 24))
	}
	return days
}

func (x *diffExpr) fallback(ctx *sql.Context, n int, ac, bc *Column) (*Column, error) {
	if x.unit == 0 {
		return x.fb.eval(ctx, n, ac, bc)
	}
	return x.fb.eval(ctx, n, nil, ac, bc)
}

// datetimeConvExpr is TIMESTAMP(x) / DATETIME(x), go-mysql-server's
// DatetimeConversion: x converted by DATETIME(6)'s Convert, typed as x
// (so a string argument gives times in a string-typed column, boxed as
// Column.Append boxes them). A datetime argument in range is itself; a
// string argument is converted by go-mysql-server's own Convert once
// per run of equal strings (Tableau's DATETIME(DATE_FORMAT(time,
// '%Y-%m-01 00:00:00')) converts once a month), and its error is the
// statement's, as it is go-mysql-server's.
type datetimeConvExpr struct {
	x   Expr
	typ sql.Type
	fb  *nodeEval
}

func init() {
	registerExpr((*function.DatetimeConversion)(nil), func(ctx *sql.Context, c *Compiler, e sql.Expression) (Expr, error) {
		arg := e.(*function.DatetimeConversion).Date
		t := arg.Type(ctx)
		if !types.IsTime(t) && !types.IsTextOnly(t) {
			return nil, nil
		}
		o, err := compileOperand(ctx, c, arg)
		if err != nil || o.konst {
			return nil, err
		}
		if k := KindOf(o.x.Type()); k != KindTime && k != KindString {
			return nil, nil
		}
		return &datetimeConvExpr{x: o.x, typ: e.Type(ctx), fb: fallback(ctx, e, o)}, nil
	})
}

func (x *datetimeConvExpr) Type() sql.Type { return x.typ }
func (x *datetimeConvExpr) String() string { return "datetime(" + x.x.String() + ")" }
func (x *datetimeConvExpr) mayFail() bool  { return true }

func (x *datetimeConvExpr) Eval(ctx *sql.Context, b *Batch) (*Column, error) {
	c, err := x.x.Eval(ctx, b)
	if err != nil {
		return nil, err
	}
	n := b.N
	switch c.Kind {
	case KindTime:
		for r, v := range c.I[:n] {
			if (v < safeMinMicros || v > safeMaxMicros) && !c.IsNull(r) {
				return x.fb.eval(ctx, n, c)
			}
		}
		return c, nil
	case KindString:
		out := &Column{Kind: KindAny, Type: x.typ, A: make([]any, n), Nulls: c.Nulls}
		var lastIn string
		var lastOut any
		have := false
		for r, s := range c.S[:n] {
			if c.Nulls != nil && c.Nulls[r] {
				continue
			}
			if !have || s != lastIn {
				v, _, err := types.DatetimeMaxPrecision.Convert(ctx, s)
				if err != nil {
					return nil, err
				}
				lastIn, lastOut, have = s, v, true
			}
			out.A[r] = lastOut
		}
		return out, nil
	}
	return x.fb.eval(ctx, n, c)
}

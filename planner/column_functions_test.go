package planner

import (
	"fmt"
	"math/rand"
	"testing"
	"time"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/expression"
	"github.com/dolthub/go-mysql-server/sql/expression/function"
	"github.com/dolthub/go-mysql-server/sql/types"
	"github.com/shopspring/decimal"

	"arb/native"
)

// TestColumnFunctionsMatchEval compares the batch forms of
// UNIX_TIMESTAMP and DIV with Eval, value by value and warning by
// warning, over random columns with NULLs, in several session zones.
func TestColumnFunctionsMatchEval(t *testing.T) {
	r := rand.New(rand.NewSource(5))
	const n = 500
	times := native.NewColumn(types.DatetimeMaxPrecision, n)
	ints := native.NewColumn(types.Int64, n)
	divs := native.NewColumn(types.Int64, n)
	for range n {
		if r.Intn(10) == 0 {
			times.AppendNull()
		} else {
			times.Append(time.UnixMicro(r.Int63n(4e15) - 5e14).UTC())
		}
		if r.Intn(10) == 0 {
			ints.AppendNull()
		} else {
			ints.Append(r.Int63n(1e12) - 5e11)
		}
		divs.Append([]int64{300, 3600, -7, 1, 86400}[r.Intn(5)])
	}
	for _, tz := range []string{"+00:00", "UTC", "+05:30", "-08:00", "Europe/Paris"} {
		ctx := sql.NewEmptyContext()
		if err := ctx.SetSessionVariable(ctx, "time_zone", tz); err != nil {
			t.Fatal(err)
		}
		for _, scale := range []int{0, 3} {
			typ := types.MustCreateDatetimeType(types.DatetimeMaxPrecision.Type(), scale)
			arg := expression.NewGetField(0, typ, "time", true)
			e, err := newUnixTimestamp(ctx, arg)
			if err != nil {
				t.Fatal(err)
			}
			ut := e.(*scalar)
			_, utEval := ut.ColumnEval()
			if utEval == nil {
				t.Fatalf("UNIX_TIMESTAMP of %s has no batch form", typ)
			}
			out := checkColumnEval(t, ctx, ut, utEval, []*native.Column{times}, n)
			// … and DIV over what it gave (BIGINT or DECIMAL(18,3)).
			div := &intDiv{expression.BinaryExpressionStub{LeftChild: expression.NewGetField(0, ut.Type(ctx), "u", true), RightChild: expression.NewGetField(1, types.Int64, "d", false)}}
			_, divEval := div.ColumnEval()
			checkColumnEval(t, ctx, div, divEval, []*native.Column{out, divs}, n)
		}
	}
	ctx := sql.NewEmptyContext()
	div := &intDiv{expression.BinaryExpressionStub{LeftChild: expression.NewGetField(0, types.Int64, "a", true), RightChild: expression.NewGetField(1, types.Int64, "b", false)}}
	zeros := native.NewColumn(types.Int64, n)
	for range n {
		zeros.Append(int64(r.Intn(3) - 1)) // -1, 0, 1: zero divisors warn and give NULL
	}
	_, divEval := div.ColumnEval()
	checkColumnEval(t, ctx, div, divEval, []*native.Column{ints, zeros}, n)
	checkColumnEval(t, ctx, div, divEval, []*native.Column{ints, divs}, n)

	// date ± INTERVAL n unit over DATETIME(3) and DATE columns, counts
	// from a column (WEEKDAY(time) DAY) including negatives; MAKEDATE.
	dates := native.NewColumn(types.Date, n)
	counts := native.NewColumn(types.Int64, n)
	years := native.NewColumn(types.Int64, n)
	for i := range n {
		if v := times.Value(i); v == nil || r.Intn(15) == 0 {
			dates.AppendNull()
		} else {
			tv := v.(time.Time)
			dates.Append(time.Date(tv.Year(), tv.Month(), tv.Day(), 0, 0, 0, 0, time.UTC))
		}
		counts.Append(int64(r.Intn(200) - 100))
		years.Append(int64([]int{1999, 2024, 25, 70, 9999, 0, -3}[r.Intn(7)]))
	}
	// DATE(time) as go-mysql-server gives it: strings, in runs, some not
	// dates at all.
	dayStrings := native.NewColumn(types.LongText, n)
	dayStrings.Type = types.Date
	for i := range n {
		switch v := dates.Value(i); {
		case v == nil:
			dayStrings.AppendNull()
		case r.Intn(40) == 0:
			dayStrings.Append("not a date")
		default:
			dayStrings.Append(v.(time.Time).Format("2006-01-02"))
		}
	}
	dt3 := types.MustCreateDatetimeType(types.DatetimeMaxPrecision.Type(), 3)
	for _, unit := range []string{"DAY", "WEEK", "MONTH", "QUARTER", "YEAR", "HOUR", "MINUTE", "SECOND", "MICROSECOND"} {
		for _, op := range []string{"+", "-"} {
			for _, in := range []struct {
				typ sql.Type
				col *native.Column
			}{{dt3, times}, {types.Date, dates}, {types.Date, dayStrings}} {
				date := expression.NewGetField(0, in.typ, "d", true)
				iv := expression.NewInterval(expression.NewGetField(1, types.Int64, "n", true), unit)
				da := &dateArith{inner: expression.NewArithmetic(date, iv, op), typ: mysqlDateArithType(ctx, date, iv), name: "date_add"}
				_, eval := da.ColumnEval()
				if eval == nil {
					t.Fatalf("%s has no batch form", da)
				}
				checkColumnEval(t, ctx, da, eval, []*native.Column{in.col, counts}, n)
			}
		}
	}
	// Events in time order (runs of one day and one count, as a scan
	// gives them): the batch form computes a (day, count) once and moves
	// the day's other rows by the same shift. Some times have
	// microseconds a DATETIME(3) result rounds, some sit at the ends of
	// the range, one is the zero time.
	ordered := native.NewColumn(types.DatetimeMaxPrecision, n)
	weekdays := native.NewColumn(types.Int64, n)
	at := time.Date(2024, 12, 28, 22, 0, 0, 0, time.UTC).UnixMicro()
	for range n {
		at += r.Int63n(3600e6)
		v := at
		switch r.Intn(60) {
		case 0:
			v += r.Int63n(1000) // finer than DATETIME(3)
		case 1:
			v = time.Date(1000, 1, 1, r.Intn(24), 0, 0, 0, time.UTC).UnixMicro()
		case 2:
			v = time.Date(9999, 12, 31, r.Intn(24), 0, 0, 0, time.UTC).UnixMicro()
		case 3:
			ordered.Append(types.ZeroTime)
			weekdays.Append(int64(r.Intn(7)))
			continue
		case 4:
			ordered.AppendNull()
			weekdays.Append(int64(r.Intn(7)))
			continue
		}
		ordered.Append(time.UnixMicro(v).UTC())
		weekdays.Append(int64(time.UnixMicro(v).UTC().Weekday()))
	}
	for _, unit := range []string{"DAY", "WEEK", "MONTH", "QUARTER", "YEAR", "HOUR", "MINUTE", "SECOND", "MICROSECOND"} {
		for _, in := range []struct {
			typ sql.Type
			col *native.Column
		}{{dt3, ordered}, {types.DatetimeMaxPrecision, ordered}, {dt3, times}, {types.Date, dates}, {types.Date, dayStrings}} {
			date := expression.NewGetField(0, in.typ, "d", true)
			iv := expression.NewInterval(expression.NewGetField(1, types.Int64, "n", true), unit)
			for _, form := range []string{"+", "-", "date_add", "date_sub"} {
				var inner sql.Expression
				var err error
				switch form {
				case "+", "-":
					inner = expression.NewArithmetic(date, iv, form)
				case "date_add":
					inner, err = function.NewDateAdd(ctx, date, iv)
				case "date_sub":
					inner, err = function.NewDateSub(ctx, date, iv)
				}
				if err != nil {
					t.Fatal(err)
				}
				da := &dateArith{inner: inner, typ: mysqlDateArithType(ctx, date, iv), name: "date_add"}
				_, eval := da.ColumnEval()
				if eval == nil {
					t.Fatalf("%s has no batch form", da)
				}
				for _, k := range []*native.Column{weekdays, counts} {
					if in.col == ordered && in.typ == dt3 && k == counts {
						continue
					}
					checkColumnEval(t, ctx, da, eval, []*native.Column{in.col, k}, n)
				}
			}
		}
	}
	// STR_TO_DATE(CONCAT(YEARWEEK(time), ' Sunday'), '%X%V %W') and
	// other week formats over week strings in runs, some malformed.
	weekStrings := native.NewColumn(types.LongText, n)
	for i := range n {
		v := ordered.Value(i)
		switch tv, ok := v.(time.Time); {
		case !ok:
			weekStrings.AppendNull()
		case r.Intn(30) == 0:
			weekStrings.Append([]string{"", "2025", "202553 Sunday", "999999 Sunday", "2025xx Sunday", "202501 Someday"}[r.Intn(6)])
		default:
			y, w := tv.ISOWeek()
			weekStrings.Append(fmt.Sprintf("%d%02d Sunday", y, w))
		}
	}
	for _, format := range []string{"%X%V %W", "%x%v %W", "%Y%U %W", "%Y%u %W", "%X%V%W"} {
		sd := newStrToDate(ctx, expression.NewGetField(0, types.LongText, "s", true), expression.NewLiteral(format, types.LongText)).(*strToDate)
		_, sdEval := sd.ColumnEval()
		if sdEval == nil {
			t.Fatalf("%s has no batch form", sd)
		}
		checkColumnEval(t, ctx, sd, sdEval, []*native.Column{weekStrings}, n)
	}
	md := newMakedate(ctx, expression.NewGetField(0, types.Int64, "y", true), expression.NewGetField(1, types.Int64, "d", true)).(*scalar)
	_, mdEval := md.ColumnEval()
	checkColumnEval(t, ctx, md, mdEval, []*native.Column{years, counts}, n)
	// MAKEDATE(YEAR(time), 1) over events in time order: runs of one pair.
	runYears, ones := native.NewColumn(types.Int64, n), native.NewColumn(types.Int64, n)
	for i := range n {
		if v, ok := ordered.Value(i).(time.Time); ok && r.Intn(20) != 0 {
			runYears.Append(int64(v.Year()))
		} else {
			runYears.AppendNull()
		}
		ones.Append(int64(1 + i/100%3*200))
	}
	checkColumnEval(t, ctx, md, mdEval, []*native.Column{runYears, ones}, n)
}

// checkColumnEval runs the batch form and Eval row by row and fails on
// any difference; it returns the batch form's column.
func checkColumnEval(t *testing.T, ctx *sql.Context, e sql.Expression, eval func(*sql.Context, []*native.Column, int) (*native.Column, bool, error), args []*native.Column, n int) *native.Column {
	t.Helper()
	ctx.ClearWarnings()
	out, ok, err := eval(ctx, args, n)
	if err != nil || !ok {
		t.Fatalf("%s: batch form: ok %v, err %v", e, ok, err)
	}
	batchWarnings := ctx.WarningCount()
	ctx.ClearWarnings()
	for i := range n {
		row := make(sql.Row, len(args))
		for j, a := range args {
			row[j] = a.Value(i)
		}
		want, err := e.Eval(ctx, row)
		if err != nil {
			t.Fatalf("%s row %d: Eval: %v", e, i, err)
		}
		got := out.Value(i)
		if fmt.Sprint(normalize(got)) != fmt.Sprint(normalize(want)) {
			t.Fatalf("%s row %d (%v): batch %v (%T), Eval %v (%T)", e, i, row, got, got, want, want)
		}
	}
	if w := ctx.WarningCount(); w != batchWarnings {
		t.Fatalf("%s: %d warnings from the batch form, %d from Eval", e, batchWarnings, w)
	}
	return out
}

func normalize(v any) any {
	if d, ok := v.(decimal.Decimal); ok {
		return d.String()
	}
	return v
}

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

	"arb/native"
)

// TestDateFormsMatchEval compares the batch forms of DATEDIFF and
// FLOOR(i / k) (column_functions_date.go) with go-mysql-server's Eval,
// value by value: DATEDIFF over DATETIME(6) columns, DATE() strings (some
// not dates at all, some NULL) and a constant string; FLOOR of
// DATEDIFF's days and of random integers over divisors 1…1000, signs
// both ways. A batch form that declines must decline only batches with a
// value it cannot reproduce.
func TestDateFormsMatchEval(t *testing.T) {
	r := rand.New(rand.NewSource(11))
	const n = 2600 // more than two of dayDiffBatch's chunks
	ctx := sql.NewEmptyContext()
	times := native.NewColumn(types.DatetimeMaxPrecision, n)
	days := native.NewColumn(types.LongText, n)
	ints := native.NewColumn(types.Int64, n)
	for range n {
		tm := time.UnixMicro(r.Int63n(4e15) - 5e14).UTC()
		if r.Intn(10) == 0 {
			times.AppendNull()
		} else {
			times.Append(tm)
		}
		switch r.Intn(12) {
		case 0:
			days.AppendNull()
		default:
			days.Append(time.UnixMicro(r.Int63n(4e15) - 5e14).UTC().Format("2006-01-02"))
		}
		if r.Intn(10) == 0 {
			ints.AppendNull()
		} else {
			ints.Append(r.Int63n(1e6) - 5e5)
		}
	}
	konst := native.ConstColumn(types.LongText, "2025-01-01", n)
	// DATE values, before and after 1970, and DATETIMEs in runs within
	// a day (the day-bucket path), some NULL.
	dates := native.NewColumn(types.Date, n)
	runs := native.NewColumn(types.DatetimeMaxPrecision, n)
	at := r.Int63n(2e15) - 1e15
	for range n {
		if r.Intn(8) == 0 {
			dates.AppendNull()
		} else {
			dates.Append(time.UnixMicro((r.Int63n(80000) - 40000) * 86_400_000_000).UTC())
		}
		at += r.Int63n(4 * 3_600_000_000)
		if r.Intn(9) == 0 {
			runs.AppendNull()
		} else {
			runs.Append(time.UnixMicro(at).UTC())
		}
	}
	// DATE() strings of a few months across a year's end and a leap
	// February, as a join's rows carry them: most rows hit the memo of
	// the month seen last (dayReader.month).
	months := native.NewColumn(types.LongText, n)
	for range n {
		if r.Intn(15) == 0 {
			months.AppendNull()
			continue
		}
		base := []time.Time{
			time.Date(2023, 12, 1, 0, 0, 0, 0, time.UTC), time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC),
			time.Date(2024, 2, 1, 0, 0, 0, 0, time.UTC), time.Date(1969, 12, 1, 0, 0, 0, 0, time.UTC),
		}[r.Intn(4)]
		months.Append(base.AddDate(0, 0, r.Intn(31)).Format("2006-01-02"))
	}
	cols0 := []*native.Column{times, months, konst}
	for _, tc := range []struct{ a, b sql.Expression }{
		{expression.NewGetField(0, types.DatetimeMaxPrecision, "time", true), expression.NewGetField(1, types.LongText, "m", true)},
		{expression.NewGetField(1, types.LongText, "m", true), expression.NewGetField(2, types.LongText, "k", false)},
	} {
		dd := newDayDiffColumns(ctx, function.NewDateDiff(ctx, tc.a, tc.b).(*function.DateDiff)).(*dayDiffColumns)
		checkBatchForm(t, ctx, dd, cols0, n, true)
	}
	timeF := expression.NewGetField(0, types.DatetimeMaxPrecision, "time", true)
	dayF := expression.NewGetField(1, types.LongText, "day", true)
	constF := expression.NewGetField(2, types.LongText, "k", false)
	dateF := expression.NewGetField(3, types.Date, "date", true)
	runF := expression.NewGetField(4, types.DatetimeMaxPrecision, "run", true)
	cols := []*native.Column{times, days, konst, dates, runs}
	for _, tc := range []struct{ a, b sql.Expression }{
		{timeF, dayF}, {dayF, timeF}, {dayF, constF}, {constF, dayF}, {timeF, constF},
		{dateF, timeF}, {runF, dateF}, {dateF, runF}, {runF, timeF}, {runF, constF},
	} {
		dd := newDayDiffColumns(ctx, function.NewDateDiff(ctx, tc.a, tc.b).(*function.DateDiff)).(*dayDiffColumns)
		out := checkBatchForm(t, ctx, dd, cols, n, true)
		for _, k := range []int64{1, 7, 30, 999, 1000} {
			num := expression.NewGetField(0, types.Int64, "d", true)
			f := newFloorDivColumns(ctx, function.NewFloor(ctx, expression.NewDiv(num, expression.NewLiteral(int8(min(k, 127)), types.Int8))).(*function.Floor))
			if k > 127 {
				f = newFloorDivColumns(ctx, function.NewFloor(ctx, expression.NewDiv(num, expression.NewLiteral(int16(k), types.Int16))).(*function.Floor))
			}
			checkBatchForm(t, ctx, f.(*floorDivColumns), []*native.Column{out}, n, true)
			checkBatchForm(t, ctx, f.(*floorDivColumns), []*native.Column{ints}, n, true)
		}
	}
	// Strings DATEDIFF's conversion rejects or reads otherwise: the batch
	// is declined and Eval decides (with its warning).
	odd := native.NewColumn(types.LongText, 4)
	for _, s := range []string{"2025-02-30", "2025-01-01", "20250101", "2025-1-1"} {
		odd.Append(s)
	}
	dd := newDayDiffColumns(ctx, function.NewDateDiff(ctx, expression.NewGetField(0, types.LongText, "s", true), expression.NewGetField(1, types.LongText, "k", false)).(*function.DateDiff)).(*dayDiffColumns)
	checkBatchForm(t, ctx, dd, []*native.Column{odd, native.ConstColumn(types.LongText, "2025-01-01", 4)}, 4, false)
	// Past a month's memo: a day beyond the month, or day 00, is no
	// date, whichever string of the month came first.
	for _, bad := range []string{"2025-02-29", "2025-02-00", "2025-02-3x"} {
		odd := native.NewColumn(types.LongText, 2)
		odd.Append("2025-02-10")
		odd.Append(bad)
		checkBatchForm(t, ctx, dd, []*native.Column{odd, native.ConstColumn(types.LongText, "2025-01-01", 2)}, 2, false)
	}
	// A DATETIME before year 1000 fails DateDiff's conversion: declined.
	early := native.NewColumn(types.DatetimeMaxPrecision, 3)
	for _, y := range []int{2025, 999, 1969} {
		early.Append(time.Date(y, 6, 1, 12, 0, 0, 0, time.UTC))
	}
	dd = newDayDiffColumns(ctx, function.NewDateDiff(ctx, expression.NewGetField(0, types.DatetimeMaxPrecision, "t", true), expression.NewGetField(1, types.LongText, "k", false)).(*function.DateDiff)).(*dayDiffColumns)
	checkBatchForm(t, ctx, dd, []*native.Column{early, native.ConstColumn(types.LongText, "2025-01-01", 3)}, 3, false)
	// A divisor past the bound, or a non-literal one, is not wrapped.
	num := expression.NewGetField(0, types.Int64, "d", true)
	if newFloorDivColumns(ctx, function.NewFloor(ctx, expression.NewDiv(num, expression.NewLiteral(int16(1001), types.Int16))).(*function.Floor)) != nil {
		t.Fatal("FLOOR(d / 1001) wrapped")
	}
	if newFloorDivColumns(ctx, function.NewFloor(ctx, expression.NewDiv(num, num)).(*function.Floor)) != nil {
		t.Fatal("FLOOR(d / d) wrapped")
	}
}

// checkBatchForm runs e's batch form over cols (e's GetFields index
// them) and compares each value with e.Eval of the row; wantOK says
// whether the batch form must accept the batch. It returns the column.
func checkBatchForm(t *testing.T, ctx *sql.Context, e native.ColumnFunction, cols []*native.Column, n int, wantOK bool) *native.Column {
	t.Helper()
	argExprs, eval := e.ColumnEval()
	// The batch form's arguments are e's children or parts of them: each
	// is evaluated over the input row to make its column.
	args := make([]*native.Column, len(argExprs))
	for i, a := range argExprs {
		args[i] = native.NewColumn(a.Type(ctx), n)
		for r := range n {
			v, err := a.Eval(ctx, rowOf(cols, r))
			if err != nil {
				t.Fatal(err)
			}
			args[i].Append(v)
		}
	}
	out, ok, err := eval(ctx, args, n)
	if err != nil {
		t.Fatal(err)
	}
	if ok != wantOK {
		t.Fatalf("%s: batch form ok = %v, want %v", e, ok, wantOK)
	}
	if !ok {
		return nil
	}
	for r := range n {
		want, err := e.Eval(ctx, rowOf(cols, r))
		if err != nil {
			t.Fatal(err)
		}
		got := out.Value(r)
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("%s row %d (%v): batch %v, Eval %v", e, r, rowOf(cols, r), got, want)
		}
	}
	return out
}

func rowOf(cols []*native.Column, r int) sql.Row {
	row := make(sql.Row, len(cols))
	for i, c := range cols {
		row[i] = c.Value(r)
	}
	return row
}

// TestISODay checks the YYYY-MM-DD fast path against time.Date for every
// day of years around leap rules, and that non-dates are left to the
// full conversion.
func TestISODay(t *testing.T) {
	for _, y := range []int{1000, 1600, 1700, 1900, 1969, 1970, 2000, 2024, 2025, 2100, 9999} {
		for d := time.Date(y, 1, 1, 0, 0, 0, 0, time.UTC); d.Year() == y; d = d.AddDate(0, 0, 1) {
			got, ok := isoDay(d.Format("2006-01-02"))
			if want := floorDivInt(d.UnixMicro(), microsPerDay); !ok || got != want {
				t.Fatalf("%s: isoDay %d %v, want %d", d.Format("2006-01-02"), got, ok, want)
			}
		}
	}
	for _, s := range []string{"2025-02-29", "2024-02-30", "2025-04-31", "2025-13-01", "2025-00-10", "0999-12-31", "2025-01-1x", "2025/01/01", "2025-01-01 "} {
		if _, ok := isoDay(s); ok {
			t.Fatalf("isoDay(%q) accepted", s)
		}
	}
}

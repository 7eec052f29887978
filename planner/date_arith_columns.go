package planner

// The batch form of dateArith (date ± INTERVAL n unit, DATE_ADD and
// DATE_SUB with a simple unit) for the native plan.
//
// Each distinct (date, count) of a batch is computed once, exactly as
// the row path computes it (go-mysql-server's TimeDelta, ValidateTime and
// type conversions): a day's rows carry the same date string (DATE(time))
// or the same day of a DATETIME, and the same count (WEEKDAY(time),
// QUARTER(time)). For a DATETIME the first row of a (day, count) gives
// the shift, and the others move by it:
//   - a YEAR/QUARTER/MONTH/WEEK/DAY delta rebuilds the date and keeps the
//     clock (TimeDelta.apply in UTC), so every instant of one day moves
//     by the same number of microseconds;
//   - an HOUR/MINUTE/SECOND/MICROSECOND delta adds a fixed duration.
// A moved value takes the fast path only inside [1000-01-01,
// 9999-12-31 23:59:59.999999], where ValidateTime and the conversions
// cannot fail, and only when the conversions to DATETIME(p) cannot round
// it (a multiple of 10^(6-p) µs); a DATE conversion floors to the day.
// Any other row is computed in full, as the row path does.

import (
	"errors"
	"strings"
	"time"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/expression"
	"github.com/dolthub/go-mysql-server/sql/expression/function"
	"github.com/dolthub/go-mysql-server/sql/types"
	"github.com/dolthub/vitess/go/sqltypes"

	"arb/native"
)

const arithMicrosPerDay = 86400 * int64(time.Second/time.Microsecond)

var (
	// Inside this range of microseconds ValidateTime accepts a value and
	// DATE/DATETIME conversions neither fail nor see the zero time.
	arithSafeMin = time.Date(1000, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro()
	arithSafeMax = time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC).UnixMicro()
)

// intervalDelta is the TimeDelta of n of a simple unit, as
// Interval.EvalDelta builds it; ok is false for other units.
func intervalDelta(unit string, n int64) (td expression.TimeDelta, ok bool) {
	switch unit {
	case "DAY":
		td.Days = n
	case "WEEK":
		td.Days = n * 7
	case "MONTH":
		td.Months = n
	case "QUARTER":
		td.Months = n * 3
	case "YEAR":
		td.Years = n
	case "HOUR":
		td.Hours = n
	case "MINUTE":
		td.Minutes = n
	case "SECOND":
		td.Seconds = n
	case "MICROSECOND":
		td.Microseconds = n
	default:
		return td, false
	}
	return td, true
}

// ColumnEval is the batch form of date ± INTERVAL n unit, DATE_ADD and
// DATE_SUB over a DATETIME/DATE column (or go-mysql-server's DATE(), a
// string typed DATE) and integer counts of a simple unit.
func (d *dateArith) ColumnEval() ([]sql.Expression, columnEval) {
	var date sql.Expression
	var iv *expression.Interval
	var sub, fn bool
	switch x := d.inner.(type) {
	case *expression.Arithmetic:
		var ivx sql.Expression
		date, ivx, sub = x.LeftChild, x.RightChild, x.Op == "-"
		if i, ok := x.LeftChild.(*expression.Interval); ok {
			date, ivx = x.RightChild, i
		}
		iv, _ = ivx.(*expression.Interval)
	case *function.DateAdd:
		date, iv, fn = x.Date, x.Interval, true
	case *function.DateSub:
		date, iv, sub, fn = x.Date, x.Interval, true, true
	}
	if iv == nil {
		return nil, nil
	}
	unit := strings.ToUpper(iv.Unit)
	if _, ok := intervalDelta(unit, 0); !ok {
		return nil, nil
	}
	return []sql.Expression{date, iv.Child}, func(ctx *sql.Context, args []*native.Column, n int) (*native.Column, bool, error) {
		dc, nc := args[0], args[1]
		if (dc.Kind != native.KindTime && dc.Kind != native.KindString && dc.Kind != native.KindAny) || nc.Kind != native.KindInt {
			return nil, false, nil
		}
		m := &arithMover{d: d, unit: unit, sub: sub, fn: fn}
		if fn {
			// DATE_ADD/DATE_SUB convert to their own type first; a
			// text type (a string date) formats strings: Eval's path.
			m.innerType = d.inner.Type(ctx)
			if types.IsText(m.innerType) {
				return nil, false, nil
			}
		}
		m.plan()
		out := &native.Column{Kind: native.KindTime, Type: d.typ, I: make([]int64, n)}
		// The (date, count) of the previous row and what it gave.
		var lastS string
		var lastDay, lastN, lastShift int64
		var lastOut int64
		var lastNull, haveS, haveT, shiftOK bool
		var lastWarn string
		for i := range n {
			if dc.IsNull(i) || nc.IsNull(i) {
				markNull(out, i, n)
				continue
			}
			k := nc.I[i]
			if dc.Kind == native.KindTime {
				us := dc.I[i]
				if us >= arithSafeMin && us <= arithSafeMax {
					day := arithFloorDiv(us, arithMicrosPerDay)
					if !haveT || day != lastDay || k != lastN {
						haveT, lastDay, lastN = true, day, k
						lastShift, shiftOK = m.shift(time.UnixMicro(us).UTC(), k)
					}
					if shiftOK {
						if v, ok := m.fast(us + lastShift); ok {
							out.I[i] = v
							continue
						}
					}
				}
				v, null, warn, err := m.full(ctx, time.UnixMicro(us).UTC(), k)
				if err == errDeclined {
					return nil, false, nil
				}
				if err != nil {
					return nil, false, err
				}
				if warn != "" {
					ctx.Warn(1292, "%s", warn)
				}
				if null {
					markNull(out, i, n)
				} else {
					out.I[i] = v
				}
				continue
			}
			val := dc.Value(i)
			s, isStr := val.(string)
			if !isStr {
				return nil, false, nil // a value of another kind: Eval's path
			}
			if !haveS || s != lastS || k != lastN {
				haveS, lastS, lastN = true, s, k
				var err error
				if lastOut, lastNull, lastWarn, err = m.full(ctx, s, k); err == errDeclined {
					return nil, false, nil
				} else if err != nil {
					return nil, false, err
				}
			}
			if lastWarn != "" {
				ctx.Warn(1292, "%s", lastWarn)
			}
			if lastNull {
				markNull(out, i, n)
			} else {
				out.I[i] = lastOut
			}
		}
		return out, true, nil
	}
}

// arithMover moves dates for one batch of a dateArith.
type arithMover struct {
	d         *dateArith
	unit      string
	sub, fn   bool
	innerType sql.Type // DATE_ADD/DATE_SUB's own type, converted to first

	// The conversions of a moved value, for the fast path: to a DATE
	// (floor to the day) and/or to DATETIME(p) (round to round µs).
	toDate  bool
	round   int64 // the coarsest rounding unit in µs (1: none)
	fastOff bool  // a conversion the fast path does not model
}

// plan reads the conversions a moved value goes through.
func (m *arithMover) plan() {
	m.round = 1
	for _, t := range []sql.Type{m.innerType, m.d.typ} {
		if t == nil {
			continue
		}
		switch t.Type() {
		case sqltypes.Date:
			m.toDate = true
		case sqltypes.Datetime:
			dt, ok := t.(sql.DatetimeType)
			if !ok {
				m.fastOff = true
				continue
			}
			u := int64(1)
			for range 6 - dt.Precision() {
				u *= 10
			}
			m.round = max(m.round, u)
		default:
			m.fastOff = true
		}
	}
}

// shift is how far t moves by k units, before any conversion; ok is
// false when t's day cannot take the fast path.
func (m *arithMover) shift(t time.Time, k int64) (int64, bool) {
	if m.fastOff {
		return 0, false
	}
	td, _ := intervalDelta(m.unit, k)
	var moved time.Time
	if m.sub {
		moved = td.Sub(t)
	} else {
		moved = td.Add(t)
	}
	return moved.UnixMicro() - t.UnixMicro(), true
}

// fast is the converted value of a moved instant r, when no conversion
// can fail or round it.
func (m *arithMover) fast(r int64) (int64, bool) {
	if r < arithSafeMin || r > arithSafeMax || r%m.round != 0 {
		return 0, false
	}
	if m.toDate {
		return arithFloorDiv(r, arithMicrosPerDay) * arithMicrosPerDay, true
	}
	return r, true
}

// full is the row path for one date value v (a time.Time or a string)
// and count k: the result in µs, or NULL, and the warning it gives.
func (m *arithMover) full(ctx *sql.Context, v any, k int64) (out int64, null bool, warn string, err error) {
	tv, _, cerr := types.DatetimeMaxRange.Convert(ctx, v)
	t, ok := tv.(time.Time)
	switch {
	case m.fn && cerr != nil:
		return 0, true, cerr.Error(), nil
	case cerr != nil || !ok || t.Equal(types.ZeroTime):
		return 0, true, "Incorrect datetime value: '" + toText(v) + "'", nil
	}
	td, _ := intervalDelta(m.unit, k)
	var moved time.Time
	if m.sub {
		moved = td.Sub(t)
	} else {
		moved = td.Add(t)
	}
	res := types.ValidateTime(moved)
	if res == nil {
		return 0, true, "", nil
	}
	if m.innerType != nil {
		if res, _, err = m.innerType.Convert(ctx, res); err != nil {
			return 0, false, "", err
		}
	}
	cv, _, err := m.d.typ.Convert(ctx, res)
	if err != nil {
		return 0, false, "", err
	}
	ct, ok := cv.(time.Time)
	if !ok {
		return 0, false, "", errDeclined
	}
	return ct.UnixMicro(), false, "", nil
}

// errDeclined is full's answer for a value the batch form leaves to
// Eval's path.
var errDeclined = errors.New("planner: declined by the batch form")

// toText is v as the row path's %v / %s prints it.
func toText(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case time.Time:
		return x.String()
	}
	return ""
}

func arithFloorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}

package planner

// Batch forms of arb's own functions for the native plan
// (native.ColumnFunction): without them the native operators evaluate
// these row by row through Eval, boxing every value. Each batch form
// gives exactly what Eval gives for the same rows, and declines (the
// batch then goes row by row) any argument Kinds it does not handle.

import (
	"math"
	"time"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/types"
	"github.com/shopspring/decimal"

	"arb/native"
)

var (
	_ native.ColumnFunction  = (*intDiv)(nil)
	_ native.IntegerDivision = (*intDiv)(nil)
	_ native.ColumnFunction  = (*scalar)(nil)
	_ native.ColumnFunction  = (*dateArith)(nil)
)

type columnEval = func(ctx *sql.Context, args []*native.Column, n int) (*native.Column, bool, error)

// ColumnEval is the scalar's batch form over its arguments, when it has
// one.
func (s *scalar) ColumnEval() ([]sql.Expression, columnEval) { return s.args, s.columns }

// ColumnEval is DIV over integer columns, or a DECIMAL column of at most
// 18 digits by integers (UNIX_TIMESTAMP of a DATETIME(3) DIV 300).
func (d *intDiv) ColumnEval() ([]sql.Expression, columnEval) {
	return d.Children(), func(ctx *sql.Context, args []*native.Column, n int) (*native.Column, bool, error) {
		l, r := args[0], args[1]
		if r.Kind != native.KindInt || (l.Kind != native.KindInt && l.Kind != native.KindAny) {
			return nil, false, nil
		}
		out := &native.Column{Kind: native.KindInt, Type: types.Int64, I: make([]int64, n)}
		null := func(i int) {
			if out.Nulls == nil {
				out.Nulls = make([]bool, n)
			}
			out.Nulls[i] = true
		}
		for i := range n {
			if l.IsNull(i) || r.IsNull(i) {
				null(i)
				continue
			}
			y := r.I[i]
			if l.Kind == native.KindAny {
				q, ok := decimalDivInt(l.A[i], y)
				if !ok {
					return nil, false, nil // a zero divisor or another kind of value: Eval's path
				}
				out.I[i] = q
				continue
			}
			x := l.I[i]
			switch {
			case y == 0:
				ctx.Warn(1365, "Division by 0")
				null(i)
				continue
			case x == math.MinInt64 && y == -1:
				return nil, false, sql.ErrValueOutOfRange.New("9223372036854775808", "BIGINT")
			}
			out.I[i] = x / y
		}
		return out, true, nil
	}
}

// unixTimestampColumns is UNIX_TIMESTAMP over a DATETIME/DATE column
// (not TIMESTAMP, which Eval reads without the session zone): the
// session zone is read once per batch, and a zone of offset zero costs
// nothing per row.
func unixTimestampColumns(argType sql.Type, scale int) columnEval {
	if argType.Equals(types.Timestamp) {
		return nil
	}
	return func(ctx *sql.Context, args []*native.Column, n int) (*native.Column, bool, error) {
		a := args[0]
		if a.Kind != native.KindTime {
			return nil, false, nil
		}
		tz, err := sessionTimeZone(ctx)
		if err != nil {
			return nil, false, err
		}
		rule := zoneRuleOf(tz)
		identity := tz == "UTC" || (rule.ok && rule.loc == nil && rule.offset == 0)
		out := &native.Column{Kind: native.KindInt, Type: types.Int64}
		if scale == 0 {
			out.I = make([]int64, n)
		} else {
			out.Kind, out.Type, out.A = native.KindAny, types.MustCreateDecimalType(18, uint8(scale)), make([]any, n)
		}
		for i := range n {
			if a.IsNull(i) {
				if out.Nulls == nil {
					out.Nulls = make([]bool, n)
				}
				out.Nulls[i] = true
				continue
			}
			us := a.I[i]
			if !identity {
				t := time.UnixMicro(us).UTC()
				if utc, ok := convertTimeZone(t, tz, "UTC"); ok {
					us = utc.UnixMicro()
				}
			}
			if us < 0 {
				us = 0
			}
			if scale == 0 {
				out.I[i] = us / 1e6
			} else {
				// decimal.New(us, -6).Truncate(scale), without the
				// rescale: us ≥ 0, so dropping digits truncates.
				out.A[i] = decimal.New(us/pow10(6-scale), -int32(scale))
			}
		}
		return out, true, nil
	}
}

// makedateColumns is MAKEDATE over integer columns.
func makedateColumns(ctx *sql.Context, args []*native.Column, n int) (*native.Column, bool, error) {
	y, d := args[0], args[1]
	if y.Kind != native.KindInt || d.Kind != native.KindInt {
		return nil, false, nil
	}
	out := &native.Column{Kind: native.KindTime, Type: types.Date, I: make([]int64, n)}
	// A batch of events holds a year or two: each (year, day) pair is
	// computed once per run of rows that repeat it.
	var lastY, lastD, lastV int64
	var lastNull, have bool
	for i := range n {
		if y.IsNull(i) || d.IsNull(i) {
			markNull(out, i, n)
			continue
		}
		if !have || y.I[i] != lastY || d.I[i] != lastD {
			have, lastY, lastD = true, y.I[i], d.I[i]
			year, day := mysqlYear(lastY), lastD
			lastNull = day < 1 || year < 0 || year > 9999 || day > 366*10000
			if !lastNull {
				t := time.Date(int(year), 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, int(day-1))
				lastNull, lastV = t.Year() > 9999, t.UnixMicro()
			}
		}
		if lastNull {
			markNull(out, i, n)
			continue
		}
		out.I[i] = lastV
	}
	return out, true, nil
}

// pow10 is 10^k for 0 ≤ k ≤ 18.
func pow10(k int) int64 {
	p := int64(1)
	for range k {
		p *= 10
	}
	return p
}

func markNull(c *native.Column, i, n int) {
	if c.Nulls == nil {
		c.Nulls = make([]bool, n)
	}
	c.Nulls[i] = true
}

package planner

// Dates and times as numbers, as MySQL 8 reads them in arithmetic (8.0
// manual 11.2.8 "Conversion Between Date and Time Types" and 14.6.1
// "Arithmetic Operators"): an operand of +, -, *, /, DIV, % or unary
// minus that is a DATE becomes the integer YYYYMMDD, a DATETIME or
// TIMESTAMP YYYYMMDDhhmmss, a TIME hhmmss — DECIMAL with the type's
// fractional digits when it has any. So CAST(time AS DATE) - DATE
// '2024-01-01' is 1 on 2024-01-02 (20240102 - 20240101). go-mysql-server
// reads a DATE there as a DATETIME (that difference was 1000000; DATE
// '2024-01-05' - 1 was 20240104999999), a TIME as 0, and -DATE(x) as
// -2024. The rule replaceTemporalNumbers wraps each such operand in
// temporalNumber. Date ± INTERVAL is not arithmetic on numbers and is
// left alone (date_arith.go).
//
// INVARIANT: a temporalNumber's value is MySQL's number for the operand's
// value, of the type temporalNumber.Type says (BIGINT, or DECIMAL with
// the operand's fractional digits).

import (
	"fmt"
	"time"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/analyzer"
	"github.com/dolthub/go-mysql-server/sql/expression"
	"github.com/dolthub/go-mysql-server/sql/plan"
	"github.com/dolthub/go-mysql-server/sql/transform"
	"github.com/dolthub/go-mysql-server/sql/types"
	"github.com/dolthub/vitess/go/sqltypes"
	"github.com/shopspring/decimal"
)

// temporalNumber is a DATE, DATETIME, TIMESTAMP or TIME operand read as
// MySQL's number.
type temporalNumber struct {
	operand sql.Expression
	isTime  bool // a TIME: hhmmss; else a date: YYYYMMDD[hhmmss]
	clock   bool // a DATETIME or TIMESTAMP: the time of day is kept
	fsp     int  // fractional digits kept (a DECIMAL when > 0)
}

var _ sql.Expression = (*temporalNumber)(nil)

func (n *temporalNumber) Children() []sql.Expression   { return []sql.Expression{n.operand} }
func (n *temporalNumber) Resolved() bool               { return n.operand.Resolved() }
func (n *temporalNumber) String() string               { return n.operand.String() }
func (n *temporalNumber) IsNullable(*sql.Context) bool { return true }

func (n *temporalNumber) Type(*sql.Context) sql.Type {
	if n.fsp == 0 {
		return types.Int64
	}
	digits := 8
	switch {
	case n.isTime:
		digits = 7 // up to 838 hours
	case n.clock:
		digits = 14
	}
	return types.MustCreateDecimalType(uint8(digits+n.fsp), uint8(n.fsp))
}

func (n *temporalNumber) WithChildren(_ *sql.Context, ch ...sql.Expression) (sql.Expression, error) {
	if len(ch) != 1 {
		return nil, sql.ErrInvalidChildrenNumber.New(n, len(ch), 1)
	}
	c := *n
	c.operand = ch[0]
	return &c, nil
}

func (n *temporalNumber) Eval(ctx *sql.Context, row sql.Row) (any, error) {
	v, err := n.operand.Eval(ctx, row)
	if err != nil || v == nil {
		return nil, err
	}
	var whole, micros int64
	if n.isTime {
		ts, err := types.TimespanType_{}.ConvertToTimespan(v)
		if err != nil {
			return nil, fmt.Errorf("%s as a number: %w", n.operand, err)
		}
		us := ts.AsMicroseconds()
		sign := int64(1)
		if us < 0 {
			sign, us = -1, -us
		}
		whole = sign * (us/3600e6*10000 + us/60e6%60*100 + us/1e6%60)
		micros = sign * (us % 1e6)
	} else {
		tv, _, err := types.DatetimeMaxRange.Convert(ctx, v)
		t, ok := tv.(time.Time)
		if err != nil || !ok {
			ctx.Warn(1292, "Incorrect datetime value: '%v'", v)
			return nil, nil
		}
		whole = int64(t.Year())*10000 + int64(t.Month())*100 + int64(t.Day())
		if n.clock {
			whole = whole*1000000 + int64(t.Hour())*10000 + int64(t.Minute())*100 + int64(t.Second())
			micros = int64(t.Nanosecond() / 1000)
		}
	}
	if n.fsp == 0 {
		return whole, nil
	}
	return decimal.New(whole, 0).Add(decimal.New(micros, -6)).Truncate(int32(n.fsp)), nil
}

// asTemporalNumber is e wrapped in temporalNumber when its type is a
// date or time, else e and false.
func asTemporalNumber(ctx *sql.Context, e sql.Expression) (sql.Expression, bool) {
	if _, done := e.(*temporalNumber); done || !e.Resolved() {
		return e, false
	}
	switch t := e.Type(ctx).(type) {
	case timeFsp:
		return &temporalNumber{operand: e, isTime: true, fsp: t.fsp}, true
	case sql.DatetimeType:
		switch t.Type() {
		case sqltypes.Date:
			return &temporalNumber{operand: e}, true
		case sqltypes.Datetime, sqltypes.Timestamp:
			return &temporalNumber{operand: e, clock: true, fsp: t.Precision()}, true
		}
	}
	if types.IsTimespan(e.Type(ctx)) {
		return &temporalNumber{operand: e, isTime: true}, true
	}
	return e, false
}

// replaceTemporalNumbers wraps the date and time operands of arithmetic
// in temporalNumber (idempotent: a wrapped operand is numeric).
func replaceTemporalNumbers(ctx *sql.Context, _ *analyzer.Analyzer, n sql.Node, _ *plan.Scope, _ analyzer.RuleSelector, _ *sql.QueryFlags) (sql.Node, transform.TreeIdentity, error) {
	wrap := func(ctx *sql.Context, e sql.Expression) (sql.Expression, transform.TreeIdentity, error) {
		switch x := e.(type) {
		case *expression.Arithmetic:
			for _, c := range x.Children() {
				if _, iv := c.(*expression.Interval); iv {
					return e, transform.SameTree, nil // date ± INTERVAL
				}
			}
		case *expression.Div, *expression.Mod, *expression.IntDiv, *intDiv, *expression.UnaryMinus:
		default:
			return e, transform.SameTree, nil
		}
		kids := e.Children()
		wrapped := make([]sql.Expression, len(kids))
		changed := false
		for i, k := range kids {
			var w bool
			wrapped[i], w = asTemporalNumber(ctx, k)
			changed = changed || w
		}
		if !changed {
			return e, transform.SameTree, nil
		}
		out, err := e.WithChildren(ctx, wrapped...)
		if err != nil {
			return nil, transform.SameTree, err
		}
		return out, transform.NewTree, nil
	}
	out, same, err := transform.NodeWithOpaque(ctx, n, func(ctx *sql.Context, n sql.Node) (sql.Node, transform.TreeIdentity, error) {
		return transform.NodeExprsWithOpaque(ctx, n, wrap)
	})
	if err != nil {
		// A node that takes no other expression there (a column
		// default): leave the statement as it is.
		return n, transform.SameTree, nil
	}
	return out, same, nil
}

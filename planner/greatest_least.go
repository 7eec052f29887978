package planner

// GREATEST and LEAST over dates and times as MySQL 8 computes them: when
// every argument is a DATE, DATETIME or TIMESTAMP the values are compared
// as moments and the result is a DATE when all are DATEs, else a
// DATETIME with the most fractional digits of any argument; when dates
// are mixed with strings (GREATEST(CURDATE(), '2024-01-02')), the
// arguments are compared as moments and the result is the winning
// argument's text. go-mysql-server compares dates as DATETIME(6) (DATE
// '2024-02-01' came back '2024-02-01 00:00:00.000000') and a DATETIME
// column beside a string as numbers (0, a DOUBLE). When the arguments are
// exact numbers, at least one a DECIMAL (GREATEST(1.5, 2)), they are
// compared as decimals and the result is a DECIMAL with the most integer
// digits and the most scale of any argument (8.0 manual 14.3: "If any
// argument is a DECIMAL, the result is a DECIMAL"; GREATEST(1.5, 2) is
// 2.0), where go-mysql-server compared and typed them DOUBLE (2). Any
// other mix of arguments stays go-mysql-server's.
//
// INVARIANT: the result is one of the arguments' values (NULL when any
// argument is NULL), in the type Type reports.

import (
	"fmt"
	"strings"
	"time"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/expression/function"
	"github.com/dolthub/go-mysql-server/sql/types"
	"github.com/dolthub/vitess/go/sqltypes"
	"github.com/shopspring/decimal"
)

func newGreatest(ctx *sql.Context, args ...sql.Expression) (sql.Expression, error) {
	return newExtreme(ctx, "greatest", args)
}

func newLeast(ctx *sql.Context, args ...sql.Expression) (sql.Expression, error) {
	return newExtreme(ctx, "least", args)
}

// newExtreme is GREATEST or LEAST (name) over args: temporalExtreme when
// the arguments are dates or dates and strings, else go-mysql-server's.
func newExtreme(ctx *sql.Context, name string, args []sql.Expression) (sql.Expression, error) {
	gms := function.NewGreatest
	if name == "least" {
		gms = function.NewLeast
	}
	ctx = evalContext(ctx)
	if typ := decimalExtremeType(ctx, args); typ != nil {
		return &decimalExtreme{name: name, args: args, typ: typ}, nil
	}
	dates, strs, allDate, fsp := 0, 0, true, 0
	for _, a := range args {
		if !a.Resolved() {
			return gms(ctx, args...)
		}
		switch t := a.Type(ctx).(type) {
		case sql.DatetimeType:
			dates++
			if t.Type() != sqltypes.Date {
				allDate = false
				fsp = max(fsp, t.Precision())
			}
			continue
		case sql.StringType:
			if types.IsText(t) {
				strs++
				continue
			}
		}
		return gms(ctx, args...) // a number, a TIME, NULL, …
	}
	if dates == 0 || len(args) < 2 {
		return gms(ctx, args...)
	}
	x := &temporalExtreme{name: name, args: args}
	switch {
	case strs > 0:
		x.typ = types.LongText
	case allDate:
		x.typ = types.Date
	default:
		x.typ = types.MustCreateDatetimeType(sqltypes.Datetime, fsp)
	}
	return x, nil
}

// temporalExtreme is GREATEST or LEAST compared as moments.
type temporalExtreme struct {
	name string // greatest or least
	args []sql.Expression
	typ  sql.Type // DATE, DATETIME(fsp), or text when strings are among args
}

var _ sql.FunctionExpression = (*temporalExtreme)(nil)

func (x *temporalExtreme) FunctionName() string { return x.name }
func (x *temporalExtreme) Description() string {
	return "arb: MySQL 8 " + strings.ToUpper(x.name) + " of dates"
}
func (x *temporalExtreme) Children() []sql.Expression   { return x.args }
func (x *temporalExtreme) Type(*sql.Context) sql.Type   { return x.typ }
func (x *temporalExtreme) IsNullable(*sql.Context) bool { return true }
func (x *temporalExtreme) Resolved() bool {
	for _, a := range x.args {
		if !a.Resolved() {
			return false
		}
	}
	return true
}
func (x *temporalExtreme) String() string {
	parts := make([]string, len(x.args))
	for i, a := range x.args {
		parts[i] = a.String()
	}
	return strings.ToUpper(x.name) + "(" + strings.Join(parts, ",") + ")"
}
func (x *temporalExtreme) WithChildren(ctx *sql.Context, ch ...sql.Expression) (sql.Expression, error) {
	if len(ch) != len(x.args) {
		return nil, sql.ErrInvalidChildrenNumber.New(x, len(ch), len(x.args))
	}
	return newExtreme(ctx, x.name, ch)
}

func (x *temporalExtreme) Eval(ctx *sql.Context, row sql.Row) (any, error) {
	var best time.Time
	var bestVal any
	bestArg := -1
	for i, a := range x.args {
		v, err := a.Eval(ctx, row)
		if err != nil || v == nil {
			return nil, err
		}
		tv, _, err := types.DatetimeMaxPrecision.Convert(ctx, v)
		t, ok := tv.(time.Time)
		if err != nil || !ok {
			// MySQL compares a string that is no date as the zero date.
			ctx.Warn(1292, "Incorrect datetime value: '%v'", v)
			t = time.Time{}
		}
		if bestArg < 0 || (x.name == "greatest" && t.After(best)) || (x.name == "least" && t.Before(best)) {
			best, bestVal, bestArg = t, v, i
		}
	}
	if x.typ != types.LongText {
		out, _, err := x.typ.Convert(ctx, best)
		return out, err
	}
	// Text: the winner as its argument prints it.
	if s, ok := bestVal.(string); ok {
		return s, nil
	}
	sv, err := x.args[bestArg].Type(ctx).SQL(ctx, nil, bestVal)
	if err != nil {
		return nil, err
	}
	return sv.ToString(), nil
}

// decimalExtremeType is the DECIMAL type of GREATEST or LEAST over args
// when every argument is an integer, a DECIMAL or NULL and at least one is
// a DECIMAL: the most integer digits and the most scale of any; else nil.
func decimalExtremeType(ctx *sql.Context, args []sql.Expression) sql.DecimalType {
	intDigits, scale, decimals := 0, 0, 0
	for _, a := range args {
		if !a.Resolved() {
			return nil
		}
		t := a.Type(ctx)
		switch {
		case types.IsNullType(t):
		case types.IsInteger(t) && t.Type() != sqltypes.Year:
			intDigits = max(intDigits, integerDigits(t))
		case types.IsDecimal(t):
			d := t.(sql.DecimalType)
			intDigits = max(intDigits, int(d.Precision())-int(d.Scale()))
			scale = max(scale, int(d.Scale()))
			decimals++
		default:
			return nil
		}
	}
	if decimals == 0 || len(args) < 2 {
		return nil
	}
	prec := min(max(intDigits+scale, 1), types.DecimalTypeMaxPrecision)
	typ, err := types.CreateDecimalType(uint8(prec), uint8(min(scale, prec)))
	if err != nil {
		return nil
	}
	return typ
}

// decimalExtreme is GREATEST or LEAST compared as exact decimals.
type decimalExtreme struct {
	name string // greatest or least
	args []sql.Expression
	typ  sql.DecimalType
}

var _ sql.FunctionExpression = (*decimalExtreme)(nil)

func (x *decimalExtreme) FunctionName() string { return x.name }
func (x *decimalExtreme) Description() string {
	return "arb: MySQL 8 " + strings.ToUpper(x.name) + " of decimals"
}
func (x *decimalExtreme) Children() []sql.Expression   { return x.args }
func (x *decimalExtreme) Type(*sql.Context) sql.Type   { return x.typ }
func (x *decimalExtreme) IsNullable(*sql.Context) bool { return true }
func (x *decimalExtreme) Resolved() bool {
	for _, a := range x.args {
		if !a.Resolved() {
			return false
		}
	}
	return true
}
func (x *decimalExtreme) String() string {
	parts := make([]string, len(x.args))
	for i, a := range x.args {
		parts[i] = a.String()
	}
	return strings.ToUpper(x.name) + "(" + strings.Join(parts, ",") + ")"
}
func (x *decimalExtreme) WithChildren(ctx *sql.Context, ch ...sql.Expression) (sql.Expression, error) {
	if len(ch) != len(x.args) {
		return nil, sql.ErrInvalidChildrenNumber.New(x, len(ch), len(x.args))
	}
	return newExtreme(ctx, x.name, ch)
}

func (x *decimalExtreme) Eval(ctx *sql.Context, row sql.Row) (any, error) {
	var best decimal.Decimal
	for i, a := range x.args {
		v, err := a.Eval(ctx, row)
		if err != nil || v == nil {
			return nil, err
		}
		d, err := exactDecimal(ctx, v)
		if err != nil {
			return nil, fmt.Errorf("%s of %v: %w", strings.ToUpper(x.name), v, err)
		}
		if i == 0 || (x.name == "greatest" && d.GreaterThan(best)) || (x.name == "least" && d.LessThan(best)) {
			best = d
		}
	}
	return best.Round(int32(x.typ.Scale())), nil
}

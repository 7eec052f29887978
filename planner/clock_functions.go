package planner

// NOW, CURRENT_TIMESTAMP, LOCALTIME, LOCALTIMESTAMP, SYSDATE, CURTIME,
// CURRENT_TIME and UTC_TIME with MySQL 8's result types (8.0 manual 14.7
// "Date and Time Functions": "If the fsp argument is given ... the
// return value includes a fractional seconds part of that many digits").
// go-mysql-server types NOW(n) and CURRENT_TIMESTAMP (which the parser
// hands over as CURRENT_TIMESTAMP(0)) DATETIME(6), so a client reads
// '2025-01-01 10:00:00.000000' for CURRENT_TIMESTAMP and six digits for
// NOW(3); CURTIME(n) and CURRENT_TIME always print six zero digits and
// drop the fraction; UTC_TIME is missing (1305).
//
// The rule replaceClock wraps each go-mysql-server Now and CurrTime in
// clock, which keeps the wrapped function's value (the statement's time,
// SYSDATE's exact time, in the session time zone) and gives it
// DATETIME(fsp) or TIME(fsp). The functions themselves stay
// go-mysql-server's, because its DDL path recognises *function.Now
// (DEFAULT CURRENT_TIMESTAMP); UTC_TIME is added (Functions).
//
// INVARIANT: a clock's value printed by its type has exactly fsp
// fractional digits, none for fsp 0 (server/time_functions_test.go).

import (
	"fmt"
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
)

// clock is NOW-like inner (a *function.Now or *function.CurrTime) typed
// as MySQL types it.
type clock struct {
	inner  sql.Expression
	fsp    int
	isTime bool // CURTIME: a TIME, else a DATETIME
}

var (
	_ sql.FunctionExpression         = (*clock)(nil)
	_ sql.NonDeterministicExpression = (*clock)(nil)
	_ sql.CollationCoercible         = (*clock)(nil)
)

// FunctionName is the wrapped function's, which push_filter's isConstant
// knows ("now", "current_time").
func (c *clock) FunctionName() string {
	return c.inner.(sql.FunctionExpression).FunctionName()
}
func (c *clock) Description() string {
	return "arb: MySQL 8 " + strings.ToUpper(c.FunctionName())
}

// Children is the wrapped NOW, or none for CURTIME: go-mysql-server's
// CurrTime refuses its own precision argument back in WithChildren
// (MIN(CURTIME(4)) FROM events failed when a rule rebuilt it), and a
// TIME clock evaluates without it.
func (c *clock) Children() []sql.Expression {
	if c.isTime {
		return nil
	}
	return []sql.Expression{c.inner}
}

func (c *clock) Resolved() bool               { return c.inner.Resolved() }
func (c *clock) String() string               { return c.inner.String() }
func (c *clock) IsNullable(*sql.Context) bool { return false }
func (c *clock) IsNonDeterministic() bool     { return true }
func (c *clock) CollationCoercibility(*sql.Context) (sql.CollationID, byte) {
	return sql.Collation_binary, 5
}

func (c *clock) Type(*sql.Context) sql.Type {
	if c.isTime {
		return timeFsp{TimeType: types.Time, fsp: c.fsp}
	}
	return types.MustCreateDatetimeType(sqltypes.Datetime, c.fsp)
}

func (c *clock) WithChildren(_ *sql.Context, ch ...sql.Expression) (sql.Expression, error) {
	if want := len(c.Children()); len(ch) != want {
		return nil, sql.ErrInvalidChildrenNumber.New(c, len(ch), want)
	}
	if c.isTime {
		return c, nil
	}
	return &clock{inner: ch[0], fsp: c.fsp, isTime: c.isTime}, nil
}

func (c *clock) Eval(ctx *sql.Context, row sql.Row) (any, error) {
	if !c.isTime {
		v, err := c.inner.Eval(ctx, row)
		if t, ok := v.(time.Time); ok {
			return t.Truncate(fspUnit(c.fsp)), err
		}
		return v, err
	}
	// go-mysql-server's CurrTime drops the fraction: read NOW(6) and
	// keep the time of day.
	now, err := function.NewNow(ctx, expression.NewLiteral(int64(6), types.Int64))
	if err != nil {
		return nil, err
	}
	v, err := now.Eval(ctx, row)
	if err != nil {
		return nil, err
	}
	t, ok := v.(time.Time)
	if !ok {
		return nil, fmt.Errorf("%s: NOW() gave %T", c.FunctionName(), v)
	}
	return timeOfDay(t, c.fsp), nil
}

// timeOfDay is t's time of day as a TIME value, cut to fsp digits.
func timeOfDay(t time.Time, fsp int) types.Timespan {
	day := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, t.Location())
	return timespan(int64(t.Sub(day).Truncate(fspUnit(fsp)) / time.Microsecond))
}

// fspUnit is the duration of the last of fsp fractional digits.
func fspUnit(fsp int) time.Duration {
	d := time.Second
	for range fsp {
		d /= 10
	}
	return d
}

// timeFsp is TIME(fsp) as MySQL prints it: exactly fsp fractional
// digits (go-mysql-server's TIME always prints six).
type timeFsp struct {
	types.TimeType
	fsp int
}

func (t timeFsp) SQL(ctx *sql.Context, dest []byte, v any) (sqltypes.Value, error) {
	return timeSQL(dest, v, t.fsp)
}

// MaxTextResponseByteLength carries fsp to the server, which sends it as
// the column's decimals: go-mysql-server sends a TIME column without
// decimals (CURTIME(3)'s metadata said 0). See TimeColumnLength.
func (t timeFsp) MaxTextResponseByteLength(*sql.Context) uint32 {
	return TimeColumnLength(t.fsp)
}

// TimeColumnLength is the column length go-mysql-server sends for a TIME
// with fsp fractional digits: MySQL's ("-838:59:59", and the point and
// fsp digits when fsp > 0: 10, 12 … 17), except 18 for fsp 6, since 17
// is also what go-mysql-server's own TIME, of unknown digits, says. The
// server turns 18 back into 17 (server/result_fields.go).
func TimeColumnLength(fsp int) uint32 {
	switch {
	case fsp <= 0:
		return 10
	case fsp >= 6:
		return 18
	}
	return uint32(11 + fsp)
}

func (t timeFsp) Equals(o sql.Type) bool {
	ot, ok := o.(timeFsp)
	return ok && ot.fsp == t.fsp
}

// constantFsp is the precision argument of a clock function: 0 when
// there is none, ok false when it is no constant from 0 to 6.
func constantFsp(ctx *sql.Context, args []sql.Expression) (int, bool) {
	if len(args) == 0 {
		return 0, true
	}
	if _, isLit := args[0].(*expression.Literal); len(args) > 1 || !isLit {
		return 0, false
	}
	v, err := args[0].Eval(ctx, nil)
	if err != nil || v == nil {
		return 0, false
	}
	n, ok := toInt64(ctx, v)
	if !ok || n < 0 || n > 6 {
		return 0, false
	}
	return int(n), true
}

// replaceClock wraps each go-mysql-server NOW and CURRENT_TIME in clock
// (idempotent: a second run's inner wrapper is dropped).
func replaceClock(ctx *sql.Context, _ *analyzer.Analyzer, n sql.Node, _ *plan.Scope, _ analyzer.RuleSelector, _ *sql.QueryFlags) (sql.Node, transform.TreeIdentity, error) {
	wrap := func(ctx *sql.Context, e sql.Expression) (sql.Expression, transform.TreeIdentity, error) {
		isTime := false
		switch x := e.(type) {
		case *clock:
			if inner, ok := x.inner.(*clock); ok {
				return inner, transform.NewTree, nil
			}
			return e, transform.SameTree, nil
		case *function.Now:
		case *function.CurrTime:
			isTime = true
		default:
			return e, transform.SameTree, nil
		}
		fsp, ok := constantFsp(ctx, e.Children())
		if !ok {
			return e, transform.SameTree, nil // go-mysql-server's error, or its type
		}
		return &clock{inner: e, fsp: fsp, isTime: isTime}, transform.NewTree, nil
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

// UTC_TIME([fsp]): the statement's time of day in UTC, a TIME with fsp
// fractional digits.
func newUTCTime(ctx *sql.Context, args ...sql.Expression) (sql.Expression, error) {
	if len(args) > 1 {
		return nil, sql.ErrInvalidArgumentNumber.New("UTC_TIME", "0 or 1", len(args))
	}
	fsp, ok := constantFsp(evalContext(ctx), args)
	if !ok {
		return nil, fmt.Errorf("too-big precision %s specified for 'utc_time'. Maximum is 6", args[0])
	}
	s := &scalar{name: "utc_time", args: args, typ: timeFsp{TimeType: types.Time, fsp: fsp},
		remake: func(ctx *sql.Context, a []sql.Expression) (sql.Expression, error) {
			return newUTCTime(ctx, a...)
		}}
	s.eval = func(ctx *sql.Context, _ []any) (any, error) {
		return timeOfDay(ctx.QueryTime().UTC(), fsp), nil
	}
	return s, nil
}

package planner

// DATE_ADD, DATE_SUB and date ± INTERVAL with MySQL 8's result types.
// go-mysql-server computes the right instant but types it DATETIME(6)
// for every DATETIME input or time interval, and DATETIME for DATE +
// INTERVAL n QUARTER (expression.Arithmetic), where MySQL gives a DATE
// when a DATE moves by years, quarters, months, weeks or days, and
// otherwise a DATETIME as precise as its input (or 6 digits for a
// microsecond interval). Metabase's and Superset's quarter buckets
// (MAKEDATE(y, 1) + INTERVAL q QUARTER) and Superset's hour and minute
// buckets come back with the wrong column type (a time part, six zero
// digits). The rule replaceDateArith wraps each such expression in
// dateArith, which evaluates it as before and converts the value to the
// MySQL type. Inputs of other types (strings, TIME) keep go-mysql-
// server's typing.

import (
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

// dateArith is a date ± interval with MySQL's type; its one child is the
// wrapped expression (go-mysql-server's interval check wants an interval
// right under its arithmetic). A second run of the rule wraps the child
// again and then drops the outer wrapper, so it is idempotent.
type dateArith struct {
	inner sql.Expression
	typ   sql.Type
	name  string // date_add or date_sub (push_filter's isConstant knows them)
}

var _ sql.FunctionExpression = (*dateArith)(nil)

func (d *dateArith) FunctionName() string         { return d.name }
func (d *dateArith) Description() string          { return "arb: MySQL 8 " + strings.ToUpper(d.name) }
func (d *dateArith) Children() []sql.Expression   { return []sql.Expression{d.inner} }
func (d *dateArith) Type(*sql.Context) sql.Type   { return d.typ }
func (d *dateArith) IsNullable(*sql.Context) bool { return true }
func (d *dateArith) Resolved() bool               { return d.inner.Resolved() }
func (d *dateArith) String() string               { return d.inner.String() }
func (d *dateArith) WithChildren(_ *sql.Context, ch ...sql.Expression) (sql.Expression, error) {
	if len(ch) != 1 {
		return nil, sql.ErrInvalidChildrenNumber.New(d, len(ch), 1)
	}
	return &dateArith{inner: ch[0], typ: d.typ, name: d.name}, nil
}

func (d *dateArith) Eval(ctx *sql.Context, row sql.Row) (any, error) {
	var v any
	var err error
	if a, ok := d.inner.(*expression.Arithmetic); ok {
		v, err = evalIntervalArithmetic(ctx, a, row)
	} else {
		v, err = d.inner.Eval(ctx, row)
	}
	if err != nil || v == nil {
		return v, err
	}
	out, _, err := d.typ.Convert(ctx, v)
	return out, err
}

// evalIntervalArithmetic is date ± interval as DATE_ADD computes it:
// go-mysql-server's Arithmetic drops a DATETIME's fractional seconds.
func evalIntervalArithmetic(ctx *sql.Context, a *expression.Arithmetic, row sql.Row) (any, error) {
	date, iv, sub := a.LeftChild, a.RightChild, a.Op == "-"
	if i, ok := a.LeftChild.(*expression.Interval); ok {
		date, iv = a.RightChild, i
	}
	v, err := date.Eval(ctx, row)
	if err != nil || v == nil {
		return nil, err
	}
	delta, err := iv.(*expression.Interval).EvalDelta(ctx, row)
	if err != nil || delta == nil {
		return nil, err
	}
	tv, _, err := types.DatetimeMaxRange.Convert(ctx, v)
	t, ok := tv.(time.Time)
	if err != nil || !ok || t.Equal(types.ZeroTime) {
		ctx.Warn(1292, "Incorrect datetime value: '%v'", v)
		return nil, nil
	}
	if sub {
		return types.ValidateTime(delta.Sub(t)), nil
	}
	return types.ValidateTime(delta.Add(t)), nil
}

// mysqlDateArithType is the type MySQL 8 gives date ± iv, or nil when
// go-mysql-server's is kept.
func mysqlDateArithType(ctx *sql.Context, date sql.Expression, iv *expression.Interval) sql.Type {
	unit := strings.ToUpper(iv.Unit)
	fsp := 0
	if strings.Contains(unit, "MICROSECOND") {
		fsp = 6
	}
	in := date.Type(ctx)
	switch {
	case in == types.Date:
		switch unit {
		case "YEAR", "QUARTER", "MONTH", "WEEK", "DAY", "YEAR_MONTH":
			return types.Date
		}
		return types.MustCreateDatetimeType(sqltypes.Datetime, fsp)
	case types.IsDatetimeType(in) || types.IsTimestampType(in):
		if dt, ok := in.(sql.DatetimeType); ok {
			fsp = max(fsp, dt.Precision())
		}
		return types.MustCreateDatetimeType(sqltypes.Datetime, fsp)
	}
	return nil
}

// replaceDateArith wraps date ± interval expressions in dateArith.
func replaceDateArith(ctx *sql.Context, _ *analyzer.Analyzer, n sql.Node, _ *plan.Scope, _ analyzer.RuleSelector, _ *sql.QueryFlags) (sql.Node, transform.TreeIdentity, error) {
	wrap := func(ctx *sql.Context, e sql.Expression) (sql.Expression, transform.TreeIdentity, error) {
		var date sql.Expression
		var iv *expression.Interval
		name := "date_add"
		switch x := e.(type) {
		case *dateArith:
			if inner, ok := x.inner.(*dateArith); ok {
				return inner, transform.NewTree, nil // wrapped again by a second run
			}
		case *function.DateAdd:
			date, iv = x.Date, x.Interval
		case *function.DateSub:
			date, iv, name = x.Date, x.Interval, "date_sub"
		case *expression.Arithmetic:
			switch {
			case x.Op == "+" || x.Op == "-":
				if i, ok := x.RightChild.(*expression.Interval); ok {
					date, iv = x.LeftChild, i
					if x.Op == "-" {
						name = "date_sub"
					}
				} else if i, ok := x.LeftChild.(*expression.Interval); ok && x.Op == "+" {
					date, iv = x.RightChild, i
				}
			}
		}
		if iv == nil || !date.Resolved() {
			return e, transform.SameTree, nil
		}
		typ := mysqlDateArithType(ctx, date, iv)
		if typ == nil {
			return e, transform.SameTree, nil
		}
		return &dateArith{inner: e, typ: typ, name: name}, transform.NewTree, nil
	}
	out, same, err := transform.NodeWithOpaque(ctx, n, func(ctx *sql.Context, n sql.Node) (sql.Node, transform.TreeIdentity, error) {
		return transform.NodeExprsWithOpaque(ctx, n, wrap)
	})
	if err != nil {
		// A node that takes no other expression there (a column
		// default, say): leave the statement as it is.
		return n, transform.SameTree, nil
	}
	return out, same, nil
}

package planner

// CAST(x AS TIME[(fsp)]) and CONVERT(x, TIME[(fsp)]) as MySQL 8 has
// them: the value rounded to fsp fractional digits (0 when none is
// given) and printed with exactly fsp digits, the column's decimals fsp.
// go-mysql-server keeps every microsecond and prints six digits:
// CAST('10:11:12.123456' AS TIME(2)) was 10:11:12.123456 (MySQL:
// 10:11:12.12) and CAST(123456 AS TIME) 12:34:56.000000 (12:34:56). The
// rule replaceTimeCasts wraps each such conversion in timeCast.

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/analyzer"
	"github.com/dolthub/go-mysql-server/sql/expression"
	"github.com/dolthub/go-mysql-server/sql/plan"
	"github.com/dolthub/go-mysql-server/sql/transform"
	"github.com/dolthub/go-mysql-server/sql/types"
)

// timeCast is a conversion to TIME rounded to fsp digits.
type timeCast struct {
	conv *expression.Convert // its result is go-mysql-server's TIME
	fsp  int
}

var _ sql.Expression = (*timeCast)(nil)

// timeCastFsp is the precision of a conversion to TIME; false for any
// other conversion. Convert keeps its length unexported; its String is
// "convert(<child>, time)" or "convert(<child>, time(<fsp>))".
func timeCastFsp(c *expression.Convert) (int, bool) {
	s := c.String()
	if strings.HasSuffix(s, ", time)") {
		return 0, true
	}
	i := strings.LastIndex(s, ", time(")
	if i < 0 || !strings.HasSuffix(s, "))") {
		return 0, false
	}
	fsp, err := strconv.Atoi(s[i+len(", time(") : len(s)-2])
	if err != nil || fsp < 0 || fsp > 6 {
		return 0, false
	}
	return fsp, true
}

func (t *timeCast) Resolved() bool                   { return t.conv.Resolved() }
func (t *timeCast) IsNullable(ctx *sql.Context) bool { return t.conv.IsNullable(ctx) }
func (t *timeCast) Children() []sql.Expression       { return t.conv.Children() }
func (t *timeCast) Type(*sql.Context) sql.Type {
	return timeFsp{TimeType: types.Time, fsp: t.fsp}
}

func (t *timeCast) String() string { return t.conv.String() }

func (t *timeCast) WithChildren(ctx *sql.Context, ch ...sql.Expression) (sql.Expression, error) {
	c, err := t.conv.WithChildren(ctx, ch...)
	if err != nil {
		return nil, err
	}
	conv, ok := c.(*expression.Convert)
	if !ok {
		return nil, fmt.Errorf("BUG: CAST AS TIME rebuilt as %T", c)
	}
	return &timeCast{conv: conv, fsp: t.fsp}, nil
}

// Eval is go-mysql-server's conversion rounded half away from zero to
// fsp digits (MySQL rounds a TIME's fraction; it does not truncate).
func (t *timeCast) Eval(ctx *sql.Context, row sql.Row) (any, error) {
	v, err := t.conv.Eval(ctx, row)
	if err != nil || v == nil {
		return v, err
	}
	ts, err := types.TimespanType_{}.ConvertToTimespan(v)
	if err != nil {
		return nil, err
	}
	us := ts.AsMicroseconds()
	unit := int64(1)
	for range 6 - t.fsp {
		unit *= 10
	}
	if r := us % unit; r != 0 {
		us -= r
		if 2*r >= unit {
			us += unit
		} else if 2*r <= -unit {
			us -= unit
		}
	}
	return timespan(us), nil
}

// replaceTimeCasts wraps every conversion to TIME in the plan in a
// timeCast. It is idempotent: a timeCast's own Convert is its child in
// no tree the transform walks.
func replaceTimeCasts(ctx *sql.Context, _ *analyzer.Analyzer, n sql.Node, _ *plan.Scope, _ analyzer.RuleSelector, _ *sql.QueryFlags) (sql.Node, transform.TreeIdentity, error) {
	swap := func(ctx *sql.Context, e sql.Expression) (sql.Expression, transform.TreeIdentity, error) {
		if c, ok := e.(*expression.Convert); ok {
			if fsp, ok := timeCastFsp(c); ok {
				return &timeCast{conv: c, fsp: fsp}, transform.NewTree, nil
			}
		}
		return e, transform.SameTree, nil
	}
	return transform.NodeWithOpaque(ctx, n, func(ctx *sql.Context, n sql.Node) (sql.Node, transform.TreeIdentity, error) {
		return transform.NodeExprsWithOpaque(ctx, n, swap)
	})
}

package planner

import (
	"fmt"
	"io"
	"strings"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/plan"
	"github.com/shopspring/decimal"

	"arb/engine"
	"arb/storage"
)

// AggregateNode is a GroupBy (with its filter and table) that arb's
// engine runs natively. It has the GroupBy's schema and projected
// expressions, so the nodes above it see the same columns.
//
// Implements sql.Node, sql.ExecSourceRel, sql.Projector.
type AggregateNode struct {
	groupBy *plan.GroupBy // the replaced node: schema and expressions
	table   AggregatableTable
	spec    engine.Aggregation // without Snap: taken per execution
	outs    []aggOutput        // per select dependency
	consts  []int64            // per select dependency: k of an outConstSum (nil: none)
}

var (
	_ sql.ExecSourceRel = (*AggregateNode)(nil)
	_ sql.Projector     = (*AggregateNode)(nil)
)

// NativeMarker starts the EXPLAIN line of every node arb's engine runs.
const NativeMarker = "arb engine"

func (n *AggregateNode) Resolved() bool { return true }
func (n *AggregateNode) String() string {
	return NativeMarker + " " + n.table.Name() + " [" + n.spec.String() + "]"
}
func (n *AggregateNode) Schema(ctx *sql.Context) sql.Schema { return n.groupBy.Schema(ctx) }
func (n *AggregateNode) Children() []sql.Node               { return nil }
func (n *AggregateNode) IsReadOnly() bool                   { return true }
func (n *AggregateNode) ProjectedExprs() []sql.Expression   { return n.groupBy.SelectDeps }
func (n *AggregateNode) WithChildren(_ *sql.Context, children ...sql.Node) (sql.Node, error) {
	if len(children) != 0 {
		return nil, sql.ErrInvalidChildrenNumber.New(n, len(children), 0)
	}
	return n, nil
}

// CollationCoercibility is the GroupBy's.
func (n *AggregateNode) CollationCoercibility(ctx *sql.Context) (sql.CollationID, byte) {
	return n.groupBy.CollationCoercibility(ctx)
}

// RowIter runs the aggregation over a snapshot taken now.
func (n *AggregateNode) RowIter(ctx *sql.Context, _ sql.Row) (sql.RowIter, error) {
	groups, err := n.run(ctx)
	if err != nil {
		return nil, err
	}
	return sqlRows(groups, n.toSQL), nil
}

// run is the engine's groups over a snapshot taken now.
func (n *AggregateNode) run(ctx *sql.Context) ([][]storage.Value, error) {
	spec := n.spec
	spec.Snap = n.table.Snapshot()
	return spec.Run(ctx)
}

// sqlRows hands out engine rows, converting column j's values by
// conv(j, v) as each row is asked for: converting all of them first would
// hold a second copy of a result of millions of groups.
func sqlRows(groups [][]storage.Value, conv func(j int, v storage.Value) any) *rowsIter {
	return &rowsIter{groups: groups, conv: conv}
}

func (n *AggregateNode) toSQL(j int, v storage.Value) any {
	if n.outs[j] == outRetention && !v.IsNull() {
		text := strings.Trim(v.Str, "[]")
		var flags []bool
		if text != "" {
			for _, f := range strings.Split(text, ",") {
				flags = append(flags, f == "1")
			}
		}
		return RetentionJSON(flags)
	}
	if n.outs[j] == outDecimal && !v.IsNull() {
		return exactSQL(v)
	}
	if n.outs[j] == outConstSum {
		// v is the group's row count; SUM over no rows is NULL.
		if v.IsNull() || v.Int == 0 {
			return nil
		}
		return decimal.NewFromInt(n.consts[j]).Mul(decimal.NewFromInt(v.Int))
	}
	return n.table.ToSQL(v)
}

// exactSQL is an engine exact sum (its decimal's text) as a decimal.
func exactSQL(v storage.Value) decimal.Decimal {
	d, err := decimal.NewFromString(v.Str)
	if err != nil {
		panic(fmt.Sprintf("BUG: engine exact sum %q is no decimal: %v", v.Str, err))
	}
	return d
}

// rowsIter hands out materialised rows. Next checks the query's context
// every engine.CheckEveryRows rows, so that KILL and max_execution_time
// stop it even when the rows go to an operator that does not check.
type rowsIter struct {
	groups [][]storage.Value
	conv   func(j int, v storage.Value) any
	pos    int
}

func (it *rowsIter) Next(ctx *sql.Context) (sql.Row, error) {
	if it.pos >= len(it.groups) {
		return nil, io.EOF
	}
	if it.pos%engine.CheckEveryRows == 0 {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
	g := it.groups[it.pos]
	it.groups[it.pos] = nil // handed out: the caller owns the row now
	it.pos++
	row := make(sql.Row, len(g))
	for j, v := range g {
		row[j] = it.conv(j, v)
	}
	return row, nil
}

func (it *rowsIter) Close(*sql.Context) error {
	it.groups = nil
	return nil
}

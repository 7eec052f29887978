package planner

import (
	"strings"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/expression"
	"github.com/dolthub/go-mysql-server/sql/expression/function/aggregation"
	"github.com/dolthub/go-mysql-server/sql/plan"

	"arb/engine"
	"arb/storage"
)

// planRegroup builds a RegroupNode for a GroupBy over a derived table
// whose rows an AggregateNode computes:
//
//	GroupBy(keys, aggs) ← SubqueryAlias ← Project(columns) ← AggregateNode
//
// (users per funnel depth: the inner level groups by user, the outer by
// level). It fires when every Project column is one of the inner node's
// outputs, every outer key a column of the derived table, and every outer
// aggregate one Regroup runs; the outer rows are then grouped natively
// instead of being handed one by one through go-mysql-server.
func planRegroup(ctx *sql.Context, gb *plan.GroupBy) (*RegroupNode, bool) {
	sa, ok := gb.Child.(*plan.SubqueryAlias)
	if !ok {
		return nil, false
	}
	// Derived-table column name → the inner output it shows.
	byName := map[string]int{}
	var projections []sql.Expression
	inner, ok := sa.Child.(*AggregateNode)
	if ok {
		for j, c := range inner.Schema(ctx) {
			byName[strings.ToLower(c.Name)] = j
		}
	} else {
		proj, ok := sa.Child.(*plan.Project)
		if !ok {
			return nil, false
		}
		if inner, ok = proj.Child.(*AggregateNode); !ok {
			return nil, false
		}
		projections = proj.Projections
	}
	for _, p := range projections {
		name, x := "", p
		switch e := p.(type) {
		case *expression.Alias:
			name, x = e.Name(), e.Child
		case *expression.GetField:
			name = e.Name()
		default:
			return nil, false
		}
		j := innerOutput(inner, x)
		if j < 0 {
			return nil, false
		}
		byName[strings.ToLower(name)] = j
	}
	column := func(e sql.Expression) (int, bool) {
		gf, ok := e.(*expression.GetField)
		if !ok || !strings.EqualFold(gf.Table(), sa.Name()) {
			return 0, false
		}
		j, ok := byName[strings.ToLower(gf.Name())]
		return j, ok
	}
	var r engine.Regroup
	keyCols := map[int]bool{}
	for _, e := range gb.GroupByExprs {
		j, ok := column(e)
		if !ok {
			return nil, false
		}
		r.Keys = append(r.Keys, j)
		keyCols[j] = true
	}
	for _, e := range gb.SelectDeps {
		if a, ok := e.(*expression.Alias); ok {
			e = a.Child
		}
		var a engine.RegroupAgg
		switch f := e.(type) {
		case *expression.GetField:
			j, ok := column(f)
			if !ok || !keyCols[j] {
				return nil, false // a bare non-key column: any row's value
			}
			a = engine.RegroupAgg{Kind: engine.AggAny, Column: j}
		case *aggregation.Count:
			if _, isLit := f.Child.(*expression.Literal); isLit {
				a = engine.RegroupAgg{Kind: engine.AggCount, Column: -1}
				break
			}
			j, ok := column(f.Child)
			if !ok {
				return nil, false
			}
			a = engine.RegroupAgg{Kind: engine.AggCount, Column: j}
		case *ExactSum: // over integer outputs: counts, levels, integer columns
			arg, avg, typ := f.ExactSumArg()
			j, ok := numericOutput(inner, column, arg)
			if !ok || !integerOutput(inner, j) {
				return nil, false
			}
			kind := engine.AggSum
			if avg {
				kind = engine.AggAvg
			}
			a = engine.RegroupAgg{Kind: kind, Column: j, Exact: true, Scale: int32(typ.Scale())}
		case *aggregation.Sum:
			j, ok := numericOutput(inner, column, f.Child)
			if !ok {
				return nil, false
			}
			a = engine.RegroupAgg{Kind: engine.AggSum, Column: j}
		case *aggregation.Avg:
			j, ok := numericOutput(inner, column, f.Child)
			if !ok {
				return nil, false
			}
			a = engine.RegroupAgg{Kind: engine.AggAvg, Column: j}
		default:
			return nil, false
		}
		r.Aggs = append(r.Aggs, a)
	}
	if r.Check() != nil {
		return nil, false
	}
	return &RegroupNode{groupBy: gb, inner: inner, regroup: r}, true
}

// innerOutput is the index of the inner node's output that x is, or -1.
// go-mysql-server refers to an aggregate above its GroupBy by a column
// named as the aggregate's lower-cased text.
func innerOutput(inner *AggregateNode, x sql.Expression) int {
	if gf, ok := x.(*expression.GetField); ok {
		for j, dep := range inner.groupBy.SelectDeps {
			if _, plain := dep.(*expression.GetField); !plain && strings.EqualFold(gf.Name(), dep.String()) {
				return j
			}
		}
	}
	for j, dep := range inner.groupBy.SelectDeps {
		if a, ok := dep.(*expression.Alias); ok {
			dep = a.Child
		}
		if gf, ok := x.(*expression.GetField); ok {
			if dg, ok := dep.(*expression.GetField); ok && strings.EqualFold(dg.Name(), gf.Name()) && strings.EqualFold(dg.Table(), gf.Table()) {
				return j
			}
			continue
		}
		if dep.String() == x.String() {
			return j
		}
	}
	return -1
}

// numericOutput is column for inner outputs that are numbers: counts,
// sums, window_funnel levels, or numeric columns.
func numericOutput(inner *AggregateNode, column func(sql.Expression) (int, bool), e sql.Expression) (int, bool) {
	j, ok := column(e)
	if !ok || inner.outs[j] != outPlain {
		return 0, false
	}
	switch a := inner.spec.Aggs[j]; a.Kind {
	case engine.AggCount, engine.AggCountDistinct, engine.AggSum, engine.AggAvg, engine.AggWindowFunnel:
		return j, true
	case engine.AggAny, engine.AggMin, engine.AggMax:
		ct, _ := inner.table.ColumnType(a.Column)
		return j, ct == storage.TypeInt || ct == storage.TypeFloat || ct == storage.TypeBool
	}
	return 0, false
}

// integerOutput reports whether the inner output j is always an integer
// (or NULL): a count, a window_funnel level, or an integer column.
func integerOutput(inner *AggregateNode, j int) bool {
	switch a := inner.spec.Aggs[j]; a.Kind {
	case engine.AggCount, engine.AggCountDistinct, engine.AggWindowFunnel:
		return true
	case engine.AggAny, engine.AggMin, engine.AggMax:
		ct, _ := inner.table.ColumnType(a.Column)
		return ct == storage.TypeInt || ct == storage.TypeBool
	}
	return false
}

// RegroupNode is a GroupBy over an AggregateNode's rows, run natively.
// It has the GroupBy's schema and projected expressions.
//
// Implements sql.Node, sql.ExecSourceRel, sql.Projector.
type RegroupNode struct {
	groupBy *plan.GroupBy
	inner   *AggregateNode
	regroup engine.Regroup
}

var (
	_ sql.ExecSourceRel = (*RegroupNode)(nil)
	_ sql.Projector     = (*RegroupNode)(nil)
)

func (n *RegroupNode) Resolved() bool { return true }
func (n *RegroupNode) String() string {
	return NativeMarker + " [" + n.regroup.String() + "] over " + n.inner.String()
}
func (n *RegroupNode) Schema(ctx *sql.Context) sql.Schema { return n.groupBy.Schema(ctx) }
func (n *RegroupNode) Children() []sql.Node               { return nil }
func (n *RegroupNode) IsReadOnly() bool                   { return true }
func (n *RegroupNode) ProjectedExprs() []sql.Expression   { return n.groupBy.SelectDeps }
func (n *RegroupNode) WithChildren(_ *sql.Context, children ...sql.Node) (sql.Node, error) {
	if len(children) != 0 {
		return nil, sql.ErrInvalidChildrenNumber.New(n, len(children), 0)
	}
	return n, nil
}

func (n *RegroupNode) CollationCoercibility(ctx *sql.Context) (sql.CollationID, byte) {
	return n.groupBy.CollationCoercibility(ctx)
}

func (n *RegroupNode) RowIter(ctx *sql.Context, _ sql.Row) (sql.RowIter, error) {
	groups, err := n.inner.run(ctx)
	if err != nil {
		return nil, err
	}
	out, err := n.regroup.Run(groups)
	if err != nil {
		return nil, err
	}
	return sqlRows(out, func(j int, v storage.Value) any {
		a := n.regroup.Aggs[j]
		switch {
		case a.Kind == engine.AggAny:
			return n.inner.toSQL(a.Column, v) // an inner output as it is
		case a.Exact && !v.IsNull():
			return exactSQL(v)
		}
		return n.inner.table.ToSQL(v)
	}), nil
}

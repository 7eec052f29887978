package planner

// This file owns the engine pre-filter of a join's right table: the
// conjuncts of a join condition over the right side's columns only
// (b.event = 'View Item' in LEFT JOIN events b ON b.distinct_id = … AND
// b.event = 'View Item') handed to the events table below the right side,
// as pushFilter hands a WHERE's. The engine then skips the rows (and
// blocks) no such conjunct can be TRUE on instead of decoding every row
// for the join to drop.
//
// Only where a right row whose conjunct is not TRUE can change nothing:
// inner, left outer, semi and NOT EXISTS's anti join (a NULL condition
// counts as FALSE there). Not the NULL-sensitive ones (NOT IN's anti
// join, left outer excluding NULLs), nor full outer or lateral joins.
// The join condition itself is kept whole: the predicate only
// pre-filters. Runs where arb_pushdown is on, just before planNative;
// idempotent (pushing the same predicate again changes nothing).

import (
	"strings"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/analyzer"
	"github.com/dolthub/go-mysql-server/sql/expression"
	"github.com/dolthub/go-mysql-server/sql/plan"
	"github.com/dolthub/go-mysql-server/sql/transform"
)

// rulePushJoinFilter: unused by go-mysql-server and by rules.go.
const rulePushJoinFilter analyzer.RuleId = 1102

func init() {
	// Appended before PatchAnalyzerDefaults appends planNative.
	analyzer.OnceAfterAll = append(analyzer.OnceAfterAll, analyzer.Rule{Id: rulePushJoinFilter, Apply: pushJoinFilter})
}

func pushJoinFilter(ctx *sql.Context, _ *analyzer.Analyzer, n sql.Node, _ *plan.Scope, _ analyzer.RuleSelector, _ *sql.QueryFlags) (sql.Node, transform.TreeIdentity, error) {
	if !pushdownEnabled(ctx) {
		return n, transform.SameTree, nil
	}
	// With opaque nodes: a derived table's joins (every step of a nested
	// funnel) are pushed too.
	return transform.NodeWithOpaque(ctx, n, func(ctx *sql.Context, node sql.Node) (sql.Node, transform.TreeIdentity, error) {
		j, ok := node.(*plan.JoinNode)
		if !ok || j.Filter == nil || !rightPrefilterSafe(j.Op) {
			return node, transform.SameTree, nil
		}
		conds := rightOnlyConjuncts(ctx, j)
		if len(conds) == 0 {
			return node, transform.SameTree, nil
		}
		right, same, err := withRightFilter(ctx, j.Right(), expression.JoinAnd(conds...))
		if err != nil || same {
			return node, transform.SameTree, err
		}
		nj, err := j.WithChildren(ctx, j.Left(), right)
		return nj, transform.NewTree, err
	})
}

// rightPrefilterSafe: dropping right rows whose right-only conjunct is not
// TRUE leaves op's rows as they are.
func rightPrefilterSafe(op plan.JoinType) bool {
	switch op {
	case plan.JoinTypeInner, plan.JoinTypeHash, plan.JoinTypeRangeHeap,
		plan.JoinTypeLeftOuter, plan.JoinTypeLeftOuterHash, plan.JoinTypeLeftOuterRangeHeap,
		plan.JoinTypeSemi, plan.JoinTypeSemiHash,
		plan.JoinTypeAntiIncludeNulls, plan.JoinTypeAntiHashIncludeNulls:
		return true
	}
	return false
}

// rightOnlyConjuncts are the conjuncts of j's condition that read some
// column, all of them the right input's (by position past the scope and
// the left input, and by name), with no subquery.
func rightOnlyConjuncts(ctx *sql.Context, j *plan.JoinNode) []sql.Expression {
	nl := j.ScopeLen + len(j.Left().Schema(ctx))
	rsch := j.Right().Schema(ctx)
	var out []sql.Expression
	for _, c := range expression.SplitConjunction(ctx, j.Filter) {
		reads, other := false, false
		transform.InspectExpr(ctx, c, func(_ *sql.Context, e sql.Expression) bool {
			switch x := e.(type) {
			case *expression.GetField:
				i := x.Index() - nl
				if i < 0 || i >= len(rsch) || !strings.EqualFold(rsch[i].Name, x.Name()) {
					other = true
				}
				reads = true
			case *plan.Subquery:
				other = true
			}
			return false
		})
		if reads && !other {
			out = append(out, c)
		}
	}
	return out
}

// withRightFilter is withFilter through the nodes that only narrow or
// cache a join's right input, and through go-mysql-server's process
// tracking wrapper (trackProcess has wrapped the tables by now).
func withRightFilter(ctx *sql.Context, n sql.Node, cond sql.Expression) (sql.Node, bool, error) {
	switch x := n.(type) {
	case *plan.HashLookup, *plan.CachedResults, *plan.TableAlias:
		child, same, err := withRightFilter(ctx, x.Children()[0], cond)
		if err != nil || same {
			return n, true, err
		}
		nn, err := n.WithChildren(ctx, child)
		return nn, false, err
	case *plan.ResolvedTable:
		pt, ok := x.Table.(*plan.ProcessTable)
		if !ok {
			return withFilter(ctx, n, cond)
		}
		ft, ok := pt.Table.(FilterableTable)
		if !ok {
			return n, true, nil
		}
		pred, _ := translate(ctx, ft, cond)
		if pred == nil || (ft.Filter() != nil && ft.Filter().String() == pred.String()) {
			return n, true, nil
		}
		wrapped := *pt
		wrapped.Table = ft.WithFilter(pred)
		nn, err := x.WithTable(ctx, &wrapped)
		return nn, false, err
	}
	return n, true, nil
}

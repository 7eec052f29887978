package planner

import (
	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/analyzer"
	"github.com/dolthub/go-mysql-server/sql/plan"
	"github.com/dolthub/go-mysql-server/sql/transform"

	"arb/native"
)

// assignExecIndexes is go-mysql-server's rule that turns column
// references into row positions, the last step before execution.
var assignExecIndexes analyzer.RuleId

// registerPlanNative appends planNative to go-mysql-server's last batch,
// after assignExecIndexes: a native plan compiles expressions whose
// column positions are final.
func registerPlanNative() {
	found := false
	for _, r := range analyzer.OnceAfterAll {
		if r.Id.String() == "assignExecIndexes" {
			assignExecIndexes, found = r.Id, true
		}
	}
	if !found {
		panic("planner: go-mysql-server has no assignExecIndexes rule")
	}
	analyzer.OnceAfterAll = append(analyzer.OnceAfterAll, analyzer.Rule{Id: rulePlanNative, Apply: planNative})
}

// planNative replaces the highest subtrees that package native can run
// with native plans (it runs after every other rule; the engine nodes of
// arb's other rules become the native plans' leaves).
//
// It runs only where assignExecIndexes ran in the same pass: go-mysql-
// server also runs the last batch over a subquery's plan alone, without
// that rule, and assigns the subquery's positions later from the outer
// statement. A statement in a subquery's scope is left alone too: its
// rows carry the outer row first, which the native plan does not model.
// Idempotent: a native.Node has no children.
func planNative(ctx *sql.Context, _ *analyzer.Analyzer, n sql.Node, scope *plan.Scope, sel analyzer.RuleSelector, _ *sql.QueryFlags) (sql.Node, transform.TreeIdentity, error) {
	if !pushdownEnabled(ctx) || !sel(assignExecIndexes) || (scope != nil && !scope.IsEmpty()) || !n.IsReadOnly() {
		// A statement that writes keeps its plan whole: its target table
		// is a child node, and the native plan only reads.
		return n, transform.SameTree, nil
	}
	return replaceNative(ctx, n)
}

// queryNode reports whether n only passes on or combines its children's
// rows, so that a child may become a native plan. Other nodes (SHOW
// COLUMNS, DDL, …) read their children's structure, not their rows.
func queryNode(n sql.Node) bool {
	switch n.(type) {
	case *plan.DescribeQuery, *plan.Sort, *plan.TopN, *plan.GroupBy, *plan.Window,
		*plan.JoinNode, *plan.Distinct, *plan.OrderedDistinct, *plan.SubqueryAlias,
		*plan.Project, *plan.Filter, *plan.Having, *plan.Limit, *plan.Offset, *plan.HashLookup,
		*plan.CachedResults, *plan.TableAlias, *plan.SetOp:
		return true
	}
	return false
}

func replaceNative(ctx *sql.Context, n sql.Node) (sql.Node, transform.TreeIdentity, error) {
	if _, ok := n.(*native.Node); ok {
		return n, transform.SameTree, nil
	}
	if op, _ := native.Translate(ctx, n); op != nil {
		return native.NewNode(op, n), transform.NewTree, nil
	}
	children := n.Children()
	if len(children) == 0 || !queryNode(n) {
		return n, transform.SameTree, nil
	}
	same := transform.SameTree
	next := make([]sql.Node, len(children))
	for i, c := range children {
		nc, s, err := replaceNative(ctx, c)
		if err != nil {
			return n, transform.SameTree, err
		}
		next[i] = nc
		if s == transform.NewTree {
			same = transform.NewTree
		}
	}
	if same == transform.SameTree {
		return n, same, nil
	}
	nn, err := n.WithChildren(ctx, next...)
	if err != nil {
		return n, transform.SameTree, err
	}
	return nn, transform.NewTree, nil
}

package planner

// ONLY_FULL_GROUP_BY as MySQL 8 checks it. go-mysql-server's check
// (validateGroupBy) takes every leaf of a selected expression that is not
// a literal or a grouped column for a column: NOW(), CURRENT_DATE,
// DATABASE(), VERSION(), @@version, RAND() or an uncorrelated scalar
// subquery next to an aggregate fail with 1140 (no GROUP BY) or 1055,
// though MySQL runs them — they reference no column, so they are
// functionally dependent on any grouping. BI tools send such queries
// (Metabase's `SELECT NOW(), COUNT(*)`, Superset's share of total with a
// scalar subquery). The check runs here on a copy of the plan whose
// column-free leaves are replaced by NULL literals, and the plan itself
// goes on unchanged: a selected column that is neither grouped nor
// aggregated is still refused as before.

import (
	"sync"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/analyzer"
	"github.com/dolthub/go-mysql-server/sql/expression"
	"github.com/dolthub/go-mysql-server/sql/plan"
	"github.com/dolthub/go-mysql-server/sql/transform"
	"github.com/dolthub/go-mysql-server/sql/types"
)

var patchDefaults sync.Once

// PatchAnalyzerDefaults replaces go-mysql-server's ONLY_FULL_GROUP_BY
// rule in its default rule list with checkGroupBy around it, and adds
// planNative as the last rule of all (native_plan.go). Call it before
// analyzer.NewBuilder, which copies the lists; idempotent.
func PatchAnalyzerDefaults() {
	patchDefaults.Do(func() {
		wrapped := false
		for i, r := range analyzer.OnceBeforeDefault {
			if r.Id.String() == "validateGroupBy" {
				analyzer.OnceBeforeDefault[i].Apply = checkGroupBy(r.Apply)
				wrapped = true
			}
		}
		if !wrapped {
			panic("planner: go-mysql-server has no validateGroupBy rule to wrap")
		}
		registerPlanNative()
	})
}

// checkGroupBy runs check on n with its column-free leaves masked and
// returns n itself.
func checkGroupBy(check analyzer.RuleFunc) analyzer.RuleFunc {
	return func(ctx *sql.Context, a *analyzer.Analyzer, n sql.Node, scope *plan.Scope, sel analyzer.RuleSelector, qFlags *sql.QueryFlags) (sql.Node, transform.TreeIdentity, error) {
		if !analyzer.FlagIsSet(qFlags, sql.QFlagAggregation) {
			return check(ctx, a, n, scope, sel, qFlags) // nothing to check: as it was
		}
		masked, _, err := transform.NodeWithOpaque(ctx, n, maskNodeColumnFree)
		if err != nil {
			// A node that takes no literal in that spot (a column
			// default, say): check the plan as it is.
			masked = n
		}
		if _, _, err := check(ctx, a, masked, scope, sel, qFlags); err != nil {
			return n, transform.SameTree, err
		}
		return n, transform.SameTree, nil
	}
}

// maskNodeColumnFree masks the column-free leaves of n's own expressions
// (maskColumnFree).
func maskNodeColumnFree(ctx *sql.Context, n sql.Node) (sql.Node, transform.TreeIdentity, error) {
	ne, ok := n.(sql.Expressioner)
	if !ok {
		return n, transform.SameTree, nil
	}
	exprs := ne.Expressions()
	masked := make([]sql.Expression, len(exprs))
	changed := false
	for i, e := range exprs {
		var c bool
		masked[i], c = maskColumnFree(ctx, e)
		changed = changed || c
	}
	if !changed {
		return n, transform.SameTree, nil
	}
	out, err := ne.WithExpressions(ctx, masked...)
	return out, transform.NewTree, err
}

// maskColumnFree replaces each leaf of e that is not a column or a
// literal by a NULL literal, so a function over such leaves keeps its
// shape and checks as valid; it reports whether it replaced any. An aggregate is left whole: it is valid
// whatever it reads, and go-mysql-server's check finds the aggregate a
// Project refers to by its text (MIN(CURDATE()) masked into MIN(NULL)
// was no longer found and was refused with 1140).
func maskColumnFree(ctx *sql.Context, e sql.Expression) (sql.Expression, bool) {
	switch e.(type) {
	case *expression.GetField, *expression.Literal, sql.Aggregation:
		return e, false
	}
	kids := e.Children()
	if len(kids) == 0 {
		return expression.NewLiteral(nil, types.Null), true
	}
	masked := make([]sql.Expression, len(kids))
	changed := false
	for i, k := range kids {
		var c bool
		masked[i], c = maskColumnFree(ctx, k)
		changed = changed || c
	}
	if !changed {
		return e, false
	}
	out, err := e.WithChildren(ctx, masked...)
	if err != nil {
		return e, false // takes no literal there: check it as it is
	}
	return out, true
}

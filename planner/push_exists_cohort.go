package planner

// This file owns EXISTS correlated on distinct_id as a cohort:
//
//	EXISTS (SELECT 1 FROM events m WHERE m.distinct_id = f.distinct_id AND p(m))
//
// over rows f of the same project's events is TRUE exactly when f's
// user is among the users with an event for which p is TRUE: the
// cohort of p (push_cohort.go), a bitmap of canonical users computed
// once by the engine, tested per row with one bit. NOT EXISTS is NOT
// over it. The engine then runs the outer statement whole (a filter,
// COUNT(DISTINCT distinct_id) of a period's users absent from the next:
// a bitmap AndNot) instead of a semi or anti join of two scans.
//
// What qualifies (existsCohortOf), on the subquery as the pre-analyzer
// sees it, before go-mysql-server unnests it into a join:
//   - above its WHERE only nodes that do not change whether a row exists
//     (Project, Distinct, Sort, a LIMIT of at least one row);
//   - below it the same project's events table, under an alias other
//     than the outer table's name (so each column names its side);
//   - its WHERE is one equality between its own distinct_id and the
//     outer table's, and conjuncts over its own columns that translate
//     exactly into an engine predicate (p).
//
// distinct_id is compared as SQL compares it: canonical ids (the
// cohort is of canonical users, and the outer row's distinct_id shows
// its canonical id), equal strings exactly when equal numbers. A NULL
// outer distinct_id (the events table stores none, but the expression
// may be evaluated by go-mysql-server over other rows) makes EXISTS
// FALSE, not NULL: CohortExpr.exists.

import (
	"strings"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/expression"
	"github.com/dolthub/go-mysql-server/sql/plan"
	"github.com/dolthub/go-mysql-server/sql/transform"

	"arb/engine"
	"arb/native"
	"arb/storage"
)

// existsCohortOf is ex as a cohort test of the outer events table outer
// (named outerName in the statement), if it qualifies.
func existsCohortOf(ctx *sql.Context, outer AggregatableTable, outerName string, ex *plan.ExistsSubquery) (*CohortExpr, bool) {
	sq := ex.Query
	if sq == nil || sq.Volatile() {
		return nil, false
	}
	n, ok := native.ExistenceBody(sq.Query)
	if !ok {
		return nil, false
	}
	f, ok := n.(*plan.Filter)
	if !ok {
		return nil, false
	}
	alias, ok := f.Child.(*plan.TableAlias)
	if !ok || strings.EqualFold(alias.Name(), outerName) {
		return nil, false
	}
	inner, ok := eventsTableUnder(alias)
	if !ok || inner.Project() != outer.Project() {
		return nil, false
	}
	innerName := alias.Name()
	var left *expression.GetField
	var own []sql.Expression
	for _, c := range expression.SplitConjunction(ctx, f.Expression) {
		if l, ok := correlationOf(c, innerName, outerName); ok {
			if left != nil {
				return nil, false
			}
			left = l
			continue
		}
		if !onlyColumnsOf(ctx, c, innerName) {
			return nil, false
		}
		own = append(own, c)
	}
	if left == nil {
		return nil, false
	}
	var pred engine.Predicate
	if len(own) > 0 {
		p, exact := translate(ctx, inner, expression.JoinAnd(own...))
		if p == nil || !exact {
			return nil, false
		}
		pred = p
	}
	return &CohortExpr{left: left, filter: pred, pred: engine.NewInCohort(pred), table: inner, set: &cohortSet{}, exists: true}, true
}

// correlationOf is the outer side of c when c is inner.distinct_id =
// outer.distinct_id (either way round).
func correlationOf(c sql.Expression, innerName, outerName string) (*expression.GetField, bool) {
	eq, ok := c.(*expression.Equals)
	if !ok {
		return nil, false
	}
	l, lok := eq.Left().(*expression.GetField)
	r, rok := eq.Right().(*expression.GetField)
	if !lok || !rok {
		return nil, false
	}
	if strings.EqualFold(l.Table(), innerName) {
		l, r = r, l
	}
	if !strings.EqualFold(l.Table(), outerName) || !strings.EqualFold(r.Table(), innerName) ||
		!strings.EqualFold(l.Name(), storage.ColDistinctID) || !strings.EqualFold(r.Name(), storage.ColDistinctID) {
		return nil, false
	}
	return l, true
}

// onlyColumnsOf reports whether every column e references is of table
// name, and it has no subquery.
func onlyColumnsOf(ctx *sql.Context, e sql.Expression, name string) bool {
	return !transform.InspectExpr(ctx, e, func(_ *sql.Context, e sql.Expression) bool {
		switch x := e.(type) {
		case *expression.GetField:
			return !strings.EqualFold(x.Table(), name)
		case *plan.Subquery, *plan.ExistsSubquery, *plan.InSubquery:
			return true
		}
		return false
	})
}

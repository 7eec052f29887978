package planner

import (
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/analyzer"
	"github.com/dolthub/go-mysql-server/sql/expression"
	"github.com/dolthub/go-mysql-server/sql/plan"
	"github.com/dolthub/go-mysql-server/sql/transform"
	"github.com/dolthub/go-mysql-server/sql/types"

	"arb/engine"
	"arb/storage"
)

// pushCohort turns `distinct_id IN (SELECT distinct_id FROM events WHERE
// f)` into a CohortExpr, before go-mysql-server unnests the subquery into
// a join: the engine then answers it as a bitmap of users, computed once.
// It runs in the pre-analyzer batch, while the subquery is still an
// expression. It fires only for an uncorrelated subquery over the same
// project's events whose WHERE translates exactly; idempotent.
func pushCohort(ctx *sql.Context, _ *analyzer.Analyzer, n sql.Node, _ *plan.Scope, _ analyzer.RuleSelector, _ *sql.QueryFlags) (sql.Node, transform.TreeIdentity, error) {
	if !pushdownEnabled(ctx) {
		return n, transform.SameTree, nil
	}
	return transform.Node(ctx, n, func(ctx *sql.Context, node sql.Node) (sql.Node, transform.TreeIdentity, error) {
		f, ok := node.(*plan.Filter)
		if !ok {
			return node, transform.SameTree, nil
		}
		outer, ok := eventsTableUnder(f.Child)
		if !ok {
			return node, transform.SameTree, nil
		}
		outerName := outer.Name()
		if a, ok := f.Child.(*plan.TableAlias); ok {
			outerName = a.Name()
		}
		cond, same, err := transform.Expr(ctx, f.Expression, func(ctx *sql.Context, e sql.Expression) (sql.Expression, transform.TreeIdentity, error) {
			if ex, ok := e.(*plan.ExistsSubquery); ok {
				// push_exists_cohort.go
				if c, ok := existsCohortOf(ctx, outer, outerName, ex); ok {
					return c, transform.NewTree, nil
				}
				return e, transform.SameTree, nil
			}
			in, ok := e.(*plan.InSubquery)
			if !ok {
				return e, transform.SameTree, nil
			}
			c, ok := cohortOf(ctx, outer, in)
			if !ok {
				return e, transform.SameTree, nil
			}
			return c, transform.NewTree, nil
		})
		if err != nil || same {
			return node, transform.SameTree, err
		}
		nf, err := f.WithExpressions(ctx, cond)
		return nf, transform.NewTree, err
	})
}

// eventsTableUnder finds the events table directly below a node (through
// a table alias).
func eventsTableUnder(n sql.Node) (AggregatableTable, bool) {
	if a, ok := n.(*plan.TableAlias); ok {
		n = a.Child
	}
	rt, ok := n.(*plan.ResolvedTable)
	if !ok {
		return nil, false
	}
	t, ok := rt.Table.(AggregatableTable)
	return t, ok
}

// cohortOf builds the CohortExpr for in, if it is a cohort of outer's
// project.
func cohortOf(ctx *sql.Context, outer AggregatableTable, in *plan.InSubquery) (*CohortExpr, bool) {
	left, ok := in.Left().(*expression.GetField)
	if !ok || !strings.EqualFold(left.Name(), storage.ColDistinctID) {
		return nil, false
	}
	sq, ok := in.Right().(*plan.Subquery)
	if !ok {
		return nil, false
	}
	proj, ok := sq.Query.(*plan.Project)
	if !ok || len(proj.Projections) != 1 {
		return nil, false
	}
	out, ok := proj.Projections[0].(*expression.GetField)
	if !ok || !strings.EqualFold(out.Name(), storage.ColDistinctID) {
		return nil, false
	}
	child := proj.Child
	var where sql.Expression
	if f, ok := child.(*plan.Filter); ok {
		where, child = f.Expression, f.Child
	}
	tableName := ""
	if a, ok := child.(*plan.TableAlias); ok {
		tableName = a.Name()
	}
	inner, ok := eventsTableUnder(child)
	if !ok || inner.Project() != outer.Project() {
		return nil, false
	}
	if tableName == "" {
		tableName = inner.Name()
	}
	if !strings.EqualFold(out.Table(), tableName) {
		return nil, false
	}
	var pred engine.Predicate
	if where != nil {
		// Every column must be the subquery's own: a reference to the
		// outer query would make it correlated.
		own := true
		transform.InspectExpr(ctx, where, func(_ *sql.Context, e sql.Expression) bool {
			if gf, ok := e.(*expression.GetField); ok && !strings.EqualFold(gf.Table(), tableName) {
				own = false
			}
			return !own
		})
		if !own {
			return nil, false
		}
		p, exact := translate(ctx, inner, where)
		if p == nil || !exact {
			return nil, false
		}
		pred = p
	}
	return &CohortExpr{left: left, filter: pred, pred: engine.NewInCohort(pred), table: inner, set: &cohortSet{}}, true
}

// CohortExpr is `distinct_id IN (SELECT distinct_id FROM events WHERE
// filter)` as arb evaluates it: the planner hands it to the engine as an
// engine.InCohort; where it stays in go-mysql-server's hands, Eval
// computes the cohort once per statement through the engine and tests
// membership per row.
type CohortExpr struct {
	left   sql.Expression // distinct_id of the outer table
	filter engine.Predicate
	pred   engine.InCohort // NewInCohort(filter)
	table  AggregatableTable
	set    *cohortSet
	// exists: the cohort stands for an EXISTS (push_exists_cohort.go),
	// FALSE rather than NULL for a NULL distinct_id.
	exists bool
}

// cohortSet is the cohort's canonical distinct_ids, computed on first use
// in each statement execution (a prepared statement's plan outlives one
// execution; its contexts do not).
type cohortSet struct {
	mu    sync.Mutex
	query cohortQuery // the execution the set was computed for
	ids   map[string]struct{}
	err   error
}

// cohortQuery names one statement execution: its process id and start.
type cohortQuery struct {
	pid   uint64
	start time.Time
}

func (s *cohortSet) get(ctx *sql.Context, c *CohortExpr) (map[string]struct{}, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := cohortQuery{ctx.Pid(), ctx.QueryTime()}
	if s.query == q {
		return s.ids, s.err
	}
	s.query, s.ids, s.err = q, nil, nil
	snap := c.table.Snapshot()
	users, err := engine.CohortUsers(ctx, snap, c.filter)
	if err != nil {
		s.err = err
		return nil, err
	}
	s.ids = make(map[string]struct{}, users.GetCardinality())
	users.Iterate(func(u uint32) bool {
		s.ids[snap.UserIDs.ID(u)] = struct{}{}
		return true
	})
	return s.ids, nil
}

var _ sql.Expression = (*CohortExpr)(nil)

// Predicate is the engine's form of the cohort test.
func (c *CohortExpr) Predicate() engine.Predicate { return c.pred }

func (c *CohortExpr) Resolved() bool { return c.left.Resolved() }
func (c *CohortExpr) String() string {
	if c.exists {
		return fmt.Sprintf("EXISTS %s cohort(%v) of %s", NativeMarker, c.filter, c.left)
	}
	return fmt.Sprintf("%s IN %s cohort(%v)", c.left, NativeMarker, c.filter)
}
func (c *CohortExpr) Type(*sql.Context) sql.Type   { return types.Boolean }
func (c *CohortExpr) IsNullable(*sql.Context) bool { return !c.exists }
func (c *CohortExpr) Children() []sql.Expression   { return []sql.Expression{c.left} }
func (c *CohortExpr) WithChildren(_ *sql.Context, children ...sql.Expression) (sql.Expression, error) {
	if len(children) != 1 {
		return nil, sql.ErrInvalidChildrenNumber.New(c, len(children), 1)
	}
	nc := *c
	nc.left = children[0]
	return &nc, nil
}

func (c *CohortExpr) Eval(ctx *sql.Context, row sql.Row) (any, error) {
	v, err := c.left.Eval(ctx, row)
	if err != nil {
		return nil, err
	}
	if v == nil {
		if c.exists {
			return false, nil
		}
		return nil, nil
	}
	ids, err := c.set.get(ctx, c)
	if err != nil {
		return nil, err
	}
	s, ok := v.(string)
	if !ok {
		return nil, fmt.Errorf("cohort: distinct_id is a %T", v)
	}
	_, in := ids[s]
	return in, nil
}

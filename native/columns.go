package native

// Which columns of a table a statement uses. go-mysql-server prunes a
// table's columns to those referenced only in some plans (not, for
// example, when a subquery sits in the select list), and a scan of the
// events table then decoded every property and built each row's
// properties JSON. The native scan reads only the columns some
// expression of the statement references, or that reach the result;
// the others are NULL in its batches, where nothing ever looks.

import (
	"strings"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/expression"
	"github.com/dolthub/go-mysql-server/sql/plan"
	"github.com/dolthub/go-mysql-server/sql/transform"
)

// usedColumns is every "table.column" (lower case) that an expression of
// n or of its subqueries references, plus the columns of n's own
// schema (rows that reach the result whole).
func usedColumns(ctx *sql.Context, n sql.Node) map[string]bool {
	return usedColumnsOutside(ctx, n, nil)
}

// usedColumnsOutside is usedColumns of n without what the subtree at
// skip references: the columns of skip's rows that something above it
// reads (skip's own expressions, and those below it, read its inputs'
// rows, not its output).
func usedColumnsOutside(ctx *sql.Context, n sql.Node, skip *plan.JoinNode) map[string]bool {
	used := map[string]bool{}
	for _, c := range n.Schema(ctx) {
		used[strings.ToLower(c.Source+"."+c.Name)] = true
	}
	var walkNode func(n sql.Node)
	var aliases []*plan.SubqueryAlias
	walkExpr := func(ctx *sql.Context, e sql.Expression) bool {
		switch x := e.(type) {
		case *expression.GetField:
			used[strings.ToLower(x.Table()+"."+x.Name())] = true
		case *plan.Subquery:
			// Its rows reach the expression whole (IN, a scalar
			// subquery): its own result columns are read.
			for _, c := range x.Query.Schema(ctx) {
				used[strings.ToLower(c.Source+"."+c.Name)] = true
			}
			walkNode(x.Query)
		}
		return true
	}
	walkNode = func(n sql.Node) {
		// With opaque nodes: a derived table's plan is one.
		transform.InspectWithOpaque(ctx, n, func(ctx *sql.Context, n sql.Node) bool {
			if j, ok := n.(*plan.JoinNode); ok && skip != nil && j == skip {
				return false
			}
			if !namesRows(n) {
				// Any other node may read its children's rows whole
				// (DISTINCT compares every column; INSERT … SELECT
				// stores them): every column they have is read.
				for _, c := range n.Children() {
					for _, col := range c.Schema(ctx) {
						used[strings.ToLower(col.Source+"."+col.Name)] = true
					}
				}
			}
			if sa, ok := n.(*plan.SubqueryAlias); ok {
				// It hands its child's rows on under its own name: the
				// child's column i is read when the alias's is, which
				// only the whole walk knows (below).
				aliases = append(aliases, sa)
			}
			if p, ok := n.(*plan.Project); ok {
				// A projection that hands a column on under its own
				// name reads it only if something above reads that
				// name (which marks the same "table.column"): a
				// derived table's SELECT * does not make every
				// column, the properties JSON among them, read.
				sch := p.Schema(ctx)
				for i, e := range p.Projections {
					if i < len(sch) && passedOn(e, sch[i]) {
						continue
					}
					sql.Inspect(ctx, e, walkExpr)
				}
				return true
			}
			if ex, ok := n.(sql.Expressioner); ok {
				for _, e := range ex.Expressions() {
					sql.Inspect(ctx, e, walkExpr)
				}
			}
			return true
		})
	}
	walkNode(n)
	// A derived table's column read by its alias's name reads its
	// child's column at that position; nested aliases take turns until
	// nothing changes.
	for changed := true; changed; {
		changed = false
		for _, sa := range aliases {
			child := sa.Child.Schema(ctx)
			for i, c := range sa.Schema(ctx) {
				if i >= len(child) || !used[strings.ToLower(c.Source+"."+c.Name)] {
					continue
				}
				if k := strings.ToLower(child[i].Source + "." + child[i].Name); !used[k] {
					used[k], changed = true, true
				}
			}
		}
	}
	return used
}

// namesRows reports whether node n reads its children's columns only
// through expressions naming them (so a column no expression above
// names is one nobody reads): projections, filters, sorts, limits,
// groupings, windows, joins, table aliases and tables, and derived
// tables (usedColumns maps their columns to their child's). A set
// operation is not: its first side's rows go on under its names.
func namesRows(n sql.Node) bool {
	switch n.(type) {
	case *plan.Project, *plan.Filter, *plan.Having, *plan.Sort, *plan.TopN, *plan.Limit, *plan.Offset,
		*plan.GroupBy, *plan.Window, *plan.JoinNode, *plan.TableAlias, *plan.ResolvedTable, *plan.SubqueryAlias:
		return true
	}
	return false
}

// passedOn reports whether projection e is a bare column that keeps its
// table and name as output column c.
func passedOn(e sql.Expression, c *sql.Column) bool {
	gf, ok := e.(*expression.GetField)
	return ok && strings.EqualFold(gf.Table(), c.Source) && strings.EqualFold(gf.Name(), c.Name)
}

// readColumns says which columns of sch, a table read under name, the
// statement uses.
func (tr *Translation) readColumns(name string, sch sql.Schema) []bool {
	read := make([]bool, len(sch))
	prefix := strings.ToLower(name) + "."
	for i, c := range sch {
		read[i] = tr.used == nil || tr.used[prefix+strings.ToLower(c.Name)]
	}
	return read
}

// unreadColumn is n NULLs of type t: a column no expression reads.
// Up to len(allNulls) rows share one Nulls slice (columns are read-only,
// and its capacity is cut to n, so an append copies it): a wide table
// scanned for two columns made a Nulls slice per other column and batch.
func unreadColumn(t sql.Type, n int) *Column {
	if n <= len(allNulls) {
		return &Column{Kind: KindNull, Type: t, Nulls: allNulls[:n:n]}
	}
	c := &Column{Kind: KindNull, Type: t, Nulls: make([]bool, n)}
	for i := range c.Nulls {
		c.Nulls[i] = true
	}
	return c
}

// allNulls is every row NULL, for unreadColumn. INVARIANT: never written
// after init.
var allNulls = func() []bool {
	s := make([]bool, 1<<16)
	for i := range s {
		s[i] = true
	}
	return s
}()

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
	used := map[string]bool{}
	for _, c := range n.Schema(ctx) {
		used[strings.ToLower(c.Source+"."+c.Name)] = true
	}
	var walkNode func(n sql.Node)
	walkExpr := func(ctx *sql.Context, e sql.Expression) bool {
		switch x := e.(type) {
		case *expression.GetField:
			used[strings.ToLower(x.Table()+"."+x.Name())] = true
		case *plan.Subquery:
			walkNode(x.Query)
		}
		return true
	}
	walkNode = func(n sql.Node) {
		// With opaque nodes: a derived table's plan is one.
		transform.InspectWithOpaque(ctx, n, func(ctx *sql.Context, n sql.Node) bool {
			switch n.(type) {
			case *plan.SubqueryAlias, *plan.SetOp:
				// They hand their children's rows on under other names
				// (the alias; the set operation's first side): a child
				// whose rows are a table's, with no projection left in
				// between (go-mysql-server erases a plain one), has
				// every column read by reference to the new name only.
				for _, c := range n.Children() {
					for _, col := range c.Schema(ctx) {
						used[strings.ToLower(col.Source+"."+col.Name)] = true
					}
				}
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
	return used
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

package server

// GROUP BY ... WITH ROLLUP, which go-mysql-server's parser refuses
// (syntax error at WITH) and which Tableau, Excel-style pivot tools and
// hand-written reports send for subtotals.
//
// MySQL 8 (manual 14.19.2 "GROUP BY Modifiers"): WITH ROLLUP adds, after
// the rows of each group of the first n-1 GROUP BY expressions, a
// super-aggregate row over that group, and a grand total last; in a
// super-aggregate row the rolled-up GROUP BY columns are NULL, and
// GROUPING(expr) is 1 for a rolled-up expression and 0 otherwise. The
// rows come sorted by the GROUP BY expressions, each super-aggregate row
// after the rows it sums; an ORDER BY, allowed since 8.0.12, sorts them
// instead; HAVING applies to every row; an empty input gives no rows.
//
// The parser hook rewrites the statement into one MySQL-compatible query
// go-mysql-server runs: for each level k from n down to 0, the same SELECT
// grouped by the first k expressions, in which every rolled-up GROUP BY
// expression outside an aggregate reads NULL and GROUPING(...) its
// constant, each with hidden columns holding the GROUP BY values and a
// rolled-up flag per expression; the levels joined by UNION ALL; and an
// outer SELECT that returns the original columns under their original
// names, sorted by (flag, value) per GROUP BY expression unless the query
// has an ORDER BY of its own, then LIMIT. Level 0 (the grand total) keeps
// only a non-empty input (HAVING COUNT(*) > 0), as MySQL gives no rows
// for an empty one.
//
// What is not rewritten (an error names it): SELECT *, and an ORDER BY
// term that is not a select-list column (by position, alias or the same
// expression) or a GROUP BY expression.

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/dolthub/vitess/go/mysql"
	ast "github.com/dolthub/vitess/go/vt/sqlparser"
)

// withRollupClause is WITH ROLLUP after a GROUP BY list.
var withRollupClause = regexp.MustCompile(`(?i)\s+WITH\s+ROLLUP\b`)

// rollupStatement is the first statement of query when it holds WITH
// ROLLUP: that statement without the clause (stripped), and the rest of
// query after it. ok is false when query has no WITH ROLLUP.
func rollupStatement(query string, multi bool) (stripped, rest string, ok bool) {
	if !withRollupClause.MatchString(query) {
		return "", "", false
	}
	first := query
	if multi {
		f, r, err := ast.SplitStatement(query)
		if err != nil {
			return "", "", false
		}
		first, rest = f, r
	}
	if !withRollupClause.MatchString(first) {
		return "", "", false
	}
	return withRollupClause.ReplaceAllString(first, ""), rest, true
}

// rollupColumn is a select-list column of a WITH ROLLUP query.
type rollupColumn struct {
	expr         ast.Expr
	alias, label string // alias: as written (may be empty); label: the column's name
}

// rollupQuery rewrites sel, a SELECT that had WITH ROLLUP after its GROUP
// BY, into the query described above.
func rollupQuery(sel *ast.Select) (string, error) {
	n := len(sel.GroupBy)
	if n == 0 {
		return "", mysql.NewSQLError(erParseError, "42000", "WITH ROLLUP needs a GROUP BY")
	}
	var cols []rollupColumn
	for _, se := range sel.SelectExprs {
		ae, ok := se.(*ast.AliasedExpr)
		if !ok {
			return "", mysql.NewSQLError(erNotSupportedYet, "42000", "This version of arb doesn't yet support 'SELECT * with WITH ROLLUP': name the columns")
		}
		// The name MySQL gives the column: the alias, else the text as
		// written (the parser keeps it for expressions), else the
		// column's own name.
		label := ae.As.String()
		if label == "" {
			label = ae.InputExpression
		}
		if c, ok := ae.Expr.(*ast.ColName); ok && label == "" {
			label = c.Name.String()
		}
		if label == "" {
			label = ast.String(ae.Expr)
		}
		cols = append(cols, rollupColumn{expr: ae.Expr, alias: ae.As.String(), label: label})
	}
	// The GROUP BY expressions, with positions and select-list aliases
	// resolved to the select expressions they name.
	groups := make([]ast.Expr, n)
	for j, g := range sel.GroupBy {
		groups[j] = g
		if v, ok := g.(*ast.SQLVal); ok && v.Type == ast.IntVal {
			if i, err := strconv.Atoi(string(v.Val)); err == nil && i >= 1 && i <= len(cols) {
				groups[j] = cols[i-1].expr
			}
		} else if c, ok := g.(*ast.ColName); ok && c.Qualifier.IsEmpty() {
			// MySQL resolves a GROUP BY name to a column of the FROM
			// tables before a select-list alias. Without the tables'
			// columns at hand, an alias whose expression reads a column
			// of the same name (IF(GROUPING(year), 'All', year) AS
			// year) is taken to be that column; any other alias, the
			// alias.
			for _, col := range cols {
				if col.alias != "" && strings.EqualFold(col.alias, c.Name.String()) && !readsColumn(col.expr, c.Name.String()) {
					groups[j] = col.expr
				}
			}
		}
	}
	keys := make([]string, n)
	for j, g := range groups {
		keys[j] = exprKey(g)
	}

	var branches []string
	for k := n; k >= 0; k-- {
		rolled := map[string]bool{}
		for j := k; j < n; j++ {
			rolled[keys[j]] = true
		}
		f := &rollupFormatter{rolled: rolled, keys: keys}
		var b strings.Builder
		b.WriteString("select ")
		for i, c := range cols {
			name := c.alias
			if name == "" {
				name = fmt.Sprintf("arb_rollup_c%d", i+1)
			}
			fmt.Fprintf(&b, "%s as %s, ", f.format(c.expr), quoteIdent(name))
		}
		for j := range groups {
			// The flag of expression j is 10j (kept) or 10j+1 (rolled
			// up): go-mysql-server merges a derived table's columns
			// that have the same constant expression, so every flag
			// column of a level must differ from the others.
			flag, value := 10*(j+1), f.format(groups[j])
			if j >= k {
				flag, value = flag+1, "NULL"
			}
			fmt.Fprintf(&b, "%s as arb_rollup_g%d, %d as arb_rollup_r%d", value, j+1, flag, j+1)
			if j < n-1 {
				b.WriteString(", ")
			}
		}
		b.WriteString(" from ")
		b.WriteString(ast.String(sel.From))
		if sel.Where != nil {
			b.WriteString(ast.String(sel.Where)) // rows are filtered before grouping: no NULLs
		}
		if k > 0 {
			b.WriteString(" group by ")
			for j := 0; j < k; j++ {
				if j > 0 {
					b.WriteString(", ")
				}
				b.WriteString(ast.String(sel.GroupBy[j]))
			}
		}
		having := ""
		if sel.Having != nil && sel.Having.Expr != nil {
			having = "(" + f.format(sel.Having.Expr) + ")"
		}
		if k == 0 {
			having = strings.TrimPrefix(having+" and count(*) > 0", " and ")
		}
		if having != "" {
			b.WriteString(" having " + having)
		}
		branches = append(branches, b.String())
	}

	var out strings.Builder
	if sel.With != nil {
		out.WriteString(ast.String(sel.With) + " ")
	}
	out.WriteString("select ")
	for i, c := range cols {
		name := c.alias
		if name == "" {
			name = fmt.Sprintf("arb_rollup_c%d", i+1)
		}
		if i > 0 {
			out.WriteString(", ")
		}
		fmt.Fprintf(&out, "arb_rollup.%s as %s", quoteIdent(name), quoteIdent(c.label))
	}
	out.WriteString(" from (" + strings.Join(branches, " union all ") + ") as arb_rollup order by ")
	if len(sel.OrderBy) == 0 {
		for j := range groups {
			if j > 0 {
				out.WriteString(", ")
			}
			fmt.Fprintf(&out, "arb_rollup_r%d, arb_rollup_g%d", j+1, j+1)
		}
	} else {
		for i, o := range sel.OrderBy {
			ref, err := rollupOrderRef(o.Expr, cols, keys)
			if err != nil {
				return "", err
			}
			if i > 0 {
				out.WriteString(", ")
			}
			out.WriteString(ref)
			if o.Direction == ast.DescScr {
				out.WriteString(" desc")
			}
		}
	}
	if sel.Limit != nil {
		out.WriteString(ast.String(sel.Limit))
	}
	return out.String(), nil
}

// rollupOrderRef is the outer query's column for an ORDER BY term.
func rollupOrderRef(e ast.Expr, cols []rollupColumn, keys []string) (string, error) {
	name := func(i int) string {
		if cols[i].alias != "" {
			return "arb_rollup." + quoteIdent(cols[i].alias)
		}
		return fmt.Sprintf("arb_rollup.arb_rollup_c%d", i+1)
	}
	if v, ok := e.(*ast.SQLVal); ok && v.Type == ast.IntVal {
		if i, err := strconv.Atoi(string(v.Val)); err == nil && i >= 1 && i <= len(cols) {
			return name(i - 1), nil
		}
	}
	if c, ok := e.(*ast.ColName); ok && c.Qualifier.IsEmpty() {
		for i, col := range cols {
			if col.alias != "" && strings.EqualFold(col.alias, c.Name.String()) {
				return name(i), nil
			}
		}
	}
	k := exprKey(e)
	for i, col := range cols {
		if exprKey(col.expr) == k {
			return name(i), nil
		}
	}
	for j, g := range keys {
		if g == k {
			return fmt.Sprintf("arb_rollup.arb_rollup_g%d", j+1), nil
		}
	}
	return "", mysql.NewSQLError(erNotSupportedYet, "42000", "This version of arb doesn't yet support 'ORDER BY %s with WITH ROLLUP': order by a select-list column or a GROUP BY expression", ast.String(e))
}

// exprKey identifies an expression for matching GROUP BY expressions with
// the same expression elsewhere in the statement: its SQL text, lower
// case, with a column's table qualifier dropped (GROUP BY e.event and
// SELECT event name the same column in a one-table query).
func exprKey(e ast.Expr) string {
	if c, ok := e.(*ast.ColName); ok {
		return strings.ToLower(c.Name.String())
	}
	return strings.ToLower(ast.String(e))
}

// rollupFormatter writes SQL with the rolled-up GROUP BY expressions read
// as NULL outside aggregates and window functions, and GROUPING(...)
// replaced by its value at this level.
type rollupFormatter struct {
	rolled map[string]bool // keys of the rolled-up GROUP BY expressions
	keys   []string        // keys of all GROUP BY expressions
	inAgg  int             // depth of aggregate calls being written
}

func (f *rollupFormatter) format(node ast.SQLNode) string {
	buf := ast.NewTrackedBuffer(f.node)
	buf.Myprintf("%v", node)
	return buf.String()
}

func (f *rollupFormatter) node(buf *ast.TrackedBuffer, node ast.SQLNode) {
	switch n := node.(type) {
	case *ast.FuncExpr:
		if n.Name.Lowered() == "grouping" && f.inAgg == 0 {
			// GROUPING(a, b, ...): a bit per argument, the last the
			// lowest, 1 where that argument is rolled up.
			v := 0
			for _, a := range n.Exprs {
				v <<= 1
				if ae, ok := a.(*ast.AliasedExpr); ok && f.rolled[exprKey(ae.Expr)] {
					v |= 1
				}
			}
			buf.WriteString(strconv.Itoa(v))
			return
		}
		if n.IsAggregate() || n.Over != nil {
			f.inAgg++
			n.Format(buf)
			f.inAgg--
			return
		}
	case *ast.GroupConcatExpr, *ast.Subquery:
		f.inAgg++
		node.Format(buf)
		f.inAgg--
		return
	case ast.Expr:
		if f.inAgg == 0 && f.rolled[exprKey(n)] {
			buf.WriteString("NULL")
			return
		}
	}
	node.Format(buf)
}

// readsColumn reports whether e refers to a column named name.
func readsColumn(e ast.Expr, name string) bool {
	found := false
	_ = ast.Walk(func(n ast.SQLNode) (bool, error) {
		if c, ok := n.(*ast.ColName); ok && strings.EqualFold(c.Name.String(), name) {
			found = true
		}
		return !found, nil
	}, e)
	return found
}

// quoteIdent backquotes a name for SQL.
func quoteIdent(name string) string {
	return "`" + strings.ReplaceAll(name, "`", "``") + "`"
}

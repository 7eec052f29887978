package server

// Window functions over grouped rows, which MySQL 8 runs and
// go-mysql-server refuses: its planbuilder raises 1140
// (ErrNonAggregatedColumnWithoutGroupBy) as soon as one SELECT holds both
// an aggregate (or GROUP BY) and a window function (buildAggregateFunc /
// buildWindowFunc in sql/planbuilder/aggregates.go). Analysts and BI tools
// send such queries: a rank per group, a running total of daily counts
// (Metabase's cumulative sums), a share of the total (Superset's
// percentage post-processing):
//
//	SELECT `plan`, SUM(amount) / SUM(SUM(amount)) OVER () AS share
//	FROM events GROUP BY `plan`
//
// MySQL defines window functions to run after GROUP BY and HAVING, over
// the grouped rows (MySQL 8.0 manual 14.20.1 "Window Function Concepts
// and Syntax"), so the parser hook rewrites such a SELECT into a grouped
// derived table and a window query over it:
//
//	SELECT _arb_g._arb_s0 AS `plan`,
//	       _arb_g._arb_a0 / SUM(_arb_g._arb_a0) OVER () AS share
//	FROM (SELECT `plan` AS _arb_s0, SUM(amount) AS _arb_a0
//	      FROM events GROUP BY `plan`) AS _arb_g
//
// The inner SELECT keeps FROM, WHERE, GROUP BY, HAVING and the select
// expressions that hold no window function (with their aliases, so that
// GROUP BY d and HAVING n > 1 still find them; an unaliased one is named
// _arb_sI). In the select expressions, window specifications, ORDER BY
// and WINDOW clause of the outer SELECT, every largest part that holds
// no window function but reads the rows (a column, an aggregate, a
// subquery) is computed by the inner SELECT as _arb_aN (a bare aggregate
// call) or _arb_cN (anything else, e.g. `plan` or DATE(time)) and read
// from it (a part that is a bare column or aggregate the select list
// already computes is read from that column). Whole parts move, not
// single columns: DATE(time) stays a
// grouped expression and the inner SELECT passes go-mysql-server's
// ONLY_FULL_GROUP_BY check exactly as the original would, while a column
// that is neither grouped nor aggregated is still refused there. Parts
// that read nothing (literals, placeholders, NOW()) stay in the outer
// SELECT, so LAG(n, 1, 0) keeps constant arguments.
//
// The outer SELECT takes DISTINCT, ORDER BY, LIMIT, INTO, locking and the
// WITH clause (whose CTEs the derived table sees). Each outer expression
// is named as the original column was (its alias; for a bare column its
// name; else the expression's text as written), so result column names do
// not change. In ORDER BY an unqualified name that is one of those column
// names stays as it is and resolves to the outer column, as MySQL resolves
// ORDER BY names against the select list first. A positional GROUP BY
// keeps its positions: window expressions leave NULL stand-ins (_arb_wI)
// in the inner select list.
//
// With GROUP BY ... WITH ROLLUP the derived table is the rollup rewrite
// of the inner SELECT (rollup.go, through rollupUnderWindows), so the
// windows also see the super-aggregate rows, as in MySQL.
//
// Every SELECT of the statement (derived tables, subqueries, CTE bodies,
// UNION branches) is rewritten on its own. A statement without a window
// function is left alone after one walk that stops at the first OVER, and
// a SELECT without grouping is never touched. Forms left to
// go-mysql-server as they were (it reports its own error): a * in the
// select list, two select expressions with one alias, DISTINCT ON, and
// any outer part this rewrite could not reduce to generated columns (the
// rewrite is then undone).

import (
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/dolthub/go-mysql-server/sql/planbuilder"
	ast "github.com/dolthub/vitess/go/vt/sqlparser"
)

// groupedTableAlias names the grouped derived table of a rewrite.
const groupedTableAlias = "_arb_g"

// errWalkStop ends an ast.Walk early once its answer is known.
var errWalkStop = errors.New("walk stopped")

// withWindowOverGroups rewrites in place every SELECT of stmt that both
// groups and has a window function (see the file comment).
func withWindowOverGroups(stmt ast.Statement) ast.Statement {
	if ins, ok := stmt.(*ast.Insert); ok {
		if _, values := ins.Rows.(*ast.AliasedValues); values {
			return stmt // an ingest batch: no walk over its rows
		}
	}
	if stmt == nil || !hasWindowCall(stmt, false) {
		return stmt
	}
	var selects []*ast.Select
	_ = walkStatement(func(n ast.SQLNode) (bool, error) {
		if s, ok := n.(*ast.Select); ok {
			selects = append(selects, s)
		}
		return true, nil
	}, stmt)
	// Each rewrite moves subtrees, never copies them, so a nested SELECT
	// collected here is still the node its query uses.
	for _, s := range selects {
		if groupsWithWindows(s) {
			_ = rewriteWindowOverGroups(s)
		}
	}
	return stmt
}

// isWindowCall reports whether e is a window function call.
func isWindowCall(e ast.SQLNode) bool {
	f, ok := e.(*ast.FuncExpr)
	return ok && f.Over != nil
}

// isAggregateCall reports whether e is an aggregate call as
// go-mysql-server's planbuilder decides it (a known name without OVER).
func isAggregateCall(e ast.SQLNode) bool {
	switch x := e.(type) {
	case *ast.FuncExpr:
		return x.Over == nil && planbuilder.IsAggregateFunc(x.Name.Lowered())
	case *ast.GroupConcatExpr:
		return true
	}
	return false
}

// hasWindowCall reports whether a window function is under node; with
// local, those of nested subqueries (their own SELECTs) do not count.
func hasWindowCall(node ast.SQLNode, local bool) bool {
	return walkFinds(node, local, isWindowCall)
}

// walkStatement is ast.Walk that also enters what vitess's walk skips:
// the statement an EXPLAIN explains and the WITH clause of a UNION.
func walkStatement(visit ast.Visit, root ast.SQLNode) error {
	var wrapped ast.Visit
	wrapped = func(n ast.SQLNode) (bool, error) {
		var err error
		switch x := n.(type) {
		case *ast.Explain:
			err = ast.Walk(wrapped, x.Statement)
		case *ast.SetOp:
			if x.With != nil {
				err = ast.Walk(wrapped, x.With)
			}
		}
		if err != nil {
			return false, err
		}
		return visit(n)
	}
	return ast.Walk(wrapped, root)
}

// walkFinds reports whether some node under root satisfies match; with
// local, the walk does not enter subqueries.
func walkFinds(root ast.SQLNode, local bool, match func(ast.SQLNode) bool) bool {
	found := false
	_ = walkStatement(func(n ast.SQLNode) (bool, error) {
		if _, ok := n.(*ast.Subquery); ok && local {
			return false, nil
		}
		if match(n) {
			found = true
			return false, errWalkStop
		}
		return true, nil
	}, root)
	return found
}

// groupsWithWindows reports whether s has a window function in its select
// list or ORDER BY and groups (GROUP BY, or an aggregate of its own).
func groupsWithWindows(s *ast.Select) bool {
	var roots []ast.SQLNode
	for _, e := range s.SelectExprs {
		roots = append(roots, e)
	}
	for _, o := range s.OrderBy {
		roots = append(roots, o)
	}
	window := false
	for _, r := range roots {
		if hasWindowCall(r, true) {
			window = true
			break
		}
	}
	if !window {
		return false
	}
	if len(s.GroupBy) > 0 {
		return true
	}
	if s.Having != nil {
		roots = append(roots, s.Having)
	}
	for _, r := range roots {
		if walkFinds(r, true, isAggregateCall) {
			return true
		}
	}
	return false
}

// groupedRewrite is the state of one SELECT's rewrite.
type groupedRewrite struct {
	innerExprs ast.SelectExprs       // select list of the grouped derived table
	exposed    map[string]string     // text of an exposed part -> its column
	generated  map[*ast.ColName]bool // references to the derived table
	outputs    map[string]bool       // lowered names of the outer columns
	aggregates int
	others     int
	// orderBy: the part being rewritten is an ORDER BY item, where an
	// unqualified name among outputs is the outer column.
	orderBy bool
	undo    []replaced
}

// replaced is one field set by the rewrite, with its former value.
type replaced struct {
	field reflect.Value
	old   ast.Expr
}

// rewriteWindowOverGroups turns s into a window query over a grouped
// derived table (see the file comment), or leaves it as it was when it
// holds a form the rewrite does not take (ok false).
func rewriteWindowOverGroups(s *ast.Select) (ok bool) {
	if len(s.QueryOpts.DistinctOn) > 0 {
		return false
	}
	r := &groupedRewrite{exposed: map[string]string{}, generated: map[*ast.ColName]bool{}, outputs: map[string]bool{}}
	names := make([]string, len(s.SelectExprs))
	innerAliases := map[string]bool{}
	for i, se := range s.SelectExprs {
		a, ok := se.(*ast.AliasedExpr)
		if !ok {
			return false // a * (or a form without an expression)
		}
		names[i] = outputName(a)
		r.outputs[strings.ToLower(names[i])] = true
		if !a.As.IsEmpty() && !hasWindowCall(a.Expr, true) {
			lower := a.As.Lowered()
			if innerAliases[lower] {
				return false // the outer SELECT could not tell them apart
			}
			innerAliases[lower] = true
		}
	}
	positional := false
	for _, g := range s.GroupBy {
		if v, ok := g.(*ast.SQLVal); ok && v.Type == ast.IntVal {
			positional = true
		}
	}

	// The select expressions without a window first, in their order (a
	// positional GROUP BY counts them), then the window ones, whose parts
	// may reuse a bare column or aggregate the select list computes.
	outerExprs := make(ast.SelectExprs, len(s.SelectExprs))
	for i, se := range s.SelectExprs {
		a := se.(*ast.AliasedExpr)
		if hasWindowCall(a.Expr, true) {
			if positional {
				r.innerExprs = append(r.innerExprs, &ast.AliasedExpr{Expr: &ast.NullVal{}, As: ast.NewColIdent(fmt.Sprintf("_arb_w%d", i))})
			}
			continue
		}
		inner := a.As
		if inner.IsEmpty() {
			inner = ast.NewColIdent(fmt.Sprintf("_arb_s%d", i))
		}
		r.innerExprs = append(r.innerExprs, &ast.AliasedExpr{Expr: a.Expr, As: inner})
		outerExprs[i] = &ast.AliasedExpr{Expr: r.reference(inner.String()), As: ast.NewColIdent(names[i])}
		if _, column := a.Expr.(*ast.ColName); column || isAggregateCall(a.Expr) {
			r.exposed[ast.String(a.Expr)] = inner.String()
		}
	}
	for i, se := range s.SelectExprs {
		if outerExprs[i] != nil {
			continue
		}
		a := se.(*ast.AliasedExpr)
		r.rewritePart(a, false)
		outerExprs[i] = &ast.AliasedExpr{Expr: a.Expr, As: ast.NewColIdent(names[i])}
	}
	for _, o := range s.OrderBy {
		r.rewritePart(o, true)
	}
	for _, w := range s.Window {
		r.rewritePart(w, false)
	}
	if !r.outerReadsOnlyGroups(outerExprs, s.OrderBy, s.Window) {
		r.revert()
		return false
	}

	inner := &ast.Select{
		Comments:    s.Comments,
		SelectExprs: r.innerExprs,
		From:        s.From,
		Where:       s.Where,
		GroupBy:     s.GroupBy,
		Having:      s.Having,
		QueryOpts:   ast.QueryOpts{StraightJoinHint: s.QueryOpts.StraightJoinHint},
	}
	opts := s.QueryOpts
	opts.StraightJoinHint = false
	*s = ast.Select{
		With:        s.With,
		Into:        s.Into,
		Limit:       s.Limit,
		Lock:        s.Lock,
		Window:      s.Window,
		OrderBy:     s.OrderBy,
		QueryOpts:   opts,
		SelectExprs: outerExprs,
		From: ast.TableExprs{&ast.AliasedTableExpr{
			Expr: &ast.Subquery{Select: inner},
			As:   ast.NewTableIdent(groupedTableAlias),
			Auth: ast.AuthInformation{AuthType: ast.AuthType_IGNORE}, // as the parser marks a derived table
		}},
	}
	return true
}

// outputName is the name MySQL gives the column of a: its alias, a bare
// column's name, else the expression as the query wrote it.
func outputName(a *ast.AliasedExpr) string {
	if !a.As.IsEmpty() {
		return a.As.String()
	}
	if c, ok := a.Expr.(*ast.ColName); ok {
		return c.Name.String()
	}
	if a.InputExpression != "" {
		return a.InputExpression
	}
	return ast.String(a.Expr)
}

// reference is a new reference to column name of the derived table.
func (r *groupedRewrite) reference(name string) *ast.ColName {
	c := &ast.ColName{Name: ast.NewColIdent(name), Qualifier: ast.TableName{Name: ast.NewTableIdent(groupedTableAlias)}}
	r.generated[c] = true
	return c
}

// rewritePart replaces, under root, each largest window-free part that
// reads the rows by a reference to the derived table.
func (r *groupedRewrite) rewritePart(root ast.SQLNode, orderBy bool) {
	r.orderBy = orderBy
	_ = ast.Walk(func(n ast.SQLNode) (bool, error) {
		if _, ok := n.(*ast.Subquery); ok {
			return false, nil // a subquery is always exposed whole
		}
		r.replaceFields(n)
		return true, nil
	}, root)
}

// replaceFields considers each expression node holds directly: an Expr
// field, or an element of a slice of Exprs (node itself may be such a
// slice, as a ValTuple or a PARTITION BY list is). The walk reaches
// every node, so every part is some node's direct field.
func (r *groupedRewrite) replaceFields(node ast.SQLNode) {
	v := reflect.ValueOf(node)
	if v.Kind() == reflect.Slice && v.Type().Elem() == exprType {
		for j := range v.Len() {
			r.consider(v.Index(j))
		}
		return
	}
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return
	}
	s := v.Elem()
	for i := range s.NumField() {
		f := s.Field(i)
		if !f.CanSet() {
			continue
		}
		switch {
		case f.Type() == exprType:
			r.consider(f)
		case f.Kind() == reflect.Slice && f.Type().Elem() == exprType:
			for j := range f.Len() {
				r.consider(f.Index(j))
			}
		}
	}
}

// consider replaces the expression in field by a reference to the
// derived table when it holds no window function and reads the rows.
func (r *groupedRewrite) consider(field reflect.Value) {
	if field.IsNil() {
		return
	}
	e, ok := field.Interface().(ast.Expr)
	if !ok {
		return
	}
	window, reads, outer := r.classify(e)
	if window || !reads || outer {
		return // descend (window, alias of an outer column) or keep (constant)
	}
	ref := r.expose(e)
	r.undo = append(r.undo, replaced{field: field, old: e})
	field.Set(reflect.ValueOf(ast.Expr(ref)))
}

// classify walks e once: window, it holds a window function; reads, it
// reads the rows (a column, an aggregate, a subquery); outer, it names an
// outer column (in ORDER BY only).
func (r *groupedRewrite) classify(e ast.Expr) (window, reads, outer bool) {
	_ = ast.Walk(func(n ast.SQLNode) (bool, error) {
		switch x := n.(type) {
		case *ast.Subquery:
			reads = true
			return false, nil
		case *ast.ColName:
			switch {
			case r.generated[x]:
			case r.namesOuterColumn(x):
				outer = true
			default:
				reads = true
			}
		case *ast.FuncExpr:
			if x.Over != nil {
				window = true
			} else if isAggregateCall(x) {
				reads = true
			}
		case *ast.GroupConcatExpr:
			reads = true
		}
		return true, nil
	}, e)
	return window, reads, outer
}

// namesOuterColumn reports whether c, in ORDER BY, is an outer column.
func (r *groupedRewrite) namesOuterColumn(c *ast.ColName) bool {
	return r.orderBy && c.Qualifier.IsEmpty() && r.outputs[c.Name.Lowered()]
}

// expose adds e to the derived table's select list (once per text; a
// bare column or aggregate of the select list is already there) and
// returns a new reference to it.
func (r *groupedRewrite) expose(e ast.Expr) *ast.ColName {
	key := ast.String(e)
	if name, ok := r.exposed[key]; ok {
		return r.reference(name)
	}
	var name string
	if isAggregateCall(e) {
		name = fmt.Sprintf("_arb_a%d", r.aggregates)
		r.aggregates++
	} else {
		name = fmt.Sprintf("_arb_c%d", r.others)
		r.others++
	}
	r.exposed[key] = name
	r.innerExprs = append(r.innerExprs, &ast.AliasedExpr{Expr: e, As: ast.NewColIdent(name)})
	return r.reference(name)
}

// outerReadsOnlyGroups checks what the outer SELECT would hold: no
// column but the derived table's (and, in ORDER BY, outer columns), no
// aggregate, no subquery. A part the field walk could not reach (an
// expression kept in a field of another type) fails it.
func (r *groupedRewrite) outerReadsOnlyGroups(exprs ast.SelectExprs, order ast.OrderBy, windows ast.Window) bool {
	check := func(root ast.SQLNode, orderBy bool) bool {
		r.orderBy = orderBy
		return !walkFinds(root, false, func(n ast.SQLNode) bool {
			switch x := n.(type) {
			case *ast.Subquery:
				return true
			case *ast.ColName:
				return !r.generated[x] && !r.namesOuterColumn(x)
			}
			return isAggregateCall(n)
		})
	}
	for _, e := range exprs {
		if !check(e, false) {
			return false
		}
	}
	for _, o := range order {
		if !check(o, true) {
			return false
		}
	}
	for _, w := range windows {
		if !check(w, false) {
			return false
		}
	}
	return true
}

// revert undoes every replacement, newest first, leaving the SELECT as
// it was parsed.
func (r *groupedRewrite) revert() {
	for i := len(r.undo) - 1; i >= 0; i-- {
		u := r.undo[i]
		u.field.Set(reflect.ValueOf(u.old))
	}
	r.undo = nil
}

// rollupUnderWindows rewrites sel, a SELECT that had WITH ROLLUP after
// its GROUP BY (rollup.go) and has window functions, into the window
// query over a grouped derived table whose SELECT is the rollup rewrite
// (parsed with parse): MySQL runs window functions over every row of
// the rollup, super-aggregate rows included. ok is false when sel has no
// window function of its own or a form this rewrite does not take: the
// rollup rewrite then applies to sel as it is.
func rollupUnderWindows(sel *ast.Select, parse func(string) (ast.Statement, error)) (stmt ast.Statement, text string, ok bool, err error) {
	if !groupsWithWindows(sel) || !rewriteWindowOverGroups(sel) {
		return nil, "", false, nil
	}
	derived := sel.From[0].(*ast.AliasedTableExpr).Expr.(*ast.Subquery)
	rolled, err := rollupQuery(derived.Select.(*ast.Select))
	if err != nil {
		return nil, "", true, err
	}
	inner, err := parse(rolled)
	if err != nil {
		return nil, "", true, err
	}
	innerSelect, isSelect := inner.(ast.SelectStatement)
	if !isSelect {
		return nil, "", true, fmt.Errorf("rollup under window functions: %T is no SELECT", inner)
	}
	derived.Select = innerSelect
	return sel, ast.String(sel), true, nil
}

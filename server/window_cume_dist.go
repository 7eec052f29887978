package server

// CUME_DIST() OVER (...), the window function Superset's and Metabase's
// percentile charts send, which go-mysql-server lacks.
//
// It cannot be registered as a function: go-mysql-server's planbuilder
// decides whether a call is a window function by its name, from a fixed
// private list (planbuilder.isWindowFunc), before it looks the function
// up, so any other name with OVER is built as a scalar call and fails.
// The parser hook therefore rewrites each call into window functions the
// planbuilder does know, by MySQL's definition (MySQL 8.0 manual 14.20.1
// "Window Function Descriptions": "the number of rows preceding or peer
// with the current row divided by the number of rows in the window
// partition"; its frame clause is ignored). With N the partition's rows,
// the rows preceding or peer with a row are N minus those after it, and
// those after it are its RANK in the reversed order minus 1:
//
//	CUME_DIST() OVER (PARTITION BY p ORDER BY o)
//	  = (COUNT(*) OVER (PARTITION BY p)
//	     - RANK() OVER (PARTITION BY p ORDER BY o reversed) + 1) * 1e0
//	    / COUNT(*) OVER (PARTITION BY p)
//
// Reversing every key's direction also reverses where NULLs sort (first
// ascending, last descending), so the reversed order is exactly the
// backwards order. (COUNT(*) OVER (ORDER BY o), whose default RANGE frame
// counts the same rows, is wrong in go-mysql-server for a descending o:
// it counts the whole partition.) The 1e0 makes the quotient a DOUBLE, as
// CUME_DIST's result is. Without ORDER BY every row is a peer and the
// value is 1. The column keeps the name the query wrote (the select
// expression's text is taken before the rewrite).
//
// A call over a named window (OVER w, or OVER (w ORDER BY ...)) takes
// the partition and order of the WINDOW clause of its SELECT.

import (
	"fmt"
	"reflect"

	ast "github.com/dolthub/vitess/go/vt/sqlparser"
)

// withCumeDist rewrites every CUME_DIST() OVER (...) of stmt in place.
// Each SELECT is walked with its own WINDOW clause; a nested SELECT's
// calls may be met first by its outer SELECT's walk, which leaves a call
// over a window it does not define to the nested SELECT's own walk.
func withCumeDist(stmt ast.Statement) ast.Statement {
	_ = ast.Walk(func(node ast.SQLNode) (bool, error) {
		sel, ok := node.(*ast.Select)
		if !ok {
			return true, nil
		}
		r := &cumeDistRewrite{windows: map[string]*ast.WindowDef{}, sel: sel, named: len(sel.Window) > 0}
		for _, w := range sel.Window {
			r.windows[w.Name.Lowered()] = w
		}
		_ = ast.Walk(func(n ast.SQLNode) (bool, error) {
			r.replaceFields(n)
			return true, nil
		}, sel)
		return true, nil
	}, stmt)
	return stmt
}

var exprType = reflect.TypeFor[ast.Expr]()

// cumeDistRewrite rewrites the CUME_DIST calls of one SELECT.
type cumeDistRewrite struct {
	sel     *ast.Select
	windows map[string]*ast.WindowDef // the SELECT's WINDOW clause by name
	// named: the SELECT has a WINDOW clause, so the windows of a rewrite
	// are added to it and referred to by name. go-mysql-server merges an
	// inline OVER (...) that follows an OVER w into w's definition (its
	// planbuilder keys both under the empty name) and fails with "both
	// contain order by clause", so a query using named windows must not
	// gain inline ones.
	named bool
	added int
}

// over is a window with partition and order, inline or added to the
// WINDOW clause (see named).
func (r *cumeDistRewrite) over(partition ast.Exprs, order ast.OrderBy) *ast.Over {
	if !r.named {
		return &ast.Over{PartitionBy: partition, OrderBy: order}
	}
	r.added++
	name := ast.NewColIdent(fmt.Sprintf("arb_cume_dist_%d", r.added))
	r.sel.Window = append(r.sel.Window, &ast.WindowDef{Name: name, PartitionBy: partition, OrderBy: order})
	return &ast.Over{NameRef: name}
}

// replaceFields replaces the CUME_DIST calls held directly by
// node's fields (an Expr field, or an element of a slice of Exprs); the
// walk reaches every node, so every call is some node's direct field.
func (r *cumeDistRewrite) replaceFields(node ast.SQLNode) {
	v := reflect.ValueOf(node)
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
			if e, ok := r.replacement(f); ok {
				f.Set(reflect.ValueOf(e))
			}
		case f.Kind() == reflect.Slice && f.Type().Elem() == exprType:
			for j := range f.Len() {
				if e, ok := r.replacement(f.Index(j)); ok {
					f.Index(j).Set(reflect.ValueOf(e))
				}
			}
		}
	}
}

// cumeDistReplacement is the rewrite of v when v holds a CUME_DIST call.
func (r *cumeDistRewrite) replacement(v reflect.Value) (ast.Expr, bool) {
	if v.IsNil() {
		return nil, false
	}
	fn, ok := v.Interface().(*ast.FuncExpr)
	if !ok || fn.Name.Lowered() != "cume_dist" || fn.Over == nil || len(fn.Exprs) != 0 {
		return nil, false
	}
	partition, order := fn.Over.PartitionBy, fn.Over.OrderBy
	if !fn.Over.NameRef.IsEmpty() {
		w, ok := r.windows[fn.Over.NameRef.Lowered()]
		if !ok {
			return nil, false
		}
		partition = w.PartitionBy
		if len(order) == 0 {
			order = w.OrderBy
		}
	}
	if len(order) == 0 {
		return ast.NewFloatVal([]byte("1e0")), true
	}
	reversed := make(ast.OrderBy, len(order))
	for i, o := range order {
		dir := ast.DescScr
		if o.Direction == ast.DescScr {
			dir = ast.AscScr
		}
		reversed[i] = &ast.Order{Expr: o.Expr, Direction: dir}
	}
	call := func(name string, args ast.SelectExprs, over *ast.Over) *ast.FuncExpr {
		return &ast.FuncExpr{Name: ast.NewColIdent(name), Exprs: args, Over: over}
	}
	rows := func() ast.Expr {
		return call("count", ast.SelectExprs{&ast.StarExpr{}}, r.over(partition, nil))
	}
	after := &ast.BinaryExpr{Operator: ast.MinusStr, Left: rows(),
		Right: call("rank", nil, r.over(partition, reversed))}
	upTo := &ast.BinaryExpr{Operator: ast.PlusStr, Left: after, Right: ast.NewIntVal([]byte("1"))}
	return &ast.ParenExpr{Expr: &ast.BinaryExpr{Operator: ast.DivStr,
		Left:  &ast.BinaryExpr{Operator: ast.MultStr, Left: &ast.ParenExpr{Expr: upTo}, Right: ast.NewFloatVal([]byte("1e0"))},
		Right: rows()}}, true
}

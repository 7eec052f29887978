package native

// This file owns JSON_EXTRACT(doc, path) — and so `doc->'path'`, which
// go-mysql-server parses to it — with one constant path, as
// go-mysql-server's function/json/json_extract.go computes it:
//
//   - the path is compiled once per statement with the library
//     go-mysql-server compiles it with per row (dolthub/jsonpath), which
//     cost Q8's retention() form (31 extracts over 300K per-user
//     arrays) most of its time;
//   - a document that is already JSON (a JSON column, retention()'s
//     array) is looked up as types.JSONDocument.Lookup does: SQL NULL
//     for a JSON null, a scalar, a missing key or an index out of range,
//     else the value found as a JSONDocument;
//   - a string is unmarshalled with encoding/json first, as
//     getJSONDocumentFromRow does;
//   - anything else — another type, text that is not JSON, a lookup
//     error of another kind — sends the batch to go-mysql-server's node,
//     which gives its own answer or error.
//
// Several paths (an array of the values found), the path "$" and paths
// with more than member and index steps (plainJSONPath) stay
// go-mysql-server's Eval.
//
// JSON_UNQUOTE (and so `doc->>'path'`) of a JSON or string value is
// native where go-mysql-server's answer needs no unescaping: it renders
// the value as LONGTEXT (for JSON, go-mysql-server's own rendering),
// unescapes it and drops one pair of surrounding double quotes; a text
// without a backslash is only the last step. One with a backslash sends
// the batch to go-mysql-server's node.

import (
	"encoding/json"
	"strings"

	"github.com/dolthub/go-mysql-server/sql"
	jsonfn "github.com/dolthub/go-mysql-server/sql/expression/function/json"
	"github.com/dolthub/go-mysql-server/sql/types"
	"github.com/dolthub/jsonpath"
)

func init() {
	registerExpr((*jsonfn.JSONExtract)(nil), compileJSONExtract)
	registerExpr((*jsonfn.JSONUnquote)(nil), compileJSONUnquote)
}

func compileJSONExtract(ctx *sql.Context, c *Compiler, e sql.Expression) (Expr, error) {
	je := e.(*jsonfn.JSONExtract)
	if len(je.Paths) != 1 {
		return nil, nil
	}
	pv, ok := foldConst(ctx, je.Paths[0])
	if !ok || pv == nil {
		return nil, nil
	}
	ps, _, err := types.LongText.Convert(ctx, pv)
	path, isStr := ps.(string)
	if err != nil || !isStr || path == "$" || !plainJSONPath(path) {
		return nil, nil
	}
	compiled, err := jsonpath.Compile(path)
	if err != nil {
		return nil, nil // go-mysql-server names the bad path, per row
	}
	doc, err := compileOperand(ctx, c, je.JSON)
	if err != nil || doc.konst {
		return nil, err
	}
	return &jsonExtractExpr{doc: doc.x, path: compiled, typ: e.Type(ctx), desc: e.String(),
		fb: fallback(ctx, e, doc, operand{konst: true})}, nil
}

// plainJSONPath reports whether path has only member and index steps
// ($.a.b[2]): no wildcard, range, union, filter or recursive descent,
// whose lookups build values or evaluate expressions (a compiled path is
// shared by the batches of parallel workers; member and index steps
// only read it).
func plainJSONPath(path string) bool {
	return !strings.ContainsAny(path, "*?,:@()") && !strings.Contains(path, "..")
}

// jsonExtractExpr is JSON_EXTRACT(doc, path) with path compiled.
type jsonExtractExpr struct {
	doc  Expr
	path *jsonpath.Compiled // read-only: batches look up from several goroutines
	typ  sql.Type
	desc string
	fb   *nodeEval
}

func (x *jsonExtractExpr) Type() sql.Type { return x.typ }
func (x *jsonExtractExpr) String() string { return x.desc }

// mayFail: text that is not JSON is an error.
func (x *jsonExtractExpr) mayFail() bool { return true }

// jsonInput evaluates a JSON function's argument: done, when not nil, is
// the function's whole answer (every value NULL, or a kind only
// go-mysql-server's node takes), else c is the argument, KindAny or
// KindString.
func jsonInput(ctx *sql.Context, arg Expr, b *Batch, typ sql.Type, fb *nodeEval) (c, done *Column, err error) {
	if c, err = arg.Eval(ctx, b); err != nil {
		return nil, nil, err
	}
	switch c.Kind {
	case KindNull:
		return nil, allNull(typ, b.N), nil
	case KindAny, KindString:
		return c, nil, nil
	}
	done, err = fb.eval(ctx, b.N, c)
	return nil, done, err
}

func (x *jsonExtractExpr) Eval(ctx *sql.Context, b *Batch) (*Column, error) {
	c, done, err := jsonInput(ctx, x.doc, b, x.typ, x.fb)
	if done != nil || err != nil {
		return done, err
	}
	out := &Column{Kind: KindAny, Type: x.typ, A: make([]any, b.N)}
	null := func(r int) {
		if out.Nulls == nil {
			out.Nulls = make([]bool, b.N)
		}
		out.Nulls[r] = true
	}
	for r := range b.N {
		if c.Nulls != nil && c.Nulls[r] {
			null(r)
			continue
		}
		var v any
		switch {
		case c.Kind == KindString:
			if err := json.Unmarshal([]byte(c.str(r)), &v); err != nil {
				return x.fb.eval(ctx, b.N, c)
			}
		default:
			w, ok := c.A[r].(sql.JSONWrapper)
			if !ok {
				if c.A[r] == nil {
					null(r)
					continue
				}
				return x.fb.eval(ctx, b.N, c)
			}
			if doc, ok := w.(types.JSONDocument); ok {
				v = doc.Val
			} else if v, err = w.ToInterface(ctx); err != nil {
				return x.fb.eval(ctx, b.N, c)
			}
		}
		found, ok := x.lookup(v)
		if !ok {
			return x.fb.eval(ctx, b.N, c)
		}
		if found == nil {
			null(r)
			continue
		}
		out.A[r] = found
	}
	return out, nil
}

// lookup is the path's value in v as go-mysql-server's JSON lookup gives
// it: nil (SQL NULL) for a JSON null or a scalar document, a missing key
// or an index out of range, else a JSONDocument; ok is false for another
// lookup error, whose message go-mysql-server's node gives.
func (x *jsonExtractExpr) lookup(v any) (found sql.JSONWrapper, ok bool) {
	switch v.(type) {
	case types.JsonObject, types.JsonArray:
	default:
		return nil, true
	}
	val, err := x.path.Lookup(v)
	if err != nil {
		if msg := err.Error(); strings.Contains(msg, "key error") || strings.Contains(msg, "index out of range") {
			return nil, true
		}
		return nil, false
	}
	return types.JSONDocument{Val: val}, true
}

func compileJSONUnquote(ctx *sql.Context, c *Compiler, e sql.Expression) (Expr, error) {
	ju := e.(*jsonfn.JSONUnquote)
	if t := ju.Child.Type(ctx); !types.IsText(t) && !types.IsJSON(t) {
		return nil, nil // go-mysql-server refuses the type
	}
	arg, err := compileOperand(ctx, c, ju.Child)
	if err != nil || arg.konst {
		return nil, err
	}
	return &jsonUnquoteExpr{x: arg.x, typ: e.Type(ctx), desc: e.String(), fb: fallback(ctx, e, arg)}, nil
}

// jsonUnquoteExpr is JSON_UNQUOTE(x).
type jsonUnquoteExpr struct {
	x    Expr
	typ  sql.Type
	desc string
	fb   *nodeEval
}

func (x *jsonUnquoteExpr) Type() sql.Type { return x.typ }
func (x *jsonUnquoteExpr) String() string { return x.desc }

// mayFail: an escape go-mysql-server cannot decode is an error.
func (x *jsonUnquoteExpr) mayFail() bool { return true }

func (x *jsonUnquoteExpr) Eval(ctx *sql.Context, b *Batch) (*Column, error) {
	c, done, err := jsonInput(ctx, x.x, b, x.typ, x.fb)
	if done != nil || err != nil {
		return done, err
	}
	out := NewColumn(x.typ, b.N)
	if out.Kind != KindString {
		return x.fb.eval(ctx, b.N, c)
	}
	for r := range b.N {
		if c.Nulls != nil && c.Nulls[r] || c.Kind == KindAny && c.A[r] == nil {
			out.AppendNull()
			continue
		}
		var text string
		if c.Kind == KindString {
			text = c.str(r)
		} else {
			v, _, err := types.LongText.Convert(ctx, c.A[r])
			s, ok := v.(string)
			if err != nil || !ok {
				return x.fb.eval(ctx, b.N, c)
			}
			text = s
		}
		if strings.IndexByte(text, '\\') >= 0 {
			return x.fb.eval(ctx, b.N, c)
		}
		if len(text) > 1 && text[0] == '"' && text[len(text)-1] == '"' {
			text = text[1 : len(text)-1]
		}
		out.Append(text)
	}
	return out, nil
}

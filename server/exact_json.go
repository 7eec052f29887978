package server

// The properties JSON of an INSERT that go-mysql-server runs (a prepared
// INSERT's bound value, an INSERT with expressions, INSERT ... SELECT)
// reaches storage as the text the client sent, so that its numbers are
// typed by the one conversion every path uses (ingest.NumberValue: an integer
// beyond int64 keeps every digit as text, 1e400 is refused) and not by
// go-mysql-server's JSON conversion, which decodes every number into a
// float64 first: {"n": 18446744073709551615} arrived as 18446744073709552000
// and {"n": 1e400} as go-mysql-server's own error.
//
// The parser hook wraps each value an INSERT INTO events gives the
// properties column in arb_exact_json(...), which turns a string into a
// JSON document holding its text unchanged (go-mysql-server's
// LazyJSONDocument); jsonText (types.go) reads that text back. Anything
// that is not a string (a JSON document, a number) converts as
// go-mysql-server converts it. The native INSERT path (fast_insert.go)
// reads the literal's text itself and never sees the wrapper.
//
// INVARIANT: a string that is not valid JSON fails with go-mysql-server's
// own error (ErrInvalidJson), as without the wrapper.

import (
	"encoding/json"
	"strings"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/expression"
	"github.com/dolthub/go-mysql-server/sql/expression/function"
	"github.com/dolthub/go-mysql-server/sql/types"
	ast "github.com/dolthub/vitess/go/vt/sqlparser"

	"arb/storage"
)

// exactJSONName is the wrapper's function name.
const exactJSONName = "arb_exact_json"

func init() {
	function.BuiltIns = append(function.BuiltIns, sql.Function1{Name: exactJSONName, Fn: func(_ *sql.Context, e sql.Expression) sql.Expression {
		return &exactJSON{UnaryExpressionStub: expression.UnaryExpressionStub{Child: e}}
	}})
}

// exactJSON is arb_exact_json(expr): expr as a JSON document that keeps
// a string's text.
type exactJSON struct {
	expression.UnaryExpressionStub
}

var _ sql.FunctionExpression = (*exactJSON)(nil)

func (e *exactJSON) FunctionName() string { return exactJSONName }
func (e *exactJSON) Description() string {
	return "arb: a JSON document keeping the text of a string as given"
}
func (e *exactJSON) String() string               { return exactJSONName + "(" + e.Child.String() + ")" }
func (e *exactJSON) Type(*sql.Context) sql.Type   { return types.JSON }
func (e *exactJSON) IsNullable(*sql.Context) bool { return true }
func (e *exactJSON) WithChildren(_ *sql.Context, children ...sql.Expression) (sql.Expression, error) {
	if len(children) != 1 {
		return nil, sql.ErrInvalidChildrenNumber.New(e, len(children), 1)
	}
	return &exactJSON{UnaryExpressionStub: expression.UnaryExpressionStub{Child: children[0]}}, nil
}

func (e *exactJSON) Eval(ctx *sql.Context, row sql.Row) (any, error) {
	v, err := e.Child.Eval(ctx, row)
	if err != nil || v == nil {
		return nil, err
	}
	var text []byte
	switch s := v.(type) {
	case string:
		text = []byte(s)
	case []byte:
		text = s
	default:
		doc, _, err := types.JSON.Convert(ctx, v)
		return doc, err
	}
	if !json.Valid(text) {
		doc, _, err := types.JSON.Convert(ctx, v) // go-mysql-server's error for it
		return doc, err
	}
	return types.NewLazyJSONDocument(text), nil
}

// withExactJSON wraps the values stmt, an INSERT INTO events, gives the
// properties column in arb_exact_json (see above); any other statement is
// returned as it is.
func withExactJSON(stmt ast.Statement) ast.Statement {
	ins, ok := stmt.(*ast.Insert)
	if !ok || !strings.EqualFold(ins.Table.Name.String(), storage.TableEvents) {
		return stmt
	}
	col := -1
	for i, c := range ins.Columns {
		if strings.EqualFold(c.String(), colProperties) {
			col = i
		}
	}
	if col < 0 {
		return stmt
	}
	wrap := func(e ast.Expr) ast.Expr {
		if f, ok := e.(*ast.FuncExpr); ok && f.Name.EqualString(exactJSONName) {
			return e // idempotent: a statement may be parsed again
		}
		return &ast.FuncExpr{Name: ast.NewColIdent(exactJSONName), Exprs: ast.SelectExprs{&ast.AliasedExpr{Expr: e}}}
	}
	switch rows := ins.Rows.(type) {
	case *ast.AliasedValues:
		for _, row := range rows.Values {
			if col < len(row) {
				row[col] = wrap(row[col])
			}
		}
	case *ast.Select:
		if len(rows.SelectExprs) == len(ins.Columns) {
			if ae, ok := rows.SelectExprs[col].(*ast.AliasedExpr); ok {
				ae.Expr = wrap(ae.Expr)
			}
		}
	}
	return stmt
}

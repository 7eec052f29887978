package server

import (
	"context"
	"math"
	"strconv"
	"strings"

	"github.com/dolthub/go-mysql-server/sql"
	ast "github.com/dolthub/vitess/go/vt/sqlparser"

	"arb/storage"
)

// schemaParser wraps go-mysql-server's parser to discover new property
// columns. go-mysql-server rejects an unknown column while it builds the
// plan, before any analyzer rule, so an INSERT naming new columns must
// make them visible at parse time: the parser infers each new or widened
// column's type from the literals of the VALUES rows and records it on the
// session as pending (session.go). Nothing is stored here.
//
// A value with no literal type (a placeholder, a function call) keeps an
// existing column's type and makes a new column a string column.
type schemaParser struct {
	inner sql.Parser
	store *storage.Store
}

var _ sql.Parser = (*schemaParser)(nil)

func (p *schemaParser) ParseSimple(query string) (ast.Statement, error) {
	return p.inner.ParseSimple(query)
}

func (p *schemaParser) Parse(ctx *sql.Context, query string, multi bool) (ast.Statement, string, string, error) {
	stmt, parsed, rest, err := p.inner.Parse(ctx, query, multi)
	if err == nil {
		p.discover(ctx, stmt)
	}
	return stmt, parsed, rest, err
}

func (p *schemaParser) ParseWithOptions(ctx context.Context, query string, delimiter rune, multi bool, options ast.ParserOptions) (ast.Statement, string, string, error) {
	stmt, parsed, rest, err := p.inner.ParseWithOptions(ctx, query, delimiter, multi, options)
	if err == nil {
		p.discover(ctx, stmt)
	}
	return stmt, parsed, rest, err
}

func (p *schemaParser) ParseOneWithOptions(ctx context.Context, query string, options ast.ParserOptions) (ast.Statement, int, error) {
	stmt, n, err := p.inner.ParseOneWithOptions(ctx, query, options)
	if err == nil {
		p.discover(ctx, stmt)
	}
	return stmt, n, err
}

// discover replaces the session's pending columns with those stmt needs.
func (p *schemaParser) discover(ctx context.Context, stmt ast.Statement) {
	sqlCtx, ok := ctx.(*sql.Context)
	if !ok {
		return
	}
	sess := sessionOf(sqlCtx)
	if sess == nil {
		return
	}
	sess.pending = nil
	ins, ok := stmt.(*ast.Insert)
	if !ok || len(ins.Columns) == 0 {
		return
	}
	values, ok := ins.Rows.(*ast.AliasedValues)
	if !ok {
		return
	}
	db := ins.Table.DbQualifier.String()
	if db == "" {
		db = sqlCtx.GetCurrentDatabase()
	}
	project, ok := p.store.Project(strings.ToLower(db))
	table := strings.ToLower(ins.Table.Name.String())
	if !ok || (table != storage.TableEvents && table != storage.TablePeople) {
		return
	}
	pending := inferColumns(project.Columns(table), table, ins.Columns, values.Values)
	if len(pending) > 0 {
		sess.pending = map[pendingKey]map[string]storage.Column{{project.Name(), table}: pending}
	}
}

// inferColumns returns the columns of an INSERT that are new or need a
// wider type than schema has, with that type.
func inferColumns(schema []storage.Column, table string, cols ast.Columns, rows ast.Values) map[string]storage.Column {
	current := make(map[string]storage.Column, len(schema))
	for _, c := range schema {
		current[strings.ToLower(c.Name)] = c
	}
	var pending map[string]storage.Column
	for i, col := range cols {
		name := col.String()
		key := strings.ToLower(name)
		if isFixedColumn(table, key) {
			continue
		}
		t, big, untyped := storage.TypeNull, false, false
		for _, row := range rows {
			if i >= len(row) {
				continue
			}
			lt, isBig, ok := literalType(row[i])
			if !ok {
				untyped = true
				continue
			}
			t = storage.Widen(t, lt)
			big = big || isBig
		}
		cur, exists := current[key]
		var want storage.ColumnType
		switch {
		case exists:
			want = storage.Widen(cur.Type, t)
			name = cur.Name
		case t == storage.TypeNull || untyped:
			want = storage.Widen(t, storage.TypeString)
		default:
			want = t
		}
		if want == storage.TypeFloat && big {
			want = storage.TypeString // float64 would round the large integers
		}
		if exists && want == cur.Type {
			continue
		}
		if pending == nil {
			pending = map[string]storage.Column{}
		}
		pending[key] = storage.Column{Name: name, Type: want}
	}
	return pending
}

func isFixedColumn(table, lowerName string) bool {
	if table == storage.TablePeople {
		return lowerName == storage.ColDistinctID
	}
	switch lowerName {
	case storage.ColTime, storage.ColEvent, storage.ColDistinctID, storage.ColInsertID, colProperties:
		return true
	}
	return false
}

// literalType types a VALUES expression: ok is false when it is not a
// literal; big is true for integers float64 cannot hold exactly.
func literalType(e ast.Expr) (t storage.ColumnType, big, ok bool) {
	switch x := e.(type) {
	case *ast.NullVal:
		return storage.TypeNull, false, true
	case ast.BoolVal:
		return storage.TypeBool, false, true
	case *ast.ParenExpr:
		return literalType(x.Expr)
	case *ast.UnaryExpr:
		if x.Operator == "-" || x.Operator == "+" {
			if t, big, ok := literalType(x.Expr); ok && (t == storage.TypeInt || t == storage.TypeFloat) {
				return t, big, true
			}
		}
		return 0, false, false
	case *ast.SQLVal:
		switch x.Type {
		case ast.StrVal:
			return storage.TypeString, false, true
		case ast.IntVal:
			n, err := strconv.ParseInt(string(x.Val), 10, 64)
			if err != nil {
				return storage.TypeString, false, true // beyond int64: keep every digit
			}
			return storage.TypeInt, n > 1<<53 || n < -(1<<53), true
		case ast.FloatVal:
			if f, err := strconv.ParseFloat(string(x.Val), 64); err != nil || math.IsInf(f, 0) {
				return storage.TypeString, false, true
			}
			return storage.TypeFloat, false, true
		case ast.HexNum, ast.HexVal, ast.BitVal:
			return storage.TypeString, false, true
		}
	}
	return 0, false, false
}

package server

import (
	"context"
	"math"
	"strconv"
	"strings"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/vitess/go/sqltypes"
	querypb "github.com/dolthub/vitess/go/vt/proto/query"
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
	query, swaps := typedLiterals(query, multi) // typed_literals.go
	stmt, parsed, rest, err := p.inner.Parse(ctx, query, multi)
	if err != nil {
		if s, text, r, ok, rerr := p.rollup(query, multi, func(q string) (ast.Statement, error) {
			s, _, _, err := p.inner.Parse(ctx, q, false)
			return s, err
		}); ok {
			stmt, parsed, rest, err = s, text, r, rerr
		}
	}
	if err != nil {
		if s, q, ok := retryQuoted(query, func(q string) (ast.Statement, error) {
			s, _, _, err := p.inner.Parse(ctx, q, false)
			return s, err
		}); ok {
			stmt, parsed, rest, err = s, q, "", nil
		}
	}
	if err == nil {
		stmt, err = compatStatement(ctx, stmt, parsed)
	}
	if err == nil {
		restoreTypedLiteralNames(stmt, swaps)
		p.discover(ctx, stmt)
	}
	return stmt, parsed, rest, err
}

func (p *schemaParser) ParseWithOptions(ctx context.Context, query string, delimiter rune, multi bool, options ast.ParserOptions) (ast.Statement, string, string, error) {
	query, swaps := typedLiterals(query, multi)
	stmt, parsed, rest, err := p.inner.ParseWithOptions(ctx, query, delimiter, multi, options)
	if err != nil {
		if s, text, r, ok, rerr := p.rollup(query, multi, func(q string) (ast.Statement, error) {
			s, _, _, err := p.inner.ParseWithOptions(ctx, q, delimiter, false, options)
			return s, err
		}); ok {
			stmt, parsed, rest, err = s, text, r, rerr
		}
	}
	if err != nil {
		if s, q, ok := retryQuoted(query, func(q string) (ast.Statement, error) {
			s, _, _, err := p.inner.ParseWithOptions(ctx, q, delimiter, false, options)
			return s, err
		}); ok {
			stmt, parsed, rest, err = s, q, "", nil
		}
	}
	if err == nil {
		stmt, err = compatStatement(ctx, stmt, parsed)
	}
	if err == nil {
		restoreTypedLiteralNames(stmt, swaps)
		p.discover(ctx, stmt)
	}
	return stmt, parsed, rest, err
}

func (p *schemaParser) ParseOneWithOptions(ctx context.Context, query string, options ast.ParserOptions) (ast.Statement, int, error) {
	query, swaps := typedLiterals(query, true)
	stmt, n, err := p.inner.ParseOneWithOptions(ctx, query, options)
	if err != nil {
		if s, _, _, ok, rerr := p.rollup(query, false, func(q string) (ast.Statement, error) {
			s, _, err := p.inner.ParseOneWithOptions(ctx, q, options)
			return s, err
		}); ok {
			stmt, n, err = s, len(query), rerr
		}
	}
	if err != nil {
		if s, _, ok := retryQuoted(query, func(q string) (ast.Statement, error) {
			s, _, err := p.inner.ParseOneWithOptions(ctx, q, options)
			return s, err
		}); ok {
			stmt, n, err = s, len(query), nil
		}
	}
	if err == nil {
		stmt, err = compatStatement(ctx, stmt, query)
	}
	if err == nil {
		restoreTypedLiteralNames(stmt, swaps)
		p.discover(ctx, stmt)
	}
	return stmt, originalOffset(n, swaps), err
}

// discover replaces the session's pending columns with those stmt needs.
func (p *schemaParser) discover(ctx context.Context, stmt ast.Statement) {
	sqlCtx, ok := ctx.(*sql.Context)
	if !ok {
		return
	}
	if sess := sessionOf(sqlCtx); sess != nil {
		p.discoverFor(sess, stmt, nil)
	}
}

// discoverBound is discover for a prepared statement about to run with
// binds: placeholders take the types of the bound values, which the
// client sends with each execution.
func (p *schemaParser) discoverBound(sess *session, query string, binds map[string]*querypb.BindVariable) {
	stmt, err := p.inner.ParseSimple(query)
	if err != nil {
		return // go-mysql-server reports it
	}
	types := make(map[string]storage.ColumnType, len(binds))
	for name, b := range binds {
		types[name] = bindType(b.Type)
	}
	p.discoverFor(sess, stmt, types)
}

// bindType is the column type a bound value of wire type t makes.
func bindType(t querypb.Type) storage.ColumnType {
	switch {
	case t == querypb.Type_NULL_TYPE:
		return storage.TypeNull
	case sqltypes.IsIntegral(t):
		return storage.TypeInt
	case sqltypes.IsFloat(t) || t == querypb.Type_DECIMAL:
		return storage.TypeFloat
	}
	return storage.TypeString
}

func (p *schemaParser) discoverFor(sess *session, stmt ast.Statement, binds map[string]storage.ColumnType) {
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
		db = sess.GetCurrentDatabase()
	}
	project, ok := p.store.Project(strings.ToLower(db))
	table := strings.ToLower(ins.Table.Name.String())
	if !ok || (table != storage.TableEvents && table != storage.TablePeople) {
		return
	}
	pending := inferColumns(project.Columns(table), table, ins.Columns, values.Values, binds)
	if len(pending) > 0 {
		sess.pending = map[pendingKey][]storage.Column{{project.Name(), table}: pending}
	}
}

// inferColumns returns the columns of an INSERT that are new or need a
// wider type than schema has, with that type, in the statement's order.
// binds types placeholders (nil: they have no type yet).
func inferColumns(schema []storage.Column, table string, cols ast.Columns, rows ast.Values, binds map[string]storage.ColumnType) []storage.Column {
	current := make(map[string]storage.Column, len(schema))
	for _, c := range schema {
		current[strings.ToLower(c.Name)] = c
	}
	var pending []storage.Column
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
			lt, isBig, ok := literalType(row[i], binds)
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
		pending = append(pending, storage.Column{Name: name, Type: want})
	}
	return pending
}

func isFixedColumn(table, lowerName string) bool {
	if table == storage.TablePeople {
		return lowerName == storage.ColDistinctID
	}
	switch lowerName {
	case storage.ColTime, storage.ColEvent, storage.ColDistinctID, storage.ColInsertID, colProperties, storage.ColRawDistinctID:
		return true
	}
	return false
}

// literalType types a VALUES expression: ok is false when it is not a
// literal; big is true for integers float64 cannot hold exactly.
func literalType(e ast.Expr, binds map[string]storage.ColumnType) (t storage.ColumnType, big, ok bool) {
	switch x := e.(type) {
	case *ast.NullVal:
		return storage.TypeNull, false, true
	case ast.BoolVal:
		return storage.TypeBool, false, true
	case *ast.ParenExpr:
		return literalType(x.Expr, binds)
	case *ast.UnaryExpr:
		if x.Operator == "-" || x.Operator == "+" {
			if t, big, ok := literalType(x.Expr, binds); ok && (t == storage.TypeInt || t == storage.TypeFloat) {
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
		case ast.ValArg:
			t, ok := binds[strings.TrimPrefix(string(x.Val), ":")]
			return t, false, ok
		}
	}
	return 0, false, false
}

// compatStatement applies the rewrites that make go-mysql-server accept
// what MySQL 8 accepts (text is the statement's text): CUME_DIST
// (window_cume_dist.go), window functions over grouped rows
// (window_over_groups.go), SET NAMES ... COLLATE (session_charset.go), and
// no privilege checks on the session's temporary tables (temp_tables.go).
func compatStatement(ctx context.Context, stmt ast.Statement, text string) (ast.Statement, error) {
	if sqlCtx, ok := ctx.(*sql.Context); ok && sqlCtx != nil && sqlCtx.Session != nil {
		stmt = withTempTableAuth(sessionOf(sqlCtx), stmt)
	}
	return withNamesCollation(withWindowOverGroups(withCumeDist(stmt)), text)
}

// rollup parses the first statement of query when it is a SELECT with
// GROUP BY ... WITH ROLLUP, which the parser refuses, as its rewrite
// (rollup.go), with parse. ok is false when query is no such statement:
// the caller keeps its parse error.
func (p *schemaParser) rollup(query string, multi bool, parse func(string) (ast.Statement, error)) (stmt ast.Statement, text, rest string, ok bool, err error) {
	stripped, rest, found := rollupStatement(query, multi)
	if !found {
		return nil, "", "", false, nil
	}
	s, err := parse(stripped)
	sel, isSelect := s.(*ast.Select)
	if err != nil || !isSelect || len(sel.GroupBy) == 0 {
		return nil, "", "", false, nil
	}
	if stmt, text, ok, err := rollupUnderWindows(sel, parse); ok {
		return stmt, text, rest, true, err
	}
	if text, err = rollupQuery(sel); err != nil {
		return nil, "", "", true, err
	}
	stmt, err = parse(text)
	return stmt, text, rest, true, err
}

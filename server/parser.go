package server

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/vitess/go/sqltypes"
	querypb "github.com/dolthub/vitess/go/vt/proto/query"
	ast "github.com/dolthub/vitess/go/vt/sqlparser"

	"arb/ingest"
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
	query, swaps, err := typedLiterals(query, multi) // typed_literals.go
	if err != nil {
		return nil, "", "", err
	}
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
	query, swaps, err := typedLiterals(query, multi)
	if err != nil {
		return nil, "", "", err
	}
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
	query, swaps, err := typedLiterals(query, true)
	if err != nil {
		return nil, 0, err
	}
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
	types := make(map[string]boundType, len(binds))
	for name, b := range binds {
		t, big := bindType(b)
		types[name] = boundType{t, big}
	}
	p.discoverFor(sess, stmt, types)
}

// boundType is the column type a bound value makes; big as in
// literalType.
type boundType struct {
	t   storage.ColumnType
	big bool
}

// bindType is the column type a bound value makes: a FLOAT or DOUBLE
// a float; an integer or a DECIMAL what the same number written as a
// literal makes (numberType), so that 2^64-1 bound as an unsigned
// BIGINT keeps every digit as a literal does; anything else a string.
func bindType(b *querypb.BindVariable) (t storage.ColumnType, big bool) {
	switch {
	case b.Type == querypb.Type_NULL_TYPE:
		return storage.TypeNull, false
	case sqltypes.IsFloat(b.Type):
		return storage.TypeFloat, false
	case sqltypes.IsIntegral(b.Type) || b.Type == querypb.Type_DECIMAL:
		return numberType(string(b.Value))
	}
	return storage.TypeString, false
}

// numberType is the column type a number written as text makes, whether
// it came as a literal or as a bound value: the type ingest.NumberValue (the
// one conversion of a number every path in uses, ingest.NumberValue) gives
// it. An integer within int64 is an int (big: beyond ±2^53, where a
// float64 would round it); an integer beyond int64 is a string, every
// digit kept; any other number is a float; a number no float64 holds
// (1e400) is a string here, and its conversion then fails as ingest.NumberValue
// refuses it.
func numberType(text string) (t storage.ColumnType, big bool) {
	v, err := ingest.NumberValue(json.Number(text))
	if err != nil {
		return storage.TypeString, false
	}
	if v.Type == storage.TypeInt {
		return storage.TypeInt, v.Int > 1<<53 || v.Int < -(1<<53)
	}
	return v.Type, false
}

func (p *schemaParser) discoverFor(sess *session, stmt ast.Statement, binds map[string]boundType) {
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
func inferColumns(schema []storage.Column, table string, cols ast.Columns, rows ast.Values, binds map[string]boundType) []storage.Column {
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
func literalType(e ast.Expr, binds map[string]boundType) (t storage.ColumnType, big, ok bool) {
	switch x := e.(type) {
	case *ast.NullVal:
		return storage.TypeNull, false, true
	case ast.BoolVal:
		return storage.TypeBool, false, true
	case *ast.ParenExpr:
		return literalType(x.Expr, binds)
	case *ast.UnaryExpr:
		if v, isNum := x.Expr.(*ast.SQLVal); isNum && (v.Type == ast.IntVal || v.Type == ast.FloatVal) && (x.Operator == "-" || x.Operator == "+") {
			// A signed number: typed as written, sign included
			// (-9223372036854775808 is an int, -1e400 no float).
			t, big := numberType(strings.TrimPrefix(x.Operator, "+") + string(v.Val))
			return t, big, true
		}
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
		case ast.IntVal, ast.FloatVal:
			t, big := numberType(string(x.Val))
			return t, big, true
		case ast.HexNum, ast.HexVal, ast.BitVal:
			return storage.TypeString, false, true
		case ast.ValArg:
			b, ok := binds[strings.TrimPrefix(string(x.Val), ":")]
			return b.t, b.big, ok
		}
	}
	return 0, false, false
}

// compatStatement applies the rewrites that make go-mysql-server accept
// what MySQL 8 accepts (text is the statement's text): time_zone =
// 'system' in any case (date_functions.go), the properties of an INSERT
// kept as sent (exact_json.go), CUME_DIST
// (window_cume_dist.go), window functions over grouped rows
// (window_over_groups.go), SET NAMES ... COLLATE (session_charset.go), and
// no privilege checks on the session's temporary tables (temp_tables.go).
func compatStatement(ctx context.Context, stmt ast.Statement, text string) (ast.Statement, error) {
	if sqlCtx, ok := ctx.(*sql.Context); ok && sqlCtx != nil && sqlCtx.Session != nil {
		stmt = withTempTableAuth(sessionOf(sqlCtx), stmt)
	}
	return withNamesCollation(withWindowOverGroups(withCumeDist(withExactJSON(withSystemTimeZone(stmt)))), text)
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

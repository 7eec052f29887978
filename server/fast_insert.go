package server

import (
	"context"
	"math"
	"strconv"
	"strings"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/vitess/go/sqltypes"
	ast "github.com/dolthub/vitess/go/vt/sqlparser"

	"arb/planner"
	"arb/storage"
)

// fastInsert runs `INSERT INTO events|people (cols) VALUES (literals), …`
// straight into storage, without go-mysql-server's analyzer, which spends
// most of a bulk INSERT walking the VALUES node. It handles only the
// plain form whose meaning is certain — literal values, explicit columns,
// times written 'YYYY-MM-DD[ HH:MM:SS[.fff]]' — and reports handled=false
// for anything else, which then takes the ordinary path. Both paths store
// the same values and types (the differential test checks it), and both
// are atomic and durable before the OK. The caller (nativeStatement) has
// parsed the statement and checked that pushdown is on.
func (h *handler) fastInsert(sess *session, ins *ast.Insert) (res *sqltypes.Result, handled bool, err error) {
	if ins.Action != ast.InsertStr || ins.Ignore != "" || len(ins.OnDup) > 0 || len(ins.Returning) > 0 ||
		ins.With != nil || len(ins.Partitions) > 0 || len(ins.Columns) == 0 {
		return nil, false, nil
	}
	values, ok := ins.Rows.(*ast.AliasedValues)
	if !ok || !values.As.IsEmpty() || len(values.Columns) > 0 {
		return nil, false, nil
	}
	db := ins.Table.DbQualifier.String()
	if db == "" {
		db = sess.GetCurrentDatabase()
	}
	project, ok := h.parser.store.Project(strings.ToLower(db))
	table := strings.ToLower(ins.Table.Name.String())
	if !ok || (table != storage.TableEvents && table != storage.TablePeople) || !ins.Table.SchemaQualifier.IsEmpty() {
		return nil, false, nil
	}
	if !mayWrite(h.users, sess, db, table) {
		return nil, false, nil // the ordinary path refuses it with MySQL's error
	}
	if sess.hasTempTable(db, table) {
		return nil, false, nil // a temporary table of that name hides arb's (temp_tables.go)
	}
	cols := make([]string, len(ins.Columns))
	seen := map[string]bool{}
	for i, c := range ins.Columns {
		cols[i] = c.String()
		if seen[c.Lowered()] {
			return nil, false, nil
		}
		seen[c.Lowered()] = true
	}
	// Each column's type after this statement, as the ordinary path
	// computes it; a literal of another kind would be converted by
	// go-mysql-server's rules (TRUE is 1, 33.30 keeps its scale as text),
	// so such statements take that path.
	schema := project.Columns(table)
	final := map[string]storage.ColumnType{}
	for _, c := range schema {
		final[strings.ToLower(c.Name)] = c.Type
	}
	for _, c := range inferColumns(schema, table, ins.Columns, values.Values, nil) {
		final[strings.ToLower(c.Name)] = c.Type
	}
	rows := make([]storage.Event, len(values.Values))
	for r, tuple := range values.Values {
		if len(tuple) != len(cols) {
			return nil, false, nil
		}
		if !fastRow(table, cols, final, tuple, &rows[r]) {
			return nil, false, nil
		}
	}
	if table == storage.TablePeople {
		err = project.SetPeople(rows)
	} else {
		err = project.Ingest(rows)
	}
	if err != nil {
		return nil, true, rowError(err)
	}
	return &sqltypes.Result{RowsAffected: uint64(len(rows))}, true, nil
}

func pushdownOn(sess *session) bool {
	ctx := sql.NewContext(context.Background(), sql.WithSession(sess))
	v, err := sess.GetSessionVariable(ctx, planner.PushdownVariable)
	if err != nil {
		return true
	}
	n, err := toInt64(v)
	return err != nil || n != 0
}

// fastRow fills e from one VALUES tuple; false means the tuple needs the
// ordinary path.
// final holds the columns' types after the statement, by lower-cased name.
func fastRow(table string, cols []string, final map[string]storage.ColumnType, tuple ast.ValTuple, e *storage.Event) bool {
	for i, expr := range tuple {
		v, ok := fastLiteral(expr)
		if !ok {
			return false
		}
		name := strings.ToLower(cols[i])
		switch {
		case table == storage.TableEvents && name == storage.ColRawDistinctID:
			return false // derived; the ordinary path refuses it with its message
		case table == storage.TablePeople && name == storage.ColDistinctID,
			table == storage.TableEvents && (name == storage.ColEvent || name == storage.ColDistinctID || name == storage.ColInsertID):
			if v.IsNull() {
				continue
			}
			if v.Type != storage.TypeString {
				return false
			}
			switch name {
			case storage.ColEvent:
				e.Name = v.Str
			case storage.ColDistinctID:
				e.DistinctID = v.Str
			default:
				e.InsertID = v.Str
			}
		case table == storage.TableEvents && name == storage.ColTime:
			if v.Type != storage.TypeString {
				return false // NULL (an error) and numbers take the ordinary path's messages
			}
			ms, ok := fastTime(v.Str)
			if !ok {
				return false
			}
			e.TimeMillis = ms
		case table == storage.TableEvents && name == colProperties:
			if v.IsNull() {
				continue
			}
			if v.Type != storage.TypeString {
				return false
			}
			props, err := propsFromJSON(v.Str)
			if err != nil {
				return false
			}
			e.Props = append(e.Props, props...)
		default:
			if v.IsNull() {
				continue
			}
			if !literalFits(v.Type, final[name]) {
				return false
			}
			e.Props = append(e.Props, storage.Prop{Key: cols[i], Value: v})
		}
	}
	return true
}

// literalFits reports whether a literal of type lit keeps its meaning in a
// column of type col without go-mysql-server's conversions.
func literalFits(lit, col storage.ColumnType) bool {
	switch lit {
	case storage.TypeBool:
		return col == storage.TypeBool
	case storage.TypeInt, storage.TypeFloat:
		return col == storage.TypeInt || col == storage.TypeFloat
	}
	return col == storage.TypeString
}

// fastLiteral types a literal as the ordinary path would store it.
func fastLiteral(expr ast.Expr) (storage.Value, bool) {
	switch x := expr.(type) {
	case *ast.NullVal:
		return storage.Value{}, true
	case ast.BoolVal:
		return storage.BoolValue(bool(x)), true
	case *ast.UnaryExpr:
		if x.Operator != "-" {
			return storage.Value{}, false
		}
		v, ok := fastLiteral(x.Expr)
		switch {
		case !ok:
		case v.Type == storage.TypeInt && v.Int != math.MinInt64:
			return storage.IntValue(-v.Int), true
		case v.Type == storage.TypeFloat:
			return storage.FloatValue(-v.Float), true
		}
	case *ast.SQLVal:
		switch x.Type {
		case ast.StrVal:
			return storage.StringValue(string(x.Val)), true
		case ast.IntVal:
			n, err := strconv.ParseInt(string(x.Val), 10, 64)
			if err == nil && n <= 1<<53 && n >= -(1<<53) {
				return storage.IntValue(n), true
			}
		case ast.FloatVal:
			f, err := strconv.ParseFloat(string(x.Val), 64)
			if err == nil && !math.IsInf(f, 0) {
				return storage.FloatValue(f), true
			}
		}
	}
	return storage.Value{}, false
}

// fastTime parses the datetime forms the fast path takes, at most
// millisecond precision (finer ones take the ordinary path's rounding):
// "YYYY-MM-DD", "YYYY-MM-DD hh:mm:ss" and that with a '.' and up to 3
// fraction digits, UTC. It reads the digits itself (LOAD DATA calls it for every
// row: time.Parse cost as much as the rest of a row's conversion) and
// accepts exactly what time.ParseInLocation accepts for those layouts
// (FuzzFastTime compares the two).
func fastTime(s string) (int64, bool) {
	n := len(s)
	if n != 10 && (n < 19 || n > 23) {
		return 0, false
	}
	if n > 19 && s[19] != '.' {
		return 0, false
	}
	if s[4] != '-' || s[7] != '-' {
		return 0, false
	}
	year, ok1 := digits(s[0:4])
	month, ok2 := digits(s[5:7])
	day, ok3 := digits(s[8:10])
	if !ok1 || !ok2 || !ok3 || month < 1 || month > 12 || day < 1 || day > planner.DaysInMonth(year, month) {
		return 0, false
	}
	ms := planner.DaysFromCivil(year, month, day) * 86_400_000
	if n == 10 {
		return ms, true
	}
	if s[10] != ' ' || s[13] != ':' || s[16] != ':' {
		return 0, false
	}
	hour, ok1 := digits(s[11:13])
	minute, ok2 := digits(s[14:16])
	sec, ok3 := digits(s[17:19])
	if !ok1 || !ok2 || !ok3 || hour > 23 || minute > 59 || sec > 59 {
		return 0, false
	}
	ms += (hour*3600 + minute*60 + sec) * 1000
	if n > 20 {
		frac, ok := digits(s[20:])
		if !ok {
			return 0, false
		}
		for k := n - 20; k < 3; k++ {
			frac *= 10
		}
		ms += frac
	}
	return ms, true
}

// digits is the value of s, ASCII digits only.
func digits(s string) (int64, bool) {
	var v int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int64(c-'0')
	}
	return v, true
}

package server

// CURDATE(), CURRENT_DATE and UTC_DATE() as MySQL 8 types them: DATE
// (MySQL 8.0 manual 14.7 "Date and Time Functions"; a driver sees column
// type 10, go-sql-driver's DatabaseTypeName "DATE", mysql2's columnType
// 10). go-mysql-server types CURDATE and CURRENT_DATE LONGTEXT, so a
// driver reads a string and a BI tool's date axis sees text; it has no
// UTC_DATE (1305). They also read the date in the session's time zone, as
// MySQL does: go-mysql-server's took the server's clock as it is.
//
// Each value is a 'YYYY-MM-DD' string typed DATE, as go-mysql-server's
// own DATE() returns it, so that everything built over it (CONCAT,
// comparisons, date arithmetic, the planner's constant time bounds) reads
// it as it reads DATE().
//
// go-mysql-server's catalog refuses a second function under a taken name,
// so init swaps these into function.BuiltIns before any engine builds its
// catalog (as planner/time_functions.go does for its replacements).
//
// INVARIANT: CURDATE() = CURRENT_DATE = DATE(NOW()) and UTC_DATE() =
// DATE(UTC_TIMESTAMP()) within one statement, in every session time zone
// (date_functions_test.go).

import (
	"fmt"
	"strings"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/expression/function"
	"github.com/dolthub/go-mysql-server/sql/types"
	ast "github.com/dolthub/vitess/go/vt/sqlparser"
)

func init() {
	dates := map[string]sql.Function{}
	for _, name := range []string{"curdate", "current_date", "utc_date"} {
		utc := name == "utc_date"
		dates[name] = sql.Function0{Name: name, Fn: func(*sql.Context) sql.Expression { return &currentDate{name: name, utc: utc} }}
	}
	for i, f := range function.BuiltIns {
		if d, ok := dates[f.FunctionName()]; ok {
			function.BuiltIns[i] = d
			delete(dates, f.FunctionName())
		}
	}
	if _, ok := dates["curdate"]; ok {
		panic("server: no go-mysql-server built-in curdate to replace")
	}
	for _, d := range dates { // the ones go-mysql-server lacks
		function.BuiltIns = append(function.BuiltIns, d)
	}
}

// currentDate is CURDATE()/CURRENT_DATE (the session's date) or
// UTC_DATE() (utc).
type currentDate struct {
	name string
	utc  bool
}

var (
	_ sql.FunctionExpression         = (*currentDate)(nil)
	_ sql.NonDeterministicExpression = (*currentDate)(nil)
	_ sql.CollationCoercible         = (*currentDate)(nil)
)

func (d *currentDate) FunctionName() string { return d.name }
func (d *currentDate) Description() string {
	return "arb: MySQL 8 " + d.name + ", a DATE"
}
func (d *currentDate) Resolved() bool               { return true }
func (d *currentDate) String() string               { return d.name + "()" }
func (d *currentDate) Type(*sql.Context) sql.Type   { return types.Date }
func (d *currentDate) IsNullable(*sql.Context) bool { return false }
func (d *currentDate) IsNonDeterministic() bool     { return true }
func (d *currentDate) Children() []sql.Expression   { return nil }
func (d *currentDate) CollationCoercibility(*sql.Context) (sql.CollationID, byte) {
	return sql.Collation_binary, 5
}

func (d *currentDate) WithChildren(_ *sql.Context, children ...sql.Expression) (sql.Expression, error) {
	if len(children) != 0 {
		return nil, sql.ErrInvalidChildrenNumber.New(d, len(children), 0)
	}
	return d, nil
}

// Eval is the statement's start (the time NOW() reads) as a date in the
// session's time zone, or in UTC.
func (d *currentDate) Eval(ctx *sql.Context, _ sql.Row) (any, error) {
	t := ctx.QueryTime()
	if d.utc {
		return t.UTC().Format("2006-01-02"), nil
	}
	zone, err := function.SessionTimeZone(ctx)
	if err != nil {
		return nil, err
	}
	local, ok := sql.ConvertTimeZone(t, sql.SystemTimezoneOffset(), zone)
	if !ok {
		return nil, fmt.Errorf("%s: %w", d.name, sql.ErrInvalidTimeZone.New(zone))
	}
	return local.Format("2006-01-02"), nil
}

// withSystemTimeZone spells SET time_zone = 'system' in any case as
// 'SYSTEM': MySQL takes the word in any case, go-mysql-server's time
// functions only in capitals (any other spelling was stored, then every
// NOW() or CURDATE() of the session failed with "Unknown or incorrect
// time zone: system").
func withSystemTimeZone(stmt ast.Statement) ast.Statement {
	set, ok := stmt.(*ast.Set)
	if !ok {
		return stmt
	}
	for _, e := range set.Exprs {
		v, isStr := e.Expr.(*ast.SQLVal)
		if e.Name != nil && strings.EqualFold(e.Name.Name.String(), "time_zone") && isStr && v.Type == ast.StrVal &&
			strings.EqualFold(string(v.Val), "SYSTEM") {
			v.Val = []byte("SYSTEM")
		}
	}
	return stmt
}

package server

import (
	"errors"
	"testing"

	"github.com/dolthub/vitess/go/mysql"

	ast "github.com/dolthub/vitess/go/vt/sqlparser"
)

// TestTypedLiterals: DATE 'x', TIME 'x' and TIMESTAMP 'x' become CASTs where they
// stand as tokens, nowhere else, and the column keeps the text as written.
func TestTypedLiterals(t *testing.T) {
	for _, c := range []struct {
		name, query, want, column string
	}{
		{"date", "SELECT DATE '2024-01-01'", "SELECT CAST('2024-01-01' AS DATE)", "DATE '2024-01-01'"},
		{"lower case, spaces", "SELECT date   \"2024-01-01\" FROM events", `SELECT CAST("2024-01-01" AS DATE) FROM events`, `date   "2024-01-01"`},
		{"timestamp digits", "SELECT TIMESTAMP '2024-01-01 10:00:00.25'", "SELECT CAST('2024-01-01 10:00:00.25' AS DATETIME(2))", "TIMESTAMP '2024-01-01 10:00:00.25'"},
		{"timestamp whole", "SELECT TIMESTAMP '2024-01-01 10:00:00' + INTERVAL 1 DAY", "SELECT CAST('2024-01-01 10:00:00' AS DATETIME(0)) + INTERVAL 1 DAY", "TIMESTAMP '2024-01-01 10:00:00' + INTERVAL 1 DAY"},
		{"time", "SELECT TIME '01:02:03' + 0", "SELECT CAST('01:02:03' AS TIME(0)) + 0", "TIME '01:02:03' + 0"},
		{"time digits", "SELECT time '-12:00:00.125'", "SELECT CAST('-12:00:00.125' AS TIME(3))", "time '-12:00:00.125'"},
		{"time with days", "SELECT TIME '1 02:30:00.5'", "SELECT CAST('26:30:00.5' AS TIME(1))", "TIME '1 02:30:00.5'"},
		{"time days and hours", "SELECT TIME '-2 3'", "SELECT CAST('-51:00' AS TIME(0))", "TIME '-2 3'"},
		{"time as MySQL reads it, not an alias", "SELECT time '10:00' FROM events", "SELECT CAST('10:00' AS TIME(0)) FROM events", "time '10:00'"},
		{"in a condition", "SELECT count(*) FROM events WHERE time >= DATE '2025-01-01'", "SELECT count(*) FROM events WHERE time >= CAST('2025-01-01' AS DATE)", "count(*)"},
		{"DATE() stays", "SELECT DATE('2024-01-01')", "SELECT DATE('2024-01-01')", "DATE('2024-01-01')"},
		{"inside a string", "SELECT 'DATE ''2024-01-01'''", "SELECT 'DATE ''2024-01-01'''", "'DATE ''2024-01-01'''"},
		{"inside a comment", "SELECT /* DATE '2024' */ 1", "SELECT /* DATE '2024' */ 1", "1"},
		{"backquoted column", "SELECT `date` 'd' FROM events", "SELECT `date` 'd' FROM events", "`date`"},
		{"INSERT left alone", "INSERT INTO events (time, event, distinct_id) VALUES (DATE '2025-01-01', 'a', 'u')", "INSERT INTO events (time, event, distinct_id) VALUES (DATE '2025-01-01', 'a', 'u')", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, swaps, err := typedLiterals(c.query, false)
			if err != nil {
				t.Fatal(err)
			}
			if got != c.want {
				t.Fatalf("typedLiterals(%q) = %q, want %q", c.query, got, c.want)
			}
			if c.column == "" || len(swaps) == 0 {
				return
			}
			stmt, err := ast.Parse(got)
			if err != nil {
				t.Fatal(err)
			}
			restoreTypedLiteralNames(stmt, swaps)
			ae := stmt.(*ast.Select).SelectExprs[0].(*ast.AliasedExpr)
			if name := ae.InputExpression; name != c.column && !(name == "" && c.column == ast.String(ae.Expr)) {
				t.Errorf("column named %q, want %q", name, c.column)
			}
			if n := originalOffset(len(got), swaps); n != len(c.query) {
				t.Errorf("originalOffset(end) = %d, want %d", n, len(c.query))
			}
		})
	}
	// With multi, only the first statement is rewritten.
	got, _, _ := typedLiterals("SELECT DATE '2024-01-01'; SELECT DATE '2024-01-02'", true)
	if want := "SELECT CAST('2024-01-01' AS DATE); SELECT DATE '2024-01-02'"; got != want {
		t.Errorf("multi: %q, want %q", got, want)
	}
}

// TestTypedLiteralsInvalid: a typed literal that is no value of its type
// refuses the statement with MySQL's 1525 naming the type and the text
// (MySQL 8.0 manual 11.1.3: "DATE 'str'" must be a valid date).
func TestTypedLiteralsInvalid(t *testing.T) {
	for _, c := range []struct{ query, want string }{
		{"SELECT DATE '2024-13-01'", "Incorrect DATE value: '2024-13-01'"},
		{"SELECT DATE '2023-02-29'", "Incorrect DATE value: '2023-02-29'"},
		{"SELECT count(*) FROM events WHERE time >= DATE 'yesterday'", "Incorrect DATE value: 'yesterday'"},
		{"SELECT TIME '10:61:00'", "Incorrect TIME value: '10:61:00'"},
		{"SELECT TIME 'noon'", "Incorrect TIME value: 'noon'"},
		{"SELECT TIMESTAMP '2024-01-01 25:00:00'", "Incorrect DATETIME value: '2024-01-01 25:00:00'"},
		{"SELECT TIMESTAMP '2024-02-30 10:00:00'", "Incorrect DATETIME value: '2024-02-30 10:00:00'"},
	} {
		_, _, err := typedLiterals(c.query, false)
		var se *mysql.SQLError
		if !errors.As(err, &se) || se.Num != erWrongValueLiteral || se.Message != c.want {
			t.Errorf("typedLiterals(%q): error %v, want 1525 %q", c.query, err, c.want)
		}
	}
}

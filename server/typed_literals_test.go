package server

import (
	"testing"

	ast "github.com/dolthub/vitess/go/vt/sqlparser"
)

// TestTypedLiterals: DATE 'x' and TIMESTAMP 'x' become CASTs where they
// stand as tokens, nowhere else, and the column keeps the text as written.
func TestTypedLiterals(t *testing.T) {
	for _, c := range []struct {
		name, query, want, column string
	}{
		{"date", "SELECT DATE '2024-01-01'", "SELECT CAST('2024-01-01' AS DATE)", "DATE '2024-01-01'"},
		{"lower case, spaces", "SELECT date   \"2024-01-01\" FROM events", `SELECT CAST("2024-01-01" AS DATE) FROM events`, `date   "2024-01-01"`},
		{"timestamp digits", "SELECT TIMESTAMP '2024-01-01 10:00:00.25'", "SELECT CAST('2024-01-01 10:00:00.25' AS DATETIME(2))", "TIMESTAMP '2024-01-01 10:00:00.25'"},
		{"timestamp whole", "SELECT TIMESTAMP '2024-01-01 10:00:00' + INTERVAL 1 DAY", "SELECT CAST('2024-01-01 10:00:00' AS DATETIME(0)) + INTERVAL 1 DAY", "TIMESTAMP '2024-01-01 10:00:00' + INTERVAL 1 DAY"},
		{"in a condition", "SELECT count(*) FROM events WHERE time >= DATE '2025-01-01'", "SELECT count(*) FROM events WHERE time >= CAST('2025-01-01' AS DATE)", "count(*)"},
		{"DATE() stays", "SELECT DATE('2024-01-01')", "SELECT DATE('2024-01-01')", "DATE('2024-01-01')"},
		{"inside a string", "SELECT 'DATE ''2024-01-01'''", "SELECT 'DATE ''2024-01-01'''", "'DATE ''2024-01-01'''"},
		{"inside a comment", "SELECT /* DATE '2024' */ 1", "SELECT /* DATE '2024' */ 1", "1"},
		{"backquoted column", "SELECT `date` 'd' FROM events", "SELECT `date` 'd' FROM events", "`date`"},
		{"INSERT left alone", "INSERT INTO events (time, event, distinct_id) VALUES (DATE '2025-01-01', 'a', 'u')", "INSERT INTO events (time, event, distinct_id) VALUES (DATE '2025-01-01', 'a', 'u')", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, swaps := typedLiterals(c.query, false)
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
	got, _ := typedLiterals("SELECT DATE '2024-01-01'; SELECT DATE '2024-01-02'", true)
	if want := "SELECT CAST('2024-01-01' AS DATE); SELECT DATE '2024-01-02'"; got != want {
		t.Errorf("multi: %q, want %q", got, want)
	}
}

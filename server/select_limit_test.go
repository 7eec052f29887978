package server

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"
)

// TestSelectLimit checks SET sql_select_limit (what JDBC setMaxRows sends)
// as MySQL 8 applies it: it caps the rows of every top-level SELECT of the
// session, run natively or by go-mysql-server alike; a LIMIT written in
// the query takes precedence; subqueries, other sessions and statements
// after SET ... = DEFAULT are not capped.
func TestSelectLimit(t *testing.T) {
	srv := startTestServer(t, t.TempDir())
	db := openDB(t, srv, "")
	var values []string
	for i := 0; i < 10; i++ {
		ev := "a"
		if i%2 == 1 {
			ev = "b"
		}
		values = append(values, fmt.Sprintf("('2025-01-01 10:00:%02d', '%s', 'u%d', %d)", i, ev, i, i))
	}
	mustExec(t, db, "INSERT INTO events (time, event, distinct_id, amount) VALUES "+strings.Join(values, ", "))

	ctx := context.Background()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	count := func(c *sql.Conn, q string, args ...any) int {
		t.Helper()
		rows, err := c.QueryContext(ctx, q, args...)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		defer rows.Close()
		n := 0
		for rows.Next() {
			n++
		}
		if err := rows.Err(); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return n
	}
	exec := func(c *sql.Conn, q string) {
		t.Helper()
		if _, err := c.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}

	// Rows each query returns with sql_select_limit = 3 and without it.
	cases := []struct {
		q             string
		capped, whole int
	}{
		{"SELECT * FROM events", 3, 10},
		{"SELECT event FROM events WHERE event = 'a'", 3, 5},
		{"SELECT * FROM events WHERE amount >= 2", 3, 8},
		{"SELECT distinct_id FROM events ORDER BY time", 3, 10},
		{"SELECT DISTINCT distinct_id FROM events", 3, 10},
		{"SELECT distinct_id, count(*) FROM events GROUP BY distinct_id", 3, 10},
		{"SELECT distinct_id, count(*) FROM events GROUP BY distinct_id HAVING count(*) > 0", 3, 10},
		{"SELECT distinct_id, group_concat(event) FROM events GROUP BY distinct_id", 3, 10},
		{"SELECT e.distinct_id FROM events e JOIN events f ON e.distinct_id = f.distinct_id", 3, 10},
		{"SELECT event FROM events UNION ALL SELECT event FROM events", 3, 20},
		{"SELECT * FROM (SELECT distinct_id FROM events) t", 3, 10},
		{"WITH t AS (SELECT distinct_id FROM events) SELECT * FROM t", 3, 10},
		{"SELECT distinct_id, row_number() OVER (ORDER BY time) FROM events", 3, 10},
		// A LIMIT in the query takes precedence, smaller or larger.
		{"SELECT * FROM events LIMIT 2", 2, 2},
		{"SELECT * FROM events ORDER BY time LIMIT 2", 2, 2},
		{"SELECT * FROM events LIMIT 5", 5, 5},
		{"SELECT * FROM events LIMIT 5 OFFSET 1", 5, 5},
		// Subqueries are not capped: the counts see every row.
		{"SELECT count(*) FROM (SELECT * FROM events) t", 1, 1},
		{"SELECT * FROM events WHERE distinct_id IN (SELECT distinct_id FROM events WHERE event = 'a')", 3, 5},
	}
	for _, pushdown := range []string{"1", "0"} {
		exec(conn, "SET arb_pushdown = "+pushdown)
		exec(conn, "SET @@SQL_SELECT_LIMIT = 3")
		for _, c := range cases {
			if n := count(conn, c.q); n != c.capped {
				t.Errorf("arb_pushdown=%s, sql_select_limit=3: %s: %d rows, want %d", pushdown, c.q, n, c.capped)
			}
		}
		var total int
		if err := conn.QueryRowContext(ctx, "SELECT count(*) FROM (SELECT * FROM events) t").Scan(&total); err != nil || total != 10 {
			t.Errorf("arb_pushdown=%s: a subquery is capped: count %d (%v), want 10", pushdown, total, err)
		}
		if err := conn.QueryRowContext(ctx, "SELECT count(*) FROM events WHERE distinct_id IN (SELECT distinct_id FROM events)").Scan(&total); err != nil || total != 10 {
			t.Errorf("arb_pushdown=%s: an IN subquery is capped: count %d (%v), want 10", pushdown, total, err)
		}
		// Server-side prepared statement (go-sql-driver prepares when given args).
		if n := count(conn, "SELECT * FROM events WHERE amount >= ?", 0); n != 3 {
			t.Errorf("arb_pushdown=%s: prepared SELECT: %d rows, want 3", pushdown, n)
		}
		exec(conn, "SET SQL_SELECT_LIMIT = DEFAULT")
		for _, c := range cases {
			if n := count(conn, c.q); n != c.whole {
				t.Errorf("arb_pushdown=%s, after SET SQL_SELECT_LIMIT = DEFAULT: %s: %d rows, want %d", pushdown, c.q, n, c.whole)
			}
		}
	}

	// The other spellings, and 0.
	exec(conn, "SET SQL_SELECT_LIMIT = 4")
	if n := count(conn, "SELECT * FROM events"); n != 4 {
		t.Errorf("SET SQL_SELECT_LIMIT = 4: %d rows, want 4", n)
	}
	exec(conn, "SET SESSION sql_select_limit = 0")
	if n := count(conn, "SELECT * FROM events"); n != 0 {
		t.Errorf("sql_select_limit = 0: %d rows, want 0", n)
	}
	var limit int64
	if err := conn.QueryRowContext(ctx, "SELECT @@sql_select_limit").Scan(&limit); err == nil {
		t.Errorf("sql_select_limit = 0: SELECT @@sql_select_limit returned a row (%d)", limit)
	}
	exec(conn, "SET sql_select_limit = 2")

	// Per session: another connection is not capped.
	other, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if n := count(other, "SELECT * FROM events"); n != 10 {
		t.Errorf("another session: %d rows, want 10", n)
	}
	if n := count(conn, "SELECT * FROM events"); n != 2 {
		t.Errorf("the capped session: %d rows, want 2", n)
	}

	// Statements other than SELECT are not capped.
	exec(conn, "INSERT INTO events (time, event, distinct_id) SELECT time, 'copied', distinct_id FROM events")
	exec(conn, "SET sql_select_limit = DEFAULT")
	if n := count(conn, "SELECT * FROM events WHERE event = 'copied'"); n != 10 {
		t.Errorf("INSERT ... SELECT under sql_select_limit = 2 copied %d rows, want 10", n)
	}
}

package server

import (
	"context"
	"strings"
	"testing"
)

// TestExplainShowsNativeParts checks that EXPLAIN tells which part of a
// query arb's engine runs: the product-analytics shapes show the native
// node, and a shape the engine does not run keeps go-mysql-server's
// GroupBy.
func TestExplainShowsNativeParts(t *testing.T) {
	srv := startTestServer(t, t.TempDir())
	db := openDB(t, srv, "")
	db.SetMaxOpenConns(1) // one session: SET arb_pushdown below applies to it
	mustExec(t, db, "INSERT INTO events (time, event, distinct_id, `$browser`, amount) VALUES ('2025-01-01 10:00:00', 'Signup', 'u1', 'Chrome', NULL), ('2025-01-02 10:00:00', 'Purchase', 'u1', 'Chrome', 2.5)")
	native := []string{
		"SELECT count(*) FROM events",
		"SELECT count(*) FROM events WHERE event = 'Purchase'",
		"SELECT event, count(*) FROM events GROUP BY event",
		"SELECT DATE(time), count(DISTINCT distinct_id) FROM events GROUP BY DATE(time)",
		"SELECT `$browser`, count(*) FROM events WHERE event = 'Signup' AND time >= CAST('2025-01-01' AS DATETIME) GROUP BY `$browser`",
		"SELECT `$browser`, sum(amount) FROM events GROUP BY `$browser`",
		"SELECT distinct_id, window_funnel(604800, time, event = 'Signup', event = 'Purchase') FROM events GROUP BY distinct_id",
		"SELECT level, count(*) FROM (SELECT distinct_id, window_funnel(604800, time, event = 'Signup', event = 'Purchase') AS level FROM events GROUP BY distinct_id) f GROUP BY level ORDER BY level",
		"SELECT DATE(time) AS day, count(*) FROM events GROUP BY day",
		"SELECT DATE(time), count(DISTINCT distinct_id) FROM events WHERE distinct_id IN (SELECT distinct_id FROM events WHERE event = 'Signup') GROUP BY DATE(time)",
	}
	explain := func(q string) string {
		rows, err := db.QueryContext(context.Background(), "EXPLAIN FORMAT=TREE "+q)
		if err != nil {
			t.Fatalf("EXPLAIN %s: %v", q, err)
		}
		defer rows.Close()
		var b strings.Builder
		for rows.Next() {
			var line string
			if err := rows.Scan(&line); err != nil {
				t.Fatal(err)
			}
			b.WriteString(line + "\n")
		}
		return b.String()
	}
	for _, q := range native {
		if plan := explain(q); !strings.Contains(plan, "arb engine") || strings.Contains(plan, "GroupBy") {
			t.Errorf("%s: want the engine node and no GroupBy, got\n%s", q, plan)
		}
	}
	// GROUP_CONCAT is not an engine aggregate: go-mysql-server's buffer
	// runs it, inside the native plan's HashAggregate.
	if plan := explain("SELECT event, group_concat(distinct_id) FROM events GROUP BY event"); !strings.Contains(plan, "HashAggregate") || !strings.Contains(plan, "gms group_concat") || strings.Contains(plan, "arb engine events [aggregate") {
		t.Errorf("group_concat: want go-mysql-server's buffer in a HashAggregate, got\n%s", plan)
	}
	mustExec(t, db, "SET arb_pushdown = 0")
	if plan := explain(native[2]); strings.Contains(plan, "arb engine") {
		t.Errorf("with arb_pushdown = 0 the engine must not run:\n%s", plan)
	}
}

// TestExplainTabular checks plain EXPLAIN of a query: MySQL's twelve
// columns, a row per table read, and Extra naming the native operators
// and what go-mysql-server still runs; EXPLAIN of a table stays SHOW
// COLUMNS.
func TestExplainTabular(t *testing.T) {
	srv := startTestServer(t, t.TempDir())
	db := openDB(t, srv, "")
	mustExec(t, db, "INSERT INTO events (time, event, distinct_id, amount) VALUES ('2025-01-01 10:00:00', 'Signup', 'u1', NULL), ('2025-01-02 10:00:00', 'Purchase', 'u1', 2.5)")
	for _, tc := range []struct {
		q      string
		tables []string
		extra  string
	}{
		{"EXPLAIN SELECT event, distinct_id FROM events WHERE amount > 1", []string{"events"}, "arb: "},
		{"DESCRIBE SELECT count(*) FROM events", []string{"events"}, "arb: "},
		{"EXPLAIN FORMAT=TRADITIONAL SELECT a.event FROM events a JOIN events b ON a.distinct_id = b.distinct_id", []string{"events", "events"}, "arb: "},
		{"EXPLAIN SELECT 1", nil, "No tables used"},
	} {
		rows, err := db.Query(tc.q)
		if err != nil {
			t.Fatalf("%s: %v", tc.q, err)
		}
		cols, _ := rows.Columns()
		if want := "id select_type table partitions type possible_keys key key_len ref rows filtered Extra"; strings.Join(cols, " ") != want {
			t.Fatalf("%s: columns %v, want %s", tc.q, cols, want)
		}
		var tables []string
		var extras []string
		for rows.Next() {
			vals := make([]*string, 12)
			ptrs := make([]any, 12)
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			if vals[2] != nil {
				tables = append(tables, *vals[2])
			}
			if vals[11] != nil {
				extras = append(extras, *vals[11])
			}
		}
		rows.Close()
		if strings.Join(tables, ",") != strings.Join(tc.tables, ",") {
			t.Errorf("%s: tables %v, want %v", tc.q, tables, tc.tables)
		}
		if len(extras) == 0 || !strings.Contains(extras[0], tc.extra) {
			t.Errorf("%s: Extra %q, want it to contain %q", tc.q, extras, tc.extra)
		}
	}
	rows, err := db.Query("EXPLAIN events")
	if err != nil {
		t.Fatal(err)
	}
	cols, _ := rows.Columns()
	rows.Close()
	if len(cols) == 0 || cols[0] != "Field" {
		t.Fatalf("EXPLAIN events: columns %v, want SHOW COLUMNS' (Field, …)", cols)
	}
}

// TestNativeScanReadsUsedColumns checks that the native scan reads only
// the columns the statement references, also where go-mysql-server does
// not prune them (a subquery in the select list), and that the answer is
// the same as without pushdown.
func TestNativeScanReadsUsedColumns(t *testing.T) {
	srv := startTestServer(t, t.TempDir())
	db := openDB(t, srv, "")
	db.SetMaxOpenConns(1)
	mustExec(t, db, "INSERT INTO events (time, event, distinct_id, amount, `$browser`) VALUES ('2025-01-01 10:00:00', 'Signup', 'u1', NULL, 'Chrome'), ('2025-01-02 10:00:00', 'Purchase', 'u1', 2.5, 'Firefox'), ('2025-01-02 11:00:00', 'Purchase', 'u2', 4, NULL)")
	q := "SELECT event, COUNT(*), ROUND(100.0 * COUNT(*) / (SELECT COUNT(*) FROM events), 2) FROM events WHERE amount > 1 OR event = 'Signup' GROUP BY event ORDER BY event"
	var plan strings.Builder
	rows, err := db.Query("EXPLAIN FORMAT=TREE " + q)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			t.Fatal(err)
		}
		plan.WriteString(line + "\n")
	}
	rows.Close()
	var scan string
	for _, l := range strings.Split(plan.String(), "\n") {
		if strings.Contains(l, "arb Scan events") {
			scan = l
		}
	}
	if scan == "" || strings.Contains(scan, "properties") || strings.Contains(scan, "$browser") || !strings.Contains(scan, "amount") {
		t.Fatalf("want a native scan of event and amount only, got\n%s", plan.String())
	}
	answer := func() string {
		rows, err := db.Query(q)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			var e, n, pct string
			if err := rows.Scan(&e, &n, &pct); err != nil {
				t.Fatal(err)
			}
			out = append(out, e+" "+n+" "+pct)
		}
		return strings.Join(out, "; ")
	}
	native := answer()
	mustExec(t, db, "SET arb_pushdown = 0")
	if want := answer(); native != want || want != "Purchase 2 66.67; Signup 1 33.33" {
		t.Fatalf("native %q, go-mysql-server %q, want %q", native, want, "Purchase 2 66.67; Signup 1 33.33")
	}
}

// TestNativeScanUnderDerivedTable checks column pruning where a derived
// table's projection was erased (Superset's virtual_table): the outer
// query reads the table's columns only by the derived table's name.
func TestNativeScanUnderDerivedTable(t *testing.T) {
	srv := startTestServer(t, t.TempDir())
	db := openDB(t, srv, "")
	db.SetMaxOpenConns(1)
	mustExec(t, db, "INSERT INTO events (time, event, distinct_id, amount) VALUES ('2025-01-05 10:00:00', 'Signup', 'u1', 1), ('2025-01-06 10:00:00', 'Purchase', 'u1', 2.5), ('2025-01-06 11:00:00', 'Purchase', 'u2', 4)")
	q := "SELECT DATE(time) AS d, COUNT(*), COUNT(DISTINCT distinct_id), SUM(amount) FROM (SELECT time, event, distinct_id, amount FROM events) AS virtual_table WHERE time >= '2025-01-05' GROUP BY d ORDER BY d"
	answer := func() string {
		rows, err := db.Query(q)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			var d, n, u, s string
			if err := rows.Scan(&d, &n, &u, &s); err != nil {
				t.Fatal(err)
			}
			out = append(out, d+" "+n+" "+u+" "+s)
		}
		return strings.Join(out, "; ")
	}
	const want = "2025-01-05T00:00:00Z 1 1 1; 2025-01-06T00:00:00Z 2 2 6.5" // DATE as the driver parses it
	if got := answer(); got != want {
		t.Fatalf("native: %q, want %q", got, want)
	}
	mustExec(t, db, "SET arb_pushdown = 0")
	if got := answer(); got != want {
		t.Fatalf("go-mysql-server: %q, want %q", got, want)
	}
	mustExec(t, db, "SET arb_pushdown = 1")
	q = "SELECT x.k, COUNT(*) FROM (SELECT event AS k FROM events WHERE amount > 2 UNION ALL SELECT distinct_id FROM events) x GROUP BY x.k ORDER BY x.k"
	rows, err := db.Query(q)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for rows.Next() {
		var k, n string
		if err := rows.Scan(&k, &n); err != nil {
			t.Fatal(err)
		}
		got = append(got, k+" "+n)
	}
	rows.Close()
	if g := strings.Join(got, "; "); g != "Purchase 2; u1 2; u2 1" {
		t.Fatalf("union under a derived table: %q", g)
	}
}

// TestPreparedExplainAnalyze: a server-side prepared EXPLAIN ANALYZE
// reports its placeholders (vitess counts none inside an EXPLAIN) and
// explains the statement with the values bound at each execution.
func TestPreparedExplainAnalyze(t *testing.T) {
	srv := startTestServer(t, t.TempDir())
	db := openDB(t, srv, "")
	mustExec(t, db, "INSERT INTO events (time, event, distinct_id) VALUES ('2025-01-01 10:00:00', 'Signup', 'u1')")
	st, err := db.Prepare("EXPLAIN ANALYZE SELECT count(*) FROM events WHERE event = ? AND distinct_id <> ?")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, ev := range []string{"Signup", "Purchase"} {
		rows, err := st.Query(ev, "nobody") // "expected 0 arguments" when no parameter was reported
		if err != nil {
			t.Fatalf("execute with %q: %v", ev, err)
		}
		var plan []string
		for rows.Next() {
			var line string
			if err := rows.Scan(&line); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, line)
		}
		rows.Close()
		if text := strings.Join(plan, "\n"); !strings.Contains(text, `"`+ev+`"`) || !strings.Contains(text, `"nobody"`) {
			t.Errorf("EXPLAIN ANALYZE with %q, %q bound:\n%s\nwant both values in the plan", ev, "nobody", text)
		}
	}
}

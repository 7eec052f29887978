package server

// TestNativeAggregateOverEvents runs the GROUP BY and DISTINCT shapes the
// engine's own aggregate does not take (conditional aggregates,
// expression keys, HAVING, aggregates over a derived table) over the
// events table, in flushed segments and the memory buffer, with arb's
// native plan on and off: the answers must be identical, and the plan
// must show the native HashAggregate (or HashDistinct) reading the
// events scan.

import (
	"math/rand"
	"strings"
	"testing"
	"time"
)

func TestNativeAggregateOverEvents(t *testing.T) {
	r := rand.New(rand.NewSource(7))
	srv := startTestServer(t, t.TempDir())
	db := openDB(t, srv, "")
	for _, day := range []int{1, 2, 5} {
		start := time.Date(2025, 3, day, 8, 0, 0, 0, time.UTC)
		mustExec(t, db, workloadInsert(r, 4_000, start, 400))
		if err := srv.Store().Flush(); err != nil {
			t.Fatal(err)
		}
	}
	mustExec(t, db, workloadInsert(r, 2_000, time.Date(2025, 3, 2, 20, 0, 0, 0, time.UTC), 400)) // buffered
	mustExec(t, db, "INSERT INTO events (time, event, distinct_id, amount, `plan`) VALUES ('2025-03-03 00:10:00', 'Purchase', 'x', 7, NULL), ('2025-03-03 00:10:00.001', 'Purchase', 'y', NULL, 'pro')")

	on, off := diffConn(t, db, 1), diffConn(t, db, 0)
	for _, tc := range []struct{ q, op string }{
		{"SELECT CAST(time AS DATE) AS day, COUNT(DISTINCT distinct_id) AS active, " +
			"COUNT(DISTINCT CASE WHEN event = 'Purchase' THEN distinct_id END) AS buyers, " +
			"SUM(CASE WHEN event = 'Purchase' THEN amount ELSE 0 END) AS revenue, " +
			"SUM(CASE WHEN event = 'Signup' THEN 1 ELSE 0 END) AS signups " +
			"FROM events WHERE time >= '2025-03-01' AND time < '2025-04-01' GROUP BY CAST(time AS DATE) ORDER BY day", "HashAggregate"},
		{"SELECT DATE_FORMAT(time, '%Y-%m-%d %H:00') AS hour, amount > 20 AS big, COUNT(*), AVG(amount) FROM events GROUP BY hour, big", "HashAggregate"},
		{"SELECT `plan`, COUNT(IF(event = 'Purchase', 1, NULL)), MAX(CASE WHEN event = 'Signup' THEN time END), MIN(amount * 2) FROM events GROUP BY `plan`", "HashAggregate"},
		{"SELECT LEAST(n, 20) AS bucket, COUNT(*) FROM (SELECT distinct_id, COUNT(*) AS n FROM events GROUP BY distinct_id) u GROUP BY LEAST(n, 20)", "HashAggregate"}, // over the engine's GROUP BY
		{"SELECT distinct_id, COUNT(*) AS c FROM events GROUP BY distinct_id HAVING COUNT(*) > 30 ORDER BY c DESC, distinct_id LIMIT 20", ""},
		{"SELECT utm_source, `$os`, COUNT(DISTINCT distinct_id, event) FROM events GROUP BY utm_source, `$os`", "HashAggregate"},
		{"SELECT DISTINCT event, `plan` FROM events", "HashDistinct"},
		{"SELECT DISTINCT DATE(time) FROM events WHERE event = 'Purchase'", "HashDistinct"},
		// time keys boxed in string-typed columns (TIMESTAMP(DATE_FORMAT(…)),
		// Tableau's truncation), alone and beside a string key; DATE()'s
		// string keys, ordered, and DATEDIFF of them
		{"SELECT `$os`, TIMESTAMP(DATE_FORMAT(time, '%Y-%m-01 00:00:00')) AS m, COUNT(DISTINCT distinct_id) FROM events GROUP BY 1, 2 ORDER BY 2, 1", "HashAggregate"},
		{"SELECT TIMESTAMP(DATE_FORMAT(time, '%Y-%m-%d %H:00:00')) AS h, COUNT(*) FROM events GROUP BY h ORDER BY h DESC", "HashAggregate"},
		{"SELECT DATE(time) AS d, COUNT(*), MIN(DATEDIFF(time, DATE(time))), MAX(DATEDIFF(DATE(time), '2025-03-01')) FROM events GROUP BY DATE(time) ORDER BY d DESC", "HashAggregate"},
		{"SELECT COUNT(*), SUM(amount), COUNT(DISTINCT `$city`) FROM events WHERE amount > 1000", ""},
		// String keys straight from the scan: grouped by dictionary code,
		// their strings left unfilled (read as keys and first values
		// only); constant sums counted. (SUM(1) beside only what the
		// engine's aggregate takes goes to it: TestConstSumByEngine.)
		{"SELECT event, SUM(1) AS records, COUNT(IF(amount > 5, 1, NULL)) FROM events GROUP BY 1", "HashAggregate"},
		{"SELECT `$city`, `plan`, SUM(1), COUNT(1), AVG(2), SUM(NULL) FROM events GROUP BY `$city`, `plan`", "HashAggregate"},
		{"SELECT `plan`, SUM(1), COUNT(IF(amount > 5, 1, NULL)) FROM events WHERE time < '2025-03-02' GROUP BY `plan`", "HashAggregate"},
		// the key also read as a value: its strings stay
		{"SELECT event, MAX(event), MIN(CONCAT(event, `plan`)), SUM(1) FROM events GROUP BY event", "HashAggregate"},
		// (an IN list alone beside SUM(1) goes to the engine's aggregate,
		// pushed as a bitmap filter: TestConstSumByEngine's case)
		{"SELECT utm_source, SUM(1), COUNT(IF(amount > 5, 1, NULL)) FROM events WHERE event IN ('Signup', 'Purchase') GROUP BY utm_source", "HashAggregate"},
		// CASE results carry user numbers when every row is a user's or NULL
		{"SELECT `plan`, COUNT(DISTINCT CASE WHEN event = 'Purchase' THEN distinct_id END), COUNT(DISTINCT IF(amount > 20, distinct_id, NULL)), " +
			"COUNT(DISTINCT CASE WHEN amount > 40 THEN distinct_id ELSE 'nobody' END), COUNT(DISTINCT CASE WHEN event = 'Signup' THEN distinct_id WHEN event = 'Share' THEN `$city` END) FROM events GROUP BY `plan`", "HashAggregate"},
		// COUNT(DISTINCT) of a coded string column
		{"SELECT `plan`, COUNT(DISTINCT `$city`), COUNT(DISTINCT utm_source), SUM(1), COUNT(IF(amount > 5, 1, NULL)) FROM events GROUP BY `plan`", "HashAggregate"},
		// through a derived table's filter (by code) and projection
		{"SELECT `$os`, `plan`, SUM(amount), COUNT(*) FROM (SELECT `$os`, `plan`, amount FROM events WHERE event = 'Purchase') v GROUP BY `$os`, `plan`", "HashAggregate"},
		{"SELECT `$os`, COUNT(*) FROM (SELECT `$os`, CONCAT(`$os`, '!') AS x FROM events WHERE event <> 'Click' AND amount > 5) v GROUP BY `$os`", "HashAggregate"},
		{"SELECT event, SUM(1), COUNT(IF(amount > 5, 1, NULL)) FROM events WHERE event LIKE 'S%' OR event = 'Purchase' GROUP BY event", "HashAggregate"},
	} {
		want, got := queryRows(t, off, tc.q), queryRows(t, on, tc.q)
		if !renderedRowsEqual(want, got) {
			t.Fatalf("%s\nnative plan off (%d rows): %.600v\non (%d rows): %.600v", tc.q, len(want), want, len(got), got)
		}
		if len(want) == 0 {
			t.Fatalf("%s: no rows: the fixture tests nothing", tc.q)
		}
		if tc.op == "" {
			continue
		}
		plan := strings.Join(queryRows(t, on, "EXPLAIN FORMAT=TREE "+tc.q), "\n")
		overEngine := strings.Contains(tc.q, "FROM (")
		if !strings.Contains(plan, "arb "+tc.op) || (!overEngine && !strings.Contains(plan, "arb Scan events")) {
			t.Errorf("%s: want the native %s over the events scan, got\n%s", tc.q, tc.op, plan)
		}
	}
}

// TestNativeScanReadsNamedColumns: a derived table's SELECT * (Superset's
// virtual table) makes the events scan read only the columns something
// above names, not the properties JSON and the rest; rows consumed whole
// (DISTINCT, IN, UNION) keep every column they carry. Answers match the
// plan with arb's rules off.
func TestNativeScanReadsNamedColumns(t *testing.T) {
	r := rand.New(rand.NewSource(11))
	srv := startTestServer(t, t.TempDir())
	db := openDB(t, srv, "")
	mustExec(t, db, workloadInsert(r, 3_000, time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC), 300))
	if err := srv.Store().Flush(); err != nil {
		t.Fatal(err)
	}
	mustExec(t, db, workloadInsert(r, 500, time.Date(2025, 3, 2, 8, 0, 0, 0, time.UTC), 300)) // buffered
	on, off := diffConn(t, db, 1), diffConn(t, db, 0)
	for _, tc := range []struct{ q, scan string }{
		{"SELECT time AS time, distinct_id AS distinct_id, amount AS amount FROM (SELECT * FROM events) AS virtual_table " +
			"WHERE event = 'Purchase' ORDER BY time DESC, distinct_id LIMIT 50", "[time, event, distinct_id, amount]"},
		{"SELECT v.t FROM (SELECT time AS t, event, `plan` FROM events) v WHERE v.event = 'Search' ORDER BY v.t LIMIT 9", "[time, event]"},
		// rows read whole: every column of the inner select
		{"SELECT COUNT(*) FROM (SELECT DISTINCT event, `plan` FROM events) d", "[event, plan]"},
		{"SELECT COUNT(*) FROM events WHERE distinct_id IN (SELECT distinct_id FROM events WHERE event = 'Purchase')", ""},
		{"SELECT event FROM events WHERE amount > 40 UNION SELECT `plan` FROM events", ""},
		{"SELECT * FROM (SELECT * FROM events WHERE event = 'Signup') s ORDER BY time, insert_id LIMIT 3", ""},
		// filters decided by dictionary code, with and without other conjuncts
		{"SELECT time, `$os`, amount FROM events WHERE `$os` IN ('iOS', 'Android') AND amount > 10 ORDER BY time", ""},
		{"SELECT COUNT(*), SUM(amount) FROM events WHERE event <> 'Click' AND utm_source = 'src3' AND `$city` IS NOT NULL", ""},
		{"SELECT `plan`, COUNT(*) FROM events WHERE LOWER(`plan`) LIKE '%pr%' OR `plan` = 'free' GROUP BY `plan`", ""},
	} {
		want, got := queryRows(t, off, tc.q), queryRows(t, on, tc.q)
		if !renderedRowsEqual(want, got) {
			t.Fatalf("%s\nnative plan off (%d rows): %.600v\non (%d rows): %.600v", tc.q, len(want), want, len(got), got)
		}
		if len(want) == 0 {
			t.Fatalf("%s: no rows: the fixture tests nothing", tc.q)
		}
		if tc.scan == "" {
			continue
		}
		plan := strings.Join(queryRows(t, on, "EXPLAIN FORMAT=TREE "+tc.q), "\n")
		if !strings.Contains(plan, "arb Scan events "+tc.scan) {
			t.Errorf("%s: want the scan to read %s, got\n%s", tc.q, tc.scan, plan)
		}
	}
}

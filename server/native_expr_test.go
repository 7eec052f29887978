package server

// TestNativeExpressionsOverEvents runs the filters and select lists BI
// tools send over the real events table (strings in utf8mb4_bin,
// DATETIME(3) times, a connection in go-sql-driver's collation) with
// arb's native plan on and off: the answers must be identical, and the
// native Filter and Project must evaluate them without go-mysql-server's
// Eval (which EXPLAIN prints as eval(…)). native/expr_test.go checks
// each expression against Eval value by value; this checks the types
// the server really gives them.

import (
	"math/rand"
	"strings"
	"testing"
	"time"
)

func TestNativeExpressionsOverEvents(t *testing.T) {
	r := rand.New(rand.NewSource(11))
	srv := startTestServer(t, t.TempDir())
	db := openDB(t, srv, "")
	mustExec(t, db, workloadInsert(r, 3_000, time.Date(2025, 3, 14, 13, 0, 0, 0, time.UTC), 300))
	if err := srv.Store().Flush(); err != nil {
		t.Fatal(err)
	}
	mustExec(t, db, workloadInsert(r, 1_000, time.Date(2025, 3, 15, 23, 30, 0, 0, time.UTC), 300)) // buffered
	mustExec(t, db, "INSERT INTO events (time, event, distinct_id, amount, `plan`) VALUES "+
		"('2025-03-14 14:00:00', 'Purchase', 'x', 7, NULL), ('2025-03-14 14:00:00.001', 'Purchase ', 'y', NULL, 'Pro')")

	on, off := diffConn(t, db, 1), diffConn(t, db, 0)
	for _, q := range []string{
		"SELECT event, amount FROM events WHERE time >= '2025-03-14 14:00:00' AND time < '2025-03-14 15:00:00.000000' AND event = 'Purchase'",
		"SELECT event FROM events WHERE time BETWEEN TIMESTAMP('2025-03-14 14:00:00') AND FROM_UNIXTIME(1741964400) AND event IN ('Signup', 'Purchase', 'Share')",
		"SELECT distinct_id FROM events WHERE `plan` <> 'free' AND (amount > 20.5 OR `$os` LIKE '%OS%') AND `$city` NOT LIKE 'city1%'",
		"SELECT event FROM events WHERE `plan` IS NULL OR utm_source = 'src3'",
		"SELECT DATE_FORMAT(time, '%Y-%m-%d %H:00:00'), HOUR(time), DAYOFWEEK(time), CAST(time AS DATE), DATE(time) FROM events WHERE event = 'Signup'",
		"SELECT CASE WHEN amount >= 50 THEN 'big' WHEN amount >= 10 THEN 'mid' ELSE 'small' END, IFNULL(amount, 0) * 100, COALESCE(`plan`, 'none') FROM events",
		"SELECT LOWER(event), CONCAT(`$os`, ' / ', `$browser`), LENGTH(`$city`), SUBSTRING(distinct_id, 1, 4) FROM events WHERE UPPER(`plan`) = 'PRO'",
		"SELECT DATEDIFF(time, '2025-03-01'), TIMESTAMPDIFF(MINUTE, '2025-03-14 00:00:00', time) FROM events WHERE event = 'Share'",
	} {
		want, got := queryRows(t, off, q), queryRows(t, on, q)
		if !renderedRowsEqual(want, got) {
			t.Fatalf("%s\nnative plan off (%d rows): %.600v\non (%d rows): %.600v", q, len(want), want, len(got), got)
		}
		if len(want) == 0 {
			t.Fatalf("%s: no rows: the fixture tests nothing", q)
		}
		plan := strings.Join(queryRows(t, on, "EXPLAIN FORMAT=TREE "+q), "\n")
		exprLines := 0
		for _, line := range strings.Split(plan, "\n") {
			l := strings.TrimSpace(line)
			if !strings.HasPrefix(l, "arb Filter") && !strings.HasPrefix(l, "arb Project") && !strings.HasPrefix(l, "arb Evaluate") {
				continue
			}
			exprLines++
			if strings.Contains(l, "eval(") {
				t.Errorf("%s: go-mysql-server still evaluates\n%s", q, plan)
			}
		}
		if exprLines == 0 {
			t.Errorf("%s: no native Filter or Project in\n%s", q, plan)
		}
	}
}

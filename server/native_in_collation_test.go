package server

import (
	"context"
	"database/sql"
	"math/rand"
	"strings"
	"testing"
	"time"
)

// TestNativeInListEveryConnectionCollation: `event IN ('…', …)` in a
// join's ON clause and in a filter is native whatever the connection's
// collation — the mariadb CLI's utf8mb3_general_ci, go-sql-driver's
// utf8mb4_general_ci, utf8mb4_0900_bin — and answers as go-mysql-server
// does (native plan off): a case or a trailing space that differs is no
// match. InTuple compares the value and each element as two literals, so
// across character sets it compares bytes; native/expr_compare.go's
// inTupleBytewise. A plain-SQL funnel evaluated that IN through
// go-mysql-server's Eval once per joined pair.
func TestNativeInListEveryConnectionCollation(t *testing.T) {
	r := rand.New(rand.NewSource(5))
	srv := startTestServer(t, t.TempDir())
	db := openDB(t, srv, "")
	mustExec(t, db, workloadInsert(r, 2_000, time.Date(2025, 3, 14, 13, 0, 0, 0, time.UTC), 200))
	if err := srv.Store().Flush(); err != nil {
		t.Fatal(err)
	}
	mustExec(t, db, workloadInsert(r, 500, time.Date(2025, 3, 15, 23, 30, 0, 0, time.UTC), 200)) // buffered
	mustExec(t, db, "INSERT INTO events (time, event, distinct_id) VALUES "+
		"('2025-03-14 14:00:00', 'purchase', 'u1'), ('2025-03-14 14:00:01', 'Purchase ', 'u2'), ('2025-03-14 14:00:02', 'PURCHASE', 'u3')")
	queries := []string{
		`SELECT s.distinct_id, COUNT(e.time), MIN(CASE WHEN e.event = 'Purchase' THEN e.time END)
		 FROM (SELECT distinct_id, MIN(time) AS t1 FROM events WHERE event = 'Signup' GROUP BY distinct_id) s
		 LEFT JOIN events e ON e.distinct_id = s.distinct_id AND e.event IN ('Purchase', 'purchase ', 'Share')
		                   AND e.time >= s.t1 AND e.time <= s.t1 + INTERVAL 7 DAY
		 GROUP BY s.distinct_id`,
		`SELECT event, COUNT(*) FROM events WHERE event IN ('Purchase', 'purchase', 'Signup') GROUP BY event`,
		`SELECT event, COUNT(*) FROM events WHERE event NOT IN ('Purchase', 'PURCHASE') GROUP BY event`,
	}
	for _, names := range []string{"utf8mb3 COLLATE utf8mb3_general_ci", "utf8mb4 COLLATE utf8mb4_general_ci", "utf8mb4 COLLATE utf8mb4_0900_bin"} {
		on, off := diffConn(t, db, 1), diffConn(t, db, 0)
		for _, c := range []*sql.Conn{on, off} {
			if _, err := c.ExecContext(context.Background(), "SET NAMES "+names); err != nil {
				t.Fatal(err)
			}
		}
		for _, q := range queries {
			want, got := queryRows(t, off, q), queryRows(t, on, q)
			if !renderedRowsEqual(want, got) {
				t.Fatalf("SET NAMES %s; %s\nnative plan off (%d rows): %.600v\non (%d rows): %.600v", names, q, len(want), want, len(got), got)
			}
			if len(want) == 0 {
				t.Fatalf("%s: no rows: the fixture tests nothing", q)
			}
			plan := strings.Join(queryRows(t, on, "EXPLAIN FORMAT=TREE "+q), "\n")
			if strings.Contains(plan, "eval(") {
				t.Errorf("SET NAMES %s; %s: go-mysql-server still evaluates a part\n%s", names, q, plan)
			}
		}
	}
}

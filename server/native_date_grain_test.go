package server

import (
	"context"
	"fmt"
	"math/rand"
	"strings"
	"testing"
	"time"
)

// TestNativeDateGrainsOverSegments: the date grains BI tools group by
// (CAST(time AS DATE), DATE(time), UNIX_TIMESTAMP(time) DIV 86400,
// DATE_ADD(DATE(time), INTERVAL HOUR(time) HOUR), calendar parts) give
// the same rows and the same result column types with arb's rules as
// with go-mysql-server's operators, over flushed segments (one per day,
// whose batches carry time bounds and make one-day keys constant: native
// column_hints.go) and over rows still in memory (no bounds), with an
// IN list on event (pushed to the engine as a bitmap pre-filter, also
// with a trailing space and another case).
func TestNativeDateGrainsOverSegments(t *testing.T) {
	srv := startTestServer(t, t.TempDir())
	db := openDB(t, srv, "")
	r := rand.New(rand.NewSource(7))
	start := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	insert := func(n int, from time.Time, span time.Duration) {
		names := []string{"Page View", "Click", "Signup", "Login", "Purchase", "Share"}
		var rows []string
		for range n {
			at := from.Add(time.Duration(r.Int63n(int64(span))))
			rows = append(rows, fmt.Sprintf("('%s','%s','u%d')", at.Format("2006-01-02 15:04:05.000"), names[r.Intn(len(names))], r.Intn(400)))
		}
		// The edges of a day, in and out of the bounds below.
		rows = append(rows, "('2025-03-02 00:00:00.000','Signup','edge')", "('2025-03-01 23:59:59.999','Login','edge')",
			"('2025-03-04 23:59:59.999','Purchase ','edge')")
		mustExec(t, db, "INSERT INTO events (time, event, distinct_id) VALUES "+strings.Join(rows, ","))
	}
	insert(30_000, start, 4*24*time.Hour) // four days: four segments, several blocks each
	if err := srv.Store().Flush(); err != nil {
		t.Fatal(err)
	}
	insert(2_000, start.Add(36*time.Hour), 30*time.Hour) // buffered, across a midnight

	on, off := diffConn(t, db, 1), diffConn(t, db, 0)
	ctx := context.Background()
	for _, q := range []string{
		"SELECT CAST(time AS date) AS d, COUNT(*) FROM events WHERE time >= TIMESTAMP('2025-03-01 12:00:00') AND time < TIMESTAMP('2025-03-04 00:00:00') GROUP BY CAST(time AS date) ORDER BY CAST(time AS date)",
		"SELECT DATE(time) AS d, COUNT(*) AS c FROM (SELECT time, event, distinct_id FROM events) AS v WHERE time >= STR_TO_DATE('2025-03-02 00:00:00.000000', '%Y-%m-%d %H:%i:%s.%f') GROUP BY DATE(time) ORDER BY c DESC, d",
		"SELECT UNIX_TIMESTAMP(time) DIV 86400 * 86400 AS t, event, COUNT(*) FROM events WHERE time BETWEEN FROM_UNIXTIME(1740787200) AND FROM_UNIXTIME(1741046399) AND event IN ('Signup', 'Login', 'Purchase') GROUP BY 1, 2 ORDER BY 1, 2",
		"SELECT DATE_ADD(DATE(time), INTERVAL (HOUR(time)) HOUR) AS h, COUNT(DISTINCT distinct_id) FROM events WHERE time >= '2025-03-02 00:00:00' AND time < '2025-03-03 00:00:00' GROUP BY DATE_ADD(DATE(time), INTERVAL (HOUR(time)) HOUR) ORDER BY h",
		"SELECT DAY(time), HOUR(time), DAYOFWEEK(time), MONTH(time), COUNT(*) FROM events GROUP BY 1, 2, 3, 4 ORDER BY 1, 2",
		"SELECT CAST(time AS date), DATE(time), event, COUNT(*) FROM events WHERE event IN ('purchase', 'Purchase ', 'Share') GROUP BY 1, 2, 3 ORDER BY 1, 3",
		"SELECT MIN(CAST(time AS date)), MAX(DATE(time)), COUNT(*) FROM events WHERE CAST(time AS date) >= '2025-03-02' AND DATE(time) < '2025-03-04'",
		"SELECT DATE_FORMAT(time, '%Y-%m-%d') AS d, COUNT(*) FROM events GROUP BY 1 ORDER BY 1 DESC",
		"SELECT CAST(time AS date) AS d, event FROM events WHERE distinct_id = 'edge' ORDER BY d, event",
	} {
		got, gotCols, err := queryTyped(ctx, on, q)
		if err != nil {
			t.Fatalf("pushdown 1: %s: %v", q, err)
		}
		want, wantCols, err := queryTyped(ctx, off, q)
		if err != nil {
			t.Fatalf("pushdown 0: %s: %v", q, err)
		}
		if len(got) == 0 {
			t.Errorf("%s: no rows", q)
		}
		if fmt.Sprint(gotCols) != fmt.Sprint(wantCols) {
			t.Errorf("%s: columns %v with arb's rules, %v without", q, gotCols, wantCols)
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s:\nwith arb's rules (%d rows):\n%s\nwithout (%d rows):\n%s", q, len(got), strings.Join(got, "\n"), len(want), strings.Join(want, "\n"))
		}
	}
	// The day keys keep their SQL type over the wire.
	_, cols, err := queryTyped(ctx, on, "SELECT CAST(time AS date), DATE(time), COUNT(*) FROM events GROUP BY 1, 2")
	if err != nil {
		t.Fatal(err)
	}
	if cols[0].typ != "DATE" || cols[1].typ != "DATE" {
		t.Errorf("day keys typed %v, want DATE, DATE", cols)
	}
}

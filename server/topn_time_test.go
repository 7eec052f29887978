package server

import (
	"context"
	"fmt"
	"math/rand"
	"strings"
	"testing"
	"time"
)

// TestTopNTimeOrderedMatchesPlain checks the TopN that reads the events
// scan's parts latest first and skips parts that cannot hold an answer
// row (native/topn_time.go): ORDER BY time … LIMIT over several segments
// (days, a day flushed twice with overlapping times), buffered rows, and
// rows that tie on every key in different parts must give go-mysql-
// server's rows in its order (ties in scan order), pushdown on vs off.
func TestTopNTimeOrderedMatchesPlain(t *testing.T) {
	r := rand.New(rand.NewSource(7))
	srv := startTestServer(t, t.TempDir())
	db := openDB(t, srv, "")
	day := func(d int) time.Time { return time.Date(2025, 3, d, 0, 0, 0, 0, time.UTC) }
	// Rows equal on time and distinct_id (and event), told apart by
	// insert_id and amount: which of them survive the cut, and their
	// order, is the scan order's.
	ties := func(tag string, n int) string {
		var rows []string
		for i := range n {
			rows = append(rows, fmt.Sprintf("('2025-03-03 00:00:10.000', 'Purchase', 'tie', '%s%d', %d)", tag, i, i))
		}
		return "INSERT INTO events (time, event, distinct_id, insert_id, amount) VALUES " + strings.Join(rows, ",")
	}
	flush := func() {
		t.Helper()
		if err := srv.Store().Flush(); err != nil {
			t.Fatal(err)
		}
	}
	mustExec(t, db, workloadInsert(r, 1500, day(1), 40))
	flush()
	mustExec(t, db, workloadInsert(r, 1500, day(3), 40))
	mustExec(t, db, ties("a", 3))
	flush()
	mustExec(t, db, workloadInsert(r, 1500, day(2), 40))
	flush()
	mustExec(t, db, workloadInsert(r, 1500, day(3).Add(25*time.Millisecond), 40)) // overlaps day 3's first segment
	mustExec(t, db, ties("b", 2))
	flush()
	mustExec(t, db, workloadInsert(r, 700, day(2).Add(40*time.Second), 40)) // buffered
	mustExec(t, db, workloadInsert(r, 300, day(4), 40))                     // buffered, the latest
	mustExec(t, db, ties("c", 2))

	on, off := diffConn(t, db, 1), diffConn(t, db, 0)
	const tieQuery = "SELECT insert_id, amount FROM events WHERE distinct_id = 'tie' ORDER BY time DESC LIMIT 7"
	cols := "time, distinct_id, insert_id, event, amount"
	var qs []string
	for _, limit := range []int{1, 3, 7, 100, 1000, 2500, 9000} {
		qs = append(qs,
			fmt.Sprintf("SELECT %s FROM events ORDER BY time DESC LIMIT %d", cols, limit),
			fmt.Sprintf("SELECT %s FROM events ORDER BY time LIMIT %d", cols, limit),
			fmt.Sprintf("SELECT %s FROM events WHERE event = 'Purchase' ORDER BY time DESC, distinct_id LIMIT %d", cols, limit))
	}
	qs = append(qs,
		"SELECT "+cols+" FROM events WHERE time < '2025-03-03 00:00:10.001' ORDER BY time DESC LIMIT 4",
		"SELECT "+cols+" FROM events WHERE time <= '2025-03-03 00:00:10' ORDER BY time DESC, distinct_id DESC LIMIT 6",
		"SELECT "+cols+" FROM events WHERE time > '2025-03-03 00:00:09.990' ORDER BY time ASC, amount DESC LIMIT 12",
		"SELECT "+cols+" FROM events WHERE time >= '2025-03-02' AND time < '2025-03-03' ORDER BY time DESC, distinct_id LIMIT 300",
		"SELECT "+cols+" FROM events WHERE event = 'Nope' ORDER BY time DESC LIMIT 10",
		"SELECT "+cols+" FROM events ORDER BY time DESC LIMIT 20 OFFSET 990",
		"SELECT time AS t, distinct_id AS d, amount FROM (SELECT * FROM events) AS v WHERE event = 'Purchase' ORDER BY time DESC, distinct_id LIMIT 50",
		"SELECT time, `plan`, amount FROM events WHERE `plan` = 'pro' ORDER BY time DESC, amount LIMIT 77",
		tieQuery,
	)
	ctx := context.Background()
	for _, q := range qs {
		got, want := diffRun(ctx, on, q), diffRun(ctx, off, q)
		if got.err != "" || want.err != "" {
			t.Fatalf("%s: errors %q (pushdown) %q (plain)", q, got.err, want.err)
		}
		if len(want.rows) == 0 && !strings.Contains(q, "'Nope'") {
			t.Fatalf("%s: no rows: the test data misses the case", q)
		}
		if len(got.rows) != len(want.rows) {
			t.Fatalf("%s: %d rows with pushdown, %d without", q, len(got.rows), len(want.rows))
		}
		for i := range got.rows {
			for j := range got.rows[i] {
				if !diffCellsEqual(got.rows[i][j], want.rows[i][j]) {
					t.Fatalf("%s: row %d differs:\n  pushdown %q\n  plain    %q", q, i, got.rows[i], want.rows[i])
				}
			}
		}
		plan := strings.Join(queryRows(t, on, "EXPLAIN FORMAT=TREE "+q), "\n")
		if !strings.Contains(plan, "scan parts in time order") {
			t.Fatalf("%s: not read in time order:\n%s", q, plan)
		}
	}
	// All seven tie rows, equal on every key, across three parts: the
	// loop above compared their order with go-mysql-server's.
	if rows := diffRun(ctx, on, tieQuery).rows; len(rows) != 7 {
		t.Fatalf("%s: %d rows, want the 7 tie rows", tieQuery, len(rows))
	}
}

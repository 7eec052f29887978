package server

// TestNativeWindowOverEvents checks the native window operator where its
// partitions are keyed by user numbers (native/window_partition.go:
// PARTITION BY distinct_id straight from the events scan) against
// go-mysql-server's own operators, on data built to catch what that path
// could get wrong:
//   - ties in the ORDER BY key within a user (equal times, equal
//     amounts): ties keep input order, so ROW_NUMBER, LAG and running sums
//     must agree row for row;
//   - NULLs in the ORDER BY key (amount is NULL on most events) and in
//     the partition key (the unmatched side of a LEFT JOIN);
//   - ids that differ only in case: three partitions under utf8mb4_bin,
//     one through LOWER (which carries no numbers: the comparison path);
//   - a user's events split between flushed segments and the memory
//     buffer, and a user out of time order across them;
//   - an empty input, and partitions of one row.

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestNativeWindowOverEvents(t *testing.T) {
	srv := startTestServer(t, t.TempDir())
	db := openDB(t, srv, "")
	base := time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC)
	seq := 0
	ev := func(minute int, name, id string, props string) string {
		seq++
		p := fmt.Sprintf(`"distinct_id":%q,"time":%d,"$insert_id":"w%d"`, id, base.Add(time.Duration(minute)*time.Minute).UnixMilli(), seq)
		if props != "" {
			p += "," + props
		}
		return fmt.Sprintf(`{"event":%q,"properties":{%s}}`, name, p)
	}
	flushed := []string{
		// Alice: a tie at minute 5 (three events), a tie in amount.
		ev(5, "Signup", "Alice", `"plan":"free"`), ev(5, "Page View", "Alice", ""), ev(5, "Search", "Alice", ""),
		ev(7, "Purchase", "Alice", `"amount":5`), ev(9, "Purchase", "Alice", `"amount":5`),
		// alice and ALICE: other users under the binary collation.
		ev(2, "Signup", "alice", `"plan":"pro"`), ev(3, "Purchase", "alice", `"amount":3`),
		ev(4, "Signup", "ALICE", `"plan":"pro"`),
		// bob: events out of time order in the input.
		ev(30, "Purchase", "bob", `"amount":8`), ev(10, "Signup", "bob", `"plan":"free"`), ev(20, "Page View", "bob", ""),
		// carol: a single event.
		ev(1, "Signup", "carol", `"plan":"team"`),
	}
	postImportJSON(t, srv, flushed)
	if err := srv.Store().Flush(); err != nil {
		t.Fatal(err)
	}
	buffered := []string{
		// Alice again, earlier than her flushed events and tied with one.
		ev(1, "Page View", "Alice", ""), ev(5, "Purchase", "Alice", `"amount":2`),
		// bob between his flushed events; dave only in the buffer.
		ev(15, "Search", "bob", ""), ev(40, "Signup", "dave", `"plan":"team"`), ev(41, "Purchase", "dave", `"amount":1`),
	}
	postImportJSON(t, srv, buffered)

	on, off := diffConn(t, db, 1), diffConn(t, db, 0)

	const buyers = "(SELECT distinct_id, SUM(amount) AS spent FROM events WHERE event = 'Purchase' GROUP BY distinct_id)"
	const limited = "(rows numbered up to" // EXPLAIN of a window under a row-number Filter
	for _, tc := range []struct {
		q       string
		empty   bool   // the answer has no rows
		explain string // besides the native Window, the plan shows this
	}{
		// The window's rows come out in input order: no ORDER BY, compared in order.
		{q: "SELECT distinct_id, time, event, ROW_NUMBER() OVER (PARTITION BY distinct_id ORDER BY time) FROM events"},
		{q: "SELECT distinct_id, event, ROW_NUMBER() OVER (PARTITION BY distinct_id ORDER BY time DESC) AS rn FROM events"},
		{q: "SELECT distinct_id, event, amount, ROW_NUMBER() OVER (PARTITION BY distinct_id ORDER BY amount) AS a, " +
			"ROW_NUMBER() OVER (PARTITION BY distinct_id ORDER BY amount DESC) AS d FROM events"},
		{q: "SELECT distinct_id, amount, RANK() OVER (PARTITION BY distinct_id ORDER BY amount DESC) AS r, " +
			"DENSE_RANK() OVER (PARTITION BY distinct_id ORDER BY amount) AS dr FROM events"},
		{q: "SELECT distinct_id, event, ROW_NUMBER() OVER (PARTITION BY distinct_id ORDER BY time, event DESC) FROM events"},
		{q: "SELECT distinct_id, ROW_NUMBER() OVER (PARTITION BY distinct_id) FROM events"},
		{q: "SELECT distinct_id, time, LAG(time) OVER (PARTITION BY distinct_id ORDER BY time) AS prev, " +
			"LEAD(event, 1, 'none') OVER (PARTITION BY distinct_id ORDER BY time) AS next FROM events"},
		{q: "SELECT distinct_id, LAG(distinct_id, 1, 'nobody') OVER (PARTITION BY distinct_id ORDER BY time) AS prev, " +
			"LEAD(distinct_id, 2, distinct_id) OVER (ORDER BY time, event) AS after FROM events"},
		{q: "SELECT p, COUNT(*) FROM (SELECT LAG(distinct_id, 1, 'nobody') OVER (ORDER BY time, event) AS p FROM events) t GROUP BY p ORDER BY p"},
		{q: "SELECT distinct_id, amount, SUM(amount) OVER (PARTITION BY distinct_id ORDER BY time) AS run, " +
			"COUNT(amount) OVER (PARTITION BY distinct_id ORDER BY time) AS c, MAX(amount) OVER (PARTITION BY distinct_id) AS m FROM events"},
		{q: "SELECT distinct_id, event, ROW_NUMBER() OVER (PARTITION BY LOWER(distinct_id) ORDER BY time) FROM events"},
		// NULL partition keys: the unmatched side of a LEFT JOIN.
		{q: "SELECT l.event, r.distinct_id, ROW_NUMBER() OVER (PARTITION BY r.distinct_id ORDER BY l.time, l.event) AS rn, " +
			"COUNT(*) OVER (PARTITION BY r.distinct_id) AS c FROM events l LEFT JOIN " + buyers + " r ON r.distinct_id = l.distinct_id"},
		// Row-number filters above the window (window_topk.go): first
		// touch, the top two, the second event, bounds either way round,
		// DESC, no ORDER BY, NULL partition keys, a bound no row meets.
		{q: "SELECT distinct_id, event FROM (SELECT distinct_id, event, ROW_NUMBER() OVER (PARTITION BY distinct_id ORDER BY time) AS rn FROM events) t WHERE rn = 1", explain: limited},
		{q: "SELECT distinct_id, event, rn FROM (SELECT distinct_id, event, ROW_NUMBER() OVER (PARTITION BY distinct_id ORDER BY time) AS rn FROM events) t WHERE rn <= 2", explain: limited},
		{q: "SELECT event, COUNT(*) FROM (SELECT distinct_id, event, ROW_NUMBER() OVER (PARTITION BY distinct_id ORDER BY time) AS rn FROM events) t " +
			"WHERE rn = 2 GROUP BY event ORDER BY event", explain: limited},
		{q: "SELECT distinct_id, event, rn FROM (SELECT distinct_id, event, ROW_NUMBER() OVER (PARTITION BY distinct_id ORDER BY time DESC) AS rn FROM events) t WHERE 3 > rn", explain: limited},
		{q: "SELECT distinct_id, event, rn FROM (SELECT distinct_id, event, ROW_NUMBER() OVER (PARTITION BY distinct_id) AS rn FROM events) t WHERE rn < 3", explain: limited},
		{q: "SELECT distinct_id, event FROM (SELECT distinct_id, event, ROW_NUMBER() OVER (PARTITION BY distinct_id ORDER BY time) AS rn FROM events) t WHERE rn = 0", empty: true, explain: limited},
		{q: "SELECT e, d, rn FROM (SELECT l.event AS e, r.distinct_id AS d, ROW_NUMBER() OVER (PARTITION BY r.distinct_id ORDER BY l.time) AS rn " +
			"FROM events l LEFT JOIN " + buyers + " r ON r.distinct_id = l.distinct_id) t WHERE rn <= 2", explain: limited},
		// Not limited: a DOUBLE ORDER BY (NULLs, ties), a lower bound.
		{q: "SELECT distinct_id, event, rn FROM (SELECT distinct_id, event, ROW_NUMBER() OVER (PARTITION BY distinct_id ORDER BY amount) AS rn FROM events) t WHERE rn = 1"},
		{q: "SELECT distinct_id, event, rn FROM (SELECT distinct_id, event, ROW_NUMBER() OVER (PARTITION BY distinct_id ORDER BY time) AS rn FROM events) t WHERE rn > 2"},
		{q: "SELECT event, COUNT(*), AVG(gap) FROM (SELECT event, TIMESTAMPDIFF(SECOND, LAG(time) OVER (PARTITION BY distinct_id ORDER BY time), time) AS gap " +
			"FROM events WHERE time >= '2025-03-01 08:03:00') t WHERE gap IS NOT NULL GROUP BY event ORDER BY event"},
		// No rows in, none out.
		{q: "SELECT distinct_id, ROW_NUMBER() OVER (PARTITION BY distinct_id ORDER BY time) FROM events WHERE event = 'Nothing'", empty: true},
	} {
		want, got := queryRows(t, off, tc.q), queryRows(t, on, tc.q)
		if !renderedRowsEqual(want, got) {
			t.Errorf("%s\nnative plan off (%d rows): %.900v\non (%d rows): %.900v", tc.q, len(want), want, len(got), got)
			continue
		}
		if (len(want) == 0) != tc.empty {
			t.Errorf("%s: %d rows, want empty=%v", tc.q, len(want), tc.empty)
		}
		plan := strings.Join(queryRows(t, on, "EXPLAIN FORMAT=TREE "+tc.q), "\n")
		if !strings.Contains(plan, "arb Window") || !strings.Contains(plan, "arb Scan events") {
			t.Errorf("%s: want the native Window over the events scan, got\n%s", tc.q, plan)
		}
		if tc.explain != "" && !strings.Contains(plan, tc.explain) {
			t.Errorf("%s: want %q in the plan, got\n%s", tc.q, tc.explain, plan)
		}
	}
}

package server

// TestJoinUserSummaryAgrees checks EXISTS and NOT EXISTS correlated on
// distinct_id, answered from the right input folded per user (native
// join_users.go: no other condition on the pair, or bounds on one right
// time in one direction) or as a cohort of users (planner
// push_exists_cohort.go: no condition on the pair, the events table on
// both sides), against go-mysql-server's operators, on data built to
// catch a summary or cohort that compares the wrong thing:
//   - merged identities ($identify, $create_alias, $merge): an
//     anonymous id's rows and the known id's rows are one user;
//   - ids that differ only in case, and the empty id;
//   - bounds at their edges: right times exactly a day (or an hour)
//     from a left time, with >= and >, <= and <, and two lower bounds;
//   - NULL keys and NULL right times from derived tables, on either side;
//   - keys as strings without user numbers on either side (CONCAT
//     copies, literals), which the summary keys by value;
//   - a bound that overflows (NULL with a warning: the summary gives up
//     for the table, and the warnings must be go-mysql-server's);
//   - NOT IN and windows (bounds both ways), which keep the table;
//   - rows in flushed segments and in the memory buffer at once.

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestJoinUserSummaryAgrees(t *testing.T) {
	srv := startTestServer(t, t.TempDir())
	db := openDB(t, srv, "")
	base := time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC)
	n := 0
	ev := func(at time.Duration, name, id string, props string) string {
		n++
		p := fmt.Sprintf(`"distinct_id":%q,"time":%d,"$insert_id":"i%d"`, id, base.Add(at).UnixMilli(), n)
		if props != "" {
			p += "," + props
		}
		return fmt.Sprintf(`{"event":%q,"properties":{%s}}`, name, p)
	}
	day, hour := 24*time.Hour, time.Hour
	flushed := []string{
		// Alice comes back exactly a day after her signup; alice a day
		// and a millisecond; ALICE a millisecond short of a day.
		ev(0, "Signup", "Alice", ""), ev(day, "Page View", "Alice", ""),
		ev(hour, "Signup", "alice", ""), ev(hour+day+time.Millisecond, "Purchase", "alice", `"amount":3`),
		ev(2*hour, "Signup", "ALICE", ""), ev(2*hour+day-time.Millisecond, "Page View", "ALICE", ""),
		// Anonymous users who become known later (buffered links below).
		ev(3*hour, "Signup", "anon-1", ""), ev(3*hour+30*time.Minute, "Page View", "anon-1", ""),
		ev(4*hour, "Signup", "anon-2", ""),
		ev(5*hour, "Signup", "anon-3", ""), ev(6*hour, "Search", "anon-3", ""),
		ev(day, "Signup", "bob", ""), ev(day+hour, "Search", "bob", ""), ev(day-hour, "Page View", "bob", ""),
		ev(2*day, "Signup", "", ""), ev(4*day, "Search", "", ""),
	}
	postImportJSON(t, srv, flushed)
	if err := srv.Store().Flush(); err != nil {
		t.Fatal(err)
	}
	buffered := []string{
		ev(3*hour+day, "$identify", "u-1", `"$identified_id":"u-1","$anon_id":"anon-1"`),
		ev(3*hour+day+time.Second, "Purchase", "u-1", `"amount":3`),
		ev(4*hour+hour, "$create_alias", "anon-2", `"alias":"u-2"`),
		ev(4*hour+2*day, "Purchase", "u-2", `"amount":4`),
		ev(5*hour+day, "$merge", "u-3", `"$distinct_ids":["anon-3","u-3"]`),
		ev(3*day, "Signup", "carol", ""), ev(3*day+hour, "Purchase", "carol", `"amount":9`),
		ev(3*day+2*hour, "Signup", "dave", ""),
	}
	postImportJSON(t, srv, buffered)

	on, off := diffConn(t, db, 1), diffConn(t, db, 0)
	const (
		nullKeys  = "(SELECT IF(event = 'Page View', NULL, distinct_id) AS d, time FROM events)"
		nullTimes = "(SELECT distinct_id, IF(event = 'Search', NULL, time) AS t FROM events)"
		copies    = "(SELECT CONCAT(distinct_id, '') AS d, time FROM events)"
	)
	for _, tc := range []struct {
		q    string
		plan string // what the plan must show ("": anything)
	}{
		// The corpus' shapes: a day's churn per signup day, and users of
		// one period absent from the next.
		{"SELECT CAST(s.time AS DATE) AS d, COUNT(*) FROM events s WHERE s.event = 'Signup' AND NOT EXISTS " +
			"(SELECT 1 FROM events e WHERE e.distinct_id = s.distinct_id AND e.time >= s.time + INTERVAL 1 DAY) GROUP BY d ORDER BY d", "(right input: per-user largest"},
		{"SELECT COUNT(DISTINCT f.distinct_id) FROM events f WHERE f.time < '2025-03-02 08:00:00' AND NOT EXISTS " +
			"(SELECT 1 FROM events m WHERE m.distinct_id = f.distinct_id AND m.time >= '2025-03-02 08:00:00')", "NOT distinct_id IN cohort("},
		{"SELECT f.distinct_id, COUNT(*) FROM events f WHERE EXISTS (SELECT 1 FROM events m WHERE m.distinct_id = f.distinct_id " +
			"AND m.event = 'Purchase' AND m.time >= '2025-03-02') GROUP BY f.distinct_id ORDER BY f.distinct_id", "cohort("},
		{"SELECT f.distinct_id, f.event FROM events f WHERE f.event <> 'Signup' AND NOT EXISTS (SELECT 1 FROM events m " +
			"WHERE f.distinct_id = m.distinct_id AND m.event = 'Purchase' LIMIT 1) ORDER BY f.distinct_id, f.event", "cohort("},
		{"SELECT COUNT(*) FROM events f WHERE NOT EXISTS (SELECT 1 FROM events m WHERE m.distinct_id = f.distinct_id AND m.event = 'Purchase') " +
			"OR f.event = 'Purchase'", "cohort("},
		{"SELECT f.distinct_id, (SELECT COUNT(*) FROM events x WHERE x.distinct_id = f.distinct_id) FROM events f WHERE NOT EXISTS " +
			"(SELECT 1 FROM events m WHERE m.distinct_id = f.distinct_id AND m.event = 'Search') AND f.event = 'Signup' ORDER BY f.distinct_id", ""},
		// The summary with user numbers on both sides: the outer rows
		// through a derived table, which the cohort does not take.
		{"SELECT COUNT(DISTINCT f.distinct_id) FROM (SELECT distinct_id, time FROM events WHERE time < '2025-03-02 08:00:00') f WHERE NOT EXISTS " +
			"(SELECT 1 FROM events m WHERE m.distinct_id = f.distinct_id AND m.time >= '2025-03-02 08:00:00')", "(right input: per-user set"},
		{"SELECT f.distinct_id FROM (SELECT distinct_id, event FROM events) f WHERE f.event = 'Signup' AND EXISTS " +
			"(SELECT 1 FROM events m WHERE m.distinct_id = f.distinct_id AND m.event = 'Purchase') ORDER BY f.distinct_id", ""},
		// Edges of the bound, each operator.
		{"SELECT s.distinct_id, s.time FROM events s WHERE s.event = 'Signup' AND NOT EXISTS " +
			"(SELECT 1 FROM events e WHERE e.distinct_id = s.distinct_id AND e.time > s.time + INTERVAL 1 DAY) ORDER BY s.distinct_id, s.time", "(right input: per-user largest"},
		{"SELECT s.distinct_id, s.time FROM events s WHERE EXISTS " +
			"(SELECT 1 FROM events e WHERE e.distinct_id = s.distinct_id AND e.time >= s.time + INTERVAL 1 DAY) ORDER BY s.distinct_id, s.time", "(right input: per-user largest"},
		{"SELECT s.distinct_id, s.time FROM events s WHERE NOT EXISTS " +
			"(SELECT 1 FROM events e WHERE e.distinct_id = s.distinct_id AND e.time < s.time - INTERVAL 1 HOUR) ORDER BY s.distinct_id, s.time", "(right input: per-user smallest"},
		{"SELECT s.distinct_id, s.time FROM events s WHERE EXISTS " +
			"(SELECT 1 FROM events e WHERE e.distinct_id = s.distinct_id AND s.time - INTERVAL 1 HOUR >= e.time) ORDER BY s.distinct_id, s.time", "(right input: per-user smallest"},
		{"SELECT s.distinct_id, s.time FROM events s WHERE NOT EXISTS " +
			"(SELECT 1 FROM events e WHERE e.distinct_id = s.distinct_id AND e.time > s.time AND e.time >= s.time + INTERVAL 1 HOUR) " +
			"ORDER BY s.distinct_id, s.time", "(right input: per-user largest"},
		{"SELECT s.distinct_id, s.time FROM events s WHERE EXISTS " +
			"(SELECT 1 FROM events e WHERE e.distinct_id = s.distinct_id AND e.event = 'Purchase' AND e.time > s.time) ORDER BY s.distinct_id, s.time", "(right input: per-user largest"},
		{"SELECT s.distinct_id, s.event FROM events s WHERE EXISTS " +
			"(SELECT 1 FROM events e WHERE e.distinct_id = s.distinct_id AND e.event = 'Purchase') ORDER BY s.distinct_id, s.event", ""},
		// NULL keys on either side, NULL right times.
		{"SELECT s.d, s.time FROM " + nullKeys + " s WHERE NOT EXISTS " +
			"(SELECT 1 FROM events e WHERE e.distinct_id = s.d AND e.time > s.time) ORDER BY s.d, s.time", ""},
		{"SELECT s.distinct_id, s.time FROM events s WHERE NOT EXISTS " +
			"(SELECT 1 FROM " + nullKeys + " e WHERE e.d = s.distinct_id AND e.time > s.time) ORDER BY s.distinct_id, s.time", ""},
		{"SELECT s.distinct_id, s.time FROM events s WHERE NOT EXISTS " +
			"(SELECT 1 FROM " + nullTimes + " e WHERE e.distinct_id = s.distinct_id AND e.t >= s.time) ORDER BY s.distinct_id, s.time", ""},
		{"SELECT s.distinct_id, s.time FROM events s WHERE EXISTS " +
			"(SELECT 1 FROM " + nullTimes + " e WHERE e.distinct_id = s.distinct_id AND e.t < s.time) ORDER BY s.distinct_id, s.time", ""},
		// Keys without user numbers.
		{"SELECT s.d, s.time FROM " + copies + " s WHERE NOT EXISTS " +
			"(SELECT 1 FROM events e WHERE e.distinct_id = s.d AND e.time >= s.time + INTERVAL 1 DAY) ORDER BY s.d, s.time", ""},
		{"SELECT s.distinct_id, s.time FROM events s WHERE EXISTS " +
			"(SELECT 1 FROM " + copies + " e WHERE e.d = s.distinct_id AND e.time >= s.time + INTERVAL 1 DAY) ORDER BY s.distinct_id, s.time", ""},
		{"SELECT s.distinct_id FROM events s WHERE NOT EXISTS (SELECT 1 FROM (SELECT 'u-1' AS d UNION ALL SELECT 'alice' UNION ALL SELECT '') x " +
			"WHERE x.d = s.distinct_id) ORDER BY s.distinct_id", ""},
		// A bound that overflows: NULL with a warning per row.
		{"SELECT s.distinct_id, s.time FROM events s WHERE s.event = 'Signup' AND NOT EXISTS " +
			"(SELECT 1 FROM events e WHERE e.distinct_id = s.distinct_id AND e.time >= s.time + INTERVAL 9000 YEAR) ORDER BY s.distinct_id, s.time", ""},
		// Correlated by bounds where go-mysql-server makes no join (IN,
		// NOT IN, EXISTS under OR or CASE): the subquery's rows folded
		// per key (native subquery_bounded.go), with NULL keys on either
		// side and NULL values for IN's three values.
		{"SELECT CAST(s.time AS DATE) AS d, COUNT(*) FROM events s WHERE s.event = 'Signup' AND s.distinct_id NOT IN " +
			"(SELECT e.distinct_id FROM events e WHERE e.time >= s.time + INTERVAL 1 DAY) GROUP BY d ORDER BY d", "NOT in(per-key largest"},
		{"SELECT s.distinct_id, s.time FROM events s WHERE s.distinct_id IN " +
			"(SELECT e.distinct_id FROM events e WHERE e.event <> 'Signup' AND e.time < s.time - INTERVAL 1 HOUR) ORDER BY s.distinct_id, s.time", "in(per-key smallest"},
		{"SELECT s.distinct_id, s.time, s.distinct_id NOT IN (SELECT IF(e.event = 'Page View', NULL, e.distinct_id) FROM events e WHERE e.time > s.time), " +
			"s.distinct_id IN (SELECT IF(e.event = 'Search', NULL, e.distinct_id) FROM events e WHERE e.time >= s.time + INTERVAL 1 DAY) " +
			"FROM events s ORDER BY s.distinct_id, s.time", "in(per-key largest"},
		{"SELECT s.d, s.time, s.d IN (SELECT e.distinct_id FROM events e WHERE e.time > s.time) FROM " + nullKeys + " s ORDER BY s.d, s.time", "in(per-key largest"},
		{"SELECT s.distinct_id, s.time, s.distinct_id IN (SELECT e.distinct_id FROM events e WHERE IF(e.event = 'Search', NULL, e.time) > s.time) " +
			"FROM events s ORDER BY s.distinct_id, s.time", "in(per-key largest"},
		{"SELECT s.distinct_id, s.time, s.distinct_id IN (SELECT e.distinct_id FROM " + nullTimes + " e WHERE e.t > s.time) FROM events s ORDER BY s.distinct_id, s.time", ""},
		{"SELECT s.distinct_id, s.time FROM events s WHERE s.event = 'Purchase' OR NOT EXISTS " +
			"(SELECT 1 FROM events e WHERE e.distinct_id = s.distinct_id AND e.time >= s.time + INTERVAL 1 DAY) ORDER BY s.distinct_id, s.time", ""},
		{"SELECT COUNT(DISTINCT CASE WHEN NOT EXISTS (SELECT 1 FROM events e WHERE e.distinct_id = s.distinct_id AND e.time >= s.time + INTERVAL 1 DAY) " +
			"THEN s.distinct_id END), COUNT(*) FROM events s WHERE s.event = 'Signup'", "exists(per-key largest"},
		{"SELECT s.distinct_id, s.time FROM events s WHERE s.event = 'Signup' AND s.distinct_id NOT IN " +
			"(SELECT e.distinct_id FROM events e WHERE e.time >= s.time + INTERVAL 9000 YEAR) ORDER BY s.distinct_id, s.time", ""},
		// The table's: NOT IN, a window.
		{"SELECT s.distinct_id FROM events s WHERE s.event = 'Signup' AND s.distinct_id NOT IN " +
			"(SELECT distinct_id FROM events WHERE event = 'Purchase') ORDER BY s.distinct_id", ""},
		{"SELECT s.distinct_id, s.time FROM events s WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.distinct_id = s.distinct_id " +
			"AND e.time > s.time AND e.time < s.time + INTERVAL 1 DAY) ORDER BY s.distinct_id, s.time", ""},
	} {
		want, got := queryRows(t, off, tc.q), queryRows(t, on, tc.q)
		if !renderedRowsEqual(want, got) {
			t.Errorf("%s\nnative plan off (%d rows): %.800v\non (%d rows): %.800v", tc.q, len(want), want, len(got), got)
			continue
		}
		if len(want) == 0 {
			t.Errorf("%s: no rows: the fixture tests nothing", tc.q)
		}
		wantW, gotW := queryRows(t, off, "SHOW WARNINGS"), queryRows(t, on, "SHOW WARNINGS")
		if !renderedRowsEqual(wantW, gotW) {
			t.Errorf("%s: warnings off %v, on %v", tc.q, wantW, gotW)
		}
		if tc.plan == "" {
			continue
		}
		plan := strings.Join(queryRows(t, on, "EXPLAIN FORMAT=TREE "+tc.q), "\n")
		if !strings.Contains(plan, tc.plan) {
			t.Errorf("%s: want %q in the plan, got\n%s", tc.q, tc.plan, plan)
		}
	}
}

package server

// TestCohortGridAgrees checks the weekly cohort grid (a per-user derived
// table of signup days joined back onto the events on distinct_id,
// grouped by whole weeks) with the native plan on (the join's user
// lookup probe, native join_lookup.go, and DATEDIFF over DATE() strings,
// planner column_functions_date.go) against go-mysql-server's operators,
// on data built to catch a lookup or a day number that is off:
//   - users without a Signup (no right row: not in an inner join, NULL
//     days in a left one), users with two Signups (MIN decides);
//   - activity before the signup (negative differences: FLOOR of a
//     negative quotient rounds down), on the signup day, exactly 7 days
//     later and a day short of it;
//   - signups and activity across month ends, a leap February and a
//     year's end;
//   - merged identities: an anonymous id's events and the known id's
//     are one user;
//   - rows in flushed segments and in the memory buffer at once.

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestCohortGridAgrees(t *testing.T) {
	srv := startTestServer(t, t.TempDir())
	db := openDB(t, srv, "")
	n := 0
	at := func(s string) time.Time {
		tm, err := time.Parse("2006-01-02 15:04:05", s)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	ev := func(when, name, id string, props string) string {
		n++
		p := fmt.Sprintf(`"distinct_id":%q,"time":%d,"$insert_id":"i%d"`, id, at(when).UnixMilli(), n)
		if props != "" {
			p += "," + props
		}
		return fmt.Sprintf(`{"event":%q,"properties":{%s}}`, name, p)
	}
	flushed := []string{
		ev("2024-12-31 23:59:59", "Signup", "ny", ""), ev("2025-01-01 00:00:00", "View", "ny", ""),
		ev("2025-01-07 23:59:59", "View", "ny", ""), ev("2025-01-08 00:00:00", "View", "ny", ""),
		ev("2024-12-20 10:00:00", "View", "ny", ""), // before the signup
		ev("2024-02-28 12:00:00", "Signup", "leap", ""), ev("2024-02-29 12:00:00", "View", "leap", ""),
		ev("2024-03-06 00:00:00", "View", "leap", ""), ev("2024-03-07 00:00:00", "View", "leap", ""),
		ev("2025-01-31 08:00:00", "Signup", "twice", ""), ev("2025-03-03 08:00:00", "Signup", "twice", ""),
		ev("2025-02-28 08:00:00", "View", "twice", ""), ev("2025-01-30 08:00:00", "View", "twice", ""),
		ev("2025-02-01 08:00:00", "View", "nosignup", ""), ev("2025-02-09 08:00:00", "View", "nosignup", ""),
		ev("2025-01-10 08:00:00", "Signup", "anon-1", ""), ev("2025-01-11 08:00:00", "View", "anon-1", ""),
	}
	// Bulk: enough events for the join to probe the events with the
	// per-user table (built from the smaller side).
	for u := range 60 {
		id := fmt.Sprint("bulk-", u)
		signup := at("2024-11-20 06:00:00").Add(time.Duration(u*37) * time.Hour)
		if u%9 != 0 {
			flushed = append(flushed, ev(signup.Format("2006-01-02 15:04:05"), "Signup", id, ""))
		}
		for k := range 50 {
			flushed = append(flushed, ev(signup.Add(time.Duration(k*k*5-300)*time.Hour).Format("2006-01-02 15:04:05"), "View", id, ""))
		}
	}
	for len(flushed) > 0 {
		k := min(len(flushed), 1000)
		postImportJSON(t, srv, flushed[:k])
		flushed = flushed[k:]
	}
	if err := srv.Store().Flush(); err != nil {
		t.Fatal(err)
	}
	buffered := []string{
		ev("2025-01-12 08:00:00", "$identify", "u-1", `"$identified_id":"u-1","$anon_id":"anon-1"`),
		ev("2025-01-25 08:00:00", "View", "u-1", ""),
		ev("2025-02-14 08:00:00", "Signup", "late", ""), ev("2025-02-13 23:00:00", "View", "late", ""),
		ev("2025-03-01 00:00:00", "View", "late", ""), ev("2025-01-02 00:00:00", "View", "ny", ""),
	}
	postImportJSON(t, srv, buffered)

	on, off := diffConn(t, db, 1), diffConn(t, db, 0)
	const signups = "(SELECT distinct_id, DATE(MIN(time)) AS signup_day FROM events WHERE event = 'Signup' GROUP BY distinct_id)"
	for _, tc := range []struct {
		q    string
		plan string // what the plan must show ("": anything)
	}{
		// The corpus' grid.
		{"SELECT FLOOR(DATEDIFF(c.signup_day, '2025-01-01') / 7) AS cohort_week, FLOOR(DATEDIFF(e.time, c.signup_day) / 7) AS weeks_later, " +
			"COUNT(DISTINCT e.distinct_id) AS users FROM " + signups + " c JOIN events e ON e.distinct_id = c.distinct_id " +
			"GROUP BY cohort_week, weeks_later ORDER BY cohort_week, weeks_later", "HashJoin"},
		// Row by row: every event's user, day and differences.
		{"SELECT e.distinct_id, e.time, c.signup_day, DATEDIFF(e.time, c.signup_day), FLOOR(DATEDIFF(e.time, c.signup_day) / 7), " +
			"FLOOR(DATEDIFF(c.signup_day, '2025-01-01') / 7) FROM events e JOIN " + signups + " c ON e.distinct_id = c.distinct_id " +
			"ORDER BY e.distinct_id, e.time", "HashJoin"},
		// The derived table on the probe side, and a left join (users
		// without a signup get NULLs).
		{"SELECT c.distinct_id, e.time, DATEDIFF(e.time, c.signup_day) FROM " + signups + " c JOIN events e ON c.distinct_id = e.distinct_id " +
			"WHERE e.event <> 'Signup' ORDER BY c.distinct_id, e.time", ""},
		{"SELECT e.distinct_id, e.time, FLOOR(DATEDIFF(e.time, c.signup_day) / 7) FROM events e LEFT JOIN " + signups + " c " +
			"ON e.distinct_id = c.distinct_id ORDER BY e.distinct_id, e.time", ""},
	} {
		want, got := queryRows(t, off, tc.q), queryRows(t, on, tc.q)
		if !renderedRowsEqual(want, got) {
			t.Errorf("%s\nnative plan off (%d rows): %.1500v\non (%d rows): %.1500v", tc.q, len(want), want, len(got), got)
			continue
		}
		if len(want) < 5 {
			t.Errorf("%s: %d rows: the fixture tests too little", tc.q, len(want))
		}
		wantW, gotW := queryRows(t, off, "SHOW WARNINGS"), queryRows(t, on, "SHOW WARNINGS")
		if !renderedRowsEqual(wantW, gotW) {
			t.Errorf("%s: warnings off %v, on %v", tc.q, wantW, gotW)
		}
		plan := strings.Join(queryRows(t, on, "EXPLAIN FORMAT=TREE "+tc.q), "\n")
		if !strings.Contains(plan, "arb Project") || strings.Contains(plan, "eval(") || !strings.Contains(plan, tc.plan) {
			t.Errorf("%s: want a native plan with %q, got\n%s", tc.q, tc.plan, plan)
		}
	}
}

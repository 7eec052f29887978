package server

// TestSeriesLimitJoinAgrees checks joins on the event column whose right
// input is a few event names (Superset's series limit: the top-N
// subquery joined back onto the events), answered with the left scan
// restricted to those names (native join_keys_scan.go) and the coded
// probe's tight loop (join_coded.go), against go-mysql-server's
// operators, on names built to catch a restriction that compares the
// wrong thing: names differing only in case or by a trailing space,
// a name the subquery returns that no row has, an empty subquery, rows
// in flushed segments and in the memory buffer at once, and the week
// grain expression Superset groups by.

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestSeriesLimitJoinAgrees(t *testing.T) {
	srv := startTestServer(t, t.TempDir())
	db := openDB(t, srv, "")
	base := time.Date(2025, 1, 1, 6, 0, 0, 0, time.UTC)
	names := []string{"Login", "login", "Login ", "Purchase", "Search", "Page View", "Signup", "Share"}
	n := 0
	ev := func(at time.Duration, name, id string) string {
		n++
		return fmt.Sprintf(`{"event":%q,"properties":{"distinct_id":%q,"time":%d,"$insert_id":"i%d"}}`, name, id, base.Add(at).UnixMilli(), n)
	}
	var flushed, buffered []string
	for i := range 1600 {
		// Skewed counts: name k has about 1/(k+1) of the rows.
		k := (i * 7919) % 29
		name := names[min(k/4, len(names)-1)]
		e := ev(time.Duration(i)*97*time.Minute, name, fmt.Sprint("u", i%53))
		if i%5 == 0 {
			buffered = append(buffered, e)
		} else {
			flushed = append(flushed, e)
		}
	}
	postImportJSON(t, srv, flushed)
	if err := srv.Store().Flush(); err != nil {
		t.Fatal(err)
	}
	postImportJSON(t, srv, buffered)

	on, off := diffConn(t, db, 1), diffConn(t, db, 0)
	week := "DATE(DATE_SUB(time, INTERVAL DAYOFWEEK(time) - 1 DAY))"
	top := func(limit int, where string) string {
		return "(SELECT event AS event__, COUNT(*) AS mme_inner__ FROM events " + where + " GROUP BY event ORDER BY mme_inner__ DESC, event__ LIMIT " + fmt.Sprint(limit) + ") AS series_limit"
	}
	const rng = "WHERE time >= '2025-01-10' AND time < '2025-03-01'"
	for _, tc := range []struct {
		q    string
		plan string // what the plan must show ("": anything)
	}{
		// The corpus' shape.
		{"SELECT " + week + " AS __timestamp, event AS event, COUNT(*) AS count FROM events JOIN " + top(5, rng) + " ON event = event__ " +
			rng + " GROUP BY " + week + ", event ORDER BY count DESC, __timestamp, event LIMIT 10000", "(left scan: right keys only)"},
		// Every row with its subquery's columns.
		{"SELECT time, event, event__, mme_inner__ FROM events JOIN " + top(3, "") + " ON event = event__ ORDER BY time, event", "(left scan: right keys only)"},
		// Names that are not in the data, in another case, with a
		// trailing space; and an empty right input.
		{"SELECT event, COUNT(*) FROM events JOIN (SELECT 'Login' AS e UNION ALL SELECT 'LOGIN' UNION ALL SELECT 'Login ' UNION ALL SELECT 'Nope') x " +
			"ON events.event = x.e GROUP BY event ORDER BY event", ""},
		{"SELECT event, COUNT(*) FROM events JOIN " + top(0, "") + " ON event = event__ GROUP BY event ORDER BY event", ""},
		{"SELECT COUNT(*) FROM events e JOIN " + top(4, rng) + " ON e.event = series_limit.event__ WHERE e.distinct_id <> 'u7'", ""},
	} {
		want, got := queryRows(t, off, tc.q), queryRows(t, on, tc.q)
		if !renderedRowsEqual(want, got) {
			t.Errorf("%s\nnative plan off (%d rows): %.1500v\non (%d rows): %.1500v", tc.q, len(want), want, len(got), got)
			continue
		}
		if len(want) == 0 && !strings.Contains(tc.q, "LIMIT 0") {
			t.Errorf("%s: no rows: the fixture tests nothing", tc.q)
		}
		plan := strings.Join(queryRows(t, on, "EXPLAIN FORMAT=TREE "+tc.q), "\n")
		if !strings.Contains(plan, "arb Project") || !strings.Contains(plan, tc.plan) {
			t.Errorf("%s: want a native plan with %q, got\n%s", tc.q, tc.plan, plan)
		}
	}
}

package server

// TestJoinTimeBoundsAgree checks the native join's bounds (native
// join_iter.go, joinBound: residual conjuncts comparing a right column
// with a value of the left row, which drop FALSE pairs before the
// residual runs) against go-mysql-server's operators: every comparison
// operator, windows of INTERVAL added or subtracted, BETWEEN, a bound
// after another conjunct, LEFT JOIN rows without a pair, NULL times on
// either side, and a window whose left value overflows (NULL with a
// warning, which must neither be lost nor added).

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestJoinTimeBoundsAgree(t *testing.T) {
	srv := startTestServer(t, t.TempDir())
	db := openDB(t, srv, "")
	base := time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC)
	var evs []string
	names := []string{"Search", "Purchase", "Page View"}
	for i := range 240 {
		// Users of many events, hours apart; rows 2k and 2k+1 are one
		// user's, at one time when k is even (a bound's equal case).
		k := i / 2
		id := fmt.Sprintf("u%d", k%7+k%3)
		tk := i
		if k%2 == 0 {
			tk = 2 * k
		}
		at := base.Add(time.Duration(tk*tk%500) * 17 * time.Minute)
		evs = append(evs, fmt.Sprintf(`{"event":%q,"properties":{"distinct_id":%q,"time":%d,"$insert_id":"i%d"}}`,
			names[i%len(names)], id, at.UnixMilli(), i))
	}
	postImportJSON(t, srv, evs)

	on, off := diffConn(t, db, 1), diffConn(t, db, 0)
	const nullable = "(SELECT distinct_id, IF(event = 'Purchase', time, NULL) AS t, insert_id AS n FROM events)"
	for _, tc := range []struct{ from, on string }{
		{"events a JOIN events b", "b.time > a.time AND b.time <= a.time + INTERVAL 3 DAY"},
		{"events a JOIN events b", "b.time BETWEEN a.time AND a.time + INTERVAL 3 DAY"},
		{"events a JOIN events b", "b.time >= a.time - INTERVAL 1 DAY AND b.time < a.time"},
		{"events a JOIN events b", "a.time < b.time AND a.time + INTERVAL 12 HOUR >= b.time"},
		{"events a JOIN events b", "b.insert_id <> a.insert_id AND b.time >= a.time"},
		{"events a LEFT JOIN events b", "b.event = 'Purchase' AND b.time > a.time AND b.time <= a.time + INTERVAL 30 MINUTE"},
		{"events a LEFT JOIN events b", "b.time > a.time AND b.time <= a.time + INTERVAL 9000 YEAR"},
		{"events a LEFT JOIN events b", "b.time + INTERVAL 9000 YEAR >= a.time AND b.time < a.time"},
		{"events a LEFT JOIN events b", "b.time - INTERVAL 9000 YEAR <= a.time AND b.time > a.time"},
		{nullable + " a JOIN " + nullable + " b", "b.t > a.t AND b.t < a.t + INTERVAL 2 DAY"},
		{nullable + " a LEFT JOIN " + nullable + " b", "b.t >= a.t AND b.n <> a.n"},
		{"events a LEFT JOIN " + nullable + " b", "b.t > a.time AND b.t <= a.time + INTERVAL 1 DAY"},
	} {
		t0 := "time"
		if strings.Contains(tc.on, "b.t ") { // b is the nullable table
			t0 = "t"
		}
		q := fmt.Sprintf("SELECT a.distinct_id, COUNT(*), COUNT(b.distinct_id), SUM(b.%s IS NULL), MIN(b.%s), MAX(b.%s) FROM %s "+
			"ON b.distinct_id = a.distinct_id AND %s GROUP BY a.distinct_id ORDER BY a.distinct_id", t0, t0, t0, tc.from, tc.on)
		want, got := queryRows(t, off, q), queryRows(t, on, q)
		if !renderedRowsEqual(want, got) {
			t.Errorf("%s\nnative plan off (%d rows): %.600v\non (%d rows): %.600v", q, len(want), want, len(got), got)
			continue
		}
		if len(want) == 0 {
			t.Errorf("%s: no rows: the fixture tests nothing", q)
		}
		wantW, gotW := queryRows(t, off, "SHOW WARNINGS"), queryRows(t, on, "SHOW WARNINGS")
		if !renderedRowsEqual(wantW, gotW) {
			t.Errorf("%s: warnings off %v, on %v", q, wantW, gotW)
		}
	}

	// Whole statements of the shapes the time-range index (native
	// join_time_range.go) serves: EXISTS and NOT EXISTS with a window
	// relative to the outer row, pairs counted, users counted, a window
	// on the right side's expression, and one whose residual has more
	// than bounds.
	for _, q := range []string{
		"SELECT CAST(s.time AS DATE) AS d, COUNT(*) FROM events s WHERE s.event = 'Search' AND NOT EXISTS " +
			"(SELECT 1 FROM events e WHERE e.distinct_id = s.distinct_id AND e.time >= s.time + INTERVAL 1 DAY) GROUP BY d ORDER BY d",
		"SELECT s.distinct_id, COUNT(*) FROM events s WHERE EXISTS (SELECT 1 FROM events e WHERE e.distinct_id = s.distinct_id " +
			"AND e.event = 'Purchase' AND e.time > s.time AND e.time <= s.time + INTERVAL 2 DAY) GROUP BY s.distinct_id ORDER BY s.distinct_id",
		"SELECT s.distinct_id, COUNT(*) FROM events s WHERE NOT EXISTS (SELECT 1 FROM " + nullable + " e WHERE e.distinct_id = s.distinct_id " +
			"AND e.t < s.time AND e.t >= s.time - INTERVAL 1 DAY) GROUP BY s.distinct_id ORDER BY s.distinct_id",
		"SELECT COUNT(DISTINCT a.distinct_id), COUNT(*) FROM events a JOIN events b ON b.distinct_id = a.distinct_id AND b.event = 'Purchase' " +
			"AND b.time > a.time AND b.time <= a.time + INTERVAL 7 DAY WHERE a.event = 'Purchase'",
		"SELECT a.event, COUNT(DISTINCT a.distinct_id), COUNT(DISTINCT b.distinct_id) FROM events a LEFT JOIN events b ON " +
			"b.distinct_id = a.distinct_id AND b.event = 'Purchase' AND b.time > a.time AND b.time <= a.time + INTERVAL 30 MINUTE GROUP BY a.event ORDER BY a.event",
		"SELECT a.insert_id, b.insert_id FROM events a JOIN events b ON b.distinct_id = a.distinct_id AND b.time + INTERVAL 2 HOUR >= a.time " +
			"AND b.time < a.time ORDER BY a.insert_id, b.insert_id",
		"SELECT a.insert_id, b.insert_id FROM events a JOIN events b ON b.distinct_id = a.distinct_id AND b.time >= a.time " +
			"AND b.time < a.time + INTERVAL 1 DAY AND b.insert_id <> a.insert_id ORDER BY a.insert_id, b.insert_id",
	} {
		want, got := queryRows(t, off, q), queryRows(t, on, q)
		if !renderedRowsEqual(want, got) {
			t.Errorf("%s\nnative plan off (%d rows): %.600v\non (%d rows): %.600v", q, len(want), want, len(got), got)
			continue
		}
		if len(want) == 0 {
			t.Errorf("%s: no rows: the fixture tests nothing", q)
		}
	}
}

// TestJoinUnreadOutputAgrees checks that a join emitting NULLs for the
// output columns nothing above it reads (native hash_join.go,
// joinOutputRead) changes no answer: joins whose columns are read by a
// projection, an aggregate, ORDER BY, a derived table, DISTINCT, a
// UNION, a window, HAVING, a nested join's condition, a scalar subquery
// in the select list, and SELECT *.
func TestJoinUnreadOutputAgrees(t *testing.T) {
	srv := startTestServer(t, t.TempDir())
	db := openDB(t, srv, "")
	base := time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC)
	var evs []string
	names := []string{"Search", "Purchase", "Page View"}
	for i := range 150 {
		evs = append(evs, fmt.Sprintf(`{"event":%q,"properties":{"distinct_id":"u%d","time":%d,"$insert_id":"i%d","plan":"p%d"}}`,
			names[i%len(names)], i%9, base.Add(time.Duration(i*i%400)*time.Hour).UnixMilli(), i, i%4))
	}
	postImportJSON(t, srv, evs)
	on, off := diffConn(t, db, 1), diffConn(t, db, 0)
	const j = "events a JOIN events b ON b.distinct_id = a.distinct_id AND b.time > a.time AND b.time <= a.time + INTERVAL 2 DAY"
	for _, q := range []string{
		"SELECT COUNT(*), COUNT(DISTINCT a.distinct_id) FROM " + j,
		"SELECT a.plan, b.event, COUNT(*) FROM " + j + " GROUP BY a.plan, b.event ORDER BY a.plan, b.event",
		"SELECT a.insert_id FROM " + j + " ORDER BY b.insert_id, a.insert_id",
		"SELECT t.x, COUNT(*) FROM (SELECT a.plan AS x, b.time AS y FROM " + j + ") t GROUP BY t.x ORDER BY t.x",
		"SELECT DISTINCT a.plan, b.plan FROM " + j + " ORDER BY 1, 2",
		"SELECT a.distinct_id FROM " + j + " UNION ALL SELECT b.event FROM " + j + " ORDER BY 1",
		"SELECT a.insert_id, ROW_NUMBER() OVER (PARTITION BY a.distinct_id ORDER BY b.time, b.insert_id) FROM " + j + " ORDER BY 1, 2",
		"SELECT a.plan, COUNT(*) FROM " + j + " GROUP BY a.plan HAVING MAX(b.time) > '2025-03-05' ORDER BY a.plan",
		"SELECT COUNT(*) FROM " + j + " JOIN events c ON c.insert_id = b.insert_id AND c.plan <> a.plan",
		"SELECT a.insert_id, (SELECT COUNT(*) FROM events c WHERE c.plan = b.plan) FROM " + j + " ORDER BY 1, 2",
		"SELECT * FROM " + j + " ORDER BY a.insert_id, b.insert_id",
		"SELECT a.insert_id FROM events a WHERE EXISTS (SELECT 1 FROM events b WHERE b.distinct_id = a.distinct_id " +
			"AND b.time > a.time AND b.time <= a.time + INTERVAL 1 DAY) ORDER BY 1",
	} {
		want, got := queryRows(t, off, q), queryRows(t, on, q)
		if !renderedRowsEqual(want, got) {
			t.Errorf("%s\nnative plan off (%d rows): %.600v\non (%d rows): %.600v", q, len(want), want, len(got), got)
			continue
		}
		if len(want) == 0 {
			t.Errorf("%s: no rows: the fixture tests nothing", q)
		}
	}
}

package main

// queries.go is the one place holding Q1–Q8 of peers.md in each engine's
// dialect. Time bounds follow workload.go: data covers 2025-01-01 up to
// (not including) 2025-04-01; the last 7 days start 2025-03-25; Q8's
// cohort signs up on 2025-01-15 and is followed for days 0..30.
//
// arb notes: time bounds are typed (CAST('…' AS DATETIME)), because a bare
// string compared to `time` defeats arb's pushdown; `plan` is a keyword
// and `$browser` needs backquotes.
//
// Funnel (Q7) semantics, the same in every form: a user reaches level 1
// with a Signup at t1, level 2 with a Page View at t2 in [t1, t1+604800],
// level 3 with a Purchase at t3 in [t2, t1+604800]; the answer is the
// number of users per deepest level, like ClickHouse's windowFunnel
// (inclusive window boundary). Plain SQL finds level 3 as "the last
// Purchase in the window is not before the first Page View in it".

import (
	"fmt"
	"strings"
)

type dialect int

const (
	dialectArb dialect = iota
	dialectClickHouse
	dialectDuckDB
)

// benchQuery is one row of the result table. An empty text means the
// engine has no such form; the row is then blank for it.
type benchQuery struct {
	id      string // Q1…Q8: rows with the same id must give the same answer
	variant string // "" for the plain-SQL form
	ordered bool   // the query has an ORDER BY covering every row
	text    [3]string
	// shape turns an engine's rows into the id's common shape (nil: as is).
	shape func(d dialect, rows [][]any) ([][]any, error)
}

var queries = []benchQuery{
	// Q0 is not one of peers.md's questions: it checks that every engine
	// loaded the same rows, empty strings and NULLs included.
	{id: "Q0", text: [3]string{
		dialectArb:        `SELECT utm_source, count(*), count(amount), min(time), max(time) FROM events GROUP BY utm_source`,
		dialectClickHouse: `SELECT utm_source, count(), count(amount), min(time), max(time) FROM events GROUP BY utm_source`,
		dialectDuckDB:     `SELECT utm_source, count(*), count(amount), min(time), max(time) FROM events GROUP BY utm_source`,
	}},
	{id: "Q1", text: [3]string{
		dialectArb:        `SELECT count(*) FROM events`,
		dialectClickHouse: `SELECT count() FROM events`,
		dialectDuckDB:     `SELECT count(*) FROM events`,
	}},
	{id: "Q2", text: [3]string{
		dialectArb:        `SELECT count(*) FROM events WHERE event = 'Purchase'`,
		dialectClickHouse: `SELECT count() FROM events WHERE event = 'Purchase'`,
		dialectDuckDB:     `SELECT count(*) FROM events WHERE event = 'Purchase'`,
	}},
	{id: "Q3", text: [3]string{
		dialectArb:        `SELECT event, count(*) FROM events GROUP BY event`,
		dialectClickHouse: `SELECT event, count() FROM events GROUP BY event`,
		dialectDuckDB:     `SELECT event, count(*) FROM events GROUP BY event`,
	}},
	{id: "Q4", ordered: true, text: [3]string{
		dialectArb:        `SELECT DATE(time) AS day, count(DISTINCT distinct_id) FROM events GROUP BY DATE(time) ORDER BY day`,
		dialectClickHouse: `SELECT toDate(time) AS day, uniqExact(distinct_id) FROM events GROUP BY toDate(time) ORDER BY day`,
		dialectDuckDB:     `SELECT CAST(time AS DATE) AS day, count(DISTINCT distinct_id) FROM events GROUP BY CAST(time AS DATE) ORDER BY day`,
	}},
	// The same grouped by the select alias, as many people write it: at
	// commit 3242b47 arb pushed only the form above into its engine (1.5 s
	// instead of 37 ms at 1M events); at 60c7086 both forms are pushed.
	{id: "Q4", variant: "GROUP BY alias", ordered: true, text: [3]string{
		dialectArb:        `SELECT DATE(time) AS day, count(DISTINCT distinct_id) FROM events GROUP BY day ORDER BY day`,
		dialectClickHouse: `SELECT toDate(time) AS day, uniqExact(distinct_id) FROM events GROUP BY day ORDER BY day`,
		dialectDuckDB:     `SELECT CAST(time AS DATE) AS day, count(DISTINCT distinct_id) FROM events GROUP BY day ORDER BY day`,
	}},
	{id: "Q5", text: [3]string{
		dialectArb: "SELECT `$browser`, count(*) FROM events WHERE event = 'Signup'" +
			" AND time >= CAST('2025-03-25 00:00:00' AS DATETIME) AND time < CAST('2025-04-01 00:00:00' AS DATETIME) GROUP BY `$browser`",
		dialectClickHouse: "SELECT `$browser`, count() FROM events WHERE event = 'Signup'" +
			" AND time >= toDateTime('2025-03-25 00:00:00') AND time < toDateTime('2025-04-01 00:00:00') GROUP BY `$browser`",
		dialectDuckDB: `SELECT "$browser", count(*) FROM events WHERE event = 'Signup'` +
			` AND time >= TIMESTAMP '2025-03-25 00:00:00' AND time < TIMESTAMP '2025-04-01 00:00:00' GROUP BY "$browser"`,
	}},
	{id: "Q6", text: [3]string{
		dialectArb:        "SELECT `plan`, sum(amount) FROM events GROUP BY `plan`",
		dialectClickHouse: `SELECT plan, sum(amount) FROM events GROUP BY plan`,
		dialectDuckDB:     `SELECT plan, sum(amount) FROM events GROUP BY plan`,
	}},
	{id: "Q7", ordered: true, text: [3]string{
		dialectArb: `SELECT level, count(*) FROM (
  SELECT s.distinct_id,
         CASE WHEN min(CASE WHEN e.event = 'Page View' THEN e.time END) IS NULL THEN 1
              WHEN max(CASE WHEN e.event = 'Purchase' THEN e.time END) >= min(CASE WHEN e.event = 'Page View' THEN e.time END) THEN 3
              ELSE 2 END AS level
  FROM (SELECT distinct_id, min(time) AS t1 FROM events WHERE event = 'Signup' GROUP BY distinct_id) s
  LEFT JOIN events e ON e.distinct_id = s.distinct_id AND e.event IN ('Page View', 'Purchase')
                    AND e.time >= s.t1 AND e.time <= s.t1 + INTERVAL 7 DAY
  GROUP BY s.distinct_id
) f GROUP BY level ORDER BY level`,
		dialectClickHouse: `SELECT level, count() FROM (
  SELECT distinct_id, if(first_view = 0, 1, if(last_buy >= first_view, 3, 2)) AS level
  FROM (SELECT distinct_id FROM events WHERE event = 'Signup' GROUP BY distinct_id)
  ANY LEFT JOIN (
    SELECT distinct_id,
           toUInt32(minIf(time, event = 'Page View')) AS first_view,
           toUInt32(maxIf(time, event = 'Purchase')) AS last_buy
    FROM (SELECT distinct_id, time, event FROM events WHERE event IN ('Page View', 'Purchase'))
    ALL INNER JOIN (SELECT distinct_id, min(time) AS t1 FROM events WHERE event = 'Signup' GROUP BY distinct_id) USING distinct_id
    WHERE time >= t1 AND time <= t1 + 604800
    GROUP BY distinct_id
  ) USING distinct_id
) GROUP BY level ORDER BY level`,
		dialectDuckDB: `SELECT level, count(*) FROM (
  SELECT s.distinct_id,
         CASE WHEN min(CASE WHEN e.event = 'Page View' THEN e.time END) IS NULL THEN 1
              WHEN max(CASE WHEN e.event = 'Purchase' THEN e.time END) >= min(CASE WHEN e.event = 'Page View' THEN e.time END) THEN 3
              ELSE 2 END AS level
  FROM (SELECT distinct_id, min(time) AS t1 FROM events WHERE event = 'Signup' GROUP BY distinct_id) s
  LEFT JOIN events e ON e.distinct_id = s.distinct_id AND e.event IN ('Page View', 'Purchase')
                    AND e.time >= s.t1 AND e.time <= s.t1 + INTERVAL 7 DAY
  GROUP BY s.distinct_id
) f GROUP BY level ORDER BY level`,
	}},
	{id: "Q7", variant: "native", ordered: true, text: [3]string{
		dialectArb:        `SELECT level, count(*) FROM (SELECT distinct_id, window_funnel(604800, time, event = 'Signup', event = 'Page View', event = 'Purchase') AS level FROM events GROUP BY distinct_id) f GROUP BY level ORDER BY level`,
		dialectClickHouse: `SELECT level, count() FROM (SELECT distinct_id, windowFunnel(604800)(time, event = 'Signup', event = 'Page View', event = 'Purchase') AS level FROM events GROUP BY distinct_id) GROUP BY level ORDER BY level`,
	}},
	{id: "Q8", ordered: true, text: [3]string{
		dialectArb: `SELECT DATE(time) AS day, count(DISTINCT distinct_id) FROM events
WHERE distinct_id IN (SELECT distinct_id FROM events WHERE event = 'Signup'
                      AND time >= CAST('2025-01-15 00:00:00' AS DATETIME) AND time < CAST('2025-01-16 00:00:00' AS DATETIME))
  AND time >= CAST('2025-01-15 00:00:00' AS DATETIME) AND time < CAST('2025-02-15 00:00:00' AS DATETIME)
GROUP BY DATE(time) ORDER BY day`,
		dialectClickHouse: `SELECT toDate(time) AS day, uniqExact(distinct_id) FROM events
WHERE distinct_id IN (SELECT distinct_id FROM events WHERE event = 'Signup'
                      AND time >= toDateTime('2025-01-15 00:00:00') AND time < toDateTime('2025-01-16 00:00:00'))
  AND time >= toDateTime('2025-01-15 00:00:00') AND time < toDateTime('2025-02-15 00:00:00')
GROUP BY toDate(time) ORDER BY day`,
		dialectDuckDB: `SELECT CAST(time AS DATE) AS day, count(DISTINCT distinct_id) FROM events
WHERE distinct_id IN (SELECT distinct_id FROM events WHERE event = 'Signup'
                      AND time >= TIMESTAMP '2025-01-15 00:00:00' AND time < TIMESTAMP '2025-01-16 00:00:00')
  AND time >= TIMESTAMP '2025-01-15 00:00:00' AND time < TIMESTAMP '2025-02-15 00:00:00'
GROUP BY CAST(time AS DATE) ORDER BY day`,
	}},
	{id: "Q8", variant: "retention()", ordered: true, shape: retentionShape, text: [3]string{
		dialectArb:        retentionQuery(dialectArb),
		dialectClickHouse: retentionQuery(dialectClickHouse),
	}},
}

// retentionDays is Q8's horizon: days 0..30 after the cohort's signup day.
const retentionDays = 31

// retentionQuery builds Q8 with the retention aggregate (ClickHouse
// semantics): condition 1 is "signed up on the cohort day", condition n+1
// is "active on day n" (n = 1..30); r[0] is then the cohort size, which is
// also its day-0 actives (the Signup is on day 0), and r[n] the cohort's
// actives on day n. There is no day-0 condition because ClickHouse 18.16
// credits each row to its first true condition only: the Signup row would
// never count for day 0. arb returns r as a JSON array, ClickHouse as an
// Array summed with sumForEach.
func retentionQuery(d dialect) string {
	day := func(n int) string {
		t := dataStart.AddDate(0, 0, 14+n).Format("2006-01-02 15:04:05")
		if d == dialectArb {
			return "CAST('" + t + "' AS DATETIME)"
		}
		return "toDateTime('" + t + "')"
	}
	conds := []string{fmt.Sprintf("event = 'Signup' AND time >= %s AND time < %s", day(0), day(1))}
	for n := 1; n < retentionDays; n++ {
		conds = append(conds, fmt.Sprintf("time >= %s AND time < %s", day(n), day(n+1)))
	}
	inner := fmt.Sprintf("SELECT distinct_id, retention(%s) AS r FROM events WHERE time >= %s AND time < %s GROUP BY distinct_id",
		strings.Join(conds, ", "), day(0), day(retentionDays))
	if d == dialectClickHouse {
		return "SELECT sumForEach(r) FROM (" + inner + ")"
	}
	sums := make([]string, len(conds))
	for i := range sums {
		sums[i] = fmt.Sprintf("sum(JSON_EXTRACT(r, '$[%d]'))", i)
	}
	return "SELECT " + strings.Join(sums, ", ") + " FROM (" + inner + ") t"
}

// retentionShape turns the retention form's single row (ClickHouse: one
// array cell; arb: one cell per position) into Q8's rows (day, users),
// days with no user left out as the plain form leaves them out.
func retentionShape(d dialect, rows [][]any) ([][]any, error) {
	if len(rows) != 1 {
		return nil, fmt.Errorf("retention: %d rows, want 1", len(rows))
	}
	var counts []float64
	if d == dialectClickHouse && len(rows[0]) == 1 {
		s := strings.Trim(cellString(rows[0][0]), "[]")
		for _, f := range strings.Split(s, ",") {
			v, ok := parseNumber(strings.TrimSpace(f))
			if !ok {
				return nil, fmt.Errorf("retention: %q is not a number", f)
			}
			counts = append(counts, v)
		}
	} else {
		for _, c := range rows[0] {
			v, ok := toNumber(c)
			if !ok {
				return nil, fmt.Errorf("retention: cell %v is not a number", c)
			}
			counts = append(counts, v)
		}
	}
	if len(counts) != retentionDays {
		return nil, fmt.Errorf("retention: %d counts, want %d", len(counts), retentionDays)
	}
	var out [][]any
	for n, c := range counts {
		if c > 0 {
			out = append(out, []any{dataStart.AddDate(0, 0, 14+n), c})
		}
	}
	return out, nil
}

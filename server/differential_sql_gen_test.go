package server

// The analyst-SQL part of TestAnalyticsPushdownDifferential's grammar:
// the shapes issue 13's native plan runs — self-joins with time windows,
// LEFT JOIN funnels over CTEs, NOT EXISTS churn, window functions over
// users' event sequences, running totals, UNION ALL, conditional
// aggregates, a scalar subquery's share, derived-table histograms. Each
// is written so that its answer is fixed by the data (ties broken by a
// total order where a window or LIMIT depends on order), so pushdown on
// and off must agree row for row.

import (
	"fmt"
	"strings"
	"time"
)

// eventPair draws two event names for a step or a comparison.
func (g *diffGen) eventPair() (string, string) {
	pool := []string{"Page View", "Click", "Search", "Add to Cart", "Purchase", "Share", "Signup", "Logout"}
	a := pool[g.r.Intn(len(pool))]
	b := pool[g.r.Intn(len(pool))]
	return diffLiteral(a), diffLiteral(b)
}

// window is an INTERVAL of a few hours or days.
func (g *diffGen) window() string {
	if g.chance(2) {
		return fmt.Sprintf("INTERVAL %d HOUR", 1+g.r.Intn(48))
	}
	return fmt.Sprintf("INTERVAL %d DAY", 1+g.r.Intn(5))
}

// dayBound is a bare string bound on a day, as analysts write it.
func (g *diffGen) dayBound() string {
	day := g.data.start.AddDate(0, 0, g.r.Intn(g.data.days))
	if g.chance(2) {
		return "'" + day.Format("2006-01-02") + "'"
	}
	return "'" + day.Add(time.Duration(g.r.Intn(24))*time.Hour).Format("2006-01-02 15:04:05") + "'"
}

// analystSQL draws one query of the shapes above.
func (g *diffGen) analystSQL() diffQuery {
	a, b := g.eventPair()
	switch g.r.Intn(16) {
	case 0: // self-join: did users do b within a window after a?
		return diffQuery{kind: "self-join", sql: fmt.Sprintf(
			"SELECT count(DISTINCT x.distinct_id), count(*) FROM events x JOIN events y ON x.distinct_id = y.distinct_id AND y.time > x.time AND y.time <= x.time + %s WHERE x.event = %s AND y.event = %s",
			g.window(), a, b)}
	case 1: // plain-SQL funnel over CTEs with a LEFT JOIN
		return diffQuery{kind: "cte-funnel", sql: fmt.Sprintf(
			"WITH s AS (SELECT distinct_id, min(time) AS t FROM events WHERE event = %s AND time < %s GROUP BY distinct_id), "+
				"p AS (SELECT distinct_id, min(time) AS t FROM events WHERE event = %s GROUP BY distinct_id) "+
				"SELECT count(*), count(p.distinct_id) FROM s LEFT JOIN p ON s.distinct_id = p.distinct_id AND p.t > s.t AND p.t <= s.t + %s",
			a, g.dayBound(), b, g.window())}
	case 2: // three-step funnel with LEFT JOINs on events, grouped by a property
		// (one day of first steps: go-mysql-server's nested loops are slow)
		c, _ := g.eventPair()
		day := g.data.start.AddDate(0, 0, g.r.Intn(g.data.days))
		return diffQuery{kind: "join-funnel", sql: fmt.Sprintf(
			"SELECT x.`$browser`, count(DISTINCT x.distinct_id), count(DISTINCT y.distinct_id), count(DISTINCT z.distinct_id) FROM events x "+
				"LEFT JOIN events y ON y.distinct_id = x.distinct_id AND y.event = %s AND y.time > x.time AND y.time <= x.time + %s "+
				"LEFT JOIN events z ON z.distinct_id = y.distinct_id AND z.event = %s AND z.time > y.time "+
				"WHERE x.event = %s AND x.time >= '%s' AND x.time < '%s' GROUP BY x.`$browser`", b, g.window(), c, a,
			day.Format("2006-01-02"), day.AddDate(0, 0, 1).Format("2006-01-02"))}
	case 3: // churn: did a, never did b
		return diffQuery{kind: "not-exists", sql: fmt.Sprintf(
			"SELECT count(DISTINCT e.distinct_id) FROM events e WHERE e.event = %s AND NOT EXISTS (SELECT 1 FROM events f WHERE f.distinct_id = e.distinct_id AND f.event = %s)", a, b)}
	case 4: // first touch: the first event of each user, by property
		return diffQuery{kind: "row-number", sql: fmt.Sprintf(
			"SELECT %s, count(*) FROM (SELECT event, `$browser`, utm_source, ROW_NUMBER() OVER (PARTITION BY distinct_id ORDER BY time, insert_id, event) AS rn FROM events%s) t WHERE rn = 1 GROUP BY 1",
			g.pick("event", "`$browser`", "utm_source"), g.where())}
	case 5: // gaps between a user's events
		return diffQuery{kind: "lag", sql: fmt.Sprintf(
			"SELECT count(*), sum(gap), max(gap) FROM (SELECT TIMESTAMPDIFF(SECOND, LAG(time) OVER (PARTITION BY distinct_id ORDER BY time, insert_id, event), time) AS gap FROM events WHERE event = %s OR event = %s) t WHERE gap IS NOT NULL", a, b)}
	case 6: // running total by day
		return diffQuery{kind: "running-total", ordered: true, sql: fmt.Sprintf(
			"SELECT d, c, SUM(c) OVER (ORDER BY d) FROM (SELECT DATE(time) AS d, count(*) AS c FROM events WHERE event = %s GROUP BY DATE(time)) t ORDER BY d", a)}
	case 7: // two counts side by side
		return diffQuery{kind: "union-all", sql: fmt.Sprintf(
			"SELECT 'first' AS k, DATE(time) AS d, count(*) FROM events WHERE event = %s GROUP BY DATE(time) UNION ALL SELECT 'second', DATE(time), count(DISTINCT distinct_id) FROM events WHERE %s GROUP BY DATE(time)",
			a, g.filter(1))}
	case 8: // conditional aggregates by day
		return diffQuery{kind: "conditional", sql: fmt.Sprintf(
			"SELECT DATE(time), SUM(CASE WHEN event = %s THEN 1 ELSE 0 END), COUNT(DISTINCT CASE WHEN event = %s THEN distinct_id END), SUM(IF(amount > %d, amount, 0)), COUNT(IF(is_trial, 1, NULL)) FROM events%s GROUP BY DATE(time)",
			a, b, g.r.Intn(200), g.where())}
	case 9: // share of the total through a scalar subquery
		return diffQuery{kind: "scalar-share", sql: fmt.Sprintf(
			"SELECT event, count(*), ROUND(100 * count(*) / (SELECT count(*) FROM events WHERE time >= %s), 2) FROM events WHERE time >= %s GROUP BY event",
			g.dayBound(), g.dayBound())}
	case 10: // events-per-user histogram over a derived table
		return diffQuery{kind: "histogram", sql: fmt.Sprintf(
			"SELECT n, count(*) FROM (SELECT distinct_id, count(*) AS n FROM events%s GROUP BY distinct_id) t GROUP BY n", g.where())}
	case 11: // a cohort through IN and bare string bounds
		return diffQuery{kind: "in-subquery", sql: fmt.Sprintf(
			"SELECT DATE(time), count(DISTINCT distinct_id) FROM events WHERE time >= %s AND distinct_id IN (SELECT distinct_id FROM events WHERE event = %s AND time < %s) GROUP BY DATE(time)",
			g.dayBound(), a, g.dayBound())}
	case 13: // Superset's virtual table: a plain projection go-mysql-server erases
		key := g.pick("event", "`plan`")
		return diffQuery{kind: "virtual-table", sql: fmt.Sprintf(
			"SELECT DATE(time) AS d, %s, COUNT(*), COUNT(DISTINCT distinct_id), SUM(amount) FROM (SELECT time, event, distinct_id, amount, `plan` FROM events) AS virtual_table WHERE time >= %s AND event <> %s GROUP BY DATE(time), %s",
			key, g.dayBound(), b, key)}
	case 14: // equi-join with a time window of every form (the join's bounds)
		win := g.window()
		cond := g.pick(
			"y.t > x.t AND y.t <= x.t + "+win,
			"y.t BETWEEN x.t AND x.t + "+win,
			"y.t >= x.t - "+win+" AND y.t < x.t",
			"x.t < y.t AND x.t + "+win+" >= y.t",
			"y.t > x.t AND y.n <> x.n AND y.t < x.t + "+win,
			"y.n <> x.n AND y.t >= x.t")
		// t is NULL on rows of other events in one or both sides.
		side := func(e string) string {
			if g.chance(2) {
				return fmt.Sprintf("(SELECT distinct_id, time AS t, insert_id AS n FROM events WHERE event = %s)", e)
			}
			return fmt.Sprintf("(SELECT distinct_id, IF(event = %s, time, NULL) AS t, insert_id AS n FROM events)", e)
		}
		join := g.pick("JOIN", "LEFT JOIN")
		return diffQuery{kind: "time-window-join", sql: fmt.Sprintf(
			"SELECT count(DISTINCT x.distinct_id), count(DISTINCT y.distinct_id), count(*), count(y.t), sum(x.t IS NULL) FROM %s x %s %s y ON y.distinct_id = x.distinct_id AND %s",
			side(a), join, side(b), cond)}
	case 12: // rank within a group over a derived aggregate
		return diffQuery{kind: "rank", sql: fmt.Sprintf(
			"SELECT `plan`, event, c, RANK() OVER (PARTITION BY `plan` ORDER BY c DESC) FROM (SELECT `plan`, event, count(*) AS c FROM events%s GROUP BY `plan`, event) t",
			g.where())}
	}
	// raw rows under a total order, then a limit
	cols := []string{"time", "insert_id", "distinct_id", "event"}
	return diffQuery{kind: "top-n", ordered: true, sql: fmt.Sprintf(
		"SELECT %s, amount FROM events WHERE %s ORDER BY time%s, insert_id, distinct_id, event LIMIT %d",
		strings.Join(cols, ", "), g.filter(2), g.pick("", " DESC"), 1+g.r.Intn(300))}
}

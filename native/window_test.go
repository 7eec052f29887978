package native_test

// Differential tests of the window operator (window.go, window_funcs.go):
// every query runs with and without arb's rules. A Window node hands out
// its rows in input order, so queries without ORDER BY are compared in
// order too.

import (
	"strings"
	"testing"
)

func TestWindowRanking(t *testing.T) {
	for _, q := range []string{
		"SELECT distinct_id, time, ROW_NUMBER() OVER (PARTITION BY distinct_id ORDER BY time) AS rn FROM ev",
		"SELECT event, ROW_NUMBER() OVER () FROM ev",
		"SELECT tier, n, ROW_NUMBER() OVER (PARTITION BY tier ORDER BY n DESC) FROM ev",
		"SELECT tier, n, RANK() OVER (PARTITION BY tier ORDER BY n) FROM ev",
		"SELECT tier, n, DENSE_RANK() OVER (PARTITION BY tier ORDER BY n DESC) FROM ev",
		"SELECT city, amount, PERCENT_RANK() OVER (PARTITION BY city ORDER BY amount) FROM ev",
		"SELECT event, n, RANK() OVER (ORDER BY n, event) AS r, DENSE_RANK() OVER (ORDER BY n, event) AS d FROM ev",
		"SELECT event, RANK() OVER (PARTITION BY event) FROM ev",
		"SELECT tier, NTILE(4) OVER (PARTITION BY tier ORDER BY time) FROM ev",
		"SELECT n, NTILE(7) OVER (ORDER BY n) FROM ev",
		"SELECT k, label, NTILE(3) OVER (ORDER BY k) FROM small",
		"SELECT city, time, ROW_NUMBER() OVER (PARTITION BY LOWER(city) ORDER BY time DESC) FROM ev",
		"SELECT tier, flag, ROW_NUMBER() OVER (PARTITION BY tier, flag ORDER BY amount, time) FROM ev",
	} {
		plan := checkSame(t, q, true)
		requireNative(t, plan, "Window")
	}
}

func TestWindowLagLead(t *testing.T) {
	for _, q := range []string{
		"SELECT distinct_id, time, LAG(time) OVER (PARTITION BY distinct_id ORDER BY time) FROM ev",
		"SELECT distinct_id, time, LEAD(time) OVER (PARTITION BY distinct_id ORDER BY time) FROM ev",
		"SELECT distinct_id, n, LAG(n, 2) OVER (PARTITION BY distinct_id ORDER BY time) FROM ev",
		"SELECT distinct_id, n, LEAD(n, 3, -1) OVER (PARTITION BY distinct_id ORDER BY time) FROM ev",
		"SELECT event, amount, LAG(amount, 1, 0) OVER (ORDER BY time) FROM ev",
		"SELECT event, LAG(event, 1, 'none') OVER (PARTITION BY tier ORDER BY time DESC) FROM ev",
		"SELECT event, TIMESTAMPDIFF(SECOND, LAG(time) OVER (PARTITION BY distinct_id ORDER BY time), time) AS gap FROM ev",
		// defaults of the argument's own kind, copied as stored (NULL defaults included)
		"SELECT distinct_id, LAG(time, 1, time) OVER (PARTITION BY distinct_id ORDER BY time) FROM ev",
		"SELECT tier, LEAD(amount, 2, amount * 2) OVER (PARTITION BY tier ORDER BY time) FROM ev",
		"SELECT tier, LAG(n, 1, n) OVER (PARTITION BY tier ORDER BY time, n) FROM ev",
		"SELECT city, LEAD(city, 1, tier) OVER (PARTITION BY city ORDER BY time) FROM ev",
		"SELECT tier, LAG(n, 1, NULL) OVER (PARTITION BY tier ORDER BY time) FROM ev",
	} {
		plan := checkSame(t, q, true)
		requireNative(t, plan, "Window")
	}
}

func TestWindowAggregates(t *testing.T) {
	for _, q := range []string{
		// default frames: go-mysql-server's, whatever they are
		"SELECT time, amount, SUM(amount) OVER (ORDER BY time) FROM ev",
		"SELECT tier, amount, SUM(amount) OVER (PARTITION BY tier) FROM ev",
		"SELECT tier, n, SUM(n) OVER (PARTITION BY tier ORDER BY time) FROM ev",
		"SELECT tier, amount, AVG(amount) OVER (PARTITION BY tier ORDER BY time) FROM ev",
		"SELECT tier, AVG(amount) OVER (PARTITION BY tier) FROM ev",
		"SELECT tier, COUNT(*) OVER (PARTITION BY tier) FROM ev",
		"SELECT tier, n, COUNT(amount) OVER (PARTITION BY tier ORDER BY n) FROM ev",
		"SELECT tier, n, COUNT(*) OVER (PARTITION BY tier ORDER BY n DESC) FROM ev",
		"SELECT tier, n, COUNT(n) OVER (ORDER BY n) FROM ev",
		"SELECT tier, MAX(amount) OVER (PARTITION BY tier ORDER BY time) FROM ev",
		"SELECT tier, MIN(amount) OVER (PARTITION BY tier ORDER BY time) FROM ev",
		"SELECT city, MAX(event) OVER (PARTITION BY city) FROM ev",
		"SELECT city, MIN(time) OVER (PARTITION BY city ORDER BY n) FROM ev",
		"SELECT tier, FIRST_VALUE(event) OVER (PARTITION BY tier ORDER BY time) FROM ev",
		"SELECT tier, LAST_VALUE(event) OVER (PARTITION BY tier ORDER BY time) FROM ev",
		"SELECT tier, SUM(amount) OVER (PARTITION BY tier ORDER BY time) AS s, " +
			"COUNT(*) OVER (PARTITION BY city) AS c, ROW_NUMBER() OVER (ORDER BY amount DESC) AS r, n FROM ev",
		// written ROWS frames
		"SELECT time, SUM(amount) OVER (ORDER BY time ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) FROM ev",
		"SELECT time, AVG(n) OVER (PARTITION BY tier ORDER BY time ROWS BETWEEN 1 PRECEDING AND 1 FOLLOWING) FROM ev",
		"SELECT time, MAX(n) OVER (PARTITION BY tier ORDER BY time ROWS BETWEEN 3 PRECEDING AND 1 PRECEDING) FROM ev",
		"SELECT time, MIN(n) OVER (PARTITION BY tier ORDER BY time ROWS BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING) FROM ev",
		"SELECT time, COUNT(amount) OVER (ORDER BY time ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) FROM ev",
		"SELECT time, LAST_VALUE(n) OVER (PARTITION BY tier ORDER BY time ROWS BETWEEN CURRENT ROW AND 2 FOLLOWING) FROM ev",
		"SELECT time, SUM(amount) OVER (ORDER BY time ROWS UNBOUNDED PRECEDING) FROM ev",
		// written RANGE frames from UNBOUNDED PRECEDING
		"SELECT n, SUM(amount) OVER (ORDER BY n RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) FROM ev",
		"SELECT n, AVG(amount) OVER (PARTITION BY tier ORDER BY n DESC RANGE UNBOUNDED PRECEDING) FROM ev",
		"SELECT n, COUNT(*) OVER (PARTITION BY tier RANGE UNBOUNDED PRECEDING) FROM ev",
		"SELECT n, MIN(time) OVER (PARTITION BY city ORDER BY n RANGE BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) FROM ev",
		"SELECT n, FIRST_VALUE(event) OVER (ORDER BY amount RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) FROM ev",
		"SELECT n, LAST_VALUE(event) OVER (ORDER BY amount, n RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) FROM ev",
	} {
		plan := checkSame(t, q, true)
		requireNative(t, plan, "Window")
	}
}

func TestWindowAnalystQueries(t *testing.T) {
	for _, q := range []string{
		// first touch: each user's first event
		"SELECT distinct_id, event FROM (SELECT distinct_id, event, ROW_NUMBER() OVER (PARTITION BY distinct_id ORDER BY time) AS rn FROM ev) ranked WHERE rn = 1 ORDER BY distinct_id",
		"SELECT f.event, COUNT(*) FROM (SELECT distinct_id, event FROM (SELECT distinct_id, event, ROW_NUMBER() OVER (PARTITION BY distinct_id ORDER BY time) AS rn FROM ev) ranked WHERE rn = 1) f GROUP BY f.event ORDER BY f.event",
		// running revenue over a grouped derived table
		"SELECT day, revenue, SUM(revenue) OVER (ORDER BY day) AS cumulative FROM (SELECT DATE(time) AS day, SUM(amount) AS revenue FROM ev WHERE event = 'Purchase' GROUP BY DATE(time)) daily ORDER BY day",
		// gaps between a user's events
		"SELECT event, COUNT(*) AS n, AVG(gap) FROM (SELECT event, TIMESTAMPDIFF(SECOND, LAG(time) OVER (PARTITION BY distinct_id ORDER BY time), time) AS gap FROM ev WHERE time >= '2024-06-10') t WHERE gap IS NOT NULL GROUP BY event ORDER BY event",
		// rank over an aggregate of a derived table
		"SELECT tier, event, n, rnk FROM (SELECT tier, event, n, RANK() OVER (PARTITION BY tier ORDER BY n DESC) AS rnk FROM " +
			"(SELECT tier, event, COUNT(*) AS n FROM ev WHERE event <> 'Signup' GROUP BY tier, event) g) ranked WHERE rnk <= 3 ORDER BY tier, rnk, event",
		"SELECT tier, event, n, DENSE_RANK() OVER (PARTITION BY tier ORDER BY n DESC) AS d, SUM(n) OVER (PARTITION BY tier ORDER BY n DESC, event) AS running FROM " +
			"(SELECT tier, event, COUNT(*) AS n FROM ev GROUP BY tier, event) g",
	} {
		plan := checkSame(t, q, true)
		requireNative(t, plan, "Window")
	}
}

func TestWindowRankOverGroupBy(t *testing.T) {
	// RANK() OVER (… ORDER BY COUNT(*)) in the grouped select itself: the
	// in-memory harness refuses it (only_full_group_by) with and without
	// arb's rules alike.
	checkSame(t, "SELECT tier, event, COUNT(*) AS n, RANK() OVER (PARTITION BY tier ORDER BY COUNT(*) DESC) AS rnk FROM ev GROUP BY tier, event", true)
}

func TestWindowLargeInput(t *testing.T) {
	// 15000 rows: several batches in and out.
	for _, q := range []string{
		"SELECT e.distinct_id, s.k, ROW_NUMBER() OVER (PARTITION BY e.distinct_id ORDER BY e.time, s.k) FROM ev e CROSS JOIN small s",
		"SELECT e.n, s.k, SUM(e.amount) OVER (PARTITION BY s.k ORDER BY e.time) FROM ev e CROSS JOIN small s",
		"SELECT s.label, LAG(e.event) OVER (PARTITION BY s.label ORDER BY e.time) FROM ev e CROSS JOIN small s",
	} {
		plan := checkSame(t, q, true)
		requireNative(t, plan, "Window")
	}
}

func TestWindowEmptyAndLeftToGMS(t *testing.T) {
	plan := checkSame(t, "SELECT event, ROW_NUMBER() OVER (ORDER BY time) FROM ev WHERE n > 1000", true)
	requireNative(t, plan, "Window")
	// A written RANGE frame stays go-mysql-server's, with the same rows.
	// So do a RANGE frame with an offset and functions not computed here.
	for _, q := range []string{
		"SELECT n, SUM(amount) OVER (ORDER BY n RANGE BETWEEN 1 PRECEDING AND CURRENT ROW) FROM ev",
		"SELECT tier, STDDEV(amount) OVER (PARTITION BY tier) FROM ev",
		"SELECT tier, VAR_POP(n) OVER (PARTITION BY tier ORDER BY time) FROM ev",
	} {
		plan = checkSame(t, q, true)
		if plan == "" || strings.Contains(plan, "arb Window") {
			t.Fatalf("%s ran natively:\n%s", q, plan)
		}
	}
}

func TestWindowMixedAndCumeDist(t *testing.T) {
	for _, q := range []string{
		// plain expressions beside several windows
		"SELECT n * 2, UPPER(event), ROW_NUMBER() OVER (PARTITION BY event ORDER BY time), " +
			"LAG(amount) OVER (ORDER BY time), COUNT(*) OVER (), MAX(time) OVER (PARTITION BY tier) FROM ev",
		// arb's server rewrites CUME_DIST() OVER (PARTITION BY p ORDER BY o) into this
		"SELECT tier, n, (COUNT(*) OVER (PARTITION BY tier) - RANK() OVER (PARTITION BY tier ORDER BY n DESC) + 1) * 1e0 " +
			"/ COUNT(*) OVER (PARTITION BY tier) AS cd FROM ev",
		// collations: 'Paris' and 'paris' are one partition and peers
		"SELECT city, ROW_NUMBER() OVER (PARTITION BY city COLLATE utf8mb4_0900_ai_ci ORDER BY time) FROM ev",
		"SELECT city, RANK() OVER (ORDER BY city COLLATE utf8mb4_0900_ai_ci) FROM ev",
		"SELECT tier, MAX(city COLLATE utf8mb4_0900_ai_ci) OVER (PARTITION BY tier) FROM ev",
		"SELECT tier, MIN(CAST(amount AS DECIMAL(10,1))) OVER (PARTITION BY tier ORDER BY time) FROM ev",
		"SELECT tier, SUM(CAST(amount AS DECIMAL(10,1))) OVER (PARTITION BY tier ORDER BY time) FROM ev",
		"SELECT tier, SUM(city) OVER (PARTITION BY tier ORDER BY time), AVG(time) OVER (PARTITION BY tier) FROM ev",
	} {
		plan := checkSame(t, q, true)
		requireNative(t, plan, "Window")
	}
}

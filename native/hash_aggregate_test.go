package native_test

// Tests of HashAggregate and the native DISTINCT: every query runs with
// and without arb's rules (checkSame) and must give go-mysql-server's
// rows; each also asserts that the native operator ran.

import (
	"strings"
	"testing"
)

// aggCheck runs queries unordered (ordered when they have ORDER BY) and
// requires ops in each plan.
func aggCheck(t *testing.T, queries []string, ops ...string) {
	t.Helper()
	for _, q := range queries {
		ordered := strings.Contains(q, "ORDER BY")
		plan := checkSame(t, q, ordered)
		if plan == "" {
			t.Fatalf("%s: an error with and without arb's rules", q)
		}
		requireNative(t, plan, ops...)
	}
}

func TestAggGroupByColumns(t *testing.T) {
	aggCheck(t, []string{
		"SELECT event, COUNT(*) FROM ev GROUP BY event",
		"SELECT event, COUNT(*), COUNT(1), COUNT(amount), COUNT(tier) FROM ev GROUP BY event",
		"SELECT tier, city, COUNT(*) FROM ev GROUP BY tier, city",
		"SELECT n, COUNT(*), SUM(n), AVG(n), MIN(n), MAX(n) FROM ev GROUP BY n",
		"SELECT flag, COUNT(*), SUM(flag), MIN(flag), MAX(flag), AVG(flag) FROM ev GROUP BY flag",
		"SELECT event, SUM(amount), AVG(amount), MIN(amount), MAX(amount) FROM ev GROUP BY event",
		"SELECT event, MIN(time), MAX(time), MIN(distinct_id), MAX(distinct_id), MIN(tier), MAX(city) FROM ev GROUP BY event",
		"SELECT distinct_id, COUNT(*), MIN(time) FROM ev GROUP BY distinct_id",
		// a key column is a plain select dependency: the group's first row
		"SELECT event, tier, COUNT(*) FROM ev GROUP BY event, tier",
		"SELECT city FROM ev GROUP BY city",
		// grouping on a column not selected
		"SELECT COUNT(*), SUM(amount) FROM ev GROUP BY city",
		// people and small: INT, NULL keys
		"SELECT tier, COUNT(*), AVG(age), SUM(age), MIN(age), MAX(age) FROM people GROUP BY tier",
		"SELECT company, tier, COUNT(distinct_id) FROM people GROUP BY company, tier",
		"SELECT k, COUNT(*), COUNT(label), MIN(label), MAX(label) FROM small GROUP BY k",
		"SELECT label, SUM(k) FROM small GROUP BY label",
		// Tableau's record count: SUM of a constant per group
		"SELECT event AS e, SUM(1) AS records, SUM(2.5), AVG(3), SUM(NULL), SUM(9223372036854775807) FROM ev GROUP BY 1",
		"SELECT label, SUM(1), COUNT(1) FROM small GROUP BY label",
	}, "HashAggregate")
}

func TestAggGroupByExpressions(t *testing.T) {
	aggCheck(t, []string{
		"SELECT DATE(time) AS day, COUNT(*) FROM ev GROUP BY DATE(time)",
		"SELECT DATE(time) AS day, COUNT(DISTINCT distinct_id) FROM ev GROUP BY day ORDER BY day",
		"SELECT DATE_FORMAT(time, '%Y-%m') AS m, event, COUNT(*) FROM ev GROUP BY m, event ORDER BY m, event",
		"SELECT YEARWEEK(time) AS w, COUNT(DISTINCT distinct_id) FROM ev GROUP BY w",
		"SELECT CAST(time AS DATE) AS day, SUM(amount) FROM ev GROUP BY CAST(time AS DATE)",
		"SELECT HOUR(time) AS h, COUNT(*) FROM ev GROUP BY h ORDER BY h",
		"SELECT n DIV 5 AS b, COUNT(*), MIN(n), MAX(n) FROM ev GROUP BY n DIV 5",
		"SELECT CASE WHEN amount < 10 THEN 'small' WHEN amount < 50 THEN 'mid' ELSE 'big' END AS bucket, COUNT(*) FROM ev GROUP BY bucket",
		"SELECT CASE WHEN amount IS NULL THEN NULL WHEN amount > 50 THEN 1 ELSE 0 END AS hi, COUNT(*) FROM ev GROUP BY hi",
		"SELECT LOWER(city) AS c, COUNT(*) FROM ev GROUP BY LOWER(city)",
		"SELECT amount > 50 AS big, flag, COUNT(*) FROM ev GROUP BY amount > 50, flag",
		"SELECT ROUND(amount) AS r, COUNT(*) FROM ev GROUP BY ROUND(amount)",
		"SELECT CONCAT(event, '/', tier) AS k, COUNT(*) FROM ev GROUP BY k",
		"SELECT NULL AS nothing, COUNT(*) FROM ev GROUP BY nothing",
		"SELECT DATE(time) AS day, event, COUNT(*), COUNT(DISTINCT distinct_id), SUM(amount) FROM ev GROUP BY day, event ORDER BY day, event",
	}, "HashAggregate")
}

func TestAggGlobal(t *testing.T) {
	aggCheck(t, []string{
		"SELECT COUNT(*) FROM ev",
		"SELECT COUNT(*), SUM(amount), AVG(amount), MIN(amount), MAX(time), COUNT(DISTINCT distinct_id) FROM ev",
		// one group over no rows: COUNT 0, the others NULL
		"SELECT COUNT(*), SUM(amount) FROM ev WHERE 1=0",
		"SELECT COUNT(*), COUNT(amount), SUM(n), AVG(n), MIN(tier), MAX(time), COUNT(DISTINCT event) FROM ev WHERE amount > 1000",
		"SELECT COUNT(*), ANY_VALUE(event) FROM ev WHERE amount > 1000",
		"SELECT COUNT(*), NOW() IS NOT NULL FROM ev",
		"SELECT SUM(amount) / COUNT(*) FROM ev WHERE event = 'Purchase'",
		"SELECT COUNT(*) FROM small WHERE k IS NULL",
		// constant arguments: counted, never materialised per row
		"SELECT SUM(1), SUM(2.5), AVG(3), SUM(NULL), COUNT(1), SUM(-7) FROM ev",
		"SELECT SUM(1), AVG(1), SUM(NULL) FROM ev WHERE 1=0",
	}, "HashAggregate")
}

func TestAggCountDistinct(t *testing.T) {
	aggCheck(t, []string{
		"SELECT COUNT(DISTINCT distinct_id) FROM ev",
		"SELECT event, COUNT(DISTINCT distinct_id), COUNT(DISTINCT tier), COUNT(DISTINCT n) FROM ev GROUP BY event",
		"SELECT tier, COUNT(DISTINCT amount), COUNT(DISTINCT flag), COUNT(DISTINCT time) FROM ev GROUP BY tier",
		"SELECT COUNT(DISTINCT event, tier) FROM ev",
		"SELECT city, COUNT(DISTINCT event, tier), COUNT(DISTINCT distinct_id, n) FROM ev GROUP BY city",
		"SELECT DATE(time) AS d, COUNT(DISTINCT CASE WHEN event = 'Purchase' THEN distinct_id END) FROM ev GROUP BY d",
		"SELECT COUNT(DISTINCT DATE(time)), COUNT(DISTINCT n DIV 3) FROM ev",
		"SELECT COUNT(DISTINCT city) FROM ev WHERE 1=0",
		"SELECT COUNT(DISTINCT k), COUNT(DISTINCT label) FROM small",
	}, "HashAggregate")
}

func TestAggConditional(t *testing.T) {
	aggCheck(t, []string{
		"SELECT CAST(time AS DATE) AS day, COUNT(DISTINCT distinct_id) AS active_users, " +
			"COUNT(DISTINCT CASE WHEN event = 'Purchase' THEN distinct_id END) AS buyers, " +
			"SUM(CASE WHEN event = 'Purchase' THEN amount ELSE 0 END) AS revenue, " +
			"SUM(CASE WHEN event = 'Signup' THEN 1 ELSE 0 END) AS signups " +
			"FROM ev WHERE time >= '2024-06-03' AND time < '2024-06-20' GROUP BY CAST(time AS DATE) ORDER BY day",
		"SELECT event, SUM(CASE WHEN tier = 'pro' THEN amount END), COUNT(IF(flag, 1, NULL)), AVG(CASE WHEN n > 3 THEN n END) FROM ev GROUP BY event",
		"SELECT tier, SUM(IF(event = 'Login', 1, 0)), MAX(CASE WHEN event = 'Purchase' THEN time END) FROM ev GROUP BY tier",
		"SELECT SUM(n * 2 + 1), AVG(amount * 1.5), SUM(amount > 50) FROM ev",
		// NULL conditions (n, flag, amount NULL on some rows) and NULL
		// values taken (city, amount, n).
		"SELECT tier, COUNT(DISTINCT CASE WHEN n > 3 THEN city END), SUM(CASE WHEN flag THEN amount ELSE 0 END), " +
			"SUM(CASE WHEN amount > 50 THEN n ELSE -1 END), COUNT(CASE WHEN event = 'Purchase' THEN 1 END), SUM(IF(n > 0, amount, 0.5)), " +
			"COUNT(DISTINCT IF(flag, distinct_id, NULL)), MAX(CASE WHEN n < 0 THEN n * 1.5 END) FROM ev GROUP BY tier",
	}, "HashAggregate")
}

func TestAggHavingOrderLimit(t *testing.T) {
	aggCheck(t, []string{
		"SELECT event, COUNT(*) AS c FROM ev GROUP BY event HAVING c > 400",
		"SELECT distinct_id, COUNT(*) AS c FROM ev GROUP BY distinct_id HAVING COUNT(*) > 18 ORDER BY c DESC, distinct_id",
		"SELECT tier, SUM(amount) AS s FROM ev GROUP BY tier HAVING SUM(amount) > 100 OR tier IS NULL",
		"SELECT event, COUNT(*) AS c FROM ev GROUP BY event ORDER BY c DESC LIMIT 3",
		"SELECT distinct_id, MAX(time) AS last FROM ev GROUP BY distinct_id ORDER BY last DESC, distinct_id LIMIT 10",
		"SELECT DATE(time) AS d, COUNT(*) FROM ev GROUP BY d ORDER BY d LIMIT 5 OFFSET 3",
		// SUM and AVG of integers are float64 under an INT-typed column:
		// arithmetic and comparisons above must read the values
		"SELECT event, SUM(n) + 1, SUM(n) * 2 > 100, AVG(n) / 2, COUNT(*) - SUM(flag) FROM ev GROUP BY event HAVING SUM(n) > 10",
		"SELECT tier, SUM(n) AS s FROM ev GROUP BY tier ORDER BY s DESC, tier",
		"SELECT k, SUM(k) AS s FROM small GROUP BY k HAVING s IS NULL OR s > 1",
	}, "HashAggregate")
}

func TestAggOverJoinAndDerived(t *testing.T) {
	aggCheck(t, []string{
		"SELECT p.tier, COUNT(*), COUNT(DISTINCT e.distinct_id), SUM(e.amount) FROM ev e JOIN people p ON e.distinct_id = p.distinct_id GROUP BY p.tier",
		"SELECT p.company, e.event, COUNT(*) FROM ev e LEFT JOIN people p ON e.distinct_id = p.distinct_id GROUP BY p.company, e.event",
		"SELECT s.label, COUNT(*) FROM ev e JOIN small s ON e.n = s.k GROUP BY s.label",
		// the events-per-user histogram: a GROUP BY over a GROUP BY
		"SELECT LEAST(c, 20) AS bucket, COUNT(*) AS users FROM (SELECT distinct_id, COUNT(*) AS c FROM ev GROUP BY distinct_id) per_user GROUP BY LEAST(c, 20) ORDER BY bucket",
		"SELECT tier, AVG(total), MAX(total) FROM (SELECT distinct_id, tier, SUM(amount) AS total FROM ev GROUP BY distinct_id, tier) t GROUP BY tier",
		"SELECT COUNT(*), COUNT(DISTINCT d) FROM (SELECT DISTINCT DATE(time) AS d, event FROM ev) x",
	}, "HashAggregate")
}

func TestAggManyGroups(t *testing.T) {
	// more groups than a batch: the output is handed out in slices
	aggCheck(t, []string{
		"SELECT distinct_id, time, COUNT(*), SUM(amount) FROM ev GROUP BY distinct_id, time",
		"SELECT time, COUNT(*) FROM ev GROUP BY time",
		"SELECT e1.distinct_id, e2.event, COUNT(*) FROM ev e1 JOIN ev e2 ON e1.distinct_id = e2.distinct_id AND e1.event = e2.event GROUP BY e1.distinct_id, e2.event, e1.n",
		"SELECT distinct_id, time, event FROM ev GROUP BY distinct_id, time, event ORDER BY time, distinct_id, event",
	}, "HashAggregate")
}

func TestAggKinds(t *testing.T) {
	aggCheck(t, []string{
		// a case-insensitive collation: 'Paris' and 'paris' one group,
		// its first row's spelling; MIN and MAX by the collation
		"SELECT s, COUNT(*), MIN(s), MAX(s) FROM agg_kinds GROUP BY s",
		"SELECT MIN(s), MAX(s), COUNT(DISTINCT s) FROM agg_kinds",
		"SELECT UPPER(s) AS us, COUNT(*) FROM agg_kinds GROUP BY us",
		// DATE, FLOAT (-0 is 0), unsigned above MaxInt64, DECIMAL
		"SELECT d, COUNT(*), MIN(d), MAX(d), MIN(f), MAX(f), SUM(f), AVG(f) FROM agg_kinds GROUP BY d",
		"SELECT f, COUNT(*) FROM agg_kinds GROUP BY f",
		"SELECT u, COUNT(*), SUM(u), MIN(u), MAX(u), AVG(u) FROM agg_kinds GROUP BY u",
		"SELECT m, COUNT(*) FROM agg_kinds GROUP BY m",
		"SELECT s, SUM(m), AVG(m), MIN(m), MAX(m), COUNT(DISTINCT m) FROM agg_kinds GROUP BY s",
		"SELECT SUM(m), AVG(m), SUM(i), AVG(i), COUNT(DISTINCT f), COUNT(DISTINCT u) FROM agg_kinds",
		"SELECT i % 2 AS odd, SUM(i), AVG(i), MIN(i), MAX(i) FROM agg_kinds GROUP BY odd",
		// strings summed convert to numbers
		"SELECT SUM(s), AVG(s), SUM(d) FROM agg_kinds",
		"SELECT event, SUM(distinct_id), AVG(tier) FROM ev GROUP BY event",
	}, "HashAggregate")
}

func TestAggOtherAggregates(t *testing.T) {
	// aggregates without a native state run go-mysql-server's buffers
	aggCheck(t, []string{
		"SELECT k, GROUP_CONCAT(label ORDER BY label) FROM small GROUP BY k",
		"SELECT tier, STDDEV(age), VARIANCE(age), BIT_OR(age), BIT_AND(age) FROM people GROUP BY tier",
		"SELECT event, SUM(DISTINCT n), COUNT(DISTINCT n), AVG(DISTINCT n) FROM ev GROUP BY event",
		"SELECT k, JSON_ARRAYAGG(label) FROM small GROUP BY k",
		"SELECT tier, ANY_VALUE(city), COUNT(*) FROM ev GROUP BY tier",
		"SELECT event, FIRST(city) FROM ev GROUP BY event",
		"SELECT event, JSON_OBJECTAGG(distinct_id, n) FROM ev WHERE n = 3 GROUP BY event",
	}, "HashAggregate")
}

func TestAggSubqueries(t *testing.T) {
	aggCheck(t, []string{
		"SELECT event, (SELECT COUNT(*) FROM small) AS s, COUNT(*) FROM ev GROUP BY event",
		"SELECT tier, COUNT(*) FROM ev WHERE distinct_id IN (SELECT distinct_id FROM people WHERE age > 40) GROUP BY tier",
		"SELECT COUNT(*) FROM ev WHERE amount > (SELECT AVG(amount) FROM ev)",
	}, "HashAggregate")
}

func TestAggDistinct(t *testing.T) {
	aggCheck(t, []string{
		"SELECT DISTINCT event FROM ev",
		"SELECT DISTINCT tier, city FROM ev",
		"SELECT DISTINCT n FROM ev",
		"SELECT DISTINCT amount > 50, flag FROM ev",
		"SELECT DISTINCT DATE(time) FROM ev",
		"SELECT DISTINCT distinct_id, time FROM ev",
		"SELECT DISTINCT k FROM small",
		"SELECT DISTINCT label FROM small WHERE k > 100",
		// DISTINCT compares strings by their bytes, whatever the collation
		"SELECT DISTINCT s FROM agg_kinds",
		"SELECT DISTINCT f, u, m FROM agg_kinds",
		"SELECT DISTINCT event FROM ev ORDER BY event",
		"SELECT DISTINCT tier FROM ev ORDER BY tier LIMIT 2",
		"SELECT DISTINCT event, tier FROM ev LIMIT 7",
		"SELECT DISTINCT JSON_OBJECT('e', event, 'k', n DIV 10) FROM ev",
		"SELECT DISTINCT time FROM ev",
		"SELECT DISTINCT amount FROM ev",
	}, "HashDistinct")
	// DISTINCT over aggregates
	aggCheck(t, []string{
		"SELECT DISTINCT COUNT(*) FROM ev GROUP BY distinct_id",
		"SELECT DISTINCT MAX(n) FROM ev GROUP BY event",
	}, "HashDistinct", "HashAggregate")
}

// TestAggFirstRowOrder pins first-row semantics: without ORDER BY the
// plain column of each group is its first row in input order, which
// only an ordered comparison of the group order itself can catch.
func TestAggFirstRowOrder(t *testing.T) {
	for _, q := range []string{
		"SELECT event, tier FROM ev GROUP BY event, tier",
		"SELECT DATE(time) AS d, COUNT(*) FROM ev GROUP BY d",
		"SELECT s, COUNT(*) FROM agg_kinds GROUP BY s",
		"SELECT DISTINCT distinct_id FROM ev",
	} {
		plan := checkSame(t, q, true)
		if plan == "" || !strings.Contains(plan, "HashAggregate") && !strings.Contains(plan, "HashDistinct") {
			t.Fatalf("no native aggregate in plan:\n%s", plan)
		}
	}
}

// TestAggLeftToGMS pins the forms HashAggregate leaves to go-mysql-
// server: without keys and with no aggregate but ANY_VALUE, its GroupBy
// returns a row per input row, which the native plan does not mirror.
func TestAggLeftToGMS(t *testing.T) {
	for _, q := range []string{
		"SELECT ANY_VALUE(event) FROM ev WHERE n = 3",
	} {
		plan := checkSame(t, q, false)
		if plan == "" {
			t.Fatalf("%s: an error with and without arb's rules", q)
		}
		for _, line := range strings.Split(plan, "\n") {
			if strings.Contains(line, "arb ") && strings.Contains(line, "HashAggregate") {
				t.Fatalf("%s: translated, want go-mysql-server's GroupBy:\n%s", q, plan)
			}
		}
	}
}

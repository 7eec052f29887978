package native_test

// End-to-end tests of the vectorized expressions: the forms BI tools and
// analysts send, run with and without arb's rules over the harness's ev
// table (checkSame), and EXPLAIN showing that the Filter and Project
// evaluate them natively (an expression go-mysql-server evaluates prints
// as eval(…)).

import (
	"strings"
	"testing"
)

// requireNoEval fails unless every native Filter, Having and Project
// line of plan is free of go-mysql-server's Eval.
func requireNoEval(t *testing.T, q, plan string) {
	t.Helper()
	for _, line := range strings.Split(plan, "\n") {
		l := strings.TrimSpace(line)
		if (strings.HasPrefix(l, "arb Filter") || strings.HasPrefix(l, "arb Project") || strings.HasPrefix(l, "arb Having")) &&
			strings.Contains(l, "eval(") {
			t.Fatalf("%s\nstill evaluated by go-mysql-server:\n%s", q, plan)
		}
	}
}

func TestExprSQLNative(t *testing.T) {
	for _, q := range []string{
		// Comparisons of every class, with literals and between columns.
		"SELECT event, amount FROM ev WHERE amount > 50",
		"SELECT event, amount FROM ev WHERE amount > 50.5 AND amount <= 99.99",
		"SELECT event FROM ev WHERE n = 3 OR n < -2 OR n >= 12",
		"SELECT event FROM ev WHERE n <> 0 AND n <=> 5",
		"SELECT event FROM ev WHERE n <=> NULL",
		"SELECT event FROM ev WHERE n > 200",
		"SELECT event FROM ev WHERE amount > n",
		"SELECT event FROM ev WHERE event = 'Purchase'",
		"SELECT event FROM ev WHERE event <> 'Purchase' AND event > 'Login'",
		"SELECT event FROM ev WHERE tier = city",
		"SELECT event FROM ev WHERE distinct_id < 'u5'",
		"SELECT event FROM ev WHERE 'Login' = event",
		// A datetime against strings of every form, TIMESTAMP() and FROM_UNIXTIME bounds.
		"SELECT event, time FROM ev WHERE time >= '2024-06-10'",
		"SELECT event, time FROM ev WHERE time >= '2024-06-10 00:00:00' AND time < '2024-06-12 00:00:00.000000'",
		"SELECT event, time FROM ev WHERE time < '2024-06-03 12:30:00.5'",
		"SELECT event FROM ev WHERE time BETWEEN '2024-06-01' AND '2024-06-07 23:59:59'",
		"SELECT event FROM ev WHERE time >= TIMESTAMP('2024-06-10 00:00:00') AND time < TIMESTAMP('2024-06-11 00:00:00')",
		"SELECT event FROM ev WHERE time BETWEEN FROM_UNIXTIME(1717200000) AND FROM_UNIXTIME(1717800000)",
		"SELECT event FROM ev WHERE time = '2024-06-10 00:00:00'",
		// IN, BETWEEN, IS.
		"SELECT event FROM ev WHERE event IN ('Login', 'Purchase', 'Nope')",
		"SELECT event FROM ev WHERE event NOT IN ('Login', 'Purchase')",
		"SELECT event FROM ev WHERE n IN (1, 2, 3, NULL)",
		"SELECT event FROM ev WHERE n NOT IN (1, 2, 3, NULL)",
		"SELECT event FROM ev WHERE amount IN (1, 2.5e0, 50)",
		"SELECT event FROM ev WHERE n BETWEEN -1 AND 4",
		"SELECT event FROM ev WHERE tier IS NULL",
		"SELECT event FROM ev WHERE tier IS NOT NULL AND city IS NULL",
		"SELECT event FROM ev WHERE flag IS TRUE",
		"SELECT event FROM ev WHERE flag IS FALSE",
		"SELECT event FROM ev WHERE flag IS NOT TRUE",
		// Logic with NULLs on both sides.
		"SELECT event FROM ev WHERE flag AND n > 3",
		"SELECT event FROM ev WHERE flag OR amount > 90",
		"SELECT event FROM ev WHERE NOT flag",
		"SELECT event FROM ev WHERE flag XOR n > 3",
		"SELECT event FROM ev WHERE NOT (tier = 'pro' OR city = 'Paris')",
		"SELECT event FROM ev WHERE (n > 1 AND amount < 50) OR (tier = 'team' AND flag)",
		// Arithmetic.
		"SELECT n * 2, n + 1, n - 10, -n, amount * 100, amount / 4, amount + n, -amount FROM ev",
		"SELECT event FROM ev WHERE amount * 2 > 100 AND n * n < 25",
		// Conditionals.
		"SELECT CASE WHEN n = 1 THEN '1' WHEN n <= 5 THEN '2-5' WHEN n <= 20 THEN '6-20' ELSE '20+' END FROM ev",
		"SELECT CASE event WHEN 'Login' THEN 1 WHEN 'Purchase' THEN 2 ELSE 0 END FROM ev",
		"SELECT CASE WHEN amount > 50 THEN amount ELSE 0 END FROM ev",
		// Every value a constant (expr_case_labels.go): repeated labels,
		// NULL branches, no ELSE, grouped by (the labels' codes).
		"SELECT CASE WHEN n > 3 THEN 'big' WHEN n > 1 THEN 'mid' WHEN n IS NULL THEN NULL ELSE 'big' END AS b, COUNT(*) FROM ev GROUP BY b ORDER BY b",
		"SELECT CASE WHEN amount > 50 THEN 'x' END AS b, SUM(n) FROM ev GROUP BY b ORDER BY b",
		"SELECT CASE WHEN flag THEN 2.5e0 WHEN n > 2 THEN 1 END AS b, COUNT(*) FROM ev GROUP BY b ORDER BY b",
		"SELECT IF(event = 'Purchase', 1, 0) AS p, CASE WHEN tier = 'pro' THEN NULL END FROM ev",
		"SELECT IF(event = 'Purchase', amount, 0), IFNULL(tier, 'none'), COALESCE(tier, city, 'none'), NULLIF(n, 0) FROM ev",
		"SELECT IFNULL(amount, 0) * 2, COALESCE(n, -1) + 1 FROM ev",
		// Date and time.
		"SELECT YEAR(time), QUARTER(time), MONTH(time), DAY(time), DAYOFMONTH(time), HOUR(time), MINUTE(time), SECOND(time) FROM ev",
		"SELECT DAYOFWEEK(time), WEEKDAY(time), DAYOFYEAR(time), DATE(time), CAST(time AS DATE) FROM ev",
		"SELECT DATE_FORMAT(time, '%Y-%m-%d'), DATE_FORMAT(time, '%Y-%m'), DATE_FORMAT(time, '%Y-%m-%d %H:00:00'), DATE_FORMAT(time, '%Y-%m-%d %H:%i:%s.%f') FROM ev",
		"SELECT event FROM ev WHERE HOUR(time) BETWEEN 9 AND 17 AND DAYOFWEEK(time) IN (1, 7)",
		"SELECT event FROM ev WHERE CAST(time AS DATE) = '2024-06-10'",
		"SELECT TIMESTAMP(time), TIMESTAMP(DATE_FORMAT(time, '%Y-%m-01 00:00:00')), DATEDIFF(time, '2024-06-01'), TIMESTAMPDIFF(HOUR, '2024-06-01', time) FROM ev",
		// Strings.
		"SELECT LOWER(event), UPPER(city), LENGTH(city), CHAR_LENGTH(event), CONCAT(event, ' in ', city) FROM ev",
		"SELECT event FROM ev WHERE LOWER(city) = 'paris'",
		"SELECT event FROM ev WHERE event LIKE '%a%'",
		"SELECT event FROM ev WHERE event LIKE '%View'",
		"SELECT event FROM ev WHERE event NOT LIKE 'P%e_'",
		"SELECT event FROM ev WHERE city LIKE ''",
	} {
		plan := checkSame(t, q, true)
		requireNoEval(t, q, plan)
	}
}

// TestExprSQLMixed runs expressions that are partly go-mysql-server's
// (arb's planner functions, decimals) beside native ones: the results
// must still be the same, including a function that fails or warns only
// on rows a native AND, OR or CASE does not send it.
func TestExprSQLMixed(t *testing.T) {
	for _, q := range []string{
		"SELECT UNIX_TIMESTAMP(time) DIV 300 * 300 AS t, COUNT(*) FROM ev GROUP BY 1",
		"SELECT DATE(DATE_SUB(time, INTERVAL DAYOFMONTH(time) - 1 DAY)) FROM ev WHERE event = 'Purchase'",
		"SELECT n / 2, n % 3, n DIV 2, amount + 1.5 FROM ev",
		"SELECT event FROM ev WHERE n > 0 AND 10 / n > 2",
		"SELECT event FROM ev WHERE n = 0 OR 10 / n > 2",
		"SELECT CASE WHEN n = 0 THEN 0 ELSE 10 / n END FROM ev",
		"SELECT IF(n = 0, NULL, amount / n) FROM ev",
		"SELECT amount / n FROM ev",
		"SELECT amount % n FROM ev",
		"SELECT event FROM ev WHERE SUBSTRING(event, 1, 3) = 'Pag'",
		"SELECT event FROM ev WHERE tier = 'pro' AND city = 'paris' COLLATE utf8mb4_0900_ai_ci",
		"SELECT event FROM ev WHERE n = '3'",
		"SELECT event FROM ev WHERE time > 20240610",
		"SELECT event FROM ev WHERE time >= 'not a date'",
		"SELECT event FROM ev WHERE amount > 0.10000000000000001",
		"SELECT COALESCE(n, amount), IFNULL(n, 'x'), CASE WHEN flag THEN time ELSE NULL END FROM ev",
	} {
		checkSame(t, q, true)
	}
}

// TestExprSQLBigBatches crosses BatchSize: a self-join's tens of
// thousands of rows through a native Project.
func TestExprSQLBigBatches(t *testing.T) {
	q := "SELECT a.event, b.amount * 2, CASE WHEN a.time < b.time THEN 'before' ELSE 'after' END, " +
		"a.amount > b.amount OR b.tier IS NULL, DATE_FORMAT(b.time, '%Y-%m-%d %H:00:00'), LOWER(b.city) " +
		"FROM ev a JOIN small s ON a.n = s.k JOIN ev b ON b.n = s.k " +
		"WHERE a.time >= '2024-06-05' AND b.event IN ('Login', 'Purchase') AND b.amount > 10"
	plan := checkSame(t, q, false)
	requireNative(t, plan, "Project")
	requireNoEval(t, q, plan)
}

package native_test

// Differential tests of the union operator (union.go): UNION ALL keeps
// the left side's rows then the right side's, in order; UNION DISTINCT
// keeps the first of equal rows; ORDER BY, LIMIT and OFFSET on the union
// run as go-mysql-server runs them.

import "testing"

func TestUnionAllAndDistinct(t *testing.T) {
	for _, q := range []string{
		"SELECT event, n FROM ev WHERE n > 10 UNION ALL SELECT event, n FROM ev WHERE n < -3",
		"SELECT tier FROM ev UNION SELECT tier FROM people",
		"SELECT tier, city FROM ev UNION DISTINCT SELECT tier, company FROM people",
		"SELECT n FROM ev UNION SELECT k FROM small",
		"SELECT amount FROM ev UNION SELECT n FROM ev",                             // float and int: converted
		"SELECT distinct_id, age FROM people UNION ALL SELECT label, k FROM small", // varchar and text
		"SELECT time FROM ev WHERE n = 3 UNION SELECT time FROM ev WHERE n = 4",
		"SELECT DATE(time) FROM ev UNION SELECT DATE(time) FROM ev",
		"SELECT flag FROM ev UNION SELECT flag FROM ev",
		"SELECT 1, 'a' UNION ALL SELECT 2, 'b' UNION ALL SELECT 1, 'a'",
		"SELECT 1, 'a' UNION SELECT 2, 'b' UNION SELECT 1, 'a'",
		"SELECT label FROM small WHERE k > 100 UNION ALL SELECT label FROM small", // empty left side
		"SELECT label FROM small UNION ALL SELECT label FROM small WHERE k > 100", // empty right side
		"SELECT event, n FROM ev UNION ALL SELECT event, n FROM ev",               // > 4096 rows
	} {
		plan := checkSame(t, q, true)
		requireNative(t, plan, "Union")
	}
}

func TestUnionOrderLimit(t *testing.T) {
	for _, q := range []string{
		"SELECT 'signup' AS kind, DATE(time) AS day, COUNT(*) AS n FROM ev WHERE event = 'Signup' GROUP BY DATE(time) " +
			"UNION ALL SELECT 'purchase' AS kind, DATE(time) AS day, COUNT(*) AS n FROM ev WHERE event = 'Purchase' GROUP BY DATE(time) " +
			"ORDER BY kind, day",
		"SELECT event, n FROM ev WHERE n > 12 UNION ALL SELECT event, n FROM ev WHERE n < -4 ORDER BY n DESC",
		"SELECT event, n FROM ev WHERE n > 12 UNION ALL SELECT event, n FROM ev WHERE n < -4 ORDER BY event LIMIT 7",
		"SELECT event, n FROM ev WHERE n > 12 UNION ALL SELECT event, n FROM ev WHERE n < -4 LIMIT 9",
		"SELECT event, n FROM ev WHERE n > 12 UNION SELECT event, n FROM ev WHERE n < -4 ORDER BY n, event LIMIT 5 OFFSET 3",
		"SELECT tier FROM ev UNION SELECT tier FROM people ORDER BY tier DESC",
		"SELECT k, label FROM small UNION ALL SELECT k, label FROM small ORDER BY k LIMIT 3",
	} {
		plan := checkSame(t, q, true)
		requireNative(t, plan, "Union")
	}
}

func TestUnionInsideOtherPlans(t *testing.T) {
	for _, q := range []string{
		"SELECT kind, COUNT(*) FROM (SELECT 'a' AS kind, n FROM ev WHERE n > 5 UNION ALL SELECT 'b', k FROM small) u GROUP BY kind ORDER BY kind",
		"SELECT x, ROW_NUMBER() OVER (ORDER BY x DESC) FROM (SELECT n AS x FROM ev WHERE n > 10 UNION SELECT k FROM small) u",
		"SELECT * FROM (SELECT event FROM ev UNION SELECT label FROM small) u ORDER BY event LIMIT 4",
	} {
		plan := checkSame(t, q, true)
		requireNative(t, plan, "Union")
	}
	// A recursive CTE's union stays go-mysql-server's (its children are
	// the CTE's), with the same rows; the sort above it is native.
	plan := checkSame(t, "WITH RECURSIVE r(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM r WHERE x < 50) SELECT x FROM r ORDER BY x DESC", true)
	requireNative(t, plan, "Sort")
}

package native_test

// Differential tests of the per-user summary of semi and anti joins
// (join_users.go) over go-mysql-server's in-memory tables, whose keys
// carry no user numbers: the summary is kept by the key's value, for
// keys of every hashed class (integers, floats with -0, strings under a
// binary and an accent- and case-insensitive collation, datetimes,
// composite keys), with NULL keys and NULL right values, bounds of
// every operator at their edges (equal times), lower and upper, and
// the shapes it leaves to the table (windows, NOT IN, more than bounds).

import (
	"strings"
	"testing"
)

func TestJoinUserSummary(t *testing.T) {
	joinTables(t)
	for _, tc := range []struct {
		q       string
		summary string // the summary the plan must show; "" none
	}{
		{"SELECT tag FROM j_a a WHERE EXISTS (SELECT 1 FROM j_b b WHERE b.k = a.k)", "per-user set"},
		{"SELECT tag FROM j_a a WHERE NOT EXISTS (SELECT 1 FROM j_b b WHERE b.k = a.k)", "per-user set"},
		{"SELECT tag FROM j_a a WHERE NOT EXISTS (SELECT 1 FROM j_b b WHERE b.f = a.f)", "per-user set"},
		{"SELECT tag FROM j_a a WHERE NOT EXISTS (SELECT 1 FROM j_b b WHERE b.s = a.s)", "per-user set"},
		{"SELECT tag FROM j_a a WHERE EXISTS (SELECT 1 FROM j_b b WHERE b.ci = a.ci)", "per-user set"},
		{"SELECT tag FROM j_a a WHERE NOT EXISTS (SELECT 1 FROM j_b b WHERE b.t = a.t)", "per-user set"},
		{"SELECT tag FROM j_a a WHERE NOT EXISTS (SELECT 1 FROM j_b b WHERE b.k = a.k AND b.s = a.s)", "per-user set"},
		{"SELECT tag FROM j_a a WHERE EXISTS (SELECT 1 FROM j_b b WHERE b.k = a.k AND b.tag <> 'b3')", "per-user set"},
		// Bounds on one right value: equal times at the edges.
		{"SELECT tag FROM j_a a WHERE EXISTS (SELECT 1 FROM j_b b WHERE b.k = a.k AND b.t >= a.t)", "per-user largest"},
		{"SELECT tag FROM j_a a WHERE EXISTS (SELECT 1 FROM j_b b WHERE b.k = a.k AND b.t > a.t)", "per-user largest"},
		{"SELECT tag FROM j_a a WHERE NOT EXISTS (SELECT 1 FROM j_b b WHERE b.k = a.k AND b.t <= a.t)", "per-user smallest"},
		{"SELECT tag FROM j_a a WHERE NOT EXISTS (SELECT 1 FROM j_b b WHERE b.k = a.k AND a.t > b.t)", "per-user smallest"},
		{"SELECT tag FROM j_a a WHERE NOT EXISTS (SELECT 1 FROM j_b b WHERE b.ci = a.ci AND b.t > a.t AND b.t >= a.t + INTERVAL 12 HOUR)", "per-user largest"},
		{"SELECT tag FROM j_a a WHERE EXISTS (SELECT 1 FROM j_b b WHERE b.s = a.s AND b.t >= a.t - INTERVAL 1 DAY)", "per-user largest"},
		{"SELECT tag FROM j_a a WHERE NOT EXISTS (SELECT 1 FROM j_b b WHERE b.k = a.k AND b.u > a.u)", "per-user largest"},
		{"SELECT tag FROM j_a a WHERE EXISTS (SELECT 1 FROM j_b b WHERE b.k = a.k AND b.u <= a.u)", "per-user smallest"},
		// The table's: a window, a bound over two right values, more than
		// bounds, NOT IN.
		{"SELECT tag FROM j_a a WHERE EXISTS (SELECT 1 FROM j_b b WHERE b.k = a.k AND b.t > a.t AND b.t < a.t + INTERVAL 2 DAY)", ""},
		{"SELECT tag FROM j_a a WHERE NOT EXISTS (SELECT 1 FROM j_b b WHERE b.k = a.k AND b.t >= a.t AND b.u > a.u)", ""},
		{"SELECT tag FROM j_a a WHERE NOT EXISTS (SELECT 1 FROM j_b b WHERE b.k = a.k AND b.t >= a.t AND b.tag <> a.tag)", ""},
		{"SELECT tag FROM j_a WHERE k NOT IN (SELECT k FROM j_b WHERE k IS NOT NULL)", ""},
		// Events-like: per user, a day after, over the shared ev table.
		{"SELECT CAST(s.time AS DATE) AS d, COUNT(*) FROM ev s WHERE s.event = 'Signup' AND NOT EXISTS " +
			"(SELECT 1 FROM ev e WHERE e.distinct_id = s.distinct_id AND e.time >= s.time + INTERVAL 1 DAY) GROUP BY d ORDER BY d", "per-user largest"},
		{"SELECT COUNT(DISTINCT f.distinct_id) FROM ev f WHERE f.time < '2024-06-15' AND NOT EXISTS " +
			"(SELECT 1 FROM ev m WHERE m.distinct_id = f.distinct_id AND m.time >= '2024-06-15' AND m.event = 'Purchase')", "per-user set"},
		{"SELECT s.distinct_id, COUNT(*) FROM ev s WHERE EXISTS (SELECT 1 FROM ev e WHERE e.distinct_id = s.distinct_id " +
			"AND e.event = 'Purchase' AND e.time < s.time) GROUP BY s.distinct_id ORDER BY s.distinct_id", "per-user smallest"},
	} {
		plan := checkSame(t, tc.q, true)
		requireNative(t, plan, "Join")
		has := strings.Contains(plan, "(right input: per-user")
		switch {
		case tc.summary == "" && has:
			t.Errorf("%s: the table's join, got a summary:\n%s", tc.q, plan)
		case tc.summary != "" && !strings.Contains(plan, "(right input: "+tc.summary):
			t.Errorf("%s: want the right input as a %s, got\n%s", tc.q, tc.summary, plan)
		}
	}
}

// TestSubqueryBounded checks IN, NOT IN and EXISTS correlated by bounds
// on one value of the subquery's rows (subquery_bounded.go) against
// go-mysql-server, with NULL keys and values on either side (IN's NULL
// answers), NULL outer bounds, and keys of strings, integers and a
// case-insensitive collation.
func TestSubqueryBounded(t *testing.T) {
	joinTables(t)
	for _, tc := range []struct {
		q    string
		plan string // what the plan must show; "" anything
	}{
		{"SELECT s.distinct_id, s.time, s.distinct_id NOT IN (SELECT e.distinct_id FROM ev e WHERE e.time >= s.time + INTERVAL 1 DAY) " +
			"FROM ev s WHERE s.event = 'Signup' ORDER BY s.distinct_id, s.time", "in(per-key largest"},
		{"SELECT s.distinct_id, s.time FROM ev s WHERE s.event = 'Signup' AND s.distinct_id NOT IN " +
			"(SELECT e.distinct_id FROM ev e WHERE e.time >= s.time + INTERVAL 1 DAY) ORDER BY s.distinct_id, s.time", "in(per-key largest"},
		{"SELECT s.distinct_id, s.time, s.distinct_id IN (SELECT IF(e.tier IS NULL, NULL, e.distinct_id) FROM ev e WHERE e.time < s.time - INTERVAL 2 DAY) " +
			"FROM ev s WHERE s.event = 'Login' ORDER BY s.distinct_id, s.time", "in(per-key smallest"},
		{"SELECT s.distinct_id, s.time, IF(s.tier IS NULL, NULL, s.distinct_id) IN (SELECT e.distinct_id FROM ev e WHERE e.time > s.time + INTERVAL 20 DAY) " +
			"FROM ev s WHERE s.event = 'Share' ORDER BY s.distinct_id, s.time", "in(per-key largest"},
		{"SELECT s.distinct_id, s.time, s.distinct_id IN (SELECT e.distinct_id FROM ev e WHERE IF(e.flag, NULL, e.time) >= IF(s.flag, s.time, NULL)) " +
			"FROM ev s WHERE s.event = 'Search' ORDER BY s.distinct_id, s.time", "in(per-key largest"},
		{"SELECT a.tag, a.k IN (SELECT b.k FROM j_b b WHERE b.t > a.t) FROM j_a a ORDER BY a.tag", "in(per-key largest"},
		{"SELECT a.tag, a.ci NOT IN (SELECT b.ci FROM j_b b WHERE b.t <= a.t) FROM j_a a ORDER BY a.tag", "in(per-key smallest"},
		{"SELECT s.distinct_id, COUNT(*) FROM ev s WHERE s.event = 'Purchase' OR EXISTS (SELECT 1 FROM ev e WHERE e.distinct_id = s.distinct_id " +
			"AND e.time > s.time AND e.time >= s.time + INTERVAL 3 DAY) GROUP BY s.distinct_id ORDER BY s.distinct_id", "exists(per-key largest"},
		{"SELECT COUNT(DISTINCT CASE WHEN NOT EXISTS (SELECT 1 FROM ev e WHERE e.distinct_id = s.distinct_id AND e.time >= s.time + INTERVAL 1 DAY) " +
			"THEN s.distinct_id END) FROM ev s WHERE s.event = 'Signup'", "exists(per-key largest"},
		// Not bounds on one value: Eval.
		{"SELECT s.distinct_id, s.time FROM ev s WHERE s.event = 'Signup' AND s.distinct_id NOT IN " +
			"(SELECT e.distinct_id FROM ev e WHERE e.time > s.time AND e.time < s.time + INTERVAL 1 DAY) ORDER BY s.distinct_id, s.time", ""},
	} {
		plan := checkSame(t, tc.q, true)
		if tc.plan != "" && !strings.Contains(plan, tc.plan) {
			t.Errorf("%s: want %q in the plan, got\n%s", tc.q, tc.plan, plan)
		}
	}
}

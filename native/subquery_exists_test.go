package native_test

import (
	"strings"
	"testing"
)

// Correlated EXISTS answered from a hashed set of the subquery's keys
// (subquery_exists.go), against go-mysql-server running the subquery
// once per row: keys of every class, NULL keys on both sides, several
// keys, uncorrelated conjuncts above and below the WHERE, and the
// shapes that must stay go-mysql-server's.
func TestExistsHashedSet(t *testing.T) {
	for _, tc := range []struct {
		q string
		// want: the EXPLAIN shows the hashed set ("hashed"), the
		// per-key summary ("per-key") or the subquery evaluated row by
		// row ("eval"); "": none shows (an aggregate's argument).
		want string
	}{
		// The corpus' churn shape: NOT EXISTS in an aggregate's CASE.
		{`SELECT b.tier, COUNT(DISTINCT b.distinct_id),
		         COUNT(DISTINCT CASE WHEN NOT EXISTS (SELECT 1 FROM ev m WHERE m.distinct_id = b.distinct_id AND m.time >= '2024-06-20') THEN b.distinct_id END)
		  FROM ev b WHERE b.event = 'Purchase' AND b.time < '2024-06-10' GROUP BY b.tier`, ""},
		{`SELECT b.distinct_id, b.n, EXISTS (SELECT 1 FROM ev m WHERE m.distinct_id = b.distinct_id AND m.time >= '2024-06-20') FROM ev b WHERE b.n = 3`, "hashed"},
		{`SELECT b.distinct_id FROM ev b WHERE b.n = 3 OR NOT EXISTS (SELECT 1 FROM ev m WHERE m.distinct_id = b.distinct_id AND m.time >= '2024-06-20')`, "hashed"},
		// Equality written the other way round; the subquery's own
		// condition mentions NULLable columns.
		{`SELECT b.time, b.tier, EXISTS (SELECT * FROM ev m WHERE b.tier = m.tier AND m.city = 'Paris' AND m.amount > 90) FROM ev b WHERE b.n = 2`, "hashed"},
		// Two keys, one of them a NULLable text column.
		{`SELECT b.distinct_id, b.event, NOT EXISTS (SELECT 1 FROM ev m WHERE m.distinct_id = b.distinct_id AND m.event = b.event AND m.time > '2024-06-25') FROM ev b WHERE b.n < 0`, "hashed"},
		// Integer keys of two widths, with NULL on both sides.
		{`SELECT b.n, EXISTS (SELECT 1 FROM small s WHERE s.k = b.n) FROM ev b WHERE b.time < '2024-06-03'`, "hashed"},
		{`SELECT b.n, NOT EXISTS (SELECT 1 FROM small s WHERE s.k = b.n AND s.label IS NOT NULL) FROM ev b WHERE b.time < '2024-06-03'`, "hashed"},
		// A float against an integer.
		{`SELECT s.k, EXISTS (SELECT 1 FROM ev m WHERE m.amount = s.k) FROM small s`, "hashed"},
		// An expression of the outer row; a case-insensitive collation
		// against a binary one.
		{`SELECT p.distinct_id, EXISTS (SELECT 1 FROM ev m WHERE m.tier = LOWER(p.tier)) FROM people p`, "hashed"},
		{`SELECT a.s, EXISTS (SELECT 1 FROM ev m WHERE m.city = a.s) FROM agg_kinds a`, "hashed"},
		// Nodes above the WHERE that do not change existence.
		{`SELECT b.distinct_id, EXISTS (SELECT DISTINCT m.event FROM ev m WHERE m.distinct_id = b.distinct_id AND m.event = 'Share' ORDER BY m.event LIMIT 1) FROM ev b WHERE b.n = 7`, "hashed"},
		// LIMIT 0: never a row (stays go-mysql-server's).
		{`SELECT b.distinct_id, EXISTS (SELECT 1 FROM ev m WHERE m.distinct_id = b.distinct_id LIMIT 0) FROM ev b WHERE b.n = 7`, "eval"},
		// A correlated inequality: bounds on one value of the
		// subquery's rows (subquery_bounded.go); a GROUP BY (an
		// aggregate always has a row): go-mysql-server's.
		{`SELECT b.distinct_id, EXISTS (SELECT 1 FROM ev m WHERE m.distinct_id = b.distinct_id AND m.time > b.time) FROM ev b WHERE b.n = 7`, "per-key"},
		{`SELECT b.distinct_id, EXISTS (SELECT COUNT(*) FROM ev m WHERE m.distinct_id = b.distinct_id AND m.time > '2024-07-30') FROM ev b WHERE b.n = 7`, "eval"},
	} {
		plan := checkSame(t, tc.q, false)
		if tc.want != "" && !strings.Contains(plan, map[string]string{"hashed": "exists(hashed set", "eval": "eval(EXISTS", "per-key": "exists(per-key largest"}[tc.want]) {
			t.Fatalf("%s\nno %s EXISTS in plan:\n%s", tc.q, tc.want, plan)
		}
	}
}

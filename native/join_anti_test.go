package native_test

import (
	"strings"
	"testing"
)

// NOT EXISTS planned as a left outer join filtered on a right column IS
// NULL (join_anti.go), against go-mysql-server: one key, two keys, a
// residual, NULL keys on both sides, right columns read above the
// filter, and an IS NULL on a nullable right column (not an anti join).
// (go-mysql-server plans the second, with a correlated inequality, as an
// anti join itself.)
func TestLeftJoinIsNullAsAntiJoin(t *testing.T) {
	for _, tc := range []struct {
		q    string
		anti bool
	}{
		{`SELECT COUNT(DISTINCT f.distinct_id) FROM ev f WHERE f.time < '2024-06-10'
		  AND NOT EXISTS (SELECT 1 FROM ev m WHERE m.distinct_id = f.distinct_id AND m.time >= '2024-06-25')`, true},
		{`SELECT f.distinct_id, f.event, f.n FROM ev f WHERE f.n > 10
		  AND NOT EXISTS (SELECT 1 FROM ev m WHERE m.distinct_id = f.distinct_id AND m.event = f.event AND m.time > f.time)`, false},
		{`SELECT b.n, b.tier FROM ev b WHERE NOT EXISTS (SELECT 1 FROM small s WHERE s.k = b.n)`, true},
		{`SELECT f.distinct_id, m.one FROM ev f LEFT JOIN (SELECT distinct_id, 1 AS one FROM ev WHERE time >= '2024-06-28') m
		  ON m.distinct_id = f.distinct_id WHERE m.one IS NULL`, true},
		{`SELECT f.distinct_id, m.n FROM ev f LEFT JOIN ev m ON m.distinct_id = f.distinct_id AND m.time > '2024-06-29 12:00:00'
		  WHERE m.n IS NULL AND f.n = 1`, false},
	} {
		plan := checkSame(t, tc.q, true)
		if got := strings.Contains(plan, "NullExtend"); got != tc.anti {
			t.Fatalf("%s\nanti join %v, want %v:\n%s", tc.q, got, tc.anti, plan)
		}
	}
}

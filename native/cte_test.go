package native_test

import (
	"strings"
	"testing"
)

// TestDerivedMaterialisedOnce checks that a CTE referenced twice runs once
// per statement (EXPLAIN says so) and answers as go-mysql-server does,
// and that one referenced once, or a volatile one, is not shared.
func TestDerivedMaterialisedOnce(t *testing.T) {
	q := "WITH s AS (SELECT distinct_id, COUNT(*) AS c FROM ev WHERE event = 'Signup' GROUP BY distinct_id) " +
		"SELECT distinct_id, c FROM s UNION ALL SELECT distinct_id, c + 100 FROM s"
	plan := checkSame(t, q, false)
	if !strings.Contains(plan, "materialised once for its 2 references") {
		t.Fatalf("CTE referenced twice not materialised once:\n%s", plan)
	}
	q = "WITH s AS (SELECT distinct_id, amount FROM ev WHERE amount > 90) SELECT * FROM s"
	plan = checkSame(t, q, false)
	if strings.Contains(plan, "materialised") {
		t.Fatalf("CTE referenced once is materialised:\n%s", plan)
	}
	q = "SELECT a.x FROM (SELECT event AS x FROM ev WHERE amount > 95) a UNION ALL SELECT b.x FROM (SELECT event AS x FROM ev WHERE amount > 95) b"
	checkSame(t, q, false)
}

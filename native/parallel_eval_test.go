package native_test

import (
	"testing"
)

// TestAggParallelEvaluation runs GROUP BYs over joins whose output spans
// many batches, so that parallelEvalOp's workers evaluate the keys and
// arguments of many batches at once: groups in first-row order, first
// values, float sums (whose value depends on the order of the additions)
// and an error must all be go-mysql-server's.
func TestAggParallelEvaluation(t *testing.T) {
	const pairs = "FROM ev e1 JOIN ev e2 ON e1.distinct_id = e2.distinct_id"
	for _, q := range []string{
		// Ordered by nothing but first arrival: the group order is the
		// input's.
		"SELECT DATE(e2.time) AS d, e1.event, COUNT(*), SUM(e2.amount * 1.1), MIN(e1.time) " + pairs + " GROUP BY DATE(e2.time), e1.event",
		"SELECT FLOOR(DATEDIFF(e2.time, e1.time) / 7) AS w, COUNT(DISTINCT e1.distinct_id), SUM(CASE WHEN e2.event = 'Purchase' THEN e2.amount ELSE 0 END) " +
			pairs + " GROUP BY w",
		"SELECT e1.tier, e2.city, COUNT(DISTINCT CASE WHEN e2.time > e1.time THEN e2.distinct_id END), AVG(e2.amount + e1.n) " + pairs + " GROUP BY e1.tier, e2.city",
		"SELECT SUM(e1.amount / 3), COUNT(DISTINCT CONCAT(e1.event, e2.event)) " + pairs,
	} {
		plan := checkSame(t, q, true)
		if plan == "" {
			t.Fatalf("%s: an error with and without arb's rules", q)
		}
		requireNative(t, plan, "HashAggregate", "(in parallel workers)")
	}
}

package native_test

import "testing"

// The weekly cohort grid's shape: DATEDIFF over go-mysql-server's DATE()
// strings and FLOOR of an integer over a literal, as group keys over a
// join (planner/column_functions_date.go), against go-mysql-server.
func TestDateFormsOverJoin(t *testing.T) {
	for _, q := range []string{
		`SELECT FLOOR(DATEDIFF(c.signup_day, '2024-06-01') / 7) AS cohort_week,
		        FLOOR(DATEDIFF(e.time, c.signup_day) / 7) AS weeks_later,
		        COUNT(DISTINCT e.distinct_id) AS users
		 FROM (SELECT distinct_id, DATE(MIN(time)) AS signup_day FROM ev WHERE event = 'Signup' GROUP BY distinct_id) c
		 JOIN ev e ON e.distinct_id = c.distinct_id
		 GROUP BY cohort_week, weeks_later ORDER BY cohort_week, weeks_later`,
		`SELECT e.n, DATEDIFF(DATE(e.time), '2024-06-15'), FLOOR(e.n / 3), FLOOR(DATEDIFF(e.time, '2024-06-30') / 2) FROM ev e WHERE e.n IS NULL OR e.n < 2`,
		`SELECT DATEDIFF(a.d, a.s), DATEDIFF(a.s, '2024-06-02') FROM agg_kinds a`,
	} {
		checkSame(t, q, true)
	}
}

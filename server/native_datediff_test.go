package server

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

// TestNativeDateDiff: DATEDIFF in the native plan (planner's dayDiffBatch,
// an integer kernel over day numbers) gives what go-mysql-server's
// DateDiff gives with pushdown off and what MySQL 8 gives: whole UTC
// calendar days between DATETIMEs, DATEs (CAST), DATE() strings and
// constants; days before 1970 (a floor division, not a truncation);
// NULL where either side is NULL (the unmatched side of a LEFT JOIN);
// the weekly cohort grid's FLOOR(DATEDIFF(…) / 7) over them.
func TestNativeDateDiff(t *testing.T) {
	srv := startTestServer(t, t.TempDir())
	db := openRawDB(t, srv)
	// Event times start at 1970 (arb's bound): days before it come from
	// time - INTERVAL 21000 DAY and constants.
	mustExec(t, db, "INSERT INTO events (time, event, distinct_id) VALUES "+
		"('1970-01-01 00:00:00', 'Signup', 'old'), ('1970-01-02 00:00:01', 'View', 'old'), "+
		"('2025-01-01 10:00:00', 'Signup', 'u1'), ('2025-01-08 09:00:00', 'View', 'u1'), ('2025-02-28 23:59:59', 'View', 'u1'), "+
		"('2024-02-29 12:00:00', 'View', 'nosignup')")
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	const signups = "(SELECT distinct_id, DATE(MIN(time)) AS day, CAST(MIN(time) AS DATE) AS d FROM events WHERE event = 'Signup' GROUP BY distinct_id)"
	const early = "time - INTERVAL 21000 DAY"
	cases := []struct {
		q    string
		want []string
	}{
		{"SELECT DATEDIFF(time, '1970-01-01'), DATEDIFF('1969-12-31', time), DATEDIFF(CAST(time AS DATE), DATE(time)), " +
			"DATEDIFF(" + early + ", '1970-01-01'), DATEDIFF(" + early + ", '1965-03-01'), DATEDIFF(time, " + early + ") FROM events ORDER BY time",
			[]string{
				"0|-1|0|-21000|-19233|21000", "1|-2|0|-20999|-19232|21000",
				"19782|-19783|0|-1218|549|21000", "20089|-20090|0|-911|856|21000",
				"20096|-20097|0|-904|863|21000", "20147|-20148|0|-853|914|21000",
			}},
		{"SELECT e.distinct_id, DATEDIFF(e.time, c.day), DATEDIFF(c.d, e.time), FLOOR(DATEDIFF(e.time, c.day) / 7), " +
			"FLOOR(DATEDIFF(c.day, '2025-01-01') / 7), FLOOR(DATEDIFF(e." + early + ", c.day) / 7) " +
			"FROM events e LEFT JOIN " + signups + " c ON e.distinct_id = c.distinct_id ORDER BY e.time",
			[]string{
				"old|0|0|0|-2870|-3000", "old|1|-1|0|-2870|-3000",
				"nosignup|NULL|NULL|NULL|NULL|NULL",
				"u1|0|0|0|0|-3000", "u1|7|-7|1|0|-2999", "u1|58|-58|8|0|-2992",
			}},
	}
	for _, pushdown := range []int{1, 0} {
		if _, err := conn.ExecContext(context.Background(), fmt.Sprintf("SET arb_pushdown = %d", pushdown)); err != nil {
			t.Fatal(err)
		}
		for _, c := range cases {
			got, _, err := queryTyped(context.Background(), conn, c.q)
			if err != nil {
				t.Errorf("pushdown %d: %s: %v", pushdown, c.q, err)
				continue
			}
			if fmt.Sprint(got) != fmt.Sprint(c.want) {
				t.Errorf("pushdown %d: %s =\n%q, want\n%q (MySQL 8)", pushdown, c.q, got, c.want)
			}
			if pushdown == 1 {
				plan := strings.Join(queryRows(t, conn, "EXPLAIN FORMAT=TREE "+c.q), "\n")
				if !strings.Contains(plan, "arb Project") || strings.Contains(plan, "eval(") {
					t.Errorf("%s: want DATEDIFF in the native plan, got\n%s", c.q, plan)
				}
			}
		}
	}
}

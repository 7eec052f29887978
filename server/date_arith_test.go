package server

import (
	"testing"
)

// TestDateArithTypes: DATE_ADD, DATE_SUB and date ± INTERVAL give MySQL
// 8's result types (Date and Time Functions, DATE_ADD: a DATE moved by
// year, quarter, month, week or day units stays a DATE; otherwise a
// DATETIME as precise as the input, 6 digits for microsecond units),
// as Metabase's and Superset's quarter, hour and minute buckets need;
// values are unchanged, with pushdown on and off.
func TestDateArithTypes(t *testing.T) {
	srv := startTestServer(t, t.TempDir())
	db := openDB(t, srv, "&parseTime=false") // values as the server prints them
	mustExec(t, db, "INSERT INTO events (time, event, distinct_id) VALUES ('2025-08-14 09:30:15.250', 'a', 'u1')")
	for _, pushdown := range []string{"1", "0"} {
		mustExec(t, db, "SET arb_pushdown = "+pushdown)
		for _, c := range []struct{ q, typ, val string }{
			{"SELECT MAKEDATE(2025, 1) + INTERVAL 2 QUARTER", "DATE", "2025-07-01"},
			{"SELECT DATE_ADD(MAKEDATE(2025, 1), INTERVAL 3 MONTH)", "DATE", "2025-04-01"},
			{"SELECT DATE_SUB(CAST('2025-03-01' AS DATE), INTERVAL 1 DAY)", "DATE", "2025-02-28"},
			{"SELECT DATE_ADD(CAST('2025-08-14' AS DATE), INTERVAL 10 HOUR)", "DATETIME", "2025-08-14 10:00:00"},
			{"SELECT DATE(time) + INTERVAL 30 MINUTE FROM events", "DATETIME", "2025-08-14 00:30:00"},
			{"SELECT DATE_ADD(CAST('2025-08-14' AS DATE), INTERVAL 5 MICROSECOND)", "DATETIME", "2025-08-14 00:00:00.000005"},
			{"SELECT DATE_ADD(time, INTERVAL 1 DAY) FROM events", "DATETIME", "2025-08-15 09:30:15.250"},
			{"SELECT time - INTERVAL 1 HOUR FROM events", "DATETIME", "2025-08-14 08:30:15.250"},
			{"SELECT INTERVAL 1 YEAR + CAST('2024-02-29' AS DATE)", "DATE", "2025-02-28"},
			{"SELECT MAKEDATE(2025, 1) - INTERVAL 1 QUARTER", "DATE", "2024-10-01"},
			// A string argument keeps go-mysql-server's (MySQL's) string result.
			{"SELECT DATE_SUB('2025-01-01', INTERVAL 1 DAY)", "", "2024-12-31"},
		} {
			rows, err := db.Query(c.q)
			if err != nil {
				t.Fatalf("%s: %v", c.q, err)
			}
			cols, _ := rows.ColumnTypes()
			var v string
			rows.Next()
			if err := rows.Scan(&v); err != nil {
				t.Fatalf("%s: %v", c.q, err)
			}
			rows.Close()
			if c.typ != "" && cols[0].DatabaseTypeName() != c.typ || v != c.val {
				t.Errorf("pushdown %s: %s = %s %q, want %s %q", pushdown, c.q, cols[0].DatabaseTypeName(), v, c.typ, c.val)
			}
		}
	}
}

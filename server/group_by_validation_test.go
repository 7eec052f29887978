package server

import (
	"errors"
	"testing"

	"github.com/go-sql-driver/mysql"
)

// TestOnlyFullGroupByColumnFree: expressions that reference no column
// (NOW(), CURRENT_DATE, DATABASE(), VERSION(), @@version, RAND(), an
// uncorrelated scalar subquery) may stand beside aggregates, with or
// without GROUP BY, as in MySQL 8 (BI tools send them); a column that is
// neither grouped nor aggregated is still refused with 1140 / 1055.
func TestOnlyFullGroupByColumnFree(t *testing.T) {
	srv := startTestServer(t, t.TempDir())
	db := openDB(t, srv, "")
	mustExec(t, db, "INSERT INTO events (time, event, distinct_id, `plan`) VALUES "+
		"('2025-01-01 10:00:00', 'a', 'u1', 'pro'), ('2025-01-01 10:00:01', 'b', 'u2', 'pro'), ('2025-01-01 10:00:02', 'b', 'u3', 'free')")
	for _, pushdown := range []string{"1", "0"} {
		mustExec(t, db, "SET arb_pushdown = "+pushdown)
		for _, c := range []struct {
			q    string
			want int64
		}{
			{"SELECT NOW() IS NOT NULL, COUNT(*) FROM events", 3},
			{"SELECT CURRENT_DATE IS NOT NULL, COUNT(*) FROM events", 3},
			{"SELECT DATABASE() = DATABASE(), COUNT(*) FROM events", 3},
			{"SELECT LENGTH(VERSION()) > 0, COUNT(*) FROM events", 3},
			{"SELECT LENGTH(@@version) > 0, COUNT(*) FROM events", 3},
			{"SELECT RAND() < 2, COUNT(*) FROM events", 3},
			{"SELECT (SELECT COUNT(*) FROM events) = 3, COUNT(*) FROM events WHERE event = 'b'", 2},
			{"SELECT DATE(NOW()) IS NOT NULL, COUNT(*) FROM events GROUP BY `plan` ORDER BY COUNT(*) DESC LIMIT 1", 2},
			// An aggregate over a column-free function (MIN(CURDATE())
			// was refused with 1140).
			{"SELECT MIN(CURDATE()) = CURDATE(), COUNT(*) FROM events", 3},
			{"SELECT MAX(NOW()) >= MIN(CURDATE()), COUNT(*) FROM events", 3},
			{"SELECT MIN(CURDATE()) IS NOT NULL, COUNT(*) FROM events GROUP BY `plan` ORDER BY COUNT(*) DESC LIMIT 1", 2},
		} {
			var ok bool
			var n int64
			if err := db.QueryRow(c.q).Scan(&ok, &n); err != nil || !ok || n != c.want {
				t.Errorf("pushdown %s: %s = %v %d %v, want true %d", pushdown, c.q, ok, n, err, c.want)
			}
		}
		for _, c := range []struct {
			q    string
			code uint16
		}{
			{"SELECT distinct_id, COUNT(*) FROM events", 1140},
			{"SELECT NOW(), distinct_id, COUNT(*) FROM events", 1140},
			{"SELECT MIN(CURDATE()), distinct_id FROM events", 1140},
			{"SELECT event, `plan`, COUNT(*) FROM events GROUP BY `plan`", 1055},
		} {
			rows, err := db.Query(c.q)
			if err == nil {
				rows.Close()
			}
			var me *mysql.MySQLError
			if !errors.As(err, &me) || me.Number != c.code {
				t.Errorf("pushdown %s: %s: %v, want error %d", pushdown, c.q, err, c.code)
			}
		}
	}
}

package server

import (
	"errors"
	"testing"

	"github.com/go-sql-driver/mysql"
)

// TestUnreservedKeywordIdentifiers: a property named plan (or another
// word MySQL 8 does not reserve but vitess does) is written and read bare,
// as in MySQL — by INSERT on the native path and by prepared statements,
// in select lists, WHERE, GROUP BY and ORDER BY — while strings,
// comments and backquoted names are left alone and a statement with a
// real syntax error still gets MySQL's 1064.
func TestUnreservedKeywordIdentifiers(t *testing.T) {
	srv := startTestServer(t, t.TempDir())
	db := openDB(t, srv, "")
	mustExec(t, db, "INSERT INTO events (time, event, distinct_id, plan, copy) VALUES "+
		"('2025-01-01 10:00:00', 'a', 'u1', 'pro', 1), ('2025-01-01 10:00:01', 'a', 'u2', 'plan', 2), ('2025-01-01 10:00:02', 'b', 'u3', 'pro', 3)")
	if _, err := db.Exec("INSERT INTO events (time, event, distinct_id, plan) VALUES (?, ?, ?, ?)", "2025-01-01 10:00:03", "b", "u4", "free"); err != nil {
		t.Fatalf("prepared INSERT naming plan: %v", err)
	}
	for _, c := range []struct {
		q    string
		want string
	}{
		{"SELECT plan, count(*) AS n FROM events GROUP BY plan ORDER BY plan", "free:1 plan:1 pro:2"},
		{"SELECT plan, sum(copy) AS n FROM events WHERE plan = 'pro' GROUP BY plan", "pro:4"},
		// The string 'plan' is a value, not the column.
		{"SELECT plan, count(*) FROM events WHERE plan = 'plan' /* plan */ GROUP BY plan", "plan:1"},
		{"SELECT `plan`, count(*) FROM events WHERE `plan` IN ('free') GROUP BY `plan`", "free:1"},
		{"SELECT e.plan, count(*) FROM events e WHERE e.plan <> 'pro' GROUP BY e.plan ORDER BY e.plan", "free:1 plan:1"},
	} {
		rows, err := db.Query(c.q)
		if err != nil {
			t.Fatalf("%s: %v", c.q, err)
		}
		got := ""
		for rows.Next() {
			var k string
			var n int
			if err := rows.Scan(&k, &n); err != nil {
				t.Fatal(err)
			}
			if got != "" {
				got += " "
			}
			got += k + ":" + itoa(n)
		}
		rows.Close()
		if got != c.want {
			t.Errorf("%s = %q, want %q", c.q, got, c.want)
		}
	}
	var n int
	if err := db.QueryRow("SELECT count(*) FROM events WHERE plan = ?", "pro").Scan(&n); err != nil || n != 2 {
		t.Errorf("prepared SELECT on plan: %d %v, want 2", n, err)
	}
	_, err := db.Exec("SELECT plan FROM events WHERE")
	var me *mysql.MySQLError
	if !errors.As(err, &me) || me.Number != 1064 {
		t.Errorf("a real syntax error next to plan: %v, want 1064", err)
	}
}

func itoa(n int) string {
	if n < 0 {
		return "-" + itoa(-n)
	}
	if n < 10 {
		return string(rune('0' + n))
	}
	return itoa(n/10) + string(rune('0'+n%10))
}

func TestQuoteUnreservedKeywords(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"SELECT plan FROM events", "SELECT `plan` FROM events"},
		{"select PLAN, 'plan', `plan`, \"plan\" from events -- plan", "select `PLAN`, 'plan', `plan`, \"plan\" from events -- plan"},
		{"SELECT a FROM events", ""},
	} {
		got, ok := quoteUnreservedKeywords(c.in)
		if (c.want == "") == ok || got != c.want {
			t.Errorf("quoteUnreservedKeywords(%q) = %q %v, want %q", c.in, got, ok, c.want)
		}
	}
}

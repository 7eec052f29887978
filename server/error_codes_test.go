package server

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/go-sql-driver/mysql"
)

// TestErrorCodes checks, through a driver that reads them, the MySQL error
// numbers and SQLSTATEs that BI tools branch on (Grafana shows the message
// only for some; Metabase's cancel and retry logic looks at the number).
func TestErrorCodes(t *testing.T) {
	srv := startTestServer(t, t.TempDir())
	db := openDB(t, srv, "")
	mustExec(t, db, "INSERT INTO events (time, event, distinct_id) VALUES ('2025-01-01 10:00:00', 'Signup', 'u1')")
	cases := []struct {
		name, query string
		num         uint16
		state       string
		msg         []string // substrings the message must hold
	}{
		{"kill unknown id", "KILL 987654", 1094, "HY000", []string{"Unknown thread id: 987654"}},
		{"kill query unknown id", "KILL QUERY 987654", 1094, "HY000", []string{"Unknown thread id: 987654"}},
		{"unknown function", "SELECT no_such_fn(1)", 1305, "42000", []string{"FUNCTION default.no_such_fn does not exist"}},
		{"unknown function in WHERE", "SELECT * FROM events WHERE no_such_fn(event) = 1", 1305, "42000", []string{"FUNCTION default.no_such_fn does not exist"}},
		{"unknown column of a joined table", "SELECT p.name FROM events e JOIN people p ON e.distinct_id = p.distinct_id", 1054, "42S22", []string{"Unknown column 'p.name'"}},
		{"unknown column", "SELECT no_such_col FROM events", 1054, "42S22", []string{"no_such_col"}},
		{"syntax error", "SELEC 1", 1064, "42000", nil},
		{"unknown table", "SELECT * FROM no_such_table", 1146, "42S02", nil},
		{"bad time in a multi-row INSERT", "INSERT INTO events (time, event, distinct_id) VALUES ('2025-01-01 10:00:00', 'a', 'u1'), ('2025-01-01 10:00:01', 'b', 'u2'), ('not a time', 'c', 'u3')",
			1292, "22007", []string{"Incorrect datetime value: 'not a time' for column 'time' at row 3"}},
	}
	// KILL of a connection that exists still works.
	ctx := context.Background()
	other, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	var id int64
	if err := other.QueryRowContext(ctx, "SELECT CONNECTION_ID()").Scan(&id); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(fmt.Sprintf("KILL QUERY %d", id)); err != nil {
		t.Errorf("KILL QUERY of connection %d: %v", id, err)
	}
	for _, c := range cases {
		_, err := db.Exec(c.query)
		var me *mysql.MySQLError
		if !errors.As(err, &me) {
			t.Errorf("%s: %s: got %v, want MySQL error %d", c.name, c.query, err, c.num)
			continue
		}
		if me.Number != c.num || string(me.SQLState[:]) != c.state {
			t.Errorf("%s: %s: got %d/%s %q, want %d/%s", c.name, c.query, me.Number, me.SQLState[:], me.Message, c.num, c.state)
		}
		for _, m := range c.msg {
			if !strings.Contains(me.Message, m) {
				t.Errorf("%s: %s: message %q does not hold %q", c.name, c.query, me.Message, m)
			}
		}
	}
}

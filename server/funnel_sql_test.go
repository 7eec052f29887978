package server

import (
	"context"
	"database/sql"
	"reflect"
	"strings"
	"testing"
)

// TestFunnelAndRetentionSQL runs window_funnel and retention through the
// MySQL protocol over events held partly in a flushed segment and partly
// in memory, with arb's pushdown on and off: both must give these exact
// answers.
func TestFunnelAndRetentionSQL(t *testing.T) {
	srv := startTestServer(t, t.TempDir())
	db := openDB(t, srv, "")
	// u1: Signup → Page View → Purchase exactly 604800 s after the signup
	// (inclusive boundary: counts). u2: the same, but the purchase is 1 ms
	// late. u3: views before signing up, so the view does not count; then
	// signs up again later and purchases within a week of that restart.
	// u4: one row meeting nothing of the funnel, and a Login. u5: signup
	// then a view and a purchase at the same millisecond as each other.
	mustExec(t, db, `INSERT INTO events (time, event, distinct_id) VALUES
		('2025-01-08 00:00:00.000', 'Purchase',  'u1'),
		('2025-01-01 00:00:00.000', 'Signup',    'u1'),
		('2025-01-03 12:00:00.000', 'Page View', 'u1'),
		('2025-01-02 09:00:00.000', 'Login',     'u1'),
		('2025-01-01 00:00:00.000', 'Signup',    'u2'),
		('2025-01-02 00:00:00.000', 'Page View', 'u2')`)
	if err := srv.Store().Flush(); err != nil {
		t.Fatal(err)
	}
	mustExec(t, db, `INSERT INTO events (time, event, distinct_id) VALUES
		('2025-01-08 00:00:00.001', 'Purchase',  'u2'),
		('2025-01-01 00:00:00.000', 'Page View', 'u3'),
		('2025-01-02 00:00:00.000', 'Signup',    'u3'),
		('2025-01-20 00:00:00.000', 'Signup',    'u3'),
		('2025-01-21 00:00:00.000', 'Page View', 'u3'),
		('2025-01-22 00:00:00.000', 'Purchase',  'u3'),
		('2025-01-05 00:00:00.000', 'Search',    'u4'),
		('2025-01-02 10:00:00.000', 'Login',     'u4'),
		('2025-01-01 08:00:00.000', 'Signup',    'u5'),
		('2025-01-09 00:00:00.000', 'Page View', 'u5'),
		('2025-01-09 00:00:00.000', 'Purchase',  'u5')`)

	const funnel = `window_funnel(604800, time, event = 'Signup', event = 'Page View', event = 'Purchase')`
	const retention = `retention(event = 'Signup', event = 'Login' AND DATE(time) = '2025-01-02', event = 'Purchase')`
	cases := []struct {
		name, query string
		want        []string // queryRows' rendering, sorted
	}{
		{"window_funnel by user", `SELECT distinct_id, ` + funnel + ` AS level FROM events GROUP BY distinct_id`,
			// u5's view is 8 days after its signup: level 1.
			[]string{"u1|3|", "u2|2|", "u3|3|", "u4|0|", "u5|1|"}},
		{"window one second shorter", `SELECT distinct_id, window_funnel(604799, time, event = 'Signup', event = 'Page View', event = 'Purchase') FROM events GROUP BY distinct_id`,
			[]string{"u1|2|", "u2|2|", "u3|3|", "u4|0|", "u5|1|"}},
		{"windowFunnel alias, two steps, window of 9 days", `SELECT distinct_id, windowFunnel(777600, time, event = 'Page View', event = 'Purchase') FROM events GROUP BY distinct_id`,
			// Same-millisecond view and purchase (u5) advance together.
			[]string{"u1|2|", "u2|2|", "u3|2|", "u4|0|", "u5|2|"}},
		{"window_funnel without GROUP BY", `SELECT ` + funnel + ` FROM events`, []string{"3|"}},
		{"window_funnel over no rows", `SELECT ` + funnel + ` FROM events WHERE distinct_id = 'nobody'`, []string{"0|"}},
		{"window_funnel with WHERE", `SELECT ` + funnel + ` FROM events WHERE distinct_id = 'u2'`, []string{"2|"}},
		{"Q7 shape", `SELECT level, count(*) FROM (SELECT distinct_id, ` + funnel + ` AS level FROM events GROUP BY distinct_id) f GROUP BY level ORDER BY level`,
			[]string{"0|1|", "1|1|", "2|1|", "3|2|"}},
		{"HAVING", `SELECT distinct_id FROM events GROUP BY distinct_id HAVING ` + funnel + ` = 3`,
			[]string{"u1|", "u3|"}},
		{"retention by user", `SELECT distinct_id, ` + retention + ` FROM events GROUP BY distinct_id`,
			// u4 logged in on Jan 2 but never signed up: all zero.
			[]string{"u1|[1, 1, 1]|", "u2|[1, 0, 1]|", "u3|[1, 0, 1]|", "u4|[0, 0, 0]|", "u5|[1, 0, 1]|"}},
		{"retention without GROUP BY", `SELECT ` + retention + ` FROM events`, []string{"[1, 1, 1]|"}},
		{"retention over no rows", `SELECT ` + retention + ` FROM events WHERE event = 'Nope'`, []string{"[0, 0, 0]|"}},
		{"retention cohort counts", `SELECT r, count(*) FROM (SELECT distinct_id, ` + retention + ` AS r FROM events GROUP BY distinct_id) x GROUP BY r`,
			[]string{"[0, 0, 0]|1|", "[1, 0, 1]|3|", "[1, 1, 1]|1|"}},
	}

	ctx := context.Background()
	for _, pushdown := range []bool{true, false} {
		conn, err := db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		mode := "pushdown on"
		if !pushdown {
			mode = "pushdown off"
			if _, err := conn.ExecContext(ctx, "SET arb_pushdown = 0"); err != nil {
				t.Fatal(err)
			}
		}
		for _, tc := range cases {
			t.Run(mode+"/"+tc.name, func(t *testing.T) {
				if got := queryRows(t, conn, tc.query); !reflect.DeepEqual(got, tc.want) {
					t.Errorf("%s\n got %q\nwant %q", tc.query, got, tc.want)
				}
			})
		}
		t.Run(mode+"/EXPLAIN", func(t *testing.T) { checkFunnelExplain(t, conn, funnel, pushdown) })
	}
}

// checkFunnelExplain checks that EXPLAIN of a query using the functions
// works and, in the tree formats, shows them inside a GroupBy: the
// planbuilder took them for aggregates.
func checkFunnelExplain(t *testing.T, conn *sql.Conn, funnel string, pushdown bool) {
	ctx := context.Background()
	q := `SELECT distinct_id, ` + funnel + ` AS level, retention(event = 'Signup', event = 'Login') FROM events GROUP BY distinct_id`
	// Plain EXPLAIN is MySQL's tabular format. go-mysql-server fills its
	// BIGINT UNSIGNED "rows" column with the text NULL, which this driver
	// cannot parse for any query (count(*) alike), so only check that the
	// server plans it.
	rows, err := conn.QueryContext(ctx, "EXPLAIN "+q)
	if err != nil {
		t.Fatalf("EXPLAIN %s: %v", q, err)
	}
	for rows.Next() {
	}
	if err := rows.Err(); err != nil && !strings.Contains(err.Error(), `parsing "NULL"`) {
		t.Errorf("EXPLAIN %s: %v", q, err)
	}
	rows.Close()
	for _, explain := range []string{"EXPLAIN PLAN", "EXPLAIN FORMAT=TREE"} {
		plan := strings.Join(queryRows(t, conn, explain+" "+q), "\n")
		// With pushdown on, the native path may replace the GroupBy with
		// its own node; it must still name both functions.
		wants := []string{"window_funnel(", "retention("}
		if !pushdown || !strings.Contains(plan, "arb engine") {
			wants = []string{"GroupBy", "window_funnel(604800, events.time, (events.event = 'Signup')", "retention((events.event = 'Signup')"}
		}
		for _, want := range wants {
			if !strings.Contains(plan, want) {
				t.Errorf("%s does not show %q:\n%s", explain, want, plan)
			}
		}
	}
}

// TestFunnelSQLErrors checks that misuse is a clear error naming the
// function and the argument, over the wire.
func TestFunnelSQLErrors(t *testing.T) {
	srv := startTestServer(t, t.TempDir())
	db := openDB(t, srv, "")
	mustExec(t, db, `INSERT INTO events (time, event, distinct_id) VALUES ('2025-01-01 00:00:00', 'Signup', 'u1')`)
	for _, tc := range []struct{ query, want string }{
		{`SELECT window_funnel(604800, time) FROM events`, "window_funnel"},
		{`SELECT window_funnel(-1, time, event = 'Signup') FROM events`, "argument 1 (window_seconds)"},
		{`SELECT window_funnel(distinct_id, time, event = 'Signup') FROM events`, "argument 1 (window_seconds)"},
		{`SELECT window_funnel(60, event, event = 'Signup') FROM events`, "argument 2 (time)"},
		{`SELECT retention() FROM events`, "retention"},
	} {
		rows, err := db.Query(tc.query)
		if err == nil {
			rows.Close()
			t.Errorf("%s: no error", tc.query)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %q does not mention %q", tc.query, err, tc.want)
		}
	}
}

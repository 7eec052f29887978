package server

// Tests of window functions over grouped rows (window_over_groups.go):
// answers and column names through the MySQL protocol against values
// worked out by hand, and statements the rewrite must leave alone.

import (
	"database/sql"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	ast "github.com/dolthub/vitess/go/vt/sqlparser"
)

// windowGroupEvents is the data of the tests; per plan and event:
//
//	          Signup  Purchase (amount)  View
//	pro       2       2 (30 + 20)        3
//	free      3       1 (10)             2
//
// per day (all events): 01-01 2, 01-02 3, 01-03 6, 01-04 2; signups per
// day: 01-01 2, 01-02 1, 01-03 2.
const windowGroupEvents = "INSERT INTO events (time, event, distinct_id, `plan`, amount) VALUES " +
	"('2025-01-01 10:00:00', 'Signup', 'u1', 'pro', NULL), " +
	"('2025-01-01 11:00:00', 'Signup', 'u2', 'free', NULL), " +
	"('2025-01-02 09:00:00', 'Signup', 'u3', 'pro', NULL), " +
	"('2025-01-03 09:00:00', 'Signup', 'u4', 'free', NULL), " +
	"('2025-01-03 10:00:00', 'Signup', 'u5', 'free', NULL), " +
	"('2025-01-02 12:00:00', 'Purchase', 'u1', 'pro', 30), " +
	"('2025-01-02 13:00:00', 'Purchase', 'u3', 'pro', 20), " +
	"('2025-01-03 12:00:00', 'Purchase', 'u2', 'free', 10), " +
	"('2025-01-03 13:00:00', 'View', 'u1', 'pro', NULL), " +
	"('2025-01-03 14:00:00', 'View', 'u2', 'free', NULL), " +
	"('2025-01-03 15:00:00', 'View', 'u4', 'free', NULL), " +
	"('2025-01-04 10:00:00', 'View', 'u1', 'pro', NULL), " +
	"('2025-01-04 11:00:00', 'View', 'u3', 'pro', NULL)"

type windowGroupCase struct {
	q    string
	args []any
	cols []string
	rows [][]string // in order; "NULL" for NULL; numbers compare within 1e-4
}

var windowGroupCases = []windowGroupCase{
	// The three analyst queries the rewrite exists for.
	{q: "SELECT `plan`, event, COUNT(*) AS n, RANK() OVER (PARTITION BY `plan` ORDER BY COUNT(*) DESC) AS rnk " +
		"FROM events WHERE event <> 'Signup' GROUP BY `plan`, event ORDER BY `plan`, rnk",
		cols: []string{"plan", "event", "n", "rnk"},
		rows: [][]string{{"free", "View", "2", "1"}, {"free", "Purchase", "1", "2"}, {"pro", "View", "3", "1"}, {"pro", "Purchase", "2", "2"}}},
	{q: "SELECT DATE(time) AS d, COUNT(*) AS signups, SUM(COUNT(*)) OVER (ORDER BY DATE(time)) AS running " +
		"FROM events WHERE event = 'Signup' GROUP BY DATE(time) ORDER BY d",
		cols: []string{"d", "signups", "running"},
		rows: [][]string{{"2025-01-01", "2", "2"}, {"2025-01-02", "1", "3"}, {"2025-01-03", "2", "5"}}},
	{q: "SELECT `plan`, SUM(amount) AS revenue, SUM(amount) / SUM(SUM(amount)) OVER () AS share FROM events GROUP BY `plan` ORDER BY `plan`",
		cols: []string{"plan", "revenue", "share"},
		rows: [][]string{{"free", "10", "0.166667"}, {"pro", "50", "0.833333"}}},

	// bench/queries/an_running_signups_by_plan.sql: a grouped expression
	// (the week's Monday) in PARTITION BY's neighbour ORDER BY.
	{q: "SELECT `plan`, DATE(time) - INTERVAL WEEKDAY(time) DAY AS week_start, COUNT(*) AS signups, " +
		"SUM(COUNT(*)) OVER (PARTITION BY `plan` ORDER BY DATE(time) - INTERVAL WEEKDAY(time) DAY) AS cumulative_signups " +
		"FROM events WHERE event = 'Signup' GROUP BY `plan`, DATE(time) - INTERVAL WEEKDAY(time) DAY ORDER BY `plan`, week_start",
		cols: []string{"plan", "week_start", "signups", "cumulative_signups"},
		rows: [][]string{{"free", "2024-12-30", "3", "3"}, {"pro", "2024-12-30", "2", "2"}}},

	// Ranking functions over counts: ties rank alike.
	{q: "SELECT `plan`, event, RANK() OVER (ORDER BY COUNT(*) DESC) AS r, DENSE_RANK() OVER (ORDER BY COUNT(*) DESC) AS dr " +
		"FROM events GROUP BY `plan`, event ORDER BY r, `plan`, event",
		cols: []string{"plan", "event", "r", "dr"},
		rows: [][]string{{"free", "Signup", "1", "1"}, {"pro", "View", "1", "1"}, {"free", "View", "3", "2"},
			{"pro", "Purchase", "3", "2"}, {"pro", "Signup", "3", "2"}, {"free", "Purchase", "6", "3"}}},
	{q: "SELECT `plan`, COUNT(DISTINCT distinct_id) AS users, ROW_NUMBER() OVER (ORDER BY `plan`) AS rn FROM events GROUP BY `plan` ORDER BY rn",
		cols: []string{"plan", "users", "rn"},
		rows: [][]string{{"free", "3", "1"}, {"pro", "2", "2"}}},
	// LAG with constant offset and default, LEAD past the end.
	{q: "SELECT DATE(time) AS d, COUNT(*) AS n, LAG(COUNT(*), 1, 0) OVER (ORDER BY DATE(time)) AS prev, " +
		"LEAD(COUNT(*)) OVER (ORDER BY DATE(time)) AS next FROM events GROUP BY DATE(time) ORDER BY d",
		cols: []string{"d", "n", "prev", "next"},
		rows: [][]string{{"2025-01-01", "2", "0", "3"}, {"2025-01-02", "3", "2", "6"}, {"2025-01-03", "6", "3", "2"}, {"2025-01-04", "2", "6", "NULL"}}},
	// AVG(COUNT(*)) OVER is not used: go-mysql-server's window AVG takes
	// its argument's type, so an average of integers comes back rounded
	// (with or without this rewrite); * 1.0 makes the argument DECIMAL.
	{q: "SELECT `plan`, event, COUNT(*) AS n, AVG(COUNT(*) * 1.0) OVER (PARTITION BY `plan`) AS avg_n, " +
		"SUM(COUNT(*)) OVER (PARTITION BY `plan`) AS plan_total FROM events GROUP BY `plan`, event ORDER BY `plan`, event",
		cols: []string{"plan", "event", "n", "avg_n", "plan_total"},
		rows: [][]string{{"free", "Purchase", "1", "2", "6"}, {"free", "Signup", "3", "2", "6"}, {"free", "View", "2", "2", "6"},
			{"pro", "Purchase", "2", "2.333333", "7"}, {"pro", "Signup", "2", "2.333333", "7"}, {"pro", "View", "3", "2.333333", "7"}}},
	{q: "SELECT `plan`, AVG(SUM(amount)) OVER () AS avg_revenue FROM events GROUP BY `plan` ORDER BY `plan`",
		cols: []string{"plan", "avg_revenue"},
		rows: [][]string{{"free", "30"}, {"pro", "30"}}},
	// A share in percent: the window-free part COUNT(*) * 100 moves whole.
	{q: "SELECT event, COUNT(*) * 100 / SUM(COUNT(*)) OVER () AS pct FROM events GROUP BY event ORDER BY event",
		cols: []string{"event", "pct"},
		rows: [][]string{{"Purchase", "23.076923"}, {"Signup", "38.461538"}, {"View", "38.461538"}}},

	// Other window functions, a frame, a named window, CUME_DIST (itself
	// a rewrite, window_cume_dist.go), a window inside an expression.
	{q: "SELECT `plan`, COUNT(*) AS n, NTILE(2) OVER (ORDER BY COUNT(*)) AS t, FIRST_VALUE(COUNT(*)) OVER (ORDER BY `plan`) AS fv, " +
		"PERCENT_RANK() OVER (ORDER BY COUNT(*)) AS pr FROM events GROUP BY `plan` ORDER BY `plan`",
		cols: []string{"plan", "n", "t", "fv", "pr"},
		rows: [][]string{{"free", "6", "1", "6", "0"}, {"pro", "7", "2", "6", "1"}}},
	{q: "SELECT DATE(time) AS d, SUM(COUNT(*)) OVER (ORDER BY DATE(time) ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) AS two_day " +
		"FROM events GROUP BY DATE(time) ORDER BY d",
		cols: []string{"d", "two_day"},
		rows: [][]string{{"2025-01-01", "2"}, {"2025-01-02", "5"}, {"2025-01-03", "9"}, {"2025-01-04", "8"}}},
	{q: "SELECT `plan`, COUNT(*) AS n, RANK() OVER w AS r FROM events GROUP BY `plan` WINDOW w AS (ORDER BY COUNT(*) DESC) ORDER BY r",
		cols: []string{"plan", "n", "r"},
		rows: [][]string{{"pro", "7", "1"}, {"free", "6", "2"}}},
	{q: "SELECT `plan`, CUME_DIST() OVER (ORDER BY COUNT(*)) FROM events GROUP BY `plan` ORDER BY `plan`",
		cols: []string{"plan", "CUME_DIST() OVER (ORDER BY COUNT(*))"},
		rows: [][]string{{"free", "0.5"}, {"pro", "1"}}},
	{q: "SELECT `plan`, event, `plan` = 'pro' AND RANK() OVER (PARTITION BY `plan` ORDER BY COUNT(*) DESC) = 1 AS top_pro " +
		"FROM events GROUP BY `plan`, event ORDER BY `plan`, event",
		cols: []string{"plan", "event", "top_pro"},
		rows: [][]string{{"free", "Purchase", "0"}, {"free", "Signup", "0"}, {"free", "View", "0"}, {"pro", "Purchase", "0"}, {"pro", "Signup", "0"}, {"pro", "View", "1"}}},
	// Correlated subqueries beside and inside the window; a join.
	{q: "SELECT `plan`, (SELECT COUNT(*) FROM events e2 WHERE e2.`plan` = events.`plan` AND e2.event = 'View') AS views, " +
		"RANK() OVER (ORDER BY COUNT(*)) AS r FROM events GROUP BY `plan` ORDER BY r",
		cols: []string{"plan", "views", "r"},
		rows: [][]string{{"free", "2", "1"}, {"pro", "3", "2"}}},
	{q: "SELECT event, RANK() OVER (ORDER BY (SELECT COUNT(*) FROM events e2 WHERE e2.event = events.event)) AS r FROM events GROUP BY event ORDER BY r, event",
		cols: []string{"event", "r"},
		rows: [][]string{{"Purchase", "1"}, {"Signup", "2"}, {"View", "2"}}},
	{q: "SELECT e.`plan`, COUNT(*) AS n, RANK() OVER (ORDER BY COUNT(*)) AS r FROM events e JOIN events f ON e.distinct_id = f.distinct_id GROUP BY e.`plan` ORDER BY r",
		cols: []string{"plan", "n", "r"},
		rows: [][]string{{"free", "14", "1"}, {"pro", "25", "2"}}},

	// HAVING by alias and by aggregate stays with the grouping.
	{q: "SELECT event, COUNT(*) AS n, RANK() OVER (ORDER BY COUNT(*) DESC, event) AS r FROM events GROUP BY event HAVING n >= 4 ORDER BY r",
		cols: []string{"event", "n", "r"},
		rows: [][]string{{"Signup", "5", "1"}, {"View", "5", "2"}}},
	{q: "SELECT `plan`, SUM(COUNT(*)) OVER () AS total FROM events GROUP BY `plan` HAVING SUM(amount) > 20",
		cols: []string{"plan", "total"},
		rows: [][]string{{"pro", "7"}}},
	// GROUP BY an alias of the select list.
	{q: "SELECT DATE(time) AS d, ROW_NUMBER() OVER (ORDER BY DATE(time) DESC) AS rn FROM events GROUP BY d ORDER BY rn",
		cols: []string{"d", "rn"},
		rows: [][]string{{"2025-01-04", "1"}, {"2025-01-03", "2"}, {"2025-01-02", "3"}, {"2025-01-01", "4"}}},
	// GROUP BY position keeps pointing at the same select expression.
	{q: "SELECT ROW_NUMBER() OVER (ORDER BY COUNT(*), `plan`) AS rn, `plan`, COUNT(*) FROM events GROUP BY 2 ORDER BY 1",
		cols: []string{"rn", "plan", "COUNT(*)"},
		rows: [][]string{{"1", "free", "6"}, {"2", "pro", "7"}}},

	// ORDER BY an expression, a window function, a position.
	{q: "SELECT event, RANK() OVER (ORDER BY COUNT(*)) AS r FROM events GROUP BY event ORDER BY COUNT(*) DESC, event",
		cols: []string{"event", "r"},
		rows: [][]string{{"Signup", "2"}, {"View", "2"}, {"Purchase", "1"}}},
	{q: "SELECT `plan`, COUNT(*) AS n FROM events GROUP BY `plan` ORDER BY ROW_NUMBER() OVER (ORDER BY COUNT(*) DESC)",
		cols: []string{"plan", "n"},
		rows: [][]string{{"pro", "7"}, {"free", "6"}}},
	{q: "SELECT event, COUNT(*) AS n, ROW_NUMBER() OVER (ORDER BY event) AS rn FROM events GROUP BY event ORDER BY 3 DESC",
		cols: []string{"event", "n", "rn"},
		rows: [][]string{{"View", "5", "3"}, {"Signup", "5", "2"}, {"Purchase", "3", "1"}}},
	// ORDER BY an alias inside an expression, next to an aggregate.
	{q: "SELECT event, COUNT(*) AS n, RANK() OVER (ORDER BY event) AS r FROM events GROUP BY event ORDER BY n + SUM(amount IS NULL), event",
		cols: []string{"event", "n", "r"},
		rows: [][]string{{"Purchase", "3", "1"}, {"Signup", "5", "2"}, {"View", "5", "3"}}},

	// LIMIT and OFFSET apply after the window.
	{q: "SELECT `plan`, event, RANK() OVER (ORDER BY COUNT(*) DESC) AS r FROM events GROUP BY `plan`, event ORDER BY r, `plan`, event LIMIT 2 OFFSET 1",
		cols: []string{"plan", "event", "r"},
		rows: [][]string{{"pro", "View", "1"}, {"free", "View", "3"}}},
	// DISTINCT applies after the window.
	{q: "SELECT DISTINCT `plan`, SUM(COUNT(*)) OVER (PARTITION BY `plan`) AS total FROM events GROUP BY `plan`, event ORDER BY `plan`",
		cols: []string{"plan", "total"},
		rows: [][]string{{"free", "6"}, {"pro", "7"}}},
	// An aggregate without GROUP BY is one group.
	{q: "SELECT COUNT(*) AS n, ROW_NUMBER() OVER () AS rn FROM events",
		cols: []string{"n", "rn"},
		rows: [][]string{{"13", "1"}}},

	// Nested: a grouped window query as a derived table, in a subquery,
	// in a CTE, over a CTE, in UNION branches.
	{q: "SELECT x.`plan`, x.event FROM (SELECT `plan`, event, RANK() OVER (PARTITION BY `plan` ORDER BY COUNT(*) DESC) AS rnk " +
		"FROM events GROUP BY `plan`, event) AS x WHERE x.rnk = 1 ORDER BY x.`plan`",
		cols: []string{"plan", "event"},
		rows: [][]string{{"free", "Signup"}, {"pro", "View"}}},
	{q: "SELECT COUNT(*) FROM events WHERE event = (SELECT event FROM events GROUP BY event ORDER BY ROW_NUMBER() OVER (ORDER BY COUNT(*), event) LIMIT 1)",
		cols: []string{"COUNT(*)"},
		rows: [][]string{{"3"}}},
	{q: "WITH daily AS (SELECT DATE(time) AS d, COUNT(*) AS n, SUM(COUNT(*)) OVER (ORDER BY DATE(time)) AS cum FROM events GROUP BY DATE(time)) " +
		"SELECT d, cum FROM daily WHERE n > 2 ORDER BY d",
		cols: []string{"d", "cum"},
		rows: [][]string{{"2025-01-02", "5"}, {"2025-01-03", "11"}}},
	{q: "WITH s AS (SELECT `plan` FROM events WHERE event = 'Signup') " +
		"SELECT `plan`, COUNT(*) AS n, RANK() OVER (ORDER BY COUNT(*) DESC) AS r FROM s GROUP BY `plan` ORDER BY r",
		cols: []string{"plan", "n", "r"},
		rows: [][]string{{"free", "3", "1"}, {"pro", "2", "2"}}},
	{q: "SELECT * FROM (SELECT `plan` AS k, COUNT(*) AS n, ROW_NUMBER() OVER (ORDER BY `plan`) AS rn FROM events GROUP BY `plan` " +
		"UNION ALL SELECT event, COUNT(*), ROW_NUMBER() OVER (ORDER BY event) FROM events GROUP BY event) AS u ORDER BY k",
		cols: []string{"k", "n", "rn"},
		rows: [][]string{{"Purchase", "3", "1"}, {"Signup", "5", "2"}, {"View", "5", "3"}, {"free", "6", "1"}, {"pro", "7", "2"}}},

	{q: "WITH c AS (SELECT event, COUNT(*) AS n, RANK() OVER (ORDER BY COUNT(*) DESC, event) AS r FROM events GROUP BY event) " +
		"SELECT event, r FROM c WHERE r = 1 UNION ALL SELECT event, r FROM c WHERE r = 3",
		cols: []string{"event", "r"},
		rows: [][]string{{"Signup", "1"}, {"Purchase", "3"}}},

	// WITH ROLLUP (rollup.go): the window runs over every row, the grand
	// total included.
	{q: "SELECT event, COUNT(*) AS n, RANK() OVER (ORDER BY COUNT(*)) AS r FROM events GROUP BY event WITH ROLLUP ORDER BY r, event",
		cols: []string{"event", "n", "r"},
		rows: [][]string{{"Purchase", "3", "1"}, {"Signup", "5", "2"}, {"View", "5", "2"}, {"NULL", "13", "4"}}},
	{q: "SELECT `plan`, GROUPING(`plan`) AS g, COUNT(*) / SUM(COUNT(*)) OVER (PARTITION BY GROUPING(`plan`)) AS share " +
		"FROM events GROUP BY `plan` WITH ROLLUP ORDER BY g, `plan`",
		cols: []string{"plan", "g", "share"},
		rows: [][]string{{"free", "0", "0.461538"}, {"pro", "0", "0.538462"}, {"NULL", "1", "1"}}},

	// Prepared with a placeholder in WHERE and one as LAG's default.
	{q: "SELECT `plan`, COUNT(*) AS n, RANK() OVER (ORDER BY COUNT(*) DESC) AS r, LAG(COUNT(*), 1, ?) OVER (ORDER BY `plan`) AS prev " +
		"FROM events WHERE event = ? GROUP BY `plan` ORDER BY r",
		args: []any{-1, "View"},
		cols: []string{"plan", "n", "r", "prev"},
		rows: [][]string{{"pro", "3", "1", "2"}, {"free", "2", "2", "-1"}}},

	{q: "SELECT event, COUNT(*) AS n, RANK() OVER (ORDER BY COUNT(*)) AS r FROM events WHERE time >= ? GROUP BY event HAVING COUNT(*) > ? ORDER BY r, event LIMIT ?",
		args: []any{"2025-01-02", 2, 2},
		cols: []string{"event", "n", "r"},
		rows: [][]string{{"Purchase", "3", "1"}, {"Signup", "3", "1"}}},
	// A correlated subquery that is itself a grouped window query.
	{q: "SELECT o.`plan`, (SELECT SUM(COUNT(*)) OVER () FROM events i WHERE i.`plan` = o.`plan` GROUP BY i.event LIMIT 1) AS x " +
		"FROM events o GROUP BY o.`plan` ORDER BY 1",
		cols: []string{"plan", "x"},
		rows: [][]string{{"free", "6"}, {"pro", "7"}}},

	// Column names as MySQL gives them, without aliases: a column as
	// written, an alias without AS, an expression's text.
	{q: "SELECT `PLAN`, COUNT(*) Total, SUM(COUNT(*)) OVER () FROM events GROUP BY `plan` ORDER BY 1",
		cols: []string{"PLAN", "Total", "SUM(COUNT(*)) OVER ()"},
		rows: [][]string{{"free", "6", "13"}, {"pro", "7", "13"}}},
	{q: "SELECT `plan`, events.event, COUNT(*), SUM(COUNT(*)) OVER (ORDER BY `plan`, event) FROM events GROUP BY `plan`, event ORDER BY `plan`, event LIMIT 2",
		cols: []string{"plan", "event", "COUNT(*)", "SUM(COUNT(*)) OVER (ORDER BY `plan`, event)"},
		rows: [][]string{{"free", "Purchase", "1", "1"}, {"free", "Signup", "3", "4"}}},

	// Untouched: window without grouping, grouping without window.
	{q: "SELECT distinct_id, ROW_NUMBER() OVER (PARTITION BY distinct_id ORDER BY time) AS rn FROM events WHERE event = 'View' ORDER BY distinct_id, rn",
		cols: []string{"distinct_id", "rn"},
		rows: [][]string{{"u1", "1"}, {"u1", "2"}, {"u2", "1"}, {"u3", "1"}, {"u4", "1"}}},
	{q: "SELECT `plan`, COUNT(*) FROM events GROUP BY `plan` ORDER BY `plan`",
		cols: []string{"plan", "COUNT(*)"},
		rows: [][]string{{"free", "6"}, {"pro", "7"}}},
}

// TestWindowOverGroups runs windowGroupCases over the MySQL protocol,
// with the native plan on and off.
func TestWindowOverGroups(t *testing.T) {
	srv := startTestServer(t, t.TempDir())
	db := openDB(t, srv, "")
	mustExec(t, db, windowGroupEvents)
	for _, pushdown := range []string{"1", "0"} {
		conn := windowGroupConn(t, db, pushdown)
		for _, c := range windowGroupCases {
			cols, rows, err := windowGroupQuery(conn, c.q, c.args...)
			if err != nil {
				t.Errorf("pushdown %s: %s: %v", pushdown, c.q, err)
				continue
			}
			if !reflect.DeepEqual(cols, c.cols) {
				t.Errorf("pushdown %s: %s: columns %q, want %q", pushdown, c.q, cols, c.cols)
			}
			if !windowGroupRowsEqual(rows, c.rows) {
				t.Errorf("pushdown %s: %s:\n got %q\nwant %q", pushdown, c.q, rows, c.rows)
			}
		}
	}
}

// TestWindowOverGroupsExplain: EXPLAIN, plain and as a tree, explains
// the rewritten statement (vitess's walk does not enter EXPLAIN).
func TestWindowOverGroupsExplain(t *testing.T) {
	srv := startTestServer(t, t.TempDir())
	db := openDB(t, srv, "")
	mustExec(t, db, windowGroupEvents)
	for _, q := range []string{
		"EXPLAIN SELECT `plan`, SUM(amount) / SUM(SUM(amount)) OVER () AS share FROM events GROUP BY `plan`",
		"EXPLAIN FORMAT=TREE SELECT `plan`, SUM(amount) / SUM(SUM(amount)) OVER () AS share FROM events GROUP BY `plan`",
	} {
		_, rows, err := windowGroupQuery(db, q)
		if err != nil || len(rows) == 0 {
			t.Errorf("%s: %d rows, %v", q, len(rows), err)
		}
	}
}

// TestWindowOverGroupsSelectLimit: SQL_SELECT_LIMIT caps the result, not
// the grouped derived table the windows read (the totals count every
// group).
func TestWindowOverGroupsSelectLimit(t *testing.T) {
	srv := startTestServer(t, t.TempDir())
	db := openDB(t, srv, "")
	db.SetMaxOpenConns(1) // the session variable holds on one connection
	mustExec(t, db, windowGroupEvents)
	mustExec(t, db, "SET SQL_SELECT_LIMIT = 2")
	q := "SELECT `plan`, event, SUM(COUNT(*)) OVER (PARTITION BY `plan`) AS t FROM events GROUP BY `plan`, event ORDER BY `plan`, event"
	_, rows, err := windowGroupQuery(db, q)
	want := [][]string{{"free", "Purchase", "6"}, {"free", "Signup", "6"}}
	if err != nil || !windowGroupRowsEqual(rows, want) {
		t.Errorf("%s: %q %v, want %q", q, rows, err, want)
	}
}

// TestWindowOverGroupsErrors: what MySQL refuses is still refused, with
// MySQL's code: a column neither grouped nor aggregated (inside the
// window's argument, its PARTITION BY, or beside it).
func TestWindowOverGroupsErrors(t *testing.T) {
	srv := startTestServer(t, t.TempDir())
	db := openDB(t, srv, "")
	mustExec(t, db, windowGroupEvents)
	for _, q := range []string{
		"SELECT distinct_id, event, RANK() OVER (ORDER BY COUNT(*)) FROM events GROUP BY event",
		"SELECT event, RANK() OVER (PARTITION BY distinct_id ORDER BY COUNT(*)) FROM events GROUP BY event",
		"SELECT event, SUM(amount) OVER () FROM events GROUP BY event",
	} {
		rows, err := db.Query(q)
		if err == nil {
			rows.Close()
		}
		var me *mysql.MySQLError
		if !errors.As(err, &me) || me.Number != 1055 {
			t.Errorf("%s: %v, want error 1055", q, err)
		}
	}
}

// TestWindowOverGroupsRewrite pins the rewrite's shape on one statement
// and that statements it does not concern come out as they went in, the
// same nodes unchanged.
func TestWindowOverGroupsRewrite(t *testing.T) {
	stmt, err := ast.Parse("SELECT `plan`, SUM(amount) / SUM(SUM(amount)) OVER () AS share FROM events WHERE x > 1 GROUP BY `plan` HAVING COUNT(*) > 1 ORDER BY share DESC LIMIT 3")
	if err != nil {
		t.Fatal(err)
	}
	got := ast.String(withWindowOverGroups(stmt))
	want := "select _arb_g._arb_s0 as `plan`, _arb_g._arb_a0 / SUM(_arb_g._arb_a0) over () as `share` " +
		"from (select `plan` as _arb_s0, SUM(amount) as _arb_a0 from `events` where x > 1 group by `plan` having COUNT(*) > 1) as _arb_g " +
		"order by `share` desc limit 3"
	if got != want {
		t.Errorf("rewrite:\n got %s\nwant %s", got, want)
	}

	// The window reads the column and the count the select list computes.
	stmt, err = ast.Parse("SELECT `plan`, COUNT(*) AS n, RANK() OVER (PARTITION BY `plan` ORDER BY COUNT(*) DESC) AS r FROM events GROUP BY `plan`")
	if err != nil {
		t.Fatal(err)
	}
	got = ast.String(withWindowOverGroups(stmt))
	want = "select _arb_g._arb_s0 as `plan`, _arb_g.n as n, RANK() over (partition by _arb_g._arb_s0 order by _arb_g.n desc) as r " +
		"from (select `plan` as _arb_s0, COUNT(*) as n from `events` group by `plan`) as _arb_g"
	if got != want {
		t.Errorf("rewrite:\n got %s\nwant %s", got, want)
	}

	for _, q := range []string{
		"SELECT `plan`, COUNT(*) FROM events GROUP BY `plan` ORDER BY COUNT(*) DESC",
		"SELECT distinct_id, ROW_NUMBER() OVER (PARTITION BY distinct_id ORDER BY time) FROM events",
		"SELECT SUM(amount) OVER (ORDER BY time) FROM events WHERE event IN (SELECT event FROM events GROUP BY event)",
		"SELECT x.n, RANK() OVER (ORDER BY x.n) FROM (SELECT event, COUNT(*) AS n FROM events GROUP BY event) AS x",
		"SELECT (SELECT COUNT(*) FROM events), ROW_NUMBER() OVER () FROM events",
		"INSERT INTO t SELECT a, b FROM u",
		"INSERT INTO t (a, b) VALUES (1, 'x'), (2, 'y')",
	} {
		stmt, err := ast.Parse(q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		before := ast.String(stmt)
		sel, _ := stmt.(*ast.Select)
		var shallow ast.Select
		if sel != nil {
			shallow = *sel
		}
		after := withWindowOverGroups(stmt)
		if after != stmt || ast.String(after) != before {
			t.Errorf("%s: rewritten to %s", q, ast.String(after))
		}
		if sel != nil && !reflect.DeepEqual(shallow, *sel) {
			t.Errorf("%s: select changed", q)
		}
	}

	// Statements that hold the SELECT where vitess's walk does not look.
	for _, q := range []string{
		"EXPLAIN SELECT a, RANK() OVER (ORDER BY COUNT(*)) FROM t GROUP BY a",
		"WITH c AS (SELECT a, RANK() OVER (ORDER BY COUNT(*)) AS r FROM t GROUP BY a) SELECT * FROM c UNION SELECT * FROM c",
		"INSERT INTO u SELECT a, RANK() OVER (ORDER BY COUNT(*)) FROM t GROUP BY a",
	} {
		stmt, err := ast.Parse(q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		if got := ast.String(withWindowOverGroups(stmt)); !strings.Contains(got, "as _arb_g") {
			t.Errorf("%s: not rewritten: %s", q, got)
		}
	}

	// A form the rewrite does not take (a * in the select list) is left
	// to go-mysql-server as it was.
	q := "SELECT *, RANK() OVER (ORDER BY COUNT(*)) FROM events GROUP BY event"
	stmt, err = ast.Parse(q)
	if err != nil {
		t.Fatal(err)
	}
	before := ast.String(stmt)
	if after := ast.String(withWindowOverGroups(stmt)); after != before {
		t.Errorf("%s: rewritten to %s", q, after)
	}
}

// windowGroupConn is a connection of db with arb_pushdown set.
func windowGroupConn(t *testing.T, db *sql.DB, pushdown string) *sql.DB {
	t.Helper()
	// One connection, so the session variable holds for every query.
	db.SetMaxOpenConns(1)
	mustExec(t, db, "SET arb_pushdown = "+pushdown)
	return db
}

// windowGroupQuery runs q (prepared when it has args) and renders each
// value as text: NULL, a DATE as 2006-01-02, numbers as the driver
// sends them.
func windowGroupQuery(db *sql.DB, q string, args ...any) ([]string, [][]string, error) {
	var rows *sql.Rows
	var err error
	if len(args) > 0 {
		stmt, perr := db.Prepare(q)
		if perr != nil {
			return nil, nil, perr
		}
		defer stmt.Close()
		rows, err = stmt.Query(args...)
	} else {
		rows, err = db.Query(q)
	}
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, nil, err
	}
	var out [][]string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, nil, err
		}
		row := make([]string, len(cols))
		for i, v := range vals {
			switch x := v.(type) {
			case nil:
				row[i] = "NULL"
			case []byte:
				row[i] = string(x)
			case time.Time:
				row[i] = x.Format("2006-01-02")
				if x.Hour() != 0 || x.Minute() != 0 || x.Second() != 0 {
					row[i] = x.Format(time.DateTime)
				}
			default:
				row[i] = fmt.Sprint(x)
			}
		}
		out = append(out, row)
	}
	return cols, out, rows.Err()
}

// windowGroupRowsEqual compares rows cell by cell; cells that both parse
// as numbers are equal within 1e-4 (AVG, a quotient and SUM's DECIMAL
// print their own digits).
func windowGroupRowsEqual(got, want [][]string) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if len(got[i]) != len(want[i]) {
			return false
		}
		for j := range got[i] {
			g, w := got[i][j], want[i][j]
			if g == w {
				continue
			}
			gf, gerr := strconv.ParseFloat(strings.TrimSpace(g), 64)
			wf, werr := strconv.ParseFloat(w, 64)
			if gerr != nil || werr != nil || math.Abs(gf-wf) > 1e-4 {
				return false
			}
		}
	}
	return true
}

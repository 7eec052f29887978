package planner

import (
	"context"
	"fmt"
	"strings"
	"testing"

	sqle "github.com/dolthub/go-mysql-server"
	"github.com/dolthub/go-mysql-server/memory"
	"github.com/dolthub/go-mysql-server/sql"
)

// memoryEngine is go-mysql-server over its own in-memory tables with
// arb's functions registered: it exercises the planbuilder, the analyzer
// and the row-at-a-time GroupBy without arb's storage or rules, so a
// failure here is about the functions themselves.
type memoryEngine struct {
	engine *sqle.Engine
	ctx    *sql.Context
}

func newMemoryEngine(t *testing.T) *memoryEngine {
	t.Helper()
	db := memory.NewDatabase("db")
	pro := memory.NewDBProvider(db)
	e := sqle.NewDefault(pro)
	ctx := sql.NewContext(context.Background(), sql.WithSession(memory.NewSession(sql.NewBaseSession(), pro)))
	ctx.SetCurrentDatabase("db")
	e.Analyzer.Catalog.RegisterFunction(ctx, Functions()...)
	m := &memoryEngine{engine: e, ctx: ctx}
	m.query(t, "CREATE TABLE events (time DATETIME(3), event VARCHAR(64), distinct_id VARCHAR(64), n INT)")
	return m
}

// query runs q and renders each row as "v1|v2|…".
func (m *memoryEngine) query(t *testing.T, q string) []string {
	t.Helper()
	rows, err := m.run(q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return rows
}

func (m *memoryEngine) run(q string) ([]string, error) {
	_, iter, _, err := m.engine.Query(m.ctx, q)
	if err != nil {
		return nil, err
	}
	rows, err := sql.RowIterToRows(m.ctx, iter)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(rows))
	for i, r := range rows {
		parts := make([]string, len(r))
		for j, v := range r {
			parts[j] = fmt.Sprint(v)
		}
		out[i] = strings.Join(parts, "|")
	}
	return out, nil
}

// funnelFixture: u1 completes Signup → View → Purchase with the purchase
// exactly 7 days after the signup; u2's purchase is 1 ms too late; u3
// views before signing up (out of order) and never purchases; u4 has a
// NULL time on its view; u5 only views. Rows are inserted out of time
// order on purpose.
const funnelFixture = `INSERT INTO events (time, event, distinct_id, n) VALUES
	('2025-01-08 00:00:00.000', 'Purchase',  'u1', 1),
	('2025-01-01 00:00:00.000', 'Signup',    'u1', 2),
	('2025-01-03 12:00:00.000', 'Page View', 'u1', NULL),
	('2025-01-01 00:00:00.000', 'Signup',    'u2', 4),
	('2025-01-02 00:00:00.000', 'Page View', 'u2', 5),
	('2025-01-08 00:00:00.001', 'Purchase',  'u2', 6),
	('2025-01-01 00:00:00.000', 'Page View', 'u3', 7),
	('2025-01-02 00:00:00.000', 'Signup',    'u3', 8),
	('2025-01-02 00:00:00.000', 'Signup',    'u4', 9),
	(NULL,                      'Page View', 'u4', 10),
	('2025-01-03 00:00:00.000', 'Purchase',  'u4', 11),
	('2025-01-05 00:00:00.000', 'Page View', 'u5', 12)`

const funnel3 = `window_funnel(604800, time, event = 'Signup', event = 'Page View', event = 'Purchase')`

func TestFunctionsThroughGoMySQLServer(t *testing.T) {
	m := newMemoryEngine(t)
	m.query(t, funnelFixture)
	for _, tc := range []struct {
		name, query string
		want        []string
	}{
		{"window_funnel grouped", `SELECT distinct_id, ` + funnel3 + ` AS level FROM events GROUP BY distinct_id ORDER BY distinct_id`,
			[]string{"u1|3", "u2|2", "u3|1", "u4|1", "u5|0"}},
		{"alias windowFunnel, any case", `SELECT distinct_id, windowFunnel(604800, time, event = 'Signup', event = 'Page View') FROM events GROUP BY distinct_id ORDER BY distinct_id`,
			[]string{"u1|2", "u2|2", "u3|1", "u4|1", "u5|0"}},
		{"upper case", `SELECT WINDOW_FUNNEL(604800, time, event = 'Signup') FROM events WHERE distinct_id = 'u5'`,
			[]string{"0"}},
		{"window_funnel without GROUP BY", `SELECT ` + funnel3 + ` FROM events`, []string{"3"}},
		{"window_funnel over no rows", `SELECT ` + funnel3 + ` FROM events WHERE distinct_id = 'nobody'`, []string{"0"}},
		{"window one ms shorter drops u1's purchase", `SELECT window_funnel(604799, time, event = 'Signup', event = 'Page View', event = 'Purchase') FROM events WHERE distinct_id = 'u1'`,
			[]string{"2"}},
		{"window as a constant expression", `SELECT window_funnel(7 * 86400, time, event = 'Signup', event = 'Page View', event = 'Purchase') FROM events WHERE distinct_id = 'u1'`,
			[]string{"3"}},
		{"two windows are two aggregates", `SELECT window_funnel(1, time, event = 'Signup', event = 'Page View'), window_funnel(604800, time, event = 'Signup', event = 'Page View') FROM events WHERE distinct_id = 'u1'`,
			[]string{"1|2"}},
		{"NULL condition is not met", `SELECT window_funnel(604800, time, event = 'Signup', event = 'Page View' AND n < 100) FROM events WHERE distinct_id = 'u1'`,
			// u1's view has n NULL, so its cond2 is NULL.
			[]string{"1"}},
		{"Q7 shape", `SELECT level, count(*) FROM (SELECT distinct_id, ` + funnel3 + ` AS level FROM events GROUP BY distinct_id) f GROUP BY level ORDER BY level`,
			[]string{"0|1", "1|2", "2|1", "3|1"}},
		{"HAVING on the aggregate", `SELECT distinct_id FROM events GROUP BY distinct_id HAVING ` + funnel3 + ` >= 2 ORDER BY distinct_id`,
			[]string{"u1", "u2"}},
		{"in a scalar subquery", `SELECT (SELECT ` + funnel3 + ` FROM events WHERE distinct_id = 'u2')`,
			[]string{"2"}},
		{"retention grouped", `SELECT distinct_id, retention(event = 'Signup', event = 'Page View', event = 'Purchase') FROM events GROUP BY distinct_id ORDER BY distinct_id`,
			[]string{"u1|[1, 1, 1]", "u2|[1, 1, 1]", "u3|[1, 1, 0]", "u4|[1, 1, 1]", "u5|[0, 0, 0]"}},
		{"retention day conditions", `SELECT distinct_id, retention(event = 'Signup' AND DATE(time) = '2025-01-01', DATE(time) = '2025-01-02', DATE(time) = '2025-01-03') FROM events GROUP BY distinct_id ORDER BY distinct_id`,
			[]string{"u1|[1, 0, 1]", "u2|[1, 1, 0]", "u3|[0, 0, 0]", "u4|[0, 0, 0]", "u5|[0, 0, 0]"}},
		{"retention without GROUP BY", `SELECT retention(event = 'Signup', event = 'Nope', event = 'Purchase') FROM events`,
			[]string{"[1, 0, 1]"}},
		{"retention over no rows", `SELECT retention(event = 'Signup', event = 'Purchase') FROM events WHERE distinct_id = 'nobody'`,
			[]string{"[0, 0]"}},
		{"retention NULL condition is not met", `SELECT retention(event = 'Signup', n IS NULL AND n > 0) FROM events`,
			[]string{"[1, 0]"}},
		{"retention JSON is usable", `SELECT JSON_EXTRACT(retention(event = 'Signup', event = 'Purchase'), '$[1]') FROM events WHERE distinct_id = 'u3'`,
			[]string{"0"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := m.query(t, tc.query)
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("%s\n got %q\nwant %q", tc.query, got, tc.want)
			}
		})
	}
}

func TestFunctionsExplain(t *testing.T) {
	m := newMemoryEngine(t)
	// Plain EXPLAIN is MySQL's tabular format, which names no expression:
	// it only has to work.
	m.query(t, `EXPLAIN SELECT distinct_id, `+funnel3+` AS level FROM events GROUP BY distinct_id`)
	for _, tc := range []struct{ query, want string }{
		{`EXPLAIN FORMAT=TREE SELECT distinct_id, ` + funnel3 + ` AS level FROM events GROUP BY distinct_id`,
			"window_funnel(604800, events.time, (events.event = 'Signup'), "},
		{`EXPLAIN FORMAT=TREE SELECT retention(event = 'Signup', event = 'Login') FROM events`,
			"retention((events.event = 'Signup'), (events.event = 'Login'))"},
		{`EXPLAIN FORMAT=TREE SELECT level, count(*) FROM (SELECT distinct_id, ` + funnel3 + ` AS level FROM events GROUP BY distinct_id) f GROUP BY level`,
			"window_funnel(604800, "},
	} {
		plan := strings.Join(m.query(t, tc.query), "\n")
		// A GroupBy whose select list holds the call: the planbuilder
		// took the function for an aggregate.
		if !strings.Contains(plan, "GroupBy") || !strings.Contains(plan, tc.want) {
			t.Errorf("%s: want a GroupBy over %s…, got\n%s", tc.query, tc.want, plan)
		}
	}
}

func TestFunctionsErrors(t *testing.T) {
	m := newMemoryEngine(t)
	m.query(t, funnelFixture)
	many := strings.Repeat(", event = 'x'", 33)
	for _, tc := range []struct {
		name, query string
		want        []string // substrings of the error
	}{
		{"window_funnel too few arguments", `SELECT window_funnel(60, time) FROM events`,
			[]string{"window_funnel", "2 received"}},
		{"window_funnel too many conditions", `SELECT window_funnel(60, time` + many + `) FROM events`,
			[]string{"window_funnel", "35 received"}},
		{"window from a column", `SELECT window_funnel(n, time, event = 'Signup') FROM events`,
			[]string{"window_funnel", "argument 1 (window_seconds)", "constant"}},
		{"negative window", `SELECT window_funnel(-1, time, event = 'Signup') FROM events`,
			[]string{"window_funnel", "argument 1 (window_seconds)", "non-negative", "-1"}},
		{"fractional window", `SELECT window_funnel(1.5, time, event = 'Signup') FROM events`,
			[]string{"window_funnel", "argument 1 (window_seconds)", "not an integer"}},
		{"NULL window", `SELECT window_funnel(NULL, time, event = 'Signup') FROM events`,
			[]string{"window_funnel", "argument 1 (window_seconds)", "NULL"}},
		{"time not a time", `SELECT window_funnel(60, n, event = 'Signup') FROM events`,
			[]string{"window_funnel", "argument 2 (time)", "DATETIME"}},
		{"retention without conditions", `SELECT retention() FROM events`,
			[]string{"retention", "0 received"}},
		{"retention too many conditions", `SELECT retention(event = 'x'` + many + `) FROM events`,
			[]string{"retention", "34 received"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := m.run(tc.query)
			if err == nil {
				t.Fatalf("%s: no error", tc.query)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%s: error %q does not mention %q", tc.query, err, w)
				}
			}
		})
	}
}

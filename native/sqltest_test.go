package native_test

// A differential harness for the native plan: go-mysql-server's in-memory
// tables, arb's analyzer rules, and each query run twice, with arb's
// rules (arb_pushdown = 1) and without (0). The in-memory tables are not
// arb's events table, so their scans stay go-mysql-server's; every
// operator above them is native, which is what these tests check.

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	sqle "github.com/dolthub/go-mysql-server"
	"github.com/dolthub/go-mysql-server/memory"
	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/analyzer"

	"arb/planner"
)

type sqlHarness struct {
	engine *sqle.Engine
	pro    *memory.DbProvider
}

var (
	harnessOnce sync.Once
	harness     *sqlHarness
)

// testDB is the shared in-memory database "db": tables ev (events),
// people (tier is arb's plan) and small (a few rows, for joins whose other side is tiny),
// filled from a fixed seed.
func testDB(t testing.TB) *sqlHarness {
	t.Helper()
	harnessOnce.Do(func() {
		db := memory.NewDatabase("db")
		pro := memory.NewDBProvider(db)
		planner.PatchAnalyzerDefaults()
		b := analyzer.NewBuilder(pro)
		b = planner.Register(b)
		h := &sqlHarness{engine: sqle.New(b.Build(), &sqle.Config{}), pro: pro}
		for _, q := range seedStatements() {
			if _, err := h.exec(1, q); err != nil {
				panic(fmt.Sprintf("seed %.80s: %v", q, err))
			}
		}
		harness = h
	})
	return harness
}

func seedStatements() []string {
	rng := rand.New(rand.NewPCG(1, 2))
	events := []string{"Signup", "Login", "Page View", "Purchase", "Search", "Share"}
	tiers := []string{"free", "pro", "team", "Pro"}
	cities := []string{"Paris", "Berlin", "paris", "Tokyo", ""}
	stmts := []string{
		"CREATE TABLE ev (time DATETIME(6), event TEXT, distinct_id VARCHAR(64), amount DOUBLE, n BIGINT, tier TEXT, city TEXT, flag BOOLEAN)",
		"CREATE TABLE people (distinct_id VARCHAR(64), tier TEXT, company TEXT, age INT)",
		"CREATE TABLE small (k BIGINT, label TEXT)",
		"INSERT INTO small VALUES (1, 'one'), (2, 'two'), (2, 'deux'), (NULL, 'none'), (5, NULL)",
	}
	base := time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)
	null := func(p float64, s string) string {
		if rng.Float64() < p {
			return "NULL"
		}
		return s
	}
	var rows []string
	for i := range 3000 {
		ts := base.Add(time.Duration(rng.IntN(30*24*3600)) * time.Second).Add(time.Duration(rng.IntN(1000)) * time.Millisecond)
		rows = append(rows, fmt.Sprintf("('%s', %s, 'u%d', %s, %s, %s, %s, %s)",
			ts.Format("2006-01-02 15:04:05.000000"),
			null(0.02, "'"+events[rng.IntN(len(events))]+"'"),
			rng.IntN(200),
			null(0.3, fmt.Sprintf("%.2f", rng.Float64()*100)),
			null(0.1, fmt.Sprint(rng.IntN(20)-5)),
			null(0.2, "'"+tiers[rng.IntN(len(tiers))]+"'"),
			null(0.1, "'"+cities[rng.IntN(len(cities))]+"'"),
			null(0.1, fmt.Sprint(rng.IntN(2) == 1))))
		if len(rows) == 500 || i == 2999 {
			stmts = append(stmts, "INSERT INTO ev VALUES "+strings.Join(rows, ","))
			rows = nil
		}
	}
	for u := range 150 {
		rows = append(rows, fmt.Sprintf("('u%d', %s, %s, %s)", u,
			null(0.2, "'"+tiers[rng.IntN(len(tiers))]+"'"),
			null(0.2, fmt.Sprintf("'c%d'", rng.IntN(10))),
			null(0.1, fmt.Sprint(18+rng.IntN(50)))))
	}
	stmts = append(stmts, "INSERT INTO people VALUES "+strings.Join(rows, ","))
	// agg_kinds: a case-insensitive string, DATE, FLOAT, unsigned and
	// DECIMAL columns, for GROUP BY and aggregates over other types.
	stmts = append(stmts,
		"CREATE TABLE agg_kinds (s VARCHAR(20) COLLATE utf8mb4_0900_ai_ci, d DATE, f FLOAT, u BIGINT UNSIGNED, m DECIMAL(10,2), i INT)",
		"INSERT INTO agg_kinds VALUES ('Paris', '2024-06-01', 1.5, 1, 1.25, 1), ('paris', '2024-06-01', -0.0, 18446744073709551615, 2.50, 2), "+
			"('PARIS', '2024-06-02', 0.0, 3, NULL, 3), ('Berlin', NULL, NULL, NULL, 3.75, NULL), (NULL, '2024-06-03', 2.25, 3, 0.01, 4), "+
			"('berlin', '2024-06-02', 1.5, 18446744073709551615, -1.00, 5), (NULL, NULL, NULL, NULL, NULL, NULL), ('Ölfeld', '2024-06-03', 3, 7, 10.10, 6), ('olfeld', '2024-06-01', 3, 7, 10.1, 7)")
	// binstr: strings of utf8mb4_bin, arb's events table's collation
	// (code point order), with case, accents, a supplementary character
	// and a private-use one (its weight is the code point less 2048).
	stmts = append(stmts,
		"CREATE TABLE binstr (s VARCHAR(20) COLLATE utf8mb4_bin, n INT)",
		"INSERT INTO binstr VALUES ('a', 1), ('B', 2), ('é', 3), ('Z', 4), ('ß', 5), ('à', 6), ('😀', 7), ('\uE000', 8), ('', 9), (NULL, 10), ('a', 11), ('ab', 12), ('A', 13)")
	return stmts
}

// exec runs q with arb_pushdown set to pushdown and returns its rows as
// text, one string per row.
func (h *sqlHarness) exec(pushdown int, q string) ([]string, error) {
	ctx := sql.NewContext(context.Background(), sql.WithSession(memory.NewSession(sql.NewBaseSession(), h.pro)))
	ctx.SetCurrentDatabase("db")
	if err := ctx.SetSessionVariable(ctx, planner.PushdownVariable, int8(pushdown)); err != nil {
		return nil, err
	}
	_, it, _, err := h.engine.Query(ctx, q)
	if err != nil {
		return nil, err
	}
	defer it.Close(ctx)
	var out []string
	for {
		row, err := it.Next(ctx)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		parts := make([]string, len(row))
		for i, v := range row {
			parts[i] = formatValue(v)
		}
		out = append(out, strings.Join(parts, " | "))
	}
}

// formatValue prints v as a client would see it, floats rounded so that
// summation order does not count as a difference.
func formatValue(v any) string {
	switch x := v.(type) {
	case nil:
		return "NULL"
	case float64:
		return fmt.Sprintf("%.9g", x)
	case float32:
		return fmt.Sprintf("%.6g", x)
	case time.Time:
		return x.UTC().Format("2006-01-02 15:04:05.999999")
	case []byte:
		return string(x)
	case bool:
		if x {
			return "1"
		}
		return "0"
	case int8, int16, int32, int64, uint8, uint16, uint32, uint64, int:
		return fmt.Sprint(x)
	}
	if s, ok := v.(fmt.Stringer); ok {
		return s.String()
	}
	return fmt.Sprint(v)
}

// explain is EXPLAIN FORMAT=TREE of q with arb's rules on.
func (h *sqlHarness) explain(q string) (string, error) {
	rows, err := h.exec(1, "EXPLAIN FORMAT=TREE "+q)
	return strings.Join(rows, "\n"), err
}

// checkSame runs q with and without arb's rules and fails unless both
// give the same rows (in the same order when ordered) or the same error
// class. It returns the native plan's EXPLAIN.
func checkSame(t *testing.T, q string, ordered bool) string {
	t.Helper()
	h := testDB(t)
	want, werr := h.exec(0, q)
	got, gerr := h.exec(1, q)
	if (werr != nil) != (gerr != nil) {
		t.Fatalf("%s\nwithout arb: err %v\nwith arb: err %v", q, werr, gerr)
	}
	if werr != nil {
		return ""
	}
	if !ordered {
		slices.Sort(want)
		slices.Sort(got)
	}
	if !slices.Equal(want, got) {
		t.Fatalf("%s\nwithout arb (%d rows):\n%s\nwith arb (%d rows):\n%s", q, len(want), head(want), len(got), head(got))
	}
	plan, err := h.explain(q)
	if err != nil {
		t.Fatalf("EXPLAIN %s: %v", q, err)
	}
	return plan
}

func head(rows []string) string {
	if len(rows) > 30 {
		rows = append(rows[:30:30], fmt.Sprintf("… %d more", len(rows)-30))
	}
	return strings.Join(rows, "\n")
}

// requireNative fails unless plan shows a native operator whose line
// contains each of ops (e.g. "HashJoin").
func requireNative(t *testing.T, plan string, ops ...string) {
	t.Helper()
	for _, op := range ops {
		found := false
		for _, line := range strings.Split(plan, "\n") {
			if strings.Contains(line, "arb ") && strings.Contains(line, op) {
				found = true
			}
		}
		if !found {
			t.Fatalf("no native %s in plan:\n%s", op, plan)
		}
	}
}

func TestHarnessFilterProjectLimit(t *testing.T) {
	for _, q := range []string{
		"SELECT event, distinct_id, amount FROM ev WHERE amount > 50 AND event <> 'Login'",
		"SELECT distinct_id, n * 2, CONCAT(event, '!') FROM ev WHERE time >= '2024-06-10' AND time < '2024-06-12 12:00:00'",
		"SELECT * FROM ev WHERE tier IS NULL OR flag",
		"SELECT event FROM ev LIMIT 7",
		"SELECT event FROM ev LIMIT 5 OFFSET 4098",
	} {
		plan := checkSame(t, q, true)
		if strings.Contains(q, "WHERE") {
			requireNative(t, plan, "Filter")
		}
	}
}

package native_test

// Differential tests of the Sort and TopN operators (sort.go): every
// query runs with and without arb's rules and must give the same rows in
// the same order. Queries whose ORDER BY leaves ties are compared in
// order too: both sides must keep input order among equal keys.

import (
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/expression"
	"github.com/dolthub/go-mysql-server/sql/expression/function/aggregation/window"
	"github.com/dolthub/go-mysql-server/sql/plan"
	"github.com/dolthub/go-mysql-server/sql/types"

	"arb/engine"
	"arb/native"
)

func TestSortOrderBy(t *testing.T) {
	for _, q := range []string{
		// single keys of each type, both directions, NULLs included
		"SELECT n, distinct_id FROM ev ORDER BY n",
		"SELECT n, distinct_id FROM ev ORDER BY n DESC",
		"SELECT amount, event FROM ev ORDER BY amount",
		"SELECT amount, event FROM ev ORDER BY amount DESC",
		"SELECT time, event FROM ev ORDER BY time",
		"SELECT time, event FROM ev ORDER BY time DESC",
		"SELECT tier, city, event FROM ev ORDER BY tier",
		"SELECT tier, city, event FROM ev ORDER BY city DESC",
		"SELECT flag, n FROM ev ORDER BY flag",
		// several keys, mixed directions
		"SELECT tier, n, amount, time FROM ev ORDER BY tier, n DESC, amount",
		"SELECT event, city, time FROM ev ORDER BY event DESC, city, time DESC",
		// expressions as keys
		"SELECT n, amount FROM ev ORDER BY n * amount DESC, time",
		"SELECT distinct_id, event FROM ev ORDER BY CONCAT(event, distinct_id)",
		"SELECT distinct_id, time FROM ev ORDER BY LOWER(city), time",
		"SELECT event, time FROM ev ORDER BY DATE(time) DESC, event",
		// ties: a key with few values keeps the input order within a value
		"SELECT event, distinct_id, time FROM ev ORDER BY event",
		"SELECT tier, distinct_id FROM ev ORDER BY tier DESC",
		"SELECT flag, time FROM ev ORDER BY flag DESC",
		// other tables
		"SELECT * FROM people ORDER BY age DESC, distinct_id",
		"SELECT * FROM small ORDER BY k",
		"SELECT * FROM small ORDER BY label DESC",
		// empty input
		"SELECT * FROM ev WHERE n > 1000 ORDER BY time",
	} {
		plan := checkSame(t, q, true)
		requireNative(t, plan, "Sort")
	}
}

func TestSortLargeInput(t *testing.T) {
	// A self-join gives 3000 × 5 rows: several batches of 4096 to sort.
	for _, q := range []string{
		"SELECT e.time, s.k, e.n FROM ev e CROSS JOIN small s ORDER BY e.n DESC, s.k",
		"SELECT e.distinct_id, s.label FROM ev e CROSS JOIN small s ORDER BY s.label, e.distinct_id DESC",
		"SELECT e.event, s.k FROM ev e CROSS JOIN small s ORDER BY e.event",
		// String first keys with NULLs both ways (ranked before sorting).
		"SELECT e.tier, e.n, s.k FROM ev e CROSS JOIN small s ORDER BY e.tier DESC, e.n, s.k",
		"SELECT e.city, e.time, s.k FROM ev e CROSS JOIN small s ORDER BY e.city, e.time DESC, s.k",
	} {
		plan := checkSame(t, q, true)
		requireNative(t, plan, "Sort")
	}
}

func TestSortTopN(t *testing.T) {
	for _, q := range []string{
		"SELECT n, distinct_id FROM ev ORDER BY n LIMIT 10",
		"SELECT n, distinct_id FROM ev ORDER BY n DESC LIMIT 1",
		"SELECT amount FROM ev ORDER BY amount LIMIT 5",
		"SELECT amount, time FROM ev ORDER BY amount DESC, time LIMIT 25",
		"SELECT time, event FROM ev ORDER BY time DESC LIMIT 3 OFFSET 7",
		"SELECT event, distinct_id FROM ev ORDER BY event LIMIT 50",      // ties across the cut
		"SELECT tier, distinct_id FROM ev ORDER BY tier DESC LIMIT 2500", // bound and compaction
		"SELECT tier, time FROM ev ORDER BY tier LIMIT 5000",             // limit above the input
		"SELECT e.n, s.k, e.time FROM ev e CROSS JOIN small s ORDER BY e.n, s.k DESC LIMIT 4500",
		"SELECT e.event, s.label FROM ev e CROSS JOIN small s ORDER BY e.event LIMIT 9000 OFFSET 10",
		"SELECT * FROM ev WHERE n > 1000 ORDER BY time LIMIT 4",
		"SELECT city FROM ev ORDER BY city LIMIT 0",
	} {
		plan := checkSame(t, q, true)
		if !strings.Contains(q, "LIMIT 0") {
			requireNative(t, plan, "TopN")
		}
	}
}

func TestSortInDerivedTable(t *testing.T) {
	for _, q := range []string{
		"SELECT event, c FROM (SELECT event, COUNT(*) AS c FROM ev GROUP BY event) t ORDER BY c DESC, event",
		"SELECT tier, SUM(amount) AS s FROM ev GROUP BY tier ORDER BY s DESC LIMIT 2",
	} {
		plan := checkSame(t, q, true)
		if !strings.Contains(plan, "arb Sort") && !strings.Contains(plan, "arb TopN") {
			t.Fatalf("no native sort in plan:\n%s", plan)
		}
	}
}

func TestSortCollationsAndOtherTypes(t *testing.T) {
	for _, q := range []string{
		// a case-insensitive collation compares through the type: 'Paris'
		// and 'paris' tie and keep input order
		"SELECT city, time FROM ev ORDER BY city COLLATE utf8mb4_0900_ai_ci, n",
		"SELECT city, time FROM ev ORDER BY city COLLATE utf8mb4_0900_ai_ci DESC",
		"SELECT tier, time FROM ev ORDER BY tier COLLATE utf8mb4_0900_ai_ci LIMIT 700",
		// decimals and unsigned integers are KindAny columns
		"SELECT amount, n FROM ev ORDER BY CAST(amount AS DECIMAL(10,1)), n DESC",
		"SELECT n FROM ev ORDER BY CAST(n AS UNSIGNED) DESC, time LIMIT 40",
		"SELECT amount, event FROM ev ORDER BY ROUND(amount) DESC, event",
		"SELECT time FROM ev ORDER BY DATE(time), HOUR(time) DESC, time LIMIT 100",
	} {
		plan := checkSame(t, q, true)
		if !strings.Contains(plan, "arb Sort") && !strings.Contains(plan, "arb TopN") {
			t.Fatalf("no native sort in plan:\n%s", plan)
		}
	}
}

func TestSortNoLimitIdiom(t *testing.T) {
	// MySQL's "from row 10 to the end": the planner caps the count at
	// MaxInt64 (and adds the offset, which overflows). go-mysql-server's
	// TopN panics on both (it allocates count+1 slots); the native one
	// returns what MySQL does.
	h := testDB(t)
	all, err := h.exec(0, "SELECT n, time FROM ev ORDER BY n, time")
	if err != nil {
		t.Fatal(err)
	}
	got, err := h.exec(1, "SELECT n, time FROM ev ORDER BY n, time LIMIT 10, 18446744073709551615")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, all[10:]) {
		t.Fatalf("LIMIT 10, 18446744073709551615 gave %d rows, want %d:\n%s", len(got), len(all)-10, head(got))
	}
	plan, err := h.explain("SELECT n, time FROM ev ORDER BY n, time LIMIT 10, 18446744073709551615")
	if err != nil {
		t.Fatal(err)
	}
	requireNative(t, plan, "TopN")
	got, err = h.exec(1, "SELECT n, time FROM ev ORDER BY n, time LIMIT 18446744073709551615")
	if err != nil || !slices.Equal(got, all) {
		t.Fatalf("LIMIT 18446744073709551615 gave %d rows (err %v), want %d", len(got), err, len(all))
	}
}

// countdownOp is an Operator of n rows (x BIGINT: n-1 down to 0, g
// BIGINT: x % 7), made in batches of BatchSize.
type countdownOp struct{ n int }

var countdownSchema = sql.Schema{
	{Name: "x", Type: types.Int64, Nullable: true},
	{Name: "g", Type: types.Int64, Nullable: true},
}

func (o *countdownOp) Schema() sql.Schema          { return countdownSchema }
func (o *countdownOp) Children() []native.Operator { return nil }
func (o *countdownOp) Describe() string            { return "countdown" }
func (o *countdownOp) Open(*sql.Context, *native.Run) (native.BatchIter, error) {
	return &countdownIter{left: o.n}, nil
}

type countdownIter struct{ left int }

func (it *countdownIter) Next(*sql.Context) (*native.Batch, error) {
	if it.left == 0 {
		return nil, io.EOF
	}
	// No ctx check here: the operators above must notice a KILL.
	n := min(it.left, native.BatchSize)
	x, g := native.NewColumn(types.Int64, n), native.NewColumn(types.Int64, n)
	for range n {
		it.left--
		x.Append(int64(it.left))
		g.Append(int64(it.left % 7))
	}
	return &native.Batch{N: n, Cols: []*native.Column{x, g}}, nil
}

func (it *countdownIter) Close(*sql.Context) error { return nil }

// stateful plans over countdownOp: each holds rows it must charge.
func chargingPlans(ctx *sql.Context, rows int) map[string]sql.Node {
	src := native.NewNode(&countdownOp{n: rows}, plan.NewEmptyTableWithSchema(countdownSchema))
	x := expression.NewGetField(0, types.Int64, "x", true)
	g := expression.NewGetField(1, types.Int64, "g", true)
	byX := sql.SortFields{{Column: x, Order: sql.Ascending}}
	rn := window.NewRowNumber(ctx).(sql.WindowAdaptableExpression).WithWindow(ctx, sql.NewWindowDefinition([]sql.Expression{g}, byX, nil, "", ""))
	return map[string]sql.Node{
		"Sort":   plan.NewSort(byX, src),
		"TopN":   plan.NewTopN(byX, expression.NewLiteral(int64(rows), types.Int64), src),
		"Window": plan.NewWindow([]sql.Expression{rn, x}, src),
		"Union":  plan.NewSetOp(plan.UnionType, src, src, true, nil, nil, nil),
	}
}

func TestSortMemoryBudget(t *testing.T) {
	const rows = 50000 // 800 KB of values at least
	for name := range chargingPlans(sql.NewEmptyContext(), rows) {
		t.Run(name, func(t *testing.T) {
			// Under a 64 KiB budget the operator fails with the budget's error.
			ctx := sql.NewContext(engine.WithMemoryBudget(context.Background(), engine.NewMemoryBudget(64<<10)))
			op, reason := native.Translate(ctx, chargingPlans(ctx, rows)[name])
			if op == nil {
				t.Fatalf("not translated: %s", reason)
			}
			_, err := drainOp(ctx, op)
			if !errors.Is(err, engine.ErrMemoryLimit) {
				t.Fatalf("64 KiB budget: err %v, want ErrMemoryLimit", err)
			}
			// With room, it charges and gives everything back at Close.
			pool := engine.NewMemoryPool(1 << 30)
			budget := engine.NewMemoryBudgetIn(pool, 1<<30)
			ctx = sql.NewContext(engine.WithMemoryBudget(context.Background(), budget))
			op, _ = native.Translate(ctx, chargingPlans(ctx, rows)[name])
			n, err := drainOp(ctx, op)
			if err != nil {
				t.Fatal(err)
			}
			if n != rows { // UNION DISTINCT of the input with itself: each row once
				t.Fatalf("%d rows, want %d", n, rows)
			}
			if budget.PeakBytes() < rows*8 {
				t.Fatalf("peak charge %d bytes for %d rows", budget.PeakBytes(), rows)
			}
			if used := pool.UsedBytes(); used != 0 {
				t.Fatalf("%d bytes still charged after Close", used)
			}
		})
	}
}

func TestSortStopsWhenCancelled(t *testing.T) {
	for name := range chargingPlans(sql.NewEmptyContext(), 1) {
		t.Run(name, func(t *testing.T) {
			cctx, cancel := context.WithCancel(context.Background())
			cancel()
			ctx := sql.NewContext(cctx)
			op, _ := native.Translate(ctx, chargingPlans(ctx, 20000)[name])
			if _, err := drainOp(ctx, op); !errors.Is(err, context.Canceled) {
				t.Fatalf("cancelled: err %v, want context.Canceled", err)
			}
		})
	}
}

// drainOp runs op to the end and counts its rows.
func drainOp(ctx *sql.Context, op native.Operator) (int, error) {
	it, err := op.Open(ctx, &native.Run{})
	if err != nil {
		return 0, err
	}
	defer it.Close(ctx)
	n := 0
	for {
		b, err := it.Next(ctx)
		if err == io.EOF {
			return n, it.Close(ctx)
		}
		if err != nil {
			return n, err
		}
		n += b.N
	}
}

// TestSortUtf8mb4Bin sorts and partitions strings of utf8mb4_bin (the
// events table's collation), which the sort compares as bytes.
func TestSortUtf8mb4Bin(t *testing.T) {
	for _, q := range []string{
		"SELECT s, n FROM binstr ORDER BY s, n",
		"SELECT s, n FROM binstr ORDER BY s DESC, n",
		"SELECT s, n FROM binstr ORDER BY s LIMIT 5",
		"SELECT s, n, ROW_NUMBER() OVER (PARTITION BY s ORDER BY n DESC) FROM binstr ORDER BY n",
	} {
		plan := checkSame(t, q, true)
		requireNative(t, plan, "arb")
	}
}

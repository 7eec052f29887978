package native

// Tests of the grain cache (expr_grain.go): the analysis finds the grains
// BI tools' bucketing expressions have and refuses what it cannot
// prove, and the cached path gives exactly what the uncached compiled
// expression and go-mysql-server's row-by-row Eval give, over random
// times clustered into buckets (before 1970, around midnight, at the
// ends of DATETIME's range), NULLs, and in a session zone that is not
// UTC.

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/expression"
	"github.com/dolthub/go-mysql-server/sql/expression/function"
	"github.com/dolthub/go-mysql-server/sql/types"
	"github.com/dolthub/vitess/go/sqltypes"
)

// grainSchema: DATETIME(6), DATETIME, DATE, DATETIME(3), TIMESTAMP(6)
// and a string.
var grainSchema = sql.Schema{
	{Name: "t", Type: types.DatetimeMaxPrecision, Nullable: true},
	{Name: "t0", Type: types.Datetime, Nullable: true},
	{Name: "d", Type: types.Date, Nullable: true},
	{Name: "t3", Type: types.MustCreateDatetimeType(sqltypes.Datetime, 3), Nullable: true},
	{Name: "ts", Type: types.TimestampMaxPrecision, Nullable: true},
	{Name: "s", Type: types.Text, Nullable: true},
}

func gcol(name string) *expression.GetField {
	for i, c := range grainSchema {
		if c.Name == name {
			return expression.NewGetField(i, c.Type, name, true)
		}
	}
	panic(name)
}

// grainBases are instants the random times cluster around.
var grainBases = []time.Time{
	time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC),
	time.Date(2025, 3, 9, 23, 30, 0, 0, time.UTC),
	time.Date(1969, 12, 31, 22, 0, 0, 0, time.UTC),
	time.Date(1960, 2, 29, 12, 0, 0, 0, time.UTC),
	time.Date(1000, 1, 1, 0, 0, 0, 0, time.UTC),
	time.Date(9999, 12, 31, 20, 0, 0, 0, time.UTC),
	time.Date(2024, 12, 31, 23, 59, 0, 0, time.UTC),
	time.Date(2025, 6, 30, 23, 59, 58, 0, time.UTC), // the last second of a day, and the next
}

// grainBatch is n rows whose times fall on few seconds (so that every
// grain, down to a second, has buckets of several rows), with random
// microseconds and NULLs; outOfRange adds times DATETIME's conversions
// treat specially.
func grainBatch(rng *rand.Rand, n int, outOfRange bool) *Batch {
	var secs []time.Time
	for range 24 {
		b := grainBases[rng.IntN(len(grainBases))]
		step := []time.Duration{time.Second, 7 * time.Minute, time.Hour, 24 * time.Hour}[rng.IntN(4)]
		v := b.Add(time.Duration(rng.IntN(9)-4) * step)
		for v.Year() < 1000 {
			v = v.Add(step)
		}
		for v.Year() > 9999 || v.Add(time.Second).Year() > 9999 {
			v = v.Add(-step)
		}
		secs = append(secs, v)
	}
	rows := make([]sql.Row, n)
	for r := range rows {
		if rng.IntN(15) == 0 {
			rows[r] = sql.Row{nil, nil, nil, nil, nil, nil}
			continue
		}
		v := secs[rng.IntN(len(secs))]
		if outOfRange && rng.IntN(10) == 0 {
			v = []time.Time{types.ZeroTime, time.Date(999, 12, 31, 23, 0, 0, 0, time.UTC)}[rng.IntN(2)]
		}
		us := v.Add(time.Duration(rng.IntN(1000000)) * time.Microsecond)
		ms := us.Truncate(time.Millisecond)
		rows[r] = sql.Row{us, v, time.Date(v.Year(), v.Month(), v.Day(), 0, 0, 0, 0, time.UTC), ms, us, "x"}
	}
	return BatchFromRows(grainSchema, rows)
}

// grainForms are bucketing expressions of BI tools and their parts, over
// each time column, with the grain the analysis must find.
func grainForms(ctx *sql.Context) (es []sql.Expression, grains []int64) {
	add := func(g int64, e sql.Expression) { es, grains = append(es, e), append(grains, g) }
	must := mustFunc
	for _, name := range []string{"t", "t0", "d", "t3"} {
		c := gcol(name)
		// Every DATE_FORMAT specifier alone, then in BI tools' formats.
		for spec, g := range dateFormatGrain {
			if spec == '%' {
				continue // '%%' prints a constant
			}
			add(g, function.NewDateFormat(ctx, c, strLit("<%"+string(spec)+">")))
		}
		add(1, function.NewDateFormat(ctx, c, strLit("%Q %Y"))) // a specifier MySQL does not have
		for f, g := range map[string]int64{
			"%Y-%m": microsPerDay, "%Y-%m-01 00:00:00": microsPerDay, "%Y-%m-%d %H:00:00": microsPerHour,
			"%Y-%m-%d %H:%i": microsPerMinute, "%x-%v %a": microsPerDay, "%X%V %W": microsPerDay,
			"%U %u %w %D %j": microsPerDay, "%h %I %l %k %p": microsPerHour, "%r %T": microsPerSecond,
		} {
			add(g, function.NewDateFormat(ctx, c, strLit(f)))
		}
		monthStr := must(function.NewConcat(ctx, function.NewDateFormat(ctx, c, strLit("%Y-%m")), strLit("-01")))
		// Metabase's month, Tableau's month, Metabase's week.
		add(microsPerDay, function.NewStrToDate(ctx, monthStr, strLit("%Y-%m-%d")))
		add(microsPerDay, must(function.NewDatetime(ctx, function.NewDateFormat(ctx, c, strLit("%Y-%m-01 00:00:00")))))
		add(microsPerDay, function.NewStrToDate(ctx,
			must(function.NewConcat(ctx, must(function.NewYearWeek(ctx, c)), strLit(" Sunday"))), strLit("%X%V %W")))
		// Superset's week: a shift by whole days, then its date.
		weekStart := must(function.NewDateSub(ctx, c, expression.NewInterval(
			expression.NewMinus(function.NewDayOfWeek(ctx, c), lit(int64(1), types.Int64)), "DAY")))
		add(microsPerDay, function.NewDate(ctx, weekStart))
		add(microsPerDay, expression.NewConvert(weekStart, expression.ConvertToDate))
		add(microsPerDay, function.NewDateFormat(ctx, weekStart, strLit("%Y-%m-%d")))
		add(microsPerHour, function.NewHour(ctx, must(function.NewDateAdd(ctx, c,
			expression.NewInterval(lit(int64(3), types.Int64), "WEEK")))))
		add(microsPerDay, function.NewDate(ctx, must(function.NewDateSub(ctx, c, expression.NewInterval(
			function.NewWeekday(ctx, c), "DAY")))))
		// Superset's hour: a date plus a count of hours.
		add(microsPerHour, must(function.NewDateAdd(ctx, function.NewDate(ctx, c),
			expression.NewInterval(function.NewHour(ctx, c), "HOUR"))))
		add(microsPerDay, must(function.NewConcat(ctx, function.NewYear(ctx, c), strLit("-Q"), function.NewQuarter(ctx, c))))
		add(microsPerDay, expression.NewPlus(expression.NewMult(function.NewYear(ctx, c), lit(int64(100), types.Int64)),
			function.NewMonth(ctx, c)))
		add(microsPerHour, function.NewIf(ctx, expression.NewLessThan(function.NewHour(ctx, c), lit(int64(12), types.Int64)),
			strLit("am"), strLit("pm")))
		add(microsPerMinute, function.NewIfNull(ctx, function.NewDateFormat(ctx, c, strLit("%H:%i")), strLit("no time")))
		add(microsPerDay, must(function.NewCoalesce(ctx, function.NewDate(ctx, c), strLit("none"))))
		add(microsPerDay, expression.NewEquals(function.NewDate(ctx, c), strLit("2024-06-01")))
		add(microsPerDay, must(function.NewWeek(ctx, c, lit(int64(3), types.Int64))))
		add(microsPerDay, function.NewExtract(ctx, strLit("YEAR_MONTH"), c))
		add(microsPerHour, function.NewExtract(ctx, strLit("DAY_HOUR"), c))
		add(microsPerMinute, function.NewExtract(ctx, strLit("minute"), c))
		add(microsPerDay, function.NewExtract(ctx, strLit("WEEK"), weekStart))
		add(microsPerMinute, function.NewMinute(ctx, c))
		add(microsPerSecond, function.NewSecond(ctx, c))
	}
	return es, grains
}

func TestGrainAnalysis(t *testing.T) {
	ctx := newTestCtx()
	es, grains := grainForms(ctx)
	for i, e := range es {
		if _, g, _, ok := exprGrain(ctx, grainSchema, e); !ok || g != grains[i] {
			t.Errorf("%s: grain %d (ok %v), want %d", e, g, ok, grains[i])
		}
	}
	must := mustFunc
	t0 := gcol("t")
	for _, e := range []sql.Expression{
		gcol("ts"), function.NewYear(ctx, gcol("ts")), // TIMESTAMP: not analysed
		function.NewYear(ctx, gcol("s")), // not a time column
		must(function.NewConcat(ctx, function.NewDateFormat(ctx, t0, strLit("%Y")), gcol("s"))), // two columns
		must(function.NewConcat(ctx, function.NewYear(ctx, t0), function.NewYear(ctx, gcol("t0")))),
		function.NewDateFormat(ctx, t0, gcol("s")),                                           // a format per row
		must(function.NewConcat(ctx, function.NewYear(ctx, t0), must(function.NewNow(ctx)))), // the clock
		lit(int64(1), types.Int64),
	} {
		if _, g, _, ok := exprGrain(ctx, grainSchema, e); ok {
			t.Errorf("%s: grain %d, want none", e, g)
		}
	}
	// Grains finer than a day's fields where the analysis cannot prove
	// more: a shift by hours or minutes is no whole day, and %f prints
	// microseconds.
	for _, e := range []sql.Expression{
		function.NewHour(ctx, must(function.NewDateAdd(ctx, t0, expression.NewInterval(lit(int64(90), types.Int64), "MINUTE")))),
		function.NewDate(ctx, must(function.NewDateSub(ctx, t0, expression.NewInterval(lit(int64(1), types.Int64), "MONTH")))),
		function.NewDateFormat(ctx, t0, strLit("%Y %f")), t0, function.NewExtract(ctx, strLit("SECOND_MICROSECOND"), t0),
		function.NewDate(ctx, must(function.NewDateSub(ctx, t0, expression.NewInterval(lit(1.5, types.Float64), "DAY")))),
		must(function.NewUnixTimestamp(ctx, t0)), // go-mysql-server's: pure, but not arb's for DIV's rule
	} {
		if _, g, _, ok := exprGrain(ctx, grainSchema, e); ok && g != 1 {
			t.Errorf("%s: grain %d, want 1", e, g)
		}
	}
	// Compile wraps what has a grain of a minute or more, and leaves a
	// calendar kernel over the column as it is.
	c := &Compiler{In: grainSchema}
	wrapped := function.NewStrToDate(ctx, must(function.NewConcat(ctx, function.NewDateFormat(ctx, t0, strLit("%Y-%m")), strLit("-01"))), strLit("%Y-%m-%d"))
	if x, err := c.Compile(ctx, wrapped); err != nil || !isGrain(x) {
		t.Fatalf("%s compiled to %T (%v), want a grain cache", wrapped, x, err)
	}
	for _, e := range []sql.Expression{function.NewYear(ctx, t0), function.NewDate(ctx, t0), function.NewSecond(ctx, t0),
		function.NewDateFormat(ctx, t0, strLit("%Y-%m-%d"))} {
		if x, err := c.Compile(ctx, e); err != nil || isGrain(x) {
			t.Fatalf("%s compiled to %T (%v), want no grain cache", e, x, err)
		}
	}
}

func isGrain(x Expr) bool { _, ok := x.(*grainExpr); return ok }

// TestGrainCacheMatchesRowByRow evaluates every form through the cache
// (at the analysed grain, whatever its size), compiled without it, and
// by go-mysql-server row by row, in UTC and in a zone of +05:30.
func TestGrainCacheMatchesRowByRow(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 7))
	cachedN, total := 0, 0
	for _, zone := range []string{"+00:00", "+05:30", "SYSTEM"} {
		ctx := newTestCtx()
		if err := ctx.SetSessionVariable(ctx, "time_zone", zone); err != nil {
			t.Fatal(err)
		}
		es, _ := grainForms(ctx)
		// One compiled expression per form over every round: later
		// batches take buckets earlier ones stored (grainMemo).
		gxs := make([]*grainExpr, len(es))
		for i, e := range es {
			gxs[i] = testGrainExpr(t, ctx, e)
		}
		for round := range 4 {
			b := grainBatch(rng, 400, false)
			for i, e := range es {
				gx := gxs[i]
				inner, g := gx.inner, gx.grain
				cctx := newTestCtx()
				_ = cctx.SetSessionVariable(cctx, "time_zone", zone)
				got, ok, err := gx.cached(cctx, b)
				if err != nil {
					t.Fatalf("%s: %v", e, err)
				}
				wctx := newTestCtx()
				_ = wctx.SetSessionVariable(wctx, "time_zone", zone)
				want, werr := (&evalExpr{e: e, typ: e.Type(wctx)}).Eval(wctx, b)
				total++
				if ok {
					cachedN++
				}
				if !ok && g < microsPerSecond {
					continue // each row its own bucket: declined as not worth it
				}
				if !ok {
					// Only a representative that warns or fails declines;
					// go-mysql-server must then warn or fail too.
					if werr == nil && wctx.Session.WarningCount() == 0 {
						t.Fatalf("%s (zone %s, round %d): cache declined a batch that evaluates cleanly", e, zone, round)
					}
					continue
				}
				requireGrainRows(t, "cached", e, zone, b, got, want, werr, wctx, cctx, inner)
			}
		}
	}
	// Most forms must have gone through the cache, or this tested little.
	t.Logf("%d of %d evaluations cached", cachedN, total)
	if cachedN*10 < total*8 {
		t.Fatalf("only %d of %d evaluations cached", cachedN, total)
	}
}

// testGrainExpr is e (over grainSchema) as the grain cache at its
// analysed grain, whatever its size, over e compiled without the cache.
func testGrainExpr(t *testing.T, ctx *sql.Context, e sql.Expression) *grainExpr {
	t.Helper()
	col, g, _, ok := exprGrain(ctx, grainSchema, e)
	if !ok {
		t.Fatalf("%s: no grain", e)
	}
	inner, err := (&Compiler{In: grainSchema, inGrain: true}).Compile(ctx, e)
	if err != nil {
		t.Fatal(err)
	}
	return &grainExpr{inner: inner, col: col, grain: g}
}

// requireGrainRows: the cache's column got (the path named what, under
// cctx) has go-mysql-server's values (want, werr under wctx) and the
// uncached expression's (inner) on every row of b, and neither warned.
func requireGrainRows(t *testing.T, what string, e sql.Expression, zone string, b *Batch, got, want *Column, werr error, wctx, cctx *sql.Context, inner Expr) {
	t.Helper()
	if werr != nil || wctx.Session.WarningCount() != 0 || cctx.Session.WarningCount() != 0 {
		t.Fatalf("%s: %s without warnings, Eval: err %v, %d warnings", e, what, werr, wctx.Session.WarningCount())
	}
	unc, err := inner.Eval(newTestCtx(), b)
	if err != nil {
		t.Fatal(err)
	}
	for r := range b.N {
		g, w, u := normalize(got.Value(r)), normalize(want.Value(r)), normalize(unc.Value(r))
		if g != w || g != u {
			t.Fatalf("%s (zone %s) row %d (t=%v d=%v): %s %s, Eval %s, uncached %s",
				e, zone, r, b.Cols[0].Value(r), b.Cols[2].Value(r), what, g, w, u)
		}
	}
}

// TestGrainCacheEdges: batches with the zero time or times before year
// 1000 take the uncached path, and Compile's result (cache or not)
// gives go-mysql-server's values, errors and warning counts on them; a
// batch of all-NULL times and one of a single row work too.
func TestGrainCacheEdges(t *testing.T) {
	ctx := newTestCtx()
	es, _ := grainForms(ctx)
	rng := rand.New(rand.NewPCG(5, 5))
	for _, b := range []*Batch{grainBatch(rng, 300, true), grainBatch(rng, 1, false),
		BatchFromRows(grainSchema, slices.Repeat([]sql.Row{{nil, nil, nil, nil, nil, nil}}, 5))} {
		for _, e := range es {
			x, err := (&Compiler{In: grainSchema}).Compile(ctx, e)
			if err != nil {
				t.Fatal(err)
			}
			if gx, ok := x.(*grainExpr); ok && b.N == 300 {
				if _, ok, _ := gx.cached(newTestCtx(), b); ok {
					t.Fatalf("%s: cached a batch with out-of-range times", e)
				}
			}
			c1, c2 := newTestCtx(), newTestCtx()
			want, werr, panicked := evalOrPanic(c2, e, b)
			if panicked {
				// go-mysql-server's week specifiers panic on the zero
				// time; the uncached path is its own Eval and does too.
				continue
			}
			got, gerr := x.Eval(c1, b)
			if (gerr != nil) != (werr != nil) || c1.Session.WarningCount() != c2.Session.WarningCount() {
				t.Fatalf("%s: err %v / %v, warnings %d / %d", e, gerr, werr, c1.Session.WarningCount(), c2.Session.WarningCount())
			}
			if gerr != nil {
				continue
			}
			for r := range b.N {
				if g, w := normalize(got.Value(r)), normalize(want.Value(r)); g != w {
					t.Fatalf("%s row %d: got %s, want %s", e, r, g, w)
				}
			}
		}
	}
}

// evalOrPanic is go-mysql-server's Eval of e over b, or panicked.
func evalOrPanic(ctx *sql.Context, e sql.Expression, b *Batch) (c *Column, err error, panicked bool) {
	defer func() {
		if recover() != nil {
			panicked = true
		}
	}()
	c, err = (&evalExpr{e: e, typ: e.Type(ctx)}).Eval(ctx, b)
	return c, err, false
}

// BenchmarkGrain is BI tools' bucketing over a batch of time-ordered
// events, through the grain cache and compiled without it.
func BenchmarkGrain(b *testing.B) {
	forms := map[string]func(ctx *sql.Context, t sql.Expression) sql.Expression{
		"metabase_month": func(ctx *sql.Context, t sql.Expression) sql.Expression {
			return function.NewStrToDate(ctx, mustFunc(function.NewConcat(ctx, function.NewDateFormat(ctx, t, strLit("%Y-%m")), strLit("-01"))), strLit("%Y-%m-%d"))
		},
		"superset_week": func(ctx *sql.Context, t sql.Expression) sql.Expression {
			return function.NewDate(ctx, mustFunc(function.NewDateSub(ctx, t, expression.NewInterval(
				expression.NewMinus(function.NewDayOfWeek(ctx, t), lit(int64(1), types.Int64)), "DAY"))))
		},
		"year_month": func(ctx *sql.Context, t sql.Expression) sql.Expression {
			return expression.NewPlus(expression.NewMult(function.NewYear(ctx, t), lit(int64(100), types.Int64)), function.NewMonth(ctx, t))
		},
	}
	for _, name := range []string{"metabase_month", "superset_week", "year_month"} {
		for _, cached := range []bool{true, false} {
			b.Run(fmt.Sprintf("%s/cached=%v", name, cached), func(b *testing.B) {
				batch, sch := benchBatch()
				ctx := newTestCtx()
				e := forms[name](ctx, benchField(sch, 0))
				x, err := (&Compiler{In: sch, inGrain: !cached}).Compile(ctx, e)
				if err != nil || isGrain(x) != cached {
					b.Fatalf("%s compiled to %T (%v)", e, x, err)
				}
				b.ResetTimer()
				for range b.N {
					if _, err := x.Eval(ctx, batch); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*BatchSize), "ns/row")
			})
		}
	}
}

// TestGrainMemoConcurrent evaluates one compiled expression (one memo)
// from several goroutines at once, as a scan's workers do, each batch
// checked against the expression compiled without the cache (run it
// with -race).
func TestGrainMemoConcurrent(t *testing.T) {
	ctx := newTestCtx()
	e := mustFunc(function.NewDateAdd(ctx, function.NewDate(ctx, gcol("t")),
		expression.NewInterval(function.NewHour(ctx, gcol("t")), "HOUR")))
	x, err := (&Compiler{In: grainSchema}).Compile(ctx, e)
	if err != nil {
		t.Fatal(err)
	}
	if !isGrain(x) {
		t.Fatalf("%s compiled to %T, not the grain cache", e, x)
	}
	inner, err := (&Compiler{In: grainSchema, inGrain: true}).Compile(ctx, e)
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 4)
	for w := range 4 {
		go func() {
			rng := rand.New(rand.NewPCG(uint64(w), 9))
			for range 20 {
				b := grainBatch(rng, 300, false)
				got, err := x.Eval(newTestCtx(), b)
				if err != nil {
					errs <- err
					return
				}
				want, err := inner.Eval(newTestCtx(), b)
				if err != nil {
					errs <- err
					return
				}
				for r := range b.N {
					if g, w := normalize(got.Value(r)), normalize(want.Value(r)); g != w {
						errs <- fmt.Errorf("row %d (t=%v): cached %s, uncached %s", r, b.Cols[0].Value(r), g, w)
						return
					}
				}
			}
			errs <- nil
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if gx := x.(*grainExpr); len(gx.memo.vals) == 0 {
		t.Fatal("nothing memoised: the test exercised no memo")
	}
}

// TestGrainCacheSpanMatchesRowByRow: batches of one day's events in user
// order (times in random order within the day, as a compacted day's
// segment holds them, bounds known) take the span path, which finds
// each row's bucket by a multiplication, and give what the uncached
// expression and go-mysql-server's Eval give, in UTC and +05:30.
func TestGrainCacheSpanMatchesRowByRow(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 3))
	spanN, total := 0, 0
	for _, zone := range []string{"+00:00", "+05:30"} {
		ctx := newTestCtx()
		if err := ctx.SetSessionVariable(ctx, "time_zone", zone); err != nil {
			t.Fatal(err)
		}
		es, _ := grainForms(ctx)
		for _, base := range grainBases {
			if base.Year() < 1900 || base.Year() > 9000 {
				continue // outside the safe range: the general pass's
			}
			rows := make([]sql.Row, 500)
			for r := range rows {
				us := base.Add(time.Duration(rng.Int64N(int64(24 * time.Hour))))
				us = us.Truncate(time.Microsecond)
				ms := us.Truncate(time.Millisecond)
				s := us.Truncate(time.Second)
				rows[r] = sql.Row{us, s, time.Date(s.Year(), s.Month(), s.Day(), 0, 0, 0, 0, time.UTC), ms, us, "x"}
			}
			b := BatchFromRows(grainSchema, rows)
			for _, c := range b.Cols[:5] {
				c.setBounds(slices.Min(c.I), slices.Max(c.I))
			}
			for _, e := range es {
				gx := testGrainExpr(t, ctx, e)
				inner, col, g := gx.inner, gx.col, gx.grain
				if col != 2 && timeOrdered(b.Cols[col].I, g) && g < microsPerDay { // col 2: DATE, one value
					t.Fatalf("%s: a day's times in random order look time-ordered at grain %d", e, g)
				}
				cctx := newTestCtx()
				_ = cctx.SetSessionVariable(cctx, "time_zone", zone)
				tc := b.Cols[col]
				got, ok, done := gx.cachedSpan(cctx, b, tc.Lo, tc.Hi)
				total++
				if !done || !ok {
					continue // more buckets than the window, or too few rows a bucket
				}
				spanN++
				wctx := newTestCtx()
				_ = wctx.SetSessionVariable(wctx, "time_zone", zone)
				want, werr := (&evalExpr{e: e, typ: e.Type(wctx)}).Eval(wctx, b)
				requireGrainRows(t, "span path", e, zone, b, got, want, werr, wctx, cctx, inner)
			}
		}
	}
	t.Logf("%d of %d evaluations took the span path", spanN, total)
	if spanN*2 < total {
		t.Fatalf("only %d of %d evaluations took the span path", spanN, total)
	}
}

package native

// Tests of the time-range index (join_time_range.go) against the
// nested-loop reference: joins on a key plus window conditions between
// the two sides' values, of every kind, with NULLs on either side, keys
// with more rows than a chunk, right values in input order and not, a
// bound over a right expression (r.v + 5, searchable beside r.v) and one
// that is not monotone (0 - r.v, checked pair by pair), exact residuals
// and residuals with more than bounds; and the same joins with the index
// turned off, which must give the same rows.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/expression"
	"github.com/dolthub/go-mysql-server/sql/types"

	"arb/engine"
)

// timeRangeCase is a window condition over l.v (position 1) and r.v
// (position 3), as SQL and as its three-valued reference.
type timeRangeCase struct {
	name string
	cond func(gf func(int) sql.Expression) sql.Expression
	ref  func(l, r *int64) int8
	// exact: the condition is bounds only (joinOp.boundsExact).
	exact bool
}

func intLit(v int64) sql.Expression { return expression.NewLiteral(v, types.Int64) }

// cmp3 is a op b in three-valued logic.
func cmp3(a, b *int64, add int64, op cmpOp) int8 {
	if a == nil || b == nil {
		return pairNull
	}
	c := 0
	if *a < *b+add {
		c = -1
	} else if *a > *b+add {
		c = 1
	}
	if op.holds(c) {
		return pairTrue
	}
	return pairFalse
}

func and3(xs ...int8) int8 {
	out := pairTrue
	for _, x := range xs {
		if x == pairFalse {
			return pairFalse
		}
		if x == pairNull {
			out = pairNull
		}
	}
	return out
}

func neg(p *int64) *int64 {
	if p == nil {
		return nil
	}
	v := -*p
	return &v
}

var timeRangeCases = []timeRangeCase{
	{"r.v > l.v AND r.v <= l.v + 10", func(gf func(int) sql.Expression) sql.Expression {
		return expression.NewAnd(expression.NewGreaterThan(gf(3), gf(1)),
			expression.NewLessThanOrEqual(gf(3), expression.NewPlus(gf(1), intLit(10))))
	}, func(l, r *int64) int8 { return and3(cmp3(r, l, 0, opGT), cmp3(r, l, 10, opLE)) }, true},
	{"r.v >= l.v + 20", func(gf func(int) sql.Expression) sql.Expression {
		return expression.NewGreaterThanOrEqual(gf(3), expression.NewPlus(gf(1), intLit(20)))
	}, func(l, r *int64) int8 { return cmp3(r, l, 20, opGE) }, true},
	{"l.v < r.v AND l.v + 10 >= r.v", func(gf func(int) sql.Expression) sql.Expression {
		return expression.NewAnd(expression.NewLessThan(gf(1), gf(3)),
			expression.NewGreaterThanOrEqual(expression.NewPlus(gf(1), intLit(10)), gf(3)))
	}, func(l, r *int64) int8 { return and3(cmp3(r, l, 0, opGT), cmp3(r, l, 10, opLE)) }, true},
	{"r.v < l.v AND r.v + 5 >= l.v", func(gf func(int) sql.Expression) sql.Expression {
		return expression.NewAnd(expression.NewLessThan(gf(3), gf(1)),
			expression.NewGreaterThanOrEqual(expression.NewPlus(gf(3), intLit(5)), gf(1)))
	}, func(l, r *int64) int8 { return and3(cmp3(r, l, 0, opLT), cmp3(r, l, -5, opGE)) }, true},
	{"r.v > l.v AND r.v <> l.v + 3", func(gf func(int) sql.Expression) sql.Expression {
		return expression.NewAnd(expression.NewGreaterThan(gf(3), gf(1)),
			expression.NewNot(expression.NewEquals(gf(3), expression.NewPlus(gf(1), intLit(3)))))
	}, func(l, r *int64) int8 {
		ne := cmp3(r, l, 3, opEQ)
		if ne != pairNull {
			ne = 1 - ne
		}
		return and3(cmp3(r, l, 0, opGT), ne)
	}, false},
	{"r.v >= l.v - 30 AND 0 - r.v < l.v", func(gf func(int) sql.Expression) sql.Expression {
		return expression.NewAnd(expression.NewGreaterThanOrEqual(gf(3), expression.NewMinus(gf(1), intLit(30))),
			expression.NewLessThan(expression.NewMinus(intLit(0), gf(3)), gf(1)))
	}, func(l, r *int64) int8 { return and3(cmp3(r, l, -30, opGE), cmp3(neg(r), l, 0, opLT)) }, true},
}

// timeRangeOp is a join of kind on l.k = r.k AND tc's condition.
func timeRangeOp(t testing.TB, kind joinKind, tc timeRangeCase, left, right []*Batch) *joinOp {
	t.Helper()
	ctx := sql.NewEmptyContext()
	col := func(src, name string) *sql.Column {
		return &sql.Column{Name: name, Source: src, Type: types.Int64, Nullable: true}
	}
	lsch := sql.Schema{col("l", "k"), col("l", "v")}
	rsch := sql.Schema{col("r", "k"), col("r", "v")}
	both := append(append(sql.Schema{}, lsch...), rsch...)
	gf := func(i int) sql.Expression {
		return expression.NewGetFieldWithTable(i, 1, types.Int64, "db", both[i].Source, both[i].Name, true)
	}
	cond := expression.NewAnd(expression.NewEquals(gf(0), gf(2)), tc.cond(gf))
	sch := both
	if kind.partial() {
		sch = lsch
	}
	op := &joinOp{kind: kind, sch: sch, nl: 2, nr: 2,
		left:  &joinTestSource{sch: lsch, batches: left},
		right: &joinTestSource{sch: rsch, batches: right}}
	if reason := op.planCondition(ctx, cond, lsch, rsch, both); reason != "" {
		t.Fatal(reason)
	}
	if len(op.keys) != 1 || len(op.bounds) == 0 || op.boundsExact != tc.exact {
		t.Fatalf("%s: %d keys, %d bounds, exact %v", tc.name, len(op.keys), len(op.bounds), op.boundsExact)
	}
	return op
}

// timeRangeRun runs op, its index on or off, and reports its rows and
// whether the index was made.
func timeRangeRun(ctx *sql.Context, op *joinOp, index bool) ([]string, bool, error) {
	defer func(on bool) { joinTimeRangeOn = on }(joinTimeRangeOn)
	joinTimeRangeOn = index
	bi, err := op.Open(ctx, &Run{})
	if err != nil {
		return nil, false, err
	}
	it := bi.(*joinIter)
	defer it.Close(ctx)
	var out []string
	for {
		b, err := it.Next(ctx)
		if err == io.EOF {
			return out, it.timeRange != nil, nil
		}
		if err != nil {
			return nil, false, err
		}
		for r := range b.N {
			out = append(out, fmt.Sprint(b.Row(r)))
		}
	}
}

// timeRangeReference is the nested-loop semantics of kind on
// l.k = r.k AND ref(l.v, r.v).
func timeRangeReference(kind joinKind, left, right [][2]*int64, ref func(l, r *int64) int8) []string {
	val := func(p *int64) any {
		if p == nil {
			return nil
		}
		return *p
	}
	var out []string
	for _, l := range left {
		matched, sawNull := false, false
		for _, r := range right {
			c := and3(cmp3(l[0], r[0], 0, opEQ), ref(l[1], r[1]))
			if c == pairNull && kind.nullsMatter() {
				sawNull = true
				break
			}
			if c != pairTrue {
				continue
			}
			matched = true
			if kind.partial() {
				break
			}
			out = append(out, fmt.Sprint(sql.Row{val(l[0]), val(l[1]), val(r[0]), val(r[1])}))
		}
		row := fmt.Sprint(sql.Row{val(l[0]), val(l[1])})
		switch {
		case kind == joinLeftOuter && !matched, kind == joinLeftOuterExcludeNulls && !matched && !sawNull:
			out = append(out, fmt.Sprint(sql.Row{val(l[0]), val(l[1]), nil, nil}))
		case kind == joinSemi && matched, kind == joinAntiIncludeNulls && !matched,
			kind == joinAnti && !matched && !sawNull:
			out = append(out, row)
		}
	}
	return out
}

// timeRangeRows is n rows over keys keys with values in [0, 200): in
// ascending order per key when ascending, NULL with probability nullP.
func timeRangeRows(rng *rand.Rand, n, keys int, nullP float64, ascending bool) [][2]*int64 {
	rows := make([][2]*int64, n)
	for i := range rows {
		if rng.Float64() >= nullP {
			k := int64(rng.IntN(keys))
			rows[i][0] = &k
		}
		if rng.Float64() >= nullP {
			v := int64(rng.IntN(200))
			if ascending {
				v = int64(i * 200 / n)
			}
			rows[i][1] = &v
		}
	}
	return rows
}

func TestJoinTimeRangeAgainstReference(t *testing.T) {
	seed := rand.Uint64()
	rng := rand.New(rand.NewPCG(seed, 13))
	ctx := sql.NewEmptyContext()
	kinds := []joinKind{joinInner, joinLeftOuter, joinLeftOuterExcludeNulls, joinSemi, joinAnti, joinAntiIncludeNulls}
	for round := range 12 {
		nl, nr, keys := 1+rng.IntN(200), 1+rng.IntN(400), 1+rng.IntN(8)
		if round%4 == 3 {
			nl, nr, keys = 1+rng.IntN(30), 2*BatchSize+300, 2 // groups longer than a chunk
		}
		nullP := []float64{0, 0.05, 0.3}[round%3]
		left := timeRangeRows(rng, nl, keys, nullP, false)
		right := timeRangeRows(rng, nr, keys, nullP, round%2 == 0)
		size := []int{1, 7, BatchSize}[rng.IntN(3)]
		for _, tc := range timeRangeCases {
			for _, kind := range kinds {
				want := timeRangeReference(kind, left, right, tc.ref)
				for _, index := range []bool{true, false} {
					op := timeRangeOp(t, kind, tc, joinTestRows(nil2(), left, size), joinTestRows(nil2(), right, 1+rng.IntN(BatchSize)))
					got, indexed, err := timeRangeRun(ctx, op, index)
					if err != nil {
						t.Fatalf("seed %d: %v", seed, err)
					}
					if !slices.Equal(got, want) {
						t.Fatalf("seed %d round %d: %s on %s, index %v (%d×%d rows): got %d rows, want %d\n%s",
							seed, round, kind, tc.name, index, nl, nr, len(got), len(want), joinTestDiff(got, want))
					}
					// NOT IN's NULL keys are wild rows, which rule the index out.
					hasWild := kind.nullsMatter() && slices.ContainsFunc(right, func(r [2]*int64) bool { return r[0] == nil })
					// Whether inputs without a keyed right row, or with every
					// bound value of a side NULL, get an index depends on how
					// their columns were typed and batched: asked only where
					// the answer is sure.
					full := func(rows [][2]*int64) bool { // a row with a key and a value
						return slices.ContainsFunc(rows, func(r [2]*int64) bool { return r[0] != nil && r[1] != nil })
					}
					sure := !index || hasWild || (full(right) && full(left))
					if wantIndexed := index && !hasWild; sure && indexed != wantIndexed && nr > 0 {
						t.Fatalf("seed %d round %d: %s on %s, index %v: made %v, want %v", seed, round, kind, tc.name, index, indexed, wantIndexed)
					}
				}
			}
		}
	}
}

// TestJoinTimeRangeLayout pins the index of a small input: groups with
// loose rows first, the rest sorted by the first bound's value, a bound
// over a monotone right value searchable and one over a decreasing
// value not, and the ranges a probe finds.
func TestJoinTimeRangeLayout(t *testing.T) {
	// Right rows (k, v): key 1 at rows 0, 2, 3, 5; key 2 at rows 1, 4.
	ks := []int64{1, 2, 1, 1, 2, 1}
	vs := []int64{30, 5, 10, 0, 7, 20}
	nulls := []bool{false, false, false, true, false, false}
	vals := &keyVals{state: make([]keyState, len(ks)), ints: ks}
	tab := buildTable(vals, true, len(ks), false)
	v := &Column{Kind: KindInt, Type: types.Int64, I: vs, Nulls: nulls}
	plus := &Column{Kind: KindInt, Type: types.Int64, I: make([]int64, len(vs)), Nulls: nulls}
	minus := &Column{Kind: KindInt, Type: types.Int64, I: make([]int64, len(vs)), Nulls: nulls}
	for i, x := range vs {
		plus.I[i], minus.I[i] = x+5, -x
	}
	x := newJoinTimeRange(tab, len(ks), []*Column{v, plus, minus}, 3, true)
	if got, want := x.order, []int32{3, 2, 5, 0, 1, 4}; !slices.Equal(got, want) {
		t.Fatalf("order %v, want %v", got, want)
	}
	if !slices.Equal(x.start, []int32{0, 4, 6}) || !slices.Equal(x.sorted, []int32{1, 4}) {
		t.Fatalf("start %v sorted %v", x.start, x.sorted)
	}
	if x.vals[0] == nil || x.vals[1] == nil || x.vals[2] != nil || x.exact {
		t.Fatalf("searchable %v %v %v exact %v: want true true false false", x.vals[0] != nil, x.vals[1] != nil, x.vals[2] != nil, x.exact)
	}
	// v > 10 AND v + 5 <= 30: key 1's row 5 (20) only.
	b := []boundCols{{op: opGT, l: []int64{10}}, {op: opLE, l: []int64{30}}}
	if lo, hi, exact := x.rangeOf(0, b, 0); lo != 2 || hi != 3 || exact {
		t.Fatalf("range [%d, %d) exact %v, want [2, 3) false", lo, hi, exact)
	}
	got, allTrue := x.candidates(nil, 0, b, 0, false, false)
	if !slices.Equal(got, []int32{3, 5}) || allTrue {
		t.Fatalf("candidates %v all true %v, want [3 5] (row 3 loose) false", got, allTrue)
	}
	// A NULL left value keeps every row of its bound (the other applies).
	b[0].ln = []bool{true}
	if lo, hi, _ := x.rangeOf(0, b, 0); lo != 1 || hi != 3 {
		t.Fatalf("NULL left value of v > l: range [%d, %d), want [1, 3)", lo, hi)
	}
}

// TestJoinTimeRangeMemory: the index is charged to the statement's
// budget and given back at Close.
func TestJoinTimeRangeMemory(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	left := timeRangeRows(rng, 100, 3, 0, false)
	right := timeRangeRows(rng, 30000, 3, 0, false)
	op := timeRangeOp(t, joinSemi, timeRangeCases[0], joinTestRows(nil2(), left, 64), joinTestRows(nil2(), right, BatchSize))
	pool := engine.NewMemoryPool(1 << 30)
	ctx := sql.NewContext(engine.WithMemoryBudget(context.Background(), engine.NewMemoryBudgetIn(pool, 1<<30)))
	// charged opens op, reads its first batch and reports what it has
	// charged then, and the index it made.
	charged := func(ctx *sql.Context, index bool) (int64, *joinTimeRange) {
		t.Helper()
		defer func(on bool) { joinTimeRangeOn = on }(joinTimeRangeOn)
		joinTimeRangeOn = index
		bi, err := op.Open(ctx, &Run{})
		if err != nil {
			t.Fatal(err)
		}
		it := bi.(*joinIter)
		if _, err := it.Next(ctx); err != nil && err != io.EOF {
			t.Fatal(err)
		}
		n, x := it.charge, it.timeRange
		if err := it.Close(ctx); err != nil {
			t.Fatal(err)
		}
		if used := pool.UsedBytes(); used != 0 {
			t.Fatalf("%d bytes still charged after Close", used)
		}
		return n, x
	}
	without, _ := charged(ctx, false)
	with, x := charged(ctx, true)
	if x == nil {
		t.Fatal("no time-range index")
	}
	if x.bytes() < 30000*(4+8) || with-without != x.bytes() {
		t.Fatalf("index of %d bytes, %d charged with it and %d without", x.bytes(), with, without)
	}
	small := engine.NewMemoryBudget(without + x.bytes()/2)
	if _, _, err := timeRangeRun(sql.NewContext(engine.WithMemoryBudget(context.Background(), small)), op, true); !errors.Is(err, engine.ErrMemoryLimit) {
		t.Fatalf("budget short of the index: err %v, want a memory limit error", err)
	}
	small = engine.NewMemoryBudget(without + x.bytes()/2)
	if _, _, err := timeRangeRun(sql.NewContext(engine.WithMemoryBudget(context.Background(), small)), op, false); err != nil {
		t.Fatalf("the same budget without the index: %v", err)
	}
}

// BenchmarkJoinTimeRange: a few keys of many rows each (heavy users), a
// window of a thousandth of the values' span, inner and anti, with the
// index and with the chain walk.
func BenchmarkJoinTimeRange(b *testing.B) {
	rng := rand.New(rand.NewPCG(7, 8))
	rows := func(n int) [][2]*int64 {
		out := make([][2]*int64, n)
		for i := range out {
			k, v := int64(rng.IntN(4)), int64(rng.IntN(1_000_000))
			out[i] = [2]*int64{&k, &v}
		}
		return out
	}
	left, right := rows(4000), rows(40000)
	tc := timeRangeCase{name: "r.v > l.v AND r.v <= l.v + 1000", exact: true,
		cond: func(gf func(int) sql.Expression) sql.Expression {
			return expression.NewAnd(expression.NewGreaterThan(gf(3), gf(1)),
				expression.NewLessThanOrEqual(gf(3), expression.NewPlus(gf(1), intLit(1000))))
		}}
	ctx := sql.NewEmptyContext()
	for _, kind := range []joinKind{joinInner, joinAntiIncludeNulls} {
		for _, index := range []bool{true, false} {
			b.Run(fmt.Sprintf("%s/index=%v", kind, index), func(b *testing.B) {
				b.ReportAllocs()
				for range b.N {
					op := timeRangeOp(b, kind, tc, joinTestRows(nil2(), left, BatchSize), joinTestRows(nil2(), right, BatchSize))
					if _, _, err := timeRangeRun(ctx, op, index); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

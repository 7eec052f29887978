package native

// Tests of the column hints (column_hints.go): Slice and Gather keep
// only hints that still hold; the calendar kernels and the grain cache
// give the same values over batches whose times carry bounds (one day,
// one hour, or several days, as the events scan hands them out) as over
// the same rows without; a constant key finds the groups its rows would
// find one by one.

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/dolthub/go-mysql-server/sql/expression"
	"github.com/dolthub/go-mysql-server/sql/expression/function"
	"github.com/dolthub/go-mysql-server/sql/types"
)

func TestSubsetHints(t *testing.T) {
	c := &Column{Kind: KindTime, Type: types.DatetimeMaxPrecision, I: []int64{5, 7, 9}}
	c.setBounds(5, 9)
	if s := c.Slice(1, 2); !s.Bounded || s.Lo != 5 || s.Hi != 9 || s.isConst() {
		t.Fatalf("slice of a bounded column: %+v", s)
	}
	k := fillConstInts(KindInt, types.Int32, 3, 4)
	if !k.isConst() || !k.Slice(1, 3).isConst() || !k.Gather([]int32{3, 0}).isConst() {
		t.Fatal("a constant column's slice or gather lost its constancy")
	}
	if g := k.Gather([]int32{0, -1}); g.Const || !g.Bounded || g.isConst() {
		// A missing row (an outer join's) is NULL: bounds still hold.
		t.Fatalf("gather with a missing row: %+v", g)
	}
	if k.Slice(2, 2).isConst() || k.Gather(nil).isConst() {
		t.Fatal("no rows are one value")
	}
	a := &Column{Kind: KindAny, Type: types.Date, A: []any{"2025-03-01", "2025-03-01"}, Const: true}
	if !a.Gather([]int32{1, 1, 0}).Const {
		t.Fatal("a constant KindAny column's gather lost its constancy")
	}
	if (&Column{Kind: KindInt, I: []int64{1, 1}}).isConst() {
		t.Fatal("a column without hints claims one value")
	}
	// minMaxTimes takes the bounds instead of passing over the values.
	if lo, hi, seen := minMaxTimes(c, 3); !seen || lo != 5 || hi != 9 {
		t.Fatalf("minMaxTimes = %d, %d, %v", lo, hi, seen)
	}
}

// withBounds is b with each time column (DATETIME, DATE) given bounds
// of its values, widened by pad microseconds on either side where that
// stays inside the bucket of widenWithin microseconds (0: exact).
func withBounds(b *Batch, widenWithin int64) *Batch {
	out := &Batch{N: b.N, Cols: slices.Clone(b.Cols)}
	for i, c := range b.Cols {
		if c.Kind != KindTime {
			continue
		}
		lo, hi, seen := minMaxTimes(c, b.N)
		if !seen {
			continue
		}
		cp := *c
		if widenWithin > 0 && floorDiv(lo, widenWithin) == floorDiv(hi, widenWithin) {
			lo = floorDiv(lo, widenWithin) * widenWithin
			hi = lo + widenWithin - 1
		}
		cp.setBounds(lo, hi)
		out.Cols[i] = &cp
	}
	return out
}

// bucketRows is, per bucket of g microseconds of column col's times,
// its rows of b (NULL times left out).
func bucketRows(b *Batch, col int, g int64) [][]int32 {
	at := map[int64]int{}
	var out [][]int32
	c := b.Cols[col]
	for r := range b.N {
		if c.IsNull(r) {
			continue
		}
		k := floorDiv(c.I[r], g)
		i, ok := at[k]
		if !ok {
			i = len(out)
			at[k] = i
			out = append(out, nil)
		}
		out[i] = append(out[i], int32(r))
	}
	return out
}

func TestHintedTimesGiveTheSameValues(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 4))
	ctx := newTestCtx()
	es, _ := grainForms(ctx)
	for _, name := range []string{"t", "t0", "d"} {
		c := gcol(name)
		es = append(es, function.NewDate(ctx, c), expression.NewConvert(c, expression.ConvertToDate),
			function.NewYear(ctx, c), function.NewQuarter(ctx, c), function.NewMonth(ctx, c), function.NewDay(ctx, c),
			function.NewHour(ctx, c), function.NewMinute(ctx, c), function.NewSecond(ctx, c), function.NewDayOfWeek(ctx, c),
			function.NewWeekday(ctx, c), function.NewDayOfYear(ctx, c))
	}
	constDays := 0
	for round := range 3 {
		b := grainBatch(rng, 600, false)
		var batches []*Batch
		batches = append(batches, withBounds(b, 0)) // several days, NULLs: bounds alone
		for _, g := range []int64{microsPerDay, microsPerHour} {
			for _, rows := range bucketRows(b, 0, g) {
				one := b.Gather(rows)
				batches = append(batches, withBounds(one, 0), withBounds(one, g))
			}
		}
		for _, e := range es {
			x, err := (&Compiler{In: grainSchema}).Compile(ctx, e)
			if err != nil {
				t.Fatal(err)
			}
			for _, hb := range batches {
				plain := &Batch{N: hb.N, Cols: make([]*Column, len(hb.Cols))}
				for i, c := range hb.Cols {
					cp := *c
					cp.Bounded, cp.Lo, cp.Hi, cp.Const = false, 0, 0, false
					plain.Cols[i] = &cp
				}
				want, werr := x.Eval(newTestCtx(), plain)
				got, gerr := x.Eval(newTestCtx(), hb)
				if (werr != nil) != (gerr != nil) {
					t.Fatalf("%s (round %d): err %v with hints, %v without", e, round, gerr, werr)
				}
				if werr != nil {
					continue
				}
				for r := range hb.N {
					if g, w := normalize(got.Value(r)), normalize(want.Value(r)); g != w {
						t.Fatalf("%s (round %d) row %d (t=%v): %s with hints, %s without", e, round, r, hb.Cols[0].Value(r), g, w)
					}
				}
				if got.isConst() {
					for r := range hb.N {
						if got.IsNull(r) || normalize(got.Value(r)) != normalize(got.Value(0)) {
							t.Fatalf("%s: hinted constant, but row %d is %s, row 0 %s", e, r, normalize(got.Value(r)), normalize(got.Value(0)))
						}
					}
					constDays++
				}
				if got.Bounded {
					for r := range hb.N {
						if !got.IsNull(r) && (got.I[r] < got.Lo || got.I[r] > got.Hi) {
							t.Fatalf("%s: row %d is %d, outside its bounds [%d, %d]", e, r, got.I[r], got.Lo, got.Hi)
						}
					}
				}
			}
		}
	}
	// The one-bucket batches must have made constants, or this tested little.
	if constDays < 100 {
		t.Fatalf("only %d constant results", constDays)
	}
}

// TestConstantKeyGroups: a key column hinted as one value gets, for
// every row, the group its rows get without the hint, in every mode of
// the group table, and alone or beside a second key.
func TestConstantKeyGroups(t *testing.T) {
	ctx := newTestCtx()
	day := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC).UnixMicro()
	keys := []func(n int) *Column{
		func(n int) *Column { return fillConstInts(KindTime, types.Date, day, n) },
		func(n int) *Column { return fillConstInts(KindInt, types.Int64, 1<<40, n) },
		func(n int) *Column {
			c := &Column{Kind: KindAny, Type: types.Date, A: make([]any, n), Const: true}
			var v any = "2025-03-01"
			for r := range c.A {
				c.A[r] = v
			}
			return c
		},
		func(n int) *Column {
			return &Column{Kind: KindString, Type: types.Text, S: slices.Repeat([]string{"Signup"}, n), Const: true}
		},
	}
	other := func(n, seed int) *Column {
		c := &Column{Kind: KindInt, Type: types.Int64, I: make([]int64, n)}
		for r := range c.I {
			c.I[r] = int64((r*7 + seed) % 3)
		}
		return c
	}
	for i, mk := range keys {
		// One key; the constant first of two; the constant second.
		for form := range 3 {
			cols := []keyColumn{newKeyColumn(mk(1).Type)}
			if form > 0 {
				cols = append(cols, newKeyColumn(types.Int64))
			}
			if form == 2 {
				cols[0], cols[1] = cols[1], cols[0]
			}
			hinted, plain := newGroupTable(cols), newGroupTable(cols)
			two := form > 0
			for batch, rows := range []int{5, 1, 300, 0, 40} {
				hk := []*Column{mk(rows)}
				pk := []*Column{mk(rows)}
				pk[0].Bounded, pk[0].Const = false, false
				if two {
					hk = append(hk, other(rows, batch))
					pk = append(pk, other(rows, batch))
				}
				if form == 2 {
					hk[0], hk[1] = hk[1], hk[0]
					pk[0], pk[1] = pk[1], pk[0]
				}
				got, err := hinted.groups(ctx, hk, rows, nil)
				if err != nil {
					t.Fatal(err)
				}
				want, err := plain.groups(ctx, pk, rows, nil)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(got, want) || hinted.n != plain.n {
					t.Fatalf("key %d (form %d) batch %d: groups %v (%d) with the hint, %v (%d) without", i, form, batch, got, hinted.n, want, plain.n)
				}
			}
		}
	}
}

// TestSharedConst: concurrent callers get n copies of their key's value,
// from a slot or freshly made, also past the slots and past BatchSize.
func TestSharedConst(t *testing.T) {
	var s sharedConst[int64]
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 2000 {
				key := int64((i*7 + w) % 11)
				n := []int{1, 17, BatchSize, BatchSize + 3}[i%4]
				vals := s.get(key, n, func() int64 { return key * 10 })
				if len(vals) != n || vals[0] != key*10 || vals[n-1] != key*10 {
					errs <- fmt.Sprintf("key %d n %d: %d values, first %d, last %d", key, n, len(vals), vals[0], vals[n-1])
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatal(e)
	}
}

// TestCountOneGroup: COUNT's fold of a batch of one group adds what its
// fold row by row adds, with and without an argument and NULLs.
func TestCountOneGroup(t *testing.T) {
	ctx := newTestCtx()
	arg := &Column{Kind: KindInt, Type: types.Int64, I: make([]int64, 50), Nulls: make([]bool, 50)}
	for r := range arg.Nulls {
		arg.Nulls[r] = r%3 == 0
	}
	b := &Batch{N: 50, Cols: []*Column{arg}}
	for _, x := range []Expr{nil, &fieldExpr{idx: 0, typ: types.Int64, name: "a"}} {
		one, rows := &countAgg{arg: x}, &countAgg{arg: x}
		groups := make([]int32, 50)
		for i := range groups {
			groups[i] = 2
		}
		for range 2 {
			if err := one.addOneGroup(ctx, b, 2, 4); err != nil {
				t.Fatal(err)
			}
			if err := rows.add(ctx, b, groups, 4); err != nil {
				t.Fatal(err)
			}
		}
		if !slices.Equal(one.counts, rows.counts) || one.counts[2] == 0 {
			t.Fatalf("COUNT(%v): %v by one group, %v row by row", x, one.counts, rows.counts)
		}
	}
}

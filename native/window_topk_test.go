package native

// The window's row-number limit (window_topk.go) must keep every row
// whose ROW_NUMBER is at most n, with its true number, and no row whose
// number among the kept rows is at most n unless it truly is. These
// tests compute ROW_NUMBER over the whole input and over the rows
// collectTopRows keeps, and compare: with ties, NULL ORDER BY values,
// DESC, NULL partition keys, partitions whose rows keep displacing each
// other (compaction), and a batch without user numbers mid-stream (the
// rest kept whole).

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/expression"
	"github.com/dolthub/go-mysql-server/sql/types"
	"github.com/dolthub/vitess/go/sqltypes"

	"arb/engine"
)

// rowNumbers is each row's ROW_NUMBER over in, by the row's id (column 2).
func rowNumbers(t *testing.T, ctx *sql.Context, b *windowBlock, in *windowInput) map[int64]int {
	t.Helper()
	if in.n == 0 {
		return nil // the window hands out nothing without computing
	}
	mem := newMemCharge(ctx)
	orderVals, err := in.evalCols(ctx, b.orderKeys, mem)
	if err != nil {
		t.Fatal(err)
	}
	wr, err := b.order(ctx, in, keyCols(b.orderKeys, orderVals), mem)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := in.evalAll(ctx, &fieldExpr{idx: 2, typ: types.Int64, name: "id"}, mem)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int64]int{}
	for p := 0; p+1 < len(wr.parts); p++ {
		for k := wr.parts[p]; k < wr.parts[p+1]; k++ {
			out[ids.I[wr.perm[k]]] = k - wr.parts[p] + 1
		}
	}
	return out
}

func TestWindowTopRowsMatchRowNumber(t *testing.T) {
	ctx := sql.NewEmptyContext()
	idType := types.MustCreateString(sqltypes.Text, types.TextBlobMax, sql.Collation_utf8mb4_bin)
	r := rand.New(rand.NewPCG(9, 10))
	for trial := range 30 {
		n := []int{1, 2, 3, 0, 5}[trial%5]
		users := []int{40, 3, 1}[trial%3] // 1 user: many displacements, compaction
		stripAt := -1                     // the batch without numbers
		if trial%4 == 3 {
			stripAt = 1 + r.IntN(3)
		}
		orderKey := newSortKey(&fieldExpr{idx: 1, typ: types.Int64, name: "k"}, types.Int64)
		orderKey.desc = trial%2 == 1
		b := &windowBlock{
			partKeys:  []sortKey{newSortKey(&fieldExpr{idx: 0, typ: idType, name: "distinct_id"}, idType)},
			orderKeys: []sortKey{orderKey},
			fns:       []*windowFunc{{kind: fnRowNumber}},
		}
		full := &windowInput{cache: map[int]*Column{}}
		var id int64
		for bi := range 5 + r.IntN(4) {
			rows := 1 + r.IntN(3000)
			dist := userColumn(numberingBig)
			key := &Column{Kind: KindInt, Type: types.Int64, Nulls: make([]bool, 0, rows)}
			ids := &Column{Kind: KindInt, Type: types.Int64}
			for range rows {
				u := r.IntN(users)
				if r.IntN(30) == 0 {
					dist.S, dist.U, dist.Nulls = append(dist.S, ""), append(dist.U, 0), append(dist.Nulls, true)
				} else {
					dist.S, dist.U, dist.Nulls = append(dist.S, numberingBig.ID(uint32(u))), append(dist.U, uint32(u)), append(dist.Nulls, false)
				}
				// Mostly falling keys (a new best for ascending order at
				// every row), ties, a few NULLs.
				v := int64(100000 - int(id)/int(1+r.IntN(3)))
				if trial%3 == 2 {
					// Ties among the best, then better rows: which tied
					// row goes is the earlier-first rule.
					v = int64(100000 - int(id)/7 + r.IntN(3))
				}
				key.I, key.Nulls = append(key.I, v), append(key.Nulls, r.IntN(25) == 0)
				ids.I = append(ids.I, id)
				id++
			}
			if bi == stripAt {
				dist.U, dist.Users = nil, nil
			}
			bt := &Batch{N: rows, Cols: []*Column{dist, key, ids}}
			full.batches = append(full.batches, bt)
			full.n += rows
		}
		op := &windowOp{blocks: []*windowBlock{b}, rowLimit: n}
		mem := newMemCharge(ctx)
		kept, err := op.collectTopRows(ctx, &sliceIter{batches: append([]*Batch(nil), full.batches...)}, mem)
		if err != nil {
			t.Fatal(err)
		}
		want, got := rowNumbers(t, ctx, b, full), rowNumbers(t, ctx, b, kept)
		name := fmt.Sprintf("trial %d (n %d, %d users, desc %v, unnumbered batch %d)", trial, n, users, orderKey.desc, stripAt)
		if stripAt < 0 && n < 3 && users == 1 && kept.n > 3*BatchSize {
			t.Errorf("%s: kept %d of %d rows", name, kept.n, full.n)
		}
		inTop := 0
		for rowID, rn := range want {
			if rn > n {
				if g, ok := got[rowID]; ok && g <= n {
					t.Fatalf("%s: row %d numbered %d among the kept rows, truly %d", name, rowID, g, rn)
				}
				continue
			}
			inTop++
			if got[rowID] != rn {
				t.Fatalf("%s: row %d numbered %d among the kept rows, truly %d", name, rowID, got[rowID], rn)
			}
		}
		if n > 0 && inTop == 0 {
			t.Fatalf("%s: no row in the top %d: the trial tests nothing", name, n)
		}
		// Kept rows come in input order.
		prev := int64(-1)
		for _, bt := range kept.batches {
			for _, v := range bt.Cols[2].I {
				if v <= prev {
					t.Fatalf("%s: kept rows out of input order (%d after %d)", name, v, prev)
				}
				prev = v
			}
		}
	}
}

func TestWindowRowNumberBound(t *testing.T) {
	rn := expression.NewGetField(3, types.Int64, "rn", false)
	lit := func(v any) sql.Expression { return expression.NewLiteral(v, types.Int64) }
	for _, tc := range []struct {
		cond sql.Expression
		n    int
		ok   bool
	}{
		{expression.NewEquals(rn, lit(int64(1))), 1, true},
		{expression.NewEquals(lit(int8(2)), rn), 2, true},
		{expression.NewLessThanOrEqual(rn, lit(int64(3))), 3, true},
		{expression.NewLessThan(rn, lit(int64(3))), 2, true},
		{expression.NewGreaterThan(lit(int64(3)), rn), 2, true},
		{expression.NewGreaterThanOrEqual(lit(int64(3)), rn), 3, true},
		{expression.NewLessThan(rn, lit(int64(0))), 0, true},
		{expression.NewEquals(rn, lit(int64(-4))), 0, true},
		{expression.NewGreaterThan(rn, lit(int64(3))), 0, false},        // no upper bound
		{expression.NewLessThanOrEqual(lit(int64(3)), rn), 0, false},    // 3 <= rn
		{expression.NewLessThanOrEqual(rn, lit(int64(1000))), 0, false}, // too many to keep
		{expression.NewEquals(rn, expression.NewLiteral(1.5, types.Float64)), 0, false},
		{expression.NewNot(expression.NewEquals(rn, lit(int64(1)))), 0, false},
	} {
		field, n, ok := rowNumberBound(tc.cond)
		if ok != tc.ok || (ok && (n != tc.n || field != 3)) {
			t.Errorf("%s: got field %d, n %d, ok %v; want n %d, ok %v", tc.cond, field, n, ok, tc.n, tc.ok)
		}
	}
}

// The kept rows and the per-partition slots are charged to the
// statement's budget, and given back at release.
func TestWindowTopRowsMemoryBudget(t *testing.T) {
	idType := types.MustCreateString(sqltypes.Text, types.TextBlobMax, sql.Collation_utf8mb4_bin)
	input := func() BatchIter {
		var batches []*Batch
		for b := range 20 {
			nums := make([]int, BatchSize)
			key := &Column{Kind: KindInt, Type: types.Int64}
			for r := range nums {
				nums[r] = (b*BatchSize + r) % 100 // every row its user's best so far at first
				key.I = append(key.I, int64(-(b*BatchSize + r)))
			}
			batches = append(batches, &Batch{N: BatchSize, Cols: []*Column{userColumn(numberingBig, nums...), key}})
		}
		return &sliceIter{batches: batches}
	}
	block := &windowBlock{
		partKeys:  []sortKey{newSortKey(&fieldExpr{idx: 0, typ: idType, name: "distinct_id"}, idType)},
		orderKeys: []sortKey{newSortKey(&fieldExpr{idx: 1, typ: types.Int64, name: "k"}, types.Int64)},
		fns:       []*windowFunc{{kind: fnRowNumber}},
	}
	op := &windowOp{blocks: []*windowBlock{block}, rowLimit: 2}
	ctx := sql.NewContext(engine.WithMemoryBudget(context.Background(), engine.NewMemoryBudget(64<<10)))
	if _, err := op.collectTopRows(ctx, input(), newMemCharge(ctx)); !errors.Is(err, engine.ErrMemoryLimit) {
		t.Fatalf("64 KiB budget: err %v, want ErrMemoryLimit", err)
	}
	pool := engine.NewMemoryPool(1 << 30)
	budget := engine.NewMemoryBudgetIn(pool, 1<<30)
	ctx = sql.NewContext(engine.WithMemoryBudget(context.Background(), budget))
	mem := newMemCharge(ctx)
	kept, err := op.collectTopRows(ctx, input(), mem)
	if err != nil {
		t.Fatal(err)
	}
	if kept.n != 200 {
		t.Fatalf("kept %d rows, want the best 2 of 100 users", kept.n)
	}
	if budget.PeakBytes() < BatchSize*8 {
		t.Fatalf("peak charge %d bytes", budget.PeakBytes())
	}
	mem.release()
	if used := pool.UsedBytes(); used != 0 {
		t.Fatalf("%d bytes still charged after release", used)
	}
}

// A worker's top rows (trackPos: rows held pending until flushPending)
// keep exactly the rows the serial top rows keeps, in the same order and
// with their positions, wherever the flushes fall: mid-stream, after
// every batch, or only at the end; the pending batches' charge is given
// back.
func TestWindowTopRowsPendingMatchesSerial(t *testing.T) {
	ctx := sql.NewEmptyContext()
	idType := types.MustCreateString(sqltypes.Text, types.TextBlobMax, sql.Collation_utf8mb4_bin)
	r := rand.New(rand.NewPCG(11, 12))
	for trial := range 24 {
		n := []int{1, 2, 3}[trial%3]
		users := []int{50, 4, 1}[trial%3]
		b := &windowBlock{
			partKeys:  []sortKey{newSortKey(&fieldExpr{idx: 0, typ: idType, name: "distinct_id"}, idType)},
			orderKeys: []sortKey{newSortKey(&fieldExpr{idx: 1, typ: types.Int64, name: "k"}, types.Int64)},
			fns:       []*windowFunc{{kind: fnRowNumber}},
		}
		var batches []*Batch
		var id int64
		for range 4 + r.IntN(6) {
			rows := 1 + r.IntN(700)
			dist := userColumn(numberingBig)
			key := &Column{Kind: KindInt, Type: types.Int64, Nulls: make([]bool, 0, rows)}
			ids := &Column{Kind: KindInt, Type: types.Int64}
			for range rows {
				u := r.IntN(users)
				dist.S, dist.U, dist.Nulls = append(dist.S, numberingBig.ID(uint32(u))), append(dist.U, uint32(u)), append(dist.Nulls, false)
				// Random order with ties: rows enter and leave the best n.
				key.I, key.Nulls = append(key.I, int64(r.IntN(200))), append(key.Nulls, r.IntN(40) == 0)
				ids.I = append(ids.I, id)
				id++
			}
			batches = append(batches, &Batch{N: rows, Cols: []*Column{dist, key, ids}})
		}
		op := &windowOp{blocks: []*windowBlock{b}, rowLimit: n}
		serial, err := op.collectTopRows(ctx, &sliceIter{batches: append([]*Batch(nil), batches...)}, newMemCharge(ctx))
		if err != nil {
			t.Fatal(err)
		}
		pool := engine.NewMemoryPool(1 << 30)
		wctx := sql.NewContext(engine.WithMemoryBudget(context.Background(), engine.NewMemoryBudgetIn(pool, 1<<30)))
		mem := newMemCharge(wctx)
		w := op.newTopRows()
		w.trackPos = true
		var pos int64
		for bi, bt := range batches {
			w.nextPos = pos
			pos += int64(bt.N)
			if err := w.add(wctx, bt, mem); err != nil {
				t.Fatal(err)
			}
			if (trial%4 == 1) || (trial%4 == 2 && r.IntN(3) == 0 && bi > 0) {
				if err := w.flushPending(mem); err != nil {
					t.Fatal(err)
				}
			}
		}
		if err := w.flushPending(mem); err != nil {
			t.Fatal(err)
		}
		if w.pendN != 0 || len(w.pendBatches) != 0 {
			t.Fatalf("trial %d: %d rows still pending", trial, w.pendN)
		}
		kept := w.compact()
		var want, got []int64
		for _, bt := range serial.batches {
			want = append(want, bt.Cols[2].I...)
		}
		got = append(got, kept.Cols[2].I...)
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("trial %d (n %d, %d users): worker kept %v\nserial kept %v", trial, n, users, got, want)
		}
		for i, p := range w.pos[:kept.N] {
			if p != got[i] { // ids are input positions
				t.Fatalf("trial %d: kept row %d (id %d) at position %d", trial, i, got[i], p)
			}
		}
		before := pool.UsedBytes()
		mem.release()
		if before <= 0 || pool.UsedBytes() != 0 {
			t.Fatalf("trial %d: %d bytes charged, %d after release", trial, before, pool.UsedBytes())
		}
	}
}

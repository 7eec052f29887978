package native

// Tests of the join operator against a reference: random inputs with
// NULLs, duplicate keys and key chains longer than a chunk, every join
// kind, checked row for row against the nested-loop semantics of
// go-mysql-server's joinIter/existsIter written out plainly below; and
// the memory budget and cancellation.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/expression"
	"github.com/dolthub/go-mysql-server/sql/types"

	"arb/engine"
)

// joinTestSource is an operator that yields fixed batches.
type joinTestSource struct {
	sch     sql.Schema
	batches []*Batch
}

func (s *joinTestSource) Schema() sql.Schema   { return s.sch }
func (s *joinTestSource) Children() []Operator { return nil }
func (s *joinTestSource) Describe() string     { return "test source" }
func (s *joinTestSource) Open(*sql.Context, *Run) (BatchIter, error) {
	return &sliceIter{batches: slices.Clone(s.batches)}, nil
}

// drainJoin plans op on cond (lsch, rsch: its inputs' schemas; both:
// theirs together), runs it to the end and returns its rows as text and
// its iterator (for what a test asks of the probe it took). Every batch
// must hold 1..BatchSize rows; an error fails the test.
func drainJoin(t *testing.T, ctx *sql.Context, op *joinOp, cond sql.Expression, lsch, rsch, both sql.Schema) ([]string, *joinIter) {
	t.Helper()
	if reason := op.planCondition(ctx, cond, lsch, rsch, both); reason != "" {
		t.Fatal(reason)
	}
	bi, err := op.Open(ctx, &Run{})
	if err != nil {
		t.Fatal(err)
	}
	defer bi.Close(ctx)
	var out []string
	for {
		b, err := bi.Next(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if b.N == 0 || b.N > BatchSize {
			t.Fatalf("batch of %d rows", b.N)
		}
		for r := range b.N {
			out = append(out, fmt.Sprint(b.Row(r)))
		}
	}
	return out, bi.(*joinIter)
}

// joinTestRows is rows of (k, v) as batches of at most size rows; a nil
// pointer is NULL.
func joinTestRows(sch sql.Schema, rows [][2]*int64, size int) []*Batch {
	var out []*Batch
	for i := 0; i < len(rows); i += size {
		part := rows[i:min(i+size, len(rows))]
		b := &Batch{N: len(part), Cols: []*Column{NewColumn(sch[0].Type, len(part)), NewColumn(sch[1].Type, len(part))}}
		for _, r := range part {
			for j := range 2 {
				if r[j] == nil {
					b.Cols[j].Append(nil)
				} else {
					b.Cols[j].Append(*r[j])
				}
			}
		}
		out = append(out, b)
	}
	return out
}

// joinTestOp is a join of kind over (k, v) inputs on l.k = r.k AND
// l.v < r.v (withResidual) or l.k = r.k; keyless makes it l.k + 0 = r.k
// evaluated per pair (a nested loop).
func joinTestOp(t *testing.T, kind joinKind, left, right []*Batch, withResidual, keyless bool) *joinOp {
	return joinTestOpKeys(t, kind, left, right, withResidual, keyless, false)
}

// joinTestOpKeys is joinTestOp; twoKeys hashes l.k = r.k AND l.v = r.v
// (a key of two columns) instead.
func joinTestOpKeys(t *testing.T, kind joinKind, left, right []*Batch, withResidual, keyless, twoKeys bool) *joinOp {
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
	var lk sql.Expression = gf(0)
	if keyless {
		lk = expression.NewPlus(gf(0), expression.NewLiteral(int64(0), types.Int64))
	}
	var cond sql.Expression = expression.NewEquals(lk, gf(2))
	if keyless {
		// An OR keeps the conjunct from being hashed.
		cond = expression.NewOr(cond, expression.NewLiteral(false, types.Boolean))
	}
	if withResidual {
		cond = expression.NewAnd(cond, expression.NewLessThan(gf(1), gf(3)))
	}
	if twoKeys {
		cond = expression.NewAnd(expression.NewEquals(gf(0), gf(2)), expression.NewEquals(gf(1), gf(3)))
	}
	sch := append(append(sql.Schema{}, lsch...), rsch...)
	if kind.partial() {
		sch = lsch
	}
	op := &joinOp{kind: kind, sch: sch, nl: 2, nr: 2,
		left:  &joinTestSource{sch: lsch, batches: left},
		right: &joinTestSource{sch: rsch, batches: right}}
	if kind != joinCross {
		if reason := op.planCondition(ctx, cond, lsch, rsch, both); reason != "" {
			t.Fatal(reason)
		}
		if keyless == (len(op.keys) > 0) || twoKeys && len(op.keys) != 2 {
			t.Fatalf("keys %d for keyless=%v twoKeys=%v", len(op.keys), keyless, twoKeys)
		}
	}
	return op
}

// joinTestRun runs op and prints its rows.
func joinTestRun(ctx *sql.Context, op *joinOp) ([]string, error) {
	it, err := op.Open(ctx, &Run{})
	if err != nil {
		return nil, err
	}
	defer it.Close(ctx)
	var out []string
	for {
		b, err := it.Next(ctx)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if b.N == 0 || b.N > BatchSize {
			return nil, fmt.Errorf("batch of %d rows", b.N)
		}
		for r := range b.N {
			out = append(out, fmt.Sprint(b.Row(r)))
		}
	}
}

// joinReference is go-mysql-server's nested-loop semantics of kind over
// the rows, condition k = k [AND v < v] in SQL's three-valued logic.
func joinReference(kind joinKind, left, right [][2]*int64, withResidual bool) []string {
	return joinReferenceKeys(kind, left, right, withResidual, false)
}

// joinReferenceKeys is joinReference; twoKeys: k = k AND v = v.
func joinReferenceKeys(kind joinKind, left, right [][2]*int64, withResidual, twoKeys bool) []string {
	eq := func(a, b *int64, less bool) int8 {
		switch {
		case a == nil || b == nil:
			return pairNull
		case (!less && *a == *b) || (less && *a < *b):
			return pairTrue
		}
		return pairFalse
	}
	and := func(a, b int8) int8 {
		switch {
		case a == pairFalse || b == pairFalse:
			return pairFalse
		case a == pairNull || b == pairNull:
			return pairNull
		}
		return pairTrue
	}
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
			c := pairTrue
			if kind != joinCross {
				c = eq(l[0], r[0], false)
				if withResidual {
					c = and(c, eq(l[1], r[1], true))
				}
				if twoKeys {
					c = and(eq(l[0], r[0], false), eq(l[1], r[1], false))
				}
			}
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
		switch kind {
		case joinLeftOuter:
			if !matched {
				out = append(out, fmt.Sprint(sql.Row{val(l[0]), val(l[1]), nil, nil}))
			}
		case joinLeftOuterExcludeNulls:
			if !matched && !sawNull {
				out = append(out, fmt.Sprint(sql.Row{val(l[0]), val(l[1]), nil, nil}))
			}
		case joinSemi, joinAnti, joinAntiIncludeNulls:
			emit := matched
			if kind == joinAnti {
				emit = !matched && !sawNull
			} else if kind == joinAntiIncludeNulls {
				emit = !matched
			}
			if emit {
				out = append(out, fmt.Sprint(sql.Row{val(l[0]), val(l[1])}))
			}
		}
	}
	return out
}

func joinTestRandomRows(rng *rand.Rand, n, keys int, nullP float64) [][2]*int64 {
	rows := make([][2]*int64, n)
	for i := range rows {
		for j := range 2 {
			if rng.Float64() < nullP {
				continue
			}
			v := int64(rng.IntN(keys))
			if j == 1 {
				v = int64(rng.IntN(100))
			}
			rows[i][j] = &v
		}
	}
	return rows
}

// TestJoinAgainstReference runs every kind over random inputs, some with
// a key shared by more right rows than a chunk holds, in left batches
// of several sizes, hashed and as a nested loop, with the left input
// read whole before the right (its keys filter the right rows) or not.
func TestJoinAgainstReference(t *testing.T) {
	seed := rand.Uint64()
	rng := rand.New(rand.NewPCG(seed, 7))
	ctx := sql.NewEmptyContext()
	kinds := []joinKind{joinInner, joinLeftOuter, joinLeftOuterExcludeNulls, joinSemi, joinAnti, joinAntiIncludeNulls, joinCross}
	defer func(n int, b int64) { joinReadAhead, joinReadAheadBytes = n, b }(joinReadAhead, joinReadAheadBytes)
	joinReadAheadBytes = 0
	for round := range 18 {
		joinReadAhead = []int{1 << 16, 5, 1}[(round/3)%3]
		nl, nr, keys := 1+rng.IntN(300), rng.IntN(300), 1+rng.IntN(20)
		if round%4 == 3 {
			nl, nr, keys = 1+rng.IntN(12), BatchSize+500, 1 // chains longer than a chunk
		}
		nullP := []float64{0, 0.1, 0.4}[round%3]
		left := joinTestRandomRows(rng, nl, keys, nullP)
		right := joinTestRandomRows(rng, nr, keys, nullP)
		size := []int{1, 7, BatchSize}[rng.IntN(3)]
		for _, kind := range kinds {
			for _, residual := range []bool{false, true} {
				for _, keyless := range []bool{false, true} {
					if kind == joinCross && (residual || keyless) || keyless && nr > 1000 {
						continue
					}
					op := joinTestOp(t, kind, joinTestRows(nil2(), left, size), joinTestRows(nil2(), right, 1+rng.IntN(BatchSize)), residual, keyless)
					got, err := joinTestRun(ctx, op)
					if err != nil {
						t.Fatalf("seed %d: %v", seed, err)
					}
					want := joinReference(kind, left, right, residual)
					if !slices.Equal(got, want) {
						t.Fatalf("seed %d round %d: %s residual=%v keyless=%v (%d×%d rows): got %d rows, want %d\n%s",
							seed, round, kind, residual, keyless, nl, nr, len(got), len(want), joinTestDiff(got, want))
					}
				}
			}
			if kind != joinCross {
				op := joinTestOpKeys(t, kind, joinTestRows(nil2(), left, size), joinTestRows(nil2(), right, 1+rng.IntN(BatchSize)), false, false, true)
				got, err := joinTestRun(ctx, op)
				if err != nil {
					t.Fatalf("seed %d: %v", seed, err)
				}
				if want := joinReferenceKeys(kind, left, right, false, true); !slices.Equal(got, want) {
					t.Fatalf("seed %d round %d: %s on two keys (%d×%d rows): got %d rows, want %d\n%s",
						seed, round, kind, nl, nr, len(got), len(want), joinTestDiff(got, want))
				}
			}
		}
	}
}

func nil2() sql.Schema {
	return sql.Schema{{Type: types.Int64, Nullable: true}, {Type: types.Int64, Nullable: true}}
}

func joinTestDiff(got, want []string) string {
	for i := range max(len(got), len(want)) {
		var g, w string
		if i < len(got) {
			g = got[i]
		}
		if i < len(want) {
			w = want[i]
		}
		if g != w {
			return fmt.Sprintf("first difference at row %d: got %q want %q", i, g, w)
		}
	}
	return ""
}

// TestJoinMemoryBudget: the right input and the table are charged, a
// budget too small fails the query, and Close gives the charge back.
func TestJoinMemoryBudget(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	left := joinTestRandomRows(rng, 100, 50, 0)
	right := joinTestRandomRows(rng, 20000, 50, 0)
	op := joinTestOp(t, joinInner, joinTestRows(nil2(), left, 64), joinTestRows(nil2(), right, BatchSize), true, false)

	small := engine.NewMemoryBudget(64 << 10)
	_, err := joinTestRun(sql.NewContext(engine.WithMemoryBudget(context.Background(), small)), op)
	if !errors.Is(err, engine.ErrMemoryLimit) {
		t.Fatalf("64 KiB budget: err %v, want a memory limit error", err)
	}

	pool := engine.NewMemoryPool(1 << 30)
	big := engine.NewMemoryBudgetIn(pool, 1<<30)
	ctx := sql.NewContext(engine.WithMemoryBudget(context.Background(), big))
	it, err := op.Open(ctx, &Run{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := it.Next(ctx); err != nil {
		t.Fatal(err)
	}
	// 20000 rows of two int64 columns at least.
	if used := pool.UsedBytes(); used < 20000*16 {
		t.Fatalf("charged %d bytes while the right input is held", used)
	}
	if err := it.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if used := pool.UsedBytes(); used != 0 {
		t.Fatalf("%d bytes still charged after Close", used)
	}

	// The left input read ahead of the right is charged too.
	op = joinTestOp(t, joinSemi, joinTestRows(nil2(), right, BatchSize), joinTestRows(nil2(), left, 64), false, false)
	small = engine.NewMemoryBudget(64 << 10)
	if _, err := joinTestRun(sql.NewContext(engine.WithMemoryBudget(context.Background(), small)), op); !errors.Is(err, engine.ErrMemoryLimit) {
		t.Fatalf("64 KiB budget, 20000 left rows read ahead: err %v, want a memory limit error", err)
	}
	ctx = sql.NewContext(engine.WithMemoryBudget(context.Background(), big))
	if _, err := joinTestRun(ctx, op); err != nil {
		t.Fatal(err)
	}
	if used := pool.UsedBytes(); used != 0 {
		t.Fatalf("%d bytes still charged after the semi join", used)
	}
}

// TestJoinCancel: a cancelled statement stops the join with its error.
func TestJoinCancel(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	rows := joinTestRandomRows(rng, 2000, 1, 0)
	op := joinTestOp(t, joinCross, joinTestRows(nil2(), rows, 100), joinTestRows(nil2(), rows, 100), false, false)
	cctx, cancel := context.WithCancel(context.Background())
	ctx := sql.NewContext(cctx)
	it, err := op.Open(ctx, &Run{})
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close(ctx)
	if _, err := it.Next(ctx); err != nil {
		t.Fatal(err)
	}
	cancel()
	for range 10 {
		if _, err = it.Next(ctx); err != nil {
			break
		}
	}
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("after cancel: %v", err)
	}
}

// TestJoinKeyEncoding: keys hash alike exactly when Equals says equal.
func TestJoinKeyEncoding(t *testing.T) {
	enc := func(k joinKey, v any, typ sql.Type) (string, keyState) {
		c := NewColumn(typ, 1)
		c.Append(v)
		buf, st := appendKeyValue(nil, c, 0, k, false)
		return string(buf), st
	}
	same := func(k joinKey, a, b any, ta, tb sql.Type, want bool) {
		t.Helper()
		ea, sa := enc(k, a, ta)
		eb, sb := enc(k, b, tb)
		if sa != keyOK || sb != keyOK {
			t.Fatalf("%v, %v: states %d %d", a, b, sa, sb)
		}
		if (ea == eb) != want {
			t.Fatalf("%v vs %v: equal keys %v, want %v", a, b, ea == eb, want)
		}
	}
	fk := joinKey{class: keyFloat}
	same(fk, 0.0, math.Copysign(0, -1), types.Float64, types.Float64, true)
	same(fk, int64(2), 2.0, types.Int64, types.Float64, true)
	same(fk, int64(2), 2.5, types.Int64, types.Float64, false)
	sk := joinKey{class: keyStr}
	same(sk, "a\xffb", "a\uFFFDb", types.Text, types.Text, true) // one U+FFFD per invalid byte
	same(sk, "a\xff\xfeb", "a\uFFFDb", types.Text, types.Text, false)
	same(sk, "b", "b ", types.Text, types.Text, false)
	wk := joinKey{class: keyWeights, coll: sql.Collation_utf8mb4_0900_ai_ci}
	same(wk, "Abc", "aBC", types.Text, types.Text, true)
	same(wk, "É", "e", types.Text, types.Text, true)
	same(wk, "abc", "abd", types.Text, types.Text, false)
	if _, st := enc(joinKey{class: keyInt}, "x", types.Int64); st != keyWild {
		t.Fatalf("a string in an integer key: state %d, want wild", st)
	}
}

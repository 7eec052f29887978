package native

// The user-number path of the window's order (window_partition.go) must
// put every row in the partition, at the position within it, that the
// comparison sort gives: these tests run both over the same rows (ties
// and NULLs in the ORDER BY key, NULL and all-NULL partition keys, rows
// already in order and not) and compare row by row. Partitions may come
// in another order: only membership and position count.

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/types"
	"github.com/dolthub/vitess/go/sqltypes"

	"arb/storage"
)

// rowPlace is where a window order puts a row: the first input row of
// its partition (which names the partition whatever the partitions'
// order) and its position within the partition.
type rowPlace struct{ partition, pos int32 }

func placesOf(t *testing.T, wr *windowRows) []rowPlace {
	t.Helper()
	out := make([]rowPlace, wr.n)
	for p := 0; p+1 < len(wr.parts); p++ {
		first := int32(wr.n)
		for k := wr.parts[p]; k < wr.parts[p+1]; k++ {
			first = min(first, wr.perm[k])
		}
		for k := wr.parts[p]; k < wr.parts[p+1]; k++ {
			out[wr.perm[k]] = rowPlace{first, int32(k - wr.parts[p])}
		}
	}
	return out
}

// windowTestInput is batches of (distinct_id with user numbers under
// numberingBig, an order key n with ties and NULLs); allNull makes some
// batches' distinct_id a KindNull column, sorted makes a user's keys
// arrive in order.
func windowTestInput(r *rand.Rand, batches int, allNull, sorted bool) *windowInput {
	in := &windowInput{cache: map[int]*Column{}}
	next := map[uint32]int64{}
	for range batches {
		n := 1 + r.IntN(300)
		id := userColumn(numberingBig)
		if allNull && r.IntN(3) == 0 {
			id = &Column{Kind: KindNull, Type: types.LongText, Nulls: make([]bool, n)}
			for i := range id.Nulls {
				id.Nulls[i] = true
			}
		}
		key := &Column{Kind: KindInt, Type: types.Int64}
		for range n {
			u := r.IntN(40)
			if id.Kind == KindString {
				if r.IntN(20) == 0 {
					id.S, id.U, id.Nulls = append(id.S, ""), append(id.U, 0), append(id.Nulls, true)
				} else {
					id.S, id.U, id.Nulls = append(id.S, numberingBig.ID(uint32(u))), append(id.U, uint32(u)), append(id.Nulls, false)
				}
			}
			v := int64(r.IntN(5))
			if sorted {
				next[uint32(u)] += int64(r.IntN(2))
				v = next[uint32(u)]
			}
			key.I = append(key.I, v)
			if !sorted && r.IntN(10) == 0 {
				if key.Nulls == nil {
					key.Nulls = make([]bool, len(key.I)-1, n)
				}
				key.Nulls = append(key.Nulls, true)
			} else if key.Nulls != nil {
				key.Nulls = append(key.Nulls, false)
			}
		}
		if id.Kind == KindString && !slices.Contains(id.Nulls, true) {
			id.Nulls = nil // a column without NULLs, as the scan hands it out
		}
		in.batches = append(in.batches, &Batch{N: n, Cols: []*Column{id, key}})
		in.n += n
	}
	return in
}

func TestWindowUserPartitionsMatchComparison(t *testing.T) {
	ctx := sql.NewEmptyContext()
	idType := types.MustCreateString(sqltypes.Text, types.TextBlobMax, sql.Collation_utf8mb4_bin)
	r := rand.New(rand.NewPCG(7, 8))
	for trial := range 40 {
		allNull, sorted := trial%3 == 1, trial%4 >= 2
		in := windowTestInput(r, 1+r.IntN(6), allNull, sorted)
		order := newSortKey(&fieldExpr{idx: 1, typ: types.Int64, name: "n"}, types.Int64)
		order.desc = trial%2 == 1
		order.nullsFirst = trial%5 < 2
		b := &windowBlock{
			partKeys:  []sortKey{newSortKey(&fieldExpr{idx: 0, typ: idType, name: "distinct_id"}, idType)},
			orderKeys: []sortKey{order},
		}
		mem := newMemCharge(ctx)
		orderVals, err := in.evalCols(ctx, b.orderKeys, mem)
		if err != nil {
			t.Fatal(err)
		}
		orderCols := keyCols(b.orderKeys, orderVals)
		if _, ok := in.userKeyOf(b.partKeys); !ok {
			t.Fatalf("trial %d: the numbered key took the comparison path", trial)
		}
		fast, err := b.order(ctx, in, orderCols, mem)
		if err != nil {
			t.Fatal(err)
		}
		// The same rows without their numbers: the comparison sort.
		plain := &windowInput{n: in.n, cache: map[int]*Column{}}
		for _, bt := range in.batches {
			id := *bt.Cols[0]
			id.U, id.Users = nil, nil
			plain.batches = append(plain.batches, &Batch{N: bt.N, Cols: []*Column{&id, bt.Cols[1]}})
		}
		strings := false
		for _, bt := range in.batches {
			strings = strings || bt.Cols[0].Kind == KindString
		}
		// Without numbers only all-NULL keys (one NULL partition) qualify.
		if _, ok := plain.userKeyOf(b.partKeys); ok && strings {
			t.Fatalf("trial %d: a key without numbers took the user-number path", trial)
		}
		slow, err := b.order(ctx, plain, orderCols, mem)
		if err != nil {
			t.Fatal(err)
		}
		if len(fast.parts) != len(slow.parts) {
			t.Fatalf("trial %d: %d partitions, comparison sort %d", trial, len(fast.parts)-1, len(slow.parts)-1)
		}
		got, want := placesOf(t, fast), placesOf(t, slow)
		for row := range want {
			if got[row] != want[row] {
				t.Fatalf("trial %d (desc %v, nulls first %v): row %d at %+v, comparison sort %+v",
					trial, order.desc, order.nullsFirst, row, got[row], want[row])
			}
		}
	}
}

func TestWindowUserPartitionsRefuse(t *testing.T) {
	ctx := sql.NewEmptyContext()
	idType := types.MustCreateString(sqltypes.Text, types.TextBlobMax, sql.Collation_utf8mb4_bin)
	key := []sortKey{newSortKey(&fieldExpr{idx: 0, typ: idType, name: "distinct_id"}, idType)}
	mem := newMemCharge(ctx)
	// Two numberings: number 0 is "x" in one and "z" in the other.
	twoNumberings := &windowInput{n: 4, batches: []*Batch{
		{N: 2, Cols: []*Column{userColumn(numberingA, 0, 1)}},
		{N: 2, Cols: []*Column{userColumn(numberingB, 0, 1)}},
	}}
	if _, ok := twoNumberings.userKeyOf(key); ok {
		t.Error("numbers of two numberings keyed one partition set")
	}
	// A case-insensitive collation: 'x' and 'X' would be one partition.
	ci := types.MustCreateString(sqltypes.Text, types.TextBlobMax, sql.Collation_utf8mb4_0900_ai_ci)
	ciKey := []sortKey{newSortKey(&fieldExpr{idx: 0, typ: ci, name: "distinct_id"}, ci)}
	one := &windowInput{n: 2, batches: []*Batch{{N: 2, Cols: []*Column{userColumn(numberingA, 0, 1)}}}}
	if _, ok := one.userKeyOf(ciKey); ok {
		t.Error("a case-insensitive key took the user-number path")
	}
	// A string that is not UTF-8: go-mysql-server's comparison decides.
	bad := storage.NewUserIDs([]string{"ok", "\xff\xfe"})
	badIn := &windowInput{n: 2, batches: []*Batch{{N: 2, Cols: []*Column{userColumn(bad, 0, 1)}}}}
	uk, ok := badIn.userKeyOf(key)
	if !ok {
		t.Fatal("numbered key refused")
	}
	if _, _, ok, _ := userPartitions(uk, 2, mem); ok {
		t.Error("invalid UTF-8 partitioned by number")
	}
}

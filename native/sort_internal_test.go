package native

// Tests of sort.go's column concatenation, which Sort, TopN and the
// window operator materialize their input with: batches of one column
// may come in different Kinds (a go-mysql-server child's rows, a NULL
// literal's column), and the values must survive whatever mix arrives.

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/dolthub/go-mysql-server/sql/types"
)

func TestSortAppendColumn(t *testing.T) {
	mk := func(kind string) *Column {
		switch kind {
		case "int":
			c := NewColumn(types.Int64, 3)
			c.Append(int64(1))
			c.AppendNull()
			c.Append(int64(3))
			return c
		case "str":
			c := NewColumn(types.Text, 2)
			c.Append("a")
			c.Append("b")
			return c
		case "null":
			return ConstColumn(types.Null, nil, 2)
		}
		panic(kind)
	}
	for _, seq := range [][]string{
		{"int", "null", "int"}, {"null", "int"}, {"null", "null"}, {"int", "str"},
		{"str", "null", "int"}, {"null", "str", "null"}, {"int", "int"},
	} {
		t.Run(strings.Join(seq, "+"), func(t *testing.T) {
			first := mk(seq[0])
			dst := &Column{Kind: first.Kind, Type: first.Type}
			var want []any
			for _, kind := range seq {
				c := mk(kind)
				for r := range c.Len() {
					want = append(want, c.Value(r))
				}
				appendColumn(dst, c)
			}
			if dst.Len() != len(want) {
				t.Fatalf("%d values, want %d", dst.Len(), len(want))
			}
			for r, w := range want {
				if got := dst.Value(r); got != w {
					t.Fatalf("row %d: %v, want %v (%s)", r, got, w, dst)
				}
			}
		})
	}
}

func TestSortDayOf(t *testing.T) {
	for _, tc := range []struct {
		us, day int64
	}{
		{0, 0}, {dayMicros - 1, 0}, {dayMicros, 1}, {-1, -1}, {-dayMicros, -1}, {-dayMicros - 1, -2},
	} {
		if got := utcDayOf(tc.us); got != tc.day {
			t.Errorf("utcDayOf(%d) = %d, want %d", tc.us, got, tc.day)
		}
	}
}

// TestSortRadixMatchesComparison sorts random slim entries (NULL marks,
// repeated and extreme keys) by radix and by slimSortedOrder's
// comparison: the same permutation.
func TestSortRadixMatchesComparison(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{radixSortFrom, 3 * radixSortFrom} {
		entries := make([]sortEntry, n)
		for i := range entries {
			e := &entries[i]
			e.idx = int32(i)
			e.k1 = []uint64{0, 1, 1 << 40, ^uint64(0), r.Uint64N(50)}[r.IntN(5)]
			e.k2 = []uint64{r.Uint64(), 1<<63 + r.Uint64N(1000), 7}[r.IntN(3)]
			e.null1, e.null2 = int8(r.IntN(3)-1)*int8(r.IntN(2)), int8(r.IntN(3)-1)*int8(r.IntN(2))
		}
		got := slimSortedOrder(entries, make([]int32, n))
		slim := make([]slimEntry, n)
		for i, e := range entries {
			slim[i] = slimEntry{k1: e.k1, k2: e.k2, idx: e.idx, null1: e.null1, null2: e.null2}
		}
		slices.SortStableFunc(slim, func(a, b slimEntry) int {
			return cmp.Or(cmp.Compare(a.null1, b.null1), cmp.Compare(a.k1, b.k1), cmp.Compare(a.null2, b.null2), cmp.Compare(a.k2, b.k2))
		})
		for i, e := range slim {
			if got[i] != e.idx {
				t.Fatalf("n %d: position %d holds row %d, want %d", n, i, got[i], e.idx)
			}
		}
	}
}

// appendGathered must leave dst as appendBatch of the gathered rows
// does: the same values, NULL marks and user numbers (kept only while
// every batch brings numbers of one numbering).
func TestSortAppendGathered(t *testing.T) {
	mk := func(kind string) *Column {
		switch kind {
		case "int":
			c := NewColumn(types.Int64, 4)
			c.Append(int64(1))
			c.AppendNull()
			c.Append(int64(3))
			c.Append(int64(4))
			return c
		case "float":
			c := NewColumn(types.Float64, 4)
			for _, v := range []float64{0.5, 1.5, 2.5, 3.5} {
				c.Append(v)
			}
			return c
		case "usersA":
			return userColumn(numberingA, 0, -1, 2, 1)
		case "usersB":
			return userColumn(numberingB, 3, 0, -1, 2)
		case "str":
			c := NewColumn(types.Text, 4)
			for _, v := range []string{"p", "q", "r", "s"} {
				c.Append(v)
			}
			return c
		case "null":
			return ConstColumn(types.Null, nil, 4)
		}
		panic(kind)
	}
	sels := [][]int32{{0, 2}, {1, 3}, {3}, {0, 1, 2}}
	for _, seq := range [][]string{
		{"int", "int", "null", "int"}, {"float", "float"}, {"usersA", "usersA", "usersA"}, {"usersA", "usersB"},
		{"usersA", "str", "usersA"}, {"str", "null", "str"}, {"int", "str"}, {"null", "int", "int"},
	} {
		t.Run(strings.Join(seq, "+"), func(t *testing.T) {
			var got, want *Batch
			for i, kind := range seq {
				src := &Batch{N: 4, Cols: []*Column{mk(kind)}}
				if got == nil {
					got, want = newOwnedBatch(src), newOwnedBatch(src)
				}
				appendGathered(got, src, sels[i%len(sels)])
				appendBatch(want, src.Gather(sels[i%len(sels)]))
			}
			g, w := got.Cols[0], want.Cols[0]
			if got.N != want.N || g.Len() != w.Len() || g.Kind != w.Kind {
				t.Fatalf("got %d rows %s, want %d rows %s", got.N, g, want.N, w)
			}
			for r := range w.Len() {
				if g.Value(r) != w.Value(r) || g.IsNull(r) != w.IsNull(r) {
					t.Fatalf("row %d: %v, want %v", r, g.Value(r), w.Value(r))
				}
			}
			if !slices.Equal(g.U, w.U) || (g.U != nil && !g.Users.SameNumbering(w.Users)) {
				t.Fatalf("user numbers %v, want %v", g.U, w.U)
			}
			if strings.HasPrefix(seq[0], "users") && seq[len(seq)-1] == seq[0] && !slices.Contains(seq, "str") && !slices.Contains(seq, "usersB") && g.U == nil {
				t.Fatal("numbers of one numbering were dropped")
			}
		})
	}
}

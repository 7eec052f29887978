package native

// The coded probe (join_coded.go) pairs left rows by dictionary code:
// a join must give the same rows, in the same order, whether its left
// key column comes with codes or not.

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/expression"
	"github.com/dolthub/go-mysql-server/sql/types"
)

func TestJoinByDictionaryCode(t *testing.T) {
	ctx := sql.NewEmptyContext()
	text := types.LongText
	lsch := sql.Schema{{Name: "k", Source: "l", Type: text, Nullable: true}, {Name: "v", Source: "l", Type: types.Int64, Nullable: true}}
	rsch := sql.Schema{{Name: "k", Source: "r", Type: text, Nullable: true}, {Name: "v", Source: "r", Type: types.Int64, Nullable: true}}
	both := append(append(sql.Schema{}, lsch...), rsch...)
	gf := func(i int) sql.Expression {
		return expression.NewGetFieldWithTable(i, 1, both[i].Type, "db", both[i].Source, both[i].Name, true)
	}
	rng := rand.New(rand.NewPCG(5, 8))
	d1 := []string{"Login", "Purchase", "Signup", "Share", "Page View"}
	d2 := []string{"Share", "Login", "Scroll", "Purchase", "Search"}
	// Left batches with codes of two dictionaries (each twice), NULL
	// keys. (A join's input never comes with codes alone: only a
	// HashAggregate's scan does.)
	var coded, plain, codedNoNulls, plainNoNulls []*Batch
	for bi, dict := range [][]string{d1, d2, d1, d2, d1, d2} {
		n := 700 + bi*300
		var codes []int
		vs := NewColumn(types.Int64, n)
		for range n {
			code := rng.IntN(len(dict))
			if rng.IntN(15) == 0 && bi < 4 {
				code = -1
			}
			codes = append(codes, code)
			vs.Append(int64(rng.IntN(10)))
		}
		c := codedColumn(dict, codes...)
		c.Type = text
		u := *c
		u.Codes, u.Dict = nil, nil
		if bi >= 4 {
			// Without NULL keys: the unique table's tight loop.
			c.Nulls, u.Nulls = nil, nil
			codedNoNulls = append(codedNoNulls, &Batch{N: n, Cols: []*Column{c, vs}})
			plainNoNulls = append(plainNoNulls, &Batch{N: n, Cols: []*Column{&u, vs}})
			continue
		}
		coded = append(coded, &Batch{N: n, Cols: []*Column{c, vs}})
		plain = append(plain, &Batch{N: n, Cols: []*Column{&u, vs}})
	}
	// The right side: a top-N of keys, one with a chain of three rows,
	// a NULL key, a key no left row has.
	right := &Batch{N: 7, Cols: []*Column{NewColumn(text, 7), NewColumn(types.Int64, 7)}}
	for i, k := range []any{"Login", "Purchase", nil, "Login", "Nope", "Share", "Login"} {
		right.Cols[0].Append(k)
		right.Cols[1].Append(int64(i))
	}
	// A right side of one row per key (a top-N subquery's), with a
	// NULL key and a key no left row has.
	unique := &Batch{N: 5, Cols: []*Column{NewColumn(text, 5), NewColumn(types.Int64, 5)}}
	for i, k := range []any{"Share", "Login", nil, "Nope", "Page View"} {
		unique.Cols[0].Append(k)
		unique.Cols[1].Append(int64(i))
	}
	run := func(kind joinKind, left []*Batch, right *Batch, cond sql.Expression, read []bool) ([]string, *joinIter) {
		t.Helper()
		sch := both
		if kind.partial() {
			sch = lsch
		}
		op := &joinOp{kind: kind, sch: sch, nl: 2, nr: 2, outRead: read,
			left:  &joinTestSource{sch: lsch, batches: left},
			right: &joinTestSource{sch: rsch, batches: []*Batch{right}}}
		return drainJoin(t, ctx, op, cond, lsch, rsch, both)
	}
	key := expression.NewEquals(gf(0), gf(2))
	// Only the left key and the right value read above (a series
	// limit's join reads neither of the subquery's columns).
	someRead := []bool{true, false, false, true}
	for _, tc := range []struct {
		kind    joinKind
		cond    sql.Expression
		right   *Batch
		noNulls bool
		read    []bool
		coded   bool // the coded probe applies
	}{
		{joinInner, key, right, false, nil, true},
		{joinSemi, key, right, false, nil, true},
		{joinInner, expression.NewAnd(key, expression.NewLessThan(gf(1), gf(3))), right, false, nil, false},
		{joinLeftOuter, key, right, false, nil, false},
		{joinInner, key, unique, false, nil, true},
		{joinInner, key, unique, true, nil, true},
		{joinInner, key, unique, true, someRead, true},
		{joinInner, key, right, true, someRead, true},
	} {
		left, ref := coded, plain
		if tc.noNulls {
			left, ref = codedNoNulls, plainNoNulls
		}
		got, it := run(tc.kind, left, tc.right, tc.cond, tc.read)
		want, _ := run(tc.kind, ref, tc.right, tc.cond, tc.read)
		if (it.coded != nil) != tc.coded {
			t.Fatalf("%s %s: coded probe %v, want %v", tc.kind, tc.cond, it.coded != nil, tc.coded)
		}
		if len(want) == 0 {
			t.Fatalf("%s %s: no rows: the test compares nothing", tc.kind, tc.cond)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("%s %s: by code %d rows, by string %d rows\n%s", tc.kind, tc.cond, len(got), len(want), joinTestDiff(got, want))
		}
	}
}

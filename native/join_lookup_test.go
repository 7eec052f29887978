package native

// Differential tests of the user lookup probe (join_lookup.go): an
// inner join on distinct_id columns with user numbers gives, row for
// row and in order, what the general probe gives with the lookup off;
// over right inputs of one row per user (the lookup's), with a NULL key,
// with a user twice (the general probe's), and left batches of another
// numbering or of plain strings (the general probe's, batch by batch),
// NULL left keys, users without a right row and left batches where every
// row matches (handed on whole).

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/expression"
	"github.com/dolthub/go-mysql-server/sql/types"
	"github.com/dolthub/vitess/go/sqltypes"

	"arb/storage"
)

func TestJoinUserLookup(t *testing.T) {
	idType := types.MustCreateStringWithDefaults(sqltypes.VarChar, 64)
	ids := make([]string, 300)
	for i := range ids {
		ids[i] = fmt.Sprint("u", i)
	}
	numbering := storage.NewUserIDs(ids)
	// other gives the same strings other numbers: rows of it must still
	// meet the table's users by string.
	other := storage.NewUserIDs(append([]string{"zz"}, ids...))
	rng := rand.New(rand.NewPCG(3, 4))

	// users is a distinct_id column of the numbers (-1: NULL) under
	// numbering u, or plain strings when u is nil.
	users := func(u *storage.UserIDs, nums []int) *Column {
		c := &Column{Kind: KindString, Type: idType, Users: u}
		if u == nil {
			c.Users = nil
		}
		for _, n := range nums {
			s := ""
			if n >= 0 {
				s = ids[n]
			}
			c.S = append(c.S, s)
			c.Nulls = append(c.Nulls, n < 0)
			if u != nil {
				num := uint32(0)
				if n >= 0 {
					num = uint32(n)
					if u == other {
						num++
					}
				}
				c.U = append(c.U, num)
			}
		}
		return c
	}
	ints := func(n int, base int64) *Column {
		c := NewColumn(types.Int64, n)
		for i := range n {
			c.Append(base + int64(i))
		}
		return c
	}
	leftRows := func(u *storage.UserIDs, n int, nullEvery int) *Batch {
		nums := make([]int, n)
		for i := range nums {
			nums[i] = rng.IntN(len(ids))
			if nullEvery > 0 && i%nullEvery == 0 {
				nums[i] = -1
			}
		}
		return &Batch{N: n, Cols: []*Column{users(u, nums), ints(n, int64(n))}}
	}
	// rightRows has one row per user of nums.
	rightRows := func(nums []int) *Batch {
		return &Batch{N: len(nums), Cols: []*Column{users(numbering, nums), ints(len(nums), 1000)}}
	}
	every := make([]int, len(ids))
	for i := range every {
		every[i] = i
	}
	some := []int{5, 17, 3, 250, 99, 0, 120}

	for _, tc := range []struct {
		name   string
		left   []*Batch
		right  []*Batch
		lookup bool // the lookup probe must join some batch
	}{
		{"every user has a row: batches handed on whole",
			[]*Batch{leftRows(numbering, BatchSize, 0), leftRows(numbering, 700, 0)}, []*Batch{rightRows(every)}, true},
		{"some users, NULL keys on the left",
			[]*Batch{leftRows(numbering, 1000, 7), leftRows(numbering, BatchSize, 0)}, []*Batch{rightRows(some[:4]), rightRows(some[4:])}, true},
		{"a NULL key on the right",
			[]*Batch{leftRows(numbering, 900, 5)}, []*Batch{rightRows(append([]int{-1}, some...))}, true},
		{"left batches of another numbering and of strings",
			[]*Batch{leftRows(numbering, 600, 0), leftRows(other, 800, 9), leftRows(nil, 500, 4), leftRows(numbering, 600, 0)}, []*Batch{rightRows(some)}, true},
		{"a user twice on the right: the general probe",
			[]*Batch{leftRows(numbering, 800, 6)}, []*Batch{rightRows(append(some, 17))}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := sql.NewEmptyContext()
			ls := sql.Schema{{Name: "distinct_id", Source: "e", Type: idType, Nullable: true}, {Name: "v", Source: "e", Type: types.Int64}}
			rs := sql.Schema{{Name: "distinct_id", Source: "c", Type: idType, Nullable: true}, {Name: "w", Source: "c", Type: types.Int64}}
			both := append(append(sql.Schema{}, ls...), rs...)
			gf := func(i int) sql.Expression {
				return expression.NewGetFieldWithTable(i, 1, both[i].Type, "db", both[i].Source, both[i].Name, true)
			}
			run := func(on bool) ([]string, bool) {
				defer func(was bool) { userLookupOn = was }(userLookupOn)
				userLookupOn = on
				op := &joinOp{kind: joinInner, sch: both, nl: 2, nr: 2,
					left:  &joinTestSource{sch: ls, batches: tc.left},
					right: &joinTestSource{sch: rs, batches: tc.right}}
				out, it := drainJoin(t, ctx, op, expression.NewEquals(gf(0), gf(2)), ls, rs, both)
				return out, it.lookups > 0
			}
			want, used := run(false)
			if used {
				t.Fatal("the lookup probe ran while off")
			}
			got, used := run(true)
			if used != tc.lookup {
				t.Fatalf("lookup probe used = %v, want %v", used, tc.lookup)
			}
			if len(want) == 0 {
				t.Fatal("the join has no rows: the case tests nothing")
			}
			if !slices.Equal(got, want) {
				for i := range min(len(got), len(want)) {
					if got[i] != want[i] {
						t.Fatalf("row %d: %s, want %s (%d rows, want %d)", i, got[i], want[i], len(got), len(want))
					}
				}
				t.Fatalf("%d rows, want %d", len(got), len(want))
			}
		})
	}
}

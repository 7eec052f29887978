package native

// User numbers (Column.U) stand for strings only within one numbering.
// These tests feed the group table, COUNT DISTINCT, the join table and
// the EXISTS set columns of two numberings that give the same numbers to
// different ids (and plain strings besides): every answer must be the one
// the strings give, so a number compared across numberings, or a table
// that kept numbers where a batch brought strings, fails them.

import (
	"fmt"
	"slices"
	"testing"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/types"

	"arb/storage"
)

// userColumn is a distinct_id column of users nums under ids (-1: NULL).
func userColumn(ids *storage.UserIDs, nums ...int) *Column {
	c := &Column{Kind: KindString, Type: types.Text, Users: ids}
	for _, n := range nums {
		if n < 0 {
			c.S, c.U = append(c.S, ""), append(c.U, 0)
			c.Nulls = append(c.Nulls, true)
			continue
		}
		c.S, c.U = append(c.S, ids.ID(uint32(n))), append(c.U, uint32(n))
		c.Nulls = append(c.Nulls, false)
	}
	return c
}

// stringsOf is c's values as strings ("<nil>" for NULL).
func stringsOf(c *Column) []string {
	out := make([]string, c.Len())
	for r := range out {
		out[r] = fmt.Sprint(c.Value(r))
	}
	return out
}

// Two numberings: number 0 is "x" under numberingA, "z" under
// numberingB (views built by NewUserIDs share a numbering only with
// themselves).
var (
	numberingA = storage.NewUserIDs([]string{"x", "y", "z"})
	numberingB = storage.NewUserIDs([]string{"z", "x", "y", "w"})
	// numberingBig has more users than a few rows warrant an array for.
	numberingBig = storage.NewUserIDs(func() []string {
		ids := make([]string, 100)
		for i := range ids {
			ids[i] = fmt.Sprint("id-", i)
		}
		return ids
	}())
)

func TestGroupTableUserNumbers(t *testing.T) {
	ctx := sql.NewEmptyContext()
	for _, tc := range []struct {
		name    string
		cols    []keyColumn
		batches [][]*Column
	}{
		{"numbers, then strings, then another numbering",
			[]keyColumn{{}},
			[][]*Column{{userColumn(numberingA, 0, 1, 0, -1, 2)}, {typedColumn(types.Text, "y", "w", nil)}, {userColumn(numberingB, 0, 1, 3)}}},
		{"numbers over several batches (a map, then an array)",
			[]keyColumn{{}},
			[][]*Column{{userColumn(numberingA, 0, 1)}, {userColumn(numberingA, 2, 0, -1)}, {userColumn(numberingA, 1, 2, -1)}}},
		{"a few users of a big numbering (a map)",
			[]keyColumn{{}},
			[][]*Column{{userColumn(numberingBig, 90, 3, 90)}, {userColumn(numberingBig, 3, 41)}, {typedColumn(types.Text, "id-41", "x")}}},
		{"another numbering first",
			[]keyColumn{{}},
			[][]*Column{{userColumn(numberingB, 0, 1)}, {userColumn(numberingA, 0, 2, 1)}}},
		{"numbers, then boxed values",
			[]keyColumn{{}},
			[][]*Column{{userColumn(numberingA, 2, 0)}, {anyColumn("z", int64(1), "x", nil)}}},
		{"numbers beside a second key",
			[]keyColumn{{}, {}},
			[][]*Column{{userColumn(numberingA, 0, 1, 0), typedColumn(types.Int64, int64(1), int64(1), int64(2))},
				{userColumn(numberingB, 1, 0), typedColumn(types.Int64, int64(2), int64(1))}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			table := newGroupTable(tc.cols)
			// The reference: a group per distinct tuple of strings, in
			// order of first appearance.
			ref := map[string]int32{}
			for i, keys := range tc.batches {
				n := keys[0].Len()
				got, err := table.groups(ctx, keys, n, nil)
				if err != nil {
					t.Fatal(err)
				}
				want := make([]int32, n)
				for r := range n {
					var key string
					for _, c := range keys {
						key += fmt.Sprintf("%q,", fmt.Sprint(c.Value(r)))
					}
					g, ok := ref[key]
					if !ok {
						g = int32(len(ref))
						ref[key] = g
					}
					want[r] = g
				}
				if !slices.Equal(got, want) {
					t.Fatalf("batch %d (%v): groups %v, want %v", i, stringsOf(keys[0]), got, want)
				}
			}
		})
	}
}

func TestCountDistinctUserNumbers(t *testing.T) {
	ctx := sql.NewEmptyContext()
	proto := &countDistinctAgg{args: []Expr{&fieldExpr{idx: 0, typ: types.Text, name: "distinct_id"}}, expect: KindString}
	for _, tc := range []struct {
		name    string
		batches []*Column
		groups  [][]int32
		want    []int64
	}{
		{"numbers only", []*Column{userColumn(numberingA, 0, 1, 0, -1), userColumn(numberingA, 2, 0)},
			[][]int32{{0, 0, 1, 1}, {1, 1}}, []int64{2, 2}},
		{"numbers, then strings", []*Column{userColumn(numberingA, 0, 1), typedColumn(types.Text, "x", "w", nil)},
			[][]int32{{0, 1}, {0, 1, 1}}, []int64{1, 2}},
		{"strings, then numbers", []*Column{typedColumn(types.Text, "y", "z"), userColumn(numberingA, 1, 2, 0)},
			[][]int32{{0, 0}, {0, 0, 0}}, []int64{3}},
		{"two numberings", []*Column{userColumn(numberingA, 0, 1), userColumn(numberingB, 0, 1, 3)},
			[][]int32{{0, 0}, {0, 0, 1}}, []int64{3, 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := proto.fresh()
			ngroups := 0
			for i, c := range tc.batches {
				for _, g := range tc.groups[i] {
					ngroups = max(ngroups, int(g)+1)
				}
				if err := a.add(ctx, &Batch{N: c.Len(), Cols: []*Column{c}}, tc.groups[i], ngroups); err != nil {
					t.Fatal(err)
				}
			}
			out, err := a.result(ctx, ngroups)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(out.I, tc.want) {
				t.Fatalf("counts %v, want %v", out.I, tc.want)
			}
		})
	}
}

// TestCountDistinctDenseToBitmaps: the per-group bitsets turn into
// bitmaps when a new group takes them past their budget, and the counts
// carry over.
func TestCountDistinctDenseToBitmaps(t *testing.T) {
	ctx := sql.NewEmptyContext()
	saved := denseUsersBytes
	denseUsersBytes = 16 // one group of numberingBig's 100 users (two words)
	t.Cleanup(func() { denseUsersBytes = saved })
	a := (&countDistinctAgg{args: []Expr{&fieldExpr{idx: 0, typ: types.Text, name: "distinct_id"}}, expect: KindString}).fresh().(*countDistinctAgg)
	add := func(c *Column, groups []int32, ngroups int) {
		t.Helper()
		if err := a.add(ctx, &Batch{N: c.Len(), Cols: []*Column{c}}, groups, ngroups); err != nil {
			t.Fatal(err)
		}
	}
	add(userColumn(numberingBig, 1, 70, 1, 99, -1), []int32{0, 0, 0, 0, 0}, 1)
	if !a.dense {
		t.Fatal("one group within the budget: want bitsets")
	}
	add(userColumn(numberingBig, 70, 5, 99, 64), []int32{1, 1, 0, 1}, 2)
	if a.dense {
		t.Fatal("two groups past the budget: want bitmaps")
	}
	out, err := a.result(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	if want := []int64{3, 3}; !slices.Equal(out.I, want) {
		t.Fatalf("counts %v, want %v", out.I, want)
	}
}

func TestJoinTableUserNumbers(t *testing.T) {
	ctx := sql.NewEmptyContext()
	field := &fieldExpr{idx: 0, typ: types.Text, name: "distinct_id"}
	keys := []joinKey{{left: field, right: field, class: keyStr}}
	build := userColumn(numberingA, 0, 1, 0, -1, 2) // x y x NULL z
	for _, tc := range []struct {
		name  string
		probe *Column
		want  []int32 // the first right row with the probe row's key, -1: none
	}{
		{"the same numbering", userColumn(numberingA, 2, 0, 1, -1), []int32{4, 0, 1, -1}},
		{"another numbering", userColumn(numberingB, 0, 1, 3, 2), []int32{4, 0, -1, 1}},
		{"strings", typedColumn(types.Text, "y", "w", "x"), []int32{1, -1, 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ks := newKeySet(keys, false)
			vals, err := ks.compute(ctx, &Batch{N: build.Len(), Cols: []*Column{build}})
			if err != nil {
				t.Fatal(err)
			}
			table := buildTable(vals, ks.single, build.Len(), false)
			if table.users == nil || table.userDense == nil {
				t.Fatal("the table over user numbers (as many rows as users) is not an array by number")
			}
			lvals, err := newKeySet(keys, true).compute(ctx, &Batch{N: tc.probe.Len(), Cols: []*Column{tc.probe}})
			if err != nil {
				t.Fatal(err)
			}
			got := make([]int32, tc.probe.Len())
			for r := range got {
				got[r] = -1
				if lvals.state[r] == keyOK {
					got[r] = table.head(lvals, r)
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("heads %v, want %v", got, tc.want)
			}
			// The chain of x holds both of its rows.
			if g := table.head(vals, 0); g != 0 || table.next[g] != 2 || table.next[2] != -1 {
				t.Fatalf("x's chain: head %d, next %d, %d", g, table.next[g], table.next[2])
			}
		})
	}
}

func TestExistsSetUserNumbers(t *testing.T) {
	ctx := sql.NewEmptyContext()
	field := &fieldExpr{idx: 0, typ: types.Text, name: "distinct_id"}
	keys := []joinKey{{left: field, right: field, class: keyStr}}
	for _, tc := range []struct {
		name   string
		inner  []*Column
		outer  *Column
		want   []bool
		byNums bool // the set stays keyed by number
	}{
		{"numbers, probed by numbers", []*Column{userColumn(numberingA, 0, -1)}, userColumn(numberingA, 0, 1, 2), []bool{true, false, false}, true},
		{"numbers, probed by another numbering", []*Column{userColumn(numberingA, 0)}, userColumn(numberingB, 0, 1), []bool{false, true}, true},
		{"numbers, probed by strings", []*Column{userColumn(numberingA, 1)}, typedColumn(types.Text, "x", "y"), []bool{false, true}, true},
		{"numbers, then strings", []*Column{userColumn(numberingA, 2), typedColumn(types.Text, "w")}, userColumn(numberingB, 0, 1, 3), []bool{true, false, true}, false},
		{"strings, then numbers", []*Column{typedColumn(types.Text, "w"), userColumn(numberingA, 0)}, userColumn(numberingB, 1, 2, 3), []bool{true, false, true}, false},
		{"two numberings", []*Column{userColumn(numberingA, 0), userColumn(numberingB, 0)}, typedColumn(types.Text, "x", "y", "z"), []bool{true, false, true}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &existsSet{}
			ks := newKeySet(keys, false)
			for _, c := range tc.inner {
				vals, err := ks.compute(ctx, &Batch{N: c.Len(), Cols: []*Column{c}})
				if err != nil {
					t.Fatal(err)
				}
				s.add(vals, c.Len())
			}
			if (s.users != nil) != tc.byNums {
				t.Fatalf("keyed by number: %v, want %v", s.users != nil, tc.byNums)
			}
			vals, err := newKeySet(keys, true).compute(ctx, &Batch{N: tc.outer.Len(), Cols: []*Column{tc.outer}})
			if err != nil {
				t.Fatal(err)
			}
			byNumber := s.byNumber(vals)
			got := make([]bool, tc.outer.Len())
			for r := range got {
				got[r] = vals.state[r] == keyOK && s.contains(vals, r, byNumber)
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("found %v, want %v", got, tc.want)
			}
		})
	}
}

// TestUserNumbersFollowRows checks that the batch operations that move
// rows (Gather, Slice, the join's gathers and concatenation) keep each
// row's number with its string, and that a column of two numberings
// keeps none.
func TestUserNumbersFollowRows(t *testing.T) {
	c := userColumn(numberingA, 0, 1, -1, 2)
	check := func(name string, c *Column) {
		t.Helper()
		for r := range c.Len() {
			if !c.IsNull(r) && c.Users.ID(c.U[r]) != c.S[r] {
				t.Errorf("%s: row %d is %q with user %d (%q)", name, r, c.S[r], c.U[r], c.Users.ID(c.U[r]))
			}
		}
		if len(c.U) != c.Len() {
			t.Errorf("%s: %d numbers for %d rows", name, len(c.U), c.Len())
		}
	}
	check("Gather", c.Gather([]int32{3, -1, 0, 2, 1}))
	check("Slice", c.Slice(1, 4))
	check("joinGather", joinGather(userColumn(numberingA, 2, 1, 0), []int32{2, 0, 1}))
	check("gatherInto", gatherInto(&Column{}, c, []int32{3, 0}))
	check("joinConcatColumns", joinConcatColumns([]*Column{c, ConstColumn(types.Text, nil, 2), userColumn(numberingA, 1)}, 7))
	if mixed := joinConcatColumns([]*Column{c, userColumn(numberingB, 0)}, 5); mixed.U != nil {
		t.Error("a concatenation of two numberings kept user numbers")
	}
	if mixed := joinConcatColumns([]*Column{c, typedColumn(types.Text, "x")}, 5); mixed.U != nil {
		t.Error("a concatenation with unnumbered strings kept user numbers")
	}
	reused := gatherInto(&Column{}, c, []int32{0})
	if reused = gatherInto(reused, typedColumn(types.Text, "q"), []int32{0}); reused.U != nil {
		t.Error("gatherInto kept the numbers of the column it gathered before")
	}
}

// TestJoinTableProbeMemo probes a table keyed by strings with user
// numbers: the memo of each user's group must follow the numbering of
// the probe batch (number 0 is "x" under numberingA, "z" under
// numberingB).
func TestJoinTableProbeMemo(t *testing.T) {
	ctx := sql.NewEmptyContext()
	field := &fieldExpr{idx: 0, typ: types.Text, name: "distinct_id"}
	keys := []joinKey{{left: field, right: field, class: keyStr}}
	build := typedColumn(types.Text, "z", "x", "q", "x")
	ks := newKeySet(keys, false)
	vals, err := ks.compute(ctx, &Batch{N: build.Len(), Cols: []*Column{build}})
	if err != nil {
		t.Fatal(err)
	}
	table := buildTable(vals, ks.single, build.Len(), false)
	for i, tc := range []struct {
		probe *Column
		want  []int32
	}{
		{userColumn(numberingA, 0, 1, 0, 2), []int32{1, -1, 1, 0}},
		{userColumn(numberingB, 0, 1, 0, 3), []int32{0, 1, 0, -1}},
		{typedColumn(types.Text, "q", "y"), []int32{2, -1}},
		{userColumn(numberingA, 2, 0), []int32{0, 1}},
	} {
		lvals, err := newKeySet(keys, true).compute(ctx, &Batch{N: tc.probe.Len(), Cols: []*Column{tc.probe}})
		if err != nil {
			t.Fatal(err)
		}
		got := make([]int32, tc.probe.Len())
		for r := range got {
			got[r] = table.head(lvals, r)
		}
		if !slices.Equal(got, tc.want) {
			t.Fatalf("probe %d (%v): heads %v, want %v", i, stringsOf(tc.probe), got, tc.want)
		}
	}
}

// TestJoinTableFewUsers builds a join table over a few users of a big
// numbering: a map by number, probed by numbers and by strings.
func TestJoinTableFewUsers(t *testing.T) {
	ctx := sql.NewEmptyContext()
	field := &fieldExpr{idx: 0, typ: types.Text, name: "distinct_id"}
	keys := []joinKey{{left: field, right: field, class: keyStr}}
	build := userColumn(numberingBig, 70, 5, 70)
	ks := newKeySet(keys, false)
	vals, err := ks.compute(ctx, &Batch{N: build.Len(), Cols: []*Column{build}})
	if err != nil {
		t.Fatal(err)
	}
	table := buildTable(vals, ks.single, build.Len(), false)
	if table.userMap == nil || table.userDense != nil {
		t.Fatal("three rows of a 100-user numbering got an array")
	}
	for i, tc := range []struct {
		probe *Column
		want  []int32
	}{
		{userColumn(numberingBig, 5, 70, 6), []int32{1, 0, -1}},
		{typedColumn(types.Text, "id-70", "id-6", "id-5"), []int32{0, -1, 1}},
	} {
		lvals, err := newKeySet(keys, true).compute(ctx, &Batch{N: tc.probe.Len(), Cols: []*Column{tc.probe}})
		if err != nil {
			t.Fatal(err)
		}
		got := make([]int32, tc.probe.Len())
		for r := range got {
			got[r] = table.head(lvals, r)
		}
		if !slices.Equal(got, tc.want) {
			t.Fatalf("probe %d: heads %v, want %v", i, got, tc.want)
		}
	}
}

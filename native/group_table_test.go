package native

// The group table's INVARIANT: a key's group depends only on its value,
// never on the Kind of the column that carried it, also after a fast
// table has moved to the general encoding.

import (
	"slices"
	"testing"
	"time"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/types"
	"github.com/dolthub/vitess/go/sqltypes"
)

// anyColumn is a KindAny column of vals (nil is NULL).
func anyColumn(vals ...any) *Column {
	c := &Column{Kind: KindAny, Type: types.JSON}
	for _, v := range vals {
		c.A = append(c.A, v)
		c.Nulls = append(c.Nulls, v == nil)
	}
	return c
}

func typedColumn(t sql.Type, vals ...any) *Column {
	c := NewColumn(t, len(vals))
	for _, v := range vals {
		c.Append(v)
	}
	if c.Kind == KindAny {
		panic("typedColumn: values do not fit " + t.String())
	}
	return c
}

func TestGroupTableKeysByValue(t *testing.T) {
	ctx := sql.NewEmptyContext()
	day := time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name    string
		cols    []keyColumn
		batches [][]*Column
		want    [][]int32
	}{
		{"integers then boxed numbers",
			[]keyColumn{{}},
			[][]*Column{{typedColumn(types.Int64, int64(1), int64(2), nil)}, {anyColumn(int64(2), 1.0, nil, "x", int8(1), -0.0, 0.5)}},
			[][]int32{{0, 1, 2}, {1, 0, 2, 3, 0, 4, 5}}},
		{"small integers in the array, others in the map, then boxed",
			[]keyColumn{{}},
			[][]*Column{{typedColumn(types.Int64, int64(3), int64(5000), int64(-1), int64(3), nil, int64(4095), int64(4096))}, {anyColumn(int64(5000), 3.0, int64(-1), int64(4095), int64(4096), int64(7))}},
			[][]int32{{0, 1, 2, 0, 3, 4, 5}, {1, 0, 2, 4, 5, 6}}},
		{"strings then boxed strings and bytes",
			[]keyColumn{{}},
			[][]*Column{{typedColumn(types.Text, "a", "b", "a")}, {anyColumn("b", []byte("a"), "c", nil)}, {typedColumn(types.Text, "c", nil)}},
			[][]int32{{0, 1, 0}, {1, 0, 2, 3}, {2, 3}}},
		{"times then boxed times",
			[]keyColumn{{}},
			[][]*Column{{typedColumn(types.DatetimeMaxPrecision, day, day.Add(time.Microsecond))}, {anyColumn(day.Add(time.Microsecond), day, day.In(time.FixedZone("x", 3600)))}},
			[][]int32{{0, 1}, {1, 0, 2}}},
		{"runs of boxed times (TIMESTAMP(DATE_FORMAT(…)) keys), also under a string type",
			[]keyColumn{newKeyColumn(types.LongText)},
			[][]*Column{{anyColumn(day, day, day.In(time.FixedZone("x", 3600)), day.In(time.FixedZone("x", 3600)),
				day.AddDate(0, 1, 0), day, "2024-06-01 00:00:00", day, nil, nil, day)}},
			[][]int32{{0, 0, 1, 1, 2, 0, 3, 0, 4, 4, 0}}},
		{"two keys, one turning boxed",
			[]keyColumn{{}, {}},
			[][]*Column{
				{typedColumn(types.Int64, int64(1), int64(1), nil), typedColumn(types.Text, "a", "b", "a")},
				{anyColumn(1.0, nil, int64(1)), typedColumn(types.Text, "b", "a", "c")}},
			[][]int32{{0, 1, 2}, {1, 2, 3}}},
		{"boxed strings met again (the memo), under a case-insensitive collation, then unboxed",
			[]keyColumn{newKeyColumn(types.MustCreateString(sqltypes.VarChar, 20, sql.Collation_utf8mb4_0900_ai_ci))},
			[][]*Column{{anyColumn("Paris", "x", "paris", "Paris", "x", nil, "PARIS", 1.5, "x")}, {typedColumn(types.Text, "paris", "x", "y")}, {anyColumn("y", "Paris", "x")}},
			[][]int32{{0, 1, 0, 0, 1, 2, 0, 3, 1}, {0, 1, 4}, {4, 0, 1}}},
		{"case-insensitive collation",
			[]keyColumn{newKeyColumn(types.MustCreateString(sqltypes.VarChar, 20, sql.Collation_utf8mb4_0900_ai_ci))},
			[][]*Column{{typedColumn(types.Text, "Paris", "paris", "PARIS", "Berlin", nil)}},
			[][]int32{{0, 0, 0, 1, 2}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			table := newGroupTable(tc.cols)
			var out []int32
			for i, b := range tc.batches {
				var err error
				if out, err = table.groups(ctx, b, b[0].Len(), out); err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(out, tc.want[i]) {
					t.Fatalf("batch %d: groups %v, want %v", i, out, tc.want[i])
				}
			}
		})
	}
}

// codedColumn is a KindString column of dict's strings at codes, with
// the codes (Column.Codes); a negative code is NULL.
func codedColumn(dict []string, codes ...int) *Column {
	c := &Column{Kind: KindString, Type: types.Text, Dict: dict}
	for _, code := range codes {
		if code < 0 {
			c.S, c.Codes, c.Nulls = append(c.S, ""), append(c.Codes, 0), append(c.Nulls, true)
			continue
		}
		c.S, c.Codes, c.Nulls = append(c.S, dict[code]), append(c.Codes, uint32(code)), append(c.Nulls, false)
	}
	return c
}

// TestGroupTableDictionaryCodes: a string key's group is its string's,
// whichever dictionary (or none) its batch came with, also when two
// dictionaries of one length come in turn and when a key then leaves
// the fast mode.
func TestGroupTableDictionaryCodes(t *testing.T) {
	ctx := sql.NewEmptyContext()
	d1 := []string{"Login", "Purchase", "Signup"}
	d2 := []string{"Signup", "Share", "Login"} // same length, other order
	batches := []*Column{
		codedColumn(d1, 1, 0, 1, -1, 2),
		codedColumn(d2, 0, 1, 2, 2, -1),
		typedColumn(types.Text, "Share", "Purchase", "Other"),
		codedColumn(d1, 2, 1, 0),
		anyColumn("Login", nil, "Share", int64(3)), // leaves the fast mode
		codedColumn(d2, 1, 0),
	}
	want := [][]int32{{0, 1, 0, 2, 3}, {3, 4, 1, 1, 2}, {4, 0, 5}, {3, 0, 1}, {1, 2, 4, 6}, {4, 3}}
	table := newGroupTable([]keyColumn{{}})
	var out []int32
	for i, c := range batches {
		var err error
		if out, err = table.groups(ctx, []*Column{c}, c.Len(), out); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(out, want[i]) {
			t.Fatalf("batch %d: groups %v, want %v", i, out, want[i])
		}
	}
	// Under a case-insensitive collation (the general encoding, a code's
	// group found once per dictionary): codes of strings equal in the
	// collation share a group, in any dictionary and without codes.
	ci := newGroupTable([]keyColumn{newKeyColumn(types.MustCreateString(sqltypes.VarChar, 20, sql.Collation_utf8mb4_0900_ai_ci))})
	labels := []string{"Big", "BIG", "small"}
	for i, tc := range []struct {
		c    *Column
		want []int32
	}{
		{codedColumn(labels, 0, 1, 2, -1, 1, 0), []int32{0, 0, 1, 2, 0, 0}},
		{codedColumn([]string{"SMALL", "big"}, 1, 0, -1), []int32{0, 1, 2}},
		{typedColumn(types.Text, "bIg", "Small"), []int32{0, 1}},
		{codedColumn(labels, 2, 1), []int32{1, 0}},
	} {
		var err error
		if out, err = ci.groups(ctx, []*Column{tc.c}, tc.c.Len(), out); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(out, tc.want) {
			t.Fatalf("case-insensitive batch %d: groups %v, want %v", i, out, tc.want)
		}
	}
	// Two key columns, one coded: each column's table numbers by value.
	pair := newGroupTable([]keyColumn{{}, {}})
	days := typedColumn(types.Int64, int64(1), int64(1), int64(2))
	if out, _ = pair.groups(ctx, []*Column{days, codedColumn(d1, 0, 1, 0)}, 3, out); !slices.Equal(out, []int32{0, 1, 2}) {
		t.Fatalf("pairs: %v", out)
	}
	if out, _ = pair.groups(ctx, []*Column{days, codedColumn(d2, 2, 0, 2)}, 3, out); !slices.Equal(out, []int32{0, 3, 2}) {
		t.Fatalf("pairs, second dictionary: %v", out)
	}
}

// TestCountDistinctDictionaryCodes: COUNT(DISTINCT s) over batches with
// dictionary codes (two dictionaries, and a batch without codes) counts
// what it counts over the same strings without codes.
func TestCountDistinctDictionaryCodes(t *testing.T) {
	ctx := sql.NewEmptyContext()
	d1 := []string{"Paris", "Oslo", "Rome"}
	d2 := []string{"Rome", "Lima", "Oslo"}
	batches := []*Column{
		codedColumn(d1, 0, 0, 1, -1, 2, 2),
		codedColumn(d2, 0, 1, 2, 2, -1, 1),
		typedColumn(types.Text, "Lima", "Kyiv", nil, "Paris", "Rome", "Rome"),
	}
	groups := []int32{0, 1, 0, 1, 2, 0}
	proto := &countDistinctAgg{args: []Expr{&fieldExpr{idx: 0, typ: types.Text, name: "city"}}, expect: KindString}
	count := func(coded bool) []int64 {
		a := proto.fresh()
		for _, c := range batches {
			if !coded {
				plain := *c
				plain.Codes, plain.Dict = nil, nil
				c = &plain
			}
			if err := a.add(ctx, &Batch{N: c.Len(), Cols: []*Column{c}}, groups, 3); err != nil {
				t.Fatal(err)
			}
		}
		out, err := a.result(ctx, 3)
		if err != nil {
			t.Fatal(err)
		}
		return out.I
	}
	got, want := count(true), count(false)
	if !slices.Equal(got, want) || !slices.Equal(want, []int64{4, 4, 1}) {
		t.Fatalf("by code %v, by string %v, want [4 4 1]", got, want)
	}
}

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
		{"two keys, one turning boxed",
			[]keyColumn{{}, {}},
			[][]*Column{
				{typedColumn(types.Int64, int64(1), int64(1), nil), typedColumn(types.Text, "a", "b", "a")},
				{anyColumn(1.0, nil, int64(1)), typedColumn(types.Text, "b", "a", "c")}},
			[][]int32{{0, 1, 2}, {1, 2, 3}}},
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

package native

import (
	"fmt"
	"testing"
	"time"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/types"
)

// TestColumnAppendRoundTrip appends values with NULLs in every rotation
// of each pattern and reads them back, for each Kind, for a value that
// forces a column to KindAny, and through Gather and Slice.
func TestColumnAppendRoundTrip(t *testing.T) {
	ts := time.Date(2024, 6, 1, 12, 0, 0, 123456000, time.UTC)
	cases := []struct {
		typ  sql.Type
		vals []any
	}{
		{types.Int64, []any{int64(1), nil, int64(-3), nil, nil, int64(7)}},
		{types.Int8, []any{nil, int8(1), int8(0), nil}},
		{types.Float64, []any{nil, nil, 1.5, -2.25}},
		{types.Text, []any{"a", nil, "", "b", nil}},
		{types.DatetimeMaxPrecision, []any{ts, nil, ts.Add(time.Hour)}},
		{types.Int64, []any{int64(1), nil, "not an int", int64(2), nil}}, // becomes KindAny
		{types.Null, []any{nil, nil}},
	}
	for _, c := range cases {
		for start := range c.vals {
			vals := append(append([]any{}, c.vals[start:]...), c.vals[:start]...)
			col := NewColumn(c.typ, 0)
			for _, v := range vals {
				col.Append(v)
			}
			if col.Len() != len(vals) {
				t.Fatalf("%s %v: %d values, want %d", c.typ, vals, col.Len(), len(vals))
			}
			idx := make([]int32, 0, len(vals)+1)
			for r, v := range vals {
				if got := col.Value(r); fmt.Sprint(got) != fmt.Sprint(v) || col.IsNull(r) != (v == nil) {
					t.Fatalf("%s %v: row %d is %v (null %v)", c.typ, vals, r, got, col.IsNull(r))
				}
				idx = append(idx, int32(len(vals)-1-r))
			}
			idx = append(idx, -1)
			g := col.Gather(idx)
			for i, r := range idx {
				want := any(nil)
				if r >= 0 {
					want = vals[r]
				}
				if got := g.Value(i); fmt.Sprint(got) != fmt.Sprint(want) {
					t.Fatalf("%s %v: gathered %d is %v, want %v", c.typ, vals, i, got, want)
				}
			}
			s := col.Slice(1, len(vals))
			for r := range s.Len() {
				if fmt.Sprint(s.Value(r)) != fmt.Sprint(vals[r+1]) {
					t.Fatalf("%s %v: slice row %d is %v", c.typ, vals, r, s.Value(r))
				}
			}
		}
	}
}

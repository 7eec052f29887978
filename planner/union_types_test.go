package planner

import (
	"testing"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/types"
	"github.com/dolthub/vitess/go/sqltypes"
)

// TestUnionColumnType: a set operation's column type from its sides' as
// MySQL 8 aggregates them (8.0 manual 15.2.18), or nil where the
// planbuilder's conversion stands.
func TestUnionColumnType(t *testing.T) {
	dec := types.MustCreateDecimalType
	dt := func(fsp int) sql.Type { return types.MustCreateDatetimeType(sqltypes.Datetime, fsp) }
	ts := func(fsp int) sql.Type { return types.MustCreateDatetimeType(sqltypes.Timestamp, fsp) }
	tm := func(fsp int) sql.Type { return timeFsp{TimeType: types.Time, fsp: fsp} }
	for _, c := range []struct {
		a, b, want sql.Type
	}{
		{dec(41, 0), dec(41, 0), dec(41, 0)},
		{dec(23, 4), dec(41, 0), dec(45, 4)}, // AVG(BIGINT) beside SUM(BIGINT)
		{dec(41, 0), types.Int8, dec(41, 0)},
		{types.Int64, dec(2, 1), dec(20, 1)}, // 19 integer digits and 1 of scale
		{dec(65, 0), dec(65, 30), dec(65, 30)},
		{dec(41, 0), types.Float64, types.Float64},
		{dec(41, 0), types.Null, dec(41, 0)},
		{types.Null, dec(23, 4), dec(23, 4)},
		{dt(3), dt(2), dt(3)},
		{dt(3), types.Null, dt(3)},
		{ts(3), ts(6), ts(6)},
		{ts(3), dt(0), dt(3)},
		{types.Date, dt(2), dt(2)},
		{tm(2), tm(4), tm(4)},
		{tm(2), types.Time, tm(6)}, // go-mysql-server's TIME: up to six digits
		{types.Int64, types.Int32, nil},
		{types.Int64, types.Null, nil},
		{types.Text, dec(41, 0), nil},
		{types.Date, types.Date, types.Date},
	} {
		got := unionColumnType(c.a, c.b)
		if (got == nil) != (c.want == nil) || (got != nil && (!got.Equals(c.want) || got.String() != c.want.String())) {
			t.Errorf("union of %v and %v: %v, want %v", c.a, c.b, got, c.want)
		}
	}
}

package planner

// The batch form of STR_TO_DATE with a constant week format (Metabase's
// week grain: STR_TO_DATE(CONCAT(YEARWEEK(time), ' Sunday'), '%X%V %W')).
// A batch of events holds a few distinct strings (one a week), so each
// run of equal strings is parsed once, as strToDate.Eval parses it, and
// its warning, when it has one, is given again for every row of the run,
// as Eval gives it per row. Other formats have no batch form
// (go-mysql-server's STR_TO_DATE).

import (
	"time"
	"unicode/utf8"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/types"

	"arb/native"
)

var _ native.ColumnFunction = (*strToDate)(nil)

// ColumnEval is STR_TO_DATE(x, constant week format) over x's column.
func (s *strToDate) ColumnEval() ([]sql.Expression, columnEval) {
	format, ok := literalString(s.Format)
	if !ok || !hasWeekFormat(format) {
		return nil, nil
	}
	return []sql.Expression{s.Date}, func(ctx *sql.Context, args []*native.Column, n int) (*native.Column, bool, error) {
		dc := args[0]
		if dc.Kind != native.KindString && dc.Kind != native.KindAny && dc.Kind != native.KindNull {
			return nil, false, nil
		}
		out := &native.Column{Kind: native.KindTime, Type: types.Date, I: make([]int64, n)}
		var last string
		var lastT int64
		var lastOK, have bool
		for i := range n {
			if dc.IsNull(i) {
				markNull(out, i, n)
				continue
			}
			var str string
			if dc.Kind == native.KindString {
				str = dc.S[i]
			} else if str, ok = dc.A[i].(string); !ok {
				return nil, false, nil // another kind of value: Eval's path
			}
			if !utf8.ValidString(str) {
				return nil, false, nil // LongText's conversion may refuse it: Eval's path
			}
			if !have || str != last {
				have, last = true, str
				// LongText's conversion of a string is the string.
				t, ok := parseWeekDate(str, format)
				lastOK, lastT = ok, t.UnixMicro()
				if ok && !t.Equal(time.UnixMicro(lastT).UTC()) {
					return nil, false, nil // not a UTC microsecond: Eval's path
				}
			}
			if !lastOK {
				ctx.Warn(1411, "Incorrect datetime value: '%v' for function str_to_date", str)
				markNull(out, i, n)
				continue
			}
			out.I[i] = lastT
		}
		return out, true, nil
	}
}

package planner

// Batch forms, for the native plan, of two go-mysql-server expressions
// that a weekly cohort grid sends over every joined row:
//
//	FLOOR(DATEDIFF(e.time, c.signup_day) / 7)
//
//   - DATEDIFF over strings (go-mysql-server's DATE() is typed DATE but
//     evaluates to a string): the native DATEDIFF takes time columns
//     only, and the row path parses each string with time.Parse over
//     several layouts. dayDiffColumns converts each distinct string of a
//     batch once, exactly as DateDiff.Eval does, and takes time columns
//     as they are.
//   - FLOOR(i / k), i an integer, k an integer literal from 1 to 1000:
//     the division is DECIMAL and left to Eval. floorDivColumns is the
//     integer floor division, which is what FLOOR of the DECIMAL quotient
//     is: the quotient's fraction is a multiple of 1/k ≥ 0.001, so
//     rounding it to the division's scale (div_precision_increment, at
//     least 3 places checked each batch) never reaches a whole number.
//
// The rule swapNativeDateForms wraps the go-mysql-server expression (it
// runs last but one, before planNative, and only where arb_pushdown is
// on). INVARIANT: a wrapper's row path is the wrapped expression's Eval,
// and its batch form returns exactly those values for every row or
// declines the batch (ok false: any value it cannot reproduce, a
// conversion that fails or warns), so the batch goes through Eval.

import (
	"encoding/binary"
	"time"
	"unsafe"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/analyzer"
	"github.com/dolthub/go-mysql-server/sql/expression"
	"github.com/dolthub/go-mysql-server/sql/expression/function"
	"github.com/dolthub/go-mysql-server/sql/plan"
	"github.com/dolthub/go-mysql-server/sql/transform"
	"github.com/dolthub/go-mysql-server/sql/types"

	"arb/native"
)

// ruleNativeDateForms: unused by go-mysql-server and by rules.go.
const ruleNativeDateForms analyzer.RuleId = 1101

func init() {
	// Appended before PatchAnalyzerDefaults appends planNative (it runs
	// before any analyzer is built), so the swap precedes translation.
	analyzer.OnceAfterAll = append(analyzer.OnceAfterAll, analyzer.Rule{Id: ruleNativeDateForms, Apply: swapNativeDateForms})
}

// swapNativeDateForms wraps every DATEDIFF over a non-time argument and
// every FLOOR(integer / small literal) in the plan. Idempotent.
func swapNativeDateForms(ctx *sql.Context, _ *analyzer.Analyzer, n sql.Node, _ *plan.Scope, _ analyzer.RuleSelector, _ *sql.QueryFlags) (sql.Node, transform.TreeIdentity, error) {
	if !pushdownEnabled(ctx) {
		return n, transform.SameTree, nil
	}
	swap := func(ctx *sql.Context, e sql.Expression) (sql.Expression, transform.TreeIdentity, error) {
		switch x := e.(type) {
		case *function.DateDiff:
			if w := newDayDiffColumns(ctx, x); w != nil {
				return w, transform.NewTree, nil
			}
		case *function.Floor:
			if w := newFloorDivColumns(ctx, x); w != nil {
				return w, transform.NewTree, nil
			}
		}
		return e, transform.SameTree, nil
	}
	return transform.NodeWithOpaque(ctx, n, func(ctx *sql.Context, n sql.Node) (sql.Node, transform.TreeIdentity, error) {
		return transform.NodeExprsWithOpaque(ctx, n, swap)
	})
}

// dayDiffColumns is DATEDIFF with the batch form above.
type dayDiffColumns struct{ *function.DateDiff }

var _ native.ColumnFunction = (*dayDiffColumns)(nil)

// newDayDiffColumns wraps d. Even two DATE/DATETIME typed arguments may
// give strings: go-mysql-server's DATE() is typed DATE and evaluates to a
// string, which the native DATEDIFF leaves to Eval row by row.
func newDayDiffColumns(ctx *sql.Context, d *function.DateDiff) sql.Expression {
	if d.LeftChild == nil || d.RightChild == nil {
		return nil
	}
	return &dayDiffColumns{d}
}

func (d *dayDiffColumns) WithChildren(ctx *sql.Context, children ...sql.Expression) (sql.Expression, error) {
	e, err := d.DateDiff.WithChildren(ctx, children...)
	if err != nil {
		return nil, err
	}
	return &dayDiffColumns{e.(*function.DateDiff)}, nil
}

func (d *dayDiffColumns) ColumnEval() ([]sql.Expression, func(*sql.Context, []*native.Column, int) (*native.Column, bool, error)) {
	return []sql.Expression{d.LeftChild, d.RightChild}, dayDiffBatch
}

const microsPerDay = 86_400_000_000

// Bounds of DATETIME, which DateDiff converts each argument to: a time
// column's value outside them fails that conversion (a warning and NULL).
var (
	dayDiffMinMicros = time.Date(1000, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro()
	dayDiffMaxMicros = time.Date(9999, 12, 31, 23, 59, 59, 999_999_000, time.UTC).UnixMicro()
)

// dayDiffBatch is DATEDIFF(a, b) over n rows: a's day less b's day, each
// the UTC calendar day DateDiff.Eval takes (String()[:10] of the value
// converted to DATETIME(6), converted again to midnight). The days are
// added to the output in place, a chunk of rows at a time (a's, then b's
// subtracted): no slice per argument.
func dayDiffBatch(ctx *sql.Context, args []*native.Column, n int) (*native.Column, bool, error) {
	var nulls []bool
	for _, c := range args {
		if c.Kind == native.KindNull {
			out := native.NewColumn(types.Int64, n)
			for range n {
				out.AppendNull()
			}
			return out, true, nil
		}
		if c.Nulls != nil {
			if nulls == nil {
				nulls = make([]bool, n)
			}
			for r, null := range c.Nulls[:n] {
				nulls[r] = nulls[r] || null
			}
		}
	}
	out := make([]int64, n)
	a, b := newDayReader(args[0], false), newDayReader(args[1], true)
	for from := 0; from < n; from += dayChunk {
		to := min(from+dayChunk, n)
		if !a.add(ctx, from, to, out) || !b.add(ctx, from, to, out) {
			return nil, false, nil
		}
	}
	if nulls != nil {
		for r, null := range nulls {
			if null {
				out[r] = 0 // a NULL row's value is not read; keep it tidy
			}
		}
	}
	return &native.Column{Kind: native.KindInt, Type: types.Int64, I: out, Nulls: nulls}, true, nil
}

// Day numbers of DATETIME's bounds: a value's day lies within them
// exactly when the value does (the bounds are a day's first and last
// microsecond).
var (
	dayDiffMinDay = floorDivInt(dayDiffMinMicros, microsPerDay)
	dayDiffMaxDay = floorDivInt(dayDiffMaxMicros, microsPerDay)
)

// dayChunk is the rows dayDiffBatch adds both arguments' days over at a
// time: the output's chunk stays in cache between the two passes.
const dayChunk = 1024

// dayReader reads one argument's day numbers (days since 1970-01-01) as
// DateDiff.Eval takes them, chunk after chunk; it carries the current day
// of a time column and the last string of a string column across chunks.
type dayReader struct {
	c    *native.Column
	sign int64 // 1, or -1 for the argument subtracted
	// A time column: rows in [lo, hi), the current day, share its
	// number (time-ordered events run through a day at a time): two
	// comparisons a row, no division. day is signed.
	lo, hi, day int64
	// A string column: the last string and its signed day; seen holds
	// the days of strings that are not plain YYYY-MM-DD.
	prev     string
	prevDay  int64
	havePrev bool
	seen     map[string]int64
	// months memoises plain YYYY-MM-DD strings' months, by their first
	// eight bytes ("YYYY-MM-", one word) in a small direct-mapped table:
	// rows of a join carry many users' days but few months, so a row of
	// a month seen before costs a word compare and two digits instead of
	// isoDay.
	months [monthSlots]monthMemo
}

func newDayReader(c *native.Column, neg bool) *dayReader {
	d := &dayReader{c: c, sign: 1, lo: 1}
	if neg {
		d.sign = -1
	}
	return d
}

// add adds the signed day of rows [from, to) to out[from:to]; false when
// some non-NULL value is not one DateDiff converts without a warning (the
// row path then says so). NULL rows may add garbage the caller clears.
func (d *dayReader) add(ctx *sql.Context, from, to int, out []int64) bool {
	c := d.c
	switch c.Kind {
	case native.KindTime:
		for r := from; r < to; r++ {
			v := c.I[r]
			if v >= d.lo && v < d.hi {
				out[r] += d.day
				continue
			}
			if c.Nulls != nil && c.Nulls[r] {
				continue
			}
			day := floorDivInt(v, microsPerDay)
			if day < dayDiffMinDay || day > dayDiffMaxDay {
				return false
			}
			d.lo, d.hi, d.day = day*microsPerDay, (day+1)*microsPerDay, d.sign*day
			out[r] += d.day
		}
		return true
	case native.KindString, native.KindAny:
		// A batch holds few distinct days (DATE() strings of a join's
		// rows): each is converted once.
		for r := from; r < to; r++ {
			if c.IsNull(r) {
				continue
			}
			var s string
			if c.Kind == native.KindString {
				s = c.S[r]
			} else {
				var isStr bool
				if s, isStr = c.A[r].(string); !isStr {
					return false
				}
			}
			if d.havePrev && len(s) == len(d.prev) && unsafe.StringData(s) == unsafe.StringData(d.prev) {
				// A constant, or the rows a join gathered from one row:
				// one string, no compare.
				out[r] += d.prevDay
				continue
			}
			if len(s) == 10 {
				w := first8(s)
				if m := &d.months[monthSlot(w)]; m.len > 0 && m.key == w {
					if dd, ok := dayOfMonth(s[8], s[9]); ok && dd >= 1 && dd <= m.len {
						out[r] += m.day0 + d.sign*dd
						continue
					}
				}
			}
			if d.havePrev && s == d.prev { // a run of one day
				out[r] += d.prevDay
				continue
			}
			day, ok := isoDay(s)
			if ok {
				// A plain date: remember its month (isoDay checked the
				// digits, the year and the day's range).
				dd, _ := dayOfMonth(s[8], s[9])
				w := first8(s)
				d.months[monthSlot(w)] = monthMemo{key: w, day0: d.sign * (day - dd), len: DaysInMonth(int64(s[0]-'0')*1000+int64(s[1]-'0')*100+int64(s[2]-'0')*10+int64(s[3]-'0'),
					int64(s[5]-'0')*10+int64(s[6]-'0'))}
			}
			if !ok {
				if day, ok = d.seen[s]; !ok {
					if day, ok = stringDay(ctx, s); !ok {
						return false
					}
					if d.seen == nil {
						d.seen = map[string]int64{}
					}
					d.seen[s] = day
				}
			}
			d.prev, d.prevDay, d.havePrev = s, d.sign*day, true
			out[r] += d.prevDay
		}
		return true
	}
	return false
}

// monthSlots is the size of dayReader's table of months.
const monthSlots = 16

// monthMemo is one month of dayReader's table: its first eight bytes
// ("YYYY-MM-"), the signed day number of its day 0 and its length in
// days (0: an empty slot).
type monthMemo struct {
	key       uint64
	day0, len int64
}

// monthSlot is the table slot of the month whose first eight bytes are
// w: the year's last digit and the month's (bytes 3, 5 and 6) spread
// over 16 slots, so that the months of a year or two do not collide.
func monthSlot(w uint64) int {
	return int(((w>>24)&0xff*12 + (w>>40)&0xff*10 + (w>>48)&0xff) % monthSlots)
}

// first8 is s's first eight bytes as one word (one load where a string
// compare calls memeqbody). REQUIRES: len(s) >= 8.
func first8(s string) uint64 {
	return binary.LittleEndian.Uint64(unsafe.Slice(unsafe.StringData(s), 8))
}

// dayOfMonth is the number of the two decimal digits a, b; false when
// either is not a digit.
func dayOfMonth(a, b byte) (int64, bool) {
	if a < '0' || a > '9' || b < '0' || b > '9' {
		return 0, false
	}
	return int64(a-'0')*10 + int64(b-'0'), true
}

// isoDay is the day of s when s is exactly YYYY-MM-DD, a real date of
// year 1000 or later (what DATE() gives): the conversion of such a string
// is that day's midnight. False for anything else, which stringDay takes.
func isoDay(s string) (int64, bool) {
	if len(s) != 10 || s[4] != '-' || s[7] != '-' {
		return 0, false
	}
	num := func(s string) (int, bool) {
		v := 0
		for i := 0; i < len(s); i++ {
			if s[i] < '0' || s[i] > '9' {
				return 0, false
			}
			v = v*10 + int(s[i]-'0')
		}
		return v, true
	}
	y, ok1 := num(s[:4])
	m, ok2 := num(s[5:7])
	d, ok3 := num(s[8:])
	if !ok1 || !ok2 || !ok3 || y < 1000 || m < 1 || m > 12 || d < 1 || int64(d) > DaysInMonth(int64(y), int64(m)) {
		return 0, false
	}
	return DaysFromCivil(int64(y), int64(m), int64(d)), true
}

// DaysInMonth is the number of days of month m (1-12) of year y
// (proleptic Gregorian).
func DaysInMonth(y, m int64) int64 {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// DaysFromCivil is the number of days from 1970-01-01 to the proleptic
// Gregorian date y-m-d (Howard Hinnant's days_from_civil), the day
// time.Date(y, m, d, 0, 0, 0, 0, time.UTC) falls on, without its cost.
func DaysFromCivil(y, m, d int64) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era-- // floor: year 0's January and February belong to era -1
	}
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

// stringDay is DateDiff.Eval's conversion of the string s to a day.
func stringDay(ctx *sql.Context, s string) (int64, bool) {
	warnings := ctx.Session.WarningCount()
	v, _, err := types.DatetimeMaxPrecision.Convert(ctx, s)
	t, isTime := v.(time.Time)
	if err != nil || !isTime || ctx.Session.WarningCount() != warnings {
		return 0, false
	}
	v, _, err = types.DatetimeMaxPrecision.Convert(ctx, t.String()[:10])
	t, isTime = v.(time.Time)
	if err != nil || !isTime || ctx.Session.WarningCount() != warnings {
		return 0, false
	}
	return floorDivInt(t.UnixMicro(), microsPerDay), true
}

// floorDivInt is ⌊a / b⌋ for b > 0.
func floorDivInt(a, b int64) int64 {
	q := a / b
	if q*b != a && a < 0 { // one division: a%b would be a second
		q--
	}
	return q
}

// floorDivColumns is FLOOR(num / k) with the batch form above.
type floorDivColumns struct {
	*function.Floor
	num sql.Expression
	k   int64
}

var _ native.ColumnFunction = (*floorDivColumns)(nil)

// maxFloorDivisor bounds k: a quotient's nonzero fraction is at least
// 1/k, which must survive rounding to minDivScale places.
const (
	maxFloorDivisor = 1000
	minDivScale     = 3
)

// newFloorDivColumns wraps f when it is FLOOR(i / k), i of an integer
// type and k an integer literal in [1, maxFloorDivisor].
func newFloorDivColumns(ctx *sql.Context, f *function.Floor) sql.Expression {
	div, ok := f.Child.(*expression.Div)
	if !ok || !types.IsInteger(div.LeftChild.Type(ctx)) {
		return nil
	}
	lit, ok := div.RightChild.(*expression.Literal)
	if !ok || !types.IsInteger(lit.Type(ctx)) {
		return nil
	}
	var k int64
	switch v := lit.Value().(type) {
	case int8:
		k = int64(v)
	case int16:
		k = int64(v)
	case int32:
		k = int64(v)
	case int64:
		k = v
	case uint8:
		k = int64(v)
	default:
		return nil
	}
	if k < 1 || k > maxFloorDivisor {
		return nil
	}
	return &floorDivColumns{Floor: f, num: div.LeftChild, k: k}
}

func (f *floorDivColumns) WithChildren(ctx *sql.Context, children ...sql.Expression) (sql.Expression, error) {
	e, err := f.Floor.WithChildren(ctx, children...)
	if err != nil {
		return nil, err
	}
	if w := newFloorDivColumns(ctx, e.(*function.Floor)); w != nil {
		return w, nil
	}
	return e, nil
}

func (f *floorDivColumns) ColumnEval() ([]sql.Expression, func(*sql.Context, []*native.Column, int) (*native.Column, bool, error)) {
	return []sql.Expression{f.num}, f.batch
}

func (f *floorDivColumns) batch(ctx *sql.Context, args []*native.Column, n int) (*native.Column, bool, error) {
	c := args[0]
	if c.Kind != native.KindInt || divScale(ctx) < minDivScale {
		return nil, false, nil
	}
	out := &native.Column{Kind: native.KindInt, Type: types.Int64, I: make([]int64, n), Nulls: c.Nulls}
	// A user's events of one day repeat their DATEDIFF: a run of equal
	// values takes its quotient once.
	last, q := int64(0), int64(0)
	for r, v := range c.I[:n] {
		if v != last || r == 0 {
			last, q = v, floorDivInt(v, f.k)
		}
		out.I[r] = q
	}
	return out, true, nil
}

// divScale is the session's div_precision_increment (-1 when unknown).
func divScale(ctx *sql.Context) int64 {
	v, err := ctx.GetSessionVariable(ctx, "div_precision_increment")
	if err != nil {
		return -1
	}
	switch x := v.(type) {
	case int8:
		return int64(x)
	case int16:
		return int64(x)
	case int32:
		return int64(x)
	case int64:
		return x
	case uint64:
		return int64(x)
	}
	return -1
}

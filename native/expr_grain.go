package native

// This file owns grain analysis: an expression whose only column input
// is one DATETIME or DATE column and that depends on it only through a
// coarse grain (a day, an hour, five minutes) is evaluated once per
// distinct grain bucket of a batch, and its values are copied to the
// bucket's other rows. BI tools bucket time with expressions that build
// strings on every row (Metabase's month:
// STR_TO_DATE(CONCAT(DATE_FORMAT(time, '%Y-%m'), '-01'), '%Y-%m-%d'));
// a batch of time-ordered events holds a few days, so these run a few
// times per batch instead of 4096.
//
// The grain of an expression e over the time column T is a length g in
// microseconds such that e has one value on every interval
// [k·g, (k+1)·g) of T's values (microseconds since 1970-01-01 of the
// civil datetime; floored, so days before 1970 bucket the same way):
//   - a literal is constant (grain 0, which combines as "no constraint");
//   - T itself has grain 1;
//   - a calendar function of T (YEAR, MONTH, DATE, DATE_FORMAT('%Y-%m'),
//     WEEK, …) has the grain of the finest field it reads (a day for the
//     date fields, an hour for HOUR, …); of T shifted by a whole number
//     of days (DATE_SUB(T, INTERVAL DAYOFWEEK(T) - 1 DAY)) the gcd of
//     that grain and the shift's;
//   - any other function on the allow-list is a pure function of its
//     arguments, so its grain is the gcd of theirs;
//   - anything else (another column, an unknown function, the session
//     clock) has no grain, and the expression is evaluated as before.
//
// DATETIMEs are civil times, independent of the session's time_zone:
// every function on the list reads the value's calendar fields, none
// converts between zones (UNIX_TIMESTAMP and FROM_UNIXTIME are not on
// it). TIMESTAMP columns are not analysed.
//
// Exactness: the cached value of a bucket is the compiled expression's
// own value for one real row of that bucket, so every row gets what it
// would get evaluated alone. Rows outside [1000-01-01, 9999-12-31]
// (where the zero time and range checks change what functions do) send
// the batch down the uncached path, as does a representative whose
// evaluation fails or warns: go-mysql-server would fail or warn on
// every row of that bucket, so the whole batch is evaluated row for row
// to give the same error and the same number of warnings.

import (
	"strings"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/expression"
	"github.com/dolthub/go-mysql-server/sql/expression/function"
	"github.com/dolthub/go-mysql-server/sql/types"
	"github.com/dolthub/vitess/go/sqltypes"
)

const (
	microsPerMinute = 60 * microsPerSecond
	microsPerHour   = 3600 * microsPerSecond

	// minGrain is the finest grain worth a cache: at a minute, a batch
	// of events a few seconds apart still shares each value across
	// several rows.
	minGrain = microsPerMinute

	// grainWindow is how many buckets around a batch's first the cache
	// finds by array index rather than by hashing: a day of minutes.
	grainWindow = 1440
)

// noGrain marks an expression without a grain.
const noGrain = int64(-1)

func gcd(a, b int64) int64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// combineGrains is the grain of a pure function of values of grains a
// and b: the gcd (0, a constant, leaves the other).
func combineGrains(a, b int64) int64 {
	if a == noGrain || b == noGrain {
		return noGrain
	}
	return gcd(a, b)
}

// dayFuncs are the functions of a date's calendar day (of its year,
// month and day of month) only.
var dayFuncs = map[string]bool{
	"year": true, "quarter": true, "month": true, "day": true, "dayofmonth": true,
	"dayofweek": true, "weekday": true, "dayofyear": true, "week": true, "yearweek": true,
	"weekofyear": true, "date": true, "to_days": true, "last_day": true, "dayname": true,
	"monthname": true,
}

// clockFuncs are the functions of a datetime's time of day, by the
// grain of what they read.
var clockFuncs = map[string]int64{"hour": microsPerHour, "minute": microsPerMinute, "second": microsPerSecond}

// pureFuncs are functions whose value depends on their arguments' values
// only (not on the row, the clock or the session's zone), each a value
// the analysis may cache.
var pureFuncs = map[string]bool{
	"concat": true, "str_to_date": true, "timestamp": true, "datetime": true, "makedate": true,
	"date_add": true, "date_sub": true, "lower": true, "upper": true, "if": true, "ifnull": true,
	"coalesce": true, "nullif": true,
	// Of the session's zone too, which a statement does not change.
	"from_unixtime": true, "unix_timestamp": true,
}

// dateFormatGrain is, for each DATE_FORMAT specifier, the span within
// which it prints the same (MySQL's list; %% prints '%').
var dateFormatGrain = func() map[byte]int64 {
	m := map[byte]int64{'%': 0, 'f': 1}
	for _, c := range "abcDdejMmUuVvWwXxYy" {
		m[byte(c)] = microsPerDay
	}
	for _, c := range "HhIklp" {
		m[byte(c)] = microsPerHour
	}
	m['i'] = microsPerMinute
	for _, c := range "SsTr" {
		m[byte(c)] = microsPerSecond
	}
	return m
}()

// formatGrain is the grain of a DATE_FORMAT format: the finest of its
// specifiers (1 for any this list does not know).
func formatGrain(f string) int64 {
	g := int64(0)
	for i := 0; i < len(f); i++ {
		if f[i] != '%' {
			continue
		}
		if i+1 == len(f) {
			return 1
		}
		sg, ok := dateFormatGrain[f[i+1]]
		if !ok {
			sg = 1
		}
		g = gcd(g, sg)
		i++
	}
	return g
}

// extractGrain is the grain of EXTRACT(unit FROM …): that of the finest
// field the unit names (1 for a unit this list does not know).
func extractGrain(unit string) int64 {
	u := strings.ToUpper(unit)
	switch {
	case strings.HasSuffix(u, "MICROSECOND"):
		return 1
	case strings.HasSuffix(u, "SECOND"):
		return microsPerSecond
	case strings.HasSuffix(u, "MINUTE"):
		return microsPerMinute
	case strings.HasSuffix(u, "HOUR"):
		return microsPerHour
	}
	switch u {
	case "YEAR", "QUARTER", "MONTH", "WEEK", "DAY", "YEAR_MONTH":
		return microsPerDay
	}
	return 1
}

// grainAnalysis finds the grain of expressions over column col.
type grainAnalysis struct {
	ctx *sql.Context
	col int
	typ sql.Type // the column's type
	// utc: the session's zone has offset zero; needsUTC: the grain
	// found depends on that.
	utc, needsUTC bool
}

// timeGrainColumn is the one column e reads, when it reads exactly one
// and that is a DATETIME or DATE column of in; ok false otherwise.
func timeGrainColumn(ctx *sql.Context, in sql.Schema, e sql.Expression) (col int, ok bool) {
	col = -1
	bad := false
	sql.Inspect(ctx, e, func(_ *sql.Context, x sql.Expression) bool {
		if f, isField := x.(*expression.GetField); isField {
			switch i := f.Index(); {
			case i < 0 || i >= len(in):
				bad = true
			case col < 0:
				col = i
			case col != i:
				bad = true
			}
		}
		return !bad
	})
	if bad || col < 0 {
		return 0, false
	}
	switch in[col].Type.Type() {
	case sqltypes.Datetime, sqltypes.Date:
		return col, true
	}
	return 0, false
}

// of is e's grain, noGrain when it has none.
func (a *grainAnalysis) of(e sql.Expression) int64 {
	switch x := e.(type) {
	case *expression.Literal:
		return 0
	case *expression.GetField:
		if x.Index() == a.col {
			return 1
		}
		return noGrain
	case *expression.Alias:
		return a.of(x.Child)
	case *expression.Convert:
		if x.Type(a.ctx).Type() == sqltypes.Date {
			return a.coarsen(x.Child, microsPerDay)
		}
		return a.ofAll(x.Children())
	case *function.DateFormat:
		lf, ok := x.RightChild.(*expression.Literal)
		if !ok {
			return noGrain
		}
		f, ok := lf.Value().(string)
		if !ok {
			return noGrain
		}
		return a.coarsen(x.LeftChild, formatGrain(f))
	case *function.Extract:
		lu, ok := x.LeftChild.(*expression.Literal)
		if !ok {
			return noGrain
		}
		unit, ok := lu.Value().(string)
		if !ok {
			return noGrain
		}
		return a.coarsen(x.RightChild, extractGrain(unit))
	case IntegerDivision:
		return a.intDiv(x.Children())
	case *expression.IntDiv:
		return a.intDiv(x.Children())
	case *expression.Arithmetic, *expression.Interval, *expression.Equals, *expression.LessThan,
		*expression.LessThanOrEqual, *expression.GreaterThan, *expression.GreaterThanOrEqual,
		*expression.Not, *expression.And, *expression.Or, *expression.IsNull:
		// Operators: pure functions of their operands.
		return a.ofAll(x.Children())
	case sql.FunctionExpression:
		name := strings.ToLower(x.FunctionName())
		ch := x.Children()
		switch {
		case dayFuncs[name] && len(ch) >= 1:
			// WEEK and YEARWEEK's mode is a second argument.
			return combineGrains(a.coarsen(ch[0], microsPerDay), a.ofAll(ch[1:]))
		case clockFuncs[name] != 0 && len(ch) == 1:
			return a.coarsen(ch[0], clockFuncs[name])
		case pureFuncs[name]:
			return a.ofAll(ch)
		}
	}
	return noGrain
}

// IntegerDivision is implemented by MySQL's DIV where it is defined
// outside this package (planner's), so that the grain analysis knows it.
type IntegerDivision interface {
	sql.Expression
	IntegerDivision()
}

// intDiv is the grain of l DIV r: UNIX_TIMESTAMP(column) DIV k, a
// positive integer k, in a session zone of offset zero is the column's
// k-second bucket (Grafana's $__timeGroup); any other DIV is a pure
// function of its operands.
func (a *grainAnalysis) intDiv(ch []sql.Expression) int64 {
	if len(ch) == 2 && a.utc {
		k, isLit := ch[1].(*expression.Literal)
		kv, isInt := int64(0), false
		if isLit {
			kv, isInt = IntOf(k.Value())
		}
		if isInt && kv > 0 && kv <= 1<<31 && a.isUnixTimestamp(ch[0]) {
			a.needsUTC = true
			return kv * microsPerSecond
		}
	}
	return a.ofAll(ch)
}

// isUnixTimestamp reports whether e is arb's UNIX_TIMESTAMP(column):
// epoch seconds of the column's value read in the session zone (which
// is UTC here), 0 before 1970, truncated to the column's fractional
// digits; so that floor(UNIX_TIMESTAMP / k) is floor(value / k s).
// go-mysql-server's own function is not arb's and is not recognised.
func (a *grainAnalysis) isUnixTimestamp(e sql.Expression) bool {
	f, ok := e.(sql.FunctionExpression)
	if !ok || f.FunctionName() != "unix_timestamp" {
		return false
	}
	if _, gms := e.(*function.UnixTimestamp); gms {
		return false
	}
	ch := e.Children()
	if len(ch) != 1 {
		return false
	}
	g, ok := ch[0].(*expression.GetField)
	return ok && g.Index() == a.col
}

// zeroOffsetZone reports whether the session's time_zone reads
// datetimes as UTC.
func zeroOffsetZone(ctx *sql.Context) bool {
	if ctx.Session == nil {
		return false
	}
	tz, err := function.SessionTimeZone(ctx)
	if err != nil {
		return false
	}
	switch tz {
	case "UTC", "+00:00", "-00:00":
		return true
	}
	return false
}

func (a *grainAnalysis) ofAll(es []sql.Expression) int64 {
	g := int64(0)
	for _, e := range es {
		if g = combineGrains(g, a.of(e)); g == noGrain {
			return noGrain
		}
	}
	return g
}

// coarsen is the grain of a function that reads arg's calendar and
// clock fields down to grain c (which divides a day): c itself when arg
// is the column, shifted or not by whole days, else arg's own grain.
func (a *grainAnalysis) coarsen(arg sql.Expression, c int64) int64 {
	if s, ok := a.dayShift(arg); ok {
		if c == 0 {
			return combineGrains(0, s)
		}
		return gcd(c, s)
	}
	return a.of(arg)
}

// dayShift reports whether e is the column moved by a whole number of
// days (0 for the column itself) that depends on the column only through
// grain s, with no rounding of the clock: DATE_ADD / DATE_SUB / ±
// INTERVAL of DAY or WEEK units typed so that the value keeps every
// fractional digit.
func (a *grainAnalysis) dayShift(e sql.Expression) (s int64, ok bool) {
	switch x := e.(type) {
	case *expression.GetField:
		return 0, x.Index() == a.col
	case *expression.Alias:
		return a.dayShift(x.Child)
	}
	f, isFunc := e.(sql.FunctionExpression)
	if !isFunc {
		return 0, false
	}
	name := strings.ToLower(f.FunctionName())
	if name != "date_add" && name != "date_sub" {
		return 0, false
	}
	if !a.keepsClock(e.Type(a.ctx)) {
		return 0, false
	}
	var date sql.Expression
	var iv *expression.Interval
	switch x := e.(type) {
	case *function.DateAdd:
		date, iv = x.Date, x.Interval
	case *function.DateSub:
		date, iv = x.Date, x.Interval
	default:
		// arb's wrapper (planner's dateArith): one child, go-mysql-server's
		// DATE_ADD, DATE_SUB or date ± INTERVAL arithmetic.
		ch := e.Children()
		if len(ch) != 1 {
			return 0, false
		}
		switch in := ch[0].(type) {
		case *function.DateAdd:
			date, iv = in.Date, in.Interval
		case *function.DateSub:
			date, iv = in.Date, in.Interval
		case *expression.Arithmetic:
			if in.Op != "+" && in.Op != "-" {
				return 0, false
			}
			date, iv = in.LeftChild, asInterval(in.RightChild)
			if l := asInterval(in.LeftChild); l != nil && in.Op == "+" {
				date, iv = in.RightChild, l
			}
		}
	}
	if date == nil || iv == nil {
		return 0, false
	}
	switch strings.ToUpper(iv.Unit) {
	case "DAY", "WEEK":
	default:
		return 0, false
	}
	// A count that is not an integer (INTERVAL 1.5 DAY) may not move by
	// whole days.
	if !types.IsInteger(iv.Child.Type(a.ctx)) {
		return 0, false
	}
	ds, ok := a.dayShift(date)
	if !ok {
		return 0, false
	}
	n := a.of(iv.Child)
	if n == noGrain {
		return 0, false
	}
	return gcd(ds, n), true
}

func asInterval(e sql.Expression) *expression.Interval {
	iv, _ := e.(*expression.Interval)
	return iv
}

// keepsClock reports whether values of type t keep every digit of the
// column's values: a DATE column's days as DATE or DATETIME, a
// DATETIME(p) column's as DATETIME(q ≥ p). A conversion that rounds
// could move a value across a day.
func (a *grainAnalysis) keepsClock(t sql.Type) bool {
	switch t.Type() {
	case sqltypes.Date:
		return a.typ.Type() == sqltypes.Date
	case sqltypes.Datetime:
		dt, ok := t.(sql.DatetimeType)
		if !ok {
			return false
		}
		if in, ok := a.typ.(sql.DatetimeType); ok && a.typ.Type() == sqltypes.Datetime {
			return dt.Precision() >= in.Precision()
		}
		return a.typ.Type() == sqltypes.Date
	}
	return false
}

// exprGrain is e's grain over the one time column it reads, or ok
// false; needsUTC when the grain holds only in a zone of offset zero.
func exprGrain(ctx *sql.Context, in sql.Schema, e sql.Expression) (col int, g int64, needsUTC, ok bool) {
	col, ok = timeGrainColumn(ctx, in, e)
	if !ok {
		return 0, 0, false, false
	}
	a := &grainAnalysis{ctx: ctx, col: col, typ: in[col].Type, utc: zeroOffsetZone(ctx)}
	g = a.of(e)
	return col, g, a.needsUTC, g > 0
}

// grainExpr is an expression of one time column with a grain, evaluated
// once per bucket of a batch (see the top of this file).
type grainExpr struct {
	inner Expr // the expression compiled without the cache
	col   int
	grain int64
	// utc: the grain holds only while the session's zone has offset
	// zero (checked per batch: a compiled plan does not outlive its
	// statement, but the check is cheap).
	utc bool
	// memo holds buckets' values across batches (expr_grain_memo.go).
	memo grainMemo
}

// grainCache wraps x, an expression of column col with grain g, in a
// grain cache. A calendar kernel straight over the column (YEAR(time),
// DATE(time)) already computes once per day: it stays as it is.
func grainCache(x Expr, col int, g int64, utc bool) Expr {
	switch k := x.(type) {
	case *datePartExpr:
		if _, f := k.x.(*fieldExpr); f {
			return x
		}
	case *dateStrExpr:
		if _, f := k.x.(*fieldExpr); f {
			return x
		}
	case *castDateExpr:
		if _, f := k.x.(*fieldExpr); f {
			return x
		}
	case *dateFormatExpr:
		if _, f := k.x.(*fieldExpr); f {
			return x
		}
	case *fieldExpr, *constExpr:
		return x
	}
	return &grainExpr{inner: x, col: col, grain: g, utc: utc}
}

func (x *grainExpr) Type() sql.Type { return x.inner.Type() }
func (x *grainExpr) String() string { return x.inner.String() }
func (x *grainExpr) mayFail() bool  { return mayFail(x.inner) }

func (x *grainExpr) Eval(ctx *sql.Context, b *Batch) (*Column, error) {
	if out, ok, err := x.cached(ctx, b); ok || err != nil {
		return out, err
	}
	return x.inner.Eval(ctx, b)
}

// cached is the expression over b through the bucket cache; ok false
// when b is for the uncached path (values out of the safe range, few
// rows per bucket, a representative that failed or warned).
func (x *grainExpr) cached(ctx *sql.Context, b *Batch) (out *Column, ok bool, err error) {
	n := b.N
	tc := b.Cols[x.col]
	if n < 2 || tc.Kind != KindTime || ctx.Session == nil || x.utc && !zeroOffsetZone(ctx) {
		return nil, false, nil
	}
	if lo, hi, ok := boundsInSafeRange(tc, n); ok && tc.Nulls == nil && floorDiv(lo, x.grain) == floorDiv(hi, x.grain) {
		// The column's bounds lie in one bucket (the hours of an hour's
		// batch, a day's segment by day): row 0 represents every row.
		out, ok := x.evalReps(ctx, b, []int32{0}, []int64{floorDiv(lo, x.grain)}, []grainRun{{end: int32(n), slot: 0}}, n)
		if ok && !out.IsNull(0) {
			out.Const = true
			if out.Kind == KindInt || out.Kind == KindTime {
				out.setBounds(out.I[0], out.I[0])
			}
		}
		return out, ok, nil
	}
	if lo, hi, ok := boundsInSafeRange(tc, n); ok && tc.Nulls == nil && !timeOrdered(tc.I[:n], x.grain) {
		if out, ok, done := x.cachedSpan(ctx, b, lo, hi); done {
			return out, ok, nil
		}
	}
	// One pass: the rows as runs of one bucket (time-ordered events make
	// long runs), a representative row per bucket. A row inside the
	// current bucket's bounds costs two comparisons.
	runs := make([]grainRun, 0, 16)
	reps := make([]int32, 0, 16)    // a row of each bucket, in slot order
	buckets := make([]int64, 0, 16) // each slot's bucket (noBucket: NULL)
	nullSlot := int32(-1)
	var seen map[int64]int32 // buckets outside window
	var window []int32       // bucket base+w's slot+1 (0: not seen yet)
	var base int64
	firstS := int32(-1)                          // the first bucket's slot, at base+grainWindow/2
	lo, hi, cur := int64(1), int64(0), int32(-1) // the current bucket: [lo, hi), its slot
	for r, v := range tc.I[:n] {
		var s int32
		switch {
		case tc.Nulls != nil && tc.Nulls[r]:
			if nullSlot < 0 {
				nullSlot = int32(len(reps))
				reps = append(reps, int32(r))
				buckets = append(buckets, noBucket)
			}
			s = nullSlot
		case v >= lo && v < hi:
			s = cur
		case v < safeMinMicros || v > safeMaxMicros:
			return nil, false, nil
		default:
			k := floorDiv(v, x.grain)
			if firstS < 0 && window == nil {
				// The first bucket: no array yet (a day's bucket may be
				// the batch's only one).
				firstS, base = int32(len(reps)), k-grainWindow/2
				s = firstS
				reps = append(reps, int32(r))
				buckets = append(buckets, k)
			} else if w := uint64(k - base); w < grainWindow {
				if window == nil {
					window = make([]int32, grainWindow)
					window[grainWindow/2] = firstS + 1
				}
				// Buckets near the batch's first (the hours of a day's
				// segment, whose rows go user by user): an array.
				if s = window[w] - 1; s < 0 {
					s = int32(len(reps))
					reps = append(reps, int32(r))
					buckets = append(buckets, k)
					window[w] = s + 1
				}
			} else {
				found := false
				if s, found = seen[k]; !found {
					if seen == nil {
						seen = make(map[int64]int32)
					}
					s = int32(len(reps))
					reps = append(reps, int32(r))
					buckets = append(buckets, k)
					seen[k] = s
				}
			}
			// The bucket's bounds, inside the safe range (a bucket of an
			// odd number of seconds may straddle its ends).
			lo, hi, cur = max(k*x.grain, safeMinMicros), min(k*x.grain+x.grain, safeMaxMicros+1), s
		}
		if len(runs) > 0 && runs[len(runs)-1].slot == s {
			runs[len(runs)-1].end++
		} else {
			if len(runs) == cap(runs) {
				// Past a few runs (a batch whose rows go user by user
				// changes bucket on most rows): room for every row at
				// once instead of growing by appends.
				grown := make([]grainRun, len(runs), max(2*cap(runs), min(n, 4*cap(runs)+n/4)))
				copy(grown, runs)
				runs = grown
			}
			runs = append(runs, grainRun{end: int32(r + 1), slot: s})
		}
	}
	if len(reps)*2 > n {
		return nil, false, nil // buckets of one or two rows: not worth it
	}
	out, ok = x.evalReps(ctx, b, reps, buckets, runs, n)
	return out, ok, nil
}

// timeOrdered reports whether the first rows of v (microseconds) stay
// in long runs of one bucket of grain g, as rows in time order do; rows
// that go user by user (a compacted day's segment) change bucket on
// most rows.
func timeOrdered(v []int64, g int64) bool {
	const probe = 64
	v = v[:min(len(v), probe)]
	changes := 0
	for i := 1; i < len(v); i++ {
		if v[i] < v[i-1] || v[i]-v[i-1] >= g || floorDiv(v[i], g) != floorDiv(v[i-1], g) {
			changes++
		}
	}
	return changes*8 < len(v)
}

// cachedSpan is cached for a batch whose rows change bucket often but
// whose bounds [lo, hi] span at most grainWindow buckets (a day's
// segment at an hour or minute grain): each row's bucket is an index
// into an array of slots, found by a multiplication instead of a
// division, and the output gathers the slots' values row by row. done
// false when the bounds span more buckets (the caller's general pass
// runs instead).
func (x *grainExpr) cachedSpan(ctx *sql.Context, b *Batch, lo, hi int64) (out *Column, ok, done bool) {
	g := x.grain
	base := floorDiv(lo, g)
	nb := floorDiv(hi, g) - base + 1
	if nb > grainWindow {
		return nil, false, false
	}
	n := b.N
	origin := base * g // ≤ lo: every row's offset d is in [0, nb*g)
	// d < grainWindow*g fits a float64's 53-bit mantissa for any grain
	// this cache takes, so d*inv is within one of d/g: one correction
	// step makes it exact.
	inv := 1 / float64(g)
	window := make([]int32, nb) // bucket base+k's slot+1 (0: not seen yet)
	slots := make([]int32, n)
	reps := make([]int32, 0, min(nb, 256))
	buckets := make([]int64, 0, min(nb, 256))
	for r, v := range b.Cols[x.col].I[:n] {
		d := v - origin
		k := int64(float64(d) * inv)
		if k*g > d {
			k--
		} else if (k+1)*g <= d {
			k++
		}
		s := window[k] - 1
		if s < 0 {
			s = int32(len(reps))
			reps = append(reps, int32(r))
			buckets = append(buckets, base+k)
			window[k] = s + 1
		}
		slots[r] = s
	}
	if len(reps)*2 > n {
		return nil, false, true
	}
	vals, ok := x.slotValues(ctx, b, reps, buckets)
	if !ok {
		return nil, false, true
	}
	if vals.Kind == KindNull {
		return allNull(vals.Type, n), true, true
	}
	return vals.Gather(slots), true, true
}

// evalReps is the expression at rows reps of b (of buckets buckets),
// copied to the n rows of runs; ok false when a representative failed or
// warned.
func (x *grainExpr) evalReps(ctx *sql.Context, b *Batch, reps []int32, buckets []int64, runs []grainRun, n int) (*Column, bool) {
	vals, ok := x.slotValues(ctx, b, reps, buckets)
	if !ok {
		return nil, false
	}
	return scatterColumn(vals, runs, n), true
}

// slotValues is the expression's value for each slot (row j is slot
// j's, of bucket buckets[j] and represented by row reps[j] of b); ok
// false when a representative failed or warned. Buckets the memo knows
// are not evaluated again.
func (x *grainExpr) slotValues(ctx *sql.Context, b *Batch, reps []int32, buckets []int64) (*Column, bool) {
	known, missing := x.memo.lookup(buckets)
	if missing == nil {
		return known[0], true // every bucket seen before
	}
	sc, ok := x.evalRows(ctx, b, rowsAt(reps, missing))
	if !ok {
		return nil, false
	}
	return x.memo.merge(known, missing, sc, buckets), true
}

// evalRows is the expression at rows rows of b; ok false when one failed
// or warned.
func (x *grainExpr) evalRows(ctx *sql.Context, b *Batch, reps []int32) (*Column, bool) {
	tc := b.Cols[x.col]
	small := &Batch{N: len(reps), Cols: make([]*Column, len(b.Cols))}
	for i := range b.Cols {
		if i == x.col {
			small.Cols[i] = tc.Gather(reps)
		} else {
			// The expression reads no other column; go-mysql-server's Eval
			// fallback still fills whole rows.
			small.Cols[i] = &Column{Kind: KindNull, Type: types.Null}
		}
	}
	qctx, quiet := quietContext(ctx)
	sc, err := x.inner.Eval(qctx, small)
	if err != nil || quiet.warnings > 0 {
		return nil, false
	}
	return sc, true
}

// grainRun is rows [previous run's end, end) of a batch, all of bucket
// slot.
type grainRun struct{ end, slot int32 }

// scatterColumn is the column of n rows whose rows in each run are row
// slot of c.
func scatterColumn(c *Column, runs []grainRun, n int) *Column {
	if c.Kind == KindNull {
		return allNull(c.Type, n)
	}
	out := &Column{Kind: c.Kind, Type: c.Type}
	if c.Nulls != nil {
		for _, run := range runs {
			if c.Nulls[run.slot] {
				out.Nulls = scatter(c.Nulls, runs, n)
				break
			}
		}
	}
	switch c.Kind {
	case KindInt, KindTime:
		out.I = scatter(c.I, runs, n)
	case KindFloat:
		out.F = scatter(c.F, runs, n)
	case KindString:
		out.S = scatter(c.S, runs, n)
	case KindAny:
		out.A = scatter(c.A, runs, n)
	}
	return out
}

func scatter[T any](vals []T, runs []grainRun, n int) []T {
	out := make([]T, n)
	start := int32(0)
	for _, run := range runs {
		v := vals[run.slot]
		for r := start; r < run.end; r++ {
			out[r] = v
		}
		start = run.end
	}
	return out
}

// quietSession is a session that counts warnings instead of keeping
// them: a representative's warnings are not the statement's (the batch
// is evaluated again, row for row, when there are any).
type quietSession struct {
	sql.Session
	warnings int
}

func (s *quietSession) Warn(*sql.Warning) { s.warnings++ }
func (s *quietSession) WarningCount() uint16 {
	return s.Session.WarningCount() + uint16(min(s.warnings, 1<<15))
}

// quietContext is ctx with its session's warnings counted by a
// quietSession.
func quietContext(ctx *sql.Context) (*sql.Context, *quietSession) {
	q := &quietSession{Session: ctx.Session}
	c := *ctx
	c.Session = q
	return &c, q
}

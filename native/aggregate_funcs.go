package native

// This file owns the aggregate functions of HashAggregate: one state per
// output column, held for every group in typed slices indexed by group id
// (see group_table.go), folded a batch at a time.
//
// Each mirrors go-mysql-server's buffer (sql/expression/function/
// aggregation/unary_agg_buffers.go) value for value and Go type for Go
// type:
//   - COUNT(*), COUNT(x): int64; x counts when not NULL.
//   - COUNT(DISTINCT x, …): int64; a row with a NULL argument is skipped;
//     values are the same when their text (types.Text) is, the arguments'
//     texts joined by "," (so 1 and 1.0 are one value, 'a' and 'A' two).
//   - SUM(x): float64 summed in input order (integers converted first),
//     decimal.Decimal once a decimal value arrives; NULL over no values.
//   - AVG(x): that sum over the count of non-NULL values; NULL over none.
//   - MIN(x), MAX(x): a value of x, compared by x's type (strings by its
//     collation); the first of equal values stays.
//   - a plain expression, and FIRST(x): x on the group's first row, NULL
//     included; ANY_VALUE(x): the first non-NULL x.
//   - any other aggregate (GROUP_CONCAT, JSON_ARRAYAGG, STD, BIT_AND, …,
//     and any over a DISTINCT argument such as SUM(DISTINCT x)) runs
//     go-mysql-server's own buffer per group on the input rows.
//
// Group ids arrive in first-seen order, so the first row of a new group
// is the row whose group id equals the number of groups seen before it.

import (
	"fmt"
	"math/bits"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/expression"
	"github.com/dolthub/go-mysql-server/sql/expression/function/aggregation"
	"github.com/dolthub/go-mysql-server/sql/transform"
	"github.com/dolthub/go-mysql-server/sql/types"
	"github.com/dolthub/vitess/go/sqltypes"
	"github.com/shopspring/decimal"

	"arb/storage"
)

// aggFunc is one output column of a HashAggregate.
type aggFunc interface {
	// fresh is a copy with empty state, for one run.
	fresh() aggFunc
	// add folds the rows of b into their groups: row r into groups[r];
	// ngroups is the number of groups after b.
	add(ctx *sql.Context, b *Batch, groups []int32, ngroups int) error
	// result is the value of groups [0, ngroups), in group order.
	result(ctx *sql.Context, ngroups int) (*Column, error)
	// bytes estimates the state's memory.
	bytes() int64
	close(ctx *sql.Context)
	String() string
}

// oneGroupAdder is an aggFunc with a faster add for a batch whose rows
// all belong to one group (the hash aggregate knows it when every key
// column is one value: column_hints.go).
type oneGroupAdder interface {
	// addOneGroup is add with groups[r] == g for every row r of b.
	addOneGroup(ctx *sql.Context, b *Batch, g int32, ngroups int) error
}

var _ oneGroupAdder = (*countAgg)(nil)

// newAggFunc is the aggregate for select dependency e of a GroupBy over
// rows compiled by c, or nil and why not.
func newAggFunc(ctx *sql.Context, c *Compiler, e sql.Expression) (aggFunc, string, error) {
	name := e.String()
	if a, ok := e.(*expression.Alias); ok {
		e = a.Child
	}
	agg, ok := e.(sql.Aggregation)
	if !ok {
		if hasAggregation(ctx, e) {
			return nil, "aggregate nested in " + name, nil
		}
		x, err := c.Compile(ctx, e)
		if err != nil {
			return nil, "", err
		}
		return &firstAgg{arg: x, name: name}, "", nil
	}
	if agg.Window() != nil {
		return nil, "aggregate with a window: " + name, nil
	}
	for _, ch := range agg.Children() {
		if hasAggregation(ctx, ch) {
			return nil, "aggregate of an aggregate: " + name, nil
		}
	}
	if hasDistinctExpr(ctx, e) {
		// SUM(DISTINCT x) and kin: the DISTINCT is a stateful expression
		// each group's buffer clones.
		return &bufferAgg{agg: agg, name: name}, "", nil
	}
	compile := func(x sql.Expression) (Expr, error) {
		cx, err := c.Compile(ctx, x)
		if err != nil {
			return nil, err
		}
		return dictExprOf(ctx, x, cx, c.In), nil
	}
	if es, ok := e.(ExactSummer); ok { // aggregate_exact_sum.go
		arg, avg, typ := es.ExactSumArg()
		x, err := compile(arg)
		return &exactSumAgg{arg: x, avg: avg, typ: typ, name: name}, "", err
	}
	switch f := e.(type) {
	case *aggregation.Count:
		if countsEveryRow(ctx, f.Child) {
			return &countAgg{name: name}, "", nil
		}
		x, err := compile(f.Child)
		return &countAgg{arg: x, name: name}, "", err
	case *aggregation.CountDistinct:
		kids := f.Children()
		var args []Expr
		for _, k := range kids {
			if _, star := k.(*expression.Star); star {
				return &bufferAgg{agg: agg, name: name}, "", nil
			}
			x, err := compile(k)
			if err != nil {
				return nil, "", err
			}
			args = append(args, x)
		}
		if len(args) == 0 {
			return &bufferAgg{agg: agg, name: name}, "", nil
		}
		expect := KindAny
		if len(args) == 1 {
			expect = KindOf(kids[0].Type(ctx))
		}
		return &countDistinctAgg{args: args, expect: expect, name: name}, "", nil
	case *aggregation.Sum:
		x, err := compile(f.Child)
		return &sumAgg{arg: x, childType: f.Child.Type(ctx), name: name}, "", err
	case *aggregation.Avg:
		x, err := compile(f.Child)
		return &sumAgg{arg: x, childType: f.Child.Type(ctx), avg: true, name: name}, "", err
	case *aggregation.Min:
		x, err := compile(f.Child)
		return newMinMax(ctx, x, f.Child.Type(ctx), false, name), "", err
	case *aggregation.Max:
		x, err := compile(f.Child)
		return newMinMax(ctx, x, f.Child.Type(ctx), true, name), "", err
	case *aggregation.First:
		x, err := compile(f.Child)
		return &firstAgg{arg: x, name: name}, "", err
	case *aggregation.AnyValue:
		x, err := compile(f.Child)
		return &anyValueAgg{arg: x, name: name}, "", err
	}
	return &bufferAgg{agg: agg, name: name}, "", nil
}

// countsEveryRow reports whether COUNT(e) counts every row: COUNT(*) and
// COUNT of a non-NULL literal (what COUNT(*) becomes).
func countsEveryRow(ctx *sql.Context, e sql.Expression) bool {
	switch x := e.(type) {
	case *expression.Star:
		return true
	case *expression.Literal:
		v, err := x.Eval(ctx, nil)
		return err == nil && v != nil
	}
	return false
}

func hasAggregation(ctx *sql.Context, e sql.Expression) bool {
	return transform.InspectExpr(ctx, e, func(_ *sql.Context, x sql.Expression) bool {
		_, ok := x.(sql.Aggregation)
		return ok
	})
}

func hasDistinctExpr(ctx *sql.Context, e sql.Expression) bool {
	return transform.InspectExpr(ctx, e, func(_ *sql.Context, x sql.Expression) bool {
		_, ok := x.(*expression.DistinctExpression)
		return ok
	})
}

// grow is s with length n, new slots zero.
func grow[T any](s []T, n int) []T {
	if n <= len(s) {
		return s
	}
	if n <= cap(s) {
		old := len(s)
		s = s[:n]
		clear(s[old:])
		return s
	}
	return append(s, make([]T, n-len(s))...)
}

// nullsOf is the Nulls of a result column: NULL where !has.
func nullsOf(has []bool) []bool {
	var nulls []bool
	for g, h := range has {
		if !h {
			if nulls == nil {
				nulls = make([]bool, len(has))
			}
			nulls[g] = true
		}
	}
	return nulls
}

// ---- COUNT ----

// countAgg is COUNT(arg), or COUNT(*) when arg is nil.
type countAgg struct {
	arg    Expr
	name   string
	counts []int64
}

func (a *countAgg) fresh() aggFunc { return &countAgg{arg: a.arg, name: a.name} }
func (a *countAgg) argSlots() []*Expr {
	if a.arg == nil {
		return nil
	}
	return []*Expr{&a.arg}
}
func (a *countAgg) String() string         { return a.name }
func (a *countAgg) bytes() int64           { return 8 * int64(cap(a.counts)) }
func (a *countAgg) close(ctx *sql.Context) { a.counts = nil }

func (a *countAgg) add(ctx *sql.Context, b *Batch, groups []int32, ngroups int) error {
	a.counts = grow(a.counts, ngroups)
	counts := a.counts
	if a.arg == nil {
		for _, g := range groups {
			counts[g]++
		}
		return nil
	}
	c, err := a.arg.Eval(ctx, b)
	if err != nil {
		return err
	}
	switch {
	case c.Kind == KindNull:
	case c.Nulls == nil:
		for _, g := range groups {
			counts[g]++
		}
	default:
		for r, g := range groups {
			if !c.Nulls[r] {
				counts[g]++
			}
		}
	}
	return nil
}

// addOneGroup is add with every row in group g (oneGroupAdder).
func (a *countAgg) addOneGroup(ctx *sql.Context, b *Batch, g int32, ngroups int) error {
	a.counts = grow(a.counts, ngroups)
	if a.arg == nil {
		a.counts[g] += int64(b.N)
		return nil
	}
	c, err := a.arg.Eval(ctx, b)
	if err != nil {
		return err
	}
	switch {
	case c.Kind == KindNull:
	case c.Nulls == nil:
		a.counts[g] += int64(b.N)
	default:
		for _, null := range c.Nulls[:b.N] {
			if !null {
				a.counts[g]++
			}
		}
	}
	return nil
}

func (a *countAgg) result(ctx *sql.Context, ngroups int) (*Column, error) {
	a.counts = grow(a.counts, ngroups)
	return &Column{Kind: KindInt, Type: types.Int64, I: a.counts[:ngroups]}, nil
}

// ---- COUNT(DISTINCT) ----

// countDistinctAgg is COUNT(DISTINCT args…). Values are interned to ids
// (one id space for the aggregate) and each group holds a bitmap of ids.
//
// INVARIANT: a value has one id: with one argument whose values are
// integers (or times) by type, those values are interned by number (time:
// by microsecond, which is what their text shows) and every other value
// by its text; texts are go-mysql-server's types.Text conversion.
//
// A column of user numbers (Column.U: distinct_id from the events scan)
// skips the interning: its rows go by number into usets, a second set
// per group. Equal numbers are equal texts, so a group's count is the
// size of usets alone while no value came as text; when both hold
// values, result interns the users' ids into sets first (the rare mix of
// a numbered and an unnumbered input, or two numberings).
type countDistinctAgg struct {
	args   []Expr
	expect Kind // the single argument's Kind by its type; KindAny for several
	name   string

	ints  map[int64]uint32
	texts map[string]uint32
	sets  []*roaring.Bitmap
	added int64 // successful bitmap adds, for the memory estimate
	text  []byte
	cache *idCache // ids of strings in texts

	users *storage.UserIDs  // the numbering of usets, nil before the first
	usets []*roaring.Bitmap // per group: user numbers (Users)
	// udense, while dense: per group, its user numbers as a bitset (bit
	// u of word u/64), in place of usets: a bit set per row where a
	// bitmap's add searches and shifts its containers. dense holds while
	// every group's bitset, at the numbering's size, fits
	// denseUsersBytes together; past it they become usets.
	udense     [][]uint64
	dense      bool
	denseWords int64 // words allocated in udense

	// A string argument with dictionary codes (Column.Codes): dictIDs[code]
	// is 1 + the id of dict[code] in texts, 0 before its first row, for
	// the last dictionary seen (as the group table's dictGroups).
	dict    []string
	dictIDs []uint32
}

func (a *countDistinctAgg) fresh() aggFunc {
	return &countDistinctAgg{args: a.args, expect: a.expect, name: a.name,
		ints: map[int64]uint32{}, texts: map[string]uint32{}, dense: true}
}

// denseUsersBytes bounds one COUNT(DISTINCT user)'s bitsets together
// (countDistinctAgg.udense): 512 groups of 500K users, 51 of 5M. A
// variable for tests.
var denseUsersBytes int64 = 32 << 20

func (a *countDistinctAgg) String() string { return a.name }
func (a *countDistinctAgg) argSlots() []*Expr {
	slots := make([]*Expr, len(a.args))
	for i := range a.args {
		slots[i] = &a.args[i]
	}
	return slots
}
func (a *countDistinctAgg) close(ctx *sql.Context) {
	a.ints, a.texts, a.sets, a.usets = nil, nil, nil, nil
	a.dict, a.dictIDs = nil, nil
	a.udense, a.denseWords = nil, 0
}

func (a *countDistinctAgg) bytes() int64 {
	return int64(len(a.ints))*24 + int64(len(a.texts))*40 + int64(len(a.sets)+len(a.usets))*(8+96) + 2*a.added + 4*int64(cap(a.dictIDs)) +
		24*int64(cap(a.udense)) + 8*a.denseWords
}

func (a *countDistinctAgg) internInt(v int64) uint32 {
	id, ok := a.ints[v]
	if !ok {
		id = uint32(len(a.ints) + len(a.texts))
		a.ints[v] = id
	}
	return id
}

func (a *countDistinctAgg) internText(s string) uint32 {
	id, ok := a.texts[s]
	if !ok {
		id = uint32(len(a.ints) + len(a.texts))
		a.texts[s] = id
	}
	return id
}

// internTextBytes interns a text held in a reused buffer.
func (a *countDistinctAgg) internTextBytes(s []byte) uint32 {
	id, ok := a.texts[string(s)]
	if !ok {
		id = uint32(len(a.ints) + len(a.texts))
		a.texts[string(s)] = id
	}
	return id
}

func (a *countDistinctAgg) mark(g int32, id uint32) {
	set := a.sets[g]
	if set == nil {
		set = roaring.New()
		a.sets[g] = set
	}
	if set.CheckedAdd(id) {
		a.added++
	}
}

func (a *countDistinctAgg) add(ctx *sql.Context, b *Batch, groups []int32, ngroups int) error {
	a.sets = grow(a.sets, ngroups)
	cols := make([]*Column, len(a.args))
	for i, x := range a.args {
		c, err := x.Eval(ctx, b)
		if err != nil {
			return err
		}
		if c.Kind == KindNull {
			return nil // every row has a NULL argument
		}
		cols[i] = c
	}
	if len(cols) == 1 {
		if us, users := cols[0].userNumbers(); us != nil && (a.users == nil || a.users.SameNumbering(users)) {
			a.addUsers(cols[0], us, users, groups, ngroups)
			return nil
		}
		return a.addOne(ctx, cols[0], groups)
	}
rows:
	for r, g := range groups {
		a.text = a.text[:0]
		for _, c := range cols {
			if c.IsNull(r) {
				continue rows
			}
			var err error
			if a.text, err = appendText(ctx, a.text, c, r); err != nil {
				return err
			}
			a.text = append(a.text, ',')
		}
		a.mark(g, a.internTextBytes(a.text))
	}
	return nil
}

// addUsers folds a single argument's column of user numbers us.
func (a *countDistinctAgg) addUsers(c *Column, us []uint32, users *storage.UserIDs, groups []int32, ngroups int) {
	a.users = widerNumbering(a.users, users)
	a.usets = grow(a.usets, ngroups)
	words := (a.users.Len() + 63) / 64
	if a.dense && int64(ngroups)*int64(words)*8 > denseUsersBytes {
		a.toBitmaps()
	}
	if a.dense {
		a.udense = grow(a.udense, ngroups)
	}
	lastG, lastU := int32(-1), uint32(0)
	for r, g := range groups {
		if c.Nulls != nil && c.Nulls[r] {
			continue
		}
		u := us[r]
		if g == lastG && u == lastU {
			continue // a user's run of events in one group
		}
		lastG, lastU = g, u
		if a.dense {
			set := a.udense[g]
			if int(u>>6) >= len(set) {
				// A group's first user, or a number past the numbering's
				// size when the set was made (users numbered since).
				grown := make([]uint64, max(words, int(u>>6)+1))
				copy(grown, set)
				a.denseWords += int64(len(grown) - len(set))
				set = grown
				a.udense[g] = set
			}
			set[u>>6] |= 1 << (u & 63)
			continue
		}
		set := a.usets[g]
		if set == nil {
			set = roaring.New()
			a.usets[g] = set
		}
		if set.CheckedAdd(u) {
			a.added++
		}
	}
}

// addOne folds a single argument's column.
func (a *countDistinctAgg) addOne(ctx *sql.Context, c *Column, groups []int32) error {
	switch {
	case c.Kind == KindInt && a.expect == KindInt, c.Kind == KindTime && a.expect == KindTime:
		for r, g := range groups {
			if c.Nulls == nil || !c.Nulls[r] {
				a.mark(g, a.internInt(c.I[r]))
			}
		}
	case c.Kind == KindString && c.Codes != nil && len(c.Dict) <= dictGroupsMax:
		a.addCoded(c, groups)
	case c.Kind == KindString:
		if a.cache == nil {
			a.cache = &idCache{}
		}
		lastG, lastID := int32(-1), int32(-1)
		for r, g := range groups {
			if c.Nulls != nil && c.Nulls[r] {
				continue
			}
			v := c.S[r]
			slot := a.cache.slot(v)
			if !slot.holds(v) {
				slot.s, slot.id = v, int32(a.internText(v))
			}
			if g == lastG && slot.id == lastID {
				continue // a user's run of events in one group
			}
			lastG, lastID = g, slot.id
			a.mark(g, uint32(slot.id))
		}
	default:
		for r, g := range groups {
			if c.IsNull(r) {
				continue
			}
			if c.Kind == KindAny {
				if id, ok := a.internTyped(c.A[r]); ok {
					a.mark(g, id)
					continue
				}
			}
			var err error
			if a.text, err = appendText(ctx, a.text[:0], c, r); err != nil {
				return err
			}
			a.mark(g, a.internTextBytes(a.text))
		}
	}
	return nil
}

// addCoded folds a string argument with dictionary codes: each code's
// text is interned once per dictionary.
func (a *countDistinctAgg) addCoded(c *Column, groups []int32) {
	if !sameDict(a.dict, c.Dict) {
		a.dict = c.Dict
		if cap(a.dictIDs) < len(c.Dict) {
			a.dictIDs = make([]uint32, len(c.Dict))
		} else {
			a.dictIDs = a.dictIDs[:len(c.Dict)]
			clear(a.dictIDs)
		}
	}
	lastG, lastID := int32(-1), uint32(0)
	for r, g := range groups {
		if c.Nulls != nil && c.Nulls[r] {
			continue
		}
		code := c.Codes[r]
		id := a.dictIDs[code]
		if id == 0 {
			id = a.internText(a.dict[code]) + 1
			a.dictIDs[code] = id
		}
		if g == lastG && id == lastID {
			continue // a run of one value in one group
		}
		lastG, lastID = g, id
		a.mark(g, id-1)
	}
}

// idCache is a stringCache for COUNT(DISTINCT distinct_id): the engine
// hands out one string per user and part, and a part holds thousands of
// users, more than stringCache's slots.
type idCache struct {
	slots [idCacheSlots]stringSlot
}

const idCacheSlots = 1 << 14 // a power of two

func (c *idCache) slot(s string) *stringSlot {
	p := uintptr(unsafe.Pointer(unsafe.StringData(s)))
	return &c.slots[(p>>3^p>>17)&(idCacheSlots-1)]
}

// internTyped interns a boxed value the way a typed column's would be,
// when the argument's type makes it one of those.
func (a *countDistinctAgg) internTyped(v any) (uint32, bool) {
	switch a.expect {
	case KindInt:
		if _, isBool := v.(bool); !isBool {
			if i, ok := IntOf(v); ok {
				return a.internInt(i), true
			}
		}
	case KindTime:
		if t, ok := v.(time.Time); ok && t.Location() == time.UTC && t.Nanosecond()%1000 == 0 {
			return a.internInt(t.UnixMicro()), true
		}
	}
	return 0, false
}

// appendText appends row r of c (not NULL) as types.Text converts it.
func appendText(ctx *sql.Context, buf []byte, c *Column, r int) ([]byte, error) {
	switch c.Kind {
	case KindString:
		return append(buf, c.S[r]...), nil
	case KindInt:
		if t := c.Type.Type(); t != sqltypes.Bit && t != sqltypes.Year {
			return strconv.AppendInt(buf, c.I[r], 10), nil
		}
	}
	v, _, err := types.Text.Convert(ctx, c.Value(r))
	if err != nil {
		return nil, err
	}
	s, ok := v.(string)
	if !ok {
		return nil, fmt.Errorf("count distinct unable to hash value: %v", v)
	}
	return append(buf, s...), nil
}

// toBitmaps moves the groups' bitsets into usets, for good.
func (a *countDistinctAgg) toBitmaps() {
	a.usets = grow(a.usets, len(a.udense))
	for g, set := range a.udense {
		if set != nil {
			a.usets[g] = roaring.FromDense(set, false)
			a.added += int64(a.usets[g].GetCardinality())
		}
	}
	a.udense, a.denseWords, a.dense = nil, 0, false
}

func (a *countDistinctAgg) result(ctx *sql.Context, ngroups int) (*Column, error) {
	mixed := len(a.ints)+len(a.texts) > 0
	if a.dense && !mixed {
		out := make([]int64, ngroups)
		for g, set := range a.udense[:min(ngroups, len(a.udense))] {
			for _, w := range set {
				out[g] += int64(bits.OnesCount64(w))
			}
		}
		return &Column{Kind: KindInt, Type: types.Int64, I: out}, nil
	}
	a.toBitmaps()
	a.sets = grow(a.sets, ngroups)
	a.usets = grow(a.usets, ngroups)
	out := make([]int64, ngroups)
	for g, set := range a.sets[:ngroups] {
		uset := a.usets[g]
		if uset != nil && mixed {
			if set == nil {
				set = roaring.New()
				a.sets[g] = set
			}
			for it := uset.Iterator(); it.HasNext(); {
				set.Add(a.internText(a.users.ID(it.Next())))
			}
			uset = nil
		}
		if set != nil {
			out[g] = int64(set.GetCardinality())
		}
		if uset != nil {
			out[g] = int64(uset.GetCardinality())
		}
	}
	return &Column{Kind: KindInt, Type: types.Int64, I: out}, nil
}

// ---- SUM and AVG ----

// sumAgg is SUM(arg), or AVG(arg) when avg.
//
// INVARIANT: rows[g] counts group g's non-NULL values (go-mysql-server's
// isnil is rows[g] == 0); the sum is sums[g], or dec[g] once isDec[g]
// (isDec and dec are nil until a decimal value arrives).
type sumAgg struct {
	arg       Expr
	childType sql.Type // the argument's type in go-mysql-server's plan
	avg       bool
	name      string

	sums  []float64
	rows  []int64
	dec   []decimal.Decimal
	isDec []bool
}

func (a *sumAgg) fresh() aggFunc {
	return &sumAgg{arg: a.arg, childType: a.childType, avg: a.avg, name: a.name}
}
func (a *sumAgg) String() string    { return a.name }
func (a *sumAgg) argSlots() []*Expr { return []*Expr{&a.arg} }
func (a *sumAgg) bytes() int64 {
	return 16*int64(cap(a.sums)) + 40*int64(cap(a.dec))
}
func (a *sumAgg) close(ctx *sql.Context) { a.sums, a.rows, a.dec, a.isDec = nil, nil, nil, nil }

func (a *sumAgg) add(ctx *sql.Context, b *Batch, groups []int32, ngroups int) error {
	a.sums, a.rows = grow(a.sums, ngroups), grow(a.rows, ngroups)
	if a.isDec != nil {
		a.dec, a.isDec = grow(a.dec, ngroups), grow(a.isDec, ngroups)
	}
	c, err := a.arg.Eval(ctx, b)
	if err != nil {
		return err
	}
	sums, rows := a.sums, a.rows
	switch {
	case c.Kind == KindNull:
	case c.Kind == KindFloat && a.isDec == nil:
		for r, g := range groups {
			if c.Nulls == nil || !c.Nulls[r] {
				sums[g] += c.F[r]
				rows[g]++
			}
		}
	case c.Kind == KindInt && a.isDec == nil && !intNeedsConvert(c.Type):
		// go-mysql-server converts each integer to float64, then adds.
		for r, g := range groups {
			if c.Nulls == nil || !c.Nulls[r] {
				sums[g] += float64(c.I[r])
				rows[g]++
			}
		}
	default:
		for r, g := range groups {
			if !c.IsNull(r) {
				if err := a.perform(ctx, g, c.Value(r)); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// intNeedsConvert reports whether integers of type t are not simply
// float64(i) to types.Float64.Convert (BIT and YEAR have their own).
func intNeedsConvert(t sql.Type) bool {
	tt := t.Type()
	return tt == sqltypes.Bit || tt == sqltypes.Year
}

// perform adds v (not NULL) to group g as sumBuffer.PerformSum does.
func (a *sumAgg) perform(ctx *sql.Context, g int32, v any) error {
	if s, isStr := v.(string); isStr && types.IsDecimal(a.childType) {
		if val, _, err := a.childType.Convert(ctx, s); err == nil {
			v = val
		}
	}
	first := a.rows[g] == 0
	a.rows[g]++
	switch n := v.(type) {
	case float64:
		a.toFloat(g)
		a.sums[g] += n
	case decimal.Decimal:
		if a.isDec == nil {
			a.dec, a.isDec = grow(a.dec, len(a.sums)), grow(a.isDec, len(a.sums))
		}
		if !a.isDec[g] {
			if first {
				a.dec[g] = decimal.NewFromInt(0)
			} else {
				a.dec[g] = decimal.NewFromFloat(a.sums[g])
			}
			a.isDec[g] = true
		}
		a.dec[g] = a.dec[g].Add(n)
	default:
		val, _, err := types.Float64.Convert(ctx, n)
		f, ok := val.(float64)
		if err != nil || !ok {
			f = 0
		}
		a.toFloat(g)
		a.sums[g] += f
	}
	return nil
}

// toFloat turns a decimal sum back to float64, as a float value does.
func (a *sumAgg) toFloat(g int32) {
	if a.isDec != nil && a.isDec[g] {
		a.sums[g], _ = a.dec[g].Float64()
		a.isDec[g] = false
	}
}

func (a *sumAgg) result(ctx *sql.Context, ngroups int) (*Column, error) {
	a.sums, a.rows = grow(a.sums, ngroups), grow(a.rows, ngroups)
	if a.isDec != nil {
		a.dec, a.isDec = grow(a.dec, ngroups), grow(a.isDec, ngroups)
		out := NewColumn(types.Float64, ngroups)
		for g := range ngroups {
			out.Append(a.value(g))
		}
		return out, nil
	}
	f := make([]float64, ngroups)
	var nulls []bool
	for g := range ngroups {
		if a.rows[g] == 0 {
			if nulls == nil {
				nulls = make([]bool, ngroups)
			}
			nulls[g] = true
			continue
		}
		f[g] = a.sums[g]
		if a.avg {
			f[g] /= float64(a.rows[g])
		}
	}
	return &Column{Kind: KindFloat, Type: types.Float64, F: f, Nulls: nulls}, nil
}

// value is group g's result boxed (the decimal case).
func (a *sumAgg) value(g int) any {
	n := a.rows[g]
	switch {
	case n == 0:
		return nil
	case a.isDec[g] && a.avg:
		s := a.dec[g]
		return s.DivRound(decimal.NewFromInt(n), -s.Exponent()+4)
	case a.isDec[g]:
		return a.dec[g]
	case a.avg:
		return a.sums[g] / float64(n)
	}
	return a.sums[g]
}

// ---- MIN and MAX ----

// minMaxAgg is MIN(arg) or MAX(arg) (max). Values of a Kind that orders
// as the argument's type does stay typed (integers, floats, times by
// instant, dates by day, strings of a collation that orders by bytes);
// any other argument, or a batch whose column is of another Kind, moves
// the state to boxed values compared by the type's Compare.
type minMaxAgg struct {
	arg  Expr
	typ  sql.Type // go-mysql-server's argument type: Compare's
	max  bool
	mode Kind // KindInt, KindFloat, KindTime, KindString, or KindAny (boxed)
	date bool // KindTime values compared by day (a DATE type truncates)
	name string

	has []bool
	I   []int64
	F   []float64
	S   []string
	A   []any
}

func newMinMax(ctx *sql.Context, x Expr, typ sql.Type, max bool, name string) *minMaxAgg {
	a := &minMaxAgg{arg: x, typ: typ, max: max, mode: KindAny, name: name}
	k := KindOf(typ)
	if k != KindOf(x.Type()) {
		return a
	}
	switch k {
	case KindInt, KindFloat:
		a.mode = k
	case KindTime:
		a.mode, a.date = k, typ.Type() == sqltypes.Date
	case KindString:
		if st, ok := typ.(types.StringType); ok && bytesCollation(st.Collation()) {
			a.mode = k
		}
	}
	return a
}

func (a *minMaxAgg) fresh() aggFunc {
	return &minMaxAgg{arg: a.arg, typ: a.typ, max: a.max, mode: a.mode, date: a.date, name: a.name}
}
func (a *minMaxAgg) String() string    { return a.name }
func (a *minMaxAgg) argSlots() []*Expr { return []*Expr{&a.arg} }
func (a *minMaxAgg) bytes() int64 {
	n := int64(cap(a.has)) * 9
	if a.mode == KindString || a.mode == KindAny {
		n += 16 * int64(len(a.has))
	}
	return n
}
func (a *minMaxAgg) close(ctx *sql.Context) { a.has, a.I, a.F, a.S, a.A = nil, nil, nil, nil, nil }

// typed is the state as a column of the argument's type.
func (a *minMaxAgg) typed() *Column {
	return &Column{Kind: a.mode, Type: a.arg.Type(), I: a.I, F: a.F, S: a.S, A: a.A, Nulls: nullsOf(a.has)}
}

// toBoxed moves a typed state to boxed values.
func (a *minMaxAgg) toBoxed() {
	if a.mode == KindAny {
		return
	}
	c := a.typed()
	a.A = make([]any, len(a.has), cap(a.has))
	for g := range a.has {
		a.A[g] = c.Value(g)
	}
	a.mode, a.I, a.F, a.S = KindAny, nil, nil, nil
}

func (a *minMaxAgg) ensure(n int) {
	a.has = grow(a.has, n)
	switch a.mode {
	case KindInt, KindTime:
		a.I = grow(a.I, n)
	case KindFloat:
		a.F = grow(a.F, n)
	case KindString:
		a.S = grow(a.S, n)
	default:
		a.A = grow(a.A, n)
	}
}

// dateMicros is a day in microseconds: MIN and MAX of a DATE compare days.
const dateMicros = 86400 * 1e6

func dayOf(us int64) int64 {
	d := us / dateMicros
	if us%dateMicros < 0 {
		d--
	}
	return d
}

func (a *minMaxAgg) add(ctx *sql.Context, b *Batch, groups []int32, ngroups int) error {
	c, err := a.arg.Eval(ctx, b)
	if err != nil {
		return err
	}
	if c.Kind == KindNull {
		a.ensure(ngroups)
		return nil
	}
	if c.Kind != a.mode {
		a.toBoxed()
	}
	a.ensure(ngroups)
	has := a.has
	notNull := func(r int) bool { return c.Nulls == nil || !c.Nulls[r] }
	switch a.mode {
	case KindInt, KindTime:
		vals := a.I
		for r, g := range groups {
			if !notNull(r) {
				continue
			}
			v := c.I[r]
			switch {
			case !has[g]:
				vals[g], has[g] = v, true
			case a.date:
				if d, cur := dayOf(v), dayOf(vals[g]); (a.max && d > cur) || (!a.max && d < cur) {
					vals[g] = v
				}
			case (a.max && v > vals[g]) || (!a.max && v < vals[g]):
				vals[g] = v
			}
		}
	case KindFloat:
		vals := a.F
		for r, g := range groups {
			if !notNull(r) {
				continue
			}
			v := c.F[r]
			if !has[g] {
				vals[g], has[g] = v, true
			} else if (a.max && v > vals[g]) || (!a.max && v < vals[g]) {
				vals[g] = v
			}
		}
	case KindString:
		vals := a.S
		for r, g := range groups {
			if !notNull(r) {
				continue
			}
			v := c.S[r]
			if !has[g] {
				vals[g], has[g] = v, true
			} else if (a.max && v > vals[g]) || (!a.max && v < vals[g]) {
				vals[g] = v
			}
		}
	default:
		want := -1
		if a.max {
			want = 1
		}
		for r, g := range groups {
			v := c.Value(r)
			if reflect.TypeOf(v) == nil {
				continue
			}
			if !has[g] {
				a.A[g], has[g] = v, true
				continue
			}
			cmp, err := a.typ.Compare(ctx, v, a.A[g])
			if err != nil {
				return err
			}
			if cmp == want {
				a.A[g] = v
			}
		}
	}
	return nil
}

func (a *minMaxAgg) result(ctx *sql.Context, ngroups int) (*Column, error) {
	a.ensure(ngroups)
	if a.mode != KindAny {
		return a.typed(), nil
	}
	out := NewColumn(a.arg.Type(), ngroups)
	for g := range ngroups {
		out.Append(a.A[g])
	}
	return out, nil
}

// ---- first row, ANY_VALUE ----

// firstAgg is arg on each group's first row (NULL included): a plain
// expression beside aggregates, and FIRST(arg). It evaluates arg only on
// the rows that start a group, as go-mysql-server's firstBuffer does.
//
// A group key of distinct_ids keeps its user numbers (Column.U) in the
// output while every first row came with numbers of one numbering, so a
// join or group above a grouped derived table still keys users by
// number.
type firstAgg struct {
	arg     Expr
	name    string
	out     *Column
	sel     []int32
	noUsers bool // some first row came without a user number
	// strBytes is the contents of out.S, counted as they are appended:
	// bytes is asked after every batch, and summing a string per group
	// each time made a group per user quadratic.
	strBytes int64
}

func (a *firstAgg) fresh() aggFunc { return &firstAgg{arg: a.arg, name: a.name} }
func (a *firstAgg) String() string { return a.name }
func (a *firstAgg) bytes() int64 {
	if a.out == nil {
		return 0
	}
	return a.out.slotBytes() + a.strBytes
}
func (a *firstAgg) close(ctx *sql.Context) { a.out = nil }

func (a *firstAgg) add(ctx *sql.Context, b *Batch, groups []int32, ngroups int) error {
	if a.out == nil {
		a.out = NewColumn(a.arg.Type(), 0)
	}
	next := int32(a.out.Len())
	if int(next) == ngroups {
		return nil // no group starts here
	}
	a.sel = a.sel[:0]
	for r, g := range groups {
		if g == next {
			a.sel = append(a.sel, int32(r))
			next++
		}
	}
	var c *Column
	var rows []int32
	if f, ok := a.arg.(*fieldExpr); ok {
		c, rows = b.Cols[f.idx], a.sel
	} else {
		var err error
		if c, err = a.arg.Eval(ctx, b.Gather(a.sel)); err != nil {
			return err
		}
	}
	start := a.out.Len()
	for i := range a.sel {
		r := i
		if rows != nil {
			r = int(rows[i])
		}
		appendFrom(a.out, c, r)
	}
	if len(a.out.S) > start {
		for _, s := range a.out.S[start:] {
			a.strBytes += int64(len(s))
		}
	}
	a.keepUsers(c, rows, start)
	return nil
}

// keepUsers appends to a.out.U the user numbers of the rows of c just
// appended from start on (rows[i], or i without rows), or drops a.out's
// numbers for good when c has none of the same numbering.
func (a *firstAgg) keepUsers(c *Column, rows []int32, start int) {
	out := a.out
	if a.noUsers {
		return
	}
	if out.Kind != KindString {
		out.U, out.Users, a.noUsers = nil, nil, true
		return
	}
	us, users := c.userNumbers()
	if us == nil || (out.Users != nil && !out.Users.SameNumbering(users)) || len(out.U) != start || out.Len() != len(out.S) {
		out.U, out.Users, a.noUsers = nil, nil, true
		return
	}
	for i := range out.Len() - start {
		r := i
		if rows != nil {
			r = int(rows[i])
		}
		out.U = append(out.U, us[r])
	}
	out.Users = widerNumbering(out.Users, users)
}

func (a *firstAgg) result(ctx *sql.Context, ngroups int) (*Column, error) {
	if a.out == nil {
		a.out = NewColumn(a.arg.Type(), ngroups)
	}
	for a.out.Len() < ngroups { // the global group over no rows
		a.out.AppendNull()
	}
	return a.out, nil
}

// appendFrom appends row r of src to dst, typed when their Kinds agree.
func appendFrom(dst, src *Column, r int) {
	if src.IsNull(r) {
		dst.AppendNull()
		return
	}
	if dst.Kind == src.Kind && sameBoxing(dst.Type, src.Type) {
		switch src.Kind {
		case KindInt, KindTime:
			dst.I = append(dst.I, src.I[r])
			dst.notNull(len(dst.I))
			return
		case KindFloat:
			dst.F = append(dst.F, src.F[r])
			dst.notNull(len(dst.F))
			return
		case KindString:
			dst.S = append(dst.S, src.str(r))
			dst.notNull(len(dst.S))
			return
		}
	}
	dst.Append(src.Value(r))
}

// sameBoxing reports whether two columns' values box to the same Go
// type (what Value gives depends on the SQL type for integers and
// float32).
func sameBoxing(a, b sql.Type) bool {
	return a.Type() == b.Type()
}

// anyValueAgg is ANY_VALUE(arg): the group's first non-NULL arg.
type anyValueAgg struct {
	arg  Expr
	name string
	has  []bool
	vals []any
}

func (a *anyValueAgg) fresh() aggFunc    { return &anyValueAgg{arg: a.arg, name: a.name} }
func (a *anyValueAgg) String() string    { return a.name }
func (a *anyValueAgg) argSlots() []*Expr { return []*Expr{&a.arg} }
func (a *anyValueAgg) bytes() int64      { return 17 * int64(cap(a.has)) }
func (a *anyValueAgg) close(ctx *sql.Context) {
	a.has, a.vals = nil, nil
}

func (a *anyValueAgg) add(ctx *sql.Context, b *Batch, groups []int32, ngroups int) error {
	a.has, a.vals = grow(a.has, ngroups), grow(a.vals, ngroups)
	c, err := a.arg.Eval(ctx, b)
	if err != nil {
		return err
	}
	for r, g := range groups {
		if !a.has[g] && !c.IsNull(r) {
			a.vals[g], a.has[g] = c.Value(r), true
		}
	}
	return nil
}

func (a *anyValueAgg) result(ctx *sql.Context, ngroups int) (*Column, error) {
	a.has, a.vals = grow(a.has, ngroups), grow(a.vals, ngroups)
	out := NewColumn(a.arg.Type(), ngroups)
	for _, v := range a.vals[:ngroups] {
		out.Append(v)
	}
	return out, nil
}

// ---- go-mysql-server's buffers ----

// bufferAgg runs go-mysql-server's own aggregation buffer for each group
// on the input rows: exactly its semantics, at its row-at-a-time cost.
type bufferAgg struct {
	agg     sql.Aggregation
	name    string
	bufs    []sql.AggregationBuffer
	updates int64
}

func (a *bufferAgg) fresh() aggFunc { return &bufferAgg{agg: a.agg, name: a.name} }
func (a *bufferAgg) String() string { return "gms " + a.name }
func (a *bufferAgg) bytes() int64   { return 64*int64(len(a.bufs)) + 16*a.updates }

func (a *bufferAgg) close(ctx *sql.Context) {
	for _, b := range a.bufs {
		if b != nil {
			b.Dispose(ctx)
		}
	}
	a.bufs = nil
}

func (a *bufferAgg) ensure(ctx *sql.Context, n int) error {
	for len(a.bufs) < n {
		buf, err := a.agg.NewBuffer(ctx)
		if err != nil {
			return err
		}
		a.bufs = append(a.bufs, buf)
	}
	return nil
}

func (a *bufferAgg) add(ctx *sql.Context, b *Batch, groups []int32, ngroups int) error {
	if err := a.ensure(ctx, ngroups); err != nil {
		return err
	}
	for r, g := range groups {
		// A fresh row each time, as a row iterator gives: a buffer may
		// keep the row it is handed.
		row := b.Row(r)
		if err := a.bufs[g].Update(ctx, row); err != nil {
			return err
		}
	}
	a.updates += int64(len(groups))
	return nil
}

func (a *bufferAgg) result(ctx *sql.Context, ngroups int) (*Column, error) {
	if err := a.ensure(ctx, ngroups); err != nil {
		return nil, err
	}
	out := NewColumn(a.agg.Type(ctx), ngroups)
	for _, buf := range a.bufs[:ngroups] {
		v, err := buf.Eval(ctx)
		if err != nil {
			return nil, err
		}
		out.Append(v)
	}
	return out, nil
}

// describeAggs is the aggregates' part of an EXPLAIN line.
func describeAggs(aggs []aggFunc) string {
	parts := make([]string, len(aggs))
	for i, a := range aggs {
		parts[i] = a.String()
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

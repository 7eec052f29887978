package native

// This file owns ORDER BY: the Sort and TopN operators and the row
// comparison they share with the window operator (window.go) and the
// union's ORDER BY (union.go).
//
// Ordering is go-mysql-server's expression.Sorter, exactly:
//   - keys compare by the key expression's SQL type (Type.Compare:
//     strings by collation, numbers by value, datetimes by instant);
//   - DESC swaps the two values before anything else, and NullOrdering
//     then decides where a NULL goes (NullsFirst, the zero value, puts
//     NULLs first in ASC and, through the swap, last in DESC);
//   - ties keep input order: go-mysql-server sorts with sort.Stable and
//     its TopN breaks ties on an arrival counter. Here every sort breaks
//     ties on the row's position in the materialized input, which makes
//     an unstable sort (pdqsort) give the stable order.
//
// Typed columns compare on their slices (int64, float64, string bytes,
// microseconds) where that is the same order as Type.Compare; any other
// column goes through Type.Compare value by value.

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/plan"
	"github.com/dolthub/vitess/go/sqltypes"

	"arb/engine"
)

// sortKey is one ORDER BY key compiled over an operator's input.
type sortKey struct {
	x          Expr
	typ        sql.Type // the comparison type: go-mysql-server's key expression type
	desc       bool
	nullsFirst bool // NULL sorts before every value, after the DESC swap
	binary     bool // typ is a string type whose collation orders as UTF-8 bytes
	day        bool // typ is DATE, whose Compare truncates times to the day
}

const dayMicros = 24 * 3600 * 1000 * 1000

// utcDayOf is a time in microseconds truncated to its UTC day, as
// time.Truncate(24h) does for a DATE key.
func utcDayOf(us int64) int64 {
	d := us / dayMicros
	if us%dayMicros < 0 {
		d--
	}
	return d
}

func newSortKeys(ctx *sql.Context, c *Compiler, fields sql.SortFields) ([]sortKey, error) {
	keys := make([]sortKey, len(fields))
	for i, f := range fields {
		x, err := c.Compile(ctx, f.Column)
		if err != nil {
			return nil, err
		}
		keys[i] = newSortKey(x, f.Column.Type(ctx))
		keys[i].desc, keys[i].nullsFirst = f.Order == sql.Descending, f.NullOrdering == sql.NullsFirst
	}
	return keys, nil
}

// newSortKey is an ascending key on x whose values compare as typ's.
func newSortKey(x Expr, typ sql.Type) sortKey {
	k := sortKey{x: x, typ: typ, day: typ.Type() == sqltypes.Date}
	if st, ok := typ.(sql.StringType); ok {
		// utf8mb4_0900_bin, utf8mb4_bin (arb's events table: see
		// runeOrder) and binary weigh a rune by its code point, which
		// orders valid UTF-8 as its bytes.
		coll := st.Collation()
		k.binary = runeOrder(coll) || coll == sql.Collation_binary
	}
	return k
}

func describeKeys(keys []sortKey) string {
	parts := make([]string, len(keys))
	for i, k := range keys {
		dir := "ASC"
		if k.desc {
			dir = "DESC"
		}
		parts[i] = k.x.String() + " " + dir
	}
	return strings.Join(parts, ", ")
}

// keyCol is a key's values for a set of rows, with whether they compare
// natively.
type keyCol struct {
	c    *Column
	fast bool // c's Kind is the key type's and its slice order is Type.Compare's
}

func (k *sortKey) keyCol(c *Column) keyCol {
	fast := false
	switch c.Kind {
	case KindInt, KindFloat, KindTime:
		fast = KindOf(k.typ) == c.Kind
	case KindString:
		if k.binary && KindOf(k.typ) == KindString {
			fast = true
			if c.U != nil || c.Codes != nil {
				// Stored distinct_ids or a segment dictionary's strings:
				// storage keeps only valid UTF-8 (storage.TypeString).
				break
			}
			for r, s := range c.S {
				if !c.IsNull(r) && !utf8.ValidString(s) {
					fast = false // go-mysql-server's comparison decodes runes: let it
					break
				}
			}
		}
	}
	return keyCol{c: c, fast: fast}
}

// evalKeys is keys over b.
func evalKeys(ctx *sql.Context, keys []sortKey, b *Batch) ([]keyCol, error) {
	out := make([]keyCol, len(keys))
	for i := range keys {
		c, err := keys[i].x.Eval(ctx, b)
		if err != nil {
			return nil, sql.ErrUnableSort.Wrap(err)
		}
		out[i] = keys[i].keyCol(c)
	}
	return out, nil
}

// rowComparer compares rows by a list of keys and keeps the first
// comparison error (go-mysql-server's Sorter.LastError): once there is
// one, every comparison is 0 and the caller returns the error.
type rowComparer struct {
	ctx   *sql.Context
	keys  []sortKey
	err   error
	calls int
}

// compare orders row i of a against row j of b: negative when i sorts
// first, 0 on a tie of every key.
func (rc *rowComparer) compare(a []keyCol, i int, b []keyCol, j int) int {
	return rc.compareFrom(0, a, i, b, j)
}

// compareFrom is compare on the keys from the first'th on.
func (rc *rowComparer) compareFrom(first int, a []keyCol, i int, b []keyCol, j int) int {
	if rc.err != nil {
		return 0
	}
	if rc.calls++; rc.calls%(engine.CheckEveryRows*16) == 0 {
		if err := rc.ctx.Err(); err != nil {
			rc.err = err
			return 0
		}
	}
	for k := first; k < len(rc.keys); k++ {
		key := &rc.keys[k]
		ca, ia, cb, ib := a[k], i, b[k], j
		if key.desc {
			ca, ia, cb, ib = cb, ib, ca, ia
		}
		an, bn := ca.c.IsNull(ia), cb.c.IsNull(ib)
		switch {
		case an && bn:
			continue
		case an:
			if key.nullsFirst {
				return -1
			}
			return 1
		case bn:
			if key.nullsFirst {
				return 1
			}
			return -1
		}
		if c := rc.compareValues(key, ca, ia, cb, ib); c != 0 {
			return c
		}
	}
	return 0
}

// compareValues compares two non-NULL values of a key.
func (rc *rowComparer) compareValues(key *sortKey, ca keyCol, i int, cb keyCol, j int) int {
	if ca.fast && cb.fast {
		switch ca.c.Kind {
		case KindInt, KindTime:
			x, y := ca.c.I[i], cb.c.I[j]
			if key.day {
				x, y = utcDayOf(x), utcDayOf(y)
			}
			if x < y {
				return -1
			} else if x > y {
				return 1
			}
			return 0
		case KindFloat:
			// As NumberTypeImpl_.Compare: a NaN is greater than anything.
			x, y := ca.c.F[i], cb.c.F[j]
			if x == y {
				return 0
			} else if x < y {
				return -1
			}
			return 1
		case KindString:
			return strings.Compare(ca.c.S[i], cb.c.S[j])
		}
	}
	c, err := key.typ.Compare(rc.ctx, ca.c.Value(i), cb.c.Value(j))
	if err != nil {
		rc.err = err
		return 0
	}
	return c
}

// sortedOrder is the positions of rows 0..n-1 in key order, ties in
// position order (a stable sort).
func (rc *rowComparer) sortedOrder(keys []keyCol, n int) ([]int32, error) {
	perm := make([]int32, n)
	if entries, encoded := rc.entries(keys, n); encoded > 0 {
		if encoded == len(keys) && noStrings(entries) {
			return slimSortedOrder(entries, perm), nil
		}
		// The encoded keys compare inline from the entries (no indirection
		// through the rows), the others only on their ties.
		desc := rc.keys[0].desc
		slices.SortFunc(entries, func(a, b sortEntry) int {
			if a.null1 != b.null1 {
				return int(a.null1) - int(b.null1)
			}
			if a.k1 != b.k1 {
				if a.k1 < b.k1 {
					return -1
				}
				return 1
			}
			if a.s != b.s {
				if desc {
					return strings.Compare(b.s, a.s)
				}
				return strings.Compare(a.s, b.s)
			}
			if a.null2 != b.null2 {
				return int(a.null2) - int(b.null2)
			}
			if a.k2 != b.k2 {
				if a.k2 < b.k2 {
					return -1
				}
				return 1
			}
			if len(keys) > encoded {
				if c := rc.compareFrom(encoded, keys, int(a.idx), keys, int(b.idx)); c != 0 {
					return c
				}
			}
			return int(a.idx - b.idx)
		})
		for i, e := range entries {
			perm[i] = e.idx
		}
		return perm, rc.err
	}
	for i := range perm {
		perm[i] = int32(i)
	}
	slices.SortFunc(perm, func(x, y int32) int {
		if c := rc.compare(keys, int(x), keys, int(y)); c != 0 {
			return c
		}
		return int(x - y)
	})
	return perm, rc.err
}

// noStrings reports whether no entry holds a string key (numbers,
// times, ranked strings).
func noStrings(entries []sortEntry) bool {
	for i := range entries {
		if entries[i].s != "" {
			return false
		}
	}
	return true
}

// slimEntry is a sortEntry without its string: half the bytes to move.
type slimEntry struct {
	k1, k2       uint64
	idx          int32
	null1, null2 int8
}

// slimSortedOrder is sortedOrder when every key is encoded as a number:
// the same comparison as the entries', over entries half the size.
func slimSortedOrder(entries []sortEntry, perm []int32) []int32 {
	slim := make([]slimEntry, len(entries))
	for i, e := range entries {
		slim[i] = slimEntry{k1: e.k1, k2: e.k2, idx: e.idx, null1: e.null1, null2: e.null2}
	}
	if len(slim) >= radixSortFrom {
		for i, e := range radixSortSlim(slim) {
			perm[i] = e.idx
		}
		return perm
	}
	slices.SortFunc(slim, func(a, b slimEntry) int {
		if a.null1 != b.null1 {
			return int(a.null1) - int(b.null1)
		}
		if a.k1 != b.k1 {
			if a.k1 < b.k1 {
				return -1
			}
			return 1
		}
		if a.null2 != b.null2 {
			return int(a.null2) - int(b.null2)
		}
		if a.k2 != b.k2 {
			if a.k2 < b.k2 {
				return -1
			}
			return 1
		}
		return int(a.idx - b.idx)
	})
	for i, e := range slim {
		perm[i] = e.idx
	}
	return perm
}

// radixSortFrom is the number of rows from which slim entries are
// radix sorted.
const radixSortFrom = 4096

// radixSortSlim sorts entries, which are in idx order, by (null1, k1,
// null2, k2), ties in idx order: the order of slimSortedOrder's
// comparison. It is a stable LSD radix sort, a byte a pass from the
// least significant, skipping the bytes every entry shares (the high
// bytes of times, of ranks, the NULL marks); it returns the sorted slice
// (entries or a buffer of the same length).
func radixSortSlim(entries []slimEntry) []slimEntry {
	digits := make([]func(*slimEntry) uint8, 0, 18)
	for shift := 0; shift < 64; shift += 8 {
		digits = append(digits, func(e *slimEntry) uint8 { return uint8(e.k2 >> shift) })
	}
	digits = append(digits, func(e *slimEntry) uint8 { return uint8(e.null2 + 1) })
	for shift := 0; shift < 64; shift += 8 {
		digits = append(digits, func(e *slimEntry) uint8 { return uint8(e.k1 >> shift) })
	}
	digits = append(digits, func(e *slimEntry) uint8 { return uint8(e.null1 + 1) })
	a, b := entries, make([]slimEntry, len(entries))
	for _, digit := range digits {
		var count [256]int
		for i := range a {
			count[digit(&a[i])]++
		}
		if count[digit(&a[0])] == len(a) {
			continue // every entry has this byte
		}
		pos := 0
		for d := range count {
			c := count[d]
			count[d] = pos
			pos += c
		}
		for i := range a {
			d := digit(&a[i])
			b[count[d]] = a[i]
			count[d]++
		}
		a, b = b, a
	}
	return a
}

// sortEntry is a row with its first one or two sort keys encoded so that
// comparing (null1, k1, s) — s descending for a DESC key — then (null2,
// k2) orders the rows as rowComparer does on those keys. The first key
// is a number, a time or a byte-ordered string; the second, when
// encoded, a number or a time (a user's events by time).
type sortEntry struct {
	s            string // the first key's value when it is a string
	k1, k2       uint64 // numeric values, order-preserving, inverted for DESC
	idx          int32
	null1, null2 int8 // where a NULL goes: -1 before every value, 1 after; 0 a value
}

// entries encodes the leading keys of every row; encoded is how many
// (0: the first key does not compare natively, use the comparer).
func (rc *rowComparer) entries(keys []keyCol, n int) (entries []sortEntry, encoded int) {
	if len(keys) == 0 || !keys[0].fast {
		return nil, 0
	}
	entries = make([]sortEntry, n)
	for r := range n {
		entries[r].idx = int32(r)
	}
	if !encodeKey(&rc.keys[0], keys[0].c, entries, true) {
		return nil, 0
	}
	if keys[0].c.Kind == KindString && n >= rankStringsFrom {
		rankStrings(entries, rc.keys[0].desc)
	}
	if len(keys) > 1 && keys[1].fast && keys[1].c.Kind != KindString && encodeKey(&rc.keys[1], keys[1].c, entries, false) {
		return entries, 2
	}
	for r := range entries {
		entries[r].k2, entries[r].null2 = 0, 0
	}
	return entries, 1
}

// rankStringsFrom is the number of rows from which string keys are
// ranked before sorting.
const rankStringsFrom = 2048

// rankStrings replaces the first key's strings (byte-ordered) by their
// rank among the distinct values, inverted for DESC, so that a sort of
// many rows over few distinct strings (a window partitioned by
// distinct_id) compares integers: equal strings get equal ranks, and
// ranks are in strings.Compare order, so the order is the same.
func rankStrings(entries []sortEntry, desc bool) {
	ids := make(map[string]uint32)
	var distinct []string
	for r := range entries {
		e := &entries[r]
		if e.null1 != 0 {
			continue
		}
		id, ok := ids[e.s]
		if !ok {
			id = uint32(len(distinct))
			ids[e.s] = id
			distinct = append(distinct, e.s)
		}
		e.k1 = uint64(id)
	}
	order := make([]uint32, len(distinct))
	for i := range order {
		order[i] = uint32(i)
	}
	slices.SortFunc(order, func(a, b uint32) int { return strings.Compare(distinct[a], distinct[b]) })
	rank := make([]uint64, len(distinct))
	for r, id := range order {
		rank[id] = uint64(r)
		if desc {
			rank[id] = ^uint64(r)
		}
	}
	for r := range entries {
		e := &entries[r]
		if e.null1 == 0 {
			e.k1, e.s = rank[e.k1], ""
		}
	}
}

// encodeKey sets each entry's first (or second) key from c; false when a
// value has no encoding (a NaN, a string as the second key).
func encodeKey(key *sortKey, c *Column, entries []sortEntry, first bool) bool {
	enc := newKeyEncoder(key)
	for r := range entries {
		e := &entries[r]
		if first && c.Kind == KindString {
			if c.IsNull(r) {
				e.null1 = enc.nullRank
			} else {
				e.s = c.S[r]
			}
			continue
		}
		k, null, ok := enc.encode(c, r)
		if !ok {
			return false
		}
		if first {
			e.k1, e.null1 = k, null
		} else {
			e.k2, e.null2 = k, null
		}
	}
	return true
}

// keyEncoder turns a number or time key's values into integers whose
// order, after the NULL rank, is the key's (DESC included).
type keyEncoder struct {
	key      *sortKey
	nullRank int8 // where a NULL goes: -1 before every value, 1 after
	flip     uint64
}

func newKeyEncoder(key *sortKey) keyEncoder {
	// Where go-mysql-server's Sorter puts a NULL (see compare): DESC swaps
	// the sides before NullOrdering applies.
	e := keyEncoder{key: key, nullRank: 1}
	if key.nullsFirst != key.desc {
		e.nullRank = -1
	}
	if key.desc {
		e.flip = ^uint64(0)
	}
	return e
}

// encode is row r of c: its integer, its NULL rank (0 for a value), and
// false when it has no encoding (a NaN, a string, another Kind).
func (e keyEncoder) encode(c *Column, r int) (uint64, int8, bool) {
	if c.IsNull(r) {
		return 0, e.nullRank, true
	}
	switch c.Kind {
	case KindInt, KindTime:
		v := c.I[r]
		if e.key.day {
			v = utcDayOf(v)
		}
		return (uint64(v) ^ 1<<63) ^ e.flip, 0, true
	case KindFloat:
		f := c.F[r]
		if f != f {
			return 0, 0, false // NaN: leave it to the comparer
		}
		if f == 0 {
			f = 0 // -0 equals 0
		}
		bits := math.Float64bits(f)
		if bits>>63 == 1 {
			bits = ^bits
		} else {
			bits |= 1 << 63
		}
		return bits ^ e.flip, 0, true
	}
	return 0, 0, false
}

// appendColumn appends src's values to dst, which the caller owns (no
// batch handed out shares its storage). Columns of different Kinds make
// dst a KindAny column.
func appendColumn(dst, src *Column) {
	n0, n := dst.Len(), src.Len()
	if src.Kind == KindNull && dst.Kind != KindNull && n0 > 0 {
		// A batch whose values were all NULL (a NULL literal's column)
		// need not turn a typed column into KindAny.
		dst.U, dst.Users = nil, nil
		for range n {
			dst.AppendNull()
		}
		return
	}
	if dst.Kind != src.Kind {
		if n0 == 0 && dst.Kind != KindAny {
			dst.Kind, dst.Type = src.Kind, src.Type
			if dst.Kind == KindNull {
				dst.Nulls = dst.Nulls[:0]
			}
		} else {
			dst.toAny()
		}
	}
	if dst.Kind != src.Kind { // dst is KindAny
		for r := range n {
			dst.A = append(dst.A, src.Value(r))
		}
		dst.Nulls = appendNulls(dst.Nulls, n0, src, n)
		return
	}
	// Capacity doubles (append grows large slices by a quarter): a
	// million rows gathered batch by batch are copied about twice, not
	// five times.
	switch src.Kind {
	case KindInt, KindTime:
		dst.I = append(growDoubling(dst.I, n), src.I...)
	case KindFloat:
		dst.F = append(growDoubling(dst.F, n), src.F...)
	case KindString:
		appendUsers(dst, n0, src)
		if src.S == nil && src.Codes != nil { // codes alone: dst gets the strings
			dst.S = growDoubling(dst.S, n)
			for r := range n {
				dst.S = append(dst.S, src.strOrEmpty(r))
			}
			break
		}
		dst.S = append(growDoubling(dst.S, n), src.S...)
	case KindAny:
		dst.A = append(growDoubling(dst.A, n), src.A...)
	case KindNull:
		for range n {
			dst.Nulls = append(dst.Nulls, true)
		}
		return
	}
	dst.Nulls = appendNulls(dst.Nulls, n0, src, n)
}

// appendUsers keeps dst's user numbers (Column.U) across the append of
// src's n rows to dst's n0: dst keeps numbers only while every appended
// column brought numbers of one numbering (a window partitioned by
// distinct_id keys its partitions by them); otherwise dst has none.
func appendUsers(dst *Column, n0 int, src *Column) {
	switch {
	case n0 == 0 && src.U != nil:
		dst.U, dst.Users = append(dst.U[:0], src.U...), src.Users
	case dst.U != nil && src.U != nil && len(dst.U) == n0 && dst.Users.SameNumbering(src.Users):
		dst.U = append(growDoubling(dst.U, len(src.U)), src.U...)
		dst.Users = widerNumbering(dst.Users, src.Users)
	default:
		dst.U, dst.Users = nil, nil
	}
}

// growDoubling is s with room for n more values, its capacity at least
// doubled when it has to grow.
func growDoubling[T any](s []T, n int) []T {
	if cap(s)-len(s) >= n {
		return s
	}
	return slices.Grow(s, max(n, cap(s)))
}

// appendNulls extends nulls (marks of n0 rows, nil when none is NULL)
// by src's n rows.
func appendNulls(nulls []bool, n0 int, src *Column, n int) []bool {
	if nulls == nil && src.Nulls == nil && src.Kind != KindNull {
		return nil
	}
	if nulls == nil {
		nulls = make([]bool, n0, 2*(n0+n))
	}
	nulls = growDoubling(nulls, n)
	for r := range n {
		nulls = append(nulls, src.IsNull(r))
	}
	return nulls
}

// appendGathered appends src's rows sel to dst (from newOwnedBatch), as
// appendBatch(dst, src.Gather(sel)) does, without the gathered copy in
// between where the columns' Kinds agree.
func appendGathered(dst, src *Batch, sel []int32) {
	for i, c := range src.Cols {
		d := dst.Cols[i]
		n0 := d.Len()
		if d.Kind != c.Kind || n0 == 0 || c.Kind == KindNull {
			appendColumn(d, c.Gather(sel))
			continue
		}
		switch c.Kind {
		case KindInt, KindTime:
			d.I = growDoubling(d.I, len(sel))
			for _, r := range sel {
				d.I = append(d.I, c.I[r])
			}
		case KindFloat:
			d.F = growDoubling(d.F, len(sel))
			for _, r := range sel {
				d.F = append(d.F, c.F[r])
			}
		case KindString:
			if d.U != nil && c.U != nil && len(d.U) == n0 && d.Users.SameNumbering(c.Users) {
				d.U = growDoubling(d.U, len(sel))
				for _, r := range sel {
					d.U = append(d.U, c.U[r])
				}
				d.Users = widerNumbering(d.Users, c.Users)
			} else {
				d.U, d.Users = nil, nil
			}
			d.S = growDoubling(d.S, len(sel))
			if c.S == nil && c.Codes != nil { // codes alone: d gets the strings
				for _, r := range sel {
					d.S = append(d.S, c.strOrEmpty(int(r)))
				}
				break
			}
			for _, r := range sel {
				d.S = append(d.S, c.S[r])
			}
		case KindAny:
			d.A = growDoubling(d.A, len(sel))
			for _, r := range sel {
				d.A = append(d.A, c.A[r])
			}
		}
		if d.Nulls != nil || c.Nulls != nil {
			if d.Nulls == nil {
				d.Nulls = make([]bool, n0, 2*(n0+len(sel)))
			}
			d.Nulls = growDoubling(d.Nulls, len(sel))
			for _, r := range sel {
				d.Nulls = append(d.Nulls, c.IsNull(int(r)))
			}
		}
	}
	dst.N += len(sel)
}

// newOwnedBatch is an empty batch like b whose columns the caller owns.
func newOwnedBatch(b *Batch) *Batch {
	out := &Batch{Cols: make([]*Column, len(b.Cols))}
	for i, c := range b.Cols {
		out.Cols[i] = &Column{Kind: c.Kind, Type: c.Type}
	}
	return out
}

// appendBatch appends src's rows to dst (from newOwnedBatch).
func appendBatch(dst, src *Batch) {
	for i, c := range src.Cols {
		appendColumn(dst.Cols[i], c)
	}
	dst.N += src.N
}

// emitIter hands out rows perm of b in batches of BatchSize.
func emitIter(b *Batch, perm []int32, release func(), close func(*sql.Context) error) BatchIter {
	pos := 0
	return &funcIter{
		next: func(ctx *sql.Context) (*Batch, error) {
			if pos >= len(perm) {
				return nil, io.EOF
			}
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			end := min(pos+BatchSize, len(perm))
			out := b.Gather(perm[pos:end])
			pos = end
			return out, nil
		},
		close: func(ctx *sql.Context) error {
			release()
			if close != nil {
				return close(ctx)
			}
			return nil
		},
	}
}

// memCharge is what an operator has charged to the statement's budget;
// release returns it.
type memCharge struct {
	budget *engine.MemoryBudget
	bytes  int64
}

func newMemCharge(ctx *sql.Context) *memCharge {
	return &memCharge{budget: engine.MemoryBudgetOf(ctx)}
}

func (m *memCharge) grow(n int64, what string) error {
	if m.budget == nil || n == 0 {
		return nil
	}
	m.bytes += n
	return m.budget.Grow(n, what)
}

// shrink returns n of the bytes charged (memory an operator let go of).
func (m *memCharge) shrink(n int64) {
	if m.budget == nil || n <= 0 {
		return
	}
	n = min(n, m.bytes)
	m.bytes -= n
	m.budget.Grow(-n, "")
}

func (m *memCharge) release() {
	if m.budget != nil && m.bytes != 0 {
		m.budget.Grow(-m.bytes, "")
		m.bytes = 0
	}
}

// sortOp is ORDER BY without LIMIT: it materializes its input, sorts it
// and hands it out in order.
type sortOp struct {
	child Operator
	keys  []sortKey
}

func init() {
	register((*plan.Sort)(nil), func(ctx *sql.Context, tr *Translation, n sql.Node) (Operator, string) {
		s := n.(*plan.Sort)
		in := tr.child(ctx, s.Child)
		keys, err := newSortKeys(ctx, &Compiler{In: in.Schema()}, s.SortFields)
		if err != nil {
			return nil, err.Error()
		}
		return &sortOp{child: in, keys: keys}, ""
	})
	register((*plan.TopN)(nil), func(ctx *sql.Context, tr *Translation, n sql.Node) (Operator, string) {
		t := n.(*plan.TopN)
		if t.CalcFoundRows {
			return nil, "TopN with SQL_CALC_FOUND_ROWS"
		}
		in := tr.child(ctx, t.Child)
		keys, err := newSortKeys(ctx, &Compiler{In: in.Schema()}, t.Fields)
		if err != nil {
			return nil, err.Error()
		}
		return &topNOp{child: in, keys: keys, limit: t.Limit}, ""
	})
}

func (s *sortOp) Schema() sql.Schema   { return s.child.Schema() }
func (s *sortOp) Children() []Operator { return []Operator{s.child} }
func (s *sortOp) Describe() string     { return Marker + "Sort " + describeKeys(s.keys) }

func (s *sortOp) Open(ctx *sql.Context, run *Run) (BatchIter, error) {
	in, err := s.child.Open(ctx, run)
	if err != nil {
		return nil, err
	}
	mem := newMemCharge(ctx)
	rows, keys, err := materializeSorted(ctx, in, s.keys, mem, "sort")
	if err != nil {
		mem.release()
		return nil, err
	}
	if rows == nil {
		mem.release()
		return &sliceIter{}, nil
	}
	rc := &rowComparer{ctx: ctx, keys: s.keys}
	perm, err := rc.sortedOrder(keys, rows.N)
	if err != nil {
		mem.release()
		return nil, err
	}
	return emitIter(rows, perm, mem.release, nil), nil
}

// materializeSorted reads every batch of in (and closes it) into one
// batch of rows and the key values, charging both to mem. rows is nil
// when the input is empty. A key that is an input column reads rows'
// column rather than a second copy.
func materializeSorted(ctx *sql.Context, in BatchIter, keys []sortKey, mem *memCharge, what string) (rows *Batch, keyCols []keyCol, err error) {
	defer in.Close(ctx)
	var evaluated []int // keys that are not input columns
	for i := range keys {
		if _, ok := keys[i].x.(*fieldExpr); !ok {
			evaluated = append(evaluated, i)
		}
	}
	var keyRows *Batch // the evaluated keys' values, in evaluated's order
	for {
		b, err := in.Next(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, err
		}
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		kb := &Batch{N: b.N, Cols: make([]*Column, len(evaluated))}
		for j, i := range evaluated {
			c, err := keys[i].x.Eval(ctx, b)
			if err != nil {
				return nil, nil, sql.ErrUnableSort.Wrap(err)
			}
			kb.Cols[j] = c
		}
		if rows == nil {
			rows, keyRows = newOwnedBatch(b), newOwnedBatch(kb)
		}
		appendBatch(rows, b)
		appendBatch(keyRows, kb)
		if err := mem.grow(b.Bytes()+kb.Bytes()+4, what); err != nil {
			return nil, nil, err
		}
	}
	if rows == nil {
		return nil, nil, nil
	}
	keyCols = make([]keyCol, len(keys))
	for i := range keys {
		if f, ok := keys[i].x.(*fieldExpr); ok {
			keyCols[i] = keys[i].keyCol(rows.Cols[f.idx])
		}
	}
	for j, i := range evaluated {
		keyCols[i] = keys[i].keyCol(keyRows.Cols[j])
	}
	return rows, keyCols, nil
}

// topNOp is ORDER BY … LIMIT n: it keeps the best n rows seen so far
// (topNStore) and never holds more than about 2n + BatchSize of them.
// Over the events scan ordered by time first it reads the scan's parts
// in time order and skips those that cannot hold an answer row
// (topn_time.go).
type topNOp struct {
	child Operator
	keys  []sortKey
	limit sql.Expression
}

func (t *topNOp) Schema() sql.Schema   { return t.child.Schema() }
func (t *topNOp) Children() []Operator { return []Operator{t.child} }
func (t *topNOp) Describe() string {
	d := Marker + "TopN " + t.limit.String() + " by " + describeKeys(t.keys)
	if _, ok := t.timeOrderedScan(); ok {
		d += " (scan parts in time order)"
	}
	return d
}

// topNLimit is the TopN's row count as go-mysql-server's
// iters.GetInt64Value reads it: any integer, a uint64 converted to int64
// (MySQL's "no limit", 18446744073709551615, becomes -1).
func topNLimit(ctx *sql.Context, e sql.Expression) (int64, error) {
	v, err := e.Eval(ctx, nil)
	if err != nil {
		return 0, err
	}
	switch x := v.(type) {
	case uint:
		return int64(x), nil
	case uint64:
		return int64(x), nil
	}
	if n, ok := IntOf(v); ok {
		return n, nil
	}
	return 0, fmt.Errorf("unsupported type for limit %T", v)
}

func (t *topNOp) Open(ctx *sql.Context, run *Run) (BatchIter, error) {
	limit, err := topNLimit(ctx, t.limit)
	if err != nil {
		return nil, err
	}
	if s, ok := t.timeOrderedScan(); ok && limit > 0 && limit <= timeOrderedLimitMax {
		return t.openTimeOrdered(ctx, s, limit) // topn_time.go
	}
	in, err := t.child.Open(ctx, run)
	if err != nil {
		return nil, err
	}
	defer in.Close(ctx)
	if limit < 0 {
		// LIMIT offset, 18446744073709551615 (MySQL's "to the end"), whose
		// offset the planner adds to the capped count, overflows to a
		// negative count, on which go-mysql-server's TopN panics. Every row
		// is what MySQL returns.
		limit = math.MaxInt64
	}
	mem := newMemCharge(ctx)
	st, err := t.top(ctx, in, limit, mem)
	if err != nil {
		mem.release()
		return nil, err
	}
	return st.emit()
}

// top reads in into a store of its best limit rows.
func (t *topNOp) top(ctx *sql.Context, in BatchIter, limit int64, mem *memCharge) (*topNStore, error) {
	st := newTopNStore(ctx, t.keys, limit, mem)
	for {
		b, err := in.Next(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if limit == 0 {
			continue // go-mysql-server still reads its whole input
		}
		kcs, err := evalKeys(ctx, t.keys, b)
		if err != nil {
			return nil, err
		}
		if err := st.add(ctx, b, kcs); err != nil {
			return nil, err
		}
	}
	return st, nil
}

// topNStore keeps the best limit rows of what it is given (and at most
// about 2·limit + BatchSize rows), with their key values.
//
// INVARIANT: once compacted, store's first limit rows are the best limit
// rows added so far in order, so row limit-1 of the last compaction is a
// bound: an arriving row is kept only when it sorts strictly before that
// row (on a tie the earlier row wins, as in go-mysql-server's TopN, whose
// heap breaks ties on arrival order).
type topNStore struct {
	keys             []sortKey
	rc               *rowComparer
	limit, compactAt int64
	mem              *memCharge
	store, storeKeys *Batch
	bound            []keyCol // storeKeys' columns when store holds a compacted bound at row limit-1
	compactions      int      // compactions so far (each sets a new bound)
	fast             []bool   // per key: every batch added compared natively (keyCol.fast)
	sortedRows       int      // store.N right after the last compaction (then it is in order)
	sel              []int32
}

func newTopNStore(ctx *sql.Context, keys []sortKey, limit int64, mem *memCharge) *topNStore {
	st := &topNStore{keys: keys, rc: &rowComparer{ctx: ctx, keys: keys}, limit: limit, mem: mem,
		compactAt: math.MaxInt64} // a count past any input: no compaction
	if limit <= math.MaxInt32 {
		st.compactAt = max(2*limit, BatchSize)
	}
	st.fast = make([]bool, len(keys))
	for i := range st.fast {
		st.fast[i] = true
	}
	return st
}

// add offers b's rows, whose key values are kcs (one per key).
func (st *topNStore) add(ctx *sql.Context, b *Batch, kcs []keyCol) error {
	if st.limit == 0 || b.N == 0 {
		return nil
	}
	kb := &Batch{N: b.N, Cols: make([]*Column, len(kcs))}
	for i, kc := range kcs {
		kb.Cols[i] = kc.c
		st.fast[i] = st.fast[i] && kc.fast
	}
	if st.bound != nil {
		sel := st.sel[:0]
		for r := range b.N {
			if st.rc.compare(kcs, r, st.bound, int(st.limit-1)) < 0 {
				sel = append(sel, int32(r))
			}
		}
		st.sel = sel
		if st.rc.err != nil {
			return st.rc.err
		}
		if len(sel) == 0 {
			return nil
		}
		if len(sel) < b.N {
			// Only the rows that beat the bound are copied, each once.
			before := st.store.Bytes() + st.storeKeys.Bytes()
			appendGathered(st.store, b, sel)
			appendGathered(st.storeKeys, kb, sel)
			if err := st.mem.grow(st.store.Bytes()+st.storeKeys.Bytes()-before, "top-n"); err != nil {
				return err
			}
			return st.compactIfFull()
		}
	}
	if st.store == nil {
		st.store, st.storeKeys = newOwnedBatch(b), newOwnedBatch(kb)
	}
	appendBatch(st.store, b)
	appendBatch(st.storeKeys, kb)
	if err := st.mem.grow(b.Bytes()+kb.Bytes(), "top-n"); err != nil {
		return err
	}
	return st.compactIfFull()
}

// compactIfFull compacts the store once it holds compactAt rows.
func (st *topNStore) compactIfFull() error {
	if int64(st.store.N) >= st.compactAt {
		return st.compact()
	}
	return nil
}

// keyCols is the store's key columns kb. A key whose every batch
// compared natively still does (the same Kinds, strings already found
// valid UTF-8), without a second look at its values.
func (st *topNStore) keyCols(kb *Batch) []keyCol {
	out := make([]keyCol, len(st.keys))
	for i := range st.keys {
		if st.fast[i] && kb.Cols[i].Kind != KindAny {
			out[i] = keyCol{c: kb.Cols[i], fast: true}
			continue
		}
		out[i] = st.keys[i].keyCol(kb.Cols[i])
	}
	return out
}

// compact keeps the store's best limit rows, in order, and makes the
// last of them the bound. REQUIRES: the store holds at least limit rows.
func (st *topNStore) compact() error {
	perm, err := st.rc.sortedOrder(st.keyCols(st.storeKeys), st.store.N)
	if err != nil {
		return err
	}
	perm = perm[:st.limit]
	before := st.store.Bytes() + st.storeKeys.Bytes()
	ns, nk := newOwnedBatch(st.store), newOwnedBatch(st.storeKeys)
	appendGathered(ns, st.store, perm)
	appendGathered(nk, st.storeKeys, perm)
	st.store, st.storeKeys = ns, nk
	st.bound = st.keyCols(nk)
	st.compactions++
	st.sortedRows = ns.N
	return st.mem.grow(ns.Bytes()+nk.Bytes()-before, "top-n")
}

// order is the positions of the store's rows in key order, at most
// limit of them: the rows as they are when nothing was added since the
// last compaction (which left them in order).
func (st *topNStore) order(keys []keyCol) ([]int32, error) {
	if st.store.N == st.sortedRows {
		perm := make([]int32, st.store.N)
		for i := range perm {
			perm[i] = int32(i)
		}
		return perm, nil
	}
	perm, err := st.rc.sortedOrder(keys, st.store.N)
	if int64(len(perm)) > st.limit {
		perm = perm[:st.limit]
	}
	return perm, err
}

// rows is the number of rows kept.
func (st *topNStore) rows() int {
	if st.store == nil {
		return 0
	}
	return st.store.N
}

// emit hands out the best limit rows in order and releases the store's
// memory when closed (at once when there are none).
func (st *topNStore) emit() (BatchIter, error) {
	if st.store == nil {
		st.mem.release()
		return &sliceIter{}, nil
	}
	perm, err := st.order(st.keyCols(st.storeKeys))
	if err != nil {
		st.mem.release()
		return nil, err
	}
	return emitIter(st.store, perm, st.mem.release, nil), nil
}

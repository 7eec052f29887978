package native

// This file owns a hash join's keys: which equality conjuncts of a join
// condition can be hashed, how a key value is typed so that two values
// hash alike exactly when go-mysql-server's Equals finds them equal, and
// the hash table built over the right input.
//
// Equals(l, r) compares (expression/comparison.go) with l's type when
// both types are equal and after castLeftAndRight otherwise. For the
// operand types a key accepts that comes down to:
//
//   - keyInt: both sides integers that fit an int64 column (signed, or
//     unsigned up to 32 bits): equal int64s. Mixed signedness compares as
//     float64 in go-mysql-server, which is the same thing for values
//     that fit 32 unsigned bits.
//   - keyFloat: a float on either side of two numbers: equal float64s
//     (an integer converted as ConvertToDouble does; -0 is 0).
//   - keyTime: DATE, DATETIME or TIMESTAMP on both sides: the same
//     instant, to the microsecond the columns hold.
//   - keyStr: text on both sides compared under utf8mb4_0900_bin or
//     utf8mb4_bin, whose rune weights are one-to-one: equal rune
//     sequences, where an invalid UTF-8 byte is one U+FFFD (the encoder's
//     NextRune), so a string is hashed as its bytes with each invalid
//     byte replaced.
//   - keyWeights: text under any other collation: the sequence of the
//     collation's rune weights, the same loop StringType.Compare runs.
//
// Every other operand pair (decimals, strings against numbers or times,
// JSON, enums, unsigned 64-bit) is not a key: the conjunct stays in the
// residual, evaluated by the compiled condition on candidate pairs.
//
// User numbers: a single keyStr key whose column carries user numbers
// (Column.U, distinct_id from the events scan) is keyed by the number as
// well as by the string. Two numbers of one numbering are equal exactly
// when the strings' bytes are, and distinct_ids are valid UTF-8 (storage
// refuses others), so that is keyStr's equality. Only keyStr: under
// another collation ('A' = 'a') two users can be equal as text.
//
// INVARIANT: two non-NULL key values hash to the same key exactly when
// go-mysql-server's Equals returns TRUE for them. A value the key cannot
// type (a column that went KindAny with an unexpected Go type) is
// "wild": the join evaluates the whole condition for it against every
// row of the other side, so it is never silently dropped.

import (
	"encoding/binary"
	"math"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/expression"
	"github.com/dolthub/go-mysql-server/sql/types"

	"arb/storage"
)

type keyClass uint8

const (
	keyInt keyClass = iota
	keyFloat
	keyTime
	keyStr
	keyWeights
)

// joinKey is one hashed equality conjunct: left over the left input's
// rows, right over the right input's.
type joinKey struct {
	left, right Expr
	class       keyClass
	coll        sql.CollationID // keyWeights
	text        string          // the conjunct, for EXPLAIN
	// lsrc and rsrc are the conjunct's sides as planned (over the
	// left ++ right row), nil where the key was not made from a join
	// condition.
	lsrc, rsrc sql.Expression
}

// keyClassOf is how Equals(l, r) compares when it can be hashed.
func keyClassOf(ctx *sql.Context, eq *expression.Equals, l, r sql.Expression) (keyClass, sql.CollationID, bool) {
	lt, rt := l.Type(ctx), r.Type(ctx)
	lk, rk := KindOf(lt), KindOf(rt)
	switch {
	case lk == KindInt && rk == KindInt && types.IsInteger(lt) && types.IsInteger(rt):
		return keyInt, 0, true
	case (lk == KindInt || lk == KindFloat) && (rk == KindInt || rk == KindFloat) &&
		(types.IsInteger(lt) || types.IsFloat(lt)) && (types.IsInteger(rt) || types.IsFloat(rt)):
		return keyFloat, 0, true
	case lk == KindTime && rk == KindTime && types.IsTime(lt) && types.IsTime(rt):
		return keyTime, 0, true
	case lk == KindString && rk == KindString && types.IsTextOnly(lt) && types.IsTextOnly(rt):
		var coll sql.CollationID
		if types.TypesEqual(lt, rt) {
			st, ok := lt.(sql.StringType)
			if !ok {
				return 0, 0, false
			}
			coll = st.Collation()
		} else {
			coll, _ = eq.CollationCoercibility(ctx)
		}
		switch coll {
		case sql.Collation_utf8mb4_0900_bin, sql.Collation_utf8mb4_bin:
			return keyStr, coll, true
		}
		if coll.Sorter() == nil {
			return 0, 0, false
		}
		return keyWeights, coll, true
	}
	return 0, 0, false
}

// keyState is what a row's key is.
type keyState uint8

const (
	keyOK   keyState = iota
	keyNull          // a NULL in some component: Equals is NULL
	keyWild          // not typeable: compare by the whole condition
)

// keyVals is one batch's keys, typed: ints (keyInt/keyTime values, or
// float bits) when the join has one numeric key, strs otherwise.
type keyVals struct {
	state []keyState
	ints  []int64
	strs  []string
	// users, with a single keyStr key over a column of user numbers:
	// each row's number under numbering (strs holds the strings too).
	users     []uint32
	numbering *storage.UserIDs
}

// keySet computes the keys of a batch. It reuses its buffers: the
// values of one call stay valid until the next.
type keySet struct {
	keys   []joinKey
	isLeft bool
	single bool // one key of a numeric or time class: ints
	vals   keyVals
	buf    []byte // the arena of encoded keys
	ends   []int  // where each row's key ends in buf
	cols   []*Column
	own    []string // vals.strs when they are not the batch's own strings
	// stable: the strings of the last call's strs stay valid after the
	// next call (the batch's own, made outside the arena, or in a fresh
	// arena); the slice itself may be reused.
	stable bool
	// freshArena: every call encodes into a new arena, so the strings of
	// earlier calls stay valid (a build that keys batch by batch).
	freshArena bool
}

func newKeySet(keys []joinKey, isLeft bool) *keySet {
	return &keySet{keys: keys, isLeft: isLeft,
		single: len(keys) == 1 && keys[0].class <= keyTime}
}

// compute fills ks.vals for the n rows of b.
func (ks *keySet) compute(ctx *sql.Context, b *Batch) (*keyVals, error) {
	n := b.N
	ks.cols = ks.cols[:0]
	for _, k := range ks.keys {
		x := k.right
		if ks.isLeft {
			x = k.left
		}
		c, err := x.Eval(ctx, b)
		if err != nil {
			return nil, err
		}
		ks.cols = append(ks.cols, c)
	}
	v := &ks.vals
	v.state = joinResize(v.state, n)
	for i := range v.state {
		v.state[i] = keyOK
	}
	if ks.single {
		v.ints = joinResize(v.ints, n)
		typedInts(ks.cols[0], ks.keys[0].class, v.ints, v.state)
		return v, nil
	}
	v.users, v.numbering = nil, nil
	ks.stable = false
	if len(ks.keys) == 1 && ks.keys[0].class == keyStr {
		if us, users := ks.cols[0].userNumbers(); us != nil {
			// Storage's ids are valid UTF-8: the strings are the keys,
			// read in place (a batch's columns are read-only).
			c := ks.cols[0]
			v.users, v.numbering = us[:n], users
			v.strs, ks.stable = c.S[:n], true
			if c.Nulls != nil {
				for r := range n {
					if c.Nulls[r] {
						v.state[r] = keyNull
					}
				}
			}
			return v, nil
		}
	}
	if len(ks.keys) == 1 && ks.keys[0].class == keyStr && ks.cols[0].Kind == KindString {
		// The hot case (a join on distinct_id): the column's own strings
		// are the keys, no copy, unless one holds invalid UTF-8.
		c := ks.cols[0]
		valid := true
		for r := range n {
			if !utf8.ValidString(c.S[r]) && (c.Nulls == nil || !c.Nulls[r]) {
				valid = false
				break
			}
		}
		if valid {
			v.strs, ks.stable = c.S[:n], true
			if c.Nulls != nil {
				for r := range n {
					if c.Nulls[r] {
						v.state[r] = keyNull
					}
				}
			}
			return v, nil
		}
		ks.own = joinResize(ks.own, n)
		v.strs, ks.stable = ks.own, true // made outside the arena
		for r := range n {
			switch {
			case c.Nulls != nil && c.Nulls[r]:
				v.state[r] = keyNull
			case utf8.ValidString(c.S[r]):
				v.strs[r] = c.S[r]
			default:
				v.strs[r] = string(appendValidUTF8(nil, c.S[r]))
			}
		}
		return v, nil
	}
	// Each row's encoded key goes into one arena and the strings are
	// made over it once it no longer moves: no allocation per row.
	// INVARIANT: the strings of one call are used only until the next
	// (the probe's keys live for one left batch; a build's key set is
	// used once).
	ks.own = joinResize(ks.own, n)
	v.strs = ks.own
	prefixed := len(ks.keys) > 1
	arena := ks.buf[:0]
	if ks.freshArena {
		arena = nil
	}
	ks.stable = ks.freshArena
	ks.ends = joinResize(ks.ends, n)
	for r := range n {
		start := len(arena)
		for i, k := range ks.keys {
			var st keyState
			arena, st = appendKeyValue(arena, ks.cols[i], r, k, prefixed)
			if st != keyOK {
				// NULL wins over wild: Equals with a NULL operand is NULL
				// whatever the other value is.
				if v.state[r] != keyNull {
					v.state[r] = st
				}
			}
		}
		if v.state[r] != keyOK {
			arena = arena[:start]
		}
		ks.ends[r] = len(arena)
	}
	ks.buf = arena
	start := 0
	for r, end := range ks.ends {
		if v.state[r] == keyOK {
			v.strs[r] = unsafe.String(unsafe.SliceData(arena[start:]), end-start)
		}
		start = end
	}
	return v, nil
}

func joinResize[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// typedInts writes column c's values as class cl's int64s (float bits
// for keyFloat) and marks NULL and wild rows in st.
func typedInts(c *Column, cl keyClass, out []int64, st []keyState) {
	n := len(out)
	switch {
	case c.Kind == KindNull:
		for r := range n {
			st[r] = keyNull
		}
		return
	case (cl == keyInt && c.Kind == KindInt) || (cl == keyTime && c.Kind == KindTime):
		copy(out, c.I[:n])
	case cl == keyFloat && c.Kind == KindFloat:
		for r := range n {
			out[r] = floatKey(c.F[r])
		}
	case cl == keyFloat && c.Kind == KindInt:
		for r := range n {
			out[r] = floatKey(float64(c.I[r]))
		}
	default:
		for r := range n {
			if c.IsNull(r) {
				st[r] = keyNull
				continue
			}
			i, ok := valueKeyInt(c.Value(r), cl)
			if !ok {
				st[r] = keyWild
				continue
			}
			out[r] = i
		}
		return
	}
	if c.Nulls != nil {
		for r := range n {
			if c.Nulls[r] {
				st[r] = keyNull
			}
		}
	}
}

// floatKey is f's bits, -0 being 0 (they are equal).
func floatKey(f float64) int64 {
	if f == 0 {
		return 0
	}
	return int64(math.Float64bits(f))
}

// valueKeyInt types a boxed value as class cl's int64, false when its Go
// type is not one a column of that class holds.
func valueKeyInt(v any, cl keyClass) (int64, bool) {
	switch cl {
	case keyInt:
		if i, ok := IntOf(v); ok {
			return i, true
		}
		if u, ok := v.(uint64); ok && u <= math.MaxInt64 {
			return int64(u), true
		}
	case keyFloat:
		if f, ok := floatOf(v); ok {
			return floatKey(f), true
		}
		if i, ok := IntOf(v); ok {
			return floatKey(float64(i)), true
		}
	case keyTime:
		if t, ok := v.(time.Time); ok {
			return t.UnixMicro(), true
		}
	}
	return 0, false
}

// appendKeyValue appends row r of c as key k's component: 8 bytes for
// numbers and times, the bytes (or weights) for strings, after their
// length when prefixed (a key of several components, which must never
// run into each other). The encoding depends only on the value, never
// on the column's Kind, so left and right rows meet whatever their
// batches hold.
func appendKeyValue(buf []byte, c *Column, r int, k joinKey, prefixed bool) ([]byte, keyState) {
	if c.IsNull(r) {
		return buf, keyNull
	}
	switch k.class {
	case keyInt, keyFloat, keyTime:
		var i int64
		switch {
		case (k.class == keyInt && c.Kind == KindInt) || (k.class == keyTime && c.Kind == KindTime):
			i = c.I[r]
		case k.class == keyFloat && c.Kind == KindFloat:
			i = floatKey(c.F[r])
		case k.class == keyFloat && c.Kind == KindInt:
			i = floatKey(float64(c.I[r]))
		default:
			var ok bool
			if i, ok = valueKeyInt(c.Value(r), k.class); !ok {
				return buf, keyWild
			}
		}
		return binary.LittleEndian.AppendUint64(buf, uint64(i)), keyOK
	}
	var s string
	if c.Kind == KindString {
		s = c.S[r]
	} else {
		var ok bool
		if s, ok = c.Value(r).(string); !ok {
			return buf, keyWild
		}
	}
	mark := len(buf)
	if prefixed {
		buf = append(buf, 0, 0, 0, 0) // the length, written below
	}
	start := len(buf)
	if k.class == keyStr {
		buf = appendValidUTF8(buf, s)
	} else {
		var ok bool
		if buf, ok = appendKeyWeights(buf, s, k.coll); !ok {
			return buf[:mark], keyWild
		}
	}
	if prefixed {
		binary.LittleEndian.PutUint32(buf[mark:], uint32(len(buf)-start))
	}
	return buf, keyOK
}

// appendValidUTF8 appends s with every byte that is not part of a valid
// UTF-8 sequence replaced by U+FFFD, as go-mysql-server's comparison
// decodes it (one replacement rune per invalid byte).
func appendValidUTF8(buf []byte, s string) []byte {
	for len(s) > 0 {
		r, n := utf8.DecodeRuneInString(s)
		if r == utf8.RuneError && n == 1 {
			buf = utf8.AppendRune(buf, utf8.RuneError)
		} else {
			buf = append(buf, s[:n]...)
		}
		s = s[n:]
	}
	return buf
}

// appendKeyWeights appends s's rune weights under coll, four bytes each:
// the loop of StringType.Compare, so equal weight strings are exactly
// the strings it finds equal. False when the encoder cannot decode s
// (Compare fails there; the condition reports it).
func appendKeyWeights(buf []byte, s string, coll sql.CollationID) ([]byte, bool) {
	enc := coll.CharacterSet().Encoder()
	weight := coll.Sorter()
	for len(s) > 0 {
		r, n := enc.NextRune(s)
		if n == 0 {
			return buf, false
		}
		buf = binary.LittleEndian.AppendUint32(buf, uint32(weight(r)))
		s = s[n:]
	}
	return buf, true
}

// joinTable is the hash table over the right input: for each key the
// right rows that have it, in right-input order.
//
// INVARIANT: ints or strs maps a key to its group g; heads[g] is the
// smallest right row with that key and next[r] the next larger row with
// r's key (-1: none), so a probe visits a key's rows in the order
// go-mysql-server's join reads them. wild lists the right rows whose key
// is wild (or NULL, when NULLs matter to the join), ascending; they are
// in no group.
type joinTable struct {
	single bool
	ints   map[int64]int32
	strs   map[string]int32
	heads  []int32
	next   []int32
	wild   []int32
	// users is the numbering of a table keyed by user number (strs is
	// then nil): userDense (a group per user, -1 none) or, for a large
	// numbering, userMap. A probe row without a number of that numbering
	// turns the table into strs once (toStrings).
	users     *storage.UserIDs
	userDense []int32
	userMap   map[uint32]int32
	groupUser []uint32 // each group's user
	// probeMemo, for a table keyed by strings probed by rows with user
	// numbers of probeUsers: per user number, 1 + its group, or -1 for
	// no group (0: not looked up yet). A number stands for one string
	// under its numbering, so one lookup answers all of a user's rows.
	probeUsers *storage.UserIDs
	probeMemo  []int32
}

// buildTable indexes n right rows whose keys are vals. nullsWild puts
// rows with a NULL key in wild (the join must see their NULL condition);
// otherwise they are left out: a NULL key equals nothing.
func buildTable(vals *keyVals, single bool, n int, nullsWild bool) *joinTable {
	t := &joinTable{single: single, next: make([]int32, n)}
	switch {
	case single:
		t.ints = make(map[int64]int32)
	case vals.users != nil:
		t.users = vals.numbering
		// An array of the numbering's users pays off when the build side
		// is not much smaller than it (a cohort of a few users in a big
		// project gets a map).
		if t.users.Len() > userDenseMax || t.users.Len() > 16*n {
			t.userMap = make(map[uint32]int32)
		} else {
			t.userDense = make([]int32, t.users.Len())
			for i := range t.userDense {
				t.userDense[i] = -1
			}
		}
	default:
		t.strs = make(map[string]int32)
	}
	var tails []int32
	for r := range n {
		t.next[r] = -1
		switch vals.state[r] {
		case keyNull:
			if nullsWild {
				t.wild = append(t.wild, int32(r))
			}
			continue
		case keyWild:
			t.wild = append(t.wild, int32(r))
			continue
		}
		// One map operation for a key seen before (most rows of a user
		// key), two for a new one.
		var g int32
		var ok bool
		if t.users != nil {
			if g, ok = t.userGroup(vals.users[r], int32(len(t.heads))); !ok {
				t.groupUser = append(t.groupUser, vals.users[r])
			}
		} else if single {
			if g, ok = t.ints[vals.ints[r]]; !ok {
				g = int32(len(t.heads))
				t.ints[vals.ints[r]] = g
			}
		} else {
			if g, ok = t.strs[vals.strs[r]]; !ok {
				g = int32(len(t.heads))
				t.strs[vals.strs[r]] = g
			}
		}
		if !ok {
			t.heads = append(t.heads, int32(r))
			tails = append(tails, int32(r))
			continue
		}
		t.next[tails[g]] = int32(r)
		tails[g] = int32(r)
	}
	return t
}

// userGroup is user u's group, given the id next if u has none (false).
func (t *joinTable) userGroup(u uint32, next int32) (int32, bool) {
	if t.userMap != nil {
		g, ok := t.userMap[u]
		if !ok {
			t.userMap[u] = next
			return next, false
		}
		return g, true
	}
	if int(u) >= len(t.userDense) {
		// Build batches from a later snapshot of the numbering know
		// more users.
		more := make([]int32, int(u)+1-len(t.userDense))
		for i := range more {
			more[i] = -1
		}
		t.userDense = append(t.userDense, more...)
	}
	if g := t.userDense[u]; g >= 0 {
		return g, true
	}
	t.userDense[u] = next
	return next, false
}

// findUser is user u's group, false for none.
func (t *joinTable) findUser(u uint32) (int32, bool) {
	if t.userMap != nil {
		g, ok := t.userMap[u]
		return g, ok
	}
	if int(u) >= len(t.userDense) {
		return 0, false // a user numbered after the build side's snapshot
	}
	g := t.userDense[u]
	return g, g >= 0
}

// toStrings rekeys a table keyed by user number by the users' ids.
func (t *joinTable) toStrings() {
	t.strs = make(map[string]int32, len(t.heads))
	for g, u := range t.groupUser {
		t.strs[t.users.ID(u)] = int32(g)
	}
	t.users, t.userDense, t.userMap, t.groupUser = nil, nil, nil, nil
}

// head is the first right row with left row r's key, -1 for none.
func (t *joinTable) head(vals *keyVals, r int) int32 {
	g := t.group(vals, r)
	if g < 0 {
		return -1
	}
	return t.heads[g]
}

// group is the group of left row r's key, -1 for none.
func (t *joinTable) group(vals *keyVals, r int) int32 {
	var g int32
	var ok bool
	if t.users != nil {
		if vals.users != nil && (vals.numbering == t.users || t.users.SameNumbering(vals.numbering)) {
			if g, ok = t.findUser(vals.users[r]); !ok {
				return -1
			}
			return g
		}
		t.toStrings()
	}
	switch {
	case t.single:
		g, ok = t.ints[vals.ints[r]]
	case vals.users != nil:
		return t.groupByMemo(vals, r)
	default:
		g, ok = t.strs[vals.strs[r]]
	}
	if !ok {
		return -1
	}
	return g
}

// groupByMemo is group for a probe row with a user number, on a table
// keyed by strings.
func (t *joinTable) groupByMemo(vals *keyVals, r int) int32 {
	if t.probeUsers == nil || !t.probeUsers.SameNumbering(vals.numbering) {
		t.probeUsers, t.probeMemo = vals.numbering, nil
	}
	u := vals.users[r]
	if int(u) < len(t.probeMemo) {
		switch m := t.probeMemo[u]; {
		case m > 0:
			return m - 1
		case m < 0:
			return -1
		}
	}
	g, ok := t.strs[vals.strs[r]]
	if int(u) >= len(t.probeMemo) {
		if int(u) >= userDenseMax {
			if !ok {
				return -1
			}
			return g
		}
		memo := make([]int32, max(int(u)+1, min(vals.numbering.Len(), 2*len(t.probeMemo))))
		copy(memo, t.probeMemo)
		t.probeMemo = memo
	}
	if !ok {
		t.probeMemo[u] = -1
		return -1
	}
	t.probeMemo[u] = g + 1
	return g
}

// bytes estimates the table's memory: the chain links, a map entry per
// distinct key, and the bytes of keys the table owns.
func (t *joinTable) bytes() int64 {
	n := int64(4*len(t.next) + 4*len(t.wild) + 8*len(t.heads))
	if t.users != nil {
		return n + 4*int64(len(t.userDense)+len(t.groupUser)) + 48*int64(len(t.userMap))
	}
	if t.single {
		return n + 48*int64(len(t.ints))
	}
	n += 64 * int64(len(t.strs))
	for k := range t.strs {
		n += int64(len(k))
	}
	return n
}

package native

// This file owns the group table: the map from a row's key (the values of
// the GROUP BY expressions, or every column of a DISTINCT) to a dense
// group id, numbered 0, 1, 2, … in the order the groups are first seen.
//
// Two keys are the same group exactly when go-mysql-server hashes them
// the same (sql/hash.HashOf), short of its 64-bit collisions:
//   - NULL is one value, apart from every other;
//   - a string is its collation's weight string when the key's type is a
//     string type (GROUP BY: 'Paris' and 'paris' are one group under a
//     case-insensitive collation), its bytes otherwise (DISTINCT hashes
//     with no schema);
//   - numbers are equal when their decimal text is: 1 and 1.0 are one
//     value, -0 is 0;
//   - a time is its instant and location, to the nanosecond;
//   - anything else is its fmt %v text.
//
// INVARIANT: a key's encoding depends only on its value, never on the
// Kind of the column that carried it, so batches whose columns went
// KindAny (an odd value) still find the groups typed batches made.
//
// Fast paths: one integer or time key, and one string key compared by its
// bytes, use a Go map keyed by the value itself (a string column with
// dictionary codes, Column.Codes, looks each code of a dictionary up
// once and then indexes an array by code; a string column that
// carries user numbers, distinct_id from the events scan, indexes an
// array by user number instead: equal numbers are equal bytes, see
// Column.U); any other single key is
// encoded into a reused byte buffer and looked up without allocating. A
// fast table that meets a batch of another Kind moves its keys into the
// general encoding once and stays there, keeping their ids. Several key
// columns each get such a table, and the group is the tuple of the ids
// those give (DATE(time), event: an integer map and a small string map,
// then a map of id pairs). A key column hinted as one value
// (column_hints.go: the day of a day's batch) is looked up once for the
// batch, and a pair whose other key is such a column is looked up once
// per id of the varying key (pairsByMemo).

import (
	"encoding/binary"
	"fmt"
	"math"
	"time"
	"unsafe"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/types"

	"arb/storage"
)

// Key encoding tags: the first byte of each value in an encoded key.
const (
	tagNull   = 0
	tagInt    = 1 // 8 bytes big endian: an integer, or a float with an integer's text
	tagUint   = 2 // 8 bytes: an unsigned integer above MaxInt64
	tagFloat  = 3 // 8 bytes: a float's bits (NaN canonical)
	tagString = 4 // uvarint length, then the bytes or weight string
	tagTime   = 5 // 8 bytes of seconds, 4 of nanoseconds: a UTC time
	tagText   = 6 // uvarint length, then fmt %v text
)

// keyColumn says how one key column's values compare.
type keyColumn struct {
	// collation, when collated, is the collation whose weight strings
	// stand for string values (GROUP BY over a string-typed key).
	collated  bool
	collation sql.CollationID
	strType   types.StringType
	extended  bool // an sql.ExtendedType key: go-mysql-server hashes its %v text
}

// newKeyColumn is how go-mysql-server's GROUP BY hashes a key of type t;
// DISTINCT, which hashes with no schema, uses the zero keyColumn.
func newKeyColumn(t sql.Type) keyColumn {
	if _, ok := t.(sql.ExtendedType); ok {
		return keyColumn{extended: true}
	}
	st, ok := t.(types.StringType)
	if !ok {
		return keyColumn{}
	}
	return keyColumn{collated: !bytesCollation(st.Collation()), collation: st.Collation(), strType: st}
}

// bytesCollation reports whether c orders and equates valid UTF-8
// strings as Go compares their bytes: its rune weights increase with the
// code point (binary, utf8mb4_0900_bin, utf8mb4_bin).
func bytesCollation(c sql.CollationID) bool {
	switch c {
	case sql.Collation_binary, sql.Collation_utf8mb4_0900_bin, sql.Collation_utf8mb4_bin:
		return true
	}
	return false
}

// groupTable assigns group ids to keys.
type groupTable struct {
	cols []keyColumn
	n    int // groups so far

	mode     groupMode
	ints     map[int64]int32  // modeInt, modeTime: value → group, values outside dense
	dense    []int32          // modeInt, modeTime: value → group for values in [0, denseInts), -1 none
	strs     map[string]int32 // modeString: value; modeGeneral: encoded key
	nullID   int32            // the NULL key's group in a fast mode, -1 until seen
	fastKind Kind             // the Kind the fast mode reads

	// Several key columns: each column's own table numbers its values,
	// and a group is the tuple of those numbers (two in pairs, more
	// packed 4 bytes each in tuples). A column's numbers never change
	// (its table keeps them when it leaves a fast mode), so neither do
	// the tuples.
	sub    []*groupTable
	pairs  map[uint64]int32
	tuples map[string]int32
	colIDs [][]int32
	// pairMemo is pairsByMemo's array from one column's ids to groups,
	// valid for one batch.
	pairMemo []int32

	cache *stringCache // modeString

	// modeString (and modeGeneral's encodedGroups) over a column with
	// dictionary codes (Column.Codes):
	// dictGroups[code] is 1 + the group of dict[code], 0 for not looked
	// up yet, for the dictionary dict (the last one seen: parts arrive
	// one after another, each with its segment's dictionary). strs stays
	// the table's key set, so batches with and without codes, and
	// several dictionaries, agree on every string's group.
	dict       []string
	dictGroups []int32

	// modeUser: users numbers the keys; userMap, then (once the groups
	// are more than a sixteenth of users' users, at most userDenseMax)
	// userDense maps a user number to its group, userDense holding -1
	// for none.
	users     *storage.UserIDs
	userDense []int32
	userMap   map[uint32]int32

	// recent caches lookups of ints (modeInt, modeTime) or pairs
	// (group_recent.go); a table uses it for one of them only.
	recent recentGroups

	buf    []byte // encoded key, reused
	weight weightBuf
	keyLen int64 // bytes of keys held, for the memory estimate
}

type groupMode uint8

const (
	modeUnset   groupMode = iota // no batch seen yet
	modeInt                      // one KindInt key
	modeTime                     // one KindTime key
	modeString                   // one KindString key compared by bytes
	modeUser                     // one KindString key of user numbers (Column.U), compared by number
	modeGeneral                  // encoded keys
)

// userDenseMax bounds the users whose groups an array holds (4 bytes a
// user); past it a map holds the users seen.
const userDenseMax = 1 << 22

func newGroupTable(cols []keyColumn) *groupTable {
	return &groupTable{cols: cols, nullID: -1}
}

// groups sets out[r] to the group of row r of keys (one column per key
// column, nrows rows) and returns out; new groups get the next ids in
// row order.
func (t *groupTable) groups(ctx *sql.Context, keys []*Column, nrows int, out []int32) ([]int32, error) {
	out = out[:0]
	if len(t.cols) > 1 {
		return t.compositeGroups(ctx, keys, nrows, out)
	}
	if t.mode == modeUnset {
		t.mode = modeGeneral
		if !t.cols[0].extended && !t.cols[0].collated {
			switch k := keys[0].Kind; {
			case k == KindInt:
				t.mode, t.fastKind, t.ints = modeInt, k, map[int64]int32{}
			case k == KindTime:
				t.mode, t.fastKind, t.ints = modeTime, k, map[int64]int32{}
			case k == KindString && keys[0].U != nil:
				t.mode, t.fastKind, t.users, t.userMap = modeUser, k, keys[0].Users, map[uint32]int32{}
			case k == KindString:
				t.mode, t.fastKind, t.strs = modeString, k, map[string]int32{}
			}
		}
		if t.mode == modeGeneral {
			t.strs = map[string]int32{}
		}
	}
	if t.mode == modeUser && keys[0].Kind != KindNull {
		if us, users := keys[0].userNumbers(); us == nil || !t.users.SameNumbering(users) {
			t.userToString()
		} else {
			t.users = widerNumbering(t.users, users)
		}
	}
	if t.mode != modeGeneral && keys[0].Kind != t.fastKind && keys[0].Kind != KindNull {
		if err := t.toGeneral(ctx); err != nil {
			return nil, err
		}
	}
	c := keys[0]
	if nrows > 1 && c.isConst() {
		// One value (DATE(time) of a day's batch): one lookup, the
		// group of row 0 for every row.
		out, err := t.oneKeyGroups(ctx, c, 1, out)
		if err != nil {
			return nil, err
		}
		for range nrows - 1 {
			out = append(out, out[0])
		}
		return out, nil
	}
	return t.oneKeyGroups(ctx, c, nrows, out)
}

// oneKeyGroups is groups for the first nrows of c, the one key column,
// in the mode groups has settled.
func (t *groupTable) oneKeyGroups(ctx *sql.Context, c *Column, nrows int, out []int32) ([]int32, error) {
	switch {
	case t.mode != modeGeneral && c.Kind == KindNull:
		return t.allNull(nrows, out), nil
	case t.mode == modeInt || t.mode == modeTime:
		return t.intGroups(c, nrows, out), nil
	case t.mode == modeString:
		return t.stringGroups(c, nrows, out), nil
	case t.mode == modeUser:
		return t.userGroups(c, nrows, out), nil
	}
	return t.encodedGroups(ctx, c, nrows, out)
}

// intGroups is groups for one KindInt or KindTime key.
func (t *groupTable) intGroups(c *Column, nrows int, out []int32) []int32 {
	// Rows in time order put runs of one day (hour, user) together: a
	// run reuses its first row's lookup.
	last, lastG := int64(0), int32(-1)
	for r := range nrows {
		if c.Nulls != nil && c.Nulls[r] {
			out = append(out, t.nullGroup())
			continue
		}
		v := c.I[r]
		if v == last && lastG >= 0 {
			out = append(out, lastG)
			continue
		}
		var g int32
		if uint64(v) < denseInts {
			// Small non-negative integers (hours, weekdays, buckets,
			// counts) index an array: no hashing.
			if t.dense == nil {
				t.dense = make([]int32, denseInts)
				for i := range t.dense {
					t.dense[i] = -1
				}
			}
			if g = t.dense[v]; g < 0 {
				g = t.newGroup()
				t.dense[v] = g
			}
		} else if cg, hit := t.recent.get(uint64(v)); hit {
			g = cg
		} else {
			var ok bool
			if g, ok = t.ints[v]; !ok {
				g = t.newGroup()
				t.ints[v] = g
				t.keyLen += 8
			}
			t.recent.put(uint64(v), g)
		}
		last, lastG = v, g
		out = append(out, g)
	}
	return out
}

// userGroups is groups for one key of user numbers.
func (t *groupTable) userGroups(c *Column, nrows int, out []int32) []int32 {
	if t.userMap != nil && len(t.userMap) > t.users.Len()/16 && t.users.Len() <= userDenseMax {
		t.userDense = make([]int32, t.users.Len())
		for i := range t.userDense {
			t.userDense[i] = -1
		}
		for u, g := range t.userMap {
			t.userDense[u] = g
		}
		t.userMap = nil
	}
	last, lastG := uint32(0), int32(-1)
	for r := range nrows {
		if c.Nulls != nil && c.Nulls[r] {
			out = append(out, t.nullGroup())
			continue
		}
		u := c.U[r]
		if u == last && lastG >= 0 {
			out = append(out, lastG)
			continue
		}
		var g int32
		if t.userMap != nil {
			var ok bool
			if g, ok = t.userMap[u]; !ok {
				g = t.newGroup()
				t.userMap[u] = g
			}
		} else {
			if int(u) >= len(t.userDense) {
				// A later snapshot of the numbering knows more users.
				more := make([]int32, int(u)+1-len(t.userDense), int(u)+1)
				for i := range more {
					more[i] = -1
				}
				t.userDense = append(t.userDense, more...)
			}
			if g = t.userDense[u]; g < 0 {
				g = t.newGroup()
				t.userDense[u] = g
			}
		}
		last, lastG = u, g
		out = append(out, g)
	}
	return out
}

// userToString moves modeUser's keys into modeString (a batch of the
// key came without user numbers of the table's numbering): each user's
// id is the string its rows carry, so the ids keep their groups.
func (t *groupTable) userToString() {
	strs := make(map[string]int32, t.n)
	add := func(u uint32, g int32) {
		id := t.users.ID(u)
		strs[id] = g
		t.keyLen += int64(len(id))
	}
	for u, g := range t.userDense {
		if g >= 0 {
			add(uint32(u), g)
		}
	}
	for u, g := range t.userMap {
		add(u, g)
	}
	t.mode, t.strs, t.users, t.userDense, t.userMap = modeString, strs, nil, nil, nil
}

// denseInts bounds the integer keys an array holds: [0, denseInts).
const denseInts = 4096

// dictGroupsMax bounds the dictionaries whose codes the group table
// maps through an array (4 bytes a code, cleared per dictionary): larger
// ones (an id per row) go by their strings.
const dictGroupsMax = 1 << 16

// stringGroups is groups for one KindString key compared by its bytes.
func (t *groupTable) stringGroups(c *Column, nrows int, out []int32) []int32 {
	if codes, dict := c.dictCodes(); codes != nil && (len(dict) <= dictGroupsMax || c.S == nil) {
		return t.codedGroups(c, codes, dict, nrows, out)
	}
	if t.cache == nil {
		t.cache = &stringCache{}
	}
	for r := range nrows {
		if c.Nulls != nil && c.Nulls[r] {
			out = append(out, t.nullGroup())
			continue
		}
		v := c.S[r]
		slot := t.cache.slot(v)
		if slot.holds(v) {
			out = append(out, slot.id)
			continue
		}
		g, ok := t.strs[v]
		if !ok {
			g = t.newGroup()
			t.strs[v] = g
			t.keyLen += int64(len(v))
		}
		slot.s, slot.id = v, g
		out = append(out, g)
	}
	return out
}

// codedGroups is stringGroups for a column with dictionary codes: each
// code of dict is looked up by its string once, then by the code.
func (t *groupTable) codedGroups(c *Column, codes []uint32, dict []string, nrows int, out []int32) []int32 {
	t.useDict(dict)
	dg := t.dictGroups
	codes = codes[:nrows]
	base := len(out)
	out = grow(out, base+nrows)
	res := out[base:]
	nulls := c.Nulls
	if nulls != nil {
		nulls = nulls[:nrows]
	}
	for r, code := range codes {
		if nulls != nil && nulls[r] {
			res[r] = t.nullGroup()
			continue
		}
		g := dg[code] - 1
		if g < 0 {
			g = t.dictGroup(dict, code)
		}
		res[r] = g
	}
	return out
}

// useDict makes dict the dictionary dictGroups maps (cleared when it
// was another).
func (t *groupTable) useDict(dict []string) {
	if sameDict(t.dict, dict) {
		return
	}
	t.dict = dict
	if cap(t.dictGroups) < len(dict) {
		t.dictGroups = make([]int32, len(dict))
	} else {
		t.dictGroups = t.dictGroups[:len(dict)]
		clear(t.dictGroups)
	}
}

// dictGroup is the group of dict[code], the first row of it under this
// dictionary: looked up (or added) by its string.
func (t *groupTable) dictGroup(dict []string, code uint32) int32 {
	v := dict[code]
	g, ok := t.strs[v]
	if !ok {
		g = t.newGroup()
		t.strs[v] = g
		t.keyLen += int64(len(v))
	}
	t.dictGroups[code] = g + 1
	return g
}

// encodedGroups is groups for one key of any Kind, by its encoding. A
// string key with dictionary codes (a CASE of labels under a collation)
// is encoded once per code of its dictionary: rows of one code hold one
// string, so they share its group.
func (t *groupTable) encodedGroups(ctx *sql.Context, c *Column, nrows int, out []int32) ([]int32, error) {
	codes, dict := c.dictCodes()
	if codes != nil && len(dict) <= dictGroupsMax {
		t.useDict(dict)
	} else {
		codes = nil
	}
	for r := range nrows {
		if codes != nil && !c.IsNull(r) {
			if g := t.dictGroups[codes[r]] - 1; g >= 0 {
				out = append(out, g)
				continue
			}
		} else if r > 0 && (c.Kind == KindAny && c.Nulls == nil && sameBox(c.A[r-1], c.A[r]) || sameKeyValue(c, r-1, r)) {
			// A run of one value (a day's DATE(time) strings) takes its
			// first row's group without encoding the key again.
			out = append(out, out[len(out)-1])
			continue
		}
		var err error
		if t.buf, err = t.appendKey(ctx, t.buf[:0], 0, c, r); err != nil {
			return nil, err
		}
		g, ok := t.strs[string(t.buf)] // no allocation: the compiler sees the lookup
		if !ok {
			g = t.newGroup()
			t.strs[string(t.buf)] = g
			t.keyLen += int64(len(t.buf))
		}
		if codes != nil && !c.IsNull(r) {
			t.dictGroups[codes[r]] = g + 1
		}
		out = append(out, g)
	}
	return out, nil
}

// pairMemoMax bounds the ids of a two-key table's columns for which a
// batch with one constant key maps the other's ids through an array
// (pairsByMemo), reset per batch.
const pairMemoMax = 4096

// pairsByMemo is groups for two keys whose ids are fixed (the same on
// every row) and vary[r] (ids below nvary), the varying key second when
// varySecond: each id of vary is looked up in pairs once per batch.
func (t *groupTable) pairsByMemo(vary []int32, nvary int, fixed int32, varySecond bool, nrows int, out []int32) []int32 {
	memo := t.pairMemo[:0]
	for range nvary {
		memo = append(memo, -1)
	}
	t.pairMemo = memo
	for _, id := range vary[:nrows] {
		if g := memo[id]; g >= 0 {
			out = append(out, g)
			continue
		}
		k := uint64(uint32(fixed))<<32 | uint64(uint32(id))
		if !varySecond {
			k = uint64(uint32(id))<<32 | uint64(uint32(fixed))
		}
		g, ok := t.pairs[k]
		if !ok {
			g = t.newGroup()
			t.pairs[k] = g
		}
		memo[id] = g
		out = append(out, g)
	}
	return out
}

// compositeGroups is groups for several key columns.
func (t *groupTable) compositeGroups(ctx *sql.Context, keys []*Column, nrows int, out []int32) ([]int32, error) {
	if t.sub == nil {
		t.sub = make([]*groupTable, len(t.cols))
		t.colIDs = make([][]int32, len(t.cols))
		for i := range t.cols {
			t.sub[i] = newGroupTable(t.cols[i : i+1])
		}
		if len(t.cols) == 2 {
			t.pairs = map[uint64]int32{}
		} else {
			t.tuples = map[string]int32{}
		}
	}
	for i, st := range t.sub {
		var err error
		if t.colIDs[i], err = st.groups(ctx, keys[i:i+1], nrows, t.colIDs[i]); err != nil {
			return nil, err
		}
	}
	if t.pairs != nil {
		a, b := t.colIDs[0], t.colIDs[1]
		if nrows > 0 && (keys[0].isConst() || keys[1].isConst()) {
			// One key is one value (the day of a day's batch): the pair
			// follows from the other's id, looked up once per id.
			v := 1 // the varying key
			if !keys[0].isConst() {
				v = 0
			}
			if t.sub[v].n <= pairMemoMax {
				return t.pairsByMemo(t.colIDs[v], t.sub[v].n, t.colIDs[1-v][0], v == 1, nrows, out), nil
			}
		}
		for r := range nrows {
			if r > 0 && a[r] == a[r-1] && b[r] == b[r-1] {
				out = append(out, out[len(out)-1])
				continue
			}
			k := uint64(uint32(a[r]))<<32 | uint64(uint32(b[r]))
			if g, hit := t.recent.get(k); hit {
				out = append(out, g)
				continue
			}
			g, ok := t.pairs[k]
			if !ok {
				g = t.newGroup()
				t.pairs[k] = g
			}
			t.recent.put(k, g)
			out = append(out, g)
		}
		return out, nil
	}
	for r := range nrows {
		t.buf = t.buf[:0]
		for _, ids := range t.colIDs {
			t.buf = binary.LittleEndian.AppendUint32(t.buf, uint32(ids[r]))
		}
		g, ok := t.tuples[string(t.buf)]
		if !ok {
			g = t.newGroup()
			t.tuples[string(t.buf)] = g
			t.keyLen += int64(len(t.buf))
		}
		out = append(out, g)
	}
	return out, nil
}

// sameKeyValue reports whether rows a and b of c hold the same value,
// which then encodes to the same key (false when that is not cheap to
// tell: a boxed value other than a string, a NaN).
func sameKeyValue(c *Column, a, b int) bool {
	if na, nb := c.IsNull(a), c.IsNull(b); na || nb {
		return na && nb
	}
	switch c.Kind {
	case KindInt, KindTime:
		return c.I[a] == c.I[b]
	case KindFloat:
		return c.F[a] == c.F[b] && !math.Signbit(c.F[a]) && !math.Signbit(c.F[b])
	case KindString:
		if c.S == nil && c.Codes != nil {
			return c.Codes[a] == c.Codes[b]
		}
		return c.S[a] == c.S[b]
	case KindAny:
		switch va := c.A[a].(type) {
		case string:
			sb, ok := c.A[b].(string)
			return ok && va == sb
		case time.Time:
			// TIMESTAMP(DATE_FORMAT(time, …)) is typed as its string
			// argument but yields times, boxed: runs of one month or day.
			// Equal structs (instant, wall clock and zone) encode alike.
			tb, ok := c.A[b].(time.Time)
			return ok && va == tb
		}
	}
	return false
}

func (t *groupTable) newGroup() int32 {
	t.n++
	return int32(t.n - 1)
}

func (t *groupTable) nullGroup() int32 {
	if t.nullID < 0 {
		t.nullID = t.newGroup()
	}
	return t.nullID
}

func (t *groupTable) allNull(nrows int, out []int32) []int32 {
	g := t.nullGroup()
	for range nrows {
		out = append(out, g)
	}
	return out
}

// toGeneral moves a fast mode's keys into the general encoding.
func (t *groupTable) toGeneral(ctx *sql.Context) error {
	general := make(map[string]int32, t.n)
	var buf []byte
	switch t.mode {
	case modeInt, modeTime:
		key := appendIntKey
		if t.mode == modeTime {
			key = appendMicrosKey
		}
		for v, g := range t.ints {
			general[string(key(buf[:0], v))] = g
		}
		for v, g := range t.dense {
			if g >= 0 {
				general[string(key(buf[:0], int64(v)))] = g
			}
		}
	case modeString:
		for v, g := range t.strs {
			general[string(appendBytesKey(buf[:0], tagString, v))] = g
		}
	case modeUser:
		t.userToString()
		for v, g := range t.strs {
			general[string(appendBytesKey(buf[:0], tagString, v))] = g
		}
	}
	if t.nullID >= 0 {
		general[string([]byte{tagNull})] = t.nullID
	}
	t.mode, t.ints, t.dense, t.strs, t.cache = modeGeneral, nil, nil, general, nil
	t.dict, t.dictGroups = nil, nil
	return nil
}

// appendKey appends the encoding of row r of c, key column i.
func (t *groupTable) appendKey(ctx *sql.Context, buf []byte, i int, c *Column, r int) ([]byte, error) {
	if c.IsNull(r) {
		return append(buf, tagNull), nil
	}
	kc := &t.cols[i]
	switch c.Kind {
	case KindInt:
		if kc.collated || kc.extended {
			break // an integer in a string-typed key: its text's weights
		}
		return appendIntKey(buf, c.I[r]), nil
	case KindFloat:
		if kc.collated || kc.extended {
			break
		}
		return appendFloatKey(buf, c.F[r]), nil
	case KindTime:
		if kc.collated || kc.extended {
			break
		}
		return appendMicrosKey(buf, c.I[r]), nil
	case KindString:
		if kc.extended {
			break
		}
		if !kc.collated {
			return appendBytesKey(buf, tagString, c.str(r)), nil
		}
		return t.appendWeights(buf, kc, c.str(r))
	}
	return t.appendValueKey(ctx, buf, kc, c.Value(r))
}

// appendValueKey encodes a boxed value (not nil) as go-mysql-server's
// HashOf sees it.
func (t *groupTable) appendValueKey(ctx *sql.Context, buf []byte, kc *keyColumn, v any) ([]byte, error) {
	v, err := sql.UnwrapAny(ctx, v)
	if err != nil {
		return nil, err
	}
	if v == nil {
		return append(buf, tagNull), nil
	}
	if kc.extended {
		return appendBytesKey(buf, tagText, fmt.Sprintf("%v", v)), nil
	}
	if kc.collated {
		s, err := types.ConvertToString(ctx, v, kc.strType, nil)
		if err != nil {
			return nil, err
		}
		return t.appendWeights(buf, kc, s)
	}
	return appendPlainKey(buf, v), nil
}

// appendPlainKey encodes v (not nil, unwrapped) by its Go value.
func appendPlainKey(buf []byte, v any) []byte {
	switch x := v.(type) {
	case int64:
		return appendIntKey(buf, x)
	case int:
		return appendIntKey(buf, int64(x))
	case int8:
		return appendIntKey(buf, int64(x))
	case int16:
		return appendIntKey(buf, int64(x))
	case int32:
		return appendIntKey(buf, int64(x))
	case uint8:
		return appendIntKey(buf, int64(x))
	case uint16:
		return appendIntKey(buf, int64(x))
	case uint32:
		return appendIntKey(buf, int64(x))
	case uint:
		return appendUintKey(buf, uint64(x))
	case uint64:
		return appendUintKey(buf, x)
	case float64:
		return appendFloatKey(buf, x)
	case float32:
		// go-mysql-server formats a float32 with 32-bit precision; its
		// float64 widening is exact, so equal text is equal value.
		return appendFloatKey(buf, float64(x))
	case string:
		return appendBytesKey(buf, tagString, x)
	case []byte:
		return appendBytesKey(buf, tagString, string(x))
	case time.Time:
		if x.Location() == time.UTC {
			return appendTimeKey(buf, x.Unix(), int32(x.Nanosecond()))
		}
	}
	return appendBytesKey(buf, tagText, fmt.Sprintf("%v", v))
}

func appendIntKey(buf []byte, v int64) []byte {
	return binary.BigEndian.AppendUint64(append(buf, tagInt), uint64(v))
}

func appendUintKey(buf []byte, v uint64) []byte {
	if v <= math.MaxInt64 {
		return appendIntKey(buf, int64(v))
	}
	return binary.BigEndian.AppendUint64(append(buf, tagUint), v)
}

// appendFloatKey encodes f so that it equals an integer's key when its
// text does (1.0 is 1, -0 is 0), and every NaN alike.
func appendFloatKey(buf []byte, f float64) []byte {
	if f == math.Trunc(f) && f >= -(1<<63) && f < 1<<63 {
		return appendIntKey(buf, int64(f))
	}
	if f >= 1<<63 && f < 1<<64 && f == math.Trunc(f) {
		return appendUintKey(buf, uint64(f))
	}
	if math.IsNaN(f) {
		f = math.NaN()
	}
	return binary.BigEndian.AppendUint64(append(buf, tagFloat), math.Float64bits(f))
}

func appendMicrosKey(buf []byte, us int64) []byte {
	sec, frac := us/1e6, us%1e6
	if frac < 0 {
		sec, frac = sec-1, frac+1e6
	}
	return appendTimeKey(buf, sec, int32(frac*1000))
}

func appendTimeKey(buf []byte, sec int64, nsec int32) []byte {
	buf = binary.BigEndian.AppendUint64(append(buf, tagTime), uint64(sec))
	return binary.BigEndian.AppendUint32(buf, uint32(nsec))
}

func appendBytesKey(buf []byte, tag byte, s string) []byte {
	buf = binary.AppendUvarint(append(buf, tag), uint64(len(s)))
	return append(buf, s...)
}

// appendWeights appends s's weight string under kc's collation.
func (t *groupTable) appendWeights(buf []byte, kc *keyColumn, s string) ([]byte, error) {
	t.weight.b = t.weight.b[:0]
	if err := kc.collation.WriteWeightString(&t.weight, s); err != nil {
		return nil, err
	}
	buf = binary.AppendUvarint(append(buf, tagString), uint64(len(t.weight.b)))
	return append(buf, t.weight.b...), nil
}

// weightBuf collects a weight string (an io.Writer that never fails).
type weightBuf struct{ b []byte }

func (w *weightBuf) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

// bytes estimates the table's memory: keys plus Go map overhead.
func (t *groupTable) bytes() int64 {
	n := t.keyLen + int64(t.n)*48 + 4*int64(len(t.dense)+cap(t.dictGroups)) + 4*int64(len(t.userDense)) + 8*int64(len(t.userMap))
	for _, st := range t.sub {
		n += st.bytes()
	}
	return n
}

// stringCache remembers the id of strings by where their bytes are: the
// events scan hands out a column's dictionary strings, so the rows of
// one event name share one pointer, and a hit skips hashing the bytes.
// A miss costs a comparison; the map decides.
//
// INVARIANT: a slot's id is the id of the string it holds; a string
// holds its bytes alive and immutable, so the same pointer and length is
// the same string.
type stringCache struct {
	slots [stringCacheSlots]stringSlot
}

const stringCacheSlots = 1024 // a power of two

type stringSlot struct {
	s  string
	id int32
}

// slot is where s would be.
func (c *stringCache) slot(s string) *stringSlot {
	p := uintptr(unsafe.Pointer(unsafe.StringData(s)))
	return &c.slots[(p>>3^p>>13)&(stringCacheSlots-1)]
}

// holds reports whether the slot holds s itself (not an equal copy).
func (e *stringSlot) holds(s string) bool {
	return len(s) > 0 && len(e.s) == len(s) && unsafe.StringData(e.s) == unsafe.StringData(s)
}

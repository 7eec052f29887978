package storage

// Flush columns: a flush's frozen rows laid out as the columns of one
// segment per UTC day, reusing the work sealing did.
//
// A frozen memtable's first rows are mostly in sealed chunks already
// (memtable_seal.go): in-memory segments whose string columns carry a
// sorted dictionary and a code per row. The flush reads those columns
// back (decoding a block is far cheaper than hashing its strings again),
// merges the chunks' sorted dictionaries into one per column, and builds
// from the rows only what no chunk holds: the unsealed tail, and a column
// whose type was widened after its chunk was sealed (its values are
// converted from the rows as they arrived, exactly as before, never from
// the chunk's narrower form: int→float→string is not int→string).
//
// INVARIANT: the columns of a day are those buildSegmentColumns gives for
// the day's rows sorted stably by time (splitByDay): the same columns in
// the same order (fixed ones, then properties by first appearance), the
// same values, NULLs, dictionaries and codes, so the segment written is
// the same byte for byte. TestFlushColumnsMatchRows checks this.

import (
	"fmt"
	"slices"
	"time"
)

// flushSource is one frozen memtable and its sealed chunks, captured
// under the project's lock at plan time. The chunks cover
// m's rows [0, sealedRows) in order; chunks sealed later are ignored.
type flushSource struct {
	m          *memtable
	sealed     []*SegmentRef
	sealedRows int
}

func flushSources(frozen []*memtable) []flushSource {
	out := make([]flushSource, len(frozen))
	for i, m := range frozen {
		out[i] = flushSource{m: m, sealedRows: m.sealedRows, sealed: make([]*SegmentRef, len(m.sealed))}
		for j, c := range m.sealed {
			out[i].sealed[j] = c.ref
		}
	}
	return out
}

// flushColumn is one column over all of a flush's rows (the frozen
// memtables' rows one after the other). has[i] is false where row i is
// NULL; exactly one of ints, floats or codes (strings, JSON) is set.
type flushColumn struct {
	name   string
	typ    ColumnType
	has    []bool
	ints   []int64
	floats []float64
	codes  []uint32 // into dict once merged; into the piece's dict before
	dict   []string // sorted
	// pieces: for a string column, the row ranges whose codes index
	// their own dictionary, merged by mergeColumnDicts.
	pieces []dictPiece
	// strs is addRows' buffer of a string column's values (cleared after
	// each call: it keeps no string alive); used marks it taken in a call.
	strs []string
	used bool
}

type dictPiece struct {
	lo, hi int
	dict   []string
}

func newFlushColumn(name string, t ColumnType, n int) *flushColumn {
	c := &flushColumn{name: name, typ: t, has: make([]bool, n)}
	switch t {
	case TypeFloat:
		c.floats = make([]float64, n)
	case TypeString, TypeJSON:
		c.codes = make([]uint32, n)
	default:
		c.ints = make([]int64, n)
	}
	return c
}

func isStringType(t ColumnType) bool { return t == TypeString || t == TypeJSON }

// flushTable is the columns of a flush's rows, in row order.
type flushTable struct {
	events []*Event // row i
	times  []int64
	users  []uint32
	fixed  [3]*flushColumn // event, distinct_id, insert_id
	props  []*flushColumn  // in order of creation
	byName map[string]*flushColumn
	schema map[string]ColumnType
	room   int // a staging table's first capacity (grow)
	// ids is a staging table's distinct_id dictionary, built by user
	// number across batches (stagedIDs); nil in a flush's table.
	ids *stagedIDs
	// scratch is gather's buffer, reused across the days and columns.
	scratch []uint32
}

// buildFlushTable lays the sources' rows out as columns typed by schema.
func buildFlushTable(sources []flushSource, schema []Column) (*flushTable, error) {
	n := 0
	for _, src := range sources {
		n += src.m.len()
	}
	t := &flushTable{events: make([]*Event, n), times: make([]int64, n), users: make([]uint32, n),
		byName: map[string]*flushColumn{}, schema: make(map[string]ColumnType, len(schema))}
	for _, c := range schema {
		t.schema[c.Name] = c.Type
	}
	for i, name := range []string{ColEvent, ColDistinctID, ColInsertID} {
		t.fixed[i] = newFlushColumn(name, TypeString, n)
		t.byName[name] = t.fixed[i]
	}
	base := 0
	for _, src := range sources {
		// Released chunks (memtable.releaseSealedLocked) leave their
		// rows' events nil: sealed chunks hold them.
		i := base
		for k, rows := range src.m.chunks {
			copy(t.times[i:], src.m.times[k])
			copy(t.users[i:], src.m.users[k])
			for j := range rows {
				t.events[i+j] = &rows[j]
			}
			i += len(src.m.times[k])
		}
		lo := 0
		for _, ref := range src.sealed {
			hi := lo + ref.Segment.Rows()
			if hi > src.sealedRows {
				return nil, fmt.Errorf("BUG: sealed chunks cover %d rows, the memtable says %d", hi, src.sealedRows)
			}
			if err := t.addChunk(ref.Segment, base+lo, base+hi); err != nil {
				return nil, err
			}
			lo = hi
		}
		if lo != src.sealedRows {
			return nil, fmt.Errorf("BUG: sealed chunks cover %d rows, the memtable says %d", lo, src.sealedRows)
		}
		if err := t.addRows(base+lo, base+src.m.len(), nil); err != nil {
			return nil, err
		}
		base += src.m.len()
	}
	t.mergeDicts()
	return t, nil
}

// mergeDicts gives every string column one dictionary (mergeDicts).
func (t *flushTable) mergeDicts() {
	if t.ids != nil {
		t.ids.finish(t.fixed[1], t.rows())
	}
	for _, c := range t.fixed {
		c.mergeDicts()
	}
	for _, c := range t.props {
		c.mergeDicts()
	}
}

// newStagingTable is an empty flushTable that appendRows grows: a bulk
// load's rows as columns (bulk.go), so that it holds no row and no
// pointer per row while it stages.
func newStagingTable(room int) *flushTable {
	t := &flushTable{byName: map[string]*flushColumn{}, schema: map[string]ColumnType{}, room: room, ids: &stagedIDs{}}
	for i, name := range []string{ColEvent, ColDistinctID, ColInsertID} {
		t.fixed[i] = newFlushColumn(name, TypeString, 0)
		t.byName[name] = t.fixed[i]
	}
	return t
}

// rows is the number of rows in t.
func (t *flushTable) rows() int { return len(t.times) }

// reset empties a staging table whose segments are written, keeping its
// columns' memory for the next rows: each spill of a load fills about as
// many rows as the last, and fresh slices would cost their page faults
// and zeroing again.
func (t *flushTable) reset() {
	t.events, t.times, t.users = t.events[:0], t.times[:0], t.users[:0]
	if t.ids != nil {
		t.ids.reset()
	}
	for _, c := range append(t.fixed[:], t.props...) {
		c.has, c.pieces, c.dict = c.has[:0], nil, nil
		switch {
		case c.floats != nil:
			c.floats = c.floats[:0]
		case c.codes != nil:
			c.codes = c.codes[:0]
		default:
			c.ints = c.ints[:0]
		}
	}
}

// appendRows adds rows, numbered users, at the end of a staging table.
// schema is the project's after the rows were fitted to it: a column it
// has widened since earlier rows came is converted first, so every
// column holds its schema type. t keeps no reference to rows.
func (t *flushTable) appendRows(rows []Event, users []uint32, schema []Column) error {
	for _, c := range schema {
		t.schema[c.Name] = c.Type
		if col := t.byName[c.Name]; col != nil && col.typ != c.Type {
			if err := col.retype(c.Type); err != nil {
				return err
			}
		}
	}
	lo, hi := len(t.times), len(t.times)+len(rows)
	t.events = growSlice(t.events, hi, t.room)
	t.times = growSlice(t.times, hi, t.room)
	t.users = growSlice(t.users, hi, t.room)
	for i := range rows {
		t.events[lo+i] = &rows[i]
		t.times[lo+i] = rows[i].TimeMillis
	}
	copy(t.users[lo:], users)
	for _, c := range t.fixed {
		c.grow(hi, t.room)
	}
	for _, c := range t.props {
		c.grow(hi, t.room)
	}
	err := t.addRows(lo, hi, nil)
	clear(t.events[lo:hi])
	return err
}

// grow extends c with NULLs to n rows, its slices to at least room rows
// and at least doubling when they must move (append grows large slices
// by a quarter: copying a staging table's columns up that way would cost
// more than all else it does).
func (c *flushColumn) grow(n, room int) {
	c.has = growSlice(c.has, n, room)
	switch {
	case c.floats != nil:
		c.floats = growSlice(c.floats, n, room)
	case c.codes != nil:
		c.codes = growSlice(c.codes, n, room)
	default:
		c.ints = growSlice(c.ints, n, room)
	}
}

// growSlice is s at length n, the new elements zero; when s must move,
// its new capacity is at least room and twice the old.
func growSlice[T any](s []T, n, room int) []T {
	if cap(s) < n {
		s = append(make([]T, 0, max(room, n, 2*cap(s))), s...)
	}
	k := len(s)
	s = s[:n]
	clear(s[k:])
	return s
}

// retype converts c's values to type to, a widening of its type (Widen),
// as fitProps converts a buffered value: each value is the one its row
// would hold had it come after the widening.
func (c *flushColumn) retype(to ColumnType) error {
	if isStringType(c.typ) && isStringType(to) {
		c.typ = to // the same strings
		return nil
	}
	n := len(c.has)
	value := func(i int) Value {
		switch {
		case c.floats != nil:
			return Value{Type: c.typ, Float: c.floats[i]}
		case c.codes != nil:
			return Value{Type: c.typ, Str: c.pieceString(i)}
		}
		return Value{Type: c.typ, Int: c.ints[i]}
	}
	out := &flushColumn{name: c.name, typ: to, has: c.has}
	var strs []string
	var nulls []bool
	switch {
	case to == TypeFloat:
		out.floats = make([]float64, n)
	case isStringType(to):
		out.codes, strs, nulls = make([]uint32, n), make([]string, n), make([]bool, n)
	default:
		out.ints = make([]int64, n)
	}
	for i := range n {
		if !c.has[i] {
			if nulls != nil {
				nulls[i] = true
			}
			continue
		}
		v, ok := value(i).Convert(to)
		if !ok {
			return fmt.Errorf("BUG: %v value of column %q does not convert to its widened type %v", c.typ, c.name, to)
		}
		switch {
		case out.floats != nil:
			out.floats[i] = v.Float
		case out.codes != nil:
			strs[i] = v.Str
		default:
			out.ints[i] = v.Int
		}
	}
	if strs != nil {
		dict, codes := segDictionary(strs, nulls)
		copy(out.codes, codes)
		out.pieces = []dictPiece{{lo: 0, hi: n, dict: dict}}
	}
	*c = *out
	return nil
}

// pieceString is row i's string before mergeDicts: its code in the
// dictionary of the piece holding it.
func (c *flushColumn) pieceString(i int) string {
	for _, p := range c.pieces {
		if i >= p.lo && i < p.hi {
			return p.dict[c.codes[i]]
		}
	}
	return ""
}

// column returns the column named name, creating it with its schema type.
func (t *flushTable) column(name string) (*flushColumn, error) {
	if c := t.byName[name]; c != nil {
		return c, nil
	}
	typ, ok := t.schema[name]
	if !ok {
		return nil, fmt.Errorf("BUG: property %q of a buffered row is not in the schema", name)
	}
	c := newFlushColumn(name, typ, len(t.times))
	t.byName[name] = c
	t.props = append(t.props, c)
	return c, nil
}

// addChunk takes rows [lo, hi) from a sealed chunk: each of its columns
// whose type is the schema's, and the others (widened since) from the
// rows.
func (t *flushTable) addChunk(seg *Segment, lo, hi int) error {
	var fromRows map[string]bool
	for _, sc := range seg.Columns() {
		if sc.Name == ColTime || sc.Name == ColUserNumber {
			continue
		}
		c := t.byName[sc.Name] // a fixed column or a property seen before
		want, ok := t.schema[sc.Name]
		if c != nil {
			want, ok = c.typ, true
		}
		if !ok {
			return fmt.Errorf("BUG: column %q of sealed chunk %s is not in the schema", sc.Name, seg.Name())
		}
		if sc.Type != want {
			if c != nil && slices.Contains(t.fixed[:], c) {
				return fmt.Errorf("BUG: fixed column %q is %v in sealed chunk %s", sc.Name, sc.Type, seg.Name())
			}
			if fromRows == nil {
				fromRows = map[string]bool{}
			}
			fromRows[sc.Name] = true
			continue
		}
		if c == nil {
			var err error
			if c, err = t.column(sc.Name); err != nil {
				return err
			}
		}
		if err := c.readChunk(seg, lo, hi); err != nil {
			return err
		}
	}
	switch {
	case fromRows == nil:
	case t.events[lo] == nil:
		// Released rows: the chunk is exact (its values are the rows'),
		// so its values converted are what the rows would give.
		return t.convertChunk(seg, lo, hi, fromRows)
	default:
		return t.addRows(lo, hi, fromRows)
	}
	return nil
}

// convertChunk fills rows [lo, hi) of the named columns with seg's values
// converted to the columns' types, as addRows does from the rows, for a
// sealed chunk whose rows were released.
func (t *flushTable) convertChunk(seg *Segment, lo, hi int, names map[string]bool) error {
	if seg.Rows() != hi-lo {
		return fmt.Errorf("BUG: sealed chunk %s holds %d rows, not %d", seg.Name(), seg.Rows(), hi-lo)
	}
	for _, sc := range seg.Columns() {
		if !names[sc.Name] {
			continue
		}
		c, err := t.column(sc.Name)
		if err != nil {
			return err
		}
		var dict []string
		if isStringType(sc.Type) {
			if dict, err = seg.readDict(sc.Name); err != nil {
				return err
			}
		}
		var strs []string
		if c.codes != nil {
			strs = make([]string, hi-lo)
		}
		for b := 0; b < seg.NumBlocks(); b++ {
			blk, err := seg.ReadBlock(sc.Name, b)
			if err != nil {
				return err
			}
			first, n := seg.BlockRange(b)
			for i := 0; i < n; i++ {
				if blk.Nulls != nil && blk.Nulls[i] {
					continue
				}
				v := Value{Type: sc.Type}
				switch {
				case blk.Floats != nil:
					v.Float = blk.Floats[i]
				case blk.Codes != nil:
					v.Str = dict[blk.Codes[i]]
				default:
					v.Int = blk.Ints[i]
				}
				cv, ok := v.Convert(c.typ)
				if !ok {
					return fmt.Errorf("BUG: %v value of column %q of sealed chunk %s does not convert to its flush type %v", sc.Type, sc.Name, seg.Name(), c.typ)
				}
				at := lo + first + i
				c.has[at] = true
				switch {
				case c.floats != nil:
					c.floats[at] = cv.Float
				case c.codes != nil:
					strs[at-lo] = cv.Str
				default:
					c.ints[at] = cv.Int
				}
			}
		}
		if c.codes != nil {
			nulls := make([]bool, hi-lo)
			for i := range nulls {
				nulls[i] = !c.has[lo+i]
			}
			c.pieces = append(c.pieces, dictPiece{lo: lo, hi: hi, dict: segDictionaryInto(strs, nulls, c.codes[lo:hi])})
		}
	}
	return nil
}

// readChunk copies the column's values of seg into rows [lo, hi).
func (c *flushColumn) readChunk(seg *Segment, lo, hi int) error {
	if seg.Rows() != hi-lo {
		return fmt.Errorf("BUG: sealed chunk %s holds %d rows, not %d", seg.Name(), seg.Rows(), hi-lo)
	}
	if isStringType(c.typ) {
		dict, err := seg.readDict(c.name)
		if err != nil {
			return err
		}
		c.pieces = append(c.pieces, dictPiece{lo: lo, hi: hi, dict: dict})
	}
	for b := 0; b < seg.NumBlocks(); b++ {
		blk, err := seg.ReadBlock(c.name, b)
		if err != nil {
			return err
		}
		first, n := seg.BlockRange(b)
		at := lo + first
		if blk.Nulls == nil { // the usual block: copied whole
			for i := range c.has[at : at+n] {
				c.has[at+i] = true
			}
			switch {
			case c.floats != nil:
				copy(c.floats[at:at+n], blk.Floats[:n])
			case c.codes != nil:
				copy(c.codes[at:at+n], blk.Codes[:n])
			default:
				copy(c.ints[at:at+n], blk.Ints[:n])
			}
			continue
		}
		for i := 0; i < n; i++ {
			if blk.Nulls[i] {
				continue
			}
			c.has[at+i] = true
			switch {
			case c.floats != nil:
				c.floats[at+i] = blk.Floats[i]
			case c.codes != nil:
				c.codes[at+i] = blk.Codes[i]
			default:
				c.ints[at+i] = blk.Ints[i]
			}
		}
	}
	return nil
}

// addRows fills rows [lo, hi) from the events: the fixed string columns
// and every property, or with only set, just those properties. String
// values get a dictionary of the range (segDictionary).
func (t *flushTable) addRows(lo, hi int, only map[string]bool) error {
	if lo == hi {
		return nil
	}
	// Each string column's values of rows lo..hi-1 gather in its strs
	// (a column no row of the range has is not touched).
	var used []*flushColumn
	strsOf := func(c *flushColumn) []string {
		if !c.used {
			c.used = true
			c.strs = growSlice(c.strs[:0], hi-lo, 0)
			used = append(used, c)
		}
		return c.strs
	}
	defer func() {
		for _, c := range used {
			clear(c.strs)
			c.used = false
		}
	}()
	if only == nil {
		ev, id, ins := strsOf(t.fixed[0]), strsOf(t.fixed[1]), strsOf(t.fixed[2])
		for i := lo; i < hi; i++ {
			e := t.events[i]
			ev[i-lo], id[i-lo], ins[i-lo] = e.Name, e.DistinctID, e.InsertID
			t.fixed[0].has[i], t.fixed[1].has[i], t.fixed[2].has[i] = true, true, true
		}
	}
	// byPos[j] is the column of the last row's j-th property: rows of a
	// batch mostly carry the same properties in the same order, so a
	// string comparison (a pointer's, for keys fitted to one column name)
	// finds the column without a map look-up.
	var byPos []*flushColumn
	for i := lo; i < hi; i++ {
		for j, pr := range t.events[i].Props {
			if only != nil && !only[pr.Key] {
				continue
			}
			if j >= len(byPos) {
				byPos = append(byPos, make([]*flushColumn, j+1-len(byPos))...)
			}
			c := byPos[j]
			if c == nil || pr.Key != c.name {
				var err error
				if c, err = t.column(pr.Key); err != nil {
					return err
				}
				byPos[j] = c
			}
			v := pr.Value
			if v.Type != c.typ { // mostly it has the column's type: no call
				var ok bool
				if v, ok = v.Convert(c.typ); !ok {
					return fmt.Errorf("BUG: %v value of property %q does not convert to its column type %v", pr.Value.Type, pr.Key, c.typ)
				}
			}
			c.has[i] = true
			switch {
			case c.floats != nil:
				c.floats[i] = v.Float
			case c.codes != nil:
				strsOf(c)[i-lo] = v.Str
			default:
				c.ints[i] = v.Int
			}
		}
	}
	var nulls []bool
	for _, c := range used {
		if c == t.fixed[1] && t.ids != nil && t.ids.add(c, lo, hi, t.users[lo:hi]) {
			continue
		}
		if c == t.fixed[1] {
			if dict, ok := segDictionaryByNumberInto(c.strs, t.users[lo:hi], c.codes[lo:hi]); ok {
				c.pieces = append(c.pieces, dictPiece{lo: lo, hi: hi, dict: dict})
				continue
			}
		}
		nulls = growSlice(nulls[:0], hi-lo, 0)
		for i := range nulls {
			nulls[i] = !c.has[lo+i]
		}
		dict := segDictionaryInto(c.strs, nulls, c.codes[lo:hi])
		c.pieces = append(c.pieces, dictPiece{lo: lo, hi: hi, dict: dict})
	}
	return nil
}

// mergeDicts merges the pieces' dictionaries into c.dict and renumbers
// the codes.
func (c *flushColumn) mergeDicts() {
	if c.codes == nil {
		return
	}
	if len(c.pieces) == 1 && c.pieces[0].lo == 0 && c.pieces[0].hi == len(c.codes) {
		c.dict, c.pieces = c.pieces[0].dict, nil // sorted; the codes index it
		return
	}
	dicts := make([][]string, len(c.pieces))
	for i, p := range c.pieces {
		dicts[i] = p.dict
	}
	var remaps [][]uint32
	c.dict, remaps = mergeSortedDicts(dicts)
	for k, p := range c.pieces {
		remap := remaps[k]
		for i := p.lo; i < p.hi; i++ {
			if c.has[i] {
				c.codes[i] = remap[c.codes[i]]
			}
		}
	}
	c.pieces = nil
}

// mergeSortedDicts merges strictly sorted dictionaries into one and
// returns, for each input, the merged code of each of its entries.
func mergeSortedDicts(dicts [][]string) ([]string, [][]uint32) {
	remaps := make([][]uint32, len(dicts))
	total := 0
	for i, d := range dicts {
		remaps[i] = make([]uint32, len(d))
		total += len(d)
	}
	out := make([]string, 0, total)
	// A binary min-heap of the inputs not yet exhausted, by their next
	// entry (ties by input, which does not change the result).
	pos := make([]int, len(dicts))
	heap := make([]int, 0, len(dicts))
	less := func(a, b int) bool {
		x, y := dicts[a][pos[a]], dicts[b][pos[b]]
		return x < y || (x == y && a < b)
	}
	down := func(i int) {
		for {
			l, m := 2*i+1, i
			if l < len(heap) && less(heap[l], heap[m]) {
				m = l
			}
			if r := l + 1; r < len(heap) && less(heap[r], heap[m]) {
				m = r
			}
			if m == i {
				return
			}
			heap[i], heap[m] = heap[m], heap[i]
			i = m
		}
	}
	for i, d := range dicts {
		if len(d) > 0 {
			heap = append(heap, i)
		}
	}
	for i := len(heap)/2 - 1; i >= 0; i-- {
		down(i)
	}
	for len(heap) > 0 {
		d := heap[0]
		s := dicts[d][pos[d]]
		if len(out) == 0 || out[len(out)-1] != s {
			out = append(out, s)
		}
		remaps[d][pos[d]] = uint32(len(out) - 1)
		pos[d]++
		if pos[d] == len(dicts[d]) {
			heap[0] = heap[len(heap)-1]
			heap = heap[:len(heap)-1]
		}
		down(0)
	}
	return out, remaps
}

// flushDay is one UTC day of a flush: its rows' indexes, sorted stably
// by time.
type flushDay struct {
	day  string
	rows []int32
}

// days splits the rows by UTC day and sorts each day's rows stably by
// time, as splitByDay does.
func (t *flushTable) days() []flushDay {
	const dayMillis = 86_400_000
	byDay := map[int64]*flushDay{}
	var lastNum int64
	var last *flushDay
	for i, ms := range t.times {
		num := ms / dayMillis
		if ms%dayMillis < 0 {
			num-- // floor: a time before 1970 belongs to the day before
		}
		if last == nil || num != lastNum {
			last = byDay[num]
			if last == nil {
				last = &flushDay{day: time.UnixMilli(num * dayMillis).UTC().Format(time.DateOnly)}
				byDay[num] = last
			}
			lastNum = num
		}
		last.rows = append(last.rows, int32(i))
	}
	out := make([]flushDay, 0, len(byDay))
	for _, d := range byDay {
		times := t.times
		byTime := func(a, b int32) int {
			if times[a] != times[b] {
				if times[a] < times[b] {
					return -1
				}
				return 1
			}
			return int(a) - int(b) // stable: rows are in ingest order
		}
		if !slices.IsSortedFunc(d.rows, byTime) {
			slices.SortFunc(d.rows, byTime)
		}
		out = append(out, *d)
	}
	slices.SortFunc(out, func(a, b flushDay) int {
		switch {
		case a.day < b.day:
			return -1
		case a.day > b.day:
			return 1
		}
		return 0
	})
	return out
}

// segmentColumns gives the columns of the segment of day d: what
// buildSegmentColumns gives for the day's rows in order.
func (t *flushTable) segmentColumns(d flushDay) []SegmentColumn {
	n := len(d.rows)
	times, users := make([]int64, n), make([]int64, n)
	for k, i := range d.rows {
		times[k], users[k] = t.times[i], int64(t.users[i])
	}
	cols := []SegmentColumn{{Name: ColTime, Type: TypeTime, Ints: times}}
	for _, c := range t.fixed {
		sc, _ := c.gather(d.rows, &t.scratch)
		cols = append(cols, sc)
	}
	cols = append(cols, SegmentColumn{Name: ColUserNumber, Type: TypeInt, Ints: users})
	type prop struct {
		col   SegmentColumn
		first int // position in the day of the first row holding it
		key   int // position of the property in that row's Props
	}
	var props []prop
	for j, c := range t.props {
		sc, first := c.gather(d.rows, &t.scratch)
		if first < 0 {
			continue
		}
		key := j // a staging table keeps no rows: the order columns came in
		if e := t.events[d.rows[first]]; e != nil {
			key = slices.IndexFunc(e.Props, func(p Prop) bool { return p.Key == c.name })
		}
		props = append(props, prop{col: sc, first: first, key: key})
	}
	slices.SortFunc(props, func(a, b prop) int {
		if a.first != b.first {
			return a.first - b.first
		}
		return a.key - b.key
	})
	for _, p := range props {
		cols = append(cols, p.col)
	}
	return cols
}

// gather returns the column's values of rows, in that order, and the
// position of the first non-NULL one (-1 when all are NULL). Nulls is
// nil when none is; a string column comes dictionary-encoded, its
// dictionary cut to the values present.
func (c *flushColumn) gather(rows []int32, scratch *[]uint32) (SegmentColumn, int) {
	n := len(rows)
	sc := SegmentColumn{Name: c.name, Type: c.typ}
	first := -1
	var nulls []bool
	for k, i := range rows {
		if c.has[i] {
			if first < 0 {
				first = k
			}
		} else {
			if nulls == nil {
				nulls = make([]bool, n)
			}
			nulls[k] = true
		}
	}
	if first < 0 {
		return sc, -1
	}
	sc.Nulls = nulls
	switch {
	case c.floats != nil:
		sc.Floats = make([]float64, n)
		for k, i := range rows {
			if c.has[i] {
				sc.Floats[k] = c.floats[i]
			}
		}
	case c.codes != nil:
		// used is 1 + a code's new code, 0 when unused; the buffer is
		// reused, as a table of many days gathers a large dictionary
		// (distinct_id's) once per day.
		if cap(*scratch) < len(c.dict) {
			*scratch = make([]uint32, len(c.dict))
		}
		used := (*scratch)[:len(c.dict)]
		clear(used)
		for _, i := range rows {
			if c.has[i] {
				used[c.codes[i]] = 1
			}
		}
		dict := c.dict
		if slices.Contains(used, 0) { // cut the dictionary to the day's values
			dict = make([]string, 0, len(c.dict))
			for code, u := range used {
				if u != 0 {
					dict = append(dict, c.dict[code])
				}
			}
		}
		next := uint32(0)
		for code, u := range used {
			if u != 0 {
				next++
				used[code] = next
			}
		}
		sc.Dict = dict
		sc.Codes = make([]uint32, n)
		for k, i := range rows {
			if c.has[i] {
				sc.Codes[k] = used[c.codes[i]] - 1
			}
		}
	default:
		sc.Ints = make([]int64, n)
		for k, i := range rows {
			if c.has[i] {
				sc.Ints[k] = c.ints[i]
			}
		}
	}
	return sc, first
}

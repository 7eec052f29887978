package storage

// The streaming merge (planMerge, then mergePlan.write) produces exactly
// the rows, in exactly the order, of the in-memory merge (compaction_merge.go), and the
// same segment bytes, while holding a few blocks per input instead of the
// whole day.
//
// Why a merge streams. Every input is in (user number, time) order, or is
// put in it first: a compaction's output is written so (its meta says
// "order":"user,time"); a flush's segment is in time order and is sorted
// here, in memory, by a permutation of its rows (a flush holds at most
// Options.FlushRows rows, so this is bounded by configuration). The
// in-memory merge sorts by (user, time, input, row); a k-way merge of
// inputs so ordered, popping the least (user, time, input), yields that
// very order. A repeat's dedup key (time, event, distinct_id, insert_id)
// equals its first copy's, and a distinct_id has one user number in every
// segment (the user dictionary numbers an id once; this merge checks it
// and falls back to the in-memory merge if it ever fails), so copies meet
// in one (user, time) group, in input order: dedup is local to a group,
// and the first copy in the group is the first stored.
//
// Pass 1 (planMerge) walks the merge over the key columns and records,
// per row in merged order, which input it is taken from and whether it
// is a repeat (mergeOrder: 1 byte per row for at most 127 inputs, else
// 2). Pass 2 (write) then writes one column at a time through
// segStreamWriter, walking the recorded order over that column's blocks.
//
// Memory bound, besides a few blocks per input per column (one block of
// SegmentBlockRows rows each, decoded):
//   - the merge order, 1 (or 2) bytes per input row;
//   - dictionary-coded columns, one at a time: the inputs' dictionaries,
//     the merged one and its encoded section (the format stores a
//     dictionary as one lz4 section), and 4 bytes per input dictionary
//     entry to renumber codes; in pass 1 the renumbering tables of event,
//     distinct_id and insert_id, and 8 bytes per distinct_id;
//   - inputs not yet in (user, time) order (flushes): 4 bytes per row for
//     the permutation, and one whole column of such an input at a time;
//   - the bitmap index of the column being written (≤ 256 values; at
//     most about 2 bytes per row).
//
// So it grows with distinct values, not with rows × columns: see
// TestCompactionPeakHeap for figures.
//
// The written segment is read back before the manifest names it: every
// column's values, in order, are hashed as they are written and again as
// read from the file, and must agree (a 64-bit hash of the row values,
// NULLs marked: a difference goes unseen with odds of 2⁻⁶⁴).

import (
	"bytes"
	"cmp"
	"container/heap"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"math"
	"slices"
)

// errMergeFallback makes the caller use the in-memory merge: an input's
// rows are not as the streaming merge needs them.
var errMergeFallback = errors.New("streaming merge not possible")

// mergeOrder records, per row in merged order, the input it comes from
// and whether it is a repeat.
type mergeOrder struct {
	narrow []uint8  // at most 127 inputs: input | 0x80 when a repeat
	wide   []uint16 // more: input | 0x8000 when a repeat
}

func (o *mergeOrder) add(in int, dup bool, wide bool) {
	if wide {
		v := uint16(in)
		if dup {
			v |= 0x8000
		}
		o.wide = append(o.wide, v)
		return
	}
	v := uint8(in)
	if dup {
		v |= 0x80
	}
	o.narrow = append(o.narrow, v)
}

func (o *mergeOrder) len() int { return len(o.narrow) + len(o.wide) }

func (o *mergeOrder) at(i int) (in int, dup bool) {
	if o.wide != nil {
		return int(o.wide[i] &^ 0x8000), o.wide[i]&0x8000 != 0
	}
	return int(o.narrow[i] &^ 0x80), o.narrow[i]&0x80 != 0
}

// mergePlan is pass 1's result: everything pass 2 needs to write.
type mergePlan struct {
	name   string // prefixes errors
	inputs []*Segment
	// perms[in] is nil when input in's rows are in (user, time) order,
	// else its rows in that order.
	perms  [][]int32
	cols   []SegmentColumn // names and types only
	order  mergeOrder
	rows   int   // rows out
	inRows []int // rows read per input
	dups   []int // repeats dropped per input
	th     *compactionThrottle
	// hashes[ci] hashes column ci's values as written (checkWritten).
	hashes []uint64
	seed   maphash.Seed
}

// inUserOrder reports whether seg's meta says its rows are in (user,
// time) order (a compaction's output).
func inUserOrder(seg *Segment) bool {
	var meta struct {
		Order string `json:"order"`
	}
	return json.Unmarshal(seg.Meta(), &meta) == nil && meta.Order == "user,time"
}

// planMerge runs pass 1 over inputs. It returns errMergeFallback (wrapped)
// when the inputs are not as the streaming merge needs them.
func planMerge(name string, inputs []*Segment, schema []Column, th *compactionThrottle) (*mergePlan, error) {
	if len(inputs) > 0x7fff {
		return nil, fmt.Errorf("%s: %d inputs: %w", name, len(inputs), errMergeFallback)
	}
	cols, err := mergedColumns(name, inputs, schema)
	if err != nil {
		return nil, err
	}
	p := &mergePlan{name: name, inputs: inputs, cols: cols, th: th, seed: maphash.MakeSeed(),
		perms: make([][]int32, len(inputs)), inRows: make([]int, len(inputs)), dups: make([]int, len(inputs))}
	for in, seg := range inputs {
		if !inUserOrder(seg) {
			if p.perms[in], err = p.userOrder(seg); err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
		}
	}
	if err := p.planOrder(); err != nil {
		return nil, err
	}
	dropped := 0
	for in, seg := range inputs {
		dropped += p.dups[in]
		if p.inRows[in] != seg.Rows() {
			return nil, fmt.Errorf("%s: BUG: read %d rows of %s, its footer counts %d", name, p.inRows[in], seg.Name(), seg.Rows())
		}
	}
	total := p.order.len()
	if p.rows != total-dropped {
		return nil, fmt.Errorf("%s: BUG: %d rows out, want %d rows in − %d duplicates", name, p.rows, total, dropped)
	}
	return p, nil
}

// userOrder returns seg's rows sorted stably by (user, time).
func (p *mergePlan) userOrder(seg *Segment) ([]int32, error) {
	times, err := p.wholeColumn(seg, ColTime)
	if err != nil {
		return nil, err
	}
	users, err := p.wholeColumn(seg, ColUserNumber)
	if err != nil {
		return nil, err
	}
	perm := make([]int32, seg.Rows())
	for i := range perm {
		perm[i] = int32(i)
	}
	t, u := intsOrZero(times, seg.Rows()), intsOrZero(users, seg.Rows())
	slices.SortFunc(perm, func(a, b int32) int {
		if c := cmp.Compare(u[a], u[b]); c != 0 {
			return c
		}
		if c := cmp.Compare(t[a], t[b]); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	return perm, nil
}

// intsOrZero is an int column's values with NULLs as 0 (how the in-memory
// merge gathers a fixed column), or zeros for an absent column.
func intsOrZero(blk *ColumnBlock, rows int) []int64 {
	if blk == nil {
		return make([]int64, rows)
	}
	for i := range blk.Nulls {
		if blk.Nulls[i] {
			blk.Ints[i] = 0
		}
	}
	return blk.Ints
}

// wholeColumn reads all of seg's column as one block (nil if seg has no
// such column).
func (p *mergePlan) wholeColumn(seg *Segment, col string) (*ColumnBlock, error) {
	if !seg.HasColumn(col) {
		return nil, nil
	}
	out := &ColumnBlock{Type: seg.ColumnTypes()[col]}
	var nulls []bool
	for b := 0; b < seg.NumBlocks(); b++ {
		blk, err := p.th.readBlock(seg, col, b)
		if err != nil {
			return nil, err
		}
		if blk.Nulls != nil && nulls == nil {
			nulls = make([]bool, len(out.Ints)+len(out.Floats)+len(out.Codes), seg.Rows())
		}
		if nulls != nil {
			if blk.Nulls != nil {
				nulls = append(nulls, blk.Nulls...)
			} else {
				nulls = append(nulls, make([]bool, len(blk.Ints)+len(blk.Floats)+len(blk.Codes))...)
			}
		}
		out.Ints = append(out.Ints, blk.Ints...)
		out.Floats = append(out.Floats, blk.Floats...)
		out.Codes = append(out.Codes, blk.Codes...)
	}
	out.Nulls = nulls
	return out, nil
}

// columnSource yields one input's values of one column in (user, time)
// order: block by block, or through the input's permutation.
type columnSource struct {
	p       *mergePlan
	seg     *Segment
	col     string
	perm    []int32
	whole   *ColumnBlock // perm != nil: the whole column
	blk     *ColumnBlock
	block   int // next block to read
	i, n    int // next row of blk, rows in blk
	taken   int
	present bool
}

func (p *mergePlan) source(in int, col string) (*columnSource, error) {
	seg := p.inputs[in]
	s := &columnSource{p: p, seg: seg, col: col, perm: p.perms[in], present: seg.HasColumn(col)}
	if s.present && s.perm != nil {
		var err error
		if s.whole, err = p.wholeColumn(seg, col); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// next returns the block holding the input's next row and the row's
// index in it; a nil block when the input lacks the column.
func (s *columnSource) next() (*ColumnBlock, int, error) {
	if s.taken >= s.seg.Rows() {
		return nil, 0, fmt.Errorf("BUG: %s: column %q read past its %d rows", s.seg.Name(), s.col, s.seg.Rows())
	}
	s.taken++
	if !s.present {
		return nil, 0, nil
	}
	if s.perm != nil {
		return s.whole, int(s.perm[s.taken-1]), nil
	}
	if s.i == s.n {
		blk, err := s.p.th.readBlock(s.seg, s.col, s.block)
		if err != nil {
			return nil, 0, err
		}
		_, s.n = s.seg.BlockRange(s.block)
		s.blk, s.i = blk, 0
		s.block++
	}
	s.i++
	return s.blk, s.i - 1, nil
}

// rawDict walks a dictionary section's entries in order without making
// a string of each: a compaction's dictionary can hold a value per row
// (insert_id), and the walk needs the entries only in order.
type rawDict struct {
	seg      *Segment // nil for the [""] dictionary of an absent column
	col      string
	raw      []byte
	next     int    // offset of the next entry
	n, taken int    // entries, entries walked
	cur      []byte // the entry last walked
}

// readRawDict reads seg's dictionary of col, charging its stored bytes.
func (p *mergePlan) readRawDict(seg *Segment, col string) (*rawDict, error) {
	c, ok := seg.cols[col]
	if !ok || c.Dict == nil {
		return nil, fmt.Errorf("%s: column %q has no dictionary", seg.Name(), col)
	}
	if err := p.th.chargeRead(c.Dict.Length); err != nil {
		return nil, err
	}
	raw, err := seg.readSection(c.Dict, fmt.Sprintf("column %q dictionary", col))
	if err != nil {
		return nil, err
	}
	return &rawDict{seg: seg, col: col, raw: raw, n: c.DictLen}, nil
}

// advance walks to the next entry (false past the last), checking the
// section as readDict does: lengths inside it, entries strictly sorted,
// as many as the footer says.
func (d *rawDict) advance() (bool, error) {
	bad := func(why string) error {
		return corruptf(d.seg.Name(), d.seg.cols[d.col].Dict.Offset, "column %q dictionary: %s", d.col, why)
	}
	if d.next == len(d.raw) {
		if d.taken != d.n {
			return false, bad(fmt.Sprintf("%d entries, want %d", d.taken, d.n))
		}
		return false, nil
	}
	l, k := binary.Uvarint(d.raw[d.next:])
	if k <= 0 || l > uint64(len(d.raw)-d.next-k) {
		return false, bad("bad entry length")
	}
	e := d.raw[d.next+k : d.next+k+int(l)]
	if d.taken > 0 && bytes.Compare(d.cur, e) >= 0 {
		return false, bad(fmt.Sprintf("not strictly sorted at entry %d", d.taken))
	}
	d.cur, d.next, d.taken = e, d.next+k+int(l), d.taken+1
	return true, nil
}

// mergedDict is the merge of a column's input dictionaries.
type mergedDict struct {
	raw    []byte     // the merged dictionary's section bytes (when asked for)
	n      int        // its entries
	remaps [][]uint32 // per input, code → merged code (nil: input lacks the column)
	// firstEmpty says entry 0 is "" (insert_id: no key).
	firstEmpty bool
}

// mergedDictionary merges the dictionaries of column c as codedColumn
// does (the same entries and codes, as mergeDicts); ok is false when some
// input stores c with another type (its values are converted instead).
// wantRaw asks for the merged section bytes too.
func (p *mergePlan) mergedDictionary(c *SegmentColumn, nullable, wantRaw bool) (md *mergedDict, ok bool, err error) {
	dicts := make([]*rawDict, len(p.inputs))
	for in, seg := range p.inputs {
		st, has := seg.ColumnTypes()[c.Name]
		switch {
		case has && st != c.Type:
			return nil, false, nil
		case !has && !nullable:
			dicts[in] = &rawDict{raw: []byte{0}, n: 1} // a fixed column reads "" where absent
		case has:
			if dicts[in], err = p.readRawDict(seg, c.Name); err != nil {
				return nil, false, err
			}
		}
	}
	md = &mergedDict{remaps: make([][]uint32, len(dicts))}
	var live []int
	for in, d := range dicts {
		if d == nil {
			continue
		}
		md.remaps[in] = make([]uint32, d.n)
		more, err := d.advance()
		if err != nil {
			return nil, false, err
		}
		if more {
			live = append(live, in)
		}
	}
	if wantRaw {
		size := 0 // the merged section is at most the inputs' together
		for _, d := range dicts {
			if d != nil {
				size += len(d.raw)
			}
		}
		md.raw = make([]byte, 0, size)
	}
	for len(live) > 0 {
		low := live[0]
		for _, in := range live[1:] {
			if bytes.Compare(dicts[in].cur, dicts[low].cur) < 0 {
				low = in
			}
		}
		v := dicts[low].cur
		if md.n == 0 && len(v) == 0 {
			md.firstEmpty = true
		}
		if wantRaw {
			md.raw = binary.AppendUvarint(md.raw, uint64(len(v)))
			md.raw = append(md.raw, v...)
		}
		code := uint32(md.n)
		md.n++
		next := live[:0]
		for _, in := range live {
			d := dicts[in]
			if bytes.Equal(d.cur, v) {
				md.remaps[in][d.taken-1] = code
				more, err := d.advance()
				if err != nil {
					return nil, false, err
				}
				if !more {
					continue
				}
			}
			next = append(next, in)
		}
		live = next
	}
	return md, true, nil
}

// mergeHead is an input's next row in pass 1.
type mergeHead struct {
	in         int
	user, time int64
	key        [3]uint32 // merged codes of event, distinct_id, insert_id
	src        [5]*columnSource
	prevUser   int64
	prevTime   int64
}

type mergeHeap []*mergeHead

func (h mergeHeap) Len() int { return len(h) }
func (h mergeHeap) Less(a, b int) bool {
	x, y := h[a], h[b]
	if x.user != y.user {
		return x.user < y.user
	}
	if x.time != y.time {
		return x.time < y.time
	}
	return x.in < y.in
}
func (h mergeHeap) Swap(a, b int) { h[a], h[b] = h[b], h[a] }
func (h *mergeHeap) Push(x any)   { *h = append(*h, x.(*mergeHead)) }
func (h *mergeHeap) Pop() any     { old := *h; x := old[len(old)-1]; *h = old[:len(old)-1]; return x }

// planOrder walks the k-way merge over the key columns, dedups within
// each (user, time) group and records the order.
func (p *mergePlan) planOrder() error {
	keyCols := [3]string{ColEvent, ColDistinctID, ColInsertID}
	var remaps [3][][]uint32
	noInsert := -1 // merged code of "", if insert_id's dictionary has it
	idCount := 0
	for k, col := range keyCols {
		c := SegmentColumn{Name: col, Type: TypeString}
		md, ok, err := p.mergedDictionary(&c, false, false)
		if err != nil {
			return fmt.Errorf("%s: %w", p.name, err)
		}
		if !ok {
			return fmt.Errorf("%s: key column %q is not a string column in every input: %w", p.name, col, errMergeFallback)
		}
		remaps[k] = md.remaps
		if col == ColInsertID && md.firstEmpty {
			noInsert = 0
		}
		if col == ColDistinctID {
			idCount = md.n
		}
	}
	// userOf[id] is the user number of merged distinct_id code id (-1:
	// not seen yet): dedup within (user, time) groups needs it to be a
	// function.
	userOf := make([]int64, idCount)
	for i := range userOf {
		userOf[i] = -1
	}
	wide := len(p.inputs) > 127
	h := make(mergeHeap, 0, len(p.inputs))
	for in, seg := range p.inputs {
		if seg.Rows() == 0 {
			continue
		}
		head := &mergeHead{in: in, prevUser: math.MinInt64}
		for k, col := range [5]string{ColTime, ColUserNumber, ColEvent, ColDistinctID, ColInsertID} {
			var err error
			if head.src[k], err = p.source(in, col); err != nil {
				return fmt.Errorf("%s: %w", p.name, err)
			}
		}
		if err := p.advance(head, &remaps); err != nil {
			return err
		}
		h = append(h, head)
	}
	heap.Init(&h)
	type dedupKey struct {
		event, id, insert uint32
	}
	seen := map[dedupKey]struct{}{}
	groupUser, groupTime, inGroup := int64(0), int64(0), false
	for h.Len() > 0 {
		head := h[0]
		in := head.in
		if id := head.key[1]; userOf[id] == -1 {
			userOf[id] = head.user
		} else if userOf[id] != head.user {
			return fmt.Errorf("%s: a distinct_id has user numbers %d and %d: %w", p.name, userOf[id], head.user, errMergeFallback)
		}
		if !inGroup || head.user != groupUser || head.time != groupTime {
			if len(seen) > 64 {
				seen = map[dedupKey]struct{}{}
			} else {
				clear(seen)
			}
			groupUser, groupTime, inGroup = head.user, head.time, true
		}
		dup := false
		if int(head.key[2]) != noInsert {
			k := dedupKey{head.key[0], head.key[1], head.key[2]}
			if _, dup = seen[k]; !dup {
				seen[k] = struct{}{}
			}
		}
		p.order.add(in, dup, wide)
		p.inRows[in]++
		if dup {
			p.dups[in]++
		} else {
			p.rows++
		}
		if p.inRows[in] == p.inputs[in].Rows() {
			heap.Pop(&h)
			continue
		}
		if err := p.advance(head, &remaps); err != nil {
			return err
		}
		heap.Fix(&h, 0)
	}
	return nil
}

// advance loads head's input's next row.
func (p *mergePlan) advance(head *mergeHead, remaps *[3][][]uint32) error {
	var vals [5]int64
	for k, src := range head.src {
		blk, i, err := src.next()
		if err != nil {
			return fmt.Errorf("%s: %w", p.name, err)
		}
		null := blk == nil || (blk.Nulls != nil && blk.Nulls[i])
		switch {
		case k < 2 && !null:
			vals[k] = blk.Ints[i]
		case k >= 2 && blk == nil:
			vals[k] = int64(remaps[k-2][head.in][0]) // the [""] dictionary
		case k >= 2 && !null:
			vals[k] = int64(remaps[k-2][head.in][blk.Codes[i]])
		}
	}
	head.time, head.user = vals[0], vals[1]
	head.key = [3]uint32{uint32(vals[2]), uint32(vals[3]), uint32(vals[4])}
	if head.user < head.prevUser || (head.user == head.prevUser && head.time < head.prevTime) {
		return fmt.Errorf("%s: %s is not in (user, time) order at its row %d: %w",
			p.name, p.inputs[head.in].Name(), head.src[0].taken-1, errMergeFallback)
	}
	head.prevUser, head.prevTime = head.user, head.time
	return nil
}

// walk calls fn with every kept row of column col in merged order: the
// input, and the block and index holding the row (nil block: the input
// lacks the column).
func (p *mergePlan) walk(col string, fn func(in int, blk *ColumnBlock, i int) error) error {
	srcs := make([]*columnSource, len(p.inputs))
	for in := range p.inputs {
		var err error
		if srcs[in], err = p.source(in, col); err != nil {
			return err
		}
	}
	for r, n := 0, p.order.len(); r < n; r++ {
		in, dup := p.order.at(r)
		blk, i, err := srcs[in].next()
		if err != nil {
			return err
		}
		if dup {
			continue
		}
		if err := fn(in, blk, i); err != nil {
			return err
		}
	}
	return nil
}

// write writes the merged rows to w (the segment's meta given) and
// returns the bytes written.
func (p *mergePlan) write(w io.Writer, meta []byte) (int64, error) {
	sw := newSegStreamWriter(w, meta, p.rows)
	p.hashes = make([]uint64, len(p.cols))
	for ci := range p.cols {
		if err := p.writeColumn(sw, ci); err != nil {
			return 0, fmt.Errorf("%s: column %q: %w", p.name, p.cols[ci].Name, err)
		}
	}
	return sw.finish()
}

func (p *mergePlan) writeColumn(sw *segStreamWriter, ci int) error {
	c := &p.cols[ci]
	nullable := ci >= len(fixedSegmentColumns)
	var h maphash.Hash
	h.SetSeed(p.seed)
	defer func() { p.hashes[ci] = h.Sum64() }()
	if c.Type == TypeString || c.Type == TypeJSON {
		md, ok, err := p.mergedDictionary(c, nullable, true)
		if err != nil {
			return err
		}
		if !ok {
			return p.writeConvertedStrings(sw, c, nullable, &h)
		}
		return p.writeCoded(sw, c, nullable, md, &h)
	}
	if err := sw.beginColumn(c.Name, c.Type, nullable, nil); err != nil {
		return err
	}
	err := p.walk(c.Name, func(in int, blk *ColumnBlock, i int) error {
		v, null, err := p.valueAt(c, in, blk, i, nil) // no string converts to a number
		if err != nil {
			return err
		}
		if c.Type == TypeFloat {
			hashRow(&h, math.Float64bits(v.Float), null)
			sw.appendFloat(v.Float, null)
		} else {
			hashRow(&h, uint64(v.Int), null)
			sw.appendInt(v.Int, null)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return sw.endColumn()
}

// writeCoded writes a dictionary-coded column: codes renumbered into the
// merged dictionary, less entries only dropped repeats held.
func (p *mergePlan) writeCoded(sw *segStreamWriter, c *SegmentColumn, nullable bool, md *mergedDict, h *maphash.Hash) error {
	code := func(in int, blk *ColumnBlock, i int) (uint32, bool) {
		if blk == nil {
			if nullable {
				return 0, true
			}
			return md.remaps[in][0], false
		}
		if blk.Nulls != nil && blk.Nulls[i] {
			return 0, true
		}
		return md.remaps[in][blk.Codes[i]], false
	}
	// A dropped repeat may have held a property's last use of a value
	// (its event, distinct_id and insert_id are its first copy's); and an
	// input may hold a dictionary entry none of its rows use (an empty
	// input's). Either way the entries no row uses are dropped, as the
	// in-memory merge does (dropUnusedEntries).
	var renum []uint32
	emptyInput := slices.ContainsFunc(p.inputs, func(seg *Segment) bool { return seg.Rows() == 0 })
	if (p.rows < p.order.len() && nullable) || md.n > p.rows || emptyInput {
		used := make([]bool, md.n)
		err := p.walk(c.Name, func(in int, blk *ColumnBlock, i int) error {
			if cd, null := code(in, blk, i); !null {
				used[cd] = true
			}
			return nil
		})
		if err != nil {
			return err
		}
		if slices.Contains(used, false) {
			renum = make([]uint32, md.n)
			kept, n, raw := []byte{}, 0, md.raw
			for cd, u := range used {
				l, k := binary.Uvarint(raw)
				if u {
					renum[cd] = uint32(n)
					kept = append(kept, raw[:k+int(l)]...)
					n++
				}
				raw = raw[k+int(l):]
			}
			md.raw, md.n = kept, n
		}
	}
	if err := sw.beginColumnRaw(c.Name, c.Type, nullable, md.raw, md.n); err != nil {
		return err
	}
	h.Write(md.raw)
	md.raw = nil // written: only the codes are needed now
	err := p.walk(c.Name, func(in int, blk *ColumnBlock, i int) error {
		cd, null := code(in, blk, i)
		if !null && renum != nil {
			cd = renum[cd]
		}
		hashRow(h, uint64(cd), null)
		sw.appendCode(cd, null)
		return nil
	})
	if err != nil {
		return err
	}
	return sw.endColumn()
}

// writeConvertedStrings writes a string column some input stores with
// another type: values are converted, and the dictionary is built from
// them first (a widening to string is rare: its memory is the distinct
// values).
func (p *mergePlan) writeConvertedStrings(sw *segStreamWriter, c *SegmentColumn, nullable bool, h *maphash.Hash) error {
	dicts := make([][]string, len(p.inputs))
	for in, seg := range p.inputs {
		if st, has := seg.ColumnTypes()[c.Name]; has && (st == TypeString || st == TypeJSON) {
			var err error
			if dicts[in], err = p.th.readDict(seg, c.Name); err != nil {
				return err
			}
		}
	}
	index := map[string]uint32{}
	err := p.walk(c.Name, func(in int, blk *ColumnBlock, i int) error {
		v, null, err := p.valueAt(c, in, blk, i, dicts[in])
		if err == nil && !null {
			index[v.Str] = 0
		}
		return err
	})
	if err != nil {
		return err
	}
	dict := make([]string, 0, len(index))
	for v := range index {
		dict = append(dict, v)
	}
	slices.Sort(dict)
	raw := []byte{}
	for cd, v := range dict {
		index[v] = uint32(cd)
		raw = binary.AppendUvarint(raw, uint64(len(v)))
		raw = append(raw, v...)
	}
	if err := sw.beginColumnRaw(c.Name, c.Type, nullable, raw, len(dict)); err != nil {
		return err
	}
	h.Write(raw)
	err = p.walk(c.Name, func(in int, blk *ColumnBlock, i int) error {
		v, null, err := p.valueAt(c, in, blk, i, dicts[in])
		if err != nil {
			return err
		}
		cd := uint32(0)
		if !null {
			cd = index[v.Str]
		}
		hashRow(h, uint64(cd), null)
		sw.appendCode(cd, null)
		return nil
	})
	if err != nil {
		return err
	}
	return sw.endColumn()
}

// valueAt is input in's value of column c in row i of blk, converted to
// c.Type (dict: the input's dictionary, for a string column).
func (p *mergePlan) valueAt(c *SegmentColumn, in int, blk *ColumnBlock, i int, dict []string) (Value, bool, error) {
	if blk == nil || (blk.Nulls != nil && blk.Nulls[i]) {
		return Value{Type: c.Type}, true, nil
	}
	v := Value{Type: blk.Type}
	switch blk.Type {
	case TypeFloat:
		v.Float = blk.Floats[i]
	case TypeString, TypeJSON:
		if dict == nil {
			return v, false, fmt.Errorf("%s: column %q: BUG: a %v value to convert to %v without its dictionary",
				p.inputs[in].Name(), c.Name, blk.Type, c.Type)
		}
		v.Str = dict[blk.Codes[i]]
	default:
		v.Int = blk.Ints[i]
	}
	if blk.Type != c.Type {
		cv, ok := v.Convert(c.Type)
		if !ok {
			return v, false, fmt.Errorf("%s: column %q: %v value %s does not convert to %v",
				p.inputs[in].Name(), c.Name, blk.Type, v.Text(), c.Type)
		}
		v = cv
	}
	return v, false, nil
}

// hashRow adds a row to a column's read-back hash: NULL, or its value's
// bits (ints and times, float bits, dictionary codes; a string column
// hashes its dictionary's section bytes first, so codes stand for values).
func hashRow(h *maphash.Hash, bits uint64, null bool) {
	if null {
		h.WriteByte(0)
		return
	}
	var b [9]byte
	b[0] = 1
	binary.LittleEndian.PutUint64(b[1:], bits)
	h.Write(b[:])
}

// checkWritten reads every column of the written segment back, charging
// the reads, and compares each column's hash with the one written.
func (p *mergePlan) checkWritten(seg *Segment) error {
	if seg.Rows() != p.rows {
		return fmt.Errorf("%s holds %d rows, wrote %d", seg.Name(), seg.Rows(), p.rows)
	}
	for ci := range p.cols {
		c := &p.cols[ci]
		st, ok := seg.ColumnTypes()[c.Name]
		if !ok || st != c.Type {
			return fmt.Errorf("%s: column %q: stored as %v (present %v), wrote %v", seg.Name(), c.Name, st, ok, c.Type)
		}
		var h maphash.Hash
		h.SetSeed(p.seed)
		if st == TypeString || st == TypeJSON {
			d, err := p.readRawDict(seg, c.Name)
			if err != nil {
				return err
			}
			h.Write(d.raw)
		}
		for b := 0; b < seg.NumBlocks(); b++ {
			blk, err := p.th.readBlock(seg, c.Name, b)
			if err != nil {
				return err
			}
			_, n := seg.BlockRange(b)
			for i := 0; i < n; i++ {
				null := blk.Nulls != nil && blk.Nulls[i]
				switch st {
				case TypeFloat:
					hashRow(&h, math.Float64bits(blk.Floats[i]), null)
				case TypeString, TypeJSON:
					hashRow(&h, uint64(blk.Codes[i]), null)
				default:
					hashRow(&h, uint64(blk.Ints[i]), null)
				}
			}
		}
		if h.Sum64() != p.hashes[ci] {
			return fmt.Errorf("%s: column %q reads back different from what was written", seg.Name(), c.Name)
		}
	}
	return nil
}

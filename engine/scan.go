package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/RoaringBitmap/roaring/v2"

	"arb/storage"
)

// ColProperties is the virtual output column holding all of a row's
// properties as one JSON object.
const ColProperties = "properties"

// Scan reads rows of one project snapshot: the chosen columns of the rows
// for which Filter is TRUE. Each part (a segment, or a batch of buffered
// rows) is read independently; the snapshot does not change underneath.
//
// Segments are read block by block. Before a block is decoded, the
// filter is tested against the block's zone maps and, for equality, IN
// and prefix tests on dictionary columns, against the bitmap of matching
// rows; a block that cannot hold a matching row is skipped. Only the
// columns the filter and the outputs need are decoded.
type Scan struct {
	Snap *storage.Snapshot
	// Columns are the outputs, in order: fixed column names, ColProperties,
	// or property names (a name the schema lacks is always NULL).
	Columns []string
	Filter  Predicate // nil: every row

	// extraPreds are predicates evaluated besides Filter (aggregate
	// conditions): their columns must be readable too.
	extraPreds []Predicate

	prepOnce sync.Once
	prepErr  error
	outs     []colRef
	preds    map[string]colRef
	cohorts  map[string]*roaring.Bitmap // canonical users by InCohort key (cohort.go)
	// cohortBits: the same users as bits, for cohorts given by
	// RestrictUsers.
	cohortBits map[string][]uint64

	blocksRead, blocksSkipped atomic.Int64
}

// ScanStats counts the blocks a scan decoded and skipped.
type ScanStats struct{ BlocksRead, BlocksSkipped int64 }

func (s *Scan) Stats() ScanStats {
	return ScanStats{BlocksRead: s.blocksRead.Load(), BlocksSkipped: s.blocksSkipped.Load()}
}

// Parts is the number of independent parts: one per segment, then one
// per batch of buffered rows.
func (s *Scan) Parts() int { return len(s.Snap.Segments) + len(s.Snap.Mem) }

// RowIter yields rows. Each row is a fresh slice the caller may keep.
type RowIter interface {
	Next() ([]storage.Value, error) // io.EOF after the last row
	Close() error
}

type colKind uint8

const (
	kindUnknown colKind = iota
	kindTime
	kindEvent
	kindDistinctID // canonical (identity-resolved) distinct_id
	kindRawDistinctID
	kindInsertID
	kindProperties
	kindProp
	kindCohort // TRUE when the row's canonical user is in a cohort
)

// colRef is a column resolved against the snapshot's schema.
type colRef struct {
	kind   colKind
	name   string             // storage name (segment column, property key)
	typ    storage.ColumnType // current type
	cohort string             // kindCohort: the cohort's key
}

func (s *Scan) resolve(name string) colRef {
	if name == storage.ColUserNumber { // internal: aggregations read users by number
		return colRef{kind: kindProp, name: storage.ColUserNumber, typ: storage.TypeInt}
	}
	if key, ok := strings.CutPrefix(name, cohortColumnPrefix); ok {
		return colRef{kind: kindCohort, name: storage.ColUserNumber, typ: storage.TypeBool, cohort: key}
	}
	switch strings.ToLower(name) {
	case storage.ColTime:
		return colRef{kind: kindTime, name: storage.ColTime, typ: storage.TypeTime}
	case storage.ColEvent:
		return colRef{kind: kindEvent, name: storage.ColEvent, typ: storage.TypeString}
	case storage.ColDistinctID:
		if s.Snap.Canon.Merged() {
			// Resolved per row from the user number: the stored strings,
			// their dictionary and bitmaps speak of raw ids, so exact()
			// is false (the stored type is Int) and nothing is pruned.
			return colRef{kind: kindDistinctID, name: storage.ColUserNumber, typ: storage.TypeString}
		}
		return colRef{kind: kindDistinctID, name: storage.ColDistinctID, typ: storage.TypeString}
	case storage.ColRawDistinctID:
		return colRef{kind: kindRawDistinctID, name: storage.ColDistinctID, typ: storage.TypeString}
	case storage.ColInsertID:
		return colRef{kind: kindInsertID, name: storage.ColInsertID, typ: storage.TypeString}
	case ColProperties:
		return colRef{kind: kindProperties}
	}
	for _, c := range s.Snap.Columns {
		if strings.EqualFold(c.Name, name) {
			return colRef{kind: kindProp, name: c.Name, typ: c.Type}
		}
	}
	return colRef{kind: kindUnknown}
}

// prepare resolves the scan's columns and computes its cohorts, once.
func (s *Scan) prepare(ctx context.Context) error {
	s.prepOnce.Do(func() {
		s.outs = make([]colRef, len(s.Columns))
		for i, c := range s.Columns {
			s.outs[i] = s.resolve(c)
		}
		s.preds = map[string]colRef{}
		names := map[string]bool{}
		if s.Filter != nil {
			columnsOf(s.Filter, names)
		}
		for _, p := range s.extraPreds {
			columnsOf(p, names)
		}
		for n := range names {
			s.preds[n] = s.resolve(n)
		}
		s.prepErr = s.computeCohorts(ctx)
	})
	return s.prepErr
}

func (s *Scan) outRefs() []colRef           { return s.outs }
func (s *Scan) predRefs() map[string]colRef { return s.preds }

// PartRows iterates part i.
func (s *Scan) PartRows(ctx context.Context, part int) (RowIter, error) {
	if part < 0 || part >= s.Parts() {
		return nil, fmt.Errorf("scan: no part %d of %d", part, s.Parts())
	}
	if err := s.prepare(ctx); err != nil {
		return nil, err
	}
	out, preds := s.outs, s.preds
	if part < len(s.Snap.Segments) {
		return newSegmentIter(ctx, s, s.Snap.Segments[part].Segment, out, preds)
	}
	mem := s.Snap.Mem[part-len(s.Snap.Segments)]
	return &memIter{scan: s, ctx: ctx, rows: mem.Rows, users: mem.Users, out: out, preds: preds}, nil
}

// convert turns a stored value into its column's current type. Widening
// is lossless by the schema's rules; text is the last resort.
func convert(v storage.Value, t storage.ColumnType) storage.Value {
	if out, ok := v.Convert(t); ok {
		return out
	}
	return storage.StringValue(v.Text())
}

// propertiesJSON renders a row's properties as one JSON object, in schema
// order; get returns a property's current value.
func propertiesJSON(schema []storage.Column, get func(c storage.Column) storage.Value) storage.Value {
	var b strings.Builder
	b.WriteByte('{')
	first := true
	for _, c := range schema {
		v := get(c)
		if v.IsNull() {
			continue
		}
		if !first {
			b.WriteByte(',')
		}
		first = false
		k, _ := json.Marshal(c.Name)
		val, _ := v.MarshalJSON()
		b.Write(k)
		b.WriteByte(':')
		b.Write(val)
	}
	b.WriteByte('}')
	return storage.JSONValue(b.String())
}

// memIter scans buffered rows.
type memIter struct {
	scan  *Scan
	ctx   context.Context
	rows  []storage.Event
	users []uint32
	out   []colRef
	preds map[string]colRef
	pos   int
}

// canonicalID is the canonical distinct_id of user number u.
func (s *Scan) canonicalID(u uint32) storage.Value {
	c := s.Snap.Canon.Of(u)
	if int(c) >= s.Snap.UserIDs.Len() {
		panic(fmt.Sprintf("BUG: canonical user %d of %d beyond the snapshot's %d users", c, u, s.Snap.UserIDs.Len()))
	}
	return storage.StringValue(s.Snap.UserIDs.ID(c))
}

func (it *memIter) value(e *storage.Event, i int, ref colRef) storage.Value {
	if ref.kind == kindDistinctID && ref.name == storage.ColUserNumber {
		return it.scan.canonicalID(it.users[i])
	}
	if ref.kind == kindCohort {
		return it.scan.inCohort(ref.cohort, it.users[i])
	}
	return memValue(e, ref)
}

func memValue(e *storage.Event, ref colRef) storage.Value {
	switch ref.kind {
	case kindTime:
		return storage.TimeValue(e.TimeMillis)
	case kindEvent:
		return storage.StringValue(e.Name)
	case kindDistinctID, kindRawDistinctID:
		return storage.StringValue(e.DistinctID)
	case kindInsertID:
		return storage.StringValue(e.InsertID)
	case kindProp:
		for _, p := range e.Props {
			if p.Key == ref.name {
				return convert(p.Value, ref.typ)
			}
		}
	}
	return storage.Value{}
}

func (it *memIter) Next() ([]storage.Value, error) {
	for ; it.pos < len(it.rows); it.pos++ {
		if it.pos%4096 == 0 {
			if err := it.ctx.Err(); err != nil {
				return nil, err
			}
		}
		e, i := &it.rows[it.pos], it.pos
		if it.scan.Filter != nil && eval(it.scan.Filter, func(col string) storage.Value { return it.value(e, i, it.preds[col]) }) != tTrue {
			continue
		}
		it.pos++
		row := make([]storage.Value, len(it.out))
		for i, ref := range it.out {
			if ref.kind == kindProperties {
				row[i] = propertiesJSON(it.scan.Snap.Columns, func(c storage.Column) storage.Value {
					return memValue(e, colRef{kind: kindProp, name: c.Name, typ: c.Type})
				})
			} else {
				row[i] = it.value(e, it.pos-1, ref)
			}
		}
		return row, nil
	}
	return nil, io.EOF
}

func (it *memIter) Close() error { return nil }

// segmentIter scans one segment block by block.
type segmentIter struct {
	scan   *Scan
	ctx    context.Context
	seg    *storage.Segment
	out    []colRef
	preds  map[string]colRef
	stored map[string]storage.ColumnType // the segment's columns and their stored types (shared, read-only)
	need   []string                      // segment columns to decode per block

	block   int
	loaded  int                             // the loaded block's number
	first   int                             // first row of the loaded block
	n       int                             // rows in the loaded block
	blocks  map[string]*storage.ColumnBlock // the loaded block's columns (shared, read-only)
	dicts   map[string][]string
	hits    []int32 // rows of the loaded block to emit, relative to first
	allHits bool    // every row of the loaded block is a hit (hits unused)
	pos     int

	exactCache map[string]exactResult // bitmap answers by predicate text
	codeTri    [][]tri                // compileRows's per-leaf code tables, reused per block
	userIDs    []userIDEntry          // scan_batch.go's cache of resolved ids
}

func newSegmentIter(ctx context.Context, s *Scan, seg *storage.Segment, out []colRef, preds map[string]colRef) (*segmentIter, error) {
	it := &segmentIter{scan: s, ctx: ctx, seg: seg, out: out, preds: preds,
		stored: seg.ColumnTypes(), dicts: map[string][]string{}}
	need := map[string]bool{}
	add := func(ref colRef) {
		switch ref.kind {
		case kindUnknown:
		case kindProperties:
			for _, c := range s.Snap.Columns {
				if _, ok := it.stored[c.Name]; ok {
					need[c.Name] = true
				}
			}
		case kindDistinctID, kindRawDistinctID:
			// Aggregations key and count users by number.
			if _, ok := it.stored[storage.ColUserNumber]; ok {
				need[storage.ColUserNumber] = true
			}
			fallthrough
		default:
			if _, ok := it.stored[ref.name]; ok {
				need[ref.name] = true
			}
		}
	}
	for _, ref := range out {
		add(ref)
	}
	for _, ref := range preds {
		add(ref)
	}
	for n := range need {
		it.need = append(it.need, n)
		if t := it.stored[n]; t == storage.TypeString || t == storage.TypeJSON {
			d, err := seg.Dict(n)
			if err != nil {
				return nil, err
			}
			it.dicts[n] = d
		}
	}
	sort.Strings(it.need)
	return it, nil
}

// exact reports whether ref is stored in this segment with its current
// type, so that zone maps, dictionaries and bitmaps speak its language.
func (it *segmentIter) exact(ref colRef) bool {
	t, ok := it.stored[ref.name]
	return ok && t == ref.typ && ref.kind != kindProperties && ref.kind != kindUnknown
}

// missing reports whether ref is NULL in every row of the segment.
func (it *segmentIter) missing(ref colRef) bool {
	if ref.kind == kindUnknown {
		return true
	}
	_, ok := it.stored[ref.name]
	return !ok
}

// codeRange returns the dictionary codes [lo, hi) of the strings s with
// lit op s true for a range op, or equal for OpEQ.
func codeBounds(dict []string, lit string) (lb, ub int) {
	lb = sort.SearchStrings(dict, lit)
	ub = lb
	if ub < len(dict) && dict[ub] == lit {
		ub++
	}
	return lb, ub
}

// candidates computes the rows that may satisfy p from bitmap indexes;
// ok is false where no index helps.
//
// The bitmap may be the segment's own index bitmap: callers must not
// modify it.
func (it *segmentIter) candidates(p Predicate) (*roaring.Bitmap, bool, error) {
	switch p := p.(type) {
	case And:
		var acc *roaring.Bitmap
		for _, t := range p.Terms {
			bm, ok, err := it.candidates(t)
			if err != nil {
				return nil, false, err
			}
			if ok {
				if acc == nil {
					acc = bm.Clone()
				} else {
					acc.And(bm)
				}
			}
		}
		return acc, acc != nil, nil
	case Or:
		acc := roaring.New()
		for _, t := range p.Terms {
			bm, ok, err := it.candidates(t)
			if err != nil || !ok {
				return nil, false, err
			}
			acc.Or(bm)
		}
		return acc, true, nil
	case Compare:
		if p.Op == OpEQ {
			return it.codeBitmap(p.Column, []storage.Value{p.Value})
		}
	case In:
		return it.codeBitmap(p.Column, p.Values)
	case Prefix:
		ref := it.preds[p.Column]
		if it.missing(ref) {
			return roaring.New(), true, nil
		}
		dict, ok := it.dicts[ref.name]
		if !it.exact(ref) || !ok {
			return nil, false, nil
		}
		lo := sort.SearchStrings(dict, p.Prefix)
		hi := lo
		for hi < len(dict) && strings.HasPrefix(dict[hi], p.Prefix) && hi-lo <= 256 {
			hi++
		}
		if hi-lo > 256 {
			return nil, false, nil
		}
		var vals []storage.Value
		for c := lo; c < hi; c++ {
			vals = append(vals, storage.StringValue(dict[c]))
		}
		if len(vals) == 0 {
			return roaring.New(), true, nil
		}
		return it.codeBitmap(p.Column, vals)
	}
	return nil, false, nil
}

// codeBitmap is the union of the bitmaps of values on a string column.
func (it *segmentIter) codeBitmap(col string, values []storage.Value) (*roaring.Bitmap, bool, error) {
	ref := it.preds[col]
	if it.missing(ref) {
		return roaring.New(), true, nil // NULL equals nothing
	}
	dict, ok := it.dicts[ref.name]
	if !it.exact(ref) || !ok {
		return nil, false, nil
	}
	if len(values) == 1 && isText(values[0].Type) {
		// One value: its bitmap as it is (shared: callers never modify
		// what candidates returns).
		lb, ub := codeBounds(dict, values[0].Str)
		if lb == ub {
			return roaring.New(), true, nil
		}
		return it.seg.ValueBitmap(ref.name, uint32(lb))
	}
	acc := roaring.New()
	for _, v := range values {
		if !isText(v.Type) {
			return nil, false, nil
		}
		lb, ub := codeBounds(dict, v.Str)
		if lb == ub {
			continue
		}
		bm, ok, err := it.seg.ValueBitmap(ref.name, uint32(lb))
		if err != nil || !ok {
			return nil, false, err
		}
		acc.Or(bm)
	}
	return acc, true, nil
}

// mayMatch tests p against block b's zone maps: false only when no row of
// the block can make p TRUE.
func (it *segmentIter) mayMatch(p Predicate, b int) (bool, error) {
	switch p := p.(type) {
	case And:
		for _, t := range p.Terms {
			if ok, err := it.mayMatch(t, b); !ok || err != nil {
				return false, err
			}
		}
		return true, nil
	case Or:
		for _, t := range p.Terms {
			if ok, err := it.mayMatch(t, b); ok || err != nil {
				return true, err
			}
		}
		return false, nil
	case IsNull:
		ref := it.preds[p.Column]
		if it.missing(ref) {
			return true, nil
		}
		z, err := it.seg.ZoneMap(ref.name, b)
		return z.HasNull, err
	case Compare:
		return it.rangeMayMatch(p.Column, b, func(lo, hi storage.Value, dict []string) bool {
			return zoneCompare(p.Op, p.Value, lo, hi, dict)
		})
	case In:
		return it.rangeMayMatch(p.Column, b, func(lo, hi storage.Value, dict []string) bool {
			for _, v := range p.Values {
				if zoneCompare(OpEQ, v, lo, hi, dict) {
					return true
				}
			}
			return false
		})
	case Prefix:
		return it.rangeMayMatch(p.Column, b, func(lo, hi storage.Value, dict []string) bool {
			if dict == nil {
				return true
			}
			// Strings with the prefix hold the contiguous codes [first, end).
			first := sort.SearchStrings(dict, p.Prefix)
			end := first + sort.Search(len(dict)-first, func(k int) bool { return !strings.HasPrefix(dict[first+k], p.Prefix) })
			return first < end && first <= int(hi.Int) && end-1 >= int(lo.Int)
		})
	}
	return true, nil // NOT and anything else: no pruning
}

// rangeMayMatch prunes a comparison-like predicate on col: a column
// missing from the segment or all NULL in the block never compares TRUE.
func (it *segmentIter) rangeMayMatch(col string, b int, test func(lo, hi storage.Value, dict []string) bool) (bool, error) {
	ref := it.preds[col]
	if it.missing(ref) {
		return false, nil
	}
	if !it.exact(ref) {
		return true, nil
	}
	z, err := it.seg.ZoneMap(ref.name, b)
	if err != nil || z.AllNull {
		return false, err
	}
	return test(z.Min, z.Max, it.dicts[ref.name]), nil
}

// zoneCompare reports whether some value in [lo, hi] may satisfy
// value op lit. For strings lo and hi are dictionary codes.
func zoneCompare(op CompareOp, lit, lo, hi storage.Value, dict []string) bool {
	if dict != nil {
		if !isText(lit.Type) {
			return true
		}
		lb, ub := codeBounds(dict, lit.Str)
		min, max := int(lo.Int), int(hi.Int)
		switch op {
		case OpEQ:
			return lb < ub && lb >= min && lb <= max
		case OpNE:
			return !(min == max && lb < ub && lb == min)
		case OpLT:
			return min < lb
		case OpLE:
			return min < ub
		case OpGT:
			return max >= ub
		case OpGE:
			return max >= lb
		}
		return true
	}
	cLo, okLo := compareValues(lo, lit)
	cHi, okHi := compareValues(hi, lit)
	if !okLo || !okHi {
		return true
	}
	switch op {
	case OpEQ:
		return cLo <= 0 && cHi >= 0
	case OpNE:
		return !(cLo == 0 && cHi == 0)
	case OpLT:
		return cLo < 0
	case OpLE:
		return cLo <= 0
	case OpGT:
		return cHi > 0
	case OpGE:
		return cHi >= 0
	}
	return true
}

// loadBlock finds the next block with matching rows, decodes the columns
// the scan needs and fills hits (nil with allHits: every row); false at
// the end of the segment.
func (it *segmentIter) loadBlock() (bool, error) {
	for ; it.block < it.seg.NumBlocks(); it.block++ {
		if err := it.ctx.Err(); err != nil {
			return false, err
		}
		plan, err := it.blockPlan(it.block)
		if err != nil {
			return false, err
		}
		if plan.skip {
			it.scan.blocksSkipped.Add(1)
			continue
		}
		it.scan.blocksRead.Add(1)
		if err := it.decode(it.block); err != nil {
			return false, err
		}
		it.loaded, it.first, it.n, it.pos = it.block, plan.first, plan.n, 0
		it.hits, it.allHits = it.matchRows(&plan)
		if it.allHits || len(it.hits) > 0 {
			it.block++ // the loop's own increment is skipped by the return
			return true, nil
		}
	}
	return false, nil
}

// decode loads block b of every column the iterator needs.
func (it *segmentIter) decode(b int) error {
	if it.blocks == nil {
		it.blocks = make(map[string]*storage.ColumnBlock, len(it.need))
	}
	for _, name := range it.need {
		blk, err := it.seg.Block(name, b)
		if err != nil {
			return err
		}
		it.blocks[name] = blk
	}
	return nil
}

// hitCount is the number of rows to emit from the loaded block.
func (it *segmentIter) hitCount() int {
	if it.allHits {
		return it.n
	}
	return len(it.hits)
}

// value reads row i of the loaded block, converted to ref's current type.
func (it *segmentIter) value(ref colRef, i int) storage.Value {
	if it.missing(ref) {
		return storage.Value{}
	}
	blk := it.blocks[ref.name]
	if blk == nil {
		return storage.Value{}
	}
	return it.blockValue(ref, blk, it.dicts[ref.name], i)
}

func (it *segmentIter) Next() ([]storage.Value, error) {
	for it.pos >= it.hitCount() {
		ok, err := it.loadBlock()
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, io.EOF
		}
	}
	i := it.pos
	if !it.allHits {
		i = int(it.hits[it.pos])
	}
	it.pos++
	row := make([]storage.Value, len(it.out))
	for k, ref := range it.out {
		if ref.kind == kindProperties {
			row[k] = propertiesJSON(it.scan.Snap.Columns, func(c storage.Column) storage.Value {
				return it.value(colRef{kind: kindProp, name: c.Name, typ: c.Type}, i)
			})
		} else {
			row[k] = it.value(ref, i)
		}
	}
	return row, nil
}

func (it *segmentIter) Close() error { return nil }

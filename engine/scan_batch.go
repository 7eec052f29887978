package engine

import (
	"context"
	"fmt"
	"io"

	"arb/storage"
)

// ColumnBatch is matching rows of one part of a scan, column by column:
// a block of a segment, or a chunk of buffered rows. It is the columnar
// form of what RowIter hands out row by row, for callers that work on
// batches (package native's plan).
type ColumnBatch struct {
	N    int
	Cols []BatchColumn // in Scan.Columns order
}

// BatchColumn is one output column of a ColumnBatch: N values of the
// column's current type. Exactly one slice holds them: Ints (Bool, Int,
// Time in milliseconds), Floats (Float) or Strs (String, JSON); Type is
// TypeNull, with no slice, when every row is NULL. Nulls marks NULL rows
// (nil: none), whose slot holds a zero value. The caller may keep the
// slices but never write them: a block read whole shares its slices
// (Nulls, Ints, Floats, Codes) with the block cache and other scans.
//
// Users, on a distinct_id column (identity-resolved, not the raw one),
// holds each row's canonical user number beside its string when the part
// stores user numbers (nil otherwise: then only Strs).
// INVARIANT: for every non-NULL row k, Strs[k] is
// Snap.UserIDs.ID(Users[k]). Storage numbers each distinct_id once
// (valid UTF-8, compared by its bytes), so two rows' numbers are equal
// exactly when their strings are; a number's id never changes for the
// life of the project's user dictionary (storage.UserIDs.SameNumbering).
//
// Codes and Dict, on a String or JSON column read from a segment as
// stored, are the block's dictionary codes beside Strs (nil otherwise:
// buffered rows, widened values, resolved ids).
// INVARIANT: Codes != nil only with Dict != nil and len(Codes) == N; for
// every non-NULL row k, Codes[k] < len(Dict) and Strs[k] == Dict[Codes[k]]
// (Strs is nil instead for a column BatchOptions.CodesOnly names).
// Dict is the segment's dictionary of the column (one slice per
// segment and column while the block cache keeps it): equal codes under
// one Dict are equal strings, and a dictionary holds each string once,
// so different codes under one Dict are different strings. Both slices
// may be shared with the block cache and other batches: read-only.
type BatchColumn struct {
	Type   storage.ColumnType
	Nulls  []bool
	Ints   []int64
	Floats []float64
	Strs   []string
	Users  []uint32
	Codes  []uint32
	Dict   []string
	// Micros: Ints of this Time column are microseconds since the
	// epoch, not milliseconds (BatchOptions.TimeMicros).
	Micros bool
	// Bounded: Lo and Hi are the smallest and largest of Ints (a Time
	// column in microseconds without NULLs, measured while converting),
	// so that a consumer proving something of every value (a time range
	// holds, all rows lie in one day) need not pass over them again.
	// INVARIANT: Bounded only with Micros, Nulls == nil and len(Ints) > 0,
	// and then Lo <= Ints[k] <= Hi for every k.
	Bounded bool
	Lo, Hi  int64
}

// batchRows caps a ColumnBatch of buffered rows.
const batchRows = 4096

// BatchOptions tune what PartBatchesWith hands out.
type BatchOptions struct {
	// CodesOnly, per Scan.Columns (nil: none), names the string columns
	// whose strings the caller never reads from a batch that carries
	// their codes: those come with Codes and Dict and Strs nil (the one
	// exception to Strs holding a string column's values). A distinct_id
	// column always has its strings.
	CodesOnly []bool
	// TimeMicros asks for Time columns in microseconds (native's unit:
	// one pass over the values instead of two) where that is cheap:
	// BatchColumn.Micros says which columns have them.
	TimeMicros bool
}

// PartBatches calls fn with part's matching rows, a batch at a time, in
// the order PartRows yields them.
func (s *Scan) PartBatches(ctx context.Context, part int, fn func(*ColumnBatch) error) error {
	return s.PartBatchesWith(ctx, part, BatchOptions{}, fn)
}

// PartBatchesWith is PartBatches with options.
func (s *Scan) PartBatchesWith(ctx context.Context, part int, opts BatchOptions, fn func(*ColumnBatch) error) error {
	if part < 0 || part >= s.Parts() {
		return fmt.Errorf("scan: no part %d of %d", part, s.Parts())
	}
	if err := s.prepare(ctx); err != nil {
		return err
	}
	if part < len(s.Snap.Segments) {
		seg := s.Snap.Segments[part].Segment
		if ok, err := timeMayMatch(seg, s.Filter); err != nil || !ok {
			s.blocksSkipped.Add(int64(seg.NumBlocks()))
			return err
		}
		it, err := newSegmentIter(ctx, s, seg, s.outs, s.preds)
		if err != nil {
			return err
		}
		for {
			ok, err := it.loadBlock()
			if err != nil || !ok {
				return err
			}
			if err := fn(it.columnBatch(opts)); err != nil {
				return err
			}
		}
	}
	mem := s.Snap.Mem[part-len(s.Snap.Segments)]
	it := &memIter{scan: s, ctx: ctx, rows: mem.Rows, users: mem.Users, out: s.outs, preds: s.preds}
	b := newBatchBuilder(s.outs, batchRows)
	for {
		row, err := it.Next()
		if err == io.EOF {
			if b.n > 0 {
				return fn(b.batch())
			}
			return nil
		}
		if err != nil {
			return err
		}
		b.appendRow(row)
		if it.users != nil {
			b.appendUser(s.Snap.Canon.Of(it.users[it.pos-1]))
		}
		if b.n == batchRows {
			if err := fn(b.batch()); err != nil {
				return err
			}
			b = newBatchBuilder(s.outs, batchRows)
		}
	}
}

// columnBatch is the loaded block's hits as a ColumnBatch.
func (it *segmentIter) columnBatch(opts BatchOptions) *ColumnBatch {
	n := it.hitCount()
	row := func(k int) int {
		if it.allHits {
			return k
		}
		return int(it.hits[k])
	}
	cb := &ColumnBatch{N: n, Cols: make([]BatchColumn, len(it.out))}
	for j, ref := range it.out {
		col := &cb.Cols[j]
		blk := it.blocks[ref.name]
		// distinct_id read as stored (no identity merged: ref.name is
		// the stored string column) is a dictionary column like any
		// other; resolved ids (ref.name is the user numbers, stored as
		// integers) never are.
		direct := ref.kind != kindProperties && ref.kind != kindCohort &&
			!it.missing(ref) && blk != nil && it.stored[ref.name] == ref.typ
		switch {
		case it.missing(ref) && ref.kind != kindProperties:
			col.Type = storage.TypeNull
		case ref.kind == kindDistinctID && ref.name == storage.ColUserNumber && blk != nil:
			// Resolved ids: canonical user by number, its id through a
			// small cache (users repeat within a part; a lookup in the
			// users file's chunks costs far more than this).
			col.Type = storage.TypeString
			col.Strs = make([]string, n)
			col.Users = make([]uint32, n)
			for k := range n {
				i := row(k)
				if blk.Nulls != nil && blk.Nulls[i] {
					if col.Nulls == nil {
						col.Nulls = make([]bool, n)
					}
					col.Nulls[k] = true
					continue
				}
				u := it.scan.Snap.Canon.Of(uint32(blk.Ints[i]))
				col.Users[k] = u
				col.Strs[k] = it.userID(u)
			}
		case direct:
			col.Type = ref.typ
			if blk.Nulls != nil {
				col.Nulls = hitValues(blk.Nulls, n, it.allHits, it.hits)
			}
			// A block whose rows are all NULL may have no value slice.
			switch ref.typ {
			case storage.TypeString, storage.TypeJSON:
				dict := it.dicts[ref.name]
				codesOnly := j < len(opts.CodesOnly) && opts.CodesOnly[j] && ref.kind != kindDistinctID
				if blk.Codes != nil {
					col.Codes, col.Dict = blockCodes(blk.Codes, n, it.allHits, it.hits), dict
				}
				if !codesOnly || col.Codes == nil {
					col.Strs = make([]string, n)
					if col.Codes != nil {
						fillStrings(col.Strs, col.Codes, col.Nulls, dict)
					}
				}
				if ref.kind == kindDistinctID {
					// Unmerged ids: the stored string is the user's own.
					col.Users = it.rowUsers(n, row, col.Nulls)
				}
			case storage.TypeFloat:
				if blk.Floats != nil {
					col.Floats = hitValues(blk.Floats, n, it.allHits, it.hits)
				} else {
					col.Floats = make([]float64, n)
				}
			case storage.TypeTime:
				switch {
				case blk.Ints == nil:
					col.Ints = make([]int64, n)
				case opts.TimeMicros && it.allHits && it.microsBlock(ref.name, col, n):
					// The block's cached microsecond view, shared.
				case opts.TimeMicros:
					col.Ints, col.Micros = make([]int64, n), true
					col.Lo, col.Hi, col.Bounded = millisToMicros(col.Ints, blk.Ints, it.allHits, it.hits)
					col.Bounded = col.Bounded && col.Nulls == nil
				default:
					col.Ints = hitValues(blk.Ints, n, it.allHits, it.hits)
				}
			default:
				if blk.Ints != nil {
					col.Ints = hitValues(blk.Ints, n, it.allHits, it.hits)
				} else {
					col.Ints = make([]int64, n)
				}
			}
		default:
			// Resolved ids, cohorts, properties and values widened since
			// the segment was written: value by value.
			bb := batchBuilder{outs: it.out[j : j+1], cols: cb.Cols[j : j+1]}
			bb.init(n)
			for k := range n {
				i := row(k)
				var v storage.Value
				if ref.kind == kindProperties {
					v = propertiesJSON(it.scan.Snap.Columns, func(c storage.Column) storage.Value {
						return it.value(colRef{kind: kindProp, name: c.Name, typ: c.Type}, i)
					})
				} else {
					v = it.value(ref, i)
				}
				bb.appendValue(0, v)
			}
			if ref.kind == kindDistinctID && !it.missing(ref) {
				col.Users = it.rowUsers(n, row, col.Nulls)
			}
		}
	}
	it.pos = n // the block is consumed
	return cb
}

// microsBlock gives col, time column name of the loaded block whose n
// rows are all hits, the block's cached microseconds (storage's
// TimeMicrosBlock) and their range; false when the segment cannot (the
// caller converts the block's milliseconds itself).
func (it *segmentIter) microsBlock(name string, col *BatchColumn, n int) bool {
	mb, err := it.seg.TimeMicrosBlock(name, it.loaded)
	if err != nil || len(mb.Micros) != n {
		return false
	}
	col.Ints, col.Micros = mb.Micros[:n:n], true
	col.Lo, col.Hi, col.Bounded = mb.Lo, mb.Hi, !mb.HasNulls && n > 0 && col.Nulls == nil
	return true
}

// hitValues is a block slice's values at its n hits: the block's own
// slice (capacity cut to n) when every row is a hit, else a new one.
// millisToMicros writes the n = len(dst) hits of src (milliseconds: src
// itself when allHits, else src at hits) to dst as microseconds, and
// returns their smallest and largest (ok false when n is 0). One loop
// per case without a call per row: every scan of time runs it.
func millisToMicros(dst, src []int64, allHits bool, hits []int32) (lo, hi int64, ok bool) {
	n := len(dst)
	if n == 0 {
		return 0, 0, false
	}
	if allHits {
		src = src[:n]
		lo, hi = src[0], src[0]
		for k, v := range src {
			lo, hi = min(lo, v), max(hi, v)
			dst[k] = v * 1000
		}
	} else {
		hits = hits[:n]
		lo, hi = src[hits[0]], src[hits[0]]
		for k, r := range hits {
			v := src[r]
			lo, hi = min(lo, v), max(hi, v)
			dst[k] = v * 1000
		}
	}
	return lo * 1000, hi * 1000, true
}

func hitValues[T any](vals []T, n int, allHits bool, hits []int32) []T {
	if allHits {
		return vals[:n:n]
	}
	out := make([]T, n)
	for k, r := range hits[:n] {
		out[k] = vals[r]
	}
	return out
}

// blockCodes is the codes of a block's n hits: the block's own slice
// when every row is a hit (blocks are shared and read-only, as Codes
// are), else the hit rows' codes.
func blockCodes(codes []uint32, n int, allHits bool, hits []int32) []uint32 {
	if allHits {
		return codes[:n:n]
	}
	out := make([]uint32, n)
	for k, r := range hits[:n] {
		out[k] = codes[r]
	}
	return out
}

// fillStrings sets strs[k] to dict[codes[k]] for the rows that are not
// NULL (a NULL row's code need not index dict). One tight loop per
// case: this runs for every string cell the scan hands out.
func fillStrings(strs []string, codes []uint32, nulls []bool, dict []string) {
	codes = codes[:len(strs)]
	if nulls == nil {
		for k, c := range codes {
			strs[k] = dict[c]
		}
		return
	}
	nulls = nulls[:len(strs)]
	for k, c := range codes {
		if !nulls[k] {
			strs[k] = dict[c]
		}
	}
}

// rowUsers is the user numbers of the n hits (row(k) the block row of
// hit k), nil when the block has no user numbers or they do not line up
// with nulls (a row with an id has a number).
func (it *segmentIter) rowUsers(n int, row func(int) int, nulls []bool) []uint32 {
	blk := it.blocks[storage.ColUserNumber]
	if blk == nil || blk.Ints == nil {
		return nil
	}
	users := make([]uint32, n)
	for k := range n {
		i := row(k)
		if nulls != nil && nulls[k] {
			continue
		}
		if blk.Nulls != nil && blk.Nulls[i] {
			return nil
		}
		users[k] = uint32(blk.Ints[i])
	}
	return users
}

// batchBuilder appends rows of storage values into BatchColumns.
type batchBuilder struct {
	outs []colRef
	cols []BatchColumn
	n    int
}

func newBatchBuilder(outs []colRef, capacity int) *batchBuilder {
	b := &batchBuilder{outs: outs, cols: make([]BatchColumn, len(outs))}
	b.init(capacity)
	return b
}

// init types each column by its ref (properties are JSON text).
func (b *batchBuilder) init(capacity int) {
	for j, ref := range b.outs {
		c := &b.cols[j]
		c.Type = ref.typ
		switch {
		case ref.kind == kindProperties:
			c.Type = storage.TypeJSON
			c.Strs = make([]string, 0, capacity)
		case ref.kind == kindUnknown:
			c.Type = storage.TypeNull
		case ref.typ == storage.TypeFloat:
			c.Floats = make([]float64, 0, capacity)
		case ref.typ == storage.TypeString || ref.typ == storage.TypeJSON:
			c.Strs = make([]string, 0, capacity)
		default:
			c.Ints = make([]int64, 0, capacity)
		}
	}
}

func (b *batchBuilder) appendRow(row []storage.Value) {
	for j, v := range row {
		b.appendValue(j, v)
	}
	b.n++
}

// appendValue appends v, of column j's type or NULL (the scan converts
// values to their column's current type before they get here).
func (b *batchBuilder) appendValue(j int, v storage.Value) {
	c := &b.cols[j]
	if c.Type == storage.TypeNull {
		return
	}
	null := v.IsNull()
	switch {
	case c.Floats != nil || c.Type == storage.TypeFloat:
		c.Floats = append(c.Floats, v.Float)
	case c.Strs != nil || c.Type == storage.TypeString || c.Type == storage.TypeJSON:
		c.Strs = append(c.Strs, v.Str)
	default:
		c.Ints = append(c.Ints, v.Int)
	}
	n := len(c.Floats) + len(c.Strs) + len(c.Ints)
	if null && c.Nulls == nil {
		c.Nulls = make([]bool, n-1, cap(c.Floats)+cap(c.Strs)+cap(c.Ints))
	}
	if c.Nulls != nil {
		c.Nulls = append(c.Nulls, null)
	}
}

// appendUser records u, the canonical user of the row just appended, in
// its distinct_id columns.
func (b *batchBuilder) appendUser(u uint32) {
	for j, ref := range b.outs {
		if ref.kind != kindDistinctID {
			continue
		}
		c := &b.cols[j]
		if c.Users == nil {
			c.Users = make([]uint32, b.n-1, cap(c.Strs))
		}
		c.Users = append(c.Users, u)
	}
}

func (b *batchBuilder) batch() *ColumnBatch {
	return &ColumnBatch{N: b.n, Cols: b.cols}
}

// userIDCacheSize is the number of user ids a segment iterator keeps
// (direct-mapped by user number).
const userIDCacheSize = 4096

type userIDEntry struct {
	u  uint32
	ok bool
	id string
}

// userID is user u's distinct_id, through the iterator's cache.
func (it *segmentIter) userID(u uint32) string {
	if it.userIDs == nil {
		it.userIDs = make([]userIDEntry, userIDCacheSize)
	}
	e := &it.userIDs[u%userIDCacheSize]
	if !e.ok || e.u != u {
		if int(u) >= it.scan.Snap.UserIDs.Len() {
			panic(fmt.Sprintf("BUG: canonical user %d beyond the snapshot's %d users", u, it.scan.Snap.UserIDs.Len()))
		}
		*e = userIDEntry{u: u, ok: true, id: it.scan.Snap.UserIDs.ID(u)}
	}
	return e.id
}

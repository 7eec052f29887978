package engine

import (
	"context"
	"fmt"

	"github.com/RoaringBitmap/roaring/v2"

	"arb/storage"
)

// aggWorker runs parts of an Aggregation into its own group table.
// It is used by one goroutine at a time.
type aggWorker struct {
	run    *aggRun
	groups groupTable
	states []aggState // per Agg
	part   int        // the part being run

	buckets []map[int64]uint64 // per key with a bucket function: bucket → key id
	// codeIDs maps a vec's dictionary codes to intern ids, and codeGids
	// to group ids (single-key groupings); reset per segment
	// (dictionaries are per segment) and per buffered batch.
	codeIDs  map[*string][]uint32
	codeGids map[*string][]int32
	// tuple is codeTupleGroups' table for the dictionaries of the last
	// batch it grouped (see there).
	tuple     codeTuple
	bucketTbl bucketTable // bucketDense's

	gids     []int32
	inBuf    []int32 // groupByBitmaps: a block's filtered rows
	selBuf   []int32 // groupByBitmaps: a block's rows with a value
	keyBuf   []groupKey
	userBufs userBufs
	masks    []uint32 // per row of the batch: conditions met

	// chargedBytes is what the worker's state holds charged to the
	// query's MemoryBudget (account).
	chargedBytes int64
}

// sizedState is an aggState whose per-group contents grow beyond a fixed
// slot (distinct sets, funnel events): sizeBytes estimates them, and
// mergedBytes counts what merging src's groups in added (mergeFrom calls
// it once per merged worker).
type sizedState interface {
	sizeBytes() int64
	mergedBytes(src aggState)
}

// account charges the growth of the worker's state since the last call
// to the query's budget. Called once per batch: cheap next to the batch.
func (w *aggWorker) account() error {
	if w.run.budget == nil {
		return nil
	}
	// What is allocated: the keys slice (its capacity), a map entry per
	// group not in the dense index, the dense index and user-number
	// slices, and each state's slots.
	groups := int64(w.groups.len())
	est := w.groups.keyBytes() + int64(w.groups.mapped())*groupMapBytes +
		int64(len(w.groups.dense))*4 + int64(cap(w.tuple.gids)+cap(w.bucketTbl.gids))*4
	for _, st := range w.states {
		est += groups * stateSlotBytesOf(st)
		if s, ok := st.(sizedState); ok {
			est += s.sizeBytes()
		}
	}
	d := est - w.chargedBytes
	w.chargedBytes = est
	if err := w.run.budget.Grow(d, w.run.what); err != nil {
		return err
	}
	return w.run.chargeIntern()
}

func newAggWorker(r *aggRun) *aggWorker {
	w := &aggWorker{run: r, groups: newGroupTable(len(r.keyRefs))}
	for i, g := range r.a.Aggs {
		if ki := r.keyOfAny(i); ki >= 0 {
			w.states = append(w.states, &keyAnyState{w: w, key: ki, ref: r.aggRefs[i]})
			continue
		}
		w.states = append(w.states, newAggState(g, r.aggRefs[i]))
	}
	w.buckets = make([]map[int64]uint64, len(r.keyRefs))
	for i := range w.buckets {
		w.buckets[i] = map[int64]uint64{}
	}
	return w
}

func (w *aggWorker) growStates() {
	for _, st := range w.states {
		st.grow(w.groups.len())
	}
}

// keyOfAny returns the key whose column aggregate i (an AggAny) shows,
// or -1: then every row of a group holds the key's value, and it is read
// off the key instead of being tracked per row. Not for floats (the key
// folds -0 into 0) nor buckets.
func (r *aggRun) keyOfAny(i int) int {
	if r.a.Aggs[i].Kind != AggAny {
		return -1
	}
	ref := r.aggRefs[i]
	for ki, kr := range r.keyRefs {
		if kr == ref && r.a.Keys[ki].BucketMillis == 0 && ref.typ != storage.TypeFloat && ref.kind != kindUnknown {
			return ki
		}
	}
	return -1
}

// keyAnyState is AggAny of a group key's own column: the value is the
// key's, read off the merged group table at the end.
type keyAnyState struct {
	w   *aggWorker
	key int
	ref colRef
}

func (s *keyAnyState) slotBytes() int64                              { return 0 } // read off the key
func (s *keyAnyState) grow(int)                                      {}
func (s *keyAnyState) add(*aggWorker, *batch, []int32, colRef) error { return nil }
func (s *keyAnyState) merge(int32, aggState, int32)                  {}

func (s *keyAnyState) result(g int32) storage.Value {
	k := s.w.groups.key(g)
	if k.nulls&(1<<s.key) != 0 {
		return storage.Value{}
	}
	v := k.k[s.key]
	switch {
	case s.ref.kind == kindDistinctID || s.ref.kind == kindRawDistinctID:
		return storage.StringValue(s.w.run.scan.Snap.UserIDs.ID(uint32(v)))
	case isText(s.ref.typ):
		return storage.Value{Type: s.ref.typ, Str: s.w.run.intern.str(uint32(v))}
	}
	return storage.Value{Type: s.ref.typ, Int: int64(v)}
}

// batch is the matching rows of one block or buffered chunk, with their
// columns: sel lists the rows (relative), nil when all n rows match.
type batch struct {
	n    int
	sel  []int32
	vecs []batchVec // vecs built so far (see column)
	// vec returns a column of the batch, over all n rows.
	vec func(ref colRef) (*vec, error)
	// mark sets bit in masks[r] for each row r of the batch where p is
	// TRUE (only the selected rows need be right).
	mark func(p Predicate, bit uint32, masks []uint32) error
}

type batchVec struct {
	ref colRef
	v   *vec
}

// column is b.vec, built once per batch and column.
func (b *batch) column(ref colRef) (*vec, error) {
	for _, bv := range b.vecs {
		if bv.ref == ref {
			return bv.v, nil
		}
	}
	v, err := b.vec(ref)
	if err == nil {
		b.vecs = append(b.vecs, batchVec{ref, v})
	}
	return v, err
}

func (b *batch) count() int {
	if b.sel == nil {
		return b.n
	}
	return len(b.sel)
}

func (b *batch) row(i int) int {
	if b.sel == nil {
		return i
	}
	return int(b.sel[i])
}

func (w *aggWorker) runPart(ctx context.Context, part int) error {
	w.part = part
	clear(w.codeIDs)
	clear(w.codeGids)
	s := w.run.scan
	if part < len(s.Snap.Segments) {
		return w.runSegment(ctx, s.Snap.Segments[part].Segment)
	}
	return w.runMem(ctx, s.Snap.Mem[part-len(s.Snap.Segments)])
}

func (w *aggWorker) runSegment(ctx context.Context, seg *storage.Segment) error {
	s := w.run.scan
	if ok, err := timeMayMatch(seg, s.Filter); err != nil || !ok {
		s.blocksSkipped.Add(int64(seg.NumBlocks()))
		return err
	}
	it, err := newSegmentIter(ctx, s, seg, s.outRefs(), s.predRefs())
	if err != nil {
		return err
	}
	if done, err := w.groupByBitmaps(it); done || err != nil {
		return err
	}
	if w.countOnly() && s.Filter != nil { // (no filter: Run counted the parts)
		// count(*) of the segment, when bitmaps or zone maps know it.
		bm, zt, ok, err := it.segmentRows(s.Filter)
		switch {
		case err != nil:
			return err
		case ok && zt == zoneAll:
			w.addCount(seg.Rows())
			return nil
		case ok && zt == zoneSome:
			w.addCount(int(bm.GetCardinality()))
			return nil
		case ok:
			return nil
		}
	}
	for b := 0; b < seg.NumBlocks(); b++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		plan, err := it.blockPlan(b)
		if err != nil {
			return err
		}
		if plan.skip {
			s.blocksSkipped.Add(1)
			continue
		}
		s.blocksRead.Add(1)
		if w.countOnly() && plan.residual == nil {
			// count(*) without keys: no column is needed.
			n := plan.n
			if !plan.all {
				n = plan.exactCount
			}
			w.addCount(n)
			continue
		}
		if err := it.decode(b); err != nil {
			return err
		}
		it.first, it.n = plan.first, plan.n
		rows, all := it.matchRows(&plan)
		if !all && len(rows) == 0 {
			continue
		}
		bt := &batch{n: plan.n}
		if !all {
			bt.sel = rows
		}
		bt.vec = func(ref colRef) (*vec, error) { return segmentVec(it, ref, &w.userBufs) }
		bt.mark = func(p Predicate, bit uint32, masks []uint32) error { return it.markRows(p, b, bit, masks) }
		if err := w.add(bt); err != nil {
			return fmt.Errorf("%s: block %d: %w", seg.Name(), b, err)
		}
	}
	return nil
}

// groupByBitmaps runs a grouping by one dictionary column from the
// segment's bitmap index: each value's group exists, and its count(*) is
// known, from the value's bitmap cardinality (within the filter's rows,
// when the bitmaps answer the filter exactly). Aggregates over one other
// column (sum, avg, min, max, count of it) then only visit the rows where
// that column is not NULL — for a sparse property such as a purchase
// amount, a few percent of the rows. done is false when the shape does
// not allow it.
func (w *aggWorker) groupByBitmaps(it *segmentIter) (done bool, err error) {
	a := w.run.a
	if len(a.Keys) != 1 || a.Keys[0].BucketMillis != 0 {
		return false, nil
	}
	ref := w.run.keyRefs[0]
	var sparse *colRef
	isBitmapAgg := make([]bool, len(a.Aggs))
	for i, g := range a.Aggs {
		switch {
		case g.Kind == AggCount && g.Column == "", g.Kind == AggAny && w.run.aggRefs[i] == ref:
			isBitmapAgg[i] = true
		case g.Kind == AggCount, g.Kind == AggSum, g.Kind == AggAvg, g.Kind == AggMin, g.Kind == AggMax:
			r := w.run.aggRefs[i]
			if (sparse != nil && *sparse != r) || r.kind == kindDistinctID || r.kind == kindRawDistinctID {
				return false, nil
			}
			sparse = &r
		default:
			return false, nil
		}
	}
	dict, ok := it.dicts[ref.name]
	if !ok || !it.exact(ref) || ref.kind == kindDistinctID || ref.kind == kindRawDistinctID {
		return false, nil
	}
	seg := it.seg
	total := uint64(seg.Rows())
	var rows *roaring.Bitmap
	if a.Filter != nil {
		bm, zt, ok, err := it.segmentRows(a.Filter)
		switch {
		case err != nil || !ok:
			return false, err
		case zt == zoneNone:
			w.run.scan.blocksSkipped.Add(int64(seg.NumBlocks()))
			return true, nil
		case zt == zoneSome:
			rows, total = bm, bm.GetCardinality()
		}
	}
	if _, ok, err := seg.ValueBitmap(ref.name, 0); err != nil || !ok {
		return false, err
	}
	var counted uint64
	// count(*) takes the bitmap counts; AggAny of the key is read off
	// the key (keyAnyState), so it needs nothing here.
	add := func(g int32, n uint64) {
		w.growStates()
		for j, st := range w.states {
			if st, ok := st.(*countState); ok && isBitmapAgg[j] {
				st.n[g] += int64(n)
			}
		}
	}
	counts, err := w.valueCounts(it, ref, dict, rows)
	if err != nil {
		return false, err
	}
	for c, n := range counts {
		if n == 0 {
			continue
		}
		counted += n
		g := w.groups.lookup(groupKey{k: [maxGroupKeys]uint64{uint64(w.run.intern.id(dict[c]))}})
		add(g, n)
	}
	if counted < total {
		add(w.groups.lookup(groupKey{nulls: 1}), total-counted)
	}
	if err := w.account(); err != nil {
		return false, err
	}
	if sparse == nil {
		w.run.scan.blocksSkipped.Add(int64(seg.NumBlocks()))
		return true, nil
	}
	if it.missing(*sparse) {
		return true, nil // NULL everywhere: the states stay empty
	}
	// Every other aggregate a SUM or AVG of the sparse column (revenue,
	// average order by plan): sums and counts go per dictionary code of
	// the key, a tight loop, and into the groups once per segment.
	var perCode *codeSums
	if len(dict) <= codeSumsMax {
		perCode = &codeSums{sum: make([]float64, len(dict)+1), n: make([]int64, len(dict)+1)}
		for j, st := range w.states {
			if _, ok := st.(*sumState); !ok && !isBitmapAgg[j] {
				perCode = nil
				break
			}
		}
	}
	for b := 0; b < seg.NumBlocks(); b++ {
		if err := it.ctx.Err(); err != nil {
			return false, err
		}
		first, n := seg.BlockRange(b)
		if rows != nil && !rows.IntersectsWithInterval(uint64(first), uint64(first+n)) {
			w.run.scan.blocksSkipped.Add(1)
			continue
		}
		w.run.scan.blocksRead.Add(1)
		if err := it.decode(b); err != nil {
			return false, err
		}
		it.first, it.n = first, n
		vals, err := segmentVec(it, *sparse, &w.userBufs)
		if err != nil {
			return false, err
		}
		// sel is vals.present (read-only) or selBuf's storage, both good
		// for this block only.
		sel := w.selBuf[:0]
		switch {
		case vals.present != nil && rows == nil:
			sel = vals.present
		case vals.present != nil:
			// Both sorted: merge rather than a bitmap lookup a row.
			in := rowsInRange(rows, first, n, w.inBuf)
			w.inBuf = in
			for i, j := 0, 0; i < len(in) && j < len(vals.present); {
				switch a, b := in[i], vals.present[j]; {
				case a < b:
					i++
				case a > b:
					j++
				default:
					sel = append(sel, a)
					i++
					j++
				}
			}
		case rows != nil:
			w.inBuf = rowsInRange(rows, first, n, w.inBuf)
			for _, r := range w.inBuf {
				if !vals.isNull(int(r)) {
					sel = append(sel, r)
				}
			}
		default:
			for r := 0; r < n; r++ {
				if !vals.isNull(r) {
					sel = append(sel, int32(r))
				}
			}
		}
		if vals.present == nil || rows != nil {
			w.selBuf = sel
		}
		if len(sel) == 0 {
			continue
		}
		bt := &batch{n: n, sel: sel}
		bt.vec = func(ref colRef) (*vec, error) { return segmentVec(it, ref, &w.userBufs) }
		keys, err := bt.column(ref)
		if err != nil {
			return false, err
		}
		if perCode != nil && keys.codes != nil && !keys.userCodes && (vals.floats != nil || vals.ints != nil) {
			perCode.add(keys, vals, sel, len(dict))
			continue
		}
		gids := make([]int32, len(sel))
		w.codeGroups(keys, bt, gids)
		w.growStates()
		for j, st := range w.states {
			if isBitmapAgg[j] {
				continue
			}
			if err := st.add(w, bt, gids, w.run.aggRefs[j]); err != nil {
				return false, fmt.Errorf("%s: block %d: %w", seg.Name(), b, err)
			}
		}
		if err := w.account(); err != nil {
			return false, err
		}
	}
	if perCode != nil {
		for c, n := range perCode.n {
			if n == 0 {
				continue
			}
			key := groupKey{nulls: 1}
			if c < len(dict) {
				key = groupKey{k: [maxGroupKeys]uint64{uint64(w.run.intern.id(dict[c]))}}
			}
			g := w.groups.lookup(key)
			w.growStates()
			for j, st := range w.states {
				if !isBitmapAgg[j] {
					ss := st.(*sumState)
					ss.sum[g] += perCode.sum[c]
					ss.n[g] += n
				}
			}
		}
		if err := w.account(); err != nil {
			return false, err
		}
	}
	return true, nil
}

// codeSumsMax bounds the key dictionaries whose sums go per code.
const codeSumsMax = 1 << 16

// codeSums is a segment's sum and count of a column's non-NULL values
// per dictionary code of the key; slot len(dict) is the NULL key.
type codeSums struct {
	sum []float64
	n   []int64
}

// add folds in the rows sel of a block (rows whose value is not NULL):
// keys holds the key's codes, vals the values.
func (cs *codeSums) add(keys, vals *vec, sel []int32, nullSlot int) {
	codes, nulls := keys.codes, keys.nulls
	sum, n := cs.sum, cs.n
	for _, r := range sel {
		c := nullSlot
		if nulls == nil || !nulls[r] {
			c = int(codes[r])
		}
		if vals.floats != nil {
			sum[c] += vals.floats[r]
		} else {
			sum[c] += float64(vals.ints[r])
		}
		n[c]++
	}
}

// valueCounts counts, per dictionary code of ref, the rows of the segment
// (of rows, when not nil) holding that value: from bitmap cardinalities,
// or, when rows are few next to the segment, by reading the codes of
// just those rows (intersecting every value's bitmap would cost more).
func (w *aggWorker) valueCounts(it *segmentIter, ref colRef, dict []string, rows *roaring.Bitmap) ([]uint64, error) {
	seg := it.seg
	counts := make([]uint64, len(dict))
	if rows != nil && rows.GetCardinality()*16 < uint64(seg.Rows()) {
		block := -1
		var blk *storage.ColumnBlock
		for _, row := range rows.ToArray() {
			r := int(row)
			if b := r / storage.SegmentBlockRows; b != block {
				var err error
				if blk, err = seg.Block(ref.name, b); err != nil {
					return nil, err
				}
				block = b
			}
			r -= block * storage.SegmentBlockRows
			switch {
			case blk.Nulls != nil && blk.Nulls[r]:
			case blk.Codes8 != nil:
				counts[blk.Codes8[r]]++
			default:
				counts[blk.Codes[r]]++
			}
		}
		return counts, nil
	}
	for c := range dict {
		if c%CheckEveryRows == 0 {
			if err := it.ctx.Err(); err != nil {
				return nil, err
			}
		}
		bm, _, err := seg.ValueBitmap(ref.name, uint32(c))
		if err != nil {
			return nil, err
		}
		if rows != nil {
			counts[c] = bm.AndCardinality(rows)
		} else {
			counts[c] = bm.GetCardinality()
		}
	}
	return counts, nil
}

// countOnly: the aggregation is a bare count(*).
func (w *aggWorker) countOnly() bool {
	a := w.run.a
	return len(a.Keys) == 0 && len(a.Aggs) == 1 && a.Aggs[0].Kind == AggCount && a.Aggs[0].Column == ""
}

func (w *aggWorker) addCount(n int) {
	if n == 0 {
		return
	}
	g := w.groups.lookup(groupKey{})
	w.growStates()
	w.states[0].(*countState).n[g] += int64(n)
}

func (w *aggWorker) runMem(ctx context.Context, mem storage.MemRows) error {
	s := w.run.scan
	for first := 0; first < len(mem.Rows); first += storage.SegmentBlockRows {
		if err := ctx.Err(); err != nil {
			return err
		}
		n := min(storage.SegmentBlockRows, len(mem.Rows)-first)
		rows := mem.Rows[first : first+n]
		var users []uint32
		if mem.Users != nil {
			users = mem.Users[first : first+n]
		}
		mi := &memIter{scan: s, ctx: ctx, rows: rows, users: users, preds: s.predRefs()}
		bt := &batch{n: n}
		if s.Filter != nil {
			sel := []int32{}
			for i := range rows {
				if mi.matches(s.Filter, i) {
					sel = append(sel, int32(i))
				}
			}
			if len(sel) == 0 {
				continue
			}
			bt.sel = sel
		}
		clear(w.codeIDs)
		clear(w.codeGids)
		bt.vec = func(ref colRef) (*vec, error) { return memVec(mi, ref) }
		bt.mark = func(p Predicate, bit uint32, masks []uint32) error {
			for r := range masks {
				if mi.matches(p, r) {
					masks[r] |= bit
				}
			}
			return nil
		}

		if err := w.add(bt); err != nil {
			return fmt.Errorf("buffered rows: %w", err)
		}
	}
	return nil
}

// add aggregates one batch.
func (w *aggWorker) add(b *batch) error {
	cnt := b.count()
	if cap(w.gids) < cnt {
		w.gids = make([]int32, max(cnt, storage.SegmentBlockRows))
	}
	gids := w.gids[:cnt]
	switch len(w.run.keyRefs) {
	case 0:
		g := w.groups.lookup(groupKey{})
		for i := range gids {
			gids[i] = g
		}
		return w.addStates(b, gids)
	case 1:
		v, err := b.column(w.run.keyRefs[0])
		if err != nil {
			return err
		}
		if ok, err := w.singleKeyGroups(v, b, gids); err != nil || ok {
			if err != nil {
				return err
			}
			return w.addStates(b, gids)
		}
	default:
		if ok, err := w.codeTupleGroups(b, gids); err != nil || ok {
			if err != nil {
				return err
			}
			return w.addStates(b, gids)
		}
	}
	// The general path: a key tuple per row, hashed.
	if cap(w.keyBuf) < cnt {
		w.keyBuf = make([]groupKey, max(cnt, storage.SegmentBlockRows))
	}
	keys := w.keyBuf[:cnt]
	clear(keys)
	for ki, ref := range w.run.keyRefs {
		v, err := b.column(ref)
		if err != nil {
			return err
		}
		if err := w.fillKeys(ki, v, b, keys); err != nil {
			return err
		}
	}
	for i := range keys {
		gids[i] = w.groups.lookup(keys[i])
	}
	return w.addStates(b, gids)
}

// singleKeyGroups sets gids for a grouping by the one key v without
// building key tuples: through a code → group table for dictionary codes,
// a user → group table for users, the last bucket for time buckets.
// false when v is a shape only the general path handles (NULLs outside
// dictionary codes, a column missing from the part).
func (w *aggWorker) singleKeyGroups(v *vec, b *batch, gids []int32) (bool, error) {
	codes := v.codes != nil && !v.userCodes
	switch {
	case v.missing || (v.nulls != nil && !codes):
		return false, nil
	case w.run.a.Keys[0].BucketMillis > 0:
		return true, w.bucketGroups(v, b, gids)
	case codes:
		w.codeGroups(v, b, gids)
	case v.userCodes:
		w.userGroups(v, b, gids)
	default:
		key := w.keyer(v)
		for i := range gids {
			gids[i] = w.groups.lookup(groupKey{k: [maxGroupKeys]uint64{key(b.row(i))}})
		}
	}
	return true, nil
}

func (w *aggWorker) addStates(b *batch, gids []int32) error {
	w.growStates()
	for j, st := range w.states {
		if err := st.add(w, b, gids, w.run.aggRefs[j]); err != nil {
			return err
		}
	}
	return w.account()
}

// userGroups sets the group of every selected row of a batch grouped by
// user (distinct_id): user numbers are dense, so the group table's dense
// index is sized for every user of the snapshot at once (beyond
// denseLimit too) and read here directly.
func (w *aggWorker) userGroups(v *vec, b *batch, gids []int32) {
	g := &w.groups
	if n := v.users.Len(); len(g.dense) < n {
		g.growDense(n)
	}
	for i := range gids {
		u := v.codes[b.row(i)]
		gid := g.dense[u] - 1
		if gid < 0 {
			gid = g.add1(uint64(u))
			g.dense[u] = gid + 1
		}
		gids[i] = gid
	}
}

// bucketGroups sets the group of every selected row of a batch grouped
// by one time bucket key, for a vec without NULLs. Rows come in time
// order within a segment, so the last bucket's group mostly answers.
func (w *aggWorker) bucketGroups(v *vec, b *batch, gids []int32) error {
	gk := w.run.a.Keys[0]
	if w.bucketDense(v, b, gids, gk.BucketMillis) {
		return nil
	}
	lastB, lastG := int64(math64Min), int32(-1)
	for i := range gids {
		bk := floorDiv(v.ints[b.row(i)], gk.BucketMillis)
		if bk != lastB {
			k, err := w.bucketKey(0, bk)
			if err != nil {
				return err
			}
			lastB, lastG = bk, w.groups.lookup(groupKey{k: [maxGroupKeys]uint64{k}})
		}
		gids[i] = lastG
	}
	return nil
}

// maxBucketSpan bounds the buckets bucketDense's table covers (int32
// each): 2^18 hours are 30 years.
const maxBucketSpan = 1 << 18

// bucketTable maps time bucket bk to group gids[bk-base]+1 (0: not yet
// looked up) for a worker grouping by one bucket key: once a bucket's
// group is known, rows in any order find it without a map lookup.
type bucketTable struct {
	base int64
	gids []int32
}

// bucketDense is bucketGroups through the worker's bucketTable, grown
// to cover the batch's buckets; false (nothing done) when the table
// would span more than maxBucketSpan buckets.
func (w *aggWorker) bucketDense(v *vec, b *batch, gids []int32, width int64) bool {
	if len(gids) == 0 {
		return true
	}
	lo, hi := v.ints[b.row(0)], v.ints[b.row(0)]
	for i := range gids {
		t := v.ints[b.row(i)]
		lo, hi = min(lo, t), max(hi, t)
	}
	blo, bhi := floorDiv(lo, width), floorDiv(hi, width)
	t := &w.bucketTbl
	if len(t.gids) == 0 {
		t.base = blo
	}
	newBase, newEnd := min(t.base, blo), max(t.base+int64(len(t.gids)), bhi+1)
	if newEnd-newBase > maxBucketSpan {
		return false
	}
	if newBase != t.base || newEnd != t.base+int64(len(t.gids)) {
		grown := make([]int32, newEnd-newBase)
		copy(grown[t.base-newBase:], t.gids)
		t.base, t.gids = newBase, grown
	}
	for i := range gids {
		bk := floorDiv(v.ints[b.row(i)], width)
		g := t.gids[bk-t.base] - 1
		if g < 0 {
			k, err := w.bucketKey(0, bk)
			if err != nil {
				return false // bucketGroups' own loop reports it
			}
			g = w.groups.lookup(groupKey{k: [maxGroupKeys]uint64{k}})
			t.gids[bk-t.base] = g + 1
		}
		gids[i] = g
	}
	return true
}

// codeGroups sets the group of every selected row of a batch grouped by
// the one dictionary-coded column v, through a code → group table.
func (w *aggWorker) codeGroups(v *vec, b *batch, gids []int32) {
	if w.codeGids == nil {
		w.codeGids = map[*string][]int32{}
	}
	var tbl []int32
	if len(v.dict) > 0 {
		k := &v.dict[0]
		if tbl = w.codeGids[k]; tbl == nil {
			tbl = make([]int32, len(v.dict))
			for i := range tbl {
				tbl[i] = -1
			}
			w.codeGids[k] = tbl
		}
	}
	nullGid := int32(-1)
	for i := range gids {
		r := b.row(i)
		if v.nulls != nil && v.nulls[r] {
			if nullGid < 0 {
				nullGid = w.groups.lookup(groupKey{nulls: 1})
			}
			gids[i] = nullGid
			continue
		}
		c := v.codes[r]
		g := tbl[c]
		if g < 0 {
			g = w.groups.lookup(groupKey{k: [maxGroupKeys]uint64{uint64(w.run.intern.id(v.dict[c]))}})
			tbl[c] = g
		}
		gids[i] = g
	}
}

// maxCodeTuples bounds the table of codeTupleGroups (int32 per
// combination of codes).
const maxCodeTuples = 1 << 16

// codeTuple maps a combination of dictionary codes of several keys to
// a group: slot Σ (code_i+1)·stride_i, code+1 = 0 for NULL; -1 until the
// combination is first met. dicts and lens name the dictionaries it is
// for (a dictionary is identified by its first string's address, as in
// codeGids: the table keeps them alive, so the address is not reused).
type codeTuple struct {
	dicts [maxGroupKeys]*string
	lens  [maxGroupKeys]int
	gids  []int32
}

// codeTupleGroups sets gids for a grouping by several keys that are all
// dictionary-coded in this batch (or missing: NULL), without building
// and hashing a key tuple per row: a row's group is a function of its
// codes, so it is looked up once per combination of codes and the batch
// (and the following ones over the same dictionaries: a segment's)
// reads it from a table. The keys it builds are those fillKeys builds
// (intern ids, NULL bits), so groups agree with the general path's.
// false when a key is not coded or the combinations are too many.
func (w *aggWorker) codeTupleGroups(b *batch, gids []int32) (bool, error) {
	nk := len(w.run.keyRefs)
	var vecs [maxGroupKeys]*vec
	var key codeTuple
	var stride [maxGroupKeys]int
	total := 1
	for ki, ref := range w.run.keyRefs {
		if w.run.a.Keys[ki].BucketMillis > 0 {
			return false, nil
		}
		v, err := b.column(ref)
		if err != nil {
			return false, err
		}
		switch {
		case v.missing:
		case v.codes == nil || v.userCodes:
			return false, nil
		case len(v.dict) > 0:
			key.dicts[ki], key.lens[ki] = &v.dict[0], len(v.dict)
		}
		vecs[ki] = v
		stride[ki] = total
		total *= key.lens[ki] + 1
		if total > maxCodeTuples {
			return false, nil
		}
	}
	t := &w.tuple
	if t.gids == nil || t.dicts != key.dicts || t.lens != key.lens {
		t.dicts, t.lens = key.dicts, key.lens
		t.gids = growTo(t.gids[:0], total)
		for i := range t.gids {
			t.gids[i] = -1
		}
	}
	for i := range gids {
		r := b.row(i)
		slot := 0
		for ki := 0; ki < nk; ki++ {
			v := vecs[ki]
			if v.missing || (v.nulls != nil && v.nulls[r]) {
				continue
			}
			slot += (int(v.codes[r]) + 1) * stride[ki]
		}
		g := t.gids[slot]
		if g < 0 {
			var k groupKey
			for ki := 0; ki < nk; ki++ {
				v := vecs[ki]
				if v.missing || (v.nulls != nil && v.nulls[r]) {
					k.nulls |= 1 << ki
					continue
				}
				k.k[ki] = uint64(w.run.intern.id(v.dict[v.codes[r]]))
			}
			g = w.groups.lookup(k)
			t.gids[slot] = g
		}
		gids[i] = g
	}
	return true, nil
}

// fillKeys sets key ki of every selected row.
func (w *aggWorker) fillKeys(ki int, v *vec, b *batch, keys []groupKey) error {
	bit := uint8(1) << ki
	gk := w.run.a.Keys[ki]
	if v.missing {
		for i := range keys {
			keys[i].nulls |= bit
		}
		return nil
	}
	if gk.BucketMillis > 0 {
		lastB, lastK := int64(math64Min), uint64(0)
		for i := range keys {
			r := b.row(i)
			if v.isNull(r) {
				keys[i].nulls |= bit
				continue
			}
			bk := floorDiv(v.ints[r], gk.BucketMillis)
			if bk != lastB {
				k, err := w.bucketKey(ki, bk)
				if err != nil {
					return err
				}
				lastB, lastK = bk, k
			}
			keys[i].k[ki] = lastK
		}
		return nil
	}
	key := w.keyer(v)
	for i := range keys {
		r := b.row(i)
		if v.isNull(r) {
			keys[i].nulls |= bit
			continue
		}
		keys[i].k[ki] = key(r)
	}
	return nil
}

const math64Min = -1 << 63

// bucketKey is key ki's id for time bucket bk, asking the key's Bucket
// function once per bucket and worker.
func (w *aggWorker) bucketKey(ki int, bk int64) (uint64, error) {
	if k, ok := w.buckets[ki][bk]; ok {
		return k, nil
	}
	gk := w.run.a.Keys[ki]
	k, err := gk.Bucket(bk * gk.BucketMillis)
	if err == nil {
		w.buckets[ki][bk] = k
	}
	return k, err
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// keyer returns the key function of a vec's non-NULL rows: equal SQL
// values, equal keys (for one column type).
func (w *aggWorker) keyer(v *vec) func(r int) uint64 {
	switch {
	case v.codes != nil && v.userCodes:
		return func(r int) uint64 { return uint64(v.codes[r]) }
	case v.codes != nil:
		ids := w.codeIDsOf(v)
		return func(r int) uint64 {
			c := v.codes[r]
			id := ids[c]
			if id == 0 {
				id = w.run.intern.id(v.dict[c]) + 1
				ids[c] = id
			}
			return uint64(id - 1)
		}
	case v.floats != nil:
		return func(r int) uint64 { return floatKey(v.floats[r]) }
	}
	return func(r int) uint64 { return uint64(v.ints[r]) }
}

// codeIDsOf is the worker's code → intern id+1 table for v's dictionary
// (0: not yet interned).
func (w *aggWorker) codeIDsOf(v *vec) []uint32 {
	if w.codeIDs == nil {
		w.codeIDs = map[*string][]uint32{}
	}
	if len(v.dict) == 0 {
		return nil
	}
	k := &v.dict[0]
	ids, ok := w.codeIDs[k]
	if !ok {
		ids = make([]uint32, len(v.dict))
		w.codeIDs[k] = ids
	}
	return ids
}

// condMasks evaluates conditions on a batch: bit i of masks[r] is set
// when conds[i] is TRUE for row r.
func (w *aggWorker) condMasks(b *batch, conds []Predicate) ([]uint32, error) {
	if cap(w.masks) < b.n {
		w.masks = make([]uint32, b.n)
	}
	masks := w.masks[:b.n]
	clear(masks)
	for i, c := range conds {
		if err := b.mark(c, 1<<i, masks); err != nil {
			return nil, err
		}
	}
	return masks, nil
}

// mergeFrom folds another worker's groups into w, checking ctx every
// CheckEveryRows groups (a merge of millions of groups takes seconds).
// src's charge moves to w: src is garbage afterwards.
func (w *aggWorker) mergeFrom(ctx context.Context, src *aggWorker) error {
	remap := make([]int32, src.groups.len())
	for g := range remap {
		if g%CheckEveryRows == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		remap[g] = w.groups.lookup(src.groups.key(int32(g)))
	}
	w.growStates()
	for j, st := range w.states {
		if s, ok := st.(sizedState); ok {
			s.mergedBytes(src.states[j])
		}
		if bm, ok := st.(bulkMerger); ok {
			bm.mergeAll(remap, src.states[j])
			continue
		}
		for g := range remap {
			if g%CheckEveryRows == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			st.merge(remap[g], src.states[j], int32(g))
		}
	}
	if err := w.account(); err != nil {
		return err
	}
	return w.run.budget.Grow(-src.chargedBytes, w.run.what)
}

// bulkMerger is an aggState that merges a whole other state at once.
type bulkMerger interface {
	mergeAll(remap []int32, src aggState)
}

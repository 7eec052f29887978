package storage

// Segment dedup indexes: for each segment, its keyed rows' dedup-key
// hashes, sorted, with their row numbers (12 bytes a row). Ingest looks a
// new event's key up in the indexes of its day's segments (dedup.go); a
// hash hit is verified against the row itself.
//
// What stays resident is bounded by configuration, not by the data: the
// indexes of all segments share one budget (Options.DedupIndexBytes) and
// the least recently used are dropped beyond it, to be rebuilt from the
// segment's key columns when a key of that day arrives again. Ingest
// mostly touches today, so rebuilds are for late data; the dictionaries a
// build decodes are not kept (the block cache keeps those a verification
// reads, within its own budget).
//
// INVARIANT: a built index's slices are never modified; a caller may use
// them after the index is evicted (eviction only drops the reference).

import (
	"cmp"
	"container/list"
	"slices"
	"sync"
	"sync/atomic"
)

// defaultDedupIndexBytes is the default budget of all segment dedup
// indexes: about 22M keyed rows' worth.
const defaultDedupIndexBytes = 256 << 20

// segmentDedup is one segment's index; the zero value is not built.
// Guarded by dedupIndexes.mu.
type segmentDedup struct {
	ix   *dedupIndex
	elem *list.Element // in dedupIndexes.lru while built
}

// dedupIndex is a built index: hashes sorted, rows in the same order.
type dedupIndex struct {
	hashes []uint64
	rows   []uint32
}

func (ix *dedupIndex) sizeBytes() int64 { return int64(12*len(ix.hashes)) + 64 }

// dedupIndexes is the store's set of built indexes, least recently used
// at the back of lru.
type dedupIndexes struct {
	mu     sync.Mutex
	budget int64
	bytes  int64
	lru    list.List // of *SegmentRef
	// counters for metrics
	builds, evictions atomic.Int64
}

// lookup returns ref's index, building it if it is not built, and drops
// the least recently used others beyond the budget.
func (d *dedupIndexes) lookup(ref *SegmentRef) (*dedupIndex, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if ref.dedup.elem != nil {
		d.lru.MoveToFront(ref.dedup.elem)
		return ref.dedup.ix, nil
	}
	ix, err := buildDedupIndex(ref.Segment)
	if err != nil {
		return nil, err
	}
	d.builds.Add(1)
	ref.dedup = segmentDedup{ix: ix, elem: d.lru.PushFront(ref)}
	d.bytes += ix.sizeBytes()
	for d.bytes > d.budget && d.lru.Len() > 1 {
		d.dropLocked(d.lru.Back().Value.(*SegmentRef))
		d.evictions.Add(1)
	}
	return ix, nil
}

// forget drops ref's index (the segment stopped being live).
func (d *dedupIndexes) forget(ref *SegmentRef) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if ref.dedup.elem != nil {
		d.dropLocked(ref)
	}
}

func (d *dedupIndexes) dropLocked(ref *SegmentRef) {
	d.bytes -= ref.dedup.ix.sizeBytes()
	d.lru.Remove(ref.dedup.elem)
	ref.dedup = segmentDedup{}
}

// residentBytes is the memory the built indexes hold.
func (d *dedupIndexes) residentBytes() int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.bytes
}

func buildDedupIndex(seg *Segment) (*dedupIndex, error) {
	type entry struct {
		hash uint64
		row  uint32
	}
	dicts, err := readKeyDicts(seg)
	if err != nil {
		return nil, err
	}
	var entries []entry
	for b := 0; b < seg.NumBlocks(); b++ {
		first, n := seg.BlockRange(b)
		cols, err := readKeyBlocks(seg, b, dicts)
		if err != nil {
			return nil, err
		}
		for i := 0; i < n; i++ {
			if k, ok := cols.key(i); ok {
				entries = append(entries, entry{k.hash(), uint32(first + i)})
			}
		}
	}
	slices.SortFunc(entries, func(a, b entry) int { return cmp.Compare(a.hash, b.hash) })
	ix := &dedupIndex{hashes: make([]uint64, len(entries)), rows: make([]uint32, len(entries))}
	for i, e := range entries {
		ix.hashes[i], ix.rows[i] = e.hash, e.row
	}
	return ix, nil
}

// contains reports whether seg, whose index ix is, holds an event with key
// k, whose hash is h.
func (ix *dedupIndex) contains(seg *Segment, k dedupKey, h uint64) (bool, error) {
	i, _ := slices.BinarySearch(ix.hashes, h)
	for ; i < len(ix.hashes) && ix.hashes[i] == h; i++ {
		row := int(ix.rows[i])
		b := row / SegmentBlockRows
		first, _ := seg.BlockRange(b)
		cols, err := readKeyColumns(seg, b)
		if err != nil {
			return false, err
		}
		if got, _ := cols.key(row - first); got == k {
			return true, nil
		}
	}
	return false, nil
}

// DedupIndexStats reports the memory the segment dedup indexes hold, and
// how many were built and dropped since the store opened.
func (s *Store) DedupIndexStats() (residentBytes, builds, evictions int64) {
	return s.dedupIx.residentBytes(), s.dedupIx.builds.Load(), s.dedupIx.evictions.Load()
}

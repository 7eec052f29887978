package storage

// Deduplication: events with equal (event, distinct_id as sent, time,
// insert_id) are one event, whichever path they came by (HTTP resends,
// SDK retries, a repeated INSERT). Events without an insert_id are never
// deduplicated (Mixpanel's rule for /track without $insert_id).
//
// Duplicates are dropped at ingest, before the WAL, so every query path
// (native or go-mysql-server's operators) sees one copy without doing
// anything. The first copy stored wins. A batch is checked against
//   - the rows buffered in memtables (exact keys),
//   - the live segments of the event's day (a per-segment index of key
//     hashes, built on first use; a hash hit is verified against the row),
//   - batches being written right now (pending reservations: a duplicate
//     of a batch in flight is acknowledged only once that batch is
//     durable, and fails if it fails).

import (
	"cmp"
	"hash/maphash"
	"slices"
	"sync"
	"time"
)

// dedupKey identifies an event for deduplication.
type dedupKey struct {
	timeMillis int64
	name       string
	distinctID string
	insertID   string
}

func keyOf(e *Event) (dedupKey, bool) {
	return dedupKey{e.TimeMillis, e.Name, e.DistinctID, e.InsertID}, e.InsertID != ""
}

var dedupSeed = maphash.MakeSeed()

func (k dedupKey) hash() uint64 {
	var h maphash.Hash
	h.SetSeed(dedupSeed)
	var b [8]byte
	for i := range b {
		b[i] = byte(k.timeMillis >> (8 * i))
	}
	h.Write(b[:])
	for _, s := range []string{k.name, k.distinctID, k.insertID} {
		h.WriteString(s)
		h.WriteByte(0)
	}
	return h.Sum64()
}

// ingestTicket is a batch between its duplicate check and its durable
// application; duplicates of its events wait on it.
type ingestTicket struct {
	done chan struct{}
	err  error // valid after done is closed
}

// segmentDedup is the key-hash index of one segment: hashes sorted, rows
// in the same order. Built once, on the first ingest that needs it.
type segmentDedup struct {
	once   sync.Once
	err    error
	hashes []uint64
	rows   []uint32
}

func (ix *segmentDedup) build(seg *Segment) {
	type entry struct {
		hash uint64
		row  uint32
	}
	var entries []entry
	for b := 0; b < seg.NumBlocks(); b++ {
		first, n := seg.BlockRange(b)
		cols, err := readKeyColumns(seg, b)
		if err != nil {
			ix.err = err
			return
		}
		for i := 0; i < n; i++ {
			if k, ok := cols.key(i); ok {
				entries = append(entries, entry{k.hash(), uint32(first + i)})
			}
		}
	}
	slices.SortFunc(entries, func(a, b entry) int { return cmp.Compare(a.hash, b.hash) })
	ix.hashes, ix.rows = make([]uint64, len(entries)), make([]uint32, len(entries))
	for i, e := range entries {
		ix.hashes[i], ix.rows[i] = e.hash, e.row
	}
}

// keyColumns are the dedup key columns of one segment block.
type keyColumns struct {
	time, name, distinct, insert *ColumnBlock
	names, distincts, inserts    []string
}

func readKeyColumns(seg *Segment, b int) (*keyColumns, error) {
	kc := &keyColumns{}
	var err error
	read := func(col string, blk **ColumnBlock, dict *[]string) {
		if err != nil || !seg.HasColumn(col) {
			return
		}
		if *blk, err = seg.ReadBlock(col, b); err != nil {
			return
		}
		if dict != nil {
			*dict, err = seg.Dict(col)
		}
	}
	read(ColTime, &kc.time, nil)
	read(ColEvent, &kc.name, &kc.names)
	read(ColDistinctID, &kc.distinct, &kc.distincts)
	read(ColInsertID, &kc.insert, &kc.inserts)
	return kc, err
}

func blockString(blk *ColumnBlock, dict []string, i int) string {
	if blk == nil || (blk.Nulls != nil && blk.Nulls[i]) || blk.Codes == nil {
		return ""
	}
	return dict[blk.Codes[i]]
}

func (kc *keyColumns) key(i int) (dedupKey, bool) {
	k := dedupKey{
		name:       blockString(kc.name, kc.names, i),
		distinctID: blockString(kc.distinct, kc.distincts, i),
		insertID:   blockString(kc.insert, kc.inserts, i),
	}
	if kc.time != nil && (kc.time.Nulls == nil || !kc.time.Nulls[i]) {
		k.timeMillis = kc.time.Ints[i]
	}
	return k, k.insertID != ""
}

// contains reports whether the segment holds an event with key k.
func (ix *segmentDedup) contains(seg *Segment, k dedupKey) (bool, error) {
	h := k.hash()
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

// dropDuplicatesLocked removes from events those already stored, being
// stored, or repeated within the batch. It returns the kept events and
// the tickets of batches in flight that the dropped ones duplicate.
// REQUIRES: p.mu held.
func (p *Project) dropDuplicatesLocked(events []Event) ([]Event, []*ingestTicket, error) {
	var waits []*ingestTicket
	var inBatch map[dedupKey]bool
	out := events[:0]
	for i := range events {
		k, ok := keyOf(&events[i])
		if !ok {
			out = append(out, events[i])
			continue
		}
		if inBatch[k] {
			continue
		}
		if t, ok := p.pendingKeys[k]; ok {
			waits = append(waits, t)
			continue
		}
		dup, err := p.storedLocked(k)
		if err != nil {
			return nil, nil, err
		}
		if dup {
			continue
		}
		if inBatch == nil {
			inBatch = map[dedupKey]bool{}
		}
		inBatch[k] = true
		out = append(out, events[i])
	}
	return out, waits, nil
}

// storedLocked reports whether an event with key k is buffered or in a
// segment. REQUIRES: p.mu held.
func (p *Project) storedLocked(k dedupKey) (bool, error) {
	if _, ok := p.mem.keys[k]; ok {
		return true, nil
	}
	for _, m := range p.frozen {
		if _, ok := m.keys[k]; ok {
			return true, nil
		}
	}
	day := time.UnixMilli(k.timeMillis).UTC().Format(time.DateOnly)
	for _, ref := range p.segments {
		if ref.Day != day {
			continue
		}
		ref.dedup.once.Do(func() { ref.dedup.build(ref.Segment) })
		if ref.dedup.err != nil {
			return false, ref.dedup.err
		}
		if ok, err := ref.dedup.contains(ref.Segment, k); ok || err != nil {
			return ok, err
		}
	}
	return false, nil
}

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
//     hashes, built on first use and kept within a memory budget,
//     dedup_index.go; a hash hit is verified against the row),
//   - batches being written right now: a batch reserves its keys in the
//     current memtable's index, with its ticket, before it writes the
//     WAL, so a duplicate of a batch in flight is acknowledged only once
//     that batch is durable, and fails if it fails.
//
// Every key is hashed once per ingest (dedupKey.hash); the indexes are
// keyed by that hash (keyIndex), and repeats within a batch are dropped
// before the project's lock is taken.

import (
	"hash/maphash"
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

// hash is k's hash for keyIndex and the segment indexes (in memory only,
// never stored: the seed changes with every process).
func (k dedupKey) hash() uint64 { return maphash.Comparable(dedupSeed, k) }

// keyIndex maps dedup keys to values, looked up by the hash the caller
// computed once per key (dedupKey.hash): a map keyed by uint64 costs far
// less than one keyed by three strings, and one hash serves every index a
// key is checked against. The map holds only positions in entries, so it
// stays small (12-byte slots) and grows cheaply; entries are appended in
// order. The zero keyIndex is empty and ready to use.
//
// INVARIANT: a key is in at most one of byHash and overflow; overflow
// holds only keys whose hash slot in byHash another key holds. Removed
// entries stay in entries, zeroed, and nothing points at them.
type keyIndex[V any] struct {
	byHash   map[uint64]uint32 // hash → position in entries
	entries  []keyEntry[V]
	overflow map[dedupKey]V
}

type keyEntry[V any] struct {
	key dedupKey
	val V
}

// newKeyIndex returns an index with room for n keys.
func newKeyIndex[V any](n int) keyIndex[V] {
	return keyIndex[V]{byHash: make(map[uint64]uint32, n), entries: make([]keyEntry[V], 0, n)}
}

// get returns the value of k, whose hash is h.
func (ix *keyIndex[V]) get(h uint64, k dedupKey) (V, bool) {
	if i, ok := ix.byHash[h]; ok && ix.entries[i].key == k {
		return ix.entries[i].val, true
	}
	if len(ix.overflow) > 0 {
		v, ok := ix.overflow[k]
		return v, ok
	}
	var zero V
	return zero, false
}

// put sets the value of k, whose hash is h.
func (ix *keyIndex[V]) put(h uint64, k dedupKey, v V) {
	if len(ix.overflow) > 0 {
		if _, ok := ix.overflow[k]; ok {
			ix.overflow[k] = v
			return
		}
	}
	if ix.byHash == nil {
		ix.byHash = map[uint64]uint32{}
	}
	if i, ok := ix.byHash[h]; ok {
		if ix.entries[i].key == k {
			ix.entries[i].val = v
			return
		}
		if ix.overflow == nil {
			ix.overflow = map[dedupKey]V{}
		}
		ix.overflow[k] = v
		return
	}
	if len(ix.entries) == cap(ix.entries) {
		// Double rather than append's 1.25: entries grow under the
		// project's lock.
		ix.entries = append(make([]keyEntry[V], 0, max(2*cap(ix.entries), 256)), ix.entries...)
	}
	ix.byHash[h] = uint32(len(ix.entries))
	ix.entries = append(ix.entries, keyEntry[V]{k, v})
}

// remove deletes k, whose hash is h, if present.
func (ix *keyIndex[V]) remove(h uint64, k dedupKey) {
	if i, ok := ix.byHash[h]; ok && ix.entries[i].key == k {
		delete(ix.byHash, h)
		ix.entries[i] = keyEntry[V]{}
		return
	}
	delete(ix.overflow, k)
}

// removeRows deletes the keys of rows (hashes their key hashes).
func (ix *keyIndex[V]) removeRows(rows []Event, hashes []uint64) {
	for i := range rows {
		if k, ok := keyOf(&rows[i]); ok {
			ix.remove(hashes[i], k)
		}
	}
}

// keyHashes returns the hash of each event's dedup key (0 for events
// without one).
func keyHashes(events []Event) []uint64 {
	hashes := make([]uint64, len(events))
	for i := range events {
		if k, ok := keyOf(&events[i]); ok {
			hashes[i] = k.hash()
		}
	}
	return hashes
}

// ingestTicket is a batch between its duplicate check and its durable
// application; duplicates of its events wait on it.
type ingestTicket struct {
	done chan struct{}
	err  error // valid after done is closed
}

// keyColumns are the dedup key columns of one segment block.
type keyColumns struct {
	time, name, distinct, insert *ColumnBlock
	keyDicts
}

// keyDicts are the dictionaries of a segment's string key columns.
type keyDicts struct {
	names, distincts, inserts []string
}

// readKeyDicts decodes the key columns' dictionaries for one use (an
// index build, which reads them all once), bypassing the shared cache.
func readKeyDicts(seg *Segment) (keyDicts, error) { return keyDictsBy(seg, seg.readDict) }

// readKeyColumns reads block b's key columns, the dictionaries through
// the shared cache (a lookup of one key).
func readKeyColumns(seg *Segment, b int) (*keyColumns, error) {
	d, err := keyDictsBy(seg, seg.Dict)
	if err != nil {
		return nil, err
	}
	return readKeyBlocks(seg, b, d)
}

func keyDictsBy(seg *Segment, dictOf func(col string) ([]string, error)) (keyDicts, error) {
	var d keyDicts
	var err error
	for _, c := range []struct {
		col  string
		dict *[]string
	}{{ColEvent, &d.names}, {ColDistinctID, &d.distincts}, {ColInsertID, &d.inserts}} {
		if err == nil && seg.HasColumn(c.col) {
			*c.dict, err = dictOf(c.col)
		}
	}
	return d, err
}

// readKeyBlocks reads block b's key columns with the given dictionaries.
func readKeyBlocks(seg *Segment, b int, dicts keyDicts) (*keyColumns, error) {
	kc := &keyColumns{keyDicts: dicts}
	var err error
	for _, c := range []struct {
		col string
		blk **ColumnBlock
	}{{ColTime, &kc.time}, {ColEvent, &kc.name}, {ColDistinctID, &kc.distinct}, {ColInsertID, &kc.insert}} {
		if err == nil && seg.HasColumn(c.col) {
			*c.blk, err = seg.ReadBlock(c.col, b)
		}
	}
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

// dropBatchDuplicates removes events that repeat an earlier event of the
// same batch, in place, keeping the first, and returns the kept events
// with their key hashes. It needs no lock: it looks only at the batch.
func dropBatchDuplicates(events []Event) ([]Event, []uint64) {
	hashes := keyHashes(events)
	var first map[uint64]int     // hash → position of a kept event; made at the first key
	var others map[dedupKey]bool // kept keys whose hash another key has
	n := 0
	for i := range events {
		if k, ok := keyOf(&events[i]); ok {
			if first == nil {
				first = make(map[uint64]int, len(events)-i)
			}
			j, seen := first[hashes[i]]
			switch {
			case !seen:
				first[hashes[i]] = n
			case keyOf1(&events[j]) == k || others[k]:
				continue
			default:
				if others == nil {
					others = map[dedupKey]bool{}
				}
				others[k] = true
			}
		}
		if n != i { // a copy onto itself would still cost write barriers
			events[n], hashes[n] = events[i], hashes[i]
		}
		n++
	}
	clear(events[n:]) // the dropped tail must not keep its strings alive
	return events[:n], hashes[:n]
}

// keyOf1 is keyOf without the flag.
func keyOf1(e *Event) dedupKey {
	k, _ := keyOf(e)
	return k
}

// dropDuplicatesLocked removes from events (in place; hashes from
// dropBatchDuplicates, which has already removed repeats within the
// batch) those already stored or being stored, and reserves the keys of
// the kept ones in p.mem under a new ticket (nil if none has a key). It
// returns the kept events and the tickets of batches in flight that the
// dropped ones duplicate. hashes is compacted alongside events.
// REQUIRES: p.mu held.
func (p *Project) dropDuplicatesLocked(events []Event, hashes []uint64) ([]Event, []*ingestTicket, *ingestTicket, error) {
	return p.dropDuplicatesIntoLocked(events, hashes, &p.mem.keys, nil)
}

// dropDuplicatesIntoLocked is dropDuplicatesLocked reserving the kept
// keys in keys under ticket, or under a new ticket when ticket is nil. A key
// found under ticket itself (an earlier batch of the same bulk load) is
// a repeat not waited for. On an error the keys reserved here are
// released, and a ticket made here is failed.
// REQUIRES: p.mu held.
func (p *Project) dropDuplicatesIntoLocked(events []Event, hashes []uint64, keys *keyIndex[*ingestTicket], ticket *ingestTicket) ([]Event, []*ingestTicket, *ingestTicket, error) {
	var waits []*ingestTicket
	own := ticket != nil
	var days dayCache
	n := 0
	for i := range events {
		if k, ok := keyOf(&events[i]); ok {
			dup, wait, err := p.storedLocked(k, hashes[i], &days)
			if err != nil {
				// The keys reserved so far go, and batches that found
				// them learn the failure: a ticket left open would keep
				// them waiting for ever.
				if ticket != nil {
					keys.removeRows(events[:n], hashes[:n])
					if !own {
						ticket.err = err
						close(ticket.done)
					}
				}
				return nil, nil, nil, err
			}
			if wait != nil && wait != ticket {
				waits = append(waits, wait)
			}
			if dup {
				continue
			}
			if ticket == nil {
				ticket = &ingestTicket{done: make(chan struct{})}
			}
			keys.put(hashes[i], k, ticket)
		}
		if n != i {
			events[n], hashes[n] = events[i], hashes[i]
		}
		n++
	}
	clear(events[n:])
	return events[:n], waits, ticket, nil
}

// inFlight returns t if its batch may still fail (t not nil and not
// durable yet, or failed), else nil: the key it holds is then stored.
func inFlight(t *ingestTicket) *ingestTicket {
	if t == nil {
		return nil
	}
	select {
	case <-t.done:
		if t.err == nil {
			return nil
		}
	default:
	}
	return t
}

// dayCache remembers the UTC day string of the last day number asked.
type dayCache struct {
	num   int64
	day   string
	valid bool
}

const millisPerDay = 24 * 60 * 60 * 1000

// of returns the UTC day (YYYY-MM-DD) of a time in Unix milliseconds, as
// time.Format gives it, formatting once per run of the same day.
func (c *dayCache) of(timeMillis int64) string {
	num := timeMillis / millisPerDay
	if timeMillis%millisPerDay < 0 {
		num-- // floor: days start at multiples of millisPerDay
	}
	if !c.valid || c.num != num {
		c.num, c.day, c.valid = num, time.UnixMilli(timeMillis).UTC().Format(time.DateOnly), true
	}
	return c.day
}

// storedLocked reports whether an event with key k (hash h) is buffered,
// being written, or in a segment; wait is the ticket of the batch in
// flight that holds it. REQUIRES: p.mu held.
func (p *Project) storedLocked(k dedupKey, h uint64, days *dayCache) (dup bool, wait *ingestTicket, err error) {
	if t, ok := p.mem.keys.get(h, k); ok {
		return true, inFlight(t), nil
	}
	for _, m := range p.frozen {
		if t, ok := m.keys.get(h, k); ok {
			return true, inFlight(t), nil
		}
	}
	for _, bp := range p.bulks {
		if bp.holdsLocked(k, h) {
			return true, inFlight(bp.ticket), nil
		}
	}
	if len(p.segments) == 0 {
		return false, nil, nil
	}
	day := days.of(k.timeMillis)
	for _, ref := range p.segments {
		if ref.Day != day {
			continue
		}
		ix, err := p.store.dedupIx.lookup(ref)
		if err != nil {
			return false, nil, err
		}
		if ok, err := ix.contains(ref.Segment, k, h); ok || err != nil {
			return ok, nil, err
		}
	}
	return false, nil, nil
}

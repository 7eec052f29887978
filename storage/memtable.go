package storage

// memtable holds a project's events that are in the WAL but not yet in a
// segment. Queries see them at once.
//
// Rows are kept in chunks of memChunkRows, allocated as they fill: one
// slice of every row, grown by copying, cost a flush's worth of rows
// (80 MB and the GC assist of allocating it, for a million) under the
// project's lock at once, and every growth copied each row again.
//
// INVARIANT: rows are append-only; chunks[k] holds rows
// [k*memChunkRows, (k+1)*memChunkRows), every chunk but the last full,
// users[k] their user numbers, alike in length; an appended element is
// never modified, so a reader that copied the chunks' slice headers under
// the project's lock (pieces) may read them after releasing it while
// writers append.
type memtable struct {
	chunks [][]Event
	users  [][]uint32 // user numbers of chunks' rows' DistinctIDs
	n      int        // rows in all chunks
	bytes  int64      // approximate heap size of rows, for the flush trigger
	// keys holds the dedup keys of rows with an insert_id (dedup.go),
	// each with the ticket of the batch that reserved it (nil after WAL
	// replay). A key is reserved before its row is in the WAL and
	// appended after: keys may name rows not yet in rows, of batches
	// that hold the store's ingestMu shared, so a frozen memtable never
	// has them.
	keys keyIndex[*ingestTicket]
	// sealed are in-memory segments of rows [0, sealedRows); sealing is
	// true while a goroutine makes more (memtable_seal.go).
	sealed     []sealedChunk
	sealedRows int
	sealing    bool
}

// memChunkRows is the number of rows of a memtable chunk.
const memChunkRows = 16384

// len is the number of rows in m.
func (m *memtable) len() int { return m.n }

// row returns row i and its user number.
func (m *memtable) row(i int) (*Event, uint32) {
	return &m.chunks[i/memChunkRows][i%memChunkRows], m.users[i/memChunkRows][i%memChunkRows]
}

// pieces returns rows [lo, hi) as read-only views, one per chunk they
// touch, in order.
func (m *memtable) pieces(lo, hi int) []MemRows {
	var out []MemRows
	for lo < hi {
		k, off := lo/memChunkRows, lo%memChunkRows
		end := min(hi-lo, memChunkRows-off) + off
		out = append(out, MemRows{Rows: m.chunks[k][off:end:end], Users: m.users[k][off:end:end]})
		lo += end - off
	}
	return out
}

// appendLocked adds e, whose dedup key hashes to h (keyHashes), with its
// key.
func (m *memtable) appendLocked(e Event, user uint32, h uint64) {
	if k, ok := keyOf(&e); ok {
		m.keys.put(h, k, nil)
	}
	m.appendReservedLocked(e, user)
}

// appendReservedLocked adds e, whose key (if any) is in m.keys already.
func (m *memtable) appendReservedLocked(e Event, user uint32) {
	if m.n%memChunkRows == 0 {
		m.chunks = append(m.chunks, make([]Event, 0, memChunkRows))
		m.users = append(m.users, make([]uint32, 0, memChunkRows))
	}
	k := len(m.chunks) - 1
	m.chunks[k] = append(m.chunks[k], e)
	m.users[k] = append(m.users[k], user)
	m.n++
	m.bytes += eventSizeBytes(&e)
}

// unreserveLocked removes the keys of rows whose batch failed.
func (m *memtable) unreserveLocked(rows []Event, hashes []uint64) {
	m.keys.removeRows(rows, hashes)
}

// eventSizeBytes approximates the heap held by e.
func eventSizeBytes(e *Event) int64 {
	n := int64(96 + len(e.Name) + len(e.DistinctID) + len(e.InsertID))
	for _, p := range e.Props {
		n += int64(64 + len(p.Key) + len(p.Value.Str))
	}
	return n
}

// MemRows is a read-only view of buffered events: Rows[i] belongs to user
// number Users[i]. Callers must not modify either slice.
type MemRows struct {
	Rows  []Event
	Users []uint32
}

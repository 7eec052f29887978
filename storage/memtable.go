package storage

// memtable holds a project's events that are in the WAL but not yet in a
// segment. Queries see them at once.
//
// Rows are kept in chunks of memChunkRows, allocated as they fill: one
// slice of every row, grown by copying, cost a flush's worth of rows
// (80 MB and the GC assist of allocating it, for a million) under the
// project's lock at once, and every growth copied each row again.
//
// Once sealed, a chunk's rows are released (releaseSealedLocked): the
// sealed chunks hold them in columns, and the rows' properties were most
// of the heap (and of the collector's work) during ingest. Only chunks
// whose every value was sealed with its own type are released, so that
// a flush converting the sealed values to a wider type gets what it would
// from the rows; only the memtable taking rows releases, so that a flush
// (which reads a frozen one without the lock) sees its chunks as planned.
//
// INVARIANT: rows are append-only; chunks[k] holds rows
// [k*memChunkRows, (k+1)*memChunkRows), every chunk but the last full,
// users[k] and times[k] their user numbers and times, alike in length;
// chunks[k] is nil for k < released (those rows are in exact sealed
// chunks). An appended element is never modified, so a reader that copied
// the chunks' slice headers under the project's lock (pieces, only of
// rows past the sealed ones) may read them after releasing it while
// writers append.
type memtable struct {
	chunks [][]Event
	users  [][]uint32 // user numbers of chunks' rows' DistinctIDs
	times  [][]int64  // chunks' rows' TimeMillis, kept when rows are released
	// chunkBytes[k] is what chunk k's rows count in bytes.
	chunkBytes []int64
	released   int   // chunks released
	n          int   // rows in all chunks
	bytes      int64 // approximate heap size of rows and sealed chunks, for the flush trigger
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

// row returns row i and its user number; the row is nil once released.
func (m *memtable) row(i int) (*Event, uint32) {
	k, j := i/memChunkRows, i%memChunkRows
	if m.chunks[k] == nil {
		return nil, m.users[k][j]
	}
	return &m.chunks[k][j], m.users[k][j]
}

// pieces returns rows [lo, hi) as read-only views, one per chunk they
// touch, in order. REQUIRES: no row of [lo, hi) released.
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
		m.times = append(m.times, make([]int64, 0, memChunkRows))
		m.chunkBytes = append(m.chunkBytes, 0)
	}
	k := len(m.chunks) - 1
	m.chunks[k] = append(m.chunks[k], e)
	m.users[k] = append(m.users[k], user)
	m.times[k] = append(m.times[k], e.TimeMillis)
	m.n++
	size := eventSizeBytes(&e)
	m.chunkBytes[k] += size
	m.bytes += size
}

// releaseSealedLocked drops the rows of the chunks that exact sealed
// chunks cover from the start (see the type comment) and returns the
// bytes they counted, which it takes off m.bytes. REQUIRES: the
// project's lock held for writing, m the memtable taking rows.
func (m *memtable) releaseSealedLocked() int64 {
	exact := 0 // rows [0, exact) are in exact sealed chunks
	for _, c := range m.sealed {
		if !c.exact {
			break
		}
		exact += c.ref.Segment.Rows()
	}
	var freed int64
	for ; m.released < exact/memChunkRows; m.released++ {
		k := m.released
		m.chunks[k] = nil
		freed += m.chunkBytes[k]
	}
	m.bytes -= freed
	return freed
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

package storage

// memtable holds a project's events that are in the WAL but not yet in a
// segment. Queries see them at once.
//
// INVARIANT: rows and users are append-only and grow together
// (len(rows) == len(users)); an appended element is never modified, so a
// reader that copied the slice headers under the project's lock may read
// them after releasing it while writers append.
type memtable struct {
	rows  []Event
	users []uint32 // user number of rows[i].DistinctID
	bytes int64    // approximate heap size of rows, for the flush trigger
	// keys holds the dedup keys of rows with an insert_id (dedup.go),
	// each with the ticket of the batch that reserved it (nil after WAL
	// replay). A key is reserved before its row is in the WAL and
	// appended after: keys may name rows not yet in rows, of batches
	// that hold the store's ingestMu shared, so a frozen memtable never
	// has them.
	keys keyIndex[*ingestTicket]
	// sealed are in-memory segments of rows[0:sealedRows]; sealing is
	// true while a goroutine makes more (memtable_seal.go).
	sealed     []sealedChunk
	sealedRows int
	sealing    bool
	// rowsHint is the capacity rows first grows to: the row count of
	// the memtable this one replaced (at most FlushRows), 0 for none.
	rowsHint int
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
	if len(m.rows) == cap(m.rows) {
		// Grow by doubling, not append's 1.25: each growth copies every
		// row while the project's lock is held.
		m.rows = append(make([]Event, 0, max(2*cap(m.rows), 1024, m.rowsHint)), m.rows...)
		m.users = append(make([]uint32, 0, cap(m.rows)), m.users...)
	}
	m.rows = append(m.rows, e)
	m.users = append(m.users, user)
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

func (m *memtable) view() MemRows {
	return MemRows{Rows: m.rows[:len(m.rows):len(m.rows)], Users: m.users[:len(m.users):len(m.users)]}
}

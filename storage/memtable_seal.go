package storage

// Sealed chunks: the buffered rows of a memtable, in columnar form.
//
// A memtable is one append-only slice of row structs, flushed to
// segments once it holds FlushRows rows (or its bytes, or its interval
// is up). Until then queries read it row by row, one part, one core, a
// property looked up per row: right after heavy ingest a memtable of a
// million rows made a count by event 30× slower than the same rows in
// segments. So every SealRows rows (appended, hence immutable) a
// background goroutine lays the chunk out as an in-memory segment —
// columns, dictionaries, zone maps, the same format and code as a flushed
// one, only stored uncompressed and without bitmap indexes
// (writeSealedSegment) — and queries read sealed chunks as segments (in
// parallel, blocks pruned) and only the unsealed tail as rows.
//
// INVARIANTS: a memtable's sealed chunks cover rows [0, sealedRows) in
// order, each exactly SealRows rows; a snapshot shows each buffered row
// once, in a sealed chunk or in the tail. Sealing changes no data, only
// its layout: the WAL and dedup still work from the rows; the flush takes
// the chunks' columns and dictionaries (flush_columns.go) and converts
// only the rows no chunk holds as the schema is now. A chunk's bytes
// count in the memtable's bytes (the flush trigger and the ingest
// buffer).

import (
	"bytes"
	"fmt"
)

// DefaultSealRows is Options.SealRows' default.
const DefaultSealRows = 65536

// sealedChunk is one sealed run of a memtable's rows.
type sealedChunk struct {
	ref *SegmentRef // an in-memory segment; File is ""
	// exact: every property value of the run had its column's type, so
	// the chunk's values are the rows' (memtable.releaseSealedLocked).
	exact bool
}

// maybeSealLocked starts sealing m's full chunks in the background when
// there is one and no sealing of m is under way. REQUIRES: p.mu held.
func (p *Project) maybeSealLocked(m *memtable) {
	rows := p.store.opts.SealRows
	if p.sealRows > 0 {
		rows = p.sealRows
	}
	if rows <= 0 || m.sealing || m.len()-m.sealedRows < rows {
		return
	}
	m.sealing = true
	p.store.sealWG.Add(1)
	go func() {
		defer p.store.sealWG.Done()
		p.sealChunks(m, rows)
	}()
}

// sealChunks seals m's full chunks one by one.
func (p *Project) sealChunks(m *memtable, rows int) {
	for {
		p.mu.RLock()
		from := m.sealedRows
		ok := m.len()-from >= rows && !p.store.closingNow()
		var chunk []MemRows
		var schema []Column
		if ok {
			chunk = m.pieces(from, from+rows)
			schema = p.events.Columns()
		}
		p.mu.RUnlock()
		if !ok {
			break
		}
		ref, exact, err := sealChunk(chunk, schema, fmt.Sprintf("%s buffered rows %d+%d", p.name, from, rows))
		if err != nil {
			// Not fatal: the rows stay readable as rows.
			p.store.opts.Logger.Error("sealing buffered rows", "project", p.name, "err", err)
			break
		}
		p.mu.Lock()
		m.sealed = append(m.sealed, sealedChunk{ref: ref, exact: exact})
		m.sealedRows = from + rows
		if m == p.mem || isFrozen(p.frozen, m) {
			// Still buffered: a flush's install gives m.bytes back.
			m.bytes += ref.Bytes
			p.store.buffer.add(ref.Bytes)
		}
		if m == p.mem {
			p.store.buffer.add(-m.releaseSealedLocked())
		}
		p.mu.Unlock()
	}
	p.mu.Lock()
	m.sealing = false
	p.mu.Unlock()
}

func isFrozen(frozen []*memtable, m *memtable) bool {
	for _, f := range frozen {
		if f == m {
			return true
		}
	}
	return false
}

// WaitSealing waits until no chunk is being sealed. After ingest stops,
// it leaves every memtable with fewer than SealRows unsealed rows: a
// settled layout, for tests that compare two runs of a query.
func (s *Store) WaitSealing() { s.sealWG.Wait() }

// sealChunk writes rows (the pieces one after the other) as an in-memory
// segment. A panic (a broken invariant) is an error: the rows stay
// readable as rows.
// exact reports that every property value had its column's type.
func sealChunk(rows []MemRows, schema []Column, name string) (ref *SegmentRef, exact bool, err error) {
	defer func() {
		if r := recover(); r != nil {
			ref, exact, err = nil, false, fmt.Errorf("BUG: sealing %s: %v", name, r)
		}
	}()
	n := 0
	for _, piece := range rows {
		n += len(piece.Rows)
	}
	ptrs, users := make([]*Event, 0, n), make([]uint32, 0, n)
	for _, piece := range rows {
		for i := range piece.Rows {
			ptrs = append(ptrs, &piece.Rows[i])
		}
		users = append(users, piece.Users...)
	}
	d := &dayRows{rows: ptrs, users: users}
	cols := buildSegmentColumns(d, schema)
	// A sealed segment is uncompressed: a few bytes a value (one-byte
	// codes, varint deltas of times), which the buffer starts with rather
	// than doubling its way up from nothing.
	var buf bytes.Buffer
	buf.Grow(3 * n * len(cols))
	if _, err := writeSealedSegment(&buf, n, cols); err != nil {
		return nil, false, err
	}
	data := buf.Bytes()
	if cap(data)-len(data) > len(data)/4 {
		// The segment keeps its bytes until the flush: not the
		// buffer's unused room.
		data = bytes.Clone(data)
	}
	seg, err := OpenSegment(bytes.NewReader(data), int64(len(data)), name)
	if err != nil {
		return nil, false, err
	}
	return &SegmentRef{Segment: seg, Bytes: int64(len(data))}, !d.converted, nil
}

// closingNow reports whether Close has begun.
func (s *Store) closingNow() bool {
	select {
	case <-s.closing:
		return true
	default:
		return false
	}
}

// sealedView is m's sealed chunks and the rows after them, in pieces.
func (m *memtable) sealedView() ([]*SegmentRef, []MemRows) {
	refs := make([]*SegmentRef, len(m.sealed))
	for i, c := range m.sealed {
		refs[i] = c.ref
	}
	return refs, m.pieces(m.sealedRows, m.len())
}

package storage

// The replicated log as the write path (cluster mode, Options.Log).
//
// Every write is split in two:
//
//   - prepare, on the node that took the write: validate the rows (a bad
//     one gets a *RowError naming it), admit the batch to the ingest
//     buffer, drop repeats within the batch, encode the record the WAL
//     would have held. Nothing here reads or changes stored state.
//   - apply, on every replica, in log order, on one goroutine
//     (ApplyLogged, called by the Log's state machine once the record is
//     committed on a quorum): fit the rows to the schema, drop the events
//     already stored (insert_id dedup against applied state only), resolve
//     profile operations against the applied profiles (with
//     Options.ProfileUpdater, which every node must share), append to the
//     memtable and the identity state.
//
// Apply is deterministic: its result depends only on the record and the
// entries applied before it, so every replica holds the same data. A
// refusal decided in apply (too many columns, a $add on a string) refuses
// the whole entry on every replica alike and is the write's error.
//
// Invariants:
//   - the store's own WAL takes nothing; the Log is the only record of a
//     write until a flush puts it in segments;
//   - every manifest a flush publishes carries AppliedIndex, the last
//     entry applied when the flush froze the memtables (under ingestMu,
//     which ApplyLogged holds shared while it applies and advances the
//     index): every entry at or below it is in the manifest's files, so
//     after a restart the Log replays the entries above it and ApplyLogged
//     skips the rest;
//   - the Log must keep every entry above the durable AppliedIndex: a
//     snapshot of the state machine first flushes (Flush), so that the
//     entries a snapshot lets the Log drop are all in segments.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"
)

// Log is a replicated log of write records (package replication: a Raft
// group).
type Log interface {
	// Append commits payload and returns once this replica has applied
	// it (ApplyLogged), with the apply's refusal if it refused the entry.
	// retrySafe says that applying the record twice stores it once
	// (events that all have an insert_id: apply drops repeats), so the
	// log may send it again when its first attempt's fate is unknown.
	Append(payload []byte, retrySafe bool) error
}

// ErrLogUnavailable marks a write the replicated log could not take now
// (no leader, no quorum, leadership lost while it was in flight): it may
// or may not be stored, and the same write may be retried (an event's
// insert_id makes a retried event count once).
var ErrLogUnavailable = errors.New("replicated log unavailable")

// kindProfileOps: | str table | EventBatch of profile operations |: each
// event is one ProfileOp (DistinctID the key, Name the operation, Props
// its properties, TimeMillis its time or ignoreTimeMillis). Only the
// replicated log carries it: every replica resolves the operations.
const kindProfileOps recordKind = 5

// kindGrants: the whole users-and-grants body (grants_file.go). Only the
// replicated log carries it: every replica writes its grants file and
// hands the body to Options.OnGrants.
const kindGrants recordKind = 6

// ignoreTimeMillis marks a ProfileOp with IgnoreTime in a kindProfileOps
// record.
const ignoreTimeMillis = math.MinInt64

func appendProfileOpsRecord(project, table string, ops []ProfileOp) []byte {
	events := make([]Event, len(ops))
	for i, op := range ops {
		ms := op.Time.UnixMilli()
		if op.IgnoreTime {
			ms = ignoreTimeMillis
		}
		events[i] = Event{DistinctID: op.Key, Name: op.Op, TimeMillis: ms, Props: op.Props}
	}
	payload := append([]byte{byte(kindProfileOps)}, batchAppendString(nil, table)...)
	return AppendEventBatch(payload, &EventBatch{Project: project, Events: events})
}

func profileOpsBytes(ops []ProfileOp) int64 {
	var n int64
	for i := range ops {
		e := Event{DistinctID: ops[i].Key, Name: ops[i].Op, Props: ops[i].Props}
		n += eventSizeBytes(&e)
	}
	return n
}

// MaxLogRecordBytes bounds one record of the replicated log: raft-wal
// refuses entries over 64 MiB, and a refused append would stop the
// leader. A bigger write is refused whole, before it reaches the log.
const MaxLogRecordBytes = 48 << 20

// ErrRecordTooLarge marks a write refused for MaxLogRecordBytes.
var ErrRecordTooLarge = errors.New("write too large for the replicated log")

// appendLogged is a prepared write's way through the replicated log.
func (s *Store) appendLogged(payload []byte) error { return s.appendLoggedRetry(payload, false) }

// appendLoggedRetry is appendLogged for a record that may be retried
// (Log.Append).
func (s *Store) appendLoggedRetry(payload []byte, retrySafe bool) error {
	if err := s.failure(); err != nil {
		return err
	}
	if len(payload) > MaxLogRecordBytes {
		return fmt.Errorf("%w: %d bytes encoded, the limit is %d (48 MiB): send it in smaller batches", ErrRecordTooLarge, len(payload), MaxLogRecordBytes)
	}
	return s.opts.Log.Append(appendLogHeader(payload, s.opts.MaxColumns), retrySafe)
}

// allKeyed reports whether every row has a dedup key (an insert_id):
// a batch that apply stores once however often it comes.
func allKeyed(rows []Event) bool {
	for i := range rows {
		if rows[i].InsertID == "" {
			return false
		}
	}
	return true
}

// A log entry is | logEntryMagic | u32 max columns | record |. The
// header carries what apply decides with beyond the record and the
// applied state: the writer's --max-columns, so that every replica
// refuses or takes a batch alike even where nodes were started with
// different limits.
const logEntryMagic = 0xA7

func appendLogHeader(record []byte, maxColumns int) []byte {
	out := make([]byte, 0, 5+len(record))
	out = append(out, logEntryMagic)
	out = binary.BigEndian.AppendUint32(out, uint32(maxColumns))
	return append(out, record...)
}

func parseLogHeader(entry []byte) (record []byte, maxColumns int, err error) {
	if len(entry) < 5 || entry[0] != logEntryMagic {
		return nil, 0, fmt.Errorf("log entry of %d bytes does not start with the entry header (0x%02x)", len(entry), logEntryMagic)
	}
	return entry[5:], int(binary.BigEndian.Uint32(entry[1:5])), nil
}

// AppliedIndex is the index of the last replicated log entry applied to
// this store (at open: the manifest's).
func (s *Store) AppliedIndex() uint64 { return s.applied.Load() }

// DurableAppliedIndex is the applied index of the durable manifest:
// every entry up to it is in the files it names.
func (s *Store) DurableAppliedIndex() uint64 {
	s.flushMu.Lock()
	defer s.flushMu.Unlock()
	return s.published.AppliedIndex
}

// ApplyLogged applies the committed log entry index, whose record is
// payload, to the store. Entries at or below AppliedIndex are skipped
// (they are in segments already: a replay after a restart). refusal is
// the write's own error, the same on every replica, and the entry
// changed nothing. err means this replica could not apply the entry
// (its files or memory failed): the store has stopped taking writes
// (ErrStoreFailed) and the caller must stop applying; a restart replays
// from the manifest's index.
func (s *Store) ApplyLogged(index uint64, payload []byte) (refusal, err error) {
	if index <= s.applied.Load() {
		return nil, nil
	}
	if err := s.failure(); err != nil {
		return nil, err
	}
	s.ingestMu.RLock()
	defer s.ingestMu.RUnlock()
	record, maxColumns, err := parseLogHeader(payload)
	if err == nil {
		refusal, err = s.applyRecord(record, maxColumns)
	}
	if err != nil {
		return nil, s.failStore(fmt.Errorf("apply log entry %d: %w", index, err))
	}
	s.applied.Store(index)
	return refusal, nil
}

// applyRecord applies one record of the replicated log.
// REQUIRES: s.ingestMu held shared.
func (s *Store) applyRecord(payload []byte, maxColumns int) (refusal, err error) {
	if len(payload) == 0 {
		return nil, fmt.Errorf("empty record")
	}
	switch recordKind(payload[0]) {
	case kindCatalog:
		return nil, s.replay(payload)
	case kindEvents, kindPeople:
		b, err := DecodeEventBatch(payload[1:])
		if err != nil {
			return nil, err
		}
		p, ok := s.Project(b.Project)
		if !ok {
			return fmt.Errorf("project %s does not exist", b.Project), nil
		}
		return p.applyRows(rowsTable(recordKind(payload[0])), b.Events, maxColumns)
	case kindGrants:
		body := payload[1:]
		if err := s.writeGrantsFile(body); err != nil {
			return nil, err
		}
		if s.opts.OnGrants != nil {
			s.opts.OnGrants(body)
		}
		return nil, nil
	case kindProfileOps:
		table, b, err := decodeTableBatch("profile operations", payload)
		if err != nil {
			return nil, err
		}
		p, ok := s.Project(b.Project)
		if !ok {
			return fmt.Errorf("project %s does not exist", b.Project), nil
		}
		ops := make([]ProfileOp, len(b.Events))
		for i, e := range b.Events {
			ops[i] = ProfileOp{Key: e.DistinctID, Op: e.Name, Props: e.Props}
			if e.TimeMillis == ignoreTimeMillis {
				ops[i].IgnoreTime = true
			} else {
				ops[i].Time = time.UnixMilli(e.TimeMillis).UTC()
			}
		}
		return p.applyProfileOps(table, ops, maxColumns)
	}
	return nil, fmt.Errorf("unknown record kind %d", payload[0])
}

// isRefusal reports whether err is a deterministic refusal of a write
// (decided from the write and the applied state alone).
func isRefusal(err error) bool {
	var re *RowError
	var ce *ColumnLimitError
	return errors.As(err, &re) || errors.As(err, &ce)
}

// applyRows is apply's part for a batch of events or people upserts.
func (p *Project) applyRows(table string, rows []Event, maxColumns int) (refusal, err error) {
	if p.shards != nil {
		return p.applyRowsShards(table, rows, maxColumns)
	}
	var hashes []uint64
	if table == TableEvents {
		hashes = keyHashes(rows)
	}
	rows, ticket, _, err := p.reserve(table, rows, hashes, maxColumns)
	if err != nil {
		if isRefusal(err) {
			return err, nil
		}
		return nil, err
	}
	// No batch is in flight inside apply (entries apply one at a time),
	// so nothing waits on this ticket: it only marks the reserved keys.
	defer func() {
		if ticket != nil {
			ticket.err = err
			close(ticket.done)
		}
	}()
	s := p.store
	p.mu.Lock()
	if table == TablePeople {
		err = p.addLocked(table, rows)
	} else {
		err = p.addEventsLocked(rows, nil)
	}
	needFlush := p.mem.bytes >= s.opts.FlushBytes || p.mem.len() >= s.opts.FlushRows || p.ustate.memBytes >= s.opts.FlushBytes
	p.mu.Unlock()
	if err != nil {
		return nil, err
	}
	s.observeIngest(len(rows), 0)
	if needFlush {
		s.requestFlush()
	}
	return nil, nil
}

// applyProfileOps is apply's part for profile operations.
func (p *Project) applyProfileOps(table string, ops []ProfileOp, maxColumns int) (refusal, err error) {
	if p.shards != nil {
		return p.applyProfileOpsShards(table, ops, maxColumns)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	batch, err := p.resolveProfilesLocked(table, ops, maxColumns)
	if err != nil {
		if isRefusal(err) {
			return err, nil
		}
		return nil, err
	}
	if err := p.replaceProfilesLocked(table, batch); err != nil {
		return nil, err
	}
	if p.ustate.memBytes >= p.store.opts.FlushBytes {
		p.store.requestFlush()
	}
	return nil, nil
}

package storage

// The write-ahead log makes ingested batches durable before they are
// acknowledged. It is a sequence of files <dir>/000001.wal, 000002.wal, …;
// a flush rotates to a new file and deletes the old ones once the
// manifest no longer needs them.
//
// File layout (all integers little-endian):
//
//	+---------------------+----------------+----------+----------+-----
//	| magic "ARBWAL01"    | seq uint64     | record 1 | record 2 | ...
//	| 8 bytes             | 8 bytes        |          |          |
//	+---------------------+----------------+----------+----------+-----
//
//	record:
//	+----------------+--------------------------------+-----------------+
//	| length uint32  | CRC-32C uint32 of the 4 length | payload         |
//	| of payload     | bytes followed by the payload  | length bytes    |
//	+----------------+--------------------------------+-----------------+
//
// The payload is opaque to the WAL (the store starts it with a record
// kind byte). The seq in the header must match the file name, so a file
// copied or renamed by hand is caught. Replay, and the rule that tells a
// torn tail (truncated) from damage (the open fails), are in
// wal_replay.go; the operator's repair in wal_repair.go.
//
// Durability: Append returns only after its record is written and the
// file fsynced. Concurrent Appends share one write and one fsync (group
// commit): the first waiter becomes the leader, takes everything buffered
// so far (a walGroup), writes and syncs it without holding the lock, then
// wakes the others.
//
// Failure rule (wal_fault.go has the whole of it):
//
//   - A failed fsync fails the WAL for good: that Append and every later
//     one return the error (a failed fsync is never retried, since the
//     kernel may have dropped the dirty pages), and so does a failed write
//     other than a fault.
//   - A write that fails with a fault that clears itself (ENOSPC, EDQUOT,
//     EMFILE, ENFILE) refuses its group: the leader truncates the file back
//     to written (the end of the last durable record), seeks there and
//     fsyncs, and only then tells the group's waiters, with a *FaultError.
//     So a refused record never reaches a replay, even after a crash, and
//     the next group is written where the refused one began: no record
//     ever follows a partial one. If the truncate, seek or fsync fails,
//     the file's state is unknown and the WAL fails for good. Groups
//     buffered meanwhile are unaffected: a record's bytes do not depend
//     on its offset, which the leader fixes when it writes the group.
//
// The file format and the replay rule are unchanged by this: after a
// refusal the file holds exactly what it held before the refused write.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sort"
	"sync"
	"time"
)

// Wire format constants: never change them.
const (
	walMagic        = "ARBWAL01"
	walHeaderBytes  = 16 // magic + seq
	walRecordHeader = 8  // length + CRC
	// walMaxRecordBytes bounds one payload: larger lengths are damage.
	walMaxRecordBytes = 1 << 30
)

// ErrWALClosed is returned by Append after Close.
var ErrWALClosed = errors.New("write-ahead log closed")

// WALOptions configure OpenWAL.
type WALOptions struct {
	FS     FS
	Dir    string       // created if missing
	Logger *slog.Logger // nil: slog.Default(); replay logs its progress at Info
	// MinSeq: files below it hold only records already in segments;
	// OpenWAL deletes them without replaying.
	MinSeq uint64
	// OnSync, if set, is called after each group fsync with its latency
	// and the number of records it made durable.
	OnSync func(d time.Duration, records int)
}

// WALPosition names a record: its file's sequence number and byte offset.
type WALPosition struct {
	Seq    uint64
	Offset int64
}

// WAL is an open write-ahead log. Safe for concurrent use.
type WAL struct {
	opts WALOptions
	log  *slog.Logger

	mu   sync.Mutex
	cond *sync.Cond // signalled when a group commit ends; uses mu
	// All fields below are guarded by mu.
	f   File   // current file, appended to
	seq uint64 // current file's sequence number
	// written is the offset just past the last durable record of the
	// current file: where the next group is written.
	// INVARIANT: the current file holds exactly written bytes whenever no
	// leader is writing (flushing is false) and err is nil.
	written int64
	// cur holds the records appended and not yet handed to a leader.
	cur      *walGroup
	spare    []byte
	flushing bool             // a leader is writing outside the lock
	err      error            // sticky failure: the WAL takes no more appends
	closed   bool             //
	sizes    map[uint64]int64 // bytes of each live file, current included
	// fault is the transient fault refusing appends since the last
	// success (nil when none), faultBytes the size of the group it
	// refused last, refused the appends refused by each kind so far;
	// probing is set while Probe runs (wal_fault.go).
	fault      *Fault
	faultBytes int
	refused    [numFaultKinds]int64
	probing    bool
}

// walGroup is one group commit: the records appended while it was
// current, written by one write and made durable by one fsync.
type walGroup struct {
	buf     []byte // framed records; taken by the leader
	records int
	// Set by the leader when it has written the group (guarded by the
	// WAL's mu): where it went, and its outcome.
	seq   uint64
	start int64
	done  bool
	err   error // nil: durable
}

// OpenWAL replays every record of every file with Seq >= MinSeq in order,
// calling replay for each (the payload is valid only during the call).
// A torn tail of the last file — a record cut short or zero-filled by a
// crash, by the rules in wal_replay.go — is truncated away and logged.
// Any other record that fails to verify, the last one included, is a
// *CorruptionError (matching ErrCorruption) naming the file, the offset
// and what is at stake; the open then fails having changed nothing on
// disk (files below MinSeq are removed only after a successful replay).
// After replay, appends go to a new file, so a replayed file is never
// appended to.
func OpenWAL(opts WALOptions, replay func(pos WALPosition, payload []byte) error) (*WAL, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	w := &WAL{opts: opts, log: opts.Logger, sizes: map[uint64]int64{}, cur: &walGroup{}}
	w.cond = sync.NewCond(&w.mu)
	if err := opts.FS.MkdirAll(opts.Dir); err != nil {
		return nil, fmt.Errorf("create %s: %w", opts.Dir, err)
	}
	seqs, err := w.listFiles()
	if err != nil {
		return nil, err
	}
	next := max(opts.MinSeq, 1)
	start := time.Now()
	var records, bytes int64
	var obsolete []uint64
	for i, seq := range seqs {
		if seq < opts.MinSeq {
			obsolete = append(obsolete, seq)
			continue
		}
		n, size, err := w.replayFile(seq, i == len(seqs)-1, replay)
		if err != nil {
			return nil, err
		}
		records += int64(n)
		bytes += size
		next = seq + 1
		if size > 0 {
			w.sizes[seq] = size
		} else {
			// The last file had a torn header and is gone: its number is
			// reused, so the files still run without a gap.
			next = seq
		}
		w.log.Info("wal replay", "file", w.path(seq), "records", n, "bytes", size)
	}
	for _, seq := range obsolete {
		if err := opts.FS.Remove(w.path(seq)); err != nil {
			return nil, fmt.Errorf("remove obsolete %s: %w", w.path(seq), err)
		}
	}
	if len(seqs) > 0 {
		w.log.Info("wal replay done", "files", len(w.sizes), "records", records, "bytes", bytes,
			"took", time.Since(start).Round(time.Millisecond))
	}
	if err := w.createFileLocked(next); err != nil {
		return nil, err
	}
	return w, nil
}

func (w *WAL) path(seq uint64) string { return filepath.Join(w.opts.Dir, walFileName(seq)) }

// listFiles returns the sequence numbers of the WAL files, ascending.
func (w *WAL) listFiles() ([]uint64, error) {
	names, err := w.opts.FS.List(w.opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", w.opts.Dir, err)
	}
	var seqs []uint64
	for _, n := range names {
		if seq, ok := parseWALFileName(n); ok {
			seqs = append(seqs, seq)
		}
	}
	sort.Slice(seqs, func(i, j int) bool { return seqs[i] < seqs[j] })
	return seqs, nil
}

// createFileLocked starts file seq with its header, durably, and makes it
// current. REQUIRES: w.mu held or w not yet shared.
//
// A failed create or header write leaves the current file current and
// untouched: the half-made file is removed (were it left, replay would
// take its partial header for a torn one and remove it), and a fault
// among them comes back as a *FaultError. A failed fsync of the header or
// of the directory fails the WAL for good.
func (w *WAL) createFileLocked(seq uint64) error {
	path := w.path(seq)
	f, err := w.opts.FS.Create(path)
	if err != nil {
		return faultOr(fmt.Errorf("create %s: %w", path, err))
	}
	hdr := make([]byte, walHeaderBytes)
	copy(hdr, walMagic)
	binary.LittleEndian.PutUint64(hdr[8:], seq)
	if _, err := f.Write(hdr); err != nil {
		f.Close()
		w.opts.FS.Remove(path)
		return faultOr(fmt.Errorf("write %s: %w", path, err))
	}
	if err := f.Sync(); err != nil {
		f.Close()
		w.err = fmt.Errorf("fsync %s: %w", path, err)
		return w.err
	}
	if err := w.opts.FS.SyncDir(w.opts.Dir); err != nil {
		f.Close()
		w.err = fmt.Errorf("fsync directory %s: %w", w.opts.Dir, err)
		return w.err
	}
	w.f, w.seq, w.written = f, seq, walHeaderBytes
	w.sizes[seq] = walHeaderBytes
	return nil
}

// appendRecord frames payload onto dst.
func appendRecord(dst, payload []byte) []byte {
	var hdr [walRecordHeader]byte
	binary.LittleEndian.PutUint32(hdr[0:], uint32(len(payload)))
	crc := crcUpdate(checksum(hdr[0:4]), payload)
	binary.LittleEndian.PutUint32(hdr[4:], crc)
	dst = append(dst, hdr[:]...)
	return append(dst, payload...)
}

// Append writes payload as one record and returns once it is durable.
// A *FaultError (matching ErrWriteRefused) means the record was refused
// by a fault that clears itself and is not stored, not even after a
// crash: a later Append may succeed. Any other error is the WAL's sticky
// failure.
func (w *WAL) Append(payload []byte) (WALPosition, error) {
	if len(payload) > walMaxRecordBytes {
		return WALPosition{}, fmt.Errorf("record of %d bytes exceeds the %d-byte limit", len(payload), walMaxRecordBytes)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return WALPosition{}, ErrWALClosed
	}
	if w.err != nil {
		return WALPosition{}, w.err
	}
	g := w.cur
	off := int64(len(g.buf))
	g.buf = appendRecord(g.buf, payload)
	g.records++
	for !g.done {
		if w.err != nil {
			return WALPosition{}, w.err
		}
		if w.flushing {
			w.cond.Wait()
			continue
		}
		w.groupCommitLocked()
	}
	if g.err != nil {
		if fe := (*FaultError)(nil); errors.As(g.err, &fe) {
			w.noteRefusedLocked(fe)
		}
		return WALPosition{}, g.err
	}
	return WALPosition{Seq: g.seq, Offset: g.start + off}, nil
}

// groupCommitLocked writes and fsyncs the current group, releasing mu
// during the I/O, and sets its outcome. REQUIRES: mu held, !w.flushing.
func (w *WAL) groupCommitLocked() {
	g, f, seq, start := w.cur, w.f, w.seq, w.written
	w.cur = &walGroup{buf: w.spare[:0]}
	buf := g.buf
	g.buf = nil
	w.flushing = true
	w.mu.Unlock()

	began := time.Now()
	var werr, serr, rerr error
	if len(buf) > 0 {
		if _, werr = f.Write(buf); werr == nil {
			serr = f.Sync()
		} else if faultKindOf(werr) != FaultNone {
			rerr = rollBack(f, start)
		}
	}
	took := time.Since(began)

	w.mu.Lock()
	w.flushing = false
	w.spare = buf
	g.seq, g.start, g.done = seq, start, true
	path := w.path(seq)
	switch {
	case werr == nil && serr == nil:
		w.written += int64(len(buf))
		w.sizes[seq] = w.written
		if len(buf) > 0 {
			w.clearFaultLocked("append")
		}
		if g.records > 0 && w.opts.OnSync != nil {
			w.opts.OnSync(took, g.records)
		}
	case serr != nil:
		w.err = fmt.Errorf("write-ahead log %s: fsync at offset %d: %w", path, start, serr)
	case rerr != nil:
		w.err = fmt.Errorf("write-ahead log %s: write at offset %d: %v; cut back after it: %w", path, start, werr, rerr)
	case faultKindOf(werr) != FaultNone:
		w.faultBytes = len(buf)
		g.err = &FaultError{Kind: faultKindOf(werr), Err: fmt.Errorf("write-ahead log %s: write of %d records (%d bytes) at offset %d: %w",
			path, g.records, len(buf), start, werr)}
	default:
		w.err = fmt.Errorf("write-ahead log %s: write at offset %d: %w", path, start, werr)
	}
	if w.err != nil {
		g.err = w.err
		w.log.Error("write-ahead log failed; no more writes", "err", w.err)
	}
	w.cond.Broadcast()
}

// rollBack cuts f back to size after a failed write, leaves its offset
// there for the next write, and makes the cut durable, so the bytes of a
// refused write are never replayed and never followed by a record.
func rollBack(f File, size int64) error {
	if err := f.Truncate(size); err != nil {
		return err
	}
	if _, err := f.Seek(size, io.SeekStart); err != nil {
		return err
	}
	return f.Sync()
}

// drainLocked makes every record appended so far durable in the current
// file, or refused. REQUIRES: mu held.
func (w *WAL) drainLocked() error {
	for w.flushing || len(w.cur.buf) > 0 {
		if w.err != nil {
			return w.err
		}
		if w.flushing {
			w.cond.Wait()
			continue
		}
		w.groupCommitLocked()
	}
	return w.err
}

// Rotate makes every record appended before it durable in files below the
// returned seq (or refused), and starts file seq for later appends. If
// the new file cannot be made, appends go on to the current one (see
// createFileLocked); the caller may try again later.
func (w *WAL) Rotate() (uint64, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return 0, ErrWALClosed
	}
	if err := w.drainLocked(); err != nil {
		return 0, err
	}
	old := w.f
	if err := w.createFileLocked(w.seq + 1); err != nil {
		return 0, err
	}
	if err := old.Close(); err != nil {
		w.log.Warn("close rotated write-ahead log file", "err", err)
	}
	return w.seq, nil
}

// RemoveBefore deletes the files below seq, once the manifest that makes
// them unnecessary is durable.
func (w *WAL) RemoveBefore(seq uint64) error {
	w.mu.Lock()
	var doomed []uint64
	for s := range w.sizes {
		if s < seq && s != w.seq {
			doomed = append(doomed, s)
		}
	}
	w.mu.Unlock()
	sort.Slice(doomed, func(i, j int) bool { return doomed[i] < doomed[j] })
	for _, s := range doomed {
		if err := w.opts.FS.Remove(w.path(s)); err != nil && !isNotExist(err) {
			return fmt.Errorf("remove %s: %w", w.path(s), err)
		}
		w.mu.Lock()
		delete(w.sizes, s)
		w.mu.Unlock()
	}
	if len(doomed) == 0 {
		return nil
	}
	return w.opts.FS.SyncDir(w.opts.Dir)
}

// SizeBytes is the size of all live WAL files.
func (w *WAL) SizeBytes() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	var n int64
	for _, s := range w.sizes {
		n += s
	}
	return n
}

// Close makes buffered records durable and closes the current file.
func (w *WAL) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil
	}
	err := w.drainLocked()
	w.closed = true
	w.cond.Broadcast()
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	return err
}

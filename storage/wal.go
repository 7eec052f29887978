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
// so far, writes and syncs it without holding the lock, then wakes the
// others. A write or fsync error fails the WAL for good: that Append and
// every later one return the error (a failed fsync is never retried, since
// the kernel may have dropped the dirty pages).

import (
	"encoding/binary"
	"errors"
	"fmt"
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
	// end is the offset just past the last record appended to the
	// current file, including records buffered or being written.
	end int64
	// buf holds framed records not yet handed to a leader; bufRecords
	// counts them.
	buf        []byte
	bufRecords int
	spare      []byte
	// gen numbers group commits: records appended while gen == g are
	// durable once durable > g.
	gen, durable uint64
	flushing     bool             // a leader is writing outside the lock
	err          error            // sticky failure
	closed       bool             //
	sizes        map[uint64]int64 // bytes of each live file, current included
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
	w := &WAL{opts: opts, log: opts.Logger, sizes: map[uint64]int64{}}
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
func (w *WAL) createFileLocked(seq uint64) error {
	path := w.path(seq)
	f, err := w.opts.FS.Create(path)
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	hdr := make([]byte, walHeaderBytes)
	copy(hdr, walMagic)
	binary.LittleEndian.PutUint64(hdr[8:], seq)
	if _, err := f.Write(hdr); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("fsync %s: %w", path, err)
	}
	if err := w.opts.FS.SyncDir(w.opts.Dir); err != nil {
		f.Close()
		return fmt.Errorf("fsync directory %s: %w", w.opts.Dir, err)
	}
	w.f, w.seq, w.end = f, seq, walHeaderBytes
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
	pos := WALPosition{Seq: w.seq, Offset: w.end}
	w.buf = appendRecord(w.buf, payload)
	w.bufRecords++
	w.end += int64(walRecordHeader + len(payload))
	mine := w.gen
	for w.durable <= mine {
		if w.err != nil {
			return WALPosition{}, w.err
		}
		if w.flushing {
			w.cond.Wait()
			continue
		}
		w.groupCommitLocked()
	}
	return pos, nil
}

// groupCommitLocked writes and fsyncs everything buffered, releasing mu
// during the I/O. REQUIRES: mu held, !w.flushing.
func (w *WAL) groupCommitLocked() {
	buf, n, gen, f := w.buf, w.bufRecords, w.gen, w.f
	w.buf, w.bufRecords = w.spare[:0], 0
	w.gen++
	w.flushing = true
	w.mu.Unlock()

	start := time.Now()
	var err error
	if len(buf) > 0 {
		if _, err = f.Write(buf); err == nil {
			err = f.Sync()
		}
	}
	took := time.Since(start)

	w.mu.Lock()
	w.flushing = false
	w.spare = buf
	if err != nil {
		w.err = fmt.Errorf("write-ahead log %s: %w", w.path(w.seq), err)
		w.log.Error("write-ahead log failed; no more writes", "err", err)
	} else {
		w.durable = gen + 1
		w.sizes[w.seq] += int64(len(buf))
		if n > 0 && w.opts.OnSync != nil {
			w.opts.OnSync(took, n)
		}
	}
	w.cond.Broadcast()
}

// drainLocked makes every record appended so far durable in the current
// file. REQUIRES: mu held.
func (w *WAL) drainLocked() error {
	for w.flushing || len(w.buf) > 0 {
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
// returned seq, and starts file seq for later appends.
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
		w.err = err
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

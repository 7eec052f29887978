package storage

// Replay reads WAL files back in order and decides what the first record
// that fails to verify means: a torn tail left by a crash, or damage.
//
// A crash during a group commit can leave the last file in two shapes, and
// only these (a record is written once, by one write, and is acknowledged
// only after the fsync that follows it; see wal.go):
//
//   - Cut short: the file ends inside the record's header or payload (the
//     file size reached the disk, or not, before all of the write did).
//   - Zero-filled: the file grew to hold the write but some of its sectors
//     never reached the disk, and read back as zeros. Disks write whole
//     sectors (512 bytes at least) atomically, and writeback that never
//     happened leaves zeros from a sector boundary to the end of the file.
//
// A last file shorter than its 16-byte header is torn when its bytes are a
// prefix of the header or zeros (the header is written, and fsynced, before
// any record), and so is a file of only zeros. So a failing record is a
// torn tail exactly when
//
//	(a) its header or its payload runs past the end of the file, unless
//	    clearing one bit of its length makes it verify inside the file
//	    (then the length field, not the crash, is what went wrong); or
//	(b) every byte from the record's start to the end of the file is zero
//	    (a file extended or preallocated and never written); or
//	(c) the file ends in a run of zeros that covers a 512-byte-aligned
//	    offset before the record's claimed end: the record's bytes stop at
//	    a sector boundary and only zeros follow.
//
// A bit flip does none of these: it leaves the record complete, its bytes
// non-zero at the end, or a length that verifies with the bit cleared. Any
// other failure — a checksum mismatch in a complete record, the last one
// included; a length over walMaxRecordBytes; a bad file header — is
// corruption: OpenWAL fails with a CorruptionError naming the file, the
// offset, the bytes from there to the end of the file and the records
// after it that still verify, and changes nothing on disk. Only an
// explicit `arb repair wal --drop-damaged-tail` (wal_repair.go) drops it.
//
// What the rule gives up, knowingly: writeback out of file order can leave
// a zeroed sector with written ones after it; that is reported as damage
// (never silently dropped), and the operator decides. A record whose real
// payload ends in zeros covering a sector boundary and which also suffers
// a bit flip is taken for torn; event batches do not end in 512 zero bytes
// in practice. A torn tail is accepted only in the last file: Rotate
// fsyncs a file before the next one exists, so an earlier file is never
// torn.

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
)

// walSectorBytes is the smallest unit a disk writes atomically; a write
// cut by a crash stops at a multiple of it. Disks with 4 KiB sectors are
// covered: their boundaries are also 512-byte boundaries.
const walSectorBytes = 512

// walFault is the first record of a file that does not verify.
type walFault struct {
	Offset int64 // start of the failing record; 0 or 8 for a bad file header
	// End is where the failing record claims to end (possibly past the
	// end of the file), or where it verifies once its damaged length is
	// repaired; -1 when unknown. Records after it are counted from here.
	End    int64
	Torn   bool // a crash explains it (rules (a)-(c) above)
	Reason string
}

// scanWALFile reads the records of one WAL file of size bytes in order and
// calls fn with each that verifies (payload valid only during the call).
// It stops at the first that does not and returns it as a fault, or nil
// when the file ends at a record boundary. seq is the sequence number the
// header must hold (0: unknown, not checked). err is an I/O error or fn's.
func scanWALFile(r io.ReaderAt, size int64, seq uint64, fn func(off int64, payload []byte) error) (n int, fault *walFault, err error) {
	if size < walHeaderBytes {
		f, err := shortFileFault(r, size, seq)
		return 0, f, err
	}
	br := bufio.NewReaderSize(io.NewSectionReader(r, 0, size), 1<<20)
	hdr := make([]byte, walHeaderBytes)
	if _, err := io.ReadFull(br, hdr); err != nil {
		return 0, nil, fmt.Errorf("read header: %w", err)
	}
	if string(hdr[:8]) != walMagic {
		z, err := zeroRunStart(r, size)
		if err != nil {
			return 0, nil, err
		}
		if z == 0 { // created and sized, never written: a crash in createFileLocked
			return 0, &walFault{End: -1, Torn: true, Reason: fmt.Sprintf("file of %d bytes holds only zeros", size)}, nil
		}
		return 0, &walFault{End: -1, Reason: fmt.Sprintf("not a write-ahead log file (bad magic %q)", hdr[:8])}, nil
	}
	if got := binary.LittleEndian.Uint64(hdr[8:]); seq != 0 && got != seq {
		return 0, &walFault{Offset: 8, End: -1, Reason: fmt.Sprintf("header names sequence %d, file name %d", got, seq)}, nil
	}

	off := int64(walHeaderBytes)
	var rec [walRecordHeader]byte
	var payload []byte
	for off < size {
		if size-off < walRecordHeader {
			return n, &walFault{Offset: off, End: -1, Torn: true,
				Reason: fmt.Sprintf("record header cut short (%d of %d bytes)", size-off, walRecordHeader)}, nil
		}
		if _, err := io.ReadFull(br, rec[:]); err != nil {
			return n, nil, fmt.Errorf("read at offset %d: %w", off, err)
		}
		length := int64(binary.LittleEndian.Uint32(rec[0:]))
		stored := binary.LittleEndian.Uint32(rec[4:])
		end := off + walRecordHeader + length
		if length > walMaxRecordBytes || end > size {
			f, err := classifyOverlong(r, size, off, length, stored)
			return n, f, err
		}
		if int64(cap(payload)) < length {
			payload = make([]byte, length)
		}
		payload = payload[:length]
		if _, err := io.ReadFull(br, payload); err != nil {
			return n, nil, fmt.Errorf("read at offset %d: %w", off, err)
		}
		if got := crcUpdate(checksum(rec[0:4]), payload); got != stored {
			f, err := classifyMismatch(r, size, off, end, stored, got)
			return n, f, err
		}
		if err := fn(off, payload); err != nil {
			return n, nil, err
		}
		n++
		off = end
	}
	return n, nil, nil
}

// shortFileFault judges a file shorter than its header. createFileLocked
// writes the header in one write and fsyncs it before any record, so a
// crash leaves a prefix of the header, zeros, or nothing: that is torn.
// Other bytes are damage.
func shortFileFault(r io.ReaderAt, size int64, seq uint64) (*walFault, error) {
	got := make([]byte, size)
	if _, err := r.ReadAt(got, 0); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("read header: %w", err)
	}
	want := binary.LittleEndian.AppendUint64([]byte(walMagic), seq)
	f := &walFault{End: -1, Torn: true,
		Reason: fmt.Sprintf("file of %d bytes is shorter than its %d-byte header", size, walHeaderBytes)}
	for i, b := range got {
		if b != 0 && b != want[i] && (i < len(walMagic) || seq != 0) {
			f.Torn = false
			f.Reason += fmt.Sprintf(" and byte %d is not the header's", i)
			break
		}
	}
	return f, nil
}

// classifyOverlong judges a record whose length is over the limit or runs
// past the end of the file: rule (a).
func classifyOverlong(r io.ReaderAt, size, off, length int64, stored uint32) (*walFault, error) {
	fixed, ok, err := repairLength(r, size, off, length, stored)
	if err != nil {
		return nil, err
	}
	if ok {
		return &walFault{Offset: off, End: off + walRecordHeader + fixed, Reason: fmt.Sprintf(
			"record length field damaged: it says %d bytes, the record verifies with %d (one bit apart)", length, fixed)}, nil
	}
	if length > walMaxRecordBytes {
		return &walFault{Offset: off, End: -1, Reason: fmt.Sprintf("record length %d exceeds the %d-byte limit", length, walMaxRecordBytes)}, nil
	}
	return &walFault{Offset: off, End: off + walRecordHeader + length, Torn: true,
		Reason: fmt.Sprintf("record of %d bytes runs past the end of the file (%d bytes)", length, size)}, nil
}

// classifyMismatch judges a complete record whose checksum fails: torn
// only under rules (b) and (c).
func classifyMismatch(r io.ReaderAt, size, off, end int64, stored, computed uint32) (*walFault, error) {
	z, err := zeroRunStart(r, size)
	if err != nil {
		return nil, err
	}
	aligned := (z + walSectorBytes - 1) / walSectorBytes * walSectorBytes
	f := &walFault{Offset: off, End: end}
	switch {
	case z <= off:
		f.Torn = true
		f.Reason = fmt.Sprintf("only zeros from the record to the end of the file (%d bytes)", size-off)
	case aligned < end:
		f.Torn = true
		f.Reason = fmt.Sprintf("record fails its checksum and is zeros from sector boundary %d to the end of the file", aligned)
	default:
		f.Reason = fmt.Sprintf("record checksum mismatch (stored %08x, computed %08x)", stored, computed)
	}
	return f, nil
}

// repairLength looks for the length the record at off had before one bit
// of it was set by damage: a length with one set bit cleared under which
// the record fits in the file and verifies. A torn record passes this only
// by a CRC collision (2^-32 per try, at most 32 tries).
func repairLength(r io.ReaderAt, size, off, length int64, stored uint32) (int64, bool, error) {
	for b := uint32(length); b != 0; b &= b - 1 {
		fixed := length &^ (int64(1) << bits.TrailingZeros32(b))
		if off+walRecordHeader+fixed > size {
			continue
		}
		var lb [4]byte
		binary.LittleEndian.PutUint32(lb[:], uint32(fixed))
		crc := checksum(lb[:])
		sr := io.NewSectionReader(r, off+walRecordHeader, fixed)
		buf := make([]byte, min(fixed, 1<<20))
		for {
			k, err := sr.Read(buf)
			crc = crcUpdate(crc, buf[:k])
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return 0, false, fmt.Errorf("read at offset %d: %w", off, err)
			}
		}
		if crc == stored {
			return fixed, true, nil
		}
	}
	return 0, false, nil
}

// zeroRunStart returns the offset where the run of zero bytes that ends
// the file starts (size when the last byte is not zero).
func zeroRunStart(r io.ReaderAt, size int64) (int64, error) {
	buf := make([]byte, 64<<10)
	end := size
	for end > 0 {
		start := max(end-int64(len(buf)), 0)
		chunk := buf[:end-start]
		if _, err := r.ReadAt(chunk, start); err != nil && !errors.Is(err, io.EOF) {
			return 0, fmt.Errorf("read at offset %d: %w", start, err)
		}
		trimmed := bytes.TrimRight(chunk, "\x00")
		if len(trimmed) > 0 {
			return start + int64(len(trimmed)), nil
		}
		end = start
	}
	return 0, nil
}

// countIntact counts the records that verify from off on, up to the first
// that does not or the end of the file: what damage at an earlier offset
// puts at stake.
func countIntact(r io.ReaderAt, size, off int64) (int, error) {
	if off < walHeaderBytes || off > size {
		return 0, nil
	}
	n := 0
	var rec [walRecordHeader]byte
	for size-off >= walRecordHeader {
		if _, err := r.ReadAt(rec[:], off); err != nil {
			return n, fmt.Errorf("read at offset %d: %w", off, err)
		}
		length := int64(binary.LittleEndian.Uint32(rec[0:]))
		if length > walMaxRecordBytes || off+walRecordHeader+length > size {
			break
		}
		payload := make([]byte, length)
		if _, err := r.ReadAt(payload, off+walRecordHeader); err != nil && !errors.Is(err, io.EOF) {
			return n, fmt.Errorf("read at offset %d: %w", off, err)
		}
		if crcUpdate(checksum(rec[0:4]), payload) != binary.LittleEndian.Uint32(rec[4:]) {
			break
		}
		n++
		off += walRecordHeader + length
	}
	return n, nil
}

// describeDamage phrases what a fault puts at stake, for a CorruptionError.
func describeDamage(r io.ReaderAt, size int64, f *walFault) (string, error) {
	msg := fmt.Sprintf("%s; %d bytes from here to the end of the file", f.Reason, size-f.Offset)
	if f.End >= 0 && f.End <= size {
		n, err := countIntact(r, size, f.End)
		if err != nil {
			return "", err
		}
		msg += fmt.Sprintf(", %d intact records after it", n)
	}
	return msg, nil
}

// replayFile reads the records of file seq and hands them to replay. In
// the last file a torn tail is truncated; anywhere else, and for damage in
// the last file too, it returns a CorruptionError and changes nothing. It
// returns the record count and the file's size after any truncation (0
// when the file was removed).
func (w *WAL) replayFile(seq uint64, last bool, replay func(WALPosition, []byte) error) (int, int64, error) {
	path := w.path(seq)
	f, err := w.opts.FS.OpenAppend(path)
	if err != nil {
		return 0, 0, fmt.Errorf("open %s: %w", path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return 0, 0, fmt.Errorf("stat %s: %w", path, err)
	}
	size := st.Size()
	var replayErr error
	n, fault, err := scanWALFile(f, size, seq, func(off int64, payload []byte) error {
		replayErr = replay(WALPosition{Seq: seq, Offset: off}, payload)
		return replayErr
	})
	if replayErr != nil {
		return n, 0, replayErr
	}
	if err != nil {
		return n, 0, fmt.Errorf("%s: %w", path, err)
	}
	if fault == nil {
		// Replay may have read bytes that were never fsynced (an earlier
		// process's fsync failed): make them durable before anything
		// acknowledged later depends on them.
		if err := f.Sync(); err != nil {
			return n, 0, fmt.Errorf("fsync %s: %w", path, err)
		}
		return n, size, nil
	}
	if !last || !fault.Torn {
		msg, err := describeDamage(f, size, fault)
		if err != nil {
			return n, 0, fmt.Errorf("%s: %w", path, err)
		}
		if !last {
			msg += " (not the last file, so no crash explains it)"
		}
		return n, 0, corruptf(path, fault.Offset, "%s; the log was left as it was: `arb repair wal` shows what dropping it loses", msg)
	}
	if fault.Offset < walHeaderBytes {
		// Crashed while creating the file: it holds no record.
		w.log.Warn("wal: removing file with a torn header", "file", path, "bytes", size, "reason", fault.Reason)
		f.Close()
		if err := w.opts.FS.Remove(path); err != nil {
			return 0, 0, fmt.Errorf("remove %s: %w", path, err)
		}
		return 0, 0, nil
	}
	return n, fault.Offset, w.truncateTail(f, path, fault.Offset, size, fault.Reason)
}

// truncateTail cuts a torn tail off the last WAL file and syncs it.
func (w *WAL) truncateTail(f File, path string, off, size int64, why string) error {
	w.log.Warn("wal: truncating torn tail", "file", path, "offset", off, "bytes_dropped", size-off, "reason", why)
	if err := f.Truncate(off); err != nil {
		return fmt.Errorf("truncate %s to %d: %w", path, off, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("fsync %s: %w", path, err)
	}
	return nil
}

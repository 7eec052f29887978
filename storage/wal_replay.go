package storage

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
)

// replayFile reads the records of file seq and hands them to replay. In
// the last file a torn tail is truncated; anywhere else damage is a
// CorruptionError. It returns the record count and the file's size after
// any truncation (0 when the file was removed).
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
	if size < walHeaderBytes {
		if !last {
			return 0, 0, corruptf(path, 0, "file of %d bytes is shorter than its %d-byte header", size, walHeaderBytes)
		}
		// Crashed while creating the file: it holds no record.
		w.log.Warn("wal: removing file with a torn header", "file", path, "bytes", size)
		f.Close()
		if err := w.opts.FS.Remove(path); err != nil {
			return 0, 0, fmt.Errorf("remove %s: %w", path, err)
		}
		return 0, 0, nil
	}
	r := bufio.NewReaderSize(io.NewSectionReader(f, 0, size), 1<<20)
	hdr := make([]byte, walHeaderBytes)
	if _, err := io.ReadFull(r, hdr); err != nil {
		return 0, 0, fmt.Errorf("read %s: %w", path, err)
	}
	if string(hdr[:8]) != walMagic {
		return 0, 0, corruptf(path, 0, "not a write-ahead log file (bad magic %q)", hdr[:8])
	}
	if got := binary.LittleEndian.Uint64(hdr[8:]); got != seq {
		return 0, 0, corruptf(path, 8, "header names sequence %d, file name %d", got, seq)
	}

	off := int64(walHeaderBytes)
	var rec [walRecordHeader]byte
	var payload []byte
	n := 0
	for off < size {
		torn := func(format string, args ...any) (int, int64, error) {
			if !last {
				return n, 0, corruptf(path, off, format, args...)
			}
			return n, off, w.truncateTail(f, path, off, size, fmt.Sprintf(format, args...))
		}
		if size-off < walRecordHeader {
			return torn("record header cut short (%d of %d bytes)", size-off, walRecordHeader)
		}
		if _, err := io.ReadFull(r, rec[:]); err != nil {
			return n, 0, fmt.Errorf("read %s at offset %d: %w", path, off, err)
		}
		length := int64(binary.LittleEndian.Uint32(rec[0:]))
		stored := binary.LittleEndian.Uint32(rec[4:])
		end := off + walRecordHeader + length
		if length > walMaxRecordBytes {
			return n, 0, corruptf(path, off, "record length %d exceeds the %d-byte limit", length, walMaxRecordBytes)
		}
		if end > size {
			return torn("record of %d bytes runs past the end of the file (%d bytes)", length, size)
		}
		if int64(cap(payload)) < length {
			payload = make([]byte, length)
		}
		payload = payload[:length]
		if _, err := io.ReadFull(r, payload); err != nil {
			return n, 0, fmt.Errorf("read %s at offset %d: %w", path, off, err)
		}
		if got := crcUpdate(checksum(rec[0:4]), payload); got != stored {
			if end == size {
				return torn("last record fails its checksum (stored %08x, computed %08x)", stored, got)
			}
			return n, 0, corruptf(path, off, "record checksum mismatch (stored %08x, computed %08x) with %d bytes after it",
				stored, got, size-end)
		}
		if err := replay(WALPosition{Seq: seq, Offset: off}, payload); err != nil {
			return n, 0, err
		}
		n++
		off = end
	}
	return n, size, nil
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

package storage

// Users are numbered per shard: each distinct_id gets a dense uint32 the
// first time it is seen, so uniques, cohorts and retention are bitmap
// operations over user numbers.
//
// File layout (<data-dir>/users/<project>.users), append-only:
//
//	+---------+-----------+-----------+-----
//	| magic   | chunk 1   | chunk 2   | ...
//	| 8 bytes |           |           |
//	+---------+-----------+-----------+-----
//	chunk: | length uint32 LE | CRC-32C uint32 LE of the entries | entries |
//	entry: | uvarint byte length | distinct_id bytes |
//
// One chunk is appended and fsynced per flush, before the manifest that
// counts its users is published. The manifest's user count is the
// authority: entries beyond it (a flush that crashed before its manifest)
// are cut off at open, and fewer entries than it is corruption.

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"path/filepath"
)

// usersMagic starts every user dictionary file. Wire format: never change.
const usersMagic = "ARBUSR01"

// userDict maps distinct_id ↔ user number. Guarded by the project's lock.
type userDict struct {
	ids     []string          // number → distinct_id
	numbers map[string]uint32 // distinct_id → number
	// persisted is how many leading entries of ids are durable in the file,
	// and fileBytes the length of the file up to the last of them.
	persisted int
	fileBytes int64
}

func newUserDict() *userDict { return &userDict{numbers: map[string]uint32{}} }

// number returns the user number of id, assigning the next one if new.
func (d *userDict) number(id string) uint32 {
	if n, ok := d.numbers[id]; ok {
		return n
	}
	if len(d.ids) >= math.MaxUint32 {
		panic("BUG: more than 2^32-1 users in one shard")
	}
	n := uint32(len(d.ids))
	d.ids = append(d.ids, id)
	d.numbers[id] = n
	return n
}

// Len is the number of users known.
func (d *userDict) Len() int { return len(d.ids) }

// loadUserDict reads the first want entries of path. A missing file is an
// empty dictionary when want is 0.
func loadUserDict(fs FS, path string, want int) (*userDict, error) {
	d := newUserDict()
	if want == 0 {
		return d, nil
	}
	f, err := fs.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open user dictionary: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(data) < len(usersMagic) || string(data[:len(usersMagic)]) != usersMagic {
		return nil, corruptf(path, 0, "not a user dictionary (bad magic)")
	}
	off := len(usersMagic)
	for len(d.ids) < want {
		if len(data)-off < 8 {
			return nil, corruptf(path, int64(off), "file ends after %d users; the manifest counts %d", len(d.ids), want)
		}
		n := int(binary.LittleEndian.Uint32(data[off:]))
		sum := binary.LittleEndian.Uint32(data[off+4:])
		if n > len(data)-off-8 {
			return nil, corruptf(path, int64(off), "chunk of %d bytes runs past the end of the file", n)
		}
		chunk := data[off+8 : off+8+n]
		if got := checksum(chunk); got != sum {
			return nil, corruptf(path, int64(off), "chunk checksum mismatch (stored %08x, computed %08x)", sum, got)
		}
		for len(chunk) > 0 {
			l, k := binary.Uvarint(chunk)
			if k <= 0 || l > uint64(len(chunk)-k) {
				return nil, corruptf(path, int64(off), "bad entry length in chunk")
			}
			// Each entry is the next user number: a repeated distinct_id
			// would shift every later user onto another's number.
			id := string(chunk[k : k+int(l)])
			if n, dup := d.numbers[id]; dup {
				return nil, corruptf(path, int64(off), "distinct_id %q listed twice (users %d and %d)", id, n, len(d.ids))
			}
			d.number(id)
			chunk = chunk[k+int(l):]
		}
		off += 8 + n
	}
	if len(d.ids) != want {
		return nil, corruptf(path, int64(off), "chunk boundary holds %d users; the manifest counts %d", len(d.ids), want)
	}
	d.persisted = want
	d.fileBytes = int64(off)
	return d, nil
}

// appendUserChunk makes ids durable at the end of path, after the first
// persisted entries: it truncates whatever a crashed flush left beyond
// them (offset validBytes), appends one chunk and fsyncs.
func appendUserChunk(fs FS, path string, validBytes int64, ids []string) (int64, error) {
	if len(ids) == 0 {
		return validBytes, nil
	}
	var f File
	var err error
	var buf []byte
	if validBytes == 0 {
		// First chunk: start the file afresh, whatever a crashed flush left.
		if f, err = fs.Create(path); err == nil {
			err = fs.SyncDir(filepath.Dir(path))
		}
		buf = append(buf, usersMagic...)
	} else {
		f, err = fs.OpenAppend(path)
	}
	if err != nil {
		return 0, fmt.Errorf("open %s: %w", path, err)
	}
	defer f.Close()
	if err := f.Truncate(validBytes); err != nil {
		return 0, fmt.Errorf("truncate %s: %w", path, err)
	}
	var entries []byte
	for _, id := range ids {
		entries = binary.AppendUvarint(entries, uint64(len(id)))
		entries = append(entries, id...)
	}
	buf = binary.LittleEndian.AppendUint32(buf, uint32(len(entries)))
	buf = binary.LittleEndian.AppendUint32(buf, checksum(entries))
	buf = append(buf, entries...)
	if _, err := f.Write(buf); err != nil {
		return 0, fmt.Errorf("append to %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return 0, fmt.Errorf("fsync %s: %w", path, err)
	}
	return validBytes + int64(len(buf)), nil
}

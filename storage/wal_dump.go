package storage

// DumpWAL prints a WAL file for people (`arb debug wal FILE`): the header,
// one line per record, and where and why the file stops verifying. It
// reads with the same scanner as replay (wal_replay.go), so what it calls
// torn or damaged is exactly what OpenWAL would do with the last file.

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"strings"
)

// recordKindNames are the names of the store's WAL record kinds
// (store.go), as dumps print them and docs/format/wal.md lists them
// (format_docs_test.go keeps the two in step).
var recordKindNames = map[recordKind]string{
	kindEvents:     "events",
	kindCatalog:    "catalog",
	kindPeople:     "people",
	kindProfiles:   "profiles",
	kindProfileOps: "profile_ops",
	kindGrants:     "grants",
}

func (k recordKind) String() string {
	if n, ok := recordKindNames[k]; ok {
		return n
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// DumpWAL writes a readable listing of the WAL file at path. A file that
// stops verifying is listed up to the failure, which is described; damage
// (not a torn tail) is also returned as a *CorruptionError.
func DumpWAL(w io.Writer, fs FS, path string) error {
	f, err := fs.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("stat %s: %w", path, err)
	}
	size := st.Size()
	var b strings.Builder
	seq, named := parseWALFileName(filepath.Base(path))
	if size >= walHeaderBytes {
		hdr := make([]byte, walHeaderBytes)
		if _, err := f.ReadAt(hdr, 0); err != nil {
			return fmt.Errorf("read %s: %w", path, err)
		}
		fmt.Fprintf(&b, "wal %s: %d bytes, magic %q, sequence %d\n", path, size, hdr[:8], binary.LittleEndian.Uint64(hdr[8:]))
	} else {
		fmt.Fprintf(&b, "wal %s: %d bytes\n", path, size)
	}
	if !named {
		seq = 0 // not checked against the header
	}
	n, fault, err := scanWALFile(f, size, seq, func(off int64, payload []byte) error {
		fmt.Fprintf(&b, "offset %d: %d bytes, %s\n", off, len(payload), describeRecord(payload))
		return nil
	})
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	var damage error
	switch {
	case fault == nil:
		fmt.Fprintf(&b, "%d records; the file ends at a record boundary\n", n)
	case fault.Torn:
		fmt.Fprintf(&b, "offset %d: torn tail: %s (%d bytes; if this is the last file, opening the log truncates them)\n",
			fault.Offset, fault.Reason, size-fault.Offset)
		fmt.Fprintf(&b, "%d records before it\n", n)
	default:
		msg, err := describeDamage(f, size, fault)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		fmt.Fprintf(&b, "offset %d: DAMAGED: %s\n%d records before it\n", fault.Offset, msg, n)
		damage = corruptf(path, fault.Offset, "%s", msg)
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return err
	}
	return damage
}

// describeRecord names a payload's kind, project and row count.
func describeRecord(payload []byte) string {
	if len(payload) == 0 {
		return "empty payload"
	}
	kind := recordKind(payload[0])
	switch kind {
	case kindEvents, kindPeople:
		batch, err := DecodeEventBatch(payload[1:])
		if err != nil {
			return fmt.Sprintf("%s, undecodable: %v", kind, err)
		}
		return fmt.Sprintf("%s, project %q, %d rows", kind, batch.Project, len(batch.Events))
	case kindCatalog:
		var c catalogRecord
		if err := json.Unmarshal(payload[1:], &c); err != nil {
			return fmt.Sprintf("%s, undecodable: %v", kind, err)
		}
		return fmt.Sprintf("%s, project %q, op %q", kind, c.Name, c.Op)
	case kindProfiles:
		d := &batchDecoder{src: payload, off: 1}
		table := d.string()
		if d.err != nil {
			return fmt.Sprintf("%s, undecodable: %v", kind, d.err)
		}
		batch, err := DecodeEventBatch(payload[d.off:])
		if err != nil {
			return fmt.Sprintf("%s, table %q, undecodable: %v", kind, table, err)
		}
		return fmt.Sprintf("%s, project %q, table %s, %d rows", kind, batch.Project, table, len(batch.Events))
	}
	return fmt.Sprintf("%s, unknown to this arb", kind)
}

package storage

// A trailed file ends with its index (footer) and a fixed trailer that
// locates it, as user index runs and user state runs do:
//
//	| magic 8 bytes | ... | section | section length uint32 LE |
//	| CRC-32C uint32 LE of the section | trailer magic 8 bytes |
//
// readTrailedSection checks the magics and the section's checksum and
// returns the section with its offset; what lies between the magic and
// the section is the caller's.

import (
	"encoding/binary"
	"fmt"
)

const trailedTrailerLen = 16

func readTrailedSection(f File, path, what, magic, trailer string) (section []byte, off, size int64, err error) {
	st, err := f.Stat()
	if err != nil {
		return nil, 0, 0, fmt.Errorf("stat %s: %w", path, err)
	}
	size = st.Size()
	if size < int64(len(magic))+trailedTrailerLen {
		return nil, 0, 0, corruptf(path, 0, "%s of %d bytes is too short", what, size)
	}
	head := make([]byte, len(magic))
	if _, err := f.ReadAt(head, 0); err != nil {
		return nil, 0, 0, fmt.Errorf("read %s: %w", path, err)
	}
	if string(head) != magic {
		return nil, 0, 0, corruptf(path, 0, "not a %s (bad magic)", what)
	}
	tr := make([]byte, trailedTrailerLen)
	if _, err := f.ReadAt(tr, size-trailedTrailerLen); err != nil {
		return nil, 0, 0, fmt.Errorf("read %s: %w", path, err)
	}
	if string(tr[8:]) != trailer {
		return nil, 0, 0, corruptf(path, size-trailedTrailerLen, "bad %s trailer (file cut short?)", what)
	}
	n := int64(binary.LittleEndian.Uint32(tr))
	off = size - trailedTrailerLen - n
	if off < int64(len(magic)) {
		return nil, 0, 0, corruptf(path, size-trailedTrailerLen, "footer of %d bytes runs before the start of the file", n)
	}
	section = make([]byte, n)
	if _, err := f.ReadAt(section, off); err != nil {
		return nil, 0, 0, fmt.Errorf("read %s: %w", path, err)
	}
	if got, want := checksum(section), binary.LittleEndian.Uint32(tr[4:]); got != want {
		return nil, 0, 0, corruptf(path, off, "footer checksum mismatch (stored %08x, computed %08x)", want, got)
	}
	return section, off, size, nil
}

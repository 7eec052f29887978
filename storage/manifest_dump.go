package storage

// DumpManifest prints a MANIFEST for people (`arb debug manifest FILE`):
// the frame and the decoded, checked body. It decodes with the store's own
// decodeManifest, so what it prints is what the store would load.

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
)

// DumpManifest writes a readable listing of the manifest at path: the
// frame, a summary line per project, then the body as indented JSON with
// each project's API secret replaced by its length (a dump is pasted into
// bug reports; the secret authorizes /import). Damage is returned as
// decodeManifest reports it (ErrCorruption).
func DumpManifest(w io.Writer, fs FS, path string) error {
	data, err := readWholeFile(fs, path)
	if err != nil {
		return err
	}
	m, err := decodeManifest(data, path)
	if err != nil {
		return err
	}
	out := fmt.Sprintf("manifest %s: %d bytes, magic %s, body %d bytes, CRC-32C %08x (verified)\n",
		path, len(data), data[:8], len(data)-framedHeaderBytes, binary.LittleEndian.Uint32(data[12:]))
	out += fmt.Sprintf("version %d, wal_start_seq %d, next_file_number %d, %d projects\n",
		m.Version, m.WALStartSeq, m.NextFileNumber, len(m.Projects))
	for i := range m.Projects {
		p := &m.Projects[i]
		rows := 0
		for _, s := range p.Segments {
			rows += s.Rows
		}
		out += fmt.Sprintf("project %q: %d columns, %d segments, %d rows in segments, %d users, %d user state runs, people file %q\n",
			p.Name, len(p.Columns), len(p.Segments), rows, p.Users, len(p.UserState), p.PeopleFile)
		p.Secret = fmt.Sprintf("(%d characters, not shown)", len(p.Secret))
	}
	body, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("encode manifest: %w", err)
	}
	_, err = io.WriteString(w, out+string(body)+"\n")
	return err
}

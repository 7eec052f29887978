package storage

// The manifest names everything live in a data directory: projects with
// their credentials and schemas, the segments of each project, the number
// of durable users and the people snapshot, and the first WAL file still
// needed. It is replaced atomically (WriteFileAtomic) after the files it
// names are durable; files it does not name are removed at open.
//
// File layout (<data-dir>/MANIFEST):
//
//	+----------+----------------+------------------+----------------+
//	| magic    | length uint32  | CRC-32C uint32   | JSON body      |
//	| 8 bytes  | LE, of body    | LE, of body      | length bytes   |
//	+----------+----------------+------------------+----------------+
//
// The body is JSON (manifestBody) so that an operator can read it; its
// "version" field is the format version.

import (
	"encoding/json"
	"fmt"
	"strings"
)

// manifestMagic starts the manifest file. Wire format: never change.
const manifestMagic = "ARBMAN01"

// manifestVersion is the body format version this code writes and reads.
const manifestVersion = 1

type manifestBody struct {
	Version int `json:"version"`
	// WALStartSeq is the first WAL file whose records are not all in
	// segments: replay starts there; earlier files may be deleted.
	WALStartSeq uint64 `json:"wal_start_seq"`
	// NextFileNumber numbers the next segment or people file. Every file
	// numbered at or above it was written after this manifest by a flush
	// or compaction that never published: its rows are still in the WAL
	// (flush) or in the inputs this manifest names (compaction).
	NextFileNumber uint64 `json:"next_file_number"`
	// AppliedIndex is, in cluster mode, the index of the last replicated
	// log entry whose writes are all in the files this manifest names
	// (replicated_log.go); 0 outside cluster mode.
	AppliedIndex uint64            `json:"applied_index,omitempty"`
	Projects     []manifestProject `json:"projects"`
	// Obsolete lists files (paths relative to the data directory) that
	// this manifest or an earlier one replaced and that may not be deleted
	// yet: open deletes them. Every file below NextFileNumber that no
	// manifest field names is unaccounted for, and open refuses to start.
	Obsolete []string `json:"obsolete,omitempty"`
}

type manifestProject struct {
	Name   string `json:"name"`
	Token  string `json:"token"`
	Secret string `json:"secret"`
	// Shards is the count of a sharded project's shards (shards.go),
	// omitted for others; its shards are projects of their own.
	Shards        int               `json:"shards,omitempty"`
	Columns       []Column          `json:"columns"`
	BigInts       []string          `json:"big_int_columns,omitempty"`
	PeopleColumns []Column          `json:"people_columns"`
	GroupColumns  []Column          `json:"group_columns,omitempty"`
	Users         int               `json:"users"`
	UsersBytes    int64             `json:"users_bytes"`
	Segments      []manifestSegment `json:"segments"`
	PeopleFile    string            `json:"people_file,omitempty"`
	// UserIndex lists the user index runs (user_index.go), by user range:
	// together they cover users [0, End of the last), a prefix of Users.
	UserIndex []manifestUserIndex `json:"user_index,omitempty"`
	// UserState lists the user state runs (user_state_run.go), oldest
	// first: identity chunks and people profiles by user number.
	UserState []manifestUserState `json:"user_state,omitempty"`
}

type manifestUserState struct {
	File    string `json:"file"`
	Entries int    `json:"entries"` // keys the run holds, tombstones included
}

type manifestUserIndex struct {
	File  string `json:"file"`
	First int    `json:"first"` // first user number covered
	End   int    `json:"end"`   // one past the last
}

type manifestSegment struct {
	File  string `json:"file"`
	Day   string `json:"day"` // UTC, YYYY-MM-DD
	Rows  int    `json:"rows"`
	Bytes int64  `json:"bytes"`
	// Level says how the segment was made (compaction.go): 0 by a flush
	// (rows in time order), 1 by merging a day's newer segments, 2 by
	// merging all of a day's segments (both sorted by user, then time).
	Level int `json:"level,omitempty"`
}

func encodeManifest(m *manifestBody) ([]byte, error) {
	body, err := json.MarshalIndent(m, "", " ")
	if err != nil {
		return nil, fmt.Errorf("encode manifest: %w", err)
	}
	return encodeFramed(manifestMagic, body), nil
}

// decodeManifest checks and decodes a manifest; name is used in errors.
func decodeManifest(data []byte, name string) (*manifestBody, error) {
	body, err := decodeFramed(data, manifestMagic, name)
	if err != nil {
		return nil, err
	}
	return parseManifestBody(body, name)
}

// parseManifestBody decodes and checks a manifest's JSON body.
func parseManifestBody(body []byte, name string) (*manifestBody, error) {
	var m manifestBody
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, corruptf(name, framedHeaderBytes, "bad body: %v", err)
	}
	if m.Version != manifestVersion {
		return nil, fmt.Errorf("%s: manifest version %d; this arb reads version %d", name, m.Version, manifestVersion)
	}
	for _, p := range m.Projects {
		for _, c := range append(append([]Column(nil), p.Columns...), p.PeopleColumns...) {
			if !c.Type.Valid() || c.Type == TypeNull {
				return nil, corruptf(name, framedHeaderBytes, "project %s: column %q has unknown type %d", p.Name, c.Name, c.Type)
			}
		}
	}
	if err := m.checkNames(); err != nil {
		return nil, corruptf(name, framedHeaderBytes, "%v", err)
	}
	return &m, nil
}

// checkNames refuses names and counts that no writer makes. Names become
// paths that open and compaction read, create and delete: one with a
// "/" or ".." would reach outside the data directory, and a file named
// twice would be compacted or deleted under another owner (live files
// are named once and are never listed as obsolete).
func (m *manifestBody) checkNames() error {
	named := map[string]bool{}
	once := func(rel string) error {
		if named[rel] {
			return fmt.Errorf("file %s is named twice", rel)
		}
		named[rel] = true
		return nil
	}
	for _, p := range m.Projects {
		if p.Name == "" || strings.ContainsAny(p.Name, "/\\\x00") {
			return fmt.Errorf("project name %q is not a plain name", p.Name)
		}
		if p.Users < 0 || p.UsersBytes < 0 {
			return fmt.Errorf("project %s: %d users in %d bytes", p.Name, p.Users, p.UsersBytes)
		}
		if err := once(usersDirName + "/" + usersFileName(p.Name)); err != nil {
			return err
		}
		end := 0
		for _, r := range p.UserIndex {
			if _, ok := parseSeqName(r.File, ".uix"); !ok || r.First != end || r.End < r.First || r.End > p.Users {
				return fmt.Errorf("project %s: user index %q of users [%d, %d) (runs must cover [0, %d users) in order)", p.Name, r.File, r.First, r.End, p.Users)
			}
			end = r.End
			if err := once(usersDirName + "/" + r.File); err != nil {
				return err
			}
		}
		for _, r := range p.UserState {
			if _, ok := parseSeqName(r.File, ".ust"); !ok || r.Entries < 0 {
				return fmt.Errorf("project %s: user state run %q of %d entries", p.Name, r.File, r.Entries)
			}
			if err := once(usersDirName + "/" + r.File); err != nil {
				return err
			}
		}
		for _, s := range p.Segments {
			if _, ok := parseSegmentFileName(s.File); !ok || s.Rows < 0 || s.Bytes < 0 || s.Level < levelFlushed || s.Level > levelMergedWhole {
				return fmt.Errorf("project %s: segment %q (%d rows, %d bytes, level %d)", p.Name, s.File, s.Rows, s.Bytes, s.Level)
			}
			if err := once(segDirName + "/" + s.File); err != nil {
				return err
			}
		}
		if p.PeopleFile != "" {
			if _, ok := parseSeqName(p.PeopleFile, ".people"); !ok {
				return fmt.Errorf("project %s: people file %q is not a people file name", p.Name, p.PeopleFile)
			}
			if err := once(peopleDir + "/" + p.PeopleFile); err != nil {
				return err
			}
		}
	}
	for _, rel := range m.Obsolete {
		dir, file, _ := strings.Cut(rel, "/")
		if !isImmutableName(dir, file) {
			return fmt.Errorf("obsolete file %q is not a segment, people or user index file", rel)
		}
		if named[rel] {
			return fmt.Errorf("file %s is both live and obsolete", rel)
		}
	}
	return nil
}

// readManifest loads path; ok is false when there is none yet.
func readManifest(fs FS, path string) (m *manifestBody, ok bool, err error) {
	body, err := readFramedFile(fs, path, manifestMagic)
	if isNotExist(err) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("manifest: %w", err)
	}
	m, err = parseManifestBody(body, path)
	return m, err == nil, err
}

package storage

// A people file holds one project's side tables at one flush, named by
// the manifest: the people table, the groups table and the identity
// union-find. Written before user state runs (user_state.go) and only
// read since: opening one migrates it (migratePeopleFile). Layout (framed_file.go):
//
//	+----------+---------------+----------------+------+
//	| magic    | length uint32 | CRC-32C uint32 | body |
//	| 8 bytes  | LE            | LE, of body    |      |
//	+----------+---------------+----------------+------+
//	body (ARBPPL02): | uvarint n | people EventBatch (n bytes) |
//	                 | uvarint n | groups EventBatch (n bytes) |
//	                 | uvarint n | identity state (n bytes, identity.go) |
//	body (ARBPPL01, still read): people EventBatch
//
// Each event of a batch is one profile: DistinctID is its key (the
// distinct_id, or groupRowKey(group_key, group_id)) and Props its
// properties.

import (
	"encoding/binary"
	"fmt"
)

// People file magics. Wire format: never change.
const (
	peopleMagicV1 = "ARBPPL01"
	peopleMagic   = "ARBPPL02"
)

// profilesState is the content of a people file.
type profilesState struct {
	people, groups []Person
	identity       []byte // identity.encode output; nil: no merges
}

func encodePeopleFile(project string, st *profilesState) []byte {
	var body []byte
	for _, rows := range [][]Person{st.people, st.groups} {
		b := &EventBatch{Project: project, Events: make([]Event, len(rows))}
		for i, p := range rows {
			b.Events[i] = Event{DistinctID: p.DistinctID, Props: p.Props}
		}
		enc := AppendEventBatch(nil, b)
		body = binary.AppendUvarint(body, uint64(len(enc)))
		body = append(body, enc...)
	}
	body = binary.AppendUvarint(body, uint64(len(st.identity)))
	body = append(body, st.identity...)
	return encodeFramed(peopleMagic, body)
}

// migratePeopleFile moves the content of a people file (written before
// user state runs) into the project's user state overlay: the next
// flush writes it as a run and drops the file, in one manifest.
// REQUIRES: the project is being opened.
func (p *Project) migratePeopleFile(st *profilesState) error {
	for _, r := range st.groups {
		if err := p.ustate.setGroup(r.DistinctID, r.Props, false); err != nil {
			return err
		}
	}
	if len(st.identity) > 0 {
		if err := migrateIdentity(p.ustate, st.identity, p.users.Len()); err != nil {
			return err
		}
	}
	for _, r := range st.people {
		u, err := p.userNumberLocked(r.DistinctID)
		if err != nil {
			return err
		}
		p.ustate.setPerson(u, r.Props, false)
	}
	return nil
}

func readPeopleFile(fs FS, path string) (*profilesState, error) {
	data, err := readWholeFile(fs, path)
	if err != nil {
		return nil, fmt.Errorf("people file: %w", err)
	}
	if len(data) >= len(peopleMagicV1) && string(data[:len(peopleMagicV1)]) == peopleMagicV1 {
		body, err := decodeFramed(data, peopleMagicV1, path)
		if err != nil {
			return nil, fmt.Errorf("people file: %w", err)
		}
		people, err := decodeProfiles(path, body)
		return &profilesState{people: people}, err
	}
	body, err := decodeFramed(data, peopleMagic, path)
	if err != nil {
		return nil, fmt.Errorf("people file: %w", err)
	}
	d := &batchDecoder{src: body}
	part := func() []byte {
		n := d.uvarint()
		if d.err == nil && n > uint64(len(body)-d.off) {
			d.fail("section of %d bytes runs past the end", n)
		}
		if d.err != nil {
			return nil
		}
		b := body[d.off : d.off+int(n)]
		d.off += int(n)
		return b
	}
	peopleBody, groupsBody, ident := part(), part(), part()
	if d.err == nil && d.off != len(body) {
		d.fail("%d bytes after the last section", len(body)-d.off)
	}
	if d.err != nil {
		return nil, corruptf(path, framedHeaderBytes+int64(d.off), "%v", d.err)
	}
	st := &profilesState{identity: ident}
	if st.people, err = decodeProfiles(path, peopleBody); err != nil {
		return nil, err
	}
	if st.groups, err = decodeProfiles(path, groupsBody); err != nil {
		return nil, err
	}
	return st, nil
}

func decodeProfiles(path string, body []byte) ([]Person, error) {
	b, err := DecodeEventBatch(body)
	if err != nil {
		return nil, corruptf(path, framedHeaderBytes, "%v", err)
	}
	rows := make([]Person, len(b.Events))
	for i, e := range b.Events {
		rows[i] = Person{DistinctID: e.DistinctID, Props: e.Props}
	}
	return rows, nil
}

package storage

// A people file is the whole people table of one project at one flush,
// named by the manifest. Layout:
//
//	+----------+---------------+----------------+----------------------+
//	| magic    | length uint32 | CRC-32C uint32 | EventBatch encoding  |
//	| 8 bytes  | LE            | LE, of batch   | (wal_batch.go)       |
//	+----------+---------------+----------------+----------------------+
//
// Each event of the batch is one person: DistinctID and Props.

import (
	"encoding/binary"
	"fmt"
	"io"
)

// peopleMagic starts a people file. Wire format: never change.
const peopleMagic = "ARBPPL01"

func encodePeopleFile(project string, people []Person) []byte {
	b := &EventBatch{Project: project, Events: make([]Event, len(people))}
	for i, p := range people {
		b.Events[i] = Event{DistinctID: p.DistinctID, Props: p.Props}
	}
	body := AppendEventBatch(nil, b)
	buf := append([]byte(peopleMagic), make([]byte, 8)...)
	binary.LittleEndian.PutUint32(buf[8:], uint32(len(body)))
	binary.LittleEndian.PutUint32(buf[12:], checksum(body))
	return append(buf, body...)
}

func readPeopleFile(fs FS, path string) ([]Person, error) {
	f, err := fs.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open people file: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	const head = len(peopleMagic) + 8
	if len(data) < head || string(data[:len(peopleMagic)]) != peopleMagic {
		return nil, corruptf(path, 0, "not a people file (bad magic or shorter than its header)")
	}
	n := binary.LittleEndian.Uint32(data[8:])
	if int64(n) != int64(len(data)-head) {
		return nil, corruptf(path, 8, "body length %d does not match file size %d", n, len(data))
	}
	if sum, got := binary.LittleEndian.Uint32(data[12:]), checksum(data[head:]); sum != got {
		return nil, corruptf(path, int64(head), "checksum mismatch (stored %08x, computed %08x)", sum, got)
	}
	b, err := DecodeEventBatch(data[head:])
	if err != nil {
		return nil, corruptf(path, int64(head), "%v", err)
	}
	people := make([]Person, len(b.Events))
	for i, e := range b.Events {
		people[i] = Person{DistinctID: e.DistinctID, Props: e.Props}
	}
	return people, nil
}

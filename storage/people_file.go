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
	"fmt"
)

// peopleMagic starts a people file. Wire format: never change.
const peopleMagic = "ARBPPL01"

func encodePeopleFile(project string, people []Person) []byte {
	b := &EventBatch{Project: project, Events: make([]Event, len(people))}
	for i, p := range people {
		b.Events[i] = Event{DistinctID: p.DistinctID, Props: p.Props}
	}
	return encodeFramed(peopleMagic, AppendEventBatch(nil, b))
}

func readPeopleFile(fs FS, path string) ([]Person, error) {
	body, err := readFramedFile(fs, path, peopleMagic)
	if err != nil {
		return nil, fmt.Errorf("people file: %w", err)
	}
	b, err := DecodeEventBatch(body)
	if err != nil {
		return nil, corruptf(path, framedHeaderBytes, "%v", err)
	}
	people := make([]Person, len(b.Events))
	for i, e := range b.Events {
		people[i] = Person{DistinctID: e.DistinctID, Props: e.Props}
	}
	return people, nil
}

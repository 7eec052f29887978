package storage

import (
	"fmt"
	"sync"
	"testing"
)

// TestDedupAcrossMemorySegmentsAndConcurrentBatches sends the same events
// again and again: concurrently, after a flush (the copies are then in a
// segment), and after a crash and replay. Each must be stored once.
func TestDedupAcrossMemorySegmentsAndConcurrentBatches(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, dir, nil)
	p, err := s.CreateProject("d", "", "")
	if err != nil {
		t.Fatal(err)
	}
	proj, _ := s.Project(p.Name)
	batch := func() []Event { return testEvents(500, 7) }
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := proj.Ingest(batch()); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	check := func(stage string) {
		t.Helper()
		n, ids := countRows(t, s, "d")
		if n != 500 || len(ids) != 500 {
			t.Fatalf("%s: %d rows, %d insert ids; want 500 once each", stage, n, len(ids))
		}
	}
	check("concurrent copies")
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := proj.Ingest(batch()); err != nil {
		t.Fatal(err)
	}
	check("copies of events in a segment")
	// Same insert id but another time: a different event, kept.
	e := batch()[:1]
	e[0].TimeMillis++
	if err := proj.Ingest(e); err != nil {
		t.Fatal(err)
	}
	if n, _ := countRows(t, s, "d"); n != 501 {
		t.Fatalf("%d rows; an event differing in time only must be kept", n)
	}
	crash(s)
	s = openTestStore(t, dir, nil)
	defer s.Close()
	proj, _ = s.Project("d")
	if err := proj.Ingest(batch()); err != nil {
		t.Fatal(err)
	}
	if n, _ := countRows(t, s, "d"); n != 501 {
		t.Fatalf("after replay: %d rows, want 501", n)
	}
}

// TestIdentityCanonicalIsOrderIndependent links the same ids in every
// order of three link events and checks one canonical id, the user id,
// survives a flush, a crash and replay.
func TestIdentityCanonicalIsOrderIndependent(t *testing.T) {
	links := []Event{
		{Name: "A", DistinctID: "$device:d1", InsertID: "1", TimeMillis: 1e12, Props: []Prop{{"$device_id", StringValue("d1")}}},
		{Name: "B", DistinctID: "alice", InsertID: "2", TimeMillis: 1e12, Props: []Prop{{"$device_id", StringValue("d1")}, {"$user_id", StringValue("alice")}}},
		{Name: "$create_alias", DistinctID: "alice", InsertID: "3", TimeMillis: 1e12, Props: []Prop{{"alias", StringValue("a@x")}}},
		{Name: "C", DistinctID: "d1", InsertID: "4", TimeMillis: 1e12},
	}
	perms := [][]int{{0, 1, 2, 3}, {3, 2, 1, 0}, {2, 0, 3, 1}, {1, 3, 0, 2}}
	for _, perm := range perms {
		t.Run(fmt.Sprint(perm), func(t *testing.T) {
			dir := t.TempDir()
			s := openTestStore(t, dir, nil)
			s.CreateProject("i", "", "")
			proj, _ := s.Project("i")
			for _, k := range perm {
				if err := proj.Ingest([]Event{links[k]}); err != nil {
					t.Fatal(err)
				}
			}
			canon := func(st *Store) map[string]string {
				p, _ := st.Project("i")
				snap := p.Snapshot()
				out := map[string]string{}
				for u, id := range snap.UserIDs.All() {
					out[id] = snap.UserIDs.ID(snap.Canon.Of(u))
				}
				return out
			}
			for id, c := range canon(s) {
				if c != "alice" {
					t.Fatalf("%s → %s, want alice", id, c)
				}
			}
			if err := s.Flush(); err != nil {
				t.Fatal(err)
			}
			crash(s)
			s = openTestStore(t, dir, nil)
			defer s.Close()
			got := canon(s)
			for _, id := range []string{"$device:d1", "d1", "alice", "a@x"} {
				if got[id] != "alice" {
					t.Fatalf("after reopen: %s → %q, want alice (%v)", id, got[id], got)
				}
			}
		})
	}
}

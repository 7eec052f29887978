package storage

import (
	"testing"
	"time"
)

// TestDedupIndexBudget: with a budget that holds one segment's index at
// a time, every resend is still recognised (indexes are dropped and
// rebuilt), and what stays resident is at most one index.
func TestDedupIndexBudget(t *testing.T) {
	s, err := Open(Options{Dir: t.TempDir(), FlushInterval: time.Hour, DedupIndexBytes: 1, DisableCompaction: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.CreateProject("shop", "tok", "sec"); err != nil {
		t.Fatal(err)
	}
	p, _ := s.Project("shop")
	evs := testEvents(3000, 7) // three days
	if err := p.Ingest(append([]Event(nil), evs...)); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	for round := 0; round < 3; round++ {
		// Resend in an order that visits the days alternately, so each
		// lookup needs an index the previous one evicted.
		for i := 0; i < len(evs); i += 50 {
			batch := append([]Event(nil), evs[i:min(i+50, len(evs))]...)
			if err := p.Ingest(batch); err != nil {
				t.Fatal(err)
			}
		}
	}
	if n, ids := countRows(t, s, "shop"); n != 3000 || len(ids) != 3000 {
		t.Fatalf("%d rows, %d distinct insert ids after resends; want 3000", n, len(ids))
	}
	resident, builds, evictions := s.DedupIndexStats()
	if evictions == 0 || builds < 3 {
		t.Fatalf("builds %d, evictions %d: the budget was never exercised", builds, evictions)
	}
	if max := int64(12*1200 + 64); resident > max {
		t.Fatalf("%d bytes of dedup indexes resident with a 1-byte budget; want at most one segment's (%d)", resident, max)
	}
}

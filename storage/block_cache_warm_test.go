package storage

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestBlockCacheWarm: what the cache held of a store's segments at a clean
// Close is decoded again after Open, before any query asks (reading the
// same blocks then misses nothing); a damaged list is removed and ignored.
func TestBlockCacheWarm(t *testing.T) {
	dir := t.TempDir()
	opts := Options{Dir: dir, FlushInterval: time.Hour, ProfileUpdater: testProfileUpdater, WarmBlockCache: true}
	s, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateProject("shop", "tok", "sec"); err != nil {
		t.Fatal(err)
	}
	p, _ := s.Project("shop")
	if err := p.Ingest(testEvents(3000, 1)); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	// A query's reads: the event column's dictionary and blocks, and the
	// time column's first block and its microseconds, of every segment.
	read := func(s *Store) {
		t.Helper()
		p, _ := s.Project("shop")
		for _, ref := range p.Snapshot().Segments {
			if _, err := ref.Segment.Dict(ColEvent); err != nil {
				t.Fatal(err)
			}
			for b := 0; b < ref.Segment.NumBlocks(); b++ {
				if _, err := ref.Segment.Block(ColEvent, b); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := ref.Segment.Block(ColTime, 0); err != nil {
				t.Fatal(err)
			}
			if _, err := ref.Segment.TimeMicrosBlock(ColTime, 0); err != nil {
				t.Fatal(err)
			}
		}
	}
	read(s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, warmName)); err != nil {
		t.Fatalf("no warm-up list after a clean close: %v", err)
	}
	s, err = Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	s.WaitWarm()
	_, missesBefore, _ := BlockCacheStats()
	read(s)
	if _, misses, _ := BlockCacheStats(); misses != missesBefore {
		t.Fatalf("reading what was cached before the restart missed %d times after the warm-up", misses-missesBefore)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// A damaged list: ignored, removed, the store opens and serves.
	if err := os.WriteFile(filepath.Join(dir, warmName), []byte(`[{"f":"000001.seg","c":`), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err = Open(opts)
	if err != nil {
		t.Fatalf("open with a damaged warm-up list: %v", err)
	}
	s.WaitWarm()
	if _, err := os.Stat(filepath.Join(dir, warmName)); !os.IsNotExist(err) {
		t.Fatalf("the damaged list is still there: %v", err)
	}
	if n, _ := countRows(t, s, "shop"); n != 3000 {
		t.Fatalf("%d rows after opening with a damaged list, want 3000", n)
	}
	s.Close()
}

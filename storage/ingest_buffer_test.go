package storage

import (
	"errors"
	"sync"
	"testing"
	"time"
)

// TestIngestBufferRefusesWhenFlushesLag: with flushes held back, ingest
// fills the buffer to its bound, then waits and is refused with
// ErrOverloaded, storing nothing of the refused batch; once flushes run
// the buffer drains to zero and ingest is admitted again.
func TestIngestBufferRefusesWhenFlushesLag(t *testing.T) {
	const limit = 64 << 10
	s, err := Open(Options{Dir: t.TempDir(), FlushInterval: time.Hour, DisableCompaction: true,
		BufferBytes: limit, BufferWait: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.CreateProject("p", "", ""); err != nil {
		t.Fatal(err)
	}
	p, _ := s.Project("p")
	s.flushMu.Lock() // the flusher cannot write anything out
	acked := 0
	var refused error
	for seed := int64(1); seed < 200 && refused == nil; seed++ {
		if err := p.Ingest(testEvents(20, seed)); err != nil {
			refused = err
			break
		}
		acked += 20
	}
	var oe *OverloadError
	if !errors.Is(refused, ErrOverloaded) || !errors.As(refused, &oe) || oe.Limit != limit {
		s.flushMu.Unlock()
		t.Fatalf("ingest with flushes held back: %v, want an OverloadError", refused)
	}
	if st := s.BufferStats(); st.Buffered > limit || st.Refusals != 1 || st.Waits == 0 {
		s.flushMu.Unlock()
		t.Fatalf("buffer %+v: want at most %d bytes, 1 refusal, some waits", st, limit)
	}
	if n, _ := countRows(t, s, "p"); n != acked {
		s.flushMu.Unlock()
		t.Fatalf("%d rows stored, %d acknowledged", n, acked)
	}
	s.flushMu.Unlock()
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	if st := s.BufferStats(); st.Buffered != 0 {
		t.Fatalf("%d bytes buffered after a flush of everything", st.Buffered)
	}
	if err := p.Ingest(testEvents(20, 999)); err != nil {
		t.Fatalf("ingest after the flush: %v", err)
	}
	if n, _ := countRows(t, s, "p"); n != acked+20 {
		t.Fatalf("%d rows, want %d", n, acked+20)
	}
}

// TestIngestBufferConcurrent: many writers over a small buffer with the
// background flusher: every batch is stored or refused whole, the buffer
// never holds much more than its bound, and it is empty after a flush.
func TestIngestBufferConcurrent(t *testing.T) {
	const limit = 32 << 10
	s, err := Open(Options{Dir: t.TempDir(), FlushInterval: time.Hour, DisableCompaction: true,
		BufferBytes: limit, BufferWait: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.CreateProject("p", "", ""); err != nil {
		t.Fatal(err)
	}
	p, _ := s.Project("p")
	var mu sync.Mutex
	acked, maxSeen := 0, int64(0)
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < 40; i++ {
				err := p.Ingest(testEvents(10, int64(w*1000+i)))
				b := s.BufferStats().Buffered
				mu.Lock()
				if err == nil {
					acked += 10
				} else if !errors.Is(err, ErrOverloaded) {
					t.Errorf("ingest: %v", err)
				}
				maxSeen = max(maxSeen, b)
				mu.Unlock()
			}
		}(w)
	}
	wg.Wait()
	// Each of the 8 writers may have been admitted just under the bound.
	if maxSeen > limit+8*4<<10 {
		t.Errorf("buffer reached %d bytes, bound %d", maxSeen, limit)
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	if st := s.BufferStats(); st.Buffered != 0 {
		t.Fatalf("%d bytes buffered after a flush of everything", st.Buffered)
	}
	if n, _ := countRows(t, s, "p"); n != acked {
		t.Fatalf("%d rows stored, %d acknowledged", n, acked)
	}
	t.Logf("%d events acknowledged; %+v", acked, s.BufferStats())
}

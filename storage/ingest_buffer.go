package storage

// The ingest buffer is every event acknowledged but not yet in a segment:
// the memtables of all projects, live and frozen, until the flush that
// writes them installs its segments. It is bounded (Options.BufferBytes):
// ingest is what fills it, and only a flush empties it, so when events
// arrive faster than flushes write them, ingest must wait, or be told to
// come back later — never pile up in memory until the process dies.
//
// Admission (admitBatch), in order, for a batch of n bytes:
//  1. buffered + n within half the bound: go on (a flush is requested
//     beyond a quarter, so the buffer is written out well before it fills);
//  2. else request a flush, and wait for flushes to bring buffered + n
//     back within half the bound, at most Options.BufferWait;
//  3. then admit it if buffered + n is within the bound, else refuse it
//     with an *OverloadError (ErrOverloaded) before anything of it is
//     stored; the client retries later.
//
// A batch larger than the bound is admitted when the buffer is empty, so
// that no batch is refused for ever. Profile updates and people rows are
// admitted the same way: they wait in the user state overlay for a flush.
// INVARIANT: buffered equals the sum of the bytes of the project
// memtables that no installed flush has taken (live and frozen), as
// eventSizeBytes counts them, and of their sealed chunks (the in-memory
// segments of memtable_seal.go), plus each project's user state overlay
// (userState.bytes, counted by Project.countUserStateLocked).

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// ErrOverloaded marks a write refused because the ingest buffer is full:
// nothing of it was stored, and the same write may be retried later.
var ErrOverloaded = errors.New("ingest buffer full")

// OverloadError is a write refused by admitBatch.
type OverloadError struct {
	Buffered, Limit int64         // bytes, when refused
	Waited          time.Duration // how long the batch waited for room
}

func (e *OverloadError) Error() string {
	return fmt.Sprintf("ingest buffer full: %d MiB of events wait for a flush (limit %d MiB, waited %s); retry later",
		e.Buffered>>20, e.Limit>>20, e.Waited.Round(time.Millisecond))
}

func (e *OverloadError) Unwrap() error { return ErrOverloaded }

// DefaultBufferBytes is the default bound on buffered events.
const DefaultBufferBytes = 1 << 30

// DefaultBufferWait is how long a batch waits for room by default.
const DefaultBufferWait = 2 * time.Second

// ingestBuffer accounts the buffered bytes of a store.
type ingestBuffer struct {
	limit    int64
	wait     time.Duration
	buffered atomic.Int64

	mu      sync.Mutex
	drained chan struct{} // closed (and replaced) when a flush frees bytes

	waits, refusals atomic.Int64
}

func newIngestBuffer(limit int64, wait time.Duration) *ingestBuffer {
	return &ingestBuffer{limit: limit, wait: wait, drained: make(chan struct{})}
}

// add counts n bytes more (negative: freed by a flush).
func (b *ingestBuffer) add(n int64) {
	if b.buffered.Add(n) < 0 {
		panic(fmt.Sprintf("BUG: ingest buffer below zero after %+d", n))
	}
	if n < 0 {
		b.mu.Lock()
		close(b.drained)
		b.drained = make(chan struct{})
		b.mu.Unlock()
	}
}

func (b *ingestBuffer) drainedChan() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.drained
}

// admitBatch waits for room for n more bytes (see the file comment);
// requestFlush asks for a flush without blocking.
func (b *ingestBuffer) admitBatch(n int64, requestFlush func(), closing <-chan struct{}) error {
	cur := b.buffered.Load()
	if cur+n <= b.limit/2 || cur == 0 {
		if cur+n > b.limit/4 {
			requestFlush()
		}
		return nil
	}
	// Past half: wait for flushes to bring the buffer back under half;
	// at the deadline the batch goes in if it still fits under the bound.
	b.waits.Add(1)
	start := time.Now()
	deadline := time.NewTimer(b.wait)
	defer deadline.Stop()
	for {
		requestFlush()
		drained := b.drainedChan()
		if cur = b.buffered.Load(); cur+n <= b.limit/2 || cur == 0 {
			return nil
		}
		select {
		case <-drained:
		case <-deadline.C:
			if cur = b.buffered.Load(); cur+n <= b.limit || cur == 0 {
				return nil
			}
			b.refusals.Add(1)
			return &OverloadError{Buffered: cur, Limit: b.limit, Waited: time.Since(start)}
		case <-closing:
			return &OverloadError{Buffered: b.buffered.Load(), Limit: b.limit, Waited: time.Since(start)}
		}
	}
}

// BufferStats is the ingest buffer's state, for metrics.
type BufferStats struct {
	Buffered, Limit int64 // bytes
	Waits           int64 // batches that waited for room
	Refusals        int64 // batches refused with ErrOverloaded
}

// BufferStats reports the ingest buffer.
func (s *Store) BufferStats() BufferStats {
	b := s.buffer
	return BufferStats{Buffered: b.buffered.Load(), Limit: b.limit, Waits: b.waits.Load(), Refusals: b.refusals.Load()}
}

// batchBytes is what rows will add to the buffer.
func batchBytes(rows []Event) int64 {
	var n int64
	for i := range rows {
		n += eventSizeBytes(&rows[i])
	}
	return n
}

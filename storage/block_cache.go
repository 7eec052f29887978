package storage

import (
	"sync"
	"sync/atomic"
)

// The block cache keeps decoded column blocks of segments in memory, so
// that repeated queries over the same data decode each block once.
// Segments are immutable, so a cached block never goes stale; a segment
// that is no longer live simply ages out.
//
// INVARIANT: a cached *ColumnBlock is shared by every reader and is never
// modified after it is inserted.
type blockCache struct {
	mu       sync.Mutex
	budget   int64 // bytes; 0 disables the cache
	bytes    int64 // decoded bytes held; guarded by mu
	entries  map[blockKey]*cacheEntry
	clock    []blockKey // insertion order, for eviction; guarded by mu
	hits     atomic.Int64
	misses   atomic.Int64
	inflight map[blockKey]*sync.WaitGroup // decodes under way; guarded by mu
}

type blockKey struct {
	seg   *Segment
	col   string
	block int
}

type cacheEntry struct {
	blk   *ColumnBlock
	bytes int64
}

// DefaultBlockCacheBytes is the decoded-block cache budget of a process:
// enough for the hot columns of ~30M events.
const DefaultBlockCacheBytes = 512 << 20

var sharedBlockCache = &blockCache{budget: DefaultBlockCacheBytes, entries: map[blockKey]*cacheEntry{},
	inflight: map[blockKey]*sync.WaitGroup{}}

// SetBlockCacheBytes sets the decoded-block cache budget (0 turns it off).
func SetBlockCacheBytes(n int64) {
	c := sharedBlockCache
	c.mu.Lock()
	defer c.mu.Unlock()
	c.budget = n
	c.evictLocked()
}

// BlockCacheStats reports the cache's hits, misses and bytes held.
func BlockCacheStats() (hits, misses, bytes int64) {
	c := sharedBlockCache
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hits.Load(), c.misses.Load(), c.bytes
}

func (b *ColumnBlock) sizeBytes() int64 {
	return int64(len(b.Nulls) + 8*len(b.Ints) + 8*len(b.Floats) + 4*len(b.Codes) + len(b.Codes8) + 4*len(b.Present) + 64)
}

func (c *blockCache) evictLocked() {
	for c.bytes > c.budget && len(c.clock) > 0 {
		k := c.clock[0]
		c.clock = c.clock[1:]
		if e, ok := c.entries[k]; ok {
			c.bytes -= e.bytes
			delete(c.entries, k)
		}
	}
	if len(c.clock) == 0 {
		c.clock = nil
	}
}

// Block returns a decoded block of a column, from the cache when it holds
// it. The block is shared and read-only: callers must not modify it.
// Concurrent callers asking for the same block decode it once.
func (s *Segment) Block(col string, block int) (*ColumnBlock, error) {
	c := sharedBlockCache
	k := blockKey{s, col, block}
	for {
		c.mu.Lock()
		if e, ok := c.entries[k]; ok {
			c.mu.Unlock()
			c.hits.Add(1)
			return e.blk, nil
		}
		if c.budget == 0 {
			c.mu.Unlock()
			return s.ReadBlock(col, block)
		}
		wg, busy := c.inflight[k]
		if !busy {
			wg = &sync.WaitGroup{}
			wg.Add(1)
			c.inflight[k] = wg
			c.mu.Unlock()
			break
		}
		c.mu.Unlock()
		wg.Wait() // then look again: the decode may have failed
	}
	c.misses.Add(1)
	blk, err := s.ReadBlock(col, block)
	c.mu.Lock()
	wg := c.inflight[k]
	delete(c.inflight, k)
	if err == nil {
		e := &cacheEntry{blk: blk, bytes: blk.sizeBytes()}
		if e.bytes <= c.budget {
			c.entries[k] = e
			c.clock = append(c.clock, k)
			c.bytes += e.bytes
			c.evictLocked()
		}
	}
	c.mu.Unlock()
	wg.Done()
	return blk, err
}

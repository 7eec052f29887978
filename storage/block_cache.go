package storage

import (
	"sync"
	"sync/atomic"
)

// The block cache keeps decoded column blocks and dictionaries of
// segments in memory, so that repeated queries over the same data decode
// each once, and so that what stays resident for them is bounded by one
// budget (--block-cache-bytes): dictionaries of id columns (insert_id,
// distinct_id) are as large as the rows, and a segment must not pin them.
// Segments are immutable, so a cached entry never goes stale; a segment
// that is no longer live simply ages out.
//
// INVARIANT: a cached *ColumnBlock or dictionary is shared by every reader
// and is never modified after it is inserted.
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
	owner any // *Segment, *userIndexRun, *userStateRun or *userFile: compared by pointer
	col   string
	block int // dictBlock for the column's dictionary
}

// dictBlock is the block number under which a column's dictionary is
// cached.
const dictBlock = -1

type cacheEntry struct {
	blk    *ColumnBlock // or
	dict   []string     // or
	raw    []byte       // or
	ident  *identChunk  // (user_state.go); or
	micros *MicrosBlock // (block_micros.go); all nil: a run holds no such chunk
	bytes  int64
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

// BlockCacheBudget is the decoded-block cache budget now.
func BlockCacheBudget() int64 {
	c := sharedBlockCache
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.budget
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
	if s.shard != nil {
		if col == ColUserNumber {
			return s.userBlock(block)
		}
		return s.shard.base.Block(col, block)
	}
	e, err := sharedBlockCache.get(blockKey{s, col, block}, func() (*cacheEntry, error) {
		blk, err := s.ReadBlock(col, block)
		if err != nil {
			return nil, err
		}
		return &cacheEntry{blk: blk, bytes: blk.sizeBytes()}, nil
	})
	if err != nil {
		return nil, err
	}
	return e.blk, nil
}

// Dict returns the sorted dictionary of a string or JSON column, from the
// cache when it holds it; callers must not modify it.
func (s *Segment) Dict(col string) ([]string, error) {
	if s.shard != nil {
		return s.shard.base.Dict(col)
	}
	e, err := sharedBlockCache.get(blockKey{s, col, dictBlock}, func() (*cacheEntry, error) {
		dict, err := s.readDict(col)
		if err != nil {
			return nil, err
		}
		n := int64(64 + 16*len(dict))
		for _, v := range dict {
			n += int64(len(v))
		}
		return &cacheEntry{dict: dict, bytes: n}, nil
	})
	if err != nil {
		return nil, err
	}
	return e.dict, nil
}

// get returns the entry of k, decoding it with load on a miss (once for
// concurrent callers) and keeping it while the budget allows.
func (c *blockCache) get(k blockKey, load func() (*cacheEntry, error)) (*cacheEntry, error) {
	for {
		c.mu.Lock()
		if e, ok := c.entries[k]; ok {
			c.mu.Unlock()
			c.hits.Add(1)
			return e, nil
		}
		if c.budget == 0 {
			c.mu.Unlock()
			return load()
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
	e, err := load()
	c.mu.Lock()
	wg := c.inflight[k]
	delete(c.inflight, k)
	if err == nil && e.bytes <= c.budget && !ownerRemoved(k.owner) { // see forgetFile
		c.entries[k] = e
		c.clock = append(c.clock, k)
		c.bytes += e.bytes
		c.evictLocked()
	}
	c.mu.Unlock()
	wg.Done()
	return e, err
}

// ownerRemoved reports whether a cache key's owner is a segment whose
// file was deleted (forgetFile ran, or is about to).
func ownerRemoved(owner any) bool {
	seg, ok := owner.(*Segment)
	return ok && fileRemoved(seg.f)
}

// forgetOwner drops the entries of one owner (a replaced user index run
// or user file), so the cache stops keeping it reachable.
func (c *blockCache) forgetOwner(owner any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	kept := c.clock[:0]
	for _, k := range c.clock {
		if k.owner != owner {
			kept = append(kept, k)
			continue
		}
		if e, ok := c.entries[k]; ok {
			c.bytes -= e.bytes
			delete(c.entries, k)
		}
	}
	clear(c.clock[len(kept):])
	c.clock = kept
}

// forgetFile drops the entries of the segment file at path, when the file
// is deleted: their keys refer to its Segment, and while anything refers
// to it the file cache keeps the deleted file's handle open
// (file_cache.go). Cost: one pass over the cache's keys.
func (c *blockCache) forgetFile(path string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	kept := c.clock[:0]
	for _, k := range c.clock {
		if seg, ok := k.owner.(*Segment); !ok || seg.name != path {
			kept = append(kept, k)
			continue
		}
		if e, ok := c.entries[k]; ok {
			c.bytes -= e.bytes
			delete(c.entries, k)
		}
	}
	clear(c.clock[len(kept):]) // the tail must not keep Segments reachable
	c.clock = kept
}

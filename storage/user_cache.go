package storage

import "sync"

// userCache keeps the user numbers of distinct_ids ingest saw lately, so
// that a returning user costs a map lookup, not an index read. It holds
// at most its budget of bytes (an estimate of the maps' memory): two
// generations, the current one filled until it holds half the budget,
// when it becomes the previous one and the old previous one is dropped.
// An id found in the previous generation moves to the current one, so
// what is used stays and what is not ages out in two turns.
type userCache struct {
	mu        sync.RWMutex
	half      int64 // budget of one generation
	cur, prev map[string]uint32
	curBytes  int64
	prevBytes int64
	// dropped: a generation holding ids was dropped. Until then the
	// cache holds every id ever put in it (userDict.allHot).
	dropped bool
}

// DefaultUserCacheBytes is the default budget of each project's cache of
// recently seen distinct_ids (Options.UserCacheBytes). A generation holds
// half of it, about a million ids of 16 bytes: at 64 MiB the 500K users
// of the benchmark's 10M events filled a generation exactly, so every
// turn sent the returning users to the on-disk index and cost /import
// 7 % of its CPU.
const DefaultUserCacheBytes = 128 << 20

// userCacheEntryBytes estimates a map entry's memory besides the id.
const userCacheEntryBytes = 48

func newUserCache(budget int64) *userCache {
	if budget <= 0 {
		budget = DefaultUserCacheBytes
	}
	return &userCache{half: budget / 2, cur: map[string]uint32{}}
}

func (c *userCache) get(id string) (uint32, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if n, ok := c.cur[id]; ok {
		return n, true
	}
	n, ok := c.prev[id]
	if ok {
		c.dropPrevLocked(id)
		c.addLocked(id, n)
	}
	return n, ok
}

// knownNumbers sets known[i] to 1 + the user number of rows[i]'s
// distinct_id where the current generation has it, and leaves the other
// entries alone. It takes the read lock only, so that concurrent batches
// find their users in parallel (the look-ups are cache misses in a large
// map) and not one after another under the project's lock; an id found
// only in the previous generation is left to get, which moves it.
func (c *userCache) knownNumbers(rows []Event, known []uint32) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	for i := range rows {
		if n, ok := c.cur[rows[i].DistinctID]; ok {
			known[i] = n + 1
		}
	}
}

func (c *userCache) put(id string, n uint32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.cur[id]; ok {
		return
	}
	if _, ok := c.prev[id]; ok {
		c.dropPrevLocked(id)
	}
	c.addLocked(id, n)
}

func (c *userCache) dropPrevLocked(id string) {
	delete(c.prev, id)
	c.prevBytes -= int64(len(id)) + userCacheEntryBytes
}

func (c *userCache) addLocked(id string, n uint32) {
	if c.curBytes >= c.half {
		c.dropped = c.dropped || len(c.prev) > 0
		c.prev, c.prevBytes = c.cur, c.curBytes
		c.cur, c.curBytes = map[string]uint32{}, 0
	}
	// Own the id: it may be a slice of a large request body.
	c.cur[string([]byte(id))] = n
	c.curBytes += int64(len(id)) + userCacheEntryBytes
}

// holdsAllPut reports whether every id ever put is still in the cache.
func (c *userCache) holdsAllPut() bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return !c.dropped
}

// fill puts ids (numbered first, first+1, ...) as long as they fit in
// the current generation, so that none is dropped, and reports whether
// all of them did.
func (c *userCache) fill(first int, ids []string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, id := range ids {
		if c.curBytes+int64(len(id))+userCacheEntryBytes > c.half {
			return false
		}
		c.addLocked(id, uint32(first+i))
	}
	return true
}

// bytes estimates the memory the cache holds.
func (c *userCache) bytes() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.curBytes + c.prevBytes
}

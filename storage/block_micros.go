package storage

// This file owns the microsecond view of a time column's block: the
// block's milliseconds × 1000 (the unit arb's native operators read) and
// their range, cached beside the block itself (block_cache.go) and
// charged to the same budget. A scan that wants microseconds then shares
// one slice per block across queries instead of converting the block
// into a new slice on every read: at 16384 rows a block, those fresh
// 128 KB slices (zeroed, faulted in, collected) cost more than the scans'
// own work on them.
//
// INVARIANT: a MicrosBlock is shared by every reader and never modified,
// like a cached ColumnBlock.

import "fmt"

// MicrosBlock is one block of a time column in microseconds.
type MicrosBlock struct {
	Micros   []int64 // row i's time × 1000 (a NULL row's is 0)
	HasNulls bool    // some row is NULL: Lo and Hi are not set
	// Lo and Hi are the smallest and largest of Micros (a block without
	// NULLs and with rows).
	Lo, Hi int64
}

// microsBlock is the cache's block number for block b's microsecond view:
// below dictBlock (-1), apart from every block and dictionary.
func microsBlock(b int) int { return -2 - b }

// TimeMicrosBlock returns block of time column col in microseconds, from
// the cache when it holds it. Shared and read-only: callers must not
// modify it.
func (s *Segment) TimeMicrosBlock(col string, block int) (*MicrosBlock, error) {
	if s.shard != nil {
		return s.shard.base.TimeMicrosBlock(col, block)
	}
	e, err := sharedBlockCache.get(blockKey{s, col, microsBlock(block)}, func() (*cacheEntry, error) {
		blk, err := s.Block(col, block)
		if err != nil {
			return nil, err
		}
		if blk.Type != TypeTime {
			return nil, fmt.Errorf("segment %s: column %q block %d: microseconds of a %v column", s.name, col, block, blk.Type)
		}
		mb := &MicrosBlock{Micros: make([]int64, len(blk.Ints)), HasNulls: blk.Nulls != nil}
		for i, v := range blk.Ints {
			mb.Micros[i] = v * 1000
		}
		if !mb.HasNulls && len(mb.Micros) > 0 {
			mb.Lo, mb.Hi = mb.Micros[0], mb.Micros[0]
			for _, v := range mb.Micros {
				mb.Lo, mb.Hi = min(mb.Lo, v), max(mb.Hi, v)
			}
		}
		return &cacheEntry{micros: mb, bytes: int64(8*len(mb.Micros) + 64)}, nil
	})
	if err != nil {
		return nil, err
	}
	return e.micros, nil
}

package storage

// Warming the block cache after a restart.
//
// The block cache holds decoded blocks and dictionaries; a restart empties
// it, and the first queries then decode everything they touch: a self-join
// over 10M events took 3–14 s cold against 0.35 s warm. So a clean Close
// writes the list of the cache's entries that belong to the store's live
// segments (<data-dir>/blockcache.warm, oldest first), and Open starts a
// goroutine that decodes them again, in that order, while the server
// already serves: by the time a dashboard asks again, what it read before
// the restart is in memory.
//
// The list is a hint, never data: a missing, unreadable or malformed file,
// a segment compacted away since, a column or block the segment lacks are
// skipped (a malformed file is logged and removed); the warm-up stops at
// Close and once the cache holds its budget. A crash leaves the list of
// the last clean Close, which is still a fair guess.

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"time"
)

// warmName is the top-level file listing the cache entries to warm
// (docs/format/blockcache-warm.md).
const warmName = "blockcache.warm"

// warmEntry is one cached block or dictionary (Block dictBlock) of a
// segment file.
type warmEntry struct {
	File  string `json:"f"`
	Col   string `json:"c"`
	Block int    `json:"b"`
}

// maxWarmFileBytes bounds the list read back: a 512 MiB cache holds a
// few hundred thousand entries at most.
const maxWarmFileBytes = 64 << 20

// writeWarmList writes the cache entries of s's live segments, oldest
// first. REQUIRES: no flush or compaction running (Close).
func (s *Store) writeWarmList() error {
	live := map[*Segment]string{}
	for file, seg := range s.liveSegmentFiles() {
		live[seg] = file
	}
	var list []warmEntry
	c := sharedBlockCache
	c.mu.Lock()
	for _, k := range c.clock {
		if seg, ok := k.owner.(*Segment); ok && live[seg] != "" {
			if _, cached := c.entries[k]; cached {
				list = append(list, warmEntry{File: live[seg], Col: k.col, Block: k.block})
			}
		}
	}
	c.mu.Unlock()
	if len(list) == 0 {
		if err := s.fs.Remove(s.path(warmName)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	}
	data, err := json.Marshal(list)
	if err != nil {
		return err
	}
	return WriteFileAtomic(s.fs, s.path(warmName), data)
}

// WarmedUp is closed once the block cache warm-up has stopped (at once
// when there is none).
func (s *Store) WarmedUp() <-chan struct{} {
	if s.warmDone == nil {
		done := make(chan struct{})
		close(done)
		return done
	}
	return s.warmDone
}

// warm decodes the listed entries into the cache (see the file comment);
// done is closed when it stops.
func (s *Store) warm(done chan<- struct{}) {
	defer close(done)
	start := time.Now()
	list, err := s.readWarmList()
	if err != nil {
		s.log.Warn("block cache warm-up list ignored and removed", "file", s.path(warmName), "err", err)
		s.fs.Remove(s.path(warmName))
		return
	}
	if len(list) == 0 {
		return
	}
	segs := s.liveSegmentFiles()
	loaded := 0
	for _, e := range list {
		if s.closingNow() {
			break
		}
		if _, _, held := BlockCacheStats(); held >= BlockCacheBudget() {
			break
		}
		seg := segs[e.File]
		if seg == nil || !seg.HasColumn(e.Col) || e.Block >= seg.NumBlocks() {
			continue
		}
		var err error
		switch typ := seg.ColumnTypes()[e.Col]; {
		case e.Block == dictBlock:
			if isStringType(typ) {
				_, err = seg.Dict(e.Col)
			}
		case e.Block < dictBlock: // a time block's microseconds (block_micros.go)
			if b := -2 - e.Block; typ == TypeTime && b < seg.NumBlocks() {
				_, err = seg.TimeMicrosBlock(e.Col, b)
			}
		default:
			_, err = seg.Block(e.Col, e.Block)
		}
		if err != nil {
			// Queries will meet the same error and report it.
			s.log.Warn("block cache warm-up: reading a listed block", "file", e.File, "column", e.Col, "block", e.Block, "err", err)
			continue
		}
		loaded++
	}
	s.log.Info("block cache warmed", "entries", loaded, "listed", len(list), "took", time.Since(start).Round(time.Millisecond))
}

// liveSegmentFiles maps the file names of the store's live segments (the
// cache's owners: a shard view's segment reads through its base) to them.
func (s *Store) liveSegmentFiles() map[string]*Segment {
	out := map[string]*Segment{}
	for _, p := range s.storageProjects() {
		p.mu.RLock()
		for _, ref := range p.segments {
			if ref.Segment != nil && ref.Segment.shard == nil && ref.File != "" {
				out[ref.File] = ref.Segment
			}
		}
		p.mu.RUnlock()
	}
	return out
}

// readWarmList reads the list; none is an empty list.
func (s *Store) readWarmList() ([]warmEntry, error) {
	f, err := s.fs.Open(s.path(warmName))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxWarmFileBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxWarmFileBytes {
		return nil, fmt.Errorf("over %d bytes", maxWarmFileBytes)
	}
	var list []warmEntry
	if err := json.Unmarshal(data, &list); err != nil {
		return nil, err
	}
	return list, nil
}

// WaitWarm waits until the warm-up started by Open has stopped.
func (s *Store) WaitWarm() {
	if s.warmDone != nil {
		<-s.warmDone
	}
}

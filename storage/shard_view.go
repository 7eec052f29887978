package storage

// One read view over the shards of a project.
//
// A sharded project keeps its events in S shards by the hash of the
// distinct_id as sent (ShardOf), so that a user's events live in one
// shard; each shard numbers its own users from 0 (docs/format: the users
// file, the segments' user column) and keeps its own union-find. A query
// reads the shards as one Snapshot (UnionSnapshot) in which shard k's user
// u is user u*S+k: numbers never collide across shards, a shard's numbers
// never change as the others grow (so anything cached by segment and user
// number stays right), and as shards hold about as many users each, the
// numbers stay about as dense as one shard's (the engine sizes arrays by
// UserIDs.Len()). The translation is done where user numbers leave storage:
// a segment's user column (Segment.Block, ZoneMap), the buffered rows'
// users, UserIDs and Canon. Nothing above storage knows of shards.
//
// INVARIANT: user numbers in a union view are < S * max over shards of
// the shard's users; a number u with u/S beyond shard u%S's users is a
// hole and never appears in any row.

import (
	"fmt"
	"hash/fnv"
	"iter"
	"math"
	"strings"
)

// ShardOf is the shard, of count, that distinct_id's events live in:
// FNV-1a of the id without a leading "$device:" (a device's two spellings
// are one user, userNumberLocked, so they must share a shard), then
// MurmurHash3's final mix (FNV-1a's low bits depend only on the bytes'
// low bits, and a power-of-two count would see only those). Part of the
// data's layout: every node and every version agrees.
func ShardOf(distinctID string, count int) int {
	if count <= 1 {
		return 0
	}
	h := fnv.New64a()
	h.Write([]byte(strings.TrimPrefix(distinctID, devicePrefix)))
	x := h.Sum64()
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	x ^= x >> 33
	return int(x % uint64(count))
}

// userStride translates a shard's user numbers into a union view's:
// u → u*count + index.
type userStride struct{ index, count uint32 }

func (m userStride) of(u uint32) uint32 { return u*m.count + m.index }

// shardSegment is what a segment's view in a union snapshot adds: the
// segment it reads, and the translation of its user column.
type shardSegment struct {
	base   *Segment
	stride userStride
}

// shardView returns s as shard index of count sees it: the same segment
// with its user column translated. The view is made once per segment
// (a segment belongs to one shard for life), so the block cache keeps the
// translated user blocks under one key across snapshots.
func (s *Segment) shardView(m userStride) *Segment {
	if v := s.view.Load(); v != nil {
		if v.shard.stride != m {
			panic(fmt.Sprintf("BUG: segment %s seen as shard %d of %d and %d of %d", s.name, v.shard.stride.index, v.shard.stride.count, m.index, m.count))
		}
		return v
	}
	v := &Segment{f: s.f, size: s.size, name: s.name, footer: s.footer, cols: s.cols,
		shard: &shardSegment{base: s, stride: m}}
	if s.view.CompareAndSwap(nil, v) {
		return v
	}
	return s.view.Load()
}

// userBlock is base's block of the user column, translated.
// REQUIRES: s.shard != nil.
func (s *Segment) userBlock(block int) (*ColumnBlock, error) {
	e, err := sharedBlockCache.get(blockKey{s, ColUserNumber, block}, func() (*cacheEntry, error) {
		// Read, not Block: the untranslated block need not be cached too.
		blk, err := s.shard.base.ReadBlock(ColUserNumber, block)
		if err != nil {
			return nil, err
		}
		out := *blk
		out.Ints = make([]int64, len(blk.Ints))
		for i, u := range blk.Ints {
			out.Ints[i] = int64(s.shard.stride.of(uint32(u)))
		}
		return &cacheEntry{blk: &out, bytes: out.sizeBytes()}, nil
	})
	if err != nil {
		return nil, err
	}
	return e.blk, nil
}

// UnionSnapshot reads the shards of project name as one: shards[k] is
// shard k's snapshot, all taken for one query. Columns are the union of
// the shards' (a column's type the widest, as a project's own type widens
// over time). Cost: the buffered rows' user numbers are copied; the rest
// is slice headers.
func UnionSnapshot(name string, shards []*Snapshot) *Snapshot {
	n := uint32(len(shards))
	out := &Snapshot{Project: name}
	users := &UserIDs{shards: make([]*UserIDs, n)}
	canon := &canonView{shards: make([]Canon, n)}
	var cols, peopleCols []Column
	for k, sn := range shards {
		m := userStride{index: uint32(k), count: n}
		cols = unionColumns(cols, sn.Columns)
		peopleCols = unionColumns(peopleCols, sn.PeopleColumns)
		for _, ref := range sn.Segments {
			out.Segments = append(out.Segments, &SegmentRef{File: ref.File, Day: ref.Day, Bytes: ref.Bytes,
				Segment: ref.Segment.shardView(m), Level: ref.Level})
		}
		for _, mem := range sn.Mem {
			us := make([]uint32, len(mem.Users))
			for i, u := range mem.Users {
				us[i] = m.of(u)
			}
			out.Mem = append(out.Mem, MemRows{Rows: mem.Rows, Users: us})
		}
		users.shards[k] = sn.UserIDs
		canon.shards[k] = sn.Canon
		canon.merged = canon.merged || sn.Canon.Merged()
	}
	out.Columns, out.PeopleColumns = cols, peopleCols
	out.UserIDs, out.Canon = users, Canon{v: canon}
	if most := users.shardLen(); uint64(most) > math.MaxUint32 {
		// Union numbers are uint32 (the engine's bitmaps): a query over
		// more users than that fails rather than miscounts.
		canon.readErr = fmt.Errorf("project %s: %d shards of up to %d users are more users than a query can number", name, n, most/int(n))
		canon.merged = true
	}
	return out
}

// unionColumns adds more to have: new names at the end, a known name
// widened.
func unionColumns(have, more []Column) []Column {
	for _, c := range more {
		found := false
		for i := range have {
			if have[i].Name == c.Name {
				have[i].Type = Widen(have[i].Type, c.Type)
				found = true
				break
			}
		}
		if !found {
			have = append(have, c)
		}
	}
	return have
}

// shardLen is Len of a union view: count times the largest shard's.
func (u *UserIDs) shardLen() int {
	most := 0
	for _, s := range u.shards {
		most = max(most, s.Len())
	}
	return most * len(u.shards)
}

// shardID is id of a union view; a hole is an error.
func (u *UserIDs) shardID(n uint32) (string, error) {
	k, local := n%uint32(len(u.shards)), n/uint32(len(u.shards))
	s := u.shards[k]
	if int(local) >= s.Len() {
		return "", fmt.Errorf("user %d of a view over %d shards: shard %d has %d users", n, len(u.shards), k, s.Len())
	}
	return s.id(local)
}

// shardAll is All of a union view: every shard's users, holes skipped.
func (u *UserIDs) shardAll() iter.Seq2[uint32, string] {
	return func(yield func(uint32, string) bool) {
		for k, s := range u.shards {
			m := userStride{index: uint32(k), count: uint32(len(u.shards))}
			for n, id := range s.All() {
				if !yield(m.of(n), id) {
					return
				}
			}
		}
	}
}

// shardOf is Canon.Of of a union view.
func (v *canonView) shardOf(u uint32) uint32 {
	if v.readErr != nil {
		panic(&UserReadError{Err: v.readErr})
	}
	n := uint32(len(v.shards))
	m := userStride{index: u % n, count: n}
	c := m.of(v.shards[m.index].Of(u / n))
	if r, ok := v.cross[c]; ok {
		return r
	}
	return c
}

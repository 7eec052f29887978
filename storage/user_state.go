package storage

// A project's user state is what it knows per user number beyond the
// events — the identity union-find (identity.go) and the people profiles
// (profiles.go) — and, by hash of their key, the group profiles. It
// lives in user state runs on disk (user_state_run.go) plus an overlay in
// memory of what changed since the last flush (counted in the store's
// ingest buffer), so what stays resident is bounded by the ingest buffer
// and the block cache, not by the number of users or profiles.
//
// Layers, newest first: mem (changes since the last flush plan), frozen
// (what the flush under way is writing; nil when none), then the runs,
// newest last in runs. A flush writes mem's entries as a new run; the
// compactor merges the newest runs in the background
// (user_state_merge.go), so a project keeps O(log n) runs and each entry
// is rewritten O(log n) times; a merge that takes in the oldest run drops
// tombstones.
//
// INVARIANTS (under the project's lock): a chunk in identMem whose gen
// is st.gen is owned by the overlay and may be modified in place; any
// other chunk (older gen, in frozen, decoded from a run) is shared with
// views or the block cache and is copied before a change. runs and
// frozen are never modified in place, only replaced.

import (
	"encoding/binary"
	"maps"
	"slices"
	"strings"
	"sync/atomic"
)

type userState struct {
	runs                    []*userStateRun // durable, oldest first
	identMem, identFrozen   map[uint32]*identChunk
	peopleMem, peopleFrozen map[uint32]profileVal
	groupsMem, groupsFrozen map[uint32][]Person // bucket → its groups by key; empty: none
	gen                     atomic.Uint64       // bumped by every Canon view
	memBytes                int64               // estimate of the bytes mem holds
	frozenBytes             int64               // memBytes when frozen
	users                   func() int          // the project's dictionary size
}

// profileVal is a people profile in the overlay; del: deleted.
type profileVal struct {
	props []Prop
	del   bool
}

func newUserState(users func() int) *userState {
	st := &userState{identMem: map[uint32]*identChunk{}, peopleMem: map[uint32]profileVal{},
		groupsMem: map[uint32][]Person{}, users: users}
	st.gen.Store(1)
	return st
}

// hasIdentity reports whether any user has identity state (a merge or a
// user-id mark) in the overlay or the runs.
func (st *userState) hasIdentity() bool {
	if len(st.identMem) > 0 || len(st.identFrozen) > 0 {
		return true
	}
	for _, r := range st.runs {
		if r.holdsIdentity() {
			return true
		}
	}
	return false
}

// holdsIdentity reports whether r holds identity chunks (the lowest
// key kind, so they come first).
func (r *userStateRun) holdsIdentity() bool {
	return len(r.first) > 0 && r.first[0]>>32 == userStateIdentity
}

// chunk returns identity chunk c for reading (nil: nothing recorded).
func (st *userState) chunk(c uint32) (*identChunk, error) {
	if ch := st.identMem[c]; ch != nil {
		return ch, nil
	}
	if ch := st.identFrozen[c]; ch != nil {
		return ch, nil
	}
	return runsIdentChunk(st.runs, c, st.users())
}

// runsIdentChunk reads identity chunk c from the newest run holding it,
// decoded once through the block cache.
func runsIdentChunk(runs []*userStateRun, c uint32, users int) (*identChunk, error) {
	key := userStateKey(userStateIdentity, c)
	for i := len(runs) - 1; i >= 0; i-- {
		r := runs[i]
		e, err := sharedBlockCache.get(blockKey{r, "ident", int(c)}, func() (*cacheEntry, error) {
			ent, ok, err := r.get(key)
			if err != nil || !ok {
				return &cacheEntry{bytes: 64}, err
			}
			ch, err := decodeIdentChunk(ent.val, c, users)
			if err != nil {
				return nil, corruptf(r.path, 0, "%v", err)
			}
			return &cacheEntry{ident: ch, bytes: identChunkBytes}, nil
		})
		if err != nil {
			return nil, err
		}
		if e.ident != nil {
			return e.ident, nil
		}
	}
	return nil, nil
}

// chunkForWrite returns identity chunk c owned by the overlay.
func (st *userState) chunkForWrite(c uint32) (*identChunk, error) {
	gen := st.gen.Load()
	if ch := st.identMem[c]; ch != nil && ch.gen == gen {
		return ch, nil
	}
	src, err := st.chunk(c)
	if err != nil {
		return nil, err
	}
	ch := &identChunk{}
	if src != nil {
		*ch = *src
	}
	ch.gen = gen
	if st.identMem[c] == nil {
		st.memBytes += identChunkBytes
	}
	st.identMem[c] = ch
	return ch, nil
}

// person returns user u's stored profile (ok false: none).
func (st *userState) person(u uint32) ([]Prop, bool, error) {
	if v, ok := st.peopleMem[u]; ok {
		return v.props, !v.del, nil
	}
	if v, ok := st.peopleFrozen[u]; ok {
		return v.props, !v.del, nil
	}
	key := userStateKey(userStatePerson, u)
	for i := len(st.runs) - 1; i >= 0; i-- {
		e, ok, err := st.runs[i].get(key)
		if err != nil {
			return nil, false, err
		}
		if ok {
			if e.del {
				return nil, false, nil
			}
			props, err := decodePersonValue(e.val)
			if err != nil {
				return nil, false, corruptf(st.runs[i].path, 0, "profile of user %d: %v", u, err)
			}
			return props, true, nil
		}
	}
	return nil, false, nil
}

// setPerson records u's whole profile; nil props with del deletes it.
func (st *userState) setPerson(u uint32, props []Prop, del bool) {
	old, had := st.peopleMem[u]
	if had {
		st.memBytes -= propsBytes(old.props)
	} else {
		st.memBytes += 48
	}
	st.memBytes += propsBytes(props)
	st.peopleMem[u] = profileVal{props: props, del: del}
}

func propsBytes(props []Prop) int64 {
	n := int64(24 + 48*len(props))
	for _, p := range props {
		n += int64(len(p.Key) + len(p.Value.Str))
	}
	return n
}

// encodePersonValue is a profile's value in a user state run: its
// properties as an event's are in an EventBatch (wal_batch.go).
//
//	| uvarint props | prop × props |
func encodePersonValue(dst []byte, props []Prop) []byte { return appendProps(dst, props) }

func decodePersonValue(src []byte) ([]Prop, error) {
	d := &batchDecoder{src: src}
	props := d.props(0)
	if d.err == nil && d.off != len(src) {
		d.fail("%d bytes after the properties", len(src)-d.off)
	}
	return props, d.err
}

// groupBucket is the bucket of a group's row key (GroupRowKey). Wire
// format: never change.
func groupBucket(key string) uint32 { return uint32(hashUserID(key)) }

// encodeGroupBucket is a bucket's value in a user state run: its groups,
// sorted by row key.
//
//	| uvarint n | (str row key, uvarint props, prop × props) × n |
func encodeGroupBucket(dst []byte, rows []Person) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(rows)))
	for _, r := range rows {
		dst = batchAppendString(dst, r.DistinctID)
		dst = appendProps(dst, r.Props)
	}
	return dst
}

func decodeGroupBucket(src []byte, bucket uint32) ([]Person, error) {
	d := &batchDecoder{src: src}
	n := d.count("groups", 2)
	rows := make([]Person, 0, n)
	for i := 0; i < n && d.err == nil; i++ {
		key := d.string()
		props := d.props(i)
		switch {
		case d.err != nil:
		case groupBucket(key) != bucket:
			d.fail("group %q is not of bucket %08x", key, bucket)
		case i > 0 && key <= rows[i-1].DistinctID:
			d.fail("group %q out of order", key)
		}
		rows = append(rows, Person{DistinctID: key, Props: props})
	}
	if d.err == nil && d.off != len(src) {
		d.fail("%d bytes after the groups", len(src)-d.off)
	}
	return rows, d.err
}

// groupRows returns the groups of bucket b (read-only).
func (st *userState) groupRows(b uint32) ([]Person, error) {
	if rows, ok := st.groupsMem[b]; ok {
		return rows, nil
	}
	if rows, ok := st.groupsFrozen[b]; ok {
		return rows, nil
	}
	key := userStateKey(userStateGroups, b)
	for i := len(st.runs) - 1; i >= 0; i-- {
		e, ok, err := st.runs[i].get(key)
		if err != nil || !ok {
			if err != nil {
				return nil, err
			}
			continue
		}
		if e.del {
			return nil, nil
		}
		rows, err := decodeGroupBucket(e.val, b)
		if err != nil {
			return nil, corruptf(st.runs[i].path, 0, "%v", err)
		}
		return rows, nil
	}
	return nil, nil
}

// group returns the stored profile of the group with row key key.
func (st *userState) group(key string) ([]Prop, error) {
	rows, err := st.groupRows(groupBucket(key))
	if err != nil {
		return nil, err
	}
	i, ok := slices.BinarySearchFunc(rows, key, func(r Person, k string) int { return strings.Compare(r.DistinctID, k) })
	if !ok {
		return nil, nil
	}
	return rows[i].Props, nil
}

// setGroup records a group's whole profile; del deletes it.
func (st *userState) setGroup(key string, props []Prop, del bool) error {
	b := groupBucket(key)
	old, err := st.groupRows(b)
	if err != nil {
		return err
	}
	rows := slices.Clone(old)
	i, ok := slices.BinarySearchFunc(rows, key, func(r Person, k string) int { return strings.Compare(r.DistinctID, k) })
	switch {
	case del && ok:
		rows = slices.Delete(rows, i, i+1)
	case del:
	case ok:
		rows[i].Props = props
	default:
		rows = slices.Insert(rows, i, Person{DistinctID: key, Props: props})
	}
	if prev, had := st.groupsMem[b]; had {
		for _, r := range prev {
			st.memBytes -= int64(len(r.DistinctID)) + propsBytes(r.Props)
		}
	} else {
		st.memBytes += 48
	}
	for _, r := range rows {
		st.memBytes += int64(len(r.DistinctID)) + propsBytes(r.Props)
	}
	if rows == nil {
		rows = []Person{}
	}
	st.groupsMem[b] = rows
	return nil
}

// scanGroups calls fn with every stored group, in bucket order, until
// fn returns false. REQUIRES: p.mu held, shared at least.
func (st *userState) scanGroups(fn func(Person) bool) error {
	keys := slices.Collect(maps.Keys(st.groupsMem))
	for b := range st.groupsFrozen {
		if _, ok := st.groupsMem[b]; !ok {
			keys = append(keys, b)
		}
	}
	slices.Sort(keys)
	return st.scanKind(userStateGroups, keys, func(b uint32, e *userStateEntry, r *userStateRun) (bool, error) {
		var rows []Person
		switch {
		case e == nil:
			var ok bool
			if rows, ok = st.groupsMem[b]; !ok {
				rows = st.groupsFrozen[b]
			}
		case e.del:
		default:
			var err error
			if rows, err = decodeGroupBucket(e.val, b); err != nil {
				return false, corruptf(r.path, 0, "%v", err)
			}
		}
		for _, row := range rows {
			if !fn(row) {
				return false, nil
			}
		}
		return true, nil
	})
}

// scanPeople calls fn with every stored profile in user order until fn
// returns false or an error; props decodes the profile. REQUIRES: p.mu held, shared at least, for the whole
// scan. Memory: a block per run.
func (st *userState) scanPeople(fn func(u uint32, props func() ([]Prop, error)) (bool, error)) error {
	return st.scanKind(userStatePerson, st.peopleKeys(), func(u uint32, e *userStateEntry, r *userStateRun) (bool, error) {
		if e == nil {
			v, ok := st.peopleMem[u]
			if !ok {
				v = st.peopleFrozen[u]
			}
			if v.del {
				return true, nil
			}
			return fn(u, func() ([]Prop, error) { return v.props, nil })
		}
		if e.del {
			return true, nil
		}
		// Decoded only when asked: a scan that looks at users only
		// (PeopleScan's first pass) decodes nothing.
		return fn(u, func() ([]Prop, error) {
			props, err := decodePersonValue(e.val)
			if err != nil {
				return nil, corruptf(r.path, 0, "profile of user %d: %v", u, err)
			}
			return props, nil
		})
	})
}

func (st *userState) peopleKeys() []uint32 {
	keys := slices.Collect(maps.Keys(st.peopleMem))
	for u := range st.peopleFrozen {
		if _, ok := st.peopleMem[u]; !ok {
			keys = append(keys, u)
		}
	}
	slices.Sort(keys)
	return keys
}

// scanKind calls fn with each number of kind, in order, that the overlay
// (over, sorted) or a run holds, until fn returns false or an error:
// with e nil when the overlay holds it, else with the newest run's entry.
// REQUIRES: p.mu held, shared at least, for the whole scan (or a
// snapshot). Memory: up to 256 entries per run; blocks are read directly,
// not through the block cache (a scan reads each once and must not push
// out what point reads and queries keep there).
func (st *userState) scanKind(kind uint32, over []uint32, fn func(n uint32, e *userStateEntry, r *userStateRun) (bool, error)) error {
	lo, hi := userStateKey(kind, 0), userStateKey(kind+1, 0)
	type cursor struct {
		r    *userStateRun
		ents []userStateEntry
		pos  int
		from uint64
		done bool
	}
	fill := func(c *cursor) error {
		c.ents, c.pos = c.ents[:0], 0
		if c.done {
			return nil
		}
		err := c.r.scan(c.from, hi, true, func(e userStateEntry) bool {
			c.ents = append(c.ents, e)
			return len(c.ents) < 256
		})
		if len(c.ents) < 256 {
			c.done = true
		} else {
			c.from = c.ents[len(c.ents)-1].key + 1
		}
		return err
	}
	cs := make([]*cursor, len(st.runs))
	for i, r := range st.runs {
		cs[i] = &cursor{r: r, from: lo}
		if err := fill(cs[i]); err != nil {
			return err
		}
	}
	ki := 0
	for {
		// The smallest next key among the runs and the overlay.
		next, have := uint64(0), false
		for _, c := range cs {
			if c.pos < len(c.ents) && (!have || c.ents[c.pos].key < next) {
				next, have = c.ents[c.pos].key, true
			}
		}
		if ki < len(over) && (!have || userStateKey(kind, over[ki]) <= next) {
			next, have = userStateKey(kind, over[ki]), true
		}
		if !have {
			return nil
		}
		var newest *userStateEntry
		var newestRun *userStateRun
		for _, c := range cs { // oldest first: the last match is the newest
			if c.pos < len(c.ents) && c.ents[c.pos].key == next {
				e := c.ents[c.pos]
				newest, newestRun = &e, c.r
				c.pos++
				if c.pos == len(c.ents) {
					if err := fill(c); err != nil {
						return err
					}
				}
			}
		}
		n := uint32(next)
		if ki < len(over) && over[ki] == n {
			newest, newestRun = nil, nil
			ki++
		}
		if more, err := fn(n, newest, newestRun); !more || err != nil {
			return err
		}
	}
}

// userStatePlan is what a flush writes of one project's user state.
type userStatePlan struct {
	oldRuns []*userStateRun
	entries []userStateEntry // the frozen overlay, sorted by key
	// outputs
	runs     []*userStateRun // the runs once installed; nil: unchanged
	created  []*userStateRun // runs this flush wrote (some merged away again)
	obsolete []*userStateRun // runs this flush replaced
}

// freeze moves the overlay to frozen for a flush and encodes it.
// REQUIRES: p.mu held; no flush under way (s.flushMu).
func (st *userState) freeze() *userStatePlan {
	pl := &userStatePlan{oldRuns: st.runs}
	if !st.dirty() {
		return pl
	}
	st.identFrozen, st.peopleFrozen, st.groupsFrozen = st.identMem, st.peopleMem, st.groupsMem
	st.identMem, st.peopleMem, st.groupsMem = map[uint32]*identChunk{}, map[uint32]profileVal{}, map[uint32][]Person{}
	st.memBytes, st.frozenBytes = 0, st.memBytes
	st.gen.Add(1) // the frozen chunks are shared from now on
	for c, ch := range st.identFrozen {
		pl.entries = append(pl.entries, userStateEntry{key: userStateKey(userStateIdentity, c), val: encodeIdentChunk(nil, ch)})
	}
	for u, v := range st.peopleFrozen {
		e := userStateEntry{key: userStateKey(userStatePerson, u), del: v.del}
		if !v.del {
			e.val = encodePersonValue(nil, v.props)
		}
		pl.entries = append(pl.entries, e)
	}
	for b, rows := range st.groupsFrozen {
		e := userStateEntry{key: userStateKey(userStateGroups, b), del: len(rows) == 0}
		if !e.del {
			e.val = encodeGroupBucket(nil, rows)
		}
		pl.entries = append(pl.entries, e)
	}
	slices.SortFunc(pl.entries, func(a, b userStateEntry) int {
		switch {
		case a.key < b.key:
			return -1
		case a.key > b.key:
			return 1
		}
		return 0
	})
	return pl
}

// write writes the plan's run and merges runs as the top of this file
// says; name numbers a new file and returns its path. REQUIRES:
// s.flushMu held.
func (pl *userStatePlan) write(fs FS, name func() string) error {
	if len(pl.entries) == 0 {
		return nil
	}
	r, err := writeUserStateRun(fs, name(), sliceUserState(pl.entries))
	if err != nil {
		return err
	}
	pl.created = append(pl.created, r)
	runs := append(slices.Clone(pl.oldRuns), r)
	// The compactor merges runs (user_state_merge.go); a flush merges
	// only when it is off or far behind, to keep reads bounded.
	for len(runs) > maxUserStateRuns {
		in := runs[len(runs)-2:]
		merged, err := mergeUserStateRuns(fs, name(), in, len(runs) == 2)
		if err != nil {
			return err
		}
		pl.created = append(pl.created, merged)
		pl.obsolete = append(pl.obsolete, in...)
		runs = append(runs[:len(runs)-2:len(runs)-2], merged)
	}
	pl.runs = runs
	return nil
}

// install makes the written runs the live ones. REQUIRES: p.mu held;
// the manifest naming them is durable.
func (st *userState) install(pl *userStatePlan) {
	if pl.runs != nil {
		st.runs = pl.runs
	}
	st.identFrozen, st.peopleFrozen, st.groupsFrozen = nil, nil, nil
	st.frozenBytes = 0
	for _, r := range pl.obsolete {
		// A view may still read it: its handle closes with its last
		// reader (openUserStateRun); the cache lets go of it now.
		sharedBlockCache.forgetOwner(r)
	}
	for _, r := range pl.created {
		if !slices.Contains(st.runs, r) {
			sharedBlockCache.forgetOwner(r)
		}
	}
}

// abandon puts a frozen overlay back under mem (a flush failed before
// its manifest). REQUIRES: p.mu held.
func (st *userState) abandon(pl *userStatePlan) {
	for c, ch := range st.identFrozen {
		if st.identMem[c] == nil {
			st.identMem[c] = ch // shared (old gen): copied before a change
			st.memBytes += identChunkBytes
		}
	}
	for u, v := range st.peopleFrozen {
		if _, ok := st.peopleMem[u]; !ok {
			st.setPerson(u, v.props, v.del)
		}
	}
	for b, rows := range st.groupsFrozen {
		if _, ok := st.groupsMem[b]; !ok {
			st.groupsMem[b] = rows
			st.memBytes += 48
			for _, r := range rows {
				st.memBytes += int64(len(r.DistinctID)) + propsBytes(r.Props)
			}
		}
	}
	st.identFrozen, st.peopleFrozen, st.groupsFrozen = nil, nil, nil
	st.frozenBytes = 0
	for _, r := range pl.created {
		sharedBlockCache.forgetOwner(r)
	}
	pl.created, pl.runs, pl.obsolete = nil, nil, nil
}

// snapshot returns a read-only copy of st as of now, for users below
// users, that later changes do not show through: reads on it need no
// lock. Cost: copies of the overlay's maps (bounded by a flush's worth).
// REQUIRES: p.mu held, shared at least.
func (st *userState) snapshot(users int) *userState {
	st.gen.Add(1) // chunks in identMem are shared from now on
	return &userState{runs: st.runs,
		identMem: maps.Clone(st.identMem), identFrozen: st.identFrozen,
		peopleMem: maps.Clone(st.peopleMem), peopleFrozen: st.peopleFrozen,
		groupsMem: maps.Clone(st.groupsMem), groupsFrozen: st.groupsFrozen,
		users: func() int { return users }}
}

// bytes estimates what the overlay holds, mem and frozen: it counts
// toward the store's ingest buffer (Project.countUserStateLocked).
func (st *userState) bytes() int64 { return st.memBytes + st.frozenBytes }

// dirty reports whether the overlay holds changes.
func (st *userState) dirty() bool {
	return len(st.identMem) > 0 || len(st.peopleMem) > 0 || len(st.groupsMem) > 0
}

// close closes the live runs' handles (the store closes).
func (st *userState) close() {
	for _, r := range st.runs {
		r.close()
	}
}

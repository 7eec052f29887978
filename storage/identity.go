package storage

// Identity merging (../shared/mixpanel-ingest.md §3). Events keep the
// distinct_id they were sent with; each project keeps a union-find over
// user numbers, fed by every event it stores:
//
//   - $device_id + $user_id on one event (Simplified ID Merge), and the
//     event's distinct_id with its $user_id;
//   - $identify: $identified_id + $anon_id, or (browser) distinct_id +
//     $anon_distinct_id;
//   - $create_alias: alias + distinct_id;
//   - $merge: every id of $distinct_ids (the server accepts it only on
//     /import with the secret);
//   - "$device:X" and "X" are the same device.
//
// Queries resolve each event's user to its cluster's canonical user, so
// a merge is retroactive. INVARIANT: the canonical user of a cluster is
// its best member: a user id ($user_id, $identified_id, identify's
// distinct_id, an alias's original distinct_id) before any other id, and
// among equals the lowest user number (the id seen first). The canonical
// is thus a function of the cluster and the user-id marks alone, not of
// the order links arrived in, so replay and replicas agree.
//
// Identity state is derived from stored events only; it is persisted with
// the people file at each flush (so that WAL files can be deleted), and
// re-derived from the WAL tail on replay (union is idempotent).

import (
	"encoding/binary"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
)

const canonChunkBits = 12

// canonChunk maps 4,096 consecutive user numbers to their canonical user
// plus one (0: the user is its own canonical). A chunk reachable from a
// Canon view is never modified: writers copy it first.
type canonChunk struct {
	gen  uint64 // identity.gen when the chunk was copied; older chunks are shared
	vals [1 << canonChunkBits]uint32
}

// identity is one project's union-find. Guarded by the project's lock.
type identity struct {
	chunks  []*canonChunk       // nil chunk: every user in it is its own canonical
	gen     atomic.Uint64       // bumped by every view (under a read lock); chunks with an older gen are shared
	members map[uint32][]uint32 // canonical → the other users of its cluster
	isUser  map[uint32]bool     // users known to be user ids (preferred canonicals)
}

func newIdentity() *identity {
	id := &identity{members: map[uint32][]uint32{}, isUser: map[uint32]bool{}}
	id.gen.Store(1)
	return id
}

func (id *identity) canonical(u uint32) uint32 {
	c := int(u >> canonChunkBits)
	if c < len(id.chunks) && id.chunks[c] != nil {
		if v := id.chunks[c].vals[u&(1<<canonChunkBits-1)]; v != 0 {
			return v - 1
		}
	}
	return u
}

// setCanonical records canon as u's canonical, copying a shared chunk.
func (id *identity) setCanonical(u, canon uint32) {
	c := int(u >> canonChunkBits)
	for len(id.chunks) <= c {
		id.chunks = append(id.chunks, nil)
	}
	ch, gen := id.chunks[c], id.gen.Load()
	switch {
	case ch == nil:
		ch = &canonChunk{gen: gen}
		id.chunks[c] = ch
	case ch.gen != gen:
		cp := *ch
		cp.gen = gen
		ch = &cp
		id.chunks[c] = ch
	}
	v := canon + 1
	if canon == u {
		v = 0
	}
	ch.vals[u&(1<<canonChunkBits-1)] = v
}

// better reports whether a is a better canonical than b.
func (id *identity) better(a, b uint32) bool {
	if ua, ub := id.isUser[a], id.isUser[b]; ua != ub {
		return ua
	}
	return a < b
}

// union merges the clusters of a and b; it reports whether anything
// changed.
func (id *identity) union(a, b uint32) bool {
	ca, cb := id.canonical(a), id.canonical(b)
	if ca == cb {
		return false
	}
	win, lose := ca, cb
	if id.better(cb, ca) {
		win, lose = cb, ca
	}
	moved := append([]uint32{lose}, id.members[lose]...)
	delete(id.members, lose)
	for _, u := range moved {
		id.setCanonical(u, win)
	}
	id.members[win] = append(id.members[win], moved...)
	return true
}

// markUser records that u is a user id, which may make it its cluster's
// canonical; it reports whether anything changed.
func (id *identity) markUser(u uint32) bool {
	if id.isUser[u] {
		return false
	}
	id.isUser[u] = true
	c := id.canonical(u)
	if c == u || !id.better(u, c) {
		return true
	}
	// u takes over the cluster.
	cluster := append([]uint32{c}, id.members[c]...)
	delete(id.members, c)
	var rest []uint32
	for _, m := range cluster {
		id.setCanonical(m, u)
		if m != u {
			rest = append(rest, m)
		}
	}
	id.members[u] = rest
	return true
}

// view returns a read-only mapping of the current state; later changes do
// not show through it. Cost: a copy of the chunk pointers (one per 4,096
// users). REQUIRES: the project's lock, shared at least.
func (id *identity) view() Canon {
	id.gen.Add(1)
	return Canon{chunks: slices.Clone(id.chunks)}
}

// Canon maps user numbers to canonical user numbers, as of one snapshot.
type Canon struct{ chunks []*canonChunk }

// Of returns u's canonical user number.
func (c Canon) Of(u uint32) uint32 {
	i := int(u >> canonChunkBits)
	if i < len(c.chunks) && c.chunks[i] != nil {
		if v := c.chunks[i].vals[u&(1<<canonChunkBits-1)]; v != 0 {
			return v - 1
		}
	}
	return u
}

// Merged reports whether any user has a canonical other than itself.
func (c Canon) Merged() bool {
	for _, ch := range c.chunks {
		if ch != nil {
			return true
		}
	}
	return false
}

// observeEventLocked feeds one stored event's identity links into the
// project's union-find and reports whether it changed. An error (the
// user dictionary could not be read) changes nothing.
// REQUIRES: p.mu held.
func (p *Project) observeEventLocked(e *Event, user uint32) (bool, error) {
	var userID, deviceID, identified, anon, alias string
	var mergeIDs []string
	for _, pr := range e.Props {
		if pr.Value.Type != TypeString && pr.Key != "$distinct_ids" {
			continue
		}
		switch pr.Key {
		case "$user_id":
			userID = pr.Value.Str
		case "$device_id":
			deviceID = pr.Value.Str
		case "$identified_id":
			identified = pr.Value.Str
		case "$anon_id", "$anon_distinct_id":
			if anon == "" || pr.Key == "$anon_id" {
				anon = pr.Value.Str
			}
		case "alias":
			alias = pr.Value.Str
		case "$distinct_ids":
			if pr.Value.Type == TypeJSON {
				var ids []any
				if json.Unmarshal([]byte(pr.Value.Str), &ids) == nil {
					for _, v := range ids {
						switch v := v.(type) {
						case string:
							mergeIDs = append(mergeIDs, v)
						case float64:
							mergeIDs = append(mergeIDs, strconv.FormatFloat(v, 'f', -1, 64))
						}
					}
				}
			}
		}
	}
	// Number every id first: a dictionary read that fails leaves the
	// union-find untouched.
	var numErr error
	num := func(x string) uint32 {
		n, err := p.userNumberLocked(x)
		if err != nil && numErr == nil {
			numErr = err
		}
		return n
	}
	var userNum, deviceNum, newNum, anonNum, aliasNum uint32
	var mergeNums []uint32
	newID := identified
	if newID == "" {
		newID = e.DistinctID
	}
	if userID != "" {
		userNum = num(userID)
		if deviceID != "" {
			deviceNum, numErr = p.deviceNumberLocked(deviceID, numErr)
		}
	}
	switch e.Name {
	case "$identify":
		if newID != "" && anon != "" {
			newNum, anonNum = num(newID), num(anon)
		}
	case "$create_alias":
		if alias != "" && e.DistinctID != "" {
			aliasNum = num(alias)
		}
	case "$merge":
		// The first id is numbered only when it has a partner.
		for i := 1; i < len(mergeIDs); i++ {
			if mergeIDs[0] != "" && mergeIDs[i] != "" {
				if len(mergeNums) == 0 {
					mergeNums = append(mergeNums, num(mergeIDs[0]))
				}
				mergeNums = append(mergeNums, num(mergeIDs[i]))
			}
		}
	}
	if numErr != nil {
		return false, numErr
	}

	id := p.ident
	changed := false
	if userID != "" {
		changed = id.markUser(userNum) || changed
		if e.DistinctID != "" {
			changed = id.union(user, userNum) || changed
		}
		if deviceID != "" {
			changed = id.union(userNum, deviceNum) || changed
		}
	}
	switch e.Name {
	case "$identify":
		if newID != "" && anon != "" {
			changed = id.markUser(newNum) || changed
			changed = id.union(newNum, anonNum) || changed
		}
	case "$create_alias":
		if alias != "" && e.DistinctID != "" {
			changed = id.markUser(user) || changed
			changed = id.union(user, aliasNum) || changed
		}
	case "$merge":
		for i := 1; i < len(mergeNums); i++ {
			changed = id.union(mergeNums[0], mergeNums[i]) || changed
		}
	}
	return changed, nil
}

// deviceNumberLocked is the user number of device d: "$device:d" or "d",
// whichever is known (they are linked when both are). It does nothing
// when err (an earlier failure) is set, and returns the first error.
func (p *Project) deviceNumberLocked(d string, err error) (uint32, error) {
	if err != nil {
		return 0, err
	}
	x := strings.TrimPrefix(d, "$device:")
	if n, ok, err := p.users.lookup(x); ok || err != nil {
		return n, err
	}
	return p.userNumberLocked("$device:" + x)
}

// userNumberLocked numbers id, linking "$device:X" with "X" the first
// time either is seen while the other is known. REQUIRES: p.mu held.
func (p *Project) userNumberLocked(id string) (uint32, error) {
	if n, ok, err := p.users.lookup(id); ok || err != nil {
		return n, err
	}
	n := p.users.assign(id)
	var twin string
	if x, ok := strings.CutPrefix(id, "$device:"); ok {
		twin = x
	} else {
		twin = "$device:" + id
	}
	if twin == "" {
		return n, nil
	}
	t, ok, err := p.users.lookup(twin)
	if err != nil {
		return 0, err
	}
	if ok && p.ident.union(n, t) {
		p.profilesDirty = true
	}
	return n, nil
}

// encodeIdentity appends the union-find state: the (user, canonical)
// pairs of merged users and the users marked as user ids.
//
//	| uvarint pairs | (uvarint user, uvarint canonical) × pairs |
//	| uvarint marks | uvarint user × marks |
func (id *identity) encode(dst []byte) []byte {
	var pairs [][2]uint32
	for c, ms := range id.members {
		for _, m := range ms {
			pairs = append(pairs, [2]uint32{m, c})
		}
	}
	dst = binary.AppendUvarint(dst, uint64(len(pairs)))
	for _, pr := range pairs {
		dst = binary.AppendUvarint(dst, uint64(pr[0]))
		dst = binary.AppendUvarint(dst, uint64(pr[1]))
	}
	dst = binary.AppendUvarint(dst, uint64(len(id.isUser)))
	for u := range id.isUser {
		dst = binary.AppendUvarint(dst, uint64(u))
	}
	return dst
}

// decodeIdentity reads encode's output; users bounds valid user numbers.
func decodeIdentity(src []byte, users int) (*identity, error) {
	id := newIdentity()
	d := &batchDecoder{src: src}
	n := d.uvarint()
	for i := uint64(0); i < n && d.err == nil; i++ {
		u, c := d.uvarint(), d.uvarint()
		if u >= uint64(users) || c >= uint64(users) || u == c {
			d.fail("identity pair %d: users %d → %d out of range (%d users)", i, u, c, users)
			break
		}
		// encode writes each merged user once, under a canonical that is
		// no one's member: anything else is not a union-find, and unions
		// on it would give users two canonicals.
		if id.canonical(uint32(u)) != uint32(u) || len(id.members[uint32(u)]) > 0 || id.canonical(uint32(c)) != uint32(c) {
			d.fail("identity pair %d: user %d → %d, but %d or %d is merged already", i, u, c, u, c)
			break
		}
		id.setCanonical(uint32(u), uint32(c))
		id.members[uint32(c)] = append(id.members[uint32(c)], uint32(u))
	}
	marks := d.uvarint()
	for i := uint64(0); i < marks && d.err == nil; i++ {
		u := d.uvarint()
		if u >= uint64(users) {
			d.fail("identity mark %d: user %d out of range (%d users)", i, u, users)
			break
		}
		id.isUser[uint32(u)] = true
	}
	if d.err == nil && d.off != len(src) {
		d.fail("%d bytes after the identity state", len(src)-d.off)
	}
	// INVARIANT (file comment): each canonical is its cluster's best
	// member, or replay and replicas would pick another.
	for c, ms := range id.members {
		for _, m := range ms {
			if d.err == nil && id.better(m, c) {
				d.fail("identity: user %d is the canonical of a cluster holding the better user %d", c, m)
			}
		}
	}
	return id, d.err
}

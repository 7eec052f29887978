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
// Identity state is derived from stored events only; it lives in the
// project's user state (user_state.go: chunks of 4,096 users on disk, the
// changed ones in memory until the next flush writes them, so that WAL
// files can be deleted), and is re-derived from the WAL tail on replay
// (union and marks are idempotent).

import (
	"cmp"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"maps"
	"math/bits"
	"strconv"
	"strings"
	"sync/atomic"
)

const canonChunkBits = 12

// identChunkUsers is the number of consecutive user numbers an identity
// chunk covers.
const identChunkUsers = 1 << canonChunkBits

// identChunk is the identity state of identChunkUsers consecutive users.
// Each cluster is a circle through its members (next), so a union can
// relabel the smaller side without an index of members. A chunk
// reachable from a Canon view or the block cache is never modified:
// writers copy it first (userState.chunkForWrite).
type identChunk struct {
	gen   uint64                  // userState.gen when copied into the overlay; older chunks are shared
	canon [identChunkUsers]uint32 // canonical user + 1; 0: the user is its own canonical
	next  [identChunkUsers]uint32 // next member of the user's cluster + 1; 0: the user is alone
	marks [identChunkUsers / 64]uint64
}

const identChunkBytes = 8*identChunkUsers + identChunkUsers/8 + 64

func (ch *identChunk) canonOf(u uint32) uint32 {
	if v := ch.canon[u&(identChunkUsers-1)]; v != 0 {
		return v - 1
	}
	return u
}

func (ch *identChunk) nextOf(u uint32) uint32 {
	if v := ch.next[u&(identChunkUsers-1)]; v != 0 {
		return v - 1
	}
	return u
}

func (ch *identChunk) marked(u uint32) bool {
	o := u & (identChunkUsers - 1)
	return ch.marks[o/64]&(1<<(o%64)) != 0
}

// encodeIdentChunk is a chunk's value in a user state run: its users with
// a canonical other than themselves, with a next member, and marked as
// user ids, each list by offset in the chunk.
//
//	| uvarint n | (uvarint offset gap, uvarint canonical) × n |
//	| uvarint n | (uvarint offset gap, uvarint next member) × n |
//	| uvarint n | uvarint offset gap × n |
//
// An offset gap is the offset minus the previous one's, minus one (the
// first: the offset).
func encodeIdentChunk(dst []byte, ch *identChunk) []byte {
	for _, arr := range []*[identChunkUsers]uint32{&ch.canon, &ch.next} {
		n := 0
		for _, v := range arr {
			if v != 0 {
				n++
			}
		}
		dst = binary.AppendUvarint(dst, uint64(n))
		prev := -1
		for o, v := range arr {
			if v != 0 {
				dst = binary.AppendUvarint(dst, uint64(o-prev-1))
				dst = binary.AppendUvarint(dst, uint64(v-1))
				prev = o
			}
		}
	}
	n := 0
	for _, w := range ch.marks {
		n += bits.OnesCount64(w)
	}
	dst = binary.AppendUvarint(dst, uint64(n))
	prev := -1
	for o := 0; o < identChunkUsers; o++ {
		if ch.marks[o/64]&(1<<(o%64)) != 0 {
			dst = binary.AppendUvarint(dst, uint64(o-prev-1))
			prev = o
		}
	}
	return dst
}

// decodeIdentChunk reads encodeIdentChunk's output for chunk c; users
// bounds valid user numbers (the project's dictionary size).
func decodeIdentChunk(src []byte, c uint32, users int) (*identChunk, error) {
	ch := &identChunk{}
	d := &batchDecoder{src: src}
	base := uint64(c) << canonChunkBits
	for li, arr := range []*[identChunkUsers]uint32{&ch.canon, &ch.next} {
		n := d.count("identity entries", 2)
		prev := -1
		for i := 0; i < n && d.err == nil; i++ {
			gap, v := d.uvarint(), d.uvarint()
			o := uint64(prev+1) + gap
			switch {
			case d.err != nil:
			case gap >= identChunkUsers || o >= identChunkUsers:
				d.fail("identity chunk %d: offset %d out of range", c, o)
			case base+o >= uint64(users) || v >= uint64(users):
				d.fail("identity chunk %d: user %d → %d out of range (%d users)", c, base+o, v, users)
			case v == base+o:
				d.fail("identity chunk %d: user %d points at itself", c, v)
			default:
				arr[o] = uint32(v) + 1
				prev = int(o)
			}
			_ = li
		}
	}
	n := d.count("identity marks", 1)
	prev := -1
	for i := 0; i < n && d.err == nil; i++ {
		o := uint64(prev+1) + d.uvarint()
		if d.err == nil && (o >= identChunkUsers || base+o >= uint64(users)) {
			d.fail("identity chunk %d: mark of user %d out of range (%d users)", c, base+o, users)
			break
		}
		ch.marks[o/64] |= 1 << (o % 64)
		prev = int(o)
	}
	if d.err == nil && d.off != len(src) {
		d.fail("identity chunk %d: %d bytes after its marks", c, len(src)-d.off)
	}
	return ch, d.err
}

// canonical returns u's canonical user. REQUIRES: p.mu held.
func (st *userState) canonical(u uint32) (uint32, error) {
	ch, err := st.chunk(u >> canonChunkBits)
	if ch == nil || err != nil {
		return u, err
	}
	return ch.canonOf(u), nil
}

// better reports whether a is a better canonical than b.
func (st *userState) better(a, b uint32) (bool, error) {
	ua, err := st.isUser(a)
	if err != nil {
		return false, err
	}
	ub, err := st.isUser(b)
	if err != nil {
		return false, err
	}
	if ua != ub {
		return ua, nil
	}
	return a < b, nil
}

func (st *userState) isUser(u uint32) (bool, error) {
	ch, err := st.chunk(u >> canonChunkBits)
	if ch == nil || err != nil {
		return false, err
	}
	return ch.marked(u), nil
}

func (st *userState) nextMember(u uint32) (uint32, error) {
	ch, err := st.chunk(u >> canonChunkBits)
	if ch == nil || err != nil {
		return u, err
	}
	return ch.nextOf(u), nil
}

func (st *userState) setCanonical(u, canon uint32) error {
	ch, err := st.chunkForWrite(u >> canonChunkBits)
	if err != nil {
		return err
	}
	v := canon + 1
	if canon == u {
		v = 0
	}
	ch.canon[u&(identChunkUsers-1)] = v
	return nil
}

func (st *userState) setNext(u, next uint32) error {
	ch, err := st.chunkForWrite(u >> canonChunkBits)
	if err != nil {
		return err
	}
	v := next + 1
	if next == u {
		v = 0
	}
	ch.next[u&(identChunkUsers-1)] = v
	return nil
}

// relabel makes canon the canonical of every member of from's cluster.
func (st *userState) relabel(from, canon uint32) error {
	x := from
	for {
		if err := st.setCanonical(x, canon); err != nil {
			return err
		}
		n, err := st.nextMember(x)
		if err != nil {
			return err
		}
		if n == from {
			return nil
		}
		x = n
	}
}

// union merges the clusters of a and b; it reports whether anything
// changed. An error (a chunk could not be read) may leave the clusters
// half relabelled: the store stops and a restart replays the batch.
func (st *userState) union(a, b uint32) (bool, error) {
	ca, err := st.canonical(a)
	if err != nil {
		return false, err
	}
	cb, err := st.canonical(b)
	if err != nil || ca == cb {
		return false, err
	}
	win, lose := ca, cb
	if bw, err := st.better(cb, ca); err != nil {
		return false, err
	} else if bw {
		win, lose = cb, ca
	}
	if err := st.relabel(lose, win); err != nil {
		return false, err
	}
	// Splice the two circles into one.
	nw, err := st.nextMember(win)
	if err != nil {
		return false, err
	}
	nl, err := st.nextMember(lose)
	if err != nil {
		return false, err
	}
	if err := st.setNext(win, nl); err != nil {
		return false, err
	}
	return true, st.setNext(lose, nw)
}

// markUser records that u is a user id, which may make it its cluster's
// canonical; it reports whether anything changed.
func (st *userState) markUser(u uint32) (bool, error) {
	if m, err := st.isUser(u); m || err != nil {
		return false, err
	}
	ch, err := st.chunkForWrite(u >> canonChunkBits)
	if err != nil {
		return false, err
	}
	o := u & (identChunkUsers - 1)
	ch.marks[o/64] |= 1 << (o % 64)
	c, err := st.canonical(u)
	if err != nil || c == u {
		return true, err
	}
	if b, err := st.better(u, c); err != nil || !b {
		return true, err
	}
	return true, st.relabel(c, u) // u takes over the cluster
}

// view returns a read-only mapping of the current state for users below
// users; later changes do not show through it. Cost: a copy of the
// overlay's chunk pointers and one pointer per 4,096 users for the
// view's own cache. REQUIRES: p.mu held, shared at least.
func (st *userState) view(users int) Canon {
	st.gen.Add(1)
	v := &canonView{mem: maps.Clone(st.identMem), frozen: st.identFrozen, runs: st.runs,
		memo: make([]atomic.Pointer[identChunk], (users+identChunkUsers-1)/identChunkUsers), users: users}
	v.merged = st.hasIdentity()
	return Canon{v: v}
}

// Canon maps user numbers to canonical user numbers, as of one snapshot.
// The zero Canon maps every user to itself.
type Canon struct{ v *canonView }

type canonView struct {
	mem, frozen map[uint32]*identChunk
	runs        []*userStateRun
	users       int
	merged      bool
	memo        []atomic.Pointer[identChunk] // chunks resolved so far; noChunk: none
	// shards is set on a union view (shard_view.go): user u is shard
	// u%S's user u/S; cross maps a shard's canonical user of a person
	// linked across shards onto the person's (shards.go), and readErr is
	// set when that map could not be read.
	shards  []Canon
	cross   map[uint32]uint32
	readErr error
}

// noChunk marks a memo slot whose chunk holds no identity state.
var noChunk = &identChunk{}

// Of returns u's canonical user number. A chunk that cannot be read (I/O
// error, damage) panics with a *UserReadError, as UserIDs.ID does:
// queries turn it into an error (the engine's workers recover).
func (c Canon) Of(u uint32) uint32 {
	v := c.v
	if v == nil {
		return u
	}
	if v.shards != nil {
		return v.shardOf(u)
	}
	i := int(u >> canonChunkBits)
	if i >= len(v.memo) {
		return u
	}
	ch := v.memo[i].Load()
	if ch == nil {
		ch = v.resolve(uint32(i))
		v.memo[i].Store(ch)
	}
	return ch.canonOf(u)
}

func (v *canonView) resolve(c uint32) *identChunk {
	if ch := v.mem[c]; ch != nil {
		return ch
	}
	if ch := v.frozen[c]; ch != nil {
		return ch
	}
	ch, err := runsIdentChunk(v.runs, c, v.users)
	if err != nil {
		panic(&UserReadError{Err: err})
	}
	if ch == nil {
		return noChunk
	}
	return ch
}

// Merged reports whether any user may have a canonical other than itself.
func (c Canon) Merged() bool { return c.v != nil && c.v.merged }

// devicePrefix spells a device id as a distinct_id: "$device:X" and "X"
// are one user once both are known (userNumberLocked).
const devicePrefix = "$device:"

// identityProps are the properties of an event that link ids.
type identityProps struct {
	userID, deviceID, identified, anon, alias string
	mergeIDs                                  []string
}

// identityOf reads e's identity properties (string values only, but for
// $merge's list).
func identityOf(e *Event) identityProps {
	var ip identityProps
	for _, pr := range e.Props {
		if pr.Value.Type != TypeString && pr.Key != "$distinct_ids" {
			continue
		}
		switch pr.Key {
		case "$user_id":
			ip.userID = pr.Value.Str
		case "$device_id":
			ip.deviceID = pr.Value.Str
		case "$identified_id":
			ip.identified = pr.Value.Str
		case "$anon_id", "$anon_distinct_id":
			if ip.anon == "" || pr.Key == "$anon_id" {
				ip.anon = pr.Value.Str
			}
		case "alias":
			ip.alias = pr.Value.Str
		case "$distinct_ids":
			if pr.Value.Type == TypeJSON {
				var ids []any
				if json.Unmarshal([]byte(pr.Value.Str), &ids) == nil {
					for _, v := range ids {
						switch v := v.(type) {
						case string:
							ip.mergeIDs = append(ip.mergeIDs, v)
						case float64:
							ip.mergeIDs = append(ip.mergeIDs, strconv.FormatFloat(v, 'f', -1, 64))
						}
					}
				}
			}
		}
	}
	return ip
}

// linkedIDs are the ids other than its distinct_id that e links (as
// observeEventLocked links them), without the "$device:" spelling of a
// device id.
func (ip *identityProps) linkedIDs(e *Event) []string {
	var out []string
	add := func(ids ...string) {
		for _, id := range ids {
			if id != "" && id != e.DistinctID {
				out = append(out, id)
			}
		}
	}
	if ip.userID != "" {
		add(ip.userID)
		if ip.deviceID != "" {
			add(strings.TrimPrefix(ip.deviceID, devicePrefix))
		}
	}
	switch e.Name {
	case "$identify":
		if ip.anon != "" {
			add(cmp.Or(ip.identified, e.DistinctID), ip.anon)
		}
	case "$create_alias":
		add(ip.alias)
	case "$merge":
		if len(ip.mergeIDs) > 1 {
			add(ip.mergeIDs...)
		}
	}
	return out
}

// observeEventLocked feeds one stored event's identity links into the
// project's union-find and reports whether it changed. An error (the
// user dictionary could not be read) changes nothing.
// REQUIRES: p.mu held.
func (p *Project) observeEventLocked(e *Event, user uint32) (bool, error) {
	ip := identityOf(e)
	userID, deviceID, identified, anon, alias, mergeIDs := ip.userID, ip.deviceID, ip.identified, ip.anon, ip.alias, ip.mergeIDs
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

	st := p.ustate
	changed := false
	var err error
	step := func(c bool, e error) {
		changed = changed || c
		if err == nil {
			err = e
		}
	}
	if userID != "" {
		step(st.markUser(userNum))
		if e.DistinctID != "" {
			step(st.union(user, userNum))
		}
		if deviceID != "" {
			step(st.union(userNum, deviceNum))
		}
	}
	switch e.Name {
	case "$identify":
		if newID != "" && anon != "" {
			step(st.markUser(newNum))
			step(st.union(newNum, anonNum))
		}
	case "$create_alias":
		if alias != "" && e.DistinctID != "" {
			step(st.markUser(user))
			step(st.union(user, aliasNum))
		}
	case "$merge":
		for i := 1; i < len(mergeNums); i++ {
			step(st.union(mergeNums[0], mergeNums[i]))
		}
	}
	if changed {
		p.identityChanges++
	}
	if err != nil {
		return changed, err
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
	x := strings.TrimPrefix(d, devicePrefix)
	if n, ok, err := p.users.lookup(x); ok || err != nil {
		return n, err
	}
	return p.userNumberLocked(devicePrefix + x)
}

// userNumberLocked numbers id, linking "$device:X" with "X" the first
// time either is seen while the other is known. REQUIRES: p.mu held.
func (p *Project) userNumberLocked(id string) (uint32, error) {
	return p.numberUserLocked(id, true)
}

// numberUserLocked is userNumberLocked; cache=false keeps a new id out of
// the user cache (a bulk load: its hundreds of thousands of new ids would
// evict the ones ingest sees, and the flush that commits the load puts
// them there anyway). REQUIRES: p.mu held.
func (p *Project) numberUserLocked(id string, cache bool) (uint32, error) {
	if n, ok, err := p.users.lookup(id); ok || err != nil {
		return n, err
	}
	n := p.users.assign(id, cache)
	var twin string
	if x, ok := strings.CutPrefix(id, devicePrefix); ok {
		twin = x
	} else {
		twin = devicePrefix + id
	}
	if twin == "" {
		return n, nil
	}
	t, ok, err := p.users.lookup(twin)
	if err != nil {
		return 0, err
	}
	if ok {
		if _, err := p.ustate.union(n, t); err != nil {
			return 0, err
		}
	}
	return n, nil
}

// migrateIdentity loads the identity state of a people file of format
// ARBPPL02 (identity used to live there) into st's overlay:
//
//	| uvarint pairs | (uvarint user, uvarint canonical) × pairs |
//	| uvarint marks | uvarint user × marks |
//
// users bounds valid user numbers. The state is rebuilt by the same
// marks and unions that made it, so the result holds the invariant of
// the top of this file, and every pair must come out as the file says.
func migrateIdentity(st *userState, src []byte, users int) error {
	d := &batchDecoder{src: src}
	n := d.count("identity pairs", 2)
	pairs := make([][2]uint32, 0, n)
	for i := 0; i < n && d.err == nil; i++ {
		u, c := d.uvarint(), d.uvarint()
		if d.err == nil && (u >= uint64(users) || c >= uint64(users) || u == c) {
			d.fail("identity pair %d: users %d → %d out of range (%d users)", i, u, c, users)
		}
		pairs = append(pairs, [2]uint32{uint32(u), uint32(c)})
	}
	marks := d.count("identity marks", 1)
	for i := 0; i < marks && d.err == nil; i++ {
		u := d.uvarint()
		if d.err == nil && u >= uint64(users) {
			d.fail("identity mark %d: user %d out of range (%d users)", i, u, users)
			break
		}
		if _, err := st.markUser(uint32(u)); err != nil {
			return err
		}
	}
	if d.err == nil && d.off != len(src) {
		d.fail("%d bytes after the identity state", len(src)-d.off)
	}
	if d.err != nil {
		return d.err
	}
	for _, pr := range pairs {
		if _, err := st.union(pr[0], pr[1]); err != nil {
			return err
		}
	}
	for i, pr := range pairs {
		c, err := st.canonical(pr[0])
		if err != nil {
			return err
		}
		if c != pr[1] {
			return fmt.Errorf("identity pair %d: user %d → %d, but its cluster's best member is %d", i, pr[0], pr[1], c)
		}
	}
	return nil
}

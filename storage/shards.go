package storage

// Sharded projects: a project created with S > 1 shards keeps its rows in
// S projects of its own, "name.0" … "name.S-1" (a name no user project
// can take: '.' is not allowed), one per shard of ShardOf(distinct_id).
// Each shard is a whole project as far as the store goes — its own
// memtable, segments, users numbered from 0, union-find, dedup, flushes
// and compactions — so everything below the project boundary is
// unchanged. The project itself (the parent) holds no rows: it routes.
//
// Writes name the parent: a WAL record, and in a cluster a Raft log
// entry, carries the batch as it came, and whoever applies it (the live
// write, WAL replay, every replica's apply) splits it by ShardOf, so a
// batch is one record and one entry, applied whole or not at all. Every
// shard's part is fitted and its keys reserved before anything is
// durable or applied; the parts are added under the parent's shardMu,
// which a snapshot takes too, so a query sees a batch in every shard or
// in none. Reads take one UnionSnapshot of the shards (shard_view.go).
//
// Invariants: a parent's shards are fixed at creation (ShardOf's count is
// part of the layout); a distinct_id's events, people profile and
// identity links live in its shard; the parent's own memtable and
// segments stay empty, its users are the ids of links across shards.
//
// Identity links that join ids of two shards are also kept by the
// parent's own union-find (see "Identity across shards" below).

import (
	"errors"
	"fmt"
	"iter"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// maxShards bounds the shards of a project.
const maxShards = 256

// ValidateShards returns an error naming what is wrong with a shard count.
func ValidateShards(n int) error {
	if n < 1 || n > maxShards {
		return fmt.Errorf("shards %d: use 1 to %d", n, maxShards)
	}
	return nil
}

// shardName is the name of shard k of project.
func shardName(project string, k int) string { return project + "." + strconv.Itoa(k) }

// isShardName reports whether name is a shard's, not a project's.
func isShardName(name string) bool { return strings.Contains(name, ".") }

// shardSet is what a sharded project (the parent) holds.
type shardSet struct {
	parent *Project
	parts  []*Project
	// mu is held exclusively while a batch's parts are added to their
	// shards, shared while a snapshot reads them all.
	mu sync.RWMutex
	// cross is the last map of persons linked across shards, and what it
	// was built from (crossCanonCached).
	crossMu sync.Mutex
	cross   struct {
		version crossVersion
		m       map[uint32]uint32
	}
}

// linkShards makes p the parent of count shards, creating those the store
// does not have yet. A count of 1 or less leaves p unsharded.
// REQUIRES: s.mu held exclusively (or the store not yet shared).
func (s *Store) linkShards(p *Project, count int) {
	if count <= 1 || p.shards != nil {
		return
	}
	set := &shardSet{parent: p, parts: make([]*Project, count)}
	for k := range count {
		name := shardName(p.name, k)
		c, ok := s.projects[name]
		if !ok {
			c = newProject(s, name, "", "")
			s.projects[name] = c
		}
		if s.opts.SealRows > 0 {
			c.sealRows = max(1, s.opts.SealRows/count)
		}
		set.parts[k] = c
	}
	p.shards = set
}

// shardParts is one batch split by shard: rows[k], hashes[k] (aligned;
// nil when the caller has none) for shard k; shards without rows are nil.
type shardParts struct {
	rows   [][]Event
	hashes [][]uint64
}

func (set *shardSet) split(rows []Event, hashes []uint64) shardParts {
	n := len(set.parts)
	out := shardParts{rows: make([][]Event, n), hashes: make([][]uint64, n)}
	for i := range rows {
		k := ShardOf(rows[i].DistinctID, n)
		out.rows[k] = append(out.rows[k], rows[i])
		if hashes != nil {
			out.hashes[k] = append(out.hashes[k], hashes[i])
		}
	}
	return out
}

// reserved is one shard's part of a batch once reserve took it.
type reserved struct {
	p      *Project
	rows   []Event
	hashes []uint64
	ticket *ingestTicket
	waits  []*ingestTicket
}

// reserveShards is reserve for every shard's part: the kept rows of each,
// or the first error with every reservation made so far undone. (A part
// refused after others were fitted leaves those shards' schemas with the
// columns it brought and no rows in them, alike on every replica: a
// column list, not data.)
// REQUIRES: s.ingestMu held shared.
func (set *shardSet) reserveShards(table string, parts shardParts, maxColumns int) ([]reserved, error) {
	var out []reserved
	for k, rows := range parts.rows {
		if len(rows) == 0 {
			continue
		}
		c := set.parts[k]
		kept, ticket, waits, err := c.reserve(table, rows, parts.hashes[k], maxColumns)
		if err != nil {
			undoReserved(out, err)
			return nil, err
		}
		out = append(out, reserved{p: c, rows: kept, hashes: parts.hashes[k], ticket: ticket, waits: waits})
	}
	return out, nil
}

// undoReserved releases the keys of parts that will not be stored and
// fails their tickets with err (batches waiting on them learn why).
func undoReserved(parts []reserved, err error) {
	for _, r := range parts {
		if r.ticket == nil {
			continue
		}
		r.p.mu.Lock()
		r.p.mem.unreserveLocked(r.rows, r.hashes)
		r.p.mu.Unlock()
		r.ticket.err = err
		close(r.ticket.done)
	}
}

// addShards adds durable parts to their shards' memory, all under the
// parent's lock so that a snapshot sees all of them or none, and reports
// whether a flush is due. An error (the user dictionary could not be
// read) leaves the rest out: the caller stops the store.
// REQUIRES: s.ingestMu held shared since reserveShards.
func (set *shardSet) addShards(table string, parts []reserved) (needFlush bool, err error) {
	// Each part's known users are found before the locks (knownUsers).
	known := make([][]uint32, len(parts))
	if table == TableEvents {
		for i, r := range parts {
			known[i] = r.p.knownUsers(r.rows)
		}
		defer func() {
			for i := range known {
				knownUserBuffers.Put(&known[i])
			}
		}()
	}
	set.mu.Lock()
	defer set.mu.Unlock()
	for i, r := range parts {
		c := r.p
		opts := &c.store.opts
		c.mu.Lock()
		if table == TablePeople {
			err = c.addLocked(table, r.rows)
		} else {
			err = c.addEventsKnownLocked(r.rows, nil, known[i])
		}
		needFlush = needFlush || c.mem.bytes >= opts.FlushBytes || c.mem.len() >= opts.FlushRows || c.ustate.memBytes >= opts.FlushBytes
		c.mu.Unlock()
		if err == nil && table == TableEvents {
			err = set.linkAcross(r.p, r.rows)
		}
		if err != nil {
			return false, fmt.Errorf("project %s: %w", c.name, err)
		}
	}
	return needFlush, nil
}

// linkAcross feeds the parent's union-find the events of shard c's rows
// that link ids of other shards (see "Identity across shards" below).
// REQUIRES: set.mu held exclusively, or replay.
func (set *shardSet) linkAcross(c *Project, rows []Event) error {
	p, n, k := set.parent, len(set.parts), -1
	for i, x := range set.parts {
		if x == c {
			k = i
		}
	}
	locked := false
	defer func() {
		if locked {
			p.countUserStateLocked()
			p.mu.Unlock()
		}
	}()
	for i := range rows {
		e := &rows[i]
		ip := identityOf(e)
		cross := false
		for _, id := range ip.linkedIDs(e) {
			if ShardOf(id, n) != k {
				cross = true
				break
			}
		}
		if !cross {
			continue
		}
		if !locked {
			p.mu.Lock()
			locked = true
		}
		u, err := p.userNumberLocked(e.DistinctID)
		if err == nil {
			_, err = p.observeEventLocked(e, u)
		}
		if err != nil {
			return fmt.Errorf("project %s: %w", p.name, err)
		}
	}
	return nil
}

// applyShards is apply for a sharded project on a single node: every
// part reserved, then one WAL record naming p, then every part added.
func (p *Project) applyShards(kind recordKind, table string, rows []Event, hashes []uint64) error {
	s, set := p.store, p.shards
	s.ingestMu.RLock()
	parts, err := set.reserveShards(table, set.split(rows, hashes), s.opts.MaxColumns)
	if err != nil {
		s.ingestMu.RUnlock()
		return err
	}
	var kept []Event
	for _, r := range parts {
		kept = append(kept, r.rows...)
	}
	if len(kept) > 0 {
		payload := AppendEventBatch([]byte{byte(kind)}, &EventBatch{Project: p.name, Events: kept})
		if _, werr := s.wal.Append(payload); werr != nil {
			err = fmt.Errorf("project %s: write-ahead log: %w", p.name, s.walFailure(werr))
			undoReserved(parts, err)
			s.ingestMu.RUnlock()
			return err
		}
		s.observeIngest(len(kept), 0)
	}
	needFlush, err := set.addShards(table, parts)
	s.ingestMu.RUnlock()
	if err != nil {
		// Durable but only partly in memory: stop writes; a restart
		// replays the record.
		err = s.failStore(err)
	}
	for _, r := range parts {
		if r.ticket != nil {
			r.ticket.err = err
			close(r.ticket.done)
		}
	}
	if err != nil {
		return err
	}
	if needFlush {
		s.requestFlush()
	}
	for _, r := range parts {
		for _, t := range r.waits {
			<-t.done
			if t.err != nil {
				return fmt.Errorf("project %s: a batch with the same events failed: %w", p.name, t.err)
			}
		}
	}
	return nil
}

// applyRowsShards is applyRows (a replicated log entry) for a sharded
// project: a refusal of any part refuses the entry, on every replica
// alike.
// REQUIRES: s.ingestMu held shared.
func (p *Project) applyRowsShards(table string, rows []Event, maxColumns int) (refusal, err error) {
	var hashes []uint64
	if table == TableEvents {
		hashes = keyHashes(rows)
	}
	set := p.shards
	parts, err := set.reserveShards(table, set.split(rows, hashes), maxColumns)
	if err != nil {
		if isRefusal(err) {
			return err, nil
		}
		return nil, err
	}
	needFlush, err := set.addShards(table, parts)
	for _, r := range parts {
		if r.ticket != nil {
			r.ticket.err = err
			close(r.ticket.done)
		}
	}
	if err != nil {
		return nil, err
	}
	n := 0
	for _, r := range parts {
		n += len(r.rows)
	}
	p.store.observeIngest(n, 0)
	if needFlush {
		p.store.requestFlush()
	}
	return nil, nil
}

// replayShards is WAL replay of a batch record naming a sharded project.
func (p *Project) replayShards(table string, rows []Event) error {
	parts := p.shards.split(rows, nil)
	for k, rows := range parts.rows {
		if len(rows) == 0 {
			continue
		}
		c := p.shards.parts[k]
		c.mu.Lock()
		schema := c.events
		if table == TablePeople {
			schema = c.people
		}
		for i := range rows {
			schema.fitProps(rows[i].Props)
		}
		err := c.addLocked(table, rows)
		c.mu.Unlock()
		if err == nil && table == TableEvents {
			err = p.shards.linkAcross(c, rows)
		}
		if err != nil {
			return fmt.Errorf("project %s: %w", c.name, err)
		}
	}
	return nil
}

// snapshotShards is Snapshot of a sharded project.
func (p *Project) snapshotShards() *Snapshot {
	set := p.shards
	snaps := make([]*Snapshot, len(set.parts))
	set.mu.RLock()
	for k, c := range set.parts {
		snaps[k] = c.Snapshot()
	}
	version := set.crossVersion() // of the state the snapshots saw
	set.mu.RUnlock()
	u := UnionSnapshot(p.name, snaps)
	// Outside set.mu: a slow map must not hold writes up, and the
	// shards' snapshots are fixed already (numbers a shard gave out
	// since are skipped).
	cross, err := set.crossCanonCached(snaps, version)
	if err != nil {
		// As a users file read failing under a query: the query fails
		// (the engine's workers recover UserReadError panics).
		cross = map[uint32]uint32{}
		u.Canon.v.readErr = err
	}
	if len(cross) > 0 {
		u.Canon.v.cross = cross
		u.Canon.v.merged = true
	}
	return u
}

// Identity across shards. An event links ids ($identify, $create_alias,
// $merge, $user_id with $device_id) in its distinct_id's shard, whose
// union-find learns the linked ids too; when a linked id lives in another
// shard, that shard's events of it would still count as another person.
// So such events are also fed to the parent's own union-find (linkAcross:
// the parent numbers only ids in links across shards, durable as any
// project's users and identity state are), and a union snapshot maps, for
// every id the parent knows, each shard's canonical user of it onto one
// representative (crossCanon): the presence of the parent's canonical id
// in the lowest shard holding it. Counts are exact; which id stands for a
// person linked across shards may differ from one shard's choice.
//
// Cost: per snapshot of a project with links across shards, a look-up of
// each such id in each shard (memory while the user cache holds them).

// crossVersion is what a cross map was built from: the parent's and
// every shard's users and identity changes.
type crossVersion []uint64

// REQUIRES: set.mu held (shared at least).
func (set *shardSet) crossVersion() crossVersion {
	v := make(crossVersion, 0, 2*len(set.parts)+2)
	for _, c := range append([]*Project{set.parent}, set.parts...) {
		c.mu.RLock()
		v = append(v, uint64(c.users.Len()), c.identityChanges)
		c.mu.RUnlock()
	}
	return v
}

// crossCanonCached is crossCanon, built again only when a user or an
// identity change came since the last one. v is crossVersion taken with
// snaps, under set.mu.
func (set *shardSet) crossCanonCached(snaps []*Snapshot, v crossVersion) (map[uint32]uint32, error) {
	set.crossMu.Lock()
	defer set.crossMu.Unlock()
	if set.cross.version != nil && slices.Equal(set.cross.version, v) {
		return set.cross.m, nil
	}
	m, err := set.crossCanon(snaps)
	if err == nil {
		set.cross.version, set.cross.m = v, m
	}
	return m, err
}

// crossCanon is the map of shard-canonical users (in union numbers) onto
// their representative, for every person linked across shards; nil when
// there is none. snaps are the shards' snapshots the map is for.
func (set *shardSet) crossCanon(snaps []*Snapshot) (map[uint32]uint32, error) {
	p, n := set.parent, uint32(len(set.parts))
	p.mu.RLock()
	if !p.ustate.hasIdentity() {
		p.mu.RUnlock()
		return nil, nil
	}
	ids, canon := p.users.view(), p.ustate.view(p.users.Len())
	p.mu.RUnlock()
	// lookup is a shard's user of id: as spelt, else its other device
	// spelling (the parent and a shard may each know a device by one).
	lookup := func(c *Project, id string) (uint32, bool, error) {
		// Exclusively: a look-up updates the dictionary's cache.
		c.mu.Lock()
		defer c.mu.Unlock()
		local, ok, err := c.users.lookup(id)
		if ok || err != nil {
			return local, ok, err
		}
		twin := devicePrefix + id
		if x, cut := strings.CutPrefix(id, devicePrefix); cut {
			twin = x
		}
		return c.users.lookup(twin)
	}
	up := map[uint32]uint32{} // union-find over union numbers; a root maps to itself
	var find func(x uint32) uint32
	find = func(x uint32) uint32 {
		r, ok := up[x]
		if !ok || r == x {
			return x
		}
		r = find(r)
		up[x] = r
		return r
	}
	first := map[uint32]uint32{} // parent canonical → its representative's key
	visit := func(u uint32) error {
		id, err := ids.id(u)
		if err != nil {
			return err
		}
		pc := canon.Of(u)
		for k, c := range set.parts {
			local, ok, err := lookup(c, id)
			if err != nil {
				return err
			}
			if !ok || int(local) >= snaps[k].UserIDs.Len() {
				continue
			}
			g := userStride{index: uint32(k), count: n}.of(snaps[k].Canon.Of(local))
			f, seen := first[pc]
			if !seen {
				first[pc] = g
				if _, ok := up[g]; !ok {
					up[g] = g
				}
				continue
			}
			// The first key's root wins: canonical ids are visited first,
			// so a person's representative is its canonical id's presence.
			if rf, rg := find(f), find(g); rf != rg {
				up[rg] = rf
			}
		}
		return nil
	}
	for pass := range 2 {
		for u := range uint32(ids.Len()) {
			if (canon.Of(u) == u) == (pass == 0) {
				if err := visit(u); err != nil {
					return nil, err
				}
			}
		}
	}
	out := make(map[uint32]uint32, len(up))
	for g := range up {
		if r := find(g); r != g {
			out[g] = r
		}
	}
	return out, nil
}

// columnsShards is Columns of a sharded project: the union of its shards'.
func (p *Project) columnsShards(table string) []Column {
	p.shards.mu.RLock()
	defer p.shards.mu.RUnlock()
	var cols []Column
	for _, c := range p.shards.parts {
		cols = unionColumns(cols, c.Columns(table))
	}
	return cols
}

// splitOps splits profile operations by the shard of their key, keeping
// each one's position in ops (for errors).
func (set *shardSet) splitOps(ops []ProfileOp) (parts [][]ProfileOp, index [][]int) {
	n := len(set.parts)
	parts, index = make([][]ProfileOp, n), make([][]int, n)
	for i := range ops {
		k := ShardOf(ops[i].Key, n)
		parts[k] = append(parts[k], ops[i])
		index[k] = append(index[k], i)
	}
	return parts, index
}

// resolveShards is resolveProfilesLocked for every shard's part: the
// whole profiles each leaves, or the first refusal (its row renumbered
// to the operation's place in the whole batch).
// REQUIRES: no shard's mu held; the caller serialises profile updates of
// the shards (their profileMu, or the log's apply order).
func (set *shardSet) resolveShards(table string, ops []ProfileOp, maxColumns int) ([][]Event, error) {
	parts, index := set.splitOps(ops)
	batches := make([][]Event, len(parts))
	for k, part := range parts {
		if len(part) == 0 {
			continue
		}
		c := set.parts[k]
		c.mu.Lock()
		b, err := c.resolveProfilesLocked(table, part, maxColumns)
		c.mu.Unlock()
		if re, ok := err.(*RowError); ok {
			err = &RowError{Row: index[k][re.Row-1] + 1, Column: re.Column, Err: re.Err}
		}
		if err != nil {
			return nil, err
		}
		batches[k] = b
	}
	return batches, nil
}

// replaceShards installs resolved profiles in their shards, under the
// parent's lock, and reports whether a flush is due.
func (set *shardSet) replaceShards(table string, batches [][]Event) (needFlush bool, err error) {
	set.mu.Lock()
	defer set.mu.Unlock()
	for k, b := range batches {
		if len(b) == 0 {
			continue
		}
		c := set.parts[k]
		c.mu.Lock()
		err = c.replaceProfilesLocked(table, b)
		needFlush = needFlush || c.ustate.memBytes >= c.store.opts.FlushBytes
		c.mu.Unlock()
		if err != nil {
			return false, fmt.Errorf("project %s: %w", c.name, err)
		}
	}
	return needFlush, nil
}

// updateProfilesShards is UpdateProfiles for a sharded project on a
// single node: every shard's profiles resolved, then one kindProfiles
// record naming p, whose rows carry their shard in TimeMillis (a
// canonical id need not hash to the shard that resolved it), then
// installed.
func (p *Project) updateProfilesShards(table string, ops []ProfileOp) error {
	s, set := p.store, p.shards
	for _, c := range set.parts { // in shard order: no two updates deadlock
		c.profileMu.Lock()
		defer c.profileMu.Unlock()
	}
	batches, err := set.resolveShards(table, ops, s.opts.MaxColumns)
	if err != nil {
		return err
	}
	var rows []Event
	for k, b := range batches {
		for _, e := range b {
			e.TimeMillis = int64(k)
			rows = append(rows, e)
		}
	}
	if err := s.buffer.admitBatch(batchBytes(rows), s.requestFlush, s.closing); err != nil {
		return fmt.Errorf("project %s: %w", p.name, err)
	}
	payload := profilesRecord(p.name, table, rows)
	s.ingestMu.RLock()
	defer s.ingestMu.RUnlock()
	if _, err := s.wal.Append(payload); err != nil {
		return fmt.Errorf("project %s: write-ahead log: %w", p.name, err)
	}
	flush, err := set.replaceShards(table, batches)
	if err != nil {
		return s.failStore(err)
	}
	if flush {
		s.requestFlush()
	}
	return nil
}

// applyProfileOpsShards is applyProfileOps (a replicated log entry) for a
// sharded project.
func (p *Project) applyProfileOpsShards(table string, ops []ProfileOp, maxColumns int) (refusal, err error) {
	batches, err := p.shards.resolveShards(table, ops, maxColumns)
	if err != nil {
		if isRefusal(err) {
			return err, nil
		}
		return nil, err
	}
	flush, err := p.shards.replaceShards(table, batches)
	if err != nil {
		return nil, err
	}
	if flush {
		p.store.requestFlush()
	}
	return nil, nil
}

// replayProfilesShards is WAL replay of a kindProfiles record naming a
// sharded project (updateProfilesShards wrote it).
func (p *Project) replayProfilesShards(table string, rows []Event) error {
	batches := make([][]Event, len(p.shards.parts))
	for _, e := range rows {
		k := int(e.TimeMillis)
		if k < 0 || k >= len(batches) {
			return fmt.Errorf("project %s: profile %q names shard %d of %d", p.name, e.DistinctID, k, len(batches))
		}
		e.TimeMillis = 0
		batches[k] = append(batches[k], e)
	}
	for k, b := range batches {
		if len(b) == 0 {
			continue
		}
		c := p.shards.parts[k]
		c.mu.Lock()
		schema := c.profileSchemaLocked(table)
		for i := range b {
			schema.fitProps(b[i].Props)
		}
		err := c.replaceProfilesLocked(table, b)
		c.mu.Unlock()
		if err != nil {
			return fmt.Errorf("project %s: %w", c.name, err)
		}
	}
	return nil
}

// shardsField is a manifest's shards field: omitted (0) for one shard.
func shardsField(n int) int {
	if n <= 1 {
		return 0
	}
	return n
}

// readParts is the projects holding p's rows: its shards, or p itself.
func (p *Project) readParts() []*Project {
	if p.shards != nil {
		return p.shards.parts
	}
	return []*Project{p}
}

// peopleScanShards is PeopleScan of a sharded project: its shards' scans
// (a person's profile lives in the shard of its id), columns united, and
// the persons linked across shards to fold into one row each.
func (p *Project) peopleScanShards() (*PeopleScan, []Column) {
	set := p.shards
	out := &PeopleScan{}
	var cols []Column
	snaps := make([]*Snapshot, len(set.parts))
	set.mu.RLock()
	for k, c := range set.parts {
		ps, cc := c.PeopleScan()
		out.shards = append(out.shards, ps)
		cols = unionColumns(cols, cc)
		snaps[k] = c.Snapshot()
	}
	version := set.crossVersion()
	set.mu.RUnlock()
	cross, err := set.crossCanonCached(snaps, version)
	if err != nil || len(cross) > 0 {
		out.fold = newPeopleFold(snaps, cross, err)
	}
	return out, cols
}

// peopleFold folds the people rows of a person linked across shards into
// one, as one project's PeopleScan folds the profiles of merged ids: the
// representative's own profile first, the others in id order filling in
// what it lacks.
type peopleFold struct {
	err error
	// of[k] maps the ids of shard k's canonical users that belong to a
	// person linked across shards to that person's representative, and
	// names[r] is the representative's id.
	of    []map[string]uint32
	names map[uint32]string
}

func newPeopleFold(snaps []*Snapshot, cross map[uint32]uint32, err error) *peopleFold {
	f := &peopleFold{err: err, of: make([]map[string]uint32, len(snaps)), names: map[uint32]string{}}
	if err != nil {
		return f
	}
	n := uint32(len(snaps))
	name := func(g uint32) (string, error) { return snaps[g%n].UserIDs.id(g / n) }
	add := func(g, r uint32) error {
		id, err := name(g)
		if err != nil {
			return err
		}
		if f.of[g%n] == nil {
			f.of[g%n] = map[string]uint32{}
		}
		f.of[g%n][id] = r
		if _, ok := f.names[r]; !ok {
			if f.names[r], err = name(r); err != nil {
				return err
			}
		}
		return nil
	}
	for g, r := range cross {
		if f.err = add(g, r); f.err != nil {
			return f
		}
		if f.err = add(r, r); f.err != nil {
			return f
		}
	}
	return f
}

// allShards is All of a sharded project's scan: shard by shard, then the
// persons linked across shards, folded.
func (ps *PeopleScan) allShards() iter.Seq2[Person, error] {
	return func(yield func(Person, error) bool) {
		f := ps.fold
		if f != nil && f.err != nil {
			yield(Person{}, f.err)
			return
		}
		groups := map[uint32][]Person{}
		for k, s := range ps.shards {
			for person, err := range s.All() {
				if err == nil && f != nil {
					if r, ok := f.of[k][person.DistinctID]; ok {
						groups[r] = append(groups[r], person)
						continue
					}
				}
				if !yield(person, err) || err != nil {
					return
				}
			}
		}
		for _, r := range slices.Sorted(maps.Keys(groups)) {
			name, rows := f.names[r], groups[r]
			slices.SortFunc(rows, func(a, b Person) int {
				switch {
				case a.DistinctID == name:
					return -1
				case b.DistinctID == name:
					return 1
				}
				return strings.Compare(a.DistinctID, b.DistinctID)
			})
			props := rows[0].Props
			for _, o := range rows[1:] {
				props = fillProps(props, o.Props)
			}
			if !yield(Person{DistinctID: name, Props: props}, nil) {
				return
			}
		}
	}
}

// shardCount is how many shards hold p's rows (1: p itself). The set is
// fixed once linked, so no lock is needed.
func (p *Project) shardCount() int {
	if p.shards == nil {
		return 1
	}
	return len(p.shards.parts)
}

// storageProjects is every project the store keeps files for, sorted by
// name: projects, and the shards of sharded ones (whose parents keep the
// users of links across shards). Compaction and the merges of user runs
// go through these; what clients see goes through Projects.
func (s *Store) storageProjects() []*Project {
	s.mu.RLock()
	out := make([]*Project, 0, len(s.projects))
	for _, p := range s.projects {
		out = append(out, p)
	}
	s.mu.RUnlock()
	slices.SortFunc(out, func(a, b *Project) int { return strings.Compare(a.name, b.name) })
	return out
}

// compactDayShards is CompactDay of a sharded project: the day of every
// shard, the result summed (ErrNothingToCompact when no shard had work).
func (s *Store) compactDayShards(p *Project, day string) (CompactionResult, error) {
	sum := CompactionResult{Project: p.name, Day: day}
	ran := false
	for _, c := range p.shards.parts {
		r, err := s.CompactDay(c.name, day)
		if errors.Is(err, ErrNothingToCompact) {
			continue
		}
		if err != nil {
			return sum, err
		}
		ran = true
		sum.Level = r.Level
		sum.Inputs = append(sum.Inputs, r.Inputs...)
		sum.Output = r.Output
		sum.RowsIn += r.RowsIn
		sum.RowsOut += r.RowsOut
		sum.Duplicates += r.Duplicates
		sum.BytesIn += r.BytesIn
		sum.BytesOut += r.BytesOut
		sum.Took += r.Took
	}
	if !ran {
		return sum, ErrNothingToCompact
	}
	return sum, nil
}

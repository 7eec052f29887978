package storage

// Profiles: the people table (one row per canonical user) and the groups
// table (one row per group_key, group_id), maintained by Mixpanel's
// profile operations (../shared/mixpanel-ingest.md §4).
//
// Storage carries the operations but does not know what they do: the
// Options.ProfileUpdater (package ingest's ApplyProfileOp, set by the
// server) computes each profile's new properties from its current ones.
// Storage resolves keys (a person's canonical id), feeds the updater in
// order, checks the result against the table (property names, column
// limit) and stores it.
//
// An update is computed against the current profiles and logged as the
// resulting whole profiles (kindProfiles), so replay needs no operation
// semantics and a batch is atomic: all of its operations or none. Profile
// updates of one project are serialised (profileMu) from the read of the
// current state to the application of the new one, so concurrent $add
// operations never lose an increment. In cluster mode the replicated log
// carries the operations themselves (kindProfileOps) and every replica
// resolves them with its own updater, in log order: the updater must be
// deterministic and the same on every node.

import (
	"errors"
	"fmt"
	"iter"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"
)

// TableGroups is the groups table's name.
const TableGroups = "groups"

// Group columns of the groups table.
const (
	ColGroupKey = "group_key"
	ColGroupID  = "group_id"
)

// GroupRowKey is the profile key of a group.
func GroupRowKey(groupKey, groupID string) string { return groupKey + "\x00" + groupID }

// ProfileOp is one operation on one profile. Storage carries it (in
// cluster mode through the replicated log, kindProfileOps) and hands it
// to the ProfileUpdater; it reads none of it but Key.
type ProfileOp struct {
	Key string // distinct_id (people) or GroupRowKey (groups)
	// Op names the operation ("$set", "$add", …: package ingest's Op
	// constants).
	Op string
	// Props are the operation's properties (for "$unset" only the keys
	// count, for "$delete" nothing).
	Props []Prop
	// Time is when the update happened (ingest makes it the profile's
	// $last_seen unless IgnoreTime). The replicated log keeps it to the
	// millisecond.
	Time       time.Time
	IgnoreTime bool
}

// ProfileUpdater returns the properties a profile has after op, given
// cur, its properties before (nil: no profile); nil means op deleted it.
// An error refuses op's whole batch: storage returns it as a *RowError
// whose Column is op.Op.
//
// Contract: deterministic — the result depends on cur and op alone, so
// every replica of a cluster resolves a logged batch alike; cur and
// op.Props are never modified (profiles are shared with readers) and the
// result is storage's from then on. It is called with the project's
// lock held: it must not call back into the store.
type ProfileUpdater func(cur []Prop, op *ProfileOp) ([]Prop, error)

// errNoProfileUpdater refuses a profile update by a store opened without
// Options.ProfileUpdater.
var errNoProfileUpdater = errors.New("profile updates need a profile updater: storage.Options.ProfileUpdater is nil")

// profileDeleted is the Name of a deleted profile's row in a kindProfiles
// record (any other name replaces the profile). Wire format: never change.
const profileDeleted = "$delete"

// UpdateProfiles applies ops to table (TablePeople or TableGroups) in
// order, atomically and durably. People keys are resolved to their
// canonical user first. A failing operation gives a *RowError whose Row
// is its 1-based position and nothing is applied.
func (p *Project) UpdateProfiles(table string, ops []ProfileOp) error {
	if len(ops) == 0 {
		return nil
	}
	if err := p.store.failure(); err != nil {
		return err
	}
	s := p.store
	if s.opts.ProfileUpdater == nil {
		return fmt.Errorf("project %s: %w", p.name, errNoProfileUpdater)
	}
	if s.opts.Log != nil {
		// The replicated log carries the operations; every replica
		// resolves them against its own state in log order (applyLogged).
		if err := s.buffer.admitBatch(profileOpsBytes(ops), s.requestFlush, s.closing); err != nil {
			return fmt.Errorf("project %s: %w", p.name, err)
		}
		return s.appendLogged(appendProfileOpsRecord(p.name, table, ops))
	}
	if p.shards != nil {
		return p.updateProfilesShards(table, ops)
	}
	p.profileMu.Lock()
	defer p.profileMu.Unlock()

	p.mu.Lock()
	batch, err := p.resolveProfilesLocked(table, ops, s.opts.MaxColumns)
	p.mu.Unlock()
	if err != nil {
		return err
	}

	// Profiles wait in memory for a flush as events do (user_state.go):
	// the same bound and backpressure apply.
	if err := s.buffer.admitBatch(batchBytes(batch), s.requestFlush, s.closing); err != nil {
		return fmt.Errorf("project %s: %w", p.name, err)
	}
	payload := profilesRecord(p.name, table, batch)
	s.ingestMu.RLock()
	defer s.ingestMu.RUnlock()
	if _, err := s.wal.Append(payload); err != nil {
		return fmt.Errorf("project %s: write-ahead log: %w", p.name, err)
	}
	p.mu.Lock()
	err = p.replaceProfilesLocked(table, batch)
	flush := p.ustate.memBytes >= s.opts.FlushBytes
	p.mu.Unlock()
	if err != nil {
		// Durable but not all in memory: stop writes; a restart replays it.
		return s.failStore(fmt.Errorf("project %s: %w", p.name, err))
	}
	if flush {
		s.requestFlush()
	}
	return nil
}

// profilesRecord is the kindProfiles WAL record of whole profiles.
func profilesRecord(project, table string, profiles []Event) []byte {
	payload := append([]byte{byte(kindProfiles)}, batchAppendString(nil, table)...)
	return AppendEventBatch(payload, &EventBatch{Project: project, Events: profiles})
}

// resolveProfilesLocked computes the whole profiles that ops leave in
// table, in order, against the current profiles, and fits them to the
// table's schema: the batch to log and install (a profileDeleted row for
// a deleted profile). Nothing is installed; on an error (a *RowError
// naming the failing operation, a *ColumnLimitError) the schema is
// unchanged.
// REQUIRES: p.mu held (and p.profileMu, or the replicated log's apply
// order, so that no other update resolves against the same profiles).
func (p *Project) resolveProfilesLocked(table string, ops []ProfileOp, maxColumns int) ([]Event, error) {
	update := p.store.opts.ProfileUpdater
	if update == nil {
		return nil, fmt.Errorf("project %s: %w", p.name, errNoProfileUpdater)
	}
	schema := p.profileSchemaLocked(table)
	next := map[string][]Prop{} // key → new profile; nil: deleted
	var order []string
	for i, op := range ops {
		key := op.Key
		if table == TablePeople {
			var err error
			if key, err = p.canonicalIDLocked(key); err != nil {
				return nil, err
			}
		}
		cur, seen := next[key]
		if !seen {
			var err error
			if cur, err = p.profileLocked(table, key); err != nil {
				return nil, err
			}
			order = append(order, key)
		}
		props, err := update(cur, &op)
		if err != nil {
			return nil, &RowError{Row: i + 1, Column: op.Op, Err: err}
		}
		for _, pr := range props {
			if err := ValidatePropertyKey(table, pr.Key); err != nil {
				return nil, &RowError{Row: i + 1, Column: pr.Key, Err: err}
			}
		}
		next[key] = props
	}
	batch := make([]Event, 0, len(order))
	for _, key := range order {
		props := next[key]
		if props == nil {
			batch = append(batch, Event{DistinctID: key, Name: profileDeleted})
			continue
		}
		batch = append(batch, Event{DistinctID: key, Props: props})
	}
	if added := schema.newColumns(batch); len(schema.cols)+len(added) > maxColumns {
		return nil, &ColumnLimitError{Table: table, Limit: maxColumns, Have: len(schema.cols), New: added}
	}
	for i := range batch {
		if batch[i].Props != nil {
			schema.fitProps(batch[i].Props)
		}
	}
	return batch, nil
}

// replaceProfilesLocked installs whole profiles (ingest and replay). An
// error (the user dictionary or user state could not be read) leaves
// the rest of the batch out.
// REQUIRES: p.mu held; props fitted to the schema.
func (p *Project) replaceProfilesLocked(table string, batch []Event) error {
	defer p.countUserStateLocked()
	if table == TableGroups {
		for _, e := range batch {
			if err := p.ustate.setGroup(e.DistinctID, e.Props, e.Name == profileDeleted); err != nil {
				return err
			}
		}
		return nil
	}
	for _, e := range batch {
		u, err := p.userNumberLocked(e.DistinctID)
		if err != nil {
			return err
		}
		p.ustate.setPerson(u, e.Props, e.Name == profileDeleted)
	}
	return nil
}

// profileLocked returns the stored profile of key in table (nil: none).
// REQUIRES: p.mu held.
func (p *Project) profileLocked(table, key string) ([]Prop, error) {
	if table == TableGroups {
		return p.ustate.group(key)
	}
	u, ok, err := p.users.lookup(key)
	if !ok || err != nil {
		return nil, err
	}
	props, _, err := p.ustate.person(u)
	return props, err
}

func (p *Project) profileSchemaLocked(table string) *Schema {
	if table == TableGroups {
		return p.groups
	}
	return p.people
}

// canonicalIDLocked resolves a distinct_id to its canonical id; an id
// never seen is its own. REQUIRES: p.mu held.
func (p *Project) canonicalIDLocked(id string) (string, error) {
	n, ok, err := p.users.lookup(id)
	if !ok || err != nil {
		return id, err
	}
	c, err := p.ustate.canonical(n)
	if c == n || err != nil {
		return id, nil
	}
	return p.users.view().id(c)
}

// PeopleScan reads the people table as of one moment, without holding
// the project: profiles stored under ids that were merged later are
// combined, the canonical id's own profile winning, then the others in id
// order filling in missing properties.
type PeopleScan struct {
	st    *userState // a snapshot (userState.snapshot)
	users *UserIDs
	// shards is set on a sharded project's scan: theirs, in shard order;
	// fold, when persons are linked across shards, is shards.go's
	// peopleFold.
	shards []*PeopleScan
	fold   *peopleFold
}

// PeopleScan takes a read view of the people table and its columns.
// Cost: copies of the user state overlay's maps (what changed since the
// last flush), nothing proportional to the people.
func (p *Project) PeopleScan() (*PeopleScan, []Column) {
	if p.shards != nil {
		return p.peopleScanShards()
	}
	p.mu.RLock()
	defer p.mu.RUnlock()
	return &PeopleScan{st: p.ustate.snapshot(p.users.Len()), users: p.users.view()}, p.people.Columns()
}

// All yields every person, in the order of their users' numbers (the
// order ids were first seen); an error ends it. Memory: a block per user
// state run, plus the profiles stored under ids merged since (few).
func (ps *PeopleScan) All() iter.Seq2[Person, error] {
	if ps.shards != nil {
		return ps.allShards()
	}
	return func(yield func(Person, error) bool) {
		st := ps.st
		// Canonical users by chunk, resolved once per scan (users come in
		// order, so chunks do too).
		memo := map[uint32]*identChunk{}
		canonical := func(u uint32) (uint32, error) {
			c := u >> canonChunkBits
			ch, ok := memo[c]
			if !ok {
				var err error
				if ch, err = st.chunk(c); err != nil {
					return 0, err
				}
				memo[c] = ch
			}
			if ch == nil {
				return u, nil
			}
			return ch.canonOf(u), nil
		}
		read := func(u uint32, props func() ([]Prop, error)) (Person, error) {
			id, err := ps.users.id(u)
			if err != nil {
				return Person{}, err
			}
			p, err := props()
			return Person{DistinctID: id, Props: p}, err
		}
		// Pass 1: profiles under a non-canonical user, by canonical (none
		// without identity state: the pass is skipped).
		extra := map[uint32][]Person{}
		var err error
		if st.hasIdentity() {
			err = st.scanPeople(func(u uint32, props func() ([]Prop, error)) (bool, error) {
				c, err := canonical(u)
				if err != nil || c == u {
					return err == nil, err
				}
				person, err := read(u, props)
				extra[c] = append(extra[c], person)
				return err == nil, err
			})
		}
		if err != nil {
			yield(Person{}, err)
			return
		}
		for _, others := range extra {
			sort.Slice(others, func(i, j int) bool { return others[i].DistinctID < others[j].DistinctID })
		}
		// Pass 2: each canonical user's own profile, filled in.
		stopped := false
		err = st.scanPeople(func(u uint32, props func() ([]Prop, error)) (bool, error) {
			c, err := canonical(u)
			if err != nil || c != u {
				return err == nil, err
			}
			person, err := read(u, props)
			if err != nil {
				return false, err
			}
			for _, o := range extra[u] {
				person.Props = fillProps(person.Props, o.Props)
			}
			delete(extra, u)
			if !yield(person, nil) {
				stopped = true
				return false, nil
			}
			return true, nil
		})
		if stopped {
			return
		}
		if err != nil {
			yield(Person{}, err)
			return
		}
		// Canonical users with no profile of their own.
		for _, c := range slices.Sorted(maps.Keys(extra)) {
			others := extra[c]
			id, err := ps.users.id(c)
			if err != nil {
				yield(Person{}, err)
				return
			}
			props := others[0].Props
			for _, o := range others[1:] {
				props = fillProps(props, o.Props)
			}
			if !yield(Person{DistinctID: id, Props: props}, nil) {
				return
			}
		}
	}
}

// fillProps returns have plus the properties of more it lacks; have is
// never modified (profiles are shared with readers).
func fillProps(have, more []Prop) []Prop {
	merged := slices.Clone(have)
next:
	for _, pr := range more {
		for _, h := range merged {
			if h.Key == pr.Key {
				continue next
			}
		}
		merged = append(merged, pr)
	}
	return merged
}

// Group is one row of the groups table.
type Group struct {
	Key, ID string
	Props   []Prop
}

// Groups returns every group sorted by key and id, with the groups
// columns of the same moment. Props are shared and read-only. Memory:
// the result.
func (p *Project) Groups() ([]Group, []Column, error) {
	var out []Group
	var cols []Column
	if p.shards != nil {
		// A batch of group profiles is in every shard or in none.
		p.shards.mu.RLock()
		defer p.shards.mu.RUnlock()
	}
	for _, c := range p.readParts() {
		c.mu.RLock()
		st := c.ustate.snapshot(c.users.Len())
		cols = unionColumns(cols, c.groups.Columns())
		c.mu.RUnlock()
		err := st.scanGroups(func(r Person) bool {
			k, id, _ := strings.Cut(r.DistinctID, "\x00")
			out = append(out, Group{Key: k, ID: id, Props: r.Props})
			return true
		})
		if err != nil {
			return nil, nil, err
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Key != out[j].Key {
			return out[i].Key < out[j].Key
		}
		return out[i].ID < out[j].ID
	})
	return out, cols, nil
}

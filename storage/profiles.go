package storage

// Profiles: the people table (one row per canonical user) and the groups
// table (one row per group_key, group_id), maintained by Mixpanel's
// profile operations (../shared/mixpanel-ingest.md §4).
//
// An update is computed against the current profiles and logged as the
// resulting whole profiles (kindProfiles), so replay needs no operation
// semantics and a batch is atomic: all of its operations or none. Profile
// updates of one project are serialised (profileMu) from the read of the
// current state to the application of the new one, so concurrent $add
// operations never lose an increment.

import (
	"encoding/json"
	"fmt"
	"iter"
	"maps"
	"math"
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

// Profile operations.
const (
	OpSet     = "$set"
	OpSetOnce = "$set_once"
	OpAdd     = "$add"
	OpAppend  = "$append"
	OpUnion   = "$union"
	OpRemove  = "$remove"
	OpUnset   = "$unset"
	OpDelete  = "$delete"
)

// ProfileOp is one operation on one profile.
type ProfileOp struct {
	Key string // distinct_id (people) or GroupRowKey (groups)
	Op  string // one of the Op constants
	// Props are the operation's properties; for OpUnset only the keys
	// count, for OpDelete nothing.
	Props []Prop
	// Time is when the update happened; unless IgnoreTime it becomes the
	// profile's $last_seen.
	Time       time.Time
	IgnoreTime bool
}

// colLastSeen is the profile property recording the last update.
const colLastSeen = "$last_seen"

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
// table's schema: the batch to log and install (an OpDelete row for a
// deleted profile). Nothing is installed; on an error (a *RowError
// naming the failing operation, a *ColumnLimitError) the schema is
// unchanged.
// REQUIRES: p.mu held (and p.profileMu, or the replicated log's apply
// order, so that no other update resolves against the same profiles).
func (p *Project) resolveProfilesLocked(table string, ops []ProfileOp, maxColumns int) ([]Event, error) {
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
		props, err := applyProfileOp(cur, &op)
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
			batch = append(batch, Event{DistinctID: key, Name: OpDelete})
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
			if err := p.ustate.setGroup(e.DistinctID, e.Props, e.Name == OpDelete); err != nil {
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
		p.ustate.setPerson(u, e.Props, e.Name == OpDelete)
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

// applyProfileOp returns the profile after op; nil means deleted. cur is
// never modified (profiles are shared with readers).
func applyProfileOp(cur []Prop, op *ProfileOp) ([]Prop, error) {
	if op.Op == OpDelete {
		return nil, nil
	}
	out := append([]Prop(nil), cur...)
	find := func(key string) int {
		for i := range out {
			if out[i].Key == key {
				return i
			}
		}
		return -1
	}
	put := func(key string, v Value) {
		if i := find(key); i >= 0 {
			out[i].Value = v
		} else {
			out = append(out, Prop{Key: key, Value: v})
		}
	}
	for _, pr := range op.Props {
		i := find(pr.Key)
		switch op.Op {
		case OpSet:
			if pr.Value.IsNull() {
				if i >= 0 {
					out = append(out[:i], out[i+1:]...)
				}
				continue
			}
			put(pr.Key, pr.Value)
		case OpSetOnce:
			if i < 0 && !pr.Value.IsNull() {
				put(pr.Key, pr.Value)
			}
		case OpAdd:
			var have Value
			if i >= 0 {
				have = out[i].Value
			}
			sum, err := addValues(have, pr.Value)
			if err != nil {
				return nil, fmt.Errorf("property %q: %w", pr.Key, err)
			}
			put(pr.Key, sum)
		case OpAppend, OpUnion, OpRemove:
			var list []json.RawMessage
			if i >= 0 {
				if err := json.Unmarshal([]byte(listText(out[i].Value)), &list); err != nil {
					return nil, fmt.Errorf("property %q holds %s, not a list", pr.Key, out[i].Value.Text())
				}
			}
			items := []json.RawMessage{jsonOf(pr.Value)}
			if op.Op == OpUnion {
				if pr.Value.Type != TypeJSON || json.Unmarshal([]byte(pr.Value.Str), &items) != nil {
					return nil, fmt.Errorf("property %q: %s needs a list, got %s", pr.Key, op.Op, pr.Value.Text())
				}
			}
			list = editList(op.Op, list, items)
			if i < 0 && op.Op == OpRemove {
				continue
			}
			b, _ := json.Marshal(list)
			put(pr.Key, JSONValue(string(b)))
		case OpUnset:
			if i >= 0 {
				out = append(out[:i], out[i+1:]...)
			}
		default:
			return nil, fmt.Errorf("unknown operation %q", op.Op)
		}
	}
	if !op.IgnoreTime && (len(out) > 0 || cur != nil) {
		put(colLastSeen, StringValue(op.Time.UTC().Format("2006-01-02T15:04:05")))
	}
	return out, nil
}

// listText is the JSON text of a list property (an empty list for NULL).
func listText(v Value) string {
	if v.Type != TypeJSON {
		return "null"
	}
	return v.Str
}

func jsonOf(v Value) json.RawMessage {
	b, _ := v.MarshalJSON()
	return b
}

// editList appends, unions or removes items (compared by JSON text).
func editList(op string, list, items []json.RawMessage) []json.RawMessage {
	has := func(l []json.RawMessage, it json.RawMessage) bool {
		for _, x := range l {
			if string(x) == string(it) {
				return true
			}
		}
		return false
	}
	switch op {
	case OpAppend:
		list = append(list, items...)
	case OpUnion:
		for _, it := range items {
			if !has(list, it) {
				list = append(list, it)
			}
		}
	case OpRemove:
		kept := list[:0:0]
		for _, x := range list {
			if !has(items, x) {
				kept = append(kept, x)
			}
		}
		list = kept
	}
	if list == nil {
		list = []json.RawMessage{}
	}
	return list
}

// addValues is $add: a missing value counts as 0; ints stay ints unless
// they overflow.
func addValues(have, delta Value) (Value, error) {
	isNum := func(v Value) bool { return v.Type == TypeInt || v.Type == TypeFloat }
	if !isNum(delta) {
		return Value{}, fmt.Errorf("$add needs a number, got %s", delta.Text())
	}
	if have.IsNull() {
		return delta, nil
	}
	if !isNum(have) {
		return Value{}, fmt.Errorf("$add to %s, which is not a number", have.Text())
	}
	if have.Type == TypeInt && delta.Type == TypeInt {
		s := have.Int + delta.Int
		if (s > have.Int) == (delta.Int > 0) || delta.Int == 0 {
			return IntValue(s), nil
		}
	}
	f := func(v Value) float64 {
		if v.Type == TypeInt {
			return float64(v.Int)
		}
		return v.Float
	}
	sum := f(have) + f(delta)
	if math.IsInf(sum, 0) {
		return Value{}, fmt.Errorf("$add overflows")
	}
	return FloatValue(sum), nil
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

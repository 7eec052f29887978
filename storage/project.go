package storage

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"
	"unsafe"
)

// Project is one tenant's data: its events (segments + buffered rows),
// people, schemas and user dictionary.
//
// Concurrency: every field below mu is guarded by it. Ingest holds the
// store's ingestMu shared from its duplicate check until it has appended
// to the WAL and the memtable, so
// a flush (which holds it exclusively to rotate the WAL and freeze
// memtables) sees each batch entirely before or entirely after.
type Project struct {
	store *Store
	name  string

	// keys are the project's token and secret, read by every ingest
	// request (Info) without p.mu, which ingest batches hold long.
	keys   atomic.Pointer[projectKeys]
	mu     sync.RWMutex
	events *Schema
	people *Schema
	users  *userDict
	// mem takes new rows; frozen holds memtables whose WAL files are
	// rotated out and that a flush is writing to segments. Both are
	// visible to queries until the flush installs the segments.
	mem      *memtable
	frozen   []*memtable
	segments []*SegmentRef
	// ustate holds the identity union-find (identity.go), the people
	// profiles by user number and the group profiles (user_state.go).
	ustate *userState
	// peopleFile names a people file of the format before user state
	// runs, "" if none: its content was moved into ustate at open, and
	// the next flush drops it.
	peopleFile string
	// ustateCounted is what ustate's overlay adds to the store's ingest
	// buffer (countUserStateLocked).
	ustateCounted int64
	groups        *Schema
	// profileMu serialises profile updates (profiles.go); taken before mu.
	profileMu sync.Mutex
	// shards is set on a sharded project (shards.go): its rows live in
	// these shards' projects, and it routes.
	shards *shardSet
	// sealRows, when set, replaces Options.SealRows for a shard of a
	// sharded project: SealRows over the shard count, so that the rows a
	// query reads one by one (every shard's unsealed tail) stay as few
	// as one project's.
	sealRows int
	// identityChanges counts the events that changed the union-find
	// (guarded by mu): a sharded project's map of persons linked across
	// shards is valid while no shard's count nor its own changed.
	identityChanges uint64
	// bulks are the bulk loads staging rows here (bulk.go): their keys
	// count as in flight for dedup. Guarded by mu.
	bulks []*bulkPart
}

// SegmentRef is one live segment of a project.
type SegmentRef struct {
	File    string // file name within the segments directory
	Day     string // UTC day of its rows, YYYY-MM-DD
	Bytes   int64
	Segment *Segment
	// Level says how it was made (levelFlushed, …; compaction.go).
	Level int
	// madeAt is when this process wrote it (zero for segments found at
	// open): the compaction picker waits for a day to go quiet.
	madeAt time.Time
	file   *segmentFile // Segment's reader, through the file cache
	dedup  segmentDedup // key-hash index, built on first use
}

func newProject(s *Store, name, token, secret string) *Project {
	p := &Project{
		store: s, name: name,
		events: newSchema(nil, nil), people: newSchema(nil, nil),
		users: newUserDict(s.fs, s.path(usersDirName, usersFileName(name)), s.opts.UserCacheBytes), mem: &memtable{},
		groups: newSchema(nil, nil),
	}
	p.keys.Store(&projectKeys{token: token, secret: secret})
	p.ustate = newUserState(func() int { return p.users.Len() })
	return p
}

// projectKeys is a project's credentials; replaced whole, never modified.
type projectKeys struct{ token, secret string }

// ProjectInfo is a project's identity and credentials.
type ProjectInfo struct {
	Name   string
	Token  string
	Secret string
	// Shards is how many shards hold the project's rows (shards.go).
	Shards int
}

func (p *Project) Name() string { return p.name }

func (p *Project) Info() ProjectInfo {
	k := p.keys.Load()
	return ProjectInfo{Name: p.name, Token: k.token, Secret: k.secret, Shards: p.shardCount()}
}

// Columns returns the property columns of table (TableEvents,
// TablePeople or TableGroups) in discovery order.
func (p *Project) Columns(table string) []Column {
	if p.shards != nil {
		return p.columnsShards(table)
	}
	p.mu.RLock()
	defer p.mu.RUnlock()
	switch table {
	case TablePeople:
		return p.people.Columns()
	case TableGroups:
		return p.groups.Columns()
	}
	return p.events.Columns()
}

// RowError is bad input in one row of a batch: Row counts from 1, as
// MySQL numbers rows in its messages.
type RowError struct {
	Row    int
	Column string
	Err    error
}

func (e *RowError) Error() string {
	return fmt.Sprintf("row %d: column %s: %v", e.Row, e.Column, e.Err)
}

func (e *RowError) Unwrap() error { return e.Err }

// minTimeMillis and maxTimeMillis bound event times: 1970-01-01 to
// 9999-12-31, the range of MySQL DATETIME.
const (
	minTimeMillis = 0
	maxTimeMillis = 253402300799999
)

// validKeys remembers the property keys of the row validated last, in
// its order: rows of a batch mostly repeat them, and a key found valid
// needs no second ValidatePropertyKey.
type validKeys struct {
	keys []string // the last row's keys, by position, each validated
	// utf8Known: the batch's strings are valid UTF-8 (IngestValidUTF8),
	// so validUTF8 need not look.
	utf8Known bool
	// utf8 holds strings found valid UTF-8, by data pointer and length:
	// a value stored once for many rows (LOAD DATA's and the decoders'
	// shared strings) is checked once per batch.
	utf8 [64]utf8Seen
	// many, when set, is used instead of utf8: CheckEvents' table for a
	// large batch, where a column of thousands of shared values (cities)
	// would take 64 slots in turns.
	many []utf8Seen
}

// utf8Seen is a string found valid UTF-8: its data pointer and length.
type utf8Seen struct {
	p *byte
	n int
}

// manyUTF8Bits sizes validKeys.many: 4,096 slots.
const manyUTF8Bits = 12

// check is ValidatePropertyKey for the j-th property key of a row.
func (vk *validKeys) check(table string, j int, key string) error {
	if j < len(vk.keys) && vk.keys[j] == key {
		return nil
	}
	if err := ValidatePropertyKey(table, key); err != nil {
		return err
	}
	if j < len(vk.keys) {
		vk.keys[j] = key
		vk.keys = vk.keys[:j+1]
	} else {
		vk.keys = append(vk.keys, key)
	}
	return nil
}

// validUTF8 is utf8.ValidString(s), remembered for s's bytes.
func (vk *validKeys) validUTF8(s string) bool {
	if vk.utf8Known {
		return true
	}
	p := unsafe.StringData(s)
	h := uintptr(unsafe.Pointer(p)) * 0x9E3779B97F4A7C15
	slot := &vk.utf8[h>>58]
	if vk.many != nil {
		slot = &vk.many[h>>(64-manyUTF8Bits)]
	}
	if slot.p == p && slot.n == len(s) && p != nil {
		return true
	}
	if !utf8.ValidString(s) {
		return false
	}
	slot.p, slot.n = p, len(s)
	return true
}

// validateEvent checks one row; i is its 0-based position in the batch.
// known carries validated keys from row to row of one batch.
func validateEvent(table string, i int, e *Event, known *validKeys) error {
	if table == TableEvents {
		if e.Name == "" {
			return &RowError{i + 1, ColEvent, fmt.Errorf("missing: every event needs a name")}
		}
		if !known.validUTF8(e.Name) {
			return &RowError{i + 1, ColEvent, fmt.Errorf("not valid UTF-8")}
		}
		if e.TimeMillis < minTimeMillis || e.TimeMillis > maxTimeMillis {
			return &RowError{i + 1, ColTime, fmt.Errorf("%d ms is outside 1970-01-01 .. 9999-12-31", e.TimeMillis)}
		}
		if !known.validUTF8(e.InsertID) {
			return &RowError{i + 1, ColInsertID, fmt.Errorf("not valid UTF-8")}
		}
	} else if e.DistinctID == "" {
		return &RowError{i + 1, ColDistinctID, fmt.Errorf("missing: a person needs a distinct_id")}
	}
	if !known.validUTF8(e.DistinctID) {
		return &RowError{i + 1, ColDistinctID, fmt.Errorf("not valid UTF-8")}
	}
	var seen map[string]bool // for many props; few are compared pairwise
	if len(e.Props) > smallPropCount {
		seen = make(map[string]bool, len(e.Props))
	}
	for j, pr := range e.Props {
		if err := known.check(table, j, pr.Key); err != nil {
			return &RowError{i + 1, pr.Key, err}
		}
		if givenBefore(e.Props[:j], pr.Key, seen) {
			return &RowError{i + 1, pr.Key, fmt.Errorf("given twice")}
		}
		if !pr.Value.Type.Valid() || pr.Value.Type == TypeTime {
			return &RowError{i + 1, pr.Key, fmt.Errorf("unsupported value type %v", pr.Value.Type)}
		}
		if (pr.Value.Type == TypeString || pr.Value.Type == TypeJSON) && !known.validUTF8(pr.Value.Str) {
			return &RowError{i + 1, pr.Key, fmt.Errorf("not valid UTF-8")}
		}
	}
	return nil
}

// smallPropCount is up to how many properties validateEvent finds a key
// given twice by comparing pairs rather than with a map.
const smallPropCount = 16

// givenBefore reports whether key is among the keys of before: by the
// seen map when there is one (and then records key in it).
func givenBefore(before []Prop, key string, seen map[string]bool) bool {
	if seen != nil {
		dup := seen[key]
		seen[key] = true
		return dup
	}
	for _, p := range before {
		if p.Key == key {
			return true
		}
	}
	return false
}

// dropNullProps removes NULL properties in place: a NULL property and an
// absent one are the same thing.
func dropNullProps(props []Prop) []Prop {
	i := 0 // up to the first NULL nothing moves (no stores: pointer writes)
	for i < len(props) && !props[i].Value.IsNull() {
		i++
	}
	out := props[:i]
	for _, p := range props[i:] {
		if !p.Value.IsNull() {
			out = append(out, p)
		}
	}
	return out
}

// Ingest stores events atomically: it returns nil only after all of them
// are durable in the WAL, and stores none of them if it returns an error.
// A bad row gives a *RowError naming the row and column. The caller hands
// over events (and their Props) and must not use them afterwards.
func (p *Project) Ingest(events []Event) error {
	return p.apply(kindEvents, TableEvents, events, false)
}

// IngestValidUTF8 is Ingest of events whose every string is known to be
// valid UTF-8 (the HTTP decoders refuse a record that is not, and check
// a request's text once for all its records): the batch's validation
// does not check them again.
func (p *Project) IngestValidUTF8(events []Event) error {
	return p.apply(kindEvents, TableEvents, events, true)
}

// SetPeople upserts people profiles: each row's properties are set on the
// profile of its DistinctID ($set semantics; other properties stay).
// Durability and atomicity as for Ingest.
func (p *Project) SetPeople(rows []Event) error {
	return p.apply(kindPeople, TablePeople, rows, false)
}

func (p *Project) apply(kind recordKind, table string, rows []Event, utf8Known bool) error {
	if len(rows) == 0 {
		return nil
	}
	known := validKeys{utf8Known: utf8Known}
	for i := range rows {
		rows[i].Props = dropNullProps(rows[i].Props)
		if err := validateEvent(table, i, &rows[i], &known); err != nil {
			return err
		}
	}
	s := p.store
	if err := s.failure(); err != nil {
		return err
	}
	if err := s.buffer.admitBatch(batchBytes(rows), s.requestFlush, s.closing); err != nil {
		return fmt.Errorf("project %s: %w", p.name, err)
	}
	// Work that needs no lock happens first: p.mu serialises every
	// batch of the project, so what it guards is kept to map look-ups.
	var hashes []uint64
	if table == TableEvents {
		rows, hashes = dropBatchDuplicates(rows)
	}
	if s.opts.Log != nil {
		// The replicated log carries the batch as it is now: every
		// replica fits it to its schema and drops the events it already
		// holds when it applies the entry (applyLogged).
		return s.appendLoggedRetry(AppendEventBatch([]byte{byte(kind)}, &EventBatch{Project: p.name, Events: rows}),
			table == TableEvents && allKeyed(rows))
	}
	if p.shards != nil {
		return p.applyShards(kind, table, rows, hashes)
	}
	// ingestMu is held from the duplicate check to the memtable append,
	// so no flush swaps p.mem in between: the keys reserved in p.mem are
	// those of rows appended to that same memtable.
	s.ingestMu.RLock()
	rows, ticket, waits, err := p.reserve(table, rows, hashes, s.opts.MaxColumns)
	if err == nil {
		err = p.appendDurable(kind, table, rows, hashes, ticket)
	}
	s.ingestMu.RUnlock()
	if ticket != nil {
		ticket.err = err
		close(ticket.done)
	}
	if err != nil {
		return err
	}
	for _, t := range waits {
		<-t.done
		if t.err != nil {
			return fmt.Errorf("project %s: a batch with the same events failed: %w", p.name, t.err)
		}
	}
	return nil
}

// reserve fits rows to the schema and, for events, drops those already
// stored or being stored and reserves the keys of the others in p.mem
// with a new ticket (nil when no row has a key). waits are the tickets of
// batches in flight that dropped rows duplicate.
// REQUIRES: s.ingestMu held shared.
func (p *Project) reserve(table string, rows []Event, hashes []uint64, maxColumns int) (kept []Event, ticket *ingestTicket, waits []*ingestTicket, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	schema := p.events
	if table == TablePeople {
		schema = p.people
	}
	// The whole batch is refused before the schema changes at all.
	if err := schema.checkLimit(table, rows, maxColumns); err != nil {
		return nil, nil, nil, err
	}
	fitRowsLocked(schema, rows)
	if table != TableEvents {
		return rows, nil, nil, nil
	}
	if rows, waits, ticket, err = p.dropDuplicatesLocked(rows, hashes); err != nil {
		return nil, nil, nil, fmt.Errorf("project %s: check for duplicates: %w", p.name, err)
	}
	return rows, ticket, waits, nil
}

// fitSig is one property of a row as it arrived (key, value type, an int
// beyond ±2^53) and the column it was fitted to.
type fitSig struct {
	key     string
	typ     ColumnType
	big     bool
	col     string
	colType ColumnType
}

func isBigInt(v Value) bool {
	return v.Type == TypeInt && (v.Int > maxExactFloatInt || v.Int < -maxExactFloatInt)
}

// fitRowsLocked is schema.fitProps of every row in order, with a shortcut
// for the common batch whose rows have the same properties.
//
// Why the shortcut gives fitProps' result: widening is a join (Widen is
// idempotent and the bigInts flag only ever widens further), so once a
// row's properties are fitted, fitting the same sequence of (key, type,
// big) again changes nothing in the schema and converts each value to the
// column type that Lookup gives now. The template is that row's
// properties and their columns, valid while nothing else changes the
// schema: within this call, as the caller holds the lock. A conversion
// that fails (an int beyond ±2^53 for a float column) needs widening:
// that row's remaining properties go through fitProps and the template is
// dropped. TestFitRowsMatchesFitProps checks this against plain fitProps.
// REQUIRES: the lock guarding schema held.
func fitRowsLocked(schema *Schema, rows []Event) {
	var tmpl, next []fitSig
	for i := range rows {
		props := rows[i].Props
		if fitLike(props, tmpl) {
			if j := convertLike(props, tmpl); j < len(props) {
				schema.fitProps(props[j:])
				tmpl = nil
			}
			continue
		}
		next = next[:0]
		for _, p := range props {
			next = append(next, fitSig{key: p.Key, typ: p.Value.Type, big: isBigInt(p.Value)})
		}
		schema.fitProps(props)
		for j := range next {
			c, _ := schema.Lookup(props[j].Key)
			next[j].col, next[j].colType = c.Name, c.Type
		}
		tmpl, next = next, tmpl
	}
}

// fitLike reports whether props arrive exactly as the template's did.
func fitLike(props []Prop, tmpl []fitSig) bool {
	if tmpl == nil || len(props) != len(tmpl) {
		return false
	}
	for j, p := range props {
		t := &tmpl[j]
		if p.Key != t.key || p.Value.Type != t.typ || isBigInt(p.Value) != t.big {
			return false
		}
	}
	return true
}

// convertLike fits props as the template's were fitted, up to the first
// value that does not convert to its column's type; it returns that
// value's index (len(props) when all converted).
func convertLike(props []Prop, tmpl []fitSig) int {
	for j := range props {
		p, t := &props[j], &tmpl[j]
		if p.Value.Type != t.colType {
			v, ok := p.Value.Convert(t.colType)
			if !ok {
				return j
			}
			p.Value = v
		}
		p.Key = t.col // the column's string, as fitProps: keys keep nothing else alive
	}
	return len(props)
}

// walPayloads recycles the buffers of encoded batches: the WAL copies a
// payload before Append returns.
var walPayloads = sync.Pool{New: func() any { return new([]byte) }}

// appendDurable writes rows to the WAL and then to memory. For events,
// hashes are the rows' key hashes and ticket the reservation of their
// keys in p.mem (reserve); if the WAL fails, the reservation is undone.
// REQUIRES: s.ingestMu held shared since reserve.
func (p *Project) appendDurable(kind recordKind, table string, rows []Event, hashes []uint64, ticket *ingestTicket) error {
	if len(rows) == 0 {
		return nil
	}
	s := p.store
	buf := walPayloads.Get().(*[]byte)
	payload := AppendEventBatch(append((*buf)[:0], byte(kind)), &EventBatch{Project: p.name, Events: rows})
	defer func() {
		if cap(payload) <= maxPooledPayloadBytes {
			*buf = payload
			walPayloads.Put(buf)
		}
	}()
	start := time.Now()
	if _, err := s.wal.Append(payload); err != nil {
		// Not acknowledged, so not in memory: undo the reservation. A
		// refusal by a fault (ErrWriteRefused) is not in the WAL and never
		// will be (wal.go), and the store goes on taking writes; after any
		// other failure the record's fate is unknown until a restart's
		// replay, and the store stops (walFailure).
		if ticket != nil {
			p.mu.Lock()
			p.mem.unreserveLocked(rows, hashes)
			p.mu.Unlock()
		}
		return fmt.Errorf("project %s: write-ahead log: %w", p.name, s.walFailure(err))
	}
	s.observeIngest(len(rows), time.Since(start))
	var known []uint32
	if table == TableEvents {
		known = p.knownUsers(rows)
		defer knownUserBuffers.Put(&known)
	}
	p.mu.Lock()
	var err error
	if table == TablePeople {
		err = p.addLocked(table, rows)
	} else {
		err = p.addEventsKnownLocked(rows, nil, known)
	}
	if err != nil {
		// The batch is durable but only part of it is in memory: stop
		// writes; a restart replays it from the WAL.
		p.mu.Unlock()
		return s.failStore(fmt.Errorf("project %s: %w", p.name, err))
	}
	needFlush := p.mem.bytes >= s.opts.FlushBytes || p.mem.len() >= s.opts.FlushRows || p.ustate.memBytes >= s.opts.FlushBytes
	p.mu.Unlock()
	if needFlush {
		s.requestFlush()
	}
	return nil
}

// knownUsers finds the user numbers of rows' distinct_ids that the user
// cache holds, before the caller takes p.mu: most of a batch's users have
// been seen lately, and their look-ups (cache misses in a large map) then
// run in parallel across batches instead of under the lock that orders
// them. A number, once given, never changes, so a number found now is
// still right under the lock; the users not found are numbered there.
// The slice comes from knownUserBuffers: put it back when done.
func (p *Project) knownUsers(rows []Event) []uint32 {
	buf := knownUserBuffers.Get().(*[]uint32)
	known := append((*buf)[:0], make([]uint32, len(rows))...)
	p.users.hot.knownNumbers(rows, known)
	return known
}

var knownUserBuffers = sync.Pool{New: func() any { return new([]uint32) }}

// maxPooledPayloadBytes bounds the payload buffers kept for reuse, so one
// huge batch does not pin its buffer.
const maxPooledPayloadBytes = 4 << 20

// addLocked applies durable rows to memory (ingest and WAL replay).
// REQUIRES: p.mu held; rows' props already fitted to the schema.
func (p *Project) addLocked(table string, rows []Event) error {
	if table == TablePeople {
		defer p.countUserStateLocked()
		for _, r := range rows {
			if err := p.setPersonLocked(r.DistinctID, r.Props); err != nil {
				return err
			}
		}
		return nil
	}
	return p.addEventsLocked(rows, keyHashes(rows))
}

// addEventsLocked appends events to p.mem. With hashes (the rows' key
// hashes), their keys are added to p.mem's keys; without, reserve has
// put them there already.
// An error (the user dictionary could not be read) leaves rows[i:] out.
// REQUIRES: p.mu held; rows' props already fitted to the schema.
func (p *Project) addEventsLocked(rows []Event, hashes []uint64) error {
	return p.addEventsKnownLocked(rows, hashes, nil)
}

// addEventsKnownLocked is addEventsLocked with the user numbers known
// before the lock (knownUsers): known[i], when not 0, is 1 + the number
// of rows[i]'s distinct_id; known may be nil.
func (p *Project) addEventsKnownLocked(rows []Event, hashes []uint64, known []uint32) error {
	mem, before := p.mem, p.mem.bytes
	defer func() {
		p.store.buffer.add(mem.bytes - before)
		p.countUserStateLocked()
		p.maybeSealLocked(mem)
	}()
	for i := range rows {
		var u uint32
		var err error
		if known != nil && known[i] != 0 {
			u = known[i] - 1
		} else if u, err = p.userNumberLocked(rows[i].DistinctID); err != nil {
			return err
		}
		if _, err := p.observeEventLocked(&rows[i], u); err != nil {
			return err
		}
		if hashes != nil {
			p.mem.appendLocked(rows[i], u, hashes[i])
		} else {
			p.mem.appendReservedLocked(rows[i], u)
		}
	}
	return nil
}

// countUserStateLocked brings the user state overlay's share of the
// ingest buffer up to date: identity and profile changes wait in memory
// for a flush as events do, and are bounded with them. REQUIRES: p.mu.
func (p *Project) countUserStateLocked() {
	if d := p.ustate.bytes() - p.ustateCounted; d != 0 {
		p.store.buffer.add(d)
		p.ustateCounted += d
	}
}

// setPersonLocked sets props on id's profile (a SQL INSERT into people).
func (p *Project) setPersonLocked(id string, props []Prop) error {
	u, err := p.userNumberLocked(id)
	if err != nil {
		return err
	}
	cur, _, err := p.ustate.person(u)
	if err != nil {
		return err
	}
	next := make([]Prop, 0, len(cur)+len(props))
	next = append(next, cur...)
outer:
	for _, np := range props {
		for j := range next {
			if next[j].Key == np.Key {
				next[j].Value = np.Value
				continue outer
			}
		}
		next = append(next, np)
	}
	p.ustate.setPerson(u, next, false)
	return nil
}

// Snapshot is a consistent read view of a project at one moment: the
// schemas, the live segments and the buffered rows. It stays valid (and
// unchanged) however the project changes afterwards, so a query sees one
// state from start to end.
type Snapshot struct {
	Project       string
	Columns       []Column // events property columns
	PeopleColumns []Column
	Segments      []*SegmentRef
	Mem           []MemRows
	// UserIDs maps user numbers to distinct_ids (the users known at the
	// snapshot's time).
	UserIDs *UserIDs
	// Canon maps user numbers to their canonical user (identity.go).
	Canon Canon
}

// Person is one row of the people table.
type Person struct {
	DistinctID string
	Props      []Prop
}

// Snapshot takes a read view of the events. Cost: copies of slice
// headers; nothing proportional to the data.
func (p *Project) Snapshot() *Snapshot {
	if p.shards != nil {
		return p.snapshotShards()
	}
	p.mu.RLock()
	defer p.mu.RUnlock()
	snap := &Snapshot{
		Project:       p.name,
		Columns:       p.events.Columns(),
		PeopleColumns: p.people.Columns(),
		Segments:      append([]*SegmentRef(nil), p.segments...),
		UserIDs:       p.users.view(),
		Canon:         p.ustate.view(p.users.Len()),
	}
	// Sealed chunks read as segments after the real ones, the unsealed
	// tails as rows (memtable_seal.go).
	for _, m := range append(p.frozen[:len(p.frozen):len(p.frozen)], p.mem) {
		refs, tail := m.sealedView()
		snap.Segments = append(snap.Segments, refs...)
		snap.Mem = append(snap.Mem, tail...)
	}
	return snap
}

// People returns every person (PeopleScan.All's order), with the people
// columns of the same moment. Person.Props are shared and read-only
// (profiles are replaced, never modified in place). Memory: all of them;
// PeopleScan streams.
func (p *Project) People() ([]Person, []Column, error) {
	scan, cols := p.PeopleScan()
	var out []Person
	for person, err := range scan.All() {
		if err != nil {
			return nil, nil, err
		}
		out = append(out, person)
	}
	return out, cols, nil
}

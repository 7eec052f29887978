package storage

// Crash and fault tests of every durable step: ingest (WAL append and
// fsync), WAL rotation, flush (segments, user chunk, people file,
// manifest, deletion of replaced files), project creation and
// credentials, profile writes, and compaction (of flushed segments, and
// again of a merged day with late rows).
//
// A scenario is a fixed sequence of logical operations on a store. Each
// runs
//
//   - under crash injection (TestCrashAtEveryStep): on a crashFS that
//     clones what a crash would keep after every state-changing call,
//     strictly and with a random share of unsynced bytes and directory
//     operations kept. A store opens on each clone and is judged against
//     what the scenario had been told at that moment; TestCrashDuring-
//     ConcurrentWork does the same with concurrent writers;
//   - under fault injection (TestFaultAtEveryCall): once per call n with
//     an errorFS failing the nth call (see faultPoints for which), the
//     scenario carrying on through errors. The store is then judged live,
//     after a crash, and after a restart.
//
// The judgement (crashView.check): the store opens; every row whose
// Ingest returned nil is present exactly once; every batch is present
// whole or not at all; projects, credentials and profiles equal the
// result of some run of the operations that keeps every acknowledged one
// and drops any others, never a mix within one operation. A probe ingest
// after a fault either works or returns an error caused by the fault
// (the store stopped itself).
//
// ARB_CRASH_STEPS=n (default 1), for soak runs: scenarios n times as
// long, n random clones per crash point, and from 2 on every call failed
// both ways. Fault runs grow as the square of the scenario (each run
// replays it), so n = 2 or 3 is a long soak already.

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const crashDataDir = "/data"

// crashSteps is ARB_CRASH_STEPS, at least 1.
func crashSteps(t *testing.T) int {
	if v := os.Getenv("ARB_CRASH_STEPS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("ARB_CRASH_STEPS=%q: want a positive integer", v)
		}
		return n
	}
	return 1
}

// crashOpKind is a logical operation a scenario issues.
type crashOpKind uint8

const (
	crashIngest crashOpKind = iota
	crashCreateProject
	crashPutProject
	crashSetPeople      // SetPeople: v = value on every profile user
	crashUpdateProfiles // UpdateProfiles: $set w = value, $add n 1 on every profile user
	crashUpdateGroups   // UpdateProfiles of groups: $set g = value on every profile group
)

// profileGroups are the groups every group operation touches, in one
// batch.
var profileGroups = []string{GroupRowKey("company", "acme"), GroupRowKey("company", "beta")}

// profileUsers are the people every profile operation touches, all in
// one batch, so a half-applied batch shows as users that disagree.
var profileUsers = []string{"u0", "u1", "u2"}

type crashOp struct {
	kind    crashOpKind
	project string
	ids     []string  // crashIngest: insert ids of the batch
	link    [2]string // crashIngest of an $identify: the ids it links
	token   string    // crashCreateProject, crashPutProject
	value   int64     // crashSetPeople, crashUpdateProfiles, crashUpdateGroups
}

// crashModel records the operations a scenario issued and, in order,
// when each began and ended, so that what the store must hold at any
// moment of the run can be judged. Safe for concurrent use; it never
// calls the FS, so an FS hook may call mark.
type crashModel struct {
	mu  sync.Mutex
	ops []crashOp
	log []crashEvent
}

type crashEvent struct {
	op    int
	ended bool
	err   error
}

func (m *crashModel) begin(op crashOp) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.ops = append(m.ops, op)
	m.log = append(m.log, crashEvent{op: len(m.ops) - 1})
	return len(m.ops) - 1
}

func (m *crashModel) end(i int, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.log = append(m.log, crashEvent{op: i, ended: true, err: err})
}

// mark names the present moment for view.
func (m *crashModel) mark() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.log)
}

// crashView is what the scenario knew at a mark: the operations begun
// and which of them had been acknowledged.
type crashView struct {
	ops   []crashOp
	acked []bool
}

func (m *crashModel) view(mark int) crashView {
	m.mu.Lock()
	defer m.mu.Unlock()
	v := crashView{}
	for _, e := range m.log[:mark] {
		if !e.ended {
			v.ops = append(v.ops, m.ops[e.op])
			v.acked = append(v.acked, false)
		} else if e.err == nil {
			v.acked[e.op] = true
		}
	}
	return v
}

// check judges s against v; it returns the problems found.
func (v crashView) check(s *Store) []string {
	var bad []string
	badf := func(format string, args ...any) { bad = append(bad, fmt.Sprintf(format, args...)) }

	// Projects and credentials: the token is that of the last
	// acknowledged create/put of the project or of a later one.
	tokens := map[string][]string{} // acceptable tokens, from the last acked op on
	for i, op := range v.ops {
		if op.kind != crashCreateProject && op.kind != crashPutProject {
			continue
		}
		if v.acked[i] {
			tokens[op.project] = nil
		}
		tokens[op.project] = append(tokens[op.project], op.token)
	}
	for i, op := range v.ops {
		if op.kind == crashCreateProject && v.acked[i] {
			if _, ok := s.Project(op.project); !ok {
				badf("project %s was created (acknowledged) and is missing", op.project)
			}
		}
	}
	for _, info := range s.Projects() {
		ok, acceptable := false, tokens[info.Name]
		for _, tok := range acceptable {
			ok = ok || tok == info.Token
		}
		if !ok {
			badf("project %s has token %q; acceptable: %q", info.Name, info.Token, acceptable)
		}
	}

	for _, info := range s.Projects() {
		p, _ := s.Project(info.Name)
		bad = append(bad, v.checkRows(p)...)
		bad = append(bad, v.checkIdentity(p)...)
		bad = append(bad, v.checkProfiles(p)...)
	}
	return bad
}

// checkRows: acknowledged batches whole, others whole or absent, every
// row once, no row nobody sent.
func (v crashView) checkRows(p *Project) []string {
	var bad []string
	ids, n, err := scanInsertIDs(p)
	if err != nil {
		return []string{fmt.Sprintf("project %s: read rows: %v", p.Name(), err)}
	}
	seen := 0
	for i, op := range v.ops {
		if op.kind != crashIngest || op.project != p.Name() {
			continue
		}
		present := 0
		for _, id := range op.ids {
			switch c := ids[id]; {
			case c == 1:
				present++
			case c > 1:
				bad = append(bad, fmt.Sprintf("project %s: row %s present %d times", p.Name(), id, c))
			}
		}
		seen += present
		switch {
		case v.acked[i] && present != len(op.ids):
			bad = append(bad, fmt.Sprintf("project %s: acknowledged batch %d (%s…) has %d of its %d rows",
				p.Name(), i, op.ids[0], present, len(op.ids)))
		case present != 0 && present != len(op.ids):
			bad = append(bad, fmt.Sprintf("project %s: failed batch %d (%s…) is half there: %d of %d rows",
				p.Name(), i, op.ids[0], present, len(op.ids)))
		}
	}
	if n != seen && len(bad) == 0 {
		bad = append(bad, fmt.Sprintf("project %s: %d rows, of which %d from batches the scenario sent", p.Name(), n, seen))
	}
	return bad
}

// checkIdentity: the two ids an $identify links are one user exactly
// when its batch is there (no other operation links them).
func (v crashView) checkIdentity(p *Project) []string {
	var bad []string
	ids, _, err := scanInsertIDs(p)
	if err != nil {
		return []string{fmt.Sprintf("project %s: read rows: %v", p.Name(), err)}
	}
	snap := p.Snapshot()
	number := map[string]uint32{}
	for n, id := range snap.UserIDs.All() {
		number[id] = n
	}
	for _, op := range v.ops {
		if op.kind != crashIngest || op.project != p.Name() || op.link[0] == "" {
			continue
		}
		a, okA := number[op.link[0]]
		b, okB := number[op.link[1]]
		linked := okA && okB && snap.Canon.Of(a) == snap.Canon.Of(b)
		if present := ids[op.ids[0]] > 0; present != linked {
			bad = append(bad, fmt.Sprintf("project %s: $identify of %s and %s: batch present %v, ids linked %v",
				p.Name(), op.link[0], op.link[1], present, linked))
		}
	}
	return bad
}

// scanInsertIDs counts the project's rows and each insert id's rows, in
// segments and memory, as a query would see them (a Snapshot).
func scanInsertIDs(p *Project) (map[string]int, int, error) {
	snap := p.Snapshot()
	ids := map[string]int{}
	n := 0
	for _, ref := range snap.Segments {
		dict, err := ref.Segment.Dict(ColInsertID)
		if err != nil {
			return nil, 0, err
		}
		for b := 0; b < ref.Segment.NumBlocks(); b++ {
			blk, err := ref.Segment.ReadBlock(ColInsertID, b)
			if err != nil {
				return nil, 0, err
			}
			for _, c := range blk.Codes {
				ids[dict[c]]++
				n++
			}
		}
	}
	for _, m := range snap.Mem {
		for _, e := range m.Rows {
			ids[e.InsertID]++
			n++
		}
	}
	return ids, n, nil
}

// checkProfiles: every profile user agrees (a batch is whole), v and w
// come from the last acknowledged operation or a later one, and n counts
// the updates applied: at least those acknowledged.
func (v crashView) checkProfiles(p *Project) []string {
	var bad []string
	people, _, _ := p.People()
	props := map[string]map[string]int64{} // user → key → value; -1 absent
	for _, u := range profileUsers {
		props[u] = map[string]int64{"v": -1, "w": -1, "n": 0}
	}
	for _, person := range people {
		if props[person.DistinctID] == nil {
			continue
		}
		for _, pr := range person.Props {
			props[person.DistinctID][pr.Key] = pr.Value.Int
		}
	}
	for _, key := range []string{"v", "w", "n"} {
		for _, u := range profileUsers[1:] {
			if props[u][key] != props[profileUsers[0]][key] {
				bad = append(bad, fmt.Sprintf("project %s: profile batch half applied: %s of %s is %d, of %s %d",
					p.Name(), key, u, props[u][key], profileUsers[0], props[profileUsers[0]][key]))
			}
		}
	}
	groups, _, err := p.Groups()
	if err != nil {
		bad = append(bad, fmt.Sprintf("project %s: groups: %v", p.Name(), err))
	}
	gs := map[string]int64{} // group row key → g; -1 absent
	for _, g := range profileGroups {
		gs[g] = -1
	}
	for _, g := range groups {
		for _, pr := range g.Props {
			k := GroupRowKey(g.Key, g.ID)
			if _, ok := gs[k]; ok && pr.Key == "g" {
				gs[k] = pr.Value.Int
			}
		}
	}
	for _, g := range profileGroups[1:] {
		if gs[g] != gs[profileGroups[0]] {
			bad = append(bad, fmt.Sprintf("project %s: group batch half applied: g of %q is %d, of %q %d",
				p.Name(), g, gs[g], profileGroups[0], gs[profileGroups[0]]))
		}
	}
	got := props[profileUsers[0]]
	got["g"] = gs[profileGroups[0]]
	for _, c := range []struct {
		kind crashOpKind
		key  string
	}{{crashSetPeople, "v"}, {crashUpdateProfiles, "w"}, {crashUpdateGroups, "g"}} {
		acceptable := []int64{-1}
		for i, op := range v.ops {
			if op.kind != c.kind || op.project != p.Name() {
				continue
			}
			if v.acked[i] {
				acceptable = nil
			}
			acceptable = append(acceptable, op.value)
		}
		ok := false
		for _, a := range acceptable {
			ok = ok || a == got[c.key]
		}
		if !ok {
			bad = append(bad, fmt.Sprintf("project %s: profile %s = %d; acceptable: %v", p.Name(), c.key, got[c.key], acceptable))
		}
	}
	var acked, issued int64
	for i, op := range v.ops {
		if op.kind == crashUpdateProfiles && op.project == p.Name() {
			issued++
			if v.acked[i] {
				acked++
			}
		}
	}
	if got["n"] < acked || got["n"] > issued {
		bad = append(bad, fmt.Sprintf("project %s: profile n = %d after %d acknowledged and %d issued updates",
			p.Name(), got["n"], acked, issued))
	}
	return bad
}

// crashHarness runs a scenario's operations on a store over fs,
// recording them in model. With faulty false every error fails the test.
type crashHarness struct {
	t      *testing.T
	fs     FS
	model  *crashModel
	s      *Store // nil after a failed open
	faulty bool
	// compactor runs the background compactor, merging a day a moment
	// after each flush (scenarios that need not be deterministic).
	compactor bool
	batch     atomic.Int64 // numbers batches, for insert ids
	// base is the first day of the rows; each batch spreads its rows over
	// days base+day0 and the next.
	base int64
}

func newCrashHarness(t *testing.T, fs FS, faulty bool) *crashHarness {
	return &crashHarness{t: t, fs: fs, model: &crashModel{}, faulty: faulty,
		base: time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC).UnixMilli()}
}

func openCrashStore(fs FS) (*Store, error) {
	// No background compaction: a scenario compacts when it says, so
	// its FS calls are the same on every run.
	return Open(crashStoreOptions(fs))
}

func crashStoreOptions(fs FS) Options {
	return Options{FS: fs, Dir: crashDataDir, Logger: silentLog, FlushInterval: time.Hour, DisableCompaction: true, ProfileUpdater: testProfileUpdater}
}

// silentLog drops every record before it is formatted: the crash tests
// open thousands of stores.
var silentLog = slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelError + 1}))

// fail reports an unexpected error (Errorf: scenarios may run
// operations on several goroutines).
func (h *crashHarness) fail(what string, err error) {
	h.t.Helper()
	if err != nil && !h.faulty {
		h.t.Errorf("%s: %v", what, err)
	}
}

var errNoStore = errors.New("no open store")

// open opens the store; under faults a failed open is retried once (the
// fault has passed), and a second failure is a finding.
func (h *crashHarness) open() {
	h.t.Helper()
	opts := crashStoreOptions(h.fs)
	if h.compactor {
		opts.DisableCompaction, opts.CompactionMaxSegments, opts.CompactionDelay = false, 2, time.Millisecond
	}
	s, err := Open(opts)
	if err != nil && h.faulty {
		s, err = Open(opts)
	}
	if err != nil {
		h.t.Errorf("open store: %v", err)
		h.s = nil
		return
	}
	h.s = s
}

// reopen closes and opens the store (a clean restart).
func (h *crashHarness) reopen() {
	h.t.Helper()
	if h.s != nil {
		h.fail("close", h.s.Close())
	}
	h.open()
}

func (h *crashHarness) project(name string) (*Project, error) {
	if h.s == nil {
		return nil, errNoStore
	}
	p, ok := h.s.Project(name)
	if !ok {
		return nil, fmt.Errorf("project %s missing", name)
	}
	return p, nil
}

// ingest sends a batch of n rows over days day0 and day0+1.
func (h *crashHarness) ingest(project string, n, day0 int) {
	h.t.Helper()
	h.ingestDays(project, n, day0, 2)
}

// ingestDays sends a batch of n rows over days day0 … day0+days-1.
func (h *crashHarness) ingestDays(project string, n, day0, days int) {
	h.t.Helper()
	batch := h.batch.Add(1)
	evs := make([]Event, n)
	op := crashOp{kind: crashIngest, project: project}
	for i := range evs {
		day := int64(day0 + i%days)
		evs[i] = Event{
			TimeMillis: h.base + day*86_400_000 + batch*1000 + int64(i),
			Name:       []string{"Signup", "Purchase"}[i%2],
			// Some users recur, some are new: flushes append user chunks.
			DistinctID: fmt.Sprintf("u%d", (batch*3+int64(i))%(5+batch)),
			InsertID:   fmt.Sprintf("b%d-%d", batch, i),
			Props:      []Prop{{"plan", StringValue([]string{"free", "pro"}[i%2])}, {"amount", IntValue(int64(i))}},
		}
		op.ids = append(op.ids, evs[i].InsertID)
	}
	i := h.model.begin(op)
	p, err := h.project(project)
	if err == nil {
		err = p.Ingest(evs)
	}
	h.model.end(i, err)
	h.fail("ingest", err)
}

// identify sends an $identify linking a new anonymous id to a new user
// id, alone in its batch: the identity state it changes reaches disk in
// the WAL, then in the people file.
func (h *crashHarness) identify(project string) {
	h.t.Helper()
	batch := h.batch.Add(1)
	user, anon := fmt.Sprintf("user%d", batch), fmt.Sprintf("anon%d", batch)
	op := crashOp{kind: crashIngest, project: project, ids: []string{fmt.Sprintf("b%d-0", batch)}, link: [2]string{user, anon}}
	evs := []Event{{TimeMillis: h.base + batch*1000, Name: "$identify", DistinctID: user, InsertID: op.ids[0],
		Props: []Prop{{"$identified_id", StringValue(user)}, {"$anon_id", StringValue(anon)}}}}
	i := h.model.begin(op)
	p, err := h.project(project)
	if err == nil {
		err = p.Ingest(evs)
	}
	h.model.end(i, err)
	h.fail("identify", err)
}

func (h *crashHarness) createProject(name string) {
	h.t.Helper()
	tok := fmt.Sprintf("tok-%s-%d", name, len(h.model.ops))
	i := h.model.begin(crashOp{kind: crashCreateProject, project: name, token: tok})
	err := errNoStore
	if h.s != nil {
		_, err = h.s.CreateProject(name, tok, "secret")
	}
	h.model.end(i, err)
	h.fail("create project", err)
}

func (h *crashHarness) putProject(name string) {
	h.t.Helper()
	tok := fmt.Sprintf("tok-%s-%d", name, len(h.model.ops))
	i := h.model.begin(crashOp{kind: crashPutProject, project: name, token: tok})
	err := errNoStore
	if h.s != nil {
		_, err = h.s.PutProject(name, tok, "")
	}
	h.model.end(i, err)
	h.fail("put project", err)
}

func (h *crashHarness) setPeople(project string) {
	h.t.Helper()
	v := int64(len(h.model.ops))
	rows := make([]Event, len(profileUsers))
	for j, u := range profileUsers {
		rows[j] = Event{DistinctID: u, Props: []Prop{{"v", IntValue(v)}}}
	}
	i := h.model.begin(crashOp{kind: crashSetPeople, project: project, value: v})
	p, err := h.project(project)
	if err == nil {
		err = p.SetPeople(rows)
	}
	h.model.end(i, err)
	h.fail("set people", err)
}

func (h *crashHarness) updateProfiles(project string) {
	h.t.Helper()
	w := int64(len(h.model.ops))
	var ops []ProfileOp
	for _, u := range profileUsers {
		ops = append(ops,
			ProfileOp{Key: u, Op: opSet, Props: []Prop{{"w", IntValue(w)}}, IgnoreTime: true},
			ProfileOp{Key: u, Op: opAdd, Props: []Prop{{"n", IntValue(1)}}, IgnoreTime: true})
	}
	i := h.model.begin(crashOp{kind: crashUpdateProfiles, project: project, value: w})
	p, err := h.project(project)
	if err == nil {
		err = p.UpdateProfiles(TablePeople, ops)
	}
	h.model.end(i, err)
	h.fail("update profiles", err)
}

func (h *crashHarness) updateGroups(project string) {
	h.t.Helper()
	g := int64(len(h.model.ops))
	var ops []ProfileOp
	for _, key := range profileGroups {
		ops = append(ops, ProfileOp{Key: key, Op: opSet, Props: []Prop{{"g", IntValue(g)}}, IgnoreTime: true})
	}
	i := h.model.begin(crashOp{kind: crashUpdateGroups, project: project, value: g})
	p, err := h.project(project)
	if err == nil {
		err = p.UpdateProfiles(TableGroups, ops)
	}
	h.model.end(i, err)
	h.fail("update groups", err)
}

func (h *crashHarness) flush() {
	h.t.Helper()
	err := errNoStore
	if h.s != nil {
		err = h.s.Flush()
	}
	h.fail("flush", err)
}

// compact merges every day that has more than one segment, or one not
// merged yet.
func (h *crashHarness) compact() {
	h.t.Helper()
	err := errNoStore
	if h.s != nil {
		err = h.s.Compact()
	}
	h.fail("compact", err)
}

// compactDay merges one day of project (day is the offset from base).
func (h *crashHarness) compactDay(project string, day int) {
	h.t.Helper()
	err := errNoStore
	if h.s != nil {
		d := time.UnixMilli(h.base + int64(day)*86_400_000).UTC().Format(time.DateOnly)
		_, err = h.s.CompactDay(project, d)
	}
	h.fail("compact day", err)
}

// crashScenario is a named sequence of operations; size scales it.
type crashScenario struct {
	name string
	run  func(h *crashHarness, size int)
}

var crashScenarios = []crashScenario{
	{"ingest", func(h *crashHarness, size int) {
		// Catalog records and batches in the WAL, a restart that replays
		// them (and flushes them at close), appends after it.
		h.createProject("a")
		h.putProject("a")
		h.createProject("b")
		for i := 0; i < 2*size; i++ {
			h.ingest("b", 4, 0)
		}
		h.reopen()
		h.putProject("b")
		h.createProject("c")
		h.ingest("b", 4, 1)
	}},
	{"flush", func(h *crashHarness, size int) {
		// Rotation, segments of two days, user chunks, a people file
		// (profiles and identity links) replaced by each later flush, old
		// WAL files deleted; the last flush is a clean close's.
		h.createProject("p")
		for i := 0; i < size; i++ {
			h.ingest("p", 6, 0)
			h.setPeople("p")
			h.identify("p")
			h.flush()
			h.ingest("p", 6, 1)
			h.updateProfiles("p")
			h.updateGroups("p")
			h.flush()
		}
		h.identify("p")
		h.ingest("p", 3, 2)
		h.updateProfiles("p")
		h.reopen()
	}},
	{"compaction", func(h *crashHarness, size int) {
		// Two flushes make two segments of day 0, merged; late rows then
		// arrive for days 0 and 1, and day 0, merged already, is merged
		// again with them (the run that must not drop the day's earlier
		// rows); then day 1's one flushed segment is merged.
		h.createProject("p")
		for i := 0; i < 2*size; i++ {
			h.ingestDays("p", 4, 0, 1)
			h.flush()
		}
		h.compact()
		h.ingest("p", 4, 0)
		h.flush()
		h.compactDay("p", 0)
		h.compact()
	}},
}

// crashPoint is the state a crash after one FS call would leave.
type crashPoint struct {
	n    int    // the call's number
	what string // the call
	mark int    // the model's mark at that moment
	fs   *crashFS
	torn bool // fs keeps a random share of what was not synced
}

// TestCrashAtEveryStep crashes each scenario after every state-changing
// FS call and reopens the store on what was durable: once keeping
// exactly what was synced, and ARB_CRASH_STEPS times keeping a random
// share of the rest (crashFS.clone). A crash point that leaves the same
// files as the one before it is judged once, against what the scenario
// knew at the later one (which has only more acknowledged).
func TestCrashAtEveryStep(t *testing.T) {
	steps := crashSteps(t)
	for _, sc := range crashScenarios {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			crashEverywhere(t, sc, steps, 1)
		})
	}
}

// TestCrashDuringConcurrentWork crashes, at every second state-changing
// call, a store that three writers ingest into while flushes, the
// background compactor and an explicit compaction run: group commits of
// several batches, rotations between a batch's append and its
// acknowledgement, merges racing flushes. What a crash leaves differs
// from run to run; the judgement does not.
func TestCrashDuringConcurrentWork(t *testing.T) {
	steps := crashSteps(t)
	crashEverywhere(t, crashScenario{"concurrent", func(h *crashHarness, size int) {
		h.compactor = true
		h.reopen()
		h.createProject("p")
		var writers sync.WaitGroup
		done := make(chan struct{})
		for w := 0; w < 3; w++ {
			writers.Add(1)
			go func() {
				defer writers.Done()
				for i := 0; i < 4*size; i++ {
					h.ingest("p", 5, i%2)
				}
			}()
		}
		go func() { writers.Wait(); close(done) }()
		for flushing := true; flushing; {
			select {
			case <-done:
				flushing = false
			default:
			}
			h.flush()
		}
		// The compactor runs on its own goroutine: give it a moment to
		// have merged something before the explicit merge.
		for deadline := time.Now().Add(2 * time.Second); h.s.CompactionStats().Runs == 0 && time.Now().Before(deadline); {
			time.Sleep(5 * time.Millisecond)
		}
		h.t.Logf("%d background compactions", h.s.CompactionStats().Runs)
		h.compact()
		h.ingest("p", 5, 0)
	}}, steps, max(1, 2/steps))
}

// crashEverywhere runs sc once on a crashFS, cloning what a crash would
// leave after every stride-th state-changing call, then judges a store
// opened on each clone (see TestCrashAtEveryStep).
func crashEverywhere(t *testing.T, sc crashScenario, steps, stride int) {
	seed := int64(len(sc.name)) * 7919 * int64(steps)
	rnd := rand.New(rand.NewSource(seed))
	fs := newCrashFS()
	h := newCrashHarness(t, fs, false)
	var points []crashPoint
	lastStrict, last := -1, uint64(0) // the last strict point and its fingerprint
	fs.onMutation = func(n int, what string) {
		if n%stride != 0 {
			return
		}
		mark := h.model.mark()
		strict := fs.cloneLocked(nil)
		sum := strict.fingerprint()
		if lastStrict >= 0 && sum == last {
			pt := &points[lastStrict]
			pt.n, pt.what, pt.mark = n, what, mark
		} else {
			lastStrict, last = len(points), sum
			points = append(points, crashPoint{n: n, what: what, mark: mark, fs: strict})
		}
		for k := 0; k < steps; k++ {
			if torn := fs.cloneLocked(rnd); torn.fingerprint() != sum {
				points = append(points, crashPoint{n: n, what: what, mark: mark, fs: torn, torn: true})
			}
		}
	}
	h.open()
	sc.run(h, steps)
	fs.mu.Lock()
	fs.onMutation = nil
	fs.mu.Unlock()
	if h.s != nil {
		crash(h.s)
	}
	failures := 0
	for _, pt := range points {
		if msg := judgeCrash(pt.fs, h.model.view(pt.mark), pt.torn); msg != "" {
			t.Errorf("crash after call %d (%s), torn %v, seed %d: %s", pt.n, pt.what, pt.torn, seed, msg)
			if failures++; failures == 5 {
				t.Fatal("too many failures")
			}
		}
	}
	t.Logf("%d crash points", len(points))
}

// judgeCrash opens a store on fs (a crash's leftovers) and judges it.
// With again set (the torn points, whose recoveries truncate and remove
// the most) it also judges a crash at every state-changing call of that
// recovery, and a crash after the recovered store flushed: a recovery
// must itself be safe to crash in, and durable. "" means all well.
func judgeCrash(fs *crashFS, v crashView, again bool) string {
	var mid []*crashFS // crashes during the recovery
	if again {
		last := fs.fingerprint()
		fs.onMutation = func(int, string) {
			c := fs.cloneLocked(nil)
			if sum := c.fingerprint(); sum != last {
				mid, last = append(mid, c), sum
			}
		}
	}
	s, err := openCrashStore(fs)
	fs.mu.Lock()
	fs.onMutation = nil
	fs.mu.Unlock()
	if err != nil {
		return fmt.Sprintf("open: %v", err)
	}
	if bad := v.check(s); len(bad) > 0 {
		crash(s)
		return fmt.Sprintf("after reopen: %q", bad)
	}
	if !again {
		crash(s)
		return ""
	}
	if err := s.Flush(); err != nil {
		crash(s)
		return fmt.Sprintf("flush after reopen: %v", err)
	}
	crash(s)
	for i, m := range append(mid, fs.clone(nil)) {
		what := fmt.Sprintf("a crash %d state changes into the recovery", i+1)
		if i == len(mid) {
			what = "a flush after the recovery and another crash"
		}
		s, err := openCrashStore(m)
		if err != nil {
			return fmt.Sprintf("open after %s: %v", what, err)
		}
		bad := v.check(s)
		crash(s)
		if len(bad) > 0 {
			return fmt.Sprintf("after %s: %q", what, bad)
		}
	}
	return ""
}

// TestFaultAtEveryCall fails FS calls of each scenario in turn and
// judges the store live, after a crash and after a restart. A first run
// with no fault lists the calls. Every call that changes the disk is
// failed, both with and without effect (errorFS.effect); of calls that
// only read, the first of each run of calls of one kind on one file
// (faultPoints), or all of them when ARB_CRASH_STEPS > 1.
func TestFaultAtEveryCall(t *testing.T) {
	steps := crashSteps(t)
	for _, sc := range crashScenarios {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			dry := newErrorFS(newCrashFS(), opAny, 0, false)
			h := newCrashHarness(t, dry, false)
			h.open()
			sc.run(h, steps)
			calls := dry.callTrace()
			h.s.Close()
			failures, runs := 0, 0
			for _, n := range faultPoints(calls, steps > 1) {
				for _, effect := range []bool{false, true} {
					if effect && !(calls[n-1].op.hasEffect() && (steps > 1 || faultOutcomeMatters(calls[n-1].op))) {
						continue
					}
					runs++
					mem := newCrashFS()
					efs := newErrorFS(mem, opAny, n, effect)
					// A failed read changes nothing on disk: the restart
					// after it is the restart of the run without faults.
					restart := steps > 1 || calls[n-1].op.hasEffect()
					msg, fired := runFault(t, sc, steps, mem, efs, restart)
					if fired == "" {
						t.Fatalf("call %d (%s %s) of the run without faults never came: the scenario is not deterministic",
							n, calls[n-1].op, calls[n-1].path)
					}
					if msg != "" {
						t.Errorf("fault at %s, effect %v: %s", fired, effect, msg)
						if failures++; failures == 5 {
							t.Fatal("too many failures")
						}
					}
				}
			}
			t.Logf("%d calls, %d runs", len(calls), runs)
		})
	}
}

// faultOutcomeMatters: for these kinds a call that fails having taken
// effect leaves a state no other run reaches (a rename done, an fsync
// done: the outcome the caller must treat as unknown); the others
// (create, write, remove, mkdir, truncate) are tried with effect only
// when ARB_CRASH_STEPS > 1.
func faultOutcomeMatters(op fsOp) bool {
	return op == opRename || op == opSync || op == opSyncDir
}

// faultPoints lists the calls (numbered from 1) to fail: every call
// that changes the disk, and of the others the first of each kind on
// each kind of file (directory and extension) since the last call that
// changed the disk — reading a segment block by block, or several
// segments in turn for a merge, fails the same way at every block — or
// every call when all.
func faultPoints(calls []fsCall, all bool) []int {
	var ns []int
	seen := map[fsCall]bool{}
	for i, c := range calls {
		class := fsCall{c.op, filepath.Join(filepath.Dir(c.path), "*"+filepath.Ext(c.path))}
		switch {
		case all || c.op.hasEffect():
			ns = append(ns, i+1)
			clear(seen)
		case !seen[class]:
			ns = append(ns, i+1)
			seen[class] = true
		}
	}
	return ns
}

// runFault runs sc on efs and judges the outcome. fired names the failed
// call ("" when the run made fewer than n calls).
func runFault(t *testing.T, sc crashScenario, steps int, mem *crashFS, efs *errorFS, restart bool) (msg, fired string) {
	// A sub-test's t collects the harness's own complaints (a failed
	// reopen) for this run.
	h := newCrashHarness(t, efs, true)
	h.open()
	sc.run(h, steps)
	fired = efs.firedCall()
	if fired == "" {
		if h.s != nil {
			h.s.Close()
		}
		return "", ""
	}
	defer func() {
		if h.s != nil {
			crash(h.s)
		}
	}()
	v := h.model.view(h.model.mark())
	if h.s != nil {
		if bad := v.check(h.s); len(bad) > 0 {
			return fmt.Sprintf("live store: %q", bad), fired
		}
		if msg := h.probe(); msg != "" {
			return msg, fired
		}
	}
	v = h.model.view(h.model.mark())
	if s, err := openCrashStore(mem.clone(nil)); err != nil {
		return fmt.Sprintf("after a crash: open: %v", err), fired
	} else {
		bad := v.check(s)
		crash(s)
		if len(bad) > 0 {
			return fmt.Sprintf("after a crash: %q", bad), fired
		}
	}
	if !restart {
		return "", fired
	}
	h.reopen()
	if h.s == nil {
		return "restart failed", fired
	}
	v = h.model.view(h.model.mark())
	if bad := v.check(h.s); len(bad) > 0 {
		return fmt.Sprintf("after a restart: %q", bad), fired
	}
	p, ok := h.s.Project(v.firstProject())
	if ok {
		if err := p.Ingest([]Event{{TimeMillis: h.base, Name: "probe", DistinctID: "probe", InsertID: "probe-after-restart"}}); err != nil {
			return fmt.Sprintf("ingest after a restart: %v", err), fired
		}
	}
	return "", fired
}

// probe ingests one row after the fault has passed: it must work, or
// fail because of the fault (the store stopped taking writes), and then
// keep failing.
func (h *crashHarness) probe() string {
	name := h.model.view(h.model.mark()).firstProject()
	p, ok := h.s.Project(name)
	if !ok {
		return ""
	}
	ingest := func() error {
		id := fmt.Sprintf("probe-%d", h.batch.Add(1))
		i := h.model.begin(crashOp{kind: crashIngest, project: name, ids: []string{id}})
		err := p.Ingest([]Event{{TimeMillis: h.base, Name: "probe", DistinctID: "probe", InsertID: id}})
		h.model.end(i, err)
		return err
	}
	err := ingest()
	if err != nil && !errors.Is(err, errInjected) {
		return fmt.Sprintf("ingest after the fault passed: %v (neither working nor stopped by the fault)", err)
	}
	if err != nil {
		if err := ingest(); err == nil {
			return "a store that stopped taking writes after the fault took one again"
		}
	}
	return ""
}

func (v crashView) firstProject() string {
	for _, op := range v.ops {
		if op.kind == crashCreateProject {
			return op.project
		}
	}
	return ""
}

// TestWALReplayMakesReadRecordsDurable: a record whose fsync failed is
// still in the page cache when the next process replays it, so that
// process builds on it; it must be durable before anything the process
// acknowledges afterwards (a catalog record, then rows of its project).
func TestWALReplayMakesReadRecordsDurable(t *testing.T) {
	mem := newCrashFS()
	// Sync 1 writes 000001.wal's header, sync 2 the record.
	efs := newErrorFS(mem, opSync, 2, false)
	w, err := OpenWAL(WALOptions{FS: efs, Dir: "/wal", Logger: quietLog}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Append([]byte("a")); !errors.Is(err, errInjected) {
		t.Fatalf("append with a failing fsync: %v", err)
	}
	w.Close()
	replayAll := func(fs FS) (*WAL, []string) {
		t.Helper()
		var got []string
		w, err := OpenWAL(WALOptions{FS: fs, Dir: "/wal", Logger: quietLog}, func(_ WALPosition, p []byte) error {
			got = append(got, string(p))
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return w, got
	}
	w, got := replayAll(mem)
	if fmt.Sprint(got) != "[a]" {
		t.Fatalf("replayed %q, want the record in the page cache", got)
	}
	if _, err := w.Append([]byte("b")); err != nil {
		t.Fatal(err)
	}
	w.Close()
	w, got = replayAll(mem.clone(nil))
	w.Close()
	if fmt.Sprint(got) != "[a b]" {
		t.Fatalf("after a crash replayed %q, want [a b]: b was acknowledged after a was replayed", got)
	}
}

// TestWALTornHeaderLeavesNoGap: a crash while a WAL file's header was
// being written leaves it torn; the open that removes it must not leave
// a gap in the file sequence, which the next open would refuse (the
// MANIFEST needs the files from its WALStartSeq on without a gap).
func TestWALTornHeaderLeavesNoGap(t *testing.T) {
	mem := newCrashFS()
	s, err := openCrashStore(mem)
	if err != nil {
		t.Fatal(err)
	}
	s.CreateProject("p", "", "")
	p, _ := s.Project("p")
	if err := p.Ingest(testEvents(10, 1)); err != nil {
		t.Fatal(err)
	}
	crash(s)
	names, _ := mem.List(crashDataDir + "/" + walDirName)
	last, _ := parseWALFileName(names[len(names)-1])
	f, _ := mem.Create(crashDataDir + "/" + walDirName + "/" + walFileName(last+1))
	f.Write([]byte(walMagic)) // 8 of the header's 16 bytes
	f.Close()
	for round := 0; round < 2; round++ {
		s, err := openCrashStore(mem)
		if err != nil {
			t.Fatalf("open %d after a torn WAL header: %v", round+1, err)
		}
		n, ids := countRows(t, s, "p")
		crash(s)
		if n != 10 || len(ids) != 10 {
			t.Fatalf("open %d: %d rows, %d distinct; want 10", round+1, n, len(ids))
		}
	}
}

// TestLeftoverRemovalIsDurable: a file a crashed write left numbered at
// or above the manifest's NextFileNumber is removed at open; that removal
// must be durable before a later manifest raises NextFileNumber past it,
// or a crash brings the file back as one no manifest accounts for and
// the next open refuses the directory (found by TestCrashDuringConcurrentWork
// with a background run merge whose manifest publish failed).
func TestLeftoverRemovalIsDurable(t *testing.T) {
	mem := newCrashFS()
	open := func(fs FS) *Store {
		t.Helper()
		s, err := Open(Options{FS: fs, Dir: "/data", FlushInterval: time.Hour, DisableCompaction: true, Logger: quietLog})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	s := open(mem)
	if _, err := s.CreateProject("p", "", ""); err != nil {
		t.Fatal(err)
	}
	p, _ := s.Project("p")
	if err := p.Ingest([]Event{{TimeMillis: 1e12, Name: "e", DistinctID: "u1", InsertID: "1"}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	next := s.published.NextFileNumber
	s.Close()
	// A merge's output named with the next number, synced, then a crash
	// before its manifest.
	leftover := "/data/users/" + userIndexFileName(next)
	f, err := mem.Create(leftover)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("left by a crashed merge"))
	f.Sync()
	f.Close()
	if err := mem.SyncDir("/data/users"); err != nil {
		t.Fatal(err)
	}
	mem = mem.clone(nil)
	s = open(mem) // removes the leftover
	p, _ = s.Project("p")
	// A known user: the flush writes a segment only, nothing in users/
	// that would fsync the directory by the way.
	if err := p.Ingest([]Event{{TimeMillis: 1e12 + 1, Name: "e", DistinctID: "u1", InsertID: "2"}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(); err != nil { // NextFileNumber moves past the leftover's number
		t.Fatal(err)
	}
	if s.published.NextFileNumber <= next {
		t.Fatalf("next file number %d, want past %d", s.published.NextFileNumber, next)
	}
	crash(s)
	s = open(mem.clone(nil)) // refused when the removal was not durable
	s.Close()
}

package engine

// Aggregation is GROUP BY over a snapshot: filter, group keys, aggregate
// functions, run natively over column blocks.
//
// Execution: the snapshot's parts (segments, buffered batches) are handed
// out to one worker per core. A worker reads a part batch by batch (a
// segment block, or up to SegmentBlockRows buffered rows): the block
// filter plan (block_filter.go) picks the matching rows, group keys are
// computed from dictionary codes, user numbers, integers or time buckets,
// and every aggregate updates its per-group state. Each worker keeps its
// own group table; at the end the workers' tables are merged, which is
// the same merge that combines partial aggregates of shards.
//
// Keys live in one key space across parts: strings are interned (a
// segment's dictionary codes are mapped once per segment), distinct_id is
// the canonical user number, times are milliseconds or bucket ids. Values
// are converted to their column's current type before they are keyed or
// aggregated, so a widened column groups and aggregates as SQL sees it.

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"

	"arb/storage"
)

// AggKind is an aggregate function.
type AggKind uint8

const (
	AggCount         AggKind = iota // count(*) when Column is "", else count(Column)
	AggCountDistinct                // count(DISTINCT Column)
	AggSum
	AggAvg
	AggMin
	AggMax
	// AggAny is the value of the group's first row in scan order (parts in
	// order, rows in order), as go-mysql-server gives a bare column of a
	// GROUP BY.
	AggAny
	// AggWindowFunnel is window_funnel(WindowMillis, Column, Conds...).
	AggWindowFunnel
	// AggRetention is retention(Conds...), a JSON array of 0/1.
	AggRetention
)

var aggNames = [...]string{"count", "count_distinct", "sum", "avg", "min", "max", "any", "window_funnel", "retention"}

func (k AggKind) String() string { return aggNames[k] }

// Agg is one aggregate of an Aggregation.
type Agg struct {
	Kind         AggKind
	Column       string // the aggregated column; the time column for AggWindowFunnel
	WindowMillis int64  // AggWindowFunnel
	Conds        []Predicate
	// Exact makes AggSum and AggAvg of an integer column exact, each
	// result the decimal's text (aggregate_exact_sum.go); Scale is AVG's
	// digits after the point.
	Exact bool
	Scale int32
}

func (a Agg) String() string {
	var b strings.Builder
	b.WriteString(a.Kind.String() + "(")
	if a.Kind == AggWindowFunnel {
		fmt.Fprintf(&b, "%dms, ", a.WindowMillis)
	}
	if a.Column == "" && a.Kind == AggCount {
		b.WriteString("*")
	}
	b.WriteString(a.Column)
	for i, c := range a.Conds {
		if i > 0 || a.Column != "" {
			b.WriteString(", ")
		}
		b.WriteString(c.String())
	}
	b.WriteString(")")
	return b.String()
}

// GroupKey is one GROUP BY key: a column, or a function of a time column
// that is constant within buckets of BucketMillis (DATE(time) within a
// day, HOUR(time) within an hour).
type GroupKey struct {
	Column string
	// BucketMillis > 0: rows group by Bucket(start of their bucket), which
	// names the key (equal ids: one group). Bucket is called once per
	// bucket per worker, possibly concurrently.
	BucketMillis int64
	Bucket       func(startMillis int64) (uint64, error)
	Label        string // for String, e.g. "DATE(time)"
}

func (k GroupKey) String() string {
	if k.Label != "" {
		return k.Label
	}
	return k.Column
}

// Aggregation is a GROUP BY to run over one snapshot.
type Aggregation struct {
	Snap    *storage.Snapshot
	Filter  Predicate // nil: every row
	Keys    []GroupKey
	Aggs    []Agg
	Workers int // 0: GOMAXPROCS
	// Unread[j] says that nobody reads aggregate j's results: every
	// row holds NULL there and RunUsers no users (a per-user derived
	// table's distinct_id that the query above never names: reading 500k
	// users' ids was a quarter of such a query). nil: all are read.
	Unread []bool
}

// maxGroupKeys is the most GROUP BY keys the engine runs natively.
const maxGroupKeys = 4

func (a *Aggregation) String() string {
	var b strings.Builder
	parts := make([]string, len(a.Aggs))
	for i, g := range a.Aggs {
		parts[i] = g.String()
	}
	b.WriteString("aggregate: " + strings.Join(parts, ", "))
	if len(a.Keys) > 0 {
		keys := make([]string, len(a.Keys))
		for i, k := range a.Keys {
			keys[i] = k.String()
		}
		b.WriteString("; group by: " + strings.Join(keys, ", "))
	}
	if a.Filter != nil {
		b.WriteString("; filter: " + a.Filter.String())
	}
	return b.String()
}

// Check reports why the engine cannot run a (nil: it can).
func (a *Aggregation) Check() error {
	if len(a.Keys) > maxGroupKeys {
		return fmt.Errorf("%d group keys; the engine groups by up to %d", len(a.Keys), maxGroupKeys)
	}
	for _, g := range a.Aggs {
		if len(g.Conds) > MaxFunnelSteps {
			return fmt.Errorf("%s: %d conditions; at most %d", g.Kind, len(g.Conds), MaxFunnelSteps)
		}
	}
	return nil
}

// Run computes the groups: one row per group holding the Aggs' values in
// order. With no keys there is exactly one row, even over no rows. Rows
// come in no particular order.
func (a *Aggregation) Run(ctx context.Context) ([][]storage.Value, error) {
	rows, _, err := a.run(ctx, false)
	return rows, err
}

// RunUsers is Run that also hands out user numbers: users[j], for each
// Agg j that is AggAny of a distinct_id group key (the group's user),
// holds row g's user number at users[j][g], numbered by a.Snap.UserIDs
// (row g's value is a.Snap.UserIDs.ID(users[j][g]) when not NULL);
// users[j] is nil for every other Agg. Operators above key users by
// these numbers instead of hashing the strings.
func (a *Aggregation) RunUsers(ctx context.Context) (rows [][]storage.Value, users [][]uint32, err error) {
	return a.run(ctx, true)
}

func (a *Aggregation) run(ctx context.Context, wantUsers bool) ([][]storage.Value, [][]uint32, error) {
	gs, err := a.RunGroups(ctx)
	if err != nil {
		return nil, nil, err
	}
	if gs.w == nil {
		return gs.rows, make([][]uint32, len(a.Aggs)), nil
	}
	w := gs.w
	// The rows are charged as the state is: a result of millions of
	// groups is itself memory.
	budget := gs.budget
	if err := budget.Grow(int64(w.groups.len())*(rowBytes+int64(len(a.Aggs))*rowValueBytes), "result rows of "+a.String()); err != nil {
		return nil, nil, err
	}
	var users [][]uint32
	if wantUsers {
		if users, err = gs.Users(ctx); err != nil {
			return nil, nil, err
		}
	}
	out := make([][]storage.Value, w.groups.len())
	// One allocation for every row's values (a row per group made
	// millions of small objects); each row's capacity ends at its own
	// values, so appending to one cannot overwrite the next.
	na := len(a.Aggs)
	vals := make([]storage.Value, len(out)*na)
	for g := range out {
		if g%CheckEveryRows == 0 {
			if err := ctx.Err(); err != nil {
				return nil, nil, err
			}
		}
		row := vals[g*na : (g+1)*na : (g+1)*na]
		for j := range row {
			row[j] = gs.Value(g, j)
		}
		out[g] = row
	}
	// The state is garbage now (the rows hold copies of its values, their
	// strings shared with the users file and the intern table): give its
	// charge back, so that only the rows stay charged for the statement.
	gs.Release()
	return out, users, nil
}

// Groups is an aggregation's result held as its merged state: group g's
// value of aggregate j is computed when asked for (Value), so that a
// consumer that builds columns a batch at a time needs no row of
// storage.Values per group (for a group per user, tens of MB a query).
// The state stays charged to the query's budget until Release.
type Groups struct {
	a      *Aggregation
	w      *aggWorker        // nil: the result is rows
	rows   [][]storage.Value // w == nil: the one row of a count(*) answered without a scan
	budget *MemoryBudget
}

// RunGroups runs the aggregation and returns its groups (see Run for
// which groups and Groups for how they are held).
func (a *Aggregation) RunGroups(ctx context.Context) (*Groups, error) {
	if err := a.Check(); err != nil {
		return nil, err
	}
	if a.Filter == nil && len(a.Keys) == 0 && len(a.Aggs) == 1 && a.Aggs[0].Kind == AggCount && a.Aggs[0].Column == "" {
		// count(*) of everything: the parts know their sizes.
		n := 0
		for _, s := range a.Snap.Segments {
			n += s.Segment.Rows()
		}
		for _, m := range a.Snap.Mem {
			n += len(m.Rows)
		}
		return &Groups{a: a, rows: [][]storage.Value{{storage.IntValue(int64(n))}}}, nil
	}
	w, err := runAggregation(ctx, a)
	if err != nil {
		return nil, err
	}
	if len(a.Keys) == 0 && w.groups.len() == 0 {
		w.groups.lookup(groupKey{})
		w.growStates()
	}
	return &Groups{a: a, w: w, budget: MemoryBudgetOf(ctx)}, nil
}

// Len is the number of groups.
func (gs *Groups) Len() int {
	if gs.w == nil {
		return len(gs.rows)
	}
	return gs.w.groups.len()
}

// Value is group g's value of aggregate j (NULL when Unread).
func (gs *Groups) Value(g, j int) storage.Value {
	if gs.w == nil {
		return gs.rows[g][j]
	}
	if gs.a.unread(j) {
		return storage.Value{}
	}
	return gs.w.states[j].result(int32(g))
}

// Users is RunUsers' users of these groups.
func (gs *Groups) Users(ctx context.Context) ([][]uint32, error) {
	if gs.w == nil {
		return make([][]uint32, len(gs.a.Aggs)), nil
	}
	return gs.w.userResults(ctx, gs.budget)
}

// Release gives the state's charge back to the query's budget; Value
// must not be called afterwards.
func (gs *Groups) Release() {
	if gs.w != nil && gs.w.chargedBytes > 0 {
		gs.budget.Grow(-gs.w.chargedBytes, "")
		gs.w.chargedBytes = 0
	}
}

// unread reports whether nobody reads aggregate j's results (Unread).
func (a *Aggregation) unread(j int) bool {
	return j < len(a.Unread) && a.Unread[j]
}

// userResults is RunUsers' users over the merged state w: the group
// table's keys are canonical user numbers of a.Snap.UserIDs for a
// distinct_id key (the same numbers keyAnyState.result names), charged
// to budget.
func (w *aggWorker) userResults(ctx context.Context, budget *MemoryBudget) ([][]uint32, error) {
	users := make([][]uint32, len(w.states))
	for j, st := range w.states {
		ks, ok := st.(*keyAnyState)
		if !ok || (ks.ref.kind != kindDistinctID && ks.ref.kind != kindRawDistinctID) || w.run.a.unread(j) {
			continue
		}
		n := w.groups.len()
		if err := budget.Grow(4*int64(n), "user numbers of "+w.run.what); err != nil {
			return nil, err
		}
		us := make([]uint32, n)
		for g := range us {
			us[g] = uint32(w.groups.key(int32(g)).k[ks.key]) // NULL rows: 0, never read
		}
		users[j] = us
	}
	return users, nil
}

// runAggregation runs a over every part and returns the merged state.
func runAggregation(ctx context.Context, a *Aggregation) (*aggWorker, error) {
	r, err := newAggRun(ctx, a)
	if err != nil {
		return nil, err
	}
	return r.runParts(ctx)
}

// aggRun is what all workers of one Run share (read-only once built,
// except the intern table, which locks).
type aggRun struct {
	a       *Aggregation
	scan    *Scan // resolves columns; carries the cohort sets
	keyRefs []colRef
	aggRefs []colRef // per Agg: its column (kindUnknown for count(*))
	intern  *internTable
	workers int
	// budget is the query's memory account (nil: no limit); what names
	// the state charged to it, for the error.
	budget *MemoryBudget
	what   string
}

func newAggRun(ctx context.Context, a *Aggregation) (*aggRun, error) {
	r := &aggRun{a: a, intern: newInternTable(), budget: MemoryBudgetOf(ctx)}
	if r.budget != nil {
		r.what = a.String()
	}
	// The scan's outputs are every column the keys and aggregates read,
	// so that the segment iterators decode them.
	var cols []string
	// distinct_id is read from user numbers: the string column's blocks
	// need not be decoded for keys and aggregates.
	column := func(name string) string {
		switch strings.ToLower(name) {
		case storage.ColDistinctID, storage.ColRawDistinctID:
			return storage.ColUserNumber
		}
		return name
	}
	for _, k := range a.Keys {
		cols = append(cols, column(k.Column))
	}
	extra := []Predicate{}
	for _, g := range a.Aggs {
		if g.Column != "" {
			cols = append(cols, column(g.Column))
		}
		extra = append(extra, g.Conds...)
	}
	r.scan = &Scan{Snap: a.Snap, Columns: cols, Filter: a.Filter, extraPreds: extra}
	if err := r.scan.prepare(ctx); err != nil {
		return nil, err
	}
	for _, k := range a.Keys {
		ref := r.scan.resolve(k.Column)
		if ref.kind == kindProperties {
			return nil, fmt.Errorf("aggregate: cannot group by %s", ColProperties)
		}
		if k.BucketMillis > 0 && ref.kind != kindTime {
			return nil, fmt.Errorf("aggregate: bucket key on %s, not a time column", k.Column)
		}
		r.keyRefs = append(r.keyRefs, ref)
	}
	for _, g := range a.Aggs {
		ref := colRef{kind: kindUnknown}
		if g.Column != "" {
			ref = r.scan.resolve(g.Column)
			if ref.kind == kindProperties {
				return nil, fmt.Errorf("aggregate: %s over %s", g.Kind, ColProperties)
			}
		}
		if g.Kind == AggWindowFunnel && ref.kind != kindTime {
			return nil, fmt.Errorf("window_funnel: %s is not the time column", g.Column)
		}
		r.aggRefs = append(r.aggRefs, ref)
	}
	r.workers = a.Workers
	if r.workers <= 0 {
		r.workers = runtime.GOMAXPROCS(0)
	}
	r.workers = max(1, min(r.workers, r.scan.Parts()))
	return r, nil
}

// runParts runs every part on the workers and returns the merged state.
func (r *aggRun) runParts(ctx context.Context) (*aggWorker, error) {
	parts := r.scan.Parts()
	workers := make([]*aggWorker, r.workers)
	errs := make([]error, r.workers)
	var next atomic.Int64
	var wg sync.WaitGroup
	for i := range workers {
		workers[i] = newAggWorker(r)
		wg.Add(1)
		go func(w *aggWorker, errp *error) {
			defer wg.Done()
			defer func() {
				// A broken invariant fails this query, not the server.
				if p := recover(); p != nil {
					*errp = fmt.Errorf("BUG: aggregate worker: %v\n%s", p, debug.Stack())
					next.Store(int64(parts))
				}
			}()
			// Parts are taken in increasing order, so each worker sees its
			// parts in scan order (AggAny relies on it).
			for {
				p := int(next.Add(1) - 1)
				if p >= parts {
					return
				}
				if err := w.runPart(ctx, p); err != nil {
					*errp = err
					next.Store(int64(parts)) // stop the others early
					return
				}
			}
		}(workers[i], &errs[i])
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	dst := workers[0]
	for _, src := range workers[1:] {
		if err := dst.mergeFrom(ctx, src); err != nil {
			return nil, err
		}
	}
	return dst, nil
}

// internTable numbers strings of one Run, so that equal strings of
// different segments share a key.
type internTable struct {
	mu   sync.Mutex
	ids  map[string]uint32
	strs []string // by id
	// sizeBytes estimates ids and strs; chargedBytes is the part of it
	// charged to the query's budget (chargeIntern).
	sizeBytes, chargedBytes int64
}

// internEntryBytes is an interned string's overhead: its map entry and
// its slot in strs, beside the string's bytes.
const internEntryBytes = 64

func newInternTable() *internTable { return &internTable{ids: map[string]uint32{}} }

func (t *internTable) id(s string) uint32 {
	t.mu.Lock()
	defer t.mu.Unlock()
	id, ok := t.ids[s]
	if !ok {
		id = uint32(len(t.ids))
		t.ids[s] = id
		t.strs = append(t.strs, s)
		t.sizeBytes += int64(len(s)) + internEntryBytes
	}
	return id
}

// chargeIntern charges the intern table's growth since the last call to
// the query's budget.
func (r *aggRun) chargeIntern() error {
	t := r.intern
	t.mu.Lock()
	d := t.sizeBytes - t.chargedBytes
	t.chargedBytes = t.sizeBytes
	t.mu.Unlock()
	return r.budget.Grow(d, r.what)
}

// str is the string interned as id.
func (t *internTable) str(id uint32) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.strs[id]
}

// groupKey is a group's key tuple; bit i of nulls marks key i NULL.
type groupKey struct {
	k     [maxGroupKeys]uint64
	nulls uint8
}

// groupTable numbers the groups a worker has seen.
//
// A table of one key (GROUP BY user, event, a bucket: most groupings)
// keeps each group's key as a uint64 (one) rather than a groupKey (40
// bytes: a table of a group per user made tens of MB of keys per query
// and worker); its NULL group, if any, is null1-1.
// INVARIANT: a non-NULL single key k < len(dense) is found through
// dense, never in m1 (growDense moves m1's keys it comes to cover).
type groupTable struct {
	nkeys int
	// dense maps a single non-NULL key below len(dense) to gid+1.
	dense []int32
	m1    map[uint64]int32 // nkeys == 1: keys outside dense
	m     map[groupKey]int32
	one   []uint64   // by gid, nkeys == 1
	keys  []groupKey // by gid, nkeys != 1
	null1 int32      // nkeys == 1: gid+1 of the NULL group (0: none)
}

// denseLimit bounds how far lookup grows dense for keys it meets; user
// groupings size dense to the snapshot's users at once, beyond it.
const denseLimit = 1 << 22

func newGroupTable(nkeys int) groupTable {
	if nkeys == 1 {
		return groupTable{nkeys: 1, m1: map[uint64]int32{}}
	}
	return groupTable{nkeys: nkeys, m: map[groupKey]int32{}}
}

// len is the number of groups.
func (g *groupTable) len() int {
	if g.nkeys == 1 {
		return len(g.one)
	}
	return len(g.keys)
}

// key is group gid's key.
func (g *groupTable) key(gid int32) groupKey {
	if g.nkeys != 1 {
		return g.keys[gid]
	}
	if gid == g.null1-1 {
		return groupKey{nulls: 1}
	}
	return groupKey{k: [maxGroupKeys]uint64{g.one[gid]}}
}

// keyBytes is what the table's keys take (their capacity).
func (g *groupTable) keyBytes() int64 {
	return int64(cap(g.one))*8 + int64(cap(g.keys))*groupKeyBytes
}

// mapped is the number of groups keyed in a map rather than dense.
func (g *groupTable) mapped() int {
	return len(g.m1) + len(g.m)
}

func (g *groupTable) lookup(k groupKey) int32 {
	if g.nkeys != 1 {
		if gid, ok := g.m[k]; ok {
			return gid
		}
		gid := int32(len(g.keys))
		g.keys = appendDoubling(g.keys, k)
		g.m[k] = gid
		return gid
	}
	if k.nulls != 0 {
		if g.null1 == 0 {
			g.null1 = g.add1(0) + 1
		}
		return g.null1 - 1
	}
	return g.lookup1(k.k[0])
}

// lookup1 is lookup of non-NULL key i in a one-key table.
func (g *groupTable) lookup1(i uint64) int32 {
	if i < uint64(len(g.dense)) {
		if v := g.dense[i]; v != 0 {
			return v - 1
		}
	} else if i < denseLimit {
		g.growDense(int(min(max(uint64(len(g.dense))*2, i+1, 1024), denseLimit)))
	} else {
		if gid, ok := g.m1[i]; ok {
			return gid
		}
		gid := g.add1(i)
		g.m1[i] = gid
		return gid
	}
	gid := g.add1(i)
	g.dense[i] = gid + 1
	return gid
}

// add1 appends k as a new group of a one-key table and returns its gid.
func (g *groupTable) add1(k uint64) int32 {
	gid := int32(len(g.one))
	g.one = appendDoubling(g.one, k)
	return gid
}

// appendDoubling is append that doubles s when full, as the states do
// (growTo): append grows a large slice by a quarter, and a table of a
// group per user spent more time copying its keys than grouping.
func appendDoubling[T any](s []T, v T) []T {
	if len(s) == cap(s) {
		grown := make([]T, len(s), max(2*cap(s), 64))
		copy(grown, s)
		s = grown
	}
	return append(s, v)
}

// growDense makes dense n long (n > len(dense)), in one allocation, and
// moves the keys of m1 it now covers into it.
func (g *groupTable) growDense(n int) {
	grown := make([]int32, n)
	copy(grown, g.dense)
	g.dense = grown
	for k, gid := range g.m1 {
		if k < uint64(n) {
			g.dense[k] = gid + 1
			delete(g.m1, k)
		}
	}
}

// floatKey keys a float so that values equal in SQL share a key.
func floatKey(f float64) uint64 {
	if f == 0 {
		return 0 // -0 = 0
	}
	return math.Float64bits(f)
}

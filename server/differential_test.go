package server

// The differential test of the analytics engine: one seeded event stream,
// stored in flushed segments, late segments of already-flushed days and
// the memory buffer, then a thousand or more random analyst queries
// (differential_gen_test.go) answered twice, with arb's native paths on
// (SET arb_pushdown = 1) and off (go-mysql-server's own row operators).
// The two answers must be identical: same columns and column types, same
// rows (as a multiset unless the query fixes a total order), floats equal
// within a relative 1e-9, and the same error when one fails.
//
// ARB_SEED=n replays a run; ARB_DIFF_QUERIES=n runs n queries (soak);
// ARB_DIFF_TRACE=1 logs every query before it runs.

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"math/rand"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"arb/planner"
	"arb/storage"
)

// Budgets of TestAnalyticsPushdownDifferential.
const (
	diffDefaultQueries = 1000
	// diffMaxErrorFraction bounds the share of queries that fail (alike on
	// both paths): a grammar that mostly errs tests nothing.
	diffMaxErrorFraction = 0.05
	// diffMinNonEmptyFraction bounds from below the share of queries that
	// return at least one row.
	diffMinNonEmptyFraction = 0.5
	diffMaxFailures         = 10
	diffWorkers             = 2
	diffFloatTolerance      = 1e-9
)

// diffNativeMarkers are strings EXPLAIN PLAN shows when a native engine
// path answers part of the query: the engine's own node ("arb engine
// events [aggregate: …]"), and the filter pushed into the events scan
// where the plan prints the table with it.
var diffNativeMarkers = []string{planner.NativeMarker, "engine filter"}

func TestAnalyticsPushdownDifferential(t *testing.T) {
	runPushdownDifferential(t, 1, 1)
}

// TestAnalyticsPushdownDifferentialSharded is the same over a project of
// four shards (storage/shards.go): every query reads the shards through
// one union view, whose translated user numbers the engine's uniques,
// cohorts and funnels must agree with go-mysql-server's row operators on.
func TestAnalyticsPushdownDifferentialSharded(t *testing.T) {
	runPushdownDifferential(t, 4, 3)
}

// runPushdownDifferential runs the differential over a project of shards
// shards, with 1/fraction of the queries.
func runPushdownDifferential(t *testing.T, shards, fraction int) {
	seed, queries, trace := diffSettings(t)
	queries = max(1, queries/fraction)
	t.Logf("seed %d (rerun with ARB_SEED=%d), %d queries, %d shards", seed, seed, queries, shards)
	r := rand.New(rand.NewSource(seed))
	began := time.Now()

	// Small sealed chunks: the buffered rows are read partly as
	// in-memory segments, partly as rows (storage/memtable_seal.go; a
	// shard seals every 48/shards rows).
	srv := startTestServerStore(t, t.TempDir(), storage.Options{FlushInterval: time.Hour, DisableCompaction: true, SealRows: 48, Shards: shards})
	db := openDB(t, srv, "")
	data := newDiffData(r, diffStart, diffDays, diffUsers)
	data.load(t, srv, db, diffConn(t, db, 0))
	srv.Store().WaitSealing() // a settled layout for both runs of each query
	if p, ok := srv.Store().Project("default"); !ok || countSealed(p.Snapshot()) == 0 {
		t.Fatal("no sealed chunk of buffered rows: the test would not read any")
	}
	diffCheckData(t, srv, db, data, seed, began)

	// The capability probe: until window_funnel and retention exist, their
	// queries fail alike on both paths (and still run and must agree), but
	// they do not count against the error budget.
	haveFunnels := diffRun(context.Background(), diffConn(t, db, 1), "SELECT window_funnel(1, time, event = 'x') FROM events").err == ""
	t.Logf("window_funnel/retention available: %v", haveFunnels)

	gen := newDiffGen(r, data)
	qs := make([]diffQuery, queries)
	for i := range qs {
		qs[i] = gen.query()
	}
	outs := diffRunAll(t, db, qs, trace)
	diffJudge(t, seed, qs, outs, haveFunnels, began)
}

// diffSettings reads the environment: ARB_SEED, ARB_DIFF_QUERIES and
// ARB_DIFF_TRACE (log each query before it runs: the way to name the
// query when the server dies of it).
func diffSettings(t *testing.T) (seed int64, queries int, trace bool) {
	seed = time.Now().UnixNano()
	if v := os.Getenv("ARB_SEED"); v != "" {
		var err error
		if seed, err = strconv.ParseInt(v, 10, 64); err != nil {
			t.Fatalf("ARB_SEED=%q: %v", v, err)
		}
	}
	queries = diffDefaultQueries
	if v := os.Getenv("ARB_DIFF_QUERIES"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			t.Fatalf("ARB_DIFF_QUERIES=%q: want a positive number", v)
		}
		queries = n
	}
	return seed, queries, os.Getenv("ARB_DIFF_TRACE") != ""
}

// diffCheckData checks the loaded data is where and what it should be:
// in segments (several per day) and in memory, deduplicated, with merged
// identities.
func diffCheckData(t *testing.T, srv *Server, db *sql.DB, data *diffData, seed int64, began time.Time) {
	t.Helper()
	st := srv.Store().Stats()
	t.Logf("data: %d rows sent (%d duplicates of an earlier insert_id), %d segments, %d rows buffered, loaded in %v",
		data.sent, data.dups, st.Segments, st.BufferedRows, time.Since(began).Round(time.Millisecond))
	// Each day merged into one segment, then the later phase flushed
	// beside them (it need not touch every day: some seeds leave one out).
	if st.Segments < diffDays+1 || st.BufferedRows == 0 {
		t.Fatalf("data placement: %d segments, %d buffered rows; want ≥ %d segments and some buffered rows", st.Segments, st.BufferedRows, diffDays+1)
	}
	res := diffRun(context.Background(), diffConn(t, db, 0), "SELECT count(*), sum(distinct_id <> raw_distinct_id) FROM events")
	if res.err != "" || len(res.rows) != 1 {
		t.Fatalf("counting the data: %s", res.summary())
	}
	if want := fmt.Sprint(data.sent - data.dups); res.rows[0][0] != want || res.rows[0][1] == "0" {
		t.Errorf("seed %d: %s rows stored (want %s: %d sent less %d resent), %s with distinct_id ≠ raw_distinct_id (want some)",
			seed, res.rows[0][0], want, data.sent, data.dups, res.rows[0][1])
	}
}

// diffJudge reports the run (counts by shape, errors, native plans, the
// slowest queries) and fails on mismatches and on a vacuous grammar.
func diffJudge(t *testing.T, seed int64, qs []diffQuery, outs []diffOutcome, haveFunnels bool, began time.Time) {
	t.Helper()
	var (
		failures           []string
		ran, nonEmpty      int
		errored, native    int
		budgeted, budgetEr int
		byKind             = map[string]int{}
		took               = map[string]time.Duration{}
	)
	for i, o := range outs {
		if !o.ran {
			continue
		}
		q := qs[i]
		ran++
		byKind[q.kind]++
		took[q.kind] += o.took
		if o.want.err != "" {
			if errored++; errored <= 3 {
				t.Logf("errs alike on both paths: %.200s: %.300s", o.want.err, q.sql)
			}
		}
		if !q.funnel || haveFunnels {
			budgeted++
			if o.want.err != "" {
				budgetEr++
			}
		}
		if len(o.want.rows) > 0 {
			nonEmpty++
		}
		if o.native {
			native++
		}
		if o.mismatch != "" && len(failures) < diffMaxFailures {
			failures = append(failures, fmt.Sprintf("seed %d, query %d (%s): %s\n  %s\nwith pushdown:    %s\nwithout pushdown: %s",
				seed, i, q.kind, o.mismatch, q.sql, o.got.summary(), o.want.summary()))
		}
	}
	kinds := make([]string, 0, len(byKind))
	for k := range byKind {
		kinds = append(kinds, fmt.Sprintf("%s %d in %v", k, byKind[k], took[k].Round(time.Millisecond)))
	}
	sort.Strings(kinds)
	t.Logf("%d queries in %v (%s); %d non-empty, %d errored (%d of %d in the error budget), %d with a native path in EXPLAIN PLAN",
		ran, time.Since(began).Round(time.Millisecond), strings.Join(kinds, ", "), nonEmpty, errored, budgetEr, budgeted, native)
	slow := make([]int, len(outs))
	for i := range slow {
		slow[i] = i
	}
	sort.Slice(slow, func(i, j int) bool { return outs[slow[i]].took > outs[slow[j]].took })
	for _, i := range slow[:min(3, len(slow))] {
		t.Logf("slowest: %v %.300s", outs[i].took.Round(time.Millisecond), qs[i].sql)
	}
	for _, f := range failures {
		t.Error(f)
	}
	if len(failures) > 0 {
		t.Fatalf("seed %d: queries answered differently with pushdown on and off (rerun with ARB_SEED=%d)", seed, seed)
	}
	if float64(nonEmpty) < diffMinNonEmptyFraction*float64(ran) {
		t.Errorf("seed %d: only %d of %d queries returned rows: the grammar is too selective", seed, nonEmpty, ran)
	}
	if float64(budgetEr) > diffMaxErrorFraction*float64(budgeted) {
		t.Errorf("seed %d: %d of %d queries failed (on both paths), more than %.0f%%", seed, budgetEr, budgeted, 100*diffMaxErrorFraction)
	}
}

// diffOutcome is what running one query on both paths gave.
type diffOutcome struct {
	ran       bool
	got, want diffResult // pushdown on, off
	mismatch  string     // "" when they agree
	native    bool       // EXPLAIN PLAN shows a native path
	took      time.Duration
}

// diffRunAll runs every query with pushdown on and off, on diffWorkers
// pairs of connections at once (go-mysql-server's row path is the slow
// side; two of them keep both cores busy). It stops handing out queries
// after diffMaxFailures mismatches.
func diffRunAll(t *testing.T, db *sql.DB, qs []diffQuery, trace bool) []diffOutcome {
	ctx := context.Background()
	outs := make([]diffOutcome, len(qs))
	next := make(chan int)
	var mismatches atomic.Int32
	var wg sync.WaitGroup
	for w := 0; w < diffWorkers; w++ {
		on, off := diffConn(t, db, 1), diffConn(t, db, 0)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				q := qs[i].sql
				if trace {
					t.Logf("query %d: %s", i, q)
				}
				t0 := time.Now()
				o := diffOutcome{ran: true, got: diffRun(ctx, on, q), want: diffRun(ctx, off, q)}
				o.took = time.Since(t0)
				o.native = diffNative(ctx, on, q)
				if o.mismatch = diffCompare(o.got, o.want, qs[i].ordered); o.mismatch != "" {
					mismatches.Add(1)
				}
				outs[i] = o
			}
		}()
	}
	for i := range qs {
		if mismatches.Load() >= diffMaxFailures {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	return outs
}

// diffConn is one connection of db with arb_pushdown set as asked.
func diffConn(t *testing.T, db *sql.DB, pushdown int) *sql.Conn {
	t.Helper()
	ctx := context.Background()
	c, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := c.ExecContext(ctx, fmt.Sprintf("SET arb_pushdown = %d", pushdown)); err != nil {
		t.Fatal(err)
	}
	return c
}

// diffResult is one answer to a query: its columns with their types, its
// rows rendered as text (NULL as diffNull), or the error it failed with.
type diffResult struct {
	cols []string
	rows [][]string
	err  string
}

// diffNull renders SQL NULL; no stored string contains a NUL byte.
const diffNull = "\x00NULL"

func diffRun(ctx context.Context, conn *sql.Conn, q string) diffResult {
	rows, err := conn.QueryContext(ctx, q)
	if err != nil {
		return diffResult{err: err.Error()}
	}
	defer rows.Close()
	types, err := rows.ColumnTypes()
	if err != nil {
		return diffResult{err: err.Error()}
	}
	var res diffResult
	for _, ct := range types {
		res.cols = append(res.cols, ct.Name()+" "+ct.DatabaseTypeName())
	}
	vals := make([]any, len(types))
	ptrs := make([]any, len(types))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return diffResult{err: err.Error()}
		}
		row := make([]string, len(vals))
		for i, v := range vals {
			switch v := v.(type) {
			case nil:
				row[i] = diffNull
			case []byte:
				row[i] = string(v)
			case time.Time:
				row[i] = v.UTC().Format("2006-01-02 15:04:05.000")
			default:
				row[i] = fmt.Sprint(v)
			}
		}
		res.rows = append(res.rows, row)
	}
	if err := rows.Err(); err != nil {
		return diffResult{err: err.Error()}
	}
	return res
}

// diffNative reports whether EXPLAIN shows a native engine path for q.
func diffNative(ctx context.Context, conn *sql.Conn, q string) bool {
	// EXPLAIN PLAN: plain EXPLAIN's MySQL-shaped rows send the text NULL
	// in integer columns, which the driver fails to scan.
	plan := diffRun(ctx, conn, "EXPLAIN PLAN "+q)
	for _, row := range plan.rows {
		for _, cell := range row {
			for _, m := range diffNativeMarkers {
				if strings.Contains(cell, m) {
					return true
				}
			}
		}
	}
	return false
}

// summary renders a result for a failure message, truncated.
func (r diffResult) summary() string {
	if r.err != "" {
		return "error: " + r.err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d rows, columns %q:", len(r.rows), r.cols)
	for i, row := range r.rows {
		if i == 12 {
			fmt.Fprintf(&b, " … (%d more)", len(r.rows)-i)
			break
		}
		b.WriteString(" [" + strings.ReplaceAll(strings.Join(row, " | "), diffNull, "NULL") + "]")
	}
	s := b.String()
	if len(s) > 1500 {
		s = s[:1500] + " …"
	}
	return s
}

// diffCompare returns "" when got and want agree, else what differs.
// ordered: the query fixes a total order, so rows compare in order;
// otherwise they compare as multisets.
func diffCompare(got, want diffResult, ordered bool) string {
	if got.err != "" || want.err != "" {
		if got.err != want.err {
			return "errors differ"
		}
		return ""
	}
	if strings.Join(got.cols, ",") != strings.Join(want.cols, ",") {
		return "columns differ"
	}
	if len(got.rows) != len(want.rows) {
		return fmt.Sprintf("%d rows against %d", len(got.rows), len(want.rows))
	}
	if ordered {
		for i := range got.rows {
			if !diffRowsEqual(got.rows[i], want.rows[i]) {
				return fmt.Sprintf("row %d differs", i)
			}
		}
		return ""
	}
	g, w := diffSorted(got.rows), diffSorted(want.rows)
	same := true
	for i := range g {
		if !diffRowsEqual(g[i], w[i]) {
			same = false
			break
		}
	}
	if same {
		return ""
	}
	// Floats within the tolerance may sort apart: match greedily.
	used := make([]bool, len(w))
next:
	for _, gr := range g {
		for j, wr := range w {
			if !used[j] && diffRowsEqual(gr, wr) {
				used[j] = true
				continue next
			}
		}
		return fmt.Sprintf("row [%s] has no counterpart", strings.Join(gr, " | "))
	}
	return ""
}

func diffSorted(rows [][]string) [][]string {
	out := append([][]string(nil), rows...)
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		for k := range a {
			if a[k] != b[k] {
				return a[k] < b[k]
			}
		}
		return false
	})
	return out
}

func diffRowsEqual(a, b []string) bool {
	for i := range a {
		if !diffCellsEqual(a[i], b[i]) {
			return false
		}
	}
	return true
}

// diffCellsEqual compares two rendered cells: exactly, or as floats
// within diffFloatTolerance when either has a fraction or an exponent
// (a parallel native sum adds in another order).
func diffCellsEqual(a, b string) bool {
	if a == b {
		return true
	}
	if !strings.ContainsAny(a+b, ".eE") {
		return false
	}
	x, errA := strconv.ParseFloat(a, 64)
	y, errB := strconv.ParseFloat(b, 64)
	if errA != nil || errB != nil {
		return false
	}
	return math.Abs(x-y) <= diffFloatTolerance*math.Max(math.Abs(x), math.Abs(y))
}

// The generated data: Mixpanel-shaped events of diffUsers users over
// diffDays days from diffStart.
var diffStart = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

const (
	diffDays       = 10
	diffUsers      = 200
	diffBaseEvents = 1150
)

// The four places a row can be at query time, in load order: the first
// flush, two rounds of late rows for days already flushed (each flushed
// again, so a day has several segments), and the memory buffer.
const (
	diffPhaseFlushed = iota
	diffPhaseLate
	diffPhaseLater
	diffPhaseBuffered
	diffPhases
)

// diffEvent is one event as sent by INSERT.
type diffEvent struct {
	at       time.Time
	name     string
	sentID   string
	insertID string         // "": NULL (never deduplicated)
	props    map[string]any // string, int64, diffFloat, bool or nil (NULL)
}

// diffFloat is a float property, always written with a fraction so that
// a new column is typed DOUBLE.
type diffFloat float64

// diffUser is one simulated person and how the app identifies them.
type diffUser struct {
	anon, id        string
	mode            int // one of diffMode*
	plan, os, brows any
	signup          time.Time
	identifyAt      time.Time // when the app learns the user id; zero: never
	weight          float64
}

// How a user's events carry their ids.
const (
	diffModeAnon       = iota // an anonymous id only
	diffModeIdentify          // anonymous, then $identify, then the user id
	diffModeAlias             // anonymous, then $create_alias, then the user id
	diffModeUser              // the user id from the first event
	diffModeSimplified        // $device_id, then $user_id (Simplified ID Merge)
)

var (
	diffEventNames   = []string{"Page View", "Page View", "Page View", "Page View", "Click", "Click", "Click", "Search", "Search", "Add to Cart", "Purchase", "Share", "Logout"}
	diffBrowsers     = []string{"Chrome", "Chrome", "Chrome", "Firefox", "Safari", "Safari", "Edge", "Opera"}
	diffOSes         = []string{"iOS", "Android", "Windows", "Mac OS X", "Linux"}
	diffPlans        = []any{"free", "free", "free", "free", "free", "pro", "pro", "enterprise", nil}
	diffUTMSources   = []string{"google", "google", "facebook", "twitter", ""}
	diffCoupons      = []any{"SAVE10", "SAVE20", "WELCOME", nil}
	diffVersions     = []string{"1", "2", "2.1", "3.0b", "4"}
	diffUserModeOdds = []int{diffModeAnon, diffModeAnon, diffModeAnon, diffModeIdentify, diffModeIdentify, diffModeIdentify, diffModeIdentify, diffModeAlias, diffModeAlias, diffModeUser, diffModeUser, diffModeSimplified}
)

// diffData is the generated event stream, split by the phase in which
// each event is inserted.
type diffData struct {
	start  time.Time
	days   int
	phases [diffPhases][]diffEvent
	ids    []string // every distinct_id sent, sorted
	sent   int      // rows sent
	dups   int      // rows sent again with the same dedup key
}

func newDiffData(r *rand.Rand, start time.Time, days, users int) *diffData {
	d := &diffData{start: start, days: days}
	end := start.AddDate(0, 0, days)
	var us []*diffUser
	var total float64
	for i := 0; i < users; i++ {
		u := &diffUser{
			anon:  fmt.Sprintf("anon-%04x", (i*7919+13)%65536),
			id:    fmt.Sprintf("user-%03d", i),
			mode:  diffUserModeOdds[r.Intn(len(diffUserModeOdds))],
			plan:  diffPlans[r.Intn(len(diffPlans))],
			os:    diffOSes[r.Intn(len(diffOSes))],
			brows: diffBrowsers[r.Intn(len(diffBrowsers))],
			// Signups over the first days, so later days see returning users.
			signup: start.Add(time.Duration(r.Int63n(int64(time.Duration(days-2) * 24 * time.Hour)))).Truncate(time.Millisecond),
			weight: math.Min(30, 1/math.Pow(1-r.Float64(), 1/1.5)),
		}
		if u.mode == diffModeIdentify || u.mode == diffModeAlias || u.mode == diffModeSimplified {
			if at := u.signup.Add(time.Duration(r.ExpFloat64() * float64(36*time.Hour))).Truncate(time.Millisecond); at.Before(end) {
				u.identifyAt = at
			}
		}
		total += u.weight
		us = append(us, u)
	}
	var base []diffEvent
	for _, u := range us {
		base = append(base, d.event(r, u, u.signup, "Signup"))
		switch u.mode {
		case diffModeIdentify:
			if !u.identifyAt.IsZero() {
				base = append(base, diffEvent{at: u.identifyAt, name: "$identify", sentID: u.id,
					props: map[string]any{"$identified_id": u.id, "$anon_id": u.anon}})
			}
		case diffModeAlias:
			if !u.identifyAt.IsZero() {
				base = append(base, diffEvent{at: u.identifyAt, name: "$create_alias", sentID: u.anon,
					props: map[string]any{"alias": u.id}})
			}
		}
	}
	for len(base) < diffBaseEvents {
		x := r.Float64() * total
		u := us[len(us)-1]
		for _, c := range us {
			if x -= c.weight; x < 0 {
				u = c
				break
			}
		}
		at := u.signup.Add(time.Duration(r.Int63n(int64(end.Sub(u.signup))))).Truncate(time.Millisecond)
		base = append(base, d.event(r, u, at, diffEventNames[r.Intn(len(diffEventNames))]))
	}
	for i := range base {
		if r.Intn(20) > 0 {
			base[i].insertID = fmt.Sprintf("%08x", r.Uint32())
		}
		phase := diffPhaseFlushed
		switch x := r.Intn(10); {
		case x == 6 || x == 7:
			phase = diffPhaseLate
		case x == 8:
			phase = diffPhaseLater
		case x == 9:
			phase = diffPhaseBuffered
		}
		d.addProps(r, &base[i], phase)
		d.phases[phase] = append(d.phases[phase], base[i])
		// Resends: the same dedup key again, now or later (HTTP retries,
		// a repeated INSERT); and a near copy one millisecond apart, which
		// is a different event.
		switch x := r.Intn(100); {
		case x < 4:
			p := phase + r.Intn(diffPhases-phase)
			d.phases[p] = append(d.phases[p], base[i])
			if base[i].insertID != "" {
				d.dups++
			}
		case x == 4:
			e := base[i]
			e.at = e.at.Add(time.Millisecond)
			d.phases[phase] = append(d.phases[phase], e)
		}
	}
	seen := map[string]bool{}
	for p := range d.phases {
		for _, e := range d.phases[p] {
			if !seen[e.sentID] {
				seen[e.sentID] = true
				d.ids = append(d.ids, e.sentID)
			}
		}
		d.sent += len(d.phases[p])
	}
	sort.Strings(d.ids)
	sort.SliceStable(d.phases[diffPhaseFlushed], func(i, j int) bool {
		return d.phases[diffPhaseFlushed][i].at.Before(d.phases[diffPhaseFlushed][j].at)
	})
	for p := diffPhaseLate; p < diffPhases; p++ {
		r.Shuffle(len(d.phases[p]), func(i, j int) { d.phases[p][i], d.phases[p][j] = d.phases[p][j], d.phases[p][i] })
	}
	return d
}

// event is u's event name at time at, with the ids and super-properties
// its app would send.
func (d *diffData) event(r *rand.Rand, u *diffUser, at time.Time, name string) diffEvent {
	e := diffEvent{at: at, name: name, sentID: u.anon, props: map[string]any{"$os": u.os, "plan": u.plan}}
	known := !u.identifyAt.IsZero() && !at.Before(u.identifyAt)
	switch u.mode {
	case diffModeIdentify, diffModeAlias:
		if known {
			e.sentID = u.id
		}
	case diffModeUser:
		e.sentID = u.id
	case diffModeSimplified:
		e.sentID = "$device:" + u.anon
		e.props["$device_id"] = u.anon
		if known {
			e.sentID = u.id
			e.props["$user_id"] = u.id
		}
	}
	switch x := r.Intn(20); {
	case x == 0:
		// no $browser: NULL
	case x == 1:
		e.props["$browser"] = diffBrowsers[r.Intn(len(diffBrowsers))]
	default:
		e.props["$browser"] = u.brows
	}
	return e
}

// addProps adds the event-specific properties; what a property looks like
// depends on the phase: coupon appears only after the first flush, score
// widens from int to float, ver from int to string.
func (d *diffData) addProps(r *rand.Rand, e *diffEvent, phase int) {
	if strings.HasPrefix(e.name, "$") {
		return
	}
	switch e.name {
	case "Signup":
		e.props["utm_source"] = diffUTMSources[r.Intn(len(diffUTMSources))]
		e.props["is_trial"] = r.Intn(3) == 0
	case "Page View":
		if r.Intn(3) == 0 {
			e.props["utm_source"] = diffUTMSources[r.Intn(len(diffUTMSources))]
		}
		if r.Intn(5) < 2 {
			e.props["is_trial"] = r.Intn(2) == 0
		}
	case "Purchase", "Add to Cart":
		if e.name == "Purchase" && r.Intn(12) > 0 || r.Intn(10) == 0 {
			cents := 100 + r.Intn(19900)
			if cents%10 == 0 {
				cents++
			}
			e.props["amount"] = diffFloat(float64(cents) / 100)
		}
		e.props["items"] = int64(1 + r.Intn(5))
		if phase >= diffPhaseLate && r.Intn(2) == 0 {
			e.props["coupon"] = diffCoupons[r.Intn(len(diffCoupons))]
		}
	}
	switch e.name {
	case "Page View", "Click", "Search":
		if r.Intn(2) == 0 {
			if phase <= diffPhaseLate || phase == diffPhaseLater && r.Intn(5) == 0 {
				e.props["score"] = int64(r.Intn(101))
			} else {
				e.props["score"] = diffFloat(float64(r.Intn(1000)) + 0.5)
			}
		}
	}
	if r.Intn(5) < 3 {
		switch {
		case phase == diffPhaseFlushed, phase == diffPhaseLater && r.Intn(3) == 0:
			e.props["ver"] = int64(1 + r.Intn(4))
		default:
			e.props["ver"] = diffVersions[r.Intn(len(diffVersions))]
		}
	}
}

// load inserts the phases in order, flushing after each but the last;
// one batch goes through a connection with arb_pushdown off, so through
// go-mysql-server's INSERT path.
func (d *diffData) load(t *testing.T, srv *Server, db *sql.DB, off *sql.Conn) {
	t.Helper()
	r := rand.New(rand.NewSource(int64(d.sent)))
	for p := range d.phases {
		evs := d.phases[p]
		for first := true; len(evs) > 0; first = false {
			n := min(len(evs), 150+r.Intn(250))
			q := diffInsert(evs[:n])
			evs = evs[n:]
			if first && p == diffPhaseLate {
				if _, err := off.ExecContext(context.Background(), q); err != nil {
					t.Fatalf("%.300s: %v", q, err)
				}
				continue
			}
			mustExec(t, db, q)
		}
		if p != diffPhaseBuffered {
			if err := srv.Store().Flush(); err != nil {
				t.Fatal(err)
			}
		}
		if p == diffPhaseLate {
			// Every day merged once (sorted by user, then time), then the
			// later phase adds flushed segments in time order beside it:
			// queries run over both layouts at once.
			if err := srv.Store().Compact(); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// diffInsert is one multi-row INSERT of evs, naming every property any of
// them has (NULL where one lacks it).
func diffInsert(evs []diffEvent) string {
	keys := map[string]bool{}
	for _, e := range evs {
		for k := range e.props {
			keys[k] = true
		}
	}
	cols := make([]string, 0, len(keys))
	for k := range keys {
		cols = append(cols, k)
	}
	sort.Strings(cols)
	var b strings.Builder
	b.WriteString("INSERT INTO events (time, event, distinct_id, insert_id")
	for _, c := range cols {
		b.WriteString(", `" + c + "`")
	}
	b.WriteString(") VALUES ")
	for i, e := range evs {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "('%s', %s, %s, ", e.at.Format("2006-01-02 15:04:05.000"), diffLiteral(e.name), diffLiteral(e.sentID))
		if e.insertID == "" {
			b.WriteString("NULL")
		} else {
			b.WriteString(diffLiteral(e.insertID))
		}
		for _, c := range cols {
			b.WriteString(", " + diffLiteral(e.props[c]))
		}
		b.WriteString(")")
	}
	return b.String()
}

// diffLiteral writes a value as a SQL literal.
func diffLiteral(v any) string {
	switch v := v.(type) {
	case nil:
		return "NULL"
	case string:
		return "'" + strings.ReplaceAll(v, "'", "''") + "'"
	case int64:
		return strconv.FormatInt(v, 10)
	case diffFloat:
		s := strconv.FormatFloat(float64(v), 'f', -1, 64)
		if !strings.Contains(s, ".") {
			s += ".0"
		}
		return s
	case bool:
		if v {
			return "true"
		}
		return "false"
	}
	panic(fmt.Sprintf("diffLiteral: %T", v))
}

// TestDiffCompare pins the comparison rules the differential test relies
// on: multisets unless ordered, a float tolerance only for numbers with a
// fraction or exponent, NULL distinct from the text NULL, errors alike.
func TestDiffCompare(t *testing.T) {
	rows := func(rs ...[]string) diffResult { return diffResult{cols: []string{"a BIGINT", "b DOUBLE"}, rows: rs} }
	for _, c := range []struct {
		name      string
		got, want diffResult
		ordered   bool
		same      bool
	}{
		{"equal", rows([]string{"1", "2.5"}), rows([]string{"1", "2.5"}), true, true},
		{"multiset order ignored", rows([]string{"1", "x"}, []string{"2", "y"}), rows([]string{"2", "y"}, []string{"1", "x"}), false, true},
		{"total order kept", rows([]string{"1", "x"}, []string{"2", "y"}), rows([]string{"2", "y"}, []string{"1", "x"}), true, false},
		{"multiplicity", rows([]string{"1", "x"}, []string{"1", "x"}), rows([]string{"1", "x"}, []string{"2", "x"}), false, false},
		{"float within tolerance", rows([]string{"1", "0.30000000000000004"}), rows([]string{"1", "0.3"}), true, true},
		{"floats sorted apart", rows([]string{"1", "2.0000000000000004"}, []string{"1", "2"}), rows([]string{"1", "2"}, []string{"1", "1.9999999999999998"}), false, true},
		{"float beyond tolerance", rows([]string{"1", "0.3001"}), rows([]string{"1", "0.3"}), true, false},
		{"integers exact", rows([]string{"1000000000001", "x"}), rows([]string{"1000000000000", "x"}), true, false},
		{"NULL is not 'NULL'", rows([]string{diffNull, "x"}), rows([]string{"NULL", "x"}), true, false},
		{"row count", rows([]string{"1", "x"}), rows(), false, false},
		{"column types", diffResult{cols: []string{"a DOUBLE"}}, diffResult{cols: []string{"a DECIMAL"}}, false, false},
		{"same error", diffResult{err: "e"}, diffResult{err: "e"}, false, true},
		{"one error", diffResult{err: "e"}, rows(), false, false},
		{"other error", diffResult{err: "e"}, diffResult{err: "f"}, false, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			if msg := diffCompare(c.got, c.want, c.ordered); (msg == "") != c.same {
				t.Errorf("diffCompare = %q, want same = %v", msg, c.same)
			}
		})
	}
}

// countSealed is the number of sealed chunks of buffered rows (in-memory
// segments, without a file) a snapshot reads.
func countSealed(snap *storage.Snapshot) int {
	n := 0
	for _, ref := range snap.Segments {
		if ref.File == "" {
			n++
		}
	}
	return n
}

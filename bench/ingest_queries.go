package main

// ingest_queries.go is the -during-ingest mode (issue 13: "queries right
// after heavy ingest are 30× slower … the bench should measure queries
// during ingest, not only on a quiet, restarted server"). It owns the
// query loop that runs while arb ingests, its checks, and its table
// (-ingest-out, default results-ingest.md).
//
// The run, on one fresh `arb serve` with default flags (background
// compaction on, as a user runs it):
//
//  1. (-ingest-baseline) the dataset is first imported into another fresh
//     arb with nothing else running, for the plain ingest rate;
//  2. "during ingest": the HTTP /import loader of arb.go (2,000 events a
//     request, 4 in parallel) sends the whole dataset in a goroutine while
//     the fixed queries of ingestQueries run one after another, in a loop,
//     on one MySQL connection; each run records its latency and how many
//     events /import had acknowledged when it started;
//  3. "after": as soon as the last event is acknowledged (no restart) the
//     same loop runs for -ingest-after (at least one full round);
//  4. "at rest": SIGTERM (arb flushes), start again on the same data, and
//     the loop runs for -ingest-after again.
//
// Per phase arb's peak RSS (VmHWM) is kept: reset (/proc/PID/clear_refs)
// when the phase starts, read when it ends; the restarted process is not
// reset, so its figure includes its start-up.
//
// Checks (a failure is FAIL in the table and a non-zero exit):
//   - every run succeeds;
//   - the count queries' answers never decrease from one run to the next
//     (acknowledged events stay; per event for the GROUP BY), never exceed
//     the dataset's counts, and — for the queries counting every event —
//     are at least the events acknowledged before the run started (arb's
//     buffer is visible to queries at once, DESIGN.md);
//   - after the load and at rest they equal the dataset's counts exactly
//     (COUNT(*) the loaded row count);
//   - every query's answer after the load and at rest equals its first
//     answer after the load (compare.go), so neither background
//     compaction nor the restart changes an answer.

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// ingestPhase is when a query ran relative to the load.
type ingestPhase int

const (
	phaseDuring ingestPhase = iota
	phaseAfter
	phaseRest
	numPhases
)

// String is the phase's short name, for messages.
func (p ingestPhase) String() string {
	return [...]string{"during", "after", "at rest"}[p]
}

// label is the phase's name in the table.
func (p ingestPhase) label(after time.Duration) string {
	switch p {
	case phaseDuring:
		return "during ingest"
	case phaseAfter:
		return fmt.Sprintf("first %s after", after)
	default:
		return "at rest, restarted"
	}
}

// countKind says how a query's answer is a count to check.
type countKind int

const (
	notCount    countKind = iota
	countScalar           // one row of one number
	countByKey            // rows of (key, count)
)

// ingestQuery is one query of the loop.
type ingestQuery struct {
	name, sql string
	kind      countKind
	// coversAll: the counts add up to every event loaded (COUNT(*), the
	// GROUP BY event), so they are bounded below by the acknowledged ones.
	coversAll bool
	ordered   bool // compare answers in order
}

// ingestQueries are the fixed queries plus the analyst query cfg names
// from the corpus (its MySQL text).
func ingestQueries(cfg *config) ([]ingestQuery, error) {
	qs := []ingestQuery{
		{name: "count(*)", sql: "SELECT COUNT(*) FROM events", kind: countScalar, coversAll: true},
		{name: "count of Purchase", sql: "SELECT COUNT(*) FROM events WHERE event = 'Purchase'", kind: countScalar},
		{name: "count by event", sql: "SELECT event, COUNT(*) FROM events GROUP BY event", kind: countByKey, coversAll: true},
		{name: "daily uniques", sql: "SELECT DATE(time) d, COUNT(DISTINCT distinct_id) FROM events GROUP BY d"},
	}
	if cfg.ingestCorpusQuery != "" {
		corpus, err := loadCorpus(cfg.corpusDir)
		if err != nil {
			return nil, err
		}
		i := slices.IndexFunc(corpus, func(q corpusQuery) bool { return q.name == cfg.ingestCorpusQuery })
		if i < 0 {
			return nil, fmt.Errorf("-ingest-corpus-query %q: no such file in %s", cfg.ingestCorpusQuery, cfg.corpusDir)
		}
		qs = append(qs, ingestQuery{name: corpus[i].name, sql: corpus[i].mysql, ordered: corpus[i].ordered})
	}
	return qs, nil
}

// expectedCounts is what a count query answers once the whole dataset
// is loaded: total events and events by name.
func (q ingestQuery) expectedCounts(total int64, byEvent map[string]int64) map[string]int64 {
	switch {
	case q.kind == countByKey:
		return byEvent
	case q.coversAll:
		return map[string]int64{"": total}
	default: // the Purchase count
		return map[string]int64{"": byEvent["Purchase"]}
	}
}

// countsOf reads a count query's answer: key "" for a scalar.
func countsOf(kind countKind, rows [][]any) (map[string]int64, error) {
	out := map[string]int64{}
	for _, r := range rows {
		key, v := "", any(nil)
		switch {
		case kind == countScalar && len(r) == 1 && len(rows) == 1:
			v = r[0]
		case kind == countByKey && len(r) == 2:
			key, v = cellString(r[0]), r[1]
		default:
			return nil, fmt.Errorf("unexpected answer shape: %d rows of %d columns", len(rows), len(r))
		}
		n, ok := toNumber(v)
		if !ok || n != math.Trunc(n) || n < 0 {
			return nil, fmt.Errorf("count %v of %q is not a count", v, key)
		}
		if _, dup := out[key]; dup {
			return nil, fmt.Errorf("key %q twice", key)
		}
		out[key] = int64(n)
	}
	if kind == countScalar && len(rows) != 1 {
		return nil, fmt.Errorf("unexpected answer shape: %d rows", len(rows))
	}
	return out, nil
}

// countObs is one answer of a count query.
type countObs struct {
	phase  ingestPhase
	loaded int64 // events acknowledged when the run started
	counts map[string]int64
}

// maxProblems caps the messages one query collects.
const maxProblems = 5

// checkCounts checks a count query's answers in the order they came
// (see the file comment) against final, the dataset's counts. It
// returns a message per violation, at most maxProblems.
func checkCounts(obs []countObs, final map[string]int64, coversAll bool) []string {
	var problems []string
	add := func(format string, args ...any) {
		if len(problems) < maxProblems {
			problems = append(problems, fmt.Sprintf(format, args...))
		}
	}
	for i, o := range obs {
		var sum int64
		for k, n := range o.counts {
			sum += n
			if want, ok := final[k]; !ok {
				add("run %d (%s): key %q is not in the dataset", i+1, o.phase, k)
			} else if n > want {
				add("run %d (%s): %q counts %d, more than the dataset's %d", i+1, o.phase, k, n, want)
			}
			if i > 0 && n < obs[i-1].counts[k] {
				add("run %d (%s): %q went down from %d to %d", i+1, o.phase, k, obs[i-1].counts[k], n)
			}
		}
		if i > 0 {
			for k, prev := range obs[i-1].counts {
				if _, ok := o.counts[k]; !ok && prev > 0 {
					add("run %d (%s): %q went down from %d to none", i+1, o.phase, k, prev)
				}
			}
		}
		if coversAll && sum < o.loaded {
			add("run %d (%s): counts %d events, fewer than the %d acknowledged before it started", i+1, o.phase, sum, o.loaded)
		}
		if o.phase != phaseDuring && !maps.Equal(o.counts, final) {
			add("run %d (%s): %s, want the dataset's %s", i+1, o.phase, fmtCounts(o.counts), fmtCounts(final))
		}
	}
	return problems
}

// fmtCounts shows counts in key order (a scalar as its number).
func fmtCounts(m map[string]int64) string {
	if len(m) == 1 {
		if n, ok := m[""]; ok {
			return strconv.FormatInt(n, 10)
		}
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s=%d", k, m[k]))
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// ingestSample is one timed run.
type ingestSample struct {
	phase   ingestPhase
	at      time.Duration // since the load started
	latency time.Duration
	loaded  int64 // events acknowledged when it started
	err     error
}

// queryTrack is everything one query's runs left.
type queryTrack struct {
	q       ingestQuery
	samples []ingestSample
	counts  []countObs // count queries: every answer, in order
	// ref is the first answer after the load; every later one must equal it.
	ref      [][]cell
	problems []string
}

func (t *queryTrack) problem(format string, args ...any) {
	if len(t.problems) < maxProblems {
		t.problems = append(t.problems, fmt.Sprintf(format, args...))
	}
}

// percentile is the nearest-rank p-th percentile (0 < p <= 100) of
// ascending durations: the smallest value with at least p% of the values
// at or below it. It is 0 for none.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p/100*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// latencies are the successful runs' latencies of a phase, ascending;
// loadedLo <= loaded < loadedHi selects by progress (hi < 0: no bound).
func (t *queryTrack) latencies(p ingestPhase, loadedLo, loadedHi int64) []time.Duration {
	var out []time.Duration
	for _, s := range t.samples {
		if s.phase == p && s.err == nil && s.loaded >= loadedLo && (loadedHi < 0 || s.loaded < loadedHi) {
			out = append(out, s.latency)
		}
	}
	slices.Sort(out)
	return out
}

// phaseStats is what the table says about one phase besides latencies.
type phaseStats struct {
	elapsed time.Duration
	hwmKB   int64 // 0: unknown
}

// ingestReport is the whole outcome, rendered by renderIngest.
type ingestReport struct {
	header   string // the run's description (machine, binary)
	events   int
	seed     uint64
	after    time.Duration
	load     loadResult // the queried load
	baseline *loadResult
	// baselineHWMKB is the plain load's peak RSS (0: unknown).
	baselineHWMKB int64
	restart       time.Duration // SIGTERM to ready again
	phases        [numPhases]phaseStats
	tracks        []*queryTrack
}

func (r *ingestReport) failed() bool {
	for _, t := range r.tracks {
		if len(t.problems) > 0 {
			return true
		}
	}
	return false
}

// renderIngest renders the markdown table (see the file comment).
func renderIngest(r *ingestReport) string {
	var b strings.Builder
	fmt.Fprintf(&b, "## Query latency during and right after ingest (issue 13): %d events, %d users, seed %d\n\n",
		r.events, r.events/usersPerEvent, r.seed)
	if r.header != "" {
		b.WriteString(r.header + "\n\n")
	}
	b.WriteString("Latency of each run in ms (nearest-rank percentiles over the phase's successful runs); " +
		"the queries run one after another in a loop on one MySQL connection. Check: answers of the count queries " +
		"never decrease, never exceed the dataset's counts, cover the acknowledged events, and equal the dataset's " +
		"counts after the load; every answer after the load and at rest equals the first one after the load.\n\n")
	b.WriteString("| query | phase | runs | p50 ms | p95 ms | max ms | check |\n|---|---|---:|---:|---:|---:|---|\n")
	var notes []string
	for _, t := range r.tracks {
		check := "ok"
		if len(t.problems) > 0 {
			check = "**FAIL**"
			for _, p := range t.problems {
				notes = append(notes, t.q.name+": "+p)
				check += fmt.Sprintf(" [%d]", len(notes))
			}
		}
		for p := range numPhases {
			lat := t.latencies(p, 0, -1)
			errs := 0
			for _, s := range t.samples {
				if s.phase == p && s.err != nil {
					errs++
				}
			}
			runs := strconv.Itoa(len(lat))
			if errs > 0 {
				runs += fmt.Sprintf(" (+%d errors)", errs)
			}
			p50, p95, mx := "—", "—", "—"
			if len(lat) > 0 {
				p50, p95, mx = fmtMillis(percentile(lat, 50)), fmtMillis(percentile(lat, 95)), fmtMillis(lat[len(lat)-1])
			}
			c := ""
			if p == phaseDuring {
				c = check
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s |\n", t.q.name, p.label(r.after), runs, p50, p95, mx, c)
		}
	}

	// Latency against progress: does a query slow down as the buffered,
	// not yet flushed part grows?
	total := int64(r.load.rows)
	if total > 0 {
		b.WriteString("\nDuring ingest by events loaded when the run started: p50 ms (runs).\n\n")
		b.WriteString("| query | 0–25 % | 25–50 % | 50–75 % | 75–100 % |\n|---|---:|---:|---:|---:|\n")
		for _, t := range r.tracks {
			fmt.Fprintf(&b, "| %s |", t.q.name)
			for k := range int64(4) {
				lo, hi := total*k/4, total*(k+1)/4
				if k == 3 {
					hi = -1
				}
				lat := t.latencies(phaseDuring, lo, hi)
				if len(lat) == 0 {
					b.WriteString(" — |")
				} else {
					fmt.Fprintf(&b, " %s (%d) |", fmtMillis(percentile(lat, 50)), len(lat))
				}
			}
			b.WriteString("\n")
		}
	}

	b.WriteString("\n| phase | s | arb VmHWM MB |\n|---|---:|---:|\n")
	for p := range numPhases {
		hwm := "—"
		if kb := r.phases[p].hwmKB; kb > 0 {
			hwm = strconv.FormatInt(kb/1024, 10)
		}
		fmt.Fprintf(&b, "| %s | %.1f | %s |\n", p.label(r.after), r.phases[p].elapsed.Seconds(), hwm)
	}
	if r.restart > 0 {
		fmt.Fprintf(&b, "\nRestart between the second and third phase (SIGTERM, flush, start, ready): %.1f s.\n", r.restart.Seconds())
	}

	b.WriteString("\n| load | rows | s | events/s | arb VmHWM MB |\n|---|---:|---:|---:|---:|\n")
	rate := func(l loadResult) float64 { return float64(l.rows) / l.elapsed.Seconds() }
	writeRow := func(name string, l loadResult, hwmKB int64) {
		hwm := "—"
		if hwmKB > 0 {
			hwm = strconv.FormatInt(hwmKB/1024, 10)
		}
		fmt.Fprintf(&b, "| %s | %d | %.1f | %.0f | %s |\n", name, l.rows, l.elapsed.Seconds(), rate(l), hwm)
	}
	if r.load.elapsed > 0 {
		writeRow("queried ("+r.load.path+")", r.load, r.phases[phaseDuring].hwmKB)
	}
	if r.baseline != nil && r.baseline.elapsed > 0 {
		writeRow("plain, no queries", *r.baseline, r.baselineHWMKB)
		if r.load.elapsed > 0 {
			fmt.Fprintf(&b, "\nIngest rate while queried: %.0f%% of the plain load's.\n", 100*rate(r.load)/rate(*r.baseline))
		}
	} else {
		b.WriteString("| plain, no queries | — | — | not measured | — |\n")
	}

	if r.failed() {
		b.WriteString("\n**FAIL**: a check failed.\n\n")
		for i, n := range notes {
			fmt.Fprintf(&b, "[%d] %s\n\n", i+1, oneLine(n))
		}
	} else {
		b.WriteString("\nAll checks pass.\n")
	}
	return b.String()
}

// writeIngestSamples writes every run as CSV: query, phase, seconds since
// the load started, ms, events loaded when it started, error.
func writeIngestSamples(path string, r *ingestReport) error {
	var b strings.Builder
	b.WriteString("query,phase,at_s,ms,events_loaded,error\n")
	for _, t := range r.tracks {
		for _, s := range t.samples {
			e := ""
			if s.err != nil {
				e = strconv.Quote(oneLine(s.err.Error()))
			}
			fmt.Fprintf(&b, "%q,%q,%.3f,%.3f,%d,%s\n", t.q.name, s.phase.label(r.after), s.at.Seconds(),
				float64(s.latency)/float64(time.Millisecond), s.loaded, e)
		}
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

// datasetCounts counts the dataset's events, in total and by name.
func datasetCounts(path string) (int64, map[string]int64, error) {
	byEvent := map[string]int64{}
	n, err := readDataset(path, 0, func(r *tsvRow) error {
		byEvent[r.event]++ // the map copies the key only when it is new
		return nil
	})
	return int64(n), byEvent, err
}

// ingestRun is the state of the query loop.
type ingestRun struct {
	cfg       *config
	a         *arbServer
	tracks    []*queryTrack
	loadStart time.Time
	loaded    func() int64 // events acknowledged so far
}

// loop runs the queries round after round while more(round) holds
// (asked before each run, so that the during phase ends with the load).
func (r *ingestRun) loop(ctx context.Context, phase ingestPhase, more func(round int) bool) error {
	for round := 0; ; round++ {
		for _, t := range r.tracks {
			if !more(round) {
				return nil
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			r.runOnce(ctx, phase, t)
			if err := r.a.proc.died(); err != nil {
				return err
			}
		}
	}
}

func (r *ingestRun) runOnce(ctx context.Context, phase ingestPhase, t *queryTrack) {
	loaded := r.loaded()
	qctx, cancel := context.WithTimeout(ctx, r.cfg.timeout)
	start := time.Now()
	rows, err := r.a.query(qctx, t.q.sql)
	lat := time.Since(start)
	cancel()
	if err != nil && errors.Is(qctx.Err(), context.DeadlineExceeded) {
		err = fmt.Errorf("timeout after %s", r.cfg.timeout)
	}
	s := ingestSample{phase: phase, at: start.Sub(r.loadStart), latency: lat, loaded: loaded, err: err}
	t.samples = append(t.samples, s)
	n := len(t.samples)
	if err != nil {
		t.problem("run %d (%s, %d events loaded): %v", n, phase, loaded, err)
		return
	}
	if t.q.kind != notCount {
		counts, err := countsOf(t.q.kind, rows)
		if err != nil {
			t.problem("run %d (%s): %v", n, phase, err)
			return
		}
		t.counts = append(t.counts, countObs{phase: phase, loaded: loaded, counts: counts})
	}
	if phase != phaseDuring {
		got := normaliseRows(rows)
		if t.ref == nil {
			t.ref = got
		} else if d := diffResults(t.ref, got, t.q.ordered); d != "" {
			t.problem("run %d (%s): answer differs from the first after the load: %s", n, phase, d)
		}
	}
}

// plainImport loads the dataset through loader into a fresh arb in dir
// with nothing else running and removes it again; it returns the load
// and arb's peak RSS.
func plainImport(ctx context.Context, bin, dir, dataset string, loader httpImportLoader) (loadResult, int64, error) {
	res := loadResult{engine: "arb", path: loader.name()}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return res, 0, err
	}
	defer os.RemoveAll(dir)
	a, err := newArbServer(bin, dir)
	if err != nil {
		return res, 0, err
	}
	defer a.stop()
	if err := a.start(); err != nil {
		return res, 0, err
	}
	if err := loader.prepare(dataset); err != nil {
		return res, 0, err
	}
	start := time.Now()
	n, err := loader.load(ctx, a, dataset, 0)
	res.rows, res.elapsed = n, time.Since(start)
	if err != nil {
		return res, 0, fmt.Errorf("plain load after %d rows: %w", n, err)
	}
	hwm, _ := vmHWM(a.proc.cmd.Process.Pid)
	return res, hwm, a.stop()
}

// runIngestQueries is the -during-ingest mode (file comment).
func runIngestQueries(ctx context.Context, cfg *config, dataset, work string) error {
	bin, err := filepath.Abs(cfg.arbBin)
	if err != nil {
		return err
	}
	if _, err := os.Stat(bin); err != nil {
		return fmt.Errorf("arb binary: %w (run `make build`)", err)
	}
	qs, err := ingestQueries(cfg)
	if err != nil {
		return err
	}
	total, byEvent, err := datasetCounts(dataset)
	if err != nil {
		return err
	}
	host, _ := os.Hostname()
	rep := &ingestReport{events: cfg.events, seed: cfg.seed, after: cfg.ingestAfter,
		header: fmt.Sprintf("Run %s on %s (%d CPUs); arb %s (%s), `arb serve` with default flags (background compaction on). Per-query timeout %s.",
			time.Now().UTC().Format("2006-01-02 15:04 UTC"), host, runtime.NumCPU(), cfg.arbBin, arbRevision(), cfg.timeout)}
	loader := arbLoaders["import"].(httpImportLoader)

	if cfg.ingestBaseline {
		logf("ingest: plain load through %s", loader.name())
		res, hwm, err := plainImport(ctx, bin, filepath.Join(work, "arb-ingest-plain"), dataset, loader)
		if err != nil {
			return err
		}
		logf("ingest: plain load: %d rows in %.1f s, VmHWM %d MB", res.rows, res.elapsed.Seconds(), hwm/1024)
		rep.baseline, rep.baselineHWMKB = &res, hwm
	}

	dir := filepath.Join(work, "arb-ingest")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	a, err := newArbServer(bin, dir)
	if err != nil {
		return err
	}
	defer a.stop()
	if err := a.start(); err != nil {
		return err
	}
	var acked atomic.Int64
	loader.acked = &acked
	r := &ingestRun{cfg: cfg, a: a, loaded: acked.Load}
	for _, q := range qs {
		r.tracks = append(r.tracks, &queryTrack{q: q})
	}
	rep.tracks = r.tracks

	// Phase 1: queries while the load runs.
	pid := a.proc.cmd.Process.Pid
	resetHWM(pid)
	loadCtx, cancelLoad := context.WithCancel(ctx)
	defer cancelLoad()
	done := make(chan struct{})
	var loadN int
	var loadErr error
	if err := loader.prepare(dataset); err != nil {
		return err
	}
	logf("ingest: loading through %s while querying", loader.name())
	r.loadStart = time.Now()
	go func() {
		defer close(done)
		loadN, loadErr = loader.load(loadCtx, a, dataset, 0)
	}()
	loading := func(int) bool {
		select {
		case <-done:
			return false
		default:
			return true
		}
	}
	// The events table and its columns exist once the first batch is in.
	for acked.Load() == 0 && loading(0) {
		time.Sleep(time.Millisecond)
	}
	if err := r.loop(ctx, phaseDuring, loading); err != nil {
		cancelLoad()
		<-done
		return fmt.Errorf("during ingest: %w", err)
	}
	<-done
	loadEnd := time.Now()
	rep.load = loadResult{engine: "arb", path: loader.name(), rows: loadN, elapsed: loadEnd.Sub(r.loadStart)}
	rep.phases[phaseDuring] = phaseStats{elapsed: rep.load.elapsed}
	rep.phases[phaseDuring].hwmKB, _ = vmHWM(pid)
	if loadErr != nil {
		return fmt.Errorf("load while querying, after %d rows: %w", loadN, loadErr)
	}
	if int64(loadN) != total {
		return fmt.Errorf("load sent %d rows, the dataset has %d", loadN, total)
	}
	logf("ingest: loaded %d rows in %.1f s while querying", rep.load.rows, rep.load.elapsed.Seconds())

	// Phase 2: right after the load, same process.
	resetHWM(pid)
	start := time.Now()
	deadline := start.Add(cfg.ingestAfter)
	timed := func(round int) bool { return round == 0 || time.Now().Before(deadline) }
	if err := r.loop(ctx, phaseAfter, timed); err != nil {
		return fmt.Errorf("after ingest: %w", err)
	}
	rep.phases[phaseAfter] = phaseStats{elapsed: time.Since(start)}
	rep.phases[phaseAfter].hwmKB, _ = vmHWM(pid)

	// Phase 3: SIGTERM (flush), start again, same loop.
	start = time.Now()
	if err := a.stop(); err != nil {
		return fmt.Errorf("stop after ingest: %w", err)
	}
	if err := a.start(); err != nil {
		return fmt.Errorf("restart after ingest: %w", err)
	}
	rep.restart = time.Since(start)
	logf("ingest: restarted in %.1f s", rep.restart.Seconds())
	pid = a.proc.cmd.Process.Pid
	start = time.Now()
	deadline = start.Add(cfg.ingestAfter)
	if err := r.loop(ctx, phaseRest, timed); err != nil {
		return fmt.Errorf("at rest: %w", err)
	}
	rep.phases[phaseRest] = phaseStats{elapsed: time.Since(start)}
	rep.phases[phaseRest].hwmKB, _ = vmHWM(pid)

	for _, t := range r.tracks {
		if t.q.kind != notCount {
			for _, p := range checkCounts(t.counts, t.q.expectedCounts(total, byEvent), t.q.coversAll) {
				t.problem("%s", p)
			}
		}
	}
	text := renderIngest(rep)
	fmt.Println(text)
	if cfg.ingestOut != "" {
		if err := os.WriteFile(cfg.ingestOut, []byte(text), 0o644); err != nil {
			return err
		}
		samples := strings.TrimSuffix(cfg.ingestOut, ".md") + "-samples.csv"
		if err := writeIngestSamples(samples, rep); err != nil {
			return err
		}
		logf("wrote %s and %s", cfg.ingestOut, samples)
	}
	if rep.failed() {
		return errors.New("during-ingest: a check failed (FAIL in the table)")
	}
	return nil
}

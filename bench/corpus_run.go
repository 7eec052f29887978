package main

// corpus_run.go is the -corpus mode: with arb and DuckDB loaded as for
// the Q1–Q8 table, it runs every query of bench/queries/ (corpus.go) on
// both and writes one table (-corpus-out, default results-corpus.md):
// per query arb's and DuckDB's time, their ratio, whether the answers
// agree, whether arb's plan has go-mysql-server operators below its top
// projection, and arb's peak resident memory while the query ran.
//
// Timing: one warm-up run (its answer is the one compared), then the best
// of -corpus-runs runs. A query whose warm-up took longer than
// -corpus-slow is timed by its warm-up alone (n=1): repeating a query that
// takes tens of seconds would only keep the shared machine busy. Every
// run has the -corpus-timeout deadline; arb's query is then killed
// server-side (arb.go), DuckDB's interrupted through its context.
//
// Comparison (compare.go): cells normalised to numbers or text, numbers
// equal within a relative 1e-6, rows as a multiset unless the query's
// outermost SELECT has an ORDER BY (and its file does not say
// `-- compare: unordered`).
//
// A query that still runs a minute after its KILL QUERY (arb.go waits
// that long) would share the two cores with every query after it, so arb
// is then restarted (SIGTERM, SIGKILL after -corpus-restart-grace) on its
// flushed data before the next query; the row says so.
//
// Memory: before a query arb's peak RSS (VmHWM) is reset by writing 5 to
// /proc/PID/clear_refs, and read after its runs, so each row's figure is
// arb's peak during that query — an upper bound, since it starts from the
// resident size the queries before left (the Go heap keeps pages).
//
// Plan: `EXPLAIN FORMAT=TREE` of the MySQL text. Lines starting "arb " are
// arb's native operators (planner.NativeMarker "arb engine …"); any other
// plan node (CamelCase name: GroupBy, Filter, Table, InnerJoin, Window,
// SubqueryAlias, …) is go-mysql-server's. The column lists the
// go-mysql-server nodes below the top projection (classifyPlan: the first
// Project on the root's single-child chain; without one, the whole plan);
// "native" means none.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// corpusRow is one query's outcome.
type corpusRow struct {
	q         corpusQuery
	arb, duck cellResult // median holds the best run
	// arbWarm, duckWarm: timed by the warm-up alone (it took over -corpus-slow)
	arbWarm, duckWarm bool
	status            string // agree, DISAGREE, error, timeout, no reference
	diff              string
	plan              planClass
	hwmKB             int64 // arb's VmHWM during the query, 0 if unknown
	// restarted: arb went on running the query after KILL QUERY and was
	// restarted before the next query.
	restarted bool
}

// runningQueries counts arb's connections running a statement other
// than the SHOW PROCESSLIST asking.
func (a *arbServer) runningQueries(ctx context.Context) (int, error) {
	rows, err := scanAll(a.db.QueryContext(ctx, "SHOW PROCESSLIST"))
	if err != nil {
		return 0, err
	}
	n := 0
	for _, r := range rows {
		if len(r) > 7 && cellString(r[4]) == "Query" && !strings.HasPrefix(strings.ToUpper(cellString(r[7])), "SHOW PROCESSLIST") {
			n++
		}
	}
	return n, nil
}

// restart stops arb by PID (SIGKILL after grace) and starts it again on
// the same data directory, ports and flags.
func (a *arbServer) restart(grace time.Duration) error {
	if a.qconn != nil {
		a.qconn.Close()
		a.qconn = nil
	}
	if a.db != nil {
		a.db.Close()
		a.db = nil
	}
	if err := a.proc.stop(grace); err != nil {
		logf("arb restart: %v", err)
	}
	return a.start()
}

// planClass is what EXPLAIN says about a query's plan on arb.
type planClass struct {
	err       error
	hasNative bool     // an "arb …" node anywhere
	gmsBelow  []string // go-mysql-server node names below the top projection, distinct, in plan order
}

func (p planClass) String() string {
	switch {
	case p.err != nil:
		return "explain error"
	case len(p.gmsBelow) == 0 && p.hasNative:
		return "native"
	case len(p.gmsBelow) == 0:
		return "no operator below the projection"
	case p.hasNative:
		return "mixed: " + strings.Join(p.gmsBelow, ", ")
	default:
		return "gms: " + strings.Join(p.gmsBelow, ", ")
	}
}

func (p planClass) native() bool { return p.err == nil && len(p.gmsBelow) == 0 }

var (
	planNodeName = regexp.MustCompile(`^([A-Z][A-Za-z]*[a-z][A-Za-z]*)`) // CamelCase, not NOT/AND/IN
	planProperty = regexp.MustCompile(`^[a-z][A-Za-z_]*:`)
)

// classifyPlan reads the lines of EXPLAIN FORMAT=TREE (see the file
// comment). Children are indented by four columns per level. The top
// projection is the first Project on the root's chain of single-child
// nodes (Limit, TopN, SubqueryAlias above it are presentation); when the
// chain forks (a UNION, a join) before any Project, every node counts.
func classifyPlan(lines []string) planClass {
	type node struct {
		depth    int
		text     string
		name     string // CamelCase node name, "" for arb's nodes
		native   bool
		children []*node
	}
	var all []*node
	for _, l := range lines {
		for _, part := range strings.Split(l, "\n") {
			if strings.TrimSpace(part) == "" {
				continue
			}
			text := strings.TrimLeft(part, " │├└─")
			if planProperty.MatchString(text) || strings.HasPrefix(text, "(") {
				continue // a detail or condition of its node
			}
			n := &node{depth: utf8.RuneCountInString(part[:len(part)-len(text)]) / 4, text: text}
			if n.native = strings.HasPrefix(text, "arb "); !n.native {
				if n.name = planNodeName.FindString(text); n.name == "" {
					continue // an expression line
				}
			}
			all = append(all, n)
		}
	}
	var pc planClass
	if len(all) == 0 {
		pc.err = errors.New("empty plan")
		return pc
	}
	var stack []*node
	for _, n := range all {
		for len(stack) > 0 && stack[len(stack)-1].depth >= n.depth {
			stack = stack[:len(stack)-1]
		}
		if len(stack) > 0 {
			p := stack[len(stack)-1]
			p.children = append(p.children, n)
		}
		stack = append(stack, n)
		pc.hasNative = pc.hasNative || n.native
	}
	below := []*node{all[0]}
	for n := all[0]; ; n = n.children[0] {
		if n.name == "Project" {
			below = n.children
			break
		}
		if len(n.children) != 1 {
			break
		}
	}
	var walk func(n *node)
	walk = func(n *node) {
		if !n.native && !slices.Contains(pc.gmsBelow, n.name) {
			pc.gmsBelow = append(pc.gmsBelow, n.name)
		}
		for _, c := range n.children {
			walk(c)
		}
	}
	for _, n := range below {
		walk(n)
	}
	return pc
}

// explainArb runs EXPLAIN FORMAT=TREE q on arb and classifies the plan.
func explainArb(ctx context.Context, a *arbServer, q string, timeout time.Duration) planClass {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	rows, err := scanAll(a.db.QueryContext(ctx, "EXPLAIN FORMAT=TREE "+q))
	if err != nil {
		return planClass{err: err}
	}
	var lines []string
	for _, r := range rows {
		if len(r) > 0 {
			lines = append(lines, cellString(r[0]))
		}
	}
	return classifyPlan(lines)
}

// measureBest runs q once (the answer kept), then, unless that took
// longer than slow, runs more times and keeps the fastest.
// warmOnly reports the latter.
func measureBest(ctx context.Context, e engine, q string, timeout, slow time.Duration, runs int) (res cellResult, warmOnly bool) {
	once := func() ([][]any, time.Duration, error) {
		qctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		start := time.Now()
		rows, err := e.query(qctx, q)
		elapsed := time.Since(start)
		if err != nil && errors.Is(qctx.Err(), context.DeadlineExceeded) {
			return nil, elapsed, context.DeadlineExceeded
		}
		return rows, elapsed, err
	}
	rows, warm, err := once()
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		res.timeout = true
		return res, false
	case err != nil:
		res.err = err
		return res, false
	}
	res.raw, res.median, res.n = rows, warm, 1
	if warm > slow {
		return res, true
	}
	res.n = 0
	for range runs {
		_, d, err := once()
		switch {
		case errors.Is(err, context.DeadlineExceeded):
			res.timeout = true
			return res, false
		case err != nil:
			res.err = fmt.Errorf("timed run %d: %w", res.n+1, err)
			return res, false
		}
		if res.n == 0 || d < res.median {
			res.median = d
		}
		res.n++
	}
	return res, false
}

// vmHWM reads a process's peak resident set (kB) from /proc.
func vmHWM(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			return strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
		}
	}
	return 0, fmt.Errorf("/proc/%d/status: no VmHWM", pid)
}

// resetHWM sets a process's VmHWM back to its current RSS.
func resetHWM(pid int) error {
	return os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0)
}

// runCorpus runs the corpus on a and d and writes the table.
func runCorpus(ctx context.Context, cfg *config, a *arbServer, d *duckDB, loads []loadResult) error {
	qs, err := loadCorpus(cfg.corpusDir)
	if err != nil {
		return err
	}
	started := time.Now()
	pid := a.proc.cmd.Process.Pid
	hwmBefore, _ := vmHWM(pid)
	if cfg.onlyQueries != nil {
		qs = slices.DeleteFunc(qs, func(q corpusQuery) bool { return !cfg.onlyQueries[q.name] })
	}
	var rows []corpusRow
	for i, q := range qs {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		row := corpusRow{q: q}
		row.plan = explainArb(ctx, a, q.mysql, cfg.corpusTimeout)
		hwmOK := resetHWM(pid) == nil
		row.arb, row.arbWarm = measureBest(ctx, a, q.mysql, cfg.corpusTimeout, cfg.corpusSlow, cfg.corpusRuns)
		if hwmOK {
			row.hwmKB, _ = vmHWM(pid)
		}
		if err := a.proc.died(); err != nil {
			return fmt.Errorf("corpus %s: %w", q.name, err)
		}
		if row.arb.timeout {
			n, err := a.runningQueries(ctx)
			if err != nil || n > 0 {
				logf("corpus %s: arb still runs %d queries after KILL QUERY (%v): restarting it", q.name, n, err)
				if err := a.restart(cfg.corpusRestartGrace); err != nil {
					return fmt.Errorf("corpus %s: restart arb: %w", q.name, err)
				}
				row.restarted = true
				pid = a.proc.cmd.Process.Pid
			}
		}
		row.duck, row.duckWarm = measureBest(ctx, d, q.duckdb, cfg.corpusTimeout, cfg.corpusSlow, cfg.corpusRuns)
		switch {
		case row.arb.timeout && row.restarted:
			row.status = "timeout, kill ignored"
		case row.arb.timeout:
			row.status = "timeout"
		case row.arb.err != nil:
			row.status = "error"
		case !row.duck.ok():
			row.status = "no reference"
		default:
			row.diff = diffResults(normaliseRows(row.duck.raw), normaliseRows(row.arb.raw), q.ordered)
			row.status = "agree"
			if row.diff != "" {
				row.status = "DISAGREE"
			}
		}
		logf("corpus %d/%d %s: arb %s, DuckDB %s, %s, plan %s, VmHWM %d MB", i+1, len(qs), q.name,
			row.arb.short(), row.duck.short(), row.status, row.plan, row.hwmKB/1024)
		rows = append(rows, row)
	}
	hwmAll, _ := vmHWM(pid)
	text := renderCorpus(cfg, rows, loads, started, max(hwmBefore, hwmAll, maxHWM(rows)))
	fmt.Println(text)
	if cfg.corpusOut != "" {
		if err := os.WriteFile(cfg.corpusOut, []byte(text), 0o644); err != nil {
			return err
		}
		logf("wrote %s", cfg.corpusOut)
	}
	return nil
}

func maxHWM(rows []corpusRow) int64 {
	var m int64
	for _, r := range rows {
		m = max(m, r.hwmKB)
	}
	return m
}

func corpusMillis(c cellResult, warmOnly bool, timeout time.Duration) string {
	switch {
	case c.timeout:
		return fmt.Sprintf("timeout (> %s)", timeout)
	case c.err != nil:
		return "error"
	default:
		s := fmtMillis(c.median)
		if warmOnly {
			s += " (n=1)"
		}
		return s
	}
}

func renderCorpus(cfg *config, rows []corpusRow, loads []loadResult, started time.Time, peakKB int64) string {
	var b strings.Builder
	host, _ := os.Hostname()
	fmt.Fprintf(&b, "## Query corpus (bench/queries/): arb vs DuckDB, %d events, %d users, seed %d\n\n",
		cfg.events, cfg.events/usersPerEvent, cfg.seed)
	fmt.Fprintf(&b, "Run %s on %s (%d CPUs); arb %s (%s). Per query: best of %d runs after one warm-up "+
		"(n=1: the warm-up alone, it took over %s), timeout %s a run. Ratio = DuckDB ms / arb ms (> 1: arb faster). "+
		"Plan = go-mysql-server nodes below arb's top projection in EXPLAIN FORMAT=TREE (\"native\": none). "+
		"VmHWM = arb's peak RSS during the query (reset to the current RSS before it, so it includes what earlier queries left resident).\n\n",
		started.UTC().Format("2006-01-02 15:04 UTC"), host, runtime.NumCPU(), cfg.arbBin, arbRevision(),
		cfg.corpusRuns, cfg.corpusSlow, cfg.corpusTimeout)
	b.WriteString("| # | query | arb ms | DuckDB ms | DuckDB / arb | answer | arb plan | arb VmHWM MB |\n")
	b.WriteString("|---:|---|---:|---:|---:|---|---|---:|\n")
	var notes []string
	note := func(s string) string {
		notes = append(notes, s)
		return fmt.Sprintf(" [%d]", len(notes))
	}
	counts := map[string]int{}
	var faster, nativeN int
	var timeouts []string
	for i, r := range rows {
		if !r.arb.timeout {
			counts[r.status]++
		}
		ratio := "—"
		if r.arb.ok() && r.duck.ok() && r.arb.median > 0 {
			x := float64(r.duck.median) / float64(r.arb.median)
			ratio = fmtRatio(x)
			if x > 1 && r.status == "agree" {
				faster++
			}
		}
		if r.plan.native() {
			nativeN++
		}
		if r.arb.timeout {
			timeouts = append(timeouts, r.q.name)
			counts["timeout"]++
		}
		status := r.status
		switch {
		case r.status == "error":
			status += note(fmt.Sprintf("%s, arb: %s", r.q.name, oneLine(r.arb.err.Error())))
		case r.status == "DISAGREE":
			status = "**DISAGREE**" + note(fmt.Sprintf("%s: DuckDB vs arb: %s", r.q.name, r.diff))
		case r.restarted:
			status += note(fmt.Sprintf("%s: arb still ran the query a minute after KILL QUERY; restarted before the next query", r.q.name))
		case r.status == "no reference":
			why := "timeout"
			if r.duck.err != nil {
				why = oneLine(r.duck.err.Error())
			}
			status += note(fmt.Sprintf("%s, DuckDB: %s", r.q.name, why))
		}
		plan := r.plan.String()
		if r.plan.err != nil {
			plan += note(fmt.Sprintf("%s, EXPLAIN: %s", r.q.name, oneLine(r.plan.err.Error())))
		}
		hwm := "—"
		if r.hwmKB > 0 {
			hwm = strconv.FormatInt(r.hwmKB/1024, 10)
		}
		fmt.Fprintf(&b, "| %d | %s | %s | %s | %s | %s | %s | %s |\n", i+1, r.q.name,
			corpusMillis(r.arb, r.arbWarm, cfg.corpusTimeout), corpusMillis(r.duck, r.duckWarm, cfg.corpusTimeout), ratio, status, plan, hwm)
	}
	fmt.Fprintf(&b, "\n%d queries: %d agree with DuckDB (%d of them faster on arb), %d disagree, %d error on arb, %d time out on arb, %d without a DuckDB answer; %d run natively below the top projection. Peak VmHWM of arb over the corpus: %d MB.\n",
		len(rows), counts["agree"], faster, counts["DISAGREE"], counts["error"], counts["timeout"], counts["no reference"], nativeN, peakKB/1024)
	if len(timeouts) > 0 {
		fmt.Fprintf(&b, "\nTimed out on arb: %s.\n", strings.Join(timeouts, ", "))
	}
	b.WriteString("\n| engine | load path | rows | load s | rows/s | on disk MB | measured as |\n|---|---|---:|---:|---:|---:|---|\n")
	for _, l := range loads {
		writeLoad(&b, l, "")
	}
	if len(notes) > 0 {
		b.WriteString("\n")
		for i, n := range notes {
			fmt.Fprintf(&b, "[%d] %s\n\n", i+1, n)
		}
	}
	b.WriteString("\nWho writes each query and what it answers: the header of bench/queries/<query>.sql.\n")
	return b.String()
}

// Command bench compares arb with its peers (ClickHouse 18.16, DuckDB) on
// the product-analytics workload of /work/shared/peers.md: it generates
// (or reads from its cache) the seeded dataset, loads it into each engine,
// times Q1–Q8 (median of -runs after one warm-up), checks that the engines
// agree, and prints one table (also written as markdown to -out); then
// it compacts arb and times its queries again for a second table
// (compaction.go; -after-compaction=false skips that).
//
// With -corpus it runs the realistic query corpus of queries/ on arb and
// DuckDB instead (corpus.go, corpus_run.go) and writes results-corpus.md.
// With -during-ingest it times a few queries on arb while the dataset is
// being imported, right after and after a restart (ingest_queries.go)
// and writes results-ingest.md. With -cluster it loads the dataset into
// one arb, a cluster of one and a 3-node cluster on loopback and times
// Q0–Q8 on each (cluster.go) and writes results-cluster.md.
//
// It is a module of its own (arb/bench) so that the main module's
// `go test ./...` never builds DuckDB. Run it with `make bench` or
// `cd bench && go run . -events 1000000`.
//
// Every server it starts listens on 127.0.0.1 only, lives in a throwaway
// directory, and is stopped by PID before it exits, also on errors and on
// SIGINT/SIGTERM.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}

type config struct {
	events      int
	seed        uint64
	cacheDir    string
	workDir     string
	keep        bool
	arbBin      string
	arbLoader   string
	probeRows   int
	runs        int
	timeout     time.Duration
	budget      time.Duration
	engines     map[string]bool
	out         string
	onlyQueries map[string]bool
	// afterCompaction: time arb's queries again after POST /admin/compact
	// (compaction.go).
	afterCompaction bool
	// loadCompare: also time arb's LOAD DATA LOCAL INFILE and DuckDB's
	// COPY of the same CSV file (load_compare.go).
	loadCompare bool
	// corpus: run bench/queries/ on arb and DuckDB instead of Q1–Q8
	// (corpus_run.go).
	corpus        bool
	corpusDir     string
	corpusOut     string
	corpusTimeout time.Duration
	corpusSlow    time.Duration
	corpusRuns    int
	// corpusRestartGrace: SIGTERM to SIGKILL when arb is restarted
	// after ignoring a KILL QUERY.
	corpusRestartGrace time.Duration
	// duringIngest: time a few queries on arb while, right after and long
	// after the dataset is imported (ingest_queries.go).
	duringIngest      bool
	ingestOut         string
	ingestAfter       time.Duration
	ingestCorpusQuery string
	ingestBaseline    bool
	// cluster: ingest and Q0–Q8 on one node, a cluster of one and a
	// 3-node cluster (cluster.go).
	cluster        bool
	clusterClients int
	clusterOut     string
	// clusterInsertIDs: with -cluster, every event gets a $insert_id,
	// so a batch caught in a change of leader can be sent again.
	clusterInsertIDs bool
	// clusterRestart: with -cluster, stop and start every setup between
	// its load and the queries.
	clusterRestart bool
}

// defaultClusterClients is -cluster-clients' default: /import requests
// in flight, a multiple of 3 so that each node of the 3-node cluster
// takes as many.
const defaultClusterClients = 6

func parseFlags() (*config, error) {
	c := &config{}
	defaultEvents := 10_000_000
	if s := os.Getenv("EVENTS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			return nil, fmt.Errorf("EVENTS=%q: %w", s, err)
		}
		defaultEvents = n
	}
	var engines, only string
	flag.IntVar(&c.events, "events", defaultEvents, "number of events (default $EVENTS or 10,000,000)")
	flag.Uint64Var(&c.seed, "seed", 1, "generator seed")
	flag.StringVar(&c.cacheDir, "cache", ".cache", "dataset cache directory")
	flag.StringVar(&c.workDir, "work", "", "throwaway directory for the engines' data (default: a new temp dir, removed at exit)")
	flag.BoolVar(&c.keep, "keep", false, "keep the work directory")
	flag.StringVar(&c.arbBin, "arb-bin", "../bin/arb", "arb binary (make build)")
	flag.StringVar(&c.arbLoader, "arb-loader", "auto", "arb load path: sql, import, or auto (probe both on -probe-rows, use the faster)")
	flag.IntVar(&importConns, "import-conns", importConns, "requests the import load path keeps in flight")
	flag.IntVar(&c.probeRows, "probe-rows", 1_000_000, "rows each arb loader gets in the -arb-loader=auto probe")
	flag.IntVar(&c.runs, "runs", 5, "timed runs per query after one warm-up")
	flag.DurationVar(&c.timeout, "timeout", 120*time.Second, "timeout of one query run")
	flag.DurationVar(&c.budget, "budget", 5*time.Minute, "stop timing a query in an engine after this long (at least one timed run)")
	flag.StringVar(&engines, "engines", "arb,clickhouse,duckdb", "engines to run")
	flag.StringVar(&c.out, "out", "results.md", "markdown copy of the result table")
	flag.StringVar(&only, "queries", "", "comma-separated query ids to run (default all; with -corpus: corpus file names without .sql)")
	flag.BoolVar(&c.afterCompaction, "after-compaction", true, "then compact arb (POST /admin/compact) and time its queries again")
	flag.BoolVar(&c.loadCompare, "load-compare", true, "also load the dataset as CSV with arb's LOAD DATA LOCAL INFILE and DuckDB's COPY, each into a fresh database, and report both times")
	flag.BoolVar(&c.corpus, "corpus", false, "run the query corpus (-corpus-dir) on arb and DuckDB instead of Q1–Q8; no ClickHouse, load comparison or compaction")
	flag.StringVar(&c.corpusDir, "corpus-dir", "queries", "directory of the corpus' .sql files (queries/README.md)")
	flag.StringVar(&c.corpusOut, "corpus-out", "results-corpus.md", "markdown copy of the corpus table")
	flag.DurationVar(&c.corpusTimeout, "corpus-timeout", 60*time.Second, "timeout of one corpus query run")
	flag.DurationVar(&c.corpusSlow, "corpus-slow", 10*time.Second, "a corpus query whose warm-up takes longer is timed by the warm-up alone")
	flag.IntVar(&c.corpusRuns, "corpus-runs", 3, "timed runs of a corpus query after its warm-up (the best counts)")
	flag.DurationVar(&c.corpusRestartGrace, "corpus-restart-grace", 20*time.Second, "when arb is restarted after ignoring KILL QUERY: SIGTERM, then SIGKILL after this")
	flag.BoolVar(&c.duringIngest, "during-ingest", false, "time a few queries on arb during an HTTP /import load of the dataset, right after it and after a restart, instead of anything else (ingest_queries.go)")
	flag.StringVar(&c.ingestOut, "ingest-out", "results-ingest.md", "markdown copy of the -during-ingest table")
	flag.DurationVar(&c.ingestAfter, "ingest-after", 30*time.Second, "with -during-ingest: how long the queries run right after the load, and again after the restart")
	flag.StringVar(&c.ingestCorpusQuery, "ingest-corpus-query", "an_dau_bare_bounds", "with -during-ingest: the analyst query of -corpus-dir (file name without .sql) added to the fixed ones")
	flag.BoolVar(&c.ingestBaseline, "ingest-baseline", true, "with -during-ingest: first load the dataset the same way into another fresh arb without queries, for the plain ingest rate")
	flag.BoolVar(&c.cluster, "cluster", false, "load the dataset through HTTP /import into one arb, a cluster of one and a 3-node cluster on loopback, and time Q0–Q8 on each, instead of anything else (cluster.go)")
	flag.IntVar(&c.clusterClients, "cluster-clients", defaultClusterClients, "with -cluster: /import requests in flight during each load (the same for every setup)")
	flag.BoolVar(&c.clusterInsertIDs, "cluster-insert-ids", true, "with -cluster: give every event a $insert_id (its row number) in every setup, so that an /import caught in a change of Raft leader is sent again and counted once; false: such a batch fails the run")
	flag.BoolVar(&c.clusterRestart, "cluster-restart", true, "with -cluster: stop (SIGTERM) and start every setup between its load and the queries, as the other modes do; false: query the processes that took the load (a binary built before cf9a8c2, on raft-wal v0.4.0, can fail to restart a node that dropped a log suffix after a change of leader: \"sealed segment has no index block\")")
	flag.StringVar(&c.clusterOut, "cluster-out", "results-cluster.md", "markdown copy of the -cluster table")
	flag.Parse()
	if err := c.checkModes(); err != nil {
		return nil, err
	}
	if c.corpus {
		engines = "arb,duckdb"
		c.loadCompare, c.afterCompaction = false, false
	}
	if c.events < usersPerEvent {
		return nil, fmt.Errorf("-events %d: need at least %d", c.events, usersPerEvent)
	}
	if importConns < 1 {
		return nil, fmt.Errorf("-import-conns %d: want at least 1", importConns)
	}
	arbLoaders["import"] = httpImportLoader{eventsPerBatch: 2_000, conns: importConns}
	if _, ok := arbLoaders[c.arbLoader]; !ok && c.arbLoader != "auto" {
		return nil, fmt.Errorf("-arb-loader %q: want sql, import or auto", c.arbLoader)
	}
	c.engines = map[string]bool{}
	for _, e := range strings.Split(engines, ",") {
		c.engines[strings.TrimSpace(e)] = true
	}
	if only != "" {
		c.onlyQueries = map[string]bool{}
		for _, q := range strings.Split(only, ",") {
			c.onlyQueries[strings.TrimSpace(q)] = true
		}
	}
	return c, nil
}

// checkModes refuses flags that cannot hold together: at most one of
// the modes -corpus, -during-ingest and -cluster, and a positive
// -cluster-clients and -runs.
func (c *config) checkModes() error {
	var modes []string
	for _, m := range []struct {
		on   bool
		name string
	}{{c.corpus, "-corpus"}, {c.duringIngest, "-during-ingest"}, {c.cluster, "-cluster"}} {
		if m.on {
			modes = append(modes, m.name)
		}
	}
	if len(modes) > 1 {
		return fmt.Errorf("%s: choose one mode", strings.Join(modes, " and "))
	}
	if c.clusterClients < 1 {
		return fmt.Errorf("-cluster-clients %d: want at least 1", c.clusterClients)
	}
	if c.runs < 1 {
		return fmt.Errorf("-runs %d: want at least 1", c.runs)
	}
	return nil
}

func main() {
	cfg, err := parseFlags()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err = run(ctx, cfg)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// run does the whole comparison; every server it starts is stopped
// before it returns.
func run(ctx context.Context, cfg *config) (err error) {
	dataset, err := ensureDataset(cfg.cacheDir, cfg.events, cfg.seed)
	if err != nil {
		return err
	}
	if dataset, err = filepath.Abs(dataset); err != nil {
		return err
	}
	work := cfg.workDir
	if work == "" {
		if work, err = os.MkdirTemp("", "arb-bench-"); err != nil {
			return err
		}
	} else if err := os.MkdirAll(work, 0o755); err != nil {
		return err
	}
	if !cfg.keep {
		defer os.RemoveAll(work)
	}
	var cleanups []func() error
	defer func() {
		for _, c := range slices.Backward(cleanups) {
			if cerr := c(); cerr != nil {
				logf("cleanup: %v", cerr)
			}
		}
	}()
	if cfg.duringIngest {
		return runIngestQueries(ctx, cfg, dataset, work)
	}
	if cfg.cluster {
		return runCluster(ctx, cfg, dataset, work)
	}
	rep := &report{cfg: cfg, dataset: dataset, started: time.Now()}
	var engines []engine

	if cfg.engines["arb"] {
		bin, err := filepath.Abs(cfg.arbBin)
		if err != nil {
			return err
		}
		if _, err := os.Stat(bin); err != nil {
			return fmt.Errorf("arb binary: %w (run `make build`)", err)
		}
		loaderKey := cfg.arbLoader
		if loaderKey == "auto" {
			logf("arb: probing load paths on %d rows", min(cfg.probeRows, cfg.events))
			best, probes, err := probeArbLoaders(ctx, bin, work, dataset, min(cfg.probeRows, cfg.events))
			rep.probes = probes
			if err != nil {
				return err
			}
			loaderKey = best
			for _, p := range probes {
				logf("arb probe: %s: %s", p.path, describeLoad(p))
			}
		}
		dir := filepath.Join(work, "arb")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		logf("arb: loading through %s", arbLoaders[loaderKey].name())
		a, res, err := loadArb(ctx, bin, dir, dataset, 0, arbLoaders[loaderKey])
		if err != nil {
			return err
		}
		cleanups = append(cleanups, a.stop)
		logf("arb: %s", describeLoad(res))
		rep.loads = append(rep.loads, res)
		engines = append(engines, a)
	}
	if cfg.engines["clickhouse"] {
		logf("clickhouse: starting")
		ch, err := startClickHouse(filepath.Join(work, "clickhouse"))
		if err != nil {
			return err
		}
		cleanups = append(cleanups, ch.stop)
		for _, v := range []struct{ db, typ, heading string }{
			{"str", "String", "ClickHouse"},
			{"lc", "LowCardinality(String)", "ClickHouse LC"},
		} {
			res, err := ch.load(ctx, v.db, v.typ, dataset)
			if err != nil {
				return err
			}
			res.engine = v.heading
			logf("clickhouse %s: %s", v.db, describeLoad(res))
			rep.loads = append(rep.loads, res)
			engines = append(engines, &clickhouseDB{srv: ch, db: v.db, heading: v.heading})
		}
	}
	if cfg.engines["duckdb"] {
		d, err := openDuckDB(filepath.Join(work))
		if err != nil {
			return err
		}
		cleanups = append(cleanups, d.close)
		res, err := d.load(ctx, dataset)
		if err != nil {
			return err
		}
		logf("duckdb: %s", describeLoad(res))
		rep.loads = append(rep.loads, res)
		engines = append(engines, d)
	}
	if cfg.loadCompare && (cfg.engines["arb"] || cfg.engines["duckdb"]) {
		bin, err := filepath.Abs(cfg.arbBin)
		if err != nil {
			return err
		}
		loads, err := compareLoads(ctx, cfg, bin, work, dataset)
		if err != nil {
			return err
		}
		rep.loads = append(rep.loads, loads...)
	}
	if cfg.corpus {
		return runCorpus(ctx, cfg, engines[0].(*arbServer), engines[1].(*duckDB), rep.loads)
	}
	rep.engines = engines
	for _, q := range queries {
		if cfg.onlyQueries != nil && !cfg.onlyQueries[q.id] {
			continue
		}
		row := resultRow{q: q, cells: make([]cellResult, len(engines))}
		for i, e := range engines {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			text := q.text[e.dialect()]
			if text == "" {
				row.cells[i] = cellResult{absent: true}
				continue
			}
			row.cells[i] = measure(ctx, e, text, cfg)
			if sh := q.shape; sh != nil && row.cells[i].err == nil && !row.cells[i].timeout {
				shaped, err := sh(e.dialect(), row.cells[i].raw)
				if err != nil {
					row.cells[i].err = err
				} else {
					row.cells[i].raw = shaped
				}
			}
			logf("%s %s %s: %s", q.id, q.variant, e.name(), row.cells[i].short())
		}
		rep.rows = append(rep.rows, row)
	}
	rep.check()
	for i, e := range engines {
		if _, ok := e.(*arbServer); ok && cfg.afterCompaction {
			if rep.compaction, err = runAfterCompaction(ctx, cfg, rep, i); err != nil {
				return err
			}
		}
	}
	text := rep.render()
	fmt.Println(text)
	if cfg.out != "" {
		if err := os.WriteFile(cfg.out, []byte(text), 0o644); err != nil {
			return err
		}
		logf("wrote %s", cfg.out)
	}
	return nil
}

// cellResult is one engine's timing and answer of one query.
type cellResult struct {
	absent  bool // the engine has no form of this query
	timeout bool
	err     error
	median  time.Duration
	n       int // timed runs
	raw     [][]any
	diff    string // disagreement with the reference, "" if none
}

func (c cellResult) ok() bool { return !c.absent && !c.timeout && c.err == nil }

func (c cellResult) short() string {
	switch {
	case c.absent:
		return "—"
	case c.timeout:
		return "timeout"
	case c.err != nil:
		return "error: " + c.err.Error()
	default:
		return fmt.Sprintf("%s (n=%d, %d rows)", fmtMillis(c.median), c.n, len(c.raw))
	}
}

// measure runs q once to warm up (its answer is the one checked), then
// times up to cfg.runs runs and takes the median.
func measure(ctx context.Context, e engine, q string, cfg *config) cellResult {
	var res cellResult
	once := func() ([][]any, time.Duration, error) { return timedRun(ctx, e, q, cfg.timeout) }
	rows, _, err := once()
	if errors.Is(err, context.DeadlineExceeded) {
		res.timeout = true
		return res
	}
	if err != nil {
		res.err = err
		return res
	}
	res.raw = rows
	var times []time.Duration
	begin := time.Now()
	for len(times) < cfg.runs {
		_, d, err := once()
		if errors.Is(err, context.DeadlineExceeded) {
			res.timeout = true
			return res
		}
		if err != nil {
			res.err = fmt.Errorf("timed run %d: %w", len(times)+1, err)
			return res
		}
		times = append(times, d)
		if time.Since(begin) > cfg.budget {
			break
		}
	}
	slices.Sort(times)
	res.n = len(times)
	if len(times)%2 == 1 {
		res.median = times[len(times)/2]
	} else {
		res.median = (times[len(times)/2-1] + times[len(times)/2]) / 2
	}
	return res
}

// timedRun runs q on e once within timeout and returns its rows and how
// long it took; the error is context.DeadlineExceeded when it timed out.
func timedRun(ctx context.Context, e engine, q string, timeout time.Duration) ([][]any, time.Duration, error) {
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

func fmtMillis(d time.Duration) string {
	ms := float64(d) / float64(time.Millisecond)
	switch {
	case ms < 10:
		return strconv.FormatFloat(ms, 'f', 2, 64)
	case ms < 100:
		return strconv.FormatFloat(ms, 'f', 1, 64)
	default:
		return strconv.FormatFloat(ms, 'f', 0, 64)
	}
}

func describeLoad(r loadResult) string {
	if r.elapsed == 0 {
		return r.note
	}
	cpu := ""
	if r.cpu > 0 {
		cpu = fmt.Sprintf(", CPU %.1f s", r.cpu.Seconds())
	}
	return fmt.Sprintf("%d rows in %.1f s (%.0f rows/s)%s, %.1f MB on disk", r.rows, r.elapsed.Seconds(),
		float64(r.rows)/r.elapsed.Seconds(), cpu, float64(r.diskBytes)/1e6)
}

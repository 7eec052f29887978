package main

// cluster.go is the -cluster mode (issue 15: "ingest throughput of a
// 3-node cluster against one node on the same machine, and Q1–Q8 times
// through a cluster against one node"). It owns starting and stopping a
// Raft cluster of bin/arb on loopback, finding its leader, and the run;
// cluster_report.go owns the table (-cluster-out, results-cluster.md).
//
// The run, all on this machine, each setup in its own throwaway
// directory, every load the HTTP /import loader of arb.go (2,000 events a
// request, -cluster-clients requests in flight, the same for all three;
// with -cluster-insert-ids each event carries its row number as
// $insert_id in every setup):
//
//  1. "single node": one `arb serve` without cluster flags;
//  2. "cluster of one": one node with --node-id n1 --peers n1=itself —
//     the same Raft code path as a cluster, no replication — so that the
//     Raft log's own cost is told apart from replicating it;
//  3. "3-node cluster": three nodes (--node-id, --raft-addr, the same
//     --peers and --project on each), the requests taking the nodes in
//     turn.
//
// Every setup runs with background compaction off, so that nothing
// merges under the timed queries (loadArb gets the same by restarting).
// An /import is acknowledged once the node that took it has applied it,
// so a cluster's load time ends with the last acknowledgement; the table
// also gives the time until every node has applied all the leader had
// committed then, and the leader's Raft term before and after the load
// (an election in between shows). Then (-cluster-restart, the default)
// each setup is stopped with SIGTERM (a flush), its data directories
// measured, and started again, as loadArb does; with
// -cluster-restart=false the queries run on the processes that took the
// load and the directories are measured after the queries.
//
// Queries: Q0–Q8 of queries.go (arb's text), each with one warm-up per
// setup whose answer is checked, then -runs rounds of one run on each
// (measureInterleaved), the median per setup, on
// the single node, the cluster of one, the 3-node cluster's leader and
// one of its followers — interleaved query by query, so that a change in
// the machine's load hits every column alike. Every answer is checked
// against the single node's (report.check, compare.go); a difference is
// DISAGREE in the table and a non-zero exit. The leader is looked up
// again after the queries, and a change of leader is reported.

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// arbCluster is a Raft group of bin/arb processes on loopback; nodes[i]
// is node "n<i+1>", with its own directory, MySQL, HTTP and Raft ports
// (or, plain, a single node outside cluster mode, run the same way).
type arbCluster struct {
	nodes []*arbServer
	// args are the cluster flags of each node, by index.
	args [][]string
	// plain: one node without cluster flags (newArbCluster).
	plain bool
}

// clusterPeers is the --peers value naming nodes n1..nN at the loopback
// Raft ports given, in order.
func clusterPeers(raftPorts []int) string {
	parts := make([]string, len(raftPorts))
	for i, p := range raftPorts {
		parts[i] = fmt.Sprintf("n%d=127.0.0.1:%d", i+1, p)
	}
	return strings.Join(parts, ",")
}

// newArbCluster prepares n nodes under dir (dir/n1, dir/n2, …) on free
// ports; start runs them. plain is one node without cluster flags (not
// a cluster at all: the single node the others are measured against).
func newArbCluster(bin, dir string, n int, plain bool) (*arbCluster, error) {
	if n < 1 || (plain && n != 1) {
		return nil, fmt.Errorf("cluster of %d nodes (plain %v)", n, plain)
	}
	c := &arbCluster{plain: plain}
	raftPorts := make([]int, n)
	for i := range n {
		nodeDir := filepath.Join(dir, fmt.Sprintf("n%d", i+1))
		if err := os.MkdirAll(nodeDir, 0o755); err != nil {
			return nil, err
		}
		a, err := newArbServer(bin, nodeDir)
		if err != nil {
			return nil, err
		}
		a.procName = fmt.Sprintf("arb %s n%d", filepath.Base(dir), i+1)
		if raftPorts[i], err = freePort(); err != nil {
			return nil, err
		}
		c.nodes = append(c.nodes, a)
	}
	if plain {
		c.nodes[0].procName = "arb " + filepath.Base(dir)
		c.args = [][]string{nil}
		return c, nil
	}
	peers := clusterPeers(raftPorts)
	for i := range n {
		c.args = append(c.args, []string{"--node-id", fmt.Sprintf("n%d", i+1),
			"--raft-addr", fmt.Sprintf("127.0.0.1:%d", raftPorts[i]), "--peers", peers})
	}
	return c, nil
}

// start launches every node with its cluster flags plus extra, then
// waits for each: a node serves only once the group has a leader, so
// they must be launched together.
func (c *arbCluster) start(extra ...string) error {
	for i, a := range c.nodes {
		a.serveArgs = append(append([]string(nil), c.args[i]...), extra...)
		if err := a.launch(); err != nil {
			return err
		}
	}
	for _, a := range c.nodes {
		if err := a.await(); err != nil {
			return err
		}
	}
	return nil
}

// stop sends SIGTERM to every node at once (one by one, the last ones
// would stop without a quorum) and waits for all; it returns their
// errors joined. It is idempotent.
func (c *arbCluster) stop() error {
	errs := make([]error, len(c.nodes))
	var wg sync.WaitGroup
	for i, a := range c.nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = a.stop()
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// memberRow is one row of arb.cluster as a node reports it.
type memberRow struct {
	node                  string
	self, leader          bool
	term, commit, applied uint64
}

const clusterStatusSQL = "SELECT node, is_self, is_leader, term, commit_index, applied_index FROM arb.cluster"

// parseMembers reads the rows of clusterStatusSQL.
func parseMembers(rows [][]any) ([]memberRow, error) {
	var out []memberRow
	for i, r := range rows {
		if len(r) != 6 {
			return nil, fmt.Errorf("arb.cluster row %d: %d columns, want 6", i+1, len(r))
		}
		m := memberRow{node: cellString(r[0])}
		nums := [5]float64{}
		for j := range nums {
			if r[j+1] == nil {
				continue // an unreachable member reports no indexes
			}
			v, ok := toNumber(r[j+1])
			if !ok || v < 0 {
				return nil, fmt.Errorf("arb.cluster row %d (%s): column %d is %v, not a count", i+1, m.node, j+2, r[j+1])
			}
			nums[j] = v
		}
		m.self, m.leader = nums[0] != 0, nums[1] != 0
		m.term, m.commit, m.applied = uint64(nums[2]), uint64(nums[3]), uint64(nums[4])
		out = append(out, m)
	}
	return out, nil
}

// clusterView is what one node says: itself and the leader.
type clusterView struct {
	self, leader          string // node ids; leader "" when it knows none
	term, commit, applied uint64 // its own term and indexes
}

// viewOf picks a node's own row and the leader out of its arb.cluster
// rows; it wants exactly one row of itself and at most one leader.
func viewOf(members []memberRow) (clusterView, error) {
	var v clusterView
	selves, leaders := 0, 0
	for _, m := range members {
		if m.self {
			selves++
			v.self, v.term, v.commit, v.applied = m.node, m.term, m.commit, m.applied
		}
		if m.leader {
			leaders++
			v.leader = m.node
		}
	}
	if selves != 1 || leaders > 1 {
		return v, fmt.Errorf("arb.cluster: %d rows of itself and %d leaders among %d members, want 1 and at most 1", selves, leaders, len(members))
	}
	return v, nil
}

// view asks node a for its view of the cluster.
func (c *arbCluster) view(ctx context.Context, a *arbServer) (clusterView, error) {
	qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	rows, err := scanAll(a.db.QueryContext(qctx, clusterStatusSQL))
	if err != nil {
		return clusterView{}, fmt.Errorf("%s: %w", a.procName, err)
	}
	members, err := parseMembers(rows)
	if err != nil {
		return clusterView{}, fmt.Errorf("%s: %w", a.procName, err)
	}
	return viewOf(members)
}

// roles waits until every node names the same leader and returns it and
// the first other node (nil for a cluster of one).
func (c *arbCluster) roles(ctx context.Context, within time.Duration) (leader, follower *arbServer, err error) {
	deadline := time.Now().Add(within)
	last := ""
	for {
		agreed := ""
		for i, a := range c.nodes {
			v, err := c.view(ctx, a)
			if err != nil {
				last = err.Error()
				agreed = ""
				break
			}
			if v.leader == "" || (i > 0 && v.leader != agreed) {
				last = fmt.Sprintf("%s names leader %q, %s named %q", v.self, v.leader, c.nodes[0].procName, agreed)
				agreed = ""
				break
			}
			agreed = v.leader
		}
		if agreed != "" {
			for i, a := range c.nodes {
				if fmt.Sprintf("n%d", i+1) == agreed {
					leader = a
				} else if follower == nil {
					follower = a
				}
			}
			if leader != nil {
				return leader, follower, nil
			}
			last = "the leader " + agreed + " is not a node of this cluster"
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return nil, nil, fmt.Errorf("no agreed leader within %s: %s", within, last)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitApplied waits until every node has applied all the leader had
// committed when it was called.
func (c *arbCluster) waitApplied(ctx context.Context, within time.Duration) error {
	leader, _, err := c.roles(ctx, within)
	if err != nil {
		return err
	}
	lv, err := c.view(ctx, leader)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(within)
	for _, a := range c.nodes {
		for {
			v, err := c.view(ctx, a)
			if err == nil && v.applied >= lv.commit {
				break
			}
			if time.Now().After(deadline) || ctx.Err() != nil {
				return fmt.Errorf("%s has not applied the leader's commit index %d within %s: applied %d (err %v)",
					a.procName, lv.commit, within, v.applied, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return nil
}

// diskBytes is the disk usage of every node's data directory, and of
// the Raft state within (<data-dir>/raft: log segments, which raft-wal
// allocates whole, snapshots' metadata, the stable store).
func (c *arbCluster) diskBytes() (total, raft int64, err error) {
	for _, a := range c.nodes {
		n, err := dirBytes(a.dataDir())
		if err != nil {
			return 0, 0, err
		}
		r, err := dirBytes(filepath.Join(a.dataDir(), "raft"))
		if err != nil && !(c.plain && errors.Is(err, fs.ErrNotExist)) {
			return 0, 0, err
		}
		total, raft = total+n, raft+r
	}
	return total, raft, nil
}

// clusterLoad is one setup's load, for the table.
type clusterLoad struct {
	setup string
	nodes int
	res   loadResult
	// shedRetries and leaderRetries are /import requests sent again
	// (importRetry): after arb shed load, after a change of leader.
	shedRetries, leaderRetries int64
	// allApplied is the load start to every node having applied the
	// leader's commit index as of the last acknowledgement (0: single
	// node, nothing to replicate).
	allApplied time.Duration
	// raftBytes is the part of res.diskBytes under the nodes' raft/.
	raftBytes int64
	// termBefore and termAfter are the leader's Raft term before and
	// after the load (0: single node): each election adds at least one.
	termBefore, termAfter uint64
}

// setupSpec is one of the setups compared.
type setupSpec struct {
	name  string
	nodes int
	plain bool // no cluster flags: the single node
}

var clusterSetups = []setupSpec{
	{name: "single node", nodes: 1, plain: true},
	{name: "cluster of one", nodes: 1},
	{name: "3-node cluster", nodes: 3},
}

// leaderTerm is the term the leader reports (0 for a plain node).
func (c *arbCluster) leaderTerm(ctx context.Context) (uint64, error) {
	if c.plain {
		return 0, nil
	}
	leader, _, err := c.roles(ctx, time.Minute)
	if err != nil {
		return 0, err
	}
	v, err := c.view(ctx, leader)
	return v.term, err
}

// loadSetup starts a setup in dir with background compaction off (the
// queries then time the layout the load left, with nothing merging
// under them; loadArb gets the same by restarting), loads the dataset
// through loader spread over its nodes and waits until every node has
// applied it. With restart it then stops the setup (SIGTERM flushes),
// measures its data directories and starts it again, as loadArb does.
func loadSetup(ctx context.Context, bin, dir, dataset string, spec setupSpec, loader httpImportLoader, restart bool) (*arbCluster, clusterLoad, error) {
	retries := &importRetries{}
	loader.retries = retries
	out := clusterLoad{setup: spec.name, nodes: spec.nodes}
	c, err := newArbCluster(bin, dir, spec.nodes, spec.plain)
	if err != nil {
		return nil, out, err
	}
	fail := func(err error) (*arbCluster, clusterLoad, error) {
		c.stop()
		return nil, out, fmt.Errorf("%s: %w", spec.name, err)
	}
	const quiet = "--background-compaction=false"
	if err := c.start(quiet); err != nil {
		return fail(err)
	}
	if out.termBefore, err = c.leaderTerm(ctx); err != nil {
		return fail(err)
	}
	loader.spread = c.nodes
	out.res = loadResult{engine: "arb", path: loader.name()}
	if err := loader.prepare(dataset); err != nil {
		return fail(err)
	}
	start := time.Now()
	rows, err := loader.load(ctx, c.nodes[0], dataset, 0)
	out.res.rows, out.res.elapsed = rows, time.Since(start)
	out.shedRetries, out.leaderRetries = retries.shed.Load(), retries.leader.Load()
	logf("cluster: %s: %d rows in %.1f s (%.0f rows/s); retries: %d after shed load, %d after a change of leader",
		spec.name, out.res.rows, out.res.elapsed.Seconds(), float64(out.res.rows)/out.res.elapsed.Seconds(), out.shedRetries, out.leaderRetries)
	if err != nil {
		return fail(fmt.Errorf("load (%s) after %d rows: %w", loader.name(), rows, err))
	}
	if !spec.plain {
		if err := c.waitApplied(ctx, 10*time.Minute); err != nil {
			return fail(fmt.Errorf("after the load: %w", err))
		}
		out.allApplied = time.Since(start)
		if out.termAfter, err = c.leaderTerm(ctx); err != nil {
			return fail(err)
		}
		logf("cluster: %s: every node applied after %.1f s; leader's term %d before the load, %d after",
			spec.name, out.allApplied.Seconds(), out.termBefore, out.termAfter)
	}
	if restart {
		if err := c.stop(); err != nil {
			return fail(err)
		}
		if err := c.measure(&out); err != nil {
			return fail(err)
		}
		if err := c.start(quiet); err != nil {
			return fail(fmt.Errorf("restart after the load: %w", err))
		}
	}
	return c, out, nil
}

// measure fills out's disk figures from the setup's data directories
// (stopped, so flushed).
func (c *arbCluster) measure(out *clusterLoad) error {
	var err error
	out.res.diskBytes, out.raftBytes, err = c.diskBytes()
	out.res.note = "du of every node's data dir (Raft log included) after SIGTERM"
	return err
}

// nodeName is a cluster node's id, the last word of its process name.
func nodeName(a *arbServer) string {
	f := strings.Fields(a.procName)
	if len(f) == 0 {
		return ""
	}
	return f[len(f)-1]
}

// namedArb is an arb server under a column heading of its own.
type namedArb struct {
	*arbServer
	heading string
}

func (n namedArb) name() string { return n.heading }

// loadAverage is /proc/loadavg's first three fields ("" if unreadable).
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

// runCluster is the -cluster mode (file comment).
func runCluster(ctx context.Context, cfg *config, dataset, work string) error {
	bin, err := filepath.Abs(cfg.arbBin)
	if err != nil {
		return err
	}
	if _, err := os.Stat(bin); err != nil {
		return fmt.Errorf("arb binary: %w (run `make build`)", err)
	}
	host, _ := os.Hostname()
	rep := &clusterReport{events: cfg.events, seed: cfg.seed, runs: cfg.runs, timeout: cfg.timeout, restarted: cfg.clusterRestart,
		loadAvgStart: loadAverage(), command: reproduceCommand(cfg),
		header: fmt.Sprintf("Run %s on %s (%d CPUs); arb %s (%s).", time.Now().UTC().Format("2006-01-02 15:04 UTC"),
			host, runtime.NumCPU(), cfg.arbBin, arbRevision())}
	logf("cluster: load average at start %s", rep.loadAvgStart)
	loader := httpImportLoader{eventsPerBatch: 2_000, conns: cfg.clusterClients, insertIDs: cfg.clusterInsertIDs}

	var setups []*arbCluster
	defer func() {
		for i := len(setups) - 1; i >= 0; i-- {
			if err := setups[i].stop(); err != nil {
				logf("cleanup: %v", err)
			}
		}
	}()
	for i, spec := range clusterSetups {
		logf("cluster: %s: loading through %s", spec.name, loader.name())
		c, l, err := loadSetup(ctx, bin, filepath.Join(work, fmt.Sprintf("setup%d", i+1)), dataset, spec, loader, cfg.clusterRestart)
		if err != nil {
			return err
		}
		setups = append(setups, c)
		rep.loads = append(rep.loads, l)
		if l.res.rows != rep.loads[0].res.rows {
			return fmt.Errorf("%s loaded %d rows, the single node %d", l.setup, l.res.rows, rep.loads[0].res.rows)
		}
	}
	single, one, three := setups[0], setups[1], setups[2]

	// Queries, interleaved.
	oneLeader, _, err := one.roles(ctx, time.Minute)
	if err != nil {
		return fmt.Errorf("cluster of one: %w", err)
	}
	leader, follower, err := three.roles(ctx, time.Minute)
	if err != nil {
		return fmt.Errorf("3-node cluster: %w", err)
	}
	rep.leaderBefore, rep.follower = nodeName(leader), nodeName(follower)
	if rep.termBefore, err = three.leaderTerm(ctx); err != nil {
		return fmt.Errorf("3-node cluster: %w", err)
	}
	engines := []engine{namedArb{single.nodes[0], "single"}, namedArb{oneLeader, "cluster of one"},
		namedArb{leader, "3 nodes: leader"}, namedArb{follower, "3 nodes: follower"}}
	rows, err := timeQueries(ctx, cfg, engines)
	if err != nil {
		return err
	}
	if l, _, err := three.roles(ctx, time.Minute); err != nil {
		rep.leaderAfter = "unknown: " + err.Error()
	} else {
		rep.leaderAfter = nodeName(l)
		rep.termAfter, _ = three.leaderTerm(ctx)
	}
	rep.cmp = &report{cfg: cfg, engines: engines, rows: rows}
	rep.cmp.check()
	rep.loadAvgEnd = loadAverage()

	// Disk: every setup stopped (SIGTERM flushes), unless measured at
	// the restart already.
	for i, c := range setups {
		if err := c.stop(); err != nil {
			return err
		}
		if !cfg.clusterRestart {
			if err := c.measure(&rep.loads[i]); err != nil {
				return err
			}
			rep.loads[i].res.note = "du of every node's data dir (Raft log included) after the queries and SIGTERM"
		}
	}

	text := renderCluster(rep)
	fmt.Println(text)
	if cfg.clusterOut != "" {
		if err := os.WriteFile(cfg.clusterOut, []byte(text), 0o644); err != nil {
			return err
		}
		logf("wrote %s", cfg.clusterOut)
	}
	if bad := rep.problems(); len(bad) > 0 {
		return fmt.Errorf("cluster answers differ from the single node's: %s", strings.Join(bad, "; "))
	}
	return nil
}

// timeQueries times every query of queries.go (or of -queries) on the
// engines (measureInterleaved), with answers shaped as main.go does.
func timeQueries(ctx context.Context, cfg *config, engines []engine) ([]resultRow, error) {
	var out []resultRow
	for _, q := range queries {
		if cfg.onlyQueries != nil && !cfg.onlyQueries[q.id] {
			continue
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		texts := make([]string, len(engines))
		for i, e := range engines {
			texts[i] = q.text[e.dialect()]
		}
		row := resultRow{q: q, cells: measureInterleaved(ctx, engines, texts, cfg)}
		for i, e := range engines {
			if sh := q.shape; sh != nil && row.cells[i].ok() {
				if shaped, err := sh(e.dialect(), row.cells[i].raw); err != nil {
					row.cells[i].err = err
				} else {
					row.cells[i].raw = shaped
				}
			}
			logf("%s %s %s: %s", q.id, q.variant, e.name(), row.cells[i].short())
		}
		out = append(out, row)
	}
	return out, nil
}

// measureInterleaved times texts[i] on engines[i] (absent when empty):
// one warm-up on each (its answer is the one checked), then up to
// cfg.runs rounds of one run on each engine in turn — so that a change
// in the machine's load hits every engine alike — and the median of
// each engine's runs. An engine whose run fails or times out drops out
// of the rounds; no round starts after cfg.budget.
func measureInterleaved(ctx context.Context, engines []engine, texts []string, cfg *config) []cellResult {
	res := make([]cellResult, len(engines))
	for i, e := range engines {
		if texts[i] == "" {
			res[i].absent = true
			continue
		}
		rows, _, err := timedRun(ctx, e, texts[i], cfg.timeout)
		switch {
		case errors.Is(err, context.DeadlineExceeded):
			res[i].timeout = true
		case err != nil:
			res[i].err = err
		default:
			res[i].raw = rows
		}
	}
	times := make([][]time.Duration, len(engines))
	begin := time.Now()
	for round := 1; round <= cfg.runs && (round == 1 || time.Since(begin) <= cfg.budget); round++ {
		for i, e := range engines {
			if !res[i].ok() || ctx.Err() != nil {
				continue
			}
			_, d, err := timedRun(ctx, e, texts[i], cfg.timeout)
			switch {
			case errors.Is(err, context.DeadlineExceeded):
				res[i].timeout = true
			case err != nil:
				res[i].err = fmt.Errorf("timed run %d: %w", round, err)
			default:
				times[i] = append(times[i], d)
			}
		}
	}
	for i := range res {
		if res[i].ok() {
			res[i].n, res[i].median = len(times[i]), medianOf(times[i])
		}
	}
	return res
}

// medianOf is the median of ds (the mean of the middle two for an even
// count; 0 for none). ds is not changed.
func medianOf(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// reproduceCommand is the command line that repeats this run.
func reproduceCommand(cfg *config) string {
	s := fmt.Sprintf("cd bench && go run . -cluster -arb-bin ../bin/arb -events %d", cfg.events)
	if cfg.seed != 1 {
		s += " -seed " + strconv.FormatUint(cfg.seed, 10)
	}
	if cfg.clusterClients != defaultClusterClients {
		s += " -cluster-clients " + strconv.Itoa(cfg.clusterClients)
	}
	if !cfg.clusterInsertIDs {
		s += " -cluster-insert-ids=false"
	}
	if !cfg.clusterRestart {
		s += " -cluster-restart=false"
	}
	if cfg.runs != 5 {
		s += " -runs " + strconv.Itoa(cfg.runs)
	}
	return s
}

package main

// cluster.go is the -cluster mode (issue 15: "ingest throughput of a
// 3-node cluster against one node on the same machine, and Q1–Q8 times
// through a cluster against one node"). It owns starting and stopping a
// Raft cluster of bin/arb on loopback, finding its leader, and the run;
// cluster_report.go owns the table (-cluster-out, results-cluster.md).
//
// The run, all on this machine, each setup in its own throwaway
// directory, every load the HTTP /import loader of arb.go (2,000 events a
// request, -cluster-clients requests in flight, the same for all three):
//
//  1. "single": one `arb serve` without cluster flags, loaded as the
//     other modes load it (loadArb: load, SIGTERM, restart);
//  2. "cluster of one": one node with --node-id n1 --peers n1=itself —
//     the same Raft code path as a cluster, no replication — so that the
//     Raft log's own cost is told apart from replicating it;
//  3. "3 nodes": three nodes (--node-id, --raft-addr, the same --peers
//     and --project on each), the requests taking the nodes in turn.
//
// An /import is acknowledged once the node that took it has applied it,
// so a cluster's load time ends with the last acknowledgement; the table
// also gives the time until every node has applied all the leader had
// committed then (arb.cluster). Each setup is then stopped with SIGTERM
// (a flush), measured on disk (the Raft log included) and started again
// with background compaction off, as loadArb does for the single node,
// so the queries see the layout the load left.
//
// Queries: Q0–Q8 of queries.go (arb's text), each timed as main.go times
// it (one warm-up whose answer is checked, then the median of -runs) on
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
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
)

// arbCluster is a Raft group of bin/arb processes on loopback; nodes[i]
// is node "n<i+1>", with its own directory, MySQL, HTTP and Raft ports.
type arbCluster struct {
	nodes []*arbServer
	// args are the cluster flags of each node, by index.
	args [][]string
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
// ports; start runs them.
func newArbCluster(bin, dir string, n int) (*arbCluster, error) {
	if n < 1 {
		return nil, fmt.Errorf("cluster of %d nodes", n)
	}
	c := &arbCluster{}
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
// would stop without a quorum) and waits for all; it returns the first
// error.
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
	node            string
	self, leader    bool
	commit, applied int64
}

const clusterStatusSQL = "SELECT node, is_self, is_leader, commit_index, applied_index FROM arb.cluster"

// parseMembers reads the rows of clusterStatusSQL.
func parseMembers(rows [][]any) ([]memberRow, error) {
	var out []memberRow
	for i, r := range rows {
		if len(r) != 5 {
			return nil, fmt.Errorf("arb.cluster row %d: %d columns, want 5", i+1, len(r))
		}
		m := memberRow{node: cellString(r[0])}
		nums := [4]float64{}
		for j := range nums {
			if r[j+1] == nil {
				continue // an unreachable member reports no indexes
			}
			v, ok := toNumber(r[j+1])
			if !ok {
				return nil, fmt.Errorf("arb.cluster row %d (%s): column %d is %v, not a number", i+1, m.node, j+2, r[j+1])
			}
			nums[j] = v
		}
		m.self, m.leader = nums[0] != 0, nums[1] != 0
		m.commit, m.applied = int64(nums[2]), int64(nums[3])
		out = append(out, m)
	}
	return out, nil
}

// clusterView is what one node says: itself and the leader.
type clusterView struct {
	self, leader    string // node ids; leader "" when it knows none
	commit, applied int64  // its own indexes
}

// viewOf picks a node's own row and the leader out of its arb.cluster
// rows; it wants exactly one row of itself and at most one leader.
func viewOf(members []memberRow) (clusterView, error) {
	var v clusterView
	selves, leaders := 0, 0
	for _, m := range members {
		if m.self {
			selves++
			v.self, v.commit, v.applied = m.node, m.commit, m.applied
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
		if err != nil {
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
}

// loadCluster starts an n-node cluster in dir, loads the dataset through
// loader spread over its nodes, waits until every node has applied it,
// stops it (SIGTERM flushes), measures its data directories and starts
// it again with background compaction off for the queries.
func loadCluster(ctx context.Context, bin, dir, dataset string, n int, loader httpImportLoader) (*arbCluster, clusterLoad, error) {
	retries := &importRetries{}
	loader.retries = retries
	out := clusterLoad{nodes: n}
	c, err := newArbCluster(bin, dir, n)
	if err != nil {
		return nil, out, err
	}
	if err := c.start(); err != nil {
		c.stop()
		return nil, out, err
	}
	loader.spread = c.nodes
	out.res = loadResult{engine: "arb", path: loader.name()}
	start := time.Now()
	rows, err := loader.load(ctx, c.nodes[0], dataset, 0)
	out.res.rows, out.res.elapsed = rows, time.Since(start)
	out.shedRetries, out.leaderRetries = retries.shed.Load(), retries.leader.Load()
	if err != nil {
		c.stop()
		return nil, out, fmt.Errorf("cluster of %d: load (%s) after %d rows: %w", n, loader.name(), rows, err)
	}
	if err := c.waitApplied(ctx, 10*time.Minute); err != nil {
		c.stop()
		return nil, out, fmt.Errorf("cluster of %d after the load: %w", n, err)
	}
	out.allApplied = time.Since(start)
	if err := c.stop(); err != nil {
		return nil, out, err
	}
	if out.res.diskBytes, out.raftBytes, err = c.diskBytes(); err != nil {
		return nil, out, err
	}
	out.res.note = "du of every node's data dir (Raft log included) after SIGTERM"
	if err := c.start("--background-compaction=false"); err != nil {
		c.stop()
		return nil, out, err
	}
	return c, out, nil
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
	rep := &clusterReport{events: cfg.events, seed: cfg.seed, runs: cfg.runs, timeout: cfg.timeout,
		loadAvgStart: loadAverage(), command: reproduceCommand(cfg),
		header: fmt.Sprintf("Run %s on %s (%d CPUs); arb %s (%s).", time.Now().UTC().Format("2006-01-02 15:04 UTC"),
			host, runtime.NumCPU(), cfg.arbBin, arbRevision())}
	logf("cluster: load average at start %s", rep.loadAvgStart)
	loader := httpImportLoader{eventsPerBatch: 2_000, conns: cfg.clusterClients, insertIDs: cfg.clusterInsertIDs}

	var stops []func() error
	defer func() {
		for i := len(stops) - 1; i >= 0; i-- {
			if err := stops[i](); err != nil {
				logf("cleanup: %v", err)
			}
		}
	}()

	// 1. The single node.
	dir := filepath.Join(work, "single")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	retries := &importRetries{}
	single := loader
	single.retries = retries
	logf("cluster: single node: loading through %s", single.name())
	a, res, err := loadArb(ctx, bin, dir, dataset, 0, single)
	if err != nil {
		return err
	}
	stops = append(stops, a.stop)
	rep.loads = append(rep.loads, clusterLoad{setup: "single node", nodes: 1, res: res,
		shedRetries: retries.shed.Load(), leaderRetries: retries.leader.Load()})
	logf("cluster: single node: %s", describeLoad(res))

	// 2. The cluster of one, 3. the cluster of three.
	var one, three *arbCluster
	for _, s := range []struct {
		name string
		n    int
		c    **arbCluster
	}{{"cluster of one", 1, &one}, {"3-node cluster", 3, &three}} {
		logf("cluster: %s: loading", s.name)
		c, l, err := loadCluster(ctx, bin, filepath.Join(work, fmt.Sprintf("cluster%d", s.n)), dataset, s.n, loader)
		if err != nil {
			return err
		}
		stops = append(stops, c.stop)
		l.setup = s.name
		rep.loads = append(rep.loads, l)
		*s.c = c
		logf("cluster: %s: %s; every node applied after %.1f s; retries: %d after shed load, %d after a change of leader",
			s.name, describeLoad(l.res), l.allApplied.Seconds(), l.shedRetries, l.leaderRetries)
	}
	for _, l := range rep.loads {
		if l.res.rows != rep.loads[0].res.rows {
			return fmt.Errorf("%s loaded %d rows, the single node %d", l.setup, l.res.rows, rep.loads[0].res.rows)
		}
	}

	// Queries, interleaved.
	oneLeader, _, err := one.roles(ctx, time.Minute)
	if err != nil {
		return fmt.Errorf("cluster of one: %w", err)
	}
	leader, follower, err := three.roles(ctx, time.Minute)
	if err != nil {
		return fmt.Errorf("3-node cluster: %w", err)
	}
	rep.leaderBefore = leader.procName
	rep.follower = follower.procName
	engines := []engine{namedArb{a, "single"}, namedArb{oneLeader, "cluster of one"},
		namedArb{leader, "3 nodes: leader"}, namedArb{follower, "3 nodes: follower"}}
	rows, err := timeQueries(ctx, cfg, engines)
	if err != nil {
		return err
	}
	if l, _, err := three.roles(ctx, time.Minute); err != nil {
		rep.leaderAfter = "unknown: " + err.Error()
	} else {
		rep.leaderAfter = l.procName
	}
	rep.cmp = &report{cfg: cfg, engines: engines, rows: rows}
	rep.cmp.check()
	rep.loadAvgEnd = loadAverage()

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

// timeQueries times every query of queries.go (or of -queries) on each
// engine in turn, query by query, with its answer shaped as main.go does.
func timeQueries(ctx context.Context, cfg *config, engines []engine) ([]resultRow, error) {
	var out []resultRow
	for _, q := range queries {
		if cfg.onlyQueries != nil && !cfg.onlyQueries[q.id] {
			continue
		}
		row := resultRow{q: q, cells: make([]cellResult, len(engines))}
		for i, e := range engines {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			text := q.text[e.dialect()]
			if text == "" {
				row.cells[i] = cellResult{absent: true}
				continue
			}
			row.cells[i] = measure(ctx, e, text, cfg)
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
	if cfg.runs != 5 {
		s += " -runs " + strconv.Itoa(cfg.runs)
	}
	return s
}

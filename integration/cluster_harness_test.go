package integration

// The cluster harness: three bin/arb processes on loopback forming one
// Raft group (cluster mode, issue 15), and a load of clients that write
// events with insert_ids through SQL INSERT and HTTP /import, spread
// over the nodes and retrying the way SDKs do, and that keep track of
// every event acknowledged, so that a test can check that each one is
// stored exactly once on every node.

import (
	"bytes"
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"net/http"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
)

// Every node of a test cluster takes the same project.
const (
	clusterProject = "shop"
	clusterToken   = "tokc"
	clusterSecret  = "secc"
)

// testCluster is a Raft group of bin/arb processes. nodes[i] is node
// "n<i+1>".
type testCluster struct {
	t     *testing.T
	nodes []*arbProcess
}

// startCluster starts n nodes at once (a node started alone waits for a
// leader before it serves, so they must start together) with extra
// flags on each, and waits until every one serves.
func startCluster(t *testing.T, n int, extra ...string) *testCluster {
	t.Helper()
	return startClusterEach(t, n, func(int) []string { return extra })
}

// startClusterEach is startCluster with flags of each node's own:
// extra(i) for node i.
func startClusterEach(t *testing.T, n int, extra func(i int) []string) *testCluster {
	t.Helper()
	return startClusterPlaced(t, make([]nodePlace, n), extra)
}

// nodePlace is where a node of a test cluster runs: on loopback (the
// zero value) or in a network namespace of its own at address host
// (then with a root password: it listens beyond loopback).
type nodePlace struct{ host, netns string }

// startClusterPlaced is startClusterEach with node i placed at
// places[i].
func startClusterPlaced(t *testing.T, places []nodePlace, extra func(i int) []string) *testCluster {
	t.Helper()
	bin := arbBinary(t)
	n := len(places)
	var peers []string
	for i, pl := range places {
		host := pl.host
		if host == "" {
			host = "127.0.0.1"
		}
		peers = append(peers, fmt.Sprintf("n%d=%s:%d", i+1, host, freePort(t)))
	}
	c := &testCluster{t: t}
	for i := 0; i < n; i++ {
		args := append([]string{"--node-id", fmt.Sprintf("n%d", i+1), "--peers", strings.Join(peers, ","),
			"--project", clusterProject + ":" + clusterToken + ":" + clusterSecret}, extra(i)...)
		c.nodes = append(c.nodes, &arbProcess{t: t, bin: bin, dir: t.TempDir(), mysqlPort: freePort(t), httpPort: freePort(t), extra: args,
			host: places[i].host, netns: places[i].netns})
		if places[i].netns != "" {
			c.nodes[i].rootPassword = "pw"
		}
	}
	t.Cleanup(func() {
		for i, p := range c.nodes {
			if p.cmd != nil {
				p.cmd.Process.Kill()
				<-p.exited
				p.cmd = nil
			}
			if t.Failed() {
				t.Logf("log of n%d (last 12000 bytes, without raft's complaints about unreachable peers):\n%s", i+1, tailOf(quietRaft(p.log.String()), 12000))
			}
		}
	})
	start := time.Now()
	c.launch(t, c.all()...)
	c.await(t, c.all()...)
	leader, _ := c.waitLeader(t, c.all(), 30*time.Second)
	t.Logf("cluster of %d nodes serving %s after start, leader %s", n, time.Since(start).Round(time.Millisecond), leader)
	return c
}

// launch starts the processes of nodes (on their data directories and
// ports) without waiting for them: a node waits for a leader before it
// serves, so nodes restarted together must start together.
func (c *testCluster) launch(t *testing.T, nodes ...int) {
	t.Helper()
	for _, i := range nodes {
		p := c.nodes[i]
		if p.cmd != nil {
			t.Fatalf("n%d is running already", i+1)
		}
		if p.log == nil {
			p.log = &lockedBuffer{}
		}
		args := append([]string{p.bin, "serve", "--data-dir", p.dir,
			"--mysql-addr", fmt.Sprintf("%s:%d", p.addr(), p.mysqlPort),
			"--http-addr", fmt.Sprintf("%s:%d", p.addr(), p.httpPort)}, p.extra...)
		if p.netns != "" {
			// ip netns exec execs the command itself: the process is
			// arb's, so kill -9 and SIGSTOP reach arb.
			args = append([]string{"ip", "netns", "exec", p.netns}, args...)
		}
		if p.rootPassword != "" {
			args = append(args, "--root-password", p.rootPassword)
		}
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Stdout, cmd.Stderr = p.log, p.log
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		p.cmd = cmd
		p.exited = make(chan error, 1)
		go func(cmd *exec.Cmd, ch chan error) { ch <- cmd.Wait() }(cmd, p.exited)
	}
}

// await waits until each of nodes answers /healthz, and opens its DB().
func (c *testCluster) await(t *testing.T, nodes ...int) {
	t.Helper()
	for _, i := range nodes {
		p := c.nodes[i]
		deadline := time.Now().Add(60 * time.Second)
		for !healthy(p) {
			select {
			case err := <-p.exited:
				p.cmd = nil
				t.Fatalf("n%d exited during start-up: %v", i+1, err)
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("n%d not healthy 60 s after start", i+1)
			}
			time.Sleep(20 * time.Millisecond)
		}
		db, err := sql.Open("mysql", fmt.Sprintf("%s@tcp(%s:%d)/%s?parseTime=true&loc=UTC&interpolateParams=true", p.account(), p.addr(), p.mysqlPort, p.database()))
		if err != nil {
			t.Fatal(err)
		}
		p.db = db
	}
}

// quietRaft drops raft's lines about peers it cannot reach (one every
// few milliseconds while a node is down) from a node's log.
func quietRaft(log string) string {
	var b strings.Builder
	for _, line := range strings.SplitAfter(log, "\n") {
		if strings.Contains(line, "raft: failed to") || strings.Contains(line, "raft: Election timeout reached") {
			continue
		}
		b.WriteString(line)
	}
	return b.String()
}

func healthy(p *arbProcess) bool {
	resp, err := http.Get(p.url("/healthz"))
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == 200
}

// all is the indexes of every node.
func (c *testCluster) all() []int {
	var out []int
	for i := range c.nodes {
		out = append(out, i)
	}
	return out
}

// except is the indexes of every node but skip.
func (c *testCluster) except(skip int) []int {
	var out []int
	for i := range c.nodes {
		if i != skip {
			out = append(out, i)
		}
	}
	return out
}

// index is the position in nodes of node id ("n2" → 1).
func (c *testCluster) index(t *testing.T, id string) int {
	t.Helper()
	n, err := strconv.Atoi(strings.TrimPrefix(id, "n"))
	if err != nil || n < 1 || n > len(c.nodes) {
		t.Fatalf("no node %q in the cluster", id)
	}
	return n - 1
}

// clusterRow is a node's own row of arb.cluster.
type clusterRow struct {
	leader                   string // the member it says leads ("" if none)
	state                    string
	term, commit, applied    uint64
	lastIndex                uint64
	members, selfRows, voter int
}

// clusterStatus reads arb.cluster on node i, within timeout.
func (c *testCluster) clusterStatus(i int, timeout time.Duration) (clusterRow, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var st clusterRow
	rows, err := c.nodes[i].DB().QueryContext(ctx, "SELECT node, voter, is_self, is_leader, state, term, commit_index, applied_index, last_index FROM arb.cluster")
	if err != nil {
		return st, err
	}
	defer rows.Close()
	for rows.Next() {
		var node string
		var voter, self, leader bool
		var state sql.NullString
		var term, commit, applied, last sql.NullInt64
		if err := rows.Scan(&node, &voter, &self, &leader, &state, &term, &commit, &applied, &last); err != nil {
			return st, err
		}
		st.members++
		if voter {
			st.voter++
		}
		if leader {
			st.leader = node
		}
		if self {
			st.selfRows++
			st.state = state.String
			st.term, st.commit, st.applied, st.lastIndex = uint64(term.Int64), uint64(commit.Int64), uint64(applied.Int64), uint64(last.Int64)
		}
	}
	return st, rows.Err()
}

// waitLeader waits until every node of among names the same leader in
// arb.cluster, itself one of among, and returns it and how long that
// took.
func (c *testCluster) waitLeader(t *testing.T, among []int, within time.Duration) (string, time.Duration) {
	t.Helper()
	start := time.Now()
	var last string
	for time.Since(start) < within {
		agreed, leader := true, ""
		for k, i := range among {
			st, err := c.clusterStatus(i, 2*time.Second)
			if err != nil {
				last = fmt.Sprintf("n%d: %v", i+1, err)
				agreed = false
				break
			}
			if st.members != len(c.nodes) || st.selfRows != 1 || st.voter != len(c.nodes) {
				t.Fatalf("n%d: arb.cluster has %d members (%d voters, %d rows of itself), want %d voters and one row of itself", i+1, st.members, st.voter, st.selfRows, len(c.nodes))
			}
			if k == 0 {
				leader = st.leader
			}
			if st.leader == "" || st.leader != leader {
				last = fmt.Sprintf("n%d: leader %q (state %s, term %d)", i+1, st.leader, st.state, st.term)
				agreed = false
				break
			}
		}
		if agreed && leader != "" {
			inside := false
			for _, i := range among {
				inside = inside || fmt.Sprintf("n%d", i+1) == leader
			}
			if inside {
				return leader, time.Since(start)
			}
			last = "leader " + leader + " is not among the nodes asked"
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no agreed leader among %v within %s: %s", among, within, last)
	return "", 0
}

// waitLeaderMetric waits until one node of among says on /metrics that
// it leads (arb_cluster_is_leader 1), and returns it and how long that
// took: unlike arb.cluster, /metrics answers whatever the group's state.
func (c *testCluster) waitLeaderMetric(t *testing.T, among []int, within time.Duration) (int, time.Duration) {
	t.Helper()
	client := &http.Client{Timeout: time.Second}
	start := time.Now()
	for time.Since(start) < within {
		for _, i := range among {
			resp, err := client.Get(c.nodes[i].url("/metrics"))
			if err != nil {
				continue
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if strings.Contains(string(body), "\narb_cluster_is_leader 1\n") {
				return i, time.Since(start)
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no node of %v says it leads on /metrics within %s", among, within)
	return -1, 0
}

// waitCaughtUp waits until node i has applied every entry the leader had
// committed when it was called, and returns how long that took.
func (c *testCluster) waitCaughtUp(t *testing.T, i int, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	leader, _ := c.waitLeader(t, c.all(), within)
	lst, err := c.clusterStatus(c.index(t, leader), 5*time.Second)
	if err != nil {
		t.Fatalf("arb.cluster on the leader %s: %v", leader, err)
	}
	for {
		st, err := c.clusterStatus(i, 5*time.Second)
		if err == nil && st.applied >= lst.commit {
			return time.Since(start)
		}
		if time.Since(start) > within {
			t.Fatalf("n%d has not caught up within %s: applied %d, leader's commit index %d (err %v)", i+1, within, st.applied, lst.commit, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// eventTally is what one node holds: events, distinct insert_ids, the
// sum of amount, and the insert_ids stored more than once.
type eventTally struct {
	rows, ids int
	sum       int64
	dups      []string
}

func (c *testCluster) tally(t *testing.T, i int) eventTally {
	t.Helper()
	db := c.nodes[i].DB()
	var tl eventTally
	var sum sql.NullInt64
	if err := db.QueryRow("SELECT count(*), count(DISTINCT insert_id), CAST(coalesce(sum(amount), 0) AS SIGNED) FROM events").Scan(&tl.rows, &tl.ids, &sum); err != nil {
		t.Fatalf("n%d: tally events: %v", i+1, err)
	}
	tl.sum = sum.Int64
	rows, err := db.Query("SELECT insert_id, count(*) FROM events GROUP BY insert_id HAVING count(*) > 1 ORDER BY insert_id LIMIT 10")
	if err != nil {
		t.Fatalf("n%d: duplicates: %v", i+1, err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var n int
		if err := rows.Scan(&id, &n); err != nil {
			t.Fatal(err)
		}
		tl.dups = append(tl.dups, fmt.Sprintf("%s×%d", id, n))
	}
	return tl
}

// storedIDs is the set of insert_ids node i holds.
func (c *testCluster) storedIDs(t *testing.T, i int) map[string]bool {
	t.Helper()
	rows, err := c.nodes[i].DB().Query("SELECT insert_id FROM events")
	if err != nil {
		t.Fatalf("n%d: %v", i+1, err)
	}
	defer rows.Close()
	ids := map[string]bool{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids[id] = true
	}
	return ids
}

// checkExactlyOnce checks that node i holds every event the load had
// acknowledged, each once, and nothing it did not send; with every batch
// acknowledged (the load's clients retry until then) that is exactly the
// acknowledged count and sum of amount.
func (c *testCluster) checkExactlyOnce(t *testing.T, l *clusterLoad, i int, when string) eventTally {
	t.Helper()
	tl := c.tally(t, i)
	acked, sum, pending := l.totals()
	if len(tl.dups) > 0 {
		t.Errorf("%s: n%d stores insert_ids more than once: %v", when, i+1, tl.dups)
	}
	if pending == 0 && (tl.rows != acked || tl.ids != acked || tl.sum != sum) {
		missing, extra := l.diff(c.storedIDs(t, i))
		t.Errorf("%s: n%d holds %d events (%d insert_ids, sum of amount %d); %d were acknowledged (sum %d); missing %v; never sent %v",
			when, i+1, tl.rows, tl.ids, tl.sum, acked, sum, missing, extra)
	}
	if pending > 0 {
		missing, extra := l.diff(c.storedIDs(t, i))
		if len(missing) > 0 || len(extra) > 0 {
			t.Errorf("%s: n%d: acknowledged events missing %v; events never sent %v", when, i+1, missing, extra)
		}
	}
	return tl
}

// clusterLoad writes batches of events with insert_ids through SQL
// INSERT and HTTP /import, each batch to one node (the writers take the
// nodes in turn), retrying a batch the way SDKs do until it is
// acknowledged: on error 1205 / HTTP 503 (no leader or quorum for now),
// and on a refused or broken connection (the node is down: the next
// attempt goes to the next node). Readers check, meanwhile, that a
// count on any node is at least the events acknowledged before it
// started. Any other answer is a failure.
type clusterLoad struct {
	c       *testCluster
	pools   []*sql.DB // one per node, the load's own: they outlive node restarts
	client  *http.Client
	stopped chan struct{}
	wg      sync.WaitGroup

	mu       sync.Mutex
	acked    map[string]int64 // insert_id → amount, acknowledged
	pending  map[string]int64 // insert_id → amount, sent and not acknowledged yet
	ackedSum int64
	batches  int            // batches acknowledged
	retries  map[string]int // kind of retried answer → times
	failures []string       // requests that failed beyond retries, or wrongly
	reads    int            // counts checked by readers
	acks     []batchAck     // every batch acknowledged, in order
}

// batchAck is when a batch was first sent and when it was acknowledged.
type batchAck struct{ sent, acked time.Time }

// clusterRetryBudget is how long a client keeps retrying one request
// (an SDK's retry window): far beyond a failover's second or two.
const clusterRetryBudget = 30 * time.Second

func newClusterLoad(c *testCluster) *clusterLoad {
	l := &clusterLoad{c: c, client: &http.Client{Timeout: 20 * time.Second}, stopped: make(chan struct{}),
		acked: map[string]int64{}, pending: map[string]int64{}, retries: map[string]int{}}
	for _, p := range c.nodes {
		db, err := sql.Open("mysql", fmt.Sprintf("%s@tcp(%s:%d)/%s?interpolateParams=true&timeout=2s&readTimeout=20s&writeTimeout=5s", p.account(), p.addr(), p.mysqlPort, clusterProject))
		if err != nil {
			c.t.Fatal(err)
		}
		db.SetMaxIdleConns(4)
		l.pools = append(l.pools, db)
	}
	c.t.Cleanup(func() {
		l.stop()
		for _, db := range l.pools {
			db.Close()
		}
	})
	return l
}

// start runs sqlWriters + httpWriters writer goroutines and readers
// reader goroutines until stop.
func (l *clusterLoad) start(sqlWriters, httpWriters, readers int, seed int64) {
	r := rand.New(rand.NewSource(seed))
	for w := 0; w < sqlWriters+httpWriters; w++ {
		l.wg.Add(1)
		go l.writer(w, w < sqlWriters, rand.New(rand.NewSource(r.Int63())))
	}
	for k := 0; k < readers; k++ {
		l.wg.Add(1)
		go l.reader(k, rand.New(rand.NewSource(r.Int63())))
	}
}

// stop ends the load: each writer finishes its batch (retrying until it
// is acknowledged) and returns.
func (l *clusterLoad) stop() {
	select {
	case <-l.stopped:
	default:
		close(l.stopped)
	}
	l.wg.Wait()
}

func (l *clusterLoad) running() bool {
	select {
	case <-l.stopped:
		return false
	default:
		return true
	}
}

// clusterEvent is one event a writer sends.
type clusterEvent struct {
	insertID, distinctID, event string
	timeMillis, amount          int64
}

// base day of the load's events: a fixed past day, so that a retried
// event falls on the same day as its first attempt.
var clusterDay = time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)

func (l *clusterLoad) writer(w int, viaSQL bool, r *rand.Rand) {
	defer l.wg.Done()
	for b := 0; l.running(); b++ {
		sent := time.Now()
		n := 1 + r.Intn(20)
		events := make([]clusterEvent, n)
		for i := range events {
			events[i] = clusterEvent{
				insertID:   fmt.Sprintf("w%d-%d-%d", w, b, i),
				distinctID: fmt.Sprintf("u%d", r.Intn(500)),
				event:      []string{"View", "Cart", "Buy"}[r.Intn(3)],
				timeMillis: clusterDay.UnixMilli() + r.Int63n(3*24*3600*1000),
				amount:     1 + r.Int63n(1000),
			}
		}
		l.mu.Lock()
		for _, e := range events {
			l.pending[e.insertID] = e.amount
		}
		l.mu.Unlock()
		var err error
		if viaSQL {
			err = l.retry(w+b, fmt.Sprintf("writer %d batch %d (SQL, %d events)", w, b, n), func(node int) (string, time.Duration, error) {
				return l.insertSQL(node, events)
			})
		} else {
			err = l.retry(w+b, fmt.Sprintf("writer %d batch %d (/import, %d events)", w, b, n), func(node int) (string, time.Duration, error) {
				return l.importHTTP(node, events)
			})
		}
		if err != nil {
			l.fail(err.Error())
			return
		}
		l.mu.Lock()
		for _, e := range events {
			delete(l.pending, e.insertID)
			l.acked[e.insertID] = e.amount
			l.ackedSum += e.amount
		}
		l.batches++
		l.acks = append(l.acks, batchAck{sent: sent, acked: time.Now()})
		l.mu.Unlock()
	}
}

// retry runs attempt on node first, then the next nodes in turn, while
// it answers a retryable kind, until it succeeds or the retry budget is
// spent.
func (l *clusterLoad) retry(first int, what string, attempt func(node int) (kind string, wait time.Duration, err error)) error {
	start := time.Now()
	for k := 0; ; k++ {
		node := (first + k) % len(l.pools)
		kind, wait, err := attempt(node)
		if err == nil {
			return nil
		}
		if kind == "" {
			return fmt.Errorf("%s on n%d: %v", what, node+1, err)
		}
		l.mu.Lock()
		l.retries[kind]++
		l.mu.Unlock()
		if time.Since(start) > clusterRetryBudget {
			return fmt.Errorf("%s: still failing after %s of retries, last on n%d: %v", what, clusterRetryBudget, node+1, err)
		}
		time.Sleep(wait)
	}
}

func (l *clusterLoad) insertSQL(node int, events []clusterEvent) (string, time.Duration, error) {
	var q strings.Builder
	q.WriteString("INSERT INTO events (time, event, distinct_id, insert_id, amount, src) VALUES ")
	for i, e := range events {
		if i > 0 {
			q.WriteByte(',')
		}
		fmt.Fprintf(&q, "('%s', '%s', '%s', '%s', %d, 'sql')", time.UnixMilli(e.timeMillis).UTC().Format("2006-01-02 15:04:05.000"),
			e.event, e.distinctID, e.insertID, e.amount)
	}
	_, err := l.pools[node].Exec(q.String())
	kind, wait := sqlRetryable(err)
	return kind, wait, err
}

func (l *clusterLoad) importHTTP(node int, events []clusterEvent) (string, time.Duration, error) {
	records := make([]map[string]any, len(events))
	for i, e := range events {
		records[i] = map[string]any{"event": e.event, "properties": map[string]any{
			"time": e.timeMillis, "distinct_id": e.distinctID, "$insert_id": e.insertID, "amount": e.amount, "src": "http"}}
	}
	body, _ := json.Marshal(records)
	status, got, header, err := l.post(node, "/import?strict=1", body)
	if err != nil {
		return "http connection", 50 * time.Millisecond, err
	}
	switch {
	case status == 200 && strings.Contains(got, fmt.Sprintf(`"num_records_imported":%d`, len(events))):
		return "", 0, nil
	case status == http.StatusServiceUnavailable || status == http.StatusTooManyRequests:
		// As the SDKs do: wait what Retry-After says.
		wait := 100 * time.Millisecond
		if s, err := strconv.Atoi(header.Get("Retry-After")); err == nil {
			wait = time.Duration(s) * time.Second
		}
		return fmt.Sprintf("http %d", status), wait, fmt.Errorf("HTTP %d: %s", status, got)
	}
	return "", 0, fmt.Errorf("HTTP %d: %s", status, got)
}

func (l *clusterLoad) post(node int, path string, body []byte) (int, string, http.Header, error) {
	req, err := http.NewRequest("POST", l.c.nodes[node].url(path), bytes.NewReader(body))
	if err != nil {
		return 0, "", nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.SetBasicAuth(clusterSecret, "")
	resp, err := l.client.Do(req)
	if err != nil {
		return 0, "", nil, err
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, "", nil, err
	}
	return resp.StatusCode, string(got), resp.Header, nil
}

// sqlRetryable classifies a MySQL client error: the kind to count and
// the wait before the next attempt, or "" if it is not to be retried.
func sqlRetryable(err error) (string, time.Duration) {
	if err == nil {
		return "", 0
	}
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		switch me.Number {
		case 1205: // ER_LOCK_WAIT_TIMEOUT: no leader or quorum for now
			return "mysql 1205", 100 * time.Millisecond
		case 1053: // ER_SERVER_SHUTDOWN: the node is stopping
			return "mysql 1053", 50 * time.Millisecond
		}
		return "", 0
	}
	msg := err.Error()
	if errors.Is(err, driver.ErrBadConn) || errors.Is(err, mysql.ErrInvalidConn) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		strings.Contains(msg, "connection refused") || strings.Contains(msg, "connection reset") || strings.Contains(msg, "broken pipe") {
		return "mysql connection", 50 * time.Millisecond
	}
	return "", 0
}

// reader counts events on the nodes in turn: a count must never be
// below the events acknowledged before it started (a read on any node
// sees every write acknowledged by any node before it).
func (l *clusterLoad) reader(k int, r *rand.Rand) {
	defer l.wg.Done()
	for q := 0; l.running(); q++ {
		acked, _, _ := l.totals()
		var n int
		err := l.retry(k+q, fmt.Sprintf("reader %d query %d", k, q), func(node int) (string, time.Duration, error) {
			err := l.pools[node].QueryRow("SELECT count(*) FROM events").Scan(&n)
			kind, wait := sqlRetryable(err)
			return kind, wait, err
		})
		if err != nil {
			l.fail(err.Error())
			return
		}
		if n < acked {
			l.fail(fmt.Sprintf("reader %d query %d: count(*) = %d, but %d events were acknowledged before it started", k, q, n, acked))
			return
		}
		l.mu.Lock()
		l.reads++
		l.mu.Unlock()
		time.Sleep(time.Duration(r.Intn(20)) * time.Millisecond)
	}
}

// sending notes an event sent outside the load's writers (its outcome
// unknown until acked is called with it).
func (l *clusterLoad) sending(insertID string, amount int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.pending[insertID] = amount
}

// ackedOne notes that an event sent outside the writers was acknowledged.
func (l *clusterLoad) ackedOne(insertID string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.acked[insertID] = l.pending[insertID]
	l.ackedSum += l.pending[insertID]
	delete(l.pending, insertID)
}

func (l *clusterLoad) fail(msg string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.failures = append(l.failures, msg)
}

// totals: events acknowledged, their sum of amount, events sent but not
// acknowledged (yet).
func (l *clusterLoad) totals() (acked int, sum int64, pending int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.acked), l.ackedSum, len(l.pending)
}

// waitAcked waits until at least n more events are acknowledged than
// when it was called, and returns how long that took.
func (l *clusterLoad) waitAcked(t *testing.T, n int, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	from, _, _ := l.totals()
	for {
		now, _, _ := l.totals()
		if now >= from+n {
			return time.Since(start)
		}
		l.mu.Lock()
		failures := l.failures
		l.mu.Unlock()
		if len(failures) > 0 {
			t.Fatalf("load failed: %s", strings.Join(failures, "\n"))
		}
		if time.Since(start) > within {
			t.Fatalf("%d events acknowledged in %s, want %d more", now-from, within, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// firstAckSentAfter is the earliest acknowledgement of a batch first
// sent after t0 (zero if none yet).
func (l *clusterLoad) firstAckSentAfter(t0 time.Time) time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	var first time.Time
	for _, a := range l.acks {
		if a.sent.After(t0) && (first.IsZero() || a.acked.Before(first)) {
			first = a.acked
		}
	}
	return first
}

// checkNoFailures fails the test with every request that failed beyond
// retries (or answered wrongly), and logs the retries the clients made.
func (l *clusterLoad) checkNoFailures(t *testing.T) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	var kinds []string
	for k, n := range l.retries {
		kinds = append(kinds, fmt.Sprintf("%s: %d", k, n))
	}
	sort.Strings(kinds)
	t.Logf("load: %d batches, %d events acknowledged (sum of amount %d), %d counts checked; retries {%s}",
		l.batches, len(l.acked), l.ackedSum, l.reads, strings.Join(kinds, ", "))
	if len(l.failures) > 0 {
		t.Fatalf("%d requests failed beyond retries or answered wrongly:\n%s", len(l.failures), strings.Join(l.failures, "\n"))
	}
}

// diff compares the insert_ids a node holds with the load's: the
// acknowledged ones it lacks, and those it holds that were never sent (at
// most 10 of each).
func (l *clusterLoad) diff(stored map[string]bool) (missing, extra []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for id := range l.acked {
		if !stored[id] && len(missing) < 10 {
			missing = append(missing, id)
		}
	}
	for id := range stored {
		_, a := l.acked[id]
		_, p := l.pending[id]
		if !a && !p && len(extra) < 10 {
			extra = append(extra, id)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	return missing, extra
}

package integration

// A Jepsen-style check of cluster mode (issue 15): clients write and read
// through random nodes of a three-node cluster while a nemesis kills
// (kill -9), freezes (SIGSTOP) and, as root with ip(8), cuts off nodes
// by network partitions; every operation's invocation, completion and
// outcome is recorded in a history, and the history is checked against
// the nodes' final contents and against what every read returned.
//
// The model: each writer is a client c that sends operations c/0, c/1,
// … one at a time; operation c/k is one batch of events, each with its
// own insert_id, all carrying client = c and seq = k. An operation ends
// acknowledged (stored, on a quorum), failed (the server says nothing
// was stored, or the connection was refused before anything was sent)
// or indeterminate (a time-out, a broken connection, "may or may not be
// stored"). What must hold:
//
//   - final state, on every node once healed and caught up: an
//     acknowledged operation's events are there, each once; a failed
//     one's are not; an indeterminate one's are all there or none, the
//     same on every node; nothing is there that no operation sent
//     (phantoms); no insert_id is stored twice; every node holds the
//     same operations.
//   - reads: a read of client c's operations (seq → events) includes
//     every operation of c acknowledged before the read started (reads
//     see acknowledged writes, on any node), shows only operations
//     invoked before it ended and not failed, each whole, and none
//     that is gone at the end (a dirty read); a count(*)
//     read lies between the events acknowledged before it started and
//     those invoked (not failed) before it ended.
//
// TestClusterFailoverKills measures failover: successive kill -9s of the
// leader under load, the time to a new leader and to the first
// acknowledged write, and no acknowledged event lost. Timings are
// printed, never asserted (the machine is shared and noisy).

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"net"
	"net/http"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
)

// soakOutcome is how an operation ended.
type soakOutcome int

const (
	opOK            soakOutcome = iota // acknowledged
	opFailed                           // definitely not applied
	opIndeterminate                    // may or may not be applied
)

func (o soakOutcome) String() string {
	return [...]string{"ok", "failed", "indeterminate"}[o]
}

// soakOp is one operation of the history.
type soakOp struct {
	client, seq int    // writes: the operation's identity; reads: the client read (-1: count(*))
	write       bool   // a write, else a read
	node        int    // the node it went to
	via         string // "sql" or "import" for writes
	events      int    // writes: events in the batch
	invoke, end time.Time
	outcome     soakOutcome
	err         string
	// reads, when opOK: the count(*) or, per seq, events and distinct
	// insert_ids.
	count int
	seqs  map[int][2]int
}

// soakHistory is the log of operations, appended by the clients.
type soakHistory struct {
	mu  sync.Mutex
	ops []*soakOp
}

func (h *soakHistory) add(op *soakOp) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.ops = append(h.ops, op)
}

// soakClients runs the writers and readers against the cluster's nodes
// through pools of their own (which outlive node restarts).
type soakClients struct {
	c       *testCluster
	pools   []*sql.DB
	http    *http.Client
	hist    soakHistory
	stopped chan struct{}
	wg      sync.WaitGroup
}

// soakClientTimeout is a client's patience with one request: shorter
// than the server's write time-out (30 s), so that some requests to a
// frozen or cut-off node end indeterminate, as they do for real clients.
const soakClientTimeout = 6 * time.Second

func newSoakClients(c *testCluster) *soakClients {
	s := &soakClients{c: c, http: &http.Client{Timeout: soakClientTimeout}, stopped: make(chan struct{})}
	for _, p := range c.nodes {
		db, err := sql.Open("mysql", fmt.Sprintf("%s@tcp(%s:%d)/%s?interpolateParams=true&timeout=2s&readTimeout=%s&writeTimeout=%s",
			p.account(), p.addr(), p.mysqlPort, clusterProject, soakClientTimeout, soakClientTimeout))
		if err != nil {
			c.t.Fatal(err)
		}
		db.SetMaxIdleConns(8)
		// A connection to a node that was killed is broken: drop
		// idle ones soon so that the next operation dials afresh.
		db.SetConnMaxIdleTime(2 * time.Second)
		s.pools = append(s.pools, db)
	}
	c.t.Cleanup(func() {
		s.stop()
		for _, db := range s.pools {
			db.Close()
		}
	})
	return s
}

func (s *soakClients) start(writers, readers int, seed int64) {
	r := rand.New(rand.NewSource(seed))
	for w := 0; w < writers; w++ {
		s.wg.Add(1)
		go s.writer(w, rand.New(rand.NewSource(r.Int63())))
	}
	for k := 0; k < readers; k++ {
		s.wg.Add(1)
		go s.reader(writers, rand.New(rand.NewSource(r.Int63())))
	}
}

// ackedSince reports whether a write invoked after t0 is acknowledged.
func (s *soakClients) ackedSince(t0 time.Time) bool {
	s.hist.mu.Lock()
	defer s.hist.mu.Unlock()
	for k := len(s.hist.ops) - 1; k >= 0; k-- {
		if op := s.hist.ops[k]; op.write && op.outcome == opOK && op.invoke.After(t0) {
			return true
		}
	}
	return false
}

func (s *soakClients) stop() {
	select {
	case <-s.stopped:
	default:
		close(s.stopped)
	}
	s.wg.Wait()
}

func (s *soakClients) running() bool {
	select {
	case <-s.stopped:
		return false
	default:
		return true
	}
}

// writer sends client w's operations, each once (no retry: a retry would
// hide an outcome), to a random node, half by SQL INSERT, half by
// /import.
func (s *soakClients) writer(w int, r *rand.Rand) {
	defer s.wg.Done()
	for seq := 0; s.running(); seq++ {
		op := &soakOp{client: w, seq: seq, write: true, node: r.Intn(len(s.pools)), events: 1 + r.Intn(8)}
		events := make([]clusterEvent, op.events)
		for i := range events {
			events[i] = clusterEvent{
				insertID:   fmt.Sprintf("c%d-%d-%d", w, seq, i),
				distinctID: fmt.Sprintf("u%d", r.Intn(200)),
				event:      []string{"View", "Cart", "Buy"}[r.Intn(3)],
				timeMillis: clusterDay.UnixMilli() + r.Int63n(3*24*3600*1000),
				amount:     1 + r.Int63n(1000),
			}
		}
		op.invoke = time.Now()
		var err error
		if r.Intn(2) == 0 {
			op.via = "sql"
			op.outcome, err = s.insertSQL(op.node, w, seq, events)
		} else {
			op.via = "import"
			op.outcome, err = s.importHTTP(op.node, w, seq, events)
		}
		op.end = time.Now()
		if err != nil {
			op.err = err.Error()
		}
		s.hist.add(op)
		if op.outcome != opOK {
			// As a client backs off after an error.
			time.Sleep(time.Duration(20+r.Intn(80)) * time.Millisecond)
		}
	}
}

func (s *soakClients) insertSQL(node, client, seq int, events []clusterEvent) (soakOutcome, error) {
	var q strings.Builder
	q.WriteString("INSERT INTO events (time, event, distinct_id, insert_id, amount, client, seq) VALUES ")
	for i, e := range events {
		if i > 0 {
			q.WriteByte(',')
		}
		fmt.Fprintf(&q, "('%s', '%s', '%s', '%s', %d, 'c%d', %d)", time.UnixMilli(e.timeMillis).UTC().Format("2006-01-02 15:04:05.000"),
			e.event, e.distinctID, e.insertID, e.amount, client, seq)
	}
	ctx, cancel := context.WithTimeout(context.Background(), soakClientTimeout)
	defer cancel()
	_, err := s.pools[node].ExecContext(ctx, q.String())
	return classifySQLWrite(err), err
}

// classifySQLWrite: acknowledged; failed when nothing can have reached
// a leader (no connection, or the server says nothing was stored);
// indeterminate otherwise.
func classifySQLWrite(err error) soakOutcome {
	if err == nil {
		return opOK
	}
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		if strings.Contains(me.Message, "nothing was stored") {
			return opFailed
		}
		return opIndeterminate
	}
	if dialRefused(err) {
		return opFailed
	}
	return opIndeterminate
}

// dialRefused reports a connection that could not be made: the request
// was never sent.
func dialRefused(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	return strings.Contains(err.Error(), "connection refused")
}

func (s *soakClients) importHTTP(node, client, seq int, events []clusterEvent) (soakOutcome, error) {
	records := make([]map[string]any, len(events))
	for i, e := range events {
		records[i] = map[string]any{"event": e.event, "properties": map[string]any{
			"time": e.timeMillis, "distinct_id": e.distinctID, "$insert_id": e.insertID, "amount": e.amount,
			"client": fmt.Sprintf("c%d", client), "seq": seq}}
	}
	body, _ := json.Marshal(records)
	req, err := http.NewRequest("POST", s.c.nodes[node].url("/import?strict=1"), strings.NewReader(string(body)))
	if err != nil {
		return opFailed, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.SetBasicAuth(clusterSecret, "")
	resp, err := s.http.Do(req)
	if err != nil {
		if dialRefused(err) {
			return opFailed, err
		}
		return opIndeterminate, err
	}
	defer resp.Body.Close()
	var reply struct {
		Imported int    `json:"num_records_imported"`
		Error    string `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&reply); err != nil {
		return opIndeterminate, fmt.Errorf("HTTP %d: reply: %v", resp.StatusCode, err)
	}
	switch {
	case resp.StatusCode == 200 && reply.Imported == len(events):
		return opOK, nil
	case resp.StatusCode == 200:
		return opIndeterminate, fmt.Errorf("HTTP 200 with %d of %d records imported", reply.Imported, len(events))
	case strings.Contains(reply.Error, "nothing was stored"):
		return opFailed, fmt.Errorf("HTTP %d: %s", resp.StatusCode, reply.Error)
	}
	return opIndeterminate, fmt.Errorf("HTTP %d: %s", resp.StatusCode, reply.Error)
}

// reader reads, from random nodes, either one client's operations (seq
// → events) or count(*).
func (s *soakClients) reader(writers int, r *rand.Rand) {
	defer s.wg.Done()
	for s.running() {
		op := &soakOp{client: r.Intn(writers), node: r.Intn(len(s.pools))}
		if r.Intn(4) == 0 {
			op.client = -1
		}
		op.invoke = time.Now()
		err := s.read(op)
		op.end = time.Now()
		if err != nil {
			op.outcome, op.err = opFailed, err.Error()
		}
		s.hist.add(op)
		time.Sleep(time.Duration(r.Intn(30)) * time.Millisecond)
	}
}

func (s *soakClients) read(op *soakOp) error {
	ctx, cancel := context.WithTimeout(context.Background(), soakClientTimeout)
	defer cancel()
	db := s.pools[op.node]
	if op.client < 0 {
		return db.QueryRowContext(ctx, "SELECT count(*) FROM events").Scan(&op.count)
	}
	rows, err := db.QueryContext(ctx, "SELECT seq, count(*), count(DISTINCT insert_id) FROM events WHERE client = ? GROUP BY seq", fmt.Sprintf("c%d", op.client))
	if err != nil {
		return err
	}
	defer rows.Close()
	op.seqs = map[int][2]int{}
	for rows.Next() {
		var seq, n, distinct int
		if err := rows.Scan(&seq, &n, &distinct); err != nil {
			return err
		}
		op.seqs[seq] = [2]int{n, distinct}
	}
	return rows.Err()
}

// soakNemesis injects one fault at a time (so the two other nodes keep a
// quorum) and heals it before the next.
type soakNemesis struct {
	c         *testCluster
	ns        *soakNetns // nil: no partitions
	r         *rand.Rand
	kills     int
	leaderHit int // faults aimed at the leader
	freezes   int
	parts     int
	log       []string
}

// leader is the node that says on /metrics it leads, or -1.
func (n *soakNemesis) leader() int {
	client := &http.Client{Timeout: 500 * time.Millisecond}
	for i, p := range n.c.nodes {
		if p.cmd == nil {
			continue
		}
		resp, err := client.Get(p.url("/metrics"))
		if err != nil {
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.Contains(string(body), "\narb_cluster_is_leader 1\n") {
			return i
		}
	}
	return -1
}

// victim picks the leader two times in three, else a random node.
func (n *soakNemesis) victim() int {
	if n.r.Intn(3) > 0 {
		if l := n.leader(); l >= 0 {
			n.leaderHit++
			return l
		}
	}
	return n.r.Intn(len(n.c.nodes))
}

// step injects one fault, waits, heals it, and lets the cluster run
// healthy for a moment.
func (n *soakNemesis) step(t *testing.T) {
	t.Helper()
	c := n.c
	kinds := []string{"kill", "freeze"}
	if n.ns != nil {
		kinds = append(kinds, "isolate", "cut")
	}
	kind := kinds[n.r.Intn(len(kinds))]
	v := n.victim()
	hold := time.Duration(500+n.r.Intn(4000)) * time.Millisecond
	if kind == "isolate" || kind == "cut" {
		// Sometimes past the 5 s after which a node without a leader
		// refuses writes at once, saying whether anything was stored.
		hold = time.Duration(1000+n.r.Intn(7000)) * time.Millisecond
	}
	start := time.Now()
	switch kind {
	case "kill":
		c.nodes[v].Kill()
		n.kills++
		time.Sleep(hold)
		c.launch(t, v)
		c.await(t, v)
	case "freeze":
		if err := c.nodes[v].cmd.Process.Signal(syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
		n.freezes++
		time.Sleep(hold)
		if err := c.nodes[v].cmd.Process.Signal(syscall.SIGCONT); err != nil {
			t.Fatal(err)
		}
	case "isolate":
		// v reaches neither other node (nor they it); clients reach all.
		for _, o := range c.except(v) {
			n.ns.cut(t, v, o)
		}
		n.parts++
		time.Sleep(hold)
		for _, o := range c.except(v) {
			n.ns.heal(t, v, o)
		}
	case "cut":
		// One link down: v and o each still reach the third node,
		// which may lead both sides.
		o := c.except(v)[n.r.Intn(len(c.nodes)-1)]
		n.ns.cut(t, v, o)
		n.parts++
		time.Sleep(hold)
		n.ns.heal(t, v, o)
		kind = fmt.Sprintf("cut n%d from", o+1)
	}
	n.log = append(n.log, fmt.Sprintf("%s n%d for %s (healed %s later)", kind, v+1, hold, time.Since(start).Round(time.Millisecond)))
	time.Sleep(time.Duration(300+n.r.Intn(2000)) * time.Millisecond)
}

// soakNetns is where the nodes run (netnsHosts): the test reaches every
// node at its address; a partition is a pair of blackhole routes
// between two nodes' namespaces.
type soakNetns struct {
	places []nodePlace
}

// netnsUsable: root, with ip(8), and not turned off by ARB_SOAK_NETNS=0.
func netnsUsable() bool {
	if os.Getenv("ARB_SOAK_NETNS") == "0" || os.Geteuid() != 0 {
		return false
	}
	_, err := exec.LookPath("ip")
	return err == nil
}

func newSoakNetns(t *testing.T, n int) *soakNetns {
	t.Helper()
	return &soakNetns{places: netnsHosts(t, "arbsk", 200, n)}
}

// cut drops the packets between nodes a and b, both ways.
func (s *soakNetns) cut(t *testing.T, a, b int) {
	t.Helper()
	runIP(t, s.places[a].netns, "route", "add", "blackhole", s.places[b].host+"/32")
	runIP(t, s.places[b].netns, "route", "add", "blackhole", s.places[a].host+"/32")
}

func (s *soakNetns) heal(t *testing.T, a, b int) {
	t.Helper()
	runIP(t, s.places[a].netns, "route", "del", "blackhole", s.places[b].host+"/32")
	runIP(t, s.places[b].netns, "route", "del", "blackhole", s.places[a].host+"/32")
}

// TestClusterSoak runs the clients and the nemesis for ARB_SOAK_SECONDS
// (20 by default; `make soak` runs 300), heals everything, waits until
// every node has applied the leader's log, and checks the history.
func TestClusterSoak(t *testing.T) {
	seconds := envInt(t, "ARB_SOAK_SECONDS", 20)
	seed := time.Now().UnixNano()
	if v := os.Getenv("ARB_SOAK_SEED"); v != "" {
		var err error
		if seed, err = strconv.ParseInt(v, 10, 64); err != nil {
			t.Fatalf("ARB_SOAK_SEED=%q: %v", v, err)
		}
	}
	t.Logf("seed %d (ARB_SOAK_SEED reruns the nemesis's choices)", seed)
	places := make([]nodePlace, 3)
	var ns *soakNetns
	if netnsUsable() {
		ns = newSoakNetns(t, 3)
		places = ns.places
	} else {
		t.Logf("no network partitions (they need root and ip(8); ARB_SOAK_NETNS=0 turns them off)")
	}
	// A small --flush-rows flushes segments during the run, so that
	// restarted nodes replay the log from a manifest's applied index.
	c := startClusterPlaced(t, places, func(int) []string { return []string{"--flush-rows", "3000"} })
	clients := newSoakClients(c)
	clients.start(4, 2, seed)
	nem := &soakNemesis{c: c, ns: ns, r: rand.New(rand.NewSource(seed))}
	deadline := time.Now().Add(time.Duration(seconds) * time.Second)
	for time.Now().Before(deadline) {
		nem.step(t)
	}
	// Everything is healed (each step heals its fault): writes go
	// through again. Wait for one sent after the last heal to be
	// acknowledged (a wedged cluster fails here).
	healed := time.Now()
	for !clients.ackedSince(healed) {
		if time.Since(healed) > 60*time.Second {
			t.Errorf("no write sent after the last fault was healed acknowledged within 60 s")
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	clients.stop()
	for _, line := range nem.log {
		t.Logf("nemesis: %s", line)
	}

	leader, _ := c.waitLeader(t, c.all(), 30*time.Second)
	for _, i := range c.all() {
		c.waitCaughtUp(t, i, 60*time.Second)
	}
	final := make([]map[[2]int][2]int, len(c.nodes))
	for _, i := range c.all() {
		final[i] = soakFinalState(t, c, i)
		if tl := c.tally(t, i); len(tl.dups) > 0 {
			t.Errorf("n%d stores insert_ids more than once: %v", i+1, tl.dups)
		}
	}
	v := checkSoakHistory(clients.hist.ops, final)
	sum := summarizeSoak(clients.hist.ops, final[0])
	t.Logf("SOAK %ds seed %d leader %s: %s; nemesis: %d kills, %d freezes, %d partitions (%d aimed at the leader); violations %d",
		seconds, seed, leader, sum, nem.kills, nem.freezes, nem.parts, nem.leaderHit, len(v))
	for _, e := range soakErrorKinds(clients.hist.ops) {
		t.Logf("errors: %s", e)
	}
	if len(v) > 0 {
		if len(v) > 40 {
			v = append(v[:40], fmt.Sprintf("… and %d more", len(v)-40))
		}
		t.Errorf("history violations:\n%s", strings.Join(v, "\n"))
	}
}

// soakFinalState is what node i holds: (client, seq) → (events, distinct
// insert_ids). A row of no soak client is (-1, -1) with its count.
func soakFinalState(t *testing.T, c *testCluster, i int) map[[2]int][2]int {
	t.Helper()
	rows, err := c.nodes[i].DB().Query("SELECT client, seq, count(*), count(DISTINCT insert_id) FROM events GROUP BY client, seq")
	if err != nil {
		t.Fatalf("n%d: final state: %v", i+1, err)
	}
	defer rows.Close()
	out := map[[2]int][2]int{}
	for rows.Next() {
		var client sql.NullString
		var seq sql.NullInt64
		var n, distinct int
		if err := rows.Scan(&client, &seq, &n, &distinct); err != nil {
			t.Fatal(err)
		}
		k := [2]int{-1, -1}
		if cl, err := strconv.Atoi(strings.TrimPrefix(client.String, "c")); client.Valid && seq.Valid && err == nil && strings.HasPrefix(client.String, "c") {
			k = [2]int{cl, int(seq.Int64)}
		}
		got := out[k]
		out[k] = [2]int{got[0] + n, got[1] + distinct}
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("n%d: final state: %v", i+1, err)
	}
	return out
}

// checkSoakHistory checks the history against the nodes' final states
// and every read against the writes around it; it returns the
// violations found.
func checkSoakHistory(ops []*soakOp, final []map[[2]int][2]int) []string {
	var v []string
	writes := map[[2]int]*soakOp{}
	for _, op := range ops {
		if op.write {
			writes[[2]int{op.client, op.seq}] = op
		}
	}
	// Final state, node by node.
	for i, st := range final {
		for k, op := range writes {
			got := st[k]
			switch {
			case got[0] != got[1]:
				v = append(v, fmt.Sprintf("n%d: write c%d/%d stored %d events but %d insert_ids (duplicates)", i+1, k[0], k[1], got[0], got[1]))
			case op.outcome == opOK && got[0] != op.events:
				v = append(v, fmt.Sprintf("n%d: lost write: c%d/%d (%s via n%d, acknowledged) has %d of its %d events", i+1, k[0], k[1], op.via, op.node+1, got[0], op.events))
			case op.outcome == opFailed && got[0] != 0:
				v = append(v, fmt.Sprintf("n%d: write c%d/%d (%s via n%d) failed with %q, but %d of its %d events are stored", i+1, k[0], k[1], op.via, op.node+1, op.err, got[0], op.events))
			case op.outcome == opIndeterminate && got[0] != 0 && got[0] != op.events:
				v = append(v, fmt.Sprintf("n%d: indeterminate write c%d/%d (%s via n%d: %s) half applied: %d of its %d events", i+1, k[0], k[1], op.via, op.node+1, op.err, got[0], op.events))
			}
		}
		for k, got := range st {
			if _, ok := writes[k]; !ok {
				v = append(v, fmt.Sprintf("n%d: phantom: %d events of c%d/%d, which no client sent", i+1, got[0], k[0], k[1]))
			}
		}
		if i > 0 {
			for k, got := range st {
				if final[0][k] != got {
					v = append(v, fmt.Sprintf("n%d holds %v of c%d/%d, n1 %v", i+1, got, k[0], k[1], final[0][k]))
				}
			}
			for k, got := range final[0] {
				if _, ok := st[k]; !ok {
					v = append(v, fmt.Sprintf("n%d lacks c%d/%d, which n1 holds (%v)", i+1, k[0], k[1], got))
				}
			}
		}
	}
	// Reads. Writes by end time, for the lower bounds.
	byEnd := make([]*soakOp, 0, len(writes))
	for _, op := range writes {
		byEnd = append(byEnd, op)
	}
	sort.Slice(byEnd, func(a, b int) bool { return byEnd[a].end.Before(byEnd[b].end) })
	for _, r := range ops {
		if r.write || r.outcome != opOK {
			continue
		}
		if r.client < 0 {
			low, high := 0, 0
			for _, w := range byEnd {
				if w.outcome == opOK && w.end.Before(r.invoke) {
					low += w.events
				}
				if w.outcome != opFailed && w.invoke.Before(r.end) {
					high += w.events
				}
			}
			if r.count < low || r.count > high {
				v = append(v, fmt.Sprintf("read count(*) on n%d [%s, %s] = %d, outside [%d acknowledged before it, %d sent before its end]",
					r.node+1, r.invoke.Format(time.StampMilli), r.end.Format(time.StampMilli), r.count, low, high))
			}
			continue
		}
		for _, w := range byEnd {
			if w.client != r.client || w.outcome != opOK || !w.end.Before(r.invoke) {
				continue
			}
			if got := r.seqs[w.seq]; got[0] != w.events {
				v = append(v, fmt.Sprintf("stale read on n%d [%s, %s]: c%d/%d (acknowledged via n%d at %s) shows %d of %d events",
					r.node+1, r.invoke.Format(time.StampMilli), r.end.Format(time.StampMilli), w.client, w.seq, w.node+1, w.end.Format(time.StampMilli), got[0], w.events))
			}
		}
		for seq, got := range r.seqs {
			w := writes[[2]int{r.client, seq}]
			switch {
			case w == nil || !w.invoke.Before(r.end):
				v = append(v, fmt.Sprintf("read on n%d [%s, %s] shows c%d/%d, not sent before the read ended", r.node+1, r.invoke.Format(time.StampMilli), r.end.Format(time.StampMilli), r.client, seq))
			case w.outcome == opFailed:
				v = append(v, fmt.Sprintf("read on n%d shows c%d/%d, which failed with %q", r.node+1, r.client, seq, w.err))
			case got[0] != w.events || got[1] != got[0]:
				v = append(v, fmt.Sprintf("read on n%d shows c%d/%d with %d events (%d insert_ids), sent with %d", r.node+1, r.client, seq, got[0], got[1], w.events))
			case len(final) > 0 && final[0][[2]int{r.client, seq}][0] == 0:
				v = append(v, fmt.Sprintf("dirty read on n%d [%s, %s]: shows c%d/%d (%s via n%d, %s), which no node holds at the end",
					r.node+1, r.invoke.Format(time.StampMilli), r.end.Format(time.StampMilli), r.client, seq, w.via, w.node+1, w.outcome))
			}
		}
	}
	sort.Strings(v)
	return v
}

// summarizeSoak counts the history's operations by kind and outcome.
func summarizeSoak(ops []*soakOp, final map[[2]int][2]int) string {
	var acked, failed, indet, indetStored, events, reads, readsFailed, counts int
	via := map[string]int{}
	for _, op := range ops {
		if !op.write {
			reads++
			if op.outcome != opOK {
				readsFailed++
			} else if op.client < 0 {
				counts++
			}
			continue
		}
		via[op.via]++
		switch op.outcome {
		case opOK:
			acked++
			events += op.events
		case opFailed:
			failed++
		case opIndeterminate:
			indet++
			if final[[2]int{op.client, op.seq}][0] > 0 {
				indetStored++
			}
		}
	}
	return fmt.Sprintf("writes %d (SQL %d, /import %d): acknowledged %d (%d events), failed %d, indeterminate %d (%d stored, %d not); reads %d (%d of count(*)), %d failed",
		acked+failed+indet, via["sql"], via["import"], acked, events, failed, indet, indetStored, indet-indetStored, reads, counts, readsFailed)
}

// soakErrorKinds counts the operations' errors by outcome and kind (the
// message with numbers and addresses left out), most frequent first.
func soakErrorKinds(ops []*soakOp) []string {
	kinds := map[string]int{}
	for _, op := range ops {
		if op.err == "" {
			continue
		}
		msg := strings.Map(func(r rune) rune {
			if r >= '0' && r <= '9' {
				return '#'
			}
			return r
		}, op.err)
		if len(msg) > 140 {
			msg = msg[:140]
		}
		what := "read"
		if op.write {
			what = op.via + " " + op.outcome.String()
		}
		kinds[what+": "+msg]++
	}
	var out []string
	for k, n := range kinds {
		out = append(out, fmt.Sprintf("%6d× %s", n, k))
	}
	sort.Sort(sort.Reverse(sort.StringSlice(out)))
	return out
}

// TestClusterFailoverKills kill -9s the leader ARB_FAILOVER_KILLS times
// (3 by default; `make soak` runs 25) under SQL and HTTP write load,
// restarting the killed node and letting it catch up before the next
// kill. For each kill it measures the time until a survivor says on
// /metrics that it leads and until the first write sent after the kill
// is acknowledged, and prints their median and max; it asserts only
// correctness: every acknowledged event is stored exactly once on every
// node.
func TestClusterFailoverKills(t *testing.T) {
	kills := envInt(t, "ARB_FAILOVER_KILLS", 3)
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	c := startCluster(t, 3, "--flush-rows", "5000")
	l := newClusterLoad(c)
	l.start(2, 2, 1, seed)
	l.waitAcked(t, 300, 30*time.Second)
	var toLeader, toWrite []time.Duration
	for k := 0; k < kills; k++ {
		li, _ := c.waitLeaderMetric(t, c.all(), 30*time.Second)
		killed := time.Now()
		c.nodes[li].Kill()
		_, elected := c.waitLeaderMetric(t, c.except(li), 30*time.Second)
		var first time.Time
		for first.IsZero() {
			if time.Since(killed) > 60*time.Second {
				t.Fatalf("kill %d: no write sent after the kill of n%d acknowledged within 60 s", k+1, li+1)
			}
			time.Sleep(5 * time.Millisecond)
			first = l.firstAckSentAfter(killed)
		}
		toLeader = append(toLeader, elected)
		toWrite = append(toWrite, first.Sub(killed))
		t.Logf("kill %d of the leader n%d: a new leader after %s, first write acknowledged after %s",
			k+1, li+1, elected.Round(time.Millisecond), first.Sub(killed).Round(time.Millisecond))
		c.launch(t, li)
		c.await(t, li)
		c.waitCaughtUp(t, li, 60*time.Second)
	}
	l.waitAcked(t, 200, 30*time.Second)
	l.stop()
	l.checkNoFailures(t)
	for _, i := range c.all() {
		c.checkExactlyOnce(t, l, i, fmt.Sprintf("after %d leader kills", kills))
	}
	med, max := medianMax(toLeader)
	wmed, wmax := medianMax(toWrite)
	acked, _, _ := l.totals()
	t.Logf("FAILOVER over %d leader kills: new leader median %s max %s; first acknowledged write median %s max %s; %d events acknowledged, none lost",
		kills, med.Round(time.Millisecond), max.Round(time.Millisecond), wmed.Round(time.Millisecond), wmax.Round(time.Millisecond), acked)
}

func medianMax(d []time.Duration) (time.Duration, time.Duration) {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(a, b int) bool { return s[a] < s[b] })
	if len(s) == 0 {
		return 0, 0
	}
	med := s[len(s)/2]
	if len(s)%2 == 0 {
		med = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return med, s[len(s)-1]
}

// TestSoakCheckerFindsViolations feeds checkSoakHistory made-up
// histories: a clean one passes, and each kind of violation is named.
func TestSoakCheckerFindsViolations(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	write := func(client, seq, events int, from, to int, o soakOutcome) *soakOp {
		return &soakOp{client: client, seq: seq, write: true, via: "sql", events: events, invoke: at(from), end: at(to), outcome: o}
	}
	read := func(client int, from, to int, seqs map[int][2]int) *soakOp {
		return &soakOp{client: client, invoke: at(from), end: at(to), seqs: seqs}
	}
	count := func(from, to, n int) *soakOp { return &soakOp{client: -1, invoke: at(from), end: at(to), count: n} }
	base := func() []*soakOp {
		return []*soakOp{
			write(0, 0, 3, 0, 10, opOK),
			write(0, 1, 2, 20, 30, opIndeterminate),
			write(0, 2, 4, 40, 50, opFailed),
			write(1, 0, 1, 5, 15, opOK),
			read(0, 12, 18, map[int][2]int{0: {3, 3}}),
			count(16, 19, 4),
		}
	}
	state := func() map[[2]int][2]int { return map[[2]int][2]int{{0, 0}: {3, 3}, {1, 0}: {1, 1}} }
	if v := checkSoakHistory(base(), []map[[2]int][2]int{state(), state()}); len(v) != 0 {
		t.Fatalf("a clean history: %v", v)
	}
	withIndet := state()
	withIndet[[2]int{0, 1}] = [2]int{2, 2}
	if v := checkSoakHistory(append(base(), read(0, 35, 36, map[int][2]int{0: {3, 3}, 1: {2, 2}})), []map[[2]int][2]int{withIndet, withIndet}); len(v) != 0 {
		t.Fatalf("an indeterminate write stored whole, and read: %v", v)
	}
	cases := []struct {
		name  string
		ops   []*soakOp
		final func(s map[[2]int][2]int)
		want  string
	}{
		{"lost", base(), func(s map[[2]int][2]int) { delete(s, [2]int{1, 0}) }, "lost write: c1/0"},
		{"duplicated", base(), func(s map[[2]int][2]int) { s[[2]int{0, 0}] = [2]int{4, 3} }, "duplicates"},
		{"failed but stored", base(), func(s map[[2]int][2]int) { s[[2]int{0, 2}] = [2]int{4, 4} }, "failed with"},
		{"half applied", base(), func(s map[[2]int][2]int) { s[[2]int{0, 1}] = [2]int{1, 1} }, "half applied"},
		{"phantom", base(), func(s map[[2]int][2]int) { s[[2]int{-1, -1}] = [2]int{1, 1} }, "phantom"},
		{"stale read", append(base(), read(0, 11, 12, map[int][2]int{})), nil, "stale read on"},
		{"future read", append(base(), read(0, 11, 12, map[int][2]int{0: {3, 3}, 1: {2, 2}})), nil, "not sent before the read ended"},
		{"dirty read", append(base(), read(0, 35, 36, map[int][2]int{0: {3, 3}, 1: {2, 2}})), nil, "dirty read"},
		{"read of a failed write", append(base(), read(0, 55, 56, map[int][2]int{0: {3, 3}, 2: {4, 4}})), nil, "which failed"},
		{"count too low", append(base(), count(16, 19, 3)), nil, "outside [4"},
		{"count too high", append(base(), count(16, 19, 7)), nil, "outside [4"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			other := state()
			if tc.final != nil {
				tc.final(other)
			}
			v := checkSoakHistory(tc.ops, []map[[2]int][2]int{state(), other})
			if !strings.Contains(strings.Join(v, "\n"), tc.want) {
				t.Fatalf("violations %q, want one saying %q", v, tc.want)
			}
		})
	}
}

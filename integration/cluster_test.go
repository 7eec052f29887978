package integration

// Cluster mode (issue 15) against three real bin/arb processes on
// loopback: failover under load (kill -9 of the leader, all three killed
// at once, the leader frozen by SIGSTOP), read-your-writes across nodes,
// followers catching up after a restart or a crash, refusals the same on
// every node (also with --max-columns differing between nodes), a rolling
// restart, profile operations and LOAD DATA through any node, and
// arb.cluster without a quorum. Timings are logged, never asserted
// beyond generous bounds. The harness is cluster_harness_test.go.

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
)

// TestClusterFailover ingests through SQL INSERT and HTTP /import on all
// three nodes, kill -9s the leader mid-way, and checks that the
// survivors elect a new leader (logging how long that took, bounded only
// generously), that writes resume, and that every acknowledged event is
// stored exactly once on the survivors and, once it has been restarted
// and caught up, on the killed node too.
func TestClusterFailover(t *testing.T) {
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	// A small --flush-rows flushes segments during the load, so that the
	// restarted node replays the log from a manifest's applied index.
	c := startCluster(t, 3, "--flush-rows", "3000")
	l := newClusterLoad(c)
	l.start(2, 2, 2, seed)
	l.waitAcked(t, 1500, 30*time.Second)

	leader, _ := c.waitLeader(t, c.all(), 10*time.Second)
	dead := c.index(t, leader)
	ackedBefore, _, _ := l.totals()
	killed := time.Now()
	c.nodes[dead].Kill()
	t.Logf("killed the leader %s (kill -9) after %d events acknowledged", leader, ackedBefore)

	newLeader, took := c.waitLeader(t, c.except(dead), 10*time.Second)
	t.Logf("new leader %s agreed on by both survivors %s after the kill", newLeader, took.Round(time.Millisecond))
	for _, i := range c.except(dead) {
		st, err := c.clusterStatus(i, 5*time.Second)
		if err != nil {
			t.Fatalf("arb.cluster on n%d: %v", i+1, err)
		}
		t.Logf("n%d: state %s, term %d, commit index %d, applied index %d", i+1, st.state, st.term, st.commit, st.applied)
	}
	leaders := 0
	for _, i := range c.except(dead) {
		leaders += int(metricValue(t, c.nodes[i], "arb_cluster_is_leader"))
	}
	if leaders != 1 {
		t.Errorf("%d survivors say on /metrics that they lead (arb_cluster_is_leader), want 1", leaders)
	}
	l.waitAcked(t, 1500, 30*time.Second)
	if first := l.firstAckSentAfter(killed); first.IsZero() {
		t.Fatal("no batch sent after the kill was acknowledged")
	} else {
		t.Logf("first batch sent after the kill acknowledged %s after the kill", first.Sub(killed).Round(time.Millisecond))
	}
	l.stop()
	l.checkNoFailures(t)

	var want eventTally
	for _, i := range c.except(dead) {
		want = c.checkExactlyOnce(t, l, i, "after the failover")
		t.Logf("n%d: %d events, %d insert_ids, sum of amount %d", i+1, want.rows, want.ids, want.sum)
	}

	restarted := time.Now()
	c.nodes[dead].Restart()
	serving := time.Since(restarted)
	caughtUp := c.waitCaughtUp(t, dead, 30*time.Second)
	t.Logf("restarted %s: serving after %s, caught up %s later", leader, serving.Round(time.Millisecond), caughtUp.Round(time.Millisecond))
	got := c.checkExactlyOnce(t, l, dead, "after restarting the killed node")
	if got.rows != want.rows || got.sum != want.sum {
		t.Errorf("the restarted n%d holds %d events (sum %d), the survivors %d (sum %d)", dead+1, got.rows, got.sum, want.rows, want.sum)
	}
}

// TestClusterReadYourWrites writes one event through a node and reads it
// at once through the two others, many times over, through SQL INSERT
// and /import: a read on any node sees every write acknowledged before
// it on any node.
func TestClusterReadYourWrites(t *testing.T) {
	c := startCluster(t, 3)
	l := newClusterLoad(c) // for its HTTP client and pools; no goroutines
	const rounds = 150
	var writeTime, readTime time.Duration
	reads := 0
	for k := 0; k < rounds; k++ {
		a := k % 3
		e := clusterEvent{insertID: fmt.Sprintf("ryw-%d", k), distinctID: fmt.Sprintf("u%d", k%17), event: "RYW",
			timeMillis: clusterDay.UnixMilli() + int64(k)*1000, amount: int64(k)}
		start := time.Now()
		var err error
		if k%4 == 3 {
			_, _, err = l.importHTTP(a, []clusterEvent{e})
		} else {
			_, _, err = l.insertSQL(a, []clusterEvent{e})
		}
		if err != nil {
			t.Fatalf("round %d: write through n%d: %v", k, a+1, err)
		}
		writeTime += time.Since(start)
		for _, b := range c.except(a) {
			start := time.Now()
			var total, mine int
			if err := l.pools[b].QueryRow("SELECT count(*), count(CASE WHEN insert_id = ? THEN 1 END) FROM events", e.insertID).Scan(&total, &mine); err != nil {
				t.Fatalf("round %d: read through n%d: %v", k, b+1, err)
			}
			readTime += time.Since(start)
			reads++
			if mine != 1 || total != k+1 {
				t.Fatalf("round %d: n%d shows %d events and %d of %s, just acknowledged by n%d; want %d and 1", k, b+1, total, mine, e.insertID, a+1, k+1)
			}
		}
	}
	t.Logf("%d writes each read at once on the two other nodes: mean write %s, mean read %s",
		rounds, (writeTime / rounds).Round(time.Microsecond), (readTime / time.Duration(reads)).Round(time.Microsecond))

	// What a read costs the log: entries appended by reads alone.
	leader, _ := c.waitLeader(t, c.all(), 10*time.Second)
	li := c.index(t, leader)
	before, err := c.clusterStatus(li, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	const readsOnly = 60
	for k := 0; k < readsOnly; k++ {
		var n int
		if err := l.pools[k%3].QueryRow("SELECT count(*) FROM events").Scan(&n); err != nil || n != rounds {
			t.Fatalf("read %d through n%d: %d events (%v), want %d", k, k%3+1, n, err, rounds)
		}
	}
	after, err := c.clusterStatus(li, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d SELECTs (no writes) took the log from entry %d to %d on the leader: %.2f entries a read",
		readsOnly, before.lastIndex, after.lastIndex, float64(after.lastIndex-before.lastIndex-1)/readsOnly)

	// A client that retries a batch through another node before the
	// first answer came (a timeout, a load balancer): the copies are
	// separate log entries, and every replica stores the events once.
	const copies = 30
	for k := 0; k < copies; k++ {
		events := make([]clusterEvent, 5)
		for i := range events {
			events[i] = clusterEvent{insertID: fmt.Sprintf("dup-%d-%d", k, i), distinctID: fmt.Sprintf("u%d", i), event: "Dup",
				timeMillis: clusterDay.UnixMilli() + int64(k*10+i), amount: 1}
		}
		var wg sync.WaitGroup
		errs := make([]error, 3)
		for _, i := range c.all() {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if i == k%3 {
					_, _, errs[i] = l.insertSQL(i, events)
				} else {
					_, _, errs[i] = l.importHTTP(i, events)
				}
			}()
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("copy %d of batch %d through n%d: %v", i+1, k, i+1, err)
			}
		}
	}
	for _, i := range c.all() {
		expect(t, fmt.Sprintf("n%d: batches sent three times at once", i+1), queryString(t, c.nodes[i].DB(),
			"SELECT count(*), count(DISTINCT insert_id), sum(amount) FROM events WHERE event = 'Dup'"), fmt.Sprintf("%d|%d|%d", copies*5, copies*5, copies*5))
	}
}

// TestClusterFollowerCatchUp stops a follower with SIGTERM and, later,
// kills another with kill -9 while writes continue; each catches up after
// its restart, and all three hold the same events, each once.
func TestClusterFollowerCatchUp(t *testing.T) {
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	c := startCluster(t, 3, "--flush-rows", "2000")
	l := newClusterLoad(c)
	l.start(2, 2, 1, seed)
	l.waitAcked(t, 1000, 30*time.Second)

	for _, crash := range []bool{false, true} {
		leader, _ := c.waitLeader(t, c.all(), 10*time.Second)
		f := c.except(c.index(t, leader))[0]
		if crash {
			f = c.except(c.index(t, leader))[1]
		}
		how := "SIGTERM"
		before, err := c.clusterStatus(f, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if crash {
			how = "kill -9"
			c.nodes[f].Kill()
		} else {
			c.nodes[f].Stop()
		}
		down := time.Now()
		l.waitAcked(t, 1500, 30*time.Second)
		lst, err := c.clusterStatus(c.index(t, leader), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		c.nodes[f].Restart()
		serving := time.Since(down)
		took := c.waitCaughtUp(t, f, 30*time.Second)
		t.Logf("follower n%d (%s): down for %s while the log went from entry %d to %d; caught up %s after it served again",
			f+1, how, serving.Round(time.Millisecond), before.applied, lst.commit, took.Round(time.Millisecond))
	}
	l.waitAcked(t, 500, 30*time.Second)
	l.stop()
	l.checkNoFailures(t)
	var first eventTally
	for _, i := range c.all() {
		got := c.checkExactlyOnce(t, l, i, "after both restarts")
		t.Logf("n%d: %d events, sum of amount %d", i+1, got.rows, got.sum)
		if i == 0 {
			first = got
		} else if got.rows != first.rows || got.sum != first.sum {
			t.Errorf("n%d holds %d events (sum %d), n1 %d (sum %d)", i+1, got.rows, got.sum, first.rows, first.sum)
		}
	}
}

// TestClusterRefusalsSameEverywhere sends a batch over --max-columns
// through each node, by SQL INSERT, /import and /track: the same
// refusal from each, and nothing of it stored on any node. Two batches
// that each fit alone but not together, sent at once through two
// followers, are decided the same on every node: one is stored, the
// other refused, everywhere.
func TestClusterRefusalsSameEverywhere(t *testing.T) {
	c := startCluster(t, 3, "--max-columns", "4")
	l := newClusterLoad(c)
	exec1(t, c.nodes[0].DB(), "INSERT INTO events (time, event, distinct_id, insert_id, a1, a2) VALUES ('2025-03-01 10:00:00', 'Base', 'u1', 'base-1', 1, 2)")

	var sqlRefusal, importRefusal, trackRefusal string
	for _, i := range c.all() {
		_, err := c.nodes[i].DB().Exec(fmt.Sprintf("INSERT INTO events (time, event, distinct_id, insert_id, b1, b2, b3) VALUES ('2025-03-01 10:00:01', 'Wide', 'u1', 'wide-%d', 1, 2, 3)", i))
		var me *mysql.MySQLError
		if !errors.As(err, &me) || me.Number != 1117 {
			t.Fatalf("n%d: a batch over --max-columns by SQL: %v, want error 1117", i+1, err)
		}
		got := fmt.Sprintf("%d %s", me.Number, me.Message)
		if i == 0 {
			sqlRefusal = got
			t.Logf("SQL refusal: %s", got)
		} else if got != sqlRefusal {
			t.Errorf("n%d refuses the SQL batch with %q, n1 with %q", i+1, got, sqlRefusal)
		}

		body := fmt.Sprintf(`[{"event":"Wide","properties":{"time":%d,"distinct_id":"u1","$insert_id":"wide-http-%d","b1":1,"b2":2,"b3":3}}]`, clusterDay.UnixMilli(), i)
		status, reply, _, err := l.post(i, "/import?strict=1", []byte(body))
		if err != nil {
			t.Fatal(err)
		}
		var parsed struct {
			Code  int    `json:"code"`
			Error string `json:"error"`
		}
		if err := json.Unmarshal([]byte(reply), &parsed); err != nil {
			t.Fatalf("n%d: /import reply %q: %v", i+1, reply, err)
		}
		if status != 400 || parsed.Code != 400 {
			t.Fatalf("n%d: /import of a batch over --max-columns: HTTP %d %s, want 400", i+1, status, reply)
		}
		got = fmt.Sprintf("%d %s", status, parsed.Error)
		if i == 0 {
			importRefusal = got
			t.Logf("/import refusal: %s", got)
		} else if got != importRefusal {
			t.Errorf("n%d refuses the /import batch with %q, n1 with %q", i+1, got, importRefusal)
		}

		track := fmt.Sprintf(`[{"event":"Wide","properties":{"token":%q,"distinct_id":"u1","$insert_id":"wide-track-%d","b1":1,"b2":2,"b3":3}}]`, clusterToken, i)
		resp, err := l.client.Post(c.nodes[i].url("/track?verbose=1"), "application/json", strings.NewReader(track))
		if err != nil {
			t.Fatal(err)
		}
		var tr struct {
			Status int    `json:"status"`
			Error  string `json:"error"`
		}
		err = json.NewDecoder(resp.Body).Decode(&tr)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 || tr.Status != 0 {
			t.Fatalf("n%d: /track of a batch over --max-columns: HTTP %d, status %d (%v), want 200 with status 0", i+1, resp.StatusCode, tr.Status, err)
		}
		if i == 0 {
			trackRefusal = tr.Error
			t.Logf("/track refusal: %s", tr.Error)
		} else if tr.Error != trackRefusal {
			t.Errorf("n%d refuses the /track batch with %q, n1 with %q", i+1, tr.Error, trackRefusal)
		}
	}
	for _, i := range c.all() {
		expect(t, fmt.Sprintf("n%d: events after the refusals", i+1), queryString(t, c.nodes[i].DB(), "SELECT count(*), group_concat(insert_id) FROM events"), "1|base-1")
		expect(t, fmt.Sprintf("n%d: columns after the refusals", i+1), clusterColumns(t, c.nodes[i].DB()), "a1,a2")
	}

	// Two batches racing for the last two columns, through two different
	// nodes: each fits the schema its node sees when it takes it, so the
	// log's order decides, the same on every node.
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for _, i := range []int{1, 2} {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			_, errs[i] = c.nodes[i].DB().Exec(fmt.Sprintf("INSERT INTO events (time, event, distinct_id, insert_id, c%[1]d_x, c%[1]d_y) VALUES ('2025-03-01 10:00:02', 'Race', 'u2', 'race-%[1]d', 1, 2)", i))
		}(i)
	}
	wg.Wait()
	winner := -1
	for _, i := range []int{1, 2} {
		var me *mysql.MySQLError
		switch {
		case errs[i] == nil:
			if winner >= 0 {
				t.Fatalf("both racing batches were stored: the table would have 6 columns, over --max-columns 4")
			}
			winner = i
		case errors.As(errs[i], &me) && me.Number == 1117:
			t.Logf("racing batch through n%d refused: %d %s", i+1, me.Number, me.Message)
		default:
			t.Fatalf("racing batch through n%d: %v, want stored or error 1117", i+1, errs[i])
		}
	}
	if winner < 0 {
		t.Fatalf("both racing batches were refused (%v; %v); one fits", errs[1], errs[2])
	}
	wantColumns := fmt.Sprintf("a1,a2,c%[1]d_x,c%[1]d_y", winner)
	for _, i := range c.all() {
		expect(t, fmt.Sprintf("n%d: events after the race", i+1), queryString(t, c.nodes[i].DB(), "SELECT count(*), group_concat(insert_id ORDER BY insert_id) FROM events"), fmt.Sprintf("2|base-1,race-%d", winner))
		expect(t, fmt.Sprintf("n%d: columns after the race", i+1), clusterColumns(t, c.nodes[i].DB()), wantColumns)
	}

	// Refused entries changed nothing: each node still takes writes.
	for _, i := range c.all() {
		exec1(t, c.nodes[i].DB(), fmt.Sprintf("INSERT INTO events (time, event, distinct_id, insert_id, a1) VALUES ('2025-03-01 10:00:03', 'After', 'u3', 'after-%d', %d)", i, i))
	}
	for _, i := range c.all() {
		expect(t, fmt.Sprintf("n%d: events at the end", i+1), queryString(t, c.nodes[i].DB(), "SELECT count(*), sum(a1) FROM events"), "5|4")
	}
}

// TestClusterMaxColumnsDiffer starts the nodes with different
// --max-columns (10, 10 and 4): the limit is node-local, but a refusal
// decided in apply must be the same on every replica. An INSERT of 6
// new columns is taken by n1 (under its limit) and must then be on
// every node, n3 included; the same through n3 must be either stored
// everywhere or refused everywhere — never refused to its client and
// stored on the others.
func TestClusterMaxColumnsDiffer(t *testing.T) {
	c := startClusterEach(t, 3, func(i int) []string {
		if i == 2 {
			return []string{"--max-columns", "4"}
		}
		return []string{"--max-columns", "10"}
	})
	const insert = "INSERT INTO events (time, event, distinct_id, insert_id, c1, c2, c3, c4, c5, c6) VALUES ('2025-03-01 10:00:00', 'Wide', 'u1', '%s', 1, 2, 3, 4, 5, 6)"
	_, err1 := c.nodes[0].DB().Exec(fmt.Sprintf(insert, "via-n1"))
	_, err3 := c.nodes[2].DB().Exec(fmt.Sprintf(insert, "via-n3"))
	t.Logf("6 new columns through n1 (--max-columns 10): %v; through n3 (--max-columns 4): %v", err1, err3)
	var views []string
	for _, i := range c.all() {
		views = append(views, fmt.Sprintf("n%d: %s", i+1, queryString(t, c.nodes[i].DB(), "SELECT count(*), coalesce(group_concat(insert_id ORDER BY insert_id), '-') FROM events")))
	}
	t.Logf("what each node holds: %s", strings.Join(views, "; "))
	for _, i := range c.all() {
		got := queryString(t, c.nodes[i].DB(), "SELECT count(*) FROM events WHERE insert_id = 'via-n1'")
		if err1 == nil && got != "1" {
			t.Errorf("n%d does not show the event n1 acknowledged (count %s): replicas with different --max-columns diverge", i+1, got)
		}
		got = queryString(t, c.nodes[i].DB(), "SELECT count(*) FROM events WHERE insert_id = 'via-n3'")
		if err3 != nil && got != "0" {
			t.Errorf("n%d stores the event n3 refused (%v)", i+1, err3)
		}
		if err3 == nil && got != "1" {
			t.Errorf("n%d does not show the event n3 acknowledged", i+1)
		}
	}
}

// clusterColumns lists the property columns of shop.events, by name.
func clusterColumns(t *testing.T, db *sql.DB) string {
	t.Helper()
	return queryString(t, db, "SELECT group_concat(column_name ORDER BY column_name) FROM information_schema.columns "+
		"WHERE table_schema = 'shop' AND table_name = 'events' AND column_name NOT IN ('time', 'event', 'distinct_id', 'insert_id', 'properties', 'raw_distinct_id')")
}

// TestClusterRollingRestart restarts the three nodes one at a time
// (SIGTERM, restart, wait until caught up) under continuous ingest and
// queries that retry as clients do: no request fails beyond its
// retries, and every acknowledged event is stored once on every node.
func TestClusterRollingRestart(t *testing.T) {
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	c := startCluster(t, 3, "--flush-rows", "2000")
	l := newClusterLoad(c)
	l.start(2, 2, 2, seed)
	l.waitAcked(t, 500, 30*time.Second)
	for _, i := range c.all() {
		leader, _ := c.waitLeader(t, c.all(), 10*time.Second)
		start := time.Now()
		c.nodes[i].Stop()
		stopped := time.Since(start)
		l.waitAcked(t, 500, 30*time.Second)
		restart := time.Now()
		c.nodes[i].Restart()
		serving := time.Since(restart)
		caughtUp := c.waitCaughtUp(t, i, 30*time.Second)
		acked, _, _ := l.totals()
		t.Logf("n%d (leader before: %s): stopped in %s, serving %s after restart, caught up %s later; %d events acknowledged so far",
			i+1, leader, stopped.Round(time.Millisecond), serving.Round(time.Millisecond), caughtUp.Round(time.Millisecond), acked)
	}
	l.waitAcked(t, 500, 30*time.Second)
	l.stop()
	l.checkNoFailures(t)
	var first eventTally
	for _, i := range c.all() {
		got := c.checkExactlyOnce(t, l, i, "after the rolling restart")
		if i == 0 {
			first = got
		} else if got.rows != first.rows || got.sum != first.sum {
			t.Errorf("n%d holds %d events (sum %d), n1 %d (sum %d)", i+1, got.rows, got.sum, first.rows, first.sum)
		}
	}
	t.Logf("every node: %d events, sum of amount %d", first.rows, first.sum)
}

// TestClusterStatusWithoutQuorum stops two of the three nodes: the
// survivor has no leader and cannot get one, and arb.cluster (what an
// operator reads to find out why writes fail) must still answer at once,
// saying so. A write there is refused as retryable: MySQL error 1205,
// HTTP 503 with Retry-After.
func TestClusterStatusWithoutQuorum(t *testing.T) {
	c := startCluster(t, 3)
	l := newClusterLoad(c)
	exec1(t, c.nodes[0].DB(), "INSERT INTO events (time, event, distinct_id, insert_id, amount) VALUES ('2025-03-01 10:00:00', 'E', 'u1', 'q-1', 1)")
	c.nodes[1].Kill()
	c.nodes[2].Kill()
	t.Log("killed n2 and n3")
	if v := waitMetric(t, c.nodes[0], "arb_cluster_has_leader", 0, 10*time.Second); v != 0 {
		t.Fatalf("arb_cluster_has_leader on n1 is %v 10 s after losing its quorum", v)
	}

	// Writes without a quorum: retryable refusals, through SQL and HTTP
	// at once (each waits for a leader as long as a write may).
	var wg sync.WaitGroup
	var sqlErr error
	var status int
	var header http.Header
	wg.Add(2)
	go func() {
		defer wg.Done()
		_, sqlErr = l.pools[0].Exec("INSERT INTO events (time, event, distinct_id, insert_id, amount) VALUES ('2025-03-01 10:00:01', 'E', 'u1', 'q-2', 1)")
	}()
	go func() {
		defer wg.Done()
		body := fmt.Sprintf(`[{"event":"E","properties":{"time":%d,"distinct_id":"u1","$insert_id":"q-3","amount":1}}]`, clusterDay.UnixMilli())
		status, _, header, _ = l.post(0, "/import?strict=1", []byte(body))
	}()

	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	var state string
	var leaders int
	err := c.nodes[0].DB().QueryRowContext(ctx, "SELECT max(CASE WHEN is_self THEN state END), sum(is_leader) FROM arb.cluster").Scan(&state, &leaders)
	t.Logf("arb.cluster without a quorum answered in %s: state %q, leaders %d, err %v", time.Since(start).Round(time.Millisecond), state, leaders, err)
	if err != nil {
		t.Errorf("arb.cluster on n1 without a quorum: %v; want an answer at once (it is what tells the operator there is no leader)", err)
	} else if leaders != 0 || state == "Leader" {
		t.Errorf("arb.cluster on n1 without a quorum: state %s, %d leaders; want no leader", state, leaders)
	}

	wg.Wait()
	var me *mysql.MySQLError
	if !errors.As(sqlErr, &me) || me.Number != 1205 {
		t.Errorf("SQL INSERT without a quorum: %v; want error 1205", sqlErr)
	}
	if status != http.StatusServiceUnavailable || header.Get("Retry-After") != "1" {
		t.Errorf("/import without a quorum: HTTP %d, Retry-After %q; want 503 with Retry-After: 1", status, header.Get("Retry-After"))
	}
}

// waitMetric polls a gauge on /metrics until it equals want or within
// passes, and returns its last value.
func waitMetric(t *testing.T, p *arbProcess, name string, want float64, within time.Duration) float64 {
	t.Helper()
	start := time.Now()
	for {
		v := metricValue(t, p, name)
		if v == want || time.Since(start) > within {
			return v
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestClusterKillAll kill -9s all three nodes at once under load (a
// power cut) and starts them again together: every acknowledged event
// is there once on every node, and the writers' batches in flight during
// the outage are acknowledged after it.
func TestClusterKillAll(t *testing.T) {
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	c := startCluster(t, 3, "--flush-rows", "2000")
	l := newClusterLoad(c)
	l.start(2, 2, 0, seed)
	l.waitAcked(t, 2500, 30*time.Second)
	for _, p := range c.nodes {
		p.cmd.Process.Kill()
	}
	for _, p := range c.nodes {
		p.Kill()
	}
	acked, _, pending := l.totals()
	t.Logf("killed all three nodes at once: %d events acknowledged, %d in flight", acked, pending)
	time.Sleep(200 * time.Millisecond)
	start := time.Now()
	c.launch(t, c.all()...)
	c.await(t, c.all()...)
	leader, _ := c.waitLeader(t, c.all(), 30*time.Second)
	t.Logf("all three serving again %s after their restart, leader %s", time.Since(start).Round(time.Millisecond), leader)
	l.waitAcked(t, 1000, 30*time.Second)
	l.stop()
	l.checkNoFailures(t)
	var first eventTally
	for _, i := range c.all() {
		got := c.checkExactlyOnce(t, l, i, "after killing all three")
		if i == 0 {
			first = got
		} else if got.rows != first.rows || got.sum != first.sum {
			t.Errorf("n%d holds %d events (sum %d), n1 %d (sum %d)", i+1, got.rows, got.sum, first.rows, first.sum)
		}
	}
	t.Logf("every node: %d events, sum of amount %d", first.rows, first.sum)
}

// TestClusterProfilesAndLoadData sends profile operations through every
// node at once — $add to one counter, which only resolving them in log
// order on each replica gets right — and a LOAD DATA file through a
// follower, loaded again through another node: every node holds the
// same people and each loaded row once.
func TestClusterProfilesAndLoadData(t *testing.T) {
	c := startCluster(t, 3)
	l := newClusterLoad(c)
	const adds = 40
	var wg sync.WaitGroup
	errs := make(chan error, 3*adds)
	for _, i := range c.all() {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for k := 0; k < adds; k++ {
				body := fmt.Sprintf(`[{"$token":%q,"$distinct_id":"shared","$add":{"n":1,"by_n%d":1}},{"$token":%q,"$distinct_id":"p%d","$set":{"last":%d}}]`,
					clusterToken, i+1, clusterToken, i+1, k)
				resp, err := l.client.Post(c.nodes[i].url("/engage?verbose=1"), "application/json", strings.NewReader(body))
				if err != nil {
					errs <- err
					return
				}
				var reply struct {
					Status int    `json:"status"`
					Error  string `json:"error"`
				}
				err = json.NewDecoder(resp.Body).Decode(&reply)
				resp.Body.Close()
				if err != nil || resp.StatusCode != 200 || reply.Status != 1 {
					errs <- fmt.Errorf("/engage through n%d: HTTP %d, status %d %q (%v)", i+1, resp.StatusCode, reply.Status, reply.Error, err)
					return
				}
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for _, i := range c.all() {
		expect(t, fmt.Sprintf("n%d: the shared counter", i+1), queryString(t, c.nodes[i].DB(),
			"SELECT n, by_n1, by_n2, by_n3 FROM people WHERE distinct_id = 'shared'"), fmt.Sprintf("%d|%d|%d|%d", 3*adds, adds, adds, adds))
		expect(t, fmt.Sprintf("n%d: people", i+1), queryString(t, c.nodes[i].DB(),
			"SELECT group_concat(concat(distinct_id, '=', coalesce(`last`, '-')) ORDER BY distinct_id) FROM people"), fmt.Sprintf("p1=%[1]d,p2=%[1]d,p3=%[1]d,shared=-", adds-1))
	}

	// A group profile through n3 and an identity merge through n2, read
	// at once on the other nodes.
	body := fmt.Sprintf(`[{"$token":%q,"$group_key":"company","$group_id":"acme","$set":{"plan":"pro"}}]`, clusterToken)
	resp, err := l.client.Post(c.nodes[2].url("/groups?verbose=1"), "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("/groups through n3: HTTP %d", resp.StatusCode)
	}
	exec1(t, c.nodes[1].DB(), "INSERT INTO events (time, event, distinct_id, insert_id, `$anon_id`, `$identified_id`) VALUES "+
		"('2025-03-01 11:00:00', 'Signup', 'anon-7', 'id-1', NULL, NULL), ('2025-03-01 11:00:01', '$identify', 'user-7', 'id-2', 'anon-7', 'user-7')")
	for _, i := range c.all() {
		expect(t, fmt.Sprintf("n%d: the group set through n3", i+1), queryString(t, c.nodes[i].DB(),
			"SELECT plan FROM `groups` WHERE group_key = 'company' AND group_id = 'acme'"), "pro")
		expect(t, fmt.Sprintf("n%d: the identity merged through n2", i+1), queryString(t, c.nodes[i].DB(),
			"SELECT group_concat(distinct_id ORDER BY insert_id) FROM events WHERE insert_id IN ('id-1', 'id-2')"), "user-7,user-7")
	}

	// LOAD DATA through a follower, then again through another node.
	leader, _ := c.waitLeader(t, c.all(), 10*time.Second)
	followers := c.except(c.index(t, leader))
	const rows = 20000
	var csv strings.Builder
	var sum int64
	for k := 0; k < rows; k++ {
		fmt.Fprintf(&csv, "%s,Load,u%d,load-%d,%d\n", clusterDay.Add(time.Duration(k)*time.Second).Format("2006-01-02 15:04:05"), k%300, k, k%97)
		sum += int64(k % 97)
	}
	path := writeFile(t, t.TempDir(), "events.csv", csv.String())
	for round, i := range []int{followers[0], c.index(t, leader)} {
		db, err := sql.Open("mysql", fmt.Sprintf("root@tcp(127.0.0.1:%d)/%s?allowAllFiles=true", c.nodes[i].mysqlPort, clusterProject))
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		_, err = db.Exec(fmt.Sprintf("LOAD DATA LOCAL INFILE '%s' INTO TABLE events FIELDS TERMINATED BY ',' (time, event, distinct_id, insert_id, amount)", path))
		db.Close()
		if err != nil {
			t.Fatalf("LOAD DATA through n%d: %v", i+1, err)
		}
		t.Logf("LOAD DATA of %d rows through n%d (round %d) took %s", rows, i+1, round+1, time.Since(start).Round(time.Millisecond))
		for _, j := range c.all() {
			expect(t, fmt.Sprintf("n%d after loading through n%d", j+1, i+1), queryString(t, c.nodes[j].DB(),
				"SELECT count(*), count(DISTINCT insert_id), CAST(sum(amount) AS SIGNED) FROM events WHERE event = 'Load'"), fmt.Sprintf("%d|%d|%d", rows, rows, sum))
		}
	}

	// A bigger file through a follower, the leader killed while it
	// loads: the load fails part-way (or completes), and loading the
	// file again through the other survivor stores each row once.
	const bigRows = 60000
	csv.Reset()
	var bigSum int64
	for k := 0; k < bigRows; k++ {
		fmt.Fprintf(&csv, "%s,Big,u%d,big-%d,%d\n", clusterDay.Add(time.Duration(k)*time.Second).Format("2006-01-02 15:04:05"), k%300, k, k%89)
		bigSum += int64(k % 89)
	}
	bigPath := writeFile(t, t.TempDir(), "big.csv", csv.String())
	leader, _ = c.waitLeader(t, c.all(), 10*time.Second)
	li := c.index(t, leader)
	survivors := c.except(li)
	loadThrough := func(i int) (time.Duration, error) {
		db, err := sql.Open("mysql", fmt.Sprintf("root@tcp(127.0.0.1:%d)/%s?allowAllFiles=true", c.nodes[i].mysqlPort, clusterProject))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		start := time.Now()
		_, err = db.Exec(fmt.Sprintf("LOAD DATA LOCAL INFILE '%s' INTO TABLE events FIELDS TERMINATED BY ',' (time, event, distinct_id, insert_id, amount)", bigPath))
		return time.Since(start), err
	}
	done := make(chan error, 1)
	go func() {
		_, err := loadThrough(survivors[0])
		done <- err
	}()
	// Kill the leader once part of the file is stored.
	for {
		var n int
		if err := c.nodes[survivors[1]].DB().QueryRow("SELECT count(*) FROM events WHERE event = 'Big'").Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			c.nodes[li].Kill()
			t.Logf("killed the leader %s with %d of %d rows of the big file stored", leader, n, bigRows)
			break
		}
		select {
		case err := <-done:
			t.Fatalf("the big load ended (%v) before any of its rows showed on n%d", err, survivors[1]+1)
		default:
		}
		time.Sleep(5 * time.Millisecond)
	}
	err = <-done
	t.Logf("LOAD DATA through n%d while the leader died: %v", survivors[0]+1, err)
	if err != nil {
		var me *mysql.MySQLError
		if !errors.As(err, &me) || me.Number != 1205 {
			t.Errorf("LOAD DATA interrupted by the leader's death: %v; want success or error 1205 (retry)", err)
		}
		for attempt := 0; ; attempt++ {
			took, err := loadThrough(survivors[1])
			if err == nil {
				t.Logf("loaded it again through n%d in %s (attempt %d)", survivors[1]+1, took.Round(time.Millisecond), attempt+1)
				break
			}
			var me *mysql.MySQLError
			if attempt == 5 || !errors.As(err, &me) || me.Number != 1205 {
				t.Fatalf("loading the big file again through n%d: %v", survivors[1]+1, err)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	c.nodes[li].Restart()
	c.waitCaughtUp(t, li, 30*time.Second)
	for _, j := range c.all() {
		expect(t, fmt.Sprintf("n%d after the big load", j+1), queryString(t, c.nodes[j].DB(),
			"SELECT count(*), count(DISTINCT insert_id), CAST(sum(amount) AS SIGNED) FROM events WHERE event = 'Big'"), fmt.Sprintf("%d|%d|%d", bigRows, bigRows, bigSum))
	}
}

// TestClusterFrozenLeader stops the leader with SIGSTOP under load (a
// long pause, or a partition that drops its packets: the others elect a
// new leader while it still believes it leads), then lets it run again:
// it must step down without serving a stale read or losing a write, and
// catch up; every acknowledged event is once on every node.
//
// Right after the freeze, one INSERT and one SELECT go to each survivor,
// without client retries: the survivors elect a new leader within about
// a second, so each must succeed, served through the new leader, well
// within the write timeout (10 s), and not wait for the frozen one.
func TestClusterFrozenLeader(t *testing.T) {
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	c := startCluster(t, 3)
	l := newClusterLoad(c)
	l.start(2, 2, 2, seed)
	l.waitAcked(t, 1000, 30*time.Second)
	leader, _ := c.waitLeader(t, c.all(), 10*time.Second)
	frozen := c.index(t, leader)
	ackedBefore, _, _ := l.totals()
	if err := c.nodes[frozen].cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	stopped := time.Now()

	type probe struct {
		what string
		took time.Duration
		err  error
	}
	probes := make(chan probe, 4)
	for k, i := range c.except(frozen) {
		id := fmt.Sprintf("probe-%d", k)
		l.sending(id, 1)
		go func() {
			start := time.Now()
			_, err := l.pools[i].Exec(fmt.Sprintf("INSERT INTO events (time, event, distinct_id, insert_id, amount) VALUES ('2025-03-01 10:00:00', 'Probe', 'u1', '%s', 1)", id))
			if err == nil {
				l.ackedOne(id)
			}
			probes <- probe{fmt.Sprintf("INSERT through n%d", i+1), time.Since(start), err}
		}()
		go func() {
			start := time.Now()
			var n int
			err := l.pools[i].QueryRow("SELECT count(*) FROM events").Scan(&n)
			probes <- probe{fmt.Sprintf("SELECT through n%d", i+1), time.Since(start), err}
		}()
	}
	newLeader, took := c.waitLeaderMetric(t, c.except(frozen), 10*time.Second)
	t.Logf("froze the leader %s (SIGSTOP); n%d leads %s later (/metrics)", leader, newLeader+1, took.Round(time.Millisecond))
	var slow []string
	for range 4 {
		p := <-probes
		t.Logf("%s right after the freeze: %s, err %v", p.what, p.took.Round(time.Millisecond), p.err)
		if p.err != nil {
			slow = append(slow, fmt.Sprintf("%s: %v after %s", p.what, p.err, p.took.Round(time.Millisecond)))
		}
	}
	// The clients of the frozen node wait for it; the others go on.
	if rest := 4*time.Second - time.Since(stopped); rest > 0 {
		time.Sleep(rest)
	}
	acked, _, _ := l.totals()
	t.Logf("%d events acknowledged during the %s the leader was frozen", acked-ackedBefore, time.Since(stopped).Round(time.Millisecond))
	if err := c.nodes[frozen].cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	caughtUp := c.waitCaughtUp(t, frozen, 30*time.Second)
	st, err := c.clusterStatus(frozen, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s after SIGCONT: state %s, term %d, leader %s; caught up after %s", leader, st.state, st.term, st.leader, caughtUp.Round(time.Millisecond))
	l.waitAcked(t, 1000, 30*time.Second)
	l.stop()
	l.checkNoFailures(t)
	var first eventTally
	for _, i := range c.all() {
		got := c.checkExactlyOnce(t, l, i, "after the frozen leader came back")
		if i == 0 {
			first = got
		} else if got.rows != first.rows || got.sum != first.sum {
			t.Errorf("n%d holds %d events (sum %d), n1 %d (sum %d)", i+1, got.rows, got.sum, first.rows, first.sum)
		}
	}
	t.Logf("every node: %d events, sum of amount %d", first.rows, first.sum)
	if len(slow) > 0 {
		t.Errorf("requests to the survivors sent right after the leader froze failed although a new leader was elected %s after the freeze "+
			"(a forwarded write or read index waits for the old leader for the whole write timeout instead of asking the new one):\n%s",
			took.Round(time.Millisecond), strings.Join(slow, "\n"))
	}
}

package integration

import (
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// netnsNode is one arb process in a network namespace of its own, on a
// bridge with the other nodes and with the test (which stays in the
// root namespace, at the bridge's address).
type netnsNode struct {
	id, ns, ip string
	proc       *exec.Cmd
	log        *lockedBuffer
	exited     chan error
	db         *sql.DB
}

func (n *netnsNode) url(path string) string { return fmt.Sprintf("http://%s:8080%s", n.ip, path) }

// runIP runs ip(8) with args (in namespace ns unless empty).
func runIP(t *testing.T, ns string, args ...string) {
	t.Helper()
	if ns != "" {
		args = append([]string{"netns", "exec", ns, "ip"}, args...)
	}
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// netnsHosts makes n network namespaces on a bridge of their own (named
// from prefix and the test process's id) and returns where each node
// runs: its namespace and its address there. The test stays in the root
// namespace, at the bridge's address, and reaches every node; a
// blackhole route in one namespace to another's address is a
// partition. subnetBase (100, 200, …) keeps the /24s of tests apart.
// Everything is removed when the test ends. Needs root and ip(8).
// netnsCalls numbers netnsHosts' calls in this process.
var netnsCalls atomic.Uint32

func netnsHosts(t *testing.T, prefix string, subnetBase, n int) []nodePlace {
	t.Helper()
	pid := os.Getpid()
	tag := fmt.Sprintf("%04x", pid&0xffff)
	seq := netnsCalls.Add(1) & 0xff
	bridge := prefix + "br" + tag
	subnet := fmt.Sprintf("10.%d.%d", subnetBase+pid%50, pid/50%250)
	runIP(t, "", "link", "add", bridge, "type", "bridge")
	t.Cleanup(func() { exec.Command("ip", "link", "del", bridge).Run() })
	runIP(t, "", "addr", "add", subnet+".254/24", "dev", bridge)
	runIP(t, "", "link", "set", bridge, "up")
	var places []nodePlace
	for i := 1; i <= n; i++ {
		pl := nodePlace{host: fmt.Sprintf("%s.%d", subnet, i), netns: fmt.Sprintf("%s%s-%d", prefix, tag, i)}
		places = append(places, pl)
		runIP(t, "", "netns", "add", pl.netns)
		t.Cleanup(func() { exec.Command("ip", "netns", "del", pl.netns).Run() })
		// Per call, not per process: the soak and this test run in one
		// process, and a namespace's veth pair can outlive its deletion
		// for a moment (IFNAMSIZ allows 15 bytes; these take 9).
		host, peer := fmt.Sprintf("%sa%s%02x%d", prefix[:1], tag, seq, i), fmt.Sprintf("%sb%s%02x%d", prefix[:1], tag, seq, i)
		runIP(t, "", "link", "add", host, "type", "veth", "peer", "name", peer)
		runIP(t, "", "link", "set", peer, "netns", pl.netns)
		runIP(t, "", "link", "set", host, "master", bridge)
		runIP(t, "", "link", "set", host, "up")
		runIP(t, pl.netns, "addr", "add", pl.host+"/24", "dev", peer)
		runIP(t, pl.netns, "link", "set", peer, "up")
		runIP(t, pl.netns, "link", "set", "lo", "up")
	}
	return places
}

// TestClusterPartitionMinorityLeader cuts the leader of a three-node
// cluster off from the two others with network namespaces (the client,
// on the bridge, still reaches all three): the majority elects a new
// leader and goes on taking writes; the old leader acknowledges nothing
// while cut off; after the partition heals, all three hold the same
// events: every acknowledged write once, and the unacknowledged one
// whole or not at all.
func TestClusterPartitionMinorityLeader(t *testing.T) {
	bin := arbBinary(t)
	var nodes []*netnsNode
	var peers []string
	for i, pl := range netnsHosts(t, "arb", 100, 3) {
		n := &netnsNode{id: fmt.Sprintf("n%d", i+1), ns: pl.netns, ip: pl.host}
		nodes = append(nodes, n)
		peers = append(peers, fmt.Sprintf("%s=%s:7000", n.id, n.ip))
	}
	for _, n := range nodes {
		n.log = &lockedBuffer{}
		n.proc = exec.Command("ip", "netns", "exec", n.ns, bin, "serve", "--data-dir", t.TempDir(),
			"--mysql-addr", n.ip+":3306", "--http-addr", n.ip+":8080", "--root-password", "pw",
			"--node-id", n.id, "--peers", strings.Join(peers, ","), "--project", "shop:tok:sec")
		n.proc.Stdout, n.proc.Stderr = n.log, n.log
		if err := n.proc.Start(); err != nil {
			t.Fatal(err)
		}
		n.exited = make(chan error, 1)
		go func(n *netnsNode) { n.exited <- n.proc.Wait() }(n)
		t.Cleanup(func() {
			n.proc.Process.Kill()
			<-n.exited
			if t.Failed() {
				t.Logf("%s log:\n%.8000s", n.id, n.log.String())
			}
		})
		db, err := sql.Open("mysql", fmt.Sprintf("root:pw@tcp(%s:3306)/shop?timeout=5s&readTimeout=20s", n.ip))
		if err != nil {
			t.Fatal(err)
		}
		db.SetMaxOpenConns(4)
		n.db = db
	}
	// Every node answers once the cluster has a leader and the project.
	for _, n := range nodes {
		eventually(t, 60*time.Second, n.id+" serving the project", func() error {
			var c int
			return n.db.QueryRow("SELECT COUNT(*) FROM events").Scan(&c)
		})
	}
	leaderOf := func(via *netnsNode) string {
		var id string
		if err := via.db.QueryRow("SELECT node FROM arb.cluster WHERE is_leader").Scan(&id); err != nil {
			return ""
		}
		return id
	}
	var leader *netnsNode
	eventually(t, 30*time.Second, "a leader", func() error {
		id := leaderOf(nodes[0])
		for _, n := range nodes {
			if n.id == id {
				leader = n
				return nil
			}
		}
		return fmt.Errorf("no leader yet")
	})
	t.Logf("leader before the partition: %s", leader.id)

	var acked atomic.Int64
	post := func(n *netnsNode, from, count int, timeout time.Duration) error {
		var body strings.Builder
		for i := from; i < from+count; i++ {
			fmt.Fprintf(&body, `{"event":"E","properties":{"time":1733000000000,"distinct_id":"u%d","$insert_id":"p%d","amount":1}}`+"\n", i%7, i)
		}
		req, _ := http.NewRequest("POST", n.url("/import?project_id=shop"), strings.NewReader(body.String()))
		req.SetBasicAuth("sec", "")
		req.Header.Set("Content-Type", "application/x-ndjson")
		resp, err := (&http.Client{Timeout: timeout}).Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		msg, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			return fmt.Errorf("HTTP %d: %s", resp.StatusCode, msg)
		}
		acked.Add(int64(count))
		return nil
	}
	next := 0
	for _, n := range nodes {
		if err := post(n, next, 50, 10*time.Second); err != nil {
			t.Fatalf("write through %s before the partition: %v", n.id, err)
		}
		next += 50
	}

	// Cut the leader off from the other two: its packets to them are
	// dropped, so nothing it sends them arrives and their connections
	// to it never complete. The test still reaches every node.
	var majority []*netnsNode
	for _, n := range nodes {
		if n != leader {
			majority = append(majority, n)
			runIP(t, leader.ns, "route", "add", "blackhole", n.ip+"/32")
		}
	}
	cut := time.Now()
	var newLeader string
	// Polled on /metrics (local to each node, no round trip to the
	// others), so the figure is the election's.
	took := eventually(t, 30*time.Second, "a new leader in the majority", func() error {
		for _, n := range majority {
			if scrapeMetrics(t, n.url("/metrics"), "arb_cluster_is_leader")["arb_cluster_is_leader"] == 1 {
				newLeader = n.id
				return nil
			}
		}
		return fmt.Errorf("no leader in the majority yet")
	})
	t.Logf("partition: %s cut off; %s leads the majority after %s", leader.id, newLeader, took.Round(time.Millisecond))
	// The majority takes writes through either of its nodes.
	for _, n := range majority {
		if err := post(n, next, 50, 20*time.Second); err != nil {
			t.Fatalf("write through %s in the majority: %v", n.id, err)
		}
		next += 50
	}
	// The old leader acknowledges nothing while cut off.
	minorityFrom := next
	err := post(leader, minorityFrom, 50, 15*time.Second)
	next += 50
	if err == nil {
		t.Fatalf("%s acknowledged a write while cut off from the majority", leader.id)
	}
	t.Logf("write through the cut-off %s: %v (after %s of partition)", leader.id, err, time.Since(cut).Round(time.Millisecond))

	// Heal. The write the cut-off node did not acknowledge may still
	// have gone through once the partition healed (it retries until its
	// write timeout; the client had given up): it is then whole and on
	// every node. Every acknowledged write is everywhere, exactly once.
	for _, n := range majority {
		runIP(t, leader.ns, "route", "del", "blackhole", n.ip+"/32")
	}
	want := acked.Load()
	var counts []int64
	eventually(t, 60*time.Second, "every node converged after the partition", func() error {
		counts = counts[:0]
		for _, n := range nodes {
			var c, distinct, unacked, acknowledged int64
			if err := n.db.QueryRow("SELECT COUNT(*), COUNT(DISTINCT insert_id), SUM(insert_id IN ("+insertIDList(minorityFrom, 50)+")), SUM(insert_id NOT IN ("+insertIDList(minorityFrom, 50)+")) FROM events").Scan(&c, &distinct, &unacked, &acknowledged); err != nil {
				return err
			}
			if acknowledged != want || distinct != c || (unacked != 0 && unacked != 50) {
				return fmt.Errorf("%s: %d events (%d distinct): %d of the %d acknowledged, %d of the unacknowledged write (want none or all 50)", n.id, c, distinct, acknowledged, want, unacked)
			}
			counts = append(counts, c)
		}
		if counts[0] != counts[1] || counts[1] != counts[2] {
			return fmt.Errorf("the nodes differ: %v", counts)
		}
		return nil
	})
	t.Logf("after healing: every node holds the %d acknowledged events once, %d events in all", want, counts[0])
}

func insertIDList(from, count int) string {
	ids := make([]string, count)
	for i := range ids {
		ids[i] = fmt.Sprintf("'p%d'", from+i)
	}
	return strings.Join(ids, ",")
}

package integration

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestClusterJoinAndRemoveNode adds a fourth node to a running
// three-node cluster with --join: it starts from a backup of a member's
// store, catches up from the log, answers as the others do and takes
// writes; then it is removed from the configuration.
func TestClusterJoinAndRemoveNode(t *testing.T) {
	// Small flushes: the joining node gets segments, not only log.
	nodes := startCluster(t, 3, "--flush-rows", "500").nodes
	insert := func(n *arbProcess, from, count int) {
		t.Helper()
		var rows []string
		for i := from; i < from+count; i++ {
			rows = append(rows, fmt.Sprintf("('2025-01-01 00:00:00', 'E', 'u%d', 'j%d', %d)", i%13, i, i%10))
		}
		exec1(t, n.DB(), "INSERT INTO events (time, event, distinct_id, insert_id, amount) VALUES "+strings.Join(rows, ","))
	}
	for i, n := range nodes {
		insert(n, i*1000, 1000)
	}
	joinPort := freePort(t)
	n4 := startArb(t, "--node-id", "n4", "--raft-addr", fmt.Sprintf("127.0.0.1:%d", joinPort),
		"--join", raftAddrOf(t, nodes[1]), "--project", clusterProject+":"+clusterToken+":"+clusterSecret)
	if !strings.Contains(n4.log.String(), "seeded from a backup") {
		t.Fatalf("n4 did not start from a backup of n2:\n%s", n4.log.String())
	}
	insert(n4, 3000, 500)
	insert(nodes[0], 3500, 500)
	all := append(nodes, n4)
	for i, n := range all {
		eventually(t, 30*time.Second, fmt.Sprintf("n%d answers like the others", i+1), func() error {
			got := queryString(t, n.DB(), "SELECT CONCAT(COUNT(*), '/', COUNT(DISTINCT insert_id), '/', SUM(amount)) FROM events")
			if got != "4000/4000/18000" {
				return fmt.Errorf("count/distinct/sum %s, want 4000/4000/18000", got)
			}
			return nil
		})
	}
	if got := queryString(t, nodes[2].DB(), "SELECT COUNT(*) FROM arb.cluster"); got != "4" {
		t.Fatalf("%s members after the join, want 4", got)
	}
	req, _ := http.NewRequest("POST", nodes[0].url("/admin/cluster/remove?node=n4"), nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("remove n4: HTTP %d", resp.StatusCode)
	}
	eventually(t, 10*time.Second, "n4 gone from the configuration", func() error {
		if got := queryString(t, nodes[1].DB(), "SELECT GROUP_CONCAT(node ORDER BY node) FROM arb.cluster"); got != "n1,n2,n3" {
			return fmt.Errorf("members %s", got)
		}
		return nil
	})
	insert(nodes[2], 4000, 100)
	if got := queryString(t, nodes[1].DB(), "SELECT COUNT(*) FROM events"); got != "4100" {
		t.Fatalf("%s events after n4 left, want 4100", got)
	}
}

// raftAddrOf is the Raft address of a node of startCluster: its entry
// in its --peers flag.
func raftAddrOf(t *testing.T, p *arbProcess) string {
	t.Helper()
	var id, peers string
	for i := 0; i+1 < len(p.extra); i++ {
		switch p.extra[i] {
		case "--node-id":
			id = p.extra[i+1]
		case "--peers":
			peers = p.extra[i+1]
		}
	}
	for _, part := range strings.Split(peers, ",") {
		if name, addr, ok := strings.Cut(part, "="); ok && name == id {
			return addr
		}
	}
	t.Fatalf("no Raft address for %s in --peers %q", id, peers)
	return ""
}

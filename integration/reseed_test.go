package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestClusterReseedAfterLogMovedOn stops a follower while the cluster
// takes more writes than its Raft log keeps after a snapshot (tiny
// snapshot threshold, trailing log and log segments here): on restart
// the leader can only send its snapshot, which is ahead of the
// follower's store, so the follower reseeds its store from a backup of
// the leader's and restarts in place — and answers as the others do.
func TestClusterReseedAfterLogMovedOn(t *testing.T) {
	nodes := startCluster(t, 3, "--raft-snapshot-interval", "200ms", "--raft-snapshot-threshold", "20",
		"--raft-trailing-logs", "5", "--raft-log-segment-bytes", "8192").nodes
	insert := func(i int) {
		t.Helper()
		exec1(t, nodes[0].DB(), fmt.Sprintf("INSERT INTO events (time, event, distinct_id, insert_id, amount) VALUES ('2025-01-01 00:00:00', 'E', 'u%d', 'r%d', %d)", i%7, i, i))
	}
	for i := 0; i < 10; i++ {
		insert(i)
	}
	nodes[2].Stop()
	for i := 10; i < 150; i++ {
		insert(i)
	}
	// A snapshot of the leader's beyond the entries n3 has, and the log
	// segments before it dropped (on every survivor).
	eventually(t, 30*time.Second, "snapshots past the stopped node's entries", func() error {
		for _, n := range nodes[:2] {
			snaps, _ := filepath.Glob(filepath.Join(n.dir, "raft", "snapshots", "*"))
			segs, _ := filepath.Glob(filepath.Join(n.dir, "raft", "log", "*.wal"))
			first := ""
			if len(segs) > 0 {
				first = filepath.Base(segs[0])
			}
			if len(snaps) == 0 || strings.HasPrefix(first, "00000000000000000001-") {
				return fmt.Errorf("%s: snapshots %d, first log segment %q", n.dir, len(snaps), first)
			}
		}
		return nil
	})
	nodes[2].Restart()
	eventually(t, 60*time.Second, "n3 reseeded and answering like the others", func() error {
		if !strings.Contains(nodes[2].log.String(), "reseeded the store from the leader") {
			return fmt.Errorf("no reseed in n3's log yet")
		}
		got := queryString(t, nodes[2].DB(), "SELECT CONCAT(COUNT(*), '/', SUM(amount)) FROM events")
		if want := fmt.Sprintf("150/%d", 149*150/2); got != want {
			return fmt.Errorf("n3: count/sum %s, want %s", got, want)
		}
		return nil
	})
	// Its Raft state survived the reseed: it takes part in writes.
	insert(150)
	for i, n := range nodes {
		eventually(t, 10*time.Second, fmt.Sprintf("n%d after one more write", i+1), func() error {
			if got := queryString(t, n.DB(), "SELECT COUNT(*) FROM events"); got != "151" {
				return fmt.Errorf("%s events", got)
			}
			return nil
		})
	}
	if _, err := os.Stat(nodes[2].dir + ".reseed"); !os.IsNotExist(err) {
		t.Errorf("the reseed's staging directory is left: %v", err)
	}
}

package integration

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"arb/storage"
)

// TestClusterShardedProject: a cluster whose project keeps its events in
// three shards (--shards 3 on every node; each log entry is split by
// shard where it is applied): SQL and HTTP writes through every node, a
// leader killed mid-way and restarted, every acknowledged event once on
// every node, then $identify links within a shard and across shards, and
// every node counts the same persons: each link joins two ids into one.
func TestClusterShardedProject(t *testing.T) {
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	c := startCluster(t, 3, "--shards", "3", "--flush-rows", "3000")
	l := newClusterLoad(c)
	l.start(2, 2, 1, seed)
	l.waitAcked(t, 1000, 30*time.Second)
	leader, _ := c.waitLeader(t, c.all(), 10*time.Second)
	dead := c.index(t, leader)
	c.nodes[dead].Kill()
	t.Logf("killed the leader %s", leader)
	c.waitLeader(t, c.except(dead), 10*time.Second)
	l.waitAcked(t, 1000, 30*time.Second)
	l.stop()
	l.checkNoFailures(t)
	c.nodes[dead].Restart()
	c.waitCaughtUp(t, dead, 30*time.Second)
	for _, i := range c.all() {
		c.checkExactlyOnce(t, l, i, "sharded, after the failover")
	}

	// Persons before the links: the ids events were sent with.
	var ids []string
	rows, err := c.nodes[0].DB().Query("SELECT DISTINCT raw_distinct_id FROM events ORDER BY 1")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	rows.Close()
	before := len(ids)
	// Link pairs of those ids, each id in one link at most, so that every
	// link joins two persons into one: eight pairs in two shards, four in
	// one.
	var records []map[string]any
	used := map[int]bool{}
	links, across, within := 0, 0, 0
	for a := 0; a < len(ids) && (across < 8 || within < 4); a++ {
		for b := a + 1; b < len(ids) && !used[a]; b++ {
			if used[b] {
				continue
			}
			anon, user := ids[a], ids[b]
			same := storage.ShardOf(anon, 3) == storage.ShardOf(user, 3)
			if (same && within == 4) || (!same && across == 8) {
				continue
			}
			if same {
				within++
			} else {
				across++
			}
			used[a], used[b] = true, true
			records = append(records, map[string]any{"event": "$identify", "properties": map[string]any{
				"time": clusterDay.UnixMilli(), "distinct_id": user, "$insert_id": fmt.Sprintf("link-%d", a),
				"$anon_distinct_id": anon, "$identified_id": user}})
			links++
		}
	}
	body, _ := json.Marshal(records)
	if status, got, _, err := l.post(1, "/import?strict=1", body); err != nil || status != 200 {
		t.Fatalf("links: HTTP %d %s %v", status, got, err)
	}
	for _, i := range c.all() {
		var persons, sent int
		if err := c.nodes[i].DB().QueryRow("SELECT count(DISTINCT distinct_id), count(DISTINCT raw_distinct_id) FROM events").Scan(&persons, &sent); err != nil {
			t.Fatalf("n%d: %v", i+1, err)
		}
		if sent != before || persons != before-links {
			t.Errorf("n%d: %d persons of %d ids sent; want %d ids joined by %d links into %d", i+1, persons, sent, before, links, before-links)
		}
		// The shards are the project's storage, never databases.
		rows, err := c.nodes[i].DB().Query("SHOW DATABASES")
		if err != nil {
			t.Fatalf("n%d: %v", i+1, err)
		}
		for rows.Next() {
			var db string
			rows.Scan(&db)
			if strings.HasPrefix(db, clusterProject+".") {
				t.Errorf("n%d: SHOW DATABASES lists the shard %s", i+1, db)
			}
		}
		rows.Close()
	}
}

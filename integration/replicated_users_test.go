package integration

import (
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestClusterUsersReplicate: in cluster mode CREATE USER, GRANT and DROP
// USER made through one node hold on every node (they go through the
// Raft log), also after a node restarts; each node keeps its own root.
func TestClusterUsersReplicate(t *testing.T) {
	nodes := startCluster(t, 3).nodes
	exec1(t, nodes[0].DB(), "CREATE USER analyst IDENTIFIED BY 'pw1'")
	exec1(t, nodes[0].DB(), "GRANT SELECT ON shop.* TO analyst")
	exec1(t, nodes[1].DB(), "INSERT INTO events (time, event, distinct_id) VALUES ('2025-01-01 00:00:00', 'Signup', 'u1')")
	as := func(n *arbProcess) *sql.DB {
		db, err := sql.Open("mysql", fmt.Sprintf("analyst:pw1@tcp(127.0.0.1:%d)/shop", n.mysqlPort))
		if err != nil {
			t.Fatal(err)
		}
		db.SetMaxIdleConns(0) // every check logs in afresh
		t.Cleanup(func() { db.Close() })
		return db
	}
	check := func(n *arbProcess, i int) {
		db := as(n)
		eventually(t, 10*time.Second, fmt.Sprintf("analyst reads through n%d", i+1), func() error {
			var c int
			if err := db.QueryRow("SELECT COUNT(*) FROM events").Scan(&c); err != nil {
				return err
			}
			if c != 1 {
				return fmt.Errorf("%d events, want 1", c)
			}
			return nil
		})
		_, err := db.Exec("INSERT INTO events (time, event, distinct_id) VALUES ('2025-01-01 00:00:00', 'x', 'u2')")
		if err == nil || !strings.Contains(err.Error(), "1142") {
			t.Fatalf("analyst's INSERT through n%d: %v, want error 1142", i+1, err)
		}
	}
	for i, n := range nodes {
		check(n, i)
	}
	// A restarted node loads the replicated grants from its own file.
	nodes[2].Stop()
	nodes[2].Restart()
	check(nodes[2], 2)
	// DROP USER through another node: refused everywhere.
	exec1(t, nodes[1].DB(), "DROP USER analyst")
	for i, n := range nodes {
		db := as(n)
		eventually(t, 10*time.Second, fmt.Sprintf("analyst refused by n%d", i+1), func() error {
			if err := db.Ping(); err == nil || !strings.Contains(err.Error(), "1045") {
				return fmt.Errorf("ping as the dropped analyst: %v, want error 1045", err)
			}
			return nil
		})
	}
	// root is each node's own (no --root-password here: none anywhere).
	for _, n := range nodes {
		if got := queryString(t, n.DB(), "SELECT COUNT(*) FROM events"); got != "1" {
			t.Fatalf("root reads %s events", got)
		}
	}
}

package replication

// Reseeding a replica that fell behind the leader's log.
//
// A node that was down while the cluster took more entries than the
// log keeps after a snapshot (TrailingLogs) can no longer catch up from
// the log: the leader sends its snapshot, whose index is above what the
// node's store holds, and fsm.Restore cannot install it in place (the
// snapshot is the leader's segments, not a copy of the data). Restore
// then asks for a reseed (Node.ReseedNeeded) and fails; the server
// shuts itself down, replaces its data directory with a backup of the
// leader's store (ReseedDataDir) and starts again. The node keeps its
// Raft state (term, vote, log, and the snapshot the leader sent, whose
// index the new store covers), so it rejoins as the same member.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// ReseedNeeded is closed when this replica must reseed its store from
// ReseedFrom (at most once per Node).
func (n *Node) ReseedNeeded() <-chan struct{} { return n.reseed }

// ReseedFrom is the Raft address of the leader to reseed from, once
// ReseedNeeded is closed.
func (n *Node) ReseedFrom() string {
	n.reseedMu.Lock()
	defer n.reseedMu.Unlock()
	return n.reseedLeader
}

func (n *Node) requestReseed() {
	n.reseedOnce.Do(func() {
		addr, _ := n.raft.LeaderWithID()
		n.log.Error("replication: this replica fell behind the leader's log; it will reseed its store from the leader and restart", "leader", addr)
		n.reseedMu.Lock()
		n.reseedLeader = string(addr)
		n.reseedMu.Unlock()
		close(n.reseed)
	})
}

// keptOnReseed are what a reseed keeps of the data directory: the Raft
// state and the TLS certificate.
var keptOnReseed = []string{"raft", "tls"}

// ReseedDataDir replaces the store in dataDir (no process may have it
// open) with a backup of the store of the member at addr, keeping the
// Raft state and TLS files. It fills a staging directory beside dataDir
// first and swaps directories last, so an interrupted reseed leaves the
// old directory whole (a staging directory left behind is replaced by
// the next one).
func ReseedDataDir(ctx context.Context, addr, dataDir string) error {
	if addr == "" {
		return fmt.Errorf("reseed %s: no leader known to reseed from", dataDir)
	}
	dataDir = filepath.Clean(dataDir)
	staging := dataDir + ".reseed"
	if err := os.RemoveAll(staging); err != nil {
		return err
	}
	if err := os.MkdirAll(staging, 0o755); err != nil {
		return err
	}
	if _, err := SeedFromPeer(ctx, addr, staging); err != nil {
		return fmt.Errorf("reseed %s from %s: %w", dataDir, addr, err)
	}
	for _, name := range keptOnReseed {
		if err := os.Rename(filepath.Join(dataDir, name), filepath.Join(staging, name)); err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("reseed %s: keep %s: %w", dataDir, name, err)
		}
	}
	stale := fmt.Sprintf("%s.stale-%d", dataDir, time.Now().UnixNano())
	if err := os.Rename(dataDir, stale); err != nil {
		return fmt.Errorf("reseed %s: %w", dataDir, err)
	}
	if err := os.Rename(staging, dataDir); err != nil {
		return fmt.Errorf("reseed %s: put the new store in place (the old one is %s): %w", dataDir, stale, err)
	}
	if d, err := os.Open(filepath.Dir(dataDir)); err == nil {
		d.Sync()
		d.Close()
	}
	// The old store is a stale copy of what a quorum holds.
	return os.RemoveAll(stale)
}

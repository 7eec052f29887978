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
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"arb/storage"
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
// Raft state and TLS files:
//
//  1. fill dataDir.reseed with the backup (a leftover one is replaced);
//  2. rename dataDir to dataDir.stale, then dataDir.reseed to dataDir;
//  3. move raft/ and tls/ from dataDir.stale into dataDir, and remove
//     dataDir.stale.
//
// A crash in 1 leaves dataDir as it was; from the first rename of 2 on,
// RecoverReseed (run at every start in cluster mode) finishes the swap,
// so the node never starts without its Raft state.
func ReseedDataDir(ctx context.Context, addr, dataDir string) error {
	if addr == "" {
		return fmt.Errorf("reseed %s: no leader known to reseed from", dataDir)
	}
	dataDir = filepath.Clean(dataDir)
	if err := RecoverReseed(dataDir); err != nil {
		return err
	}
	staging, stale := dataDir+".reseed", dataDir+".stale"
	if err := os.RemoveAll(staging); err != nil {
		return err
	}
	if err := os.MkdirAll(staging, 0o755); err != nil {
		return err
	}
	if _, err := SeedFromPeer(ctx, addr, staging); err != nil {
		return fmt.Errorf("reseed %s from %s: %w", dataDir, addr, err)
	}
	if err := os.Rename(dataDir, stale); err != nil {
		return fmt.Errorf("reseed %s: %w", dataDir, err)
	}
	syncDir(filepath.Dir(dataDir))
	if err := os.Rename(staging, dataDir); err != nil {
		return fmt.Errorf("reseed %s: put the new store in place: %w", dataDir, err)
	}
	syncDir(filepath.Dir(dataDir))
	return RecoverReseed(dataDir)
}

// RecoverReseed finishes a reseed of dataDir that a crash interrupted
// after its first rename (ReseedDataDir), and does nothing otherwise.
func RecoverReseed(dataDir string) error {
	dataDir = filepath.Clean(dataDir)
	staging, stale := dataDir+".reseed", dataDir+".stale"
	if !exists(stale) {
		return nil
	}
	if !exists(dataDir) {
		src := staging // between the two renames: the new store is whole
		if !exists(staging) {
			src = stale
		}
		if err := os.Rename(src, dataDir); err != nil {
			return fmt.Errorf("finish the reseed of %s: %w", dataDir, err)
		}
		syncDir(filepath.Dir(dataDir))
		if src == stale {
			return nil
		}
	}
	for _, name := range keptOnReseed {
		from := filepath.Join(stale, name)
		if !exists(from) {
			continue // moved already
		}
		to := filepath.Join(dataDir, name)
		if err := os.RemoveAll(to); err != nil {
			return err
		}
		if err := os.Rename(from, to); err != nil {
			return fmt.Errorf("finish the reseed of %s: keep %s: %w", dataDir, name, err)
		}
	}
	syncDir(dataDir)
	// The old store is a stale copy of what a quorum holds.
	return os.RemoveAll(stale)
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// ReseedError is Start's refusal to run over a store that lacks entries
// Raft counts as applied: the caller reseeds from Leader (ReseedDataDir)
// and starts again.
type ReseedError struct {
	Leader     string // Raft address of the leader to reseed from
	Applied    uint64 // the store's applied index
	Snapshoted uint64 // the newest local snapshot's index
}

func (e *ReseedError) Error() string {
	return fmt.Sprintf("replication: the store has applied the log up to entry %d, but this node's newest Raft snapshot is at entry %d (a reseed that did not finish): reseed from the leader %s",
		e.Applied, e.Snapshoted, e.Leader)
}

// checkSnapshotCovered runs before Raft starts. Raft takes its newest
// local snapshot's index as applied without asking the state machine
// (NoSnapshotRestoreOnStart); the store must hold at least as much:
//   - a store behind it (Restore refused a leader's snapshot, and the
//     reseed it asked for did not happen) would silently miss the
//     entries in between: refuse with a *ReseedError naming the leader;
//   - a log that ends below it (kept by a reseed) could not take the
//     next entry (raft-wal appends only consecutively): empty it, as
//     Raft does after installing a snapshot.
func (n *Node) checkSnapshotCovered(store *storage.Store) error {
	snaps, err := n.snaps.List()
	if err != nil || len(snaps) == 0 {
		return err
	}
	newest := snaps[0].Index
	if applied := store.AppliedIndex(); applied < newest {
		leader, err := n.findLeader()
		if err != nil {
			return fmt.Errorf("replication: the store has applied the log up to entry %d, below this node's newest Raft snapshot (entry %d), and no member tells who leads to reseed from: %w", applied, newest, err)
		}
		return &ReseedError{Leader: leader, Applied: applied, Snapshoted: newest}
	}
	last, err := n.logs.LastIndex()
	if err != nil {
		return err
	}
	if last != 0 && last < newest {
		first, err := n.logs.FirstIndex()
		if err != nil {
			return err
		}
		n.log.Info("replication: the Raft log ends below the newest snapshot; emptying it", "log_first", first, "log_last", last, "snapshot", newest)
		return n.logs.DeleteRange(first, last)
	}
	return nil
}

// findLeader asks the members this node knows (--peers, --join) who
// leads, and returns the leader's Raft address.
func (n *Node) findLeader() (string, error) {
	addrs := []string{n.cfg.Join}
	for id, addr := range n.cfg.Peers {
		if id != n.cfg.ID {
			addrs = append(addrs, addr)
		}
	}
	var errs []error
	for _, addr := range addrs {
		if addr == "" {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		st, err := n.peers.peerStatus(ctx, addr)
		cancel()
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", addr, err))
			continue
		}
		for _, m := range st.Members {
			if m.ID == st.Leader {
				return m.Addr, nil
			}
		}
		errs = append(errs, fmt.Errorf("%s knows no leader", addr))
	}
	if len(errs) == 0 {
		return "", errors.New("no other member known (--peers names only this node)")
	}
	return "", errors.Join(errs...)
}

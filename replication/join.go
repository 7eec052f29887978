package replication

// Adding a node to a running cluster (`arb serve --join ADDR`):
//
//  1. Before the new node opens its store, SeedFromPeer fetches a
//     backup of a member's store over the forwarding service (Backup: the
//     tar stream of storage.Backup) and restores it into the empty data
//     directory: the segments and a manifest whose applied index A says
//     which log entries they hold (plus the member's users and grants).
//  2. The node starts Raft with no configuration and asks the member
//     (forwarded to the leader) to add it as a voter (Join). The leader
//     then sends it the log from where it lacks it, or its latest
//     snapshot S when its log no longer reaches that far; S ≤ A unless
//     the leader took a snapshot after the backup, and then Restore
//     refuses (fsm.go): start the join again with an empty directory.
//
// Removing a node (Remove) takes it out of the configuration; a node
// removed stops taking part and may be shut down.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/hashicorp/raft"
	"google.golang.org/grpc"

	"arb/storage"
)

// memberRequest is the body of Join and Remove.
type memberRequest struct {
	ID   string `json:"id"`
	Addr string `json:"addr,omitempty"`
}

// backupChunk is the size of the Backup stream's messages.
const backupChunk = 1 << 20

// changeMembership adds (addr != "") or removes a voter, on the leader
// (forwarded from any member).
func (n *Node) changeMembership(ctx context.Context, req memberRequest) error {
	for {
		err := n.changeMembershipOnce(ctx, req)
		if err == nil || !errors.Is(err, errNotLeader) || ctx.Err() != nil {
			return err
		}
		select {
		case <-time.After(50 * time.Millisecond):
		case <-ctx.Done():
			return err
		}
	}
}

func (n *Node) changeMembershipOnce(ctx context.Context, req memberRequest) error {
	if n.raft.State() != raft.Leader {
		addr, _ := n.raft.LeaderWithID()
		if addr == "" {
			return fmt.Errorf("%w: no leader known", errNotLeader)
		}
		return n.peers.forwardMember(ctx, string(addr), req)
	}
	var f raft.IndexFuture
	if req.Addr != "" {
		f = n.raft.AddVoter(raft.ServerID(req.ID), raft.ServerAddress(req.Addr), 0, 30*time.Second)
	} else {
		f = n.raft.RemoveServer(raft.ServerID(req.ID), 0, 30*time.Second)
	}
	if err := f.Error(); err != nil {
		if errors.Is(err, raft.ErrNotLeader) {
			return errNotLeader
		}
		return err
	}
	n.log.Info("cluster membership changed", "node", req.ID, "addr", req.Addr, "added", req.Addr != "")
	return nil
}

// Remove takes the node id out of the cluster's configuration.
func (n *Node) Remove(ctx context.Context, id string) error {
	return n.changeMembership(ctx, memberRequest{ID: id})
}

// askToJoin asks the member at cfg.Join to add this node, until it is
// in the configuration.
func (n *Node) askToJoin() {
	req := memberRequest{ID: n.cfg.ID, Addr: n.cfg.Addr}
	for attempt := 1; ; attempt++ {
		ctx, cancel := context.WithTimeout(context.Background(), n.cfg.WriteTimeout)
		err := n.peers.forwardMember(ctx, n.cfg.Join, req)
		cancel()
		if err == nil {
			n.log.Info("joined the cluster", "via", n.cfg.Join)
			return
		}
		if n.raft.State() == raft.Shutdown {
			return
		}
		n.log.Warn("asking to join the cluster", "via", n.cfg.Join, "attempt", attempt, "err", err)
		time.Sleep(time.Second)
	}
}

// serveBackup streams a backup of this node's store.
func (n *Node) serveBackup(w io.Writer) error {
	b, err := n.fsm.store.Backup(nil)
	if err != nil {
		return err
	}
	defer b.Close()
	_, err = b.WriteTo(w)
	return err
}

// SeedFromPeer fills the empty data directory dataDir with a backup of
// the store of the member at addr (its Raft address), for a node that
// joins the cluster. A directory that holds anything is left alone and
// reported as not seeded.
func SeedFromPeer(ctx context.Context, addr, dataDir string) (seeded bool, err error) {
	if names, err := os.ReadDir(dataDir); err == nil && len(names) > 0 {
		return false, nil
	}
	staging := filepath.Clean(dataDir) + ".join"
	if err := os.RemoveAll(staging); err != nil {
		return false, err
	}
	defer os.RemoveAll(staging)
	var peers peerClients
	defer peers.close()
	c, err := peers.conn(addr)
	if err != nil {
		return false, err
	}
	stream, err := c.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true}, "/"+forwardService+"/Backup")
	if err != nil {
		return false, err
	}
	if err := stream.SendMsg(&frame{}); err != nil {
		return false, err
	}
	if err := stream.CloseSend(); err != nil {
		return false, err
	}
	pr, pw := io.Pipe()
	go func() {
		for {
			var f frame
			if err := stream.RecvMsg(&f); err != nil {
				if errors.Is(err, io.EOF) {
					err = nil
				}
				pw.CloseWithError(err)
				return
			}
			if _, err := pw.Write(f.b); err != nil {
				return
			}
		}
	}()
	fs := storage.OSFS{}
	if _, err := storage.ReceiveBackup(fs, staging, pr); err != nil {
		pr.CloseWithError(err)
		return false, fmt.Errorf("fetch a backup from %s: %w", addr, err)
	}
	lock, err := storage.LockDataDir(fs, dataDir)
	if err != nil {
		return false, err
	}
	defer lock.Release()
	if _, err := storage.RestoreBackup(fs, staging, dataDir); err != nil {
		return false, fmt.Errorf("restore the backup from %s into %s: %w", addr, dataDir, err)
	}
	return true, nil
}

// forwardMember asks the member at addr to add or remove a voter.
func (p *peerClients) forwardMember(ctx context.Context, addr string, req memberRequest) error {
	c, err := p.conn(addr)
	if err != nil {
		return err
	}
	body, _ := json.Marshal(req)
	var out frame
	if err := c.Invoke(ctx, "/"+forwardService+"/Member", &frame{b: body}, &out); err != nil {
		return fromStatus(err)
	}
	return nil
}

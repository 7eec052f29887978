package replication

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftwal "github.com/hashicorp/raft-wal"
	"github.com/hashicorp/raft-wal/metadb"
	"google.golang.org/grpc"

	"arb/storage"
)

// Config configures a Node.
type Config struct {
	ID    string            // this node's id, unique in the cluster
	Addr  string            // this node's Raft address: listened on and given to peers
	Peers map[string]string // every node of the cluster, this one too: id → Raft address
	// Join is the Raft address of a node of a running cluster that this
	// new node joins (instead of Peers): see join.go.
	Join string
	Dir  string // Raft's log, stable store and snapshots
	Log  *slog.Logger
	// Raft timeouts (DefaultHeartbeatTimeout, …): a leader that stops is
	// replaced after about an election timeout.
	HeartbeatTimeout time.Duration
	ElectionTimeout  time.Duration
	// WriteTimeout bounds a write's wait for a leader and a quorum
	// (DefaultWriteTimeout).
	WriteTimeout time.Duration
	// Snapshots: every SnapshotInterval Raft takes one when the log has
	// SnapshotThreshold entries since the last, and keeps TrailingLogs
	// entries before it (defaults below; tests make them small).
	SnapshotInterval  time.Duration
	SnapshotThreshold uint64
	TrailingLogs      uint64
	// LogSegmentBytes is the size of raft-wal's segment files (0: its
	// 64 MiB): the log drops old entries a whole segment at a time.
	LogSegmentBytes int
}

// Defaults: loopback and LAN clusters; a leader that dies is replaced in
// well under two seconds even on a loaded machine.
const (
	DefaultHeartbeatTimeout = 500 * time.Millisecond
	DefaultElectionTimeout  = 500 * time.Millisecond
	DefaultWriteTimeout     = 30 * time.Second

	DefaultSnapshotInterval  = 2 * time.Minute
	DefaultSnapshotThreshold = 16384
	DefaultTrailingLogs      = 50000
)

// ParsePeers reads "n1=host:port,n2=host:port".
func ParsePeers(s string) (map[string]string, error) {
	peers := map[string]string{}
	for part := range strings.SplitSeq(s, ",") {
		if part = strings.TrimSpace(part); part == "" {
			continue
		}
		id, addr, ok := strings.Cut(part, "=")
		if !ok || id == "" || addr == "" {
			return nil, fmt.Errorf("peer %q: want id=host:port", part)
		}
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return nil, fmt.Errorf("peer %s: address %q: %w", id, addr, err)
		}
		if _, dup := peers[id]; dup {
			return nil, fmt.Errorf("peer %s given twice", id)
		}
		peers[id] = addr
	}
	return peers, nil
}

// Node is this process's member of the cluster's Raft group.
type Node struct {
	cfg   Config
	log   *slog.Logger
	mux   *portMux
	logs  *raftwal.WAL
	meta  *metadb.BoltMetaDB // logs' metadata database
	snaps *raft.FileSnapshotStore
	trans *raft.NetworkTransport
	grpc  *grpc.Server
	peers peerClients

	raft *raft.Raft
	fsm  *fsm

	// waits is the parent context of every wait for a leader, a commit
	// or an apply; StopWaiting cancels it (shutdown).
	waits     context.Context
	stopWaits context.CancelFunc

	// barrierTerm is the term in which this node, leading, last ran a
	// barrier for reads (readIndexAsLeader).
	barrierTerm atomic.Uint64

	// reseed takes the leader's address when this replica must reseed
	// its store (reseed.go).
	reseed       chan struct{}
	reseedOnce   sync.Once
	reseedMu     sync.Mutex
	reseedLeader string

	fatalOnce sync.Once
	closeOnce sync.Once
}

var _ storage.Log = (*Node)(nil)

// New opens the node's Raft storage and listens on its Raft address;
// Start joins the group once the store is open.
func New(cfg Config) (*Node, error) {
	if cfg.ID == "" {
		return nil, errors.New("replication: a node id is required (--node-id)")
	}
	switch {
	case cfg.Join != "":
		if cfg.Addr == "" {
			return nil, errors.New("replication: a node that joins needs its own --raft-addr")
		}
		if len(cfg.Peers) > 0 {
			return nil, errors.New("replication: give a joining node --join, not --peers (the cluster knows its members)")
		}
	case cfg.Peers[cfg.ID] == "":
		return nil, fmt.Errorf("replication: --peers does not name this node (%s)", cfg.ID)
	case cfg.Addr == "":
		cfg.Addr = cfg.Peers[cfg.ID]
	case cfg.Addr != cfg.Peers[cfg.ID]:
		return nil, fmt.Errorf("replication: --raft-addr %s differs from this node's address in --peers (%s=%s)", cfg.Addr, cfg.ID, cfg.Peers[cfg.ID])
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.HeartbeatTimeout == 0 {
		cfg.HeartbeatTimeout = DefaultHeartbeatTimeout
	}
	if cfg.ElectionTimeout == 0 {
		cfg.ElectionTimeout = DefaultElectionTimeout
	}
	if cfg.WriteTimeout == 0 {
		cfg.WriteTimeout = DefaultWriteTimeout
	}
	if err := os.MkdirAll(filepath.Join(cfg.Dir, "log"), 0o755); err != nil {
		return nil, fmt.Errorf("replication: %w", err)
	}
	n := &Node{cfg: cfg, log: cfg.Log, reseed: make(chan struct{})}
	n.waits, n.stopWaits = context.WithCancel(context.Background())
	hlog := hclog.New(&hclog.LoggerOptions{Name: "raft", Level: hclog.Warn, Output: os.Stderr})
	var err error
	// raft-wal's Close leaves its metadata database open (and locked):
	// the node keeps it and closes it itself, so that a server restarted
	// in the same process (a reseed) can open the log again.
	n.meta = &metadb.BoltMetaDB{}
	logDir := filepath.Join(cfg.Dir, "log")
	if cfg.LogSegmentBytes > 0 {
		n.logs, err = raftwal.Open(logDir, raftwal.WithMetaStore(n.meta), raftwal.WithSegmentSize(cfg.LogSegmentBytes))
	} else {
		n.logs, err = raftwal.Open(logDir, raftwal.WithMetaStore(n.meta))
	}
	if err != nil {
		n.meta.Close()
		return nil, fmt.Errorf("replication: open the raft log in %s: %w", cfg.Dir, err)
	}
	closeLogs := func() { n.logs.Close(); n.meta.Close() }
	if n.snaps, err = raft.NewFileSnapshotStoreWithLogger(cfg.Dir, 2, hlog); err != nil {
		closeLogs()
		return nil, fmt.Errorf("replication: %w", err)
	}
	if n.mux, err = listenMux(cfg.Addr); err != nil {
		closeLogs()
		return nil, fmt.Errorf("replication: %w", err)
	}
	advertise, err := net.ResolveTCPAddr("tcp", cfg.Addr)
	if err != nil {
		n.mux.close()
		closeLogs()
		return nil, fmt.Errorf("replication: %w", err)
	}
	n.trans = raft.NewNetworkTransportWithLogger(&raftStream{muxListener: n.mux.raft, advertise: advertise}, 3, 10*time.Second, hlog)
	return n, nil
}

// Start joins the group with store as the state machine: on a node with
// no Raft state yet it bootstraps the group of cfg.Peers (every node
// bootstraps the same configuration), and starts serving forwarded
// writes.
func (n *Node) Start(store *storage.Store) error {
	conf := raft.DefaultConfig()
	conf.LocalID = raft.ServerID(n.cfg.ID)
	conf.HeartbeatTimeout = n.cfg.HeartbeatTimeout
	conf.ElectionTimeout = n.cfg.ElectionTimeout
	// A leader steps down when it has not heard from a quorum for this
	// long: as long as Raft allows, so that a loaded machine moving a
	// large entry does not lose its leader for nothing.
	conf.LeaderLeaseTimeout = n.cfg.HeartbeatTimeout
	conf.CommitTimeout = 5 * time.Millisecond
	// The store is the snapshot: its manifest already holds every entry
	// up to its applied index, so nothing is restored at start.
	conf.NoSnapshotRestoreOnStart = true
	// Each snapshot flushes the store: not too often. The log keeps many
	// entries before one, so a replica that was down catches up from the
	// log; one down longer reseeds from the leader (reseed.go).
	conf.SnapshotThreshold = cmp.Or(n.cfg.SnapshotThreshold, DefaultSnapshotThreshold)
	conf.SnapshotInterval = cmp.Or(n.cfg.SnapshotInterval, DefaultSnapshotInterval)
	conf.TrailingLogs = cmp.Or(n.cfg.TrailingLogs, DefaultTrailingLogs)
	conf.Logger = hclog.New(&hclog.LoggerOptions{Name: "raft", Level: hclog.Warn, Output: os.Stderr})

	n.fsm = newFSM(store, n.log, n.fatal)
	n.fsm.onBehind = n.requestReseed
	if err := n.checkSnapshotCovered(store); err != nil {
		return err
	}
	has, err := raft.HasExistingState(n.logs, n.logs, n.snaps)
	if err != nil {
		return fmt.Errorf("replication: %w", err)
	}
	if !has && n.cfg.Join == "" {
		var servers []raft.Server
		for id, addr := range n.cfg.Peers {
			servers = append(servers, raft.Server{Suffrage: raft.Voter, ID: raft.ServerID(id), Address: raft.ServerAddress(addr)})
		}
		sort.Slice(servers, func(i, j int) bool { return servers[i].ID < servers[j].ID })
		if err := raft.BootstrapCluster(conf, n.logs, n.logs, n.snaps, n.trans, raft.Configuration{Servers: servers}); err != nil {
			return fmt.Errorf("replication: bootstrap the cluster: %w", err)
		}
	}
	r, err := raft.NewRaft(conf, n.fsm, n.logs, n.logs, n.snaps, n.trans)
	if err != nil {
		return fmt.Errorf("replication: start raft: %w", err)
	}
	n.raft = r
	n.grpc = newForwardGRPC(n)
	go n.grpc.Serve(n.mux.grpc)
	if !has && n.cfg.Join != "" {
		go n.askToJoin()
	}
	n.log.Info("cluster node started", "node", n.cfg.ID, "raft_addr", n.cfg.Addr, "peers", len(n.cfg.Peers), "applied_index", store.AppliedIndex())
	return nil
}

// fatal stops this replica after its store failed to apply an entry.
func (n *Node) fatal(err error) {
	n.fatalOnce.Do(func() {
		go func() {
			n.log.Error("replication: leaving the cluster after a failed apply; restart the node to replay the log", "err", err)
			n.raft.Shutdown()
		}()
	})
}

// Append is storage.Log's: the write goes to the leader (this node, or
// forwarded), and Append returns once it is committed and applied here.
func (n *Node) Append(payload []byte, retrySafe bool) error {
	ctx, cancel := context.WithTimeout(n.waits, n.cfg.WriteTimeout)
	defer cancel()
	var leaderless time.Time // since when no leader is known
	sentBefore := false      // an attempt may have reached a leader
	for {
		refusal, err := n.appendOnce(ctx, payload)
		if err == nil {
			return refusal
		}
		// Nothing was appended (no leader, or it just changed), or the
		// leader changed while the write was in flight and the write
		// may be sent again (it stores once however often it comes):
		// ask the new leader after a moment. Else the outcome is
		// unknown and the client decides.
		again := errors.Is(err, errNotLeader) || (retrySafe && errors.Is(err, errLeaderChanged))
		sentBefore = sentBefore || errors.Is(err, errLeaderChanged)
		if !again || ctx.Err() != nil {
			return fmt.Errorf("%w: %v: the write may or may not be stored; retry it (an event with an insert_id counts once)", storage.ErrLogUnavailable, err)
		}
		if n.leaderlessTooLong(&leaderless) {
			// No quorum, most likely: waiting longer helps no one.
			fate := "nothing was stored"
			if sentBefore {
				fate = "an earlier attempt may have stored it (an event with an insert_id counts once)"
			}
			return fmt.Errorf("%w: no leader for %s (is a majority of the nodes up?): %s; retry later", storage.ErrLogUnavailable, noLeaderGiveUp, fate)
		}
		select {
		case <-time.After(20 * time.Millisecond):
		case <-ctx.Done():
			return fmt.Errorf("%w: no leader within %s: %v", storage.ErrLogUnavailable, n.cfg.WriteTimeout, err)
		}
	}
}

// noLeaderGiveUp is how long a write or read waits while no leader is
// known at all; an election takes about a second.
const noLeaderGiveUp = 5 * time.Second

// leaderlessTooLong tracks in *since when this node last knew no
// leader (zero: it knows one) and reports whether that has lasted
// noLeaderGiveUp.
func (n *Node) leaderlessTooLong(since *time.Time) bool {
	if addr, _ := n.raft.LeaderWithID(); addr != "" {
		*since = time.Time{}
		return false
	}
	if since.IsZero() {
		*since = time.Now()
	}
	return time.Since(*since) > noLeaderGiveUp
}

func (n *Node) appendOnce(ctx context.Context, payload []byte) (refusal, err error) {
	if n.raft.State() == raft.Leader {
		_, refusal, err := n.applyAsLeader(ctx, payload)
		return refusal, err
	}
	addr, _ := n.raft.LeaderWithID()
	if addr == "" {
		return nil, fmt.Errorf("%w: no leader known", errNotLeader)
	}
	fctx, stop := n.whileLeader(ctx, addr)
	index, leaderRefusal, refused, err := n.peers.forwardApply(fctx, string(addr), payload)
	stop()
	if err != nil {
		if errors.Is(context.Cause(fctx), errLeaderChanged) {
			return nil, fmt.Errorf("%w while the write was in flight: it may or may not be stored", errLeaderChanged)
		}
		return nil, err
	}
	// Committed: wait until it is applied here too, so that this node
	// shows it to the next query, and take the refusal from our own
	// apply (the same as the leader's, typed).
	if err := n.fsm.waitApplied(ctx, index); err != nil {
		// Committed, so durable on a quorum: acknowledged, with the
		// leader's verdict; only this node's next read may not show it.
		n.log.Warn("replication: a write is committed but not applied on this node yet", "index", index, "err", err)
		if refused {
			return errors.New(leaderRefusal), nil
		}
		return nil, nil
	}
	refusal = n.fsm.takeRefusal(index)
	if refused && refusal == nil {
		refusal = errors.New(leaderRefusal)
	}
	return refusal, nil
}

// applyAsLeader appends payload on this node, the leader, and waits for
// its commit and apply.
func (n *Node) applyAsLeader(ctx context.Context, payload []byte) (index uint64, refusal, err error) {
	if n.raft.State() != raft.Leader {
		return 0, nil, errNotLeader
	}
	timeout := n.cfg.WriteTimeout
	if d, ok := ctx.Deadline(); ok {
		timeout = time.Until(d)
	}
	f := n.raft.Apply(payload, timeout)
	if err := f.Error(); err != nil {
		if errors.Is(err, raft.ErrNotLeader) {
			return 0, nil, errNotLeader
		}
		return 0, nil, err
	}
	res, _ := f.Response().(applyResult)
	if res.err != nil {
		return 0, nil, res.err
	}
	n.fsm.takeRefusal(f.Index())
	return f.Index(), res.refusal, nil
}

// readIndexAsLeader is the index a read must have applied to see every
// write acknowledged before it: the last command entry at or below this
// node's commit index, once this node has confirmed it still leads (a
// heartbeat round to a quorum, no disk write). The commit index covers
// every entry committed by earlier leaders only once this term has
// committed an entry of its own: the first read of a term runs a Raft
// barrier for that.
func (n *Node) readIndexAsLeader(ctx context.Context) (uint64, error) {
	if n.raft.State() != raft.Leader {
		return 0, errNotLeader
	}
	timeout := n.cfg.WriteTimeout
	if d, ok := ctx.Deadline(); ok {
		timeout = time.Until(d)
	}
	leaderErr := func(err error) error {
		if errors.Is(err, raft.ErrNotLeader) || errors.Is(err, raft.ErrLeadershipLost) {
			return errNotLeader
		}
		return err
	}
	term := n.raft.CurrentTerm()
	if n.barrierTerm.Load() != term {
		if err := n.raft.Barrier(timeout).Error(); err != nil {
			return 0, leaderErr(err)
		}
		n.barrierTerm.Store(term)
	}
	if err := n.raft.VerifyLeader().Error(); err != nil {
		return 0, leaderErr(err)
	}
	return n.lastCommandAtOrBelow(n.raft.CommitIndex()), nil
}

// lastCommandAtOrBelow is the index of the last command entry (a write)
// at or below index: the state machine sees only those, so that is how
// far a read waits. Entries the log dropped after a snapshot are applied
// everywhere that matters (the snapshot is a flush).
func (n *Node) lastCommandAtOrBelow(index uint64) uint64 {
	first, err := n.logs.FirstIndex()
	if err != nil {
		return n.fsm.appliedIndex()
	}
	var l raft.Log
	for i := index; i >= first && i > 0; i-- {
		if err := n.logs.GetLog(i, &l); err != nil {
			break
		}
		if l.Type == raft.LogCommand {
			return i
		}
	}
	// No write in the log's reach (it was compacted past them): every
	// write there is is at or below what this leader has applied.
	return n.fsm.appliedIndex()
}

// ReadBarrier returns once this node has applied every write
// acknowledged (by any node) before it was called.
func (n *Node) ReadBarrier(ctx context.Context) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, n.cfg.WriteTimeout)
		defer cancel()
	}
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	defer context.AfterFunc(n.waits, stop)()
	var leaderless time.Time
	for {
		index, err := n.readIndexOnce(ctx)
		if err == nil {
			return n.fsm.waitApplied(ctx, index)
		}
		if !errors.Is(err, errNotLeader) || ctx.Err() != nil {
			return fmt.Errorf("%w: read barrier: %v", storage.ErrLogUnavailable, err)
		}
		if n.leaderlessTooLong(&leaderless) {
			return fmt.Errorf("%w: read barrier: no leader for %s (is a majority of the nodes up?)", storage.ErrLogUnavailable, noLeaderGiveUp)
		}
		select {
		case <-time.After(20 * time.Millisecond):
		case <-ctx.Done():
			return fmt.Errorf("%w: read barrier: no leader: %v", storage.ErrLogUnavailable, err)
		}
	}
}

func (n *Node) readIndexOnce(ctx context.Context) (uint64, error) {
	if n.raft.State() == raft.Leader {
		return n.readIndexAsLeader(ctx)
	}
	addr, _ := n.raft.LeaderWithID()
	if addr == "" {
		return 0, fmt.Errorf("%w: no leader known", errNotLeader)
	}
	fctx, stop := n.whileLeader(ctx, addr)
	defer stop()
	index, err := n.peers.forwardReadIndex(fctx, string(addr))
	if err != nil && errors.Is(context.Cause(fctx), errLeaderChanged) {
		// Nothing was written: ask the new leader.
		return 0, fmt.Errorf("%w: %w", errNotLeader, errLeaderChanged)
	}
	return index, err
}

// errLeaderChanged: the leader a request was sent to is no longer the
// leader this node knows (it died or was cut off), so its answer will
// not come.
var errLeaderChanged = errors.New("the leader changed")

// whileLeader is ctx, cancelled with errLeaderChanged as soon as this
// node stops seeing addr as the leader: a call to a leader that died or
// is cut off would otherwise wait for its whole deadline.
func (n *Node) whileLeader(ctx context.Context, addr raft.ServerAddress) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(ctx)
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(25 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				if now, _ := n.raft.LeaderWithID(); now != addr {
					cancel(errLeaderChanged)
					return
				}
			}
		}
	}()
	return ctx, func() { close(done); cancel(nil) }
}

// Status describes the node for arb.cluster and /metrics.
type Status struct {
	Node         string
	State        string // Leader, Follower, Candidate, Shutdown
	Leader       string // the leader's id ("" when none is known)
	Term         uint64
	CommitIndex  uint64
	AppliedIndex uint64 // last entry applied here (commands, barriers, configuration)
	LastIndex    uint64
	Members      []Member // FullStatus only
}

// MemberStatus is one member's status as Members gathers it.
type MemberStatus struct {
	Member
	Self      bool
	Reachable bool   // it answered (Status is then its own)
	Status    Status // zero when not reachable
	Err       string // why not
}

// Members asks every member of the configuration for its status, in
// parallel, each within timeout: how far each has applied the log, so
// that the lag of every replica shows on any node.
func (n *Node) Members(ctx context.Context, timeout time.Duration) []MemberStatus {
	self := n.FullStatus()
	out := make([]MemberStatus, len(self.Members))
	var wg sync.WaitGroup
	for i, m := range self.Members {
		out[i].Member = m
		if m.ID == self.Node {
			out[i].Self, out[i].Reachable, out[i].Status = true, true, self
			continue
		}
		wg.Add(1)
		go func(ms *MemberStatus) {
			defer wg.Done()
			cctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			st, err := n.peers.peerStatus(cctx, ms.Addr)
			if err != nil {
				ms.Err = err.Error()
				return
			}
			ms.Reachable, ms.Status = true, st
		}(&out[i])
	}
	wg.Wait()
	return out
}

// Member is one node of the group's configuration.
type Member struct {
	ID, Addr string
	Voter    bool
}

// Status reads the node's state.
// It reads atomics only (no Members: see FullStatus), so metrics
// scrapes and waits may call it often.
func (n *Node) Status() Status {
	_, id := n.raft.LeaderWithID()
	return Status{Node: n.cfg.ID, State: n.raft.State().String(), Leader: string(id), Term: n.raft.CurrentTerm(),
		CommitIndex: n.raft.CommitIndex(), AppliedIndex: n.raft.AppliedIndex(), LastIndex: n.raft.LastIndex()}
}

// FullStatus is Status with the group's configuration (Members), which
// takes a round through Raft's main loop.
func (n *Node) FullStatus() Status {
	st := n.Status()
	if f := n.raft.GetConfiguration(); f.Error() == nil {
		for _, s := range f.Configuration().Servers {
			st.Members = append(st.Members, Member{ID: string(s.ID), Addr: string(s.Address), Voter: s.Suffrage == raft.Voter})
		}
	}
	return st
}

// StopWaiting makes every write and read waiting for a leader, a commit
// or an apply return at once (ErrLogUnavailable): a server shutting
// down without a quorum does not wait out their timeouts.
func (n *Node) StopWaiting() { n.stopWaits() }

// Close leaves the group (a restart rejoins it) and closes the Raft
// storage. The store is closed after it by the caller.
func (n *Node) Close() error {
	var err error
	n.closeOnce.Do(func() {
		n.stopWaits()
		if n.raft != nil {
			err = n.raft.Shutdown().Error()
		}
		if n.grpc != nil {
			n.grpc.Stop()
		}
		n.peers.close()
		n.trans.Close()
		n.mux.close()
		if cerr := n.logs.Close(); err == nil {
			err = cerr
		}
		if cerr := n.meta.Close(); err == nil {
			err = cerr
		}
	})
	return err
}

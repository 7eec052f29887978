package server

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"sync"
	"time"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/mysql_db"
	"github.com/dolthub/go-mysql-server/sql/types"
	gometrics "github.com/hashicorp/go-metrics"
	gometricsprom "github.com/hashicorp/go-metrics/prometheus"
	"github.com/prometheus/client_golang/prometheus"

	"arb/replication"
	"arb/storage"
)

// Cluster mode (Config.Cluster): this server is one node of a group whose
// writes go through a Raft log (package replication). Every write path —
// SQL INSERT, LOAD DATA, /track, /import, /engage, /groups, the catalog —
// reaches the store, which prepares the write and appends it to the log
// (storage.Options.Log); a statement that reads tables first waits until
// this node has applied every write acknowledged before it started
// (queryLimits.readBarrier). Any node takes reads and writes.

// openNode creates the cluster node (listening on its Raft address) and
// makes it the store's log; a single node does nothing.
func (s *Server) openNode(opts *storage.Options) error {
	if s.cfg.Cluster == nil {
		return nil
	}
	// A reseed a crash interrupted is finished first (replication/reseed.go).
	if err := replication.RecoverReseed(s.cfg.DataDir); err != nil {
		return err
	}
	cfg := *s.cfg.Cluster
	if cfg.Dir == "" {
		cfg.Dir = filepath.Join(s.cfg.DataDir, "raft")
	}
	if cfg.Join != "" {
		// A new node starts from a backup of a member's store (join.go
		// in replication); a directory that holds data rejoins as is.
		ctx, cancel := context.WithTimeout(context.Background(), joinSeedTimeout)
		seeded, err := replication.SeedFromPeer(ctx, cfg.Join, s.cfg.DataDir)
		cancel()
		if err != nil {
			return fmt.Errorf("--join %s: %w", cfg.Join, err)
		}
		if seeded {
			s.log.Info("cluster mode: data directory seeded from a backup of a member", "member", cfg.Join, "data_dir", s.cfg.DataDir)
		}
	}
	cfg.Log = s.log
	node, err := replication.New(cfg)
	if err != nil {
		return err
	}
	s.node = node
	opts.Log = node
	s.grants = newReplicatedGrants(s.cfg.RootPassword)
	opts.OnGrants = s.grants.applied
	s.exportRaftMetrics()
	return nil
}

// startNode joins the group with the opened store as its state machine.
func (s *Server) startNode(store *storage.Store) error {
	if s.node == nil {
		return nil
	}
	if err := s.node.Start(store); err != nil {
		return err
	}
	s.metrics.observeNode(s.node)
	// A restarted node replays the log's entries after its store's
	// applied index once the leader tells it how far the log is
	// committed: wait for that (a short while) before serving, so that
	// its first clients do not find a project missing. A node started
	// before its peers finds no leader and serves after leaderWait.
	start := time.Now()
	for s.node.Status().Leader == "" && time.Since(start) < leaderWait {
		time.Sleep(20 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), catchUpWait)
	defer cancel()
	go func() {
		// A replica too far behind to catch up from the log stops
		// waiting at once: it reseeds (cmd/arb).
		select {
		case <-s.node.ReseedNeeded():
			cancel()
		case <-ctx.Done():
		}
	}()
	if s.node.Status().Leader == "" {
		s.log.Info("cluster mode: no leader yet (the other nodes may not be up); serving at once")
	} else if err := s.node.ReadBarrier(ctx); err != nil {
		s.log.Info("cluster mode: serving before catching up with the log", "err", err)
	} else {
		s.log.Info("cluster mode: caught up with the log", "applied_index", store.AppliedIndex(), "took", time.Since(start).Round(time.Millisecond))
	}
	return nil
}

// joinSeedTimeout bounds the backup a joining node fetches.
const joinSeedTimeout = 30 * time.Minute

// shutdownWriteGrace is how long a shutting-down node lets writes and
// reads waiting on the cluster go on before it makes them give up.
const shutdownWriteGrace = 5 * time.Second

// A starting node waits up to leaderWait for a leader, and if there is
// one, up to catchUpWait to catch up with the log.
const (
	leaderWait  = 3 * time.Second
	catchUpWait = 10 * time.Second
)

// closeNode leaves the group (before the store closes).
func (s *Server) closeNode() {
	if s.node != nil {
		if err := s.node.Close(); err != nil {
			s.log.Warn("close the cluster node", "err", err)
		}
	}
}

// ensureProjectsInCluster applies --project flags through the log once
// the group has a leader and a quorum, retrying until then: a node
// started before its peers must not fail for want of them. A cluster
// never makes a default project: each node would draw other credentials.
func (s *Server) ensureProjectsInCluster() {
	if len(s.cfg.Projects) == 0 {
		if len(s.store.Projects()) == 0 {
			s.log.Warn("cluster mode: no --project given; create projects with the same --project NAME:TOKEN:SECRET on every node")
		}
		return
	}
	for _, p := range s.cfg.Projects {
		for {
			_, err := s.store.PutProject(p.Name, p.Token, p.Secret)
			if err == nil {
				break
			}
			s.log.Info("cluster mode: waiting for the cluster to create project "+p.Name, "err", err)
			select {
			case <-time.After(time.Second):
			case <-s.stopping:
				return
			}
		}
	}
	s.log.Info("cluster mode: projects in place", "projects", len(s.cfg.Projects))
}

// newClusterTable is arb.cluster: one row per member of the group, as
// that member reports itself (asked over the Raft port, each within
// clusterStatusTimeout): id, Raft address, voter, whether it leads,
// whether this node is it, whether it answered, its Raft state, term and
// log indexes, and its apply_lag — how many entries it has still to apply of
// what the leader has committed. A single node is one row in state
// "single".
func newClusterTable(node *replication.Node) *rowsTable {
	return &rowsTable{
		name: "cluster",
		schema: systemColumns("cluster",
			&sql.Column{Name: "node", Type: sqlString},
			&sql.Column{Name: "raft_addr", Type: sqlString},
			&sql.Column{Name: "voter", Type: types.Boolean},
			&sql.Column{Name: "is_self", Type: types.Boolean},
			&sql.Column{Name: "is_leader", Type: types.Boolean},
			&sql.Column{Name: "reachable", Type: types.Boolean},
			&sql.Column{Name: "state", Type: sqlString, Nullable: true},
			&sql.Column{Name: "term", Type: types.Uint64, Nullable: true},
			&sql.Column{Name: "commit_index", Type: types.Uint64, Nullable: true},
			&sql.Column{Name: "applied_index", Type: types.Uint64, Nullable: true},
			&sql.Column{Name: "last_index", Type: types.Uint64, Nullable: true},
			&sql.Column{Name: "apply_lag", Type: types.Uint64, Nullable: true},
			&sql.Column{Name: "error", Type: sqlString, Nullable: true},
		),
		rows: func() []sql.Row {
			if node == nil {
				return []sql.Row{{"", "", true, true, true, true, "single", nil, nil, nil, nil, nil, nil}}
			}
			members := node.Members(context.Background(), clusterStatusTimeout)
			var leaderCommit uint64
			leader := ""
			for _, m := range members {
				if m.Self {
					leader = m.Status.Leader
				}
			}
			for _, m := range members {
				if m.Reachable && m.ID == leader {
					leaderCommit = m.Status.CommitIndex
				}
			}
			var rows []sql.Row
			for _, m := range members {
				row := sql.Row{m.ID, m.Addr, m.Voter, m.Self, m.ID == leader, m.Reachable, nil, nil, nil, nil, nil, nil, nil}
				if m.Reachable {
					st := m.Status
					row[6], row[7], row[8], row[9], row[10] = st.State, st.Term, st.CommitIndex, st.AppliedIndex, st.LastIndex
					if leaderCommit > 0 {
						row[11] = leaderCommit - min(leaderCommit, st.AppliedIndex)
					}
				} else {
					row[12] = m.Err
				}
				rows = append(rows, row)
			}
			return rows
		},
	}
}

// clusterStatusTimeout bounds arb.cluster's wait for each member.
const clusterStatusTimeout = 500 * time.Millisecond

// observeNode exports the node's Raft state on /metrics: whether it
// leads, its term and log indexes (a follower's lag is the leader's
// commit index minus its applied index).
func (m *metrics) observeNode(node *replication.Node) {
	gauge := func(name, help string, f func(replication.Status) float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, func() float64 { return f(node.Status()) })
	}
	m.registry.MustRegister(
		gauge("arb_cluster_is_leader", "1 when this node leads the cluster's Raft group.", func(s replication.Status) float64 {
			if s.Leader == s.Node {
				return 1
			}
			return 0
		}),
		gauge("arb_cluster_has_leader", "1 when this node knows a leader.", func(s replication.Status) float64 {
			if s.Leader != "" {
				return 1
			}
			return 0
		}),
		gauge("arb_cluster_term", "This node's Raft term.", func(s replication.Status) float64 { return float64(s.Term) }),
		gauge("arb_cluster_commit_index", "Last Raft log index this node knows committed.", func(s replication.Status) float64 { return float64(s.CommitIndex) }),
		gauge("arb_cluster_applied_index", "Last Raft log entry this node applied.", func(s replication.Status) float64 { return float64(s.AppliedIndex) }),
		gauge("arb_cluster_last_index", "Last Raft log index on this node.", func(s replication.Status) float64 { return float64(s.LastIndex) }),
	)
}

// registerClusterAdmin adds POST /admin/cluster/remove?node=ID: take a
// node out of the cluster's configuration (it may then be shut down for
// good). Who may ask: root, as for /admin/compact.
func registerClusterAdmin(mux *http.ServeMux, node *replication.Node, rootPassword string) {
	if node == nil {
		return
	}
	mux.HandleFunc("POST /admin/cluster/remove", func(w http.ResponseWriter, r *http.Request) {
		if !rootAuthorized(r, rootPassword) {
			w.Header().Set("WWW-Authenticate", `Basic realm="arb"`)
			http.Error(w, "cluster admin: root user and password required (HTTP Basic)", http.StatusUnauthorized)
			return
		}
		id := r.URL.Query().Get("node")
		if id == "" {
			http.Error(w, "cluster admin: name the node to remove: ?node=ID", http.StatusBadRequest)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), time.Minute)
		defer cancel()
		if err := node.Remove(ctx, id); err != nil {
			http.Error(w, fmt.Sprintf("cluster admin: remove node %s: %v", id, err), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintf(w, "removed node %s\n", id)
	})
}

// replicatedGrants loads into this node's user tables the users and
// grants any node changed (CREATE USER, GRANT, … go through the log:
// storage.Store.WriteGrants), so that an account works on every node.
// The log's apply goroutine hands each body over without waiting
// (applied): the node that made the change holds go-mysql-server's
// user-table lock while its write waits for that apply. One goroutine
// loads the newest body (each is the whole state, so older ones can be
// skipped) once it can take the lock.
type replicatedGrants struct {
	mu           sync.Mutex
	db           *mysql_db.MySQLDb // nil until the engine exists (setUpUsers reads the file then)
	rootPassword string
	latest       []byte
	wake         chan struct{}
}

func newReplicatedGrants(rootPassword string) *replicatedGrants {
	return &replicatedGrants{rootPassword: rootPassword, wake: make(chan struct{}, 1)}
}

// applied is storage.Options.OnGrants.
func (g *replicatedGrants) applied(body []byte) {
	g.mu.Lock()
	g.latest = append([]byte(nil), body...)
	g.mu.Unlock()
	select {
	case g.wake <- struct{}{}:
	default:
	}
}

// reloadFrom queues the users and grants of store's grants file (the
// last applied from the log) for loading: it undoes a change this node
// made in memory that the log did not take.
func (g *replicatedGrants) reloadFrom(store *storage.Store) {
	body, err := store.ReadGrants()
	if err != nil || body == nil {
		return
	}
	g.applied(body)
}

// attach starts loading into db, whose users setUpUsers has loaded.
func (g *replicatedGrants) attach(db *mysql_db.MySQLDb, stop <-chan struct{}, log *slog.Logger) {
	g.mu.Lock()
	g.db = db
	g.mu.Unlock()
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-g.wake:
			}
			g.mu.Lock()
			body := g.latest
			g.latest = nil
			g.mu.Unlock()
			if body == nil {
				continue
			}
			if err := g.load(body); err != nil {
				log.Error("cluster mode: load users and grants from the log", "err", err)
			}
		}
	}()
}

func (g *replicatedGrants) load(body []byte) error {
	ed := g.db.Editor()
	defer ed.Close()
	if err := g.db.OverwriteUsersAndGrantData(sql.NewEmptyContext(), ed, body); err != nil {
		return err
	}
	// root is this node's own, from --root-password (users.go).
	ed.RemoveUser(mysql_db.UserPrimaryKey{Host: rootHost, User: rootUser})
	g.db.AddEphemeralSuperUser(ed, rootUser, rootHost, g.rootPassword)
	return nil
}

// exportRaftMetrics sends the metrics hashicorp/raft records (through
// go-metrics' process-wide sink: commit and apply times, leader contact,
// elections, replication per peer, snapshots) to /metrics, as
// arb_raft_*: one node per process, so the global sink is this node's.
func (s *Server) exportRaftMetrics() {
	sink, err := gometricsprom.NewPrometheusSinkFrom(gometricsprom.PrometheusOpts{
		Name: "arb_raft", Registerer: s.metrics.registry, Expiration: 10 * time.Minute})
	if err != nil {
		s.log.Warn("cluster mode: export Raft metrics", "err", err)
		return
	}
	if _, err := gometrics.NewGlobal(&gometrics.Config{ServiceName: "arb", TimerGranularity: time.Millisecond, FilterDefault: true}, sink); err != nil {
		s.log.Warn("cluster mode: export Raft metrics", "err", err)
	}
}

// ReseedNeeded is closed, in cluster mode, when this node fell behind
// the log and must reseed its store from ReseedFrom: the caller shuts
// the server down, calls replication.ReseedDataDir and starts a new
// server (cmd/arb does). nil (never closed) on a single node.
func (s *Server) ReseedNeeded() <-chan struct{} {
	if s.node == nil {
		return nil
	}
	return s.node.ReseedNeeded()
}

// ReseedFrom is the leader's Raft address to reseed from.
func (s *Server) ReseedFrom() string {
	if s.node == nil {
		return ""
	}
	return s.node.ReseedFrom()
}

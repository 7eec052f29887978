package server

import (
	"context"
	"path/filepath"
	"time"

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
	cfg := *s.cfg.Cluster
	if cfg.Dir == "" {
		cfg.Dir = filepath.Join(s.cfg.DataDir, "raft")
	}
	cfg.Log = s.log
	node, err := replication.New(cfg)
	if err != nil {
		return err
	}
	s.node = node
	opts.Log = node
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
	// A restarted node replays the log's entries after its store's
	// applied index once the leader tells it how far the log is
	// committed: wait for that (a short while) before serving, so that
	// its first clients do not find a project missing. A node started
	// before its peers has no leader to ask and serves at once.
	ctx, cancel := context.WithTimeout(context.Background(), catchUpWait)
	defer cancel()
	start := time.Now()
	if err := s.node.ReadBarrier(ctx); err != nil {
		s.log.Info("cluster mode: serving before catching up with the log", "err", err)
	} else {
		s.log.Info("cluster mode: caught up with the log", "applied_index", store.AppliedIndex(), "took", time.Since(start).Round(time.Millisecond))
	}
	return nil
}

// catchUpWait bounds how long a starting node waits to catch up.
const catchUpWait = 10 * time.Second

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

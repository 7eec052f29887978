package replication

import (
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"arb/storage"
)

// TestStartRefusesStoreBehindSnapshot: a replica whose Raft directory
// holds a snapshot above what its store holds — the snapshot a leader
// sent before a reseed that did not finish (fsm.Restore refused it, raft
// had already persisted it; the process then died or ReseedDataDir
// failed) — must not start as if it had applied that far: with
// NoSnapshotRestoreOnStart raft would take the snapshot's index as
// applied without calling Restore, and the store would silently lack
// every entry in between. Start refuses with a *ReseedError (and here,
// a cluster of one, no other member to name a leader: an error saying
// so).
func TestStartRefusesStoreBehindSnapshot(t *testing.T) {
	dataDir := t.TempDir()
	addr := freeAddr(t)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg := Config{ID: "n1", Addr: addr, Peers: map[string]string{"n1": addr}, Dir: filepath.Join(dataDir, "raft"), Log: quiet}
	open := func() (*Node, *storage.Store) {
		t.Helper()
		n, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		st, err := storage.Open(storage.Options{Dir: dataDir, Log: n, FlushInterval: time.Hour, Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		if err := n.Start(st); err != nil {
			t.Fatal(err)
		}
		return n, st
	}
	n, st := open()
	var err error
	deadline := time.Now().Add(20 * time.Second)
	for n.raft.State() != raft.Leader {
		if time.Now().After(deadline) {
			t.Fatal("single node never led")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := st.CreateProject("shop", "tok", "sec"); err != nil {
		t.Fatal(err)
	}
	raftLast := n.raft.LastIndex()
	n.Close()
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	storeApplied := st.AppliedIndex()

	// What installSnapshot leaves on disk before it asks the FSM to
	// restore: a leader's snapshot whose store index is far ahead.
	snaps, err := raft.NewFileSnapshotStore(cfg.Dir, 2, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	_, trans := raft.NewInmemTransport("")
	conf := raft.Configuration{Servers: []raft.Server{{Suffrage: raft.Voter, ID: "n1", Address: raft.ServerAddress(addr)}}}
	ahead := raftLast + 1000
	sink, err := snaps.Create(raft.SnapshotVersionMax, ahead, 50, conf, 1, trans)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sink.Write(binary.BigEndian.AppendUint64([]byte(snapshotMagic), storeApplied+1000)); err != nil {
		t.Fatal(err)
	}
	if err := sink.Close(); err != nil {
		t.Fatal(err)
	}

	n, err = New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	st, err = storage.Open(storage.Options{Dir: dataDir, Log: n, FlushInterval: time.Hour, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	err = n.Start(st)
	if err == nil || !strings.Contains(err.Error(), "below this node's newest Raft snapshot") {
		t.Fatalf("Start over a store at entry %d with a snapshot at %d: %v; want a refusal to start", st.AppliedIndex(), ahead, err)
	}
	// With a member that knows the leader, the refusal names it.
	n.cfg.Peers = map[string]string{"n1": addr, "n2": "127.0.0.1:1"}
	n.cfg.Join = ""
	var re *ReseedError
	if err := n.checkSnapshotCovered(st); errors.As(err, &re) {
		t.Fatalf("a ReseedError without any member answering: %v", re)
	} else if err == nil {
		t.Fatal("no refusal with a member that does not answer")
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

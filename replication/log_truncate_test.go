package replication

import (
	"fmt"
	"testing"

	"github.com/hashicorp/raft"
	raftwal "github.com/hashicorp/raft-wal"
	"github.com/hashicorp/raft-wal/metadb"
)

// TestLogTailTruncationSurvivesReopen: a follower that drops a suffix of
// its log (raft's "clearing log suffix", after a deposed leader's entries
// lose an election) and is then restarted must read its log again.
// raft-wal v0.4.0 marked the truncated segment sealed without writing
// its index block (hashicorp/raft-wal#31), so after a restart every
// read of it failed with "sealed segment has no index block" and
// raft.NewRaft panicked: the node could never start again (found by
// TestClusterSoak: a kill -9 after a leader change). v0.4.1 seals it.
func TestLogTailTruncationSurvivesReopen(t *testing.T) {
	dir := t.TempDir()
	open := func() (*raftwal.WAL, *metadb.BoltMetaDB) {
		meta := &metadb.BoltMetaDB{}
		w, err := raftwal.Open(dir, raftwal.WithMetaStore(meta))
		if err != nil {
			t.Fatal(err)
		}
		return w, meta
	}
	w, meta := open()
	for i := uint64(1); i <= 10; i++ {
		if err := w.StoreLog(&raft.Log{Index: i, Term: 1, Data: []byte(fmt.Sprint(i))}); err != nil {
			t.Fatal(err)
		}
	}
	// The suffix a new leader overwrites: 9 and 10, then 9 again in a
	// new term.
	if err := w.DeleteRange(9, 10); err != nil {
		t.Fatal(err)
	}
	if err := w.StoreLog(&raft.Log{Index: 9, Term: 2, Data: []byte("9'")}); err != nil {
		t.Fatal(err)
	}
	w.Close()
	meta.Close()

	w, meta = open()
	defer func() { w.Close(); meta.Close() }()
	if last, err := w.LastIndex(); err != nil || last != 9 {
		t.Fatalf("last index after reopening: %d, %v; want 9", last, err)
	}
	for i := uint64(1); i <= 9; i++ {
		var l raft.Log
		if err := w.GetLog(i, &l); err != nil {
			t.Fatalf("entry %d after reopening a log whose tail was truncated: %v", i, err)
		}
		want := fmt.Sprint(i)
		if i == 9 {
			want = "9'"
		}
		if string(l.Data) != want {
			t.Fatalf("entry %d after reopening: %q, want %q", i, l.Data, want)
		}
	}
}

package storage

// Crash and fault tests of every durable step.

import (
	"errors"
	"fmt"
	"testing"
)

// TestWALReplayMakesReadRecordsDurable: a record whose fsync failed is
// still in the page cache when the next process replays it, so that
// process builds on it; it must be durable before anything the process
// acknowledges afterwards (a catalog record, then rows of its project).
func TestWALReplayMakesReadRecordsDurable(t *testing.T) {
	mem := newCrashFS()
	// Sync 1 writes 000001.wal's header, sync 2 the record.
	efs := newErrorFS(mem, opSync, 2, false)
	w, err := OpenWAL(WALOptions{FS: efs, Dir: "/wal", Logger: quietLog}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Append([]byte("a")); !errors.Is(err, errInjected) {
		t.Fatalf("append with a failing fsync: %v", err)
	}
	w.Close()
	replayAll := func(fs FS) (*WAL, []string) {
		t.Helper()
		var got []string
		w, err := OpenWAL(WALOptions{FS: fs, Dir: "/wal", Logger: quietLog}, func(_ WALPosition, p []byte) error {
			got = append(got, string(p))
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return w, got
	}
	w, got := replayAll(mem)
	if fmt.Sprint(got) != "[a]" {
		t.Fatalf("replayed %q, want the record in the page cache", got)
	}
	if _, err := w.Append([]byte("b")); err != nil {
		t.Fatal(err)
	}
	w.Close()
	w, got = replayAll(mem.clone(nil))
	w.Close()
	if fmt.Sprint(got) != "[a b]" {
		t.Fatalf("after a crash replayed %q, want [a b]: b was acknowledged after a was replayed", got)
	}
}

package storage

// Crash and fault tests of every durable step.

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"
)

const crashDataDir = "/data"

func openCrashStore(fs FS) (*Store, error) {
	return Open(Options{FS: fs, Dir: crashDataDir, Logger: silentLog, FlushInterval: time.Hour})
}

// silentLog drops every record before it is formatted: the crash tests
// open thousands of stores.
var silentLog = slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelError + 1}))

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

// TestWALTornHeaderLeavesNoGap: a crash while a WAL file's header was
// being written leaves it torn; the open that removes it must not leave
// a gap in the file sequence, which the next open would refuse (the
// MANIFEST needs the files from its WALStartSeq on without a gap).
func TestWALTornHeaderLeavesNoGap(t *testing.T) {
	mem := newCrashFS()
	s, err := openCrashStore(mem)
	if err != nil {
		t.Fatal(err)
	}
	s.CreateProject("p", "", "")
	p, _ := s.Project("p")
	if err := p.Ingest(testEvents(10, 1)); err != nil {
		t.Fatal(err)
	}
	crash(s)
	names, _ := mem.List(crashDataDir + "/" + walDirName)
	last, _ := parseWALFileName(names[len(names)-1])
	f, _ := mem.Create(crashDataDir + "/" + walDirName + "/" + walFileName(last+1))
	f.Write([]byte(walMagic)) // 8 of the header's 16 bytes
	f.Close()
	for round := 0; round < 2; round++ {
		s, err := openCrashStore(mem)
		if err != nil {
			t.Fatalf("open %d after a torn WAL header: %v", round+1, err)
		}
		n, ids := countRows(t, s, "p")
		crash(s)
		if n != 10 || len(ids) != 10 {
			t.Fatalf("open %d: %d rows, %d distinct; want 10", round+1, n, len(ids))
		}
	}
}

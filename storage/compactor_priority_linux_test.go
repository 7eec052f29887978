package storage

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// TestCompactorThreadIsNiced: the background compactor runs on a thread
// of niceness compactorNice (or the process's own, if that is nicer), so
// merges yield the CPU to ingest and queries.
func TestCompactorThreadIsNiced(t *testing.T) {
	s, err := Open(Options{Dir: t.TempDir(), FlushInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	deadline := time.Now().Add(5 * time.Second)
	for s.compactorTID.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	tid := s.compactorTID.Load()
	if tid == 0 {
		t.Fatal("the compactor never reported its thread")
	}
	want := max(compactorNice, niceOf(t, "/proc/self/stat"))
	if got := niceOf(t, fmt.Sprintf("/proc/self/task/%d/stat", tid)); got != want {
		t.Fatalf("compactor thread %d runs at niceness %d, want %d", tid, got, want)
	}
}

// niceOf reads the niceness (field 19) from a /proc stat file.
func niceOf(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	n := 0
	if len(f) <= 16 {
		t.Fatalf("%s: %d fields after the command", path, len(f))
	}
	fmt.Sscan(f[16], &n)
	return n
}

package storage

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestCompactorThreadIsNiced: the background compactor runs on a thread
// of niceness compactorNice, so merges yield the CPU to ingest and
// queries; no other thread of the process is reniced.
func TestCompactorThreadIsNiced(t *testing.T) {
	count := func() int {
		tasks, _ := filepath.Glob("/proc/self/task/*/stat")
		n := 0
		for _, p := range tasks {
			b, err := os.ReadFile(p)
			if err != nil {
				continue
			}
			// Fields after the command's closing parenthesis: state is
			// field 3, nice field 19.
			f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
			if len(f) > 16 && f[16] == "10" {
				n++
			}
		}
		return n
	}
	before := count()
	if ownNice() >= compactorNice {
		before-- // the compactor's thread is at that niceness already: no new one
	}
	s, err := Open(Options{Dir: t.TempDir(), FlushInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for count() != before+1 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := count(); got != before+1 {
		t.Fatalf("%d threads at niceness %d with the compactor running, want %d", got, compactorNice, before+1)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// After Close the thread ends with its goroutine, or stays parked if
	// it was the main thread (the runtime never reuses a thread a
	// goroutine exited locked to): either way no other goroutine runs at
	// the lowered priority, which /proc cannot show.
}

// ownNice is the niceness of the test process's main thread.
func ownNice() int {
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	n := 0
	if len(f) > 16 {
		fmt.Sscan(f[16], &n)
	}
	return n
}

package storage

import (
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"syscall"
	"testing"
)

// The WAL side of faults that clear themselves (wal_fault.go): a refused
// append is refused with the fault's error, leaves the log as it was, and
// the next append after the fault clears succeeds; a failed fsync stays
// fatal.

const faultWALDir = "/data/wal"

// openFaultWAL opens a WAL in faultWALDir over fs and returns it with the
// payloads it replayed.
func openFaultWAL(t *testing.T, fs FS) (*WAL, []string) {
	t.Helper()
	w, got, err := walReplayAll(t, fs, faultWALDir, 0)
	if err != nil {
		t.Fatalf("open WAL: %v", err)
	}
	return w, got
}

// mustAppend appends p and fails the test on error.
func mustAppend(t *testing.T, w *WAL, p string) {
	t.Helper()
	if _, err := w.Append([]byte(p)); err != nil {
		t.Fatalf("append %q: %v", p, err)
	}
}

// wantRefused checks that err refuses a write because of errno.
func wantRefused(t *testing.T, err error, errno syscall.Errno, kind FaultKind) {
	t.Helper()
	var fe *FaultError
	if !errors.Is(err, ErrWriteRefused) || !errors.Is(err, errno) || !errors.As(err, &fe) || fe.Kind != kind {
		t.Fatalf("got %v, want a write refused by %s (%v)", err, kind, errno)
	}
}

// replayed reopens a copy of mem — with only its synced bytes when crashed
// — and returns the payloads replayed.
func replayed(t *testing.T, mem *crashFS, crashed bool) []string {
	t.Helper()
	fs := mem
	if crashed {
		fs = mem.clone(nil)
	}
	w, got := openFaultWAL(t, fs)
	w.Close()
	return got
}

func TestWALWriteFaultRefusesAndResumes(t *testing.T) {
	for _, tc := range []struct {
		errno syscall.Errno
		kind  FaultKind
	}{{syscall.ENOSPC, FaultNoSpace}, {syscall.EDQUOT, FaultNoSpace}, {syscall.EMFILE, FaultNoFiles}} {
		t.Run(tc.errno.Error(), func(t *testing.T) {
			mem := newCrashFS()
			efs := newErrorFS(mem, opWrite, 0, false)
			w, _ := openFaultWAL(t, efs)
			mustAppend(t, w, "acked-1")
			efs.armFault(1, tc.errno) // every write fails from now on: a short write, then none
			for _, p := range []string{"refused-1", "refused-2"} {
				_, err := w.Append([]byte(p))
				wantRefused(t, err, tc.errno, tc.kind)
			}
			if f := w.Fault(); f == nil || f.Kind != tc.kind {
				t.Fatalf("fault while refusing: %v", f)
			}
			if f := w.Probe(); f == nil {
				t.Fatal("the probe cleared a fault still in force")
			}
			if got := w.Refused()[tc.kind]; got != 2 {
				t.Fatalf("%d appends counted as refused, want 2", got)
			}
			// A crash while refusing keeps exactly what was acknowledged.
			if got := replayed(t, mem, true); !slices.Equal(got, []string{"acked-1"}) {
				t.Fatalf("after a crash while refusing, replayed %q", got)
			}
			efs.clearFault()
			if f := w.Probe(); f != nil {
				t.Fatalf("the probe after the fault cleared: %v", f)
			}
			if w.Fault() != nil {
				t.Fatal("fault still set after a successful probe")
			}
			mustAppend(t, w, "acked-2")
			mustAppend(t, w, "acked-3")
			want := []string{"acked-1", "acked-2", "acked-3"}
			if got := replayed(t, mem, true); !slices.Equal(got, want) {
				t.Fatalf("after a crash, replayed %q, want %q", got, want)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if got := replayed(t, mem, false); !slices.Equal(got, want) {
				t.Fatalf("after close, replayed %q, want %q", got, want)
			}
			if names, _ := mem.List(faultWALDir); slices.Contains(names, walProbeName) {
				t.Fatalf("probe file left behind: %q", names)
			}
		})
	}
}

// TestWALWriteFaultAfterFullWrite: the write reports the fault having
// written all its bytes (errorFS.effect); the bytes must still go, or the
// refused record would be replayed — and the next one would follow it.
func TestWALWriteFaultAfterFullWrite(t *testing.T) {
	mem := newCrashFS()
	efs := newErrorFS(mem, opWrite, 0, true)
	w, _ := openFaultWAL(t, efs)
	mustAppend(t, w, "acked-1")
	efs.mu.Lock()
	efs.n, efs.errno = efs.count+1, syscall.ENOSPC // the next write only
	efs.mu.Unlock()
	_, err := w.Append([]byte("refused"))
	wantRefused(t, err, syscall.ENOSPC, FaultNoSpace)
	if got := replayed(t, mem, false); !slices.Equal(got, []string{"acked-1"}) {
		t.Fatalf("the refused record's bytes stayed: replayed %q", got)
	}
	mustAppend(t, w, "acked-2")
	w.Close()
	for _, crashed := range []bool{false, true} {
		if got := replayed(t, mem, crashed); !slices.Equal(got, []string{"acked-1", "acked-2"}) {
			t.Fatalf("crashed %v: replayed %q", crashed, got)
		}
	}
}

// TestWALFaultPositions: a refused group moves no later record: each
// acknowledged record sits where Append said.
func TestWALFaultPositions(t *testing.T) {
	mem := newCrashFS()
	efs := newErrorFS(mem, opWrite, 0, false)
	w, _ := openFaultWAL(t, efs)
	var positions []WALPosition
	var want []string
	for i := 0; i < 6; i++ {
		p := fmt.Sprintf("record-%d", i)
		if i == 2 || i == 4 {
			efs.armFault(1, syscall.ENOSPC)
			_, err := w.Append([]byte("refused " + p))
			wantRefused(t, err, syscall.ENOSPC, FaultNoSpace)
			efs.clearFault()
		}
		pos, err := w.Append([]byte(p))
		if err != nil {
			t.Fatal(err)
		}
		positions, want = append(positions, pos), append(want, p)
	}
	w.Close()
	var got []WALPosition
	w2, err := OpenWAL(WALOptions{FS: mem, Dir: faultWALDir, Logger: quietLog}, func(pos WALPosition, _ []byte) error {
		got = append(got, pos)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	w2.Close()
	if !slices.Equal(got, positions) {
		t.Fatalf("replayed at %v, Append said %v", got, positions)
	}
}

// TestWALSyncFaultIsFatal: a failed fsync is never retried, fault or not.
func TestWALSyncFaultIsFatal(t *testing.T) {
	mem := newCrashFS()
	efs := newErrorFS(mem, opSync, 0, false)
	w, _ := openFaultWAL(t, efs)
	mustAppend(t, w, "acked-1")
	efs.armFault(1, syscall.ENOSPC)
	_, err := w.Append([]byte("unknown"))
	if err == nil || errors.Is(err, ErrWriteRefused) || !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("append with a failing fsync: %v, want a fatal error naming ENOSPC", err)
	}
	efs.clearFault()
	if _, err := w.Append([]byte("after")); err == nil {
		t.Fatal("append after a failed fsync succeeded; the failure must be sticky")
	}
	if w.Err() == nil {
		t.Fatal("Err is nil after a failed fsync")
	}
	w.Close()
	// The record whose fsync failed may or may not be there; the
	// acknowledged one must, and nothing else.
	got := replayed(t, mem, true)
	if len(got) == 0 || got[0] != "acked-1" || len(got) > 2 || len(got) == 2 && got[1] != "unknown" {
		t.Fatalf("replayed %q", got)
	}
}

// TestWALRollbackFailureIsFatal: when the file cannot be cut back after
// a refused write, its state is unknown: fatal.
func TestWALRollbackFailureIsFatal(t *testing.T) {
	mem := newCrashFS()
	efs := newErrorFS(mem, opAny, 0, false)
	w, _ := openFaultWAL(t, efs)
	mustAppend(t, w, "acked-1")
	// Next calls: the write, then the truncate of the roll-back.
	efs.armFault(1, syscall.ENOSPC)
	_, err := w.Append([]byte("refused"))
	if err == nil || errors.Is(err, ErrWriteRefused) {
		t.Fatalf("append whose roll-back failed: %v, want a fatal error", err)
	}
	efs.clearFault()
	if _, err := w.Append([]byte("after")); err == nil || w.Err() == nil {
		t.Fatalf("append after a failed roll-back: %v; the failure must be sticky", err)
	}
	w.Close()
}

func TestWALRotateFaultKeepsCurrentFile(t *testing.T) {
	for _, tc := range []struct {
		name  string
		op    fsOp
		errno syscall.Errno
		kind  FaultKind
	}{
		{"create EMFILE", opCreate, syscall.EMFILE, FaultNoFiles},
		{"create ENOSPC", opCreate, syscall.ENOSPC, FaultNoSpace},
		{"header write ENOSPC", opWrite, syscall.ENOSPC, FaultNoSpace},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mem := newCrashFS()
			efs := newErrorFS(mem, tc.op, 0, false)
			w, _ := openFaultWAL(t, efs)
			mustAppend(t, w, "acked-1")
			efs.mu.Lock()
			efs.n, efs.errno = efs.count+1, tc.errno // the next call only
			efs.mu.Unlock()
			_, err := w.Rotate()
			wantRefused(t, err, tc.errno, tc.kind)
			if w.Err() != nil {
				t.Fatalf("a failed rotation failed the WAL: %v", w.Err())
			}
			if names, _ := mem.List(faultWALDir); len(names) != 1 {
				t.Fatalf("after a failed rotation the WAL directory holds %q, want only the current file", names)
			}
			mustAppend(t, w, "acked-2")
			if got := replayed(t, mem, true); !slices.Equal(got, []string{"acked-1", "acked-2"}) {
				t.Fatalf("after a crash, replayed %q", got)
			}
			seq, err := w.Rotate()
			if err != nil {
				t.Fatalf("rotation after the fault: %v", err)
			}
			mustAppend(t, w, "acked-3")
			w.Close()
			if _, err := mem.Open(filepath.Join(faultWALDir, walFileName(seq))); err != nil {
				t.Fatal(err)
			}
			if got := replayed(t, mem, true); !slices.Equal(got, []string{"acked-1", "acked-2", "acked-3"}) {
				t.Fatalf("after rotation and a crash, replayed %q", got)
			}
		})
	}
}

// TestWALConcurrentAppendsUnderFaults: appends from many goroutines while
// a disk-full fault comes and goes. Every append that returned nil is
// replayed exactly once, at the position it was given, and no refused
// one ever is — not after a crash either. Run it with -race.
func TestWALConcurrentAppendsUnderFaults(t *testing.T) {
	mem := newCrashFS()
	efs := newErrorFS(mem, opWrite, 0, false)
	w, _ := openFaultWAL(t, efs)
	const writers, perWriter = 8, 60
	type result struct {
		payload string
		pos     WALPosition
		err     error
	}
	results := make(chan result, writers*perWriter)
	// The fault comes and goes while the writers run: armed, it lasts
	// until it has failed a write of theirs. The writers start once it is
	// first armed, so at least one of their appends meets it.
	efs.armFault(1, syscall.ENOSPC)
	writersDone := make(chan struct{})
	toggled := make(chan struct{})
	go func() {
		defer close(toggled)
		for i := 0; ; i++ {
			for efs.firedCall() == "" {
				select {
				case <-writersDone:
					efs.clearFault()
					return
				default:
					runtime.Gosched()
				}
			}
			efs.clearFault()
			efs.armFault(1+i%3, syscall.ENOSPC)
		}
	}()
	var wg sync.WaitGroup
	for g := 0; g < writers; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < perWriter; i++ {
				p := fmt.Sprintf("w%d-%d", g, i)
				pos, err := w.Append([]byte(p))
				results <- result{p, pos, err}
			}
		}(g)
	}
	wg.Wait()
	close(writersDone)
	<-toggled
	close(results)
	if err := w.Err(); err != nil {
		t.Fatalf("the WAL failed for good: %v", err)
	}
	acked, refused := map[string]WALPosition{}, map[string]bool{}
	for r := range results {
		switch {
		case r.err == nil:
			acked[r.payload] = r.pos
		case errors.Is(r.err, ErrWriteRefused) && errors.Is(r.err, syscall.ENOSPC):
			refused[r.payload] = true
		default:
			t.Fatalf("append %s: %v", r.payload, r.err)
		}
	}
	t.Logf("%d acknowledged, %d refused", len(acked), len(refused))
	if len(refused) == 0 {
		t.Fatal("no append was refused: the fault never met the writers")
	}
	mustAppend(t, w, "last")
	check := func(fs FS, what string) {
		seen := map[string]int{}
		w2, err := OpenWAL(WALOptions{FS: fs, Dir: faultWALDir, Logger: quietLog}, func(pos WALPosition, p []byte) error {
			s := string(p)
			seen[s]++
			if want, ok := acked[s]; ok && want != pos {
				t.Errorf("%s: %s replayed at %v, Append said %v", what, s, pos, want)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("%s: reopen: %v", what, err)
		}
		w2.Close()
		for p := range acked {
			if seen[p] != 1 {
				t.Errorf("%s: acknowledged %s replayed %d times", what, p, seen[p])
			}
		}
		for p := range refused {
			if seen[p] != 0 {
				t.Errorf("%s: refused %s replayed %d times", what, p, seen[p])
			}
		}
	}
	check(mem.clone(nil), "after a crash")
	w.Close()
	check(mem, "after close")
}

package storage

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestLockDataDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data") // does not exist yet
	l, err := LockDataDir(OSFS{}, dir)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, lockName))
	if err != nil || strings.TrimSpace(string(b)) != strconv.Itoa(os.Getpid()) {
		t.Fatalf("LOCK holds %q (%v), want this process's PID %d", b, err, os.Getpid())
	}
	before := listTree(t, dir)

	// A second locker (here a second open file description in the same
	// process, which flock treats as another holder) fails at once.
	start := time.Now()
	_, err = LockDataDir(OSFS{}, dir)
	if took := time.Since(start); took > time.Second {
		t.Fatalf("second LockDataDir took %v: it must not wait", took)
	}
	var locked *DirLockedError
	if !errors.Is(err, ErrDirLocked) || !errors.As(err, &locked) {
		t.Fatalf("second LockDataDir: %v, want a DirLockedError", err)
	}
	want := fmt.Sprintf("data directory %s is in use by process %d (lock %s)", dir, os.Getpid(), filepath.Join(dir, lockName))
	if locked.PID != os.Getpid() || err.Error() != want {
		t.Fatalf("second LockDataDir: %q (pid %d), want %q", err, locked.PID, want)
	}
	if after := listTree(t, dir); after != before {
		t.Fatalf("a failed LockDataDir changed the directory:\nbefore\n%s\nafter\n%s", before, after)
	}

	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	if err := l.Release(); err == nil {
		t.Fatal("second Release: no error")
	}
	l2, err := LockDataDir(OSFS{}, dir)
	if err != nil {
		t.Fatalf("LockDataDir after Release: %v", err)
	}
	l2.Release()
}

func TestLockDataDirEmptyPID(t *testing.T) {
	// The holder locks before it writes its PID: a loser that reads the
	// file in between still gets ErrDirLocked, without a made-up PID.
	dir := t.TempDir()
	holder, err := OSFS{}.Lock(filepath.Join(dir, lockName))
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	_, err = LockDataDir(OSFS{}, dir)
	var locked *DirLockedError
	if !errors.As(err, &locked) || locked.PID != 0 || !strings.Contains(err.Error(), "in use by another process") {
		t.Fatalf("LockDataDir of a locked directory with an empty LOCK: %v", err)
	}
}

// TestLockDataDirOtherProcess takes the lock in a child process: the
// error names the child's PID, and once the child is killed with SIGKILL
// the lock is free again (the kernel releases it; no stale lock).
func TestLockDataDirOtherProcess(t *testing.T) {
	if dir := os.Getenv("ARB_LOCK_HELPER_DIR"); dir != "" {
		lockHelperProcess(dir)
		return
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestLockDataDirOtherProcess$")
	cmd.Env = append(os.Environ(), "ARB_LOCK_HELPER_DIR="+dir)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "locked\n" {
		t.Fatalf("helper process: %q, %v", line, err)
	}

	_, err = LockDataDir(OSFS{}, dir)
	var locked *DirLockedError
	if !errors.As(err, &locked) || locked.PID != cmd.Process.Pid ||
		!strings.Contains(err.Error(), fmt.Sprintf("in use by process %d", cmd.Process.Pid)) {
		t.Fatalf("LockDataDir held by process %d: %v", cmd.Process.Pid, err)
	}

	cmd.Process.Kill()
	cmd.Wait()
	l, err := LockDataDir(OSFS{}, dir)
	if err != nil {
		t.Fatalf("LockDataDir after its holder was killed: %v", err)
	}
	l.Release()
}

// lockHelperProcess locks dir, says so on stdout and waits to be killed.
func lockHelperProcess(dir string) {
	if _, err := LockDataDir(OSFS{}, dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println("locked")
	time.Sleep(time.Minute)
	os.Exit(1)
}

func TestOpenTakesDirLock(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, dir, nil)
	if _, err := s.CreateProject("shop", "tok", "sec"); err != nil {
		t.Fatal(err)
	}
	p, _ := s.Project("shop")
	if err := p.Ingest(testEvents(200, 1)); err != nil {
		t.Fatal(err)
	}
	before := listTree(t, dir)

	_, err := Open(Options{Dir: dir, Logger: quietLog})
	if !errors.Is(err, ErrDirLocked) || !strings.Contains(err.Error(), dir) ||
		!strings.Contains(err.Error(), strconv.Itoa(os.Getpid())) {
		t.Fatalf("second Open: %v, want ErrDirLocked naming %s and pid %d", err, dir, os.Getpid())
	}
	if after := listTree(t, dir); after != before {
		t.Fatalf("a second Open changed the directory:\nbefore\n%s\nafter\n%s", before, after)
	}

	// The first store goes on as if nothing happened.
	if err := p.Ingest(testEvents(100, 2)); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openTestStore(t, dir, nil)
	defer s.Close()
	if n, ids := countRows(t, s, "shop"); n != 300 || len(ids) != 300 {
		t.Fatalf("after reopen: %d rows, %d distinct insert ids; want 300", n, len(ids))
	}
}

func TestOpenReleasesDirLockOnError(t *testing.T) {
	// A MANIFEST that fails its check stops Open after the lock is taken;
	// the lock must not outlive the failed Open.
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, manifestName), []byte("not a manifest"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(Options{Dir: dir, Logger: quietLog}); err == nil || errors.Is(err, ErrDirLocked) {
		t.Fatalf("Open with a damaged MANIFEST: %v, want an error other than ErrDirLocked", err)
	}
	l, err := LockDataDir(OSFS{}, dir)
	if err != nil {
		t.Fatalf("LockDataDir after a failed Open: %v", err)
	}
	l.Release()
}

// listTree lists every entry below dir with its size and modification
// time, one per line, sorted: two equal listings mean nothing changed.
func listTree(t *testing.T, dir string) string {
	t.Helper()
	var lines []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		lines = append(lines, fmt.Sprintf("%s %v %d %s", rel, info.Mode(), info.Size(), info.ModTime().Format(time.RFC3339Nano)))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

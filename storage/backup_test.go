package storage

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// backupTo streams a backup of s into dir and returns the receipt.
func backupTo(t *testing.T, s *Store, dir string) *BackupReceipt {
	t.Helper()
	held, err := HeldBackupFiles(OSFS{}, dir)
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.Backup(held)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	var buf bytes.Buffer
	if _, err := b.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	rc, err := ReceiveBackup(OSFS{}, dir, &buf)
	if err != nil {
		t.Fatal(err)
	}
	return rc
}

// restoreAndOpen restores the backup in dir into a new data directory,
// verifies it and opens it.
func restoreAndOpen(t *testing.T, dir string) *Store {
	t.Helper()
	to := filepath.Join(t.TempDir(), "restored")
	if _, err := RestoreBackup(OSFS{}, dir, to); err != nil {
		t.Fatal(err)
	}
	sum, err := VerifyDataDir(OSFS{}, to)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range sum.Problems {
		t.Errorf("restored directory: %s", p)
	}
	return openTestStore(t, to, nil)
}

// TestBackupWhileIngesting backs up a store while writers ingest and
// flushes run: the restored store holds every batch acknowledged before
// Backup was called exactly once, and no batch in part.
func TestBackupWhileIngesting(t *testing.T) {
	s := openTestStore(t, t.TempDir(), nil)
	defer s.Close()
	if _, err := s.CreateProject("p", "", ""); err != nil {
		t.Fatal(err)
	}
	p, _ := s.Project("p")
	if err := p.Ingest(testEvents(300, 1)); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	acked := map[int64]bool{} // seeds of acknowledged batches of 20 events
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < 3; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				seed := int64(1_000_000*(w+1) + i)
				if err := p.Ingest(testEvents(20, seed)); err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				acked[seed] = true
				mu.Unlock()
				if i%10 == 9 && w == 0 {
					if err := s.Flush(); err != nil {
						t.Error(err)
						return
					}
				}
			}
		}(w)
	}
	dir := t.TempDir()
	var before map[int64]bool
	for round := 0; round < 3; round++ {
		mu.Lock()
		before = make(map[int64]bool, len(acked))
		for k := range acked {
			before[k] = true
		}
		mu.Unlock()
		backupTo(t, s, dir)
	}
	close(stop)
	wg.Wait()

	r := restoreAndOpen(t, dir)
	defer r.Close()
	_, ids := countRows(t, r, "p")
	for id, n := range ids {
		if n != 1 {
			t.Fatalf("insert id %s restored %d times", id, n)
		}
	}
	batches := map[string]int{} // seed → events restored
	for id := range ids {
		seed, _, _ := strings.Cut(id, "-")
		batches[seed]++
	}
	for seed, n := range batches {
		if n != 20 && seed != "1" {
			t.Fatalf("batch %s restored in part: %d of 20 events", seed, n)
		}
	}
	if batches["1"] != 300 {
		t.Fatalf("first batch: %d of 300 events restored", batches["1"])
	}
	for seed := range before {
		if batches[fmt.Sprint(seed)] != 20 {
			t.Fatalf("batch %d acknowledged before the backup is missing", seed)
		}
	}
	t.Logf("%d batches acknowledged before the last backup, %d restored", len(before), len(batches)-1)
}

// TestBackupIncremental: a second backup sends only new segment files and
// leaves the ones it kept untouched (same inode); files no longer named
// are removed.
func TestBackupIncremental(t *testing.T) {
	s := openTestStore(t, t.TempDir(), nil)
	defer s.Close()
	s.CreateProject("p", "", "")
	p, _ := s.Project("p")
	p.Ingest(testEvents(200, 1))
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	first := backupTo(t, s, dir)
	if len(first.Kept) != 0 || !containsPrefix(first.Received, "segments/") {
		t.Fatalf("first backup: received %v, kept %v", first.Received, first.Kept)
	}
	stats := map[string]os.FileInfo{}
	for _, name := range first.Received {
		if sub, file, _ := strings.Cut(name, "/"); isImmutableName(sub, file) && sub != peopleDir {
			st, err := os.Stat(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			stats[name] = st
		}
	}

	p.Ingest(testEvents(200, 2))
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	p.Ingest(testEvents(10, 3)) // stays in the WAL
	second := backupTo(t, s, dir)
	if len(second.Kept) != len(stats) {
		t.Fatalf("second backup kept %v, want the %d segments and user index runs of the first", second.Kept, len(stats))
	}
	for _, name := range second.Received {
		if stats[name] != nil {
			t.Fatalf("second backup sent %s again", name)
		}
	}
	if !containsPrefix(second.Received, "segments/") || !containsPrefix(second.Received, "wal/") {
		t.Fatalf("second backup received %v, want new segments and the WAL", second.Received)
	}
	for name, before := range stats {
		after, err := os.Stat(filepath.Join(dir, name))
		if err != nil || !os.SameFile(before, after) || !after.ModTime().Equal(before.ModTime()) {
			t.Fatalf("%s was replaced by the second backup", name)
		}
	}
	r := restoreAndOpen(t, dir)
	defer r.Close()
	if n, ids := countRows(t, r, "p"); n != 410 || len(ids) != 410 {
		t.Fatalf("restored %d rows, %d distinct; want 410", n, len(ids))
	}
}

func containsPrefix(names []string, prefix string) bool {
	for _, n := range names {
		if strings.HasPrefix(n, prefix) {
			return true
		}
	}
	return false
}

// TestReceiveBackupCutShortKeepsPrevious: a stream cut at any point is
// rejected and the directory still restores to the previous backup.
func TestReceiveBackupCutShortKeepsPrevious(t *testing.T) {
	s := openTestStore(t, t.TempDir(), nil)
	defer s.Close()
	s.CreateProject("p", "", "")
	p, _ := s.Project("p")
	p.Ingest(testEvents(100, 1))
	s.Flush()
	dir := t.TempDir()
	backupTo(t, s, dir)

	p.Ingest(testEvents(100, 2))
	s.Flush()
	p.Ingest(testEvents(100, 3))
	b, err := s.Backup(nil)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	b.WriteTo(&buf)
	b.Close()
	full := buf.Bytes()
	// Cuts before the end of the BACKUP entry's JSON (the padding and end
	// marker after it carry nothing).
	info := bytes.LastIndex(full, []byte("{\n \"version\""))
	if info < 0 {
		t.Fatal("no BACKUP entry in the stream")
	}
	for _, cut := range []int{0, 100, 512, len(full) / 3, len(full) / 2, info - 1, info + 5} {
		_, err := ReceiveBackup(OSFS{}, dir, bytes.NewReader(full[:cut]))
		if err == nil {
			t.Fatalf("stream cut at %d of %d bytes accepted", cut, len(full))
		}
	}
	r := restoreAndOpen(t, dir)
	if n, _ := countRows(t, r, "p"); n != 100 {
		t.Fatalf("after cut streams: %d rows restored, want the first backup's 100", n)
	}
	r.Close()
	if _, err := ReceiveBackup(OSFS{}, dir, bytes.NewReader(full)); err != nil {
		t.Fatal(err)
	}
	r = restoreAndOpen(t, dir)
	defer r.Close()
	if n, _ := countRows(t, r, "p"); n != 300 {
		t.Fatalf("after the whole stream: %d rows restored, want 300", n)
	}
}

// TestBackupDataDirOffline backs up a closed store's directory the same
// way, and refuses to restore into a directory that holds files.
func TestBackupDataDirOffline(t *testing.T) {
	src := t.TempDir()
	s := openTestStore(t, src, nil)
	s.CreateProject("p", "", "")
	p, _ := s.Project("p")
	p.Ingest(testEvents(100, 1))
	s.Flush()
	p.Ingest(testEvents(50, 2))
	crash(s) // the last 50 are only in the WAL
	b, err := BackupDataDir(OSFS{}, src, nil)
	if err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	go func() { _, err := b.WriteTo(pw); pw.CloseWithError(err) }()
	dir := t.TempDir()
	if _, err := ReceiveBackup(OSFS{}, dir, pr); err != nil {
		t.Fatal(err)
	}
	b.Close()
	r := restoreAndOpen(t, dir)
	defer r.Close()
	if n, ids := countRows(t, r, "p"); n != 150 || len(ids) != 150 {
		t.Fatalf("restored %d rows, %d distinct; want 150", n, len(ids))
	}
	if _, err := RestoreBackup(OSFS{}, dir, src); err == nil {
		t.Fatal("restore into a directory holding files succeeded")
	}
}

// TestReceiveBackupFaultKeepsUsableBackup fails each filesystem call of
// ReceiveBackup in turn (with and without the call taking effect) and
// restores what is left: it must open to the previous backup's rows, the
// new one's, or a consistent state between (whole batches, each once).
// Between the two backups the WAL either continues (one flush) or has a
// hole (three flushes), which orders the WAL and MANIFEST renames
// differently (backup_dir.go).
func TestReceiveBackupFaultKeepsUsableBackup(t *testing.T) {
	for _, flushes := range []int{1, 3} {
		t.Run(fmt.Sprintf("%d flushes between", flushes), func(t *testing.T) {
			s := openTestStore(t, t.TempDir(), nil)
			defer s.Close()
			s.CreateProject("p", "", "")
			p, _ := s.Project("p")
			p.Ingest(testEvents(50, 1))
			s.Flush()
			p.Ingest(testEvents(10, 2))
			base := t.TempDir()
			backupTo(t, s, base)
			seed := int64(3)
			for i := 0; i < flushes; i++ {
				p.Ingest(testEvents(10, seed))
				seed++
				s.Flush()
			}
			p.Ingest(testEvents(10, seed))
			b, err := s.Backup(nil)
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			b.WriteTo(&buf)
			b.Close()
			stream := buf.Bytes()
			oldRows, newRows := 60, 60+10*(flushes+1)

			type fault struct {
				kind   fsOp
				effect bool
			}
			// The calls of the commit (a failure before it leaves dir as it
			// was); $ARB_BACKUP_FAULTS=all
			// fails every call of every kind.
			faults := []fault{{opRename, false}, {opRename, true}, {opSyncDir, false}, {opRemove, false}}
			if os.Getenv("ARB_BACKUP_FAULTS") == "all" {
				faults = []fault{{opAny, false}, {opAny, true}}
			}
			for _, f := range faults {
				kind, effect := f.kind, f.effect
				for n := 1; ; n++ {
					dir := t.TempDir()
					copyTree(t, base, dir)
					efs := newErrorFS(OSFS{}, kind, n, effect)
					_, err := ReceiveBackup(efs, dir, bytes.NewReader(stream))
					if efs.firedCall() == "" {
						if err != nil {
							t.Fatal(err)
						}
						break
					}
					if err == nil {
						continue // a failed call the receiver does not depend on (a close after sync)
					}
					to := filepath.Join(t.TempDir(), "r")
					if _, err := RestoreBackup(OSFS{}, dir, to); err != nil {
						t.Fatalf("call %d (%s, effect %v) failed: restore: %v", n, efs.firedCall(), effect, err)
					}
					r, err := Open(Options{Dir: to, FlushInterval: time.Hour, Logger: quietLog})
					if err != nil {
						t.Fatalf("call %d (%s, effect %v) failed: open the restored copy: %v", n, efs.firedCall(), effect, err)
					}
					rows, ids := countRows(t, r, "p")
					r.Close()
					perSeed := map[string]int{}
					for id, k := range ids {
						if k != 1 {
							t.Fatalf("call %d failed: id %s restored %d times", n, id, k)
						}
						sd, _, _ := strings.Cut(id, "-")
						perSeed[sd]++
					}
					for sd, k := range perSeed {
						if k != 10 && !(sd == "1" && k == 50) {
							t.Fatalf("call %d (%s) failed: batch %s restored in part (%d rows)", n, efs.firedCall(), sd, k)
						}
					}
					if rows < oldRows || rows > newRows {
						t.Fatalf("call %d (%s, effect %v) failed: %d rows restored, want between %d and %d", n, efs.firedCall(), effect, rows, oldRows, newRows)
					}
				}
			}
		})
	}
}

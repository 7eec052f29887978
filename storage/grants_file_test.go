package storage

import (
	"bytes"
	"errors"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestGrantsFileRoundTrip: no file reads as nil; a written body reads back
// whole; a second write replaces the first.
func TestGrantsFileRoundTrip(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, dir, nil)
	defer s.Close()
	if body, err := s.ReadGrants(); err != nil || body != nil {
		t.Fatalf("no grants file: got %q, %v; want nil, nil", body, err)
	}
	for _, body := range [][]byte{[]byte("first version"), {}, bytes.Repeat([]byte{0xab}, 100_000)} {
		if err := s.WriteGrants(body); err != nil {
			t.Fatal(err)
		}
		got, err := s.ReadGrants()
		if err != nil || !bytes.Equal(got, body) || got == nil {
			t.Fatalf("read back %d bytes (nil %v), %v; want the %d written", len(got), got == nil, err, len(body))
		}
	}
	if _, err := os.Stat(GrantsPath(dir) + tmpSuffix); !os.IsNotExist(err) {
		t.Errorf("a temp file is left after the writes: %v", err)
	}
}

// TestGrantsFileDamage: every kind of damage is a CorruptionError that
// names the file, never a silent nil (which would start a server with no
// users).
func TestGrantsFileDamage(t *testing.T) {
	good := encodeFramed(grantsMagic, []byte("users and grants"))
	cases := []struct {
		name   string
		mutate func([]byte) []byte
		want   string
	}{
		{"body byte flipped", func(b []byte) []byte { b[len(b)-3] ^= 0x40; return b }, "checksum mismatch"},
		{"checksum flipped", func(b []byte) []byte { b[13] ^= 1; return b }, "checksum mismatch"},
		{"truncated body", func(b []byte) []byte { return b[:len(b)-1] }, "does not match file size"},
		{"extra byte", func(b []byte) []byte { return append(b, 0) }, "does not match file size"},
		{"truncated header", func(b []byte) []byte { return b[:10] }, "bad magic"},
		{"empty", func(b []byte) []byte { return b[:0] }, "bad magic"},
		{"other magic", func(b []byte) []byte { copy(b, manifestMagic); return b }, "bad magic"},
		{"zeroed", func(b []byte) []byte { return make([]byte, len(b)) }, "bad magic"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(GrantsPath(dir), c.mutate(bytes.Clone(good)), 0o644); err != nil {
				t.Fatal(err)
			}
			body, err := ReadGrantsFile(OSFS{}, dir)
			if err == nil {
				t.Fatalf("damaged file read as %q without error", body)
			}
			if !errors.Is(err, ErrCorruption) {
				t.Errorf("error %v does not match ErrCorruption", err)
			}
			if !strings.Contains(err.Error(), GrantsPath(dir)) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q: want the file %s and %q", err, GrantsPath(dir), c.want)
			}
		})
	}
}

// TestGrantsFileCrash: a crash at any moment of a replacement leaves the
// old version or the new one, whole; once WriteGrants returned, the new.
func TestGrantsFileCrash(t *testing.T) {
	fs := newCrashFS()
	s := openTestStore(t, "/data", fs)
	old, next := []byte("old grants"), []byte("new grants, longer than the old")
	if err := s.WriteGrants(old); err != nil {
		t.Fatal(err)
	}
	var clones []*crashFS
	rnd := rand.New(rand.NewSource(1))
	fs.onMutation = func(int, string) {
		clones = append(clones, fs.cloneLocked(nil), fs.cloneLocked(rnd))
	}
	if err := s.WriteGrants(next); err != nil {
		t.Fatal(err)
	}
	fs.mu.Lock()
	fs.onMutation = nil
	fs.mu.Unlock()
	after := fs.clone(nil)
	crash(s)
	if len(clones) == 0 {
		t.Fatal("WriteGrants changed nothing on the filesystem")
	}
	for i, c := range clones {
		got, err := ReadGrantsFile(c, "/data")
		if err != nil || !(bytes.Equal(got, old) || bytes.Equal(got, next)) {
			t.Errorf("crash at step %d: read %q, %v; want the old or the new version", i, got, err)
		}
	}
	if got, err := ReadGrantsFile(after, "/data"); err != nil || !bytes.Equal(got, next) {
		t.Errorf("crash after WriteGrants returned: read %q, %v; want %q", got, err, next)
	}
}

// TestGrantsFileBackupAndVerify: a backup carries the grants file and a
// restore puts it in place; verify passes the file, and names it when it
// is damaged.
func TestGrantsFileBackupAndVerify(t *testing.T) {
	s := openTestStore(t, t.TempDir(), nil)
	s.CreateProject("p", "", "")
	p, _ := s.Project("p")
	p.Ingest(testEvents(10, 1))
	body := []byte("grants of the backup")
	if err := s.WriteGrants(body); err != nil {
		t.Fatal(err)
	}
	backupDir := filepath.Join(t.TempDir(), "backup")
	rc := backupTo(t, s, backupDir)
	s.Close()
	if !containsPrefix(rc.Received, grantsName) {
		t.Fatalf("backup received %v, without %s", rc.Received, grantsName)
	}
	restored := restoreAndOpen(t, backupDir)
	got, err := restored.ReadGrants()
	restored.Close()
	if err != nil || !bytes.Equal(got, body) {
		t.Fatalf("restored grants %q, %v; want %q", got, err, body)
	}

	sum, err := VerifyDataDir(OSFS{}, backupDir)
	if err != nil || len(sum.Problems) != 0 {
		t.Fatalf("verify of the backup: %v, problems %v", err, sum.Problems)
	}
	data, err := os.ReadFile(GrantsPath(backupDir))
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)-1] ^= 1
	if err := os.WriteFile(GrantsPath(backupDir), data, 0o644); err != nil {
		t.Fatal(err)
	}
	sum, err = VerifyDataDir(OSFS{}, backupDir)
	if err != nil {
		t.Fatal(err)
	}
	if len(sum.Problems) != 1 || sum.Problems[0].File != GrantsPath(backupDir) || !errors.Is(sum.Problems[0].Err, ErrCorruption) {
		t.Fatalf("verify of a damaged grants file: problems %v; want one naming %s", sum.Problems, GrantsPath(backupDir))
	}
}

// TestGrantsFileBackupWithout: a data directory without users backs up
// and restores without a grants file.
func TestGrantsFileBackupWithout(t *testing.T) {
	s := openTestStore(t, t.TempDir(), nil)
	s.CreateProject("p", "", "")
	backupDir := filepath.Join(t.TempDir(), "backup")
	rc := backupTo(t, s, backupDir)
	s.Close()
	if containsPrefix(rc.Received, grantsName) {
		t.Fatalf("backup received %v, with a %s the store never wrote", rc.Received, grantsName)
	}
	restored := restoreAndOpen(t, backupDir)
	defer restored.Close()
	if got, err := restored.ReadGrants(); err != nil || got != nil {
		t.Fatalf("restored grants %q, %v; want none", got, err)
	}
}

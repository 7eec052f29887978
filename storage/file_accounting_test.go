package storage

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// dirListing maps every file under dir to its size and content hash, to
// show that a refused open changed nothing.
func dirListing(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() || info.Name() == lockName {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		out[strings.TrimPrefix(path, dir)] = string(data)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func sameListing(t *testing.T, before, after map[string]string) {
	t.Helper()
	var diff []string
	for k, v := range before {
		if w, ok := after[k]; !ok || w != v {
			diff = append(diff, "changed or gone: "+k)
		}
	}
	for k := range after {
		if _, ok := before[k]; !ok {
			diff = append(diff, "new: "+k)
		}
	}
	sort.Strings(diff)
	if len(diff) > 0 {
		t.Fatalf("the refused open changed the directory: %v", diff)
	}
}

// TestOpenRefusesUnaccountedFiles: a lost MANIFEST or a stale one (an
// older copy put back) must stop the open, naming the files it would
// otherwise lose, and change nothing on disk.
func TestOpenRefusesUnaccountedFiles(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, dir, nil)
	if _, err := s.CreateProject("shop", "tok", "sec"); err != nil {
		t.Fatal(err)
	}
	p, _ := s.Project("shop")
	if err := p.Ingest(testEvents(300, 1)); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	stale, err := os.ReadFile(filepath.Join(dir, manifestName))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Ingest(testEvents(300, 2)); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	t.Run("lost", func(t *testing.T) {
		d := t.TempDir()
		copyDir(t, dir, d)
		os.Remove(filepath.Join(d, manifestName))
		before := dirListing(t, d)
		_, err := Open(Options{Dir: d})
		if err == nil || !strings.Contains(err.Error(), "no MANIFEST") || !strings.Contains(err.Error(), "segments/000") {
			t.Fatalf("open without MANIFEST: %v; want a refusal naming the segment files", err)
		}
		sameListing(t, before, dirListing(t, d))
	})
	t.Run("stale", func(t *testing.T) {
		d := t.TempDir()
		copyDir(t, dir, d)
		if err := os.WriteFile(filepath.Join(d, manifestName), stale, 0o644); err != nil {
			t.Fatal(err)
		}
		before := dirListing(t, d)
		_, err := Open(Options{Dir: d})
		if err == nil || !strings.Contains(err.Error(), "MANIFEST is older than the directory") {
			t.Fatalf("open with a stale MANIFEST: %v; want a refusal naming the newer segments", err)
		}
		sameListing(t, before, dirListing(t, d))
	})
	t.Run("intact", func(t *testing.T) {
		d := t.TempDir()
		copyDir(t, dir, d)
		s := openTestStore(t, d, nil)
		defer s.Close()
		if n, ids := countRows(t, s, "shop"); n != 600 || len(ids) != 600 {
			t.Fatalf("%d rows (%d ids), want 600", n, len(ids))
		}
	})
	t.Run("leftovers", func(t *testing.T) {
		// What a crashed flush or compaction leaves is removed: a temp
		// file and a segment numbered past the manifest's next number.
		d := t.TempDir()
		copyDir(t, dir, d)
		m, _, err := readManifest(OSFS{}, filepath.Join(d, manifestName))
		if err != nil {
			t.Fatal(err)
		}
		orphan := filepath.Join(d, segDirName, segmentFileName(m.NextFileNumber+1))
		tmp := filepath.Join(d, segDirName, compactionTmpName)
		for _, f := range []string{orphan, tmp} {
			if err := os.WriteFile(f, []byte("partial"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		s := openTestStore(t, d, nil)
		defer s.Close()
		for _, f := range []string{orphan, tmp} {
			if fileExists(f) {
				t.Fatalf("%s still there after open", f)
			}
		}
	})
}

func fileExists(path string) bool { _, err := os.Stat(path); return err == nil }

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.Walk(from, func(path string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, path)
		if info.IsDir() {
			return os.MkdirAll(filepath.Join(to, rel), 0o755)
		}
		if info.Name() == "LOCK" {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(to, rel), data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

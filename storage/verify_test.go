package storage

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// verifiedDir is a closed data directory with segments, users, a people
// file and WAL records after the last flush.
func verifiedDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	s := openTestStore(t, dir, nil)
	s.CreateProject("p", "", "")
	p, _ := s.Project("p")
	p.Ingest(testEvents(300, 1))
	p.SetPeople([]Event{{DistinctID: "u1", Props: []Prop{{"name", StringValue("Ann")}}}})
	p.UpdateProfiles(TableGroups, []ProfileOp{{Key: GroupRowKey("company", "acme"), Op: opSet,
		Props: []Prop{{"size", IntValue(30)}}, IgnoreTime: true}})
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	p.Ingest(testEvents(20, 2))
	p.Ingest(testEvents(20, 3))
	crash(s)
	return dir
}

func TestVerifyCleanDirectory(t *testing.T) {
	dir := verifiedDir(t)
	sum, err := VerifyDataDir(OSFS{}, dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(sum.Problems) != 0 {
		t.Fatalf("problems in a clean directory: %v", sum.Problems)
	}
	if sum.Segments != 3 || sum.Rows != 300 || sum.WALRecords != 2 || sum.Users == 0 {
		t.Fatalf("summary %s; want 3 segments, 300 rows, 2 WAL records", sum)
	}
}

// TestVerifyNamesDamage flips one byte at a chosen place of each kind of
// file; verify reports exactly that file, at the offset of the damaged
// record, block or section.
func TestVerifyNamesDamage(t *testing.T) {
	clean := verifiedDir(t)
	segs, _ := filepath.Glob(filepath.Join(clean, segDirName, "*.seg"))
	wals, _ := filepath.Glob(filepath.Join(clean, walDirName, "*.wal"))
	ust, _ := filepath.Glob(filepath.Join(clean, usersDirName, "*.ust"))
	rel := func(p string) string { r, _ := filepath.Rel(clean, p); return r }
	segFirstBlock := int64(len(segMagic))
	cases := []struct {
		name       string
		file       string
		offset     int64 // byte flipped
		wantOffset int64 // offset the problem names
	}{
		{"segment block", rel(segs[0]), segFirstBlock + 3, -2}, // offset of the section holding it
		{"manifest body", manifestName, framedHeaderBytes + 10, framedHeaderBytes},
		{"wal record payload", rel(wals[len(wals)-1]), walHeaderBytes + walRecordHeader + 5, walHeaderBytes},
		{"user state block", rel(ust[0]), int64(len(userStateMagic)) + 3, int64(len(userStateMagic))},
		{"users chunk", filepath.Join(usersDirName, usersFileName("p")), int64(len(usersMagic)) + 8 + 2, int64(len(usersMagic))},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			copyTree(t, clean, dir)
			path := filepath.Join(dir, c.file)
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			data[c.offset] ^= 0x5a
			os.WriteFile(path, data, 0o644)
			sum, err := VerifyDataDir(OSFS{}, dir)
			if err != nil {
				t.Fatal(err)
			}
			if len(sum.Problems) == 0 {
				t.Fatalf("flipped byte %d of %s: no problem reported (%s)", c.offset, c.file, sum)
			}
			for _, p := range sum.Problems {
				if p.File != path {
					t.Errorf("problem in another file: %s", p)
				}
			}
			got := sum.Problems[0]
			want := c.wantOffset
			if want == -2 {
				want = segFirstBlock
			}
			if got.Offset != want || !strings.Contains(got.String(), path) {
				t.Fatalf("problem %q; want it at offset %d of %s", got, want, path)
			}
		})
	}
}

// TestVerifyManifestReferences: a manifest naming a wrong size, row count,
// day or a missing file is reported against the segment, and so is a
// segment no manifest accounts for.
func TestVerifyManifestReferences(t *testing.T) {
	dir := verifiedDir(t)
	m, _, err := readManifest(OSFS{}, filepath.Join(dir, manifestName))
	if err != nil {
		t.Fatal(err)
	}
	segs := m.Projects[0].Segments
	segs[0].Rows++
	segs[1].Bytes--
	segs[2].Day = "2024-01-01"
	m.Projects[0].Segments = append(segs, manifestSegment{File: "000099.seg", Day: "2025-01-01", Rows: 1, Bytes: 100})
	m.NextFileNumber = 100
	data, _ := encodeManifest(m)
	os.WriteFile(filepath.Join(dir, manifestName), data, 0o644)
	// A segment below next_file_number that nothing names: Open refuses it.
	seg, _ := os.ReadFile(filepath.Join(dir, segDirName, segs[0].File))
	os.WriteFile(filepath.Join(dir, segDirName, "000000.seg"), seg, 0o644)
	// One at or above it is a leftover Open removes: no problem.
	os.WriteFile(filepath.Join(dir, segDirName, "000100.seg"), seg, 0o644)
	sum, err := VerifyDataDir(OSFS{}, dir)
	if err != nil {
		t.Fatal(err)
	}
	var all []string
	for _, p := range sum.Problems {
		all = append(all, p.String())
		if strings.Contains(p.File, "000100.seg") {
			t.Errorf("a leftover above next_file_number is reported: %s", p)
		}
	}
	if sum.Unnamed != 1 {
		t.Errorf("%d unnamed files counted, want 1 (000100.seg)", sum.Unnamed)
	}
	text := strings.Join(all, "\n")
	for _, want := range []string{
		segs[0].File + ": segment holds",
		segs[1].File + ": file of",
		segs[2].File + ": segment meta",
		"000099.seg: named by MANIFEST but cannot be opened",
		"000000.seg: no manifest accounts for this file",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("no problem %q in:\n%s", want, text)
		}
	}
}

func copyTree(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.Walk(from, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		r, _ := filepath.Rel(from, p)
		if info.IsDir() {
			return os.MkdirAll(filepath.Join(to, r), 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(to, r), data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

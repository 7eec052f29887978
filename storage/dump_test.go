package storage

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// dumpTestStore writes a data directory with a segment, a people file with
// people, groups and identity, and a WAL holding one record of each kind;
// then it stops the store as a crash would (the WAL keeps its records).
func dumpTestStore(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	s := openTestStore(t, dir, nil)
	if _, err := s.CreateProject("shop", "tok", "very-secret"); err != nil {
		t.Fatal(err)
	}
	p, _ := s.Project("shop")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(p.Ingest([]Event{
		{TimeMillis: 1735689600000, Name: "Signup", DistinctID: "anon-1", Props: []Prop{{"plan", StringValue("pro")}}},
		{TimeMillis: 1735689600001, Name: "$identify", DistinctID: "ann", Props: []Prop{
			{"$anon_id", StringValue("anon-1")}, {"$identified_id", StringValue("ann")}}},
	}))
	must(p.SetPeople([]Event{{DistinctID: "ann", Props: []Prop{{"name", StringValue("Ann")}}}}))
	must(p.UpdateProfiles(TableGroups, []ProfileOp{{Key: GroupRowKey("company", "acme"), Op: opSet,
		Props: []Prop{{"size", IntValue(30)}}, IgnoreTime: true}}))
	must(s.Flush())
	// After the flush, the WAL's live file gets one record of each kind.
	_, err := s.CreateProject("app", "", "")
	must(err)
	must(p.Ingest([]Event{{TimeMillis: 1735689600002, Name: "Buy", DistinctID: "ann", Props: []Prop{{"amount", FloatValue(2.5)}}}}))
	must(p.SetPeople([]Event{{DistinctID: "bob", Props: []Prop{{"name", StringValue("Bob")}}}}))
	must(p.UpdateProfiles(TablePeople, []ProfileOp{{Key: "ann", Op: opAdd, Props: []Prop{{"n", IntValue(1)}}, Time: time.Unix(1, 0)}}))
	crash(s)
	return dir
}

func dumpTestFile(t *testing.T, pattern string) string {
	t.Helper()
	names, _ := filepath.Glob(pattern)
	if len(names) != 1 {
		t.Fatalf("%s matches %v, want one file", pattern, names)
	}
	return names[0]
}

// wantLines checks that every pattern matches a line of out.
func wantLines(t *testing.T, out string, patterns ...string) {
	t.Helper()
	for _, p := range patterns {
		if !regexp.MustCompile("(?m)" + p).MatchString(out) {
			t.Errorf("dump has no line matching %q:\n%s", p, out)
		}
	}
}

func TestDumpWAL(t *testing.T) {
	dir := dumpTestStore(t)
	path := dumpTestFile(t, filepath.Join(dir, walDirName, "*.wal"))
	var out strings.Builder
	if err := DumpWAL(&out, OSFS{}, path); err != nil {
		t.Fatal(err)
	}
	wantLines(t, out.String(),
		`^wal .*\.wal: \d+ bytes, magic "ARBWAL01", sequence \d+$`,
		`^offset 16: \d+ bytes, catalog, project "app", op "project"$`,
		`^offset \d+: \d+ bytes, events, project "shop", 1 rows$`,
		`^offset \d+: \d+ bytes, people, project "shop", 1 rows$`,
		`^offset \d+: \d+ bytes, profiles, project "shop", table people, 1 rows$`,
		`^4 records; the file ends at a record boundary$`)

	// Damage in the last record: listed, described, and returned.
	b, _ := os.ReadFile(path)
	b[len(b)-2] ^= 0x08
	os.WriteFile(path, b, 0o644)
	out.Reset()
	err := DumpWAL(&out, OSFS{}, path)
	var ce *CorruptionError
	if !errors.As(err, &ce) || ce.File != path {
		t.Fatalf("dump of a damaged file: %v, want a CorruptionError naming it", err)
	}
	wantLines(t, out.String(), `^offset \d+: DAMAGED: record checksum mismatch .*, 0 intact records after it$`, `^3 records before it$`)

	// A torn tail is described, not an error.
	os.WriteFile(path, b[:len(b)-2], 0o644)
	out.Reset()
	if err := DumpWAL(&out, OSFS{}, path); err != nil {
		t.Fatal(err)
	}
	wantLines(t, out.String(), `^offset \d+: torn tail: record of \d+ bytes runs past the end of the file`)
}

func TestDumpManifest(t *testing.T) {
	dir := dumpTestStore(t)
	var out strings.Builder
	if err := DumpManifest(&out, OSFS{}, filepath.Join(dir, manifestName)); err != nil {
		t.Fatal(err)
	}
	wantLines(t, out.String(),
		`^manifest .*MANIFEST: \d+ bytes, magic ARBMAN01, body \d+ bytes, CRC-32C [0-9a-f]{8} \(verified\)$`,
		`^version 1, wal_start_seq \d+, next_file_number \d+, 1 projects$`,
		`^project "shop": 3 columns, 1 segments, 2 rows in segments, 2 users, 1 user state runs, people file ""$`,
		`"secret": "\(11 characters, not shown\)"`,
		`"day": "2025-01-01"`)
	if strings.Contains(out.String(), "very-secret") {
		t.Fatal("the manifest dump shows the API secret")
	}
}

// TestDumpPeopleFile dumps a people file of the format before user state
// runs (the golden one: people, groups, identity) and a user state run.
func TestDumpPeopleFile(t *testing.T) {
	var out strings.Builder
	if err := DumpPeopleFile(&out, OSFS{}, dumpTestFile(t, filepath.Join("testdata", "golden", "v2", peopleDir, "*.people"))); err != nil {
		t.Fatal(err)
	}
	wantLines(t, out.String(),
		`^people file .*: \d+ bytes, magic ARBPPL02, body \d+ bytes, CRC-32C [0-9a-f]{8} \(verified\)$`,
		`^project "shop": 1 people, 1 groups, identity state \d+ bytes$`,
		`^  "ann" "name":string="Ann"`,
		`^  "company\\x00acme" "size":int=30$`,
		`^identity: 1 merged users, 1 marked as user ids$`,
		`^  user 0 -> canonical 1$`)
	dir := dumpTestStore(t)
	out.Reset()
	if err := DumpUserStateRun(&out, OSFS{}, dumpTestFile(t, filepath.Join(dir, usersDirName, "*.ust"))); err != nil {
		t.Fatal(err)
	}
	wantLines(t, out.String(),
		`^user state run .*\.ust: \d+ bytes, magic ARBUST01, 3 entries in 1 blocks$`,
		`^group "company\\x00acme": "size":int=30$`,
		`^identity chunk 0 \(users 0-4095\):$`,
		`^  user 0 -> canonical 1$`,
		`^  user 1 is a user id$`,
		`^person 1: "name":string="Ann"$`)
}

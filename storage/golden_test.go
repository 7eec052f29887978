package storage

// Golden fixtures: one small data directory written by this code, in
// testdata/golden/v1/, holding one file of every on-disk format as
// written today:
//
//	MANIFEST                 ARBMAN01, body version 1, with segment
//	                         levels and an obsolete list (manifest.go)
//	segments/NNNNNN.seg      ARBSEG01 version 1, a level-2 segment made by
//	                         CompactDay from two flushes (compaction.go)
//	people/NNNNNN.people     ARBPPL02: people, groups, identity
//	users/shop.users         ARBUSR01, two chunks (userid.go)
//	wal/NNNNNN.wal           ARBWAL01, one record of each kind (wal.go)
//
// and testdata/golden/people_v1.people, a people file of the older
// ARBPPL01 layout that people_file.go still reads.
//
// The tests below decode each file and compare it with content pinned
// here, so a change that stops old files from reading fails loudly.
//
// NEVER regenerate a fixture of a released format version: the files
// stand for data already on users' disks. A new version gets new files
// next to these (a new directory v2/ or a new name), and these stay.
// TestWriteGolden (ARB_WRITE_GOLDEN=1) only writes files that are
// missing; it never overwrites one.

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

const goldenDir = "testdata/golden/v1"

// goldenWriteDir is the directory today's writer makes: v1 plus the user
// index (users/NNNNNN.uix, ARBUIX01, named by the manifest's user_index)
// and user state runs (users/NNNNNN.ust, ARBUST01, the manifest's
// user_state: people, groups and identity; no people file). v1
// stays as a directory written before the user index existed, v2 as one
// written before user state runs.
const goldenWriteDir = "testdata/golden/v3"

// goldenDay is the one UTC day the golden events fall on.
const goldenDay = "2025-01-01"

// writeGoldenStore builds the golden data directory in a temp dir and
// returns it, stopped as a crash would leave it (the WAL keeps its last
// records), with the MANIFEST as it was right after the compaction (it
// still lists the compacted inputs as obsolete).
func writeGoldenStore(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	s, err := Open(Options{Dir: dir, FlushInterval: time.Hour, DisableCompaction: true, ProfileUpdater: testProfileUpdater})
	if err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	_, err = s.CreateProject("shop", "tok", "very-secret")
	must(err)
	p, _ := s.Project("shop")
	base := time.Date(2025, 1, 1, 10, 0, 0, 0, time.UTC).UnixMilli()
	must(p.Ingest([]Event{
		{TimeMillis: base, Name: "Signup", DistinctID: "anon-1", InsertID: "i1", Props: []Prop{{"plan", StringValue("pro")}}},
		{TimeMillis: base + 1000, Name: "$identify", DistinctID: "ann", InsertID: "i2", Props: []Prop{
			{"$anon_id", StringValue("anon-1")}, {"$identified_id", StringValue("ann")}}},
		{TimeMillis: base + 2000, Name: "Purchase", DistinctID: "ann", InsertID: "i3", Props: []Prop{
			{"amount", FloatValue(9.5)}, {"n", IntValue(3)}}},
	}))
	must(p.SetPeople([]Event{{DistinctID: "ann", Props: []Prop{{"name", StringValue("Ann")}}}}))
	must(p.UpdateProfiles(TableGroups, []ProfileOp{{Key: GroupRowKey("company", "acme"), Op: opSet,
		Props: []Prop{{"size", IntValue(30)}}, IgnoreTime: true}}))
	must(s.Flush())
	must(p.Ingest([]Event{
		{TimeMillis: base - 5000, Name: "Page View", DistinctID: "bob", InsertID: "i4", Props: []Prop{{"ok", BoolValue(true)}}},
		{TimeMillis: base + 3000, Name: "Purchase", DistinctID: "ann", InsertID: "i5", Props: []Prop{
			{"amount", FloatValue(-2)}, {"tags", JSONValue(`["a","b"]`)}}},
	}))
	must(s.Flush())
	// The compactor's merges of the two flushes' user index and user
	// state runs (the compactor is off here, so that they run now).
	s.compactMu.Lock()
	must(s.mergeUserStateDue(p))
	must(s.mergeUserIndexDue(p))
	s.compactMu.Unlock()
	res, err := s.CompactDay("shop", goldenDay)
	must(err)
	if res.Level != levelMergedWhole || len(res.Inputs) != 2 || res.RowsOut != 5 {
		t.Fatalf("compaction %+v, want two inputs merged into one level-2 segment of 5 rows", res)
	}
	// The manifest that names the compaction's output, with the inputs
	// still listed as obsolete: the next publish would drop them.
	manifest, err := os.ReadFile(filepath.Join(dir, manifestName))
	must(err)
	// After the flushes, the live WAL file gets one record of each kind.
	_, err = s.CreateProject("app", "", "")
	must(err)
	must(p.Ingest([]Event{{TimeMillis: base + 4000, Name: "Buy", DistinctID: "bob", InsertID: "i6", Props: []Prop{{"amount", FloatValue(2.5)}}}}))
	must(p.SetPeople([]Event{{DistinctID: "bob", Props: []Prop{{"name", StringValue("Bob")}}}}))
	must(p.UpdateProfiles(TablePeople, []ProfileOp{{Key: "ann", Op: opAdd, Props: []Prop{{"n", IntValue(1)}},
		Time: time.Date(2025, 1, 2, 0, 0, 0, 0, time.UTC)}}))
	crash(s)
	must(os.WriteFile(filepath.Join(dir, manifestName), manifest, 0o644))
	os.Remove(filepath.Join(dir, lockName))
	return dir
}

// TestWriteGolden writes the golden files that are missing
// (ARB_WRITE_GOLDEN=1) and never overwrites a fixture (see the file
// comment). Without the variable it writes nothing and checks that every
// file today's writer makes has a committed fixture of the same name, so
// a new kind of file cannot land without one.
func TestWriteGolden(t *testing.T) {
	update := os.Getenv("ARB_WRITE_GOLDEN") != ""
	src := writeGoldenStore(t)
	err := filepath.WalkDir(src, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return writeNewFile(t, filepath.Join(goldenWriteDir, rel), data, update)
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := writeNewFile(t, filepath.Join("testdata", "golden", "people_v1.people"), goldenPeopleV1(), update); err != nil {
		t.Fatal(err)
	}
}

// writeNewFile writes data at path unless a file is there; without
// update it only checks that one is.
func writeNewFile(t *testing.T, path string, data []byte, update bool) error {
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	if !update {
		t.Errorf("no golden fixture %s for a file today's writer makes: run with ARB_WRITE_GOLDEN=1", path)
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	t.Logf("writing %s (%d bytes)", path, len(data))
	return os.WriteFile(path, data, 0o644)
}

// goldenPeopleV1 is a people file as ARBPPL01 writers made it: the frame
// around one EventBatch of people, no groups, no identity.
func goldenPeopleV1() []byte {
	b := &EventBatch{Project: "shop", Events: []Event{
		{DistinctID: "ann", Props: []Prop{{"name", StringValue("Ann")}, {"age", IntValue(41)}}},
		{DistinctID: "bob", Props: []Prop{{"vip", BoolValue(true)}}},
	}}
	return encodeFramed(peopleMagicV1, AppendEventBatch(nil, b))
}

// goldenFile reads the one golden file matching pattern (relative to
// goldenDir) and checks its first 8 bytes.
func goldenFile(t *testing.T, pattern, magic string) (string, []byte) {
	t.Helper()
	names, _ := filepath.Glob(filepath.Join(goldenDir, pattern))
	if len(names) != 1 {
		t.Fatalf("%s matches %v, want one golden file (ARB_WRITE_GOLDEN=1 writes missing ones)", pattern, names)
	}
	data, err := os.ReadFile(names[0])
	if err != nil {
		t.Fatal(err)
	}
	if len(data) < 8 || string(data[:8]) != magic {
		t.Fatalf("%s starts %q, want magic %s", names[0], data[:min(8, len(data))], magic)
	}
	return names[0], data
}

func goldenManifest(t *testing.T) *manifestBody {
	t.Helper()
	path, data := goldenFile(t, manifestName, "ARBMAN01")
	m, err := decodeManifest(data, path)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestGoldenManifestV1(t *testing.T) {
	m := goldenManifest(t)
	if m.Version != 1 || len(m.Projects) != 1 {
		t.Fatalf("version %d, %d projects; want version 1 and one project", m.Version, len(m.Projects))
	}
	p := m.Projects[0]
	got := fmt.Sprintf("wal %d next %d obsolete %v | %s %s %s users %d bytes %d people %s | columns %v | people %v | groups %v",
		m.WALStartSeq, m.NextFileNumber, m.Obsolete, p.Name, p.Token, p.Secret, p.Users, p.UsersBytes, p.PeopleFile,
		p.Columns, p.PeopleColumns, p.GroupColumns)
	want := "wal 3 next 5 obsolete [segments/000001.seg segments/000003.seg] | shop tok very-secret users 3 bytes 39 people 000002.people" +
		" | columns [{plan string} {$anon_id string} {$identified_id string} {amount float} {n int} {ok bool} {tags json}]" +
		" | people [{name string}] | groups [{size int}]"
	if got != want {
		t.Errorf("golden manifest reads\n%s\nwant\n%s", got, want)
	}
	if segs := fmt.Sprint(p.Segments); segs != "[{000004.seg 2025-01-01 5 2488 2}]" {
		t.Errorf("golden manifest segments %s, want one level-2 segment of 5 rows", segs)
	}
	// What this arb writes back after reading an old manifest keeps all
	// of it (a later manifest is this one cloned and edited).
	enc, _ := encodeManifest(m)
	if m2, err := decodeManifest(enc, "re-encoded"); err != nil || !reflect.DeepEqual(m, m2) {
		t.Errorf("the golden manifest re-encodes to one that reads %+v, %v", m2, err)
	}
}

func TestGoldenUsersV1(t *testing.T) {
	m := goldenManifest(t)
	path, data := goldenFile(t, "users/shop.users", "ARBUSR01")
	ids := func(d *userDict) []string {
		var out []string
		for _, id := range d.view().All() {
			out = append(out, id)
		}
		return out
	}
	d, err := loadUserDict(OSFS{}, path, m.Projects[0].Users, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer d.close()
	if got := fmt.Sprint(ids(d), d.fileBytes, len(data)); got != "[anon-1 ann bob] 39 39" {
		t.Errorf("golden users file reads %s, want [anon-1 ann bob] 39 39", got)
	}
	// v1 manifests have no user index: every user is found through the
	// entries open hashed.
	for want, id := range []string{"anon-1", "ann", "bob"} {
		if n, ok, err := d.lookup(id); int(n) != want || !ok || err != nil {
			t.Errorf("lookup(%q) = %d %v %v, want %d", id, n, ok, err, want)
		}
	}
	// Two flushes appended two chunks, and a count must end at a chunk:
	// the first flush's manifest counted 2.
	if d, err := loadUserDict(OSFS{}, path, 2, nil, 0); err != nil || fmt.Sprint(ids(d), d.fileBytes) != "[anon-1 ann] 27" {
		t.Errorf("the first chunk reads %v, %v; want [anon-1 ann] ending at 27", d, err)
	}
	if _, err := loadUserDict(OSFS{}, path, 1, nil, 0); !errors.Is(err, ErrCorruption) {
		t.Errorf("1 user, mid-chunk: %v, want ErrCorruption", err)
	}
}

func TestGoldenPeopleV2(t *testing.T) {
	path, _ := goldenFile(t, "people/*.people", "ARBPPL02")
	st, err := readPeopleFile(OSFS{}, path)
	if err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprint(st.people, st.groups)
	if want := `[{ann [{name {string 0 0 Ann}}]}] [{company` + "\x00" + `acme [{size {int 30 0 }}]}]`; got != want {
		t.Errorf("golden people file reads %q, want %q", got, want)
	}
	// ann (user 1) is anon-1's (user 0) canonical user, and a user id.
	id := newUserState(func() int { return 3 })
	if err := migrateIdentity(id, st.identity, 3); err != nil {
		t.Fatal(err)
	}
	var state []any
	for u := uint32(0); u < 3; u++ {
		c, _ := id.canonical(u)
		m, _ := id.isUser(u)
		state = append(state, c, m)
	}
	if got := fmt.Sprint(state...); got != "1 false 1 true 2 false" {
		t.Errorf("golden identity reads %s, want canonicals 1 1 2, user 1 marked", got)
	}
}

func TestGoldenPeopleV1(t *testing.T) {
	path := filepath.Join("testdata", "golden", "people_v1.people")
	st, err := readPeopleFile(OSFS{}, path)
	if err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprint(st.people, len(st.groups), st.identity == nil)
	if want := "[{ann [{name {string 0 0 Ann}} {age {int 41 0 }}]} {bob [{vip {bool 1 0 }}]}] 0 true"; got != want {
		t.Errorf("golden ARBPPL01 people file reads %q, want %q", got, want)
	}
}

// goldenSegmentRows renders every row of a segment as "col=value" cells
// in column order, NULLs left out.
func goldenSegmentRows(t *testing.T, seg *Segment) []string {
	t.Helper()
	var rows []string
	for b := 0; b < seg.NumBlocks(); b++ {
		_, n := seg.BlockRange(b)
		cells := make([][]string, n)
		for _, c := range seg.Columns() {
			blk, err := seg.ReadBlock(c.Name, b)
			if err != nil {
				t.Fatal(err)
			}
			var dict []string
			if c.Type == TypeString || c.Type == TypeJSON {
				if dict, err = seg.Dict(c.Name); err != nil {
					t.Fatal(err)
				}
			}
			for i := 0; i < n; i++ {
				if blk.Nulls != nil && blk.Nulls[i] {
					continue
				}
				var v string
				switch c.Type {
				case TypeFloat:
					v = fmt.Sprint(blk.Floats[i])
				case TypeString, TypeJSON:
					v = dict[blk.Codes[i]]
				default:
					v = fmt.Sprint(blk.Ints[i])
				}
				cells[i] = append(cells[i], strings.TrimPrefix(c.Name, "\x00")+"="+v)
			}
		}
		for _, c := range cells {
			rows = append(rows, strings.Join(c, " "))
		}
	}
	return rows
}

func TestGoldenCompactedSegmentV1(t *testing.T) {
	path, data := goldenFile(t, "segments/*.seg", "ARBSEG01")
	if tail := string(data[len(data)-8:]); tail != segMagic {
		t.Fatalf("trailer magic %q, want %s", tail, segMagic)
	}
	seg, err := OpenSegment(bytes.NewReader(data), int64(len(data)), path)
	if err != nil {
		t.Fatal(err)
	}
	if seg.footer.Version != 1 || string(seg.Meta()) != `{"day":"2025-01-01","level":2,"order":"user,time","project":"shop"}` {
		t.Errorf("version %d meta %s", seg.footer.Version, seg.Meta())
	}
	// Sorted by user number (anon-1 0, ann 1, bob 2), then time.
	want := []string{
		"time=1735725600000 event=Signup distinct_id=anon-1 insert_id=i1 user=0 plan=pro",
		"time=1735725601000 event=$identify distinct_id=ann insert_id=i2 user=1 $anon_id=anon-1 $identified_id=ann",
		"time=1735725602000 event=Purchase distinct_id=ann insert_id=i3 user=1 amount=9.5 n=3",
		"time=1735725603000 event=Purchase distinct_id=ann insert_id=i5 user=1 amount=-2 tags=[\"a\",\"b\"]",
		"time=1735725595000 event=Page View distinct_id=bob insert_id=i4 user=2 ok=1",
	}
	if got := goldenSegmentRows(t, seg); !slices.Equal(got, want) {
		t.Errorf("golden segment rows:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if bm, ok, err := seg.ValueBitmap(ColEvent, 2); err != nil || !ok || fmt.Sprint(bm.ToArray()) != "[2 3]" {
		t.Errorf("bitmap of event code 2 (Purchase): %v %v %v, want rows [2 3]", bm, ok, err)
	}
}

func TestGoldenWALV1(t *testing.T) {
	path, data := goldenFile(t, "wal/*.wal", "ARBWAL01")
	seq, _ := parseWALFileName(filepath.Base(path))
	if got := binary.LittleEndian.Uint64(data[8:]); got != seq || seq != 3 {
		t.Fatalf("header sequence %d, file name %d; want 3", got, seq)
	}
	var got []string
	n, fault, err := scanWALFile(bytes.NewReader(data), int64(len(data)), seq, func(off int64, payload []byte) error {
		kind := recordKind(payload[0])
		desc := fmt.Sprintf("%d %s", off, kind)
		switch kind {
		case kindCatalog:
			desc += " " + string(payload[1:])
		case kindEvents, kindPeople:
			b, err := DecodeEventBatch(payload[1:])
			if err != nil {
				return err
			}
			desc += fmt.Sprintf(" %s %v", b.Project, b.Events)
		case kindProfiles:
			d := &batchDecoder{src: payload, off: 1}
			table := d.string()
			b, err := DecodeEventBatch(payload[d.off:])
			if err != nil || d.err != nil {
				return fmt.Errorf("profiles record: %v %v", err, d.err)
			}
			desc += fmt.Sprintf(" %s %s %v", table, b.Project, b.Events)
		}
		got = append(got, desc)
		return nil
	})
	if err != nil || fault != nil || n != 4 {
		t.Fatalf("scan: %d records, fault %+v, err %v; want 4 records", n, fault, err)
	}
	want := []string{
		`16 catalog {"op":"project","name":"app","token":"cbe6b8739b45cd10a9259d0db35d4476","secret":"3d57376902667cfecb60da45ca79422b"}`,
		`141 events shop [{1735725604000 Buy bob i6 [{amount {float 0 2.5 }}]}]`,
		`191 people shop [{0  bob  [{name {string 0 0 Bob}}]}]`,
		`225 profiles people shop [{0  ann  [{name {string 0 0 Ann}} {n {int 1 0 }} {$last_seen {string 0 0 2025-01-02T00:00:00}}]}]`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("golden WAL records:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestGoldenDataDirOpens opens a copy of the whole golden directory: the
// store must read every file, replay the WAL and serve all rows.
func TestGoldenDataDirOpens(t *testing.T) {
	for _, golden := range []string{goldenDir, "testdata/golden/v2", goldenWriteDir} {
		t.Run(filepath.Base(golden), func(t *testing.T) { testGoldenDataDirOpens(t, golden) })
	}
}

// TestGoldenUserStateRunV1 reads the golden user state run: anon-1 (user
// 0) merged into ann (user 1), a user id, and ann's profile.
func TestGoldenUserStateRunV1(t *testing.T) {
	var out strings.Builder
	names, _ := filepath.Glob(filepath.Join(goldenWriteDir, "users", "*.ust"))
	if len(names) != 1 {
		t.Fatalf("golden user state runs %v, want 1", names)
	}
	if err := DumpUserStateRun(&out, OSFS{}, names[0]); err != nil {
		t.Fatal(err)
	}
	got := out.String()[strings.Index(out.String(), "\n")+1:]
	want := `identity chunk 0 (users 0-4095):
  user 0 -> canonical 1
  user 1 is a user id
person 1: "name":string="Ann"
group "company\x00acme": "size":int=30
`
	if got != want {
		t.Errorf("golden user state run reads\n%s\nwant\n%s", got, want)
	}
}

func testGoldenDataDirOpens(t *testing.T, golden string) {
	dir := t.TempDir()
	err := filepath.WalkDir(golden, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(golden, path)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dir, rel), 0o755)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, rel), data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	s := openTestStore(t, dir, nil)
	defer s.Close()
	p, ok := s.Project("shop")
	if _, app := s.Project("app"); !ok || !app {
		t.Fatalf("projects %v, want shop and app", s.Projects())
	}
	if n, ids := countRows(t, s, "shop"); n != 6 || len(ids) != 6 {
		t.Errorf("%d rows (%v), want the 5 compacted rows and 1 from the WAL", n, ids)
	}
	people, _, err := p.People()
	want := "[{ann [{name {string 0 0 Ann}} {n {int 1 0 }} {$last_seen {string 0 0 2025-01-02T00:00:00}}]} {bob [{name {string 0 0 Bob}}]}]"
	if got := fmt.Sprint(people); got != want || err != nil {
		t.Errorf("people %s %v, want %s", got, err, want)
	}
	snap := p.Snapshot()
	if c := snap.Canon.Of(0); c != 1 {
		t.Errorf("anon-1 (user 0) has the canonical %d, want ann (1)", c)
	}
	wantGroups := "[{company acme [{size {int 30 0 }}]}]"
	if groups, _, err := p.Groups(); fmt.Sprint(groups) != wantGroups || err != nil {
		t.Errorf("groups %v %v, want %s", groups, err, wantGroups)
	}
	// A flush writes what an older people file held as user state and
	// drops the file.
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	p.mu.RLock()
	peopleFile, runs := p.peopleFile, len(p.ustate.runs)
	p.mu.RUnlock()
	files, _ := filepath.Glob(filepath.Join(dir, peopleDir, "*.people"))
	if peopleFile != "" || len(files) != 0 || runs == 0 {
		t.Errorf("after a flush: people file %q, files %v, %d user state runs; want none, none, some", peopleFile, files, runs)
	}
	if people2, _, err := p.People(); fmt.Sprint(people2) != want || err != nil {
		t.Errorf("people after the flush %v %v, want %s", people2, err, want)
	}
	if groups, _, err := p.Groups(); fmt.Sprint(groups) != wantGroups || err != nil {
		t.Errorf("groups after the flush %v %v, want %s", groups, err, wantGroups)
	}
	// Every user is found again, by the index or (v1) by the entries
	// open hashed, and a new one gets the next number.
	p.mu.Lock()
	defer p.mu.Unlock()
	ids := p.users.view()
	for n, id := range ids.All() {
		if got, ok, err := p.users.lookup(id); got != n || !ok || err != nil {
			t.Errorf("lookup(%q) = %d %v %v, want %d", id, got, ok, err, n)
		}
	}
	if n, err := p.users.number("golden-new-user"); int(n) != ids.Len() || err != nil {
		t.Errorf("a new user got %d %v, want %d", n, err, ids.Len())
	}
}

func TestGoldenUserIndexV1(t *testing.T) {
	names, _ := filepath.Glob(filepath.Join(goldenWriteDir, "users", "*.uix"))
	if len(names) != 1 {
		t.Fatalf("golden user index files %v, want 1", names)
	}
	r, err := openUserIndexRun(OSFS{}, names[0])
	if err != nil {
		t.Fatal(err)
	}
	defer r.close()
	var got []string
	next := r.iterator()
	for {
		e, ok, err := next()
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		got = append(got, fmt.Sprintf("%016x:%d", e.hash, e.number))
	}
	// The hashes are xxhash64 of the distinct_ids, pinned: a change of
	// hash function would lose every user of every existing index.
	var want []string
	for n, id := range []string{"anon-1", "ann", "bob"} {
		want = append(want, fmt.Sprintf("%016x:%d", hashUserID(id), n))
	}
	slices.Sort(want)
	if r.first != 0 || r.end != 3 || !slices.Equal(got, want) {
		t.Errorf("golden user index covers [%d, %d) with %v, want [0, 3) with %v", r.first, r.end, got, want)
	}
	if h := hashUserID("ann"); h != 0xb41beba40346ebe {
		t.Errorf("hashUserID(ann) = %#x, want 0xb41beba40346ebe (xxhash64)", h)
	}
}

package storage

import (
	"errors"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func openTestStore(t *testing.T, dir string, fs FS) *Store {
	t.Helper()
	if fs == nil {
		fs = OSFS{}
	}
	s, err := Open(Options{FS: fs, Dir: dir, FlushInterval: time.Hour, ProfileUpdater: testProfileUpdater})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	return s
}

// crash stops s the way kill -9 would as far as durability goes: nothing
// is flushed; what the WAL acknowledged is synced already. The directory
// lock goes too, as the kernel drops a dead process's flock.
func crash(s *Store) {
	close(s.closing)
	s.WaitWarm()
	s.flusherWG.Wait()
	s.sealWG.Wait()
	s.wal.Close()
	s.closeSegments()
	s.dirLock.Release()
}

func testEvents(n int, seed int64) []Event {
	r := rand.New(rand.NewSource(seed))
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	evs := make([]Event, n)
	for i := range evs {
		evs[i] = Event{
			TimeMillis: base + r.Int63n(3*24*3600*1000),
			Name:       []string{"Signup", "Page View", "Purchase"}[r.Intn(3)],
			DistinctID: fmt.Sprintf("u%d", r.Intn(50)),
			InsertID:   fmt.Sprintf("%d-%d", seed, i),
			Props:      []Prop{{"plan", StringValue([]string{"free", "pro"}[r.Intn(2)])}, {"amount", IntValue(int64(r.Intn(100)))}},
		}
		if i%7 == 0 {
			evs[i].Props = append(evs[i].Props, Prop{"score", FloatValue(r.Float64())})
		}
	}
	return evs
}

// countRows counts the project's rows in segments and memory, and how
// many times each insert id appears.
func countRows(t *testing.T, s *Store, project string) (int, map[string]int) {
	t.Helper()
	p, ok := s.Project(project)
	if !ok {
		t.Fatalf("project %s missing", project)
	}
	snap := p.Snapshot()
	ids := map[string]int{}
	n := 0
	for _, ref := range snap.Segments {
		dict, err := ref.Segment.Dict(ColInsertID)
		if err != nil {
			t.Fatal(err)
		}
		for b := 0; b < ref.Segment.NumBlocks(); b++ {
			blk, err := ref.Segment.ReadBlock(ColInsertID, b)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range blk.Codes {
				ids[dict[c]]++
				n++
			}
		}
	}
	for _, m := range snap.Mem {
		for _, e := range m.Rows {
			ids[e.InsertID]++
			n++
		}
	}
	return n, ids
}

func TestStoreFlushReopen(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, dir, nil)
	if _, err := s.CreateProject("shop", "tok", "sec"); err != nil {
		t.Fatal(err)
	}
	p, _ := s.Project("shop")
	if err := p.Ingest(testEvents(500, 1)); err != nil {
		t.Fatal(err)
	}
	if err := p.SetPeople([]Event{{DistinctID: "u1", Props: []Prop{{"name", StringValue("Ann")}}}}); err != nil {
		t.Fatal(err)
	}
	if n, _ := countRows(t, s, "shop"); n != 500 {
		t.Fatalf("before flush: %d rows, want 500", n)
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	snap := p.Snapshot()
	if len(snap.Segments) != 3 {
		t.Fatalf("%d segments after flush, want one per day (3)", len(snap.Segments))
	}
	if err := p.Ingest(testEvents(100, 2)); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openTestStore(t, dir, nil)
	defer s.Close()
	n, ids := countRows(t, s, "shop")
	if n != 600 || len(ids) != 600 {
		t.Fatalf("after reopen: %d rows, %d distinct insert ids; want 600", n, len(ids))
	}
	p, _ = s.Project("shop")
	if info := p.Info(); info.Token != "tok" || info.Secret != "sec" {
		t.Fatalf("credentials after reopen: %+v", info)
	}
	cols := p.Columns(TableEvents)
	if len(cols) != 3 || cols[0].Name != "plan" || cols[1].Type != TypeInt || cols[2].Type != TypeFloat {
		t.Fatalf("schema after reopen: %+v", cols)
	}
	snap = p.Snapshot()
	if people, _, _ := p.People(); len(people) != 1 || people[0].Props[0].Value.Str != "Ann" {
		t.Fatalf("people after reopen: %+v", people)
	}
	if n := snap.UserIDs.Len(); n == 0 || n > 50 {
		t.Fatalf("%d users, want at most 50", n)
	}
	// WAL files below the manifest's start are gone.
	walFiles, _ := os.ReadDir(filepath.Join(dir, walDirName))
	if len(walFiles) > 2 {
		t.Fatalf("%d WAL files left after flushes", len(walFiles))
	}
}

func TestStoreCrashReplaysExactlyOnce(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, dir, nil)
	s.CreateProject("p", "", "")
	p, _ := s.Project("p")
	p.Ingest(testEvents(200, 3))
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	p.Ingest(testEvents(300, 4))
	crash(s)

	for round := 0; round < 3; round++ {
		s = openTestStore(t, dir, nil)
		n, ids := countRows(t, s, "p")
		if n != 500 || len(ids) != 500 {
			t.Fatalf("round %d: %d rows, %d distinct ids; want 500", round, n, len(ids))
		}
		crash(s)
	}
}

// failingFS fails renames onto the manifest, the flush's commit point.
type failingFS struct {
	OSFS
	failManifest bool
}

func (f *failingFS) Rename(oldPath, newPath string) error {
	if f.failManifest && filepath.Base(newPath) == manifestName {
		return errors.New("injected rename failure")
	}
	return f.OSFS.Rename(oldPath, newPath)
}

func TestStoreFailedManifestKeepsWALInCharge(t *testing.T) {
	dir := t.TempDir()
	fs := &failingFS{}
	s := openTestStore(t, dir, fs)
	s.CreateProject("p", "", "")
	p, _ := s.Project("p")
	p.Ingest(testEvents(300, 5))
	fs.failManifest = true
	if err := s.Flush(); err == nil {
		t.Fatal("flush succeeded with a failing manifest rename")
	}
	if err := p.Ingest(testEvents(1, 6)); err == nil || !strings.Contains(err.Error(), "stopped taking writes") {
		t.Fatalf("ingest after a failed manifest publish: %v, want the store stopped", err)
	}
	crash(s)
	fs.failManifest = false
	s = openTestStore(t, dir, fs)
	defer s.Close()
	n, ids := countRows(t, s, "p")
	if n != 300 || len(ids) != 300 {
		t.Fatalf("%d rows, %d distinct; want 300 exactly once", n, len(ids))
	}
	segs, _ := os.ReadDir(filepath.Join(dir, segDirName))
	if len(segs) != 0 {
		t.Fatalf("orphan segments left: %d", len(segs))
	}
}

func TestIngestBadRowStoresNothing(t *testing.T) {
	s := openTestStore(t, t.TempDir(), nil)
	defer s.Close()
	s.CreateProject("p", "", "")
	p, _ := s.Project("p")
	evs := testEvents(5, 7)
	evs[3].Name = ""
	err := p.Ingest(evs)
	var re *RowError
	if !errors.As(err, &re) || re.Row != 4 || re.Column != ColEvent {
		t.Fatalf("error %v, want a RowError for row 4, column event", err)
	}
	evs = testEvents(2, 8)
	evs[1].Props = append(evs[1].Props, Prop{"time", IntValue(1)})
	if err := p.Ingest(evs); err == nil || !strings.Contains(err.Error(), "row 2: column time") {
		t.Fatalf("reserved property name: %v", err)
	}
	if n, _ := countRows(t, s, "p"); n != 0 {
		t.Fatalf("%d rows stored from bad batches", n)
	}
	if cols := p.Columns(TableEvents); len(cols) != 0 {
		t.Fatalf("bad batches changed the schema: %+v", cols)
	}
}

func TestConcurrentIngestWithFlushes(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, dir, nil)
	s.CreateProject("p", "", "")
	p, _ := s.Project("p")
	var wg sync.WaitGroup
	for w := 0; w < 6; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				if err := p.Ingest(testEvents(50, int64(w*1000+i))); err != nil {
					t.Error(err)
					return
				}
			}
		}(w)
	}
	stop := make(chan struct{})
	flushed := make(chan int)
	go func() {
		n := 0
		for {
			select {
			case <-stop:
				flushed <- n
				return
			default:
			}
			if err := s.Flush(); err != nil {
				t.Error(err)
			}
			n++
			_, _ = countRows(t, s, "p") // readers race with writers and flushes
		}
	}()
	wg.Wait()
	close(stop)
	<-flushed
	if n, ids := countRows(t, s, "p"); n != 6000 || len(ids) != 6000 {
		t.Fatalf("%d rows, %d distinct; want 6000", n, len(ids))
	}
	crash(s)
	s = openTestStore(t, dir, nil)
	defer s.Close()
	if n, ids := countRows(t, s, "p"); n != 6000 || len(ids) != 6000 {
		t.Fatalf("after crash: %d rows, %d distinct; want 6000", n, len(ids))
	}
}

func TestStoreRefusesDamagedSegment(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, dir, nil)
	s.CreateProject("p", "", "")
	p, _ := s.Project("p")
	p.Ingest(testEvents(100, 9))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	segs, _ := filepath.Glob(filepath.Join(dir, segDirName, "*.seg"))
	if len(segs) == 0 {
		t.Fatal("no segment written")
	}
	path := segs[0]
	data, _ := os.ReadFile(path)

	// A damaged block: the store opens, but reading the block fails with
	// the file's path, and no wrong value comes back.
	bad := append([]byte(nil), data...)
	bad[len(segMagic)+2] ^= 0xff
	os.WriteFile(path, bad, 0o644)
	s = openTestStore(t, dir, nil)
	seg := func() *Segment { p, _ := s.Project("p"); return p.Snapshot().Segments[0].Segment }()
	_, err := seg.ReadBlock(ColTime, 0)
	if !errors.Is(err, ErrCorruption) || !strings.Contains(err.Error(), path) {
		t.Fatalf("reading a damaged block: %v, want ErrCorruption naming %s", err, path)
	}
	s.Close()

	// A damaged footer: the store refuses to open, naming the file.
	bad = append([]byte(nil), data...)
	bad[len(bad)-segTrailerBytes-5] ^= 0xff
	os.WriteFile(path, bad, 0o644)
	_, err = Open(Options{Dir: dir, Logger: quietLog})
	if !errors.Is(err, ErrCorruption) || !strings.Contains(err.Error(), path) {
		t.Fatalf("opening with a damaged footer: %v, want ErrCorruption naming %s", err, path)
	}
}

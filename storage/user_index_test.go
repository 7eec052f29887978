package storage

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// TestUserIndexRun writes runs whose hashes repeat across page
// boundaries (collisions are what the dictionary check is for), finds
// every number under its hash, and merges adjacent runs.
func TestUserIndexRun(t *testing.T) {
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(1, 2))
	mk := func(first, end int) []userIndexEntry {
		var es []userIndexEntry
		for n := first; n < end; n++ {
			// Few distinct hashes: long runs of equal hashes cross pages.
			es = append(es, userIndexEntry{hash: uint64(rng.IntN(50)) << 40, number: uint32(n)})
		}
		sortUserIndexEntries(es)
		return es
	}
	a, b := mk(0, 1000), mk(1000, 1700)
	ra, err := writeUserIndexRun(OSFS{}, filepath.Join(dir, "000001.uix"), 0, 1000, sliceEntries(a))
	if err != nil {
		t.Fatal(err)
	}
	defer ra.close()
	rb, err := writeUserIndexRun(OSFS{}, filepath.Join(dir, "000002.uix"), 1000, 1700, sliceEntries(b))
	if err != nil {
		t.Fatal(err)
	}
	defer rb.close()
	merged, err := mergeUserIndexRuns(OSFS{}, filepath.Join(dir, "000003.uix"), []*userIndexRun{ra, rb})
	if err != nil {
		t.Fatal(err)
	}
	defer merged.close()
	all := append(slices.Clone(a), b...)
	sortUserIndexEntries(all)
	for _, c := range []struct {
		r  *userIndexRun
		es []userIndexEntry
	}{{ra, a}, {rb, b}, {merged, all}} {
		want := map[uint64][]uint32{}
		for _, e := range c.es {
			want[e.hash] = append(want[e.hash], e.number)
		}
		for h := uint64(0); h < 52; h++ {
			var got []uint32
			if err := c.r.lookup(h<<40, func(n uint32) (bool, error) { got = append(got, n); return false, nil }); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, want[h<<40]) {
				t.Fatalf("run [%d, %d): hash %x gives %v, want %v", c.r.first, c.r.end, h<<40, got, want[h<<40])
			}
		}
		var got []userIndexEntry
		next := c.r.iterator()
		for {
			e, ok, err := next()
			if err != nil {
				t.Fatal(err)
			}
			if !ok {
				break
			}
			got = append(got, e)
		}
		if !slices.Equal(got, c.es) {
			t.Fatalf("run [%d, %d) iterates %d entries, wrote %d", c.r.first, c.r.end, len(got), len(c.es))
		}
	}
	// fn stops the lookup.
	calls := 0
	merged.lookup(all[0].hash, func(uint32) (bool, error) { calls++; return true, nil })
	if calls != 1 {
		t.Fatalf("lookup went on after fn said done (%d calls)", calls)
	}
	// Out of order or out of range entries are a writer's bug, refused.
	bad := []userIndexEntry{{hash: 2, number: 0}, {hash: 1, number: 1}}
	if _, err := writeUserIndexRun(OSFS{}, filepath.Join(dir, "000004.uix"), 0, 2, sliceEntries(bad)); err == nil {
		t.Fatal("entries out of order were written")
	}
	if _, err := writeUserIndexRun(OSFS{}, filepath.Join(dir, "000005.uix"), 0, 3, sliceEntries(a[:2])); err == nil {
		t.Fatal("a run short of its range was written")
	}
}

// TestUserDictPaged numbers users over many flushes and reopens: every
// distinct_id keeps its number, the runs stay O(log users) with the
// compactor's merges, nothing but
// the bounded cache and the users since the last flush stays in memory,
// and a damaged run stops the open.
//
// A cache too small for the users makes lookups search the index runs; a
// large one holds every user, from ingest and from the open, and answers
// alone (userDict.allHot): both must find the same numbers.
func TestUserDictPaged(t *testing.T) {
	t.Run("small cache", func(t *testing.T) { testUserDictPaged(t, 4<<10, false) })
	t.Run("cache holds all", func(t *testing.T) { testUserDictPaged(t, 64<<20, true) })
}

func testUserDictPaged(t *testing.T, cacheBytes int64, holdsAll bool) {
	dir := t.TempDir()
	opts := Options{Dir: dir, FlushInterval: time.Hour, DisableCompaction: true, UserCacheBytes: cacheBytes}
	s, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateProject("p", "", ""); err != nil {
		t.Fatal(err)
	}
	p, _ := s.Project("p")
	rng := rand.New(rand.NewPCG(3, 4))
	var ids []string // number → id, the model
	number := map[string]int{}
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	for flush := 0; flush < 40; flush++ {
		var batch []Event
		for i := 0; i < 1+rng.IntN(300); i++ {
			var id string
			if len(ids) > 0 && rng.IntN(3) == 0 {
				id = ids[rng.IntN(len(ids))] // a returning user
			} else {
				id = fmt.Sprintf("user-%d-%d", flush, i)
			}
			if _, ok := number[id]; !ok {
				number[id] = len(ids)
				ids = append(ids, id)
			}
			batch = append(batch, Event{Name: "e", DistinctID: id, TimeMillis: base + int64(len(batch)), InsertID: fmt.Sprintf("%d-%d", flush, i)})
		}
		if err := p.Ingest(batch); err != nil {
			t.Fatal(err)
		}
		if err := s.Flush(); err != nil {
			t.Fatal(err)
		}
		// As the compactor would (it is off here, so that runs are
		// merged at known points).
		s.compactMu.Lock()
		err := s.mergeUserIndexDue(p)
		s.compactMu.Unlock()
		if err != nil {
			t.Fatal(err)
		}
	}
	check := func(s *Store, when string) {
		t.Helper()
		p, _ := s.Project("p")
		p.mu.Lock()
		defer p.mu.Unlock()
		d := p.users
		if d.Len() != len(ids) {
			t.Fatalf("%s: %d users, want %d", when, d.Len(), len(ids))
		}
		if max := 2 + bitsLen(len(ids)); len(d.runs) > max {
			t.Errorf("%s: %d user index runs for %d users, want at most %d", when, len(d.runs), len(d.runs), max)
		}
		if len(d.fresh) != 0 || len(d.freshNum) != 0 || len(d.unindexed) != 0 {
			t.Errorf("%s: %d fresh, %d unindexed users in memory after a flush", when, len(d.fresh), len(d.unindexed))
		}
		view := d.view()
		for n, id := range ids {
			if got := view.ID(uint32(n)); got != id {
				t.Fatalf("%s: user %d is %q, want %q", when, n, got, id)
			}
			if got, ok, err := d.lookup(id); int(got) != n || !ok || err != nil {
				t.Fatalf("%s: lookup(%q) = %d %v %v, want %d", when, id, got, ok, err, n)
			}
		}
		if _, ok, err := d.lookup("never-seen"); ok || err != nil {
			t.Fatalf("%s: an unknown id was found (%v)", when, err)
		}
		if b := d.hot.bytes(); b > opts.UserCacheBytes {
			t.Errorf("%s: the id cache holds %d bytes, budget %d", when, b, opts.UserCacheBytes)
		}
		if got := d.allHot && d.hot.holdsAllPut(); got != holdsAll {
			t.Errorf("%s: the cache holds every user: %v, want %v", when, got, holdsAll)
		}
	}
	check(s, "live")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	check(s, "reopened")
	v, err := VerifyDataDir(OSFS{}, dir)
	if err != nil || len(v.Problems) != 0 {
		t.Fatalf("verify: %+v, %v", v.Problems, err)
	}
	m := s.published
	s.Close()
	if holdsAll {
		return // the damage below is found by lookups that read the runs
	}

	// A flipped bit in a run's page is found by verify and by the first
	// lookup that reads the page; the footer is checked at open.
	run := filepath.Join(dir, usersDirName, m.Projects[0].UserIndex[0].File)
	flipByte(t, run, 100)
	v, err = VerifyDataDir(OSFS{}, dir)
	if err != nil || len(v.Problems) == 0 {
		t.Fatalf("verify missed a damaged user index page: %+v, %v", v, err)
	}
	flipByte(t, run, 100) // back
	flipByte(t, run, -10) // the trailer
	if _, err := Open(opts); !errors.Is(err, ErrCorruption) {
		t.Fatalf("open with a damaged user index trailer: %v, want ErrCorruption", err)
	}
}

// flipByte inverts the byte at off (from the end when negative).
func flipByte(t *testing.T, path string, off int64) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if off < 0 {
		off += int64(len(data))
	}
	data[off] ^= 0xff
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func bitsLen(n int) int {
	b := 0
	for ; n > 0; n >>= 1 {
		b++
	}
	return b
}

// TestUserCacheHoldsAllAfterBulk: a bulk load numbers its new users
// without the user cache (the flush that commits it puts them there);
// events of the same users afterwards, and after a reopen, get the same
// numbers, while the cache answering alone for new users (allHot) stays
// on: a user it lacked would have been numbered twice.
func TestUserCacheHoldsAllAfterBulk(t *testing.T) {
	dir := t.TempDir()
	s := openBulkStore(t, dir, 1, 0)
	if _, err := s.CreateProject("shop", "", ""); err != nil {
		t.Fatal(err)
	}
	base := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	events := func(from, to int, tag string) []Event {
		var b []Event
		for i := from; i < to; i++ {
			b = append(b, Event{Name: "e", DistinctID: fmt.Sprintf("user-%03d", i), TimeMillis: base + int64(i), InsertID: fmt.Sprintf("%s-%d", tag, i)})
		}
		return b
	}
	p, _ := s.Project("shop")
	bulk, err := p.BeginBulk()
	if err != nil {
		t.Fatal(err)
	}
	if err := bulk.Add(events(0, 100, "bulk")); err != nil {
		t.Fatal(err)
	}
	if err := bulk.Commit(); err != nil {
		t.Fatal(err)
	}
	check := func(s *Store, when string, users int) {
		t.Helper()
		p, _ := s.Project("shop")
		p.mu.Lock()
		defer p.mu.Unlock()
		d := p.users
		if d.Len() != users {
			t.Fatalf("%s: %d users, want %d", when, d.Len(), users)
		}
		if !d.allHot || !d.hot.holdsAllPut() {
			t.Fatalf("%s: the cache does not answer alone for new users", when)
		}
		for i := range users {
			id := fmt.Sprintf("user-%03d", i)
			if n, ok, err := d.lookup(id); !ok || err != nil || int(n) != i {
				t.Fatalf("%s: lookup(%q) = %d %v %v, want %d", when, id, n, ok, err, i)
			}
		}
	}
	check(s, "after the load", 100)
	if err := p.Ingest(events(0, 110, "ingest")); err != nil {
		t.Fatal(err)
	}
	check(s, "after ingest", 110)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openBulkStore(t, dir, 1, 0)
	defer s.Close()
	p, _ = s.Project("shop")
	if err := p.Ingest(events(50, 120, "again")); err != nil {
		t.Fatal(err)
	}
	check(s, "reopened", 120)
}

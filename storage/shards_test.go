package storage

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// newShardedProject opens a store of projects of shards shards in dir
// and creates project shop in it.
func newShardedProject(t *testing.T, dir string, shards, maxColumns int) (*Store, *Project) {
	t.Helper()
	s := openShardedStore(t, dir, shards, maxColumns)
	if _, err := s.CreateProject("shop", "", ""); err != nil {
		t.Fatal(err)
	}
	p, _ := s.Project("shop")
	return s, p
}

// checkThroughCrash runs check on s, again after a crash (WAL replay)
// and after a clean restart (flushed files); it closes the last store.
func checkThroughCrash(t *testing.T, s *Store, dir string, check func(when string, s *Store)) {
	t.Helper()
	check("live", s)
	crash(s)
	s = openShardedStore(t, dir, 0, 0) // the count is the project's, not the store's
	check("after crash", s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openShardedStore(t, dir, 0, 0)
	defer s.Close()
	check("after restart", s)
}

func openShardedStore(t *testing.T, dir string, shards, maxColumns int) *Store {
	t.Helper()
	s, err := Open(Options{Dir: dir, FlushInterval: time.Hour, Shards: shards, MaxColumns: maxColumns, ProfileUpdater: testProfileUpdater})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	return s
}

// shardRows checks that every row of project's shards lives in the shard
// of its distinct_id and returns how many rows each shard holds.
func shardRows(t *testing.T, s *Store, project string, shards int) []int {
	t.Helper()
	out := make([]int, shards)
	for k := range shards {
		c, ok := s.anyProject(shardName(project, k))
		if !ok {
			t.Fatalf("shard %d of %s missing", k, project)
		}
		snap := c.Snapshot()
		for _, m := range snap.Mem {
			for _, e := range m.Rows {
				if got := ShardOf(e.DistinctID, shards); got != k {
					t.Fatalf("event of %s in shard %d, belongs in %d", e.DistinctID, k, got)
				}
			}
			out[k] += len(m.Rows)
		}
		for _, ref := range snap.Segments {
			out[k] += ref.Segment.Rows()
		}
	}
	return out
}

// TestShardedProjectStoresEveryEventOnce: a project of three shards takes
// batches spanning every shard, drops repeated insert_ids, and keeps
// every event once in its distinct_id's shard across flushes, a crash
// (WAL replay of records naming the project) and a clean restart; only
// the project shows, not its shards.
func TestShardedProjectStoresEveryEventOnce(t *testing.T) {
	dir := t.TempDir()
	const shards = 3
	s, p := newShardedProject(t, dir, shards, 0)
	if got := p.Info().Shards; got != shards {
		t.Fatalf("Info().Shards = %d, want %d", got, shards)
	}
	want := map[string]bool{}
	for i := range 6 {
		evs := testEvents(500, int64(i%4)) // batches 4 and 5 repeat 0 and 1
		for _, e := range evs {
			want[e.InsertID] = true
		}
		if err := p.Ingest(evs); err != nil {
			t.Fatal(err)
		}
		if i == 2 {
			if err := s.Flush(); err != nil {
				t.Fatal(err)
			}
		}
	}
	check := func(when string, s *Store) {
		t.Helper()
		if ps := s.Projects(); len(ps) != 1 || ps[0].Name != "shop" || ps[0].Shards != shards {
			t.Fatalf("%s: projects %+v, want shop alone with %d shards", when, ps, shards)
		}
		n, ids := countRows(t, s, "shop")
		if n != len(want) || len(ids) != len(want) {
			t.Fatalf("%s: %d rows, %d ids; want %d", when, n, len(ids), len(want))
		}
		per := shardRows(t, s, "shop", shards)
		for k, c := range per {
			if c == 0 {
				t.Fatalf("%s: shard %d empty (%v)", when, k, per)
			}
		}
	}
	checkThroughCrash(t, s, dir, check)
}

// TestShardedBatchRefusedWhole: a batch one shard refuses (its part would
// pass the column limit) stores nothing in any shard, live and replicated
// alike.
func TestShardedBatchRefusedWhole(t *testing.T) {
	const shards = 3
	s, p := newShardedProject(t, t.TempDir(), shards, 2)
	defer s.Close()
	// Ids in every shard, each shard's events with columns a and b.
	var ids []string
	seen := map[int]bool{}
	for i := 0; len(seen) < shards; i++ {
		id := fmt.Sprintf("u%d", i)
		if k := ShardOf(id, shards); !seen[k] {
			seen[k] = true
			ids = append(ids, id)
		}
	}
	var first []Event
	for i, id := range ids {
		first = append(first, Event{TimeMillis: 1, Name: "e", DistinctID: id, InsertID: fmt.Sprint("a", i),
			Props: []Prop{{"a", IntValue(1)}, {"b", IntValue(2)}}})
	}
	if err := p.Ingest(first); err != nil {
		t.Fatal(err)
	}
	// The last shard's event brings a third column: that shard refuses.
	var second []Event
	for i, id := range ids {
		e := Event{TimeMillis: 2, Name: "e", DistinctID: id, InsertID: fmt.Sprint("b", i), Props: []Prop{{"a", IntValue(3)}}}
		if i == len(ids)-1 {
			e.Props = append(e.Props, Prop{"c", IntValue(4)})
		}
		second = append(second, e)
	}
	err := p.Ingest(second)
	var ce *ColumnLimitError
	if !errors.As(err, &ce) {
		t.Fatalf("Ingest: %v, want a *ColumnLimitError", err)
	}
	if n, _ := countRows(t, s, "shop"); n != len(first) {
		t.Fatalf("%d rows after the refused batch, want %d", n, len(first))
	}
	// Its keys were released: the same events without the extra column
	// are stored.
	second[len(second)-1].Props = []Prop{{"a", IntValue(3)}}
	if err := p.Ingest(second); err != nil {
		t.Fatal(err)
	}
	if n, _ := countRows(t, s, "shop"); n != len(first)+len(second) {
		t.Fatalf("%d rows, want %d", n, len(first)+len(second))
	}
}

// TestShardedProfiles: profile operations spanning shards apply whole, in
// order ($add twice to one key), to the shard of each key, and survive a
// crash through the WAL record naming the project.
func TestShardedProfiles(t *testing.T) {
	dir := t.TempDir()
	const shards = 4
	s, p := newShardedProject(t, dir, shards, 0)
	var ops []ProfileOp
	for i := range 40 {
		key := fmt.Sprintf("user-%d", i)
		ops = append(ops, ProfileOp{Key: key, Op: opSet, Props: []Prop{{"name", StringValue(key)}}, IgnoreTime: true},
			ProfileOp{Key: key, Op: opAdd, Props: []Prop{{"visits", IntValue(int64(i))}}, IgnoreTime: true},
			ProfileOp{Key: key, Op: opAdd, Props: []Prop{{"visits", IntValue(1)}}, IgnoreTime: true})
	}
	if err := p.UpdateProfiles(TablePeople, ops); err != nil {
		t.Fatal(err)
	}
	// A bad operation anywhere refuses the batch, named by its place.
	bad := []ProfileOp{{Key: "user-1", Op: opAdd, Props: []Prop{{"visits", IntValue(5)}}, IgnoreTime: true},
		{Key: "user-2", Op: opAdd, Props: []Prop{{"name", IntValue(1)}}, IgnoreTime: true}}
	var re *RowError
	if err := p.UpdateProfiles(TablePeople, bad); !errors.As(err, &re) || re.Row != 2 {
		t.Fatalf("bad batch: %v, want a RowError for row 2", err)
	}
	check := func(when string, s *Store) {
		t.Helper()
		p, _ := s.Project("shop")
		people, _, err := p.People()
		if err != nil {
			t.Fatal(err)
		}
		if len(people) != 40 {
			t.Fatalf("%s: %d people, want 40", when, len(people))
		}
		for _, person := range people {
			var i int
			fmt.Sscanf(person.DistinctID, "user-%d", &i)
			got := map[string]Value{}
			for _, pr := range person.Props {
				got[pr.Key] = pr.Value
			}
			if got["visits"] != IntValue(int64(i)+1) || got["name"] != StringValue(person.DistinctID) {
				t.Fatalf("%s: %s = %v", when, person.DistinctID, person.Props)
			}
		}
		for k := range shards {
			c, _ := s.anyProject(shardName("shop", k))
			ps, _, err := c.People()
			if err != nil {
				t.Fatal(err)
			}
			for _, person := range ps {
				if ShardOf(person.DistinctID, shards) != k {
					t.Fatalf("%s: profile %s in shard %d", when, person.DistinctID, k)
				}
			}
		}
	}
	check("live", s)
	crash(s)
	s = openShardedStore(t, dir, 0, 0)
	defer s.Close()
	check("after crash", s)
}

// TestShardedIdentityAcrossShardsSurvivesCrash: an $identify joining ids
// of two shards makes one person of both ids' events, live, after a crash
// (WAL replay feeds the project's union-find again) and after a restart
// (its users and identity state flushed).
func TestShardedIdentityAcrossShardsSurvivesCrash(t *testing.T) {
	dir := t.TempDir()
	const shards = 3
	anon, user := "anon-1", ""
	for i := 0; user == ""; i++ {
		if id := fmt.Sprintf("user-%d", i); ShardOf(id, shards) != ShardOf(anon, shards) {
			user = id
		}
	}
	s, p := newShardedProject(t, dir, shards, 0)
	evs := []Event{
		{TimeMillis: 1, Name: "view", DistinctID: anon, InsertID: "a"},
		{TimeMillis: 2, Name: "view", DistinctID: user, InsertID: "b"},
		{TimeMillis: 3, Name: "$identify", DistinctID: user, InsertID: "c",
			Props: []Prop{{"$anon_distinct_id", StringValue(anon)}, {"$identified_id", StringValue(user)}}},
	}
	if err := p.Ingest(evs); err != nil {
		t.Fatal(err)
	}
	check := func(when string, s *Store) {
		t.Helper()
		p, _ := s.Project("shop")
		snap := p.Snapshot()
		persons := map[uint32][]string{}
		for n, id := range snap.UserIDs.All() {
			c := snap.Canon.Of(n)
			persons[c] = append(persons[c], id)
		}
		var joined []string
		for _, ids := range persons {
			if slices.Contains(ids, anon) || slices.Contains(ids, user) {
				joined = append(joined, ids...)
			}
		}
		// Each id is known in its own shard and, through the link, in the
		// other: every one of them is the same person.
		if len(persons) != 1 || !slices.Contains(joined, anon) || !slices.Contains(joined, user) {
			t.Fatalf("%s: persons %v; want %s and %s as one", when, persons, anon, user)
		}
	}
	checkThroughCrash(t, s, dir, check)
}

// TestShardedConcurrentWritesAndReads: writers (events and links across
// shards), readers resolving every user through union snapshots, and
// flushes at once (run under -race); every event is stored once.
func TestShardedConcurrentWritesAndReads(t *testing.T) {
	const shards = 3
	s, p := newShardedProject(t, t.TempDir(), shards, 0)
	defer s.Close()
	var wg sync.WaitGroup
	stop := make(chan struct{})
	errs := make(chan error, 16)
	const writers, batches, perBatch = 4, 20, 50
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range batches {
				var evs []Event
				for i := range perBatch {
					n := (w*batches+b)*perBatch + i
					e := Event{TimeMillis: int64(n), Name: "view", DistinctID: fmt.Sprintf("u%d", n%97), InsertID: fmt.Sprintf("w%d-%d", w, n)}
					if i%10 == 0 {
						e.Name = "$identify"
						e.Props = []Prop{{"$anon_distinct_id", StringValue(fmt.Sprintf("u%d", (n+31)%97))}, {"$identified_id", StringValue(e.DistinctID)}}
					}
					evs = append(evs, e)
				}
				if err := p.Ingest(evs); err != nil {
					errs <- err
					return
				}
				if b%7 == 0 {
					if err := s.Flush(); err != nil {
						errs <- err
						return
					}
				}
			}
		}()
	}
	var readers sync.WaitGroup
	for range 2 {
		readers.Add(1)
		go func() {
			defer readers.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				snap := p.Snapshot()
				for n := range snap.UserIDs.All() {
					if c := snap.Canon.Of(n); int(c) >= snap.UserIDs.Len() {
						errs <- fmt.Errorf("user %d: canonical %d beyond %d", n, c, snap.UserIDs.Len())
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	readers.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if n, ids := countRows(t, s, "shop"); n != writers*batches*perBatch || len(ids) != n {
		t.Fatalf("%d rows, %d ids; want %d", n, len(ids), writers*batches*perBatch)
	}
}

// TestShardedProjectCompacts: the shards of a project are compacted (each
// day of each shard merged into one segment, nothing lost) and listed by
// SegmentInfos; a shard is not a project of its own to clients.
func TestShardedProjectCompacts(t *testing.T) {
	const shards = 3
	s, p := newShardedProject(t, t.TempDir(), shards, 0)
	defer s.Close()
	for i := range 4 {
		if err := p.Ingest(testEvents(300, int64(10+i))); err != nil {
			t.Fatal(err)
		}
		if err := s.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	before, _ := countRows(t, s, "shop")
	if err := s.Compact(); err != nil {
		t.Fatal(err)
	}
	if after, _ := countRows(t, s, "shop"); after != before {
		t.Fatalf("%d rows after compaction, %d before", after, before)
	}
	days := map[string]int{}
	for _, si := range s.SegmentInfos() {
		if !strings.HasPrefix(si.Project, "shop.") {
			t.Fatalf("segment of %s, want only the shards'", si.Project)
		}
		days[si.Project+" "+si.Day]++
	}
	if len(days) < shards {
		t.Fatalf("segments by shard and day: %v", days)
	}
	for k, n := range days {
		if n != 1 {
			t.Errorf("%s: %d segments after compaction, want 1", k, n)
		}
	}
	if _, ok := s.Project(shardName("shop", 0)); ok {
		t.Error("Project returns a shard")
	}
	if _, err := s.CompactDay("shop", "2025-01-01"); !errors.Is(err, ErrNothingToCompact) {
		t.Errorf("CompactDay of a compacted sharded day: %v", err)
	}
}

// TestShardedPeopleFoldAcrossShards: the people profiles of a person whose
// ids were linked across shards are one row, folded as one project folds
// the profiles of merged ids (the same rows as a project of one shard).
func TestShardedPeopleFoldAcrossShards(t *testing.T) {
	people := func(shards int) []string {
		s, p := newShardedProject(t, t.TempDir(), shards, 0)
		defer s.Close()
		var ops []ProfileOp
		var evs []Event
		for i := range 12 {
			anon, user := fmt.Sprintf("anon-%d", i), fmt.Sprintf("user-%d", i)
			ops = append(ops,
				ProfileOp{Key: anon, Op: opSet, Props: []Prop{{"first_seen", StringValue("web")}, {"plan", StringValue("free")}}, IgnoreTime: true},
				ProfileOp{Key: user, Op: opSet, Props: []Prop{{"plan", StringValue("pro")}, {"name", StringValue(user)}}, IgnoreTime: true})
			evs = append(evs, Event{TimeMillis: 1, Name: "view", DistinctID: anon, InsertID: "v" + anon},
				Event{TimeMillis: 2, Name: "$identify", DistinctID: user, InsertID: "i" + user,
					Props: []Prop{{"$anon_distinct_id", StringValue(anon)}, {"$identified_id", StringValue(user)}}})
		}
		ops = append(ops, ProfileOp{Key: "loner", Op: opSet, Props: []Prop{{"plan", StringValue("team")}}, IgnoreTime: true})
		if err := p.UpdateProfiles(TablePeople, ops); err != nil {
			t.Fatal(err)
		}
		if err := p.Ingest(evs); err != nil {
			t.Fatal(err)
		}
		rows, _, err := p.People()
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, r := range rows {
			props := slices.Clone(r.Props)
			slices.SortFunc(props, func(a, b Prop) int { return strings.Compare(a.Key, b.Key) })
			out = append(out, fmt.Sprint(r.DistinctID, props))
		}
		slices.Sort(out)
		return out
	}
	one, sharded := people(1), people(4)
	if len(one) != 13 {
		t.Fatalf("one shard: %d people, want 13: %v", len(one), one)
	}
	if !slices.Equal(one, sharded) {
		t.Fatalf("people differ:\n one shard %v\n 4 shards  %v", one, sharded)
	}
}

package storage

import (
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// memLog is a replicated log in memory: Append numbers the record and
// applies it to every replica in order, as Raft's state machines would,
// and answers with the first replica's (the writer's) refusal. It keeps
// the records so that a test can replay them.
type memLog struct {
	mu       sync.Mutex
	replicas []*Store
	records  [][]byte
}

func (l *memLog) Append(payload []byte, _ bool) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.records = append(l.records, append([]byte(nil), payload...))
	index := uint64(len(l.records))
	var first error
	for i, s := range l.replicas {
		refusal, err := s.ApplyLogged(index, payload)
		if err != nil {
			return err
		}
		if i == 0 {
			first = refusal
		} else if (refusal == nil) != (first == nil) || (refusal != nil && refusal.Error() != first.Error()) {
			return fmt.Errorf("replicas disagree on entry %d: %v vs %v", index, first, refusal)
		}
	}
	return first
}

func openLoggedStore(t *testing.T, dir string, log Log) *Store {
	return openLoggedStoreWith(t, dir, log, 8)
}

func openLoggedStoreWith(t *testing.T, dir string, log Log, maxColumns int) *Store {
	t.Helper()
	s, err := Open(Options{Dir: dir, FlushInterval: time.Hour, MaxColumns: maxColumns, Log: log, ProfileUpdater: testProfileUpdater})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	return s
}

// replicaState is what a replica shows: rows by insert id, the events
// schema, people with their properties, groups.
func replicaState(t *testing.T, s *Store, project string) (map[string]int, []Column, map[string]map[string]string, []string) {
	t.Helper()
	_, ids := countRows(t, s, project)
	p, _ := s.Project(project)
	people, _, err := p.People()
	if err != nil {
		t.Fatal(err)
	}
	persons := map[string]map[string]string{}
	for _, ps := range people {
		props := map[string]string{}
		for _, pr := range ps.Props {
			props[pr.Key] = pr.Value.Text()
		}
		persons[ps.DistinctID] = props
	}
	groups, _, err := p.Groups()
	if err != nil {
		t.Fatal(err)
	}
	var gs []string
	for _, g := range groups {
		gs = append(gs, fmt.Sprint(g))
	}
	sort.Strings(gs)
	return ids, p.Columns(TableEvents), persons, gs
}

// TestReplicatedLogReplicasAgree writes through a log applied to three
// stores: events with repeats across batches (dropped in apply, against
// applied state), people upserts, profile operations whose result
// depends on the order ($add, $union), groups, a refused batch. Every
// replica ends with the same rows, schema, profiles and groups, and the
// writer gets typed refusals — also a replica opened with another
// MaxColumns.
func TestReplicatedLogReplicasAgree(t *testing.T) {
	log := &memLog{}
	var stores []*Store
	for i := 0; i < 3; i++ {
		// The last replica was started with a wider --max-columns: the
		// writer's limit, carried in each entry, decides everywhere.
		s := openLoggedStoreWith(t, t.TempDir(), log, []int{8, 8, 100}[i])
		defer s.Close()
		stores = append(stores, s)
	}
	log.replicas = stores
	w := stores[1] // any replica takes writes
	if _, err := w.CreateProject("shop", "tok", "sec"); err != nil {
		t.Fatal(err)
	}
	p, _ := w.Project("shop")
	if err := p.Ingest(testEvents(300, 1)); err != nil {
		t.Fatal(err)
	}
	// The same events again, and half of them once more with new ones:
	// apply drops what is stored.
	if err := p.Ingest(testEvents(300, 1)); err != nil {
		t.Fatal(err)
	}
	if err := p.Ingest(append(testEvents(300, 1)[150:], testEvents(100, 2)...)); err != nil {
		t.Fatal(err)
	}
	if err := p.SetPeople([]Event{{DistinctID: "u1", Props: []Prop{{"name", StringValue("Ann")}}}}); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2025, 2, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < 5; i++ {
		ops := []ProfileOp{
			{Key: "u1", Op: opAdd, Props: []Prop{{"visits", IntValue(int64(i + 1))}}, Time: at},
			{Key: "u2", Op: opUnion, Props: []Prop{{"tags", JSONValue(fmt.Sprintf(`["t%d"]`, i%3))}}, IgnoreTime: true},
		}
		if err := p.UpdateProfiles(TablePeople, ops); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.UpdateProfiles(TableGroups, []ProfileOp{{Key: GroupRowKey("company", "acme"), Op: opSet, Props: []Prop{{"size", IntValue(10)}}, Time: at}}); err != nil {
		t.Fatal(err)
	}
	// $add on a string property: refused by every replica alike.
	err := p.UpdateProfiles(TablePeople, []ProfileOp{{Key: "u1", Op: opAdd, Props: []Prop{{"name", IntValue(1)}}, Time: at}})
	var re *RowError
	if !errors.As(err, &re) {
		t.Fatalf("$add to a string: got %v, want a *RowError", err)
	}
	// A batch with more columns than MaxColumns (8): refused whole.
	wide := testEvents(3, 9)
	for j := 0; j < 10; j++ {
		wide[0].Props = append(wide[0].Props, Prop{fmt.Sprintf("c%d", j), IntValue(1)})
	}
	var ce *ColumnLimitError
	if err := p.Ingest(wide); !errors.As(err, &ce) {
		t.Fatalf("too many columns: got %v, want a *ColumnLimitError", err)
	}

	ids0, cols0, people0, groups0 := replicaState(t, stores[0], "shop")
	if len(ids0) != 400 {
		t.Fatalf("%d distinct events, want 400 (300 + 100 new)", len(ids0))
	}
	for id, n := range ids0 {
		if n != 1 {
			t.Fatalf("insert id %s stored %d times", id, n)
		}
	}
	for i, s := range stores[1:] {
		ids, cols, people, groups := replicaState(t, s, "shop")
		if !reflect.DeepEqual(ids, ids0) || !reflect.DeepEqual(cols, cols0) || !reflect.DeepEqual(people, people0) || !reflect.DeepEqual(groups, groups0) {
			t.Fatalf("replica %d differs from replica 0:\nrows %d vs %d\ncolumns %v\nvs      %v\npeople %v\nvs     %v\ngroups %v\nvs     %v",
				i+1, len(ids), len(ids0), cols, cols0, people, people0, groups, groups0)
		}
	}
	if u1 := people0["u1"]; u1["visits"] != "15" || u1["name"] != "Ann" {
		t.Fatalf("u1 after five $add of 1..5 on name Ann: %v, want visits 15", u1)
	}
	if tags := people0["u2"]["tags"]; !strings.Contains(tags, "t0") || !strings.Contains(tags, "t1") || !strings.Contains(tags, "t2") || strings.Count(tags, "t0") != 1 {
		t.Fatalf("u2's tags after $union of t0,t1,t2,t0,t1: %q", tags)
	}
}

// TestReplicatedLogReplayAfterFlush: a flush records the applied index in
// the manifest; after a restart the log replays from its start (as Raft
// does without a usable snapshot) and the store applies only the
// entries above that index — no event twice, no $add twice — and the
// writes after the flush come back from the log alone.
func TestReplicatedLogReplayAfterFlush(t *testing.T) {
	dir := t.TempDir()
	log := &memLog{}
	s := openLoggedStore(t, dir, log)
	log.replicas = []*Store{s}
	if _, err := s.CreateProject("shop", "tok", "sec"); err != nil {
		t.Fatal(err)
	}
	p, _ := s.Project("shop")
	at := time.Date(2025, 2, 1, 0, 0, 0, 0, time.UTC)
	add := func() {
		t.Helper()
		if err := p.UpdateProfiles(TablePeople, []ProfileOp{{Key: "u1", Op: opAdd, Props: []Prop{{"visits", IntValue(1)}}, Time: at}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Ingest(testEvents(200, 1)); err != nil {
		t.Fatal(err)
	}
	add()
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	flushed := s.AppliedIndex()
	if flushed != uint64(len(log.records)) {
		t.Fatalf("applied index %d after %d entries", flushed, len(log.records))
	}
	if err := p.Ingest(testEvents(100, 2)); err != nil {
		t.Fatal(err)
	}
	add()
	wantIDs, _, wantPeople, _ := replicaState(t, s, "shop")
	crash(s) // nothing after the flush is in the store's files

	s = openLoggedStore(t, dir, log)
	defer s.Close()
	if got := s.AppliedIndex(); got != flushed {
		t.Fatalf("applied index after reopen: %d, want the flushed %d", got, flushed)
	}
	for i, rec := range log.records {
		if refusal, err := s.ApplyLogged(uint64(i+1), rec); err != nil || refusal != nil {
			t.Fatalf("replay entry %d: %v %v", i+1, refusal, err)
		}
	}
	ids, _, people, _ := replicaState(t, s, "shop")
	if !reflect.DeepEqual(ids, wantIDs) || !reflect.DeepEqual(people, wantPeople) {
		t.Fatalf("after replay: %d rows, people %v; want %d rows, people %v", len(ids), people, len(wantIDs), wantPeople)
	}
	if v := people["u1"]["visits"]; v != "2" {
		t.Fatalf("u1's visits after two $add of 1, replayed: %s", v)
	}
	// A flush with nothing new but a project still records its index.
	log.replicas = []*Store{s}
	if _, err := s.CreateProject("other", "t2", "s2"); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	m, _, err := readManifest(s.fs, s.path(manifestName))
	if err != nil {
		t.Fatal(err)
	}
	if m.AppliedIndex != uint64(len(log.records)) {
		t.Fatalf("manifest applied index %d, want %d", m.AppliedIndex, len(log.records))
	}
}

// FuzzApplyLogged: a log entry of any bytes is applied, refused, or
// makes the store fail with an error — never a panic — and a refused or
// failed entry stores nothing.
func FuzzApplyLogged(f *testing.F) {
	rows := AppendEventBatch([]byte{byte(kindEvents)}, &EventBatch{Project: "shop", Events: testEvents(3, 1)})
	f.Add(appendLogHeader(rows, 8))
	f.Add(appendLogHeader(appendProfileOpsRecord("shop", TablePeople, []ProfileOp{{Key: "u1", Op: opAdd, Props: []Prop{{"n", IntValue(1)}}}}), 8))
	f.Add(appendLogHeader([]byte{byte(kindGrants), 1, 2, 3}, 8))
	f.Add(appendLogHeader([]byte{byte(kindCatalog), '{', '}'}, 8))
	f.Add([]byte{logEntryMagic, 0, 0, 0})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, entry []byte) {
		s, err := Open(Options{Dir: t.TempDir(), FlushInterval: time.Hour, MaxColumns: 8, Log: &memLog{}, ProfileUpdater: testProfileUpdater})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if _, err := s.applyRecord(append([]byte{byte(kindCatalog)}, `{"op":"project","name":"shop","token":"t","secret":"s"}`...), 8); err != nil {
			t.Fatal(err)
		}
		refusal, err := s.ApplyLogged(1, entry)
		n, _ := countRows(t, s, "shop")
		if (refusal != nil || err != nil) && n != 0 {
			t.Fatalf("entry refused (%v) or failed (%v) but %d rows stored", refusal, err, n)
		}
	})
}

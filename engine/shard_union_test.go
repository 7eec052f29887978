package engine

import (
	"context"
	"fmt"
	"math/rand"
	"slices"
	"strings"
	"testing"
	"time"

	"arb/storage"
)

// TestShardUnionMatchesOneProject: the same events in a project of one
// shard and in a project of three (storage.Options.Shards: each batch
// split by ShardOf, read through storage.UnionSnapshot) give the same rows
// and the same aggregates — uniques, users merged by $identify within a
// shard, per-user funnels, a column whose type widened in one shard only,
// rows flushed to segments and rows still buffered, and again after a
// restart. Persons are also joined the way the SDKs do since Mixpanel's
// simplified ID merge: anonymous events under a device id ("$device:X" or
// "X"), then an event of the user carrying $user_id and $device_id.
func TestShardUnionMatchesOneProject(t *testing.T) {
	for _, shards := range []int{3, 8} {
		t.Run(fmt.Sprintf("%d shards", shards), func(t *testing.T) { testShardUnion(t, shards) })
	}
}

func testShardUnion(t *testing.T, shards int) {
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewSource(seed))
	oneDir, shardedDir := t.TempDir(), t.TempDir()
	open := func(dir string, n int) *storage.Store {
		t.Helper()
		st, err := storage.Open(storage.Options{Dir: dir, Shards: n})
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	oneStore, shardedStore := open(oneDir, 1), open(shardedDir, shards)
	one, sharded := project(t, oneStore, "one"), project(t, shardedStore, "s")
	if sharded.Info().Shards != shards {
		t.Fatalf("project of %d shards", sharded.Info().Shards)
	}
	ingest := func(events []storage.Event) {
		t.Helper()
		if err := one.Ingest(slices.Clone(events)); err != nil {
			t.Fatal(err)
		}
		if err := sharded.Ingest(events); err != nil {
			t.Fatal(err)
		}
	}
	names := []string{"Signup", "Page View", "Purchase", "Search"}
	base := int64(1_735_689_600_000)
	gen := func(i int) storage.Event {
		e := storage.Event{TimeMillis: base + int64(r.Intn(10*86_400_000)), Name: names[r.Intn(len(names))],
			DistinctID: fmt.Sprintf("u%d", r.Intn(200)), InsertID: fmt.Sprintf("i%d", i)}
		if r.Intn(2) == 0 {
			e.Props = append(e.Props, storage.Prop{Key: "plan", Value: storage.StringValue([]string{"free", "pro", "team"}[r.Intn(3)])})
		}
		if r.Intn(3) == 0 {
			e.Props = append(e.Props, storage.Prop{Key: "amount", Value: storage.FloatValue(float64(r.Intn(100)) / 4)})
		}
		if r.Intn(4) == 0 {
			e.Props = append(e.Props, storage.Prop{Key: "n", Value: storage.IntValue(int64(r.Intn(9)))})
		}
		return e
	}
	var batch []storage.Event
	for i := range 3000 {
		batch = append(batch, gen(i))
		if len(batch) == 500 {
			ingest(batch)
			batch = nil
		}
		if i == 1500 {
			// Half in segments, half buffered.
			for _, st := range []*storage.Store{oneStore, shardedStore} {
				if err := st.Flush(); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	// One shard's n widens to string; so does the whole project's.
	odd := gen(3000)
	odd.Props = []storage.Prop{{Key: "n", Value: storage.StringValue("many")}}
	batch = append(batch, odd)
	// $identify links, within a shard and across shards: the anonymous
	// id's events count as the identified user's everywhere.
	linked, across := 0, 0
	for a := 0; a < 200 && (across < 20 || linked-across < 5); a++ {
		anon, user := fmt.Sprintf("u%d", a), fmt.Sprintf("u%d", (a*7+3)%200)
		same := storage.ShardOf(anon, shards) == storage.ShardOf(user, shards)
		if anon == user || (!same && across == 20) || (same && linked-across == 5) {
			continue
		}
		if !same {
			across++
		}
		batch = append(batch, storage.Event{TimeMillis: base + 5*86_400_000, Name: "$identify", DistinctID: user, InsertID: fmt.Sprintf("id%d", a),
			Props: []storage.Prop{{Key: "$anon_distinct_id", Value: storage.StringValue(anon)}, {Key: "$identified_id", Value: storage.StringValue(user)}}})
		linked++
	}
	// Devices: anonymous events, then the user's event naming the device;
	// half spelt "$device:X", half "X", as SDKs send them.
	devices := 0
	for d := 0; d < 40; d++ {
		dev := fmt.Sprintf("dev%d", d)
		anonID := dev
		if d%2 == 0 {
			anonID = "$device:" + dev
		}
		user := fmt.Sprintf("u%d", 100+d)
		batch = append(batch,
			storage.Event{TimeMillis: base + int64(d)*60_000, Name: "Page View", DistinctID: anonID, InsertID: fmt.Sprintf("dv%d", d)},
			storage.Event{TimeMillis: base + int64(d)*60_000 + 1, Name: "Signup", DistinctID: user, InsertID: fmt.Sprintf("du%d", d),
				Props: []storage.Prop{{Key: "$user_id", Value: storage.StringValue(user)}, {Key: "$device_id", Value: storage.StringValue(dev)}}})
		if storage.ShardOf(dev, shards) != storage.ShardOf(user, shards) {
			devices++
		}
	}
	ingest(batch)
	if devices < 5 {
		t.Fatalf("only %d device links across shards", devices)
	}
	if across < 5 || linked-across < 3 {
		t.Fatalf("%d identities, %d across shards: want at least 5 across and 3 within", linked, across)
	}

	compare(t, sharded.Snapshot(), one.Snapshot())
	for _, st := range []*storage.Store{oneStore, shardedStore} {
		if err := st.Close(); err != nil {
			t.Fatal(err)
		}
	}
	oneStore, shardedStore = open(oneDir, 0), open(shardedDir, 0)
	defer oneStore.Close()
	defer shardedStore.Close()
	one, _ = oneStore.Project("one")
	sharded, _ = shardedStore.Project("s")
	compare(t, sharded.Snapshot(), one.Snapshot())
}

// compare checks that union, a sharded project's snapshot, reads as
// whole, one project's holding the same events.
func compare(t *testing.T, union, whole *storage.Snapshot) {
	t.Helper()
	if !union.Canon.Merged() {
		t.Fatal("union snapshot: no merged users")
	}
	if got, want := typeOf(union.Columns, "n"), typeOf(whole.Columns, "n"); got != want || got != storage.TypeString {
		t.Fatalf("column n: union %v, one project %v; want string", got, want)
	}
	// Which id names a person linked across shards is the union's choice
	// (storage/shards.go), so rows are compared by the id each event was
	// sent with, and persons as the sets of those ids they join.
	cols := []string{"time", "event", storage.ColRawDistinctID, "plan", "amount", "n"}
	if got, want := renderGroups(scanRows(t, union, nil, cols...)), renderGroups(scanRows(t, whole, nil, cols...)); !slices.Equal(got, want) {
		t.Fatalf("rows differ: union %d, one project %d; first differences: %v", len(got), len(want), firstDiffs(got, want))
	}
	persons := func(rows []string) []string {
		ids := map[string][]string{}
		for _, r := range rows {
			name, raw, _ := strings.Cut(r, "|")
			if !slices.Contains(ids[name], raw) {
				ids[name] = append(ids[name], raw)
			}
		}
		var out []string
		for _, raws := range ids {
			slices.Sort(raws)
			out = append(out, strings.Join(raws, ","))
		}
		slices.Sort(out)
		return out
	}
	// The native plan's path: batches, distinct_id resolved per user
	// number through the union's Canon and UserIDs.
	idCols := []string{"distinct_id", storage.ColRawDistinctID}
	got, want := persons(batchTexts(t, union, idCols)), persons(batchTexts(t, whole, idCols))
	if !slices.Equal(got, want) {
		t.Fatalf("persons differ: union %d, one project %d; first differences: %v", len(got), len(want), firstDiffs(got, want))
	}
	got, want = persons(renderGroups(scanRows(t, union, nil, idCols...))), persons(renderGroups(scanRows(t, whole, nil, idCols...)))
	if !slices.Equal(got, want) {
		t.Fatalf("persons by rows differ: union %d, one project %d; first differences: %v", len(got), len(want), firstDiffs(got, want))
	}
	ev := func(s string) Predicate { return Compare{Column: "event", Op: OpEQ, Value: storage.StringValue(s)} }
	day := func(ms int64) (uint64, error) { return uint64(ms / 86_400_000), nil }
	aggs := []Aggregation{
		{Aggs: []Agg{{Kind: AggCount}, {Kind: AggCountDistinct, Column: "distinct_id"}}},
		{Filter: ev("Purchase"), Aggs: []Agg{{Kind: AggCountDistinct, Column: "distinct_id"}, {Kind: AggSum, Column: "amount"}}},
		{Keys: []GroupKey{{Column: "event"}}, Aggs: []Agg{{Kind: AggCount}, {Kind: AggCountDistinct, Column: "distinct_id"}, {Kind: AggAny, Column: "event"}}},
		{Keys: []GroupKey{{Column: "distinct_id"}}, Aggs: []Agg{{Kind: AggCount}, {Kind: AggMin, Column: "time"}}},
		{Keys: []GroupKey{{Column: "plan"}}, Aggs: []Agg{{Kind: AggSum, Column: "amount"}, {Kind: AggCountDistinct, Column: "distinct_id"}, {Kind: AggAny, Column: "plan"}}},
		{Keys: []GroupKey{{Column: "time", BucketMillis: 86_400_000, Bucket: day}}, Aggs: []Agg{{Kind: AggCountDistinct, Column: "distinct_id"}, {Kind: AggMin, Column: "time"}}},
		{Keys: []GroupKey{{Column: "n"}}, Aggs: []Agg{{Kind: AggCount}, {Kind: AggAny, Column: "n"}}},
		{Keys: []GroupKey{{Column: "distinct_id"}}, Aggs: []Agg{{Kind: AggWindowFunnel, Column: "time", WindowMillis: 2 * 86_400_000,
			Conds: []Predicate{ev("Signup"), ev("Page View"), ev("Purchase")}}, {Kind: AggCount}}},
	}
	for _, a := range aggs {
		got, want := aggregateText(t, union, a), aggregateText(t, whole, a)
		if !slices.Equal(got, want) {
			t.Errorf("%s:\n union       %v\n one project %v", a.String(), head(got), head(want))
		}
	}
}

// batchTexts is every row of snap read by PartBatches, sorted.
func batchTexts(t *testing.T, snap *storage.Snapshot, cols []string) []string {
	t.Helper()
	s := &Scan{Snap: snap, Columns: cols}
	var out []string
	for part := range s.Parts() {
		err := s.PartBatches(context.Background(), part, func(b *ColumnBatch) error {
			for k := range b.N {
				out = append(out, batchRowText(b, k))
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	slices.Sort(out)
	return out
}

func project(t *testing.T, st *storage.Store, name string) *storage.Project {
	t.Helper()
	if _, err := st.CreateProject(name, "", ""); err != nil {
		t.Fatal(err)
	}
	p, _ := st.Project(name)
	return p
}

func typeOf(cols []storage.Column, name string) storage.ColumnType {
	for _, c := range cols {
		if c.Name == name {
			return c.Type
		}
	}
	return storage.TypeNull
}

func aggregateText(t *testing.T, snap *storage.Snapshot, a Aggregation) []string {
	t.Helper()
	a.Snap = snap
	rows, err := a.Run(context.Background())
	if err != nil {
		t.Fatalf("%s: %v", a.String(), err)
	}
	return renderGroups(rows)
}

func head(s []string) []string { return s[:min(len(s), 12)] }

// firstDiffs shows a few rows in one sorted list and not the other.
func firstDiffs(a, b []string) []string {
	inB := map[string]int{}
	for _, x := range b {
		inB[x]++
	}
	var out []string
	for _, x := range a {
		if inB[x] > 0 {
			inB[x]--
			continue
		}
		if out = append(out, "+"+x); len(out) == 4 {
			break
		}
	}
	for x, n := range inB {
		if n > 0 && len(out) < 8 {
			out = append(out, "-"+x)
		}
	}
	return out
}

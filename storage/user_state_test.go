package storage

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"
)

// TestUserStatePaged drives identity merges and profile updates across
// many flushes and reopens against a plain model: after each flush the
// overlay is empty (nothing of it stays resident), the project keeps
// O(log) runs, and queries, a reopen and verify agree with the model.
func TestUserStatePaged(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, dir, nil)
	if _, err := s.CreateProject("p", "", ""); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(7, 11))
	// The model: clusters of ids with user-id marks; a cluster's
	// canonical is its best member (marked first, then the lowest user
	// number, read from the store's dictionary); profile adds land on the
	// canonical id of their time.
	parent := map[string]string{}
	var find func(string) string
	find = func(x string) string {
		if p, ok := parent[x]; ok && p != x {
			r := find(p)
			parent[x] = r
			return r
		}
		return x
	}
	marked := map[string]bool{}
	members := map[string][]string{} // root → ids
	number := func(x string) uint32 {
		p, _ := s.Project("p")
		p.mu.RLock()
		defer p.mu.RUnlock()
		n, ok, err := p.users.lookup(x)
		if err != nil || !ok {
			t.Fatalf("model: %s has no user number (%v)", x, err)
		}
		return n
	}
	canonOf := func(x string) string {
		r := find(x)
		best := ""
		for _, m := range append([]string{r}, members[r]...) {
			if best == "" || (marked[m] && !marked[best]) || (marked[m] == marked[best] && number(m) < number(best)) {
				best = m
			}
		}
		return best
	}
	union := func(a, b string) {
		ra, rb := find(a), find(b)
		if ra == rb {
			return
		}
		parent[rb] = ra
		members[ra] = append(append(members[ra], rb), members[rb]...)
		delete(members, rb)
	}
	stored := map[string]int64{} // profile n by the id it is stored under
	const users = 9000           // three identity chunks
	id := func(i int) string { return fmt.Sprintf("u%05d", i) }
	base := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	seq := 0
	known := map[string]bool{}
	for round := 0; round < 12; round++ {
		p, _ := s.Project("p")
		var evs []Event
		for i := 0; i < 800; i++ {
			a := id(rng.IntN(users))
			seq++
			e := Event{TimeMillis: base + int64(seq), Name: "View", DistinctID: a, InsertID: fmt.Sprint("i", seq)}
			if rng.IntN(4) == 0 { // anonymous a becomes identified b
				b := id(rng.IntN(users))
				e.Name = "$identify"
				e.DistinctID = b
				e.Props = []Prop{{"$anon_id", StringValue(a)}, {"$identified_id", StringValue(b)}}
			}
			evs = append(evs, e)
		}
		if err := p.Ingest(evs); err != nil {
			t.Fatal(err)
		}
		for _, e := range evs {
			known[e.DistinctID] = true
			if e.Name == "$identify" {
				a := e.Props[0].Value.Str
				known[a] = true
				marked[e.DistinctID] = true
				union(e.DistinctID, a)
			}
		}
		var ops []ProfileOp
		for i := 0; i < 300; i++ {
			who := id(rng.IntN(users))
			ops = append(ops, ProfileOp{Key: who, Op: opAdd, Props: []Prop{{"n", IntValue(1)}}, IgnoreTime: true})
			if known[who] {
				stored[canonOf(who)]++
			} else {
				stored[who]++
			}
		}
		if err := p.UpdateProfiles(TablePeople, ops); err != nil {
			t.Fatal(err)
		}
		for _, op := range ops {
			known[op.Key] = true
		}
		if err := s.Flush(); err != nil {
			t.Fatal(err)
		}
		p.mu.RLock()
		dirty, runs := p.ustate.dirty(), len(p.ustate.runs)
		p.mu.RUnlock()
		if dirty {
			t.Fatalf("round %d: the user state overlay holds changes after a flush", round)
		}
		if runs > 8 {
			t.Fatalf("round %d: %d user state runs, want O(log n)", round, runs)
		}
		if round%4 == 3 {
			s.Close()
			s = openTestStore(t, dir, nil)
		}
	}
	p, _ := s.Project("p")
	snap := p.Snapshot()
	ids := snap.UserIDs
	// Identity: every id's canonical is the model's.
	for x := range known {
		if got, want := ids.ID(snap.Canon.Of(number(x))), canonOf(x); got != want {
			t.Fatalf("%s: canonical %s, the model says %s", x, got, want)
		}
	}
	// People: one row per canonical id holding profiles; its n is the
	// canonical's own, else the first other's in id order.
	wantPeople := map[string]int64{}
	byCanon := map[string][]string{}
	for k := range stored {
		c := k
		if known[k] {
			c = canonOf(k)
		}
		byCanon[c] = append(byCanon[c], k)
	}
	for c, ks := range byCanon {
		if n, ok := stored[c]; ok {
			wantPeople[c] = n
			continue
		}
		first := ks[0]
		for _, k := range ks {
			first = min(first, k)
		}
		wantPeople[c] = stored[first]
	}
	people, _, err := p.People()
	if err != nil {
		t.Fatal(err)
	}
	if len(people) != len(wantPeople) {
		t.Fatalf("%d people, the model has %d", len(people), len(wantPeople))
	}
	for _, pr := range people {
		var n int64
		for _, prop := range pr.Props {
			if prop.Key == "n" {
				n = prop.Value.Int
			}
		}
		if want, ok := wantPeople[pr.DistinctID]; !ok || n != want {
			t.Fatalf("person %s: n = %d, the model says %d (%v)", pr.DistinctID, n, want, ok)
		}
	}
	// Canonical of every user agrees between the view and a fresh open.
	want := make([]uint32, ids.Len())
	for u := range want {
		want[u] = snap.Canon.Of(uint32(u))
	}
	s.Close()
	s = openTestStore(t, dir, nil)
	defer s.Close()
	p, _ = s.Project("p")
	snap2 := p.Snapshot()
	for u := range want {
		if c := snap2.Canon.Of(uint32(u)); c != want[u] {
			t.Fatalf("user %d: canonical %d before the reopen, %d after", u, want[u], c)
		}
	}
	s.Close()
	sum, err := VerifyDataDir(OSFS{}, dir)
	if err != nil || len(sum.Problems) > 0 {
		t.Fatalf("verify: %v %v", err, sum.Problems)
	}
	names, _ := filepath.Glob(filepath.Join(dir, usersDirName, "*.ust"))
	if len(names) == 0 {
		t.Fatal("no user state runs written")
	}
}

// userStateAnswers is what a project's user state answers: its people
// and the canonical user of every user.
func userStateAnswers(t *testing.T, p *Project) string {
	t.Helper()
	people, _, err := p.People()
	if err != nil {
		t.Fatal(err)
	}
	groups, _, err := p.Groups()
	if err != nil {
		t.Fatal(err)
	}
	snap := p.Snapshot()
	var canon []uint32
	for u := 0; u < snap.UserIDs.Len(); u++ {
		canon = append(canon, snap.Canon.Of(uint32(u)))
	}
	// Every id is found again through the user index.
	p.mu.RLock()
	defer p.mu.RUnlock()
	for n, id := range snap.UserIDs.All() {
		if got, ok, err := p.users.lookup(id); got != n || !ok || err != nil {
			t.Fatalf("lookup(%q) = %d %v %v, want %d", id, got, ok, err, n)
		}
	}
	return fmt.Sprint(people, groups, canon)
}

// TestUserStateMerge runs the compactor's merges of user state runs and
// user index runs with a fault injected at every filesystem call they
// make: the answers never
// change, a failed merge leaves its inputs (or, past the manifest, a
// restart finds the old runs or the merged one), and once merges have
// run the runs are size-tiered (each more than twice the newer ones
// together) and verify finds nothing.
func TestUserStateMerge(t *testing.T) {
	dir := t.TempDir()
	efs := newErrorFS(OSFS{}, opAny, 0, false)
	open := func() *Store {
		s, err := Open(Options{FS: efs, Dir: dir, FlushInterval: time.Hour, DisableCompaction: true, ProfileUpdater: testProfileUpdater})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	s := open()
	if _, err := s.CreateProject("p", "", ""); err != nil {
		t.Fatal(err)
	}
	p, _ := s.Project("p")
	for round := 0; round < 6; round++ {
		var evs []Event
		var ops []ProfileOp
		for i := 0; i < 50*(round+1); i++ {
			a, b := fmt.Sprintf("anon-%d-%d", round, i), fmt.Sprintf("user-%d", i%97)
			evs = append(evs, Event{TimeMillis: int64(1e12 + round*1000 + i), Name: "$identify", DistinctID: b, InsertID: fmt.Sprint(round, "-", i),
				Props: []Prop{{"$anon_id", StringValue(a)}, {"$identified_id", StringValue(b)}}})
			ops = append(ops, ProfileOp{Key: b, Op: opSet, Props: []Prop{{"r", IntValue(int64(round))}}, IgnoreTime: true})
		}
		if err := p.Ingest(evs); err != nil {
			t.Fatal(err)
		}
		if err := p.UpdateProfiles(TablePeople, ops); err != nil {
			t.Fatal(err)
		}
		if err := p.UpdateProfiles(TableGroups, []ProfileOp{{Key: GroupRowKey("team", fmt.Sprint(round%4)), Op: opAdd,
			Props: []Prop{{"n", IntValue(1)}}, IgnoreTime: true}}); err != nil {
			t.Fatal(err)
		}
		if err := s.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	want := userStateAnswers(t, p)
	runsOf := func() []*userStateRun {
		p.mu.RLock()
		defer p.mu.RUnlock()
		return p.ustate.runs
	}
	indexRunsOf := func() []*userIndexRun {
		p.mu.RLock()
		defer p.mu.RUnlock()
		return p.users.runs
	}
	if n, m := len(runsOf()), len(indexRunsOf()); n != 6 || m != 6 {
		t.Fatalf("%d user state and %d user index runs after 6 flushes with the compactor off, want 6 and 6", n, m)
	}
	merge := func() error {
		s.compactMu.Lock()
		defer s.compactMu.Unlock()
		if err := s.mergeUserStateDue(p); err != nil {
			return err
		}
		return s.mergeUserIndexDue(p)
	}
	failed := 0
	for k := 1; ; k++ {
		before, beforeIndex := runsOf(), indexRunsOf()
		_, due := pickUserStateMerge(before)
		_, dueIndex := pickUserIndexMerge(beforeIndex)
		if !due && !dueIndex {
			break
		}
		efs.armFault(k, syscall.EIO)
		err := merge()
		efs.clearFault()
		if err == nil {
			k = 0 // merged: fault the next merge from its first call
		} else {
			failed++
		}
		if s.failure() != nil {
			// Past the manifest's temp file: a restart decides.
			crash(s)
			s = open()
			p, _ = s.Project("p")
		} else if err != nil && !slices.Equal(runsOf(), before) && !slices.Equal(indexRunsOf(), beforeIndex) {
			t.Fatalf("fault at call %d: the merges failed (%v) but both kinds of runs changed", k, err)
		}
		if got := userStateAnswers(t, p); got != want {
			t.Fatalf("fault at call %d (%v): answers changed", k, err)
		}
		if k > 100 {
			t.Fatal("merges never finish")
		}
	}
	if failed == 0 {
		t.Fatal("no fault made a merge fail")
	}
	if n := len(indexRunsOf()); n > 2 {
		t.Fatalf("%d user index runs after the merges", n)
	}
	runs := runsOf()
	var newer int64
	for i := len(runs) - 1; i >= 0; i-- {
		if i < len(runs)-1 && runs[i].bytes <= 2*newer {
			t.Fatalf("run %d of %d bytes is not more than twice the %d bytes of newer runs", i, runs[i].bytes, newer)
		}
		newer += runs[i].bytes
	}
	s.Close()
	s = open()
	p, _ = s.Project("p")
	if got := userStateAnswers(t, p); got != want {
		t.Fatal("answers changed across a reopen")
	}
	s.Close()
	if sum, err := VerifyDataDir(OSFS{}, dir); err != nil || len(sum.Problems) > 0 {
		t.Fatalf("verify: %v %v", err, sum.Problems)
	}
	t.Logf("%d merges failed by faults; %d runs left", failed, len(runs))
}

package storage

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestReplicatedLogFlushCoversProfileOps: a flush's manifest records the
// applied index of exactly what it writes — the user state overlay
// included, frozen under ingestMu with the memtables — so the replay
// after a restart applies no $add twice. (Frozen after ingestMu was
// released, a $add applied in between was in the flushed run with its
// index above applied_index: 23,293 adds counted twice.) Project "a" has
// a large overlay so that its freeze takes a while; "b" gets a stream of
// $add 1 meanwhile.
func TestReplicatedLogFlushCoversProfileOps(t *testing.T) {
	at := time.Date(2025, 2, 1, 0, 0, 0, 0, time.UTC)
	for attempt := 1; attempt <= 5; attempt++ {
		dir := t.TempDir()
		log := &memLog{}
		s := openLoggedStore(t, dir, log)
		log.replicas = []*Store{s}
		for _, name := range []string{"a", "b"} {
			if _, err := s.CreateProject(name, "tok-"+name, "sec-"+name); err != nil {
				t.Fatal(err)
			}
		}
		a, _ := s.Project("a")
		b, _ := s.Project("b")
		for batch := 0; batch < 40; batch++ {
			ops := make([]ProfileOp, 1000)
			for i := range ops {
				ops[i] = ProfileOp{Key: fmt.Sprintf("p%d-%d", batch, i), Op: opSet, Props: []Prop{{"v", IntValue(int64(i))}}, Time: at}
			}
			if err := a.UpdateProfiles(TablePeople, ops); err != nil {
				t.Fatal(err)
			}
		}
		var adds atomic.Int64
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if err := b.UpdateProfiles(TablePeople, []ProfileOp{{Key: "u1", Op: opAdd, Props: []Prop{{"visits", IntValue(1)}}, Time: at}}); err != nil {
					t.Error(err)
					return
				}
				adds.Add(1)
			}
		}()
		for adds.Load() < 20 {
			time.Sleep(time.Millisecond)
		}
		if err := s.Flush(); err != nil {
			t.Fatal(err)
		}
		close(stop)
		wg.Wait()
		_, _, people, _ := replicaState(t, s, "b")
		live := people["u1"]["visits"]
		if want := fmt.Sprint(adds.Load()); live != want {
			t.Fatalf("live visits %s after %s $add", live, want)
		}
		crash(s)

		s = openLoggedStore(t, dir, log)
		flushed := s.AppliedIndex()
		for i, rec := range log.records {
			if _, err := s.ApplyLogged(uint64(i+1), rec); err != nil {
				t.Fatal(err)
			}
		}
		_, _, people, _ = replicaState(t, s, "b")
		s.Close()
		if got := people["u1"]["visits"]; got != live {
			t.Fatalf("attempt %d: u1's visits after a restart and replay from applied_index %d: %s, want %s (the %d entries applied since: %d $add counted twice)",
				attempt, flushed, got, live, len(log.records)-int(flushed), mustAtoi(got)-mustAtoi(live))
		}
		t.Logf("attempt %d: no $add landed between the freeze and planFlush", attempt)
	}
}

func mustAtoi(s string) int {
	var n int
	fmt.Sscan(s, &n)
	return n
}

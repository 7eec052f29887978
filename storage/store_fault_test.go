package storage

import (
	"errors"
	"fmt"
	"strings"
	"syscall"
	"testing"
)

// The store side of faults that clear themselves: a full disk or a
// process out of descriptors refuses writes with the fault's error (and
// Ready says so) or fails a flush that keeps its rows and is tried again;
// once the fault clears, writes and flushes resume without a restart, and
// a reopen holds exactly the acknowledged rows.

const faultProject = "p"

// faultStore opens a store with project faultProject over an errorFS
// counting calls of kind over mem, no fault armed.
func faultStore(t *testing.T, kind fsOp) (*crashFS, *errorFS, *Store, *Project) {
	t.Helper()
	mem := newCrashFS()
	efs := newErrorFS(mem, kind, 0, false)
	s, err := openCrashStore(efs)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { crash(s) })
	if _, err := s.CreateProject(faultProject, "", ""); err != nil {
		t.Fatal(err)
	}
	p, _ := s.Project(faultProject)
	return mem, efs, s, p
}

// wantRows checks that s holds the rows of exactly the batches with these
// seeds (testEvents(20, seed)), each once.
func wantRows(t *testing.T, s *Store, what string, seeds ...int64) {
	t.Helper()
	n, ids := countRows(t, s, faultProject)
	want := map[string]bool{}
	for _, seed := range seeds {
		for _, e := range testEvents(20, seed) {
			want[e.InsertID] = true
		}
	}
	var bad []string
	for id, c := range ids {
		if !want[id] || c != 1 {
			bad = append(bad, fmt.Sprintf("%s×%d", id, c))
		}
	}
	for id := range want {
		if ids[id] == 0 {
			bad = append(bad, id+" missing")
		}
	}
	if len(bad) > 0 || n != len(want) {
		t.Fatalf("%s: %d rows, want %d (batches %v); wrong: %q", what, n, len(want), seeds, bad)
	}
}

// wantRowsAfterCrash reopens what a crash now would leave and checks its
// rows.
func wantRowsAfterCrash(t *testing.T, mem *crashFS, what string, seeds ...int64) {
	t.Helper()
	s, err := openCrashStore(mem.clone(nil))
	if err != nil {
		t.Fatalf("%s: reopen: %v", what, err)
	}
	defer crash(s)
	wantRows(t, s, what, seeds...)
}

func ingestBatch(p *Project, seed int64) error { return p.Ingest(testEvents(20, seed)) }

func TestStoreDiskFullRefusesWritesAndResumes(t *testing.T) {
	mem, efs, s, p := faultStore(t, opWrite)
	if err := ingestBatch(p, 1); err != nil {
		t.Fatal(err)
	}
	if err := s.Ready(); err != nil {
		t.Fatalf("ready before the fault: %v", err)
	}
	efs.armFault(1, syscall.ENOSPC) // the disk is full from now on

	err := ingestBatch(p, 2)
	wantRefused(t, err, syscall.ENOSPC, FaultNoSpace)
	if !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("refusal does not name the fault: %v", err)
	}
	rerr := s.Ready()
	wantRefused(t, rerr, syscall.ENOSPC, FaultNoSpace)
	if !strings.Contains(rerr.Error(), "writes refused since") {
		t.Fatalf("Ready does not say since when: %v", rerr)
	}
	if st := s.FaultStats(); st.Failed || st.Fault != FaultNoSpace || st.Refused[FaultNoSpace] != 1 {
		t.Fatalf("fault stats while refusing: %+v", st)
	}
	// A flush meets the full disk too: it fails, keeps its rows, and the
	// store goes on.
	if err := s.Flush(); err == nil || !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("flush on a full disk: %v", err)
	}
	if s.failure() != nil {
		t.Fatalf("a fault failed the store: %v", s.failure())
	}
	wantRows(t, s, "live, while refusing", 1)
	wantRowsAfterCrash(t, mem, "after a crash while refusing", 1)

	efs.clearFault() // space is back
	if err := s.Ready(); err != nil {
		t.Fatalf("ready after the fault cleared: %v", err)
	}
	// The refused batch, retried, is stored: its keys were not left
	// reserved by the refusal.
	for _, seed := range []int64{2, 3} {
		if err := ingestBatch(p, seed); err != nil {
			t.Fatalf("ingest after the fault cleared: %v", err)
		}
	}
	wantRows(t, s, "live, after the fault", 1, 2, 3)
	wantRowsAfterCrash(t, mem, "after a crash after the fault", 1, 2, 3)
	if err := s.Flush(); err != nil {
		t.Fatalf("flush after the fault cleared: %v", err)
	}
	wantRows(t, s, "live, after a flush", 1, 2, 3)
	wantRowsAfterCrash(t, mem, "after a flush and a crash", 1, 2, 3)
}

// TestStoreFlushFaultAtEveryCreateAndWrite fails each create and each
// write of a flush in turn with a fault that lasts until cleared: the
// flush fails, the store goes on taking the writes the fault allows,
// and once it clears the next flush succeeds and a reopen holds every
// acknowledged row once.
func TestStoreFlushFaultAtEveryCreateAndWrite(t *testing.T) {
	for _, tc := range []struct {
		op    fsOp
		errno syscall.Errno
	}{{opCreate, syscall.EMFILE}, {opCreate, syscall.ENOSPC}, {opWrite, syscall.ENOSPC}} {
		for k, done := 1, false; !done; k++ {
			t.Run(fmt.Sprintf("%s %v call %d", tc.op, tc.errno, k), func(t *testing.T) {
				mem, efs, s, p := faultStore(t, tc.op)
				if err := ingestBatch(p, 1); err != nil {
					t.Fatal(err)
				}
				// Profiles too, so the flush writes a people file.
				if err := p.SetPeople([]Event{{DistinctID: "u1", Props: []Prop{{"plan", StringValue("pro")}}}}); err != nil {
					t.Fatal(err)
				}
				efs.armFault(k, tc.errno)
				err := s.Flush()
				if efs.firedCall() == "" {
					if err != nil {
						t.Fatalf("flush without a fault: %v", err)
					}
					done = true // past the flush's last call: the loop ends here
					return
				}
				if err == nil || !errors.Is(err, tc.errno) {
					t.Fatalf("flush with %s failing: %v", efs.firedCall(), err)
				}
				t.Logf("fault at %s: %v", efs.firedCall(), err)
				if s.failure() != nil {
					t.Fatalf("fault at %s failed the store: %v", efs.firedCall(), s.failure())
				}
				wantRows(t, s, "live, after the failed flush", 1)
				// Ingest goes on when the fault allows it (creates fail,
				// WAL appends need none); with writes failing it is refused.
				seeds := []int64{1}
				if err := ingestBatch(p, 2); tc.op == opCreate {
					if err != nil {
						t.Fatalf("ingest with creates failing: %v", err)
					}
					seeds = append(seeds, 2)
				} else {
					wantRefused(t, err, tc.errno, faultKindOf(tc.errno))
				}
				wantRowsAfterCrash(t, mem, "after a crash during the fault", seeds...)
				efs.clearFault()
				if err := ingestBatch(p, 3); err != nil {
					t.Fatalf("ingest after the fault cleared: %v", err)
				}
				seeds = append(seeds, 3)
				if err := s.Flush(); err != nil {
					t.Fatalf("flush after the fault cleared: %v", err)
				}
				wantRows(t, s, "live, after the retried flush", seeds...)
				if n := memRowCount(p.Snapshot()); n != 0 {
					t.Fatalf("%d rows still in memory after the retried flush", n)
				}
				wantRowsAfterCrash(t, mem, "after the retried flush and a crash", seeds...)
				people, _, err := p.People()
				if err != nil || len(people) != 1 {
					t.Fatalf("people after the retried flush: %v, %v", people, err)
				}
			})
			if k > 200 {
				t.Fatal("a flush of one batch made over 200 calls")
			}
		}
	}
}

// TestStoreWALSyncFaultIsFatal: a failed fsync of the WAL, even with a
// fault's errno, leaves its state unknown: the store stops taking writes
// (until a restart), says so in Ready, and a reopen holds every
// acknowledged row (the unknown batch may or may not be there).
func TestStoreWALSyncFaultIsFatal(t *testing.T) {
	mem, efs, s, p := faultStore(t, opSync)
	if err := ingestBatch(p, 1); err != nil {
		t.Fatal(err)
	}
	efs.armFault(1, syscall.ENOSPC)
	err := ingestBatch(p, 2)
	if err == nil || errors.Is(err, ErrWriteRefused) || !errors.Is(err, ErrStoreFailed) || !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("ingest with a failing fsync: %v, want ErrStoreFailed naming ENOSPC", err)
	}
	efs.clearFault()
	if err := ingestBatch(p, 3); !errors.Is(err, ErrStoreFailed) {
		t.Fatalf("ingest after a failed fsync: %v, want ErrStoreFailed", err)
	}
	if err := s.Ready(); !errors.Is(err, ErrStoreFailed) || !strings.Contains(err.Error(), "fsync") {
		t.Fatalf("Ready after a failed fsync: %v", err)
	}
	if st := s.FaultStats(); !st.Failed {
		t.Fatalf("fault stats after a failed fsync: %+v", st)
	}
	reopened, err := openCrashStore(mem.clone(nil))
	if err != nil {
		t.Fatal(err)
	}
	defer crash(reopened)
	n, ids := countRows(t, reopened, faultProject)
	for _, e := range testEvents(20, 1) {
		if ids[e.InsertID] != 1 {
			t.Fatalf("acknowledged %s stored %d times after a reopen", e.InsertID, ids[e.InsertID])
		}
	}
	if n != 20 && n != 40 {
		t.Fatalf("%d rows after a reopen, want 20 (or 40 with the batch whose fsync failed)", n)
	}
}

// TestStoreCompactionFaultAtEveryCreateAndWrite: a compaction that meets
// a full disk or no descriptors at any create or write fails and keeps
// its inputs, the store goes on, and once the fault clears the day is
// merged with every row.
func TestStoreCompactionFaultAtEveryCreateAndWrite(t *testing.T) {
	for _, tc := range []struct {
		op    fsOp
		errno syscall.Errno
	}{{opCreate, syscall.EMFILE}, {opCreate, syscall.ENOSPC}, {opWrite, syscall.ENOSPC}} {
		for k, done := 1, false; !done; k++ {
			t.Run(fmt.Sprintf("%s %v call %d", tc.op, tc.errno, k), func(t *testing.T) {
				mem, efs, s, p := faultStore(t, tc.op)
				for seed := int64(1); seed <= 2; seed++ {
					if err := ingestBatch(p, seed); err != nil {
						t.Fatal(err)
					}
					if err := s.Flush(); err != nil {
						t.Fatal(err)
					}
				}
				segs := len(p.Snapshot().Segments)
				efs.armFault(k, tc.errno)
				err := s.Compact()
				if efs.firedCall() == "" {
					if err != nil {
						t.Fatalf("compaction without a fault: %v", err)
					}
					done = true
					return
				}
				if err == nil || !errors.Is(err, tc.errno) {
					t.Fatalf("compaction with %s failing: %v", efs.firedCall(), err)
				}
				if s.failure() != nil {
					t.Fatalf("fault at %s failed the store: %v", efs.firedCall(), s.failure())
				}
				// Days merged before the fault stay merged; the one it hit
				// keeps its inputs.
				wantRows(t, s, "live, after the failed compaction", 1, 2)
				wantRowsAfterCrash(t, mem, "after a crash during the fault", 1, 2)
				efs.clearFault()
				if err := s.Compact(); err != nil {
					t.Fatalf("compaction after the fault cleared: %v", err)
				}
				days := map[string]bool{}
				for _, ref := range p.Snapshot().Segments {
					days[ref.Day] = true
				}
				if n := len(p.Snapshot().Segments); n != len(days) || n >= segs {
					t.Fatalf("%d segments over %d days after the retried compaction (%d before)", n, len(days), segs)
				}
				wantRows(t, s, "live, after the retried compaction", 1, 2)
				wantRowsAfterCrash(t, mem, "after the retried compaction and a crash", 1, 2)
			})
			if k > 200 {
				t.Fatal("a compaction of two segments made over 200 calls")
			}
		}
	}
}

package replication

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"sync"

	"github.com/hashicorp/raft"

	"arb/storage"
)

// fsm is Raft's state machine: the store, applied in log order.
type fsm struct {
	store *storage.Store
	log   *slog.Logger
	// onFatal is called (once per failure) when the store could not
	// apply an entry: this replica must stop applying.
	onFatal func(error)
	// onBehind is called when a snapshot from the leader is ahead of
	// the store: the replica must reseed (reseed.go).
	onBehind func()

	mu sync.Mutex
	// applied is the index of the last command entry applied (or
	// skipped as already in the store's segments).
	applied uint64
	// changed is closed and replaced whenever applied advances.
	changed chan struct{}
	// refusals holds the refusals of recent entries by index, for the
	// node that forwarded the write to take (takeRefusal); bounded.
	refusals     map[uint64]error
	refusalOrder []uint64
}

// maxRefusalsKept bounds fsm.refusals: the refusals of entries whose
// writer was on another node are never taken.
const maxRefusalsKept = 4096

func newFSM(store *storage.Store, log *slog.Logger, onFatal func(error)) *fsm {
	return &fsm{store: store, log: log, onFatal: onFatal, applied: store.AppliedIndex(),
		changed: make(chan struct{}), refusals: map[uint64]error{}}
}

// applyResult is what Apply returns to raft's future on the leader.
type applyResult struct {
	refusal error // the write's own refusal, the same on every replica
	err     error // this replica failed to apply it
}

func (f *fsm) Apply(l *raft.Log) any {
	refusal, err := f.store.ApplyLogged(l.Index, l.Data)
	if err != nil {
		f.log.Error("replication: apply failed; this node stops applying", "index", l.Index, "err", err)
		f.onFatal(err)
		return applyResult{err: err}
	}
	f.mu.Lock()
	if refusal != nil {
		f.refusals[l.Index] = refusal
		f.refusalOrder = append(f.refusalOrder, l.Index)
		if len(f.refusalOrder) > maxRefusalsKept {
			delete(f.refusals, f.refusalOrder[0])
			f.refusalOrder = f.refusalOrder[1:]
		}
	}
	if l.Index > f.applied {
		f.applied = l.Index
		close(f.changed)
		f.changed = make(chan struct{})
	}
	f.mu.Unlock()
	return applyResult{refusal: refusal}
}

// appliedIndex is the last command entry applied.
func (f *fsm) appliedIndex() uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.applied
}

// waitApplied waits until the entry index is applied here.
func (f *fsm) waitApplied(ctx context.Context, index uint64) error {
	for {
		f.mu.Lock()
		applied, ch := f.applied, f.changed
		f.mu.Unlock()
		if applied >= index {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("log entry %d not applied on this node yet (applied %d): %w", index, applied, ctx.Err())
		}
	}
}

// takeRefusal returns and forgets the refusal of entry index (nil: the
// entry was applied).
func (f *fsm) takeRefusal(index uint64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	err := f.refusals[index]
	delete(f.refusals, index)
	return err
}

// Snapshot takes the index applied so far (raft calls it between
// applies); Persist, which runs beside further applies, flushes the
// store so that its manifest names every entry up to that index before
// the snapshot is complete: the snapshot is then just the index, and
// the log may drop the entries below it. (Flushing here, on the apply
// goroutine, stalled every write for the length of a flush.)
func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	return snapshot{index: f.store.AppliedIndex(), store: f.store}, nil
}

// Restore is asked to install a snapshot taken elsewhere (a leader whose
// log no longer holds the entries this replica lacks). A snapshot at or
// below what the store holds changes nothing.
func (f *fsm) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	index, err := readSnapshot(rc)
	if err != nil {
		return err
	}
	if have := f.store.AppliedIndex(); have >= index {
		f.log.Info("replication: snapshot already covered by the store", "snapshot_index", index, "applied_index", have)
		return nil
	}
	if f.onBehind != nil {
		f.onBehind()
	}
	return fmt.Errorf("replication: this replica has applied the log up to entry %d and needs the segments up to entry %d, "+
		"which the leader's log no longer holds: it reseeds its store from the leader and restarts", f.store.AppliedIndex(), index)
}

// snapshotMagic starts a snapshot file: "arbsnap1" then the applied
// index as a big-endian uint64.
const snapshotMagic = "arbsnap1"

type snapshot struct {
	index uint64
	store *storage.Store
}

func (s snapshot) Persist(sink raft.SnapshotSink) error {
	// A flush records the index applied when it froze the memtables,
	// at least s.index.
	if err := s.store.Flush(); err != nil {
		sink.Cancel()
		return fmt.Errorf("snapshot: flush the store: %w", err)
	}
	if have := s.store.DurableAppliedIndex(); have < s.index {
		sink.Cancel()
		return fmt.Errorf("snapshot: the store's manifest names entries up to %d, below the snapshot's %d", have, s.index)
	}
	b := binary.BigEndian.AppendUint64([]byte(snapshotMagic), s.index)
	if _, err := sink.Write(b); err != nil {
		sink.Cancel()
		return err
	}
	return sink.Close()
}

func (snapshot) Release() {}

func readSnapshot(r io.Reader) (uint64, error) {
	b := make([]byte, len(snapshotMagic)+8)
	if _, err := io.ReadFull(r, b); err != nil {
		return 0, fmt.Errorf("replication: read snapshot: %w", err)
	}
	if string(b[:len(snapshotMagic)]) != snapshotMagic {
		return 0, fmt.Errorf("replication: snapshot starts with %q, want %q", b[:len(snapshotMagic)], snapshotMagic)
	}
	return binary.BigEndian.Uint64(b[len(snapshotMagic):]), nil
}

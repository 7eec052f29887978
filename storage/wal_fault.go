package storage

// Faults that clear themselves: a full disk (ENOSPC, EDQUOT) or a process
// out of file descriptors (EMFILE, ENFILE). The WAL refuses an append that
// meets one of them *before anything of it was acknowledged*, leaves the
// log exactly as it was before that append, and takes the next append as
// if nothing had happened: writes resume by themselves once space or
// descriptors are back, without a restart.
//
// What is a fault, and what is fatal (wal.go has the recovery rule):
//
//   - A write of a group commit that fails with a fault: the group's
//     records are refused with a *FaultError, and the file is cut back to
//     the end of the last durable record (truncate, seek, fsync) before
//     any waiter hears of it. A refused record is therefore never
//     replayed, not even after a crash, and no later record ever follows
//     a partial one. If cutting back fails, the file's state is unknown:
//     fatal.
//   - Creating the next file (Rotate) fails at its create or header
//     write: the half-made file is removed and appends go on to the
//     current file, which that failure never touched. The flush that
//     asked for the rotation fails and is retried later.
//   - Any failed fsync (of a record, of a header, of the directory) is
//     fatal, fault or not: the kernel may have dropped the dirty pages,
//     so what is on disk is unknown and an fsync is never retried. So is a
//     write failing with any other error.
//
// While appends are refused, the WAL remembers the fault (its kind, the
// error and since when); the first append that succeeds clears it, and so
// does Probe, which tries the failed operation's effect on a scratch file
// so that readiness turns green without waiting for a client to write.

import (
	"errors"
	"fmt"
	"path/filepath"
	"syscall"
	"time"
)

// FaultKind says which transient fault refused a write.
type FaultKind uint8

const (
	FaultNone    FaultKind = iota
	FaultNoSpace           // ENOSPC, EDQUOT: disk (or quota) full
	FaultNoFiles           // EMFILE, ENFILE: out of file descriptors
	numFaultKinds
)

var faultKindNames = [numFaultKinds]string{"none", "disk full", "too many open files"}

func (k FaultKind) String() string { return faultKindNames[k] }

// Label is the kind as a metric label value.
func (k FaultKind) Label() string {
	return [numFaultKinds]string{"none", "disk_full", "too_many_open_files"}[k]
}

// faultKindOf classifies err: FaultNone unless it is one of the transient
// faults.
func faultKindOf(err error) FaultKind {
	switch {
	case err == nil:
		return FaultNone
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
		return FaultNoSpace
	case errors.Is(err, syscall.EMFILE), errors.Is(err, syscall.ENFILE):
		return FaultNoFiles
	}
	return FaultNone
}

// ErrWriteRefused matches every *FaultError: a write refused by a fault
// that clears itself, with nothing of it stored. Retry it later.
var ErrWriteRefused = errors.New("write refused")

// FaultError is a write refused by a transient fault. Nothing of the write
// is stored, now or after a crash.
type FaultError struct {
	Kind FaultKind
	Err  error // the failed operation, naming the file
}

func (e *FaultError) Error() string {
	return fmt.Sprintf("write refused, nothing stored (%s; retry once it clears): %v", e.Kind, e.Err)
}

func (e *FaultError) Unwrap() error { return e.Err }

func (e *FaultError) Is(target error) bool { return target == ErrWriteRefused }

// Fault describes the fault refusing writes now.
type Fault struct {
	Kind  FaultKind
	Err   error     // the first refusal's error
	Since time.Time // the first refusal since the last success
}

// String says since when, e.g. "writes refused since
// 2026-01-02T03:04:05.678Z (disk full)"; the error is f.Err.
func (f *Fault) String() string {
	return fmt.Sprintf("writes refused since %s (%s)", f.Since.UTC().Format(time.RFC3339Nano), f.Kind)
}

// noteRefusedLocked records a refusal of an append by err.
// REQUIRES: w.mu held.
func (w *WAL) noteRefusedLocked(fe *FaultError) {
	w.refused[fe.Kind]++
	if w.fault == nil {
		w.fault = &Fault{Kind: fe.Kind, Err: fe.Err, Since: time.Now()}
		w.log.Warn("write-ahead log refuses writes until the fault clears", "fault", fe.Kind.String(), "err", fe.Err)
	}
}

// clearFaultLocked forgets the fault after a success. REQUIRES: w.mu held.
func (w *WAL) clearFaultLocked(how string) {
	if w.fault != nil {
		w.log.Info("write-ahead log takes writes again", "fault", w.fault.Kind.String(),
			"refused_for", time.Since(w.fault.Since).Round(time.Millisecond), "cleared_by", how)
		w.fault = nil
	}
}

// Fault returns the fault refusing appends now, nil if none.
func (w *WAL) Fault() *Fault {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.fault == nil {
		return nil
	}
	f := *w.fault
	return &f
}

// Err returns the error that stopped the log for good, nil if none.
func (w *WAL) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// Refused returns how many appends each fault kind refused so far.
func (w *WAL) Refused() [numFaultKinds]int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.refused
}

// walProbeName is the scratch file of Probe. Its .tmp suffix makes it a
// leftover that the store removes at open (file_accounting.go).
const walProbeName = "write-probe.tmp"

// walProbeMaxBytes bounds what Probe writes.
const walProbeMaxBytes = 1 << 20

// Probe checks, while appends are refused, whether the fault has cleared:
// it creates a scratch file in the WAL's directory, writes as many bytes
// as the refused group held (at most 1 MiB) and removes it. If that works
// the fault is forgotten, so health turns green without waiting for a
// client to retry. The scratch file is never synced: Probe proves that a
// write would get space and a descriptor, not that it is durable (the
// real append will fsync). It returns the fault still in force, nil if
// none. Concurrent callers share one probe.
func (w *WAL) Probe() *Fault {
	w.mu.Lock()
	if w.fault == nil || w.probing {
		defer w.mu.Unlock()
		if w.fault == nil {
			return nil
		}
		f := *w.fault
		return &f
	}
	w.probing = true
	size := min(max(w.faultBytes, 4096), walProbeMaxBytes)
	w.mu.Unlock()

	err := w.probeWrite(size)

	w.mu.Lock()
	defer w.mu.Unlock()
	w.probing = false
	if err == nil {
		w.clearFaultLocked("probe")
		return nil
	}
	if w.fault == nil {
		return nil // an append succeeded meanwhile
	}
	f := *w.fault
	return &f
}

func (w *WAL) probeWrite(size int) error {
	path := filepath.Join(w.opts.Dir, walProbeName)
	f, err := w.opts.FS.Create(path)
	if err != nil {
		return err
	}
	_, err = f.Write(make([]byte, size))
	f.Close()
	if rerr := w.opts.FS.Remove(path); err == nil && rerr != nil && !isNotExist(rerr) {
		err = rerr
	}
	return err
}

// faultOr wraps err in a *FaultError when it is a fault, else returns it.
func faultOr(err error) error {
	if k := faultKindOf(err); k != FaultNone {
		return &FaultError{Kind: k, Err: err}
	}
	return err
}

package storage

// lock.go owns the data directory lock: <data-dir>/LOCK, held for as long
// as one process may write the directory.
//
// Why: a second process that opened a live data directory would flush and
// delete the first one's WAL files, and events the first had acknowledged
// would be lost at its next crash. So every opener (the store, and tools
// that read or repair a directory) takes this lock before it creates,
// reads or changes anything below the directory.
//
// Invariants:
//   - LockDataDir creates at most the data directory itself and the LOCK
//     file before the lock is held; a failed attempt changes nothing else.
//   - At most one DirLock per directory exists across all processes of
//     the host: the lock is flock(LOCK_EX|LOCK_NB) on the LOCK file (see
//     OSFS.Lock), so a second attempt fails at once instead of waiting.
//   - The kernel drops the lock when its holder's descriptor closes,
//     including when the process dies (kill -9), so a crash never leaves a
//     stale lock behind; the PID in the file is information for the error
//     message only and is never trusted to decide who holds the lock.
//   - The LOCK file is never deleted: unlinking it while another process
//     has it open would let two processes lock two different inodes.

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
)

// ErrDirLocked marks the failure to lock a data directory that another
// holder (usually another arb process) has locked. Test with errors.Is;
// errors.As with *DirLockedError gives the holder's PID.
//
// An FS's Lock returns an error matching ErrDirLocked when, and only when,
// someone else holds the lock.
var ErrDirLocked = errors.New("data directory locked")

// DirLockedError says which process holds a data directory.
type DirLockedError struct {
	Dir  string // the data directory
	Lock string // path of its LOCK file
	PID  int    // the holder's process id as written in LOCK; 0 if unknown
}

func (e *DirLockedError) Error() string {
	if e.PID == 0 {
		// The holder locks before it writes its PID, so a reader can
		// briefly see an empty file.
		return fmt.Sprintf("data directory %s is in use by another process (lock %s)", e.Dir, e.Lock)
	}
	return fmt.Sprintf("data directory %s is in use by process %d (lock %s)", e.Dir, e.PID, e.Lock)
}

func (e *DirLockedError) Is(target error) bool { return target == ErrDirLocked }

// DirLock is a held data directory lock. Release it once.
type DirLock struct {
	dir    string
	path   string
	mu     sync.Mutex
	holder io.Closer // nil once released; guarded by mu
}

// LockDataDir locks the data directory dir (creating dir if it does not
// exist) and writes this process's PID into its LOCK file. If another
// holder has the lock it fails at once with a *DirLockedError (matching
// ErrDirLocked) that names dir and the holder's PID, having changed
// nothing. Safe for concurrent use; the lock is not reentrant: a second
// LockDataDir of the same dir in the same process fails too.
func LockDataDir(fs FS, dir string) (*DirLock, error) {
	if dir == "" {
		return nil, errors.New("lock data directory: no directory given")
	}
	if err := fs.MkdirAll(dir); err != nil {
		return nil, fmt.Errorf("create data directory %s: %w", dir, err)
	}
	path := filepath.Join(dir, lockName)
	holder, err := fs.Lock(path)
	if errors.Is(err, ErrDirLocked) {
		return nil, &DirLockedError{Dir: dir, Lock: path, PID: readLockPID(fs, path)}
	}
	if err != nil {
		return nil, fmt.Errorf("lock data directory %s: %w", dir, err)
	}
	if err := writeLockPID(fs, path); err != nil {
		holder.Close()
		return nil, fmt.Errorf("lock data directory %s: write %s: %w", dir, path, err)
	}
	return &DirLock{dir: dir, path: path, holder: holder}, nil
}

// Release unlocks the directory. Another process may lock it as soon as
// Release returns. A second Release returns an error and does nothing.
func (l *DirLock) Release() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.holder == nil {
		return fmt.Errorf("release lock %s: already released", l.path)
	}
	err := l.holder.Close()
	l.holder = nil
	if err != nil {
		return fmt.Errorf("release lock %s: %w", l.path, err)
	}
	return nil
}

// writeLockPID replaces the content of the LOCK file with "<pid>\n".
// REQUIRES: the lock is held, so no other process writes the file. Not
// fsynced: after a crash the lock is gone and the PID means nothing.
func writeLockPID(fs FS, path string) error {
	f, err := fs.Create(path)
	if err != nil {
		return err
	}
	if _, err := f.Write([]byte(strconv.Itoa(os.Getpid()) + "\n")); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// readLockPID reads the holder's PID from the LOCK file; 0 if it cannot
// (not written yet, or unreadable): the PID only makes the error clearer.
func readLockPID(fs FS, path string) int {
	f, err := fs.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 32))
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0
	}
	return pid
}

package storage

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
)

// File is the subset of *os.File that storage uses.
type File interface {
	io.Reader
	io.ReaderAt
	io.Writer
	io.Closer
	Sync() error
	Stat() (os.FileInfo, error)
	Truncate(size int64) error
	Seek(offset int64, whence int) (int64, error)
}

// FS is storage's only door to the disk, so tests can lose unsynced bytes
// or fail a chosen call. Paths are ordinary OS paths.
type FS interface {
	// Create makes or truncates a file for writing.
	Create(path string) (File, error)
	// Open opens a file read-only.
	Open(path string) (File, error)
	// OpenAppend opens an existing file for reading and appending.
	OpenAppend(path string) (File, error)
	Rename(oldPath, newPath string) error
	Remove(path string) error
	// List returns the names (not paths) of the entries of dir.
	List(dir string) ([]string, error)
	MkdirAll(dir string) error
	// SyncDir fsyncs a directory so renames and creations in it are durable.
	SyncDir(dir string) error
	// Lock takes an exclusive lock on path, creating the file if needed
	// but never truncating it, and holds it until the Closer is closed.
	// It never waits: if another holder (another process, or another
	// Lock in this one) has it, it fails at once with an error matching
	// ErrDirLocked. The lock must end with its holder's process.
	Lock(path string) (io.Closer, error)
}

// OSFS is the real filesystem.
type OSFS struct{}

var _ FS = OSFS{}

func (OSFS) Create(path string) (File, error) { return os.Create(path) }
func (OSFS) Open(path string) (File, error)   { return os.Open(path) }
func (OSFS) OpenAppend(path string) (File, error) {
	return os.OpenFile(path, os.O_RDWR|os.O_APPEND, 0o644)
}
func (OSFS) Rename(oldPath, newPath string) error { return os.Rename(oldPath, newPath) }
func (OSFS) Remove(path string) error             { return os.Remove(path) }
func (OSFS) MkdirAll(dir string) error            { return os.MkdirAll(dir, 0o755) }

func (OSFS) List(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(entries))
	for i, e := range entries {
		names[i] = e.Name()
	}
	return names, nil
}

func (OSFS) SyncDir(dir string) error {
	d, err := os.Open(filepath.Clean(dir))
	if err != nil {
		return err
	}
	if err := d.Sync(); err != nil {
		d.Close()
		return err
	}
	return d.Close()
}

// Lock uses flock(2) rather than the fcntl locks LevelDB and pebble use
// (with an in-process table of held files, because an fcntl lock belongs
// to the whole process and any close of the file drops it): a flock
// belongs to the open file description, so a second Lock in the same
// process conflicts as a second process's would, and closing some other
// descriptor of the file does not drop it. The kernel drops it when the
// holder's process exits, however it exits. The descriptor is
// close-on-exec, so a child process never inherits the lock.
func (OSFS) Lock(path string) (io.Closer, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("flock %s: %w", path, ErrDirLocked)
		}
		return nil, &os.PathError{Op: "flock", Path: path, Err: err}
	}
	return f, nil
}

func isNotExist(err error) bool { return err != nil && os.IsNotExist(err) }

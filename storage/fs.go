package storage

import (
	"io"
	"os"
	"path/filepath"
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

func isNotExist(err error) bool { return err != nil && os.IsNotExist(err) }

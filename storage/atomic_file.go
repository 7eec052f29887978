package storage

import (
	"fmt"
	"path/filepath"
)

// WriteFileAtomic publishes data at path: it writes path+".tmp", fsyncs
// and closes it, renames it over path and fsyncs the directory. After it
// returns nil the new content survives a crash; if it fails, path holds
// the old content or the new, never a mix. A leftover .tmp is removed at
// the next open of the store.
func WriteFileAtomic(fs FS, path string, data []byte) error {
	return PublishFile(fs, path, func(f File) error {
		_, err := f.Write(data)
		return err
	})
}

// PublishFile is WriteFileAtomic for content produced by write.
func PublishFile(fs FS, path string, write func(File) error) error {
	tmp := path + ".tmp"
	f, err := fs.Create(tmp)
	if err != nil {
		return fmt.Errorf("create %s: %w", tmp, err)
	}
	if err := write(f); err != nil {
		f.Close()
		fs.Remove(tmp)
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		fs.Remove(tmp)
		return fmt.Errorf("fsync %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		fs.Remove(tmp)
		return fmt.Errorf("close %s: %w", tmp, err)
	}
	if err := fs.Rename(tmp, path); err != nil {
		fs.Remove(tmp)
		return fmt.Errorf("rename %s: %w", tmp, err)
	}
	if err := fs.SyncDir(filepath.Dir(path)); err != nil {
		return fmt.Errorf("fsync directory of %s: %w", path, err)
	}
	return nil
}

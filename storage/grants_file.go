package storage

// The grants file holds the MySQL users and their grants (CREATE USER,
// GRANT, ...) as the server serializes them; storage keeps the bytes
// durable and checked without reading them (docs/format/grants.md):
//
//	<data-dir>/grants
//	+----------+---------------+----------------+------------------+
//	| magic    | length uint32 | CRC-32C uint32 | body             |
//	| ARBGRT01 | of body       | of body        | length bytes     |
//	+----------+---------------+----------------+------------------+
//
// INVARIANT: the file on disk is always a whole, checked version: it is
// replaced with the atomic-file recipe (WriteFileAtomic), so a crash
// leaves the old version or the new one. A missing file means no users
// were ever created (only root, which the server makes at each start); a
// damaged one is a CorruptionError naming the file, and the server
// refuses to start on it rather than start with no users.
//
// The file lives beside MANIFEST, outside the WAL: grant changes are rare
// and whole, and each write replaces the whole state, so the file needs no
// replay. Backups carry it as a file of its own (backupGrantsFile).

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// grantsMagic starts the grants file. Wire format: never change.
const grantsMagic = "ARBGRT01"

// GrantsPath is the grants file of data directory dir.
func GrantsPath(dir string) string { return filepath.Join(dir, grantsName) }

// GrantsPath is the store's grants file.
func (s *Store) GrantsPath() string { return GrantsPath(s.opts.Dir) }

// WriteGrants replaces the grants file with body, durably: after it
// returns nil the new body survives a crash. Callers serialize their
// writes (the server holds its user-table lock across the call).
//
// In cluster mode the body goes through the replicated log and every
// replica writes it when it applies the entry (applyGrants).
func (s *Store) WriteGrants(body []byte) error {
	if s.opts.Log != nil {
		return s.appendLogged(append([]byte{byte(kindGrants)}, body...))
	}
	return s.writeGrantsFile(body)
}

func (s *Store) writeGrantsFile(body []byte) error {
	if err := WriteFileAtomic(s.fs, s.GrantsPath(), encodeFramed(grantsMagic, body)); err != nil {
		return fmt.Errorf("write users and grants: %w", err)
	}
	return nil
}

// ReadGrants returns the body of the grants file, nil when there is none.
// A damaged file is an error matching ErrCorruption that names it.
func (s *Store) ReadGrants() ([]byte, error) {
	return ReadGrantsFile(s.fs, s.opts.Dir)
}

// ReadGrantsFile is ReadGrants for data directory dir, open or not.
func ReadGrantsFile(fs FS, dir string) ([]byte, error) {
	p := GrantsPath(dir)
	data, err := readWholeFile(fs, p)
	if isNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read users and grants: %w", err)
	}
	body, err := decodeFramed(data, grantsMagic, p)
	if err != nil {
		return nil, fmt.Errorf("users and grants: %w", err)
	}
	return body, nil
}

// backupGrantsFile opens the grants file of dir for a backup with add
// (captureBackup's), if there is one. The file is replaced only by rename,
// so the open handle reads one whole version.
func backupGrantsFile(add func(name string, size int64, immutable bool) error) error {
	if err := add(grantsName, -1, false); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// restoreGrantsFile copies the grants file of backup directory from to
// data directory to, if the backup has one, through a synced temp file
// and a rename. RestoreBackup calls it before it places MANIFEST, whose
// directory fsync makes the rename durable.
func restoreGrantsFile(fs FS, from, to string) error {
	dst := GrantsPath(to)
	err := copyFileSynced(fs, GrantsPath(from), dst+tmpSuffix)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := fs.Rename(dst+tmpSuffix, dst); err != nil {
		return fmt.Errorf("rename %s: %w", dst+tmpSuffix, err)
	}
	return nil
}

// checkGrants checks the frame of the grants file, if there is one.
func (v *verifier) checkGrants() {
	body, err := ReadGrantsFile(v.fs, v.dir)
	if err != nil {
		v.problem(GrantsPath(v.dir), err)
		return
	}
	if body != nil {
		v.sum.Files++
	}
}

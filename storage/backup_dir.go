package storage

// A backup directory has the layout of a data directory (MANIFEST, wal/,
// segments/, users/, people/) plus a BACKUP file (backupInfo) that says a
// backup was completed there. ReceiveBackup applies a backup stream
// (backup.go) to it; RestoreBackup copies it into a new data directory.
//
// INVARIANT: at every moment of ReceiveBackup, even if it is interrupted,
// the directory holds a usable backup: the previous one, or one at least
// as new, never a mix that Open would misread. Received files are written
// under .tmp names and fsynced before any is renamed into place; then:
//
//  1. New segment, people and users files are renamed in. New immutable
//     files are not named by the old MANIFEST (Open ignores them); a users
//     file only grows (the old MANIFEST reads a prefix of the new one).
//  2. The received WAL files. If they continue the old ones (first new
//     seq <= last old seq + 1), each replaces or extends an old file with
//     a later version of the same append-only log: the old MANIFEST plus
//     a longer WAL is a later consistent state. Otherwise (flushes removed
//     WAL files between the two backups) they leave a hole after the old
//     files, and RestoreBackup copies the WAL only from the MANIFEST's
//     start up to the first hole: the old backup exactly.
//  3. MANIFEST (atomic rename): the new backup is in place.
//  4. BACKUP, then the removal of files the new MANIFEST does not need.
//
// Each step's renames are made durable (directory fsync) before the next
// step starts, so a crash keeps the order. Leftover .tmp files are removed
// at the start of the next ReceiveBackup (and by Open after a restore).

import (
	"archive/tar"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// backupMaxSmallFile bounds the MANIFEST and BACKUP entries read into
// memory from a stream.
const backupMaxSmallFile = 256 << 20

// BackupReceipt says what ReceiveBackup did.
type BackupReceipt struct {
	Point     WALPosition // the backup point
	Received  []string    // files received, slash paths
	Bytes     int64       // their bytes
	Kept      []string    // immutable files the directory held already
	KeptBytes int64
	Removed   []string // files of the previous backup no longer needed
}

// ReceiveBackup reads a backup stream from r into the backup directory
// dir (created if missing), keeping it usable throughout (see the top of
// backup_dir.go). It returns an error, leaving the previous backup in
// place, when the stream is cut short or does not match what dir holds.
func ReceiveBackup(fs FS, dir string, r io.Reader) (*BackupReceipt, error) {
	subdirs := []string{"", walDirName, segDirName, usersDirName, peopleDir}
	for _, d := range subdirs {
		p := filepath.Join(dir, d)
		if err := fs.MkdirAll(p); err != nil {
			return nil, fmt.Errorf("create %s: %w", p, err)
		}
		if err := removeTmpFiles(fs, p); err != nil {
			return nil, err
		}
	}
	in, err := readBackupStream(fs, dir, r)
	if err != nil {
		in.discard(fs, dir)
		return nil, err
	}
	rc, err := in.check(fs, dir)
	if err != nil {
		in.discard(fs, dir)
		return nil, err
	}
	if err := in.commit(fs, dir); err != nil {
		return nil, err
	}
	rc.Removed, err = removeStale(fs, dir, in)
	return rc, err
}

// incoming is a backup stream read to .tmp files.
type incoming struct {
	files    map[string]int64 // slash name → size, written as name.tmp
	manifest []byte
	m        *manifestBody
	info     backupInfo
	infoRaw  []byte
}

func (in *incoming) discard(fs FS, dir string) {
	for name := range in.files {
		fs.Remove(filepath.Join(dir, filepath.FromSlash(name)) + tmpSuffix)
	}
}

// readBackupStream writes each file of the stream to its .tmp name,
// fsynced, and keeps MANIFEST and BACKUP in memory.
func readBackupStream(fs FS, dir string, r io.Reader) (*incoming, error) {
	in := &incoming{files: map[string]int64{}}
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return in, fmt.Errorf("backup stream: %w", err)
		}
		if in.infoRaw != nil {
			return in, fmt.Errorf("backup stream: entry %q after %s", hdr.Name, backupInfoName)
		}
		if hdr.Typeflag != tar.TypeReg || !validBackupName(hdr.Name) {
			return in, fmt.Errorf("backup stream: unexpected entry %q", hdr.Name)
		}
		if _, dup := in.files[hdr.Name]; dup || (hdr.Name == manifestName && in.manifest != nil) {
			return in, fmt.Errorf("backup stream: entry %q twice", hdr.Name)
		}
		switch hdr.Name {
		case manifestName, backupInfoName:
			if hdr.Size > backupMaxSmallFile {
				return in, fmt.Errorf("backup stream: %s of %d bytes", hdr.Name, hdr.Size)
			}
			data, err := io.ReadAll(tr)
			if err != nil {
				return in, fmt.Errorf("backup stream: %s: %w", hdr.Name, err)
			}
			if hdr.Name == manifestName {
				in.manifest = data
			} else {
				in.infoRaw = data
			}
			continue
		}
		in.files[hdr.Name] = hdr.Size
		p := filepath.Join(dir, filepath.FromSlash(hdr.Name)) + tmpSuffix
		f, err := fs.Create(p)
		if err != nil {
			return in, fmt.Errorf("create %s: %w", p, err)
		}
		n, err := io.Copy(f, tr)
		if err == nil && n != hdr.Size {
			err = fmt.Errorf("%d of %d bytes", n, hdr.Size)
		}
		if err == nil {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return in, fmt.Errorf("backup stream: write %s: %w", p, err)
		}
	}
	if in.infoRaw == nil || in.manifest == nil {
		return in, fmt.Errorf("backup stream ended before its %s entry: incomplete, nothing changed", backupInfoName)
	}
	if err := json.Unmarshal(in.infoRaw, &in.info); err != nil || in.info.Version != backupInfoVersion {
		return in, fmt.Errorf("backup stream: %s entry unreadable (version %d): %v", backupInfoName, in.info.Version, err)
	}
	m, err := decodeManifest(in.manifest, "backup stream "+manifestName)
	if err != nil {
		return in, err
	}
	in.m = m
	return in, nil
}

// validBackupName accepts only the names a data directory uses, so that a
// stream cannot write outside dir.
func validBackupName(name string) bool {
	if name == manifestName || name == backupInfoName || name == grantsName {
		return true
	}
	dir, file, ok := strings.Cut(name, "/")
	if !ok || strings.Contains(file, "/") {
		return false
	}
	switch dir {
	case walDirName:
		_, ok = parseWALFileName(file)
	case segDirName, peopleDir:
		ok = isImmutableName(dir, file)
	case usersDirName:
		project, found := strings.CutSuffix(file, ".users")
		ok = (found && ValidateProjectName(project) == nil) || isImmutableName(dir, file)
	default:
		ok = false
	}
	return ok
}

// check matches the stream against what it says the backup consists of:
// every file listed was received, or is an immutable file dir holds with
// the same size and checksum; every file the manifest names is listed.
func (in *incoming) check(fs FS, dir string) (*BackupReceipt, error) {
	held, err := HeldBackupFiles(fs, dir)
	if err != nil {
		return nil, err
	}
	heldBy := map[string]BackupFile{}
	for _, h := range held {
		heldBy[h.Name] = h
	}
	rc := &BackupReceipt{Point: WALPosition{Seq: in.info.WALSeq, Offset: in.info.WALOffset}}
	listed := map[string]int64{}
	for _, f := range in.info.Files {
		listed[f.Name] = f.Size
		size, got := in.files[f.Name]
		switch {
		case f.Name == manifestName:
			if int64(len(in.manifest)) != f.Size {
				return nil, fmt.Errorf("backup stream: %s of %d bytes, listed with %d", f.Name, len(in.manifest), f.Size)
			}
		case got:
			if size != f.Size {
				return nil, fmt.Errorf("backup stream: %s of %d bytes, listed with %d", f.Name, size, f.Size)
			}
			rc.Received = append(rc.Received, f.Name)
			rc.Bytes += size
		case heldBy[f.Name] == f:
			rc.Kept = append(rc.Kept, f.Name)
			rc.KeptBytes += f.Size
		default:
			return nil, fmt.Errorf("backup stream: %s neither sent nor held by %s", f.Name, dir)
		}
	}
	for name := range in.files {
		if _, ok := listed[name]; !ok {
			return nil, fmt.Errorf("backup stream: %s sent but not listed in %s", name, backupInfoName)
		}
	}
	for _, mp := range in.m.Projects {
		for _, ms := range mp.Segments {
			if listed[path.Join(segDirName, ms.File)] != ms.Bytes {
				return nil, fmt.Errorf("backup stream: segment %s of the manifest (%d bytes) is not in the backup", ms.File, ms.Bytes)
			}
		}
		if _, ok := listed[path.Join(peopleDir, mp.PeopleFile)]; mp.PeopleFile != "" && !ok {
			return nil, fmt.Errorf("backup stream: people file %s of the manifest is not in the backup", mp.PeopleFile)
		}
		for _, r := range mp.UserIndex {
			if _, ok := listed[path.Join(usersDirName, r.File)]; !ok {
				return nil, fmt.Errorf("backup stream: user index %s of the manifest is not in the backup", r.File)
			}
		}
		for _, r := range mp.UserState {
			if _, ok := listed[path.Join(usersDirName, r.File)]; !ok {
				return nil, fmt.Errorf("backup stream: user state run %s of the manifest is not in the backup", r.File)
			}
		}
	}
	rc.Bytes += int64(len(in.manifest))
	rc.Received = append(rc.Received, manifestName)
	sort.Strings(rc.Received)
	sort.Strings(rc.Kept)
	return rc, nil
}

// commit renames the received files into place in the order the top of
// backup_dir.go gives.
func (in *incoming) commit(fs FS, dir string) error {
	renameAll := func(sub string) error {
		var any bool
		for name := range in.files {
			if path.Dir(name) != sub {
				continue
			}
			p := filepath.Join(dir, filepath.FromSlash(name))
			if err := fs.Rename(p+tmpSuffix, p); err != nil {
				return fmt.Errorf("rename %s: %w", p+tmpSuffix, err)
			}
			any = true
		}
		if !any {
			return nil
		}
		if err := fs.SyncDir(filepath.Join(dir, sub)); err != nil {
			return fmt.Errorf("fsync directory %s: %w", filepath.Join(dir, sub), err)
		}
		return nil
	}
	for _, sub := range []string{segDirName, peopleDir, usersDirName, "." /* grants */} {
		if err := renameAll(sub); err != nil {
			return err
		}
	}
	if err := renameAll(walDirName); err != nil {
		return err
	}
	if err := WriteFileAtomic(fs, filepath.Join(dir, manifestName), in.manifest); err != nil {
		return err
	}
	return WriteFileAtomic(fs, filepath.Join(dir, backupInfoName), in.infoRaw)
}

// removeStale removes what the backup now in dir does not need: segment
// and people files its manifest does not name, WAL files outside the
// received run, users files not received.
func removeStale(fs FS, dir string, in *incoming) ([]string, error) {
	keep := map[string]bool{}
	for _, f := range in.info.Files {
		keep[f.Name] = true
	}
	var removed []string
	for _, sub := range []string{segDirName, peopleDir, usersDirName, walDirName} {
		names, err := fs.List(filepath.Join(dir, sub))
		if err != nil {
			return removed, fmt.Errorf("list %s: %w", filepath.Join(dir, sub), err)
		}
		gone := false
		for _, n := range names {
			name := path.Join(sub, n)
			if keep[name] || strings.HasSuffix(n, tmpSuffix) {
				continue
			}
			if err := fs.Remove(filepath.Join(dir, sub, n)); err != nil {
				return removed, fmt.Errorf("remove %s: %w", filepath.Join(dir, sub, n), err)
			}
			removed = append(removed, name)
			gone = true
		}
		if gone {
			if err := fs.SyncDir(filepath.Join(dir, sub)); err != nil {
				return removed, fmt.Errorf("fsync directory %s: %w", filepath.Join(dir, sub), err)
			}
		}
	}
	sort.Strings(removed)
	return removed, nil
}

// removeTmpFiles removes the .tmp files an interrupted run left in d.
func removeTmpFiles(fs FS, d string) error {
	names, err := fs.List(d)
	if err != nil {
		return fmt.Errorf("list %s: %w", d, err)
	}
	for _, n := range names {
		if strings.HasSuffix(n, tmpSuffix) {
			if err := fs.Remove(filepath.Join(d, n)); err != nil {
				return fmt.Errorf("remove %s: %w", filepath.Join(d, n), err)
			}
		}
	}
	return nil
}

// ErrNotEmpty is returned by RestoreBackup for a target that holds files.
var ErrNotEmpty = errors.New("directory is not empty")

// RestoreBackup copies the backup in from into the data directory to,
// which must be missing or empty (but for its LOCK), and returns the backup point. Every file
// is fsynced under a .tmp name first; then segments, people and users
// files, MANIFEST and last the WAL files are renamed into place, so that
// an interrupted restore leaves either nothing Open would read or a
// consistent state. The caller checks the result (VerifyDataDir).
func RestoreBackup(fs FS, from, to string) (WALPosition, error) {
	var info backupInfo
	raw, err := readWholeFile(fs, filepath.Join(from, backupInfoName))
	if err != nil {
		return WALPosition{}, fmt.Errorf("%s holds no complete backup (no %s): %w", from, backupInfoName, err)
	}
	if err := json.Unmarshal(raw, &info); err != nil {
		return WALPosition{}, fmt.Errorf("%s: %w", filepath.Join(from, backupInfoName), err)
	}
	m, ok, err := readManifest(fs, filepath.Join(from, manifestName))
	if err != nil {
		return WALPosition{}, err
	}
	if !ok {
		return WALPosition{}, fmt.Errorf("%s holds no complete backup (no %s)", from, manifestName)
	}
	names, err := fs.List(to)
	for _, n := range names {
		if n != lockName { // the caller's own lock on to
			return WALPosition{}, fmt.Errorf("restore into %s: %w", to, ErrNotEmpty)
		}
	}
	if err != nil && !isNotExist(err) {
		return WALPosition{}, fmt.Errorf("list %s: %w", to, err)
	}
	for _, d := range []string{"", walDirName, segDirName, usersDirName, peopleDir} {
		if err := fs.MkdirAll(filepath.Join(to, d)); err != nil {
			return WALPosition{}, fmt.Errorf("create %s: %w", filepath.Join(to, d), err)
		}
	}
	if err := restoreGrantsFile(fs, from, to); err != nil {
		return WALPosition{}, err
	}
	var files []string // slash names, in rename order
	for _, mp := range m.Projects {
		for _, ms := range mp.Segments {
			files = append(files, path.Join(segDirName, ms.File))
		}
		if mp.PeopleFile != "" {
			files = append(files, path.Join(peopleDir, mp.PeopleFile))
		}
		for _, r := range mp.UserIndex {
			files = append(files, path.Join(usersDirName, r.File))
		}
		for _, r := range mp.UserState {
			files = append(files, path.Join(usersDirName, r.File))
		}
		if mp.UsersBytes > 0 {
			files = append(files, path.Join(usersDirName, usersFileName(mp.Name)))
		}
	}
	files = append(files, manifestName)
	seqs, err := listWALSeqs(fs, filepath.Join(from, walDirName))
	if err != nil {
		return WALPosition{}, err
	}
	// From the manifest's start up to the first hole: files after a hole
	// belong to a newer backup whose MANIFEST is not in place yet.
	next := m.WALStartSeq
	for _, seq := range seqs {
		if seq == next {
			files = append(files, path.Join(walDirName, walFileName(seq)))
			next++
		}
	}
	for _, name := range files {
		if err := copyFileSynced(fs, filepath.Join(from, filepath.FromSlash(name)), filepath.Join(to, filepath.FromSlash(name))+tmpSuffix); err != nil {
			return WALPosition{}, err
		}
	}
	for _, name := range files {
		if name == manifestName {
			// What MANIFEST names must be durable before it is.
			for _, d := range []string{segDirName, usersDirName, peopleDir} {
				if err := fs.SyncDir(filepath.Join(to, d)); err != nil {
					return WALPosition{}, fmt.Errorf("fsync directory %s: %w", filepath.Join(to, d), err)
				}
			}
		}
		p := filepath.Join(to, filepath.FromSlash(name))
		if err := fs.Rename(p+tmpSuffix, p); err != nil {
			return WALPosition{}, fmt.Errorf("rename %s: %w", p+tmpSuffix, err)
		}
		if name == manifestName {
			if err := fs.SyncDir(to); err != nil {
				return WALPosition{}, fmt.Errorf("fsync directory %s: %w", to, err)
			}
		}
	}
	if err := fs.SyncDir(filepath.Join(to, walDirName)); err != nil {
		return WALPosition{}, fmt.Errorf("fsync directory %s: %w", filepath.Join(to, walDirName), err)
	}
	return WALPosition{Seq: info.WALSeq, Offset: info.WALOffset}, nil
}

// copyFileSynced copies src to dst and fsyncs dst.
func copyFileSynced(fs FS, src, dst string) error {
	in, err := fs.Open(src)
	if err != nil {
		return fmt.Errorf("open %s: %w", src, err)
	}
	defer in.Close()
	out, err := fs.Create(dst)
	if err != nil {
		return fmt.Errorf("create %s: %w", dst, err)
	}
	_, err = io.Copy(out, in)
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("copy %s to %s: %w", src, dst, err)
	}
	return nil
}

package storage

// A backup is a consistent copy of a data directory taken while ingest
// goes on: the state a crash at one moment (the backup point) would leave,
// restricted to the files that state needs. Opening it replays the WAL
// tail onto the segments exactly as recovery does, so a restored store
// answers as the source did at the backup point.
//
// What a backup holds, all captured at one moment under Store.flushMu:
//
//   - MANIFEST as it is on disk then (the last published one), without
//     its list of obsolete files (they are not copied);
//   - every segment and people file it names (immutable once named);
//   - each project's users file up to the manifest's users_bytes (the file
//     is append-only; a later flush truncates only beyond the bytes of the
//     last published manifest, never below);
//   - the WAL files from the manifest's wal_start_seq to the WAL's durable
//     end then, whole records only;
//   - the grants file (users and grants), if any (grants_file.go).
//
// Why flushMu is enough: a flush (and compaction) takes flushMu while it
// publishes a manifest and deletes what the previous one named, and a WAL
// file is rotated and removed only by a flush; so while it is held,
// nothing the on-disk manifest names can vanish and no WAL file changes
// except by appends past its durable size. The hold only opens files and
// reads sizes; the copying happens after, from the open handles (an open
// handle keeps a deleted file's bytes on every filesystem arb runs on).
// Ingest does not take flushMu and goes on during the capture.
//
// The backup point is the WAL's durable end at the capture: an event whose
// ingest was acknowledged before Backup was called is in a WAL record that
// was fsynced before then, hence below that end (Append returns only after
// the record's group commit updated the sizes read here).
//
// Stream format (WriteTo): a tar archive (archive/tar) of regular files
// named by their slash path inside the data directory, in this order:
// new immutable files (segments/, people/), users/, wal/, MANIFEST, and
// last an entry BACKUP holding backupInfo as JSON. A stream without its
// BACKUP entry is incomplete (a tar stream cut at an entry boundary reads
// as a clean end, so the marker is needed). Incremental backups: the
// receiver lists the immutable files it holds (BackupFile: name, size and
// the checksum the file stores about itself); Backup leaves out those the
// manifest names with the same name, size and checksum.

import (
	"archive/tar"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// backupInfoName is the last entry of a backup stream and the file of a
// backup directory that says a backup is complete. It exists only in
// backup directories, never in a data directory.
const backupInfoName = "BACKUP"

// backupInfoVersion is the version of backupInfo. Wire format.
const backupInfoVersion = 1

// BackupFile names a file of a backup: its slash path inside the data
// directory, its size, and for an immutable file (segment, people file)
// the CRC-32C it stores about its own contents (footer checksum of a
// segment, body checksum of a people file), so that a file of the same
// name from another data directory is not mistaken for it.
type BackupFile struct {
	Name     string `json:"name"`
	Size     int64  `json:"size"`
	Checksum uint32 `json:"crc,omitempty"`
}

// backupInfo is the BACKUP entry: the backup point and every file the
// backup consists of, sent or left out because the receiver had it.
type backupInfo struct {
	Version   int          `json:"version"`
	Created   time.Time    `json:"created"`
	WALSeq    uint64       `json:"wal_seq"`    // WAL file of the backup point
	WALOffset int64        `json:"wal_offset"` // durable end of that file
	Files     []BackupFile `json:"files"`      // all of them, MANIFEST included
	Sent      []string     `json:"sent"`       // names sent in this stream
	SentBytes int64        `json:"sent_bytes"`
	KeptBytes int64        `json:"kept_bytes"` // bytes of files left out
}

// Backup is a captured snapshot: open handles on every file to send.
// WriteTo streams it; Close releases the handles. Not safe for
// concurrent use.
type Backup struct {
	fs       FS
	manifest []byte
	info     backupInfo
	send     []backupEntry // in stream order, MANIFEST and BACKUP excluded
}

type backupEntry struct {
	name string
	size int64
	f    File
}

// Point is the backup point: the WAL file and its durable end.
func (b *Backup) Point() WALPosition {
	return WALPosition{Seq: b.info.WALSeq, Offset: b.info.WALOffset}
}

// Backup captures a consistent snapshot of the store (see the top of
// backup.go); have lists the immutable files the receiver already holds.
// It holds flushMu only while it opens files, so flushes wait that long
// and ingest not at all. The caller must Close the result.
func (s *Store) Backup(have []BackupFile) (*Backup, error) {
	s.flushMu.Lock()
	defer s.flushMu.Unlock()
	walSizes := s.wal.durableSizes()
	return captureBackup(s.fs, s.opts.Dir, walSizes, have)
}

// BackupDataDir captures a backup of a data directory no process has
// open; the caller holds its lock (LockDataDir). Every live WAL file must
// consist of whole records that verify, except for a torn tail of the last
// one (what a crash leaves), which is left out as Open would cut it off;
// damage fails the backup (arb verify names it).
func BackupDataDir(fs FS, dir string, have []BackupFile) (*Backup, error) {
	m, _, err := readManifestOrEmpty(fs, dir)
	if err != nil {
		return nil, err
	}
	walDir := filepath.Join(dir, walDirName)
	seqs, err := listWALSeqs(fs, walDir)
	if err != nil {
		return nil, err
	}
	walSizes := map[uint64]int64{}
	for i, seq := range seqs {
		if seq < m.WALStartSeq {
			continue
		}
		_, size, _, err := readWALFile(fs, walDir, seq, i == len(seqs)-1, nil)
		if err != nil {
			return nil, fmt.Errorf("backup of %s: %w", dir, err)
		}
		if size >= walHeaderBytes { // else a torn header: the file holds nothing
			walSizes[seq] = size
		}
	}
	return captureBackup(fs, dir, walSizes, have)
}

// readManifestOrEmpty reads dir's manifest, encoded and decoded; a
// directory without one (never flushed) has the manifest Open starts
// from. ok is false in that case.
func readManifestOrEmpty(fs FS, dir string) (*manifestBody, bool, error) {
	m, ok, err := readManifest(fs, filepath.Join(dir, manifestName))
	if err != nil {
		return nil, false, err
	}
	if !ok {
		m = &manifestBody{Version: manifestVersion, WALStartSeq: 1, NextFileNumber: 1}
	}
	return m, ok, nil
}

// captureBackup opens every file the backup needs. walSizes are the
// durable bytes of each live WAL file. REQUIRES: nothing the manifest of
// dir names can be deleted, and no WAL file rotated, during the call
// (Store.flushMu held, or the directory lock).
func captureBackup(fs FS, dir string, walSizes map[uint64]int64, have []BackupFile) (b *Backup, err error) {
	m, _, err := readManifestOrEmpty(fs, dir)
	if err != nil {
		return nil, err
	}
	// The files the manifest lists as obsolete (replaced, not yet deleted)
	// are not part of the backup, so its copy must not name them.
	m.Obsolete = nil
	manifestBytes, err := encodeManifest(m)
	if err != nil {
		return nil, err
	}
	b = &Backup{fs: fs, manifest: manifestBytes,
		info: backupInfo{Version: backupInfoVersion, Created: time.Now().UTC()}}
	defer func() {
		if err != nil {
			b.Close()
		}
	}()
	held := map[string]BackupFile{}
	for _, h := range have {
		held[h.Name] = h
	}
	// add opens name for sending size bytes, or leaves it out when the
	// receiver holds the same immutable file.
	add := func(name string, size int64, immutable bool) error {
		p := filepath.Join(dir, filepath.FromSlash(name))
		f, err := fs.Open(p)
		if err != nil {
			return fmt.Errorf("backup: open %s: %w", p, err)
		}
		st, err := f.Stat()
		if err != nil {
			f.Close()
			return fmt.Errorf("backup: stat %s: %w", p, err)
		}
		if size < 0 {
			size = st.Size()
		} else if st.Size() < size {
			f.Close()
			return fmt.Errorf("backup: %s holds %d bytes, needs %d", p, st.Size(), size)
		}
		bf := BackupFile{Name: name, Size: size}
		if immutable {
			if bf.Checksum, err = immutableChecksum(f, name, size); err != nil {
				f.Close()
				return fmt.Errorf("backup: %w", err)
			}
			if h, ok := held[name]; ok && h == bf {
				f.Close()
				b.info.Files = append(b.info.Files, bf)
				b.info.KeptBytes += size
				return nil
			}
		}
		b.info.Files = append(b.info.Files, bf)
		b.send = append(b.send, backupEntry{name: name, size: size, f: f})
		return nil
	}
	for _, mp := range m.Projects {
		for _, ms := range mp.Segments {
			if err := add(path.Join(segDirName, ms.File), ms.Bytes, true); err != nil {
				return nil, err
			}
		}
		if mp.PeopleFile != "" {
			if err := add(path.Join(peopleDir, mp.PeopleFile), -1, true); err != nil {
				return nil, err
			}
		}
		for _, r := range mp.UserIndex {
			if err := add(path.Join(usersDirName, r.File), -1, true); err != nil {
				return nil, err
			}
		}
		for _, r := range mp.UserState {
			if err := add(path.Join(usersDirName, r.File), -1, true); err != nil {
				return nil, err
			}
		}
	}
	for _, mp := range m.Projects {
		if mp.UsersBytes > 0 {
			if err := add(path.Join(usersDirName, usersFileName(mp.Name)), mp.UsersBytes, false); err != nil {
				return nil, err
			}
		}
	}
	if err := backupGrantsFile(add); err != nil {
		return nil, err
	}
	var seqs []uint64
	for seq := range walSizes {
		if seq >= m.WALStartSeq {
			seqs = append(seqs, seq)
		}
	}
	sort.Slice(seqs, func(i, j int) bool { return seqs[i] < seqs[j] })
	for i, seq := range seqs {
		if (i == 0 && seq != m.WALStartSeq) || (i > 0 && seq != seqs[i-1]+1) {
			return nil, fmt.Errorf("backup: write-ahead log files of %s are not contiguous from %s (found %s)",
				dir, walFileName(m.WALStartSeq), walFileName(seq))
		}
		if err := add(path.Join(walDirName, walFileName(seq)), walSizes[seq], false); err != nil {
			return nil, err
		}
		b.info.WALSeq, b.info.WALOffset = seq, walSizes[seq]
	}
	b.info.Files = append(b.info.Files, BackupFile{Name: manifestName, Size: int64(len(manifestBytes))})
	return b, nil
}

// immutableChecksum reads the CRC-32C a segment or people file stores
// about itself: a segment's footer checksum (in its trailer), a people
// file's body checksum (in its frame header). name is the slash path.
func immutableChecksum(f io.ReaderAt, name string, size int64) (uint32, error) {
	off := int64(12) // people: | magic 8 | length 4 | CRC 4 |
	switch {
	case path.Dir(name) == segDirName:
		off = size - segTrailerBytes + 12 // | footer offset 8 | length 4 | CRC 4 | magic 8 |
	case strings.HasSuffix(name, ".uix"):
		off = size - userIndexTrailerLen + 4 // | length 4 | CRC 4 | magic 8 |
	case strings.HasSuffix(name, ".ust"):
		off = size - userStateTrailerLen + 4 // | length 4 | CRC 4 | magic 8 |
	}
	if off < 0 || off+4 > size {
		return 0, corruptf(name, 0, "file of %d bytes is too short to hold its checksum", size)
	}
	var buf [4]byte
	if _, err := f.ReadAt(buf[:], off); err != nil {
		return 0, fmt.Errorf("read %s at offset %d: %w", name, off, err)
	}
	return binary.LittleEndian.Uint32(buf[:]), nil
}

// HeldBackupFiles lists the immutable files a backup directory holds
// (what Backup may leave out), with their sizes and stored checksums.
// A missing directory holds nothing.
func HeldBackupFiles(fs FS, dir string) ([]BackupFile, error) {
	var out []BackupFile
	for _, sub := range []string{segDirName, peopleDir, usersDirName} {
		names, err := fs.List(filepath.Join(dir, sub))
		if isNotExist(err) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", filepath.Join(dir, sub), err)
		}
		for _, n := range names {
			if !isImmutableName(sub, n) {
				continue
			}
			name := path.Join(sub, n)
			f, err := fs.Open(filepath.Join(dir, sub, n))
			if err != nil {
				return nil, fmt.Errorf("open %s: %w", filepath.Join(dir, sub, n), err)
			}
			st, err := f.Stat()
			if err == nil {
				var sum uint32
				if sum, err = immutableChecksum(f, name, st.Size()); err == nil {
					out = append(out, BackupFile{Name: name, Size: st.Size(), Checksum: sum})
				} else if errors.Is(err, ErrCorruption) {
					err = nil // too short to be a file worth keeping: sent again
				}
			}
			f.Close()
			if err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

func isImmutableName(dir, name string) bool {
	switch dir {
	case segDirName:
		_, ok := parseSegmentFileName(name)
		return ok
	case peopleDir:
		_, ok := parseSeqName(name, ".people")
		return ok
	case usersDirName:
		_, ok := parseSeqName(name, ".uix")
		_, ust := parseSeqName(name, ".ust")
		return ok || ust
	}
	return false
}

// WriteTo streams the backup as a tar archive (see the top of backup.go)
// and returns the bytes written. A write error leaves the stream without
// its BACKUP entry, which the receiver rejects.
func (b *Backup) WriteTo(w io.Writer) (int64, error) {
	cw := &countingWriter{w: w}
	tw := tar.NewWriter(cw)
	entry := func(name string, size int64, body io.Reader) error {
		hdr := &tar.Header{Typeflag: tar.TypeReg, Name: name, Size: size, Mode: 0o644, ModTime: b.info.Created}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if n, err := io.Copy(tw, body); err != nil || n != size {
			return fmt.Errorf("backup: copy %s: %d of %d bytes: %v", name, n, size, err)
		}
		return nil
	}
	b.info.Sent, b.info.SentBytes = nil, 0
	for _, e := range b.send {
		if err := entry(e.name, e.size, io.NewSectionReader(e.f, 0, e.size)); err != nil {
			return cw.n, err
		}
		b.info.Sent = append(b.info.Sent, e.name)
		b.info.SentBytes += e.size
	}
	if err := entry(manifestName, int64(len(b.manifest)), bytes.NewReader(b.manifest)); err != nil {
		return cw.n, err
	}
	b.info.Sent = append(b.info.Sent, manifestName)
	b.info.SentBytes += int64(len(b.manifest))
	info, err := json.MarshalIndent(&b.info, "", " ")
	if err != nil {
		return cw.n, fmt.Errorf("backup: encode %s: %w", backupInfoName, err)
	}
	if err := entry(backupInfoName, int64(len(info)), bytes.NewReader(info)); err != nil {
		return cw.n, err
	}
	err = tw.Close()
	return cw.n, err
}

// Close releases the open files.
func (b *Backup) Close() error {
	var err error
	for _, e := range b.send {
		if cerr := e.f.Close(); err == nil {
			err = cerr
		}
	}
	b.send = nil
	return err
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// durableSizes returns the durable bytes of each live WAL file: whole
// records only, since a group commit adds to sizes after its fsync.
// Every record whose Append returned before the call is below them.
func (w *WAL) durableSizes() map[uint64]int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make(map[uint64]int64, len(w.sizes))
	for seq, n := range w.sizes {
		out[seq] = n
	}
	return out
}

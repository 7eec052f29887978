package storage

// Accounting for files at open: every file in the data directory must be
// explained by the manifest before the store starts, and a file that is
// not explained is never deleted — the store refuses to start and names
// it. This is what keeps a lost or stale MANIFEST from turning into the
// deletion of every segment.
//
// A file is explained when it is
//   - named by the manifest (a live segment, people, users or user index
//     file);
//   - listed by the manifest as obsolete (replaced, deletion pending):
//     deleted;
//   - a segment, people or user index file numbered at or above the manifest's
//     NextFileNumber: written by a flush or compaction that crashed before
//     its manifest (a flush's rows are still in the WAL, a compaction's
//     inputs still named): deleted;
//   - a temp file (*.tmp) of an interrupted atomic write: deleted;
//   - a bulk load's staged segment (segments/*.stage) of a load that never
//     committed (bulk.go; it was never acknowledged): deleted;
//   - a users file of a project the manifest does not know yet (created
//     after it; the WAL holds the project): kept, the next flush rewrites
//     it from its start;
//   - a WAL file below the manifest's WALStartSeq: obsolete (the WAL
//     deletes it after replay). From WALStartSeq on, the files must run
//     without a gap from exactly WALStartSeq: the manifest is published
//     only after that file is durable (a flush rotates the WAL first),
//     so a missing one means the MANIFEST is older than the directory —
//     put back from a copy — and its NextFileNumber would make newer
//     segments look like leftovers. (WALStartSeq 1 with no WAL file at
//     all is a new directory that crashed before creating its WAL.)
//
// With no MANIFEST at all, the directory must hold no segment, people or
// users file and no WAL file past the first: a store that never flushed
// has only wal/000001.wal. Anything more means the MANIFEST was lost.

import (
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"sort"
	"strings"
)

// checkNoDataFiles is the check for a directory without a MANIFEST.
func (s *Store) checkNoDataFiles() error {
	var found []string
	for _, dir := range []string{segDirName, peopleDir, usersDirName, walDirName} {
		names, err := s.fs.List(s.path(dir))
		if err != nil {
			return fmt.Errorf("list %s: %w", s.path(dir), err)
		}
		for _, n := range names {
			if strings.HasSuffix(n, tmpSuffix) || strings.HasSuffix(n, stagedSuffix) {
				continue
			}
			if seq, ok := parseWALFileName(n); dir == walDirName && ok && seq == 1 {
				continue
			}
			found = append(found, filepath.Join(dir, n))
		}
	}
	if len(found) == 0 {
		return nil
	}
	sort.Strings(found)
	return fmt.Errorf("data directory %s has no %s but holds data files %s: the manifest was lost or never copied; "+
		"refusing to start (nothing was changed): restore the MANIFEST (arb restore from a backup), or move the directory aside",
		s.opts.Dir, manifestName, listNames(found))
}

// accountForFiles explains every file under the data directory by m (see
// the file comment) and returns the leftovers to delete (removeLeftovers);
// it fails when a file is unexplained. It deletes nothing.
func (s *Store) accountForFiles(m *manifestBody) (leftovers []string, err error) {
	live := map[string]bool{}
	for _, p := range m.Projects {
		for _, seg := range p.Segments {
			live[filepath.Join(segDirName, seg.File)] = true
		}
		if p.PeopleFile != "" {
			live[filepath.Join(peopleDir, p.PeopleFile)] = true
		}
		for _, r := range p.UserIndex {
			live[filepath.Join(usersDirName, r.File)] = true
		}
		for _, r := range p.UserState {
			live[filepath.Join(usersDirName, r.File)] = true
		}
	}
	obsolete := map[string]bool{}
	for _, rel := range m.Obsolete {
		obsolete[filepath.Clean(rel)] = true
	}
	var remove, unexplained []string
	for _, dir := range []string{"", walDirName, segDirName, usersDirName, peopleDir} {
		names, err := s.fs.List(s.path(dir))
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", s.path(dir), err)
		}
		for _, n := range names {
			rel := filepath.Join(dir, n)
			switch {
			case strings.HasSuffix(n, tmpSuffix), dir == segDirName && strings.HasSuffix(n, stagedSuffix):
				remove = append(remove, rel)
			case dir != segDirName && dir != peopleDir && !isImmutableName(dir, n):
				// WAL files: the WAL's; users files and top-level entries
				// (MANIFEST, LOCK, subdirectories): see the file comment.
			case live[rel]:
			case obsolete[rel]:
				remove = append(remove, rel)
			default:
				ext := ".seg"
				switch dir {
				case peopleDir:
					ext = ".people"
				case usersDirName:
					ext = filepath.Ext(n)
				}
				if num, ok := parseSeqName(n, ext); ok && num >= m.NextFileNumber {
					remove = append(remove, rel)
				} else {
					unexplained = append(unexplained, rel)
				}
			}
		}
	}
	if err := s.checkWALRun(m); err != nil {
		return nil, err
	}
	if len(unexplained) > 0 {
		sort.Strings(unexplained)
		return nil, fmt.Errorf("data directory %s: the MANIFEST does not account for %s (it names %d live files, next file number %d); "+
			"refusing to start (nothing was changed): a stale or damaged MANIFEST would lose them — restore the MANIFEST that names them, "+
			"or move them aside if an operator put them there",
			s.opts.Dir, listNames(unexplained), len(live), m.NextFileNumber)
	}
	return remove, nil
}

// removeLeftovers deletes what accountForFiles found left by interrupted
// writes (relative paths).
//
// The removals are made durable (each directory fsynced) before the
// store starts: a leftover numbered at or above NextFileNumber that came
// back after a crash, once a later manifest has raised NextFileNumber
// past it, would be a file no manifest accounts for, and the next open
// would refuse the directory.
func (s *Store) removeLeftovers(rels []string) error {
	dirs := map[string]bool{}
	for _, rel := range rels {
		s.log.Info("removing leftover of an interrupted write", "file", s.path(rel))
		if err := s.fs.Remove(s.path(rel)); err != nil && !isNotExist(err) {
			return fmt.Errorf("remove %s: %w", s.path(rel), err)
		}
		dirs[filepath.Dir(s.path(rel))] = true
	}
	for _, dir := range slices.Sorted(maps.Keys(dirs)) {
		if err := s.fs.SyncDir(dir); err != nil {
			return fmt.Errorf("fsync directory %s after removing leftovers: %w", dir, err)
		}
	}
	return nil
}

// checkWALRun checks that the WAL files from m.WALStartSeq on exist
// without a gap (see the file comment).
func (s *Store) checkWALRun(m *manifestBody) error {
	names, err := s.fs.List(s.path(walDirName))
	if err != nil {
		return fmt.Errorf("list %s: %w", s.path(walDirName), err)
	}
	var seqs []uint64
	for _, n := range names {
		if seq, ok := parseWALFileName(n); ok && seq >= m.WALStartSeq {
			seqs = append(seqs, seq)
		}
	}
	sort.Slice(seqs, func(i, j int) bool { return seqs[i] < seqs[j] })
	if len(seqs) == 0 && m.WALStartSeq <= 1 {
		return nil
	}
	want := m.WALStartSeq
	for _, seq := range seqs {
		if seq != want {
			break
		}
		want++
	}
	if len(seqs) > 0 && want == seqs[len(seqs)-1]+1 {
		return nil
	}
	var have []string
	for _, seq := range seqs {
		have = append(have, filepath.Join(walDirName, walFileName(seq)))
	}
	return fmt.Errorf("data directory %s: the MANIFEST needs %s and the write-ahead log files after it without a gap, "+
		"but %s is missing (present from there: %s): the MANIFEST is older than the directory or a log file was lost; "+
		"refusing to start (nothing was changed): restore the current MANIFEST, or a whole backup",
		s.opts.Dir, filepath.Join(walDirName, walFileName(m.WALStartSeq)), filepath.Join(walDirName, walFileName(want)), listNames(have))
}

// listNames lists up to 10 names, then how many more.
func listNames(names []string) string {
	if len(names) <= 10 {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:10], ", "), len(names)-10)
}

package storage

// Background merges of user state runs (user_state.go). A flush only
// adds a run; the compactor merges them, off the flush path, so a large
// merge (gigabytes of profiles) never holds flushes — and with them
// ingest — up. The policy is size-tiered: the newest runs from the first
// one no larger than twice the runs after it together are merged into
// one, so each run is more than twice the size of all newer ones
// together: O(log n) runs, each entry rewritten O(log n) times.
//
// A merge reads immutable runs and writes a temp file through the
// compaction I/O throttle, without a lock; then, under flushMu, it names
// the file, publishes the manifest that swaps it for its inputs and
// installs it. Flushes only append runs, and merges run one at a time
// (compactMu), so the inputs are still live and adjacent then. The count
// invariant is checked before anything is named: entries out = entries
// in − those shadowed by a newer run − tombstones dropped; else the
// merge is abandoned and its inputs stay.

import (
	"fmt"
	"path/filepath"
	"slices"
)

// maxUserStateRuns bounds a project's runs when the compactor is off or
// behind: past it a flush merges the newest runs itself.
const maxUserStateRuns = 12

// pickUserStateMerge returns the first of the runs to merge (runs[i:]),
// if a merge is due.
func pickUserStateMerge(runs []*userStateRun) (int, bool) {
	var after int64 // bytes of the runs newer than i
	suffix := make([]int64, len(runs)+1)
	for i := len(runs) - 1; i >= 0; i-- {
		suffix[i] = suffix[i+1] + runs[i].bytes
	}
	for i := 0; i+1 < len(runs); i++ {
		after = suffix[i+1]
		if runs[i].bytes <= 2*after {
			return i, true
		}
	}
	return 0, false
}

// mergeUserStateDue merges p's runs if a merge is due.
// REQUIRES: s.compactMu held.
func (s *Store) mergeUserStateDue(p *Project) error {
	p.mu.RLock()
	runs := p.ustate.runs
	p.mu.RUnlock()
	i, ok := pickUserStateMerge(runs)
	if !ok {
		return nil
	}
	in := runs[i:]
	var counts mergeCounts
	next, err := mergedUserStateCounted(in, i == 0, &counts)
	if err != nil {
		return err
	}
	tmp := s.path(usersDirName, "merge-"+p.name+".ust"+tmpSuffix)
	th, done := s.compactionThrottleFor()
	defer done()
	f, err := s.fs.Create(tmp)
	if err != nil {
		return fmt.Errorf("user state merge: create %s: %w", tmp, err)
	}
	out, err := writeUserState(th.writer(f), next)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && out != counts.in-counts.shadowed-counts.dropped {
		err = fmt.Errorf("wrote %d entries from %d in, %d shadowed, %d tombstones dropped", out, counts.in, counts.shadowed, counts.dropped)
	}
	if err != nil {
		s.fs.Remove(tmp)
		s.log.Warn("user state merge abandoned; its inputs stay", "project", p.name, "err", err)
		return fmt.Errorf("user state merge of project %s: %w", p.name, err)
	}
	return s.publishUserStateMerge(p, in, tmp, out)
}

// publishUserStateMerge names the merged run, publishes the manifest that
// swaps it for in, installs it and deletes the inputs.
func (s *Store) publishUserStateMerge(p *Project, in []*userStateRun, tmp string, entries int) error {
	s.flushMu.Lock()
	defer s.flushMu.Unlock()
	if err := s.failure(); err != nil {
		s.fs.Remove(tmp)
		return err
	}
	p.mu.RLock()
	runs := p.ustate.runs
	p.mu.RUnlock()
	j := -1
	for k := 0; k+len(in) <= len(runs); k++ {
		if slices.Equal(runs[k:k+len(in)], in) {
			j = k
			break
		}
	}
	if j < 0 {
		s.fs.Remove(tmp)
		return fmt.Errorf("BUG: user state runs of project %s changed under a merge", p.name)
	}
	file := userStateFileName(s.nextFile)
	s.nextFile++
	path := s.path(usersDirName, file)
	abandon := func() { // see publishCompaction
		s.fs.Remove(path)
		s.obsolete = append(s.obsolete, usersDirName+"/"+file)
	}
	if err := s.fs.Rename(tmp, path); err != nil {
		s.fs.Remove(tmp)
		abandon()
		return fmt.Errorf("rename %s: %w", tmp, err)
	}
	if err := s.fs.SyncDir(s.path(usersDirName)); err != nil {
		abandon()
		return fmt.Errorf("fsync directory %s: %w", s.path(usersDirName), err)
	}
	merged, err := openUserStateRun(s.fs, path)
	if err == nil && merged.entries != entries {
		merged.close()
		err = corruptf(path, 0, "reads back %d entries, %d written", merged.entries, entries)
	}
	if err != nil {
		abandon()
		return fmt.Errorf("open merged user state run: %w", err)
	}
	newRuns := append(append(slices.Clone(runs[:j]), merged), runs[j+len(in):]...)
	m := s.published.clone()
	m.NextFileNumber = s.nextFile
	m.Obsolete = slices.Clone(s.obsolete)
	for _, r := range in {
		m.Obsolete = append(m.Obsolete, usersDirName+"/"+filepath.Base(r.path))
	}
	mp := m.project(p.name)
	mp.UserState = nil
	for _, r := range newRuns {
		mp.UserState = append(mp.UserState, manifestUserState{File: filepath.Base(r.path), Entries: r.entries})
	}
	if err := s.publishManifestLocked(m); err != nil {
		if manifestUntouched(err) {
			merged.close()
			abandon()
			return fmt.Errorf("user state merge: publish manifest: %w", err)
		}
		return s.failStore(fmt.Errorf("user state merge: publish manifest: %w", err))
	}
	p.mu.Lock()
	p.ustate.runs = newRuns
	p.mu.Unlock()
	for _, r := range in {
		sharedBlockCache.forgetOwner(r) // a view may still read it; its handle closes with it
	}
	s.removeObsoleteLocked()
	s.log.Info("user state runs merged", "project", p.name, "inputs", len(in), "entries", entries, "file", file)
	return nil
}

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
	"io"
	"path/filepath"
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
	var out int
	err = s.writeMergeTemp(tmp, func(w io.Writer) error {
		var err error
		if out, err = writeUserState(w, next); err == nil && out != counts.in-counts.shadowed-counts.dropped {
			err = fmt.Errorf("wrote %d entries from %d in, %d shadowed, %d tombstones dropped", out, counts.in, counts.shadowed, counts.dropped)
		}
		return err
	})
	if err != nil {
		s.log.Warn("user state merge abandoned; its inputs stay", "project", p.name, "err", err)
		return fmt.Errorf("user state merge of project %s: %w", p.name, err)
	}
	return s.publishUserStateMerge(p, in, tmp, out)
}

// publishUserStateMerge names the merged run, publishes the manifest that
// swaps it for in, installs it and deletes the inputs.
func (s *Store) publishUserStateMerge(p *Project, in []*userStateRun, tmp string, entries int) error {
	var newRuns []*userStateRun
	var at int
	var merged *userStateRun
	return s.publishRunMerge(p, runMerge{
		tmp: tmp, fileName: userStateFileName,
		inputs: func() (names []string, ok bool) {
			if newRuns, at, ok = spliceRuns(p.ustate.runs, in); ok {
				names = runNames(in, func(r *userStateRun) string { return r.path })
			}
			return names, ok
		},
		open: func(path string) error {
			r, err := openUserStateRun(s.fs, path)
			if err == nil && r.entries != entries {
				r.close()
				err = corruptf(path, 0, "reads back %d entries, %d written", r.entries, entries)
			}
			merged, newRuns[at] = r, r
			return err
		},
		closeOutput: func() { merged.close() },
		manifest: func(mp *manifestProject) {
			mp.UserState = nil
			for _, r := range newRuns {
				mp.UserState = append(mp.UserState, manifestUserState{File: filepath.Base(r.path), Entries: r.entries})
			}
		},
		install: func() {
			p.ustate.runs = newRuns
			for _, r := range in {
				sharedBlockCache.forgetOwner(r) // a view may still read it; its handle closes with it
			}
		},
	})
}

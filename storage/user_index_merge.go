package storage

// Background merges of user index runs (user_index.go), as for user
// state runs (user_state_merge.go): a flush only adds the run of its new
// users; the compactor merges the newest runs, size-tiered by entries
// (each run more than twice the newer ones together: O(log users) runs,
// each user rewritten O(log users) times), writing a temp file through
// the compaction I/O throttle without a lock and publishing it under
// flushMu (publishRunMerge). The writer checks that the output holds one
// entry per user of its range.

import (
	"io"
	"path/filepath"
	"slices"
)

// maxUserIndexRuns bounds a project's user index runs when the compactor
// is off or behind: past it a flush merges the newest runs itself.
const maxUserIndexRuns = 12

// pickUserIndexMerge returns the first of the runs to merge (runs[i:]),
// if a merge is due.
func pickUserIndexMerge(runs []*userIndexRun) (int, bool) {
	suffix := make([]int, len(runs)+1)
	for i := len(runs) - 1; i >= 0; i-- {
		suffix[i] = suffix[i+1] + runs[i].entries
	}
	for i := 0; i+1 < len(runs); i++ {
		if runs[i].entries <= 2*suffix[i+1] {
			return i, true
		}
	}
	return 0, false
}

// mergeUserIndexDue merges p's user index runs if a merge is due.
// REQUIRES: s.compactMu held.
func (s *Store) mergeUserIndexDue(p *Project) error {
	p.mu.RLock()
	runs := slices.Clone(p.users.runs)
	p.mu.RUnlock()
	i, ok := pickUserIndexMerge(runs)
	if !ok {
		return nil
	}
	in := runs[i:]
	first, end := in[0].first, in[len(in)-1].end
	next, err := mergedUserIndex(in)
	if err != nil {
		return err
	}
	tmp := s.path(usersDirName, "merge-"+p.name+".uix"+tmpSuffix)
	if err := s.writeMergeTemp(tmp, func(w io.Writer) error { return writeUserIndexTo(w, first, end, next) }); err != nil {
		s.log.Warn("user index merge abandoned; its inputs stay", "project", p.name, "err", err)
		return err
	}
	var newRuns []*userIndexRun
	var at int
	var merged *userIndexRun
	return s.publishRunMerge(p, runMerge{
		tmp: tmp, fileName: userIndexFileName,
		inputs: func() (names []string, ok bool) {
			if newRuns, at, ok = spliceRuns(p.users.runs, in); ok {
				names = runNames(in, func(r *userIndexRun) string { return r.path })
			}
			return names, ok
		},
		open: func(path string) error {
			r, err := openUserIndexRun(s.fs, path)
			if err == nil && (r.first != first || r.end != end) {
				r.close()
				err = corruptf(path, 0, "covers users [%d, %d), merged [%d, %d)", r.first, r.end, first, end)
			}
			merged, newRuns[at] = r, r
			return err
		},
		closeOutput: func() { merged.close() },
		manifest: func(mp *manifestProject) {
			mp.UserIndex = nil
			for _, r := range newRuns {
				mp.UserIndex = append(mp.UserIndex, manifestUserIndex{File: filepath.Base(r.path), First: int(r.first), End: int(r.end)})
			}
		},
		install: func() {
			p.users.runs = newRuns
			// Lookups read runs under p.mu only: the inputs can close now.
			for _, r := range in {
				sharedBlockCache.forgetOwner(r)
				r.close()
			}
		},
	})
}

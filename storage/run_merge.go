package storage

// Publishing a run merge made in the background (user state runs,
// user_state_merge.go; user index runs, user_index_merge.go): the merge
// wrote and fsynced a temp file without a lock; under flushMu this names
// it, publishes the manifest that swaps it for its inputs, installs it
// and deletes the inputs. Flushes only append runs and merges run one at
// a time (compactMu), so the inputs are still live and adjacent; if they
// are not, it is a bug and nothing changes. A failure before the manifest
// leaves the inputs live and the numbered output listed as obsolete; one
// at or after the manifest's temp file's fsync stops the store (as a
// flush's does).

import (
	"fmt"
	"io"
	"path/filepath"
	"slices"
)

// writeMergeTemp writes a merge's output to tmp through the compaction
// I/O throttle and fsyncs it; on failure nothing is left.
func (s *Store) writeMergeTemp(tmp string, write func(io.Writer) error) error {
	th, done := s.compactionThrottleFor()
	defer done()
	f, err := s.fs.Create(tmp)
	if err != nil {
		return fmt.Errorf("create %s: %w", tmp, err)
	}
	err = write(th.writer(f))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		s.fs.Remove(tmp)
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	return nil
}

// spliceRuns finds in (adjacent, in order) among live and returns live
// with them replaced by one zero slot at index at, for the output.
func spliceRuns[R comparable](live, in []R) (out []R, at int, ok bool) {
	for k := 0; k+len(in) <= len(live); k++ {
		if slices.Equal(live[k:k+len(in)], in) {
			var zero R
			out = append(append(slices.Clone(live[:k]), zero), live[k+len(in):]...)
			return out, k, true
		}
	}
	return nil, 0, false
}

// runNames are the base names of runs' files.
func runNames[R any](runs []R, path func(R) string) []string {
	names := make([]string, len(runs))
	for i, r := range runs {
		names[i] = filepath.Base(path(r))
	}
	return names
}

// runMerge is one merge's part in publishRunMerge.
type runMerge struct {
	tmp      string              // the merged run, written and synced
	fileName func(uint64) string // its name by file number
	// inputs checks (under p.mu, shared) that the inputs are live and
	// adjacent, and returns their file names in the users directory.
	inputs func() ([]string, bool)
	// open opens and checks the output once named at path.
	open        func(path string) error
	closeOutput func()
	// manifest sets the project's list of runs with the output in place
	// of the inputs; install does the same in memory (under p.mu).
	manifest func(mp *manifestProject)
	install  func()
}

func (s *Store) publishRunMerge(p *Project, m runMerge) error {
	s.flushMu.Lock()
	defer s.flushMu.Unlock()
	if err := s.failure(); err != nil {
		s.fs.Remove(m.tmp)
		return err
	}
	p.mu.RLock()
	inputs, ok := m.inputs()
	p.mu.RUnlock()
	if !ok {
		s.fs.Remove(m.tmp)
		return fmt.Errorf("BUG: runs of project %s changed under a merge", p.name)
	}
	file := m.fileName(s.nextFile)
	s.nextFile++
	path := s.path(usersDirName, file)
	abandon := func() { // see publishCompaction
		s.fs.Remove(path)
		s.obsolete = append(s.obsolete, usersDirName+"/"+file)
	}
	if err := s.fs.Rename(m.tmp, path); err != nil {
		s.fs.Remove(m.tmp)
		abandon()
		return fmt.Errorf("rename %s: %w", m.tmp, err)
	}
	if err := s.fs.SyncDir(s.path(usersDirName)); err != nil {
		abandon()
		return fmt.Errorf("fsync directory %s: %w", s.path(usersDirName), err)
	}
	if err := m.open(path); err != nil {
		abandon()
		return fmt.Errorf("open merged run: %w", err)
	}
	man := s.published.clone()
	man.NextFileNumber = s.nextFile
	man.Obsolete = append([]string(nil), s.obsolete...)
	for _, in := range inputs {
		man.Obsolete = append(man.Obsolete, usersDirName+"/"+in)
	}
	m.manifest(man.project(p.name))
	if err := s.publishManifestLocked(man); err != nil {
		if manifestUntouched(err) {
			m.closeOutput()
			abandon()
			return fmt.Errorf("run merge: publish manifest: %w", err)
		}
		return s.failStore(fmt.Errorf("run merge: publish manifest: %w", err))
	}
	p.mu.Lock()
	m.install()
	p.mu.Unlock()
	s.removeObsoleteLocked()
	s.log.Info("runs merged", "project", p.name, "inputs", len(inputs), "file", file)
	return nil
}

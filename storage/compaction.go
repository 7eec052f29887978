package storage

// Compaction merges segments of one (project, day) — the flushes of the
// day, late arrivals, and the previous compaction's output — into one
// segment sorted by (user number, time), dropping repeats by dedup key
// (compaction_merge.go). Which days and which of their segments are
// merged, and when, is compaction_picker.go's business.
//
// One run:
//
//  1. Plan the merge of the inputs (compaction_merge.go: which input
//     each output row comes from, which rows are repeats). The row count
//     is checked on every run: rows out = rows in − duplicates removed,
//     counted per input, or the run aborts, keeps its inputs and records
//     the difference.
//  2. Write the output, a column at a time, to
//     segments/compaction.seg.tmp and fsync it; read every value back and
//     compare it with what was written. Reads and writes are paced by
//     Options.CompactionBytesPerSecond (compaction_throttle.go).
//  3. Under flushMu (no flush or other publish in between): rename the
//     file to its number, fsync the directory, and publish a manifest
//     that names the output instead of the inputs and lists the inputs as
//     obsolete. This is the commit point. A crash before it leaves the
//     old manifest in charge: the output is a .tmp file or numbered at or
//     above its NextFileNumber, and open removes it.
//  4. Install the output in memory (queries switch at once), then delete
//     the inputs, fsync the directory and drop them from the obsolete
//     list. A crash in between leaves them listed as obsolete in the
//     durable manifest: open deletes them.
//
// Compactions run one at a time (compactMu), on one goroutine, so they
// take at most one core away from ingest and queries. Readers holding a
// Snapshot with an input keep reading it: the open handle keeps the
// deleted file's bytes until the last reference goes.

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"sync"
	"time"
)

// Segment levels (manifestSegment.Level).
const (
	levelFlushed     = 0 // written by a flush: rows in time order
	levelMergedNew   = 1 // a merge of a day's newer segments
	levelMergedWhole = 2 // a merge of all of a day's segments
)

// compactionTmpName is the temp file a compaction writes before it is
// named; one compaction runs at a time.
const compactionTmpName = "compaction.seg" + tmpSuffix

// CompactionResult describes one compaction run.
type CompactionResult struct {
	Project    string
	Day        string
	Level      int
	Inputs     []string // segment files merged
	Output     string   // the segment file written ("" when nothing ran)
	RowsIn     int
	RowsOut    int
	Duplicates int // rows dropped as repeats by dedup key
	BytesIn    int64
	BytesOut   int64
	Took       time.Duration
}

// CompactionStats counts compaction runs since the store opened.
type CompactionStats struct {
	Runs, Failures       int64
	RowsIn, RowsOut      int64
	Duplicates           int64
	BytesIn, BytesOut    int64
	LastError            string // "" when the last run succeeded
	LastErrorAt          time.Time
	Last                 CompactionResult
	MaxSegmentsPerDay    int // over all projects and days, now
	DaysWithManySegments int // days holding more than CompactionMaxSegments segments, now
}

type compactionStats struct {
	mu sync.Mutex
	st CompactionStats
}

func (c *compactionStats) record(res CompactionResult, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		c.st.Failures++
		c.st.LastError, c.st.LastErrorAt = err.Error(), time.Now()
		return
	}
	c.st.Runs++
	c.st.RowsIn += int64(res.RowsIn)
	c.st.RowsOut += int64(res.RowsOut)
	c.st.Duplicates += int64(res.Duplicates)
	c.st.BytesIn += res.BytesIn
	c.st.BytesOut += res.BytesOut
	c.st.LastError = ""
	c.st.Last = res
}

// CompactionStats reports the compaction counters and the current
// segments-per-day figures.
func (s *Store) CompactionStats() CompactionStats {
	s.compaction.mu.Lock()
	st := s.compaction.st
	s.compaction.mu.Unlock()
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, p := range s.projects {
		p.mu.RLock()
		perDay := map[string]int{}
		for _, ref := range p.segments {
			perDay[ref.Day]++
		}
		p.mu.RUnlock()
		for _, n := range perDay {
			st.MaxSegmentsPerDay = max(st.MaxSegmentsPerDay, n)
			if n > s.opts.CompactionMaxSegments {
				st.DaysWithManySegments++
			}
		}
	}
	return st
}

// ErrNothingToCompact is returned by CompactDay for a day that is one
// merged segment already, or has none.
var ErrNothingToCompact = errors.New("nothing to compact")

// CompactDay merges all segments of project's day (YYYY-MM-DD) into one
// now, whatever the picker would say.
func (s *Store) CompactDay(project, day string) (CompactionResult, error) {
	p, ok := s.anyProject(project)
	if !ok {
		return CompactionResult{}, fmt.Errorf("compact: no project %q", project)
	}
	if p.shards != nil {
		return s.compactDayShards(p, day)
	}
	s.compactMu.Lock()
	defer s.compactMu.Unlock()
	inputs := p.daySegments(day)
	if len(inputs) == 0 || (len(inputs) == 1 && inputs[0].Level == levelMergedWhole) {
		return CompactionResult{Project: project, Day: day}, ErrNothingToCompact
	}
	return s.compactRecorded(p, day, inputs, levelMergedWhole)
}

// Compact merges every day of every project that holds more than one
// segment, or one not merged yet, into one segment (tests, operators).
func (s *Store) Compact() error {
	for _, p := range s.storageProjects() {
		for _, day := range p.segmentDays() {
			if _, err := s.CompactDay(p.name, day); err != nil && !errors.Is(err, ErrNothingToCompact) {
				return err
			}
		}
	}
	return nil
}

// daySegments returns the live segments of day, in storage order.
func (p *Project) daySegments(day string) []*SegmentRef {
	p.mu.RLock()
	defer p.mu.RUnlock()
	var out []*SegmentRef
	for _, ref := range p.segments {
		if ref.Day == day {
			out = append(out, ref)
		}
	}
	return out
}

// segmentDays lists the days that have segments, sorted.
func (p *Project) segmentDays() []string {
	p.mu.RLock()
	defer p.mu.RUnlock()
	seen := map[string]bool{}
	var days []string
	for _, ref := range p.segments {
		if !seen[ref.Day] {
			seen[ref.Day] = true
			days = append(days, ref.Day)
		}
	}
	sort.Strings(days)
	return days
}

// compactRecorded is compact with its outcome counted and logged.
// REQUIRES: s.compactMu held.
func (s *Store) compactRecorded(p *Project, day string, inputs []*SegmentRef, level int) (CompactionResult, error) {
	res, err := s.compact(p, day, inputs, level)
	s.compaction.record(res, err)
	if err != nil {
		err = fmt.Errorf("compact project %s day %s: %w", p.name, day, err)
		s.log.Error("compaction failed; inputs kept", "project", p.name, "day", day, "inputs", res.Inputs, "err", err)
		return res, err
	}
	s.log.Info("compaction done", "project", p.name, "day", day, "level", level, "inputs", len(inputs),
		"rows_in", res.RowsIn, "rows_out", res.RowsOut, "duplicates", res.Duplicates,
		"bytes_in", res.BytesIn, "bytes_out", res.BytesOut, "took", res.Took.Round(time.Millisecond))
	return res, nil
}

// compact merges inputs (live segments of p's day, in storage order) into
// one segment of the given level. See the file comment for the steps.
// REQUIRES: s.compactMu held.
func (s *Store) compact(p *Project, day string, inputs []*SegmentRef, level int) (CompactionResult, error) {
	started := time.Now()
	res := CompactionResult{Project: p.name, Day: day, Level: level}
	segs := make([]*Segment, len(inputs))
	for i, ref := range inputs {
		res.Inputs = append(res.Inputs, ref.File)
		res.BytesIn += ref.Bytes
		segs[i] = ref.Segment
	}
	if err := s.failure(); err != nil {
		return res, err
	}
	s.flushMu.Lock()
	schema, ok := s.publishedColumnsLocked(p.name)
	s.flushMu.Unlock()
	if !ok {
		return res, fmt.Errorf("BUG: project %s has segments but no manifest entry", p.name)
	}
	th, release := s.compactionThrottleFor()
	defer release()
	name := "project " + p.name + " day " + day
	out, err := s.mergeForCompaction(name, segs, schema, th)
	if err != nil {
		return res, err
	}
	for i := range inputs {
		res.RowsIn += out.inRows[i]
		res.Duplicates += out.dups[i]
	}
	res.RowsOut = out.rows

	tmp := s.path(segDirName, compactionTmpName)
	meta, _ := json.Marshal(map[string]any{"project": p.name, "day": day, "level": level, "order": "user,time"})
	if err := s.writeCompactionOutput(tmp, meta, out, th); err != nil {
		s.fs.Remove(tmp)
		return res, err
	}
	ref, err := s.publishCompaction(p, day, inputs, level, tmp)
	if err != nil {
		return res, err
	}
	res.Output, res.BytesOut = ref.File, ref.Bytes
	res.Took = time.Since(started)
	return res, nil
}

// compactionOutput is a merge ready to be written: the streaming one
// (compaction_merge.go) or, when an input does not allow it, the
// in-memory one.
type compactionOutput struct {
	rows   int
	inRows []int // rows read per input, in input order
	dups   []int // duplicates removed per input
	// write writes the segment; check compares its read-back with what
	// was written.
	write func(w io.Writer, meta []byte) error
	check func(seg *Segment) error
}

// mergeForCompaction merges inputs by streaming (planMerge), or in memory
// when the inputs do not allow streaming (errMergeFallback: not expected
// of segments this arb writes; logged).
func (s *Store) mergeForCompaction(name string, segs []*Segment, schema []Column, th *compactionThrottle) (*compactionOutput, error) {
	plan, err := planMerge(name, segs, schema, th)
	if err == nil {
		return &compactionOutput{rows: plan.rows, inRows: plan.inRows, dups: plan.dups,
			write: func(w io.Writer, meta []byte) error { _, err := plan.write(w, meta); return err },
			check: plan.checkWritten}, nil
	}
	if !errors.Is(err, errMergeFallback) {
		return nil, err
	}
	s.log.Warn("compaction merges in memory", "reason", err)
	merged, err := mergeSegments(name, segs, schema)
	if err != nil {
		return nil, err
	}
	return &compactionOutput{rows: merged.rows, inRows: merged.inRows, dups: merged.dups,
		write: func(w io.Writer, meta []byte) error {
			_, err := WriteSegment(w, meta, merged.rows, merged.cols)
			return err
		},
		check: merged.checkWritten}, nil
}

// writeCompactionOutput writes out to path through the I/O throttle,
// fsyncs it and reads every value back.
func (s *Store) writeCompactionOutput(path string, meta []byte, out *compactionOutput, th *compactionThrottle) error {
	f, err := s.fs.Create(path)
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	w := bufio.NewWriterSize(th.writer(f), 1<<20)
	err = out.write(w, meta)
	if err == nil {
		err = w.Flush()
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	rf, err := s.fs.Open(path)
	if err != nil {
		return fmt.Errorf("reopen %s: %w", path, err)
	}
	defer rf.Close()
	st, err := rf.Stat()
	if err != nil {
		return fmt.Errorf("stat %s: %w", path, err)
	}
	seg, err := OpenSegment(rf, st.Size(), path)
	if err != nil {
		return err
	}
	if err := out.check(seg); err != nil {
		return fmt.Errorf("read back: %w", err)
	}
	return nil
}

// publishCompaction names the written output, publishes the manifest
// that swaps it for inputs, installs it and deletes the inputs.
func (s *Store) publishCompaction(p *Project, day string, inputs []*SegmentRef, level int, tmp string) (*SegmentRef, error) {
	s.flushMu.Lock()
	defer s.flushMu.Unlock()
	if err := s.failure(); err != nil {
		s.fs.Remove(tmp)
		return nil, err
	}
	if !p.allLive(inputs) {
		s.fs.Remove(tmp)
		return nil, fmt.Errorf("BUG: an input segment stopped being live during the compaction")
	}
	file := segmentFileName(s.nextFile)
	s.nextFile++
	// From the rename on, a failure may leave a numbered file nothing
	// names (a rename can fail having taken effect): it is removed and
	// listed as obsolete, since the removal may not be durable
	// (file_accounting.go).
	abandon := func() {
		s.fs.Remove(s.path(segDirName, file))
		s.obsolete = append(s.obsolete, segDirName+"/"+file)
	}
	if err := s.fs.Rename(tmp, s.path(segDirName, file)); err != nil {
		s.fs.Remove(tmp)
		abandon()
		return nil, fmt.Errorf("rename %s: %w", tmp, err)
	}
	if err := s.fs.SyncDir(s.path(segDirName)); err != nil {
		abandon()
		return nil, fmt.Errorf("fsync directory %s: %w", s.path(segDirName), err)
	}
	ref, err := s.openSegment(file, day)
	if err != nil {
		abandon()
		return nil, fmt.Errorf("open compacted segment: %w", err)
	}
	ref.Level, ref.madeAt = level, time.Now()

	replaced := p.replacedSegments(inputs, ref)
	m := s.published.clone()
	m.NextFileNumber = s.nextFile
	var gone []string
	for _, in := range inputs {
		gone = append(gone, segDirName+"/"+in.File)
	}
	m.Obsolete = append(slices.Clone(s.obsolete), gone...)
	mp := m.project(p.name)
	mp.Segments = manifestSegments(replaced)
	if err := s.publishManifestLocked(m); err != nil {
		if manifestUntouched(err) {
			// A full disk or no descriptors before the manifest's temp
			// file held anything: the old manifest stands, the inputs
			// stay live, and the day is merged again later.
			ref.file.Close()
			abandon()
			return nil, fmt.Errorf("compaction: publish manifest: %w", err)
		}
		return nil, s.failStore(fmt.Errorf("compaction: publish manifest: %w", err))
	}
	p.mu.Lock()
	p.segments = replaced
	p.mu.Unlock()
	for _, in := range inputs {
		s.dedupIx.forget(in)
	}
	s.removeObsoleteLocked()
	return ref, nil
}

// allLive reports whether every ref is among p's live segments.
func (p *Project) allLive(refs []*SegmentRef) bool {
	p.mu.RLock()
	defer p.mu.RUnlock()
	for _, r := range refs {
		if !slices.Contains(p.segments, r) {
			return false
		}
	}
	return true
}

// replacedSegments returns p's live segments with inputs replaced by out,
// which takes the place of the first input (storage order: dedup keeps
// the first copy stored, and inputs are contiguous in time of storage
// for it).
func (p *Project) replacedSegments(inputs []*SegmentRef, out *SegmentRef) []*SegmentRef {
	p.mu.RLock()
	defer p.mu.RUnlock()
	next := make([]*SegmentRef, 0, len(p.segments))
	placed := false
	for _, ref := range p.segments {
		if !slices.Contains(inputs, ref) {
			next = append(next, ref)
			continue
		}
		if !placed {
			next = append(next, out)
			placed = true
		}
	}
	return next
}

func manifestSegments(refs []*SegmentRef) []manifestSegment {
	out := make([]manifestSegment, len(refs))
	for i, ref := range refs {
		out[i] = manifestSegment{File: ref.File, Day: ref.Day, Rows: ref.Segment.Rows(), Bytes: ref.Bytes, Level: ref.Level}
	}
	return out
}

// publishedColumnsLocked returns the durable event schema of project.
// REQUIRES: s.flushMu held.
func (s *Store) publishedColumnsLocked(project string) ([]Column, bool) {
	if mp := s.published.project(project); mp != nil {
		return slices.Clone(mp.Columns), true
	}
	return nil, false
}

// publishManifestLocked makes m the durable manifest. A failure leaves
// the manifest's state unknown: the caller must fail the store.
// REQUIRES: s.flushMu held.
func (s *Store) publishManifestLocked(m *manifestBody) error {
	data, err := encodeManifest(m)
	if err == nil {
		err = WriteFileAtomic(s.fs, s.path(manifestName), data)
	}
	if err != nil {
		return err
	}
	s.published = m
	s.obsolete = slices.Clone(m.Obsolete)
	return nil
}

// removeObsoleteLocked deletes the files the durable manifest lists as
// obsolete, fsyncs their directories and forgets the ones gone, so the
// next manifest stops listing them. A file that cannot be deleted stays
// listed and is tried again after the next publish or at open.
// REQUIRES: s.flushMu held.
func (s *Store) removeObsoleteLocked() {
	var kept []string
	dirs := map[string]bool{}
	for _, rel := range s.obsolete {
		err := s.fs.Remove(s.path(rel))
		if err != nil && !isNotExist(err) {
			s.log.Warn("remove obsolete file", "file", s.path(rel), "err", err)
			kept = append(kept, rel)
			continue
		}
		dirs[dirOf(rel)] = true
	}
	for d := range dirs {
		if err := s.fs.SyncDir(s.path(d)); err != nil {
			// Unknown whether the removals are durable: keep listing them.
			s.log.Warn("fsync directory after removals", "dir", s.path(d), "err", err)
			return
		}
	}
	s.obsolete = kept
}

func dirOf(rel string) string {
	for i := len(rel) - 1; i >= 0; i-- {
		if rel[i] == '/' {
			return rel[:i]
		}
	}
	return ""
}

// clone copies m deeply enough to change a project's segment list.
func (m *manifestBody) clone() *manifestBody {
	c := *m
	c.Projects = slices.Clone(m.Projects)
	c.Obsolete = slices.Clone(m.Obsolete)
	return &c
}

// project returns m's entry for name, nil if none.
func (m *manifestBody) project(name string) *manifestProject {
	for i := range m.Projects {
		if m.Projects[i].Name == name {
			return &m.Projects[i]
		}
	}
	return nil
}

// SegmentInfo describes one live segment, for operators (arb.segments).
type SegmentInfo struct {
	Project string
	Day     string
	File    string
	Level   int
	Rows    int
	Bytes   int64
}

// SegmentInfos lists the live segments of every project, by project and
// storage order.
func (s *Store) SegmentInfos() []SegmentInfo {
	var out []SegmentInfo
	for _, p := range s.storageProjects() {
		p.mu.RLock()
		for _, ref := range p.segments {
			out = append(out, SegmentInfo{Project: p.name, Day: ref.Day, File: ref.File, Level: ref.Level, Rows: ref.Segment.Rows(), Bytes: ref.Bytes})
		}
		p.mu.RUnlock()
	}
	return out
}

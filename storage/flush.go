package storage

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// Flush moves buffered rows into segments:
//
//  1. Under ingestMu held exclusively, freeze every non-empty memtable and
//     rotate the WAL: every batch acknowledged so far is now in a frozen
//     memtable and in a WAL file below newSeq.
//  2. Write one segment per (project, day) of the frozen rows, append the
//     new user numbers to each project's user dictionary, write a people
//     file where people changed; each file is durable before step 3.
//  3. Publish a manifest naming the old and new files with WALStartSeq =
//     newSeq. This is the commit point: a crash before it leaves the WAL
//     in charge (the orphan files are removed at open); after it the
//     segments are.
//  4. Install the segments in memory (queries switch from the frozen
//     memtables to them at once, under the project lock), then delete WAL
//     files below newSeq and the replaced people file.
//
// If a step before 3 fails, the frozen memtables stay visible and are
// written by the next flush (the flusher tries again at its next tick or
// request). So does a manifest publish that fails with a fault (disk
// full, out of descriptors) while creating or writing its temp file
// (manifestUntouched). If publishing the manifest fails otherwise, its
// state on disk is unknown, so the store stops taking writes (failStore).
func (s *Store) Flush() error { return s.flush(nil) }

// flush is Flush, committing bulk too when it is not nil (bulk.go): its
// identity observations are applied at the freeze, its staged segments
// are named by the manifest and installed with the flushed ones.
func (s *Store) flush(bulk *Bulk) error {
	s.flushMu.Lock()
	defer s.flushMu.Unlock()
	if err := s.failure(); err != nil {
		return err
	}
	started := time.Now()

	s.ingestMu.Lock()
	s.mu.RLock()
	projects := make([]*Project, 0, len(s.projects))
	for _, p := range s.projects {
		projects = append(projects, p)
	}
	s.mu.RUnlock()
	sort.Slice(projects, func(i, j int) bool { return projects[i].name < projects[j].name })
	pending := false
	for _, p := range projects {
		p.mu.Lock()
		if p.mem.len() > 0 {
			p.frozen = append(p.frozen, p.mem)
			p.mem = &memtable{}
		}
		pending = pending || len(p.frozen) > 0 || p.ustate.dirty() || p.peopleFile != ""
		p.mu.Unlock()
	}
	if bulk != nil {
		pending = true
		if err := bulk.applyLocked(); err != nil {
			s.ingestMu.Unlock()
			return fmt.Errorf("flush: bulk load: %w", err)
		}
	}
	// In cluster mode an entry may change nothing a flush writes but
	// the catalog (a new project): the manifest must still come to name
	// its index, or a log truncated by a snapshot would lose it.
	applied := s.applied.Load()
	pending = pending || applied > s.published.AppliedIndex
	if !pending {
		s.ingestMu.Unlock()
		return nil
	}
	newSeq, err := s.wal.Rotate()
	// In cluster mode the plans (the user state overlay above all) are
	// captured before ingest resumes: the manifest says the flush holds
	// exactly the entries up to applied, and the log's profile
	// operations ($add) are not idempotent — one applied after the
	// freeze but caught in the overlay would be applied again by the
	// replay after a restart. The WAL holds whole profiles, so a single
	// node captures them after the lock (a replayed one is rewritten
	// with the same value).
	var plans []*flushPlan
	planAll := func() {
		plans = make([]*flushPlan, len(projects))
		for i, p := range projects {
			plans[i] = p.planFlush()
		}
	}
	if err == nil && s.opts.Log != nil {
		planAll()
	}
	s.ingestMu.Unlock()
	if err != nil {
		return fmt.Errorf("flush: rotate write-ahead log: %w", err)
	}
	if plans == nil {
		planAll()
	}
	rows := 0
	for _, pl := range plans {
		if err := s.writeFlushFiles(pl); err != nil {
			s.abandonFlush(plans)
			return fmt.Errorf("flush: project %s: %w", pl.project.name, err)
		}
		rows += pl.rows
	}
	if bulk != nil {
		if err := bulk.attach(plans); err != nil {
			s.abandonFlush(plans)
			return fmt.Errorf("flush: bulk load: %w", err)
		}
		rows += bulk.rows
	}

	m := &manifestBody{Version: manifestVersion, WALStartSeq: newSeq, NextFileNumber: s.nextFile,
		AppliedIndex: applied, Obsolete: slices.Clone(s.obsolete)}
	for _, pl := range plans {
		m.Projects = append(m.Projects, pl.manifestEntry())
		if pl.peopleFile != "" {
			m.Obsolete = append(m.Obsolete, peopleDir+"/"+pl.peopleFile)
		}
		m.Obsolete = append(m.Obsolete, pl.obsoleteRuns...)
		for _, r := range pl.ustate.obsolete {
			m.Obsolete = append(m.Obsolete, usersDirName+"/"+filepath.Base(r.path))
		}
	}
	if err := s.publishManifestLocked(m); err != nil {
		if manifestUntouched(err) {
			s.abandonFlush(plans)
			return fmt.Errorf("flush: publish manifest (%s; the old one stands, the next flush tries again): %w", faultKindOf(err), err)
		}
		return s.failStore(fmt.Errorf("flush: publish manifest: %w", err))
	}

	if bulk != nil && bulk.p.shards != nil {
		// A snapshot sees every shard's part of the load or none.
		bulk.p.shards.mu.Lock()
	}
	for _, pl := range plans {
		pl.install()
	}
	if bulk != nil && bulk.p.shards != nil {
		bulk.p.shards.mu.Unlock()
	}
	if err := s.wal.RemoveBefore(newSeq); err != nil {
		s.log.Warn("flush: remove old write-ahead log files", "err", err)
	}
	s.removeObsoleteLocked()
	s.requestCompaction()
	s.log.Info("flush done", "rows", rows, "segments", s.segmentCount(), "took", time.Since(started).Round(time.Millisecond))
	return nil
}

// manifestUntouched reports whether a failed manifest publish failed
// with a fault (disk full, out of descriptors) while creating or writing
// its temp file: PublishFile then removed the temp file and the durable
// manifest is the old one, so the flush can be abandoned like one that
// failed before it and tried again. A failure at or after the temp
// file's fsync (rename, directory fsync) leaves the outcome unknown.
func manifestUntouched(err error) bool {
	var pe *os.PathError
	if faultKindOf(err) == FaultNone || !errors.As(err, &pe) || !strings.HasSuffix(pe.Path, tmpSuffix) {
		return false
	}
	switch pe.Op {
	case "open", "create", "write": // OSFS's Create is an open(2)
		return true
	}
	return false
}

// flushPlan is what one flush does for one project: the inputs captured
// at freeze time and the files written for them.
type flushPlan struct {
	project *Project
	// inputs, captured under the project lock
	frozen      []*memtable
	sources     []flushSource // frozen with their sealed chunks
	columns     []Column
	bigInts     []string
	peopleCols  []Column
	newUsers    []string // users numbered since the last flush, in order
	usersFirst  int      // number of newUsers[0]: the users durable before
	usersTotal  int      // users durable once newUsers is written
	usersBytes  int64    // user file length before this flush
	oldRuns     []*userIndexRun
	unindexed   []userIndexEntry // durable users no run covers yet
	ustate      *userStatePlan
	groupCols   []Column
	rows        int
	info        ProjectInfo
	oldSegments []*SegmentRef
	peopleFile  string // a people file of the format before user state runs, dropped by this flush
	// outputs
	numbered       []string // every segment and people file numbered for this plan, relative to the data directory
	segments       []*SegmentRef
	usersBytesDone int64
	userChunks     []userChunk     // appended to the users file
	runs           []*userIndexRun // the user index once installed
	createdRuns    []*userIndexRun // runs this flush wrote (some merged away again)
	obsoleteRuns   []string        // run files this flush replaced, relative paths
}

func (p *Project) planFlush() *flushPlan {
	p.mu.Lock()
	defer p.mu.Unlock()
	pl := &flushPlan{
		project:     p,
		frozen:      append([]*memtable(nil), p.frozen...),
		sources:     flushSources(p.frozen),
		columns:     p.events.Columns(),
		bigInts:     p.events.bigIntColumns(),
		peopleCols:  p.people.Columns(),
		groupCols:   p.groups.Columns(),
		newUsers:    p.users.fresh[:len(p.users.fresh):len(p.users.fresh)],
		usersFirst:  p.users.persisted,
		usersTotal:  p.users.Len(),
		usersBytes:  p.users.fileBytes,
		oldRuns:     slices.Clone(p.users.runs),
		unindexed:   p.users.unindexed,
		info:        p.Info(),
		oldSegments: append([]*SegmentRef(nil), p.segments...),
		peopleFile:  p.peopleFile,
	}
	for _, m := range pl.frozen {
		pl.rows += m.len()
	}
	pl.ustate = p.ustate.freeze()
	return pl
}

// writeFlushFiles writes and syncs the plan's segments, user chunk and
// people file. REQUIRES: s.flushMu held (it numbers files).
func (s *Store) writeFlushFiles(pl *flushPlan) error {
	segs, err := s.writeSegments(pl.project.name, pl.sources, pl.columns, &pl.numbered)
	pl.segments = append(pl.segments, segs...)
	if err != nil {
		return err
	}
	pl.usersBytesDone, pl.userChunks, err = appendUserChunks(s.fs, s.path(usersDirName, usersFileName(pl.project.name)), pl.usersBytes, uint32(pl.usersFirst), pl.newUsers)
	if err != nil {
		return err
	}
	if err := s.writeUserIndex(pl); err != nil {
		return err
	}
	return pl.ustate.write(s.fs, func() string {
		file := userStateFileName(s.nextFile)
		s.nextFile++
		pl.numbered = append(pl.numbered, usersDirName+"/"+file)
		return s.path(usersDirName, file)
	})
}

// writeSegments writes and syncs one segment per UTC day of the rows of
// sources, typed by columns, and opens them; each file it numbers is
// added to numbered (so that a caller giving up removes it), and the
// segments opened before an error are returned with it.
// REQUIRES: s.flushMu held (it numbers files).
func (s *Store) writeSegments(name string, sources []flushSource, columns []Column, numbered *[]string) ([]*SegmentRef, error) {
	table, err := buildFlushTable(sources, columns)
	if err != nil {
		return nil, err
	}
	return s.writeTable(name, table, numbered, segmentFileName)
}

// segmentWriters recycles the buffers segments are written through: a
// flush or a bulk load writes one segment per day of its rows.
var segmentWriters = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 1<<20) }}

// writeTable is writeSegments of the rows of a built table, each file
// named fileName(its number): segmentFileName, or a bulk load's
// stagedFileName.
// REQUIRES: s.flushMu held.
func (s *Store) writeTable(name string, table *flushTable, numbered *[]string, fileName func(uint64) string) ([]*SegmentRef, error) {
	var segs []*SegmentRef
	for _, day := range table.days() {
		n := s.nextFile
		s.nextFile++
		file := fileName(n)
		path := s.path(segDirName, file)
		*numbered = append(*numbered, segDirName+"/"+file)
		cols := table.segmentColumns(day)
		rows := len(day.rows)
		meta, _ := json.Marshal(map[string]string{"project": name, "day": day.day})
		err := PublishFile(s.fs, path, func(f File) error {
			w := segmentWriters.Get().(*bufio.Writer)
			defer segmentWriters.Put(w)
			w.Reset(f)
			defer w.Reset(nil) // keep no file alive in the pool
			if _, err := WriteSegment(w, meta, rows, cols); err != nil {
				return err
			}
			return w.Flush()
		})
		if err != nil {
			return segs, err
		}
		ref, err := s.openSegment(file, day.day)
		if err != nil {
			return segs, fmt.Errorf("reopen just written segment: %w", err)
		}
		ref.madeAt = time.Now()
		if ref.Segment.Rows() != rows {
			ref.file.Close()
			return segs, fmt.Errorf("segment %s holds %d rows, wrote %d", path, ref.Segment.Rows(), rows)
		}
		if invariantsEnabled {
			if err := checkSegmentTimes(ref.Segment, cols[0].Ints); err != nil {
				ref.file.Close()
				return segs, err
			}
		}
		segs = append(segs, ref)
	}
	return segs, nil
}

// writeUserIndex writes a run indexing the users no run covers yet (the
// plan's new users and any unindexed ones). The compactor merges runs
// (user_index_merge.go); a flush merges the newest two only past
// maxUserIndexRuns (the compactor off or behind). REQUIRES: s.flushMu
// held.
func (s *Store) writeUserIndex(pl *flushPlan) error {
	first := 0 // the runs' end: unindexed users, then new ones, follow
	if len(pl.oldRuns) > 0 {
		first = int(pl.oldRuns[len(pl.oldRuns)-1].end)
	}
	if pl.usersTotal == first {
		return nil
	}
	entries := make([]userIndexEntry, 0, len(pl.unindexed)+len(pl.newUsers))
	entries = append(entries, pl.unindexed...)
	for i, id := range pl.newUsers {
		entries = append(entries, userIndexEntry{hash: hashUserID(id), number: uint32(pl.usersFirst + i)})
	}
	if len(entries) != pl.usersTotal-first {
		return fmt.Errorf("BUG: %d users to index for [%d, %d)", len(entries), first, pl.usersTotal)
	}
	sortUserIndexEntries(entries)
	write := func(make func(path string) (*userIndexRun, error)) (*userIndexRun, error) {
		file := userIndexFileName(s.nextFile)
		s.nextFile++
		pl.numbered = append(pl.numbered, usersDirName+"/"+file)
		r, err := make(s.path(usersDirName, file))
		if err == nil {
			pl.createdRuns = append(pl.createdRuns, r)
		}
		return r, err
	}
	r, err := write(func(path string) (*userIndexRun, error) {
		return writeUserIndexRun(s.fs, path, uint32(first), uint32(pl.usersTotal), sliceEntries(entries))
	})
	if err != nil {
		return err
	}
	runs := append(slices.Clone(pl.oldRuns), r)
	for len(runs) > maxUserIndexRuns {
		in := runs[len(runs)-2:]
		merged, err := write(func(path string) (*userIndexRun, error) { return mergeUserIndexRuns(s.fs, path, in) })
		if err != nil {
			return err
		}
		for _, old := range in {
			pl.obsoleteRuns = append(pl.obsoleteRuns, usersDirName+"/"+filepath.Base(old.path))
		}
		runs = append(runs[:len(runs)-2], merged)
	}
	pl.runs = runs
	return nil
}

// abandonFlush undoes a flush that failed before its manifest: new files
// are closed and removed, people are marked dirty again. Frozen memtables
// stay in place for the next flush.
func (s *Store) abandonFlush(plans []*flushPlan) {
	for _, pl := range plans {
		for _, ref := range pl.segments {
			ref.file.Close()
		}
		pl.segments = nil
		for _, r := range pl.createdRuns {
			r.close()
		}
		pl.createdRuns, pl.runs, pl.obsoleteRuns = nil, nil, nil
		// A removal is durable only after a SyncDir: until a manifest
		// lists them as obsolete, a crash could bring these files back
		// unaccounted for (file_accounting.go).
		for _, rel := range pl.numbered {
			s.fs.Remove(s.path(rel))
			s.obsolete = append(s.obsolete, rel)
		}
		pl.numbered = nil
		pl.project.mu.Lock()
		pl.project.ustate.abandon(pl.ustate)
		pl.project.countUserStateLocked()
		pl.project.mu.Unlock()
	}
}

func (pl *flushPlan) manifestEntry() manifestProject {
	mp := manifestProject{
		Name: pl.info.Name, Token: pl.info.Token, Secret: pl.info.Secret, Shards: shardsField(pl.info.Shards),
		Columns: pl.columns, BigInts: pl.bigInts, PeopleColumns: pl.peopleCols, GroupColumns: pl.groupCols,
		Users: pl.usersTotal, UsersBytes: pl.usersBytesDone,
	}
	mp.Segments = manifestSegments(append(slices.Clone(pl.oldSegments), pl.segments...))
	runs := pl.runs
	if runs == nil {
		runs = pl.oldRuns
	}
	for _, r := range runs {
		mp.UserIndex = append(mp.UserIndex, manifestUserIndex{File: filepath.Base(r.path), First: int(r.first), End: int(r.end)})
	}
	ust := pl.ustate.runs
	if ust == nil {
		ust = pl.ustate.oldRuns
	}
	for _, r := range ust {
		mp.UserState = append(mp.UserState, manifestUserState{File: filepath.Base(r.path), Entries: r.entries})
	}
	return mp
}

// install makes the flushed state the live one. The manifest lists the
// people file it replaced as obsolete.
// REQUIRES: the manifest naming pl's files is durable.
func (pl *flushPlan) install() {
	p := pl.project
	p.mu.Lock()
	defer p.mu.Unlock()
	p.segments = append(p.segments, pl.segments...)
	p.frozen = p.frozen[len(pl.frozen):]
	var freed int64
	for _, m := range pl.frozen {
		freed += m.bytes
	}
	p.store.buffer.add(-freed)
	runs := pl.runs
	if runs == nil {
		runs = pl.oldRuns
	}
	p.users.persist(pl.usersTotal-pl.usersFirst, pl.usersBytesDone, pl.userChunks, runs)
	for _, r := range pl.createdRuns {
		if !slices.Contains(runs, r) {
			r.close() // merged away within this flush
		}
	}
	if pl.peopleFile == p.peopleFile {
		p.peopleFile = "" // its content is in the runs installed now
	}
	p.ustate.install(pl.ustate)
	p.countUserStateLocked()
}

// dayRows are rows laid out by buildSegmentColumns (a sealed chunk's, in
// ingest order; splitByDay's of one UTC day, sorted by time).
type dayRows struct {
	day   string
	rows  []*Event
	users []uint32
	// converted is set by buildSegmentColumns when a property value had
	// another type than its column's.
	converted bool
}

// buildSegmentColumns lays one day's rows out as columns: the fixed ones,
// the user numbers, and each property column any of the rows has, with
// values converted to the column's current type (lossless by the
// schema's widening rules; a failure is a broken invariant).
func buildSegmentColumns(d *dayRows, schema []Column) []SegmentColumn {
	n := len(d.rows)
	cols := []SegmentColumn{
		{Name: ColTime, Type: TypeTime, Ints: make([]int64, n)},
		{Name: ColEvent, Type: TypeString, Strs: make([]string, n)},
		{Name: ColDistinctID, Type: TypeString, Strs: make([]string, n)},
		{Name: ColInsertID, Type: TypeString, Strs: make([]string, n)},
		{Name: ColUserNumber, Type: TypeInt, Ints: make([]int64, n)},
	}
	for i, e := range d.rows {
		cols[0].Ints[i] = e.TimeMillis
		cols[1].Strs[i] = e.Name
		cols[2].Strs[i] = e.DistinctID
		cols[3].Strs[i] = e.InsertID
		cols[4].Ints[i] = int64(d.users[i])
	}
	// distinct_ids are numbered one-to-one: their dictionary is built by
	// number, cheaper to hash than the strings.
	if dict, codes, ok := segDictionaryByNumber(cols[2].Strs, d.users); ok {
		cols[2].Strs, cols[2].Dict, cols[2].Codes = nil, dict, codes
	}
	colIndex := map[string]int{} // column name → position in cols
	schemaType := map[string]ColumnType{}
	for _, c := range schema {
		schemaType[c.Name] = c.Type
	}
	// Rows mostly list the same keys in the same order: the column of
	// the key last seen at each position is tried before the map.
	type slot struct {
		key string
		ci  int
	}
	var slots []slot
	for i, e := range d.rows {
		for j := range e.Props {
			pr := &e.Props[j] // not copied: a Prop is seven words
			var ci int
			if j < len(slots) && slots[j].key == pr.Key {
				ci = slots[j].ci
			} else {
				var ok bool
				if ci, ok = colIndex[pr.Key]; !ok {
					t, known := schemaType[pr.Key]
					if !known {
						panic(fmt.Sprintf("BUG: property %q of a buffered row is not in the schema", pr.Key))
					}
					ci = len(cols)
					colIndex[pr.Key] = ci
					cols = append(cols, newSparseColumn(pr.Key, t, n))
				}
				if j >= len(slots) {
					slots = append(slots, make([]slot, j+1-len(slots))...)
				}
				slots[j] = slot{pr.Key, ci}
			}
			c := &cols[ci]
			v := &pr.Value
			if v.Type != c.Type {
				d.converted = true
				cv, ok := v.Convert(c.Type)
				if !ok {
					panic(fmt.Sprintf("BUG: %v value of property %q does not convert to its column type %v", pr.Value.Type, pr.Key, c.Type))
				}
				v = &cv
			}
			c.Nulls[i] = false
			switch c.Type {
			case TypeFloat:
				c.Floats[i] = v.Float
			case TypeString, TypeJSON:
				c.Strs[i] = v.Str
			default:
				c.Ints[i] = v.Int
			}
		}
	}
	for i := range cols {
		if cols[i].Nulls != nil && !slices.Contains(cols[i].Nulls, true) {
			cols[i].Nulls = nil
		}
	}
	return cols
}

func newSparseColumn(name string, t ColumnType, n int) SegmentColumn {
	c := SegmentColumn{Name: name, Type: t, Nulls: make([]bool, n)}
	for i := range c.Nulls {
		c.Nulls[i] = true
	}
	switch t {
	case TypeFloat:
		c.Floats = make([]float64, n)
	case TypeString, TypeJSON:
		c.Strs = make([]string, n)
	default:
		c.Ints = make([]int64, n)
	}
	return c
}

func (s *Store) flusher() {
	defer s.flusherWG.Done()
	tick := time.NewTicker(s.opts.FlushInterval)
	defer tick.Stop()
	for {
		select {
		case <-s.closing:
			return
		case <-s.flushReq:
		case <-tick.C:
		}
		if err := s.Flush(); err != nil {
			s.log.Error("background flush", "err", err)
		}
	}
}

// requestFlush asks the background flusher to run soon; it never blocks.
func (s *Store) requestFlush() {
	select {
	case s.flushReq <- struct{}{}:
	default:
	}
}

// checkSegmentTimes re-reads a just-written segment's time column and
// compares it with the times written (costly: invariants builds only).
func checkSegmentTimes(seg *Segment, times []int64) error {
	i := 0
	for b := 0; b < seg.NumBlocks(); b++ {
		blk, err := seg.ReadBlock(ColTime, b)
		if err != nil {
			return err
		}
		for _, ms := range blk.Ints {
			if i >= len(times) || times[i] != ms || (i > 0 && ms < times[i-1]) {
				return fmt.Errorf("BUG: segment %s: row %d time %d does not match the sorted input", seg.Name(), i, ms)
			}
			i++
		}
	}
	if i != len(times) {
		return fmt.Errorf("BUG: segment %s: %d times read back, %d written", seg.Name(), i, len(times))
	}
	return nil
}

package storage

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// recordKind is the first byte of every WAL payload the store writes.
// Wire format: never renumber.
type recordKind uint8

const (
	kindEvents  recordKind = 1 // EventBatch of events for one project
	kindCatalog recordKind = 2 // catalogRecord as JSON
	kindPeople  recordKind = 3 // EventBatch of people upserts (DistinctID + Props)
	// kindProfiles: | str table | EventBatch of whole profiles | (profiles.go):
	// DistinctID is the key; Name "$delete" (profileDeleted) deletes, "" replaces.
	kindProfiles recordKind = 4
)

// catalogRecord is a change of the set of projects.
type catalogRecord struct {
	Op     string `json:"op"` // "project": create or set credentials
	Name   string `json:"name"`
	Token  string `json:"token"`
	Secret string `json:"secret"`
	// Shards is a new project's shard count (shards.go); 0 or 1: none.
	// Ignored for a project that exists: its shards are fixed.
	Shards int `json:"shards,omitempty"`
}

// Options configure a Store. Zero fields take the defaults shown.
type Options struct {
	FS     FS           // OSFS{}
	Dir    string       // required
	Logger *slog.Logger // slog.Default()
	// A project's memtable is flushed to segments when it holds FlushRows
	// rows (1,000,000) or FlushBytes bytes (256 MiB), and any non-empty
	// memtable after FlushInterval (1 minute).
	FlushRows     int
	FlushBytes    int64
	FlushInterval time.Duration
	// SealRows is the size of the chunks of buffered rows laid out in
	// columns for queries while they wait for a flush (DefaultSealRows;
	// negative: never; memtable_seal.go).
	SealRows int
	// Compaction (compaction_picker.go): a day's segments are merged
	// once its newest segment is CompactionDelay old (30 s), or at once
	// when it has CompactionMaxSegments (4) segments. DisableCompaction
	// stops the background compactor (Compact still works).
	CompactionDelay       time.Duration
	CompactionMaxSegments int
	DisableCompaction     bool
	// WarmBlockCache: Close lists the block cache's entries of live
	// segments and Open decodes them again in the background
	// (block_cache_warm.go). Off by default: the warm-up's reads run
	// beside whatever the caller does next.
	WarmBlockCache bool
	// CompactionBytesPerSecond paces what a compaction reads and writes
	// (64 MiB/s; negative: unlimited; compaction_throttle.go).
	CompactionBytesPerSecond int64
	// DedupIndexBytes bounds the memory of the segments' dedup indexes
	// (256 MiB; dedup_index.go): beyond it the least recently used are
	// dropped and rebuilt from disk when needed.
	DedupIndexBytes int64
	// MaxOpenFiles bounds the segment files kept open while idle
	// (DefaultMaxOpenFiles); others are reopened on their next read
	// (file_cache.go).
	MaxOpenFiles int
	// UserCacheBytes bounds each project's cache of recently seen
	// distinct_ids (DefaultUserCacheBytes; user_cache.go); the rest of the
	// user dictionary is read from disk through the block cache.
	UserCacheBytes int64
	// BufferBytes bounds the events acknowledged but not yet in segments,
	// all projects together (DefaultBufferBytes; ingest_buffer.go): past
	// half of it ingest waits for flushes, at most BufferWait
	// (DefaultBufferWait), then is refused with ErrOverloaded.
	BufferBytes int64
	BufferWait  time.Duration
	// MaxColumns bounds the property columns of each table of a project
	// (DefaultMaxColumns): a batch that would add more is refused whole
	// with a *ColumnLimitError. Replay never refuses what was stored.
	MaxColumns int
	// Shards is how many shards a project created from now on keeps its
	// rows in (shards.go; 0 or 1: none). Existing projects keep theirs.
	Shards int
	// Log, when set, is the replicated log every write goes through
	// instead of the WAL (cluster mode; replicated_log.go): the store
	// prepares a write, appends it to Log, and Log's state machine
	// applies it to every replica with ApplyLogged.
	Log Log
	// OnGrants, in cluster mode, is handed each users-and-grants body a
	// replica applies from the log (after its grants file is written),
	// on the log's apply goroutine: it must not block on the writer of
	// that body (WriteGrants' caller waits for the apply).
	OnGrants func(body []byte)
	// ProfileUpdater computes a profile's new properties from its current
	// ones for UpdateProfiles and, in cluster mode, for every profile
	// operation a replica applies from the log (profiles.go): the
	// semantics of Mixpanel's $set, $add, … (package ingest's
	// ApplyProfileOp, which the server sets). Every node of a cluster must
	// use the same. Nil: UpdateProfiles refuses every update, and a
	// logged one fails this replica's apply (it stops applying rather
	// than diverge from replicas that have one); replaying the WAL does
	// not need it (the WAL holds the updates' results).
	ProfileUpdater ProfileUpdater
	// Metrics hooks; nil means not observed.
	OnWALSync func(d time.Duration, records int)
	OnIngest  func(rows int)
}

// ErrProjectExists is returned when creating a project that exists.
var ErrProjectExists = errors.New("project exists")

// Store is a data directory: all projects, one WAL, the manifest.
type Store struct {
	opts Options
	fs   FS // files, over opts.FS
	log  *slog.Logger
	wal  *WAL

	// files caches segment handles; it is also fs (file_cache.go).
	files *fileCache

	// dirLock is the data directory lock, held from the top of Open to
	// the end of Close.
	dirLock *DirLock

	// ingestMu is held shared by every WAL append + memory apply, and
	// exclusively by a flush while it rotates the WAL and freezes
	// memtables (see Project).
	ingestMu sync.RWMutex
	// flushMu serialises flushes and every manifest publish (a
	// compaction takes it to publish; backups to capture a consistent
	// file set): while it is held no live file is deleted.
	flushMu sync.Mutex
	// published is the last durable manifest; guarded by flushMu.
	published *manifestBody
	// obsolete lists files (relative to the data directory) that the
	// durable manifest no longer names and that are not deleted yet;
	// every manifest published carries them. Guarded by flushMu.
	obsolete []string
	// compactMu serialises compactions; taken before flushMu.
	compactMu  sync.Mutex
	compaction compactionStats
	// dedupIx holds the segments' dedup indexes within a budget.
	dedupIx dedupIndexes
	// buffer accounts the events not yet in segments (ingest_buffer.go).
	buffer *ingestBuffer
	// compactorTID is the background compactor's thread (tests).
	compactorTID atomic.Int64

	mu       sync.RWMutex
	projects map[string]*Project // by name; guarded by mu
	// nextFile numbers segment and people files; guarded by flushMu.
	nextFile uint64

	// failed is set once a write of unknown outcome (a failed fsync of
	// the WAL or the manifest) makes the on-disk state uncertain: from
	// then on every write returns it (never retry an fsync). A fault that
	// clears itself (disk full, out of descriptors) never sets it: the
	// WAL refuses those writes and goes on (wal_fault.go).
	failed atomic.Pointer[error]

	// applied is the index of the last replicated log entry applied
	// (cluster mode; replicated_log.go). It advances under ingestMu held
	// shared, so a flush that holds ingestMu reads the index of exactly
	// the entries it freezes.
	applied atomic.Uint64

	flushReq   chan struct{}
	compactReq chan struct{}
	closing    chan struct{}
	warmDone   chan struct{}  // closed when the block cache warm-up stops (block_cache_warm.go)
	sealWG     sync.WaitGroup // sealing goroutines (memtable_seal.go)
	flusherWG  sync.WaitGroup
	closeOnce  sync.Once
}

func (s *Store) path(parts ...string) string {
	return filepath.Join(append([]string{s.opts.Dir}, parts...)...)
}

// Open opens or creates the data directory: it reads the manifest, opens
// the live segments, replays the WAL tail into memory and starts the
// background flusher.
//
// It takes the data directory lock (lock.go) before it creates or reads
// anything below the directory, and holds it until Close: a directory
// another process holds fails at once with ErrDirLocked, unchanged.
func Open(opts Options) (*Store, error) {
	if opts.FS == nil {
		opts.FS = OSFS{}
	}
	dirLock, err := LockDataDir(opts.FS, opts.Dir)
	if err != nil {
		return nil, err
	}
	s, err := openLocked(opts, dirLock)
	if err != nil {
		// Nothing of the failed open runs any more: no goroutine is
		// started before openLocked succeeds.
		dirLock.Release()
		return nil, err
	}
	return s, nil
}

// openLocked is the rest of Open. REQUIRES: dirLock holds opts.Dir. On
// success the Store owns dirLock (Close releases it); on error the caller
// releases it.
func openLocked(opts Options, dirLock *DirLock) (*Store, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Shards != 0 {
		if err := ValidateShards(opts.Shards); err != nil {
			return nil, err
		}
	}
	if opts.SealRows == 0 {
		opts.SealRows = DefaultSealRows
	}
	if opts.FlushRows <= 0 {
		opts.FlushRows = 1_000_000
	}
	if opts.FlushBytes <= 0 {
		opts.FlushBytes = 256 << 20
	}
	if opts.FlushInterval <= 0 {
		opts.FlushInterval = time.Minute
	}
	if opts.CompactionDelay <= 0 {
		opts.CompactionDelay = defaultCompactionDelay
	}
	if opts.CompactionMaxSegments <= 1 {
		opts.CompactionMaxSegments = defaultCompactionMaxSegments
	}
	if opts.CompactionBytesPerSecond == 0 {
		opts.CompactionBytesPerSecond = defaultCompactionBytesPerSecond
	}
	if opts.DedupIndexBytes <= 0 {
		opts.DedupIndexBytes = defaultDedupIndexBytes
	}
	if opts.MaxColumns <= 0 {
		opts.MaxColumns = DefaultMaxColumns
	}
	if opts.BufferBytes <= 0 {
		opts.BufferBytes = DefaultBufferBytes
	}
	if opts.BufferWait <= 0 {
		opts.BufferWait = DefaultBufferWait
	}
	files := newFileCache(opts.FS, opts.MaxOpenFiles)
	s := &Store{
		opts: opts, fs: files, files: files, log: opts.Logger, dirLock: dirLock, projects: map[string]*Project{},
		buffer:   newIngestBuffer(opts.BufferBytes, opts.BufferWait),
		flushReq: make(chan struct{}, 1), compactReq: make(chan struct{}, 1), closing: make(chan struct{}),
	}
	s.dedupIx.budget = opts.DedupIndexBytes
	for _, d := range []string{"", walDirName, segDirName, usersDirName, peopleDir} {
		if err := s.fs.MkdirAll(s.path(d)); err != nil {
			return nil, fmt.Errorf("create data directory: %w", err)
		}
	}
	// Make the directories durable: the data directory's entry in its
	// parent, and in it its subdirectories and the MANIFEST. The MANIFEST
	// read below may be one whose rename a failed publish left in the
	// page cache only: it must be durable before the store acts on it
	// (deletes what it makes obsolete), or a crash could bring the old one
	// back with the WAL it needs gone.
	for _, d := range []string{filepath.Dir(filepath.Clean(s.path())), s.path()} {
		if err := s.fs.SyncDir(d); err != nil {
			return nil, fmt.Errorf("fsync directory %s: %w", d, err)
		}
	}
	m, ok, err := readManifest(s.fs, s.path(manifestName))
	if err != nil {
		return nil, err
	}
	if !ok {
		if err := s.checkNoDataFiles(); err != nil {
			return nil, err
		}
		m = &manifestBody{Version: manifestVersion, WALStartSeq: 1, NextFileNumber: 1}
		// Published at once, so that from now on a missing MANIFEST is
		// always a loss, never a new directory.
		if err := s.publishManifestLocked(m); err != nil {
			return nil, fmt.Errorf("create manifest: %w", err)
		}
	}
	s.nextFile = m.NextFileNumber
	s.published, s.obsolete = m, slices.Clone(m.Obsolete)
	s.applied.Store(m.AppliedIndex)
	if err := s.loadManifest(m); err != nil {
		s.closeSegments()
		return nil, err
	}
	leftovers, err := s.accountForFiles(m)
	if err != nil {
		s.closeSegments()
		return nil, err
	}
	start := time.Now()
	var replayed int
	s.wal, err = OpenWAL(WALOptions{
		FS: s.fs, Dir: s.path(walDirName), Logger: s.log, MinSeq: m.WALStartSeq, OnSync: opts.OnWALSync,
	}, func(pos WALPosition, payload []byte) error {
		replayed++
		if err := s.replay(payload); err != nil {
			return fmt.Errorf("replay %s at offset %d: %w", walFileName(pos.Seq), pos.Offset, err)
		}
		return nil
	})
	if err != nil {
		s.closeSegments()
		return nil, err
	}
	// Leftovers go only once the WAL replayed: an open that fails
	// changes nothing but what the WAL itself repairs (a torn tail).
	if err := s.removeLeftovers(leftovers); err != nil {
		s.closeSegments()
		s.wal.Close()
		return nil, err
	}
	s.log.Info("store open", "dir", opts.Dir, "projects", len(s.Projects()), "wal_records_replayed", replayed,
		"segments", s.segmentCount(), "took", time.Since(start).Round(time.Millisecond))
	s.flusherWG.Add(1)
	go s.flusher()
	if !opts.DisableCompaction {
		s.flusherWG.Add(1)
		go s.compactor()
	}
	if opts.WarmBlockCache {
		s.warmDone = make(chan struct{})
		go s.warm(s.warmDone)
	}
	return s, nil
}

func (s *Store) loadManifest(m *manifestBody) error {
	for _, mp := range m.Projects {
		p := newProject(s, mp.Name, mp.Token, mp.Secret)
		p.events = newSchema(mp.Columns, mp.BigInts)
		p.people = newSchema(mp.PeopleColumns, nil)
		p.groups = newSchema(mp.GroupColumns, nil)
		var runs []*userIndexRun
		for _, r := range mp.UserIndex {
			run, err := openUserIndexRun(s.fs, s.path(usersDirName, r.File))
			if err == nil && (int(run.first) != r.First || int(run.end) != r.End) {
				run.close()
				err = corruptf(run.path, 0, "covers users [%d, %d); the manifest says [%d, %d)", run.first, run.end, r.First, r.End)
			}
			if err != nil {
				for _, r := range runs {
					r.close()
				}
				return fmt.Errorf("project %s: %w", mp.Name, err)
			}
			runs = append(runs, run)
		}
		users, err := loadUserDict(s.fs, s.path(usersDirName, usersFileName(mp.Name)), mp.Users, runs, s.opts.UserCacheBytes)
		if err != nil {
			for _, r := range runs {
				r.close()
			}
			return fmt.Errorf("project %s: %w", mp.Name, err)
		}
		p.users = users
		for _, ms := range mp.Segments {
			ref, err := s.openSegment(ms.File, ms.Day)
			if err != nil {
				return fmt.Errorf("project %s: %w", mp.Name, err)
			}
			ref.Level = ms.Level
			p.segments = append(p.segments, ref)
		}
		for _, r := range mp.UserState {
			run, err := openUserStateRun(s.fs, s.path(usersDirName, r.File))
			if err == nil && run.entries != r.Entries {
				run.close()
				err = corruptf(run.path, 0, "holds %d entries; the manifest says %d", run.entries, r.Entries)
			}
			if err != nil {
				p.ustate.close()
				return fmt.Errorf("project %s: %w", mp.Name, err)
			}
			p.ustate.runs = append(p.ustate.runs, run)
		}
		if mp.PeopleFile != "" {
			path := s.path(peopleDir, mp.PeopleFile)
			st, err := readPeopleFile(s.fs, path)
			if err != nil {
				return fmt.Errorf("project %s: %w", mp.Name, err)
			}
			p.peopleFile = mp.PeopleFile
			if err := p.migratePeopleFile(st); err != nil {
				return fmt.Errorf("project %s: %w", mp.Name, corruptf(path, 0, "%v", err))
			}
		}
		s.projects[mp.Name] = p
	}
	for _, mp := range m.Projects {
		s.linkShards(s.projects[mp.Name], mp.Shards)
	}
	return nil
}

// openSegment opens a segment file for reading: its footer now, its
// blocks through the file cache, which may close the handle while idle
// and reopens it on the next read (file_cache.go).
func (s *Store) openSegment(name, day string) (*SegmentRef, error) {
	path := s.path(segDirName, name)
	f, size, err := s.files.openFile(path)
	if err != nil {
		return nil, fmt.Errorf("open segment: %w", err)
	}
	seg, err := OpenSegment(f, size, path)
	if err != nil {
		f.Close()
		return nil, err
	}
	return &SegmentRef{File: name, Day: day, Bytes: size, Segment: seg, file: f}, nil
}

// replay applies one WAL payload to memory. Replay is idempotent for
// catalog records, and event/people batches are applied exactly once
// because WAL files below the manifest's WALStartSeq are never replayed.
func (s *Store) replay(payload []byte) error {
	if len(payload) == 0 {
		return fmt.Errorf("empty record")
	}
	switch recordKind(payload[0]) {
	case kindCatalog:
		var c catalogRecord
		if err := json.Unmarshal(payload[1:], &c); err != nil {
			return fmt.Errorf("catalog record: %w", err)
		}
		s.applyCatalog(c)
		return nil
	case kindEvents, kindPeople:
		b, err := DecodeEventBatch(payload[1:])
		if err != nil {
			return err
		}
		p, ok := s.Project(b.Project)
		if !ok {
			return fmt.Errorf("batch for unknown project %q", b.Project)
		}
		table := rowsTable(recordKind(payload[0]))
		if p.shards != nil {
			return p.replayShards(table, b.Events)
		}
		p.mu.Lock()
		schema := p.events
		if table == TablePeople {
			schema = p.people
		}
		for i := range b.Events {
			schema.fitProps(b.Events[i].Props)
		}
		err = p.addLocked(table, b.Events)
		p.mu.Unlock()
		return err
	case kindProfiles:
		table, b, err := decodeTableBatch("profiles", payload)
		if err != nil {
			return err
		}
		p, ok := s.Project(b.Project)
		if !ok {
			return fmt.Errorf("profiles for unknown project %q", b.Project)
		}
		if p.shards != nil {
			return p.replayProfilesShards(table, b.Events)
		}
		p.mu.Lock()
		schema := p.profileSchemaLocked(table)
		for i := range b.Events {
			schema.fitProps(b.Events[i].Props)
		}
		err = p.replaceProfilesLocked(table, b.Events)
		p.mu.Unlock()
		return err
	}
	return fmt.Errorf("unknown record kind %d", payload[0])
}

// rowsTable is the table a kindEvents or kindPeople record writes.
func rowsTable(k recordKind) string {
	if k == kindPeople {
		return TablePeople
	}
	return TableEvents
}

// decodeTableBatch reads a | kind | str table | EventBatch | record
// (kindProfiles, kindProfileOps) whose table is people or groups; what
// names the record in errors.
func decodeTableBatch(what string, payload []byte) (string, *EventBatch, error) {
	d := &batchDecoder{src: payload, off: 1}
	table := d.string()
	if d.err != nil {
		return "", nil, fmt.Errorf("%s record: %w", what, d.err)
	}
	if table != TablePeople && table != TableGroups {
		return "", nil, fmt.Errorf("%s record: unknown table %q", what, table)
	}
	b, err := DecodeEventBatch(payload[d.off:])
	return table, b, err
}

func (s *Store) applyCatalog(c catalogRecord) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p, ok := s.projects[c.Name]; ok {
		p.keys.Store(&projectKeys{token: c.Token, secret: c.Secret})
		return
	}
	p := newProject(s, c.Name, c.Token, c.Secret)
	s.projects[c.Name] = p
	s.linkShards(p, c.Shards)
}

// Project returns the project named name; a shard of a sharded project
// (shards.go) is not one: its rows are written and read through its
// project only.
func (s *Store) Project(name string) (*Project, bool) {
	if isShardName(name) {
		return nil, false
	}
	return s.anyProject(name)
}

// anyProject is Project, shards included.
func (s *Store) anyProject(name string) (*Project, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	p, ok := s.projects[name]
	return p, ok
}

// Projects lists all projects sorted by name.
func (s *Store) Projects() []ProjectInfo {
	s.mu.RLock()
	ps := make([]*Project, 0, len(s.projects))
	for _, p := range s.projects {
		if !isShardName(p.name) {
			ps = append(ps, p)
		}
	}
	s.mu.RUnlock()
	out := make([]ProjectInfo, len(ps))
	for i, p := range ps {
		out[i] = p.Info()
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// CreateProject creates a project durably; ErrProjectExists if it exists.
// Empty token or secret get fresh random ones.
func (s *Store) CreateProject(name, token, secret string) (ProjectInfo, error) {
	if _, ok := s.Project(name); ok {
		return ProjectInfo{}, fmt.Errorf("project %s: %w", name, ErrProjectExists)
	}
	return s.PutProject(name, token, secret)
}

// PutProject makes sure project name exists with the given credentials
// (empty ones keep the current value, or get fresh random ones for a new
// project), durably.
func (s *Store) PutProject(name, token, secret string) (ProjectInfo, error) {
	if err := ValidateProjectName(name); err != nil {
		return ProjectInfo{}, err
	}
	cur, exists := s.Project(name)
	if exists {
		info := cur.Info()
		if token == "" {
			token = info.Token
		}
		if secret == "" {
			secret = info.Secret
		}
		if info.Token == token && info.Secret == secret {
			return info, nil
		}
	}
	if token == "" {
		token = NewCredential()
	}
	if secret == "" {
		secret = NewCredential()
	}
	rec := catalogRecord{Op: "project", Name: name, Token: token, Secret: secret}
	if !exists {
		rec.Shards = s.opts.Shards
	}
	body, _ := json.Marshal(rec)
	if s.opts.Log != nil {
		if err := s.appendLogged(append([]byte{byte(kindCatalog)}, body...)); err != nil {
			return ProjectInfo{}, fmt.Errorf("project %s: %w", name, err)
		}
		p, ok := s.Project(name)
		if !ok {
			return ProjectInfo{}, fmt.Errorf("project %s: not created by its log entry", name)
		}
		return p.Info(), nil
	}
	s.ingestMu.RLock()
	defer s.ingestMu.RUnlock()
	if _, err := s.wal.Append(append([]byte{byte(kindCatalog)}, body...)); err != nil {
		return ProjectInfo{}, fmt.Errorf("project %s: write-ahead log: %w", name, s.walFailure(err))
	}
	s.applyCatalog(rec)
	return ProjectInfo{Name: name, Token: token, Secret: secret}, nil
}

func (s *Store) observeIngest(rows int, _ time.Duration) {
	if s.opts.OnIngest != nil {
		s.opts.OnIngest(rows)
	}
}

// Stats describes the store for metrics.
type Stats struct {
	Segments      int
	SegmentBytes  int64
	WALBytes      int64
	BufferedRows  int
	ProjectsCount int
	OpenFiles     int // segment handles open (file_cache.go)
}

func (s *Store) Stats() Stats {
	var st Stats
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, p := range s.projects {
		if !isShardName(p.name) {
			st.ProjectsCount++
		}
		p.mu.RLock()
		st.Segments += len(p.segments)
		for _, seg := range p.segments {
			st.SegmentBytes += seg.Bytes
		}
		st.BufferedRows += p.mem.len()
		for _, m := range p.frozen {
			st.BufferedRows += m.len()
		}
		p.mu.RUnlock()
	}
	if s.wal != nil {
		st.WALBytes = s.wal.SizeBytes()
	}
	st.OpenFiles = s.files.openCount()
	return st
}

func (s *Store) segmentCount() int { return s.Stats().Segments }

// Close flushes buffered rows to segments, closes the WAL and the
// segments. The store is unusable afterwards.
func (s *Store) Close() error {
	var err error
	s.closeOnce.Do(func() {
		close(s.closing)
		if s.warmDone != nil {
			<-s.warmDone
		}
		s.flusherWG.Wait()
		s.sealWG.Wait()
		err = s.Flush()
		if err == nil && s.opts.WarmBlockCache {
			// A hint for the next start; failing to leave it loses nothing.
			if werr := s.writeWarmList(); werr != nil {
				s.log.Warn("block cache warm-up list not written", "err", werr)
			}
		}
		if cerr := s.wal.Close(); err == nil {
			err = cerr
		}
		s.closeSegments()
		// Last: once released, another process may open the directory.
		if rerr := s.dirLock.Release(); err == nil {
			err = rerr
		}
	})
	return err
}

func (s *Store) closeSegments() {
	for _, p := range s.projects {
		for _, seg := range p.segments {
			seg.file.Close()
		}
		if p.users != nil {
			p.users.close()
			p.ustate.close()
		}
	}
	s.files.closeAll() // and the removed segments' pinned handles
}

// failure returns the error that stopped writes, or nil.
func (s *Store) failure() error {
	if e := s.failed.Load(); e != nil {
		return *e
	}
	return nil
}

// ErrStoreFailed matches the error of every write after a failure whose
// outcome on disk is unknown (a failed fsync, a manifest publish that
// failed late): the store takes no more writes until a restart, whose
// replay decides what is durable.
var ErrStoreFailed = errors.New("store stopped taking writes")

// failStore stops all writes with err and returns it.
func (s *Store) failStore(err error) error {
	err = fmt.Errorf("%w: %w", ErrStoreFailed, err)
	s.failed.CompareAndSwap(nil, &err)
	s.log.Error("store failed", "err", err)
	return err
}

// walFailure is what a failed WAL append means for the store: a
// *FaultError (a refusal, nothing stored, wal_fault.go) is returned as
// it is; any other error leaves the WAL's state unknown and fails the
// store.
func (s *Store) walFailure(err error) error {
	if errors.Is(err, ErrWriteRefused) || errors.Is(err, ErrWALClosed) {
		return err
	}
	return s.failStore(err)
}

// Ready reports whether the store takes writes now: nil, or why not.
// After a failure it is an error matching ErrStoreFailed (a restart is
// needed); while a fault that clears itself refuses writes (disk full,
// out of descriptors) it is a *FaultError describing the fault and since
// when — and it first probes whether the fault has cleared (WAL.Probe),
// so readiness turns green without waiting for a client to write.
// Safe for concurrent use; cheap unless a fault is in force.
func (s *Store) Ready() error {
	if err := s.failure(); err != nil {
		return err
	}
	if err := s.wal.Err(); err != nil {
		return fmt.Errorf("%w: %w", ErrStoreFailed, err)
	}
	had := s.wal.Fault() != nil
	if f := s.wal.Probe(); f != nil {
		return &FaultError{Kind: f.Kind, Err: fmt.Errorf("%s: %w", f, f.Err)}
	}
	if had {
		// A flush the fault failed kept its rows in memory: write them
		// now rather than at the next tick.
		s.requestFlush()
	}
	return nil
}

// FaultStats is what the store's fault handling counts, for metrics.
type FaultStats struct {
	Failed  bool                 // writes stopped until a restart
	Fault   FaultKind            // the fault refusing writes now, FaultNone if none
	Refused [numFaultKinds]int64 // appends refused so far, by FaultKind
}

// FaultStats reads the counters without probing.
func (s *Store) FaultStats() FaultStats {
	st := FaultStats{Failed: s.failure() != nil || s.wal.Err() != nil, Refused: s.wal.Refused()}
	if f := s.wal.Fault(); f != nil {
		st.Fault = f.Kind
	}
	return st
}

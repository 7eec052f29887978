package storage

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"math/rand"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// watchFS is OSFS that counts opens and closes, can hold reads of one
// path until released, and skips fsyncs (tests that write thousands of
// files need no durability).
type watchFS struct {
	OSFS
	opens, closes atomic.Int64
	holdPath      string        // reads of this path wait for release
	held          chan struct{} // receives when a held read has started
	release       chan struct{}
}

type watchFile struct {
	File
	fs     *watchFS
	path   string
	closed atomic.Bool
}

func (w *watchFS) wrap(f File, err error, path string) (File, error) {
	if err != nil {
		return nil, err
	}
	w.opens.Add(1)
	return &watchFile{File: f, fs: w, path: path}, nil
}

func (w *watchFS) Open(path string) (File, error) {
	f, err := w.OSFS.Open(path)
	return w.wrap(f, err, path)
}
func (w *watchFS) Create(path string) (File, error) {
	f, err := w.OSFS.Create(path)
	return w.wrap(f, err, path)
}
func (w *watchFS) OpenAppend(path string) (File, error) {
	f, err := w.OSFS.OpenAppend(path)
	return w.wrap(f, err, path)
}
func (w *watchFS) SyncDir(string) error { return nil }

func (f *watchFile) Sync() error { return nil }

func (f *watchFile) Close() error {
	if f.closed.Swap(true) {
		panic("double close of " + f.path)
	}
	f.fs.closes.Add(1)
	return f.File.Close()
}

func (f *watchFile) ReadAt(p []byte, off int64) (int, error) {
	if f.closed.Load() {
		return 0, fmt.Errorf("read of %s after close", f.path)
	}
	if f.path == f.fs.holdPath {
		f.fs.held <- struct{}{}
		<-f.fs.release
	}
	n, err := f.File.ReadAt(p, off)
	if f.closed.Load() {
		return 0, fmt.Errorf("%s closed during a read", f.path)
	}
	return n, err
}

// writeTestFiles writes n files of 64 bytes each, file i filled with
// byte i.
func writeTestFiles(t *testing.T, dir string, n int) []string {
	t.Helper()
	paths := make([]string, n)
	for i := range paths {
		paths[i] = filepath.Join(dir, fmt.Sprintf("%03d.seg", i))
		if err := os.WriteFile(paths[i], bytes.Repeat([]byte{byte(i)}, 64), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return paths
}

func checkRead(t *testing.T, sf *segmentFile, i int) {
	t.Helper()
	buf := make([]byte, 8)
	if _, err := sf.ReadAt(buf, 16); err != nil {
		t.Fatalf("file %d: %v", i, err)
	}
	if !bytes.Equal(buf, bytes.Repeat([]byte{byte(i)}, 8)) {
		t.Fatalf("file %d: read %v", i, buf)
	}
}

// TestFileCacheBound reads 40 files in random order through a cache of
// 4: at most 4 handles are ever open, closed handles are reopened
// transparently, and every read returns the file's bytes.
func TestFileCacheBound(t *testing.T) {
	w := &watchFS{}
	fc := newFileCache(w, 4)
	paths := writeTestFiles(t, t.TempDir(), 40)
	files := make([]*segmentFile, len(paths))
	for i, p := range paths {
		sf, size, err := fc.openFile(p)
		if err != nil || size != 64 {
			t.Fatalf("open %s: size %d, %v", p, size, err)
		}
		files[i] = sf
	}
	rng := rand.New(rand.NewSource(1))
	for k := 0; k < 400; k++ {
		i := rng.Intn(len(files))
		checkRead(t, files[i], i)
		if n := fc.openCount(); n > 4 {
			t.Fatalf("after read %d: %d handles open, bound 4", k, n)
		}
		if open := w.opens.Load() - w.closes.Load(); open != int64(fc.openCount()) {
			t.Fatalf("after read %d: %d files open, the cache counts %d", k, open, fc.openCount())
		}
	}
	if w.opens.Load() <= 40 {
		t.Fatalf("%d opens: evicted handles were never reopened", w.opens.Load())
	}
	fc.closeAll()
	if n := fc.openCount(); n != 0 || w.opens.Load() != w.closes.Load() {
		t.Fatalf("after closeAll: %d counted, %d opened, %d closed", n, w.opens.Load(), w.closes.Load())
	}
	if _, err := files[0].ReadAt(make([]byte, 1), 0); !errors.Is(err, fs.ErrClosed) {
		t.Fatalf("read after close: %v, want fs.ErrClosed", err)
	}
}

// TestFileCacheReadInFlight holds a read of file 0 in its pread while
// other reads push file 0 to the cold end of the LRU: its handle must
// not be closed under the read (watchFile fails a read whose file closes
// during it), and it becomes evictable once the read ends.
func TestFileCacheReadInFlight(t *testing.T) {
	paths := writeTestFiles(t, t.TempDir(), 10)
	w := &watchFS{holdPath: paths[0], held: make(chan struct{}), release: make(chan struct{})}
	fc := newFileCache(w, 2)
	files := make([]*segmentFile, len(paths))
	for i, p := range paths {
		w.holdPath = "" // opening reads nothing, but be explicit
		sf, _, err := fc.openFile(p)
		if err != nil {
			t.Fatal(err)
		}
		files[i] = sf
	}
	w.holdPath = paths[0]
	done := make(chan error)
	go func() {
		buf := make([]byte, 8)
		_, err := files[0].ReadAt(buf, 0)
		if err == nil && buf[0] != 0 {
			err = fmt.Errorf("read %v", buf)
		}
		done <- err
	}()
	<-w.held
	for i := 1; i < len(files); i++ {
		checkRead(t, files[i], i)
	}
	if n := fc.openCount(); n != 2 {
		t.Fatalf("%d handles open with one read in flight, want the bound 2 (one in use)", n)
	}
	close(w.release)
	if err := <-done; err != nil {
		t.Fatalf("read in flight: %v", err)
	}
	checkRead(t, files[9], 9) // file 0 is now idle and coldest but one
	checkRead(t, files[8], 8)
	if n := fc.openCount(); n != 2 {
		t.Fatalf("%d handles open after the read ended, want 2", n)
	}
	fc.closeAll()
}

// TestFileCacheRemovePinsForReaders removes a file whose reader is alive
// and its handle evicted: Remove reopens and pins it, the reader keeps
// reading the unlinked file, and the handle closes once the reader is
// unreachable.
func TestFileCacheRemovePinsForReaders(t *testing.T) {
	w := &watchFS{}
	fc := newFileCache(w, 1)
	paths := writeTestFiles(t, t.TempDir(), 3)
	var files []*segmentFile
	for _, p := range paths {
		sf, _, err := fc.openFile(p)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, sf)
	}
	if err := fc.Remove(paths[0]); err != nil { // evicted: Remove reopens it
		t.Fatal(err)
	}
	if _, err := os.Stat(paths[0]); !os.IsNotExist(err) {
		t.Fatalf("removed file still there: %v", err)
	}
	checkRead(t, files[1], 1)
	checkRead(t, files[2], 2)
	checkRead(t, files[0], 0) // pinned: never evicted, still readable
	if n := fc.openCount(); n != 1 {
		t.Fatalf("%d handles open, want the pinned one only (bound 1)", n)
	}
	files[0] = nil
	waitOpenFiles(t, fc.openCount, 0)
	fc.closeAll()
}

// waitOpenFiles collects garbage until count() is at most want: the
// cleanup of an unreachable reader closes its handle.
func waitOpenFiles(t *testing.T, count func() int, want int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for count() > want {
		if time.Now().After(deadline) {
			t.Fatalf("%d handles open 10 s after their readers became unreachable, want %d", count(), want)
		}
		runtime.GC()
		time.Sleep(10 * time.Millisecond) // cleanups run on their own goroutine
	}
}

// noBlockCache turns the decoded-block cache off for a test, so every
// block read goes to the file (and the cache holds no Segment alive).
func noBlockCache(t *testing.T) {
	SetBlockCacheBytes(0)
	t.Cleanup(func() { SetBlockCacheBytes(DefaultBlockCacheBytes) })
}

// dayEvents makes perDay events on each of days days from 2020-01-01,
// event k of day d with amount d and insert id "d-k".
func dayEvents(days, perDay int) []Event {
	base := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	var evs []Event
	for d := 0; d < days; d++ {
		for k := 0; k < perDay; k++ {
			evs = append(evs, Event{
				TimeMillis: base + int64(d)*millisPerDay + int64(k)*1000,
				Name:       "E", DistinctID: fmt.Sprintf("u%d", d%17), InsertID: fmt.Sprintf("%d-%d", d, k),
				Props: []Prop{{"amount", IntValue(int64(d))}},
			})
		}
	}
	return evs
}

// checkSegmentDay reads a segment of dayEvents' data and checks that it
// holds rows of its day only, each with that day's amount; it returns the
// segment's rows. cached reads through the block cache.
func checkSegmentDay(ref *SegmentRef, cached bool) (int, error) {
	seg := ref.Segment
	day, err := time.Parse(time.DateOnly, ref.Day)
	if err != nil {
		return 0, err
	}
	d := int64(day.Sub(time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)) / (24 * time.Hour))
	read := seg.ReadBlock
	if cached {
		read = seg.Block
	}
	rows := 0
	for b := 0; b < seg.NumBlocks(); b++ {
		times, err := read(ColTime, b)
		if err != nil {
			return 0, err
		}
		amounts, err := read("amount", b)
		if err != nil {
			return 0, err
		}
		for i, tm := range times.Ints {
			if tm/millisPerDay != day.UnixMilli()/millisPerDay || amounts.Ints[i] != d {
				return 0, fmt.Errorf("%s: row %d: time %d amount %d, want day %s amount %d", ref.File, i, tm, amounts.Ints[i], ref.Day, d)
			}
			rows++
		}
	}
	return rows, nil
}

// fdCount counts this process's open descriptors, or -1 where
// /proc/self/fd is missing.
func fdCount() int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(ents)
}

// TestFileCacheManySegments holds 3,000 segments with MaxOpenFiles 64:
// reopened, read by concurrent readers in random orders, every segment
// answers right and the process's descriptors stay under the bound plus
// a small slack (the WAL, the lock, the reads in flight).
func TestFileCacheManySegments(t *testing.T) {
	noBlockCache(t)
	const perDay, bound, readers = 2, 64, 4
	days := 3000
	if testing.Short() {
		days = 300 // still well past the bound
	}
	dir := t.TempDir()
	w := &watchFS{}
	opts := Options{FS: w, Dir: dir, FlushInterval: time.Hour, DisableCompaction: true, MaxOpenFiles: bound}
	s, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateProject("p", "tok", "sec"); err != nil {
		t.Fatal(err)
	}
	p, _ := s.Project("p")
	if err := p.Ingest(dayEvents(days, perDay)); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(); err != nil { // one segment per day
		t.Fatal(err)
	}
	if n := s.Stats().OpenFiles; n > bound {
		t.Fatalf("after writing %d segments: %d open, bound %d", days, n, bound)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	base := fdCount()
	s, err = Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const slack = 16
	check := func(stage string) {
		t.Helper()
		if n := s.Stats().OpenFiles; n > bound+readers {
			t.Errorf("%s: %d segment handles open, bound %d + %d reads in flight", stage, n, bound, readers)
		}
		if base >= 0 {
			if n := fdCount() - base; n > bound+slack {
				t.Errorf("%s: %d descriptors more than before open, bound %d + slack %d", stage, n, bound, slack)
			}
		}
	}
	check("after open")
	p, _ = s.Project("p")
	snap := p.Snapshot()
	if len(snap.Segments) != days {
		t.Fatalf("%d segments, want %d", len(snap.Segments), days)
	}
	var wg sync.WaitGroup
	var total atomic.Int64
	errs := make(chan error, readers)
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() { // sample the bound while the readers run
		defer close(sampled)
		for {
			select {
			case <-stop:
				return
			default:
			}
			check("during reads")
			time.Sleep(time.Millisecond)
		}
	}()
	for r := 0; r < readers; r++ {
		wg.Add(1)
		go func(seed int64) {
			defer wg.Done()
			for _, i := range rand.New(rand.NewSource(seed)).Perm(len(snap.Segments)) {
				n, err := checkSegmentDay(snap.Segments[i], false)
				if err != nil {
					errs <- err
					return
				}
				total.Add(int64(n))
			}
		}(int64(r))
	}
	wg.Wait()
	close(stop)
	<-sampled
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if got, want := total.Load(), int64(readers*days*perDay); got != want {
		t.Fatalf("readers saw %d rows, want %d", got, want)
	}
	check("after reads")
}

// TestFileCacheCompactionUnderReaders compacts days whose segments a
// snapshot holds while readers read that snapshot, with a bound too small
// to keep the inputs open: the inputs' files are deleted, every read
// succeeds with the right rows, and the pinned handles close once the
// snapshot is dropped, whether the block cache held blocks of the inputs
// or not.
func TestFileCacheCompactionUnderReaders(t *testing.T) {
	t.Run("block cache off", func(t *testing.T) {
		noBlockCache(t)
		testCompactionUnderReaders(t, false)
	})
	t.Run("block cache on", func(t *testing.T) { testCompactionUnderReaders(t, true) })
}

func testCompactionUnderReaders(t *testing.T, cached bool) {
	const days, bound = 5, 2
	dir := t.TempDir()
	s, err := Open(Options{FS: &watchFS{}, Dir: dir, FlushInterval: time.Hour, DisableCompaction: true, MaxOpenFiles: bound})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.CreateProject("p", "tok", "sec"); err != nil {
		t.Fatal(err)
	}
	p, _ := s.Project("p")
	evs := dayEvents(days, 6)
	for half := 0; half < 2; half++ { // two segments per day
		var part []Event
		for i := half; i < len(evs); i += 2 {
			part = append(part, evs[i])
		}
		if err := p.Ingest(part); err != nil {
			t.Fatal(err)
		}
		if err := s.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	snap := p.Snapshot()
	if len(snap.Segments) != 2*days {
		t.Fatalf("%d segments, want %d", len(snap.Segments), 2*days)
	}
	readAll := func() error {
		n := 0
		for _, ref := range snap.Segments {
			rows, err := checkSegmentDay(ref, cached)
			if err != nil {
				return err
			}
			n += rows
		}
		if n != len(evs) {
			return fmt.Errorf("snapshot has %d rows, want %d", n, len(evs))
		}
		return nil
	}
	stop := make(chan struct{})
	errs := make(chan error, 2)
	var wg sync.WaitGroup
	for r := 0; r < 2; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				if err := readAll(); err != nil {
					errs <- err
					return
				}
				select {
				case <-stop:
					errs <- readAll() // once more, after every input is deleted
					return
				default:
				}
			}
		}()
	}
	if err := s.Compact(); err != nil {
		t.Fatal(err)
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("reading a snapshot across compaction: %v", err)
		}
	}
	if segs := len(p.Snapshot().Segments); segs != days {
		t.Fatalf("%d segments after compaction, want %d", segs, days)
	}
	for _, ref := range snap.Segments {
		if _, err := os.Stat(s.path(segDirName, ref.File)); !os.IsNotExist(err) {
			t.Fatalf("input %s still in the directory after compaction: %v", ref.File, err)
		}
	}
	snap = nil
	waitOpenFiles(t, func() int { return s.Stats().OpenFiles }, bound)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if n := s.Stats().OpenFiles; n != 0 {
		t.Fatalf("%d segment handles open after Close", n)
	}
}

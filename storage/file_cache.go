package storage

// The file cache bounds the open handles of a store's segment files, so
// a store fed for weeks (thousands of segments) stays far below the
// process's open-file limit. A Segment reads its footer once at open and
// keeps it in memory; after that its file is needed only to read a block,
// so a segment whose handle is closed costs nothing until then.
//
// Each segment file is a cachedFile. A read (segmentFile.ReadAt) takes
// its handle, opening the file again if it was closed, holds a reference
// for the length of the pread, and returns the handle to the front of an
// LRU list of idle handles; beyond maxOpen handles the least recently
// used idle ones are closed. A read never waits for a handle: when every
// open handle is in use the cache goes over maxOpen by the reads in
// flight, and comes back under as they finish.
//
// Deleting a segment file. A Snapshot (a running query) or the block
// cache may still hold a segment after the manifest stopped naming it
// and compaction deletes its file; reads through it must keep working.
// The cache is the store's FS (it wraps Options.FS), so every Remove of
// the store goes through it: removing the path of a segment whose reader
// is still reachable first makes sure its handle is open and pins it. A
// pinned handle is never evicted, and an open descriptor keeps the
// unlinked file's bytes (POSIX), so every reader of the segment keeps
// reading them. The pinned handle is closed when the segment's reader
// (segmentFile) becomes unreachable — a runtime cleanup, run after the
// garbage collector finds no Snapshot or SegmentRef that refers to it;
// Remove drops the segment's blocks from the block cache so that only
// readers keep it — or at Close. If the handle cannot be opened, Remove
// fails and deletes nothing (compaction lists the file as obsolete and
// tries again later).
//
// INVARIANTS (all under fileCache.mu):
//   - open counts the cachedFiles whose f is not nil.
//   - A handle with refs > 0 is never closed.
//   - c.elem is not nil (c is in idle) iff c.f != nil, c.refs == 0, and c
//     is neither pinned nor closed: only those are evicted.
//   - open > maxOpen only by handles in use (refs > 0) or pinned.
//   - byPath holds the cachedFiles not closed and not pinned: those whose
//     file is still in the directory under that path; pinned holds the
//     pinned ones not closed.

import (
	"container/list"
	"fmt"
	"io"
	"io/fs"
	"runtime"
	"sync"
	"sync/atomic"
)

// DefaultMaxOpenFiles bounds a store's open segment handles unless
// Options.MaxOpenFiles says otherwise: a small share of the usual
// RLIMIT_NOFILE (Go raises the soft limit to the hard one, often 2^20;
// systemd's default hard limit is 524288), and more segments than a
// query's working set usually touches.
const DefaultMaxOpenFiles = 1000

// fileCache is the FS of a Store: Options.FS with segment handles cached
// and Remove made safe for readers of the removed file (see the top of
// this file).
type fileCache struct {
	FS          // the filesystem underneath; every call but Remove passes through
	maxOpen int // handles kept open when idle; > 0

	mu     sync.Mutex
	byPath map[string]*cachedFile
	pinned map[*cachedFile]struct{} // removed files still open for readers
	idle   list.List                // of *cachedFile with an idle open handle, most recently used first
	open   int                      // handles open: idle, in use and pinned
}

var _ FS = (*fileCache)(nil)

func newFileCache(inner FS, maxOpen int) *fileCache {
	if maxOpen <= 0 {
		maxOpen = DefaultMaxOpenFiles
	}
	return &fileCache{FS: inner, maxOpen: maxOpen, byPath: map[string]*cachedFile{}, pinned: map[*cachedFile]struct{}{}}
}

// cachedFile is one segment file and its handle, if open. Its fields
// below path are guarded by cache.mu.
type cachedFile struct {
	cache *fileCache
	path  string

	f      File          // nil while closed
	refs   int           // reads using f now
	elem   *list.Element // position in cache.idle, nil if not there
	pinned atomic.Bool   // the file is removed: f stays open for readers (set under cache.mu)
	closed bool          // close was called: reads fail
}

// segmentFile is the io.ReaderAt a Segment reads through. It exists apart
// from cachedFile so that its becoming unreachable (no Segment refers to
// it any more) can close the handle: the cleanup's argument must not keep
// its object alive.
type segmentFile struct {
	c *cachedFile
}

// openFile opens path for a Segment and returns its reader and size. The
// handle stays open (the caller reads the footer next) until evicted.
func (fc *fileCache) openFile(path string) (*segmentFile, int64, error) {
	f, err := fc.FS.Open(path)
	if err != nil {
		return nil, 0, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("stat %s: %w", path, err)
	}
	c := &cachedFile{cache: fc, path: path, f: f}
	fc.mu.Lock()
	fc.open++
	c.elem = fc.idle.PushFront(c)
	fc.byPath[path] = c
	victims := fc.evictLocked(nil)
	fc.mu.Unlock()
	closeFiles(victims)
	sf := &segmentFile{c: c}
	runtime.AddCleanup(sf, (*cachedFile).close, c)
	return sf, st.Size(), nil
}

// ReadAt reads through the cached handle, reopening the file if its
// handle was evicted. Safe for concurrent use.
func (sf *segmentFile) ReadAt(p []byte, off int64) (int, error) {
	f, err := sf.c.acquire()
	if err != nil {
		return 0, err
	}
	n, err := f.ReadAt(p, off)
	sf.c.release()
	runtime.KeepAlive(sf) // no cleanup while the read runs
	return n, err
}

// Close ends the segment's use of its file: the handle is closed now, or
// when the last read in flight finishes. Reads after Close fail.
func (sf *segmentFile) Close() error {
	sf.c.close()
	return nil
}

// acquire returns c's open handle with a reference taken; release gives
// the reference back.
func (c *cachedFile) acquire() (File, error) {
	fc := c.cache
	fc.mu.Lock()
	var extra File // a handle opened twice by racing readers
	if c.f == nil && !c.closed {
		fc.mu.Unlock() // opening may be slow: other files' reads go on
		f, err := fc.FS.Open(c.path)
		fc.mu.Lock()
		switch {
		case c.f != nil || c.closed:
			// Another read reopened it, or Remove pinned it (then err
			// may be "not exist"), or it was closed meanwhile.
			if err == nil {
				extra = f
			}
		case err != nil:
			fc.mu.Unlock()
			return nil, fmt.Errorf("reopen segment file: %w", err)
		default:
			c.f = f
			fc.open++
		}
	}
	if c.closed {
		fc.mu.Unlock()
		closeFiles([]File{extra})
		return nil, fmt.Errorf("read %s: %w", c.path, fs.ErrClosed)
	}
	if c.elem != nil {
		fc.idle.Remove(c.elem)
		c.elem = nil
	}
	c.refs++
	f := c.f
	victims := fc.evictLocked([]File{extra})
	fc.mu.Unlock()
	closeFiles(victims)
	return f, nil
}

func (c *cachedFile) release() {
	fc := c.cache
	fc.mu.Lock()
	c.refs--
	if c.refs < 0 {
		fc.mu.Unlock()
		panic(fmt.Sprintf("BUG: file cache: %s released more often than acquired", c.path))
	}
	var victims []File
	if c.refs == 0 {
		switch {
		case c.closed:
			victims = append(victims, c.f)
			c.f = nil
			fc.open--
		case !c.pinned.Load():
			c.elem = fc.idle.PushFront(c)
		}
		victims = fc.evictLocked(victims)
	}
	fc.mu.Unlock()
	closeFiles(victims)
}

// close forgets c: its handle is closed now if no read uses it, else by
// the last release. Idempotent; also run as the segmentFile's cleanup.
func (c *cachedFile) close() {
	fc := c.cache
	fc.mu.Lock()
	if c.closed {
		fc.mu.Unlock()
		return
	}
	c.closed = true
	if fc.byPath[c.path] == c {
		delete(fc.byPath, c.path)
	}
	delete(fc.pinned, c)
	var f File
	if c.f != nil && c.refs == 0 {
		if c.elem != nil {
			fc.idle.Remove(c.elem)
			c.elem = nil
		}
		f, c.f = c.f, nil
		fc.open--
	}
	fc.mu.Unlock()
	closeFiles([]File{f})
}

// evictLocked takes idle handles out while more than maxOpen are open
// and returns them, appended to victims, for the caller to close after
// unlocking. REQUIRES: fc.mu held.
func (fc *fileCache) evictLocked(victims []File) []File {
	for fc.open > fc.maxOpen {
		e := fc.idle.Back()
		if e == nil {
			break // the rest are in use or pinned
		}
		c := fc.idle.Remove(e).(*cachedFile)
		c.elem = nil
		victims = append(victims, c.f)
		c.f = nil
		fc.open--
	}
	return victims
}

// Remove deletes path. If a segment reader of path is still reachable,
// its handle is opened if needed and pinned first, so that reader keeps
// the file's bytes (see the top of this file).
func (fc *fileCache) Remove(path string) error {
	fc.mu.Lock()
	c := fc.byPath[path]
	if c == nil {
		fc.mu.Unlock()
		return fc.FS.Remove(path)
	}
	var extra File
	if c.f == nil {
		fc.mu.Unlock()
		f, err := fc.FS.Open(path)
		if err != nil {
			return err // "not exist" stays recognisable (isNotExist)
		}
		fc.mu.Lock()
		if c.f != nil || c.closed {
			extra = f
		} else {
			c.f = f
			fc.open++
		}
	}
	if !c.closed {
		if c.elem != nil {
			fc.idle.Remove(c.elem)
			c.elem = nil
		}
		c.pinned.Store(true)
		fc.pinned[c] = struct{}{}
		delete(fc.byPath, path)
	}
	fc.mu.Unlock()
	closeFiles([]File{extra})
	// Cached blocks would keep the segment, and so the pinned handle,
	// alive until they age out; queries still reading it decode again.
	sharedBlockCache.forgetFile(path)
	return fc.FS.Remove(path)
}

// closeAll closes every file of the cache, pinned ones too (Store.Close:
// no reader may outlive the store).
func (fc *fileCache) closeAll() {
	fc.mu.Lock()
	all := make([]*cachedFile, 0, len(fc.byPath)+len(fc.pinned))
	for _, c := range fc.byPath {
		all = append(all, c)
	}
	for c := range fc.pinned {
		all = append(all, c)
	}
	fc.mu.Unlock()
	for _, c := range all {
		c.close()
	}
}

// fileRemoved reports whether r is a segmentFile whose file is removed.
// The block cache keeps no blocks of such a segment (block_cache.go,
// forgetFile): they would keep it, and its pinned handle, alive.
func fileRemoved(r io.ReaderAt) bool {
	sf, ok := r.(*segmentFile)
	return ok && sf.c.pinned.Load()
}

// openCount is the number of segment handles open now.
func (fc *fileCache) openCount() int {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	return fc.open
}

// closeFiles closes read-only handles; nil entries are skipped. A close
// error of a file only read loses nothing, so it is ignored.
func closeFiles(files []File) {
	for _, f := range files {
		if f != nil {
			f.Close()
		}
	}
}

package storage

// crashFS is an in-memory FS for tests that knows what a power loss would
// keep, so a test can "crash" the store at any point and reopen it on
// exactly the bytes and directory entries that were durable then.
//
// Model (the strictest reading of POSIX that real filesystems honour):
//
//   - A file is an inode holding its live bytes, which every read sees,
//     and its synced bytes: the live bytes as of its last File.Sync (on
//     any handle of the inode).
//   - A directory holds live entries (name → inode), which every call
//     sees, and durable entries: what its last SyncDir made durable.
//     Create of a new name, Rename and Remove change the live entries and
//     are logged as pending until the next SyncDir of that directory.
//     Create of an existing name truncates that inode (O_TRUNC), as
//     os.Create does.
//   - A directory made by MkdirAll is durable at once, as a journaling
//     filesystem makes it in practice; with strictDirs set it survives a
//     crash only once SyncDir ran on its parent (POSIX).
//
// clone returns what a machine would find after a crash now: each
// surviving directory's durable entries, each naming an inode whose
// content is its synced bytes. With a random source it may also keep
// what a disk could have written without being asked: a random prefix of
// each directory's pending operations, in order (metadata journals commit
// in order), and, for an inode whose live bytes extend its synced bytes,
// a random prefix of the extension (a torn append), half the time with
// its end read back as zeros (zeroUnwrittenTail).
//
// Not modelled: reordering within one directory's pending operations, a
// write that lands partly in the middle of a file, bit rot (the tests of
// each format's checksums cover damage).
//
// A Rename within one directory is one atomic pending operation; a
// Rename across directories is two (remove here, add there), which a
// crash may split. Storage only renames within a directory.
//
// Safe for concurrent use: one mutex guards everything, handles included.

import (
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

type crashFS struct {
	mu   sync.Mutex
	dirs map[string]*crashDir // by cleaned path; "/" always exists
	// strictDirs: a directory's own entry needs SyncDir of its parent.
	strictDirs bool
	// mutations counts calls that changed the live state.
	mutations int
	// onMutation, if set, runs after every state-changing call with the
	// call's number (from 1) and a description, with mu held: it may
	// call cloneLocked but no other method.
	onMutation func(n int, what string)
	locks      map[string]bool // paths held by Lock
}

type crashInode struct {
	data   []byte // live content
	synced []byte // content as of the last Sync
}

type crashDir struct {
	live    map[string]*crashInode
	durable map[string]*crashInode
	pending []crashDirOp // applied to live, not yet to durable, in order
	// durableEntry: the directory itself survives a crash.
	durableEntry bool
}

// crashDirOp is one change of a directory's entries: remove del (if not
// ""), then set add to ino (if add is not "").
type crashDirOp struct {
	del, add string
	ino      *crashInode
}

func (op crashDirOp) apply(entries map[string]*crashInode) {
	if op.del != "" {
		delete(entries, op.del)
	}
	if op.add != "" {
		entries[op.add] = op.ino
	}
}

var _ FS = (*crashFS)(nil)

func newCrashFS() *crashFS {
	fs := &crashFS{dirs: map[string]*crashDir{}, locks: map[string]bool{}}
	fs.dirs["/"] = newCrashDir(true)
	return fs
}

func newCrashDir(durableEntry bool) *crashDir {
	return &crashDir{live: map[string]*crashInode{}, durable: map[string]*crashInode{}, durableEntry: durableEntry}
}

// splitLocked returns path's directory (which must exist) and base name.
func (fs *crashFS) splitLocked(op, path string) (*crashDir, string, error) {
	path = filepath.Clean(path)
	d := fs.dirs[filepath.Dir(path)]
	if d == nil {
		return nil, "", &os.PathError{Op: op, Path: path, Err: os.ErrNotExist}
	}
	return d, filepath.Base(path), nil
}

func (fs *crashFS) mutatedLocked(what string) {
	fs.mutations++
	if fs.onMutation != nil {
		fs.onMutation(fs.mutations, what)
	}
}

func (fs *crashFS) Create(path string) (File, error) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	d, name, err := fs.splitLocked("create", path)
	if err != nil {
		return nil, err
	}
	if fs.dirs[filepath.Clean(path)] != nil {
		return nil, &os.PathError{Op: "create", Path: path, Err: errors.New("is a directory")}
	}
	ino := d.live[name]
	if ino == nil {
		ino = &crashInode{}
		op := crashDirOp{add: name, ino: ino}
		op.apply(d.live)
		d.pending = append(d.pending, op)
	} else {
		ino.data = nil
	}
	fs.mutatedLocked("create " + path)
	return &crashFile{fs: fs, ino: ino, path: path, read: true, write: true}, nil
}

func (fs *crashFS) open(op, path string, write bool) (File, error) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	d, name, err := fs.splitLocked(op, path)
	if err != nil {
		return nil, err
	}
	ino := d.live[name]
	if ino == nil {
		return nil, &os.PathError{Op: op, Path: path, Err: os.ErrNotExist}
	}
	return &crashFile{fs: fs, ino: ino, path: path, read: true, write: write, appendOnly: write}, nil
}

func (fs *crashFS) Open(path string) (File, error)       { return fs.open("open", path, false) }
func (fs *crashFS) OpenAppend(path string) (File, error) { return fs.open("open", path, true) }

func (fs *crashFS) Rename(oldPath, newPath string) error {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	od, oldName, err := fs.splitLocked("rename", oldPath)
	if err != nil {
		return err
	}
	nd, newName, err := fs.splitLocked("rename", newPath)
	if err != nil {
		return err
	}
	ino := od.live[oldName]
	if ino == nil {
		return &os.LinkError{Op: "rename", Old: oldPath, New: newPath, Err: os.ErrNotExist}
	}
	if od == nd {
		op := crashDirOp{del: oldName, add: newName, ino: ino}
		op.apply(od.live)
		od.pending = append(od.pending, op)
	} else {
		del, add := crashDirOp{del: oldName}, crashDirOp{add: newName, ino: ino}
		del.apply(od.live)
		add.apply(nd.live)
		od.pending = append(od.pending, del)
		nd.pending = append(nd.pending, add)
	}
	fs.mutatedLocked("rename " + oldPath + " " + newPath)
	return nil
}

func (fs *crashFS) Remove(path string) error {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	d, name, err := fs.splitLocked("remove", path)
	if err != nil {
		return err
	}
	if d.live[name] == nil {
		return &os.PathError{Op: "remove", Path: path, Err: os.ErrNotExist}
	}
	op := crashDirOp{del: name}
	op.apply(d.live)
	d.pending = append(d.pending, op)
	fs.mutatedLocked("remove " + path)
	return nil
}

func (fs *crashFS) List(dir string) ([]string, error) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	dir = filepath.Clean(dir)
	d := fs.dirs[dir]
	if d == nil {
		return nil, &os.PathError{Op: "open", Path: dir, Err: os.ErrNotExist}
	}
	names := make([]string, 0, len(d.live))
	for n := range d.live {
		names = append(names, n)
	}
	for p := range fs.dirs {
		if p != dir && filepath.Dir(p) == dir {
			names = append(names, filepath.Base(p))
		}
	}
	sort.Strings(names)
	return names, nil
}

func (fs *crashFS) MkdirAll(dir string) error {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	dir = filepath.Clean(dir)
	if !filepath.IsAbs(dir) {
		return fmt.Errorf("crashFS: relative path %s", dir)
	}
	var missing []string
	for p := dir; fs.dirs[p] == nil; p = filepath.Dir(p) {
		if fs.dirs[filepath.Dir(p)] != nil && fs.dirs[filepath.Dir(p)].live[filepath.Base(p)] != nil {
			return &os.PathError{Op: "mkdir", Path: p, Err: errors.New("not a directory")}
		}
		missing = append(missing, p)
	}
	for i := len(missing) - 1; i >= 0; i-- {
		fs.dirs[missing[i]] = newCrashDir(!fs.strictDirs)
		fs.mutatedLocked("mkdir " + missing[i])
	}
	return nil
}

func (fs *crashFS) SyncDir(dir string) error {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	dir = filepath.Clean(dir)
	d := fs.dirs[dir]
	if d == nil {
		return &os.PathError{Op: "open", Path: dir, Err: os.ErrNotExist}
	}
	for _, op := range d.pending {
		op.apply(d.durable)
	}
	d.pending = nil
	for p, sub := range fs.dirs {
		if p != dir && filepath.Dir(p) == dir {
			sub.durableEntry = true
		}
	}
	fs.mutatedLocked("syncdir " + dir)
	return nil
}

// Lock creates path if needed (never truncating it) and holds it until
// the returned Closer is closed; a second Lock of the same path fails at
// once, as a second process's would. The lock lives in memory only: a
// clone (the machine after a crash) starts with none held.
func (fs *crashFS) Lock(path string) (io.Closer, error) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	d, name, err := fs.splitLocked("lock", path)
	if err != nil {
		return nil, err
	}
	path = filepath.Clean(path)
	if fs.locks[path] {
		return nil, fmt.Errorf("lock %s: %w", path, ErrDirLocked)
	}
	if d.live[name] == nil {
		op := crashDirOp{add: name, ino: &crashInode{}}
		op.apply(d.live)
		d.pending = append(d.pending, op)
		fs.mutatedLocked("create " + path)
	}
	fs.locks[path] = true
	return &crashLock{fs: fs, path: path}, nil
}

type crashLock struct {
	fs   *crashFS
	path string
	once sync.Once
}

func (l *crashLock) Close() error {
	l.once.Do(func() {
		l.fs.mu.Lock()
		delete(l.fs.locks, l.path)
		l.fs.mu.Unlock()
	})
	return nil
}

// clone returns the state a crash now would leave; see the file comment
// for rnd. Locks are not carried over: the crashed process is gone.
func (fs *crashFS) clone(rnd *rand.Rand) *crashFS {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.cloneLocked(rnd)
}

// cloneLocked is clone. REQUIRES: fs.mu held.
func (fs *crashFS) cloneLocked(rnd *rand.Rand) *crashFS {
	c := newCrashFS()
	c.strictDirs = fs.strictDirs
	inodes := map[*crashInode]*crashInode{} // keeps hard links shared
	copyInode := func(ino *crashInode) *crashInode {
		if n := inodes[ino]; n != nil {
			return n
		}
		data := append([]byte(nil), ino.synced...)
		if rnd != nil && len(ino.data) > len(ino.synced) && string(ino.data[:len(ino.synced)]) == string(ino.synced) {
			data = append(data, ino.data[len(data):len(data)+rnd.Intn(len(ino.data)-len(data)+1)]...)
			if rnd.Intn(2) == 0 {
				zeroUnwrittenTail(data, len(ino.synced), rnd)
			}
		}
		n := &crashInode{data: data, synced: data}
		inodes[ino] = n
		return n
	}
	// Directories in path order, so a parent is decided before its
	// children.
	paths := make([]string, 0, len(fs.dirs))
	for p := range fs.dirs {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		d := fs.dirs[p]
		if p != "/" && (c.dirs[filepath.Dir(p)] == nil || !d.durableEntry) {
			continue
		}
		entries := map[string]*crashInode{}
		for n, ino := range d.durable {
			entries[n] = ino
		}
		if rnd != nil && len(d.pending) > 0 {
			for _, op := range d.pending[:rnd.Intn(len(d.pending)+1)] {
				op.apply(entries)
			}
		}
		cd := newCrashDir(true)
		for n, ino := range entries {
			ci := copyInode(ino)
			cd.live[n], cd.durable[n] = ci, ci
		}
		c.dirs[p] = cd
	}
	return c
}

// fingerprint sums up the live state: equal fingerprints mean the same
// directories, entries and bytes (up to a CRC collision). The crash tests
// use it to skip crash points that leave what the previous one left.
func (fs *crashFS) fingerprint() uint64 {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	paths := make([]string, 0, len(fs.dirs))
	for p := range fs.dirs {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	h := fnv.New64a()
	for _, p := range paths {
		d := fs.dirs[p]
		names := make([]string, 0, len(d.live))
		for n := range d.live {
			names = append(names, n)
		}
		sort.Strings(names)
		fmt.Fprintf(h, "d %s\n", p)
		for _, n := range names {
			data := d.live[n].data
			fmt.Fprintf(h, "f %s %d %08x\n", n, len(data), checksum(data))
		}
	}
	return h.Sum64()
}

// zeroUnwrittenTail models a file whose new size reached the disk before
// all of its new bytes did: from some point on, the bytes past synced
// read back as zeros. The point is synced itself (the rest of its last
// sector never rewritten) or a sector boundary after it (those sectors
// never written).
func zeroUnwrittenTail(data []byte, synced int, rnd *rand.Rand) {
	const sector = 512
	from := synced
	if first := (synced/sector + 1) * sector; first < len(data) && rnd.Intn(2) == 0 {
		from = first + sector*rnd.Intn((len(data)-first)/sector+1)
	}
	clear(data[min(from, len(data)):])
}

// files returns every live file path, sorted (for test messages).
func (fs *crashFS) files() []string {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	var out []string
	for p, d := range fs.dirs {
		for n := range d.live {
			out = append(out, filepath.Join(p, n))
		}
	}
	sort.Strings(out)
	return out
}

// crashFile is an open handle. Create's handles read and write at their
// position; OpenAppend's read at their position and always write at the
// end (O_APPEND); Open's only read.
type crashFile struct {
	fs                      *crashFS
	ino                     *crashInode
	path                    string
	pos                     int64
	read, write, appendOnly bool
	closed                  bool
}

func (f *crashFile) check(op string, needWrite bool) error {
	if f.closed {
		return &os.PathError{Op: op, Path: f.path, Err: os.ErrClosed}
	}
	if needWrite && !f.write {
		return &os.PathError{Op: op, Path: f.path, Err: errors.New("file not open for writing")}
	}
	return nil
}

func (f *crashFile) Read(p []byte) (int, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.check("read", false); err != nil {
		return 0, err
	}
	if f.pos >= int64(len(f.ino.data)) {
		return 0, io.EOF
	}
	n := copy(p, f.ino.data[f.pos:])
	f.pos += int64(n)
	return n, nil
}

func (f *crashFile) ReadAt(p []byte, off int64) (int, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.check("read", false); err != nil {
		return 0, err
	}
	if off < 0 {
		return 0, &os.PathError{Op: "read", Path: f.path, Err: errors.New("negative offset")}
	}
	if off >= int64(len(f.ino.data)) {
		return 0, io.EOF
	}
	n := copy(p, f.ino.data[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (f *crashFile) Write(p []byte) (int, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.check("write", true); err != nil {
		return 0, err
	}
	if f.appendOnly {
		f.pos = int64(len(f.ino.data))
	}
	end := f.pos + int64(len(p))
	if f.pos == int64(len(f.ino.data)) && f.pos >= int64(len(f.ino.synced)) {
		// An append past the synced bytes leaves every byte they share
		// with data as it is.
		f.ino.data = append(f.ino.data, p...)
		f.pos = end
		f.fs.mutatedLocked(fmt.Sprintf("write %s %d bytes", f.path, len(p)))
		return len(p), nil
	}
	if end > int64(len(f.ino.data)) {
		grown := make([]byte, end)
		copy(grown, f.ino.data)
		f.ino.data = grown
	} else {
		// Never write into bytes another slice (a clone's synced copy)
		// may share.
		f.ino.data = append([]byte(nil), f.ino.data...)
	}
	copy(f.ino.data[f.pos:], p)
	f.pos = end
	f.fs.mutatedLocked(fmt.Sprintf("write %s %d bytes", f.path, len(p)))
	return len(p), nil
}

func (f *crashFile) Sync() error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.check("sync", false); err != nil {
		return err
	}
	f.ino.synced = f.ino.data
	f.fs.mutatedLocked("sync " + f.path)
	return nil
}

func (f *crashFile) Truncate(size int64) error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.check("truncate", true); err != nil {
		return err
	}
	if size < 0 {
		return &os.PathError{Op: "truncate", Path: f.path, Err: errors.New("negative size")}
	}
	data := make([]byte, size)
	copy(data, f.ino.data)
	f.ino.data = data
	f.fs.mutatedLocked(fmt.Sprintf("truncate %s %d", f.path, size))
	return nil
}

func (f *crashFile) Seek(offset int64, whence int) (int64, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.check("seek", false); err != nil {
		return 0, err
	}
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += f.pos
	case io.SeekEnd:
		offset += int64(len(f.ino.data))
	default:
		return 0, &os.PathError{Op: "seek", Path: f.path, Err: errors.New("bad whence")}
	}
	if offset < 0 {
		return 0, &os.PathError{Op: "seek", Path: f.path, Err: errors.New("negative position")}
	}
	f.pos = offset
	return offset, nil
}

func (f *crashFile) Stat() (os.FileInfo, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.check("stat", false); err != nil {
		return nil, err
	}
	return crashFileInfo{name: filepath.Base(f.path), size: int64(len(f.ino.data))}, nil
}

func (f *crashFile) Close() error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.check("close", false); err != nil {
		return err
	}
	f.closed = true
	return nil
}

type crashFileInfo struct {
	name string
	size int64
}

func (i crashFileInfo) Name() string       { return i.name }
func (i crashFileInfo) Size() int64        { return i.size }
func (i crashFileInfo) Mode() os.FileMode  { return 0o644 }
func (i crashFileInfo) ModTime() time.Time { return time.Time{} }
func (i crashFileInfo) IsDir() bool        { return false }
func (i crashFileInfo) Sys() any           { return nil }

// TestCrashFSKeepsOnlyWhatWasSynced pins the model the crash tests rely
// on.
func TestCrashFSKeepsOnlyWhatWasSynced(t *testing.T) {
	fs := newCrashFS()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	read := func(fs *crashFS, path string) (string, bool) {
		t.Helper()
		data, err := readWholeFile(fs, path)
		if isNotExist(err) {
			return "", false
		}
		must(err)
		return string(data), true
	}
	must(fs.MkdirAll("/d/sub"))
	f, err := fs.Create("/d/a")
	must(err)
	f.Write([]byte("synced"))
	must(f.Sync())
	f.Write([]byte("+lost"))

	// The entry of a/ is not durable yet.
	if _, ok := read(fs.clone(nil), "/d/a"); ok {
		t.Fatal("a created file survived a crash without SyncDir")
	}
	must(fs.SyncDir("/d"))
	if got, _ := read(fs.clone(nil), "/d/a"); got != "synced" {
		t.Fatalf("after a crash a holds %q, want its synced bytes", got)
	}
	if got, _ := read(fs, "/d/a"); got != "synced+lost" {
		t.Fatalf("live a holds %q", got)
	}
	// A torn append keeps a prefix of the unsynced tail, whose end may
	// read back as zeros.
	rnd := rand.New(rand.NewSource(1))
	zeroed := 0
	for i := 0; i < 40; i++ {
		got, _ := read(fs.clone(rnd), "/d/a")
		written := strings.TrimRight(got, "\x00")
		if len(got) < len("synced") || len(got) > len("synced+lost") ||
			!strings.HasPrefix("synced+lost", written) || len(written) < len("synced") {
			t.Fatalf("torn clone holds %q", got)
		}
		if written != got {
			zeroed++
		}
	}
	if zeroed == 0 {
		t.Fatal("no torn clone read back zeros")
	}

	// Rename and remove need SyncDir too; renames are atomic.
	must(fs.Rename("/d/a", "/d/b"))
	c := fs.clone(nil)
	if _, ok := read(c, "/d/b"); ok {
		t.Fatal("unsynced rename survived")
	}
	for i := 0; i < 20; i++ {
		c := fs.clone(rnd)
		_, a := read(c, "/d/a")
		_, b := read(c, "/d/b")
		if a == b {
			t.Fatalf("a crash split a rename: a %v, b %v", a, b)
		}
	}
	must(fs.SyncDir("/d"))
	must(fs.Remove("/d/b"))
	if got, _ := read(fs.clone(nil), "/d/b"); got != "synced" {
		t.Fatalf("unsynced remove: b holds %q after a crash", got)
	}
	must(fs.SyncDir("/d"))
	if _, ok := read(fs.clone(nil), "/d/b"); ok {
		t.Fatal("a synced remove did not survive")
	}

	// Create over an existing file truncates it, durably only at Sync.
	g, _ := fs.Create("/d/sub/x")
	g.Write([]byte("old"))
	g.Sync()
	fs.SyncDir("/d/sub")
	g, _ = fs.Create("/d/sub/x")
	g.Write([]byte("new"))
	if got, _ := read(fs.clone(nil), "/d/sub/x"); got != "old" {
		t.Fatalf("re-created file holds %q after a crash, want the old synced bytes", got)
	}

	// Directories: durable at once unless strictDirs.
	s := newCrashFS()
	s.strictDirs = true
	must(s.MkdirAll("/x/y"))
	if names, _ := s.clone(nil).List("/"); len(names) != 0 {
		t.Fatalf("strict: unsynced directories survived: %v", names)
	}
	must(s.SyncDir("/"))
	if names, _ := s.clone(nil).List("/x"); len(names) != 0 {
		t.Fatalf("strict: /x/y survived without SyncDir(/x): %v", names)
	}
	must(s.SyncDir("/x"))
	if names, err := s.clone(nil).List("/x"); err != nil || len(names) != 1 {
		t.Fatalf("strict: /x lists %v, %v after syncs", names, err)
	}

	// Locks exclude a second holder until closed.
	l, err := fs.Lock("/d/LOCK")
	must(err)
	if _, err := fs.Lock("/d/LOCK"); !errors.Is(err, ErrDirLocked) {
		t.Fatalf("second lock: %v, want ErrDirLocked", err)
	}
	l.Close()
	l, err = fs.Lock("/d/LOCK")
	must(err)
	l.Close()
}

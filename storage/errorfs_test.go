package storage

// errorFS wraps an FS for tests and fails one chosen call: the nth call
// of a chosen kind (or of any kind) returns errInjected. It counts the
// calls of that kind, so a test walks n = 1, 2, … and stops at the first
// run in which the nth call never came (fired() is "").
//
// The failing call does nothing, except:
//   - a failing Write writes the first half of its bytes (a short write,
//     as a full disk gives) and reports how many;
//   - with effect set, the failing call (Create, Rename, Remove, Sync,
//     SyncDir, Truncate, Write, MkdirAll) takes full effect and still
//     reports failure: the caller cannot know the outcome, as after an
//     fsync or a rename that fails late.
//
// A fault that lasts (a full disk, a process out of descriptors) is
// modelled by errno and lasting: the injected error is a *os.PathError
// carrying errno (instead of errInjected), and with lasting set every
// counted call from the nth on fails until clearFault.
//
// Every other call passes through. Safe for concurrent use.

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"syscall"
	"testing"
)

// fsOp names a kind of FS or File call.
type fsOp uint8

const (
	opAny fsOp = iota // every call below
	opCreate
	opOpen // Open and OpenAppend
	opRename
	opRemove
	opList
	opMkdir
	opSyncDir
	opLock
	opRead // Read and ReadAt
	opWrite
	opSync
	opTruncate
	opSeek
	opStat
	opClose
	numFSOps
)

var fsOpNames = [numFSOps]string{"any", "create", "open", "rename", "remove", "list", "mkdir", "syncdir", "lock",
	"read", "write", "sync", "truncate", "seek", "stat", "close"}

func (o fsOp) String() string { return fsOpNames[o] }

// errInjected is the error errorFS injects.
var errInjected = errors.New("injected fault")

type errorFS struct {
	FS
	kind   fsOp // calls of this kind count toward n; opAny: all calls
	n      int  // fail the nth counted call (from 1); 0: never
	effect bool // the failing call takes effect before failing
	// errno, if not 0, is the error injected instead of errInjected.
	errno syscall.Errno

	mu      sync.Mutex
	lasting bool     // fail every counted call from the nth on, until clearFault
	count   int      // counted calls so far
	fired   string   // the call that failed, "" while none has
	trace   []fsCall // each counted call, in order
}

// fsCall is one call an errorFS saw.
type fsCall struct {
	op   fsOp
	path string
}

var _ FS = (*errorFS)(nil)

func newErrorFS(inner FS, kind fsOp, n int, effect bool) *errorFS {
	return &errorFS{FS: inner, kind: kind, n: n, effect: effect}
}

// inject counts a call and reports whether it is the one to fail.
func (e *errorFS) inject(op fsOp, path string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.kind != opAny && e.kind != op {
		return false
	}
	e.count++
	e.trace = append(e.trace, fsCall{op, path})
	if e.n == 0 || e.count < e.n || e.count > e.n && !e.lasting {
		return false
	}
	if e.fired == "" {
		e.fired = fmt.Sprintf("%s %s (call %d)", op, path, e.count)
	}
	return true
}

// newFaultFS is an errorFS failing calls of kind with errno from the nth
// counted one on, until clearFault: a disk that stays full, a process
// that stays out of descriptors.
func newFaultFS(inner FS, kind fsOp, n int, errno syscall.Errno) *errorFS {
	return &errorFS{FS: inner, kind: kind, n: n, errno: errno, lasting: true}
}

// armFault starts a lasting fault with errno at the k-th counted call
// from now (k = 1: the next one).
func (e *errorFS) armFault(k int, errno syscall.Errno) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.n, e.errno, e.lasting, e.fired = e.count+k, errno, true, ""
}

// clearFault ends a lasting fault: later calls pass through.
func (e *errorFS) clearFault() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.lasting = false
	e.n = 0
}

// injectedError is the error a failing call returns.
func (e *errorFS) injectedError(op fsOp, path string) error {
	e.mu.Lock()
	errno := e.errno
	e.mu.Unlock()
	if errno != 0 {
		return &os.PathError{Op: op.String(), Path: path, Err: errno}
	}
	return injectedf(op, path)
}

// fired describes the failed call, or is "" if none failed yet.
func (e *errorFS) firedCall() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.fired
}

// callTrace returns the counted calls so far, in order.
func (e *errorFS) callTrace() []fsCall {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]fsCall(nil), e.trace...)
}

// hasEffect reports whether a failing call of kind op can take effect
// (see errorFS.effect); for the others effect changes nothing.
func (op fsOp) hasEffect() bool {
	switch op {
	case opCreate, opRename, opRemove, opMkdir, opSyncDir, opWrite, opSync, opTruncate:
		return true
	}
	return false
}

// calls is the number of counted calls so far.
func (e *errorFS) calls() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.count
}

func injectedf(op fsOp, path string) error {
	return &os.PathError{Op: op.String(), Path: path, Err: errInjected}
}

func (e *errorFS) Create(path string) (File, error) {
	if e.inject(opCreate, path) {
		if e.effect {
			if f, err := e.FS.Create(path); err == nil {
				f.Close()
			}
		}
		return nil, e.injectedError(opCreate, path)
	}
	f, err := e.FS.Create(path)
	if err != nil {
		return nil, err
	}
	return &errorFile{File: f, fs: e, path: path}, nil
}

func (e *errorFS) open(path string, open func(string) (File, error), readOnly bool) (File, error) {
	if e.inject(opOpen, path) {
		return nil, e.injectedError(opOpen, path)
	}
	f, err := open(path)
	if err != nil {
		return nil, err
	}
	return &errorFile{File: f, fs: e, path: path, readOnly: readOnly}, nil
}

func (e *errorFS) Open(path string) (File, error) { return e.open(path, e.FS.Open, true) }
func (e *errorFS) OpenAppend(path string) (File, error) {
	return e.open(path, e.FS.OpenAppend, false)
}

// do runs a call that returns only an error through the injector.
func (e *errorFS) do(op fsOp, path string, call func() error) error {
	if e.inject(op, path) {
		if e.effect && op != opList && op != opLock {
			call()
		}
		return e.injectedError(op, path)
	}
	return call()
}

func (e *errorFS) Rename(oldPath, newPath string) error {
	return e.do(opRename, oldPath, func() error { return e.FS.Rename(oldPath, newPath) })
}

func (e *errorFS) Remove(path string) error {
	return e.do(opRemove, path, func() error { return e.FS.Remove(path) })
}

func (e *errorFS) MkdirAll(dir string) error {
	return e.do(opMkdir, dir, func() error { return e.FS.MkdirAll(dir) })
}

func (e *errorFS) SyncDir(dir string) error {
	return e.do(opSyncDir, dir, func() error { return e.FS.SyncDir(dir) })
}

func (e *errorFS) List(dir string) ([]string, error) {
	if e.inject(opList, dir) {
		return nil, e.injectedError(opList, dir)
	}
	return e.FS.List(dir)
}

// Lock passes to the inner FS's Lock; an inner FS without one locks
// nothing.
func (e *errorFS) Lock(path string) (io.Closer, error) {
	if e.inject(opLock, path) {
		return nil, e.injectedError(opLock, path)
	}
	if l, ok := e.FS.(locker); ok {
		return l.Lock(path)
	}
	return noLock{}, nil
}

// locker is FS.Lock, for inner FSs from before FS had it.
type locker interface {
	Lock(path string) (io.Closer, error)
}

type noLock struct{}

func (noLock) Close() error { return nil }

// errorFile passes a File's calls through the injector of its errorFS.
type errorFile struct {
	File
	fs       *errorFS
	path     string
	readOnly bool // opened by Open
}

func (f *errorFile) Read(p []byte) (int, error) {
	if f.fs.inject(opRead, f.path) {
		return 0, f.fs.injectedError(opRead, f.path)
	}
	return f.File.Read(p)
}

func (f *errorFile) ReadAt(p []byte, off int64) (int, error) {
	if f.fs.inject(opRead, f.path) {
		return 0, f.fs.injectedError(opRead, f.path)
	}
	return f.File.ReadAt(p, off)
}

func (f *errorFile) Write(p []byte) (int, error) {
	if f.fs.inject(opWrite, f.path) {
		part := p[:len(p)/2]
		if f.fs.effect {
			part = p
		}
		n, _ := f.File.Write(part)
		return n, f.fs.injectedError(opWrite, f.path)
	}
	return f.File.Write(p)
}

func (f *errorFile) Sync() error {
	return f.fs.do(opSync, f.path, f.File.Sync)
}

func (f *errorFile) Truncate(size int64) error {
	return f.fs.do(opTruncate, f.path, func() error { return f.File.Truncate(size) })
}

func (f *errorFile) Seek(offset int64, whence int) (int64, error) {
	if f.fs.inject(opSeek, f.path) {
		return 0, f.fs.injectedError(opSeek, f.path)
	}
	return f.File.Seek(offset, whence)
}

func (f *errorFile) Stat() (os.FileInfo, error) {
	if f.fs.inject(opStat, f.path) {
		return nil, f.fs.injectedError(opStat, f.path)
	}
	return f.File.Stat()
}

// Close always closes the inner file (a failed close(2) still releases
// the descriptor) and may report failure.
//
// The close of a read-only file counts only when kind is opClose itself:
// the store's file cache closes those from other goroutines at moments
// that vary from run to run (which would shift every later call's
// number), and a failed close of a file never written loses nothing.
func (f *errorFile) Close() error {
	err := f.File.Close()
	if f.readOnly && f.fs.kind != opClose {
		return err
	}
	if f.fs.inject(opClose, f.path) {
		return f.fs.injectedError(opClose, f.path)
	}
	return err
}

// TestErrorFSFailsTheNthCall pins the injector's counting.
func TestErrorFSFailsTheNthCall(t *testing.T) {
	mem := newCrashFS()
	mem.MkdirAll("/d")
	e := newErrorFS(mem, opSync, 2, false)
	f, err := e.Create("/d/a")
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatalf("first sync: %v", err)
	}
	if err := f.Sync(); !errors.Is(err, errInjected) {
		t.Fatalf("second sync: %v, want the injected fault", err)
	}
	if err := f.Sync(); err != nil {
		t.Fatalf("third sync: %v (the fault should clear)", err)
	}
	if e.firedCall() == "" || e.calls() != 3 {
		t.Fatalf("fired %q after %d calls", e.firedCall(), e.calls())
	}

	e = newErrorFS(mem, opAny, 2, false)
	g, _ := e.Create("/d/b")
	if n, err := g.Write([]byte("abcd")); n != 2 || !errors.Is(err, errInjected) {
		t.Fatalf("short write: %d, %v", n, err)
	}
	data, _ := readWholeFile(mem, "/d/b")
	if string(data) != "ab" {
		t.Fatalf("after a short write the file holds %q", data)
	}

	e = newErrorFS(mem, opRename, 1, true)
	if err := e.Rename("/d/b", "/d/c"); !errors.Is(err, errInjected) {
		t.Fatalf("rename: %v", err)
	}
	if _, err := mem.Open("/d/c"); err != nil {
		t.Fatalf("a failing rename with effect did not rename: %v", err)
	}
}

package storage

// Users are numbered per shard: each distinct_id gets a dense uint32 the
// first time it is seen, so uniques, cohorts and retention are bitmap
// operations over user numbers.
//
// File layout (<data-dir>/users/<project>.users), append-only:
//
//	+---------+-----------+-----------+-----
//	| magic   | chunk 1   | chunk 2   | ...
//	| 8 bytes |           |           |
//	+---------+-----------+-----------+-----
//	chunk: | length uint32 LE | CRC-32C uint32 LE of the entries | entries |
//	entry: | uvarint byte length | distinct_id bytes |
//
// Each flush appends its new users in chunks of at most 4,096 (files
// written before may hold larger ones) and fsyncs, before the manifest
// that counts its users is published. The manifest's user count is the
// authority: entries beyond it (a flush that crashed before its manifest)
// are cut off at open, and fewer entries than it is corruption.

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"iter"
	"math"
	"path/filepath"
	"slices"
	"sort"
	"sync"
)

// usersMagic starts every user dictionary file. Wire format: never change.
const usersMagic = "ARBUSR01"

// userChunkMaxUsers bounds the users of one chunk, so that reading one
// user's distinct_id reads (and caches) at most this many.
const userChunkMaxUsers = 4096

// userDict maps distinct_id ↔ user number without holding every
// distinct_id in memory: durable users are read from the users file a
// chunk at a time (number → id) and found through the user index runs
// (id → number, user_index.go), both through the block cache; a bounded
// cache keeps the ids ingest saw lately. Only users numbered since the
// last flush are all in memory (fresh), so what stays resident is bounded
// by the flush size and the cache budgets, not by the number of users.
//
// Guarded by the project's lock: written under the write lock; lookup
// also runs under the read lock (its cache has its own lock).
type userDict struct {
	file *userFile
	// persisted users are durable in the file, which is fileBytes long up
	// to the last of them.
	persisted int
	fileBytes int64
	// runs index users [0, indexed) in order of their ranges; unindexed
	// holds the (sorted) entries of durable users [indexed, persisted)
	// no run covers yet (a directory written before the index existed),
	// until the next flush writes them as a run.
	runs      []*userIndexRun
	unindexed []userIndexEntry
	// fresh are the users numbered persisted, persisted+1, ... since the
	// last flush; freshNum maps them back. Readers hold prefixes of fresh:
	// it is only ever appended to or replaced.
	fresh    []string
	freshNum map[string]uint32
	hot      *userCache
	// allHot: every user of the dictionary but the fresh ones was put in
	// hot — numbered since it was created (assign puts it, or persist
	// does when a bulk load kept it out), or filled in when it was
	// loaded. While hot also drops none (holdsAllPut), an id neither
	// freshNum nor hot has is a new user, and lookup need not search the
	// index on disk: a new user's first event cost /import a binary
	// search and a read of the users file.
	allHot bool
}

func newUserDict(fs FS, path string, cacheBytes int64) *userDict {
	return &userDict{file: &userFile{fs: fs, path: path}, freshNum: map[string]uint32{}, hot: newUserCache(cacheBytes), allHot: true}
}

// Len is the number of users known.
func (d *userDict) Len() int { return d.persisted + len(d.fresh) }

// indexed is the end of the user range the runs cover.
func (d *userDict) indexed() int {
	if len(d.runs) == 0 {
		return 0
	}
	return int(d.runs[len(d.runs)-1].end)
}

// lookup returns the user number of id, if it has one.
func (d *userDict) lookup(id string) (uint32, bool, error) {
	if n, ok := d.freshNum[id]; ok {
		return n, true, nil
	}
	if n, ok := d.hot.get(id); ok {
		return n, true, nil
	}
	if d.persisted == 0 || d.allHot && d.hot.holdsAllPut() {
		return 0, false, nil
	}
	h := hashUserID(id)
	var found uint32
	var ok bool
	check := func(n uint32) (bool, error) {
		got, err := d.file.id(d.file.chunksPrefix(), n)
		if err != nil {
			return false, err
		}
		if got == id {
			found, ok = n, true
		}
		return ok, nil
	}
	i := sort.Search(len(d.unindexed), func(i int) bool { return d.unindexed[i].hash >= h })
	for ; i < len(d.unindexed) && d.unindexed[i].hash == h && !ok; i++ {
		if _, err := check(d.unindexed[i].number); err != nil {
			return 0, false, err
		}
	}
	for r := len(d.runs) - 1; r >= 0 && !ok; r-- {
		if err := d.runs[r].lookup(h, check); err != nil {
			return 0, false, err
		}
	}
	if ok {
		d.hot.put(id, found)
	}
	return found, ok, nil
}

// number returns the user number of id, assigning the next one if new.
// REQUIRES: the project's write lock.
func (d *userDict) number(id string) (uint32, error) {
	n, ok, err := d.lookup(id)
	if ok || err != nil {
		return n, err
	}
	return d.assign(id, true), nil
}

// assign numbers id, which lookup did not find; cache puts it in the
// user cache too.
// REQUIRES: the project's write lock.
func (d *userDict) assign(id string, cache bool) uint32 {
	if d.Len() >= math.MaxUint32 {
		panic("BUG: more than 2^32-1 users in one shard")
	}
	n := uint32(d.Len())
	d.fresh = append(d.fresh, id)
	d.freshNum[id] = n
	// Also in the cache, where a batch's users are found before it
	// takes the project's lock (Project.knownUsers).
	if cache {
		d.hot.put(id, n)
	}
	return n
}

// view returns the user ids as of now, for a snapshot.
func (d *userDict) view() *UserIDs {
	return &UserIDs{file: d.file, chunks: d.file.chunksPrefix(), durable: d.persisted, fresh: d.fresh[:len(d.fresh):len(d.fresh)]}
}

// persist records that the first flushed of fresh are durable: the file
// now ends at fileBytes with chunks, and runs index [0, persisted). The
// ids move from fresh to the cache (ingest saw them lately).
// REQUIRES: the project's write lock.
func (d *userDict) persist(flushed int, fileBytes int64, chunks []userChunk, runs []*userIndexRun) {
	d.file.addChunks(chunks)
	for _, id := range d.fresh[:flushed] {
		d.hot.put(id, d.freshNum[id])
		delete(d.freshNum, id)
	}
	d.fresh = d.fresh[flushed:]
	d.persisted += flushed
	d.fileBytes = fileBytes
	for _, r := range d.runs {
		if !slices.Contains(runs, r) {
			sharedBlockCache.forgetOwner(r)
			r.close()
		}
	}
	d.runs = runs
	if d.indexed() == d.persisted {
		d.unindexed = nil
	}
}

// close closes the open files of d.
func (d *userDict) close() {
	for _, r := range d.runs {
		r.close()
	}
	d.file.close()
}

// UserIDs maps user numbers to distinct_ids as a snapshot saw them: the
// users durable then (read from the users file on demand) and those
// numbered since the last flush. Read-only and safe for concurrent use.
type UserIDs struct {
	file    *userFile
	chunks  []userChunk
	durable int
	fresh   []string
	// shards is set on a union view (shard_view.go): user n is shard
	// n%S's user n/S.
	shards []*UserIDs
}

// NewUserIDs is a view of ids held in memory (user n is ids[n]), for
// snapshots built by hand.
func NewUserIDs(ids []string) *UserIDs { return &UserIDs{fresh: ids} }

// All iterates over every user the view knows, reading the users file
// chunk by chunk.
func (u *UserIDs) All() iter.Seq2[uint32, string] {
	if u.shards != nil {
		return u.shardAll()
	}
	return func(yield func(uint32, string) bool) {
		for n := 0; n < u.Len(); n++ {
			if !yield(uint32(n), u.ID(uint32(n))) {
				return
			}
		}
	}
}

// Len is the number of users the view knows.
func (u *UserIDs) Len() int {
	if u.shards != nil {
		return u.shardLen()
	}
	return u.durable + len(u.fresh)
}

// SameNumbering reports whether u and o are views of one user
// dictionary: then every user number both know has the same distinct_id
// in both (a dictionary only appends; numbers are never reused), so
// snapshots taken at different times compare users by number. Views
// built by NewUserIDs share a numbering only with themselves.
func (u *UserIDs) SameNumbering(o *UserIDs) bool {
	if u == nil || o == nil {
		return false
	}
	if u.shards != nil || o.shards != nil {
		// Union views (shard_view.go) number shard k's user n as n*S+k
		// whatever the snapshot: one numbering when their shards' are.
		if len(u.shards) != len(o.shards) {
			return false
		}
		for k := range u.shards {
			if !u.shards[k].SameNumbering(o.shards[k]) {
				return false
			}
		}
		return true
	}
	return u == o || (u.file != nil && u.file == o.file)
}

// ID returns the distinct_id of user n < Len(). A users file that cannot
// be read (I/O error, damage) panics with a *UserReadError: queries turn
// it into an error (the engine's workers recover).
func (u *UserIDs) ID(n uint32) string {
	id, err := u.id(n)
	if err != nil {
		panic(&UserReadError{Err: err})
	}
	return id
}

func (u *UserIDs) id(n uint32) (string, error) {
	if u.shards != nil {
		return u.shardID(n)
	}
	if int(n) >= u.durable {
		return u.fresh[int(n)-u.durable], nil
	}
	return u.file.id(u.chunks, n)
}

// UserReadError is the panic value of UserIDs.ID when the users file
// cannot be read.
type UserReadError struct{ Err error }

func (e *UserReadError) Error() string { return "read user dictionary: " + e.Err.Error() }
func (e *UserReadError) Unwrap() error { return e.Err }

// userChunk locates one chunk of the users file.
type userChunk struct {
	first uint32 // user number of its first entry
	users uint32
	off   int64 // of the chunk header
	size  int32 // bytes of entries
}

// userFile reads a project's users file, a chunk at a time through the
// block cache. Its chunk list is only appended to; readers keep the
// prefix they were given.
type userFile struct {
	fs     FS
	path   string
	mu     sync.Mutex // guards chunks (appends) and f (opening)
	chunks []userChunk
	f      File
}

func (uf *userFile) chunksPrefix() []userChunk {
	uf.mu.Lock()
	defer uf.mu.Unlock()
	return uf.chunks[:len(uf.chunks):len(uf.chunks)]
}

func (uf *userFile) addChunks(cs []userChunk) {
	uf.mu.Lock()
	defer uf.mu.Unlock()
	uf.chunks = append(uf.chunks, cs...)
}

func (uf *userFile) close() {
	uf.mu.Lock()
	defer uf.mu.Unlock()
	if uf.f != nil {
		uf.f.Close()
		uf.f = nil
	}
	sharedBlockCache.forgetOwner(uf)
}

// handle returns the read handle, opening it the first time. The file
// is appended to in place (appendUserChunk), so one handle sees it grow.
func (uf *userFile) handle() (File, error) {
	uf.mu.Lock()
	defer uf.mu.Unlock()
	if uf.f == nil {
		f, err := uf.fs.Open(uf.path)
		if err != nil {
			return nil, fmt.Errorf("open user dictionary: %w", err)
		}
		uf.f = f
	}
	return uf.f, nil
}

// id returns the distinct_id of user n, which chunks must cover.
func (uf *userFile) id(chunks []userChunk, n uint32) (string, error) {
	c := sort.Search(len(chunks), func(i int) bool { return chunks[i].first+chunks[i].users > n })
	if c == len(chunks) || n < chunks[c].first {
		return "", fmt.Errorf("BUG: user %d beyond the users file's %d chunks", n, len(chunks))
	}
	e, err := sharedBlockCache.get(blockKey{uf, "", c}, func() (*cacheEntry, error) {
		ids, err := uf.readChunk(chunks[c])
		if err != nil {
			return nil, err
		}
		b := int64(64 + 16*len(ids))
		for _, id := range ids {
			b += int64(len(id))
		}
		return &cacheEntry{dict: ids, bytes: b}, nil
	})
	if err != nil {
		return "", err
	}
	return e.dict[n-chunks[c].first], nil
}

func (uf *userFile) readChunk(c userChunk) ([]string, error) {
	f, err := uf.handle()
	if err != nil {
		return nil, err
	}
	buf := make([]byte, 8+int(c.size))
	if _, err := f.ReadAt(buf, c.off); err != nil {
		return nil, fmt.Errorf("read %s at %d: %w", uf.path, c.off, err)
	}
	ids, err := decodeUserChunk(uf.path, c.off, buf, nil)
	if err != nil {
		return nil, err
	}
	if len(ids) != int(c.users) {
		return nil, corruptf(uf.path, c.off, "chunk holds %d users, %d when the file was opened", len(ids), c.users)
	}
	return ids, nil
}

// decodeUserChunk checks and decodes the chunk (header included) at the
// start of buf, appending its ids to ids.
func decodeUserChunk(path string, off int64, buf []byte, ids []string) ([]string, error) {
	if len(buf) < 8 {
		return nil, corruptf(path, off, "chunk header cut short")
	}
	n := int(binary.LittleEndian.Uint32(buf))
	sum := binary.LittleEndian.Uint32(buf[4:])
	if n > len(buf)-8 {
		return nil, corruptf(path, off, "chunk of %d bytes runs past the end of the file", n)
	}
	chunk := buf[8 : 8+n]
	if got := checksum(chunk); got != sum {
		return nil, corruptf(path, off, "chunk checksum mismatch (stored %08x, computed %08x)", sum, got)
	}
	for len(chunk) > 0 {
		l, k := binary.Uvarint(chunk)
		if k <= 0 || l > uint64(len(chunk)-k) {
			return nil, corruptf(path, off, "bad entry length in chunk")
		}
		ids = append(ids, string(chunk[k:k+int(l)]))
		chunk = chunk[k+int(l):]
	}
	return ids, nil
}

// loadUserDict opens the users file of a project whose manifest counts
// want users, checking every chunk and listing where each starts; runs
// are the manifest's user index runs (opened). It keeps no distinct_id:
// users no run covers are hashed into d.unindexed.
func loadUserDict(fs FS, path string, want int, runs []*userIndexRun, cacheBytes int64) (*userDict, error) {
	d := newUserDict(fs, path, cacheBytes)
	d.runs = runs
	if want == 0 {
		if len(runs) > 0 {
			return nil, fmt.Errorf("%s: user index runs for users the manifest does not count", path)
		}
		return d, nil
	}
	for i, r := range runs {
		if (i == 0 && r.first != 0) || (i > 0 && r.first != runs[i-1].end) || int(r.end) > want {
			return nil, corruptf(r.path, 0, "user index covers users [%d, %d), out of line with the other runs or beyond the %d users", r.first, r.end, want)
		}
	}
	f, err := fs.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open user dictionary: %w", err)
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<16)
	head := make([]byte, len(usersMagic))
	if _, err := io.ReadFull(r, head); err != nil || string(head) != usersMagic {
		return nil, corruptf(path, 0, "not a user dictionary (bad magic)")
	}
	off := int64(len(usersMagic))
	users := 0
	indexed := d.indexed()
	// The ids are read anyway: they go into the cache as far as its
	// budget takes them, and when all do, lookup knows a new user at once.
	d.allHot = true
	var buf []byte
	var ids []string
	for users < want {
		var hdr [8]byte
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return nil, corruptf(path, off, "file ends after %d users; the manifest counts %d", users, want)
		}
		n := int64(binary.LittleEndian.Uint32(hdr[:]))
		buf = append(buf[:0], hdr[:]...)
		if cap(buf) < int(8+n) {
			if n > 1<<30 {
				return nil, corruptf(path, off, "chunk of %d bytes runs past the end of the file", n)
			}
			buf = append(make([]byte, 0, 8+n), hdr[:]...)
		}
		buf = buf[:8+n]
		if _, err := io.ReadFull(r, buf[8:]); err != nil {
			return nil, corruptf(path, off, "chunk of %d bytes runs past the end of the file", n)
		}
		if ids, err = decodeUserChunk(path, off, buf, ids[:0]); err != nil {
			return nil, err
		}
		d.file.chunks = append(d.file.chunks, userChunk{first: uint32(users), users: uint32(len(ids)), off: off, size: int32(n)})
		d.allHot = d.allHot && d.hot.fill(users, ids[:min(len(ids), want-users)])
		for i, id := range ids {
			if u := users + i; u >= indexed && u < want {
				d.unindexed = append(d.unindexed, userIndexEntry{hash: hashUserID(id), number: uint32(u)})
			}
		}
		users += len(ids)
		off += 8 + n
	}
	if users != want {
		return nil, corruptf(path, off, "chunk boundary holds %d users; the manifest counts %d", users, want)
	}
	sortUserIndexEntries(d.unindexed)
	d.persisted = want
	d.fileBytes = off
	return d, nil
}

// appendUserChunks makes ids (users first, first+1, ...) durable at the
// end of path, after the first persisted entries: it truncates whatever a
// crashed flush left beyond them (offset validBytes), appends them in
// chunks of at most userChunkMaxUsers and fsyncs once. It returns the new
// file length and where the chunks start.
func appendUserChunks(fs FS, path string, validBytes int64, first uint32, ids []string) (int64, []userChunk, error) {
	if len(ids) == 0 {
		return validBytes, nil, nil
	}
	var f File
	var err error
	var buf []byte
	if validBytes == 0 {
		// First chunk: start the file afresh, whatever a crashed flush left.
		if f, err = fs.Create(path); err == nil {
			err = fs.SyncDir(filepath.Dir(path))
		}
		buf = append(buf, usersMagic...)
	} else {
		f, err = fs.OpenAppend(path)
	}
	if err != nil {
		return 0, nil, fmt.Errorf("open %s: %w", path, err)
	}
	defer f.Close()
	if err := f.Truncate(validBytes); err != nil {
		return 0, nil, fmt.Errorf("truncate %s: %w", path, err)
	}
	// A new file's buf starts with the magic: chunk offsets count it.
	var chunks []userChunk
	var entries []byte
	for len(ids) > 0 {
		k := min(len(ids), userChunkMaxUsers)
		entries = entries[:0]
		for _, id := range ids[:k] {
			entries = binary.AppendUvarint(entries, uint64(len(id)))
			entries = append(entries, id...)
		}
		chunks = append(chunks, userChunk{first: first, users: uint32(k), off: validBytes + int64(len(buf)), size: int32(len(entries))})
		buf = binary.LittleEndian.AppendUint32(buf, uint32(len(entries)))
		buf = binary.LittleEndian.AppendUint32(buf, checksum(entries))
		buf = append(buf, entries...)
		first += uint32(k)
		ids = ids[k:]
	}
	if _, err := f.Write(buf); err != nil {
		return 0, nil, fmt.Errorf("append to %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return 0, nil, fmt.Errorf("fsync %s: %w", path, err)
	}
	return validBytes + int64(len(buf)), chunks, nil
}

package storage

// User state runs hold what a project knows per user number beyond its
// events — the identity union-find's chunks and the people profiles
// (user_state.go), and the group profiles by hash of their key — on disk, so that neither stays resident. A run is an
// immutable sorted map from a 64-bit key to a value or a tombstone, read
// block by block through the block cache; a project keeps a few runs,
// newest last, and a key's value is the one in the newest run holding
// it.
//
// Run files (<data-dir>/users/000123.ust, numbered like segments and named
// by the manifest's user_state list):
//
//	| magic "ARBUST01" | block 0 | block 1 | ... | index | trailer |
//	block:   | entry × n | CRC-32C uint32 LE of the entries |
//	entry:   | uvarint key (first entry of a block: the key; then the
//	         |   difference from the previous key, > 0) |
//	         | uvarint value length + 1 (0: tombstone) | value |
//	index:   | uvarint entries | uvarint blocks |
//	         | (uvarint first key − previous block's first key (the first:
//	         |  the key), uvarint block bytes with its CRC) × blocks |
//	trailer: | index length uint32 LE | CRC-32C uint32 LE of the index | "ARBUSTFT" |
//
// Keys are userStateKey(kind, n): the kind in the high 32 bits, a user or
// chunk number in the low. INVARIANTS: keys strictly increase through the
// file; blocks lie back to back from byte 8 to the index; every block
// holds at least one entry. What stays in memory per run is its index:
// 16 bytes per block (~16 KiB of entries).

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"runtime"
	"sort"
)

// Wire format: never change these.
const (
	userStateMagic      = "ARBUST01"
	userStateTrailer    = "ARBUSTFT"
	userStateTrailerLen = 16
	userStateBlockBytes = 16 << 10 // a block is cut after it passes this size
)

// Key kinds of user state runs. Wire format: never renumber.
const (
	userStateIdentity = 0 // value: an identity chunk (identity.go), low bits: chunk number
	userStatePerson   = 1 // value: a people profile's properties, low bits: user number
	userStateGroups   = 2 // value: the group profiles whose row key hashes to the low bits
)

func userStateKey(kind, n uint32) uint64 { return uint64(kind)<<32 | uint64(n) }

// userStateRun is an open run: its index in memory, blocks read on
// demand. Its handle is closed when the run becomes unreachable (a
// replaced run may still serve a query's view), or by close.
type userStateRun struct {
	path    string
	file    File
	entries int
	first   []uint64 // first key of each block
	off     []int64  // start of each block, and the index's start last
	bytes   int64
}

// userStateEntry is one key's value; del marks a tombstone.
type userStateEntry struct {
	key uint64
	val []byte
	del bool
}

// writeUserStateRun writes the entries next yields (keys strictly
// increasing) at path, durably (PublishFile), and opens the run.
func writeUserStateRun(fs FS, path string, next func() (userStateEntry, bool, error)) (*userStateRun, error) {
	if err := PublishFile(fs, path, func(f File) error { _, err := writeUserState(f, next); return err }); err != nil {
		return nil, err
	}
	return openUserStateRun(fs, path)
}

// writeUserState writes a run of the entries next yields to f and
// returns how many it wrote.
func writeUserState(f io.Writer, next func() (userStateEntry, bool, error)) (int, error) {
	var index []byte
	blocks, count := 0, 0
	w := bufio.NewWriterSize(f, 1<<16)
	w.WriteString(userStateMagic)
	var block []byte
	var prev, prevFirst uint64
	flush := func() {
		if len(block) == 0 {
			return
		}
		block = binary.LittleEndian.AppendUint32(block, checksum(block))
		index = binary.AppendUvarint(index, uint64(len(block)))
		w.Write(block)
		block = block[:0]
	}
	for {
		e, ok, err := next()
		if err != nil {
			return 0, err
		}
		if !ok {
			break
		}
		if count > 0 && e.key <= prev {
			return 0, fmt.Errorf("BUG: user state keys out of order: %x after %x", e.key, prev)
		}
		if len(block) == 0 {
			index = binary.AppendUvarint(index, e.key-prevFirst)
			prevFirst = e.key
			blocks++
			block = binary.AppendUvarint(block, e.key)
		} else {
			block = binary.AppendUvarint(block, e.key-prev)
		}
		if e.del {
			block = append(block, 0)
		} else {
			block = binary.AppendUvarint(block, uint64(len(e.val))+1)
			block = append(block, e.val...)
		}
		prev = e.key
		count++
		if len(block) >= userStateBlockBytes {
			flush()
		}
	}
	flush()
	head := binary.AppendUvarint(nil, uint64(count))
	head = binary.AppendUvarint(head, uint64(blocks))
	index = append(head, index...)
	w.Write(index)
	var tr [userStateTrailerLen]byte
	binary.LittleEndian.PutUint32(tr[:], uint32(len(index)))
	binary.LittleEndian.PutUint32(tr[4:], checksum(index))
	copy(tr[8:], userStateTrailer)
	w.Write(tr[:])
	return count, w.Flush()
}

// openUserStateRun opens a run and reads its index.
func openUserStateRun(fs FS, path string) (*userStateRun, error) {
	f, err := fs.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open user state run: %w", err)
	}
	r, err := readUserStateIndex(f, path)
	if err != nil {
		f.Close()
		return nil, err
	}
	runtime.AddCleanup(r, func(f File) { f.Close() }, f)
	return r, nil
}

func readUserStateIndex(f File, path string) (*userStateRun, error) {
	index, indexOff, size, err := readTrailedSection(f, path, "user state run", userStateMagic, userStateTrailer)
	if err != nil {
		return nil, err
	}
	d := &batchDecoder{src: index}
	count := d.uvarint()
	blocks := d.count("blocks", 2)
	if d.err != nil {
		return nil, corruptf(path, indexOff, "index: %v", d.err)
	}
	if uint64(blocks) > count {
		return nil, corruptf(path, indexOff, "index: %d blocks for %d entries", blocks, count)
	}
	r := &userStateRun{path: path, file: f, entries: int(count), bytes: size,
		first: make([]uint64, blocks), off: make([]int64, blocks+1)}
	pos := int64(len(userStateMagic))
	var key uint64
	for i := 0; i < blocks; i++ {
		delta, n := d.uvarint(), d.uvarint()
		if d.err != nil {
			return nil, corruptf(path, indexOff, "index: %v", d.err)
		}
		if i > 0 && delta == 0 || key+delta < key {
			return nil, corruptf(path, indexOff, "index: block %d does not start above block %d", i, i-1)
		}
		if n < 5 || n > uint64(indexOff-pos) {
			return nil, corruptf(path, indexOff, "index: block %d of %d bytes does not fit before the index", i, n)
		}
		key += delta
		r.first[i], r.off[i] = key, pos
		pos += int64(n)
	}
	if d.off != len(index) {
		return nil, corruptf(path, indexOff, "index: %d bytes after the last block", len(index)-d.off)
	}
	if pos != indexOff {
		return nil, corruptf(path, indexOff, "blocks end at byte %d, the index starts at %d", pos, indexOff)
	}
	r.off[blocks] = pos
	return r, nil
}

// close closes the run's handle now (the store closes; the run is no
// longer reachable by any view).
func (r *userStateRun) close() error { return r.file.Close() }

// readBlock reads and checks block i (its entries, without the CRC).
func (r *userStateRun) readBlock(i int) ([]byte, error) {
	off, n := r.off[i], r.off[i+1]-r.off[i]
	buf := make([]byte, n)
	if _, err := r.file.ReadAt(buf, off); err != nil && err != io.EOF {
		return nil, fmt.Errorf("read %s block %d: %w", r.path, i, err)
	}
	body := buf[:n-4]
	if got, want := checksum(body), binary.LittleEndian.Uint32(buf[n-4:]); got != want {
		return nil, corruptf(r.path, off, "user state block %d checksum mismatch (stored %08x, computed %08x)", i, want, got)
	}
	return body, nil
}

// block returns block i through the block cache.
func (r *userStateRun) block(i int) ([]byte, error) {
	e, err := sharedBlockCache.get(blockKey{r, "", i}, func() (*cacheEntry, error) {
		b, err := r.readBlock(i)
		if err != nil {
			return nil, err
		}
		return &cacheEntry{raw: b, bytes: int64(len(b)) + 64}, nil
	})
	if err != nil {
		return nil, err
	}
	return e.raw, nil
}

// blockEntries decodes block i of r (checked against the index): fn is
// called with each entry in order until it returns false. The entry's
// val aliases the block.
func (r *userStateRun) blockEntries(i int, body []byte, fn func(userStateEntry) bool) error {
	var key uint64
	pos := 0
	for n := 0; pos < len(body); n++ {
		k, w := binary.Uvarint(body[pos:])
		if w <= 0 {
			return corruptf(r.path, r.off[i]+int64(pos), "user state block %d: bad key", i)
		}
		pos += w
		if n == 0 {
			if k != r.first[i] {
				return corruptf(r.path, r.off[i], "user state block %d starts at key %x, the index says %x", i, k, r.first[i])
			}
			key = k
		} else {
			if k == 0 || key+k < key {
				return corruptf(r.path, r.off[i]+int64(pos), "user state block %d: keys out of order", i)
			}
			key += k
		}
		if i+1 < len(r.first) && key >= r.first[i+1] {
			return corruptf(r.path, r.off[i]+int64(pos), "user state block %d runs into the next block's keys", i)
		}
		l, w := binary.Uvarint(body[pos:])
		if w <= 0 || l > uint64(len(body)-pos-w)+1 {
			return corruptf(r.path, r.off[i]+int64(pos), "user state block %d: bad value length", i)
		}
		pos += w
		e := userStateEntry{key: key, del: l == 0}
		if l > 0 {
			e.val = body[pos : pos+int(l-1)]
			pos += int(l - 1)
		}
		if !fn(e) {
			return nil
		}
	}
	return nil
}

// get returns key's entry in r; ok is false when r does not hold it.
func (r *userStateRun) get(key uint64) (e userStateEntry, ok bool, err error) {
	i := sort.Search(len(r.first), func(i int) bool { return r.first[i] > key }) - 1
	if i < 0 {
		return e, false, nil
	}
	body, err := r.block(i)
	if err != nil {
		return e, false, err
	}
	err = r.blockEntries(i, body, func(x userStateEntry) bool {
		if x.key >= key {
			e, ok = x, x.key == key
			return false
		}
		return true
	})
	return e, ok && err == nil, err
}

// scan calls fn with r's entries of keys in [lo, hi) in order until fn
// returns false. Blocks are read directly when direct (a merge or a
// verify reads each once and must not push hot blocks out of the cache).
func (r *userStateRun) scan(lo, hi uint64, direct bool, fn func(userStateEntry) bool) error {
	i := sort.Search(len(r.first), func(i int) bool { return r.first[i] > lo }) - 1
	if i < 0 {
		i = 0
	}
	for ; i < len(r.first) && r.first[i] < hi; i++ {
		var body []byte
		var err error
		if direct {
			body, err = r.readBlock(i)
		} else {
			body, err = r.block(i)
		}
		if err != nil {
			return err
		}
		stop := false
		err = r.blockEntries(i, body, func(e userStateEntry) bool {
			if e.key < lo {
				return true
			}
			if e.key >= hi || !fn(e) {
				stop = true
				return false
			}
			return true
		})
		if err != nil || stop {
			return err
		}
	}
	return nil
}

// mergeUserStateRuns merges runs (oldest first) into one written at path:
// for each key the newest run's entry; tombstones are dropped when
// dropDeleted (the merge includes the oldest run). Memory: a block per
// run at a time.
func mergeUserStateRuns(fs FS, path string, runs []*userStateRun, dropDeleted bool) (*userStateRun, error) {
	next, err := mergedUserState(runs, dropDeleted)
	if err != nil {
		return nil, err
	}
	return writeUserStateRun(fs, path, next)
}

// mergeCounts counts a merge's entries: out must equal in − shadowed −
// dropped.
type mergeCounts struct {
	in, shadowed, dropped int
}

// mergedUserState iterates over the merge of runs (oldest first).
func mergedUserState(runs []*userStateRun, dropDeleted bool) (func() (userStateEntry, bool, error), error) {
	return mergedUserStateCounted(runs, dropDeleted, &mergeCounts{})
}

func mergedUserStateCounted(runs []*userStateRun, dropDeleted bool, n *mergeCounts) (func() (userStateEntry, bool, error), error) {
	type cursor struct {
		r     *userStateRun
		block int
		ents  []userStateEntry
		pos   int
	}
	load := func(c *cursor) error {
		for c.pos >= len(c.ents) && c.block < len(c.r.first) {
			body, err := c.r.readBlock(c.block)
			if err != nil {
				return err
			}
			c.ents, c.pos = c.ents[:0], 0
			if err := c.r.blockEntries(c.block, body, func(e userStateEntry) bool {
				c.ents = append(c.ents, e)
				return true
			}); err != nil {
				return err
			}
			c.block++
		}
		return nil
	}
	cs := make([]*cursor, len(runs))
	for i, r := range runs {
		cs[i] = &cursor{r: r}
		if err := load(cs[i]); err != nil {
			return nil, err
		}
	}
	next := func() (userStateEntry, bool, error) {
		for {
			best := -1
			for i, c := range cs {
				if c.pos < len(c.ents) && (best < 0 || c.ents[c.pos].key <= cs[best].ents[cs[best].pos].key) {
					best = i // ties: the later (newer) run wins
				}
			}
			if best < 0 {
				return userStateEntry{}, false, nil
			}
			e := cs[best].ents[cs[best].pos]
			n.shadowed--
			for _, c := range cs {
				if c.pos < len(c.ents) && c.ents[c.pos].key == e.key {
					n.in++
					n.shadowed++
					c.pos++
					if err := load(c); err != nil {
						return e, false, err
					}
				}
			}
			if e.del && dropDeleted {
				n.dropped++
				continue
			}
			return e, true, nil
		}
	}
	return next, nil
}

// sliceUserState iterates over sorted entries held in memory.
func sliceUserState(es []userStateEntry) func() (userStateEntry, bool, error) {
	i := 0
	return func() (userStateEntry, bool, error) {
		if i >= len(es) {
			return userStateEntry{}, false, nil
		}
		i++
		return es[i-1], true, nil
	}
}

package storage

// The user index finds a distinct_id's user number without holding the
// dictionary in memory (userid.go): a few immutable runs, each a sorted
// list of (hash of distinct_id, user number) for a contiguous range of
// user numbers, read page by page through the block cache. A hash names
// candidates only; the dictionary confirms that the candidate's
// distinct_id is the one asked for, so a collision costs a read, never a
// wrong number.
//
// Run files (<data-dir>/users/000123.uix, numbered like segments and
// named by the manifest with the user range they cover):
//
//	| magic "ARBUIX01" | page 0 | page 1 | ... | footer | trailer |
//	page:    | entry × n | CRC-32C uint32 LE of the entries |
//	entry:   | hash uint64 LE | user number uint32 LE |   (12 bytes)
//	footer:  | uvarint entries | uvarint first user | uvarint end user |
//	         | first hash uint64 LE of each page |
//	trailer: | footer length uint32 LE | CRC-32C uint32 LE of the footer | "ARBUIXFT" |
//
// INVARIANTS: entries are sorted by (hash, number); every page but the
// last holds exactly userIndexPageEntries entries, so page i starts at
// byte 8 + i·(12·userIndexPageEntries + 4); a run holds exactly one entry
// per user number of [first, end). What stays in memory per run is its
// footer: 8 bytes per 341 users.

import (
	"bufio"
	"cmp"
	"encoding/binary"
	"fmt"
	"io"
	"slices"
	"sort"

	"github.com/cespare/xxhash/v2"
)

// Wire format: never change these.
const (
	userIndexMagic       = "ARBUIX01"
	userIndexTrailer     = "ARBUIXFT"
	userIndexPageEntries = 341 // 4,096-byte pages
	userIndexEntryBytes  = 12
	userIndexPageBytes   = userIndexPageEntries*userIndexEntryBytes + 4
	userIndexTrailerLen  = 16
)

// hashUserID is the hash a run is sorted by. Wire format: never change.
func hashUserID(id string) uint64 { return xxhash.Sum64String(id) }

type userIndexEntry struct {
	hash   uint64
	number uint32
}

func compareUserIndexEntries(a, b userIndexEntry) int {
	if c := cmp.Compare(a.hash, b.hash); c != 0 {
		return c
	}
	return cmp.Compare(a.number, b.number)
}

// userIndexRun is an open run: its footer in memory, pages read on demand.
type userIndexRun struct {
	path       string
	file       File
	first, end uint32   // user numbers covered: [first, end)
	entries    int      // == end − first
	pageFirst  []uint64 // first hash of each page
	bytes      int64
}

// writeUserIndexRun writes a run covering users [first, end) from entries
// (sorted by compareUserIndexEntries, one per user of the range) at path,
// durably (PublishFile), and opens it.
func writeUserIndexRun(fs FS, path string, first, end uint32, next func() (userIndexEntry, bool, error)) (*userIndexRun, error) {
	if err := PublishFile(fs, path, func(f File) error { return writeUserIndexTo(f, first, end, next) }); err != nil {
		return nil, err
	}
	return openUserIndexRun(fs, path)
}

// writeUserIndexTo writes a run of users [first, end) to f.
func writeUserIndexTo(f io.Writer, first, end uint32, next func() (userIndexEntry, bool, error)) error {
	var pageFirst []uint64
	count := 0
	w := bufio.NewWriterSize(f, 1<<16)
	w.WriteString(userIndexMagic)
	page := make([]byte, 0, userIndexPageBytes)
	var prev userIndexEntry
	flush := func() {
		if len(page) == 0 {
			return
		}
		w.Write(binary.LittleEndian.AppendUint32(page, checksum(page)))
		page = page[:0]
	}
	for {
		e, ok, err := next()
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		if count > 0 && compareUserIndexEntries(prev, e) >= 0 {
			return fmt.Errorf("BUG: user index entries out of order: (%x, %d) after (%x, %d)", e.hash, e.number, prev.hash, prev.number)
		}
		if e.number < first || e.number >= end {
			return fmt.Errorf("BUG: user %d outside the run's range [%d, %d)", e.number, first, end)
		}
		if count%userIndexPageEntries == 0 {
			flush()
			pageFirst = append(pageFirst, e.hash)
		}
		page = binary.LittleEndian.AppendUint64(page, e.hash)
		page = binary.LittleEndian.AppendUint32(page, e.number)
		prev = e
		count++
	}
	flush()
	if count != int(end-first) {
		return fmt.Errorf("BUG: user index run of [%d, %d) got %d entries", first, end, count)
	}
	footer := binary.AppendUvarint(nil, uint64(count))
	footer = binary.AppendUvarint(footer, uint64(first))
	footer = binary.AppendUvarint(footer, uint64(end))
	for _, h := range pageFirst {
		footer = binary.LittleEndian.AppendUint64(footer, h)
	}
	w.Write(footer)
	trailer := binary.LittleEndian.AppendUint32(nil, uint32(len(footer)))
	trailer = binary.LittleEndian.AppendUint32(trailer, checksum(footer))
	w.Write(append(trailer, userIndexTrailer...))
	return w.Flush()
}

// openUserIndexRun opens a run and reads its footer.
func openUserIndexRun(fs FS, path string) (*userIndexRun, error) {
	f, err := fs.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open user index: %w", err)
	}
	r, err := readUserIndexFooter(f, path)
	if err != nil {
		f.Close()
		return nil, err
	}
	return r, nil
}

func readUserIndexFooter(f File, path string) (*userIndexRun, error) {
	footer, footerOff, size, err := readTrailedSection(f, path, "user index", userIndexMagic, userIndexTrailer)
	if err != nil {
		return nil, err
	}
	var vals [3]uint64
	rest := footer
	for i := range vals {
		v, k := binary.Uvarint(rest)
		if k <= 0 {
			return nil, corruptf(path, footerOff, "bad footer varint")
		}
		vals[i], rest = v, rest[k:]
	}
	count, first, end := vals[0], vals[1], vals[2]
	if first > end || end > 1<<32-1 || count != end-first {
		return nil, corruptf(path, footerOff, "footer: %d entries for users [%d, %d)", count, first, end)
	}
	pages := (int(count) + userIndexPageEntries - 1) / userIndexPageEntries
	if len(rest) != 8*pages {
		return nil, corruptf(path, footerOff, "footer lists %d page hashes, %d entries need %d", len(rest)/8, count, pages)
	}
	wantOff := int64(len(userIndexMagic)) + int64(count)*userIndexEntryBytes + int64(pages)*4
	if footerOff != wantOff {
		return nil, corruptf(path, footerOff, "pages of %d entries end at byte %d, the footer starts at %d", count, wantOff, footerOff)
	}
	r := &userIndexRun{path: path, file: f, first: uint32(first), end: uint32(end), entries: int(count), bytes: size}
	r.pageFirst = make([]uint64, pages)
	for i := range r.pageFirst {
		r.pageFirst[i] = binary.LittleEndian.Uint64(rest[8*i:])
		if i > 0 && r.pageFirst[i] < r.pageFirst[i-1] {
			return nil, corruptf(path, footerOff, "page %d starts below page %d", i, i-1)
		}
	}
	return r, nil
}

func (r *userIndexRun) close() error { return r.file.Close() }

func (r *userIndexRun) pageLen(i int) int {
	if i == len(r.pageFirst)-1 {
		return r.entries - i*userIndexPageEntries
	}
	return userIndexPageEntries
}

// readPage reads and checks page i (its entries, without the CRC).
func (r *userIndexRun) readPage(i int) ([]byte, error) {
	n := r.pageLen(i) * userIndexEntryBytes
	off := int64(len(userIndexMagic)) + int64(i)*userIndexPageBytes
	buf := make([]byte, n+4)
	if _, err := r.file.ReadAt(buf, off); err != nil {
		return nil, fmt.Errorf("read %s page %d: %w", r.path, i, err)
	}
	page := buf[:n]
	if got, want := checksum(page), binary.LittleEndian.Uint32(buf[n:]); got != want {
		return nil, corruptf(r.path, off, "user index page %d checksum mismatch (stored %08x, computed %08x)", i, want, got)
	}
	// Order across pages, as lookup relies on it: the page starts at the
	// hash the footer lists, and ends at or below the next page's.
	if pageEntry(page, 0).hash != r.pageFirst[i] ||
		(i+1 < len(r.pageFirst) && pageEntry(page, n/userIndexEntryBytes-1).hash > r.pageFirst[i+1]) {
		return nil, corruptf(r.path, off, "user index page %d does not fit between the footer's first hashes", i)
	}
	for j := userIndexEntryBytes; j < n; j += userIndexEntryBytes {
		if compareUserIndexEntries(pageEntry(page, j/userIndexEntryBytes-1), pageEntry(page, j/userIndexEntryBytes)) >= 0 {
			return nil, corruptf(r.path, off+int64(j), "user index page %d out of order", i)
		}
	}
	return page, nil
}

// page returns page i through the block cache.
func (r *userIndexRun) page(i int) ([]byte, error) {
	e, err := sharedBlockCache.get(blockKey{r, "", i}, func() (*cacheEntry, error) {
		p, err := r.readPage(i)
		if err != nil {
			return nil, err
		}
		return &cacheEntry{raw: p, bytes: int64(len(p)) + 64}, nil
	})
	if err != nil {
		return nil, err
	}
	return e.raw, nil
}

func pageEntry(page []byte, j int) userIndexEntry {
	b := page[j*userIndexEntryBytes:]
	return userIndexEntry{hash: binary.LittleEndian.Uint64(b), number: binary.LittleEndian.Uint32(b[8:])}
}

// lookup calls fn with each user number whose hash is h, in increasing
// order, until fn returns true.
func (r *userIndexRun) lookup(h uint64, fn func(uint32) (bool, error)) error {
	// Entries with hash h start in the last page whose first hash is
	// below h, or in the first page whose first hash is h.
	p := sort.Search(len(r.pageFirst), func(i int) bool { return r.pageFirst[i] >= h })
	if p > 0 {
		p--
	}
	for ; p < len(r.pageFirst) && r.pageFirst[p] <= h; p++ {
		page, err := r.page(p)
		if err != nil {
			return err
		}
		n := len(page) / userIndexEntryBytes
		j := sort.Search(n, func(j int) bool { return pageEntry(page, j).hash >= h })
		for ; j < n; j++ {
			e := pageEntry(page, j)
			if e.hash != h {
				return nil
			}
			if done, err := fn(e.number); done || err != nil {
				return err
			}
		}
	}
	return nil
}

// iterator returns the run's entries in order, page by page.
func (r *userIndexRun) iterator() func() (userIndexEntry, bool, error) {
	p, j := 0, 0
	var page []byte
	return func() (userIndexEntry, bool, error) {
		for page == nil || j*userIndexEntryBytes >= len(page) {
			if p >= len(r.pageFirst) {
				return userIndexEntry{}, false, nil
			}
			var err error
			// Read directly: a merge reads each page once, and must not
			// push hot pages out of the cache.
			if page, err = r.readPage(p); err != nil {
				return userIndexEntry{}, false, err
			}
			p, j = p+1, 0
		}
		e := pageEntry(page, j)
		j++
		return e, true, nil
	}
}

// mergeUserIndexRuns merges adjacent runs (by user range, in order) into
// one written at path. Memory: one page per input.
func mergeUserIndexRuns(fs FS, path string, runs []*userIndexRun) (*userIndexRun, error) {
	next, err := mergedUserIndex(runs)
	if err != nil {
		return nil, err
	}
	return writeUserIndexRun(fs, path, runs[0].first, runs[len(runs)-1].end, next)
}

// mergedUserIndex iterates over the merge of adjacent runs.
func mergedUserIndex(runs []*userIndexRun) (func() (userIndexEntry, bool, error), error) {
	for i := 1; i < len(runs); i++ {
		if runs[i].first != runs[i-1].end {
			return nil, fmt.Errorf("BUG: user index runs [%d, %d) and [%d, %d) are not adjacent",
				runs[i-1].first, runs[i-1].end, runs[i].first, runs[i].end)
		}
	}
	its := make([]func() (userIndexEntry, bool, error), len(runs))
	heads := make([]userIndexEntry, len(runs))
	live := make([]bool, len(runs))
	for i, r := range runs {
		its[i] = r.iterator()
		var err error
		if heads[i], live[i], err = its[i](); err != nil {
			return nil, err
		}
	}
	next := func() (userIndexEntry, bool, error) {
		best := -1
		for i := range heads {
			if live[i] && (best < 0 || compareUserIndexEntries(heads[i], heads[best]) < 0) {
				best = i
			}
		}
		if best < 0 {
			return userIndexEntry{}, false, nil
		}
		e := heads[best]
		var err error
		heads[best], live[best], err = its[best]()
		return e, true, err
	}
	return next, nil
}

// sliceEntries iterates over sorted entries held in memory.
func sliceEntries(es []userIndexEntry) func() (userIndexEntry, bool, error) {
	i := 0
	return func() (userIndexEntry, bool, error) {
		if i >= len(es) {
			return userIndexEntry{}, false, nil
		}
		i++
		return es[i-1], true, nil
	}
}

// sortUserIndexEntries sorts entries for writeUserIndexRun.
func sortUserIndexEntries(es []userIndexEntry) { slices.SortFunc(es, compareUserIndexEntries) }

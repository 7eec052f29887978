package storage

// Fuzz targets for the decoders of the whole-file formats and segments:
// FuzzManifest, FuzzPeopleFile, FuzzUserDict, FuzzIdentity, FuzzSegment.
// (The WAL has its own: FuzzWALReplay and FuzzDecodeEventBatch in
// wal_test.go.) Each promises, for any bytes:
//
//   - no panic, and no allocation beyond a bound proportional to the
//     input (a length field must never make the reader allocate what the
//     file cannot hold);
//   - a failure is an ErrCorruption naming the file, or a version error
//     that says which version the file has and which this arb reads
//     (decodeIdentity's plain error is wrapped by its caller);
//   - what decodes encodes back to bytes that decode the same (segments
//     have no re-encoder: every part of one must read instead);
//   - what decodes keeps the invariants readers rely on: manifest names
//     stay inside the data directory with one owner each, user numbers
//     follow the file's entries, identity is a union-find whose
//     canonicals are their clusters' best members, dictionaries are
//     strictly sorted, codes index them, bitmaps hold only the
//     segment's rows.
//
// Checksums stop a mutator at the first byte it changes, so each target
// also takes a mode that frames or re-checksums the fuzzed bytes: the
// decoder behind the checksum (JSON, event batches, varints, lz4,
// roaring) gets fuzzed too, as it would see bytes a bug wrote.
//
// Seed corpora live in testdata/fuzz/<Target>/, made from the golden
// fixtures (golden_test.go) by TestWriteFuzzSeeds: the valid files plus
// truncations, bit flips and hand-made damage of each kind a decoder once
// let through; crashers the fuzzer found are kept beside them (crash-*).
// `go test` runs them as unit tests; to fuzz:
//
//	go test -run '^$' -fuzz '^FuzzSegment$' -fuzztime 60s ./storage/

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/RoaringBitmap/roaring/v2"
)

// checkDecodeErr fails unless err is a corruption naming file or, when
// versionWord is not "", a version error.
func checkDecodeErr(t *testing.T, err error, file, versionWord string) {
	t.Helper()
	if errors.Is(err, ErrCorruption) {
		var ce *CorruptionError
		if !errors.As(err, &ce) || ce.File != file {
			t.Fatalf("corruption error names %v, want file %s: %v", ce, file, err)
		}
		return
	}
	if versionWord != "" && strings.Contains(err.Error(), versionWord) && strings.Contains(err.Error(), "this arb reads") {
		return
	}
	t.Fatalf("error is neither ErrCorruption nor a version error: %v", err)
}

// allocBound runs fn and fails if it allocated more than base bytes plus
// perByte for each input byte. The heap's total-allocated counter is the
// process's: a goroutine another test left running may add to it, so an
// excess must repeat on three runs of fn (which must be repeatable).
func allocBound(t *testing.T, inputLen int, base, perByte uint64, fn func()) {
	t.Helper()
	limit := base + perByte*uint64(inputLen)
	var least uint64
	for try := 0; try < 3; try++ {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		fn()
		runtime.ReadMemStats(&after)
		got := after.TotalAlloc - before.TotalAlloc
		if got <= limit {
			return
		}
		if try == 0 || got < least {
			least = got
		}
	}
	t.Fatalf("decoding %d bytes allocated %d bytes (limit %d)", inputLen, least, limit)
}

// memFile puts data at path on a fresh in-memory FS, for decoders that
// read through an FS.
func memFile(t *testing.T, path string, data []byte) FS {
	t.Helper()
	fs := newCrashFS()
	if err := fs.MkdirAll(filepath.Dir(path)); err != nil {
		t.Fatal(err)
	}
	f, err := fs.Create(path)
	if err == nil {
		_, err = f.Write(data)
	}
	if err == nil {
		err = f.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	return fs
}

// FuzzManifest: data is a whole MANIFEST, or (asBody) the JSON body of
// one, framed here with a valid checksum.
func FuzzManifest(f *testing.F) {
	f.Add([]byte(nil), false)
	f.Add([]byte(`{"version":1}`), true)
	f.Add([]byte(`{"version":2}`), true)
	f.Fuzz(func(t *testing.T, data []byte, asBody bool) {
		if asBody {
			data = encodeFramed(manifestMagic, data)
		}
		const path = "/d/MANIFEST"
		var m *manifestBody
		var err error
		allocBound(t, len(data), 1<<16, 64, func() { m, _, err = readManifest(memFile(t, path, data), path) })
		if err != nil {
			checkDecodeErr(t, err, path, "manifest version")
			return
		}
		m2, err2 := decodeManifest(data, path)
		if err2 != nil || !reflect.DeepEqual(m, m2) {
			t.Fatalf("readManifest and decodeManifest disagree: %v", err2)
		}
		// Every name becomes a path below the data directory.
		for _, mp := range m.Projects {
			named := []string{filepath.Join(usersDirName, usersFileName(mp.Name)), filepath.Join(peopleDir, mp.PeopleFile)}
			for _, s := range mp.Segments {
				named = append(named, filepath.Join(segDirName, s.File))
			}
			for _, rel := range append(named, m.Obsolete...) {
				if !filepath.IsLocal(rel) || strings.ContainsRune(rel, 0) {
					t.Fatalf("manifest names %q, outside the data directory", rel)
				}
			}
		}
		// And no file has two owners, or is live and obsolete at once.
		owners := map[string]int{}
		for _, mp := range m.Projects {
			owners[filepath.Join(usersDirName, usersFileName(mp.Name))]++
			if mp.PeopleFile != "" {
				owners[filepath.Join(peopleDir, mp.PeopleFile)]++
			}
			for _, s := range mp.Segments {
				owners[filepath.Join(segDirName, s.File)]++
			}
		}
		for _, rel := range m.Obsolete {
			if owners[filepath.Clean(rel)] > 0 {
				t.Fatalf("%s is live and obsolete", rel)
			}
		}
		for rel, n := range owners {
			if n > 1 {
				t.Fatalf("%s is named %d times", rel, n)
			}
		}
		// JSON leaves empty and missing lists apart where the encoder does
		// not (omitempty), so compare from the first re-encoding on.
		enc1, err := encodeManifest(m)
		if err != nil {
			t.Fatal(err)
		}
		m3, err := decodeManifest(enc1, path)
		if err != nil {
			t.Fatalf("a decoded manifest re-encodes to one that does not decode: %v\n%s", err, enc1)
		}
		if enc2, _ := encodeManifest(m3); !bytes.Equal(enc1, enc2) {
			t.Fatalf("re-encoding is not stable:\n%s\n%s", enc1, enc2)
		}
	})
}

// FuzzPeopleFile: mode 0 reads data as a whole people file; modes 1 and
// 2 frame it as the body of an ARBPPL02 or ARBPPL01 file.
func FuzzPeopleFile(f *testing.F) {
	f.Add([]byte(nil), uint8(0))
	f.Add([]byte{0, 0, 0}, uint8(1))
	f.Fuzz(func(t *testing.T, data []byte, mode uint8) {
		switch mode % 3 {
		case 1:
			data = encodeFramed(peopleMagic, data)
		case 2:
			data = encodeFramed(peopleMagicV1, data)
		}
		const path = "/d/people/000001.people"
		var st *profilesState
		var err error
		allocBound(t, len(data), 1<<16, 128, func() { st, err = readPeopleFile(memFile(t, path, data), path) })
		if err != nil {
			var ce *CorruptionError
			if !errors.As(err, &ce) || ce.File != path {
				t.Fatalf("error is not a corruption naming %s: %v", path, err)
			}
			return
		}
		// A file read back encodes to one that reads the same; a v1 file
		// becomes v2 with no groups and no identity.
		enc := encodePeopleFile("p", st)
		st2, err := readPeopleFile(memFile(t, path, enc), path)
		if err != nil {
			t.Fatalf("a people file read back re-encodes to one that does not read: %v", err)
		}
		if !sameProfiles(st, st2) {
			t.Fatalf("re-encoded people file reads differently:\n%+v\n%+v", st, st2)
		}
	})
}

func sameProfiles(a, b *profilesState) bool {
	norm := func(rows []Person) string {
		if len(rows) == 0 {
			return "none" // v1 files have no groups table; v2 ones an empty one
		}
		return fmt.Sprintf("%#v", rows)
	}
	return norm(a.people) == norm(b.people) && norm(a.groups) == norm(b.groups) && bytes.Equal(a.identity, b.identity)
}

// FuzzUserDict: data is a whole users file, or (asEntries) the entries
// of one chunk, framed here with a valid checksum; want is the manifest's
// user count.
func FuzzUserDict(f *testing.F) {
	f.Add([]byte(nil), 0, false)
	f.Add([]byte{1, 'a', 1, 'b'}, 2, true)
	f.Fuzz(func(t *testing.T, data []byte, want int, asEntries bool) {
		if asEntries {
			file := []byte(usersMagic)
			file = binary.LittleEndian.AppendUint32(file, uint32(len(data)))
			file = binary.LittleEndian.AppendUint32(file, checksum(data))
			data = append(file, data...)
		}
		const path = "/d/users/p.users"
		var d *userDict
		var err error
		allocBound(t, len(data), 1<<17, 128, func() {
			if d != nil {
				d.close()
			}
			d, err = loadUserDict(memFile(t, path, data), path, want, nil, 0)
		})
		if err != nil {
			checkDecodeErr(t, err, path, "")
			return
		}
		if d.Len() != want || d.persisted != want {
			t.Fatalf("loaded %d users (%d persisted), want %d", d.Len(), d.persisted, want)
		}
		if want == 0 {
			return
		}
		// Every entry up to fileBytes numbers one user, in order: a
		// repeated distinct_id would shift every later user's number.
		var ids []string
		for off := len(usersMagic); off < int(d.fileBytes); {
			n := int(binary.LittleEndian.Uint32(data[off:]))
			chunk := data[off+8 : off+8+n]
			for len(chunk) > 0 {
				l, k := binary.Uvarint(chunk)
				ids = append(ids, string(chunk[k:k+int(l)]))
				chunk = chunk[k+int(l):]
			}
			off += 8 + n
		}
		defer d.close()
		var got []string
		for _, id := range d.view().All() {
			got = append(got, id)
		}
		if !reflect.DeepEqual(ids, got) {
			t.Fatalf("file entries %q number as %q", ids, got)
		}
		// An id maps back to the first user holding it (a repeat is
		// damage arb verify reports; open cannot afford to look).
		for i, id := range ids {
			n, ok, err := d.lookup(id)
			if err != nil || !ok || ids[n] != id || (int(n) != i && slices.Index(ids, id) != int(n)) {
				t.Fatalf("user %d (%q) maps back to %d %v %v", i, id, n, ok, err)
			}
		}
	})
}

// FuzzIdentity loads the identity state of an ARBPPL02 people file (the
// format before user state runs) for a project of users users.
func FuzzIdentity(f *testing.F) {
	f.Add([]byte{0, 0}, uint32(0))
	f.Add([]byte{1, 0, 1, 1, 1}, uint32(2))
	f.Fuzz(func(t *testing.T, data []byte, users uint32) {
		users %= 1 << 24
		st := newUserState(func() int { return int(users) })
		var err error
		// Each pair or mark (2+ bytes) may copy in up to two chunks.
		allocBound(t, len(data), 1<<16, 40<<10, func() { err = migrateIdentity(st, data, int(users)) })
		if err != nil {
			return // the caller wraps it as a corruption of the people file
		}
		checkIdentityState(t, st, int(users))
	})
}

// checkIdentityState checks that the chunks of st's overlay form a
// union-find: each user's canonical is its own canonical and no better
// user than it, each cluster is one circle through its members, and each
// chunk survives its encoding.
func checkIdentityState(t *testing.T, st *userState, users int) {
	t.Helper()
	for c, ch := range st.identMem {
		for o := 0; o < identChunkUsers; o++ {
			u := c<<canonChunkBits | uint32(o)
			if int(u) >= users {
				break
			}
			k, _ := st.canonical(u)
			if kk, _ := st.canonical(k); kk != k {
				t.Fatalf("user %d's canonical %d has the canonical %d", u, k, kk)
			}
			if b, _ := st.better(u, k); b {
				t.Fatalf("canonical %d of a cluster holding the better user %d", k, u)
			}
			// Walk u's circle: every member has u's canonical, and the
			// walk comes back to u.
			x, steps := u, 0
			for {
				x, _ = st.nextMember(x)
				if kx, _ := st.canonical(x); kx != k {
					t.Fatalf("user %d in the circle of %d has the canonical %d, not %d", x, u, kx, k)
				}
				if steps++; x == u || steps > users {
					break
				}
			}
			if x != u {
				t.Fatalf("the circle from user %d does not come back", u)
			}
		}
		enc := encodeIdentChunk(nil, ch)
		ch2, err := decodeIdentChunk(enc, c, users)
		if err != nil {
			t.Fatalf("chunk %d re-encodes to one that does not decode: %v", c, err)
		}
		if ch2.canon != ch.canon || ch2.next != ch.next || ch2.marks != ch.marks {
			t.Fatalf("chunk %d changes through its encoding", c)
		}
	}
}

// FuzzIdentChunk decodes an identity chunk value of a user state run.
func FuzzIdentChunk(f *testing.F) {
	ch := &identChunk{}
	ch.canon[1], ch.next[0], ch.next[1] = 1, 2, 1
	ch.marks[0] = 1
	f.Add(encodeIdentChunk(nil, ch), uint32(0), uint32(10))
	f.Add([]byte{0, 0, 0}, uint32(1), uint32(5000))
	f.Fuzz(func(t *testing.T, data []byte, c, users uint32) {
		c %= 1 << 20
		ch, err := decodeIdentChunk(data, c, int(users))
		if err != nil {
			return
		}
		ch2, err := decodeIdentChunk(encodeIdentChunk(nil, ch), c, int(users))
		if err != nil || ch2.canon != ch.canon || ch2.next != ch.next || ch2.marks != ch.marks {
			t.Fatalf("a decoded chunk does not survive its encoding: %v", err)
		}
	})
}

// FuzzUserStateRun opens data as a user state run and reads every entry.
func FuzzUserStateRun(f *testing.F) {
	f.Add(tinyUserStateRun(f))
	f.Add([]byte(userStateMagic + "\x00\x00" + "\x02\x00\x00\x00\x00\x00\x00\x00" + userStateTrailer))
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		path := filepath.Join(dir, "000001.ust")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		var r *userStateRun
		var err error
		// The index costs 16 bytes per block, each at least 2 bytes of index.
		allocBound(t, len(data), 1<<16, 64, func() { r, err = openUserStateRun(OSFS{}, path) })
		if err != nil {
			if !errors.Is(err, ErrCorruption) {
				t.Fatalf("open error is not ErrCorruption: %v", err)
			}
			return
		}
		defer r.close()
		n := 0
		var prev uint64
		err = r.scan(0, ^uint64(0), true, func(e userStateEntry) bool {
			if n > 0 && e.key <= prev {
				t.Fatalf("keys out of order: %x after %x", e.key, prev)
			}
			if got, ok, err := r.get(e.key); err != nil || !ok || got.del != e.del || !bytes.Equal(got.val, e.val) {
				t.Fatalf("get(%x) = %v %v %v, scan gave %v", e.key, got, ok, err, e)
			}
			prev = e.key
			n++
			return true
		})
		if err != nil && !errors.Is(err, ErrCorruption) {
			t.Fatalf("read error is not ErrCorruption: %v", err)
		}
	})
}

// tinyUserStateRun is a valid run of three entries, one a tombstone.
func tinyUserStateRun(tb testing.TB) []byte {
	dir := tb.TempDir()
	path := filepath.Join(dir, "000001.ust")
	r, err := writeUserStateRun(OSFS{}, path, sliceUserState([]userStateEntry{
		{key: userStateKey(userStateIdentity, 0), val: []byte{0, 0, 1, 0}},
		{key: userStateKey(userStatePerson, 1), val: appendProps(nil, []Prop{{"name", StringValue("Ann")}})},
		{key: userStateKey(userStatePerson, 7), del: true},
	}))
	if err != nil {
		tb.Fatal(err)
	}
	r.close()
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return data
}

// FuzzSegment opens data as a segment and reads every block, dictionary,
// zone map and bitmap. With fixChecksums, the footer's section checksums
// and the trailer are recomputed first, so the block decoders are fuzzed
// behind them.
func FuzzSegment(f *testing.F) {
	f.Add(tinySegment(f), false)
	f.Add(tinySegment(f), true)
	f.Fuzz(func(t *testing.T, data []byte, fixChecksums bool) {
		if fixChecksums {
			data = fixSegmentChecksums(data)
		}
		const name = "fuzz.seg"
		var seg *Segment
		var err error
		// Blocks decompress to at most 256 times their stored size and a
		// segment holds at most 64 rows per byte; decoded rows cost at
		// most 8 (value) + 1 (null) + 4 (present) bytes each.
		allocBound(t, len(data), 1<<20, 2048, func() {
			seg, err = OpenSegment(bytes.NewReader(data), int64(len(data)), name)
			if err == nil {
				err = readWholeSegment(seg)
			}
		})
		if err != nil {
			checkDecodeErr(t, err, name, "segment version")
		}
	})
}

// readWholeSegment reads every part of seg through its public API.
func readWholeSegment(seg *Segment) error {
	if err := seg.Dump(io.Discard); err != nil {
		return err
	}
	for _, c := range seg.Columns() {
		var dict []string
		if c.Type == TypeString || c.Type == TypeJSON {
			var err error
			if dict, err = seg.Dict(c.Name); err != nil {
				return err
			}
			for i := 1; i < len(dict); i++ {
				if dict[i-1] >= dict[i] {
					return fmt.Errorf("column %q: dictionary entries %d and %d (%q, %q) out of order", c.Name, i-1, i, dict[i-1], dict[i])
				}
			}
			for code := range dict {
				bm, ok, err := seg.ValueBitmap(c.Name, uint32(code))
				if err != nil {
					return err
				}
				// Readers intersect these with row ranges and iterate them.
				if ok && !bm.IsEmpty() {
					if m := bm.Maximum(); int64(m) >= int64(seg.Rows()) {
						return fmt.Errorf("column %q code %d: bitmap holds row %d of %d", c.Name, code, m, seg.Rows())
					}
					all := roaring.New()
					all.AddRange(0, uint64(seg.Rows()))
					if bm.AndCardinality(all) != bm.GetCardinality() || uint64(len(bm.ToArray())) != bm.GetCardinality() {
						return fmt.Errorf("column %q code %d: bitmap's cardinality disagrees with its rows", c.Name, code)
					}
				}
			}
		}
		for b := 0; b < seg.NumBlocks(); b++ {
			blk, err := seg.ReadBlock(c.Name, b)
			if err != nil {
				return err
			}
			if _, err := seg.ZoneMap(c.Name, b); err != nil {
				return err
			}
			// Callers look every non-NULL row's code up in the dictionary.
			for i, code := range blk.Codes {
				if int(code) >= len(dict) && (blk.Nulls == nil || !blk.Nulls[i]) {
					return fmt.Errorf("column %q block %d: row %d has code %d, beyond the dictionary of %d", c.Name, b, i, code, len(dict))
				}
			}
		}
	}
	return nil
}

// fixSegmentChecksums makes data's footer and section checksums match
// what they cover, when its trailer points at a JSON footer; other data
// comes back unchanged.
func fixSegmentChecksums(data []byte) []byte {
	if len(data) < len(segMagic)+segTrailerBytes {
		return data
	}
	tr := data[len(data)-segTrailerBytes:]
	footOff := binary.LittleEndian.Uint64(tr)
	footLen := uint64(binary.LittleEndian.Uint32(tr[8:]))
	if footOff > uint64(len(data)-segTrailerBytes) || footOff+footLen != uint64(len(data)-segTrailerBytes) {
		return data
	}
	var ft segFooter
	if json.Unmarshal(data[footOff:footOff+footLen], &ft) != nil {
		return data
	}
	fix := func(s *segSection) {
		if s != nil && s.Offset >= 0 && s.Length >= 0 && s.Offset+s.Length <= int64(footOff) {
			s.CRC = checksum(data[s.Offset : s.Offset+s.Length])
		}
	}
	for i := range ft.Columns {
		c := &ft.Columns[i]
		for b := range c.Blocks {
			fix(&c.Blocks[b].segSection)
		}
		fix(c.Dict)
		fix(c.Bitmaps)
	}
	fb, err := json.Marshal(&ft)
	if err != nil {
		return data
	}
	out := append(bytes.Clone(data[:footOff]), fb...)
	out = binary.LittleEndian.AppendUint64(out, footOff)
	out = binary.LittleEndian.AppendUint32(out, uint32(len(fb)))
	out = binary.LittleEndian.AppendUint32(out, checksum(fb))
	return append(out, segMagic...)
}

// replaceSegmentSection returns data with the section that pick returns
// replaced by raw, stored uncompressed, and its footer and trailer
// rewritten.
func replaceSegmentSection(t *testing.T, data []byte, pick func(*segFooter) *segSection, raw []byte) []byte {
	t.Helper()
	tr := data[len(data)-segTrailerBytes:]
	footOff := int64(binary.LittleEndian.Uint64(tr))
	var ft segFooter
	if err := json.Unmarshal(data[footOff:len(data)-segTrailerBytes], &ft); err != nil {
		t.Fatal(err)
	}
	*pick(&ft) = segSection{Offset: footOff, Length: int64(len(raw)), RawLen: -1, CRC: checksum(raw)}
	fb, err := json.Marshal(&ft)
	if err != nil {
		t.Fatal(err)
	}
	out := append(append(bytes.Clone(data[:footOff]), raw...), fb...)
	out = binary.LittleEndian.AppendUint64(out, uint64(footOff)+uint64(len(raw)))
	out = binary.LittleEndian.AppendUint32(out, uint32(len(fb)))
	out = binary.LittleEndian.AppendUint32(out, checksum(fb))
	return append(out, segMagic...)
}

// TestWriteFuzzSeeds writes the seed corpora from the golden fixtures
// (ARB_WRITE_FUZZ_SEEDS=1): each valid file, a few truncations and bit
// flips, and for the checksummed formats the bytes behind the checksum.
// Seeds are written by name, so rerunning it rewrites the same files.
//
// Without the variable it writes nothing and checks instead that every
// committed seed it makes is byte for byte what it would write, so the
// corpora cannot drift from the golden files they are made from.
func TestWriteFuzzSeeds(t *testing.T) {
	update := os.Getenv("ARB_WRITE_FUZZ_SEEDS") != ""
	read := func(pattern string) []byte {
		names, _ := filepath.Glob(filepath.Join(goldenDir, pattern))
		if len(names) != 1 {
			t.Fatalf("%s: %v", pattern, names)
		}
		data, err := os.ReadFile(names[0])
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	manifest := read(manifestName)
	people := read("people/*.people")
	users := read("users/*.users")
	seg := read("segments/*.seg")
	peopleV1, err := os.ReadFile(filepath.Join("testdata", "golden", "people_v1.people"))
	if err != nil {
		t.Fatal(err)
	}
	stV2, err := readPeopleFile(memFile(t, "/p", people), "/p")
	if err != nil {
		t.Fatal(err)
	}

	// variants returns name → bytes: the file, cut at a few places, and
	// with a bit flipped in the header, the middle and near the end.
	variants := func(data []byte) map[string][]byte {
		out := map[string][]byte{"valid": data}
		for _, n := range []int{0, 7, 15, len(data) / 2, len(data) - 1} {
			if n >= 0 && n < len(data) {
				out[fmt.Sprintf("cut-%d", n)] = data[:n]
			}
		}
		for _, off := range []int{9, len(data) / 3, len(data) / 2, len(data) - 5} {
			if off >= 0 && off < len(data) {
				b := bytes.Clone(data)
				b[off] ^= 0x04
				out[fmt.Sprintf("flip-%d", off)] = b
			}
		}
		return out
	}
	write := func(target, name string, args ...any) {
		var b strings.Builder
		b.WriteString("go test fuzz v1\n")
		for _, a := range args {
			switch a := a.(type) {
			case []byte:
				fmt.Fprintf(&b, "[]byte(%s)\n", strconv.Quote(string(a)))
			case bool:
				fmt.Fprintf(&b, "bool(%v)\n", a)
			case int:
				fmt.Fprintf(&b, "int(%d)\n", a)
			case uint8:
				fmt.Fprintf(&b, "byte('\\x%02x')\n", a)
			case uint32:
				fmt.Fprintf(&b, "uint32(%d)\n", a)
			default:
				t.Fatalf("seed argument of type %T", a)
			}
		}
		path := filepath.Join("testdata", "fuzz", target, name)
		if !update {
			if got, err := os.ReadFile(path); err != nil || string(got) != b.String() {
				t.Errorf("seed %s is not what the generator makes (%v): rerun with ARB_WRITE_FUZZ_SEEDS=1", path, err)
			}
			return
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	for name, data := range variants(manifest) {
		write("FuzzManifest", "golden-"+name, data, false)
	}
	for name, body := range variants(manifest[framedHeaderBytes:]) {
		if name != "valid" && !strings.HasPrefix(name, "flip") {
			continue
		}
		write("FuzzManifest", "golden-body-"+name, body, true)
	}
	write("FuzzManifest", "body-obsolete-outside", bytes.Replace(manifest[framedHeaderBytes:], []byte(`"segments/000001.seg"`), []byte(`"segments/../../000001.seg"`), 1), true)
	write("FuzzManifest", "body-live-and-obsolete", bytes.Replace(manifest[framedHeaderBytes:], []byte(`"segments/000001.seg"`), []byte(`"segments/000004.seg"`), 1), true)
	write("FuzzManifest", "body-version-2", bytes.Replace(manifest[framedHeaderBytes:], []byte(`"version": 1`), []byte(`"version": 2`), 1), true)

	for name, data := range variants(people) {
		write("FuzzPeopleFile", "golden-"+name, data, uint8(0))
	}
	write("FuzzPeopleFile", "golden-body", people[framedHeaderBytes:], uint8(1))
	write("FuzzPeopleFile", "golden-v1", peopleV1, uint8(0))
	write("FuzzPeopleFile", "golden-v1-body", peopleV1[framedHeaderBytes:], uint8(2))

	m, err := decodeManifest(manifest, manifestName)
	if err != nil {
		t.Fatal(err)
	}
	want := m.Projects[0].Users
	for name, data := range variants(users) {
		write("FuzzUserDict", "golden-"+name, data, want, false)
	}
	write("FuzzUserDict", "golden-first-chunk", users, 2, false)
	write("FuzzUserDict", "golden-mid-chunk", users, 1, false)
	write("FuzzUserDict", "golden-beyond", users, want+1, false)
	write("FuzzUserDict", "golden-negative", users, -1, false)
	write("FuzzUserDict", "entries", users[len(usersMagic)+8:], 2, true)

	write("FuzzIdentity", "golden", stV2.identity, uint32(want))
	write("FuzzIdentity", "golden-too-few-users", stV2.identity, uint32(1))
	write("FuzzIdentity", "golden-cut", stV2.identity[:len(stV2.identity)-1], uint32(want))
	write("FuzzIdentity", "chain", []byte{2, 0, 1, 1, 2, 0}, uint32(3))
	write("FuzzIdentity", "twice", []byte{2, 0, 1, 0, 2, 0}, uint32(3))
	write("FuzzIdentity", "canonical-not-best", []byte{1, 0, 1, 0}, uint32(2))

	for name, data := range variants(seg) {
		write("FuzzSegment", "compacted-"+name, data, false)
	}
	write("FuzzSegment", "compacted-fixed", seg, true)
	tiny := tinySegment(t)
	write("FuzzSegment", "tiny", tiny, false)
	b := bytes.Clone(tiny)
	b[20] ^= 0x40
	write("FuzzSegment", "tiny-flip-block-fixed", b, true)
	// Two blocks of constant values: lz4 stores 16,384 rows in a few
	// bytes, the densest rows-per-byte a writer makes, for the mutator
	// to push the row count and raw lengths from.
	const rows = SegmentBlockRows + 1
	dense := []SegmentColumn{
		{Name: ColTime, Type: TypeTime, Ints: make([]int64, rows)},
		{Name: "s", Type: TypeString, Strs: make([]string, rows), Nulls: make([]bool, rows)},
		{Name: "f", Type: TypeFloat, Floats: make([]float64, rows)},
	}
	for i := range dense[1].Nulls {
		dense[1].Nulls[i] = i%2 == 0
	}
	write("FuzzSegment", "dense-fixed", encodeSegment(t, rows, dense), true)
	// A string column whose rows are all NULL has an empty dictionary;
	// here its block says no row is NULL.
	allNull := encodeSegment(t, 3, []SegmentColumn{{Name: "s", Type: TypeString, Strs: make([]string, 3), Nulls: []bool{true, true, true}}})
	firstBlock := func(ft *segFooter) *segSection { return &ft.Columns[0].Blocks[0].segSection }
	write("FuzzSegment", "empty-dict-non-null-rows", replaceSegmentSection(t, allNull, firstBlock, []byte{0, 0, 0, 0}), false)
	// A dictionary listing "a" twice: a lookup by value finds one code.
	ab := encodeSegment(t, 2, []SegmentColumn{{Name: "s", Type: TypeString, Strs: []string{"a", "b"}}})
	dict := func(ft *segFooter) *segSection { return ft.Columns[0].Dict }
	write("FuzzSegment", "dict-repeats-a-value", replaceSegmentSection(t, ab, dict, []byte{1, 'a', 1, 'a'}), false)
	// Bitmap indexes naming a row past the end, and holding a malformed
	// roaring container (array values out of order).
	bitmaps := func(ft *segFooter) *segSection { return ft.Columns[0].Bitmaps }
	var idx []byte
	for _, rows := range [][]uint32{{0, 70000}, {1}} {
		b, _ := roaring.BitmapOf(rows...).ToBytes()
		idx = append(binary.AppendUvarint(idx, uint64(len(b))), b...)
	}
	write("FuzzSegment", "bitmap-row-past-end", replaceSegmentSection(t, ab, bitmaps, idx), false)
	unsorted, _ := roaring.BitmapOf(1, 0).ToBytes()
	for i := 0; i+4 <= len(unsorted); i++ { // the array container's values 0, 1 → 1, 0
		if bytes.Equal(unsorted[i:i+4], []byte{0, 0, 1, 0}) && i+4 == len(unsorted) {
			copy(unsorted[i:], []byte{1, 0, 0, 0})
		}
	}
	idx = nil
	for _, b := range [][]byte{unsorted, unsorted} {
		idx = append(binary.AppendUvarint(idx, uint64(len(b))), b...)
	}
	write("FuzzSegment", "bitmap-unsorted-container", replaceSegmentSection(t, ab, bitmaps, idx), false)
}

// FuzzUserIndexRun opens data as a user index run and reads every entry:
// damage is a corruption error naming the file, never a panic or an
// allocation beyond the input's size; what reads is sorted, in range and
// found again by lookup.
func FuzzUserIndexRun(f *testing.F) {
	dir := f.TempDir()
	for i, es := range [][]userIndexEntry{nil, {{hash: 7, number: 0}}, {{1, 1}, {1, 2}, {9, 0}}} {
		path := filepath.Join(dir, fmt.Sprintf("%06d.uix", i))
		r, err := writeUserIndexRun(OSFS{}, path, 0, uint32(len(es)), sliceEntries(es))
		if err != nil {
			f.Fatal(err)
		}
		r.close()
		data, _ := os.ReadFile(path)
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		const path = "/d/users/000001.uix"
		fs := memFile(t, path, data)
		var r *userIndexRun
		var err error
		allocBound(t, len(data), 1<<12, 2, func() {
			if r != nil {
				r.close()
			}
			r, err = openUserIndexRun(fs, path)
		})
		if err != nil {
			checkDecodeErr(t, err, path, "")
			return
		}
		defer r.close()
		next := r.iterator()
		for {
			e, ok, err := next()
			if err != nil {
				checkDecodeErr(t, err, path, "")
				return
			}
			if !ok {
				return
			}
			// Every entry that reads is found under its hash.
			found := false
			if err := r.lookup(e.hash, func(n uint32) (bool, error) { found = n == e.number; return found, nil }); err != nil {
				checkDecodeErr(t, err, path, "") // a later page may be damaged
				return
			}
			if !found {
				t.Fatalf("entry (%x, %d) not found by lookup", e.hash, e.number)
			}
		}
	})
}

package storage

// A segment is an immutable file of one project's events of one UTC day
// from one flush, stored by column.
//
// File layout (integers little-endian):
//
//	+----------+----------------------------------+---------+---------+
//	| header   | sections                         | footer  | trailer |
//	| ARBSEG01 | column blocks, dictionaries,     | JSON    | 24 B    |
//	| 8 bytes  | bitmap indexes (each lz4 + CRC)  |         |         |
//	+----------+----------------------------------+---------+---------+
//
//	trailer: | footer offset uint64 | footer length uint32 |
//	         | CRC-32C of footer uint32 | magic ARBSEG01 |
//
// Rows are cut into blocks of SegmentBlockRows. Each column block is one
// section: lz4-compressed (block format) bytes of
//
//	| null flag byte | null bitset (if flag = 1), ceil(n/8) bytes |
//	| values: ints zigzag-varint deltas from the previous row;     |
//	|         floats 8 bytes IEEE 754;                            |
//	|         strings dictionary codes, 1, 2 or 4 bytes each       |
//
// String and JSON columns have a sorted dictionary section (uvarint
// length + bytes per entry, lz4) and, optionally (segWantsBitmaps), a
// bitmap section: for each code in order, uvarint length + a
// serialized roaring bitmap of the rows holding it (lz4).
//
// The footer (segFooter) lists for each column its blocks with offset,
// compressed and raw lengths, CRC-32C of the stored bytes, and zone map
// (min, max, null counts); and the dictionary and bitmap sections. Every
// section's offset and length is checked against the file before it is
// read, and every section's checksum when it is read: damage is an error
// of class ErrCorruption naming file, column, block and offset.

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/bits"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/pierrec/lz4/v4"
)

// Wire format constants: never change them.
const (
	segMagic        = "ARBSEG01"
	segVersion      = 1
	segTrailerBytes = 24
	// SegmentBlockRows is the number of rows per block (the last block of
	// a segment may hold fewer).
	SegmentBlockRows = 16384
)

// segMaxBitmapValues is the most distinct values a string column may have
// and still get a bitmap per value. This is the writer's policy, not the
// format: the reader takes any column with or without bitmaps. Beyond a
// byte-wide code a bitmap index costs about as much as the column itself
// (segments of version 1 written before this policy used 4,096). Id
// columns (distinct_id, insert_id) never get one: equality on them is
// rare in analytics and their bitmaps were the largest part of a segment.
const segMaxBitmapValues = 256

func segWantsBitmaps(name string, dictLen int) bool {
	return dictLen <= segMaxBitmapValues && name != ColDistinctID && name != ColInsertID
}

// segSection locates checked bytes in the file.
type segSection struct {
	Offset int64  `json:"off"`
	Length int64  `json:"len"`
	RawLen int64  `json:"raw"` // length after lz4 decompression
	CRC    uint32 `json:"crc"`
}

type segBlock struct {
	segSection
	MinInt   int64   `json:"min_i,omitempty"` // ints, times, dictionary codes
	MaxInt   int64   `json:"max_i,omitempty"`
	MinFloat float64 `json:"min_f,omitempty"`
	MaxFloat float64 `json:"max_f,omitempty"`
	Nulls    int     `json:"nulls,omitempty"`
}

type segColumn struct {
	Name    string      `json:"name"`
	Type    ColumnType  `json:"type"`
	Blocks  []segBlock  `json:"blocks"`
	Dict    *segSection `json:"dict,omitempty"`
	DictLen int         `json:"dict_len,omitempty"`
	Bitmaps *segSection `json:"bitmaps,omitempty"`
}

type segFooter struct {
	Version int         `json:"version"`
	Rows    int         `json:"rows"`
	Meta    []byte      `json:"meta"`
	Columns []segColumn `json:"columns"`
}

// SegmentColumn is one column of a segment to write: values of rows
// 0..rows-1. Exactly one of Ints (TypeBool, TypeInt, TypeTime), Floats
// (TypeFloat) or Strs (TypeString, TypeJSON) is set. Nulls is nil when no
// row is NULL, else one entry per row (true = NULL).
//
// A string or JSON column may come dictionary-encoded instead of as Strs:
// Dict (strictly sorted, every entry the value of some non-NULL row) and
// Codes (one per row, an index into Dict; 0 in NULL rows). Compaction
// writes so, having merged its inputs' dictionaries.
type SegmentColumn struct {
	Name   string
	Type   ColumnType
	Nulls  []bool
	Ints   []int64
	Floats []float64
	Strs   []string
	Dict   []string
	Codes  []uint32
}

// segWriter tracks the write offset. raw and packed are scratch buffers
// reused from section to section: a section's bytes are written to w
// before the next one is built.
type segWriter struct {
	w      io.Writer
	off    int64
	err    error
	raw    []byte // a block's or dictionary's bytes before compression
	packed []byte // lz4's output
	// sealed: the segment is a sealed chunk (writeSealedSegment): every
	// section stored uncompressed, no bitmap index.
	sealed bool
}

func (sw *segWriter) write(b []byte) {
	if sw.err != nil {
		return
	}
	n, err := sw.w.Write(b)
	sw.off += int64(n)
	sw.err = err
}

// section compresses raw and writes it as a checked section.
func (sw *segWriter) section(raw []byte) segSection {
	if sw.sealed {
		s := segSection{Offset: sw.off, Length: int64(len(raw)), RawLen: -1, CRC: checksum(raw)}
		sw.write(raw)
		return s
	}
	if bound := lz4.CompressBlockBound(len(raw)); cap(sw.packed) < bound {
		sw.packed = make([]byte, bound)
	}
	buf := sw.packed[:cap(sw.packed)]
	n, err := lz4.CompressBlock(raw, buf, nil)
	if err != nil && sw.err == nil {
		sw.err = fmt.Errorf("lz4: %w", err)
	}
	stored := buf[:n]
	if n == 0 { // incompressible: lz4 leaves it to the caller; store raw
		stored = raw
	}
	s := segSection{Offset: sw.off, Length: int64(len(stored)), RawLen: int64(len(raw)), CRC: checksum(stored)}
	if n == 0 {
		s.RawLen = -1 // marks a section stored uncompressed
	}
	sw.write(stored)
	return s
}

// WriteSegment encodes a segment to w and returns the bytes written.
func WriteSegment(w io.Writer, meta []byte, rows int, cols []SegmentColumn) (int64, error) {
	return writeSegment(&segWriter{w: w}, meta, rows, cols)
}

// writeSealedSegment is WriteSegment for a sealed chunk of a memtable
// (memtable_seal.go): an in-memory segment that queries read until the
// next flush, which reads its columns back once and drops it. Its
// sections are stored uncompressed and its string columns get no bitmap
// index, both of which the format allows and every reader takes (RawLen
// -1; a column without Bitmaps is filtered on its codes). On a bulk
// /import, lz4 and the bitmaps were about a quarter of sealing's CPU,
// and the flush paid again to decompress what sealing compressed; the
// chunk is small (SealRows rows), so scanning its codes costs a query
// little, and it takes a few more bytes of memory for a short while.
func writeSealedSegment(w io.Writer, rows int, cols []SegmentColumn) (int64, error) {
	return writeSegment(&segWriter{w: w, sealed: true}, nil, rows, cols)
}

func writeSegment(sw *segWriter, meta []byte, rows int, cols []SegmentColumn) (int64, error) {
	seen := map[string]bool{}
	for _, c := range cols {
		if seen[c.Name] {
			return 0, fmt.Errorf("segment: column %q given twice", c.Name)
		}
		seen[c.Name] = true
		n := len(c.Ints)
		switch c.Type {
		case TypeFloat:
			n = len(c.Floats)
		case TypeString, TypeJSON:
			n = len(c.Strs)
			if c.Dict != nil {
				n = len(c.Codes)
				if err := checkColumnDict(&c); err != nil {
					return 0, err
				}
			}
		case TypeBool, TypeInt, TypeTime:
		default:
			return 0, fmt.Errorf("segment: column %q has unknown type %d", c.Name, c.Type)
		}
		if n != rows || (c.Nulls != nil && len(c.Nulls) != rows) {
			return 0, fmt.Errorf("segment: column %q has %d values for %d rows", c.Name, n, rows)
		}
	}
	sw.write([]byte(segMagic))
	footer := segFooter{Version: segVersion, Rows: rows, Meta: meta}
	for i := range cols {
		footer.Columns = append(footer.Columns, sw.column(&cols[i], rows))
	}
	return sw.finish(&footer)
}

// finish writes the footer and trailer and returns the bytes written.
func (sw *segWriter) finish(footer *segFooter) (int64, error) {
	fb, err := json.Marshal(footer)
	if err != nil {
		return sw.off, fmt.Errorf("segment: encode footer: %w", err)
	}
	footerOff := sw.off
	sw.write(fb)
	var tr [segTrailerBytes]byte
	binary.LittleEndian.PutUint64(tr[0:], uint64(footerOff))
	binary.LittleEndian.PutUint32(tr[8:], uint32(len(fb)))
	binary.LittleEndian.PutUint32(tr[12:], checksum(fb))
	copy(tr[16:], segMagic)
	sw.write(tr[:])
	return sw.off, sw.err
}

func (sw *segWriter) column(c *SegmentColumn, rows int) segColumn {
	sc := segColumn{Name: c.Name, Type: c.Type}
	var codes []uint32
	var dict []string
	if c.Type == TypeString || c.Type == TypeJSON {
		if c.Dict != nil {
			dict, codes = c.Dict, c.Codes
		} else {
			dict, codes = segDictionary(c.Strs, c.Nulls)
		}
		size := 0
		for _, s := range dict {
			size += len(s) + binary.MaxVarintLen32
		}
		raw := slices.Grow(sw.raw[:0], size)
		for _, s := range dict {
			raw = binary.AppendUvarint(raw, uint64(len(s)))
			raw = append(raw, s...)
		}
		sw.raw = raw
		d := sw.section(raw)
		sc.Dict, sc.DictLen = &d, len(dict)
	}
	for first := 0; first < rows; first += SegmentBlockRows {
		n := min(SegmentBlockRows, rows-first)
		sc.Blocks = append(sc.Blocks, sw.block(c, codes, len(dict), first, n))
	}
	if dict != nil && !sw.sealed && segWantsBitmaps(c.Name, len(dict)) {
		// Each code's rows, ascending, by a counting sort: a bitmap takes
		// them at once (AddMany) far cheaper than a row at a time.
		starts := make([]int, len(dict)+1)
		for row, code := range codes {
			if c.Nulls == nil || !c.Nulls[row] {
				starts[code+1]++
			}
		}
		for i := 1; i < len(starts); i++ {
			starts[i] += starts[i-1]
		}
		byCode := make([]uint32, starts[len(dict)])
		next := slices.Clone(starts[:len(dict)])
		for row, code := range codes {
			if c.Nulls == nil || !c.Nulls[row] {
				byCode[next[code]] = uint32(row)
				next[code]++
			}
		}
		var raw []byte
		for code := range dict {
			bm := roaring.New()
			bm.AddMany(byCode[starts[code]:starts[code+1]])
			bm.RunOptimize()
			b, _ := bm.ToBytes()
			raw = binary.AppendUvarint(raw, uint64(len(b)))
			raw = append(raw, b...)
		}
		s := sw.section(raw)
		sc.Bitmaps = &s
	}
	return sc
}

// checkColumnDict checks a dictionary-encoded column's promise: Dict
// strictly sorted, every non-NULL code inside it, every entry used.
func checkColumnDict(c *SegmentColumn) error {
	for i := 1; i < len(c.Dict); i++ {
		if c.Dict[i-1] >= c.Dict[i] {
			return fmt.Errorf("segment: column %q: dictionary not strictly sorted at entry %d", c.Name, i)
		}
	}
	used := make([]bool, len(c.Dict))
	for row, code := range c.Codes {
		if c.Nulls != nil && c.Nulls[row] {
			continue
		}
		if int(code) >= len(c.Dict) {
			return fmt.Errorf("segment: column %q row %d: code %d beyond the dictionary of %d", c.Name, row, code, len(c.Dict))
		}
		used[code] = true
	}
	if i := slices.Index(used, false); i >= 0 {
		return fmt.Errorf("segment: column %q: dictionary entry %d is in no row", c.Name, i)
	}
	return nil
}

// segDictionary returns the sorted distinct non-NULL strings and each
// row's code (0 for NULL rows). It hashes each row once (a run of equal
// values once): codes are first given in order of appearance, then
// renumbered to the sorted order.
func segDictionary(strs []string, nulls []bool) ([]string, []uint32) {
	codes := make([]uint32, len(strs))
	return segDictionaryInto(strs, nulls, codes), codes
}

// segDictionaryInto is segDictionary writing the codes into codes
// (len(strs) of them).
//
// Strings that share their bytes (one string stored for many rows, as
// LOAD DATA and the ingest decoders do for a column's repeated values)
// find their code in a small table by their data pointer and length,
// without hashing or comparing the bytes; any other string takes the
// map. Equal strings at different addresses still meet in the map, so
// the cache changes speed only. The table has 256 slots, more for many
// rows (up to 4,096 for 16,384 rows and more), so that a column of a
// few thousand values (cities) seldom has two of them share a slot.
func segDictionaryInto(strs []string, nulls []bool, codes []uint32) []string {
	index := map[string]uint32{}
	var dict []string
	type sameBytes struct {
		p    *byte
		n    int
		code uint32
	}
	var small [256]sameBytes
	seen, shift := small[:], uint(64-8)
	if len(strs) >= 4*len(small) {
		b := min(bits.Len(uint(len(strs)))-3, 12) // len(strs)/4 slots at most
		seen, shift = make([]sameBytes, 1<<b), uint(64-b)
	}
	for i, s := range strs {
		if nulls != nil && nulls[i] {
			continue
		}
		p := unsafe.StringData(s)
		slot := &seen[(uintptr(unsafe.Pointer(p))*0x9E3779B97F4A7C15)>>shift]
		if slot.p == p && slot.n == len(s) && p != nil {
			codes[i] = slot.code
			continue
		}
		c, ok := index[s]
		if !ok {
			c = uint32(len(dict))
			index[s] = c
			dict = append(dict, s)
		}
		codes[i] = c
		*slot = sameBytes{p, len(s), c}
	}
	return sortDictionary(dict, codes, nulls)
}

// segDictionaryByNumber is segDictionary for a column without NULLs whose
// rows carry numbers one-to-one with their strings (distinct_id and user
// numbers): it hashes the numbers instead of the strings. ok is false,
// and nothing returned, if a number comes with two different strings.
// (Two numbers with one string would give a dictionary not strictly
// sorted, which WriteSegment refuses.)
func segDictionaryByNumber(strs []string, nums []uint32) (dict []string, codes []uint32, ok bool) {
	codes = make([]uint32, len(strs))
	dict, ok = segDictionaryByNumberInto(strs, nums, codes)
	if !ok {
		return nil, nil, false
	}
	return dict, codes, true
}

// segDictionaryByNumberInto is segDictionaryByNumber writing the codes
// into codes (len(strs) of them; garbage when !ok).
//
// Numbers are a shard's user numbers, dense from 0: unless one is far
// beyond the rows' count (denseNumbers), codes are found in a pooled
// table indexed by number instead of a map, which was most of a sealed
// chunk's distinct_id column.
func segDictionaryByNumberInto(strs []string, nums []uint32, codes []uint32) (dict []string, ok bool) {
	var top uint32
	for _, num := range nums {
		top = max(top, num)
	}
	if int64(top) < denseNumbers(len(nums)) {
		return segDictionaryByDenseNumber(strs, nums, codes, top)
	}
	index := make(map[uint32]uint32)
	dict = make([]string, 0, len(strs)) // ids repeat little within a chunk
	for i, num := range nums {
		c, seen := index[num]
		if !seen {
			c = uint32(len(dict))
			index[num] = c
			dict = append(dict, strs[i])
		} else if dict[c] != strs[i] {
			return nil, false
		}
		codes[i] = c
	}
	return sortDictionary(dict, codes, nil), true
}

// denseNumbers bounds the numbers segDictionaryByNumberInto looks up in a
// table rather than a map, for rows rows: 4 bytes of table per number,
// up to 16 MiB, or more when the rows are many.
func denseNumbers(rows int) int64 { return max(1<<22, 16*int64(rows)) }

// numberCodes holds tables for segDictionaryByDenseNumber: every entry 0
// while in the pool.
var numberCodes = sync.Pool{New: func() any { return new([]uint32) }}

// segDictionaryByDenseNumber is segDictionaryByNumberInto for numbers up
// to top, with a table of 1 + code by number.
func segDictionaryByDenseNumber(strs []string, nums []uint32, codes []uint32, top uint32) (dict []string, ok bool) {
	tp := numberCodes.Get().(*[]uint32)
	if len(*tp) <= int(top) {
		*tp = make([]uint32, int(top)+1+int(top)/4)
	}
	table := *tp
	defer func() {
		for _, num := range nums {
			table[num] = 0
		}
		numberCodes.Put(tp)
	}()
	dict = make([]string, 0, len(strs)) // ids repeat little within a chunk
	for i, num := range nums {
		c := table[num]
		if c == 0 {
			dict = append(dict, strs[i])
			c = uint32(len(dict))
			table[num] = c
		} else if dict[c-1] != strs[i] {
			return nil, false
		}
		codes[i] = c - 1
	}
	return sortDictionary(dict, codes, nil), true
}

// sortDictionary sorts dict, whose codes are in order of appearance, and
// renumbers the non-NULL codes to match; it returns the sorted dictionary.
//
// Entries are ordered by an 8-byte key first: the bytes after the prefix
// all entries share (ids like "user-00012345"), big-endian, zero-padded.
// Keys order like the strings they come from, except that a string and
// itself followed by zero bytes share a key; ties compare the strings.
// Most comparisons then touch no string memory.
func sortDictionary(dict []string, codes []uint32, nulls []bool) []string {
	type entry struct {
		key  uint64
		s    string
		code uint32 // of appearance
	}
	common := 0
	if len(dict) > 0 {
		common = len(dict[0])
		for _, s := range dict[1:] {
			common = min(common, len(s))
			for i := 0; i < common; i++ {
				if s[i] != dict[0][i] {
					common = i
				}
			}
		}
	}
	entries := make([]entry, len(dict))
	for i, s := range dict {
		var key uint64
		for j := 0; j < 8; j++ {
			key <<= 8
			if common+j < len(s) {
				key |= uint64(s[common+j])
			}
		}
		entries[i] = entry{key, s, uint32(i)}
	}
	slices.SortFunc(entries, func(a, b entry) int {
		switch {
		case a.key < b.key:
			return -1
		case a.key > b.key:
			return 1
		}
		return strings.Compare(a.s, b.s)
	})
	remap := make([]uint32, len(dict))
	sorted := make([]string, len(dict))
	for pos, e := range entries {
		remap[e.code] = uint32(pos)
		sorted[pos] = e.s
	}
	for i, c := range codes {
		if nulls == nil || !nulls[i] {
			codes[i] = remap[c]
		}
	}
	return sorted
}

// segCodeWidth is the bytes per dictionary code for a dictionary size.
func segCodeWidth(dictLen int) int {
	switch {
	case dictLen <= 1<<8:
		return 1
	case dictLen <= 1<<16:
		return 2
	}
	return 4
}

func (sw *segWriter) block(c *SegmentColumn, codes []uint32, dictLen, first, n int) segBlock {
	raw := slices.Grow(sw.raw[:0], 1+(n+7)/8+8*n) // a float column's size, the most a value takes but a varint
	defer func() { sw.raw = raw[:0] }()
	isNull := func(i int) bool { return c.Nulls != nil && c.Nulls[first+i] }
	var blk segBlock
	for i := 0; i < n; i++ {
		if isNull(i) {
			blk.Nulls++
		}
	}
	if blk.Nulls > 0 {
		bits := make([]byte, (n+7)/8)
		for i := 0; i < n; i++ {
			if isNull(i) {
				bits[i/8] |= 1 << (i % 8)
			}
		}
		raw = append(append(raw, 1), bits...)
	} else {
		raw = append(raw, 0)
	}
	seen := false
	switch c.Type {
	case TypeFloat:
		for i := 0; i < n; i++ {
			v := c.Floats[first+i]
			raw = binary.LittleEndian.AppendUint64(raw, math.Float64bits(v))
			if isNull(i) || math.IsNaN(v) {
				continue
			}
			if !seen || v < blk.MinFloat {
				blk.MinFloat = v
			}
			if !seen || v > blk.MaxFloat {
				blk.MaxFloat = v
			}
			seen = true
		}
	case TypeString, TypeJSON:
		width := segCodeWidth(dictLen)
		for i := 0; i < n; i++ {
			code := codes[first+i]
			switch width {
			case 1:
				raw = append(raw, byte(code))
			case 2:
				raw = binary.LittleEndian.AppendUint16(raw, uint16(code))
			default:
				raw = binary.LittleEndian.AppendUint32(raw, code)
			}
			if !isNull(i) {
				blk.MinInt, blk.MaxInt, seen = segMinMax(blk.MinInt, blk.MaxInt, int64(code), seen)
			}
		}
	default:
		prev := int64(0)
		for i := 0; i < n; i++ {
			v := c.Ints[first+i]
			if isNull(i) {
				v = prev // keeps deltas small; the value slot of a NULL is ignored
			} else {
				blk.MinInt, blk.MaxInt, seen = segMinMax(blk.MinInt, blk.MaxInt, v, seen)
			}
			raw = binary.AppendVarint(raw, v-prev)
			prev = v
		}
	}
	blk.segSection = sw.section(raw)
	return blk
}

func segMinMax(lo, hi, v int64, seen bool) (int64, int64, bool) {
	if !seen || v < lo {
		lo = v
	}
	if !seen || v > hi {
		hi = v
	}
	return lo, hi, true
}

// segStreamWriter writes a segment a column at a time and, within a
// column, a block at a time, so that a writer never holds more than one
// block of values (compaction_merge.go streams merged rows through it).
// The bytes are exactly WriteSegment's for the same columns: the same
// sections in the same order (dictionary, blocks, bitmap index per
// column), the same footer.
//
// Use: newSegStreamWriter; for each column beginColumn, one append per
// row, endColumn; then finish. Calls out of that order are an error.
// What it still holds per column: the dictionary section (the format
// stores it as one lz4 section, so it is encoded whole), one bit per
// dictionary entry (every entry must be used), and, for a column that
// gets a bitmap index, the roaring bitmaps of its rows (at most about
// 2 bytes per row, far less for sorted or repetitive values).
type segStreamWriter struct {
	sw     segWriter
	footer segFooter
	names  map[string]bool

	// The column being written (open is false between columns).
	open    bool
	sc      segColumn
	buf     SegmentColumn // the current block's values, at most SegmentBlockRows
	written int           // rows of the column in blocks already written
	dictLen int
	used    []uint64 // bit per dictionary entry: some non-NULL row has it
	bitmaps []*roaring.Bitmap
}

func newSegStreamWriter(w io.Writer, meta []byte, rows int) *segStreamWriter {
	s := &segStreamWriter{sw: segWriter{w: w}, names: map[string]bool{},
		footer: segFooter{Version: segVersion, Rows: rows, Meta: meta}}
	s.sw.write([]byte(segMagic))
	return s
}

// beginColumn starts a column. A string or JSON column needs its whole
// dictionary, strictly sorted, every entry the value of some non-NULL row
// (checked at endColumn); rows are then appended as codes into it. nullable
// says whether appends may be NULL (the column's blocks get a null bitset
// only where some row is NULL, as WriteSegment's).
func (s *segStreamWriter) beginColumn(name string, t ColumnType, nullable bool, dict []string) error {
	var raw []byte
	for _, v := range dict {
		raw = binary.AppendUvarint(raw, uint64(len(v)))
		raw = append(raw, v...)
	}
	if dict != nil && raw == nil {
		raw = []byte{}
	}
	return s.beginColumnRaw(name, t, nullable, raw, len(dict))
}

// beginColumnRaw is beginColumn with the dictionary given as its section
// bytes before compression (dictLen entries of uvarint length + bytes;
// nil for a column of another type): a dictionary with a value per row
// then costs its bytes, not a string per entry.
func (s *segStreamWriter) beginColumnRaw(name string, t ColumnType, nullable bool, dict []byte, dictLen int) error {
	if s.open {
		return fmt.Errorf("segment: column %q begun inside column %q", name, s.sc.Name)
	}
	if s.names[name] {
		return fmt.Errorf("segment: column %q given twice", name)
	}
	s.names[name] = true
	isString := t == TypeString || t == TypeJSON
	switch {
	case !t.Valid() || t == TypeNull:
		return fmt.Errorf("segment: column %q has unknown type %d", name, t)
	case isString != (dict != nil):
		return fmt.Errorf("segment: column %q of type %v: dictionary given %v", name, t, dict != nil)
	}
	if isString {
		if err := checkRawDict(dict, dictLen); err != nil {
			return fmt.Errorf("segment: column %q: %w", name, err)
		}
	}
	s.open, s.written, s.dictLen = true, 0, dictLen
	s.sc = segColumn{Name: name, Type: t}
	s.buf = SegmentColumn{Name: name, Type: t}
	if nullable {
		s.buf.Nulls = make([]bool, 0, SegmentBlockRows)
	}
	switch {
	case t == TypeFloat:
		s.buf.Floats = make([]float64, 0, SegmentBlockRows)
	case isString:
		s.buf.Codes = make([]uint32, 0, SegmentBlockRows)
	default:
		s.buf.Ints = make([]int64, 0, SegmentBlockRows)
	}
	s.used, s.bitmaps = nil, nil
	if !isString {
		return nil
	}
	if len(dict) == 0 {
		dict = nil // WriteSegment compresses a nil slice for an empty dictionary
	}
	d := s.sw.section(dict)
	s.sc.Dict, s.sc.DictLen = &d, dictLen
	s.used = make([]uint64, (dictLen+63)/64)
	if segWantsBitmaps(name, dictLen) {
		s.bitmaps = make([]*roaring.Bitmap, dictLen)
		for i := range s.bitmaps {
			s.bitmaps[i] = roaring.New()
		}
	}
	return nil
}

// checkRawDict checks that raw holds n entries, strictly sorted.
func checkRawDict(raw []byte, n int) error {
	var prev []byte
	for i := 0; i < n; i++ {
		l, k := binary.Uvarint(raw)
		if k <= 0 || l > uint64(len(raw)-k) {
			return fmt.Errorf("dictionary entry %d: bad length", i)
		}
		e := raw[k : k+int(l)]
		if i > 0 && bytes.Compare(prev, e) >= 0 {
			return fmt.Errorf("dictionary not strictly sorted at entry %d", i)
		}
		prev, raw = e, raw[k+int(l):]
	}
	if len(raw) != 0 {
		return fmt.Errorf("dictionary holds more than %d entries", n)
	}
	return nil
}

// appendInt appends a row of a Bool, Int or Time column (v is ignored
// when null).
func (s *segStreamWriter) appendInt(v int64, null bool) {
	s.buf.Ints = append(s.buf.Ints, v)
	s.appended(null)
}

// appendFloat appends a row of a Float column.
func (s *segStreamWriter) appendFloat(v float64, null bool) {
	s.buf.Floats = append(s.buf.Floats, v)
	s.appended(null)
}

// appendCode appends a row of a String or JSON column: an index into the
// column's dictionary (ignored when null; written as 0).
func (s *segStreamWriter) appendCode(code uint32, null bool) {
	if null {
		code = 0
	} else if int(code) < s.dictLen {
		s.used[code/64] |= 1 << (code % 64)
		if s.bitmaps != nil {
			s.bitmaps[code].Add(uint32(s.written + len(s.buf.Codes)))
		}
	} else if s.sw.err == nil {
		s.sw.err = fmt.Errorf("segment: column %q row %d: code %d beyond the dictionary of %d",
			s.sc.Name, s.written+len(s.buf.Codes), code, s.dictLen)
	}
	s.buf.Codes = append(s.buf.Codes, code)
	s.appended(null)
}

func (s *segStreamWriter) appended(null bool) {
	if s.buf.Nulls != nil {
		s.buf.Nulls = append(s.buf.Nulls, null)
	} else if null && s.sw.err == nil {
		s.sw.err = fmt.Errorf("segment: column %q row %d: NULL in a column begun not nullable", s.sc.Name, s.written+s.bufLen()-1)
	}
	if s.bufLen() == SegmentBlockRows {
		s.writeBlock()
	}
}

// bufLen is the rows of the current block.
func (s *segStreamWriter) bufLen() int {
	return len(s.buf.Ints) + len(s.buf.Floats) + len(s.buf.Codes)
}

func (s *segStreamWriter) writeBlock() {
	n := s.bufLen()
	if n == 0 {
		return
	}
	if !s.open || s.written+n > s.footer.Rows {
		if s.sw.err == nil {
			s.sw.err = fmt.Errorf("segment: column %q has more than %d rows", s.sc.Name, s.footer.Rows)
		}
		return
	}
	s.sc.Blocks = append(s.sc.Blocks, s.sw.block(&s.buf, s.buf.Codes, s.dictLen, 0, n))
	s.written += n
	s.buf.Nulls, s.buf.Ints, s.buf.Floats, s.buf.Codes = s.buf.Nulls[:0], s.buf.Ints[:0], s.buf.Floats[:0], s.buf.Codes[:0]
}

// endColumn writes the column's last block and its bitmap index, and
// checks its row count and dictionary.
func (s *segStreamWriter) endColumn() error {
	if !s.open {
		return fmt.Errorf("segment: endColumn without a column")
	}
	s.writeBlock()
	s.open = false
	if s.sw.err != nil {
		return s.sw.err
	}
	if s.written != s.footer.Rows {
		return fmt.Errorf("segment: column %q has %d values for %d rows", s.sc.Name, s.written, s.footer.Rows)
	}
	for code := 0; code < s.dictLen; code++ {
		if s.used[code/64]&(1<<(code%64)) == 0 {
			return fmt.Errorf("segment: column %q: dictionary entry %d is in no row", s.sc.Name, code)
		}
	}
	if s.bitmaps != nil {
		var raw []byte
		for _, bm := range s.bitmaps {
			bm.RunOptimize()
			b, _ := bm.ToBytes()
			raw = binary.AppendUvarint(raw, uint64(len(b)))
			raw = append(raw, b...)
		}
		sec := s.sw.section(raw)
		s.sc.Bitmaps = &sec
	}
	s.footer.Columns = append(s.footer.Columns, s.sc)
	s.sc, s.buf, s.used, s.bitmaps = segColumn{}, SegmentColumn{}, nil, nil
	return s.sw.err
}

// finish writes the footer and trailer and returns the bytes written.
func (s *segStreamWriter) finish() (int64, error) {
	if s.open {
		return s.sw.off, fmt.Errorf("segment: finish inside column %q", s.sc.Name)
	}
	return s.sw.finish(&s.footer)
}

// Segment reads a segment file. Blocks are read on demand; dictionaries
// and bitmap indexes are read once and cached. Safe for concurrent use.
type Segment struct {
	f      io.ReaderAt
	size   int64
	name   string
	footer segFooter
	cols   map[string]*segColumn

	mu      sync.Mutex
	bitmaps map[string][]*roaring.Bitmap

	typesOnce sync.Once
	types     map[string]ColumnType // ColumnTypes

	// shard is set on a segment's view in a union snapshot (shard_view.go):
	// it reads through its base, its user column translated.
	shard *shardSegment
	// view is this segment's view, made once (shardView).
	view atomic.Pointer[Segment]
}

// OpenSegment reads and checks the trailer and footer of a segment of
// size bytes; name is used in errors.
func OpenSegment(f io.ReaderAt, size int64, name string) (*Segment, error) {
	if size < int64(len(segMagic))+segTrailerBytes {
		return nil, corruptf(name, 0, "file of %d bytes is too short to be a segment", size)
	}
	head := make([]byte, len(segMagic))
	if _, err := f.ReadAt(head, 0); err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if string(head) != segMagic {
		return nil, corruptf(name, 0, "not a segment (bad magic %q)", head)
	}
	tr := make([]byte, segTrailerBytes)
	if _, err := f.ReadAt(tr, size-segTrailerBytes); err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if string(tr[16:]) != segMagic {
		return nil, corruptf(name, size-segTrailerBytes, "bad trailer magic %q", tr[16:])
	}
	footOff := int64(binary.LittleEndian.Uint64(tr[0:]))
	footLen := int64(binary.LittleEndian.Uint32(tr[8:]))
	if footOff < int64(len(segMagic)) || footLen < 0 || footOff+footLen != size-segTrailerBytes {
		return nil, corruptf(name, size-segTrailerBytes, "footer at %d+%d does not end at the trailer (%d)", footOff, footLen, size-segTrailerBytes)
	}
	fb := make([]byte, footLen)
	if _, err := f.ReadAt(fb, footOff); err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if sum, got := binary.LittleEndian.Uint32(tr[12:]), checksum(fb); sum != got {
		return nil, corruptf(name, footOff, "footer checksum mismatch (stored %08x, computed %08x)", sum, got)
	}
	s := &Segment{f: f, size: size, name: name, cols: map[string]*segColumn{},
		bitmaps: map[string][]*roaring.Bitmap{}}
	if err := json.Unmarshal(fb, &s.footer); err != nil {
		return nil, corruptf(name, footOff, "bad footer: %v", err)
	}
	if err := s.checkFooter(footOff); err != nil {
		return nil, err
	}
	return s, nil
}

// checkFooter validates every number of the footer against the file, so
// that later reads never go out of bounds or allocate beyond the file.
func (s *Segment) checkFooter(footOff int64) error {
	ft := &s.footer
	if ft.Version != segVersion {
		return fmt.Errorf("%s: segment version %d; this arb reads version %d", s.name, ft.Version, segVersion)
	}
	wantBlocks := (ft.Rows + SegmentBlockRows - 1) / SegmentBlockRows
	if ft.Rows < 0 || int64(ft.Rows) > s.size*64 {
		return corruptf(s.name, footOff, "footer claims %d rows", ft.Rows)
	}
	inFile := func(sec *segSection) bool {
		return sec.Offset >= int64(len(segMagic)) && sec.Length >= 0 && sec.Offset+sec.Length <= footOff &&
			sec.RawLen >= -1 && sec.RawLen <= 256*(sec.Length+16)
	}
	for i := range ft.Columns {
		c := &ft.Columns[i]
		if !c.Type.Valid() || c.Type == TypeNull {
			return corruptf(s.name, footOff, "column %q has unknown type %d", c.Name, c.Type)
		}
		if _, dup := s.cols[c.Name]; dup {
			return corruptf(s.name, footOff, "column %q listed twice", c.Name)
		}
		if len(c.Blocks) != wantBlocks {
			return corruptf(s.name, footOff, "column %q has %d blocks for %d rows", c.Name, len(c.Blocks), ft.Rows)
		}
		for b := range c.Blocks {
			if !inFile(&c.Blocks[b].segSection) {
				return corruptf(s.name, footOff, "column %q block %d: section %+v outside the file", c.Name, b, c.Blocks[b].segSection)
			}
		}
		isString := c.Type == TypeString || c.Type == TypeJSON
		// A dictionary entry takes at least a byte (its length) of the
		// raw section: RawLen bytes, or Length for a section stored
		// uncompressed (RawLen -1, as sealed chunks store all of theirs).
		dictRaw := 0
		if c.Dict != nil {
			dictRaw = int(c.Dict.RawLen) + int(c.Dict.Length)
			if c.Dict.RawLen == -1 {
				dictRaw = int(c.Dict.Length)
			}
		}
		if isString != (c.Dict != nil) || (c.Dict != nil && (!inFile(c.Dict) || c.DictLen < 0 || c.DictLen > dictRaw)) ||
			(c.Bitmaps != nil && (!inFile(c.Bitmaps) || !isString)) {
			return corruptf(s.name, footOff, "column %q: bad dictionary or bitmap section", c.Name)
		}
		s.cols[c.Name] = c
	}
	return nil
}

// readSection reads, checks and decompresses a section.
func (s *Segment) readSection(sec *segSection, what string) ([]byte, error) {
	stored := make([]byte, sec.Length)
	if _, err := s.f.ReadAt(stored, sec.Offset); err != nil {
		return nil, fmt.Errorf("read %s: %s at offset %d: %w", s.name, what, sec.Offset, err)
	}
	if got := checksum(stored); got != sec.CRC {
		return nil, corruptf(s.name, sec.Offset, "%s: checksum mismatch (stored %08x, computed %08x)", what, sec.CRC, got)
	}
	if sec.RawLen == -1 {
		return stored, nil
	}
	raw := make([]byte, sec.RawLen)
	n, err := lz4.UncompressBlock(stored, raw)
	if err != nil || int64(n) != sec.RawLen {
		return nil, corruptf(s.name, sec.Offset, "%s: lz4 block does not decompress to %d bytes: %v", what, sec.RawLen, err)
	}
	return raw, nil
}

func (s *Segment) Name() string { return s.name }
func (s *Segment) Meta() []byte { return s.footer.Meta }
func (s *Segment) Rows() int    { return s.footer.Rows }

// Columns lists the columns in file order.
func (s *Segment) Columns() []Column {
	out := make([]Column, len(s.footer.Columns))
	for i, c := range s.footer.Columns {
		out[i] = Column{Name: c.Name, Type: c.Type}
	}
	return out
}

func (s *Segment) HasColumn(name string) bool { _, ok := s.cols[name]; return ok }

// ColumnTypes maps each column's name to its stored type. The map is
// built once and shared: callers must not modify it.
func (s *Segment) ColumnTypes() map[string]ColumnType {
	s.typesOnce.Do(func() {
		s.types = make(map[string]ColumnType, len(s.footer.Columns))
		for _, c := range s.footer.Columns {
			s.types[c.Name] = c.Type
		}
	})
	return s.types
}

func (s *Segment) NumBlocks() int {
	return (s.footer.Rows + SegmentBlockRows - 1) / SegmentBlockRows
}

// BlockRange returns the first row and row count of a block.
func (s *Segment) BlockRange(block int) (firstRow, n int) {
	first := block * SegmentBlockRows
	return first, min(SegmentBlockRows, s.footer.Rows-first)
}

func (s *Segment) column(name string, block int) (*segColumn, error) {
	c, ok := s.cols[name]
	if !ok {
		return nil, fmt.Errorf("%s: no column %q", s.name, name)
	}
	if block < 0 || block >= len(c.Blocks) {
		return nil, fmt.Errorf("%s: column %q has no block %d", s.name, name, block)
	}
	return c, nil
}

// ColumnBlock is one decoded block of one column; its slices belong to
// the caller.
type ColumnBlock struct {
	Type   ColumnType
	Nulls  []bool    // nil when no row of the block is NULL
	Ints   []int64   // Bool, Int, Time
	Floats []float64 // Float
	Codes  []uint32  // String, JSON: index into Segment.Dict
	// Present lists the rows that are not NULL when most rows are NULL
	// (a sparse property), so that loops over values skip the rest.
	Present []int32
	// Codes8 repeats Codes as bytes when the dictionary has at most 256
	// values: a quarter of the memory traffic for loops that touch rows
	// at random (nil otherwise).
	Codes8 []uint8
}

// ReadBlock decodes one block of a column, verifying its checksum.
func (s *Segment) ReadBlock(col string, block int) (*ColumnBlock, error) {
	if s.shard != nil {
		if col == ColUserNumber {
			return s.userBlock(block)
		}
		return s.shard.base.ReadBlock(col, block)
	}
	c, err := s.column(col, block)
	if err != nil {
		return nil, err
	}
	what := fmt.Sprintf("column %q block %d", col, block)
	raw, err := s.readSection(&c.Blocks[block].segSection, what)
	if err != nil {
		return nil, err
	}
	_, n := s.BlockRange(block)
	bad := func(why string) error {
		return corruptf(s.name, c.Blocks[block].Offset, "%s: %s", what, why)
	}
	if len(raw) < 1 {
		return nil, bad("empty")
	}
	out := &ColumnBlock{Type: c.Type}
	p := raw[1:]
	if raw[0] == 1 {
		if len(p) < (n+7)/8 {
			return nil, bad("null bitset cut short")
		}
		out.Nulls = make([]bool, n)
		nulls := 0
		for i := range out.Nulls {
			out.Nulls[i] = p[i/8]&(1<<(i%8)) != 0
			if out.Nulls[i] {
				nulls++
			}
		}
		if 2*nulls > n {
			out.Present = make([]int32, 0, n-nulls)
			for i, null := range out.Nulls {
				if !null {
					out.Present = append(out.Present, int32(i))
				}
			}
		}
		p = p[(n+7)/8:]
	} else if raw[0] != 0 {
		return nil, bad("bad null flag")
	}
	switch c.Type {
	case TypeFloat:
		if len(p) != 8*n {
			return nil, bad("wrong value length")
		}
		out.Floats = make([]float64, n)
		for i := range out.Floats {
			out.Floats[i] = math.Float64frombits(binary.LittleEndian.Uint64(p[8*i:]))
		}
	case TypeString, TypeJSON:
		width := segCodeWidth(c.DictLen)
		if len(p) != width*n {
			return nil, bad("wrong code length")
		}
		out.Codes = make([]uint32, n)
		if width == 1 {
			out.Codes8 = append([]uint8(nil), p[:n]...)
		}
		for i := range out.Codes {
			switch width {
			case 1:
				out.Codes[i] = uint32(p[i])
			case 2:
				out.Codes[i] = uint32(binary.LittleEndian.Uint16(p[2*i:]))
			default:
				out.Codes[i] = binary.LittleEndian.Uint32(p[4*i:])
			}
			// A NULL row's code is 0 even when the dictionary is empty (the
			// column has no value at all); every other row's code indexes it.
			if out.Codes[i] >= uint32(c.DictLen) && (out.Codes[i] != 0 || out.Nulls == nil || !out.Nulls[i]) {
				return nil, bad(fmt.Sprintf("row %d: code %d beyond the dictionary of %d", i, out.Codes[i], c.DictLen))
			}
		}
	default:
		out.Ints = make([]int64, n)
		prev := int64(0)
		for i := range out.Ints {
			d, k := binary.Varint(p)
			if k <= 0 {
				return nil, bad("bad varint")
			}
			p = p[k:]
			prev += d
			out.Ints[i] = prev
		}
		if len(p) != 0 {
			return nil, bad("bytes left after the values")
		}
	}
	return out, nil
}

// readDict decodes the sorted dictionary of a string or JSON column
// (Dict serves it through the shared cache).
func (s *Segment) readDict(col string) ([]string, error) {
	c, ok := s.cols[col]
	if !ok || c.Dict == nil {
		return nil, fmt.Errorf("%s: column %q has no dictionary", s.name, col)
	}
	raw, err := s.readSection(c.Dict, fmt.Sprintf("column %q dictionary", col))
	if err != nil {
		return nil, err
	}
	dict := make([]string, 0, c.DictLen)
	for len(raw) > 0 {
		l, k := binary.Uvarint(raw)
		if k <= 0 || l > uint64(len(raw)-k) {
			return nil, corruptf(s.name, c.Dict.Offset, "column %q dictionary: bad entry length", col)
		}
		dict = append(dict, string(raw[k:k+int(l)]))
		raw = raw[k+int(l):]
	}
	// Strictly sorted: readers find a value's one code by binary search.
	sorted := true
	for i := 1; i < len(dict) && sorted; i++ {
		sorted = dict[i-1] < dict[i]
	}
	if len(dict) != c.DictLen || !sorted {
		return nil, corruptf(s.name, c.Dict.Offset, "column %q dictionary: %d entries (want %d) or not strictly sorted", col, len(dict), c.DictLen)
	}
	return dict, nil
}

// ZoneMap summarises one block of a column: Min and Max as values of the
// column's type (for strings, TypeInt dictionary codes), HasNull, AllNull.
type ZoneMap struct {
	Min, Max         Value
	HasNull, AllNull bool
}

func (s *Segment) ZoneMap(col string, block int) (ZoneMap, error) {
	if s.shard != nil {
		z, err := s.shard.base.ZoneMap(col, block)
		if col == ColUserNumber && err == nil && !z.AllNull {
			// The translation keeps order: u < v ⇔ u*S+k < v*S+k.
			z.Min.Int = int64(s.shard.stride.of(uint32(z.Min.Int)))
			z.Max.Int = int64(s.shard.stride.of(uint32(z.Max.Int)))
		}
		return z, err
	}
	c, err := s.column(col, block)
	if err != nil {
		return ZoneMap{}, err
	}
	b := &c.Blocks[block]
	_, n := s.BlockRange(block)
	z := ZoneMap{HasNull: b.Nulls > 0, AllNull: b.Nulls == n}
	switch c.Type {
	case TypeFloat:
		z.Min, z.Max = FloatValue(b.MinFloat), FloatValue(b.MaxFloat)
	case TypeString, TypeJSON:
		z.Min, z.Max = IntValue(b.MinInt), IntValue(b.MaxInt)
	default:
		z.Min, z.Max = Value{Type: c.Type, Int: b.MinInt}, Value{Type: c.Type, Int: b.MaxInt}
	}
	return z, nil
}

// ValueBitmap returns the rows whose value of col has dictionary code
// code; ok is false when col has no bitmap index. The bitmap is shared:
// callers must not modify it.
func (s *Segment) ValueBitmap(col string, code uint32) (*roaring.Bitmap, bool, error) {
	if s.shard != nil {
		return s.shard.base.ValueBitmap(col, code)
	}
	c, ok := s.cols[col]
	if !ok || c.Bitmaps == nil {
		return nil, false, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	bms, ok := s.bitmaps[col]
	if !ok {
		raw, err := s.readSection(c.Bitmaps, fmt.Sprintf("column %q bitmap index", col))
		if err != nil {
			return nil, false, err
		}
		for len(raw) > 0 && len(bms) < c.DictLen {
			l, k := binary.Uvarint(raw)
			if k <= 0 || l > uint64(len(raw)-k) {
				return nil, false, corruptf(s.name, c.Bitmaps.Offset, "column %q bitmap index: bad length", col)
			}
			bm := roaring.New()
			if _, err := bm.ReadFrom(bytes.NewReader(raw[k : k+int(l)])); err != nil {
				return nil, false, corruptf(s.name, c.Bitmaps.Offset, "column %q bitmap index: %v", col, err)
			}
			// ReadFrom takes containers as stored; readers iterate and
			// intersect them and index blocks by their rows.
			if err := bm.Validate(); err != nil {
				return nil, false, corruptf(s.name, c.Bitmaps.Offset, "column %q bitmap of code %d: %v", col, len(bms), err)
			}
			if !bm.IsEmpty() && int64(bm.Maximum()) >= int64(s.footer.Rows) {
				return nil, false, corruptf(s.name, c.Bitmaps.Offset, "column %q bitmap of code %d holds row %d of %d", col, len(bms), bm.Maximum(), s.footer.Rows)
			}
			bms = append(bms, bm)
			raw = raw[k+int(l):]
		}
		if len(bms) != c.DictLen || len(raw) != 0 {
			return nil, false, corruptf(s.name, c.Bitmaps.Offset, "column %q bitmap index holds %d bitmaps, want %d", col, len(bms), c.DictLen)
		}
		s.bitmaps[col] = bms
	}
	if int(code) >= len(bms) {
		return roaring.New(), true, nil
	}
	return bms[code], true, nil
}

// Dump writes a readable description of the segment's layout.
func (s *Segment) Dump(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "segment %s: version %d, %d rows, %d blocks, %d bytes\nmeta: %s\n",
		s.name, s.footer.Version, s.footer.Rows, s.NumBlocks(), s.size, s.footer.Meta)
	for _, c := range s.footer.Columns {
		fmt.Fprintf(&b, "column %q %v", c.Name, c.Type)
		if c.Dict != nil {
			fmt.Fprintf(&b, " dictionary %d values at %d+%d crc %08x", c.DictLen, c.Dict.Offset, c.Dict.Length, c.Dict.CRC)
		}
		if c.Bitmaps != nil {
			fmt.Fprintf(&b, " bitmaps at %d+%d crc %08x", c.Bitmaps.Offset, c.Bitmaps.Length, c.Bitmaps.CRC)
		}
		b.WriteByte('\n')
		for i, blk := range c.Blocks {
			z, _ := s.ZoneMap(c.Name, i)
			fmt.Fprintf(&b, "  block %d at %d+%d (raw %d) crc %08x nulls %d min %s max %s\n",
				i, blk.Offset, blk.Length, blk.RawLen, blk.CRC, blk.Nulls, z.Min.Text(), z.Max.Text())
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

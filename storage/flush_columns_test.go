package storage

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/RoaringBitmap/roaring/v2"
)

// splitByDay is the flush's former layout, kept as the reference the
// columns built from sealed chunks are checked against: every frozen row
// converted from the event again, grouped by UTC day and sorted stably by
// time.
func splitByDay(frozen []*memtable) []*dayRows {
	byDay := map[string]*dayRows{}
	for _, m := range frozen {
		for i := range m.len() {
			e, user := m.row(i)
			day := time.UnixMilli(e.TimeMillis).UTC().Format(time.DateOnly)
			d := byDay[day]
			if d == nil {
				d = &dayRows{day: day}
				byDay[day] = d
			}
			d.rows = append(d.rows, e)
			d.users = append(d.users, user)
		}
	}
	days := make([]*dayRows, 0, len(byDay))
	for _, d := range byDay {
		sort.Stable(d)
		days = append(days, d)
	}
	sort.Slice(days, func(i, j int) bool { return days[i].day < days[j].day })
	return days
}

func (d *dayRows) Len() int           { return len(d.rows) }
func (d *dayRows) Less(i, j int) bool { return d.rows[i].TimeMillis < d.rows[j].TimeMillis }
func (d *dayRows) Swap(i, j int) {
	d.rows[i], d.rows[j] = d.rows[j], d.rows[i]
	d.users[i], d.users[j] = d.users[j], d.users[i]
}

// flushBothWays writes each day of the frozen memtables as a segment the
// reference way (splitByDay, buildSegmentColumns) and the flush's way
// (buildFlushTable from the sealed chunks), and fails unless the days and
// every segment's bytes are the same.
func flushBothWays(t *testing.T, frozen []*memtable, schema []Column) int {
	t.Helper()
	ref := splitByDay(frozen)
	days := flushAgainst(t, ref, frozen, schema, false)
	// Again with the rows of exact sealed chunks released, as the memtable
	// taking rows does: the same days and values (a column may come in
	// another place of a segment: its order follows the rows only while
	// they are there).
	released := 0
	var without []*memtable // copies, so that the callers' keep their rows
	for _, m := range frozen {
		c := *m
		c.chunks = slices.Clone(m.chunks)
		c.releaseSealedLocked()
		released += c.released
		without = append(without, &c)
	}
	if released > 0 {
		flushAgainst(t, ref, without, schema, true)
	}
	return days
}

// flushAgainst is flushBothWays' comparison with the reference ref (the
// rows as they were before any release); unordered compares each column
// wherever it stands.
func flushAgainst(t *testing.T, ref []*dayRows, frozen []*memtable, schema []Column, unordered bool) int {
	t.Helper()
	table, err := buildFlushTable(flushSources(frozen), schema)
	if err != nil {
		t.Fatal(err)
	}
	days := table.days()
	if len(days) != len(ref) {
		t.Fatalf("%d days, reference %d", len(days), len(ref))
	}
	for i, d := range days {
		if d.day != ref[i].day || len(d.rows) != len(ref[i].rows) {
			t.Fatalf("day %d: %s of %d rows, reference %s of %d", i, d.day, len(d.rows), ref[i].day, len(ref[i].rows))
		}
		var want, got bytes.Buffer
		meta := []byte(d.day)
		if _, err := WriteSegment(&want, meta, len(ref[i].rows), buildSegmentColumns(ref[i], schema)); err != nil {
			t.Fatal(err)
		}
		if _, err := WriteSegment(&got, meta, len(d.rows), table.segmentColumns(d)); err != nil {
			t.Fatal(err)
		}
		if unordered {
			if msg := sameColumns(t, got.Bytes(), want.Bytes()); msg != "" {
				t.Fatalf("day %s, rows released: %s", d.day, msg)
			}
		} else if !bytes.Equal(got.Bytes(), want.Bytes()) {
			t.Fatalf("day %s: segment differs from the reference:\n%s\nreference:\n%s", d.day, dumpSegmentBytes(t, got.Bytes()), dumpSegmentBytes(t, want.Bytes()))
		}
	}
	return len(days)
}

// sameColumns compares two segments column by column, by name: the same
// columns with the same types and, row by row, the same NULLs and values
// ("" when they are alike).
func sameColumns(t *testing.T, a, b []byte) string {
	t.Helper()
	sa, err := OpenSegment(bytes.NewReader(a), int64(len(a)), "got")
	if err != nil {
		t.Fatal(err)
	}
	sb, err := OpenSegment(bytes.NewReader(b), int64(len(b)), "reference")
	if err != nil {
		t.Fatal(err)
	}
	if sa.Rows() != sb.Rows() {
		return fmt.Sprintf("%d rows, reference %d", sa.Rows(), sb.Rows())
	}
	ta, tb := sa.ColumnTypes(), sb.ColumnTypes()
	if len(ta) != len(tb) {
		return fmt.Sprintf("columns %v, reference %v", ta, tb)
	}
	for name, typ := range tb {
		if ta[name] != typ {
			return fmt.Sprintf("column %q is %v, reference %v", name, ta[name], typ)
		}
		values := func(s *Segment) []string {
			var dict []string
			if isStringType(typ) {
				if dict, err = s.readDict(name); err != nil {
					t.Fatal(err)
				}
			}
			var out []string
			for blk := 0; blk < s.NumBlocks(); blk++ {
				cb, err := s.ReadBlock(name, blk)
				if err != nil {
					t.Fatal(err)
				}
				_, n := s.BlockRange(blk)
				for i := 0; i < n; i++ {
					switch {
					case cb.Nulls != nil && cb.Nulls[i]:
						out = append(out, "NULL")
					case cb.Floats != nil:
						out = append(out, fmt.Sprintf("%x", math.Float64bits(cb.Floats[i])))
					case cb.Codes != nil:
						out = append(out, "'"+dict[cb.Codes[i]])
					default:
						out = append(out, fmt.Sprint(cb.Ints[i]))
					}
				}
			}
			return out
		}
		va, vb := values(sa), values(sb)
		for i := range vb {
			if va[i] != vb[i] {
				return fmt.Sprintf("column %q row %d: %s, reference %s", name, i, va[i], vb[i])
			}
		}
	}
	return ""
}

func dumpSegmentBytes(t *testing.T, b []byte) string {
	seg, err := OpenSegment(bytes.NewReader(b), int64(len(b)), "dump")
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	seg.Dump(&out)
	return out.String()
}

// sealFor seals rows [from, from+n) of m with the given schema, as the
// background sealer does.
func sealFor(t *testing.T, m *memtable, n int, schema []Column) {
	t.Helper()
	from := m.sealedRows
	ref, exact, err := sealChunk(m.pieces(from, from+n), schema, fmt.Sprintf("chunk %d", from))
	if err != nil {
		t.Fatal(err)
	}
	m.sealed = append(m.sealed, sealedChunk{ref: ref, exact: exact})
	m.sealedRows = from + n
}

// flushTestRows appends n rows to m; prop gives row i's properties.
func flushTestRows(m *memtable, r *rand.Rand, n int, prop func(i int) []Prop) {
	base := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	for i := 0; i < n; i++ {
		// Three days and the last one before 1970 (a negative time), in
		// no order, with many equal times (stable order matters).
		ms := base + int64(r.Intn(3*86_400))*1000
		if r.Intn(50) == 0 {
			ms = -int64(r.Intn(86_400_000)) - 1
		}
		ins := fmt.Sprintf("id%d", r.Intn(n/2+1)) // duplicate insert ids
		if r.Intn(5) == 0 {
			ins = ""
		}
		user := uint32(r.Intn(3000))
		m.appendReservedLocked(Event{TimeMillis: ms, Name: []string{"View", "Click", "Buy"}[r.Intn(3)],
			DistinctID: fmt.Sprintf("u%d", user), InsertID: ins, Props: prop(m.len())}, user)
	}
}

// TestFlushColumnsMatchRows checks that a flush's segments built from
// sealed chunks are byte for byte those built from the rows: with a
// column widened int → float → string after chunks were sealed, a chunk
// sealed wider than the flush's schema (sealed after the plan), columns
// that appear after a chunk was sealed, NULLs, bools, JSON, NaN and -0,
// duplicate insert ids, equal times, several days (one before 1970),
// chunks over several blocks, and memtables sealed fully, partly, not at
// all.
func TestFlushColumnsMatchRows(t *testing.T) {
	for seed := int64(1); seed <= 3; seed++ {
		r := rand.New(rand.NewSource(seed))
		a := &memtable{}
		first := SegmentBlockRows + 1 + r.Intn(5000) // chunk 0: two blocks
		flushTestRows(a, r, first, func(i int) []Prop {
			ps := []Prop{{"amount", IntValue(int64(i % 97))}}
			if i%3 == 0 {
				ps = append(ps, Prop{"flag", BoolValue(i%2 == 0)})
			}
			if i%11 == 0 {
				ps = append(ps, Prop{"obj", JSONValue(fmt.Sprintf(`{"k":%d}`, i%13))})
			}
			if i%4 == 0 {
				ps = append(ps, Prop{"score", FloatValue([]float64{math.NaN(), math.Copysign(0, -1), 0, 1.5, float64(i)}[i%5])})
			}
			if i%5 == 0 {
				ps = append(ps, Prop{"wide", FloatValue(float64(i) / 4)})
			}
			return ps
		})
		sealFor(t, a, first, []Column{{"amount", TypeInt}, {"flag", TypeBool}, {"obj", TypeJSON}, {"score", TypeFloat}, {"wide", TypeFloat}})
		second := 1000 + r.Intn(3000)
		flushTestRows(a, r, second, func(i int) []Prop {
			ps := []Prop{{"amount", FloatValue(float64(i%50) + 0.5)}, {"late", StringValue(fmt.Sprintf("l%d", i%7))}}
			if i%5 == 0 {
				ps = append(ps, Prop{"wide", FloatValue(float64(i) / 8)})
			}
			if i%6 == 0 {
				ps = append(ps, Prop{"flag", BoolValue(true)})
			}
			return ps
		})
		// Sealed after the flush's plan, when wide had become a string.
		sealFor(t, a, second, []Column{{"amount", TypeFloat}, {"flag", TypeBool}, {"obj", TypeJSON}, {"score", TypeFloat}, {"wide", TypeString}, {"late", TypeString}})
		flushTestRows(a, r, 500+r.Intn(2000), func(i int) []Prop { // the unsealed tail
			ps := []Prop{{"late", StringValue(fmt.Sprintf("l%d", i%9))}}
			if i%2 == 0 {
				ps = append(ps, Prop{"amount", StringValue(fmt.Sprintf("s%d", i%10))})
			}
			return ps
		})
		b := &memtable{} // never sealed
		flushTestRows(b, r, 2000, func(i int) []Prop {
			return []Prop{{"bonly", IntValue(int64(i))}, {"amount", StringValue("b")}}
		})
		c := &memtable{} // sealed whole
		flushTestRows(c, r, 1000, func(i int) []Prop {
			if i%2 == 0 {
				return nil
			}
			return []Prop{{"late", StringValue("c")}, {"bonly", IntValue(-int64(i))}}
		})
		schema := []Column{{"amount", TypeString}, {"flag", TypeBool}, {"obj", TypeJSON}, {"score", TypeFloat},
			{"wide", TypeFloat}, {"late", TypeString}, {"bonly", TypeInt}}
		sealFor(t, c, 1000, schema)
		if days := flushBothWays(t, []*memtable{a, b, c}, schema); days != 4 {
			t.Fatalf("seed %d: %d days, want 4", seed, days)
		}
		// Each memtable alone too, and a flush of no sealed chunk at all.
		flushBothWays(t, []*memtable{a}, schema)
		flushBothWays(t, []*memtable{c}, schema)
		flushBothWays(t, []*memtable{b}, schema)
	}
}

func TestMergeSortedDicts(t *testing.T) {
	got, remaps := mergeSortedDicts([][]string{{"a", "c", "d"}, {}, {"b", "c"}, {"", "d", "e"}})
	want := []string{"", "a", "b", "c", "d", "e"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("merged %q, want %q", got, want)
	}
	if fmt.Sprint(remaps) != "[[1 3 4] [] [2 3] [0 4 5]]" {
		t.Fatalf("remaps %v", remaps)
	}
}

// TestFlushWritesSegmentsOfRows runs a real flush over a memtable whose
// chunks were sealed while a column widened int → float → string, and
// checks each segment file against the reference layout of the same rows
// (splitByDay, buildSegmentColumns) byte for byte.
func TestFlushWritesSegmentsOfRows(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(Options{Dir: dir, FlushInterval: time.Hour, SealRows: 300})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.CreateProject("shop", "tok", "sec"); err != nil {
		t.Fatal(err)
	}
	p, _ := s.Project("shop")
	evs := testEvents(2000, 5)
	for i := range evs {
		switch {
		case i >= 1400:
			evs[i].Props = append(evs[i].Props, Prop{"size", StringValue(fmt.Sprintf("s%d", i%4))})
		case i >= 700:
			evs[i].Props = append(evs[i].Props, Prop{"size", FloatValue(float64(i%9) + 0.5)})
		case i%2 == 0:
			evs[i].Props = append(evs[i].Props, Prop{"size", IntValue(int64(i % 5))})
		}
	}
	for i := 0; i < len(evs); i += 100 {
		if err := p.Ingest(evs[i : i+100]); err != nil {
			t.Fatal(err)
		}
		s.WaitSealing() // seal as the rows come: each chunk with the schema of its time
	}
	p.mu.RLock()
	m, schema := p.mem, p.events.Columns()
	p.mu.RUnlock()
	if len(m.sealed) < 5 || m.sealedRows == m.len() {
		t.Fatalf("%d sealed chunks covering %d of %d rows: want several and a tail", len(m.sealed), m.sealedRows, m.len())
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	ref := splitByDay([]*memtable{m})
	snap := p.Snapshot()
	if len(snap.Segments) != len(ref) || len(ref) < 3 {
		t.Fatalf("%d segments after the flush, reference %d days", len(snap.Segments), len(ref))
	}
	for i, seg := range snap.Segments {
		got, err := os.ReadFile(filepath.Join(dir, segDirName, seg.File))
		if err != nil {
			t.Fatal(err)
		}
		meta, _ := json.Marshal(map[string]string{"project": "shop", "day": ref[i].day})
		var want bytes.Buffer
		if _, err := WriteSegment(&want, meta, len(ref[i].rows), buildSegmentColumns(ref[i], schema)); err != nil {
			t.Fatal(err)
		}
		if seg.Day != ref[i].day || !bytes.Equal(got, want.Bytes()) {
			t.Fatalf("segment %s of day %s differs from the reference of day %s:\n%s\nreference:\n%s",
				seg.File, seg.Day, ref[i].day, dumpSegmentBytes(t, got), dumpSegmentBytes(t, want.Bytes()))
		}
	}
}

func TestSegDictionaryByNumber(t *testing.T) {
	strs := []string{"u3", "u1", "u3", "u10", "u1", ""}
	nums := []uint32{3, 1, 3, 10, 1, 0}
	dict, codes, ok := segDictionaryByNumber(strs, nums)
	wantDict, wantCodes := segDictionary(strs, nil)
	if !ok || fmt.Sprint(dict, codes) != fmt.Sprint(wantDict, wantCodes) {
		t.Fatalf("by number %q %v (ok %v), by string %q %v", dict, codes, ok, wantDict, wantCodes)
	}
	if _, _, ok := segDictionaryByNumber([]string{"a", "b"}, []uint32{7, 7}); ok {
		t.Fatal("one number with two strings accepted")
	}
	// Numbers in the dense table's range and far beyond it (the map),
	// repeated, and each table left clean for the next call: the same
	// numbers with other strings must not find the earlier codes.
	for _, base := range []uint32{0, 1 << 30} {
		var strs []string
		var nums []uint32
		for i := range 3000 {
			n := base + uint32(i*7919%1000)
			strs, nums = append(strs, fmt.Sprintf("id-%d", n)), append(nums, n)
		}
		for round := range 2 {
			dict, codes, ok := segDictionaryByNumber(strs, nums)
			wantDict, wantCodes := segDictionary(strs, nil)
			if !ok || fmt.Sprint(dict, codes) != fmt.Sprint(wantDict, wantCodes) {
				t.Fatalf("numbers from %d, round %d: by number %d entries (ok %v), by string %d", base, round, len(dict), ok, len(wantDict))
			}
			if _, _, ok := segDictionaryByNumber(append(slices.Clone(strs), "other"), append(slices.Clone(nums), nums[5])); ok {
				t.Fatalf("numbers from %d, round %d: one number with two strings accepted", base, round)
			}
			for i := range strs {
				strs[i] += "x" // same numbers, new strings: no code kept
			}
		}
	}
}

// TestSegDictionarySharedBytes: strings that share their bytes (the
// cache by data pointer) and equal strings that do not get one code,
// with NULLs between them; a prefix sharing the pointer of a longer
// string is a different value. The row counts take the cache's sizes
// from its smallest to its largest (a column of thousands of shared
// values: cities).
func TestSegDictionarySharedBytes(t *testing.T) {
	for _, rows := range []int{200, 5000, 40000} {
		t.Run(fmt.Sprint(rows, " rows"), func(t *testing.T) { testSegDictionarySharedBytes(t, rows) })
	}
}

func testSegDictionarySharedBytes(t *testing.T, rows int) {
	long := strings.Repeat("Chrome", 3)
	shared := long[:6]
	copied := string([]byte("Chrome"))
	r := rand.New(rand.NewSource(4))
	cities := make([]string, 3000) // each stored once, shared by its rows
	for i := range cities {
		cities[i] = fmt.Sprintf("City %04d", i)
	}
	var strs, fresh []string
	var nulls []bool
	for i := 0; i < rows; i++ {
		var s string
		switch r.Intn(6) {
		case 0:
			s = shared
		case 1:
			s = copied
		case 2:
			s = long
		case 3:
			s = fmt.Sprint("id", r.Intn(300))
		case 4:
			s = cities[r.Intn(len(cities))]
		default:
			s = ""
		}
		strs = append(strs, s)
		fresh = append(fresh, string([]byte(s))) // every string its own bytes
		nulls = append(nulls, r.Intn(7) == 0)
	}
	dict, codes := segDictionary(strs, nulls)
	wantDict, wantCodes := segDictionary(fresh, nulls)
	if fmt.Sprint(dict) != fmt.Sprint(wantDict) || fmt.Sprint(codes) != fmt.Sprint(wantCodes) {
		t.Fatalf("shared strings give dictionary %q, separate ones %q (or codes differ)", dict, wantDict)
	}
	for i, s := range strs {
		if !nulls[i] && dict[codes[i]] != s {
			t.Fatalf("row %d: %q coded as %q", i, s, dict[codes[i]])
		}
	}
}

// TestSortDictionaryOrdersLikeStrings checks the prefix-key sort against
// sort.Strings on strings made to tie on keys: shared prefixes, strings
// that are prefixes of others, trailing zero bytes, bytes ≥ 0x80.
func TestSortDictionaryOrdersLikeStrings(t *testing.T) {
	r := rand.New(rand.NewSource(9))
	for round := 0; round < 200; round++ {
		seen := map[string]bool{}
		var dict []string
		prefix := []string{"", "user-000", "\xff\xfe"}[round%3]
		for len(dict) < 1+r.Intn(60) {
			b := []byte(prefix)
			for n := r.Intn(12); n > 0; n-- {
				b = append(b, []byte{0, 1, 'a', 'b', 0x80, 0xff}[r.Intn(6)])
			}
			if !seen[string(b)] {
				seen[string(b)] = true
				dict = append(dict, string(b))
			}
		}
		codes := make([]uint32, len(dict))
		for i := range codes {
			codes[i] = uint32(i)
		}
		sorted := sortDictionary(slices.Clone(dict), codes, nil)
		want := slices.Clone(dict)
		sort.Strings(want)
		if !slices.Equal(sorted, want) {
			t.Fatalf("sorted %q, want %q", sorted, want)
		}
		for i, c := range codes {
			if sorted[c] != dict[i] {
				t.Fatalf("entry %q renumbered to %d, which is %q", dict[i], c, sorted[c])
			}
		}
	}
}

// TestBitmapAddManyMatchesAdd pins what the segment writer relies on when
// it builds a code's bitmap from all its rows at once: after RunOptimize
// the bytes are those of the bitmap built a row at a time (array, bitmap
// and run containers alike).
func TestBitmapAddManyMatchesAdd(t *testing.T) {
	r := rand.New(rand.NewSource(3))
	for round := 0; round < 50; round++ {
		var rows []uint32
		for row := uint32(0); row < 200_000; row++ {
			switch round % 3 {
			case 0: // sparse
				if r.Intn(100) == 0 {
					rows = append(rows, row)
				}
			case 1: // dense
				if r.Intn(3) != 0 {
					rows = append(rows, row)
				}
			default: // runs
				if (row/5000)%2 == 0 {
					rows = append(rows, row)
				}
			}
		}
		one, many := roaring.New(), roaring.New()
		for _, row := range rows {
			one.Add(row)
		}
		many.AddMany(rows)
		one.RunOptimize()
		many.RunOptimize()
		a, _ := one.ToBytes()
		b, _ := many.ToBytes()
		if !bytes.Equal(a, b) {
			t.Fatalf("round %d: %d rows serialize differently added at once", round, len(rows))
		}
	}
}

// TestBuildSegmentColumnsStrings checks buildSegmentColumns' string
// columns against the rows themselves: Dict strictly sorted, and each
// row's Dict[Codes[i]] its value (converted to the column's type), NULL
// where the row has none; event and insert_id too, distinct_id by
// number.
func TestBuildSegmentColumnsStrings(t *testing.T) {
	r := rand.New(rand.NewSource(time.Now().UnixNano()))
	const n = 5000
	shared := []string{"Chrome", "Firefox", ""}
	d := &dayRows{}
	for i := range n {
		e := &Event{TimeMillis: int64(i), Name: shared[r.Intn(2)], DistinctID: fmt.Sprintf("u%d", i%700),
			InsertID: fmt.Sprintf("i%d", r.Intn(n))}
		if r.Intn(3) > 0 {
			e.Props = append(e.Props, Prop{"browser", StringValue(shared[r.Intn(3)])})
		}
		if r.Intn(2) == 0 {
			e.Props = append(e.Props, Prop{"city", StringValue(fmt.Sprintf("City %d", r.Intn(300)))}) // bytes of its own
		}
		if r.Intn(4) == 0 {
			e.Props = append(e.Props, Prop{"mixed", IntValue(int64(r.Intn(5)))}) // converted to a string
		} else if r.Intn(2) == 0 {
			e.Props = append(e.Props, Prop{"mixed", StringValue(fmt.Sprint(r.Intn(5)))})
		}
		if r.Intn(5) == 0 {
			e.Props = append(e.Props, Prop{"obj", JSONValue(fmt.Sprintf(`{"k":%d}`, r.Intn(4)))})
		}
		d.rows = append(d.rows, e)
		d.users = append(d.users, uint32(i%700))
	}
	schema := []Column{{"browser", TypeString}, {"city", TypeString}, {"mixed", TypeString}, {"obj", TypeJSON}}
	cols := buildSegmentColumns(d, schema)
	want := func(e *Event, name string) (string, bool) {
		switch name {
		case ColEvent:
			return e.Name, true
		case ColDistinctID:
			return e.DistinctID, true
		case ColInsertID:
			return e.InsertID, true
		}
		for _, p := range e.Props {
			if p.Key == name {
				v, _ := p.Value.Convert(TypeString)
				return v.Str, true
			}
		}
		return "", false
	}
	checked := 0
	for _, c := range cols {
		if !isStringType(c.Type) {
			continue
		}
		checked++
		for i := 1; i < len(c.Dict); i++ {
			if c.Dict[i-1] >= c.Dict[i] {
				t.Fatalf("column %s: dictionary not strictly sorted at %d: %q", c.Name, i, c.Dict)
			}
		}
		for i, e := range d.rows {
			s, ok := want(e, c.Name)
			null := c.Nulls != nil && c.Nulls[i]
			if null != !ok {
				t.Fatalf("column %s row %d: NULL %v, the row has a value: %v", c.Name, i, null, ok)
			}
			if !ok {
				continue
			}
			got := ""
			if c.Dict != nil {
				got = c.Dict[c.Codes[i]]
			} else {
				got = c.Strs[i]
			}
			if got != s {
				t.Fatalf("column %s row %d: %q, want %q", c.Name, i, got, s)
			}
		}
	}
	if checked != 7 {
		t.Fatalf("%d string columns, want 7", checked)
	}
}

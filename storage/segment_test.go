package storage

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// randomSegmentColumns makes n rows of every column type, with NULLs.
func randomSegmentColumns(r *rand.Rand, n int) []SegmentColumn {
	nulls := func(p float64) []bool {
		ns := make([]bool, n)
		for i := range ns {
			ns[i] = r.Float64() < p
		}
		return ns
	}
	cols := []SegmentColumn{
		{Name: ColTime, Type: TypeTime, Ints: make([]int64, n)},
		{Name: "event", Type: TypeString, Strs: make([]string, n)},
		{Name: "id", Type: TypeString, Strs: make([]string, n), Nulls: nulls(0.1)}, // high cardinality
		{Name: "i", Type: TypeInt, Ints: make([]int64, n), Nulls: nulls(0.5)},
		{Name: "f", Type: TypeFloat, Floats: make([]float64, n), Nulls: nulls(0.3)},
		{Name: "b", Type: TypeBool, Ints: make([]int64, n), Nulls: nulls(0.2)},
		{Name: "j", Type: TypeJSON, Strs: make([]string, n), Nulls: nulls(0.9)},
		{Name: "none", Type: TypeInt, Ints: make([]int64, n), Nulls: nulls(1.1)},
	}
	t := int64(1_700_000_000_000)
	for i := 0; i < n; i++ {
		t += r.Int63n(1000)
		cols[0].Ints[i] = t
		cols[1].Strs[i] = []string{"Page View", "", "Ünïcode ✓", "Purchase"}[r.Intn(4)]
		cols[2].Strs[i] = fmt.Sprintf("%016x", r.Int63())
		cols[3].Ints[i] = r.Int63() - r.Int63()
		cols[4].Floats[i] = r.NormFloat64() * 1e6
		cols[5].Ints[i] = int64(r.Intn(2))
		cols[6].Strs[i] = fmt.Sprintf(`{"k":%d}`, r.Intn(10))
	}
	return cols
}

func encodeSegment(t testing.TB, rows int, cols []SegmentColumn) []byte {
	t.Helper()
	var buf bytes.Buffer
	n, err := WriteSegment(&buf, []byte(`{"day":"x"}`), rows, cols)
	if err != nil || n != int64(buf.Len()) {
		t.Fatalf("write: %v (%d bytes reported, %d written)", err, n, buf.Len())
	}
	return buf.Bytes()
}

func TestSegmentRoundTrip(t *testing.T) {
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewSource(seed))
	for _, rows := range []int{0, 1, 40_000} {
		t.Run(fmt.Sprint(rows, " rows"), func(t *testing.T) {
			cols := randomSegmentColumns(r, rows)
			data := encodeSegment(t, rows, cols)
			seg, err := OpenSegment(bytes.NewReader(data), int64(len(data)), "rt.seg")
			if err != nil {
				t.Fatal(err)
			}
			if seg.Rows() != rows || string(seg.Meta()) != `{"day":"x"}` || len(seg.Columns()) != len(cols) {
				t.Fatalf("rows %d meta %s columns %d", seg.Rows(), seg.Meta(), len(seg.Columns()))
			}
			for _, c := range cols {
				checkSegmentColumn(t, seg, c)
			}
			if _, ok, _ := seg.ValueBitmap("id", 0); ok && rows > segMaxBitmapValues {
				t.Fatal("a high-cardinality column got a bitmap index")
			}
		})
	}
}

// checkSegmentColumn compares every value, zone map and bitmap of a
// column with what was written.
func checkSegmentColumn(t *testing.T, seg *Segment, c SegmentColumn) {
	t.Helper()
	isNull := func(i int) bool { return c.Nulls != nil && c.Nulls[i] }
	var dict []string
	if c.Type == TypeString || c.Type == TypeJSON {
		var err error
		if dict, err = seg.Dict(c.Name); err != nil {
			t.Fatal(err)
		}
	}
	for b := 0; b < seg.NumBlocks(); b++ {
		first, n := seg.BlockRange(b)
		blk, err := seg.ReadBlock(c.Name, b)
		if err != nil {
			t.Fatal(err)
		}
		z, err := seg.ZoneMap(c.Name, b)
		if err != nil {
			t.Fatal(err)
		}
		nulls := 0
		for i := 0; i < n; i++ {
			row := first + i
			if got := blk.Nulls != nil && blk.Nulls[i]; got != isNull(row) {
				t.Fatalf("%s row %d: null %v, want %v", c.Name, row, got, isNull(row))
			}
			if isNull(row) {
				nulls++
				continue
			}
			switch c.Type {
			case TypeFloat:
				if blk.Floats[i] != c.Floats[row] || blk.Floats[i] < z.Min.Float || blk.Floats[i] > z.Max.Float {
					t.Fatalf("%s row %d: %v (zone %v..%v), want %v", c.Name, row, blk.Floats[i], z.Min.Float, z.Max.Float, c.Floats[row])
				}
			case TypeString, TypeJSON:
				code := blk.Codes[i]
				if dict[code] != c.Strs[row] || int64(code) < z.Min.Int || int64(code) > z.Max.Int {
					t.Fatalf("%s row %d: %q, want %q", c.Name, row, dict[code], c.Strs[row])
				}
				if bm, ok, err := seg.ValueBitmap(c.Name, code); err != nil || (ok && !bm.Contains(uint32(row))) {
					t.Fatalf("%s row %d: bitmap of code %d lacks it (%v)", c.Name, row, code, err)
				}
			default:
				if blk.Ints[i] != c.Ints[row] || blk.Ints[i] < z.Min.Int || blk.Ints[i] > z.Max.Int {
					t.Fatalf("%s row %d: %d, want %d", c.Name, row, blk.Ints[i], c.Ints[row])
				}
			}
		}
		if z.HasNull != (nulls > 0) || z.AllNull != (nulls == n) {
			t.Fatalf("%s block %d: zone nulls %v/%v with %d of %d NULL", c.Name, b, z.HasNull, z.AllNull, nulls, n)
		}
	}
}

func TestSegmentRejectsBadInput(t *testing.T) {
	cases := map[string][]SegmentColumn{
		"duplicate": {{Name: "a", Type: TypeInt, Ints: []int64{1}}, {Name: "a", Type: TypeInt, Ints: []int64{1}}},
		"length":    {{Name: "a", Type: TypeInt, Ints: []int64{1, 2}}},
		"type":      {{Name: "a", Type: 99, Ints: []int64{1}}},
	}
	for name, cols := range cases {
		if _, err := WriteSegment(&bytes.Buffer{}, nil, 1, cols); err == nil || !strings.Contains(err.Error(), `"a"`) {
			t.Errorf("%s: %v, want an error naming the column", name, err)
		}
	}
}

// readEverything reads every block, dictionary and bitmap of a segment.
func readEverything(seg *Segment) error {
	for _, c := range seg.Columns() {
		for b := 0; b < seg.NumBlocks(); b++ {
			if _, err := seg.ReadBlock(c.Name, b); err != nil {
				return err
			}
		}
		if c.Type == TypeString || c.Type == TypeJSON {
			if _, err := seg.Dict(c.Name); err != nil {
				return err
			}
			if _, _, err := seg.ValueBitmap(c.Name, 0); err != nil {
				return err
			}
		}
	}
	return nil
}

func TestSegmentCorruption(t *testing.T) {
	r := rand.New(rand.NewSource(7))
	cols := randomSegmentColumns(r, 20_000)
	data := encodeSegment(t, 20_000, cols)
	seg, _ := OpenSegment(bytes.NewReader(data), int64(len(data)), "c.seg")
	ev := seg.cols["event"]
	cases := []struct {
		name string
		off  int64
	}{
		{"header magic", 2},
		{"first block of time", seg.cols[ColTime].Blocks[0].Offset + 3},
		{"second block of f", seg.cols["f"].Blocks[1].Offset + seg.cols["f"].Blocks[1].Length - 1},
		{"dictionary", ev.Dict.Offset + 1},
		{"bitmap index", ev.Bitmaps.Offset + ev.Bitmaps.Length/2},
		{"footer", int64(len(data)) - segTrailerBytes - 10},
		{"trailer offset", int64(len(data)) - segTrailerBytes + 1},
		{"trailer magic", int64(len(data)) - 3},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			bad := bytes.Clone(data)
			bad[c.off] ^= 0x10
			seg, err := OpenSegment(bytes.NewReader(bad), int64(len(bad)), "c.seg")
			if err == nil {
				err = readEverything(seg)
			}
			if !errors.Is(err, ErrCorruption) || !strings.Contains(err.Error(), "c.seg") || !strings.Contains(err.Error(), "offset") {
				t.Fatalf("flipped byte %d: %v, want ErrCorruption naming file and offset", c.off, err)
			}
		})
	}
	for _, n := range []int{0, 5, 31, len(data) / 2, len(data) - 1} {
		if _, err := OpenSegment(bytes.NewReader(data[:n]), int64(n), "c.seg"); !errors.Is(err, ErrCorruption) {
			t.Fatalf("truncated to %d bytes: %v, want ErrCorruption", n, err)
		}
	}
}

// tinySegment is a fixed segment whose encoding must not drift.
func tinySegment(t testing.TB) []byte {
	return encodeSegment(t, 3, []SegmentColumn{
		{Name: ColTime, Type: TypeTime, Ints: []int64{1000, 2000, 2500}},
		{Name: "event", Type: TypeString, Strs: []string{"b", "a", "b"}},
		{Name: "amount", Type: TypeFloat, Floats: []float64{1.5, 0, -2}, Nulls: []bool{false, true, false}},
	})
}

func TestSegmentEncodingIsPinned(t *testing.T) {
	if got := len(tinySegment(t)); got != 608 {
		t.Fatalf("tiny segment encodes to %d bytes; the format changed (update the version and keep a fixture of the old one)", got)
	}
}

// TestSegmentGoldenV1 reads a segment written by format version 1. The
// fixture is never regenerated: a reader that cannot read it has broken
// compatibility with data on disk.
func TestSegmentGoldenV1(t *testing.T) {
	path := filepath.Join("testdata", "segment_v1.seg")
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) && os.Getenv("ARB_WRITE_GOLDEN") != "" {
		os.WriteFile(path, tinySegment(t), 0o644)
		data, err = os.ReadFile(path)
	}
	if err != nil {
		t.Fatal(err)
	}
	seg, err := OpenSegment(bytes.NewReader(data), int64(len(data)), path)
	if err != nil {
		t.Fatal(err)
	}
	tm, _ := seg.ReadBlock(ColTime, 0)
	ev, _ := seg.ReadBlock("event", 0)
	am, _ := seg.ReadBlock("amount", 0)
	dict, _ := seg.Dict("event")
	got := fmt.Sprint(tm.Ints, dict, ev.Codes, am.Floats[0], am.Floats[2], am.Nulls)
	if want := "[1000 2000 2500] [a b] [1 0 1] 1.5 -2 [false true false]"; got != want {
		t.Fatalf("golden segment reads %s, want %s", got, want)
	}
}

func FuzzOpenSegment(f *testing.F) {
	f.Add(tinySegment(f))
	f.Add(encodeSegment(f, 100, randomSegmentColumns(rand.New(rand.NewSource(1)), 100)))
	f.Fuzz(func(t *testing.T, data []byte) {
		seg, err := OpenSegment(bytes.NewReader(data), int64(len(data)), "fuzz.seg")
		if err != nil {
			return
		}
		readEverything(seg) // must not panic or allocate beyond the file
	})
}

func BenchmarkSegmentReadBlock(b *testing.B) {
	r := rand.New(rand.NewSource(1))
	cols := randomSegmentColumns(r, SegmentBlockRows)
	data := encodeSegment(b, SegmentBlockRows, cols)
	seg, _ := OpenSegment(bytes.NewReader(data), int64(len(data)), "b.seg")
	for _, col := range []string{ColTime, "event", "f"} {
		b.Run(col, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(SegmentBlockRows * 8)
			for i := 0; i < b.N; i++ {
				if _, err := seg.ReadBlock(col, 0); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

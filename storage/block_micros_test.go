package storage

import (
	"bytes"
	"math/rand"
	"testing"
)

// TestTimeMicrosBlock: a time column's microsecond view holds every row's
// milliseconds × 1000 and their range (none with NULLs), is cached (the
// same slice twice), apart from the block itself, and a column of
// another type is refused.
func TestTimeMicrosBlock(t *testing.T) {
	r := rand.New(rand.NewSource(3))
	rows := 2*SegmentBlockRows + 100
	cols := randomSegmentColumns(r, rows)
	cols = append(cols, SegmentColumn{Name: "t2", Type: TypeTime, Ints: make([]int64, rows), Nulls: make([]bool, rows)})
	for i := range rows {
		cols[len(cols)-1].Ints[i] = int64(i) * 7
		cols[len(cols)-1].Nulls[i] = i%5 == 0
	}
	data := encodeSegment(t, rows, cols)
	seg, err := OpenSegment(bytes.NewReader(data), int64(len(data)), "micros.seg")
	if err != nil {
		t.Fatal(err)
	}
	for _, col := range []string{ColTime, "t2"} {
		for b := range seg.NumBlocks() {
			blk, err := seg.Block(col, b)
			if err != nil {
				t.Fatal(err)
			}
			mb, err := seg.TimeMicrosBlock(col, b)
			if err != nil {
				t.Fatal(err)
			}
			if len(mb.Micros) != len(blk.Ints) || mb.HasNulls != (blk.Nulls != nil) {
				t.Fatalf("%s block %d: %d micros (nulls %v) for %d rows (nulls %v)", col, b, len(mb.Micros), mb.HasNulls, len(blk.Ints), blk.Nulls != nil)
			}
			lo, hi := blk.Ints[0]*1000, blk.Ints[0]*1000
			for i, ms := range blk.Ints {
				if mb.Micros[i] != ms*1000 {
					t.Fatalf("%s block %d row %d: %d µs for %d ms", col, b, i, mb.Micros[i], ms)
				}
				lo, hi = min(lo, ms*1000), max(hi, ms*1000)
			}
			if !mb.HasNulls && (mb.Lo != lo || mb.Hi != hi) {
				t.Fatalf("%s block %d: range [%d, %d], values in [%d, %d]", col, b, mb.Lo, mb.Hi, lo, hi)
			}
			again, err := seg.TimeMicrosBlock(col, b)
			if err != nil || &again.Micros[0] != &mb.Micros[0] {
				t.Fatalf("%s block %d: not cached (%v)", col, b, err)
			}
			if blk2, _ := seg.Block(col, b); blk2 != blk || blk2.Ints[0]*1000 != mb.Micros[0] {
				t.Fatalf("%s block %d: the block changed beside its microseconds", col, b)
			}
		}
	}
	if _, err := seg.TimeMicrosBlock("i", 0); err == nil {
		t.Fatal("microseconds of an integer column")
	}
}

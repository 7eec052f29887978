package storage

import (
	"bytes"
	"math/rand"
	"testing"
	"time"
)

// TestSealedChunksShowEachRowOnce ingests past several seal sizes and
// checks that a snapshot shows every buffered row exactly once and in
// ingest order, sealed chunks (in-memory segments) first, the tail as
// rows; that a flush replaces them by real segments; and that what the
// chunks held in the ingest buffer is given back.
func TestSealedChunksShowEachRowOnce(t *testing.T) {
	s, err := Open(Options{Dir: t.TempDir(), FlushInterval: time.Hour, SealRows: 100})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.CreateProject("shop", "tok", "sec"); err != nil {
		t.Fatal(err)
	}
	p, _ := s.Project("shop")
	evs := testEvents(1050, 3)
	for i := 0; i < len(evs); i += 50 {
		if err := p.Ingest(evs[i : i+50]); err != nil {
			t.Fatal(err)
		}
	}
	var snap *Snapshot
	for deadline := time.Now().Add(10 * time.Second); ; {
		snap = p.Snapshot()
		if len(snap.Segments) == 10 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if len(snap.Segments) != 10 {
		t.Fatalf("%d sealed chunks, want 10", len(snap.Segments))
	}
	var got []string
	for _, ref := range snap.Segments {
		if ref.Segment.Rows() != 100 {
			t.Fatalf("sealed chunk of %d rows, want 100", ref.Segment.Rows())
		}
		dict, err := ref.Segment.Dict(ColInsertID)
		if err != nil {
			t.Fatal(err)
		}
		for b := 0; b < ref.Segment.NumBlocks(); b++ {
			blk, err := ref.Segment.ReadBlock(ColInsertID, b)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range blk.Codes {
				got = append(got, dict[c])
			}
		}
	}
	for _, m := range snap.Mem {
		for _, e := range m.Rows {
			got = append(got, e.InsertID)
		}
	}
	if len(got) != len(evs) {
		t.Fatalf("snapshot shows %d rows, want %d", len(got), len(evs))
	}
	for i := range evs {
		if got[i] != evs[i].InsertID {
			t.Fatalf("row %d of the snapshot is %s, want %s (ingest order)", i, got[i], evs[i].InsertID)
		}
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	n, ids := countRows(t, s, "shop")
	if n != len(evs) || len(ids) != len(evs) {
		t.Fatalf("after the flush: %d rows, %d ids; want %d of each", n, len(ids), len(evs))
	}
	for _, ref := range p.Snapshot().Segments {
		if ref.File == "" {
			t.Fatal("a sealed chunk outlived the flush that wrote its rows")
		}
	}
	if used := s.buffer.buffered.Load(); used != 0 {
		t.Fatalf("ingest buffer holds %d bytes after the flush, want 0", used)
	}
}

// TestSealedSegmentRoundTrip checks writeSealedSegment's layout: every
// value, zone map and dictionary reads back as written (checkSegmentColumn),
// every section is stored uncompressed (RawLen -1), no column has a
// bitmap index, and the same columns through WriteSegment do get lz4 and
// bitmaps (so the check above tells the two apart).
func TestSealedSegmentRoundTrip(t *testing.T) {
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewSource(seed))
	for _, rows := range []int{0, 1, 40_000} {
		cols := randomSegmentColumns(r, rows)
		var buf bytes.Buffer
		n, err := writeSealedSegment(&buf, rows, cols)
		if err != nil || n != int64(buf.Len()) {
			t.Fatalf("%d rows: write: %v (%d bytes reported, %d written)", rows, err, n, buf.Len())
		}
		seg, err := OpenSegment(bytes.NewReader(buf.Bytes()), int64(buf.Len()), "sealed")
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cols {
			checkSegmentColumn(t, seg, c)
		}
		compressed, bitmaps := sectionKinds(seg)
		if compressed != 0 || bitmaps != 0 {
			t.Fatalf("%d rows: sealed segment has %d compressed sections and %d bitmap indexes, want none", rows, compressed, bitmaps)
		}
		if rows == 0 {
			continue
		}
		data := encodeSegment(t, rows, cols)
		flushed, err := OpenSegment(bytes.NewReader(data), int64(len(data)), "flushed")
		if err != nil {
			t.Fatal(err)
		}
		if compressed, bitmaps := sectionKinds(flushed); compressed == 0 || bitmaps == 0 {
			t.Fatalf("%d rows: WriteSegment gave %d compressed sections and %d bitmap indexes, want some", rows, compressed, bitmaps)
		}
	}
}

// sectionKinds counts seg's lz4-compressed sections and bitmap indexes.
func sectionKinds(seg *Segment) (compressed, bitmaps int) {
	for _, c := range seg.footer.Columns {
		secs := []*segSection{c.Dict, c.Bitmaps}
		for i := range c.Blocks {
			secs = append(secs, &c.Blocks[i].segSection)
		}
		for _, s := range secs {
			if s != nil && s.RawLen != -1 {
				compressed++
			}
		}
		if c.Bitmaps != nil {
			bitmaps++
		}
	}
	return compressed, bitmaps
}

package storage

import (
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestMemtablePieces checks that pieces gives exactly rows [lo, hi) in
// order with their users, one piece per chunk touched, for ranges on and
// across chunk boundaries, and that a view taken earlier is unchanged by
// later appends.
func TestMemtablePieces(t *testing.T) {
	m := &memtable{}
	const n = 3*memChunkRows + 100
	for i := range n {
		m.appendReservedLocked(Event{TimeMillis: int64(i)}, uint32(i)*7)
	}
	if m.len() != n || len(m.chunks) != 4 {
		t.Fatalf("%d rows in %d chunks, want %d in 4", m.len(), len(m.chunks), n)
	}
	check := func(lo, hi int) {
		t.Helper()
		i, pieces := lo, m.pieces(lo, hi)
		for _, p := range pieces {
			if len(p.Rows) != len(p.Users) || len(p.Rows) == 0 || len(p.Rows) > memChunkRows {
				t.Fatalf("[%d,%d): a piece of %d rows and %d users", lo, hi, len(p.Rows), len(p.Users))
			}
			for j := range p.Rows {
				if p.Rows[j].TimeMillis != int64(i) || p.Users[j] != uint32(i)*7 {
					t.Fatalf("[%d,%d): row %d holds %d user %d", lo, hi, i, p.Rows[j].TimeMillis, p.Users[j])
				}
				i++
			}
		}
		if i != hi {
			t.Fatalf("[%d,%d): pieces end at row %d", lo, hi, i)
		}
		if want := (hi+memChunkRows-1)/memChunkRows - lo/memChunkRows; hi > lo && len(pieces) != want {
			t.Fatalf("[%d,%d): %d pieces, want %d", lo, hi, len(pieces), want)
		}
	}
	for _, r := range [][2]int{{0, 0}, {0, n}, {0, memChunkRows}, {memChunkRows, 2 * memChunkRows},
		{memChunkRows - 1, memChunkRows + 1}, {5, 5}, {n - 1, n}, {2*memChunkRows + 3, n}} {
		check(r[0], r[1])
	}
	rnd := rand.New(rand.NewSource(1))
	for range 200 {
		lo := rnd.Intn(n + 1)
		check(lo, lo+rnd.Intn(n+1-lo))
	}
	view := m.pieces(0, n)
	for range memChunkRows {
		m.appendReservedLocked(Event{TimeMillis: -1}, 0)
	}
	last := view[len(view)-1]
	if len(last.Rows) != 100 || last.Rows[99].TimeMillis != n-1 {
		t.Fatalf("an earlier view's last piece changed: %d rows", len(last.Rows))
	}
}

// memRowCount is the number of buffered rows snap reads as rows.
func memRowCount(snap *Snapshot) int {
	n := 0
	for _, m := range snap.Mem {
		n += len(m.Rows)
	}
	return n
}

// TestReleasedRowsFlushAlike: a store whose memtable releases the rows of
// exact sealed chunks (seal size off the chunk size, a column widened
// int → float → string along the way, so some chunks are exact and some
// not) flushes the same days with the same values as a store that never
// seals, and counts its memory down as it releases.
func TestReleasedRowsFlushAlike(t *testing.T) {
	const n = 5*memChunkRows + 321
	evs := func() []Event {
		out := testEvents(n, 9)
		for i := range out {
			var v Value
			switch {
			case i < 2*memChunkRows:
				v = IntValue(int64(i % 1000))
			case i < 4*memChunkRows:
				v = FloatValue(float64(i%1000) + 0.5)
			default:
				v = StringValue(fmt.Sprintf("w%d", i%7))
			}
			out[i].Props = append(out[i].Props, Prop{"wide", v})
		}
		return out
	}
	open := func(sealRows int) (*Store, *Project) {
		s, err := Open(Options{Dir: t.TempDir(), FlushInterval: time.Hour, SealRows: sealRows, ProfileUpdater: testProfileUpdater})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		if _, err := s.CreateProject("shop", "tok", "sec"); err != nil {
			t.Fatal(err)
		}
		p, _ := s.Project("shop")
		rows := evs()
		for i := 0; i < len(rows); i += 1000 {
			if err := p.Ingest(rows[i:min(i+1000, len(rows))]); err != nil {
				t.Fatal(err)
			}
			s.WaitSealing() // seal as the rows come, each chunk with the schema of its time
		}
		return s, p
	}
	sealed, sp := open(20000)
	plain, pp := open(-1)
	sp.mu.RLock()
	released, bytes, buffered := sp.mem.released, sp.mem.bytes, sealed.BufferStats().Buffered
	sp.mu.RUnlock()
	if released == 0 {
		t.Fatal("no chunk released")
	}
	if plainBytes := pp.mem.bytes; bytes >= plainBytes {
		t.Fatalf("the releasing memtable counts %d bytes, the plain one %d: want fewer", bytes, plainBytes)
	}
	if buffered != bytes+sp.ustateCounted {
		t.Fatalf("the ingest buffer counts %d bytes, the memtable %d and user state %d", buffered, bytes, sp.ustateCounted)
	}
	if got := memRowCount(sp.Snapshot()); got >= n {
		t.Fatalf("%d rows read as rows, want only the unsealed tail", got)
	}
	for _, s := range []*Store{sealed, plain} {
		if err := s.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	a, b := sp.Snapshot().Segments, pp.Snapshot().Segments
	if len(a) != len(b) || len(a) == 0 {
		t.Fatalf("%d segments, without sealing %d", len(a), len(b))
	}
	for i := range a {
		if a[i].Day != b[i].Day {
			t.Fatalf("segment %d: day %s, without sealing %s", i, a[i].Day, b[i].Day)
		}
		ab, err := os.ReadFile(filepath.Join(sealed.path(segDirName), a[i].File))
		if err != nil {
			t.Fatal(err)
		}
		bb, err := os.ReadFile(filepath.Join(plain.path(segDirName), b[i].File))
		if err != nil {
			t.Fatal(err)
		}
		if msg := sameColumns(t, ab, bb); msg != "" {
			t.Fatalf("day %s: %s", a[i].Day, msg)
		}
	}
}

package storage

import (
	"math/rand"
	"testing"
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

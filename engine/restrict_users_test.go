package engine

import (
	"testing"

	"arb/storage"
)

// TestRestrictUsersEveryUser checks that a restriction to a set of users
// keeps exactly their rows, and that a set holding every user leaves the
// scan whole (no filter to test per row) with every row.
func TestRestrictUsersEveryUser(t *testing.T) {
	snap := benchSnapshot(t, storage.SegmentBlockRows+99)
	n := snap.UserIDs.Len()
	if n < 3 {
		t.Fatalf("fixture has %d users", n)
	}
	all := scanRows(t, snap, nil, "distinct_id")
	bitsOf := func(keep func(u int) bool) []uint64 {
		bits := make([]uint64, (n+63)/64+1) // wider than the users: fine
		for u := range n {
			if keep(u) {
				bits[u/64] |= 1 << (u % 64)
			}
		}
		return bits
	}
	read := func(bits []uint64) (*Scan, int) {
		s := &Scan{Snap: snap, Columns: []string{"distinct_id"}}
		s.RestrictUsers(bits, "test")
		rows := 0
		for part := 0; part < s.Parts(); part++ {
			it, err := s.PartRows(t.Context(), part)
			if err != nil {
				t.Fatal(err)
			}
			for {
				if _, err := it.Next(); err != nil {
					break
				}
				rows++
			}
		}
		return s, rows
	}
	s, rows := read(bitsOf(func(int) bool { return true }))
	if s.Filter != nil || rows != len(all) {
		t.Fatalf("every user: filter %v, %d rows of %d", s.Filter, rows, len(all))
	}
	// Every user but one: restricted, that user's rows gone.
	missing := snap.UserIDs.ID(1)
	want := 0
	for _, r := range all {
		if r[0].Str != missing {
			want++
		}
	}
	s, rows = read(bitsOf(func(u int) bool { return u != 1 }))
	if s.Filter == nil || rows != want || want == len(all) {
		t.Fatalf("all but user 1: filter %v, %d rows, want %d of %d", s.Filter, rows, want, len(all))
	}
}

package storage

import (
	"fmt"
	"testing"
)

// TestStagedIDs: a staging table's distinct_id column, coded by user
// number across batches, reads back every row's id after mergeDicts —
// also when numbers past maxStagedUsers arrive mid-table (the rows so
// far become one piece, the rest per-batch pieces), and after a reset.
func TestStagedIDs(t *testing.T) {
	defer func(m uint32) { maxStagedUsers = m }(maxStagedUsers)
	maxStagedUsers = 40
	batch := func(first, n, users int) ([]Event, []uint32) {
		var rows []Event
		var nums []uint32
		for i := first; i < first+n; i++ {
			u := (i * 7) % users
			rows = append(rows, Event{Name: "e", DistinctID: fmt.Sprintf("id-%03d", u), TimeMillis: int64(i)})
			nums = append(nums, uint32(u))
		}
		return rows, nums
	}
	for _, tc := range []struct {
		name    string
		batches [][2]int // rows, users
		pieces  bool     // the table falls back to per-batch pieces
	}{
		{"by number", [][2]int{{50, 30}, {50, 30}, {20, 5}}, false},
		{"past the slots mid-table", [][2]int{{50, 30}, {50, 60}, {30, 30}}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tbl := newStagingTable(16)
			for round := 0; round < 2; round++ { // the second after a reset
				var want []string
				first := 0
				for _, b := range tc.batches {
					rows, nums := batch(first, b[0], b[1])
					first += b[0]
					for _, e := range rows {
						want = append(want, e.DistinctID)
					}
					if err := tbl.appendRows(rows, nums, nil); err != nil {
						t.Fatal(err)
					}
				}
				if got := tbl.ids.off; got != tc.pieces {
					t.Fatalf("round %d: per-batch pieces %v, want %v", round, got, tc.pieces)
				}
				tbl.mergeDicts()
				c := tbl.fixed[1]
				for i := 1; i < len(c.dict); i++ {
					if c.dict[i-1] >= c.dict[i] {
						t.Fatalf("round %d: dictionary not strictly sorted at %d: %q", round, i, c.dict)
					}
				}
				for i, id := range want {
					if got := c.dict[c.codes[i]]; got != id {
						t.Fatalf("round %d: row %d reads %q, want %q", round, i, got, id)
					}
				}
				tbl.reset()
			}
		})
	}
}

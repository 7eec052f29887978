package engine

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"arb/storage"
)

// TestPartBatchesUserNumbers reads distinct_id from a segment that stores
// user numbers and from buffered rows: every batch carries each row's
// user number, and the number's id (UserIDs) is the row's string, also
// under a filter that keeps some rows of a block.
func TestPartBatchesUserNumbers(t *testing.T) {
	ids := []string{"Alice", "alice", "bob", "ALICE", "carol"}
	const segRows = storage.SegmentBlockRows + 300
	cols := []storage.SegmentColumn{
		{Name: storage.ColTime, Type: storage.TypeTime}, {Name: storage.ColEvent, Type: storage.TypeString},
		{Name: storage.ColDistinctID, Type: storage.TypeString}, {Name: storage.ColInsertID, Type: storage.TypeString},
		{Name: storage.ColUserNumber, Type: storage.TypeInt},
	}
	for i := range segRows {
		u := (i * 7) % len(ids)
		cols[0].Ints = append(cols[0].Ints, int64(1_000_000+i))
		cols[1].Strs = append(cols[1].Strs, []string{"Signup", "Purchase"}[i%2])
		cols[2].Strs = append(cols[2].Strs, ids[u])
		cols[3].Strs = append(cols[3].Strs, fmt.Sprint(i))
		cols[4].Ints = append(cols[4].Ints, int64(u))
	}
	var buf bytes.Buffer
	if _, err := storage.WriteSegment(&buf, nil, segRows, cols); err != nil {
		t.Fatal(err)
	}
	seg, err := storage.OpenSegment(bytes.NewReader(buf.Bytes()), int64(buf.Len()), "users.seg")
	if err != nil {
		t.Fatal(err)
	}
	var mem storage.MemRows
	for i := range 500 {
		u := (i * 3) % len(ids)
		mem.Rows = append(mem.Rows, storage.Event{TimeMillis: int64(2_000_000 + i), Name: []string{"Signup", "Purchase"}[i%2],
			DistinctID: ids[u], InsertID: fmt.Sprint("m", i)})
		mem.Users = append(mem.Users, uint32(u))
	}
	snap := &storage.Snapshot{Segments: []*storage.SegmentRef{{Segment: seg}}, Mem: []storage.MemRows{mem}, UserIDs: storage.NewUserIDs(ids)}
	ctx := context.Background()
	for _, f := range []Predicate{nil, Compare{"event", OpEQ, storage.StringValue("Purchase")}} {
		s := &Scan{Snap: snap, Columns: []string{"event", "distinct_id"}, Filter: f}
		for part := range s.Parts() {
			rows := 0
			err := s.PartBatches(ctx, part, func(b *ColumnBatch) error {
				c := &b.Cols[1]
				if len(c.Users) != b.N {
					t.Fatalf("filter %v part %d: %d user numbers for %d rows", f, part, len(c.Users), b.N)
				}
				for k := range b.N {
					if got := snap.UserIDs.ID(c.Users[k]); got != c.Strs[k] {
						t.Fatalf("filter %v part %d row %d: %q with user %d (%q)", f, part, k, c.Strs[k], c.Users[k], got)
					}
				}
				rows += b.N
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if rows == 0 {
				t.Fatalf("filter %v part %d: no rows: the test checks nothing", f, part)
			}
		}
	}
}

package engine

import (
	"testing"

	"arb/storage"
)

// TestNotInCohortRows checks NOT InCohort (NOT EXISTS by user) answered
// by the bitmap probe per row (block_filter.go, cohortRows), alone and
// beside terms the bitmaps answer: its rows are exactly those of users
// without an event of the cohort, and with InCohort's they make up every
// row of the scan once.
func TestNotInCohortRows(t *testing.T) {
	snap := benchSnapshot(t, 3*storage.SegmentBlockRows+99)
	buyer := map[string]bool{}
	for _, r := range scanRows(t, snap, Compare{Column: storage.ColEvent, Op: OpEQ, Value: storage.StringValue("Purchase")}, "distinct_id") {
		buyer[r[0].Str] = true
	}
	if len(buyer) == 0 || len(buyer) == snap.UserIDs.Len() {
		t.Fatalf("fixture: %d buyers of %d users", len(buyer), snap.UserIDs.Len())
	}
	cohort := NewInCohort(Compare{Column: storage.ColEvent, Op: OpEQ, Value: storage.StringValue("Purchase")})
	pageView := Compare{Column: storage.ColEvent, Op: OpEQ, Value: storage.StringValue("Page View")}
	for _, tc := range []struct {
		name  string
		in    Predicate
		out   Predicate
		outer Predicate // the rows both split
	}{
		{"alone", cohort, Not{Term: cohort}, nil},
		{"beside an exact term", And{Terms: []Predicate{pageView, cohort}}, And{Terms: []Predicate{pageView, Not{Term: cohort}}}, pageView},
	} {
		t.Run(tc.name, func(t *testing.T) {
			all := scanRows(t, snap, tc.outer, "distinct_id")
			in := scanRows(t, snap, tc.in, "distinct_id")
			out := scanRows(t, snap, tc.out, "distinct_id")
			if len(in)+len(out) != len(all) || len(in) == 0 || len(out) == 0 {
				t.Fatalf("%d rows in the cohort, %d outside, of %d", len(in), len(out), len(all))
			}
			for _, r := range out {
				if buyer[r[0].Str] {
					t.Fatalf("NOT cohort kept a row of buyer %s", r[0].Str)
				}
			}
			for _, r := range in {
				if !buyer[r[0].Str] {
					t.Fatalf("cohort kept a row of %s, no buyer", r[0].Str)
				}
			}
		})
	}
}

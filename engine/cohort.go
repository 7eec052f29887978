package engine

import (
	"context"
	"fmt"
	mathbits "math/bits"

	"github.com/RoaringBitmap/roaring/v2"

	"arb/storage"
)

// Cohorts: `distinct_id IN (SELECT distinct_id FROM events WHERE f)` is
// InCohort{f}. Before a scan or aggregation reads any part, the set of
// canonical users with an event matching f is computed once over the same
// snapshot, as a bitmap of user numbers; a row is then in the cohort when
// its canonical user number is in the bitmap. Day-N retention is thus a
// bitmap membership test per row and a distinct count.

// cohortColumnPrefix names the pseudo-column through which the row
// evaluator asks for cohort membership (see colRef.cohort). The NUL byte
// keeps it apart from every real column name.
const cohortColumnPrefix = "\x00cohort:"

// NewInCohort is the cohort of users with an event matching f.
func NewInCohort(f Predicate) InCohort {
	c := InCohort{Filter: f}
	c.col = cohortColumnPrefix + c.key()
	return c
}

func (p InCohort) column() string {
	if p.col == "" { // built as a literal, not by NewInCohort
		return cohortColumnPrefix + p.key()
	}
	return p.col
}

func (p InCohort) key() string {
	if p.Filter == nil {
		return ""
	}
	return p.Filter.String()
}

// computeCohorts fills s.cohorts for every InCohort in the scan's
// predicates.
func (s *Scan) computeCohorts(ctx context.Context) error {
	var found []InCohort
	var walk func(p Predicate)
	walk = func(p Predicate) {
		switch p := p.(type) {
		case And:
			for _, t := range p.Terms {
				walk(t)
			}
		case Or:
			for _, t := range p.Terms {
				walk(t)
			}
		case Not:
			walk(p.Term)
		case InCohort:
			found = append(found, p)
		}
	}
	if s.Filter != nil {
		walk(s.Filter)
	}
	for _, p := range s.extraPreds {
		walk(p)
	}
	for _, c := range found {
		if _, done := s.cohorts[c.key()]; done {
			continue
		}
		users, err := CohortUsers(ctx, s.Snap, c.Filter)
		if err != nil {
			return fmt.Errorf("cohort %s: %w", c, err)
		}
		if s.cohorts == nil {
			s.cohorts = map[string]*roaring.Bitmap{}
		}
		s.cohorts[c.key()] = users
	}
	return nil
}

// CohortUsers returns the canonical user numbers with at least one event
// of snap for which f is TRUE.
func CohortUsers(ctx context.Context, snap *storage.Snapshot, f Predicate) (*roaring.Bitmap, error) {
	a := &Aggregation{Snap: snap, Filter: f, Aggs: []Agg{{Kind: AggCountDistinct, Column: storage.ColDistinctID}}}
	w, err := runAggregation(ctx, a)
	if err != nil {
		return nil, err
	}
	st := w.states[0].(*distinctState)
	if len(st.bitmaps) == 0 {
		return roaring.New(), nil
	}
	return st.toBitmap(0), nil
}

// inCohort reports whether user number u's canonical user is in cohort key.
func (s *Scan) inCohort(key string, u uint32) storage.Value {
	bm := s.cohorts[key]
	if bm == nil {
		panic(fmt.Sprintf("BUG: cohort %q evaluated before it was computed", key))
	}
	return storage.BoolValue(bm.Contains(s.Snap.Canon.Of(u)))
}

// RestrictUsers limits s to the rows of the users in bits (canonical
// user number u is in the set when bit u%64 of bits[u/64] is set, as the
// scan's distinct_id column numbers them), a set computed outside the
// scan: a join's other input, whose keys no other user's rows can match.
// It is a cohort whose users are given rather than computed; name tells
// it apart from the scan's other cohorts. A row's test is one bit.
// REQUIRES: s has not been read yet.
func (s *Scan) RestrictUsers(bits []uint64, name string) {
	if s.Snap != nil && holdsEveryUser(bits, s.Snap) {
		// No row can be dropped: the scan stays whole rather than test
		// each row (a join with a per-user table of every user).
		return
	}
	c := NewInCohort(givenUsers{name: name})
	bm := roaring.New()
	for w, word := range bits {
		for ; word != 0; word &= word - 1 {
			bm.Add(uint32(w*64 + mathbits.TrailingZeros64(word)))
		}
	}
	if s.cohorts == nil {
		s.cohorts = map[string]*roaring.Bitmap{}
	}
	s.cohorts[c.key()] = bm
	if s.cohortBits == nil {
		s.cohortBits = map[string][]uint64{}
	}
	s.cohortBits[c.key()] = bits
	if s.Filter == nil {
		s.Filter = c
	} else {
		s.Filter = And{Terms: []Predicate{s.Filter, c}}
	}
}

// givenUsers names a cohort given by RestrictUsers. It is never
// evaluated: computeCohorts finds the cohort's bitmap already there.
type givenUsers struct{ name string }

func (p givenUsers) String() string { return "given users of " + p.name }

// holdsEveryUser reports whether bits holds every user number snap
// knows: then it holds every row's canonical user, and every row passes
// RestrictUsers. (Merged identities leave numbers out of a set of
// canonical users: such a set restricts the scan as any other.)
func holdsEveryUser(bits []uint64, snap *storage.Snapshot) bool {
	n := snap.UserIDs.Len()
	if n > 64*len(bits) {
		return false
	}
	full := n / 64
	for _, w := range bits[:full] {
		if w != ^uint64(0) {
			return false
		}
	}
	if rest := n % 64; rest != 0 {
		mask := uint64(1)<<rest - 1
		return bits[full]&mask == mask
	}
	return true
}

package engine

// This file owns MIN(time) and MAX(time) per group as typed state: the
// event time is a fixed column that every segment and the memory buffer
// store as milliseconds in int64s (never NULL, never widened), so a
// group's extreme is an int64 and a presence bit, 9 bytes, where the
// general extremeState keeps a storage.Value (41 bytes with its flag).
// Per-user grouping (GROUP BY distinct_id, a derived table of each
// user's first signup) has a group per user: at 100M events, 5M users
// per worker, that difference is most of the state.
//
// INVARIANT: has[g] is true exactly when some row of group g was folded
// in; vals[g] is then the least (MIN) or greatest (MAX) time of those
// rows, the value extremeState would hold (Type TypeTime, Int the time).

import "arb/storage"

// extremeTimeOn turns the typed state on (a variable for tests, which
// compare it with extremeState).
var extremeTimeOn = true

type extremeTimeState struct {
	max  bool
	has  []bool
	vals []int64
}

// extremeTimeSlotBytes is one group's slot: an int64 and a flag.
const extremeTimeSlotBytes = 9

func (s *extremeTimeState) slotBytes() int64 { return extremeTimeSlotBytes }

func (s *extremeTimeState) grow(g int) { s.has, s.vals = growTo(s.has, g), growTo(s.vals, g) }

func (s *extremeTimeState) offer(g int32, x int64) {
	if !s.has[g] || (s.max && x > s.vals[g]) || (!s.max && x < s.vals[g]) {
		s.has[g], s.vals[g] = true, x
	}
}

func (s *extremeTimeState) add(_ *aggWorker, b *batch, gids []int32, ref colRef) error {
	v, err := b.column(ref)
	if err != nil || v.missing {
		return err
	}
	if v.ints == nil {
		// Not reached (the time column is always ints); rows with values
		// are folded one by one rather than dropped.
		for i, g := range gids {
			if r := b.row(i); !v.isNull(r) {
				s.offer(g, v.value(r).Int)
			}
		}
		return nil
	}
	for i, g := range gids {
		r := b.row(i)
		if v.nulls != nil && v.nulls[r] {
			continue
		}
		s.offer(g, v.ints[r])
	}
	return nil
}

func (s *extremeTimeState) merge(dg int32, src aggState, sg int32) {
	if o := src.(*extremeTimeState); o.has[sg] {
		s.offer(dg, o.vals[sg])
	}
}

func (s *extremeTimeState) result(g int32) storage.Value {
	if !s.has[g] {
		return storage.Value{}
	}
	return storage.Value{Type: storage.TypeTime, Int: s.vals[g]}
}

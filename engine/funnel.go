package engine

// This file owns the pure core of window_funnel and retention, shared by
// the row-at-a-time go-mysql-server functions (planner/func_*.go) and the
// native vectorised path, so that both give the same answer for a query
// with pushdown on or off. Nothing here knows about SQL, rows or storage:
// the callers evaluate the conditions and hand over bit masks.
//
// Semantics follow ClickHouse's windowFunnel in its default (non-strict)
// mode and its retention(); see WindowFunnel and RetentionFlags.

import (
	"fmt"
	"math/bits"
	"slices"
)

// FunnelEvent is one row for window_funnel: its time and the steps whose
// condition it meets (bit i set = condition i+1 TRUE).
type FunnelEvent struct {
	TimeMillis int64
	Steps      uint32
}

// MaxFunnelSteps is the most conditions window_funnel and retention take
// (32, as ClickHouse). It is also the width of FunnelEvent.Steps.
const MaxFunnelSteps = 32

// WindowFunnel returns the deepest step (0..steps) reached by one group's
// events: the length of the longest chain cond1 → cond2 → … in which every
// step occurs no earlier than the previous one and at most windowMillis
// after the chain's cond1 event (inclusive). May reorder events.
//
// The algorithm is ClickHouse's windowFunnel (non-strict mode), so that
// analysts get the numbers they know:
//
//   - each event stands for one (time, step) pair per set bit of Steps;
//     the pairs are taken in (time, step) order, so the result does not
//     depend on input order and one event meeting several conditions may
//     advance several steps at once;
//   - start[k] is the cond1 time of the chain that has reached step k+1;
//   - a step-1 pair sets start[0] = time: a later cond1 restarts the
//     chain at step 1 (chains already deeper keep their level);
//   - a step-s pair (s > 1) with start[s-2] set and
//     time - start[s-2] <= windowMillis sets start[s-1] = start[s-2].
//
// This is current ClickHouse (pairs stable-sorted by (time, step)).
// ClickHouse 18.16, the peer packaged for benchmarks, sorts by time only
// and appends a row's pairs in descending step order, so there a row
// meeting several conditions advances at most one step and equal-time
// ties follow insertion order; the two agree whenever each row meets at
// most one condition and no two steps share a millisecond (checked
// against a running 18.16 on random data).
//
// Boundary: inclusive. An event exactly windowMillis after the chain's
// cond1 event still counts; one millisecond later does not. A negative
// window admits no step after the first.
//
// Bits of Steps at or above steps are ignored. The result is the highest
// k with start[k-1] set, and WindowFunnel returns steps as soon as the
// last step is reached.
//
// REQUIRES: 0 <= steps <= MaxFunnelSteps (the callers check arity, so a
// violation is a programming error and panics).
//
// It does not allocate: events is sorted in place by time (after an O(n)
// check, since most groups arrive already time-ordered), and equal-time
// runs are walked in step order by OR-ing their masks, which is the same
// as visiting their pairs sorted by step: repeating a pair with the same
// time and step changes nothing.
func WindowFunnel(windowMillis int64, steps int, events []FunnelEvent) int {
	if steps < 0 || steps > MaxFunnelSteps {
		panic(fmt.Sprintf("engine.WindowFunnel: steps %d outside 0..%d", steps, MaxFunnelSteps))
	}
	if steps == 0 || len(events) == 0 {
		return 0
	}
	valid := uint32(1<<steps - 1) // shifted in int: steps == 32 gives all ones
	if !isSortedByTime(events) {
		slices.SortFunc(events, func(a, b FunnelEvent) int {
			switch {
			case a.TimeMillis < b.TimeMillis:
				return -1
			case a.TimeMillis > b.TimeMillis:
				return 1
			}
			return 0
		})
	}

	// INVARIANT: bit k of reached is set iff start[k] is; a bit is never
	// cleared, so the result is the bit length of reached.
	var start [MaxFunnelSteps]int64
	var reached uint32
	last := uint32(1) << (steps - 1)
	for i := 0; i < len(events); {
		t := events[i].TimeMillis
		mask := events[i].Steps
		for i++; i < len(events) && events[i].TimeMillis == t; i++ {
			mask |= events[i].Steps
		}
		mask &= valid
		if mask&1 != 0 {
			start[0] = t
			reached |= 1
			mask &^= 1
		}
		// A step s+1 (bit s) can only advance when step s (bit s-1) has
		// been reached, possibly by a lower bit of this same run.
		for mask != 0 {
			s := bits.TrailingZeros32(mask)
			mask &= mask - 1
			if reached&(1<<(s-1)) == 0 || !withinWindow(start[s-1], t, windowMillis) {
				continue
			}
			start[s] = start[s-1]
			reached |= 1 << s
			if reached&last != 0 {
				return steps
			}
		}
	}
	return bits.Len32(reached)
}

// withinWindow reports whether t - first <= window without overflow.
// REQUIRES: t >= first (events are visited in time order).
func withinWindow(first, t, window int64) bool {
	if window < 0 {
		return false
	}
	// t >= first, so the difference fits in a uint64 even when it does
	// not fit in an int64.
	return uint64(t)-uint64(first) <= uint64(window)
}

func isSortedByTime(events []FunnelEvent) bool {
	for i := 1; i < len(events); i++ {
		if events[i].TimeMillis < events[i-1].TimeMillis {
			return false
		}
	}
	return true
}

// RetentionFlags returns ClickHouse retention()'s flags from the OR of a
// group's rows' condition masks: r[0] = cond1 held on some row; r[i] =
// cond1 held on some row AND cond(i+1) held on some row (not necessarily
// the same row, in any order of time).
//
// REQUIRES: 0 <= conds <= MaxFunnelSteps. The returned slice is fresh.
func RetentionFlags(conds int, seen uint32) []bool {
	if conds < 0 || conds > MaxFunnelSteps {
		panic(fmt.Sprintf("engine.RetentionFlags: conds %d outside 0..%d", conds, MaxFunnelSteps))
	}
	r := make([]bool, conds)
	if conds == 0 || seen&1 == 0 {
		return r
	}
	for i := range r {
		r[i] = seen&(1<<i) != 0
	}
	return r
}

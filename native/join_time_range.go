package native

// This file owns the time-range index of a hash join (joinTimeRange):
// the right rows of each key, sorted by the value a join bound compares
// (join_iter.go, joinBound), so a left row's candidates are found by
// binary search instead of by walking its key's whole chain.
//
// Why: a join of a user's rows to the same user's rows within a window
// of time (p.time > s.time AND p.time <= s.time + INTERVAL 30 MINUTE,
// or NOT EXISTS (… e.time >= s.time + INTERVAL 1 DAY)) has one key
// group per user. Walking the group for every left row of that user,
// even dropping each out-of-window pair with one comparison, costs the
// product of the user's left and right rows: quadratic for the heavy
// users an event table always has. With the group sorted by the right
// value, each left row costs a binary search plus the pairs in range.
//
// Layout: rows of group g are order[start[g]:start[g+1]]: first its
// loose rows (a NULL in some indexed bound's right value; no bound can
// drop them, so they are always candidates) in right-input order, from
// sorted[g] on the others ascending by the first bound's right value
// (ties by row). vals[i] holds bound i's right values along order (at
// loose positions: 0, never read); it is nil for a bound whose values
// are not non-decreasing along that order within every group (a bound
// on another column). A bound over b.time + INTERVAL 7 DAY, monotone in
// b.time, is searchable beside one over b.time: sortedness is checked
// on the values, not inferred from the expressions.
//
// INVARIANT (what a probe may drop): a left row's candidates from the
// index are its group's loose rows and the sorted rows within the range
// every searchable bound of the left batch's usable prefix (bcols) keeps
// for its non-NULL left value. A sorted row outside that range has both
// values of some usable bound non-NULL and the comparison false, which
// is exactly a pair outOfBounds drops: the join's rows are those of the
// chain walk. Candidates are listed in right-input order (sorted back by
// row), as the chain lists them.
//
// Exact rows: when the residual is the bounds' conjunction and nothing
// else (joinOp.boundsExact), every bound is usable and searchable and
// the left row's values are all non-NULL, a pair in range is TRUE and a
// loose pair is not TRUE (a NULL operand of a bound makes the AND NULL
// or FALSE). Then a semi or anti join lists one pair in range (its first
// TRUE decides the row), an inner or outer join lists the range without
// evaluating the residual, and the loose pairs are listed only where a
// NULL condition matters (NOT IN).
//
// Memory: order, start and sorted (4 bytes a right row and two a
// group) and 8 bytes a right row per searchable bound, charged to the
// statement's budget as "join: time-range index".

import (
	"cmp"
	"slices"
)

// joinTimeRangeOn turns the index on (a variable for tests, which
// compare the joins with and without it).
var joinTimeRangeOn = true

// joinTimeRange is the time-range index over a join's right input (see
// the file comment).
type joinTimeRange struct {
	start  []int32 // len groups+1
	sorted []int32 // len groups
	order  []int32
	vals   [][]int64 // per bound of the indexed prefix; nil: not searchable
	// exact: every bound of the join is indexed and searchable and the
	// residual is their conjunction (see the file comment).
	exact bool
}

// newJoinTimeRange indexes the right input's groups of table t by the
// bounds whose right value columns are rcs (the leading bounds whose
// right values are of the kind their comparison reads; rcs[i].I holds
// at least rn values). Nil when there is nothing to index.
func newJoinTimeRange(t *joinTable, rn int, rcs []*Column, nBounds int, boundsExact bool) *joinTimeRange {
	if len(rcs) == 0 || len(t.heads) == 0 {
		return nil
	}
	loose := func(r int32) bool {
		for _, c := range rcs {
			if c.Nulls != nil && c.Nulls[r] {
				return true
			}
		}
		return false
	}
	ng := len(t.heads)
	// Each row's group, from the chains in one pass over the rows: a
	// chain runs in ascending row order, so a row's group is known
	// before its successor is reached. (Walking each group's chain in
	// turn read the rows in random order: a cache miss a row.) -1: a
	// row in no group (a wild or NULL key).
	group := make([]int32, rn)
	for r := range group {
		group[r] = -1
	}
	for g, h := range t.heads {
		group[h] = int32(g)
	}
	// Counting sort by group: loose rows first in each group, then the
	// others, each in row order.
	nLoose := make([]int32, ng)
	nTight := make([]int32, ng)
	for r := range rn {
		g := group[r]
		if g < 0 {
			continue
		}
		if nx := t.next[r]; nx >= 0 {
			group[nx] = g
		}
		if loose(int32(r)) {
			nLoose[g]++
		} else {
			nTight[g]++
		}
	}
	x := &joinTimeRange{start: make([]int32, ng+1), sorted: make([]int32, ng)}
	pos := int32(0)
	for g := range ng {
		x.start[g] = pos
		x.sorted[g] = pos + nLoose[g]
		pos += nLoose[g] + nTight[g]
	}
	x.start[ng] = pos
	x.order = make([]int32, pos)
	// vals[i] is bound i's values along order; bounds over one column
	// (e.time >= s.t1 AND e.time <= s.t1 + INTERVAL 7 DAY) share theirs,
	// filled once: fill lists the distinct ones.
	vals := make([][]int64, len(rcs))
	var fill []int
	for i, c := range rcs {
		for j := range i {
			if sameMemory(c.I[:rn], rcs[j].I[:rn]) {
				vals[i] = vals[j]
				break
			}
		}
		if vals[i] == nil {
			vals[i] = make([]int64, pos)
			fill = append(fill, i)
		}
	}
	// nLoose and nTight become each group's next free slot.
	copy(nLoose, x.start[:ng])
	copy(nTight, x.sorted)
	for r := range rn {
		g := group[r]
		if g < 0 {
			continue
		}
		var p int32
		if loose(int32(r)) {
			p = nLoose[g]
			nLoose[g]++
		} else {
			p = nTight[g]
			nTight[g]++
			for _, i := range fill {
				vals[i][p] = rcs[i].I[r]
			}
		}
		x.order[p] = int32(r)
	}
	// The rows of a group are in row order; sort those whose first
	// bound's values are not ascending (a stable sort: ties stay by
	// row), carrying every bound's values along.
	first := vals[0]
	for g := range ng {
		lo, hi := x.sorted[g], x.start[g+1]
		if hi-lo < 2 || slices.IsSorted(first[lo:hi]) {
			continue
		}
		rows := x.order[lo:hi]
		slices.SortStableFunc(rows, func(a, b int32) int { return cmp.Compare(rcs[0].I[a], rcs[0].I[b]) })
		for _, i := range fill {
			for p, r := range rows {
				vals[i][lo+int32(p)] = rcs[i].I[r]
			}
		}
	}
	// A bound is searchable when its values ascend within every group
	// along that order.
	x.vals = make([][]int64, len(rcs))
	searchable := 0
	for i, v := range vals {
		ok := true
		for g := 0; g < ng && ok; g++ {
			lo, hi := x.sorted[g], x.start[g+1]
			ok = slices.IsSorted(v[lo:hi])
		}
		if ok {
			x.vals[i] = v
			searchable++
		}
	}
	x.exact = boundsExact && searchable == nBounds
	return x
}

// bytes is the index's memory.
func (x *joinTimeRange) bytes() int64 {
	n := 4 * int64(cap(x.start)+cap(x.sorted)+cap(x.order))
	for _, v := range x.vals {
		n += 8 * int64(cap(v))
	}
	return n
}

// rangeOf is group g's positions [lo, hi) of order that the usable
// bounds bcols keep for left row li (see the file comment), and whether
// the row is exact: every bound usable and searchable with a non-NULL
// left value.
func (x *joinTimeRange) rangeOf(g int32, bcols []boundCols, li int32) (lo, hi int32, exact bool) {
	lo, hi = x.sorted[g], x.start[g+1]
	exact = x.exact && len(bcols) == len(x.vals)
	for i := range bcols {
		if i >= len(x.vals) || x.vals[i] == nil {
			exact = false
			continue
		}
		b := &bcols[i]
		if b.ln != nil && b.ln[li] {
			exact = false
			continue
		}
		v, lv := x.vals[i], b.l[li]
		switch b.op {
		case opGT: // v > lv
			lo = firstAtLeast(v, lo, hi, lv, true)
		case opGE:
			lo = firstAtLeast(v, lo, hi, lv, false)
		case opLT: // v < lv
			hi = firstAtLeast(v, lo, hi, lv, false)
		case opLE:
			hi = firstAtLeast(v, lo, hi, lv, true)
		}
		if lo >= hi {
			return lo, lo, exact
		}
	}
	return lo, hi, exact
}

// firstAtLeast is the first position p in [lo, hi) of the ascending v
// with v[p] > x (strict) or v[p] >= x, hi when none.
func firstAtLeast(v []int64, lo, hi int32, x int64, strict bool) int32 {
	for lo < hi {
		m := int32(uint32(lo+hi) >> 1)
		if v[m] < x || strict && v[m] == x {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// candidates appends to out left row li's candidate right rows in
// group g, in right-input order (see the file comment), and reports
// whether every pair it listed is TRUE (an exact row whose loose rows
// were not listed). partial: a semi or anti join, for which one TRUE
// pair of an exact row decides the row.
func (x *joinTimeRange) candidates(out []int32, g int32, bcols []boundCols, li int32, partial, nullsMatter bool) ([]int32, bool) {
	lo, hi, exact := x.rangeOf(g, bcols, li)
	looseFrom, looseTo := x.start[g], x.sorted[g]
	if exact {
		if partial && lo < hi {
			return append(out, x.order[lo]), true
		}
		if !nullsMatter {
			looseTo = looseFrom // never TRUE, and FALSE or NULL alike
		}
	}
	n := len(out)
	out = append(out, x.order[looseFrom:looseTo]...)
	out = append(out, x.order[lo:hi]...)
	if !slices.IsSorted(out[n:]) {
		slices.Sort(out[n:])
	}
	return out, exact && looseTo == looseFrom
}

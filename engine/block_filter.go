package engine

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/RoaringBitmap/roaring/v2"

	"arb/storage"
)

// Block filtering: which rows of one segment block make the filter TRUE,
// decided with as little per-row work as possible.
//
//  1. reduce simplifies the filter for the block with its zone maps:
//     a term TRUE for every row of the block drops out of an AND, a term
//     TRUE for none drops out of an OR (and empties an AND).
//  2. What remains, if the bitmap indexes answer it exactly, is the
//     intersection of the block's rows with that bitmap.
//  3. Otherwise the remainder is evaluated row by row, over the rows a
//     bitmap may have narrowed down.
//
// Each step only ever keeps every row for which the filter is TRUE and
// drops only rows for which it is not; TestScanMatchesBruteForce and the
// aggregation tests check the three against a plain evaluator.

// zoneTruth is what a block's zone maps tell of a predicate.
type zoneTruth uint8

const (
	zoneSome zoneTruth = iota // rows may or may not satisfy it
	zoneAll                   // TRUE for every row of the block
	zoneNone                  // TRUE for no row of the block
)

// reduce returns p simplified for block b, and whether it is TRUE for all
// rows, for none, or for some (then the returned predicate decides).
func (it *segmentIter) reduce(p Predicate, b int) (Predicate, zoneTruth, error) {
	switch p := p.(type) {
	case And:
		var rest []Predicate
		for _, t := range p.Terms {
			q, zt, err := it.reduce(t, b)
			if err != nil || zt == zoneNone {
				return nil, zoneNone, err
			}
			if zt == zoneSome {
				rest = append(rest, q)
			}
		}
		switch len(rest) {
		case 0:
			return nil, zoneAll, nil
		case 1:
			return rest[0], zoneSome, nil
		}
		return And{Terms: rest}, zoneSome, nil
	case Or:
		var rest []Predicate
		for _, t := range p.Terms {
			q, zt, err := it.reduce(t, b)
			if err != nil || zt == zoneAll {
				return nil, zoneAll, err
			}
			if zt == zoneSome {
				rest = append(rest, q)
			}
		}
		switch len(rest) {
		case 0:
			return nil, zoneNone, nil
		case 1:
			return rest[0], zoneSome, nil
		}
		return Or{Terms: rest}, zoneSome, nil
	case Not:
		// NOT x is TRUE where x is FALSE, not where it is UNKNOWN: only
		// "x TRUE everywhere" carries over.
		if _, zt, err := it.reduce(p.Term, b); err != nil || zt == zoneAll {
			return nil, zoneNone, err
		}
		return p, zoneSome, nil
	}
	ok, err := it.mayMatch(p, b)
	if err != nil || !ok {
		return nil, zoneNone, err
	}
	all, err := it.allMatch(p, b)
	if err != nil || all {
		return nil, zoneAll, err
	}
	return p, zoneSome, nil
}

// timeMayMatch reports whether any row of seg can satisfy p's conditions
// on time, from the segment's time range alone: a segment holds one day,
// so most segments fall outside a query's time range and need not even be
// opened for reading. false only when no row can match.
func timeMayMatch(seg *storage.Segment, p Predicate) (bool, error) {
	if p == nil || seg.NumBlocks() == 0 || !seg.HasColumn(storage.ColTime) || !comparesTime(p) {
		return true, nil
	}
	var lo, hi storage.Value
	for b := 0; b < seg.NumBlocks(); b++ {
		z, err := seg.ZoneMap(storage.ColTime, b)
		if err != nil {
			return false, err
		}
		if b == 0 || z.Min.Int < lo.Int {
			lo = z.Min
		}
		if b == 0 || z.Max.Int > hi.Int {
			hi = z.Max
		}
	}
	var may func(p Predicate) bool
	may = func(p Predicate) bool {
		switch p := p.(type) {
		case And:
			for _, t := range p.Terms {
				if !may(t) {
					return false
				}
			}
		case Or:
			for _, t := range p.Terms {
				if may(t) {
					return true
				}
			}
			return false
		case Compare:
			if strings.EqualFold(p.Column, storage.ColTime) && p.Value.Type == storage.TypeTime {
				return zoneCompare(p.Op, p.Value, lo, hi, nil)
			}
		}
		return true
	}
	return may(p), nil
}

// comparesTime reports whether p holds a comparison of time with a time
// value, the only term timeMayMatch can decide: without one it need not
// read every block's zone map of every segment (a tenth of a one-
// millisecond query over a few hundred segments).
func comparesTime(p Predicate) bool {
	switch p := p.(type) {
	case And:
		return slices.ContainsFunc(p.Terms, comparesTime)
	case Or:
		return slices.ContainsFunc(p.Terms, comparesTime)
	case Compare:
		return strings.EqualFold(p.Column, storage.ColTime) && p.Value.Type == storage.TypeTime
	}
	return false
}

// segmentRows answers f for the whole segment: zoneNone or zoneAll from
// the zone maps, or zoneSome with exactly the matching rows from the
// bitmaps (shared: never modify them). ok is false when neither can.
func (it *segmentIter) segmentRows(f Predicate) (rows *roaring.Bitmap, zt zoneTruth, ok bool, err error) {
	// Bitmaps alone first: they need no pass over the blocks' zone maps.
	if bm, ok, err := it.exactRows(f); err != nil || ok {
		return bm, zoneSome, ok, err
	}
	rest, zt, err := it.reduceSegment(f)
	if err != nil || zt != zoneSome {
		return nil, zt, err == nil, err
	}
	bm, ok, err := it.exactRows(rest)
	return bm, zoneSome, ok, err
}

// reduceSegment is reduce over the whole segment: zoneAll or zoneNone
// when every block says so, else zoneSome with the residual every block
// reduces to, or p itself when the blocks do not agree.
func (it *segmentIter) reduceSegment(p Predicate) (Predicate, zoneTruth, error) {
	var rest Predicate
	var restText string
	nAll, nNone, nSome := 0, 0, 0
	for b := 0; b < it.seg.NumBlocks(); b++ {
		q, zt, err := it.reduce(p, b)
		if err != nil {
			return nil, zoneSome, err
		}
		switch zt {
		case zoneAll:
			nAll++
		case zoneNone:
			nNone++
		default:
			nSome++
			if rest == nil {
				rest, restText = q, q.String()
			} else if q.String() != restText {
				return p, zoneSome, nil
			}
		}
	}
	switch {
	case nSome == 0 && nAll == 0:
		return nil, zoneNone, nil
	case nSome == 0 && nNone == 0:
		return nil, zoneAll, nil
	case nAll+nNone > 0:
		return p, zoneSome, nil
	}
	return rest, zoneSome, nil
}

// allMatch reports whether the leaf predicate p is TRUE for every row of
// block b according to its zone maps. false means "not known".
func (it *segmentIter) allMatch(p Predicate, b int) (bool, error) {
	switch p := p.(type) {
	case IsNull:
		ref := it.preds[p.Column]
		if it.missing(ref) {
			return true, nil
		}
		z, err := it.seg.ZoneMap(ref.name, b)
		return z.AllNull, err
	case Compare:
		ref := it.preds[p.Column]
		if it.missing(ref) || !it.exact(ref) || ref.typ == storage.TypeFloat {
			return false, nil // floats: a NaN would compare UNKNOWN
		}
		z, err := it.seg.ZoneMap(ref.name, b)
		if err != nil || z.HasNull {
			return false, err
		}
		if dict, ok := it.dicts[ref.name]; ok {
			if !isText(p.Value.Type) {
				return false, nil
			}
			lb, ub := codeBounds(dict, p.Value.Str)
			lo, hi := int(z.Min.Int), int(z.Max.Int)
			switch p.Op {
			case OpEQ:
				return lb < ub && lo == lb && hi == lb, nil
			case OpNE:
				return lb == ub || hi < lb || lo > lb, nil
			case OpLT:
				return hi < lb, nil
			case OpLE:
				return hi < ub, nil
			case OpGT:
				return lo >= ub, nil
			case OpGE:
				return lo >= lb, nil
			}
			return false, nil
		}
		cLo, okLo := compareValues(z.Min, p.Value)
		cHi, okHi := compareValues(z.Max, p.Value)
		if !okLo || !okHi {
			return false, nil
		}
		switch p.Op {
		case OpEQ:
			return cLo == 0 && cHi == 0, nil
		case OpNE:
			return cHi < 0 || cLo > 0, nil
		case OpLT:
			return cHi < 0, nil
		case OpLE:
			return cHi <= 0, nil
		case OpGT:
			return cLo > 0, nil
		case OpGE:
			return cLo >= 0, nil
		}
	case Prefix:
		ref := it.preds[p.Column]
		dict, ok := it.dicts[ref.name]
		if it.missing(ref) || !it.exact(ref) || !ok {
			return false, nil
		}
		z, err := it.seg.ZoneMap(ref.name, b)
		if err != nil || z.HasNull {
			return false, err
		}
		first := sort.SearchStrings(dict, p.Prefix)
		end := first + sort.Search(len(dict)-first, func(k int) bool { return !strings.HasPrefix(dict[first+k], p.Prefix) })
		return int(z.Min.Int) >= first && int(z.Max.Int) < end, nil
	}
	return false, nil
}

// exactRows returns the segment rows for which p is TRUE when the bitmap
// indexes answer p exactly; ok is false otherwise. Results are cached per
// predicate for the life of the iterator, and shared: never modify them.
func (it *segmentIter) exactRows(p Predicate) (*roaring.Bitmap, bool, error) {
	return it.cachedBitmap("exact:"+p.String(), func() (*roaring.Bitmap, bool, error) {
		bm, ok, exact, err := it.candidatesExact(p)
		return bm, ok && exact, err
	})
}

// candidatesCached is candidates with the iterator's cache.
func (it *segmentIter) candidatesCached(p Predicate) (*roaring.Bitmap, bool, error) {
	return it.cachedBitmap("cand:"+p.String(), func() (*roaring.Bitmap, bool, error) { return it.candidates(p) })
}

// cachedBitmap is compute's answer, computed once per key and iterator.
func (it *segmentIter) cachedBitmap(key string, compute func() (*roaring.Bitmap, bool, error)) (*roaring.Bitmap, bool, error) {
	if r, ok := it.exactCache[key]; ok {
		return r.bm, r.ok, nil
	}
	bm, ok, err := compute()
	if err != nil {
		return nil, false, err
	}
	if it.exactCache == nil {
		it.exactCache = map[string]exactResult{}
	}
	it.exactCache[key] = exactResult{bm, ok}
	return bm, ok, nil
}

type exactResult struct {
	bm *roaring.Bitmap
	ok bool
}

// candidatesExact is candidates plus whether the bitmap is exactly the
// rows where p is TRUE (not just a superset).
func (it *segmentIter) candidatesExact(p Predicate) (bm *roaring.Bitmap, ok, exact bool, err error) {
	switch p := p.(type) {
	case And:
		var acc *roaring.Bitmap
		exact = true
		for _, t := range p.Terms {
			tb, tok, tex, err := it.candidatesExact(t)
			if err != nil {
				return nil, false, false, err
			}
			if !tok {
				exact = false
				continue
			}
			exact = exact && tex
			if acc == nil {
				acc = tb.Clone()
			} else {
				acc.And(tb)
			}
		}
		return acc, acc != nil, exact && acc != nil, nil
	case Or:
		acc := roaring.New()
		exact = true
		for _, t := range p.Terms {
			tb, tok, tex, err := it.candidatesExact(t)
			if err != nil || !tok {
				return nil, false, false, err
			}
			exact = exact && tex
			acc.Or(tb)
		}
		return acc, true, exact, nil
	case Compare, In, Prefix:
		// codeBitmap and the prefix expansion are exact when they answer.
		bm, ok, err := it.candidates(p)
		return bm, ok, ok, err
	}
	return nil, false, false, nil
}

// blockPlan decides, before block b is decoded, how its rows that make
// the filter TRUE are found: none, all, an exact row list from bitmaps,
// or a residual predicate to evaluate per row on the decoded block.
func (it *segmentIter) blockPlan(b int) (blockPlan, error) {
	return it.planFor(it.scan.Filter, b)
}

// planFor is blockPlan for any predicate p over the iterator's columns
// (nil: every row).
func (it *segmentIter) planFor(p Predicate, b int) (plan blockPlan, err error) {
	first, n := it.seg.BlockRange(b)
	plan.first, plan.n = first, n
	if p == nil {
		plan.all = true
		return plan, nil
	}
	rest, zt, err := it.reduce(p, b)
	if err != nil {
		return plan, err
	}
	switch zt {
	case zoneNone:
		plan.skip = true
		return plan, nil
	case zoneAll:
		plan.all = true
		return plan, nil
	}
	if bm, ok, err := it.exactRows(rest); err != nil {
		return plan, err
	} else if ok {
		plan.exact = bm
		plan.exactCount = rankCount(bm, first, n)
		plan.skip = plan.exactCount == 0
		return plan, nil
	}
	if c, others, ok := splitCohort(rest); ok {
		// A cohort beside terms the bitmaps answer exactly: their rows
		// are the candidates of one bitmap probe each (cohortRows).
		if bm, ok, err := it.exactRows(others); err != nil {
			return plan, err
		} else if ok {
			plan.residual = c
			plan.cand = rowsInRange(bm, first, n, make([]int32, 0, rankCount(bm, first, n)))
			plan.skip = len(plan.cand) == 0
			plan.haveCand = true
			return plan, nil
		}
	}
	plan.residual = rest
	if bm, ok, err := it.candidatesCached(rest); err != nil {
		return plan, err
	} else if ok {
		plan.cand = rowsInRange(bm, first, n, make([]int32, 0, rankCount(bm, first, n)))
		plan.skip = len(plan.cand) == 0
		plan.haveCand = true
	}
	return plan, nil
}

// cohortTerm reports whether p is a cohort test a bitmap probe per row
// answers (cohortRows): InCohort, or NOT InCohort (NOT EXISTS, the
// users absent from a cohort). A row's user number is never NULL, so
// the membership is TRUE or FALSE and NOT is its complement.
func cohortTerm(p Predicate) bool {
	switch p := p.(type) {
	case InCohort:
		return true
	case Not:
		_, ok := p.Term.(InCohort)
		return ok
	}
	return false
}

// splitCohort is p's one cohort term (cohortTerm) and the others, when p
// is an And with exactly one such term.
func splitCohort(p Predicate) (Predicate, Predicate, bool) {
	and, ok := p.(And)
	if !ok {
		return nil, nil, false
	}
	var c Predicate
	var others []Predicate
	found := 0
	for _, t := range and.Terms {
		if cohortTerm(t) {
			c = t
			found++
		} else {
			others = append(others, t)
		}
	}
	switch {
	case found != 1 || len(others) == 0:
		return nil, nil, false
	case len(others) == 1:
		return c, others[0], true
	}
	return c, And{Terms: others}, true
}

// blockPlan is how to find a block's matching rows.
type blockPlan struct {
	first, n int
	skip     bool // no row matches
	all      bool // every row matches
	// exact holds exactly the matching rows (segment-wide numbering) when
	// !all and residual == nil; exactCount of them fall in the block.
	exact      *roaring.Bitmap
	exactCount int
	// residual must be evaluated per row, over cand when haveCand, else
	// over every row.
	residual Predicate
	cand     []int32
	haveCand bool
}

// cohortRows is matchRows for a residual cohort test t (cohortTerm): a
// bitmap probe per row on the user-number column.
func (it *segmentIter) cohortRows(t Predicate, plan *blockPlan) []int32 {
	c, in := t.(InCohort)
	if !in {
		c = t.(Not).Term.(InCohort)
	}
	blk := it.blocks[storage.ColUserNumber]
	bm := it.scan.cohorts[c.key()]
	if blk == nil || bm == nil {
		panic(fmt.Sprintf("BUG: cohort %s evaluated without user numbers or before it was computed", c))
	}
	canon := it.scan.Snap.Canon
	merged := canon.Merged()
	var out []int32
	bits := it.scan.cohortBits[c.key()]
	test := func(r int32) {
		u := uint32(blk.Ints[r])
		if merged {
			u = canon.Of(u)
		}
		if bits != nil {
			if (int(u>>6) < len(bits) && bits[u>>6]&(1<<(u&63)) != 0) == in {
				out = append(out, r)
			}
			return
		}
		if bm.Contains(u) == in {
			out = append(out, r)
		}
	}
	if plan.haveCand {
		for _, r := range plan.cand {
			test(r)
		}
		return out
	}
	for r := int32(0); r < int32(plan.n); r++ {
		test(r)
	}
	return out
}

// rankCount is the number of bm's rows in [first, first+n).
func rankCount(bm *roaring.Bitmap, first, n int) int {
	c := bm.Rank(uint32(first + n - 1))
	if first > 0 {
		c -= bm.Rank(uint32(first - 1))
	}
	return int(c)
}

// rowsInRange lists bm's rows in [first, first+n) relative to first.
func rowsInRange(bm *roaring.Bitmap, first, n int, buf []int32) []int32 {
	out := buf[:0]
	itr := bm.Iterator()
	itr.AdvanceIfNeeded(uint32(first))
	end := uint32(first + n)
	for itr.HasNext() {
		r := itr.Next()
		if r >= end {
			break
		}
		out = append(out, int32(int(r)-first))
	}
	return out
}

// matchRows finishes a plan on the loaded block: the matching rows, or
// nil with all == true.
func (it *segmentIter) matchRows(plan *blockPlan) (rows []int32, all bool) {
	switch {
	case plan.all:
		return nil, true
	case plan.residual == nil:
		return rowsInRange(plan.exact, plan.first, plan.n, make([]int32, 0, plan.exactCount)), false
	}
	if cohortTerm(plan.residual) {
		return it.cohortRows(plan.residual, plan), false
	}
	test := it.compileRows(plan.residual) // scan_match.go
	var out []int32
	if plan.haveCand {
		out = make([]int32, 0, len(plan.cand))
		for _, r := range plan.cand {
			if test(int(r)) == tTrue {
				out = append(out, r)
			}
		}
		return out, false
	}
	out = make([]int32, 0, plan.n)
	for r := 0; r < plan.n; r++ {
		if test(r) == tTrue {
			out = append(out, int32(r))
		}
	}
	return out, false
}

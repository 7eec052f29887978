package engine

// Exact SUM and AVG of integer (and bool) columns, as MySQL 8 computes
// them for its DECIMAL result (planner.ExactSum): each group sums in an
// int64 and moves to a decimal only when the int64 would overflow, so the
// common case costs what the float sum does.
//
// INVARIANT: result(g) is NULL over no values, else the decimal text of
// the exact sum (AVG: the sum over the count of non-NULL values, rounded
// half away from zero to Agg.Scale digits), in a TypeString value the
// planner parses back into a decimal.

import (
	"fmt"

	"github.com/shopspring/decimal"

	"arb/storage"
)

// exactSumState is an exact SUM or AVG (Agg.Exact).
//
// INVARIANT: group g's sum is small[g] unless spilled[g], then big[g].
type exactSumState struct {
	avg     bool
	scale   int32
	small   []int64
	n       []int64
	spilled []bool
	big     []decimal.Decimal
}

func (s *exactSumState) grow(g int) {
	s.small, s.n = growTo(s.small, g), growTo(s.n, g)
	if s.spilled != nil {
		s.spilled, s.big = growTo(s.spilled, g), growTo(s.big, g)
	}
}

// addInt adds x to group g.
func (s *exactSumState) addInt(g int32, x int64) {
	if s.spilled == nil || !s.spilled[g] {
		y := s.small[g]
		if sum := x + y; (x^sum)&(y^sum) >= 0 { // no signed overflow
			s.small[g] = sum
			return
		}
		s.spill(g)
	}
	s.big[g] = s.big[g].Add(decimal.NewFromInt(x))
}

// spill moves group g's sum to big.
func (s *exactSumState) spill(g int32) {
	if s.spilled == nil {
		s.spilled, s.big = make([]bool, len(s.small)), make([]decimal.Decimal, len(s.small))
	}
	if !s.spilled[g] {
		s.big[g], s.spilled[g] = decimal.NewFromInt(s.small[g]), true
	}
}

func (s *exactSumState) add(_ *aggWorker, b *batch, gids []int32, ref colRef) error {
	v, err := b.column(ref)
	if err != nil || v.missing {
		return err
	}
	if v.ints == nil {
		return fmt.Errorf("exact %s of a %v column", map[bool]string{false: "sum", true: "avg"}[s.avg], v.typ)
	}
	small, n, ints := s.small, s.n, v.ints
	for i, g := range gids {
		r := b.row(i)
		if v.nulls != nil && v.nulls[r] {
			continue
		}
		n[g]++
		x := ints[r]
		if s.spilled == nil {
			// The hot path, addInt inlined: no group has overflowed.
			y := small[g]
			if sum := x + y; (x^sum)&(y^sum) >= 0 {
				small[g] = sum
				continue
			}
		}
		s.addInt(g, x)
	}
	return nil
}

func (s *exactSumState) merge(dg int32, src aggState, sg int32) {
	o := src.(*exactSumState)
	s.n[dg] += o.n[sg]
	if o.spilled == nil || !o.spilled[sg] {
		s.addInt(dg, o.small[sg])
		return
	}
	s.spill(dg)
	s.big[dg] = s.big[dg].Add(o.big[sg])
}

func (s *exactSumState) result(g int32) storage.Value {
	if s.n[g] == 0 {
		return storage.Value{}
	}
	sum := decimal.NewFromInt(s.small[g])
	if s.spilled != nil && s.spilled[g] {
		sum = s.big[g]
	}
	if s.avg {
		// The scale's digits printed: MySQL shows AVG's trailing zeros.
		return storage.Value{Type: storage.TypeString, Str: sum.DivRound(decimal.NewFromInt(s.n[g]), s.scale).StringFixed(s.scale)}
	}
	return storage.Value{Type: storage.TypeString, Str: sum.String()}
}

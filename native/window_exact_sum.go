package native

// Windowed SUM and AVG of integers and DECIMALs, exact and typed DECIMAL
// as MySQL 8 computes them (planner.ExactSum over a window; issue 16).
// go-mysql-server sums a window's values in float64 prefix sums, which
// lose digits beyond 2^53 and give 0 for SUM over NULLs only; MySQL
// gives the exact sum, and NULL over a frame without a non-NULL value.
// ExactPrefixSums is shared by this operator and the planner's
// row-at-a-time window function (what go-mysql-server's window runs with
// pushdown off), so both give the same values.

import (
	"fmt"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/types"
	"github.com/shopspring/decimal"
)

// ExactPrefixSums is one partition's prefix sums of exact values: an
// int64 per position while the running sum fits, then (from the first
// position whose running sum overflows) decimals for every position.
//
// INVARIANT: the sum of positions [0, i] is small[i] when big is nil,
// else big[i]; nonNull[i] counts the non-NULL values of [0, i].
type ExactPrefixSums struct {
	small   []int64
	big     []decimal.Decimal
	nonNull []int64
}

// Reset empties p for a new partition, keeping its storage.
func (p *ExactPrefixSums) Reset() {
	p.small, p.big, p.nonNull = p.small[:0], nil, p.nonNull[:0]
}

// Len is the number of positions added.
func (p *ExactPrefixSums) Len() int { return len(p.nonNull) }

func (p *ExactPrefixSums) count() int64 {
	if n := len(p.nonNull); n > 0 {
		return p.nonNull[n-1]
	}
	return 0
}

// AddNull adds a NULL position.
func (p *ExactPrefixSums) AddNull() {
	n := len(p.nonNull)
	p.nonNull = append(p.nonNull, p.count())
	if p.big != nil {
		last := decimal.Zero
		if n > 0 {
			last = p.big[n-1]
		}
		p.big = append(p.big, last)
		return
	}
	var last int64
	if n > 0 {
		last = p.small[n-1]
	}
	p.small = append(p.small, last)
}

// AddInt adds a position holding v.
func (p *ExactPrefixSums) AddInt(v int64) {
	n := len(p.nonNull)
	if p.big == nil {
		var last int64
		if n > 0 {
			last = p.small[n-1]
		}
		if s, overflow := addInt64(last, v); !overflow {
			p.nonNull = append(p.nonNull, p.count()+1)
			p.small = append(p.small, s)
			return
		}
	}
	p.AddDecimal(decimal.NewFromInt(v))
}

// AddDecimal adds a position holding d.
func (p *ExactPrefixSums) AddDecimal(d decimal.Decimal) {
	n := len(p.nonNull)
	if p.big == nil {
		p.big = make([]decimal.Decimal, n, max(cap(p.small), n+1))
		for i, s := range p.small {
			p.big[i] = decimal.NewFromInt(s)
		}
	}
	last := decimal.Zero
	if n > 0 {
		last = p.big[n-1]
	}
	p.nonNull = append(p.nonNull, p.count()+1)
	p.big = append(p.big, last.Add(d))
}

// Frame is the exact sum of positions [s, e) and how many of them are
// not NULL (0: the frame's SUM and AVG are NULL).
func (p *ExactPrefixSums) Frame(s, e int) (decimal.Decimal, int64) {
	if e <= s {
		return decimal.Zero, 0
	}
	n := p.nonNull[e-1]
	if s > 0 {
		n -= p.nonNull[s-1]
	}
	if n == 0 {
		return decimal.Zero, 0
	}
	if p.big != nil {
		sum := p.big[e-1]
		if s > 0 {
			sum = sum.Sub(p.big[s-1])
		}
		return sum, n
	}
	if s == 0 {
		return decimal.NewFromInt(p.small[e-1]), n
	}
	a, b := p.small[e-1], p.small[s-1]
	if d := a - b; (a >= 0) == (b >= 0) || (d >= 0) == (a >= 0) {
		return decimal.NewFromInt(d), n // a - b did not overflow
	}
	return decimal.NewFromInt(a).Sub(decimal.NewFromInt(b)), n
}

// Bytes is the memory p holds.
func (p *ExactPrefixSums) Bytes() int64 {
	return 16*int64(cap(p.small)) + 40*int64(cap(p.big))
}

// ExactWindowResult is SUM (the frame's sum) or AVG (sum over n rounded
// half away from zero to typ's scale) of a frame with n non-NULL values;
// ok false when n is 0 (NULL).
func ExactWindowResult(sum decimal.Decimal, n int64, avg bool, typ sql.DecimalType) (decimal.Decimal, bool) {
	if n == 0 {
		return decimal.Decimal{}, false
	}
	if avg {
		return sum.DivRound(decimal.NewFromInt(n), int32(typ.Scale())), true
	}
	return sum, true
}

// addInt64 is a + b and whether it overflowed.
func addInt64(a, b int64) (int64, bool) {
	s := a + b
	return s, (a >= 0) == (b >= 0) && (s >= 0) != (a >= 0)
}

// computeExactSum is SUM or AVG of an exact argument (f.exact set): the
// prefix sums of each partition in sorted order, then each row's frame.
func (f *windowFunc) computeExactSum(ctx *sql.Context, wr *windowRows, arg *Column, fs, fe []int32, mem *memCharge) (*Column, error) {
	ints := arg.Kind == KindInt && !intNeedsConvert(arg.Type) && !types.IsUnsigned(arg.Type)
	if err := mem.grow(16*int64(wr.n), "window sums"); err != nil {
		return nil, err
	}
	vals := make([]decimal.Decimal, wr.n)
	var nulls []bool
	var p ExactPrefixSums
	var charged int64
	for q := 0; q+1 < len(wr.parts); q++ {
		ps, pe := wr.parts[q], wr.parts[q+1]
		p.Reset()
		for k := ps; k < pe; k++ {
			r := int(wr.perm[k])
			switch {
			case arg.Kind == KindNull || arg.IsNull(r):
				p.AddNull()
			case ints:
				p.AddInt(arg.I[r])
			default:
				d, err := exactValue(ctx, arg, r)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", f.name, err)
				}
				p.AddDecimal(d)
			}
		}
		if b := p.Bytes(); b > charged {
			if err := mem.grow(b-charged, "window sums"); err != nil {
				return nil, err
			}
			charged = b
		}
		for k := ps; k < pe; k++ {
			sum, n := p.Frame(int(fs[k])-ps, int(fe[k])-ps)
			r := wr.perm[k]
			v, ok := ExactWindowResult(sum, n, f.kind == fnAvg, f.exact)
			if !ok {
				if nulls == nil {
					nulls = make([]bool, wr.n)
				}
				nulls[r] = true
				continue
			}
			vals[r] = v
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
	out := NewColumn(f.exact, wr.n)
	for r := range wr.n {
		if nulls != nil && nulls[r] {
			out.AppendNull()
		} else {
			out.Append(vals[r])
		}
	}
	return out, nil
}

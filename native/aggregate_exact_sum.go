package native

// SUM and AVG of integers and DECIMALs, summed exactly and typed DECIMAL
// as MySQL 8 does (planner.ExactSum owns the rule and the row-at-a-time
// buffer; this is its batch form for HashAggregate). Each group sums in
// an int64 and moves to a decimal only when the int64 would overflow.
//
// INVARIANT: group g's value equals planner.ExactSum's buffer over the
// same rows: the exact sum (AVG: over rows[g], rounded half away from
// zero to the type's scale), NULL over no values.

import (
	"fmt"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/types"
	"github.com/shopspring/decimal"
)

// ExactSummer is an aggregate computed as an exact SUM or AVG
// (planner.ExactSum).
type ExactSummer interface {
	sql.Aggregation
	// ExactSumArg is the argument, whether it is AVG, and the result type.
	ExactSumArg() (arg sql.Expression, avg bool, typ sql.DecimalType)
}

// exactSumAgg is an ExactSummer over compiled arg.
//
// INVARIANT: group g's sum is small[g] unless spilled[g], then big[g]
// (spilled and big stay nil until some group overflows).
type exactSumAgg struct {
	arg  Expr
	avg  bool
	typ  sql.DecimalType
	name string

	small   []int64
	rows    []int64
	spilled []bool
	big     []decimal.Decimal

	// A constant argument (SUM(1): Tableau's record count) is not
	// materialised per row: rows[g] counts the group's rows, and its sum
	// is k·rows[g], exactly what adding k rows[g] times gives.
	// INVARIANT: with a *constExpr arg, small, spilled and big stay
	// unused; kSet once k holds the constant as an exact decimal (the
	// first batch with rows converts it, so a value that does not
	// convert errs only when some row needs it, as row by row).
	k    decimal.Decimal
	kSet bool
}

func (a *exactSumAgg) fresh() aggFunc {
	return &exactSumAgg{arg: a.arg, avg: a.avg, typ: a.typ, name: a.name}
}
func (a *exactSumAgg) String() string    { return a.name }
func (a *exactSumAgg) argSlots() []*Expr { return []*Expr{&a.arg} }
func (a *exactSumAgg) bytes() int64 {
	return 16*int64(cap(a.small)) + 41*int64(cap(a.big))
}
func (a *exactSumAgg) close(*sql.Context) { a.small, a.rows, a.spilled, a.big = nil, nil, nil, nil }

func (a *exactSumAgg) add(ctx *sql.Context, b *Batch, groups []int32, ngroups int) error {
	a.small, a.rows = grow(a.small, ngroups), grow(a.rows, ngroups)
	if a.spilled != nil {
		a.spilled, a.big = grow(a.spilled, ngroups), grow(a.big, ngroups)
	}
	if k, ok := a.arg.(*constExpr); ok {
		return a.addConst(ctx, k, groups)
	}
	c, err := a.arg.Eval(ctx, b)
	if err != nil {
		return err
	}
	if c.Kind == KindNull {
		return nil
	}
	for r, g := range groups {
		if c.IsNull(r) {
			continue
		}
		a.rows[g]++
		if c.Kind == KindInt && !intNeedsConvert(c.Type) && (a.spilled == nil || !a.spilled[g]) {
			x, y := a.small[g], c.I[r]
			if s := x + y; (x >= 0) != (y >= 0) || (s >= 0) == (x >= 0) {
				a.small[g] = s
				continue
			}
		}
		d, err := exactValue(ctx, c, r)
		if err != nil {
			return fmt.Errorf("%s: %w", a.name, err)
		}
		a.spill(g)
		a.big[g] = a.big[g].Add(d)
	}
	return nil
}

// addConst counts the rows of a constant argument's groups (none when
// it is NULL: SUM(NULL) is NULL).
func (a *exactSumAgg) addConst(ctx *sql.Context, k *constExpr, groups []int32) error {
	if len(groups) == 0 {
		return nil
	}
	if !a.kSet {
		one := ConstColumn(k.typ, k.v, 1)
		if one.IsNull(0) {
			return nil
		}
		d, err := exactValue(ctx, one, 0)
		if err != nil {
			return fmt.Errorf("%s: %w", a.name, err)
		}
		a.k, a.kSet = d, true
	}
	rows := a.rows
	for _, g := range groups {
		rows[g]++
	}
	return nil
}

// spill moves group g's sum to big.
func (a *exactSumAgg) spill(g int32) {
	if a.spilled == nil {
		a.spilled, a.big = grow(a.spilled, len(a.small)), grow(a.big, len(a.small))
	}
	if !a.spilled[g] {
		a.big[g], a.spilled[g] = decimal.NewFromInt(a.small[g]), true
	}
}

// exactValue is row r of c as an exact decimal.
func exactValue(ctx *sql.Context, c *Column, r int) (decimal.Decimal, error) {
	if c.Kind == KindInt && !types.IsUnsigned(c.Type) && !intNeedsConvert(c.Type) {
		return decimal.NewFromInt(c.I[r]), nil
	}
	v := c.Value(r)
	switch x := v.(type) {
	case decimal.Decimal:
		return x, nil
	case uint64:
		return decimal.NewFromUint64(x), nil
	case int64:
		return decimal.NewFromInt(x), nil
	}
	d, _, err := types.InternalDecimalType.Convert(ctx, v)
	if err != nil {
		return decimal.Decimal{}, err
	}
	return d.(decimal.Decimal), nil
}

func (a *exactSumAgg) result(ctx *sql.Context, ngroups int) (*Column, error) {
	a.small, a.rows = grow(a.small, ngroups), grow(a.rows, ngroups)
	out := NewColumn(a.typ, ngroups)
	for g := range ngroups {
		if a.rows[g] == 0 {
			out.Append(nil)
			continue
		}
		sum := decimal.NewFromInt(a.small[g])
		switch {
		case a.kSet:
			sum = a.k.Mul(decimal.NewFromInt(a.rows[g]))
		case a.spilled != nil && g < len(a.spilled) && a.spilled[g]:
			sum = a.big[g]
		}
		if a.avg {
			sum = sum.DivRound(decimal.NewFromInt(a.rows[g]), int32(a.typ.Scale()))
		}
		out.Append(sum)
	}
	return out, nil
}

package native

// This file owns the filter's time ranges: conjuncts that compare a
// DATETIME or DATE column with a constant (time >= '2025-03-01',
// time < TIMESTAMP(…), the halves of BETWEEN), the bounds every BI tool
// puts on a time series. The scan's pushed-down pre-filter already
// skips blocks outside them, so nearly every batch that reaches the
// filter lies inside the range whole; the filter then proves that once
// per batch instead of comparing every row.
//
// The proof: such a conjunct is TRUE on a set of the column's values
// that is an interval (a comparison with a constant is monotone in the
// value: the conversions it may apply to both sides, rounding a
// DATETIME's fraction, or a DATE to a DATETIME, never reorder values).
// So when it is TRUE for the smallest and for the largest non-NULL value
// of a batch, it is TRUE for every non-NULL value between them, and
// those two values are evaluated by the conjunct's own compiled
// expression, which is what every row would get. NULL rows make the
// conjunct NULL and are dropped. Any other batch (a bound inside it,
// values outside [1000-01-01, 9999-12-31], a representative that warns)
// evaluates the condition whole, as before.
//
// TIMESTAMP columns are not ranges: their values are read in the
// session's zone, and a zone's clock goes back once a year.

import (
	"slices"
	"time"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/expression"
	"github.com/dolthub/vitess/go/sqltypes"
)

// timeRanges is a filter's time-range conjuncts and the filter of the
// rest of its condition.
type timeRanges struct {
	conj  []rangeConjunct
	cols  []int     // the distinct columns the conjuncts read
	inner *filterOp // the condition without the ranges; nil: nothing else
	sch   sql.Schema
}

// rangeConjunct is a comparison of input column col with a constant.
type rangeConjunct struct {
	col int
	x   Expr
}

// planRanges splits the time-range conjuncts off cond (over sch) into
// f.ranges, when there are any and the rest compiles.
func (f *filterOp) planRanges(ctx *sql.Context, cond sql.Expression, sch sql.Schema) {
	comp := &Compiler{In: sch}
	tr := &timeRanges{sch: sch}
	var rest []sql.Expression
	for _, e := range expression.SplitConjunction(ctx, cond) {
		if col, ok := rangeColumn(ctx, e, sch); ok {
			if x, err := comp.Compile(ctx, e); err == nil && !mayFail(x) {
				tr.conj = append(tr.conj, rangeConjunct{col: col, x: x})
				if !containsInt(tr.cols, col) {
					tr.cols = append(tr.cols, col)
				}
				continue
			}
		}
		rest = append(rest, e)
	}
	if len(tr.conj) == 0 {
		return
	}
	if len(rest) > 0 {
		restCond := expression.JoinAnd(rest...)
		// The rest is evaluated only on the rows with times, and (when
		// it came first in the condition) no longer on the others: that
		// is unobservable only for a rest that can neither fail nor warn.
		x, err := comp.Compile(ctx, restCond)
		if err != nil || mayFail(x) {
			return
		}
		tr.inner = &filterOp{child: f.child, cond: x, name: f.name}
		tr.inner.planCoded(ctx, restCond, sch)
	}
	f.ranges = tr
}

func containsInt(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// rangeColumn is the column e compares with a constant, when e is
// column op constant or constant op column (op one of < <= > >= =),
// the column a DATETIME or DATE and the constant a time.
func rangeColumn(_ *sql.Context, e sql.Expression, sch sql.Schema) (int, bool) {
	var l, r sql.Expression
	switch x := e.(type) {
	case *expression.GreaterThan:
		l, r = x.Left(), x.Right()
	case *expression.GreaterThanOrEqual:
		l, r = x.Left(), x.Right()
	case *expression.LessThan:
		l, r = x.Left(), x.Right()
	case *expression.LessThanOrEqual:
		l, r = x.Left(), x.Right()
	case *expression.Equals:
		l, r = x.Left(), x.Right()
	default:
		return 0, false
	}
	f, isField := l.(*expression.GetField)
	lit, isLit := r.(*expression.Literal)
	if !isField {
		f, isField = r.(*expression.GetField)
		lit, isLit = l.(*expression.Literal)
	}
	if !isField || !isLit {
		return 0, false
	}
	// The literal's type may be a string's (go-mysql-server's
	// TIMESTAMP(…) is typed as its argument): the comparison then may
	// read the column as text, whose fixed-width form keeps the order of
	// the times in the safe range, so its TRUE set is still an interval.
	if _, isTime := lit.Value().(time.Time); !isTime {
		return 0, false
	}
	i := f.Index()
	if i < 0 || i >= len(sch) {
		return 0, false
	}
	switch sch[i].Type.Type() {
	case sqltypes.Datetime, sqltypes.Date:
		return i, true
	}
	return 0, false
}

// filter is b's rows where the condition is TRUE, with ok false when b
// is not a batch the ranges decide (see the top of this file).
func (tr *timeRanges) filter(ctx *sql.Context, b *Batch) (out *Batch, ok bool, err error) {
	if b.N == 0 {
		return nil, true, nil
	}
	var nonNull []int32 // rows with no NULL in a range column; nil: all
	nulls := false
	for _, col := range tr.cols {
		c := b.Cols[col]
		if c.Kind != KindTime {
			return nil, false, nil
		}
		lo, hi, seen := minMaxTimes(c, b.N)
		if c.Nulls != nil && !nulls {
			nulls = slices.Contains(c.Nulls[:b.N], true)
		}
		if !seen {
			return nil, true, nil // every row NULL: every conjunct NULL
		}
		if lo < safeMinMicros || hi > safeMaxMicros {
			return nil, false, nil
		}
		for _, rc := range tr.conj {
			if rc.col != col {
				continue
			}
			if holds, err := tr.holdsAt(ctx, rc, c, lo, hi); err != nil || !holds {
				return nil, false, nil
			}
		}
	}
	if nulls {
		nonNull = make([]int32, 0, b.N)
		for r := range b.N {
			keep := true
			for _, col := range tr.cols {
				if b.Cols[col].IsNull(r) {
					keep = false
					break
				}
			}
			if keep {
				nonNull = append(nonNull, int32(r))
			}
		}
		if len(nonNull) == 0 {
			return nil, true, nil
		}
		b = b.Gather(nonNull)
	}
	if tr.inner == nil {
		return b, true, nil
	}
	out, err = tr.inner.filterBatch(ctx, b)
	return out, true, err
}

// holdsAt reports whether conjunct rc is TRUE for both values lo and hi
// of column c, evaluated quietly (a warning answers false: the batch
// then goes the way that warns as every row would).
func (tr *timeRanges) holdsAt(ctx *sql.Context, rc rangeConjunct, c *Column, lo, hi int64) (bool, error) {
	two := &Batch{N: 2, Cols: make([]*Column, len(tr.sch))}
	for i := range two.Cols {
		if i == rc.col {
			two.Cols[i] = &Column{Kind: KindTime, Type: c.Type, I: []int64{lo, hi}}
		} else {
			// The conjunct reads no other column.
			two.Cols[i] = &Column{Kind: KindNull, Type: tr.sch[i].Type}
		}
	}
	qctx, quiet := quietContext(ctx)
	res, err := rc.x.Eval(qctx, two)
	if err != nil || quiet.warnings > 0 {
		return false, nil
	}
	sel, err := TrueRows(qctx, res, make([]int32, 0, 2))
	if err != nil || quiet.warnings > 0 {
		return false, nil
	}
	return len(sel) == 2, nil
}

// minMaxTimes is the smallest and largest non-NULL value of the first n
// rows of KindTime column c, or bounds of them (column_hints.go) when c
// carries some, which every caller may take instead: each proves a
// property of all values between lo and hi; seen false when all are
// NULL.
func minMaxTimes(c *Column, n int) (lo, hi int64, seen bool) {
	if c.Bounded && c.Nulls == nil && n > 0 {
		return c.Lo, c.Hi, true
	}
	vs := c.I[:n]
	if c.Nulls == nil {
		if n == 0 {
			return 0, 0, false
		}
		lo, hi = vs[0], vs[0]
		for _, v := range vs[1:] {
			lo, hi = min(lo, v), max(hi, v)
		}
		return lo, hi, true
	}
	nulls := c.Nulls[:n]
	for r, v := range vs {
		if nulls[r] {
			continue
		}
		if !seen {
			lo, hi, seen = v, v, true
		}
		lo, hi = min(lo, v), max(hi, v)
	}
	return lo, hi, seen
}

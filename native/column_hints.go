package native

// This file owns a Column's value hints: facts about all of a batch's
// values that the code making the column knows for free, so that the
// operators above can prove something of the whole batch at once
// instead of row by row (DuckDB's constant vectors play the same part).
//
//   - Bounded (KindInt, KindTime): Lo and Hi bound the column's non-NULL
//     values. The events scan measures them while it converts a block's
//     times to microseconds; the time-range filter then tests two values
//     instead of passing over the batch, and a calendar function whose
//     bounds fall in one day (one hour, …) has one value.
//     INVARIANT: Lo <= I[r] <= Hi for every non-NULL row r. Bounds may
//     be wider than the values (a slice keeps its column's): a consumer
//     may only use them as bounds.
//   - Const: every row holds row 0's value and none is NULL (DATE(time)
//     of a batch of one day). The group table then looks one key up per
//     batch instead of one per row.
//     INVARIANT: Const only with at least one row, Nulls holding no
//     true, and every row's value (of the slice the Kind names, and its
//     codes or user numbers where present) equal to row 0's.
//
// Hints are never required: a column without them is read as before,
// and every value slice stays filled, so code that does not know the
// hints reads the same rows.

import "github.com/dolthub/go-mysql-server/sql"

// subsetHints gives out, a column of some of c's rows in any order
// (Slice, Gather), the hints of c that still hold: bounds hold for any
// subset, and one value is still one value unless out has NULLs (an
// outer join's missing rows) or no rows.
func (out *Column) subsetHints(c *Column) {
	if c.Bounded && (out.Kind == KindInt || out.Kind == KindTime) {
		out.Bounded, out.Lo, out.Hi = true, c.Lo, c.Hi
	}
	if c.Const && out.Kind == c.Kind && out.Kind != KindNull && out.Len() > 0 && !anyTrue(out.Nulls) {
		out.Const = true
	}
}

// isConst reports whether every row of c holds one non-NULL value, by
// its hints: Const, or bounds of one value over a column without NULLs.
func (c *Column) isConst() bool {
	if c.Const {
		return true
	}
	return c.Bounded && c.Lo == c.Hi && c.Nulls == nil && (c.Kind == KindInt || c.Kind == KindTime) && len(c.I) > 0
}

// setBounds marks c (KindInt or KindTime, filled) as bounded by lo and hi.
// REQUIRES: every non-NULL value of c lies in [lo, hi].
func (c *Column) setBounds(lo, hi int64) {
	c.Bounded, c.Lo, c.Hi = true, lo, hi
}

// fillConstInts is a column of type t and kind k whose n rows all hold v,
// hinted as such.
func fillConstInts(k Kind, t sql.Type, v int64, n int) *Column {
	out := &Column{Kind: k, Type: t, I: make([]int64, n)}
	for r := range out.I {
		out.I[r] = v
	}
	if n > 0 {
		out.setBounds(v, v)
		out.Const = true
	}
	return out
}

func anyTrue(bs []bool) bool {
	for _, b := range bs {
		if b {
			return true
		}
	}
	return false
}

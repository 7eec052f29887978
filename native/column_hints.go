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

import (
	"sync/atomic"

	"github.com/dolthub/go-mysql-server/sql"
)

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

// sharedConst keeps, for the last few constants an expression made, a
// value slice of BatchSize rows that all hold it, which the one-value
// columns the expression returns share: a batch of one day then costs
// no allocation. Columns are read-only once returned (package doc), so
// batches sharing one slice is as safe as sharing a cached block's.
// Safe for concurrent use: the scan's part workers evaluate one Expr.
// INVARIANT: a slot's key determines its value (the caller's key is a
// pure function's argument, or the value itself).
type sharedConst[T any] struct {
	slots [sharedConstSlots]atomic.Pointer[constSlot[T]]
	next  atomic.Uint32
}

type constSlot[T any] struct {
	key  int64
	vals []T // BatchSize copies of one value
}

// sharedConstSlots is how many constants an expression keeps: the part
// workers, each in its own day, take turns.
const sharedConstSlots = 4

// get is n copies of the value of key, value() computing it when no
// slot has it.
func (s *sharedConst[T]) get(key int64, n int, value func() T) []T {
	if n <= BatchSize {
		for i := range s.slots {
			if sl := s.slots[i].Load(); sl != nil && sl.key == key {
				return sl.vals[:n:n]
			}
		}
	}
	v := value()
	vals := make([]T, max(n, BatchSize))
	for i := range vals {
		vals[i] = v
	}
	if n <= BatchSize {
		s.slots[s.next.Add(1)%sharedConstSlots].Store(&constSlot[T]{key: key, vals: vals})
	}
	return vals[:n:n]
}

// constInts is a column of kind k and type t whose n rows all hold v,
// hinted as such, its values shared through cache (nil: its own).
func constInts(cache *sharedConst[int64], k Kind, t sql.Type, v int64, n int) *Column {
	if cache == nil || n == 0 {
		return fillConstInts(k, t, v, n)
	}
	out := &Column{Kind: k, Type: t, I: cache.get(v, n, func() int64 { return v })}
	out.setBounds(v, v)
	out.Const = true
	return out
}

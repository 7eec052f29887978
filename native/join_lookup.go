package native

// This file owns the user lookup probe: an inner hash join keyed by the
// events' distinct_id whose right input holds at most one row per user
// (a derived table grouped by distinct_id, such as a weekly cohort
// grid's per-user signup day) pairs each left row with that one row by
// an array index on the row's user number, instead of the general
// probe's per-row candidate cursor, chunk and segment bookkeeping:
//
//	FROM (SELECT distinct_id, DATE(MIN(time)) AS signup_day FROM events
//	      WHERE event = 'Signup' GROUP BY distinct_id) c
//	JOIN events e ON e.distinct_id = c.distinct_id
//
// What qualifies (newUserLookup, decided once the table is built):
//   - the join is inner or left outer, its condition exactly its one
//     key (no residual, no left filter, no bounds, no hoists);
//   - the table is keyed by user number (join_keys.go) with no wild row,
//     and every key has one right row (no chain link);
//   - per left batch: its key carries user numbers of the table's
//     numbering (else the batch goes the general way).
//
// INVARIANT: the pairs are exactly the general probe's: a left row whose
// key is NULL pairs with nothing, one whose user has a right row pairs
// with that row (its whole chain, which is the one row), in left order;
// the condition is the key alone, so every such pair is TRUE. A left
// outer join's row that pairs with nothing is emitted once with NULLs
// for the right columns (right row -1), in its place. Emission
// is the general path's (emit): a left batch whose every row matched is
// handed on without copying its columns.

import "github.com/dolthub/go-mysql-server/sql"

// userLookupOn turns the lookup probe on (a variable for tests, which
// compare the join with and without it).
var userLookupOn = true

// newUserLookup reports whether it's join takes the user lookup probe
// (see the file comment). REQUIRES: the table is built.
func newUserLookup(it *joinIter) bool {
	op := it.op
	if !userLookupOn || (op.kind != joinInner && op.kind != joinLeftOuter) || len(op.keys) != 1 {
		return false
	}
	if op.residual != nil || op.leftFilter != nil || len(op.bounds) > 0 || len(op.hoists) > 0 {
		return false
	}
	t := it.table
	if t == nil || t.users == nil || len(t.wild) > 0 {
		return false
	}
	for _, nx := range t.next {
		if nx >= 0 {
			return false // some user has two right rows
		}
	}
	return true
}

// probeLookup joins left batch it.lb by user number, emitting its pairs;
// false when the join or the batch is not one the probe takes, and it
// goes the general way.
func (it *joinIter) probeLookup(ctx *sql.Context) (bool, error) {
	if !it.lookupChecked {
		it.lookupChecked = true
		it.lookup = it.rn > 0 && newUserLookup(it)
	}
	if !it.lookup {
		return false, nil
	}
	vals, err := it.lkeys.compute(ctx, it.lb)
	if err != nil {
		return false, err
	}
	t := it.table
	if t.users == nil {
		// The general probe rekeyed the table by string (toStrings) for
		// a batch of another numbering: no numbers to look up any more.
		it.lookup = false
		return false, nil
	}
	if vals.users == nil || (vals.numbering != t.users && !t.users.SameNumbering(vals.numbering)) {
		return false, nil
	}
	heads, outer := t.heads, it.op.kind == joinLeftOuter
	for r, u := range vals.users {
		h := int32(-1) // a NULL key equals nothing
		if vals.state[r] == keyOK {
			if g, ok := t.findUser(u); ok {
				h = heads[g]
			}
		}
		if h >= 0 || outer {
			it.outL = append(it.outL, int32(r))
			it.outR = append(it.outR, h) // -1: the NULL-extended row
		}
	}
	for len(it.outL) > 0 {
		it.emit(min(len(it.outL), BatchSize))
	}
	it.lb = nil
	it.lookups++
	return true, nil
}

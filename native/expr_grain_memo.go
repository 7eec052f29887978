package native

// This file owns the grain cache's memo across batches (grainMemo): a
// bucket's value, once a batch has evaluated it, serves every later
// batch of the statement that has rows in that bucket. A batch of a
// day's segment holds rows of all 24 hours (its rows go user by user),
// so an hour-grain expression (DATE_ADD(DATE(time), INTERVAL HOUR(time)
// HOUR), which go-mysql-server evaluates by formatting and parsing a
// string) would otherwise be evaluated 24 times per batch; with the memo
// it is evaluated 24 times per statement.
//
// Exactness: the memo holds values of real rows of their buckets, each
// evaluated without an error or a warning (a representative that fails
// or warns sends its batch down the uncached path and is never stored),
// and an expression has one value per bucket (expr_grain.go), so a
// stored value is the one every row of its bucket gets. A compiled
// expression, and so its memo, lives for one statement: session state
// the value may read does not change under it.
//
// Concurrency: the scan's workers evaluate one compiled expression at
// once; the memo's map is read and written under its mutex, and a
// stored column is never written again.

import "sync"

// noBucket marks a slot without a bucket (the NULL rows'): never stored.
const noBucket = int64(-1 << 63)

// grainMemoMax bounds the buckets a memo stores (a minute grain over a
// year has half a million): past it, new buckets are evaluated per batch
// as without the memo.
const grainMemoMax = 4096

// grainMemo is a grain cache's values by bucket.
type grainMemo struct {
	mu   sync.Mutex
	vals map[int64]*Column // bucket → a one-row column of its value
}

// lookup is the memo's value of each slot's bucket (nil where it has
// none) and the slots it has none for, nil when it has them all.
func (m *grainMemo) lookup(buckets []int64) (known []*Column, missing []int32) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.vals) == 0 {
		missing = make([]int32, len(buckets))
		for i := range missing {
			missing[i] = int32(i)
		}
		return nil, missing
	}
	known = make([]*Column, len(buckets))
	for i, k := range buckets {
		if c, ok := m.vals[k]; ok && k != noBucket {
			known[i] = c
			continue
		}
		missing = append(missing, int32(i))
	}
	if missing == nil {
		return []*Column{joinConcatColumns(known, len(known))}, nil
	}
	return known, missing
}

// merge is the column of every slot's value: known's, and sc's rows for
// the missing slots (sc's row j is slot missing[j]'s), which it stores
// by bucket. REQUIRES: known and missing from lookup(buckets).
func (m *grainMemo) merge(known []*Column, missing []int32, sc *Column, buckets []int64) *Column {
	m.mu.Lock()
	if m.vals == nil {
		m.vals = make(map[int64]*Column)
	}
	for j, i := range missing {
		if k := buckets[i]; k != noBucket && len(m.vals) < grainMemoMax {
			if _, ok := m.vals[k]; !ok {
				m.vals[k] = sc.Slice(j, j+1)
			}
		}
	}
	m.mu.Unlock()
	if known == nil {
		return sc // nothing was known: sc is every slot, in order
	}
	for j, i := range missing {
		known[i] = sc.Slice(j, j+1)
	}
	return joinConcatColumns(known, len(known))
}

// rowsAt is rows at positions at of rows.
func rowsAt(rows []int32, at []int32) []int32 {
	if len(at) == len(rows) {
		return rows
	}
	out := make([]int32, len(at))
	for j, i := range at {
		out[j] = rows[i]
	}
	return out
}

package native

// This file owns the window operator's fast way to its sorted order when
// the window is PARTITION BY one distinct_id column that carries user
// numbers (Column.U): a counting sort of the rows by user number, then a
// sort of each partition by its ORDER BY keys, instead of one comparison
// sort of every row by (string, ORDER BY keys).
//
// Why the order is still right: a window's values depend on which rows
// share a partition and on their order within it, never on the order of
// the partitions (the operator hands rows out in input order). Under the
// column's byte-ordered collation two rows share a partition exactly when
// their strings are equal, exactly when their numbers are (see
// Column.U), so partitions keyed by number are the partitions
// go-mysql-server cuts. Within a partition rows are ordered by the ORDER
// BY keys, ties in input order, as sortedOrder orders them: the counting
// sort is stable, so a partition starts in input order and its sort
// breaks ties on the input position.
//
// A scan hands out a user's events together and in time order within a
// segment, so most partitions are already in ORDER BY order: each is
// checked first and sorted only when it is not.

import (
	"slices"
	"unicode/utf8"

	"arb/storage"
)

// userPartitionsMaxSpan bounds the counting array: numbers at most this
// many times the rows (plus a constant) are counted in an array, larger
// spans (a few rows of a huge numbering) take the comparison sort.
const userPartitionsMaxSpan = 4

// userKey is a partition key's user numbers, read from the input
// batches' columns (every one KindString with numbers of one numbering,
// or KindNull).
type userKey struct {
	cols []*Column // by batch
}

// userKeyOf is the partition key's columns when keys is one
// byte-ordered string key that is an input column carrying numbers of
// one numbering in every batch (a batch's column may also be all NULL);
// ok is false otherwise. The numbers are read where the batches hold
// them: neither they nor the strings are copied.
func (w *windowInput) userKeyOf(keys []sortKey) (k userKey, ok bool) {
	if len(keys) != 1 || !keys[0].binary || KindOf(keys[0].typ) != KindString {
		return k, false
	}
	f, isField := keys[0].x.(*fieldExpr)
	if !isField {
		return k, false
	}
	var users *storage.UserIDs
	k.cols = make([]*Column, len(w.batches))
	for i, b := range w.batches {
		c := b.Cols[f.idx]
		switch {
		case c.Kind == KindNull:
		case c.Kind != KindString || c.U == nil || len(c.U) != b.N:
			return k, false
		case users == nil:
			users = c.Users
		case !users.SameNumbering(c.Users):
			return k, false
		}
		k.cols[i] = c
	}
	return k, true
}

// slots is each input row's counting slot, in input order: 0 for NULL,
// user number + 1 otherwise, and the largest.
func (k userKey) slots(n int) (slots []uint32, maxSlot uint32) {
	slots = make([]uint32, 0, n)
	for _, c := range k.cols {
		switch {
		case c.Kind == KindNull:
			slots = slots[:len(slots)+c.Len()] // zeros: fresh capacity
		case c.Nulls == nil:
			for _, u := range c.U {
				slots = append(slots, u+1)
				maxSlot = max(maxSlot, u+1)
			}
		default:
			for i, u := range c.U {
				s := u + 1
				if c.Nulls[i] {
					s = 0
				}
				slots = append(slots, s)
				maxSlot = max(maxSlot, s)
			}
		}
	}
	return slots, maxSlot
}

// userPartitions is the rows 0..n-1 grouped by partition of key: perm
// lists the NULL partition first, then one partition per user number,
// each in input order; parts are the partition starts, then n. ok is
// false when the numbers span too far for a counting array or a string
// is not valid UTF-8.
func userPartitions(key userKey, n int, mem *memCharge) (perm []int32, parts []int, ok bool, err error) {
	if err := mem.grow(int64(n)*4, "window partitions"); err != nil {
		return nil, nil, false, err
	}
	slots, maxSlot := key.slots(n)
	span := int(maxSlot) + 1 // slot 0 is the NULL partition, user u is u+1
	if span > userPartitionsMaxSpan*n+1024 {
		return nil, nil, false, nil
	}
	if err := mem.grow(int64(span)*4+int64(n)*4, "window partitions"); err != nil {
		return nil, nil, false, err
	}
	count := make([]int32, span+1)
	for _, s := range slots {
		count[s+1]++
	}
	for s := 1; s <= span; s++ {
		count[s] += count[s-1]
	}
	// count[s] is now slot s's start; cut the partitions before filling.
	parts = make([]int, 0, 64)
	for s := range span {
		if count[s+1] > count[s] {
			parts = append(parts, int(count[s]))
		}
	}
	parts = append(parts, n)
	perm = make([]int32, n)
	for r, s := range slots {
		perm[count[s]] = int32(r)
		count[s]++
	}
	// go-mysql-server compares the strings rune by rune: byte equality is
	// its equality only on valid UTF-8. A partition's rows hold one
	// string, so checking each partition's first row checks every row.
	starts := make([]int, len(key.cols))
	for i, at := 1, 0; i < len(key.cols); i++ {
		at += key.cols[i-1].Len()
		starts[i] = at
	}
	for p := 0; p+1 < len(parts); p++ {
		r := int(perm[parts[p]])
		i, found := slices.BinarySearch(starts, r)
		if !found {
			i--
		}
		c := key.cols[i]
		if !c.IsNull(r-starts[i]) && !utf8.ValidString(c.S[r-starts[i]]) {
			return nil, nil, false, nil
		}
	}
	return perm, parts, true, nil
}

// sortPartitions sorts each partition perm[parts[p]:parts[p+1]], which
// is in input order, by rc's keys over cols, ties in input order.
func sortPartitions(rc *rowComparer, cols []keyCol, perm []int32, parts []int) error {
	if len(cols) == 0 {
		return nil
	}
	if c := cols[0].c; len(cols) == 1 && cols[0].fast && (c.Kind == KindInt || c.Kind == KindTime) && c.Nulls == nil && !rc.keys[0].day {
		// The common case (a user's events by time): the values compare
		// as they are.
		v, desc := c.I, rc.keys[0].desc
		less := func(a, b int32) int {
			if v[a] != v[b] {
				if (v[a] < v[b]) != desc {
					return -1
				}
				return 1
			}
			return int(a - b)
		}
		return sortEach(rc, perm, parts, less)
	}
	if k, null, ok := encodeOrderKey(&rc.keys[0], cols[0]); ok && len(cols) == 1 {
		less := func(a, b int32) int {
			if null != nil && null[a] != null[b] {
				return int(null[a]) - int(null[b])
			}
			if k[a] != k[b] {
				if k[a] < k[b] {
					return -1
				}
				return 1
			}
			return int(a - b)
		}
		return sortEach(rc, perm, parts, less)
	}
	cmp := func(a, b int32) int {
		if c := rc.compare(cols, int(a), cols, int(b)); c != 0 {
			return c
		}
		return int(a - b)
	}
	for p := 0; p+1 < len(parts); p++ {
		part := perm[parts[p]:parts[p+1]]
		if !isSortedBy(part, cmp) {
			slices.SortFunc(part, cmp)
		}
		if rc.err != nil {
			return rc.err
		}
	}
	return rc.err
}

// sortEach sorts each partition by cmp, a total order on rows (ties
// broken on the row), unless it is in order already.
func sortEach(rc *rowComparer, perm []int32, parts []int, cmp func(a, b int32) int) error {
	for p := 0; p+1 < len(parts); p++ {
		part := perm[parts[p]:parts[p+1]]
		if !isSortedBy(part, cmp) {
			slices.SortFunc(part, cmp)
		}
		if p%4096 == 4095 {
			if err := rc.ctx.Err(); err != nil {
				return err
			}
		}
	}
	return nil
}

func isSortedBy(part []int32, cmp func(a, b int32) int) bool {
	for i := 1; i < len(part); i++ {
		if cmp(part[i-1], part[i]) > 0 {
			return false
		}
	}
	return true
}

// encodeOrderKey is a key's values as order-preserving integers, by
// input row, with where NULLs go (nil when there is none), as encodeKey
// encodes a sort entry's; ok is false when the column does not compare
// natively or holds a value without an encoding.
func encodeOrderKey(key *sortKey, kc keyCol) (k []uint64, null []int8, ok bool) {
	if !kc.fast || kc.c.Kind == KindString {
		return nil, nil, false
	}
	n := kc.c.Len()
	enc := newKeyEncoder(key)
	k = make([]uint64, n)
	for r := range n {
		v, nr, ok := enc.encode(kc.c, r)
		if !ok {
			return nil, nil, false
		}
		k[r] = v
		if nr != 0 {
			if null == nil {
				null = make([]int8, n)
			}
			null[r] = nr
		}
	}
	return k, null, true
}

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

// userKey is a partition key's user numbers, by input row.
type userKey struct {
	u     []uint32
	nulls []bool // nil when no row is NULL
	// str is row r's string (for the UTF-8 check).
	str func(r int) string
}

// userKeyOf is the user numbers of keys when keys is one byte-ordered
// string key that is an input column carrying numbers of one numbering
// in every batch (a batch's column may also be all NULL); ok is false
// otherwise. The numbers are read from the batches: the strings are
// never copied.
func (w *windowInput) userKeyOf(keys []sortKey, mem *memCharge) (k userKey, ok bool, err error) {
	if len(keys) != 1 || !keys[0].binary || KindOf(keys[0].typ) != KindString {
		return k, false, nil
	}
	f, isField := keys[0].x.(*fieldExpr)
	if !isField {
		return k, false, nil
	}
	var users *storage.UserIDs
	for _, b := range w.batches {
		c := b.Cols[f.idx]
		switch {
		case c.Kind == KindNull:
		case c.Kind != KindString || c.U == nil || len(c.U) != b.N:
			return k, false, nil
		case users == nil:
			users = c.Users
		case !users.SameNumbering(c.Users):
			return k, false, nil
		}
	}
	if err := mem.grow(int64(w.n)*5, "window partitions"); err != nil {
		return k, false, err
	}
	k.u = make([]uint32, 0, w.n)
	starts := make([]int, len(w.batches))
	for i, b := range w.batches {
		c := b.Cols[f.idx]
		starts[i] = len(k.u)
		if c.Kind == KindNull || c.Nulls != nil {
			if k.nulls == nil {
				k.nulls = make([]bool, len(k.u), w.n)
			}
			for r := range b.N {
				k.nulls = append(k.nulls, c.IsNull(r))
			}
		} else if k.nulls != nil {
			k.nulls = k.nulls[:len(k.nulls)+b.N] // fresh capacity: false
		}
		if c.Kind == KindNull {
			k.u = k.u[:len(k.u)+b.N] // zeros, NULL rows
		} else {
			k.u = append(k.u, c.U...)
		}
	}
	batches := w.batches
	k.str = func(r int) string {
		i, found := slices.BinarySearch(starts, r)
		if !found {
			i--
		}
		return batches[i].Cols[f.idx].S[r-starts[i]]
	}
	return k, true, nil
}

// userPartitions is the rows 0..n-1 grouped by partition of key: perm
// lists the NULL partition first, then one partition per user number,
// each in input order; parts are the partition starts, then n. ok is
// false when the numbers span too far for a counting array or a string
// is not valid UTF-8.
func userPartitions(key userKey, n int, mem *memCharge) (perm []int32, parts []int, ok bool, err error) {
	isNull := func(r int) bool { return key.nulls != nil && key.nulls[r] }
	var maxU uint32
	for r, u := range key.u {
		if u > maxU && !isNull(r) {
			maxU = u
		}
	}
	span := int(maxU) + 2 // slot 0 is the NULL partition, user u is u+1
	if span > userPartitionsMaxSpan*n+1024 {
		return nil, nil, false, nil
	}
	if err := mem.grow(int64(span)*4+int64(n)*4, "window partitions"); err != nil {
		return nil, nil, false, err
	}
	slot := func(r int) int {
		if isNull(r) {
			return 0
		}
		return int(key.u[r]) + 1
	}
	count := make([]int32, span+1)
	for r := range n {
		count[slot(r)+1]++
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
	for r := range n {
		s := slot(r)
		perm[count[s]] = int32(r)
		count[s]++
	}
	// go-mysql-server compares the strings rune by rune: byte equality is
	// its equality only on valid UTF-8. A partition's rows hold one
	// string, so checking each partition's first row checks every row.
	for p := 0; p+1 < len(parts); p++ {
		r := int(perm[parts[p]])
		if !isNull(r) && !utf8.ValidString(key.str(r)) {
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
		for p := 0; p+1 < len(parts); p++ {
			part := perm[parts[p]:parts[p+1]]
			if !isSortedBy(part, less) {
				slices.SortFunc(part, less)
			}
			if p%4096 == 4095 {
				if err := rc.ctx.Err(); err != nil {
					return err
				}
			}
		}
		return nil
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

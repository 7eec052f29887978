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
)

// userPartitionsMaxSpan bounds the counting array: numbers at most this
// many times the rows (plus a constant) are counted in an array, larger
// spans (a few rows of a huge numbering) take the comparison sort.
const userPartitionsMaxSpan = 4

// userPartitions is the rows 0..n-1 grouped by partition when keys is a
// single byte-ordered string key whose column carries user numbers:
// perm lists the NULL partition first, then one partition per user
// number, each in input order; parts are the partition starts, then n.
// ok is false when the key does not qualify.
func userPartitions(keys []sortKey, cols []*Column, n int, mem *memCharge) (perm []int32, parts []int, ok bool, err error) {
	if len(keys) != 1 || !keys[0].binary || KindOf(keys[0].typ) != KindString {
		return nil, nil, false, nil
	}
	c := cols[0]
	if c.Kind != KindString || c.U == nil || len(c.U) != n {
		return nil, nil, false, nil
	}
	var maxU uint32
	for r, u := range c.U {
		if u > maxU && !c.IsNull(r) {
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
		if c.IsNull(r) {
			return 0
		}
		return int(c.U[r]) + 1
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
		if !c.IsNull(r) && !utf8.ValidString(c.S[r]) {
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

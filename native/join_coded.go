package native

// This file owns the coded probe: a hash join whose left key is a string
// column that comes with dictionary codes (an events scan's event, $os,
// …) looks each dictionary string up in the table once, and then pairs
// left rows with right rows by code, a slice index per row instead of a
// string hash and the general probe's per-row candidate cursor. BI
// tools' "series limit" joins the top-N values of a dimension back onto
// the events this way (… JOIN (SELECT event … LIMIT 5) ON event =
// event__).
//
// It applies to inner and semi joins whose condition is the one key
// (nothing residual, no filter of the left rows, no wild right key):
// every candidate pair of the table is then a TRUE pair. A dictionary
// string's key is computed by the join's own key expression, over a
// batch of the dictionary's strings, so a row gets the candidates it
// would get probed alone; a dictionary string whose key is not hashable
// (wild) sends the batch to the general probe. Pairs are listed as the
// general probe lists them: left rows in order, each with its chain of
// right rows in the right input's order.

import "github.com/dolthub/go-mysql-server/sql"

// codedJoinMax bounds the dictionaries the coded probe maps (four bytes
// a string, computed once per dictionary): past it the general probe's
// per-row lookups are cheaper than mapping strings no row may use.
const codedJoinMax = 1 << 12

// codedProbe is a join's per-dictionary candidates.
type codedProbe struct {
	col   int      // the left column the key reads
	keys  *keySet  // the left key, over batches of dictionary strings
	dict  []string // the dictionary heads are for (sameDict)
	heads []int32  // per code: its first right row, -1 none
	wild  bool     // dict has a string whose key is wild
	// uniqueKnown: 0 not yet computed, 1 every key has one right row,
	// 2 some key has more (unique).
	uniqueKnown uint8
}

// newCodedProbe is the coded probe of it's join, nil when the join is
// not one it applies to (see the top of this file).
func newCodedProbe(it *joinIter) *codedProbe {
	op := it.op
	if op.kind != joinInner && op.kind != joinSemi {
		return nil
	}
	if len(op.keys) != 1 || op.residual != nil || op.leftFilter != nil || len(op.bounds) > 0 || len(op.hoists) > 0 {
		return nil
	}
	if it.table == nil || len(it.table.wild) > 0 || it.table.users != nil {
		return nil
	}
	f, ok := op.keys[0].left.(*fieldExpr)
	if !ok || f.idx < 0 || f.idx >= op.nl || KindOf(f.typ) != KindString {
		return nil
	}
	return &codedProbe{col: f.idx, keys: newKeySet(op.keys, true)}
}

// probeCoded joins left batch it.lb by code, emitting its pairs; false
// when the batch is not one the coded probe takes (no codes, a large
// dictionary, a wild key), and it goes the general way.
func (it *joinIter) probeCoded(ctx *sql.Context) (bool, error) {
	if !it.codedChecked {
		it.codedChecked = true
		if it.rn > 0 {
			it.coded = newCodedProbe(it)
		}
	}
	p := it.coded
	if p == nil {
		return false, nil
	}
	b := it.lb
	c := b.Cols[p.col]
	codes, dict := c.dictCodes()
	if codes == nil || len(dict) > codedJoinMax {
		return false, nil
	}
	if !sameDict(dict, p.dict) {
		if err := p.mapDict(ctx, it, c, dict); err != nil {
			return false, err
		}
	}
	if p.wild {
		return false, nil
	}
	next := it.table.next
	semi := it.op.kind == joinSemi
	if !semi && c.Nulls == nil && p.unique(it) {
		// One right row per key (a top-N subquery's values): a row's
		// pairs are at most its head, listed without appends.
		it.outL, it.outR = joinResize(it.outL, b.N), joinResize(it.outR, b.N)
		k := 0
		for r, code := range codes[:b.N] {
			if h := p.heads[code]; h >= 0 {
				it.outL[k], it.outR[k] = int32(r), h
				k++
			}
		}
		it.outL, it.outR = it.outL[:k], it.outR[:k]
		for len(it.outL) > 0 {
			it.emitCoded(min(len(it.outL), BatchSize))
		}
		it.lb = nil
		return true, nil
	}
	for r, code := range codes[:b.N] {
		if c.Nulls != nil && c.Nulls[r] {
			continue // a NULL key equals nothing
		}
		h := p.heads[code]
		if h < 0 {
			continue
		}
		if semi {
			it.outL = append(it.outL, int32(r))
			continue
		}
		for ; h >= 0; h = next[h] {
			it.outL = append(it.outL, int32(r))
			it.outR = append(it.outR, h)
		}
	}
	for len(it.outL) > 0 {
		it.emitCoded(min(len(it.outL), BatchSize))
	}
	it.lb = nil
	return true, nil
}

// emitCoded is emit for the coded probe's pairs: the left columns keep
// their dictionary codes (Column.Gather), so the group table above
// groups them by code as it would the scan's own batches.
func (it *joinIter) emitCoded(n int) {
	l := it.outL[:n]
	whole := n == it.lb.N // every left row, in order, once
	for i := 0; whole && i < n; i++ {
		whole = l[i] == int32(i)
	}
	read := it.op.outRead
	b := &Batch{N: n, Cols: make([]*Column, 0, it.op.nl+it.op.nr)}
	for i, c := range it.lb.Cols {
		switch {
		case whole:
			b.Cols = append(b.Cols, c)
		case read != nil && !read[i]:
			b.Cols = append(b.Cols, unreadColumn(it.op.sch[i].Type, n))
		case c.Codes != nil:
			b.Cols = append(b.Cols, c.Gather(l))
		default:
			b.Cols = append(b.Cols, joinGather(c, l))
		}
	}
	if !it.op.kind.partial() {
		for i, c := range it.rb.Cols {
			if read != nil && !read[it.op.nl+i] {
				// Nothing above reads it (a series limit's own count).
				b.Cols = append(b.Cols, unreadColumn(it.op.sch[it.op.nl+i].Type, n))
				continue
			}
			b.Cols = append(b.Cols, joinGather(c, it.outR[:n]))
		}
		it.outR = append(it.outR[:0], it.outR[n:]...)
	}
	it.ready = append(it.ready, b)
	it.outL = append(it.outL[:0], it.outL[n:]...)
}

// unique reports whether every key of it's table has one right row (no
// chain link), so a left row has at most one pair. Computed once.
func (p *codedProbe) unique(it *joinIter) bool {
	if p.uniqueKnown == 0 {
		p.uniqueKnown = 1
		for _, nx := range it.table.next {
			if nx >= 0 {
				p.uniqueKnown = 2
				break
			}
		}
	}
	return p.uniqueKnown == 1
}

// mapDict computes p.heads for dict, the dictionary of left column c.
func (p *codedProbe) mapDict(ctx *sql.Context, it *joinIter, c *Column, dict []string) error {
	op := it.op
	db := &Batch{N: len(dict), Cols: make([]*Column, op.nl)}
	for i := range db.Cols {
		if i == p.col {
			db.Cols[i] = &Column{Kind: KindString, Type: c.Type, S: dict}
		} else {
			// The key reads no other column.
			db.Cols[i] = &Column{Kind: KindNull, Type: op.left.Schema()[i].Type}
		}
	}
	vals, err := p.keys.compute(ctx, db)
	if err != nil {
		return err
	}
	if grown := len(dict) - cap(p.heads); grown > 0 {
		if err := it.grow(4*int64(grown), "join: dictionary candidates"); err != nil {
			return err
		}
	}
	p.dict, p.wild = dict, false
	p.heads = joinResize(p.heads, len(dict))
	for i := range dict {
		switch vals.state[i] {
		case keyOK:
			p.heads[i] = it.table.head(vals, i)
		case keyNull:
			p.heads[i] = -1 // inner and semi joins: NULLs do not matter
		default:
			p.wild = true
		}
	}
	return nil
}

package native

// This file owns a join's run (joinIter): it reads the first left batch,
// then the whole right input into one batch and, for a hash join, the
// hash table over it; then, left batch by left batch, it lists each left
// row's candidate right rows, evaluates the condition on them in chunks
// of at most BatchSize pairs, and emits rows by the join's kind (see
// hash_join.go) in left order, each left row's pairs in right order.
//
// Candidates of a left row:
//   - nested loop (no key): every right row, decided by the condition;
//   - hash join, key typed: the rows of its hash chain, decided by the
//     residual (the keys are equal), merged in right order with the
//     table's wild rows, decided by the whole condition;
//   - hash join with bounds (joinBound) and a time-range index
//     (join_time_range.go, a table without wild rows): the rows of its
//     key's group within the bounds' range, found by binary search, in
//     right order; pairs of an exact window are TRUE without the residual;
//   - key NULL: none (Equals is NULL, the pair is never TRUE), except
//     where NULLs matter (NOT IN): every right row, decided by the whole
//     condition; likewise a wild key.
//
// INVARIANT: a chunk's pairs are in output order, and a left row's state
// (matched, saw a NULL, decided) carries over from one chunk to the next
// until its candidates end; a decided row (semi found a TRUE, anti a
// TRUE or NULL, NOT IN's left join a NULL) takes no more candidates.
// Output batches hold at most BatchSize rows and never span two left
// batches (their left positions index one).

import (
	"io"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/expression"
	"github.com/dolthub/go-mysql-server/sql/transform"

	"arb/engine"
	"arb/storage"
)

func (op *joinOp) Open(ctx *sql.Context, run *Run) (BatchIter, error) {
	it := &joinIter{op: op, run: run, budget: engine.MemoryBudgetOf(ctx), stateLi: -1}
	if op.leftUsersScan == nil && op.leftKeysScan == nil {
		// (Otherwise opened once the right input is read: step.)
		left, err := op.left.Open(ctx, run)
		if err != nil {
			return nil, err
		}
		it.left = left
	}
	if len(op.keys) > 0 {
		it.lkeys = newKeySet(op.keys, true)
	}
	return it, nil
}

// Condition results of a pair.
const (
	pairFalse int8 = iota
	pairTrue
	pairNull
)

// rowMode is how a left row's candidates are listed.
type rowMode uint8

const (
	candNone  rowMode = iota
	candChain         // the hash chain merged with the table's wild rows
	candAll           // every right row
	candList          // the rows of cand (a time range, join_time_range.go)
)

// joinSegment is one left row's pairs in a chunk: [from, to); last when the
// row's candidates end in this chunk.
type joinSegment struct {
	li       int
	from, to int
	last     bool
}

type joinIter struct {
	op     *joinOp
	run    *Run
	left   BatchIter
	budget *engine.MemoryBudget
	charge int64

	built bool
	rb    *Batch // the right input, all rows; nil until needed (right())
	rbs   []*Batch
	rn    int
	table *joinTable

	// ahead: left batches read before the build (readAhead), probed
	// first; leftDone when they are the whole left input.
	ahead      []*Batch
	aheadBytes int64
	leftDone   bool

	lkeys  *keySet
	lvals  *keyVals
	lb     *Batch      // the left batch being probed; nil between batches
	lpass  []int8      // lb's rows' leftFilter results (nil: no filter)
	lhoist []*Column   // lb's left hoists (nil at right hoists' places)
	rhoist []*Column   // rb's right hoists (nil at left hoists' places)
	li     int         // the left row whose candidates are listed next
	bcols  []boundCols // lb's bounds (prepareBounds); empty: none apply
	// timeRange indexes the table's groups by the bounds' right values
	// (join_time_range.go), made on the first left batch with bounds;
	// nil when it could not be (timeRangeTried).
	timeRange      *joinTimeRange
	timeRangeTried bool
	// rvals are the right values of op.bounds' leading bounds over the
	// right input (rightBoundValues), made on the first left batch.
	rvals []*Column

	// The open row's candidate cursor: the row whose candidates did not
	// all fit in the last chunk, or the one being listed.
	open            bool
	mode            rowMode
	allFull         bool // candAll pairs are decided by the whole condition
	chain           int32
	wildPos, allPos int
	cand            []int32 // candList: the open row's candidates
	candPos         int
	candTrue        bool // candList: every pair of cand is TRUE

	// The state of row stateLi, the last row apply saw.
	stateLi          int
	matched, sawNull bool
	decided          bool

	pl, pr     []int32   // a chunk's pairs
	pcols      []*Column // buffers of the pair columns, reused
	anyFull    bool      // some pair is decided by the whole condition
	pairsTrue  bool      // every pair of the chunk is known TRUE (candTrue)
	allTrue    bool      // every pair of the chunk is TRUE (no condition left)
	segs       []joinSegment
	res        []int8
	outL, outR []int32 // emitted, not yet in a batch
	ready      []*Batch
	eof        bool
	rightIt    BatchIter // open while build reads it

	coded        *codedProbe // join_coded.go; nil: not applicable
	codedChecked bool

	// lookup: the user lookup probe applies (join_lookup.go), once
	// lookupChecked; lookups counts the left batches it joined.
	lookup, lookupChecked bool
	lookups               int

	// users is the right input folded by user (join_users.go), nil when
	// the join does not use it; usersFailed once it could not be, and
	// noKeyFilter once the left input read ahead is no longer the rest of
	// it (dropUsers).
	users       *userSummary
	usersFailed bool
	noKeyFilter bool
}

func (it *joinIter) Next(ctx *sql.Context) (*Batch, error) {
	for len(it.ready) == 0 {
		if it.eof {
			return nil, io.EOF
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if err := it.step(ctx); err != nil {
			return nil, err
		}
	}
	b := it.ready[0]
	it.ready[0] = nil
	it.ready = it.ready[1:]
	return b, nil
}

func (it *joinIter) Close(ctx *sql.Context) error {
	var err error
	if it.left != nil {
		err = it.left.Close(ctx)
		it.left = nil
	}
	if it.rightIt != nil {
		if e := it.rightIt.Close(ctx); err == nil {
			err = e
		}
		it.rightIt = nil
	}
	it.rb, it.rbs, it.table, it.lb, it.ready, it.ahead = nil, nil, nil, nil, nil, nil
	if it.charge != 0 {
		it.budget.Grow(-it.charge, "join")
		it.charge = 0
	}
	it.eof = true
	return err
}

func (it *joinIter) grow(n int64, what string) error {
	it.charge += n
	return it.budget.Grow(n, what)
}

// step advances the join by one chunk of pairs (or one left batch).
func (it *joinIter) step(ctx *sql.Context) error {
	if it.lb == nil {
		if !it.built && (it.op.leftUsersScan != nil || it.op.leftKeysScan != nil) {
			// The right input first: its users (or event names,
			// join_keys_scan.go) restrict the left scan.
			if err := it.build(ctx); err != nil {
				return err
			}
			if it.rn == 0 {
				it.eof = true // an inner or semi join: nothing can match
				return nil
			}
			if err := it.openLeftForUsers(ctx); err != nil {
				return err
			}
		}
		if !it.built {
			if err := it.readAhead(ctx); err != nil {
				return err
			}
			if len(it.ahead) == 0 {
				it.eof = true
				return nil
			}
			// Read only once a left row exists, as go-mysql-server
			// builds the right side per left row.
			if err := it.build(ctx); err != nil {
				return err
			}
			if it.rn == 0 && (it.op.kind == joinInner || it.op.kind == joinSemi || it.op.kind == joinCross) {
				it.eof = true // nothing can match
				return nil
			}
		}
		var b *Batch
		if len(it.ahead) > 0 {
			b = it.ahead[0]
			it.ahead[0] = nil
			it.ahead = it.ahead[1:]
			if len(it.ahead) == 0 && it.aheadBytes != 0 {
				it.grow(-it.aheadBytes, "join: left input read ahead")
				it.aheadBytes = 0
			}
		} else {
			if it.leftDone {
				it.eof = true
				return nil
			}
			var err error
			b, err = it.left.Next(ctx)
			if err == io.EOF {
				it.leftDone, it.eof = true, true
				return nil
			}
			if err != nil {
				return err
			}
		}
		if it.users != nil {
			if done, err := it.probeUsers(ctx, b); done || err != nil {
				return err
			}
			if err := it.dropUsers(ctx); err != nil {
				return err
			}
		}
		it.lb, it.li, it.open, it.stateLi = b, 0, false, -1
		if done, err := it.probeCoded(ctx); done || err != nil {
			return err
		}
		if done, err := it.probeLookup(ctx); done || err != nil {
			return err
		}
		if err := it.prepareLeft(ctx); err != nil {
			return err
		}
	}
	if err := it.chunk(ctx); err != nil {
		return err
	}
	for len(it.outL) >= BatchSize {
		it.emit(BatchSize)
	}
	if it.li >= it.lb.N && !it.open {
		if len(it.outL) > 0 {
			it.emit(len(it.outL))
		}
		it.lb = nil
	}
	return nil
}

// joinFilterRight is b's rows for which the right filter is TRUE (nil:
// none).
func joinFilterRight(ctx *sql.Context, f Expr, b *Batch) (*Batch, error) {
	c, err := f.Eval(ctx, b)
	if err != nil {
		return nil, err
	}
	pass := make([]int8, b.N)
	if err := joinTruth(ctx, c, pass); err != nil {
		return nil, err
	}
	sel := make([]int32, 0, b.N)
	for r, v := range pass {
		if v == pairTrue {
			sel = append(sel, int32(r))
		}
	}
	switch len(sel) {
	case 0:
		return nil, nil
	case b.N:
		return b, nil
	}
	return b.Gather(sel), nil
}

// openLeftForUsers opens the left scan of an inner or semi join whose
// right input is built: restricted to the table's users when the table
// is keyed by user numbers and has no wild rows (a left row of another
// user then has no candidate), to the table's event names for a left
// keys scan (join_keys_scan.go), whole otherwise.
func (it *joinIter) openLeftForUsers(ctx *sql.Context) error {
	t := it.table
	var err error
	if it.op.leftKeysScan != nil {
		// The right input's event names (join_keys_scan.go); nil opens
		// the scan whole.
		it.left, err = it.op.leftKeysScan.openWith(ctx, nil, nil, keysFilter(t))
		return err
	}
	if s := it.users; s != nil && s.has != nil {
		// The summary's users: a left row of another has no TRUE pair.
		if err := it.grow(8*int64(cap(s.has)), "join: right users"); err != nil {
			return err
		}
		it.left, err = it.op.leftUsersScan.open(ctx, s.has, s.numbering)
	} else if t != nil && t.users != nil && len(t.wild) == 0 {
		var bits []uint64
		for _, u := range t.groupUser {
			for int(u>>6) >= len(bits) {
				bits = append(bits, make([]uint64, max(len(bits), int(u>>6)+1-len(bits)))...)
			}
			bits[u>>6] |= 1 << (u & 63)
		}
		if err := it.grow(8*int64(cap(bits)), "join: right users"); err != nil {
			return err
		}
		it.left, err = it.op.leftUsersScan.open(ctx, bits, t.users)
	} else {
		it.left, err = it.op.left.Open(ctx, it.run)
	}
	return err
}

// joinReadAhead is how many left rows a join reads before its right
// input, at least, and joinReadAheadBytes how many bytes of them: a left
// input that ends before both are read is known whole, and its keys
// filter the right input before the table is built (keyFilter). The bytes let a
// narrow left input of a few hundred thousand rows (the signups of two
// weeks) restrict the right scan to its users instead of reading every
// user's rows. (Variables for tests.)
var (
	joinReadAhead      = 1 << 16
	joinReadAheadBytes = int64(16 << 20)
)

// readAhead reads left batches until both joinReadAhead rows and
// joinReadAheadBytes bytes, or the end.
func (it *joinIter) readAhead(ctx *sql.Context) error {
	rows := 0
	for rows < joinReadAhead || it.aheadBytes < joinReadAheadBytes {
		b, err := it.left.Next(ctx)
		if err == io.EOF {
			it.leftDone = true
			return nil
		}
		if err != nil {
			return err
		}
		it.ahead = append(it.ahead, b)
		rows += b.N
		n := b.Bytes()
		it.aheadBytes += n
		if err := it.grow(n, "join: left input read ahead"); err != nil {
			return err
		}
	}
	return nil
}

// build reads the right input and indexes it. Its batches are kept as
// they come (right() makes them one batch when pair columns are first
// needed); their keys are computed batch by batch and gathered into one
// key list, from which the table is built.
func (it *joinIter) build(ctx *sql.Context) error {
	it.built = true
	op := it.op
	var filter *keyFilter
	if it.leftDone && len(op.keys) > 0 && !it.noKeyFilter {
		var err error
		if filter, err = newKeyFilter(ctx, op, it.ahead); err != nil {
			return err
		}
	}
	openRight := func() (BatchIter, error) {
		if filter != nil && filter.bits != nil && op.usersScan != nil {
			// The scan reads only the left users' rows (no other can pair).
			return op.usersScan.open(ctx, filter.bits, filter.users)
		}
		return op.right.Open(ctx, it.run)
	}
	rit, err := openRight()
	if err != nil {
		return err
	}
	it.rightIt = rit
	if op.users != nil && joinUserSummaryOn && !it.usersFailed {
		ok, err := it.buildUsers(ctx, rit)
		if err != nil {
			return err
		}
		it.rightIt = nil
		if err := rit.Close(ctx); err != nil {
			return err
		}
		if ok {
			if filter != nil {
				return it.grow(filter.bytes(), "join: left keys")
			}
			return nil
		}
		it.usersFailed = true
		if rit, err = openRight(); err != nil {
			return err
		}
		it.rightIt = rit
	}
	var acc *keyAccum
	var rk *keySet
	if len(op.keys) > 0 {
		rk = newKeySet(op.keys, false)
		rk.freshArena = true
		acc = &keyAccum{single: rk.single}
	}
	for {
		b, err := rit.Next(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if op.rightFilter != nil {
			// Filtered batch by batch: only the rows that pass are kept.
			if b, err = joinFilterRight(ctx, op.rightFilter, b); err != nil {
				return err
			}
			if b == nil {
				continue
			}
		}
		var vals *keyVals
		if rk != nil {
			rk.buf = nil // charged below, for this batch's keys only
			if vals, err = rk.compute(ctx, b); err != nil {
				return err
			}
			if filter != nil {
				if b, vals, err = filter.apply(ctx, b, vals, op.kind.nullsMatter()); err != nil {
					return err
				}
				if b == nil {
					continue
				}
			}
			before := acc.bytes()
			acc.add(vals, rk.stable, b.N)
			if err := it.grow(int64(cap(rk.buf))+acc.bytes()-before, "join: hash table"); err != nil {
				return err
			}
		}
		it.rbs = append(it.rbs, b)
		it.rn += b.N
		if err := it.grow(b.Bytes(), "join: right input"); err != nil {
			return err
		}
	}
	it.rightIt = nil
	if err := rit.Close(ctx); err != nil {
		return err
	}
	if filter != nil {
		if err := it.grow(filter.bytes(), "join: left keys"); err != nil {
			return err
		}
	}
	if len(op.keys) == 0 || it.rn == 0 {
		_, err := it.right(ctx)
		return err
	}
	vals := acc.vals()
	if vals == nil {
		// Keys that did not outlive their batch's computation: computed
		// again over the right input as one batch.
		rb, err := it.right(ctx)
		if err != nil {
			return err
		}
		rk := newKeySet(op.keys, false)
		if vals, err = rk.compute(ctx, rb); err != nil {
			return err
		}
		if err := it.grow(int64(cap(rk.buf)), "join: hash table"); err != nil {
			return err
		}
	}
	it.table = buildTable(vals, acc.single, it.rn, op.kind.nullsMatter())
	if err := it.grow(it.table.bytes(), "join: hash table"); err != nil {
		return err
	}
	if !op.kind.partial() {
		// Every output row reads the right columns.
		_, err := it.right(ctx)
		return err
	}
	return nil
}

// right is the right input as one batch, with its right hoists, made on
// first use: a semi or anti join whose condition is its keys never
// reads the right rows, only the table.
func (it *joinIter) right(ctx *sql.Context) (*Batch, error) {
	if it.rb != nil {
		return it.rb, nil
	}
	op := it.op
	switch len(it.rbs) {
	case 0:
		it.rb = &Batch{Cols: make([]*Column, len(op.right.Schema()))}
		for i, c := range op.right.Schema() {
			it.rb.Cols[i] = NewColumn(c.Type, 0)
		}
	case 1:
		it.rb = it.rbs[0]
	default:
		it.rb = joinConcat(it.rbs)
		// The batches go, the one batch stays: charged once.
		var read int64
		for _, b := range it.rbs {
			read += b.Bytes()
		}
		if err := it.grow(it.rb.Bytes()-read, "join: right input"); err != nil {
			return nil, err
		}
	}
	it.rbs = nil
	it.rhoist = make([]*Column, len(op.hoists))
	for i, h := range op.hoists {
		if h.left || it.rn == 0 {
			continue
		}
		c, err := h.x.Eval(ctx, it.rb)
		if err != nil {
			return nil, err
		}
		it.rhoist[i] = c
		if err := it.grow(c.Bytes(), "join: right input"); err != nil {
			return nil, err
		}
	}
	return it.rb, nil
}

// keyAccum gathers the right input's keys batch by batch, as long as
// they can be kept: numbers (a single numeric key), user numbers of one
// numbering (when the first batch has them), or else strings that
// outlive their computation.
type keyAccum struct {
	single    bool
	state     []keyState
	ints      []int64
	strs      []string
	users     []uint32
	numbering *storage.UserIDs
	started   bool
	failed    bool // some batch's keys could not be kept as the others
}

func (a *keyAccum) add(v *keyVals, stable bool, n int) {
	if a.failed {
		return
	}
	a.state = append(a.state, v.state[:n]...)
	switch {
	case a.single:
		a.ints = append(a.ints, v.ints[:n]...)
	case !a.started && v.users != nil || a.numbering != nil:
		if v.users == nil || (a.numbering != nil && !a.numbering.SameNumbering(v.numbering)) {
			a.failed = true
			break
		}
		a.users = append(a.users, v.users[:n]...)
		a.numbering = widerNumbering(a.numbering, v.numbering)
	case !stable:
		a.failed = true
	default:
		a.strs = append(a.strs, v.strs[:n]...)
	}
	a.started = true
	if a.failed {
		a.state, a.ints, a.strs, a.users = nil, nil, nil, nil
	}
}

// vals is the keys gathered, nil when they could not all be kept.
func (a *keyAccum) vals() *keyVals {
	switch {
	case a.failed:
		return nil
	case a.single:
		return &keyVals{state: a.state, ints: a.ints}
	case a.numbering != nil:
		return &keyVals{state: a.state, users: a.users, numbering: a.numbering}
	}
	return &keyVals{state: a.state, strs: a.strs}
}

// bytes is the memory of the gathered keys (the strings' bytes are the
// batches' or their arenas', charged with them).
func (a *keyAccum) bytes() int64 {
	return int64(cap(a.state)) + 8*int64(cap(a.ints)) + 4*int64(cap(a.users)) + 16*int64(cap(a.strs))
}

// keyFilter is the keys of a whole left input, a filter for the right
// input's rows: a right row whose key no left row has can pair with no
// left row (its key equality is FALSE, which makes the condition FALSE
// whatever the rest is), so it is dropped before the table is built. A
// right key that is NULL (where NULLs matter) or wild is kept.
type keyFilter struct {
	ints map[int64]struct{}
	// bits: the left keys as user numbers of users (every left batch
	// had them); strs: as strings, made from the left batches on first
	// need when bits came first.
	users *storage.UserIDs
	bits  []uint64
	strs  map[string]struct{}
	left  []*Batch
	keys  []joinKey
	// memo, for right rows with user numbers of memoUsers against strs:
	// per number 1 in, 2 out, 0 not looked up yet.
	memo      []uint8
	memoUsers *storage.UserIDs
	sel       []int32
}

// newKeyFilter is the filter of the left batches' keys, nil when the
// join's keys are not one hashed column or some left key is wild (or
// NULL where NULLs matter: such a row pairs with every right row).
func newKeyFilter(ctx *sql.Context, op *joinOp, left []*Batch) (*keyFilter, error) {
	if len(op.keys) != 1 {
		return nil, nil
	}
	ks := newKeySet(op.keys, true)
	f := &keyFilter{left: left, keys: op.keys}
	if ks.single {
		f.ints = map[int64]struct{}{}
	}
	strs := false
	for _, b := range left {
		v, err := ks.compute(ctx, b)
		if err != nil {
			return nil, err
		}
		if f.ints == nil && !strs && v.users != nil && (f.users == nil || f.users.SameNumbering(v.numbering)) {
			f.users = widerNumbering(f.users, v.numbering)
		} else if f.ints == nil {
			strs = true
		}
		for r := range b.N {
			switch v.state[r] {
			case keyWild:
				return nil, nil
			case keyNull:
				if op.kind.nullsMatter() {
					return nil, nil
				}
				continue
			}
			switch {
			case f.ints != nil:
				f.ints[v.ints[r]] = struct{}{}
			case !strs:
				u := v.users[r]
				for int(u>>6) >= len(f.bits) {
					f.bits = append(f.bits, make([]uint64, max(len(f.bits), int(u>>6)+1-len(f.bits)))...)
				}
				f.bits[u>>6] |= 1 << (u & 63)
			}
		}
	}
	if strs {
		f.users, f.bits = nil, nil
		if err := f.makeStrings(ctx); err != nil {
			return nil, err
		}
	}
	return f, nil
}

// makeStrings fills f.strs with the left keys as strings.
func (f *keyFilter) makeStrings(ctx *sql.Context) error {
	ks := newKeySet(f.keys, true)
	ks.freshArena = true
	f.strs = map[string]struct{}{}
	var seen []uint64 // user numbers of f.users already in strs
	for _, b := range f.left {
		v, err := ks.compute(ctx, b)
		if err != nil {
			return err
		}
		numbered := v.users != nil && f.users != nil && f.users.SameNumbering(v.numbering)
		for r := range b.N {
			if v.state[r] != keyOK {
				continue
			}
			if numbered {
				// A user's rows repeat its string: one insert per user.
				u := v.users[r]
				if int(u>>6) >= len(seen) {
					seen = append(seen, make([]uint64, int(u>>6)+1-len(seen))...)
				}
				if seen[u>>6]&(1<<(u&63)) != 0 {
					continue
				}
				seen[u>>6] |= 1 << (u & 63)
			}
			f.strs[v.strs[r]] = struct{}{}
		}
	}
	return nil
}

// bytes is the filter's memory.
func (f *keyFilter) bytes() int64 {
	return 8*int64(len(f.bits)) + 48*int64(len(f.ints)+len(f.strs)) + int64(len(f.memo))
}

// apply is the rows of right batch b (keys v) that the filter keeps,
// with their keys; nil when none.
func (f *keyFilter) apply(ctx *sql.Context, b *Batch, v *keyVals, nullsMatter bool) (*Batch, *keyVals, error) {
	f.sel = f.sel[:0]
	byBits := f.bits != nil && v.users != nil && f.users.SameNumbering(v.numbering)
	if f.ints == nil && !byBits && f.strs == nil {
		// Left numbers, right strings: the left strings, once.
		if err := f.makeStrings(ctx); err != nil {
			return nil, nil, err
		}
	}
	byMemo := !byBits && f.ints == nil && v.users != nil
	if byMemo && (f.memoUsers == nil || !f.memoUsers.SameNumbering(v.numbering)) {
		f.memo, f.memoUsers = nil, v.numbering
	}
	for r := range b.N {
		keep := false
		switch v.state[r] {
		case keyWild:
			keep = true
		case keyNull:
			keep = nullsMatter
		default:
			switch {
			case f.ints != nil:
				_, keep = f.ints[v.ints[r]]
			case byBits:
				u := v.users[r]
				keep = int(u>>6) < len(f.bits) && f.bits[u>>6]&(1<<(u&63)) != 0
			case byMemo:
				u := v.users[r]
				if int(u) >= len(f.memo) {
					f.memo = append(f.memo, make([]uint8, max(int(u)+1-len(f.memo), len(f.memo)))...)
				}
				if f.memo[u] == 0 {
					f.memo[u] = 2
					if _, ok := f.strs[v.strs[r]]; ok {
						f.memo[u] = 1
					}
				}
				keep = f.memo[u] == 1
			default:
				_, keep = f.strs[v.strs[r]]
			}
		}
		if keep {
			f.sel = append(f.sel, int32(r))
		}
	}
	switch len(f.sel) {
	case 0:
		return nil, nil, nil
	case b.N:
		return b, v, nil
	}
	out := &keyVals{state: make([]keyState, len(f.sel)), numbering: v.numbering}
	for i, r := range f.sel {
		out.state[i] = v.state[r]
	}
	if v.ints != nil && f.ints != nil {
		out.ints = make([]int64, len(f.sel))
		for i, r := range f.sel {
			out.ints[i] = v.ints[r]
		}
	}
	if v.users != nil {
		out.users = make([]uint32, len(f.sel))
		for i, r := range f.sel {
			out.users[i] = v.users[r]
		}
	}
	if v.strs != nil {
		out.strs = make([]string, len(f.sel))
		for i, r := range f.sel {
			out.strs[i] = v.strs[r]
		}
	}
	return b.Gather(f.sel), out, nil
}

// prepareLeft computes what the probe needs of a new left batch: its
// keys, its left filter results and its left hoists.
func (it *joinIter) prepareLeft(ctx *sql.Context) error {
	op, b := it.op, it.lb
	var err error
	if it.lkeys != nil && it.rn > 0 {
		if it.lvals, err = it.lkeys.compute(ctx, b); err != nil {
			return err
		}
	}
	it.lpass = nil
	if op.leftFilter != nil && it.rn > 0 {
		c, err := op.leftFilter.Eval(ctx, b)
		if err != nil {
			return err
		}
		it.lpass = joinResize(it.lpass, b.N)
		if err := joinTruth(ctx, c, it.lpass); err != nil {
			return err
		}
	}
	it.lhoist = it.lhoist[:0]
	for _, h := range op.hoists {
		var c *Column
		if h.left && it.rn > 0 {
			if c, err = h.x.Eval(ctx, b); err != nil {
				return err
			}
		}
		it.lhoist = append(it.lhoist, c)
	}
	return it.prepareBounds(ctx)
}

// openRow starts listing left row li's candidates.
func (it *joinIter) openRow() {
	it.open = true
	it.allPos, it.wildPos, it.allFull = 0, 0, false
	switch {
	case it.rn == 0 || (it.lpass != nil && it.lpass[it.li] != pairTrue):
		it.mode = candNone
	case it.lkeys == nil:
		it.mode = candAll
	default:
		switch it.lvals.state[it.li] {
		case keyOK:
			if it.timeRange != nil && len(it.bcols) > 0 {
				it.mode, it.cand, it.candPos, it.candTrue = candList, it.cand[:0], 0, false
				if g := it.table.group(it.lvals, it.li); g >= 0 {
					it.cand, it.candTrue = it.timeRange.candidates(it.cand, g, it.bcols, int32(it.li),
						it.op.kind.partial(), it.op.kind.nullsMatter())
				}
				break
			}
			it.mode = candChain
			it.chain = it.table.head(it.lvals, it.li)
		case keyNull:
			it.mode = candNone
			if it.op.kind.nullsMatter() {
				it.mode, it.allFull = candAll, true
			}
		default:
			it.mode, it.allFull = candAll, true
		}
	}
}

// pull appends the open row's next candidates, up to room pairs; true
// when its candidates end.
func (it *joinIter) pull(room int) bool {
	li := int32(it.li)
	switch it.mode {
	case candList:
		end := min(len(it.cand), it.candPos+room)
		for _, r := range it.cand[it.candPos:end] {
			if !it.candTrue && it.outOfBounds(li, r) {
				continue // a bound not searched (another column's)
			}
			it.pl = append(it.pl, li)
			it.pr = append(it.pr, r)
		}
		it.candPos = end
		return end == len(it.cand)
	case candAll:
		end := min(it.rn, it.allPos+room)
		for r := it.allPos; r < end; r++ {
			it.pl = append(it.pl, li)
			it.pr = append(it.pr, int32(r))
		}
		it.anyFull = it.anyFull || (it.allFull && end > it.allPos)
		it.allPos = end
		return end == it.rn
	case candChain:
		wild, next := it.table.wild, it.table.next
		if len(wild) == 0 {
			// The common case: the chain alone, in a tight loop.
			c := it.chain
			if c >= 0 && room > 0 && it.op.kind.partial() && it.op.residual == nil {
				// A semi or anti join with nothing past its keys: the
				// chain's first pair is TRUE and decides the row, so the
				// rest (a user's every other row) is never listed.
				it.pl = append(it.pl, li)
				it.pr = append(it.pr, c)
				it.chain = -1
				return true
			}
			if len(it.bcols) > 0 {
				// Pairs a bound makes FALSE are never listed.
				for ; c >= 0 && room > 0; c = next[c] {
					if it.outOfBounds(li, c) {
						continue
					}
					it.pl = append(it.pl, li)
					it.pr = append(it.pr, c)
					room--
				}
				it.chain = c
				return c < 0
			}
			for ; c >= 0 && room > 0; room-- {
				it.pl = append(it.pl, li)
				it.pr = append(it.pr, c)
				c = next[c]
			}
			it.chain = c
			return c < 0
		}
		for ; room > 0; room-- {
			w := int32(-1)
			if it.wildPos < len(wild) {
				w = wild[it.wildPos]
			}
			c := it.chain
			switch {
			case c < 0 && w < 0:
				return true
			case w < 0 || (c >= 0 && c < w):
				it.pl = append(it.pl, li)
				it.pr = append(it.pr, c)
				it.chain = next[c]
			default:
				it.pl = append(it.pl, li)
				it.pr = append(it.pr, w)
				it.anyFull = true
				it.wildPos++
			}
		}
		return it.chain < 0 && it.wildPos >= len(wild)
	}
	return true
}

// chunk lists up to BatchSize pairs, decides them and emits.
func (it *joinIter) chunk(ctx *sql.Context) error {
	it.pl, it.pr, it.segs, it.anyFull = it.pl[:0], it.pr[:0], it.segs[:0], false
	it.pairsTrue = true
	for len(it.pl) < BatchSize && it.li < it.lb.N {
		// A row still open from the last chunk has its state in
		// stateLi's: once decided it takes no more candidates.
		decided := it.open && it.stateLi == it.li && it.decided
		if !it.open {
			it.openRow()
		}
		from := len(it.pl)
		last := decided || it.pull(BatchSize-len(it.pl))
		if len(it.pl) > from && (it.mode != candList || !it.candTrue) {
			it.pairsTrue = false
		}
		it.segs = append(it.segs, joinSegment{li: it.li, from: from, to: len(it.pl), last: last})
		if !last {
			break
		}
		it.open = false
		it.li++
	}
	if err := it.decide(ctx); err != nil {
		return err
	}
	it.apply()
	return nil
}

// decide evaluates the condition on the chunk's pairs into it.res.
func (it *joinIter) decide(ctx *sql.Context) error {
	n := len(it.pl)
	it.res = joinResize(it.res, n)
	op := it.op
	x, refs := op.residual, op.residualRefs
	if it.anyFull {
		x, refs = op.full, op.fullRefs
	}
	it.allTrue = x == nil || n == 0 || it.pairsTrue && !it.anyFull
	if it.allTrue {
		for i := range it.res {
			it.res[i] = pairTrue
		}
		return nil
	}
	// The pair columns live only until the condition's result is read,
	// so their buffers are reused from chunk to chunk.
	for len(it.pcols) < len(refs) {
		it.pcols = append(it.pcols, &Column{})
	}
	if len(refs) > 0 && refs[len(refs)-1] >= op.nl {
		// refs ascend: the last reads the right input or a hoist.
		if _, err := it.right(ctx); err != nil {
			return err
		}
	}
	pb := &Batch{N: n, Cols: make([]*Column, len(refs))}
	for i, ref := range refs {
		switch h := ref - op.nl - op.nr; {
		case ref < op.nl:
			pb.Cols[i] = gatherInto(it.pcols[i], it.lb.Cols[ref], it.pl)
		case h < 0:
			pb.Cols[i] = gatherInto(it.pcols[i], it.rb.Cols[ref-op.nl], it.pr)
		case op.hoists[h].left:
			pb.Cols[i] = gatherInto(it.pcols[i], it.lhoist[h], it.pl)
		default:
			pb.Cols[i] = gatherInto(it.pcols[i], it.rhoist[h], it.pr)
		}
	}
	c, err := x.Eval(ctx, pb)
	if err != nil {
		return err
	}
	return joinTruth(ctx, c, it.res)
}

// joinTruth writes each row's condition result: NULL, or TRUE/FALSE as
// sql.EvaluateCondition converts the value.
func joinTruth(ctx *sql.Context, c *Column, res []int8) error {
	n := len(res)
	switch c.Kind {
	case KindNull:
		for i := range res {
			res[i] = pairNull
		}
		return nil
	case KindInt, KindTime:
		for i, v := range c.I[:n] {
			res[i] = pairFalse
			if v != 0 {
				res[i] = pairTrue
			}
		}
	case KindFloat:
		for i, v := range c.F[:n] {
			res[i] = pairFalse
			if v != 0 {
				res[i] = pairTrue
			}
		}
	default:
		for i := range res {
			if c.IsNull(i) {
				res[i] = pairNull
				continue
			}
			ok, err := sql.ConvertToBool(ctx, c.Value(i))
			if err != nil {
				return err
			}
			res[i] = pairFalse
			if ok {
				res[i] = pairTrue
			}
		}
		return nil
	}
	if c.Nulls != nil {
		for i := range res {
			if c.Nulls[i] {
				res[i] = pairNull
			}
		}
	}
	return nil
}

// apply runs the chunk's decided pairs through the join's kind.
func (it *joinIter) apply() {
	kind := it.op.kind
	if (kind == joinInner || kind == joinCross) && it.allTrue {
		// Every pair is a row: no state to keep.
		it.outL = append(it.outL, it.pl...)
		it.outR = append(it.outR, it.pr...)
		return
	}
	for _, s := range it.segs {
		if s.li != it.stateLi {
			it.stateLi = s.li
			it.matched, it.sawNull, it.decided = false, false, false
		}
		for p := s.from; p < s.to && !it.decided; p++ {
			switch it.res[p] {
			case pairTrue:
				it.matched = true
				switch kind {
				case joinInner, joinLeftOuter, joinLeftOuterExcludeNulls, joinCross:
					it.outL = append(it.outL, int32(s.li))
					it.outR = append(it.outR, it.pr[p])
				default: // semi, anti: the first TRUE decides
					it.decided = true
				}
			case pairNull:
				if kind.nullsMatter() {
					it.sawNull, it.decided = true, true
				}
			}
		}
		if !s.last {
			continue
		}
		emitLeft := false
		switch kind {
		case joinLeftOuter:
			if !it.matched {
				it.outL = append(it.outL, int32(s.li))
				it.outR = append(it.outR, -1)
			}
		case joinLeftOuterExcludeNulls:
			if !it.matched && !it.sawNull {
				it.outL = append(it.outL, int32(s.li))
				it.outR = append(it.outR, -1)
			}
		case joinSemi:
			emitLeft = it.matched
		case joinAnti:
			emitLeft = !it.matched && !it.sawNull
		case joinAntiIncludeNulls:
			emitLeft = !it.matched
		}
		if emitLeft {
			it.outL = append(it.outL, int32(s.li))
		}
	}
}

// emit moves the first n emitted rows into a batch.
func (it *joinIter) emit(n int) {
	l := it.outL[:n]
	// Left rows in a run (each with one pair, as in a join with a table
	// of one row per user, or a semi join passing every row): the left
	// columns are slices of the batch's, not copies.
	run := l[0] >= 0
	for i, li := range l {
		if li != l[0]+int32(i) {
			run = false
			break
		}
	}
	left := func(c *Column) *Column {
		if run {
			if int(l[0]) == 0 && n == it.lb.N {
				return c
			}
			return c.Slice(int(l[0]), int(l[0])+n)
		}
		return joinGather(c, l)
	}
	read := it.op.outRead
	var b *Batch
	if it.op.kind.partial() {
		b = &Batch{N: n, Cols: make([]*Column, 0, it.op.nl)}
		for i, c := range it.lb.Cols {
			if read != nil && !read[i] {
				b.Cols = append(b.Cols, unreadColumn(it.op.sch[i].Type, n))
				continue
			}
			b.Cols = append(b.Cols, left(c))
		}
	} else {
		r := it.outR[:n]
		b = &Batch{N: n, Cols: make([]*Column, 0, it.op.nl+it.op.nr)}
		for i, c := range it.lb.Cols {
			if read != nil && !read[i] {
				b.Cols = append(b.Cols, unreadColumn(it.op.sch[i].Type, n))
				continue
			}
			b.Cols = append(b.Cols, left(c))
		}
		for i, c := range it.rb.Cols {
			if read != nil && !read[it.op.nl+i] {
				b.Cols = append(b.Cols, unreadColumn(it.op.sch[it.op.nl+i].Type, n))
				continue
			}
			b.Cols = append(b.Cols, joinGather(c, r))
		}
	}
	it.ready = append(it.ready, b)
	it.outL = append(it.outL[:0], it.outL[n:]...)
	if !it.op.kind.partial() {
		it.outR = append(it.outR[:0], it.outR[n:]...)
	}
}

// joinGather is src.Gather(idx) (-1: NULL), with the loop of a column
// without NULLs and an index without -1 kept tight: the output of every
// join goes through here.
func joinGather(src *Column, idx []int32) *Column {
	if src.Nulls != nil || src.Kind == KindNull || src.Kind == KindAny {
		return src.Gather(idx)
	}
	for _, r := range idx {
		if r < 0 {
			return src.Gather(idx)
		}
	}
	out := &Column{Kind: src.Kind, Type: src.Type}
	switch src.Kind {
	case KindInt, KindTime:
		out.I = make([]int64, len(idx))
		for i, r := range idx {
			out.I[i] = src.I[r]
		}
	case KindFloat:
		out.F = make([]float64, len(idx))
		for i, r := range idx {
			out.F[i] = src.F[r]
		}
	case KindString:
		out.S = make([]string, len(idx))
		for i, r := range idx {
			out.S[i] = src.S[r]
		}
		if src.U != nil {
			out.U, out.Users = make([]uint32, len(idx)), src.Users
			for i, r := range idx {
				out.U[i] = src.U[r]
			}
		}
	}
	return out
}

// gatherInto is src's rows at idx (all >= 0) in dst's buffers, which
// it overwrites: src.Gather without allocating once dst has grown.
func gatherInto(dst, src *Column, idx []int32) *Column {
	n := len(idx)
	dst.Kind, dst.Type = src.Kind, src.Type
	if us, users := src.userNumbers(); us != nil {
		dst.U, dst.Users = joinResize(dst.U, n), users
		for i, r := range idx {
			dst.U[i] = us[r]
		}
	} else {
		dst.U, dst.Users = nil, nil
	}
	dst.Nulls = dst.Nulls[:0]
	if src.Nulls != nil || src.Kind == KindNull {
		dst.Nulls = joinResize(dst.Nulls, n)
		for i, r := range idx {
			dst.Nulls[i] = src.IsNull(int(r))
		}
	} else {
		dst.Nulls = nil
	}
	switch src.Kind {
	case KindInt, KindTime:
		dst.I = joinResize(dst.I, n)
		for i, r := range idx {
			dst.I[i] = src.I[r]
		}
	case KindFloat:
		dst.F = joinResize(dst.F, n)
		for i, r := range idx {
			dst.F[i] = src.F[r]
		}
	case KindString:
		dst.S = joinResize(dst.S, n)
		for i, r := range idx {
			dst.S[i] = src.S[r]
		}
	case KindAny:
		dst.A = joinResize(dst.A, n)
		for i, r := range idx {
			dst.A[i] = src.A[r]
		}
	}
	return dst
}

// joinConcat is one batch of all rows of bs, in order.
func joinConcat(bs []*Batch) *Batch {
	out := &Batch{Cols: make([]*Column, len(bs[0].Cols))}
	for _, b := range bs {
		out.N += b.N
	}
	cols := make([]*Column, len(bs))
	for j := range out.Cols {
		for i, b := range bs {
			cols[i] = b.Cols[j]
		}
		out.Cols[j] = joinConcatColumns(cols, out.N)
	}
	return out
}

// concatUsers is the user numbers of the string columns cs (n values in
// all) one after the other, nil unless every one that is not all NULL
// has numbers of one numbering (an all-NULL column's rows get 0).
func concatUsers(cs []*Column, n int) ([]uint32, *storage.UserIDs) {
	var users *storage.UserIDs
	for _, c := range cs {
		if allNullRows(c) {
			continue
		}
		us, u := c.userNumbers()
		if us == nil || (users != nil && !users.SameNumbering(u)) {
			return nil, nil
		}
		users = widerNumbering(users, u)
	}
	if users == nil {
		return nil, nil
	}
	out := make([]uint32, 0, n)
	for _, c := range cs {
		if c.U == nil {
			out = append(out, make([]uint32, c.Len())...)
		} else {
			out = append(out, c.U...)
		}
	}
	return out, users
}

// allNullRows reports whether every row of c is NULL.
func allNullRows(c *Column) bool {
	if c.Kind == KindNull {
		return true
	}
	if c.Nulls == nil {
		return c.Len() == 0
	}
	for _, null := range c.Nulls[:c.Len()] {
		if !null {
			return false
		}
	}
	return true
}

// joinConcatColumns is one column of the n values of cs, in order: of their
// Kind when they share one (all-NULL columns aside), KindAny otherwise.
func joinConcatColumns(cs []*Column, n int) *Column {
	kind := KindNull
	for _, c := range cs {
		switch {
		case c.Kind == KindNull || c.Kind == kind:
		case kind == KindNull:
			kind = c.Kind
		default:
			kind = KindAny
		}
	}
	out := &Column{Kind: kind, Type: cs[0].Type}
	for _, c := range cs {
		if c.Kind != KindNull {
			out.Type = c.Type
			break
		}
	}
	hasNulls := false
	for _, c := range cs {
		hasNulls = hasNulls || c.Kind == KindNull || c.Nulls != nil
	}
	if hasNulls {
		out.Nulls = make([]bool, 0, n)
		for _, c := range cs {
			m := c.Len()
			switch {
			case c.Kind == KindNull:
				for range m {
					out.Nulls = append(out.Nulls, true)
				}
			case c.Nulls != nil:
				out.Nulls = append(out.Nulls, c.Nulls[:m]...)
			default:
				out.Nulls = append(out.Nulls, make([]bool, m)...)
			}
		}
	}
	switch kind {
	case KindInt, KindTime:
		out.I = make([]int64, 0, n)
		for _, c := range cs {
			if c.Kind == KindNull {
				out.I = append(out.I, make([]int64, c.Len())...)
			} else {
				out.I = append(out.I, c.I...)
			}
		}
	case KindFloat:
		out.F = make([]float64, 0, n)
		for _, c := range cs {
			if c.Kind == KindNull {
				out.F = append(out.F, make([]float64, c.Len())...)
			} else {
				out.F = append(out.F, c.F...)
			}
		}
	case KindString:
		out.S = make([]string, 0, n)
		for _, c := range cs {
			if c.Kind == KindNull {
				out.S = append(out.S, make([]string, c.Len())...)
			} else {
				out.S = append(out.S, c.S...)
			}
		}
		out.U, out.Users = concatUsers(cs, n)
	case KindAny:
		out.A = make([]any, 0, n)
		for _, c := range cs {
			for r := range c.Len() {
				out.A = append(out.A, c.Value(r))
			}
		}
	}
	return out
}

// joinBound is a conjunct of a join's residual, a value of the right
// row (rx over the pair positions rrefs, all right columns or right
// hoists: b.time, or b.time + INTERVAL 7 DAY) op a value of the left
// row (lx over the pair positions lrefs, all left columns or left
// hoists), compared as the residual's compareExpr compares it (cmpInt
// or cmpTime on Column.I).
//
// Why: a self join on a user with a time window (b.time > a.time AND
// b.time <= a.time + INTERVAL 7 DAY) lists, per left row, every right
// row of the user, and nearly all fall outside the window; gathering
// the pair columns and evaluating the residual on each grows with the
// square of a user's rows. A pair one conjunct makes FALSE makes the
// whole AND FALSE, which no join kind emits or remembers (only TRUE and
// NULL pairs change a row's state, see apply), so pull drops it with
// one comparison of two int64s.
//
// Errors and warnings: go-mysql-server's AND evaluates its conjuncts
// left to right and stops at the first FALSE, so a pair a bound drops
// would have raised nothing if every conjunct before the bound can
// neither fail nor warn: joinBoundsOf takes bounds only from that
// prefix. lx itself (s.time + INTERVAL 30 MINUTE) may warn or fail on a
// left row; it is computed per left batch under a context that traps
// warnings, and a batch where it warns or fails drops no pairs by this
// bound or any later one. rx likewise may fail or warn (date
// arithmetic is go-mysql-server's Eval): it is computed once over the
// whole right input under that context, and a right input where it
// warns or fails drops no pairs by this bound or any later one. Where it
// does neither, its value for a right row is the value the residual
// computes for every pair of that row.
type joinBound struct {
	op    cmpOp
	mode  cmpMode
	rx    Expr
	rrefs []int
	lx    Expr
	lrefs []int
}

// joinBoundsOf is the bounds among the residual e's (before
// compileNarrow, over sch) leading conjuncts, in order; exact when
// every conjunct of e is one of them (a pair every bound holds for,
// with no NULL on either side, is TRUE).
func (op *joinOp) joinBoundsOf(ctx *sql.Context, e sql.Expression, sch sql.Schema) (out []joinBound, exact bool) {
	if op.kind == joinCross {
		return nil, false
	}
	exact = true
	for _, c := range expression.SplitConjunction(ctx, e) {
		b, ok := op.boundOf(ctx, c, sch)
		if ok {
			out = append(out, b)
			continue
		}
		exact = false
		x, _, err := compileNarrow(ctx, c, sch)
		if err != nil || mayFail(x) || truthMayWarn(x) {
			break
		}
	}
	return out, exact
}

// boundOf is conjunct c as a bound, if it is one.
func (op *joinOp) boundOf(ctx *sql.Context, c sql.Expression, sch sql.Schema) (joinBound, bool) {
	switch c.(type) {
	case *expression.GreaterThan, *expression.GreaterThanOrEqual, *expression.LessThan, *expression.LessThanOrEqual:
	default:
		return joinBound{}, false
	}
	ch := c.Children()
	if len(ch) != 2 {
		return joinBound{}, false
	}
	// side is 1 for an expression over left values only, 2 for one over
	// right values only, 0 otherwise (both, neither, or not usable).
	side := func(e sql.Expression) int {
		l, r := false, false
		transform.InspectExpr(ctx, e, func(_ *sql.Context, e sql.Expression) bool {
			if gf, ok := e.(*expression.GetField); ok {
				l = l || op.leftValue(gf.Index())
				r = r || op.rightValue(gf.Index())
			}
			return false
		})
		if l == r || !joinDeterministic(ctx, e) || joinHasSubquery(ctx, e) {
			return 0
		}
		if l {
			return 1
		}
		return 2
	}
	var cop cmpOp
	switch c.(type) {
	case *expression.GreaterThan:
		cop = opGT
	case *expression.GreaterThanOrEqual:
		cop = opGE
	case *expression.LessThan:
		cop = opLT
	default:
		cop = opLE
	}
	// Oriented as right value op left value.
	rside, other := ch[0], ch[1]
	switch {
	case side(rside) == 2 && side(other) == 1:
	case side(rside) == 1 && side(other) == 2:
		rside, other, cop = other, rside, cop.flip()
	default:
		return joinBound{}, false
	}
	cx, _, err := compileNarrow(ctx, c, sch)
	if err != nil {
		return joinBound{}, false
	}
	x, ok := cx.(*compareExpr)
	if !ok || x.days || x.l.konst || x.r.konst || (x.mode != cmpInt && x.mode != cmpTime) {
		return joinBound{}, false
	}
	switch x.op {
	case opLT, opLE, opGT, opGE:
	default:
		return joinBound{}, false
	}
	rx, rrefs, err := compileNarrow(ctx, rside, sch)
	if err != nil {
		return joinBound{}, false
	}
	lx, lrefs, err := compileNarrow(ctx, other, sch)
	if err != nil {
		return joinBound{}, false
	}
	return joinBound{op: cop, mode: x.mode, rx: rx, rrefs: rrefs, lx: lx, lrefs: lrefs}, true
}

// rightValue reports whether pair position p is a right input column
// or a right hoist.
func (op *joinOp) rightValue(p int) bool {
	if p >= op.nl && p < op.nl+op.nr {
		return true
	}
	h := p - op.nl - op.nr
	return h >= 0 && h < len(op.hoists) && !op.hoists[h].left
}

// leftValue reports whether pair position p is a left column or hoist.
func (op *joinOp) leftValue(p int) bool {
	if p < op.nl {
		return true
	}
	h := p - op.nl - op.nr
	return h >= 0 && h < len(op.hoists) && op.hoists[h].left
}

// boundCols is one bound's columns for the left batch being probed.
type boundCols struct {
	op     cmpOp
	l, r   []int64
	ln, rn []bool // NULLs (nil: none)
}

// warnTrap is a session whose warnings are noted, not kept.
type warnTrap struct {
	sql.Session
	warned bool
}

func (w *warnTrap) Warn(*sql.Warning) { w.warned = true }

// prepareBounds sets it.bcols for the left batch: the leading bounds
// whose columns are of the kinds their comparison reads and whose left
// values came without an error or warning (see joinBound).
func (it *joinIter) prepareBounds(ctx *sql.Context) error {
	it.bcols = it.bcols[:0]
	op := it.op
	if len(op.bounds) == 0 || it.rn == 0 || it.lkeys == nil {
		return nil
	}
	rb, err := it.right(ctx)
	if err != nil {
		return err
	}
	if it.rvals == nil {
		if err := it.rightBoundValues(ctx, rb); err != nil {
			return err
		}
	}
	trap := &warnTrap{Session: ctx.Session}
	tctx := *ctx
	tctx.Session = trap
	for i, b := range op.bounds {
		if i >= len(it.rvals) {
			return nil
		}
		in := &Batch{N: it.lb.N, Cols: make([]*Column, len(b.lrefs))}
		for i, ref := range b.lrefs {
			if ref < op.nl {
				in.Cols[i] = it.lb.Cols[ref]
			} else {
				in.Cols[i] = it.lhoist[ref-op.nl-op.nr]
			}
		}
		lc, err := b.lx.Eval(&tctx, in)
		rc := it.rvals[i]
		if err != nil || trap.warned || lc == nil || rc == nil ||
			lc.Kind == KindNull || rc.Kind == KindNull ||
			!kindFits(b.mode, lc.Kind) || !kindFits(b.mode, rc.Kind) ||
			len(lc.I) < it.lb.N || len(rc.I) < it.rn {
			return nil
		}
		it.bcols = append(it.bcols, boundCols{op: b.op, l: lc.I, r: rc.I, ln: lc.Nulls, rn: rc.Nulls})
	}
	if len(it.bcols) > 0 && !it.timeRangeTried {
		return it.buildTimeRange()
	}
	return nil
}

// rightBoundValues sets it.rvals to the right values of the leading
// bounds whose rx neither fails nor warns over the right input rb (see
// joinBound), computed once; the columns computed (not a right column
// or hoist itself) are charged.
func (it *joinIter) rightBoundValues(ctx *sql.Context, rb *Batch) error {
	op := it.op
	trap := &warnTrap{Session: ctx.Session}
	tctx := *ctx
	tctx.Session = trap
	it.rvals = make([]*Column, 0, len(op.bounds))
	for _, b := range op.bounds {
		in := &Batch{N: it.rn, Cols: make([]*Column, len(b.rrefs))}
		for i, ref := range b.rrefs {
			if ref < op.nl+op.nr {
				in.Cols[i] = rb.Cols[ref-op.nl]
			} else {
				in.Cols[i] = it.rhoist[ref-op.nl-op.nr]
			}
		}
		rc, err := b.rx.Eval(&tctx, in)
		if err != nil || trap.warned || rc == nil {
			return nil
		}
		if _, field := b.rx.(*fieldExpr); !field {
			if err := it.grow(rc.Bytes(), "join: right bound values"); err != nil {
				return err
			}
		}
		it.rvals = append(it.rvals, rc)
	}
	return nil
}

// buildTimeRange makes it.timeRange over the leading bounds whose right
// values are of the kind their comparison reads, once.
func (it *joinIter) buildTimeRange() error {
	it.timeRangeTried = true
	if it.table == nil || len(it.table.wild) > 0 || !joinTimeRangeOn {
		return nil // wild rows are merged into chains in order: no index
	}
	var rcs []*Column
	for i, b := range it.op.bounds {
		if i >= len(it.rvals) {
			break
		}
		rc := it.rvals[i]
		if rc == nil || rc.Kind == KindNull || !kindFits(b.mode, rc.Kind) || len(rc.I) < it.rn {
			break
		}
		rcs = append(rcs, rc)
	}
	it.timeRange = newJoinTimeRange(it.table, it.rn, rcs, len(it.op.bounds), it.op.boundsExact)
	if it.timeRange == nil {
		return nil
	}
	return it.grow(it.timeRange.bytes(), "join: time-range index")
}

// outOfBounds reports whether some bound is FALSE for the pair (li, r):
// both values non-NULL and the comparison false.
func (it *joinIter) outOfBounds(li, r int32) bool {
	for i := range it.bcols {
		b := &it.bcols[i]
		if (b.ln != nil && b.ln[li]) || (b.rn != nil && b.rn[r]) {
			continue
		}
		lv, rv := b.l[li], b.r[r]
		c := 0
		if rv < lv {
			c = -1
		} else if rv > lv {
			c = 1
		}
		if !b.op.holds(c) {
			return true
		}
	}
	return false
}

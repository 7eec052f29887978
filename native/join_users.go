package native

// This file owns the per-user summary of a semi or anti join keyed by
// the events' distinct_id (EXISTS, NOT EXISTS, correlated on
// distinct_id, as go-mysql-server plans them), joinUserSummary:
//
//	NOT EXISTS (SELECT 1 FROM events e WHERE e.distinct_id = s.distinct_id
//	            AND e.time >= s.time + INTERVAL 1 DAY)
//
// A semi or anti join emits left rows only, and only asks of a left row
// whether some right row of its key makes the condition TRUE. When the
// condition beyond the key is nothing, or a conjunction of bounds
// (joinBound) that all compare one right value v (e.time) in one
// direction with values of the left row (v > a, v >= b: a lower bound;
// or v < a, v <= b: an upper one), that question has the same answer
// for the user's right row of the largest v (lower bounds) or the
// smallest (upper bounds) as for all its rows together: if any row's v
// passes every bound, the extreme one's does. So the right input is
// folded, as it is read, into a bit and one int64 per user number
// instead of being kept whole, hashed and sorted by v per user (the
// time-range index, join_time_range.go): no copy of the right rows, no
// table, one bit test (and a comparison per bound) per left row.
//
// What qualifies (userSummaryPlanOf), decided at translation:
//   - the join is semi (EXISTS) or anti including NULLs (NOT EXISTS);
//     NOT IN, where a NULL condition rejects a row, is not;
//   - it has keys (a hash join);
//   - the residual is nothing, or exactly its bounds (boundsExact), all
//     over the same right value in one direction: a pair is then TRUE
//     exactly when every bound holds with both values non-NULL.
//
// Keys are those of the table (join_keys.go): two non-NULL keys are
// one exactly when go-mysql-server's Equals is TRUE. Where a batch's key
// is the events' distinct_id with user numbers (Column.U), the summary
// is kept by number: equal canonical numbers are exactly equal strings
// under the byte-wise collation such a key has, so it compares what SQL
// compares (the canonical id that distinct_id shows;
// storage/identity.go). Otherwise it is kept by the key's value.
//
// What is checked at run time, falling back to the table (the join's
// usual path, which reads the right input again):
//   - the bounds' values (s.time + INTERVAL 1 DAY is go-mysql-server's
//     Eval) neither fail nor warn over a right batch, or a left one, and
//     are of the kind their comparison reads: a value computed without
//     either is the one the residual computes for every pair of that
//     row (joinBound), and the comparisons themselves, of two int64s,
//     can do neither;
//   - no key is wild (join_keys.go): such a left row is decided by the
//     whole condition over every right row.
//
// INVARIANT: with the summary, a left row is emitted exactly when the
// table's probe would emit it: semi when some right row of its key
// makes every bound hold (non-NULL values on both sides) and its left
// filter is TRUE; anti when not. A NULL left key pairs with no row. The
// output is the left batch's rows in order, as the probe's.
//
// Memory: a bit and (with bounds) 8 bytes per user number, charged to
// the statement's budget as "join: per-user summary".

import (
	"io"
	mathbits "math/bits"
	"strings"
	"sync"

	"github.com/dolthub/go-mysql-server/sql"

	"arb/storage"
)

// joinUserSummaryOn turns the summary on (a variable for tests, which
// compare the join with and without it).
var joinUserSummaryOn = true

// userSummaryPlan is what a join's summary keeps per user, decided at
// translation (userSummaryPlanOf).
type userSummaryPlan struct {
	// largest: the bounds are lower bounds on the right value (keep its
	// largest per user); otherwise upper ones (keep its smallest).
	// Meaningless without bounds.
	largest bool
}

// userSummaryPlanOf is op's summary plan, nil when op does not qualify
// (see the file comment). REQUIRES: op's condition is planned and its
// usersScan set.
func userSummaryPlanOf(op *joinOp) *userSummaryPlan {
	if op.kind != joinSemi && op.kind != joinAntiIncludeNulls {
		return nil
	}
	if len(op.keys) == 0 {
		return nil
	}
	if op.residual == nil {
		return &userSummaryPlan{}
	}
	if !op.boundsExact || len(op.bounds) == 0 {
		return nil
	}
	p := &userSummaryPlan{}
	first := op.bounds[0]
	for i, b := range op.bounds {
		lower := b.op == opGT || b.op == opGE
		if i == 0 {
			p.largest = lower
		} else if lower != p.largest {
			return nil // a window: the time-range index's
		}
		if b.rx.String() != first.rx.String() || !sameInts(b.rrefs, first.rrefs) || b.mode != first.mode {
			return nil // one right value for all the bounds
		}
		for _, ref := range b.rrefs {
			if !op.rightValue(ref) {
				return nil
			}
		}
		for _, ref := range b.lrefs {
			if !op.leftValue(ref) {
				return nil
			}
		}
	}
	return p
}

func sameInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// userSummaryDenseUsers is the most users a summary with bounds keeps
// by user number (8 bytes each, every user of the numbering, whether
// the right input has rows of it or not); past it, by id (memory by the
// right input's users).
const userSummaryDenseUsers = 1 << 22

// userSummary is a join's right input folded by key: by user number
// while every right batch's keys come as numbers of one numbering, else
// by the key's value (a numeric key: ints; a string one: strs, which the
// numbers so far are turned into when a batch without them comes).
// INVARIANT: a key is in the summary exactly when some right row with
// that key counts: any row without bounds; with bounds, a row whose
// right value is not NULL. Its best value is then the largest (or
// smallest) right value of those rows.
type userSummary struct {
	largest bool
	bounds  bool
	rows    int // right rows read

	// By user number (ints and strs nil): bit u of has, best[u] (nil
	// without bounds).
	numbering *storage.UserIDs
	has       []uint64
	best      []int64

	ints     map[int64]int64 // a numeric or time key: its best (0 without bounds)
	strs     map[string]int  // a string key: its best's index in strBest
	strBest  []int64
	strBytes int64 // the strs entries' memory

	idsOnce sync.Once
	ids     map[string]uint32 // the users of has by their id, for left keys without numbers
}

// bytes is the summary's memory (the maps' roughly).
func (s *userSummary) bytes() int64 {
	return 8*int64(cap(s.has)) + 8*int64(cap(s.best)) + 48*int64(len(s.ints)) + 8*int64(cap(s.strBest)) + s.strBytes
}

// grow makes room for user number u.
func (s *userSummary) grow(u uint32) {
	w := int(u>>6) + 1
	if w <= len(s.has) {
		return
	}
	w = max(w, 2*len(s.has))
	s.has = append(s.has, make([]uint64, w-len(s.has))...)
	if s.bounds {
		s.best = append(s.best, make([]int64, 64*w-len(s.best))...)
	}
}

// byID is the user number of id among s's users, false when none.
func (s *userSummary) byID(id string) (uint32, bool) {
	s.idsOnce.Do(func() {
		s.ids = map[string]uint32{}
		for w, bits := range s.has {
			for ; bits != 0; bits &= bits - 1 {
				u := uint32(w*64 + mathbits.TrailingZeros64(bits))
				s.ids[s.numbering.ID(u)] = u
			}
		}
	})
	u, ok := s.ids[id]
	return u, ok
}

// toStrings turns a summary by user number into one by id.
func (s *userSummary) toStrings() {
	s.strs = map[string]int{}
	for w, bits := range s.has {
		for ; bits != 0; bits &= bits - 1 {
			u := uint32(w*64 + mathbits.TrailingZeros64(bits))
			var v int64
			if s.bounds {
				v = s.best[u]
			}
			id := s.numbering.ID(u)
			s.strs[id] = len(s.strBest)
			s.strBest = append(s.strBest, v)
			s.strBytes += 64 + int64(len(id))
		}
	}
	s.numbering, s.has, s.best = nil, nil, nil
}

// dropUsers gives up the summary for the table: the right input is read
// again, whole (the left keys read ahead no longer are the rest of the
// left input, so they filter nothing).
func (it *joinIter) dropUsers(ctx *sql.Context) error {
	it.users, it.usersFailed, it.noKeyFilter, it.built = nil, true, true, false
	it.rn = 0
	return it.build(ctx)
}

// buildUsers folds the right input rit into it.users. It returns false
// (and it.users nil) when some batch does not fit the summary (see the
// file comment): the caller then reads the right input again for the
// table.
func (it *joinIter) buildUsers(ctx *sql.Context, rit BatchIter) (bool, error) {
	op := it.op
	s := &userSummary{largest: op.users.largest, bounds: len(op.bounds) > 0}
	rk := newKeySet(op.keys, false)
	if rk.single {
		s.ints = map[int64]int64{}
	}
	var charged int64
	for {
		b, err := rit.Next(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			return false, err
		}
		if op.rightFilter != nil {
			if b, err = joinFilterRight(ctx, op.rightFilter, b); err != nil {
				return false, err
			}
			if b == nil {
				continue
			}
		}
		vals, err := rk.compute(ctx, b)
		if err != nil {
			return false, err
		}
		var rv *Column
		if s.bounds {
			if rv, err = it.rightSummaryValues(ctx, b); err != nil || rv == nil {
				return false, err
			}
		}
		if !s.fold(vals, rv, b.N) {
			return false, nil
		}
		s.rows += b.N
		if n := s.bytes(); n > charged {
			if err := it.grow(n-charged, "join: per-user summary"); err != nil {
				return false, err
			}
			charged = n
		}
	}
	it.users = s
	it.rn = s.rows
	return true, nil
}

// fold adds n right rows with keys vals and, with bounds, right values
// rv; false when a key is wild.
func (s *userSummary) fold(vals *keyVals, rv *Column, n int) bool {
	if s.ints == nil && s.strs == nil {
		switch {
		case vals.users == nil || (s.numbering != nil && !s.numbering.SameNumbering(vals.numbering)),
			s.numbering == nil && s.bounds && vals.numbering.Len() > userSummaryDenseUsers:
			if s.numbering != nil {
				s.toStrings()
			} else {
				s.strs = map[string]int{}
			}
		case s.numbering == nil:
			s.numbering = vals.numbering
			s.grow(uint32(max(s.numbering.Len(), 1) - 1))
		default:
			s.numbering = widerNumbering(s.numbering, vals.numbering)
		}
	}
	for r := range n {
		switch vals.state[r] {
		case keyNull:
			continue // pairs with no left row
		case keyWild:
			return false
		}
		var v int64
		if rv != nil {
			if rv.Nulls != nil && rv.Nulls[r] {
				continue // makes no bound TRUE
			}
			v = rv.I[r]
		}
		switch {
		case s.ints != nil:
			s.ints[vals.ints[r]] = s.better(s.ints, vals.ints[r], v)
		case s.strs != nil:
			// The key may be made over the batch's or the key set's
			// buffers: the summary keeps its own copy, and never assigns
			// through such a key (an assignment stores the key it is
			// given, even to an entry already there).
			if i, ok := s.strs[vals.strs[r]]; ok {
				if s.bounds && s.beats(v, s.strBest[i]) {
					s.strBest[i] = v
				}
				continue
			}
			s.strs[strings.Clone(vals.strs[r])] = len(s.strBest)
			s.strBest = append(s.strBest, v)
			s.strBytes += 64 + int64(len(vals.strs[r]))
		default:
			u := vals.users[r]
			s.grow(u)
			w, bit := u>>6, uint64(1)<<(u&63)
			if s.bounds && (s.has[w]&bit == 0 || s.beats(v, s.best[u])) {
				s.best[u] = v
			}
			s.has[w] |= bit
		}
	}
	return true
}

// beats reports whether right value v is better kept than old.
func (s *userSummary) beats(v, old int64) bool {
	if s.largest {
		return v > old
	}
	return v < old
}

// better is the value to keep for key k of m given a new right value v.
func (s *userSummary) better(m map[int64]int64, k, v int64) int64 {
	if old, ok := m[k]; ok && !(s.bounds && s.beats(v, old)) {
		return old
	}
	return v
}

// lookup is the best value of left row r's key (keyOK) and whether the
// key is in s; byNumber: vals carry numbers of s's numbering.
func (s *userSummary) lookup(vals *keyVals, r int, byNumber bool) (int64, bool) {
	switch {
	case s.ints != nil:
		v, ok := s.ints[vals.ints[r]]
		return v, ok
	case s.strs != nil:
		i, ok := s.strs[vals.strs[r]]
		if !ok {
			return 0, false
		}
		return s.strBest[i], true
	}
	var u uint32
	if byNumber {
		u = vals.users[r]
		if int(u>>6) >= len(s.has) || s.has[u>>6]&(1<<(u&63)) == 0 {
			return 0, false
		}
	} else {
		var ok bool
		if u, ok = s.byID(vals.strs[r]); !ok {
			return 0, false
		}
	}
	if s.bounds {
		return s.best[u], true
	}
	return 0, true
}

// rightSummaryValues is the bounds' right value over right batch b, nil
// when it is not of the kind the comparison reads, or fails or warns.
func (it *joinIter) rightSummaryValues(ctx *sql.Context, b *Batch) (*Column, error) {
	op := it.op
	trap := &warnTrap{Session: ctx.Session}
	tctx := *ctx
	tctx.Session = trap
	bd := op.bounds[0]
	in := &Batch{N: b.N, Cols: make([]*Column, len(bd.rrefs))}
	for i, ref := range bd.rrefs {
		if ref < op.nl+op.nr {
			in.Cols[i] = b.Cols[ref-op.nl]
			continue
		}
		c, err := op.hoists[ref-op.nl-op.nr].x.Eval(&tctx, b)
		if err != nil || c == nil {
			return nil, nil
		}
		in.Cols[i] = c
	}
	c, err := bd.rx.Eval(&tctx, in)
	if err != nil || trap.warned || c == nil || !kindFits(bd.mode, c.Kind) || len(c.I) < b.N {
		return nil, nil
	}
	return c, nil
}

// probeUsers answers left batch b from the summary and queues its
// output; false (nothing queued) when the summary cannot answer b (a
// wild key, bound values that fail or warn).
func (it *joinIter) probeUsers(ctx *sql.Context, b *Batch) (bool, error) {
	op, s := it.op, it.users
	vals, err := it.lkeys.compute(ctx, b)
	if err != nil {
		return false, err
	}
	for r := range b.N {
		if vals.state[r] == keyWild {
			return false, nil
		}
	}
	var pass []int8
	if op.leftFilter != nil {
		c, err := op.leftFilter.Eval(ctx, b)
		if err != nil {
			return false, err
		}
		pass = make([]int8, b.N)
		if err := joinTruth(ctx, c, pass); err != nil {
			return false, err
		}
	}
	var lcols []*Column // per bound: its left values
	if s.bounds {
		if lcols, err = it.leftSummaryValues(ctx, b); err != nil || lcols == nil {
			return false, err
		}
	}
	byNumber := vals.users != nil && s.numbering != nil && s.numbering.SameNumbering(vals.numbering)
	semi := op.kind == joinSemi
	sel := make([]int32, 0, b.N)
	for r := range b.N {
		found := false
		if vals.state[r] == keyOK && (pass == nil || pass[r] == pairTrue) {
			v, ok := s.lookup(vals, r, byNumber)
			found = ok && (!s.bounds || boundsHold(op.bounds, lcols, v, r))
		}
		if found == semi {
			sel = append(sel, int32(r))
		}
	}
	if len(sel) > 0 {
		it.ready = append(it.ready, it.partialOut(b, sel))
	}
	return true, nil
}

// boundsHold reports whether right value rv makes every bound hold
// against left row r's values lcols.
func boundsHold(bounds []joinBound, lcols []*Column, rv int64, r int) bool {
	for i, b := range bounds {
		lc := lcols[i]
		if lc.Nulls != nil && lc.Nulls[r] {
			return false
		}
		lv, c := lc.I[r], 0
		if rv < lv {
			c = -1
		} else if rv > lv {
			c = 1
		}
		if !b.op.holds(c) {
			return false
		}
	}
	return true
}

// leftSummaryValues is each bound's left values over left batch b, nil
// when some is not of the kind its comparison reads, or fails or warns
// (the summary then cannot answer b).
func (it *joinIter) leftSummaryValues(ctx *sql.Context, b *Batch) ([]*Column, error) {
	op := it.op
	trap := &warnTrap{Session: ctx.Session}
	tctx := *ctx
	tctx.Session = trap
	hoisted := map[int]*Column{}
	out := make([]*Column, len(op.bounds))
	for i, bd := range op.bounds {
		in := &Batch{N: b.N, Cols: make([]*Column, len(bd.lrefs))}
		for j, ref := range bd.lrefs {
			if ref < op.nl {
				in.Cols[j] = b.Cols[ref]
				continue
			}
			c, ok := hoisted[ref]
			if !ok {
				var err error
				if c, err = op.hoists[ref-op.nl-op.nr].x.Eval(&tctx, b); err != nil || c == nil {
					return nil, nil
				}
				hoisted[ref] = c
			}
			in.Cols[j] = c
		}
		c, err := bd.lx.Eval(&tctx, in)
		if err != nil || trap.warned || c == nil || !kindFits(bd.mode, c.Kind) || len(c.I) < b.N {
			return nil, nil
		}
		out[i] = c
	}
	return out, nil
}

// partialOut is rows sel of left batch b as a semi or anti join's
// output, columns nothing above reads as NULLs.
func (it *joinIter) partialOut(b *Batch, sel []int32) *Batch {
	read := it.op.outRead
	out := &Batch{N: len(sel), Cols: make([]*Column, len(b.Cols))}
	for i, c := range b.Cols {
		switch {
		case read != nil && !read[i]:
			out.Cols[i] = unreadColumn(it.op.sch[i].Type, len(sel))
		case len(sel) == b.N:
			out.Cols[i] = c
		default:
			out.Cols[i] = c.Gather(sel)
		}
	}
	return out
}

// describeUsers is the summary's note in EXPLAIN.
func (p *userSummaryPlan) describe(op *joinOp) string {
	if len(op.bounds) == 0 {
		return " (right input: per-user set)"
	}
	what := "smallest"
	if p.largest {
		what = "largest"
	}
	return " (right input: per-user " + what + " " + strings.TrimSpace(op.bounds[0].rx.String()) + ")"
}

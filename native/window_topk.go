package native

// This file owns the window's row-number limit: a Filter that keeps only
// rows whose ROW_NUMBER() OVER (PARTITION BY distinct_id ORDER BY k) is
// at most some small n (rn = 1, rn <= 3, rn < 2) lets the window drop,
// while it reads its input, every row that cannot pass: per partition it
// keeps the best n rows so far by (ORDER BY value, input position), a
// per-partition top-n instead of holding and sorting every row.
//
// Why that is exact. A row is dropped only when n kept rows of its
// partition come before it; a kept row that is later displaced is
// displaced by a row that comes before it, so every dropped row always
// has n rows before it among the rows kept. Hence (1) every row whose
// ROW_NUMBER is at most n is kept, together with every row before it in
// its partition, so its ROW_NUMBER among the kept rows is the true one;
// (2) a kept row whose ROW_NUMBER is above n has n kept rows before it,
// so its ROW_NUMBER among the kept rows is above n as well, and the
// Filter, which stays above the window, drops it. The window therefore
// computes its function over the kept rows only, in input order; the
// rows it hands out differ from go-mysql-server's Window only in rows the
// Filter removes. The argument holds for any partitioning at least as
// fine as the true one, so keying partitions by user number (byte
// equality) is safe even where go-mysql-server's collation would merge
// strings.
//
// The limit applies only when nothing between the Filter and the window
// evaluates anything on a row (the Project above and the window's plain
// outputs are columns), so no expression error go-mysql-server would
// raise on a dropped row goes unseen, and only when the window computes
// ROW_NUMBER alone. A batch whose partition key carries no user numbers
// (or another numbering), or whose ORDER BY values are not integers or
// times, ends the dropping: it and every later batch are kept whole,
// which keeps (1) and (2) true.
//
// Over the events scan the top n runs on the scan's part workers first
// (window_topk_parallel.go), and this serial one over what they keep.

import (
	"io"
	"slices"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/expression"

	"arb/storage"
)

// maxRowLimit is the largest row-number bound kept per partition; a
// larger one leaves the window whole.
const maxRowLimit = 64

// limitWindowRows tells the window under in (through a Project of
// columns) that the Filter cond over in keeps only rows whose ROW_NUMBER
// is at most some n, when cond is such a bound.
func limitWindowRows(in Operator, cond sql.Expression) {
	p, ok := in.(*projectOp)
	if !ok {
		return
	}
	w, ok := p.child.(*windowOp)
	if !ok || len(w.blocks) != 1 {
		return
	}
	for _, x := range p.exprs {
		if _, ok := x.(*fieldExpr); !ok {
			return
		}
	}
	field, n, ok := rowNumberBound(cond)
	if !ok || field < 0 || field >= len(p.exprs) {
		return
	}
	out := p.exprs[field].(*fieldExpr).idx
	if out >= len(w.outs) || w.outs[out].pass != nil {
		return
	}
	for _, o := range w.outs {
		if o.pass != nil {
			if _, ok := o.pass.(*fieldExpr); !ok {
				return
			}
		}
	}
	b := w.blocks[0]
	for _, fn := range b.fns {
		if fn.kind != fnRowNumber {
			return
		}
	}
	if !topRowsKeys(b) {
		return
	}
	if w.rowLimit < 0 || n < w.rowLimit {
		w.rowLimit = n
	}
}

// topRowsKeys reports whether b's keys are the ones the top-n reads:
// PARTITION BY one byte-ordered string column, ORDER BY at most one
// integer or time key.
func topRowsKeys(b *windowBlock) bool {
	if len(b.partKeys) != 1 || !b.partKeys[0].binary || KindOf(b.partKeys[0].typ) != KindString {
		return false
	}
	if _, ok := b.partKeys[0].x.(*fieldExpr); !ok {
		return false
	}
	if len(b.orderKeys) > 1 {
		return false
	}
	if len(b.orderKeys) == 1 {
		if k := KindOf(b.orderKeys[0].typ); k != KindInt && k != KindTime {
			return false
		}
	}
	return true
}

// rowNumberBound is the column and the largest row number that pass
// cond, when cond is column = c, column <= c or column < c (either way
// round) with c an integer literal.
func rowNumberBound(cond sql.Expression) (field int, n int, ok bool) {
	type binary interface {
		Left() sql.Expression
		Right() sql.Expression
	}
	bin, isBin := cond.(binary)
	if !isBin {
		return 0, 0, false
	}
	l, r := bin.Left(), bin.Right()
	flipped := false
	if _, lit := l.(*expression.Literal); lit {
		l, r, flipped = r, l, true
	}
	gf, isField := l.(*expression.GetField)
	lit, isLit := r.(*expression.Literal)
	if !isField || !isLit {
		return 0, 0, false
	}
	c, isInt := IntOf(lit.Value())
	if !isInt {
		return 0, 0, false
	}
	switch cond.(type) {
	case *expression.Equals:
	case *expression.LessThanOrEqual:
		if flipped { // c <= rn: no upper bound
			return 0, 0, false
		}
	case *expression.LessThan:
		if flipped {
			return 0, 0, false
		}
		c--
	case *expression.GreaterThanOrEqual: // c >= rn
		if !flipped {
			return 0, 0, false
		}
	case *expression.GreaterThan: // c > rn
		if !flipped {
			return 0, 0, false
		}
		c--
	default:
		return 0, 0, false
	}
	if c > maxRowLimit {
		return 0, 0, false
	}
	return gf.Index(), int(max(c, 0)), true
}

// topRows is the per-partition top-n while the window reads its input.
type topRows struct {
	n       int
	part    int // the partition key's input column
	order   *sortKey
	enc     keyEncoder
	users   *storage.UserIDs
	dropped bool // false once a batch was kept whole: the rest are too

	// kept holds the rows kept so far, in input order; alive marks those
	// still among their partition's best n.
	kept  *Batch
	alive []bool
	live  int
	// Per partition slot (0: NULL, user u: u+1): count rows in best,
	// best[slot*n+j] the j'th best as (NULL rank, value, kept index).
	// count is a byte (n <= maxRowLimit) and an entry 16 bytes: the
	// state of a partition a row visits is as small as it can be, since
	// rows come in no partition order and each visit may miss the cache.
	count []uint8
	best  []topEntry
	rest  []*Batch // batches kept whole
	sel   []int32

	// pos, when tracked (a worker's top rows, window_topk_parallel.go),
	// is each kept row's input position, parallel to kept's rows; the
	// batch add reads next starts at position nextPos.
	trackPos bool
	pos      []int64
	nextPos  int64

	// A worker's rows wait (pending) until flushPending: rows read in
	// random time order enter and leave their partition's best n
	// several times within a part, and only those still in it then are
	// copied into kept. Pending row i (i < pendN) has index
	// kept.N+i in the best lists and alive; it is row pendSel[b][j] of
	// pendBatches[b] (rows counted in order), at position
	// pendBase[b]+row, of partition slot pendSlot[i].
	// INVARIANT: compact runs only with nothing pending.
	pendBatches []*Batch
	pendSel     [][]int32
	pendBase    []int64
	pendSlot    []int32
	pendN       int
	pendRows    int   // rows of pendBatches
	pendBytes   int64 // charged for pendBatches
}

// pendingFlushRows bounds the rows of the batches a worker holds pending
// (about 3 MB of the window's columns), so a large part does not stay
// whole in memory.
const pendingFlushRows = 1 << 17

type topEntry struct {
	k    uint64
	idx  int32
	null int8
}

// before reports whether a sorts before b (equal keys: neither).
func (a topEntry) before(b topEntry) bool {
	if a.null != b.null {
		return a.null < b.null
	}
	return a.k < b.k
}

// collectTopRows reads in (and closes it) as collectInput does, keeping
// only the rows that can have a ROW_NUMBER of at most op.rowLimit (see
// the file comment).
func (op *windowOp) collectTopRows(ctx *sql.Context, in BatchIter, mem *memCharge) (*windowInput, error) {
	defer in.Close(ctx)
	t := op.newTopRows()
	for {
		bt, err := in.Next(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			return &windowInput{cache: map[int]*Column{}}, err
		}
		if err := ctx.Err(); err != nil {
			return &windowInput{cache: map[int]*Column{}}, err
		}
		if err := t.take(ctx, bt, mem); err != nil {
			return &windowInput{cache: map[int]*Column{}}, err
		}
	}
	return t.input(), nil
}

// newTopRows is an empty top-n for op's one block.
func (op *windowOp) newTopRows() *topRows {
	b := op.blocks[0]
	t := &topRows{n: op.rowLimit, part: b.partKeys[0].x.(*fieldExpr).idx, dropped: true}
	if len(b.orderKeys) == 1 {
		t.order = &b.orderKeys[0]
		t.enc = newKeyEncoder(t.order)
	}
	return t
}

// take reads bt, the next batch in input order: its rows that can still
// have a ROW_NUMBER of at most t.n, or all of them once some batch could
// not be ranked.
func (t *topRows) take(ctx *sql.Context, bt *Batch, mem *memCharge) error {
	if bt.N == 0 {
		return nil
	}
	if t.dropped {
		if err := t.add(ctx, bt, mem); err != nil {
			return err
		}
		if t.dropped {
			return nil
		}
	}
	if err := mem.grow(bt.Bytes(), "window"); err != nil {
		return err
	}
	t.rest = append(t.rest, bt)
	return nil
}

// input is the rows t kept, in input order, as the window's input.
func (t *topRows) input() *windowInput {
	w := &windowInput{cache: map[int]*Column{}}
	if t.kept != nil {
		kept := t.compact()
		for from := 0; from < kept.N; from += BatchSize {
			w.batches = append(w.batches, kept.Slice(from, min(from+BatchSize, kept.N)))
		}
		w.n += kept.N
	}
	for _, bt := range t.rest {
		w.batches = append(w.batches, bt)
		w.n += bt.N
	}
	return w
}

// add keeps bt's rows that enter their partition's best n, or, when bt
// cannot be ranked here, sets dropped false (the caller keeps it whole).
func (t *topRows) add(ctx *sql.Context, bt *Batch, mem *memCharge) error {
	pc := bt.Cols[t.part]
	switch {
	case pc.Kind == KindNull:
	case pc.Kind != KindString || pc.U == nil || len(pc.U) != bt.N:
		t.dropped = false
		return nil
	case t.users == nil:
		t.users = pc.Users
		// Room for every user the numbering knows (numbers run about as
		// far), so the slots rarely regrow.
		if err := t.grow(min(pc.Users.Len()+1, 1<<24), mem); err != nil {
			return err
		}
	case !t.users.SameNumbering(pc.Users):
		t.dropped = false
		return nil
	}
	var oc *Column
	if t.order != nil {
		c, err := t.order.x.Eval(ctx, bt)
		if err != nil {
			return sql.ErrUnableSort.Wrap(err)
		}
		if c.Kind != KindNull && c.Kind != KindOf(t.order.typ) {
			t.dropped = false
			return nil
		}
		oc = c
	}
	base := t.pendN
	if t.kept != nil {
		base += t.kept.N
	}
	t.sel = t.sel[:0]
	for r := range bt.N {
		slot := 0
		if !pc.IsNull(r) {
			slot = int(pc.U[r]) + 1
		}
		e := topEntry{idx: int32(base + len(t.sel))}
		if oc != nil {
			var ok bool
			if e.k, e.null, ok = t.enc.encode(oc, r); !ok {
				return errTopRowsKind // KindOf(type) is Int or Time: always encodes
			}
		}
		if err := t.grow(slot, mem); err != nil {
			return err
		}
		if t.insert(slot, e) {
			if t.trackPos {
				t.pendSlot = append(t.pendSlot, int32(slot))
			}
			t.sel = append(t.sel, int32(r))
			t.alive = append(t.alive, true)
			t.live++
		}
	}
	if len(t.sel) == 0 {
		return nil
	}
	if t.trackPos {
		return t.addPending(bt, mem)
	}
	if t.kept == nil {
		t.kept = newOwnedBatch(bt)
	}
	if len(t.sel) == bt.N {
		appendBatch(t.kept, bt)
	} else {
		appendGathered(t.kept, bt, t.sel)
	}
	// The kept rows' share of the batch's bytes and their alive marks.
	if err := mem.grow(bt.Bytes()*int64(len(t.sel))/int64(bt.N)+int64(len(t.sel)), "window top rows"); err != nil {
		return err
	}
	t.compactIfMostlyDead(mem)
	return nil
}

// addPending holds bt's rows t.sel (entered into their best lists) as
// pending, flushing once the held batches pass pendingFlushRows rows.
func (t *topRows) addPending(bt *Batch, mem *memCharge) error {
	b := bt.Bytes()
	if err := mem.grow(b+int64(len(t.sel))*(1+4), "window top rows"); err != nil {
		return err
	}
	t.pendBatches = append(t.pendBatches, bt)
	t.pendSel = append(t.pendSel, slices.Clone(t.sel))
	t.pendBase = append(t.pendBase, t.nextPos)
	t.pendN += len(t.sel)
	t.pendRows += bt.N
	t.pendBytes += b
	if t.pendRows >= pendingFlushRows {
		return t.flushPending(mem)
	}
	return nil
}

// flushPending copies the pending rows still alive into kept, in order,
// with their positions, and renumbers their best entries; the others
// are dropped.
func (t *topRows) flushPending(mem *memCharge) error {
	if t.pendN == 0 {
		return nil
	}
	keptN := 0
	if t.kept != nil {
		keptN = t.kept.N
	}
	p, next := keptN, keptN // a pending row's index, and its index in kept
	for bi, bt := range t.pendBatches {
		sel := t.pendSel[bi][:0] // the alive rows, filtered in place
		for _, r := range t.pendSel[bi] {
			if t.alive[p] {
				// Its one best entry: indexes already renumbered are below
				// p, so none is taken for it.
				slot := int(t.pendSlot[p-keptN])
				best := t.best[slot*t.n : slot*t.n+int(t.count[slot])]
				for k := range best {
					if best[k].idx == int32(p) {
						best[k].idx = int32(next)
						break
					}
				}
				sel = append(sel, r)
				t.pos = append(t.pos, t.pendBase[bi]+int64(r))
				next++
			}
			p++
		}
		if len(sel) == 0 {
			continue
		}
		if t.kept == nil {
			t.kept = newOwnedBatch(bt)
		}
		appendGathered(t.kept, bt, sel)
		// The kept rows' share of the batch's bytes, their alive marks
		// and positions.
		if err := mem.grow(bt.Bytes()*int64(len(sel))/int64(bt.N)+9*int64(len(sel)), "window top rows"); err != nil {
			return err
		}
	}
	t.alive = t.alive[:next]
	for i := keptN; i < next; i++ {
		t.alive[i] = true
	}
	mem.shrink(t.pendBytes + int64(t.pendN)*(1+4))
	clear(t.pendBatches)
	t.pendBatches, t.pendSel, t.pendBase, t.pendSlot = t.pendBatches[:0], t.pendSel[:0], t.pendBase[:0], t.pendSlot[:0]
	t.pendN, t.pendRows, t.pendBytes = 0, 0, 0
	if t.kept == nil {
		return nil
	}
	t.compactIfMostlyDead(mem)
	return nil
}

var errTopRowsKind = sql.ErrUnableSort.New("window ORDER BY value of an unexpected kind")

// grow makes room for slot.
func (t *topRows) grow(slot int, mem *memCharge) error {
	if slot < len(t.count) {
		return nil
	}
	size := max(2*len(t.count), slot+1, 1024)
	if len(t.count) == 0 {
		size = max(slot+1, 1024)
	}
	if err := mem.grow(int64(size-len(t.count))*int64(1+16*t.n), "window top rows"); err != nil {
		return err
	}
	count := make([]uint8, size)
	copy(count, t.count)
	best := make([]topEntry, size*t.n)
	copy(best, t.best)
	t.count, t.best = count, best
	return nil
}

// insert puts e, the latest row read, among slot's best n when it sorts
// before the last of them (a later row loses ties), and marks the row
// it pushes out dead; false when e is not kept.
func (t *topRows) insert(slot int, e topEntry) bool {
	if t.n == 0 {
		return false
	}
	best := t.best[slot*t.n : slot*t.n+t.n]
	c := int(t.count[slot])
	if c == t.n {
		if !e.before(best[c-1]) {
			return false
		}
		t.alive[best[c-1].idx] = false
		t.live--
		c--
	} else {
		t.count[slot]++
	}
	// Shift the rows e sorts before; e goes after every row not after it.
	j := c
	for j > 0 && e.before(best[j-1]) {
		best[j] = best[j-1]
		j--
	}
	best[j] = e
	return true
}

// compactIfMostlyDead compacts the kept rows once more than a batch of
// them, and more than the live ones, are dead, and gives their bytes
// back to mem.
func (t *topRows) compactIfMostlyDead(mem *memCharge) {
	if dead := t.kept.N - t.live; dead > BatchSize && dead > t.live {
		before := t.kept.Bytes()
		t.kept = t.compact()
		mem.shrink(before - t.kept.Bytes())
	}
}

// compact is the kept rows still alive, in input order, with the best
// lists' indexes renumbered.
func (t *topRows) compact() *Batch {
	if t.live == t.kept.N {
		return t.kept
	}
	newIdx := make([]int32, t.kept.N)
	sel := make([]int32, 0, t.live)
	for i, a := range t.alive {
		if a {
			newIdx[i] = int32(len(sel))
			sel = append(sel, int32(i))
		}
	}
	for s, c := range t.count {
		for j := range int(c) {
			e := &t.best[s*t.n+j]
			e.idx = newIdx[e.idx]
		}
	}
	if t.trackPos {
		pos := make([]int64, len(sel), cap(sel))
		for i, r := range sel {
			pos[i] = t.pos[r]
		}
		t.pos = pos
	}
	// A gathered batch owns its columns: later batches append to it.
	out := t.kept.Gather(sel)
	t.alive = t.alive[:len(sel)]
	for i := range t.alive {
		t.alive[i] = true
	}
	return out
}

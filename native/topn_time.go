package native

// This file owns the TopN over the events scan ordered by time first
// (ORDER BY time DESC … LIMIT n, the raw-rows table every BI tool
// sends): the scan's parts are read latest first (earliest first for
// ASC), and a part whose whole time range sorts after the n-th best row
// kept so far is not read at all. Segments are per day, so the newest
// few days answer a raw-rows query over months of data.
//
// Why the answer is the same as reading every part in order:
//   - every row gets its position in go-mysql-server's input order (part
//     index, then row within the part: a scan reads parts in order) as a
//     last, ascending sort key, so no two rows tie and the order in which
//     parts arrive cannot change which rows win or their order;
//   - a part is skipped only when each of its rows sorts strictly after
//     the bound (row limit-1 of the store's last compaction): on the
//     first key alone, by the part's zone maps (the time column's
//     per-block min and max), NULLs counted where they sort before
//     values. Rows sorting after the bound are ones topNStore would drop.
//
// INVARIANT: a part's span covers every non-NULL time of its rows
// (zone maps are computed from the stored values); a part without one
// (buffered rows, a segment without zone maps) is read first and never
// skipped.

import (
	"context"
	"errors"
	"io"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/types"

	"arb/engine"
	"arb/storage"
)

// timeOrderedLimitMax is the largest LIMIT read in time order: the store
// holds about twice the limit, and past this a plain TopN is as good.
const timeOrderedLimitMax = 1 << 20

// partSpan is the range of a scan part's time column, in microseconds.
type partSpan struct {
	known   bool  // lo, hi and the flags below hold
	values  bool  // some row has a time (else lo, hi are meaningless)
	hasNull bool  // some row's time is NULL
	lo, hi  int64 // least and greatest time
}

// scanTimeColumn is the index in s.sch of the scan's stored time column
// that column out of s's output is, unchanged, or -1.
func scanTimeColumn(s *scanOp, out int) int {
	for i := len(s.stages) - 1; i >= 0 && out >= 0; i-- {
		f := s.stages[i].flow
		if f == nil || out >= len(f.from) {
			return -1
		}
		out = f.from[out]
	}
	if out < 0 || out >= len(s.sch) || !s.read[out] || s.sch[out].Name != storage.ColTime ||
		KindOf(s.sch[out].Type) != KindTime {
		return -1
	}
	return out
}

// timeOrderedScan reports whether t reads its scan in time order: its
// input is the events scan and its first key is the scan's time column
// compared as an instant (not as a DATE).
func (t *topNOp) timeOrderedScan() (*scanOp, bool) {
	s, ok := t.child.(*scanOp)
	if !ok || len(t.keys) == 0 {
		return nil, false
	}
	k := &t.keys[0]
	f, ok := k.x.(*fieldExpr)
	if !ok || k.day || KindOf(k.typ) != KindTime {
		return nil, false
	}
	return s, scanTimeColumn(s, f.idx) >= 0
}

// partSpans is the time range of every part of scan.
func partSpans(scan *engine.Scan) []partSpan {
	spans := make([]partSpan, scan.Parts())
	for p, ref := range scan.Snap.Segments {
		spans[p] = segmentSpan(ref.Segment)
	}
	return spans // buffered rows: unknown
}

func segmentSpan(seg *storage.Segment) partSpan {
	if !seg.HasColumn(storage.ColTime) {
		return partSpan{}
	}
	sp := partSpan{known: true}
	for b := range seg.NumBlocks() {
		z, err := seg.ZoneMap(storage.ColTime, b)
		if err != nil {
			return partSpan{}
		}
		sp.hasNull = sp.hasNull || z.HasNull
		if z.AllNull {
			continue
		}
		lo, hi := z.Min.Int*1000, z.Max.Int*1000 // stored milliseconds
		if !sp.values || lo < sp.lo {
			sp.lo = lo
		}
		if !sp.values || hi > sp.hi {
			sp.hi = hi
		}
		sp.values = true
	}
	return sp
}

// openTimeOrdered runs t over its scan s part by part, latest parts
// first for a DESC key (earliest for ASC), skipping parts that cannot
// hold a row of the answer. limit is in [1, timeOrderedLimitMax].
func (t *topNOp) openTimeOrdered(ctx *sql.Context, s *scanOp, limit int64) (BatchIter, error) {
	scan, opts := s.engineScan()
	spans := partSpans(scan)
	key := &t.keys[0]
	nullFirst := newKeyEncoder(key).nullRank < 0 // a NULL time sorts before every time
	order := make([]int, len(spans))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		sa, sb := spans[a], spans[b]
		ka, kb := sa.known && sa.values, sb.known && sb.values
		switch {
		case !ka || !kb:
			return boolRank(ka) - boolRank(kb) // unknown first
		case key.desc:
			return cmpInt64(sb.hi, sa.hi)
		default:
			return cmpInt64(sa.lo, sb.lo)
		}
	})

	sk := &partSkipper{spans: spans, desc: key.desc, nullFirst: nullFirst}
	keys := append(slices.Clip(t.keys), sortKey{typ: types.Int64, nullsFirst: true}) // position, ascending
	mem := newMemCharge(ctx)
	st := newTopNStore(ctx, keys, limit, mem)
	publish := func() {
		if c, r := st.bound[0].c, int(limit-1); !c.IsNull(r) {
			sk.publish(c.I[r])
		}
	}
	parts := s.openParts(ctx, scan, opts, order, sk.skip, sk.bounded.Load)
	err := func() error {
		defer parts.close()
		cur, seq := -1, int64(0)
		published := 0 // st.compactions when the bound was last published
		for {
			b, p, err := parts.next(ctx)
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
			if p != cur {
				// A part ended: a bound as early as possible lets the workers
				// skip the parts after it. Later, compact again only once the
				// store has grown by a quarter (each compaction sorts it).
				if n := int64(st.rows()); n >= limit && (st.bound == nil || n >= limit+max(limit/4, 1)) {
					if err := st.compact(); err != nil {
						return err
					}
				}
				cur, seq = p, 0
			}
			kcs, err := evalKeys(ctx, t.keys, b)
			if err != nil {
				return err
			}
			pos := &Column{Kind: KindInt, Type: types.Int64, I: make([]int64, b.N)}
			for r := range pos.I {
				pos.I[r] = int64(p)<<40 | (seq + int64(r))
			}
			seq += int64(b.N)
			if err := st.add(ctx, b, append(kcs, keyCol{c: pos, fast: true})); err != nil {
				return err
			}
			if st.compactions != published {
				published = st.compactions
				publish()
			}
		}
	}()
	if err != nil {
		mem.release()
		return nil, err
	}
	return st.emit()
}

// partSkipper decides which parts cannot hold an answer row, from the
// bound the consumer publishes as it goes (workers ask concurrently).
type partSkipper struct {
	spans     []partSpan
	desc      bool // the time key is DESC
	nullFirst bool // a NULL time sorts before every time
	bounded   atomic.Bool
	bound     atomic.Int64 // the time of the store's row limit-1, once bounded
}

// publish sets the bound: the time of the n-th best row so far (not NULL).
// Bounds only tighten (a later compaction keeps rows at least as good).
func (k *partSkipper) publish(at int64) {
	k.bound.Store(at)
	k.bounded.Store(true)
}

// skip reports whether every row of part p sorts strictly after the
// bound row on the time key alone.
func (k *partSkipper) skip(p int) bool {
	sp := k.spans[p]
	if !k.bounded.Load() || !sp.known || (sp.hasNull && k.nullFirst) {
		return false
	}
	if !sp.values {
		return true // every time NULL, and NULLs sort after the bound
	}
	if k.desc {
		return sp.hi < k.bound.Load()
	}
	return sp.lo > k.bound.Load()
}

func boolRank(b bool) int {
	if b {
		return 1
	}
	return 0
}

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// engineScan is the engine scan s.open runs (without a user restriction)
// and its batch options.
func (s *scanOp) engineScan() (*engine.Scan, engine.BatchOptions) {
	var names []string
	for i, c := range s.sch {
		if s.read[i] {
			names = append(names, c.Name)
		}
	}
	scan := &engine.Scan{Snap: s.table.Snapshot(), Columns: names, Filter: s.table.Filter()}
	opts := engine.BatchOptions{TimeMicros: true}
	if s.codesOnly != nil {
		for i := range s.sch {
			if s.read[i] {
				opts.CodesOnly = append(opts.CodesOnly, s.codesOnly[i])
			}
		}
	}
	return scan, opts
}

// partReader hands out a scan's batches part by part in a chosen order.
type partReader struct {
	next  func(ctx *sql.Context) (b *Batch, part int, err error)
	close func()
}

// openParts reads scan's parts in order (a permutation of them), in
// parallel as s.open does, each part's batches in its row order; a part
// is read only as long as skip says false (asked when a worker takes it
// up and before each batch). While hold says true, workers take a part
// up no more than a part a worker ahead of the consumer.
func (s *scanOp) openParts(ctx *sql.Context, scan *engine.Scan, opts engine.BatchOptions, order []int, skip func(part int) bool, hold func() bool) *partReader {
	runCtx, cancel := context.WithCancel(ctx)
	outs := make([]chan partBatch, len(order))
	for i := range outs {
		outs[i] = make(chan partBatch, 4)
	}
	var wg sync.WaitGroup
	next := make(chan int)
	workers := min(runtime.GOMAXPROCS(0), len(order))
	// Once there is a bound (hold), part i is handed out only after parts
	// up to i-workers have been consumed: reading further ahead would read
	// parts a tighter bound the consumer is about to publish lets the
	// workers skip. Before it nothing can be skipped, and waiting for the
	// consumer would only cost hand-offs.
	consumed := make(chan struct{}, len(order)) // a token a part consumed, to wake the hand-out
	var done atomic.Int64                       // parts consumed
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			wctx := ctx.WithContext(runCtx)
			for i := range next {
				s.readPartUnlessSkipped(wctx, scan, opts, order[i], outs[i], skip)
			}
		}()
	}
	go func() { // hand out parts in order, so the part read next is always under way
		defer close(next)
		for i := range order {
			for i >= workers+int(done.Load()) && hold() {
				select {
				case <-consumed:
				case <-runCtx.Done():
					return
				}
			}
			select {
			case next <- i:
			case <-runCtx.Done():
				return
			}
		}
	}()
	cur := 0
	return &partReader{
		next: func(ctx *sql.Context) (*Batch, int, error) {
			for cur < len(order) {
				select {
				case pb, ok := <-outs[cur]:
					if !ok {
						cur++
						done.Add(1)
						consumed <- struct{}{}
						continue
					}
					if pb.err != nil {
						return nil, 0, pb.err
					}
					return pb.b, order[cur], nil
				case <-ctx.Done():
					return nil, 0, ctx.Err()
				}
			}
			return nil, 0, io.EOF
		},
		close: func() {
			cancel()
			wg.Wait()
		},
	}
}

// readPartUnlessSkipped is readPart (scan.go) that stops, at any batch,
// once skip says the part's rows are no longer wanted.
func (s *scanOp) readPartUnlessSkipped(ctx *sql.Context, scan *engine.Scan, opts engine.BatchOptions, p int, out chan<- partBatch, skip func(int) bool) {
	defer close(out)
	if skip(p) {
		return
	}
	errStop := errors.New("stopped")
	err := guard(func() error {
		return scan.PartBatchesWith(ctx, p, opts, func(cb *engine.ColumnBatch) error {
			if skip(p) {
				return errStop
			}
			return s.sendStaged(ctx, s.fromEngine(scan, cb), out, errStop)
		})
	})
	if err != nil && err != errStop {
		select {
		case out <- partBatch{err: err}:
		case <-ctx.Done():
		}
	}
}

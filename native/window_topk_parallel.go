package native

// This file owns the window's row-number limit (window_topk.go) computed
// on the events scan's part workers: when the window reads the scan
// directly, each worker keeps its own per-partition top n over the rows
// it reads (scan_workers.go), and the workers' survivors, merged back
// into input order, go through one more top n, the serial one. With many
// segments (a load not yet compacted) the serial top n over every row
// was the query's bottleneck, a random access per row into per-user
// state on one core; the last pass reads at most workers × n rows per
// partition.
//
// Why that is exact. Every row has its input position (part, then row
// within the part: the order the scan hands batches out in), and a
// worker reads its rows in increasing position (scan_workers.go). A
// worker drops or displaces a row only when n of its own rows come
// before it (smaller ORDER BY value, or an equal one at an earlier
// position: a later row loses ties, as in the serial top n), so such a
// row has a ROW_NUMBER above n in the whole input. The survivors are
// therefore a subsequence of the input, in input order after the merge,
// holding every row whose ROW_NUMBER is at most n and every row before
// it in its partition; the serial top n over them keeps exactly what it
// keeps over the whole input (the argument of window_topk.go holds for
// any such subsequence).
//
// A batch a worker cannot rank (no user numbers, another numbering, an
// ORDER BY value of another kind) stops the workers: the serial top n
// then reads the scan again from the start, where such a batch and the
// ones after it are kept whole.
//
// A worker copies a row it keeps only once the row has stayed among its
// partition's best n to the end of its part (or of the last 128k rows
// read): until then it holds the batches whose rows it may keep
// (topRows.flushPending). Rows out of time order within a part mostly
// displace one another there, and are never copied.
//
// Memory: each worker's per-partition slots, held batches and kept rows
// (with an 8-byte position each) are charged to the statement's budget as
// "window top rows" while the workers run, and let go after the merge.

import (
	"errors"

	"github.com/dolthub/go-mysql-server/sql"
)

// parallelTopRowsOn turns the workers' top n on (a variable for tests,
// which compare the window with and without it).
var parallelTopRowsOn = true

// errTopRowsUnranked stops the workers at a batch they cannot rank.
var errTopRowsUnranked = errors.New("window top rows: a batch cannot be ranked on the workers")

// topWorker is one scan worker's top n.
type topWorker struct {
	t    *topRows
	mem  *memCharge
	part int   // the part of the last batch read, -1 before any
	off  int64 // rows of that part read so far
}

// collectTopRowsParallel is collectTopRows over the scan s, read on its
// part workers (see the file comment); ok false when some batch could
// not be ranked there: nothing is kept or charged, and the caller reads
// s the serial way.
func (op *windowOp) collectTopRowsParallel(ctx *sql.Context, s *scanOp, mem *memCharge) (in *windowInput, ok bool, err error) {
	var workers []*topWorker
	defer func() {
		for _, tw := range workers {
			tw.mem.release()
		}
	}()
	err = op.codesOnlyScan(s).eachPartBatch(ctx, func(n int) {
		workers = make([]*topWorker, n)
		for i := range workers {
			t := op.newTopRows()
			t.trackPos = true
			workers[i] = &topWorker{t: t, mem: newMemCharge(ctx), part: -1}
		}
	}, func(ctx *sql.Context, w, part int, b *Batch) error {
		tw := workers[w]
		if part != tw.part {
			// The rows a part left pending are settled before the next
			// part's: within a part, rows mostly displace rows of it.
			if err := tw.t.flushPending(tw.mem); err != nil {
				return err
			}
			tw.part, tw.off = part, 0
		}
		tw.t.nextPos = int64(part)<<32 | tw.off
		tw.off += int64(b.N)
		if err := tw.t.add(ctx, b, tw.mem); err != nil {
			return err
		}
		if !tw.t.dropped {
			return errTopRowsUnranked
		}
		return nil
	})
	if errors.Is(err, errTopRowsUnranked) {
		return nil, false, nil
	}
	if err != nil {
		return nil, true, err
	}
	for _, tw := range workers {
		if err := tw.t.flushPending(tw.mem); err != nil {
			return nil, true, err
		}
	}
	fin := op.newTopRows()
	if err := mergeTopWorkers(ctx, workers, fin, mem); err != nil {
		return nil, true, err
	}
	return fin.input(), true, nil
}

// codesOnlyScan is s with its string columns coming as dictionary codes
// alone where the workers read them only to keep them: every read string
// column but the partition key and an ORDER BY column, when s has no
// stages and the ORDER BY is a column or nothing. The strings of the rows
// kept are looked up as they are gathered (appendGathered), so the rows
// dropped never get theirs: most rows, with many segments.
func (op *windowOp) codesOnlyScan(s *scanOp) *scanOp {
	b := op.blocks[0]
	if len(s.stages) > 0 || s.codesOnly != nil {
		return s
	}
	skip := map[int]bool{b.partKeys[0].x.(*fieldExpr).idx: true}
	if len(b.orderKeys) == 1 {
		f, ok := b.orderKeys[0].x.(*fieldExpr)
		if !ok {
			return s
		}
		skip[f.idx] = true
	}
	only := make([]bool, len(s.sch))
	any := false
	for j, c := range s.sch {
		if s.read[j] && !skip[j] && KindOf(c.Type) == KindString {
			only[j], any = true, true
		}
	}
	if !any {
		return s
	}
	return s.withCodesOnly(only)
}

// mergeTopWorkers hands the rows the workers kept to fin in input order
// (a merge by position of the workers' lists, each in increasing
// position), in batches of at most BatchSize rows.
func mergeTopWorkers(ctx *sql.Context, workers []*topWorker, fin *topRows, mem *memCharge) error {
	type list struct {
		kept *Batch
		pos  []int64
		head int
	}
	var lists []*list
	for _, tw := range workers {
		if tw.t.kept == nil {
			continue
		}
		kept := tw.t.compact()
		lists = append(lists, &list{kept: kept, pos: tw.t.pos[:kept.N]})
		tw.t.count, tw.t.best, tw.t.alive = nil, nil, nil
	}
	if len(lists) == 0 {
		return nil
	}
	var (
		out  = newOwnedBatch(lists[0].kept)
		run  *list // the list the rows in sel come from
		sel  []int32
		flow = func() {
			if len(sel) > 0 {
				appendGathered(out, run.kept, sel)
				sel = sel[:0]
			}
		}
	)
	for {
		var best *list
		for _, l := range lists {
			if l.head < len(l.pos) && (best == nil || l.pos[l.head] < best.pos[best.head]) {
				best = l
			}
		}
		if best == nil {
			break
		}
		if best != run {
			flow()
			run = best
		}
		sel = append(sel, int32(best.head))
		best.head++
		if out.N+len(sel) == BatchSize {
			flow()
			if err := fin.take(ctx, out, mem); err != nil {
				return err
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			out = newOwnedBatch(out)
		}
	}
	flow()
	return fin.take(ctx, out, mem)
}

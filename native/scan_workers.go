package native

// This file owns reading the events scan into per-worker consumers: an
// operator whose state can be kept per worker and merged afterwards (the
// window's per-partition top rows, window_topk_parallel.go) takes the
// scan's batches on the part workers themselves instead of through the
// ordered hand-off of Open, so its per-row work spreads over the cores.
//
// INVARIANT: each part is read by one worker, whole, its batches in row
// order (after the scan's stages); a worker takes parts up in increasing
// part order, so every worker sees its rows in increasing input position
// (part, then row within the part), the order Open hands them out in.

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/dolthub/go-mysql-server/sql"

	"arb/engine"
)

// scanWorkers is how many workers eachPartBatch runs over parts parts:
// one per core, as Open reads parts.
func scanWorkers(parts int) int {
	return max(1, min(runtime.GOMAXPROCS(0), parts))
}

// eachPartBatch reads the scan's parts on worker goroutines: start
// learns how many (scanWorkers), before any runs; then fn(w, part, b)
// runs on worker w (0 <= w < workers) for each batch b of the parts it
// reads. The first error fn or a read returns stops every worker and is
// returned. fn runs on one goroutine per w, so state indexed by w needs
// no lock; a batch fn gets may be kept (read-only).
func (s *scanOp) eachPartBatch(ctx *sql.Context, start func(workers int), fn func(ctx *sql.Context, w, part int, b *Batch) error) error {
	scan, opts := s.engineScan()
	parts := scan.Parts()
	workers := scanWorkers(parts)
	start(workers)
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg      sync.WaitGroup
		next    atomic.Int64 // the next part to take up
		errOnce sync.Once
		first   error
	)
	fail := func(err error) {
		errOnce.Do(func() { first = err; cancel() })
	}
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			wctx := ctx.WithContext(runCtx)
			for {
				p := int(next.Add(1) - 1)
				if p >= parts || runCtx.Err() != nil {
					return
				}
				err := guard(func() error {
					return scan.PartBatchesWith(wctx, p, opts, func(cb *engine.ColumnBatch) error {
						err := s.forStaged(wctx, s.fromEngine(scan, cb), func(part *Batch) error {
							return fn(wctx, w, p, part)
						})
						if err != nil {
							return err
						}
						return wctx.Err()
					})
				})
				if err != nil {
					fail(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if first != nil {
		return first
	}
	return ctx.Err()
}

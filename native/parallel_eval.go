package native

// Parallel evaluation of a HashAggregate's keys and arguments over an
// input that is not the events scan (a join, a derived table). Over the
// scan, fuseEvaluation has the scan's part workers compute them; over
// any other input the fold's goroutine computed them itself, after
// pulling each batch: a join's output of millions of rows then had its
// key expressions (DATEDIFF, FLOOR, CASE, …) evaluated on the same core
// that probes the join and folds the groups. parallelEvalOp moves that
// evaluation onto workers: one goroutine pulls the input's batches in
// order, workers compute the expressions as extra columns, and batches
// come out in input order, so the fold sees exactly the rows it would.

import (
	"context"
	"io"
	"runtime"
	"strings"
	"sync"

	"github.com/dolthub/go-mysql-server/sql"
)

// parallelEvalOp is child's batches, each with exprs' columns appended
// (exprs are over child's schema), computed by workers in parallel.
// INVARIANT: the batches are child's, in child's order, and an error
// is reported where serial evaluation would meet it first (the batch
// order), after the batches before it.
type parallelEvalOp struct {
	child Operator
	exprs []Expr
	sch   sql.Schema
}

// parallelEvalWorkers is how many workers evaluate (a variable for
// tests; 0: GOMAXPROCS).
var parallelEvalWorkers = 0

func (p *parallelEvalOp) Schema() sql.Schema   { return p.sch }
func (p *parallelEvalOp) Children() []Operator { return []Operator{p.child} }
func (p *parallelEvalOp) Describe() string {
	names := make([]string, len(p.exprs))
	for i, x := range p.exprs {
		names[i] = x.String()
	}
	return Marker + "Evaluate " + strings.Join(names, ", ") + " (in parallel workers)"
}

// evalResult is one batch's outcome, delivered to its own slot.
type evalResult struct {
	b   *Batch
	err error
}

func (p *parallelEvalOp) Open(ctx *sql.Context, run *Run) (BatchIter, error) {
	in, err := p.child.Open(ctx, run)
	if err != nil {
		return nil, err
	}
	// The first batch is evaluated here, serially: an input of one batch
	// (a subquery's, a small derived table's) starts no goroutines. The
	// workers start when a second batch is asked for; the first has
	// then been handed out, so the order holds.
	var pipe BatchIter
	first, closed := true, false
	return &funcIter{
		next: func(ctx *sql.Context) (*Batch, error) {
			if closed {
				return nil, io.EOF
			}
			if first {
				first = false
				b, err := in.Next(ctx)
				if err != nil {
					return nil, err
				}
				return p.eval(ctx, b)
			}
			if pipe == nil {
				pipe = p.pipeline(ctx, in)
			}
			return pipe.Next(ctx)
		},
		close: func(ctx *sql.Context) error {
			if closed {
				return nil
			}
			closed = true
			if pipe != nil {
				pipe.Close(ctx)
			}
			return in.Close(ctx)
		},
	}, nil
}

// pipeline is the rest of in's batches evaluated by workers, in order.
// Its Close stops the goroutines; it does not close in.
func (p *parallelEvalOp) pipeline(ctx *sql.Context, in BatchIter) BatchIter {
	workers := parallelEvalWorkers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	runCtx, cancel := context.WithCancel(ctx)
	wctx := ctx.WithContext(runCtx)
	type job struct {
		b   *Batch
		out chan evalResult
	}
	jobs := make(chan job, workers)
	// order holds each batch's result slot in input order; its capacity
	// bounds the batches under way.
	order := make(chan chan evalResult, 2*workers)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // the reader: the input's batches, in order
		defer wg.Done()
		defer close(jobs)
		defer close(order)
		for {
			var b *Batch
			err := guard(func() error {
				var err error
				b, err = in.Next(wctx)
				return err
			})
			slot := make(chan evalResult, 1)
			if err != nil {
				slot <- evalResult{err: err} // io.EOF included
			}
			select {
			case order <- slot:
			case <-runCtx.Done():
				return
			}
			if err != nil {
				return
			}
			select {
			case jobs <- job{b: b, out: slot}:
			case <-runCtx.Done():
				return
			}
		}
	}()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				var out *Batch
				err := guard(func() error {
					var err error
					out, err = p.eval(wctx, j.b)
					return err
				})
				j.out <- evalResult{b: out, err: err} // a slot of capacity 1: never blocks
			}
		}()
	}
	done := false
	return &funcIter{
		next: func(ctx *sql.Context) (*Batch, error) {
			if done {
				return nil, io.EOF
			}
			var slot chan evalResult
			select {
			case s, ok := <-order:
				if !ok {
					return nil, io.EOF
				}
				slot = s
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			select {
			case r := <-slot:
				return r.b, r.err
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		},
		close: func(*sql.Context) error {
			if !done {
				done = true
				cancel()
				wg.Wait()
			}
			return nil
		},
	}
}

// eval is b with exprs' columns appended.
func (p *parallelEvalOp) eval(ctx *sql.Context, b *Batch) (*Batch, error) {
	cols := make([]*Column, len(b.Cols), len(b.Cols)+len(p.exprs))
	copy(cols, b.Cols)
	for _, x := range p.exprs {
		c, err := x.Eval(ctx, b)
		if err != nil {
			return nil, err
		}
		cols = append(cols, c)
	}
	return &Batch{N: b.N, Cols: cols}, nil
}

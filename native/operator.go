package native

import (
	"fmt"
	"io"
	"log/slog"
	"runtime/debug"
	"strings"
	"sync"

	"github.com/dolthub/go-mysql-server/sql"
)

// Operator is a node of the native physical plan.
type Operator interface {
	// Schema is the output's columns, the same as the go-mysql-server
	// node's the operator replaces.
	Schema() sql.Schema
	// Open starts a run: each run reads its inputs afresh.
	Open(ctx *sql.Context, run *Run) (BatchIter, error)
	// Describe is the operator's line in EXPLAIN (without children).
	Describe() string
	Children() []Operator
}

// Run is what a run of a plan shares: the builder that executes
// go-mysql-server nodes left in the plan, and the row of the outer scope
// (nil at the top level).
type Run struct {
	Builder sql.NodeExecBuilder
	Row     sql.Row

	mu     sync.Mutex
	shared map[string]*sharedResult // materialised derived tables (cte.go)
}

// BatchIter yields an operator's batches: never an empty one, io.EOF after
// the last. Close releases what the run holds and may be called at any
// point, more than once.
type BatchIter interface {
	Next(ctx *sql.Context) (*Batch, error)
	Close(ctx *sql.Context) error
}

// Explain renders op's tree, one operator per line, children indented
// below their parent. A native operator's line starts with Marker; a
// go-mysql-server subtree left in the plan is printed as go-mysql-server
// prints it, under a line saying why it was left.
func Explain(op Operator) string {
	var b strings.Builder
	var walk func(op Operator, depth int)
	walk = func(op Operator, depth int) {
		for _, line := range strings.Split(op.Describe(), "\n") {
			b.WriteString(strings.Repeat("    ", depth))
			b.WriteString(line)
			b.WriteByte('\n')
		}
		for _, c := range op.Children() {
			walk(c, depth+1)
		}
	}
	walk(op, 0)
	return strings.TrimSuffix(b.String(), "\n")
}

// sliceIter yields batches already made.
type sliceIter struct {
	batches []*Batch
	pos     int
}

func (it *sliceIter) Next(*sql.Context) (*Batch, error) {
	for it.pos < len(it.batches) {
		b := it.batches[it.pos]
		it.batches[it.pos] = nil
		it.pos++
		if b.N > 0 {
			return b, nil
		}
	}
	return nil, io.EOF
}

func (it *sliceIter) Close(*sql.Context) error {
	it.batches = nil
	return nil
}

// drain reads every batch of it and closes it.
func drain(ctx *sql.Context, it BatchIter) ([]*Batch, error) {
	defer it.Close(ctx)
	var out []*Batch
	for {
		b, err := it.Next(ctx)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
}

// funcIter adapts two functions to a BatchIter.
type funcIter struct {
	next  func(ctx *sql.Context) (*Batch, error)
	close func(ctx *sql.Context) error
}

func (it *funcIter) Next(ctx *sql.Context) (*Batch, error) { return it.next(ctx) }
func (it *funcIter) Close(ctx *sql.Context) error {
	if it.close == nil {
		return nil
	}
	c := it.close
	it.close = nil
	return c(ctx)
}

// guard runs fn and turns a panic into an error. Every goroutine an
// operator starts runs its work through guard: go-mysql-server recovers a
// panic in the statement's own goroutine, but one in a worker would take
// the server down.
func guard(fn func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			slog.Error("native plan: panic in an operator's worker", "panic", r, "stack", string(debug.Stack()))
			err = fmt.Errorf("internal error in arb's native plan: %v (the server log has the stack)", r)
		}
	}()
	return fn()
}

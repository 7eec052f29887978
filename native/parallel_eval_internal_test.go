package native

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/types"
)

// sliceOp is an operator over fixed batches.
type sliceOp struct {
	batches []*Batch
	sch     sql.Schema
	closed  *int
}

func (s *sliceOp) Schema() sql.Schema   { return s.sch }
func (s *sliceOp) Children() []Operator { return nil }
func (s *sliceOp) Describe() string     { return "slices" }
func (s *sliceOp) Open(*sql.Context, *Run) (BatchIter, error) {
	it := &sliceIter{batches: append([]*Batch(nil), s.batches...)}
	return &funcIter{next: it.Next, close: func(*sql.Context) error { *s.closed++; return nil }}, nil
}

// slowDouble is 2*column 0, slower on some batches (so that workers
// finish out of order), failing on a batch whose first value is failAt.
type slowDouble struct{ failAt int64 }

func (x *slowDouble) Type() sql.Type { return types.Int64 }
func (x *slowDouble) String() string { return "slowDouble" }
func (x *slowDouble) Eval(ctx *sql.Context, b *Batch) (*Column, error) {
	first := b.Cols[0].I[0]
	if first == x.failAt {
		return nil, fmt.Errorf("fail at %d", first)
	}
	if (first/10)%3 == 0 {
		time.Sleep(time.Millisecond)
	}
	out := &Column{Kind: KindInt, Type: types.Int64, I: make([]int64, b.N)}
	for r, v := range b.Cols[0].I[:b.N] {
		out.I[r] = 2 * v
	}
	return out, nil
}

// TestParallelEvalOrderAndErrors checks parallelEvalOp: batches in input
// order with their computed columns, the first error in input order
// after every batch before it, and the input closed once.
func TestParallelEvalOrderAndErrors(t *testing.T) {
	defer func(w int) { parallelEvalWorkers = w }(parallelEvalWorkers)
	parallelEvalWorkers = 4
	const nb, rows = 60, 10
	var batches []*Batch
	for i := range nb {
		c := &Column{Kind: KindInt, Type: types.Int64, I: make([]int64, rows)}
		for r := range rows {
			c.I[r] = int64(i*rows + r)
		}
		batches = append(batches, &Batch{N: rows, Cols: []*Column{c}})
	}
	sch := sql.Schema{{Name: "v", Type: types.Int64}}
	ctx := sql.NewContext(context.Background())
	for _, failAt := range []int64{-1, 0, 250, int64((nb - 1) * rows)} {
		closed := 0
		op := &parallelEvalOp{child: &sliceOp{batches: batches, sch: sch, closed: &closed}, exprs: []Expr{&slowDouble{failAt: failAt}},
			sch: append(sch, &sql.Column{Name: "d", Type: types.Int64})}
		it, err := op.Open(ctx, &Run{})
		if err != nil {
			t.Fatal(err)
		}
		next := int64(0)
		var gotErr error
		for {
			b, err := it.Next(ctx)
			if err == io.EOF {
				break
			}
			if err != nil {
				gotErr = err
				break
			}
			for r := range b.N {
				if b.Cols[0].I[r] != next || b.Cols[1].I[r] != 2*next {
					t.Fatalf("failAt %d: row %d is (%d, %d)", failAt, next, b.Cols[0].I[r], b.Cols[1].I[r])
				}
				next++
			}
		}
		switch {
		case failAt < 0 && (gotErr != nil || next != nb*rows):
			t.Fatalf("no failure: %d rows, err %v", next, gotErr)
		case failAt >= 0 && (gotErr == nil || gotErr.Error() != fmt.Sprintf("fail at %d", failAt) || next != failAt):
			t.Fatalf("failAt %d: %d rows before err %v", failAt, next, gotErr)
		}
		if err := it.Close(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := it.Next(ctx); !errors.Is(err, io.EOF) {
			t.Fatalf("Next after Close: %v", err)
		}
		if closed != 1 {
			t.Fatalf("input closed %d times", closed)
		}
	}
}

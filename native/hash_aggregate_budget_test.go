package native

// HashAggregate's and HashDistinct's limits: the memory budget stops a
// query whose groups outgrow it, and a cancelled statement stops.

import (
	"context"
	"errors"
	"io"
	"testing"

	"github.com/dolthub/go-mysql-server/sql"

	"arb/engine"
)

func TestAggMemoryBudget(t *testing.T) {
	in := benchEvents(50_000, 20_000)
	sch := in.sch
	byUser := &hashAggOp{child: in, keys: []Expr{field(sch, 2)}, keyCols: []keyColumn{{}},
		aggs: []aggFunc{&countAgg{}, &countDistinctAgg{args: []Expr{field(sch, 1)}, expect: KindString}}}

	budget := engine.NewMemoryBudget(256 << 10)
	ctx := sql.NewContext(engine.WithMemoryBudget(context.Background(), budget))
	_, err := byUser.Open(ctx, &Run{})
	if !errors.Is(err, engine.ErrMemoryLimit) {
		t.Fatalf("20,000 groups in 256 KiB: err %v, want a memory limit error", err)
	}

	// Under a budget that holds them, the run succeeds and gives its
	// charge back when closed.
	pool := engine.NewMemoryPool(1 << 30)
	budget = engine.NewMemoryBudgetIn(pool, 1<<30)
	ctx = sql.NewContext(engine.WithMemoryBudget(context.Background(), budget))
	it, err := byUser.Open(ctx, &Run{})
	if err != nil {
		t.Fatal(err)
	}
	if budget.PeakBytes() < 20_000*48 {
		t.Fatalf("peak charge %d bytes for 20,000 groups: too low", budget.PeakBytes())
	}
	it.Close(ctx)
	if used := pool.UsedBytes(); used != 0 {
		t.Fatalf("after Close the query still holds %d bytes", used)
	}

	distinct := &distinctOp{child: in}
	budget = engine.NewMemoryBudget(64 << 10)
	ctx = sql.NewContext(engine.WithMemoryBudget(context.Background(), budget))
	dit, err := distinct.Open(ctx, &Run{})
	if err != nil {
		t.Fatal(err)
	}
	for err == nil {
		_, err = dit.Next(ctx)
	}
	if !errors.Is(err, engine.ErrMemoryLimit) {
		t.Fatalf("DISTINCT of 50,000 rows in 64 KiB: err %v, want a memory limit error", err)
	}
	dit.Close(ctx)
}

func TestAggCancelled(t *testing.T) {
	in := benchEvents(20_000, 1_000)
	op := &hashAggOp{child: in, keys: []Expr{field(in.sch, 2)}, keyCols: []keyColumn{{}}, aggs: []aggFunc{&countAgg{}}}
	cctx, cancel := context.WithCancel(context.Background())
	cancel()
	ctx := sql.NewContext(cctx)
	if _, err := op.Open(ctx, &Run{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled GROUP BY: err %v, want context.Canceled", err)
	}
	dit, err := (&distinctOp{child: in}).Open(ctx, &Run{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dit.Next(ctx); err == nil || err == io.EOF {
		t.Fatalf("cancelled DISTINCT: err %v, want context.Canceled", err)
	}
}

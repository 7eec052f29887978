package engine

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"

	"arb/storage"
)

// TestAggregationMemoryBudget: a grouping whose state passes its budget
// fails with a MemoryLimitError naming the limit; under a budget it can
// afford, the answer is the one without a budget, and the budget saw the
// state grow.
func TestAggregationMemoryBudget(t *testing.T) {
	snap := benchSnapshot(t, 3*storage.SegmentBlockRows+123)
	for _, c := range []struct {
		name string
		keys []GroupKey
		aggs []Agg
	}{
		{"users", []GroupKey{{Column: "distinct_id"}}, []Agg{{Kind: AggCount}, {Kind: AggCountDistinct, Column: "event"}}},
		{"times", []GroupKey{{Column: "time"}}, []Agg{{Kind: AggSum, Column: "amount"}}},
		{"distinct users per event", []GroupKey{{Column: "event"}}, []Agg{{Kind: AggCountDistinct, Column: "distinct_id"}}},
		{"distinct times per plan", []GroupKey{{Column: "plan"}}, []Agg{{Kind: AggCountDistinct, Column: "time"}}},
		{"two keys", []GroupKey{{Column: "event"}, {Column: "time"}}, []Agg{{Kind: AggCount}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			run := func(b *MemoryBudget) ([][]storage.Value, error) {
				a := &Aggregation{Snap: snap, Keys: c.keys, Aggs: c.aggs, Workers: 2}
				ctx := context.Background()
				if b != nil {
					ctx = WithMemoryBudget(ctx, b)
				}
				return a.Run(ctx)
			}
			want, err := run(nil)
			if err != nil {
				t.Fatal(err)
			}
			big := NewMemoryBudget(1 << 30)
			got, err := run(big)
			if err != nil {
				t.Fatalf("under 1 GiB: %v", err)
			}
			if g, w := renderGroups(got), renderGroups(want); strings.Join(g, "\n") != strings.Join(w, "\n") {
				t.Fatalf("with a budget: %d groups, want %d", len(g), len(w))
			}
			t.Logf("%d groups: peak charge %d bytes", len(got), big.PeakBytes())
			if big.PeakBytes() < int64(len(got))*groupKeyBytes {
				t.Errorf("peak charge %d bytes for %d groups; want at least %d", big.PeakBytes(), len(got), int64(len(got))*groupKeyBytes)
			}
			const limit = 1024
			_, err = run(NewMemoryBudget(limit))
			var me *MemoryLimitError
			if !errors.As(err, &me) || !errors.Is(err, ErrMemoryLimit) {
				t.Fatalf("under %d bytes: %v, want a MemoryLimitError", limit, err)
			}
			if !strings.Contains(err.Error(), strconv.Itoa(limit)) || me.UsedBytes <= limit {
				t.Errorf("error %q: want the limit named and a charge past it", err)
			}
		})
	}
}

// TestAggregationStopsOnCancel: a cancelled context stops a run with the
// context's error, on every path (segments, merge, result rows).
func TestAggregationStopsOnCancel(t *testing.T) {
	snap := benchSnapshot(t, 3*storage.SegmentBlockRows+123)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, keys := range [][]GroupKey{nil, {{Column: "event"}}, {{Column: "time"}}} {
		a := &Aggregation{Snap: snap, Keys: keys, Aggs: []Agg{{Kind: AggCountDistinct, Column: "distinct_id"}}, Workers: 2}
		if _, err := a.Run(ctx); !errors.Is(err, context.Canceled) {
			t.Errorf("keys %v: %v, want context.Canceled", keys, err)
		}
	}
}

func TestNilMemoryBudgetIsNoLimit(t *testing.T) {
	var b *MemoryBudget
	if err := b.Grow(1<<62, "x"); err != nil || b.PeakBytes() != 0 || b.LimitBytes() != 0 {
		t.Fatalf("nil budget: %v", err)
	}
	if NewMemoryBudget(0) != nil || NewMemoryBudget(-1) != nil {
		t.Fatal("a budget of <= 0 bytes must be nil (no limit)")
	}
	b = NewMemoryBudget(100)
	if err := b.Grow(100, "x"); err != nil {
		t.Fatalf("at the limit: %v", err)
	}
	if err := b.Grow(1, "x"); !errors.Is(err, ErrMemoryLimit) {
		t.Fatalf("past the limit: %v", err)
	}
	if err := b.Grow(-50, "x"); err != nil || b.PeakBytes() != 101 {
		t.Fatalf("returning bytes: %v, peak %d", err, b.PeakBytes())
	}
}

// TestMemoryPool: budgets in one pool fail once together they pass it,
// with an error saying so, and give their charge back on Release.
func TestMemoryPool(t *testing.T) {
	pool := NewMemoryPool(100)
	a, b := NewMemoryBudgetIn(pool, 1000), NewMemoryBudgetIn(pool, 0)
	if err := a.Grow(90, "a"); err != nil {
		t.Fatal(err)
	}
	err := b.Grow(20, "b")
	var me *MemoryLimitError
	if !errors.As(err, &me) || !me.Shared || me.LimitBytes != 100 || me.UsedBytes != 110 {
		t.Fatalf("second query past the pool: %v", err)
	}
	if !errors.Is(err, ErrMemoryLimit) {
		t.Fatal("a pool error is not ErrMemoryLimit")
	}
	a.Release()
	a.Release() // once only
	if got := pool.UsedBytes(); got != 20 {
		t.Fatalf("pool holds %d after the first query ended, want 20", got)
	}
	if err := a.Grow(500, "a after its end"); err != nil || pool.UsedBytes() != 20 {
		t.Fatalf("a released budget charged the pool: %v, %d", err, pool.UsedBytes())
	}
	b.Release()
	if got := pool.UsedBytes(); got != 0 {
		t.Fatalf("pool holds %d with no query running", got)
	}
	var none *MemoryBudget
	none.Release() // nil budgets are no-ops
	if NewMemoryBudgetIn(nil, 0) != nil {
		t.Fatal("no pool and no limit gave a budget")
	}
}

package engine

// MemoryBudget bounds the bytes one query's native state may hold: the
// group tables, per-group aggregate states (distinct sets and bitmaps,
// funnel events) and the rows an Aggregation materializes. The server
// makes one per statement and puts it in the statement's context
// (WithMemoryBudget); the engine charges what it builds and fails the
// query with a *MemoryLimitError once the charge passes the limit, so
// one query cannot take the server's memory.
//
// Charges are estimates made where state grows (once per batch, not per
// row): Go map entries, roaring containers and slices at their usual
// sizes. They err high rather than low: a worker's state is still
// counted while the workers' tables are merged into one.
//
// INVARIANT: a nil *MemoryBudget is no limit; every method accepts it.

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"unsafe"

	"arb/storage"
)

// MemoryBudget is one query's memory account; safe for concurrent use
// by the query's workers. With a pool, what it charges also counts
// against the memory all queries share, until Release.
type MemoryBudget struct {
	limitBytes int64
	usedBytes  atomic.Int64
	peakBytes  atomic.Int64
	pool       *MemoryPool
	released   atomic.Bool
}

// MemoryPool is the memory all queries share: the server's memory limit
// leaves them a share (server/memory_limit.go), and a query whose charge
// would take the pool past it fails like one past its own budget.
type MemoryPool struct {
	limitBytes int64
	usedBytes  atomic.Int64
}

// NewMemoryPool returns a pool of limitBytes; <= 0 gives nil (no pool).
func NewMemoryPool(limitBytes int64) *MemoryPool {
	if limitBytes <= 0 {
		return nil
	}
	return &MemoryPool{limitBytes: limitBytes}
}

// UsedBytes is what the queries running now hold (0 for nil).
func (p *MemoryPool) UsedBytes() int64 {
	if p == nil {
		return 0
	}
	return p.usedBytes.Load()
}

// LimitBytes is the pool's size (0 for nil).
func (p *MemoryPool) LimitBytes() int64 {
	if p == nil {
		return 0
	}
	return p.limitBytes
}

// NewMemoryBudgetIn is NewMemoryBudget charging pool too (nil: none).
// The caller must Release the budget when the query has ended.
func NewMemoryBudgetIn(pool *MemoryPool, limitBytes int64) *MemoryBudget {
	b := NewMemoryBudget(limitBytes)
	if b == nil && pool != nil {
		b = &MemoryBudget{limitBytes: 1<<63 - 1}
	}
	if b != nil {
		b.pool = pool
	}
	return b
}

// Release returns the query's charge to its pool; later charges count
// against the budget alone. Call it once the query's workers are done.
func (b *MemoryBudget) Release() {
	if b == nil || b.pool == nil || b.released.Swap(true) {
		return
	}
	b.pool.usedBytes.Add(-b.usedBytes.Load())
}

// NewMemoryBudget returns a budget of limitBytes; limitBytes <= 0 gives
// nil (no limit).
func NewMemoryBudget(limitBytes int64) *MemoryBudget {
	if limitBytes <= 0 {
		return nil
	}
	return &MemoryBudget{limitBytes: limitBytes}
}

// ErrMemoryLimit is what every *MemoryLimitError is (errors.Is).
var ErrMemoryLimit = errors.New("query memory limit exceeded")

// MemoryLimitError says that a query's state passed its budget.
type MemoryLimitError struct {
	LimitBytes int64  // the budget
	UsedBytes  int64  // the charge that passed it
	What       string // the state that grew, e.g. "aggregate: count_distinct(x); group by: y"
	// Shared: the limit passed is the pool all running queries share
	// (a share of the server's memory limit), not this query's own.
	Shared bool
}

func (e *MemoryLimitError) Error() string {
	if e.Shared {
		return fmt.Sprintf("%s: the queries running now hold %d bytes, past the %d bytes the server's memory limit leaves queries (--memory-limit); retry when fewer run",
			e.What, e.UsedBytes, e.LimitBytes)
	}
	return fmt.Sprintf("%s: %d bytes of query state passed the per-query memory limit of %d bytes", e.What, e.UsedBytes, e.LimitBytes)
}

func (e *MemoryLimitError) Is(target error) bool { return target == ErrMemoryLimit }

// Grow charges n bytes (negative n returns them) for what, and returns a
// *MemoryLimitError when the charge is then past the limit. The charge
// stays either way: the caller abandons the query.
func (b *MemoryBudget) Grow(n int64, what string) error {
	if b == nil || n == 0 {
		return nil
	}
	used := b.usedBytes.Add(n)
	for {
		p := b.peakBytes.Load()
		if used <= p || b.peakBytes.CompareAndSwap(p, used) {
			break
		}
	}
	// The pool is charged whatever happens next, so that Release returns
	// exactly what was charged.
	var all int64
	pooled := b.pool != nil && !b.released.Load()
	if pooled {
		all = b.pool.usedBytes.Add(n)
	}
	if n > 0 && used > b.limitBytes {
		return &MemoryLimitError{LimitBytes: b.limitBytes, UsedBytes: used, What: what}
	}
	if pooled && n > 0 && all > b.pool.limitBytes {
		return &MemoryLimitError{LimitBytes: b.pool.limitBytes, UsedBytes: all, Shared: true, What: what}
	}
	return nil
}

// PeakBytes is the largest charge the budget has held (0 for nil).
func (b *MemoryBudget) PeakBytes() int64 {
	if b == nil {
		return 0
	}
	return b.peakBytes.Load()
}

// LimitBytes is the budget's limit (0 for nil: none).
func (b *MemoryBudget) LimitBytes() int64 {
	if b == nil {
		return 0
	}
	return b.limitBytes
}

type memoryBudgetKey struct{}

// slotSized is an aggState whose per-group slots take other than
// stateSlotBytes: typed state (aggregate_extreme_time.go), or none (a
// value read off the group's key).
type slotSized interface {
	slotBytes() int64
}

// stateSlotBytesOf is what one group's slot of st takes.
func stateSlotBytesOf(st aggState) int64 {
	if s, ok := st.(slotSized); ok {
		return s.slotBytes()
	}
	return stateSlotBytes
}

// WithMemoryBudget returns ctx carrying b, for every engine call made
// with it or a context derived from it.
func WithMemoryBudget(ctx context.Context, b *MemoryBudget) context.Context {
	return context.WithValue(ctx, memoryBudgetKey{}, b)
}

// MemoryBudgetOf is ctx's budget, nil when it carries none.
func MemoryBudgetOf(ctx context.Context) *MemoryBudget {
	b, _ := ctx.Value(memoryBudgetKey{}).(*MemoryBudget)
	return b
}

// Estimated sizes of the state the engine charges, in bytes.
const (
	// groupKeyBytes is one group's key in a worker's group table (a
	// groupKey: maxGroupKeys uint64s and a byte of NULL marks).
	groupKeyBytes = 40
	// groupMapBytes is a group keyed in the table's map rather than its
	// dense index: the entry (key, value) and the Go map's overhead.
	groupMapBytes = 96
	// groupBytes is a group with its key in the map: what a group costs
	// at most besides its state.
	groupBytes = groupKeyBytes + groupMapBytes
	// stateSlotBytes is one group's slot in an aggregate's state slices
	// (counts, sums, values) unless the state says otherwise (slotSized).
	stateSlotBytes = 48
	// setEntryBytes is one key in a distinct set (map[uint64]struct{}).
	setEntryBytes = 40
	// newSetBytes and newBitmapBytes are an empty set or bitmap.
	newSetBytes    = 64
	newBitmapBytes = 96
	// bitmapEntryBytes is a value in a roaring bitmap: 2 bytes in an
	// array container; a bitmap container holds 4096 or more values in
	// 8 KiB, which is no more.
	bitmapEntryBytes = 2
	// rowValueBytes is one storage.Value of a materialized row: the
	// Value itself; its string, where it has one, is a user's id in the
	// users file's cached chunk or an interned string, shared.
	rowValueBytes = int64(unsafe.Sizeof(storage.Value{}))
	// rowBytes is a materialized row's slice header.
	rowBytes = int64(unsafe.Sizeof([]storage.Value(nil)))
	// CheckEveryRows is how often a loop over rows or groups that has no
	// natural block boundary checks its context: cheap against the work
	// in between, and well under 100 ms of it.
	CheckEveryRows = 4096
)

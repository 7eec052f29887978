package native

import (
	"fmt"
	"math/rand/v2"
	"syscall"
	"testing"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/types"
	"github.com/dolthub/vitess/go/sqltypes"

	"arb/storage"
)

// BenchmarkWindowTopRows: first touch (ROW_NUMBER() = 1 per user by
// time) over 1M rows of 50k users in random time order, on one core:
// the serial top n, which copies a row each time it enters its user's
// best, against a worker's, which holds rows pending per part of 100k
// rows.
func BenchmarkWindowTopRows(b *testing.B) {
	ctx := sql.NewEmptyContext()
	idType := types.MustCreateString(sqltypes.Text, types.TextBlobMax, sql.Collation_utf8mb4_bin)
	const rows, users = 1 << 20, 50_000
	ids := make([]string, users)
	for i := range ids {
		ids[i] = fmt.Sprint("user-", i)
	}
	numbering := storage.NewUserIDs(ids)
	r := rand.New(rand.NewPCG(1, 2))
	var batches []*Batch
	for from := 0; from < rows; from += BatchSize {
		n := min(BatchSize, rows-from)
		nums := make([]int, n)
		key := &Column{Kind: KindInt, Type: types.Int64, I: make([]int64, n)}
		src := &Column{Kind: KindString, Type: idType, S: make([]string, n)}
		for i := range n {
			nums[i] = r.IntN(users)
			key.I[i] = r.Int64N(1 << 40)
			src.S[i] = []string{"google", "direct", "newsletter"}[r.IntN(3)]
		}
		batches = append(batches, &Batch{N: n, Cols: []*Column{userColumn(numbering, nums...), key, src}})
	}
	block := &windowBlock{
		partKeys:  []sortKey{newSortKey(&fieldExpr{idx: 0, typ: idType, name: "distinct_id"}, idType)},
		orderKeys: []sortKey{newSortKey(&fieldExpr{idx: 1, typ: types.Int64, name: "time"}, types.Int64)},
		fns:       []*windowFunc{{kind: fnRowNumber}},
	}
	op := &windowOp{blocks: []*windowBlock{block}, rowLimit: 1}
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(rows) // "bytes" are rows
		defer reportCPU(b)()
		for b.Loop() {
			if _, err := op.collectTopRows(ctx, &sliceIter{batches: append([]*Batch(nil), batches...)}, newMemCharge(ctx)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("worker", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(rows)
		defer reportCPU(b)()
		for b.Loop() {
			t, mem := op.newTopRows(), newMemCharge(ctx)
			t.trackPos = true
			for i, bt := range batches {
				if i%(100_000/BatchSize) == 0 {
					if err := t.flushPending(mem); err != nil {
						b.Fatal(err)
					}
				}
				t.nextPos = int64(i * BatchSize)
				if err := t.add(ctx, bt, mem); err != nil {
					b.Fatal(err)
				}
			}
			if err := t.flushPending(mem); err != nil {
				b.Fatal(err)
			}
			t.compact()
		}
	})
}

// reportCPU reports the process's CPU time per op when the returned func
// runs: on a shared machine, CPU time varies less than wall time.
func reportCPU(b *testing.B) func() {
	cpu := func() int64 {
		var ru syscall.Rusage
		if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
			b.Fatal(err)
		}
		return ru.Utime.Nano() + ru.Stime.Nano()
	}
	start := cpu()
	return func() { b.ReportMetric(float64(cpu()-start)/float64(b.N), "cpu-ns/op") }
}

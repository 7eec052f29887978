package engine

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// BenchmarkWindowFunnel measures one group's evaluation, the native
// path's inner loop: time-ordered input (the common case, which skips the
// sort) and shuffled input, by group size. A reached last step returns
// early, so the events are built to stop at step 2 of 3 and every event
// is visited.
func BenchmarkWindowFunnel(b *testing.B) {
	for _, n := range []int{10, 100, 10000} {
		for _, order := range []string{"sorted", "shuffled"} {
			b.Run(fmt.Sprintf("events=%d/%s", n, order), func(b *testing.B) {
				rng := rand.New(rand.NewPCG(1, uint64(n)))
				events := make([]FunnelEvent, n)
				for i := range events {
					events[i] = FunnelEvent{TimeMillis: int64(i) * 1000, Steps: 1 << rng.IntN(2)}
				}
				work := make([]FunnelEvent, n)
				b.ReportAllocs()
				b.SetBytes(int64(n) * 16)
				b.ResetTimer()
				for b.Loop() {
					if order == "shuffled" {
						b.StopTimer()
						copy(work, events)
						rng.Shuffle(n, func(i, j int) { work[i], work[j] = work[j], work[i] })
						b.StartTimer()
					} else {
						copy(work, events)
					}
					if got := WindowFunnel(week, 3, work); got > 2 {
						b.Fatalf("level %d, want at most 2", got)
					}
				}
			})
		}
	}
}

// BenchmarkWindowFunnelReference is the slow reference on the same input,
// for scale.
func BenchmarkWindowFunnelReference(b *testing.B) {
	events := make([]FunnelEvent, 100)
	for i := range events {
		events[i] = FunnelEvent{TimeMillis: int64(i) * 1000, Steps: 1 << (i % 2)}
	}
	b.ReportAllocs()
	for b.Loop() {
		referenceWindowFunnel(week, 3, slices.Clone(events))
	}
}

package server

// The heap's first cycle, faulted in ahead of queries. Go's heap grows to
// twice its live size before the collector runs (GOGC 100), and the pages
// it grows into are new to the process: the first write to each faults,
// and on the virtual machines arb runs on a fault costs about 14 µs per
// 4 KiB page (measured: 1,600 faults took a 7 ms query to 30 ms). After a
// restart the live heap is the block cache and the stores' indexes
// (~0.5 GB at 10M events), so the first half GB that queries allocate
// paid that: per-user aggregations ran at 3× their time for the first
// minutes, and any query during the growth phases by a third to 3×.
// Once a collection has freed them, the pages are reused without a
// fault, and the runtime keeps them (it returns to the OS only what lies
// well above the heap goal).
//
// preTouchHeap runs that first cycle up front, like a JVM's
// AlwaysPreTouch: after the block cache warm-up, while no query runs, it
// allocates garbage in small chunks, writing one byte a page, until the
// collector has run twice. The chunks are dropped at once, so the
// collection finds the live heap unchanged and sets the same goal; the
// pages between the live heap and that goal are then faulted in and
// free. It costs a second or two of one core in the background and makes
// RSS reach the heap goal at once rather than in the first minutes of
// queries. What it does not cover: growth of the live heap after it (a
// block cache that starts cold fills as queries read, raising the goal),
// whose new pages still fault once.

import (
	"log/slog"
	rtmetrics "runtime/metrics"
	"time"
)

// preTouchChunk is the garbage allocated at a time: small beside the
// heap, so that the collection it triggers sees next to none of it live.
const preTouchChunk = 4 << 20

// preTouchPause is how long the pre-touch waits before it looks again
// whether queries still run.
const preTouchPause = 10 * time.Millisecond

// preTouchSink keeps the compiler from dropping the chunks' writes.
var preTouchSink []byte

// preTouchHeap runs the heap through one collection cycle of garbage
// (see the file comment), touching at most max bytes, and logs what it
// did; it returns the bytes touched. While busy reports true (queries
// are running) it waits: the faults are the queries' to take then, not
// a second core's worth of contention on top of them.
func preTouchHeap(max int64, busy func() bool, log *slog.Logger) int64 {
	start := time.Now()
	sample := []rtmetrics.Sample{{Name: "/gc/cycles/total:gc-cycles"}}
	cycles := func() uint64 {
		rtmetrics.Read(sample)
		return sample[0].Value.Uint64()
	}
	first := cycles()
	var touched int64
	// Two collections: the first may come early (the heap was already
	// part way to its goal); after it, the garbage takes the heap from
	// the live size all the way to the goal before the second.
	for touched < max && cycles() < first+2 {
		for busy() {
			time.Sleep(preTouchPause)
		}
		b := make([]byte, preTouchChunk)
		for i := 0; i < len(b); i += 4096 {
			b[i] = 1
		}
		preTouchSink = b
		preTouchSink = nil
		touched += preTouchChunk
	}
	log.Info("heap pre-touched", "mib", touched>>20, "took", time.Since(start).Round(time.Millisecond))
	return touched
}

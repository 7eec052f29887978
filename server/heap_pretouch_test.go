package server

import (
	"io"
	"log/slog"
	"runtime/debug"
	rtmetrics "runtime/metrics"
	"testing"
)

// TestPreTouchHeap: the pre-touch stops after two collections, or at its
// bound when the heap's goal lies beyond it, and waits while busy.
func TestPreTouchHeap(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	sample := []rtmetrics.Sample{{Name: "/gc/cycles/total:gc-cycles"}}
	cycles := func() uint64 {
		rtmetrics.Read(sample)
		return sample[0].Value.Uint64()
	}
	idle := func() bool { return false }
	waits := 0
	busyTwice := func() bool { waits++; return waits <= 2 }
	before := cycles()
	touched := preTouchHeap(1<<30, idle, log)
	if after := cycles(); after < before+2 || touched == 0 || touched >= 1<<30 {
		t.Fatalf("touched %d bytes over %d collections; want two collections within the bound", touched, after-before)
	}
	// With the collector off, only the bound stops it.
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	if got := preTouchHeap(3*preTouchChunk, busyTwice, log); got != 3*preTouchChunk {
		t.Fatalf("bounded at %d bytes: touched %d", 3*preTouchChunk, got)
	}
	if waits != 5 {
		t.Fatalf("busy asked %d times; want twice while busy, then once per chunk", waits)
	}
}

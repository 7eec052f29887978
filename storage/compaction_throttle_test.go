package storage

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand"
	"sync"
	"testing"
	"time"

	"golang.org/x/time/rate"
)

// countingLimiter lets everything through and counts it.
type countingLimiter struct {
	mu           sync.Mutex
	burst        int
	calls        int
	bytes        int64
	overBurst    int
	virtualNow   time.Time     // with lim: a clock that only waits advance
	lim          *rate.Limiter // nil: no pacing, count only
	virtualSlept time.Duration
}

func (l *countingLimiter) Burst() int {
	if l.lim != nil {
		return l.lim.Burst()
	}
	return l.burst
}

func (l *countingLimiter) WaitN(_ context.Context, n int) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls++
	l.bytes += int64(n)
	if n > l.Burst() {
		l.overBurst++
	}
	if l.lim != nil {
		r := l.lim.ReserveN(l.virtualNow, n)
		if !r.OK() {
			return fmt.Errorf("rate: %d bytes over the burst of %d", n, l.lim.Burst())
		}
		d := r.DelayFrom(l.virtualNow)
		l.virtualNow = l.virtualNow.Add(d)
		l.virtualSlept += d
	}
	return nil
}

// throttleTestStore opens a store whose compactions use lim, with a day
// of segments from several flushes, and returns it with that day.
func throttleTestStore(t *testing.T, lim *countingLimiter, bytesPerSecond int64) (*Store, string) {
	t.Helper()
	prev := newCompactionLimiter
	newCompactionLimiter = func(bps int64) byteLimiter {
		if bps != bytesPerSecond {
			t.Errorf("limiter asked for %d bytes/s, want %d", bps, bytesPerSecond)
		}
		return lim
	}
	t.Cleanup(func() { newCompactionLimiter = prev })
	s, err := Open(Options{Dir: t.TempDir(), FlushInterval: time.Hour, DisableCompaction: true, CompactionBytesPerSecond: bytesPerSecond,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if _, err := s.CreateProject("p", "tok", "sec"); err != nil {
		t.Fatal(err)
	}
	p, _ := s.Project("p")
	r := rand.New(rand.NewSource(1))
	base := time.Date(2025, 3, 4, 0, 0, 0, 0, time.UTC).UnixMilli()
	for flush := 0; flush < 4; flush++ {
		evs := make([]Event, 20_000)
		for i := range evs {
			evs[i] = Event{TimeMillis: base + r.Int63n(86_400_000), Name: fmt.Sprintf("e%d", r.Intn(20)),
				DistinctID: fmt.Sprintf("u%d", r.Intn(2000)), InsertID: fmt.Sprintf("%016x", r.Uint64()),
				Props: []Prop{{"plan", StringValue(fmt.Sprintf("plan %d", r.Intn(5)))}, {"amount", IntValue(r.Int63n(1e6))}}}
		}
		if err := p.Ingest(evs); err != nil {
			t.Fatal(err)
		}
		if err := s.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	return s, "2025-03-04"
}

// TestCompactionThrottleCharges: every byte a compaction writes passes
// the limiter, in pieces no larger than its burst, and so does what it
// reads.
func TestCompactionThrottleCharges(t *testing.T) {
	lim := &countingLimiter{burst: 64 << 10}
	s, day := throttleTestStore(t, lim, 3<<20)
	res, err := s.CompactDay("p", day)
	if err != nil {
		t.Fatal(err)
	}
	if lim.overBurst > 0 {
		t.Errorf("%d waits asked for more than the burst", lim.overBurst)
	}
	// What the limiter let through is what the compaction read plus the
	// output: the inputs at least once, the output once written and once
	// read back (its stored sections, less header, footer and trailer).
	written := res.BytesOut
	read := lim.bytes - written
	t.Logf("%d waits: %d bytes; inputs %d bytes, output %d bytes", lim.calls, lim.bytes, res.BytesIn, res.BytesOut)
	if read < res.BytesIn/2 || read > 4*(res.BytesIn+res.BytesOut) {
		t.Errorf("charged %d bytes of reads for %d bytes of inputs and %d of output", read, res.BytesIn, res.BytesOut)
	}
	// The write side exactly: a compaction with reads not charged.
	th := &compactionThrottle{ctx: context.Background(), lim: &countingLimiter{burst: 4096}}
	p, _ := s.Project("p")
	var segs []*Segment
	for _, ref := range p.daySegments(day) {
		segs = append(segs, ref.Segment)
	}
	s.flushMu.Lock()
	schema, _ := s.publishedColumnsLocked("p")
	s.flushMu.Unlock()
	plan, err := planMerge("test", segs, schema, nil)
	if err != nil {
		t.Fatal(err)
	}
	n, err := plan.write(th.writer(discardCounter{}), nil)
	if err != nil {
		t.Fatal(err)
	}
	if cl := th.lim.(*countingLimiter); cl.bytes != n || th.written != n {
		t.Errorf("wrote %d bytes; the limiter passed %d, the throttle counted %d", n, cl.bytes, th.written)
	}
}

type discardCounter struct{}

func (discardCounter) Write(p []byte) (int, error) { return len(p), nil }

// TestCompactionThrottlePaces runs the limiter the store configures on a
// virtual clock: moving N bytes at L bytes per second must take at least
// about N/L seconds of waiting (less the burst allowed at once).
func TestCompactionThrottlePaces(t *testing.T) {
	const bytesPerSecond = 1 << 20
	real := rateCompactionLimiter(bytesPerSecond).(*rate.Limiter)
	lim := &countingLimiter{lim: real, virtualNow: time.Unix(0, 0)}
	s, day := throttleTestStore(t, lim, bytesPerSecond)
	if _, err := s.CompactDay("p", day); err != nil {
		t.Fatal(err)
	}
	floor := time.Duration(0.8 * float64(lim.bytes) / bytesPerSecond * float64(time.Second))
	t.Logf("%d bytes through %d waits: %v of virtual waiting", lim.bytes, lim.calls, lim.virtualSlept)
	if lim.bytes < 4*bytesPerSecond {
		t.Fatalf("only %d bytes moved: too few to tell pacing", lim.bytes)
	}
	if lim.virtualSlept < floor {
		t.Errorf("%d bytes at %d bytes/s waited %v, want at least %v", lim.bytes, bytesPerSecond, lim.virtualSlept, floor)
	}
}

// TestCompactionThrottleUnlimited: a negative rate makes no limiter, and
// the zero Options take the default.
func TestCompactionThrottleUnlimited(t *testing.T) {
	if rateCompactionLimiter(-1) != nil || rateCompactionLimiter(0) != nil {
		t.Fatal("a rate that is not positive must not limit")
	}
	var th *compactionThrottle
	if err := th.chargeRead(1 << 40); err != nil {
		t.Fatal(err)
	}
	s := openTestStore(t, t.TempDir(), nil)
	defer s.Close()
	if s.opts.CompactionBytesPerSecond != defaultCompactionBytesPerSecond {
		t.Fatalf("default rate %d, want %d", s.opts.CompactionBytesPerSecond, defaultCompactionBytesPerSecond)
	}
}

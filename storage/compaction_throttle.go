package storage

// Compaction's I/O budget. The compactor already yields the CPU (it runs
// at a lower thread priority, compactor_priority_linux.go); its disk
// traffic is paced here so that merging a large day does not starve the
// WAL's fsyncs and the queries' block reads of bandwidth.
//
// Every byte a compaction moves is charged to one token bucket of
// Options.CompactionBytesPerSecond (default 64 MiB/s, negative =
// unlimited): the stored (compressed) bytes of each input section it
// reads (blocks and dictionaries), each byte of the output it writes,
// and the stored bytes it reads back to check the output. A charge is
// taken before the bytes move, in pieces of at most the bucket's burst.
//
// INVARIANT (tested): the bytes charged for writing equal the output
// file's size.

import (
	"context"
	"fmt"
	"io"

	"golang.org/x/time/rate"
)

// defaultCompactionBytesPerSecond is Options.CompactionBytesPerSecond's
// default: a fraction of any SSD's bandwidth, and a 1 GiB day still
// compacts in about 30 s of I/O (read plus write).
const defaultCompactionBytesPerSecond = 64 << 20

// byteLimiter paces bytes. *rate.Limiter is one; tests count.
type byteLimiter interface {
	// WaitN blocks until n bytes may move; n is at most Burst.
	WaitN(ctx context.Context, n int) error
	Burst() int
}

// compactionThrottle charges one compaction's I/O to a limiter. A nil
// *compactionThrottle, or one with a nil limiter, does not limit.
type compactionThrottle struct {
	ctx context.Context // cancelled when the store closes
	lim byteLimiter
	// read and written count the bytes charged, by direction.
	read, written int64
}

// newCompactionLimiter makes each compaction run's limiter; tests swap
// it for one that counts or runs on a virtual clock.
var newCompactionLimiter = rateCompactionLimiter

// rateCompactionLimiter returns the limiter for bytesPerSecond (nil when
// it is not positive: unlimited). The burst is a tenth of a second's
// bytes, at least 1 MiB (the output's write buffer).
func rateCompactionLimiter(bytesPerSecond int64) byteLimiter {
	if bytesPerSecond <= 0 {
		return nil
	}
	burst := max(bytesPerSecond/10, 1<<20)
	return rate.NewLimiter(rate.Limit(bytesPerSecond), int(burst))
}

// compactionThrottleFor returns the throttle of one compaction run and
// the function that releases it. Waits end with an error once the store
// closes, so a paced compaction never holds Close up.
func (s *Store) compactionThrottleFor() (*compactionThrottle, func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		select {
		case <-s.closing:
			cancel()
		case <-done:
		}
	}()
	return &compactionThrottle{ctx: ctx, lim: newCompactionLimiter(s.opts.CompactionBytesPerSecond)}, func() {
		close(done)
		cancel()
	}
}

// charge waits until n bytes may move; counter is the direction's count.
func (t *compactionThrottle) charge(n int64, counter *int64) error {
	if t == nil {
		return nil
	}
	*counter += n
	if t.lim == nil {
		return nil
	}
	burst := int64(t.lim.Burst())
	for n > 0 {
		step := min(n, burst)
		if err := t.lim.WaitN(t.ctx, int(step)); err != nil {
			return fmt.Errorf("compaction I/O limit: %w", err)
		}
		n -= step
	}
	return nil
}

// chargeRead charges n bytes read.
func (t *compactionThrottle) chargeRead(n int64) error {
	if t == nil {
		return nil
	}
	return t.charge(n, &t.read)
}

// readBlock reads one block of seg's column, charging its stored bytes.
func (t *compactionThrottle) readBlock(seg *Segment, col string, block int) (*ColumnBlock, error) {
	c, err := seg.column(col, block)
	if err != nil {
		return nil, err
	}
	if err := t.chargeRead(c.Blocks[block].Length); err != nil {
		return nil, err
	}
	return seg.ReadBlock(col, block)
}

// readDict reads the dictionary of seg's column, charging its stored
// bytes.
func (t *compactionThrottle) readDict(seg *Segment, col string) ([]string, error) {
	if c, ok := seg.cols[col]; ok && c.Dict != nil {
		if err := t.chargeRead(c.Dict.Length); err != nil {
			return nil, err
		}
	}
	return seg.readDict(col)
}

// writer wraps w so that every byte written is charged first.
func (t *compactionThrottle) writer(w io.Writer) io.Writer {
	return &throttledWriter{w: w, t: t}
}

type throttledWriter struct {
	w io.Writer
	t *compactionThrottle
}

func (tw *throttledWriter) Write(p []byte) (int, error) {
	if tw.t == nil {
		return tw.w.Write(p)
	}
	if err := tw.t.charge(int64(len(p)), &tw.t.written); err != nil {
		return 0, err
	}
	return tw.w.Write(p)
}

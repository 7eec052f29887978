package storage

import (
	"fmt"
	"io"
	"log/slog"
	"syscall"
	"testing"
	"time"
)

// BenchmarkIngestFlush measures the storage side of a bulk load: 2,000-
// event batches (bench-workload shaped: low-cardinality strings, a user
// id of high cardinality, a sparse float) ingested into a fresh store,
// sealed in the background as they arrive, then flushed to segments. It
// reports the process's CPU time per event: sealing and the flush run on
// other goroutines, so ns/op alone would miss them.
//
//	go test ./storage -run '^$' -bench BenchmarkIngestFlush -count 6
func BenchmarkIngestFlush(b *testing.B) {
	const rows, batch = 500_000, 2000
	base := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	makeBatch := func(first int) []Event {
		evs := make([]Event, batch)
		for j := range evs {
			i := first + j
			props := []Prop{
				{Key: "$os", Value: StringValue([]string{"Windows", "Mac OS X", "iOS"}[i%3])},
				{Key: "$browser", Value: StringValue([]string{"Chrome", "Firefox"}[i%2])},
				{Key: "$city", Value: StringValue(fmt.Sprintf("City %d", i%300))},
				{Key: "plan", Value: StringValue([]string{"free", "pro"}[i%2])},
				{Key: "utm_source", Value: StringValue([]string{"", "ads", "mail"}[i%3])},
			}
			if i%30 == 0 {
				props = append(props, Prop{Key: "amount", Value: FloatValue(float64(i%500) + 0.25)})
			}
			evs[j] = Event{
				TimeMillis: base + int64(i)*97%(3*86_400_000),
				Name:       []string{"Page View", "Click", "Purchase", "Signup"}[i%4],
				DistinctID: fmt.Sprintf("user-%08d", i*7919%200_000),
				Props:      props,
			}
		}
		return evs
	}
	b.ReportAllocs()
	var cpu time.Duration
	for range b.N {
		b.StopTimer()
		batches := make([][]Event, 0, rows/batch)
		for i := 0; i < rows; i += batch {
			batches = append(batches, makeBatch(i))
		}
		s, err := Open(Options{Dir: b.TempDir(), FlushInterval: time.Hour, FlushRows: 10 * rows,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.CreateProject("bench", "t", "s"); err != nil {
			b.Fatal(err)
		}
		p, _ := s.Project("bench")
		b.StartTimer()
		cpu0 := processCPU()
		for _, evs := range batches {
			if err := p.Ingest(evs); err != nil {
				b.Fatal(err)
			}
		}
		s.WaitSealing()
		if err := s.Flush(); err != nil {
			b.Fatal(err)
		}
		cpu += processCPU() - cpu0
		b.StopTimer()
		s.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(cpu.Nanoseconds())/1000/float64(b.N*rows), "cpu-µs/event")
}

// processCPU is the user and system CPU time the process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

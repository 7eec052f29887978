package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestRunLineBatches checks that batches cut from a file arrive whole
// and unchanged although their buffers are used again: every line once,
// batchRows lines a batch but the last, and acked counting them.
func TestRunLineBatches(t *testing.T) {
	const lines, batchRows = 1000, 7
	var want []string
	var file strings.Builder
	for i := range lines {
		line := fmt.Sprintf(`{"n":%d,"pad":"%s"}`, i, strings.Repeat("x", i%50))
		want = append(want, line)
		file.WriteString(line + "\n")
	}
	path := filepath.Join(t.TempDir(), "lines.ndjson")
	if err := os.WriteFile(path, []byte(file.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var got []string
	var acked atomic.Int64
	send := func(ctx context.Context, b []byte) error {
		// A slow request, so that the reader fills every free buffer.
		time.Sleep(time.Millisecond)
		batch := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
		if len(batch) != batchRows && len(batch) != lines%batchRows {
			return fmt.Errorf("a batch of %d lines", len(batch))
		}
		mu.Lock()
		got = append(got, batch...)
		mu.Unlock()
		return nil
	}
	n, err := runLineBatches(context.Background(), path, 0, batchRows, 3, send, &acked)
	if err != nil || n != lines || acked.Load() != lines {
		t.Fatalf("runLineBatches: %d lines, %d acked, %v; want %d", n, acked.Load(), err, lines)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("the batches' lines differ from the file's (%d against %d)", len(got), len(want))
	}

	// A failed request ends the load with its error, though the workers
	// then give no buffer back.
	boom := errors.New("boom")
	done := make(chan error, 1)
	go func() {
		_, err := runLineBatches(context.Background(), path, 0, batchRows, 2, func(context.Context, []byte) error { return boom }, nil)
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, boom) {
			t.Fatalf("a failing send: %v, want %v", err, boom)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a failing send left runLineBatches waiting")
	}
}

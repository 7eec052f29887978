package server

import (
	"io"
	"log/slog"
	"runtime/debug"
	"testing"

	"arb/storage"
)

// TestApplyMemoryLimit: every budget is fitted into its share of the
// limit, smaller explicit budgets are kept, and the limit becomes Go's.
func TestApplyMemoryLimit(t *testing.T) {
	oldCache := storage.BlockCacheBudget()
	oldLimit := debug.SetMemoryLimit(-1)
	defer func() { storage.SetBlockCacheBytes(oldCache); debug.SetMemoryLimit(oldLimit) }()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))

	const limit = 1 << 30
	cfg := Config{Store: storage.Options{DedupIndexBytes: 16 << 20}}
	storage.SetBlockCacheBytes(storage.DefaultBlockCacheBytes)
	if err := applyMemoryLimit(&cfg, limit, log); err != nil {
		t.Fatal(err)
	}
	if cfg.Store.BufferBytes != limit/4 || cfg.IngestBudget != limit/8 || cfg.Store.UserCacheBytes != limit/64 {
		t.Errorf("buffer %d, ingest %d, user cache %d: want the shares of %d", cfg.Store.BufferBytes, cfg.IngestBudget, cfg.Store.UserCacheBytes, limit)
	}
	if cfg.Store.DedupIndexBytes != 16<<20 { // under its share, 64 MiB
		t.Errorf("an explicit dedup budget under its share became %d", cfg.Store.DedupIndexBytes)
	}
	if got := storage.BlockCacheBudget(); got != limit/8 {
		t.Errorf("block cache %d, want %d", got, limit/8)
	}
	if got := debug.SetMemoryLimit(-1); got != limit {
		t.Errorf("Go memory limit %d, want %d", got, limit)
	}
	if err := applyMemoryLimit(&cfg, 1<<20, log); err == nil {
		t.Error("a 1 MiB limit was accepted")
	}
	if DefaultMemoryLimit() <= 0 {
		t.Error("no default memory limit")
	}
}

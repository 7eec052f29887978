package server

// The server's memory budget (--memory-limit). Memory that grows with
// load or data is held in a few accounts, each bounded:
//
//	queries          native query state of all running queries ≤ 1/3 of the limit
//	ingest buffer    events not yet in segments (storage)      ≤ 1/4
//	block cache      decoded column blocks and dictionaries   ≤ 1/8
//	ingest requests  HTTP ingestion bodies being handled       ≤ 1/8
//	dedup indexes    segments' insert_id key indexes           ≤ 1/16
//	user caches      recently seen distinct_ids, per project   ≤ 1/64
//
// A budget given explicitly (--block-cache-bytes, ...) is kept when it is
// below its share, else lowered to it; what is left (under a tenth) is
// for the rest of the process. A query whose state would take the
// queries' share past its bound fails (1114, query_limits.go), as one
// past its own --query-memory-bytes does; go-mysql-server's row
// operators (joins, sorts of queries not run natively) are bounded only
// by --max-concurrent-queries and max_execution_time. The limit is also Go's soft
// memory limit (runtime/debug.SetMemoryLimit): near it the collector runs
// more often rather than letting garbage double the heap, so the process
// stays under the limit while each account stays under its share. Past
// its share, ingest waits and then is refused with a retryable error (503
// with Retry-After over HTTP, storage.ErrOverloaded); caches evict.

import (
	"bufio"
	"fmt"
	"log/slog"
	"os"
	"runtime/debug"
	"strconv"
	"strings"

	"arb/ingest"
	"arb/storage"
)

// DefaultMemoryLimit is half the memory of the machine, or of the cgroup
// the process runs in when that is smaller; 4 GiB when neither is known.
func DefaultMemoryLimit() int64 {
	total := memTotal()
	if cg := cgroupMemoryMax(); cg > 0 && (total == 0 || cg < total) {
		total = cg
	}
	if total <= 0 {
		return 4 << 30
	}
	return total / 2
}

// memTotal is MemTotal of /proc/meminfo in bytes, 0 if unknown.
func memTotal() int64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "MemTotal:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err == nil {
				return kb << 10
			}
		}
	}
	return 0
}

// cgroupMemoryMax is the cgroup v2 memory.max of this process, 0 if none.
func cgroupMemoryMax() int64 {
	b, err := os.ReadFile("/sys/fs/cgroup/memory.max")
	if err != nil {
		return 0
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0 // "max"
	}
	return n
}

// queryMemoryShare: all running queries together hold at most
// 1/queryMemoryShare of the limit (engine.MemoryPool).
const queryMemoryShare = 3

// minMemoryLimit is the smallest limit the shares make sense for.
const minMemoryLimit = 64 << 20

// applyMemoryLimit fits cfg's budgets and the block cache into limit
// (see the file comment) and sets Go's soft memory limit.
func applyMemoryLimit(cfg *Config, limit int64, log *slog.Logger) error {
	if limit < minMemoryLimit {
		return fmt.Errorf("--memory-limit %d: at least %d MiB", limit, minMemoryLimit>>20)
	}
	fit := func(configured *int64, def, share int64) {
		if *configured <= 0 {
			*configured = def
		}
		*configured = min(*configured, share)
	}
	fit(&cfg.Store.BufferBytes, storage.DefaultBufferBytes, limit/4)
	fit(&cfg.Store.DedupIndexBytes, 256<<20, limit/16)
	fit(&cfg.IngestBudget, ingest.DefaultBudget, limit/8)
	fit(&cfg.Store.UserCacheBytes, storage.DefaultUserCacheBytes, limit/64)
	blockCache := min(storage.BlockCacheBudget(), limit/8)
	storage.SetBlockCacheBytes(blockCache)
	debug.SetMemoryLimit(limit)
	log.Info("memory budget", "limit_mib", limit>>20, "block_cache_mib", blockCache>>20,
		"ingest_buffer_mib", cfg.Store.BufferBytes>>20, "dedup_index_mib", cfg.Store.DedupIndexBytes>>20,
		"ingest_requests_mib", cfg.IngestBudget>>20, "user_cache_mib_per_project", cfg.Store.UserCacheBytes>>20,
		"queries_mib", limit/queryMemoryShare>>20)
	return nil
}

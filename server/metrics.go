package server

import (
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"arb/ingest"
	"arb/storage"
)

// metrics are the server's Prometheus series, in a registry of its own so
// that several servers can live in one test process.
type metrics struct {
	registry      *prometheus.Registry
	statements    *prometheus.CounterVec
	queryLatency  prometheus.Histogram
	rowsIngested  prometheus.Counter
	walFsync      prometheus.Histogram
	walSyncedRecs prometheus.Counter
	fastInserts   prometheus.Counter
	loads         prometheus.Counter
	ingest        *ingest.Metrics // HTTP ingestion's series
}

func newMetrics() *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		statements: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "arb_sql_statements_total", Help: "SQL statements run over the MySQL protocol, by result.",
		}, []string{"result"}),
		queryLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "arb_query_seconds", Help: "Latency of SQL statements, from receipt to the last row sent.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 4, 12),
		}),
		rowsIngested: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "arb_rows_ingested_total", Help: "Events and people rows made durable.",
		}),
		walFsync: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "arb_wal_fsync_seconds", Help: "Latency of write-ahead log group commits (write + fsync).",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16),
		}),
		walSyncedRecs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "arb_wal_records_synced_total", Help: "Write-ahead log records made durable.",
		}),
		fastInserts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "arb_sql_fast_inserts_total", Help: "INSERT statements stored by the native literal-VALUES path.",
		}),
		loads: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "arb_sql_load_data_total", Help: "LOAD DATA LOCAL INFILE statements into events run by the native path.",
		}),
		ingest: ingest.NewMetrics(),
	}
	m.registry.MustRegister(m.ingest.Collectors()...)
	m.registry.MustRegister(m.statements, m.queryLatency, m.rowsIngested, m.walFsync, m.walSyncedRecs, m.fastInserts, m.loads,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// observeStore exports the store's gauges, read at scrape time.
func (m *metrics) observeStore(store *storage.Store) {
	gauge := func(name, help string, f func(storage.Stats) float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, func() float64 { return f(store.Stats()) })
	}
	m.registry.MustRegister(
		gauge("arb_segments", "Live segment files.", func(s storage.Stats) float64 { return float64(s.Segments) }),
		gauge("arb_disk_bytes", "Bytes on disk in segments and the write-ahead log.", func(s storage.Stats) float64 {
			return float64(s.SegmentBytes + s.WALBytes)
		}),
		gauge("arb_buffered_rows", "Events in memory not yet flushed to segments.", func(s storage.Stats) float64 {
			return float64(s.BufferedRows)
		}),
		gauge("arb_projects", "Projects.", func(s storage.Stats) float64 { return float64(s.ProjectsCount) }),
		gauge("arb_open_files", "Segment files open now (bounded by --max-open-files, plus reads in flight and deleted files still read).", func(s storage.Stats) float64 { return float64(s.OpenFiles) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "arb_block_cache_bytes", Help: "Decoded column blocks held for queries."},
			func() float64 { _, _, b := storage.BlockCacheStats(); return float64(b) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "arb_block_cache_hits_total", Help: "Block reads served from the decoded-block cache."},
			func() float64 { h, _, _ := storage.BlockCacheStats(); return float64(h) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "arb_block_cache_misses_total", Help: "Block reads that decoded the block."},
			func() float64 { _, m, _ := storage.BlockCacheStats(); return float64(m) }),
	)
	m.observeCompaction(store)
	m.observeFaults(store)
	m.registry.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "arb_ingest_buffer_bytes",
			Help: "Events acknowledged but not yet in segments, all projects (bounded by the memory budget: memory_limit.go)."},
			func() float64 { return float64(store.BufferStats().Buffered) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "arb_ingest_buffer_limit_bytes", Help: "Bound of arb_ingest_buffer_bytes."},
			func() float64 { return float64(store.BufferStats().Limit) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "arb_ingest_backpressure_waits_total",
			Help: "Ingest batches that waited for flushes to make room in the ingest buffer."},
			func() float64 { return float64(store.BufferStats().Waits) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "arb_ingest_overloaded_total",
			Help: "Ingest batches refused (nothing stored; retry later) because the ingest buffer stayed full."},
			func() float64 { return float64(store.BufferStats().Refusals) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "arb_memory_limit_bytes", Help: "The memory budget (--memory-limit): Go's soft memory limit."},
			func() float64 { return float64(debug.SetMemoryLimit(-1)) }),
	)
}

// observeQueries exports the query slots (query_limits.go): statements
// running and waiting for a slot.
func (m *metrics) observeQueries(l *queryLimits, warmedUp *atomic.Bool) {
	m.registry.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "arb_warmed_up",
			Help: "1 once the start's block cache warm-up and heap pre-touch (--heap-pretouch) are done: queries run at their steady speed from then on."},
			func() float64 {
				if warmedUp.Load() {
					return 1
				}
				return 0
			}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "arb_queries_running", Help: "Statements holding a query slot (bounded by --max-concurrent-queries)."},
			func() float64 { return float64(l.running.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "arb_queries_queued", Help: "Statements waiting for a query slot (at most --query-queue-timeout, then error 1205)."},
			func() float64 { return float64(l.queued.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "arb_query_memory_bytes",
			Help: "Native query state the running queries hold (with --memory-limit, bounded by a third of it)."},
			func() float64 { return float64(l.pool.UsedBytes()) }),
	)
}

// observeConnections exports the open connections of both ports
// (conn_limit.go); process_open_fds (the process collector) counts the
// descriptors.
func (m *metrics) observeConnections(mysqlConns *mysqlConnLimit, httpConns *httpConnLimit) {
	m.registry.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "arb_mysql_connections", Help: "Open MySQL connections (bounded by --mysql-max-connections)."},
			func() float64 { return float64(mysqlConns.Open()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "arb_http_connections", Help: "Open HTTP connections (bounded by --http-max-connections)."},
			func() float64 { return float64(httpConns.Open()) }),
	)
}

// observeFaults exports the store's fault handling (storage/wal_fault.go):
// writes refused by a fault that clears itself, by reason, whether one
// refuses writes now, and whether the store stopped taking writes for
// good (a restart is needed).
func (m *metrics) observeFaults(store *storage.Store) {
	for _, kind := range []storage.FaultKind{storage.FaultNoSpace, storage.FaultNoFiles} {
		m.registry.MustRegister(
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "arb_writes_refused_total",
				Help:        "Writes (WAL appends) refused, nothing stored, by a fault that clears itself, by reason.",
				ConstLabels: prometheus.Labels{"reason": kind.Label()}},
				func() float64 { return float64(store.FaultStats().Refused[kind]) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "arb_writes_refused_now",
				Help:        "1 while a fault of this reason refuses writes (until a write or a /readyz probe succeeds), else 0.",
				ConstLabels: prometheus.Labels{"reason": kind.Label()}},
				func() float64 {
					if store.FaultStats().Fault == kind {
						return 1
					}
					return 0
				}),
		)
	}
	m.registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "arb_store_failed",
		Help: "1 once the store stopped taking writes after a failure of unknown outcome (a failed fsync): restart needed; else 0."},
		func() float64 {
			if store.FaultStats().Failed {
				return 1
			}
			return 0
		}))
}

// observeCompaction exports the compactor's counters (storage/compaction.go):
// rows in and out are counted per run, so rows_in - duplicates - rows_out
// stays 0 (a run where it would not is aborted and counted as a failure).
func (m *metrics) observeCompaction(store *storage.Store) {
	counter := func(name, help string, f func(storage.CompactionStats) float64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, func() float64 { return f(store.CompactionStats()) })
	}
	gauge := func(name, help string, f func(storage.CompactionStats) float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, func() float64 { return f(store.CompactionStats()) })
	}
	m.registry.MustRegister(
		counter("arb_compaction_runs_total", "Compactions that published their output.", func(s storage.CompactionStats) float64 { return float64(s.Runs) }),
		counter("arb_compaction_failures_total", "Compactions aborted (inputs kept).", func(s storage.CompactionStats) float64 { return float64(s.Failures) }),
		counter("arb_compaction_rows_in_total", "Rows read by compactions.", func(s storage.CompactionStats) float64 { return float64(s.RowsIn) }),
		counter("arb_compaction_rows_out_total", "Rows written by compactions.", func(s storage.CompactionStats) float64 { return float64(s.RowsOut) }),
		counter("arb_compaction_duplicates_total", "Rows compactions dropped as repeats by dedup key.", func(s storage.CompactionStats) float64 { return float64(s.Duplicates) }),
		counter("arb_compaction_bytes_in_total", "Segment bytes read by compactions.", func(s storage.CompactionStats) float64 { return float64(s.BytesIn) }),
		counter("arb_compaction_bytes_out_total", "Segment bytes written by compactions.", func(s storage.CompactionStats) float64 { return float64(s.BytesOut) }),
		gauge("arb_compaction_last_failed", "1 when the last compaction failed (see the log and arb.compactions), else 0.", func(s storage.CompactionStats) float64 {
			if s.LastError != "" {
				return 1
			}
			return 0
		}),
		gauge("arb_segments_per_day_max", "Most segments any (project, day) holds now.", func(s storage.CompactionStats) float64 { return float64(s.MaxSegmentsPerDay) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "arb_dedup_index_bytes", Help: "Memory held by segment dedup indexes (bounded by --dedup-index-bytes)."},
			func() float64 { b, _, _ := store.DedupIndexStats(); return float64(b) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "arb_dedup_index_builds_total", Help: "Segment dedup indexes built (again, after eviction)."},
			func() float64 { _, b, _ := store.DedupIndexStats(); return float64(b) }),
	)
}

// statement starts timing a statement; call the result when it ends.
func (m *metrics) statement() func(error) {
	start := time.Now()
	return func(err error) {
		m.queryLatency.Observe(time.Since(start).Seconds())
		if err != nil {
			m.statements.WithLabelValues("error").Inc()
		} else {
			m.statements.WithLabelValues("ok").Inc()
		}
	}
}

func (m *metrics) walSynced(d time.Duration, records int) {
	m.walFsync.Observe(d.Seconds())
	m.walSyncedRecs.Add(float64(records))
}

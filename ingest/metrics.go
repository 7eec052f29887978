package ingest

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are HTTP ingestion's Prometheus series; the server registers
// Collectors in its own registry (several servers live in one test
// process, so nothing goes to the default registry).
type Metrics struct {
	requests *prometheus.CounterVec // by endpoint and HTTP status
	records  *prometheus.CounterVec // accepted records, by endpoint
	// inflight is the bytes of requests read and not yet answered
	// (budget.go).
	inflight atomic.Int64
}

// NewMetrics returns unregistered series.
func NewMetrics() *Metrics {
	return &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "arb_http_ingest_requests_total", Help: "HTTP ingestion requests, by endpoint and HTTP status.",
		}, []string{"endpoint", "status"}),
		records: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "arb_http_ingest_records_total", Help: "Records accepted by HTTP ingestion (duplicates included), by endpoint.",
		}, []string{"endpoint"}),
	}
}

// Collectors are the series to register, the in-flight bytes as a gauge
// read at scrape time.
func (m *Metrics) Collectors() []prometheus.Collector {
	return []prometheus.Collector{m.requests, m.records,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "arb_ingest_request_bytes",
			Help: "Bytes of HTTP ingestion requests read and not yet answered (bounded by --http-ingest-budget)."},
			func() float64 { return float64(m.inflight.Load()) }),
	}
}

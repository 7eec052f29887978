package server

// POST /admin/compact merges every day of every project into one segment
// now (storage.Store.Compact), whatever the background picker would wait
// for, and answers once it is done: for an operator before a backup or a
// benchmark, and for tests that need a known segment layout.
//
// The reply is JSON (adminCompactReply): what the store's compaction
// counters (storage.CompactionStats) moved by during the call, and the
// segment counts before and after. The counters are store-wide, so a
// background compaction that finishes during the call is counted too;
// rows_out = rows_in − duplicates holds for every run either way
// (storage/compaction.go checks it), so it holds for the sums.
//
// GET /debug/pprof/ serves Go's runtime profiles (heap, CPU, goroutines)
// to the same users: what an operator needs to see where a live server's
// memory or CPU goes without restarting it.
//
// Who may ask: the MySQL root user, as for POST /backup (http_backup.go):
// root's password as HTTP Basic credentials (user root) when the server
// has one, else loopback clients only. A compaction of a large store
// takes minutes of one core.

import (
	"crypto/subtle"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"arb/storage"
)

// adminCompactReply is the body POST /admin/compact answers with.
type adminCompactReply struct {
	Runs           int64  `json:"runs"` // compactions published during the call
	Failures       int64  `json:"failures"`
	RowsIn         int64  `json:"rows_in"`
	RowsOut        int64  `json:"rows_out"`
	Duplicates     int64  `json:"duplicates"` // rows dropped as repeats by dedup key
	BytesIn        int64  `json:"bytes_in"`
	BytesOut       int64  `json:"bytes_out"`
	SegmentsBefore int    `json:"segments_before"` // live segments, all projects
	SegmentsAfter  int    `json:"segments_after"`
	MaxSegsPerDay  int    `json:"max_segments_per_day"` // after the call
	TookMillis     int64  `json:"took_ms"`
	Error          string `json:"error,omitempty"` // set with HTTP 500: the run that failed kept its inputs
}

type adminHandler struct {
	store        *storage.Store
	rootPassword string
	log          *slog.Logger
}

// registerAdmin adds POST /admin/compact and GET /debug/pprof/ to mux.
func registerAdmin(mux *http.ServeMux, store *storage.Store, rootPassword string, log *slog.Logger) {
	h := &adminHandler{store: store, rootPassword: rootPassword, log: log}
	mux.HandleFunc("POST /admin/compact", h.rootOnly(h.compact))
	mux.HandleFunc("GET /debug/pprof/", h.rootOnly(pprof.Index))
	mux.HandleFunc("GET /debug/pprof/cmdline", h.rootOnly(pprof.Cmdline))
	mux.HandleFunc("GET /debug/pprof/profile", h.rootOnly(pprof.Profile))
	mux.HandleFunc("GET /debug/pprof/symbol", h.rootOnly(pprof.Symbol))
	mux.HandleFunc("GET /debug/pprof/trace", h.rootOnly(pprof.Trace))
}

// rootOnly answers 401 to anyone rootAuthorized refuses.
func (h *adminHandler) rootOnly(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !rootAuthorized(r, h.rootPassword) {
			w.Header().Set("WWW-Authenticate", `Basic realm="arb"`)
			http.Error(w, "admin: root user and password required (HTTP Basic)", http.StatusUnauthorized)
			return
		}
		next(w, r)
	}
}

func (h *adminHandler) compact(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	before, segsBefore := h.store.CompactionStats(), h.store.Stats().Segments
	err := h.store.Compact()
	after, segsAfter := h.store.CompactionStats(), h.store.Stats().Segments
	reply := adminCompactReply{
		Runs: after.Runs - before.Runs, Failures: after.Failures - before.Failures,
		RowsIn: after.RowsIn - before.RowsIn, RowsOut: after.RowsOut - before.RowsOut,
		Duplicates: after.Duplicates - before.Duplicates,
		BytesIn:    after.BytesIn - before.BytesIn, BytesOut: after.BytesOut - before.BytesOut,
		SegmentsBefore: segsBefore, SegmentsAfter: segsAfter, MaxSegsPerDay: after.MaxSegmentsPerDay,
		TookMillis: time.Since(start).Milliseconds(),
	}
	status := http.StatusOK
	if err != nil {
		// Compact logged the failed run; the client gets it in the reply.
		reply.Error, status = err.Error(), http.StatusInternalServerError
	}
	h.log.Info("admin compact", "client", r.RemoteAddr, "runs", reply.Runs, "rows_in", reply.RowsIn,
		"rows_out", reply.RowsOut, "duplicates", reply.Duplicates, "segments_before", segsBefore,
		"segments_after", segsAfter, "took", time.Since(start).Round(time.Millisecond), "failed", err != nil)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(reply)
}

// rootAuthorized checks root's password as HTTP Basic credentials, or
// without one that the client is on this host (POST /backup and
// /admin/compact).
func rootAuthorized(r *http.Request, rootPassword string) bool {
	if rootPassword == "" {
		host, _, err := net.SplitHostPort(r.RemoteAddr)
		ip := net.ParseIP(host)
		return err == nil && ip != nil && ip.IsLoopback()
	}
	user, pass, ok := r.BasicAuth()
	return ok && user == "root" && subtle.ConstantTimeCompare([]byte(pass), []byte(rootPassword)) == 1
}

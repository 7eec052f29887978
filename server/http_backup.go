package server

// POST /backup streams a consistent backup of the store (storage/backup.go)
// to `arb backup --server`. The request body is JSON, {"have": [files]}:
// the immutable files the client's backup directory holds (name, size,
// checksum), which the stream leaves out. The reply is the tar stream
// storage.Backup.WriteTo writes; its header X-Arb-Backup-Point names the
// backup point (WAL file and durable offset).
//
// Who may ask: a backup holds every project's events and API secrets, so
// it takes the MySQL root user's password as HTTP Basic credentials
// (user root) when the server has one. A server without a root password
// answers only loopback clients, as its MySQL root does nobody a favour
// elsewhere either.

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"arb/storage"
)

// backupMaxRequestBytes bounds the list of held files a client sends
// (about 100 bytes per file).
const backupMaxRequestBytes = 64 << 20

// backupRequest is the body of POST /backup.
type backupRequest struct {
	Have []storage.BackupFile `json:"have"`
}

type backupHandler struct {
	store        *storage.Store
	rootPassword string
	log          *slog.Logger
}

// registerBackup adds POST /backup to mux.
func registerBackup(mux *http.ServeMux, store *storage.Store, rootPassword string, log *slog.Logger) {
	mux.Handle("POST /backup", &backupHandler{store: store, rootPassword: rootPassword, log: log})
}

func (h *backupHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !rootAuthorized(r, h.rootPassword) {
		w.Header().Set("WWW-Authenticate", `Basic realm="arb"`)
		http.Error(w, "backup: root user and password required (HTTP Basic)", http.StatusUnauthorized)
		return
	}
	var req backupRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, backupMaxRequestBytes)).Decode(&req); err != nil && err != io.EOF {
		http.Error(w, fmt.Sprintf("backup: request body: %v", err), http.StatusBadRequest)
		return
	}
	start := time.Now()
	b, err := h.store.Backup(req.Have)
	if err != nil {
		http.Error(w, fmt.Sprintf("backup: %v", err), http.StatusInternalServerError)
		return
	}
	defer b.Close()
	pt := b.Point()
	w.Header().Set("Content-Type", "application/x-tar")
	w.Header().Set("X-Arb-Backup-Point", fmt.Sprintf("%06d.wal:%d", pt.Seq, pt.Offset))
	n, err := b.WriteTo(w)
	if err != nil {
		// The status is sent; the client sees a stream without its end
		// marker and keeps its previous backup. Cut the connection so it
		// does not wait.
		h.log.Error("backup stream", "err", err, "bytes", n)
		panic(http.ErrAbortHandler)
	}
	h.log.Info("backup sent", "client", r.RemoteAddr, "wal_seq", pt.Seq, "wal_offset", pt.Offset,
		"bytes", n, "took", time.Since(start).Round(time.Millisecond))
}

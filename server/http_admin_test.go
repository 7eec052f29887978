package server

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"arb/storage"
)

// postCompact calls POST /admin/compact and decodes the reply.
func postCompact(t *testing.T, srv *Server, user, pass string) (int, adminCompactReply) {
	t.Helper()
	req, _ := http.NewRequest("POST", "http://"+srv.HTTPAddr()+"/admin/compact", nil)
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var reply adminCompactReply
	if resp.StatusCode != http.StatusUnauthorized {
		if err := json.NewDecoder(resp.Body).Decode(&reply); err != nil {
			t.Fatalf("HTTP %d: decode reply: %v", resp.StatusCode, err)
		}
	}
	return resp.StatusCode, reply
}

func TestAdminCompact(t *testing.T) {
	srv := startTestServer(t, t.TempDir())
	db := openDB(t, srv, "")
	// Two days, three flushes: two segments a day, and one row sent twice
	// across flushes.
	for _, stmt := range []string{
		"INSERT INTO events (time, event, distinct_id, insert_id) VALUES ('2025-01-01 10:00:00', 'A', 'u1', 'i1'), ('2025-01-02 10:00:00', 'A', 'u1', 'i2')",
		"INSERT INTO events (time, event, distinct_id, insert_id) VALUES ('2025-01-01 11:00:00', 'B', 'u2', 'i3'), ('2025-01-02 11:00:00', 'B', 'u2', 'i4')",
		"INSERT INTO events (time, event, distinct_id, insert_id) VALUES ('2025-01-01 10:00:00', 'A', 'u1', 'i1')",
	} {
		mustExec(t, db, stmt)
		if err := srv.Store().Flush(); err != nil {
			t.Fatal(err)
		}
	}
	status, reply := postCompact(t, srv, "", "")
	if status != http.StatusOK || reply.Error != "" {
		t.Fatalf("HTTP %d: %+v", status, reply)
	}
	if reply.Runs != 2 || reply.SegmentsAfter != 2 || reply.MaxSegsPerDay != 1 || reply.SegmentsBefore <= reply.SegmentsAfter {
		t.Fatalf("want 2 runs leaving one segment a day; got %+v", reply)
	}
	if reply.RowsOut != reply.RowsIn-reply.Duplicates || reply.RowsOut != 4 {
		t.Fatalf("rows: want out = in − duplicates = 4; got %+v", reply)
	}
	var n int
	if err := db.QueryRow("SELECT count(*) FROM events").Scan(&n); err != nil || n != 4 {
		t.Fatalf("count(*) after compaction = %d (%v), want 4", n, err)
	}
	if status, reply := postCompact(t, srv, "", ""); status != http.StatusOK || reply.Runs != 0 {
		t.Fatalf("second call: want no runs; got HTTP %d %+v", status, reply)
	}
}

func TestAdminCompactNeedsRoot(t *testing.T) {
	srv, err := Start(Config{
		DataDir: t.TempDir(), MySQLAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", RootPassword: "pw",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Store:  storage.Options{FlushInterval: time.Hour, DisableCompaction: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	}()
	for _, c := range []struct{ user, pass string }{{"", ""}, {"root", "wrong"}, {"alice", "pw"}} {
		if status, _ := postCompact(t, srv, c.user, c.pass); status != http.StatusUnauthorized {
			t.Errorf("user %q password %q: HTTP %d, want 401", c.user, c.pass, status)
		}
	}
	if status, reply := postCompact(t, srv, "root", "pw"); status != http.StatusOK {
		t.Errorf("root with its password: HTTP %d %+v, want 200", status, reply)
	}
}

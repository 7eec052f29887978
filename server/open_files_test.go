package server

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"arb/storage"
)

// TestQueriesWithFewOpenFiles answers SQL over 300 segments (one a day)
// with room for 8 open segment files: every answer is right, and the
// store's open handles stay within the bound plus the reads in flight
// (storage/file_cache.go).
func TestQueriesWithFewOpenFiles(t *testing.T) {
	const days, perDay, bound = 300, 3, 8
	srv, err := Start(Config{
		DataDir: t.TempDir(), MySQLAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0",
		Projects: []ProjectSpec{{Name: "default", Token: "tok", Secret: "sec"}},
		Logger:   slog.New(slog.NewTextHandler(io.Discard, nil)),
		Store:    storage.Options{FlushInterval: time.Hour, DisableCompaction: true, MaxOpenFiles: bound},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	p, _ := srv.Store().Project("default")
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	var evs []storage.Event
	wantSum := int64(0)
	for d := 0; d < days; d++ {
		for k := 0; k < perDay; k++ {
			evs = append(evs, storage.Event{
				TimeMillis: base.AddDate(0, 0, d).Add(time.Duration(k) * time.Minute).UnixMilli(),
				Name:       []string{"Signup", "Purchase", "View"}[k], DistinctID: fmt.Sprintf("u%d", d%50),
				InsertID: fmt.Sprintf("%d-%d", d, k), Props: []storage.Prop{{Key: "amount", Value: storage.IntValue(int64(d))}},
			})
			wantSum += int64(d)
		}
	}
	if err := p.Ingest(evs); err != nil {
		t.Fatal(err)
	}
	if err := srv.Store().Flush(); err != nil {
		t.Fatal(err)
	}
	if n := srv.Store().Stats().Segments; n != days {
		t.Fatalf("%d segments, want %d", n, days)
	}
	db := openDB(t, srv, "")
	queries := []struct {
		sql  string
		want string
	}{
		{"SELECT count(*) FROM events", fmt.Sprint(days * perDay)},
		{"SELECT sum(amount) FROM events", fmt.Sprint(wantSum)},
		{"SELECT count(DISTINCT distinct_id) FROM events", "50"},
		{"SELECT count(*) FROM events WHERE event = 'Purchase' AND amount >= 100", fmt.Sprint(days - 100)},
		{"SELECT count(*) FROM (SELECT date(time) AS d, count(*) AS n FROM events GROUP BY d) x WHERE n = 3", fmt.Sprint(days)},
		{"SELECT max(amount) FROM events WHERE time >= '2024-06-01'", fmt.Sprint(days - 1)},
	}
	for round := 0; round < 2; round++ {
		for _, q := range queries {
			var got string
			if err := db.QueryRow(q.sql).Scan(&got); err != nil {
				t.Fatalf("%s: %v", q.sql, err)
			}
			if got != q.want {
				t.Errorf("%s: got %s, want %s", q.sql, got, q.want)
			}
			// The engine reads segments on a few goroutines at once.
			if n := srv.Store().Stats().OpenFiles; n > bound+8 {
				t.Errorf("after %s: %d segment files open, bound %d", q.sql, n, bound)
			}
		}
	}
}

package server

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"

	"arb/storage"
)

// startTestServer runs a server in-process on free loopback ports.
func startTestServer(tb testing.TB, dir string) *Server {
	tb.Helper()
	// Compaction only where a test asks for it: a background merge
	// between a query's pushdown-on and -off runs would change the scan
	// order that bare columns (AggAny) depend on.
	return startTestServerStore(tb, dir, storage.Options{FlushInterval: time.Hour, DisableCompaction: true})
}

// startTestServerStore starts a server whose store has the options st.
func startTestServerStore(tb testing.TB, dir string, st storage.Options) *Server {
	tb.Helper()
	srv, err := Start(Config{
		DataDir: dir, MySQLAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0",
		Projects: []ProjectSpec{{Name: "default", Token: "tok", Secret: "sec"}},
		Logger:   slog.New(slog.NewTextHandler(io.Discard, nil)),
		Store:    st,
	})
	if err != nil {
		tb.Fatalf("start server: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	return srv
}

func openDB(tb testing.TB, srv *Server, params string) *sql.DB {
	tb.Helper()
	db, err := sql.Open("mysql", fmt.Sprintf("root@tcp(%s)/default?parseTime=true&loc=UTC%s", srv.MySQLAddr(), params))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

func mustExec(tb testing.TB, db *sql.DB, query string, args ...any) {
	tb.Helper()
	if _, err := db.Exec(query, args...); err != nil {
		tb.Fatalf("%.200s: %v", query, err)
	}
}

package server

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"arb/storage"
)

// grantsFailFS fails the creation of the grants file's temp file while
// fail is set, as a full disk would.
type grantsFailFS struct {
	storage.OSFS
	fail atomic.Bool
}

func (f *grantsFailFS) Create(path string) (storage.File, error) {
	if f.fail.Load() && filepath.Base(path) == "grants.tmp" {
		return nil, &os.PathError{Op: "open", Path: path, Err: syscall.ENOSPC}
	}
	return f.OSFS.Create(path)
}

// startUsersServer starts a server on dir with fs and root's password pw.
func startUsersServer(t *testing.T, dir string, fs storage.FS, pw string) (*Server, error) {
	t.Helper()
	srv, err := Start(Config{
		DataDir: dir, MySQLAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", RootPassword: pw,
		Projects: []ProjectSpec{{Name: "shop", Token: "tok", Secret: "sec"}},
		Logger:   slog.New(slog.NewTextHandler(io.Discard, nil)),
		Store:    storage.Options{FS: fs, FlushInterval: time.Hour, DisableCompaction: true},
	})
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { stopServer(srv) })
	return srv, nil
}

func stopServer(srv *Server) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	srv.Shutdown(ctx)
}

// openAccount opens a pool as user with no current database (a new
// account has no privilege on any).
func openAccount(t *testing.T, srv *Server, user, pw string) *sql.DB {
	t.Helper()
	db, err := sql.Open("mysql", fmt.Sprintf("%s:%s@tcp(%s)/", user, pw, srv.MySQLAddr()))
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxIdleConns(0)
	t.Cleanup(func() { db.Close() })
	return db
}

// TestGrantsWriteFailure: a change whose grants file cannot be written
// fails, as does every later change (a failed write is not retried); a
// restart loads the last durable state, without the failed change.
func TestGrantsWriteFailure(t *testing.T) {
	dir := t.TempDir()
	fs := &grantsFailFS{}
	srv, err := startUsersServer(t, dir, fs, "pw")
	if err != nil {
		t.Fatal(err)
	}
	root := openAccount(t, srv, "root", "pw")
	mustExec(t, root, "CREATE USER kept IDENTIFIED BY 'k'")
	fs.fail.Store(true)
	_, err = root.Exec("CREATE USER lost IDENTIFIED BY 'l'")
	if err == nil || !strings.Contains(err.Error(), "grants") || !strings.Contains(err.Error(), "no space left") || !strings.Contains(err.Error(), "not durable") {
		t.Fatalf("CREATE USER with the grants file unwritable: %v; want an error naming the file, the cause and that it is not durable", err)
	}
	fs.fail.Store(false)
	if _, err := root.Exec("CREATE USER later IDENTIFIED BY 'x'"); err == nil || !strings.Contains(err.Error(), "refused until") {
		t.Fatalf("CREATE USER after a failed write: %v; want it refused", err)
	}
	stopServer(srv)

	srv, err = startUsersServer(t, dir, storage.OSFS{}, "pw")
	if err != nil {
		t.Fatal(err)
	}
	if err := openAccount(t, srv, "kept", "k").Ping(); err != nil {
		t.Fatalf("kept after restart: %v", err)
	}
	for _, u := range [][2]string{{"lost", "l"}, {"later", "x"}} {
		var me *mysql.MySQLError
		if err := openAccount(t, srv, u[0], u[1]).Ping(); !errors.As(err, &me) || me.Number != 1045 {
			t.Fatalf("%s after restart: %v; want 1045 (never durable)", u[0], err)
		}
	}
	// Changes are taken again after the restart.
	mustExec(t, openAccount(t, srv, "root", "pw"), "CREATE USER after IDENTIFIED BY 'a'")
}

// TestGrantsDamagedStopsStart: a damaged grants file fails Start with an
// error naming the file; the data directory is not left locked.
func TestGrantsDamagedStopsStart(t *testing.T) {
	dir := t.TempDir()
	srv, err := startUsersServer(t, dir, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	mustExec(t, openAccount(t, srv, "root", ""), "CREATE USER analyst IDENTIFIED BY 'a'")
	stopServer(srv)
	path := storage.GrantsPath(dir)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data[:len(data)-5], 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = startUsersServer(t, dir, nil, "")
	if err == nil || !strings.Contains(err.Error(), path) || !errors.Is(err, storage.ErrCorruption) {
		t.Fatalf("start with a truncated grants file: %v; want a corruption error naming %s", err, path)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	srv, err = startUsersServer(t, dir, nil, "")
	if err != nil {
		t.Fatalf("start after the file is repaired: %v", err)
	}
	if err := openAccount(t, srv, "analyst", "a").Ping(); err != nil {
		t.Fatalf("analyst after repair: %v", err)
	}
}

// TestAccessErrors: each refusal by the privilege checks and by a READ
// ONLY transaction carries MySQL's number, SQLSTATE and text (go-mysql-
// server's were all 1105/HY000 "command denied to user").
func TestAccessErrors(t *testing.T) {
	srv, err := startUsersServer(t, t.TempDir(), nil, "")
	if err != nil {
		t.Fatal(err)
	}
	root := openAccount(t, srv, "root", "")
	for _, q := range []string{
		"CREATE USER analyst IDENTIFIED BY 'a'", "GRANT SELECT ON shop.* TO analyst",
		"CREATE USER ingest IDENTIFIED BY 'i'", "GRANT INSERT ON shop.* TO ingest",
		"INSERT INTO shop.events (time, event, distinct_id) VALUES ('2025-01-01', 'e', 'u')",
	} {
		mustExec(t, root, q)
	}
	analyst, ingest := openAccount(t, srv, "analyst", "a"), openAccount(t, srv, "ingest", "i")
	cases := []struct {
		name  string
		db    *sql.DB
		query string
		num   uint16
		state string
		text  string
	}{
		{"native INSERT", analyst, "INSERT INTO shop.events (time, event, distinct_id) VALUES ('2025-01-01', 'e', 'u')",
			1142, "42000", "INSERT command denied to user 'analyst'@'%' for table 'events'"},
		{"INSERT SELECT, target", analyst, "INSERT INTO shop.events (time, event, distinct_id) SELECT time, event, distinct_id FROM shop.events",
			1142, "42000", "INSERT command denied to user 'analyst'@'%' for table 'events'"},
		{"INSERT SELECT, source", ingest, "INSERT INTO shop.events (time, event, distinct_id) SELECT time, event, distinct_id FROM shop.events",
			1142, "42000", "SELECT command denied to user 'ingest'@'%' for table 'events'"},
		{"SELECT", ingest, "SELECT count(*) FROM shop.events", 1142, "42000", "SELECT command denied to user 'ingest'@'%' for table 'events'"},
		{"SELECT a join", analyst, "SELECT count(*) FROM shop.events e JOIN shop.people p ON e.distinct_id = p.distinct_id",
			0, "", ""},
		{"UPDATE", analyst, "UPDATE shop.events SET event = 'x'", 1142, "42000", "UPDATE command denied to user 'analyst'@'%' for table 'events'"},
		{"DELETE", analyst, "DELETE FROM shop.events", 1142, "42000", "DELETE command denied to user 'analyst'@'%' for table 'events'"},
		{"other database", analyst, "SELECT * FROM arb.projects", 1044, "42000", "Access denied for user 'analyst'@'%' to database 'arb'"},
		{"USE", analyst, "USE arb", 1044, "42000", "Access denied for user 'analyst'@'%' to database 'arb'"},
		{"CREATE USER", analyst, "CREATE USER x IDENTIFIED BY 'y'", 1227, "42000", "Access denied; you need (at least one of) the CREATE USER privilege(s) for this operation"},
		{"DROP USER", analyst, "DROP USER ingest", 1227, "42000", "the CREATE USER privilege(s)"},
		{"GRANT", analyst, "GRANT INSERT ON shop.* TO analyst", 1227, "42000", "the GRANT OPTION privilege(s)"},
		{"SET GLOBAL", analyst, "SET GLOBAL max_connections = 1", 1227, "42000", "the SUPER or SYSTEM_VARIABLES_ADMIN privilege(s)"},
		{"others' grants", analyst, "SHOW GRANTS FOR ingest", 1044, "42000", "to database 'mysql'"},
		{"own grants", analyst, "SHOW GRANTS", 0, "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rows, err := c.db.Query(c.query)
			if err == nil {
				for rows.Next() {
				}
				err = rows.Err()
				rows.Close()
			}
			if c.num == 0 {
				if err != nil {
					t.Fatalf("%s: %v, want success", c.query, err)
				}
				return
			}
			var me *mysql.MySQLError
			if !errors.As(err, &me) || me.Number != c.num || string(me.SQLState[:]) != c.state || !strings.Contains(me.Message, c.text) {
				t.Fatalf("%s: %v; want %d (%s) %q", c.query, err, c.num, c.state, c.text)
			}
		})
	}

	// KILL: of one's own connection, as MySQL allows (Connector/J cancels
	// this way); of another user's, 1095.
	ownConn, err := analyst.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer ownConn.Close()
	rootConn, err := root.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer rootConn.Close()
	var ownID, rootID int64
	if err := ownConn.QueryRowContext(t.Context(), "SELECT CONNECTION_ID()").Scan(&ownID); err != nil {
		t.Fatal(err)
	}
	if err := rootConn.QueryRowContext(t.Context(), "SELECT CONNECTION_ID()").Scan(&rootID); err != nil {
		t.Fatal(err)
	}
	slept := make(chan error, 1)
	go func() {
		_, err := ownConn.ExecContext(t.Context(), "SELECT SLEEP(20)")
		slept <- err
	}()
	time.Sleep(300 * time.Millisecond) // the SLEEP has started
	if _, err := analyst.Exec(fmt.Sprintf("KILL QUERY %d", ownID)); err != nil {
		t.Fatalf("analyst KILL QUERY of its own connection: %v", err)
	}
	select {
	case err := <-slept:
		var me *mysql.MySQLError
		if !errors.As(err, &me) || me.Number != 1317 {
			t.Fatalf("the killed SELECT SLEEP(20): %v; want 1317", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("KILL QUERY of analyst's own query did not stop it")
	}
	for _, q := range []string{fmt.Sprintf("KILL QUERY %d", rootID), fmt.Sprintf("KILL %d", rootID)} {
		_, err := analyst.Exec(q)
		var me *mysql.MySQLError
		if !errors.As(err, &me) || me.Number != 1095 || me.Message != fmt.Sprintf("You are not owner of thread %d", rootID) {
			t.Fatalf("analyst %s (root's connection): %v; want 1095", q, err)
		}
	}
	if err := rootConn.PingContext(t.Context()); err != nil {
		t.Fatalf("root's connection after analyst's refused KILL: %v", err)
	}

	// Server-side prepared statements (go-sql-driver with arguments):
	// refused the same way.
	_, err = analyst.Exec("INSERT INTO shop.events (time, event, distinct_id) VALUES (?, ?, ?)", "2025-01-01", "e", "u")
	var me *mysql.MySQLError
	if !errors.As(err, &me) || me.Number != 1142 {
		t.Fatalf("prepared INSERT as analyst: %v; want 1142", err)
	}
	if _, err := ingest.Query("SELECT count(*) FROM shop.events WHERE event = ?", "e"); !errors.As(err, &me) || me.Number != 1142 {
		t.Fatalf("prepared SELECT as ingest: %v; want 1142", err)
	}

	// READ ONLY: 1792/25006 with MySQL's text, for the native INSERT path
	// and go-mysql-server's alike.
	conn, err := root.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, q := range []string{"SET SESSION TRANSACTION READ ONLY", "START TRANSACTION READ ONLY"} {
		if _, err := conn.ExecContext(t.Context(), q); err != nil {
			t.Fatal(err)
		}
		for _, ins := range []string{
			"INSERT INTO shop.events (time, event, distinct_id) VALUES ('2025-01-01', 'e', 'u')",
			"INSERT INTO shop.events (time, event, distinct_id) SELECT time, event, distinct_id FROM shop.events",
			"INSERT INTO shop.people (distinct_id, name) VALUES ('u', 'Ann')",
			"INSERT INTO shop.events (time, event, distinct_id) VALUES (?, 'e', 'u')",
		} {
			var args []any
			if strings.Contains(ins, "?") {
				args = append(args, "2025-01-01")
			}
			_, err := conn.ExecContext(t.Context(), ins, args...)
			var me *mysql.MySQLError
			if !errors.As(err, &me) || me.Number != 1792 || string(me.SQLState[:]) != "25006" || me.Message != "Cannot execute statement in a READ ONLY transaction." {
				t.Fatalf("after %s: %s: %v; want 1792 (25006)", q, ins, err)
			}
		}
		if _, err := conn.ExecContext(t.Context(), "SET SESSION TRANSACTION READ WRITE"); err != nil {
			t.Fatal(err)
		}
		if _, err := conn.ExecContext(t.Context(), "COMMIT"); err != nil {
			t.Fatal(err)
		}
	}
	var n int
	if err := conn.QueryRowContext(t.Context(), "SELECT count(*) FROM shop.events").Scan(&n); err != nil || n != 1 {
		t.Fatalf("count(*) = %d, %v after refused writes; want 1", n, err)
	}
}

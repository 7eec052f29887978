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

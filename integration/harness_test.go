// Package integration tests the real bin/arb from outside: it starts the
// binary on free loopback ports and talks to it with real clients (the
// go-sql-driver MySQL driver and the mariadb command-line client).
package integration

import (
	"bytes"
	"database/sql"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
)

func init() {
	// The crash test kills the server under open connections; the driver
	// would log every broken one.
	mysql.SetLogger(log.New(io.Discard, "", 0))
}

// arbBinary finds bin/arb: $ARB_BIN, or bin/arb above the test directory.
func arbBinary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("ARB_BIN"); p != "" {
		return p
	}
	dir, _ := os.Getwd()
	for ; dir != "/"; dir = filepath.Dir(dir) {
		if p := filepath.Join(dir, "bin", "arb"); fileExists(p) {
			return p
		}
	}
	t.Fatal("bin/arb not found: run `make build` (or set ARB_BIN)")
	return ""
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

func freePort(t testing.TB) int {
	t.Helper()
	portsMu.Lock()
	defer portsMu.Unlock()
	for {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		// The kernel may hand a port just closed out again: a cluster's
		// three Raft addresses once came out two the same. No port is
		// given twice in one test binary.
		if !portsGiven[port] {
			portsGiven[port] = true
			return port
		}
	}
}

var (
	portsMu    sync.Mutex
	portsGiven = map[int]bool{}
)

// lockedBuffer collects a process's output.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// arbProcess is one bin/arb serve process and its data directory.
type arbProcess struct {
	t         testing.TB
	bin       string
	dir       string
	mysqlPort int
	httpPort  int
	extra     []string
	// host is the address its listeners bind to and clients dial: ""
	// is 127.0.0.1; a node of a cluster in network namespaces has its
	// namespace's address (netns names the namespace it runs in).
	host, netns string
	// rootPassword is given as --root-password when not empty (a
	// server listening beyond loopback needs one).
	rootPassword string
	cmd          *exec.Cmd
	log          *lockedBuffer
	exited       chan error
	db           *sql.DB
}

// mountTmpfs mounts a tmpfs of size (mount's -o size=, e.g. "64k") at
// dir, creating dir, and unmounts it when the test ends (after what the
// test registers later, such as a server using it). Needs root.
func mountTmpfs(t *testing.T, dir, size string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Fatalf("mount a tmpfs of %s at %s (needs root): %v\n%s", size, dir, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v\n%s", dir, err, out)
		}
	})
}

// startArbAt starts bin/arb on data directory dir (which may hold a
// mount: the server is killed before cleanups registered earlier run).
func startArbAt(t *testing.T, dir string, extra ...string) *arbProcess {
	t.Helper()
	arb := &arbProcess{t: t, bin: arbBinary(t), dir: dir, mysqlPort: freePort(t), httpPort: freePort(t), extra: extra}
	arb.start()
	t.Cleanup(func() {
		if arb.cmd != nil {
			arb.cmd.Process.Kill()
			<-arb.exited
		}
		if t.Failed() {
			t.Logf("arb log:\n%.20000s", arb.log.String())
		}
	})
	return arb
}

// startArb starts bin/arb in a fresh data directory.
func startArb(t testing.TB, extra ...string) *arbProcess {
	t.Helper()
	p := &arbProcess{t: t, bin: arbBinary(t), dir: t.TempDir(), mysqlPort: freePort(t), httpPort: freePort(t), extra: extra}
	p.start()
	t.Cleanup(func() {
		if p.cmd != nil {
			p.cmd.Process.Kill()
			<-p.exited
		}
		if t.Failed() {
			t.Logf("arb log:\n%s", p.log.String())
		}
	})
	return p
}

func (p *arbProcess) start() {
	p.t.Helper()
	args := append([]string{"serve", "--data-dir", p.dir,
		"--mysql-addr", fmt.Sprintf("%s:%d", p.addr(), p.mysqlPort),
		"--http-addr", fmt.Sprintf("%s:%d", p.addr(), p.httpPort)}, p.extra...)
	p.cmd = exec.Command(p.bin, args...)
	if p.log == nil {
		p.log = &lockedBuffer{}
	}
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	if err := p.cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	p.exited = make(chan error, 1)
	go func(cmd *exec.Cmd, ch chan error) { ch <- cmd.Wait() }(p.cmd, p.exited)
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(p.url("/healthz"))
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		select {
		case err := <-p.exited:
			p.cmd = nil
			p.t.Fatalf("arb exited during start-up: %v\n%s", err, p.log.String())
		default:
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("arb not healthy after 60 s:\n%s", p.log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	db, err := sql.Open("mysql", fmt.Sprintf("root@tcp(%s:%d)/%s?parseTime=true&loc=UTC&interpolateParams=true", p.addr(), p.mysqlPort, p.database()))
	if err != nil {
		p.t.Fatal(err)
	}
	p.db = db
}

// database is the project DB() connects to: the first --project given,
// else the default project.
func (p *arbProcess) database() string {
	for i, a := range p.extra {
		if a == "--project" && i+1 < len(p.extra) {
			name, _, _ := strings.Cut(p.extra[i+1], ":")
			return name
		}
	}
	return "default"
}

func (p *arbProcess) url(path string) string {
	return fmt.Sprintf("http://%s:%d%s", p.addr(), p.httpPort, path)
}

// account is the user part of a DSN: root, with its password if set.
func (p *arbProcess) account() string {
	if p.rootPassword == "" {
		return "root"
	}
	return "root:" + p.rootPassword
}

// addr is the host the server listens on.
func (p *arbProcess) addr() string {
	if p.host == "" {
		return "127.0.0.1"
	}
	return p.host
}

// DB is a connection pool to the running server, on database().
func (p *arbProcess) DB() *sql.DB { return p.db }

// Stop sends SIGTERM and checks the server exits 0.
func (p *arbProcess) Stop() {
	p.t.Helper()
	p.db.Close()
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.exited:
		if err != nil {
			p.t.Fatalf("arb exited with %v after SIGTERM\n%s", err, p.log.String())
		}
	case <-time.After(60 * time.Second):
		p.t.Fatalf("arb did not exit within 60 s of SIGTERM")
	}
	p.cmd = nil
}

// Kill sends SIGKILL: a crash.
func (p *arbProcess) Kill() {
	p.t.Helper()
	p.db.Close()
	p.cmd.Process.Kill()
	<-p.exited
	p.cmd = nil
}

// Restart starts the server again on the same data directory and ports.
func (p *arbProcess) Restart() { p.t.Helper(); p.start() }

// mariadb runs statements through the mariadb command-line client and
// returns its tab-separated output.
func (p *arbProcess) mariadb(t testing.TB, db, statements string) string {
	t.Helper()
	bin, err := exec.LookPath("mariadb")
	if err != nil {
		t.Fatal("the mariadb client is not installed: .ci/run installs it (apt-get install mariadb-client)")
	}
	cmd := exec.Command(bin, "-h", "127.0.0.1", "-P", fmt.Sprint(p.mysqlPort), "-u", "root",
		"--batch", "--skip-column-names", "-e", statements, db)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("mariadb -e %q: %v\n%s", statements, err, out)
	}
	return strings.TrimRight(string(out), "\n")
}

func exec1(t testing.TB, db *sql.DB, query string, args ...any) {
	t.Helper()
	if _, err := db.Exec(query, args...); err != nil {
		t.Fatalf("%.300s: %v", query, err)
	}
}

// queryString runs a query whose result is one row; its columns are
// joined with '|'.
func queryString(t testing.TB, db *sql.DB, query string, args ...any) string {
	t.Helper()
	rows, err := db.Query(query, args...)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var lines []string
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		parts := make([]string, len(vals))
		for i, v := range vals {
			parts[i] = "NULL"
			if v.Valid {
				parts[i] = v.String
			}
		}
		lines = append(lines, strings.Join(parts, "|"))
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return strings.Join(lines, "\n")
}

// openPrepared opens a pool that uses server-side prepared statements.
func openPrepared(p *arbProcess) (*sql.DB, error) {
	return sql.Open("mysql", fmt.Sprintf("root@tcp(127.0.0.1:%d)/default?parseTime=true&loc=UTC", p.mysqlPort))
}

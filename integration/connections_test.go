package integration

// Connection limits, timeouts and accept loops under descriptor
// exhaustion (issue 14, "Connections"), against the real binary:
//
//   - TestConnectionsDescriptorExhaustion: with its descriptor limit
//     lowered (prlimit), arb runs out of descriptors accepting MySQL
//     connections; once they are closed, the MySQL port answers SELECT 1
//     again and HTTP answers too, without a restart.
//   - TestConnectionsMySQLLimit: connections beyond --mysql-max-connections
//     get error 1040; closing some lets new ones in; a client that never
//     authenticates is cut after --mysql-connect-timeout.
//   - TestConnectionsIdleTimeouts: idle MySQL and HTTP connections are
//     closed by the server, and freed MySQL places are reusable.
//   - TestConnectionsHTTPLimit: connections beyond --http-max-connections
//     get 503 with Retry-After, never a hang.
//   - TestConnectionsSlowloris: senders that announce a large body and
//     stall do not hold the ingest budget; a normal /import succeeds, and
//     the stalled ones get 408 and are closed after the body deadline.
//
// Only "eventually" loops carry times, as generous upper bounds.

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
)

// eventually calls f until it returns nil or within passes; it returns
// how long that took.
func eventually(t *testing.T, within time.Duration, what string, f func() error) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		err := f()
		if err == nil {
			return time.Since(start)
		}
		if time.Since(start) > within {
			t.Fatalf("%s: still failing after %s: %v", what, within, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// openMySQL is a pool on arb's MySQL port that keeps no idle connection
// (closing a *sql.Conn closes its connection), with short dial and read
// timeouts so that a port that does not answer fails instead of hanging.
func openMySQL(t *testing.T, arb *arbProcess, network string) *sql.DB {
	t.Helper()
	db, err := sql.Open("mysql", fmt.Sprintf("root@%s(127.0.0.1:%d)/%s?timeout=5s&readTimeout=10s&writeTimeout=10s", network, arb.mysqlPort, arb.database()))
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxIdleConns(0)
	t.Cleanup(func() { db.Close() })
	return db
}

// mysqlConn opens one connection and runs SELECT 1 on it.
func mysqlConn(db *sql.DB) (*sql.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	var one int
	if err := c.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil || one != 1 {
		c.Close()
		return nil, fmt.Errorf("SELECT 1 = %d: %v", one, err)
	}
	return c, nil
}

// readGreeting reads the server's first MySQL packet from c.
func readGreeting(c net.Conn, within time.Duration) ([]byte, error) {
	c.SetReadDeadline(time.Now().Add(within))
	var hdr [4]byte
	if _, err := io.ReadFull(c, hdr[:]); err != nil {
		return nil, err
	}
	n := int(hdr[0]) | int(hdr[1])<<8 | int(hdr[2])<<16
	payload := make([]byte, n)
	_, err := io.ReadFull(c, payload)
	return payload, err
}

// waitClosedByServer reads c until the server closes it; it fails the
// test if within passes first or the server sends data.
func waitClosedByServer(t *testing.T, c net.Conn, within time.Duration, what string) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(within))
	var b [1]byte
	n, err := c.Read(b[:])
	var ne net.Error
	switch {
	case n > 0:
		t.Fatalf("%s: server sent %q instead of closing", what, b[:n])
	case errors.As(err, &ne) && ne.Timeout():
		t.Fatalf("%s: still open after %s", what, within)
	case err == nil:
		t.Fatalf("%s: empty read without error", what)
	}
	// io.EOF or a reset: closed by the server.
}

func fdCount(t *testing.T, pid int) int {
	t.Helper()
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

func httpGet(url string) (int, http.Header, error) {
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get(url)
	if err != nil {
		return 0, nil, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, resp.Header, nil
}

func TestConnectionsDescriptorExhaustion(t *testing.T) {
	prlimit, err := exec.LookPath("prlimit")
	if err != nil {
		t.Fatal("prlimit (util-linux) is not installed")
	}
	arb := startArb(t, "--flush-interval", "1h", "--background-compaction=false")
	pid := arb.cmd.Process.Pid
	if _, err := mysqlConn(openMySQL(t, arb, "tcp")); err != nil {
		t.Fatalf("before: %v", err)
	}
	http.DefaultClient.CloseIdleConnections()

	limit := fdCount(t, pid) + 24
	if out, err := exec.Command(prlimit, "--pid", fmt.Sprint(pid), fmt.Sprintf("--nofile=%d:", limit)).CombinedOutput(); err != nil {
		t.Fatalf("prlimit: %v\n%s", err, out)
	}
	// Raw connections that got their greeting hold a descriptor each in
	// arb (until the connect timeout); the first that gets none found
	// arb out of descriptors.
	var held []net.Conn
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	exhausted := false
	for i := 0; i < 200 && !exhausted; i++ {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", arb.mysqlPort))
		if err != nil {
			t.Fatalf("dial %d: %v", i, err)
		}
		held = append(held, c)
		if _, err := readGreeting(c, 3*time.Second); err != nil {
			exhausted = true
		}
	}
	if !exhausted {
		t.Fatalf("arb greeted 200 connections with a descriptor limit of %d", limit)
	}
	t.Logf("no greeting after %d connections (descriptor limit %d)", len(held), limit)

	for _, c := range held {
		c.Close()
	}
	held = nil
	closedAt := time.Now()
	db := openMySQL(t, arb, "tcp")
	mysqlBack := eventually(t, 60*time.Second, "SELECT 1 after the descriptors came back", func() error {
		c, err := mysqlConn(db)
		if err == nil {
			c.Close()
		}
		return err
	})
	eventually(t, 60*time.Second, "GET /healthz after the descriptors came back", func() error {
		code, _, err := httpGet(arb.url("/healthz"))
		if err == nil && code != 200 {
			err = fmt.Errorf("status %d", code)
		}
		return err
	})
	t.Logf("recovered: MySQL answered SELECT 1 %s after the connections were closed, HTTP /healthz by %s", mysqlBack.Round(time.Millisecond), time.Since(closedAt).Round(time.Millisecond))
	// The log shows the test did what it meant: accepts failed with
	// EMFILE, were retried, and succeeded again.
	if log := arb.log.String(); !strings.Contains(log, "accept failed") || !strings.Contains(log, "too many open files") ||
		!strings.Contains(log, "accepting connections again") {
		t.Fatalf("the log does not show accepts failing with EMFILE and recovering")
	}
}

func TestConnectionsMySQLLimit(t *testing.T) {
	const max = 4
	arb := startArb(t, "--mysql-max-connections", fmt.Sprint(max), "--mysql-connect-timeout", "2s")
	db := openMySQL(t, arb, "tcp")
	var conns []*sql.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := 0; i < max; i++ {
		c, err := mysqlConn(db)
		if err != nil {
			t.Fatalf("connection %d of %d: %v", i+1, max, err)
		}
		conns = append(conns, c)
	}
	for i := 0; i < 3; i++ {
		c, err := mysqlConn(db)
		if err == nil {
			c.Close()
			t.Fatalf("connection %d beyond --mysql-max-connections=%d was accepted", i+1, max)
		}
		var me *mysql.MySQLError
		if !errors.As(err, &me) || me.Number != 1040 || me.Message != "Too many connections" {
			t.Fatalf("connection beyond the limit: %v, want error 1040 Too many connections", err)
		}
	}
	// The connections already open still work.
	for i, c := range conns {
		if _, err := c.ExecContext(context.Background(), "SELECT 1"); err != nil {
			t.Fatalf("connection %d after refusals: %v", i+1, err)
		}
	}

	// Two places freed: two new connections get in (once arb has seen
	// the closes), a third is refused again.
	conns[0].Close()
	conns[1].Close()
	conns = conns[2:]
	for i := 0; i < 2; i++ {
		eventually(t, 30*time.Second, "a new connection after closing two", func() error {
			c, err := mysqlConn(db)
			if err == nil {
				conns = append(conns, c)
			}
			return err
		})
	}
	if c, err := mysqlConn(db); err == nil {
		c.Close()
		t.Fatal("a fifth connection was accepted with four open")
	}

	// A client that connects and never authenticates is cut after the
	// connect timeout, and its place is freed.
	conns[0].Close()
	conns = conns[1:]
	var raw net.Conn
	eventually(t, 30*time.Second, "a greeting for a raw connection", func() error {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", arb.mysqlPort))
		if err != nil {
			return err
		}
		g, err := readGreeting(c, 10*time.Second)
		if err == nil && len(g) > 0 && g[0] == 0xff {
			err = fmt.Errorf("refused: %q", g)
		}
		if err != nil {
			c.Close()
			return err
		}
		raw = c
		return nil
	})
	defer raw.Close()
	waitClosedByServer(t, raw, 60*time.Second, "a connection that never authenticates")
	eventually(t, 30*time.Second, "a connection in the place of the unauthenticated one", func() error {
		c, err := mysqlConn(db)
		if err == nil {
			conns = append(conns, c)
		}
		return err
	})
}

// dialed records the sockets a go-sql-driver pool dials, so a test can
// watch a connection the driver is not using.
type dialed struct {
	mu    sync.Mutex
	conns []net.Conn
}

func (d *dialed) dial(ctx context.Context, addr string) (net.Conn, error) {
	var nd net.Dialer
	c, err := nd.DialContext(ctx, "tcp", addr)
	if err == nil {
		d.mu.Lock()
		d.conns = append(d.conns, c)
		d.mu.Unlock()
	}
	return c, err
}

func (d *dialed) all() []net.Conn {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]net.Conn(nil), d.conns...)
}

var registerDialer sync.Once
var tracked = &dialed{}

func TestConnectionsIdleTimeouts(t *testing.T) {
	registerDialer.Do(func() { mysql.RegisterDialContext("arbtracked", tracked.dial) })
	const max = 2
	arb := startArb(t, "--mysql-max-connections", fmt.Sprint(max), "--mysql-idle-timeout", "2s", "--http-idle-timeout", "2s")
	db := openMySQL(t, arb, "arbtracked")
	var conns []*sql.Conn
	for i := 0; i < max; i++ {
		c, err := mysqlConn(db)
		if err != nil {
			t.Fatalf("connection %d: %v", i+1, err)
		}
		defer c.Close()
		conns = append(conns, c)
	}
	sockets := tracked.all()
	if len(sockets) != max {
		t.Fatalf("%d sockets dialed, want %d", len(sockets), max)
	}
	for i, s := range sockets {
		waitClosedByServer(t, s, 60*time.Second, fmt.Sprintf("idle MySQL connection %d", i+1))
	}
	for i, c := range conns {
		if _, err := c.ExecContext(context.Background(), "SELECT 1"); err == nil {
			t.Fatalf("idle connection %d still answers after the server closed it", i+1)
		}
	}
	// Their places are free: max new connections get in.
	for i := 0; i < max; i++ {
		eventually(t, 30*time.Second, "a connection in the place of an idle one", func() error {
			c, err := mysqlConn(db)
			if err == nil {
				defer c.Close()
			}
			return err
		})
	}

	// HTTP: a keep-alive connection left idle is closed by the server.
	c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", arb.httpPort))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: arb\r\n\r\n")
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Close {
		t.Fatalf("GET /healthz: status %d, close %v; want 200 keep-alive", resp.StatusCode, resp.Close)
	}
	waitClosedByServer(t, &bufferedConn{Conn: c, r: br}, 60*time.Second, "idle HTTP keep-alive connection")
}

// bufferedConn reads through r (which may hold read-ahead bytes).
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufferedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// holdHTTP opens a keep-alive connection and gets one answer on it.
func holdHTTP(arb *arbProcess) (net.Conn, int, error) {
	c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", arb.httpPort))
	if err != nil {
		return nil, 0, err
	}
	fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: arb\r\n\r\n")
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		c.Close()
		return nil, 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		c.Close()
		return nil, resp.StatusCode, nil
	}
	return c, 200, nil
}

func TestConnectionsHTTPLimit(t *testing.T) {
	const max = 3
	arb := startArb(t, "--http-max-connections", fmt.Sprint(max))
	// Start-up's health check may leave a keep-alive connection that
	// takes a place until arb sees it closed.
	http.DefaultClient.CloseIdleConnections()
	var held []net.Conn
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	eventually(t, 30*time.Second, "hold the connection limit's worth of keep-alive connections", func() error {
		for len(held) < max {
			c, code, err := holdHTTP(arb)
			if err != nil {
				return err
			}
			if code != 200 {
				return fmt.Errorf("status %d", code)
			}
			held = append(held, c)
		}
		return nil
	})
	for i := 0; i < 3; i++ {
		code, hdr, err := httpGet(arb.url("/healthz"))
		if err != nil {
			t.Fatalf("request beyond --http-max-connections=%d: %v, want 503", max, err)
		}
		if code != http.StatusServiceUnavailable || hdr.Get("Retry-After") == "" {
			t.Fatalf("request beyond --http-max-connections=%d: status %d, Retry-After %q; want 503 with Retry-After", max, code, hdr.Get("Retry-After"))
		}
	}
	held[0].Close()
	held = held[1:]
	eventually(t, 30*time.Second, "GET /healthz after closing a connection", func() error {
		code, _, err := httpGet(arb.url("/healthz"))
		if err == nil && code != 200 {
			err = fmt.Errorf("status %d", code)
		}
		return err
	})
}

func TestConnectionsSlowloris(t *testing.T) {
	const (
		stalled     = 12
		announced   = 1 << 20 // each stalled request's Content-Length
		budget      = 4 << 20 // a third of what the stalled ones announce
		bodyTimeout = 15 * time.Second
	)
	arb := startArb(t, "--project", "sl:tok_sl:sec_sl", "--http-ingest-budget", fmt.Sprint(budget), "--http-body-read-timeout", bodyTimeout.String())
	auth := "Basic " + base64.StdEncoding.EncodeToString([]byte("sec_sl:"))

	// Each stalled sender announces 1 MiB and waits for 100 Continue,
	// which arb sends when its handler starts reading the body (so, with
	// a budget charged by announced size, after charging it). Half then
	// send 100 bytes; none sends more.
	type sender struct {
		c  net.Conn
		br *bufio.Reader
	}
	var senders []sender
	defer func() {
		for _, s := range senders {
			s.c.Close()
		}
	}()
	for i := 0; i < stalled; i++ {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", arb.httpPort))
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(c, "POST /import HTTP/1.1\r\nHost: arb\r\nAuthorization: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n", auth, announced)
		senders = append(senders, sender{c, bufio.NewReader(c)})
	}
	for i, s := range senders {
		s.c.SetReadDeadline(time.Now().Add(30 * time.Second))
		line, err := s.br.ReadString('\n')
		if err != nil || !strings.HasPrefix(line, "HTTP/1.1 100") {
			t.Fatalf("stalled sender %d: got %q (%v), want 100 Continue: its request was not taken up", i, line, err)
		}
		if blank, err := s.br.ReadString('\n'); err != nil || blank != "\r\n" {
			t.Fatalf("stalled sender %d: after 100 Continue: %q %v", i, blank, err)
		}
		if i%2 == 1 {
			s.c.Write([]byte("[" + strings.Repeat(" ", 99)))
		}
	}
	start := time.Now()

	// A normal /import gets through.
	req, _ := http.NewRequest("POST", arb.url("/import"), strings.NewReader(fmt.Sprintf(`[{"event":"ok","properties":{"distinct_id":"u1","time":%d,"$insert_id":"i1"}}]`, time.Now().UnixMilli())))
	req.Header.Set("Authorization", auth)
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Timeout: 60 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"num_records_imported":1`) {
		t.Fatalf("/import beside %d stalled senders: %d %s", stalled, resp.StatusCode, body)
	}
	if got := queryString(t, arb.DB(), "SELECT count(*) FROM sl.events WHERE event = 'ok'"); got != "1" {
		t.Fatalf("events stored: %s, want 1", got)
	}
	// The stalled senders were still in place when it did (else this
	// test showed nothing).
	if since := time.Since(start); since >= bodyTimeout {
		t.Fatalf("the normal /import finished %s after the stalled senders began, past their %s deadline: the test proves nothing", since, bodyTimeout)
	}

	// Each stalled sender is answered 408 and closed after the deadline.
	for i, s := range senders {
		s.c.SetReadDeadline(time.Now().Add(bodyTimeout + 60*time.Second))
		resp, err := http.ReadResponse(s.br, nil)
		if err != nil {
			t.Fatalf("stalled sender %d: no answer: %v", i, err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestTimeout {
			t.Fatalf("stalled sender %d: status %d %s, want 408", i, resp.StatusCode, got)
		}
		waitClosedByServer(t, &bufferedConn{Conn: s.c, r: s.br}, 30*time.Second, fmt.Sprintf("stalled sender %d after its 408", i))
	}
}

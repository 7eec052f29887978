package server

// Connection limits and handshake deadlines for both ports.
//
// MySQL: mysqlConnLimit counts connections from accept until
// go-mysql-server reports them closed (connHooks.ConnectionClosed). One
// beyond --mysql-max-connections gets MySQL's own refusal, an ERR packet
// 1040 "Too many connections" in place of the server greeting, and is
// closed; vitess's MaxConns would instead queue it or close it silently.
// A connection not authenticated within --mysql-connect-timeout is
// closed, so a client that connects and sends nothing holds a slot for
// that long only. The idle timeout (--mysql-idle-timeout, MySQL's
// wait_timeout) is vitess's per-read deadline, set in Start.
//
// The accepted *net.TCPConn is handed to go-mysql-server unwrapped: its
// handler finds the socket by type assertion to notice clients that hang
// up during a query, and a wrapper would hide it.
//
// HTTP: httpConnLimit counts connections from accept to Close (net/http
// closes every connection it accepted). One beyond --http-max-connections
// is answered 503 with Retry-After and closed, without reading a request.
//
// INVARIANT: mysqlConnLimit.conns holds exactly the connections Accept
// returned whose ConnectionClosed has not run; len(conns) <= max.
// INVARIANT: httpConnLimit.open counts connections Accept returned and
// not yet closed; open <= max.

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dolthub/vitess/go/mysql"
	"github.com/dolthub/vitess/go/netutil"
)

// Defaults of the connection flags (cmd/arb).
const (
	DefaultMySQLMaxConnections = 1000
	DefaultMySQLConnectTimeout = 10 * time.Second // MySQL's connect_timeout
	DefaultMySQLIdleTimeout    = 8 * time.Hour    // MySQL's wait_timeout
	DefaultMySQLWriteTimeout   = 60 * time.Second // MySQL's net_write_timeout
	DefaultHTTPMaxConnections  = 4096
	DefaultHTTPIdleTimeout     = 2 * time.Minute
	DefaultHTTPBodyReadTimeout = 60 * time.Second
)

// erConCount is MySQL's ER_CON_COUNT_ERROR.
const erConCount = 1040

// refusalLinger bounds how long a refused connection is kept to let the
// client read its refusal, and maxLingering how many are kept at once.
const (
	refusalLinger = time.Second
	maxLingering  = 256
)

// mysqlConn is what mysqlConnLimit knows of an open MySQL connection.
type mysqlConn struct {
	handshake     *time.Timer // closes the connection unless authenticated first
	authenticated bool
}

// mysqlConnLimit is the MySQL listener: it refuses connections beyond
// max and closes those that do not authenticate within connectTimeout.
type mysqlConnLimit struct {
	net.Listener   // a retryListener
	max            int
	connectTimeout time.Duration
	log            *slog.Logger

	mu    sync.Mutex
	conns map[net.Conn]*mysqlConn // guarded by mu; see the INVARIANT above
	full  bool                    // guarded by mu; the last accept was refused (log once per episode)
}

func newMySQLConnLimit(l net.Listener, max int, connectTimeout time.Duration, log *slog.Logger) *mysqlConnLimit {
	return &mysqlConnLimit{Listener: l, max: max, connectTimeout: connectTimeout, log: log, conns: make(map[net.Conn]*mysqlConn)}
}

// Accept returns the next connection within the limit; connections
// beyond it are refused with error 1040 and closed here.
func (l *mysqlConnLimit) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		l.mu.Lock()
		if len(l.conns) >= l.max {
			if !l.full {
				l.log.Warn("MySQL connection limit reached; refusing new connections with error 1040", "max_connections", l.max)
			}
			l.full = true
			l.mu.Unlock()
			refuseMySQL(c)
			continue
		}
		if l.full {
			l.log.Info("MySQL connections below the limit again", "max_connections", l.max)
		}
		l.full = false
		mc := &mysqlConn{}
		mc.handshake = time.AfterFunc(l.connectTimeout, func() { l.handshakeExpired(c) })
		l.conns[c] = mc
		l.mu.Unlock()
		return c, nil
	}
}

// Open is the number of MySQL connections counted against the limit.
func (l *mysqlConnLimit) Open() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.conns)
}

func (l *mysqlConnLimit) handshakeExpired(c net.Conn) {
	l.mu.Lock()
	mc, ok := l.conns[c]
	expired := ok && !mc.authenticated
	l.mu.Unlock()
	if expired {
		l.log.Debug("MySQL handshake timed out; closing the connection", "remote", c.RemoteAddr().String(), "connect_timeout", l.connectTimeout)
		c.Close()
	}
}

// authenticated stops c's handshake deadline.
func (l *mysqlConnLimit) authenticated(c net.Conn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if mc, ok := l.conns[c]; ok {
		mc.authenticated = true
		mc.handshake.Stop()
	}
}

// closed releases c's place.
func (l *mysqlConnLimit) closed(c net.Conn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if mc, ok := l.conns[c]; ok {
		mc.handshake.Stop()
		delete(l.conns, c)
	}
}

// refuseMySQL sends an ERR packet 1040 in place of the server greeting
// and closes c. Before the handshake the client has declared no
// capabilities, so the packet carries no SQLSTATE (MySQL does the same):
//
//	payload length (3, little-endian) | sequence 0 | 0xff | code (2, LE) | message
func refuseMySQL(c net.Conn) {
	const msg = "Too many connections"
	pkt := make([]byte, 0, 4+3+len(msg))
	n := 3 + len(msg)
	pkt = append(pkt, byte(n), byte(n>>8), byte(n>>16), 0, 0xff, byte(erConCount&0xff), byte(erConCount>>8))
	pkt = append(pkt, msg...)
	// A fresh socket's send buffer is empty: the write does not block,
	// the deadline is only a guard. The client sends nothing before the
	// greeting, so closing at once loses nothing it could read.
	c.SetWriteDeadline(time.Now().Add(refusalLinger))
	c.Write(pkt)
	c.Close()
}

// connHooks wraps the MySQL protocol handler to tell mysqlConnLimit when
// a connection has authenticated and when it has closed.
type connHooks struct {
	mysql.Handler
	limit *mysqlConnLimit
}

func (h *connHooks) ConnectionAuthenticated(c *mysql.Conn) error {
	h.limit.authenticated(acceptedConn(c))
	return h.Handler.ConnectionAuthenticated(c)
}

func (h *connHooks) ConnectionClosed(c *mysql.Conn) {
	h.Handler.ConnectionClosed(c)
	h.limit.closed(acceptedConn(c))
}

// acceptedConn is the net.Conn mysqlConnLimit.Accept returned for c:
// vitess wraps it to set read and write deadlines.
func acceptedConn(c *mysql.Conn) net.Conn {
	if w, ok := c.Conn.(netutil.ConnWithTimeouts); ok {
		return w.Conn
	}
	return c.Conn
}

// httpConnLimit is the HTTP listener: connections beyond max are
// answered 503 with Retry-After and closed.
type httpConnLimit struct {
	net.Listener // a retryListener
	max          int64
	log          *slog.Logger

	open      atomic.Int64 // see the INVARIANT above
	lingering atomic.Int64 // refused connections still draining
	full      atomic.Bool  // the last accept was refused (log once per episode)
}

func newHTTPConnLimit(l net.Listener, max int, log *slog.Logger) *httpConnLimit {
	return &httpConnLimit{Listener: l, max: int64(max), log: log}
}

// Accept returns the next connection within the limit, wrapped so that
// closing it frees its place.
func (l *httpConnLimit) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.open.Add(1) > l.max {
			l.open.Add(-1)
			if !l.full.Swap(true) {
				l.log.Warn("HTTP connection limit reached; answering 503 to new connections", "max_connections", l.max)
			}
			l.refuse(c)
			continue
		}
		if l.full.Swap(false) {
			l.log.Info("HTTP connections below the limit again", "max_connections", l.max)
		}
		return &countedConn{Conn: c, limit: l}, nil
	}
}

// Open is the number of HTTP connections counted against the limit.
func (l *httpConnLimit) Open() int64 { return l.open.Load() }

// httpRefusal is the whole reply to a connection beyond the limit, with
// the CORS headers the ingestion routes send for origin (ingest.Handler
// cors; "" for none): without them a browser hands the SDK status 0,
// which mixpanel-browser takes for delivered — the batch would be lost.
func httpRefusal(origin string) []byte {
	body := "too many connections; retry with backoff\n"
	cors := ""
	if origin != "" {
		cors = "Access-Control-Allow-Origin: " + origin + "\r\nAccess-Control-Allow-Credentials: true\r\nAccess-Control-Expose-Headers: Retry-After\r\nVary: Origin\r\n"
	}
	return []byte(fmt.Sprintf("HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\n%sContent-Type: text/plain; charset=utf-8\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", cors, len(body), body))
}

// refuse answers c 503 and closes it. The reply waits for the request's
// head (up to refusalLinger): an HTTP client may treat a reply that
// comes before its request as unsolicited and discard it (Go's does).
// Then the write side is shut and the rest drained before closing, since
// closing a socket with unread data sends a reset that can destroy the
// reply before the client reads it. At most maxLingering connections are
// kept so; beyond, the reply is written at once.
func (l *httpConnLimit) refuse(c net.Conn) {
	if l.lingering.Add(1) > maxLingering {
		l.lingering.Add(-1)
		c.SetWriteDeadline(time.Now().Add(refusalLinger))
		c.Write(httpRefusal("*"))
		c.Close()
		return
	}
	go func() {
		defer l.lingering.Add(-1)
		defer c.Close()
		c.SetReadDeadline(time.Now().Add(refusalLinger))
		origin := requestOrigin(readRequestHead(c))
		c.SetDeadline(time.Now().Add(refusalLinger))
		if _, err := c.Write(httpRefusal(origin)); err != nil {
			return
		}
		if cw, ok := c.(interface{ CloseWrite() error }); ok {
			cw.CloseWrite()
		}
		io.Copy(io.Discard, io.LimitReader(c, 64<<10))
	}()
}

// readRequestHead reads from c until the blank line that ends a request
// head, 8 KiB, an error or c's deadline, and returns what it read.
func readRequestHead(c net.Conn) []byte {
	buf := make([]byte, 0, 8<<10)
	for len(buf) < cap(buf) {
		n, err := c.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if bytes.Contains(buf, []byte("\r\n\r\n")) || err != nil {
			break
		}
	}
	return buf
}

// requestOrigin is the Origin header of a request head, "" if none. Only
// a plain origin is echoed (scheme://host[:port], no CR/LF).
func requestOrigin(head []byte) string {
	for _, line := range strings.Split(string(head), "\r\n") {
		name, value, ok := strings.Cut(line, ":")
		if !ok || !strings.EqualFold(strings.TrimSpace(name), "Origin") {
			continue
		}
		v := strings.TrimSpace(value)
		if strings.ContainsAny(v, "\r\n ") || !strings.Contains(v, "://") {
			return ""
		}
		return v
	}
	return ""
}

// countedConn frees its place in httpConnLimit when first closed.
type countedConn struct {
	net.Conn
	limit *httpConnLimit
	once  sync.Once
}

func (c *countedConn) Close() error {
	c.once.Do(func() { c.limit.open.Add(-1) })
	return c.Conn.Close()
}

// CloseWrite lets net/http half-close before closing after an error
// reply (413, 408) with the request body unread, so that the client
// reads the reply instead of a reset.
func (c *countedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// ReadFrom keeps net/http's sendfile path (backup downloads) working
// through the wrapper.
func (c *countedConn) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := c.Conn.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(c.Conn, r)
}

// connectionVariables are the MySQL system variables that show the
// connection flags (in whole seconds, within MySQL's ranges), so that
// SELECT @@wait_timeout tells the truth. Setting them changes nothing.
func connectionVariables(maxConns int, connectTimeout, idleTimeout time.Duration) map[string]any {
	secs := func(d time.Duration, lo int64) int64 {
		return min(max(int64(d.Round(time.Second)/time.Second), lo), 31536000)
	}
	return map[string]any{
		"max_connections": int64(min(max(maxConns, 1), 100000)),
		"connect_timeout": secs(connectTimeout, 2),
		"wait_timeout":    secs(idleTimeout, 1),
	}
}

var (
	_ interface{ CloseWrite() error } = (*countedConn)(nil)
	_ io.ReaderFrom                   = (*countedConn)(nil)
)

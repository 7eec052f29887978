package server

// Query limits: what one SQL statement may take, applied by the handler
// (handler.go) around go-mysql-server's.
//
//   - Time: MySQL's max_execution_time (session or global variable,
//     milliseconds, 0 = none; --max-execution-time sets the global) and
//     the optimizer hint SELECT /*+ MAX_EXECUTION_TIME(ms) */, which wins
//     over the variable. As in MySQL they apply to SELECT statements
//     only. The statement's context gets the deadline; past it every
//     operator stops at its next context check and the client gets 3024
//     ER_QUERY_TIMEOUT.
//   - Concurrency: statements that read tables (a SELECT with a FROM)
//     hold one of --max-concurrent-queries slots while they run. One more
//     waits for a slot in a queue, up to --query-queue-timeout, then gets
//     1205 (see erQueueTimeout). Statements that read no table (SELECT 1,
//     SELECT @@version, SET, SHOW, KILL, USE, INSERT) or only system
//     schemas (information_schema.processlist, …) never wait: a health
//     check, a BI tool's metadata query or a KILL gets through a full
//     queue.
//   - Memory: each statement's context carries an engine.MemoryBudget of
//     --query-memory-bytes. The native engine charges its grouping state
//     and the rows it materializes to it; past it the statement fails
//     with 1114 (see erQueryMemory). go-mysql-server's own row operators
//     (its joins, sorts and GROUP BY when a query is not pushed down)
//     charge nothing: for them the bound is the concurrency limit and
//     max_execution_time.
//
// Stopping: every statement runs in a context made here, registered by
// connection id; go-mysql-server's own context for it is a child. A KILL
// [QUERY|CONNECTION] id that go-mysql-server accepted also cancels the
// registered context (go-mysql-server cancels only its own, and not a
// statement still waiting for a slot). While a table-reading statement
// runs, a watcher looks at its socket every clientCheckInterval (a
// non-blocking MSG_PEEK) and cancels it when the client has hung up —
// go-mysql-server's own check runs every 5 s. arb's operators check the
// context every block or engine.CheckEveryRows rows. A statement stopped
// while its rows are being sent may be blocked writing to a client that
// reads slowly: the watcher then sets the socket's write deadline to now,
// so the write fails at once. The protocol has no way to report an error
// in the middle of a result set, so vitess then closes the connection, as
// it does for any error there.
//
// INVARIANT: a statement holding a slot releases it exactly once, when
// go-mysql-server has returned (its last row sent or its error).
// INVARIANT: a statement's watcher has exited before release returns, so
// it never touches the socket once the next statement may use it.

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/vitess/go/mysql"
	"github.com/dolthub/vitess/go/netutil"
	"golang.org/x/sync/semaphore"

	"arb/engine"
)

// QueryLimits configures the limits above; zero fields take the defaults
// (DefaultMaxConcurrentQueries, DefaultQueryQueueTimeout,
// DefaultQueryMemoryBytes fitted into --memory-limit, no execution time
// limit).
type QueryLimits struct {
	// MaxConcurrent is how many table-reading statements run at once.
	MaxConcurrent int
	// QueueTimeout is how long a statement waits for a slot.
	QueueTimeout time.Duration
	// MemoryBytes is each statement's native memory budget; negative:
	// none; 0: DefaultQueryMemoryBytes, and with a server memory limit
	// (--memory-limit) at most half of it or 256 MiB, whichever is more:
	// min(1 GiB, RAM/4, max(256 MiB, limit/2)). It is a bound on one
	// query; with --memory-limit, the queries running at once together
	// are bounded by a third of the limit too (engine.MemoryPool). A
	// smaller default refused queries a server must answer:
	// count(DISTINCT insert_id) over 1.9M events needs ~160 MB by these
	// estimates.
	MemoryBytes int64
	// MaxExecutionTime is the global max_execution_time: the default of
	// every session. Go-mysql-server's system variables are process-wide,
	// so it is set for every server of the process; zero leaves it be.
	MaxExecutionTime time.Duration
}

// DefaultQueryQueueTimeout is how long a statement waits for a slot.
const DefaultQueryQueueTimeout = 10 * time.Second

// DefaultMaxConcurrentQueries is twice the cores: the native engine keeps
// every core busy with one query, so more at once only share them, and
// each holds its state in memory meanwhile.
func DefaultMaxConcurrentQueries() int { return max(4, 2*runtime.GOMAXPROCS(0)) }

// DefaultQueryMemoryBytes is a quarter of the machine's memory, at most
// 1 GiB and at least 64 MiB (1 GiB when the total is unknown).
func DefaultQueryMemoryBytes() int64 {
	const gib = 1 << 30
	total := memTotal()
	if total <= 0 {
		return gib
	}
	return min(gib, max(64<<20, total/4))
}

// MySQL error numbers of the limits.
const (
	// erQueryTimeout is ER_QUERY_TIMEOUT, MySQL's own for
	// max_execution_time.
	erQueryTimeout = 3024
	// erQueueTimeout is ER_LOCK_WAIT_TIMEOUT: waiting for a query slot is
	// waiting for a resource held by other statements, and 1205 is the
	// code clients already retry — Connector/J raises it as a
	// SQLTransientException (MySQLTransactionRollbackException), Spring
	// as CannotAcquireLockException (transient), Laravel's and Django's
	// retry helpers match its message. The message keeps MySQL's text
	// first for those matchers. 1040 (Too many connections) is refused:
	// it is a handshake error (SQLSTATE 08004) and pools drop the
	// connection on it.
	erQueueTimeout = 1205
	// erQueryMemory is ER_RECORD_FILE_FULL, what MySQL answers when a
	// GROUP BY's in-memory temporary table outgrows its limit
	// (temptable_max_ram with no disk fallback): the query, not the
	// server, is too big, and retrying it does not help, so clients must
	// not retry. 1037/1038 (out of memory / sort memory) say SQLSTATE
	// HY001 and "restart server", which is wrong here.
	erQueryMemory = 1114
)

// errExecutionTime is the cause of a statement context that ran out of
// max_execution_time.
var errExecutionTime = errors.New("maximum statement execution time exceeded")

// queryLimits applies QueryLimits; one per server, shared by its
// connections.
type queryLimits struct {
	maxConcurrent int
	queueTimeout  time.Duration
	memoryBytes   int64 // <= 0: none
	// pool is the memory all queries share: a third of --memory-limit
	// (memory_limit.go); nil without a server memory limit.
	pool    *engine.MemoryPool
	slots   *semaphore.Weighted
	running atomic.Int64 // statements holding a slot
	queued  atomic.Int64 // statements waiting for one
	// statements maps a connection id (uint32) to its *statement being
	// run, for KILL.
	statements sync.Map
	// readBarrier, in cluster mode, waits until this node has applied
	// every write acknowledged before a statement that reads tables
	// started (replication.Node.ReadBarrier); nil: a single node.
	readBarrier func(context.Context) error
}

// statement is one statement being run.
type statement struct {
	cancel context.CancelCauseFunc
	// streaming is set once the first result packet was handed to vitess:
	// from then on, an error cannot be sent and a stop closes the
	// connection.
	streaming atomic.Bool
}

// markStreaming records that results are being sent (nil: no-op).
func (st *statement) markStreaming() {
	if st != nil && !st.streaming.Load() {
		st.streaming.Store(true)
	}
}

// clientCheckInterval is how often a running statement's socket is
// checked for a client that hung up.
const clientCheckInterval = 50 * time.Millisecond

// Causes of a statement context's end, besides the client's own.
var (
	errKilled     = errors.New("killed")
	errClientGone = errors.New("client closed the connection")
)

// newQueryLimits applies cfg; serverMemoryLimit is --memory-limit (0:
// none).
func newQueryLimits(cfg QueryLimits, serverMemoryLimit int64) *queryLimits {
	l := &queryLimits{maxConcurrent: cfg.MaxConcurrent, queueTimeout: cfg.QueueTimeout, memoryBytes: cfg.MemoryBytes}
	if l.maxConcurrent <= 0 {
		l.maxConcurrent = DefaultMaxConcurrentQueries()
	}
	if l.queueTimeout <= 0 {
		l.queueTimeout = DefaultQueryQueueTimeout
	}
	if l.memoryBytes == 0 {
		l.memoryBytes = DefaultQueryMemoryBytes()
		if serverMemoryLimit > 0 {
			l.memoryBytes = min(l.memoryBytes, max(256<<20, serverMemoryLimit/2))
		}
	}
	if serverMemoryLimit > 0 {
		l.pool = engine.NewMemoryPool(serverMemoryLimit / queryMemoryShare)
	}
	l.slots = semaphore.NewWeighted(int64(l.maxConcurrent))
	if cfg.MaxExecutionTime > 0 {
		sql.SystemVariables.AssignValues(map[string]any{"max_execution_time": cfg.MaxExecutionTime.Milliseconds()})
	}
	return l
}

// statementShape is what the limits need to know of a statement's text.
type statementShape struct {
	isSelect    bool  // SELECT, WITH … SELECT, TABLE, or a parenthesized SELECT
	readsTables bool  // a SELECT with a FROM clause
	hintMillis  int64 // its MAX_EXECUTION_TIME hint; -1: none
}

var (
	// leadingComments are comments before the first keyword (not hints).
	leadingComments = regexp.MustCompile(`^(?:\s+|/\*[^+](?:[^*]|\*[^/])*\*/|/\*\*/|--[^\n]*\n|#[^\n]*\n)*`)
	firstWord       = regexp.MustCompile(`^[(\s]*([A-Za-z]+)`)
	fromWord        = regexp.MustCompile(`(?i)\bFROM\b`)
	// systemFrom is a FROM clause that starts with a system schema's
	// table: metadata that BI tools ask for all the time, cheap to
	// answer, and the process list, needed to find what to KILL; and
	// arb's own views (arb.cluster must answer while there is no leader).
	systemFrom = regexp.MustCompile(`(?i)\bFROM\s+` + "`?" + `(?:information_schema|performance_schema|mysql|sys|arb)` + "`?" + `\s*\.`)
	// executionHint is the optimizer hint comment right after SELECT.
	executionHint = regexp.MustCompile(`(?is)^[(\s]*(?:WITH\b.*?\bSELECT|SELECT)\s*/\*\+[^*]*?\bMAX_EXECUTION_TIME\s*\(\s*(\d+)\s*\)`)
)

// shapeOf classifies a statement from its text, cheaply: it runs before
// parsing, for every statement.
func shapeOf(query string) statementShape {
	q := query[len(leadingComments.FindString(query)):]
	sh := statementShape{hintMillis: -1}
	m := firstWord.FindStringSubmatch(q)
	if m == nil {
		return sh
	}
	switch strings.ToUpper(m[1]) {
	case "SELECT", "WITH", "TABLE":
		sh.isSelect = true
	default:
		return sh
	}
	sh.readsTables = strings.EqualFold(m[1], "TABLE") || (fromWord.MatchString(q) && !systemFrom.MatchString(q))
	if h := executionHint.FindStringSubmatch(q); h != nil {
		if ms, err := strconv.ParseInt(h[1], 10, 64); err == nil {
			sh.hintMillis = ms
		}
	}
	return sh
}

// sessionMaxExecutionMillis is sess's max_execution_time (0 when unset
// or unreadable).
func sessionMaxExecutionMillis(sess sql.Session) int64 {
	if sess == nil {
		return 0
	}
	v, err := sess.GetSessionVariable(nil, "max_execution_time")
	if err != nil {
		return 0
	}
	switch n := v.(type) {
	case int64:
		return n
	case int:
		return int64(n)
	case int32:
		return int64(n)
	case uint64:
		return int64(n)
	case int8:
		return int64(n)
	}
	return 0
}

// begin applies the limits to a statement of connection c about to run:
// it returns the context to run it in, the statement (to mark when its
// results stream) and a release to call once it has returned; or the
// error to answer instead (its queue wait timed out, it was killed while
// waiting, or its time ran out).
func (l *queryLimits) begin(ctx context.Context, c *mysql.Conn, sess sql.Session, query string) (context.Context, *statement, func(), error) {
	sh := shapeOf(query)
	ctx, cancelCause := context.WithCancelCause(ctx)
	st := &statement{cancel: cancelCause}
	cancel := func() { cancelCause(nil) }
	if sh.isSelect {
		ms := sh.hintMillis
		if ms < 0 {
			ms = sessionMaxExecutionMillis(sess)
		}
		if ms > 0 {
			var cancelTimeout context.CancelFunc
			ctx, cancelTimeout = context.WithTimeoutCause(ctx, time.Duration(ms)*time.Millisecond, errExecutionTime)
			cancel = func() { cancelTimeout(); cancelCause(nil) }
		}
	}
	budget := engine.NewMemoryBudgetIn(l.pool, l.memoryBytes)
	if budget != nil {
		ctx = engine.WithMemoryBudget(ctx, budget)
	}
	l.statements.Store(c.ConnectionID, st)
	unregister := func() { l.statements.CompareAndDelete(c.ConnectionID, st); cancel(); budget.Release() }
	if !sh.readsTables {
		return ctx, st, unregister, nil
	}
	if err := l.acquire(ctx); err != nil {
		err = l.finish(ctx, err)
		unregister()
		return nil, nil, nil, err
	}
	if l.readBarrier != nil {
		if err := l.readBarrier(ctx); err != nil {
			l.running.Add(-1)
			l.slots.Release(1)
			unregister()
			return nil, nil, nil, mysql.NewSQLError(erLockWaitTimeout, "HY000", "%s (retry the statement)", err.Error())
		}
	}
	stopWatch := watchStatement(ctx, c, st)
	return ctx, st, func() {
		stopWatch()
		l.running.Add(-1)
		l.slots.Release(1)
		unregister()
	}, nil
}

// killStatement matches a KILL statement; group 1 is the connection id.
var killStatement = regexp.MustCompile(`(?i)^\s*KILL\s+(?:QUERY\s+|CONNECTION\s+)?(\d+)\s*;?\s*$`)

// afterKill cancels the statement of the connection a successful KILL
// named (go-mysql-server has stopped its own part already).
func (l *queryLimits) afterKill(query string) {
	m := killStatement.FindStringSubmatch(query)
	if m == nil {
		return
	}
	id, err := strconv.ParseUint(m[1], 10, 32)
	if err != nil {
		return
	}
	if st, ok := l.statements.Load(uint32(id)); ok {
		st.(*statement).cancel(errKilled)
	}
}

// watchStatement watches a running statement until the returned stop is
// called: it cancels the statement when its client hangs up, and once
// the statement's context has ended while results stream, makes a write
// blocked on the client fail at once. stop waits for the watcher to end
// and undoes the write deadline.
func watchStatement(ctx context.Context, c *mysql.Conn, st *statement) (stop func()) {
	tcp := tcpConnOf(c.Conn)
	if tcp == nil {
		return func() {}
	}
	quit, exited := make(chan struct{}), make(chan struct{})
	var deadlineSet bool
	go func() {
		defer close(exited)
		tick := time.NewTicker(clientCheckInterval)
		defer tick.Stop()
		for {
			select {
			case <-quit:
				return
			case <-ctx.Done():
				if st.streaming.Load() {
					tcp.SetWriteDeadline(time.Now())
					deadlineSet = true
				}
				return
			case <-tick.C:
				if clientHungUp(tcp) {
					st.cancel(errClientGone)
				}
			}
		}
	}()
	return func() {
		close(quit)
		<-exited
		if deadlineSet {
			tcp.SetWriteDeadline(time.Time{})
		}
	}
}

// tcpConnOf is the TCP socket under a vitess connection, nil if none.
func tcpConnOf(conn net.Conn) *net.TCPConn {
	// TLS (tls.go) sits on vitess's deadline wrapper, which sits on the
	// socket: peeking the socket under TLS still sees the end of stream
	// or a reset of a client that hung up.
	for range 4 {
		switch w := conn.(type) {
		case *tls.Conn:
			conn = w.NetConn()
		case netutil.ConnWithTimeouts:
			conn = w.Conn
		case *net.TCPConn:
			return w
		default:
			return nil
		}
	}
	return nil
}

// clientHungUp peeks at the socket without blocking or consuming: end of
// stream or a reset means the client has gone. Bytes waiting or nothing
// yet both mean it is still there.
func clientHungUp(tcp *net.TCPConn) bool {
	rc, err := tcp.SyscallConn()
	if err != nil {
		return false
	}
	gone := false
	var buf [1]byte
	rc.Read(func(fd uintptr) bool {
		n, _, err := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		switch {
		case err == nil:
			gone = n == 0
		case errors.Is(err, syscall.EAGAIN), errors.Is(err, syscall.EINTR):
		default:
			gone = true // ECONNRESET and the like
		}
		return true
	})
	return gone
}

// acquire takes a slot, waiting up to queueTimeout.
func (l *queryLimits) acquire(ctx context.Context) error {
	if l.slots.TryAcquire(1) {
		l.running.Add(1)
		return nil
	}
	l.queued.Add(1)
	defer l.queued.Add(-1)
	start := time.Now()
	wctx, cancel := context.WithTimeout(ctx, l.queueTimeout)
	defer cancel()
	if err := l.slots.Acquire(wctx, 1); err != nil {
		if ctx.Err() != nil {
			return ctx.Err() // the statement's own deadline, or the client left
		}
		return mysql.NewSQLError(erQueueTimeout, "HY000",
			"Lock wait timeout exceeded; try restarting transaction (arb: %d queries are running, the most --max-concurrent-queries allows; this one waited %s for a slot; retry later)",
			l.maxConcurrent, time.Since(start).Round(time.Millisecond))
	}
	l.running.Add(1)
	return nil
}

// finish gives err, a statement's result run in ctx, the limits' MySQL
// errors: 3024 when its execution time ran out, 1114 when its memory
// budget did. Other errors pass unchanged.
func (l *queryLimits) finish(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(context.Cause(ctx), errKilled) {
		return mysql.NewSQLError(erQueryCanceled, "70100", "Query execution was interrupted")
	}
	if errors.Is(context.Cause(ctx), errExecutionTime) {
		return mysql.NewSQLError(erQueryTimeout, "HY000", "Query execution was interrupted, maximum statement execution time exceeded")
	}
	var me *engine.MemoryLimitError
	if errors.As(err, &me) {
		return queryMemoryError(me.Error())
	}
	// go-mysql-server may have flattened the error into its own.
	var se *mysql.SQLError
	if errors.As(err, &se) && strings.Contains(se.Message, "per-query memory limit") {
		return queryMemoryError(se.Message)
	}
	if strings.Contains(err.Error(), "per-query memory limit") {
		return queryMemoryError(err.Error())
	}
	return err
}

func queryMemoryError(msg string) error {
	return mysql.NewSQLError(erQueryMemory, "HY000", "The table '(query state)' is full: %s (--query-memory-bytes); narrow the query (fewer groups, a tighter WHERE)", msg)
}

// String describes the limits, for the start-up log.
func (l *queryLimits) String() string {
	return fmt.Sprintf("max %d concurrent queries, queue wait %s, %d bytes per query", l.maxConcurrent, l.queueTimeout, l.memoryBytes)
}

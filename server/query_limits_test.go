package server

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"arb/storage"
)

// Stop and limit tests. Bounds are generous ("stopped within 5 s"); the
// measured times are logged. A query that is not stopped makes its test
// fail after stopBound instead of hanging.

const stopBound = 5 * time.Second

// startLimitedServer is startTestServer with query limits.
func startLimitedServer(tb testing.TB, limits QueryLimits) *Server {
	tb.Helper()
	srv, err := Start(Config{
		DataDir: tb.TempDir(), MySQLAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0",
		Projects: []ProjectSpec{{Name: "default", Token: "tok", Secret: "sec"}},
		Logger:   slog.New(slog.NewTextHandler(io.Discard, nil)),
		Store:    storage.Options{FlushInterval: time.Hour, DisableCompaction: true},
		Queries:  limits,
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

// loadLimitEvents stores n events in segments: insert_id and k unique per
// row, 20 event names, 100,000 users, amount in 0..999.
func loadLimitEvents(tb testing.TB, srv *Server, n int) {
	tb.Helper()
	p, ok := srv.Store().Project("default")
	if !ok {
		tb.Fatal("no project default")
	}
	start := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	const batch = 50_000
	for first := 0; first < n; first += batch {
		evs := make([]storage.Event, 0, batch)
		for i := first; i < min(n, first+batch); i++ {
			evs = append(evs, storage.Event{TimeMillis: start + int64(i)*10, Name: "e" + strconv.Itoa(i%20),
				DistinctID: "u" + strconv.Itoa(i%100_000), InsertID: "i" + strconv.Itoa(i),
				Props: []storage.Prop{{Key: "amount", Value: storage.IntValue(int64(i % 1000))}, {Key: "k", Value: storage.IntValue(int64(i))}}})
		}
		if err := p.Ingest(evs); err != nil {
			tb.Fatal(err)
		}
	}
	if err := srv.Store().Flush(); err != nil {
		tb.Fatal(err)
	}
}

// cpuTicks is the process's user+system CPU time in clock ticks
// (1/100 s on Linux).
func cpuTicks(tb testing.TB) int64 {
	tb.Helper()
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		tb.Fatal(err)
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		tb.Fatalf("/proc/self/stat: %q", s)
	}
	return utime + stime
}

// assertIdle fails unless the process averages under half a core over
// two seconds (a query still running keeps one or two busy).
//
// What it must tell apart is a stopped query that still runs (a core:
// 100 ticks a second) from the garbage collector cleaning up after it,
// which under -race on a shared machine took 45 ticks of the first
// second once. So the collection runs first, then the process is watched
// for two seconds and must average under half a core.
func assertIdle(tb testing.TB) {
	tb.Helper()
	runtime.GC()
	c0 := cpuTicks(tb)
	time.Sleep(2 * time.Second)
	used := cpuTicks(tb) - c0
	tb.Logf("CPU over the two seconds after the stop: %d ticks (100 = one core for a second)", used)
	if used > 100 {
		tb.Errorf("process used %d ticks of CPU in the two seconds after the query stopped; want it idle (<= 100: a query still running uses 200)", used)
	}
}

// killableConn is a new connection of db and its id; cleanup kills it
// before closing it, so a failed test does not wait for its query.
func killableConn(tb testing.TB, db *sql.DB) (*sql.Conn, int64) {
	tb.Helper()
	c, err := db.Conn(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	id := connID(tb, c)
	tb.Cleanup(func() {
		db.Exec(fmt.Sprintf("KILL %d", id))
		c.Close()
	})
	return c, id
}

// connID is c's MySQL connection id.
func connID(tb testing.TB, c *sql.Conn) int64 {
	tb.Helper()
	var id int64
	if err := c.QueryRowContext(context.Background(), "SELECT CONNECTION_ID()").Scan(&id); err != nil {
		tb.Fatal(err)
	}
	return id
}

// running reports whether connection id runs a statement other than
// the one asking, by the process list.
func running(tb testing.TB, db *sql.DB, id int64) bool {
	tb.Helper()
	var n int
	if err := db.QueryRow("SELECT count(*) FROM information_schema.processlist WHERE id = ? AND command = 'Query'", id).Scan(&n); err != nil {
		tb.Fatal(err)
	}
	return n > 0
}

// waitFor polls cond every 5 ms until it holds or bound passes; it
// returns how long that took and whether cond held.
func waitFor(bound time.Duration, cond func() bool) (time.Duration, bool) {
	start := time.Now()
	for time.Since(start) < bound {
		if cond() {
			return time.Since(start), true
		}
		time.Sleep(5 * time.Millisecond)
	}
	return time.Since(start), cond()
}

// mysqlErrNum is err's MySQL error number, 0 if none.
func mysqlErrNum(err error) uint16 {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return me.Number
	}
	return 0
}

// runQuery runs q on c and reads every row; the result arrives on the
// returned channel.
func runQuery(c *sql.Conn, q string) <-chan error {
	done := make(chan error, 1)
	go func() {
		rows, err := c.QueryContext(context.Background(), q)
		if err == nil {
			for rows.Next() {
			}
			err = rows.Err()
			rows.Close()
		}
		done <- err
	}()
	return done
}

// Queries slow enough to stop: a native GROUP BY of 600,000 groups with
// a distinct set each (seconds), and a join go-mysql-server runs row by
// row (hours).
const (
	slowNativeQuery = "SELECT insert_id, count(DISTINCT distinct_id) FROM events GROUP BY insert_id"
	slowJoinQuery   = "SELECT count(*) FROM events a JOIN events b ON a.k < b.k WHERE a.k < 100000"
	slowStarQuery   = "SELECT * FROM events"
)

// TestQueryStops: KILL QUERY, KILL, a client hanging up and
// max_execution_time (hint and variable) stop a native aggregate, a join
// in go-mysql-server's operators and a SELECT * streaming to a slow
// client; afterwards the process is idle.
func TestQueryStops(t *testing.T) {
	srv := startLimitedServer(t, QueryLimits{})
	start := time.Now()
	loadLimitEvents(t, srv, 600_000)
	t.Logf("loaded 600,000 events in %s", time.Since(start).Round(time.Millisecond))
	db := openDB(t, srv, "")
	ctx := context.Background()

	for _, tc := range []struct{ name, query string }{
		{"native aggregate", slowNativeQuery},
		{"join in go-mysql-server", slowJoinQuery},
	} {
		t.Run("kill query/"+tc.name, func(t *testing.T) {
			c, id := killableConn(t, db)
			done := runQuery(c, tc.query)
			if _, ok := waitFor(stopBound, func() bool { return running(t, db, id) }); !ok {
				t.Fatalf("%s: never seen running", tc.query)
			}
			time.Sleep(200 * time.Millisecond) // well into it
			killed := time.Now()
			mustExec(t, db, fmt.Sprintf("KILL QUERY %d", id))
			select {
			case err := <-done:
				t.Logf("%s: stopped %s after KILL QUERY: %v", tc.name, time.Since(killed).Round(time.Millisecond), err)
				if n := mysqlErrNum(err); n != erQueryCanceled {
					t.Fatalf("error %v (number %d), want %d", err, n, erQueryCanceled)
				}
			case <-time.After(stopBound):
				t.Fatalf("%s: still running %s after KILL QUERY", tc.query, stopBound)
			}
			assertIdle(t)
			// The connection lives on.
			if _, err := c.ExecContext(ctx, "SELECT 1"); err != nil {
				t.Fatalf("connection after KILL QUERY: %v", err)
			}
		})
		t.Run("max_execution_time hint/"+tc.name, func(t *testing.T) {
			q := strings.Replace(tc.query, "SELECT", "SELECT /*+ MAX_EXECUTION_TIME(300) */", 1)
			begun := time.Now()
			_, err := db.ExecContext(ctx, q)
			took := time.Since(begun)
			t.Logf("%s: ended after %s: %v", tc.name, took.Round(time.Millisecond), err)
			if n := mysqlErrNum(err); n != erQueryTimeout {
				t.Fatalf("error %v (number %d), want %d", err, n, erQueryTimeout)
			}
			if !strings.Contains(err.Error(), "maximum statement execution time exceeded") {
				t.Errorf("message %q does not say why", err)
			}
			if took > stopBound {
				t.Errorf("took %s for a 300 ms limit", took)
			}
			assertIdle(t)
		})
		t.Run("max_execution_time variable/"+tc.name, func(t *testing.T) {
			c, err := db.Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if _, err := c.ExecContext(ctx, "SET SESSION max_execution_time = 300"); err != nil {
				t.Fatal(err)
			}
			begun := time.Now()
			err = <-runQuery(c, tc.query)
			took := time.Since(begun)
			t.Logf("%s: ended after %s: %v", tc.name, took.Round(time.Millisecond), err)
			if n := mysqlErrNum(err); n != erQueryTimeout {
				t.Fatalf("error %v (number %d), want %d", err, n, erQueryTimeout)
			}
			if took > stopBound {
				t.Errorf("took %s for a 300 ms limit", took)
			}
			// 0 is no limit again: a quick query over the table runs.
			if _, err := c.ExecContext(ctx, "SET SESSION max_execution_time = 0"); err != nil {
				t.Fatal(err)
			}
			var n int64
			if err := c.QueryRowContext(ctx, "SELECT count(*) FROM events WHERE amount = 7").Scan(&n); err != nil || n != 600 {
				t.Fatalf("count after resetting max_execution_time: %d, %v", n, err)
			}
		})
		t.Run("client hangs up/"+tc.name, func(t *testing.T) {
			sc := dialSlow(t, srv, 0)
			id := connID(t, sc.conn)
			done := runQuery(sc.conn, tc.query)
			if _, ok := waitFor(stopBound, func() bool { return running(t, db, id) }); !ok {
				t.Fatalf("%s: never seen running", tc.query)
			}
			time.Sleep(200 * time.Millisecond)
			sc.hangUp()
			took, ok := waitFor(stopBound, func() bool { return !running(t, db, id) })
			t.Logf("%s: stopped %s after the client hung up", tc.name, took.Round(time.Millisecond))
			if !ok {
				t.Fatalf("%s: still running %s after the client hung up", tc.query, stopBound)
			}
			<-done
			assertIdle(t)
		})
	}

	// SELECT * to a client that reads 4 KiB every 5 ms: the server spends
	// its time blocked on the socket, and must leave it when told.
	t.Run("kill query/select star to a slow reader", func(t *testing.T) {
		sc := dialSlow(t, srv, 5*time.Millisecond)
		id := connID(t, sc.conn)
		sc.slow.Store(true)
		done := runQuery(sc.conn, slowStarQuery)
		if _, ok := waitFor(stopBound, func() bool { return running(t, db, id) }); !ok {
			t.Fatal("never seen running")
		}
		time.Sleep(500 * time.Millisecond)
		killed := time.Now()
		mustExec(t, db, fmt.Sprintf("KILL QUERY %d", id))
		took, ok := waitFor(stopBound, func() bool { return !running(t, db, id) })
		t.Logf("SELECT *: server stopped %s after KILL QUERY", took.Round(time.Millisecond))
		if !ok {
			t.Fatalf("still running %s after KILL QUERY", stopBound)
		}
		sc.slow.Store(false) // let the client read what was sent and the error
		select {
		case err := <-done:
			t.Logf("SELECT *: client saw the end %s after KILL QUERY: %v", time.Since(killed).Round(time.Millisecond), err)
			if err == nil {
				t.Fatal("SELECT * completed despite KILL QUERY")
			}
		case <-time.After(stopBound):
			t.Fatal("client never saw the end of the killed SELECT *")
		}
		assertIdle(t)
	})
	t.Run("client hangs up/select star to a slow reader", func(t *testing.T) {
		sc := dialSlow(t, srv, 5*time.Millisecond)
		id := connID(t, sc.conn)
		sc.slow.Store(true)
		done := runQuery(sc.conn, slowStarQuery)
		if _, ok := waitFor(stopBound, func() bool { return running(t, db, id) }); !ok {
			t.Fatal("never seen running")
		}
		time.Sleep(500 * time.Millisecond)
		sc.hangUp()
		took, ok := waitFor(stopBound, func() bool { return !running(t, db, id) })
		t.Logf("SELECT *: server stopped %s after the client hung up", took.Round(time.Millisecond))
		if !ok {
			t.Fatalf("still running %s after the client hung up", stopBound)
		}
		<-done
		assertIdle(t)
	})
	t.Run("max_execution_time/select star to a slow reader", func(t *testing.T) {
		sc := dialSlow(t, srv, 5*time.Millisecond)
		id := connID(t, sc.conn)
		sc.slow.Store(true)
		begun := time.Now()
		done := runQuery(sc.conn, "SELECT /*+ MAX_EXECUTION_TIME(500) */ * FROM events")
		took, ok := waitFor(stopBound+time.Second, func() bool { return time.Since(begun) > 600*time.Millisecond && !running(t, db, id) })
		t.Logf("SELECT * with a 500 ms limit: server stopped %s after it began", took.Round(time.Millisecond))
		if !ok {
			t.Fatalf("still running %s after it began, with a 500 ms limit", took)
		}
		sc.slow.Store(false)
		select {
		case err := <-done:
			// Rows were streaming: the protocol cannot carry an error now,
			// so the server closes the connection (the client sees 2013 /
			// invalid connection); 3024 if it stopped before the first row.
			t.Logf("client saw: %v", err)
			if err == nil {
				t.Fatal("SELECT * completed despite its 500 ms limit")
			}
		case <-time.After(stopBound):
			t.Fatal("client never saw the end")
		}
		assertIdle(t)
	})
	t.Run("kill connection/native aggregate", func(t *testing.T) {
		c, id := killableConn(t, db)
		done := runQuery(c, slowNativeQuery)
		if _, ok := waitFor(stopBound, func() bool { return running(t, db, id) }); !ok {
			t.Fatal("never seen running")
		}
		time.Sleep(200 * time.Millisecond)
		mustExec(t, db, fmt.Sprintf("KILL %d", id))
		took, ok := waitFor(stopBound, func() bool { return !running(t, db, id) })
		t.Logf("native aggregate: stopped %s after KILL", took.Round(time.Millisecond))
		if !ok {
			t.Fatalf("still running %s after KILL", stopBound)
		}
		select {
		case err := <-done:
			if err == nil {
				t.Fatal("query of a killed connection succeeded")
			}
		case <-time.After(stopBound):
			t.Fatal("client of a killed connection never saw the end")
		}
		assertIdle(t)
	})
}

// slowClient is one MySQL connection whose reads can be slowed down and
// whose socket can be closed under the driver, as a client that hangs
// up does.
type slowClient struct {
	conn  *sql.Conn
	slow  atomic.Bool
	delay time.Duration

	mu  sync.Mutex
	raw net.Conn
}

func (s *slowClient) hangUp() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.raw != nil {
		s.raw.Close()
	}
}

type slowConn struct {
	net.Conn
	c *slowClient
}

func (c slowConn) Read(b []byte) (int, error) {
	if c.c.slow.Load() {
		time.Sleep(c.c.delay)
		b = b[:min(len(b), 4096)]
	}
	return c.Conn.Read(b)
}

var slowDialers sync.Map // network name → *slowClient

// dialSlow opens one connection through a dialer that slows reads by
// delay per 4 KiB while slow is set.
func dialSlow(tb testing.TB, srv *Server, delay time.Duration) *slowClient {
	tb.Helper()
	sc := &slowClient{delay: delay}
	network := fmt.Sprintf("slow%p", sc)
	mysql.RegisterDialContext(network, func(ctx context.Context, addr string) (net.Conn, error) {
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return nil, err
		}
		sc.mu.Lock()
		sc.raw = c
		sc.mu.Unlock()
		return slowConn{Conn: c, c: sc}, nil
	})
	db, err := sql.Open("mysql", fmt.Sprintf("root@%s(%s)/default?parseTime=true&loc=UTC", network, srv.MySQLAddr()))
	if err != nil {
		tb.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	tb.Cleanup(func() { db.Close() })
	sc.conn, err = db.Conn(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { sc.hangUp(); sc.conn.Close() }) // no waiting for a query that failed to stop
	return sc
}

// TestQueryQueue: with one slot, a second table-reading statement waits
// for it and runs when it frees; one that waits past the queue timeout
// gets 1205; SELECT 1 and KILL never wait.
func TestQueryQueue(t *testing.T) {
	const queueTimeout = 1500 * time.Millisecond
	srv := startLimitedServer(t, QueryLimits{MaxConcurrent: 1, QueueTimeout: queueTimeout})
	loadLimitEvents(t, srv, 30_000)
	db := openDB(t, srv, "")
	ctx := context.Background()
	const holdQuery = "SELECT count(*) FROM events a JOIN events b ON a.k < b.k" // hours in go-mysql-server's join

	// hold runs holdQuery on a new connection until it is seen running;
	// it returns the connection's id and the query's result.
	hold := func(t *testing.T) (int64, <-chan error) {
		c, id := killableConn(t, db)
		done := runQuery(c, holdQuery)
		if _, ok := waitFor(stopBound, func() bool { return running(t, db, id) }); !ok {
			t.Fatal("slot holder never seen running")
		}
		return id, done
	}

	t.Run("queues and admits", func(t *testing.T) {
		holder, held := hold(t)
		waited := make(chan error, 1)
		begun := time.Now()
		var n int64
		go func() { waited <- db.QueryRowContext(ctx, "SELECT count(*) FROM events WHERE amount = 7").Scan(&n) }()
		time.Sleep(300 * time.Millisecond)
		select {
		case err := <-waited:
			t.Fatalf("second query ran while the only slot was held: %v", err)
		default:
		}
		// Trivial statements and KILL get through a full queue.
		for _, q := range []string{"SELECT 1", "SELECT @@version", "SHOW DATABASES"} {
			t0 := time.Now()
			if _, err := db.ExecContext(ctx, q); err != nil {
				t.Fatalf("%s while the queue is full: %v", q, err)
			}
			t.Logf("%s while the queue is full: %s", q, time.Since(t0).Round(time.Microsecond))
			if time.Since(t0) > queueTimeout/2 {
				t.Errorf("%s waited %s: it must not queue", q, time.Since(t0))
			}
		}
		mustExec(t, db, fmt.Sprintf("KILL QUERY %d", holder))
		if err := <-held; mysqlErrNum(err) != erQueryCanceled {
			t.Fatalf("slot holder: %v, want error %d", err, erQueryCanceled)
		}
		select {
		case err := <-waited:
			t.Logf("queued query admitted and done %s after it was sent", time.Since(begun).Round(time.Millisecond))
			if err != nil || n != 30 {
				t.Fatalf("queued query: %d, %v; want 30", n, err)
			}
		case <-time.After(stopBound):
			t.Fatal("queued query not admitted after the slot freed")
		}
	})

	t.Run("bounded wait then 1205", func(t *testing.T) {
		holder, held := hold(t)
		begun := time.Now()
		_, err := db.ExecContext(ctx, "SELECT count(*) FROM events WHERE amount = 7")
		took := time.Since(begun)
		t.Logf("queued query gave up after %s: %v", took.Round(time.Millisecond), err)
		if n := mysqlErrNum(err); n != erQueueTimeout {
			t.Fatalf("error %v (number %d), want %d", err, n, erQueueTimeout)
		}
		if !strings.Contains(err.Error(), "--max-concurrent-queries") {
			t.Errorf("message %q does not name the limit", err)
		}
		if took < queueTimeout-100*time.Millisecond || took > queueTimeout+stopBound {
			t.Errorf("gave up after %s; the queue timeout is %s", took, queueTimeout)
		}
		mustExec(t, db, fmt.Sprintf("KILL QUERY %d", holder))
		<-held
	})

	t.Run("kill a queued query", func(t *testing.T) {
		holder, held := hold(t)
		c, id := killableConn(t, db)
		queued := runQuery(c, "SELECT count(*) FROM events WHERE amount = 7")
		time.Sleep(200 * time.Millisecond)
		killed := time.Now()
		mustExec(t, db, fmt.Sprintf("KILL QUERY %d", id))
		select {
		case err := <-queued:
			t.Logf("queued query stopped %s after KILL QUERY: %v", time.Since(killed).Round(time.Millisecond), err)
			if n := mysqlErrNum(err); n != erQueryCanceled {
				t.Fatalf("error %v (number %d), want %d", err, n, erQueryCanceled)
			}
		case <-time.After(queueTimeout / 2):
			t.Fatal("KILL QUERY did not stop a query waiting for a slot")
		}
		mustExec(t, db, fmt.Sprintf("KILL QUERY %d", holder))
		<-held
	})
}

// TestQueryMemoryLimit: a GROUP BY whose state passes --query-memory-bytes
// fails with 1114 naming the limit; the server stays up and answers the
// next queries, small GROUP BYs included.
func TestQueryMemoryLimit(t *testing.T) {
	const limit = 4 << 20
	srv := startLimitedServer(t, QueryLimits{MemoryBytes: limit})
	loadLimitEvents(t, srv, 200_000)
	db := openDB(t, srv, "")
	for _, q := range []string{
		"SELECT insert_id, count(*) FROM events GROUP BY insert_id",                        // 200,000 groups
		"SELECT event, count(DISTINCT insert_id) FROM events GROUP BY event",               // 200,000 distinct strings
		"SELECT amount, count(DISTINCT k) FROM events GROUP BY amount",                     // sets of 200,000 numbers
		"SELECT k, count(DISTINCT distinct_id), sum(amount) FROM events GROUP BY k, event", // two keys
	} {
		begun := time.Now()
		rows, err := db.Query(q)
		if err == nil {
			for rows.Next() {
			}
			err = rows.Err()
			rows.Close()
		}
		t.Logf("%s: %s: %v", q, time.Since(begun).Round(time.Millisecond), err)
		if n := mysqlErrNum(err); n != erQueryMemory {
			t.Fatalf("%s: error %v (number %d), want %d", q, err, n, erQueryMemory)
		}
		if !strings.Contains(err.Error(), strconv.Itoa(limit)) || !strings.Contains(err.Error(), "--query-memory-bytes") {
			t.Errorf("message %q does not name the limit", err)
		}
	}
	var n int64
	if err := db.QueryRow("SELECT 1").Scan(&n); err != nil || n != 1 {
		t.Fatalf("SELECT 1 after refusals: %d, %v", n, err)
	}
	rows, err := db.Query("SELECT event, count(*), count(DISTINCT distinct_id) FROM events GROUP BY event")
	if err != nil {
		t.Fatal(err)
	}
	groups := 0
	for rows.Next() {
		groups++
	}
	if err := rows.Err(); err != nil || groups != 20 {
		t.Fatalf("small GROUP BY under the limit: %d groups, %v; want 20", groups, err)
	}
}

// TestShapeOf: which statements wait for a slot and which carry a
// MAX_EXECUTION_TIME hint.
func TestShapeOf(t *testing.T) {
	for _, c := range []struct {
		query               string
		isSelect, readsData bool
		hint                int64
	}{
		{"SELECT 1", true, false, -1},
		{"select @@version_comment limit 1", true, false, -1},
		{"SELECT count(*) FROM events", true, true, -1},
		{"  /* dashboard 7 */ SELECT event FROM events GROUP BY event", true, true, -1},
		{"(SELECT event FROM events) UNION (SELECT 'x')", true, true, -1},
		{"WITH t AS (SELECT * FROM events) SELECT count(*) FROM t", true, true, -1},
		{"TABLE events", true, true, -1},
		{"SELECT /*+ MAX_EXECUTION_TIME(1000) */ count(*) FROM events", true, true, 1000},
		{"SELECT /*+ SET_VAR(sort_buffer_size = 16M) MAX_EXECUTION_TIME( 25 ) */ * FROM events", true, true, 25},
		{"SELECT * FROM events /*+ MAX_EXECUTION_TIME(5) */", true, true, -1}, // not after SELECT: a comment
		{"SELECT * FROM information_schema.processlist", true, false, -1},
		{"select table_name from `information_schema`.tables", true, false, -1},
		{"KILL QUERY 7", false, false, -1},
		{"SHOW PROCESSLIST", false, false, -1},
		{"SET SESSION max_execution_time = 5", false, false, -1},
		{"INSERT INTO events (event) SELECT event FROM events", false, false, -1},
	} {
		sh := shapeOf(c.query)
		if sh.isSelect != c.isSelect || sh.readsTables != c.readsData || sh.hintMillis != c.hint {
			t.Errorf("%q: select %v, reads tables %v, hint %d; want %v, %v, %d", c.query, sh.isSelect, sh.readsTables, sh.hintMillis, c.isSelect, c.readsData, c.hint)
		}
	}
}

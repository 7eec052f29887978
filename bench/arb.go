package main

// arb.go runs bin/arb: start on free loopback ports with a throwaway data
// directory and project bench, the loaders (pluggable: arbLoaders), and
// queries over the MySQL protocol. A query that outlives its context is
// killed server-side with KILL QUERY, so a timeout does not leave arb
// busy under the next measurement.

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-sql-driver/mysql"
)

const (
	arbProject = "bench"
	arbToken   = "benchtoken"
	arbSecret  = "benchsecret"
)

func init() {
	// A killed query breaks its connection; the driver would log each one.
	mysql.SetLogger(log.New(io.Discard, "", 0))
}

type arbServer struct {
	bin       string
	dir       string // data directory
	mysqlPort int
	httpPort  int
	proc      *process
	// serveArgs are extra `arb serve` flags for the next start.
	serveArgs []string
	// procName names the process in messages ("" is "arb").
	procName string
	db       *sql.DB
	// qconn runs the timed queries, one after another; qid is its
	// connection id, looked up once so that no extra round trip is timed.
	qconn *sql.Conn
	qid   int64
}

func newArbServer(bin, dir string) (*arbServer, error) {
	a := &arbServer{bin: bin, dir: dir}
	var err error
	if a.mysqlPort, err = freePort(); err != nil {
		return nil, err
	}
	if a.httpPort, err = freePort(); err != nil {
		return nil, err
	}
	return a, nil
}

func (a *arbServer) name() string     { return "arb" }
func (a *arbServer) dialect() dialect { return dialectArb }

func (a *arbServer) httpURL(path string) string {
	return fmt.Sprintf("http://127.0.0.1:%d%s", a.httpPort, path)
}

// start runs `arb serve` on a.dir and waits for /healthz and MySQL.
func (a *arbServer) start() error {
	if err := a.launch(); err != nil {
		return err
	}
	return a.await()
}

// launch starts `arb serve` on a.dir without waiting for it: the nodes
// of a cluster serve only once they have a leader, so they must all be
// launched before any is awaited (cluster.go).
func (a *arbServer) launch() error {
	data := filepath.Join(a.dir, "data")
	args := append([]string{"serve",
		"--data-dir", data,
		"--mysql-addr", fmt.Sprintf("127.0.0.1:%d", a.mysqlPort),
		"--http-addr", fmt.Sprintf("127.0.0.1:%d", a.httpPort),
		"--project", arbProject + ":" + arbToken + ":" + arbSecret,
		"--log-level", "warn"}, a.serveArgs...)
	// $ARB_SERVE_ARGS adds flags to every start, e.g. "--memory-limit 1073741824"
	// to load and query under a memory budget.
	args = append(args, strings.Fields(os.Getenv("ARB_SERVE_ARGS"))...)
	name := a.procName
	if name == "" {
		name = "arb"
	}
	p, err := startProcess(name, filepath.Join(a.dir, "arb.log"), a.bin, args...)
	if err != nil {
		return err
	}
	a.proc = p
	return nil
}

// await waits until a launched arb answers /healthz and MySQL.
func (a *arbServer) await() error {
	err := waitUntil(60*time.Second, a.proc, func() bool {
		resp, err := http.Get(a.httpURL("/healthz"))
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	if err != nil {
		return err
	}
	a.db, err = sql.Open("mysql", fmt.Sprintf("root@tcp(127.0.0.1:%d)/%s?parseTime=true&loc=UTC", a.mysqlPort, arbProject))
	if err != nil {
		return err
	}
	a.db.SetMaxIdleConns(16)
	if err := a.db.Ping(); err != nil {
		return err
	}
	return a.awaitWarmedUp()
}

// awaitWarmedUp waits (two minutes at most) until arb reports its start's
// block cache warm-up and heap pre-touch done (arb_warmed_up 1 on
// /metrics), so that queries are timed at their steady speed, not beside
// that background work; an arb without the metric is not waited for.
func (a *arbServer) awaitWarmedUp() error {
	deadline := time.Now().Add(2 * time.Minute)
	for {
		resp, err := http.Get(a.httpURL("/metrics"))
		if err != nil {
			return err
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		i := bytes.Index(body, []byte("\narb_warmed_up "))
		if i < 0 || bytes.HasPrefix(body[i+len("\narb_warmed_up "):], []byte("1")) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("arb_warmed_up still 0 two minutes after the start")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop flushes and stops arb with SIGTERM (by PID).
func (a *arbServer) stop() error {
	if a.qconn != nil {
		a.qconn.Close()
		a.qconn = nil
	}
	if a.db != nil {
		a.db.Close()
		a.db = nil
	}
	return a.proc.stop(5 * time.Minute)
}

func (a *arbServer) dataDir() string { return filepath.Join(a.dir, "data") }

func (a *arbServer) query(ctx context.Context, q string) ([][]any, error) {
	if a.qconn == nil {
		conn, err := a.db.Conn(context.Background())
		if err != nil {
			return nil, err
		}
		if err := conn.QueryRowContext(context.Background(), "SELECT CONNECTION_ID()").Scan(&a.qid); err != nil {
			conn.Close()
			return nil, fmt.Errorf("connection id: %w", err)
		}
		a.qconn = conn
	}
	rows, err := scanAll(a.qconn.QueryContext(ctx, q))
	if ctx.Err() != nil {
		// The driver gave up on the connection; make arb give up on the query.
		if _, kerr := a.db.ExecContext(context.Background(), "KILL QUERY "+strconv.FormatInt(a.qid, 10)); kerr != nil {
			logf("arb: KILL QUERY %d: %v", a.qid, kerr)
		}
		a.waitQueryGone(a.qid, time.Minute)
		a.qconn.Raw(func(any) error { return driver.ErrBadConn }) // drop it from the pool
		a.qconn.Close()
		a.qconn = nil
		return nil, ctx.Err()
	}
	return rows, err
}

// waitQueryGone polls SHOW PROCESSLIST until connection id runs no
// query, so that the next measurement does not share the CPU with it.
func (a *arbServer) waitQueryGone(id int64, timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		rows, err := scanAll(a.db.Query("SHOW PROCESSLIST"))
		if err != nil {
			logf("arb: SHOW PROCESSLIST: %v", err)
			return
		}
		running := false
		for _, r := range rows {
			if v, ok := toNumber(r[0]); ok && int64(v) == id && len(r) > 4 && cellString(r[4]) == "Query" {
				running = true
			}
		}
		if !running {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	logf("arb: connection %d still runs its killed query after %s", id, timeout)
}

// scanAll reads every row of a database/sql result into []any cells.
func scanAll(rows *sql.Rows, err error) ([][]any, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	var out [][]any
	for rows.Next() {
		cells := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range cells {
			ptrs[i] = &cells[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		for i, c := range cells {
			if b, ok := c.([]byte); ok {
				cells[i] = string(b) // the driver reuses its buffer
			}
		}
		out = append(out, cells)
	}
	return out, rows.Err()
}

// arbLoader is one way of getting the dataset into a running arb. New
// bulk paths plug in here (and in arbLoaders).
type arbLoader interface {
	name() string
	// prepare writes what load reads besides the dataset at path (a form
	// of it), before load's clock starts.
	prepare(path string) error
	// load sends up to limit rows (all when limit <= 0) of the dataset at
	// path and returns once every row is acknowledged (durable).
	load(ctx context.Context, a *arbServer, path string, limit int) (int, error)
}

// importConns is the import load path's requests in flight
// (-import-conns).
var importConns = 4

// arbLoaders are the load paths by flag name.
var arbLoaders = map[string]arbLoader{
	"sql":    sqlInsertLoader{rowsPerStatement: 10_000, conns: 4},
	"import": httpImportLoader{eventsPerBatch: 2_000, conns: importConns},
}

// runBatches feeds batches built by build from the dataset to conns
// workers calling send (sendBatches).
func runBatches(ctx context.Context, path string, limit, batchRows, conns int,
	build func(b []byte, r *tsvRow, first bool) []byte, finish func(b []byte) []byte,
	send func(ctx context.Context, batch []byte) error, acked *atomic.Int64) (int, error) {
	return sendBatches(ctx, conns, send, acked, func(ctx context.Context, emit func(b []byte, rows int)) (int, error) {
		var buf []byte
		inBatch := 0
		n, err := readDataset(path, limit, func(r *tsvRow) error {
			if ctx.Err() != nil {
				return context.Cause(ctx)
			}
			buf = build(buf, r, inBatch == 0)
			inBatch++
			if inBatch == batchRows {
				emit(finish(buf), inBatch)
				buf, inBatch = nil, 0
			}
			return nil
		})
		if err == nil && inBatch > 0 {
			emit(finish(buf), inBatch)
		}
		return n, err
	})
}

// runLineBatches sends the file at path (one row a line, the first limit
// lines when limit > 0) in batches of batchRows whole lines, as they are
// in the file, to conns workers calling send (sendBatches): a client that
// posts a file it already has, so its own cost is reading and sending.
// A batch's buffer is used again once its request is answered: a client
// that allocated one a request (growing it a line at a time) took ~10 of
// a 10M load's 41 CPU seconds, twice what reading and sending take, and
// on two cores the server's rate paid for it.
func runLineBatches(ctx context.Context, path string, limit, batchRows, conns int,
	send func(ctx context.Context, batch []byte) error, acked *atomic.Int64) (int, error) {
	// Every buffer is with the reader, queued or in a request: conns
	// sending, conns*2 queued (sendBatches), one being filled.
	free := make(chan []byte, 3*conns+1)
	for range cap(free) {
		free <- nil
	}
	sendFree := func(ctx context.Context, b []byte) error {
		err := send(ctx, b)
		free <- b[:0]
		return err
	}
	return sendBatches(ctx, conns, sendFree, acked, func(ctx context.Context, emit func(b []byte, rows int)) (int, error) {
		f, err := os.Open(path)
		if err != nil {
			return 0, err
		}
		defer f.Close()
		rd := bufio.NewReaderSize(f, 1<<20)
		// take waits for a free buffer; a failed request stops the
		// workers, which then give none back.
		take := func() ([]byte, error) {
			select {
			case b := <-free:
				return b, nil
			case <-ctx.Done():
				return nil, context.Cause(ctx)
			}
		}
		buf, err := take()
		if err != nil {
			return 0, err
		}
		n, inBatch := 0, 0
		for limit <= 0 || n < limit {
			if ctx.Err() != nil {
				return n, context.Cause(ctx)
			}
			line, err := rd.ReadSlice('\n')
			if err == io.EOF && len(line) == 0 {
				break
			}
			if err != nil && err != io.EOF {
				return n, fmt.Errorf("%s: line %d: %w", path, n+1, err)
			}
			buf = append(buf, line...)
			n++
			inBatch++
			if inBatch == batchRows {
				emit(buf, inBatch)
				if buf, err = take(); err != nil {
					return n, err
				}
				inBatch = 0
			}
		}
		if inBatch > 0 {
			emit(buf, inBatch)
		}
		return n, nil
	})
}

// sendBatches runs produce, which hands its batches to emit, and conns
// workers calling send on them; the first error stops everything. When
// acked is not nil it counts the rows of every batch send accepted (so a
// reader knows how many rows the server has acknowledged so far).
func sendBatches(ctx context.Context, conns int, send func(ctx context.Context, batch []byte) error, acked *atomic.Int64,
	produce func(ctx context.Context, emit func(b []byte, rows int)) (int, error)) (int, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	type batch struct {
		b    []byte
		rows int
	}
	batches := make(chan batch, conns*2)
	var wg sync.WaitGroup
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range batches {
				if ctx.Err() != nil {
					continue
				}
				if err := send(ctx, b.b); err != nil {
					cancel(err)
				} else if acked != nil {
					acked.Add(int64(b.rows))
				}
			}
		}()
	}
	n, err := produce(ctx, func(b []byte, rows int) { batches <- batch{b, rows} })
	close(batches)
	wg.Wait()
	if err == nil {
		err = context.Cause(ctx)
	}
	return n, err
}

// sqlInsertLoader sends multi-row INSERTs of literals (arb's native
// INSERT path) over several MySQL connections.
type sqlInsertLoader struct {
	rowsPerStatement, conns int
}

func (l sqlInsertLoader) name() string {
	return fmt.Sprintf("SQL INSERT, %d rows/statement, %d connections", l.rowsPerStatement, l.conns)
}

func appendSQLString(b []byte, s string) []byte {
	b = append(b, '\'')
	for i := 0; i < len(s); i++ {
		if s[i] == '\'' || s[i] == '\\' {
			b = append(b, '\\')
		}
		b = append(b, s[i])
	}
	return append(b, '\'')
}

func (l sqlInsertLoader) prepare(string) error { return nil }

func (l sqlInsertLoader) load(ctx context.Context, a *arbServer, path string, limit int) (int, error) {
	a.db.SetMaxOpenConns(l.conns)
	const head = "INSERT INTO events (time, event, distinct_id, `$os`, `$browser`, `$city`, `plan`, utm_source, amount) VALUES "
	build := func(b []byte, r *tsvRow, first bool) []byte {
		if first {
			b = append(b, head...)
		} else {
			b = append(b, ',')
		}
		b = append(b, '(')
		for i, s := range []string{r.time, r.event, r.distinctID, r.os, r.browser, r.city, r.plan, r.utm} {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendSQLString(b, s)
		}
		b = append(b, ',')
		if r.amount == `\N` {
			b = append(b, "NULL"...)
		} else {
			b = append(b, r.amount...)
		}
		return append(b, ')')
	}
	send := func(ctx context.Context, stmt []byte) error {
		_, err := a.db.ExecContext(ctx, string(stmt))
		return err
	}
	return runBatches(ctx, path, limit, l.rowsPerStatement, l.conns, build, func(b []byte) []byte { return b }, send, nil)
}

// httpImportLoader posts events to /import in parallel: slices of the
// dataset as NDJSON, or JSON arrays built per row when they need
// insert ids.
type httpImportLoader struct {
	eventsPerBatch, conns int
	// acked, when not nil, counts the events /import acknowledged so far
	// (ingest_queries.go reads it while it queries).
	acked *atomic.Int64
	// spread, when not empty, takes the requests in turn (a cluster's
	// nodes, cluster.go) in place of the server passed to load.
	spread []*arbServer
	// insertIDs gives every event a $insert_id, "r" and its row number in
	// the dataset (1-based): unique, so no answer changes, and a batch
	// that may or may not have been stored can be sent again (cluster.go).
	insertIDs bool
	// retries, when not nil, counts the requests sent again (importRetry).
	retries *importRetries
}

// importRetries counts /import requests sent again, by cause.
type importRetries struct {
	shed   atomic.Int64 // arb shed load, nothing stored
	leader atomic.Int64 // the Raft leader changed with the batch in flight
}

func (l httpImportLoader) name() string {
	s := fmt.Sprintf("HTTP /import, %d events/request, %d in parallel", l.eventsPerBatch, l.conns)
	if l.insertIDs {
		s += ", JSON arrays built per row, with $insert_id"
	} else {
		s += ", NDJSON slices of a file"
	}
	if len(l.spread) > 1 {
		s += fmt.Sprintf(", spread over %d nodes", len(l.spread))
	}
	return s
}

// Causes of a retried /import (importRetry).
const (
	noRetry     = ""
	retryShed   = "shed"
	retryLeader = "leader"
)

// importRetry says whether an /import answer may be answered by sending
// the same request again without counting an event twice, and why:
//   - retryShed: 503 with the overload messages of
//     server/ingest_budget.go ("too much ingestion in flight") or
//     storage/ingest_buffer.go ("ingest buffer full"): nothing stored;
//   - retryLeader: 503 "replicated log unavailable" (cluster mode: no
//     leader, or it changed with the batch in flight), which may have
//     stored the batch: safe only when every event has an insert_id
//     (withIDs), since arb stores an insert_id once.
//
// Anything else is no retry: an error for the load.
func importRetry(status int, body string, withIDs bool) string {
	if status != http.StatusServiceUnavailable {
		return noRetry
	}
	switch {
	case strings.Contains(body, "too much ingestion in flight") || strings.Contains(body, "ingest buffer full"):
		return retryShed
	case withIDs && strings.Contains(body, "replicated log unavailable"):
		return retryLeader
	}
	return noRetry
}

func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' {
			b = append(b, '\\')
		}
		b = append(b, s[i])
	}
	return append(b, '"')
}

func (l httpImportLoader) prepare(path string) error {
	if l.insertIDs {
		return nil
	}
	_, err := ensureNDJSON(path)
	return err
}

// ensureNDJSON returns the dataset at tsv as NDJSON /import events (no
// insert ids), writing it beside the TSV when missing.
func ensureNDJSON(tsv string) (string, error) {
	return ensureDatasetForm(tsv, ".ndjson", "", func(b []byte, r *tsvRow) []byte {
		return append(appendImportEvent(b, r, 0), '\n')
	})
}

func (l httpImportLoader) load(ctx context.Context, a *arbServer, path string, limit int) (int, error) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: l.conns}}
	targets := l.spread
	if len(targets) == 0 {
		targets = []*arbServer{a}
	}
	var next atomic.Int64
	contentType := "application/json"
	send := func(ctx context.Context, body []byte) error {
		to := targets[int(next.Add(1)-1)%len(targets)]
		for attempt := 1; ; attempt++ {
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, to.httpURL("/import"), bytes.NewReader(body))
			if err != nil {
				return err
			}
			req.Header.Set("Content-Type", contentType)
			req.SetBasicAuth(arbToken, "")
			resp, err := client.Do(req)
			if err != nil {
				return err
			}
			reply, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			why := importRetry(resp.StatusCode, string(reply), l.insertIDs)
			if why == noRetry || attempt == 100 {
				return fmt.Errorf("/import to %s (attempt %d): HTTP %d: %.500s", to.httpURL(""), attempt, resp.StatusCode, reply)
			}
			switch {
			case l.retries == nil:
			case why == retryShed:
				l.retries.shed.Add(1)
			default:
				l.retries.leader.Add(1)
			}
			wait := 100 * time.Millisecond
			if secs, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && secs > 0 {
				wait = time.Duration(secs) * time.Second
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(wait):
			}
		}
	}
	if !l.insertIDs {
		// The dataset as NDJSON, written once beside it: the client posts
		// slices of that file, as one posting an export would.
		ndjson, err := ensureNDJSON(path)
		if err != nil {
			return 0, err
		}
		contentType = "application/x-ndjson"
		return runLineBatches(ctx, ndjson, limit, l.eventsPerBatch, l.conns, send, l.acked)
	}
	row := 0 // runBatches calls build once a row, in dataset order
	build := func(b []byte, r *tsvRow, first bool) []byte {
		row++
		if first {
			b = append(b, '[')
		} else {
			b = append(b, ',')
		}
		return appendImportEvent(b, r, row)
	}
	return runBatches(ctx, path, limit, l.eventsPerBatch, l.conns, build,
		func(b []byte) []byte { return append(b, ']') }, send, l.acked)
}

// appendImportEvent appends the dataset row r as one /import event; a
// row number above 0 gives it the $insert_id "r" and that number.
func appendImportEvent(b []byte, r *tsvRow, row int) []byte {
	t, err := time.Parse(time.DateTime, r.time)
	if err != nil {
		panic(fmt.Sprintf("dataset time %q: %v", r.time, err)) // the generator wrote it
	}
	b = append(b, `{"event":`...)
	b = appendJSONString(b, r.event)
	b = append(b, `,"properties":{"time":`...)
	b = strconv.AppendInt(b, t.Unix(), 10)
	for _, kv := range [...][2]string{{"distinct_id", r.distinctID}, {"$os", r.os}, {"$browser", r.browser},
		{"$city", r.city}, {"plan", r.plan}, {"utm_source", r.utm}} {
		b = append(b, ',')
		b = appendJSONString(b, kv[0])
		b = append(b, ':')
		b = appendJSONString(b, kv[1])
	}
	if r.amount != `\N` {
		b = append(b, `,"amount":`...)
		b = append(b, r.amount...)
	}
	if row > 0 {
		b = append(b, `,"$insert_id":"r`...)
		b = strconv.AppendInt(b, int64(row), 10)
		b = append(b, '"')
	}
	return append(b, "}}"...)
}

// loadArb starts arb in dir, loads the dataset with loader, stops it
// (SIGTERM flushes), measures the data directory and starts it again for
// the queries.
func loadArb(ctx context.Context, bin, dir, path string, limit int, loader arbLoader) (*arbServer, loadResult, error) {
	res := loadResult{engine: "arb", path: loader.name()}
	a, err := newArbServer(bin, dir)
	if err != nil {
		return nil, res, err
	}
	if err := a.start(); err != nil {
		a.stop()
		return nil, res, err
	}
	if err := loader.prepare(path); err != nil {
		a.stop()
		return nil, res, err
	}
	start := time.Now()
	n, err := loader.load(ctx, a, path, limit)
	res.rows, res.elapsed = n, time.Since(start)
	if err != nil {
		a.stop()
		return nil, res, fmt.Errorf("arb load (%s) after %d rows: %w", loader.name(), n, err)
	}
	proc := a.proc
	if err := a.stop(); err != nil {
		return nil, res, err
	}
	res.cpu = proc.cpu
	if res.diskBytes, err = dirBytes(a.dataDir()); err != nil {
		return nil, res, err
	}
	res.note = "du of the data dir after SIGTERM (flushed)"
	// The queries see the layout the load left: segments found at start-up
	// count as quiet, and the background compactor would merge every day
	// while they are timed (compaction.go compacts on request).
	a.serveArgs = []string{"--background-compaction=false"}
	if err := a.start(); err != nil {
		a.stop()
		return nil, res, err
	}
	return a, res, nil
}

// probeArbLoaders loads the first limit rows through every loader, each
// into a fresh arb, and reports the rates; it returns the fastest.
func probeArbLoaders(ctx context.Context, bin, workDir, path string, limit int) (string, []loadResult, error) {
	var results []loadResult
	best, bestRate := "", 0.0
	for _, key := range []string{"sql", "import"} {
		loader := arbLoaders[key]
		dir := filepath.Join(workDir, "arb-probe-"+key)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return "", nil, err
		}
		a, res, err := loadArb(ctx, bin, dir, path, limit, loader)
		if a != nil {
			a.stop()
		}
		os.RemoveAll(dir)
		if err != nil {
			res.note = "error: " + strings.SplitN(err.Error(), "\n", 2)[0]
			results = append(results, res)
			continue
		}
		results = append(results, res)
		if rate := float64(res.rows) / res.elapsed.Seconds(); rate > bestRate {
			best, bestRate = key, rate
		}
	}
	if best == "" {
		return "", results, errors.New("every arb loader failed")
	}
	return best, results, nil
}

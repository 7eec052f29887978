package server

import (
	"context"
	"errors"
	"sync"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/mysql_db"
	"github.com/dolthub/vitess/go/mysql"
	"github.com/dolthub/vitess/go/sqltypes"
	querypb "github.com/dolthub/vitess/go/vt/proto/query"
	"github.com/dolthub/vitess/go/vt/sqlparser"
)

// handler wraps go-mysql-server's protocol handler to fix what clients
// see: MySQL's error numbers and SQLSTATEs (errors.go), statement
// metrics, sql_select_limit (selectLimit), and the query limits
// (query_limits.go: execution time, concurrency, memory). Everything else
// passes through.
type handler struct {
	mysql.Handler
	metrics  *metrics
	inflight *sync.WaitGroup // statements being run (Server.Shutdown waits)
	parser   *schemaParser
	sessions *sync.Map    // connection id (uint32) → *session
	limits   *queryLimits // nil: none (every handler made by Start has them)
	// users are the accounts and grants (users.go); the native INSERT
	// path checks them. nil: no accounts (any user may write).
	users *mysql_db.MySQLDb
}

// sessionFor is c's session, nil before the session builder ran.
func (h *handler) sessionFor(c *mysql.Conn) *session {
	if s, ok := h.sessions.Load(c.ConnectionID); ok {
		return s.(*session)
	}
	return nil
}

// limited runs a statement under the query limits: run gets the context
// to run it in and the statement, to mark when its results start to
// stream (st is nil without limits; markStreaming accepts nil).
func (h *handler) limited(ctx context.Context, c *mysql.Conn, query string, run func(ctx context.Context, st *statement) error) error {
	if h.limits == nil {
		return run(ctx, nil)
	}
	var sess sql.Session
	if s := h.sessionFor(c); s != nil {
		sess = s
	}
	qctx, st, release, err := h.limits.begin(ctx, c, sess, query)
	if err != nil {
		return err
	}
	err = h.limits.finish(qctx, run(qctx, st))
	release()
	if err == nil {
		h.limits.afterKill(query)
	}
	return err
}

// connected tells whether id is one of this server's connections.
func (h *handler) connected(id uint32) bool {
	_, ok := h.sessions.Load(id)
	return ok
}

// statementError gives err the MySQL number clients expect, knowing the
// statement and c's current database (errors.go).
func (h *handler) statementError(c *mysql.Conn, query string, err error) error {
	if err == nil {
		return nil
	}
	var db string
	if s := h.sessionFor(c); s != nil {
		db = s.GetCurrentDatabase()
	}
	return h.accessError(c, query, statementError(err, query, db))
}

func (h *handler) ConnectionClosed(c *mysql.Conn) {
	h.sessions.Delete(c.ConnectionID)
	h.Handler.ConnectionClosed(c)
}

func (h *handler) ComQuery(ctx context.Context, c *mysql.Conn, query string, callback mysql.ResultSpoolFn) error {
	h.inflight.Add(1)
	defer h.inflight.Done()
	done := h.metrics.statement()
	if sess := h.sessionFor(c); sess != nil {
		if res, _, handled, err := h.nativeStatement(ctx, c, sess, query, false); handled {
			if err == nil {
				err = callback(res, false)
			}
			done(err)
			return err
		}
	}
	if err := killUnknown(query, h.connected); err != nil {
		done(err)
		return err
	}
	limit, capped, restore := h.selectLimit(c, query)
	defer restore()
	err := h.statementError(c, query, h.limited(ctx, c, query, func(ctx context.Context, st *statement) error {
		rc := rowCap{limit: limit}
		err := h.Handler.ComQuery(ctx, c, query, func(r *sqltypes.Result, more bool) error {
			st.markStreaming()
			if !capped {
				return callback(r, more)
			}
			return rc.send(r, func(r *sqltypes.Result) error { return callback(r, more) })
		})
		return rc.finish(err)
	}))
	done(err)
	return err
}

func (h *handler) ComMultiQuery(ctx context.Context, c *mysql.Conn, query string, callback mysql.ResultSpoolFn) (string, error) {
	h.inflight.Add(1)
	defer h.inflight.Done()
	done := h.metrics.statement()
	if sess := h.sessionFor(c); sess != nil {
		if res, rest, handled, err := h.nativeStatement(ctx, c, sess, query, true); handled {
			if err == nil {
				err = callback(res, rest != "")
			}
			done(err)
			if err != nil {
				rest = ""
			}
			return rest, err
		}
	}
	var rest string
	// The rows past sql_select_limit are dropped, not stopped: stopping
	// would lose the rest of the batch.
	if err := killUnknown(query, h.connected); err != nil {
		done(err)
		return "", err
	}
	limit, capped, restore := h.selectLimit(c, query)
	defer restore()
	err := h.statementError(c, query, h.limited(ctx, c, query, func(ctx context.Context, st *statement) error {
		var err error
		rc := rowCap{limit: limit}
		rest, err = h.Handler.ComMultiQuery(ctx, c, query, func(r *sqltypes.Result, more bool) error {
			st.markStreaming()
			if capped {
				r, _ = rc.pass(r)
			}
			return callback(r, more)
		})
		return err
	}))
	done(err)
	return rest, err
}

func (h *handler) ComPrepare(ctx context.Context, c *mysql.Conn, query string, prepare *mysql.PrepareData) ([]*querypb.Field, error) {
	fields, err := h.Handler.ComPrepare(ctx, c, query, prepare)
	return fields, h.statementError(c, query, err)
}

// ComStmtExecute types the columns an INSERT's placeholders add from the
// values bound this time (the statement was parsed at prepare time, when
// they had no type), then runs it.
func (h *handler) ComStmtExecute(ctx context.Context, c *mysql.Conn, prepare *mysql.PrepareData, callback func(*sqltypes.Result) error) error {
	h.inflight.Add(1)
	defer h.inflight.Done()
	if sess, ok := h.sessions.Load(c.ConnectionID); ok && len(prepare.BindVars) > 0 {
		h.parser.discoverBound(sess.(*session), prepare.PrepareStmt, prepare.BindVars)
	}
	done := h.metrics.statement()
	limit, capped, restore := h.selectLimit(c, prepare.PrepareStmt)
	defer restore()
	err := h.statementError(c, prepare.PrepareStmt, h.limited(ctx, c, prepare.PrepareStmt, func(ctx context.Context, st *statement) error {
		rc := rowCap{limit: limit}
		err := h.Handler.ComStmtExecute(ctx, c, prepare, func(r *sqltypes.Result) error {
			st.markStreaming()
			if !capped {
				return callback(r)
			}
			return rc.send(r, callback)
		})
		return rc.finish(err)
	}))
	done(err)
	return err
}

// errSelectLimitReached stops a statement's result stream once it has
// sent sql_select_limit rows; the handler swallows it (rowCap.stopped).
var errSelectLimitReached = errors.New("sql_select_limit reached")

// selectLimit is the number of rows a statement of c's session may return
// under SET sql_select_limit, as MySQL 8 applies it (JDBC setMaxRows sends
// it; Metabase and DBeaver rely on it): a top-level SELECT or set
// operation without a LIMIT of its own and without INTO is
// capped; a LIMIT in the query takes precedence, smaller or larger; the
// variable at its default (SET ... = DEFAULT) caps nothing; subqueries,
// INSERT ... SELECT and every other statement are not capped. go-mysql-
// server applies the variable only under some root nodes (Project, Sort,
// GroupBy) and not on its simple-select path, so a plain SELECT * FROM
// events came back whole, while on an INSERT ... SELECT it capped the
// rows copied (it analyzes the source as a statement of its own): restore
// undoes the lifting of the variable for such a statement, and is never
// nil. capped is false when nothing is capped. Only the first statement
// of query counts (ComMultiQuery runs one at a time).
func (h *handler) selectLimit(c *mysql.Conn, query string) (limit int64, capped bool, restore func()) {
	restore = func() {}
	s := h.sessionFor(c)
	if s == nil {
		return 0, false, restore
	}
	ctx := sql.NewEmptyContext()
	isDefault, v := sql.HasDefaultValue(ctx, s, "sql_select_limit")
	if isDefault {
		return 0, false, restore
	}
	stmt, _, err := sqlparser.ParseOne(ctx, query)
	if stripped, _, rollup := rollupStatement(query, false); err != nil && rollup {
		// WITH ROLLUP, which the parser refuses (rollup.go): capped as
		// the SELECT it qualifies.
		stmt, _, err = sqlparser.ParseOne(ctx, stripped)
	}
	if err != nil {
		return 0, false, restore // go-mysql-server reports the error
	}
	switch st := stmt.(type) {
	case *sqlparser.Select:
		capped = st.Limit == nil && st.Into == nil
	case *sqlparser.SetOp:
		capped = st.Limit == nil && st.Into == nil
	case *sqlparser.ParenSelect:
		capped = true
	case *sqlparser.Insert, *sqlparser.DDL:
		return 0, false, liftSelectLimit(ctx, s, v)
	}
	switch x := v.(type) {
	case int64:
		limit, capped = x, capped && x >= 0
	case uint64:
		limit, capped = int64(x), capped && x <= 1<<63-1
	default:
		capped = false
	}
	return limit, capped, restore
}

// liftSelectLimit sets s's sql_select_limit to its default for one
// statement and returns what sets it back to v.
func liftSelectLimit(ctx *sql.Context, s *session, v any) func() {
	sv, _, ok := sql.SystemVariables.GetGlobal("sql_select_limit")
	if !ok || s.SetSessionVariable(ctx, "sql_select_limit", sv.GetDefault()) != nil {
		return func() {}
	}
	return func() { _ = s.SetSessionVariable(ctx, "sql_select_limit", v) }
}

// rowCap passes at most limit rows of a result stream on to send and then
// returns errSelectLimitReached, which stops the statement (its iterators
// close, so a native scan ends early). Every result passes with its
// fields, so a cap of 0 still sends the columns.
type rowCap struct {
	limit   int64
	sent    int64
	stopped bool // the stream was stopped at the cap
}

// pass trims r to the rows still allowed; stop reports that the cap is
// reached after r.
func (rc *rowCap) pass(r *sqltypes.Result) (out *sqltypes.Result, stop bool) {
	left := rc.limit - rc.sent
	if int64(len(r.Rows)) > left {
		trimmed := *r
		trimmed.Rows = r.Rows[:left]
		r = &trimmed
	}
	rc.sent += int64(len(r.Rows))
	return r, rc.sent >= rc.limit
}

// send passes r, trimmed to the cap, to forward, and returns
// errSelectLimitReached once the cap is reached (which stops the
// statement).
func (rc *rowCap) send(r *sqltypes.Result, forward func(*sqltypes.Result) error) error {
	r, stop := rc.pass(r)
	if err := forward(r); err != nil {
		return err
	}
	if stop {
		rc.stopped = true
		return errSelectLimitReached
	}
	return nil
}

// finish is the statement's error: none when the cap stopped it
// (go-mysql-server wraps errSelectLimitReached, losing its chain).
func (rc *rowCap) finish(err error) error {
	if rc.stopped {
		return nil
	}
	return err
}

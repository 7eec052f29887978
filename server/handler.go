package server

import (
	"context"
	"sync"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/vitess/go/mysql"
	"github.com/dolthub/vitess/go/sqltypes"
	querypb "github.com/dolthub/vitess/go/vt/proto/query"
)

// handler wraps go-mysql-server's protocol handler to fix what clients
// see: MySQL's error numbers and SQLSTATEs (errors.go), statement
// metrics, and the query limits (query_limits.go: execution time,
// concurrency, memory). Everything else passes through.
type handler struct {
	mysql.Handler
	metrics  *metrics
	inflight *sync.WaitGroup // statements being run (Server.Shutdown waits)
	parser   *schemaParser
	sessions *sync.Map    // connection id (uint32) → *session
	limits   *queryLimits // nil: none (every handler made by Start has them)
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

func (h *handler) ConnectionClosed(c *mysql.Conn) {
	h.sessions.Delete(c.ConnectionID)
	h.Handler.ConnectionClosed(c)
}

func (h *handler) ComQuery(ctx context.Context, c *mysql.Conn, query string, callback mysql.ResultSpoolFn) error {
	h.inflight.Add(1)
	defer h.inflight.Done()
	done := h.metrics.statement()
	if sess, ok := h.sessions.Load(c.ConnectionID); ok {
		if res, handled, err := h.fastInsert(sess.(*session), query); handled {
			h.metrics.fastInserts.Inc()
			if err == nil {
				err = callback(res, false)
			}
			done(err)
			return err
		}
	}
	err := mysqlError(h.limited(ctx, c, query, func(ctx context.Context, st *statement) error {
		return h.Handler.ComQuery(ctx, c, query, func(r *sqltypes.Result, more bool) error {
			st.markStreaming()
			return callback(r, more)
		})
	}))
	done(err)
	return err
}

func (h *handler) ComMultiQuery(ctx context.Context, c *mysql.Conn, query string, callback mysql.ResultSpoolFn) (string, error) {
	h.inflight.Add(1)
	defer h.inflight.Done()
	done := h.metrics.statement()
	var rest string
	err := mysqlError(h.limited(ctx, c, query, func(ctx context.Context, st *statement) error {
		var err error
		rest, err = h.Handler.ComMultiQuery(ctx, c, query, func(r *sqltypes.Result, more bool) error {
			st.markStreaming()
			return callback(r, more)
		})
		return err
	}))
	done(err)
	return rest, err
}

func (h *handler) ComPrepare(ctx context.Context, c *mysql.Conn, query string, prepare *mysql.PrepareData) ([]*querypb.Field, error) {
	fields, err := h.Handler.ComPrepare(ctx, c, query, prepare)
	return fields, mysqlError(err)
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
	err := mysqlError(h.limited(ctx, c, prepare.PrepareStmt, func(ctx context.Context, st *statement) error {
		return h.Handler.ComStmtExecute(ctx, c, prepare, func(r *sqltypes.Result) error {
			st.markStreaming()
			return callback(r)
		})
	}))
	done(err)
	return err
}

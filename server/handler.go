package server

import (
	"context"
	"sync"

	"github.com/dolthub/vitess/go/mysql"
	"github.com/dolthub/vitess/go/sqltypes"
	querypb "github.com/dolthub/vitess/go/vt/proto/query"
)

// handler wraps go-mysql-server's protocol handler to fix what clients
// see: MySQL's error numbers and SQLSTATEs (errors.go) and statement
// metrics. Everything else passes through.
type handler struct {
	mysql.Handler
	metrics  *metrics
	inflight *sync.WaitGroup // statements being run (Server.Shutdown waits)
	parser   *schemaParser
	sessions *sync.Map // connection id (uint32) → *session
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
	err := mysqlError(h.Handler.ComQuery(ctx, c, query, callback))
	done(err)
	return err
}

func (h *handler) ComMultiQuery(ctx context.Context, c *mysql.Conn, query string, callback mysql.ResultSpoolFn) (string, error) {
	h.inflight.Add(1)
	defer h.inflight.Done()
	done := h.metrics.statement()
	rest, err := h.Handler.ComMultiQuery(ctx, c, query, callback)
	err = mysqlError(err)
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
	err := mysqlError(h.Handler.ComStmtExecute(ctx, c, prepare, callback))
	done(err)
	return err
}

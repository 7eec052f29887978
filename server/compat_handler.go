package server

// compatHandler is the innermost wrapper of go-mysql-server's protocol
// handler: it closes the gaps between what go-mysql-server sends and what
// MySQL 8 sends that BI tools and drivers notice (issue 16, item 6):
//
//   - column definitions label non-string columns binary (result_fields.go);
//   - EXPLAIN FORMAT=JSON answers with MySQL's JSON document (explain_json.go);
//   - WITH ROLLUP and EXPLAIN FORMAT=JSON, which vitess refuses to prepare,
//     are prepared and executed as server-side statements (prepared_compat.go);
//   - COM_STATISTICS and COM_CHANGE_USER, which vitess refuses before any
//     handler sees them, are answered by a tap on the connection's reads
//     installed when the connection has authenticated (protocol_commands.go).
//
// arb's handler (handler.go: error numbers, limits, metrics) wraps this one,
// so what is answered here still gets MySQL's error numbers and the
// statement limits.

import (
	"context"
	"log/slog"
	"sync"

	"github.com/dolthub/go-mysql-server/sql/mysql_db"
	"github.com/dolthub/vitess/go/mysql"
	"github.com/dolthub/vitess/go/sqltypes"
	querypb "github.com/dolthub/vitess/go/vt/proto/query"
	"github.com/dolthub/vitess/go/vt/sqlparser"
)

type compatHandler struct {
	mysql.Handler
	// auth is the listener's auth server (set by the protocol listener
	// factory before the first connection): COM_CHANGE_USER checks
	// passwords with it. nil: COM_CHANGE_USER is refused.
	auth     mysql.AuthServer
	users    *mysql_db.MySQLDb // accounts, for caching_sha2_password
	sessions *sync.Map         // connection id → *session
	stats    *serverStats
	log      *slog.Logger
	// preparing is, per connection id, the statement to prepare the
	// command tap replaced for vitess (preparedSwap,
	// prepared_compat.go); ComPrepare takes it out.
	preparing sync.Map
}

func (h *compatHandler) ConnectionAuthenticated(c *mysql.Conn) error {
	if err := h.Handler.ConnectionAuthenticated(c); err != nil {
		return err
	}
	if !installCommandTap(c, h) {
		h.log.Warn("COM_STATISTICS and COM_CHANGE_USER are refused on this connection: vitess's reader is not as expected", "connection", c.ConnectionID)
	}
	return nil
}

func (h *compatHandler) ConnectionClosed(c *mysql.Conn) {
	h.preparing.Delete(c.ConnectionID)
	h.Handler.ConnectionClosed(c)
}

func (h *compatHandler) ComQuery(ctx context.Context, c *mysql.Conn, query string, callback mysql.ResultSpoolFn) error {
	if stmt, ok := explainJSONTarget(query); ok {
		return h.explainJSON(ctx, c, stmt, callback)
	}
	if stmt, ok := explainTableTarget(query); ok {
		return h.explainTable(ctx, c, stmt, callback)
	}
	return h.Handler.ComQuery(ctx, c, query, binaryResults(callback))
}

func (h *compatHandler) ComMultiQuery(ctx context.Context, c *mysql.Conn, query string, callback mysql.ResultSpoolFn) (string, error) {
	if _, ok := explainJSONTarget(query); ok {
		first, rest, err := sqlparser.SplitStatement(query)
		if err == nil {
			if stmt, ok := explainJSONTarget(first); ok {
				return rest, h.explainJSON(ctx, c, stmt, callback)
			}
		}
	}
	if _, ok := explainTableTarget(query); ok {
		first, rest, err := sqlparser.SplitStatement(query)
		if err == nil {
			if stmt, ok := explainTableTarget(first); ok {
				return rest, h.explainTable(ctx, c, stmt, callback)
			}
		}
	}
	return h.Handler.ComMultiQuery(ctx, c, query, binaryResults(callback))
}

func (h *compatHandler) ComPrepare(ctx context.Context, c *mysql.Conn, query string, prepare *mysql.PrepareData) ([]*querypb.Field, error) {
	query = h.swapPrepared(c, query, prepare)
	if form, target := explainPrepared(query); form != 0 {
		return h.prepareExplain(ctx, c, form, target, prepare)
	}
	fields, err := h.Handler.ComPrepare(ctx, c, query, prepare)
	binaryFields(fields)
	return fields, err
}

func (h *compatHandler) ComStmtExecute(ctx context.Context, c *mysql.Conn, prepare *mysql.PrepareData, callback func(*sqltypes.Result) error) error {
	if form, target := explainPrepared(prepare.PrepareStmt); form != 0 {
		return h.executeExplain(ctx, c, form, target, prepare, callback)
	}
	return h.Handler.ComStmtExecute(ctx, c, prepare, func(r *sqltypes.Result) error {
		binaryFields(r.Fields)
		return callback(r)
	})
}

// binaryResults relabels each result's fields before passing it on.
func binaryResults(callback mysql.ResultSpoolFn) mysql.ResultSpoolFn {
	return func(r *sqltypes.Result, more bool) error {
		if r != nil {
			binaryFields(r.Fields)
		}
		return callback(r, more)
	}
}

// tableCount is the number of tables arb serves: events, people and
// groups of each project, and the arb database's tables (COM_STATISTICS's
// Opens and Open tables: arb's tables are never closed).
func (s *Server) tableCount() int {
	sys, _ := (&systemDatabase{store: s.store}).GetTableNames(nil)
	return 3*len(s.store.Projects()) + len(sys)
}

package server

import (
	"context"
	"strings"
	"sync"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/vitess/go/mysql"

	"arb/storage"
)

// session is one MySQL connection's state.
type session struct {
	*sql.BaseSession
	// pending holds the columns that the statement being run adds to or
	// widens in a table, keyed by pendingKey, then lower-cased column name.
	// The parser sets it for each INSERT (parser.go); the table a statement
	// resolves shows them, so go-mysql-server accepts and converts the new
	// values; storage makes them durable together with the rows, or not at
	// all if the statement fails. Only the connection's goroutine touches it.
	pending map[pendingKey][]storage.Column
	// temp holds the session's temporary tables (temp_tables.go); nil
	// until the first CREATE TEMPORARY TABLE.
	temp *tempTables
}

type pendingKey struct{ project, table string }

// newSessionBuilder makes sessions and records them in sessions by
// connection id, for the handler (handler.go).
func newSessionBuilder(sessions *sync.Map) func(ctx context.Context, conn *mysql.Conn, addr string) (sql.Session, error) {
	return func(ctx context.Context, conn *mysql.Conn, addr string) (sql.Session, error) {
		var host, user string
		if u, ok := conn.UserData.(sql.MysqlConnectionUser); ok {
			host, user = u.Host, u.User
		}
		client := sql.Client{Address: host, User: user, Capabilities: conn.Capabilities}
		s := &session{BaseSession: sessionStatus.forSession(func() *sql.BaseSession {
			return sql.NewBaseSessionWithClientServer(addr, client, conn.ConnectionID)
		})}
		applyHandshakeCollation(s, conn.CharacterSet)
		sessions.Store(conn.ConnectionID, s)
		return s, nil
	}
}

// sessionOf returns ctx's arb session, or nil for a context made outside
// a connection (tests, internal queries).
func sessionOf(ctx *sql.Context) *session {
	s, _ := ctx.Session.(*session)
	return s
}

// pendingColumns returns the columns the running statement adds to
// project's table (nil when none).
// Columns come in the order the statement names them.
func pendingColumns(ctx *sql.Context, project, table string) []storage.Column {
	if s := sessionOf(ctx); s != nil {
		return s.pending[pendingKey{project, strings.ToLower(table)}]
	}
	return nil
}

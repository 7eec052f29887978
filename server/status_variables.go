package server

// Session status variables only for sessions.
//
// go-mysql-server gives every new session its own copy of the ~290
// session-scoped status variables (a map entry and an allocated counter
// each). Sessions of connections need them (SHOW SESSION STATUS,
// Com_select, ...), but go-mysql-server also makes a throw-away session
// whenever it prints an alias (expression.Alias.String makes an empty
// context), and its analyzer prints every aliased projection each time it
// rebuilds a Project's schema: tens of copies per query, about a tenth of
// the CPU of a small query. statusRegistry wraps the registry so that only
// sessions made by newSessionBuilder get the copy; any other session gets
// an empty map, in which an increment is a no-op and a read an "unknown
// variable" error, as for a variable go-mysql-server does not have.
//
// INVARIANT: every session of a client connection is made inside
// sessionStatus.forSession, so it has every session variable.

import (
	"sync/atomic"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/variables"
)

type statusRegistry struct {
	sql.StatusVariableRegistry
	// building counts the sessions of connections being made now: while
	// it is above zero every new session gets the full map (a throw-away
	// session made meanwhile too: harmless).
	building atomic.Int32
}

func (r *statusRegistry) NewSessionMap() map[string]sql.StatusVarValue {
	if r.building.Load() > 0 {
		return r.StatusVariableRegistry.NewSessionMap()
	}
	return map[string]sql.StatusVarValue{}
}

// forSession runs newSession, which makes a connection's session, so that the
// session gets its status variables.
func (r *statusRegistry) forSession(newSession func() *sql.BaseSession) *sql.BaseSession {
	r.building.Add(1)
	defer r.building.Add(-1)
	return newSession()
}

// sessionStatus is installed as go-mysql-server's registry before any
// engine exists (init), so no goroutine reads the global while it is set:
// engines made later find it and only reset its values.
var sessionStatus = func() *statusRegistry {
	variables.InitStatusVariables()
	r := &statusRegistry{StatusVariableRegistry: sql.StatusVariables}
	sql.StatusVariables = r
	return r
}()

package server

// The variables a new session copies, made cheap to copy.
//
// go-mysql-server gives every new session its own copy of the ~290
// session-scoped status variables (a map entry and an allocated counter
// each) and of the ~360 system variables (a map built entry by entry).
// Sessions of connections need both, but go-mysql-server also makes a
// throw-away session whenever it prints an alias (expression.Alias.String
// makes an empty context), and its analyzer prints every aliased
// projection each time it rebuilds a Project's schema: several per query,
// together a quarter of the CPU of a one-millisecond query. So:
//   - statusRegistry wraps the status registry so that only sessions made
//     by newSessionBuilder get the copy; any other session gets an empty
//     map, in which an increment is a no-op and a read an "unknown
//     variable" error, as for a variable go-mysql-server does not have;
//   - systemRegistry wraps the system registry so that a connection's
//     session gets a clone of one kept map (a copy of its memory, not an
//     insertion per entry), made again after any change of a global
//     value, and a throw-away session gets the kept map itself: it
//     reads every system variable (parts of go-mysql-server read
//     sql_mode and the like through any context) without a copy of
//     ~360 entries each time an alias is printed.
//
// INVARIANTS: every session of a client connection is made inside
// sessionStatus.forSession, so it has every session status variable and
// its own system variables. Nothing sets a system variable of a session
// made outside it (SET runs in a connection's session; arb's own
// contexts outside connections carry one, sql.WithSession): the map
// such a session holds may be shared with every other.

import (
	"maps"
	"sync"
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

// systemRegistry keeps the map of the system variables' global values that
// every new session starts from. Its lock is never held while the wrapped
// registry runs: that can make an empty context (AssignValues does), whose
// session asks NewSessionMap again.
type systemRegistry struct {
	sql.SystemVariableRegistry
	mu sync.Mutex
	// sessionMap is a copy of the wrapped registry's NewSessionMap, never
	// modified; nil after any change of the globals until a session asks.
	sessionMap map[string]sql.SystemVarValue
	// changes counts the changes of the globals: a map read from the
	// wrapped registry is kept only if none began meanwhile.
	changes uint64
}

func (r *systemRegistry) NewSessionMap() map[string]sql.SystemVarValue {
	r.mu.Lock()
	m, changes := r.sessionMap, r.changes
	r.mu.Unlock()
	if m != nil {
		if sessionStatus.building.Load() == 0 {
			return m // a throw-away session's: shared, never written
		}
		return maps.Clone(m)
	}
	m = r.SystemVariableRegistry.NewSessionMap()
	r.mu.Lock()
	if r.changes == changes {
		r.sessionMap = maps.Clone(m)
	}
	r.mu.Unlock()
	return m
}

// changed drops the kept map after a change of the globals. A map read
// before the change began is not kept (changes moved on); one read after
// it ended holds the change.
func (r *systemRegistry) changed() {
	r.mu.Lock()
	r.changes++
	r.sessionMap = nil
	r.mu.Unlock()
}

func (r *systemRegistry) AddSystemVariables(sysVars []sql.SystemVariable) {
	r.changed()
	defer r.changed()
	r.SystemVariableRegistry.AddSystemVariables(sysVars)
}

func (r *systemRegistry) AssignValues(vals map[string]interface{}) error {
	r.changed()
	defer r.changed()
	return r.SystemVariableRegistry.AssignValues(vals)
}

func (r *systemRegistry) SetGlobal(ctx *sql.Context, name string, val interface{}) error {
	r.changed()
	defer r.changed()
	return r.SystemVariableRegistry.SetGlobal(ctx, name, val)
}

// sessionSystem is installed as go-mysql-server's system variable
// registry during package initialisation, as sessionStatus is.
var sessionSystem = func() *systemRegistry {
	r := &systemRegistry{SystemVariableRegistry: sql.SystemVariables}
	sql.SystemVariables = r
	return r
}()

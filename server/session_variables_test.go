package server

import (
	gosql "database/sql"
	"fmt"
	"testing"

	gsql "github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/types"
)

// TestSessionStatusVariables: a connection's session has every session
// status variable of go-mysql-server and counts in them, while a
// throw-away session (an empty context, as Alias.String makes) gets none.
func TestSessionStatusVariables(t *testing.T) {
	srv := startTestServer(t, t.TempDir())
	db := openDB(t, srv, "")
	db.SetMaxOpenConns(1) // one session throughout
	want := len(sessionStatus.StatusVariableRegistry.NewSessionMap())
	if want < 100 {
		t.Fatalf("go-mysql-server's registry has %d session status variables, want over 100", want)
	}
	count := func() int {
		t.Helper()
		rows, err := db.Query("SHOW SESSION STATUS")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		n := 0
		for rows.Next() {
			n++
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return n
	}
	comInsert := func() int {
		t.Helper()
		var name string
		var v int
		if err := db.QueryRow("SHOW SESSION STATUS LIKE 'Com_insert'").Scan(&name, &v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	if n := count(); n < want {
		t.Fatalf("SHOW SESSION STATUS lists %d variables, want at least the %d session ones", n, want)
	}
	before := comInsert()
	// INSERT … SELECT goes through go-mysql-server's planner, which
	// counts it (arb's own INSERT … VALUES path does not).
	mustExec(t, db, "INSERT INTO events (time, event, distinct_id) SELECT time, event, distinct_id FROM events WHERE 1=0")
	if after := comInsert(); after != before+1 {
		t.Fatalf("Com_insert went from %d to %d over one INSERT … SELECT, want +1", before, after)
	}
	ctx := gsql.NewEmptyContext()
	if m := ctx.Session.GetAllStatusVariables(ctx); len(m) != 0 {
		t.Fatalf("a throw-away session got %d status variables, want none", len(m))
	}
	ctx.Session.IncrementStatusVariable(ctx, "Com_insert", 1) // a no-op, not a panic
}

// TestSessionSystemVariables: a new connection's session starts from the
// global values as they are now (after SET GLOBAL too), and a SET SESSION
// in one connection leaves the others' and new ones' values alone.
func TestSessionSystemVariables(t *testing.T) {
	srv := startTestServer(t, t.TempDir())
	get := func(db *gosql.DB, q string) int64 {
		t.Helper()
		var v int64
		if err := db.QueryRow(q).Scan(&v); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return v
	}
	a := openDB(t, srv, "")
	a.SetMaxOpenConns(1)
	base := get(a, "SELECT @@SESSION.max_sp_recursion_depth")
	mustExec(t, a, "SET SESSION max_sp_recursion_depth = 9")
	b := openDB(t, srv, "")
	b.SetMaxOpenConns(1)
	if v := get(b, "SELECT @@SESSION.max_sp_recursion_depth"); v != base {
		t.Fatalf("a new session has max_sp_recursion_depth %d after another's SET SESSION, want the global %d", v, base)
	}
	mustExec(t, b, "SET GLOBAL max_sp_recursion_depth = 7")
	t.Cleanup(func() { mustExec(t, b, fmt.Sprintf("SET GLOBAL max_sp_recursion_depth = %d", base)) })
	c := openDB(t, srv, "")
	c.SetMaxOpenConns(1)
	if v := get(c, "SELECT @@SESSION.max_sp_recursion_depth"); v != 7 {
		t.Fatalf("a session made after SET GLOBAL has max_sp_recursion_depth %d, want 7", v)
	}
	if v := get(a, "SELECT @@SESSION.max_sp_recursion_depth"); v != 9 {
		t.Fatalf("the first session's own value became %d, want 9", v)
	}
	// Throw-away sessions share one map (no copy per printed alias): it
	// holds the globals as they are now, not a connection's SET SESSION.
	throwAway := func() int64 {
		t.Helper()
		ctx := gsql.NewEmptyContext()
		v, err := ctx.Session.GetSessionVariable(ctx, "max_sp_recursion_depth")
		if err != nil {
			t.Fatal(err)
		}
		n, _, err := types.Int64.Convert(ctx, v)
		if err != nil {
			t.Fatal(err)
		}
		return n.(int64)
	}
	if v := throwAway(); v != 7 {
		t.Fatalf("a throw-away session has max_sp_recursion_depth %d after SET GLOBAL 7, want 7", v)
	}
	mustExec(t, c, "SET SESSION max_sp_recursion_depth = 3")
	if v := throwAway(); v != 7 {
		t.Fatalf("a throw-away session has max_sp_recursion_depth %d after a connection's SET SESSION 3, want the global 7", v)
	}
}

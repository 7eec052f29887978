package server

import (
	"testing"

	gsql "github.com/dolthub/go-mysql-server/sql"
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

package server

import (
	"context"
	"math/rand"
	"sort"
	"strings"
	"testing"
	"time"
)

// TestConstSumByEngine checks SUM of an integer constant (Tableau's
// SUM(1) "Number of Records"), which the engine answers as the constant
// times each group's row count (planner constSum): pushdown on and off
// give the same values and types, NULL over no rows included.
func TestConstSumByEngine(t *testing.T) {
	r := rand.New(rand.NewSource(3))
	srv := startTestServer(t, t.TempDir())
	db := openDB(t, srv, "")
	start := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	mustExec(t, db, workloadInsert(r, 3000, start, 50))
	if err := srv.Store().Flush(); err != nil {
		t.Fatal(err)
	}
	mustExec(t, db, workloadInsert(r, 500, start.Add(time.Hour), 50)) // buffered
	on, off := diffConn(t, db, 1), diffConn(t, db, 0)
	ctx := context.Background()
	for _, q := range []string{
		"SELECT event, SUM(1) FROM events GROUP BY 1",
		"SELECT `plan`, SUM(7) AS s, COUNT(*) FROM events GROUP BY `plan`",
		"SELECT event, SUM(-3) FROM events WHERE `plan` = 'pro' GROUP BY event",
		"SELECT SUM(1), SUM(2) FROM events WHERE event = 'Purchase'",
		"SELECT SUM(1) FROM events WHERE event = 'Nope'", // no rows: NULL
		"SELECT utm_source, SUM(1) AS n FROM events WHERE event = 'Nope' GROUP BY utm_source",
		"SELECT `$os`, SUM(1) FROM events GROUP BY `$os` ORDER BY `$os`",
	} {
		got, want := diffRun(ctx, on, q), diffRun(ctx, off, q)
		if got.err != "" || want.err != "" {
			t.Fatalf("%s: errors %q (pushdown) %q (plain)", q, got.err, want.err)
		}
		if strings.Join(got.cols, ",") != strings.Join(want.cols, ",") {
			t.Fatalf("%s: columns %v with pushdown, %v without", q, got.cols, want.cols)
		}
		g, w := sortedRows(got.rows), sortedRows(want.rows)
		if strings.Join(g, "\n") != strings.Join(w, "\n") {
			t.Fatalf("%s: pushdown gives\n%s\nplain gives\n%s", q, strings.Join(g, "\n"), strings.Join(w, "\n"))
		}
		plan := strings.Join(queryRows(t, on, "EXPLAIN FORMAT=TREE "+q), "\n")
		if !strings.Contains(plan, "arb engine") || !strings.Contains(plan, "count(*)") {
			t.Fatalf("%s: not counted by the engine:\n%s", q, plan)
		}
	}
}

func sortedRows(rows [][]string) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = strings.Join(r, "|")
	}
	sort.Strings(out)
	return out
}

package server

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// queryRows runs q on conn and returns its rows rendered as sorted strings.
func queryRows(t *testing.T, conn *sql.Conn, q string) []string {
	t.Helper()
	rows, err := conn.QueryContext(context.Background(), q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out []string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		for _, v := range vals {
			if bs, ok := v.([]byte); ok {
				v = string(bs)
			}
			fmt.Fprintf(&b, "%v|", v)
		}
		out = append(out, b.String())
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	sort.Strings(out)
	return out
}

// TestPushdownMatchesPlainOperators runs random WHERE clauses over data in
// segments and in memory, with the engine's filter pushdown on and off:
// the answers must be identical.
func TestPushdownMatchesPlainOperators(t *testing.T) {
	seed := time.Now().UnixNano()
	if v := os.Getenv("ARB_SEED"); v != "" {
		seed, _ = strconv.ParseInt(v, 10, 64)
	}
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewSource(seed))
	srv := startTestServer(t, t.TempDir())
	db := openDB(t, srv, "")
	start := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	mustExec(t, db, workloadInsert(r, 20_000, start, 300))
	if err := srv.Store().Flush(); err != nil {
		t.Fatal(err)
	}
	mustExec(t, db, workloadInsert(r, 3_000, start.Add(30*time.Minute), 300)) // late rows, still buffered
	mustExec(t, db, "INSERT INTO events (time, event, distinct_id, amount, `plan`) VALUES ('2025-03-01 00:10:00', 'Purchase', 'x', 7, NULL), ('2025-03-01 00:10:00.001', 'Purchase ', 'y', NULL, 'pro')")

	on, off := diffConn(t, db, 1), diffConn(t, db, 0)

	atoms := []func() string{
		func() string {
			return fmt.Sprintf("event = '%s'", pick(r, "Purchase", "Signup", "Click", "Nope", "Purchase "))
		},
		func() string { return fmt.Sprintf("event != '%s'", pick(r, "Page View", "Click")) },
		func() string {
			return fmt.Sprintf("event IN ('%s', '%s')", pick(r, "Share", "Search"), pick(r, "Signup", "x"))
		},
		func() string { return fmt.Sprintf("event LIKE '%s%%'", pick(r, "P", "Pa", "S", "Z", "")) },
		func() string { return fmt.Sprintf("`plan` = '%s'", pick(r, "free", "pro", "enterprise")) },
		func() string { return "`plan` IS NULL" },
		func() string { return "amount IS NULL" },
		func() string { return fmt.Sprintf("amount %s %d", pick(r, "<", "<=", ">", ">=", "="), r.Intn(60)) },
		func() string { return fmt.Sprintf("amount > %.3f", r.Float64()*40) },
		func() string {
			ts := start.Add(time.Duration(r.Intn(1200)) * time.Second).Format("2006-01-02 15:04:05.000")
			return fmt.Sprintf("time %s '%s'", pick(r, "<", "<=", ">", ">=", "="), ts)
		},
		func() string {
			ts := start.Add(time.Duration(r.Intn(1200)) * time.Second)
			return fmt.Sprintf("time BETWEEN '%s' AND '%s'", ts.Format("2006-01-02 15:04:05"), ts.Add(time.Minute).Format("2006-01-02 15:04:05"))
		},
		func() string { return fmt.Sprintf("`$os` = '%s'", pick(r, "iOS", "Linux")) },
		func() string { return fmt.Sprintf("distinct_id = '%016x'", r.Intn(300)*2654435761) },
	}
	var cond func(depth int) string
	cond = func(depth int) string {
		if depth == 0 || r.Intn(3) == 0 {
			return atoms[r.Intn(len(atoms))]()
		}
		switch r.Intn(3) {
		case 0:
			return "(" + cond(depth-1) + " AND " + cond(depth-1) + ")"
		case 1:
			return "(" + cond(depth-1) + " OR " + cond(depth-1) + ")"
		}
		return "NOT " + cond(depth-1)
	}
	shapes := []string{
		"SELECT count(*) FROM events WHERE %s",
		"SELECT event, count(*), sum(amount) FROM events WHERE %s GROUP BY event",
		"SELECT insert_id, time, `plan` FROM events WHERE %s ORDER BY time, insert_id LIMIT 50",
	}
	for i := 0; i < 150; i++ {
		q := fmt.Sprintf(shapes[i%len(shapes)], cond(3))
		got, want := queryRows(t, on, q), queryRows(t, off, q)
		if !renderedRowsEqual(got, want) {
			t.Fatalf("pushdown changed the answer of\n  %s\nwith pushdown: %d rows %.300v\nwithout:       %d rows %.300v", q, len(got), got, len(want), want)
		}
	}
}

func pick(r *rand.Rand, xs ...string) string { return xs[r.Intn(len(xs))] }

// renderedRowsEqual compares queryRows outputs cell by cell, floats with
// diffCellsEqual's tolerance: a native SUM adds in another order.
func renderedRowsEqual(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !diffRowsEqual(strings.Split(a[i], "|"), strings.Split(b[i], "|")) {
			return false
		}
	}
	return true
}

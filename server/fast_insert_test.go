package server

import (
	"context"

	"fmt"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"math/rand"
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestFastInsertMatchesPlainPath sends the same random INSERTs through the
// fast path (project a) and through go-mysql-server (project b, with
// arb_pushdown = 0): tables, column types and errors must be identical.
func TestFastInsertMatchesPlainPath(t *testing.T) {
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewSource(seed))
	srv := startTestServer(t, t.TempDir())
	db := openDB(t, srv, "")
	mustExec(t, db, "CREATE DATABASE a")
	mustExec(t, db, "CREATE DATABASE b")
	ctx := context.Background()
	fast, _ := db.Conn(ctx)
	defer fast.Close()
	plain, _ := db.Conn(ctx)
	defer plain.Close()
	if _, err := plain.ExecContext(ctx, "SET arb_pushdown = 0"); err != nil {
		t.Fatal(err)
	}
	// Phase 2 (statements 60..119) keeps one kind per column, as real
	// senders do, so that most of its statements take the fast path.
	kinds := map[string]func() string{
		"q1": func() string {
			return []string{"NULL", fmt.Sprint(r.Intn(100) - 50), fmt.Sprintf("%.2f", r.Float64()*100)}[r.Intn(3)]
		},
		"q2": func() string {
			return []string{"NULL", fmt.Sprintf("'s%d'", r.Intn(5)), "'Ünï ✓'", "''"}[r.Intn(4)]
		},
		"q3": func() string { return []string{"NULL", "true", "false"}[r.Intn(3)] },
	}
	literal := func() string {
		switch r.Intn(9) {
		case 0:
			return "NULL"
		case 1:
			return fmt.Sprint(r.Intn(100) - 50)
		case 2:
			return fmt.Sprintf("%.2f", r.Float64()*100-50)
		case 3:
			return []string{"true", "false"}[r.Intn(2)]
		case 4:
			return "9007199254740993"
		case 5:
			return "1e3"
		case 6:
			return `'{"k": [1, 2]}'`
		}
		return fmt.Sprintf("'s%d'", r.Intn(5))
	}
	times := []string{"'2025-01-02 03:04:05'", "'2025-01-02'", "'2025-01-02 03:04:05.1'", "'2025-01-02 03:04:05.123'",
		"'2025-01-02 03:04:05.1234'", "NULL", "'garbage'", "20250102030405"}
	id := 0
	for stmt := 0; stmt < 120; stmt++ {
		props := []string{"p1", "p2", "p3", "P1"}[:1+r.Intn(3)]
		if stmt >= 60 {
			props = []string{"q1", "q2", "q3"}[:1+r.Intn(3)]
		}
		withJSON := r.Intn(4) == 0
		var b strings.Builder
		fmt.Fprintf(&b, "INSERT INTO events (time, event, distinct_id, insert_id, %s", strings.Join(props, ", "))
		if withJSON {
			b.WriteString(", properties")
		}
		b.WriteString(") VALUES ")
		for row := 0; row < 1+r.Intn(4); row++ {
			if row > 0 {
				b.WriteByte(',')
			}
			tm := times[0]
			if r.Intn(6) == 0 {
				tm = times[r.Intn(len(times))]
			}
			ev := "'E'"
			if r.Intn(30) == 0 {
				ev = "NULL"
			}
			fmt.Fprintf(&b, "(%s, %s, 'u%d', 'i%d'", tm, ev, r.Intn(5), id)
			id++
			for _, p := range props {
				if gen, ok := kinds[p]; ok {
					b.WriteString(", " + gen())
				} else {
					b.WriteString(", " + literal())
				}
			}
			if withJSON {
				fmt.Fprintf(&b, `, '{"j%d": %s}'`, r.Intn(2), []string{"1", "2.5", `"x"`, "true", "null", `{"n": 1}`}[r.Intn(6)])
			}
			b.WriteByte(')')
		}
		q := b.String()
		_, errA := fast.ExecContext(ctx, strings.Replace(q, "INTO events", "INTO a.events", 1))
		_, errB := plain.ExecContext(ctx, strings.Replace(q, "INTO events", "INTO b.events", 1))
		if (errA == nil) != (errB == nil) {
			t.Fatalf("%s\nfast path: %v\nplain path: %v", q, errA, errB)
		}
	}
	// Statements of one type per column take the fast path.
	before := testutil.ToFloat64(srv.metrics.fastInserts)
	mustExec(t, db, "INSERT INTO a.events (time, event, distinct_id, insert_id, q) VALUES ('2025-01-01 00:00:00', 'E', 'u', 'x1', 1), ('2025-01-01 00:00:00', 'E', 'u', 'x2', 2.5)")
	mustExec(t, db, "insert\n\tINTO b.events (time, event, distinct_id, insert_id, q) VALUES ('2025-01-01 00:00:00', 'E', 'u', 'x1', 1), ('2025-01-01 00:00:00', 'E', 'u', 'x2', 2.5)")
	if got := testutil.ToFloat64(srv.metrics.fastInserts) - before; got != 2 {
		t.Fatalf("%v plain INSERTs took the fast path, want 2", got)
	}
	t.Logf("%v of the random statements took the fast path", before)
	for _, q := range []string{
		"SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = '%s' AND table_name = 'events' ORDER BY ordinal_position",
		"SELECT * FROM %s.events ORDER BY insert_id",
	} {
		got := queryRows(t, fast, fmt.Sprintf(q, "a"))
		want := queryRows(t, fast, fmt.Sprintf(q, "b"))
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%s differs:\nfast  %d rows %.2000v\nplain %d rows %.2000v", q, len(got), got, len(want), want)
		}
	}
}

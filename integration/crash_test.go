package integration

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestCrash kills bin/arb with SIGKILL at random moments while several
// clients insert, restarts it on the same data directory, and checks that
// every acknowledged statement is there exactly once and that no
// statement is there in part. Cycles: $ARB_CRASH_CYCLES (default 20;
// `make soak` runs 1,000). A small --flush-rows makes flushes to segments
// happen during the load, and a short --compaction-delay makes compactions
// run beside them, so crashes land in both. The segments per day must stay
// bounded however many cycles run (compaction keeps up).
func TestCrash(t *testing.T) {
	cycles := 20
	if v := os.Getenv("ARB_CRASH_CYCLES"); v != "" {
		cycles, _ = strconv.Atoi(v)
	}
	seed := time.Now().UnixNano()
	t.Logf("seed %d (cycles %d)", seed, cycles)
	r := rand.New(rand.NewSource(seed))
	arb := startArb(t, "--flush-rows", "3000", "--flush-interval", "10s", "--compaction-delay", "200ms")

	acked := map[string]struct{ rows int }{} // statement id → its rows, for every acknowledged statement
	ackedPeople := map[string]bool{}         // people upserted by an acknowledged statement
	ackedMerges := map[string]string{}       // identify statement → the user its anonymous id joined
	var mu sync.Mutex
	const clients = 4
	next := 0
	for cycle := 0; cycle < cycles; cycle++ {
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		for c := 0; c < clients; c++ {
			wg.Add(1)
			go func(client int, r *rand.Rand) {
				defer wg.Done()
				for ctx.Err() == nil {
					mu.Lock()
					id := fmt.Sprintf("s%d", next)
					next++
					mu.Unlock()
					n := 1 + r.Intn(50)
					var b strings.Builder
					b.WriteString("INSERT INTO events (time, event, distinct_id, insert_id, client, stmt, nrows) VALUES ")
					for i := 0; i < n; i++ {
						if i > 0 {
							b.WriteByte(',')
						}
						fmt.Fprintf(&b, "('2025-01-%02d 10:00:00.%03d', 'E%d', 'u%d', '%s-%d', %d, '%s', %d)",
							1+r.Intn(5), r.Intn(1000), r.Intn(5), r.Intn(100), id, i, client, id, n)
					}
					if _, err := arb.DB().ExecContext(ctx, b.String()); err != nil {
						return // the server died under us: this statement is unacknowledged
					}
					mu.Lock()
					acked[id] = struct{ rows int }{rows: n}
					mu.Unlock()
				}
			}(c, rand.New(rand.NewSource(r.Int63())))
		}
		// Identity and profiles (user state runs): an anonymous id
		// identified as a user in one statement, and a person upserted.
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				mu.Lock()
				k := next
				next++
				mu.Unlock()
				id := fmt.Sprintf("i%d", k)
				q := fmt.Sprintf("INSERT INTO events (time, event, distinct_id, insert_id, stmt, nrows, `$anon_id`, `$identified_id`) VALUES "+
					"('2025-01-03 11:00:00', 'Signup', 'a%d', '%s-0', '%s', 2, NULL, NULL), "+
					"('2025-01-03 11:00:01', '$identify', 'user%d', '%s-1', '%s', 2, 'a%d', 'user%d')", k, id, id, k%300, id, id, k, k%300)
				if _, err := arb.DB().ExecContext(ctx, q); err != nil {
					return
				}
				mu.Lock()
				acked[id] = struct{ rows int }{rows: 2}
				ackedMerges[id] = fmt.Sprintf("user%d", k%300)
				mu.Unlock()
				person := fmt.Sprintf("p%d", k)
				if _, err := arb.DB().ExecContext(ctx, "INSERT INTO people (distinct_id, pstmt) VALUES (?, ?)", person, k); err != nil {
					return
				}
				mu.Lock()
				ackedPeople[person] = true
				mu.Unlock()
			}
		}()
		time.Sleep(time.Duration(50+r.Intn(400)) * time.Millisecond)
		arb.Kill()
		cancel()
		wg.Wait()
		arb.Restart()
		verifyCrash(t, arb.DB(), acked, cycle)
		verifyCrashUserState(t, arb.DB(), ackedPeople, ackedMerges, cycle)
		if (cycle+1)%100 == 0 {
			t.Logf("%d cycles: %d statements acknowledged so far, at most %d segments in a day",
				cycle+1, len(acked), maxSegmentsPerDay(t, arb.DB()))
		}
	}
	// Let the compactor catch up with the last cycle's flushes (the
	// delay, then merges of a few small days), then check the bound.
	deadline := time.Now().Add(30 * time.Second)
	for maxSegmentsPerDay(t, arb.DB()) > 2 && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
	}
	if n := maxSegmentsPerDay(t, arb.DB()); n > 2 {
		t.Fatalf("a day still has %d segments 30 s after the last cycle", n)
	}
	var n int
	arb.DB().QueryRow("SELECT count(*) FROM events").Scan(&n)
	t.Logf("%d statements acknowledged, %d rows present after %d crashes", len(acked), n, cycles)
}

// maxSegmentsPerDay is the most live segments any day of any project has.
func maxSegmentsPerDay(t *testing.T, db *sql.DB) int {
	t.Helper()
	var n sql.NullInt64
	if err := db.QueryRow("SELECT max(c) FROM (SELECT count(*) AS c FROM arb.segments GROUP BY project, day) d").Scan(&n); err != nil {
		t.Fatalf("segments per day: %v", err)
	}
	return int(n.Int64)
}

// verifyCrash checks every statement present is whole and appears once,
// and every acknowledged statement is present.
func verifyCrash(t *testing.T, db *sql.DB, acked map[string]struct{ rows int }, cycle int) {
	t.Helper()
	rows, err := db.Query("SELECT stmt, count(*), count(DISTINCT insert_id), min(nrows), max(nrows) FROM events GROUP BY stmt")
	if err != nil {
		t.Fatalf("cycle %d: %v", cycle, err)
	}
	defer rows.Close()
	present := map[string]bool{}
	for rows.Next() {
		var id string
		var n, distinct, lo, hi int
		if err := rows.Scan(&id, &n, &distinct, &lo, &hi); err != nil {
			t.Fatal(err)
		}
		present[id] = true
		if n != distinct {
			t.Fatalf("cycle %d: statement %s has %d rows but %d distinct insert ids: rows duplicated", cycle, id, n, distinct)
		}
		if n != lo || lo != hi {
			t.Fatalf("cycle %d: statement %s is there in part: %d of %d rows", cycle, id, n, lo)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	for id, s := range acked {
		if !present[id] {
			t.Fatalf("cycle %d: acknowledged statement %s (%d rows) is missing after the crash", cycle, id, s.rows)
		}
	}
}

// verifyCrashUserState checks that every acknowledged person is there and
// every acknowledged identify holds: all events of the statement resolve
// to the identified user.
func verifyCrashUserState(t *testing.T, db *sql.DB, people map[string]bool, merges map[string]string, cycle int) {
	t.Helper()
	present := map[string]bool{}
	rows, err := db.Query("SELECT distinct_id FROM people")
	if err != nil {
		t.Fatalf("cycle %d: %v", cycle, err)
	}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		present[id] = true
	}
	rows.Close()
	for id := range people {
		if !present[id] {
			t.Fatalf("cycle %d: acknowledged person %s is missing after the crash", cycle, id)
		}
	}
	rows, err = db.Query("SELECT stmt, min(distinct_id), max(distinct_id) FROM events WHERE event IN ('Signup', '$identify') GROUP BY stmt")
	if err != nil {
		t.Fatalf("cycle %d: %v", cycle, err)
	}
	defer rows.Close()
	got := map[string][2]string{}
	for rows.Next() {
		var stmt, lo, hi string
		if err := rows.Scan(&stmt, &lo, &hi); err != nil {
			t.Fatal(err)
		}
		got[stmt] = [2]string{lo, hi}
	}
	for stmt, user := range merges {
		if g := got[stmt]; g[0] != user || g[1] != user {
			t.Fatalf("cycle %d: identify statement %s resolves to %v after the crash, want %s for both events", cycle, stmt, g, user)
		}
	}
}

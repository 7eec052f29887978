package integration

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
)

// TestQueryLimits runs bin/arb with --max-concurrent-queries 1,
// --query-queue-timeout 1s, --query-memory-bytes 4 MiB and
// --max-execution-time 400ms: a join go-mysql-server would run for
// minutes fails with 3024 and the process goes back to idle; KILL QUERY
// stops it under a session without a time limit; a second table query
// waits for the only slot, then gets 1205, while SELECT 1 does not wait;
// a GROUP BY of 20,000 groups gets 1114 and the server answers on.
func TestQueryLimits(t *testing.T) {
	arb := startArb(t, "--max-concurrent-queries", "1", "--query-queue-timeout", "1s",
		"--query-memory-bytes", strconv.Itoa(4<<20), "--max-execution-time", "400ms")
	const rows = 20_000
	loadStart := time.Now()
	for first := 0; first < rows; first += 5_000 {
		var b strings.Builder
		b.WriteString("INSERT INTO events (time, event, distinct_id, insert_id, k) VALUES ")
		for i := first; i < first+5_000; i++ {
			if i > first {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, "('2025-01-%02d 10:00:00', 'E%d', 'u%d', 'q-%d', %d)", 1+i%5, i%3, i%997, i, i)
		}
		exec1(t, arb.DB(), b.String())
	}
	t.Logf("inserted %d events in %s", rows, time.Since(loadStart).Round(time.Millisecond))
	db := arb.DB()
	ctx := context.Background()
	const join = "SELECT count(*) FROM events a JOIN events b ON a.k < b.k" // 200M pairs in go-mysql-server's join
	errNum := func(err error) uint16 {
		var me *mysql.MySQLError
		if errors.As(err, &me) {
			return me.Number
		}
		return 0
	}
	pid := arb.cmd.Process.Pid
	assertIdle := func(when string) {
		t.Helper()
		c0 := procCPUTicks(t, pid)
		time.Sleep(time.Second)
		used := procCPUTicks(t, pid) - c0
		t.Logf("%s: arb used %d ticks of CPU over the next second (100 = one core)", when, used)
		if used > 33 {
			t.Errorf("%s: arb used %d ticks over a second; want it idle (<= 33)", when, used)
		}
	}

	if v := queryString(t, db, "SELECT @@global.max_execution_time"); v != "400" {
		t.Fatalf("@@global.max_execution_time = %s, want 400 from --max-execution-time", v)
	}
	begun := time.Now()
	_, err := db.ExecContext(ctx, join)
	t.Logf("join under --max-execution-time 400ms: %s: %v", time.Since(begun).Round(time.Millisecond), err)
	if errNum(err) != 3024 {
		t.Fatalf("join: %v, want error 3024", err)
	}
	if time.Since(begun) > 10*time.Second {
		t.Errorf("a 400 ms limit took %s", time.Since(begun))
	}
	assertIdle("after max_execution_time")

	// A session without a limit holds the only slot.
	holder, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var holderID int64
	if err := holder.QueryRowContext(ctx, "SELECT CONNECTION_ID()").Scan(&holderID); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { // on failure too: the join would run for minutes
		db.Exec(fmt.Sprintf("KILL %d", holderID))
		holder.Close()
	})
	if _, err := holder.ExecContext(ctx, "SET SESSION max_execution_time = 0"); err != nil {
		t.Fatal(err)
	}
	held := make(chan error, 1)
	go func() { _, err := holder.ExecContext(ctx, join); held <- err }()
	time.Sleep(500 * time.Millisecond)

	begun = time.Now()
	if _, err := db.ExecContext(ctx, "SELECT 1"); err != nil || time.Since(begun) > 500*time.Millisecond {
		t.Errorf("SELECT 1 while the slot is held: %s, %v; want at once", time.Since(begun), err)
	}
	// Without a time limit of its own, so that the queue's bounds it.
	waiter, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer waiter.Close()
	if _, err := waiter.ExecContext(ctx, "SET SESSION max_execution_time = 0"); err != nil {
		t.Fatal(err)
	}
	begun = time.Now()
	_, err = waiter.ExecContext(ctx, "SELECT count(*) FROM events WHERE k = 7")
	t.Logf("second table query while the slot is held: %s: %v", time.Since(begun).Round(time.Millisecond), err)
	if errNum(err) != 1205 {
		t.Fatalf("second query: %v, want 1205 after the queue timeout", err)
	}
	select {
	case err := <-held:
		t.Fatalf("the join holding the slot ended by itself: %v", err)
	default:
	}
	killed := time.Now()
	exec1(t, db, fmt.Sprintf("KILL QUERY %d", holderID))
	select {
	case err := <-held:
		t.Logf("join stopped %s after KILL QUERY: %v", time.Since(killed).Round(time.Millisecond), err)
		if errNum(err) != 1317 {
			t.Fatalf("killed join: %v, want 1317", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("join still running 5 s after KILL QUERY")
	}
	assertIdle("after KILL QUERY")

	// The slot is free again.
	if v := queryString(t, db, "SELECT count(*) FROM events WHERE k = 7"); v != "1" {
		t.Fatalf("count after the slot freed: %s", v)
	}

	_, err = db.ExecContext(ctx, "SELECT insert_id, k, count(*), count(DISTINCT distinct_id) FROM events GROUP BY insert_id, k")
	t.Logf("GROUP BY of %d groups under 4 MiB: %v", rows, err)
	if errNum(err) != 1114 || !strings.Contains(err.Error(), "--query-memory-bytes") {
		t.Fatalf("large GROUP BY: %v, want 1114 naming --query-memory-bytes", err)
	}
	if v := queryString(t, db, "SELECT count(DISTINCT event) FROM events"); v != "3" {
		t.Fatalf("after the refusal: %s", v)
	}
}

// procCPUTicks is process pid's user+system CPU time in clock ticks.
func procCPUTicks(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		t.Fatalf("/proc/%d/stat: %q", pid, s)
	}
	return utime + stime
}

package server

import (
	"fmt"
	"math/rand"
	"strings"
	"sync"
	"testing"
	"time"
)

// workloadInsert builds one multi-row INSERT of n Mixpanel-shaped events
// (a small cousin of the make-bench generator): time-ordered from start,
// ~30 event names, users, and super-properties.
func workloadInsert(r *rand.Rand, n int, start time.Time, users int) string {
	names := []string{"Page View", "Page View", "Page View", "Click", "Click", "Search", "Signup", "Purchase", "Add To Cart", "Share"}
	oses := []string{"Windows", "Mac OS X", "Linux", "iOS", "Android", "Chrome OS"}
	browsers := []string{"Chrome", "Firefox", "Safari", "Edge", "Opera", "Mobile Safari"}
	plans := []string{"free", "free", "free", "free", "pro", "enterprise"}
	var b strings.Builder
	b.WriteString("INSERT INTO events (time, event, distinct_id, insert_id, `$os`, `$browser`, `$city`, `plan`, utm_source, amount) VALUES ")
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		user := r.Intn(users)
		name := names[r.Intn(len(names))]
		amount := "NULL"
		if name == "Purchase" {
			amount = fmt.Sprintf("%.2f", r.ExpFloat64()*30)
		}
		t := start.Add(time.Duration(i) * 50 * time.Millisecond)
		fmt.Fprintf(&b, "('%s','%s','%016x','%x','%s','%s','city%d','%s','src%d',%s)",
			t.Format("2006-01-02 15:04:05.000"), name, user*2654435761, r.Int63(),
			oses[user%len(oses)], browsers[user%len(browsers)], user%3000, plans[user%len(plans)], user%12, amount)
	}
	return b.String()
}

// BenchmarkInsertMultiRow measures durable multi-row INSERT throughput
// over the MySQL protocol (4 connections, 10,000 rows a statement) and,
// after a flush, the bytes on disk per 1M events.
func BenchmarkInsertMultiRow(b *testing.B) {
	const rowsPerStmt, conns = 10_000, 4
	srv := startTestServer(b, b.TempDir())
	db := openDB(b, srv, "")
	db.SetMaxOpenConns(conns)
	r := rand.New(rand.NewSource(1))
	stmts := make([]string, 16)
	for i := range stmts {
		stmts[i] = workloadInsert(r, rowsPerStmt, time.Date(2025, 1, 1+i%20, 0, 0, 0, 0, time.UTC), 50_000)
	}
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	next := make(chan int)
	for c := 0; c < conns; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if _, err := db.Exec(stmts[i%len(stmts)]); err != nil {
					b.Error(err)
				}
			}
		}()
	}
	for i := 0; i < b.N; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	rows := float64(b.N * rowsPerStmt)
	b.ReportMetric(rows/elapsed.Seconds(), "rows/s")
	if err := srv.Store().Flush(); err != nil {
		b.Fatal(err)
	}
	st := srv.Store().Stats()
	b.ReportMetric(float64(st.SegmentBytes)/rows*1e6, "disk-bytes/1M-events")
}

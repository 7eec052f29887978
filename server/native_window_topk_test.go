package server

// TestNativeWindowTopRowsOverSegments checks the window's row-number
// limit read on the scan's part workers (native/window_topk_parallel.go)
// against go-mysql-server's operators, on many flushed segments (a load
// not yet compacted) read by several workers:
//   - a user's events spread over every segment, earlier ones in later
//     segments, so a worker's best row is displaced by another worker's;
//   - ties in the ORDER BY value across segments (the same minute, the
//     same step): the row of the earlier segment wins, whichever worker
//     read it;
//   - NULL ORDER BY values (step is missing on some events), which sort
//     first, and NULL utm_sources, which the workers read as dictionary
//     codes alone;
//   - users without purchases in the corpus' first-touch shape (LEFT
//     JOIN of per-user revenue);
//   - rows in the memory buffer after the segments.

import (
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestNativeWindowTopRowsOverSegments(t *testing.T) {
	// Four workers even on a smaller machine: the merge of their rows is
	// what is tested.
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4))
	srv := startTestServer(t, t.TempDir())
	db := openDB(t, srv, "")
	base := time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC)
	seq := 0
	ev := func(minute int, name, id, props string) string {
		seq++
		p := fmt.Sprintf(`"distinct_id":%q,"time":%d,"$insert_id":"k%d"`, id, base.Add(time.Duration(minute)*time.Minute).UnixMilli(), seq)
		if props != "" {
			p += "," + props
		}
		return fmt.Sprintf(`{"event":%q,"properties":{%s}}`, name, p)
	}
	sources := []string{"google", "newsletter", "twitter", "direct"}
	const segments = 9
	for s := range segments {
		var recs []string
		for u := range 40 {
			id := fmt.Sprintf("u%02d", u)
			// Later segments hold earlier minutes for odd users; every
			// user has a tie at minute 100 in each segment.
			minute := 1000 - 10*s + u%7
			if u%2 == 0 {
				minute = 500 + 10*s + u%5
			}
			step := ""
			if (u+s)%4 != 0 {
				step = fmt.Sprintf(`,"step":%d`, (u*s)%3)
			}
			src := sources[(u+s)%len(sources)]
			pageView := fmt.Sprintf(`"utm_source":%q%s`, src, step)
			if (u+s)%5 == 0 {
				pageView = strings.TrimPrefix(step, ",") // no utm_source: NULL
			}
			recs = append(recs,
				ev(minute, "Page View", id, pageView),
				ev(100, "Signup", id, fmt.Sprintf(`"utm_source":"tie-%d"%s`, s, step)))
			if u%3 == 0 {
				recs = append(recs, ev(minute+1, "Purchase", id, fmt.Sprintf(`"amount":%d,"utm_source":%q`, u+s, src)))
			}
		}
		postImportJSON(t, srv, recs)
		if err := srv.Store().Flush(); err != nil {
			t.Fatal(err)
		}
	}
	postImportJSON(t, srv, []string{
		ev(50, "Page View", "u01", `"utm_source":"buffer"`), // before every flushed event of u01
		ev(100, "Signup", "u02", `"utm_source":"buffer-tie"`),
		ev(7, "Signup", "newcomer", `"utm_source":"buffer"`),
	})

	on, off := diffConn(t, db, 1), diffConn(t, db, 0)
	const ranked = "(SELECT distinct_id, event, utm_source, time, step, ROW_NUMBER() OVER (PARTITION BY distinct_id ORDER BY %s) AS rn FROM events)"
	for _, q := range []string{
		// The corpus query (bench/queries/an_first_touch_row_number.sql).
		"SELECT f.utm_source, COUNT(*) AS users, COUNT(r.distinct_id) AS paying_users, COALESCE(SUM(r.revenue), 0) AS total_revenue " +
			"FROM (SELECT distinct_id, utm_source FROM " + fmt.Sprintf(ranked, "time") + " ranked WHERE rn = 1) f " +
			"LEFT JOIN (SELECT distinct_id, SUM(amount) AS revenue FROM events WHERE event = 'Purchase' GROUP BY distinct_id) r " +
			"ON r.distinct_id = f.distinct_id GROUP BY f.utm_source ORDER BY f.utm_source",
		// Rows in window output order (input order), no ORDER BY.
		"SELECT distinct_id, utm_source, event, rn FROM " + fmt.Sprintf(ranked, "time") + " t WHERE rn = 1",
		"SELECT distinct_id, utm_source, event, rn FROM " + fmt.Sprintf(ranked, "time") + " t WHERE rn <= 3",
		"SELECT distinct_id, utm_source, event, rn FROM " + fmt.Sprintf(ranked, "time DESC") + " t WHERE rn < 3",
		"SELECT distinct_id, utm_source, step, rn FROM " + fmt.Sprintf(ranked, "step") + " t WHERE rn <= 2",
		"SELECT distinct_id, utm_source, step, rn FROM " + fmt.Sprintf(ranked, "step DESC") + " t WHERE rn = 1",
	} {
		plan := strings.Join(queryRows(t, on, "EXPLAIN FORMAT=TREE "+q), "\n")
		if !strings.Contains(plan, "(rows numbered up to") || !strings.Contains(plan, "arb Scan events") {
			t.Errorf("%s: want the limited native Window over the events scan, got\n%s", q, plan)
		}
		want, got := queryRows(t, off, q), queryRows(t, on, q)
		if len(want) == 0 {
			t.Errorf("%s: no rows: the case tests nothing", q)
		}
		if !renderedRowsEqual(want, got) {
			t.Errorf("%s\nnative plan off (%d rows): %.900v\non (%d rows): %.900v", q, len(want), want, len(got), got)
		}
	}
}

// TestNativeWindowTopRowsMemoryLimit: the workers' per-user slots and
// kept rows are charged to the query's budget; past
// --query-memory-bytes the first-touch query fails with 1114 naming the
// limit and what held the memory, and the server answers the next one.
func TestNativeWindowTopRowsMemoryLimit(t *testing.T) {
	const limit = 1 << 20
	srv := startLimitedServer(t, QueryLimits{MemoryBytes: limit})
	loadLimitEvents(t, srv, 200_000) // 100,000 users
	db := openDB(t, srv, "")
	q := "SELECT COUNT(*) FROM (SELECT distinct_id, event FROM (SELECT distinct_id, event, " +
		"ROW_NUMBER() OVER (PARTITION BY distinct_id ORDER BY time) AS rn FROM events) t WHERE rn = 1) f"
	var n int64
	err := db.QueryRow(q).Scan(&n)
	if num := mysqlErrNum(err); num != erQueryMemory {
		t.Fatalf("error %v (number %d), want %d", err, num, erQueryMemory)
	}
	for _, want := range []string{strconv.Itoa(limit), "--query-memory-bytes", "window top rows"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message %q does not name %q", err, want)
		}
	}
	if err := db.QueryRow("SELECT COUNT(DISTINCT distinct_id) FROM events").Scan(&n); err != nil || n != 100_000 {
		t.Fatalf("a query after the refusal: %d, %v", n, err)
	}
}

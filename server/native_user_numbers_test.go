package server

// TestNativeUserNumbersOverEvents checks the native plan's user-number
// keys (native.Column.U: distinct_id handed over as canonical user
// numbers) against go-mysql-server's own operators, on data built to
// catch a number compared where a string should be:
//   - merged identities ($identify, $create_alias, $merge): a person's
//     rows carry one canonical id, so they count once and join as one;
//   - ids that differ only in case ('Alice', 'alice', 'ALICE'): three
//     users under the column's binary collation (utf8mb4_bin), one when
//     compared through LOWER (numbers must not survive an expression);
//   - NULL distinct_ids from the unmatched side of a LEFT JOIN;
//   - users meeting strings that are not events' distinct_ids: derived
//     tables of literals, CONCAT copies, UNION ALL of both (the group
//     table, COUNT DISTINCT, hash join and EXISTS set fall back to
//     strings there);
//   - rows in flushed segments and in the memory buffer at once.

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestNativeUserNumbersOverEvents(t *testing.T) {
	srv := startTestServer(t, t.TempDir())
	db := openDB(t, srv, "")
	base := time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC)
	ev := func(minute int, name, id string, props string) string {
		p := fmt.Sprintf(`"distinct_id":%q,"time":%d,"$insert_id":"i%d"`, id, base.Add(time.Duration(minute)*time.Minute).UnixMilli(), minute)
		if props != "" {
			p += "," + props
		}
		return fmt.Sprintf(`{"event":%q,"properties":{%s}}`, name, p)
	}
	// Flushed: the case-differing users, three anonymous users who later
	// become known, and bob.
	flushed := []string{
		ev(0, "Signup", "Alice", ""), ev(1, "Purchase", "Alice", `"amount":5`),
		ev(2, "Signup", "alice", ""), ev(3, "Page View", "alice", ""),
		ev(4, "Signup", "ALICE", ""), ev(5, "Purchase", "ALICE", `"amount":7`), ev(6, "Purchase", "ALICE", `"amount":1`),
		ev(7, "Signup", "anon-1", ""), ev(8, "Page View", "anon-1", ""),
		ev(9, "Signup", "anon-2", ""),
		ev(10, "Signup", "anon-3", ""), ev(11, "Search", "anon-3", ""),
		ev(12, "Signup", "bob", ""), ev(13, "Page View", "bob", ""),
	}
	postImportJSON(t, srv, flushed)
	if err := srv.Store().Flush(); err != nil {
		t.Fatal(err)
	}
	// Buffered: the identity links and the known users' later events.
	buffered := []string{
		ev(20, "$identify", "u-1", `"$identified_id":"u-1","$anon_id":"anon-1"`),
		ev(21, "Purchase", "u-1", `"amount":3`),
		ev(22, "$create_alias", "anon-2", `"alias":"u-2"`),
		ev(23, "Purchase", "u-2", `"amount":4`),
		ev(24, "$merge", "u-3", `"$distinct_ids":["anon-3","u-3"]`),
		ev(25, "Purchase", "u-3", `"amount":9`),
		ev(26, "Page View", "alice", ""), ev(27, "Purchase", "Alice", `"amount":2`),
		ev(28, "Page View", "carol", ""),
	}
	postImportJSON(t, srv, buffered)

	on, off := diffConn(t, db, 1), diffConn(t, db, 0)

	// The merges took: Alice, alice, ALICE, the three known users, bob
	// and carol are eight people.
	if got := queryRows(t, on, "SELECT COUNT(DISTINCT distinct_id) FROM events"); len(got) != 1 || got[0] != "8|" {
		t.Fatalf("people: got %v, want 8 (the identity links did not merge)", got)
	}

	const buyers = "(SELECT distinct_id FROM events WHERE event = 'Purchase')"
	restricted := map[string]int{} // plans by the scan restriction they show
	for _, tc := range []struct {
		q        string
		operator string // the native operator the plan must show ("": any plan)
	}{
		{"SELECT COUNT(DISTINCT distinct_id), COUNT(DISTINCT CASE WHEN event = 'Purchase' THEN distinct_id END) FROM events", "HashAggregate"},
		{"SELECT event, COUNT(DISTINCT distinct_id) FROM events GROUP BY event ORDER BY event", ""}, // the engine's aggregate
		{"SELECT distinct_id, COUNT(*), SUM(amount) FROM events GROUP BY distinct_id ORDER BY distinct_id", ""},
		{"SELECT distinct_id, COUNT(*), SUM(CASE WHEN event = 'Purchase' THEN amount ELSE 0 END) FROM events GROUP BY distinct_id ORDER BY distinct_id", "HashAggregate"},
		{"SELECT DATE(time) AS day, distinct_id, SUM(CASE WHEN event = 'Purchase' THEN 1 ELSE 0 END) AS buys FROM events " +
			"GROUP BY DATE(time), distinct_id ORDER BY DATE(time), distinct_id", "HashAggregate"},
		{"SELECT DISTINCT distinct_id FROM events ORDER BY distinct_id", ""},
		// Self joins: both sides numbered.
		{"SELECT a.distinct_id, COUNT(*) FROM events a JOIN events b ON a.distinct_id = b.distinct_id AND b.time > a.time " +
			"WHERE a.event = 'Signup' GROUP BY a.distinct_id ORDER BY a.distinct_id", "HashJoin"},
		{"SELECT COUNT(*) FROM events a JOIN " + buyers + " b ON a.distinct_id = b.distinct_id", "HashJoin"},
		{"SELECT COUNT(*), COUNT(DISTINCT a.distinct_id) FROM events a JOIN (SELECT distinct_id, MIN(time) AS t FROM events WHERE event = 'Purchase' " +
			"GROUP BY distinct_id, event) b ON a.distinct_id = b.distinct_id AND a.time < b.t", "HashJoin"},
		// A left input read whole restricts the right scan to its users
		// (canonical numbers, merged identities included) and filters
		// the right rows by its keys: plain-SQL funnels, churn.
		{"SELECT COUNT(DISTINCT s.distinct_id), COUNT(DISTINCT p.distinct_id), COUNT(*) FROM events s LEFT JOIN events p " +
			"ON p.distinct_id = s.distinct_id AND p.event = 'Purchase' AND p.time > s.time AND p.time <= s.time + INTERVAL 1 DAY " +
			"WHERE s.event = 'Signup'", "HashJoin"},
		{"SELECT s.distinct_id, p.event, p.time FROM events s JOIN events p ON p.distinct_id = s.distinct_id AND p.time > s.time " +
			"WHERE s.event = 'Signup' AND s.distinct_id <> 'bob' ORDER BY s.distinct_id, p.time", "HashJoin"},
		{"SELECT CAST(s.time AS DATE) AS d, COUNT(*) FROM events s WHERE s.event = 'Signup' AND NOT EXISTS " +
			"(SELECT 1 FROM events e WHERE e.distinct_id = s.distinct_id AND e.time >= s.time + INTERVAL 5 MINUTE) GROUP BY d ORDER BY d", "HashJoin"},
		{"SELECT COUNT(*) FROM events s WHERE s.event = 'Page View' AND EXISTS " +
			"(SELECT 1 FROM events e WHERE e.distinct_id = s.distinct_id AND e.event = 'Purchase' AND e.time > s.time)", ""},
		{"SELECT COUNT(*), COUNT(DISTINCT a.distinct_id) FROM events a WHERE a.event <> 'Signup' AND a.distinct_id IN " +
			"(SELECT distinct_id FROM events WHERE event <> 'Search' GROUP BY distinct_id, CAST(time AS DATE) " +
			"HAVING COUNT(CASE WHEN event = 'Purchase' THEN 1 END) > 0)", "HashJoin"},
		// Grouped derived tables: their distinct_id keeps its numbers
		// (the native aggregate) or is strings (the engine's).
		{"SELECT f.distinct_id, f.t0, COUNT(e.time) FROM (SELECT distinct_id, MIN(time) AS t0, COUNT(*) AS n FROM events WHERE event <> 'Search' " +
			"GROUP BY distinct_id, event) f LEFT JOIN events e ON e.distinct_id = f.distinct_id AND e.time > f.t0 " +
			"GROUP BY f.distinct_id, f.t0 ORDER BY f.distinct_id, f.t0", "HashJoin"},
		{"WITH a AS (SELECT distinct_id, MIN(time) AS t0 FROM events WHERE event = 'Signup' GROUP BY distinct_id) " +
			"SELECT COUNT(DISTINCT a.distinct_id), COUNT(DISTINCT b.distinct_id), COUNT(*) FROM a LEFT JOIN events b " +
			"ON b.distinct_id = a.distinct_id AND b.event <> 'Signup' AND b.time BETWEEN a.t0 AND a.t0 + INTERVAL 1 DAY", "HashJoin"},
		{"SELECT CAST(e.time AS DATE) AS day, COUNT(DISTINCT CASE WHEN CAST(f.first_seen AS DATE) = CAST(e.time AS DATE) THEN e.distinct_id END), " +
			"COUNT(DISTINCT CASE WHEN f.first_seen < e.time THEN e.distinct_id END) FROM events e " +
			"JOIN (SELECT distinct_id, MIN(time) AS first_seen FROM events GROUP BY distinct_id) f ON f.distinct_id = e.distinct_id " +
			"GROUP BY CAST(e.time AS DATE) ORDER BY day", "HashJoin"},
		// The engine's per-user aggregates hand their distinct_id with
		// user numbers (planner.AggregateNode.OpenBatches): joins with
		// the scan key users by number, and the scan reads only the
		// aggregate's users; the numbers meet strings and other
		// aggregates' numbers correctly.
		{"SELECT c.d, COUNT(DISTINCT e.distinct_id), COUNT(*) FROM (SELECT distinct_id, DATE(MIN(time)) AS d FROM events WHERE event = 'Signup' " +
			"GROUP BY distinct_id) c JOIN events e ON e.distinct_id = c.distinct_id GROUP BY c.d ORDER BY c.d", "HashJoin"},
		{"SELECT COUNT(*), SUM(a.n), COUNT(DISTINCT a.distinct_id) FROM (SELECT distinct_id, COUNT(*) AS n FROM events GROUP BY distinct_id) a " +
			"JOIN (SELECT distinct_id, SUM(amount) AS s FROM events WHERE event = 'Purchase' GROUP BY distinct_id) b ON a.distinct_id = b.distinct_id", ""},
		{"WITH a AS (SELECT distinct_id, MIN(time) AS t0 FROM events GROUP BY distinct_id) " +
			"SELECT x.distinct_id, COUNT(*) FROM a x JOIN a y ON x.distinct_id = y.distinct_id AND x.t0 <= y.t0 GROUP BY x.distinct_id ORDER BY x.distinct_id", ""},
		{"SELECT LEAST(n, 2) AS k, COUNT(*), COUNT(DISTINCT distinct_id) FROM (SELECT distinct_id, COUNT(*) AS n FROM events GROUP BY distinct_id) p " +
			"GROUP BY LEAST(n, 2) ORDER BY k", ""},
		// A distinct_id nothing above reads is not computed
		// (engine.Aggregation.Unread); read under another name, it is.
		{"SELECT LEAST(n, 2) AS k, COUNT(*) FROM (SELECT distinct_id, COUNT(*) AS n FROM events GROUP BY distinct_id) p GROUP BY LEAST(n, 2) ORDER BY k", ""},
		{"SELECT q.n, COUNT(*) FROM (SELECT p.distinct_id AS u, p.n FROM (SELECT distinct_id, COUNT(*) AS n FROM events GROUP BY distinct_id) p) q " +
			"WHERE q.u <> 'bob' GROUP BY q.n ORDER BY q.n", ""},
		{"SELECT l.d, COUNT(r.n) FROM (SELECT 'alice' AS d UNION ALL SELECT 'u-1' UNION ALL SELECT 'anon-1' UNION ALL SELECT 'nobody') l " +
			"LEFT JOIN (SELECT distinct_id, COUNT(*) AS n FROM events GROUP BY distinct_id) r ON r.distinct_id = l.d GROUP BY l.d ORDER BY l.d", ""},
		{"SELECT COUNT(DISTINCT u), COUNT(*) FROM (SELECT distinct_id AS u FROM (SELECT distinct_id, COUNT(*) AS n FROM events GROUP BY distinct_id) g " +
			"UNION ALL SELECT distinct_id FROM events WHERE event = 'Signup' UNION ALL SELECT 'zed' UNION ALL SELECT 'ALICE') x", ""},
		{"SELECT f.utm, COUNT(*), COUNT(r.distinct_id), SUM(r.revenue) FROM (SELECT distinct_id, COALESCE(event, '') AS utm FROM (SELECT distinct_id, event, " +
			"ROW_NUMBER() OVER (PARTITION BY distinct_id ORDER BY time) AS rn FROM events) ranked WHERE rn = 1) f LEFT JOIN (SELECT distinct_id, " +
			"SUM(amount) AS revenue FROM events WHERE event = 'Purchase' GROUP BY distinct_id) r ON r.distinct_id = f.distinct_id GROUP BY f.utm ORDER BY f.utm", "HashJoin"},
		{"SELECT COUNT(*) FROM events e WHERE e.distinct_id IN (SELECT distinct_id FROM events WHERE event = 'Purchase' GROUP BY distinct_id HAVING COUNT(*) > 1)", ""},
		// Case-insensitive comparison: 'Alice' = 'alice' = 'ALICE' as text.
		{"SELECT COUNT(DISTINCT LOWER(distinct_id)) FROM events", ""},
		{"SELECT LOWER(distinct_id) AS u, COUNT(*) FROM events GROUP BY LOWER(distinct_id) ORDER BY u", ""},
		{"SELECT a.distinct_id, COUNT(*) FROM events a JOIN events b ON LOWER(a.distinct_id) = LOWER(b.distinct_id) " +
			"WHERE a.event = 'Signup' GROUP BY a.distinct_id ORDER BY a.distinct_id", ""},
		// NULL distinct_ids from a LEFT JOIN's unmatched rows.
		{"SELECT COUNT(DISTINCT r.distinct_id), COUNT(r.distinct_id), COUNT(*) FROM events l LEFT JOIN " + buyers + " r ON r.distinct_id = l.distinct_id", "HashJoin"},
		{"SELECT r.distinct_id, COUNT(*) FROM events l LEFT JOIN " + buyers + " r ON r.distinct_id = l.distinct_id GROUP BY r.distinct_id ORDER BY r.distinct_id", "HashJoin"},
		{"SELECT l.distinct_id, COUNT(DISTINCT r.distinct_id) FROM events l LEFT JOIN " + buyers + " r ON r.distinct_id = l.distinct_id AND r.distinct_id <> 'Alice' GROUP BY l.distinct_id ORDER BY l.distinct_id", "HashJoin"},
		// Churn: NOT EXISTS over numbered users.
		{"SELECT COUNT(DISTINCT s.distinct_id) FROM events s WHERE s.event = 'Signup' AND NOT EXISTS " +
			"(SELECT 1 FROM events p WHERE p.distinct_id = s.distinct_id AND p.event = 'Purchase')", ""},
		{"SELECT s.distinct_id FROM events s WHERE s.event = 'Signup' AND s.distinct_id IN " + buyers + " ORDER BY s.distinct_id", ""},
		// Users meeting strings of no numbering.
		{"SELECT u, COUNT(*) FROM (SELECT distinct_id AS u FROM events UNION ALL SELECT 'alice' UNION ALL SELECT 'zed') x GROUP BY u ORDER BY u", "HashAggregate"},
		{"SELECT COUNT(DISTINCT u) FROM (SELECT distinct_id AS u FROM events UNION ALL SELECT 'alice' UNION ALL SELECT 'zed') x", "HashAggregate"},
		{"SELECT COUNT(DISTINCT u) FROM (SELECT 'zed' AS u UNION ALL SELECT 'ALICE' UNION ALL SELECT distinct_id FROM events) x", "HashAggregate"},
		{"SELECT l.d, COUNT(*) FROM (SELECT 'alice' AS d UNION ALL SELECT 'u-1' UNION ALL SELECT 'anon-1' UNION ALL SELECT 'nobody') l " +
			"JOIN events r ON r.distinct_id = l.d GROUP BY l.d ORDER BY l.d", ""},
		{"SELECT l.distinct_id, COUNT(*) FROM events l JOIN (SELECT CONCAT(distinct_id, '') AS d FROM events WHERE event = 'Signup') r " +
			"ON l.distinct_id = r.d GROUP BY l.distinct_id ORDER BY l.distinct_id", "HashJoin"},
		{"SELECT r.distinct_id, COUNT(*) FROM (SELECT CONCAT(distinct_id, '') AS d FROM events WHERE event = 'Purchase') l JOIN events r " +
			"ON r.distinct_id = l.d GROUP BY r.distinct_id ORDER BY r.distinct_id", "HashJoin"},
		{"SELECT distinct_id FROM events WHERE distinct_id IN (SELECT 'alice' UNION ALL SELECT 'u-2') ORDER BY distinct_id", ""},
		{"SELECT s.distinct_id FROM events s WHERE s.event = 'Signup' AND EXISTS (SELECT 1 FROM (SELECT CONCAT(distinct_id, '') AS d FROM events " +
			"WHERE event = 'Purchase') p WHERE p.d = s.distinct_id) ORDER BY s.distinct_id", ""},
	} {
		want, got := queryRows(t, off, tc.q), queryRows(t, on, tc.q)
		if !renderedRowsEqual(want, got) {
			t.Errorf("%s\nnative plan off (%d rows): %.600v\non (%d rows): %.600v", tc.q, len(want), want, len(got), got)
			continue
		}
		if len(want) == 0 {
			t.Errorf("%s: no rows: the fixture tests nothing", tc.q)
		}
		if tc.operator == "" {
			continue
		}
		plan := strings.Join(queryRows(t, on, "EXPLAIN FORMAT=TREE "+tc.q), "\n")
		if !strings.Contains(plan, "arb "+tc.operator) || !strings.Contains(plan, "arb Scan events") {
			t.Errorf("%s: want the native %s over the events scan, got\n%s", tc.q, tc.operator, plan)
		}
		for _, r := range []string{"(left scan: right users only)", "(right scan: left users only)"} {
			if strings.Contains(plan, r) {
				restricted[r]++
			}
		}
		if strings.HasPrefix(tc.q, "SELECT COUNT(*") && strings.Contains(tc.q, "FROM events a JOIN") && !strings.Contains(plan, " users only)") {
			// (Which side go-mysql-server puts the scan on depends on its
			// estimates: either restriction will do.)
			t.Errorf("%s: want the events scan restricted to the other side's users, got\n%s", tc.q, plan)
		}
		if strings.Contains(tc.q, "LEFT JOIN events p") && !strings.Contains(plan, "right scan: left users only") {
			t.Errorf("%s: want the right scan restricted to the left users, got\n%s", tc.q, plan)
		}
	}
	if len(restricted) != 2 {
		t.Errorf("scan restrictions seen: %v, want both sides'", restricted)
	}
}

// postImportJSON sends event records (JSON objects) to /import?strict=1
// with the project secret ($merge is accepted only there) and fails
// unless every record is imported.
func postImportJSON(t *testing.T, srv *Server, recs []string) {
	t.Helper()
	body := "[" + strings.Join(recs, ",") + "]"
	req, err := http.NewRequest("POST", "http://"+srv.HTTPAddr()+"/import?strict=1", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth("sec", "")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	reply, _ := io.ReadAll(resp.Body)
	var v struct {
		Imported int `json:"num_records_imported"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal(reply, &v) != nil || v.Imported != len(recs) {
		t.Fatalf("/import: %d %s", resp.StatusCode, reply)
	}
}

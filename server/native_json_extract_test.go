package server

import (
	"math/rand"
	"strings"
	"testing"
	"time"
)

// TestNativeJSONExtract: JSON_EXTRACT (and ->) with a constant path over
// the events' properties, a JSON property, JSON text in a string column
// and retention()'s array gives go-mysql-server's answers (native plan
// off), and the native plan evaluates it itself (no eval( in EXPLAIN):
// go-mysql-server compiled the path once per row.
func TestNativeJSONExtract(t *testing.T) {
	r := rand.New(rand.NewSource(8))
	srv := startTestServer(t, t.TempDir())
	db := openDB(t, srv, "")
	mustExec(t, db, workloadInsert(r, 1_000, time.Date(2025, 3, 14, 13, 0, 0, 0, time.UTC), 100))
	mustExec(t, db, `INSERT INTO events (time, event, distinct_id, properties) VALUES
		('2025-03-14 13:00:01', 'J', 'j1', '{"doc": {"a": [1, 2.5, "x", {"b": null}], "s": "t\\"q", "n": null, "big": 12345678901234567890}, "txt": "{\\"k\\": [10, 20]}"}'),
		('2025-03-14 13:00:02', 'J', 'j2', '{"doc": {"a": [], "s": 7, "dup": 1}, "txt": "not json"}'),
		('2025-03-14 13:00:03', 'J', 'j3', '{"doc": [1, 2], "txt": "[1, {\\"k\\": true}]"}'),
		('2025-03-14 13:00:04', 'J', 'j4', '{"doc": {"s": [true]}, "txt": "null"}'),
		('2025-03-14 13:00:05', 'J', 'j5', '{"plan": "x"}')`)
	if err := srv.Store().Flush(); err != nil {
		t.Fatal(err)
	}
	mustExec(t, db, workloadInsert(r, 300, time.Date(2025, 3, 15, 9, 0, 0, 0, time.UTC), 100)) // buffered
	on, off := diffConn(t, db, 1), diffConn(t, db, 0)
	for _, q := range []string{
		`SELECT distinct_id, JSON_EXTRACT(properties, '$.plan'), properties->'$.amount', JSON_EXTRACT(properties, '$.nope') FROM events ORDER BY time, distinct_id`,
		`SELECT distinct_id, JSON_EXTRACT(doc, '$.a'), JSON_EXTRACT(doc, '$.a[1]'), JSON_EXTRACT(doc, '$.a[3].b'), JSON_EXTRACT(doc, '$.a[9]'),
		        JSON_EXTRACT(doc, '$.s'), JSON_EXTRACT(doc, '$.n'), JSON_EXTRACT(doc, '$.big'), doc->'$.dup'
		 FROM events WHERE event = 'J' ORDER BY distinct_id`,
		`SELECT distinct_id, JSON_EXTRACT(properties, '$.doc.a[0]'), JSON_UNQUOTE(JSON_EXTRACT(properties, '$.doc.s')) FROM events WHERE event = 'J' ORDER BY distinct_id`,
		`SELECT distinct_id, properties->>'$.plan', properties->>'$.amount', doc->>'$.a', doc->>'$.s', doc->>'$.n', JSON_UNQUOTE(txt), JSON_UNQUOTE(doc)
		 FROM events WHERE event = 'J' OR distinct_id < '0000' ORDER BY time, distinct_id`,
		`SELECT properties->>'$.plan' AS p, COUNT(*) FROM events GROUP BY p ORDER BY p`,
		`SELECT SUM(JSON_EXTRACT(r, '$[0]')), SUM(JSON_EXTRACT(r, '$[1]')), COUNT(JSON_EXTRACT(r, '$[2]'))
		 FROM (SELECT distinct_id, retention(event = 'Signup', event = 'Purchase') AS r FROM events GROUP BY distinct_id) t`,
		`SELECT JSON_EXTRACT(properties, '$.plan') AS p, COUNT(*) FROM events GROUP BY p ORDER BY p`,
	} {
		want, got := queryRows(t, off, q), queryRows(t, on, q)
		if !renderedRowsEqual(want, got) {
			t.Fatalf("%s\nnative plan off (%d rows): %.900v\non (%d rows): %.900v", q, len(want), want, len(got), got)
		}
		if len(want) == 0 {
			t.Fatalf("%s: no rows: the fixture tests nothing", q)
		}
		plan := strings.Join(queryRows(t, on, "EXPLAIN FORMAT=TREE "+q), "\n")
		if l := strings.ToLower(plan); strings.Contains(l, "eval(json_extract") || strings.Contains(l, "eval(json_unquote") {
			t.Errorf("%s: go-mysql-server still evaluates JSON_EXTRACT or JSON_UNQUOTE\n%s", q, plan)
		}
	}
	// Paths with wildcards stay go-mysql-server's, with its answers.
	q0 := `SELECT distinct_id, JSON_EXTRACT(doc, '$.a[*]'), JSON_EXTRACT(doc, '$.*') FROM events WHERE distinct_id IN ('j1', 'j4') ORDER BY distinct_id`
	if want, got := queryRows(t, off, q0), queryRows(t, on, q0); !renderedRowsEqual(want, got) {
		t.Fatalf("%s\nnative plan off: %v\non: %v", q0, want, got)
	}
	// Text that is not JSON, and an index into an object, fail as
	// go-mysql-server fails, in both plans.
	for _, q := range []string{
		`SELECT JSON_EXTRACT(txt, '$.k') FROM events WHERE event = 'J'`,
		`SELECT JSON_EXTRACT(doc, '$[1]') FROM events WHERE event = 'J'`,
	} {
		_, errOff := off.QueryContext(t.Context(), q)
		_, errOn := on.QueryContext(t.Context(), q)
		if errOff == nil || errOn == nil || errOff.Error() != errOn.Error() {
			t.Errorf("%s: native plan off says %v, on %v", q, errOff, errOn)
		}
	}
	// JSON text in a string column, unmarshalled first.
	for _, q := range []string{
		`SELECT distinct_id, JSON_EXTRACT(txt, '$.k[1]'), JSON_EXTRACT(txt, '$.k') FROM events WHERE distinct_id IN ('j1', 'j4') ORDER BY distinct_id`,
		`SELECT distinct_id, JSON_EXTRACT(txt, '$[1].k'), JSON_EXTRACT(txt, '$[0]') FROM events WHERE distinct_id IN ('j3', 'j4') ORDER BY distinct_id`,
	} {
		want, got := queryRows(t, off, q), queryRows(t, on, q)
		if !renderedRowsEqual(want, got) {
			t.Fatalf("%s\nnative plan off: %v\non: %v", q, want, got)
		}
		if plan := strings.Join(queryRows(t, on, "EXPLAIN FORMAT=TREE "+q), "\n"); strings.Contains(strings.ToLower(plan), "eval(json_extract") {
			t.Errorf("%s: go-mysql-server still evaluates JSON_EXTRACT\n%s", q, plan)
		}
	}
}

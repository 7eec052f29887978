package integration

// Server-side prepared statements (COM_STMT_PREPARE/EXECUTE) of what arb
// answers beside go-mysql-server's parser, as Connector/J with
// useServerPrepStmts and mysql2's execute() send them: GROUP BY ... WITH
// ROLLUP, EXPLAIN FORMAT=JSON and the tabular EXPLAIN (issue 16). Each
// prepared statement must answer what the same statement sent as a plain
// query with the values written in answers.

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// preparedFixture is the events the prepared-statement tests query.
const preparedFixture = "INSERT INTO events (time, event, distinct_id, amount, `plan`) VALUES " +
	"('2025-01-01 10:00:00', 'A', 'u1', 5, 'pro'), ('2025-01-01 11:00:00', 'A', 'u2', 7, 'free'), " +
	"('2025-01-02 10:00:00', 'B', 'u1', 3, 'pro'), ('2025-01-02 12:00:00', 'C', 'u3', 10, 'pro'), " +
	"('2025-01-03 09:00:00', 'A', 'u3', 1, 'free')"

// serverPrepared is a connection pool on arb that sends every statement
// with arguments as COM_STMT_PREPARE + COM_STMT_EXECUTE (the harness's
// pool interpolates them into a COM_QUERY instead), and scans dates and
// times as the text the server sent.
func serverPrepared(t *testing.T, arb *arbProcess) *sql.DB {
	t.Helper()
	db, err := sql.Open("mysql", fmt.Sprintf("root@tcp(127.0.0.1:%d)/default?loc=UTC", arb.mysqlPort))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// resultText is a result's rows with every value as text ("NULL" for
// NULL), so that binary-protocol and text-protocol rows compare equal.
func resultText(t *testing.T, rows *sql.Rows, err error) [][]string {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	var out [][]string
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		row := make([]string, len(cols))
		for i, v := range vals {
			row[i] = "NULL"
			if v.Valid {
				row[i] = v.String
			}
		}
		out = append(out, row)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestPreparedRollupAndExplain prepares WITH ROLLUP and EXPLAIN
// statements once and executes them with different bound values: each
// execution answers what the plain query with the value written in
// answers, and the rollup rows are MySQL 8's (manual 14.19.2: a
// super-aggregate row after each group's rows, the grand total last,
// rolled-up columns NULL, GROUPING 1 for them).
func TestPreparedRollupAndExplain(t *testing.T) {
	arb := startArb(t)
	if _, err := arb.db.Exec(preparedFixture); err != nil {
		t.Fatal(err)
	}
	db := serverPrepared(t, arb)
	text := func(rows *sql.Rows, err error) [][]string {
		t.Helper()
		return resultText(t, rows, err)
	}

	rollup := "SELECT event, `plan`, GROUPING(`plan`) AS g, count(*) AS n, sum(amount) AS total FROM events WHERE amount > %s GROUP BY event, `plan` WITH ROLLUP"
	wantRollup := map[string][][]string{
		"2": {
			{"A", "free", "0", "1", "7"}, {"A", "pro", "0", "1", "5"}, {"A", "NULL", "1", "2", "12"},
			{"B", "pro", "0", "1", "3"}, {"B", "NULL", "1", "1", "3"},
			{"C", "pro", "0", "1", "10"}, {"C", "NULL", "1", "1", "10"},
			{"NULL", "NULL", "1", "4", "25"},
		},
		"6": {
			{"A", "free", "0", "1", "7"}, {"A", "NULL", "1", "1", "7"},
			{"C", "pro", "0", "1", "10"}, {"C", "NULL", "1", "1", "10"},
			{"NULL", "NULL", "1", "2", "17"},
		},
		"100": nil, // an empty input: no rows, not even the grand total
	}
	stmt, err := db.Prepare(fmt.Sprintf(rollup, "?"))
	if err != nil {
		t.Fatalf("prepare WITH ROLLUP: %v", err)
	}
	defer stmt.Close()
	for _, arg := range []string{"2", "6", "100", "2"} {
		got := text(stmt.Query(arg))
		if !reflect.DeepEqual(got, wantRollup[arg]) {
			t.Errorf("prepared WITH ROLLUP, amount > %s:\n got %v\nwant %v", arg, got, wantRollup[arg])
		}
		plain := text(db.Query(fmt.Sprintf(rollup, arg)))
		if !reflect.DeepEqual(got, plain) {
			t.Errorf("WITH ROLLUP, amount > %s: prepared %v, plain query %v", arg, got, plain)
		}
	}
	// Without parameters go-sql-driver still prepares when asked to.
	noArgs, err := db.Prepare("SELECT event, count(*) FROM events GROUP BY event WITH ROLLUP")
	if err != nil {
		t.Fatalf("prepare WITH ROLLUP without parameters: %v", err)
	}
	if got, want := text(noArgs.Query()), [][]string{{"A", "3"}, {"B", "1"}, {"C", "1"}, {"NULL", "5"}}; !reflect.DeepEqual(got, want) {
		t.Errorf("prepared WITH ROLLUP without parameters: %v, want %v", got, want)
	}
	noArgs.Close()
	// What the rewrite refuses is refused at prepare, with the plain
	// query's error.
	_, prepErr := db.Prepare("SELECT * FROM events GROUP BY event WITH ROLLUP")
	_, plainErr := db.Query("SELECT * FROM events GROUP BY event WITH ROLLUP")
	if prepErr == nil || plainErr == nil || prepErr.Error() != plainErr.Error() {
		t.Errorf("SELECT * ... WITH ROLLUP: prepare error %v, plain query error %v (want the same error)", prepErr, plainErr)
	}

	explainJSON := "EXPLAIN FORMAT=JSON SELECT event, count(*) FROM events WHERE amount > %s GROUP BY event"
	ej, err := db.Prepare(fmt.Sprintf(explainJSON, "?"))
	if err != nil {
		t.Fatalf("prepare EXPLAIN FORMAT=JSON: %v", err)
	}
	defer ej.Close()
	for _, arg := range []int64{2, 6} {
		got := text(ej.Query(arg))
		plain := text(db.Query(fmt.Sprintf(explainJSON, fmt.Sprint(arg))))
		if len(got) != 1 || len(got[0]) != 1 || !reflect.DeepEqual(got, plain) {
			t.Fatalf("EXPLAIN FORMAT=JSON, amount > %d: prepared %q, plain query %q", arg, got, plain)
		}
		var doc struct {
			QueryBlock struct {
				SelectID int `json:"select_id"`
				Table    struct {
					TableName string `json:"table_name"`
				} `json:"table"`
			} `json:"query_block"`
		}
		if err := json.Unmarshal([]byte(got[0][0]), &doc); err != nil || doc.QueryBlock.SelectID != 1 || doc.QueryBlock.Table.TableName != "events" {
			t.Errorf("prepared EXPLAIN FORMAT=JSON document %s: %v, %+v", got[0][0], err, doc)
		}
	}
	cols, err := ej.Query("1")
	if err != nil {
		t.Fatal(err)
	}
	if names, _ := cols.Columns(); !reflect.DeepEqual(names, []string{"EXPLAIN"}) {
		t.Errorf("prepared EXPLAIN FORMAT=JSON columns %v, want [EXPLAIN]", names)
	}
	cols.Close()

	explainTable := "EXPLAIN SELECT event FROM events WHERE amount > %s"
	et, err := db.Prepare(fmt.Sprintf(explainTable, "?"))
	if err != nil {
		t.Fatalf("prepare EXPLAIN: %v", err)
	}
	defer et.Close()
	rows, err := et.Query(4)
	if err != nil {
		t.Fatal(err)
	}
	names, _ := rows.Columns()
	got := resultText(t, rows, nil)
	if want := []string{"id", "select_type", "table", "partitions", "type", "possible_keys", "key", "key_len", "ref", "rows", "filtered", "Extra"}; !reflect.DeepEqual(names, want) {
		t.Errorf("prepared EXPLAIN columns %v, want MySQL's %v", names, want)
	}
	if plain := text(db.Query(fmt.Sprintf(explainTable, "4"))); !reflect.DeepEqual(got, plain) || len(got) != 1 || got[0][2] != "events" {
		t.Errorf("EXPLAIN: prepared %q, plain query %q", got, plain)
	}
	// A prepared EXPLAIN of a statement that cannot run fails at
	// prepare, as in MySQL.
	if _, err := db.Prepare("EXPLAIN FORMAT=JSON SELECT nosuch FROM events WHERE amount > ?"); err == nil {
		t.Error("prepare EXPLAIN FORMAT=JSON of an unknown column: no error")
	}
}

// TestMySQL2Execute runs js/node/prepared_compat.js: mysql2's execute()
// of WITH ROLLUP and EXPLAIN FORMAT=JSON with a parameter answers what
// query() of the same statement answers; DATE values are columnType 10
// (MySQL's DATE) and TIMESTAMP '…' 12 (DATETIME) both ways; a JSON
// properties parameter keeps every digit as the literal does.
func TestMySQL2Execute(t *testing.T) {
	jsDir := nodeJSDir(t)
	if !fileExists(filepath.Join(jsDir, "node_modules", "mysql2", "package.json")) {
		t.Fatalf("%s/node_modules/mysql2 is missing: .ci/run installs it (npm ci in integration/js)", jsDir)
	}
	arb := startArb(t)
	if _, err := arb.db.Exec(preparedFixture); err != nil {
		t.Fatal(err)
	}
	out := runTool(t, jsDir, 2*time.Minute, "node", filepath.Join(jsDir, "node", "prepared_compat.js"), fmt.Sprint(arb.mysqlPort))
	var got struct {
		RollupExecute, RollupQuery   []map[string]any
		ExplainExecute, ExplainQuery []map[string]any
		DatesExecute, DatesQuery     struct {
			Row   map[string]any
			Types [][]any
		}
		Props []map[string]any
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("prepared_compat.js printed %q: %v", out, err)
	}
	// SUM of integers is a DECIMAL under ROLLUP too, as in MySQL 8:
	// mysql2 (bigNumberStrings) gives it as a string, as COUNT's BIGINT.
	wantRollup := []map[string]any{
		{"event": "A", "n": "2", "total": "12"}, {"event": "B", "n": "1", "total": "3"},
		{"event": "C", "n": "1", "total": "10"}, {"event": nil, "n": "4", "total": "25"},
	}
	if !reflect.DeepEqual(got.RollupExecute, wantRollup) || !reflect.DeepEqual(got.RollupQuery, wantRollup) {
		t.Errorf("WITH ROLLUP: execute() %#v, query() %#v, want %#v", got.RollupExecute, got.RollupQuery, wantRollup)
	}
	if len(got.ExplainExecute) != 1 || !reflect.DeepEqual(got.ExplainExecute, got.ExplainQuery) {
		t.Errorf("EXPLAIN FORMAT=JSON: execute() %v, query() %v", got.ExplainExecute, got.ExplainQuery)
	}
	wantTypes := [][]any{{"d", 10.0}, {"c", 10.0}, {"cd", 10.0}, {"u", 10.0}, {"dt", 10.0}, {"ts", 12.0}}
	for name, d := range map[string]struct {
		Row   map[string]any
		Types [][]any
	}{"execute()": got.DatesExecute, "query()": got.DatesQuery} {
		if !reflect.DeepEqual(d.Types, wantTypes) {
			t.Errorf("%s column types %v, want %v (MySQL: DATE 10, DATETIME 12)", name, d.Types, wantTypes)
		}
		if d.Row["d"] != "2024-01-01" || d.Row["dt"] != "2025-01-01" || d.Row["ts"] != "2024-01-01 10:00:00.25" || d.Row["c"] != d.Row["cd"] {
			t.Errorf("%s row %v", name, d.Row)
		}
	}
	wantProps := []map[string]any{
		{"distinct_id": "executed", "a": "9223372036854775808", "b": "18446744073709551615", "c": "-9223372036854775809", "d": "0.1"},
		{"distinct_id": "queried", "a": "9223372036854775808", "b": "18446744073709551615", "c": "-9223372036854775809", "d": "0.1"},
	}
	if !reflect.DeepEqual(got.Props, wantProps) {
		t.Errorf("properties by execute() and query(): %v, want %v", got.Props, wantProps)
	}
}

// TestConnectorJServerPrepared runs java/PreparedCompat.java: MariaDB
// Connector/J with useServerPrepStmts=true prepares WITH ROLLUP and
// EXPLAIN FORMAT=JSON with a parameter, reads DATE values as
// java.sql.Types.DATE (91), and stores setBigDecimal(2^64-1) and a JSON
// parameter beyond int64 with every digit.
func TestConnectorJServerPrepared(t *testing.T) {
	javac, java, jar := javaTool(t)
	src := testdataPath(t, filepath.Join("java", "PreparedCompat.java"))
	classes := t.TempDir()
	runTool(t, ".", 3*time.Minute, javac, "-cp", jar, "-d", classes, src)
	arb := startArb(t)
	if _, err := arb.db.Exec(preparedFixture); err != nil {
		t.Fatal(err)
	}
	out := runTool(t, ".", 2*time.Minute, java, "-cp", jar+":"+classes, "PreparedCompat", fmt.Sprint(arb.mysqlPort))
	got := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		k, v, _ := strings.Cut(line, "\t")
		got[k] = v
	}
	if got["done"] != "yes" {
		t.Fatalf("PreparedCompat did not finish:\n%s", out)
	}
	for key, want := range map[string]string{
		"rollup_2":             "A,2,7;B,1,3;C,1,10;NULL,4,10",
		"rollup_6":             "A,1,7;C,1,10;NULL,2,10",
		"explain_json_columns": "EXPLAIN",
		"date_types":           "DATE/91,DATE/91,DATE/91,DATETIME/93",
		"date_literal":         "2024-01-01",
		"insert":               "1",
		"numbers":              "18446744073709551615,123456789012345678901234567890,-9223372036854775809",
	} {
		if got[key] != want {
			t.Errorf("%s: %q, want %q", key, got[key], want)
		}
	}
	if !strings.Contains(got["explain_json"], `"query_block"`) {
		t.Errorf("explain_json: %q, want a query_block document", got["explain_json"])
	}
}

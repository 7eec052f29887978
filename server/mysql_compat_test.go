package server

// Issue 16, item 6 ("smaller gaps") and CUME_DIST from item 2: each check
// runs a real server in-process and talks to it with a real client
// (go-sql-driver, or vitess's MySQL client where the test must see the
// column definitions or send a protocol command), and compares with the
// result MySQL 8's documentation gives, cited at each case.

import (
	"context"
	"crypto/tls"
	"database/sql"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dolthub/vitess/go/mysql"
	querypb "github.com/dolthub/vitess/go/vt/proto/query"
	"github.com/dolthub/vitess/go/vt/vttls"
	gomysql "github.com/go-sql-driver/mysql"

	"arb/storage"
)

// startPasswordServer is startTestServer with a root password (so that
// accounts and passwords are checked).
func startPasswordServer(t *testing.T, rootPassword string) *Server {
	t.Helper()
	srv, err := Start(Config{
		DataDir: t.TempDir(), MySQLAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", RootPassword: rootPassword,
		Projects: []ProjectSpec{{Name: "default", Token: "tok", Secret: "sec"}, {Name: "shop", Token: "tok2", Secret: "sec2"}},
		Logger:   slog.New(slog.NewTextHandler(io.Discard, nil)),
		Store:    storage.Options{FlushInterval: time.Hour, DisableCompaction: true},
	})
	if err != nil {
		t.Fatalf("start server: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	return srv
}

// vitessConn connects with vitess's MySQL client, over TLS or not.
func vitessConn(t *testing.T, srv *Server, user, pass, db string, useTLS bool) *mysql.Conn {
	t.Helper()
	host, port, _ := net.SplitHostPort(srv.MySQLAddr())
	p, _ := strconv.Atoi(port)
	mode := vttls.Disabled
	if useTLS {
		mode = vttls.Preferred
	}
	c, err := mysql.Connect(context.Background(), &mysql.ConnParams{Host: host, Port: p, Uname: user, Pass: pass, DbName: db, SslMode: mode})
	if err != nil {
		t.Fatalf("connect as %s: %v", user, err)
	}
	if _, isTLS := c.Conn.(*tls.Conn); isTLS != useTLS {
		t.Fatalf("connection over TLS: %v, want %v", isTLS, useTLS)
	}
	t.Cleanup(c.Close)
	return c
}

// rawWrite writes one packet with sequence seq on c's connection,
// bypassing the client, and reads the server's reply.
func rawWrite(t *testing.T, c *mysql.Conn, seq byte, payload []byte) {
	t.Helper()
	hdr := []byte{byte(len(payload)), byte(len(payload) >> 8), byte(len(payload) >> 16), seq}
	if _, err := c.Conn.Write(append(hdr, payload...)); err != nil {
		t.Fatal(err)
	}
}

func rawRead(t *testing.T, c *mysql.Conn) (seq byte, payload []byte) {
	t.Helper()
	c.Conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	defer c.Conn.SetReadDeadline(time.Time{})
	var hdr [4]byte
	if _, err := io.ReadFull(c.Conn, hdr[:]); err != nil {
		t.Fatal(err)
	}
	payload = make([]byte, int(hdr[0])|int(hdr[1])<<8|int(hdr[2])<<16)
	if _, err := io.ReadFull(c.Conn, payload); err != nil {
		t.Fatal(err)
	}
	return hdr[3], payload
}

// TestTableRows: information_schema.TABLES.TABLE_ROWS and SHOW TABLE
// STATUS's Rows give the number of rows (MySQL 8.0 manual 28.3.38 "The
// INFORMATION_SCHEMA TABLES Table": TABLE_ROWS "The number of rows";
// 15.7.7.38 "SHOW TABLE STATUS Statement": Rows), here exactly what
// COUNT(*) returns, with events both in a flushed segment and buffered.
func TestTableRows(t *testing.T) {
	srv := startTestServer(t, t.TempDir())
	db := openDB(t, srv, "")
	mustExec(t, db, "INSERT INTO events (time, event, distinct_id) VALUES ('2025-01-01 10:00:00', 'a', 'u1'), ('2025-01-01 10:00:01', 'b', 'u2'), ('2025-01-02 10:00:00', 'a', 'u3')")
	if err := srv.Store().Flush(); err != nil {
		t.Fatal(err)
	}
	mustExec(t, db, "INSERT INTO events (time, event, distinct_id) VALUES ('2025-01-03 10:00:00', 'a', 'u1'), ('2025-01-03 10:00:01', 'c', 'u4')")
	mustExec(t, db, "INSERT INTO people (distinct_id, tier) VALUES ('u1', 'pro'), ('u2', 'free')")
	want := map[string]int64{}
	for _, table := range []string{"events", "people", "groups"} {
		var n int64
		if err := db.QueryRow("SELECT COUNT(*) FROM `" + table + "`").Scan(&n); err != nil {
			t.Fatal(err)
		}
		want[table] = n
	}
	if want["events"] != 5 || want["people"] != 2 || want["groups"] != 0 {
		t.Fatalf("counts %v, want events 5, people 2, groups 0", want)
	}
	rows, err := db.Query("SELECT table_name, table_rows, data_length FROM information_schema.tables WHERE table_schema = 'default'")
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	for rows.Next() {
		var name string
		var n, size int64
		if err := rows.Scan(&name, &n, &size); err != nil {
			t.Fatal(err)
		}
		seen++
		if n != want[name] {
			t.Errorf("information_schema.tables: %s has TABLE_ROWS %d, want %d", name, n, want[name])
		}
		if name == "events" && size <= 0 {
			t.Errorf("information_schema.tables: events has DATA_LENGTH %d, want the flushed segment's bytes", size)
		}
	}
	rows.Close()
	if seen != 3 {
		t.Errorf("information_schema.tables lists %d tables of default, want 3", seen)
	}
	status, err := db.Query("SHOW TABLE STATUS")
	if err != nil {
		t.Fatal(err)
	}
	defer status.Close()
	cols, _ := status.Columns()
	seen = 0
	for status.Next() {
		vals := make([]sql.RawBytes, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := status.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		seen++
		name := string(vals[0])
		if got := string(vals[4]); cols[4] != "Rows" || got != strconv.FormatInt(want[name], 10) {
			t.Errorf("SHOW TABLE STATUS: %s column %s = %s, want Rows %d", name, cols[4], got, want[name])
		}
	}
	if seen != 3 {
		t.Errorf("SHOW TABLE STATUS lists %d tables, want 3", seen)
	}
}

// TestColumnCharsets: a column definition's character set is binary (63)
// for numbers, dates and times, with BINARY_FLAG, and the column's own
// character set for strings (MySQL 8.0 C API 5.2 "C API Basic Data
// Structures", MYSQL_FIELD.charsetnr: "the value is 63 ... binary"; MySQL
// sends 63 for every non-string column). Both protocols: text results and
// prepared statements' column definitions.
func TestColumnCharsets(t *testing.T) {
	srv := startTestServer(t, t.TempDir())
	db := openDB(t, srv, "")
	mustExec(t, db, "INSERT INTO events (time, event, distinct_id, amount, n) VALUES ('2025-01-01 10:00:00', 'a', 'u1', 1.5, 3)")
	c := vitessConn(t, srv, "root", "", "default", false)
	res, err := c.ExecuteFetch("SELECT 1, 2.5, 1e0, NOW(), CURDATE(), 'text', UNIX_TIMESTAMP('2025-01-01 00:00:00'), CAST(2024 AS YEAR)", 10, true)
	if err != nil {
		t.Fatal(err)
	}
	res2, err := c.ExecuteFetch("SELECT time, event, amount, n, (SELECT COUNT(*) FROM events) FROM events", 10, true)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range append(res.Fields, res2.Fields...) {
		binaryType := f.Type != querypb.Type_VARCHAR && f.Type != querypb.Type_VARBINARY && f.Type != querypb.Type_TEXT && f.Type != querypb.Type_BLOB && f.Type != querypb.Type_CHAR
		switch {
		case binaryType && (f.Charset != 63 || f.Flags&uint32(querypb.MySqlFlag_BINARY_FLAG) == 0):
			t.Errorf("column %q of type %v: charset %d flags %#x, want 63 with BINARY_FLAG (MySQL 8)", f.Name, f.Type, f.Charset, f.Flags)
		case !binaryType && f.Charset == 63:
			t.Errorf("column %q of type %v: charset 63, want a text character set", f.Name, f.Type)
		}
	}
	// A string is labelled with character_set_results: vitess's client
	// asks for utf8mb3_general_ci (33) in its handshake.
	if len(res.Fields) != 8 || res.Fields[5].Charset != 33 {
		t.Errorf("fields %v: want 8, the string 'text' in the connection's utf8mb3_general_ci (33)", res.Fields)
	}
	// Prepared statements' column definitions (binary protocol): sent
	// raw, COM_STMT_PREPARE answers OK, then one definition per column:
	// lenenc catalog, schema, table, org_table, name, org_name, 0x0c,
	// character set (2), length (4), type (1), flags (2), decimals (1).
	rawWrite(t, c, 0, append([]byte{0x16}, "SELECT 1, NOW(), 'text', 2.5"...))
	if _, resp := rawRead(t, c); resp[0] != 0 {
		t.Fatalf("COM_STMT_PREPARE: %q", resp)
	}
	for i, want := range []uint16{63, 63, 33, 63} {
		_, def := rawRead(t, c)
		pos := 0
		for range 6 {
			pos += 1 + int(def[pos]) // lenenc strings shorter than 251 bytes
		}
		if got := binary.LittleEndian.Uint16(def[pos+1:]); got != want {
			t.Errorf("prepared column %d: charset %d, want %d", i+1, got, want)
		}
	}
	// go-sql-driver's prepared path reads them too.
	var n int64
	var when time.Time
	if err := db.QueryRow("SELECT COUNT(*), MAX(time) FROM events WHERE n = ?", 3).Scan(&n, &when); err != nil || n != 1 {
		t.Errorf("prepared SELECT: %d, %v", n, err)
	}
}

// TestConnectionCollation: the server takes the connection's character
// set and collation from the handshake (MySQL 8.0 manual 12.4
// "Connection Character Sets and Collations": "The server uses this
// information to set the character_set_client, character_set_results,
// character_set_connection system variables", collation_connection to the
// client's collation), and SET NAMES cs COLLATE coll sets
// collation_connection (12.4: "SET NAMES 'charset_name' [COLLATE
// 'collation_name']"); a collation of another character set is ERROR
// 1253 (42000) ER_COLLATION_CHARSET_MISMATCH, an unknown one 1273
// ER_UNKNOWN_COLLATION.
func TestConnectionCollation(t *testing.T) {
	srv := startTestServer(t, t.TempDir())
	// Grafana's connection string asks for utf8mb4_unicode_ci this way.
	db := openDB(t, srv, "&collation=utf8mb4_unicode_ci")
	db.SetMaxOpenConns(1)
	vars := func() string {
		var coll, client, conn, results string
		if err := db.QueryRow("SELECT @@collation_connection, @@character_set_client, @@character_set_connection, @@character_set_results").Scan(&coll, &client, &conn, &results); err != nil {
			return "error: " + err.Error()
		}
		return strings.Join([]string{coll, client, conn, results}, " ")
	}
	if got := vars(); got != "utf8mb4_unicode_ci utf8mb4 utf8mb4 utf8mb4" {
		t.Errorf("after a handshake with utf8mb4_unicode_ci: %s", got)
	}
	db2 := openDB(t, srv, "&collation=latin1_swedish_ci")
	var coll string
	if err := db2.QueryRow("SELECT @@collation_connection").Scan(&coll); err != nil || coll != "latin1_swedish_ci" {
		t.Errorf("after a handshake with latin1_swedish_ci: %q, %v", coll, err)
	}
	mustExec(t, db, "SET NAMES utf8mb4 COLLATE utf8mb4_general_ci")
	if got := vars(); got != "utf8mb4_general_ci utf8mb4 utf8mb4 utf8mb4" {
		t.Errorf("after SET NAMES utf8mb4 COLLATE utf8mb4_general_ci: %s", got)
	}
	mustExec(t, db, "SET NAMES 'latin1' COLLATE 'latin1_bin'")
	if got := vars(); got != "latin1_bin latin1 latin1 latin1" {
		t.Errorf("after SET NAMES 'latin1' COLLATE 'latin1_bin': %s", got)
	}
	// SET NAMES without COLLATE: the character set's default collation.
	mustExec(t, db, "SET NAMES utf8mb4")
	if got := vars(); got != "utf8mb4_0900_ai_ci utf8mb4 utf8mb4 utf8mb4" {
		t.Errorf("after SET NAMES utf8mb4: %s", got)
	}
	for _, c := range []struct {
		q     string
		num   uint16
		state string
	}{
		{"SET NAMES utf8mb4 COLLATE latin1_swedish_ci", 1253, "42000"},
		{"SET NAMES utf8mb4 COLLATE no_such_collation", 1273, "HY000"},
	} {
		_, err := db.Exec(c.q)
		var me *gomysql.MySQLError
		if !errors.As(err, &me) || me.Number != c.num || string(me.SQLState[:]) != c.state {
			t.Errorf("%s: %v, want %d (%s)", c.q, err, c.num, c.state)
		}
	}
}

// TestCumeDist checks CUME_DIST against the MySQL 8.0 manual's example
// (14.20.1 "Window Function Descriptions", CUME_DIST(): the numbers 1, 1,
// 2, 3, 3, 3, 4, 4, 5 with WINDOW w AS (ORDER BY val)), then partitions,
// descending order and NULLs (first when ascending, last when
// descending: 15.2.13 "SELECT Statement", ORDER BY), over events in a
// segment and in memory, with pushdown on and off.
func TestCumeDist(t *testing.T) {
	srv := startTestServer(t, t.TempDir())
	db := openRawDB(t, srv)
	vals := []string{"1", "1", "2", "3", "3", "3", "4", "4", "5", "NULL"}
	for i, v := range vals {
		mustExec(t, db, fmt.Sprintf("INSERT INTO events (time, event, distinct_id, val) VALUES ('2025-01-01 10:00:%02d', '%s', 'u%d', %s)", i, []string{"odd", "even"}[i%2], i, v))
		if i == 4 {
			if err := srv.Store().Flush(); err != nil {
				t.Fatal(err)
			}
		}
	}
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	cases := []struct {
		name, q string
		want    []string
	}{
		// The manual's rows: val | row_number | cume_dist | percent_rank.
		{"manual example", `SELECT val, ROW_NUMBER() OVER w AS 'row_number', CUME_DIST() OVER w AS 'cume_dist', PERCENT_RANK() OVER w AS 'percent_rank'
			FROM events WHERE val IS NOT NULL WINDOW w AS (ORDER BY val) ORDER BY val, 2`,
			[]string{"1|1|0.2222222222222222|0|", "1|2|0.2222222222222222|0|", "2|3|0.3333333333333333|0.25|",
				"3|4|0.6666666666666666|0.375|", "3|5|0.6666666666666666|0.375|", "3|6|0.6666666666666666|0.375|",
				"4|7|0.8888888888888888|0.75|", "4|8|0.8888888888888888|0.75|", "5|9|1|1|"}},
		{"inline window", `SELECT DISTINCT val, CUME_DIST() OVER (ORDER BY val) FROM events WHERE val IS NOT NULL ORDER BY val`,
			[]string{"1|0.2222222222222222|", "2|0.3333333333333333|", "3|0.6666666666666666|", "4|0.8888888888888888|", "5|1|"}},
		// NULL sorts first ascending: 1 of 10 rows at or before it.
		{"nulls first", `SELECT DISTINCT val, CUME_DIST() OVER (ORDER BY val) FROM events ORDER BY val`,
			[]string{"<nil>|0.1|", "1|0.3|", "2|0.4|", "3|0.7|", "4|0.9|", "5|1|"}},
		// Descending: 5 is first (1 of 10), NULL last.
		{"descending", `SELECT DISTINCT val, CUME_DIST() OVER (ORDER BY val DESC) FROM events ORDER BY val DESC`,
			[]string{"5|0.1|", "4|0.3|", "3|0.6|", "2|0.7|", "1|0.9|", "<nil>|1|"}},
		// event 'odd' holds 1, 2, 3, 4, 5; 'even' 1, 3, 3, 4, NULL.
		{"partitions", `SELECT event, val, CUME_DIST() OVER (PARTITION BY event ORDER BY val) FROM events ORDER BY event, val`,
			[]string{"even|<nil>|0.2|", "even|1|0.4|", "even|3|0.8|", "even|3|0.8|", "even|4|1|",
				"odd|1|0.2|", "odd|2|0.4|", "odd|3|0.6|", "odd|4|0.8|", "odd|5|1|"}},
		// Without ORDER BY every row is a peer of every other: 1.
		{"no order", `SELECT DISTINCT CUME_DIST() OVER () FROM events`, []string{"1|"}},
		{"in an expression", `SELECT DISTINCT val, ROUND(CUME_DIST() OVER (ORDER BY val), 2) FROM events WHERE val IS NOT NULL ORDER BY val`,
			[]string{"1|0.22|", "2|0.33|", "3|0.67|", "4|0.89|", "5|1|"}},
	}
	for _, pushdown := range []int{1, 0} {
		if _, err := conn.ExecContext(context.Background(), fmt.Sprintf("SET arb_pushdown = %d", pushdown)); err != nil {
			t.Fatal(err)
		}
		for _, c := range cases {
			// Compared as sets (queryRows sorts): the point is each
			// row's value.
			got := queryRows(t, conn, c.q)
			sort.Strings(c.want)
			if strings.Join(got, " ") != strings.Join(c.want, " ") {
				t.Errorf("%s (arb_pushdown=%d): got %v, want %v (MySQL 8)", c.name, pushdown, got, c.want)
			}
		}
	}
	// The result is a DOUBLE, and the column is named as written.
	rows, err := db.Query("SELECT CUME_DIST() OVER (ORDER BY val) FROM events")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cts, _ := rows.ColumnTypes()
	if cts[0].DatabaseTypeName() != "DOUBLE" || cts[0].Name() != "CUME_DIST() OVER (ORDER BY val)" {
		t.Errorf("column %q of type %s, want CUME_DIST() OVER (ORDER BY val) DOUBLE", cts[0].Name(), cts[0].DatabaseTypeName())
	}
}

// TestExplainFormatJSON: EXPLAIN FORMAT=JSON returns one row with one
// column named EXPLAIN holding a JSON document whose root is query_block
// with select_id 1, a table as "table" with table_name and access_type,
// several as "nested_loop" (MySQL 8.0 manual 15.8.2 "EXPLAIN Statement",
// 10.8.2 "EXPLAIN Output Format", JSON names in Table 10.1). DBeaver
// sends it for its plan view.
func TestExplainFormatJSON(t *testing.T) {
	srv := startTestServer(t, t.TempDir())
	db := openRawDB(t, srv)
	mustExec(t, db, "INSERT INTO events (time, event, distinct_id) VALUES ('2025-01-01 10:00:00', 'a', 'u1')")
	type table struct {
		TableName  string `json:"table_name"`
		AccessType string `json:"access_type"`
	}
	type doc struct {
		QueryBlock struct {
			SelectID   *int                    `json:"select_id"`
			Table      *table                  `json:"table"`
			NestedLoop []struct{ Table table } `json:"nested_loop"`
			Message    string                  `json:"message"`
			ArbPlan    map[string]any          `json:"arb_plan"`
		} `json:"query_block"`
	}
	explain := func(q string) (doc, string) {
		t.Helper()
		rows, err := db.Query(q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		defer rows.Close()
		cols, _ := rows.Columns()
		var text string
		n := 0
		for rows.Next() {
			n++
			if err := rows.Scan(&text); err != nil {
				t.Fatal(err)
			}
		}
		if len(cols) != 1 || cols[0] != "EXPLAIN" || n != 1 {
			t.Fatalf("%s: columns %v, %d rows; want one column EXPLAIN, one row", q, cols, n)
		}
		var d doc
		if err := json.Unmarshal([]byte(text), &d); err != nil {
			t.Fatalf("%s: not JSON: %v\n%s", q, err, text)
		}
		if d.QueryBlock.SelectID == nil || *d.QueryBlock.SelectID != 1 || d.QueryBlock.ArbPlan == nil {
			t.Errorf("%s: query_block without select_id 1 or the plan:\n%s", q, text)
		}
		return d, text
	}
	d, text := explain("EXPLAIN FORMAT=JSON SELECT event, COUNT(*) FROM events WHERE distinct_id = 'u1' GROUP BY event")
	if d.QueryBlock.Table == nil || d.QueryBlock.Table.TableName != "events" || d.QueryBlock.Table.AccessType != "ALL" {
		t.Errorf("one table: want table events ALL:\n%s", text)
	}
	d, text = explain("explain format = 'json' SELECT e.event FROM events e JOIN people p ON e.distinct_id = p.distinct_id")
	var names []string
	for _, nl := range d.QueryBlock.NestedLoop {
		names = append(names, nl.Table.TableName)
	}
	if strings.Join(names, ",") != "people,events" && strings.Join(names, ",") != "events,people" {
		t.Errorf("join: want nested_loop over events and people:\n%s", text)
	}
	d, text = explain("EXPLAIN FORMAT=JSON SELECT 1")
	if d.QueryBlock.Message != "No tables used" {
		t.Errorf("no table: want message No tables used (MySQL's):\n%s", text)
	}
	// Errors keep their MySQL numbers.
	_, err := db.Exec("EXPLAIN FORMAT=JSON SELECT * FROM no_such_table")
	var me *gomysql.MySQLError
	if !errors.As(err, &me) || me.Number != 1146 {
		t.Errorf("EXPLAIN FORMAT=JSON of an unknown table: %v, want 1146", err)
	}
}

// statisticsLine is MySQL's COM_STATISTICS answer (MySQL 8.0 manual
// 6.5.2 "mysqladmin", status: "Uptime ... Threads ... Questions ... Slow
// queries ... Opens ... Flush tables ... Open tables ... Queries per
// second avg"; the wording and the two spaces between items are the
// server's, as mysqladmin prints them verbatim).
var statisticsLine = regexp.MustCompile(`^Uptime: (\d+)  Threads: (\d+)  Questions: (\d+)  Slow queries: (\d+)  Opens: (\d+)  Flush tables: (\d+)  Open tables: (\d+)  Queries per second avg: \d+\.\d{3}$`)

// TestComStatistics sends COM_STATISTICS (0x09) over TLS and in clear; the
// answer is one packet holding the status line, and the connection goes
// on answering queries. vitess refused the command (ERROR 1047).
func TestComStatistics(t *testing.T) {
	srv := startTestServer(t, t.TempDir())
	for _, useTLS := range []bool{true, false} {
		c := vitessConn(t, srv, "root", "", "default", useTLS)
		for i := 0; i < 3; i++ {
			if _, err := c.ExecuteFetch("SELECT 1", 1, false); err != nil {
				t.Fatal(err)
			}
		}
		rawWrite(t, c, 0, []byte{0x09})
		seq, payload := rawRead(t, c)
		m := statisticsLine.FindStringSubmatch(string(payload))
		if seq != 1 || m == nil {
			t.Fatalf("tls=%v: COM_STATISTICS answered %q (sequence %d), want MySQL's status line", useTLS, payload, seq)
		}
		threads, _ := strconv.Atoi(m[2])
		questions, _ := strconv.Atoi(m[3])
		if threads < 1 || questions < 3 || m[4] != "0" {
			t.Errorf("tls=%v: %q: want at least this connection and its 3 statements", useTLS, payload)
		}
		res, err := c.ExecuteFetch("SELECT 2", 1, false)
		if err != nil || len(res.Rows) != 1 || res.Rows[0][0].ToString() != "2" {
			t.Errorf("tls=%v: query after COM_STATISTICS: %v, %v", useTLS, res, err)
		}
	}
}

// changeUserPacket is COM_CHANGE_USER for user and db with an empty auth
// response (the server then asks with an AuthSwitchRequest) and
// utf8mb4_general_ci (45), as protocol 4.1 clients send it (MySQL client/
// server protocol, COM_CHANGE_USER).
func changeUserPacket(user, db string) []byte {
	p := append([]byte{0x11}, user...)
	p = append(p, 0, 0) // NUL, auth response of length 0
	p = append(append(p, db...), 0)
	p = binary.LittleEndian.AppendUint16(p, 45)
	return append(append(p, "mysql_native_password"...), 0)
}

// changeUser runs the COM_CHANGE_USER exchange and returns the server's
// final packet.
func changeUser(t *testing.T, c *mysql.Conn, user, pass, db string) []byte {
	t.Helper()
	rawWrite(t, c, 0, changeUserPacket(user, db))
	seq, sw := rawRead(t, c)
	if sw[0] == 0xff {
		return sw
	}
	if seq != 1 || sw[0] != 0xfe || !strings.HasPrefix(string(sw[1:]), "mysql_native_password\x00") {
		t.Fatalf("COM_CHANGE_USER: got %q (sequence %d), want an AuthSwitchRequest for mysql_native_password", sw, seq)
	}
	salt := sw[1+len("mysql_native_password\x00") : len(sw)-1]
	var reply []byte
	if pass != "" {
		reply = mysql.ScrambleMysqlNativePassword(salt, []byte(pass))
	}
	rawWrite(t, c, 2, reply)
	seq, last := rawRead(t, c)
	if seq != 3 {
		t.Errorf("COM_CHANGE_USER: final packet has sequence %d, want 3", seq)
	}
	return last
}

// TestComChangeUser: COM_CHANGE_USER re-authenticates as another account
// and resets the session: user variables are gone, the database is the
// one asked for (MySQL client/server protocol, COM_CHANGE_USER; MySQL
// 8.0 C API 5.4.3 mysql_change_user(): "changes the user and causes the
// database specified by db to become the default ... rolls back any
// active transactions, closes temporary tables ... resets session system
// variables"). A wrong password is ERROR 1045 (28000) and the connection
// stays the old user's. Over TLS and in clear.
func TestComChangeUser(t *testing.T) {
	srv := startPasswordServer(t, "rootpw")
	root, err := sql.Open("mysql", fmt.Sprintf("root:rootpw@tcp(%s)/default", srv.MySQLAddr()))
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	mustExec(t, root, "CREATE USER 'analyst'@'%' IDENTIFIED WITH mysql_native_password BY 'apw'")
	mustExec(t, root, "GRANT SELECT ON shop.* TO 'analyst'@'%'")
	mustExec(t, root, "INSERT INTO shop.events (time, event, distinct_id) VALUES ('2025-01-01 10:00:00', 'a', 'u1')")
	for _, useTLS := range []bool{true, false} {
		c := vitessConn(t, srv, "root", "rootpw", "default", useTLS)
		for _, q := range []string{"SET @x = 42", "CREATE TEMPORARY TABLE tt (x INT)"} {
			if _, err := c.ExecuteFetch(q, 1, false); err != nil {
				t.Fatal(err)
			}
		}
		// A wrong password: 1045, still root with @x.
		last := changeUser(t, c, "analyst", "wrong", "shop")
		if last[0] != 0xff || binary.LittleEndian.Uint16(last[1:]) != 1045 || string(last[4:9]) != "28000" {
			t.Errorf("tls=%v: wrong password: got %q, want ERROR 1045 (28000)", useTLS, last)
		}
		res, err := c.ExecuteFetch("SELECT CURRENT_USER(), @x, DATABASE()", 1, false)
		if err != nil || res.Rows[0][0].ToString() != "root@%" || res.Rows[0][1].ToString() != "42" || res.Rows[0][2].ToString() != "default" {
			t.Errorf("tls=%v: after a refused change: %v, %v; want root@%%, 42, default", useTLS, res, err)
		}
		last = changeUser(t, c, "analyst", "apw", "shop")
		if last[0] != 0x00 {
			t.Fatalf("tls=%v: COM_CHANGE_USER to analyst: got %q, want OK", useTLS, last)
		}
		res, err = c.ExecuteFetch("SELECT CURRENT_USER(), @x, DATABASE(), (SELECT COUNT(*) FROM events)", 1, false)
		if err != nil || res.Rows[0][0].ToString() != "analyst@%" || !res.Rows[0][1].IsNull() || res.Rows[0][2].ToString() != "shop" || res.Rows[0][3].ToString() != "1" {
			t.Errorf("tls=%v: after changing to analyst: %v, %v; want analyst@%%, NULL, shop, 1", useTLS, res, err)
		}
		// The new user's privileges apply: analyst may not write.
		if _, err := c.ExecuteFetch("INSERT INTO events (time, event, distinct_id) VALUES ('2025-01-01 10:00:00', 'b', 'u2')", 1, false); err == nil {
			t.Errorf("tls=%v: analyst (SELECT only) inserted a row after COM_CHANGE_USER", useTLS)
		}
		// And back to root with no database.
		if last = changeUser(t, c, "root", "rootpw", ""); last[0] != 0x00 {
			t.Fatalf("tls=%v: COM_CHANGE_USER to root: got %q, want OK", useTLS, last)
		}
		res, err = c.ExecuteFetch("SELECT CURRENT_USER(), DATABASE()", 1, false)
		if err != nil || res.Rows[0][0].ToString() != "root@%" || !res.Rows[0][1].IsNull() {
			t.Errorf("tls=%v: after changing back to root: %v, %v; want root@%%, NULL", useTLS, res, err)
		}
		// The first session's temporary table went with it.
		var se *mysql.SQLError
		if _, err := c.ExecuteFetch("SELECT * FROM `default`.tt", 1, false); !errors.As(err, &se) || se.Num != 1146 {
			t.Errorf("tls=%v: temporary table after COM_CHANGE_USER: %v, want 1146", useTLS, err)
		}
	}
}

// orderedRows is queryRows keeping the server's row order.
func orderedRows(t *testing.T, conn *sql.Conn, q string) []string {
	t.Helper()
	rows, err := conn.QueryContext(context.Background(), q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out []string
	for rows.Next() {
		vals := make([]sql.RawBytes, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		for _, v := range vals {
			if v == nil {
				b.WriteString("<nil>|")
			} else {
				b.WriteString(string(v) + "|")
			}
		}
		out = append(out, b.String())
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return out
}

// TestRollup checks GROUP BY ... WITH ROLLUP against the MySQL 8.0
// manual's examples (14.19.2 "GROUP BY Modifiers": the sales table and its
// results, GROUPING() and IF(GROUPING(...)) labels), and the rules stated
// there: HAVING applies to super-aggregate rows, an ORDER BY sorts them
// (NULL lowest), an empty input gives no rows.
func TestRollup(t *testing.T) {
	srv := startTestServer(t, t.TempDir())
	db := openRawDB(t, srv)
	sales := [][]any{
		{2000, "Finland", "Computer", 1500}, {2000, "Finland", "Phone", 100}, {2001, "Finland", "Phone", 10},
		{2000, "India", "Calculator", 75}, {2000, "India", "Calculator", 75}, {2000, "India", "Computer", 1200},
		{2000, "USA", "Calculator", 75}, {2000, "USA", "Computer", 1500}, {2001, "USA", "Calculator", 50},
		{2001, "USA", "Computer", 1500}, {2001, "USA", "Computer", 1200}, {2001, "USA", "TV", 150}, {2001, "USA", "TV", 100},
	}
	for i, r := range sales {
		mustExec(t, db, fmt.Sprintf("INSERT INTO events (time, event, distinct_id, year, country, product, profit) VALUES ('2025-01-01 10:00:%02d', 'sale', 'u%d', %d, '%s', '%s', %d)", append([]any{i, i}, r...)...))
		if i == 6 {
			if err := srv.Store().Flush(); err != nil {
				t.Fatal(err)
			}
		}
	}
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	cases := []struct {
		name, q string
		want    []string
	}{
		{"one column", "SELECT year, SUM(profit) AS profit FROM events GROUP BY year WITH ROLLUP",
			[]string{"2000|4525|", "2001|3010|", "<nil>|7535|"}},
		{"three columns", "SELECT year, country, product, SUM(profit) AS profit FROM events GROUP BY year, country, product WITH ROLLUP",
			[]string{"2000|Finland|Computer|1500|", "2000|Finland|Phone|100|", "2000|Finland|<nil>|1600|",
				"2000|India|Calculator|150|", "2000|India|Computer|1200|", "2000|India|<nil>|1350|",
				"2000|USA|Calculator|75|", "2000|USA|Computer|1500|", "2000|USA|<nil>|1575|", "2000|<nil>|<nil>|4525|",
				"2001|Finland|Phone|10|", "2001|Finland|<nil>|10|",
				"2001|USA|Calculator|50|", "2001|USA|Computer|2700|", "2001|USA|TV|250|", "2001|USA|<nil>|3000|",
				"2001|<nil>|<nil>|3010|", "<nil>|<nil>|<nil>|7535|"}},
		{"GROUPING", "SELECT year, country, SUM(profit) AS profit, GROUPING(year) AS grp_year, GROUPING(country) AS grp_country FROM events GROUP BY year, country WITH ROLLUP",
			[]string{"2000|Finland|1600|0|0|", "2000|India|1350|0|0|", "2000|USA|1575|0|0|", "2000|<nil>|4525|0|1|",
				"2001|Finland|10|0|0|", "2001|USA|3000|0|0|", "2001|<nil>|3010|0|1|", "<nil>|<nil>|7535|1|1|"}},
		{"IF(GROUPING)", "SELECT IF(GROUPING(year), 'All years', year) AS year, IF(GROUPING(country), 'All countries', country) AS country, SUM(profit) AS profit FROM events GROUP BY year, country WITH ROLLUP",
			[]string{"2000|Finland|1600|", "2000|India|1350|", "2000|USA|1575|", "2000|All countries|4525|",
				"2001|Finland|10|", "2001|USA|3000|", "2001|All countries|3010|", "All years|All countries|7535|"}},
		// HAVING filters super-aggregate rows too.
		{"having", "SELECT year, country, SUM(profit) AS total FROM events GROUP BY year, country WITH ROLLUP HAVING total > 1500",
			[]string{"2000|Finland|1600|", "2000|USA|1575|", "2000|<nil>|4525|", "2001|USA|3000|", "2001|<nil>|3010|", "<nil>|<nil>|7535|"}},
		// ORDER BY sorts every row; NULL is the lowest value.
		{"order by", "SELECT year, SUM(profit) AS profit FROM events GROUP BY year WITH ROLLUP ORDER BY year DESC",
			[]string{"2001|3010|", "2000|4525|", "<nil>|7535|"}},
		{"order by position, limit", "SELECT country, COUNT(*) FROM events GROUP BY 1 WITH ROLLUP ORDER BY 2 DESC LIMIT 2",
			[]string{"<nil>|13|", "USA|7|"}},
		// WHERE filters rows before grouping, rolled-up column or not.
		{"where on a grouped column", "SELECT country, SUM(profit) FROM events WHERE country <> 'India' GROUP BY country WITH ROLLUP",
			[]string{"Finland|1610|", "USA|4575|", "<nil>|6185|"}},
		{"empty input", "SELECT year, SUM(profit) FROM events WHERE year = 1999 GROUP BY year WITH ROLLUP", nil},
	}
	for _, c := range cases {
		got := orderedRows(t, conn, c.q)
		if strings.Join(got, " ") != strings.Join(c.want, " ") {
			t.Errorf("%s: %s\n got %v\nwant %v (MySQL 8)", c.name, c.q, got, c.want)
		}
	}
	// sql_select_limit caps a WITH ROLLUP query as any SELECT (JDBC
	// setMaxRows); its own LIMIT takes precedence.
	if _, err := conn.ExecContext(context.Background(), "SET SQL_SELECT_LIMIT = 2"); err != nil {
		t.Fatal(err)
	}
	if got := orderedRows(t, conn, "SELECT year, SUM(profit) AS profit FROM events GROUP BY year WITH ROLLUP"); strings.Join(got, " ") != "2000|4525| 2001|3010|" {
		t.Errorf("WITH ROLLUP under sql_select_limit 2: %v", got)
	}
	if got := orderedRows(t, conn, "SELECT year, SUM(profit) AS profit FROM events GROUP BY year WITH ROLLUP LIMIT 3"); len(got) != 3 {
		t.Errorf("WITH ROLLUP ... LIMIT 3 under sql_select_limit 2: %v, want 3 rows", got)
	}
	if _, err := conn.ExecContext(context.Background(), "SET SQL_SELECT_LIMIT = DEFAULT"); err != nil {
		t.Fatal(err)
	}
	// Column names are the query's.
	rows, err := db.Query("SELECT year, country, SUM(profit) FROM events GROUP BY year, country WITH ROLLUP")
	if err != nil {
		t.Fatal(err)
	}
	cols, _ := rows.Columns()
	rows.Close()
	if strings.Join(cols, ",") != "year,country,SUM(profit)" {
		t.Errorf("columns %v, want year, country, SUM(profit)", cols)
	}
	// What is not rewritten says so.
	_, err = db.Exec("SELECT * FROM events GROUP BY year WITH ROLLUP")
	var me *gomysql.MySQLError
	if !errors.As(err, &me) || me.Number != 1235 {
		t.Errorf("SELECT * WITH ROLLUP: %v, want 1235 ER_NOT_SUPPORTED_YET", err)
	}
}

// TestTemporaryTables runs what Tableau sends for a filter (CREATE
// TEMPORARY TABLE, INSERT, SELECT ... JOIN, DROP TABLE) and checks MySQL's
// rules (MySQL 8.0 manual 15.1.20.2 "CREATE TEMPORARY TABLE Statement":
// visible only to the session that made it, dropped when the session
// ends, hides a table of the same name; SHOW TABLES does not list it;
// 15.1.32 DROP TABLE ... TEMPORARY), errors 1050 (42S01) for a second
// table of the same name and 1146 (42S02) after DROP, and arb's bound: an
// INSERT past the session's bytes fails whole with 1114 (ER_RECORD_FILE_FULL,
// MySQL's answer for an in-memory table past max_heap_table_size).
func TestTemporaryTables(t *testing.T) {
	srv := startTestServer(t, t.TempDir())
	db := openRawDB(t, srv)
	mustExec(t, db, "INSERT INTO events (time, event, distinct_id) VALUES ('2025-01-01 10:00:00', 'a', 'u1'), ('2025-01-01 10:00:01', 'b', 'u2'), ('2025-01-01 10:00:02', 'c', 'u3')")
	ctx := context.Background()
	a, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	exec := func(c *sql.Conn, q string) error {
		_, err := c.ExecContext(ctx, q)
		return err
	}
	code := func(err error) uint16 {
		var me *gomysql.MySQLError
		if errors.As(err, &me) {
			return me.Number
		}
		return 0
	}
	for _, q := range []string{
		"CREATE TEMPORARY TABLE `#Tableau_1_Filter` (`X_id` VARCHAR(255), `weight` INT)",
		"INSERT INTO `#Tableau_1_Filter` (`X_id`, `weight`) VALUES ('u1', 10), ('u3', 30)",
	} {
		if err := exec(a, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if got := queryRows(t, a, "SELECT e.event, f.weight FROM events e JOIN `#Tableau_1_Filter` f ON e.distinct_id = f.X_id"); strings.Join(got, " ") != "a|10| c|30|" {
		t.Errorf("join with the temporary table: %v, want a|10| c|30|", got)
	}
	if err := exec(a, "CREATE TEMPORARY TABLE `#Tableau_1_Filter` (x INT)"); code(err) != 1050 {
		t.Errorf("second CREATE of the same name: %v, want 1050", err)
	}
	// Another session sees nothing.
	if _, err := b.QueryContext(ctx, "SELECT * FROM `#Tableau_1_Filter`"); code(err) != 1146 {
		t.Errorf("another session reading the temporary table: %v, want 1146", err)
	}
	if got := queryRows(t, a, "SHOW TABLES"); strings.Join(got, " ") != "events| groups| people|" {
		t.Errorf("SHOW TABLES in the creating session: %v, want only arb's tables", got)
	}
	// A temporary table named events hides arb's for every INSERT path
	// (the native literal-VALUES one too).
	if err := exec(a, "CREATE TEMPORARY TABLE events (time DATETIME, event VARCHAR(64), distinct_id VARCHAR(64))"); err != nil {
		t.Fatal(err)
	}
	if err := exec(a, "INSERT INTO events (time, event, distinct_id) VALUES ('2025-02-01 00:00:00', 'temp', 'u9')"); err != nil {
		t.Fatal(err)
	}
	if got := queryRows(t, b, "SELECT COUNT(*) FROM events WHERE event = 'temp'"); strings.Join(got, " ") != "0|" {
		t.Errorf("an INSERT into a temporary events reached arb's events: %v", got)
	}
	if err := exec(a, "DROP TEMPORARY TABLE events"); err != nil {
		t.Fatal(err)
	}
	// CREATE TEMPORARY TABLE ... AS SELECT; it hides events for session a.
	if err := exec(a, "CREATE TEMPORARY TABLE events AS SELECT event, COUNT(*) AS n FROM events GROUP BY event"); err != nil {
		t.Fatal(err)
	}
	if got := queryRows(t, a, "SELECT * FROM events"); strings.Join(got, " ") != "a|1| b|1| c|1|" {
		t.Errorf("temporary events hiding the table: %v", got)
	}
	if got := queryRows(t, b, "SELECT COUNT(*) FROM events"); strings.Join(got, " ") != "3|" {
		t.Errorf("the other session's events: %v, want the 3 events", got)
	}
	if err := exec(a, "DROP TEMPORARY TABLE events"); err != nil {
		t.Fatal(err)
	}
	if got := queryRows(t, a, "SELECT COUNT(*) FROM events"); strings.Join(got, " ") != "3|" {
		t.Errorf("events after dropping the temporary one: %v, want the 3 events", got)
	}
	// DELETE and TRUNCATE.
	if err := exec(a, "DELETE FROM `#Tableau_1_Filter` WHERE weight = 10"); err != nil {
		t.Fatal(err)
	}
	if got := queryRows(t, a, "SELECT X_id FROM `#Tableau_1_Filter`"); strings.Join(got, " ") != "u3|" {
		t.Errorf("after DELETE: %v, want u3", got)
	}
	// The bound: an INSERT past the session's bytes fails whole.
	defer func(old int64) { tempTableSessionBytes = old }(tempTableSessionBytes)
	tempTableSessionBytes = 4096
	big := "INSERT INTO `#Tableau_1_Filter` VALUES " + strings.TrimSuffix(strings.Repeat("('"+strings.Repeat("x", 200)+"', 1),", 30), ",")
	if err := exec(a, big); code(err) != 1114 {
		t.Errorf("INSERT past the bound: %v, want 1114", err)
	}
	if got := queryRows(t, a, "SELECT COUNT(*) FROM `#Tableau_1_Filter`"); strings.Join(got, " ") != "1|" {
		t.Errorf("rows after a refused INSERT: %v, want the 1 row before it", got)
	}
	if err := exec(a, "TRUNCATE TABLE `#Tableau_1_Filter`"); err != nil {
		t.Fatal(err)
	}
	if err := exec(a, "INSERT INTO `#Tableau_1_Filter` VALUES ('u1', 1)"); err != nil {
		t.Errorf("INSERT after TRUNCATE freed the bytes: %v", err)
	}
	if err := exec(a, "DROP TABLE `#Tableau_1_Filter`"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.QueryContext(ctx, "SELECT * FROM `#Tableau_1_Filter`"); code(err) != 1146 {
		t.Errorf("after DROP TABLE: %v, want 1146", err)
	}
	// arb's own tables are not dropped.
	if err := exec(a, "DROP TABLE events"); code(err) != 1235 {
		t.Errorf("DROP TABLE events: %v, want 1235", err)
	}
	// The session's end drops its temporary tables.
	if err := exec(b, "CREATE TEMPORARY TABLE gone (x INT)"); err != nil {
		t.Fatal(err)
	}
	var id int64
	if err := b.QueryRowContext(ctx, "SELECT CONNECTION_ID()").Scan(&id); err != nil {
		t.Fatal(err)
	}
	if s, ok := srv.sessions.Load(uint32(id)); !ok || s.(*session).temp == nil || len(s.(*session).temp.tables) != 1 {
		t.Fatalf("session %d does not hold its temporary table", id)
	}
	b.Raw(func(dc any) error { return dc.(io.Closer).Close() })
	b.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, ok := srv.sessions.Load(uint32(id)); !ok {
			break // the session, and its tables with it, is gone
		}
		if time.Now().After(deadline) {
			t.Fatalf("session %d (and its temporary table) outlived its connection", id)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestTemporaryTablePrivileges: CREATE TEMPORARY TABLE needs the CREATE
// TEMPORARY TABLES privilege, and then "the server performs no further
// privilege checks on the table. The creating session can perform any
// operation on the table, such as DROP TABLE, INSERT, UPDATE, or SELECT"
// (MySQL 8.0 manual 15.1.20.2): a read-only analyst can run Tableau's
// filter tables and still not write arb's.
func TestTemporaryTablePrivileges(t *testing.T) {
	srv := startPasswordServer(t, "rootpw")
	root, err := sql.Open("mysql", fmt.Sprintf("root:rootpw@tcp(%s)/default", srv.MySQLAddr()))
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	mustExec(t, root, "CREATE USER 'analyst'@'%' IDENTIFIED WITH mysql_native_password BY 'apw'")
	mustExec(t, root, "GRANT SELECT, CREATE TEMPORARY TABLES ON `default`.* TO 'analyst'@'%'")
	mustExec(t, root, "CREATE USER 'reader'@'%' IDENTIFIED WITH mysql_native_password BY 'rpw'")
	mustExec(t, root, "GRANT SELECT ON `default`.* TO 'reader'@'%'")
	mustExec(t, root, "INSERT INTO events (time, event, distinct_id) VALUES ('2025-01-01 10:00:00', 'a', 'u1')")
	open := func(user, pass string) *sql.Conn {
		db, err := sql.Open("mysql", fmt.Sprintf("%s:%s@tcp(%s)/default", user, pass, srv.MySQLAddr()))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		c, err := db.Conn(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	code := func(err error) uint16 {
		var me *gomysql.MySQLError
		if errors.As(err, &me) {
			return me.Number
		}
		return 0
	}
	analyst := open("analyst", "apw")
	for _, q := range []string{
		"CREATE TEMPORARY TABLE f (id VARCHAR(64))",
		"INSERT INTO f VALUES ('u1'), ('u2')",
		"DELETE FROM f WHERE id = 'u2'",
	} {
		if _, err := analyst.ExecContext(context.Background(), q); err != nil {
			t.Fatalf("analyst: %s: %v", q, err)
		}
	}
	if got := queryRows(t, analyst, "SELECT e.event FROM events e JOIN f ON e.distinct_id = f.id"); strings.Join(got, " ") != "a|" {
		t.Errorf("analyst's join with its temporary table: %v", got)
	}
	if _, err := analyst.ExecContext(context.Background(), "INSERT INTO events (time, event, distinct_id) VALUES ('2025-01-01 10:00:00', 'b', 'u2')"); code(err) != 1142 {
		t.Errorf("analyst writing events: %v, want 1142", err)
	}
	if _, err := analyst.ExecContext(context.Background(), "DROP TABLE f"); err != nil {
		t.Errorf("analyst dropping its temporary table: %v", err)
	}
	// Without CREATE TEMPORARY TABLES: refused, as in MySQL.
	reader := open("reader", "rpw")
	if _, err := reader.ExecContext(context.Background(), "CREATE TEMPORARY TABLE g (x INT)"); err == nil {
		t.Errorf("reader (SELECT only) created a temporary table")
	}
}

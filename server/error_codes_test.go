package server

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"arb/storage"
)

// TestErrorCodes checks, through a driver that reads them, the MySQL error
// numbers and SQLSTATEs that BI tools branch on (Grafana shows the message
// only for some; Metabase's cancel and retry logic looks at the number).
func TestErrorCodes(t *testing.T) {
	srv := startTestServer(t, t.TempDir())
	db := openDB(t, srv, "")
	mustExec(t, db, "INSERT INTO events (time, event, distinct_id) VALUES ('2025-01-01 10:00:00', 'Signup', 'u1')")
	cases := []struct {
		name, query string
		num         uint16
		state       string
		msg         []string // substrings the message must hold
	}{
		{"kill unknown id", "KILL 987654", 1094, "HY000", []string{"Unknown thread id: 987654"}},
		{"kill query unknown id", "KILL QUERY 987654", 1094, "HY000", []string{"Unknown thread id: 987654"}},
		{"unknown function", "SELECT no_such_fn(1)", 1305, "42000", []string{"FUNCTION default.no_such_fn does not exist"}},
		{"unknown function in WHERE", "SELECT * FROM events WHERE no_such_fn(event) = 1", 1305, "42000", []string{"FUNCTION default.no_such_fn does not exist"}},
		{"unknown column of a joined table", "SELECT p.name FROM events e JOIN people p ON e.distinct_id = p.distinct_id", 1054, "42S22", []string{"Unknown column 'p.name'"}},
		{"unknown column", "SELECT no_such_col FROM events", 1054, "42S22", []string{"no_such_col"}},
		{"syntax error", "SELEC 1", 1064, "42000", nil},
		{"DATE literal that is no date", "SELECT DATE '2024-13-01'", 1525, "HY000", []string{"Incorrect DATE value: '2024-13-01'"}},
		{"TIME literal that is no time", "SELECT COUNT(*) FROM events WHERE TIME(time) < TIME '10:61'", 1525, "HY000", []string{"Incorrect TIME value: '10:61'"}},
		{"TIMESTAMP literal that is no time", "SELECT COUNT(*) FROM events WHERE time < TIMESTAMP '2024-02-30 10:00:00'", 1525, "HY000", []string{"Incorrect DATETIME value: '2024-02-30 10:00:00'"}},
		{"unknown table", "SELECT * FROM no_such_table", 1146, "42S02", nil},
		{"bad time in a multi-row INSERT", "INSERT INTO events (time, event, distinct_id) VALUES ('2025-01-01 10:00:00', 'a', 'u1'), ('2025-01-01 10:00:01', 'b', 'u2'), ('not a time', 'c', 'u3')",
			1292, "22007", []string{"Incorrect datetime value: 'not a time' for column 'time' at row 3"}},
	}
	// KILL of a connection that exists still works.
	ctx := context.Background()
	other, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	var id int64
	if err := other.QueryRowContext(ctx, "SELECT CONNECTION_ID()").Scan(&id); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(fmt.Sprintf("KILL QUERY %d", id)); err != nil {
		t.Errorf("KILL QUERY of connection %d: %v", id, err)
	}
	for _, c := range cases {
		_, err := db.Exec(c.query)
		var me *mysql.MySQLError
		if !errors.As(err, &me) {
			t.Errorf("%s: %s: got %v, want MySQL error %d", c.name, c.query, err, c.num)
			continue
		}
		if me.Number != c.num || string(me.SQLState[:]) != c.state {
			t.Errorf("%s: %s: got %d/%s %q, want %d/%s", c.name, c.query, me.Number, me.SQLState[:], me.Message, c.num, c.state)
		}
		for _, m := range c.msg {
			if !strings.Contains(me.Message, m) {
				t.Errorf("%s: %s: message %q does not hold %q", c.name, c.query, me.Message, m)
			}
		}
	}
}

// errorEnv holds the servers the error-code cases need, each started on
// first use: MySQL refuses some statements only under a configuration
// (accounts, limits, TLS required).
type errorEnv struct {
	t        *testing.T
	servers  map[string]*Server
	analyst  *sql.DB // analyst with SELECT on default.* only, on the "auth" server
	rootAuth *sql.DB
}

// server starts (once) the server of a kind: "plain", "auth" (root
// password, an analyst account), "limits" (1 query at a time, 300 ms
// queue timeout), "conns" (1 connection), "secure" (TLS required),
// "columns" (2 property columns per table).
func (e *errorEnv) server(kind string) *Server {
	if s, ok := e.servers[kind]; ok {
		return s
	}
	cfg := Config{
		DataDir: e.t.TempDir(), MySQLAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0",
		Projects: []ProjectSpec{{Name: "default", Token: "tok", Secret: "sec"}, {Name: "shop", Token: "tok2", Secret: "sec2"}},
		Logger:   slog.New(slog.NewTextHandler(io.Discard, nil)),
		Store:    storage.Options{FlushInterval: time.Hour, DisableCompaction: true},
	}
	switch kind {
	case "auth":
		cfg.RootPassword = "rootpw"
	case "limits":
		cfg.Queries = QueryLimits{MaxConcurrent: 1, QueueTimeout: 300 * time.Millisecond}
	case "conns":
		cfg.MySQLMaxConnections = 1
	case "secure":
		cfg.RequireSecureTransport = true
	case "columns":
		cfg.Store.MaxColumns = 2
	}
	srv, err := Start(cfg)
	if err != nil {
		e.t.Fatalf("start %s server: %v", kind, err)
	}
	e.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	e.servers[kind] = srv
	db := e.open(kind, "root", "", "default")
	if kind == "auth" {
		db = e.open(kind, "root", "rootpw", "default")
		e.rootAuth = db
		mustExec(e.t, db, "CREATE USER 'analyst'@'%' IDENTIFIED BY 'apw'")
		mustExec(e.t, db, "GRANT SELECT ON `default`.* TO 'analyst'@'%'")
		e.analyst = e.open(kind, "analyst", "apw", "default")
	}
	if kind != "conns" {
		mustExec(e.t, db, "INSERT INTO events (time, event, distinct_id) VALUES ('2025-01-01 10:00:00', 'Signup', 'u1')")
	}
	return srv
}

// open is a go-sql-driver pool on a server of kind, TLS when offered.
func (e *errorEnv) open(kind, user, pass, db string) *sql.DB {
	srv := e.servers[kind]
	pool, err := sql.Open("mysql", fmt.Sprintf("%s:%s@tcp(%s)/%s?tls=skip-verify", user, pass, srv.MySQLAddr(), db))
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { pool.Close() })
	return pool
}

// exec runs queries in order on one connection of a pool and returns the
// first error.
func exec(db *sql.DB, queries ...string) error {
	ctx := context.Background()
	c, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	for _, q := range queries {
		if _, err := c.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	return nil
}

// TestErrorCodeTable is the table of the MySQL error numbers and
// SQLSTATEs arb promises, each produced through go-sql-driver and read
// from its MySQLError. Numbers, SQLSTATEs and names are MySQL 8.0's
// (MySQL 8.0 Error Reference, "Server Error Message Reference": each entry
// gives "Error number: N; Symbol: ER_...; SQLSTATE: S"); the case comment
// says where MySQL raises it. Elsewhere: 1021 (disk full) in
// integration/faults_test.go; 3024 (max_execution_time), 1114 for a query
// past --query-memory-bytes, 1317 for a killed native scan in
// query_limits_test.go; LOAD DATA's numbers in its own tests; COM_CHANGE_USER's
// 1045 in TestComChangeUser.
func TestErrorCodeTable(t *testing.T) {
	env := &errorEnv{t: t, servers: map[string]*Server{}}
	plain := func(queries ...string) func() error {
		return func() error { return exec(env.open("plain", "root", "", "default"), queries...) }
	}
	cases := []struct {
		name   string
		server string
		run    func() error
		num    uint16
		state  string
	}{
		// ER_PARSE_ERROR: a statement that is not SQL.
		{"syntax error", "plain", plain("SELEC 1"), 1064, "42000"},
		// ER_BAD_FIELD_ERROR: a column no table has, also one qualified by a joined table.
		{"unknown column", "plain", plain("SELECT no_such_col FROM events"), 1054, "42S22"},
		{"unknown column of a joined table", "plain", plain("SELECT p.name FROM events e JOIN people p ON e.distinct_id = p.distinct_id"), 1054, "42S22"},
		// ER_NO_SUCH_TABLE.
		{"unknown table", "plain", plain("SELECT * FROM no_such_table"), 1146, "42S02"},
		// ER_BAD_DB_ERROR: USE of a database that does not exist.
		{"unknown database", "plain", plain("USE no_such_db"), 1049, "42000"},
		// ER_NO_SUCH_THREAD: KILL of an id that is no connection.
		{"kill unknown id", "plain", plain("KILL 987654"), 1094, "HY000"},
		// ER_SP_DOES_NOT_EXIST: a function that does not exist.
		{"unknown function", "plain", plain("SELECT no_such_fn(1)"), 1305, "42000"},
		// ER_TRUNCATED_WRONG_VALUE: a datetime that is none, in strict mode.
		{"bad datetime", "plain", plain("INSERT INTO events (time, event, distinct_id) VALUES ('not a time', 'a', 'u1')"), 1292, "22007"},
		// ER_BAD_NULL_ERROR: a NOT NULL column given nothing (an event's name).
		{"event without a name", "plain", plain("INSERT INTO events (time, event, distinct_id) VALUES ('2025-01-01 10:00:00', '', 'u1')"), 1048, "23000"},
		// ER_TRUNCATED_WRONG_VALUE_FOR_FIELD: a value the column cannot take (bytes that are not UTF-8).
		{"invalid utf-8", "plain", plain("INSERT INTO events (time, event, distinct_id) VALUES ('2025-01-01 10:00:00', X'ff', 'u1')"), 1366, "HY000"},
		// ER_NOT_SUPPORTED_YET: what arb does not do.
		{"drop an arb table", "plain", plain("DROP TABLE events"), 1235, "42000"},
		{"select * with rollup", "plain", plain("SELECT * FROM events GROUP BY event WITH ROLLUP"), 1235, "42000"},
		// ER_COLLATION_CHARSET_MISMATCH and ER_UNKNOWN_COLLATION: SET NAMES ... COLLATE.
		{"collation of another charset", "plain", plain("SET NAMES utf8mb4 COLLATE latin1_swedish_ci"), 1253, "42000"},
		{"unknown collation", "plain", plain("SET NAMES utf8mb4 COLLATE no_such_collation"), 1273, "HY000"},
		// ER_TOO_BIG_PRECISION: a fractional-seconds precision past 6.
		{"precision past 6", "plain", plain("SELECT UTC_TIMESTAMP(7)"), 1426, "42000"},
		{"precision past 6 in NOW", "plain", plain("SELECT NOW(7)"), 1426, "42000"},
		// ER_TABLE_EXISTS_ERROR: CREATE of a name the session already has.
		{"temporary table exists", "plain", plain("CREATE TEMPORARY TABLE t1 (a INT)", "CREATE TEMPORARY TABLE t1 (a INT)"), 1050, "42S01"},
		// ER_RECORD_FILE_FULL: an in-memory table past its bound.
		{"temporary table full", "plain", func() error {
			defer func(old int64) { tempTableSessionBytes = old }(tempTableSessionBytes)
			tempTableSessionBytes = 1024
			return exec(env.open("plain", "root", "", "default"), "CREATE TEMPORARY TABLE t2 (a VARCHAR(255))",
				"INSERT INTO t2 VALUES ('"+strings.Repeat("x", 200)+"'), ('"+strings.Repeat("y", 200)+"'), ('"+strings.Repeat("z", 200)+"'), ('"+strings.Repeat("w", 200)+"'), ('"+strings.Repeat("v", 200)+"')")
		}, 1114, "HY000"},
		// ER_TOO_MANY_FIELDS: a table past --max-columns.
		{"too many columns", "columns", func() error {
			return exec(env.open("columns", "root", "", "default"), "INSERT INTO events (time, event, distinct_id, a, b, c) VALUES ('2025-01-01 10:00:00', 'e', 'u1', 1, 2, 3)")
		}, 1117, "HY000"},
		// ER_ACCESS_DENIED_ERROR: a wrong password at connect.
		{"wrong password", "auth", func() error { return exec(env.open("auth", "analyst", "wrong", "default"), "SELECT 1") }, 1045, "28000"},
		// ER_TABLEACCESS_DENIED_ERROR: a write without INSERT.
		{"insert without the privilege", "auth", func() error {
			return exec(env.analyst, "INSERT INTO events (time, event, distinct_id) VALUES ('2025-01-01 10:00:00', 'e', 'u1')")
		}, 1142, "42000"},
		// ER_DBACCESS_DENIED_ERROR: USE of a database without privileges on it.
		{"database without privileges", "auth", func() error { return exec(env.analyst, "USE shop") }, 1044, "42000"},
		// ER_SPECIFIC_ACCESS_DENIED_ERROR: SET GLOBAL without SYSTEM_VARIABLES_ADMIN.
		{"set global without the privilege", "auth", func() error { return exec(env.analyst, "SET GLOBAL max_connections = 10") }, 1227, "42000"},
		// ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION.
		{"write in a read-only transaction", "auth", func() error {
			return exec(env.rootAuth, "SET SESSION TRANSACTION READ ONLY", "INSERT INTO events (time, event, distinct_id) VALUES ('2025-01-01 10:00:00', 'e', 'u1')")
		}, 1792, "25006"},
		// ER_CON_COUNT_ERROR: a connection past max_connections (sent in
		// place of the greeting, before any SQLSTATE is negotiated).
		{"too many connections", "conns", func() error {
			first := env.open("conns", "root", "", "default")
			c, err := first.Conn(context.Background())
			if err != nil {
				return err
			}
			defer c.Close()
			return exec(env.open("conns", "root", "", "default"), "SELECT 1")
		}, 1040, "HY000"},
		// ER_SECURE_TRANSPORT_REQUIRED: a plaintext client under --require-secure-transport.
		{"plaintext under require_secure_transport", "secure", func() error {
			db, err := sql.Open("mysql", fmt.Sprintf("root@tcp(%s)/default?tls=false", env.servers["secure"].MySQLAddr()))
			if err != nil {
				return err
			}
			defer db.Close()
			return exec(db, "SELECT 1")
		}, 3159, "HY000"},
		// ER_LOCK_WAIT_TIMEOUT: a statement that waited its whole queue timeout for a slot.
		{"query queue timeout", "limits", func() error {
			db := env.open("limits", "root", "", "default")
			ctx := context.Background()
			holder, err := db.Conn(ctx)
			if err != nil {
				return err
			}
			defer holder.Close()
			var id int64
			if err := holder.QueryRowContext(ctx, "SELECT CONNECTION_ID()").Scan(&id); err != nil {
				return err
			}
			held := make(chan error, 1)
			go func() {
				_, err := holder.ExecContext(ctx, "SELECT SLEEP(2) FROM events")
				held <- err
			}()
			if _, ok := waitFor(5*time.Second, func() bool { return running(t, db, id) }); !ok {
				return errors.New("the holding query never ran")
			}
			err = exec(db, "SELECT COUNT(*) FROM events WHERE event = 'x'")
			<-held
			return err
		}, 1205, "HY000"},
		// ER_QUERY_INTERRUPTED: a statement stopped by KILL QUERY.
		{"killed query", "limits", func() error {
			db := env.open("limits", "root", "", "default")
			ctx := context.Background()
			victim, err := db.Conn(ctx)
			if err != nil {
				return err
			}
			defer victim.Close()
			var id int64
			if err := victim.QueryRowContext(ctx, "SELECT CONNECTION_ID()").Scan(&id); err != nil {
				return err
			}
			done := make(chan error, 1)
			go func() {
				_, err := victim.ExecContext(ctx, "SELECT SLEEP(3)")
				done <- err
			}()
			if _, ok := waitFor(5*time.Second, func() bool { return running(t, db, id) }); !ok {
				return errors.New("the query to kill never ran")
			}
			if err := exec(db, fmt.Sprintf("KILL QUERY %d", id)); err != nil {
				return err
			}
			return <-done
		}, 1317, "70100"},
	}
	// Servers and pools belong to the whole test, not to one case.
	for _, c := range cases {
		env.server(c.server)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.run()
			var me *mysql.MySQLError
			if !errors.As(err, &me) {
				t.Fatalf("got %v, want MySQL error %d (%s)", err, c.num, c.state)
			}
			state := string(me.SQLState[:])
			if c.num == 1040 && me.SQLState == [5]byte{} {
				state = "HY000" // sent before the handshake: no SQLSTATE marker, HY000 by default
			}
			if me.Number != c.num || state != c.state {
				t.Errorf("got %d (%s) %q, want %d (%s)", me.Number, state, me.Message, c.num, c.state)
			}
		})
	}
}

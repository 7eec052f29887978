package server

// Time grains and date/time functions as BI tools send them (issue 16,
// items 2 and 6), checked through the MySQL protocol against the results
// the MySQL 8.0 reference manual documents (section 14.7 "Date and Time
// Functions", 14.6.2 "Mathematical Functions" for DIV). Expected values
// are MySQL's text rendering of each result, as a client reads it.

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"
	"strings"
	"testing"
)

// openRawDB opens a connection that returns every value as the text the
// server sent (no parseTime), so a test sees exactly what a client prints.
func openRawDB(t *testing.T, srv *Server) *sql.DB {
	t.Helper()
	db, err := sql.Open("mysql", fmt.Sprintf("root@tcp(%s)/default?loc=UTC", srv.MySQLAddr()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// queryText runs q and returns its single row's single value as text
// ("NULL" for SQL NULL) and the column's database type name; an error
// comes back as the text "error: ...", which no expected value matches.
func queryText(db *sql.DB, q string) (text, typ string) {
	rows, err := db.Query(q)
	if err != nil {
		return "error: " + err.Error(), ""
	}
	defer rows.Close()
	cts, err := rows.ColumnTypes()
	if err != nil {
		return "error: " + err.Error(), ""
	}
	if !rows.Next() {
		return fmt.Sprintf("error: no row (%v)", rows.Err()), ""
	}
	var v sql.RawBytes
	if err := rows.Scan(&v); err != nil {
		return "error: " + err.Error(), ""
	}
	if v == nil {
		return "NULL", cts[0].DatabaseTypeName()
	}
	return string(v), cts[0].DatabaseTypeName()
}

// TestTimeFunctionsMatchMySQL checks each function against the MySQL 8.0
// manual's examples (and values derived by its stated rules).
func TestTimeFunctionsMatchMySQL(t *testing.T) {
	srv := startTestServer(t, t.TempDir())
	db := openRawDB(t, srv)
	cases := []struct{ q, want string }{
		// STR_TO_DATE with year-of-week formats: %X%V %W is Metabase's
		// "by week" grain (manual: '200442 Monday' is 2004-10-18).
		{"STR_TO_DATE('200442 Monday', '%X%V %W')", "2004-10-18"},
		{"STR_TO_DATE('202452 Sunday', '%X%V %W')", "2024-12-29"},
		{"STR_TO_DATE('202501 Sunday', '%X%V %W')", "2025-01-05"},
		{"STR_TO_DATE('202101 Monday', '%x%v %W')", "2021-01-04"},
		{"STR_TO_DATE(CONCAT(YEARWEEK('2025-01-01'),' Sunday'),'%X%V %W')", "2024-12-29"},
		{"STR_TO_DATE(CONCAT(YEARWEEK('2025-01-05 10:00:00'),' Sunday'),'%X%V %W')", "2025-01-05"},
		{"STR_TO_DATE(CONCAT(YEARWEEK('2025-03-15'),' Sunday'),'%X%V %W')", "2025-03-09"},
		// Plain formats keep working.
		{"STR_TO_DATE('01,5,2013','%d,%m,%Y')", "2013-05-01"},
		{"STR_TO_DATE('2025-02-01','%Y-%m-%d')", "2025-02-01"},
		// NULL in, NULL out; a number is read as its text (MySQL 8).
		{"STR_TO_DATE(NULL,'%Y-%m-%d')", "NULL"},
		{"STR_TO_DATE('2025-02-01',NULL)", "NULL"},
		{"STR_TO_DATE(20240102,'%Y%m%d')", "2024-01-02"},
		{"STR_TO_DATE(NULL,'%X%V %W')", "NULL"},
		// MAKEDATE (manual examples).
		{"MAKEDATE(2011,31)", "2011-01-31"},
		{"MAKEDATE(2011,32)", "2011-02-01"},
		{"MAKEDATE(2011,365)", "2011-12-31"},
		{"MAKEDATE(2014,365)", "2014-12-31"},
		{"MAKEDATE(2011,0)", "NULL"},
		{"MAKEDATE(2012,366)", "2012-12-31"},
		{"MAKEDATE(2011,366)", "2012-01-01"},
		{"MAKEDATE(NULL,1)", "NULL"},
		// MAKETIME.
		{"MAKETIME(12,15,30)", "12:15:30"},
		{"MAKETIME(-1,2,3)", "-01:02:03"},
		{"MAKETIME(100,0,0)", "100:00:00"},
		{"MAKETIME(1,60,0)", "NULL"},
		// SEC_TO_TIME and TIME_TO_SEC (manual examples).
		{"SEC_TO_TIME(2378)", "00:39:38"},
		{"SEC_TO_TIME(-3661)", "-01:01:01"},
		{"SEC_TO_TIME(90061)", "25:01:01"},
		{"TIME_TO_SEC('22:23:00')", "80580"},
		{"TIME_TO_SEC('00:39:38')", "2378"},
		{"TIME_TO_SEC('01:01:01')", "3661"},
		{"TIME_TO_SEC(SEC_TO_TIME(90061))", "90061"},
		// PERIOD_ADD and PERIOD_DIFF (manual examples).
		{"PERIOD_ADD(200801,2)", "200803"},
		{"PERIOD_ADD(200812,1)", "200901"},
		{"PERIOD_ADD(0801,2)", "200803"},
		{"PERIOD_DIFF(200802,200703)", "11"},
		{"PERIOD_DIFF(200703,200802)", "-11"},
		{"PERIOD_DIFF(0802,0703)", "11"},
		// DIV truncates toward zero for every operand type.
		{"599.000 DIV 300", "1"},
		{"5 DIV 2", "2"},
		{"-5 DIV 2", "-2"},
		{"5 DIV -2", "-2"},
		{"-5 DIV -2", "2"},
		{"1.9 DIV 1", "1"},
		{"-1.9 DIV 1", "-1"},
		{"7.5e0 DIV 2", "3"},
		{"'7.9' DIV 2", "3"},
		{"1735725899.999 DIV 300 * 300", "1735725600"},
		{"10 DIV 0", "NULL"},
		{"NULL DIV 2", "NULL"},
		// UNIX_TIMESTAMP and FROM_UNIXTIME. The manual's examples ran at
		// UTC-6 (1447431619 is its '2015-11-13 10:20:19'); the session
		// here is UTC, so the same instants read 6 hours later.
		{"UNIX_TIMESTAMP('2015-11-13 16:20:19')", "1447431619"},
		{"UNIX_TIMESTAMP('2015-11-13 16:20:19.012')", "1447431619.012"},
		{"UNIX_TIMESTAMP(CAST('2025-01-01 00:00:00' AS DATETIME))", "1735689600"},
		{"UNIX_TIMESTAMP(DATE('2025-01-01 10:00:00'))", "1735689600"},
		{"FROM_UNIXTIME(1447431619)", "2015-11-13 16:20:19"},
		{"FROM_UNIXTIME(1735689600.5)", "2025-01-01 00:00:00.5"},
		{"FROM_UNIXTIME(1735689600.123456)", "2025-01-01 00:00:00.123456"},
	}
	for _, c := range cases {
		got, _ := queryText(db, "SELECT "+c.q)
		if got != c.want {
			t.Errorf("SELECT %s = %q, want %q (MySQL 8)", c.q, got, c.want)
		}
	}
}

// TestTimeFunctionTypes checks result types clients branch on: Grafana
// reads UNIX_TIMESTAMP's result as an integer.
func TestTimeFunctionTypes(t *testing.T) {
	srv := startTestServer(t, t.TempDir())
	db := openRawDB(t, srv)
	cases := []struct{ q, typ string }{
		{"UNIX_TIMESTAMP(CAST('2025-01-01 00:00:00' AS DATETIME))", "BIGINT"},
		{"UNIX_TIMESTAMP(DATE('2025-01-01 10:00:00'))", "BIGINT"},
		{"UNIX_TIMESTAMP('2015-11-13 10:20:19')", "BIGINT"},
		{"UNIX_TIMESTAMP(NOW())", "BIGINT"},
		{"UNIX_TIMESTAMP()", "BIGINT"},
		{"UNIX_TIMESTAMP('2015-11-13 10:20:19.012')", "DECIMAL"},
		{"599.000 DIV 300", "BIGINT"},
		{"MAKEDATE(2011,31)", "DATE"},
		{"PERIOD_DIFF(200802,200703)", "BIGINT"},
	}
	for _, c := range cases {
		_, typ := queryText(db, "SELECT "+c.q)
		if typ != c.typ {
			t.Errorf("SELECT %s: type %s, want %s (MySQL 8)", c.q, typ, c.typ)
		}
	}
	got, _ := queryText(db, "SELECT UTC_TIMESTAMP(3)")
	if !regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}$`).MatchString(got) {
		t.Errorf("UTC_TIMESTAMP(3) = %q, want 3 fractional digits", got)
	}
	got, _ = queryText(db, "SELECT UTC_TIMESTAMP()")
	if !regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$`).MatchString(got) {
		t.Errorf("UTC_TIMESTAMP() = %q, want no fractional digits", got)
	}
}

// TestTimeGrainsOverEvents runs the time grains BI tools send over events
// at bucket and week edges, held partly in a flushed segment and partly
// in memory, with arb's pushdown on and off: each grain must put every
// event in MySQL 8's bucket. Grafana's 5-minute bucket
// (UNIX_TIMESTAMP(time) DIV 300 * 300, $__timeFilter as BETWEEN
// FROM_UNIXTIME) must keep 10:04:59.999 in the 10:00 bucket.
func TestTimeGrainsOverEvents(t *testing.T) {
	srv := startTestServer(t, t.TempDir())
	db := openRawDB(t, srv)
	mustExec(t, db, `INSERT INTO events (time, event, distinct_id) VALUES
		('2024-12-31 23:59:59.999', 'e', 'u1'),
		('2025-01-01 10:00:00.000', 'e', 'u1'),
		('2025-01-01 10:04:59.999', 'e', 'u2'),
		('2025-01-05 00:00:00.000', 'e', 'u3')`)
	if err := srv.Store().Flush(); err != nil {
		t.Fatal(err)
	}
	mustExec(t, db, `INSERT INTO events (time, event, distinct_id) VALUES
		('2025-01-01 10:05:00.000', 'e', 'u1'),
		('2025-01-01 10:09:59.999', 'e', 'u2'),
		('2025-03-31 23:59:59.999', 'e', 'u3'),
		('2025-04-01 00:00:00.000', 'e', 'u4')`)
	grains := []struct {
		name, q string
		want    []string
	}{
		{"grafana 5m", `SELECT UNIX_TIMESTAMP(time) DIV 300 * 300 AS t, COUNT(*) FROM events
			WHERE time BETWEEN FROM_UNIXTIME(1735722000) AND FROM_UNIXTIME(1735729200) GROUP BY 1 ORDER BY 1`,
			[]string{"1735725600|2|", "1735725900|2|"}},
		{"grafana 5m, all", `SELECT UNIX_TIMESTAMP(time) DIV 300 * 300 AS t, COUNT(*) FROM events GROUP BY 1`,
			[]string{"1735689300|1|", "1735725600|2|", "1735725900|2|", "1736035200|1|", "1743465300|1|", "1743465600|1|"}},
		{"grafana 5m, rows", `SELECT UNIX_TIMESTAMP(time) DIV 300 * 300 FROM events WHERE distinct_id = 'u2'`,
			[]string{"1735725600|", "1735725900|"}},
		{"metabase week", `SELECT STR_TO_DATE(CONCAT(YEARWEEK(time),' Sunday'),'%X%V %W') AS d, COUNT(*) FROM events GROUP BY 1`,
			[]string{"2024-12-29|5|", "2025-01-05|1|", "2025-03-30|2|"}},
		{"metabase month", `SELECT STR_TO_DATE(CONCAT(DATE_FORMAT(time, '%Y-%m'), '-01'), '%Y-%m-%d') AS d, COUNT(*) FROM events GROUP BY 1`,
			[]string{"2024-12-01|1|", "2025-01-01|5|", "2025-03-01|1|", "2025-04-01|1|"}},
		{"metabase quarter", `SELECT STR_TO_DATE(CONCAT(YEAR(time), '-', ((QUARTER(time) * 3) - 2), '-01'), '%Y-%m-%d') AS d, COUNT(*) FROM events GROUP BY 1`,
			[]string{"2024-10-01|1|", "2025-01-01|6|", "2025-04-01|1|"}},
		{"metabase year", `SELECT MAKEDATE(YEAR(time), 1) AS d, COUNT(*) FROM events GROUP BY 1`,
			[]string{"2024-01-01|1|", "2025-01-01|7|"}},
		// Superset's quarter grain; DATE() because go-mysql-server types
		// DATE + INTERVAL as DATETIME (MySQL: DATE), printing 00:00:00.
		{"superset quarter", `SELECT DATE(MAKEDATE(YEAR(time), 1) + INTERVAL QUARTER(time) QUARTER - INTERVAL 1 QUARTER) AS d, COUNT(*) FROM events GROUP BY 1`,
			[]string{"2024-10-01|1|", "2025-01-01|6|", "2025-04-01|1|"}},
	}
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, pushdown := range []int{1, 0} {
		if _, err := conn.ExecContext(context.Background(), fmt.Sprintf("SET arb_pushdown = %d", pushdown)); err != nil {
			t.Fatal(err)
		}
		for _, g := range grains {
			got := queryRows(t, conn, g.q)
			if strings.Join(got, " ") != strings.Join(g.want, " ") {
				t.Errorf("%s (arb_pushdown=%d): got %v, want %v (MySQL 8)", g.name, pushdown, got, g.want)
			}
		}
	}
}

// TestClockFunctionsPrecision: the current-time functions print exactly
// the fractional digits asked for (MySQL 8.0 manual 14.7: "If the fsp
// argument is given to specify a fractional seconds precision from 0 to
// 6, the return value includes a fractional seconds part of that many
// digits"), none without one, and carry DATETIME or TIME; UTC_TIME
// exists; all read the statement's time, so NOW() and its TIME part agree.
func TestClockFunctionsPrecision(t *testing.T) {
	srv := startTestServer(t, t.TempDir())
	db := openRawDB(t, srv)
	datetime := func(fsp int) *regexp.Regexp {
		frac := ""
		if fsp > 0 {
			frac = fmt.Sprintf(`\.\d{%d}`, fsp)
		}
		return regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d` + frac + `$`)
	}
	clock := func(fsp int) *regexp.Regexp {
		frac := ""
		if fsp > 0 {
			frac = fmt.Sprintf(`\.\d{%d}`, fsp)
		}
		return regexp.MustCompile(`^\d\d:\d\d:\d\d` + frac + `$`)
	}
	for _, c := range []struct {
		q    string
		want *regexp.Regexp
		typ  string
	}{
		{"NOW()", datetime(0), "DATETIME"},
		{"NOW(3)", datetime(3), "DATETIME"},
		{"NOW(6)", datetime(6), "DATETIME"},
		{"CURRENT_TIMESTAMP", datetime(0), "DATETIME"},
		{"CURRENT_TIMESTAMP()", datetime(0), "DATETIME"},
		{"CURRENT_TIMESTAMP(2)", datetime(2), "DATETIME"},
		{"LOCALTIME", datetime(0), "DATETIME"},
		{"LOCALTIMESTAMP(1)", datetime(1), "DATETIME"},
		{"SYSDATE()", datetime(0), "DATETIME"},
		{"CURTIME()", clock(0), "TIME"},
		{"CURRENT_TIME", clock(0), "TIME"},
		{"CURTIME(3)", clock(3), "TIME"},
		{"UTC_TIME", clock(0), "TIME"},
		{"UTC_TIME()", clock(0), "TIME"},
		{"UTC_TIME(6)", clock(6), "TIME"},
		{"MAX(NOW(3))", datetime(3), "DATETIME"}, // an aggregate's column takes the clock's type
		{"MIN(CURTIME(2))", clock(2), "TIME"},
	} {
		got, typ := queryText(db, "SELECT "+c.q)
		if !c.want.MatchString(got) || typ != c.typ {
			t.Errorf("SELECT %s = %s %q, want %s matching %s (MySQL 8)", c.q, typ, got, c.typ, c.want)
		}
	}
	// One statement reads one time (the session is UTC here).
	got, _ := queryText(db, "SELECT CONCAT(TIME(NOW(3)) = CURTIME(3), UTC_TIME(3) = CURTIME(3), DATE(NOW()) = CURDATE())")
	if got != "111" {
		t.Errorf("NOW, CURTIME, UTC_TIME, CURDATE disagree within a statement: %q, want 111", got)
	}
	if got, _ := queryText(db, "SELECT CURTIME(7)"); !strings.Contains(got, "1426") {
		t.Errorf("CURTIME(7) = %q, want error 1426 (precision above 6)", got)
	}
}

// TestTemporalArithmetic: a date or time operand of +, -, *, /, DIV, %
// and unary minus is MySQL's number (8.0 manual 11.2.8: a DATE is
// YYYYMMDD, a DATETIME YYYYMMDDhhmmss with its fractional digits, a TIME
// hhmmss), so two dates subtract as those numbers; date ± INTERVAL keeps
// its date. Over events, with pushdown on and off.
func TestTemporalArithmetic(t *testing.T) {
	srv := startTestServer(t, t.TempDir())
	db := openRawDB(t, srv)
	mustExec(t, db, "INSERT INTO events (time, event, distinct_id) VALUES ('2024-01-02 10:30:15.250', 'a', 'u1')")
	for _, pushdown := range []string{"1", "0"} {
		mustExec(t, db, "SET arb_pushdown = "+pushdown)
		for _, c := range []struct{ q, want, typ string }{
			{"CAST(time AS DATE) - DATE '2024-01-01' FROM events", "1", "BIGINT"},
			{"DATE '2024-01-05' - DATE '2024-01-01'", "4", "BIGINT"},
			{"DATE '2024-03-01' - DATE '2024-02-29'", "72", "BIGINT"}, // 20240301 - 20240229
			{"CAST('2024-01-05' AS DATE) - 1", "20240104", "BIGINT"},
			{"DATE '2024-02-01' + 0", "20240201", "BIGINT"},
			{"DATE(time) + 0 FROM events", "20240102", "BIGINT"},
			{"DATE(time) DIV 100 FROM events", "202401", "BIGINT"},
			{"DATE(time) % 100 FROM events", "2", ""},
			{"-DATE(time) FROM events", "-20240102", "BIGINT"},
			{"time + 0 FROM events", "20240102103015.250", "DECIMAL"},
			{"CAST(time AS DATETIME) + 0 FROM events", "20240102103015", "BIGINT"},
			{"TIMESTAMP '2024-01-01 10:00:00.5' + 0", "20240101100000.5", "DECIMAL"},
			{"CAST('10:00:00' AS TIME) + 0", "100000", "BIGINT"},
			{"TIME '01:02:03' + 0", "10203", "BIGINT"},
			{"TIME '01:02:03.5'", "01:02:03.5", "TIME"},
			{"TIME '1 02:00'", "26:00:00", "TIME"},
			{"CAST('-838:59:59' AS TIME) + 0", "-8385959", "BIGINT"},
			{"DATE '2024-01-01' + INTERVAL 1 DAY", "2024-01-02", "DATE"},
		} {
			got, typ := queryText(db, "SELECT "+c.q)
			if got != c.want || (c.typ != "" && typ != c.typ) {
				t.Errorf("pushdown %s: SELECT %s = %s %q, want %s %q (MySQL 8)", pushdown, c.q, typ, got, c.typ, c.want)
			}
		}
	}
}

// TestGreatestLeastDates: GREATEST and LEAST of dates compare moments and
// return a DATE when all arguments are DATEs, else a DATETIME with the
// arguments' most fractional digits; beside strings, the winner's text
// (MySQL 8.0 manual 14.4.2 and 14.3 "Type Conversion in Expression
// Evaluation"). Numbers and strings alone keep their types.
func TestGreatestLeastDates(t *testing.T) {
	srv := startTestServer(t, t.TempDir())
	db := openRawDB(t, srv)
	mustExec(t, db, "INSERT INTO events (time, event, distinct_id) VALUES ('2024-01-02 10:30:15.250', 'a', 'u1')")
	for _, pushdown := range []string{"1", "0"} {
		mustExec(t, db, "SET arb_pushdown = "+pushdown)
		for _, c := range []struct{ q, want, typ string }{
			{"GREATEST(DATE '2024-01-01', DATE '2024-02-01')", "2024-02-01", "DATE"},
			{"LEAST(DATE '2024-01-01', DATE '2024-02-01', MAKEDATE(2023, 1))", "2023-01-01", "DATE"},
			{"LEAST(CAST('2024-01-01 10:00:00' AS DATETIME), CAST('2024-01-01 09:00:00' AS DATETIME))", "2024-01-01 09:00:00", "DATETIME"},
			{"GREATEST(time, DATE '2024-01-02') FROM events", "2024-01-02 10:30:15.250", "DATETIME"},
			{"LEAST(time, DATE '2024-01-02') FROM events", "2024-01-02 00:00:00.000", "DATETIME"},
			{"GREATEST(DATE(time), DATE '2024-01-01') FROM events", "2024-01-02", "DATE"},
			{"GREATEST(time, '2023-01-01') FROM events", "2024-01-02 10:30:15.250", ""},
			{"LEAST(DATE(time), '2024-01-10') FROM events", "2024-01-02", ""},
			{"GREATEST(DATE '2024-01-01', NULL)", "NULL", ""},
			{"GREATEST(1, 2)", "2", "BIGINT"},
			{"LEAST('b', 'a')", "a", ""},
		} {
			got, typ := queryText(db, "SELECT "+c.q)
			if got != c.want || (c.typ != "" && typ != c.typ) {
				t.Errorf("pushdown %s: SELECT %s = %s %q, want %s %q (MySQL 8)", pushdown, c.q, typ, got, c.typ, c.want)
			}
		}
	}
}

package integration

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/go-sql-driver/mysql"
)

// openLocalInfile opens a pool whose connections may send local files
// (LOAD DATA LOCAL INFILE): go-sql-driver refuses unless allowAllFiles
// is set or the file is registered.
func openLocalInfile(t *testing.T, p *arbProcess) *sql.DB {
	t.Helper()
	db, err := sql.Open("mysql", fmt.Sprintf("root@tcp(127.0.0.1:%d)/default?parseTime=true&loc=UTC&allowAllFiles=true", p.mysqlPort))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// mariadbLocal runs statements through `mariadb --local-infile=1` and
// returns its output and its error.
func mariadbLocal(t *testing.T, p *arbProcess, statements string) (string, error) {
	t.Helper()
	bin, err := exec.LookPath("mariadb")
	if err != nil {
		t.Fatal("the mariadb client is not installed: .ci/run installs it (apt-get install mariadb-client)")
	}
	cmd := exec.Command(bin, "-h", "127.0.0.1", "-P", fmt.Sprint(p.mysqlPort), "-u", "root", "--local-infile=1",
		"--batch", "--skip-column-names", "-e", statements, "default")
	out, err := cmd.CombinedOutput()
	return strings.TrimRight(string(out), "\n"), err
}

// metricValue reads one counter from /metrics.
func metricValue(t *testing.T, p *arbProcess, name string) float64 {
	t.Helper()
	resp, err := http.Get(p.url("/metrics"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	m := regexp.MustCompile(`(?m)^` + name + ` (\S+)$`).FindSubmatch(body)
	if m == nil {
		t.Fatalf("/metrics has no %s", name)
	}
	v, err := strconv.ParseFloat(string(m[1]), 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeFile(t *testing.T, dir, name, text string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestLoadData loads CSV and TSV files into events through go-sql-driver
// and the mariadb CLI: rows, values, NULLs, the types of discovered
// columns, IGNORE 1 LINES, a bad row refused whole, a file of several
// batches refused whole for a bad last row, and all of it after a crash.
func TestLoadData(t *testing.T) {
	arb := startArb(t)
	db := openLocalInfile(t, arb)
	dir := t.TempDir()
	loadsBefore := metricValue(t, arb, "arb_sql_load_data_total")

	// CSV through go-sql-driver: a header line, enclosed strings with a
	// separator and a doubled quote, \N, an empty field, a big integer.
	csv := writeFile(t, dir, "purchases.csv", `time,event,distinct_id,insert_id,amount,plan,qty,ref,note
2025-03-01 10:00:00.125,Purchase,u1,p-1,12.5,"pro, yearly",3,9223372036854775808,"said ""hi"""
2025-03-01 11:00:00,Purchase,u2,p-2,7,free,\N,1,
2025-03-02T09:30:00,Refund,u2,p-3,-7,"",2,2,\N
`)
	res, err := db.Exec("LOAD DATA LOCAL INFILE '" + csv + "' INTO TABLE events FIELDS TERMINATED BY ',' OPTIONALLY ENCLOSED BY '\"' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' IGNORE 1 LINES (time, event, distinct_id, insert_id, amount, plan, qty, ref, note)")
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := res.RowsAffected(); n != 3 {
		t.Fatalf("CSV load: %d rows affected, want 3", n)
	}

	// TSV through the CLI, MySQL's default format: tabs, backslash escapes.
	tsv := writeFile(t, dir, "views.tsv", "time\tevent\tdistinct_id\tpage\tms\n"+
		"2025-03-03 08:00:00\tPage View\tu1\t/pricing\t15\n"+
		"2025-03-03 08:00:01\tPage View\tu3\t/docs\\tintro\t2.5\n"+
		"2025-03-03 08:00:02\tPage View\tu3\t\\N\t\\N\n")
	if out, err := mariadbLocal(t, arb, "LOAD DATA LOCAL INFILE '"+tsv+"' INTO TABLE events CHARACTER SET utf8mb4 IGNORE 1 LINES (time, `event`, distinct_id, page, ms)"); err != nil {
		t.Fatalf("CLI load: %v\n%s", err, out)
	}
	// And the other way round: the same TSV (as another event) through
	// go-sql-driver, the CSV again through the CLI; its rows carry an
	// insert_id, so loading it twice stores them once.
	tsv2 := writeFile(t, dir, "docs.tsv", strings.ReplaceAll(strings.ReplaceAll(string(mustRead(t, tsv)), "Page View", "Doc View"), "\tu", "\td"))
	exec1(t, db, "LOAD DATA LOCAL INFILE '"+tsv2+"' INTO TABLE events IGNORE 1 LINES (time, event, distinct_id, page, ms)")
	if out, err := mariadbLocal(t, arb, "LOAD DATA LOCAL INFILE '"+csv+"' INTO TABLE events FIELDS TERMINATED BY ',' OPTIONALLY ENCLOSED BY '\"' IGNORE 1 LINES (time, event, distinct_id, insert_id, amount, plan, qty, ref, note)"); err != nil {
		t.Fatalf("CLI load of the CSV: %v\n%s", err, out)
	}

	check := func(stage string) {
		t.Helper()
		expect(t, stage+": counts", queryString(t, db, "SELECT event, count(*) FROM events WHERE event <> 'Bulk' GROUP BY event ORDER BY event"), "Doc View|3\nPage View|3\nPurchase|2\nRefund|1")
		expect(t, stage+": TSV through both clients", queryString(t, db, "SELECT group_concat(concat(distinct_id, '=', coalesce(page, '-'), '/', coalesce(ms, '-')) ORDER BY time, event SEPARATOR ' ') FROM events WHERE event IN ('Doc View', 'Page View')"),
			"d1=/pricing/15 u1=/pricing/15 d3=/docs\tintro/2.5 u3=/docs\tintro/2.5 d3=-/- u3=-/-")
		expect(t, stage+": CSV values", queryString(t, db, "SELECT time, distinct_id, insert_id, amount, `plan`, qty, ref, note FROM events WHERE event IN ('Purchase', 'Refund') ORDER BY time"),
			"2025-03-01T10:00:00.125Z|u1|p-1|12.5|pro, yearly|3|9223372036854775808|said \"hi\"\n"+
				"2025-03-01T11:00:00Z|u2|p-2|7|free|NULL|1|NULL\n"+
				"2025-03-02T09:30:00Z|u2|p-3|-7||2|2|NULL")
		expect(t, stage+": TSV values", queryString(t, db, "SELECT distinct_id, page, ms FROM events WHERE event = 'Page View' ORDER BY time"),
			"u1|/pricing|15\nu3|/docs\tintro|2.5\nu3|NULL|NULL")
		expect(t, stage+": NULLs", queryString(t, db, "SELECT count(qty), count(note), count(page), count(ms) FROM events WHERE event <> 'Bulk'"), "2|1|4|4")
		expect(t, stage+": discovered types", queryString(t, db,
			"SELECT group_concat(concat(column_name, ':', data_type) ORDER BY ordinal_position SEPARATOR ' ') FROM information_schema.columns "+
				"WHERE table_schema = 'default' AND table_name = 'events' AND ordinal_position > 6 AND column_name <> 'fresh'"),
			"amount:double plan:longtext qty:bigint ref:longtext note:longtext page:longtext ms:double")
	}
	check("loaded")
	if got := metricValue(t, arb, "arb_sql_load_data_total") - loadsBefore; got != 4 {
		t.Fatalf("arb_sql_load_data_total rose by %v, want 4 (every load on the native path)", got)
	}

	// A bad row refuses the whole statement, naming the row, line and
	// column; nothing is stored and no column is added.
	bad := writeFile(t, dir, "bad.csv", "time,event,distinct_id,fresh\n"+
		"2025-03-04 00:00:00,Good,u1,1\n"+
		"yesterday,Bad,u1,2\n")
	_, err = db.Exec("LOAD DATA LOCAL INFILE '" + bad + "' INTO TABLE events FIELDS TERMINATED BY ',' IGNORE 1 LINES (time, `event`, distinct_id, fresh)")
	var me *mysql.MySQLError
	if !errors.As(err, &me) || me.Number != 1292 || !strings.Contains(me.Message, "'yesterday' for column 'time' at row 2 (line 3 of the file)") {
		t.Fatalf("bad time: %v, want 1292 naming column time, row 2, line 3", err)
	}
	short := writeFile(t, dir, "short.tsv", "2025-03-04 00:00:00\tGood\tu1\t1\n2025-03-04 00:00:00\tShort\n")
	out, err := mariadbLocal(t, arb, "LOAD DATA LOCAL INFILE '"+short+"' INTO TABLE events (time, `event`, distinct_id, fresh)")
	if err == nil || !strings.Contains(out, "ERROR 1261") || !strings.Contains(out, "Row 2 doesn't contain data for all columns (line 2 of the file") {
		t.Fatalf("short row through the CLI: %v\n%s\nwant ERROR 1261 naming row 2", err, out)
	}
	// What arb does not load says so (1235), before asking for the file.
	for _, q := range []string{
		"LOAD DATA LOCAL INFILE '" + bad + "' INTO TABLE people (distinct_id, name)",
		"LOAD DATA INFILE '" + bad + "' INTO TABLE events (time, event)",
		"LOAD DATA LOCAL INFILE '" + bad + "' REPLACE INTO TABLE events (time, event)",
		"LOAD DATA LOCAL INFILE '" + bad + "' INTO TABLE events",
		"LOAD DATA LOCAL INFILE '" + bad + "' INTO TABLE events CHARACTER SET latin1 (time, event)",
	} {
		if _, err := db.Exec(q); !errors.As(err, &me) || me.Number != 1235 {
			t.Errorf("%s: %v, want error 1235", q, err)
		}
	}
	// A file of several storage batches (loadBatchRows is 32768) with a
	// bad last row: the batches before it are checked but never stored.
	const many = 70000
	mysql.RegisterReaderHandler("many", func() io.Reader { return manyRows(many, true) })
	_, err = db.Exec("LOAD DATA LOCAL INFILE 'Reader::many' INTO TABLE events FIELDS TERMINATED BY ',' (time, `event`, distinct_id, fresh)")
	if !errors.As(err, &me) || me.Number != 1366 || !strings.Contains(me.Message, fmt.Sprintf("column 'event' at row %d (line %d of the file)", many+1, many+1)) {
		t.Fatalf("bad last row of a large file: %v, want 1366 naming column event and row %d", err, many+1)
	}
	expect(t, "nothing of the refused loads stored", queryString(t, db, "SELECT count(*) FROM events"), "9")
	expect(t, "refused loads add no column", queryString(t, db, "SELECT count(*) FROM information_schema.columns WHERE table_schema = 'default' AND column_name = 'fresh'"), "0")

	// The same large file without the bad row loads whole.
	mysql.RegisterReaderHandler("many-good", func() io.Reader { return manyRows(many, false) })
	exec1(t, db, "LOAD DATA LOCAL INFILE 'Reader::many-good' INTO TABLE events FIELDS TERMINATED BY ',' (time, `event`, distinct_id, fresh)")
	expect(t, "large file", queryString(t, db, "SELECT count(*), count(DISTINCT fresh), min(fresh), max(fresh), count(DISTINCT distinct_id) FROM events WHERE event = 'Bulk'"),
		fmt.Sprintf("%d|%d|0|%d|1000", many, many, many-1))

	// Acknowledged means durable: a crash right after keeps every row.
	arb.Kill()
	arb.Restart()
	db = openLocalInfile(t, arb)
	check("after a crash")
	expect(t, "large file after a crash", queryString(t, db, "SELECT count(*) FROM events WHERE event = 'Bulk'"), strconv.Itoa(many))
}

// manyRows is a CSV of n rows (time, event, distinct_id, fresh) and, with
// bad, one more whose event is empty.
func manyRows(n int, bad bool) io.Reader {
	pr, pw := io.Pipe()
	go func() {
		var b strings.Builder
		for i := 0; i < n; i++ {
			fmt.Fprintf(&b, "2025-03-05 %02d:%02d:%02d,Bulk,u%d,%d\n", i/3600%24, i/60%60, i%60, i%1000, i)
			if b.Len() > 1<<16 {
				pw.Write([]byte(b.String()))
				b.Reset()
			}
		}
		if bad {
			b.WriteString("2025-03-05 00:00:00,,u1,1\n")
		}
		pw.Write([]byte(b.String()))
		pw.Close()
	}()
	return pr
}

// TestMultiStatementInsert sends INSERTs as one multi-statement batch
// from the mariadb CLI (which always sets CLIENT_MULTI_STATEMENTS, so
// every query of it reaches the server's ComMultiQuery) and checks that
// every row landed and that each INSERT took the native path
// (arb_sql_fast_inserts_total), as from go-sql-driver.
func TestMultiStatementInsert(t *testing.T) {
	arb := startArb(t)
	before := metricValue(t, arb, "arb_sql_fast_inserts_total")
	var stmts strings.Builder
	for s := 0; s < 5; s++ {
		stmts.WriteString("INSERT INTO events (time, event, distinct_id, n) VALUES ")
		for r := 0; r < 100; r++ {
			if r > 0 {
				stmts.WriteString(", ")
			}
			fmt.Fprintf(&stmts, "('2025-04-01 00:00:%02d', 'Multi', 'u%d', %d)", r%60, r, s*100+r)
		}
		stmts.WriteString("; ")
	}
	stmts.WriteString("SELECT count(*), sum(n) FROM events WHERE event = 'Multi'")
	expect(t, "rows landed, seen by the batch's last statement", arb.mariadb(t, "default", stmts.String()), "500\t124750")
	if got := metricValue(t, arb, "arb_sql_fast_inserts_total") - before; got != 5 {
		t.Fatalf("arb_sql_fast_inserts_total rose by %v, want 5 (each INSERT of the batch on the native path)", got)
	}
	// The same through go-sql-driver with multiStatements=true: several
	// statements in one COM_QUERY, split by the server.
	multi, err := sql.Open("mysql", fmt.Sprintf("root@tcp(127.0.0.1:%d)/default?multiStatements=true", arb.mysqlPort))
	if err != nil {
		t.Fatal(err)
	}
	defer multi.Close()
	before = metricValue(t, arb, "arb_sql_fast_inserts_total")
	exec1(t, multi, "INSERT INTO events (time, event, distinct_id, n) VALUES ('2025-04-01 00:00:00', 'One', 'a', 1);\n"+
		"INSERT INTO events (time, event, distinct_id, n) VALUES ('2025-04-01 00:00:00', 'One', 'b', 2), ('2025-04-01 00:00:00', 'One', 'c', 3) ;  ")
	expect(t, "one COM_QUERY, two INSERTs", queryString(t, arb.DB(), "SELECT group_concat(distinct_id ORDER BY n), sum(n) FROM events WHERE event = 'One'"), "a,b,c|6")
	if got := metricValue(t, arb, "arb_sql_fast_inserts_total") - before; got != 2 {
		t.Fatalf("arb_sql_fast_inserts_total rose by %v, want 2", got)
	}

	// A batch whose second statement fails stops there, as in MySQL: the
	// first is stored, the third never runs.
	out, err := mariadbLocal(t, arb, "INSERT INTO events (time, event, distinct_id) VALUES ('2025-04-02 00:00:00', 'Stop', 'a'); "+
		"INSERT INTO events (time, event, distinct_id) VALUES ('not a time', 'Stop', 'b'); "+
		"INSERT INTO events (time, event, distinct_id) VALUES ('2025-04-02 00:00:00', 'Stop', 'c')")
	if err == nil || !strings.Contains(out, "ERROR") {
		t.Fatalf("batch with a bad statement: %v\n%s", err, out)
	}
	expect(t, "stored up to the bad statement", queryString(t, arb.DB(), "SELECT group_concat(distinct_id) FROM events WHERE event = 'Stop'"), "a")
}

// TestLoadDataKill stops a LOAD DATA with KILL QUERY while the client is
// still sending the file: the statement fails with 1317 and stores
// nothing, and the connection serves the next statement.
func TestLoadDataKill(t *testing.T) {
	arb := startArb(t)
	db := openLocalInfile(t, arb)
	ctx := context.Background()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var id int64
	if err := conn.QueryRowContext(ctx, "SELECT CONNECTION_ID()").Scan(&id); err != nil {
		t.Fatal(err)
	}
	rows := func(n int) string {
		var b strings.Builder
		for i := 0; i < n; i++ {
			fmt.Fprintf(&b, "2025-05-01 00:00:00,Killed,u%d\n", i)
		}
		return b.String()
	}
	pr, pw := io.Pipe()
	mysql.RegisterReaderHandler("killed", func() io.Reader { return pr })
	done := make(chan error, 1)
	go func() {
		_, err := conn.ExecContext(ctx, "LOAD DATA LOCAL INFILE 'Reader::killed' INTO TABLE events FIELDS TERMINATED BY ',' (time, event, distinct_id)")
		done <- err
	}()
	// The driver reads the file only once the server has asked for it,
	// that is once the statement runs (and can be killed).
	if _, err := pw.Write([]byte(rows(2000))); err != nil {
		t.Fatal(err)
	}
	exec1(t, arb.DB(), fmt.Sprintf("KILL QUERY %d", id))
	pw.Write([]byte(rows(5000)))
	pw.Close()
	err = <-done
	var me *mysql.MySQLError
	if !errors.As(err, &me) || me.Number != 1317 {
		t.Fatalf("killed LOAD DATA: %v, want error 1317", err)
	}
	expect(t, "nothing of the killed load stored", queryString(t, arb.DB(), "SELECT count(*) FROM events WHERE event = 'Killed'"), "0")
	var one int
	if err := conn.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil || one != 1 {
		t.Fatalf("the connection after the killed load: %v", err)
	}
}

package integration

import (
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/go-sql-driver/mysql"
)

func expect(t *testing.T, what, got, want string) {
	t.Helper()
	if got != want {
		t.Fatalf("%s:\n got %q\nwant %q", what, got, want)
	}
}

// TestSQLAcceptance walks the foundation issue's acceptance path through
// the real binary with go-sql-driver and the mariadb CLI.
func TestSQLAcceptance(t *testing.T) {
	arb := startArb(t)
	db := arb.DB()

	// Several property types; `plan` needs backquotes in this parser.
	exec1(t, db, "INSERT INTO events (time, event, distinct_id, `plan`, amount, is_trial, n) VALUES "+
		"('2025-01-01 10:00:00.123', 'Purchase', 'u1', 'pro', 12.5, true, 3), "+
		"('2025-01-01 11:00:00', 'Signup', 'u2', 'free', NULL, false, 4), "+
		"('2025-01-02 09:30:00', 'Purchase', 'u2', 'free', 7.25, false, 5)")
	// Through the CLI, with a property nobody sent before, mid-stream.
	arb.mariadb(t, "default", "INSERT INTO events (time, event, distinct_id, amount, `$browser`) VALUES ('2025-01-02 12:00:00', 'Purchase', 'u3', 100, 'Firefox')")
	// Nested values through the properties column.
	exec1(t, db, `INSERT INTO events (time, event, distinct_id, properties) VALUES ('2025-01-03 08:00:00', 'Page View', 'u1', '{"page": {"path": "/pricing"}, "n": 6, "utm": "ads"}')`)

	check := func(stage string) {
		t.Helper()
		expect(t, stage+": count", queryString(t, db, "SELECT count(*) FROM events WHERE event IN ('Purchase', 'Signup', 'Page View')"), "5")
		expect(t, stage+": group by", queryString(t, db, "SELECT event, count(*) FROM events WHERE event IN ('Purchase', 'Signup', 'Page View') GROUP BY event ORDER BY event"),
			"Page View|1\nPurchase|3\nSignup|1")
		expect(t, stage+": sum with filter", queryString(t, db, "SELECT sum(amount) FROM events WHERE event = 'Purchase' AND `$browser` IS NULL"), "19.75")
		expect(t, stage+": cli count", arb.mariadb(t, "default", "SELECT count(*) FROM events WHERE event = 'Purchase'"), "3")
		expect(t, stage+": time precision", queryString(t, db, "SELECT time FROM events WHERE distinct_id = 'u1' AND event = 'Purchase'"), "2025-01-01T10:00:00.123Z")
		expect(t, stage+": columns", queryString(t, db,
			"SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = 'default' AND table_name = 'events' AND ordinal_position <= 13 ORDER BY ordinal_position"),
			"time|datetime\nevent|longtext\ndistinct_id|longtext\ninsert_id|longtext\nproperties|json\nraw_distinct_id|longtext\nplan|longtext\namount|double\nis_trial|tinyint\nn|bigint\n$browser|longtext\npage|json\nutm|longtext")
		expect(t, stage+": properties", queryString(t, db, "SELECT properties FROM events WHERE event = 'Page View'"),
			`{"n":6,"page":{"path":"/pricing"},"utm":"ads"}`)
		expect(t, stage+": nested JSON", queryString(t, db, "SELECT JSON_EXTRACT(page, '$.path') FROM events WHERE page IS NOT NULL"), `"/pricing"`)
	}
	check("live")
	if out := arb.mariadb(t, "default", "DESCRIBE events"); !strings.Contains(out, "amount\tdouble") || !strings.Contains(out, "$browser\tlongtext") {
		t.Fatalf("DESCRIBE events:\n%s", out)
	}

	// Widening: int column → float → string, old values keep their meaning.
	exec1(t, db, "INSERT INTO events (time, event, distinct_id, w) VALUES ('2025-01-04 00:00:00', 'W', 'u9', 2)")
	exec1(t, db, "INSERT INTO events (time, event, distinct_id, w) VALUES ('2025-01-04 00:00:01', 'W', 'u9', 2.5)")
	expect(t, "int widened to float", queryString(t, db, "SELECT sum(w), data_type FROM events, information_schema.columns WHERE event = 'W' AND table_schema = 'default' AND table_name = 'events' AND column_name = 'w' GROUP BY data_type"), "4.5|double")
	exec1(t, db, "INSERT INTO events (time, event, distinct_id, w) VALUES ('2025-01-04 00:00:02', 'W', 'u9', 'n/a')")
	expect(t, "widened to string", queryString(t, db, "SELECT group_concat(w ORDER BY time SEPARATOR ',') FROM events WHERE event = 'W'"), "2,2.5,n/a")

	// A bad row makes the whole statement store nothing.
	_, err := db.Exec("INSERT INTO events (time, event, distinct_id, fresh) VALUES ('2025-01-05 00:00:00', 'A', 'u1', 1), ('2025-01-05 00:00:00', NULL, 'u1', 2)")
	var me *mysql.MySQLError
	if !errors.As(err, &me) || !strings.Contains(me.Message, "row 2") || !strings.Contains(me.Message, "event") {
		t.Fatalf("insert with a missing event: %v, want an error naming row 2 and column event", err)
	}
	expect(t, "nothing of the bad statement stored", queryString(t, db, "SELECT count(*) FROM events WHERE time >= '2025-01-05'"), "0")
	expect(t, "bad statement adds no column", queryString(t, db, "SELECT count(*) FROM information_schema.columns WHERE table_schema = 'default' AND column_name = 'fresh'"), "0")
	if _, err := db.Exec("INSERT INTO events (time, event, distinct_id) VALUES ('not a time', 'A', 'u1')"); err == nil {
		t.Fatal("a time that is not a time was accepted")
	}

	// MySQL's error numbers.
	for q, code := range map[string]uint16{
		"SELEC 1":                        1064,
		"SELECT nope FROM events":        1054,
		"SELECT * FROM no_such_table":    1146,
		"INSERT INTO nowhere VALUES (1)": 1146,
	} {
		_, err := db.Exec(q)
		if !errors.As(err, &me) || me.Number != code {
			t.Errorf("%s: %v, want error %d", q, err, code)
		}
	}
	if got := queryString(t, db, "SELECT @@version_comment"); !strings.Contains(got, "arb") {
		t.Fatalf("@@version_comment %q does not name arb", got)
	}

	// People and a JOIN.
	exec1(t, db, "INSERT INTO people (distinct_id, name, age) VALUES ('u1', 'Ann', 31), ('u2', 'Bob', 40)")
	exec1(t, db, "INSERT INTO people (distinct_id, age) VALUES ('u1', 32)")
	expect(t, "join", queryString(t, db, "SELECT p.name, p.age, count(*) FROM events e JOIN people p ON p.distinct_id = e.distinct_id GROUP BY p.name, p.age ORDER BY p.name"),
		"Ann|32|2\nBob|40|2")

	// Projects.
	exec1(t, db, "CREATE DATABASE shop")
	if got := queryString(t, db, "SELECT name, length(token), length(secret) FROM arb.projects ORDER BY name"); got != "default|32|32\nshop|32|32" {
		t.Fatalf("arb.projects:\n%s", got)
	}
	arb.mariadb(t, "shop", "INSERT INTO events (time, event, distinct_id) VALUES ('2025-02-01 00:00:00', 'Signup', 'z')")

	// A prepared INSERT (no client-side interpolation) types a new column
	// from the bound value.
	prep, err := openPrepared(arb)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := prep.Exec("INSERT INTO events (time, event, distinct_id, price) VALUES (?, ?, ?, ?)", "2025-01-06 00:00:00", "Prepared", "u1", 9.5); err != nil {
		t.Fatal(err)
	}
	prep.Close()
	expect(t, "prepared column type", queryString(t, db, "SELECT data_type FROM information_schema.columns WHERE table_schema = 'default' AND column_name = 'price'"), "double")

	// Metrics.
	resp, err := http.Get(arb.url("/metrics"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, m := range []string{"arb_sql_statements_total", "arb_rows_ingested_total", "arb_wal_fsync_seconds", "arb_query_seconds", "arb_segments", "arb_disk_bytes", "arb_block_cache_bytes", "arb_block_cache_hits_total"} {
		if !strings.Contains(string(body), m) {
			t.Errorf("/metrics lacks %s", m)
		}
	}

	// Clean stop and restart: everything is there (from segments now).
	arb.Stop()
	arb.Restart()
	db = arb.DB()
	check("after restart")
	expect(t, "shop after restart", arb.mariadb(t, "shop", "SELECT count(*) FROM events"), "1")
	expect(t, "people after restart", queryString(t, db, "SELECT name, age FROM people ORDER BY name"), "Ann|32\nBob|40")

	// kill -9 right after an acknowledged insert.
	exec1(t, db, "INSERT INTO events (time, event, distinct_id, amount) VALUES ('2025-01-07 00:00:00', 'Late', 'u5', 1), ('2025-01-07 00:00:01', 'Late', 'u6', 2)")
	arb.Kill()
	arb.Restart()
	db = arb.DB()
	expect(t, "acknowledged rows after kill -9", queryString(t, db, "SELECT count(*), sum(amount) FROM events WHERE event = 'Late'"), "2|3")
	check("after kill -9")
}

// TestBulkInsert sends 100,000 rows in one statement.
func TestBulkInsert(t *testing.T) {
	arb := startArb(t)
	var b strings.Builder
	b.WriteString("INSERT INTO events (time, event, distinct_id, insert_id, k) VALUES ")
	const n = 100_000
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "('2025-01-01 00:00:00', 'E%d', 'u%d', 'i%d', %d)", i%30, i%5000, i, i)
	}
	exec1(t, arb.DB(), b.String())
	expect(t, "bulk count", queryString(t, arb.DB(), "SELECT count(*), count(DISTINCT insert_id), CAST(sum(k) AS SIGNED) FROM events"),
		fmt.Sprintf("%d|%d|%d", n, n, n*(n-1)/2))
}

// TestRootPassword: with --root-password, root needs it; the secret of
// each project is listed for root.
func TestRootPassword(t *testing.T) {
	arb := startArb(t, "--root-password", "s3cret", "--project", "shop:tok123:sec456")
	var me *mysql.MySQLError
	if _, err := arb.DB().Exec("SELECT 1"); !errors.As(err, &me) || me.Number != 1045 {
		t.Fatalf("root without the password: %v, want access denied (1045)", err)
	}
	db, err := sql.Open("mysql", fmt.Sprintf("root:s3cret@tcp(127.0.0.1:%d)/shop", arb.mysqlPort))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	expect(t, "projects", queryString(t, db, "SELECT name, token, secret FROM arb.projects"), "shop|tok123|sec456")
}

package integration

// TestBIGuide runs docs/bi-tools.md: every ```sql block, in document
// order, against a real bin/arb started as the guide says
// (--root-password, --require-secure-transport, TLS verified against the
// generated certificate), and the guide's pandas program with Debian's
// python3. The conventions it reads (also stated at the end of the guide):
//   - one connection per block, as root, or as analyst when the block's
//     first line is "-- as analyst" (the password is the one the guide's
//     CREATE USER gives; in the Grafana section with Grafana's DSN options);
//   - statements end with ';' outside quotes; full-line "--" comments are
//     not sent, and "-- fails: ERROR n" before a statement means it must
//     fail with MySQL error n;
//   - a ```result block right after a block is the result of its last
//     statement that returns rows: columns separated by " | " (NULL for
//     NULL), compared in order when that statement has an ORDER BY, else as
//     a set; or "(n rows)"; after the ```python block, its output with runs
//     of spaces collapsed.
// After the blocks, the sample data the guide loads must be exactly the
// fixture the driver tests use (bi_fixture_test.go), row by row, so the
// results the guide states are about known data.

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// guideBlock is one fenced code block of the guide.
type guideBlock struct {
	lang    string // the fence's info string: sql, result, python, …
	text    string
	line    int    // line of the opening fence, for messages
	section string // the "## " heading it is under
}

// parseGuide returns the fenced blocks of a Markdown file.
func parseGuide(t *testing.T, path string) []guideBlock {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var blocks []guideBlock
	var cur *guideBlock
	section := ""
	for i, line := range strings.Split(string(data), "\n") {
		switch {
		case cur != nil && strings.HasPrefix(line, "```"):
			blocks = append(blocks, *cur)
			cur = nil
		case cur != nil:
			cur.text += line + "\n"
		case strings.HasPrefix(line, "```"):
			cur = &guideBlock{lang: strings.TrimSpace(strings.TrimPrefix(line, "```")), line: i + 1, section: section}
		case strings.HasPrefix(line, "## "):
			section = strings.TrimPrefix(line, "## ")
		}
	}
	if cur != nil {
		t.Fatalf("%s: the block opened at line %d is never closed", path, cur.line)
	}
	return blocks
}

// splitStatements splits SQL text at ';' outside quotes and comments; each
// statement keeps the comment lines before it.
func splitStatements(text string) []string {
	var out []string
	var b strings.Builder
	var quote byte
	for i := 0; i < len(text); i++ {
		c := text[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"' || c == '`':
			quote = c
		case c == '-' && strings.HasPrefix(text[i:], "-- "):
			end := strings.IndexByte(text[i:], '\n')
			if end < 0 {
				end = len(text) - i
			}
			b.WriteString(text[i : i+end])
			i += end - 1
			continue
		case c == ';':
			out = append(out, b.String())
			b.Reset()
			continue
		}
		b.WriteByte(c)
	}
	if strings.TrimSpace(stripComments(b.String())) != "" {
		out = append(out, b.String())
	}
	return out
}

// stripComments drops full-line "--" comments.
func stripComments(stmt string) string {
	var keep []string
	for _, l := range strings.Split(stmt, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "--") {
			keep = append(keep, l)
		}
	}
	return strings.TrimSpace(strings.Join(keep, "\n"))
}

var (
	guideFails    = regexp.MustCompile(`--\s*fails:\s*ERROR\s+(\d+)`)
	guideRowCount = regexp.MustCompile(`^\((\d+) rows\)$`)
	guideOrderBy  = regexp.MustCompile(`(?i)\border\s+by\b`)
	guidePassword = regexp.MustCompile(`CREATE USER analyst IDENTIFIED BY '([^']+)'`)
)

// guideRun is a result of running one block.
type guideRun struct {
	stmt string     // the last statement that returned rows
	rows [][]string // its rows, NULL as "NULL"
}

// runGuideBlock runs a block's statements on one connection of pool, in
// the project shop once it exists.
func runGuideBlock(t *testing.T, pool *sql.DB, b guideBlock) guideRun {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	conn, err := pool.Conn(ctx)
	if err != nil {
		t.Fatalf("line %d: connect: %v", b.line, err)
	}
	defer conn.Close()
	var shop string
	if err := conn.QueryRowContext(ctx, "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'shop'").Scan(&shop); err == nil {
		if _, err := conn.ExecContext(ctx, "USE shop"); err != nil {
			t.Fatalf("line %d: USE shop: %v", b.line, err)
		}
	}
	var run guideRun
	for _, raw := range splitStatements(b.text) {
		stmt := stripComments(raw)
		if stmt == "" {
			continue
		}
		rows, err := conn.QueryContext(ctx, stmt)
		if m := guideFails.FindStringSubmatch(raw); m != nil {
			want, _ := strconv.Atoi(m[1])
			if err == nil {
				rows.Close()
			}
			if got := errorNumber(err); int(got) != want {
				t.Errorf("line %d: %.200s\ngot %v, the guide says it fails with ERROR %d", b.line, stmt, err, want)
			}
			continue
		}
		if err != nil {
			t.Errorf("line %d (%s): %.300s\nfails: %v", b.line, b.section, stmt, err)
			continue
		}
		cols, _ := rows.Columns()
		var got [][]string
		for rows.Next() {
			vals := make([]sql.NullString, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatalf("line %d: %v", b.line, err)
			}
			row := make([]string, len(vals))
			for i, v := range vals {
				row[i] = "NULL"
				if v.Valid {
					row[i] = v.String
				}
			}
			got = append(got, row)
		}
		if err := rows.Err(); err != nil {
			t.Errorf("line %d (%s): %.300s\nfails while reading: %v", b.line, b.section, stmt, err)
		}
		rows.Close()
		if len(cols) > 0 {
			run = guideRun{stmt: stmt, rows: got}
		}
	}
	return run
}

// checkGuideResult compares a block's result with the guide's result block.
func checkGuideResult(t *testing.T, b, result guideBlock, run guideRun) {
	t.Helper()
	want := strings.TrimSpace(result.text)
	if run.stmt == "" {
		t.Errorf("line %d: the result at line %d follows a block whose statements return no rows", b.line, result.line)
		return
	}
	if m := guideRowCount.FindStringSubmatch(want); m != nil {
		if fmt.Sprint(len(run.rows)) != m[1] {
			t.Errorf("line %d: %.200s\nreturned %d rows; the guide says %s", b.line, run.stmt, len(run.rows), want)
		}
		return
	}
	var got []string
	for _, r := range run.rows {
		got = append(got, strings.Join(r, " | "))
	}
	wantLines := strings.Split(want, "\n")
	for i := range wantLines {
		wantLines[i] = strings.TrimSpace(wantLines[i])
	}
	if !guideOrderBy.MatchString(run.stmt) {
		sort.Strings(got)
		sort.Strings(wantLines)
	}
	if strings.Join(got, "\n") != strings.Join(wantLines, "\n") {
		t.Errorf("line %d (%s): %.300s\nreturned:\n%s\nthe guide (line %d) says:\n%s", b.line, b.section, run.stmt,
			strings.Join(got, "\n"), result.line, strings.Join(wantLines, "\n"))
	}
}

func TestBIGuide(t *testing.T) {
	path := filepath.Join("..", "docs", "bi-tools.md")
	blocks := parseGuide(t, path)
	data, _ := os.ReadFile(path)
	m := guidePassword.FindSubmatch(data)
	if m == nil {
		t.Fatalf("%s has no CREATE USER analyst IDENTIFIED BY '…'", path)
	}
	analystPassword := string(m[1])

	// Each tool's section shows at least one statement (or program) with
	// its result, run as the analyst.
	for _, tool := range []string{"Metabase", "Grafana", "Superset", "DBeaver", "Tableau", "pandas"} {
		found := false
		for i, b := range blocks {
			if strings.Contains(b.section, tool) && (b.lang == "sql" && strings.HasPrefix(b.text, "-- as analyst\n") || b.lang == "python") &&
				i+1 < len(blocks) && blocks[i+1].lang == "result" {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: the %s section has no statement run as analyst with its result", path, tool)
		}
	}

	arb := startArb(t, "--root-password", biRootPassword, "--require-secure-transport")
	tlsName := registerArbTLS(t, arb)
	open := func(user, password, params string) *sql.DB {
		pool, err := sql.Open("mysql", fmt.Sprintf("%s:%s@tcp(127.0.0.1:%d)/?tls=%s%s", user, password, arb.mysqlPort, tlsName, params))
		if err != nil {
			t.Fatal(err)
		}
		pool.SetMaxIdleConns(0) // a block's session settings end with it
		t.Cleanup(func() { pool.Close() })
		return pool
	}
	root, analyst := open("root", biRootPassword, ""), open("analyst", analystPassword, "")
	// The Grafana section runs with the DSN options Grafana's MySQL data
	// source gives go-sql-driver (the guide's "Driver" paragraph).
	grafana := open("analyst", analystPassword, "&collation=utf8mb4_unicode_ci&parseTime=true&loc=UTC&time_zone=%27%2B00%3A00%27")

	sqlBlocks, pythonBlocks := 0, 0
	for i, b := range blocks {
		var result *guideBlock
		if i+1 < len(blocks) && blocks[i+1].lang == "result" {
			result = &blocks[i+1]
		}
		switch b.lang {
		case "sql":
			sqlBlocks++
			pool := root
			if strings.HasPrefix(b.text, "-- as analyst\n") {
				pool = analyst
				if strings.Contains(b.section, "Grafana") {
					pool = grafana
				}
			}
			run := runGuideBlock(t, pool, b)
			if result != nil {
				checkGuideResult(t, b, *result, run)
			}
		case "python":
			pythonBlocks++
			runGuidePython(t, arb, b, result)
		}
	}
	if sqlBlocks < 12 || pythonBlocks != 1 {
		t.Errorf("%s: %d sql blocks and %d python blocks; the guide has at least 12 and 1", path, sqlBlocks, pythonBlocks)
	}

	// The guide's sample data is the drivers' fixture, row by row.
	rootShop := openAs(t, arb, "root", biRootPassword, "shop", "tls="+tlsName)
	rows, err := rootShop.Query("SELECT DATE_FORMAT(time, '%Y-%m-%d %H:%i:%s'), event, distinct_id, `plan`, amount FROM events ORDER BY time")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	fixture := biFixtureEvents()
	n := 0
	for rows.Next() {
		var tm, event, distinct, plan string
		var amount sql.NullFloat64
		if err := rows.Scan(&tm, &event, &distinct, &plan, &amount); err != nil {
			t.Fatal(err)
		}
		if n < len(fixture) {
			e := fixture[n]
			wantAmount := sql.NullFloat64{Float64: e.amount, Valid: e.event == "Purchase"}
			if tm != e.time.Format("2006-01-02 15:04:05") || event != e.event || distinct != e.distinct || plan != e.plan || amount != wantAmount {
				t.Fatalf("sample row %d: %s %s %s %s %v; the fixture has %s %s %s %s %v", n, tm, event, distinct, plan, amount,
					e.time.Format("2006-01-02 15:04:05"), e.event, e.distinct, e.plan, wantAmount)
			}
		}
		n++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if n != len(fixture) {
		t.Fatalf("the guide's sample data has %d events; the fixture %d", n, len(fixture))
	}
}

// runGuidePython runs the guide's pandas program with Debian's python3,
// pointed at arb's port and certificate, and compares its output with the
// result block.
func runGuidePython(t *testing.T, arb *arbProcess, b guideBlock, result *guideBlock) {
	t.Helper()
	py := debianPython(t)
	const url, ca = "127.0.0.1:3306", "/var/lib/arb/tls/cert.pem"
	if !strings.Contains(b.text, url) || !strings.Contains(b.text, ca) {
		t.Fatalf("line %d: the python block should connect to %s with the CA %s (the test points them at its server)", b.line, url, ca)
	}
	src := strings.ReplaceAll(b.text, url, fmt.Sprintf("127.0.0.1:%d", arb.mysqlPort))
	src = strings.ReplaceAll(src, ca, filepath.Join(arb.dir, "tls", "cert.pem"))
	file := filepath.Join(t.TempDir(), "guide.py")
	if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	out := runTool(t, ".", 2*time.Minute, py, file)
	if result == nil {
		t.Fatalf("line %d: the python block has no result block", b.line)
	}
	norm := func(s string) string {
		var lines []string
		for _, l := range strings.Split(strings.TrimSpace(s), "\n") {
			lines = append(lines, strings.Join(strings.Fields(l), " "))
		}
		return strings.Join(lines, "\n")
	}
	if norm(out) != norm(result.text) {
		t.Errorf("line %d: the pandas program printed:\n%s\nthe guide (line %d) says:\n%s", b.line, out, result.line, result.text)
	}
}

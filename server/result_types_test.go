package server

// Result values and column metadata as MySQL 8 sends them, for the types
// go-mysql-server gets wrong in arb's statements (issue 16): each case
// states MySQL 8's text, type and decimals (the column definition's
// scale, which go-sql-driver reports as DecimalSize's second value).

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"
	"strings"
	"testing"
)

// typedColumn is one result column's metadata as a client reads it.
type typedColumn struct {
	typ   string // DatabaseTypeName: DECIMAL, DOUBLE, TIME, …
	scale int64  // the column definition's decimals (-1 when the driver reports none)
}

func (c typedColumn) String() string { return fmt.Sprintf("%s scale %d", c.typ, c.scale) }

// queryTyped runs q and returns its rows as text ("NULL" for SQL NULL),
// cells joined by "|", and its columns' metadata.
func queryTyped(ctx context.Context, conn *sql.Conn, q string) ([]string, []typedColumn, error) {
	rows, err := conn.QueryContext(ctx, q)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	cts, err := rows.ColumnTypes()
	if err != nil {
		return nil, nil, err
	}
	cols := make([]typedColumn, len(cts))
	for i, ct := range cts {
		cols[i] = typedColumn{typ: ct.DatabaseTypeName(), scale: -1}
		if _, s, ok := ct.DecimalSize(); ok {
			cols[i].scale = s
		}
	}
	var out []string
	for rows.Next() {
		vals := make([]sql.RawBytes, len(cts))
		ptrs := make([]any, len(cts))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, nil, err
		}
		cells := make([]string, len(vals))
		for i, v := range vals {
			cells[i] = "NULL"
			if v != nil {
				cells[i] = string(v)
			}
		}
		out = append(out, strings.Join(cells, "|"))
	}
	return out, cols, rows.Err()
}

// TestTimeAndExtremeDecimals: CURTIME(n) and UTC_TIME(n) are TIME(n), sent
// with n decimals (8.0 manual 14.7: "If the fsp argument is given … the
// return value includes a fractional seconds part of that many digits";
// go-mysql-server sent 0); GREATEST and LEAST of exact numbers with a
// DECIMAL among them are DECIMAL (manual 14.4.2: "If any argument is a
// DECIMAL, the result is a DECIMAL"), with the largest scale of any
// argument: GREATEST(1.5, 2) is 2.0, where go-mysql-server gave DOUBLE 2.
func TestTimeAndExtremeDecimals(t *testing.T) {
	srv := startTestServer(t, t.TempDir())
	db := openRawDB(t, srv)
	mustExec(t, db, "INSERT INTO events (time, event, distinct_id, n) VALUES ('2025-01-01 10:00:00', 'a', 'u1', 4)")
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	clock := func(fsp int) string {
		if fsp == 0 {
			return `\d\d:\d\d:\d\d`
		}
		return fmt.Sprintf(`\d\d:\d\d:\d\d\.\d{%d}`, fsp)
	}
	cases := []struct {
		q    string
		want string // a regular expression over the row
		cols []typedColumn
	}{
		{"SELECT CURTIME(3), CURTIME(), CURRENT_TIME(1), CURTIME(6)",
			clock(3) + `\|` + clock(0) + `\|` + clock(1) + `\|` + clock(6),
			[]typedColumn{{"TIME", 3}, {"TIME", 0}, {"TIME", 1}, {"TIME", 6}}},
		{"SELECT UTC_TIME(2), UTC_TIME(5)", clock(2) + `\|` + clock(5), []typedColumn{{"TIME", 2}, {"TIME", 5}}},
		{"SELECT MIN(CURTIME(4)) FROM events", clock(4), []typedColumn{{"TIME", 4}}},
		// CAST/CONVERT AS TIME(n) round to n digits (none without n) and
		// say n decimals; go-mysql-server kept and printed six.
		{"SELECT CAST('10:11:12.123456' AS TIME(2)), CAST(123456 AS TIME), CAST('-10:11:12.5' AS TIME), CONVERT('1:2:3.4567', TIME(3))",
			`10:11:12\.12\|12:34:56\|-10:11:13\|01:02:03\.457`,
			[]typedColumn{{"TIME", 2}, {"TIME", 0}, {"TIME", 0}, {"TIME", 3}}},
		{"SELECT CAST(time AS TIME(1)), CAST(time AS TIME) FROM events", `10:00:00\.0\|10:00:00`, []typedColumn{{"TIME", 1}, {"TIME", 0}}},
		{"SELECT GREATEST(1.5, 2), LEAST(1.5, 2)", `2\.0\|1\.5`, []typedColumn{{"DECIMAL", 1}, {"DECIMAL", 1}}},
		{"SELECT GREATEST(1.25, 2.5, 1), LEAST(-1.5, 2.75)", `2\.50\|-1\.50`, []typedColumn{{"DECIMAL", 2}, {"DECIMAL", 2}}},
		{"SELECT GREATEST(n, 1.5), LEAST(n, 1.25) FROM events", `4\.0\|1\.25`, []typedColumn{{"DECIMAL", 1}, {"DECIMAL", 2}}},
		{"SELECT GREATEST(0.1, NULL)", `NULL`, []typedColumn{{"DECIMAL", 1}}},
		// Exact beyond a DOUBLE's 53 bits.
		{"SELECT GREATEST(9007199254740993.5, 9007199254740993)", `9007199254740993\.5`, []typedColumn{{"DECIMAL", 1}}},
		// Unchanged: integers alone are BIGINT, a DOUBLE among them DOUBLE.
		{"SELECT GREATEST(2, 3), LEAST(1.5, 2e0)", `3\|1\.5`, []typedColumn{{"BIGINT", -1}, {"DOUBLE", -1}}},
	}
	for _, pushdown := range []int{1, 0} {
		if _, err := conn.ExecContext(context.Background(), fmt.Sprintf("SET arb_pushdown = %d", pushdown)); err != nil {
			t.Fatal(err)
		}
		for _, c := range cases {
			rows, cols, err := queryTyped(context.Background(), conn, c.q)
			if err != nil {
				t.Errorf("pushdown %d: %s: %v", pushdown, c.q, err)
				continue
			}
			if len(rows) != 1 || !regexp.MustCompile("^"+c.want+"$").MatchString(rows[0]) || !sameColumns(cols, c.cols) {
				t.Errorf("pushdown %d: %s = %q %v, want %s %v (MySQL 8)", pushdown, c.q, rows, cols, c.want, c.cols)
			}
		}
	}
}

// sameColumns compares metadata; a wanted scale of -1 is not checked.
func sameColumns(got, want []typedColumn) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if got[i].typ != want[i].typ || (want[i].scale >= 0 && got[i].scale != want[i].scale) {
			return false
		}
	}
	return true
}

// TestClockUnions: NOW(n), CURRENT_TIMESTAMP(n) and CURTIME(n) keep their n
// fractional digits inside a UNION and under GROUP BY … WITH ROLLUP (which
// is rewritten into a UNION ALL), and a union of two precisions takes the
// larger, as in MySQL 8; go-mysql-server typed them DATETIME(6) and TIME
// there (six digits). With pushdown on and off.
func TestClockUnions(t *testing.T) {
	srv := startTestServer(t, t.TempDir())
	db := openRawDB(t, srv)
	mustExec(t, db, "INSERT INTO events (time, event, distinct_id) VALUES ('2025-01-01 10:00:00', 'a', 'u1'), ('2025-01-01 11:00:00', 'b', 'u2')")
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	datetime := func(fsp int) string {
		if fsp == 0 {
			return `\d{4}-\d\d-\d\d \d\d:\d\d:\d\d`
		}
		return fmt.Sprintf(`\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{%d}`, fsp)
	}
	cases := []struct {
		q    string
		rows []string // regular expressions, one a row
		cols []typedColumn
	}{
		{"SELECT NOW(3) UNION ALL SELECT NOW(3)", []string{datetime(3), datetime(3)}, []typedColumn{{"DATETIME", 3}}},
		{"SELECT CURRENT_TIMESTAMP(1) UNION SELECT CURRENT_TIMESTAMP(1)", []string{datetime(1)}, []typedColumn{{"DATETIME", 1}}},
		{"SELECT NOW() UNION ALL SELECT NOW(2)", []string{datetime(2), datetime(2)}, []typedColumn{{"DATETIME", 2}}},
		{"SELECT MAX(NOW(3)) FROM events UNION ALL SELECT NOW(3)", []string{datetime(3), datetime(3)}, []typedColumn{{"DATETIME", 3}}},
		{"SELECT NOW(3) UNION ALL SELECT NULL", []string{datetime(3), "NULL"}, []typedColumn{{"DATETIME", 3}}},
		{"SELECT CURTIME(2) UNION ALL SELECT CURTIME(4)", []string{`\d\d:\d\d:\d\d\.\d{4}`, `\d\d:\d\d:\d\d\.\d{4}`}, []typedColumn{{"TIME", 4}}},
		{"SELECT t FROM (SELECT event, NOW(3) t FROM events UNION ALL SELECT NULL, NOW(3)) x",
			[]string{datetime(3), datetime(3), datetime(3)}, []typedColumn{{"DATETIME", 3}}},
		{"SELECT event, NOW(2) FROM events GROUP BY event WITH ROLLUP",
			[]string{"a\\|" + datetime(2), "b\\|" + datetime(2), "NULL\\|" + datetime(2)}, []typedColumn{{"TEXT", -1}, {"DATETIME", 2}}},
	}
	for _, pushdown := range []int{1, 0} {
		if _, err := conn.ExecContext(context.Background(), fmt.Sprintf("SET arb_pushdown = %d", pushdown)); err != nil {
			t.Fatal(err)
		}
		for _, c := range cases {
			rows, cols, err := queryTyped(context.Background(), conn, c.q)
			if err != nil {
				t.Errorf("pushdown %d: %s: %v", pushdown, c.q, err)
				continue
			}
			ok := len(rows) == len(c.rows) && sameColumns(cols, c.cols)
			for i := 0; ok && i < len(rows); i++ {
				ok = regexp.MustCompile("^" + c.rows[i] + "$").MatchString(rows[i])
			}
			if !ok {
				t.Errorf("pushdown %d: %s = %q %v, want %q %v (MySQL 8)", pushdown, c.q, rows, cols, c.rows, c.cols)
			}
		}
	}
}

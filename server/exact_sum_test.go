package server

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"
)

// TestExactSumAvg: SUM and AVG of integers are exact DECIMALs, as MySQL 8
// returns them (8.0 manual 14.19.1: "SUM() and AVG() return a DECIMAL
// value for exact-value arguments (integer or DECIMAL)", AVG with 4 more
// digits of scale, div_precision_increment; a driver reads NEWDECIMAL),
// where float64 sums lost the digits of 2^62 + (2^62 + 1). Every path
// gives the same: the engine's aggregate over events (buffered and
// flushed rows), the native HashAggregate over a join, the engine's
// regroup over a derived table, and go-mysql-server's GroupBy with
// pushdown off. SUM of a DOUBLE stays a DOUBLE.
func TestExactSumAvg(t *testing.T) {
	srv := startTestServer(t, t.TempDir())
	db := openRawDB(t, srv)
	mustExec(t, db, "INSERT INTO events (time, event, distinct_id, n, f) VALUES "+
		"('2025-01-01 10:00:00', 'a', 'u1', 4611686018427387904, 1.5), ('2025-01-01 11:00:00', 'a', 'u2', 4611686018427387905, 2.5)")
	if err := srv.Store().Flush(); err != nil {
		t.Fatal(err)
	}
	mustExec(t, db, "INSERT INTO events (time, event, distinct_id, n, f) VALUES "+
		"('2025-01-02 10:00:00', 'b', 'u3', 3, 0.25), ('2025-01-02 11:00:00', 'b', 'u3', NULL, NULL), ('2025-01-02 12:00:00', 'c', 'u4', -9223372036854775808, 1)")
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	cases := []struct{ q, want, typ string }{
		{"SELECT SUM(n) FROM events WHERE event = 'a'", "9223372036854775809", "DECIMAL"},
		{"SELECT AVG(n) FROM events WHERE event = 'a'", "4611686018427387904.5000", "DECIMAL"},
		{"SELECT SUM(n) FROM events", "4", "DECIMAL"}, // overflows int64 on the way, exact at the end
		{"SELECT AVG(n) FROM events", "1.0000", "DECIMAL"},
		{"SELECT SUM(n) FROM events WHERE event = 'b'", "3", "DECIMAL"},
		{"SELECT AVG(n) FROM events WHERE event = 'b'", "3.0000", "DECIMAL"},
		{"SELECT SUM(n) FROM events WHERE event = 'none'", "NULL", "DECIMAL"},
		{"SELECT MAX(s) FROM (SELECT event, SUM(n) s FROM events GROUP BY event) t", "9223372036854775809", "DECIMAL"},
		{"SELECT SUM(e.n) FROM events e JOIN events o ON e.distinct_id = o.distinct_id WHERE e.event = 'a'", "9223372036854775809", "DECIMAL"},
		{"SELECT AVG(e.n) FROM events e JOIN events o ON e.distinct_id = o.distinct_id WHERE e.event = 'a'", "4611686018427387904.5000", "DECIMAL"},
		{"SELECT SUM(c) FROM (SELECT distinct_id, COUNT(*) c FROM events GROUP BY distinct_id) t", "5", "DECIMAL"},
		{"SELECT AVG(c) FROM (SELECT distinct_id, COUNT(*) c FROM events GROUP BY distinct_id) t", "1.2500", "DECIMAL"},
		{"SELECT SUM(DISTINCT n) FROM events WHERE event = 'a'", "9223372036854775809", "DECIMAL"},
		{"SELECT SUM(1)", "1", "DECIMAL"},
		{"SELECT AVG(1)", "1.0000", "DECIMAL"},
		{"SELECT s FROM (SELECT event, SUM(n) s FROM events GROUP BY event) t WHERE event = 'a'", "9223372036854775809", "DECIMAL"},
		{"WITH c AS (SELECT event, AVG(n) a FROM events GROUP BY event) SELECT a FROM c WHERE event = 'a'", "4611686018427387904.5000", "DECIMAL"},
		{"SELECT AVG(2.5)", "2.50000", "DECIMAL"}, // DECIMAL(2,1): scale 1 + 4
		{"SELECT SUM(f) FROM events", "5.25", "DOUBLE"},
		{"SELECT AVG(f) FROM events", "1.3125", "DOUBLE"},
	}
	for _, pushdown := range []int{1, 0} {
		if _, err := conn.ExecContext(context.Background(), fmt.Sprintf("SET arb_pushdown = %d", pushdown)); err != nil {
			t.Fatal(err)
		}
		for _, c := range cases {
			rows, err := conn.QueryContext(context.Background(), c.q)
			if err != nil {
				t.Errorf("pushdown %d: %s: %v", pushdown, c.q, err)
				continue
			}
			cts, _ := rows.ColumnTypes()
			var v sql.RawBytes
			if !rows.Next() {
				t.Errorf("pushdown %d: %s: no row (%v)", pushdown, c.q, rows.Err())
				rows.Close()
				continue
			}
			err = rows.Scan(&v)
			rows.Close()
			if err != nil {
				t.Errorf("pushdown %d: %s: %v", pushdown, c.q, err)
				continue
			}
			got := "NULL"
			if v != nil {
				got = string(v)
			}
			if got != c.want || cts[0].DatabaseTypeName() != c.typ {
				t.Errorf("pushdown %d: %s = %s %q, want %s %q (MySQL 8)", pushdown, c.q, cts[0].DatabaseTypeName(), got, c.typ, c.want)
			}
		}
	}
	// Grouped, in every path: each group exact.
	for _, pushdown := range []int{1, 0} {
		if _, err := conn.ExecContext(context.Background(), fmt.Sprintf("SET arb_pushdown = %d", pushdown)); err != nil {
			t.Fatal(err)
		}
		got := queryRows(t, conn, "SELECT event, SUM(n), AVG(n) FROM events GROUP BY event ORDER BY event")
		want := []string{"a|9223372036854775809|4611686018427387904.5000|", "b|3|3.0000|", "c|-9223372036854775808|-9223372036854775808.0000|"}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("pushdown %d: grouped sums %v, want %v", pushdown, got, want)
		}
	}
}

// TestRetypedUnions: SUM and AVG of exact numbers keep MySQL 8's exact
// DECIMAL inside a UNION and under GROUP BY … WITH ROLLUP (rewritten into
// a UNION ALL), and a union column takes the type MySQL gives its sides
// (8.0 manual 15.2.18 "UNION Clause"): DECIMALs the most integer digits
// and the most scale of either side, printed at that scale; an integer
// beside a DECIMAL a DECIMAL; a DOUBLE among them a DOUBLE. go-mysql-server
// fixed a union's column types before arb's rules, so such statements
// printed DOUBLEs (2.3333333333333335), and a side arb retyped failed the
// union's schema check. With pushdown on and off.
func TestRetypedUnions(t *testing.T) {
	srv := startTestServer(t, t.TempDir())
	db := openRawDB(t, srv)
	mustExec(t, db, "INSERT INTO events (time, event, distinct_id, n) VALUES "+
		"('2025-01-01 10:00:00', 'a', 'u1', 4611686018427387904), ('2025-01-01 11:00:00', 'b', 'u2', 4611686018427387905), ('2025-01-01 12:00:00', 'c', 'u3', 3)")
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	const sum, avg = "9223372036854775812", "3074457345618258604.0000" // beyond a DOUBLE's 53 bits
	cases := []struct {
		q    string
		rows []string
		cols []typedColumn // scale -1: not checked
	}{
		{"SELECT SUM(n), AVG(n) FROM events UNION ALL SELECT SUM(n), AVG(n) FROM events WHERE event = 'c'",
			[]string{sum + "|" + avg, "3|3.0000"}, []typedColumn{{"DECIMAL", 0}, {"DECIMAL", 4}}},
		{"SELECT AVG(n) FROM events WHERE event = 'c' UNION SELECT SUM(n) FROM events",
			[]string{"3.0000", sum + ".0000"}, []typedColumn{{"DECIMAL", 4}}},
		{"SELECT SUM(n) FROM events UNION ALL SELECT 1", []string{sum, "1"}, []typedColumn{{"DECIMAL", 0}}},
		{"SELECT SUM(n) FROM events WHERE event = 'c' UNION ALL SELECT 2.5", []string{"3.0", "2.5"}, []typedColumn{{"DECIMAL", 1}}},
		{"SELECT SUM(CAST(n AS DECIMAL(22,2))) FROM events UNION ALL SELECT AVG(n) FROM events WHERE event = 'c'",
			[]string{sum + ".0000", "3.0000"}, []typedColumn{{"DECIMAL", 4}}},
		{"SELECT SUM(n) FROM events WHERE event = 'c' UNION ALL SELECT 0.5e0", []string{"3", "0.5"}, []typedColumn{{"DOUBLE", -1}}},
		// Three sides: the planbuilder nests the first two and names
		// their columns through an alias of its own.
		{"SELECT SUM(n) s FROM events WHERE event = 'c' UNION ALL SELECT 1.5 UNION ALL SELECT AVG(n) FROM events",
			[]string{"3.0000", "1.5000", avg}, []typedColumn{{"DECIMAL", 4}}},
		{"SELECT SUM(n) FROM events WHERE event = 'c' UNION ALL (SELECT AVG(n) FROM events UNION ALL SELECT 2.25)",
			[]string{"3.0000", avg, "2.2500"}, []typedColumn{{"DECIMAL", 4}}},
		{"SELECT s FROM (SELECT event, SUM(n) s FROM events GROUP BY event UNION ALL SELECT NULL, SUM(n) FROM events) t ORDER BY s",
			[]string{"3", "4611686018427387904", "4611686018427387905", sum}, []typedColumn{{"DECIMAL", 0}}},
		{"SELECT event, SUM(n), AVG(n) FROM events GROUP BY event WITH ROLLUP",
			[]string{"a|4611686018427387904|4611686018427387904.0000", "b|4611686018427387905|4611686018427387905.0000", "c|3|3.0000", "NULL|" + sum + "|" + avg},
			[]typedColumn{{"TEXT", -1}, {"DECIMAL", 0}, {"DECIMAL", 4}}},
		{"SELECT event, COUNT(*), SUM(CAST(n AS DECIMAL(22,2))) FROM events WHERE event <> 'c' GROUP BY event WITH ROLLUP",
			[]string{"a|1|4611686018427387904.00", "b|1|4611686018427387905.00", "NULL|2|9223372036854775809.00"},
			[]typedColumn{{"TEXT", -1}, {"BIGINT", -1}, {"DECIMAL", 2}}},
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
			if fmt.Sprint(rows) != fmt.Sprint(c.rows) || !sameColumns(cols, c.cols) {
				t.Errorf("pushdown %d: %s = %q %v, want %q %v (MySQL 8)", pushdown, c.q, rows, cols, c.rows, c.cols)
			}
		}
		// EXPLAIN of such a union plans it too.
		const explained = "SELECT s FROM (SELECT event, SUM(n) s FROM events GROUP BY event UNION ALL SELECT NULL, SUM(n) FROM events) t"
		rows, _, err := queryTyped(context.Background(), conn, "EXPLAIN FORMAT=TREE "+explained)
		if err != nil || len(rows) == 0 {
			t.Errorf("pushdown %d: EXPLAIN %s: %d rows, %v", pushdown, explained, len(rows), err)
		}
	}
}

// TestWindowSumAvgOfIntegers: a windowed SUM or AVG of an integer or
// DECIMAL column is a DECIMAL printed at its scale, as in MySQL 8 (AVG
// with 4 more digits of scale than its argument): go-mysql-server typed it
// as its argument, so AVG OVER of 1 and 2 printed 2; then 1.5 with scale
// 12, and SUM with precision 63 (arb's rule typed its own output again).
// AVG over a frame of NULLs only is NULL. With pushdown on and off.
// (TestWindowSumAvgExact: the sums are exact.)
func TestWindowSumAvgOfIntegers(t *testing.T) {
	srv := startTestServer(t, t.TempDir())
	db := openRawDB(t, srv)
	mustExec(t, db, "INSERT INTO events (time, event, distinct_id, n) VALUES "+
		"('2025-01-01 10:00:00', 'a', 'u1', 1), ('2025-01-01 11:00:00', 'a', 'u1', 2), ('2025-01-01 12:00:00', 'a', 'u2', 4), "+
		"('2025-01-01 13:00:00', 'b', 'u3', -5), ('2025-01-01 14:00:00', 'c', 'u4', NULL)")
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	const q = "SELECT AVG(n) OVER (PARTITION BY distinct_id), SUM(n) OVER (ORDER BY time), " +
		"SUM(n) OVER (PARTITION BY distinct_id ORDER BY time ROWS BETWEEN 1 PRECEDING AND CURRENT ROW), " +
		"AVG(CAST(n AS DECIMAL(22,2))) OVER (PARTITION BY distinct_id) FROM events WHERE event <> 'c' ORDER BY time"
	want := []string{
		"1.5000|1|1|1.500000",
		"1.5000|3|3|1.500000",
		"4.0000|7|4|4.000000",
		"-5.0000|2|-5|-5.000000",
	}
	cols := []typedColumn{{"DECIMAL", 4}, {"DECIMAL", 0}, {"DECIMAL", 0}, {"DECIMAL", 6}}
	for _, pushdown := range []int{1, 0} {
		if _, err := conn.ExecContext(context.Background(), fmt.Sprintf("SET arb_pushdown = %d", pushdown)); err != nil {
			t.Fatal(err)
		}
		rows, got, err := queryTyped(context.Background(), conn, q)
		if err != nil {
			t.Fatalf("pushdown %d: %v", pushdown, err)
		}
		if fmt.Sprint(rows) != fmt.Sprint(want) || !sameColumns(got, cols) {
			t.Errorf("pushdown %d: %s =\n%q %v, want\n%q %v (MySQL 8)", pushdown, q, rows, got, want, cols)
		}
		// AVG over NULLs only is NULL (it failed: "value NaN is not a
		// valid Decimal"), however the column is read.
		for _, q := range []string{
			"SELECT AVG(n) OVER (PARTITION BY distinct_id) FROM events WHERE event IN ('b', 'c') ORDER BY time",
			"SELECT AVG(n) OVER (PARTITION BY distinct_id) AS a FROM events WHERE event IN ('b', 'c') ORDER BY time",
			"SELECT a FROM (SELECT time, AVG(n) OVER (PARTITION BY distinct_id) a FROM events WHERE event IN ('b', 'c')) t ORDER BY time",
		} {
			rows, got, err := queryTyped(context.Background(), conn, q)
			if err != nil || fmt.Sprint(rows) != "[-5.0000 NULL]" || !sameColumns(got, cols[:1]) {
				t.Errorf("pushdown %d: %s = %q %v %v, want [-5.0000 NULL] DECIMAL scale 4 (MySQL 8)", pushdown, q, rows, got, err)
			}
		}
	}
}

// TestWindowSumAvgExact: windowed SUM and AVG of integers and DECIMALs are
// exact, as MySQL 8 computes them (issue 16), in the native window
// operator (pushdown on, checked in EXPLAIN) and in go-mysql-server's
// window (pushdown off) alike. Both summed float64 prefix sums: a running
// sum beyond 2^53 lost digits (6917529027641082000), one past 2^63 too,
// and SUM over a frame of NULLs only was 0 (MySQL: NULL). Running sums of
// BIGINTs near 2^62 and 2^63 overflow an int64 into a decimal, in the
// prefix sums and in a frame's difference of them; ROWS and RANGE frames,
// PARTITION BY with ORDER BY; DECIMAL(10,2) values (AVG at scale 2 + 4).
func TestWindowSumAvgExact(t *testing.T) {
	srv := startTestServer(t, t.TempDir())
	db := openRawDB(t, srv)
	mustExec(t, db, "INSERT INTO events (time, event, distinct_id, n, f) VALUES "+
		// big: 2^62, 2^62 + 1, 2^62 + 4, the last two at the same time (RANGE peers).
		"('2025-01-01 10:00:00', 'big', 'u1', 4611686018427387904, NULL), ('2025-01-01 11:00:00', 'big', 'u1', 4611686018427387905, NULL), "+
		"('2025-01-01 11:00:00', 'big', 'u1', 4611686018427387908, NULL), "+
		// edge: the int64 extremes and a NULL.
		"('2025-01-01 12:00:00', 'edge', 'u2', 9223372036854775807, NULL), ('2025-01-01 13:00:00', 'edge', 'u2', 9223372036854775807, NULL), "+
		"('2025-01-01 14:00:00', 'edge', 'u2', -9223372036854775808, NULL), ('2025-01-01 15:00:00', 'edge', 'u2', NULL, NULL), "+
		// none: NULLs only.
		"('2025-01-01 16:00:00', 'none', 'u3', NULL, NULL), ('2025-01-01 17:00:00', 'none', 'u3', NULL, NULL), "+
		// dec: DECIMAL(10,2) values through a CAST.
		"('2025-01-01 18:00:00', 'dec', 'u4', NULL, 1.25), ('2025-01-01 19:00:00', 'dec', 'u4', NULL, 2.5), "+
		"('2025-01-01 20:00:00', 'dec', 'u4', NULL, NULL), ('2025-01-01 21:00:00', 'dec', 'u4', NULL, 0.1)")
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	const (
		max64, min64 = "9223372036854775807", "-9223372036854775808"
		big3         = "13835058055282163717" // 3·2^62 + 5
	)
	cases := []struct {
		q    string
		rows []string
		cols []typedColumn
	}{
		{"SELECT distinct_id, SUM(n) OVER (PARTITION BY distinct_id ORDER BY time, n ROWS UNBOUNDED PRECEDING), " +
			"AVG(n) OVER (PARTITION BY distinct_id ORDER BY time, n ROWS UNBOUNDED PRECEDING), " +
			"SUM(CAST(n AS DECIMAL(22,2))) OVER (PARTITION BY distinct_id ORDER BY time, n ROWS UNBOUNDED PRECEDING) " +
			"FROM events WHERE event IN ('big', 'edge') ORDER BY time, n",
			[]string{
				"u1|4611686018427387904|4611686018427387904.0000|4611686018427387904.00",
				"u1|9223372036854775809|4611686018427387904.5000|9223372036854775809.00",
				"u1|" + big3 + "|4611686018427387905.6667|" + big3 + ".00",
				"u2|" + max64 + "|" + max64 + ".0000|" + max64 + ".00",
				"u2|18446744073709551614|" + max64 + ".0000|18446744073709551614.00",
				"u2|9223372036854775806|3074457345618258602.0000|9223372036854775806.00",
				"u2|9223372036854775806|3074457345618258602.0000|9223372036854775806.00",
			},
			[]typedColumn{{"TEXT", -1}, {"DECIMAL", 0}, {"DECIMAL", 4}, {"DECIMAL", 2}}},
		// A frame's sum is a difference of prefix sums: past 2^63 and back.
		{"SELECT SUM(n) OVER (PARTITION BY distinct_id ORDER BY time ROWS BETWEEN 1 PRECEDING AND CURRENT ROW), " +
			"AVG(n) OVER (PARTITION BY distinct_id ORDER BY time ROWS BETWEEN 1 PRECEDING AND CURRENT ROW), " +
			"SUM(n) OVER (PARTITION BY distinct_id ORDER BY time ROWS BETWEEN CURRENT ROW AND CURRENT ROW), " +
			"AVG(n) OVER (PARTITION BY distinct_id ORDER BY time ROWS BETWEEN CURRENT ROW AND 1 FOLLOWING) " +
			"FROM events WHERE event = 'edge' ORDER BY time",
			[]string{
				max64 + "|" + max64 + ".0000|" + max64 + "|" + max64 + ".0000",
				"18446744073709551614|" + max64 + ".0000|" + max64 + "|-0.5000",
				"-1|-0.5000|" + min64 + "|" + min64 + ".0000",
				min64 + "|" + min64 + ".0000|NULL|NULL",
			},
			[]typedColumn{{"DECIMAL", 0}, {"DECIMAL", 4}, {"DECIMAL", 0}, {"DECIMAL", 4}}},
		// RANGE frames: peers (equal times) share the frame's end.
		{"SELECT SUM(n) OVER (PARTITION BY distinct_id ORDER BY time RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW), " +
			"AVG(n) OVER (PARTITION BY distinct_id ORDER BY time RANGE BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING), " +
			"SUM(n) OVER () FROM events WHERE event IN ('big', 'edge') ORDER BY time, n",
			[]string{
				"4611686018427387904|4611686018427387905.6667|23058430092136939523",
				big3 + "|4611686018427387905.6667|23058430092136939523",
				big3 + "|4611686018427387905.6667|23058430092136939523",
				max64 + "|3074457345618258602.0000|23058430092136939523",
				"18446744073709551614|3074457345618258602.0000|23058430092136939523",
				"9223372036854775806|3074457345618258602.0000|23058430092136939523",
				"9223372036854775806|3074457345618258602.0000|23058430092136939523",
			},
			[]typedColumn{{"DECIMAL", 0}, {"DECIMAL", 4}, {"DECIMAL", 0}}},
		// Frames of NULLs only: NULL, not 0.
		{"SELECT SUM(n) OVER (PARTITION BY distinct_id), AVG(n) OVER (PARTITION BY distinct_id), " +
			"SUM(n) OVER (PARTITION BY distinct_id ORDER BY time) FROM events WHERE event = 'none' ORDER BY time",
			[]string{"NULL|NULL|NULL", "NULL|NULL|NULL"},
			[]typedColumn{{"DECIMAL", 0}, {"DECIMAL", 4}, {"DECIMAL", 0}}},
		{"SELECT SUM(CAST(f AS DECIMAL(10,2))) OVER (ORDER BY time), AVG(CAST(f AS DECIMAL(10,2))) OVER (ORDER BY time), " +
			"SUM(CAST(f AS DECIMAL(10,2))) OVER (ORDER BY time ROWS BETWEEN CURRENT ROW AND CURRENT ROW) " +
			"FROM events WHERE event = 'dec' ORDER BY time",
			[]string{"1.25|1.250000|1.25", "3.75|1.875000|2.50", "3.75|1.875000|NULL", "3.85|1.283333|0.10"},
			[]typedColumn{{"DECIMAL", 2}, {"DECIMAL", 6}, {"DECIMAL", 2}}},
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
			if fmt.Sprint(rows) != fmt.Sprint(c.rows) || !sameColumns(cols, c.cols) {
				t.Errorf("pushdown %d: %s =\n%q %v, want\n%q %v (MySQL 8)", pushdown, c.q, rows, cols, c.rows, c.cols)
			}
			if pushdown == 1 {
				plan := strings.Join(queryRows(t, conn, "EXPLAIN FORMAT=TREE "+c.q), "\n")
				if !strings.Contains(plan, "arb Window") {
					t.Errorf("%s: want the native Window, got\n%s", c.q, plan)
				}
			}
		}
	}
}

package integration

// Numbers sent as server-side prepared statement parameters are stored
// exactly as the same numbers written as SQL literals (issue 16): a JSON
// properties parameter keeps every digit of an integer beyond int64, and
// an integer or DECIMAL parameter types a new column as its literal does
// (2^64-1 is text with every digit, not an error). One conversion
// (server.numberValue) serves every path.

import (
	"fmt"
	"strings"
	"testing"
)

// numberEdgeCases are the edge numbers, as JSON/SQL text, with the text
// each must read back as (CAST(... AS CHAR) of its property column).
var numberEdgeCases = []struct{ lit, want string }{
	{"9223372036854775807", "9223372036854775807"},   // 2^63-1
	{"9223372036854775808", "9223372036854775808"},   // 2^63
	{"18446744073709551615", "18446744073709551615"}, // 2^64-1
	{"18446744073709551616", "18446744073709551616"}, // 2^64
	{"-9223372036854775808", "-9223372036854775808"}, // -2^63
	{"-9223372036854775809", "-9223372036854775809"}, // -2^63-1
	{"123456789012345678901234567890", "123456789012345678901234567890"},
	{"0.1", "0.1"},
	{"9007199254740993", "9007199254740993"}, // 2^53+1
}

func TestPreparedNumbersKeepDigits(t *testing.T) {
	arb := startArb(t)
	db := serverPrepared(t, arb)
	db.SetMaxOpenConns(1)

	// properties: one row by literal (the native INSERT path), one by a
	// prepared INSERT's parameter, one by a literal in an INSERT
	// go-mysql-server runs (an expression in the row).
	var props []string
	for i, c := range numberEdgeCases {
		props = append(props, fmt.Sprintf(`"p%d": %s`, i, c.lit))
	}
	obj := "{" + strings.Join(props, ", ") + "}"
	if _, err := db.Exec("INSERT INTO events (time, event, distinct_id, properties) VALUES ('2025-01-01 00:00:00', 'N', 'literal', '" + obj + "')"); err != nil {
		t.Fatalf("literal properties: %v", err)
	}
	if _, err := db.Exec("INSERT INTO events (time, event, distinct_id, properties) VALUES (?, ?, ?, ?)", "2025-01-01 00:00:00", "N", "prepared", obj); err != nil {
		t.Fatalf("prepared properties: %v", err)
	}
	if _, err := db.Exec("INSERT INTO events (time, event, distinct_id, properties) VALUES (TIMESTAMP('2025-01-01'), 'N', CONCAT('ex', 'pr'), '" + obj + "')"); err != nil {
		t.Fatalf("properties with expressions: %v", err)
	}
	if _, err := db.Exec("INSERT INTO events (time, event, distinct_id, properties) SELECT time, event, 'copy', properties FROM events WHERE distinct_id = 'prepared'"); err != nil {
		t.Fatalf("INSERT ... SELECT properties: %v", err)
	}
	for i, c := range numberEdgeCases {
		for _, who := range []string{"literal", "prepared", "expr", "copy"} {
			var got string
			q := fmt.Sprintf("SELECT CAST(p%d AS CHAR) FROM events WHERE distinct_id = ?", i)
			if err := db.QueryRow(q, who).Scan(&got); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
			if got != c.want {
				t.Errorf("properties %s sent by %s reads %q, want %q", c.lit, who, got, c.want)
			}
		}
	}

	// A property column's value: the literal names column l<i>, the
	// parameter column b<i>; the driver binds Go integers as BIGINT
	// (uint64 as unsigned), a number beyond 64 bits as text.
	bound := []any{int64(9223372036854775807), uint64(9223372036854775808), uint64(18446744073709551615), "18446744073709551616",
		int64(-9223372036854775808), "-9223372036854775809", "123456789012345678901234567890", 0.1, int64(9007199254740993)}
	for i, c := range numberEdgeCases {
		lit := fmt.Sprintf("INSERT INTO events (time, event, distinct_id, l%d) VALUES ('2025-01-02 00:00:00', 'C', 'u', %s)", i, c.lit)
		if _, err := arb.db.Exec(lit); err != nil {
			t.Fatalf("%s: %v", lit, err)
		}
		prep := fmt.Sprintf("INSERT INTO events (time, event, distinct_id, b%d) VALUES ('2025-01-02 00:00:00', 'C', 'u', ?)", i)
		if _, err := db.Exec(prep, bound[i]); err != nil {
			t.Errorf("%s with %T %v: %v", prep, bound[i], bound[i], err)
			continue
		}
		var lv, bv, lt, bt string
		q := fmt.Sprintf("SELECT (SELECT CAST(l%d AS CHAR) FROM events WHERE l%d IS NOT NULL), (SELECT CAST(b%d AS CHAR) FROM events WHERE b%d IS NOT NULL), "+
			"(SELECT DATA_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 'default' AND TABLE_NAME = 'events' AND COLUMN_NAME = 'l%d'), "+
			"(SELECT DATA_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 'default' AND TABLE_NAME = 'events' AND COLUMN_NAME = 'b%d')", i, i, i, i, i, i)
		if err := db.QueryRow(q).Scan(&lv, &bv, &lt, &bt); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		if lv != c.want || bv != c.want || lt != bt {
			t.Errorf("%s: literal reads %q (%s), parameter %T reads %q (%s); want %q and the same type", c.lit, lv, lt, bound[i], bv, bt, c.want)
		}
	}

	// 1e400 is no number a float holds: refused by every path, nothing
	// stored.
	for _, send := range []func() error{
		func() error {
			_, err := db.Exec(`INSERT INTO events (time, event, distinct_id, properties) VALUES ('2025-01-03 00:00:00', 'Inf', 'u', '{"x": 1e400}')`)
			return err
		},
		func() error {
			_, err := db.Exec("INSERT INTO events (time, event, distinct_id, properties) VALUES (?, ?, ?, ?)", "2025-01-03 00:00:00", "Inf", "u", `{"x": 1e400}`)
			return err
		},
	} {
		if err := send(); err == nil {
			t.Error(`properties {"x": 1e400} accepted`)
		}
	}
	var n int
	if err := db.QueryRow("SELECT count(*) FROM events WHERE event = 'Inf'").Scan(&n); err != nil || n != 0 {
		t.Errorf("rows stored from refused 1e400 inserts: %d (%v)", n, err)
	}
}

package integration

// Date values typed as MySQL 8 types them, as a driver sees the result
// metadata (issue 16): DATE 'x', CURDATE(), CURRENT_DATE, UTC_DATE() and
// DATE(expr) are DATE (column type 10), TIMESTAMP 'x' is DATETIME (12)
// (MySQL 8.0 manual 11.1.3 "Date and Time Literals", 14.7 "Date and Time
// Functions"), over the text protocol and server-side prepared
// statements alike; CURDATE() is the date of NOW() in the session's time
// zone.

import (
	"database/sql"
	"reflect"
	"testing"

	"github.com/go-sql-driver/mysql"
)

func TestDateColumnTypes(t *testing.T) {
	arb := startArb(t)
	if _, err := arb.db.Exec(preparedFixture); err != nil {
		t.Fatal(err)
	}
	query := "SELECT DATE '2024-01-01', CURDATE(), CURRENT_DATE, UTC_DATE(), DATE(time), TIMESTAMP '2024-01-01 10:00:00.25', " +
		"CURDATE() = DATE(NOW()), UTC_DATE() = DATE(UTC_TIMESTAMP()) FROM events WHERE time >= DATE '2025-01-02' ORDER BY time LIMIT 1"
	wantNames := []string{"DATE '2024-01-01'", "CURDATE()", "CURRENT_DATE", "UTC_DATE()", "DATE(time)", "TIMESTAMP '2024-01-01 10:00:00.25'",
		"CURDATE() = DATE(NOW())", "UTC_DATE() = DATE(UTC_TIMESTAMP())"}
	wantTypes := []string{"DATE", "DATE", "DATE", "DATE", "DATE", "DATETIME"}
	db := serverPrepared(t, arb)
	db.SetMaxOpenConns(1) // one session: the time zones below are the session's
	check := func(how string, rows *sql.Rows, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", how, err)
		}
		cts, err := rows.ColumnTypes()
		if err != nil {
			t.Fatal(err)
		}
		var names, types []string
		for i, ct := range cts {
			names = append(names, ct.Name())
			if i < len(wantTypes) { // the comparisons' type is not at issue here
				types = append(types, ct.DatabaseTypeName())
			}
		}
		got := resultText(t, rows, nil)
		if !reflect.DeepEqual(names, wantNames) || !reflect.DeepEqual(types, wantTypes) {
			t.Errorf("%s: columns %q typed %q, want %q typed %q", how, names, types, wantNames, wantTypes)
		}
		if len(got) != 1 || got[0][0] != "2024-01-01" || got[0][4] != "2025-01-02" || got[0][5] != "2024-01-01 10:00:00.25" ||
			got[0][1] != got[0][2] || got[0][6] != "1" || got[0][7] != "1" {
			t.Errorf("%s: row %q", how, got)
		}
	}
	for _, zone := range []string{"SYSTEM", "+14:00", "-12:00"} {
		if _, err := db.Exec("SET time_zone = '" + zone + "'"); err != nil {
			t.Fatal(err)
		}
		rows, err := db.Query(query)
		check("text protocol, time_zone "+zone, rows, err)
		stmt, err := db.Prepare(query)
		if err != nil {
			t.Fatalf("prepare: %v", err)
		}
		rows, err = stmt.Query()
		check("prepared, time_zone "+zone, rows, err)
		stmt.Close()
	}
	// +14:00 and -12:00 are 26 hours apart: their dates always differ.
	var east, west string
	db.Exec("SET time_zone = '+14:00'")
	if err := db.QueryRow("SELECT CURDATE()").Scan(&east); err != nil {
		t.Fatal(err)
	}
	db.Exec("SET time_zone = '-12:00'")
	if err := db.QueryRow("SELECT CURDATE()").Scan(&west); err != nil {
		t.Fatal(err)
	}
	if east == west {
		t.Errorf("CURDATE() is %s at +14:00 and at -12:00: not the session's date", east)
	}

	// time_zone = 'system' in any case is SYSTEM, as in MySQL; an unknown
	// zone is refused with ER_UNKNOWN_TIME_ZONE and leaves the setting.
	if _, err := db.Exec("SET time_zone = 'system'"); err != nil {
		t.Fatal(err)
	}
	var zone, sysZone, now, sysNow string
	if err := db.QueryRow("SELECT @@time_zone, @@system_time_zone, NOW()").Scan(&zone, &sysZone, &now); err != nil {
		t.Fatalf("NOW() after SET time_zone = 'system': %v", err)
	}
	if _, err := db.Exec("SET time_zone = 'SYSTEM'"); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow("SELECT NOW()").Scan(&sysNow); err != nil {
		t.Fatal(err)
	}
	if zone != "SYSTEM" || sysZone == "" || now[:10] != sysNow[:10] {
		t.Errorf("after SET time_zone = 'system': @@time_zone %q, @@system_time_zone %q, NOW() %s (SYSTEM: %s)", zone, sysZone, now, sysNow)
	}
	_, err := db.Exec("SET time_zone = 'Nowhere/Zone'")
	if me, ok := err.(*mysql.MySQLError); !ok || me.Number != 1298 {
		t.Errorf("SET time_zone = 'Nowhere/Zone': %v, want error 1298", err)
	}
	if err := db.QueryRow("SELECT @@time_zone").Scan(&zone); err != nil || zone != "SYSTEM" {
		t.Errorf("@@time_zone after a refused SET: %q (%v)", zone, err)
	}
}

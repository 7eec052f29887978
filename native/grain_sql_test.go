package native_test

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"
)

var grainTableOnce sync.Once

// grainTable creates tgrain: DATETIME(6), DATETIME(0) and DATE columns
// of times clustered around a few instants (before 1970, around
// midnight, on New Year's Eve, near the ends of DATETIME's range) and
// NULLs, in batches of several thousand rows so that buckets repeat.
func grainTable(t *testing.T) {
	t.Helper()
	h := testDB(t)
	grainTableOnce.Do(func() {
		if _, err := h.exec(1, "CREATE TABLE tgrain (time DATETIME(6), t0 DATETIME, d DATE, event TEXT, amount DOUBLE)"); err != nil {
			t.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(21, 3))
		bases := []time.Time{
			time.Date(2025, 3, 9, 23, 30, 0, 0, time.UTC), time.Date(1969, 12, 31, 22, 0, 0, 0, time.UTC),
			time.Date(1960, 2, 29, 12, 0, 0, 0, time.UTC), time.Date(2024, 12, 31, 23, 59, 0, 0, time.UTC),
			time.Date(1000, 1, 3, 0, 0, 0, 0, time.UTC), time.Date(9999, 12, 20, 0, 0, 0, 0, time.UTC),
		}
		events := []string{"Purchase", "Login", "Signup"}
		var rows []string
		for i := range 6000 {
			b := bases[rng.IntN(len(bases))]
			v := b.Add(time.Duration(rng.IntN(10*24*3600)-5*24*3600) * time.Second).Add(time.Duration(rng.IntN(1000000)) * time.Microsecond)
			if v.Year() > 9999 || v.Year() < 1000 {
				v = b
			}
			ts := "'" + v.Format("2006-01-02 15:04:05.000000") + "'"
			if rng.IntN(20) == 0 {
				ts = "NULL"
			}
			rows = append(rows, fmt.Sprintf("(%s, %s, %s, '%s', %.2f)", ts, ts, ts, events[rng.IntN(len(events))], rng.Float64()*100))
			if len(rows) == 1000 || i == 5999 {
				if _, err := h.exec(1, "INSERT INTO tgrain VALUES "+strings.Join(rows, ",")); err != nil {
					t.Fatal(err)
				}
				rows = nil
			}
		}
	})
}

// TestGrainForms runs BI tools' time bucketing (evaluated once per
// bucket by the grain cache) with arb's rules and without, over times
// before 1970, around midnight, near DATETIME's ends and NULL.
func TestGrainForms(t *testing.T) {
	grainTable(t)
	// STR_TO_DATE of a NULL fails in go-mysql-server ("invalid type:
	// <nil>", both plans): its forms read non-NULL times.
	var qs []string
	for _, c := range []string{"time", "t0", "d"} {
		for _, q := range []string{
			// Metabase's month, week and quarter, Tableau's month,
			// Superset's week and hour, Grafana-like hours.
			`SELECT STR_TO_DATE(CONCAT(DATE_FORMAT({c}, '%Y-%m'), '-01'), '%Y-%m-%d') AS m, event, SUM(amount), COUNT(*) FROM tgrain
			 WHERE {c} IS NOT NULL GROUP BY STR_TO_DATE(CONCAT(DATE_FORMAT({c}, '%Y-%m'), '-01'), '%Y-%m-%d'), event ORDER BY 1, 2`,
			`SELECT STR_TO_DATE(CONCAT(YEARWEEK({c}), ' Sunday'), '%X%V %W') AS w, COUNT(*) FROM tgrain WHERE {c} IS NOT NULL GROUP BY 1 ORDER BY 1`,
			`SELECT (DATE({c}) + INTERVAL QUARTER({c}) QUARTER - INTERVAL 1 QUARTER) AS q, COUNT(*) FROM tgrain GROUP BY 1 ORDER BY 1`,
			`SELECT TIMESTAMP(DATE_FORMAT({c}, '%Y-%m-01 00:00:00')) AS m, COUNT(*) FROM tgrain GROUP BY 1 ORDER BY 1`,
			`SELECT DATE(DATE_SUB({c}, INTERVAL DAYOFWEEK({c}) - 1 DAY)) AS w, event, COUNT(*) FROM tgrain GROUP BY 1, 2 ORDER BY 1, 2`,
			`SELECT DATE_ADD(DATE({c}), INTERVAL (HOUR({c})) HOUR) AS h, COUNT(*) FROM tgrain GROUP BY 1 ORDER BY 1`,
			`SELECT DATE_FORMAT({c}, '%Y-%m-%d %H:%i') AS m, COUNT(*) FROM tgrain GROUP BY 1 ORDER BY 1`,
			`SELECT DATE_FORMAT(DATE_SUB({c}, INTERVAL WEEKDAY({c}) DAY), '%x-%v %a %H') AS w, COUNT(*) FROM tgrain GROUP BY 1 ORDER BY 1`,
			`SELECT CAST({c} - INTERVAL 2 WEEK AS DATE) AS w, COUNT(*) FROM tgrain GROUP BY 1 ORDER BY 1`,
			`SELECT CONCAT(YEAR({c}), '-Q', QUARTER({c})) AS q, IF(HOUR({c}) < 12, 'am', 'pm') AS half, COUNT(*) FROM tgrain GROUP BY 1, 2 ORDER BY 1, 2`,
			`SELECT IFNULL(DATE_FORMAT({c}, '%H:%i'), 'none') AS hm, COUNT(*) FROM tgrain GROUP BY 1 ORDER BY 1`,
			`SELECT COUNT(*) FROM tgrain WHERE DATE({c}) = '2025-03-10' OR DATE_FORMAT({c}, '%Y') = '1969'`,
			`SELECT {c}, STR_TO_DATE(CONCAT(DATE_FORMAT({c}, '%Y-%m'), '-01'), '%Y-%m-%d'), DATE(DATE_SUB({c}, INTERVAL DAYOFWEEK({c}) - 1 DAY)) FROM tgrain WHERE {c} IS NOT NULL ORDER BY 1 LIMIT 50`,
		} {
			qs = append(qs, strings.ReplaceAll(q, "{c}", c))
		}
	}
	h := testDB(t)
	for _, q := range qs {
		// Both plans must succeed with rows: an error in both would
		// compare equal and test nothing.
		rows, err := h.exec(1, q)
		if err != nil || len(rows) == 0 {
			t.Fatalf("%s: %d rows, err %v", q, len(rows), err)
		}
		checkSame(t, q, true)
	}
}

// TestTimeRangeFilters runs the time bounds BI tools put on a series
// (decided once per batch when a batch lies inside them: filter_time.go)
// with arb's rules and without, over DATETIME(6), DATETIME and DATE
// columns with NULLs, bounds inside and around the data.
func TestTimeRangeFilters(t *testing.T) {
	grainTable(t)
	var qs []string
	for _, c := range []string{"time", "t0", "d"} {
		for _, q := range []string{
			`SELECT DATE({c}), COUNT(*) FROM tgrain WHERE {c} >= TIMESTAMP('1000-01-01 00:00:00') AND {c} < TIMESTAMP('9999-12-31 23:59:59') GROUP BY 1 ORDER BY 1`,
			`SELECT COUNT(*), SUM(amount) FROM tgrain WHERE {c} BETWEEN FROM_UNIXTIME(1741478400) AND FROM_UNIXTIME(1741651199)`,
			`SELECT event, COUNT(*) FROM tgrain WHERE {c} >= STR_TO_DATE('2025-03-10 00:00:00.000000', '%Y-%m-%d %H:%i:%s.%f') AND {c} < STR_TO_DATE('2025-03-11 00:00:00.000000', '%Y-%m-%d %H:%i:%s.%f') AND event <> 'Login' GROUP BY 1 ORDER BY 1`,
			`SELECT COUNT(*) FROM tgrain WHERE TIMESTAMP('1969-12-31 23:00:00') > {c} OR {c} = TIMESTAMP('2025-03-10 00:00:00')`,
			`SELECT CAST({c} AS DATE), COUNT(*) FROM tgrain WHERE {c} > TIMESTAMP('1960-02-29 12:00:00.5') GROUP BY 1 ORDER BY 1`,
		} {
			qs = append(qs, strings.ReplaceAll(q, "{c}", c))
		}
	}
	h := testDB(t)
	for _, q := range qs {
		rows, err := h.exec(1, q)
		if err != nil || len(rows) == 0 {
			t.Fatalf("%s: %d rows, err %v", q, len(rows), err)
		}
		checkSame(t, q, true)
	}
}

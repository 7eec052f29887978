package planner

import (
	"math/rand"
	"testing"
	"time"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/shopspring/decimal"
)

// TestConvertTimeZoneMatchesGMS checks the cached conversion against
// go-mysql-server's for named zones, offsets, UTC, invalid names and
// moments around daylight-saving changes.
func TestConvertTimeZoneMatchesGMS(t *testing.T) {
	zones := []string{"UTC", "+00:00", "+05:30", "-08:00", "Europe/Paris", "America/New_York", "Asia/Kolkata", "SYSTEM", "nowhere", "+25:00"}
	moments := []time.Time{
		time.Date(2025, 3, 30, 0, 59, 59, 0, time.UTC),
		time.Date(2025, 3, 30, 1, 0, 0, 0, time.UTC),
		time.Date(2025, 3, 30, 2, 30, 0, 0, time.UTC),  // a Paris wall clock that does not exist
		time.Date(2025, 10, 26, 2, 30, 0, 0, time.UTC), // one that exists twice
		time.Date(2024, 2, 29, 23, 59, 59, 999999000, time.UTC),
		time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	for _, from := range zones {
		for _, to := range zones {
			for _, m := range moments {
				want, wok := sql.ConvertTimeZone(m, from, to)
				for range 2 { // the second call reads the cache
					got, ok := convertTimeZone(m, from, to)
					if ok != wok || !got.Equal(want) {
						t.Fatalf("%s from %s to %s: got %v %v, go-mysql-server %v %v", m, from, to, got, ok, want, wok)
					}
				}
			}
		}
	}
}

// TestDecimalDivIntMatchesExact checks the integer path of DIV against
// the exact decimal one for DECIMAL dividends of several scales and
// signs (UNIX_TIMESTAMP of a DATETIME(3) DIV 300 is the common case).
func TestDecimalDivIntMatchesExact(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	for i := 0; i < 20000; i++ {
		scale := int32(r.Intn(7))
		c := r.Int63n(1_000_000_000_000_000) - 500_000_000_000_000
		if i%5 == 0 {
			c = c % 100000
		}
		d := decimal.New(c, -scale)
		y := int64(r.Intn(100000) - 50000)
		if y == 0 {
			y = 7
		}
		got, ok := decimalDivInt(d, y)
		if !ok {
			t.Fatalf("%s DIV %d: not taken", d, y)
		}
		b := decimal.NewFromInt(y)
		want := d.Sub(d.Mod(b)).Div(b).Round(0).IntPart()
		if got != want {
			t.Fatalf("%s DIV %d = %d, exact %d", d, y, got, want)
		}
	}
	if _, ok := decimalDivInt(decimal.RequireFromString("12345678901234567890.5"), int64(3)); ok {
		t.Fatal("a dividend of 21 digits took the int64 path")
	}
}

package planner

import (
	"testing"
	"time"

	"github.com/dolthub/go-mysql-server/sql"
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

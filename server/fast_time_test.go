package server

import (
	"strings"
	"testing"
	"time"
)

// referenceTime is what fastTime replaced: time.ParseInLocation with the
// layout of s's length. It also takes forms fastTime leaves to the
// ordinary path (a space in the layout matches a run of spaces, an hour
// may have one digit); checkFastTime allows that.
func referenceTime(s string) (int64, bool) {
	layout := "2006-01-02 15:04:05"
	switch {
	case len(s) == 10:
		layout = "2006-01-02"
	case len(s) > 19 && s[19] == '.' && len(s) <= 23:
		layout = "2006-01-02 15:04:05." + strings.Repeat("0", len(s)-20)
	case len(s) != 19:
		return 0, false
	}
	t, err := time.ParseInLocation(layout, s, time.UTC)
	if err != nil {
		return 0, false
	}
	return t.UnixMilli(), true
}

// checkFastTime fails t unless fastTime(s) is time.ParseInLocation's
// answer, or a refusal of a form that is not the layout's own.
func checkFastTime(t *testing.T, s string) {
	t.Helper()
	got, gok := fastTime(s)
	want, wok := referenceTime(s)
	if gok && (!wok || got != want) {
		t.Errorf("fastTime(%q) = %d; time.ParseInLocation gives %d, %v", s, got, want, wok)
	}
	if !gok && wok && fastTimeCanonical(want, len(s)) == s {
		t.Errorf("fastTime(%q) refused it; time.ParseInLocation gives %d", s, want)
	}
}

// fastTimeCanonical formats ms as fastTime's layout of n bytes does.
func fastTimeCanonical(ms int64, n int) string {
	tm := time.UnixMilli(ms).UTC()
	switch {
	case n == 10:
		return tm.Format("2006-01-02")
	case n > 19:
		return tm.Format("2006-01-02 15:04:05." + strings.Repeat("0", n-20))
	}
	return tm.Format("2006-01-02 15:04:05")
}

var fastTimeCases = []string{
	"2025-01-01", "2025-01-01 00:13:39", "1970-01-01 00:00:00", "1969-12-31 23:59:59.999",
	"0000-01-01", "0001-03-01 00:00:00", "9999-12-31 23:59:59.9", "2024-02-29", "2023-02-29",
	"1900-02-29", "2000-02-29 12:00:00.5", "2025-04-31", "2025-13-01", "2025-00-10", "2025-01-00",
	"2025-01-01 24:00:00", "2025-01-01 23:60:00", "2025-01-01 23:59:60", "2025-01-01T00:00:00",
	"2025-01-01 00:00:00.", "2025-01-01 00:00:00.1234", "2025-1-01", "2025/01/01", "+025-01-01",
	"2025-01-01 00:00:0x", "2025-01-01 00:00:00,123", "", "2025-01-01 0:00:00", "2025-01-01 00:00:00.12",
	"0000-01-01  0:00:00", "2025-01-01 1:00:00",
}

func TestFastTimeMatchesTimeParse(t *testing.T) {
	for _, s := range fastTimeCases {
		checkFastTime(t, s)
	}
	// Every day of four centuries around the epoch, at a time of day.
	for d := time.Date(1800, 1, 1, 13, 45, 7, 0, time.UTC); d.Year() < 2200; d = d.AddDate(0, 0, 1) {
		s := d.Format("2006-01-02 15:04:05")
		if got, ok := fastTime(s); !ok || got != d.UnixMilli() {
			t.Fatalf("fastTime(%q) = %d, %v; want %d", s, got, ok, d.UnixMilli())
		}
	}
}

func FuzzFastTime(f *testing.F) {
	for _, s := range fastTimeCases {
		f.Add(s)
	}
	f.Fuzz(checkFastTime)
}

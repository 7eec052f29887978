package storage

import (
	"errors"
	"fmt"
	"testing"
)

// TestCheckEventsUTF8SharedBytes: validKeys remembers valid strings by
// their bytes' address and length; a prefix of a valid string that
// cuts a rune (same address, shorter) is still refused, in any row.
func TestCheckEventsUTF8SharedBytes(t *testing.T) {
	city := "Zürich"
	cut := city[:2] // "Z\xc3": same data pointer, half a rune
	rows := func(last string) []Event {
		var out []Event
		for i := 0; i < 100; i++ {
			v := city
			if i == 99 {
				v = last
			}
			out = append(out, Event{Name: "e", DistinctID: "u", TimeMillis: 1, Props: []Prop{{Key: "city", Value: StringValue(v)}}})
		}
		return out
	}
	if err := CheckEvents(rows(city)); err != nil {
		t.Fatalf("valid rows refused: %v", err)
	}
	err := CheckEvents(rows(cut))
	var re *RowError
	if !errors.As(err, &re) || re.Row != 100 || re.Column != "city" {
		t.Fatalf("a cut rune sharing a valid string's bytes: got %v, want row 100 column city refused", err)
	}
}

// TestCheckEventsLargeBatchUTF8: a batch large enough for validKeys'
// large table of valid strings, its values shared by many rows (as LOAD
// DATA's are), still finds the one invalid value, shared or not, and
// names its row and column.
func TestCheckEventsLargeBatchUTF8(t *testing.T) {
	cities := make([]string, 3000)
	for i := range cities {
		cities[i] = fmt.Sprintf("City %04d", i)
	}
	cities[17] = "Zürich"
	for _, badRow := range []int{0, 4999, 7777} {
		// A value of its own, then half a rune of a shared valid one
		// (same address, shorter), after it was found valid.
		for _, bad := range []string{"City \xff", cities[17][:2]} {
			rows := make([]Event, 8000)
			for i := range rows {
				city := cities[(i*17)%len(cities)]
				if i == badRow {
					city = bad
				}
				rows[i] = Event{TimeMillis: 1, Name: "Page View", DistinctID: "u", Props: []Prop{{"$city", StringValue(city)}}}
			}
			err := CheckEvents(rows)
			var re *RowError
			if !errors.As(err, &re) || re.Row != badRow+1 || re.Column != "$city" {
				t.Fatalf("invalid UTF-8 %q at row %d: %v", bad, badRow+1, err)
			}
		}
	}
	rows := make([]Event, 8000)
	for i := range rows {
		rows[i] = Event{TimeMillis: 1, Name: "Page View", DistinctID: "u", Props: []Prop{{"$city", StringValue(cities[i%len(cities)])}}}
	}
	if err := CheckEvents(rows); err != nil {
		t.Fatalf("valid rows: %v", err)
	}
}

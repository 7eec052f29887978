package storage

import (
	"errors"
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

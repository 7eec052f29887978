package ingest

import (
	"fmt"
	"strings"
	"testing"
	"time"
	"unsafe"
)

// TestRepeatedValuesShareACopy checks ownValue: a value repeated across a
// decoder's events is one copy (so the sealing of buffered rows finds it
// by address), an event name too; a value too long for the table, or a
// distinct one, keeps its own bytes; and every value is still the one
// sent, however the table's slots are overwritten.
func TestRepeatedValuesShareACopy(t *testing.T) {
	d := eventDecoder{rules: &eventRules{endpoint: "track", now: time.Now()}}
	long := strings.Repeat("L", maxRepeatedValueBytes+1)
	var names, oses, longs []string
	for i := range 5000 { // far more distinct values than slots
		rec := fmt.Sprintf(`{"event":"Page View","properties":{"distinct_id":"u%d","$os":"Windows","long":%q,"n":"v%d"}}`, i, long, i)
		pe, ok := d.decode(rec)
		if !ok {
			t.Fatalf("record %d not handled by the scanner", i)
		}
		got := map[string]string{}
		for _, p := range pe.event.Props {
			got[p.Key] = p.Value.Str
		}
		if pe.event.Name != "Page View" || got["$os"] != "Windows" || got["long"] != long || got["n"] != fmt.Sprintf("v%d", i) {
			t.Fatalf("record %d decoded as %q %v", i, pe.event.Name, got)
		}
		names, oses, longs = append(names, pe.event.Name), append(oses, got["$os"]), append(longs, got["long"])
	}
	same := func(a, b string) bool { return unsafe.StringData(a) == unsafe.StringData(b) }
	// "$os" and the name keep their slots unless a "v…" value took it:
	// most records share the copy of the record before.
	shared := 0
	for i := 1; i < len(oses); i++ {
		if same(oses[i], oses[i-1]) && same(names[i], names[i-1]) {
			shared++
		}
		if same(longs[i], longs[i-1]) {
			t.Fatalf("records %d and %d share a value of %d bytes", i-1, i, len(long))
		}
	}
	if shared < len(oses)*3/4 {
		t.Fatalf("%d of %d records share the copies of the record before, want most", shared, len(oses)-1)
	}
}

// TestRepeatedValueHashSpreads checks that values alike but for a few
// bytes (cities, plans, versions) take distinct slots: a thousand cities
// of a request in 1,024 slots lose few to collisions.
func TestRepeatedValueHashSpreads(t *testing.T) {
	used := map[uint64]bool{}
	for i := range 1000 {
		used[repeatedValueHash(fmt.Sprintf("City %04d", i))%repeatedValueSlots] = true
	}
	// 1,000 random picks of 1,024 slots leave ~630 distinct.
	if len(used) < 580 {
		t.Fatalf("1,000 cities took %d slots of %d", len(used), repeatedValueSlots)
	}
}

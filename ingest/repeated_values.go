package ingest

// Repeated values share one copy. A property's values repeat across a
// request's events ("Chrome", "Windows", a plan, a city): copied into the
// arena each time, they were most of a decoded event's string bytes, and
// every copy was a string at its own address, which the sealing of
// buffered rows hashed again per row to build each column's dictionary
// (storage's segDictionaryInto finds a repeat by its address first).
// A decoder keeps the last copy it made of a value in a small table
// indexed by a hash of the bytes; a value equal to the one in its slot
// takes that copy. Slots are overwritten freely: a value of many
// distinct spellings (an id, a URL) only misses and is copied as before,
// so the table changes memory and speed, never a value.
//
// INVARIANT: every string in the table is an own() copy (an arena
// string), never a substring of a request's text.

import (
	"encoding/binary"
	"math/bits"
)

const (
	// repeatedValueSlots is the table's size: a few hundred distinct
	// values of a request (cities, pages) mostly keep their slots.
	repeatedValueSlots = 1024
	// maxRepeatedValueBytes: longer values are seldom repeated (and
	// costly to hash and compare); they are copied every time.
	maxRepeatedValueBytes = 64
)

// ownValue is own for a property value or an event name: a copy of s in
// the arena, shared with the decoder's earlier copy of the same value
// when its slot still holds it.
func (d *eventDecoder) ownValue(s string) string {
	if len(s) == 0 || len(s) > maxRepeatedValueBytes {
		return d.own(s)
	}
	if d.repeated == nil {
		d.repeated = new([repeatedValueSlots]string)
	}
	slot := &d.repeated[repeatedValueHash(s)%repeatedValueSlots]
	if *slot == s {
		return *slot
	}
	o := d.own(s)
	*slot = o
	return o
}

// repeatedValueHash hashes a short string by its length and its first
// and last eight bytes, a few instructions where a full hash of the
// bytes cost a tenth of decoding: values that differ only in the middle
// share a slot and take turns in it, which costs copies, not values.
func repeatedValueHash(s string) uint64 {
	var a, b uint64
	if len(s) >= 8 {
		a = binary.LittleEndian.Uint64([]byte(s[:8]))
		b = binary.LittleEndian.Uint64([]byte(s[len(s)-8:]))
	} else {
		for i := 0; i < len(s); i++ {
			a = a<<8 | uint64(s[i])
		}
	}
	// MurmurHash3's finalizer: every output bit depends on every input
	// bit, so values sharing a prefix ("City 0277", "City 0075") spread.
	h := a ^ bits.RotateLeft64(b, 31) ^ uint64(len(s))*0x9E3779B97F4A7C15
	h ^= h >> 33
	h *= 0xFF51AFD7ED558CCD
	h ^= h >> 33
	h *= 0xC4CEB9FE1A85EC53
	return h ^ h>>33
}

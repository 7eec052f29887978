package native

// Tests of union.go's rowSet, whose collision chains real hashes almost
// never exercise.

import (
	"fmt"
	"testing"
)

func TestUnionRowSet(t *testing.T) {
	for name, hash := range map[string]func([]byte) uint64{
		"maphash":         newRowSet().hash,
		"all collide":     func([]byte) uint64 { return 7 },
		"three per chain": func(b []byte) uint64 { return uint64(len(b) % 3) },
	} {
		t.Run(name, func(t *testing.T) {
			s := newRowSet()
			s.hash = hash
			for round := range 2 {
				for i := range 200 {
					key := []byte(fmt.Sprint("k", i%50, "\x00", i%50*3))
					if i%50 == 7 {
						key = nil // the empty key is a key too
					}
					added := s.add(key)
					if want := round == 0 && i < 50; added != want {
						t.Fatalf("round %d key %d (%q): added %v, want %v", round, i, key, added, want)
					}
				}
			}
			if len(s.ends) != 50 {
				t.Fatalf("%d keys stored, want 50", len(s.ends))
			}
		})
	}
}

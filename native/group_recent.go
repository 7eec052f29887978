package native

import "unsafe"

// recentGroups is a small direct-mapped cache of a group table's last
// lookups by an integer key: rows of one day's segment go user by user,
// so a key of hours (or of (day, event) pairs) comes back every few rows
// from among a few dozen values, and a slot index is cheaper than the
// map lookup it saves.
// INVARIANT: a used slot holds a key and the group its table gave it;
// a table never changes a key's group, so a slot stays true.
type recentGroups struct {
	keys [recentSlots]uint64
	gs   [recentSlots]int32 // 1 + the group; 0: slot unused
}

const recentSlots = 256

func recentSlot(k uint64) uint64 { return (k * 0x9E3779B97F4A7C15) >> 56 }

// get is key k's group, false when its slot holds another key.
func (c *recentGroups) get(k uint64) (int32, bool) {
	s := recentSlot(k)
	if c.gs[s] != 0 && c.keys[s] == k {
		return c.gs[s] - 1, true
	}
	return 0, false
}

// put remembers that key k is group g.
func (c *recentGroups) put(k uint64, g int32) {
	s := recentSlot(k)
	c.keys[s], c.gs[s] = k, g+1
}

// sameBox reports whether a and b are one boxed value: the same type
// and the same pointer to it (a day's DATE(time) string, boxed once
// and stored in each of its rows). Values boxed alike are equal and
// encode to the same group key; false says nothing.
func sameBox(a, b any) bool {
	type eface struct{ typ, data unsafe.Pointer }
	ea, eb := (*eface)(unsafe.Pointer(&a)), (*eface)(unsafe.Pointer(&b))
	return ea.typ == eb.typ && ea.data == eb.data && ea.data != nil
}

package storage

import (
	"strings"
	"testing"
)

// TestShardOfIsFixed: the shard of an id is part of the data's layout
// (every node, every version, every restart must agree): FNV-1a 64 of the
// id's bytes without a leading "$device:", MurmurHash3's fmix64, modulo
// the count (the expected values computed apart from the Go code).
func TestShardOfIsFixed(t *testing.T) {
	for _, c := range []struct {
		id        string
		of4, of16 int
	}{{"", 2, 6}, {"user-1", 1, 5}, {"ä", 2, 14}, {"12345", 3, 3}, {"abc", 1, 13}, {"$device:abc", 1, 13}} {
		if got := ShardOf(c.id, 4); got != c.of4 {
			t.Errorf("ShardOf(%q, 4) = %d, want %d", c.id, got, c.of4)
		}
		if got := ShardOf(c.id, 16); got != c.of16 {
			t.Errorf("ShardOf(%q, 16) = %d, want %d", c.id, got, c.of16)
		}
	}
	if ShardOf("anything", 1) != 0 || ShardOf("anything", 0) != 0 {
		t.Error("one shard (or none) is shard 0")
	}
}

// TestUnionUserIDs: user u of shard k is u*S+k; numbers a shard has not
// given out are holes that All skips and ID refuses.
func TestUnionUserIDs(t *testing.T) {
	u := &UserIDs{shards: []*UserIDs{NewUserIDs([]string{"a0", "a1", "a2"}), NewUserIDs([]string{"b0"})}}
	if u.Len() != 6 {
		t.Fatalf("Len = %d, want 2 shards × 3", u.Len())
	}
	want := map[uint32]string{0: "a0", 2: "a1", 4: "a2", 1: "b0"}
	got := map[uint32]string{}
	for n, id := range u.All() {
		got[n] = id
		if u.ID(n) != id {
			t.Errorf("ID(%d) = %q, All says %q", n, u.ID(n), id)
		}
	}
	if len(got) != len(want) {
		t.Fatalf("All = %v, want %v", got, want)
	}
	for n, id := range want {
		if got[n] != id {
			t.Errorf("user %d = %q, want %q", n, got[n], id)
		}
	}
	if _, err := u.id(3); err == nil || !strings.Contains(err.Error(), "shard 1 has 1 users") {
		t.Errorf("hole 3: %v", err)
	}
	c := Canon{v: &canonView{shards: []Canon{{}, {}}}}
	for n := range uint32(6) {
		if c.Of(n) != n {
			t.Errorf("Canon.Of(%d) = %d with no merges", n, c.Of(n))
		}
	}
}

// TestUnionSameNumbering: two union views of one sharded project's users
// number alike (so a statement's two scans compare users by number);
// views of other dictionaries, or of another shard count, do not.
func TestUnionSameNumbering(t *testing.T) {
	s, p := newShardedProject(t, t.TempDir(), 3, 0)
	defer s.Close()
	if err := p.Ingest(testEvents(200, 1)); err != nil {
		t.Fatal(err)
	}
	a := p.Snapshot().UserIDs
	if err := p.Ingest(testEvents(200, 2)); err != nil {
		t.Fatal(err)
	}
	b := p.Snapshot().UserIDs
	if !a.SameNumbering(b) || !b.SameNumbering(a) {
		t.Error("two snapshots of one sharded project: not the same numbering")
	}
	other := &UserIDs{shards: []*UserIDs{NewUserIDs([]string{"x"}), NewUserIDs(nil), NewUserIDs(nil)}}
	if a.SameNumbering(other) || a.SameNumbering(NewUserIDs([]string{"x"})) {
		t.Error("views of other dictionaries: the same numbering")
	}
}

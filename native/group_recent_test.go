package native

import (
	"strings"
	"testing"
)

// TestSameBox: one boxed value is the same box; equal values boxed
// apart are not (the group table then compares them by value), nor are
// NULLs or values of two types.
func TestSameBox(t *testing.T) {
	var day any = "2025-03-01"
	other := any(strings.Clone("2025-03-01"))
	for _, tc := range []struct {
		a, b any
		want bool
	}{
		{day, day, true},
		{day, other, false},
		{day, any("2025-03-02"), false},
		{nil, nil, false},
		{any(int64(3)), any(int32(3)), false},
	} {
		if got := sameBox(tc.a, tc.b); got != tc.want {
			t.Fatalf("sameBox(%#v, %#v) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
	// The recent-lookup cache: a key's slot answers it, another key's
	// does not.
	var rc recentGroups
	rc.put(3600, 7)
	if g, ok := rc.get(3600); !ok || g != 7 {
		t.Fatalf("get(3600) = %d, %v", g, ok)
	}
	if _, ok := rc.get(7200); ok {
		t.Fatal("get(7200) hit a slot it was never put in")
	}
}

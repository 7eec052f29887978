package storage

import (
	"testing"
	"time"
)

func TestPickCompaction(t *testing.T) {
	now := time.Date(2025, 6, 15, 12, 0, 0, 0, time.UTC)
	const delay = 30 * time.Second
	seg := func(level, rows int, age time.Duration) *SegmentRef {
		return &SegmentRef{File: "x", Level: level, madeAt: now.Add(-age), Segment: &Segment{footer: segFooter{Rows: rows}}}
	}
	base := func() *SegmentRef { return seg(levelMergedWhole, 1000, time.Hour) }
	type want struct {
		inputs []int // indexes into segs; nil: nothing
		level  int
	}
	cases := []struct {
		name string
		segs []*SegmentRef
		want want
	}{
		{"one whole merge", []*SegmentRef{base()}, want{}},
		{"a fresh flush, not quiet yet", []*SegmentRef{seg(0, 10, time.Second)}, want{}},
		{"a quiet flush with no base", []*SegmentRef{seg(0, 10, time.Minute)}, want{[]int{0}, levelMergedWhole}},
		{"a quiet flush beside the base", []*SegmentRef{base(), seg(0, 10, time.Minute)}, want{[]int{1}, levelMergedNew}},
		{"only the flush, level 1 left alone", []*SegmentRef{base(), seg(1, 50, time.Hour), seg(0, 10, time.Minute)},
			want{[]int{2}, levelMergedNew}},
		{"max segments, not quiet: the rest", []*SegmentRef{base(), seg(1, 50, time.Hour), seg(1, 10, time.Minute), seg(0, 10, time.Second)},
			want{[]int{1, 2, 3}, levelMergedNew}},
		{"the rest reach 1/8 of the base", []*SegmentRef{base(), seg(1, 100, time.Hour), seg(0, 30, time.Minute)},
			want{[]int{0, 1, 2}, levelMergedWhole}},
		{"quiet for ten delays: one segment", []*SegmentRef{base(), seg(1, 10, 10*delay)}, want{[]int{0, 1}, levelMergedWhole}},
		{"level 1 beside the base, quiet: wait", []*SegmentRef{base(), seg(1, 10, 2*delay)}, want{}},
	}
	for _, c := range cases {
		inputs, level, ok := pickCompaction(c.segs, now, delay, 4)
		if ok != (c.want.inputs != nil) {
			t.Errorf("%s: picked %v (%d inputs), want %v", c.name, ok, len(inputs), c.want.inputs != nil)
			continue
		}
		if !ok {
			continue
		}
		if level != c.want.level || len(inputs) != len(c.want.inputs) {
			t.Errorf("%s: level %d with %d inputs, want level %d with %v", c.name, level, len(inputs), c.want.level, c.want.inputs)
			continue
		}
		for i, j := range c.want.inputs {
			if inputs[i] != c.segs[j] {
				t.Errorf("%s: input %d is not segment %d", c.name, i, j)
			}
		}
	}
}

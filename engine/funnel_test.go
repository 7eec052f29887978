package engine

import (
	"cmp"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"
	"time"
)

const week = int64(7 * 24 * time.Hour / time.Millisecond) // 604800 s

// ev builds a FunnelEvent meeting the given 1-based steps.
func ev(timeMillis int64, steps ...int) FunnelEvent {
	e := FunnelEvent{TimeMillis: timeMillis}
	for _, s := range steps {
		e.Steps |= 1 << (s - 1)
	}
	return e
}

func TestWindowFunnel(t *testing.T) {
	allSteps := make([]int, MaxFunnelSteps)
	for i := range allSteps {
		allSteps[i] = i + 1
	}
	chain32 := make([]FunnelEvent, MaxFunnelSteps)
	for i := range chain32 {
		chain32[i] = ev(int64(i), i+1)
	}
	for _, tc := range []struct {
		name   string
		window int64
		steps  int
		events []FunnelEvent
		want   int
	}{
		{"empty input", week, 3, nil, 0},
		{"zero steps", week, 0, []FunnelEvent{ev(1, 1)}, 0},
		{"no cond1", week, 3, []FunnelEvent{ev(1, 2), ev(2, 3)}, 0},
		{"cond1 only", week, 3, []FunnelEvent{ev(1, 1)}, 1},
		{"full chain", week, 3, []FunnelEvent{ev(0, 1), ev(10, 2), ev(20, 3)}, 3},
		{"boundary exactly at the window counts", week, 3,
			[]FunnelEvent{ev(0, 1), ev(1, 2), ev(week, 3)}, 3},
		{"one ms beyond the window does not", week, 3,
			[]FunnelEvent{ev(0, 1), ev(1, 2), ev(week+1, 3)}, 2},
		{"window measured from cond1, not from the previous step", 100, 3,
			[]FunnelEvent{ev(0, 1), ev(90, 2), ev(150, 3)}, 2},
		{"zero window: same millisecond only", 0, 3,
			[]FunnelEvent{ev(5, 1), ev(5, 2), ev(6, 3)}, 2},
		{"negative window admits only step 1", -1, 3,
			[]FunnelEvent{ev(5, 1), ev(5, 2), ev(5, 3)}, 1},
		{"later cond1 restarts the chain", 100, 3,
			[]FunnelEvent{ev(0, 1), ev(150, 1), ev(200, 2), ev(240, 3)}, 3},
		{"restart does not lower a level already reached", 100, 3,
			[]FunnelEvent{ev(0, 1), ev(50, 2), ev(500, 1)}, 2},
		{"restart moves the window: step beyond the new start's window fails", 100, 3,
			// cond2 at 50 belongs to the chain from 0; cond1 at 60 does not
			// move start[1], so cond3 at 120 is outside 0+100.
			[]FunnelEvent{ev(0, 1), ev(50, 2), ev(60, 1), ev(120, 3)}, 2},
		{"steps out of order in time do not count", week, 3,
			[]FunnelEvent{ev(30, 1), ev(20, 2), ev(40, 3)}, 1},
		{"events given out of order are sorted", week, 3,
			[]FunnelEvent{ev(20, 3), ev(0, 1), ev(10, 2)}, 3},
		{"ties at equal time advance in step order", week, 3,
			[]FunnelEvent{ev(7, 3), ev(7, 2), ev(7, 1)}, 3},
		{"tie: cond2 at the same time as cond1 counts", week, 2,
			[]FunnelEvent{ev(7, 2), ev(7, 1)}, 2},
		{"one event meeting several conditions", week, 3,
			[]FunnelEvent{ev(7, 1, 2, 3)}, 3},
		{"one event meeting cond1 and cond3 only", week, 3,
			[]FunnelEvent{ev(7, 1, 3)}, 1},
		{"gap in a multi-condition event", week, 3,
			[]FunnelEvent{ev(1, 1), ev(2, 1, 3)}, 1},
		{"bits beyond steps are ignored", week, 2,
			[]FunnelEvent{ev(1, 1), ev(2, 3), ev(3, 2)}, 2},
		{"one step", week, 1, []FunnelEvent{ev(3, 2), ev(4, 1)}, 1},
		{"32 steps, one event each", 1000, 32, chain32, 32},
		{"32 steps, one event meets all", 0, 32, []FunnelEvent{ev(9, allSteps...)}, 32},
		{"32 steps, last missing", 1000, 32, chain32[:31], 31},
		{"extreme times do not overflow", math.MaxInt64, 2,
			[]FunnelEvent{ev(math.MinInt64, 1), ev(math.MaxInt64, 2)}, 1},
		{"extreme window, difference exactly MaxInt64", math.MaxInt64, 2,
			[]FunnelEvent{ev(-1, 1), ev(math.MaxInt64-1, 2)}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			events := slices.Clone(tc.events)
			if got := WindowFunnel(tc.window, tc.steps, events); got != tc.want {
				t.Errorf("WindowFunnel(%d, %d, %v) = %d, want %d", tc.window, tc.steps, tc.events, got, tc.want)
			}
			if got := referenceWindowFunnel(tc.window, tc.steps, tc.events); got != tc.want {
				t.Errorf("reference(%d, %d, %v) = %d, want %d (the case or the reference is wrong)",
					tc.window, tc.steps, tc.events, got, tc.want)
			}
		})
	}
}

func TestWindowFunnelPanicsOnTooManySteps(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("WindowFunnel with 33 steps did not panic")
		}
	}()
	WindowFunnel(1, MaxFunnelSteps+1, nil)
}

// referenceWindowFunnel is the slow, obviously correct transcription of
// ClickHouse's algorithm: one (time, step) pair per set bit, sorted, then
// walked.
func referenceWindowFunnel(window int64, steps int, events []FunnelEvent) int {
	type pair struct {
		time int64
		step int // 1-based
	}
	var pairs []pair
	for _, e := range events {
		for s := 1; s <= steps; s++ {
			if e.Steps&(1<<(s-1)) != 0 {
				pairs = append(pairs, pair{e.TimeMillis, s})
			}
		}
	}
	sort.Slice(pairs, func(i, j int) bool {
		if pairs[i].time != pairs[j].time {
			return pairs[i].time < pairs[j].time
		}
		return pairs[i].step < pairs[j].step
	})
	start := make([]*int64, steps)
	for _, p := range pairs {
		if p.step == 1 {
			t := p.time
			start[0] = &t
			continue
		}
		prev := start[p.step-2]
		if prev == nil || window < 0 {
			continue
		}
		if diffWithin(*prev, p.time, window) {
			s := *prev
			start[p.step-1] = &s
			if p.step == steps {
				return steps
			}
		}
	}
	for k := steps; k > 0; k-- {
		if start[k-1] != nil {
			return k
		}
	}
	return 0
}

// diffWithin reports t - first <= window for t >= first, window >= 0,
// by halving instead of the unsigned trick the implementation uses.
func diffWithin(first, t, window int64) bool {
	if first >= 0 || t < 0 {
		return t-first <= window // same sign: no overflow
	}
	// first < 0 <= t: t - first = t + (-first), both non-negative.
	return t <= window && -(first+1) <= window-t-1
}

func TestWindowFunnelMatchesReference(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	for iter := 0; iter < 20000; iter++ {
		steps := 1 + rng.IntN(6)
		if rng.IntN(20) == 0 {
			steps = 1 + rng.IntN(MaxFunnelSteps)
		}
		window := rng.Int64N(60)
		if rng.IntN(10) == 0 {
			window = 0
		}
		n := rng.IntN(25)
		events := make([]FunnelEvent, n)
		for i := range events {
			// Few distinct times, so ties are common; several bits per
			// event sometimes, and bits beyond steps now and then.
			events[i].TimeMillis = rng.Int64N(100)
			for rng.IntN(3) != 0 {
				events[i].Steps |= 1 << rng.IntN(steps+1)
			}
		}
		if rng.IntN(3) == 0 {
			slices.SortFunc(events, func(a, b FunnelEvent) int { return cmp.Compare(a.TimeMillis, b.TimeMillis) })
		}
		want := referenceWindowFunnel(window, steps, events)
		input := slices.Clone(events)
		if got := WindowFunnel(window, steps, input); got != want {
			t.Fatalf("seed %d iter %d: WindowFunnel(%d, %d, %v) = %d, reference %d",
				seed, iter, window, steps, events, got, want)
		}
		// Input order must not matter.
		rng.Shuffle(len(input), func(i, j int) { input[i], input[j] = input[j], input[i] })
		if got := WindowFunnel(window, steps, input); got != want {
			t.Fatalf("seed %d iter %d: shuffled input gave %d, reference %d", seed, iter, got, want)
		}
	}
}

func TestRetentionFlags(t *testing.T) {
	for _, tc := range []struct {
		name  string
		conds int
		seen  uint32
		want  []bool
	}{
		{"no conditions", 0, 0xffffffff, []bool{}},
		{"nothing seen", 3, 0, []bool{false, false, false}},
		{"cond1 only", 3, 0b001, []bool{true, false, false}},
		{"all seen", 3, 0b111, []bool{true, true, true}},
		{"later conditions without cond1 count nothing", 3, 0b110, []bool{false, false, false}},
		{"gaps", 4, 0b1011, []bool{true, true, false, true}},
		{"bits beyond conds ignored", 2, 0b101, []bool{true, false}},
		{"32 conditions", 32, 0x80000001, append(append([]bool{true}, make([]bool, 30)...), true)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := RetentionFlags(tc.conds, tc.seen); !slices.Equal(got, tc.want) {
				t.Errorf("RetentionFlags(%d, %b) = %v, want %v", tc.conds, tc.seen, got, tc.want)
			}
		})
	}
}

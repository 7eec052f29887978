package integration

import (
	"strings"
	"testing"
	"time"
)

// TestWarmedUpMetric: a started arb pre-touches its heap (--heap-pretouch,
// on by default) and then shows arb_warmed_up 1, which the benchmarks wait
// for before timing; with the pre-touch off it shows 1 without one.
func TestWarmedUpMetric(t *testing.T) {
	p := startArb(t, "--memory-limit", "1073741824")
	waitWarmedUp(t, p)
	if n := strings.Count(p.log.String(), "heap pre-touched"); n != 1 {
		t.Fatalf("%d \"heap pre-touched\" log lines, want 1:\n%s", n, p.log.String())
	}
	p.Stop()
	p.extra = append(p.extra, "--heap-pretouch=false")
	p.Restart()
	waitWarmedUp(t, p)
	if n := strings.Count(p.log.String(), "heap pre-touched"); n != 1 {
		t.Fatalf("with --heap-pretouch=false: %d \"heap pre-touched\" log lines in both starts, want the first start's only", n)
	}
}

func waitWarmedUp(t *testing.T, p *arbProcess) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for metricValue(t, p, "arb_warmed_up") != 1 {
		if time.Now().After(deadline) {
			t.Fatal("arb_warmed_up still 0 after 30 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

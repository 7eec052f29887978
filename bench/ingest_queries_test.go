package main

// ingest_queries_test.go tests the pure parts of the -during-ingest mode
// (ingest_queries.go): percentiles, reading count answers, the count
// checks, and the table (FAIL shown when a check failed).

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }

func TestIngestQueriesPercentile(t *testing.T) {
	var hundred []time.Duration
	for i := 1; i <= 100; i++ {
		hundred = append(hundred, ms(i))
	}
	cases := []struct {
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{nil, 50, 0},
		{[]time.Duration{ms(7)}, 50, ms(7)},
		{[]time.Duration{ms(7)}, 95, ms(7)},
		{[]time.Duration{ms(1), ms(2)}, 50, ms(1)}, // nearest rank: ceil(1) = 1st
		{[]time.Duration{ms(1), ms(2), ms(3), ms(4)}, 50, ms(2)},
		{[]time.Duration{ms(1), ms(2), ms(3), ms(4)}, 95, ms(4)},
		{[]time.Duration{ms(1), ms(2), ms(3)}, 50, ms(2)},
		{hundred, 50, ms(50)},
		{hundred, 95, ms(95)},
		{hundred, 100, ms(100)},
		{hundred, 0.5, ms(1)},
	}
	for _, c := range cases {
		if got := percentile(c.sorted, c.p); got != c.want {
			t.Errorf("percentile(%v, %v) = %v, want %v", c.sorted, c.p, got, c.want)
		}
	}
}

func TestIngestQueriesCountsOf(t *testing.T) {
	got, err := countsOf(countScalar, [][]any{{int64(42)}})
	if err != nil || got[""] != 42 || len(got) != 1 {
		t.Errorf("scalar: %v, %v", got, err)
	}
	got, err = countsOf(countByKey, [][]any{{"Purchase", int64(3)}, {"Signup", "5"}})
	if err != nil || got["Purchase"] != 3 || got["Signup"] != 5 || len(got) != 2 {
		t.Errorf("by key: %v, %v", got, err)
	}
	for name, c := range map[string]struct {
		kind countKind
		rows [][]any
	}{
		"no row":        {countScalar, nil},
		"two rows":      {countScalar, [][]any{{int64(1)}, {int64(2)}}},
		"two columns":   {countScalar, [][]any{{int64(1), int64(2)}}},
		"not a number":  {countScalar, [][]any{{"x"}}},
		"fraction":      {countScalar, [][]any{{1.5}}},
		"negative":      {countScalar, [][]any{{int64(-1)}}},
		"NULL":          {countScalar, [][]any{{nil}}},
		"duplicate key": {countByKey, [][]any{{"a", int64(1)}, {"a", int64(2)}}},
		"one column":    {countByKey, [][]any{{"a"}}},
	} {
		if got, err := countsOf(c.kind, c.rows); err == nil {
			t.Errorf("%s: countsOf(%v) = %v, want an error", name, c.rows, got)
		}
	}
}

func TestIngestQueriesCheckCounts(t *testing.T) {
	final := map[string]int64{"a": 10, "b": 5}
	obs := func(p ingestPhase, loaded int64, a, b int64) countObs {
		m := map[string]int64{}
		if a > 0 {
			m["a"] = a
		}
		if b > 0 {
			m["b"] = b
		}
		return countObs{phase: p, loaded: loaded, counts: m}
	}
	good := []countObs{
		obs(phaseDuring, 2, 2, 0),
		obs(phaseDuring, 4, 2, 3),
		obs(phaseDuring, 12, 9, 4),
		obs(phaseAfter, 15, 10, 5),
		obs(phaseAfter, 15, 10, 5),
		obs(phaseRest, 15, 10, 5),
	}
	if p := checkCounts(good, final, true); len(p) != 0 {
		t.Fatalf("a good sequence fails: %v", p)
	}
	for name, c := range map[string]struct {
		obs       []countObs
		coversAll bool
		want      string
	}{
		"decrease": {[]countObs{obs(phaseDuring, 0, 3, 1), obs(phaseDuring, 0, 2, 1)}, false,
			`"a" went down from 3 to 2`},
		"key vanishes": {[]countObs{obs(phaseDuring, 0, 3, 1), obs(phaseDuring, 0, 3, 0)}, false,
			`"b" went down from 1 to none`},
		"above the dataset": {[]countObs{obs(phaseDuring, 0, 11, 1)}, false,
			`"a" counts 11, more than the dataset's 10`},
		"unknown key": {[]countObs{{phase: phaseDuring, counts: map[string]int64{"c": 1}}}, false,
			`key "c" is not in the dataset`},
		"misses acknowledged events": {[]countObs{obs(phaseDuring, 9, 3, 1)}, true,
			"counts 4 events, fewer than the 9 acknowledged"},
		"short after the load": {[]countObs{obs(phaseAfter, 15, 10, 4)}, false,
			"run 1 (after): {a=10, b=4}, want the dataset's {a=10, b=5}"},
		"short at rest": {[]countObs{obs(phaseAfter, 15, 10, 5), obs(phaseRest, 15, 9, 5)}, false,
			"run 2 (at rest): {a=9, b=5}"},
	} {
		p := checkCounts(c.obs, final, c.coversAll)
		if !strings.Contains(strings.Join(p, "\n"), c.want) {
			t.Errorf("%s: problems %q, want one with %q", name, p, c.want)
		}
	}
	// Without coversAll the acknowledged events bound nothing (a count
	// of one event's rows may be below them).
	if p := checkCounts([]countObs{obs(phaseDuring, 9, 3, 1)}, final, false); len(p) != 0 {
		t.Errorf("coversAll=false: %v", p)
	}
	// The messages are capped.
	var many []countObs
	for range 20 {
		many = append(many, obs(phaseAfter, 0, 1, 1))
	}
	if p := checkCounts(many, final, false); len(p) != maxProblems {
		t.Errorf("%d problems, want the cap %d", len(p), maxProblems)
	}
}

func TestIngestQueriesRender(t *testing.T) {
	track := &queryTrack{q: ingestQuery{name: "count(*)"}}
	for i, l := range []int{5, 1, 3, 2, 4} { // during: loaded 0, 25, 50, 75, 100
		track.samples = append(track.samples, ingestSample{phase: phaseDuring, latency: ms(l), loaded: int64(i * 25)})
	}
	track.samples = append(track.samples,
		ingestSample{phase: phaseAfter, latency: ms(7)},
		ingestSample{phase: phaseAfter, err: errTest},
	)
	rep := &ingestReport{
		events: 100, seed: 1, after: 30 * time.Second,
		load:     loadResult{path: "HTTP /import", rows: 100, elapsed: 2 * time.Second},
		baseline: &loadResult{path: "HTTP /import", rows: 100, elapsed: time.Second},
		phases:   [numPhases]phaseStats{{elapsed: 2 * time.Second, hwmKB: 2048}, {elapsed: 30 * time.Second}, {}},
		restart:  1500 * time.Millisecond,
		tracks:   []*queryTrack{track},
	}
	text := renderIngest(rep)
	for _, want := range []string{
		"| count(*) | during ingest | 5 | 3.00 | 5.00 | 5.00 | ok |",
		"| count(*) | first 30s after | 1 (+1 errors) | 7.00 | 7.00 | 7.00 |  |",
		"| count(*) | at rest, restarted | 0 | — | — | — |  |",
		// Quartiles of 100 events: 0 and 25 → 1st and 2nd, 50, 75 and 100 (the last has no upper bound).
		"| count(*) | 5.00 (1) | 1.00 (1) | 3.00 (1) | 2.00 (2) |",
		"| during ingest | 2.0 | 2 |",
		"| at rest, restarted | 0.0 | — |",
		"| queried (HTTP /import) | 100 | 2.0 | 50 | 2 |",
		"| plain, no queries | 100 | 1.0 | 100 | — |",
		"Ingest rate while queried: 50% of the plain load's.",
		"Restart between the second and third phase (SIGTERM, flush, start, ready): 1.5 s.",
		"All checks pass.",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("table lacks %q:\n%s", want, text)
		}
	}
	if rep.failed() {
		t.Error("failed() without problems")
	}

	track.problem("run %d (%s): went down", 3, phaseDuring)
	rep.baseline = nil
	text = renderIngest(rep)
	for _, want := range []string{
		"| count(*) | during ingest | 5 | 3.00 | 5.00 | 5.00 | **FAIL** [1] |",
		"**FAIL**: a check failed.",
		"[1] count(*): run 3 (during): went down",
		"| plain, no queries | — | — | not measured | — |",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("failed table lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "All checks pass") || !rep.failed() {
		t.Errorf("a failed check is not reported as one:\n%s", text)
	}
}

var errTest = errors.New("boom")

package main

// Tests of the -cluster mode's pure parts: the --peers value, reading
// arb.cluster, which /import answers are retried, the mode flags, and
// the table with its ratios and its disagreement marks.

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestClusterPeers(t *testing.T) {
	for _, tc := range []struct {
		name  string
		ports []int
		want  string
	}{
		{"one", []int{7001}, "n1=127.0.0.1:7001"},
		{"three", []int{7001, 7005, 7003}, "n1=127.0.0.1:7001,n2=127.0.0.1:7005,n3=127.0.0.1:7003"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := clusterPeers(tc.ports); got != tc.want {
				t.Errorf("clusterPeers(%v) = %q, want %q", tc.ports, got, tc.want)
			}
		})
	}
}

func TestClusterView(t *testing.T) {
	for _, tc := range []struct {
		name    string
		rows    [][]any
		want    clusterView
		wantErr string
	}{
		{name: "follower sees leader",
			// The driver's cells: numbers as int64 or text.
			rows: [][]any{{"n1", int64(0), int64(1), int64(2), int64(40), int64(40)}, {"n2", "1", "0", "2", "40", "38"},
				{"n3", int64(0), int64(0), nil, nil, nil}},
			want: clusterView{self: "n2", leader: "n1", term: 2, commit: 40, applied: 38}},
		{name: "no leader yet",
			rows: [][]any{{"n1", int64(1), int64(0), int64(1), int64(3), int64(3)}},
			want: clusterView{self: "n1", term: 1, commit: 3, applied: 3}},
		{name: "no row of itself",
			rows:    [][]any{{"n1", int64(0), int64(1), int64(1), int64(3), int64(3)}},
			wantErr: "0 rows of itself"},
		{name: "two leaders",
			rows:    [][]any{{"n1", int64(1), int64(1), int64(1), int64(3), int64(3)}, {"n2", int64(0), int64(1), int64(1), int64(3), int64(3)}},
			wantErr: "2 leaders"},
		{name: "short row",
			rows:    [][]any{{"n1", int64(1), int64(1)}},
			wantErr: "3 columns, want 6"},
		{name: "not a number",
			rows:    [][]any{{"n1", "yes", int64(1), int64(1), int64(3), int64(3)}},
			wantErr: `row 1 (n1): column 2 is yes`},
		{name: "negative index",
			rows:    [][]any{{"n1", int64(1), int64(1), int64(1), int64(-3), int64(3)}},
			wantErr: `column 5 is -3, not a count`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			members, err := parseMembers(tc.rows)
			var v clusterView
			if err == nil {
				v, err = viewOf(members)
			}
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if v != tc.want {
				t.Errorf("view = %+v, want %+v", v, tc.want)
			}
		})
	}
}

func TestImportRetry(t *testing.T) {
	const (
		budget = `{"code":503,"error":"server overloaded: too much ingestion in flight; retry with backoff"}`
		buffer = `{"error":"ingest buffer full"}`
		leader = `{"code":503,"error":"replicated log unavailable: rpc error: code = Unavailable desc = leadership lost while committing log: the write may or may not be stored"}`
	)
	for _, tc := range []struct {
		name    string
		status  int
		body    string
		withIDs bool
		want    string
	}{
		{"ingest budget full", 503, budget, false, retryShed},
		{"ingest buffer full", 503, buffer, true, retryShed},
		// The leader changed with the batch in flight: it may be stored,
		// so only events with an insert_id may be sent again.
		{"leader lost, insert_ids", 503, leader, true, retryLeader},
		{"leader lost, no insert_ids", 503, leader, false, noRetry},
		{"other 503", 503, `disk on fire`, true, noRetry},
		{"bad request", 400, buffer, true, noRetry},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := importRetry(tc.status, tc.body, tc.withIDs); got != tc.want {
				t.Errorf("importRetry(%d, %q, %v) = %q, want %q", tc.status, tc.body, tc.withIDs, got, tc.want)
			}
		})
	}
}

func TestCheckModes(t *testing.T) {
	for _, tc := range []struct {
		name    string
		cfg     config
		wantErr string
	}{
		{"cluster alone", config{cluster: true, clusterClients: 6, runs: 5}, ""},
		{"no mode", config{clusterClients: 1, runs: 1}, ""},
		{"two modes", config{cluster: true, corpus: true, clusterClients: 6, runs: 5}, "-corpus and -cluster: choose one mode"},
		{"no clients", config{cluster: true, clusterClients: 0, runs: 5}, "-cluster-clients 0"},
		{"no runs", config{cluster: true, clusterClients: 6, runs: 0}, "-runs 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.checkModes()
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("checkModes: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("checkModes = %v, want an error containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestRenderCluster(t *testing.T) {
	cfg := &config{runs: 5}
	ok := func(ms int, rows ...[]any) cellResult {
		return cellResult{median: time.Duration(ms) * time.Millisecond, n: 5, raw: rows}
	}
	q1 := benchQuery{id: "Q1"}
	q3 := benchQuery{id: "Q3"}
	engines := []engine{namedArb{heading: "single"}, namedArb{heading: "cluster of one"},
		namedArb{heading: "3 nodes: leader"}, namedArb{heading: "3 nodes: follower"}}
	rows := []resultRow{
		{q: q1, cells: []cellResult{ok(10, []any{int64(1000)}), ok(20, []any{"1000"}), ok(5, []any{int64(1000)}), ok(40, []any{1000.0})}},
		// The follower lost a row: the check must say so.
		{q: q3, cells: []cellResult{ok(100, []any{"Signup", int64(50)}, []any{"Purchase", int64(7)}),
			ok(100, []any{"Purchase", int64(7)}, []any{"Signup", int64(50)}),
			ok(150, []any{"Signup", int64(50)}, []any{"Purchase", int64(7)}),
			ok(90, []any{"Signup", int64(50)})}},
	}
	rep := &clusterReport{events: 1000, runs: 5, seed: 1, timeout: time.Minute, loadAvgStart: "3.10 2.00 1.50",
		command: "cd bench && go run . -cluster -arb-bin ../bin/arb -events 1000",
		loads: []clusterLoad{
			{setup: "single node", nodes: 1, res: loadResult{path: "p", rows: 1000, elapsed: time.Second, diskBytes: 2e6}},
			{setup: "cluster of one", nodes: 1, res: loadResult{path: "p", rows: 1000, elapsed: 2 * time.Second, diskBytes: 70e6},
				allApplied: 2 * time.Second, raftBytes: 67e6, termBefore: 2, termAfter: 2},
			{setup: "3-node cluster", nodes: 3, res: loadResult{path: "p", rows: 1000, elapsed: 4 * time.Second, diskBytes: 210e6},
				allApplied: 5 * time.Second, shedRetries: 3, leaderRetries: 2, raftBytes: 201e6, termBefore: 2, termAfter: 5},
		},
		leaderBefore: "n1", leaderAfter: "n3", follower: "n2", termBefore: 5, termAfter: 6,
		cmp: &report{cfg: cfg, engines: engines, rows: rows}}
	rep.cmp.check()
	text := renderCluster(rep)
	for _, want := range []string{
		"1000 events, 50 users, seed 1",
		"at the start: 3.10 2.00 1.50; at the end: unknown",
		"Reproduce: `make build && cd bench && go run . -cluster -arb-bin ../bin/arb -events 1000`.",
		"| single node | 1 | p | 1000 | 1.0 | 1000 | 1× | — | — | 0 / 0 | 2.0 | — |",
		"| cluster of one | 1 | p | 1000 | 2.0 | 500 | 0.5× | 2.0 | 2 → 2 | 0 / 0 | 70.0 | 67.0 |",
		"| 3-node cluster | 3 | p | 1000 | 4.0 | 250 | 0.25× | 5.0 | 2 → 5 | 3 / 2 | 210.0 | 201.0 |",
		// Q1: the answers agree across number types; ratios are setup / single.
		"| Q1 count(*) | 10.0 | 20.0 | 5.00 | 40.0 | 2× | 0.5× | 4× | agree |",
		"| Q3 count by event | 100 | 100 | 150 | 90.0 **≠** [1] | 1× | 1.5× | 0.9× | **DIFFER: 3 nodes: follower** |",
		"[1] **DISAGREE** Q3 count by event, 3 nodes: follower vs single: 2 rows vs 1 rows",
		"leader was n1 (term 5) when the queries started and n3 (term 6) when they ended; the follower queried is n2",
		"The queries ran on the processes that took the load (-cluster-restart=false)",
		"**1 answers differ or failed**",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("table lacks %q; it is:\n%s", want, text)
		}
	}
	if p := rep.problems(); len(p) != 1 || !strings.Contains(p[0], "Q3 count by event, 3 nodes: follower vs single") {
		t.Errorf("problems = %q, want the follower's Q3 only", p)
	}

	// All agreeing: no problem, and the table says so.
	rows[1].cells[3] = ok(90, []any{"Signup", int64(50)}, []any{"Purchase", int64(7)})
	rep.cmp = &report{cfg: cfg, engines: engines, rows: rows}
	rep.cmp.check()
	if p := rep.problems(); len(p) != 0 {
		t.Errorf("problems = %q, want none", p)
	}
	if text := renderCluster(rep); !strings.Contains(text, "All answers agree.") {
		t.Errorf("table lacks \"All answers agree.\":\n%s", text)
	}
}

func TestMedianOf(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		out := make([]time.Duration, len(v))
		for i, x := range v {
			out[i] = time.Duration(x) * time.Millisecond
		}
		return out
	}
	for _, tc := range []struct {
		name string
		in   []time.Duration
		want time.Duration
	}{
		{"none", nil, 0},
		{"odd, unsorted", ms(9, 1, 5), 5 * time.Millisecond},
		{"even: mean of the middle two", ms(4, 1, 10, 2), 3 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := slices.Clone(tc.in)
			if got := medianOf(tc.in); got != tc.want {
				t.Errorf("medianOf(%v) = %v, want %v", tc.in, got, tc.want)
			}
			if !slices.Equal(in, tc.in) {
				t.Errorf("medianOf changed its input to %v", tc.in)
			}
		})
	}
}

// fakeEngine answers every query with one row of its name, or fails
// from its failAt-th call on; it logs each call into calls.
type fakeEngine struct {
	label  string
	failAt int // 0: never
	n      int
	calls  *[]string
}

func (f *fakeEngine) name() string     { return f.label }
func (f *fakeEngine) dialect() dialect { return dialectArb }
func (f *fakeEngine) query(_ context.Context, q string) ([][]any, error) {
	f.n++
	*f.calls = append(*f.calls, f.label)
	if f.failAt > 0 && f.n >= f.failAt {
		return nil, fmt.Errorf("%s: broken on call %d", f.label, f.n)
	}
	return [][]any{{f.label, q}}, nil
}

func TestMeasureInterleaved(t *testing.T) {
	var calls []string
	a := &fakeEngine{label: "a", calls: &calls}
	b := &fakeEngine{label: "b", calls: &calls, failAt: 3} // warm-up and round 1 pass
	c := &fakeEngine{label: "c", calls: &calls}
	cfg := &config{runs: 3, timeout: time.Minute, budget: time.Hour}
	res := measureInterleaved(context.Background(), []engine{a, b, c}, []string{"Q", "Q", ""}, cfg)
	// Warm-ups, then rounds of one run each; b drops out after failing in
	// round 2, c has no text.
	if want := []string{"a", "b", "a", "b", "a", "b", "a"}; !slices.Equal(calls, want) {
		t.Errorf("calls %v, want %v", calls, want)
	}
	if !res[0].ok() || res[0].n != 3 || len(res[0].raw) != 1 || res[0].raw[0][0] != "a" {
		t.Errorf("a: %+v, want 3 timed runs and the warm-up's answer", res[0])
	}
	if res[1].err == nil || !strings.Contains(res[1].err.Error(), "timed run 2: b: broken on call 3") {
		t.Errorf("b: err %v, want the second timed run's", res[1].err)
	}
	if !res[2].absent {
		t.Errorf("c: %+v, want absent", res[2])
	}
}

package main

import (
	"bytes"
	"math"
	"regexp"
	"testing"
	"time"
)

// TestGenerateInvariants checks the promises of workload.go on a small
// dataset: time order, one Signup first per user, no same-second ties per
// user, amount only on Purchase, ids, and the rough mix of peers.md.
func TestGenerateInvariants(t *testing.T) {
	const n = 200_000
	users, events := generate(n, 7)
	if len(events) != n || len(users) != n/usersPerEvent {
		t.Fatalf("%d events of %d users, want %d of %d", len(events), len(users), n, n/usersPerEvent)
	}
	hex16 := regexp.MustCompile(`^[0-9a-f]{16}$`)
	ids := map[string]bool{}
	for _, u := range users {
		if !hex16.MatchString(u.id) || ids[u.id] {
			t.Fatalf("distinct_id %q: not 16 hex characters or not unique", u.id)
		}
		ids[u.id] = true
	}
	last := make([]int64, len(users))
	for i := range last {
		last[i] = -1
	}
	signups, purchases, plans := 0, 0, map[string]int{}
	for i, e := range events {
		if i > 0 && e.sec < events[i-1].sec {
			t.Fatalf("event %d at %d before event %d at %d", i, e.sec, i-1, events[i-1].sec)
		}
		if e.sec >= days*secondsPerDay {
			t.Fatalf("event %d at second %d: past the %d days", i, e.sec, days)
		}
		first := last[e.user] < 0
		if first != (e.name < 0) {
			t.Fatalf("event %d of user %d: first=%v but Signup=%v", i, e.user, first, e.name < 0)
		}
		if !first && int64(e.sec) <= last[e.user] {
			t.Fatalf("event %d of user %d at %d: not after its previous event at %d", i, e.user, e.sec, last[e.user])
		}
		last[e.user] = int64(e.sec)
		isPurchase := e.name >= 0 && eventNames[e.name] == "Purchase"
		if isPurchase != (e.cents > 0) {
			t.Fatalf("event %d: Purchase=%v, cents=%d", i, isPurchase, e.cents)
		}
		if e.name < 0 {
			signups++
			plans[users[e.user].plan]++
		}
		if isPurchase {
			purchases++
		}
	}
	if signups != len(users) {
		t.Errorf("%d signups for %d users", signups, len(users))
	}
	if f := float64(purchases) / n; math.Abs(f-0.03) > 0.007 {
		t.Errorf("Purchase share %.4f, want ~0.03", f)
	}
	if f := float64(plans["free"]) / float64(len(users)); math.Abs(f-0.8) > 0.02 {
		t.Errorf("free plan share %.3f, want ~0.8", f)
	}
}

func TestGenerateDeterministic(t *testing.T) {
	render := func(seed uint64) []byte {
		users, events := generate(20_000, seed)
		var b []byte
		for _, e := range events {
			b = appendTSV(b, users, e)
		}
		return b
	}
	a, b := render(3), render(3)
	if !bytes.Equal(a, b) {
		t.Fatal("seed 3 gave two different datasets")
	}
	if bytes.Equal(a, render(4)) {
		t.Fatal("seeds 3 and 4 gave the same dataset")
	}
}

func TestAppendTSV(t *testing.T) {
	users := []user{{id: "00000000000000ff", os: "iOS", browser: "Mobile Safari", city: "City 0001", plan: "pro", utm: ""}}
	got := string(appendTSV(nil, users, genEvent{sec: 86400 + 61, name: 7, cents: 1205}))
	want := "2025-01-02 00:01:01\tPurchase\t00000000000000ff\tiOS\tMobile Safari\tCity 0001\tpro\t\t12.05\n"
	if got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	got = string(appendTSV(nil, users, genEvent{sec: 0, name: -1}))
	if want := "2025-01-01 00:00:00\tSignup\t00000000000000ff\tiOS\tMobile Safari\tCity 0001\tpro\t\t\\N\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestDiffResults(t *testing.T) {
	day := time.Date(2025, 1, 15, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name    string
		a, b    [][]any
		ordered bool
		same    bool
	}{
		{"int vs text", [][]any{{int64(3)}}, [][]any{{"3"}}, true, true},
		{"float within 1e-6", [][]any{{"x", 1000000.0}}, [][]any{{[]byte("x"), 1000000.5}}, true, true},
		{"float beyond 1e-6", [][]any{{"x", 1000000.0}}, [][]any{{"x", 1000002.0}}, true, false},
		{"date vs text", [][]any{{day, int64(5)}}, [][]any{{"2025-01-15", "5"}}, true, true},
		{"unordered rows", [][]any{{"a", 1}, {"b", 2}}, [][]any{{"b", 2}, {"a", 1}}, false, true},
		{"ordered rows", [][]any{{"a", 1}, {"b", 2}}, [][]any{{"b", 2}, {"a", 1}}, true, false},
		{"null vs empty", [][]any{{nil}}, [][]any{{""}}, true, false},
		{"row count", [][]any{{1}}, [][]any{{1}, {2}}, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := diffResults(normaliseRows(tc.a), normaliseRows(tc.b), tc.ordered)
			if (d == "") != tc.same {
				t.Errorf("diff %q, want same=%v", d, tc.same)
			}
		})
	}
}

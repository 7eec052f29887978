package storage

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"
)

// The profile operations storage's tests send. Their semantics are not
// storage's (package ingest owns them, ingest/profile_ops.go, and storage
// cannot import it): testProfileUpdater stands in for them.
const (
	opSet    = "$set"
	opAdd    = "$add"
	opUnion  = "$union"
	opDelete = "$delete"
)

// testProfileUpdater is the ProfileUpdater of storage's tests: enough of
// Mixpanel's $set (non-null values), $add (integers), $union (JSON
// lists) and $delete, and of $last_seen, to test what storage owns —
// order, atomicity, serialisation, replication and replay — with the
// results the real updater gives for these operations. It keeps the
// contract: deterministic, cur never modified.
func testProfileUpdater(cur []Prop, op *ProfileOp) ([]Prop, error) {
	if op.Op == opDelete {
		return nil, nil
	}
	out := slices.Clone(cur)
	put := func(key string, v Value) {
		for i := range out {
			if out[i].Key == key {
				out[i].Value = v
				return
			}
		}
		out = append(out, Prop{Key: key, Value: v})
	}
	get := func(key string) Value {
		for _, pr := range out {
			if pr.Key == key {
				return pr.Value
			}
		}
		return Value{}
	}
	for _, pr := range op.Props {
		switch op.Op {
		case opSet:
			put(pr.Key, pr.Value)
		case opAdd:
			have := get(pr.Key)
			if pr.Value.Type != TypeInt || !(have.IsNull() || have.Type == TypeInt) {
				return nil, fmt.Errorf("property %q: $add to %s", pr.Key, have.Text())
			}
			put(pr.Key, IntValue(have.Int+pr.Value.Int))
		case opUnion:
			var list, items []json.RawMessage
			if have := get(pr.Key); have.Type == TypeJSON {
				if err := json.Unmarshal([]byte(have.Str), &list); err != nil {
					return nil, err
				}
			}
			if err := json.Unmarshal([]byte(pr.Value.Str), &items); err != nil {
				return nil, err
			}
			for _, it := range items {
				if !slices.ContainsFunc(list, func(x json.RawMessage) bool { return string(x) == string(it) }) {
					list = append(list, it)
				}
			}
			b, _ := json.Marshal(list)
			put(pr.Key, JSONValue(string(b)))
		default:
			return nil, fmt.Errorf("unknown operation %q", op.Op)
		}
	}
	if !op.IgnoreTime && (len(out) > 0 || cur != nil) {
		put("$last_seen", StringValue(op.Time.UTC().Format("2006-01-02T15:04:05")))
	}
	return out, nil
}

// TestUpdateProfilesNeedsUpdater: a store opened without a ProfileUpdater
// refuses profile updates, naming the missing option, and stores nothing.
func TestUpdateProfilesNeedsUpdater(t *testing.T) {
	s, err := Open(Options{Dir: t.TempDir(), FlushInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.CreateProject("p", "", ""); err != nil {
		t.Fatal(err)
	}
	p, _ := s.Project("p")
	err = p.UpdateProfiles(TablePeople, []ProfileOp{{Key: "u", Op: opSet, Props: []Prop{{"a", IntValue(1)}}}})
	if err == nil || !errors.Is(err, errNoProfileUpdater) {
		t.Fatalf("UpdateProfiles without an updater: %v, want %v", err, errNoProfileUpdater)
	}
	ps, _ := p.PeopleScan()
	for person, err := range ps.All() {
		t.Fatalf("person %v (err %v) stored by a refused update", person, err)
	}
}

// TestUpdateProfilesUsesUpdater: storage hands each operation, in batch
// order, the profile the previous ones left (a person's under its
// canonical id), stores what the updater returns, refuses the whole
// batch on its error as a *RowError naming the operation.
func TestUpdateProfilesUsesUpdater(t *testing.T) {
	type call struct {
		key, op string
		cur     string
	}
	var calls []call
	updater := func(cur []Prop, op *ProfileOp) ([]Prop, error) {
		calls = append(calls, call{op.Key, op.Op, fmt.Sprint(cur)})
		if op.Op == "$fail" {
			return nil, fmt.Errorf("no such luck")
		}
		return testProfileUpdater(cur, op)
	}
	s, err := Open(Options{Dir: t.TempDir(), FlushInterval: time.Hour, ProfileUpdater: updater})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.CreateProject("p", "", ""); err != nil {
		t.Fatal(err)
	}
	p, _ := s.Project("p")
	ops := []ProfileOp{
		{Key: "u", Op: opSet, Props: []Prop{{"a", IntValue(1)}}, IgnoreTime: true},
		{Key: "u", Op: opAdd, Props: []Prop{{"a", IntValue(2)}}, IgnoreTime: true},
		{Key: "v", Op: opSet, Props: []Prop{{"b", StringValue("x")}}, IgnoreTime: true},
	}
	if err := p.UpdateProfiles(TablePeople, ops); err != nil {
		t.Fatal(err)
	}
	want := []call{{"u", opSet, "[]"}, {"u", opAdd, "[{a {int 1 0 }}]"}, {"v", opSet, "[]"}}
	if fmt.Sprint(calls) != fmt.Sprint(want) {
		t.Fatalf("updater calls %v, want %v", calls, want)
	}
	// A failing operation refuses its batch: u keeps a = 3.
	calls = nil
	err = p.UpdateProfiles(TablePeople, []ProfileOp{
		{Key: "u", Op: opAdd, Props: []Prop{{"a", IntValue(10)}}, IgnoreTime: true},
		{Key: "u", Op: "$fail", IgnoreTime: true},
	})
	var re *RowError
	if !errors.As(err, &re) || re.Row != 2 || re.Column != "$fail" || re.Err.Error() != "no such luck" {
		t.Fatalf("failing operation: %v, want a *RowError for row 2, column $fail", err)
	}
	if len(calls) != 2 || calls[1].cur != "[{a {int 13 0 }}]" {
		t.Fatalf("updater calls %v, want the second to see a = 13", calls)
	}
	ps, _ := p.PeopleScan()
	got := map[string]string{}
	for person, err := range ps.All() {
		if err != nil {
			t.Fatal(err)
		}
		got[person.DistinctID] = fmt.Sprint(person.Props)
	}
	if got["u"] != "[{a {int 3 0 }}]" || got["v"] != "[{b {string 0 0 x}}]" || len(got) != 2 {
		t.Fatalf("people after a refused batch: %v, want u a=3 and v b=x", got)
	}
}

package ingest

// Profile operations: what each Mixpanel operation ($set, $set_once,
// $add, $append, $union, $remove, $unset, $delete) does to a profile
// (mixpanel-ingest.md §4), and the $last_seen an update leaves.
//
// Storage keeps the people and groups tables but not these semantics: it
// calls ApplyProfileOp as its storage.ProfileUpdater (the server sets
// storage.Options.ProfileUpdater), under the project's profile lock on a
// single node and on every replica in log order in a cluster. So
// ApplyProfileOp must stay deterministic — its result depends on the
// current profile and the operation alone (op.Time, not the clock) — and
// a change to what an operation does changes how every replica resolves
// the operations still in a Raft log: old logs replay with the new rules.

import (
	"encoding/json"
	"fmt"
	"math"

	"arb/storage"
)

// Profile operations: the keys of an /engage or /groups update and the
// operation names storage carries in storage.ProfileOp.Op (and in the
// Raft log's profile_ops records: wire format, never change).
const (
	OpSet     = "$set"
	OpSetOnce = "$set_once"
	OpAdd     = "$add"
	OpAppend  = "$append"
	OpUnion   = "$union"
	OpRemove  = "$remove"
	OpUnset   = "$unset"
	OpDelete  = "$delete"
)

// colLastSeen is the profile property recording the last update.
const colLastSeen = "$last_seen"

var _ storage.ProfileUpdater = ApplyProfileOp

// ApplyProfileOp returns the profile after op; nil means deleted. cur is
// never modified (profiles are shared with readers). Unless
// op.IgnoreTime, a profile that exists after op gets op.Time as its
// $last_seen. An operation the profile cannot take ($add to a string, a
// list operation on JSON that is not a list, $union of a non-list) is an
// error naming the property.
func ApplyProfileOp(cur []storage.Prop, op *storage.ProfileOp) ([]storage.Prop, error) {
	if op.Op == OpDelete {
		return nil, nil
	}
	out := append([]storage.Prop(nil), cur...)
	find := func(key string) int {
		for i := range out {
			if out[i].Key == key {
				return i
			}
		}
		return -1
	}
	put := func(key string, v storage.Value) {
		if i := find(key); i >= 0 {
			out[i].Value = v
		} else {
			out = append(out, storage.Prop{Key: key, Value: v})
		}
	}
	for _, pr := range op.Props {
		i := find(pr.Key)
		switch op.Op {
		case OpSet:
			if pr.Value.IsNull() {
				if i >= 0 {
					out = append(out[:i], out[i+1:]...)
				}
				continue
			}
			put(pr.Key, pr.Value)
		case OpSetOnce:
			if i < 0 && !pr.Value.IsNull() {
				put(pr.Key, pr.Value)
			}
		case OpAdd:
			var have storage.Value
			if i >= 0 {
				have = out[i].Value
			}
			sum, err := addValues(have, pr.Value)
			if err != nil {
				return nil, fmt.Errorf("property %q: %w", pr.Key, err)
			}
			put(pr.Key, sum)
		case OpAppend, OpUnion, OpRemove:
			var list []json.RawMessage
			if i >= 0 {
				if err := json.Unmarshal([]byte(listText(out[i].Value)), &list); err != nil {
					return nil, fmt.Errorf("property %q holds %s, not a list", pr.Key, out[i].Value.Text())
				}
			}
			items := []json.RawMessage{jsonOf(pr.Value)}
			if op.Op == OpUnion {
				if pr.Value.Type != storage.TypeJSON || json.Unmarshal([]byte(pr.Value.Str), &items) != nil {
					return nil, fmt.Errorf("property %q: %s needs a list, got %s", pr.Key, op.Op, pr.Value.Text())
				}
			}
			list = editList(op.Op, list, items)
			if i < 0 && op.Op == OpRemove {
				continue
			}
			b, _ := json.Marshal(list)
			put(pr.Key, storage.JSONValue(string(b)))
		case OpUnset:
			if i >= 0 {
				out = append(out[:i], out[i+1:]...)
			}
		default:
			return nil, fmt.Errorf("unknown operation %q", op.Op)
		}
	}
	if !op.IgnoreTime && (len(out) > 0 || cur != nil) {
		put(colLastSeen, storage.StringValue(op.Time.UTC().Format("2006-01-02T15:04:05")))
	}
	return out, nil
}

// listText is the JSON text of a list property (an empty list for NULL).
func listText(v storage.Value) string {
	if v.Type != storage.TypeJSON {
		return "null"
	}
	return v.Str
}

func jsonOf(v storage.Value) json.RawMessage {
	b, _ := v.MarshalJSON()
	return b
}

// editList appends, unions or removes items (compared by JSON text).
func editList(op string, list, items []json.RawMessage) []json.RawMessage {
	has := func(l []json.RawMessage, it json.RawMessage) bool {
		for _, x := range l {
			if string(x) == string(it) {
				return true
			}
		}
		return false
	}
	switch op {
	case OpAppend:
		list = append(list, items...)
	case OpUnion:
		for _, it := range items {
			if !has(list, it) {
				list = append(list, it)
			}
		}
	case OpRemove:
		kept := list[:0:0]
		for _, x := range list {
			if !has(items, x) {
				kept = append(kept, x)
			}
		}
		list = kept
	}
	if list == nil {
		list = []json.RawMessage{}
	}
	return list
}

// addValues is $add: a missing value counts as 0; ints stay ints unless
// they overflow.
func addValues(have, delta storage.Value) (storage.Value, error) {
	isNum := func(v storage.Value) bool { return v.Type == storage.TypeInt || v.Type == storage.TypeFloat }
	if !isNum(delta) {
		return storage.Value{}, fmt.Errorf("$add needs a number, got %s", delta.Text())
	}
	if have.IsNull() {
		return delta, nil
	}
	if !isNum(have) {
		return storage.Value{}, fmt.Errorf("$add to %s, which is not a number", have.Text())
	}
	if have.Type == storage.TypeInt && delta.Type == storage.TypeInt {
		s := have.Int + delta.Int
		if (s > have.Int) == (delta.Int > 0) || delta.Int == 0 {
			return storage.IntValue(s), nil
		}
	}
	f := func(v storage.Value) float64 {
		if v.Type == storage.TypeInt {
			return float64(v.Int)
		}
		return v.Float
	}
	sum := f(have) + f(delta)
	if math.IsInf(sum, 0) {
		return storage.Value{}, fmt.Errorf("$add overflows")
	}
	return storage.FloatValue(sum), nil
}

package ingest

import (
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"arb/storage"
)

// showProfile renders a profile as "k=v k=v" (JSON values as their text,
// ints and floats told apart by a "f" suffix), or "deleted" for nil.
func showProfile(props []storage.Prop) string {
	if props == nil {
		return "deleted"
	}
	var parts []string
	for _, pr := range props {
		v := pr.Value.Text()
		if pr.Value.Type == storage.TypeFloat {
			v += "f"
		}
		parts = append(parts, pr.Key+"="+v)
	}
	return strings.Join(parts, " ")
}

func TestApplyProfileOp(t *testing.T) {
	at := time.Date(2025, 3, 4, 5, 6, 7, 0, time.FixedZone("CET", 3600))
	prop := func(k string, v storage.Value) storage.Prop { return storage.Prop{Key: k, Value: v} }
	str, num, js := storage.StringValue, storage.IntValue, storage.JSONValue
	base := []storage.Prop{prop("name", str("Ann")), prop("n", num(2)), prop("tags", js(`["a","b"]`))}
	for _, c := range []struct {
		name  string
		cur   []storage.Prop
		op    string
		props []storage.Prop
		keep  bool // IgnoreTime false: $last_seen is set
		want  string
	}{
		{"set overwrites and adds", base, OpSet, []storage.Prop{prop("name", str("Bo")), prop("x", num(1))}, false,
			`name=Bo n=2 tags=["a","b"] x=1`},
		{"set null removes", base, OpSet, []storage.Prop{prop("name", storage.Value{})}, false, `n=2 tags=["a","b"]`},
		{"set creates the profile", nil, OpSet, []storage.Prop{prop("a", num(1))}, false, `a=1`},
		{"set_once keeps what is there", base, OpSetOnce, []storage.Prop{prop("name", str("Bo")), prop("y", num(3)), prop("z", storage.Value{})}, false,
			`name=Ann n=2 tags=["a","b"] y=3`},
		{"add to an int", base, OpAdd, []storage.Prop{prop("n", num(-5))}, false, `name=Ann n=-3 tags=["a","b"]`},
		{"add to a missing key", base, OpAdd, []storage.Prop{prop("m", storage.FloatValue(1.5))}, false, `name=Ann n=2 tags=["a","b"] m=1.5f`},
		{"add an int overflowing becomes float", []storage.Prop{prop("n", num(math.MaxInt64))}, OpAdd, []storage.Prop{prop("n", num(1))}, false,
			`n=9.223372036854776e+18f`},
		{"append keeps duplicates", base, OpAppend, []storage.Prop{prop("tags", str("a")), prop("new", num(1))}, false,
			`name=Ann n=2 tags=["a","b","a"] new=[1]`},
		{"union adds what is missing", base, OpUnion, []storage.Prop{prop("tags", js(`["b","c","c"]`))}, false, `name=Ann n=2 tags=["a","b","c"]`},
		{"append to a non-list replaces it", base, OpAppend, []storage.Prop{prop("name", num(1))}, false, `name=[1] n=2 tags=["a","b"]`},
		{"remove", base, OpRemove, []storage.Prop{prop("tags", str("a")), prop("none", str("x"))}, false, `name=Ann n=2 tags=["b"]`},
		{"unset", base, OpUnset, []storage.Prop{{Key: "name"}, {Key: "absent"}}, false, `n=2 tags=["a","b"]`},
		{"delete", base, OpDelete, nil, true, "deleted"},
		{"last_seen on update, in UTC", base, OpSet, []storage.Prop{prop("name", str("Bo"))}, true,
			`name=Bo n=2 tags=["a","b"] $last_seen=2025-03-04T04:06:07`},
		{"no last_seen on a profile never there and still empty", nil, OpUnset, []storage.Prop{{Key: "a"}}, true, "deleted"},
		{"last_seen keeps a profile emptied by unset", []storage.Prop{prop("a", num(1))}, OpUnset, []storage.Prop{{Key: "a"}}, true,
			`$last_seen=2025-03-04T04:06:07`},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := fmt.Sprint(c.cur)
			op := &storage.ProfileOp{Key: "u", Op: c.op, Props: c.props, Time: at, IgnoreTime: !c.keep}
			got, err := ApplyProfileOp(c.cur, op)
			if err != nil {
				t.Fatal(err)
			}
			if s := showProfile(got); s != c.want {
				t.Fatalf("%s: got %s, want %s", c.op, s, c.want)
			}
			if fmt.Sprint(c.cur) != before {
				t.Fatalf("%s modified the current profile: %s, was %s", c.op, fmt.Sprint(c.cur), before)
			}
			again, _ := ApplyProfileOp(c.cur, op)
			if !reflect.DeepEqual(again, got) {
				t.Fatalf("%s twice: %s then %s", c.op, showProfile(got), showProfile(again))
			}
		})
	}
}

// TestApplyProfileOpErrors: an operation the profile cannot take is an
// error naming the property (storage returns it as the *RowError of the
// operation, which /engage reports under the operation's field).
func TestApplyProfileOpErrors(t *testing.T) {
	prop := func(k string, v storage.Value) storage.Prop { return storage.Prop{Key: k, Value: v} }
	cur := []storage.Prop{prop("name", storage.StringValue("Ann")), prop("big", storage.FloatValue(math.MaxFloat64)),
		prop("obj", storage.JSONValue(`{"a":1}`))}
	for _, c := range []struct {
		op   string
		prop storage.Prop
		want string
	}{
		{OpAdd, prop("name", storage.IntValue(1)), `property "name": $add to Ann, which is not a number`},
		{OpAdd, prop("n", storage.StringValue("1")), `property "n": $add needs a number, got 1`},
		{OpAdd, prop("big", storage.FloatValue(math.MaxFloat64)), `property "big": $add overflows`},
		{OpAppend, prop("obj", storage.IntValue(1)), `property "obj" holds {"a":1}, not a list`},
		{OpUnion, prop("tags", storage.StringValue("x")), `property "tags": $union needs a list, got x`},
		{"$bogus", prop("a", storage.IntValue(1)), `unknown operation "$bogus"`},
	} {
		got, err := ApplyProfileOp(cur, &storage.ProfileOp{Key: "u", Op: c.op, Props: []storage.Prop{c.prop}, IgnoreTime: true})
		if err == nil || err.Error() != c.want {
			t.Errorf("%s %s: got %v (profile %s), want error %q", c.op, c.prop.Key, err, showProfile(got), c.want)
		}
	}
}

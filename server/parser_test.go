package server

import (
	"strings"
	"testing"

	ast "github.com/dolthub/vitess/go/vt/sqlparser"

	"arb/storage"
)

func col(name string, t storage.ColumnType) storage.Column {
	return storage.Column{Name: name, Type: t}
}

func TestInferColumns(t *testing.T) {
	schema := []storage.Column{{Name: "amount", Type: storage.TypeInt}, {Name: "Plan", Type: storage.TypeString}}
	cases := []struct {
		name  string
		sql   string
		binds map[string]boundType
		want  map[string]storage.Column // nil: no pending columns
	}{
		{"known columns, same types", `INSERT INTO events (time, event, amount, ` + "`plan`" + `) VALUES ('2025-01-01', 'a', 1, 'x')`, nil, nil},
		{"new columns typed by literals", `INSERT INTO events (time, n, f, s, b, neg) VALUES (1, 2, 2.5, 'x', true, -3)`, nil,
			map[string]storage.Column{"n": col("n", storage.TypeInt), "f": col("f", storage.TypeFloat), "s": col("s", storage.TypeString),
				"b": col("b", storage.TypeBool), "neg": col("neg", storage.TypeInt)}},
		{"int column widened by a float", `INSERT INTO events (amount) VALUES (1), (2.5)`, nil,
			map[string]storage.Column{"amount": col("amount", storage.TypeFloat)}},
		{"int column widened by a string", `INSERT INTO events (AMOUNT) VALUES ('n/a')`, nil,
			map[string]storage.Column{"amount": col("amount", storage.TypeString)}},
		{"nulls keep the type", `INSERT INTO events (amount, ` + "`plan`" + `) VALUES (NULL, NULL)`, nil, nil},
		{"new all-null column is a string", `INSERT INTO events (x) VALUES (NULL)`, nil,
			map[string]storage.Column{"x": col("x", storage.TypeString)}},
		{"function call makes a new column a string", `INSERT INTO events (x) VALUES (concat('a', 'b'))`, nil,
			map[string]storage.Column{"x": col("x", storage.TypeString)}},
		{"function call keeps an existing type", `INSERT INTO events (amount) VALUES (1 + 1)`, nil, nil},
		{"large ints with floats become strings", `INSERT INTO events (x) VALUES (9007199254740993), (1.5)`, nil,
			map[string]storage.Column{"x": col("x", storage.TypeString)}},
		{"beyond int64 is a string", `INSERT INTO events (x) VALUES (18446744073709551616)`, nil,
			map[string]storage.Column{"x": col("x", storage.TypeString)}},
		{"placeholders without binds", `INSERT INTO events (x, amount) VALUES (?, ?)`, nil,
			map[string]storage.Column{"x": col("x", storage.TypeString)}},
		{"placeholders with binds", `INSERT INTO events (x, amount) VALUES (?, ?)`,
			map[string]boundType{"v1": {t: storage.TypeFloat}, "v2": {t: storage.TypeFloat}},
			map[string]storage.Column{"x": col("x", storage.TypeFloat), "amount": col("amount", storage.TypeFloat)}},
		{"fixed columns are never properties", `INSERT INTO events (time, event, distinct_id, insert_id, properties) VALUES (1, 2, 3, 4, '{}')`, nil, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			stmt, err := ast.Parse(c.sql)
			if err != nil {
				t.Fatal(err)
			}
			ins := stmt.(*ast.Insert)
			got := inferColumns(schema, storage.TableEvents, ins.Columns, ins.Rows.(*ast.AliasedValues).Values, c.binds)
			if len(got) != len(c.want) {
				t.Fatalf("got %v, want %v", got, c.want)
			}
			for _, g := range got {
				if w := c.want[strings.ToLower(g.Name)]; g != w {
					t.Errorf("column %s: got %+v, want %+v", g.Name, g, w)
				}
			}
		})
	}
}

func TestPropsFromJSON(t *testing.T) {
	props, err := propsFromJSON(`{"n": 3, "f": 2.5, "big": 12345678901234567890, "s": "x", "b": false, "o": {"a": [1, 2]}, "z": null}`)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]storage.Value{
		"n": storage.IntValue(3), "f": storage.FloatValue(2.5), "big": storage.StringValue("12345678901234567890"),
		"s": storage.StringValue("x"), "b": storage.BoolValue(false), "o": storage.JSONValue(`{"a":[1,2]}`),
	}
	if len(props) != len(want) {
		t.Fatalf("got %d props %+v, want %d", len(props), props, len(want))
	}
	for _, p := range props {
		if want[p.Key] != p.Value {
			t.Errorf("%s = %+v, want %+v", p.Key, p.Value, want[p.Key])
		}
	}
	for _, bad := range []string{`[1]`, `"x"`, `{`, `{"a": 1e999}`} {
		if _, err := propsFromJSON(bad); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

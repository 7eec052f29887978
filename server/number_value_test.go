package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	querypb "github.com/dolthub/vitess/go/vt/proto/query"
	ast "github.com/dolthub/vitess/go/vt/sqlparser"

	"arb/ingest"
	"arb/storage"
)

// numberEdges are JSON number literals at the edges of the types, with
// the value every path must make of them.
var numberEdges = []struct {
	lit  string
	want storage.Value
}{
	{"0", storage.IntValue(0)},
	{"-0", storage.IntValue(0)},
	{"9007199254740993", storage.IntValue(9007199254740993)}, // 2^53+1: no float holds it
	{"9223372036854775807", storage.IntValue(9223372036854775807)},
	{"-9223372036854775808", storage.IntValue(-9223372036854775808)},
	{"9223372036854775808", storage.StringValue("9223372036854775808")}, // beyond int64: every digit kept
	{"-9223372036854775809", storage.StringValue("-9223372036854775809")},
	{"18446744073709551615", storage.StringValue("18446744073709551615")}, // 2^64-1: an unsigned BIGINT, not an int
	{"18446744073709551616", storage.StringValue("18446744073709551616")},
	{"0.1", storage.FloatValue(0.1)},
	{"123456789012345678901234567890.5", storage.FloatValue(123456789012345678901234567890.5)},
	{"123456789012345678901234567890", storage.StringValue("123456789012345678901234567890")},
	{"1.5", storage.FloatValue(1.5)},
	{"1e3", storage.FloatValue(1000)},
	{"-2.5E-3", storage.FloatValue(-0.0025)},
	{"1.7976931348623157e308", storage.FloatValue(1.7976931348623157e308)},
}

// TestNumberConversionIsOne: HTTP ingestion (both of its decoders) and
// the SQL properties column make the same value of every edge number,
// and a number no float holds is an error for each.
func TestNumberConversionIsOne(t *testing.T) {
	for _, c := range numberEdges {
		paths := map[string]func() (storage.Value, error){
			"ingest.NumberValue": func() (storage.Value, error) { return ingest.NumberValue(json.Number(c.lit)) },
			"scan": func() (storage.Value, error) {
				v, ok := ingest.NumberText(c.lit)
				if !ok {
					return v, fmt.Errorf("refused")
				}
				return v, nil
			},
			"properties": func() (storage.Value, error) {
				props, err := propsFromJSON(`{"x":` + c.lit + `}`)
				if err != nil || len(props) != 1 {
					return storage.Value{}, fmt.Errorf("%v %v", props, err)
				}
				return props[0].Value, nil
			},
		}
		for name, f := range paths {
			got, err := f()
			if err != nil || got != c.want {
				t.Errorf("%s(%s) = %+v, %v; want %+v", name, c.lit, got, err, c.want)
			}
		}
	}
	for _, lit := range []string{"1e400", "-1e400"} {
		if _, err := ingest.NumberValue(json.Number(lit)); err == nil {
			t.Errorf("ingest.NumberValue(%s) accepted", lit)
		}
		if _, ok := ingest.NumberText(lit); ok {
			t.Errorf("ingest.NumberText(%s) accepted", lit)
		}
		if _, err := propsFromJSON(`{"x":` + lit + `}`); err == nil {
			t.Errorf("properties %s accepted", lit)
		}
	}
}

// TestNumbersSameOverHTTPAndSQL sends the edge numbers once over /import
// and once in an INSERT's properties: both rows read back the same.
func TestNumbersSameOverHTTPAndSQL(t *testing.T) {
	srv := startTestServer(t, t.TempDir())
	db := openDB(t, srv, "")
	var props []string
	for i, c := range numberEdges {
		props = append(props, fmt.Sprintf(`"n%d":%s`, i, c.lit))
	}
	obj := "{" + strings.Join(props, ",") + "}"
	body := `[{"event":"E","properties":{"time":1735689600000,"distinct_id":"http","$insert_id":"h1",` + strings.Join(props, ",") + `}}]`
	req, _ := http.NewRequest("POST", "http://"+srv.HTTPAddr()+"/import?strict=1", strings.NewReader(body))
	req.SetBasicAuth("sec", "")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("/import: %v %v", resp, err)
	}
	resp.Body.Close()
	// A literal, as the CLI and most tools send an INSERT (a server-side
	// prepared statement's parameter: integration/prepared_numbers_test.go).
	mustExec(t, db, "INSERT INTO events (time, event, distinct_id, insert_id, properties) VALUES ('2025-01-01 00:00:00', 'E', 'sql', 's1', '"+obj+"')")
	for i := range numberEdges {
		var h, s string
		q := fmt.Sprintf("SELECT (SELECT CAST(n%d AS CHAR) FROM events WHERE distinct_id = 'http'), (SELECT CAST(n%d AS CHAR) FROM events WHERE distinct_id = 'sql')", i, i)
		if err := db.QueryRow(q).Scan(&h, &s); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		if h != s {
			t.Errorf("%s: over HTTP %q, over SQL %q", numberEdges[i].lit, h, s)
		}
		if numberEdges[i].want.Type == storage.TypeString && h != numberEdges[i].want.Str {
			t.Errorf("%s over HTTP reads %q: digits lost", numberEdges[i].lit, h)
		}
	}
}

// TestBoundNumbersTypedAsLiterals: a number bound to a prepared INSERT's
// placeholder types a column as the same number written as a literal
// does, whatever integer or DECIMAL wire type the driver chose, and as
// ingest.NumberValue types it in JSON; a DOUBLE is a float whatever its text.
func TestBoundNumbersTypedAsLiterals(t *testing.T) {
	for _, c := range numberEdges {
		stmt, err := ast.Parse("INSERT INTO events (x) VALUES (" + c.lit + ")")
		if err != nil {
			t.Fatal(err)
		}
		litT, litBig, ok := literalType(stmt.(*ast.Insert).Rows.(*ast.AliasedValues).Values[0][0], nil)
		if !ok || litT != c.want.Type {
			t.Errorf("literal %s typed %v (ok %v), want %v", c.lit, litT, ok, c.want.Type)
		}
		wire := []querypb.Type{querypb.Type_DECIMAL}
		if literalKind(c.lit) == ast.IntVal {
			wire = append(wire, querypb.Type_INT64, querypb.Type_UINT64)
		}
		for _, w := range wire {
			bt, big := bindType(&querypb.BindVariable{Type: w, Value: []byte(c.lit)})
			if bt != litT || big != litBig {
				t.Errorf("%s bound as %v typed %v (big %v); the literal %v (big %v)", c.lit, w, bt, big, litT, litBig)
			}
		}
	}
	for _, lit := range []string{"1e400", "-1e400"} {
		bt, _ := bindType(&querypb.BindVariable{Type: querypb.Type_DECIMAL, Value: []byte(lit)})
		stmt, err := ast.Parse("INSERT INTO events (x) VALUES (" + lit + ")")
		if err != nil {
			t.Fatal(err)
		}
		lt, _, _ := literalType(stmt.(*ast.Insert).Rows.(*ast.AliasedValues).Values[0][0], nil)
		if bt != lt {
			t.Errorf("%s bound as DECIMAL typed %v, the literal %v", lit, bt, lt)
		}
	}
	if bt, _ := bindType(&querypb.BindVariable{Type: querypb.Type_FLOAT64, Value: []byte("3")}); bt != storage.TypeFloat {
		t.Errorf("DOUBLE 3 typed %v, want a float", bt)
	}
}

// literalKind is how the parser reads a number written as lit.
func literalKind(lit string) ast.ValType {
	if strings.ContainsAny(lit, ".eE") {
		return ast.FloatVal
	}
	return ast.IntVal
}

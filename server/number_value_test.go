package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

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
			"numberValue": func() (storage.Value, error) { return numberValue(json.Number(c.lit)) },
			"scan": func() (storage.Value, error) {
				v, ok := scanNumberValue(c.lit)
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
		if _, err := numberValue(json.Number(lit)); err == nil {
			t.Errorf("numberValue(%s) accepted", lit)
		}
		if _, ok := scanNumberValue(lit); ok {
			t.Errorf("scanNumberValue(%s) accepted", lit)
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
	// A literal, as the CLI and most tools send an INSERT. (A server-side
	// prepared statement's JSON parameter is converted by go-mysql-server,
	// which reads numbers as float64, before arb sees it.)
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

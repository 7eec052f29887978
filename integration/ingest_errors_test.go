package integration

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// ingestCase is one row of mixpanel-ingest.md §6: a request, what the
// client must see, and whether the stored data may change.
type ingestCase struct {
	row     int
	name    string
	method  string
	path    string // with query
	ctype   string
	enc     string // Content-Encoding
	auth    string // Basic user (password empty)
	body    []byte
	status  int
	want    []string // substrings of the body
	changes bool     // a valid request: stored data changes
	check   string   // SQL whose one-row result must equal checkWant afterwards
	checkOK string
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func gz(b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

func ev(props string) string { return `{"event":"E","properties":{"token":"tok6"` + props + `}}` }

// TestIngestErrorTable walks the 24 error cases of the ingestion contract
// against the real binary: status, body, and the stored data unchanged
// after every refused request. A payload that cannot be decoded at all
// (rows 1, 2, 19) is HTTP 400 with the legacy body; a decodable request
// with bad records is HTTP 200 with status 0 on the legacy endpoints, as
// Mixpanel answers, and 400 with failed_records on /import.
func TestIngestErrorTable(t *testing.T) {
	arb := startArb(t, "--project", "p6:tok6:sec6")
	db := arb.DB()
	now := time.Now().UnixMilli()
	plus := `[{"event":"Plus","properties":{"token":"tok6","v":">>>???~~~","time":` + fmt.Sprint(now) + `}}]`
	if !strings.Contains(b64(plus), "+") {
		t.Fatal("test payload's base64 has no '+'")
	}
	long := strings.Repeat("x", 300)
	manyProps := ""
	for i := 0; i < 300; i++ {
		manyProps += fmt.Sprintf(`,"p%d":%d`, i, i)
	}
	bigBatch := "[" + strings.Repeat(ev(``)+",", 2000) + ev(``) + "]"
	hugeRecord := ev(`,"blob":"` + strings.Repeat("y", 1<<20) + `"`)
	hugeBody := "[" + strings.Repeat(ev(`,"blob":"`+strings.Repeat("z", 600<<10)+`"`)+",", 18) + ev(``) + "]"
	imp := func(props string) []byte {
		return []byte(`[{"event":"I","properties":{"time":` + fmt.Sprint(now) + `,"distinct_id":"u1","$insert_id":"ok-1"` + props + `}}]`)
	}
	// ndLine is one /import record for an NDJSON body.
	ndLine := func(event, insertID string) string {
		return `{"event":"` + event + `","properties":{"time":` + fmt.Sprint(now) + `,"distinct_id":"nd","$insert_id":"` + insertID + `"}}`
	}

	cases := []ingestCase{
		{row: 1, name: "data not base64", method: "GET", path: "/track?verbose=1&data=" + url.QueryEscape("!!!not base64!!!"), status: 400, want: []string{`"status":0`, "data"}},
		{row: 2, name: "base64 of invalid JSON", method: "GET", path: "/track?verbose=1&data=" + b64(`{"event": "A",`), status: 400, want: []string{`"status":0`, "invalid JSON", "byte"}},
		// NDJSON's lines are split first and each checked where it is
		// decoded: a bad line after good ones still refuses the whole
		// request, naming the line, as encoding/json's path does.
		{row: 2, name: "ndjson, invalid JSON on the second line", method: "POST", path: "/import?strict=1", ctype: "application/x-ndjson", auth: "sec6",
			body: []byte(ndLine("ND", "nd-1") + "\n" + `{"event":"ND","properties":{"time":1,}}` + "\n" + ndLine("ND", "nd-3")), status: 400, want: []string{"ndjson line 2", "invalid JSON"}},
		{row: 2, name: "ndjson, two objects on one line", method: "POST", path: "/import?strict=1", ctype: "application/x-ndjson", auth: "sec6",
			body: []byte(ndLine("ND", "nd-1") + "\n\n" + ndLine("ND", "nd-2") + " " + ndLine("ND", "nd-3")), status: 400, want: []string{"ndjson line 3", "invalid JSON"}},
		{row: 2, name: "ndjson, a control character in a string", method: "POST", path: "/import?strict=1", ctype: "application/x-ndjson", auth: "sec6",
			body: []byte(ndLine("ND", "nd-1") + "\n" + ndLine("N\x01D", "nd-2")), status: 400, want: []string{"ndjson line 2", "invalid JSON"}},
		{row: 2, name: "ndjson with CRLF, blank lines and spaces is stored", method: "POST", path: "/import?strict=1", ctype: "application/x-ndjson", auth: "sec6",
			body: []byte(ndLine("NDok", "nd-1") + "\r\n\r\n  " + ndLine("NDok", "nd-2") + " \t\n"), status: 200, want: []string{`"num_records_imported":2`}, changes: true,
			check: "SELECT count(*) FROM p6.events WHERE event = 'NDok'", checkOK: "2"},
		{row: 3, name: "node batch body: unencoded base64 with '+'", method: "POST", path: "/track?ip=0&verbose=0", ctype: "application/x-www-form-urlencoded", body: []byte("data=" + b64(plus)), status: 200, want: []string{"1"}, changes: true,
			check: "SELECT v FROM p6.events WHERE event = 'Plus'", checkOK: ">>>???~~~"},
		{row: 4, name: "sendBeacon text/plain body", method: "POST", path: "/track/?ip=1&_=1", ctype: "text/plain;charset=UTF-8", body: []byte("data=" + url.QueryEscape(b64(`[`+ev(`,"distinct_id":"beacon"`)+`]`))), status: 200, want: []string{"1"}, changes: true,
			check: "SELECT count(*) FROM p6.events WHERE distinct_id = 'beacon'", checkOK: "1"},
		{row: 5, name: "missing token", method: "GET", path: "/track?verbose=1&data=" + b64(`{"event":"A","properties":{}}`), status: 200, want: []string{`"status":0`, "token, missing or empty"}},
		{row: 6, name: "unknown token", method: "GET", path: "/track?verbose=1&data=" + b64(`{"event":"A","properties":{"token":"nope"}}`), status: 200, want: []string{`"status":0`, "unknown project token"}},
		{row: 7, name: "missing event", method: "GET", path: "/track?verbose=1&data=" + b64(`{"properties":{"token":"tok6"}}`), status: 200, want: []string{`"status":0`, "event"}},
		{row: 7, name: "non-string event", method: "GET", path: "/track?data=" + b64(`{"event":5,"properties":{"token":"tok6"}}`), status: 200, want: []string{"0"}},
		{row: 8, name: "properties an array", method: "GET", path: "/track?verbose=1&data=" + b64(`{"event":"A","properties":[1]}`), status: 200, want: []string{`"status":0`, "properties"}},
		{row: 9, name: "time a string", method: "POST", path: "/import?strict=1", ctype: "application/json", auth: "sec6", body: imp(`,"time":"yesterday"`), status: 400, want: []string{`"field":"properties.time"`, `"num_records_imported":0`}},
		{row: 9, name: "time before 1971", method: "POST", path: "/import?strict=1", ctype: "application/json", auth: "sec6", body: []byte(`[{"event":"I","properties":{"time":1000,"distinct_id":"u1","$insert_id":"a1"}}]`), status: 400, want: []string{`"field":"properties.time"`, "1971"}},
		{row: 9, name: "time 2 h ahead", method: "POST", path: "/import?strict=1", ctype: "application/json", auth: "sec6", body: []byte(fmt.Sprintf(`[{"event":"I","properties":{"time":%d,"distinct_id":"u1","$insert_id":"a1"}}]`, now+2*3600*1000)), status: 400, want: []string{`"field":"properties.time"`, "future"}},
		{row: 9, name: "time 10 min ahead is kept as sent", method: "POST", path: "/import?strict=1", ctype: "application/json", auth: "sec6", body: []byte(fmt.Sprintf(`[{"event":"Ahead","properties":{"time":%d,"distinct_id":"u1","$insert_id":"a1"}}]`, now+600*1000)), status: 200, want: []string{`"num_records_imported":1`}, changes: true,
			check: fmt.Sprintf("SELECT count(*) FROM p6.events WHERE event = 'Ahead' AND time >= FROM_UNIXTIME(%d)", time.Now().Add(5*time.Minute).Unix()), checkOK: "1"},
		{row: 10, name: "/track event 30 days old is accepted", method: "GET", path: "/track?data=" + b64(ev(fmt.Sprintf(`,"distinct_id":"old","time":%d`, time.Now().Add(-30*24*time.Hour).Unix()))), status: 200, want: []string{"1"}, changes: true,
			check: "SELECT count(*) FROM p6.events WHERE distinct_id = 'old'", checkOK: "1"},
		{row: 11, name: "$insert_id too long", method: "POST", path: "/import?strict=1", ctype: "application/json", auth: "sec6", body: []byte(fmt.Sprintf(`[{"event":"I","properties":{"time":%d,"distinct_id":"u1","$insert_id":"%s"}}]`, now, strings.Repeat("a", 37))), status: 400, want: []string{`"field":"properties.$insert_id"`}},
		{row: 11, name: "$insert_id bad characters", method: "POST", path: "/import?strict=1", ctype: "application/json", auth: "sec6", body: []byte(fmt.Sprintf(`[{"event":"I","properties":{"time":%d,"distinct_id":"u1","$insert_id":"a b"}}]`, now)), status: 400, want: []string{`"field":"properties.$insert_id"`}},
		{row: 11, name: "$insert_id placeholder", method: "POST", path: "/import?strict=1", ctype: "application/json", auth: "sec6", body: []byte(fmt.Sprintf(`[{"event":"I","properties":{"time":%d,"distinct_id":"u1","$insert_id":"undefined"}}]`, now)), status: 400, want: []string{`"field":"properties.$insert_id"`, "placeholder"}},
		{row: 12, name: "duplicate $insert_id counts once", method: "POST", path: "/import?strict=1", ctype: "application/json", auth: "sec6",
			body:   []byte(fmt.Sprintf(`[{"event":"Dup","properties":{"time":%d,"distinct_id":"u1","$insert_id":"dup-1"}},{"event":"Dup","properties":{"time":%d,"distinct_id":"u1","$insert_id":"dup-1"}}]`, now, now)),
			status: 200, want: []string{`"num_records_imported":2`}, changes: true, check: "SELECT count(*) FROM p6.events WHERE event = 'Dup'", checkOK: "1"},
		{row: 13, name: "placeholder distinct_id on /import", method: "POST", path: "/import?strict=1", ctype: "application/json", auth: "sec6", body: []byte(fmt.Sprintf(`[{"event":"I","properties":{"time":%d,"distinct_id":"anon","$insert_id":"a2"}}]`, now)), status: 400, want: []string{`"field":"properties.distinct_id"`}},
		{row: 14, name: "300-byte string, 300 properties, depth 5: stored whole", method: "GET", path: "/track?data=" + b64(ev(`,"distinct_id":"big","long":"`+long+`","deep":{"a":{"b":{"c":{"d":{"e":1}}}}}`+manyProps)), status: 200, want: []string{"1"}, changes: true,
			check: "SELECT length(`long`), JSON_EXTRACT(deep, '$.a.b.c.d.e'), p299 FROM p6.events WHERE distinct_id = 'big'", checkOK: "300|1|299"},
		{row: 15, name: "body over 10 MB", method: "POST", path: "/track", ctype: "application/json", body: []byte(hugeBody), status: 413, want: []string{`"code":413`}},
		{row: 15, name: "record over 1 MB", method: "POST", path: "/track", ctype: "application/json", body: []byte("[" + hugeRecord + "]"), status: 413, want: []string{`"code":413`, "record 0"}},
		{row: 16, name: "2001 events", method: "POST", path: "/track", ctype: "application/json", body: []byte(bigBatch), status: 413, want: []string{`"code":413`, "2000"}},
		{row: 17, name: "corrupt gzip", method: "POST", path: "/import", ctype: "application/json", enc: "gzip", auth: "sec6", body: append(gz(imp(``))[:20], 1, 2, 3), status: 400, want: []string{"gzip"}},
		{row: 18, name: "/import without auth", method: "POST", path: "/import", ctype: "application/json", body: imp(``), status: 401, want: []string{`"code":401`, "Invalid credentials"}},
		{row: 18, name: "/import with a wrong secret", method: "POST", path: "/import", ctype: "application/json", auth: "wrong", body: imp(``), status: 401, want: []string{`"code":401`}},
		{row: 19, name: "empty array", method: "POST", path: "/track?verbose=1", ctype: "application/json", body: []byte(`[]`), status: 400, want: []string{"data, missing or empty"}},
		{row: 19, name: "empty body", method: "POST", path: "/track?verbose=1", ctype: "application/x-www-form-urlencoded", body: nil, status: 400, want: []string{"data, missing or empty"}},
		{row: 20, name: "invalid UTF-8", method: "POST", path: "/import?strict=1", ctype: "application/json", auth: "sec6", body: imp(`,"s":"a` + "\xff\xfe" + `"`), status: 400, want: []string{"valid utf8"}},
		{row: 21, name: "$ignore is dropped", method: "GET", path: "/track?data=" + b64(ev(`,"distinct_id":"ign","$ignore":true`)), status: 200, want: []string{"1"},
			check: "SELECT count(*) FROM p6.events WHERE distinct_id = 'ign'", checkOK: "0"},
		{row: 22, name: "two operations in one update", method: "POST", path: "/engage?verbose=1", ctype: "application/json", body: []byte(`[{"$token":"tok6","$distinct_id":"u1","$set":{"a":1},"$add":{"n":1}}]`), status: 200, want: []string{`"status":0`, "$add, $set"}},
		{row: 22, name: "$add with a string", method: "POST", path: "/engage?verbose=1", ctype: "application/json", body: []byte(`[{"$token":"tok6","$distinct_id":"u1","$add":{"n":"x"}}]`), status: 200, want: []string{`"status":0`, "$add.n"}},
		{row: 22, name: "$unset not a list", method: "POST", path: "/engage?verbose=1", ctype: "application/json", body: []byte(`[{"$token":"tok6","$distinct_id":"u1","$unset":"a"}]`), status: 200, want: []string{`"status":0`, "$unset"}},
		{row: 23, name: "plan int after string widens", method: "GET", path: "/track?data=" + b64(`[`+ev(`,"distinct_id":"w","plan":"pro"`)+`,`+ev(`,"distinct_id":"w","plan":7`)+`]`), status: 200, want: []string{"1"}, changes: true,
			check: "SELECT group_concat(`plan` ORDER BY `plan` SEPARATOR ',') FROM p6.events WHERE distinct_id = 'w'", checkOK: "7,pro"},
	}

	fingerprint := func() string {
		return queryString(t, db, "SELECT count(*), md5(coalesce(group_concat(concat_ws('|', time, event, raw_distinct_id, insert_id, properties) ORDER BY time, event, raw_distinct_id, insert_id, properties SEPARATOR '\n'), '')) FROM p6.events") +
			"/" + queryString(t, db, "SELECT count(*) FROM p6.people")
	}
	client := &http.Client{Timeout: 60 * time.Second}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%02d %s", c.row, c.name), func(t *testing.T) {
			before := fingerprint()
			var body io.Reader
			if c.body != nil {
				body = bytes.NewReader(c.body)
			}
			req, err := http.NewRequest(c.method, arb.url(c.path), body)
			if err != nil {
				t.Fatal(err)
			}
			if c.ctype != "" {
				req.Header.Set("Content-Type", c.ctype)
			}
			if c.enc != "" {
				req.Header.Set("Content-Encoding", c.enc)
			}
			if c.auth != "" {
				req.SetBasicAuth(c.auth, "")
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != c.status {
				t.Fatalf("status %d, want %d; body %s", resp.StatusCode, c.status, got)
			}
			for _, w := range c.want {
				if !strings.Contains(string(got), w) {
					t.Fatalf("body %s does not contain %q", got, w)
				}
			}
			if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") && !json.Valid(got) {
				t.Fatalf("body is not JSON: %s", got)
			}
			after := fingerprint()
			if !c.changes && after != before {
				t.Fatalf("stored data changed: %s → %s", before, after)
			}
			if c.changes && after == before {
				t.Fatalf("a valid request stored nothing")
			}
			if c.check != "" {
				expect(t, c.check, queryString(t, db, c.check), c.checkOK)
			}
		})
	}

	t.Run("24 overload sheds with 503 and Retry-After", func(t *testing.T) {
		small := startArb(t, "--project", "p6:tok6:sec6", "--http-ingest-budget", "10")
		resp, err := http.Post(small.url("/track?verbose=1"), "application/json", strings.NewReader(`[`+ev(``)+`]`))
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" || !strings.Contains(string(got), `"code":503`) {
			t.Fatalf("status %d, Retry-After %q, body %s; want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"), got)
		}
		expect(t, "nothing stored", queryString(t, small.DB(), "SELECT count(*) FROM p6.events"), "0")
	})
}

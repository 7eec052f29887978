package ingest

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// TestDecodePayloadEncodings decodes one record sent in every encoding of
// mixpanel-ingest.md §1.2 and checks all give the same record.
func TestDecodePayloadEncodings(t *testing.T) {
	js := `[{"event":"A","properties":{"v":">>>???~~~"}}]`
	b := base64.StdEncoding.EncodeToString([]byte(js))
	if !strings.Contains(b, "+") {
		t.Fatal("payload's base64 has no '+'")
	}
	gzipped := func(s string) string {
		var buf bytes.Buffer
		w := gzip.NewWriter(&buf)
		w.Write([]byte(s))
		w.Close()
		return buf.String()
	}
	cases := []struct {
		name, method, target, ctype, enc, body string
		viaData                                bool
	}{
		{"GET base64", "GET", "/track?data=" + url.QueryEscape(b), "", "", "", true},
		{"form, %-encoded base64", "POST", "/track", "application/x-www-form-urlencoded", "", "data=" + url.QueryEscape(b), true},
		{"form, raw base64 with '+'", "POST", "/track", "application/x-www-form-urlencoded", "", "data=" + b + "&verbose=1", true},
		{"form, '+' mangled to space", "POST", "/track", "application/x-www-form-urlencoded", "", "data=" + strings.ReplaceAll(b, "+", " "), true},
		{"form, URL-safe unpadded base64", "POST", "/track", "application/x-www-form-urlencoded", "", "data=" + base64.RawURLEncoding.EncodeToString([]byte(js)), true},
		{"form, raw JSON", "POST", "/track", "application/x-www-form-urlencoded", "", "data=" + url.QueryEscape(js), true},
		{"beacon text/plain", "POST", "/track/", "text/plain;charset=UTF-8", "", "data=" + url.QueryEscape(b), true},
		{"JSON array", "POST", "/track", "application/json", "", js, false},
		{"JSON object", "POST", "/track", "application/json", "", js[1 : len(js)-1], false},
		{"ndjson", "POST", "/import", "application/x-ndjson", "", js[1:len(js)-1] + "\n\n", false},
		{"gzip JSON", "POST", "/import", "application/json", "gzip", gzipped(js), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest(c.method, c.target, strings.NewReader(c.body))
			if c.ctype != "" {
				r.Header.Set("Content-Type", c.ctype)
			}
			if c.enc != "" {
				r.Header.Set("Content-Encoding", c.enc)
			}
			body, err := readBody(r)
			if err != nil {
				t.Fatal(err)
			}
			p, err := decodePayload(r, body, true)
			if err != nil {
				t.Fatal(err)
			}
			if got := carriesData(r, body); got != c.viaData {
				t.Fatalf("carriesData %v, want %v", got, c.viaData)
			}
			if len(p.records) != 1 {
				t.Fatalf("%d records, want 1", len(p.records))
			}
			var got map[string]any
			json.Unmarshal(p.records[0], &got)
			if v := got["properties"].(map[string]any)["v"]; v != ">>>???~~~" {
				t.Fatalf("value %q", v)
			}
		})
	}
}

// FuzzDecodePayload feeds arbitrary bodies and data values to the payload
// decoder and the event validator: they must never panic, and what they
// accept must be well-formed.
func FuzzDecodePayload(f *testing.F) {
	js := `[{"event":"A","properties":{"token":"t","time":1700000000,"distinct_id":"u","$insert_id":"x-1","n":[1,{"a":2}]}}]`
	f.Add("application/x-www-form-urlencoded", "data="+base64.StdEncoding.EncodeToString([]byte(js)))
	f.Add("application/json", js)
	f.Add("application/x-ndjson", `{"event":"A","properties":{}}`+"\n{")
	f.Add("text/plain", "data=%7B%22event%22%3A1%7D")
	f.Add("application/json", `{"event":"A","properties":{"time":"x","$insert_id":"a b"}}`)
	f.Add("", "data=e30")
	f.Fuzz(func(t *testing.T, ctype, body string) {
		r := httptest.NewRequest(http.MethodPost, "/import", strings.NewReader(body))
		r.Header.Set("Content-Type", ctype)
		b, err := readBody(r)
		if err != nil {
			return
		}
		p, err := decodePayload(r, b, true)
		if err != nil {
			if _, ok := err.(*payloadError); !ok {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		if len(p.records) == 0 || len(p.records) > maxRecords {
			t.Fatalf("accepted %d records", len(p.records))
		}
		rules := &eventRules{endpoint: "import", now: time.Unix(1800000000, 0)}
		for i, rec := range p.records {
			pe, rerr := rules.parseEvent(i, rec)
			if rerr != nil {
				if rerr.Index != i || rerr.Field == "" || rerr.Message == "" {
					t.Fatalf("record error without index or field: %+v", rerr)
				}
				continue
			}
			if pe.event.Name == "" || !utf8.ValidString(pe.event.Name) {
				t.Fatalf("accepted event name %q", pe.event.Name)
			}
			if pe.event.TimeMillis < minEventMillis || pe.event.TimeMillis > rules.now.UnixMilli() {
				t.Fatalf("accepted time %d", pe.event.TimeMillis)
			}
		}
	})
}

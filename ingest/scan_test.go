package ingest

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
	"unsafe"

	"arb/storage"
)

// scanRuleSets are the rule variants the scanner is checked under.
func scanRuleSets() []*eventRules {
	now := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	return []*eventRules{
		{endpoint: "track", now: now},
		{endpoint: "track", now: now, clientIP: "203.0.113.9"},
		{endpoint: "import", now: now},
		{endpoint: "import", now: now, strict: true},
	}
}

// sameEvent compares two parsed events exactly (floats by their bits,
// so -0 and 0 differ).
func sameEvent(a, b *parsedEvent) bool {
	if a.token != b.token || a.ignore != b.ignore || a.event.TimeMillis != b.event.TimeMillis ||
		a.event.Name != b.event.Name || a.event.DistinctID != b.event.DistinctID ||
		a.event.InsertID != b.event.InsertID || len(a.event.Props) != len(b.event.Props) {
		return false
	}
	for i, p := range a.event.Props {
		q := b.event.Props[i]
		if p.Key != q.Key || p.Value.Type != q.Value.Type || p.Value.Int != q.Value.Int ||
			math.Float64bits(p.Value.Float) != math.Float64bits(q.Value.Float) || p.Value.Str != q.Value.Str {
			return false
		}
	}
	return true
}

// checkScanRecord checks that the scanner, where it accepts rec, gives
// exactly parseEventJSON's event, and that parseEvent (scanner, then the
// reference) always gives the reference's result. It returns whether the
// scanner accepted rec.
func checkScanRecord(t testing.TB, r *eventRules, rec string) bool {
	t.Helper()
	want, wantErr := r.parseEventJSON(7, json.RawMessage(rec))
	d := eventDecoder{rules: r}
	got, ok := d.decode(rec)
	if ok {
		if wantErr != nil {
			t.Fatalf("%s %+v: scanner accepted %q, reference says %v", r.endpoint, *r, rec, wantErr)
		}
		if !sameEvent(&got, want) {
			t.Fatalf("%+v: record %q:\nscanner   %+v\nreference %+v", *r, rec, got, *want)
		}
	}
	viaBoth, err := r.parseEvent(7, json.RawMessage(rec))
	if !reflect.DeepEqual(err, wantErr) {
		t.Fatalf("%+v: record %q: parseEvent error %v, reference %v", *r, rec, err, wantErr)
	}
	if err == nil && !sameEvent(viaBoth, want) {
		t.Fatalf("%+v: record %q: parseEvent %+v, reference %+v", *r, rec, *viaBoth, *want)
	}
	if err == nil {
		checkValidUTF8(t, rec, &viaBoth.event)
	}
	return ok
}

// checkValidUTF8 checks that every string of an accepted event is valid
// UTF-8: storage takes the decoders' events without checking again
// (Applier.IngestValidUTF8).
func checkValidUTF8(t testing.TB, rec string, e *storage.Event) {
	t.Helper()
	strs := []string{e.Name, e.DistinctID, e.InsertID}
	for _, p := range e.Props {
		strs = append(strs, p.Key, p.Value.Str)
	}
	for _, s := range strs {
		if !utf8.ValidString(s) {
			t.Fatalf("record %q: the event holds %q, not valid UTF-8", rec, s)
		}
	}
}

// checkScanRecords checks scanRecords against json.Unmarshal into
// []json.RawMessage, where it accepts text.
func checkScanRecords(t testing.TB, text string) bool {
	t.Helper()
	spans, ok := scanRecords(text)
	if !ok {
		return false
	}
	var want []json.RawMessage
	if err := json.Unmarshal([]byte(text), &want); err != nil {
		t.Fatalf("scanRecords accepted %q, encoding/json says %v", text, err)
	}
	if len(spans) != len(want) {
		t.Fatalf("%q: %d records, encoding/json %d", text, len(spans), len(want))
	}
	for i, sp := range spans {
		if got := text[sp.start:sp.end]; got != string(want[i]) {
			t.Fatalf("%q: record %d is %q, encoding/json %q", text, i, got, want[i])
		}
	}
	return true
}

// checkScanNDJSON checks the scanner's way through an NDJSON body —
// decodeNDJSON, then payload.checked as a reader that does not decode
// with the scanner does — against the encoding/json path (readNDJSON):
// the same records, or the same error. It reports whether the scanner's
// line split took the text.
func checkScanNDJSON(t testing.TB, text string) bool {
	t.Helper()
	if _, ok := splitNDJSONLines(text); !ok {
		return false
	}
	want, werr := readNDJSON([]byte(text))
	got, err := decodeNDJSON([]byte(text))
	if err == nil {
		got, err = got.checked()
	}
	switch {
	case err != nil && werr != nil:
		if err.Error() != werr.Error() {
			t.Fatalf("%q: the scanner's path says %v, readNDJSON %v", text, err, werr)
		}
		return true
	case err != nil || werr != nil:
		t.Fatalf("%q: the scanner's path says %v, readNDJSON %v", text, err, werr)
	}
	if len(got.records) != len(want.records) {
		t.Fatalf("%q: %d records, readNDJSON %d", text, len(got.records), len(want.records))
	}
	for i := range got.records {
		if string(got.records[i]) != string(want.records[i]) {
			t.Fatalf("%q: record %d is %q, readNDJSON %q", text, i, got.records[i], want.records[i])
		}
	}
	return true
}

func TestScanNDJSONMatchesJSON(t *testing.T) {
	// The line split takes these; the records' check then agrees with
	// readNDJSON, bad ones included (same error, naming the line).
	accept := []string{``, "\n\n", `{}`, "{}\n", "{\"a\":1}\n \t\r\n {\"b\":[1,{\"c\":null}]} \r\n",
		"{\"event\":\"A\"}\n\n{}", strings.Repeat("{}\n", maxRecords),
		`{}{}`, `{} {}`, `{"a":}`, "{\"a\":\"\x01\"}", "{}\n{\"a\":1,}\n{}", "{}\n{\"a\":\"x\"} {}"}
	for _, s := range accept {
		if !checkScanNDJSON(t, s) {
			t.Errorf("splitNDJSONLines refuses %q", s)
		}
	}
	// Each is left to readNDJSON: a line that does not start with '{' and
	// end with '}', whitespace other than JSON's (which bytes.TrimSpace
	// would take) around one, too many lines.
	refuse := []string{`{`, "{\n}", `[{}]`, `1`, `null`, `"x"`,
		"\u00a0{}", "{}\u00a0", "{}\n\u0085", "{\"a\":1,\n\"b\":2}", strings.Repeat("{}\n", maxRecords+1)}
	for _, s := range refuse {
		if _, ok := splitNDJSONLines(s); ok {
			t.Errorf("splitNDJSONLines accepts %q", s)
		}
	}
}

// TestUncheckedRecordsFallBack: a request whose line the event scanner
// cannot decode and which is no JSON object is answered by the reference
// path's error, whichever line and decoding worker it is on.
func TestUncheckedRecordsFallBack(t *testing.T) {
	good := `{"event":"A","properties":{"time":1700000000,"distinct_id":"u","token":"t"}}`
	for _, bad := range []int{0, 1, 700, 1999} {
		lines := make([]string, 2000)
		for i := range lines {
			lines[i] = good
		}
		lines[bad] = `{"event":"A","properties":{"time":1700000000,}}`
		body := []byte(strings.Join(lines, "\n"))
		p, err := decodeNDJSON(body)
		if err != nil {
			t.Fatalf("bad line %d: decodeNDJSON refuses at once: %v", bad+1, err)
		}
		rules := &eventRules{endpoint: "import", now: time.Now()}
		if parsed := rules.parseRecords(p); !parsed.notJSON.Load() {
			t.Fatalf("bad line %d: parseRecords does not notice it", bad+1)
		}
		_, err = p.reference()
		if want := fmt.Sprintf("ndjson line %d: invalid JSON", bad+1); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("bad line %d: reference says %v, want %q", bad+1, err, want)
		}
	}
}

// trickyRecords are hand-picked edge cases: escapes, unicode, numbers,
// nesting, duplicates, invalid UTF-8, case variants, shapes.
var trickyRecords = []string{
	`{"event":"A","properties":{"time":1700000000,"distinct_id":"u1","$insert_id":"abc-1","k":"v"}}`,
	`{"event":"A","properties":{}}`,
	`{"event":"A","properties":{"time":1700000000.5}}`,
	`{"event":"A","properties":{"time":1700000000123}}`,
	`{"event":"A","properties":{"time":1.7e9,"n":1e3,"m":-0,"f":1.0,"g":-0.0,"h":1E+2,"i":12e-1}}`,
	`{"event":"A","properties":{"time":"1700000000"}}`,
	`{"event":"A","properties":{"time":null}}`,
	`{"event":"A","properties":{"time":1e400}}`,
	`{"event":"A","properties":{"time":17000000000000000000000}}`,
	`{"event":"A","properties":{"time":1799999999999}}`,
	`{"event":"A","properties":{"time":1800003600001}}`,
	`{"event":"A","properties":{"big":9223372036854775807,"bigger":9223372036854775808,"neg":-9223372036854775808,"negger":-9223372036854775809}}`,
	`{"event":"A","properties":{"huge":123456789012345678901234567890,"inf":1e400,"tiny":1e-400}}`,
	`{"event":"A","properties":{"s":"a\"b\\c\/d\be\ff\ng\rh\ti","u":"\u00e9\u4e2d\ud83d\ude00"}}`,
	`{"event":"A","properties":{"lone":"\ud800","low":"\udc00x","pair2":"\ud800\u0041","rev":"\ude00\ud83d"}}`,
	`{"event":"A","properties":{"nul":"a\u0000b","html":"<a href='x'>&amp;</a>","ls":"\u2028\u2029"}}`,
	`{"event":"A","properties":{"\u0074ime":1700000000,"\u0064istinct_id":"u\u0031"}}`,
	`{"event":"\u0041\u0042","properties":{}}`,
	`{"event":"é中😀","properties":{"ключ":"значение","😀":"x"}}`,
	`{"event":"A","properties":{"o":{"b":1,"a":[1,2.50,"x<"],"a":{"z":null}},"l":[],"e":{}}}`,
	`{"event":"A","properties":{"o":{"k":"\ud800","h":"<>&\u2028"}}}`,
	`{"event":"A","properties":{"k":1,"k":2}}`,
	`{"event":"A","event":"B","properties":{}}`,
	`{"event":"A","properties":{},"properties":{"x":1}}`,
	`{"Event":"A","properties":{}}`,
	`{"EVENT":"A","PROPERTIES":{}}`,
	`{"event":"A","propertieſ":{}}`,
	`{"event":"A","properties":{},"extra":1}`,
	`{"event":"","properties":{}}`,
	`{"event":null,"properties":{}}`,
	`{"event":1,"properties":{}}`,
	`{"event":1e999,"properties":{}}`,
	`{"event":"A"}`,
	`{"properties":{}}`,
	`{"event":"A","properties":null}`,
	`{"event":"A","properties":[]}`,
	`{"event":"A","properties":"x"}`,
	`{}`,
	`[]`,
	`null`,
	`{"event":"A","properties":{}} `,
	` {"event":"A","properties":{}}`,
	"{\n\t\"event\" : \"A\" ,\r\n \"properties\" : { \"a\" : 1 , \"b\" : [ 1 , 2 ] } }",
	`{"event":"A","properties":{}}x`,
	`{"event":"A","properties":{"a":1,}}`,
	`{"event":"A","properties":{"a":01}}`,
	`{"event":"A","properties":{"a":.5}}`,
	`{"event":"A","properties":{"a":1.}}`,
	`{"event":"A","properties":{"a":-}}`,
	`{"event":"A","properties":{"a":+1}}`,
	`{"event":"A","properties":{"a":tru}}`,
	`{"event":"A","properties":{"a":"x\'y"}}`,
	`{"event":"A","properties":{"a":"\x"}}`,
	`{"event":"A","properties":{"a":"\u12"}}`,
	"{\"event\":\"A\",\"properties\":{\"a\":\"tab\there\"}}",
	"{\"event\":\"A\",\"properties\":{\"a\":\"bad\xffutf8\"}}",
	"{\"event\":\"A\xc3\",\"properties\":{}}",
	"{\"event\":\"A\",\"properties\":{\"k\xe2\x82\":1}}",
	`{"event":"A","properties":{"token":"tok","$ignore":null}}`,
	`{"event":"A","properties":{"token":5}}`,
	`{"event":"A","properties":{"token":null}}`,
	`{"event":"A","properties":{"distinct_id":12345}}`,
	`{"event":"A","properties":{"distinct_id":1.50}}`,
	`{"event":"A","properties":{"distinct_id":true}}`,
	`{"event":"A","properties":{"distinct_id":["x"]}}`,
	`{"event":"A","properties":{"distinct_id":"null"}}`,
	`{"event":"A","properties":{"distinct_id":"ANON"}}`,
	`{"event":"A","properties":{"distinct_id":"0"}}`,
	`{"event":"A","properties":{"distinct_id":0}}`,
	`{"event":"A","properties":{"distinct_id":"","$user_id":"u"}}`,
	`{"event":"A","properties":{"$user_id":"u","$device_id":"d"}}`,
	`{"event":"A","properties":{"$user_id":"","$device_id":"d"}}`,
	`{"event":"A","properties":{"$user_id":5,"$device_id":"d"}}`,
	`{"event":"A","properties":{"distinct_id":null,"$device_id":"d"}}`,
	`{"event":"A","properties":{"$user_id":"null"}}`,
	`{"event":"A","properties":{"$insert_id":"abc"}}`,
	`{"event":"A","properties":{"$insert_id":""}}`,
	`{"event":"A","properties":{"$insert_id":"a b"}}`,
	`{"event":"A","properties":{"$insert_id":"undefined"}}`,
	`{"event":"A","properties":{"$insert_id":"0123456789012345678901234567890123456"}}`,
	`{"event":"A","properties":{"$insert_id":"012345678901234567890123456789012345"}}`,
	`{"event":"A","properties":{"$insert_id":null}}`,
	`{"event":"A","properties":{"$insert_id":7}}`,
	`{"event":"A","properties":{"ip":null}}`,
	`{"event":"A","properties":{"ip":"1.2.3.4"}}`,
	`{"event":"A","properties":{"":1}}`,
	`{"event":"A","properties":{"a\u0000b":1}}`,
	`{"event":"A","properties":{"Event":1}}`,
	`{"event":"A","properties":{"DISTINCT_ID":"x"}}`,
	`{"event":"A","properties":{"properties":1}}`,
	`{"event":"A","properties":{"raw_distinct_id":1}}`,
	`{"event":"A","properties":{"insert_id":1}}`,
	`{"event":"A","properties":{"n":null,"b":true,"c":false}}`,
	`{"event":"$merge","properties":{"$distinct_ids":["a","b"]}}`,
	`{"event":"$identify","properties":{"$identified_id":"a","$anon_id":"b"}}`,
	`{"event":"$create_alias","properties":{"alias":"a","distinct_id":"b"}}`,
	`{"event":"A","properties":{"deep":` + strings.Repeat("[", 300) + strings.Repeat("]", 300) + `}}`,
	`{"event":"A","properties":{"k":"` + strings.Repeat("x", 300) + `"}}`,
	`{"event":"A","properties":{"` + strings.Repeat("k", 256) + `":1}}`,
	`{"event":"A","properties":{"z":1,"y":2,"x":3,"w":4,"v":5,"u":6,"t":7,"s":8,"r":9,"q":10,"p":11,"o":12,"n":13,"m":14,"l":15,"k":16,"j":17,"i":18,"h":19,"g":20,"f":21,"e":22,"d":23,"c":24,"b":25,"a":26,"Z":27}}`,
	`{"event":"A","properties":{"z":1,"y":2,"x":3,"w":4,"v":5,"u":6,"t":7,"s":8,"r":9,"q":10,"p":11,"o":12,"n":13,"m":14,"l":15,"k":16,"j":17,"i":18,"h":19,"g":20,"f":21,"e":22,"d":23,"c":24,"b":25,"a":26,"z":27}}`,
	// Ahead of scanRuleSets' now by 30 s, 59 min, exactly 1 h (all kept
	// as sent), and 1 h + 1 ms (refused).
	`{"event":"A","properties":{"time":1795176030,"$insert_id":"ahead-30s"}}`,
	`{"event":"A","properties":{"time":1795179540000,"$insert_id":"ahead-59m"}}`,
	`{"event":"A","properties":{"time":1795179600000}}`,
	`{"event":"A","properties":{"time":1795179600001}}`,
}

func TestScanMatchesJSON(t *testing.T) {
	for _, r := range scanRuleSets() {
		for _, rec := range trickyRecords {
			checkScanRecord(t, r, rec)
		}
	}
	// The common shapes must actually take the fast path.
	plain := []string{trickyRecords[0], trickyRecords[4], trickyRecords[13], trickyRecords[19]}
	for _, rec := range plain {
		if !checkScanRecord(t, &eventRules{endpoint: "track", now: time.Now()}, rec) {
			t.Errorf("scanner does not handle %q", rec)
		}
	}
}

// genRecord builds a random record from pieces that stress the scanner.
func genRecord(rng *rand.Rand) string {
	pick := func(xs []string) string { return xs[rng.IntN(len(xs))] }
	keys := []string{"time", "distinct_id", "$insert_id", "token", "$ignore", "$device_id", "$user_id", "ip",
		"Time", "TOKEN", `\u0074ime`, "plan", "$os", "a", "b", "é", "", "event", "a\\u0000", "k\\\"q", `\ud83d\ude00`, "x"}
	strs := []string{`"x"`, `""`, `"u1"`, `"abc-123"`, `"null"`, `"Anon"`, `"a b"`, `"\u00e9"`, `"\ud800"`, `"\ud83d\ude00"`,
		`"<&>"`, `"\n\t"`, `"\/"`, `"é中"`, `"0"`, `"` + strings.Repeat("y", 40) + `"`, "\"\xff\"", `"tok"`}
	nums := []string{"0", "-0", "1", "1.0", "1e3", "-1.5e-3", "1700000000", "1700000000123", "1.7e9", "170000000000.5",
		"9223372036854775807", "9223372036854775808", "-9223372036854775809", "1e400", "123456789012345678", "4e10",
		"1234567890123456", "0.000001"}
	lits := []string{"true", "false", "null"}
	var value func(depth int) string
	value = func(depth int) string {
		switch n := rng.IntN(10); {
		case n < 4:
			return pick(strs)
		case n < 7:
			return pick(nums)
		case n < 8:
			return pick(lits)
		case depth > 2:
			return "[]"
		case n < 9:
			var b strings.Builder
			b.WriteByte('[')
			for i := rng.IntN(4); i > 0; i-- {
				b.WriteString(value(depth + 1))
				if i > 1 {
					b.WriteByte(',')
				}
			}
			b.WriteByte(']')
			return b.String()
		default:
			var b strings.Builder
			b.WriteByte('{')
			for i := rng.IntN(4); i > 0; i-- {
				fmt.Fprintf(&b, `"%s":%s`, pick(keys), value(depth+1))
				if i > 1 {
					b.WriteByte(',')
				}
			}
			b.WriteByte('}')
			return b.String()
		}
	}
	ws := func() string { return pick([]string{"", "", "", " ", "\n", "\t ", "\r\n"}) }
	var props strings.Builder
	props.WriteByte('{')
	for i := rng.IntN(9); i > 0; i-- {
		fmt.Fprintf(&props, `%s"%s"%s:%s%s`, ws(), pick(keys), ws(), ws(), value(0))
		if i > 1 {
			props.WriteString("," + ws())
		}
	}
	props.WriteByte('}')
	if rng.IntN(3) == 0 { // a record that is valid under every rule set, with varied values
		var props strings.Builder
		fmt.Fprintf(&props, `{"time":%s,"distinct_id":%s,"$insert_id":"id-%d"`,
			pick([]string{"1700000000", "1700000000123", "1.7e9", "1700000000.25", "17e8"}),
			pick([]string{`"u1"`, `"é"`, "42", `"\u0041"`}), rng.IntN(1000))
		for i := rng.IntN(6); i > 0; i-- {
			v := value(0)
			if strings.Contains(v, "1e400") || strings.Contains(v, "\xff") {
				v = "1"
			}
			fmt.Fprintf(&props, `,%s"%s"%s:%s%s`, ws(), pick([]string{"plan", "$os", "a", "b", "é", "x", `\u0062`, `k\"q`}), ws(), ws(), v)
		}
		return fmt.Sprintf(`{"event":"E%d","properties":%s}}`, rng.IntN(3), props.String())
	}
	name := pick([]string{`"Page View"`, `"A"`, `""`, `null`, `1`, `"$merge"`, `"$identify"`, `"\u0041"`, "\"\xc3\""})
	switch rng.IntN(20) {
	case 0:
		return fmt.Sprintf(`{"event":%s}`, name)
	case 1:
		return fmt.Sprintf(`{"properties":%s,"event":%s,"event":"B"}`, props.String(), name)
	case 2:
		return fmt.Sprintf(`{"event":%s,"properties":%s,"x":1}`, name, pick(strs))
	case 3:
		return fmt.Sprintf(`{"event":%s,"properties":%s`, name, props.String())
	default:
		if rng.IntN(2) == 0 {
			return fmt.Sprintf(`{"properties":%s,"event":%s}`, props.String(), name)
		}
		return fmt.Sprintf(`%s{%s"event"%s:%s%s,"properties":%s}%s`, ws(), ws(), ws(), name, ws(), props.String(), ws())
	}
}

func TestScanMatchesJSONGenerated(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	rules := scanRuleSets()
	handled := 0
	const n = 30000
	for i := 0; i < n; i++ {
		rec := genRecord(rng)
		if checkScanRecord(t, rules[i%len(rules)], rec) {
			handled++
		}
		checkScanRecords(t, "["+rec+"]")
		checkScanRecords(t, "[ "+rec+" ,\n"+rec+"]")
	}
	// Guard against a scanner that hands everything to encoding/json.
	if handled < n/5 {
		t.Fatalf("scanner handled only %d of %d generated records", handled, n)
	}
}

func TestScanRecordsMatchesJSON(t *testing.T) {
	accept := []string{`[]`, ` [ ] `, `[{}]`, `[{"a":1}, {"b":[1,{"c":null}]} ]`, "[\n{\"event\":\"A\"}\n,\t{}\r\n]\n"}
	for _, s := range accept {
		if !checkScanRecords(t, s) {
			t.Errorf("scanRecords refuses %q", s)
		}
	}
	refuse := []string{``, `[`, `[{}`, `[{},]`, `[,{}]`, `[1]`, `[null]`, `["x"]`, `[[]]`, `[{}]x`, `[{}][]`, `{}`,
		`[{"a":}]`, `[{"a" 1}]`, `[{"a":1 "b":2}]`, `[{1:2}]`, "[{\"a\":\"\x01\"}]"}
	for _, s := range refuse {
		if _, ok := scanRecords(s); ok {
			t.Errorf("scanRecords accepts %q", s)
		}
	}
	many := "[" + strings.Repeat(`{},`, maxRecords) + "{}]"
	if _, ok := scanRecords(many); ok {
		t.Errorf("scanRecords accepts %d records", maxRecords+1)
	}
}

// FuzzScanEvent checks the scanner against the encoding/json reference on
// arbitrary records and arrays.
func FuzzScanEvent(f *testing.F) {
	for _, rec := range trickyRecords {
		f.Add(rec)
	}
	f.Fuzz(func(t *testing.T, rec string) {
		for _, r := range scanRuleSets() {
			checkScanRecord(t, r, rec)
		}
		checkScanRecords(t, rec)
		checkScanRecords(t, "["+rec+"]")
		checkScanNDJSON(t, rec)
		checkScanNDJSON(t, rec+"\n"+rec)
	})
}

// TestScanPropsAreSeparate checks that events decoded by one decoder do
// not share Props storage (storage modifies them in place).
func TestScanPropsAreSeparate(t *testing.T) {
	d := eventDecoder{rules: &eventRules{endpoint: "track", now: time.Now()}}
	a, ok1 := d.decode(`{"event":"A","properties":{"x":1}}`)
	b, ok2 := d.decode(`{"event":"B","properties":{"y":2,"z":3}}`)
	if !ok1 || !ok2 {
		t.Fatal("scanner refused plain records")
	}
	a.event.Props = append(a.event.Props, storage.Prop{Key: "w", Value: storage.IntValue(9)})
	if b.event.Props[0].Key != "y" {
		t.Fatalf("appending to one event's props changed another's: %+v", b.event.Props)
	}
}

// TestScanEventsOwnTheirStrings checks that no string of an accepted event
// points into the request's text: the events live in the memtable (and a
// new column's name in the schema for good), and must not keep whole
// requests alive.
func TestScanEventsOwnTheirStrings(t *testing.T) {
	text := `[{"event":"A","properties":{"distinct_id":"u1","$insert_id":"i-1","s":"v","n":1}},` +
		`{"event":"B","properties":{"distinct_id":"u2","$insert_id":"i-2","s":"w","n":2}}]`
	spans, ok := scanRecords(text)
	if !ok {
		t.Fatal("scanRecords refused the request")
	}
	start := uintptr(unsafe.Pointer(unsafe.StringData(text)))
	inText := func(s string) bool {
		if s == "" {
			return false
		}
		p := uintptr(unsafe.Pointer(unsafe.StringData(s)))
		return p >= start && p < start+uintptr(len(text))
	}
	d := eventDecoder{rules: &eventRules{endpoint: "track", now: time.Now()}}
	for i, sp := range spans {
		pe, ok := d.decode(text[sp.start:sp.end])
		if !ok {
			t.Fatalf("record %d not handled by the scanner", i)
		}
		e := pe.event
		strs := []string{e.Name, e.DistinctID, e.InsertID}
		for _, p := range e.Props {
			strs = append(strs, p.Key, p.Value.Str)
		}
		for _, s := range strs {
			if inText(s) {
				t.Errorf("record %d: %q points into the request text", i, s)
			}
		}
	}
}

// TestScanArenaKeepsEarlierEvents checks that events decoded earlier by a
// decoder keep their values while it decodes more: their strings share
// arena blocks, which fill and are replaced as decoding goes on, and the
// request text they were read from is reused once the request is
// answered (payload.text).
func TestScanArenaKeepsEarlierEvents(t *testing.T) {
	rules := &eventRules{endpoint: "import", now: time.Now()}
	d := eventDecoder{rules: rules}
	const n = 3000 // several arena blocks
	want := make([]*parsedEvent, n)
	got := make([]parsedEvent, n)
	for i := 0; i < n; i++ {
		rec := []byte(fmt.Sprintf(`{"event":"E%d","properties":{"time":1700000000,"distinct_id":"user-%d","$insert_id":"id-%d","s":"%s"}}`,
			i, i, i, strings.Repeat("v", i%50)))
		var rerr *recordError
		if want[i], rerr = rules.parseEventJSON(i, rec); rerr != nil {
			t.Fatal(rerr)
		}
		var ok bool
		if got[i], ok = d.decode(borrowText(rec)); !ok {
			t.Fatalf("record %d not handled by the scanner", i)
		}
		for j := range rec {
			rec[j] = 'X' // the request's buffer, reused
		}
	}
	for i := range got {
		if fmt.Sprintf("%+v", got[i].event) != fmt.Sprintf("%+v", want[i].event) {
			t.Fatalf("event %d after decoding %d more: %+v, want %+v", i, n-1-i, got[i].event, want[i].event)
		}
	}
}

// TestScanKeepsTimeAhead pins the rule both paths share: a time up to 1 h
// ahead of now is stored as sent (it is part of the dedup key), beyond is
// refused.
func TestScanKeepsTimeAhead(t *testing.T) {
	now := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	r := &eventRules{endpoint: "track", now: now}
	for _, ahead := range []time.Duration{0, 30 * time.Second, 59 * time.Minute, time.Hour} {
		sent := now.Add(ahead).UnixMilli()
		rec := fmt.Sprintf(`{"event":"A","properties":{"time":%d,"$insert_id":"x1"}}`, sent)
		pe, err := r.parseEventJSON(0, json.RawMessage(rec))
		if err != nil || pe.event.TimeMillis != sent {
			t.Errorf("%v ahead: reference gives %+v, %v; want time %d", ahead, pe, err, sent)
		}
		d := eventDecoder{rules: r}
		if got, ok := d.decode(rec); !ok || got.event.TimeMillis != sent {
			t.Errorf("%v ahead: scanner gives %d (ok %v); want %d", ahead, got.event.TimeMillis, ok, sent)
		}
	}
	rec := fmt.Sprintf(`{"event":"A","properties":{"time":%d}}`, now.Add(time.Hour).UnixMilli()+1)
	if _, err := r.parseEventJSON(0, json.RawMessage(rec)); err == nil || err.Field != "properties.time" {
		t.Errorf("1 h + 1 ms ahead: got %v, want an error on properties.time", err)
	}
}

// TestScanPropBlocksFitTheRange checks that a decoder told how many
// records are left (parseRange) allocates Props for them at once, with
// little room unused, and that a block is never larger than
// maxPropBlock unless one record needs more; the events decode as the
// reference does.
func TestScanPropBlocksFitTheRange(t *testing.T) {
	rules := &eventRules{endpoint: "import", now: time.Now()}
	for _, tc := range []struct {
		records, props int
		blocks         int // allocated, at most
	}{
		{1000, 6, 1},
		{2000, 6, 1},
		{1000, 40, 3}, // 40,000 Props: blocks of maxPropBlock
		{3, 5000, 3},  // one record beyond maxPropBlock: a block of its own
	} {
		d := eventDecoder{rules: rules}
		blocks := map[*storage.Prop]bool{}
		for i := range tc.records {
			var rec strings.Builder
			fmt.Fprintf(&rec, `{"event":"E","properties":{"time":1700000000,"distinct_id":"u%d"`, i)
			for k := range tc.props {
				fmt.Fprintf(&rec, `,"p%d":%d`, k, i)
			}
			rec.WriteString("}}")
			d.left = tc.records - i
			got, ok := d.decode(rec.String())
			want, rerr := rules.parseEventJSON(i, []byte(rec.String()))
			if !ok || rerr != nil || !sameEvent(&got, want) {
				t.Fatalf("%+v record %d: %+v (ok %v), reference %+v (%v)", tc, i, got.event, ok, want, rerr)
			}
			blocks[unsafe.SliceData(d.block)] = true
		}
		unused := cap(d.block) - len(d.block)
		if len(blocks) > tc.blocks || unused > tc.records/8+tc.props {
			t.Errorf("%+v: %d blocks, %d Props unused at the end; want at most %d blocks, %d unused",
				tc, len(blocks), unused, tc.blocks, tc.records/8+tc.props)
		}
		if cap(d.block) > max(maxPropBlock, tc.props) {
			t.Errorf("%+v: a block of %d Props", tc, cap(d.block))
		}
	}
}

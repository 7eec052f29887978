package ingest

// A single-pass JSON scanner for the hot path of event ingestion: it
// splits a request's array into records and turns a record of the usual
// shape ({"event": "...", "properties": {...}}) into a storage.Event
// without building a map[string]any.
//
// The scanner is an accelerator, not a second definition of the rules:
// it only ever answers "here is exactly what the encoding/json-based path
// (splitJSONRecords, parseEventJSON) would produce" or "not handled".
// Everything it does not handle — every invalid record, duplicate keys,
// top-level keys other than exactly "event" and "properties", deep
// nesting — goes to that path, which then also produces the error
// message. So an error reply never depends on the scanner, and
// TestScanMatchesJSON and FuzzScanEvent check that whatever the scanner
// accepts equals the reference result.
//
// Strings without escapes are read as substrings of the request's text;
// an event's strings are copied into the decoder's string arena as they
// are stored in it (own: blocks of arenaBlockBytes holding only decoded
// events' strings), and property keys are interned copies, so nothing
// stored keeps the request alive.

import (
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"arb/storage"
)

// maxScanDepth is how deep the scanner follows nested values; deeper
// ones go to encoding/json (which allows 10,000 levels).
const maxScanDepth = 256

// span is a record's byte range in the request's text.
type span struct{ start, end int }

// jsonScanner reads JSON text from src at pos.
type jsonScanner struct {
	src string
	pos int
}

func (s *jsonScanner) ws() {
	for s.pos < len(s.src) {
		switch s.src[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

// eat consumes c if it is next.
func (s *jsonScanner) eat(c byte) bool {
	if s.pos < len(s.src) && s.src[s.pos] == c {
		s.pos++
		return true
	}
	return false
}

func (s *jsonScanner) peek() byte {
	if s.pos < len(s.src) {
		return s.src[s.pos]
	}
	return 0
}

// stringStop marks the bytes that end a run of plain string content: the
// closing quote, a backslash, and control characters (invalid in JSON).
var stringStop = func() (t [256]bool) {
	for c := 0; c < 0x20; c++ {
		t[c] = true
	}
	t['"'], t['\\'] = true, true
	return t
}()

// skipString passes over a string starting at pos (which holds '"'),
// checking its escapes.
func (s *jsonScanner) skipString() bool {
	s.pos++
	for s.pos < len(s.src) {
		for s.pos < len(s.src) && !stringStop[s.src[s.pos]] {
			s.pos++
		}
		if s.pos == len(s.src) {
			return false
		}
		c := s.src[s.pos]
		switch {
		case c == '"':
			s.pos++
			return true
		case c == '\\':
			if !s.skipEscape() {
				return false
			}
		case c < 0x20:
			return false
		default:
			s.pos++
		}
	}
	return false
}

// skipEscape passes over one escape sequence at pos (which holds '\\').
func (s *jsonScanner) skipEscape() bool {
	if s.pos+1 >= len(s.src) {
		return false
	}
	switch s.src[s.pos+1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		s.pos += 2
		return true
	case 'u':
		if s.pos+6 > len(s.src) || hex4(s.src[s.pos+2:s.pos+6]) < 0 {
			return false
		}
		s.pos += 6
		return true
	}
	return false
}

// hex4 decodes four hex digits, or returns -1.
func hex4(h string) rune {
	var r rune
	for i := 0; i < 4; i++ {
		c := h[i]
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		r = r*16 + rune(c)
	}
	return r
}

// str reads a string at pos and returns its value. Without escapes it is
// a substring of src; with escapes it is decoded as encoding/json does
// (an unpaired surrogate becomes U+FFFD). REQUIRES: src is valid UTF-8.
func (s *jsonScanner) str() (string, bool) {
	if s.peek() != '"' {
		return "", false
	}
	start := s.pos + 1
	for i := start; i < len(s.src); i++ {
		for i < len(s.src) && !stringStop[s.src[i]] {
			i++
		}
		if i == len(s.src) {
			break
		}
		c := s.src[i]
		switch {
		case c == '"':
			s.pos = i + 1
			return s.src[start:i], true
		case c == '\\':
			return s.unescape(start, i)
		case c < 0x20:
			return "", false
		}
	}
	return "", false
}

// unescape decodes the string that starts at start and has its first
// backslash at i, as encoding/json's unquote does.
func (s *jsonScanner) unescape(start, i int) (string, bool) {
	b := make([]byte, 0, len(s.src)-start)
	b = append(b, s.src[start:i]...)
	for i < len(s.src) {
		c := s.src[i]
		switch {
		case c == '"':
			s.pos = i + 1
			return string(b), true
		case c < 0x20:
			return "", false
		case c != '\\':
			b = append(b, c)
			i++
			continue
		}
		if i+1 >= len(s.src) {
			return "", false
		}
		switch e := s.src[i+1]; e {
		case '"', '\\', '/':
			b = append(b, e)
		case 'b':
			b = append(b, '\b')
		case 'f':
			b = append(b, '\f')
		case 'n':
			b = append(b, '\n')
		case 'r':
			b = append(b, '\r')
		case 't':
			b = append(b, '\t')
		case 'u':
			if i+6 > len(s.src) {
				return "", false
			}
			r := hex4(s.src[i+2 : i+6])
			if r < 0 {
				return "", false
			}
			i += 6
			if utf16.IsSurrogate(r) {
				r2 := rune(-1)
				if i+6 <= len(s.src) && s.src[i] == '\\' && s.src[i+1] == 'u' {
					r2 = hex4(s.src[i+2 : i+6])
				}
				if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
					i += 6
					r = dec
				} else {
					r = utf8.RuneError
				}
			}
			b = utf8.AppendRune(b, r)
			continue
		default:
			return "", false
		}
		i += 2
	}
	return "", false
}

// number reads a number literal at pos (JSON's grammar) and returns its
// text.
func (s *jsonScanner) number() (string, bool) {
	start := s.pos
	s.eat('-')
	switch c := s.peek(); {
	case c == '0':
		s.pos++
	case '1' <= c && c <= '9':
		s.digits()
	default:
		return "", false
	}
	if s.eat('.') {
		if !s.digits() {
			return "", false
		}
	}
	if c := s.peek(); c == 'e' || c == 'E' {
		s.pos++
		if c := s.peek(); c == '+' || c == '-' {
			s.pos++
		}
		if !s.digits() {
			return "", false
		}
	}
	return s.src[start:s.pos], true
}

// digits passes over one or more decimal digits.
func (s *jsonScanner) digits() bool {
	start := s.pos
	for s.pos < len(s.src) && '0' <= s.src[s.pos] && s.src[s.pos] <= '9' {
		s.pos++
	}
	return s.pos > start
}

// literal consumes word (true, false, null) if it is next.
func (s *jsonScanner) literal(word string) bool {
	if strings.HasPrefix(s.src[s.pos:], word) {
		s.pos += len(word)
		return true
	}
	return false
}

// skipValue passes over one value at pos, checking its syntax.
func (s *jsonScanner) skipValue(depth int) bool {
	switch c := s.peek(); c {
	case '"':
		return s.skipString()
	case 't':
		return s.literal("true")
	case 'f':
		return s.literal("false")
	case 'n':
		return s.literal("null")
	case '{', '[':
		if depth >= maxScanDepth {
			return false
		}
		end := byte('}')
		if c == '[' {
			end = ']'
		}
		s.pos++
		s.ws()
		if s.eat(end) {
			return true
		}
		for {
			s.ws()
			if c == '{' {
				if s.peek() != '"' || !s.skipString() {
					return false
				}
				s.ws()
				if !s.eat(':') {
					return false
				}
				s.ws()
			}
			if !s.skipValue(depth + 1) {
				return false
			}
			s.ws()
			if s.eat(',') {
				continue
			}
			return s.eat(end)
		}
	default:
		_, ok := s.number()
		return ok
	}
}

// scanRecords splits a JSON array of objects into the spans of its
// elements, as json.Unmarshal into []json.RawMessage would. It reports
// false for anything else (invalid JSON, an element that is not an
// object, more than maxRecords elements), which the caller hands to
// encoding/json.
func scanRecords(text string) ([]span, bool) {
	s := jsonScanner{src: text}
	s.ws()
	if !s.eat('[') {
		return nil, false
	}
	s.ws()
	spans := make([]span, 0, min(maxRecords, len(text)/64+1))
	if !s.eat(']') {
		for {
			s.ws()
			start := s.pos
			if s.peek() != '{' || !s.skipValue(0) || len(spans) == maxRecords {
				return nil, false
			}
			spans = append(spans, span{start, s.pos})
			s.ws()
			if s.eat(',') {
				continue
			}
			if !s.eat(']') {
				return nil, false
			}
			break
		}
	}
	s.ws()
	return spans, s.pos == len(text)
}

// splitNDJSONLines splits NDJSON text into the spans of its records, as
// decodeNDJSON would: one per line that is not blank, the line without
// its surrounding whitespace. It only finds lines: a record's JSON is
// checked where it is decoded (eventDecoder.decode checks all of it, and
// a record it cannot take goes through isNDJSONObject), so the request's
// bytes are read once and not twice. It reports false for what it can
// tell at once is not for the scanner — a line that does not start with
// '{' and end with '}', more than maxRecords lines — which the caller
// hands to decodeNDJSON's reference path (which then also names the
// error).
func splitNDJSONLines(text string) ([]span, bool) {
	spans := make([]span, 0, min(maxRecords, len(text)/64+1))
	for lineStart := 0; lineStart < len(text); {
		lineEnd := strings.IndexByte(text[lineStart:], '\n')
		if lineEnd < 0 {
			lineEnd = len(text)
		} else {
			lineEnd += lineStart
		}
		start, end := lineStart, lineEnd
		for start < end && isJSONSpace(text[start]) {
			start++
		}
		for end > start && isJSONSpace(text[end-1]) {
			end--
		}
		if start < end {
			if text[start] != '{' || text[end-1] != '}' || len(spans) == maxRecords {
				return nil, false
			}
			spans = append(spans, span{start, end})
		}
		lineStart = lineEnd + 1
	}
	return spans, true
}

// isJSONSpace reports whether c is whitespace to JSON other than the
// newline that ends an NDJSON line.
func isJSONSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' }

// isNDJSONObject reports whether rec, a record splitNDJSONLines found,
// is one JSON object: what the reference path (readNDJSON) accepts as a
// line.
func isNDJSONObject(rec string) bool {
	s := jsonScanner{src: rec}
	return s.peek() == '{' && s.skipValue(0) && s.pos == len(rec)
}

// member is one member of a record's properties, as scanned.
type member struct {
	key  string
	kind byte   // '"' string, '0' number, 't' true, 'f' false, 'n' null, '{' or '[' nested
	text string // string value, number literal, or nested value's JSON text
}

// eventDecoder turns records into events with the scanner. One decoder
// serves one goroutine; it reuses its scratch space between records.
type eventDecoder struct {
	rules   *eventRules
	members []member       // scratch: the current record's properties
	order   []uint16       // scratch: positions in members, sorted by key
	block   []storage.Prop // Props of decoded events are carved from it
	// left is the number of records still to decode, this one included,
	// when the caller knows it (parseRange), else 0; with props and
	// events (Props taken, events that took them so far) it sizes blocks
	// to what the records need: a fixed size left a quarter of the last
	// block of a request's range unused, zeroed and kept with its events.
	left, props, events int
	// validKeys are property keys found valid, in the sorted order of the
	// record that last added to them (interned copies).
	validKeys []string
	// keys interns property keys: a key must not be a substring of the
	// request's text, since the schema keeps the first spelling of a new
	// column for good.
	// INVARIANT: every key in keys passed storage.ValidatePropertyKey.
	keys map[string]string
	// arena holds the strings of decoded events (own); bytes
	// written to it are never changed, so strings taken from it stay
	// valid when it grows within its capacity.
	arena strings.Builder
	// repeated holds the last arena copy of values by a hash of their
	// bytes (ownValue, repeated_values.go); nil until the first value.
	repeated *[repeatedValueSlots]string
	// textUTF8 is set when the whole text records are cut from is known
	// to be valid UTF-8, so decode need not check each record again.
	textUTF8 bool
}

// intern returns a copy of key owned by no request, one per spelling.
func (d *eventDecoder) intern(key string) string {
	if k, ok := d.keys[key]; ok {
		return k
	}
	if d.keys == nil {
		d.keys = map[string]string{}
	}
	k := strings.Clone(key)
	d.keys[k] = k
	return k
}

// propBlock is how many Props an eventDecoder allocates at once when it
// does not know how many records are left; maxPropBlock bounds a block
// sized for them.
const (
	propBlock    = 4096
	maxPropBlock = 4 * propBlock
)

// takeProps returns room for n Props that no other event shares.
func (d *eventDecoder) takeProps(n int) []storage.Prop {
	if n == 0 {
		return nil
	}
	d.props += n
	d.events++
	if len(d.block)+n > cap(d.block) {
		size := propBlock
		if d.left > 0 {
			// The records left at the average so far, and an eighth more.
			avg := (d.props + d.events - 1) / d.events
			size = min(d.left*avg+d.left/8, maxPropBlock)
		}
		d.block = make([]storage.Prop, 0, max(size, n))
	}
	start := len(d.block)
	d.block = d.block[:start+n]
	return d.block[start : start+n : start+n]
}

// decode converts one record. ok is false when the scanner does not
// handle the record (see the file comment); pe is then meaningless.
func (d *eventDecoder) decode(rec string) (pe parsedEvent, ok bool) {
	if !d.textUTF8 && !utf8.ValidString(rec) {
		return pe, false
	}
	s := jsonScanner{src: rec}
	if !s.eat('{') { // no leading space: parseEventJSON refuses it
		return pe, false
	}
	d.members = d.members[:0]
	var name string
	haveName, haveProps := false, false
	for {
		s.ws()
		key, ok := s.str()
		if !ok {
			return pe, false
		}
		s.ws()
		if !s.eat(':') {
			return pe, false
		}
		s.ws()
		switch {
		case key == "event" && !haveName:
			haveName = true
			if name, ok = s.str(); !ok || name == "" {
				return pe, false
			}
		case key == "properties" && !haveProps:
			haveProps = true
			if !d.scanProperties(&s) {
				return pe, false
			}
		default:
			return pe, false
		}
		s.ws()
		if s.eat(',') {
			continue
		}
		if !s.eat('}') {
			return pe, false
		}
		break
	}
	s.ws()
	if s.pos != len(rec) || !haveName || !haveProps {
		return pe, false
	}
	return d.event(name)
}

// scanProperties reads the properties object into d.members.
func (d *eventDecoder) scanProperties(s *jsonScanner) bool {
	if !s.eat('{') {
		return false
	}
	s.ws()
	if s.eat('}') {
		return true
	}
	for {
		s.ws()
		key, ok := s.str()
		if !ok {
			return false
		}
		s.ws()
		if !s.eat(':') {
			return false
		}
		s.ws()
		m := member{key: key}
		switch c := s.peek(); c {
		case '"':
			m.kind = '"'
			m.text, ok = s.str()
		case 't':
			m.kind, ok = 't', s.literal("true")
		case 'f':
			m.kind, ok = 'f', s.literal("false")
		case 'n':
			m.kind, ok = 'n', s.literal("null")
		case '{', '[':
			start := s.pos
			m.kind, ok = c, s.skipValue(1)
			m.text = s.src[start:s.pos]
		default:
			m.kind = '0'
			m.text, ok = s.number()
		}
		if !ok {
			return false
		}
		d.members = append(d.members, m)
		s.ws()
		if s.eat(',') {
			continue
		}
		return s.eat('}')
	}
}

// event applies parseEventJSON's rules to the scanned record. Any rule
// broken means ok = false: the reference path then names the error.
func (d *eventDecoder) event(name string) (pe parsedEvent, ok bool) {
	r := d.rules
	ms := d.members
	if r.clientIP != "" && find(ms, propIP) < 0 {
		ms = append(ms, member{key: propIP, kind: '"', text: r.clientIP})
		d.members = ms
	}
	// Sort positions, not members: moving members (which hold pointers)
	// would cost a write barrier per move while the GC runs.
	order := d.order[:0]
	for i := range ms {
		order = append(order, uint16(i))
	}
	d.order = order
	if len(order) <= 24 {
		for i := 1; i < len(order); i++ { // insertion sort: records are small
			for j := i; j > 0 && ms[order[j]].key < ms[order[j-1]].key; j-- {
				order[j], order[j-1] = order[j-1], order[j]
			}
		}
	} else {
		slices.SortFunc(order, func(a, b uint16) int { return strings.Compare(ms[a].key, ms[b].key) })
	}
	for i := 1; i < len(order); i++ {
		if ms[order[i]].key == ms[order[i-1]].key {
			return pe, false // duplicate keys: the last wins in encoding/json
		}
	}
	pe.event.Name = name
	nprops := 0
	for i := range ms {
		m := &ms[i]
		switch m.key {
		case propToken:
			if m.kind != '"' {
				return pe, false
			}
			pe.token = m.text
			continue
		case propTime, propDistinctID:
			continue
		case propInsertID:
			if m.kind != '"' || !validInsertID(m.text) {
				return pe, false
			}
			pe.event.InsertID = m.text
			continue
		case propIgnore:
			pe.ignore = true
		}
		if m.kind != 'n' {
			nprops++
		}
	}
	if pe.event.InsertID == "" && r.strict {
		return pe, false
	}
	if pe.event.TimeMillis, ok = d.time(name, ms); !ok {
		return pe, false
	}
	if pe.event.DistinctID, ok = d.distinctID(ms); !ok {
		return pe, false
	}
	props := d.takeProps(nprops)
	n := 0
	checked := 0 // keys of this record found valid, in order (d.validKeys)
	for _, oi := range order {
		m := &ms[oi]
		switch m.key {
		case propToken, propTime, propDistinctID, propInsertID:
			continue
		}
		// Records of a batch mostly have the keys of the record before:
		// those were valid then and need no new check, and their copies
		// serve again.
		var key string
		if checked < len(d.validKeys) && d.validKeys[checked] == m.key {
			key = d.validKeys[checked]
		} else {
			// A key interned before was valid then (the INVARIANT on
			// keys): records with and without an optional property
			// alternate, and need not check their keys again.
			var known bool
			if key, known = d.keys[m.key]; !known {
				if storage.ValidatePropertyKey(storage.TableEvents, m.key) != nil {
					return pe, false
				}
				key = d.intern(m.key)
			}
			if checked < len(d.validKeys) {
				d.validKeys[checked] = key
				d.validKeys = d.validKeys[:checked+1]
			} else {
				d.validKeys = append(d.validKeys, key)
			}
		}
		checked++
		var v storage.Value
		switch m.kind {
		case 'n':
			continue
		case '"':
			v = storage.StringValue(d.ownValue(m.text))
		case 't':
			v = storage.BoolValue(true)
		case 'f':
			v = storage.BoolValue(false)
		case '0':
			if v, ok = scanNumberValue(m.text); !ok {
				return pe, false
			}
		default:
			var err error
			if v, err = nestedValue(m.text); err != nil || v.IsNull() {
				return pe, false
			}
		}
		props[n] = storage.Prop{Key: key, Value: v}
		n++
	}
	pe.event.Props = props
	pe.event.Name = d.ownValue(pe.event.Name)
	pe.event.DistinctID = d.own(pe.event.DistinctID)
	pe.event.InsertID = d.own(pe.event.InsertID)
	return pe, true
}

// arenaBlockBytes is the size of the blocks of an eventDecoder's string
// arena: one allocation serves a few hundred events.
const arenaBlockBytes = 16 << 10

// own returns a copy of s from the decoder's arena: an event's strings
// are copied out of the request's text as they are stored in it, so a
// stored event keeps only decoded events' bytes alive, as with
// encoding/json, not the whole request (nor the request's buffer, which
// is reused: payload.text). The events of one request are stored, and
// dropped at a flush, together, so sharing blocks among them holds no
// more memory than an allocation of each would. (Keys are interned
// copies: eventDecoder.intern.)
func (d *eventDecoder) own(s string) string {
	if s == "" {
		return ""
	}
	b := &d.arena
	if b.Cap()-b.Len() < len(s) {
		// A new block: the old one stays with the strings that use it.
		*b = strings.Builder{}
		b.Grow(max(arenaBlockBytes, len(s)))
	}
	mark := b.Len()
	b.WriteString(s)
	return b.String()[mark:]
}

// find returns the index of key in ms, or -1.
func find(ms []member, key string) int {
	for i := range ms {
		if ms[i].key == key {
			return i
		}
	}
	return -1
}

// time is eventTime on scanned members.
func (d *eventDecoder) time(name string, ms []member) (int64, bool) {
	r := d.rules
	now := r.now.UnixMilli()
	i := find(ms, propTime)
	if i < 0 || ms[i].kind == 'n' {
		if r.endpoint == "import" && name != "$merge" && name != "$identify" && name != "$create_alias" {
			return 0, false
		}
		return now, true
	}
	if ms[i].kind != '0' {
		return 0, false
	}
	f, ok := scanFloat(ms[i].text)
	if !ok || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false
	}
	var t int64
	if math.Abs(f) >= msThreshold {
		t = int64(math.Round(f))
	} else {
		t = int64(math.Round(f * 1000))
	}
	if t < minEventMillis || t > now+maxFutureMillis {
		return 0, false
	}
	return t, true // up to 1 h ahead kept as sent, as eventTime says why
}

// distinctID is eventRules.distinctID on scanned members.
func (d *eventDecoder) distinctID(ms []member) (string, bool) {
	var id string
	i := find(ms, propDistinctID)
	switch {
	case i < 0 || ms[i].kind == 'n':
		if u := find(ms, propUserID); u >= 0 && ms[u].kind == '"' && ms[u].text != "" {
			return ms[u].text, true
		}
		if dv := find(ms, propDeviceID); dv >= 0 && ms[dv].kind == '"' && ms[dv].text != "" {
			return "$device:" + ms[dv].text, true
		}
		return "", true
	case ms[i].kind == '"' || ms[i].kind == '0':
		id = ms[i].text
	default:
		return "", false
	}
	if d.rules.endpoint == "import" && isPlaceholder(id) {
		return "", false
	}
	return id, true
}

// isPlaceholder is placeholderIDs[strings.ToLower(id)] without the
// look-up for ids that cannot be one: longer than any placeholder can
// lower from, or ASCII of a length no placeholder has (most real ids).
// Lowering keeps an ASCII id's length; a non-ASCII one may shrink (the
// Kelvin sign lowers to 'k'), so those are always looked up.
func isPlaceholder(id string) bool {
	if len(id) > 36 {
		return false
	}
	if !placeholderLens[len(id)] {
		ascii := true
		for i := 0; i < len(id) && ascii; i++ {
			ascii = id[i] < utf8.RuneSelf
		}
		if ascii {
			return false
		}
	}
	return placeholderIDs[strings.ToLower(id)]
}

// placeholderLens[n] is set when a placeholder id has n bytes.
var placeholderLens = func() (lens [37]bool) {
	for id := range placeholderIDs {
		lens[len(id)] = true // the longest is the 36-byte zero UUID
	}
	return lens
}()

// validInsertID is the $insert_id rule of parseEventJSON: the pattern and
// not a placeholder.
func validInsertID(s string) bool {
	if len(s) < 1 || len(s) > 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return !isPlaceholder(s)
}

// smallInt parses a literal of at most 18 digits with no fraction or
// exponent, which always fits int64 (and matches strconv.ParseInt).
func smallInt(lit string) (int64, bool) {
	neg := len(lit) > 0 && lit[0] == '-'
	digits := lit
	if neg {
		digits = lit[1:]
	}
	if len(digits) == 0 || len(digits) > 18 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(digits); i++ {
		c := digits[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	if neg {
		n = -n
	}
	return n, true
}

// scanNumberValue is NumberValue for a literal.
func scanNumberValue(lit string) (storage.Value, bool) {
	if n, ok := smallInt(lit); ok {
		return storage.IntValue(n), true
	}
	if strings.ContainsAny(lit, ".eE") {
		// Not an integer, so json.Number.Int64 fails: NumberValue's float
		// branch, without the cost of that failure.
		f, err := strconv.ParseFloat(lit, 64)
		if err != nil || math.IsInf(f, 0) {
			return storage.Value{}, false
		}
		return storage.FloatValue(f), true
	}
	v, err := NumberValue(json.Number(lit))
	return v, err == nil
}

// scanFloat is json.Number.Float64 for a literal; integers of up to 15
// digits are exact in a float64 and need no strconv.
func scanFloat(lit string) (float64, bool) {
	if n, ok := smallInt(lit); ok && n < 1e15 && n > -1e15 {
		return float64(n), true
	}
	f, err := strconv.ParseFloat(lit, 64)
	return f, err == nil
}

// nestedValue is propertyValue for an object or list: decoded and
// re-encoded by encoding/json, so its JSON text (key order, escapes) is
// exactly parseEventJSON's.
func nestedValue(text string) (storage.Value, error) {
	v, err := decodeValue([]byte(text))
	if err != nil {
		return storage.Value{}, err
	}
	return propertyValue(v)
}

// NumberText is NumberValue for a text that must be one JSON number
// whole (LOAD DATA's unenclosed fields): false when it is not one, or is
// one no value holds.
func NumberText(text string) (storage.Value, bool) {
	s := jsonScanner{src: text}
	if lit, ok := s.number(); ok && s.pos == len(s.src) {
		return scanNumberValue(lit)
	}
	return storage.Value{}, false
}

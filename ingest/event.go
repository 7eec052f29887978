package ingest

// Validation of Mixpanel event records (../shared/mixpanel-ingest.md §2
// and §6) and their translation into storage events. Every rejected
// record gets a recordError naming its index and the field at fault;
// values are never truncated or coerced: a string longer than 255 bytes
// is stored whole, nested objects and lists become JSON columns.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"arb/storage"
)

// recordError is one bad record of a request. JSON field names follow
// Mixpanel's failed_records (the Go SDK decodes them).
type recordError struct {
	Index    int    `json:"index"`
	InsertID string `json:"insert_id"`
	Field    string `json:"field"`
	Message  string `json:"message"`
}

func (e *recordError) Error() string {
	return fmt.Sprintf("record %d: %s: %s", e.Index, e.Field, e.Message)
}

// Time rules: seconds, milliseconds or fractional seconds; values above
// msThreshold can only be milliseconds (seconds reach 1e10 in 2286).
const (
	msThreshold     = 1e10
	minEventMillis  = 31536000000 // 1971-01-01T00:00:00Z
	maxFutureMillis = int64(time.Hour / time.Millisecond)
)

// insertIDPattern is Mixpanel's $insert_id rule.
var insertIDPattern = regexp.MustCompile(`^[A-Za-z0-9-]{1,36}$`)

// placeholderIDs are values Mixpanel's /import refuses as distinct_id or
// $insert_id: SDK bugs, not users.
var placeholderIDs = map[string]bool{
	"00000000-0000-0000-0000-000000000000": true, "anon": true, "anonymous": true, "nil": true,
	"none": true, "null": true, "n/a": true, "na": true, "undefined": true, "unknown": true,
	"<nil>": true, "0": true, "-1": true, "true": true, "false": true, "[]": true, "{}": true,
}

// Event properties that are columns of their own, not property columns.
const (
	propToken      = "token"
	propTime       = "time"
	propDistinctID = "distinct_id"
	propInsertID   = "$insert_id"
	propIgnore     = "$ignore"
	propDeviceID   = "$device_id"
	propUserID     = "$user_id"
	propIP         = "ip"
)

// eventRules says how one endpoint validates events.
type eventRules struct {
	endpoint string    // "track" or "import"
	now      time.Time // the request's arrival: time of events without one, base of the 1 h bound
	strict   bool      // /import strict=1: $insert_id required
	clientIP string    // the request's IP when ip=1, else ""
}

// parsedEvent is a valid record: its token (may be empty on /import), the
// storage event, and whether it is to be dropped ($ignore).
type parsedEvent struct {
	token  string
	event  storage.Event
	ignore bool
}

// parseEvent validates record i and converts it: with the scanner
// (scan.go) when it handles the record, else with parseEventJSON.
func (r *eventRules) parseEvent(i int, raw json.RawMessage) (*parsedEvent, *recordError) {
	d := eventDecoder{rules: r}
	if pe, ok := d.decode(string(raw)); ok {
		return &pe, nil
	}
	return r.parseEventJSON(i, raw)
}

// parseEventJSON validates record i and converts it with encoding/json.
// It is the reference the scanner must match, and the path that names
// every error.
func (r *eventRules) parseEventJSON(i int, raw json.RawMessage) (*parsedEvent, *recordError) {
	fail := func(field, format string, args ...any) (*parsedEvent, *recordError) {
		return nil, &recordError{Index: i, Field: field, Message: fmt.Sprintf(format, args...)}
	}
	if !utf8.Valid(raw) {
		return fail("event", "string should be valid utf8")
	}
	// One decoding pass: the record's two members, properties kept raw
	// only to tell "missing" from "not an object".
	var rec struct {
		Event      any             `json:"event"`
		Properties json.RawMessage `json:"properties"`
	}
	if len(raw) == 0 || raw[0] != '{' || json.Unmarshal(raw, &rec) != nil {
		return fail("event", "a record must be a JSON object")
	}
	name, isStr := rec.Event.(string)
	switch {
	case rec.Event == nil || (isStr && name == ""):
		return fail("event", "event, missing or empty")
	case !isStr:
		return fail("event", "event must be a string")
	}
	propsRaw := bytes.TrimSpace(rec.Properties)
	if len(propsRaw) == 0 || propsRaw[0] != '{' {
		if len(propsRaw) == 0 || string(propsRaw) == "null" {
			return fail("properties", "properties, missing or empty")
		}
		return fail("properties", "properties must be a JSON object")
	}
	props, err := decodeObject(propsRaw)
	if err != nil {
		return fail("properties", "%v", err)
	}
	pe := &parsedEvent{event: storage.Event{Name: name}}
	var recErr *recordError
	fieldErr := func(field, format string, args ...any) {
		if recErr == nil {
			recErr = &recordError{Index: i, Field: field, Message: fmt.Sprintf(format, args...)}
		}
	}
	if v, ok := props[propToken]; ok {
		s, isStr := v.(string)
		if !isStr {
			fieldErr("properties.token", "token must be a string")
		}
		pe.token = s
	}
	pe.event.TimeMillis = r.eventTime(name, props, fieldErr)
	pe.event.DistinctID = r.distinctID(props, fieldErr)
	if v, ok := props[propInsertID]; ok {
		s, isStr := v.(string)
		switch {
		case !isStr:
			fieldErr("properties.$insert_id", "$insert_id must be a string")
		case !insertIDPattern.MatchString(s):
			fieldErr("properties.$insert_id", "$insert_id must be 1 to 36 characters of [A-Za-z0-9-], got %.60q", s)
		case placeholderIDs[strings.ToLower(s)]:
			fieldErr("properties.$insert_id", "$insert_id %q is a placeholder, not an id", s)
		}
		pe.event.InsertID = s
	} else if r.strict {
		fieldErr("properties.$insert_id", "$insert_id, missing or empty (required with strict=1)")
	}
	if _, ok := props[propIgnore]; ok {
		pe.ignore = true
	}
	if r.clientIP != "" {
		if _, ok := props[propIP]; !ok {
			props[propIP] = r.clientIP
		}
	}
	keys := make([]string, 0, len(props))
	for k := range props {
		switch k {
		case propToken, propTime, propDistinctID, propInsertID:
			continue
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if err := storage.ValidatePropertyKey(storage.TableEvents, k); err != nil {
			fieldErr("properties."+k, "%v", err)
			continue
		}
		v, err := propertyValue(props[k])
		if err != nil {
			fieldErr("properties."+k, "%v", err)
			continue
		}
		if !v.IsNull() {
			pe.event.Props = append(pe.event.Props, storage.Prop{Key: k, Value: v})
		}
	}
	if recErr != nil {
		recErr.InsertID = pe.event.InsertID
		return nil, recErr
	}
	return pe, nil
}

// eventTime reads properties.time. Missing: now on /track and for the
// identity events ($merge, $identify, $create_alias: the Go SDK's Merge
// sends none), an error for other events on /import. Up to an hour ahead
// of now it is kept as sent; further ahead, or before 1971, it is an
// error.
//
// Why kept and not clamped to now: the time is part of the dedup key
// (storage/dedup.go), and a retry of an event from a device whose clock
// runs fast arrives at a later now; clamping gave each retry another
// time, so one $insert_id became two rows. The time as sent is the same
// in every retry (Mixpanel's key is the time as sent, too). The scanner
// (scan.go, eventDecoder.time) keeps the same rule.
func (r *eventRules) eventTime(name string, props map[string]any, fail func(field, format string, args ...any)) int64 {
	now := r.now.UnixMilli()
	v, ok := props[propTime]
	if !ok || v == nil {
		if r.endpoint == "import" && name != "$merge" && name != "$identify" && name != "$create_alias" {
			fail("properties.time", "time, missing or empty (required on /import)")
		}
		return now
	}
	n, isNum := v.(json.Number)
	if !isNum {
		fail("properties.time", "time must be a number (seconds or milliseconds since 1970), got %s", shownJSON(v))
		return 0
	}
	f, err := n.Float64()
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		fail("properties.time", "time %s is not a number", n)
		return 0
	}
	var ms int64
	if math.Abs(f) >= msThreshold {
		ms = int64(math.Round(f))
	} else {
		ms = int64(math.Round(f * 1000))
	}
	switch {
	case ms < minEventMillis:
		fail("properties.time", "time %s is before 1971-01-01", n)
	case ms > now+maxFutureMillis:
		fail("properties.time", "time %s is more than 1 hour in the future", n)
	}
	return ms
}

// distinctID reads properties.distinct_id (a string, or a number taken as
// its text). Without one, Simplified ID Merge derives it from $user_id or
// $device_id; with neither it is empty (an event with no user).
func (r *eventRules) distinctID(props map[string]any, fail func(field, format string, args ...any)) string {
	var id string
	switch v := props[propDistinctID].(type) {
	case nil:
		if u, ok := props[propUserID].(string); ok && u != "" {
			return u
		}
		if d, ok := props[propDeviceID].(string); ok && d != "" {
			return "$device:" + d
		}
		return ""
	case string:
		id = v
	case json.Number:
		id = v.String()
	default:
		fail("properties.distinct_id", "distinct_id must be a string, got %s", shownJSON(v))
		return ""
	}
	if r.endpoint == "import" && placeholderIDs[strings.ToLower(id)] {
		fail("properties.distinct_id", "distinct_id %q is a placeholder, not an id", id)
	}
	return id
}

// decodeObject decodes a JSON object keeping numbers exact.
func decodeObject(raw []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	return m, nil
}

// decodeValue decodes one JSON value keeping numbers exact.
func decodeValue(raw []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

// propertyValue maps a JSON value to a stored value: booleans, integers
// that fit int64, other numbers as floats, strings, and objects or lists
// as JSON. null is NULL (the same as absent).
func propertyValue(v any) (storage.Value, error) {
	switch v := v.(type) {
	case nil:
		return storage.Value{}, nil
	case bool:
		return storage.BoolValue(v), nil
	case string:
		return storage.StringValue(v), nil
	case json.Number:
		return NumberValue(v)
	default:
		b, err := json.Marshal(v)
		if err != nil {
			return storage.Value{}, err
		}
		return storage.JSONValue(string(b)), nil
	}
}

// NumberValue is the one conversion of a JSON number into a value, for
// every path in (HTTP ingestion, the SQL properties column): an integer
// within int64 is an int; an integer beyond it keeps every digit as text
// (a float would lose them); anything else is a float; a number a float
// cannot hold is an error.
func NumberValue(n json.Number) (storage.Value, error) {
	if i, err := n.Int64(); err == nil {
		return storage.IntValue(i), nil
	}
	if !strings.ContainsAny(n.String(), ".eE") {
		return storage.StringValue(n.String()), nil
	}
	f, err := n.Float64()
	if err != nil || math.IsInf(f, 0) {
		return storage.Value{}, fmt.Errorf("number %s is out of range", n)
	}
	return storage.FloatValue(f), nil
}

// shownJSON shows a decoded JSON value in an error message.
func shownJSON(v any) string {
	b, _ := json.Marshal(v)
	if len(b) > 60 {
		b = append(b[:60], "…"...)
	}
	return string(b)
}

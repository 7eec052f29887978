package ingest

// Decoding of Mixpanel-style ingestion payloads (../shared/mixpanel-ingest.md
// §1.2). The official SDKs, old and new, send a request's records in any of
// these ways, and all of them stay supported:
//
//   - GET with query `data=`: base64 of JSON (node, browser GET mode);
//   - form or text/plain (sendBeacon) body with `data=`: base64 that is
//     %-encoded (browser) or not (node: a raw '+' must survive), URL-safe
//     or unpadded base64, or raw JSON (browser json mode, Go Alias/Merge);
//   - an application/json body (an object or an array);
//   - an application/x-ndjson body on /import (one object per line);
//   - any of the bodies gzip-compressed (Content-Encoding: gzip).
//
// The decoder never trusts sizes: the uncompressed body is capped at
// maxBodyBytes, the record count at maxRecords and each record at
// maxRecordBytes, and every failure names what was wrong.

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"unicode/utf8"
	"unsafe"
)

// Limits of one ingestion request (documented Mixpanel limits).
const (
	maxBodyBytes   = 10 << 20 // uncompressed body
	maxRecords     = 2000
	maxRecordBytes = 1 << 20
)

// payloadError is a request-level failure: HTTP status and a message
// naming the part of the request that is wrong.
type payloadError struct {
	status int
	msg    string
}

func (e *payloadError) Error() string { return e.msg }

func badPayload(format string, args ...any) *payloadError {
	return &payloadError{http.StatusBadRequest, fmt.Sprintf(format, args...)}
}

func tooLarge(format string, args ...any) *payloadError {
	return &payloadError{http.StatusRequestEntityTooLarge, fmt.Sprintf(format, args...)}
}

// payload is the decoded records of one request.
type payload struct {
	records []json.RawMessage
	// text, when not empty, is the request's JSON as a string and
	// records[i] is text[spans[i].start:spans[i].end] (scanRecords or
	// splitNDJSONLines split it), so the event scanner can take strings
	// from it without copies.
	//
	// text shares the memory of the body it was cut from (borrowText),
	// which goes back to a pool when the request is answered: a string
	// taken from text must not outlive the request. Everything stored is
	// a copy (eventDecoder.own and intern; encoding/json copies).
	text  string
	spans []span
	// textUTF8 is set when text is valid UTF-8 (checked once for all
	// its records).
	textUTF8 bool
	// unchecked: the records are NDJSON lines that start with '{' and
	// end with '}' and nothing more is known (splitNDJSONLines). A reader
	// must check each record it uses (the scanner's decode does; checked
	// does all) and turn to reference if one is not a JSON object.
	unchecked bool
}

// record returns record i as a string.
func (p *payload) record(i int) string {
	if p.text != "" {
		return p.text[p.spans[i].start:p.spans[i].end]
	}
	return string(p.records[i])
}

// readBody returns the request body, gunzipped when the request says so,
// and never longer than maxBodyBytes.
func readBody(r *http.Request) ([]byte, error) {
	return readBodyInto(r, new(bytes.Buffer))
}

// bodyBuffers recycles request body buffers (serve): a 300 KB body would
// otherwise be a fresh, zeroed allocation per request.
var bodyBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// maxPooledBodyBytes bounds the buffers bodyBuffers keeps.
const maxPooledBodyBytes = 2 << 20

// readBodyInto is readBody reading into buf, which the body returned
// aliases: it is valid as long as buf is not reused.
func readBodyInto(r *http.Request, buf *bytes.Buffer) ([]byte, error) {
	if r.Body == nil {
		return nil, nil
	}
	var src io.Reader = r.Body
	plain := true // src is the body as sent
	enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding")))
	switch enc {
	case "", "identity":
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(io.LimitReader(r.Body, maxBodyBytes+1))
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil, nil
			}
			return nil, badPayload("Content-Encoding gzip: body is not a gzip stream: %v", err)
		}
		src, plain = zr, false
	default:
		return nil, &payloadError{http.StatusUnsupportedMediaType, fmt.Sprintf("Content-Encoding %q is not supported (use gzip or none)", enc)}
	}
	// A body of announced length is read into one buffer of that size
	// (io.ReadAll would grow and copy it a dozen times).
	buf.Reset()
	if plain && r.ContentLength > 0 && r.ContentLength <= maxBodyBytes {
		buf.Grow(int(r.ContentLength) + bytes.MinRead)
	}
	_, err := buf.ReadFrom(io.LimitReader(src, maxBodyBytes+1))
	body := buf.Bytes()
	if err != nil {
		if enc != "" && enc != "identity" {
			return nil, badPayload("Content-Encoding gzip: corrupt stream: %v", err)
		}
		return nil, badPayload("reading the request body: %v", err)
	}
	if len(body) > maxBodyBytes {
		return nil, tooLarge("request exceeds max limit of %d bytes", maxBodyBytes)
	}
	return body, nil
}

// carriesData reports whether the records come as a `data=` value (in
// the query, or a form or beacon body) rather than as a JSON body.
func carriesData(r *http.Request, body []byte) bool {
	if _, ok := formValue(r.URL.RawQuery, "data"); ok {
		return true
	}
	trimmed := bytes.TrimSpace(body)
	return len(trimmed) > 0 && trimmed[0] != '{' && trimmed[0] != '['
}

// decodePayload finds and decodes the records of a request whose body
// has been read (see readBody). ndjson is accepted where allowNDJSON.
func decodePayload(r *http.Request, body []byte, allowNDJSON bool) (*payload, error) {
	if raw, ok := formValue(r.URL.RawQuery, "data"); ok {
		return decodeDataValue(raw)
	}
	ctype := strings.ToLower(r.Header.Get("Content-Type"))
	if i := strings.IndexByte(ctype, ';'); i >= 0 {
		ctype = ctype[:i]
	}
	ctype = strings.TrimSpace(ctype)
	trimmed := bytes.TrimSpace(body)
	switch {
	case ctype == "application/x-ndjson" || ctype == "application/ndjson":
		if !allowNDJSON {
			return nil, badPayload("Content-Type %s is only accepted on /import", ctype)
		}
		return decodeNDJSON(trimmed)
	case ctype == "application/json":
		return decodeJSONRecords(trimmed)
	case len(trimmed) > 0 && (trimmed[0] == '{' || trimmed[0] == '['):
		// A JSON body whatever its declared type.
		return decodeJSONRecords(trimmed)
	}
	// A form (x-www-form-urlencoded) or a sendBeacon text/plain body.
	if raw, ok := formValue(string(trimmed), "data"); ok {
		return decodeDataValue(raw)
	}
	return nil, badPayload("data, missing or empty")
}

// formValue returns the raw (still %-encoded) value of key in a
// URL-encoded string. It does not decode: Go's form decoding would turn
// the '+' of unencoded base64 (node's batch bodies) into spaces.
func formValue(encoded, key string) (string, bool) {
	for encoded != "" {
		var pair string
		pair, encoded, _ = strings.Cut(encoded, "&")
		k, v, _ := strings.Cut(pair, "=")
		if k == key {
			return v, true
		}
	}
	return "", false
}

// decodeDataValue decodes one raw `data=` value: raw JSON, or base64 of
// JSON in any of its spellings.
func decodeDataValue(raw string) (*payload, error) {
	// JSON first: form semantics, '+' is a space.
	if js, err := url.QueryUnescape(raw); err == nil {
		js = strings.TrimSpace(js)
		if strings.HasPrefix(js, "{") || strings.HasPrefix(js, "[") {
			return decodeJSONRecords([]byte(js))
		}
	}
	// Base64: keep '+' (node does not %-encode it), and take a space for
	// a '+' mangled by some form encoder on the way.
	b64, err := url.PathUnescape(raw)
	if err != nil {
		return nil, badPayload("data: invalid %%-encoding: %v", err)
	}
	b64 = strings.Map(func(r rune) rune {
		switch r {
		case ' ':
			return '+'
		case '-':
			return '+'
		case '_':
			return '/'
		case '\n', '\r', '\t', '=':
			return -1
		}
		return r
	}, b64)
	if b64 == "" {
		return nil, badPayload("data, missing or empty")
	}
	js, err := base64.RawStdEncoding.DecodeString(b64)
	if err != nil {
		return nil, badPayload("data: neither JSON nor valid base64: %v", err)
	}
	return decodeJSONRecords(bytes.TrimSpace(js))
}

// decodeJSONRecords splits a JSON object or array of objects into
// records. Elements are checked to be objects later, per record, so an
// error can name its index.
func decodeJSONRecords(js []byte) (*payload, error) {
	p := &payload{}
	if len(js) == 0 {
		return nil, badPayload("data, missing or empty")
	}
	if js[0] == '[' {
		text := borrowText(js)
		if spans, ok := scanRecords(text); ok {
			p.setSpans(js, text, spans)
		} else if err := json.Unmarshal(js, &p.records); err != nil {
			return nil, badPayload("data: invalid JSON: %s", jsonErrorText(js, err))
		}
	} else {
		var one json.RawMessage
		if err := json.Unmarshal(js, &one); err != nil {
			return nil, badPayload("data: invalid JSON: %s", jsonErrorText(js, err))
		}
		p.records = []json.RawMessage{one}
	}
	return p, p.checkSizes()
}

// borrowText is b as a string without a copy: a body of 10 MB would
// otherwise be copied whole once more per request. REQUIRES: b is not
// modified while the string is in use (see payload.text).
func borrowText(b []byte) string {
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// setSpans makes p's records the spans of js, whose string copy is text.
func (p *payload) setSpans(js []byte, text string, spans []span) {
	p.text, p.spans, p.textUTF8 = text, spans, utf8.ValidString(text)
	p.records = make([]json.RawMessage, len(spans))
	for i, sp := range spans {
		p.records[i] = js[sp.start:sp.end:sp.end]
	}
}

// decodeNDJSON reads one JSON object per non-empty line: split by
// splitNDJSONLines when it handles the text, the records' JSON then
// checked as they are decoded (payload.unchecked), else by readNDJSON.
func decodeNDJSON(body []byte) (*payload, error) {
	text := borrowText(body)
	if spans, ok := splitNDJSONLines(text); ok {
		p := &payload{unchecked: true}
		p.setSpans(body, text, spans)
		if err := p.checkSizes(); err != nil {
			// What the reference says first: a bad line before a size.
			if _, rerr := readNDJSON(body); rerr != nil {
				return nil, rerr
			}
			return nil, err
		}
		return p, nil
	}
	return readNDJSON(body)
}

// checked returns p with every record checked to be a JSON object, for
// a reader that does not decode them with the scanner: p itself, or when
// one is not, reference's answer.
func (p *payload) checked() (*payload, error) {
	if p.unchecked {
		for i := range p.records {
			if !isNDJSONObject(p.record(i)) {
				return p.reference()
			}
		}
		p.unchecked = false
	}
	return p, nil
}

// reference decodes an unchecked payload's text again by the reference
// path (readNDJSON), for a reader that found a record that is not a JSON
// object to the scanner: the answer is readNDJSON's error naming the
// first bad line — or, should encoding/json accept what the scanner
// refused, a payload of its records.
func (p *payload) reference() (*payload, error) {
	return readNDJSON(unsafe.Slice(unsafe.StringData(p.text), len(p.text)))
}

// readNDJSON is decodeNDJSON with encoding/json: the reference for what
// the scanner accepts, and the path that names what is wrong.
func readNDJSON(body []byte) (*payload, error) {
	p := &payload{}
	for line := 1; len(body) > 0; line++ {
		var ln []byte
		ln, body, _ = bytes.Cut(body, []byte{'\n'})
		ln = bytes.TrimSpace(ln)
		if len(ln) == 0 {
			continue
		}
		if !json.Valid(ln) {
			var v any
			return nil, badPayload("ndjson line %d: invalid JSON: %s", line, jsonErrorText(ln, json.Unmarshal(ln, &v)))
		}
		p.records = append(p.records, json.RawMessage(ln))
		if len(p.records) > maxRecords {
			break
		}
	}
	return p, p.checkSizes()
}

func (p *payload) checkSizes() error {
	if len(p.records) == 0 {
		return badPayload("data, missing or empty")
	}
	if len(p.records) > maxRecords {
		return tooLarge("request exceeds max limit of %d records", maxRecords)
	}
	for i, r := range p.records {
		if len(r) > maxRecordBytes {
			return tooLarge("record %d exceeds max limit of %d bytes", i, maxRecordBytes)
		}
	}
	return nil
}

// jsonErrorText describes a JSON syntax error with its byte offset.
func jsonErrorText(js []byte, err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("%v at byte %d", se, se.Offset)
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("expected an object or an array of objects, found %s at byte %d", te.Value, te.Offset)
	}
	return err.Error()
}

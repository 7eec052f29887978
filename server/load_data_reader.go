package server

// The record reader of LOAD DATA: it splits a file into records and
// fields as MySQL 8 does under FIELDS TERMINATED BY / [OPTIONALLY]
// ENCLOSED BY / ESCAPED BY and LINES STARTING BY / TERMINATED BY
// (MySQL 8 reference manual, "LOAD DATA Statement"):
//   - a field that starts with the enclosing character is enclosed: it
//     ends at the next enclosing character followed by the field or line
//     terminator (or the end of the file); a doubled enclosing character
//     inside stands for one; any other enclosing character is kept;
//   - the escape character followed by 0, b, n, r, t, Z stands for NUL,
//     backspace, newline, carriage return, tab, ^Z; followed by any other
//     character, for that character (so it escapes terminators and the
//     enclosing character); an unenclosed field that is exactly the escape
//     character and N is NULL;
//   - with an enclosing character, an unenclosed field that is exactly
//     NULL is NULL too;
//   - with LINES STARTING BY, what precedes the prefix on a line is
//     skipped.
// With no ESCAPED BY (empty), nothing is an escape and \N is text.
//
// Most records of a file need none of that: one line whose fields hold no
// escape character and, when enclosed, no enclosing character inside.
// With one-byte terminators such a record is read by the line fast path
// (fastRecord): the line is found with one bytes.IndexByte, split at its
// field terminators, and its fields point into the read buffer, copied
// nowhere. Any record it is not sure of (an escape other than a whole \N,
// a doubled or stray enclosing character, an enclosed field running past
// the line, a line longer than loadFastLineBytes) it leaves unread to the
// byte-at-a-time reader (field, enclosedField), which defines the result.
//
// INVARIANT: the fields next returns stay valid until the following call
// (they point into buffers the reader reuses), and the reader holds at
// most one record (loadMaxRecordBytes, loadMaxFields) plus one read chunk
// in memory, whatever the file's size.
//
// INVARIANT: fastRecord returns exactly the fields the byte-at-a-time
// reader returns for the same record, or reads nothing
// (TestRecordReaderFastPath, FuzzRecordReader compare the two).

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

// loadFormat is a statement's FIELDS and LINES options, unescaped.
type loadFormat struct {
	fieldTerm []byte // never empty
	enclose   byte   // 0: none
	escape    byte   // 0: none
	lineTerm  []byte // never empty
	lineStart []byte // empty: none
}

// loadField is one field of a record.
type loadField struct {
	text     []byte // the value, escapes resolved; valid until the next record
	null     bool   // \N, or NULL unenclosed when fields may be enclosed
	enclosed bool
}

// loadChunkBytes is how much the reader asks its source for at a time.
const loadChunkBytes = 1 << 20

// A record may hold at most loadMaxRecordBytes of field text and
// loadMaxFields fields: a file whose lines never end (a wrong LINES
// TERMINATED BY) must not be read into memory whole.
const (
	loadMaxRecordBytes = 64 << 20
	loadMaxFields      = 1 << 16
)

// recordTooLongError is a record past loadMaxRecordBytes or loadMaxFields.
type recordTooLongError struct {
	line int
}

func (e *recordTooLongError) Error() string {
	return fmt.Sprintf("line %d of the file holds more than %d MiB or %d fields: check FIELDS and LINES TERMINATED BY",
		e.line, loadMaxRecordBytes>>20, loadMaxFields)
}

// recordReader reads the records of one file.
type recordReader struct {
	src    io.Reader
	f      loadFormat
	buf    []byte // read but not consumed: buf[pos:]
	pos    int
	eof    bool  // src is exhausted (buf[pos:] is all that is left)
	err    error // a read error of src, returned once buf is consumed
	text   []byte
	fields []loadField
	ends   []int // end of each field's text in text
	// size is the field text of the current record, in bytes.
	size int
	// fast: the format allows the line fast path (one-byte terminators,
	// no LINES STARTING BY, the special bytes all different).
	fast bool
	// fastRecords counts the records the fast path read (tests check it
	// takes the ones it should).
	fastRecords int
	// lines is the number of records read so far (the current one
	// included): the "line" errors name, counting from 1.
	lines int
	// specials marks the bytes special reports: a field's text is
	// scanned a byte at a time, so one look-up per byte instead of three
	// comparisons.
	specials [256]bool
}

func newRecordReader(src io.Reader, f loadFormat) *recordReader {
	r := &recordReader{src: src, f: f, buf: make([]byte, 0, loadChunkBytes)}
	for _, term := range [][]byte{f.fieldTerm, f.lineTerm} {
		if len(term) > 0 {
			r.specials[term[0]] = true
		}
	}
	if f.escape != 0 {
		r.specials[f.escape] = true
	}
	r.fast = len(f.fieldTerm) == 1 && len(f.lineTerm) == 1 && len(f.lineStart) == 0 &&
		f.fieldTerm[0] != f.lineTerm[0]
	for _, c := range []byte{f.enclose, f.escape} {
		if c != 0 && (c == f.fieldTerm[0] || c == f.lineTerm[0]) {
			r.fast = false
		}
	}
	if f.enclose != 0 && f.enclose == f.escape {
		r.fast = false
	}
	return r
}

// fill makes at least n bytes available at pos unless the source ends
// first; it reports whether they are.
func (r *recordReader) fill(n int) bool {
	for len(r.buf)-r.pos < n && !r.eof {
		if r.pos > 0 {
			r.buf = r.buf[:copy(r.buf, r.buf[r.pos:])]
			r.pos = 0
		}
		if cap(r.buf)-len(r.buf) < loadChunkBytes/2 {
			grown := make([]byte, len(r.buf), 2*cap(r.buf)+n)
			copy(grown, r.buf)
			r.buf = grown
		}
		m, err := r.src.Read(r.buf[len(r.buf):cap(r.buf)])
		r.buf = r.buf[:len(r.buf)+m]
		if err != nil {
			r.eof = true
			if !errors.Is(err, io.EOF) {
				r.err = err
			}
		}
	}
	return len(r.buf)-r.pos >= n
}

// at reports whether term comes next.
func (r *recordReader) at(term []byte) bool {
	if r.pos < len(r.buf) && (r.buf[r.pos] != term[0] || len(term) == 1) {
		return r.buf[r.pos] == term[0]
	}
	return r.fill(len(term)) && bytes.Equal(r.buf[r.pos:r.pos+len(term)], term)
}

// skip passes over n bytes that fill made available.
func (r *recordReader) skip(n int) { r.pos += n }

// next reads the next record's fields: io.EOF after the last record, or
// the source's read error.
func (r *recordReader) next() ([]loadField, error) {
	if !r.fill(1) {
		if r.err != nil {
			return nil, r.err
		}
		return nil, io.EOF
	}
	r.lines++
	if r.fast {
		if fields, ok := r.fastRecord(); ok {
			return fields, nil
		}
	}
	if len(r.f.lineStart) > 0 && !r.skipToPrefix() {
		if r.err != nil {
			return nil, r.err
		}
		return nil, io.EOF
	}
	r.text, r.fields, r.ends = r.text[:0], r.fields[:0], r.ends[:0]
	for {
		f, lineEnd := r.field()
		r.fields = append(r.fields, f)
		r.ends = append(r.ends, len(r.text))
		if lineEnd {
			break
		}
		if len(r.text) > loadMaxRecordBytes || len(r.fields) >= loadMaxFields {
			return nil, &recordTooLongError{line: r.lines}
		}
	}
	if r.err != nil {
		return nil, r.err
	}
	start := 0
	for i := range r.fields {
		if !r.fields[i].null {
			r.fields[i].text = r.text[start:r.ends[i]:r.ends[i]]
		}
		start = r.ends[i]
	}
	r.size = len(r.text)
	return r.fields, nil
}

// loadFastLineBytes bounds the line the fast path looks for: a longer
// one is read byte by byte (which bounds records).
const loadFastLineBytes = 1 << 20

// fastRecord reads the next record when it is one simple line (see the
// top of the file); ok is false, and nothing is consumed, when it is not.
// The fields' text points into r.buf: valid until fill next moves it.
// REQUIRES: r.fast, at least one byte available at r.pos.
func (r *recordReader) fastRecord() (fields []loadField, ok bool) {
	lt := r.f.lineTerm[0]
	end := bytes.IndexByte(r.buf[r.pos:], lt)
	for end < 0 && !r.eof {
		have := len(r.buf) - r.pos
		if have >= loadFastLineBytes {
			return nil, false
		}
		r.fill(have + 1)
		if end = bytes.IndexByte(r.buf[r.pos+have:], lt); end >= 0 {
			end += have
		}
	}
	line, consumed := r.buf[r.pos:], len(r.buf)-r.pos // the file's last line, unterminated
	if end >= 0 {
		line, consumed = r.buf[r.pos:r.pos+end], end+1
	}
	if r.err != nil {
		return nil, false // the byte-at-a-time reader says when the error comes
	}
	ft, q, esc := r.f.fieldTerm[0], r.f.enclose, r.f.escape
	fields, size := r.fields[:0], 0
	for {
		if len(fields)+1 >= loadMaxFields {
			return nil, false // the byte-at-a-time reader refuses it
		}
		var f loadField
		last := false
		if q != 0 && len(line) > 0 && line[0] == q {
			// Enclosed: up to the next enclosing character, which must end
			// the line or be followed by the field terminator.
			i := bytes.IndexByte(line[1:], q)
			if i < 0 {
				return nil, false // runs past the line
			}
			f.text, f.enclosed = line[1:1+i:1+i], true
			rest := line[2+i:]
			switch {
			case len(rest) == 0:
				last = true
			case rest[0] == ft:
				line = rest[1:]
			default:
				return nil, false // doubled or stray enclosing character
			}
			if esc != 0 && bytes.IndexByte(f.text, esc) >= 0 {
				return nil, false
			}
		} else {
			i := bytes.IndexByte(line, ft)
			if i < 0 {
				f.text, last = line[:len(line):len(line)], true
			} else {
				f.text, line = line[:i:i], line[i+1:]
			}
			switch {
			case esc != 0 && bytes.IndexByte(f.text, esc) >= 0:
				if len(f.text) != 2 || f.text[0] != esc || f.text[1] != 'N' {
					return nil, false
				}
				f.text, f.null = nil, true
			case q != 0 && string(f.text) == "NULL":
				f.text, f.null = nil, true
			}
		}
		size += len(f.text)
		fields = append(fields, f)
		if last {
			break
		}
	}
	r.fields, r.size = fields, size
	r.pos += consumed
	r.fastRecords++
	return fields, true
}

// skipToPrefix passes over everything up to and including the next
// LINES STARTING BY prefix; false: the file ends first.
func (r *recordReader) skipToPrefix() bool {
	for r.fill(len(r.f.lineStart)) {
		if bytes.Equal(r.buf[r.pos:r.pos+len(r.f.lineStart)], r.f.lineStart) {
			r.skip(len(r.f.lineStart))
			return true
		}
		r.skip(1)
	}
	r.pos = len(r.buf)
	return false
}

// field reads one field into r.text; lineEnd is true when the record ends
// after it (line terminator or end of file).
func (r *recordReader) field() (f loadField, lineEnd bool) {
	start := len(r.text)
	if r.f.enclose != 0 && r.fill(1) && r.buf[r.pos] == r.f.enclose {
		r.skip(1)
		return r.enclosedField()
	}
	nullEscape := false
	for {
		if len(r.text) > loadMaxRecordBytes {
			return f, false // next sees the length
		}
		if !r.fill(1) {
			lineEnd = true
			break
		}
		c := r.buf[r.pos]
		if c == r.f.fieldTerm[0] && r.at(r.f.fieldTerm) {
			r.skip(len(r.f.fieldTerm))
			break
		}
		if c == r.f.lineTerm[0] && r.at(r.f.lineTerm) {
			r.skip(len(r.f.lineTerm))
			lineEnd = true
			break
		}
		if c == r.f.escape && r.f.escape != 0 {
			r.skip(1)
			if !r.fill(1) {
				r.text = append(r.text, c)
				continue
			}
			e := r.buf[r.pos]
			r.skip(1)
			nullEscape = e == 'N' && len(r.text) == start
			r.text = append(r.text, unescaped(e))
			if nullEscape {
				nullEscape = r.fieldEndsHere()
			}
			continue
		}
		// The plain bytes up to the next special one, at once.
		end := r.pos + 1
		for end < len(r.buf) && !r.special(r.buf[end]) {
			end++
		}
		r.text = append(r.text, r.buf[r.pos:end]...)
		r.pos = end
	}
	text := r.text[start:]
	switch {
	case nullEscape && len(text) == 1:
		f.null = true
	case r.f.enclose != 0 && string(text) == "NULL":
		f.null = true
	}
	return f, lineEnd
}

// fieldEndsHere reports whether a terminator or the end of the file comes
// next (so that \N is the whole field).
func (r *recordReader) fieldEndsHere() bool {
	return !r.fill(1) || r.at(r.f.fieldTerm) || r.at(r.f.lineTerm)
}

// special reports whether c may start a terminator or an escape.
func (r *recordReader) special(c byte) bool {
	return r.specials[c]
}

// enclosedField reads the rest of a field after its opening enclosing
// character.
func (r *recordReader) enclosedField() (f loadField, lineEnd bool) {
	f.enclosed = true
	q := r.f.enclose
	for {
		if len(r.text) > loadMaxRecordBytes {
			return f, false // next sees the length
		}
		if !r.fill(1) {
			return f, true // unterminated at the end of the file: kept as read
		}
		c := r.buf[r.pos]
		switch {
		case c == q:
			r.skip(1)
			switch {
			case !r.fill(1):
				return f, true
			case r.buf[r.pos] == q:
				r.skip(1)
				r.text = append(r.text, q)
			case r.at(r.f.fieldTerm):
				r.skip(len(r.f.fieldTerm))
				return f, false
			case r.at(r.f.lineTerm):
				r.skip(len(r.f.lineTerm))
				return f, true
			default:
				r.text = append(r.text, q)
			}
		case c == r.f.escape && r.f.escape != 0:
			r.skip(1)
			if !r.fill(1) {
				r.text = append(r.text, c)
				continue
			}
			r.text = append(r.text, unescaped(r.buf[r.pos]))
			r.skip(1)
		default:
			end := r.pos + 1
			for end < len(r.buf) && r.buf[end] != q && (r.buf[end] != r.f.escape || r.f.escape == 0) {
				end++
			}
			r.text = append(r.text, r.buf[r.pos:end]...)
			r.pos = end
		}
	}
}

// unescaped is the character an escape sequence stands for.
func unescaped(c byte) byte {
	switch c {
	case '0':
		return 0
	case 'b':
		return '\b'
	case 'n':
		return '\n'
	case 'r':
		return '\r'
	case 't':
		return '\t'
	case 'Z':
		return 0x1a
	}
	return c
}

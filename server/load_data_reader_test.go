package server

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"unsafe"

	"arb/storage"
)

// readAll reads every record of src as fields shown as text, NULL as
// <NULL> and enclosed ones in [brackets].
func readAll(t *testing.T, src io.Reader, f loadFormat) [][]string {
	t.Helper()
	rr := newRecordReader(src, f)
	var out [][]string
	for {
		fields, err := rr.next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		var rec []string
		for _, fl := range fields {
			switch {
			case fl.null:
				rec = append(rec, "<NULL>")
			case fl.enclosed:
				rec = append(rec, "["+string(fl.text)+"]")
			default:
				rec = append(rec, string(fl.text))
			}
		}
		out = append(out, rec)
	}
}

func TestRecordReader(t *testing.T) {
	csv := loadFormat{fieldTerm: []byte(","), enclose: '"', escape: '\\', lineTerm: []byte("\n")}
	tsv := loadFormat{fieldTerm: []byte("\t"), escape: '\\', lineTerm: []byte("\n")}
	crlf := csv
	crlf.lineTerm = []byte("\r\n")
	noEscape := csv
	noEscape.escape = 0
	prefixed := tsv
	prefixed.lineStart = []byte("xx")
	for _, tc := range []struct {
		name string
		f    loadFormat
		in   string
		want string // records joined by "\n", fields by "|"
	}{
		{"plain csv", csv, "a,b,c\n1,2,3\n", "a|b|c\n1|2|3"},
		{"no final newline", csv, "a,b\n1,2", "a|b\n1|2"},
		{"enclosed with separator and newline", csv, "\"x, y\",\"line1\nline2\"\n", "[x, y]|[line1\nline2]"},
		{"doubled quote", csv, `"say ""hi""",b` + "\n", `[say "hi"]|b`},
		{"quote inside unenclosed field is kept", csv, `ab"c,d` + "\n", `ab"c|d`},
		{"quote not followed by a terminator is kept", csv, `"a"b",c` + "\n", `[a"b]|c`},
		{"escapes", tsv, `a\tb\nc\\d\,e` + "\n", "a\tb\nc\\d,e"},
		{"escaped terminators", tsv, "a\\\tb\tc\\\nd\n", "a\tb|c\nd"},
		{"NULL forms", csv, `\N,"\N",NULL,"NULL",\Nx,` + "\n", `<NULL>|[N]|<NULL>|[NULL]|Nx|`},
		{"NULL word without enclosing is text", tsv, "NULL\t\\N\n", "NULL|<NULL>"},
		{"empty fields and line", csv, ",,\n\nz\n", "||\n\nz"},
		{"crlf lines", crlf, "a,b\r\n\"c\r\n\",d\r\n", "a|b\n[c\r\n]|d"},
		{"no escape character", noEscape, `a\N,b\,c` + "\n", `a\N|b\|c`},
		{"multi-byte field terminator", loadFormat{fieldTerm: []byte("::"), escape: '\\', lineTerm: []byte("\n")}, "a::b:c::d\n", "a|b:c|d"},
		{"lines starting by", prefixed, "junk xxa\tb\nxxc\td\n", "a|b\nc|d"},
		{"unterminated enclosed field at the end", csv, `"abc`, `[abc]`},
		{"trailing escape at the end", tsv, `ab\`, `ab\`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, reader := range []struct {
				name string
				r    io.Reader
			}{
				{"whole", strings.NewReader(tc.in)},
				{"byte at a time", iotest.OneByteReader(strings.NewReader(tc.in))},
			} {
				var recs []string
				for _, r := range readAll(t, reader.r, tc.f) {
					recs = append(recs, strings.Join(r, "|"))
				}
				if got := strings.Join(recs, "\n"); got != tc.want {
					t.Errorf("%s: got %q, want %q", reader.name, got, tc.want)
				}
			}
		})
	}
}

// TestRecordReaderLines checks the line numbers errors name, and that a
// read error of the source is returned.
func TestRecordReaderLines(t *testing.T) {
	csv := loadFormat{fieldTerm: []byte(","), enclose: '"', escape: '\\', lineTerm: []byte("\n")}
	rr := newRecordReader(strings.NewReader("a\n\"b\nb\"\nc\n"), csv)
	for want := 1; want <= 3; want++ {
		if _, err := rr.next(); err != nil {
			t.Fatal(err)
		}
		if rr.lines != want {
			t.Fatalf("record %d: lines = %d", want, rr.lines)
		}
	}
	if _, err := rr.next(); err != io.EOF {
		t.Fatalf("after the last record: %v, want EOF", err)
	}
	broken := io.MultiReader(strings.NewReader("a,b\nc"), iotest.ErrReader(io.ErrUnexpectedEOF))
	rr = newRecordReader(broken, csv)
	if _, err := rr.next(); err != nil {
		t.Fatal(err)
	}
	if _, err := rr.next(); err != io.ErrUnexpectedEOF {
		t.Fatalf("read error: got %v", err)
	}
}

// TestFieldValue checks the typing of property fields against INSERT's
// literal typing (ingest.NumberValue's conversion).
func TestFieldValue(t *testing.T) {
	for _, tc := range []struct {
		text     string
		enclosed bool
		null     bool
		want     string
	}{
		{"42", false, false, "int 42"},
		{"-7", false, false, "int -7"},
		{"2.5", false, false, "float 2.5"},
		{"1e3", false, false, "float 1000"},
		{"9223372036854775808", false, false, "string 9223372036854775808"},
		{"42", true, false, "string 42"},
		{"007", false, false, "string 007"},
		{"+1", false, false, "string +1"},
		{"1.", false, false, "string 1."},
		{"1e999", false, false, "string 1e999"},
		{"true", false, false, "string true"},
		{"", false, false, "null"},
		{"", true, false, "string "},
		{"x", false, true, "null"},
	} {
		v := fieldValue(loadField{text: []byte(tc.text), enclosed: tc.enclosed, null: tc.null}, &loadColumn{})
		got := "null"
		switch v.Type {
		case storage.TypeString:
			got = "string " + v.Str
		case storage.TypeInt:
			got = fmt.Sprintf("int %d", v.Int)
		case storage.TypeFloat:
			got = fmt.Sprintf("float %g", v.Float)
		}
		if got != tc.want {
			t.Errorf("%q (enclosed %v, null %v): got %s, want %s", tc.text, tc.enclosed, tc.null, got, tc.want)
		}
	}
}

// TestRecordReaderBounded checks that a file whose lines never end is
// refused once a record passes the bounds, not read into memory whole.
func TestRecordReaderBounded(t *testing.T) {
	csv := loadFormat{fieldTerm: []byte(","), enclose: '"', escape: '\\', lineTerm: []byte("\n")}
	for name, src := range map[string]io.Reader{
		"one endless field":    io.LimitReader(repeatReader('x'), 2*loadMaxRecordBytes),
		"endless quoted field": io.MultiReader(strings.NewReader(`"`), io.LimitReader(repeatReader('x'), 2*loadMaxRecordBytes)),
		"endless fields":       io.LimitReader(repeatReader(','), 2*loadMaxFields),
		"endless escapes":      io.LimitReader(repeatReader('\\'), 4*loadMaxRecordBytes),
	} {
		rr := newRecordReader(src, csv)
		_, err := rr.next()
		var long *recordTooLongError
		if !errors.As(err, &long) || long.line != 1 {
			t.Errorf("%s: %v, want a recordTooLongError for line 1", name, err)
		}
	}
}

// repeatReader is an endless stream of c.
type repeatReader byte

func (r repeatReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(r)
	}
	return len(p), nil
}

// FuzzRecordReader: any input reads to the same records, or the same
// error, whether the source hands it over whole or a byte at a time (the
// reader's look-ahead across refills is where it could differ), for
// one- and multi-byte terminators, with and without escapes.
func FuzzRecordReader(f *testing.F) {
	formats := []loadFormat{
		{fieldTerm: []byte(","), enclose: '"', escape: '\\', lineTerm: []byte("\n")},
		{fieldTerm: []byte("\t"), escape: '\\', lineTerm: []byte("\n")},
		{fieldTerm: []byte(","), enclose: '"', escape: '\\', lineTerm: []byte("\r\n")},
		{fieldTerm: []byte(","), enclose: '"', lineTerm: []byte("\n")},
		{fieldTerm: []byte("||"), escape: '\\', lineTerm: []byte("##"), lineStart: []byte("xx")},
	}
	for _, s := range []string{"a,b,c\n1,2,3\n", "\"x, y\",\"l1\nl2\"\n", "a\\,b,\\N\n", "a||b##xxc||d##", "1,2\r\n3,4", "\"unterminated"} {
		for i := range formats {
			f.Add(s, uint8(i))
		}
	}
	f.Fuzz(func(t *testing.T, in string, which uint8) {
		lf := formats[int(which)%len(formats)]
		whole := readAllText(strings.NewReader(in), lf, true)
		bytewise := readAllText(iotest.OneByteReader(strings.NewReader(in)), lf, true)
		slow := readAllText(strings.NewReader(in), lf, false)
		if whole != bytewise || whole != slow {
			t.Fatalf("format %d, input %q:\nwhole:     %s\nbytewise:  %s\nno fast path: %s", int(which)%len(formats), in, whole, bytewise, slow)
		}
	})
}

// TestRecordReaderFastPath checks that the line fast path reads the
// records it takes exactly as the byte-at-a-time reader does, and that
// it takes the simple ones: each input is read with and without it, whole
// and a byte at a time, and must come out the same.
func TestRecordReaderFastPath(t *testing.T) {
	csv := loadFormat{fieldTerm: []byte(","), enclose: '"', escape: '\\', lineTerm: []byte("\n")}
	tsv := loadFormat{fieldTerm: []byte("\t"), escape: '\\', lineTerm: []byte("\n")}
	noEscape := csv
	noEscape.escape = 0
	crlf := csv
	crlf.lineTerm = []byte("\r\n")
	for _, tc := range []struct {
		name string
		f    loadFormat
		in   string
		fast int // records the fast path must take (whole input)
	}{
		{"bench rows", csv, "2025-01-01 00:01:39,Signup,1801b8b2683769dc,Windows,Chrome,City 0277,free,\"\",\\N\n" +
			"2025-01-01 00:02:08,Purchase,6d88ca7967aeee66,Mac OS X,Safari,City 0075,pro,producthunt,12.50\n", 2},
		{"times with fractions and other layouts", csv, "2025-01-01 00:01:39.123,a\n2025-01-01T00:01:39Z,b\n20250101,c\n", 3},
		{"empty fields and lines", csv, ",,\n\n,\n", 3},
		{"NULL forms", csv, `\N,"\N",NULL,"NULL",\Nx,N` + "\n" + `\N,NULL,"NULL",,` + "\n", 1},
		{"NULL word is text without enclosing", tsv, "NULL\t\\N\n", 1},
		{"quoted separators", csv, `"a,b","c",d` + "\n" + `"x, y",""` + "\n", 2},
		{"doubled quotes", csv, `"say ""hi""",b` + "\n" + `"""",x` + "\nplain,row\n", 1},
		{"quote inside unenclosed field", csv, `ab"c,d"` + "\n", 1},
		{"stray quote after an enclosed field", csv, `"a"b",c` + "\n" + `"a" ,c` + "\n", 0},
		{"enclosed field across lines", csv, "\"l1\nl2\",x\ny,z\n", 1},
		{"escapes", csv, `a\,b,c\nd,\\` + "\n" + `"q\"q",e` + "\n" + `\` + "\nnext,line\n", 0},
		{"escape ending a line joins the next", tsv, "a\\\nb\tc\n", 0},
		{"crlf kept in the last field under LINES TERMINATED BY newline", csv, "a,b\r\n\"c\",\"d\"\r\n", 1},
		{"crlf lines (two-byte terminator: no fast path)", crlf, "a,b\r\nc,\"d\r\n\"\r\n", 0},
		{"no escape character", noEscape, `a\N,b\,c` + "\n" + `"x\"y` + "\n", 1},
		{"last line unterminated", csv, "a,b\nc,\"d\"", 2},
		{"last line an unterminated enclosed field", csv, "a\n\"abc", 1},
		{"multi-byte field terminator", loadFormat{fieldTerm: []byte("::"), escape: '\\', lineTerm: []byte("\n")}, "a::b\n", 0},
		{"lines starting by", loadFormat{fieldTerm: []byte("\t"), escape: '\\', lineTerm: []byte("\n"), lineStart: []byte("xx")}, "junk xxa\tb\n", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := readAllText(strings.NewReader(tc.in), tc.f, false)
			for name, src := range map[string]io.Reader{
				"whole":          strings.NewReader(tc.in),
				"byte at a time": iotest.OneByteReader(strings.NewReader(tc.in)),
			} {
				if got := readAllText(src, tc.f, true); got != want {
					t.Errorf("%s:\n got %s\nwant %s", name, got, want)
				}
			}
			rr := newRecordReader(strings.NewReader(tc.in), tc.f)
			for {
				if _, err := rr.next(); err != nil {
					break
				}
			}
			if rr.fastRecords != tc.fast {
				t.Errorf("the fast path read %d of %d records, want %d", rr.fastRecords, rr.lines, tc.fast)
			}
		})
	}
	// A line longer than the fast path looks for is read byte by byte.
	long := strings.Repeat("x", loadFastLineBytes+10) + ",y\nz\n"
	rr := newRecordReader(strings.NewReader(long), csv)
	fields, err := rr.next()
	if err != nil || len(fields) != 2 || len(fields[0].text) != loadFastLineBytes+10 || string(fields[1].text) != "y" || rr.fastRecords != 0 {
		t.Fatalf("long line: %d fields, %v, fast %d", len(fields), err, rr.fastRecords)
	}
	if fields, err := rr.next(); err != nil || string(fields[0].text) != "z" || rr.fastRecords != 1 {
		t.Fatalf("after the long line: %v, fast %d", err, rr.fastRecords)
	}
}

// readAllText is readAll's records, or the error that stopped them, as
// one string; fast=false turns the line fast path off.
func readAllText(src io.Reader, f loadFormat, fast bool) string {
	rr := newRecordReader(src, f)
	rr.fast = rr.fast && fast
	var b strings.Builder
	for {
		fields, err := rr.next()
		if err == io.EOF {
			return b.String()
		}
		if err != nil {
			return b.String() + "error: " + err.Error()
		}
		for _, fl := range fields {
			fmt.Fprintf(&b, "%v/%v/%q|", fl.null, fl.enclosed, fl.text)
		}
		b.WriteString("\n")
	}
}

// TestLoadColumnText checks a column's shared strings: every value comes
// back equal to its bytes, repeated values share one string (also when
// two of them take the same recent slot), and past loadInternValues
// distinct values sharing stops but the values stay right.
func TestLoadColumnText(t *testing.T) {
	var c loadColumn
	// Two values of one slot, found by trying: they must alternate in it.
	a := "City 0001"
	b := ""
	for i := 2; b == ""; i++ {
		if s := fmt.Sprintf("City %04d", i); recentSlot([]byte(s)) == recentSlot([]byte(a)) {
			b = s
		}
	}
	first := map[string]string{}
	for round := 0; round < 3; round++ {
		for _, v := range []string{a, b, "", "Chrome", "x", "Microsoft Edge", a, b} {
			got := c.text([]byte(v))
			if got != v {
				t.Fatalf("text(%q) = %q", v, got)
			}
			if s, ok := first[v]; ok && v != "" && unsafe.StringData(s) != unsafe.StringData(got) {
				t.Fatalf("text(%q) is not shared with the earlier value", v)
			}
			first[v] = got
		}
	}
	for i := 0; i <= loadInternValues; i++ {
		v := fmt.Sprintf("user-%d", i)
		if got := c.text([]byte(v)); got != v {
			t.Fatalf("text(%q) = %q", v, got)
		}
	}
	if !c.noInterning || c.values != nil || c.recent != nil {
		t.Fatalf("after %d values: still sharing", loadInternValues+1)
	}
	if got := c.text([]byte(a)); got != a {
		t.Fatalf("text(%q) = %q after sharing stopped", a, got)
	}
}

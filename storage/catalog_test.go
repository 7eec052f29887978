package storage

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestWiden(t *testing.T) {
	cases := []struct {
		a, b, want ColumnType
	}{
		{TypeNull, TypeInt, TypeInt},
		{TypeInt, TypeNull, TypeInt},
		{TypeInt, TypeInt, TypeInt},
		{TypeInt, TypeFloat, TypeFloat},
		{TypeFloat, TypeInt, TypeFloat},
		{TypeInt, TypeString, TypeString},
		{TypeBool, TypeInt, TypeString},
		{TypeFloat, TypeJSON, TypeString},
		{TypeJSON, TypeJSON, TypeJSON},
	}
	for _, c := range cases {
		if got := Widen(c.a, c.b); got != c.want {
			t.Errorf("Widen(%v, %v) = %v, want %v", c.a, c.b, got, c.want)
		}
	}
}

func TestValueConvertIsLossless(t *testing.T) {
	cases := []struct {
		name string
		v    Value
		to   ColumnType
		want Value
		ok   bool
	}{
		{"int to float", IntValue(3), TypeFloat, FloatValue(3), true},
		{"big int to float refused", IntValue(1<<53 + 1), TypeFloat, Value{}, false},
		{"int to string", IntValue(-42), TypeString, StringValue("-42"), true},
		{"float to string round trips", FloatValue(0.1), TypeString, StringValue("0.1"), true},
		{"bool to string", BoolValue(true), TypeString, StringValue("true"), true},
		{"json to string", JSONValue(`{"a":1}`), TypeString, StringValue(`{"a":1}`), true},
		{"string to int refused", StringValue("5"), TypeInt, Value{}, false},
		{"float to int refused", FloatValue(1.5), TypeInt, Value{}, false},
		{"null stays null", Value{}, TypeInt, Value{}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, ok := c.v.Convert(c.to)
			if ok != c.ok || (ok && got != c.want) {
				t.Fatalf("Convert = %+v, %v; want %+v, %v", got, ok, c.want, c.ok)
			}
		})
	}
}

func TestSchemaFitProps(t *testing.T) {
	s := newSchema(nil, nil)
	props := []Prop{{"amount", IntValue(3)}, {"Plan", StringValue("pro")}}
	s.fitProps(props)
	if c, _ := s.Lookup("amount"); c.Type != TypeInt {
		t.Fatalf("amount is %v, want int", c.Type)
	}
	// A float widens the int column; a later int is converted to float.
	s.fitProps([]Prop{{"amount", FloatValue(2.5)}})
	later := []Prop{{"AMOUNT", IntValue(4)}, {"plan", StringValue("free")}}
	s.fitProps(later)
	if later[0].Key != "amount" || later[0].Value != FloatValue(4) {
		t.Fatalf("later int became %+v, want amount=float 4", later[0])
	}
	if later[1].Key != "Plan" {
		t.Fatalf("case-insensitive column kept spelling %q, want Plan", later[1].Key)
	}
	// A string widens to string, and old values read back as text.
	s.fitProps([]Prop{{"amount", StringValue("n/a")}})
	if c, _ := s.Lookup("amount"); c.Type != TypeString {
		t.Fatalf("amount is %v, want string", c.Type)
	}
	if got := len(s.Columns()); got != 2 {
		t.Fatalf("%d columns, want 2", got)
	}
}

func TestSchemaBigIntsNeverBecomeFloat(t *testing.T) {
	s := newSchema(nil, nil)
	big := int64(1<<53 + 1)
	s.fitProps([]Prop{{"id", IntValue(big)}})
	props := []Prop{{"id", FloatValue(1.5)}}
	s.fitProps(props)
	c, _ := s.Lookup("id")
	if c.Type != TypeString {
		t.Fatalf("int column holding %d met a float and became %v, want string", big, c.Type)
	}
	if props[0].Value != StringValue("1.5") {
		t.Fatalf("float value became %+v, want string 1.5", props[0].Value)
	}
	// The flag survives the manifest.
	s2 := newSchema(nil, nil)
	s2.fitProps([]Prop{{"n", IntValue(-big)}})
	s3 := newSchema(s2.Columns(), s2.bigIntColumns())
	s3.fitProps([]Prop{{"n", FloatValue(0.5)}})
	if c, _ := s3.Lookup("n"); c.Type != TypeString {
		t.Fatalf("reloaded big-int column met a float and became %v, want string", c.Type)
	}
}

func TestValidatePropertyKey(t *testing.T) {
	bad := []string{"", "time", "EVENT", "distinct_id", "insert_id", "properties", "a\x00b", string([]byte{0xff})}
	for _, k := range bad {
		if err := ValidatePropertyKey(TableEvents, k); err == nil {
			t.Errorf("key %q accepted", k)
		}
	}
	for _, k := range []string{"$browser", "plan", "utm source", "Ünïcode"} {
		if err := ValidatePropertyKey(TableEvents, k); err != nil {
			t.Errorf("key %q rejected: %v", k, err)
		}
	}
	if err := ValidatePropertyKey(TablePeople, "time"); err != nil {
		t.Errorf("people may have a time property: %v", err)
	}
}

func TestManifestRoundTripAndCorruption(t *testing.T) {
	m := &manifestBody{Version: manifestVersion, WALStartSeq: 7, NextFileNumber: 12, Projects: []manifestProject{{
		Name: "shop", Token: "t", Secret: "s", Columns: []Column{{"plan", TypeString}}, Users: 3,
		Segments: []manifestSegment{{File: "000003.seg", Day: "2025-01-01", Rows: 10, Bytes: 999}},
	}}}
	data, err := encodeManifest(m)
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeManifest(data, "MANIFEST")
	if err != nil {
		t.Fatal(err)
	}
	if got.WALStartSeq != 7 || got.Projects[0].Segments[0].File != "000003.seg" || got.Projects[0].Columns[0].Type != TypeString {
		t.Fatalf("round trip gave %+v", got)
	}
	for i := range data {
		bad := append([]byte(nil), data...)
		bad[i] ^= 0x40
		if _, err := decodeManifest(bad, "MANIFEST"); err == nil {
			t.Fatalf("flipping byte %d went unnoticed", i)
		}
	}
	for n := 0; n < len(data); n += 7 {
		if _, err := decodeManifest(data[:n], "MANIFEST"); err == nil {
			t.Fatalf("truncation to %d bytes went unnoticed", n)
		}
	}
}

func TestUserDictFile(t *testing.T) {
	dir := t.TempDir()
	path := dir + "/p.users"
	n1, c1, err := appendUserChunks(OSFS{}, path, 0, 0, []string{"a", "b", "c"})
	if err != nil {
		t.Fatal(err)
	}
	n2, c2, err := appendUserChunks(OSFS{}, path, n1, 3, []string{"d"})
	if err != nil {
		t.Fatal(err)
	}
	// A crashed flush appended more; the manifest still counts 4.
	if _, _, err := appendUserChunks(OSFS{}, path, n2, 4, []string{"zombie"}); err != nil {
		t.Fatal(err)
	}
	got, err := loadUserDict(OSFS{}, path, 4, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer got.close()
	if want := append(c1, c2...); !slices.Equal(got.file.chunks, want) {
		t.Fatalf("chunks %+v, appended %+v", got.file.chunks, want)
	}
	if n, ok, err := got.lookup("c"); got.Len() != 4 || got.view().ID(3) != "d" || n != 2 || !ok || err != nil || got.fileBytes != n2 {
		t.Fatalf("loaded %d users, user 3 %q, c → %d %v %v (file bytes %d, want %d)", got.Len(), got.view().ID(3), n, ok, err, got.fileBytes, n2)
	}
	if _, ok, _ := got.lookup("zombie"); ok {
		t.Fatal("a user beyond the manifest's count was found")
	}
	if _, err := loadUserDict(OSFS{}, path, 6, nil, 0); err == nil {
		t.Fatal("manifest counting more users than the file holds went unnoticed")
	}
}

// TestMaxColumns: a batch that would take a table past MaxColumns is
// refused whole, naming the limit and the new names, and changes
// nothing; what fits still goes in, and a reopen (WAL replay) keeps it.
func TestMaxColumns(t *testing.T) {
	dir := t.TempDir()
	opts := Options{Dir: dir, FlushInterval: time.Hour, MaxColumns: 5, ProfileUpdater: testProfileUpdater}
	s, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateProject("p", "", ""); err != nil {
		t.Fatal(err)
	}
	p, _ := s.Project("p")
	ev := func(id string, keys ...string) Event {
		e := Event{Name: "e", DistinctID: "u", TimeMillis: 1735689600000, InsertID: id}
		for _, k := range keys {
			e.Props = append(e.Props, Prop{Key: k, Value: IntValue(1)})
		}
		return e
	}
	if err := p.Ingest([]Event{ev("1", "a", "b"), ev("2", "a", "b"), ev("3", "c", "D")}); err != nil {
		t.Fatal(err)
	}
	// "d" is the column "D"; e and f would make 6.
	err = p.Ingest([]Event{ev("4", "d", "e"), ev("5", "f", "a")})
	var ce *ColumnLimitError
	if !errors.As(err, &ce) || ce.Limit != 5 || ce.Have != 4 || !slices.Equal(ce.New, []string{"e", "f"}) {
		t.Fatalf("ingest past the limit: %v, want a ColumnLimitError naming e and f", err)
	}
	if !strings.Contains(err.Error(), "e, f") || !strings.Contains(err.Error(), "--max-columns") {
		t.Errorf("error %q does not name the new columns and the flag", err)
	}
	if n := len(p.Columns(TableEvents)); n != 4 {
		t.Fatalf("%d columns after a refused batch, want 4", n)
	}
	if n, _ := countRows(t, s, "p"); n != 3 {
		t.Fatalf("%d rows after a refused batch, want 3", n)
	}
	if err := p.Ingest([]Event{ev("6", "e", "A")}); err != nil {
		t.Fatalf("a batch reaching the limit exactly: %v", err)
	}
	if err := p.UpdateProfiles(TablePeople, []ProfileOp{{Key: "u", Op: opSet, Props: []Prop{{Key: "x1", Value: IntValue(1)}, {Key: "x2", Value: IntValue(1)},
		{Key: "x3", Value: IntValue(1)}, {Key: "x4", Value: IntValue(1)}, {Key: "x5", Value: IntValue(1)}, {Key: "x6", Value: IntValue(1)}}}}); !errors.As(err, &ce) {
		t.Fatalf("profile update past the limit: %v", err)
	}
	s.Close()
	// Replay and segments keep the 5 columns however the limit is set.
	opts.MaxColumns = 2
	s, err = Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	p, _ = s.Project("p")
	if n, _ := countRows(t, s, "p"); n != 4 || len(p.Columns(TableEvents)) != 5 {
		t.Fatalf("%d rows, %d columns after reopening, want 4 and 5", n, len(p.Columns(TableEvents)))
	}
}

package storage

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"
)

// A project is one tenant: a MySQL database with its own events and
// people, an ingest token (public, used by SDKs) and an API secret.

// projectNamePattern is what a project name may look like: it becomes a
// MySQL database name and part of file names, so it stays plain.
var projectNamePattern = regexp.MustCompile(`^[a-z0-9_][a-z0-9_-]{0,63}$`)

// ValidateProjectName returns an error naming what is wrong with name.
func ValidateProjectName(name string) error {
	if !projectNamePattern.MatchString(name) {
		return fmt.Errorf("project name %q: use 1 to 64 lower-case letters, digits, '_' or '-'", name)
	}
	if name == "arb" || name == "mysql" || name == "information_schema" {
		return fmt.Errorf("project name %q is reserved", name)
	}
	return nil
}

// NewCredential returns a random 32-hex-digit token or secret.
func NewCredential() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("BUG: crypto/rand failed: " + err.Error())
	}
	return hex.EncodeToString(b[:])
}

// reservedEventColumns are the events table's own columns; no property
// may take their names (compared case-insensitively, as MySQL does).
var reservedEventColumns = []string{ColTime, ColEvent, ColDistinctID, ColRawDistinctID, ColInsertID, "properties"}

// ValidatePropertyKey returns an error naming what is wrong with a
// property key that is about to become a column of table.
func ValidatePropertyKey(table, key string) error {
	switch {
	case key == "":
		return fmt.Errorf("property name is empty")
	case len(key) > 255:
		return fmt.Errorf("property name %.40q… is longer than 255 bytes", key)
	case !utf8.ValidString(key):
		return fmt.Errorf("property name %q is not valid UTF-8", key)
	case strings.ContainsRune(key, 0):
		return fmt.Errorf("property name %q contains a NUL byte", key)
	}
	reserved := reservedEventColumns
	switch table {
	case TablePeople:
		reserved = []string{ColDistinctID}
	case TableGroups:
		reserved = []string{ColGroupKey, ColGroupID}
	}
	for _, r := range reserved {
		if strings.EqualFold(key, r) {
			return fmt.Errorf("property name %q is a fixed column of %s", key, table)
		}
	}
	return nil
}

// Table names a project's tables.
const (
	TableEvents = "events"
	TablePeople = "people"
)

// Schema is the ordered list of property columns of one table. Columns
// are only ever added or widened, never removed or narrowed.
//
// Not safe for concurrent use: the owning project guards it.
type Schema struct {
	cols  []Column
	index map[string]int // lower-cased name → position in cols
	// bigInts holds the lower-cased names of int columns that hold a value
	// beyond ±2^53, which float64 cannot hold exactly: such a column that
	// meets a float widens to string instead.
	bigInts map[string]bool
}

func newSchema(cols []Column, bigInts []string) *Schema {
	s := &Schema{index: make(map[string]int, len(cols)), bigInts: map[string]bool{}}
	for _, c := range cols {
		s.widen(c.Name, c.Type)
	}
	for _, n := range bigInts {
		s.bigInts[strings.ToLower(n)] = true
	}
	return s
}

// bigIntColumns lists the columns flagged in bigInts, for the manifest.
func (s *Schema) bigIntColumns() []string {
	var names []string
	for _, c := range s.cols {
		if s.bigInts[strings.ToLower(c.Name)] {
			names = append(names, c.Name)
		}
	}
	return names
}

// Columns returns a copy of the columns in discovery order.
func (s *Schema) Columns() []Column { return append([]Column(nil), s.cols...) }

// Lookup finds a column case-insensitively, as MySQL names work.
func (s *Schema) Lookup(name string) (Column, bool) {
	i, ok := s.index[strings.ToLower(name)]
	if !ok {
		return Column{}, false
	}
	return s.cols[i], true
}

// DefaultMaxColumns is the default bound on a table's property columns
// (Options.MaxColumns): wide enough for any tracking plan, narrow enough
// that SELECT * and DESCRIBE stay quick and one request cannot flood the
// catalog.
const DefaultMaxColumns = 4096

// newColumns lists the property names of rows that would add a column
// (first spelling, in order of appearance). Rows with the same keys as
// the one before cost a comparison of names, not look-ups.
func (s *Schema) newColumns(rows []Event) []string {
	var prev []Prop
	var out []string
	var seen map[string]bool
	for i := range rows {
		props := rows[i].Props
		if i > 0 && sameKeys(props, prev) {
			continue
		}
		prev = props
		for _, p := range props {
			if p.Value.Type == TypeNull {
				continue
			}
			k := strings.ToLower(p.Key)
			if _, ok := s.index[k]; ok || seen[k] {
				continue
			}
			if seen == nil {
				seen = map[string]bool{}
			}
			seen[k] = true
			out = append(out, p.Key)
		}
	}
	return out
}

// checkLimit refuses, with a *ColumnLimitError, rows that would take s
// (the schema of table) past limit columns.
func (s *Schema) checkLimit(table string, rows []Event, limit int) error {
	if added := s.newColumns(rows); len(s.cols)+len(added) > limit {
		return &ColumnLimitError{Table: table, Limit: limit, Have: len(s.cols), New: added}
	}
	return nil
}

// checkJoin refuses, with a *ColumnLimitError, a join of o into s (join)
// that would take s past limit columns.
func (s *Schema) checkJoin(o *Schema, limit int) error {
	var added []string
	for _, c := range o.cols {
		if _, ok := s.Lookup(c.Name); !ok {
			added = append(added, c.Name)
		}
	}
	if len(s.cols)+len(added) > limit {
		return &ColumnLimitError{Table: TableEvents, Limit: limit, Have: len(s.cols), New: added}
	}
	return nil
}

// join widens s to hold every value o's columns hold: each column of o
// added or widened (big-integer flags first, so that an int column with
// such values that meets a float becomes a string column, as in fitProps).
func (s *Schema) join(o *Schema) {
	for k := range o.bigInts {
		s.bigInts[k] = true
	}
	for _, c := range o.cols {
		s.widen(c.Name, c.Type)
	}
}

func sameKeys(a, b []Prop) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Key != b[i].Key || (a[i].Value.Type == TypeNull) != (b[i].Value.Type == TypeNull) {
			return false
		}
	}
	return true
}

// widen adds the column or widens its type to hold t; it reports whether
// anything changed. A name differing only in case from an existing column
// is the same column (MySQL column names are case-insensitive).
func (s *Schema) widen(name string, t ColumnType) bool {
	key := strings.ToLower(name)
	if i, ok := s.index[key]; ok {
		w := Widen(s.cols[i].Type, t)
		if w == TypeFloat && s.bigInts[key] {
			w = TypeString
		}
		if w == s.cols[i].Type {
			return false
		}
		s.cols[i].Type = w
		return true
	}
	if t == TypeNull {
		return false
	}
	s.index[key] = len(s.cols)
	s.cols = append(s.cols, Column{Name: name, Type: t})
	return true
}

// fitProps widens s so that every value of props fits, converting values in
// place where their column is wider (a float for an int column, anything
// for a string column) and widening further when a conversion would lose
// digits (an int beyond 2^53 in a float column makes it a string column).
// Property names are taken as the column's existing spelling.
func (s *Schema) fitProps(props []Prop) {
	for i := range props {
		p := &props[i]
		if p.Value.Type == TypeInt && (p.Value.Int > maxExactFloatInt || p.Value.Int < -maxExactFloatInt) {
			s.bigInts[strings.ToLower(p.Key)] = true
		}
		s.widen(p.Key, p.Value.Type)
		c, _ := s.Lookup(p.Key)
		p.Key = c.Name
		if v, ok := p.Value.Convert(c.Type); ok {
			p.Value = v
			continue
		}
		s.widen(p.Key, TypeString)
		p.Value, _ = p.Value.Convert(TypeString)
	}
}

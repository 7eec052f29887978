package engine

import (
	"fmt"
	"strings"

	"arb/storage"
)

// Predicate is a filter over event rows with SQL's three-valued logic: a
// row passes only where the predicate is TRUE (not FALSE, not UNKNOWN).
// Column names are case-insensitive; a property a row lacks is NULL.
// Comparisons: numbers (bool, int, float) numerically, strings byte-wise,
// times by millisecond; NULL, or a string against a number, is UNKNOWN.
type Predicate interface{ String() string }

type (
	And     struct{ Terms []Predicate }
	Or      struct{ Terms []Predicate }
	Not     struct{ Term Predicate }
	Compare struct {
		Column string
		Op     CompareOp
		Value  storage.Value // never NULL
	}
	In struct {
		Column string
		Values []storage.Value // non-empty, no NULL
	}
	IsNull struct{ Column string }
	// Prefix is LIKE 'prefix%' (byte-wise).
	Prefix struct {
		Column string
		Prefix string
	}
	// InCohort is TRUE for the rows of users (canonical distinct_id) who
	// have at least one event for which Filter is TRUE, FALSE for the
	// others: `distinct_id IN (SELECT distinct_id FROM events WHERE …)`.
	// Build it with NewInCohort, which names its membership column once.
	InCohort struct {
		Filter Predicate
		col    string // cohortColumnPrefix + Filter.String()
	}
)

// CompareOp is a comparison operator.
type CompareOp uint8

const (
	OpEQ CompareOp = iota
	OpNE
	OpLT
	OpLE
	OpGT
	OpGE
)

var opText = [...]string{"=", "!=", "<", "<=", ">", ">="}

func (o CompareOp) String() string { return opText[o] }

func joinTerms(terms []Predicate, sep string) string {
	parts := make([]string, len(terms))
	for i, t := range terms {
		parts[i] = t.String()
	}
	return "(" + strings.Join(parts, sep) + ")"
}

func literal(v storage.Value) string {
	switch v.Type {
	case storage.TypeString, storage.TypeJSON:
		return fmt.Sprintf("%q", v.Str)
	case storage.TypeTime:
		return fmt.Sprintf("time_ms(%d)", v.Int)
	}
	return v.Text()
}

func (p And) String() string     { return joinTerms(p.Terms, " AND ") }
func (p Or) String() string      { return joinTerms(p.Terms, " OR ") }
func (p Not) String() string     { return "NOT " + p.Term.String() }
func (p Compare) String() string { return fmt.Sprintf("%s %s %s", p.Column, p.Op, literal(p.Value)) }
func (p IsNull) String() string  { return p.Column + " IS NULL" }
func (p Prefix) String() string  { return fmt.Sprintf("%s LIKE %q", p.Column, p.Prefix+"%") }
func (p InCohort) String() string {
	if p.Filter == nil {
		return "distinct_id IN cohort(all)"
	}
	return "distinct_id IN cohort(" + p.Filter.String() + ")"
}
func (p In) String() string {
	parts := make([]string, len(p.Values))
	for i, v := range p.Values {
		parts[i] = literal(v)
	}
	return fmt.Sprintf("%s IN (%s)", p.Column, strings.Join(parts, ", "))
}

// tri is a three-valued truth value.
type tri uint8

const (
	tFalse tri = iota
	tTrue
	tUnknown
)

func triOf(b bool) tri {
	if b {
		return tTrue
	}
	return tFalse
}

// compareValues compares a row value (already of its column's current
// type) with a literal; ok is false where SQL's answer is UNKNOWN.
func compareValues(v, lit storage.Value) (c int, ok bool) {
	if v.IsNull() || lit.IsNull() {
		return 0, false
	}
	vs, ls := isText(v.Type), isText(lit.Type)
	switch {
	case vs && ls:
		return strings.Compare(v.Str, lit.Str), true
	case v.Type == storage.TypeTime && lit.Type == storage.TypeTime:
		return cmpInt(v.Int, lit.Int), true
	case isNumber(v.Type) && isNumber(lit.Type):
		if v.Type != storage.TypeFloat && lit.Type != storage.TypeFloat {
			return cmpInt(v.Int, lit.Int), true
		}
		a, b := asFloat(v), asFloat(lit)
		switch {
		case a < b:
			return -1, true
		case a > b:
			return 1, true
		case a == b:
			return 0, true
		}
	}
	return 0, false
}

func isText(t storage.ColumnType) bool { return t == storage.TypeString || t == storage.TypeJSON }
func isNumber(t storage.ColumnType) bool {
	return t == storage.TypeInt || t == storage.TypeFloat || t == storage.TypeBool
}

func asFloat(v storage.Value) float64 {
	if v.Type == storage.TypeFloat {
		return v.Float
	}
	return float64(v.Int)
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func opHolds(op CompareOp, c int) bool {
	switch op {
	case OpEQ:
		return c == 0
	case OpNE:
		return c != 0
	case OpLT:
		return c < 0
	case OpLE:
		return c <= 0
	case OpGT:
		return c > 0
	}
	return c >= 0
}

// eval evaluates p for one row; get returns the row's value of a column
// (named as in the predicate), converted to the column's current type.
func eval(p Predicate, get func(col string) storage.Value) tri {
	switch p := p.(type) {
	case And:
		out := tTrue
		for _, t := range p.Terms {
			switch eval(t, get) {
			case tFalse:
				return tFalse
			case tUnknown:
				out = tUnknown
			}
		}
		return out
	case Or:
		out := tFalse
		for _, t := range p.Terms {
			switch eval(t, get) {
			case tTrue:
				return tTrue
			case tUnknown:
				out = tUnknown
			}
		}
		return out
	case Not:
		switch eval(p.Term, get) {
		case tTrue:
			return tFalse
		case tFalse:
			return tTrue
		}
		return tUnknown
	case Compare:
		c, ok := compareValues(get(p.Column), p.Value)
		if !ok {
			return tUnknown
		}
		return triOf(opHolds(p.Op, c))
	case In:
		v := get(p.Column)
		if v.IsNull() {
			return tUnknown
		}
		out := tFalse
		for _, lit := range p.Values {
			c, ok := compareValues(v, lit)
			if !ok {
				out = tUnknown
			} else if c == 0 {
				return tTrue
			}
		}
		return out
	case IsNull:
		return triOf(get(p.Column).IsNull())
	case Prefix:
		v := get(p.Column)
		if v.IsNull() {
			return tUnknown
		}
		if !isText(v.Type) {
			return tUnknown
		}
		return triOf(strings.HasPrefix(v.Str, p.Prefix))
	case InCohort:
		return triOf(get(p.column()).Int == 1)
	}
	panic(fmt.Sprintf("BUG: unknown predicate %T", p))
}

// columnsOf collects the columns p reads.
func columnsOf(p Predicate, into map[string]bool) {
	switch p := p.(type) {
	case And:
		for _, t := range p.Terms {
			columnsOf(t, into)
		}
	case Or:
		for _, t := range p.Terms {
			columnsOf(t, into)
		}
	case Not:
		columnsOf(p.Term, into)
	case Compare:
		into[p.Column] = true
	case In:
		into[p.Column] = true
	case IsNull:
		into[p.Column] = true
	case Prefix:
		into[p.Column] = true
	case InCohort:
		into[p.column()] = true
	}
}

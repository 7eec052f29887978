package native

import (
	"fmt"
	"time"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/vitess/go/sqltypes"

	"arb/storage"
)

// BatchSize is how many rows an operator puts in one batch at most.
const BatchSize = 4096

// Batch is a slice of a relation: N rows as columns, in the schema order
// of the operator that made it.
type Batch struct {
	N    int
	Cols []*Column
}

// Kind is how a Column holds its values.
type Kind uint8

const (
	KindNull   Kind = iota // every value NULL; no slice
	KindInt                // I: integers and booleans
	KindFloat              // F
	KindString             // S
	KindTime               // I: microseconds since the Unix epoch, UTC
	KindAny                // A: values as go-mysql-server's Eval returns them
)

var kindNames = [...]string{"null", "int", "float", "string", "time", "any"}

func (k Kind) String() string { return kindNames[k] }

// Column is one column of a batch. Type is the SQL type its values have
// (what the boundary converts them to); exactly the slice its Kind names
// holds the values, and Nulls (nil when there are none) marks NULL rows,
// whose slot in the value slice is a zero value.
//
// U, on a KindString column of distinct_ids straight from the events
// scan (or gathered, sliced, concatenated from such columns), holds each
// row's canonical user number beside its string, numbered by Users.
// Operators that key or count users (hash join, group table, COUNT
// DISTINCT, EXISTS sets) hash the numbers instead of the strings.
// INVARIANT: U != nil only with Kind == KindString, Users != nil and
// len(U) == len(S); for every non-NULL row r, S[r] == Users.ID(U[r]).
// Storage gives each distinct string one number, so two rows' numbers
// (under numberings with Users.SameNumbering) are equal exactly when
// their strings are byte for byte. Code that builds a column from
// another's values leaves U nil unless it keeps that invariant.
//
// Codes, on a KindString column straight from the events scan (or
// gathered, sliced from one), holds each row's code in Dict, the
// segment's dictionary of the column. Operators that key strings by
// their bytes (the group table, filters comparing with constants) map a
// dictionary's codes once instead of hashing every row's string.
// INVARIANT: Codes != nil only with Kind == KindString, Dict != nil and
// len(Codes) == len(S); for every non-NULL row r, Codes[r] indexes Dict
// and S[r] == Dict[Codes[r]]. A dictionary holds each string once, so
// under one Dict (same first element and length) equal codes are
// exactly equal strings. Codes and Dict are shared (with the block
// cache, with other batches): read-only. Code that builds a column from
// another's values leaves Codes nil unless it keeps that invariant.
//
// The one exception to S being filled: a scan column that a
// HashAggregate above reads only as a GROUP BY key and as its groups'
// first value, through scan stages that hand it on or read it by code
// (a filter's coded conjunct), may come with Codes and S nil
// (hash_aggregate.go's codesOnlyColumns, scanOp.codesOnly); the group
// table, firstAgg and the coded filter read it by code. Len, Value,
// str, Gather and Slice read such a column too, and the filter gives it
// its strings before evaluating a condition whole (withStrings).
// Anything else must never see one: a loop over S would see no rows, so
// the analysis that marks columns is conservative (any other reference
// to a column keeps its strings).
// INVARIANT: S == nil with rows only when Codes != nil.
//
// Bounded, Lo, Hi and Const are hints about the values that let an
// operator prove something of a whole batch at once (column_hints.go
// states their invariants). Every column may leave them unset; code that
// builds a column from another's values leaves them unset unless it
// keeps their invariants.
type Column struct {
	Kind  Kind
	Type  sql.Type
	Nulls []bool
	I     []int64
	F     []float64
	S     []string
	A     []any
	U     []uint32
	Users *storage.UserIDs
	Codes []uint32
	Dict  []string

	Bounded bool
	Lo, Hi  int64
	Const   bool
}

// widerNumbering is whichever of a and b, views of one numbering, knows
// more users: the one whose ids to read for numbers from either.
func widerNumbering(a, b *storage.UserIDs) *storage.UserIDs {
	if a == nil || (b != nil && b.Len() > a.Len()) {
		return b
	}
	return a
}

// dictCodes is c's dictionary codes and their dictionary, nil when c
// has none.
func (c *Column) dictCodes() ([]uint32, []string) {
	if c.Codes == nil || c.Kind != KindString {
		return nil, nil
	}
	return c.Codes, c.Dict
}

// strOrEmpty is row r of KindString column c as its S holds it: "" for
// a NULL row (whose code may index nothing).
func (c *Column) strOrEmpty(r int) string {
	if c.IsNull(r) {
		return ""
	}
	return c.str(r)
}

// str is row r (not NULL) of KindString column c, from its dictionary
// when the column carries codes alone.
func (c *Column) str(r int) string {
	if c.S == nil && c.Codes != nil {
		return c.Dict[c.Codes[r]]
	}
	return c.S[r]
}

// sameDict reports whether a and b are one dictionary (the codes of one
// index the other's strings).
func sameDict(a, b []string) bool { return sameMemory(a, b) }

// sameMemory reports whether a and b are one slice: the same length
// over the same memory.
func sameMemory[T any](a, b []T) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}

// userNumbers is c's user numbers and their numbering, nil when c has
// none.
func (c *Column) userNumbers() ([]uint32, *storage.UserIDs) {
	if c.U == nil || c.Kind != KindString {
		return nil, nil
	}
	return c.U, c.Users
}

// KindOf is the Kind that holds values of SQL type t.
func KindOf(t sql.Type) Kind {
	switch t.Type() {
	case sqltypes.Int8, sqltypes.Int16, sqltypes.Int24, sqltypes.Int32, sqltypes.Int64,
		sqltypes.Uint8, sqltypes.Uint16, sqltypes.Uint24, sqltypes.Uint32:
		return KindInt
	case sqltypes.Float32, sqltypes.Float64:
		return KindFloat
	case sqltypes.VarChar, sqltypes.Char, sqltypes.Text:
		return KindString
	case sqltypes.Datetime, sqltypes.Timestamp, sqltypes.Date:
		return KindTime
	case sqltypes.Null:
		return KindNull
	}
	return KindAny
}

// NewColumn is an empty column of type t with room for n values.
func NewColumn(t sql.Type, n int) *Column {
	c := &Column{Kind: KindOf(t), Type: t}
	switch c.Kind {
	case KindInt, KindTime:
		c.I = make([]int64, 0, n)
	case KindFloat:
		c.F = make([]float64, 0, n)
	case KindString:
		c.S = make([]string, 0, n)
	case KindAny:
		c.A = make([]any, 0, n)
	}
	return c
}

// Len is the number of values.
func (c *Column) Len() int {
	switch c.Kind {
	case KindInt, KindTime:
		return len(c.I)
	case KindFloat:
		return len(c.F)
	case KindString:
		if c.S == nil {
			return len(c.Codes)
		}
		return len(c.S)
	case KindAny:
		return len(c.A)
	}
	return len(c.Nulls)
}

// IsNull reports whether row r is NULL.
func (c *Column) IsNull(r int) bool {
	return c.Kind == KindNull || (c.Nulls != nil && c.Nulls[r])
}

// setNull marks the last of n appended values NULL (Nulls, when
// present, holds the n-1 before it).
func (c *Column) setNull(n int) {
	if c.Nulls == nil {
		c.Nulls = make([]bool, n, max(n, cap(c.I), cap(c.F), cap(c.S), cap(c.A)))
		c.Nulls[n-1] = true
		return
	}
	c.Nulls = append(c.Nulls[:n-1], true)
}

// notNull records that the last appended value is not NULL.
func (c *Column) notNull(n int) {
	if c.Nulls != nil {
		c.Nulls = append(c.Nulls[:n-1], false)
	}
}

// AppendNull appends a NULL.
func (c *Column) AppendNull() {
	switch c.Kind {
	case KindInt, KindTime:
		c.I = append(c.I, 0)
	case KindFloat:
		c.F = append(c.F, 0)
	case KindString:
		c.S = append(c.S, "")
	case KindAny:
		c.A = append(c.A, nil)
	case KindNull:
		c.Nulls = append(c.Nulls, true)
		return
	}
	c.setNull(c.Len())
}

// Append appends v, a value of the column's SQL type as go-mysql-server
// represents it (nil is NULL). A value the Kind cannot hold exactly turns
// the column into KindAny, which holds anything.
func (c *Column) Append(v any) {
	if v == nil {
		c.AppendNull()
		return
	}
	ok := true
	switch c.Kind {
	case KindInt:
		var i int64
		if i, ok = IntOf(v); ok {
			c.I = append(c.I, i)
		}
	case KindFloat:
		var f float64
		if f, ok = floatOf(v); ok {
			c.F = append(c.F, f)
		}
	case KindString:
		var s string
		if s, ok = v.(string); ok {
			c.S = append(c.S, s)
		}
	case KindTime:
		var t time.Time
		if t, ok = v.(time.Time); ok {
			c.I = append(c.I, t.UnixMicro())
		}
	case KindAny:
		c.A = append(c.A, v)
	case KindNull:
		ok = false
	}
	if !ok {
		c.toAny()
		c.A = append(c.A, v)
	}
	c.notNull(c.Len())
}

// toAny converts the column to KindAny in place.
func (c *Column) toAny() {
	if c.Kind == KindAny {
		return
	}
	n := c.Len()
	a := make([]any, n, max(n, 16))
	for r := range n {
		a[r] = c.Value(r)
	}
	c.Kind, c.A, c.I, c.F, c.S, c.U, c.Users, c.Codes, c.Dict = KindAny, a, nil, nil, nil, nil, nil, nil, nil
	if c.Nulls == nil && n > 0 && a[0] == nil { // was KindNull
		c.Nulls = make([]bool, n)
		for r := range c.Nulls {
			c.Nulls[r] = true
		}
	}
}

// IntOf is v as an int64 when it is a signed integer, a bool (0 or 1)
// or an unsigned one of up to 32 bits.
func IntOf(v any) (int64, bool) {
	switch x := v.(type) {
	case int64:
		return x, true
	case int8:
		return int64(x), true
	case int16:
		return int64(x), true
	case int32:
		return int64(x), true
	case int:
		return int64(x), true
	case uint8:
		return int64(x), true
	case uint16:
		return int64(x), true
	case uint32:
		return int64(x), true
	case bool:
		if x {
			return 1, true
		}
		return 0, true
	}
	return 0, false
}

func floatOf(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case float32:
		return float64(x), true
	}
	return 0, false
}

// Value is row r as go-mysql-server represents a value of the column's
// SQL type (nil for NULL).
func (c *Column) Value(r int) any {
	if c.IsNull(r) {
		return nil
	}
	switch c.Kind {
	case KindInt:
		return intValue(c.Type, c.I[r])
	case KindFloat:
		if c.Type.Type() == sqltypes.Float32 {
			return float32(c.F[r])
		}
		return c.F[r]
	case KindString:
		return c.str(r)
	case KindTime:
		return time.UnixMicro(c.I[r]).UTC()
	case KindAny:
		return c.A[r]
	}
	return nil
}

// intValue is i as the Go type go-mysql-server uses for integer type t.
func intValue(t sql.Type, i int64) any {
	switch t.Type() {
	case sqltypes.Int8:
		return int8(i)
	case sqltypes.Int16:
		return int16(i)
	case sqltypes.Int24, sqltypes.Int32:
		return int32(i)
	case sqltypes.Uint8:
		return uint8(i)
	case sqltypes.Uint16:
		return uint16(i)
	case sqltypes.Uint24, sqltypes.Uint32:
		return uint32(i)
	}
	return i
}

// Gather is a new column of c's rows at idx, in that order; an index of
// -1 gives a NULL (the missing side of an outer join).
func (c *Column) Gather(idx []int32) *Column {
	out := &Column{Kind: c.Kind, Type: c.Type}
	n := len(idx)
	var nulls []bool
	mark := func(i int) {
		if nulls == nil {
			nulls = make([]bool, n)
		}
		nulls[i] = true
	}
	switch c.Kind {
	case KindInt, KindTime:
		out.I = make([]int64, n)
		for i, r := range idx {
			if r < 0 || c.IsNull(int(r)) {
				mark(i)
				continue
			}
			out.I[i] = c.I[r]
		}
	case KindFloat:
		out.F = make([]float64, n)
		for i, r := range idx {
			if r < 0 || c.IsNull(int(r)) {
				mark(i)
				continue
			}
			out.F[i] = c.F[r]
		}
	case KindString:
		out.S = make([]string, n)
		if c.U != nil {
			out.U, out.Users = make([]uint32, n), c.Users
		}
		if c.Codes != nil {
			out.Codes, out.Dict = make([]uint32, n), c.Dict
		}
		for i, r := range idx {
			if r < 0 || c.IsNull(int(r)) {
				mark(i)
				continue
			}
			out.S[i] = c.str(int(r))
			if c.U != nil {
				out.U[i] = c.U[r]
			}
			if c.Codes != nil {
				out.Codes[i] = c.Codes[r]
			}
		}
	case KindAny:
		out.A = make([]any, n)
		for i, r := range idx {
			if r < 0 || c.IsNull(int(r)) {
				mark(i)
				continue
			}
			out.A[i] = c.A[r]
		}
	case KindNull:
		nulls = make([]bool, n)
		for i := range nulls {
			nulls[i] = true
		}
	}
	out.Nulls = nulls
	out.subsetHints(c)
	return out
}

// Slice is rows [from, to) of c, sharing its storage.
func (c *Column) Slice(from, to int) *Column {
	out := &Column{Kind: c.Kind, Type: c.Type}
	if c.Nulls != nil {
		out.Nulls = c.Nulls[from:to]
	}
	switch c.Kind {
	case KindInt, KindTime:
		out.I = c.I[from:to]
	case KindFloat:
		out.F = c.F[from:to]
	case KindString:
		if c.S != nil || c.Codes == nil {
			out.S = c.S[from:to]
		}
		if c.U != nil {
			out.U, out.Users = c.U[from:to], c.Users
		}
		if c.Codes != nil {
			out.Codes, out.Dict = c.Codes[from:to], c.Dict
		}
	case KindAny:
		out.A = c.A[from:to]
	case KindNull:
		if to-from <= len(allNulls) {
			out.Nulls = allNulls[: to-from : to-from]
			break
		}
		out.Nulls = make([]bool, to-from)
		for i := range out.Nulls {
			out.Nulls[i] = true
		}
	}
	out.subsetHints(c)
	return out
}

// Gather is a new batch of b's rows at idx (see Column.Gather).
func (b *Batch) Gather(idx []int32) *Batch {
	out := &Batch{N: len(idx), Cols: make([]*Column, len(b.Cols))}
	for i, c := range b.Cols {
		out.Cols[i] = c.Gather(idx)
	}
	return out
}

// Slice is rows [from, to) of b.
func (b *Batch) Slice(from, to int) *Batch {
	out := &Batch{N: to - from, Cols: make([]*Column, len(b.Cols))}
	for i, c := range b.Cols {
		out.Cols[i] = c.Slice(from, to)
	}
	return out
}

// Row is row r as a go-mysql-server row.
func (b *Batch) Row(r int) sql.Row {
	row := make(sql.Row, len(b.Cols))
	for j, c := range b.Cols {
		row[j] = c.Value(r)
	}
	return row
}

// FillRow writes row r into row (len(row) ≥ len(b.Cols)), from index off.
func (b *Batch) FillRow(r int, row sql.Row, off int) {
	for j, c := range b.Cols {
		row[off+j] = c.Value(r)
	}
}

// BatchFromRows builds a batch of schema sch from rows.
func BatchFromRows(sch sql.Schema, rows []sql.Row) *Batch {
	b := &Batch{N: len(rows), Cols: make([]*Column, len(sch))}
	for j, col := range sch {
		c := NewColumn(col.Type, len(rows))
		for _, row := range rows {
			c.Append(row[j])
		}
		b.Cols[j] = c
	}
	return b
}

// ConstColumn is n copies of v, of type t.
func ConstColumn(t sql.Type, v any, n int) *Column {
	c := NewColumn(t, n)
	for range n {
		c.Append(v)
	}
	return c
}

// Bytes estimates the memory b holds, for the memory budget.
func (b *Batch) Bytes() int64 {
	var n int64
	for _, c := range b.Cols {
		n += c.Bytes()
	}
	return n
}

// Bytes estimates the memory c holds.
func (c *Column) Bytes() int64 {
	n := c.slotBytes()
	for _, s := range c.S {
		n += int64(len(s))
	}
	return n
}

// slotBytes is Bytes without the strings' contents.
func (c *Column) slotBytes() int64 {
	return int64(len(c.Nulls)) + 8*int64(len(c.I)+len(c.F)) + 16*int64(len(c.A)+len(c.S)) + 4*int64(len(c.U)+len(c.Codes))
}

func (c *Column) String() string { return fmt.Sprintf("%s %s ×%d", c.Kind, c.Type, c.Len()) }

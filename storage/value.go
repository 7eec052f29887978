package storage

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
)

// ColumnType is the stored type of a column or a single value.
//
// Wire format: these numbers are written in WAL records, segments and the
// manifest. Never renumber them.
type ColumnType uint8

const (
	TypeNull   ColumnType = 0 // no value; a column never has this type
	TypeBool   ColumnType = 1 // Value.Int is 0 or 1
	TypeInt    ColumnType = 2 // Value.Int
	TypeFloat  ColumnType = 3 // Value.Float
	TypeString ColumnType = 4 // Value.Str, valid UTF-8
	TypeJSON   ColumnType = 5 // Value.Str holds JSON text (object or array)
	TypeTime   ColumnType = 6 // Value.Int, Unix milliseconds UTC
)

func (t ColumnType) String() string {
	switch t {
	case TypeNull:
		return "null"
	case TypeBool:
		return "bool"
	case TypeInt:
		return "int"
	case TypeFloat:
		return "float"
	case TypeString:
		return "string"
	case TypeJSON:
		return "json"
	case TypeTime:
		return "time"
	}
	return fmt.Sprintf("type(%d)", uint8(t))
}

// Valid reports whether t is a known type number.
func (t ColumnType) Valid() bool { return t <= TypeTime }

// Widen returns the narrowest column type that holds every value of a and
// of b without loss: int+float → float; any other mix → string. TypeNull
// is the identity. Widening never narrows: Widen(a, b) is a or wider.
//
// Float64 holds integers exactly up to 2^53; an int column widened to
// float with larger magnitudes would lose digits, which is why Convert
// refuses such values (the caller then widens to string).
func Widen(a, b ColumnType) ColumnType {
	switch {
	case a == b:
		return a
	case a == TypeNull:
		return b
	case b == TypeNull:
		return a
	case (a == TypeInt && b == TypeFloat) || (a == TypeFloat && b == TypeInt):
		return TypeFloat
	}
	return TypeString
}

// Value is one cell. The zero Value is NULL.
type Value struct {
	Type  ColumnType
	Int   int64
	Float float64
	Str   string
}

func IntValue(v int64) Value     { return Value{Type: TypeInt, Int: v} }
func FloatValue(v float64) Value { return Value{Type: TypeFloat, Float: v} }
func StringValue(v string) Value { return Value{Type: TypeString, Str: v} }
func JSONValue(v string) Value   { return Value{Type: TypeJSON, Str: v} }
func TimeValue(ms int64) Value   { return Value{Type: TypeTime, Int: ms} }
func BoolValue(v bool) Value {
	if v {
		return Value{Type: TypeBool, Int: 1}
	}
	return Value{Type: TypeBool}
}

func (v Value) IsNull() bool { return v.Type == TypeNull }

// maxExactFloatInt is the largest magnitude an int64 keeps through float64.
const maxExactFloatInt = 1 << 53

// Convert returns v as a value of column type t. It succeeds only where
// the conversion is lossless (v's type widens to t); ok is false
// otherwise. NULL converts to NULL.
func (v Value) Convert(t ColumnType) (out Value, ok bool) {
	if v.Type == TypeNull || v.Type == t {
		return v, true
	}
	switch t {
	case TypeFloat:
		if v.Type == TypeInt && v.Int <= maxExactFloatInt && v.Int >= -maxExactFloatInt {
			return FloatValue(float64(v.Int)), true
		}
	case TypeString:
		return StringValue(v.Text()), true
	}
	return Value{}, false
}

// Text renders v as the string a string column stores for it: integers in
// decimal, floats in the shortest form that parses back to the same
// float64, booleans as true/false, JSON as its text. NULL renders as "".
func (v Value) Text() string {
	switch v.Type {
	case TypeBool:
		if v.Int != 0 {
			return "true"
		}
		return "false"
	case TypeInt:
		return strconv.FormatInt(v.Int, 10)
	case TypeFloat:
		return strconv.FormatFloat(v.Float, 'g', -1, 64)
	case TypeString, TypeJSON:
		return v.Str
	case TypeTime:
		return strconv.FormatInt(v.Int, 10)
	}
	return ""
}

// MarshalJSON renders v as the JSON value it stands for (JSON text is
// embedded as is; NaN and infinities, which JSON lacks, as null).
func (v Value) MarshalJSON() ([]byte, error) {
	switch v.Type {
	case TypeBool:
		return []byte(v.Text()), nil
	case TypeInt, TypeTime:
		return []byte(strconv.FormatInt(v.Int, 10)), nil
	case TypeFloat:
		if math.IsNaN(v.Float) || math.IsInf(v.Float, 0) {
			return []byte("null"), nil
		}
		return json.Marshal(v.Float)
	case TypeString:
		return json.Marshal(v.Str)
	case TypeJSON:
		return []byte(v.Str), nil
	}
	return []byte("null"), nil
}

package server

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/types"
	"github.com/dolthub/vitess/go/sqltypes"

	"arb/ingest"
	"arb/storage"
)

// How storage types look in SQL. Strings use a binary collation: event
// names and property values are case-sensitive, and comparisons stay
// byte-wise so that the engine's pushed-down filters agree with
// go-mysql-server's own.
var (
	sqlTime   = types.MustCreateDatetimeType(sqltypes.Datetime, 3)
	sqlString = types.CreateLongText(sql.Collation_utf8mb4_bin)
)

func sqlType(t storage.ColumnType) sql.Type {
	switch t {
	case storage.TypeBool:
		return types.Boolean
	case storage.TypeInt:
		return types.Int64
	case storage.TypeFloat:
		return types.Float64
	case storage.TypeJSON:
		return types.JSON
	case storage.TypeTime:
		return sqlTime
	}
	return sqlString
}

// toSQL converts a stored value to what go-mysql-server expects for a
// column of type t.
func toSQL(v storage.Value) any {
	switch v.Type {
	case storage.TypeNull:
		return nil
	case storage.TypeBool:
		return int8(v.Int)
	case storage.TypeInt:
		return v.Int
	case storage.TypeFloat:
		return v.Float
	case storage.TypeString:
		return v.Str
	case storage.TypeJSON:
		return types.NewLazyJSONDocument([]byte(v.Str))
	case storage.TypeTime:
		return time.UnixMilli(v.Int).UTC()
	}
	return nil
}

// fromSQL converts a value go-mysql-server produced for a column of
// storage type t (it has already converted it to the column's SQL type).
func fromSQL(ctx *sql.Context, t storage.ColumnType, v any) (storage.Value, error) {
	if v == nil {
		return storage.Value{}, nil
	}
	switch t {
	case storage.TypeBool:
		n, err := toInt64(v)
		return storage.BoolValue(n != 0), err
	case storage.TypeInt:
		n, err := toInt64(v)
		return storage.IntValue(n), err
	case storage.TypeFloat:
		f, _, err := types.Float64.Convert(ctx, v)
		if err != nil {
			return storage.Value{}, err
		}
		return storage.FloatValue(f.(float64)), nil
	case storage.TypeJSON:
		text, err := jsonText(ctx, v)
		return storage.JSONValue(text), err
	case storage.TypeTime:
		tm, ok := v.(time.Time)
		if !ok {
			return storage.Value{}, fmt.Errorf("%v is not a time", v)
		}
		return storage.TimeValue(tm.UnixMilli()), nil
	}
	s, _, err := sqlString.Convert(ctx, v)
	if err != nil {
		return storage.Value{}, err
	}
	return storage.StringValue(fmt.Sprint(s)), nil
}

func toInt64(v any) (int64, error) {
	switch n := v.(type) {
	case int8:
		return int64(n), nil
	case int16:
		return int64(n), nil
	case int32:
		return int64(n), nil
	case int64:
		return n, nil
	case int:
		return int64(n), nil
	case uint8:
		return int64(n), nil
	case uint16:
		return int64(n), nil
	case uint32:
		return int64(n), nil
	case uint64:
		if n > math.MaxInt64 {
			return 0, fmt.Errorf("%d is out of range for a 64-bit signed integer", n)
		}
		return int64(n), nil
	case bool:
		if n {
			return 1, nil
		}
		return 0, nil
	}
	return 0, fmt.Errorf("%v (%T) is not an integer", v, v)
}

// jsonText renders a JSON column value as JSON text.
func jsonText(ctx *sql.Context, v any) (string, error) {
	switch j := v.(type) {
	case types.JSONBytes:
		// A document that kept its text (exact_json.go, a stored JSON
		// value read back): every number as written.
		b, err := j.GetBytes(ctx)
		return string(b), err
	case sql.JSONWrapper:
		val, err := j.ToInterface(ctx)
		if err != nil {
			return "", err
		}
		b, err := json.Marshal(val)
		return string(b), err
	case string:
		if !json.Valid([]byte(j)) {
			return "", fmt.Errorf("not valid JSON")
		}
		return j, nil
	case []byte:
		if !json.Valid(j) {
			return "", fmt.Errorf("not valid JSON")
		}
		return string(j), nil
	}
	b, err := json.Marshal(v)
	return string(b), err
}

// propsFromJSON spreads a JSON object into properties, typing each value
// as ingestion does: integral numbers within ±2^53 as int, other numbers
// as float, strings, booleans, nested objects and arrays as JSON; nulls
// are dropped.
func propsFromJSON(text string) ([]storage.Prop, error) {
	dec := json.NewDecoder(strings.NewReader(text))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil {
		return nil, fmt.Errorf("not a JSON object: %v", err)
	}
	if obj == nil {
		return nil, nil
	}
	props := make([]storage.Prop, 0, len(obj))
	for k, raw := range obj {
		v, err := jsonValue(raw)
		if err != nil {
			return nil, fmt.Errorf("key %q: %v", k, err)
		}
		if !v.IsNull() {
			props = append(props, storage.Prop{Key: k, Value: v})
		}
	}
	slices.SortFunc(props, func(a, b storage.Prop) int { return strings.Compare(a.Key, b.Key) })
	return props, nil
}

// jsonValue types one decoded JSON value (decoded with UseNumber).
func jsonValue(raw any) (storage.Value, error) {
	switch x := raw.(type) {
	case nil:
		return storage.Value{}, nil
	case bool:
		return storage.BoolValue(x), nil
	case string:
		return storage.StringValue(x), nil
	case json.Number:
		return ingest.NumberValue(x)
	default:
		b, err := json.Marshal(x)
		if err != nil {
			return storage.Value{}, err
		}
		return storage.JSONValue(string(b)), nil
	}
}

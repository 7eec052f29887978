package server

// Column definitions as MySQL 8 sends them. go-mysql-server labels every
// column that has no collation of its own (numbers, dates and times) with
// the default character set, utf8mb4 (255); MySQL labels them binary (63)
// and sets BINARY_FLAG, and drivers read that label: Connector/J (Metabase,
// DBeaver, Tableau's JDBC path) treats a numeric column labelled with a
// text character set as text in some metadata calls, and libmysqlclient's
// `--column-type-info` shows the label.
//
// go-mysql-server also sends every TIME column with 0 decimals; a TIME
// that arb's functions type with fractional digits (CURTIME(3)) carries
// them in its column length (planner.TimeColumnLength), which binaryFields
// turns into MySQL's decimals and length.
//
// INVARIANT: after binaryFields, every column whose type is not a string
// type carries charset 63 and BINARY_FLAG; string, text, enum, set, JSON
// and geometry columns keep the character set go-mysql-server chose
// (binary strings already carry 63); a TIME(fsp) column of arb's carries
// decimals fsp and length 10, or 11 + fsp when fsp > 0.

import (
	querypb "github.com/dolthub/vitess/go/vt/proto/query"

	"arb/planner"
)

// collationBinary is MySQL's "binary" character set and collation id.
const collationBinary = 63

// binaryFields relabels fields in place as MySQL does (see above). It is
// idempotent, so a result's fields may pass through it more than once.
func binaryFields(fields []*querypb.Field) {
	for _, f := range fields {
		if nonStringType(f.Type) {
			f.Charset = collationBinary
			f.Flags |= uint32(querypb.MySqlFlag_BINARY_FLAG)
		}
		if f.Type == querypb.Type_TIME && f.Decimals == 0 {
			timeDecimals(f)
		}
	}
}

// timeDecimals sets a TIME column's decimals from the length arb's TIME
// types give (planner.TimeColumnLength); go-mysql-server's own TIME (17)
// and a length already turned back (10 for fsp 0) stay as they are.
func timeDecimals(f *querypb.Field) {
	for fsp := 1; fsp <= 6; fsp++ {
		if f.ColumnLength == planner.TimeColumnLength(fsp) {
			f.Decimals = uint32(fsp)
			f.ColumnLength = uint32(11 + fsp)
			return
		}
	}
}

// nonStringType reports whether MySQL labels columns of type t binary:
// numbers, bits, years, dates and times.
func nonStringType(t querypb.Type) bool {
	switch t {
	case querypb.Type_INT8, querypb.Type_UINT8, querypb.Type_INT16, querypb.Type_UINT16,
		querypb.Type_INT24, querypb.Type_UINT24, querypb.Type_INT32, querypb.Type_UINT32,
		querypb.Type_INT64, querypb.Type_UINT64, querypb.Type_FLOAT32, querypb.Type_FLOAT64,
		querypb.Type_DECIMAL, querypb.Type_BIT, querypb.Type_YEAR,
		querypb.Type_DATE, querypb.Type_TIME, querypb.Type_DATETIME, querypb.Type_TIMESTAMP:
		return true
	}
	return false
}

package storage

// Fixed column names of the events table. Property keys never take these
// names: ingest rejects a property that collides with one of them.
const (
	ColTime       = "time"
	ColEvent      = "event"
	ColDistinctID = "distinct_id"
	// ColRawDistinctID is the virtual events column with the distinct_id
	// as sent; distinct_id itself shows the canonical id (identity.go).
	ColRawDistinctID = "raw_distinct_id"
	ColInsertID      = "insert_id"
	// ColUserNumber is the segment column holding each row's user number
	// (see userid.go). The NUL byte keeps it out of any property's way:
	// ingest rejects keys containing NUL.
	ColUserNumber = "\x00user"
)

// Event is one row of a project's events table as ingested.
type Event struct {
	TimeMillis int64 // Unix milliseconds, UTC
	Name       string
	DistinctID string
	InsertID   string // "" when the sender gave none
	// Props holds the row's non-NULL properties, keys unique. Values keep
	// the type they arrived with; the column's type is in the schema and
	// is always as wide or wider (Widen).
	Props []Prop
}

// Prop is one property of an event: a column name and its value.
type Prop struct {
	Key   string
	Value Value
}

// Column describes one property column of a project's schema.
type Column struct {
	Name string     `json:"name"`
	Type ColumnType `json:"type"`
}

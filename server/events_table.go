package server

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/dolthub/go-mysql-server/sql"

	"arb/engine"
	"arb/planner"
	"arb/storage"
)

// colProperties is the events table's virtual JSON column: all properties
// of a row as one object. Inserting into it spreads its keys into columns.
const colProperties = "properties"

// fixedEventColumns is how many columns precede the property columns.
const fixedEventColumns = 6

// eventsTable is a project's events as a SQL table: time, event,
// distinct_id, insert_id, properties, then one column per property.
// A value is made per statement (GetTableInsensitive), with the schema of
// that moment; a projection (sql.ProjectedTable) and a pushed-down filter
// (planner.FilterableTable) narrow what the engine reads.
//
// Implements sql.Table, sql.ProjectedTable, sql.PrimaryKeyTable,
// sql.InsertableTable and planner.FilterableTable.
type eventsTable struct {
	project    *storage.Project
	columns    []storage.Column // property columns as this statement sees them
	projection []string         // nil: all columns
	filter     engine.Predicate // nil: no pushed-down filter
	// full and sch are the schemas of every column and of the projected
	// ones, built once: go-mysql-server asks for a table's schema once per
	// projected column while it plans, so rebuilding it made SELECT * on
	// a table of n columns cost O(n²) to O(n³).
	full, sch sql.Schema
}

var (
	_ sql.ProjectedTable   = (*eventsTable)(nil)
	_ sql.PrimaryKeyTable  = (*eventsTable)(nil)
	_ sql.InsertableTable  = (*eventsTable)(nil)
	_ sql.Table            = (*eventsTable)(nil)
	_ sql.PartitionCounter = (*eventsTable)(nil)

	_ planner.AggregatableTable = (*eventsTable)(nil)
)

func newEventsTable(ctx *sql.Context, p *storage.Project) *eventsTable {
	t := &eventsTable{project: p, columns: propertyColumns(ctx, p, storage.TableEvents)}
	t.full = t.fullSchema()
	t.sch = t.full
	return t
}

func (t *eventsTable) Name() string               { return storage.TableEvents }
func (t *eventsTable) Collation() sql.CollationID { return sql.Collation_utf8mb4_bin }
func (t *eventsTable) Projections() []string      { return t.projection }
func (t *eventsTable) Filter() engine.Predicate   { return t.filter }
func (t *eventsTable) Project() *storage.Project  { return t.project }
func (t *eventsTable) String() string {
	var b strings.Builder
	b.WriteString(t.project.Name() + ".events")
	if t.filter != nil {
		b.WriteString(" [engine filter: " + t.filter.String() + "]")
	}
	return b.String()
}

// fullSchema is every column in table order.
func (t *eventsTable) fullSchema() sql.Schema {
	src := storage.TableEvents
	s := sql.Schema{
		{Name: storage.ColTime, Type: sqlTime, Source: src, Nullable: true, DatabaseSource: t.project.Name()},
		{Name: storage.ColEvent, Type: sqlString, Source: src, Nullable: true, DatabaseSource: t.project.Name()},
		{Name: storage.ColDistinctID, Type: sqlString, Source: src, Nullable: true, DatabaseSource: t.project.Name()},
		{Name: storage.ColInsertID, Type: sqlString, Source: src, Nullable: true, DatabaseSource: t.project.Name()},
		{Name: colProperties, Type: sqlType(storage.TypeJSON), Source: src, Nullable: true, DatabaseSource: t.project.Name()},
		{Name: storage.ColRawDistinctID, Type: sqlString, Source: src, Nullable: true, DatabaseSource: t.project.Name()},
	}
	for _, c := range t.columns {
		s = append(s, &sql.Column{Name: c.Name, Type: sqlType(c.Type), Source: src, Nullable: true, DatabaseSource: t.project.Name()})
	}
	return s
}

func (t *eventsTable) Schema(*sql.Context) sql.Schema { return t.sch }

// projectedSchema is the columns of full named by projection, in its
// order; nil projection is every column.
func projectedSchema(full sql.Schema, projection []string) sql.Schema {
	if projection == nil {
		return full
	}
	index := make(map[string]int, len(full))
	for i, c := range full {
		k := strings.ToLower(c.Name)
		if _, seen := index[k]; !seen {
			index[k] = i // the first of names equal but for case, as IndexOfColName
		}
	}
	out := make(sql.Schema, 0, len(projection))
	for _, name := range projection {
		if i, ok := index[strings.ToLower(name)]; ok {
			out = append(out, full[i])
		}
	}
	return out
}

// PrimaryKeySchema is the full schema whatever the projection:
// go-mysql-server's statistics and filter indexing read it.
func (t *eventsTable) PrimaryKeySchema(*sql.Context) sql.PrimaryKeySchema {
	return sql.NewPrimaryKeySchema(t.full)
}

func (t *eventsTable) WithProjections(_ *sql.Context, colNames []string) (sql.Table, error) {
	nt := *t
	nt.projection = append([]string{}, colNames...)
	nt.sch = projectedSchema(nt.full, nt.projection)
	return &nt, nil
}

// WithFilter returns the table reading only rows that can satisfy f; the
// planner keeps its own filter above, so f may be a superset.
func (t *eventsTable) WithFilter(f engine.Predicate) sql.Table {
	nt := *t
	nt.filter = f
	return &nt
}

// ColumnType reports a column's storage type (planner.FilterableTable).
func (t *eventsTable) ColumnType(name string) (storage.ColumnType, bool) {
	switch strings.ToLower(name) {
	case storage.ColTime:
		return storage.TypeTime, true
	case storage.ColEvent, storage.ColDistinctID, storage.ColInsertID, storage.ColRawDistinctID:
		return storage.TypeString, true
	}
	for _, c := range t.columns {
		if strings.EqualFold(c.Name, name) {
			return c.Type, true
		}
	}
	return 0, false
}

// Snapshot is a read view of the events (planner.AggregatableTable).
func (t *eventsTable) Snapshot() *storage.Snapshot { return t.project.Snapshot() }

// ToSQL converts a stored value as the scan does (planner.AggregatableTable).
func (t *eventsTable) ToSQL(v storage.Value) any { return toSQL(v) }

// outputColumns names the columns rows carry, in schema order.
func (t *eventsTable) outputColumns(ctx *sql.Context) []string {
	s := t.Schema(ctx)
	names := make([]string, len(s))
	for i, c := range s {
		names[i] = c.Name
	}
	return names
}

// scanPartition is one part of one scan: the scan holds the snapshot that
// every partition of one statement shares.
type scanPartition struct {
	scan *engine.Scan
	part int
}

func (p *scanPartition) Key() []byte { return []byte(strconv.Itoa(p.part)) }

func (t *eventsTable) PartitionCount(*sql.Context) (int64, error) {
	return int64((&engine.Scan{Snap: t.project.Snapshot()}).Parts()), nil
}

func (t *eventsTable) Partitions(ctx *sql.Context) (sql.PartitionIter, error) {
	scan := &engine.Scan{Snap: t.project.Snapshot(), Columns: t.outputColumns(ctx), Filter: t.filter}
	parts := make([]sql.Partition, scan.Parts())
	for i := range parts {
		parts[i] = &scanPartition{scan: scan, part: i}
	}
	return sql.PartitionsToPartitionIter(parts...), nil
}

func (t *eventsTable) PartitionRows(ctx *sql.Context, part sql.Partition) (sql.RowIter, error) {
	p, ok := part.(*scanPartition)
	if !ok {
		return nil, fmt.Errorf("events: unexpected partition %T", part)
	}
	it, err := p.scan.PartRows(ctx, p.part)
	if err != nil {
		return nil, err
	}
	return &valueRowIter{it: it}, nil
}

// valueRowIter turns engine rows into SQL rows.
type valueRowIter struct {
	it engine.RowIter
}

func (r *valueRowIter) Next(*sql.Context) (sql.Row, error) {
	vals, err := r.it.Next()
	if err != nil {
		return nil, err
	}
	row := make(sql.Row, len(vals))
	for i, v := range vals {
		row[i] = toSQL(v)
	}
	return row, nil
}

func (r *valueRowIter) Close(*sql.Context) error { return r.it.Close() }

func (t *eventsTable) Inserter(*sql.Context) sql.RowInserter {
	return &eventsInserter{table: t}
}

// eventsInserter collects the rows of one statement and stores them all
// at once when the statement completes: a multi-row INSERT is atomic, and
// its OK is sent only after the rows are durable.
type eventsInserter struct {
	table  *eventsTable
	events []storage.Event
	rows   int // rows seen by this statement, for error messages
}

func (ins *eventsInserter) StatementBegin(*sql.Context) {}

func (ins *eventsInserter) DiscardChanges(*sql.Context, error) error {
	ins.events = nil
	return nil
}

func (ins *eventsInserter) StatementComplete(*sql.Context) error {
	events := ins.events
	ins.events = nil
	return rowError(ins.table.project.Ingest(events))
}

func (ins *eventsInserter) Close(*sql.Context) error { return nil }

// Insert receives one full row in table order (the projection does not
// apply to inserts).
func (ins *eventsInserter) Insert(ctx *sql.Context, row sql.Row) error {
	return rowError(ins.insert(ctx, row))
}

func (ins *eventsInserter) insert(ctx *sql.Context, row sql.Row) error {
	ins.rows++
	n := ins.rows
	cols := ins.table.columns
	if len(row) != fixedEventColumns+len(cols) {
		return fmt.Errorf("row %d: has %d values; events has %d columns", n, len(row), fixedEventColumns+len(cols))
	}
	var e storage.Event
	switch tm := row[0].(type) {
	case nil:
		return &storage.RowError{Row: n, Column: storage.ColTime, Err: fmt.Errorf("missing: every event needs a time")}
	default:
		v, err := fromSQL(ctx, storage.TypeTime, tm)
		if err != nil {
			return &storage.RowError{Row: n, Column: storage.ColTime, Err: err}
		}
		e.TimeMillis = v.Int
	}
	for i, dst := range []*string{&e.Name, &e.DistinctID, &e.InsertID} {
		if row[1+i] == nil {
			continue
		}
		v, err := fromSQL(ctx, storage.TypeString, row[1+i])
		if err != nil {
			return &storage.RowError{Row: n, Column: []string{storage.ColEvent, storage.ColDistinctID, storage.ColInsertID}[i], Err: err}
		}
		*dst = v.Str
	}
	if row[5] != nil {
		return &storage.RowError{Row: n, Column: storage.ColRawDistinctID, Err: fmt.Errorf("is derived from distinct_id: insert distinct_id instead")}
	}
	given := map[string]bool{}
	for i, c := range cols {
		v, err := fromSQL(ctx, c.Type, row[fixedEventColumns+i])
		if err != nil {
			return &storage.RowError{Row: n, Column: c.Name, Err: err}
		}
		if !v.IsNull() {
			e.Props = append(e.Props, storage.Prop{Key: c.Name, Value: v})
			given[strings.ToLower(c.Name)] = true
		}
	}
	if row[4] != nil {
		text, err := jsonText(ctx, row[4])
		if err != nil {
			return &storage.RowError{Row: n, Column: colProperties, Err: err}
		}
		props, err := propsFromJSON(text)
		if err != nil {
			return &storage.RowError{Row: n, Column: colProperties, Err: err}
		}
		for _, p := range props {
			if given[strings.ToLower(p.Key)] {
				return &storage.RowError{Row: n, Column: colProperties, Err: fmt.Errorf("key %q is also given as a column", p.Key)}
			}
			e.Props = append(e.Props, p)
		}
	}
	ins.events = append(ins.events, e)
	return nil
}

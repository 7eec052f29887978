package server

import (
	"fmt"
	"io"
	"iter"

	"github.com/dolthub/go-mysql-server/sql"

	"arb/storage"
)

// peopleTable is a project's user profiles: distinct_id, then one column
// per profile property. INSERT upserts: the given non-NULL properties are
// set on the profile, others stay ($set semantics).
//
// Implements sql.Table, sql.PrimaryKeyTable and sql.InsertableTable.
type peopleTable struct {
	project *storage.Project
	columns []storage.Column
	sch     sql.Schema
}

var (
	_ sql.PrimaryKeyTable = (*peopleTable)(nil)
	_ sql.InsertableTable = (*peopleTable)(nil)
)

func newPeopleTable(ctx *sql.Context, p *storage.Project) *peopleTable {
	t := &peopleTable{project: p, columns: propertyColumns(ctx, p, storage.TablePeople)}
	t.sch = t.buildSchema()
	return t
}

func (t *peopleTable) Name() string               { return storage.TablePeople }
func (t *peopleTable) String() string             { return t.project.Name() + ".people" }
func (t *peopleTable) Collation() sql.CollationID { return sql.Collation_utf8mb4_bin }

// Schema is built once per statement (see eventsTable.full).
func (t *peopleTable) Schema(*sql.Context) sql.Schema { return t.sch }

func (t *peopleTable) buildSchema() sql.Schema {
	src, db := storage.TablePeople, t.project.Name()
	s := sql.Schema{{Name: storage.ColDistinctID, Type: sqlString, Source: src, DatabaseSource: db}}
	for _, c := range t.columns {
		s = append(s, &sql.Column{Name: c.Name, Type: sqlType(c.Type), Source: src, Nullable: true, DatabaseSource: db})
	}
	return s
}

func (t *peopleTable) PrimaryKeySchema(ctx *sql.Context) sql.PrimaryKeySchema {
	return sql.NewPrimaryKeySchema(t.Schema(ctx))
}

// peoplePartition is the people as of when the statement started,
// streamed from disk as rows are asked for (storage.PeopleScan).
type peoplePartition struct{ scan *storage.PeopleScan }

func (peoplePartition) Key() []byte { return []byte("people") }

func (t *peopleTable) Partitions(*sql.Context) (sql.PartitionIter, error) {
	scan, _ := t.project.PeopleScan()
	return sql.PartitionsToPartitionIter(peoplePartition{scan}), nil
}

func (t *peopleTable) PartitionRows(_ *sql.Context, part sql.Partition) (sql.RowIter, error) {
	p, ok := part.(peoplePartition)
	if !ok {
		return nil, fmt.Errorf("people: unexpected partition %T", part)
	}
	next, stop := iter.Pull2(p.scan.All())
	return &peopleRows{next: next, stop: stop, columns: t.columns, index: columnIndex(t.columns)}, nil
}

// peopleRows turns people into rows one at a time.
type peopleRows struct {
	next    func() (storage.Person, error, bool)
	stop    func()
	columns []storage.Column
	index   map[string]int
}

func (r *peopleRows) Next(*sql.Context) (sql.Row, error) {
	person, err, ok := r.next()
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, io.EOF
	}
	row := make(sql.Row, 1+len(r.columns))
	row[0] = person.DistinctID
	fillPropertyCells(row[1:], r.columns, r.index, person.Props)
	return row, nil
}

func (r *peopleRows) Close(*sql.Context) error {
	r.stop()
	return nil
}

func (t *peopleTable) Inserter(*sql.Context) sql.RowInserter { return &peopleInserter{table: t} }

// peopleInserter upserts all rows of one statement atomically when it
// completes, like eventsInserter.
type peopleInserter struct {
	table *peopleTable
	rows  []storage.Event
}

func (ins *peopleInserter) StatementBegin(*sql.Context) {}
func (ins *peopleInserter) DiscardChanges(*sql.Context, error) error {
	ins.rows = nil
	return nil
}
func (ins *peopleInserter) StatementComplete(*sql.Context) error {
	rows := ins.rows
	ins.rows = nil
	return rowError(ins.table.project.SetPeople(rows))
}
func (ins *peopleInserter) Close(*sql.Context) error { return nil }

func (ins *peopleInserter) Insert(ctx *sql.Context, row sql.Row) error {
	return rowError(ins.insert(ctx, row))
}

func (ins *peopleInserter) insert(ctx *sql.Context, row sql.Row) error {
	n := len(ins.rows) + 1
	var person storage.Event
	if row[0] != nil {
		v, err := fromSQL(ctx, storage.TypeString, row[0])
		if err != nil {
			return &storage.RowError{Row: n, Column: storage.ColDistinctID, Err: err}
		}
		person.DistinctID = v.Str
	}
	for i, c := range ins.table.columns {
		v, err := fromSQL(ctx, c.Type, row[1+i])
		if err != nil {
			return &storage.RowError{Row: n, Column: c.Name, Err: err}
		}
		if !v.IsNull() {
			person.Props = append(person.Props, storage.Prop{Key: c.Name, Value: v})
		}
	}
	ins.rows = append(ins.rows, person)
	return nil
}

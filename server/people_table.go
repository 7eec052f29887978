package server

import (
	"fmt"

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

// peoplePartition holds the people read when the statement started.
type peoplePartition struct{ people []storage.Person }

func (peoplePartition) Key() []byte { return []byte("people") }

func (t *peopleTable) Partitions(*sql.Context) (sql.PartitionIter, error) {
	people, _, err := t.project.People()
	if err != nil {
		return nil, err
	}
	return sql.PartitionsToPartitionIter(peoplePartition{people}), nil
}

func (t *peopleTable) PartitionRows(_ *sql.Context, part sql.Partition) (sql.RowIter, error) {
	p, ok := part.(peoplePartition)
	if !ok {
		return nil, fmt.Errorf("people: unexpected partition %T", part)
	}
	index := columnIndex(t.columns)
	rows := make([]sql.Row, 0, len(p.people))
	for _, person := range p.people {
		row := make(sql.Row, 1+len(t.columns))
		row[0] = person.DistinctID
		fillPropertyCells(row[1:], t.columns, index, person.Props)
		rows = append(rows, row)
	}
	return sql.RowsToRowIter(rows...), nil
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

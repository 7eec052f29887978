package server

import (
	"fmt"
	"strings"

	"github.com/dolthub/go-mysql-server/sql"

	"arb/storage"
)

// groupsTable is a project's group profiles: group_key, group_id, then
// one column per group property. It is maintained by /groups; SQL reads
// it (JOIN events ON events.company = groups.group_id, say).
//
// Implements sql.Table and sql.PrimaryKeyTable.
type groupsTable struct {
	project *storage.Project
	columns []storage.Column
	sch     sql.Schema
}

var _ sql.PrimaryKeyTable = (*groupsTable)(nil)

func newGroupsTable(p *storage.Project) *groupsTable {
	t := &groupsTable{project: p, columns: p.Columns(storage.TableGroups)}
	t.sch = t.buildSchema()
	return t
}

func (t *groupsTable) Name() string               { return storage.TableGroups }
func (t *groupsTable) String() string             { return t.project.Name() + ".groups" }
func (t *groupsTable) Collation() sql.CollationID { return sql.Collation_utf8mb4_bin }

// Schema is built once per statement (see eventsTable.full).
func (t *groupsTable) Schema(*sql.Context) sql.Schema { return t.sch }

func (t *groupsTable) buildSchema() sql.Schema {
	src, db := storage.TableGroups, t.project.Name()
	s := sql.Schema{
		{Name: storage.ColGroupKey, Type: sqlString, Source: src, DatabaseSource: db},
		{Name: storage.ColGroupID, Type: sqlString, Source: src, DatabaseSource: db},
	}
	for _, c := range t.columns {
		s = append(s, &sql.Column{Name: c.Name, Type: sqlType(c.Type), Source: src, Nullable: true, DatabaseSource: db})
	}
	return s
}

func (t *groupsTable) PrimaryKeySchema(ctx *sql.Context) sql.PrimaryKeySchema {
	return sql.NewPrimaryKeySchema(t.Schema(ctx))
}

type groupsPartition struct{}

func (groupsPartition) Key() []byte { return []byte("groups") }

func (t *groupsTable) Partitions(*sql.Context) (sql.PartitionIter, error) {
	return sql.PartitionsToPartitionIter(groupsPartition{}), nil
}

func (t *groupsTable) PartitionRows(_ *sql.Context, part sql.Partition) (sql.RowIter, error) {
	if _, ok := part.(groupsPartition); !ok {
		return nil, fmt.Errorf("groups: unexpected partition %T", part)
	}
	// The groups are read when the statement runs (they live on disk,
	// user_state.go); columns newer than the statement's schema are left
	// out (fillPropertyCells).
	groups, _, err := t.project.Groups()
	if err != nil {
		return nil, err
	}
	index := columnIndex(t.columns)
	rows := make([]sql.Row, 0, len(groups))
	for _, g := range groups {
		row := make(sql.Row, 2+len(t.columns))
		row[0], row[1] = g.Key, g.ID
		fillPropertyCells(row[2:], t.columns, index, g.Props)
		rows = append(rows, row)
	}
	return sql.RowsToRowIter(rows...), nil
}

// columnIndex maps lower-cased column names to their positions.
func columnIndex(columns []storage.Column) map[string]int {
	index := make(map[string]int, len(columns))
	for i, c := range columns {
		index[strings.ToLower(c.Name)] = i
	}
	return index
}

// fillPropertyCells puts each property into the cell of its column,
// converted to the column's type; a property whose column is newer than
// the statement's schema is left out.
func fillPropertyCells(cells sql.Row, columns []storage.Column, index map[string]int, props []storage.Prop) {
	for _, prop := range props {
		i, ok := index[strings.ToLower(prop.Key)]
		if !ok {
			continue
		}
		if v, ok := prop.Value.Convert(columns[i].Type); ok {
			cells[i] = toSQL(v)
		}
	}
}

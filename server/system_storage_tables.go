package server

// Read-only views of storage for operators, in the `arb` database:
//
//	arb.segments     one row per live segment: project, day, file, level,
//	                 row_count, bytes (how compacted each day is)
//	arb.compactions  one row: the compactor's counters since start and
//	                 its last error
//
// Both are snapshots taken when the statement reads them.

import (
	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/types"

	"arb/storage"
)

// rowsTable is a system table whose rows are computed at read time.
type rowsTable struct {
	name   string
	schema sql.Schema
	rows   func() []sql.Row
}

var _ sql.Table = (*rowsTable)(nil)

func (t *rowsTable) Name() string               { return t.name }
func (t *rowsTable) String() string             { return systemDBName + "." + t.name }
func (t *rowsTable) Collation() sql.CollationID { return sql.Collation_utf8mb4_bin }
func (t *rowsTable) Schema(*sql.Context) sql.Schema {
	return t.schema
}

func (t *rowsTable) Partitions(*sql.Context) (sql.PartitionIter, error) {
	return sql.PartitionsToPartitionIter(onePartition{}), nil
}

func (t *rowsTable) PartitionRows(*sql.Context, sql.Partition) (sql.RowIter, error) {
	return sql.RowsToRowIter(t.rows()...), nil
}

func systemColumns(table string, cols ...*sql.Column) sql.Schema {
	for _, c := range cols {
		c.Source, c.DatabaseSource = table, systemDBName
	}
	return cols
}

func newSegmentsTable(store *storage.Store) *rowsTable {
	return &rowsTable{
		name: "segments",
		schema: systemColumns("segments",
			&sql.Column{Name: "project", Type: sqlString},
			&sql.Column{Name: "day", Type: sqlString},
			&sql.Column{Name: "file", Type: sqlString},
			&sql.Column{Name: "level", Type: types.Int64},
			&sql.Column{Name: "row_count", Type: types.Int64},
			&sql.Column{Name: "bytes", Type: types.Int64},
		),
		rows: func() []sql.Row {
			var rows []sql.Row
			for _, s := range store.SegmentInfos() {
				rows = append(rows, sql.Row{s.Project, s.Day, s.File, int64(s.Level), int64(s.Rows), s.Bytes})
			}
			return rows
		},
	}
}

func newCompactionsTable(store *storage.Store) *rowsTable {
	return &rowsTable{
		name: "compactions",
		schema: systemColumns("compactions",
			&sql.Column{Name: "runs", Type: types.Int64},
			&sql.Column{Name: "failures", Type: types.Int64},
			&sql.Column{Name: "rows_in", Type: types.Int64},
			&sql.Column{Name: "rows_out", Type: types.Int64},
			&sql.Column{Name: "duplicates", Type: types.Int64},
			&sql.Column{Name: "bytes_in", Type: types.Int64},
			&sql.Column{Name: "bytes_out", Type: types.Int64},
			&sql.Column{Name: "max_segments_per_day", Type: types.Int64},
			&sql.Column{Name: "last_error", Type: sqlString, Nullable: true},
		),
		rows: func() []sql.Row {
			s := store.CompactionStats()
			var lastErr any
			if s.LastError != "" {
				lastErr = s.LastError
			}
			return []sql.Row{{s.Runs, s.Failures, s.RowsIn, s.RowsOut, s.Duplicates, s.BytesIn, s.BytesOut,
				int64(s.MaxSegmentsPerDay), lastErr}}
		},
	}
}

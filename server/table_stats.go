package server

// Row counts and data sizes for information_schema.TABLES (TABLE_ROWS,
// DATA_LENGTH, AVG_ROW_LENGTH) and SHOW TABLE STATUS (Rows, Data_length),
// which go-mysql-server fills from sql.StatisticsTable and otherwise
// reports as 0 (BI tools show 0-row tables; DBeaver and Tableau use the
// count to size previews and extracts).
//
// The counts are the rows a SELECT COUNT(*) of the same moment returns:
//   - events: the rows of the live segments (each segment's footer holds
//     its count) plus the buffered rows of a snapshot. Duplicates are
//     dropped at ingest, before a row is stored, so the sum is exact;
//     cost: one storage.Snapshot, nothing proportional to the data.
//   - people: one row per canonical user (storage.Project.People, which
//     merges the profiles of merged ids); cost proportional to the
//     profiles, paid only by these metadata queries (go-mysql-server's
//     planner takes its row estimates from its own stats provider).
//   - groups: one row per group profile.
//
// RowCount reports the count as not exact, like InnoDB's TABLE_ROWS (an
// estimate in MySQL): go-mysql-server would otherwise be free to answer a
// COUNT(*) from it instead of from the table.

import (
	"github.com/dolthub/go-mysql-server/sql"
)

var (
	_ sql.StatisticsTable = (*eventsTable)(nil)
	_ sql.StatisticsTable = (*peopleTable)(nil)
	_ sql.StatisticsTable = (*groupsTable)(nil)
)

// RowCount is the number of events stored and buffered.
func (t *eventsTable) RowCount(*sql.Context) (uint64, bool, error) {
	snap := t.project.Snapshot()
	var n uint64
	for _, ref := range snap.Segments {
		n += uint64(ref.Segment.Rows())
	}
	for _, m := range snap.Mem {
		n += uint64(len(m.Rows))
	}
	return n, false, nil
}

// DataLength is the bytes of the live segment files (buffered rows are
// not on disk yet, except in the WAL).
func (t *eventsTable) DataLength(*sql.Context) (uint64, error) {
	var n uint64
	for _, ref := range t.project.Snapshot().Segments {
		n += uint64(ref.Bytes)
	}
	return n, nil
}

// RowCount is the number of people (canonical users with a profile).
func (t *peopleTable) RowCount(*sql.Context) (uint64, bool, error) {
	scan, _ := t.project.PeopleScan()
	var n uint64
	for _, err := range scan.All() {
		if err != nil {
			return 0, false, err
		}
		n++
	}
	return n, false, nil
}

// DataLength is 0: profiles live in user state runs shared with the
// identity state, not in data files of their own size.
func (t *peopleTable) DataLength(*sql.Context) (uint64, error) { return 0, nil }

// RowCount is the number of group profiles.
func (t *groupsTable) RowCount(*sql.Context) (uint64, bool, error) {
	groups, _, err := t.project.Groups()
	return uint64(len(groups)), false, err
}

// DataLength is 0, as for people.
func (t *groupsTable) DataLength(*sql.Context) (uint64, error) { return 0, nil }

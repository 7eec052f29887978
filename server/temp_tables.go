package server

// CREATE TEMPORARY TABLE, which Tableau sends for extracts and filters
// (CREATE TEMPORARY TABLE `#Tableau_...` (...); INSERT INTO it; SELECT
// ... JOIN it; DROP TABLE it) and go-mysql-server refused for arb's
// databases ("database does not support temporary tables").
//
// As in MySQL (manual 15.1.20.2 "CREATE TEMPORARY TABLE Statement"): a
// temporary table is visible only in the session that made it, hides a
// table of the same name in its database while it exists, is dropped by
// DROP [TEMPORARY] TABLE or when the session ends (a COM_CHANGE_USER or
// COM_RESET_CONNECTION ends it too), and SHOW TABLES does not list it.
//
// A temporary table is held in memory by the session, never stored:
//   - INVARIANT: the rows of all of a session's temporary tables take at
//     most tempTableSessionBytes (as estimated by rowBytes); an INSERT
//     that would pass it fails whole with ER_RECORD_FILE_FULL (1114, "The
//     table '...' is full"), which is what MySQL answers when an in-memory
//     table passes max_heap_table_size;
//   - at most tempTablesPerSession tables exist per session;
//   - an INSERT adds its rows when the statement completes, or none.
//
// Keys and indexes a CREATE declares are accepted and not enforced: the
// table is a list of rows (Tableau's filter tables hold the values it
// joins on, without duplicates of its own making). AUTO_INCREMENT columns
// are refused (go-mysql-server needs sql.AutoIncrementTable for them).

import (
	"fmt"
	"strings"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/vitess/go/mysql"
	ast "github.com/dolthub/vitess/go/vt/sqlparser"
)

// Bounds of a session's temporary tables (a variable so that a test can
// reach it with little data).
var tempTableSessionBytes int64 = 64 << 20

const tempTablesPerSession = 256

const erTableExists = 1050 // ER_TABLE_EXISTS_ERROR

// tempTable is one temporary table of a session. Only the session's
// connection goroutine touches it.
type tempTable struct {
	db, name  string
	sch       sql.Schema
	collation sql.CollationID
	rows      []sql.Row
	bytes     int64       // rowBytes of rows
	owner     *tempTables // the session's tables, which account the bytes
}

var (
	_ sql.TemporaryTable        = (*tempTable)(nil)
	_ sql.InsertableTable       = (*tempTable)(nil)
	_ sql.DeletableTable        = (*tempTable)(nil)
	_ sql.TruncateableTable     = (*tempTable)(nil)
	_ sql.PrimaryKeyTable       = (*tempTable)(nil)
	_ sql.TemporaryTableCreator = (*projectDatabase)(nil)
	_ sql.TableDropper          = (*projectDatabase)(nil)
)

func (t *tempTable) Name() string                   { return t.name }
func (t *tempTable) String() string                 { return t.db + "." + t.name }
func (t *tempTable) Schema(*sql.Context) sql.Schema { return t.sch }
func (t *tempTable) Collation() sql.CollationID     { return t.collation }
func (t *tempTable) IsTemporary() bool              { return true }

func (t *tempTable) PrimaryKeySchema(ctx *sql.Context) sql.PrimaryKeySchema {
	return sql.NewPrimaryKeySchema(t.sch)
}

// tempPartition holds the rows as the statement found them.
type tempPartition struct{ rows []sql.Row }

func (tempPartition) Key() []byte { return []byte("temporary") }

func (t *tempTable) Partitions(*sql.Context) (sql.PartitionIter, error) {
	return sql.PartitionsToPartitionIter(tempPartition{rows: t.rows[:len(t.rows):len(t.rows)]}), nil
}

func (t *tempTable) PartitionRows(_ *sql.Context, part sql.Partition) (sql.RowIter, error) {
	p, ok := part.(tempPartition)
	if !ok {
		return nil, fmt.Errorf("temporary table %s: unexpected partition %T", t.name, part)
	}
	return sql.RowsToRowIter(p.rows...), nil
}

// Truncate removes every row.
func (t *tempTable) Truncate(*sql.Context) (int, error) {
	n := len(t.rows)
	t.sessionBytes(-t.bytes)
	t.rows, t.bytes = nil, 0
	return n, nil
}

// sessionBytes adds delta to the owning session's total and reports
// whether the total stays within tempTableSessionBytes (a negative delta
// always does; a refused one is not added).
func (t *tempTable) sessionBytes(delta int64) bool { return t.owner.add(delta) }

// tempInserter collects a statement's rows and adds them at its end.
type tempInserter struct {
	t     *tempTable
	rows  []sql.Row
	bytes int64
}

func (t *tempTable) Inserter(*sql.Context) sql.RowInserter { return &tempInserter{t: t} }

func (in *tempInserter) StatementBegin(*sql.Context) {}

func (in *tempInserter) Insert(_ *sql.Context, row sql.Row) error {
	b := rowBytes(row)
	if !in.t.owner.fits(in.bytes + b) {
		return mysql.NewSQLError(erQueryMemory, "HY000", "The table '%s' is full (temporary tables hold at most %d MiB per session)", in.t.name, tempTableSessionBytes>>20)
	}
	in.rows = append(in.rows, row.Copy())
	in.bytes += b
	return nil
}

func (in *tempInserter) DiscardChanges(*sql.Context, error) error {
	in.rows, in.bytes = nil, 0
	return nil
}

func (in *tempInserter) StatementComplete(*sql.Context) error { return in.flush() }
func (in *tempInserter) Close(*sql.Context) error             { return in.flush() }

func (in *tempInserter) flush() error {
	if len(in.rows) == 0 {
		return nil
	}
	if !in.t.sessionBytes(in.bytes) {
		in.rows, in.bytes = nil, 0
		return mysql.NewSQLError(erQueryMemory, "HY000", "The table '%s' is full (temporary tables hold at most %d MiB per session)", in.t.name, tempTableSessionBytes>>20)
	}
	in.t.rows = append(in.t.rows, in.rows...)
	in.t.bytes += in.bytes
	in.rows, in.bytes = nil, 0
	return nil
}

// tempDeleter removes the rows a DELETE matched when the statement ends.
type tempDeleter struct {
	t    *tempTable
	gone []sql.Row
}

func (t *tempTable) Deleter(*sql.Context) sql.RowDeleter { return &tempDeleter{t: t} }

func (d *tempDeleter) StatementBegin(*sql.Context) {}
func (d *tempDeleter) Delete(_ *sql.Context, row sql.Row) error {
	d.gone = append(d.gone, row)
	return nil
}
func (d *tempDeleter) DiscardChanges(*sql.Context, error) error { d.gone = nil; return nil }
func (d *tempDeleter) StatementComplete(ctx *sql.Context) error { return d.Close(ctx) }

// Close removes one stored row per deleted row equal to it.
func (d *tempDeleter) Close(ctx *sql.Context) error {
	for _, g := range d.gone {
		for i, r := range d.t.rows {
			if eq, err := r.Equals(ctx, g, d.t.sch); err == nil && eq {
				b := rowBytes(r)
				d.t.rows = append(d.t.rows[:i:i], d.t.rows[i+1:]...)
				d.t.bytes -= b
				d.t.sessionBytes(-b)
				break
			}
		}
	}
	d.gone = nil
	return nil
}

// rowBytes estimates the memory a row takes.
func rowBytes(row sql.Row) int64 {
	n := int64(24 + 16*len(row))
	for _, v := range row {
		switch x := v.(type) {
		case string:
			n += int64(len(x))
		case []byte:
			n += int64(len(x))
		default:
			n += 8
		}
	}
	return n
}

// tempTables are a session's temporary tables, by lower-case
// "database.table".
type tempTables struct {
	tables map[string]*tempTable
	bytes  int64 // rowBytes of every table's rows
}

func (s *tempTables) add(delta int64) bool {
	if delta > 0 && s.bytes+delta > tempTableSessionBytes {
		return false
	}
	s.bytes += delta
	return true
}

func (s *tempTables) fits(extra int64) bool { return s.bytes+extra <= tempTableSessionBytes }

func tempKey(db, name string) string { return strings.ToLower(db) + "." + strings.ToLower(name) }

// hasTempTable reports whether the session has a temporary table db.name.
func (s *session) hasTempTable(db, name string) bool {
	if s == nil || s.temp == nil {
		return false
	}
	_, ok := s.temp.tables[tempKey(db, name)]
	return ok
}

// withTempTableAuth marks the privilege checks of stmt that name only the
// session's temporary tables as done: MySQL checks CREATE TEMPORARY
// TABLES when the table is made and "performs no further privilege checks
// on the table. The creating session can perform any operation on the
// table, such as DROP TABLE, INSERT, UPDATE, or SELECT" (MySQL 8.0 manual
// 15.1.20.2), so a read-only analyst granted CREATE TEMPORARY TABLES can
// fill and drop Tableau's filter tables.
func withTempTableAuth(s *session, stmt ast.Statement) ast.Statement {
	if s == nil || s.temp == nil || len(s.temp.tables) == 0 {
		return stmt
	}
	ast.WalkAuthNodes(stmt, func(n ast.AuthNode, info ast.AuthInformation) {
		if info.AuthType == ast.AuthType_IGNORE || len(info.TargetNames) == 0 || len(info.TargetNames)%2 != 0 ||
			(info.TargetType != ast.AuthTargetType_SingleTableIdentifier && info.TargetType != ast.AuthTargetType_MultipleTableIdentifiers) {
			return
		}
		for i := 0; i < len(info.TargetNames); i += 2 {
			db := info.TargetNames[i]
			if db == "" {
				db = s.GetCurrentDatabase()
			}
			if !s.hasTempTable(db, info.TargetNames[i+1]) {
				return
			}
		}
		n.SetAuthType(ast.AuthType_IGNORE)
	})
	return stmt
}

// temporaryTable is the session's temporary table db.name, if any.
func temporaryTable(ctx *sql.Context, db, name string) (*tempTable, bool) {
	s := sessionOf(ctx)
	if s == nil || s.temp == nil {
		return nil, false
	}
	t, ok := s.temp.tables[tempKey(db, name)]
	return t, ok
}

// CreateTemporaryTable makes a temporary table in the session (see the
// file comment).
func (d *projectDatabase) CreateTemporaryTable(ctx *sql.Context, name string, schema sql.PrimaryKeySchema, collation sql.CollationID) error {
	s := sessionOf(ctx)
	if s == nil {
		return sql.ErrTemporaryTableNotSupported.New()
	}
	if s.temp == nil {
		s.temp = &tempTables{tables: map[string]*tempTable{}}
	}
	key := tempKey(d.Name(), name)
	if _, ok := s.temp.tables[key]; ok {
		return mysql.NewSQLError(erTableExists, "42S01", "Table '%s' already exists", name)
	}
	if len(s.temp.tables) >= tempTablesPerSession {
		return mysql.NewSQLError(erQueryMemory, "HY000", "The table '%s' is full (a session holds at most %d temporary tables)", name, tempTablesPerSession)
	}
	sch := make(sql.Schema, len(schema.Schema))
	for i, c := range schema.Schema {
		cc := *c
		cc.Source, cc.DatabaseSource = name, d.Name()
		sch[i] = &cc
	}
	s.temp.tables[key] = &tempTable{db: d.Name(), name: name, sch: sch, collation: collation, owner: s.temp}
	return nil
}

// DropTable drops a temporary table of the session. arb's own tables
// (events, people, groups) are never dropped: arb never deletes a
// project's data by SQL.
func (d *projectDatabase) DropTable(ctx *sql.Context, name string) error {
	if t, ok := temporaryTable(ctx, d.Name(), name); ok {
		s := sessionOf(ctx)
		s.temp.add(-t.bytes)
		delete(s.temp.tables, tempKey(d.Name(), name))
		return nil
	}
	return mysql.NewSQLError(erNotSupportedYet, "42000", "This version of arb doesn't yet support 'DROP TABLE %s': arb never deletes a project's data by SQL", name)
}

package server

import (
	"fmt"

	"github.com/dolthub/go-mysql-server/sql"
)

// With user accounts on (a root account exists), go-mysql-server needs
// every database to answer for views, triggers and stored procedures, or
// statements that list them (information_schema, JDBC metadata) fail.
// arb has none of them and makes none.

var errNotSupported = func(what string) error { return fmt.Errorf("%s is not supported by arb", what) }

type noViewsTriggersRoutines struct{}

func (noViewsTriggersRoutines) CreateView(*sql.Context, string, string, string) error {
	return errNotSupported("CREATE VIEW")
}
func (noViewsTriggersRoutines) DropView(*sql.Context, string) error {
	return errNotSupported("DROP VIEW")
}
func (noViewsTriggersRoutines) GetViewDefinition(*sql.Context, string) (sql.ViewDefinition, bool, error) {
	return sql.ViewDefinition{}, false, nil
}
func (noViewsTriggersRoutines) AllViews(*sql.Context) ([]sql.ViewDefinition, error) { return nil, nil }
func (noViewsTriggersRoutines) GetTriggers(*sql.Context) ([]sql.TriggerDefinition, error) {
	return nil, nil
}
func (noViewsTriggersRoutines) CreateTrigger(*sql.Context, sql.TriggerDefinition) error {
	return errNotSupported("CREATE TRIGGER")
}
func (noViewsTriggersRoutines) DropTrigger(*sql.Context, string) error {
	return errNotSupported("DROP TRIGGER")
}
func (noViewsTriggersRoutines) GetStoredProcedure(*sql.Context, string) (sql.StoredProcedureDetails, bool, error) {
	return sql.StoredProcedureDetails{}, false, nil
}
func (noViewsTriggersRoutines) GetStoredProcedures(*sql.Context) ([]sql.StoredProcedureDetails, error) {
	return nil, nil
}
func (noViewsTriggersRoutines) SaveStoredProcedure(*sql.Context, sql.StoredProcedureDetails) error {
	return errNotSupported("CREATE PROCEDURE")
}
func (noViewsTriggersRoutines) DropStoredProcedure(*sql.Context, string) error {
	return errNotSupported("DROP PROCEDURE")
}

var (
	_ sql.ViewDatabase            = (*projectDatabase)(nil)
	_ sql.TriggerDatabase         = (*projectDatabase)(nil)
	_ sql.StoredProcedureDatabase = (*projectDatabase)(nil)
	_ sql.ViewDatabase            = (*systemDatabase)(nil)
	_ sql.TriggerDatabase         = (*systemDatabase)(nil)
	_ sql.StoredProcedureDatabase = (*systemDatabase)(nil)
)

// A project's tables all use the binary utf8mb4 collation; CREATE
// DATABASE … COLLATE is accepted and changes nothing (the tables' string
// columns keep their byte-wise comparisons).
func (noViewsTriggersRoutines) GetCollation(*sql.Context) sql.CollationID {
	return sql.Collation_utf8mb4_bin
}

func (noViewsTriggersRoutines) SetCollation(*sql.Context, sql.CollationID) error { return nil }

var _ sql.CollatedDatabase = (*projectDatabase)(nil)

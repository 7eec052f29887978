package server

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/dolthub/go-mysql-server/sql"

	"arb/replication"
	"arb/storage"
)

// systemDBName is the database holding arb's own tables (projects).
const systemDBName = "arb"

// provider maps MySQL databases to arb projects, plus the arb system
// database. Implements sql.MutableDatabaseProvider: CREATE DATABASE makes
// a project with a fresh token and secret.
type provider struct {
	store  *storage.Store
	system *systemDatabase
}

var _ sql.MutableDatabaseProvider = (*provider)(nil)

func newProvider(store *storage.Store, node *replication.Node) *provider {
	return &provider{store: store, system: &systemDatabase{store: store, node: node}}
}

func (p *provider) Database(_ *sql.Context, name string) (sql.Database, error) {
	lower := strings.ToLower(name)
	if lower == systemDBName {
		return p.system, nil
	}
	if proj, ok := p.store.Project(lower); ok {
		return &projectDatabase{project: proj}, nil
	}
	return nil, sql.ErrDatabaseNotFound.New(name)
}

func (p *provider) HasDatabase(ctx *sql.Context, name string) bool {
	_, err := p.Database(ctx, name)
	return err == nil
}

func (p *provider) AllDatabases(*sql.Context) []sql.Database {
	dbs := []sql.Database{p.system}
	for _, info := range p.store.Projects() {
		if proj, ok := p.store.Project(info.Name); ok {
			dbs = append(dbs, &projectDatabase{project: proj})
		}
	}
	sort.Slice(dbs, func(i, j int) bool { return dbs[i].Name() < dbs[j].Name() })
	return dbs
}

func (p *provider) CreateDatabase(_ *sql.Context, name string) error {
	_, err := p.store.CreateProject(strings.ToLower(name), "", "")
	if errors.Is(err, storage.ErrProjectExists) {
		return sql.ErrDatabaseExists.New(name)
	}
	return err
}

func (p *provider) DropDatabase(_ *sql.Context, name string) error {
	return fmt.Errorf("DROP DATABASE is not supported: arb never deletes a project's events")
}

// projectDatabase is one project seen as a MySQL database.
type projectDatabase struct {
	noViewsTriggersRoutines
	project *storage.Project
}

var _ sql.Database = (*projectDatabase)(nil)

func (d *projectDatabase) Name() string { return d.project.Name() }

func (d *projectDatabase) GetTableInsensitive(ctx *sql.Context, name string) (sql.Table, bool, error) {
	// A session's temporary table hides a table of the same name.
	if t, ok := temporaryTable(ctx, d.Name(), name); ok {
		return t, true, nil
	}
	switch strings.ToLower(name) {
	case storage.TableEvents:
		return newEventsTable(ctx, d.project), true, nil
	case storage.TablePeople:
		return newPeopleTable(ctx, d.project), true, nil
	case storage.TableGroups:
		return newGroupsTable(d.project), true, nil
	}
	return nil, false, nil
}

func (d *projectDatabase) GetTableNames(*sql.Context) ([]string, error) {
	return []string{storage.TableEvents, storage.TablePeople, storage.TableGroups}, nil
}

// propertyColumns returns table's property columns as the running
// statement sees them: the stored schema plus the statement's pending
// additions and widenings.
func propertyColumns(ctx *sql.Context, project *storage.Project, table string) []storage.Column {
	cols := project.Columns(table)
	pending := pendingColumns(ctx, project.Name(), table)
	if len(pending) == 0 {
		return cols
	}
	var added []storage.Column
next:
	for _, pc := range pending {
		for i := range cols {
			if strings.EqualFold(cols[i].Name, pc.Name) {
				cols[i].Type = pc.Type
				continue next
			}
		}
		added = append(added, pc)
	}
	return append(cols, added...)
}

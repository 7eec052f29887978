package server

import (
	"strings"

	"github.com/dolthub/go-mysql-server/sql"

	"arb/replication"
	"arb/storage"
)

// systemDatabase is the read-only `arb` database: arb's own tables.
type systemDatabase struct {
	noViewsTriggersRoutines
	store *storage.Store
	// node is this server's cluster member (nil: a single node).
	node *replication.Node
}

var _ sql.Database = (*systemDatabase)(nil)

func (d *systemDatabase) Name() string { return systemDBName }

func (d *systemDatabase) GetTableInsensitive(_ *sql.Context, name string) (sql.Table, bool, error) {
	switch strings.ToLower(name) {
	case "projects":
		return &projectsTable{store: d.store}, true, nil
	case "segments":
		return newSegmentsTable(d.store), true, nil
	case "compactions":
		return newCompactionsTable(d.store), true, nil
	case "cluster":
		return newClusterTable(d.node), true, nil
	}
	return nil, false, nil
}

func (d *systemDatabase) GetTableNames(*sql.Context) ([]string, error) {
	return []string{"cluster", "compactions", "projects", "segments"}, nil
}

// projectsTable lists projects with their ingest token, and their API
// secret to root only (NULL for anyone else).
type projectsTable struct {
	store *storage.Store
}

func (t *projectsTable) Name() string               { return "projects" }
func (t *projectsTable) String() string             { return "arb.projects" }
func (t *projectsTable) Collation() sql.CollationID { return sql.Collation_utf8mb4_bin }

func (t *projectsTable) Schema(*sql.Context) sql.Schema {
	return sql.Schema{
		{Name: "name", Type: sqlString, Source: "projects", DatabaseSource: systemDBName, PrimaryKey: true},
		{Name: "token", Type: sqlString, Source: "projects", DatabaseSource: systemDBName},
		{Name: "secret", Type: sqlString, Source: "projects", DatabaseSource: systemDBName, Nullable: true},
	}
}

type onePartition struct{}

func (onePartition) Key() []byte { return []byte("all") }

func (t *projectsTable) Partitions(*sql.Context) (sql.PartitionIter, error) {
	return sql.PartitionsToPartitionIter(onePartition{}), nil
}

func (t *projectsTable) PartitionRows(ctx *sql.Context, _ sql.Partition) (sql.RowIter, error) {
	root := ctx.Session.Client().User == "root"
	var rows []sql.Row
	for _, p := range t.store.Projects() {
		var secret any
		if root {
			secret = p.Secret
		}
		rows = append(rows, sql.Row{p.Name, p.Token, secret})
	}
	return sql.RowsToRowIter(rows...), nil
}

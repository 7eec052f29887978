package server

// MySQL users and grants. go-mysql-server keeps them in its mysql_db
// tables and runs CREATE USER, ALTER USER, DROP USER, GRANT, REVOKE and
// SHOW GRANTS itself; arb gives it a persister that writes the serialized
// tables to the grants file of the data directory (storage/grants_file.go,
// docs/format/grants.md) and loads that file at start.
//
// INVARIANTS:
//   - A statement that changes users or grants returns its OK only after
//     the whole new state is durable (go-mysql-server calls Persist with
//     the user tables' write lock held, before it answers; WriteGrants
//     fsyncs the file and its directory). A crash right after the OK
//     keeps the change.
//   - A damaged grants file stops the start with an error naming it: the
//     server never starts with fewer users or grants than were stored.
//   - root is not stored: it is made at each start with --root-password
//     (an ephemeral superuser), so the flag always decides root's password,
//     as it did before users could be created; a stored root@% from any
//     other source is replaced by it.
//   - A write the session's user may not make never reaches storage by a
//     path that skips go-mysql-server's privilege check: the native INSERT
//     path (fast_insert.go) is taken only when mayWrite says so, and
//     otherwise the statement goes the ordinary way, which refuses it
//     (1142, or 1792 in a read-only transaction; access_errors.go);
//     LOAD DATA LOCAL INFILE (load_data.go) answers writeRefusal itself.

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/mysql_db"
	"github.com/dolthub/vitess/go/mysql"

	"arb/storage"
)

// rootUser and rootHost name the account --root-password sets.
const (
	rootUser = "root"
	rootHost = "%"
)

// grantsPersister writes go-mysql-server's user tables to the grants file.
type grantsPersister struct {
	store *storage.Store
	// failed is the first write that failed. After it the file's state
	// is uncertain and a failed fsync must not be retried, so every later
	// change is refused with it until a restart. Guarded by go-mysql-
	// server's user-table lock, which every Persist holds.
	failed error
	// revert, in cluster mode, reloads the users and grants last applied
	// from the log, asynchronously (replicatedGrants).
	revert func()
}

var _ mysql_db.MySQLDbPersistence = (*grantsPersister)(nil)

// Persist is called by go-mysql-server after each change to users or
// grants, with the tables' write lock held (so calls are serialized) and
// before the statement's OK. On error the statement fails, but go-mysql-
// server has already applied the change in memory: it stays in effect
// until the restart, which loads the last durable state; the error says
// so.
func (p *grantsPersister) Persist(_ *sql.Context, data []byte) error {
	if p.failed != nil {
		return p.failed
	}
	if err := p.store.WriteGrants(data); err != nil {
		if errors.Is(err, storage.ErrLogUnavailable) {
			// Cluster mode, no leader or quorum now: nothing wrong with
			// this node's files. The change, already in effect here, is
			// undone by loading the last users and grants applied from
			// the log (after this call returns: it holds the lock).
			if p.revert != nil {
				p.revert()
			}
			return fmt.Errorf("%w: the change is not made; retry it", err)
		}
		p.failed = fmt.Errorf("%w: the change is not durable (in effect until the server restarts, which loads the last durable users and grants); changes to users and grants are refused until then", err)
		return p.failed
	}
	return nil
}

// setUpUsers loads the stored users and grants into db, makes them
// persist on every change, and makes root with rootPassword.
func setUpUsers(db *mysql_db.MySQLDb, store *storage.Store, rootPassword string, revert func()) error {
	data, err := store.ReadGrants()
	if err != nil {
		return fmt.Errorf("load users and grants: %w (restore the file from a backup, or move it away to start with root only)", err)
	}
	if data != nil {
		if err := db.LoadData(sql.NewEmptyContext(), data); err != nil {
			return fmt.Errorf("load users and grants from %s: %w", store.GrantsPath(), err)
		}
	}
	db.SetPersister(&grantsPersister{store: store, revert: revert})
	ed := db.Editor()
	defer ed.Close()
	ed.RemoveUser(mysql_db.UserPrimaryKey{Host: rootHost, User: rootUser})
	db.AddEphemeralSuperUser(ed, rootUser, rootHost, rootPassword)
	return nil
}

// mayWrite says whether the session's user may INSERT into db.table now:
// it holds the privilege and its transaction is not READ ONLY. The native
// INSERT path asks it; when it says no, the statement takes go-mysql-
// server's path, whose checks refuse it with MySQL's error.
func mayWrite(db *mysql_db.MySQLDb, sess *session, database, table string) bool {
	ctx := sql.NewContext(context.Background(), sql.WithSession(sess))
	if readOnlyTransaction(ctx) {
		return false
	}
	if db == nil || !db.Enabled() {
		return true
	}
	op := sql.NewPrivilegedOperation(sql.PrivilegeCheckSubject{Database: strings.ToLower(database), Table: strings.ToLower(table)}, sql.PrivilegeType_Insert)
	return db.UserHasPrivileges(ctx, op)
}

// writeRefusal is the error MySQL gives a write into database.table that
// mayWrite refuses: 1792 in a READ ONLY transaction, else 1142 naming the
// user and table; nil when the write may go ahead. Native write paths
// that go-mysql-server cannot take over (LOAD DATA LOCAL INFILE, whose
// file only arb's handler reads) answer with it.
func writeRefusal(db *mysql_db.MySQLDb, sess *session, database, table string) error {
	if mayWrite(db, sess, database, table) {
		return nil
	}
	ctx := sql.NewContext(context.Background(), sql.WithSession(sess))
	if readOnlyTransaction(ctx) {
		return mysql.NewSQLError(erReadOnlyTransaction, sqlStateReadOnlyTx, "Cannot execute statement in a READ ONLY transaction.")
	}
	client := sess.Client()
	return mysql.NewSQLError(erTableAccessDenied, sqlStateAccessDenied, "INSERT command denied to user '%s'@'%s' for table '%s'", client.User, client.Address, table)
}

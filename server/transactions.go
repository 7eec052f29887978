package server

// Transactions, as far as arb has them: every write is atomic per
// statement and durable before its OK, so a transaction has nothing to
// commit or undo. What a transaction does carry is its access mode: a
// READ ONLY transaction (START TRANSACTION READ ONLY, or any transaction
// of a session after SET SESSION TRANSACTION READ ONLY) must refuse writes
// with ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION (1792), as MySQL does;
// BI tools open read-only sessions to be sure they cannot write.
//
// The session implements sql.TransactionSession so that go-mysql-server
// opens a transaction per statement (or per START TRANSACTION) and runs
// its own read-only check (validateReadOnlyTransaction, which sees the
// transaction's mode) on every write it plans. COMMIT, ROLLBACK and
// savepoints do nothing, as before this type existed (go-mysql-server
// made them no-ops for a session without transactions): arb cannot undo
// a write, and ROLLBACK does not pretend otherwise beyond what it did.
//
// INVARIANT: the native INSERT path asks readOnlyTransaction before it
// writes (users.go, mayWrite), so it refuses what the planned path does.

import (
	"github.com/dolthub/go-mysql-server/sql"
)

// transaction is an arb transaction: only its access mode.
type transaction struct{ readOnly bool }

var _ sql.Transaction = transaction{}

func (t transaction) String() string {
	if t.readOnly {
		return "arb transaction (read only)"
	}
	return "arb transaction"
}

func (t transaction) IsReadOnly() bool { return t.readOnly }

var _ sql.TransactionSession = (*session)(nil)

// StartTransaction begins a transaction READ ONLY when asked
// (START TRANSACTION READ ONLY) or when the session's
// transaction_read_only is set (SET SESSION TRANSACTION READ ONLY); go-
// mysql-server passes ReadWrite both for an implicit transaction and for
// START TRANSACTION without a mode, and in both MySQL uses the variable.
func (s *session) StartTransaction(ctx *sql.Context, mode sql.TransactionCharacteristic) (sql.Transaction, error) {
	return transaction{readOnly: mode == sql.ReadOnly || sessionReadOnly(ctx, s)}, nil
}

func (s *session) CommitTransaction(*sql.Context, sql.Transaction) error { return nil }
func (s *session) Rollback(*sql.Context, sql.Transaction) error          { return nil }
func (s *session) CreateSavepoint(*sql.Context, sql.Transaction, string) error {
	return nil
}
func (s *session) RollbackToSavepoint(*sql.Context, sql.Transaction, string) error {
	return nil
}
func (s *session) ReleaseSavepoint(*sql.Context, sql.Transaction, string) error {
	return nil
}

// sessionReadOnly reads the session's transaction_read_only.
func sessionReadOnly(ctx *sql.Context, s sql.Session) bool {
	v, err := s.GetSessionVariable(ctx, "transaction_read_only")
	if err != nil {
		return false
	}
	n, err := toInt64(v)
	return err == nil && n != 0
}

// readOnlyTransaction says whether a write in ctx's session now would run
// in a READ ONLY transaction: the open one's mode, or for the implicit
// transaction a statement would start, the session's variable.
func readOnlyTransaction(ctx *sql.Context) bool {
	if tx := ctx.Session.GetTransaction(); tx != nil {
		return tx.IsReadOnly()
	}
	return sessionReadOnly(ctx, ctx.Session)
}

// go-mysql-server's read-only check (validateReadOnlyTransaction) asserts
// that every table a write in a READ ONLY transaction touches is a
// sql.TemporaryTable and dereferences the result unchecked: a table that
// is not one panics the statement and drops the connection instead of
// answering 1792. None of arb's tables is temporary; each says so.
var (
	_ sql.TemporaryTable = (*eventsTable)(nil)
	_ sql.TemporaryTable = (*peopleTable)(nil)
	_ sql.TemporaryTable = (*groupsTable)(nil)
	_ sql.TemporaryTable = (*projectsTable)(nil)
	_ sql.TemporaryTable = (*rowsTable)(nil)
)

func (*eventsTable) IsTemporary() bool   { return false }
func (*peopleTable) IsTemporary() bool   { return false }
func (*groupsTable) IsTemporary() bool   { return false }
func (*projectsTable) IsTemporary() bool { return false }
func (*rowsTable) IsTemporary() bool     { return false }

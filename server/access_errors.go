package server

// MySQL's numbers for refusals by the users-and-grants checks (users.go)
// and by a READ ONLY transaction (transactions.go). go-mysql-server
// answers a missing privilege with the generic 1105/HY000 "command denied
// to user 'u'@'h'" and names neither the command nor the table; tools
// (and people) branch on MySQL's numbers:
//
//	1142 ER_TABLEACCESS_DENIED_ERROR  42000  "SELECT command denied to user 'u'@'h' for table 'events'"
//	1044 ER_DBACCESS_DENIED_ERROR     42000  "Access denied for user 'u'@'h' to database 'shop'"
//	1227 ER_SPECIFIC_ACCESS_DENIED    42000  "Access denied; you need (at least one of) the CREATE USER privilege(s) for this operation"
//	1792 ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION  25006  "Cannot execute statement in a READ ONLY transaction."
//	1095 ER_KILL_DENIED_ERROR         HY000  "You are not owner of thread 12" (KILL of another user's connection)
//
// The statement says what it needs: vitess's parser attaches to each part
// an AuthInformation (privilege, and the database, table or global scope
// it applies to), which is what go-mysql-server checks. accessError walks
// the same list, checks each against the session's privileges, and names
// the first that fails, as MySQL does.

import (
	"context"
	"errors"
	"regexp"
	"strings"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/mysql_db"
	"github.com/dolthub/vitess/go/mysql"
	ast "github.com/dolthub/vitess/go/vt/sqlparser"
)

const (
	erTableAccessDenied    = 1142
	erDBAccessDenied       = 1044
	erSpecificAccessDenied = 1227
	erReadOnlyTransaction  = 1792
	erKillDenied           = 1095 // ER_KILL_DENIED_ERROR
	sqlStateAccessDenied   = "42000"
	sqlStateReadOnlyTx     = "25006"
)

var (
	// go-mysql-server's messages (sql.ErrPrivilegeCheckFailed,
	// ErrDatabaseAccessDeniedForUser, ErrTableAccessDeniedForUser).
	commandDenied = regexp.MustCompile(`^command denied to user (.*)$`)
	dbDenied      = regexp.MustCompile(`^Access denied for user (.*) to database '(.*)'$`)
	tableDenied   = regexp.MustCompile(`^Access denied for user (.*) to table '(.*)'$`)
)

// accessError rewrites err, already through statementError, when it is a
// privilege refusal or a write in a READ ONLY transaction; any other
// error is returned unchanged. query is the statement refused.
func (h *handler) accessError(c *mysql.Conn, query string, err error) error {
	if err == nil {
		return nil
	}
	// go-mysql-server's errors reach the handler as its own error kinds;
	// vitess casts them to SQL errors only when it answers the client.
	var se *mysql.SQLError
	if !errors.As(err, &se) {
		se = sql.CastSQLError(err)
	}
	if se.Num == erReadOnlyTransaction {
		return mysql.NewSQLError(erReadOnlyTransaction, sqlStateReadOnlyTx, "Cannot execute statement in a READ ONLY transaction.")
	}
	if se.Num != erUnknownError {
		return err
	}
	if m := dbDenied.FindStringSubmatch(se.Message); m != nil {
		return mysql.NewSQLError(erDBAccessDenied, sqlStateAccessDenied, "%s", se.Message)
	}
	if m := tableDenied.FindStringSubmatch(se.Message); m != nil {
		return mysql.NewSQLError(erTableAccessDenied, sqlStateAccessDenied, "%s command denied to user %s for table '%s'", commandOf(query), m[1], m[2])
	}
	m := commandDenied.FindStringSubmatch(se.Message)
	if m == nil {
		return err
	}
	var sess *session
	if s := h.sessionFor(c); s != nil {
		sess = s
	}
	return deniedBy(h.users, sess, query, m[1])
}

// deniedBy finds the first privilege query needs that the session's user
// lacks and returns MySQL's error for it; account is the user as go-
// mysql-server printed it ('u'@'h').
func deniedBy(users *mysql_db.MySQLDb, sess *session, query, account string) error {
	fallback := mysql.NewSQLError(erTableAccessDenied, sqlStateAccessDenied, "%s command denied to user %s", commandOf(query), account)
	stmt, _, err := ast.ParseOne(context.Background(), query)
	if err != nil || users == nil || sess == nil {
		return fallback
	}
	if k, ok := stmt.(*ast.Kill); ok {
		// Another user's connection (own ones pass: own_account.go).
		if id, ok := killTarget(k); ok {
			return mysql.NewSQLError(erKillDenied, "HY000", "You are not owner of thread %d", id)
		}
	}
	ctx := sql.NewContext(context.Background(), sql.WithSession(sess))
	var denied, global error
	ast.WalkAuthNodes(stmt, func(_ ast.AuthNode, auth ast.AuthInformation) {
		if denied != nil || auth.AuthType == ast.AuthType_IGNORE {
			return
		}
		priv, tableLevel := tablePrivilege(auth.AuthType)
		if !tableLevel {
			if global == nil {
				global = mysql.NewSQLError(erSpecificAccessDenied, sqlStateAccessDenied,
					"Access denied; you need (at least one of) the %s privilege(s) for this operation", privilegeName(auth.AuthType))
			}
			return
		}
		has := func(db, table string) bool {
			if db == "" {
				db = sess.GetCurrentDatabase()
			}
			if strings.EqualFold(db, "information_schema") {
				return true
			}
			return users.UserHasPrivileges(ctx, sql.NewPrivilegedOperation(sql.PrivilegeCheckSubject{Database: strings.ToLower(db), Table: table}, priv))
		}
		names := auth.TargetNames
		switch auth.TargetType {
		case ast.AuthTargetType_SingleTableIdentifier, ast.AuthTargetType_MultipleTableIdentifiers, ast.AuthTargetType_TableColumn:
			step := 2
			if auth.TargetType == ast.AuthTargetType_TableColumn {
				step = 3
			}
			for i := 0; i+1 < len(names) && denied == nil; i += step {
				if !has(names[i], names[i+1]) {
					denied = mysql.NewSQLError(erTableAccessDenied, sqlStateAccessDenied,
						"%s command denied to user %s for table '%s'", strings.ReplaceAll(auth.AuthType, "_", " "), account, names[i+1])
				}
			}
		case ast.AuthTargetType_DatabaseIdentifiers:
			for _, db := range names {
				if denied == nil && !has(db, "") {
					denied = mysql.NewSQLError(erDBAccessDenied, sqlStateAccessDenied, "Access denied for user %s to database '%s'", account, db)
				}
			}
		case ast.AuthTargetType_Global:
			if denied == nil && !users.UserHasPrivileges(ctx, sql.NewPrivilegedOperation(sql.PrivilegeCheckSubject{}, priv)) && global == nil {
				global = mysql.NewSQLError(erSpecificAccessDenied, sqlStateAccessDenied,
					"Access denied; you need (at least one of) the %s privilege(s) for this operation", privilegeName(auth.AuthType))
			}
		}
	})
	switch {
	case denied != nil:
		return denied
	case global != nil:
		return global
	}
	return fallback
}

// tablePrivilege is the privilege an auth type checks on a database or
// table; false for account and server-wide operations (CREATE USER,
// GRANT, SUPER, ...), which MySQL refuses with 1227.
func tablePrivilege(authType string) (sql.PrivilegeType, bool) {
	switch authType {
	case ast.AuthType_SELECT:
		return sql.PrivilegeType_Select, true
	case ast.AuthType_INSERT, ast.AuthType_REPLACE:
		return sql.PrivilegeType_Insert, true
	case ast.AuthType_UPDATE:
		return sql.PrivilegeType_Update, true
	case ast.AuthType_DELETE:
		return sql.PrivilegeType_Delete, true
	case ast.AuthType_CREATE:
		return sql.PrivilegeType_Create, true
	case ast.AuthType_DROP:
		return sql.PrivilegeType_Drop, true
	case ast.AuthType_ALTER:
		return sql.PrivilegeType_Alter, true
	case ast.AuthType_INDEX:
		return sql.PrivilegeType_Index, true
	}
	return 0, false
}

// privilegeName is MySQL's name of the privilege behind an auth type.
func privilegeName(authType string) string {
	switch authType {
	case ast.AuthType_GRANT_PRIVILEGE, ast.AuthType_GRANT_PROXY, ast.AuthType_GRANT_ROLE,
		ast.AuthType_REVOKE_ALL, ast.AuthType_REVOKE_PRIVILEGE, ast.AuthType_REVOKE_PROXY, ast.AuthType_REVOKE_ROLE:
		return "GRANT OPTION"
	case ast.AuthType_ALTER_USER, ast.AuthType_RENAME:
		return "CREATE USER"
	}
	return strings.ReplaceAll(authType, "_", " ")
}

// commandOf is the statement's first word in capitals ("SELECT").
func commandOf(query string) string {
	return strings.ToUpper(firstKeyword(query))
}

// firstKeyword is the first word of query after spaces and comments.
func firstKeyword(query string) string {
	q := strings.TrimLeft(query, " \t\r\n(")
	for strings.HasPrefix(q, "/*") {
		end := strings.Index(q, "*/")
		if end < 0 {
			return ""
		}
		q = strings.TrimLeft(q[end+2:], " \t\r\n(")
	}
	n := 0
	for n < len(q) && (q[n] >= 'a' && q[n] <= 'z' || q[n] >= 'A' && q[n] <= 'Z') {
		n++
	}
	return q[:n]
}

// ComInitDB (USE db, and the database a client names when it connects)
// answers a database the user has no privilege on with 1044, as MySQL
// does (go-mysql-server: 1105).
func (h *handler) ComInitDB(c *mysql.Conn, schemaName string) error {
	return h.accessError(c, "", h.Handler.ComInitDB(c, schemaName))
}

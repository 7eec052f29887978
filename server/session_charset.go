package server

// The connection's character set and collation as MySQL 8 sets them
// (MySQL 8.0 manual 12.4 "Connection Character Sets and Collations"):
//
//   - at connect, the client names a collation in its handshake; the server
//     sets character_set_client, character_set_connection and
//     character_set_results to its character set and collation_connection
//     to that collation (go-sql-driver's collation=utf8mb4_unicode_ci, which
//     Grafana sends, is applied this way, with no SET NAMES);
//   - SET NAMES cs COLLATE coll sets collation_connection to coll, and
//     refuses a collation of another character set (ERROR 1253).
//
// go-mysql-server ignored both: every session started with
// utf8mb4_0900_bin, and its parser drops the COLLATE of SET NAMES.

import (
	"regexp"
	"strings"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/vitess/go/mysql"
	ast "github.com/dolthub/vitess/go/vt/sqlparser"
)

const erCollationCharsetMismatch = 1253 // ER_COLLATION_CHARSET_MISMATCH

// applyHandshakeCollation sets s's connection character set variables from
// the collation id the client sent in its handshake. An id go-mysql-server
// does not know (0: none sent) leaves the server's defaults.
func applyHandshakeCollation(s *session, id uint8) {
	coll := sql.CollationID(id)
	if id == 0 || coll.Name() == "" {
		return
	}
	ctx := sql.NewEmptyContext()
	cs := coll.CharacterSet().String()
	for _, v := range []struct{ name, value string }{
		{"character_set_client", cs},
		{"character_set_connection", cs},
		{"character_set_results", cs},
		{"collation_connection", coll.Name()},
	} {
		_ = s.SetSessionVariable(ctx, v.name, v.value) // a name go-mysql-server refuses keeps its default
	}
}

// setNamesCollate matches SET NAMES cs COLLATE coll at the start of a
// statement, capturing cs and coll (quoted or not).
var setNamesCollate = regexp.MustCompile(`(?is)^\s*SET\s+NAMES\s+('[^']*'|"[^"]*"|[^\s,;]+)\s+COLLATE\s+('[^']*'|"[^"]*"|[^\s,;]+)`)

// withNamesCollation adds collation_connection = coll to a SET NAMES cs
// COLLATE coll statement (the parser keeps only cs); stmt is returned
// unchanged otherwise. A collation of another character set is ERROR
// 1253, as in MySQL.
func withNamesCollation(stmt ast.Statement, text string) (ast.Statement, error) {
	set, ok := stmt.(*ast.Set)
	if !ok {
		return stmt, nil
	}
	m := setNamesCollate.FindStringSubmatch(text)
	if m == nil {
		return stmt, nil
	}
	cs, coll := strings.Trim(m[1], `'"`), strings.Trim(m[2], `'"`)
	if _, err := sql.ParseCollation(cs, coll, false); err != nil {
		if _, unknown := sql.ParseCollation("", coll, false); unknown == nil {
			return nil, mysql.NewSQLError(erCollationCharsetMismatch, "42000", "COLLATION '%s' is not valid for CHARACTER SET '%s'", coll, cs)
		}
		return nil, mysql.NewSQLError(erUnknownCollation, "HY000", "Unknown collation: '%s'", coll)
	}
	set.Exprs = append(set.Exprs, &ast.SetVarExpr{Name: ast.NewColName("collation_connection"),
		Expr: ast.NewStrVal([]byte(strings.ToLower(coll))), Scope: ast.SetScope_Session})
	return set, nil
}

const erUnknownCollation = 1273 // ER_UNKNOWN_COLLATION

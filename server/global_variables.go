package server

// Setting a global system variable (SET GLOBAL, SET PERSIST, @@global.x)
// changes every session's behaviour — max_connections, sql_select_limit's
// default, max_execution_time — so MySQL lets only accounts with SUPER or
// SYSTEM_VARIABLES_ADMIN do it and refuses others with 1227. go-mysql-
// server checks nothing: a read-only analyst could SET GLOBAL
// max_connections = 1. refuseGlobalSet, an analyzer rule, refuses it.

import (
	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/analyzer"
	"github.com/dolthub/go-mysql-server/sql/expression"
	"github.com/dolthub/go-mysql-server/sql/plan"
	"github.com/dolthub/go-mysql-server/sql/transform"
	"github.com/dolthub/vitess/go/mysql"
)

// ruleRefuseGlobalSet is the rule's id (planner's rules use 1001-1099).
const ruleRefuseGlobalSet analyzer.RuleId = 1101

// refuseGlobalSet fails a SET of a global variable by a user without
// SUPER, before it runs. Other statements pass untouched.
func refuseGlobalSet(ctx *sql.Context, a *analyzer.Analyzer, n sql.Node, _ *plan.Scope, _ analyzer.RuleSelector, _ *sql.QueryFlags) (sql.Node, transform.TreeIdentity, error) {
	set, ok := n.(*plan.Set)
	if !ok || a.Catalog.MySQLDb == nil || !a.Catalog.MySQLDb.Enabled() {
		return n, transform.SameTree, nil
	}
	for _, e := range set.Exprs {
		sf, ok := e.(*expression.SetField)
		if !ok {
			continue
		}
		v, ok := sf.LeftChild.(*expression.SystemVar)
		if !ok {
			continue
		}
		scope, ok := v.Scope.(*sql.MysqlScope)
		if !ok || scope.Type == sql.SystemVariableScope_Session || scope.Type == sql.SystemVariableScope_Both {
			continue
		}
		if !a.Catalog.MySQLDb.UserHasPrivileges(ctx, sql.NewPrivilegedOperation(sql.PrivilegeCheckSubject{}, sql.PrivilegeType_Super)) {
			return nil, transform.SameTree, mysql.NewSQLError(erSpecificAccessDenied, sqlStateAccessDenied,
				"Access denied; you need (at least one of) the SUPER or SYSTEM_VARIABLES_ADMIN privilege(s) for this operation")
		}
	}
	return n, transform.SameTree, nil
}

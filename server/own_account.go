package server

// What MySQL lets every account do about itself, without a privilege:
//
//   - see its own grants (SHOW GRANTS, SHOW GRANTS FOR CURRENT_USER(),
//     SHOW GRANTS FOR its own name); others' grants need SELECT on the
//     mysql database. vitess marks every SHOW GRANTS as needing it, so an
//     analyst could not list its own privileges (1044; Metabase reads
//     them to learn what it may do).
//   - stop its own statements and connections (KILL [QUERY] id of a
//     connection of the same user); others' need SUPER, and MySQL refuses
//     them with 1095 "You are not owner of thread". vitess marks every
//     KILL as needing SUPER, so a read-only user could not cancel its own
//     query (Connector/J's Statement.cancel and setQueryTimeout send
//     KILL QUERY on a second connection as the same user).
//
// ownAccountParser lifts those checks for the session's own account in
// the parsed statement, before go-mysql-server's privilege checks read it.

import (
	"context"
	"strconv"
	"strings"
	"sync"

	"github.com/dolthub/go-mysql-server/sql"
	ast "github.com/dolthub/vitess/go/vt/sqlparser"
)

type ownAccountParser struct {
	sql.Parser
	sessions *sync.Map // connection id (uint32) → *session
}

var _ sql.Parser = ownAccountParser{}

func (p ownAccountParser) Parse(ctx *sql.Context, query string, multi bool) (ast.Statement, string, string, error) {
	stmt, parsed, rest, err := p.Parser.Parse(ctx, query, multi)
	if err == nil {
		p.allowOwn(ctx, stmt)
	}
	return stmt, parsed, rest, err
}

func (p ownAccountParser) ParseWithOptions(ctx context.Context, query string, delimiter rune, multi bool, options ast.ParserOptions) (ast.Statement, string, string, error) {
	stmt, parsed, rest, err := p.Parser.ParseWithOptions(ctx, query, delimiter, multi, options)
	if err == nil {
		p.allowOwn(ctx, stmt)
	}
	return stmt, parsed, rest, err
}

func (p ownAccountParser) ParseOneWithOptions(ctx context.Context, query string, options ast.ParserOptions) (ast.Statement, int, error) {
	stmt, n, err := p.Parser.ParseOneWithOptions(ctx, query, options)
	if err == nil {
		p.allowOwn(ctx, stmt)
	}
	return stmt, n, err
}

// allowOwn marks a SHOW GRANTS of the session's own account, or a KILL of
// one of its own connections, as needing no privilege.
func (p ownAccountParser) allowOwn(ctx context.Context, stmt ast.Statement) {
	sqlCtx, ok := ctx.(*sql.Context)
	if !ok || sqlCtx.Session == nil {
		return
	}
	client := sqlCtx.Session.Client()
	switch st := stmt.(type) {
	case *ast.ShowGrants:
		if len(st.Using) > 0 {
			return
		}
		if st.For == nil || st.CurrentUser ||
			(st.For.Name == client.User && (st.For.AnyHost || st.For.Host == "%" || strings.EqualFold(st.For.Host, client.Address))) {
			st.SetAuthType(ast.AuthType_IGNORE)
		}
	case *ast.Kill:
		if id, ok := killTarget(st); ok && p.sessions != nil {
			if s, found := p.sessions.Load(id); found && s.(*session).Client().User == client.User {
				st.SetAuthType(ast.AuthType_IGNORE)
			}
		}
	}
}

// killTarget is the connection id a KILL names as a literal.
func killTarget(k *ast.Kill) (uint32, bool) {
	v, ok := k.ConnID.(*ast.SQLVal)
	if !ok || v.Type != ast.IntVal {
		return 0, false
	}
	id, err := strconv.ParseUint(string(v.Val), 10, 32)
	return uint32(id), err == nil
}

package server

// MySQL lets every account see its own grants (SHOW GRANTS, SHOW GRANTS
// FOR CURRENT_USER(), SHOW GRANTS FOR its own name); other accounts'
// grants need SELECT on the mysql database. vitess marks every SHOW
// GRANTS as needing SELECT on mysql, so an analyst could not list its
// own privileges (1044). ownGrantsParser lifts that check for the
// session's own account, before go-mysql-server's privilege checks read
// it; SHOW GRANTS FOR someone else keeps it.

import (
	"context"
	"strings"

	"github.com/dolthub/go-mysql-server/sql"
	ast "github.com/dolthub/vitess/go/vt/sqlparser"
)

type ownGrantsParser struct{ sql.Parser }

var _ sql.Parser = ownGrantsParser{}

func (p ownGrantsParser) Parse(ctx *sql.Context, query string, multi bool) (ast.Statement, string, string, error) {
	stmt, parsed, rest, err := p.Parser.Parse(ctx, query, multi)
	if err == nil {
		allowOwnGrants(ctx, stmt)
	}
	return stmt, parsed, rest, err
}

func (p ownGrantsParser) ParseWithOptions(ctx context.Context, query string, delimiter rune, multi bool, options ast.ParserOptions) (ast.Statement, string, string, error) {
	stmt, parsed, rest, err := p.Parser.ParseWithOptions(ctx, query, delimiter, multi, options)
	if err == nil {
		allowOwnGrants(ctx, stmt)
	}
	return stmt, parsed, rest, err
}

func (p ownGrantsParser) ParseOneWithOptions(ctx context.Context, query string, options ast.ParserOptions) (ast.Statement, int, error) {
	stmt, n, err := p.Parser.ParseOneWithOptions(ctx, query, options)
	if err == nil {
		allowOwnGrants(ctx, stmt)
	}
	return stmt, n, err
}

// allowOwnGrants marks a SHOW GRANTS of the session's own account as
// needing no privilege.
func allowOwnGrants(ctx context.Context, stmt ast.Statement) {
	sg, ok := stmt.(*ast.ShowGrants)
	sqlCtx, isSQL := ctx.(*sql.Context)
	if !ok || !isSQL || sqlCtx.Session == nil || len(sg.Using) > 0 {
		return
	}
	client := sqlCtx.Session.Client()
	own := sg.For == nil || sg.CurrentUser ||
		(sg.For.Name == client.User && (sg.For.AnyHost || sg.For.Host == "%" || strings.EqualFold(sg.For.Host, client.Address)))
	if own {
		sg.SetAuthType(ast.AuthType_IGNORE)
	}
}

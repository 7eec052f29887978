package server

// Server-side prepared statements (COM_STMT_PREPARE/EXECUTE, as
// Connector/J with useServerPrepStmts and mysql2's execute() send them)
// of the statements arb answers beside go-mysql-server's parser:
// GROUP BY ... WITH ROLLUP (rollup.go), EXPLAIN FORMAT=JSON
// (explain_json.go), the tabular EXPLAIN (explain_table.go) and EXPLAIN
// ANALYZE.
//
// vitess parses a statement to prepare itself, to count its placeholders,
// before any handler sees it (github.com/dolthub/vitess go/mysql/conn.go,
// the ComPrepare case of Conn.handleNextCommand), and answers a syntax
// error for WITH ROLLUP and FORMAT=JSON without calling the handler. So
// the command tap (protocol_commands.go) hands vitess a stand-in with the
// same placeholders in the same order: the statement without WITH ROLLUP,
// or the statement an EXPLAIN explains (vitess parses a plain EXPLAIN but
// counts no placeholder inside it, so the client would bind none). It records the
// original text under the connection (compatHandler.preparing), and
// compatHandler.ComPrepare, which vitess calls next on the same
// connection, puts the original back into the PrepareData vitess keeps
// (its PrepareStmt is what every COM_STMT_EXECUTE runs) and prepares the
// original. A WITH ROLLUP statement then runs through the parser hook's
// rewrite like any query; an EXPLAIN is answered here, from EXPLAIN
// FORMAT=TREE of the statement executed with the same bound values, and
// an EXPLAIN ANALYZE is go-mysql-server's, run with the bound values.
//
// INVARIANT: a stand-in has exactly the placeholders of the original, in
// order, so vitess's parameter count and types are the original's.
// INVARIANT: PrepareStmt holds the client's text (keywords quoted as
// keyword_identifiers.go does) once ComPrepare has returned.

import (
	"context"
	"regexp"

	"github.com/dolthub/vitess/go/mysql"
	"github.com/dolthub/vitess/go/sqltypes"
	querypb "github.com/dolthub/vitess/go/vt/proto/query"
	ast "github.com/dolthub/vitess/go/vt/sqlparser"
)

// preparedSwap is a statement to prepare that the tap replaced for
// vitess: standIn is what vitess parsed, original what the client sent.
type preparedSwap struct {
	standIn, original string
}

// preparedStandIn is the text vitess is given to prepare query in its
// place; ok is false when vitess takes query as it is, or no stand-in
// helps (vitess then reports the syntax error).
func preparedStandIn(query string) (standIn string, ok bool) {
	// The patterns first keep every other prepare at no parse here.
	if target, found := explainJSONTarget(query); found {
		standIn = target
	} else if target, found := explainAnalyzeTarget(query); found {
		// As for a plain EXPLAIN: the client was told it binds nothing.
		standIn = target
	} else if target, found := explainTableTarget(query); found {
		// vitess parses a plain EXPLAIN but counts no placeholder inside
		// one (its walk does not enter an EXPLAIN): the client would be
		// told the statement takes none.
		standIn = target
	} else if stripped, rest, found := rollupStatement(query, false); found && rest == "" {
		if _, err := ast.Parse(query); err == nil {
			return "", false
		}
		standIn = stripped
	} else {
		return "", false
	}
	if _, err := ast.Parse(standIn); err != nil {
		if q, quoted := preparedQuoted(standIn); quoted {
			return q, true
		}
		return "", false
	}
	return standIn, true
}

// swapPrepared is the query to prepare on c: the original of the
// stand-in the tap gave vitess, put back into prepare, or query itself.
func (h *compatHandler) swapPrepared(c *mysql.Conn, query string, prepare *mysql.PrepareData) string {
	v, ok := h.preparing.LoadAndDelete(c.ConnectionID)
	if !ok {
		return query
	}
	swap := v.(preparedSwap)
	if swap.standIn != query {
		return query
	}
	if prepare != nil {
		prepare.PrepareStmt = swap.original
	}
	return swap.original
}

// explainPrepared is the EXPLAIN form a prepared statement's text is,
// with the statement it explains; form is 0 for none.
func explainPrepared(query string) (form explainForm, target string) {
	if t, ok := explainJSONTarget(query); ok {
		return explainJSONForm, t
	}
	if t, ok := explainTableTarget(query); ok {
		return explainTableForm, t
	}
	if t, ok := explainAnalyzeTarget(query); ok {
		return explainAnalyzeForm, t
	}
	return 0, ""
}

// explainAnalyzeStatement matches EXPLAIN ANALYZE [FORMAT=TREE] of a
// query and captures the query.
var explainAnalyzeStatement = regexp.MustCompile(`(?is)^\s*(?:EXPLAIN|DESCRIBE|DESC)\s+ANALYZE\s+(?:FORMAT\s*=\s*(?:TREE|'TREE'|"TREE")\s+)?((?:SELECT|WITH|\()\b?.+?)\s*;?\s*$`)

// explainAnalyzeTarget is the query an EXPLAIN ANALYZE explains.
func explainAnalyzeTarget(query string) (string, bool) {
	return explainTarget(explainAnalyzeStatement, query)
}

type explainForm int

const (
	explainJSONForm explainForm = iota + 1
	explainTableForm
	explainAnalyzeForm // go-mysql-server's EXPLAIN ANALYZE, bound values and all
)

// prepareExplain prepares EXPLAIN FORMAT=TREE of target (so that a
// statement that cannot run fails at prepare, as in MySQL) and returns
// the columns form answers with.
func (h *compatHandler) prepareExplain(ctx context.Context, c *mysql.Conn, form explainForm, target string, prepare *mysql.PrepareData) ([]*querypb.Field, error) {
	if form == explainAnalyzeForm {
		return h.Handler.ComPrepare(ctx, c, "EXPLAIN ANALYZE "+target, prepare)
	}
	tree := *prepare
	if _, err := h.Handler.ComPrepare(ctx, c, "EXPLAIN FORMAT=TREE "+target, &tree); err != nil {
		return nil, err
	}
	var fields []*querypb.Field
	err := h.answerExplain(form, nil, func(r *sqltypes.Result, _ bool) error {
		fields = r.Fields
		return nil
	})
	return fields, err
}

// executeExplain runs a prepared EXPLAIN of target with prepare's bound
// values.
func (h *compatHandler) executeExplain(ctx context.Context, c *mysql.Conn, form explainForm, target string, prepare *mysql.PrepareData, callback func(*sqltypes.Result) error) error {
	if form == explainAnalyzeForm {
		analyze := *prepare
		analyze.PrepareStmt = "EXPLAIN ANALYZE " + target
		return h.Handler.ComStmtExecute(ctx, c, &analyze, callback)
	}
	tree := *prepare
	tree.PrepareStmt = "EXPLAIN FORMAT=TREE " + target
	var lines []string
	err := h.Handler.ComStmtExecute(ctx, c, &tree, func(r *sqltypes.Result) error {
		lines = append(lines, planLines(r)...)
		return nil
	})
	if err != nil {
		return err
	}
	return h.answerExplain(form, lines, func(r *sqltypes.Result, _ bool) error { return callback(r) })
}

// answerExplain answers an EXPLAIN in form from the plan's lines.
func (h *compatHandler) answerExplain(form explainForm, lines []string, callback mysql.ResultSpoolFn) error {
	if form == explainJSONForm {
		return answerExplainJSON(lines, callback)
	}
	return answerExplainTable(lines, callback)
}

package server

import (
	"context"
	"strings"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/vitess/go/mysql"
	"github.com/dolthub/vitess/go/sqltypes"
	ast "github.com/dolthub/vitess/go/vt/sqlparser"
)

// nativeStatement runs the first statement of query on arb's own write
// paths when it is one of theirs: an INSERT of literal VALUES
// (fastInsert) or a LOAD DATA LOCAL INFILE into events (loadData).
// handled=false sends the statement to go-mysql-server, untouched.
//
// Why it splits multi-statement queries itself: a client that sets
// CLIENT_MULTI_STATEMENTS (the mariadb CLI always does) has every
// COM_QUERY handed to ComMultiQuery, which go-mysql-server runs one
// statement at a time through its analyzer: each INSERT of such a client
// used to miss the native path (100k rows from the CLI took 5.5× longer
// than from go-sql-driver). Here the first statement is parsed as
// go-mysql-server's multi-statement parse does (sql.MysqlParser:
// trailing spaces and semicolons trimmed, vitess ParseOne), and rest is
// the text after it, which the connection hands back for the next
// round. With multi=false a query holding more than one statement is
// not handled (go-mysql-server refuses it as MySQL does).
func (h *handler) nativeStatement(ctx context.Context, c *mysql.Conn, sess *session, query string, multi bool) (res *sqltypes.Result, rest string, handled bool, err error) {
	kind := leadingWord(query)
	if kind != "insert" && kind != "load" {
		return nil, "", false, nil
	}
	if kind == "insert" && !pushdownOn(sess) {
		return nil, "", false, nil
	}
	s := sql.RemoveSpaceAndDelimiter(query, ';')
	stmt, end, err := ast.ParseOne(ctx, s)
	if err != nil && kind == "load" {
		// vitess takes no keyword as a LOAD DATA column name (event,
		// plan, name, …), which MySQL takes unquoted: quote them and
		// parse again.
		if quoted, ok := quoteLoadColumns(s); ok {
			stmt, end, err = ast.ParseOne(ctx, quoted)
			s = quoted
		}
	}
	if err != nil && kind == "insert" {
		// A property named like a word vitess reserves and MySQL does
		// not (keyword_identifiers.go).
		if quoted, ok := quoteUnreservedKeywords(s); ok {
			if st, e, perr := ast.ParseOne(ctx, quoted); perr == nil {
				stmt, end, err, s = st, e, nil, quoted
			}
		}
	}
	if err != nil {
		return nil, "", false, nil // go-mysql-server reports it
	}
	if end != 0 && end < len(s) {
		if !multi {
			return nil, "", false, nil
		}
		rest = s[end:]
	}
	switch st := stmt.(type) {
	case *ast.Insert:
		res, handled, err = h.fastInsert(sess, st)
		if handled {
			h.metrics.fastInserts.Inc()
		}
	case *ast.Load:
		res, handled, err = h.loadData(ctx, c, sess, st, s)
		if handled {
			h.metrics.loads.Inc()
		}
	}
	if !handled {
		return nil, "", false, nil
	}
	return res, rest, true, err
}

// leadingWord is the lower-cased first word of query, after spaces and
// comments; "" when there is none within the first few bytes.
func leadingWord(query string) string {
	q := query
	for {
		q = strings.TrimLeft(q, " \t\r\n")
		switch {
		case strings.HasPrefix(q, "/*") && !strings.HasPrefix(q, "/*!"):
			end := strings.Index(q, "*/")
			if end < 0 {
				return ""
			}
			q = q[end+2:]
			continue
		case strings.HasPrefix(q, "-- "), strings.HasPrefix(q, "#"):
			end := strings.IndexByte(q, '\n')
			if end < 0 {
				return ""
			}
			q = q[end+1:]
			continue
		}
		break
	}
	n := 0
	for n < len(q) && n < 8 && (q[n] >= 'a' && q[n] <= 'z' || q[n] >= 'A' && q[n] <= 'Z') {
		n++
	}
	return strings.ToLower(q[:n])
}

// quoteLoadColumns backquotes the bare names of the column list that ends
// a LOAD DATA statement; ok is false when s does not end with one or
// holds more than one statement (only the whole-query case is rewritten).
func quoteLoadColumns(s string) (string, bool) {
	if !strings.HasSuffix(s, ")") || strings.Contains(s, ";") {
		return "", false
	}
	open := strings.LastIndexByte(s, '(')
	if open < 0 {
		return "", false
	}
	names := strings.Split(s[open+1:len(s)-1], ",")
	for i, n := range names {
		n = strings.TrimSpace(n)
		if n == "" {
			return "", false
		}
		if !strings.HasPrefix(n, "`") {
			for _, c := range n {
				if !(c == '_' || c == '$' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
					return "", false
				}
			}
			n = "`" + n + "`"
		}
		names[i] = n
	}
	return s[:open+1] + strings.Join(names, ", ") + ")", true
}

package server

// Words MySQL 8 does not reserve but go-mysql-server's parser (vitess)
// takes only as keywords: in MySQL `SELECT plan FROM events GROUP BY plan`
// is a plain query over a property named plan; in vitess it is a syntax
// error (1064), and plan, a property many products send, could only be
// read backquoted. A statement that fails to parse is tried once more
// with these words backquoted wherever they stand bare (not in strings,
// comments or backquotes); if that parses it runs, else the first error
// stands. Only words vitess uses in spots where MySQL has no keyword of
// that name are listed (EXPLAIN PLAN, ALTER TABLE … ALGORITHM=COPY|
// INPLACE, LOCK=SHARED|EXCLUSIVE, ENCRYPTED=YES, …), and a statement
// that parses is never rewritten, so no valid statement changes meaning.

import (
	"strings"

	ast "github.com/dolthub/vitess/go/vt/sqlparser"
)

var mysqlUnreservedKeywords = map[int]bool{
	ast.PLAN: true, ast.COPY: true, ast.INPLACE: true, ast.SHARED: true, ast.EXCLUSIVE: true,
	ast.ENCRYPTED: true, ast.TRANSACTIONAL: true, ast.YES: true, ast.OFF: true,
}

// quoteUnreservedKeywords backquotes the bare occurrences of
// mysqlUnreservedKeywords in q; ok is false when there are none.
func quoteUnreservedKeywords(q string) (string, bool) {
	tkn := ast.NewStringTokenizer(q)
	var b strings.Builder
	last := 0
	for {
		typ, val := tkn.Scan()
		if typ == 0 || typ == ast.LEX_ERROR {
			break
		}
		if !mysqlUnreservedKeywords[typ] {
			continue
		}
		// The tokenizer's Position is one past the token's end.
		end := tkn.Position - 1
		start := end - len(val)
		if start < last || end > len(q) || !strings.EqualFold(q[start:end], string(val)) {
			return "", false
		}
		b.WriteString(q[last:start])
		b.WriteByte('`')
		b.WriteString(q[start:end])
		b.WriteByte('`')
		last = end
	}
	if last == 0 {
		return "", false
	}
	b.WriteString(q[last:])
	return b.String(), true
}

// preparedQuoted is the text of a statement to prepare with
// quoteUnreservedKeywords applied, when vitess refuses it as sent and
// takes it quoted; ok is false otherwise (the text is sent as it came).
func preparedQuoted(query string) (string, bool) {
	// Tokenizing first keeps the common prepare (no such word) at one
	// scan: only a statement holding one is parsed here at all.
	q, ok := quoteUnreservedKeywords(query)
	if !ok {
		return "", false
	}
	if _, err := ast.Parse(query); err == nil {
		return "", false
	}
	if _, err := ast.Parse(q); err != nil {
		return "", false
	}
	return q, true
}

// retryQuoted parses query again with quoteUnreservedKeywords applied;
// ok is false when nothing was quoted or it still does not parse.
func retryQuoted(query string, parse func(string) (ast.Statement, error)) (ast.Statement, string, bool) {
	q, ok := quoteUnreservedKeywords(query)
	if !ok {
		return nil, "", false
	}
	stmt, err := parse(q)
	if err != nil {
		return nil, "", false
	}
	return stmt, q, true
}

package server

// DATE 'x', TIME 'x' and TIMESTAMP 'x', the typed literals of standard
// SQL (MySQL 8.0 manual 11.1.3 "Date and Time Literals"): MySQL types
// them DATE, TIME and DATETIME (fractional digits as written), so a
// driver sees column type 10, 11 or 12, and in arithmetic a TIME is the
// number hhmmss (TIME '01:02:03' + 0 is 10203). vitess parses them into
// plain string literals, the keyword dropped, and go-mysql-server
// answers a string (TIME '01:02:03' + 0 was 1). Before a query is
// parsed, each is rewritten into the CAST go-mysql-server types the same
// way (CAST('x' AS DATE), CAST('x' AS TIME(n)), CAST('x' AS
// DATETIME(n))); the result column keeps the name MySQL gives it, the
// text as written, because each select expression's recorded text is
// put back (restoreTypedLiteralNames).
//
// Only a keyword token directly followed by a string token is a typed
// literal (vitess's tokenizer: never inside a string, a comment or
// backquotes); DATE(...) and a column named date stay as they are.
// INSERT and REPLACE are left alone: the native INSERT path reads the
// same literals as text, and both paths must store the same value.
// As in MySQL, an unquoted keyword before a string is the literal, not
// a column with an alias: `SELECT time 'x'` is TIME 'x' (a column named
// time takes AS or backquotes there).
// A literal that is no date or time (DATE '2024-13-01', TIMESTAMP
// '2024-02-30 10:00:00') refuses the statement with MySQL's error 1525
// (ER_WRONG_VALUE, "Incorrect DATE value: '2024-13-01'"): the CAST alone
// would make it NULL, an answer where MySQL gives none.
//
// INVARIANT: a statement without a typed literal is parsed from its own
// text, unchanged.

import (
	"regexp"
	"strconv"
	"strings"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/types"
	"github.com/dolthub/vitess/go/mysql"
	ast "github.com/dolthub/vitess/go/vt/sqlparser"
)

// erWrongValueLiteral is ER_WRONG_VALUE, MySQL's error for a typed
// literal that is no value of its type.
const erWrongValueLiteral = 1525

// typedLiteralHint finds statements that may hold a typed literal, so
// that every other statement is never tokenized here.
var typedLiteralHint = regexp.MustCompile(`(?i)\b(?:DATE|TIME|TIMESTAMP)\s*['"]`)

// insertStatement matches an INSERT or REPLACE statement.
var insertStatement = regexp.MustCompile(`(?i)^\s*(?:/\*.*?\*/\s*)*(?:INSERT|REPLACE)\b`)

// literalSwap is one typed literal: original as written, the CAST that
// replaced it, and where the CAST ends in the rewritten text.
type literalSwap struct {
	original, cast string
	castEnd        int
}

// typedLiterals is query with its typed literals rewritten into CASTs,
// and the swaps made (none: query itself), or error 1525 for a literal
// that is no value of its type. With multi, only the first statement is
// rewritten: the parser is called again for the rest.
func typedLiterals(query string, multi bool) (string, []literalSwap, error) {
	if !typedLiteralHint.MatchString(query) || insertStatement.MatchString(query) {
		return query, nil, nil
	}
	tkn := ast.NewStringTokenizer(query)
	var b strings.Builder
	var swaps []literalSwap
	last := 0
	kwType, kwStart, kwEnd := 0, -1, -1 // the previous token when it was DATE, TIME or TIMESTAMP
	for {
		typ, val := tkn.Scan()
		if typ == 0 || typ == ast.LEX_ERROR {
			break
		}
		if multi && typ == ';' {
			break
		}
		end := tkn.Position - 1 // the tokenizer's Position is one past the token's end
		if typ == ast.STRING && kwStart >= 0 {
			// A string's token ends at its closing quote (the
			// tokenizer has looked one byte further).
			end = stringLiteralEnd(query, kwEnd)
			if end < 0 {
				break
			}
			raw := strings.TrimSpace(query[kwEnd:end])
			var cast string
			switch kwType {
			case ast.DATE:
				if _, _, err := types.Date.Convert(sql.NewEmptyContext(), string(val)); err != nil {
					return query, nil, mysql.NewSQLError(erWrongValueLiteral, "HY000", "Incorrect DATE value: '%s'", val)
				}
				cast = "CAST(" + raw + " AS DATE)"
			case ast.TIME:
				text := timeLiteralHours(string(val))
				if _, _, err := types.Time.Convert(sql.NewEmptyContext(), text); err != nil {
					return query, nil, mysql.NewSQLError(erWrongValueLiteral, "HY000", "Incorrect TIME value: '%s'", val)
				}
				if text != string(val) {
					raw = "'" + text + "'" // digits, colons and a sign: nothing to escape
				}
				cast = "CAST(" + raw + " AS TIME(" + fractionDigits(text) + "))"
			default:
				if _, _, err := types.DatetimeMaxPrecision.Convert(sql.NewEmptyContext(), string(val)); err != nil {
					return query, nil, mysql.NewSQLError(erWrongValueLiteral, "HY000", "Incorrect DATETIME value: '%s'", val)
				}
				cast = "CAST(" + raw + " AS DATETIME(" + fractionDigits(string(val)) + "))"
			}
			b.WriteString(query[last:kwStart])
			b.WriteString(cast)
			swaps = append(swaps, literalSwap{original: query[kwStart:end], cast: cast, castEnd: b.Len()})
			last = end
			kwStart = -1
			continue
		}
		kwStart = -1
		if typ == ast.DATE || typ == ast.TIME || typ == ast.TIMESTAMP {
			start := end - len(val)
			if start >= last && start >= 0 && strings.EqualFold(query[start:end], string(val)) {
				kwType, kwStart, kwEnd = typ, start, end
			}
		}
	}
	if len(swaps) == 0 {
		return query, nil, nil
	}
	b.WriteString(query[last:])
	return b.String(), swaps, nil
}

// timeDays matches a TIME literal's 'D hh', 'D hh:mm' and 'D hh:mm:ss…'
// forms (MySQL 8.0 manual 11.2.3), which go-mysql-server does not read.
var timeDays = regexp.MustCompile(`^\s*(-?)(\d{1,2}) +(\d{1,3})((?::\d{1,2}){0,2}(?:\.\d*)?)\s*$`)

// timeLiteralHours is a TIME literal's text with its days counted in its
// hours ('1 02:30' is '26:30'); any other text as it is.
func timeLiteralHours(s string) string {
	m := timeDays.FindStringSubmatch(s)
	if m == nil {
		return s
	}
	days, _ := strconv.Atoi(m[2])
	hours, _ := strconv.Atoi(m[3])
	rest := m[4]
	if rest == "" || rest[0] == '.' {
		rest = ":00" + rest // 'D hh': hours alone
	}
	return m[1] + strconv.Itoa(days*24+hours) + rest
}

// stringLiteralEnd is the offset just past the quoted string that starts
// after blanks at from in query, or -1 when there is none: a quote
// doubled or escaped with a backslash does not end it.
func stringLiteralEnd(query string, from int) int {
	i := from
	for i < len(query) && strings.IndexByte(" \t\r\n", query[i]) >= 0 {
		i++
	}
	if i >= len(query) || (query[i] != '\'' && query[i] != '"') {
		return -1
	}
	quote := query[i]
	for i++; i < len(query); i++ {
		switch query[i] {
		case '\\':
			i++
		case quote:
			if i+1 < len(query) && query[i+1] == quote {
				i++
				continue
			}
			return i + 1
		}
	}
	return -1
}

// fractionDigits is the number of digits after the seconds of a time
// literal's text, at most 6 (MySQL's greatest fractional precision).
func fractionDigits(s string) string {
	_, frac, ok := strings.Cut(s, ".")
	if !ok {
		return "0"
	}
	n := 0
	for n < len(frac) && frac[n] >= '0' && frac[n] <= '9' {
		n++
	}
	return string(rune('0' + min(n, 6)))
}

// restoreTypedLiteralNames puts the typed literals as written back into
// the recorded text of stmt's select expressions, which names their
// columns.
func restoreTypedLiteralNames(stmt ast.Statement, swaps []literalSwap) {
	if len(swaps) == 0 || stmt == nil {
		return
	}
	_ = ast.Walk(func(node ast.SQLNode) (bool, error) {
		if ae, ok := node.(*ast.AliasedExpr); ok && ae.InputExpression != "" {
			for _, s := range swaps {
				ae.InputExpression = strings.ReplaceAll(ae.InputExpression, s.cast, s.original)
			}
		}
		return true, nil
	}, stmt)
}

// originalOffset maps an offset in the rewritten text back to the
// query's own text.
func originalOffset(n int, swaps []literalSwap) int {
	for _, s := range swaps {
		if s.castEnd <= n {
			n -= len(s.cast) - len(s.original)
		}
	}
	return n
}

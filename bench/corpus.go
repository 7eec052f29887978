package main

// corpus.go reads the realistic query corpus of bench/queries/ (issue 13):
// one .sql file per query, the SQL that Metabase, Superset, Grafana and
// Tableau generate and analysts write, each in MySQL's dialect (what arb
// gets) and DuckDB's (the reference). The file format is documented in
// bench/queries/README.md:
//
//	-- source: who writes it this way (required)
//	-- answers: what it answers (required)
//	-- dialect: shared            (optional: the one text is both engines')
//	-- compare: unordered         (optional: compare rows as a set although
//	--                             the query has an ORDER BY)
//	<MySQL text>
//	-- duckdb:
//	<DuckDB text>
//
// INVARIANT: a parsed query has a non-empty MySQL text and a non-empty
// DuckDB text; the DuckDB text equals the MySQL text exactly when the file
// says `-- dialect: shared`, and such a file has no `-- duckdb:` section.

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// corpusQuery is one file of the corpus.
type corpusQuery struct {
	name    string // file name without .sql
	source  string // "-- source:" header
	answers string // "-- answers:" header
	shared  bool   // "-- dialect: shared"
	mysql   string
	duckdb  string
	// ordered: rows are compared in order (the MySQL text has an ORDER BY
	// at its top level and no "-- compare: unordered").
	ordered bool
}

// duckdbMarker is the line that starts a file's DuckDB text.
const duckdbMarker = "-- duckdb:"

// loadCorpus parses every .sql file of dir, in name order.
func loadCorpus(dir string) ([]corpusQuery, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.sql"))
	if err != nil {
		return nil, err
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("corpus %s: no .sql files", dir)
	}
	slices.Sort(paths)
	out := make([]corpusQuery, 0, len(paths))
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		q, err := parseCorpusFile(strings.TrimSuffix(filepath.Base(p), ".sql"), string(b))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		out = append(out, q)
	}
	return out, nil
}

// parseCorpusFile reads one file's text (format above).
func parseCorpusFile(name, text string) (corpusQuery, error) {
	q := corpusQuery{name: name}
	lines := strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n")
	i := 0
	unordered := false
	// The header: the leading comment lines ("-- key: value"; a line
	// without a known key continues the previous value).
	var last *string
	for ; i < len(lines); i++ {
		l := strings.TrimSpace(lines[i])
		if l == "" {
			continue
		}
		if !strings.HasPrefix(l, "--") || l == duckdbMarker {
			break
		}
		body := strings.TrimSpace(strings.TrimPrefix(l, "--"))
		key, val, ok := strings.Cut(body, ":")
		switch k := strings.ToLower(strings.TrimSpace(key)); {
		case ok && k == "source":
			q.source, last = strings.TrimSpace(val), &q.source
		case ok && k == "answers":
			q.answers, last = strings.TrimSpace(val), &q.answers
		case ok && k == "dialect":
			if v := strings.TrimSpace(val); v != "shared" {
				return q, fmt.Errorf("-- dialect: %q: the only value is shared", v)
			}
			q.shared, last = true, nil
		case ok && k == "compare":
			if v := strings.TrimSpace(val); v != "unordered" {
				return q, fmt.Errorf("-- compare: %q: the only value is unordered", v)
			}
			unordered, last = true, nil
		case last != nil:
			*last += " " + body
		default:
			return q, fmt.Errorf("header line %q: want source, answers, dialect or compare", l)
		}
	}
	var mysqlLines, duckLines []string
	inDuck := false
	for ; i < len(lines); i++ {
		if strings.TrimSpace(lines[i]) == duckdbMarker {
			if inDuck {
				return q, fmt.Errorf("two %q lines", duckdbMarker)
			}
			inDuck = true
			continue
		}
		if inDuck {
			duckLines = append(duckLines, lines[i])
		} else {
			mysqlLines = append(mysqlLines, lines[i])
		}
	}
	q.mysql = cleanSQL(mysqlLines)
	q.duckdb = cleanSQL(duckLines)
	switch {
	case q.source == "" || q.answers == "":
		return q, fmt.Errorf("header needs -- source: and -- answers:")
	case q.mysql == "":
		return q, fmt.Errorf("no MySQL text")
	case q.shared && inDuck:
		return q, fmt.Errorf("-- dialect: shared and a %q section: pick one", duckdbMarker)
	case !q.shared && q.duckdb == "":
		return q, fmt.Errorf("no DuckDB text: add a %q section or -- dialect: shared", duckdbMarker)
	}
	if q.shared {
		q.duckdb = q.mysql
	}
	q.ordered = hasTopLevelOrderBy(q.mysql) && !unordered
	return q, nil
}

// cleanSQL joins a section's lines, dropping comment-only lines, blank
// edges and one trailing semicolon (the drivers take one statement).
func cleanSQL(lines []string) string {
	var keep []string
	for _, l := range lines {
		if strings.HasPrefix(strings.TrimSpace(l), "--") {
			continue
		}
		keep = append(keep, strings.TrimRight(l, " \t"))
	}
	s := strings.TrimSpace(strings.Join(keep, "\n"))
	return strings.TrimSpace(strings.TrimSuffix(s, ";"))
}

// hasTopLevelOrderBy reports whether q's outermost SELECT has an ORDER BY:
// one outside every parenthesis (so not in a subquery, a CTE or a window's
// OVER (…)) and outside quotes.
func hasTopLevelOrderBy(q string) bool {
	var b strings.Builder
	depth := 0
	var quote byte
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
			continue
		case c == '\'' || c == '"' || c == '`':
			quote = c
			continue
		case c == '(':
			depth++
		case c == ')':
			depth--
		case depth == 0:
			b.WriteByte(c)
			continue
		}
		if depth == 0 {
			b.WriteByte(' ')
		}
	}
	return strings.Contains(strings.Join(strings.Fields(strings.ToUpper(b.String())), " "), "ORDER BY")
}

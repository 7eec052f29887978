package storage

// The format pages in docs/format/ must stay true to the code: this test
// reads them and compares what they state with the Go constants it can
// check mechanically — every file magic, and the WAL's record-kind table.
// A constant added to the code without its page, or a page naming a magic
// or kind the code does not have, fails with the place to fix.

import (
	"bufio"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
)

const formatDocsDir = "../docs/format"

// goConstants parses the package's non-test sources and returns the
// constants whose declared type or name matches: name → literal value.
func goConstants(t *testing.T, match func(name, typ string) bool) map[string]string {
	t.Helper()
	fset := token.NewFileSet()
	pkgs, err := parser.ParseDir(fset, ".", func(fi os.FileInfo) bool {
		return !strings.HasSuffix(fi.Name(), "_test.go")
	}, 0)
	if err != nil {
		t.Fatalf("parse storage sources: %v", err)
	}
	out := map[string]string{}
	for _, pkg := range pkgs {
		for _, f := range pkg.Files {
			for _, decl := range f.Decls {
				gd, ok := decl.(*ast.GenDecl)
				if !ok || gd.Tok != token.CONST {
					continue
				}
				for _, spec := range gd.Specs {
					vs := spec.(*ast.ValueSpec)
					typ := ""
					if id, ok := vs.Type.(*ast.Ident); ok {
						typ = id.Name
					}
					for i, name := range vs.Names {
						if !match(name.Name, typ) {
							continue
						}
						if i >= len(vs.Values) {
							t.Fatalf("%s: constant %s has no literal value; give it one (wire format constants are written out)",
								fset.Position(name.Pos()), name.Name)
						}
						lit, ok := vs.Values[i].(*ast.BasicLit)
						if !ok {
							t.Fatalf("%s: constant %s is not a literal", fset.Position(name.Pos()), name.Name)
						}
						v := lit.Value
						if lit.Kind == token.STRING {
							v, _ = strconv.Unquote(lit.Value)
						}
						out[name.Name] = v
					}
				}
			}
		}
	}
	return out
}

func readFormatDoc(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(formatDocsDir, name))
	if err != nil {
		t.Fatalf("format page: %v", err)
	}
	return string(b)
}

// TestFormatDocsMagics: every file magic in the code appears on its format
// page, and every magic-looking token on a page is one the code has.
func TestFormatDocsMagics(t *testing.T) {
	magics := goConstants(t, func(name, _ string) bool {
		return strings.HasSuffix(name, "Magic") || regexp.MustCompile(`MagicV\d+$`).MatchString(name)
	})
	// The page each magic is documented on.
	pages := map[string]string{
		"walMagic":       "wal.md",
		"segMagic":       "segment.md",
		"manifestMagic":  "manifest.md",
		"usersMagic":     "manifest.md",
		"userIndexMagic": "manifest.md",
		"peopleMagic":    "people.md",
		"peopleMagicV1":  "people.md",
		"userStateMagic": "people.md",
		"grantsMagic":    "grants.md",
		"logEntryMagic":  "raft.md",
	}
	known := map[string]bool{}
	for name, value := range magics {
		known[value] = true
		page, ok := pages[name]
		if !ok {
			t.Errorf("magic constant %s = %q has no format page: document it in docs/format/ and add it to this test's pages", name, value)
			continue
		}
		if !strings.Contains(readFormatDoc(t, page), value) {
			t.Errorf("docs/format/%s does not mention %s = %q", page, name, value)
		}
	}
	for name := range pages {
		if _, ok := magics[name]; !ok {
			t.Errorf("this test expects a magic constant %s the code no longer has", name)
		}
	}
	entries, err := os.ReadDir(formatDocsDir)
	if err != nil {
		t.Fatal(err)
	}
	token := regexp.MustCompile(`ARB[A-Z]{3}\d\d`)
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".md") {
			continue
		}
		for _, m := range token.FindAllString(readFormatDoc(t, e.Name()), -1) {
			if !known[m] {
				t.Errorf("docs/format/%s names magic %q, which no constant of the code holds", e.Name(), m)
			}
		}
	}
}

// TestFormatDocsRecordKinds: the record-kind table of docs/format/wal.md
// lists exactly the recordKind constants, with the names dumps print.
func TestFormatDocsRecordKinds(t *testing.T) {
	consts := goConstants(t, func(_, typ string) bool { return typ == "recordKind" })
	code := map[int]string{} // kind → constant name
	for name, v := range consts {
		n, err := strconv.Atoi(v)
		if err != nil {
			t.Fatalf("recordKind constant %s = %s is not a decimal literal", name, v)
		}
		if prev, dup := code[n]; dup {
			t.Fatalf("recordKind constants %s and %s share the value %d", prev, name, n)
		}
		code[n] = name
	}
	doc := map[int]string{} // kind → name in the table
	sc := bufio.NewScanner(strings.NewReader(readFormatDoc(t, "wal.md")))
	row := regexp.MustCompile("^\\|\\s*(\\d+)\\s*\\|\\s*`?([a-z_]+)`?\\s*\\|")
	inTable := false
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case strings.HasPrefix(line, "| kind | name |"):
			inTable = true
		case inTable && strings.HasPrefix(line, "|---"):
		case inTable && strings.HasPrefix(line, "|"):
			m := row.FindStringSubmatch(line)
			if m == nil {
				t.Fatalf("docs/format/wal.md: record-kind row %q is not | number | `name` | ... |", line)
			}
			n, _ := strconv.Atoi(m[1])
			doc[n] = m[2]
		case inTable:
			inTable = false
		}
	}
	if len(doc) == 0 {
		t.Fatal("docs/format/wal.md has no record-kind table (a row starting | kind | name |)")
	}
	var kinds []int
	for n := range code {
		kinds = append(kinds, n)
	}
	for n := range doc {
		if _, ok := code[n]; !ok {
			kinds = append(kinds, n)
		}
	}
	sort.Ints(kinds)
	for _, n := range kinds {
		name, inCode := code[n]
		docName, inDoc := doc[n]
		switch {
		case !inDoc:
			t.Errorf("record kind %d (%s in the code) is missing from the table in docs/format/wal.md", n, name)
		case !inCode:
			t.Errorf("docs/format/wal.md lists record kind %d %q, which the code does not have", n, docName)
		case recordKind(n).String() != docName:
			t.Errorf("record kind %d (%s) is %q in dumps (recordKindNames, wal_dump.go) but %q in docs/format/wal.md",
				n, name, recordKind(n).String(), docName)
		}
	}
}

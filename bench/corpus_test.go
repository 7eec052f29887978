package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCorpusFiles parses every file of bench/queries/: each has its
// headers and both dialect texts (or says its one text is shared), and the
// corpus has the 40 queries issue 13 asks for.
func TestCorpusFiles(t *testing.T) {
	paths, err := filepath.Glob(filepath.Join("queries", "*.sql"))
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) < 40 {
		t.Fatalf("%d corpus files, want at least 40", len(paths))
	}
	sources := map[string]int{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		text := string(b)
		q, err := parseCorpusFile(strings.TrimSuffix(filepath.Base(p), ".sql"), text)
		if err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		hasMarker := strings.Contains(text, "\n"+duckdbMarker+"\n")
		switch {
		case q.shared && (hasMarker || q.duckdb != q.mysql):
			t.Errorf("%s: says dialect: shared but has its own DuckDB text", p)
		case !q.shared && (!hasMarker || q.duckdb == "" || q.duckdb == q.mysql):
			t.Errorf("%s: neither dialect: shared nor a distinct %q text", p, duckdbMarker)
		}
		if strings.Contains(q.duckdb, "`") {
			t.Errorf("%s: the DuckDB text has a backquote (DuckDB quotes names with \")", p)
		}
		for _, s := range []string{q.mysql, q.duckdb} {
			if strings.Contains(s, ";") {
				t.Errorf("%s: more than one statement", p)
			}
		}
		who, _, _ := strings.Cut(q.source, ",")
		sources[strings.Fields(who)[0]]++
	}
	for _, who := range []string{"Metabase", "Superset", "Grafana", "Tableau", "analyst"} {
		if sources[who] == 0 {
			t.Errorf("no corpus query from %s (sources: %v)", who, sources)
		}
	}
}

func TestParseCorpusFile(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		ok         bool
		ordered    bool
	}{
		{"variants", "-- source: x\n-- answers: y\nSELECT `a` FROM t ORDER BY 1;\n-- duckdb:\nSELECT \"a\" FROM t ORDER BY 1\n", true, true},
		{"shared", "-- source: x\n-- answers: y\n-- dialect: shared\nSELECT a FROM t\n", true, false},
		{"no duckdb", "-- source: x\n-- answers: y\nSELECT a FROM t\n", false, false},
		{"shared and duckdb", "-- source: x\n-- answers: y\n-- dialect: shared\nSELECT a FROM t\n-- duckdb:\nSELECT a FROM t\n", false, false},
		{"no source", "-- answers: y\n-- dialect: shared\nSELECT a FROM t\n", false, false},
		{"unknown header", "-- source: x\n-- answers: y\n-- shared\nSELECT a FROM t\n", false, false},
		{"unordered", "-- source: x\n-- answers: y\n-- compare: unordered\n-- dialect: shared\nSELECT a FROM t ORDER BY a\n", true, false},
		{"order in window only", "-- source: x\n-- answers: y\n-- dialect: shared\nSELECT SUM(a) OVER (ORDER BY b) FROM (SELECT a, b FROM t ORDER BY b) x\n", true, false},
		{"order in a string", "-- source: x\n-- answers: y\n-- dialect: shared\nSELECT 'ORDER BY' FROM t\n", true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q, err := parseCorpusFile(tc.name, tc.text)
			if (err == nil) != tc.ok {
				t.Fatalf("err = %v, want ok=%v", err, tc.ok)
			}
			if err == nil && q.ordered != tc.ordered {
				t.Errorf("ordered = %v, want %v", q.ordered, tc.ordered)
			}
			if err == nil && strings.HasSuffix(q.mysql, ";") {
				t.Errorf("trailing semicolon kept: %q", q.mysql)
			}
		})
	}
}

// TestClassifyPlan reads plans as arb's EXPLAIN FORMAT=TREE prints them.
func TestClassifyPlan(t *testing.T) {
	native := []string{
		"TopN(Limit: [10000]; virtual_table.d ASC)",
		" └─ SubqueryAlias",
		"     ├─ name: virtual_table",
		"     └─ Project",
		"         ├─ columns: [DATE(events.time) as d, count(1) as c]",
		"         └─ arb engine events [aggregate: count(*), any(time); group by: DATE(events.time)]",
	}
	if pc := classifyPlan(native); !pc.native() || !pc.hasNative || pc.String() != "native" {
		t.Errorf("native plan classified %q (%+v)", pc, pc)
	}
	mixed := []string{
		"Project",
		" ├─ columns: [count(1)]",
		" └─ GroupBy",
		"     ├─ select: COUNT(1)",
		"     └─ AntiJoinIncludingNulls",
		"         ├─ ((e.distinct_id = s.distinct_id) AND (e.time > (s.t + INTERVAL 7 DAY)))",
		"         ├─ SubqueryAlias",
		"         │   ├─ name: s",
		"         │   └─ Project",
		"         │       ├─ columns: [events.distinct_id]",
		"         │       └─ arb engine events [aggregate: min(time)]",
		"         └─ TableAlias(e)",
		"             └─ Table",
		"                 ├─ name: events",
		"                 └─ columns: [time distinct_id]",
	}
	pc := classifyPlan(mixed)
	want := "mixed: GroupBy, AntiJoinIncludingNulls, SubqueryAlias, Project, TableAlias, Table"
	if pc.native() || pc.String() != want {
		t.Errorf("mixed plan classified %q, want %q", pc, want)
	}
	rows := []string{
		"Limit(3)",
		" └─ Project",
		"     ├─ columns: [events.distinct_id]",
		"     └─ Filter",
		"         ├─ NOT((events.event = 'Click'))",
		"         └─ Table",
		"             └─ name: events",
	}
	if pc := classifyPlan(rows); pc.native() || pc.String() != "gms: Filter, Table" {
		t.Errorf("row plan classified %q", pc)
	}
	// A fork before any projection: every node counts, the Union too.
	union := []string{
		"Union all",
		" ├─ Project",
		" │   └─ arb engine events [aggregate: count(*)]",
		" └─ Project",
		"     └─ arb engine events [aggregate: count(*)]",
	}
	if pc := classifyPlan(union); pc.native() || pc.String() != "mixed: Union, Project" {
		t.Errorf("union plan classified %q", pc)
	}
}

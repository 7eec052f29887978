package server

// EXPLAIN FORMAT=JSON, which DBeaver sends for its plan view and which
// go-mysql-server's parser refuses (syntax error at JSON).
//
// MySQL 8 answers it with one row of one column named EXPLAIN holding a
// JSON document whose root is {"query_block": {"select_id": 1, ...}}
// (MySQL 8.0 manual 15.8.2 "EXPLAIN Statement", 10.8.2 "EXPLAIN Output
// Format"): a single table appears as "table" with "table_name" and
// "access_type", several as "nested_loop", a list of {"table": ...}.
// arb runs go-mysql-server's EXPLAIN FORMAT=TREE of the same statement and
// gives the same envelope: "table"/"nested_loop" for the tables the plan
// reads (access_type "ALL": arb has no indexes in MySQL's sense; its
// zone maps and bitmaps act inside a scan), and the whole plan tree as
// "arb_plan", each node {"operation", its details, "inputs"}. arb has no
// cost model, so MySQL's "cost_info" is absent rather than invented.
//
// INVARIANT: the document is valid JSON with "query_block" at its root
// and "select_id" 1 in it, whatever the plan's text.

import (
	"bytes"
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/dolthub/vitess/go/mysql"
	"github.com/dolthub/vitess/go/sqltypes"
	querypb "github.com/dolthub/vitess/go/vt/proto/query"
)

// explainJSONStatement matches EXPLAIN/DESCRIBE/DESC FORMAT=JSON and
// captures the statement explained.
var explainJSONStatement = regexp.MustCompile(`(?is)^\s*(?:EXPLAIN|DESCRIBE|DESC)\s+FORMAT\s*=\s*(?:JSON|'JSON'|"JSON")\s+(.+?)\s*;?\s*$`)

// explainJSONTarget is the statement an EXPLAIN FORMAT=JSON explains.
func explainJSONTarget(query string) (string, bool) {
	return explainTarget(explainJSONStatement, query)
}

// explainTarget is the statement re's EXPLAIN form explains, its first
// group.
func explainTarget(re *regexp.Regexp, query string) (string, bool) {
	m := re.FindStringSubmatch(query)
	if m == nil {
		return "", false
	}
	return m[1], true
}

// treePlan is the lines of EXPLAIN FORMAT=TREE stmt on c.
func (h *compatHandler) treePlan(ctx context.Context, c *mysql.Conn, stmt string) ([]string, error) {
	var lines []string
	err := h.Handler.ComQuery(ctx, c, "EXPLAIN FORMAT=TREE "+stmt, func(r *sqltypes.Result, _ bool) error {
		lines = append(lines, planLines(r)...)
		return nil
	})
	return lines, err
}

// planLines is the plan text of a result of EXPLAIN FORMAT=TREE.
func planLines(r *sqltypes.Result) []string {
	var lines []string
	for _, row := range r.Rows {
		if len(row) > 0 {
			lines = append(lines, row[0].ToString())
		}
	}
	return lines
}

// explainJSON answers EXPLAIN FORMAT=JSON stmt on c.
func (h *compatHandler) explainJSON(ctx context.Context, c *mysql.Conn, stmt string, callback mysql.ResultSpoolFn) error {
	lines, err := h.treePlan(ctx, c, stmt)
	if err != nil {
		return err
	}
	return answerExplainJSON(lines, callback)
}

// answerExplainJSON answers EXPLAIN FORMAT=JSON from the lines of the
// statement's tree plan.
func answerExplainJSON(lines []string, callback mysql.ResultSpoolFn) error {
	doc, err := explainDocument(lines)
	if err != nil {
		return err
	}
	return callback(&sqltypes.Result{
		Fields: []*querypb.Field{{Name: "EXPLAIN", Type: querypb.Type_TEXT, Charset: 255, ColumnLength: 4294967295}},
		Rows:   [][]sqltypes.Value{{sqltypes.MakeTrusted(querypb.Type_TEXT, doc)}},
	}, false)
}

// planNode is one node of go-mysql-server's plan tree.
type planNode struct {
	Operation string         `json:"operation"`
	Details   map[string]any `json:"details,omitempty"`
	Inputs    []*planNode    `json:"inputs,omitempty"`
	depth     int
}

// explainBlock is MySQL's query_block, keys in MySQL's order.
type explainBlock struct {
	SelectID   int               `json:"select_id"`
	Message    string            `json:"message,omitempty"`
	Table      *explainTable     `json:"table,omitempty"`
	NestedLoop []nestedLoopEntry `json:"nested_loop,omitempty"`
	ArbPlan    *planNode         `json:"arb_plan,omitempty"`
}

// explainTable is a table of MySQL's plan.
type explainTable struct {
	TableName  string `json:"table_name"`
	AccessType string `json:"access_type"`
	ArbEngine  bool   `json:"using_arb_engine,omitempty"` // read by arb's native engine
}

type nestedLoopEntry struct {
	Table *explainTable `json:"table"`
}

// explainDocument builds the JSON document from the plan's lines.
func explainDocument(lines []string) ([]byte, error) {
	root := parsePlanTree(lines)
	block := explainBlock{SelectID: 1, ArbPlan: root}
	var tables []*explainTable
	collectTables(root, &tables)
	switch len(tables) {
	case 0:
		block.Message = "No tables used"
	case 1:
		block.Table = tables[0]
	default:
		for _, t := range tables {
			block.NestedLoop = append(block.NestedLoop, nestedLoopEntry{t})
		}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // plans hold > and <
	enc.SetIndent("", "  ")
	if err := enc.Encode(map[string]any{"query_block": block}); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// parsePlanTree reads the tree go-mysql-server draws: a node's children
// are indented by four columns (" ├─ ", " │   ", " └─ "); a child without
// children of its own that reads "key: value" is a detail of its parent,
// one in parentheses a condition.
func parsePlanTree(lines []string) *planNode {
	var all []*planNode
	for _, l := range lines {
		for _, part := range strings.Split(l, "\n") {
			if strings.TrimSpace(part) == "" {
				continue
			}
			text := strings.TrimLeft(part, " │├└─")
			depth := utf8.RuneCountInString(part[:len(part)-len(text)]) / 4
			all = append(all, &planNode{Operation: text, depth: depth})
		}
	}
	if len(all) == 0 {
		return nil
	}
	var stack []*planNode
	for i, n := range all {
		for len(stack) > 0 && stack[len(stack)-1].depth >= n.depth {
			stack = stack[:len(stack)-1]
		}
		leaf := i+1 == len(all) || all[i+1].depth <= n.depth
		if len(stack) > 0 && leaf {
			parent := stack[len(stack)-1]
			if parent.Details == nil {
				parent.Details = map[string]any{}
			}
			if k, v, ok := strings.Cut(n.Operation, ": "); ok && !strings.ContainsAny(k, " ()") {
				parent.Details[k] = v
				continue
			}
			if strings.HasPrefix(n.Operation, "(") {
				conds, _ := parent.Details["conditions"].([]string)
				parent.Details["conditions"] = append(conds, n.Operation)
				continue
			}
		}
		if len(stack) > 0 {
			parent := stack[len(stack)-1]
			parent.Inputs = append(parent.Inputs, n)
		}
		stack = append(stack, n)
	}
	return all[0]
}

// arbEngineNode is the text of arb's native nodes that read a table: the
// planner's engine nodes and the native plan's scans.
var arbEngineNode = regexp.MustCompile(`^arb (?:engine|Scan) (\S+)`)

// collectTables lists the tables a plan reads, in plan order.
func collectTables(n *planNode, out *[]*explainTable) {
	if n == nil {
		return
	}
	if m := arbEngineNode.FindStringSubmatch(n.Operation); m != nil {
		*out = append(*out, &explainTable{TableName: m[1], AccessType: "ALL", ArbEngine: true})
	} else if n.Operation == "Table" {
		if name, ok := n.Details["name"].(string); ok && name != "" {
			*out = append(*out, &explainTable{TableName: name, AccessType: "ALL"})
		}
	}
	for _, in := range n.Inputs {
		collectTables(in, out)
	}
}

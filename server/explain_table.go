package server

// Plain EXPLAIN (and EXPLAIN FORMAT=TRADITIONAL) of a query, which
// go-mysql-server answers with its plan tree as text. MySQL 8 answers it
// with one row per table read, in the columns id, select_type, table,
// partitions, type, possible_keys, key, key_len, ref, rows, filtered and
// Extra (MySQL 8.0 manual 15.8.2, 10.8.2); tools that show a plan grid
// (DBeaver, MySQL Workbench) read those columns by name.
//
// arb builds the rows from EXPLAIN FORMAT=TREE of the same statement:
// every table the plan reads is a row with type ALL (arb has no indexes
// in MySQL's sense; zone maps and bitmaps act inside a scan), and Extra
// says which operators run natively ("arb: …") and which are left to
// go-mysql-server ("go-mysql-server: …"), so the grid answers the one
// question that matters for speed here. rows and filtered are NULL:
// arb has no cost model and does not invent estimates.
//
// INVARIANT: the answer has MySQL's twelve columns and at least one row.

import (
	"context"
	"regexp"
	"slices"
	"strings"

	"github.com/dolthub/vitess/go/mysql"
	"github.com/dolthub/vitess/go/sqltypes"
	querypb "github.com/dolthub/vitess/go/vt/proto/query"
)

// explainTableStatement matches a plain or TRADITIONAL EXPLAIN of a query
// (not EXPLAIN tbl, which is SHOW COLUMNS) and captures the query.
var explainTableStatement = regexp.MustCompile(`(?is)^\s*(?:EXPLAIN|DESCRIBE|DESC)\s+(?:FORMAT\s*=\s*(?:TRADITIONAL|'TRADITIONAL'|"TRADITIONAL")\s+)?((?:SELECT|WITH|\()\b?.+?)\s*;?\s*$`)

// explainTableTarget is the query a tabular EXPLAIN explains.
func explainTableTarget(query string) (string, bool) {
	return explainTarget(explainTableStatement, query)
}

// explainTable answers a tabular EXPLAIN of stmt on c.
func (h *compatHandler) explainTable(ctx context.Context, c *mysql.Conn, stmt string, callback mysql.ResultSpoolFn) error {
	lines, err := h.treePlan(ctx, c, stmt)
	if err != nil {
		return err
	}
	return answerExplainTable(lines, callback)
}

// answerExplainTable answers a tabular EXPLAIN from the lines of the
// statement's tree plan.
func answerExplainTable(lines []string, callback mysql.ResultSpoolFn) error {
	root := parsePlanTree(lines)
	var tables []*explainTable
	collectTables(root, &tables)
	var native, left []string
	collectOperators(root, &native, &left)
	var extra []string
	if len(native) > 0 {
		extra = append(extra, "arb: "+strings.Join(native, ", "))
	}
	if len(left) > 0 {
		extra = append(extra, "go-mysql-server: "+strings.Join(left, ", "))
	}
	text := func(s string) sqltypes.Value { return sqltypes.MakeTrusted(querypb.Type_VARCHAR, []byte(s)) }
	null := sqltypes.NULL
	var rows [][]sqltypes.Value
	for i, t := range tables {
		selectType := "SIMPLE"
		if len(tables) > 1 {
			selectType = "PRIMARY"
		}
		row := []sqltypes.Value{sqltypes.NewInt64(1), text(selectType), text(t.TableName), null, text(t.AccessType), null, null, null, null, null, null, null}
		if i == 0 && len(extra) > 0 {
			row[11] = text(strings.Join(extra, "; "))
		}
		rows = append(rows, row)
	}
	if len(rows) == 0 {
		rows = append(rows, []sqltypes.Value{sqltypes.NewInt64(1), text("SIMPLE"), null, null, null, null, null, null, null, null, null, text("No tables used")})
	}
	field := func(name string, typ querypb.Type) *querypb.Field {
		f := &querypb.Field{Name: name, Type: typ, Charset: 255, ColumnLength: 1024}
		if typ != querypb.Type_VARCHAR {
			f.Charset, f.ColumnLength = 63, 21
		}
		return f
	}
	return callback(&sqltypes.Result{
		Fields: []*querypb.Field{
			field("id", querypb.Type_INT64), field("select_type", querypb.Type_VARCHAR), field("table", querypb.Type_VARCHAR),
			field("partitions", querypb.Type_VARCHAR), field("type", querypb.Type_VARCHAR), field("possible_keys", querypb.Type_VARCHAR),
			field("key", querypb.Type_VARCHAR), field("key_len", querypb.Type_VARCHAR), field("ref", querypb.Type_VARCHAR),
			field("rows", querypb.Type_INT64), field("filtered", querypb.Type_FLOAT64), field("Extra", querypb.Type_VARCHAR),
		},
		Rows: rows,
	}, false)
}

// collectOperators lists the plan's operators by name, once each, split
// into arb's native ones and go-mysql-server's.
func collectOperators(n *planNode, native, left *[]string) {
	if n == nil {
		return
	}
	name, isNative := strings.CutPrefix(n.Operation, "arb ")
	if f := strings.Fields(name); len(f) > 0 {
		name = strings.TrimSuffix(f[0], ":")
	}
	if isNative {
		if name == "engine" {
			name = "engine aggregate"
		}
		if !slices.Contains(*native, name) {
			*native = append(*native, name)
		}
	} else if name != "" && name != "go-mysql-server" && !slices.Contains(*left, name) {
		*left = append(*left, name)
	}
	for _, in := range n.Inputs {
		collectOperators(in, native, left)
	}
}

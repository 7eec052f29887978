package native

import (
	"io"
	"strings"

	"github.com/dolthub/go-mysql-server/sql"
)

// Marker starts every EXPLAIN line of a native operator; it equals
// planner.NativeMarker's first word so tools that look for "arb " find
// both.
const Marker = "arb "

// Node is a native plan in go-mysql-server's tree: it has the replaced
// node's schema and hands out the plan's batches as rows.
//
// Implements sql.Node, sql.ExecBuilderNode and sql.Describable.
type Node struct {
	op       Operator
	replaced sql.Node // for the schema and collation
}

var (
	_ sql.ExecBuilderNode = (*Node)(nil)
	_ sql.Describable     = (*Node)(nil)
)

// NewNode wraps op, which replaces replaced.
func NewNode(op Operator, replaced sql.Node) *Node { return &Node{op: op, replaced: replaced} }

// Operator is the plan's root.
func (n *Node) Operator() Operator { return n.op }

func (n *Node) Resolved() bool                                    { return true }
func (n *Node) String() string                                    { return Explain(n.op) }
func (n *Node) Describe(*sql.Context, sql.DescribeOptions) string { return Explain(n.op) }
func (n *Node) Schema(ctx *sql.Context) sql.Schema                { return n.replaced.Schema(ctx) }
func (n *Node) Children() []sql.Node                              { return nil }
func (n *Node) IsReadOnly() bool                                  { return true }
func (n *Node) WithChildren(_ *sql.Context, children ...sql.Node) (sql.Node, error) {
	if len(children) != 0 {
		return nil, sql.ErrInvalidChildrenNumber.New(n, len(children), 0)
	}
	return n, nil
}

// CollationCoercibility is the replaced node's.
func (n *Node) CollationCoercibility(ctx *sql.Context) (sql.CollationID, byte) {
	if c, ok := n.replaced.(sql.CollationCoercible); ok {
		return c.CollationCoercibility(ctx)
	}
	return sql.Collation_binary, 7
}

// BuildRowIter runs the plan; b executes the go-mysql-server nodes left
// in it.
func (n *Node) BuildRowIter(ctx *sql.Context, b sql.NodeExecBuilder, row sql.Row) (sql.RowIter, error) {
	it, err := n.op.Open(ctx, &Run{Builder: b, Row: row})
	if err != nil {
		return nil, err
	}
	return &batchRows{it: it}, nil
}

// batchRows hands out a plan's batches row by row.
type batchRows struct {
	it  BatchIter
	b   *Batch
	pos int
}

func (r *batchRows) Next(ctx *sql.Context) (sql.Row, error) {
	for r.b == nil || r.pos >= r.b.N {
		b, err := r.it.Next(ctx)
		if err != nil {
			return nil, err
		}
		r.b, r.pos = b, 0
	}
	row := r.b.Row(r.pos)
	r.pos++
	return row, nil
}

func (r *batchRows) Close(ctx *sql.Context) error { return r.it.Close(ctx) }

// rowSource is the boundary the other way: a go-mysql-server node that
// stays one (nothing here implements it), its rows made into batches.
type rowSource struct {
	node   sql.Node
	sch    sql.Schema
	reason string // why the node was not translated, for EXPLAIN
}

func (s *rowSource) Schema() sql.Schema   { return s.sch }
func (s *rowSource) Children() []Operator { return nil }
func (s *rowSource) Describe() string {
	// The node's own tree below the line, so that EXPLAIN shows what
	// go-mysql-server still runs.
	return "go-mysql-server rows (" + s.reason + ")\n" + strings.TrimRight(s.node.String(), "\n")
}

func (s *rowSource) Open(ctx *sql.Context, run *Run) (BatchIter, error) {
	ri, err := run.Builder.Build(ctx, s.node, run.Row)
	if err != nil {
		return nil, err
	}
	if ri == nil {
		return &sliceIter{}, nil
	}
	rows := make([]sql.Row, 0, BatchSize)
	// Some iterators start over when asked again after io.EOF (the
	// server's information_schema.processlist gave the same rows
	// forever), so once one has ended it is not asked again.
	ended := false
	return &funcIter{
		next: func(ctx *sql.Context) (*Batch, error) {
			rows = rows[:0]
			for len(rows) < BatchSize && !ended {
				row, err := ri.Next(ctx)
				if err == io.EOF {
					ended = true
					break
				}
				if err != nil {
					return nil, err
				}
				rows = append(rows, row)
			}
			if len(rows) == 0 {
				return nil, io.EOF
			}
			return BatchFromRows(s.sch, rows), nil
		},
		close: func(ctx *sql.Context) error { return ri.Close(ctx) },
	}, nil
}

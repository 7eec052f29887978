package native

// Nodes that hand their rows as batches themselves. The engine's
// aggregates (planner.AggregateNode) are go-mysql-server nodes this
// package cannot build (the planner imports native, not the other way),
// but they can produce batches directly: then their distinct_id outputs
// carry user numbers (Column.U), and the hash join, group table, COUNT
// DISTINCT and EXISTS sets above key those users by number, as they do
// the events scan's, instead of hashing strings a rowSource gave them.

import (
	"strings"

	"github.com/dolthub/go-mysql-server/sql"
)

// BatchNode is a go-mysql-server node that runs natively and can hand
// its rows as batches of its Schema. Its RowIter stays the way
// go-mysql-server runs it; a native plan opens it through OpenBatches.
// INVARIANT: OpenBatches yields exactly the rows RowIter does, in the
// same order, of the same values; any Column.U it sets keeps the
// Column's invariant (S[r] == Users.ID(U[r]) on every non-NULL row).
type BatchNode interface {
	sql.Node
	OpenBatches(ctx *sql.Context) (BatchIter, error)
}

// batchNodeOp is a BatchNode as an operator.
type batchNodeOp struct {
	node BatchNode
	sch  sql.Schema
}

func newBatchNodeOp(ctx *sql.Context, n BatchNode) *batchNodeOp {
	return &batchNodeOp{node: n, sch: n.Schema(ctx)}
}

func (s *batchNodeOp) Schema() sql.Schema   { return s.sch }
func (s *batchNodeOp) Children() []Operator { return nil }
func (s *batchNodeOp) Describe() string {
	d := strings.TrimRight(s.node.String(), "\n")
	if !strings.HasPrefix(d, Marker) {
		d = Marker + d
	}
	return d
}

func (s *batchNodeOp) Open(ctx *sql.Context, run *Run) (BatchIter, error) {
	return s.node.OpenBatches(ctx)
}

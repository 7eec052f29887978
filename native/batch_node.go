package native

// Nodes that hand their rows as batches themselves. The engine's
// aggregates (planner.AggregateNode) are go-mysql-server nodes this
// package cannot build (the planner imports native, not the other way),
// but they can produce batches directly: then their distinct_id outputs
// carry user numbers (Column.U), and the hash join, group table, COUNT
// DISTINCT and EXISTS sets above key those users by number, as they do
// the events scan's, instead of hashing strings a rowSource gave them.

import (
	"slices"
	"strings"

	"github.com/dolthub/go-mysql-server/sql"
)

// BatchNode is a go-mysql-server node that runs natively and can hand
// its rows as batches of its Schema. Its RowIter stays the way
// go-mysql-server runs it; a native plan opens it through OpenBatches.
// read[j] false says that nothing above reads output column j (columns.go):
// the node need not compute it and may leave Cols[j] nil (the operator
// hands NULLs there).
// INVARIANT: OpenBatches yields exactly the rows RowIter does, in the
// same order, of the same values in every read column; any Column.U it
// sets keeps the Column's invariant (S[r] == Users.ID(U[r]) on every
// non-NULL row).
type BatchNode interface {
	sql.Node
	OpenBatches(ctx *sql.Context, read []bool) (BatchIter, error)
}

// batchNodeOp is a BatchNode as an operator.
type batchNodeOp struct {
	node BatchNode
	sch  sql.Schema
	read []bool // per output column: read above
}

func newBatchNodeOp(ctx *sql.Context, tr *Translation, n BatchNode) *batchNodeOp {
	sch := n.Schema(ctx)
	read := make([]bool, len(sch))
	for j, c := range sch {
		read[j] = tr.used == nil || tr.used[strings.ToLower(c.Source+"."+c.Name)]
	}
	return &batchNodeOp{node: n, sch: sch, read: read}
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
	it, err := s.node.OpenBatches(ctx, s.read)
	if err != nil || !slices.Contains(s.read, false) {
		return it, err
	}
	return &unreadBatches{it: it, op: s}, nil
}

// unreadBatches hands a BatchNode's batches with NULLs in the columns
// nothing reads.
type unreadBatches struct {
	it BatchIter
	op *batchNodeOp
}

func (u *unreadBatches) Next(ctx *sql.Context) (*Batch, error) {
	b, err := u.it.Next(ctx)
	if b == nil || err != nil {
		return b, err
	}
	for j, read := range u.op.read {
		if !read {
			b.Cols[j] = unreadColumn(u.op.sch[j].Type, b.N)
		}
	}
	return b, nil
}

func (u *unreadBatches) Close(ctx *sql.Context) error { return u.it.Close(ctx) }

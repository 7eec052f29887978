package native

// This file owns NOT EXISTS as go-mysql-server sometimes plans it: a
// left outer join whose matched rows a filter then throws away,
//
//	Filter(r IS NULL) ← LeftOuterJoin(l, r, cond)
//
// where r is a right column that is never NULL in a matched pair (the
// literal 1 of SELECT 1 FROM …, or a NOT NULL column). Only a left row
// with no TRUE pair gets a NULL r, once, with every right column NULL:
// the rows of an anti join (no pair TRUE, NULL conditions counting as
// not TRUE) followed by NULLs. The left outer join itself would first
// make every matching pair (for a user key, every pair of that user's
// rows on both sides) only for the filter to drop it.
//
// Invariant: nullExtendOp's rows are the filter's rows, in the same
// order (the anti join keeps the left input's order), with the same
// schema (the right columns NULL).

import (
	"io"
	"strings"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/expression"
	"github.com/dolthub/go-mysql-server/sql/plan"
)

// antiJoinOf is n as an anti join with the right columns NULL, or nil
// when n is not that filter over a left outer join (or the anti join
// does not translate).
func antiJoinOf(ctx *sql.Context, tr *Translation, n sql.Node) Operator {
	f, ok := n.(*plan.Filter)
	if !ok {
		return nil
	}
	j, ok := f.Child.(*plan.JoinNode)
	if !ok || j.ScopeLen != 0 {
		return nil
	}
	if kind, ok := joinKindOf(j.Op); !ok || kind != joinLeftOuter || j.Filter == nil {
		return nil
	}
	isNull, ok := f.Expression.(*expression.IsNull)
	if !ok {
		return nil
	}
	gf, ok := isNull.Child.(*expression.GetField)
	if !ok {
		return nil
	}
	lsch, rsch := j.Left().Schema(ctx), j.Right().Schema(ctx)
	i := gf.Index() - len(lsch)
	if i < 0 || i >= len(rsch) || rsch[i].Nullable || !strings.EqualFold(rsch[i].Name, gf.Name()) {
		return nil
	}
	anti := plan.NewJoin(j.Left(), j.Right(), plan.JoinTypeAntiIncludeNulls, j.Filter)
	// A join translateJoin refuses (before it translates any child)
	// leaves the filter to the usual path.
	op, _ := translateJoin(ctx, tr, anti)
	if op == nil {
		return nil
	}
	return &nullExtendOp{child: op, sch: f.Schema(ctx), nl: len(lsch), cond: f.Expression.String()}
}

// nullExtendOp is its child's rows followed by NULLs for the columns of
// sch past nl.
type nullExtendOp struct {
	child Operator
	sch   sql.Schema
	nl    int
	cond  string // the filter it replaces, for EXPLAIN
}

func (op *nullExtendOp) Schema() sql.Schema   { return op.sch }
func (op *nullExtendOp) Children() []Operator { return []Operator{op.child} }
func (op *nullExtendOp) Describe() string {
	return Marker + "NullExtend (left outer join where " + op.cond + ": anti join)"
}

func (op *nullExtendOp) Open(ctx *sql.Context, run *Run) (BatchIter, error) {
	it, err := op.child.Open(ctx, run)
	if err != nil {
		return nil, err
	}
	// The NULL columns of the last batch size, shared by every batch of
	// that size (batches are read-only).
	var nulls []*Column
	return &funcIter{
		next: func(ctx *sql.Context) (*Batch, error) {
			b, err := it.Next(ctx)
			if err != nil {
				return nil, err
			}
			if b == nil {
				return nil, io.EOF
			}
			if len(nulls) == 0 || nulls[0].Len() != b.N {
				nulls = nulls[:0]
				for i := op.nl; i < len(op.sch); i++ {
					nulls = append(nulls, ConstColumn(op.sch[i].Type, nil, b.N))
				}
			}
			cols := make([]*Column, len(op.sch))
			copy(cols, b.Cols[:op.nl])
			copy(cols[op.nl:], nulls)
			return &Batch{N: b.N, Cols: cols}, nil
		},
		close: it.Close,
	}, nil
}

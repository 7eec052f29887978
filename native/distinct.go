package native

// This file owns the native DISTINCT: go-mysql-server's *plan.Distinct
// (sql/iters distinctIter) and *plan.OrderedDistinct.
//
// Distinct passes each row whose values it has not passed before, in
// input order; values are equal as go-mysql-server's HashOf with no
// schema sees them (group_table.go: strings by their bytes, whatever the
// collation; 1 and 1.0 alike; NULL equal to NULL). It streams: a batch
// out per batch in that has a new row. The rows seen are charged to the
// memory budget.
//
// OrderedDistinct (which go-mysql-server plans only in place of a
// Distinct over another) drops a row equal to the row before it by the
// schema's types' Compare; it boxes rows, being rare.

import (
	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/plan"

	"arb/engine"
)

type distinctOp struct {
	child Operator
}

type orderedDistinctOp struct {
	child Operator
}

func init() {
	register((*plan.Distinct)(nil), func(ctx *sql.Context, tr *Translation, n sql.Node) (Operator, string) {
		d := n.(*plan.Distinct)
		if len(d.DistinctOn()) > 0 {
			return nil, "DISTINCT ON"
		}
		return &distinctOp{child: tr.child(ctx, d.Child)}, ""
	})
	register((*plan.OrderedDistinct)(nil), func(ctx *sql.Context, tr *Translation, n sql.Node) (Operator, string) {
		return &orderedDistinctOp{child: tr.child(ctx, n.(*plan.OrderedDistinct).Child)}, ""
	})
}

func (d *distinctOp) Schema() sql.Schema   { return d.child.Schema() }
func (d *distinctOp) Children() []Operator { return []Operator{d.child} }
func (d *distinctOp) Describe() string     { return Marker + "HashDistinct" }

func (d *distinctOp) Open(ctx *sql.Context, run *Run) (BatchIter, error) {
	in, err := d.child.Open(ctx, run)
	if err != nil {
		return nil, err
	}
	table := newGroupTable(make([]keyColumn, len(d.child.Schema())))
	budget := engine.MemoryBudgetOf(ctx)
	var charged int64
	var groups []int32
	var sel []int32
	return &funcIter{
		next: func(ctx *sql.Context) (*Batch, error) {
			for {
				if err := ctx.Err(); err != nil {
					return nil, err
				}
				b, err := in.Next(ctx)
				if err != nil {
					return nil, err
				}
				before := int32(table.n)
				if groups, err = table.groups(ctx, b.Cols, b.N, groups); err != nil {
					return nil, err
				}
				if now := table.bytes(); budget != nil && now != charged {
					err := budget.Grow(now-charged, "distinct rows")
					charged = now
					if err != nil {
						return nil, err
					}
				}
				// A row is new when its group is the next id not yet passed.
				sel = sel[:0]
				next := before
				for r, g := range groups {
					if g == next {
						sel = append(sel, int32(r))
						next++
					}
				}
				switch {
				case len(sel) == b.N:
					return b, nil
				case len(sel) > 0:
					return b.Gather(sel), nil
				}
			}
		},
		close: func(ctx *sql.Context) error {
			budget.Grow(-charged, "distinct rows")
			charged = 0
			return in.Close(ctx)
		},
	}, nil
}

func (d *orderedDistinctOp) Schema() sql.Schema   { return d.child.Schema() }
func (d *orderedDistinctOp) Children() []Operator { return []Operator{d.child} }
func (d *orderedDistinctOp) Describe() string     { return Marker + "OrderedDistinct" }

func (d *orderedDistinctOp) Open(ctx *sql.Context, run *Run) (BatchIter, error) {
	in, err := d.child.Open(ctx, run)
	if err != nil {
		return nil, err
	}
	sch := d.child.Schema()
	var prev sql.Row
	var sel []int32
	return &funcIter{
		next: func(ctx *sql.Context) (*Batch, error) {
			for {
				b, err := in.Next(ctx)
				if err != nil {
					return nil, err
				}
				sel = sel[:0]
				for r := range b.N {
					row := b.Row(r)
					if prev != nil {
						same, err := prev.Equals(ctx, row, sch)
						if err != nil {
							return nil, err
						}
						if same {
							continue
						}
					}
					prev = row
					sel = append(sel, int32(r))
				}
				switch {
				case len(sel) == b.N:
					return b, nil
				case len(sel) > 0:
					return b.Gather(sel), nil
				}
			}
		},
		close: in.Close,
	}, nil
}

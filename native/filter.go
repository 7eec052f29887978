package native

import (
	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/plan"
)

// filterOp keeps the rows for which cond is TRUE (not FALSE, not NULL).
type filterOp struct {
	child Operator
	cond  Expr
	name  string // Filter or Having
}

func init() {
	register((*plan.Filter)(nil), func(ctx *sql.Context, tr *Translation, n sql.Node) (Operator, string) {
		f := n.(*plan.Filter)
		return newFilter(ctx, tr, "Filter", f.Child, f.Expression)
	})
	register((*plan.Having)(nil), func(ctx *sql.Context, tr *Translation, n sql.Node) (Operator, string) {
		h := n.(*plan.Having)
		return newFilter(ctx, tr, "Having", h.Child, h.Cond)
	})
}

func newFilter(ctx *sql.Context, tr *Translation, name string, child sql.Node, cond sql.Expression) (Operator, string) {
	in := tr.child(ctx, child)
	x, err := (&Compiler{In: in.Schema()}).Compile(ctx, cond)
	if err != nil {
		return nil, err.Error()
	}
	f := &filterOp{child: in, cond: x, name: name}
	if sc, ok := in.(*scanOp); ok {
		return sc.withStage(stage{describe: f.name + " " + x.String(), run: f.filterBatch}, sc.out), ""
	}
	limitWindowRows(in, cond) // rn = 1 over a ROW_NUMBER window: see window_topk.go
	return f, ""
}

// filterBatch is b's rows where the condition is TRUE (nil: none).
func (f *filterOp) filterBatch(ctx *sql.Context, b *Batch) (*Batch, error) {
	c, err := f.cond.Eval(ctx, b)
	if err != nil {
		return nil, err
	}
	sel, err := TrueRows(ctx, c, make([]int32, 0, b.N))
	switch {
	case err != nil:
		return nil, err
	case len(sel) == b.N:
		return b, nil
	case len(sel) == 0:
		return nil, nil
	}
	return b.Gather(sel), nil
}

func (f *filterOp) Schema() sql.Schema   { return f.child.Schema() }
func (f *filterOp) Children() []Operator { return []Operator{f.child} }
func (f *filterOp) Describe() string     { return Marker + f.name + " " + f.cond.String() }

func (f *filterOp) Open(ctx *sql.Context, run *Run) (BatchIter, error) {
	in, err := f.child.Open(ctx, run)
	if err != nil {
		return nil, err
	}
	return &funcIter{
		next: func(ctx *sql.Context) (*Batch, error) {
			for {
				b, err := in.Next(ctx)
				if err != nil {
					return nil, err
				}
				if b, err = f.filterBatch(ctx, b); b != nil || err != nil {
					return b, err
				}
			}
		},
		close: in.Close,
	}, nil
}

// TrueRows appends to sel the rows where c is TRUE as go-mysql-server's
// filter sees it: not NULL, and not zero by sql.ConvertToBool (whose
// error is the statement's).
func TrueRows(ctx *sql.Context, c *Column, sel []int32) ([]int32, error) {
	n := c.Len()
	switch c.Kind {
	case KindInt, KindTime:
		for r := range n {
			if c.I[r] != 0 && (c.Nulls == nil || !c.Nulls[r]) {
				sel = append(sel, int32(r))
			}
		}
	case KindFloat:
		for r := range n {
			if c.F[r] != 0 && (c.Nulls == nil || !c.Nulls[r]) {
				sel = append(sel, int32(r))
			}
		}
	case KindString, KindAny:
		for r := range n {
			if c.IsNull(r) {
				continue
			}
			ok, err := sql.ConvertToBool(ctx, c.Value(r))
			if err != nil {
				return nil, err
			}
			if ok {
				sel = append(sel, int32(r))
			}
		}
	}
	return sel, nil
}

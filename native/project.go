package native

import (
	"strings"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/expression"
	"github.com/dolthub/go-mysql-server/sql/plan"
)

// projectOp computes its output columns from each input batch.
type projectOp struct {
	child Operator
	exprs []Expr
	sch   sql.Schema
}

func init() {
	register((*plan.Project)(nil), func(ctx *sql.Context, tr *Translation, n sql.Node) (Operator, string) {
		p := n.(*plan.Project)
		in := tr.child(ctx, p.Child)
		xs, err := (&Compiler{In: in.Schema()}).CompileAll(ctx, p.Projections)
		if err != nil {
			return nil, err.Error()
		}
		op := &projectOp{child: in, exprs: xs, sch: p.Schema(ctx)}
		if sc, ok := in.(*scanOp); ok {
			// A bare column is handed on as the same *Column (fieldExpr);
			// any other projection reads the columns it names.
			flow := &stageFlow{from: make([]int, len(xs)), reads: make([]bool, len(in.Schema()))}
			for i, x := range xs {
				flow.from[i] = -1
				if f, ok := x.(*fieldExpr); ok {
					flow.from[i] = f.idx
					continue
				}
				markReads(ctx, p.Projections[i], flow.reads)
			}
			return sc.withStage(stage{describe: strings.TrimPrefix(op.Describe(), Marker), run: func(ctx *sql.Context, b *Batch) (*Batch, error) {
				return project(ctx, b, xs)
			}, flow: flow}, op.sch), ""
		}
		return op, ""
	})
	registerExpr((*expression.Alias)(nil), func(ctx *sql.Context, c *Compiler, e sql.Expression) (Expr, error) {
		return c.Compile(ctx, e.(*expression.Alias).Child)
	})
}

func (p *projectOp) Schema() sql.Schema   { return p.sch }
func (p *projectOp) Children() []Operator { return []Operator{p.child} }
func (p *projectOp) Describe() string {
	parts := make([]string, len(p.exprs))
	for i, x := range p.exprs {
		parts[i] = x.String()
	}
	return Marker + "Project " + strings.Join(parts, ", ")
}

func (p *projectOp) Open(ctx *sql.Context, run *Run) (BatchIter, error) {
	in, err := p.child.Open(ctx, run)
	if err != nil {
		return nil, err
	}
	return &funcIter{
		next: func(ctx *sql.Context) (*Batch, error) {
			b, err := in.Next(ctx)
			if err != nil {
				return nil, err
			}
			return project(ctx, b, p.exprs)
		},
		close: in.Close,
	}, nil
}

// project is exprs over b. A column keeps the values its expression
// gives, as go-mysql-server's Project does (it does not convert them to
// the schema's types; the protocol layer does).
func project(ctx *sql.Context, b *Batch, exprs []Expr) (*Batch, error) {
	out := &Batch{N: b.N, Cols: make([]*Column, len(exprs))}
	for i, x := range exprs {
		c, err := x.Eval(ctx, b)
		if err != nil {
			return nil, err
		}
		out.Cols[i] = c
	}
	return out, nil
}

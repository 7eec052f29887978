package native

import (
	"fmt"
	"io"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/plan"
)

// limitOp passes rows [offset, offset+limit) of its input (limit < 0: all).
type limitOp struct {
	child         Operator
	limit, offset sql.Expression // nil: none
}

func init() {
	register((*plan.Limit)(nil), func(ctx *sql.Context, tr *Translation, n sql.Node) (Operator, string) {
		l := n.(*plan.Limit)
		if l.CalcFoundRows {
			return nil, "Limit with SQL_CALC_FOUND_ROWS"
		}
		return &limitOp{child: tr.child(ctx, l.Child), limit: l.Limit}, ""
	})
	register((*plan.Offset)(nil), func(ctx *sql.Context, tr *Translation, n sql.Node) (Operator, string) {
		o := n.(*plan.Offset)
		return &limitOp{child: tr.child(ctx, o.Child), offset: o.Offset}, ""
	})
}

func (l *limitOp) Schema() sql.Schema   { return l.child.Schema() }
func (l *limitOp) Children() []Operator { return []Operator{l.child} }
func (l *limitOp) Describe() string {
	if l.limit != nil {
		return Marker + "Limit " + l.limit.String()
	}
	return Marker + "Offset " + l.offset.String()
}

// countOf evaluates a LIMIT or OFFSET count (a literal or a bound
// parameter), -1 for none.
func countOf(ctx *sql.Context, e sql.Expression) (int64, error) {
	if e == nil {
		return -1, nil
	}
	v, err := e.Eval(ctx, nil)
	if err != nil {
		return 0, err
	}
	n, ok := IntOf(v)
	if !ok {
		if u, isU := v.(uint64); isU && u <= 1<<62 {
			n, ok = int64(u), true
		}
	}
	if !ok || n < 0 {
		return 0, fmt.Errorf("invalid LIMIT or OFFSET %v", v)
	}
	return n, nil
}

func (l *limitOp) Open(ctx *sql.Context, run *Run) (BatchIter, error) {
	limit, err := countOf(ctx, l.limit)
	if err != nil {
		return nil, err
	}
	skip, err := countOf(ctx, l.offset)
	if err != nil {
		return nil, err
	}
	if limit == 0 {
		return &sliceIter{}, nil
	}
	in, err := l.child.Open(ctx, run)
	if err != nil {
		return nil, err
	}
	left := limit
	return &funcIter{
		next: func(ctx *sql.Context) (*Batch, error) {
			for {
				if left == 0 {
					in.Close(ctx) // stop the input early: it may be a long scan
					return nil, io.EOF
				}
				b, err := in.Next(ctx)
				if err != nil {
					return nil, err
				}
				if skip >= int64(b.N) {
					skip -= int64(b.N)
					continue
				}
				if skip > 0 {
					b, skip = b.Slice(int(skip), b.N), 0
				}
				if left >= 0 && int64(b.N) > left {
					b = b.Slice(0, int(left))
				}
				if left > 0 {
					left -= int64(b.N)
				}
				return b, nil
			}
		},
		close: in.Close,
	}, nil
}

func init() {
	passThrough := func(ctx *sql.Context, tr *Translation, child sql.Node) (Operator, string) {
		return tr.child(ctx, child), ""
	}
	register((*plan.TableAlias)(nil), func(ctx *sql.Context, tr *Translation, n sql.Node) (Operator, string) {
		ta := n.(*plan.TableAlias)
		outer := tr.alias
		tr.alias = ta.Name()
		defer func() { tr.alias = outer }()
		return passThrough(ctx, tr, ta.Child)
	})
	register((*plan.SubqueryAlias)(nil), translateDerived) // cte.go
}

package native

// Derived tables and CTEs. go-mysql-server plans each reference to a CTE
// as its own SubqueryAlias holding a copy of the CTE's plan, and runs
// each copy: a funnel whose steps all read `WITH signups AS (…)` scanned
// the events once per reference. Here a derived table referenced more
// than once in a statement (same definition, same analyzed plan) runs
// once per statement run; every reference reads the materialised
// batches. A volatile one (RAND(), UUID(), …) runs per reference, as in
// go-mysql-server.

import (
	"io"
	"strconv"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/plan"

	"arb/engine"
)

func translateDerived(ctx *sql.Context, tr *Translation, n sql.Node) (Operator, string) {
	sqa := n.(*plan.SubqueryAlias)
	if sqa.OuterScopeVisibility || sqa.IsLateral {
		return nil, "SubqueryAlias that sees the outer scope"
	}
	child := tr.child(ctx, sqa.Child)
	if sqa.Volatile {
		return child, ""
	}
	key := sqa.TextDefinition + "\x00" + sqa.Child.String()
	tr.derived[key]++
	return &derivedOp{child: child, key: key, name: sqa.Name(), refs: tr.derived}, ""
}

// derivedOp is a derived table: its plan streamed when the statement
// references it once, materialised once per run when more often.
type derivedOp struct {
	child Operator
	key   string
	name  string
	refs  map[string]int // the translation's counts, complete before Open
}

// sharedResult is a derived table's batches, made once per run.
type sharedResult struct {
	done    chan struct{} // closed when batches/err are set
	batches []*Batch
	err     error
}

func (d *derivedOp) Schema() sql.Schema   { return d.child.Schema() }
func (d *derivedOp) Children() []Operator { return []Operator{d.child} }
func (d *derivedOp) Describe() string {
	if n := d.refs[d.key]; n > 1 {
		return Marker + "Derived " + d.name + " (materialised once for its " + strconv.Itoa(n) + " references)"
	}
	return Marker + "Derived " + d.name
}

func (d *derivedOp) Open(ctx *sql.Context, run *Run) (BatchIter, error) {
	if d.refs[d.key] < 2 {
		return d.child.Open(ctx, run)
	}
	run.mu.Lock()
	if run.shared == nil {
		run.shared = map[string]*sharedResult{}
	}
	res, ok := run.shared[d.key]
	if !ok {
		res = &sharedResult{done: make(chan struct{})}
		run.shared[d.key] = res
	}
	run.mu.Unlock()
	if !ok {
		res.batches, res.err = d.materialise(ctx, run)
		close(res.done)
	}
	select {
	case <-res.done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if res.err != nil {
		return nil, res.err
	}
	return &sliceIter{batches: append([]*Batch(nil), res.batches...)}, nil
}

// materialise runs the child to the end, its bytes charged to the
// statement's memory budget.
func (d *derivedOp) materialise(ctx *sql.Context, run *Run) ([]*Batch, error) {
	it, err := d.child.Open(ctx, run)
	if err != nil {
		return nil, err
	}
	defer it.Close(ctx)
	budget := engine.MemoryBudgetOf(ctx)
	var out []*Batch
	for {
		b, err := it.Next(ctx)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if budget != nil {
			if err := budget.Grow(b.Bytes(), "derived table "+d.name); err != nil {
				return nil, err
			}
		}
		out = append(out, b)
	}
}

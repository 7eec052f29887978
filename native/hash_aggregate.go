package native

// This file owns HashAggregate, the native GROUP BY: go-mysql-server's
// *plan.GroupBy (sql/rowexec/agg.go) over batches.
//
// What it must match:
//   - With GROUP BY keys, one row per group, groups in the order their
//     first row arrives (go-mysql-server keeps its keys in first-seen
//     order); no rows over no input.
//   - Without keys, one row over the whole input, also over no rows
//     (COUNT 0, SUM NULL, a plain column NULL).
//   - Each output column is a select dependency: an aggregate, or a plain
//     expression taking its value on the group's first row.
//   - Keys group as go-mysql-server's hash does (group_table.go).
//
// It is a pipeline breaker: it reads its whole input, single-threaded in
// input order (which keeps first rows and float sums exactly
// go-mysql-server's), then hands out the groups BatchSize at a time. A
// batch whose key columns are each one value (column_hints.go) is one
// group, which an aggregate that knows how (oneGroupAdder) folds at
// once. The
// groups' state is charged to the statement's memory budget as it grows.

import (
	"io"
	"runtime"
	"strings"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/expression"
	"github.com/dolthub/go-mysql-server/sql/expression/function/aggregation"
	"github.com/dolthub/go-mysql-server/sql/plan"

	"arb/engine"
)

// hashAggOp groups its input by keys and computes aggs per group.
type hashAggOp struct {
	child   Operator
	keys    []Expr
	keyCols []keyColumn
	aggs    []aggFunc // templates: each run takes fresh copies
	sch     sql.Schema
}

func init() {
	register((*plan.GroupBy)(nil), translateGroupBy)
}

func translateGroupBy(ctx *sql.Context, tr *Translation, n sql.Node) (Operator, string) {
	gb := n.(*plan.GroupBy)
	if len(gb.GroupByExprs) == 0 && onlyAnyValue(gb.SelectDeps) {
		// go-mysql-server then returns a row per input row (a
		// projection), not one row: a form too odd to mirror.
		return nil, "GroupBy without keys or aggregates"
	}
	// Check what cannot be translated before the child is (a child
	// translated for nothing would leave its reasons behind).
	for _, e := range gb.SelectDeps {
		if reason := unsupportedDep(ctx, e); reason != "" {
			return nil, reason
		}
	}
	in := tr.child(ctx, gb.Child)
	c := &Compiler{In: in.Schema()}
	keys, err := c.CompileAll(ctx, gb.GroupByExprs)
	if err != nil {
		return nil, err.Error()
	}
	for i, e := range gb.GroupByExprs {
		keys[i] = dictExprOf(ctx, e, keys[i], c.In)
	}
	keyCols := make([]keyColumn, len(gb.GroupByExprs))
	for i, e := range gb.GroupByExprs {
		keyCols[i] = newKeyColumn(e.Type(ctx))
	}
	aggs := make([]aggFunc, len(gb.SelectDeps))
	for i, e := range gb.SelectDeps {
		a, reason, err := newAggFunc(ctx, c, e)
		if err != nil {
			return nil, err.Error()
		}
		if a == nil {
			return nil, reason
		}
		aggs[i] = a
	}
	if sc, ok := in.(*scanOp); ok {
		use := columnUses(ctx, sc.out, gb.GroupByExprs, gb.SelectDeps, keyCols)
		if only := throughStages(sc.stages, use); only != nil {
			sc = sc.withCodesOnly(only)
		}
		in = fuseEvaluation(sc, keys, aggs)
	} else if runtime.GOMAXPROCS(0) > 1 {
		in = evaluateInParallel(in, keys, aggs)
	}
	return &hashAggOp{child: in, keys: keys, keyCols: keyCols, aggs: aggs, sch: gb.Schema(ctx)}, ""
}

// fuseEvaluation moves the evaluation of the keys and of the aggregates'
// arguments that are not plain columns into a stage of the events scan
// below: the part workers compute them in parallel, as extra columns
// after the scan's own, and keys and arguments read those columns. The
// fold itself stays in input order. A first-row expression is not moved
// (go-mysql-server evaluates it on a group's first row only), nor is a
// go-mysql-server buffer's input (it reads whole rows).
func fuseEvaluation(sc *scanOp, keys []Expr, aggs []aggFunc) Operator {
	exprs, out := movableExprs(sc.out, keys, aggs)
	if len(exprs) == 0 {
		return sc
	}
	names := make([]string, len(exprs))
	for i, x := range exprs {
		names[i] = x.String()
	}
	return sc.withStage(stage{
		describe: "Evaluate " + strings.Join(names, ", "),
		run: func(ctx *sql.Context, b *Batch) (*Batch, error) {
			cols := make([]*Column, len(b.Cols), len(b.Cols)+len(exprs))
			copy(cols, b.Cols)
			for _, x := range exprs {
				c, err := x.Eval(ctx, b)
				if err != nil {
					return nil, err
				}
				cols = append(cols, c)
			}
			return &Batch{N: b.N, Cols: cols}, nil
		},
	}, out)
}

// evaluateInParallel is fuseEvaluation for an input that is not the
// events scan (parallel_eval.go): the keys and arguments are computed by
// parallelEvalOp's workers, in input order.
func evaluateInParallel(in Operator, keys []Expr, aggs []aggFunc) Operator {
	exprs, out := movableExprs(in.Schema(), keys, aggs)
	if len(exprs) == 0 {
		return in
	}
	return &parallelEvalOp{child: in, exprs: exprs, sch: out}
}

// movableExprs takes the keys and the aggregates' movable arguments that
// are not plain columns or constants out of their slots: each slot then
// reads a column appended after in's, and exprs (over in) compute those
// columns; out is in with them.
func movableExprs(in sql.Schema, keys []Expr, aggs []aggFunc) (exprs []Expr, out sql.Schema) {
	slots := make([]*Expr, 0, len(keys))
	for i := range keys {
		slots = append(slots, &keys[i])
	}
	for _, a := range aggs {
		if ea, ok := a.(interface{ argSlots() []*Expr }); ok {
			slots = append(slots, ea.argSlots()...)
		}
	}
	base := len(in)
	out = append(sql.Schema(nil), in...)
	for _, slot := range slots {
		switch (*slot).(type) {
		case *fieldExpr, *constExpr:
			continue
		}
		x := *slot
		*slot = &fieldExpr{idx: base + len(exprs), typ: x.Type(), name: x.String()}
		exprs = append(exprs, x)
		out = append(out, &sql.Column{Name: x.String(), Type: x.Type(), Nullable: true})
	}
	return exprs, out
}

// columnUses is how the GroupBy uses each column of sch, its input (a
// scan's last stage's output): useCodes for a string column read only as
// whole keys compared by bytes (the group table groups them by
// dictionary code) and as plain select dependencies (firstAgg copies
// the group's first value by code), whose strings the scan may then
// leave unfilled (Column.S nil beside Codes); useStrings for a column
// any other expression references.
func columnUses(ctx *sql.Context, sch sql.Schema, keys, deps []sql.Expression, keyCols []keyColumn) []uint8 {
	keyUse := make([]bool, len(sch))
	valueUse := make([]bool, len(sch))
	markAll := func(e sql.Expression) {
		sql.Inspect(ctx, e, func(ctx *sql.Context, x sql.Expression) bool {
			if gf, ok := x.(*expression.GetField); ok && gf.Index() >= 0 && gf.Index() < len(sch) {
				valueUse[gf.Index()] = true
			}
			return true
		})
	}
	for i, k := range keys {
		if gf, ok := groupByDep(k).(*expression.GetField); ok && gf.Index() >= 0 && gf.Index() < len(sch) &&
			!keyCols[i].collated && !keyCols[i].extended {
			keyUse[gf.Index()] = true
			continue
		}
		markAll(k)
	}
	for _, d := range deps {
		if gf, ok := groupByDep(d).(*expression.GetField); ok && gf.Index() >= 0 && gf.Index() < len(sch) {
			continue // a first value: firstAgg reads it by code
		}
		markAll(d)
	}
	use := make([]uint8, len(sch))
	for j, c := range sch {
		switch {
		case valueUse[j] || keyUse[j] && KindOf(c.Type) != KindString:
			use[j] = useStrings
		case keyUse[j]:
			use[j] = useCodes
		}
	}
	return use
}

// How a column's values are used, for letting string columns come as
// codes alone; a column takes the greatest of its uses.
const (
	useNone    uint8 = iota // not read
	useCodes                // read by dictionary code alone (or handed on to such reads)
	useStrings              // its strings may be read
)

// throughStages maps use, per column of the last stage's output, down
// to the scan's own columns through each stage's flow (a column handed
// on takes its outputs' uses; one the stage reads takes that use too)
// and returns the scan columns used by code alone. nil when there are
// none, or when a stage does not describe its flow.
func throughStages(stages []stage, use []uint8) []bool {
	for i := len(stages) - 1; i >= 0; i-- {
		fl := stages[i].flow
		if fl == nil || len(fl.from) != len(use) {
			return nil
		}
		in := make([]uint8, len(fl.reads))
		for o, j := range fl.from {
			if j >= 0 && j < len(in) {
				in[j] = max(in[j], use[o])
			}
		}
		for j := range in {
			if fl.reads[j] {
				in[j] = useStrings
			} else if fl.byCode != nil && fl.byCode[j] {
				in[j] = max(in[j], useCodes)
			}
		}
		use = in
	}
	var only []bool
	for j, u := range use {
		if u == useCodes {
			if only == nil {
				only = make([]bool, len(use))
			}
			only[j] = true
		}
	}
	return only
}

// onlyAnyValue reports whether deps hold no aggregate but ANY_VALUE
// (go-mysql-server's groupByIter special case).
func onlyAnyValue(deps []sql.Expression) bool {
	for _, e := range deps {
		if a, ok := groupByDep(e).(sql.Aggregation); ok {
			if _, any := a.(*aggregation.AnyValue); !any {
				return false
			}
		}
	}
	return true
}

// unsupportedDep is why select dependency e cannot be aggregated here,
// or "".
func unsupportedDep(ctx *sql.Context, e sql.Expression) string {
	e = groupByDep(e)
	if a, ok := e.(sql.Aggregation); ok {
		if a.Window() != nil {
			return "aggregate with a window: " + e.String()
		}
		for _, ch := range a.Children() {
			if hasAggregation(ctx, ch) {
				return "aggregate of an aggregate: " + e.String()
			}
		}
		return ""
	}
	if hasAggregation(ctx, e) {
		return "aggregate nested in " + e.String()
	}
	return ""
}

func (h *hashAggOp) Schema() sql.Schema   { return h.sch }
func (h *hashAggOp) Children() []Operator { return []Operator{h.child} }
func (h *hashAggOp) Describe() string {
	keys := make([]string, len(h.keys))
	for i, k := range h.keys {
		keys[i] = k.String()
	}
	return Marker + "HashAggregate keys [" + strings.Join(keys, ", ") + "] aggs " + describeAggs(h.aggs)
}

func (h *hashAggOp) Open(ctx *sql.Context, run *Run) (BatchIter, error) {
	in, err := h.child.Open(ctx, run)
	if err != nil {
		return nil, err
	}
	aggs := make([]aggFunc, len(h.aggs))
	for i, a := range h.aggs {
		aggs[i] = a.fresh()
	}
	closeAggs := func() {
		for _, a := range aggs {
			a.close(ctx)
		}
	}
	budget := engine.MemoryBudgetOf(ctx)
	var charged int64
	release := func() {
		budget.Grow(-charged, "hash aggregate")
		charged = 0
	}
	ngroups, err := h.consume(ctx, in, aggs, budget, &charged)
	in.Close(ctx)
	if err != nil {
		closeAggs()
		release()
		return nil, err
	}
	cols := make([]*Column, len(aggs))
	for i, a := range aggs {
		if cols[i], err = a.result(ctx, ngroups); err != nil {
			closeAggs()
			release()
			return nil, err
		}
	}
	out := &Batch{N: ngroups, Cols: cols}
	pos := 0
	return &funcIter{
		next: func(ctx *sql.Context) (*Batch, error) {
			if pos >= ngroups {
				return nil, io.EOF
			}
			end := min(pos+BatchSize, ngroups)
			b := out.Slice(pos, end)
			if pos == 0 && end == ngroups {
				b = out
			}
			pos = end
			return b, nil
		},
		close: func(ctx *sql.Context) error {
			closeAggs()
			out = nil
			pos = ngroups
			release()
			return nil
		},
	}, nil
}

// consume folds every batch of in into the groups and returns how many
// there are.
func (h *hashAggOp) consume(ctx *sql.Context, in BatchIter, aggs []aggFunc, budget *engine.MemoryBudget, charged *int64) (int, error) {
	table := newGroupTable(h.keyCols)
	ngroups := 0
	if len(h.keys) == 0 {
		ngroups = 1 // the one group exists over no rows too
	}
	var groups []int32
	keyCols := make([]*Column, len(h.keys))
	for {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		b, err := in.Next(ctx)
		if err == io.EOF {
			return ngroups, nil
		}
		if err != nil {
			return 0, err
		}
		if len(h.keys) == 0 {
			groups = grow(groups[:0], b.N) // all zero: group 0
		} else {
			for i, k := range h.keys {
				if keyCols[i], err = k.Eval(ctx, b); err != nil {
					return 0, err
				}
			}
			if groups, err = table.groups(ctx, keyCols, b.N, groups); err != nil {
				return 0, err
			}
			ngroups = table.n
		}
		oneGroup := b.N > 0
		for _, c := range keyCols[:len(h.keys)] {
			oneGroup = oneGroup && c.isConst()
		}
		for _, a := range aggs {
			if og, ok := a.(oneGroupAdder); ok && oneGroup {
				err = og.addOneGroup(ctx, b, groups[0], ngroups)
			} else {
				err = a.add(ctx, b, groups, ngroups)
			}
			if err != nil {
				return 0, err
			}
		}
		if budget != nil {
			now := table.bytes()
			for _, a := range aggs {
				now += a.bytes()
			}
			if now != *charged {
				err := budget.Grow(now-*charged, "hash aggregate groups")
				*charged = now
				if err != nil {
					return 0, err
				}
			}
		}
	}
}

// groupByDep is select dependency e without its aliases.
func groupByDep(e sql.Expression) sql.Expression {
	for {
		a, ok := e.(*expression.Alias)
		if !ok {
			return e
		}
		e = a.Child
	}
}

package native

// This file owns correlated subqueries whose correlation is, beside at
// most one key equality, bounds on one value of the subquery's rows,
// answered from a per-key summary (join_users.go's userSummary) of
// the subquery's rows instead of one run of the subquery per row:
//
//	s.distinct_id NOT IN (SELECT e.distinct_id FROM events e
//	                      WHERE e.time >= s.time + INTERVAL 1 DAY)
//	EXISTS (SELECT 1 FROM events e WHERE e.distinct_id = s.distinct_id
//	        AND e.time >= s.time + INTERVAL 1 DAY)   -- in a CASE, an OR
//
// go-mysql-server turns neither into a join (a NOT IN correlated by an
// inequality, an EXISTS under OR or CASE): it runs the subquery for
// every outer row. The subquery's rows for an outer row r are those of
// its uncorrelated part U with every bound TRUE: v op lx(r), v one
// expression of U's row (e.time), the bounds all lower (>, >=) or all
// upper (<, <=). Whether some such row has a given key is whether the
// key's largest v (lower bounds; smallest for upper ones) among U's rows
// passes every bound for r (see join_users.go). So U runs once per
// statement, folded by key.
//
// Three-valued answers, for an outer row r whose bounds' values lx(r)
// are not NULL (a NULL one makes every bound NULL: no row qualifies,
// EXISTS and IN are FALSE):
//   - EXISTS: TRUE when r's key's best passes; a NULL outer key: FALSE.
//   - x IN: TRUE when x's best passes; else NULL when a row with a NULL
//     key qualifies (the best of those passes), or when x is NULL and
//     any row qualifies (the best of all rows passes); else FALSE.
//     NOT IN is NOT over it (compileNot), NULL staying NULL.
//
// A value v that is NULL keeps its row out of every r's rows. The
// comparisons are of two times (both sides KindTime); anything else, a
// key the summary cannot type (wild), or outer bound values that fail
// or warn send the rows concerned to go-mysql-server's Eval of the
// whole expression (a v that is not a time: all rows). The subquery's
// own rows run once, as existsSet's: an error fails the statement, a
// warning is the session's once.
//
// The summary belongs to one statement run, as existsSet (the first
// scan worker to ask builds it; the others wait); its bytes are charged
// to the statement's memory budget.

import (
	"fmt"
	"io"
	"strings"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/expression"
	"github.com/dolthub/go-mysql-server/sql/plan"

	"arb/engine"
)

func init() {
	registerExpr((*plan.InSubquery)(nil), compileInSubquery)
}

// boundedSubquery is a qualifying subquery taken apart: from gives U's
// rows (its own positions); key is the key over from's rows, outerKey
// the outer row's; v the bounded value over from's rows, and bounds[i]
// is v ops[i] lx[i] with lx[i] over the outer row.
type boundedSubquery struct {
	from     sql.Node
	key      sql.Expression
	outerKey sql.Expression
	text     string // the key's equality, for EXPLAIN
	v        sql.Expression
	lx       []sql.Expression
	ops      []cmpOp
	largest  bool
}

// compileInSubquery is x IN (correlated subquery) over a per-key
// summary, or nil (go-mysql-server's Eval) when it does not qualify.
func compileInSubquery(ctx *sql.Context, c *Compiler, e sql.Expression) (Expr, error) {
	in := e.(*plan.InSubquery)
	sq, ok := in.Right().(*plan.Subquery)
	if !ok {
		return nil, nil
	}
	if _, tuple := in.Left().(expression.Tuple); tuple {
		return nil, nil
	}
	d := decorrelateBounded(ctx, sq, c.In, in.Left())
	if d == nil {
		return nil, nil
	}
	return compileBounded(ctx, c, e, sq, d, true)
}

// compileExistsBounded is EXISTS over a per-key summary, or nil.
func compileExistsBounded(ctx *sql.Context, c *Compiler, ex *plan.ExistsSubquery) (Expr, error) {
	d := decorrelateBounded(ctx, ex.Query, c.In, nil)
	if d == nil {
		return nil, nil
	}
	return compileBounded(ctx, c, ex, ex.Query, d, false)
}

// decorrelateBounded takes sq apart as the file comment says, or
// returns nil. outer is the schema of the rows the expression is
// evaluated over; inLeft the IN's left operand (nil for EXISTS, whose
// key is its one correlation equality).
func decorrelateBounded(ctx *sql.Context, sq *plan.Subquery, outer sql.Schema, inLeft sql.Expression) *boundedSubquery {
	if sq.Volatile() {
		return nil
	}
	scope := len(outer)
	d := &boundedSubquery{}
	n := sq.Query
	if inLeft != nil {
		p, ok := n.(*plan.Project)
		if !ok || len(p.Projections) != 1 {
			return nil
		}
		k := p.Projections[0]
		if a, ok := k.(*expression.Alias); ok {
			k = a.Child
		}
		if !isInnerSide(ctx, k, scope) || !isOuterSide(ctx, inLeft, scope) || !namedColumns(ctx, inLeft, outer) {
			return nil
		}
		d.key, d.outerKey = k, inLeft
		d.text = inLeft.String() + " IN " + k.String()
		n = p.Child
	}
	for above := true; above; {
		switch x := n.(type) {
		case *plan.Project:
			if inLeft != nil {
				return nil // the IN's column is the top projection's
			}
			n = x.Child
		case *plan.Sort:
			n = x.Child
		case *plan.Distinct:
			n = x.Child
		case *plan.OrderedDistinct:
			n = x.Child
		default:
			above = false
		}
	}
	var conds []sql.Expression
	for {
		f, ok := n.(*plan.Filter)
		if !ok {
			break
		}
		conds = append(conds, expression.SplitConjunction(ctx, f.Expression)...)
		n = f.Child
	}
	from, _ := detachScope(ctx, n, scope)
	if from == nil {
		return nil
	}
	fromSch := from.Schema(ctx)
	var own []sql.Expression
	vText := ""
	for _, c := range conds {
		if joinHasSubquery(ctx, c) || !joinDeterministic(ctx, c) {
			return nil
		}
		if lo, _ := joinFieldRange(ctx, c); lo >= scope {
			s, err := shiftFields(ctx, c, scope)
			if err != nil || !namedColumns(ctx, s, fromSch) {
				return nil
			}
			own = append(own, s)
			continue
		}
		if eq, ok := c.(*expression.Equals); ok && inLeft == nil && d.key == nil {
			l, r := eq.Left(), eq.Right()
			if isOuterSide(ctx, r, scope) {
				l, r = r, l
			}
			if isOuterSide(ctx, l, scope) && isInnerSide(ctx, r, scope) && namedColumns(ctx, l, outer) {
				d.key, d.outerKey, d.text = r, l, c.String()
				continue
			}
			return nil
		}
		op, inner, outerSide, ok := boundSides(ctx, c, scope)
		if !ok || !namedColumns(ctx, outerSide, outer) {
			return nil
		}
		lower := op == opGT || op == opGE
		if vText == "" {
			vText, d.largest = inner.String(), lower
			v, err := shiftFields(ctx, inner, scope)
			if err != nil || !namedColumns(ctx, v, fromSch) {
				return nil
			}
			d.v = v
		} else if inner.String() != vText || lower != d.largest {
			return nil
		}
		d.lx = append(d.lx, outerSide)
		d.ops = append(d.ops, op)
	}
	if d.key == nil || d.v == nil {
		return nil // no bounds: decorrelate's (or go-mysql-server's)
	}
	k, err := shiftFields(ctx, d.key, scope)
	if err != nil || !namedColumns(ctx, k, fromSch) {
		return nil
	}
	d.key = k
	if len(own) > 0 {
		from = plan.NewFilter(expression.JoinAnd(own...), from)
	}
	d.from = from
	return d
}

// boundSides is comparison c as inner op outer (the subquery's row's
// expression, the outer row's), if it is one of >, >=, <, <=.
func boundSides(ctx *sql.Context, c sql.Expression, scope int) (cmpOp, sql.Expression, sql.Expression, bool) {
	var op cmpOp
	switch c.(type) {
	case *expression.GreaterThan:
		op = opGT
	case *expression.GreaterThanOrEqual:
		op = opGE
	case *expression.LessThan:
		op = opLT
	case *expression.LessThanOrEqual:
		op = opLE
	default:
		return 0, nil, nil, false
	}
	ch := c.Children()
	l, r := ch[0], ch[1]
	switch {
	case isInnerSide(ctx, l, scope) && isOuterSide(ctx, r, scope):
		return op, l, r, true
	case isOuterSide(ctx, l, scope) && isInnerSide(ctx, r, scope):
		return op.flip(), r, l, true
	}
	return 0, nil, nil, false
}

func compileBounded(ctx *sql.Context, c *Compiler, e sql.Expression, sq *plan.Subquery, d *boundedSubquery, isIn bool) (Expr, error) {
	eq := expression.NewEquals(d.outerKey, d.key)
	class, coll, ok := keyClassOf(ctx, eq, d.outerKey, d.key)
	if !ok {
		return nil, nil
	}
	left, err := c.Compile(ctx, d.outerKey)
	if err != nil {
		return nil, err
	}
	x := &boundedExpr{e: e, sq: sq, isIn: isIn, ops: d.ops, largest: d.largest, row: newEvalExpr(ctx, e), vText: d.v.String()}
	x.keys = []joinKey{{left: left, right: &fieldExpr{idx: 0, typ: d.key.Type(ctx), name: d.key.String()}, class: class, coll: coll, text: d.text}}
	for _, l := range d.lx {
		lc, err := c.Compile(ctx, l)
		if err != nil {
			return nil, err
		}
		x.lx = append(x.lx, lc)
	}
	proj := plan.NewProject([]sql.Expression{d.key, d.v}, d.from)
	inner, reason := Translate(ctx, proj)
	if inner == nil {
		inner = &rowSource{node: proj, sch: proj.Schema(ctx), reason: reason}
	}
	x.inner = inner
	return x, nil
}

// boundedExpr is EXISTS or IN over a per-key summary of a subquery's
// uncorrelated rows (see the file comment).
type boundedExpr struct {
	e       sql.Expression
	sq      *plan.Subquery
	isIn    bool
	inner   Operator  // the subquery's key (column 0) and bounded value (1), uncorrelated
	keys    []joinKey // left: over the outer row; right: inner's column 0
	lx      []Expr    // the bounds' outer values
	ops     []cmpOp   // bound i: v ops[i] lx[i]
	largest bool
	vText   string
	row     *evalExpr // go-mysql-server's Eval, for what the summary cannot answer
	built   perRun[*boundedSet]
}

// boundedSet is the subquery's rows folded by key in one statement run.
type boundedSet struct {
	sum *userSummary
	// wild: the summary cannot answer any row (a wild subquery key, a
	// value v not a time or failing or warning).
	wild bool
	// anyRows: some row has a non-NULL v, the largest or smallest
	// allBest; nullRows likewise among the rows with a NULL key.
	anyRows, nullRows bool
	allBest, nullBest int64
}

func (x *boundedExpr) Type() sql.Type { return x.row.typ }

func (x *boundedExpr) String() string {
	what := "smallest"
	if x.largest {
		what = "largest"
	}
	var from []string
	for op := x.inner; ; op = op.Children()[0] {
		from = append(from, strings.TrimPrefix(strings.SplitN(op.Describe(), "\n", 2)[0], Marker))
		if len(op.Children()) != 1 {
			break
		}
	}
	kind := "exists"
	if x.isIn {
		kind = "in"
	}
	return fmt.Sprintf("%s(per-key %s %s of [%s] from %s)", kind, what, x.vText, x.keys[0].text, strings.Join(from, " ← "))
}

func (x *boundedExpr) Eval(ctx *sql.Context, b *Batch) (*Column, error) {
	set, err := x.set(ctx)
	if err != nil {
		return nil, err
	}
	if set.wild {
		return x.row.Eval(ctx, b)
	}
	lcols, ok := x.outerValues(ctx, b)
	if !ok {
		return x.row.Eval(ctx, b)
	}
	vals, err := newKeySet(x.keys, true).compute(ctx, b)
	if err != nil {
		return nil, err
	}
	s := set.sum
	byNumber := vals.users != nil && s.numbering != nil && s.numbering.SameNumbering(vals.numbering)
	out := NewColumn(x.row.typ, b.N)
	out.I = out.I[:b.N]
	for r := range b.N {
		var v int8 // pairFalse, pairTrue, pairNull
		switch vals.state[r] {
		case keyWild:
			res, err := x.e.Eval(ctx, b.Row(r))
			if err != nil {
				return nil, err
			}
			switch res {
			case nil:
				v = pairNull
			case true:
				v = pairTrue
			}
		case keyNull:
			if x.isIn && set.anyRows && x.holds(lcols, set.allBest, r) {
				v = pairNull
			}
		default:
			if best, ok := s.lookup(vals, r, byNumber); ok && x.holds(lcols, best, r) {
				v = pairTrue
			} else if x.isIn && set.nullRows && x.holds(lcols, set.nullBest, r) {
				v = pairNull
			}
		}
		switch v {
		case pairTrue:
			out.I[r] = 1
		case pairNull:
			if out.Nulls == nil {
				out.Nulls = make([]bool, b.N)
			}
			out.Nulls[r] = true
		}
	}
	return out, nil
}

// holds reports whether value best passes every bound for outer row r
// (FALSE where a bound's outer value is NULL).
func (x *boundedExpr) holds(lcols []*Column, best int64, r int) bool {
	for i, op := range x.ops {
		lc := lcols[i]
		if lc.Nulls != nil && lc.Nulls[r] {
			return false
		}
		lv, c := lc.I[r], 0
		if best < lv {
			c = -1
		} else if best > lv {
			c = 1
		}
		if !op.holds(c) {
			return false
		}
	}
	return true
}

// outerValues is the bounds' outer values over b, false when one fails,
// warns or is not a time.
func (x *boundedExpr) outerValues(ctx *sql.Context, b *Batch) ([]*Column, bool) {
	trap := &warnTrap{Session: ctx.Session}
	tctx := *ctx
	tctx.Session = trap
	out := make([]*Column, len(x.lx))
	for i, l := range x.lx {
		c, err := l.Eval(&tctx, b)
		if err != nil || trap.warned || c == nil || !kindFits(cmpTime, c.Kind) || len(c.I) < b.N {
			return nil, false
		}
		out[i] = c
	}
	return out, true
}

// set is the run's summary, built by the first caller of the run.
func (x *boundedExpr) set(ctx *sql.Context) (*boundedSet, error) {
	return x.built.get(ctx, func() (*boundedSet, error) { return x.build(ctx) })
}

func (x *boundedExpr) build(ctx *sql.Context) (*boundedSet, error) {
	it, err := openUncorrelated(ctx, x.sq, x.inner)
	if err != nil {
		return nil, err
	}
	defer it.Close(ctx)
	ks := newKeySet(x.keys, false)
	set := &boundedSet{sum: &userSummary{largest: x.largest, bounds: true}}
	if ks.single {
		set.sum.ints = map[int64]int64{}
	}
	for !set.wild {
		b, err := it.Next(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		rv := b.Cols[1]
		if !kindFits(cmpTime, rv.Kind) || len(rv.I) < b.N {
			if rv.Kind == KindNull {
				continue // no row of b qualifies for any outer row
			}
			set.wild = true
			break
		}
		vals, err := ks.compute(ctx, b)
		if err != nil {
			return nil, err
		}
		for r := range b.N {
			if rv.Nulls != nil && rv.Nulls[r] {
				continue
			}
			v := rv.I[r]
			if !set.anyRows || set.sum.beats(v, set.allBest) {
				set.allBest = v
			}
			set.anyRows = true
			if vals.state[r] == keyNull && (!set.nullRows || set.sum.beats(v, set.nullBest)) {
				set.nullBest, set.nullRows = v, true
			}
		}
		if !set.sum.fold(vals, rv, b.N) {
			set.wild = true
		}
	}
	if err := engine.MemoryBudgetOf(ctx).Grow(set.sum.bytes(), "subquery per-key summary"); err != nil {
		return nil, err
	}
	return set, nil
}

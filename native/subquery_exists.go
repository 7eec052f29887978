package native

// This file owns correlated EXISTS subqueries answered from a hashed set
// of the subquery's correlation keys (a semi join's build side, kept as
// a boolean per outer row), instead of one run of the subquery per row:
//
//	EXISTS (SELECT … FROM t WHERE t.k = outer.k AND p(t))
//
// is TRUE for an outer row exactly when some row of t that passes p has
// a key equal to the outer row's. So the statement runs
// SELECT t.k FROM t WHERE p(t) once (natively where it can), keeps the
// keys in a set, and answers each outer row by one lookup. NOT EXISTS is
// NOT over it (EXISTS is never NULL).
//
// What qualifies (decorrelate): above the subquery's WHERE only nodes
// that do not change whether a row exists (Project, Sort, Distinct, a
// LIMIT of at least one row); every conjunct of the WHERE either reads
// the subquery's own rows only, or is an equality between an expression
// of the outer row and one of the subquery's row that join_keys.go can
// hash; below the WHERE nothing reads the outer row. Anything else
// (GROUP BY, a correlated inequality, a nested subquery, a join inside)
// stays go-mysql-server's Eval, one subquery run per row.
//
// Invariants:
//   - Keys compare as join_keys.go types them: two non-NULL keys are in
//     the set together exactly when go-mysql-server's Equals is TRUE.
//   - A NULL outer key makes every correlation equality NULL: EXISTS is
//     FALSE. A NULL subquery key matches nothing and is left out.
//   - A key the set cannot type (a wild key): an outer row's is answered
//     by go-mysql-server's Eval of the whole EXISTS; a subquery row's
//     sends every outer row of the statement there.
//   - The set belongs to one statement run (its memory budget, else its
//     process id and query time): a plan kept across executions (a
//     prepared statement) builds it again. Its bytes are charged to the
//     statement's memory budget.
//   - Scan workers evaluate the expression concurrently; the first
//     builds the set while the others wait for it.
//
// Column positions: go-mysql-server evaluates a subquery's plan over the
// outer row followed by the subquery's own row (PrependRowInPlan), so a
// position below len(outer schema) is the outer row's; the subquery's
// own positions are moved down by that length here.

import (
	"fmt"
	"io"
	mathbits "math/bits"
	"strings"
	"sync"
	"time"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/expression"
	"github.com/dolthub/go-mysql-server/sql/plan"
	"github.com/dolthub/go-mysql-server/sql/transform"

	"arb/engine"
	"arb/storage"
)

func init() {
	registerExpr((*plan.ExistsSubquery)(nil), compileExists)
}

// compileExists is a correlated EXISTS over a hashed set, or nil (Eval,
// one subquery run per row) when the subquery does not qualify.
func compileExists(ctx *sql.Context, c *Compiler, e sql.Expression) (Expr, error) {
	ex := e.(*plan.ExistsSubquery)
	d, _ := decorrelate(ctx, ex.Query, c.In)
	if d == nil {
		// Bounds on one value of the subquery's rows beside the key
		// (subquery_bounded.go), or Eval.
		return compileExistsBounded(ctx, c, ex)
	}
	keys := make([]joinKey, len(d.outer))
	for i := range d.outer {
		left, err := c.Compile(ctx, d.outer[i])
		if err != nil {
			return nil, err
		}
		keys[i] = joinKey{left: left, right: &fieldExpr{idx: i, typ: d.inner[i].Type(ctx), name: d.inner[i].String()},
			class: d.class[i], coll: d.coll[i], text: d.text[i]}
	}
	proj := plan.NewProject(d.inner, d.from)
	inner, reason := Translate(ctx, proj)
	if inner == nil {
		inner = &rowSource{node: proj, sch: proj.Schema(ctx), reason: reason}
	}
	return &existsExpr{e: ex, inner: inner, keys: keys, row: newEvalExpr(ctx, e)}, nil
}

// decorrelation is a qualifying subquery taken apart: from (positions
// of its own rows only) gives the rows that pass the uncorrelated part of
// the WHERE, and outer[i] = inner[i] are the correlation equalities
// (outer over the outer row, inner over from's rows).
type decorrelation struct {
	from         sql.Node
	outer, inner []sql.Expression
	class        []keyClass
	coll         []sql.CollationID
	text         []string
}

// decorrelate takes sq apart as the file comment says, or returns nil and
// why not. outer is the schema of the rows the EXISTS is evaluated over.
func decorrelate(ctx *sql.Context, sq *plan.Subquery, outer sql.Schema) (*decorrelation, string) {
	if sq.Volatile() {
		return nil, "volatile subquery"
	}
	scope := len(outer)
	n, ok := ExistenceBody(sq.Query)
	if !ok {
		return nil, "LIMIT not a literal of at least one row"
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
	from, reason := detachScope(ctx, n, scope)
	if from == nil {
		return nil, reason
	}
	fromSch := from.Schema(ctx)
	d := &decorrelation{}
	var own []sql.Expression
	for _, c := range conds {
		if joinHasSubquery(ctx, c) || !joinDeterministic(ctx, c) {
			return nil, "subquery or nondeterminism in the WHERE"
		}
		if lo, _ := joinFieldRange(ctx, c); lo >= scope {
			s, err := shiftFields(ctx, c, scope)
			if err != nil || !namedColumns(ctx, s, fromSch) {
				return nil, "WHERE conjunct not over the subquery's rows"
			}
			own = append(own, s)
			continue
		}
		eq, ok := c.(*expression.Equals)
		if !ok {
			return nil, "correlated conjunct other than an equality: " + c.String()
		}
		l, r := eq.Left(), eq.Right()
		if isOuterSide(ctx, r, scope) {
			l, r = r, l
		}
		if !isOuterSide(ctx, l, scope) || !isInnerSide(ctx, r, scope) {
			return nil, "equality not between the outer row and the subquery's: " + c.String()
		}
		if !namedColumns(ctx, l, outer) {
			return nil, "outer columns not at their positions: " + c.String()
		}
		in, err := shiftFields(ctx, r, scope)
		if err != nil || !namedColumns(ctx, in, fromSch) {
			return nil, "subquery columns not at their positions: " + c.String()
		}
		class, coll, ok := keyClassOf(ctx, eq, l, in)
		if !ok {
			return nil, "equality that cannot be hashed: " + c.String()
		}
		d.outer = append(d.outer, l)
		d.inner = append(d.inner, in)
		d.class = append(d.class, class)
		d.coll = append(d.coll, coll)
		d.text = append(d.text, c.String())
	}
	if len(d.outer) == 0 {
		// Uncorrelated: go-mysql-server runs it once and caches it.
		return nil, "no correlation equality"
	}
	if len(own) > 0 {
		from = plan.NewFilter(expression.JoinAnd(own...), from)
	}
	d.from = from
	return d, ""
}

// namedColumns reports whether every column e references is within sch
// and has the name of sch's column at its position. (Tables are not
// compared: an operator's input may carry the table's name where the
// expression carries its alias.)
func namedColumns(ctx *sql.Context, e sql.Expression, sch sql.Schema) bool {
	return !transform.InspectExpr(ctx, e, func(_ *sql.Context, e sql.Expression) bool {
		gf, ok := e.(*expression.GetField)
		if !ok {
			return false
		}
		i := gf.Index()
		return i < 0 || i >= len(sch) || !strings.EqualFold(sch[i].Name, gf.Name())
	})
}

// atLeastOneRow: limit is a literal count of one row or more.
// ExistenceBody is n below the nodes that do not change whether it has a
// row (projections, DISTINCT, ORDER BY, a LIMIT of one row or more): what
// an EXISTS over n asks of. ok is false at a LIMIT that could be 0.
func ExistenceBody(n sql.Node) (body sql.Node, ok bool) {
	for {
		switch x := n.(type) {
		case *plan.Project:
			n = x.Child
		case *plan.Sort:
			n = x.Child
		case *plan.Distinct:
			n = x.Child
		case *plan.OrderedDistinct:
			n = x.Child
		case *plan.Limit:
			if !atLeastOneRow(x.Limit) {
				return nil, false
			}
			n = x.Child
		case *plan.TopN:
			if !atLeastOneRow(x.Limit) {
				return nil, false
			}
			n = x.Child
		default:
			return n, true
		}
	}
}

func atLeastOneRow(limit sql.Expression) bool {
	lit, ok := limit.(*expression.Literal)
	if !ok {
		return false
	}
	k, ok := IntOf(lit.Value())
	return ok && k >= 1
}

// isOuterSide: e reads some column, all of the outer row's.
func isOuterSide(ctx *sql.Context, e sql.Expression, scope int) bool {
	lo, hi := joinFieldRange(ctx, e)
	return lo <= hi && hi < scope && joinDeterministic(ctx, e)
}

// isInnerSide: e reads some column, all of the subquery's own row's.
func isInnerSide(ctx *sql.Context, e sql.Expression, scope int) bool {
	lo, hi := joinFieldRange(ctx, e)
	return lo <= hi && lo >= scope && joinDeterministic(ctx, e)
}

// detachScope is n with every column position moved down by scope, or
// nil and why when some node of n reads the outer row or is of a kind
// not known to keep its positions in its expressions only (a join keeps
// its own scope length; a derived table's plan has positions of its own,
// or sees the outer scope).
func detachScope(ctx *sql.Context, n sql.Node, scope int) (sql.Node, string) {
	var fail string
	out, _, err := transform.Node(ctx, n, func(ctx *sql.Context, n sql.Node) (sql.Node, transform.TreeIdentity, error) {
		switch n.(type) {
		case *plan.ResolvedTable, *plan.TableAlias, *plan.Filter, *plan.Project, *plan.Distinct, *plan.Sort:
		default:
			if ex, ok := n.(sql.Expressioner); ok && len(ex.Expressions()) > 0 {
				fail = nodeName(n) + " below the subquery's WHERE"
				return n, transform.SameTree, nil
			}
			if len(n.Children()) > 0 {
				fail = nodeName(n) + " below the subquery's WHERE"
			}
			return n, transform.SameTree, nil
		}
		ex, ok := n.(sql.Expressioner)
		if !ok || len(ex.Expressions()) == 0 {
			return n, transform.SameTree, nil
		}
		exprs := ex.Expressions()
		next := make([]sql.Expression, len(exprs))
		for i, e := range exprs {
			if joinHasSubquery(ctx, e) {
				fail = "subquery below the subquery's WHERE"
				return n, transform.SameTree, nil
			}
			if lo, hi := joinFieldRange(ctx, e); lo <= hi && lo < scope {
				fail = nodeName(n) + " below the WHERE reads the outer row"
				return n, transform.SameTree, nil
			}
			s, err := shiftFields(ctx, e, scope)
			if err != nil {
				return nil, transform.SameTree, err
			}
			next[i] = s
		}
		nn, err := ex.WithExpressions(ctx, next...)
		return nn, transform.NewTree, err
	})
	if err != nil {
		return nil, err.Error()
	}
	if fail != "" {
		return nil, fail
	}
	return out, ""
}

// existsExpr is EXISTS over the set of the subquery's keys.
type existsExpr struct {
	e     *plan.ExistsSubquery
	inner Operator  // the subquery's key columns, uncorrelated
	keys  []joinKey // left: over the outer row; right: inner's column i
	row   *evalExpr // go-mysql-server's Eval, for wild keys
	built perRun[*existsSet]
}

// existsSet is the subquery's keys in one statement run.
type existsSet struct {
	ints map[int64]struct{} // a single numeric or time key
	strs map[string]struct{}
	// users, while every subquery key came as a user number (join_keys.go:
	// a single keyStr key over Column.U) of one numbering: the set is
	// the bits of numbers (strs nil). An outer batch without numbers of
	// that numbering looks up userStrs, the users' ids, made once.
	users    *storage.UserIDs
	userBits []uint64
	strsOnce sync.Once
	userStrs map[string]struct{}
	// wild: some subquery row's key could not be typed; every outer row
	// goes to Eval.
	wild bool
}

// runOwner identifies a statement run.
type runOwner struct {
	budget *engine.MemoryBudget
	pid    uint64
	at     time.Time
}

func runOwnerOf(ctx *sql.Context) runOwner {
	return runOwner{budget: engine.MemoryBudgetOf(ctx), pid: ctx.Pid(), at: ctx.QueryTime()}
}

// perRun keeps what an expression builds once per statement run (the
// latest run's), for every batch and every goroutine of that run.
type perRun[T any] struct {
	mu    sync.Mutex
	run   runOwner
	built bool
	v     T
}

// get returns the value of ctx's run, built by build for the first
// caller of the run (the others wait for it).
func (c *perRun[T]) get(ctx *sql.Context, build func() (T, error)) (T, error) {
	run := runOwnerOf(ctx)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.built && c.run == run {
		return c.v, nil
	}
	v, err := build()
	if err != nil {
		return v, err
	}
	c.run, c.v, c.built = run, v, true
	return v, nil
}

// openUncorrelated runs inner, the uncorrelated form of subquery sq, with
// the row executor sq was given.
func openUncorrelated(ctx *sql.Context, sq *plan.Subquery, inner Operator) (BatchIter, error) {
	builder, err := execBuilderOf(ctx, sq)
	if err != nil {
		return nil, err
	}
	return inner.Open(ctx, &Run{Builder: builder})
}

func (x *existsExpr) Type() sql.Type { return x.row.typ }

func (x *existsExpr) String() string {
	var keys []string
	for _, k := range x.keys {
		keys = append(keys, k.text)
	}
	// The subquery's operators on one line: their first lines.
	var from []string
	for op := x.inner; ; op = op.Children()[0] {
		from = append(from, strings.TrimPrefix(strings.SplitN(op.Describe(), "\n", 2)[0], Marker))
		if len(op.Children()) != 1 {
			break
		}
	}
	return fmt.Sprintf("exists(hashed set of [%s] from %s)", strings.Join(keys, ", "), strings.Join(from, " ← "))
}

func (x *existsExpr) Eval(ctx *sql.Context, b *Batch) (*Column, error) {
	set, err := x.set(ctx)
	if err != nil {
		return nil, err
	}
	if set.wild {
		return x.row.Eval(ctx, b)
	}
	vals, err := newKeySet(x.keys, true).compute(ctx, b)
	if err != nil {
		return nil, err
	}
	byNumber := set.byNumber(vals)
	out := NewColumn(x.row.typ, b.N)
	out.I = out.I[:b.N]
	for r := range b.N {
		var found bool
		switch vals.state[r] {
		case keyNull:
		case keyWild:
			v, err := x.e.Eval(ctx, b.Row(r))
			if err != nil {
				return nil, err
			}
			found = v == true
		case keyOK:
			found = set.contains(vals, r, byNumber)
		}
		if found {
			out.I[r] = 1
		}
	}
	return out, nil
}

// set is the run's set, built by the first caller of the run.
func (x *existsExpr) set(ctx *sql.Context) (*existsSet, error) {
	return x.built.get(ctx, func() (*existsSet, error) { return x.build(ctx) })
}

func (x *existsExpr) build(ctx *sql.Context) (*existsSet, error) {
	it, err := openUncorrelated(ctx, x.e.Query, x.inner)
	if err != nil {
		return nil, err
	}
	defer it.Close(ctx)
	ks := newKeySet(x.keys, false)
	s := &existsSet{}
	if ks.single {
		s.ints = map[int64]struct{}{}
	}
	var bytes int64
	for !s.wild {
		b, err := it.Next(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		vals, err := ks.compute(ctx, b)
		if err != nil {
			return nil, err
		}
		bytes += s.add(vals, b.N)
	}
	if err := engine.MemoryBudgetOf(ctx).Grow(bytes, "EXISTS subquery keys"); err != nil {
		return nil, err
	}
	return s, nil
}

// byNumber reports whether outer keys vals are looked up by number.
func (s *existsSet) byNumber(vals *keyVals) bool {
	return s.users != nil && vals.users != nil && s.users.SameNumbering(vals.numbering)
}

// contains reports whether outer row r's key (keyOK) is in s; byNumber
// is s.byNumber(vals).
func (s *existsSet) contains(vals *keyVals, r int, byNumber bool) bool {
	switch {
	case s.ints != nil:
		_, ok := s.ints[vals.ints[r]]
		return ok
	case s.users == nil:
		_, ok := s.strs[vals.strs[r]]
		return ok
	case byNumber:
		u := vals.users[r]
		return int(u>>6) < len(s.userBits) && s.userBits[u>>6]&(1<<(u&63)) != 0
	}
	_, ok := s.usersAsStrings()[vals.strs[r]]
	return ok
}

// add puts the keys vals of n subquery rows in s and returns the bytes
// it added.
func (s *existsSet) add(vals *keyVals, n int) int64 {
	var bytes int64
	if s.ints == nil {
		bytes += s.numberBatch(vals)
	}
	for r := range n {
		switch vals.state[r] {
		case keyNull:
			continue
		case keyWild:
			s.wild = true
			continue
		}
		if s.users != nil {
			u := vals.users[r]
			if int(u>>6) >= len(s.userBits) {
				bytes += 8 * int64(int(u>>6)+1-len(s.userBits))
				s.userBits = append(s.userBits, make([]uint64, int(u>>6)+1-len(s.userBits))...)
			}
			s.userBits[u>>6] |= 1 << (u & 63)
		} else if s.ints != nil {
			if _, ok := s.ints[vals.ints[r]]; !ok {
				s.ints[vals.ints[r]] = struct{}{}
				bytes += 48
			}
		} else if _, ok := s.strs[vals.strs[r]]; !ok {
			// The key may be made over the batch's or the key set's
			// buffers: the set keeps its own copy.
			s.strs[strings.Clone(vals.strs[r])] = struct{}{}
			bytes += 64 + int64(len(vals.strs[r]))
		}
	}
	return bytes
}

// numberBatch readies s for a subquery batch's keys vals: numbers while
// every batch has numbers of one numbering (the first such batch starts
// it, unless strings came before), strings from the first batch that
// has none (the numbers so far become their ids). It returns the bytes
// it added.
func (s *existsSet) numberBatch(vals *keyVals) int64 {
	switch {
	case s.users == nil && s.strs == nil && vals.users != nil:
		s.users = vals.numbering
		s.userBits = make([]uint64, (s.users.Len()+63)/64)
		return 8 * int64(len(s.userBits))
	case s.users != nil && vals.users != nil && s.users.SameNumbering(vals.numbering):
		s.users = widerNumbering(s.users, vals.numbering)
		return 0
	case s.users != nil:
		s.strs = s.usersAsStrings()
		s.users, s.userBits = nil, nil
		var n int64
		for k := range s.strs {
			n += 64 + int64(len(k))
		}
		return n
	case s.strs == nil:
		s.strs = map[string]struct{}{}
	}
	return 0
}

// usersAsStrings is the ids of the users in s's bits, made once (outer
// batches of several scan workers may ask at once).
func (s *existsSet) usersAsStrings() map[string]struct{} {
	s.strsOnce.Do(func() {
		s.userStrs = map[string]struct{}{}
		for w, bits := range s.userBits {
			for ; bits != 0; bits &= bits - 1 {
				u := uint32(w*64 + mathbits.TrailingZeros64(bits))
				s.userStrs[s.users.ID(u)] = struct{}{}
			}
		}
	})
	return s.userStrs
}

// execBuilderOf is the builder go-mysql-server runs sq's plan with (the
// analyzer's, which the native plan's leftover nodes need too): sq is
// asked whether a probe node has rows, and the probe keeps the builder
// it is built with.
func execBuilderOf(ctx *sql.Context, sq *plan.Subquery) (sql.NodeExecBuilder, error) {
	p := &builderProbe{}
	if _, err := sq.WithQuery(p).HasResultRow(ctx, nil); err != nil {
		return nil, err
	}
	if p.b == nil {
		return nil, fmt.Errorf("native: the subquery %s did not build its plan", sq)
	}
	return p.b, nil
}

// builderProbe is an empty plan that records the builder that runs it.
type builderProbe struct{ b sql.NodeExecBuilder }

var _ sql.ExecBuilderNode = (*builderProbe)(nil)

func (p *builderProbe) BuildRowIter(_ *sql.Context, b sql.NodeExecBuilder, _ sql.Row) (sql.RowIter, error) {
	p.b = b
	return sql.RowsToRowIter(), nil
}
func (p *builderProbe) Resolved() bool                 { return true }
func (p *builderProbe) String() string                 { return "builder probe" }
func (p *builderProbe) Schema(*sql.Context) sql.Schema { return nil }
func (p *builderProbe) Children() []sql.Node           { return nil }
func (p *builderProbe) IsReadOnly() bool               { return true }
func (p *builderProbe) WithChildren(_ *sql.Context, children ...sql.Node) (sql.Node, error) {
	if len(children) != 0 {
		return nil, sql.ErrInvalidChildrenNumber.New(p, len(children), 0)
	}
	return p, nil
}

package native

// This file owns the translation of go-mysql-server's joins
// (*plan.JoinNode) into a native join operator, joinOp: a hash join when
// the condition has an equality between a left and a right expression,
// a nested loop over the materialised right input otherwise. The probe
// itself is in join_iter.go, keys and the hash table in join_keys.go.
//
// Which join: go-mysql-server plans one logical join as one of many
// physical JoinTypes (HashJoin, LookupJoin, MergeJoin, RangeHeapJoin,
// ...), all evaluating the whole condition (n.Filter) on the pairs their
// access path finds. joinOp runs them by their logical meaning, the
// nested-loop semantics of rowexec/join_iters.go, for each left row in
// order and each right row in right-input order:
//
//   - inner: every pair whose condition is TRUE, left row ++ right row;
//   - left outer: the same, and a left row with no TRUE pair once, with
//     NULLs for the right columns;
//   - left outer excluding NULLs (from NOT IN): as left outer, but the
//     first pair whose condition is NULL ends the left row: no more
//     pairs, and no NULL-extended row (joinIter's resetSecondaryIter);
//   - semi: the left row (left columns only) when some pair is TRUE;
//   - anti (NOT IN, go-mysql-server's AntiJoin: it excludes NULLs): the
//     left row when every pair is FALSE (a NULL, like a TRUE, rejects it);
//   - anti including NULLs (NOT EXISTS): the left row when no pair is
//     TRUE (existsIter);
//   - cross: every pair (crossJoinIter has no condition).
//
// go-mysql-server's hash variants probe only the right rows of the left
// row's hash key, and for the NULL-sensitive ones fall back to an
// arbitrary non-empty bucket (rowexec buildHashLookup's map range), so
// their answer to NOT IN against a NULL can change from run to run;
// joinOp gives the nested-loop answer every time.
//
// A right child that is a *plan.HashLookup, *plan.CachedResults or
// *plan.RangeHeap only narrows or caches the real right input: joinOp
// reads that input whole instead. Full outer and lateral joins, merge
// joins (their semi/anti forms even change the schema), joins in an
// outer scope and joins whose right input depends on the left row
// (index lookups) stay go-mysql-server's.
//
// Column positions: after assignExecIndexes, a join's condition indexes
// the row outer-left ++ left ++ right, where outer-left is the left input
// of every join this one is nested in on the right side (the row
// joinIter passes down as the parent row). joinOp reads its right input
// on its own, so before translating it, detachRight rewrites the
// positions in the right subtree that see that prefix (nested join
// conditions, HashLookup probe keys) to start at 0; a reference into the
// prefix is a right input that depends on the left row, and the join
// stays go-mysql-server's. A join nested that way that is translated on
// its own (its parent stayed go-mysql-server's) is recognised by its
// condition's columns not being its own (ownColumns) and stays too.

import (
	"fmt"
	"slices"
	"strings"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/expression"
	"github.com/dolthub/go-mysql-server/sql/plan"
	"github.com/dolthub/go-mysql-server/sql/transform"
	"github.com/dolthub/go-mysql-server/sql/types"

	"arb/storage"
)

// joinKind is a join's logical meaning (see the file comment).
type joinKind uint8

const (
	joinInner joinKind = iota
	joinLeftOuter
	joinLeftOuterExcludeNulls
	joinSemi
	joinAnti
	joinAntiIncludeNulls
	joinCross
)

var joinKindNames = [...]string{"inner", "left outer", "left outer excluding nulls", "semi", "anti", "anti including nulls", "cross"}

func (k joinKind) String() string { return joinKindNames[k] }

// partial reports whether the join outputs left rows only.
func (k joinKind) partial() bool {
	return k == joinSemi || k == joinAnti || k == joinAntiIncludeNulls
}

// nullsMatter reports whether a NULL condition differs from FALSE.
func (k joinKind) nullsMatter() bool {
	return k == joinLeftOuterExcludeNulls || k == joinAnti
}

// joinKindOf is the logical join op runs, false for the ones left to
// go-mysql-server.
func joinKindOf(op plan.JoinType) (joinKind, bool) {
	switch op {
	case plan.JoinTypeInner, plan.JoinTypeHash, plan.JoinTypeRangeHeap:
		return joinInner, true
	case plan.JoinTypeLeftOuter, plan.JoinTypeLeftOuterHash, plan.JoinTypeLeftOuterRangeHeap:
		return joinLeftOuter, true
	case plan.JoinTypeLeftOuterExcludeNulls, plan.JoinTypeLeftOuterHashExcludeNulls:
		return joinLeftOuterExcludeNulls, true
	case plan.JoinTypeSemi, plan.JoinTypeSemiHash:
		return joinSemi, true
	case plan.JoinTypeAnti, plan.JoinTypeAntiHash:
		return joinAnti, true
	case plan.JoinTypeAntiIncludeNulls, plan.JoinTypeAntiHashIncludeNulls:
		return joinAntiIncludeNulls, true
	case plan.JoinTypeCross, plan.JoinTypeCrossHash:
		return joinCross, true
	}
	// Lookup joins read an index per left row (their right input depends
	// on it); merge joins need both inputs in index order, and their
	// semi/anti forms keep the right columns; full outer, lateral and
	// the placeholders are not implemented.
	return 0, false
}

// joinOp is a hash join (keys non-empty) or a nested-loop join.
type joinOp struct {
	kind        joinKind
	gmsOp       plan.JoinType
	left, right Operator
	sch         sql.Schema
	nl, nr      int // left and right input widths

	keys []joinKey
	// leftFilter and rightFilter are the conjuncts over one side only
	// (nil: none), see planCondition.
	leftFilter, rightFilter Expr
	// residual is the rest of the condition, over the pair columns
	// residualRefs (positions in left ++ right ++ hoists); nil when
	// nothing is left: every candidate pair is TRUE.
	residual     Expr
	residualRefs []int
	hoists       []joinHoist
	// bounds are the residual's leading conjuncts that compare a right
	// column with a value of the left row as numbers (joinBoundsOf): the
	// probe drops a chain pair one of them makes FALSE before the pair
	// columns are gathered.
	bounds []joinBound
	// boundsExact: the residual is the bounds' conjunction and nothing
	// else (see joinTimeRange).
	boundsExact bool
	// full is the whole condition, over fullRefs (left ++ right): what a
	// pair whose key was not hashed (NULL where NULLs matter, or wild) is
	// decided by; nil without keys.
	full     Expr
	fullRefs []int

	condText string

	// outRead[i] reports whether something above the join reads its
	// output column i (columns.go, usedColumnsOutside); an unread one is
	// emitted as NULLs (unreadColumn) instead of gathered per row pair.
	// nil: every column is read.
	outRead []bool

	// usersScan is the right input when it is a scan of the events
	// table keyed by its distinct_id (usersScanOf): a left input read
	// whole restricts it to the left users' rows.
	usersScan *scanOp
	// leftUsersScan is the left input of an inner or semi join when it
	// is such a scan: the right input is then read first, and a table
	// keyed by user numbers restricts the left scan to its users (a left
	// row of another user has no candidate).
	leftUsersScan *scanOp
	// leftKeysScan is the left input of an inner or semi join keyed by
	// the events' event column (join_keys_scan.go): the right input is
	// then read first, and a table of a few event names restricts the
	// left scan to their rows.
	leftKeysScan *scanOp
	// users: a semi or anti join answered from the right input folded
	// by user (join_users.go); nil when it does not qualify.
	users *userSummaryPlan
}

func init() {
	register((*plan.JoinNode)(nil), translateJoin)
}

func translateJoin(ctx *sql.Context, tr *Translation, n sql.Node) (Operator, string) {
	j := n.(*plan.JoinNode)
	kind, ok := joinKindOf(j.Op)
	if !ok {
		return nil, j.Op.String()
	}
	if j.ScopeLen != 0 {
		return nil, j.Op.String() + " in a subquery's scope"
	}
	right := j.Right()
	for unwrapped := false; !unwrapped; {
		switch r := right.(type) {
		case *plan.HashLookup:
			right = r.Child
		case *plan.CachedResults:
			right = r.Child
		case *plan.RangeHeap:
			if !j.Op.IsRange() {
				return nil, "RangeHeap under " + j.Op.String()
			}
			right = r.Child
			// The heap's input is sorted by the range's lower bound for the
			// heap alone: within a left row go-mysql-server emits the right
			// rows in heap order, which no order of the input reproduces,
			// so the sort is dropped.
			if s, ok := right.(*plan.Sort); ok {
				right = s.Child
			}
		default:
			unwrapped = true
		}
	}
	if j.Op.IsRange() && right == j.Right() {
		return nil, j.Op.String() + " without a RangeHeap"
	}
	lsch, rsch := j.Left().Schema(ctx), right.Schema(ctx)
	nl, nr := len(lsch), len(rsch)
	both := append(append(sql.Schema{}, lsch...), rsch...)

	cond := j.Filter
	if kind == joinCross {
		if cond != nil && !joinIsTrue(cond) {
			return nil, "CrossJoin with a condition"
		}
		cond = nil
	} else {
		if cond == nil {
			return nil, j.Op.String() + " without a condition"
		}
		if joinIsTrue(cond) {
			cond = nil
		} else {
			if joinHasSubquery(ctx, cond) {
				return nil, "join condition with a subquery"
			}
			if !ownColumns(ctx, cond, both) {
				return nil, "join condition on columns outside the join (nested on another join's right side)"
			}
		}
	}
	detached, reason := detachRight(ctx, right, nl)
	if detached == nil {
		return nil, reason
	}

	op := &joinOp{kind: kind, gmsOp: j.Op, sch: j.Schema(ctx), nl: nl, nr: nr}
	if cond != nil {
		op.condText = cond.String()
		if reason := op.planCondition(ctx, cond, lsch, rsch, both); reason != "" {
			return nil, reason
		}
	}
	op.left = tr.child(ctx, j.Left())
	op.right = tr.child(ctx, detached)
	if sc, ok := op.right.(*scanOp); ok && op.rightFilter != nil {
		// The right filter runs in the scan's workers, in parallel, on
		// each batch as it is read.
		f := op.rightFilter
		op.right = sc.withStage(stage{describe: "Filter " + f.String(), run: func(ctx *sql.Context, b *Batch) (*Batch, error) {
			return joinFilterRight(ctx, f, b)
		}}, sc.out)
		op.rightFilter = nil
	}
	op.outRead = joinOutputRead(ctx, tr, j, op.sch)
	op.usersScan = usersScanOf(op)
	op.users = userSummaryPlanOf(op)
	if op.usersScan == nil && (kind == joinInner || kind == joinSemi) && len(op.keys) == 1 && !readsRows(op.right) {
		op.leftUsersScan = keyedEventsScan(op.left, op.keys[0].left, op.keys[0].class)
	}
	if op.usersScan == nil && op.leftUsersScan == nil && leftKeysScanOn {
		op.leftKeysScan = keysScanOf(op)
	}
	return op, ""
}

// joinOutputRead is which columns of the join j's output sch something
// above it in the statement reads, nil when all are (or it is not
// known): a self join counting pairs (COUNT(*), COUNT(DISTINCT
// a.distinct_id)) reads one of its six columns, and gathering the
// others for millions of pairs was most of its time.
func joinOutputRead(ctx *sql.Context, tr *Translation, j *plan.JoinNode, sch sql.Schema) []bool {
	if tr.root == nil {
		return nil
	}
	used := usedColumnsOutside(ctx, tr.root, j)
	read := make([]bool, len(sch))
	all := true
	for i, c := range sch {
		read[i] = used[strings.ToLower(c.Source+"."+c.Name)]
		all = all && read[i]
	}
	if all {
		return nil
	}
	return read
}

// usersScanOf is op's right input when the join can read only the left
// users' rows of it: a scan of the events table whose rows reach the
// join as read (filters only: no projection changed its schema), whose
// single key is its distinct_id column under a byte-wise collation
// (equal user numbers are equal strings), in a join where a right row
// with an unequal key can never count (not NOT IN, whose NULL keys do).
func usersScanOf(op *joinOp) *scanOp {
	if len(op.keys) != 1 || op.kind.nullsMatter() {
		return nil
	}
	return keyedEventsScan(op.right, op.keys[0].right, op.keys[0].class)
}

// readsRows reports whether op reads some go-mysql-server node's rows
// (a rowSource, such as the engine's aggregates): their strings carry
// no user numbers, so a table built over them cannot restrict a scan,
// and reading that right input first would only delay the left one.
func readsRows(op Operator) bool {
	if _, ok := op.(*rowSource); ok {
		return true
	}
	for _, c := range op.Children() {
		if readsRows(c) {
			return true
		}
	}
	return false
}

// keyedEventsScan is in when it is a scan of the events table whose rows
// come as read (filters only: no projection changed its schema) and key
// (of class cl) is its distinct_id column under a byte-wise collation
// (equal user numbers are equal strings); nil otherwise.
func keyedEventsScan(in Operator, key Expr, cl keyClass) *scanOp {
	if cl != keyStr {
		return nil
	}
	sc, ok := in.(*scanOp)
	if !ok || len(sc.out) != len(sc.sch) || len(sc.out) == 0 || &sc.out[0] != &sc.sch[0] {
		return nil
	}
	f, ok := key.(*fieldExpr)
	if !ok || f.idx >= len(sc.sch) || !sc.read[f.idx] || !strings.EqualFold(sc.sch[f.idx].Name, storage.ColDistinctID) {
		return nil
	}
	return sc
}

func joinIsTrue(e sql.Expression) bool {
	l, ok := e.(*expression.Literal)
	return ok && l.Value() == true
}

func joinHasSubquery(ctx *sql.Context, e sql.Expression) bool {
	return transform.InspectExpr(ctx, e, func(_ *sql.Context, e sql.Expression) bool {
		_, ok := e.(*plan.Subquery)
		return ok
	})
}

// ownColumns reports whether every column e references is the column of
// sch at its position, by name and table. A condition indexed past an
// outer-left prefix it was not given fails this (its positions name
// other columns, or fall outside sch).
func ownColumns(ctx *sql.Context, e sql.Expression, sch sql.Schema) bool {
	return !transform.InspectExpr(ctx, e, func(_ *sql.Context, e sql.Expression) bool {
		gf, ok := e.(*expression.GetField)
		if !ok {
			return false
		}
		i := gf.Index()
		if i < 0 || i >= len(sch) || !strings.EqualFold(sch[i].Name, gf.Name()) {
			return true
		}
		return gf.Table() != "" && sch[i].Source != "" && !strings.EqualFold(sch[i].Source, gf.Table())
	})
}

// joinFieldRange is the smallest and largest column position e references
// (lo > hi: none).
func joinFieldRange(ctx *sql.Context, e sql.Expression) (lo, hi int) {
	lo, hi = 1<<30, -1
	transform.InspectExpr(ctx, e, func(_ *sql.Context, e sql.Expression) bool {
		if gf, ok := e.(*expression.GetField); ok {
			lo, hi = min(lo, gf.Index()), max(hi, gf.Index())
		}
		return false
	})
	return lo, hi
}

func joinDeterministic(ctx *sql.Context, e sql.Expression) bool {
	return !transform.InspectExpr(ctx, e, func(_ *sql.Context, e sql.Expression) bool {
		nd, ok := e.(sql.NonDeterministicExpression)
		return ok && nd.IsNonDeterministic()
	})
}

// shiftFields is e with every column position moved by -by.
func shiftFields(ctx *sql.Context, e sql.Expression, by int) (sql.Expression, error) {
	if by == 0 {
		return e, nil
	}
	out, _, err := transform.Expr(ctx, e, func(_ *sql.Context, e sql.Expression) (sql.Expression, transform.TreeIdentity, error) {
		if gf, ok := e.(*expression.GetField); ok {
			return gf.WithIndex(gf.Index() - by), transform.NewTree, nil
		}
		return e, transform.SameTree, nil
	})
	return out, err
}

// planCondition splits cond into hashed keys, side filters and a
// residual, and compiles them.
//
// Where a NULL condition counts as FALSE (every kind but NOT IN's), a
// conjunct over left columns only is a filter on the left row: a row
// failing it has no TRUE pair, so it gets no candidates. One over right
// columns only filters the right input before the table is built. The
// rest is the residual, with its subexpressions over one side only
// (s.t0 + INTERVAL 7 DAY) computed once per row of that side rather than
// once per pair (hoists).
func (op *joinOp) planCondition(ctx *sql.Context, cond sql.Expression, lsch, rsch, both sql.Schema) string {
	var lonly, ronly, mixed []sql.Expression
	for _, c := range expression.SplitConjunction(ctx, cond) {
		k, ok, err := op.hashKey(ctx, c, lsch, rsch)
		if err != nil {
			return err.Error()
		}
		if ok {
			if eq := op.sameRightKey(ctx, k); eq != nil {
				lonly = append(lonly, eq)
				continue
			}
			op.keys = append(op.keys, k)
			continue
		}
		lo, hi := joinFieldRange(ctx, c)
		switch {
		case op.kind.nullsMatter() || lo > hi || !joinDeterministic(ctx, c):
			mixed = append(mixed, c)
		case hi < op.nl:
			lonly = append(lonly, c)
		case lo >= op.nl:
			ronly = append(ronly, c)
		default:
			mixed = append(mixed, c)
		}
	}
	// A side filter runs on rows go-mysql-server may never pair (every
	// right row, where its hash join sees only a key's rows): one that
	// can fail or warn stays in the residual, evaluated on pairs only.
	var err error
	if op.leftFilter, lonly, err = compileSideFilter(ctx, lonly, lsch, 0); err != nil {
		return err.Error()
	}
	if op.rightFilter, ronly, err = compileSideFilter(ctx, ronly, rsch, op.nl); err != nil {
		return err.Error()
	}
	mixed = append(mixed, lonly...)
	mixed = append(mixed, ronly...)
	if len(mixed) > 0 {
		if err := op.compileResidual(ctx, expression.JoinAnd(mixed...), lsch, rsch, both); err != nil {
			return err.Error()
		}
	}
	if len(op.keys) > 0 {
		// Wild pairs (join_keys.go) are decided by the whole condition.
		if op.full, op.fullRefs, err = compileNarrow(ctx, cond, both); err != nil {
			return err.Error()
		}
	}
	return ""
}

// sameRightKey is, for a key k whose right side is already an earlier
// key's (s.id = v.id AND s.id = e.id), the equality of the two left
// sides (v.id = e.id), a conjunct over the left row that replaces k:
// under a byte-wise collation (keyStr) of one string type, equality is
// an equivalence, so s = v AND s = e holds exactly when s = v AND
// v = e does, and either is NULL exactly when some operand is. The join
// then has one key (a table keyed by user numbers, not by a composite
// of strings). Nil when k does not qualify, or where a NULL condition
// differs from FALSE (a side filter needs the NULL and FALSE alike).
func (op *joinOp) sameRightKey(ctx *sql.Context, k joinKey) sql.Expression {
	if k.class != keyStr || op.kind.nullsMatter() || k.lsrc == nil {
		return nil
	}
	for _, k0 := range op.keys {
		if k0.class != keyStr || k0.rsrc == nil || k0.rsrc.String() != k.rsrc.String() {
			continue
		}
		lt, rt, t0 := k.lsrc.Type(ctx), k.rsrc.Type(ctx), k0.lsrc.Type(ctx)
		if !types.TypesEqual(lt, rt) || !types.TypesEqual(t0, rt) {
			continue
		}
		return expression.NewEquals(k0.lsrc, k.lsrc)
	}
	return nil
}

// compileSideFilter compiles the conjuncts cs over one side's columns
// (positions moved down by shift) into one filter, nil if none; the
// conjuncts that may fail or warn are returned instead, for the
// residual.
func compileSideFilter(ctx *sql.Context, cs []sql.Expression, sch sql.Schema, shift int) (Expr, []sql.Expression, error) {
	var keep, rest []sql.Expression
	for _, c := range cs {
		e, err := shiftFields(ctx, c, shift)
		if err != nil {
			return nil, nil, err
		}
		x, err := (&Compiler{In: sch}).Compile(ctx, e)
		if err != nil {
			return nil, nil, err
		}
		if mayFail(x) {
			rest = append(rest, c)
		} else {
			keep = append(keep, e)
		}
	}
	if len(keep) == 0 {
		return nil, rest, nil
	}
	x, err := (&Compiler{In: sch}).Compile(ctx, expression.JoinAnd(keep...))
	return x, rest, err
}

// joinHoist is a residual subexpression over one side's columns only,
// computed per row of that side: virtual pair column nl+nr+i.
type joinHoist struct {
	x    Expr // over the left input's or the right input's rows
	left bool
}

// compileResidual compiles e as op.residual, with its maximal
// deterministic one-side subexpressions (other than plain columns and
// constants) that can neither fail nor warn moved into op.hoists and
// read back as virtual columns.
func (op *joinOp) compileResidual(ctx *sql.Context, e sql.Expression, lsch, rsch, both sql.Schema) error {
	nl, nr := op.nl, op.nr
	sch := append(sql.Schema{}, both...)
	var fail error
	var hoist func(e sql.Expression) sql.Expression
	hoist = func(e sql.Expression) sql.Expression {
		if fail != nil {
			return e
		}
		if _, ok := e.(*expression.GetField); ok {
			return e
		}
		lo, hi := joinFieldRange(ctx, e)
		if lo <= hi && (hi < nl || lo >= nl) && joinDeterministic(ctx, e) && !joinHasSubquery(ctx, e) {
			left := hi < nl
			in, src := lsch, e
			if !left {
				in = rsch
				if src, fail = shiftFields(ctx, e, nl); fail != nil {
					return e
				}
			}
			x, err := (&Compiler{In: in}).Compile(ctx, src)
			if err != nil {
				fail = err
				return e
			}
			if !mayFail(x) {
				i := nl + nr + len(op.hoists)
				op.hoists = append(op.hoists, joinHoist{x: x, left: left})
				sch = append(sch, &sql.Column{Name: e.String(), Type: x.Type(), Nullable: true})
				return expression.NewGetField(i, x.Type(), e.String(), true)
			}
			// One that may fail or warn is evaluated on the pairs
			// go-mysql-server evaluates it on, not on every row of its
			// side; parts of it may still be hoisted.
		}
		children := e.Children()
		if len(children) == 0 {
			return e
		}
		next := make([]sql.Expression, len(children))
		for i, c := range children {
			next[i] = hoist(c)
		}
		out, err := e.WithChildren(ctx, next...)
		if err != nil {
			fail = err
			return e
		}
		return out
	}
	if joinHasSubquery(ctx, e) {
		return fmt.Errorf("join condition with a subquery")
	}
	he := hoist(e)
	if fail != nil {
		return fail
	}
	var err error
	op.residual, op.residualRefs, err = compileNarrow(ctx, he, sch)
	if err == nil {
		op.bounds, op.boundsExact = op.joinBoundsOf(ctx, he, sch)
	}
	return err
}

// hashKey is c as a hashed key when it is an equality of a left-only
// and a right-only deterministic expression whose types hash (see
// join_keys.go).
func (op *joinOp) hashKey(ctx *sql.Context, c sql.Expression, lsch, rsch sql.Schema) (joinKey, bool, error) {
	eq, ok := c.(*expression.Equals)
	if !ok || !joinDeterministic(ctx, eq) {
		return joinKey{}, false, nil
	}
	l, r := eq.Left(), eq.Right()
	side := func(e sql.Expression) int { // 1 left, 2 right, 0 neither or both
		lo, hi := joinFieldRange(ctx, e)
		switch {
		case lo > hi:
			return 0
		case hi < op.nl:
			return 1
		case lo >= op.nl:
			return 2
		}
		return 0
	}
	ls, rs := side(l), side(r)
	switch {
	case ls == 1 && rs == 2:
	case ls == 2 && rs == 1:
		l, r = r, l
	default:
		return joinKey{}, false, nil
	}
	class, coll, ok := keyClassOf(ctx, eq, l, r)
	if !ok {
		return joinKey{}, false, nil
	}
	lx, err := (&Compiler{In: lsch}).Compile(ctx, l)
	if err != nil {
		return joinKey{}, false, err
	}
	rs0, err := shiftFields(ctx, r, op.nl)
	if err != nil {
		return joinKey{}, false, err
	}
	rx, err := (&Compiler{In: rsch}).Compile(ctx, rs0)
	if err != nil {
		return joinKey{}, false, err
	}
	return joinKey{left: lx, right: rx, class: class, coll: coll, text: c.String(), lsrc: l, rsrc: r}, true, nil
}

// compileNarrow compiles e over only the columns of sch it references:
// refs lists their positions in sch, and the compiled expression reads
// column i of its batch for refs[i]. A pair batch then gathers just
// those columns.
func compileNarrow(ctx *sql.Context, e sql.Expression, sch sql.Schema) (Expr, []int, error) {
	var refs []int
	transform.InspectExpr(ctx, e, func(_ *sql.Context, e sql.Expression) bool {
		if gf, ok := e.(*expression.GetField); ok && !slices.Contains(refs, gf.Index()) {
			refs = append(refs, gf.Index())
		}
		return false
	})
	slices.Sort(refs)
	narrow, _, err := transform.Expr(ctx, e, func(_ *sql.Context, e sql.Expression) (sql.Expression, transform.TreeIdentity, error) {
		if gf, ok := e.(*expression.GetField); ok {
			i, _ := slices.BinarySearch(refs, gf.Index())
			return gf.WithIndex(i), transform.NewTree, nil
		}
		return e, transform.SameTree, nil
	})
	if err != nil {
		return nil, nil, err
	}
	in := make(sql.Schema, len(refs))
	for i, r := range refs {
		in[i] = sch[r]
	}
	x, err := (&Compiler{In: in}).Compile(ctx, narrow)
	return x, refs, err
}

// detachRight is the right subtree n of a join whose left input is nl
// columns wide, with every column position that sees that left input
// (see the file comment) moved down by nl; nil and why when some
// position reads the left input itself, or a node reads the left row in
// a way not rewritten here.
func detachRight(ctx *sql.Context, n sql.Node, nl int) (sql.Node, string) {
	var fail string
	shift := func(e sql.Expression) sql.Expression {
		if fail != "" || nl == 0 {
			return e
		}
		if lo, hi := joinFieldRange(ctx, e); lo <= hi && lo < nl {
			fail = "right input depends on the left row"
			return e
		}
		if joinHasSubquery(ctx, e) {
			fail = "right input with a subquery in a join condition"
			return e
		}
		out, err := shiftFields(ctx, e, nl)
		if err != nil {
			fail = err.Error()
			return e
		}
		return out
	}
	var walk func(n sql.Node) sql.Node
	walk = func(n sql.Node) sql.Node {
		if fail != "" {
			return n
		}
		switch x := n.(type) {
		case *plan.CachedResults:
			// Only a cache of its child's rows, which the join reads once.
			return walk(x.Child)
		case *plan.SubqueryAlias:
			if x.OuterScopeVisibility || x.IsLateral {
				fail = "right input is a subquery that sees the left row"
			}
			return n // its inside sees nothing of the join
		case *plan.JoinNode:
			if x.Op.IsLateral() {
				fail = "lateral join in the right input"
				return n
			}
			if x.Filter != nil && !x.Op.IsDegenerate() {
				n = x.WithFilter(shift(x.Filter))
			}
		case *plan.HashLookup:
			nn, err := x.WithExpressions(ctx, x.RightEntryKey, shift(x.LeftProbeKey))
			if err != nil {
				fail = err.Error()
				return n
			}
			n = nn
		case *plan.IndexedTableAccess:
			if x.Typ != plan.ItaTypeStatic {
				fail = "index lookup on the left row"
			}
			return n
		case *plan.RangeHeap, *plan.JSONTable:
			fail = nodeName(n) + " in the right input"
			return n
		}
		children := n.Children()
		if len(children) == 0 {
			return n
		}
		next := make([]sql.Node, len(children))
		changed := false
		for i, c := range children {
			next[i] = walk(c)
			changed = changed || next[i] != c
		}
		if !changed || fail != "" {
			return n
		}
		nn, err := n.WithChildren(ctx, next...)
		if err != nil {
			fail = err.Error()
			return n
		}
		return nn
	}
	out := walk(n)
	if fail != "" {
		return nil, fail
	}
	return out, ""
}

func (op *joinOp) Schema() sql.Schema   { return op.sch }
func (op *joinOp) Children() []Operator { return []Operator{op.left, op.right} }

func (op *joinOp) Describe() string {
	var b strings.Builder
	b.WriteString(Marker)
	if len(op.keys) > 0 {
		b.WriteString("HashJoin ")
	} else {
		b.WriteString("NestedLoopJoin ")
	}
	b.WriteString(op.kind.String())
	fmt.Fprintf(&b, " (%s)", op.gmsOp)
	if len(op.keys) > 0 {
		parts := make([]string, len(op.keys))
		for i, k := range op.keys {
			parts[i] = k.text
		}
		b.WriteString(" on " + strings.Join(parts, " AND "))
		if op.residual != nil {
			b.WriteString(" residual " + op.residual.String())
		}
	} else if op.residual != nil {
		b.WriteString(" on " + op.residual.String())
	}
	if op.leftFilter != nil {
		b.WriteString(" left filter " + op.leftFilter.String())
	}
	if op.rightFilter != nil {
		b.WriteString(" right filter " + op.rightFilter.String())
	}
	if op.usersScan != nil {
		b.WriteString(" (right scan: left users only)")
	}
	if op.users != nil && joinUserSummaryOn {
		b.WriteString(op.users.describe(op))
	}
	if op.leftUsersScan != nil {
		b.WriteString(" (left scan: right users only)")
	}
	if op.leftKeysScan != nil {
		b.WriteString(" (left scan: right keys only)")
	}
	return b.String()
}

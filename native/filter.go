package native

import (
	"sync"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/expression"
	"github.com/dolthub/go-mysql-server/sql/plan"
)

// filterOp keeps the rows for which cond is TRUE (not FALSE, not NULL).
//
// A conjunct of cond that reads one string column alone (event =
// 'Purchase', event IN (…), plan IS NULL) is decided per dictionary
// code on batches whose column carries codes (Column.Codes): evaluated
// once for each distinct string of a dictionary (and for NULL), then
// looked up by code; the other conjuncts (rest) run on the rows that
// pass. That is cond's answer exactly when every conjunct depends on
// its row's values alone and none can fail or warn (a row dropped by one
// conjunct is never evaluated by the others): newFilter plans it only
// then. Batches without codes evaluate cond whole.
type filterOp struct {
	child Operator
	cond  Expr
	name  string // Filter or Having

	coded []*codedConjunct // nil: cond whole on every batch
	rest  Expr             // the other conjuncts, nil for none
	flow  *stageFlow       // how it reads its input (see stageFlow)

	ranges *timeRanges // time-range conjuncts decided per batch (filter_time.go), or nil
}

// codedConjunct is a conjunct that reads input column col alone.
type codedConjunct struct {
	col int
	x   Expr
	sch sql.Schema // the filter's input

	mu       sync.Mutex
	verdicts map[*string]*dictVerdicts // by the dictionary's first string (see sameDict)
}

// dictVerdicts is a conjunct's answer for the strings of one dictionary.
// INVARIANT: v[code] is verdictTrue or verdictNot once decided (the
// conjunct on dict[code]), verdictUnknown before; null likewise for NULL.
// INVARIANT: undecided is the number of codes whose v is verdictUnknown
// or verdictPending (0: every code decided, so a batch without NULLs has
// nothing to ask).
type dictVerdicts struct {
	mu        sync.Mutex
	dict      []string
	v         []uint8
	null      uint8
	undecided int
}

// verdictPasses is 1 for verdictTrue, 0 for the other verdicts: the
// selection loops add it instead of branching on every row's verdict.
var verdictPasses = [4]int{verdictTrue: 1}

const (
	verdictUnknown uint8 = iota
	verdictTrue
	verdictNot
	verdictPending // asked for in this batch
)

// codedFilterMax bounds the dictionaries a coded conjunct keeps verdicts
// for (a byte a string); larger ones evaluate cond whole.
const codedFilterMax = dictGroupsMax

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
	f.planCoded(ctx, cond, in.Schema())
	f.planRanges(ctx, cond, in.Schema())
	if sc, ok := in.(*scanOp); ok {
		return sc.withStage(stage{describe: f.name + " " + x.String(), run: f.filterBatch, flow: f.flow}, sc.out), ""
	}
	limitWindowRows(in, cond) // rn = 1 over a ROW_NUMBER window: see window_topk.go
	return f, ""
}

// planCoded splits cond into conjuncts decided by dictionary code and
// the rest (see filterOp), or leaves f.coded nil.
func (f *filterOp) planCoded(ctx *sql.Context, cond sql.Expression, sch sql.Schema) {
	f.flow = &stageFlow{from: make([]int, len(sch)), reads: make([]bool, len(sch))}
	for i := range f.flow.from {
		f.flow.from[i] = i
	}
	markReads(ctx, cond, f.flow.reads)
	comp := &Compiler{In: sch}
	var coded []*codedConjunct
	var rest []sql.Expression
	for _, e := range expression.SplitConjunction(ctx, cond) {
		if col, ok := oneStringColumn(ctx, e, sch); ok {
			if x, err := comp.Compile(ctx, e); err == nil && !mayFail(x) {
				coded = append(coded, &codedConjunct{col: col, x: x, sch: sch, verdicts: map[*string]*dictVerdicts{}})
				continue
			}
		}
		rest = append(rest, e)
	}
	if len(coded) == 0 {
		return
	}
	var restX Expr
	if len(rest) > 0 {
		var err error
		if restX, err = comp.Compile(ctx, expression.JoinAnd(rest...)); err != nil || mayFail(restX) {
			return
		}
	}
	f.coded, f.rest = coded, restX
	// The coded conjuncts' columns are read by code (and, on batches
	// without codes, by their strings, which those batches have).
	clear(f.flow.reads)
	for _, e := range rest {
		markReads(ctx, e, f.flow.reads)
	}
	f.flow.byCode = make([]bool, len(sch))
	for _, cc := range coded {
		f.flow.byCode[cc.col] = true
	}
}

// markReads sets reads[i] for every input column e references.
func markReads(ctx *sql.Context, e sql.Expression, reads []bool) {
	sql.Inspect(ctx, e, func(ctx *sql.Context, x sql.Expression) bool {
		if gf, ok := x.(*expression.GetField); ok && gf.Index() >= 0 && gf.Index() < len(reads) {
			reads[gf.Index()] = true
		}
		return true
	})
}

// withStrings is b with its columns that carry codes alone (S nil: see
// Column) given their strings, for code that reads S.
func withStrings(b *Batch) *Batch {
	var out *Batch
	for i, c := range b.Cols {
		if c.Kind != KindString || c.S != nil || c.Codes == nil {
			continue
		}
		if out == nil {
			out = &Batch{N: b.N, Cols: append([]*Column(nil), b.Cols...)}
		}
		full := *c
		full.S = make([]string, len(c.Codes))
		for r := range full.S {
			if !c.IsNull(r) {
				full.S[r] = c.Dict[c.Codes[r]]
			}
		}
		out.Cols[i] = &full
	}
	if out == nil {
		return b
	}
	return out
}

// oneStringColumn is the input column that e reads, when it reads one
// column alone, of a string type, and gives the same answer for the
// same value on any row: no subquery, nothing non-deterministic.
func oneStringColumn(ctx *sql.Context, e sql.Expression, sch sql.Schema) (int, bool) {
	col, ok := -1, true
	sql.Inspect(ctx, e, func(ctx *sql.Context, x sql.Expression) bool {
		switch x := x.(type) {
		case *expression.GetField:
			if i := x.Index(); i < 0 || i >= len(sch) || (col >= 0 && col != i) {
				ok = false
			} else {
				col = i
			}
		case *plan.Subquery, *expression.UserVar, *expression.SetField:
			ok = false
		case sql.NonDeterministicExpression:
			if x.IsNonDeterministic() {
				ok = false
			}
		}
		return ok
	})
	if !ok || col < 0 || KindOf(sch[col].Type) != KindString {
		return 0, false
	}
	return col, true
}

// codedRows is the rows of b that pass the coded conjuncts, when every
// coded conjunct's column has codes of a dictionary small enough (ok).
func (f *filterOp) codedRows(ctx *sql.Context, b *Batch) (sel []int32, ok bool, err error) {
	for _, cc := range f.coded {
		if codes, dict := b.Cols[cc.col].dictCodes(); codes == nil || len(dict) > codedFilterMax {
			return nil, false, nil
		}
	}
	for i, cc := range f.coded {
		if sel, err = cc.pass(ctx, b.Cols[cc.col], sel, i == 0); err != nil {
			return nil, false, err
		}
	}
	return sel, true, nil
}

// pass narrows sel (every row of c when all) to the rows whose value
// the conjunct holds TRUE for.
func (cc *codedConjunct) pass(ctx *sql.Context, c *Column, sel []int32, all bool) ([]int32, error) {
	dv := cc.dictVerdicts(c.Dict)
	dv.mu.Lock()
	defer dv.mu.Unlock()
	n := len(c.Codes)
	codes, nulls, v := c.Codes[:n], c.Nulls, dv.v
	if nulls != nil {
		nulls = nulls[:n]
	}
	// Decide the codes (and NULL) this batch meets for the first time.
	var pending []uint32
	nullPending := false
	ask := func(r int32) {
		if nulls != nil && nulls[r] {
			if dv.null == verdictUnknown {
				dv.null, nullPending = verdictPending, true
			}
			return
		}
		if code := codes[r]; v[code] == verdictUnknown {
			v[code] = verdictPending
			pending = append(pending, code)
		}
	}
	switch {
	case all && nulls == nil && dv.undecided == 0:
		// Every code decided: nothing to ask.
	case all:
		for r, code := range codes {
			// (A NULL row's code need not index the dictionary.)
			if nulls != nil && nulls[r] || v[code] == verdictUnknown {
				ask(int32(r))
			}
		}
	default:
		for _, r := range sel {
			ask(r)
		}
	}
	if len(pending) > 0 || nullPending {
		if err := cc.decide(ctx, dv, pending, nullPending); err != nil {
			// Leave nothing pending: the statement fails anyway, but
			// the verdicts stay true to their invariant.
			for _, code := range pending {
				v[code] = verdictUnknown
			}
			if nullPending {
				dv.null = verdictUnknown
			}
			return nil, err
		}
	}
	nullPass := dv.null == verdictTrue
	if all {
		if nulls == nil {
			// Branch-free: every row is written, the next slot taken
			// only by a row that passes.
			sel = make([]int32, n)
			k := 0
			for r, code := range codes {
				sel[k] = int32(r)
				k += verdictPasses[v[code]&3]
			}
			return sel[:k], nil
		}
		sel = make([]int32, 0, n)
		for r, code := range codes {
			if nulls[r] && nullPass || !nulls[r] && v[code] == verdictTrue {
				sel = append(sel, int32(r))
			}
		}
		return sel, nil
	}
	kept := sel[:0]
	for _, r := range sel {
		if nulls != nil && nulls[r] {
			if nullPass {
				kept = append(kept, r)
			}
		} else if v[codes[r]] == verdictTrue {
			kept = append(kept, r)
		}
	}
	return kept, nil
}

// dictVerdicts is the conjunct's verdicts for dict, made on first use.
func (cc *codedConjunct) dictVerdicts(dict []string) *dictVerdicts {
	var key *string
	if len(dict) > 0 {
		key = &dict[0]
	}
	cc.mu.Lock()
	defer cc.mu.Unlock()
	dv := cc.verdicts[key]
	if dv == nil || !sameDict(dv.dict, dict) {
		dv = &dictVerdicts{dict: dict, v: make([]uint8, len(dict)), undecided: len(dict)}
		cc.verdicts[key] = dv
	}
	return dv
}

// decide evaluates the conjunct on the strings of codes (and on NULL
// when null), as a batch whose other columns no one reads.
func (cc *codedConjunct) decide(ctx *sql.Context, dv *dictVerdicts, codes []uint32, null bool) error {
	n := len(codes)
	if null {
		n++
	}
	vals := &Column{Kind: KindString, Type: cc.sch[cc.col].Type, S: make([]string, n)}
	for i, code := range codes {
		vals.S[i] = dv.dict[code]
	}
	if null {
		vals.Nulls = make([]bool, n)
		vals.Nulls[n-1] = true
	}
	out, err := evalOverColumn(ctx, cc.x, cc.sch, cc.col, vals)
	if err != nil {
		return err
	}
	yes, err := TrueRows(ctx, out, nil)
	if err != nil {
		return err
	}
	for _, code := range codes {
		dv.v[code] = verdictNot
	}
	dv.undecided -= len(codes)
	if null {
		dv.null = verdictNot
	}
	for _, i := range yes {
		if int(i) < len(codes) {
			dv.v[codes[i]] = verdictTrue
		} else {
			dv.null = verdictTrue
		}
	}
	return nil
}

// filterBatch is b's rows where the condition is TRUE (nil: none).
func (f *filterOp) filterBatch(ctx *sql.Context, b *Batch) (*Batch, error) {
	if f.ranges != nil {
		if out, ok, err := f.ranges.filter(ctx, b); ok || err != nil {
			return out, err
		}
	}
	if f.coded != nil {
		sel, ok, err := f.codedRows(ctx, b)
		if err != nil {
			return nil, err
		}
		if ok {
			return f.restRows(ctx, b, sel)
		}
	}
	// The whole condition reads strings: a column that came as codes
	// alone gets them (a coded conjunct's column without codes here,
	// whose neighbour has codes alone).
	b = withStrings(b)
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

// restRows is b's rows among sel (those the coded conjuncts pass) where
// the rest of the condition is TRUE.
func (f *filterOp) restRows(ctx *sql.Context, b *Batch, sel []int32) (*Batch, error) {
	if len(sel) == 0 {
		return nil, nil
	}
	sub := b
	if len(sel) < b.N {
		sub = b.Gather(sel)
	}
	if f.rest == nil {
		return sub, nil
	}
	c, err := f.rest.Eval(ctx, sub)
	if err != nil {
		return nil, err
	}
	keep, err := TrueRows(ctx, c, make([]int32, 0, sub.N))
	switch {
	case err != nil:
		return nil, err
	case len(keep) == sub.N:
		return sub, nil
	case len(keep) == 0:
		return nil, nil
	}
	if sub != b {
		for i, k := range keep {
			keep[i] = sel[k]
		}
	}
	return b.Gather(keep), nil
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

package native

// This file owns the window functions the window operator (window.go)
// computes, each as go-mysql-server's aggregation package computes it
// over the same rows and frames (window_functions.go there), quirks
// included because results must match:
//   - ROW_NUMBER is the position in the partition (go-mysql-server gives
//     a Go int; here an int64 of the column's BIGINT type);
//   - RANK, DENSE_RANK, PERCENT_RANK and NTILE are go-mysql-server's own
//     function objects, fed the partitions and peer groups cut here
//     (their Compute reads no rows, only the intervals);
//   - SUM and AVG add the values converted to DOUBLE in a prefix sum per
//     partition and subtract: a DOUBLE always, 0 (not NULL) for SUM over
//     only NULLs, NULL for SUM over an empty frame, NaN for AVG over no
//     non-NULL value; but SUM and AVG of an integer or DECIMAL argument
//     (ExactSummer, planner.ExactSum) are exact DECIMALs, NULL over a
//     frame without a non-NULL value, as MySQL 8 and as the planner's own
//     window function gives them (window_exact_sum.go);
//   - COUNT counts non-NULL values (every row for COUNT(*)) by prefix sum;
//   - MIN and MAX keep the first least or greatest value of the frame by
//     the argument type's Compare; FIRST_VALUE and LAST_VALUE take the
//     frame's first and last row;
//   - LAG and LEAD take the row offset rows before or after in the
//     partition, else the default evaluated on the current row, else
//     NULL.

import (
	"reflect"
	"slices"
	"strings"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/expression"
	"github.com/dolthub/go-mysql-server/sql/expression/function/aggregation"
	"github.com/dolthub/go-mysql-server/sql/expression/function/aggregation/window"
	"github.com/dolthub/go-mysql-server/sql/types"
)

// fnKind is a window function this file computes.
type fnKind uint8

const (
	fnRowNumber fnKind = iota
	fnRankLike         // RANK, DENSE_RANK, PERCENT_RANK: go-mysql-server's object over peer groups
	fnNTile            // go-mysql-server's object over partitions
	fnLag              // LAG and LEAD (offset negative)
	fnSum
	fnAvg
	fnCount
	fnMax
	fnMin
	fnFirst
	fnLast
)

// windowFunc is one function of a block.
type windowFunc struct {
	kind   fnKind
	name   string // for EXPLAIN
	arg    Expr   // the argument; nil for COUNT(*) and the ranking functions
	argKey sortKey
	def    Expr // LAG/LEAD's default, or nil
	offset int  // LAG: rows back; LEAD: negative
	frame  frameKind
	framer sql.WindowFramer // frameRows: go-mysql-server's template
	// first is the first ORDER BY key (frameRangeToPeers).
	first *sortKey
	// newGMS makes a fresh go-mysql-server function (fnRankLike, fnNTile),
	// one per run: its state carries from partition to partition.
	newGMS func(ctx *sql.Context) (sql.WindowFunction, error)
	// exact is the DECIMAL result type of an exact SUM or AVG
	// (ExactSummer), nil for go-mysql-server's float64 ones.
	exact sql.DecimalType
}

// windowFuncKind is the kind of e, or why it is not computed here.
func windowFuncKind(ctx *sql.Context, e sql.WindowAdaptableExpression) (fnKind, string) {
	var kind fnKind
	var want sql.WindowFunction // the function go-mysql-server must make of e, nil: not checked
	switch x := e.(type) {
	case ExactSummer: // window_exact_sum.go: its own function, go-mysql-server's framer
		kind = fnSum
		if _, avg, _ := x.ExactSumArg(); avg {
			kind = fnAvg
		}
	case *window.RowNumber:
		kind, want = fnRowNumber, (*aggregation.RowNumber)(nil)
	case *window.Rank, *window.DenseRank, *window.PercentRank:
		kind = fnRankLike
	case *window.NTile:
		kind, want = fnNTile, (*aggregation.NTile)(nil)
	case *window.Lag, *window.Lead:
		kind = fnLag
	case *window.FirstValue:
		kind, want = fnFirst, (*aggregation.FirstAgg)(nil)
	case *window.LastValue:
		kind, want = fnLast, (*aggregation.LastAgg)(nil)
	case *aggregation.Sum:
		kind, want = fnSum, (*aggregation.SumAgg)(nil)
	case *aggregation.Avg:
		kind, want = fnAvg, (*aggregation.AvgAgg)(nil)
	case *aggregation.Count:
		kind, want = fnCount, (*aggregation.CountAgg)(nil)
	case *aggregation.Max:
		kind, want = fnMax, (*aggregation.MaxAgg)(nil)
	case *aggregation.Min:
		kind, want = fnMin, (*aggregation.MinAgg)(nil)
	default:
		return 0, "window function " + nodeExprName(e)
	}
	fn, err := e.NewWindowFunction(ctx)
	if err != nil {
		return 0, err.Error()
	}
	if want != nil && reflect.TypeOf(fn) != reflect.TypeOf(want) {
		return 0, "window function " + nodeExprName(e) + " computed by " + reflect.TypeOf(fn).String()
	}
	switch kind {
	case fnSum, fnAvg, fnCount, fnMax, fnMin, fnFirst, fnLast:
		if _, _, reason := frameOf(fn, e.Window()); reason != "" {
			return 0, reason
		}
	}
	return kind, ""
}

func nodeExprName(e sql.Expression) string {
	return reflect.TypeOf(e).String()
}

func newWindowFunc(ctx *sql.Context, c *Compiler, e sql.WindowAdaptableExpression, w *sql.WindowDefinition) (*windowFunc, string) {
	kind, reason := windowFuncKind(ctx, e)
	if reason != "" {
		return nil, reason
	}
	f := &windowFunc{kind: kind, name: e.String()}
	if es, ok := e.(ExactSummer); ok {
		_, _, f.exact = es.ExactSumArg()
	}
	if strings.Contains(f.name, "\n") { // aggregates print as a tree
		args := windowArgs(e)
		parts := make([]string, len(args))
		for i, a := range args {
			parts[i] = a.String()
		}
		fname := reflect.TypeOf(e).Elem().Name()
		if fe, ok := e.(sql.FunctionExpression); ok {
			fname = fe.FunctionName()
		}
		f.name = strings.ToUpper(fname) + "(" + strings.Join(parts, ", ") + ") " + w.String()
	}
	compileArg := func(x sql.Expression) string {
		var err error
		if f.arg, err = c.Compile(ctx, x); err != nil {
			return err.Error()
		}
		f.argKey = newSortKey(f.arg, x.Type(ctx))
		return ""
	}
	switch kind {
	case fnRankLike, fnNTile:
		f.newGMS = e.NewWindowFunction
	case fnLag:
		children := windowArgs(e)
		if reason := compileArg(children[0]); reason != "" {
			return nil, reason
		}
		if len(children) > 1 {
			x, err := c.Compile(ctx, children[1])
			if err != nil {
				return nil, err.Error()
			}
			f.def = x
		}
		// The offset is a literal the function keeps to itself.
		off := reflect.ValueOf(e).Elem().FieldByName("offset")
		if !off.IsValid() || off.Kind() != reflect.Int {
			return nil, "LAG/LEAD without a readable offset"
		}
		f.offset = int(off.Int())
		if _, lead := e.(*window.Lead); lead {
			f.offset = -f.offset
		}
	case fnSum, fnAvg, fnCount, fnMax, fnMin, fnFirst, fnLast:
		child := windowArgs(e)[0]
		if _, star := child.(*expression.Star); !(kind == fnCount && star) {
			if reason := compileArg(child); reason != "" {
				return nil, reason
			}
		}
		fn, err := e.NewWindowFunction(ctx)
		if err != nil {
			return nil, err.Error()
		}
		f.frame, f.framer, _ = frameOf(fn, w)
		if f.frame == frameRangeToPeers {
			keys, err := newSortKeys(ctx, c, w.OrderBy[:1])
			if err != nil {
				return nil, err.Error()
			}
			k := keys[0]
			k.desc, k.nullsFirst = false, false // a raw Type.Compare, see rangeToPeers
			f.first = &k
		}
	}
	return f, ""
}

// windowArgs is e's arguments without its window's expressions (which
// some functions' Children put first).
func windowArgs(e sql.Expression) []sql.Expression {
	switch e := e.(type) {
	case *window.Lag:
		return e.ChildExpressions
	case *window.Lead:
		return e.ChildExpressions
	case *window.FirstValue:
		return []sql.Expression{e.Child}
	case *window.LastValue:
		return []sql.Expression{e.Child}
	}
	return e.Children()[:1] // unary aggregates: the argument, then the window's
}

// compute is f over every row, a value per input row.
func (f *windowFunc) compute(ctx *sql.Context, wr *windowRows, in *windowInput, mem *memCharge) (*Column, error) {
	var arg *Column
	if f.arg != nil {
		var err error
		if arg, err = in.evalAll(ctx, f.arg, mem); err != nil {
			return nil, err
		}
	}
	switch f.kind {
	case fnRowNumber:
		out := make([]int64, wr.n)
		for p := 0; p+1 < len(wr.parts); p++ {
			for k := wr.parts[p]; k < wr.parts[p+1]; k++ {
				out[wr.perm[k]] = int64(k - wr.parts[p] + 1)
			}
		}
		return &Column{Kind: KindInt, Type: types.Int64, I: out}, nil
	case fnRankLike, fnNTile:
		return f.computeGMS(ctx, wr)
	case fnLag:
		return f.computeLag(ctx, wr, in, arg, mem)
	}
	fs, fe, err := f.frames(ctx, wr, in, mem)
	if err != nil {
		return nil, err
	}
	switch f.kind {
	case fnSum, fnAvg:
		if f.exact != nil {
			return f.computeExactSum(ctx, wr, arg, fs, fe, mem)
		}
		return f.computeSum(ctx, wr, arg, fs, fe)
	case fnCount:
		return f.computeCount(wr, arg, fs, fe), nil
	case fnMax, fnMin:
		return f.computeExtreme(ctx, wr, arg, fs, fe)
	default: // fnFirst, fnLast
		src := make([]int32, wr.n)
		for k := range wr.n {
			r := int32(-1)
			if fs[k] < fe[k] {
				if f.kind == fnFirst {
					r = wr.perm[fs[k]]
				} else {
					r = wr.perm[fe[k]-1]
				}
			}
			src[wr.perm[k]] = r
		}
		return arg.Gather(src), nil
	}
}

// frames is each sorted position's frame [fs, fe) in sorted positions.
func (f *windowFunc) frames(ctx *sql.Context, wr *windowRows, in *windowInput, mem *memCharge) (fs, fe []int32, err error) {
	fs, fe = make([]int32, wr.n), make([]int32, wr.n)
	var first keyCol
	var rc *rowComparer
	if f.frame == frameRangeToPeers {
		c, err := in.evalAll(ctx, f.first.x, mem)
		if err != nil {
			return nil, nil, err
		}
		first, rc = f.first.keyCol(c), &rowComparer{ctx: ctx}
	}
	for p := 0; p+1 < len(wr.parts); p++ {
		ps, pe := wr.parts[p], wr.parts[p+1]
		switch f.frame {
		case framePartition:
			for k := ps; k < pe; k++ {
				fs[k], fe[k] = int32(ps), int32(pe)
			}
		case frameRows:
			framer, err := f.framer.NewFramer(sql.WindowInterval{Start: ps, End: pe})
			if err != nil {
				return nil, nil, err
			}
			for k := ps; k < pe; k++ {
				// A ROWS framer does index arithmetic only: it reads no row.
				iv, err := framer.Next(ctx, nil)
				if err != nil {
					return nil, nil, err
				}
				fs[k], fe[k] = int32(iv.Start), int32(iv.End)
			}
		case frameRangeToPeers:
			if err := f.rangeToPeers(rc, wr, first, ps, pe, fs, fe); err != nil {
				return nil, nil, err
			}
		}
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
	}
	return fs, fe, nil
}

// rangeToPeers is go-mysql-server's RANGE UNBOUNDED PRECEDING to CURRENT
// ROW framer on the first ORDER BY key: each row's frame ends where a
// scan from the previous frame's end first meets a value that compares
// greater than the current row's by the key type's Compare, which puts
// NULL above every value (types.CompareNulls). On a descending key that
// scan meets no greater value and the frame runs to the partition's end,
// as it does there.
func (f *windowFunc) rangeToPeers(rc *rowComparer, wr *windowRows, first keyCol, ps, pe int, fs, fe []int32) error {
	end := ps
	for k := ps; k < pe; k++ {
		cur := int(wr.perm[k])
		i := end
		for ; i < pe; i++ {
			if rawCompare(rc, f.first, first, int(wr.perm[i]), cur) > 0 {
				break
			}
		}
		if rc.err != nil {
			return rc.err
		}
		end = i
		fs[k], fe[k] = int32(ps), int32(end)
	}
	return nil
}

// rawCompare is key.typ.Compare(value a, value b) of c, NULL above every
// value and equal to NULL.
func rawCompare(rc *rowComparer, key *sortKey, c keyCol, a, b int) int {
	an, bn := c.c.IsNull(a), c.c.IsNull(b)
	switch {
	case an && bn:
		return 0
	case an:
		return 1
	case bn:
		return -1
	}
	return rc.compareValues(key, c, a, c, b)
}

// computeGMS drives go-mysql-server's own ranking function object over
// the partitions and peer groups.
func (f *windowFunc) computeGMS(ctx *sql.Context, wr *windowRows) (*Column, error) {
	fn, err := f.newGMS(ctx)
	if err != nil {
		return nil, err
	}
	defer fn.Dispose(ctx)
	var peerStart, peerEnd []int32
	if f.kind == fnRankLike {
		if peerStart, peerEnd, err = wr.peers(); err != nil {
			return nil, err
		}
	}
	out := &Column{Kind: KindAny, Type: types.Uint64, A: make([]any, wr.n)}
	if _, pr := fn.(*aggregation.PercentRank); pr {
		out.Type = types.Float64
	}
	var nulls []bool
	for p := 0; p+1 < len(wr.parts); p++ {
		ps, pe := wr.parts[p], wr.parts[p+1]
		if err := fn.StartPartition(ctx, sql.WindowInterval{Start: ps, End: pe}, nil); err != nil {
			return nil, err
		}
		for k := ps; k < pe; k++ {
			iv := sql.WindowInterval{Start: ps, End: pe}
			if peerStart != nil {
				iv = sql.WindowInterval{Start: int(peerStart[k]), End: int(peerEnd[k])}
			}
			v, err := fn.Compute(ctx, iv, nil)
			if err != nil {
				return nil, err
			}
			r := wr.perm[k]
			out.A[r] = v
			if v == nil {
				if nulls == nil {
					nulls = make([]bool, wr.n)
				}
				nulls[r] = true
			}
		}
	}
	out.Nulls = nulls
	if out.Type == types.Float64 && nulls == nil {
		// PERCENT_RANK's values are all float64: keep them typed.
		fl := make([]float64, wr.n)
		for r, v := range out.A {
			fl[r] = v.(float64)
		}
		out.Kind, out.F, out.A = KindFloat, fl, nil
	}
	return out, nil
}

// computeLag is LAG or LEAD.
func (f *windowFunc) computeLag(ctx *sql.Context, wr *windowRows, in *windowInput, arg *Column, mem *memCharge) (*Column, error) {
	src := make([]int32, wr.n) // input row of the value, -1 NULL, -2 the default
	for p := 0; p+1 < len(wr.parts); p++ {
		ps, pe := wr.parts[p], wr.parts[p+1]
		for k := ps; k < pe; k++ {
			idx, r := k-f.offset, wr.perm[k]
			switch {
			case idx >= ps && idx < pe:
				src[r] = wr.perm[idx]
			case f.def != nil:
				src[r] = -2
			default:
				src[r] = -1
			}
		}
	}
	if f.def == nil {
		return arg.Gather(src), nil
	}
	def, err := in.evalAll(ctx, f.def, mem)
	if err != nil {
		return nil, err
	}
	if k := arg.Kind; k == def.Kind && k == KindOf(arg.Type) && (k == KindInt || k == KindTime || k == KindFloat || k == KindString) {
		return lagWithDefault(arg, def, src), nil
	}
	out := NewColumn(arg.Type, wr.n)
	for r, s := range src {
		switch {
		case s >= 0:
			out.Append(arg.Value(int(s)))
		case s == -2:
			out.Append(def.Value(r))
		default:
			out.AppendNull()
		}
	}
	return out, nil
}

// lagWithDefault is LAG/LEAD's values (src as computeLag makes it) when
// the argument and the default hold one typed Kind, the column's own:
// the values are copied as stored, where appending them one by one
// would box each. The result is what Append would make of the same
// values.
func lagWithDefault(arg, def *Column, src []int32) *Column {
	var defRows []int32
	for r, s := range src {
		if s == -2 {
			src[r] = -1 // gathered as NULL, then set from the default
			defRows = append(defRows, int32(r))
		}
	}
	out := arg.Gather(src)
	if len(defRows) == 0 {
		return out
	}
	out.U, out.Users = nil, nil // the default's strings carry no numbers
	if out.Nulls == nil {
		out.Nulls = make([]bool, len(src))
	}
	for _, r := range defRows {
		if def.IsNull(int(r)) {
			continue // NULL already
		}
		out.Nulls[r] = false
		switch out.Kind {
		case KindInt, KindTime:
			out.I[r] = def.I[r]
		case KindFloat:
			out.F[r] = def.F[r]
		case KindString:
			out.S[r] = def.S[r]
		}
	}
	if !slices.Contains(out.Nulls, true) {
		out.Nulls = nil // nil when no value is NULL
	}
	return out
}

// computeSum is SUM or AVG by go-mysql-server's floatPrefixSum and
// computePrefixSum, in the same float64 operations.
func (f *windowFunc) computeSum(ctx *sql.Context, wr *windowRows, arg *Column, fs, fe []int32) (*Column, error) {
	prefix := make([]float64, wr.n)
	nullCnt := make([]int32, wr.n)
	for p := 0; p+1 < len(wr.parts); p++ {
		ps, pe := wr.parts[p], wr.parts[p+1]
		var last float64
		var nc int32
		for k := ps; k < pe; k++ {
			r := int(wr.perm[k])
			v, null := 0.0, arg.IsNull(r)
			if !null {
				switch arg.Kind {
				case KindInt:
					v = float64(arg.I[r])
				case KindFloat:
					v = arg.F[r]
				default:
					cv, _, err := types.Float64.Convert(ctx, arg.Value(r))
					if err != nil || cv == nil {
						null = true
					} else {
						v = cv.(float64)
					}
				}
			}
			if null {
				v = 0
				nc++
			}
			last += v
			prefix[k], nullCnt[k] = last, nc
		}
	}
	out := &Column{Kind: KindFloat, Type: types.Float64, F: make([]float64, wr.n)}
	for p := 0; p+1 < len(wr.parts); p++ {
		ps, pe := wr.parts[p], wr.parts[p+1]
		for k := ps; k < pe; k++ {
			s, e := int(fs[k]), int(fe[k])
			r := wr.perm[k]
			if f.kind == fnSum && e-s < 1 {
				if out.Nulls == nil {
					out.Nulls = make([]bool, wr.n)
				}
				out.Nulls[r] = true
				continue
			}
			var sum float64
			var nonNull int
			if e-1 >= ps {
				sum = prefix[e-1]
				nonNull += e - ps - int(nullCnt[e-1])
			}
			if s-1 >= ps {
				sum -= prefix[s-1]
				nonNull -= s - ps - int(nullCnt[s-1])
			}
			if f.kind == fnAvg {
				sum /= float64(nonNull)
			}
			out.F[r] = sum
		}
	}
	return out, nil
}

// computeCount is COUNT by go-mysql-server's countPrefixSum.
func (f *windowFunc) computeCount(wr *windowRows, arg *Column, fs, fe []int32) *Column {
	prefix := make([]float64, wr.n)
	for p := 0; p+1 < len(wr.parts); p++ {
		ps, pe := wr.parts[p], wr.parts[p+1]
		var last float64
		for k := ps; k < pe; k++ {
			if arg == nil || !arg.IsNull(int(wr.perm[k])) {
				last++
			}
			prefix[k] = last
		}
	}
	out := make([]int64, wr.n)
	for p := 0; p+1 < len(wr.parts); p++ {
		ps, pe := wr.parts[p], wr.parts[p+1]
		for k := ps; k < pe; k++ {
			s, e := int(fs[k]), int(fe[k])
			var sum float64
			if e-1 >= ps {
				sum = prefix[e-1]
			}
			if s-1 >= ps {
				sum -= prefix[s-1]
			}
			out[wr.perm[k]] = int64(sum)
		}
	}
	return &Column{Kind: KindInt, Type: types.Int64, I: out}
}

// computeExtreme is MAX or MIN: over each frame in sorted order, the
// first non-NULL value, replaced only by a strictly greater (MAX) or
// less (MIN) one. A frame that extends the previous row's by one row
// continues its scan; the same frame reuses its result.
func (f *windowFunc) computeExtreme(ctx *sql.Context, wr *windowRows, arg *Column, fs, fe []int32) (*Column, error) {
	want := 1
	if f.kind == fnMin {
		want = -1
	}
	kc := f.argKey.keyCol(arg)
	rc := &rowComparer{ctx: ctx}
	src := make([]int32, wr.n)
	best := int32(-1) // input row of the current frame's result
	ps, pe := int32(-1), int32(-1)
	scan := func(from, to int32) {
		for i := from; i < to; i++ {
			r := wr.perm[i]
			if arg.IsNull(int(r)) {
				continue
			}
			if best < 0 || rc.compareValues(&f.argKey, kc, int(r), kc, int(best)) == want {
				best = r
			}
		}
	}
	for k := range wr.n {
		s, e := fs[k], fe[k]
		switch {
		case s == ps && e == pe:
		case s == ps && e == pe+1:
			scan(pe, e)
		default:
			best = -1
			scan(s, e)
		}
		ps, pe = s, e
		if rc.err != nil {
			return nil, rc.err
		}
		src[wr.perm[k]] = best
	}
	return arg.Gather(src), nil
}

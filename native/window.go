package native

// This file owns the window operator: go-mysql-server's *plan.Window,
// whose select expressions mix window functions (… OVER (PARTITION BY …
// ORDER BY … [frame])) with plain expressions passed through.
//
// What go-mysql-server does, and this operator mirrors (rowexec's
// windowToIter, aggregation.WindowIter and WindowPartitionIter):
//   - the input is materialized whole;
//   - functions are grouped into blocks by their window's PARTITION BY
//     and ORDER BY; each block sorts the input stably by its partition
//     keys (ascending, NULLs first) then its ORDER BY keys, cuts it into
//     partitions where a partition key's value changes (NULL equals
//     NULL), and computes each function over the partition with the frame
//     the function's own DefaultFramer gives;
//   - the rows come out in input order, each with its functions' values:
//     a block's order only decides the values, never the output order;
//   - a plain expression is evaluated on its own row.
//
// Frames (go-mysql-server's quirks included, since results must match):
// ROW_NUMBER, LAG and LEAD see the partition; RANK, DENSE_RANK,
// PERCENT_RANK and NTILE see the current row's peer group (equal ORDER BY
// values); MAX, and COUNT without ORDER BY, see the partition; COUNT with
// ORDER BY sees a RANGE from the partition start to the last row whose
// first ORDER BY value is not greater than the current one; SUM, AVG,
// MIN, FIRST_VALUE and LAST_VALUE see ROWS UNBOUNDED PRECEDING to the
// current row unless a frame is written. A written ROWS frame is
// stepped through go-mysql-server's own framer (it only does index
// arithmetic); a written RANGE frame from UNBOUNDED PRECEDING to the
// CURRENT ROW is COUNT's default above, to UNBOUNDED FOLLOWING the
// partition; any other RANGE frame, or any function not listed here,
// leaves the node to go-mysql-server.

import (
	"fmt"
	"io"
	"reflect"
	"strings"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/expression"
	"github.com/dolthub/go-mysql-server/sql/expression/function/aggregation"
	"github.com/dolthub/go-mysql-server/sql/plan"
)

// windowOp computes a Window node's select expressions.
type windowOp struct {
	child  Operator
	sch    sql.Schema
	outs   []windowOut
	blocks []*windowBlock
	// rowLimit, when not negative, is the largest ROW_NUMBER a Filter
	// above keeps (window_topk.go): rows that cannot reach it need not be
	// handed out.
	rowLimit int
}

// windowOut is one output column: a plain expression, or a block's
// function.
type windowOut struct {
	pass      Expr // nil for a function
	block, fn int
}

// windowBlock is the functions over one PARTITION BY and ORDER BY.
type windowBlock struct {
	partKeys  []sortKey // ascending, NULLs first, as go-mysql-server's partitionsToSortFields
	orderKeys []sortKey
	fns       []*windowFunc
}

func init() {
	register((*plan.Window)(nil), translateWindow)
}

func translateWindow(ctx *sql.Context, tr *Translation, n sql.Node) (Operator, string) {
	w := n.(*plan.Window)
	// Check every expression before translating the child, so that a
	// refusal leaves no translated operators behind.
	for _, e := range w.SelectExprs {
		if reason := windowSupported(ctx, unalias(e)); reason != "" {
			return nil, reason
		}
	}
	in := tr.child(ctx, w.Child)
	c := &Compiler{In: in.Schema()}
	op := &windowOp{child: in, sch: w.Schema(ctx), rowLimit: -1}
	byWindow := map[string]int{}
	for _, e := range w.SelectExprs {
		e = unalias(e)
		wa, ok := e.(sql.WindowAdaptableExpression)
		if !ok {
			x, err := c.Compile(ctx, e)
			if err != nil {
				return nil, err.Error()
			}
			op.outs = append(op.outs, windowOut{pass: x})
			continue
		}
		def := wa.Window()
		id := windowID(def)
		bi, ok := byWindow[id]
		if !ok {
			b, err := newWindowBlock(ctx, c, def)
			if err != nil {
				return nil, err.Error()
			}
			bi = len(op.blocks)
			byWindow[id] = bi
			op.blocks = append(op.blocks, b)
		}
		b := op.blocks[bi]
		fn, reason := newWindowFunc(ctx, c, wa, def)
		if fn == nil {
			return nil, reason
		}
		op.outs = append(op.outs, windowOut{block: bi, fn: len(b.fns)})
		b.fns = append(b.fns, fn)
	}
	return op, ""
}

func unalias(e sql.Expression) sql.Expression {
	if a, ok := e.(*expression.Alias); ok {
		return a.Child
	}
	return e
}

// windowSupported is "" when e can be computed here, or why not.
func windowSupported(ctx *sql.Context, e sql.Expression) string {
	wa, ok := e.(sql.WindowAdaptableExpression)
	if !ok {
		if hasWindowFunction(e) {
			return "window function inside an expression"
		}
		return ""
	}
	if wa.Window() == nil {
		return "aggregate without OVER in a Window node"
	}
	if _, reason := windowFuncKind(ctx, wa); reason != "" {
		return reason
	}
	for _, x := range wa.Window().ToExpressions() {
		if hasWindowFunction(x) {
			return "window function inside a window definition"
		}
	}
	return ""
}

func hasWindowFunction(e sql.Expression) bool {
	if _, ok := e.(sql.WindowAdaptableExpression); ok {
		return true
	}
	for _, c := range e.Children() {
		if hasWindowFunction(c) {
			return true
		}
	}
	return false
}

// windowID identifies a window's PARTITION BY and ORDER BY, as
// go-mysql-server's PartitionId groups functions.
func windowID(w *sql.WindowDefinition) string {
	var b strings.Builder
	for _, e := range w.PartitionBy {
		fmt.Fprintf(&b, "%s;", e)
	}
	b.WriteString("|")
	for _, f := range w.OrderBy {
		fmt.Fprintf(&b, "%s %d %d;", f.Column, f.Order, f.NullOrdering)
	}
	return b.String()
}

func newWindowBlock(ctx *sql.Context, c *Compiler, w *sql.WindowDefinition) (*windowBlock, error) {
	partFields := make(sql.SortFields, len(w.PartitionBy))
	for i, e := range w.PartitionBy {
		partFields[i] = sql.SortField{Column: e, Order: sql.Ascending}
	}
	partKeys, err := newSortKeys(ctx, c, partFields)
	if err != nil {
		return nil, err
	}
	orderKeys, err := newSortKeys(ctx, c, w.OrderBy)
	if err != nil {
		return nil, err
	}
	return &windowBlock{partKeys: partKeys, orderKeys: orderKeys}, nil
}

// frameKind is how a function's frame is found.
type frameKind uint8

const (
	framePartition    frameKind = iota // the whole partition
	frameRows                          // go-mysql-server's ROWS framer, stepped
	frameRangeToPeers                  // COUNT's default: RANGE UNBOUNDED PRECEDING to the current value of the first ORDER BY key
)

// frameOf is the frame go-mysql-server's function fn uses, or a reason
// it is not one implemented here.
func frameOf(fn sql.WindowFunction, w *sql.WindowDefinition) (frameKind, sql.WindowFramer, string) {
	f := fn.DefaultFramer()
	switch f.(type) {
	case *aggregation.PartitionFramer, *aggregation.RangeUnboundedPrecedingToUnboundedFollowingFramer:
		return framePartition, nil, ""
	case *aggregation.RangeUnboundedPrecedingToCurrentRowFramer:
		// COUNT's default, or written: both take the first ORDER BY
		// expression; without one every row is a peer (the partition).
		if len(w.OrderBy) > 0 {
			return frameRangeToPeers, nil, ""
		}
		return framePartition, nil, ""
	}
	t := reflect.TypeOf(f)
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.PkgPath() == reflect.TypeOf(aggregation.PartitionFramer{}).PkgPath() && strings.HasPrefix(t.Name(), "Rows") {
		return frameRows, f, ""
	}
	return 0, nil, "window frame " + t.Name()
}

func (op *windowOp) Schema() sql.Schema   { return op.sch }
func (op *windowOp) Children() []Operator { return []Operator{op.child} }
func (op *windowOp) Describe() string {
	parts := make([]string, len(op.outs))
	for i, o := range op.outs {
		if o.pass != nil {
			parts[i] = o.pass.String()
		} else {
			parts[i] = op.blocks[o.block].fns[o.fn].name
		}
	}
	limit := ""
	if op.rowLimit >= 0 {
		limit = fmt.Sprintf(" (rows numbered up to %d per partition)", op.rowLimit)
	}
	return Marker + "Window " + strings.Join(parts, ", ") + limit
}

func (op *windowOp) Open(ctx *sql.Context, run *Run) (BatchIter, error) {
	mem := newMemCharge(ctx)
	in, err := op.collect(ctx, run, mem)
	if err != nil || in.n == 0 {
		mem.release()
		return &sliceIter{}, err
	}
	results := make([][]*Column, len(op.blocks))
	for i, b := range op.blocks {
		if results[i], err = b.compute(ctx, in, mem); err != nil {
			mem.release()
			return nil, err
		}
	}
	in.cache = nil
	// Output batch i is input batch i with its functions' values: the
	// rows come out in input order, and a plain expression reads its
	// own batch (no copy of the input's columns).
	bi, pos := 0, 0
	return &funcIter{
		next: func(ctx *sql.Context) (*Batch, error) {
			if bi >= len(in.batches) {
				return nil, io.EOF
			}
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			b := in.batches[bi]
			in.batches[bi] = nil // the caller may keep its output; the input is done with
			end := pos + b.N
			out := &Batch{N: b.N, Cols: make([]*Column, len(op.outs))}
			for i, o := range op.outs {
				if o.pass != nil {
					c, err := o.pass.Eval(ctx, b)
					if err != nil {
						return nil, err
					}
					out.Cols[i] = c
					continue
				}
				out.Cols[i] = results[o.block][o.fn].Slice(pos, end)
			}
			bi, pos = bi+1, end
			return out, nil
		},
		close: func(*sql.Context) error {
			mem.release()
			return nil
		},
	}, nil
}

// collect reads the window's input: every row, or with a row-number
// limit those that can pass it (window_topk.go), read on the scan's
// workers when the window reads the scan directly
// (window_topk_parallel.go).
func (op *windowOp) collect(ctx *sql.Context, run *Run, mem *memCharge) (*windowInput, error) {
	if s, isScan := op.child.(*scanOp); isScan && op.rowLimit >= 0 && parallelTopRowsOn {
		in, ok, err := op.collectTopRowsParallel(ctx, s, mem)
		if ok || err != nil {
			return in, err
		}
	}
	child, err := op.child.Open(ctx, run)
	if err != nil {
		return nil, err
	}
	if op.rowLimit >= 0 {
		return op.collectTopRows(ctx, child, mem)
	}
	return collectInput(ctx, child, mem)
}

// windowInput is the window's input: its batches as they came (read-only,
// so kept rather than copied), n rows in all.
type windowInput struct {
	batches []*Batch
	n       int
	// cache holds the input columns already concatenated, by index: a
	// column that is a key and an argument is concatenated once.
	cache map[int]*Column
}

// collectInput reads every non-empty batch of in (and closes it),
// charging each to mem.
func collectInput(ctx *sql.Context, in BatchIter, mem *memCharge) (*windowInput, error) {
	defer in.Close(ctx)
	w := &windowInput{cache: map[int]*Column{}}
	for {
		b, err := in.Next(ctx)
		if err == io.EOF {
			return w, nil
		}
		if err != nil {
			return w, err
		}
		if err := ctx.Err(); err != nil {
			return w, err
		}
		if b.N == 0 {
			continue
		}
		if err := mem.grow(b.Bytes(), "window"); err != nil {
			return w, err
		}
		w.batches = append(w.batches, b)
		w.n += b.N
	}
}

// evalAll is x over every input row, evaluated a batch at a time into
// one column it charges to mem.
func (w *windowInput) evalAll(ctx *sql.Context, x Expr, mem *memCharge) (*Column, error) {
	f, field := x.(*fieldExpr)
	if field {
		if c := w.cache[f.idx]; c != nil {
			return c, nil // read-only, like any Eval's result
		}
	}
	var out *Column
	for _, b := range w.batches {
		c, err := x.Eval(ctx, b)
		if err != nil {
			return nil, err
		}
		if len(w.batches) == 1 {
			out = c
			break
		}
		if out == nil {
			out = &Column{Kind: c.Kind, Type: c.Type}
			// Room for every row at once: no regrowth copies.
			switch c.Kind {
			case KindInt, KindTime:
				out.I = make([]int64, 0, w.n)
			case KindFloat:
				out.F = make([]float64, 0, w.n)
			case KindString:
				out.S = make([]string, 0, w.n)
				if c.U != nil {
					out.U = make([]uint32, 0, w.n)
				}
			}
		}
		appendColumn(out, c)
	}
	if err := mem.grow(out.Bytes(), "window columns"); err != nil {
		return nil, err
	}
	if field {
		w.cache[f.idx] = out
	}
	return out, nil
}

// evalCols is each key's values over every input row.
func (w *windowInput) evalCols(ctx *sql.Context, keys []sortKey, mem *memCharge) ([]*Column, error) {
	out := make([]*Column, len(keys))
	for i := range keys {
		c, err := w.evalAll(ctx, keys[i].x, mem)
		if err != nil {
			return nil, sql.ErrUnableSort.Wrap(err)
		}
		out[i] = c
	}
	return out, nil
}

// keyCols is cols as keys' values (whether each compares natively).
func keyCols(keys []sortKey, cols []*Column) []keyCol {
	out := make([]keyCol, len(keys))
	for i := range keys {
		out[i] = keys[i].keyCol(cols[i])
	}
	return out
}

// windowRows is a block's view of the input: rows sorted, partitions
// and peer groups cut.
type windowRows struct {
	n     int
	perm  []int32 // sorted position → input row
	parts []int   // start of each partition in sorted positions, then n
	// peerEnd[k] is the end of sorted position k's peer group.
	peerStart, peerEnd []int32
	orderKeys          []keyCol // by input row
	orderCmp           *rowComparer
}

// compute is each of b's functions over rows, one column per function
// with a value per input row.
func (b *windowBlock) compute(ctx *sql.Context, in *windowInput, mem *memCharge) ([]*Column, error) {
	orderVals, err := in.evalCols(ctx, b.orderKeys, mem)
	if err != nil {
		return nil, err
	}
	wr, err := b.order(ctx, in, keyCols(b.orderKeys, orderVals), mem)
	if err != nil {
		return nil, err
	}
	out := make([]*Column, len(b.fns))
	for i, fn := range b.fns {
		if out[i], err = fn.compute(ctx, wr, in, mem); err != nil {
			return nil, err
		}
		if err := mem.grow(out[i].Bytes(), "window results"); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// order sorts the rows by partition and ORDER BY keys and cuts the
// partitions.
func (b *windowBlock) order(ctx *sql.Context, in *windowInput, orderCols []keyCol, mem *memCharge) (*windowRows, error) {
	n := in.n
	wr := &windowRows{n: n, orderKeys: orderCols, orderCmp: &rowComparer{ctx: ctx, keys: b.orderKeys}}
	var perm []int32
	var parts []int
	var err error
	uk, ok := in.userKeyOf(b.partKeys)
	if ok {
		if perm, parts, ok, err = userPartitions(uk, n, mem); err != nil {
			return nil, err
		}
	}
	if ok {
		// Order keys encoded as integers: 9 bytes a row at most.
		if err := mem.grow(int64(n)*9, "window order"); err != nil {
			return nil, err
		}
		if err := sortPartitions(wr.orderCmp, orderCols, perm, parts); err != nil {
			return nil, err
		}
		wr.perm, wr.parts = perm, parts
		return wr, nil
	}
	partVals, err := in.evalCols(ctx, b.partKeys, mem)
	if err != nil {
		return nil, err
	}
	partCols := keyCols(b.partKeys, partVals)
	all := append(append([]sortKey(nil), b.partKeys...), b.orderKeys...)
	rc := &rowComparer{ctx: ctx, keys: all}
	if perm, err = rc.sortedOrder(append(append([]keyCol(nil), partCols...), orderCols...), n); err != nil {
		return nil, err
	}
	if err := mem.grow(int64(n)*12, "window order"); err != nil {
		return nil, err
	}
	wr.perm = perm
	// Partitions: go-mysql-server's isNewPartition compares each partition
	// value with the type's Compare, NULL equal to NULL.
	pc := &rowComparer{ctx: ctx, keys: b.partKeys}
	wr.parts = append(wr.parts, 0)
	for k := 1; k < n; k++ {
		if len(b.partKeys) > 0 && pc.compare(partCols, int(perm[k-1]), partCols, int(perm[k])) != 0 {
			wr.parts = append(wr.parts, k)
		}
	}
	if pc.err != nil {
		return nil, pc.err
	}
	wr.parts = append(wr.parts, n)
	return wr, nil
}

// peers cuts the peer groups (go-mysql-server's nextPeerGroup: rows
// whose ORDER BY values all compare equal, NULL equal to NULL) once.
func (wr *windowRows) peers() ([]int32, []int32, error) {
	if wr.peerStart != nil {
		return wr.peerStart, wr.peerEnd, nil
	}
	wr.peerStart, wr.peerEnd = make([]int32, wr.n), make([]int32, wr.n)
	for p := 0; p+1 < len(wr.parts); p++ {
		ps, pe := wr.parts[p], wr.parts[p+1]
		start := ps
		for k := ps; k < pe; k++ {
			if k > ps && wr.orderCmp.compare(wr.orderKeys, int(wr.perm[k-1]), wr.orderKeys, int(wr.perm[k])) != 0 {
				start = k
			}
			wr.peerStart[k] = int32(start)
		}
		end := pe
		for k := pe - 1; k >= ps; k-- {
			wr.peerEnd[k] = int32(end)
			if int(wr.peerStart[k]) == k {
				end = k
			}
		}
	}
	return wr.peerStart, wr.peerEnd, wr.orderCmp.err
}

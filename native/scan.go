package native

import (
	"context"
	"errors"
	"io"
	"runtime"
	"strings"
	"sync"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/plan"

	"arb/engine"
	"arb/storage"
)

// EventsTable is a project's events table as the server provides it.
type EventsTable interface {
	sql.Table
	// Snapshot is a consistent read view of the events, taken now.
	Snapshot() *storage.Snapshot
	// Filter is the pushed-down pre-filter (planner.FilterableTable), or
	// nil: every row it drops is one the SQL filter above drops too.
	Filter() engine.Predicate
	// ToSQL is the value go-mysql-server gets for a stored value.
	ToSQL(v storage.Value) any
}

// scanOp reads the events table's projected columns, parts in parallel,
// batches in part order (the order go-mysql-server's scan has).
type scanOp struct {
	table  EventsTable
	sch    sql.Schema // the table's columns read
	stages []stage    // row-local steps run by the part workers, bottom up
	read   []bool     // per column of sch: read it (else no statement reference sees it: NULL)
	out    sql.Schema // the last stage's schema (sch without stages)

	// codesOnly, per column of sch (nil: none), marks string columns
	// whose batches may come with dictionary codes and no strings
	// (Column.S nil, Column.Codes set): set only by a HashAggregate
	// above that reads them as keys and first values alone, through
	// stages that hand them on or read them by code (stageFlow;
	// hash_aggregate.go's codesOnlyColumns and throughStages).
	codesOnly []bool
}

// stage is a filter or projection fused into a scan: each part worker
// runs it on its own batches, so row-local work spreads over the cores
// and batches still arrive in part order.
type stage struct {
	describe string
	run      func(ctx *sql.Context, b *Batch) (*Batch, error) // nil batch: no rows left
	flow     *stageFlow                                       // nil: not described (no column may come as codes alone)
}

// stageFlow says how a stage uses its input's columns, for the
// HashAggregate above that lets string columns come as codes alone
// (scanOp.codesOnly).
// INVARIANT: from[i] is the input column that output column i is,
// unchanged (the same *Column), or -1; reads[j] is set for every input
// column whose strings the stage may read (a column it reads only by
// dictionary code on batches with codes, and by its strings only when
// they are there, is not: byCode marks it).
type stageFlow struct {
	from   []int
	reads  []bool
	byCode []bool // input columns read by dictionary code alone (nil: none)
}

// withCodesOnly is s with its batches' columns marked in only (per
// column of sch) carrying codes alone where they have them.
func (s *scanOp) withCodesOnly(only []bool) *scanOp {
	cp := *s
	cp.codesOnly = only
	return &cp
}

// withStage is s with st run after its other stages, giving rows of out.
func (s *scanOp) withStage(st stage, out sql.Schema) *scanOp {
	cp := *s
	cp.stages = append(append([]stage(nil), s.stages...), st)
	cp.out = out
	return &cp
}

func init() {
	register((*plan.ResolvedTable)(nil), func(ctx *sql.Context, tr *Translation, n sql.Node) (Operator, string) {
		rt := n.(*plan.ResolvedTable)
		table := rt.Table
		if pt, ok := table.(*plan.ProcessTable); ok { // trackProcess's wrapper
			table = pt.Underlying()
		}
		t, ok := table.(EventsTable)
		if !ok {
			return nil, "table " + rt.Name()
		}
		sch := rt.Schema(ctx)
		name := tr.alias
		if name == "" {
			name = rt.Name()
		}
		tr.alias = "" // below a TableAlias only its table is under the alias
		return &scanOp{table: t, sch: sch, out: sch, read: tr.readColumns(name, sch)}, ""
	})
}

func (s *scanOp) Schema() sql.Schema   { return s.out }
func (s *scanOp) Children() []Operator { return nil }
func (s *scanOp) Describe() string {
	var names []string
	for i, c := range s.sch {
		if s.read[i] {
			names = append(names, c.Name)
		}
	}
	d := Marker + "Scan " + s.table.Name() + " [" + strings.Join(names, ", ") + "]"
	if f := s.table.Filter(); f != nil {
		d += " where " + f.String()
	}
	// Each stage above the one it reads from, indented like a child.
	for _, st := range s.stages {
		d = Marker + st.describe + " (in the scan's workers)\n" + indentLines(d, "    ")
	}
	return d
}

func (s *scanOp) Open(ctx *sql.Context, _ *Run) (BatchIter, error) {
	return s.open(ctx, nil, nil)
}

// open is Open, reading only the rows of the users in users (bits of
// canonical numbers of numbering, engine.Scan.RestrictUsers) when not nil and the snapshot's distinct_ids
// are numbered by numbering (a join's right input, restricted to the
// left input's users: join_iter.go).
func (s *scanOp) open(ctx *sql.Context, users []uint64, numbering *storage.UserIDs) (BatchIter, error) {
	return s.openWith(ctx, users, numbering, nil)
}

// openWith is open with the rows further restricted to those where extra
// is TRUE (nil: none), a predicate the engine evaluates with the scan's
// own filter (a join's left input, restricted to the right input's keys:
// join_keys_scan.go).
func (s *scanOp) openWith(ctx *sql.Context, users []uint64, numbering *storage.UserIDs, extra engine.Predicate) (BatchIter, error) {
	scan, opts := s.engineScan()
	if users != nil && scan.Snap.UserIDs.SameNumbering(numbering) {
		scan.RestrictUsers(users, "the join's left input")
	}
	if extra != nil {
		if scan.Filter == nil {
			scan.Filter = extra
		} else {
			scan.Filter = engine.And{Terms: []engine.Predicate{scan.Filter, extra}}
		}
	}
	parts := scan.Parts()
	if parts == 0 {
		return &sliceIter{}, nil
	}
	runCtx, cancel := context.WithCancel(ctx)
	outs := make([]chan partBatch, parts)
	for i := range outs {
		outs[i] = make(chan partBatch, 4)
	}
	var wg sync.WaitGroup
	next := make(chan int)
	workers := min(runtime.GOMAXPROCS(0), parts)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			wctx := ctx.WithContext(runCtx)
			for p := range next {
				s.readPart(wctx, scan, opts, p, outs[p])
			}
		}()
	}
	go func() { // hand out parts in order, so the part read next is always under way
		defer close(next)
		for p := range parts {
			select {
			case next <- p:
			case <-runCtx.Done():
				return
			}
		}
	}()
	cur := 0
	closeRun := func(*sql.Context) error {
		cancel()
		wg.Wait()
		return nil
	}
	return &funcIter{
		next: func(ctx *sql.Context) (*Batch, error) {
			for cur < parts {
				select {
				case pb, ok := <-outs[cur]:
					if !ok {
						cur++
						continue
					}
					if pb.err != nil {
						return nil, pb.err
					}
					return pb.b, nil
				case <-ctx.Done():
					return nil, ctx.Err()
				}
			}
			return nil, io.EOF
		},
		close: closeRun,
	}, nil
}

type partBatch struct {
	b   *Batch
	err error
}

// readPart sends part p's rows in batches on out and closes it.
func (s *scanOp) readPart(ctx *sql.Context, scan *engine.Scan, opts engine.BatchOptions, p int, out chan<- partBatch) {
	defer close(out)
	errStop := errors.New("stopped")
	err := guard(func() error { return s.readPartBatches(ctx, scan, opts, p, out, errStop) })
	if err != nil && err != errStop {
		select {
		case out <- partBatch{err: err}:
		case <-ctx.Done():
		}
	}
}

func (s *scanOp) readPartBatches(ctx *sql.Context, scan *engine.Scan, opts engine.BatchOptions, p int, out chan<- partBatch, errStop error) error {
	return scan.PartBatchesWith(ctx, p, opts, func(cb *engine.ColumnBatch) error {
		return s.sendStaged(ctx, s.fromEngine(scan, cb), out, errStop)
	})
}

// sendStaged runs b, in slices of at most BatchSize rows, through the
// scan's stages and sends what is left of each slice to out; errStop
// when ctx is done first.
func (s *scanOp) sendStaged(ctx *sql.Context, b *Batch, out chan<- partBatch, errStop error) error {
	return s.forStaged(ctx, b, func(part *Batch) error {
		select {
		case out <- partBatch{b: part}:
			return nil
		case <-ctx.Done():
			return errStop
		}
	})
}

// forStaged runs b, in slices of at most BatchSize rows, through the
// scan's stages and calls fn with what is left of each slice (slices
// the stages empty are skipped).
func (s *scanOp) forStaged(ctx *sql.Context, b *Batch, fn func(*Batch) error) error {
	for from := 0; from < b.N; from += BatchSize {
		part := b
		if b.N > BatchSize {
			part = b.Slice(from, min(from+BatchSize, b.N))
		}
		part, err := s.runStages(ctx, part)
		if err != nil {
			return err
		}
		if part == nil {
			continue
		}
		if err := fn(part); err != nil {
			return err
		}
	}
	return nil
}

// runStages runs the scan's stages over b (at most BatchSize rows): nil
// when no rows are left.
func (s *scanOp) runStages(ctx *sql.Context, b *Batch) (*Batch, error) {
	for _, st := range s.stages {
		var err error
		if b, err = st.run(ctx, b); err != nil {
			return nil, err
		}
		if b == nil || b.N == 0 {
			return nil, nil
		}
	}
	return b, nil
}

// fromEngine is an engine batch as columns of the scan's SQL types: the
// engine's slices are used as they are where the Kinds agree; values
// whose stored type differs from the statement's (a column widened since
// it was planned) become what the table's row scan gives go-mysql-server.
func (s *scanOp) fromEngine(scan *engine.Scan, cb *engine.ColumnBatch) *Batch {
	b := &Batch{N: cb.N, Cols: make([]*Column, len(s.sch))}
	next := 0 // the engine column of the next column read
	for j, sc := range s.sch {
		if !s.read[j] {
			b.Cols[j] = unreadColumn(sc.Type, cb.N)
			continue
		}
		ec := &cb.Cols[next]
		next++
		c := &Column{Kind: KindOf(sc.Type), Type: sc.Type, Nulls: ec.Nulls}
		switch {
		case ec.Type == storage.TypeNull:
			c = NewColumn(sc.Type, cb.N)
			for range cb.N {
				c.AppendNull()
			}
		case c.Kind == KindInt && (ec.Type == storage.TypeInt || ec.Type == storage.TypeBool):
			c.I = ec.Ints
		case c.Kind == KindFloat && ec.Type == storage.TypeFloat:
			c.F = ec.Floats
		case c.Kind == KindString && ec.Type == storage.TypeString:
			c.S = ec.Strs
			if ec.Users != nil {
				c.U, c.Users = ec.Users, scan.Snap.UserIDs
			}
			if ec.Codes != nil {
				c.Codes, c.Dict = ec.Codes, ec.Dict
				if c.S == nil && len(c.Dict) > dictGroupsMax {
					// The group table maps codes of small dictionaries
					// only: a large one's rows go by their strings.
					c.S = make([]string, cb.N)
					for k, code := range c.Codes {
						if c.Nulls == nil || !c.Nulls[k] {
							c.S[k] = c.Dict[code]
						}
					}
				}
			}
		case c.Kind == KindTime && ec.Type == storage.TypeTime && ec.Micros:
			c.I = ec.Ints
			if ec.Bounded {
				c.setBounds(ec.Lo, ec.Hi)
			}
		case c.Kind == KindTime && ec.Type == storage.TypeTime:
			c.I = make([]int64, cb.N)
			for k, ms := range ec.Ints {
				c.I[k] = ms * 1000
			}
		default:
			c = NewColumn(sc.Type, cb.N)
			for k := range cb.N {
				c.Append(s.table.ToSQL(storedValue(ec, k)))
			}
		}
		b.Cols[j] = c
	}
	return b
}

// storedValue is row k of an engine column.
func storedValue(ec *engine.BatchColumn, k int) storage.Value {
	switch {
	case ec.Type == storage.TypeNull || (ec.Nulls != nil && ec.Nulls[k]):
		return storage.Value{}
	case ec.Floats != nil:
		return storage.FloatValue(ec.Floats[k])
	case ec.Strs != nil:
		return storage.Value{Type: ec.Type, Str: ec.Strs[k]}
	case ec.Codes != nil: // BatchOptions.CodesOnly
		return storage.Value{Type: ec.Type, Str: ec.Dict[ec.Codes[k]]}
	}
	if ec.Micros {
		return storage.Value{Type: ec.Type, Int: ec.Ints[k] / 1000}
	}
	return storage.Value{Type: ec.Type, Int: ec.Ints[k]}
}

// indentLines prefixes every line of s with indent.
func indentLines(s, indent string) string {
	return indent + strings.ReplaceAll(s, "\n", "\n"+indent)
}

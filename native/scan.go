package native

import (
	"context"
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
	table EventsTable
	sch   sql.Schema
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
		return &scanOp{table: t, sch: rt.Schema(ctx)}, ""
	})
}

func (s *scanOp) Schema() sql.Schema   { return s.sch }
func (s *scanOp) Children() []Operator { return nil }
func (s *scanOp) Describe() string {
	names := make([]string, len(s.sch))
	for i, c := range s.sch {
		names[i] = c.Name
	}
	d := Marker + "Scan " + s.table.Name() + " [" + strings.Join(names, ", ") + "]"
	if f := s.table.Filter(); f != nil {
		d += " where " + f.String()
	}
	return d
}

func (s *scanOp) Open(ctx *sql.Context, _ *Run) (BatchIter, error) {
	names := make([]string, len(s.sch))
	for i, c := range s.sch {
		names[i] = c.Name
	}
	scan := &engine.Scan{Snap: s.table.Snapshot(), Columns: names, Filter: s.table.Filter()}
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
			for p := range next {
				s.readPart(runCtx, scan, p, outs[p])
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
func (s *scanOp) readPart(ctx context.Context, scan *engine.Scan, p int, out chan<- partBatch) {
	defer close(out)
	send := func(pb partBatch) bool {
		select {
		case out <- pb:
			return true
		case <-ctx.Done():
			return false
		}
	}
	it, err := scan.PartRows(ctx, p)
	if err != nil {
		send(partBatch{err: err})
		return
	}
	defer it.Close()
	var b *Batch
	for {
		if b == nil {
			b = s.newBatch()
		}
		row, err := it.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			send(partBatch{err: err})
			return
		}
		for j, v := range row {
			appendStored(b.Cols[j], v, s.table.ToSQL)
		}
		b.N++
		if b.N == BatchSize {
			if !send(partBatch{b: b}) {
				return
			}
			b = nil
		}
	}
	if b != nil && b.N > 0 {
		send(partBatch{b: b})
	}
}

func (s *scanOp) newBatch() *Batch {
	b := &Batch{Cols: make([]*Column, len(s.sch))}
	for j, c := range s.sch {
		b.Cols[j] = NewColumn(c.Type, BatchSize)
	}
	return b
}

// appendStored appends a stored value as the events table's scan gives
// it to go-mysql-server (toSQL), without boxing it where the column's
// Kind holds it.
func appendStored(c *Column, v storage.Value, toSQL func(storage.Value) any) {
	switch {
	case v.Type == storage.TypeNull:
		c.AppendNull()
	case c.Kind == KindInt && (v.Type == storage.TypeInt || v.Type == storage.TypeBool):
		c.I = append(c.I, v.Int)
		c.notNull(len(c.I))
	case c.Kind == KindFloat && v.Type == storage.TypeFloat:
		c.F = append(c.F, v.Float)
		c.notNull(len(c.F))
	case c.Kind == KindString && v.Type == storage.TypeString:
		c.S = append(c.S, v.Str)
		c.notNull(len(c.S))
	case c.Kind == KindTime && v.Type == storage.TypeTime:
		c.I = append(c.I, v.Int*1000)
		c.notNull(len(c.I))
	default:
		c.Append(toSQL(v))
	}
}

package planner

import (
	"io"

	"github.com/dolthub/go-mysql-server/sql"

	"arb/native"
	"arb/storage"
)

var _ native.BatchNode = (*AggregateNode)(nil)

// OpenBatches runs the aggregation over a snapshot taken now and hands
// its groups as native batches (native.BatchNode): the rows RowIter
// gives, in its order, and an output that is a group's distinct_id key
// (any(distinct_id) grouped by distinct_id: a per-user aggregate)
// carries each row's user number, so that joins and groupings over a
// per-user derived table key users by number as they do the events
// scan's. Groups become batches as they are asked for, like RowIter's
// rows.
func (n *AggregateNode) OpenBatches(ctx *sql.Context) (native.BatchIter, error) {
	spec := n.spec
	spec.Snap = n.table.Snapshot()
	groups, users, err := spec.RunUsers(ctx)
	if err != nil {
		return nil, err
	}
	return &aggBatches{n: n, sch: n.Schema(ctx), groups: groups, users: users, numbering: spec.Snap.UserIDs}, nil
}

// aggBatches hands out an engine aggregate's groups as batches.
type aggBatches struct {
	n         *AggregateNode
	sch       sql.Schema
	groups    [][]storage.Value
	users     [][]uint32 // per output: the groups' user numbers, or nil
	numbering *storage.UserIDs
	pos       int
}

func (it *aggBatches) Next(ctx *sql.Context) (*native.Batch, error) {
	if it.pos >= len(it.groups) {
		return nil, io.EOF
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	end := min(it.pos+native.BatchSize, len(it.groups))
	rows := it.groups[it.pos:end]
	b := &native.Batch{N: len(rows), Cols: make([]*native.Column, len(it.sch))}
	for j, col := range it.sch {
		c := native.NewColumn(col.Type, len(rows))
		plain := j < len(it.n.outs) && it.n.outs[j] != outRetention && it.n.outs[j] != outDecimal
		for _, g := range rows {
			if !plain || !appendStored(c, g[j]) {
				c.Append(it.n.toSQL(j, g[j]))
			}
		}
		// The numbers go with the strings only where every value stayed
		// the string toSQL gave for the user (Append kept KindString).
		if j < len(it.users) && it.users[j] != nil && c.Kind == native.KindString && it.numbering != nil {
			c.U, c.Users = it.users[j][it.pos:end:end], it.numbering
		}
		b.Cols[j] = c
	}
	for i := it.pos; i < end; i++ {
		it.groups[i] = nil // handed out: the batch holds the values now
	}
	it.pos = end
	return b, nil
}

func (it *aggBatches) Close(*sql.Context) error {
	it.groups, it.users = nil, nil
	return nil
}

// appendStored appends stored value v to c without boxing it in the
// SQL value toSQL gives, when c holds that value as v has it: a string
// as the string, an integer or float as the number, a time (ms) as its
// microseconds (what Append makes of toSQL's time.Time). false: nothing
// appended, the caller goes through toSQL.
func appendStored(c *native.Column, v storage.Value) bool {
	switch {
	case v.Type == storage.TypeNull:
		c.AppendNull()
		return true
	case c.Kind == native.KindString && v.Type == storage.TypeString:
		c.S = append(c.S, v.Str)
	case c.Kind == native.KindInt && v.Type == storage.TypeInt:
		c.I = append(c.I, v.Int)
	case c.Kind == native.KindFloat && v.Type == storage.TypeFloat:
		c.F = append(c.F, v.Float)
	case c.Kind == native.KindTime && v.Type == storage.TypeTime:
		c.I = append(c.I, v.Int*1000)
	default:
		return false
	}
	if c.Nulls != nil {
		c.Nulls = append(c.Nulls, false)
	}
	return true
}

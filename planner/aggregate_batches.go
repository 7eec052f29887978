package planner

import (
	"io"
	"slices"

	"github.com/dolthub/go-mysql-server/sql"

	"arb/engine"
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
func (n *AggregateNode) OpenBatches(ctx *sql.Context, read []bool) (native.BatchIter, error) {
	spec := n.spec
	spec.Snap = n.table.Snapshot()
	if slices.Contains(read, false) {
		spec.Unread = make([]bool, len(spec.Aggs))
		for j := range spec.Unread {
			spec.Unread[j] = j < len(read) && !read[j]
		}
	}
	groups, err := spec.RunGroups(ctx)
	if err != nil {
		return nil, err
	}
	users, err := groups.Users(ctx)
	if err != nil {
		return nil, err
	}
	return &aggBatches{n: n, sch: n.Schema(ctx), read: read, groups: groups, users: users, numbering: spec.Snap.UserIDs}, nil
}

// aggBatches hands out an engine aggregate's groups as batches.
type aggBatches struct {
	n         *AggregateNode
	sch       sql.Schema
	read      []bool         // per output: read above (else left nil)
	groups    *engine.Groups // each batch's values are read off it
	users     [][]uint32     // per output: the groups' user numbers, or nil
	numbering *storage.UserIDs
	pos       int
}

func (it *aggBatches) Next(ctx *sql.Context) (*native.Batch, error) {
	if it.groups == nil || it.pos >= it.groups.Len() {
		return nil, io.EOF
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	end := min(it.pos+native.BatchSize, it.groups.Len())
	n := end - it.pos
	b := &native.Batch{N: n, Cols: make([]*native.Column, len(it.sch))}
	for j, col := range it.sch {
		if j < len(it.read) && !it.read[j] {
			continue
		}
		c := native.NewColumn(col.Type, n)
		plain := j < len(it.n.outs) && it.n.outs[j] != outRetention && it.n.outs[j] != outDecimal
		for g := it.pos; g < end; g++ {
			v := it.groups.Value(g, j)
			if !plain || !appendStored(c, v) {
				c.Append(it.n.toSQL(j, v))
			}
		}
		// The numbers go with the strings only where every value stayed
		// the string toSQL gave for the user (Append kept KindString).
		if j < len(it.users) && it.users[j] != nil && c.Kind == native.KindString && it.numbering != nil {
			c.U, c.Users = it.users[j][it.pos:end:end], it.numbering
		}
		b.Cols[j] = c
	}
	it.pos = end
	if it.pos == it.groups.Len() {
		it.release()
	}
	return b, nil
}

// release drops the groups, handed out whole: their state is garbage
// and no longer charged to the query.
func (it *aggBatches) release() {
	if it.groups != nil {
		it.groups.Release()
	}
	it.groups, it.users = nil, nil
}

func (it *aggBatches) Close(*sql.Context) error {
	it.release()
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

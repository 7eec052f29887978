package native

// This file owns UNION: go-mysql-server's *plan.SetOp of UnionType, ALL
// or DISTINCT, with the ORDER BY, LIMIT and OFFSET it may carry.
//
// go-mysql-server's planner makes both sides' columns the same type
// before the union (a Project with a CONVERT on each side whose type
// differs), so the union itself only concatenates: the left side's rows,
// then the right side's. DISTINCT keeps the first row of each set of
// rows go-mysql-server's distinct iterator takes for equal: rows whose
// values print the same (hash.HashOf without a schema: integers and
// floats as decimals, strings as their bytes, NULL as "<nil>", anything
// else as fmt's %v), compared here exactly rather than by a 64-bit hash.
//
// The node's own OFFSET, ORDER BY and LIMIT run as go-mysql-server's
// buildSetOp runs them: OFFSET over the union's rows, then TopN (ORDER
// BY with LIMIT), LIMIT alone or Sort alone over what is left.
//
// INTERSECT and EXCEPT stay go-mysql-server's.

import (
	"fmt"
	"hash/maphash"
	"io"
	"strconv"
	"time"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/plan"
)

// unionOp is UNION ALL, or UNION DISTINCT when distinct.
type unionOp struct {
	left, right Operator
	distinct    bool
	sch         sql.Schema
}

func init() {
	register((*plan.SetOp)(nil), func(ctx *sql.Context, tr *Translation, n sql.Node) (Operator, string) {
		s := n.(*plan.SetOp)
		if s.SetOpType != plan.UnionType {
			return nil, "INTERSECT or EXCEPT"
		}
		sch := s.Schema(ctx)
		left, right := tr.child(ctx, s.Left()), tr.child(ctx, s.Right())
		if len(left.Schema()) != len(sch) || len(right.Schema()) != len(sch) {
			return nil, "UNION of sides with different widths"
		}
		var op Operator = &unionOp{left: left, right: right, distinct: s.Distinct, sch: sch}
		if s.Offset != nil {
			op = &limitOp{child: op, offset: s.Offset}
		}
		switch {
		case s.Limit != nil && len(s.SortFields) > 0:
			keys, err := newSortKeys(ctx, &Compiler{In: sch}, s.SortFields)
			if err != nil {
				return nil, err.Error()
			}
			op = &topNOp{child: op, keys: keys, limit: s.Limit}
		case s.Limit != nil:
			op = &limitOp{child: op, limit: s.Limit}
		case len(s.SortFields) > 0:
			keys, err := newSortKeys(ctx, &Compiler{In: sch}, s.SortFields)
			if err != nil {
				return nil, err.Error()
			}
			op = &sortOp{child: op, keys: keys}
		}
		return op, ""
	})
}

func (u *unionOp) Schema() sql.Schema   { return u.sch }
func (u *unionOp) Children() []Operator { return []Operator{u.left, u.right} }
func (u *unionOp) Describe() string {
	if u.distinct {
		return Marker + "Union distinct"
	}
	return Marker + "Union all"
}

func (u *unionOp) Open(ctx *sql.Context, run *Run) (BatchIter, error) {
	cur, err := u.left.Open(ctx, run)
	if err != nil {
		return nil, err
	}
	rightOpened := false
	var seen *rowSet
	var mem *memCharge
	var key []byte
	var sel []int32
	if u.distinct {
		seen, mem = newRowSet(), newMemCharge(ctx)
	}
	return &funcIter{
		next: func(ctx *sql.Context) (*Batch, error) {
			for {
				b, err := cur.Next(ctx)
				if err == io.EOF && !rightOpened {
					// As go-mysql-server's UnionIter: the right side
					// starts once the left one has ended.
					if err := cur.Close(ctx); err != nil {
						return nil, err
					}
					rightOpened = true
					if cur, err = u.right.Open(ctx, run); err != nil {
						cur = &sliceIter{}
						return nil, err
					}
					continue
				}
				if err != nil {
					return nil, err
				}
				if err := ctx.Err(); err != nil {
					return nil, err
				}
				if !u.distinct {
					return b, nil
				}
				sel = sel[:0]
				var grown int64
				for r := range b.N {
					key = key[:0]
					for j, c := range b.Cols {
						if j > 0 {
							key = append(key, 0)
						}
						if key, err = appendHashForm(ctx, key, c, r); err != nil {
							return nil, err
						}
					}
					if !seen.add(key) {
						continue
					}
					grown += int64(len(key)) + rowSetEntryBytes
					sel = append(sel, int32(r))
				}
				if err := mem.grow(grown, "union distinct"); err != nil {
					return nil, err
				}
				switch {
				case len(sel) == b.N:
					return b, nil
				case len(sel) > 0:
					return b.Gather(sel), nil
				}
			}
		},
		close: func(ctx *sql.Context) error {
			if mem != nil {
				mem.release()
			}
			seen = nil
			return cur.Close(ctx)
		},
	}, nil
}

// rowSet is a set of byte strings: a map from their hash to the first
// of a chain of stored keys, so that a lookup hashes a uint64 rather than
// the key and a key is stored once, in one arena.
type rowSet struct {
	hash  func([]byte) uint64 // maphash with a seed; a test forces collisions
	heads map[uint64]int32    // hash → first key with it
	next  []int32             // key → next key with the same hash, -1 at the end
	ends  []int               // key i is arena[ends[i-1]:ends[i]]
	arena []byte
}

// rowSetEntryBytes is one key's overhead in a rowSet (map entry, chain
// link, end offset), for the memory budget.
const rowSetEntryBytes = 48

func newRowSet() *rowSet {
	seed := maphash.MakeSeed()
	return &rowSet{hash: func(b []byte) uint64 { return maphash.Bytes(seed, b) }, heads: map[uint64]int32{}}
}

// add adds key and reports whether it was new.
func (s *rowSet) add(key []byte) bool {
	h := s.hash(key)
	i, ok := s.heads[h]
	for ok && i >= 0 {
		from := 0
		if i > 0 {
			from = s.ends[i-1]
		}
		if string(s.arena[from:s.ends[i]]) == string(key) {
			return false
		}
		i = s.next[i]
	}
	n := int32(len(s.ends))
	if head, had := s.heads[h]; had {
		s.next = append(s.next, head)
	} else {
		s.next = append(s.next, -1)
	}
	s.heads[h] = n
	s.arena = append(s.arena, key...)
	s.ends = append(s.ends, len(s.arena))
	return true
}

// appendHashForm appends row r of c as go-mysql-server's hash.HashOf
// prints a value without a schema, so that two values are one key here
// exactly when they hash alike there.
func appendHashForm(ctx *sql.Context, key []byte, c *Column, r int) ([]byte, error) {
	if c.IsNull(r) {
		return append(key, "<nil>"...), nil
	}
	switch c.Kind {
	case KindInt:
		return strconv.AppendInt(key, c.I[r], 10), nil
	case KindFloat:
		return appendFloatForm(key, c.Value(r)), nil
	case KindString:
		return append(key, c.S[r]...), nil
	}
	v, err := sql.UnwrapAny(ctx, c.Value(r))
	if err != nil {
		return nil, err
	}
	if v == nil {
		return append(key, "<nil>"...), nil
	}
	return appendValueForm(key, v), nil
}

func appendValueForm(key []byte, v any) []byte {
	switch v := v.(type) {
	case int:
		return strconv.AppendInt(key, int64(v), 10)
	case int8:
		return strconv.AppendInt(key, int64(v), 10)
	case int16:
		return strconv.AppendInt(key, int64(v), 10)
	case int32:
		return strconv.AppendInt(key, int64(v), 10)
	case int64:
		return strconv.AppendInt(key, v, 10)
	case uint:
		return strconv.AppendUint(key, uint64(v), 10)
	case uint8:
		return strconv.AppendUint(key, uint64(v), 10)
	case uint16:
		return strconv.AppendUint(key, uint64(v), 10)
	case uint32:
		return strconv.AppendUint(key, uint64(v), 10)
	case uint64:
		return strconv.AppendUint(key, v, 10)
	case float32, float64:
		return appendFloatForm(key, v)
	case string:
		return append(key, v...)
	case []byte:
		return append(key, v...)
	case time.Time:
		return append(key, v.String()...) // fmt's %v of a time.Time
	default:
		return fmt.Append(key, v)
	}
}

func appendFloatForm(key []byte, v any) []byte {
	n := len(key)
	switch f := v.(type) {
	case float32:
		key = strconv.AppendFloat(key, float64(f), 'f', -1, 32)
	case float64:
		key = strconv.AppendFloat(key, f, 'f', -1, 64)
	}
	if string(key[n:]) == "-0" {
		key = append(key[:n], '0')
	}
	return key
}

package engine

import (
	"fmt"

	"arb/storage"
)

// vec is one column of a batch, its values already of the column's
// current type. Exactly one of ints (Bool, Int, Time), floats (Float) or
// codes+dict (String, JSON) holds the values, unless missing (all NULL).
// Slices may be shared with the block cache: read-only.
type vec struct {
	typ     storage.ColumnType
	missing bool
	nulls   []bool  // nil: no NULL
	present []int32 // the non-NULL rows, when most are NULL (else nil)
	ints    []int64
	floats  []float64
	codes   []uint32
	dict    []string
	// userCodes: codes are user numbers (users, the snapshot's, names
	// them; dict is nil), global across parts, so they key groups as
	// they are.
	userCodes bool
	users     *storage.UserIDs
}

func (v *vec) isNull(r int) bool { return v.missing || (v.nulls != nil && v.nulls[r]) }

func (v *vec) value(r int) storage.Value {
	if v.isNull(r) {
		return storage.Value{}
	}
	switch {
	case v.userCodes:
		return storage.Value{Type: v.typ, Str: v.users.ID(v.codes[r])}
	case v.codes != nil:
		return storage.Value{Type: v.typ, Str: v.dict[v.codes[r]]}
	case v.floats != nil:
		return storage.FloatValue(v.floats[r])
	}
	return storage.Value{Type: v.typ, Int: v.ints[r]}
}

// segmentVec builds ref's vec over the loaded block of it; user numbers
// go into bufs (reused across batches: the vec lives for one batch).
func segmentVec(it *segmentIter, ref colRef, bufs *userBufs) (*vec, error) {
	switch ref.kind {
	case kindUnknown:
		return &vec{typ: storage.TypeNull, missing: true}, nil
	case kindDistinctID, kindRawDistinctID:
		blk := it.blocks[storage.ColUserNumber]
		if blk == nil {
			return nil, fmt.Errorf("%s has no user numbers", it.seg.Name())
		}
		return userVec(it.scan, blk.Ints, nil, ref.kind == kindDistinctID, bufs), nil
	}
	if it.missing(ref) {
		return &vec{typ: ref.typ, missing: true}, nil
	}
	blk := it.blocks[ref.name]
	if blk == nil {
		return nil, fmt.Errorf("BUG: column %q of %s not loaded", ref.name, it.seg.Name())
	}
	if it.stored[ref.name] == ref.typ {
		v := &vec{typ: ref.typ, nulls: blk.Nulls, present: blk.Present, ints: blk.Ints, floats: blk.Floats}
		if blk.Codes != nil {
			v.codes, v.dict = blk.Codes, it.dicts[ref.name]
		}
		return v, nil
	}
	// Widened since the segment was written: convert row by row.
	return convertedVec(ref.typ, func(r int) storage.Value { return it.value(ref, r) }, it.n), nil
}

// userBufs are a worker's reusable user-number buffers, one for
// distinct_id and one for raw_distinct_id.
type userBufs [2][]uint32

// userVec is distinct_id (canonical, or as sent) from user numbers.
func userVec(s *Scan, ints []int64, u32 []uint32, canonical bool, bufs *userBufs) *vec {
	n := len(ints)
	if u32 != nil {
		n = len(u32)
	}
	var codes []uint32
	if bufs != nil {
		k := 0
		if !canonical {
			k = 1
		}
		if cap(bufs[k]) < n {
			bufs[k] = make([]uint32, n)
		}
		codes = bufs[k][:n]
	} else {
		codes = make([]uint32, n)
	}
	merged := canonical && s.Snap.Canon.Merged()
	nUsers := s.Snap.UserIDs.Len()
	for i := range codes {
		var u uint32
		if u32 != nil {
			u = u32[i]
		} else {
			u = uint32(ints[i])
		}
		if merged {
			u = s.Snap.Canon.Of(u)
		}
		if int(u) >= nUsers {
			panic(fmt.Sprintf("BUG: user %d beyond the snapshot's %d users", u, nUsers))
		}
		codes[i] = u
	}
	return &vec{typ: storage.TypeString, codes: codes, users: s.Snap.UserIDs, userCodes: true}
}

// convertedVec builds a vec of type t from n values.
func convertedVec(t storage.ColumnType, get func(r int) storage.Value, n int) *vec {
	v := &vec{typ: t, nulls: make([]bool, n)}
	var index map[string]uint32
	switch t {
	case storage.TypeFloat:
		v.floats = make([]float64, n)
	case storage.TypeString, storage.TypeJSON:
		v.codes = make([]uint32, n)
		index = map[string]uint32{}
	default:
		v.ints = make([]int64, n)
	}
	anyNull := false
	for r := 0; r < n; r++ {
		x := get(r)
		if x.IsNull() {
			v.nulls[r], anyNull = true, true
			continue
		}
		switch t {
		case storage.TypeFloat:
			v.floats[r] = x.Float
		case storage.TypeString, storage.TypeJSON:
			c, ok := index[x.Str]
			if !ok {
				c = uint32(len(v.dict))
				index[x.Str] = c
				v.dict = append(v.dict, x.Str)
			}
			v.codes[r] = c
		default:
			v.ints[r] = x.Int
		}
	}
	if !anyNull {
		v.nulls = nil
	}
	return v
}

// memVec builds ref's vec over a chunk of buffered rows.
func memVec(mi *memIter, ref colRef) (*vec, error) {
	switch ref.kind {
	case kindUnknown:
		return &vec{typ: storage.TypeNull, missing: true}, nil
	case kindDistinctID, kindRawDistinctID:
		if mi.users == nil {
			return nil, fmt.Errorf("buffered rows have no user numbers")
		}
		return userVec(mi.scan, nil, mi.users, ref.kind == kindDistinctID, nil), nil
	}
	return convertedVec(ref.typ, func(r int) storage.Value { return memValue(&mi.rows[r], ref) }, len(mi.rows)), nil
}

// markRows sets bit in masks[r] for every row r of the loaded block b
// where p is TRUE.
func (it *segmentIter) markRows(p Predicate, b int, bit uint32, masks []uint32) error {
	plan, err := it.planFor(p, b)
	if err != nil || plan.skip {
		return err
	}
	switch {
	case plan.all:
		for r := range masks {
			masks[r] |= bit
		}
	case plan.residual == nil:
		itr := plan.exact.Iterator()
		itr.AdvanceIfNeeded(uint32(plan.first))
		end := uint32(plan.first + plan.n)
		for itr.HasNext() {
			r := itr.Next()
			if r >= end {
				break
			}
			masks[int(r)-plan.first] |= bit
		}
	default:
		rows, _ := it.matchRows(&plan)
		for _, r := range rows {
			masks[r] |= bit
		}
	}
	return nil
}

// matches evaluates p on buffered row i.
func (it *memIter) matches(p Predicate, i int) bool {
	e := &it.rows[i]
	return eval(p, func(col string) storage.Value { return it.value(e, i, it.preds[col]) }) == tTrue
}

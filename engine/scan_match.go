package engine

import "arb/storage"

// rowTest is a predicate compiled against the loaded block of a
// segmentIter: it returns eval's answer for row r of that block, without
// eval's per-row work of finding each column by name (three map lookups
// per column and row in value).
type rowTest func(r int) tri

// maxCodeTable bounds the dictionaries whose per-code answers a rowTest
// tabulates: the table is reset per block, so it must stay small next
// to a block's rows.
const maxCodeTable = 4 * storage.SegmentBlockRows

// compileRows compiles p against the loaded block. Invariant: for every
// row r of the block, compileRows(p)(r) == eval(p, get) where get reads
// row r through it.value(it.preds[col], r), as matchRows did.
//
// A leaf over a dictionary-coded column answers from a code → answer
// table filled on first sight of each code: a row's value, hence the
// leaf's answer, is a function of its code (value converts the code's
// string the same way every time), and NULL rows share one answer.
func (it *segmentIter) compileRows(p Predicate) rowTest {
	next := 0 // leaf ordinal: the table buffer it reuses
	return it.compileTerm(p, &next)
}

func (it *segmentIter) compileTerm(p Predicate, next *int) rowTest {
	switch p := p.(type) {
	case And:
		terms := it.compileTerms(p.Terms, next)
		return func(r int) tri {
			out := tTrue
			for _, t := range terms {
				switch t(r) {
				case tFalse:
					return tFalse
				case tUnknown:
					out = tUnknown
				}
			}
			return out
		}
	case Or:
		terms := it.compileTerms(p.Terms, next)
		return func(r int) tri {
			out := tFalse
			for _, t := range terms {
				switch t(r) {
				case tTrue:
					return tTrue
				case tUnknown:
					out = tUnknown
				}
			}
			return out
		}
	case Not:
		t := it.compileTerm(p.Term, next)
		return func(r int) tri {
			switch t(r) {
			case tTrue:
				return tFalse
			case tFalse:
				return tTrue
			}
			return tUnknown
		}
	}
	return it.compileLeaf(p, next)
}

func (it *segmentIter) compileTerms(ps []Predicate, next *int) []rowTest {
	out := make([]rowTest, len(ps))
	for i, t := range ps {
		out[i] = it.compileTerm(t, next)
	}
	return out
}

// leafColumn is the one column a leaf predicate reads.
func leafColumn(p Predicate) string {
	switch p := p.(type) {
	case Compare:
		return p.Column
	case In:
		return p.Column
	case IsNull:
		return p.Column
	case Prefix:
		return p.Column
	case InCohort:
		return p.column()
	}
	return ""
}

func (it *segmentIter) compileLeaf(p Predicate, next *int) rowTest {
	col := leafColumn(p)
	ref := it.preds[col]
	var blk *storage.ColumnBlock
	if !it.missing(ref) {
		blk = it.blocks[ref.name]
	}
	if blk == nil {
		// NULL in every row (value's missing and nil-block cases).
		t := eval(p, func(string) storage.Value { return storage.Value{} })
		return func(int) tri { return t }
	}
	if dict := it.dicts[ref.name]; isText(blk.Type) && blk.Codes != nil && len(dict) <= maxCodeTable &&
		ref.kind != kindCohort && !(ref.kind == kindDistinctID && ref.name == storage.ColUserNumber) {
		return it.codeLeaf(p, ref, blk, dict, next)
	}
	if t := intCompareLeaf(p, ref, blk); t != nil {
		return t
	}
	cur, dict := 0, it.dicts[ref.name]
	get := func(string) storage.Value { return it.blockValue(ref, blk, dict, cur) }
	return func(r int) tri {
		cur = r
		return eval(p, get)
	}
}

// intCompareLeaf is leaf p as a comparison of the block's integers with
// an integer literal (time bounds over a segment whose rows go user by
// user, where the time column's zone map cannot answer per block), or
// nil when p is not one. Same answers as eval: the block holds the
// column's current type, so blockValue's conversion is the identity,
// and compareValues compares two times, or two non-float numbers, as
// integers.
func intCompareLeaf(p Predicate, ref colRef, blk *storage.ColumnBlock) rowTest {
	c, ok := p.(Compare)
	if !ok || ref.kind == kindDistinctID || ref.kind == kindCohort || blk.Type != ref.typ {
		return nil
	}
	switch lt := c.Value.Type; blk.Type {
	case storage.TypeTime:
		if lt != storage.TypeTime {
			return nil
		}
	case storage.TypeInt, storage.TypeBool:
		if lt != storage.TypeInt && lt != storage.TypeBool {
			return nil
		}
	default:
		return nil
	}
	ints, nulls, lit := blk.Ints, blk.Nulls, c.Value.Int
	var holds func(v int64) bool
	switch c.Op {
	case OpEQ:
		holds = func(v int64) bool { return v == lit }
	case OpNE:
		holds = func(v int64) bool { return v != lit }
	case OpLT:
		holds = func(v int64) bool { return v < lit }
	case OpLE:
		holds = func(v int64) bool { return v <= lit }
	case OpGT:
		holds = func(v int64) bool { return v > lit }
	default:
		holds = func(v int64) bool { return v >= lit }
	}
	return func(r int) tri {
		if nulls != nil && nulls[r] {
			return tUnknown
		}
		return triOf(holds(ints[r]))
	}
}

// codeLeaf answers leaf p of a dictionary-coded block through a
// code → answer table (codeUnset until the code is first met).
func (it *segmentIter) codeLeaf(p Predicate, ref colRef, blk *storage.ColumnBlock, dict []string, next *int) rowTest {
	if *next == len(it.codeTri) {
		it.codeTri = append(it.codeTri, nil)
	}
	tbl := growTo(it.codeTri[*next][:0], len(dict))
	it.codeTri[*next] = tbl
	*next++
	for i := range tbl {
		tbl[i] = codeUnset
	}
	nullT := eval(p, func(string) storage.Value { return storage.Value{} })
	codes, nulls := blk.Codes, blk.Nulls
	return func(r int) tri {
		if nulls != nil && nulls[r] {
			return nullT
		}
		c := codes[r]
		t := tbl[c]
		if t == codeUnset {
			v := convert(storage.Value{Type: blk.Type, Str: dict[c]}, ref.typ)
			t = eval(p, func(string) storage.Value { return v })
			tbl[c] = t
		}
		return t
	}
}

// codeUnset marks a code whose answer is not yet in a codeLeaf table.
const codeUnset tri = 0xff

// blockValue is value(ref, i) given the loaded block blk of ref's column
// and its dictionary: value without its lookups by name.
func (it *segmentIter) blockValue(ref colRef, blk *storage.ColumnBlock, dict []string, i int) storage.Value {
	if blk.Nulls != nil && blk.Nulls[i] {
		return storage.Value{}
	}
	if ref.kind == kindDistinctID && ref.name == storage.ColUserNumber {
		return it.scan.canonicalID(uint32(blk.Ints[i]))
	}
	if ref.kind == kindCohort {
		return it.scan.inCohort(ref.cohort, uint32(blk.Ints[i]))
	}
	var v storage.Value
	switch blk.Type {
	case storage.TypeFloat:
		v = storage.FloatValue(blk.Floats[i])
	case storage.TypeString, storage.TypeJSON:
		v = storage.Value{Type: blk.Type, Str: dict[blk.Codes[i]]}
	default:
		v = storage.Value{Type: blk.Type, Int: blk.Ints[i]}
	}
	return convert(v, ref.typ)
}

package storage

// The merge step of a compaction (compaction.go): the rows of a day's
// input segments, less repeats by dedup key (the first copy stored
// wins), sorted by (user number, time) — Mixpanel's layout, where a
// user's events are contiguous so per-user work (funnels, retention,
// windows, joins on distinct_id) streams through one run of rows.
//
// Two implementations give the same rows in the same order and the same
// segment bytes (TestCompactionStreamingMatchesInMemory):
//   - the streaming merge (planMerge, mergePlan.write, in
//     compaction_stream.go): a k-way merge over the inputs' blocks,
//     written a column at a time. Its
//     memory does not grow with rows × columns: see its comment for the
//     bound. Compaction uses it.
//   - the in-memory merge (mergeSegments): every column of every input
//     gathered, deduplicated with a map, sorted, permuted — about 400
//     bytes of heap per row of the day. Compaction falls back to it only
//     when an input is not as the streaming merge needs
//     (errMergeFallback), and it is the reference the tests check the
//     streaming one against.
//
// INVARIANTS, checked on every run (an error aborts the compaction and
// the inputs stay live):
//   - rows read from each input equal that input's footer row count;
//   - rows out = rows in − duplicates removed;
//   - the order is stable: rows of one user at one time keep input order,
//     so the output is a function of the inputs alone (deterministic, as
//     replicas need).

import (
	"cmp"
	"fmt"
	"slices"
)

// mergedDay is a day's rows ready to be written as one segment.
type mergedDay struct {
	cols    []SegmentColumn // fixed columns first, then properties in schema order
	rows    int             // rows out
	inRows  []int           // rows read per input, in input order
	dups    []int           // duplicates removed per input
	nullsOf []int           // NULL count per column of cols, for the read-back check
}

// fixedSegmentColumns are the columns every segment has, in write order.
var fixedSegmentColumns = []Column{
	{Name: ColTime, Type: TypeTime},
	{Name: ColEvent, Type: TypeString},
	{Name: ColDistinctID, Type: TypeString},
	{Name: ColInsertID, Type: TypeString},
	{Name: ColUserNumber, Type: TypeInt},
}

// mergeSegments reads inputs and returns their merged, deduplicated and
// sorted rows. schema is the durable property schema of the project: a
// property column whose inputs disagree on its stored type is written in
// the schema's type (lossless by the widening rules; a value that does
// not convert is an error, never a silent change). name prefixes errors.
func mergeSegments(name string, inputs []*Segment, schema []Column) (*mergedDay, error) {
	total := 0
	for _, seg := range inputs {
		total += seg.Rows()
	}
	cols, err := mergedColumns(name, inputs, schema)
	if err != nil {
		return nil, err
	}
	// remaps[ci][in] maps input in's dictionary codes of a coded column ci
	// to the merged dictionary's (nil when ci is not coded).
	remaps := make([][][]uint32, len(cols))
	for i := range cols {
		cols[i] = newGatherColumn(cols[i].Name, cols[i].Type, total, i >= len(fixedSegmentColumns))
		if remaps[i], err = codedColumn(&cols[i], inputs); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	m := &mergedDay{inRows: make([]int, len(inputs)), dups: make([]int, len(inputs))}
	for in, seg := range inputs {
		before := len(cols[0].Ints)
		for ci := range cols {
			var err error
			if remaps[ci] != nil {
				err = gatherCodes(&cols[ci], seg, remaps[ci][in])
			} else {
				err = gatherColumn(&cols[ci], seg)
			}
			if err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
		}
		m.inRows[in] = len(cols[0].Ints) - before
		if m.inRows[in] != seg.Rows() {
			return nil, fmt.Errorf("%s: BUG: read %d rows of %s, its footer counts %d", name, m.inRows[in], seg.Name(), seg.Rows())
		}
		for ci := range cols {
			if n := columnLen(&cols[ci]); n != len(cols[0].Ints) {
				return nil, fmt.Errorf("%s: BUG: column %q has %d values after %s, time has %d", name, cols[ci].Name, n, seg.Name(), len(cols[0].Ints))
			}
		}
	}

	keep := dedupRows(cols, m.inRows, m.dups)
	times, users := cols[0].Ints, cols[4].Ints
	// Stable by construction: keep is in input order, and equal (user,
	// time) pairs fall back to it (cheaper than a stable sort).
	slices.SortFunc(keep, func(a, b int32) int {
		if c := cmp.Compare(users[a], users[b]); c != 0 {
			return c
		}
		if c := cmp.Compare(times[a], times[b]); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	m.rows = len(keep)
	dropped := 0
	for _, d := range m.dups {
		dropped += d
	}
	if m.rows != total-dropped {
		return nil, fmt.Errorf("%s: BUG: %d rows out, want %d rows in − %d duplicates", name, m.rows, total, dropped)
	}
	m.nullsOf = make([]int, len(cols))
	for ci := range cols {
		cols[ci] = permuteColumn(&cols[ci], keep)
		m.nullsOf[ci] = countNulls(cols[ci].Nulls)
		if m.nullsOf[ci] == 0 {
			cols[ci].Nulls = nil
		}
		if cols[ci].Dict != nil {
			dropUnusedEntries(&cols[ci])
		}
	}
	m.cols = cols
	return m, nil
}

// mergedColumns lists the output columns (types only): the fixed ones,
// then every property column some input has, in schema order.
func mergedColumns(name string, inputs []*Segment, schema []Column) ([]SegmentColumn, error) {
	cols := make([]SegmentColumn, 0, len(fixedSegmentColumns)+len(schema))
	for _, c := range fixedSegmentColumns {
		cols = append(cols, SegmentColumn{Name: c.Name, Type: c.Type})
	}
	inSchema := make(map[string]bool, len(schema))
	for _, c := range schema {
		inSchema[c.Name] = true
		var typ ColumnType
		found, agree := false, true
		for _, seg := range inputs {
			st, ok := seg.ColumnTypes()[c.Name]
			if !ok {
				continue
			}
			if found && st != typ {
				agree = false
			}
			typ, found = st, true
		}
		if !found {
			continue
		}
		if !agree {
			typ = c.Type
		}
		cols = append(cols, SegmentColumn{Name: c.Name, Type: typ})
	}
	fixed := map[string]bool{}
	for _, c := range fixedSegmentColumns {
		fixed[c.Name] = true
	}
	for _, seg := range inputs {
		for _, c := range seg.Columns() {
			if !fixed[c.Name] && !inSchema[c.Name] {
				return nil, fmt.Errorf("%s: segment %s has column %q, which the project's schema does not name", name, seg.Name(), c.Name)
			}
		}
	}
	return cols, nil
}

func newGatherColumn(name string, t ColumnType, capacity int, nullable bool) SegmentColumn {
	c := SegmentColumn{Name: name, Type: t}
	if nullable {
		c.Nulls = make([]bool, 0, capacity)
	}
	switch t {
	case TypeFloat:
		c.Floats = make([]float64, 0, capacity)
	case TypeString, TypeJSON:
		c.Strs = make([]string, 0, capacity)
	default:
		c.Ints = make([]int64, 0, capacity)
	}
	return c
}

func columnLen(c *SegmentColumn) int {
	switch {
	case c.Type == TypeFloat:
		return len(c.Floats)
	case c.Dict != nil:
		return len(c.Codes)
	case c.Type == TypeString || c.Type == TypeJSON:
		return len(c.Strs)
	}
	return len(c.Ints)
}

// strAt is a string column's value in row (of a coded column or not).
func strAt(c *SegmentColumn, row int) string {
	if c.Dict != nil {
		return c.Dict[c.Codes[row]]
	}
	return c.Strs[row]
}

// codedColumn makes c, a string or JSON column that every input holding
// it stores as c.Type, a dictionary-encoded one (SegmentColumn.Dict):
// the inputs' sorted dictionaries are merged, and rows keep codes, never
// strings, so no row's string is hashed, copied or compared. It returns
// each input's code → merged code table (nil for an input without the
// column), or nil when c is not such a column.
func codedColumn(c *SegmentColumn, inputs []*Segment) ([][]uint32, error) {
	if c.Type != TypeString && c.Type != TypeJSON {
		return nil, nil
	}
	dicts := make([][]string, len(inputs))
	for in, seg := range inputs {
		st, has := seg.ColumnTypes()[c.Name]
		switch {
		case has && st != c.Type:
			return nil, nil // a conversion: gathered as values
		case !has && c.Nulls == nil:
			dicts[in] = []string{""} // a fixed column reads "" where absent
		case has:
			d, err := seg.readDict(c.Name)
			if err != nil {
				return nil, err
			}
			dicts[in] = d
		}
	}
	merged, remaps := mergeDicts(dicts)
	c.Strs, c.Dict, c.Codes = nil, merged, make([]uint32, 0, cap(c.Strs))
	return remaps, nil
}

// mergeDicts merges sorted dictionaries into one sorted, without repeats,
// and returns for each input its code → merged code table.
func mergeDicts(dicts [][]string) ([]string, [][]uint32) {
	remaps := make([][]uint32, len(dicts))
	pos := make([]int, len(dicts))
	most := 0
	for i, d := range dicts {
		remaps[i] = make([]uint32, len(d))
		most = max(most, len(d))
	}
	merged := make([]string, 0, most)
	for {
		low := -1
		for i, d := range dicts {
			if pos[i] < len(d) && (low < 0 || d[pos[i]] < dicts[low][pos[low]]) {
				low = i
			}
		}
		if low < 0 {
			return merged, remaps
		}
		v, code := dicts[low][pos[low]], uint32(len(merged))
		merged = append(merged, v)
		for i, d := range dicts {
			if pos[i] < len(d) && d[pos[i]] == v {
				remaps[i][pos[i]] = code
				pos[i]++
			}
		}
	}
}

// gatherCodes appends seg's rows of coded column c, their codes mapped by
// remap (nil: seg lacks the column, so NULL or "" rows).
func gatherCodes(c *SegmentColumn, seg *Segment, remap []uint32) error {
	if _, has := seg.ColumnTypes()[c.Name]; !has {
		for i := 0; i < seg.Rows(); i++ {
			if c.Nulls != nil {
				c.Nulls = append(c.Nulls, true)
			}
			c.Codes = append(c.Codes, 0) // "" for a fixed column: remap of the [""] dictionary
		}
		return nil
	}
	for b := 0; b < seg.NumBlocks(); b++ {
		blk, err := seg.ReadBlock(c.Name, b)
		if err != nil {
			return err
		}
		_, n := seg.BlockRange(b)
		for i := 0; i < n; i++ {
			null := blk.Nulls != nil && blk.Nulls[i]
			if c.Nulls != nil {
				c.Nulls = append(c.Nulls, null)
			}
			code := uint32(0)
			if !null {
				code = remap[blk.Codes[i]]
			}
			c.Codes = append(c.Codes, code)
		}
	}
	return nil
}

// dropUnusedEntries renumbers a coded column's dictionary to the entries
// some non-NULL row still uses (a removed duplicate may have held the
// only copy of a value): a dictionary entry is a value of the segment.
func dropUnusedEntries(c *SegmentColumn) {
	used := make([]bool, len(c.Dict))
	for row, code := range c.Codes {
		if c.Nulls == nil || !c.Nulls[row] {
			used[code] = true
		}
	}
	if !slices.Contains(used, false) {
		return
	}
	renum := make([]uint32, len(c.Dict))
	dict := make([]string, 0, len(c.Dict))
	for code, u := range used {
		if u {
			renum[code] = uint32(len(dict))
			dict = append(dict, c.Dict[code])
		}
	}
	for row, code := range c.Codes {
		c.Codes[row] = renum[code] // a NULL row's code 0 maps to some code: unread
		if c.Nulls != nil && c.Nulls[row] {
			c.Codes[row] = 0
		}
	}
	c.Dict = dict
}

// gatherColumn appends seg's rows of column c (NULLs where seg lacks it),
// converting each value to c.Type.
func gatherColumn(c *SegmentColumn, seg *Segment) error {
	st, has := seg.ColumnTypes()[c.Name]
	if !has {
		for i := 0; i < seg.Rows(); i++ {
			appendNull(c)
		}
		return nil
	}
	return eachValue(seg, c.Name, func(row int, v Value, null bool) error {
		if null {
			appendNull(c)
			return nil
		}
		if st != c.Type {
			cv, ok := v.Convert(c.Type)
			if !ok {
				return fmt.Errorf("%s: column %q row %d: %v value %s does not convert to %v",
					seg.Name(), c.Name, row, st, v.Text(), c.Type)
			}
			v = cv
		}
		appendValue(c, v)
		return nil
	})
}

// eachValue calls fn with every row of seg's column name, in row order:
// its value as stored, or null. Dictionaries are decoded for this call
// only (compaction reads each once).
func eachValue(seg *Segment, name string, fn func(row int, v Value, null bool) error) error {
	st := seg.ColumnTypes()[name]
	var dict []string
	if st == TypeString || st == TypeJSON {
		var err error
		if dict, err = seg.readDict(name); err != nil {
			return err
		}
	}
	for b := 0; b < seg.NumBlocks(); b++ {
		blk, err := seg.ReadBlock(name, b)
		if err != nil {
			return err
		}
		first, n := seg.BlockRange(b)
		for i := 0; i < n; i++ {
			if blk.Nulls != nil && blk.Nulls[i] {
				if err := fn(first+i, Value{}, true); err != nil {
					return err
				}
				continue
			}
			v := Value{Type: st}
			switch st {
			case TypeFloat:
				v.Float = blk.Floats[i]
			case TypeString, TypeJSON:
				v.Str = dict[blk.Codes[i]]
			default:
				v.Int = blk.Ints[i]
			}
			if err := fn(first+i, v, false); err != nil {
				return err
			}
		}
	}
	return nil
}

// appendNull appends a NULL; fixed columns (no Nulls) take the zero value,
// as segments store them (keyColumns reads a NULL id as "").
func appendNull(c *SegmentColumn) {
	if c.Nulls != nil {
		c.Nulls = append(c.Nulls, true)
	}
	appendRaw(c, Value{})
}

// appendValue appends a non-NULL value of type c.Type.
func appendValue(c *SegmentColumn, v Value) {
	if c.Nulls != nil {
		c.Nulls = append(c.Nulls, false)
	}
	appendRaw(c, v)
}

func appendRaw(c *SegmentColumn, v Value) {
	switch c.Type {
	case TypeFloat:
		c.Floats = append(c.Floats, v.Float)
	case TypeString, TypeJSON:
		c.Strs = append(c.Strs, v.Str)
	default:
		c.Ints = append(c.Ints, v.Int)
	}
}

// dedupRows returns the rows to keep, in input order: every row without
// an insert_id, and the first row of each dedup key. dups counts the
// dropped rows per input (inRows gives each input's row count). The key
// columns are coded (codedColumn), so a key is compared as four numbers.
func dedupRows(cols []SegmentColumn, inRows []int, dups []int) []int32 {
	times, names, ids, inserts := &cols[0], &cols[1], &cols[2], &cols[3]
	if names.Dict == nil || ids.Dict == nil || inserts.Dict == nil {
		panic("BUG: compaction's key columns are not dictionary-encoded")
	}
	type codedKey struct {
		time                 int64
		name, id, insertCode uint32
	}
	noInsert := -1 // the code of "", if the dictionary has it
	if len(inserts.Dict) > 0 && inserts.Dict[0] == "" {
		noInsert = 0
	}
	keep := make([]int32, 0, len(times.Ints))
	seen := make(map[codedKey]struct{}, len(times.Ints))
	row := 0
	for in, n := range inRows {
		for end := row + n; row < end; row++ {
			if code := inserts.Codes[row]; int(code) != noInsert {
				k := codedKey{times.Ints[row], names.Codes[row], ids.Codes[row], code}
				if _, dup := seen[k]; dup {
					dups[in]++
					continue
				}
				seen[k] = struct{}{}
			}
			keep = append(keep, int32(row))
		}
	}
	return keep
}

// permuteColumn returns c's values at rows keep, in that order.
func permuteColumn(c *SegmentColumn, keep []int32) SegmentColumn {
	out := SegmentColumn{Name: c.Name, Type: c.Type}
	if c.Nulls != nil {
		out.Nulls = make([]bool, len(keep))
		for i, r := range keep {
			out.Nulls[i] = c.Nulls[r]
		}
	}
	switch {
	case c.Dict != nil:
		out.Dict = c.Dict
		out.Codes = make([]uint32, len(keep))
		for i, r := range keep {
			out.Codes[i] = c.Codes[r]
		}
		return out
	}
	switch c.Type {
	case TypeFloat:
		out.Floats = make([]float64, len(keep))
		for i, r := range keep {
			out.Floats[i] = c.Floats[r]
		}
	case TypeString, TypeJSON:
		out.Strs = make([]string, len(keep))
		for i, r := range keep {
			out.Strs[i] = c.Strs[r]
		}
	default:
		out.Ints = make([]int64, len(keep))
		for i, r := range keep {
			out.Ints[i] = c.Ints[r]
		}
	}
	return out
}

func countNulls(nulls []bool) int {
	n := 0
	for _, null := range nulls {
		if null {
			n++
		}
	}
	return n
}

// checkWritten reads every column of a just-written segment back and
// compares it value by value with what was written: the manifest names a
// compaction's output only after this passes.
func (m *mergedDay) checkWritten(seg *Segment) error {
	if seg.Rows() != m.rows {
		return fmt.Errorf("%s holds %d rows, wrote %d", seg.Name(), seg.Rows(), m.rows)
	}
	for ci := range m.cols {
		if err := checkColumn(seg, &m.cols[ci]); err != nil {
			return err
		}
	}
	return nil
}

func checkColumn(seg *Segment, c *SegmentColumn) error {
	st, ok := seg.ColumnTypes()[c.Name]
	if !ok || st != c.Type {
		return fmt.Errorf("%s: column %q: stored as %v (present %v), wrote %v", seg.Name(), c.Name, st, ok, c.Type)
	}
	return eachValue(seg, c.Name, func(r int, v Value, null bool) error {
		same := null == (c.Nulls != nil && c.Nulls[r])
		if same && !null {
			switch st {
			case TypeFloat:
				same = v.Float == c.Floats[r] || (v.Float != v.Float && c.Floats[r] != c.Floats[r])
			case TypeString, TypeJSON:
				same = v.Str == strAt(c, r)
			default:
				same = v.Int == c.Ints[r]
			}
		}
		if !same {
			return fmt.Errorf("%s: column %q row %d reads back different from what was written", seg.Name(), c.Name, r)
		}
		return nil
	})
}

package engine

import (
	"fmt"
	"math/bits"
	"strings"

	"github.com/RoaringBitmap/roaring/v2"

	"arb/storage"
)

// aggState is the per-group state of one aggregate in one worker,
// indexed by group id.
type aggState interface {
	grow(groups int)
	// add folds the selected rows of a batch in; gids[i] is the group of
	// the batch's i-th selected row.
	add(w *aggWorker, b *batch, gids []int32, ref colRef) error
	// merge folds group sg of src (a state of the same Agg) into group dg.
	merge(dg int32, src aggState, sg int32)
	result(g int32) storage.Value
}

func newAggState(a Agg, ref colRef) aggState {
	switch a.Kind {
	case AggCount:
		return &countState{star: a.Column == ""}
	case AggCountDistinct:
		return &distinctState{}
	case AggSum, AggAvg:
		if a.Exact {
			return &exactSumState{avg: a.Kind == AggAvg, scale: a.Scale} // aggregate_exact_sum.go
		}
		return &sumState{avg: a.Kind == AggAvg}
	case AggMin, AggMax:
		if ref.kind == kindTime && extremeTimeOn {
			return &extremeTimeState{max: a.Kind == AggMax} // aggregate_extreme_time.go
		}
		return &extremeState{max: a.Kind == AggMax, typ: ref.typ}
	case AggAny:
		return &anyState{}
	case AggWindowFunnel:
		return &funnelState{window: a.WindowMillis, conds: a.Conds}
	case AggRetention:
		return &retentionState{conds: a.Conds}
	}
	panic(fmt.Sprintf("BUG: aggregate kind %d", a.Kind))
}

func growTo[T any](s []T, n int) []T {
	if n <= len(s) {
		return s
	}
	if n <= cap(s) {
		return s[:n]
	}
	out := make([]T, n, max(n, 2*cap(s)))
	copy(out, s)
	return out
}

type countState struct {
	star bool
	n    []int64
}

func (s *countState) grow(g int) { s.n = growTo(s.n, g) }

func (s *countState) add(_ *aggWorker, b *batch, gids []int32, ref colRef) error {
	if s.star {
		for _, g := range gids {
			s.n[g]++
		}
		return nil
	}
	v, err := b.column(ref)
	if err != nil || v.missing {
		return err
	}
	if v.nulls == nil {
		for _, g := range gids {
			s.n[g]++
		}
		return nil
	}
	for i, g := range gids {
		if !v.nulls[b.row(i)] {
			s.n[g]++
		}
	}
	return nil
}

func (s *countState) merge(dg int32, src aggState, sg int32) { s.n[dg] += src.(*countState).n[sg] }
func (s *countState) result(g int32) storage.Value           { return storage.IntValue(s.n[g]) }

// sumState sums as float64, as go-mysql-server's SUM and AVG do for
// integer and float columns.
type sumState struct {
	avg bool
	sum []float64
	n   []int64 // non-NULL values added
}

func (s *sumState) grow(g int) { s.sum, s.n = growTo(s.sum, g), growTo(s.n, g) }

func (s *sumState) add(_ *aggWorker, b *batch, gids []int32, ref colRef) error {
	v, err := b.column(ref)
	if err != nil || v.missing {
		return err
	}
	switch {
	case v.floats != nil:
		for i, g := range gids {
			r := b.row(i)
			if v.nulls == nil || !v.nulls[r] {
				s.sum[g] += v.floats[r]
				s.n[g]++
			}
		}
	case v.ints != nil:
		for i, g := range gids {
			r := b.row(i)
			if v.nulls == nil || !v.nulls[r] {
				s.sum[g] += float64(v.ints[r])
				s.n[g]++
			}
		}
	default:
		return fmt.Errorf("sum of a %v column", v.typ)
	}
	return nil
}

func (s *sumState) merge(dg int32, src aggState, sg int32) {
	o := src.(*sumState)
	s.sum[dg] += o.sum[sg]
	s.n[dg] += o.n[sg]
}

func (s *sumState) result(g int32) storage.Value {
	if s.n[g] == 0 {
		return storage.Value{}
	}
	if s.avg {
		return storage.FloatValue(s.sum[g] / float64(s.n[g]))
	}
	return storage.FloatValue(s.sum[g])
}

// extremeState is min or max, compared as SQL compares the column's type
// (strings byte-wise: the binary collation).
type extremeState struct {
	max  bool
	typ  storage.ColumnType
	has  []bool
	vals []storage.Value
}

func (s *extremeState) grow(g int) { s.has, s.vals = growTo(s.has, g), growTo(s.vals, g) }

func (s *extremeState) better(a, b storage.Value) bool {
	var c int
	switch {
	case isText(a.Type):
		c = strings.Compare(a.Str, b.Str)
	case a.Type == storage.TypeFloat:
		switch {
		case a.Float < b.Float:
			c = -1
		case a.Float > b.Float:
			c = 1
		}
	default:
		c = cmpInt(a.Int, b.Int)
	}
	if s.max {
		return c > 0
	}
	return c < 0
}

func (s *extremeState) offer(g int32, v storage.Value) {
	if !s.has[g] || s.better(v, s.vals[g]) {
		s.has[g], s.vals[g] = true, v
	}
}

func (s *extremeState) add(_ *aggWorker, b *batch, gids []int32, ref colRef) error {
	v, err := b.column(ref)
	if err != nil || v.missing {
		return err
	}
	if v.ints != nil && v.typ != storage.TypeFloat {
		for i, g := range gids {
			r := b.row(i)
			if v.nulls != nil && v.nulls[r] {
				continue
			}
			x := v.ints[r]
			if !s.has[g] || (s.max && x > s.vals[g].Int) || (!s.max && x < s.vals[g].Int) {
				s.has[g], s.vals[g] = true, storage.Value{Type: v.typ, Int: x}
			}
		}
		return nil
	}
	for i, g := range gids {
		r := b.row(i)
		if !v.isNull(r) {
			s.offer(g, v.value(r))
		}
	}
	return nil
}

func (s *extremeState) merge(dg int32, src aggState, sg int32) {
	if o := src.(*extremeState); o.has[sg] {
		s.offer(dg, o.vals[sg])
	}
}

func (s *extremeState) result(g int32) storage.Value {
	if !s.has[g] {
		return storage.Value{}
	}
	return s.vals[g]
}

// distinctState counts distinct non-NULL values: a bitmap of keys where
// keys fit 32 bits (user numbers, interned strings, booleans), else a set.
type distinctState struct {
	bitmaps []*roaring.Bitmap
	sets    []map[uint64]struct{}
	// dense holds, for groups of user numbers while the budget lasts, a
	// plain bitset over all users: one store per row instead of a
	// roaring insert. denseBytes counts what they take.
	dense      [][]uint64
	denseBytes int64
	// contentBytes estimates the sets' and bitmaps' contents, for the
	// query's MemoryBudget (sizeBytes); it only grows.
	contentBytes int64
}

func (s *distinctState) sizeBytes() int64 { return s.denseBytes + s.contentBytes }

// mergedBytes counts what merging src in may add: at most all of it.
func (s *distinctState) mergedBytes(src aggState) { s.contentBytes += src.(*distinctState).sizeBytes() }

// distinctDenseBudget bounds the bytes of dense user bitsets per state.
const distinctDenseBudget = 64 << 20

func (s *distinctState) grow(g int) {
	s.bitmaps, s.sets, s.dense = growTo(s.bitmaps, g), growTo(s.sets, g), growTo(s.dense, g)
}

// addUsers is add for user-number codes.
func (s *distinctState) addUsers(w *aggWorker, b *batch, gids []int32, v *vec) {
	words := (v.users.Len() + 63) / 64
	// Dense bitsets take at most a quarter of the query's memory budget.
	denseLimit := int64(distinctDenseBudget)
	if lb := w.run.budget.LimitBytes(); lb > 0 {
		denseLimit = min(denseLimit, lb/4)
	}
	for i, g := range gids {
		u := v.codes[b.row(i)]
		d := s.dense[g]
		if d == nil && s.bitmaps[g] == nil && s.denseBytes+int64(8*words) <= denseLimit {
			d = make([]uint64, words)
			s.dense[g] = d
			s.denseBytes += int64(8 * words)
		}
		if d != nil {
			d[u>>6] |= 1 << (u & 63)
			continue
		}
		bm := s.bitmaps[g]
		if bm == nil {
			bm = roaring.New()
			s.bitmaps[g] = bm
			s.contentBytes += newBitmapBytes
		}
		if bm.CheckedAdd(u) {
			s.contentBytes += bitmapEntryBytes
		}
	}
}

// toBitmap folds group g's dense bitset into its bitmap.
func (s *distinctState) toBitmap(g int32) *roaring.Bitmap {
	bm := s.bitmaps[g]
	if bm == nil {
		bm = roaring.New()
		s.bitmaps[g] = bm
	}
	if d := s.dense[g]; d != nil {
		for i, word := range d {
			for word != 0 {
				bm.Add(uint32(i*64 + bits.TrailingZeros64(word)))
				word &= word - 1
			}
		}
		s.dense[g] = nil
	}
	return bm
}

func (s *distinctState) add(w *aggWorker, b *batch, gids []int32, ref colRef) error {
	v, err := b.column(ref)
	if err != nil || v.missing {
		return err
	}
	if v.userCodes {
		s.addUsers(w, b, gids, v)
		return nil
	}
	key := w.keyer(v)
	small := v.codes != nil || v.typ == storage.TypeBool
	for i, g := range gids {
		r := b.row(i)
		if v.isNull(r) {
			continue
		}
		k := key(r)
		if small {
			bm := s.bitmaps[g]
			if bm == nil {
				bm = roaring.New()
				s.bitmaps[g] = bm
				s.contentBytes += newBitmapBytes
			}
			if bm.CheckedAdd(uint32(k)) {
				s.contentBytes += bitmapEntryBytes
			}
			continue
		}
		set := s.sets[g]
		if set == nil {
			set = map[uint64]struct{}{}
			s.sets[g] = set
			s.contentBytes += newSetBytes
		}
		n := len(set)
		set[k] = struct{}{}
		if len(set) != n {
			s.contentBytes += setEntryBytes
		}
	}
	return nil
}

func (s *distinctState) merge(dg int32, src aggState, sg int32) {
	o := src.(*distinctState)
	if od := o.dense[sg]; od != nil {
		if d := s.dense[dg]; d != nil && len(d) == len(od) {
			for i := range d {
				d[i] |= od[i]
			}
		} else {
			s.toBitmap(dg).Or(o.toBitmap(sg))
		}
	}
	if bm := o.bitmaps[sg]; bm != nil {
		if s.bitmaps[dg] == nil {
			s.bitmaps[dg] = roaring.New()
		}
		s.bitmaps[dg].Or(bm)
	}
	if set := o.sets[sg]; set != nil {
		if s.sets[dg] == nil {
			s.sets[dg] = map[uint64]struct{}{}
		}
		for k := range set {
			s.sets[dg][k] = struct{}{}
		}
	}
}

func (s *distinctState) result(g int32) storage.Value {
	var n uint64
	if s.dense[g] != nil && s.bitmaps[g] != nil {
		s.toBitmap(g)
	}
	for _, word := range s.dense[g] {
		n += uint64(bits.OnesCount64(word))
	}
	if s.bitmaps[g] != nil {
		n += s.bitmaps[g].GetCardinality()
	}
	n += uint64(len(s.sets[g]))
	return storage.IntValue(int64(n))
}

// anyState keeps the group's first row's value in scan order; part
// records where it was seen, so the merge keeps the earliest.
type anyState struct {
	has  []bool
	part []int
	vals []storage.Value
}

func (s *anyState) grow(g int) {
	s.has, s.part, s.vals = growTo(s.has, g), growTo(s.part, g), growTo(s.vals, g)
}

func (s *anyState) add(w *aggWorker, b *batch, gids []int32, ref colRef) error {
	var v *vec
	for i, g := range gids {
		if s.has[g] {
			continue
		}
		if v == nil {
			var err error
			if v, err = b.column(ref); err != nil {
				return err
			}
		}
		s.has[g], s.part[g], s.vals[g] = true, w.part, v.value(b.row(i))
	}
	return nil
}

func (s *anyState) merge(dg int32, src aggState, sg int32) {
	o := src.(*anyState)
	if o.has[sg] && (!s.has[dg] || o.part[sg] < s.part[dg]) {
		s.has[dg], s.part[dg], s.vals[dg] = true, o.part[sg], o.vals[sg]
	}
}

func (s *anyState) result(g int32) storage.Value { return s.vals[g] }

// funnelState collects the events that meet any condition as (group,
// event) pairs in one array — a few million small per-group slices would
// cost far more — and groups them by a counting sort at the end.
type funnelState struct {
	window int64
	conds  []Predicate
	groups int
	pairs  funnelPairs
	// After finish: events of group g are byGroup[start[g]:start[g+1]].
	finished bool
	start    []int32
	byGroup  []FunnelEvent
}

// funnelPair is one event of group g, packed in 16 bytes.
type funnelPair struct {
	t     int64
	steps uint32
	g     int32
}

// funnelPairs is an append-only list in chunks: appending never copies.
type funnelPairs struct {
	chunks [][]funnelPair
	n      int
}

const funnelChunk = 1 << 16

func (l *funnelPairs) add(p funnelPair) {
	if len(l.chunks) == 0 || len(l.chunks[len(l.chunks)-1]) == funnelChunk {
		l.chunks = append(l.chunks, make([]funnelPair, 0, funnelChunk))
	}
	c := &l.chunks[len(l.chunks)-1]
	*c = append(*c, p)
	l.n++
}

func (s *funnelState) grow(g int) { s.groups = max(s.groups, g) }

// sizeBytes counts the collected pairs and, once finished, their copy
// grouped by group.
func (s *funnelState) sizeBytes() int64 {
	return int64(s.pairs.n)*16 + int64(len(s.byGroup))*24 + int64(len(s.start))*4
}

// mergedBytes is nothing: mergeAll appends src's pairs, which sizeBytes sees.
func (s *funnelState) mergedBytes(aggState) {}

func (s *funnelState) add(w *aggWorker, b *batch, gids []int32, ref colRef) error {
	masks, err := w.condMasks(b, s.conds)
	if err != nil {
		return err
	}
	var tv *vec
	for i, g := range gids {
		r := b.row(i)
		m := masks[r]
		if m == 0 {
			continue
		}
		if tv == nil {
			if tv, err = b.column(ref); err != nil {
				return err
			}
		}
		if tv.isNull(r) {
			continue
		}
		s.pairs.add(funnelPair{t: tv.ints[r], steps: m, g: g})
	}
	return nil
}

func (s *funnelState) merge(dg int32, src aggState, sg int32) {
	panic("BUG: funnelState merges in bulk (mergeAll)")
}

// mergeAll folds all of src in, its group g becoming remap[g].
func (s *funnelState) mergeAll(remap []int32, src aggState) {
	for _, c := range src.(*funnelState).pairs.chunks {
		for _, p := range c {
			p.g = remap[p.g]
			s.pairs.add(p)
		}
	}
}

func (s *funnelState) finish() {
	if s.finished {
		return
	}
	s.finished = true
	s.start = make([]int32, s.groups+1)
	for _, c := range s.pairs.chunks {
		for _, p := range c {
			s.start[p.g+1]++
		}
	}
	for g := 1; g <= s.groups; g++ {
		s.start[g] += s.start[g-1]
	}
	s.byGroup = make([]FunnelEvent, s.pairs.n)
	next := append([]int32(nil), s.start[:s.groups]...)
	for _, c := range s.pairs.chunks {
		for _, p := range c {
			s.byGroup[next[p.g]] = FunnelEvent{TimeMillis: p.t, Steps: p.steps}
			next[p.g]++
		}
	}
	s.pairs = funnelPairs{}
}

func (s *funnelState) result(g int32) storage.Value {
	s.finish()
	evs := s.byGroup[s.start[g]:s.start[g+1]]
	return storage.IntValue(int64(WindowFunnel(s.window, len(s.conds), evs)))
}

// retentionState ORs each group's condition masks.
type retentionState struct {
	conds []Predicate
	seen  []uint32
}

func (s *retentionState) grow(g int) { s.seen = growTo(s.seen, g) }

func (s *retentionState) add(w *aggWorker, b *batch, gids []int32, _ colRef) error {
	masks, err := w.condMasks(b, s.conds)
	if err != nil {
		return err
	}
	for i, g := range gids {
		s.seen[g] |= masks[b.row(i)]
	}
	return nil
}

func (s *retentionState) merge(dg int32, src aggState, sg int32) {
	s.seen[dg] |= src.(*retentionState).seen[sg]
}

func (s *retentionState) result(g int32) storage.Value {
	var b strings.Builder
	b.WriteByte('[')
	for i, f := range RetentionFlags(len(s.conds), s.seen[g]) {
		if i > 0 {
			b.WriteByte(',')
		}
		if f {
			b.WriteByte('1')
		} else {
			b.WriteByte('0')
		}
	}
	b.WriteByte(']')
	return storage.JSONValue(b.String())
}

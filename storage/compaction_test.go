package storage

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// rowText renders a row as comparable text: fixed columns, then the
// properties sorted by key, each value converted to its column's type in
// schema (so a row written when `amount` was an int column and read after
// it widened to float renders the same either way).
func rowText(timeMillis int64, name, distinctID, insertID string, props map[string]Value, schema map[string]ColumnType) string {
	keys := make([]string, 0, len(props))
	for k := range props {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	fmt.Fprintf(&b, "%d|%s|%s|%s", timeMillis, name, distinctID, insertID)
	for _, k := range keys {
		v := props[k]
		if t, ok := schema[k]; ok && t != v.Type {
			if cv, ok := v.Convert(t); ok {
				v = cv
			}
		}
		fmt.Fprintf(&b, "|%s=%s", k, v.Text())
	}
	return b.String()
}

// visibleRows reads every row of a project's snapshot, segments and
// buffered rows alike, as rowText → count, with the rows' days.
func visibleRows(t testing.TB, p *Project) map[string]int {
	t.Helper()
	out, err := readVisibleRows(p)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func readVisibleRows(p *Project) (map[string]int, error) {
	snap := p.Snapshot()
	schema := map[string]ColumnType{}
	for _, c := range snap.Columns {
		schema[c.Name] = c.Type
	}
	out := map[string]int{}
	for _, ref := range snap.Segments {
		seg := ref.Segment
		cols := seg.Columns()
		for b := 0; b < seg.NumBlocks(); b++ {
			_, n := seg.BlockRange(b)
			vals := make([]map[string]Value, n)
			for i := range vals {
				vals[i] = map[string]Value{}
			}
			for _, c := range cols {
				blk, err := seg.ReadBlock(c.Name, b)
				if err != nil {
					return nil, err
				}
				var dict []string
				if c.Type == TypeString || c.Type == TypeJSON {
					if dict, err = seg.Dict(c.Name); err != nil {
						return nil, err
					}
				}
				for i := 0; i < n; i++ {
					if blk.Nulls != nil && blk.Nulls[i] {
						continue
					}
					v := Value{Type: c.Type}
					switch c.Type {
					case TypeFloat:
						v.Float = blk.Floats[i]
					case TypeString, TypeJSON:
						v.Str = dict[blk.Codes[i]]
					default:
						v.Int = blk.Ints[i]
					}
					vals[i][c.Name] = v
				}
			}
			for i := 0; i < n; i++ {
				r := vals[i]
				tm, name, id, ins := r[ColTime].Int, r[ColEvent].Str, r[ColDistinctID].Str, r[ColInsertID].Str
				for _, k := range []string{ColTime, ColEvent, ColDistinctID, ColInsertID, ColUserNumber} {
					delete(r, k)
				}
				out[rowText(tm, name, id, ins, r, schema)]++
			}
		}
	}
	for _, m := range snap.Mem {
		for _, e := range m.Rows {
			props := map[string]Value{}
			for _, pr := range e.Props {
				props[pr.Key] = pr.Value
			}
			out[rowText(e.TimeMillis, e.Name, e.DistinctID, e.InsertID, props, schema)]++
		}
	}
	return out, nil
}

// compactionModel is what a project must hold: every acknowledged row,
// keyed rows once, and the raw copies a test planted past dedup.
type compactionModel struct {
	mu      sync.Mutex
	rows    map[string]int // rowText → acknowledged copies (keyed rows: 1)
	planted map[string]int // extra copies written past dedup, until a whole merge drops them
	keys    map[dedupKey]Event
	evs     []Event // acknowledged rows, to resend or plant
	pending []Event // the batch being ingested: may be visible before it is acknowledged
}

func newCompactionModel() *compactionModel {
	return &compactionModel{rows: map[string]int{}, planted: map[string]int{}, keys: map[dedupKey]Event{}}
}

func eventText(e Event, schema map[string]ColumnType) string {
	props := map[string]Value{}
	for _, pr := range e.Props {
		props[pr.Key] = pr.Value
	}
	return rowText(e.TimeMillis, e.Name, e.DistinctID, e.InsertID, props, schema)
}

func schemaOf(p *Project) map[string]ColumnType {
	out := map[string]ColumnType{}
	for _, c := range p.Columns(TableEvents) {
		out[c.Name] = c.Type
	}
	return out
}

// randomCompactionBatch makes a batch: new rows over six days (one of them
// far back, as late data), some without insert_id, some repeating a key
// within the batch or one acknowledged before, with property types that
// widen columns (int → float → string).
func randomCompactionBatch(r *rand.Rand, m *compactionModel, run, batch int) []Event {
	base := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	n := 1 + r.Intn(40)
	evs := make([]Event, 0, n)
	for i := 0; i < n; i++ {
		if len(m.evs) > 0 && r.Intn(8) == 0 { // a retry of an acknowledged event
			e := m.evs[r.Intn(len(m.evs))]
			e.Props = append([]Prop(nil), e.Props...)
			evs = append(evs, e)
			continue
		}
		if len(evs) > 0 && r.Intn(10) == 0 { // a repeat within the batch
			e := evs[r.Intn(len(evs))]
			e.Props = append([]Prop(nil), e.Props...)
			evs = append(evs, e)
			continue
		}
		day := int64(r.Intn(5))
		if r.Intn(10) == 0 {
			day = -40 // late data for an old day
		}
		e := Event{
			TimeMillis: base + day*millisPerDay + r.Int63n(millisPerDay),
			Name:       []string{"Signup", "Page View", "Purchase"}[r.Intn(3)],
			DistinctID: fmt.Sprintf("u%d", r.Intn(30)),
		}
		if r.Intn(6) != 0 {
			e.InsertID = fmt.Sprintf("r%d-b%d-%d", run, batch, i)
		}
		if r.Intn(2) == 0 {
			e.Props = append(e.Props, Prop{"plan", StringValue([]string{"free", "pro", "enterprise"}[r.Intn(3)])})
		}
		switch r.Intn(10) {
		case 0:
			e.Props = append(e.Props, Prop{"amount", FloatValue(float64(r.Intn(1000)) / 8)})
		case 1:
			if batch > 3 {
				e.Props = append(e.Props, Prop{"amount", StringValue("n/a")})
			}
		case 2, 3, 4:
			e.Props = append(e.Props, Prop{"amount", IntValue(int64(r.Intn(100)))})
		}
		if r.Intn(20) == 0 {
			e.Props = append(e.Props, Prop{fmt.Sprintf("rare%d", r.Intn(3)), BoolValue(r.Intn(2) == 0)})
		}
		evs = append(evs, e)
	}
	return evs
}

// acknowledge records batch (as Ingest stored it: first copy of a key
// wins) in the model.
func (m *compactionModel) acknowledge(batch []Event) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, e := range batch {
		if k, ok := keyOf(&e); ok {
			if _, dup := m.keys[k]; dup {
				continue
			}
			m.keys[k] = e
		}
		m.evs = append(m.evs, e)
	}
	m.pending = nil
}

// expected renders the model under the current schema; with planted,
// the planted copies count too.
func (m *compactionModel) expected(schema map[string]ColumnType, planted bool) map[string]int {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string]int{}
	for _, e := range m.evs {
		out[eventText(e, schema)]++
	}
	if planted {
		for txt, n := range m.planted {
			out[txt] += n
		}
	}
	return out
}

func diffRows(want, got map[string]int) string {
	var b strings.Builder
	n := 0
	for k, w := range want {
		if g := got[k]; g != w && n < 8 {
			fmt.Fprintf(&b, "\n  want %d got %d: %s", w, g, k)
			n++
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok && n < 8 {
			fmt.Fprintf(&b, "\n  want 0 got %d: %s", g, k)
			n++
		}
	}
	return b.String()
}

// plant writes a copy of an acknowledged keyed row past dedup, as a
// replayed or restored batch could: compaction must drop it.
func plant(t testing.TB, p *Project, m *compactionModel, r *rand.Rand) {
	m.mu.Lock()
	var keyed []Event
	for _, e := range m.keys {
		keyed = append(keyed, e)
	}
	m.mu.Unlock()
	if len(keyed) == 0 {
		return
	}
	sort.Slice(keyed, func(i, j int) bool { return keyed[i].InsertID < keyed[j].InsertID })
	e := keyed[r.Intn(len(keyed))]
	e.Props = append([]Prop(nil), e.Props...)
	p.mu.Lock()
	p.events.fitProps(e.Props)
	p.addLocked(TableEvents, []Event{e})
	schema := map[string]ColumnType{}
	for _, c := range p.events.Columns() {
		schema[c.Name] = c.Type
	}
	p.mu.Unlock()
	m.mu.Lock()
	m.planted[eventText(e, schema)]++
	m.mu.Unlock()
}

// TestCompactionRandomized runs random histories of ingest (late data,
// retries, repeats within batches, widening columns), flushes, planted
// duplicates, picker-driven and whole-day compactions racing flushes and
// readers, and reopens. While it runs, readers check that every visible
// row was acknowledged (or planted) and that no acknowledged row of a
// settled batch is missing; after each run, a whole compaction must leave
// exactly the model's rows, before and after a reopen. Runs:
// $ARB_COMPACTION_RUNS (default 200; `make soak` runs 10,000).
func TestCompactionRandomized(t *testing.T) {
	runs := 200
	if v := os.Getenv("ARB_COMPACTION_RUNS"); v != "" {
		runs, _ = strconv.Atoi(v)
	}
	if testing.Short() {
		runs = 20
	}
	seed := time.Now().UnixNano()
	t.Logf("seed %d, %d runs", seed, runs)
	var total CompactionStats
	for run := 0; run < runs; run++ {
		r := rand.New(rand.NewSource(seed + int64(run)))
		st := compactionRun(t, r, run)
		total.Runs += st.Runs
		total.Duplicates += st.Duplicates
		total.RowsIn += st.RowsIn
	}
	t.Logf("%d runs: %d compactions, %d rows merged, %d duplicates dropped", runs, total.Runs, total.RowsIn, total.Duplicates)
	if runs >= 20 && (total.Runs == 0 || total.Duplicates == 0) {
		t.Fatalf("the histories exercised too little: %+v", total)
	}
}

func compactionRun(t *testing.T, r *rand.Rand, run int) CompactionStats {
	fs := newCrashFS()
	opts := Options{FS: fs, Dir: "/data", FlushInterval: time.Hour, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), CompactionDelay: time.Millisecond,
		CompactionMaxSegments: 2 + r.Intn(4), DisableCompaction: true}
	s, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateProject("shop", "tok", "sec"); err != nil {
		t.Fatal(err)
	}
	m := newCompactionModel()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var readerErr atomic.Pointer[string]
	startBackground := func(s *Store) {
		stop = make(chan struct{})
		wg.Add(2)
		cr := rand.New(rand.NewSource(r.Int63())) // r belongs to the test's goroutine
		// The compactor, racing the ingest and flushes below.
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				s.compactDue()
				time.Sleep(time.Duration(cr.Intn(2)) * time.Millisecond)
			}
		}()
		go func() { // a reader: nothing visible that was not sent
			defer wg.Done()
			p, _ := s.Project("shop")
			for {
				select {
				case <-stop:
					return
				default:
				}
				got, err := readVisibleRows(p)
				if err != nil {
					msg := "read: " + err.Error()
					readerErr.CompareAndSwap(nil, &msg)
					return
				}
				m.mu.Lock()
				sent := map[string]bool{}
				schema := schemaOf(p)
				for _, e := range m.evs {
					sent[eventText(e, schema)] = true
				}
				for txt := range m.planted {
					sent[txt] = true
				}
				for _, e := range m.pending {
					sent[eventText(e, schema)] = true
				}
				m.mu.Unlock()
				for txt := range got {
					if !sent[txt] {
						msg := "visible row never acknowledged: " + txt
						readerErr.CompareAndSwap(nil, &msg)
					}
				}
			}
		}()
	}
	startBackground(s)
	ops := 10 + r.Intn(30)
	for op := 0; op < ops; op++ {
		p, _ := s.Project("shop")
		switch k := r.Intn(10); {
		case k < 5:
			batch := randomCompactionBatch(r, m, run, op)
			m.setPending(batch)
			if err := p.Ingest(deepCopyEvents(batch)); err != nil {
				t.Fatalf("run %d op %d: ingest: %v", run, op, err)
			}
			m.acknowledge(batch)
		case k < 7:
			if err := s.Flush(); err != nil {
				t.Fatalf("run %d op %d: flush: %v", run, op, err)
			}
		case k < 8:
			plant(t, p, m, r)
		case k < 9:
			days := p.segmentDays()
			if len(days) > 0 {
				if _, err := s.CompactDay("shop", days[r.Intn(len(days))]); err != nil && err != ErrNothingToCompact {
					t.Fatalf("run %d op %d: compact day: %v", run, op, err)
				}
			}
		default:
			close(stop)
			wg.Wait()
			if err := s.Close(); err != nil {
				t.Fatalf("run %d op %d: close: %v", run, op, err)
			}
			if s, err = Open(opts); err != nil {
				t.Fatalf("run %d op %d: reopen: %v", run, op, err)
			}
			startBackground(s)
		}
	}
	close(stop)
	wg.Wait()
	if msg := readerErr.Load(); msg != nil {
		t.Fatalf("run %d: reader: %s", run, *msg)
	}
	p, _ := s.Project("shop")
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := s.Compact(); err != nil {
		t.Fatalf("run %d: compact: %v", run, err)
	}
	check := func(when string, p *Project) {
		want, got := m.expected(schemaOf(p), false), visibleRows(t, p)
		if d := diffRows(want, got); d != "" {
			t.Fatalf("run %d: %s: rows differ from the model:%s", run, when, d)
		}
		perDay := map[string]int{}
		for _, ref := range p.Snapshot().Segments {
			perDay[ref.Day]++
			if ref.Level != levelMergedWhole {
				t.Fatalf("run %d: %s: segment %s of %s has level %d after Compact", run, when, ref.File, ref.Day, ref.Level)
			}
		}
		for day, n := range perDay {
			if n != 1 {
				t.Fatalf("run %d: %s: day %s has %d segments after Compact", run, when, day, n)
			}
		}
	}
	check("after compaction", p)
	st := s.CompactionStats()
	if st.RowsOut != st.RowsIn-st.Duplicates || st.LastError != "" {
		t.Fatalf("run %d: stats %+v", run, st)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(opts)
	if err != nil {
		t.Fatalf("run %d: reopen: %v", run, err)
	}
	defer s.Close()
	p, _ = s.Project("shop")
	check("after reopen", p)
	if files := fs.files(); len(files) > 0 {
		segs := 0
		for _, f := range files {
			if strings.Contains(f, "/segments/") {
				segs++
			}
		}
		if segs != len(p.Snapshot().Segments) {
			t.Fatalf("run %d: %d segment files on disk, %d live: %v", run, segs, len(p.Snapshot().Segments), files)
		}
	}
	return st
}

func (m *compactionModel) setPending(batch []Event) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.pending = batch
}

// deepCopyEvents copies events and their properties: Ingest takes over
// what it is given (it fits property values in place).
func deepCopyEvents(evs []Event) []Event {
	out := make([]Event, len(evs))
	for i, e := range evs {
		e.Props = append([]Prop(nil), e.Props...)
		out[i] = e
	}
	return out
}

// mergeTestInput builds one input segment of rows chosen by r: a flush
// (time order) or a compaction's output (user order, saying so in its
// meta), with property columns stored in schema's type or a narrower one.
func mergeTestInput(r *rand.Rand, rows int, schema []Column, userOrder bool) []SegmentColumn {
	base := time.Date(2025, 3, 4, 0, 0, 0, 0, time.UTC).UnixMilli()
	times := make([]int64, rows)
	users := make([]int64, rows)
	events := make([]string, rows)
	ids := make([]string, rows)
	inserts := make([]string, rows)
	for i := range times {
		times[i] = base + int64(r.Intn(20))
		u := r.Intn(6)
		users[i], ids[i] = int64(7+3*u), fmt.Sprintf("user-%d", u) // a distinct_id has one user number
		events[i] = []string{"Signup", "Purchase", "View"}[r.Intn(3)]
		if r.Intn(5) > 0 {
			inserts[i] = fmt.Sprintf("ins-%d", r.Intn(25))
		}
	}
	order := make([]int, rows)
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool {
		x, y := order[a], order[b]
		if userOrder && users[x] != users[y] {
			return users[x] < users[y]
		}
		return times[x] < times[y]
	})
	permInts := func(v []int64) []int64 {
		out := make([]int64, rows)
		for i, o := range order {
			out[i] = v[o]
		}
		return out
	}
	permStrs := func(v []string) []string {
		out := make([]string, rows)
		for i, o := range order {
			out[i] = v[o]
		}
		return out
	}
	cols := []SegmentColumn{
		{Name: ColTime, Type: TypeTime, Ints: permInts(times)},
		{Name: ColEvent, Type: TypeString, Strs: permStrs(events)},
		{Name: ColDistinctID, Type: TypeString, Strs: permStrs(ids)},
		{Name: ColInsertID, Type: TypeString, Strs: permStrs(inserts)},
		{Name: ColUserNumber, Type: TypeInt, Ints: permInts(users)},
	}
	if r.Intn(10) == 0 {
		cols = append(cols[:3], cols[4]) // an input without insert_id
	}
	for _, sc := range schema {
		if r.Intn(4) == 0 {
			continue
		}
		typ := sc.Type
		switch {
		case typ == TypeFloat && r.Intn(2) == 0:
			typ = TypeInt
		case typ == TypeString:
			typ = []ColumnType{TypeString, TypeString, TypeInt, TypeFloat, TypeBool, TypeJSON}[r.Intn(6)]
		}
		c := SegmentColumn{Name: sc.Name, Type: typ, Nulls: make([]bool, rows)}
		for i := 0; i < rows; i++ {
			c.Nulls[i] = r.Intn(5) == 0
			switch typ {
			case TypeFloat:
				f := float64(r.Intn(9)) / 4
				if r.Intn(30) == 0 {
					f = math.NaN()
				}
				c.Floats = append(c.Floats, f)
			case TypeString, TypeJSON:
				c.Strs = append(c.Strs, fmt.Sprintf(`"v%d"`, r.Intn(12)))
			case TypeBool:
				c.Ints = append(c.Ints, int64(r.Intn(2)))
			default:
				c.Ints = append(c.Ints, int64(r.Intn(40)-20))
			}
		}
		if r.Intn(3) == 0 {
			c.Nulls = nil
		}
		cols = append(cols, c)
	}
	return cols
}

func writeTestSegment(t testing.TB, w io.Writer, meta string, cols []SegmentColumn) int64 {
	t.Helper()
	rows := len(cols[0].Ints)
	n, err := WriteSegment(w, []byte(meta), rows, cols)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestCompactionStreamingMatchesInMemory merges random inputs both ways:
// the streaming merge must write the very bytes the in-memory merge
// writes, and count the same rows and repeats per input.
func TestCompactionStreamingMatchesInMemory(t *testing.T) {
	cases := 250
	if testing.Short() {
		cases = 60
	}
	seed := time.Now().UnixNano()
	if v := os.Getenv("ARB_SEED"); v != "" {
		var err error
		if seed, err = strconv.ParseInt(v, 10, 64); err != nil {
			t.Fatalf("ARB_SEED=%q: %v", v, err)
		}
		cases = 250
	}
	t.Logf("seed %d (rerun with ARB_SEED=%d)", seed, seed)
	types := []ColumnType{TypeInt, TypeFloat, TypeString, TypeBool, TypeJSON, TypeTime}
	for c := 0; c < cases; c++ {
		r := rand.New(rand.NewSource(seed + int64(c)))
		var schema []Column
		for p := 0; p < r.Intn(6); p++ {
			schema = append(schema, Column{Name: fmt.Sprintf("p%d", p), Type: types[r.Intn(len(types))]})
		}
		nIn := 1 + r.Intn(5)
		if c%97 == 5 {
			nIn = 130 + r.Intn(10) // more inputs than a byte of merge order holds
		}
		segs := make([]*Segment, nIn)
		for in := range segs {
			rows := r.Intn(60)
			if c%41 == 3 && in == 0 {
				rows = SegmentBlockRows + r.Intn(3*SegmentBlockRows) // several blocks
			}
			userOrder := r.Intn(2) == 0
			meta := `{"project":"p","day":"2025-03-04"}`
			if userOrder {
				meta = `{"project":"p","day":"2025-03-04","order":"user,time"}`
			}
			var buf bytes.Buffer
			writeTestSegment(t, &buf, meta, mergeTestInput(r, rows, schema, userOrder))
			seg, err := OpenSegment(bytes.NewReader(buf.Bytes()), int64(buf.Len()), fmt.Sprintf("in%d.seg", in))
			if err != nil {
				t.Fatal(err)
			}
			segs[in] = seg
		}
		fail := func(format string, args ...any) {
			t.Helper()
			t.Fatalf("case %d (seed %d): %s", c, seed+int64(c), fmt.Sprintf(format, args...))
		}
		meta := []byte(`{"order":"user,time"}`)
		old, err := mergeSegments("test", segs, schema)
		if err != nil {
			fail("in-memory merge: %v", err)
		}
		var want bytes.Buffer
		if _, err := WriteSegment(&want, meta, old.rows, old.cols); err != nil {
			fail("in-memory write: %v", err)
		}
		plan, err := planMerge("test", segs, schema, nil)
		if err != nil {
			fail("plan: %v", err)
		}
		if plan.rows != old.rows || !slices.Equal(plan.inRows, old.inRows) || !slices.Equal(plan.dups, old.dups) {
			fail("streaming counts rows %d in %v dups %v; in memory %d in %v dups %v",
				plan.rows, plan.inRows, plan.dups, old.rows, old.inRows, old.dups)
		}
		var got bytes.Buffer
		if _, err := plan.write(&got, meta); err != nil {
			fail("streaming write: %v", err)
		}
		if !bytes.Equal(got.Bytes(), want.Bytes()) {
			fail("streaming merge wrote %d bytes, in-memory %d, and they differ", got.Len(), want.Len())
		}
		out, err := OpenSegment(bytes.NewReader(got.Bytes()), int64(got.Len()), "out.seg")
		if err != nil {
			fail("open output: %v", err)
		}
		if err := plan.checkWritten(out); err != nil {
			fail("read-back check: %v", err)
		}
	}
}

// TestCompactionStreamingFallsBack: inputs the streaming merge cannot
// take make it say so (the store then merges in memory), and a damaged
// output fails the read-back check.
func TestCompactionStreamingFallsBack(t *testing.T) {
	open := func(meta string, cols []SegmentColumn) *Segment {
		var buf bytes.Buffer
		writeTestSegment(t, &buf, meta, cols)
		seg, err := OpenSegment(bytes.NewReader(buf.Bytes()), int64(buf.Len()), "in.seg")
		if err != nil {
			t.Fatal(err)
		}
		return seg
	}
	fixed := func(times, users []int64, ids []string) []SegmentColumn {
		n := len(times)
		return []SegmentColumn{
			{Name: ColTime, Type: TypeTime, Ints: times},
			{Name: ColEvent, Type: TypeString, Strs: make([]string, n)},
			{Name: ColDistinctID, Type: TypeString, Strs: ids},
			{Name: ColInsertID, Type: TypeString, Strs: make([]string, n)},
			{Name: ColUserNumber, Type: TypeInt, Ints: users},
		}
	}
	t.Run("meta claims user order falsely", func(t *testing.T) {
		seg := open(`{"order":"user,time"}`, fixed([]int64{1, 2}, []int64{5, 4}, []string{"a", "b"}))
		if _, err := planMerge("test", []*Segment{seg}, nil, nil); !errors.Is(err, errMergeFallback) {
			t.Fatalf("got %v, want errMergeFallback", err)
		}
	})
	t.Run("a distinct_id with two user numbers", func(t *testing.T) {
		a := open(`{}`, fixed([]int64{1}, []int64{5}, []string{"a"}))
		b := open(`{}`, fixed([]int64{1}, []int64{6}, []string{"a"}))
		if _, err := planMerge("test", []*Segment{a, b}, nil, nil); !errors.Is(err, errMergeFallback) {
			t.Fatalf("got %v, want errMergeFallback", err)
		}
	})
	t.Run("read-back of another segment", func(t *testing.T) {
		a := open(`{}`, fixed([]int64{1, 2}, []int64{5, 5}, []string{"a", "a"}))
		plan, err := planMerge("test", []*Segment{a}, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := plan.write(io.Discard, nil); err != nil {
			t.Fatal(err)
		}
		other := open(`{}`, fixed([]int64{1, 3}, []int64{5, 5}, []string{"a", "a"}))
		if err := plan.checkWritten(other); err == nil || !strings.Contains(err.Error(), `column "time" reads back different`) {
			t.Fatalf("got %v", err)
		}
	})
}

// peakHeapInuse runs f and returns the most heap in use above what was in
// use before, sampled every millisecond.
func peakHeapInuse(f func()) uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse
	var peak atomic.Uint64
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > base && ms.HeapInuse-base > peak.Load() {
				peak.Store(ms.HeapInuse - base)
			}
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	f()
	close(stop)
	<-done
	return peak.Load()
}

// writePeakTestDay writes a day of rows events as segment files in dir:
// a compaction's output holding 70% of them and three flushes of 10%
// each; every row has an insert_id (a few repeated) and ten properties.
func writePeakTestDay(t testing.TB, dir string, rows int) []*Segment {
	r := rand.New(rand.NewSource(1))
	base := time.Date(2025, 3, 4, 0, 0, 0, 0, time.UTC).UnixMilli()
	users := max(rows/20, 1)
	schema := []Column{{Name: "amount", Type: TypeFloat}, {Name: "browser", Type: TypeString},
		{Name: "count", Type: TypeInt}, {Name: "country", Type: TypeString}, {Name: "page", Type: TypeString},
		{Name: "paid", Type: TypeBool}, {Name: "plan", Type: TypeString}, {Name: "price", Type: TypeFloat},
		{Name: "score", Type: TypeInt}, {Name: "step", Type: TypeInt}}
	parts := []int{rows * 7 / 10, rows / 10, rows / 10, rows - rows*7/10 - 2*(rows/10)}
	var segs []*Segment
	for part, n := range parts {
		times, nums := make([]int64, n), make([]int64, n)
		events, ids, inserts := make([]string, n), make([]string, n), make([]string, n)
		for i := 0; i < n; i++ {
			u := r.Intn(users)
			times[i], nums[i] = base+int64(r.Intn(86_400_000)), int64(u)
			events[i], ids[i] = fmt.Sprintf("event %d", r.Intn(30)), fmt.Sprintf("user-%08d", u)
			inserts[i] = fmt.Sprintf("%016x%016x", r.Uint64(), r.Uint64())
			if i > 0 && r.Intn(1000) == 0 { // a retry
				times[i], nums[i], events[i], ids[i], inserts[i] = times[i-1], nums[i-1], events[i-1], ids[i-1], inserts[i-1]
			}
		}
		order := make([]int, n)
		for i := range order {
			order[i] = i
		}
		userOrder := part == 0
		sort.SliceStable(order, func(a, b int) bool {
			x, y := order[a], order[b]
			if userOrder && nums[x] != nums[y] {
				return nums[x] < nums[y]
			}
			return times[x] < times[y]
		})
		pi := func(v []int64) []int64 {
			out := make([]int64, n)
			for i, o := range order {
				out[i] = v[o]
			}
			return out
		}
		ps := func(v []string) []string {
			out := make([]string, n)
			for i, o := range order {
				out[i] = v[o]
			}
			return out
		}
		cols := []SegmentColumn{{Name: ColTime, Type: TypeTime, Ints: pi(times)}, {Name: ColEvent, Type: TypeString, Strs: ps(events)},
			{Name: ColDistinctID, Type: TypeString, Strs: ps(ids)}, {Name: ColInsertID, Type: TypeString, Strs: ps(inserts)},
			{Name: ColUserNumber, Type: TypeInt, Ints: pi(nums)}}
		for _, sc := range schema {
			c := SegmentColumn{Name: sc.Name, Type: sc.Type, Nulls: make([]bool, n)}
			for i := 0; i < n; i++ {
				c.Nulls[i] = r.Intn(4) == 0
				switch sc.Type {
				case TypeFloat:
					c.Floats = append(c.Floats, float64(r.Intn(100000))/100)
				case TypeString:
					c.Strs = append(c.Strs, fmt.Sprintf("%s-%d", sc.Name, r.Intn(300)))
				case TypeBool:
					c.Ints = append(c.Ints, int64(r.Intn(2)))
				default:
					c.Ints = append(c.Ints, int64(r.Intn(1_000_000)))
				}
			}
			cols = append(cols, c)
		}
		meta := `{"project":"p","day":"2025-03-04"}`
		if userOrder {
			meta = `{"project":"p","day":"2025-03-04","order":"user,time"}`
		}
		path := filepath.Join(dir, fmt.Sprintf("in%d.seg", part))
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		w := bufio.NewWriter(f)
		size := writeTestSegment(t, w, meta, cols)
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		seg, err := OpenSegment(f, size, path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		segs = append(segs, seg)
	}
	return segs
}

// TestCompactionPeakHeap measures the heap a compaction of a day of
// 300,000 rows (100,000 under -short; ARB_COMPACTION_PEAK_ROWS to
// choose) takes above what was in use, merging in memory and streaming,
// and holds the streaming merge to a bound the in-memory one exceeds.
// Measured (GC target 20%): 1,000,000 rows, 276 MiB in memory, 80 MiB
// streaming; 10,000,000 rows, 2,786 MiB and 1,003 MiB, of which the
// insert_id dictionary (314 MiB of section, held as its inputs', the
// merged one and its lz4 form) is most; with insert_ids from a small set
// the streaming merge of 1,000,000 rows peaks at 19 MiB.
func TestCompactionPeakHeap(t *testing.T) {
	rows := 300_000
	if testing.Short() {
		rows = 100_000
	}
	if v := os.Getenv("ARB_COMPACTION_PEAK_ROWS"); v != "" {
		rows, _ = strconv.Atoi(v)
	}
	segs := writePeakTestDay(t, t.TempDir(), rows)
	schema := []Column{}
	for _, c := range segs[0].Columns()[len(fixedSegmentColumns):] {
		schema = append(schema, c)
	}
	// The one structure that grows with the day is a dictionary: the
	// format stores each as one lz4 section, so the largest (insert_id,
	// a value per row) is held whole, with its inputs' while they merge.
	dictBytes := int64(0)
	for _, seg := range segs {
		dictBytes += seg.cols[ColInsertID].Dict.RawLen
	}
	// Heap in use is sampled with a low GC target, so that it shows what
	// is live rather than when the collector happened to run.
	defer debug.SetGCPercent(debug.SetGCPercent(20))
	meta := []byte(`{"order":"user,time"}`)
	var oldSize, newSize int64
	started := time.Now()
	var oldTook time.Duration
	oldPeak := peakHeapInuse(func() {
		m, err := mergeSegments("test", segs, schema)
		if err == nil {
			oldSize, err = WriteSegment(io.Discard, meta, m.rows, m.cols)
		}
		if err != nil {
			t.Fatal(err)
		}
	})
	oldTook, started = time.Since(started), time.Now()
	newPeak := peakHeapInuse(func() {
		plan, err := planMerge("test", segs, schema, nil)
		if err == nil {
			newSize, err = plan.write(io.Discard, meta)
		}
		if err != nil {
			t.Fatal(err)
		}
	})
	if oldSize != newSize {
		t.Fatalf("in-memory merge wrote %d bytes, streaming %d", oldSize, newSize)
	}
	newTook := time.Since(started)
	mib := func(b uint64) float64 { return float64(b) / (1 << 20) }
	t.Logf("%d rows, %d bytes out, insert_id dictionaries %.1f MiB: peak heap in use %.1f MiB in memory (%.0f B/row, %v), %.1f MiB streaming (%.0f B/row, %v)",
		rows, newSize, mib(uint64(dictBytes)), mib(oldPeak), float64(oldPeak)/float64(rows), oldTook.Round(time.Millisecond),
		mib(newPeak), float64(newPeak)/float64(rows), newTook.Round(time.Millisecond))
	// A few blocks per input and column, the merge order (a byte a row),
	// and the dictionary: its inputs' sections, the merged one and its
	// compressed form, and 4 bytes per entry to renumber codes.
	bound := uint64(16<<20 + int64(rows) + 4*dictBytes)
	if newPeak > bound {
		t.Errorf("streaming merge peaked at %.1f MiB of heap, over the bound of %.1f MiB", mib(newPeak), mib(bound))
	}
	if oldPeak <= bound {
		t.Logf("the in-memory merge stays within the bound too: the day is too small to tell them apart")
	}
}

// TestCompactionStreamsStoreSegments: the segments a store writes —
// flushes, and a compaction's output merged again with later flushes —
// take the streaming merge, never the in-memory fallback.
func TestCompactionStreamsStoreSegments(t *testing.T) {
	var logs strings.Builder
	var mu sync.Mutex
	s, err := Open(Options{Dir: t.TempDir(), FlushInterval: time.Hour, DisableCompaction: true,
		Logger: slog.New(slog.NewTextHandler(lockedWriter{&mu, &logs}, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.CreateProject("shop", "tok", "sec"); err != nil {
		t.Fatal(err)
	}
	p, _ := s.Project("shop")
	for round := 0; round < 3; round++ {
		for flush := 0; flush < 2; flush++ {
			evs := testEvents(3000, int64(10*round+flush))
			evs = append(evs, evs[:100]...) // retries
			if err := p.Ingest(evs); err != nil {
				t.Fatal(err)
			}
			if err := s.Flush(); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Compact(); err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Contains(logs.String(), "merges in memory") {
		t.Fatalf("a compaction fell back to the in-memory merge:\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), "compaction done") {
		t.Fatalf("no compaction ran:\n%s", logs.String())
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

package storage

import (
	"fmt"
	"io"
	"log/slog"
	"math/rand"
	"os"
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

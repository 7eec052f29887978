package storage

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

// bulkBatches are batches shaped to exercise staging: a column that
// widens int → float → string across batches (after a spill), a column
// that appears late, NULL properties, rows at a day's last millisecond, insert_ids
// repeated within and across batches, and identity events ($identify,
// $user_id) linking ids.
func bulkBatches() [][]Event {
	var out [][]Event
	base := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	for b := range 6 {
		var evs []Event
		for i := range 400 {
			n := b*400 + i
			e := Event{
				TimeMillis: base + int64(n%5)*86_400_000 + int64(n)*997,
				Name:       []string{"Signup", "Page View", "Purchase"}[n%3],
				DistinctID: fmt.Sprintf("u%d", n%170),
				Props:      []Prop{{"plan", StringValue([]string{"free", "pro"}[n%2])}},
			}
			if n%11 == 0 {
				e.TimeMillis = base - 1 - int64(n) // the day before, up to its last millisecond
			}
			// FlushRows is 700: batches 0-1, 2-3 and 4-5 are staged
			// together, so amount widens within a staging table (int →
			// float, float → string) and across spills.
			switch {
			case b < 1:
				e.Props = append(e.Props, Prop{"amount", IntValue(int64(n % 97))})
			case b < 3:
				e.Props = append(e.Props, Prop{"amount", FloatValue(float64(n%97) + 0.5)})
			default:
				e.Props = append(e.Props, Prop{"amount", StringValue(fmt.Sprintf("a%d", n%7))})
			}
			if b >= 3 {
				e.Props = append(e.Props, Prop{"late", IntValue(int64(n))})
			}
			if n%5 == 0 {
				e.Props = append(e.Props, Prop{"gone", Value{}}) // NULL: no column
			}
			if n%3 == 0 {
				e.InsertID = fmt.Sprintf("i%d", n%600) // repeats from batch 2 on
			}
			if n%97 == 0 {
				e.Name = "$identify"
				e.Props = append(e.Props, Prop{"$anon_distinct_id", StringValue(fmt.Sprintf("anon%d", n))}, Prop{"$identified_id", StringValue(e.DistinctID)})
			}
			if n%89 == 0 {
				e.Props = append(e.Props, Prop{"$user_id", StringValue(fmt.Sprintf("u%d", (n+1)%170))})
			}
			evs = append(evs, e)
		}
		out = append(out, evs)
	}
	return out
}

// projectRows renders every row of project in its segments and memory as
// sorted "column=value" cells, values converted to the schema's type
// (what a query reads), user numbers left out; the rows come sorted.
func projectRows(t *testing.T, s *Store, project string) []string {
	t.Helper()
	p, ok := s.Project(project)
	if !ok {
		t.Fatalf("project %s missing", project)
	}
	types := map[string]ColumnType{}
	for _, c := range p.Columns(TableEvents) {
		types[c.Name] = c.Type
	}
	cell := func(name string, v Value) string {
		if typ, ok := types[name]; ok {
			if w, ok := v.Convert(typ); ok {
				v = w
			}
		}
		return fmt.Sprintf("%s=%v:%d:%g:%s", name, v.Type, v.Int, v.Float, v.Str)
	}
	var rows []string
	snap := p.Snapshot()
	for _, m := range snap.Mem {
		for _, e := range m.Rows {
			cells := []string{cell(ColTime, TimeValue(e.TimeMillis)), cell(ColEvent, StringValue(e.Name)),
				cell(ColDistinctID, StringValue(e.DistinctID))}
			if e.InsertID != "" {
				cells = append(cells, cell(ColInsertID, StringValue(e.InsertID)))
			}
			for _, pr := range e.Props {
				cells = append(cells, cell(pr.Key, pr.Value))
			}
			sort.Strings(cells)
			rows = append(rows, strings.Join(cells, " "))
		}
	}
	for _, ref := range snap.Segments {
		seg := ref.Segment
		for b := 0; b < seg.NumBlocks(); b++ {
			_, n := seg.BlockRange(b)
			cells := make([][]string, n)
			for _, c := range seg.Columns() {
				if c.Name == ColUserNumber {
					continue
				}
				blk, err := seg.ReadBlock(c.Name, b)
				if err != nil {
					t.Fatal(err)
				}
				var dict []string
				if isStringType(c.Type) {
					if dict, err = seg.Dict(c.Name); err != nil {
						t.Fatal(err)
					}
				}
				for i := range n {
					if blk.Nulls != nil && blk.Nulls[i] {
						continue
					}
					v := Value{Type: c.Type}
					switch {
					case c.Type == TypeFloat:
						v.Float = blk.Floats[i]
					case isStringType(c.Type):
						v.Str = dict[blk.Codes[i]]
					default:
						v.Int = blk.Ints[i]
					}
					if c.Name == ColInsertID && v.Str == "" {
						continue
					}
					cells[i] = append(cells[i], cell(c.Name, v))
				}
			}
			for _, c := range cells {
				sort.Strings(c)
				rows = append(rows, strings.Join(c, " "))
			}
		}
	}
	sort.Strings(rows)
	return rows
}

// projectPersons renders project's persons: each canonical user's ids,
// sorted.
func projectPersons(s *Store, project string) string {
	p, _ := s.Project(project)
	snap := p.Snapshot()
	persons := map[uint32][]string{}
	for n, id := range snap.UserIDs.All() {
		c := snap.Canon.Of(n)
		persons[c] = append(persons[c], id)
	}
	var out []string
	for _, ids := range persons {
		sort.Strings(ids)
		out = append(out, strings.Join(ids, ","))
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}

func openBulkStore(t *testing.T, dir string, shards, maxColumns int) *Store {
	t.Helper()
	s, err := Open(Options{Dir: dir, FlushInterval: time.Hour, FlushRows: 700, Shards: shards, MaxColumns: maxColumns, DisableCompaction: true})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func cloneBatches(in [][]Event) [][]Event {
	out := make([][]Event, len(in))
	for i, b := range in {
		out[i] = make([]Event, len(b))
		for j, e := range b {
			e.Props = slices.Clone(e.Props)
			out[i][j] = e
		}
	}
	return out
}

// TestBulkMatchesIngest: the same batches through a Bulk (staged across
// spills, committed) and through Ingest store the same rows (values as
// read), the same schema and the same persons, in one project and in
// three shards, and keep them through a crash and a restart.
func TestBulkMatchesIngest(t *testing.T) {
	for _, shards := range []int{1, 3} {
		t.Run(fmt.Sprintf("shards=%d", shards), func(t *testing.T) { testBulkMatchesIngest(t, shards) })
	}
	// Ids numbered past the staging tables' slots: their distinct_id
	// dictionaries go back to per-batch pieces mid-table.
	defer func(m uint32) { maxStagedUsers = m }(maxStagedUsers)
	maxStagedUsers = 7
	t.Run("few staged users", func(t *testing.T) { testBulkMatchesIngest(t, 1) })
}

func testBulkMatchesIngest(t *testing.T, shards int) {
	ref := openBulkStore(t, t.TempDir(), shards, 0)
	defer ref.Close()
	if _, err := ref.CreateProject("shop", "", ""); err != nil {
		t.Fatal(err)
	}
	rp, _ := ref.Project("shop")
	for _, b := range cloneBatches(bulkBatches()) {
		if err := rp.Ingest(b); err != nil {
			t.Fatal(err)
		}
	}
	if err := ref.Flush(); err != nil {
		t.Fatal(err)
	}
	wantRows, wantPersons := projectRows(t, ref, "shop"), projectPersons(ref, "shop")
	wantCols := fmt.Sprint(rp.Columns(TableEvents))

	dir := t.TempDir()
	s := openBulkStore(t, dir, shards, 0)
	if _, err := s.CreateProject("shop", "", ""); err != nil {
		t.Fatal(err)
	}
	p, _ := s.Project("shop")
	bulk, err := p.BeginBulk()
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range cloneBatches(bulkBatches()) {
		if err := bulk.Add(b); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(projectRows(t, s, "shop")); n != 0 {
		t.Fatalf("%d rows visible before the commit", n)
	}
	if err := bulk.Commit(); err != nil {
		t.Fatal(err)
	}
	if bulk.Rows() != len(wantRows) {
		t.Fatalf("Rows() = %d, want %d", bulk.Rows(), len(wantRows))
	}
	check := func(when string, s *Store) {
		t.Helper()
		got := projectRows(t, s, "shop")
		if !slices.Equal(got, wantRows) {
			t.Fatalf("%s: %d rows differ from Ingest's %d; first: %q", when, len(got), len(wantRows), firstDiff(got, wantRows))
		}
		p, _ := s.Project("shop")
		if cols := fmt.Sprint(p.Columns(TableEvents)); cols != wantCols {
			t.Fatalf("%s: columns %s, want %s", when, cols, wantCols)
		}
		if persons := projectPersons(s, "shop"); persons != wantPersons {
			t.Fatalf("%s: persons\n%s\nwant\n%s", when, persons, wantPersons)
		}
	}
	checkThroughCrash(t, s, dir, check)
}

func firstDiff(a, b []string) string {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return a[i] + " | " + b[i]
		}
	}
	return "(one is a prefix of the other)"
}

// segFiles lists the segment files in dir.
func segFiles(t *testing.T, dir string) []string {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, segDirName, "*"))
	if err != nil {
		t.Fatal(err)
	}
	return names
}

// TestBulkAbortAndCrashStoreNothing: a load abandoned, or cut by a crash
// before its commit, leaves no row, no column, no segment file (after
// the next open), and the project takes writes as before.
func TestBulkAbortAndCrashStoreNothing(t *testing.T) {
	dir := t.TempDir()
	s := openBulkStore(t, dir, 0, 0)
	if _, err := s.CreateProject("shop", "", ""); err != nil {
		t.Fatal(err)
	}
	p, _ := s.Project("shop")
	if err := p.Ingest(testEvents(10, 1)); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	before, colsBefore := len(segFiles(t, dir)), fmt.Sprint(p.Columns(TableEvents))
	stage := func() *Bulk {
		t.Helper()
		b, err := p.BeginBulk()
		if err != nil {
			t.Fatal(err)
		}
		for _, batch := range cloneBatches(bulkBatches())[:3] { // spills: FlushRows is 700
			if err := b.Add(batch); err != nil {
				t.Fatal(err)
			}
		}
		b.waitSpill() // a spill writes in the background
		if len(segFiles(t, dir)) == before {
			t.Fatal("no segment written while staging: the test does not cover spills")
		}
		return b
	}
	b := stage()
	b.Abort(errors.New("test"))
	if n, _ := countRows(t, s, "shop"); n != 10 {
		t.Fatalf("%d rows after abort, want 10", n)
	}
	if got := len(segFiles(t, dir)); got != before {
		t.Fatalf("%d segment files after abort, want %d", got, before)
	}
	if err := b.Commit(); err == nil {
		t.Fatal("Commit after Abort succeeded")
	}
	stage() // never committed
	// A flush published meanwhile raises next_file_number past the
	// staged files: open must still account for them (and remove them).
	if err := p.Ingest(testEvents(5, 3)); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	before = len(segFiles(t, dir)) - stagedFiles(t, dir)
	crash(s)
	s = openBulkStore(t, dir, 0, 0)
	defer s.Close()
	if n, _ := countRows(t, s, "shop"); n != 15 {
		t.Fatalf("%d rows after a crash mid-load, want 15", n)
	}
	p, _ = s.Project("shop")
	if cols := fmt.Sprint(p.Columns(TableEvents)); cols != colsBefore {
		t.Fatalf("columns %s after abandoned loads, want %s", cols, colsBefore)
	}
	if got := len(segFiles(t, dir)); got != before {
		t.Fatalf("%d segment files after reopening, want %d: staged files left behind", got, before)
	}
	if got := stagedFiles(t, dir); got != 0 {
		t.Fatalf("%d staged files left after reopening", got)
	}
	if err := p.Ingest(testEvents(5, 2)); err != nil {
		t.Fatal(err)
	}
}

// stagedFiles counts a bulk load's staged segment files in dir.
func stagedFiles(t *testing.T, dir string) int {
	t.Helper()
	n := 0
	for _, f := range segFiles(t, dir) {
		if strings.HasSuffix(f, stagedSuffix) {
			n++
		}
	}
	return n
}

// TestBulkDedup: a load drops events already stored and repeats within
// itself; a concurrent batch repeating a staged event waits for the
// commit and is then dropped, or, when the load is abandoned, fails
// saying so (its client sends it again).
func TestBulkDedup(t *testing.T) {
	s := openBulkStore(t, t.TempDir(), 0, 0)
	defer s.Close()
	if _, err := s.CreateProject("shop", "", ""); err != nil {
		t.Fatal(err)
	}
	p, _ := s.Project("shop")
	stored := testEvents(100, 1)
	if err := p.Ingest(slices.Clone(stored)); err != nil {
		t.Fatal(err)
	}
	for _, abandon := range []bool{false, true} {
		b, err := p.BeginBulk()
		if err != nil {
			t.Fatal(err)
		}
		fresh := testEvents(200, 7)
		if abandon {
			fresh = testEvents(200, 8)
		}
		batch := append(slices.Clone(stored[:50]), fresh...)
		if err := b.Add(batch); err != nil {
			t.Fatal(err)
		}
		if err := b.Add(slices.Clone(fresh[:120])); err != nil { // repeats within the load
			t.Fatal(err)
		}
		if b.Rows() != 200 {
			t.Fatalf("staged %d rows, want 200", b.Rows())
		}
		done := make(chan error, 1)
		go func() { done <- p.Ingest([]Event{fresh[3]}) }()
		select {
		case err := <-done:
			t.Fatalf("a batch repeating a staged event returned before the commit: %v", err)
		case <-time.After(100 * time.Millisecond):
		}
		n0, _ := countRows(t, s, "shop")
		if abandon {
			b.Abort(errors.New("test abandon"))
			if err := <-done; err == nil || !strings.Contains(err.Error(), "same events failed") {
				t.Fatalf("batch waiting on an abandoned load: %v, want an error saying it failed", err)
			}
			if n, _ := countRows(t, s, "shop"); n != n0 {
				t.Fatalf("%d rows after the abandoned load, want %d", n, n0)
			}
			continue
		}
		if err := b.Commit(); err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatalf("batch waiting on a committed load: %v", err)
		}
		n, ids := countRows(t, s, "shop")
		if n != n0+200 {
			t.Fatalf("%d rows, want %d", n, n0+200)
		}
		for id, c := range ids {
			if c != 1 {
				t.Fatalf("insert_id %s stored %d times", id, c)
			}
		}
	}
}

// TestBulkColumnLimit: a load that would pass --max-columns is refused
// whole, when a batch brings too many columns and when other writers
// took the room before the commit.
func TestBulkColumnLimit(t *testing.T) {
	s := openBulkStore(t, t.TempDir(), 0, 3)
	defer s.Close()
	if _, err := s.CreateProject("shop", "", ""); err != nil {
		t.Fatal(err)
	}
	p, _ := s.Project("shop")
	row := func(keys ...string) []Event {
		e := Event{TimeMillis: 1, Name: "e", DistinctID: "u"}
		for _, k := range keys {
			e.Props = append(e.Props, Prop{k, IntValue(1)})
		}
		return []Event{e}
	}
	b, _ := p.BeginBulk()
	var limit *ColumnLimitError
	if err := b.Add(row("a", "b", "c", "d")); !errors.As(err, &limit) {
		t.Fatalf("four columns under a limit of 3: %v", err)
	}
	b.Abort(nil)

	b, _ = p.BeginBulk()
	if err := b.Add(row("a", "b")); err != nil {
		t.Fatal(err)
	}
	if err := p.Ingest(row("x", "y")); err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(); !errors.As(err, &limit) {
		t.Fatalf("commit past the limit: %v", err)
	}
	if n, _ := countRows(t, s, "shop"); n != 1 {
		t.Fatalf("%d rows, want the ingested one", n)
	}
	if cols := p.Columns(TableEvents); len(cols) != 2 {
		t.Fatalf("columns %v, want x and y", cols)
	}
	if _, err := os.Stat(s.path(segDirName)); err != nil {
		t.Fatal(err)
	}
}

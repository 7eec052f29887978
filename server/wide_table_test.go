package server

import (
	"fmt"
	"runtime"
	"testing"

	"arb/storage"
)

// TestWideTable: a one-row events table with 3,000 property columns
// answers SELECT * and DESCRIBE with every column, and planning SELECT *
// costs memory in proportion to the columns, not their square (go-mysql-
// server asks for the table's schema once per projected column; building
// it afresh each time allocated gigabytes at this width).
func TestWideTable(t *testing.T) {
	srv := startTestServer(t, t.TempDir())
	p, _ := srv.store.Project("default")
	const width = 3000
	props := make([]storage.Prop, width)
	for i := range props {
		props[i] = storage.Prop{Key: fmt.Sprintf("k%04d", i), Value: storage.IntValue(int64(i))}
	}
	if err := p.Ingest([]storage.Event{{Name: "e", DistinctID: "u", TimeMillis: 1733400000000, InsertID: "x", Props: props}}); err != nil {
		t.Fatal(err)
	}
	db := openDB(t, srv, "")
	db.SetMaxOpenConns(1)
	mustExec(t, db, "SELECT 1") // connect outside the measurement

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	rows, err := db.Query("SELECT * FROM events LIMIT 1")
	if err != nil {
		t.Fatal(err)
	}
	cols, _ := rows.Columns()
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	n := 0
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		n++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows.Close()
	runtime.ReadMemStats(&after)
	if n != 1 || len(cols) < width {
		t.Fatalf("%d rows of %d columns, want 1 of at least %d", n, len(cols), width)
	}
	for i, c := range cols {
		var k int
		if _, err := fmt.Sscanf(c, "k%04d", &k); err == nil && fmt.Sprint(vals[i]) != fmt.Sprint(k) {
			t.Fatalf("column %s holds %s, want %d", c, vals[i], k)
		}
	}
	// Client and server share the process: the bound covers both.
	if got := after.TotalAlloc - before.TotalAlloc; got > 256<<20 {
		t.Errorf("SELECT * over %d columns allocated %d MiB", width, got>>20)
	}

	var described int
	rows, err = db.Query("DESCRIBE events")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		described++
	}
	rows.Close()
	if described != len(cols) {
		t.Errorf("DESCRIBE lists %d columns, SELECT * %d", described, len(cols))
	}
}

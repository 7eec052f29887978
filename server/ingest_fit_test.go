package server

import (
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"arb/storage"
)

// TestFitRowsMatchesFitProps checks storage's shortcut for fitting a
// batch's properties to the schema (fitRowsLocked): a batch ingested at
// once must give the same stored values and columns as the same rows
// ingested one per batch, where every row is fitted the plain way. Rows
// repeat a few shapes (so the shortcut is taken) with case variants of
// keys, type changes and ints beyond ±2^53 (so it must step aside).
func TestFitRowsMatchesFitProps(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	keys := []string{"plan", "Plan", "amount", "n", "flag", "obj", "PLAN"}
	value := func(kind int) storage.Value {
		switch kind {
		case 0:
			return storage.IntValue(rng.Int64N(1000) - 500)
		case 1:
			return storage.IntValue(math.MaxInt64 - rng.Int64N(10)) // beyond 2^53
		case 2:
			return storage.FloatValue(rng.Float64() * 100)
		case 3:
			return storage.StringValue(fmt.Sprint("s", rng.IntN(5)))
		case 4:
			return storage.BoolValue(rng.IntN(2) == 0)
		default:
			return storage.JSONValue(`[1,2]`)
		}
	}
	for round := 0; round < 200; round++ {
		// A few shapes: a key list with a value kind per key, mostly ints
		// and floats so the int→float→string widenings happen.
		type shape struct {
			keys  []string
			kinds []int
		}
		pool := []int{0, 0, 0, 2, 2, 1, 3, 4, 5}
		if round%2 == 0 { // numbers only: the int, float, big-int widenings
			pool = []int{0, 0, 0, 0, 2, 1}
		}
		var shapes []shape
		for s := 0; s < 1+rng.IntN(3); s++ {
			var sh shape
			for _, i := range rng.Perm(len(keys))[:1+rng.IntN(len(keys))] {
				sh.keys = append(sh.keys, keys[i])
				sh.kinds = append(sh.kinds, pool[rng.IntN(len(pool))])
			}
			shapes = append(shapes, sh)
		}
		base := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
		rows := make([]storage.Event, 40)
		for i := range rows {
			sh := shapes[rng.IntN(len(shapes))]
			rows[i] = storage.Event{TimeMillis: base + int64(i), Name: "E", DistinctID: "u"}
			for j, k := range sh.keys {
				kind := sh.kinds[j]
				if rng.IntN(15) == 0 {
					kind = pool[rng.IntN(len(pool))] // now and then a different type
				}
				rows[i].Props = append(rows[i].Props, storage.Prop{Key: k, Value: value(kind)})
			}
		}
		// A float row for every key at the end exposes a difference in the
		// columns flagged as holding big ints.
		probe := storage.Event{TimeMillis: base + 1000, Name: "P", DistinctID: "u"}
		for _, k := range keys {
			probe.Props = append(probe.Props, storage.Prop{Key: k, Value: storage.FloatValue(0.5)})
		}
		ingest := func(batches [][]storage.Event) ([]storage.Column, []storage.Event) {
			s, err := storage.Open(storage.Options{Dir: t.TempDir(), FlushInterval: time.Hour})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if _, err := s.CreateProject("p", "", ""); err != nil {
				t.Fatal(err)
			}
			p, _ := s.Project("p")
			for _, b := range batches {
				if err := p.Ingest(b); err != nil {
					t.Fatal(err)
				}
			}
			snap := p.Snapshot()
			var stored []storage.Event
			for _, m := range snap.Mem {
				stored = append(stored, m.Rows...)
			}
			return snap.Columns, stored
		}
		clone := func(evs []storage.Event) []storage.Event {
			out := make([]storage.Event, len(evs))
			for i, e := range evs {
				e.Props = append([]storage.Prop(nil), e.Props...)
				out[i] = e
			}
			return out
		}
		whole := [][]storage.Event{clone(rows), clone([]storage.Event{probe})}
		var single [][]storage.Event
		for _, r := range clone(rows) {
			single = append(single, []storage.Event{r})
		}
		single = append(single, clone([]storage.Event{probe}))
		colsA, rowsA := ingest(whole)
		colsB, rowsB := ingest(single)
		if !reflect.DeepEqual(colsA, colsB) {
			t.Fatalf("round %d: columns\nbatch   %v\nsingles %v", round, colsA, colsB)
		}
		if !reflect.DeepEqual(rowsA, rowsB) {
			for i := range rowsA {
				if !reflect.DeepEqual(rowsA[i], rowsB[i]) {
					t.Fatalf("round %d: row %d\nbatch   %+v\nsingles %+v", round, i, rowsA[i], rowsB[i])
				}
			}
			t.Fatalf("round %d: %d rows vs %d", round, len(rowsA), len(rowsB))
		}
	}
}

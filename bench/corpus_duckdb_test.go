package main

// TestCorpusAgreesWithDuckDB is the second reference of issue 13's
// correctness: every query of bench/queries/ runs on arb (the real
// binary, loaded over /import) and on DuckDB over the same generated
// events, and the answers must agree. It needs $ARB_BIN and DuckDB, which
// only this module links: `make test-duckdb` runs it (and .ci/run runs
// that after `make test`).

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

func TestCorpusAgreesWithDuckDB(t *testing.T) {
	bin := os.Getenv("ARB_BIN")
	if bin == "" {
		t.Fatal("ARB_BIN is not set: run `make test-duckdb` (it builds bin/arb first)")
	}
	events := 30000
	if v := os.Getenv("ARB_CORPUS_EVENTS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			t.Fatalf("ARB_CORPUS_EVENTS=%q: want a positive number", v)
		}
		events = n
	}
	ctx := context.Background()
	work := t.TempDir()
	dataset, err := ensureDataset(filepath.Join(work, "cache"), events, 1)
	if err != nil {
		t.Fatal(err)
	}
	arbDir := filepath.Join(work, "arb")
	if err := os.MkdirAll(arbDir, 0o755); err != nil {
		t.Fatal(err)
	}
	a, _, err := loadArb(ctx, bin, arbDir, dataset, 0, httpImportLoader{eventsPerBatch: 2000, conns: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer a.stop()
	d, err := openDuckDB(work)
	if err != nil {
		t.Fatal(err)
	}
	defer d.close()
	if _, err := d.load(ctx, dataset); err != nil {
		t.Fatal(err)
	}
	qs, err := loadCorpus("queries")
	if err != nil {
		t.Fatal(err)
	}
	const timeout = 60 * time.Second
	agree := 0
	for _, q := range qs {
		qctx, cancel := context.WithTimeout(ctx, timeout)
		want, derr := d.query(qctx, q.duckdb)
		cancel()
		if derr != nil {
			t.Errorf("%s: DuckDB: %v", q.name, derr)
			continue
		}
		began := time.Now()
		qctx, cancel = context.WithTimeout(ctx, timeout)
		got, aerr := a.query(qctx, q.mysql)
		cancel()
		if aerr != nil {
			t.Errorf("%s: arb (after %v): %v", q.name, time.Since(began).Round(time.Millisecond), aerr)
			continue
		}
		if diff := diffResults(normaliseRows(want), normaliseRows(got), q.ordered); diff != "" {
			t.Errorf("%s: arb and DuckDB disagree: %s", q.name, diff)
			continue
		}
		agree++
		t.Logf("%s: agree (%d rows, arb %v)", q.name, len(got), time.Since(began).Round(time.Millisecond))
	}
	t.Logf("%d of %d corpus queries agree with DuckDB on %d events", agree, len(qs), events)
}

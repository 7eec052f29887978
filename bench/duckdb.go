package main

// duckdb.go runs DuckDB in-process (github.com/duckdb/duckdb-go/v2, pinned
// in go.mod) on a file database in the run's throwaway dir, loaded with
// COPY from the dataset's TSV file.

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	_ "github.com/duckdb/duckdb-go/v2"
)

type duckDB struct {
	path string
	db   *sql.DB
}

func (d *duckDB) name() string     { return "DuckDB" }
func (d *duckDB) dialect() dialect { return dialectDuckDB }

func openDuckDB(dir string) (*duckDB, error) {
	path := filepath.Join(dir, "bench.duckdb")
	db, err := sql.Open("duckdb", path)
	if err != nil {
		return nil, fmt.Errorf("duckdb: open %s: %w", path, err)
	}
	return &duckDB{path: path, db: db}, nil
}

func (d *duckDB) close() error { return d.db.Close() }

func (d *duckDB) load(ctx context.Context, tsv string) (loadResult, error) {
	res := loadResult{engine: "DuckDB", path: "COPY FROM the TSV file"}
	const schema = `CREATE TABLE events (time TIMESTAMP, event VARCHAR, distinct_id VARCHAR, "$os" VARCHAR, "$browser" VARCHAR,
		"$city" VARCHAR, plan VARCHAR, utm_source VARCHAR, amount DOUBLE)`
	if _, err := d.db.ExecContext(ctx, schema); err != nil {
		return res, fmt.Errorf("duckdb: create table: %w", err)
	}
	start, cpu0 := time.Now(), selfCPU()
	// NULLSTR '\N' keeps an empty utm_source an empty string.
	copySQL := fmt.Sprintf(`COPY events FROM '%s' (FORMAT csv, DELIMITER '\t', HEADER false, NULLSTR '\N', QUOTE '', ESCAPE '')`,
		strings.ReplaceAll(tsv, "'", "''"))
	if _, err := d.db.ExecContext(ctx, copySQL); err != nil {
		return res, fmt.Errorf("duckdb: copy: %w", err)
	}
	if _, err := d.db.ExecContext(ctx, "CHECKPOINT"); err != nil {
		return res, fmt.Errorf("duckdb: checkpoint: %w", err)
	}
	res.elapsed, res.cpu = time.Since(start), selfCPU()-cpu0
	if err := d.db.QueryRowContext(ctx, "SELECT count(*) FROM events").Scan(&res.rows); err != nil {
		return res, err
	}
	for _, p := range []string{d.path, d.path + ".wal"} {
		if st, err := os.Stat(p); err == nil {
			res.diskBytes += st.Size()
		}
	}
	res.note = "database file after CHECKPOINT"
	return res, nil
}

func (d *duckDB) query(ctx context.Context, q string) ([][]any, error) {
	rows, err := scanAll(d.db.QueryContext(ctx, q))
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	return rows, err
}

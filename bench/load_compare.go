package main

// load_compare.go times bulk loads of one CSV file: arb's LOAD DATA LOCAL
// INFILE (over go-sql-driver, the client sending the file) against
// DuckDB's COPY, in the same run, each into a fresh database. The CSV is
// the dataset (workload.go) written once next to its TSV cache file.
//
// CSV layout: a header line, then one event a line, ','-separated,
// '\n'-terminated; a string is enclosed in '"' when it is empty or holds
// a ',' or '"' (doubled inside), so an empty utm_source stays an empty
// string; a NULL amount is \N. The dataset holds no tab, newline, quote
// or backslash (workload.go), so nothing else needs escaping.

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
)

// csvColumns is the CSV's header and LOAD DATA's column list, in the
// TSV's column order.
var csvColumns = []string{"time", "event", "distinct_id", "$os", "$browser", "$city", "plan", "utm_source", "amount"}

// ensureCSV returns the CSV form of the dataset at tsv, writing it first
// when missing (ensureDatasetForm).
func ensureCSV(tsv string) (string, error) {
	return ensureDatasetForm(tsv, ".csv", strings.Join(csvColumns, ",")+"\n", func(line []byte, r *tsvRow) []byte {
		for i, s := range []string{r.time, r.event, r.distinctID, r.os, r.browser, r.city, r.plan, r.utm} {
			if i > 0 {
				line = append(line, ',')
			}
			line = appendCSVString(line, s)
		}
		line = append(line, ',')
		line = append(line, r.amount...) // a number or \N
		return append(line, '\n')
	})
}

// ensureDatasetForm returns the dataset at tsv rewritten beside it with
// the extension ext (header, then appendLine's bytes for each row),
// writing it first when missing; the file is published by rename, as the
// TSV is, so a present file is a whole one.
func ensureDatasetForm(tsv, ext, header string, appendLine func([]byte, *tsvRow) []byte) (string, error) {
	path := strings.TrimSuffix(tsv, ".tsv") + ext
	if _, err := os.Stat(path); err == nil {
		logf("dataset: cached %s", path)
		return path, nil
	}
	start := time.Now()
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return "", fmt.Errorf("create %s: %w", tmp, err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	w.WriteString(header)
	var line []byte
	_, err = readDataset(tsv, 0, func(r *tsvRow) error {
		line = appendLine(line[:0], r)
		_, err := w.Write(line)
		return err
	})
	if err == nil {
		err = w.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", fmt.Errorf("write %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return "", fmt.Errorf("publish %s: %w", path, err)
	}
	logf("dataset: wrote %s in %s", path, time.Since(start).Round(time.Millisecond))
	return path, nil
}

func appendCSVString(b []byte, s string) []byte {
	if s != "" && !strings.ContainsAny(s, `,"`) {
		return append(b, s...)
	}
	b = append(b, '"')
	b = append(b, strings.ReplaceAll(s, `"`, `""`)...)
	return append(b, '"')
}

// loadCheck is what both loads of the CSV must agree on: rows, non-NULL
// amounts, empty utm_source strings, distinct users and events.
const loadCheck = "SELECT count(*), count(amount), sum(CASE WHEN utm_source = '' THEN 1 ELSE 0 END), " +
	"count(DISTINCT distinct_id), count(DISTINCT event) FROM events"

// checkLoad runs loadCheck and returns its row as text.
func checkLoad(ctx context.Context, db *sql.DB) (string, error) {
	rows, err := scanAll(db.QueryContext(ctx, loadCheck))
	if err != nil {
		return "", fmt.Errorf("load check: %w", err)
	}
	return fmt.Sprint(normaliseRows(rows)), nil
}

// loadDataArb loads the CSV into a fresh arb in dir with one LOAD DATA
// LOCAL INFILE, timed from the statement to its OK (every row durable),
// then checks it (loadCheck), stops it and measures its data directory.
func loadDataArb(ctx context.Context, bin, dir, csv string) (loadResult, string, error) {
	res := loadResult{engine: "arb", path: "LOAD DATA LOCAL INFILE of the CSV (go-sql-driver)"}
	a, err := newArbServer(bin, dir)
	if err != nil {
		return res, "", err
	}
	if err := a.start(); err != nil {
		a.stop()
		return res, "", err
	}
	mysql.RegisterLocalFile(csv)
	db, err := sql.Open("mysql", fmt.Sprintf("root@tcp(127.0.0.1:%d)/%s", a.mysqlPort, arbProject))
	if err != nil {
		a.stop()
		return res, "", err
	}
	defer db.Close()
	cols := make([]string, len(csvColumns))
	for i, c := range csvColumns {
		cols[i] = "`" + c + "`"
	}
	stmt := fmt.Sprintf(`LOAD DATA LOCAL INFILE '%s' INTO TABLE events FIELDS TERMINATED BY ',' OPTIONALLY ENCLOSED BY '"' `+
		`ESCAPED BY '\\' LINES TERMINATED BY '\n' IGNORE 1 LINES (%s)`, strings.ReplaceAll(csv, "'", "''"), strings.Join(cols, ", "))
	start := time.Now()
	out, err := db.ExecContext(ctx, stmt)
	res.elapsed = time.Since(start)
	if err != nil {
		a.stop()
		return res, "", fmt.Errorf("arb LOAD DATA: %w", err)
	}
	n, _ := out.RowsAffected()
	res.rows = int(n)
	check, err := checkLoad(ctx, db)
	if err != nil {
		a.stop()
		return res, "", err
	}
	proc := a.proc
	if err := a.stop(); err != nil {
		return res, "", err
	}
	res.cpu = proc.cpu
	if res.diskBytes, err = dirBytes(a.dataDir()); err != nil {
		return res, "", err
	}
	res.note = "du of the data dir after SIGTERM (flushed)"
	return res, check, nil
}

// copyDuckDB loads the CSV into a fresh DuckDB database file in dir with
// COPY, timed to the end of its CHECKPOINT, as duckDB.load does.
func copyDuckDB(ctx context.Context, dir, csv string) (loadResult, string, error) {
	res := loadResult{engine: "DuckDB", path: "COPY FROM the CSV"}
	path := filepath.Join(dir, "load-compare.duckdb")
	db, err := sql.Open("duckdb", path)
	if err != nil {
		return res, "", fmt.Errorf("duckdb: open %s: %w", path, err)
	}
	defer func() {
		db.Close()
		os.Remove(path)
		os.Remove(path + ".wal")
	}()
	const schema = `CREATE TABLE events (time TIMESTAMP, event VARCHAR, distinct_id VARCHAR, "$os" VARCHAR, "$browser" VARCHAR,
		"$city" VARCHAR, plan VARCHAR, utm_source VARCHAR, amount DOUBLE)`
	if _, err := db.ExecContext(ctx, schema); err != nil {
		return res, "", fmt.Errorf("duckdb: create table: %w", err)
	}
	start, cpu0 := time.Now(), selfCPU()
	copySQL := fmt.Sprintf(`COPY events FROM '%s' (FORMAT csv, DELIMITER ',', HEADER true, NULLSTR '\N', QUOTE '"', ESCAPE '"')`,
		strings.ReplaceAll(csv, "'", "''"))
	if _, err := db.ExecContext(ctx, copySQL); err != nil {
		return res, "", fmt.Errorf("duckdb: copy: %w", err)
	}
	if _, err := db.ExecContext(ctx, "CHECKPOINT"); err != nil {
		return res, "", fmt.Errorf("duckdb: checkpoint: %w", err)
	}
	res.elapsed, res.cpu = time.Since(start), selfCPU()-cpu0
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM events").Scan(&res.rows); err != nil {
		return res, "", err
	}
	for _, p := range []string{path, path + ".wal"} {
		if st, err := os.Stat(p); err == nil {
			res.diskBytes += st.Size()
		}
	}
	res.note = "database file after CHECKPOINT"
	check, err := checkLoad(ctx, db)
	return res, check, err
}

// compareLoads runs both loads of the CSV and returns their results, arb
// first.
func compareLoads(ctx context.Context, cfg *config, arbBin, work, dataset string) ([]loadResult, error) {
	csv, err := ensureCSV(dataset)
	if err != nil {
		return nil, err
	}
	var out []loadResult
	var checks []string
	if cfg.engines["arb"] {
		dir := filepath.Join(work, "arb-load-data")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
		res, check, err := loadDataArb(ctx, arbBin, dir, csv)
		os.RemoveAll(dir)
		if err != nil {
			return nil, err
		}
		logf("arb LOAD DATA: %s; check %s", describeLoad(res), check)
		checks = append(checks, check)
		out = append(out, res)
	}
	if cfg.engines["duckdb"] {
		res, check, err := copyDuckDB(ctx, work, csv)
		if err != nil {
			return nil, err
		}
		logf("duckdb COPY of the CSV: %s; check %s", describeLoad(res), check)
		checks = append(checks, check)
		out = append(out, res)
	}
	if len(checks) == 2 && checks[0] != checks[1] {
		return nil, fmt.Errorf("the CSV loads disagree: arb %s, DuckDB %s (%s)", checks[0], checks[1], loadCheck)
	}
	return out, nil
}

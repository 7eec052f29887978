package main

// compaction.go measures what compaction buys arb's queries. After the
// main table (arb as loaded: the segments its flushes and background
// compactor left), it asks arb to merge every day into one segment
// (POST /admin/compact, server/http_admin.go), times Q1–Q8 again on arb
// alone, checks each answer against arb's answer before, and renders a
// second table: ms before, ms after, ratio, and the bytes on disk before
// and after beside DuckDB's.
//
// For the "before" figures to be of one layout, arb answers the queries
// with its background compactor off (--background-compaction=false at the
// restart after the load, arb.go): segments found at start-up count as
// quiet, so the compactor would otherwise merge every day while the
// queries are being timed.
//
// Bytes on disk here are the sum of the files' sizes (not du's blocks):
// that is how DuckDB's database file is counted too.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"path/filepath"
	"strings"
	"time"
)

// adminCompactReply is the JSON POST /admin/compact answers with (the
// fields the report uses).
type adminCompactReply struct {
	Runs           int64  `json:"runs"`
	RowsIn         int64  `json:"rows_in"`
	RowsOut        int64  `json:"rows_out"`
	Duplicates     int64  `json:"duplicates"`
	SegmentsBefore int    `json:"segments_before"`
	SegmentsAfter  int    `json:"segments_after"`
	TookMillis     int64  `json:"took_ms"`
	Error          string `json:"error"`
}

// compactionRow is one query timed before and after compaction.
type compactionRow struct {
	label         string
	before, after cellResult
	diff          string // after's answer against before's, "" if equal
	skipped       string // why after was not measured, "" if it was
}

// compactionReport is the second table's content.
type compactionReport struct {
	reply                         adminCompactReply
	took                          time.Duration
	before, after                 segmentLayout
	arbBytesBefore, arbBytesAfter int64
	duckdbBytes                   int64 // 0 when DuckDB did not run
	rows                          []compactionRow
}

// segmentLayout is what arb.segments shows at one moment.
type segmentLayout struct {
	segments, days, maxPerDay int
}

// compact asks the running arb to merge every day into one segment and
// waits for the reply.
func (a *arbServer) compact(ctx context.Context) (adminCompactReply, error) {
	var reply adminCompactReply
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.httpURL("/admin/compact"), nil)
	if err != nil {
		return reply, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return reply, fmt.Errorf("POST /admin/compact: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(body, &reply); err != nil {
		return reply, fmt.Errorf("POST /admin/compact: HTTP %d: %.300s", resp.StatusCode, body)
	}
	if resp.StatusCode != http.StatusOK {
		return reply, fmt.Errorf("POST /admin/compact: HTTP %d: %s", resp.StatusCode, reply.Error)
	}
	return reply, nil
}

// segmentLayout reads arb.segments.
func (a *arbServer) segmentLayout(ctx context.Context) (segmentLayout, error) {
	var l segmentLayout
	var sum float64 // sum() is a DECIMAL, sent as a float when large
	err := a.db.QueryRowContext(ctx, "SELECT coalesce(sum(c), 0), count(*), coalesce(max(c), 0) FROM "+
		"(SELECT day, count(*) AS c FROM arb.segments GROUP BY day) d").Scan(&sum, &l.days, &l.maxPerDay)
	if err != nil {
		return l, fmt.Errorf("arb.segments: %w", err)
	}
	l.segments = int(sum)
	return l, nil
}

// fileBytes sums the sizes of the files under dir.
func fileBytes(dir string) (int64, error) {
	var total int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		total += info.Size()
		return nil
	})
	return total, err
}

// runAfterCompaction compacts arb (engine index ai of rep.engines), times
// Q1–Q8 on it again and returns the second table's content.
func runAfterCompaction(ctx context.Context, cfg *config, rep *report, ai int) (*compactionReport, error) {
	a := rep.engines[ai].(*arbServer)
	cr := &compactionReport{}
	for _, l := range rep.loads {
		if l.engine == "DuckDB" {
			cr.duckdbBytes = l.diskBytes
		}
	}
	var err error
	if cr.before, err = a.segmentLayout(ctx); err != nil {
		return nil, err
	}
	if cr.arbBytesBefore, err = fileBytes(a.dataDir()); err != nil {
		return nil, err
	}
	logf("arb: POST /admin/compact (%d segments over %d days, at most %d a day)", cr.before.segments, cr.before.days, cr.before.maxPerDay)
	start := time.Now()
	if cr.reply, err = a.compact(ctx); err != nil {
		return nil, err
	}
	cr.took = time.Since(start)
	logf("arb: compacted in %.1f s: %+v", cr.took.Seconds(), cr.reply)
	if cr.after, err = a.segmentLayout(ctx); err != nil {
		return nil, err
	}
	if cr.arbBytesAfter, err = fileBytes(a.dataDir()); err != nil {
		return nil, err
	}
	for _, row := range rep.rows {
		if row.q.id == "Q0" || row.q.text[dialectArb] == "" {
			continue
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		r := compactionRow{label: row.label(), before: row.cells[ai]}
		if r.before.timeout {
			// Another full timeout would say little and cost minutes.
			r.skipped = "not run again (timed out before)"
			cr.rows = append(cr.rows, r)
			continue
		}
		r.after = measure(ctx, a, row.q.text[dialectArb], cfg)
		if sh := row.q.shape; sh != nil && r.after.ok() {
			if shaped, err := sh(dialectArb, r.after.raw); err != nil {
				r.after.err = err
			} else {
				r.after.raw = shaped
			}
		}
		if r.before.ok() && r.after.ok() {
			r.diff = diffResults(normaliseRows(r.before.raw), normaliseRows(r.after.raw), row.q.ordered)
		}
		logf("%s %s arb after compaction: %s", row.q.id, row.q.variant, r.after.short())
		cr.rows = append(cr.rows, r)
	}
	return cr, nil
}

// render writes the second table (markdown).
func (cr *compactionReport) render(b *strings.Builder, cfg *config) {
	fmt.Fprintf(b, "\n### arb after compaction\n\n")
	fmt.Fprintf(b, "POST /admin/compact merged %d segments over %d days (at most %d a day) into %d (at most %d a day) in %.1f s: "+
		"%d runs, %d rows in, %d rows out, %d duplicates dropped. Ratio = ms before / ms after (> 1: faster after).\n\n",
		cr.before.segments, cr.before.days, cr.before.maxPerDay, cr.after.segments, cr.after.maxPerDay, cr.took.Seconds(),
		cr.reply.Runs, cr.reply.RowsIn, cr.reply.RowsOut, cr.reply.Duplicates)
	b.WriteString("| query | arb ms before | arb ms after | before / after | answer after |\n|---|---:|---:|---:|---|\n")
	for _, r := range cr.rows {
		ratio := "—"
		if r.before.ok() && r.after.ok() && r.after.median > 0 {
			ratio = fmtRatio(float64(r.before.median) / float64(r.after.median))
		}
		answer := "same as before"
		switch {
		case !r.before.ok() || !r.after.ok():
			answer = "—"
		case r.diff != "":
			answer = "**DIFFERS from before**: " + oneLine(r.diff)
		}
		after := cellMillis(r.after, cfg)
		if r.skipped != "" {
			after, answer = r.skipped, "—"
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s |\n", r.label, cellMillis(r.before, cfg), after, ratio, answer)
	}
	b.WriteString("\n| on disk (sum of file sizes) | MB |\n|---|---:|\n")
	fmt.Fprintf(b, "| arb before compaction | %.1f |\n| arb after compaction | %.1f |\n", float64(cr.arbBytesBefore)/1e6, float64(cr.arbBytesAfter)/1e6)
	if cr.duckdbBytes > 0 {
		fmt.Fprintf(b, "| DuckDB | %.1f |\n", float64(cr.duckdbBytes)/1e6)
	}
}

// cellMillis is a cell of the second table: the median, or why none.
func cellMillis(c cellResult, cfg *config) string {
	switch {
	case c.absent:
		return "—"
	case c.timeout:
		return fmt.Sprintf("timeout (> %s)", cfg.timeout)
	case c.err != nil:
		return "error: " + oneLine(c.err.Error())
	}
	s := fmtMillis(c.median)
	if c.n < cfg.runs {
		s += fmt.Sprintf(" (n=%d)", c.n)
	}
	return s
}

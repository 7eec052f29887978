package main

// report.go checks the answers against each other and renders the result
// table (markdown, printed and written to -out).

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"
)

type resultRow struct {
	q     benchQuery
	cells []cellResult // by engine, as report.engines
}

type report struct {
	cfg     *config
	dataset string
	started time.Time
	engines []engine
	loads   []loadResult
	probes  []loadResult // arb load paths tried
	rows    []resultRow
	// refs names, per query id, the answer the others are checked against.
	refs map[string]string
	// compaction is arb's second table (nil when not run).
	compaction *compactionReport
}

var queryTitles = map[string]string{
	"Q0": "load check: by utm_source, count, count(amount), time range",
	"Q1": "count(*)",
	"Q2": "count of Purchase",
	"Q3": "count by event",
	"Q4": "exact daily uniques",
	"Q5": "signups by $browser, last 7 days",
	"Q6": "sum(amount) by plan",
	"Q7": "funnel Signup → Page View → Purchase, 7 days",
	"Q8": "day 0..30 retention of the 2025-01-15 cohort",
}

func (r resultRow) label() string {
	l := r.q.id + " " + queryTitles[r.q.id]
	switch {
	case r.q.variant == "native" && r.q.id == "Q7":
		l = "Q7 native: arb window_funnel / ClickHouse windowFunnel"
	case r.q.variant != "":
		l += " — " + r.q.variant
	}
	return l
}

// check compares every answer of a query id (all its rows) with one
// reference answer: the plain form's ClickHouse (String) answer when there
// is one, else the first answer that came back.
func (rep *report) check() {
	rep.refs = map[string]string{}
	order := rep.referenceOrder()
	for i := range rep.rows {
		id := rep.rows[i].q.id
		if _, done := rep.refs[id]; done {
			continue
		}
		var ref [][]cell
		refOrdered := false
		for j := i; j < len(rep.rows) && ref == nil; j++ {
			if rep.rows[j].q.id != id {
				continue
			}
			for _, e := range order {
				if c := rep.rows[j].cells[e]; c.ok() {
					ref = normaliseRows(c.raw)
					refOrdered = rep.rows[j].q.ordered
					rep.refs[id] = rep.engines[e].name()
					if v := rep.rows[j].q.variant; v != "" {
						rep.refs[id] += " (" + v + ")"
					}
					break
				}
			}
		}
		if ref == nil {
			rep.refs[id] = ""
			continue
		}
		for j := i; j < len(rep.rows); j++ {
			if rep.rows[j].q.id != id {
				continue
			}
			for e := range rep.rows[j].cells {
				c := &rep.rows[j].cells[e]
				if c.ok() {
					c.diff = diffResults(ref, normaliseRows(c.raw), refOrdered && rep.rows[j].q.ordered)
				}
			}
		}
	}
}

// referenceOrder lists engine indexes by preference as reference:
// ClickHouse, DuckDB, the rest, arb last.
func (rep *report) referenceOrder() []int {
	var first, rest, arb []int
	for i, e := range rep.engines {
		switch e.name() {
		case "ClickHouse", "DuckDB":
			first = append(first, i)
		case "arb":
			arb = append(arb, i)
		default:
			rest = append(rest, i)
		}
	}
	return append(append(first, rest...), arb...)
}

func (rep *report) render() string {
	var b strings.Builder
	host, _ := os.Hostname()
	users := rep.cfg.events / usersPerEvent
	fmt.Fprintf(&b, "## arb vs peers: %d events, %d users, seed %d\n\n", rep.cfg.events, users, rep.cfg.seed)
	fmt.Fprintf(&b, "Run %s on %s (%d CPUs); arb %s (%s); dataset %s (no insert_id). Median ms of %d runs after one warm-up; "+
		"timeout %s a run. Ratio = best peer ms / arb ms (> 1: arb faster).\n\n",
		rep.started.UTC().Format("2006-01-02 15:04 UTC"), host, runtime.NumCPU(), rep.cfg.arbBin, arbRevision(),
		rep.dataset, rep.cfg.runs, rep.cfg.timeout)

	b.WriteString("| query |")
	for _, e := range rep.engines {
		fmt.Fprintf(&b, " %s ms |", e.name())
	}
	b.WriteString(" best peer / arb | answers |\n|---|")
	for range rep.engines {
		b.WriteString("---:|")
	}
	b.WriteString("---:|---|\n")
	var notes []string
	note := func(s string) string {
		notes = append(notes, s)
		return fmt.Sprintf("[%d]", len(notes))
	}
	for _, row := range rep.rows {
		fmt.Fprintf(&b, "| %s |", row.label())
		arbMs, bestPeer := time.Duration(0), time.Duration(0)
		var bad []string
		for i, c := range row.cells {
			name := rep.engines[i].name()
			var s string
			switch {
			case c.absent:
				s = "—"
			case c.timeout:
				s = fmt.Sprintf("timeout (> %s)", rep.cfg.timeout)
			case c.err != nil:
				s = "error " + note(fmt.Sprintf("%s, %s: %s", row.label(), name, oneLine(c.err.Error())))
			default:
				s = fmtMillis(c.median)
				if c.n < rep.cfg.runs {
					s += fmt.Sprintf(" (n=%d)", c.n)
				}
				if name == "arb" {
					arbMs = c.median
				} else if bestPeer == 0 || c.median < bestPeer {
					bestPeer = c.median
				}
				if c.diff != "" {
					bad = append(bad, name)
					s += " **≠** " + note(fmt.Sprintf("**DISAGREE** %s, %s vs %s: %s", row.label(), name, rep.refs[row.q.id], c.diff))
				}
			}
			fmt.Fprintf(&b, " %s |", s)
		}
		ratio := "—"
		if arbMs > 0 && bestPeer > 0 {
			ratio = fmtRatio(float64(bestPeer) / float64(arbMs))
		}
		answers := "agree"
		if rep.refs[row.q.id] == "" {
			answers = "no answer"
		}
		if len(bad) > 0 {
			answers = "**DISAGREE: " + strings.Join(bad, ", ") + "**"
		}
		fmt.Fprintf(&b, " %s | %s |\n", ratio, answers)
	}

	b.WriteString("\n| engine | load path | rows | load s | rows/s | on disk MB | measured as |\n|---|---|---:|---:|---:|---:|---|\n")
	for _, l := range rep.loads {
		writeLoad(&b, l, "")
	}
	for _, l := range rep.probes {
		writeLoad(&b, l, "arb probe")
	}
	if len(notes) > 0 {
		b.WriteString("\n")
		for i, n := range notes {
			fmt.Fprintf(&b, "[%d] %s\n\n", i+1, n)
		}
	}
	b.WriteString("\nEvery answer of a query is checked against: ")
	var refs []string
	for _, row := range rep.rows {
		if row.q.variant == "" {
			refs = append(refs, row.q.id+": "+orNone(rep.refs[row.q.id]))
		}
	}
	b.WriteString(strings.Join(refs, ", ") + ".\n")
	if rep.compaction != nil {
		rep.compaction.render(&b, rep.cfg)
	}
	return b.String()
}

func writeLoad(b *strings.Builder, l loadResult, prefix string) {
	engine := l.engine
	if prefix != "" {
		engine = prefix
	}
	if l.elapsed == 0 {
		fmt.Fprintf(b, "| %s | %s | — | — | — | — | %s |\n", engine, l.path, l.note)
		return
	}
	disk := "—"
	if prefix == "" {
		disk = fmt.Sprintf("%.1f", float64(l.diskBytes)/1e6)
	}
	note := l.note
	if l.cpu > 0 {
		note = fmt.Sprintf("CPU %.1f s; %s", l.cpu.Seconds(), note)
	}
	fmt.Fprintf(b, "| %s | %s | %d | %.1f | %.0f | %s | %s |\n", engine, l.path, l.rows, l.elapsed.Seconds(),
		float64(l.rows)/l.elapsed.Seconds(), disk, note)
}

func orNone(s string) string {
	if s == "" {
		return "(none answered)"
	}
	return s
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 600 {
		s = s[:600] + "…"
	}
	return s
}

// fmtRatio shows two significant digits, also far below 1.
func fmtRatio(r float64) string {
	if r >= 10 {
		return fmt.Sprintf("%.0f×", r)
	}
	return strconv.FormatFloat(r, 'g', 2, 64) + "×"
}

// arbRevision describes the source tree the arb binary was presumably
// built from: the repository above bench/ (HEAD, and whether tracked files
// differ from it).
func arbRevision() string {
	out, err := exec.Command("git", "-C", "..", "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return "revision unknown"
	}
	rev := "commit " + strings.TrimSpace(string(out))
	if st, err := exec.Command("git", "-C", "..", "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(st) > 0 {
		rev += " + uncommitted changes"
	}
	return rev
}

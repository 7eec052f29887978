package main

// cluster_report.go renders the -cluster table (cluster.go): ingest
// rate of each setup against the single node's, and Q0–Q8 times through
// the cluster against the single node's, with the answers' check.

import (
	"fmt"
	"strings"
	"time"
)

// clusterReport is the whole outcome of a -cluster run.
type clusterReport struct {
	header                   string // machine, binary
	command                  string // to reproduce the run
	events, runs             int
	seed                     uint64
	timeout                  time.Duration
	loadAvgStart, loadAvgEnd string // /proc/loadavg 1, 5, 15 min
	loads                    []clusterLoad
	// leaderBefore and leaderAfter are the 3-node cluster's leader when
	// the queries started and ended; follower is the node queried as one.
	leaderBefore, leaderAfter, follower string
	// termBefore and termAfter are its leader's Raft term then.
	termBefore, termAfter uint64
	// restarted: each setup was stopped and started between its load
	// and the queries (-cluster-restart).
	restarted bool
	// cmp holds the query rows, by engine: single node first (the
	// reference of every answer), then the cluster ones.
	cmp *report
}

// problems lists every answer that differs from the reference and every
// query that failed or timed out, one line each.
func (r *clusterReport) problems() []string {
	var out []string
	if r.cmp == nil {
		return nil
	}
	for _, row := range r.cmp.rows {
		for i, c := range row.cells {
			name := r.cmp.engines[i].name()
			switch {
			case c.absent:
			case c.timeout:
				out = append(out, fmt.Sprintf("%s, %s: timeout (> %s)", row.label(), name, r.timeout))
			case c.err != nil:
				out = append(out, fmt.Sprintf("%s, %s: error: %s", row.label(), name, oneLine(c.err.Error())))
			case c.diff != "":
				out = append(out, fmt.Sprintf("%s, %s vs %s: %s", row.label(), name, r.cmp.refs[row.q.id], c.diff))
			}
		}
	}
	return out
}

// ratioCell is "x×" for part/whole, or "—" when either is unknown.
func ratioCell(part, whole time.Duration) string {
	if part <= 0 || whole <= 0 {
		return "—"
	}
	return fmtRatio(float64(part) / float64(whole))
}

// renderCluster renders the markdown table (see cluster.go's comment).
func renderCluster(r *clusterReport) string {
	var b strings.Builder
	fmt.Fprintf(&b, "## arb: a cluster against one node (issue 15): %d events, %d users, seed %d\n\n",
		r.events, r.events/usersPerEvent, r.seed)
	if r.header != "" {
		b.WriteString(r.header + " ")
	}
	fmt.Fprintf(&b, "Every node runs on this one machine, on loopback. Load average (1, 5, 15 min) at the start: %s; at the end: %s. "+
		"The machine is shared with other work, so absolute figures are noisy; the ratios, taken in the same run, are the figures to read.\n\n",
		orUnknown(r.loadAvgStart), orUnknown(r.loadAvgEnd))
	if r.command != "" {
		fmt.Fprintf(&b, "Reproduce: `make build && %s`.\n\n", r.command)
	}

	b.WriteString("### Ingest\n\n")
	b.WriteString("The same dataset through HTTP /import into each setup, fresh; a cluster's requests take its nodes in turn. " +
		"Load s ends with the last acknowledgement (a node acknowledges once it has applied the batch); " +
		"\"all applied\" is the load start to every node having applied everything the leader had committed by then. " +
		"Every setup runs with background compaction off, so nothing merges under the queries. " +
		"\"term\" is the leader's Raft term before and after the load: each election adds at least one. " +
		"A request answered 503 is sent again after its Retry-After when arb shed load (nothing stored) or, if the events carry " +
		"a $insert_id, when the Raft leader changed with it in flight (stored once either way); the retries are counted here.\n\n")
	b.WriteString("| setup | nodes | load path | rows | load s | events/s | / single | all applied s | term | retries: shed load / leader change | on disk MB, all nodes | of which Raft MB |\n")
	b.WriteString("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	var singleRate float64
	for i, l := range r.loads {
		if l.res.elapsed <= 0 {
			fmt.Fprintf(&b, "| %s | %d | %s | — | — | — | — | — | — | — | — | — |\n", l.setup, l.nodes, l.res.path)
			continue
		}
		rate := float64(l.res.rows) / l.res.elapsed.Seconds()
		if i == 0 {
			singleRate = rate
		}
		vs := "—"
		if singleRate > 0 {
			vs = fmtRatio(rate / singleRate)
		}
		applied := "—"
		if l.allApplied > 0 {
			applied = fmt.Sprintf("%.1f", l.allApplied.Seconds())
		}
		raft := "—"
		if l.raftBytes > 0 {
			raft = fmt.Sprintf("%.1f", float64(l.raftBytes)/1e6)
		}
		term := "—"
		if l.termBefore > 0 {
			term = fmt.Sprintf("%d → %d", l.termBefore, l.termAfter)
		}
		fmt.Fprintf(&b, "| %s | %d | %s | %d | %.1f | %.0f | %s | %s | %s | %d / %d | %.1f | %s |\n", l.setup, l.nodes, l.res.path,
			l.res.rows, l.res.elapsed.Seconds(), rate, vs, applied, term, l.shedRetries, l.leaderRetries, float64(l.res.diskBytes)/1e6, raft)
	}

	if r.restarted {
		b.WriteString("\nEach setup was stopped (SIGTERM, a flush) and started again between its load and the queries.\n")
	} else {
		b.WriteString("\nThe queries ran on the processes that took the load (-cluster-restart=false); " +
			"the disk figures are taken after the queries, each setup stopped with SIGTERM (a flush).\n")
	}
	if r.cmp != nil {
		renderClusterQueries(&b, r)
	}
	return b.String()
}

func renderClusterQueries(b *strings.Builder, r *clusterReport) {
	engines := r.cmp.engines
	fmt.Fprintf(b, "\n### Queries\n\nMedian ms of %d runs after one warm-up (the warm-up's answer is the one checked), timeout %s a run; "+
		"the setups take turns run by run (one warm-up each, then rounds of one run on each). The 3-node cluster's leader was %s (term %d) when the queries started and %s (term %d) when they ended; "+
		"the follower queried is %s. A read on a cluster node first waits until the node has applied every write acknowledged before it "+
		"(README, Cluster mode). Ratio = setup ms / single ms (> 1: slower than one node).\n\n",
		r.runs, r.timeout, orUnknown(r.leaderBefore), r.termBefore, orUnknown(r.leaderAfter), r.termAfter, orUnknown(r.follower))
	b.WriteString("| query |")
	for _, e := range engines {
		fmt.Fprintf(b, " %s ms |", e.name())
	}
	for _, e := range engines[1:] {
		fmt.Fprintf(b, " %s / single |", e.name())
	}
	b.WriteString(" answers |\n|---|")
	for range len(engines)*2 - 1 {
		b.WriteString("---:|")
	}
	b.WriteString("---|\n")
	var notes []string
	note := func(s string) string {
		notes = append(notes, s)
		return fmt.Sprintf("[%d]", len(notes))
	}
	for _, row := range r.cmp.rows {
		fmt.Fprintf(b, "| %s |", row.label())
		var bad []string
		for i, c := range row.cells {
			name := engines[i].name()
			var s string
			switch {
			case c.absent:
				s = "—"
			case c.timeout:
				s = fmt.Sprintf("timeout (> %s)", r.timeout)
				bad = append(bad, name)
			case c.err != nil:
				s = "error " + note(fmt.Sprintf("%s, %s: %s", row.label(), name, oneLine(c.err.Error())))
				bad = append(bad, name)
			default:
				s = fmtMillis(c.median)
				if c.n < r.runs {
					s += fmt.Sprintf(" (n=%d)", c.n)
				}
				if c.diff != "" {
					bad = append(bad, name)
					s += " **≠** " + note(fmt.Sprintf("**DISAGREE** %s, %s vs %s: %s", row.label(), name, r.cmp.refs[row.q.id], c.diff))
				}
			}
			fmt.Fprintf(b, " %s |", s)
		}
		single := row.cells[0]
		for _, c := range row.cells[1:] {
			ratio := "—"
			if single.ok() && c.ok() {
				ratio = ratioCell(c.median, single.median)
			}
			fmt.Fprintf(b, " %s |", ratio)
		}
		answers := "agree"
		switch {
		case len(bad) > 0:
			answers = "**DIFFER: " + strings.Join(bad, ", ") + "**"
		case r.cmp.refs[row.q.id] == "":
			answers = "no answer"
		}
		fmt.Fprintf(b, " %s |\n", answers)
	}
	if len(notes) > 0 {
		b.WriteString("\n")
		for i, n := range notes {
			fmt.Fprintf(b, "[%d] %s\n\n", i+1, n)
		}
	}
	b.WriteString("\nEvery answer of a query id (each setup, each form) is checked against: ")
	var refs []string
	for _, row := range r.cmp.rows {
		if row.q.variant == "" {
			refs = append(refs, row.q.id+": "+orNone(r.cmp.refs[row.q.id]))
		}
	}
	b.WriteString(strings.Join(refs, ", ") + ".\n")
	if len(r.problems()) == 0 {
		b.WriteString("\nAll answers agree.\n")
	} else {
		fmt.Fprintf(b, "\n**%d answers differ or failed** (notes above).\n", len(r.problems()))
	}
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

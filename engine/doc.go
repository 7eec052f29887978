// Package engine executes queries over a project's storage.Snapshot:
// segments (column blocks, dictionaries, bitmaps, zone maps) and buffered
// rows. It never parses SQL: the planner hands it predicates, column
// lists and aggregation specs. Import direction: engine imports storage
// only.
//
// Files: scan.go reads rows (Scan); block_filter.go decides per block
// which rows a predicate keeps (zone maps first, then exact bitmaps, then
// per-row evaluation); aggregate*.go run GROUP BY natively (Aggregation:
// workers per core over parts, per-group states, merged partials);
// vec.go is a batch's columns at their current types; cohort.go computes
// `distinct_id IN (SELECT …)` as user bitmaps; funnel.go is the pure
// core of window_funnel and retention; regroup.go groups an
// aggregation's rows again (users per funnel level).
//
// Every answer must equal go-mysql-server's for the same query: values
// are converted to their column's current type before they are compared,
// keyed or aggregated, and NULLs follow SQL's three-valued logic.
package engine

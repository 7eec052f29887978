// Package engine executes queries over a project's storage.Snapshot:
// segments (column blocks, dictionaries, bitmaps, zone maps) and buffered
// rows. It never parses SQL: the planner hands it predicates and column
// lists. Import direction: engine imports storage only.
package engine

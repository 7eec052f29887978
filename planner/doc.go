// Package planner adds arb's analyzer rules to go-mysql-server: each rule
// recognises a subtree it can run natively over a project's events and
// hands it to the engine. Whatever no rule recognises keeps running
// through go-mysql-server's own operators, so every query stays correct;
// with pushdown off (SET arb_pushdown = 0) every query returns the same
// rows, which the differential tests check.
//
// Import direction: planner imports engine and storage; server imports
// planner. One rule per file, registered in rules.go.
package planner

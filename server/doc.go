// Package server is arb's front door: the MySQL protocol (through
// go-mysql-server) and the HTTP listener (health, metrics, ingestion).
//
// It owns the mapping between SQL and storage: projects are databases,
// each with an events and a people table whose columns grow as new
// properties arrive (schema.go, parser.go); rows cross into storage as
// storage.Event and come back through engine.Scan.
//
// Import direction: server imports planner, engine and storage; nothing
// of arb imports server but cmd/arb.
package server

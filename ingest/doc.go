// Package ingest owns Mixpanel-compatible HTTP ingestion: /track,
// /import, /engage, /groups (with and without a trailing slash,
// optionally under a path prefix), /decide and CORS. The contract is
// ../shared/mixpanel-ingest.md; where arb deviates from Mixpanel the
// README says so.
//
// It decodes and validates a request's records (payload.go, scan.go,
// event.go, profile.go), then hands the project's batch to an Applier:
// storage.Project, on a single node and in a cluster alike (there the
// store's write path goes through the Raft log). It also owns what each
// profile operation ($set, $add, $union, …) does to a profile
// (profile_ops.go: ApplyProfileOp, which storage calls as its
// storage.ProfileUpdater, on every replica in a cluster), and the one
// conversion of a JSON number into a stored value (NumberValue), which
// SQL's properties column and LOAD DATA use too.
//
// Invariants: a request is applied whole or not at all, and answered
// only after its records are durable; a bad record is refused with its
// index, insert_id and field named, and nothing of its request is
// stored; request bytes read and not yet answered never exceed the
// budget (budget.go) — beyond it a request is shed with 503 and
// Retry-After. Import direction: server → ingest → storage.
package ingest

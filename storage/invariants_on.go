//go:build arb_invariants || race

package storage

// invariantsEnabled turns on costly self-checks (sort orders, re-reads of
// written files). `make test` builds with the arb_invariants tag; the race
// detector turns them on too.
const invariantsEnabled = true

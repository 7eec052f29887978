package integration

import (
	"os"
	"testing"
)

// TestMain runs the tests, or — when the overload test starts this test
// binary again as one of its client processes (ARB_LOAD_CLIENT set) —
// that client (overload_test.go).
func TestMain(m *testing.M) {
	if cfg := os.Getenv(loadClientEnv); cfg != "" {
		os.Exit(runLoadClient(cfg))
	}
	os.Exit(m.Run())
}

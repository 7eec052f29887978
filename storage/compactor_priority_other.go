//go:build !linux

package storage

// lowerCompactorPriority does nothing where threads cannot be reniced
// one by one: the compactor is still a single goroutine (one core).
func lowerCompactorPriority() (tid int, err error) { return 0, nil }

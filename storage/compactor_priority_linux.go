package storage

import (
	"runtime"
	"syscall"
)

// compactorNice is the scheduling niceness of the background compactor's
// thread: with ingest and queries using the cores, the kernel gives a
// nice-10 thread about a tenth of a nice-0 one's time, so compaction takes
// what they leave and never competes with them as an equal (one thread:
// at most one core even on an idle machine).
const compactorNice = 10

// lowerCompactorPriority pins the calling goroutine to its OS thread and
// lowers that thread's priority. The goroutine never unlocks: when it
// exits, the runtime ends the thread instead of handing the lowered
// priority to other goroutines.
// A thread already at compactorNice or nicer is left alone (setting it
// would raise its priority).
// It returns the thread's id.
func lowerCompactorPriority() (tid int, err error) {
	runtime.LockOSThread()
	tid = syscall.Gettid()
	// The raw getpriority system call answers 20 - nice.
	prio, err := syscall.Getpriority(syscall.PRIO_PROCESS, tid)
	if err != nil || 20-prio >= compactorNice {
		return tid, err
	}
	return tid, syscall.Setpriority(syscall.PRIO_PROCESS, tid, compactorNice)
}

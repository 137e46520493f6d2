//go:build unix

package store

import (
	"syscall"
	"time"
)

// processCPU is the CPU time the process has used, user and system,
// for benchmarks to report CPU per operation: their ns/op counts time
// spent waiting on the disk as well.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// Package cputime reads the CPU time of the calling thread, which on a
// machine shared with other work measures a benchmark better than the wall
// clock: it does not count the time other processes run.
package cputime

import (
	"syscall"
	"time"
	"unsafe"
)

// Thread returns the CPU time the calling thread has used, or 0 when it
// cannot be read. Callers lock their goroutine to its thread
// (runtime.LockOSThread) for the difference of two readings to mean
// anything.
func Thread() time.Duration {
	const clockThreadCPUTimeID = 3 // CLOCK_THREAD_CPUTIME_ID
	var ts syscall.Timespec
	if _, _, errno := syscall.Syscall(syscall.SYS_CLOCK_GETTIME, clockThreadCPUTimeID, uintptr(unsafe.Pointer(&ts)), 0); errno != 0 {
		return 0
	}
	return time.Duration(ts.Nano())
}

//go:build !linux

// Package cputime reads the CPU time of the calling thread, which on a
// machine shared with other work measures a benchmark better than the wall
// clock: it does not count the time other processes run.
package cputime

import "time"

// Thread returns 0: the thread's CPU time is read on Linux only.
func Thread() time.Duration { return 0 }

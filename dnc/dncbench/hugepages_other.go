//go:build !linux

package dncbench

// adviseHuge does nothing outside Linux.
func adviseHuge([]uint64) {}

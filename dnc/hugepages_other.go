//go:build !linux

package dnc

// adviseHuge does nothing outside Linux.
func adviseHuge([]byte) {}

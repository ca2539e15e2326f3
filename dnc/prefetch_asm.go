//go:build amd64 || arm64

package dnc

// prefetch asks the CPU to bring the cache lines at addrs into the cache
// without waiting for them. It never faults, whatever the addresses.
//
//go:noescape
func prefetch(addrs []uintptr)

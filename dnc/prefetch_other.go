//go:build !amd64 && !arm64

package dnc

// prefetch does nothing on this architecture.
func prefetch([]uintptr) {}

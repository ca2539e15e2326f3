package dnc_test

import (
	"runtime/debug"
	"syscall"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/dnc"
)

// TestPrefetchReadsOnlyItsAddresses: Prefetch reads every address it is
// given and nothing past them, for every length up to 9 (the unrolled
// loop's pairs and odd remainder), with the slice ending where an
// unreadable page begins, and never faults on what the addresses point
// to (nil, unmapped or that same page).
func TestPrefetchReadsOnlyItsAddresses(t *testing.T) {
	page := syscall.Getpagesize()
	mem, err := syscall.Mmap(-1, 0, 2*page, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	require.NoError(t, err)
	t.Cleanup(func() { _ = syscall.Munmap(mem) })
	require.NoError(t, syscall.Mprotect(mem[page:], syscall.PROT_NONE))
	guard := uintptr(unsafe.Pointer(&mem[page]))
	// A fault panics rather than ending the test binary.
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	targets := []uintptr{0, guard, 1 << 47, uintptr(unsafe.Pointer(&mem[0])), guard + 64}
	for n := range 10 {
		// The n addresses end at the guard page: a read past the last one
		// faults.
		addrs := unsafe.Slice((*uintptr)(unsafe.Pointer(&mem[page-8*n])), n)
		for i := range addrs {
			addrs[i] = targets[i%len(targets)]
		}
		require.NotPanics(t, func() { dnc.Prefetch(addrs) }, "%d addresses", n)
	}
	// The guard does guard: reading the word past the last address faults.
	require.Panics(t, func() { sinkByte = mem[page] })
}

// sinkByte keeps the guard page's read from being optimized away.
var sinkByte byte

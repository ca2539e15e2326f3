package dncbench

import (
	"syscall"
	"unsafe"
)

// adviseHuge asks the kernel to back the 2 MiB pages inside ws with
// transparent huge pages, as dnc does for its own arrays, so that the flat
// baselines get the same help against TLB misses. It must be called before
// ws is first written; failures are ignored.
func adviseHuge(ws []uint64) {
	const huge = 2 << 20
	if len(ws)*8 < 2*huge {
		return
	}
	b := unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(ws))), len(ws)*8)
	p := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	off := int((huge - p%huge) % huge)
	n := (len(b) - off) &^ (huge - 1)
	if n > 0 {
		_ = syscall.Madvise(b[off:off+n], 14) // MADV_HUGEPAGE
	}
}

package dnc

import (
	"syscall"
	"unsafe"
)

// madvCollapse is MADV_COLLAPSE (Linux 6.1 and later).
const madvCollapse = 25

// collapseHuge asks the kernel to move the 2 MiB pages inside b, already
// written, onto transparent huge pages now. It complements adviseHuge,
// which only takes effect for memory not yet touched: the Go heap reuses
// memory, so large arrays often start on small pages. It is only a hint;
// failures (an older kernel, no free huge pages) are ignored.
func collapseHuge(b []byte) {
	const huge = 2 << 20
	if len(b) < hugePageMin {
		return
	}
	p := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	off := int((huge - p%huge) % huge)
	if off >= len(b) {
		return
	}
	n := (len(b) - off) &^ (huge - 1)
	if n == 0 {
		return
	}
	_ = syscall.Madvise(b[off:off+n], madvCollapse)
}

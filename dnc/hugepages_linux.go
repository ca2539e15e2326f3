package dnc

import (
	"syscall"
	"unsafe"
)

// adviseHuge asks the kernel to back the 2 MiB pages inside b with
// transparent huge pages. It must be called before b is first written to
// take effect at once; it is only a hint, and failures are ignored.
func adviseHuge(b []byte) { madviseHuge(b, 14) } // MADV_HUGEPAGE

// madviseHuge applies advice to the whole 2 MiB pages inside b, when b is
// large enough to hold any; failures are ignored.
func madviseHuge(b []byte, advice int) {
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
	_ = syscall.Madvise(b[off:off+n], advice)
}

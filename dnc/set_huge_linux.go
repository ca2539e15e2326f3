package dnc

// madvCollapse is MADV_COLLAPSE (Linux 6.1 and later).
const madvCollapse = 25

// collapseHuge asks the kernel to move the 2 MiB pages inside b, already
// written, onto transparent huge pages now. It complements adviseHuge,
// which only takes effect for memory not yet touched: the Go heap reuses
// memory, so large arrays often start on small pages. It is only a hint;
// failures (an older kernel, no free huge pages) are ignored.
func collapseHuge(b []byte) { madviseHuge(b, madvCollapse) }

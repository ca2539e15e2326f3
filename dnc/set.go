package dnc

import (
	"encoding/binary"
	"iter"
	"math/bits"
	"unsafe"
)

// MaxNumber is one past the largest number a Set can hold: sets hold the
// integers 0 to 9,999,999,999, the ten-digit NANP numbers in integer form.
const MaxNumber = 10_000_000_000

const (
	npaCount     = 1000 // first-level directory size (area codes 000-999)
	exchPerNPA   = 1000 // exchanges (NXX) per area code
	npaSpan      = exchPerNPA * exchSpan
	exchBytes    = int64(unsafe.Sizeof(exch{}))
	npaTableSize = int64(unsafe.Sizeof(npaTable{}))
)

// exch is the directory entry of one exchange (NPA-NXX): the byte length of
// each of its ten chunks, and where the first one starts. The chunks are
// stored back to back, so chunk k starts at base plus the sizes before it.
type exch struct {
	sizes [chunksPerExch]uint8
	seg   uint16
	base  uint32
}

// npaTable is the directory of one area code.
type npaTable [exchPerNPA]exch

func (e *exch) bytes() int {
	n := 0
	for _, s := range e.sizes {
		n += int(s)
	}
	return n
}

// offset returns the offset of chunk k (0..9) in the exchange's segment.
func (e *exch) offset(k uint) uint {
	w := binary.LittleEndian.Uint64(e.sizes[:8])
	w &= 1<<(8*k) - 1 // all ones for k >= 8
	w = w&0x00ff00ff00ff00ff + w>>8&0x00ff00ff00ff00ff
	sum := uint((w * 0x0001000100010001) >> 48)
	// Add sizes[8] when k == 9 only.
	sum += uint(e.sizes[8]) & -(k >> 3 & k & 1)
	return uint(e.base) + sum
}

// Set is an exact, immutable set of ten-digit NANP numbers. Its methods are
// safe for concurrent use and its lookups allocate nothing. The zero Set is
// empty and ready to use; build larger ones with a Builder and change them
// with Apply.
type Set struct {
	npa  [npaCount]*npaTable
	segs [][]byte // encoded chunks; each ends with segPad zero bytes
	n    int
	live int64 // bytes of segs referenced by exchanges
	npas int   // non-nil entries of npa
}

// Len returns the number of numbers in the set.
func (s *Set) Len() int { return s.n }

// Bytes returns the memory the set references, in bytes: its directory and
// encoded data, including data it shares with other sets made by Apply.
func (s *Set) Bytes() int64 {
	b := int64(unsafe.Sizeof(*s)) + int64(s.npas)*npaTableSize
	for _, seg := range s.segs {
		b += int64(len(seg)) + int64(unsafe.Sizeof(seg))
	}
	return b
}

// BitsPerNumber returns Bytes()*8/Len(), or 0 for an empty set.
func (s *Set) BitsPerNumber() float64 {
	if s.n == 0 {
		return 0
	}
	return float64(s.Bytes()) * 8 / float64(s.n)
}

// Contains reports whether n is in the set.
func (s *Set) Contains(n uint64) bool {
	if n >= MaxNumber {
		return false
	}
	ex := n / exchSpan
	suf := uint(n - ex*exchSpan)
	a := ex / exchPerNPA
	t := s.npa[a]
	if t == nil {
		return false
	}
	e := &t[ex-a*exchPerNPA]
	k := suf / chunkSpan
	sz := uint(e.sizes[k])
	if sz == 0 {
		return false
	}
	c := s.segs[e.seg][e.offset(k):]
	r := suf - k*chunkSpan
	// Load the chunk's other cache lines together with its first, so that
	// a chunk across two or three lines costs one memory latency, not
	// several. The loads count for nothing (zeroMask is 0), but the
	// compiler cannot know that.
	more := (c[sz-1] | c[chunkLine(sz, r)]) & zeroMask
	return chunks1(c, r) != (more != 0)
}

// zeroMask is always 0; see Contains.
var zeroMask byte

// chunkLine returns the offset in a chunk of sz bytes of the byte that a
// lookup of suffix r most likely reads past the first cache line: exactly
// the right byte of a bitmap, and about where the low bits are in an
// Elias-Fano list.
func chunkLine(sz, r uint) uint {
	return chunkHdrBytes + r*(sz-chunkHdrBytes)/chunkSpan
}

// ContainsBatch sets out[i] to whether ns[i] is in the set, for every i. It
// is much faster per number than Contains: it works through the numbers in
// small groups, software-pipelined, prefetching the directory entries and
// then the chunks of the groups ahead while it decodes the current one, so
// that memory latency overlaps with work. out must be at least as long as
// ns.
func (s *Set) ContainsBatch(ns []uint64, out []bool) {
	out = out[:len(ns)]
	const (
		group = 8 // numbers per group: small groups spread the prefetches
		ahead = 2 // chunks are prefetched this many groups ahead
		ring  = 4 // ring size: entries are found ahead+1 groups ahead
	)
	var (
		ents   [ring][group]*exch  // directory entries
		sufs   [ring][group]uint16 // last four digits, then last three
		chunks [ring][group][]byte // chunks; nil when absent
		addrs  [3 * group]uintptr  // addresses to prefetch
	)
	npa, segs := &s.npa, s.segs
	groups := (len(ns) + group - 1) / group
	part := func(g int) []uint64 { return ns[g*group : min((g+1)*group, len(ns))] }
	// findEntries computes the directory entries of group g and prefetches
	// them.
	findEntries := func(g int) {
		es, ss := &ents[g%ring], &sufs[g%ring]
		k := 0
		for i, n := range part(g) {
			es[i] = nil
			if n >= MaxNumber {
				continue
			}
			ex := n / exchSpan
			ss[i] = uint16(n - ex*exchSpan)
			a := ex / exchPerNPA
			if t := npa[a]; t != nil {
				e := &t[ex-a*exchPerNPA]
				es[i] = e
				addrs[k] = uintptr(unsafe.Pointer(e))
				k++
			}
		}
		prefetch(addrs[:k])
	}
	// findChunks reads the entries of group g, in cache by now, and
	// prefetches both ends of their chunks and the line a lookup reads in
	// the middle of a long one.
	findChunks := func(g int) {
		es, ss, cs := &ents[g%ring], &sufs[g%ring], &chunks[g%ring]
		k := 0
		for i := range part(g) {
			cs[i] = nil
			e := es[i]
			if e == nil {
				continue
			}
			c := uint(ss[i]) / chunkSpan
			ss[i] -= uint16(c * chunkSpan)
			if sz := uint(e.sizes[c%chunksPerExch]); sz != 0 {
				b := segs[e.seg][e.offset(c):]
				cs[i] = b
				addrs[k] = uintptr(unsafe.Pointer(&b[0]))
				addrs[k+1] = uintptr(unsafe.Pointer(&b[sz-1]))
				addrs[k+2] = uintptr(unsafe.Pointer(&b[chunkLine(sz, uint(ss[i]))]))
				// The middle line matters only for chunks longer than
				// about two lines, bitmaps mostly.
				k += 2 + int(b2uint(sz > 96))
			}
		}
		prefetch(addrs[:k])
	}
	for g := range min(groups, ahead+1) {
		findEntries(g)
	}
	for g := range min(groups, ahead) {
		findChunks(g)
	}
	for g := range groups {
		if g+ahead+1 < groups {
			findEntries(g + ahead + 1)
		}
		if g+ahead < groups {
			findChunks(g + ahead)
		}
		cs, ss := &chunks[g%ring], &sufs[g%ring]
		o := out[g*group:]
		for i := range part(g) {
			o[i] = chunks1(cs[i], uint(ss[i]))
		}
	}
}

// Prefetch asks the CPU to bring the cache lines at addrs into its caches
// without waiting for them, for the batched lookups of other in-memory
// indexes (the consent index, the gate's request data). It never faults,
// whatever the addresses, and does nothing on architectures without a
// prefetch instruction.
func Prefetch(addrs []uintptr) { prefetch(addrs) }

// AdviseHuge asks the kernel to back b with transparent huge pages where
// it allows, for the large arrays of other in-memory indexes: random
// lookups then miss the TLB far less often. It must be called before b is
// first written to take effect at once; it is only a hint, and arrays
// smaller than a few huge pages are left alone.
func AdviseHuge(b []byte) { adviseHuge(b) }

// CollapseHuge asks the kernel to move b, already written, onto
// transparent huge pages now, where it allows; see AdviseHuge. It takes
// about a millisecond per few megabytes it moves, and nothing for memory
// already on huge pages.
func CollapseHuge(b []byte) { collapseHuge(b) }

// chunks1 reports whether the chunk c, which may be nil, holds suffix r.
// It inlines the common case of efContains: an Elias-Fano list whose upper
// bits fit in four words. The bucket search repeats efContains' on
// purpose: as a function it is too large for Go to inline, and the call
// made batched lookups about 8% slower (49.0 against 45.5 ns in one
// measured comparison), on the path that already misses its target.
func chunks1(c []byte, r uint) bool {
	if c == nil {
		return false
	}
	_ = c[33] // segPad covers this for the smallest chunk
	h := uint(c[0]) | uint(c[1])<<8
	n, l := h>>6, h>>2&15
	hi := r >> l
	u := n + chunkSpanLess1>>l + 1
	if h&3 == chunkBitmap || n == 0 || hi == 0 || u > 256 {
		return chunkHas(c, h, r)
	}
	w0 := ^binary.LittleEndian.Uint64(c[2:])
	w1 := ^binary.LittleEndian.Uint64(c[10:])
	w2 := ^binary.LittleEndian.Uint64(c[18:])
	w3 := ^binary.LittleEndian.Uint64(c[26:])
	c0 := uint(bits.OnesCount64(w0))
	c1 := c0 + uint(bits.OnesCount64(w1))
	c2 := c1 + uint(bits.OnesCount64(w2))
	m0, m1, m2 := -b2uint(c0 < hi), -b2uint(c1 < hi), -b2uint(c2 < hi)
	w := w0 ^ (w0^w1)&uint64(m0)
	w ^= (w ^ w2) & uint64(m1)
	w ^= (w ^ w3) & uint64(m2)
	zb := c0&m0 ^ (c0^c1)&m1 ^ (c1^c2)&m2
	pos := 64&m0 + 64&m1 + 64&m2 + select64(w, (hi-zb-1)&63) + 1
	sh := pos & 7
	run := uint(bits.TrailingZeros64(^(binary.LittleEndian.Uint64(c[2+pos>>3:]) >> sh)))
	if run > 4 {
		return chunkHas(c, h, r)
	}
	bp := 16 + u + (pos-hi)*l
	lanes := laneOnes[l&15]
	x := binary.LittleEndian.Uint64(c[bp>>3:])>>(bp&7) ^ uint64(r&(1<<l-1))*lanes
	found := (x-lanes)&^x&(lanes<<(l-1))&(uint64(1)<<(run*l)-1) != 0
	return found != (h&3 == chunkInverted)
}

// All returns an iterator over the numbers of the set in increasing order.
func (s *Set) All() iter.Seq[uint64] {
	return func(yield func(uint64) bool) {
		var b chunkBits
		for a, t := range s.npa {
			if t == nil {
				continue
			}
			for x := range t {
				e := &t[x]
				for k := range uint(chunksPerExch) {
					if e.sizes[k] == 0 {
						continue
					}
					decodeChunk(s.segs[e.seg][e.offset(k):], &b)
					base := uint64(a)*npaSpan + uint64(x)*exchSpan + uint64(k)*chunkSpan
					for j, w := range b {
						for w != 0 {
							r := uint64(j)<<6 | uint64(bits.TrailingZeros64(w))
							w &= w - 1
							if !yield(base + r) {
								return
							}
						}
					}
				}
			}
		}
	}
}

// Stats describes how a set is stored.
type Stats struct {
	// Numbers is the number of members.
	Numbers int
	// Bytes is the memory the set references (see Set.Bytes).
	Bytes int64
	// DataBytes is the size of the encoded chunks the set uses.
	DataBytes int64
	// AreaCodes and Exchanges count the area codes and exchanges that hold
	// at least one member.
	AreaCodes, Exchanges int
	// Bitmap, EliasFano, Inverted and Full count the thousands blocks stored
	// in each encoding; Full blocks are inverted lists of nothing.
	Bitmap, EliasFano, Inverted, Full int
	// Segments is the number of data segments the set references.
	Segments int
}

// Stats reports how the set is stored. It reads the whole directory, so it is
// meant for reporting, not for hot paths.
func (s *Set) Stats() Stats {
	st := Stats{Numbers: s.n, Bytes: s.Bytes(), DataBytes: s.live, AreaCodes: s.npas, Segments: len(s.segs)}
	for _, t := range s.npa {
		if t == nil {
			continue
		}
		for x := range t {
			e := &t[x]
			if e.bytes() == 0 {
				continue
			}
			st.Exchanges++
			for k := range uint(chunksPerExch) {
				if e.sizes[k] == 0 {
					continue
				}
				c := s.segs[e.seg][e.offset(k):]
				switch hdr := uint(c[0]) | uint(c[1])<<8; {
				case hdr&3 == chunkBitmap:
					st.Bitmap++
				case hdr&3 == chunkEF:
					st.EliasFano++
				case hdr>>6 == 0:
					st.Full++
				default:
					st.Inverted++
				}
			}
		}
	}
	return st
}

// hugePageMin is the size from which arrays are backed by transparent huge
// pages where the kernel allows: lookups then miss the TLB far less often.
const hugePageMin = 4 << 20

// allocData returns a zeroed byte array of length n for chunk data, backed
// by huge pages where possible.
func allocData(n int) []byte {
	b := make([]byte, n)
	adviseHuge(b)
	return b
}

// packTables moves the set's area-code tables into one array backed by
// huge pages where possible, so that lookups rarely miss the TLB on the
// directory.
func (s *Set) packTables() {
	if s.npas == 0 {
		return
	}
	tables := make([]npaTable, s.npas)
	adviseHuge(unsafe.Slice((*byte)(unsafe.Pointer(&tables[0])), len(tables)*int(npaTableSize)))
	i := 0
	for a, t := range s.npa {
		if t != nil {
			tables[i] = *t
			s.npa[a] = &tables[i]
			i++
		}
	}
	// Memory the heap reused is on small pages whatever adviseHuge said:
	// move the tables and the data onto huge pages now.
	collapseHuge(unsafe.Slice((*byte)(unsafe.Pointer(&tables[0])), len(tables)*int(npaTableSize)))
	for _, seg := range s.segs {
		collapseHuge(seg)
	}
}

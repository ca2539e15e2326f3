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
// blocks, software-pipelined, prefetching the directory entries and then
// the chunks of the blocks ahead while it decodes the current one, so that
// memory latency overlaps with work. out must be at least as long as ns.
func (s *Set) ContainsBatch(ns []uint64, out []bool) {
	out = out[:len(ns)]
	var hits [batchWindow]Hits
	for len(ns) > 0 {
		w := min(len(ns), batchWindow)
		clear(hits[:w])
		s.containsWindow(ns[:w], hits[:w], 1)
		for i, h := range hits[:w] {
			out[i] = h != 0
		}
		ns, out = ns[w:], out[w:]
	}
}

const (
	// batchWindow is how many numbers containsWindow takes at a time.
	batchWindow = 256
	// batchBlock is how many numbers a stage of containsWindow handles
	// before the next: the prefetches of a block are issued together.
	batchBlock = 16
	// entryLead is how many blocks ahead of reading them directory
	// entries are prefetched, and chunkLead how many blocks ahead of
	// decoding them chunks are.
	entryLead = 1
	chunkLead = 2
)

// emptyExch is the directory entry of numbers without one: out of range,
// or in an area code without members.
var emptyExch exch

// chunkRef is a chunk that containsWindow is to decode.
type chunkRef struct {
	p *byte  // the chunk's first byte
	n uint16 // bytes that may be read from p: to the end of its segment, at most 1<<15
	r uint16 // the suffix to look for in the chunk
	i uint16 // index of the number in the window
}

// containsWindow adds bit to out[i] for every ns[i] in the set; ns has at
// most batchWindow numbers. It works in three stages, a block at a time:
// find and prefetch directory entries, then find and prefetch the chunks
// of the numbers whose thousands block is not empty, then decode those
// chunks. A number leaves the pipeline as soon as it is known to be
// absent, so that decoding branches on nothing but the chunks.
func (s *Set) containsWindow(ns []uint64, out []Hits, bit Hits) {
	out = out[:len(ns)]
	if len(s.segs) == 0 {
		return
	}
	var (
		ents  [batchWindow / batchBlock]entBlock
		refs  [batchWindow / batchBlock]refBlock
		nrefs [batchWindow / batchBlock]int
	)
	blocks := (len(ns) + batchBlock - 1) / batchBlock
	for b := range blocks + entryLead + chunkLead {
		if b < blocks {
			lo := b * batchBlock
			s.findEntries(ns[lo:min(lo+batchBlock, len(ns))], &ents[b])
		}
		if c := b - entryLead; c >= 0 && c < blocks {
			lo := c * batchBlock
			nrefs[c] = s.findChunks(&ents[c], min(batchBlock, len(ns)-lo), &refs[c], lo)
		}
		if d := b - entryLead - chunkLead; d >= 0 {
			decodeChunks(refs[d][:nrefs[d]], out, bit)
		}
	}
}

// entBlock is what findEntries finds for a block of numbers: their
// directory entries and their last four digits.
type entBlock struct {
	e   [batchBlock]*exch
	suf [batchBlock]uint16
}

// refBlock is the chunks findChunks finds for a block of numbers.
type refBlock [batchBlock]chunkRef

// findEntries sets eb.e[i] to the directory entry of ns[i] (emptyExch when
// it has none) and eb.suf[i] to its last four digits, and prefetches the
// entries; ns has at most batchBlock numbers.
func (s *Set) findEntries(ns []uint64, eb *entBlock) {
	var addrs [batchBlock]uintptr
	npa := &s.npa
	for i, n := range ns {
		i &= batchBlock - 1
		e := &emptyExch
		if n < MaxNumber {
			ex := n / exchSpan
			eb.suf[i] = uint16(n - ex*exchSpan)
			a := ex / exchPerNPA
			if t := npa[a]; t != nil {
				e = &t[ex-a*exchPerNPA]
			}
		}
		eb.e[i] = e
		addrs[i] = uintptr(unsafe.Pointer(e))
	}
	prefetch(addrs[:len(ns)])
}

// findChunks reads the first n directory entries of eb, in cache by now,
// and puts a reference to the chunk of every number whose thousands block
// is not empty in rb, prefetching both ends of the chunk and, for chunks
// longer than about two lines (bitmaps mostly), the line a lookup reads in
// the middle. Every number goes through the same steps, so nothing here
// branches on the data. It returns the number of references; first is the
// index of the block's first number in the window.
func (s *Set) findChunks(eb *entBlock, n int, rb *refBlock, first int) int {
	var addrs [4 * batchBlock]uintptr
	segs := s.segs
	k, ka := 0, 0
	for i := range n {
		i &= batchBlock - 1
		e := eb.e[i]
		suf := uint32(eb.suf[i])
		q := suf / chunkSpan
		r := suf - q*chunkSpan
		sz := uint(e.sizes[q])
		seg := segs[e.seg]
		off := e.offset(uint(q))
		p := &seg[off]
		ref := &rb[k&(batchBlock-1)]
		ref.p = p
		ref.n = uint16(min(uint(len(seg))-off, 1<<15))
		ref.r = uint16(r)
		ref.i = uint16(first + i)
		has := b2uint(sz != 0)
		k += int(has)
		a := uintptr(unsafe.Pointer(p))
		ka &= len(addrs) - 4
		addrs[ka] = a
		addrs[ka+1] = a + uintptr(sz) - 1
		ka += int(2 * has)
		if sz > 96 {
			addrs[ka] = a + uintptr(chunkLine(sz, uint(r)))
			ka++
		}
	}
	prefetch(addrs[:ka])
	return k
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

// chunks1 reports whether the chunk c holds suffix r.
func chunks1(c []byte, r uint) bool {
	var out [1]Hits
	decodeChunks([]chunkRef{{p: &c[0], n: uint16(min(len(c), 1<<15)), r: uint16(r)}}, out[:], 1)
	return out[0] != 0
}

// decodeChunks adds bit to out[ref.i] when the chunk of ref holds its
// suffix, for every ref: the common case with efFast, the others with
// chunkContains.
func decodeChunks(refs []chunkRef, out []Hits, bit Hits) {
	for _, ref := range refs {
		c := unsafe.Slice(ref.p, ref.n)
		found, ok := efFast(c, uint(ref.r))
		if !ok {
			found = chunkContains(c, uint(ref.r))
		}
		out[ref.i] |= bit & -Hits(b2uint(found))
	}
}

// efFast is the common case of chunkContains, and ok is false when the
// chunk is not in it: an Elias-Fano list whose upper bits fit in four
// words and whose bucket of r holds at most four elements. It repeats
// efContains' bucket search on purpose: it calls nothing, so the compiler
// keeps its values in registers, and it counts bits with byte-wise sums
// instead of bits.OnesCount64, which unless GOAMD64 is v2 or more checks
// for POPCNT at every call and calls a fallback without it. Sparse chunks,
// whose upper bits fit in one word, take a shorter path.
func efFast(c []byte, r uint) (found, ok bool) {
	_ = c[41] // segPad covers this for the smallest chunk
	h := uint(c[0]) | uint(c[1])<<8
	n, l := h>>6, h>>2&15
	u := n + chunkSpanLess1>>l + 1
	if h&3 == chunkBitmap || n == 0 || u > 256 {
		return false, false
	}
	// pos is the first bit of bucket hi: one past the hi-th zero of the
	// upper bits, or 0.
	hi := r >> l
	wb, zb := uint(0), uint(0) // first bit of the word w, zeros before it
	w := ^le64(c, 2)
	if u > 64 {
		// Find the word of the hi-th zero without a branch: the half
		// first, then the word in it.
		s := byteCounts(w) + byteCounts(^le64(c, 10))
		c01 := uint(s * ones8 >> 56)
		m := -b2uint(c01 < hi)
		wb, zb = 128&m, c01&m
		w = ^le64(c, 2+wb>>3)
		ca := uint(byteCounts(w) * ones8 >> 56)
		m = -b2uint(zb+ca < hi)
		wb, zb = wb+64&m, zb+ca&m
		w = ^le64(c, 2+wb>>3)
	}
	// Select the k-th zero of w as select64 does.
	k := (hi - zb - 1) & 63
	cum := byteCounts(w) * ones8 // byte i: zeros in bytes 0..i
	b := uint(((uint64(k)*ones8|high8)-cum)&high8>>7*ones8>>56) * 8 & 63
	sel := uint(selectInByte[w>>b&0xff][(k-uint(cum<<8>>b&0xff))&7])
	// Bucket 0 starts at bit 0, found without a branch: in a sparse
	// chunk, whose l is large, it is as likely as any other.
	pos := (wb + b + sel + 1) & -b2uint(hi != 0)
	run := uint(bits.TrailingZeros64(^(le64(c, 2+pos>>3) >> (pos & 7))))
	if run > 4 {
		return false, false
	}
	// The bucket's up to four lows of at most 9 bits are in one load:
	// look for a lane equal to r's low bits among the first run lanes.
	bp := 16 + u + (pos-hi)*l
	lanes := laneOnes[l]
	x := le64(c, bp>>3)>>(bp&7) ^ uint64(r&(1<<l-1))*lanes
	found = (x-lanes)&^x&(lanes<<((l-1)&63))&(uint64(1)<<(run*l&63)-1) != 0
	return found != (h&3 == chunkInverted), true
}

// le64 returns the little-endian word at c[i:i+8].
func le64(c []byte, i uint) uint64 { return binary.LittleEndian.Uint64(c[i : i+8]) }

// byteCounts returns x with each byte replaced by the number of its set
// bits.
func byteCounts(x uint64) uint64 {
	x -= x >> 1 & 0x5555555555555555
	x = x&0x3333333333333333 + x>>2&0x3333333333333333
	return (x + x>>4) & 0x0f0f0f0f0f0f0f0f
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

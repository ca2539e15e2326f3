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
	if e.sizes[k] == 0 {
		return false
	}
	return chunkContains(s.segs[e.seg][e.offset(k):], suf-k*chunkSpan)
}

// ContainsBatch sets out[i] to whether ns[i] is in the set, for every i. It
// is faster per number than Contains because it overlaps the memory accesses
// of neighbouring lookups: it loads the directory entries of a group of
// numbers, then the headers of their chunks, then decodes. out must be at
// least as long as ns.
func (s *Set) ContainsBatch(ns []uint64, out []bool) {
	out = out[:len(ns)]
	const group = 32
	var (
		ent   [group]exch
		chunk [group][]byte
		hdr   [group]uint
	)
	zero := uint(touchZero)
	for len(ns) > 0 {
		g := min(group, len(ns))
		for i, n := range ns[:g] {
			ent[i] = exch{}
			if n >= MaxNumber {
				continue
			}
			ex := n / exchSpan
			a := ex / exchPerNPA
			if t := s.npa[a]; t != nil {
				ent[i] = t[ex-a*exchPerNPA]
			}
		}
		for i := range ent[:g] {
			e := &ent[i]
			chunk[i] = nil
			k := uint(ns[i]%exchSpan) / chunkSpan
			if sz := uint(e.sizes[k%chunksPerExch]); sz != 0 {
				c := s.segs[e.seg][e.offset(k):]
				// Load the chunk's last byte too, so that a chunk that
				// spans two cache lines has both on their way.
				hdr[i] = uint(c[0]) | uint(c[1])<<8 | uint(c[sz-1])&zero<<16
				chunk[i] = c
			}
		}
		for i, c := range chunk[:g] {
			found := false
			if c != nil {
				h := hdr[i]
				r := uint(ns[i] % chunkSpan)
				switch {
				case h&3 == chunkBitmap:
					found = c[2+r>>3]>>(r&7)&1 != 0
				case h>>6 != 0:
					found = efContains(c, h>>6&1023, h>>2&15, r) != (h&3 == chunkInverted)
				default:
					found = h&3 == chunkInverted // a full block
				}
			}
			out[i] = found
		}
		ns, out = ns[g:], out[g:]
	}
}

// touchZero is always zero. ContainsBatch masks bytes it loads only to pull
// them into the cache with it, which the compiler cannot optimise away.
var touchZero uint

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
}

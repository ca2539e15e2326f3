package dnc

import (
	"encoding/binary"
	"fmt"
	"math/bits"
)

// A chunk is one thousands block: the 1,000 numbers that share their first
// seven digits. It is stored as a byte string that starts with a two-byte
// little-endian header:
//
//	bits 0-1   encoding: chunkEF, chunkInverted or chunkBitmap
//	bits 2-5   l, the number of low bits per Elias-Fano element
//	bits 6-15  n, the number of Elias-Fano elements (0..1000)
//
// chunkBitmap: 125 bytes follow, bit r (LSB first) set when suffix r is a
// member.
//
// chunkEF: the members as an Elias-Fano list. The upper bit vector starts at
// bit 16 and has n + (999>>l) + 1 bits: element i with high part h sets bit
// h+i, and bucket h ends with a zero. The n low parts of l bits each follow.
//
// chunkInverted: the same Elias-Fano list of the suffixes that are not
// members. With n = 0 the chunk is full and has no body.
//
// An empty chunk has no bytes at all. Readers may read past the last byte
// of a chunk (eight bytes, or up to 34 bytes from its start), so every
// segment ends with segPad zero bytes.
const (
	chunkSpan      = 1000 // suffixes per chunk
	chunksPerExch  = 10   // chunks per exchange
	exchSpan       = chunkSpan * chunksPerExch
	chunkWords     = 16 // words in a chunkBits
	chunkEF        = 0
	chunkInverted  = 1
	chunkBitmap    = 2
	chunkHdrBytes  = 2
	bitmapBytes    = chunkHdrBytes + chunkSpan/8 // 127
	maxChunkBytes  = bitmapBytes
	segPad         = 40                                   // efContains reads 34 bytes from a chunk's start
	lastWordMask   = 1<<(chunkSpan-64*(chunkWords-1)) - 1 // bits 960..999
	maxLowBits     = 9                                    // 999>>9 == 1
	chunkSpanLess1 = chunkSpan - 1
)

// chunkBits is a thousands block as a plain bitmap; bits 1000..1023 are zero.
type chunkBits [chunkWords]uint64

func (b *chunkBits) count() int {
	n := 0
	for _, w := range b {
		n += bits.OnesCount64(w)
	}
	return n
}

func (b *chunkBits) has(r uint) bool { return b[r>>6]>>(r&63)&1 != 0 }
func (b *chunkBits) set(r uint)      { b[r>>6] |= 1 << (r & 63) }
func (b *chunkBits) clear(r uint)    { b[r>>6] &^= 1 << (r & 63) }

// efBytes is the size in bytes of an Elias-Fano chunk of n > 0 elements with
// l low bits each.
func efBytes(n, l int) int {
	return (chunkHdrBytes*8 + n + (chunkSpanLess1 >> l) + 1 + n*l + 7) / 8
}

// chooseEncoding picks the smallest encoding for a chunk with n members. It
// returns the encoding, l, the Elias-Fano element count and the size in
// bytes; size 0 means the chunk is empty.
func chooseEncoding(n int) (typ, l, cnt, size int) {
	switch n {
	case 0:
		return chunkEF, 0, 0, 0
	case chunkSpan:
		return chunkInverted, 0, 0, chunkHdrBytes
	}
	typ, size = chunkBitmap, bitmapBytes
	// The best l is floor or ceil of log2(1000/n); try around it.
	for _, c := range [2]struct{ typ, n int }{{chunkEF, n}, {chunkInverted, chunkSpan - n}} {
		best := bits.Len(uint(chunkSpan/c.n)) - 1
		for ll := max(best-1, 1); ll <= min(best+1, maxLowBits); ll++ {
			if s := efBytes(c.n, ll); s < size {
				typ, l, cnt, size = c.typ, ll, c.n, s
			}
		}
	}
	return typ, l, cnt, size
}

// chunkSize returns the encoded size of b in bytes.
func chunkSize(b *chunkBits) int {
	_, _, _, size := chooseEncoding(b.count())
	return size
}

// encodeChunk writes the smallest encoding of b, which has n members, to
// dst and returns its size. dst must hold at least maxChunkBytes bytes.
func encodeChunk(b *chunkBits, n int, dst []byte) int {
	typ, l, cnt, size := chooseEncoding(n)
	if size == 0 {
		return 0
	}
	var w [chunkWords + 2]uint64
	w[0] = uint64(typ) | uint64(l)<<2 | uint64(cnt)<<6
	switch {
	case typ == chunkBitmap:
		for j, x := range b {
			w[j] |= x << 16
			w[j+1] |= x >> 48
		}
	case cnt > 0:
		src := *b
		if typ == chunkInverted {
			for j := range src {
				src[j] = ^src[j]
			}
			src[chunkWords-1] &= lastWordMask
		}
		lowBase := uint(chunkHdrBytes*8 + cnt + (chunkSpanLess1 >> l) + 1)
		lu := uint(l)
		mask := uint64(1)<<lu - 1
		i := uint(0)
		// The upper bits are written in increasing order: keep the word
		// being filled in a register.
		uIdx, uCur := uint(0), w[0]
		for j, x := range src {
			for x != 0 {
				v := uint(j)<<6 | uint(bits.TrailingZeros64(x))
				x &= x - 1
				up := 16 + v>>lu + i
				if up>>6 != uIdx {
					w[uIdx] |= uCur
					uIdx, uCur = up>>6, 0
				}
				uCur |= 1 << (up & 63)
				p := lowBase + i*lu
				lo := uint64(v) & mask
				// A shift by 64 gives 0, so the straddling half is written
				// without a branch.
				w[p>>6] |= lo << (p & 63)
				w[p>>6+1] |= lo >> (64 - p&63)
				i++
			}
		}
		w[uIdx] |= uCur
	}
	var tmp [(chunkWords + 2) * 8]byte
	for j := 0; j*8 < size; j++ {
		binary.LittleEndian.PutUint64(tmp[j*8:], w[j])
	}
	copy(dst[:size], tmp[:size])
	return size
}

// decodeChunk expands the chunk at c (which must extend segPad bytes past the
// chunk) into out.
func decodeChunk(c []byte, out *chunkBits) {
	*out = chunkBits{}
	hdr := uint(c[0]) | uint(c[1])<<8
	typ, l, cnt := hdr&3, hdr>>2&15, hdr>>6
	if typ == chunkBitmap {
		for j := range out {
			out[j] = binary.LittleEndian.Uint64(c[2+8*j:])
		}
		out[chunkWords-1] &= lastWordMask
		return
	}
	if cnt > 0 {
		efDecodeBits(c, cnt, l, out)
	}
	if typ == chunkInverted {
		for j := range out {
			out[j] = ^out[j]
		}
		out[chunkWords-1] &= lastWordMask
	}
}

// efDecodeBits sets the bits of the elements of the Elias-Fano list in c.
func efDecodeBits(c []byte, n, l uint, out *chunkBits) {
	u := n + chunkSpanLess1>>l + 1
	lowBase := 16 + u
	mask := uint64(1)<<l - 1
	i := uint(0)
	oIdx, oCur := uint(0), uint64(0) // the output word being filled
	for ws := uint(0); ws < u; ws += 64 {
		x := binary.LittleEndian.Uint64(c[2+ws/8:])
		if rem := u - ws; rem < 64 {
			x &= 1<<rem - 1
		}
		for x != 0 {
			p := ws + uint(bits.TrailingZeros64(x))
			x &= x - 1
			bp := lowBase + i*l
			lo := binary.LittleEndian.Uint64(c[bp>>3:]) >> (bp & 7) & mask
			v := ((p-i)<<l | uint(lo)) & (chunkWords*64 - 1) // in range unless forged
			if v>>6 != oIdx {
				out[oIdx&(chunkWords-1)] |= oCur
				oIdx, oCur = v>>6, 0
			}
			oCur |= 1 << (v & 63)
			i++
		}
	}
	out[oIdx&(chunkWords-1)] |= oCur
	out[chunkWords-1] &= lastWordMask
}

// chunkContains reports whether suffix r (0..999) is in the chunk at c.
func chunkContains(c []byte, r uint) bool {
	return chunkHas(c, uint(c[0])|uint(c[1])<<8, r)
}

// chunkHas is chunkContains with the chunk's header already read.
func chunkHas(c []byte, hdr, r uint) bool {
	typ := hdr & 3
	if typ == chunkBitmap {
		return c[2+r>>3]>>(r&7)&1 != 0
	}
	found := false
	if cnt := hdr >> 6; cnt != 0 {
		found = efContains(c, cnt, hdr>>2&15, r)
	}
	return found != (typ == chunkInverted)
}

// efContains reports whether the Elias-Fano list of n elements with l low
// bits at c holds r. It is written to branch little on the data: a
// mispredicted branch costs as much as the rest of the lookup. Upper bit
// vectors of up to four words (all but the densest lists) are searched
// without a loop.
func efContains(c []byte, n, l, r uint) bool {
	hi := r >> l
	u := n + chunkSpanLess1>>l + 1 // length of the upper bit vector
	// pos is the first bit of bucket hi: one past the hi-th zero, or 0.
	pos := uint(0)
	if hi != 0 {
		if u <= 256 {
			_ = c[33] // segPad covers this for the smallest chunk
			w0 := ^binary.LittleEndian.Uint64(c[2:])
			w1 := ^binary.LittleEndian.Uint64(c[10:])
			w2 := ^binary.LittleEndian.Uint64(c[18:])
			w3 := ^binary.LittleEndian.Uint64(c[26:])
			c0 := uint(bits.OnesCount64(w0))
			c1 := c0 + uint(bits.OnesCount64(w1))
			c2 := c1 + uint(bits.OnesCount64(w2))
			// The hi-th zero is in word w; zb zeros and wb bits come
			// before it.
			m0, m1, m2 := -b2uint(c0 < hi), -b2uint(c1 < hi), -b2uint(c2 < hi)
			w := w0 ^ (w0^w1)&uint64(m0)
			w ^= (w ^ w2) & uint64(m1)
			w ^= (w ^ w3) & uint64(m2)
			zb := c0&m0 ^ (c0^c1)&m1 ^ (c1^c2)&m2
			wb := 64&m0 + 64&m1 + 64&m2
			pos = wb + select64(w, (hi-zb-1)&63) + 1
		} else {
			k := hi
			for p := uint(2); ; p += 8 {
				z := ^binary.LittleEndian.Uint64(c[p:])
				cz := uint(bits.OnesCount64(z))
				if cz >= k {
					pos = (p-2)*8 + select64(z, k-1) + 1
					break
				}
				k -= cz
			}
		}
	}
	first := pos - hi // index of the bucket's first element
	sh := pos & 7
	run := uint(bits.TrailingZeros64(^(binary.LittleEndian.Uint64(c[2+pos>>3:]) >> sh)))
	mask := uint64(1)<<l - 1
	lo := uint64(r) & mask
	bp := 16 + u + first*l
	if run > 4 || run >= 64-sh {
		if run >= 64-sh {
			run = upperRun(c, pos)
		}
		for ; run > 0; run-- {
			v := binary.LittleEndian.Uint64(c[bp>>3:]) >> (bp & 7) & mask
			if v >= lo {
				return v == lo
			}
			bp += l
		}
		return false
	}
	// The bucket's up to four lows of at most 9 bits are in one load:
	// look for a lane equal to lo among the first run lanes, with the
	// "has a zero lane" trick on lw xor lo in every lane.
	lanes := laneOnes[l&15]
	x := binary.LittleEndian.Uint64(c[bp>>3:])>>(bp&7) ^ lo*lanes
	valid := uint64(1)<<(run*l) - 1
	return (x-lanes)&^x&(lanes<<(l-1))&valid != 0
}

// laneOnes[l] has the lowest bit of each of four l-bit lanes set.
var laneOnes = func() (t [16]uint64) {
	for l := 1; l <= maxLowBits; l++ {
		t[l] = 1 | 1<<l | 1<<(2*l) | 1<<(3*l)
	}
	return t
}()

// upperRun counts the ones from bit pos of the upper bits on, for the rare
// run that does not fit in one load.
func upperRun(c []byte, pos uint) uint {
	run := uint(0)
	for {
		sh := pos & 7
		w := binary.LittleEndian.Uint64(c[2+pos>>3:]) >> sh
		t := uint(bits.TrailingZeros64(^w))
		run += t
		if t < 64-sh {
			return run
		}
		pos += t
	}
}

// b2uint is 1 for true and 0 for false.
func b2uint(b bool) uint {
	var u uint
	if b {
		u = 1
	}
	return u
}

// selectInByte[b][k] is the position of the k-th set bit of byte b.
var selectInByte = func() (t [256][8]uint8) {
	for b := range 256 {
		k := 0
		for i := range 8 {
			if b>>i&1 != 0 {
				t[b][k] = uint8(i)
				k++
			}
		}
	}
	return t
}()

// select64 returns the position of the k-th (from 0) set bit of x, which
// must have more than k set bits. It is small enough to be inlined.
func select64(x uint64, k uint) uint {
	const ones = 0x0101010101010101
	s := x - x>>1&0x5555555555555555
	s = s&0x3333333333333333 + s>>2&0x3333333333333333
	cum := (s + s>>4) & 0x0f0f0f0f0f0f0f0f * ones // byte i: set bits in bytes 0..i
	// b is 8 times the number of bytes whose running count is <= k.
	b := uint(bits.OnesCount64((uint64(k)*ones|0x8080808080808080-cum)&0x8080808080808080)) * 8
	return b + uint(selectInByte[x>>b&0xff][(k-uint(cum<<8>>b&0xff))&7])
}

// chunkCount returns the number of members of the chunk at c.
func chunkCount(c []byte) int {
	hdr := uint(c[0]) | uint(c[1])<<8
	switch hdr & 3 {
	case chunkBitmap:
		n := 0
		for j := range chunkWords {
			w := binary.LittleEndian.Uint64(c[2+8*j:])
			if j == chunkWords-1 {
				w &= lastWordMask
			}
			n += bits.OnesCount64(w)
		}
		return n
	case chunkInverted:
		return chunkSpan - int(hdr>>6)
	}
	return int(hdr >> 6)
}

// validateChunk checks that the size bytes at c are a chunk that lookups
// and decoding can read without going past it, and returns its member
// count. c must extend segPad bytes past the chunk. It does not check that
// an Elias-Fano list is in order: a disordered list gives wrong answers,
// which only a forged file with a valid checksum can hold.
func validateChunk(c []byte, size int) (int, error) {
	if size < chunkHdrBytes || size > maxChunkBytes {
		return 0, fmt.Errorf("chunk of %d bytes: %w", size, ErrCorrupt)
	}
	hdr := uint(c[0]) | uint(c[1])<<8
	typ, l, cnt := hdr&3, hdr>>2&15, hdr>>6
	switch typ {
	case chunkBitmap:
		if size != bitmapBytes || l != 0 || cnt != 0 {
			return 0, fmt.Errorf("bitmap chunk header %#04x size %d: %w", hdr, size, ErrCorrupt)
		}
		return chunkCount(c), nil
	case chunkEF, chunkInverted:
	default:
		return 0, fmt.Errorf("chunk header %#04x: unknown encoding: %w", hdr, ErrCorrupt)
	}
	if cnt == 0 {
		if typ != chunkInverted || l != 0 || size != chunkHdrBytes {
			return 0, fmt.Errorf("empty chunk header %#04x size %d: %w", hdr, size, ErrCorrupt)
		}
		return chunkSpan, nil
	}
	if cnt > chunkSpan || l < 1 || l > maxLowBits || efBytes(int(cnt), int(l)) != size {
		return 0, fmt.Errorf("chunk header %#04x size %d: %w", hdr, size, ErrCorrupt)
	}
	// With exactly cnt ones among the upper bits, every bucket ends with a
	// zero inside them and every element has its low bits.
	u := cnt + chunkSpanLess1>>l + 1
	ones := uint(0)
	for ws := uint(0); ws < u; ws += 64 {
		x := binary.LittleEndian.Uint64(c[2+ws/8:])
		if rem := u - ws; rem < 64 {
			x &= 1<<rem - 1
		}
		ones += uint(bits.OnesCount64(x))
	}
	if ones != cnt {
		return 0, fmt.Errorf("chunk header %#04x: %d upper bits for %d elements: %w", hdr, ones, cnt, ErrCorrupt)
	}
	return chunkCount(c), nil
}

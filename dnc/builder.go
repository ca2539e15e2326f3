package dnc

import (
	"fmt"
	"slices"
)

const (
	exchCount = npaCount * exchPerNPA
	// minRun is the length below which an ascending run of input is not
	// worth encoding on its own: shorter runs mean the input is not
	// sorted, and the builder collects the rest without regard to order.
	minRun = 1 << 14
	// maxRuns bounds the number of ascending runs encoded on their own.
	maxRuns = 256
	// slotWords is the size of one exchange's bitmap: 10,000 bits and
	// spare words for chunk extraction.
	slotWords = 160
	slotBytes = slotWords * 8
	pageSlots = 256
)

// Builder collects numbers and builds a Set from them. It is fastest, and
// needs no memory beyond the set it builds, when numbers come in increasing
// order, as the FTC registry files have them: each ascending run is encoded
// as it streams in. Numbers out of order and duplicates are fine too: the
// builder then keeps them in a slice, or in a 10,000-bit bitmap per
// exchange once that is smaller, and sorts them out in Build.
//
// The zero Builder is ready to use. A Builder is not safe for concurrent
// use.
type Builder struct {
	// Streaming: the current ascending run.
	enc    *encoder
	curEx  uint64 // exchange being collected, or noExch
	cur    [chunksPerExch]chunkBits
	curSet uint16 // chunks of cur with a bit set
	last   uint64 // last number streamed
	runLen int
	runs   []*Set // finished runs

	// Unordered: numbers that broke the order, once runs got short.
	unordered bool
	small     []uint64
	touched   []uint64 // bitset of exchanges seen by small
	nTouched  int
	dir       []int32 // exchange -> slot+1; nil until the bitmaps are used
	pages     [][]uint64
	slots     int32
}

const noExch = MaxNumber / exchSpan

// Add adds n to the set being built. It returns an error wrapping
// ErrOutOfRange when n is not below MaxNumber, and adds nothing then.
func (b *Builder) Add(n uint64) error {
	if n >= MaxNumber {
		return fmt.Errorf("add %d: %w", n, ErrOutOfRange)
	}
	b.add(n)
	return nil
}

// AddMany adds every number of ns. It checks them all first and adds none
// when one is out of range.
func (b *Builder) AddMany(ns []uint64) error {
	for _, n := range ns {
		if n >= MaxNumber {
			return fmt.Errorf("add %d: %w", n, ErrOutOfRange)
		}
	}
	for _, n := range ns {
		b.add(n)
	}
	return nil
}

// add adds n, which must be below MaxNumber.
func (b *Builder) add(n uint64) {
	if b.unordered {
		b.addUnordered(n)
		return
	}
	if b.enc == nil {
		b.startRun()
	} else if n < b.last {
		if !b.endRun() {
			b.unordered = true
			b.addUnordered(n)
			return
		}
		b.startRun()
	}
	b.last = n
	b.runLen++
	ex := n / exchSpan
	if ex != b.curEx {
		b.flush()
		b.curEx = ex
	}
	suf := uint(n - ex*exchSpan)
	k := suf / chunkSpan
	b.cur[k].set(suf - k*chunkSpan)
	b.curSet |= 1 << k
}

func (b *Builder) startRun() {
	b.enc = newEncoder(64 << 10)
	b.curEx = noExch
	b.last = 0
	b.runLen = 0
}

// flush encodes the exchange being collected.
func (b *Builder) flush() {
	if b.curEx == noExch {
		return
	}
	b.enc.addExchange(b.curEx, &b.cur, b.curSet)
	for k := range b.cur {
		if b.curSet>>k&1 != 0 {
			b.cur[k] = chunkBits{}
		}
	}
	b.curSet = 0
	b.curEx = noExch
}

// endRun finishes the current run. It reports whether streaming should go
// on: false when the run was short or there are many runs already.
func (b *Builder) endRun() bool {
	b.flush()
	b.runs = append(b.runs, b.enc.finish())
	short := b.runLen < minRun
	b.enc = nil
	return !short && len(b.runs) < maxRuns
}

func (b *Builder) addUnordered(n uint64) {
	ex := n / exchSpan
	if b.dir != nil {
		b.setBit(n)
		return
	}
	if b.touched == nil {
		b.touched = make([]uint64, (exchCount+63)/64)
	}
	if b.touched[ex/64]>>(ex%64)&1 == 0 {
		b.touched[ex/64] |= 1 << (ex % 64)
		b.nTouched++
	}
	b.small = append(b.small, n)
	// A number costs 16 bytes in the slice (with the sort's buffer), an
	// exchange 1,280 in the bitmaps: switch when the bitmaps are smaller.
	if len(b.small)&0xffff == 0 && len(b.small)*16 > b.nTouched*slotBytes+(4<<20) {
		b.dir = make([]int32, exchCount)
		for _, m := range b.small {
			b.setBit(m)
		}
		b.small, b.touched = nil, nil
	}
}

func (b *Builder) setBit(n uint64) {
	ex := n / exchSpan
	suf := n - ex*exchSpan
	slot := b.dir[ex]
	if slot == 0 {
		if int(b.slots)%pageSlots == 0 {
			b.pages = append(b.pages, make([]uint64, pageSlots*slotWords))
		}
		b.slots++
		b.dir[ex] = b.slots
		slot = b.slots
	}
	slot--
	b.pages[slot/pageSlots][int(slot%pageSlots)*slotWords+int(suf>>6)] |= 1 << (suf & 63)
}

// Reset empties the builder and releases its memory.
func (b *Builder) Reset() { *b = Builder{} }

// Build returns the set of the numbers added so far and resets the builder.
func (b *Builder) Build() *Set {
	defer b.Reset()
	parts := b.runs
	if b.enc != nil {
		b.flush()
		parts = append(parts, b.enc.finish())
		b.enc = nil
	}
	switch {
	case b.dir != nil:
		parts = append(parts, b.buildBitmaps())
	case len(b.small) > 0:
		parts = append(parts, buildSorted(b.small))
	}
	b.runs, b.small, b.pages, b.dir = nil, nil, nil, nil
	switch len(parts) {
	case 0:
		return &Set{}
	case 1:
		return parts[0]
	}
	return union(parts)
}

// slotBits returns the 10,000-bit bitmap of exchange ex, or nil.
func (b *Builder) slotBits(ex int) []uint64 {
	slot := b.dir[ex]
	if slot == 0 {
		return nil
	}
	slot--
	off := int(slot%pageSlots) * slotWords
	return b.pages[slot/pageSlots][off : off+slotWords]
}

// extractChunk copies bits [1000k, 1000k+1000) of an exchange bitmap of
// slotWords words into dst.
func extractChunk(src []uint64, k int, dst *chunkBits) {
	o := k * chunkSpan
	w0, sh := o>>6, uint(o&63)
	src = src[w0 : w0+chunkWords+1]
	if sh == 0 {
		copy(dst[:], src)
	} else {
		for j := range dst {
			dst[j] = src[j]>>sh | src[j+1]<<(64-sh)
		}
	}
	dst[chunkWords-1] &= lastWordMask
}

func (b *Builder) buildBitmaps() *Set {
	var cb chunkBits
	total := 0
	for ex := range exchCount {
		src := b.slotBits(ex)
		if src == nil {
			continue
		}
		for k := range chunksPerExch {
			extractChunk(src, k, &cb)
			total += chunkSize(&cb)
		}
	}
	enc := newEncoder(total)
	var chunks [chunksPerExch]chunkBits
	for ex := range exchCount {
		src := b.slotBits(ex)
		if src == nil {
			continue
		}
		for k := range chunks {
			extractChunk(src, k, &chunks[k])
		}
		enc.addExchange(uint64(ex), &chunks, 1<<chunksPerExch-1)
	}
	return enc.finish()
}

// buildSorted builds a set from ns, which it sorts in place.
func buildSorted(ns []uint64) *Set {
	radixSort(ns)
	enc := newEncoder(len(ns)*2 + 64)
	var chunks [chunksPerExch]chunkBits
	for len(ns) > 0 {
		ex := ns[0] / exchSpan
		chunks = [chunksPerExch]chunkBits{}
		used := uint16(0)
		i := 0
		for ; i < len(ns) && ns[i]/exchSpan == ex; i++ {
			suf := uint(ns[i] - ex*exchSpan)
			k := suf / chunkSpan
			chunks[k].set(suf - k*chunkSpan)
			used |= 1 << k
		}
		enc.addExchange(ex, &chunks, used)
		ns = ns[i:]
	}
	return enc.finish()
}

// radixSort sorts numbers below MaxNumber (34 bits).
func radixSort(xs []uint64) {
	if len(xs) < 1<<16 {
		slices.Sort(xs)
		return
	}
	const bitsPer = 12
	tmp := make([]uint64, len(xs))
	src, dst := xs, tmp
	for shift := uint(0); shift < 36; shift += bitsPer {
		var count [1 << bitsPer]int
		for _, x := range src {
			count[x>>shift&(1<<bitsPer-1)]++
		}
		sum := 0
		for i, c := range count {
			count[i] = sum
			sum += c
		}
		for _, x := range src {
			d := x >> shift & (1<<bitsPer - 1)
			dst[count[d]] = x
			count[d]++
		}
		src, dst = dst, src
	}
	// Three passes leave the result in tmp.
	copy(xs, src)
}

// encoder writes exchanges, in increasing order, into a new single-segment
// set.
type encoder struct {
	s    *Set
	data []byte
}

func newEncoder(capacity int) *encoder {
	return &encoder{s: &Set{}, data: make([]byte, 0, capacity+segPad)}
}

// addExchange encodes the ten chunks of exchange ex. Chunks whose bit in
// used is clear must be empty.
func (enc *encoder) addExchange(ex uint64, chunks *[chunksPerExch]chunkBits, used uint16) {
	var e exch
	e.base = uint32(len(enc.data))
	var tmp [maxChunkBytes]byte
	for k := range chunks {
		if used>>k&1 == 0 {
			continue
		}
		n := chunks[k].count()
		if n == 0 {
			continue
		}
		size := encodeChunk(&chunks[k], n, tmp[:])
		e.sizes[k] = uint8(size)
		enc.data = append(enc.data, tmp[:size]...)
		enc.s.n += n
	}
	enc.put(ex, e)
}

// addRaw copies already encoded chunks of exchange ex: size bytes at src,
// holding n numbers.
func (enc *encoder) addRaw(ex uint64, sizes [chunksPerExch]uint8, src []byte, n int) {
	e := exch{sizes: sizes, base: uint32(len(enc.data))}
	enc.data = append(enc.data, src[:e.bytes()]...)
	enc.s.n += n
	enc.put(ex, e)
}

func (enc *encoder) put(ex uint64, e exch) {
	if e.bytes() == 0 {
		return
	}
	enc.s.live += int64(e.bytes())
	a := ex / exchPerNPA
	t := enc.s.npa[a]
	if t == nil {
		t = new(npaTable)
		enc.s.npa[a] = t
		enc.s.npas++
	}
	t[ex-a*exchPerNPA] = e
}

func (enc *encoder) finish() *Set {
	data := enc.data
	if len(data) >= hugePageMin || cap(data)-len(data) > len(data)/8 {
		// Copy to an array of the exact size, on huge pages if large.
		d := allocData(len(data) + segPad)
		copy(d, data)
		data = d
	} else {
		data = append(data, make([]byte, segPad)...)
	}
	enc.s.segs = [][]byte{data}
	enc.s.packTables()
	enc.data = nil
	return enc.s
}

// union returns the union of sets, which must each have one segment.
// Exchanges held by one set are copied as they are; the others are decoded,
// merged and encoded again.
func union(sets []*Set) *Set {
	capacity := 0
	for _, s := range sets {
		capacity += int(s.live)
	}
	enc := newEncoder(capacity)
	var chunks [chunksPerExch]chunkBits
	var cb chunkBits
	for a := range npaCount {
		if !slices.ContainsFunc(sets, func(s *Set) bool { return s.npa[a] != nil }) {
			continue
		}
		for x := range exchPerNPA {
			var holder *Set
			holders := 0
			for _, s := range sets {
				if t := s.npa[a]; t != nil && t[x].bytes() > 0 {
					holder = s
					holders++
				}
			}
			if holders == 0 {
				continue
			}
			ex := uint64(a*exchPerNPA + x)
			if holders == 1 {
				e := &holder.npa[a][x]
				seg := holder.segs[e.seg]
				n := 0
				for k := range uint(chunksPerExch) {
					if e.sizes[k] > 0 {
						n += chunkCount(seg[e.offset(k):])
					}
				}
				enc.addRaw(ex, e.sizes, seg[e.base:], n)
				continue
			}
			chunks = [chunksPerExch]chunkBits{}
			for _, s := range sets {
				t := s.npa[a]
				if t == nil {
					continue
				}
				e := &t[x]
				for k := range uint(chunksPerExch) {
					if e.sizes[k] == 0 {
						continue
					}
					decodeChunk(s.segs[e.seg][e.offset(k):], &cb)
					for j := range cb {
						chunks[k][j] |= cb[j]
					}
				}
			}
			enc.addExchange(ex, &chunks, 1<<chunksPerExch-1)
		}
	}
	return enc.finish()
}

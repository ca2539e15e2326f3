package consent

import (
	"slices"
	"sync"
	"unsafe"
)

// Exchange blocks.
//
// The records of one exchange are laid out in one block, in one of two
// formats, which the exchange's directory entry names (see dirEntry):
//
// A bucket block is nb buckets of one cache line each, followed by the
// overflow blocks of the buckets that need one. The number with line
// number k lives in bucket bucketOf(k, nb, seed), the seed being the one
// of 16 hash functions that spreads the exchange's numbers best. A bucket
// holds four 16-byte slots, each a record in compact form:
//
//	x  the record id (bits 0-42), the line number (bits 43-56) and the
//	   entry's meta bits (57-63), in their places in entry.a
//	y  the entry's word b
//
// sorted by cmpLine, so that the records of a number are adjacent,
// revocations first. An unused slot has line number emptyKey. A number's
// records are all in its bucket or all in the bucket's overflow block: a
// sorted block (below) whose offset in words from the bucket is the y of
// the bucket's last slot, whose line number is then ovfKey and whose id
// bits hold the overflow block's absence filter (see ovfBits). Numbers that
// do not fit in the bucket, that have more than four records or an id too
// large for a slot, go to the overflow block. Sized for targetLoad records
// a bucket, with the best of the 16 seeds, few lookups go on to an
// overflow block, and fewer since the absence filter stops most of those
// for numbers without records: with five million records like the gate
// benchmark's, and half of the lookups for numbers with records, half for
// random numbers, 1.6% of lookups went on without the filter, 0.7% with
// it.
//
// A lookup thus reads one cache line, for the most part, whether the
// number has records or not; the directory that leads to it is small (four
// bytes an exchange) and mostly stays in the CPU's caches.
//
// A sorted block is a block (see block): used for the overflow of a
// bucket, and for an exchange too large for the bucket format.

const (
	lineWords = 8 // words in a cache line, and in a bucket

	slotKeyShift = 43
	slotKeyMask  = 0x3FFF << slotKeyShift
	maxSlotID    = 1<<slotKeyShift - 1 // the largest id a slot holds

	emptyKey = 0x3FFF // the line number of an unused slot
	ovfKey   = 0x3FFE // the line number of an overflow pointer

	// targetLoad is the records per bucket a bucket block is sized for;
	// numbers that do not fit go to overflow blocks.
	targetLoad = 2.5

	// ovfFilterMask covers the absence filter in an overflow slot's x.
	ovfFilterMask = 1<<32 - 1
)

// ovfBits returns the two bits of line number k in an overflow block's
// absence filter. The filter (bits 0-31 of the overflow slot's x) has a
// bit set for each position that no line number of the block has: when
// one of k's bits is set, k is certainly not in the block, and a lookup of
// a number without records (most, in a large index) stops at its bucket
// instead of reading the overflow block. A filter of zero says nothing,
// so a slot written without one still leads to the block: the filter can
// only spare a read, never hide a record.
func ovfBits(k uint16) uint64 {
	h := (uint32(k) + 1) * 0xA24BAED5
	return 1<<(h>>27) | 1<<(h>>22&31)
}

// ovfAbsent reports whether line number k is certainly not in the
// overflow block of the bucket whose overflow slot's x is x.
func ovfAbsent(x uint64, k uint16) bool { return x&ovfBits(k) != 0 }

// A directory entry (uint32) locates an exchange's block and tells how to
// read it:
//
//	bits 0-5    class: 0 no records, classSorted a sorted block, else a
//	            bucket block of classBuckets[class] buckets
//	bits 6-9    seed of the bucket hash
//	bits 10-31  offset of the block from its directory's base, in cache
//	            lines, or extOff for a block placed on its own (npaDir.ext)
type dirEntry uint32

const (
	classMask   = 1<<6 - 1
	classSorted = classMask
	seedShift   = 6
	seedCount   = 16
	offShift    = 10
	extOff      = 1<<(32-offShift) - 1
)

func (e dirEntry) class() uint32 { return uint32(e) & classMask }
func (e dirEntry) seed() uint32  { return uint32(e) >> seedShift & (seedCount - 1) }
func (e dirEntry) off() uint32   { return uint32(e) >> offShift }

func makeEntry(class, seed, off uint32) dirEntry {
	return dirEntry(class | seed<<seedShift | off<<offShift)
}

// classBuckets gives the number of buckets of each bucket class: every
// count up to 32, then counts about 15% apart; 0 for the other classes.
var classBuckets = func() (t [classSorted + 1]uint32) {
	for c := range classSorted {
		switch {
		case c <= 32:
			t[c] = uint32(c)
		default:
			t[c] = t[c-1] + (t[c-1]*3+19)/20
		}
	}
	return t
}()

// seedMul are the multipliers of the bucket hashes: odd, with their bits
// well mixed.
var seedMul = [seedCount]uint32{
	0x9E3779B1, 0x85EBCA77, 0xC2B2AE3D, 0x27D4EB2F, 0x165667B1, 0xD3A2646D, 0xFD7046C5, 0xB55A4F09,
	0x7FEB352D, 0x846CA68B, 0xED5AD4BB, 0xAC4C1B51, 0x31848BAB, 0xE4BE3BAB, 0x2C1B3C6D, 0x297A2D39,
}

// bucketOf returns the bucket of line number k among nb.
func bucketOf(k uint16, nb, seed uint32) uint32 {
	h := (uint32(k) + 1) * seedMul[seed&(seedCount-1)]
	return uint32(uint64(h) * uint64(nb) >> 32)
}

// classFor returns the smallest bucket class of at least nb buckets, or
// classSorted when there is none.
func classFor(nb int) uint32 {
	for c := uint32(1); c < classSorted; c++ {
		if int(classBuckets[c]) >= nb {
			return c
		}
	}
	return classSorted
}

// exNumber is one number of an exchange being laid out: its line number
// and its lines ls[lo:lo+n] of the exchange's lines.
type exNumber struct {
	k     uint16
	lo, n int32
	wide  bool // cannot go in a bucket: more than four records, or an id too large
	inl   bool // in its bucket (else in its bucket's overflow block)
	b     uint32
}

// blockPlan is the layout of an exchange's block.
type blockPlan struct {
	class, seed uint32
	words       int // the block's size, in whole cache lines
}

// planner lays out exchange blocks, reusing its buffers.
type planner struct {
	lines []line // Apply's, for the lines of an exchange
	nums  []exNumber
	hist  [][5]uint16 // per bucket: numbers of 1-4 records, and wide numbers
	ovr   []int       // per bucket: records in its overflow block
	// write's: where each bucket's numbers start in ord, the numbers by
	// bucket, and the lines of an overflow block.
	start []int32
	ord   []int32
	ov    []line
}

// numbers splits ls, sorted by cmpLine, into numbers.
func (p *planner) numbers(ls []line) {
	p.nums = p.nums[:0]
	for i := 0; i < len(ls); {
		j := i + 1
		wide := ls[i].e.a&maxRecordID > maxSlotID
		for j < len(ls) && ls[j].k == ls[i].k {
			wide = wide || ls[j].e.a&maxRecordID > maxSlotID
			j++
		}
		p.nums = append(p.nums, exNumber{k: ls[i].k, lo: int32(i), n: int32(j - i), wide: wide || j-i > 4})
		i = j
	}
}

// plan chooses the layout of the block of ls, sorted by cmpLine and
// without duplicates, and leaves in p.nums where each number goes.
func (p *planner) plan(ls []line) blockPlan {
	p.numbers(ls)
	class := uint32(1)
	if len(ls) > 4 {
		class = classFor(int(float64(len(ls))/targetLoad + 0.999))
	}
	if class == classSorted {
		return blockPlan{class: classSorted, words: roundLine(blockWords(len(ls)))}
	}
	nb := classBuckets[class]
	best, bestCost := uint32(0), -1
	for seed := range uint32(seedCount) {
		cost := p.assign(nb, seed, false)
		if bestCost < 0 || cost < bestCost {
			best, bestCost = seed, cost
		}
		if cost == 0 || nb == 1 {
			break
		}
	}
	p.assign(nb, best, true)
	// Records per bucket's overflow block.
	if cap(p.ovr) < int(nb) {
		p.ovr = make([]int, nb)
	}
	ovr := p.ovr[:nb]
	clear(ovr)
	for i := range p.nums {
		if x := &p.nums[i]; !x.inl {
			ovr[x.b] += int(x.n)
		}
	}
	words := int(nb) * lineWords
	for _, c := range ovr {
		if c > 0 {
			words += blockWords(c)
		}
	}
	return blockPlan{class: class, seed: best, words: roundLine(words)}
}

// assign puts every number in its bucket under seed, and counts the cost
// of the layout: lookups of numbers that go to an overflow block, and of
// line numbers whose bucket has one, weighted so that hits and misses
// count alike. With mark, it records in p.nums which numbers stay in their
// bucket.
func (p *planner) assign(nb, seed uint32, mark bool) int {
	if cap(p.hist) < int(nb) {
		p.hist = make([][5]uint16, nb)
	}
	h := p.hist[:nb]
	clear(h)
	for i := range p.nums {
		x := &p.nums[i]
		x.b = bucketOf(x.k, nb, seed)
		if x.wide {
			h[x.b][4]++
		} else {
			h[x.b][x.n-1]++
		}
	}
	ovNums, ovBuckets := 0, 0
	for b := range h {
		c := &h[b]
		total := int(c[0]) + 2*int(c[1]) + 3*int(c[2]) + 4*int(c[3])
		if c[4] == 0 && total <= 4 {
			continue
		}
		// One slot points to the overflow block; the three others take
		// the numbers with the fewest records first. c becomes what each
		// size keeps in the bucket.
		numbers := int(c[0]) + int(c[1]) + int(c[2]) + int(c[3]) + int(c[4])
		room := 3
		kept := 0
		for n := range 4 {
			take := min(int(c[n]), room/(n+1))
			room -= take * (n + 1)
			kept += take
			c[n] = uint16(take)
		}
		ovBuckets++
		ovNums += numbers - kept
		c[4] = 0xFFFF // marks the bucket as overflowing
	}
	if mark {
		for i := range p.nums {
			x := &p.nums[i]
			c := &h[x.b]
			switch {
			case c[4] != 0xFFFF:
				x.inl = true
			case x.wide || c[x.n-1] == 0:
				x.inl = false
			default:
				x.inl = true
				c[x.n-1]--
			}
		}
	}
	return ovNums*int(nb) + ovBuckets*len(p.nums)
}

// replan leaves in p.nums where each number of ls goes under plan, as
// p.plan(ls) did when it returned plan.
func (p *planner) replan(ls []line, plan blockPlan) {
	if plan.class == classSorted {
		return
	}
	p.numbers(ls)
	p.assign(classBuckets[plan.class], plan.seed, true)
}

// planners keeps Apply's planners and buffers from one call to the next.
var planners = sync.Pool{New: func() any { return new(planner) }}

func roundLine(words int) int { return (words + lineWords - 1) &^ (lineWords - 1) }

// write lays out the block of ls as plan (from p.plan(ls), with p.nums
// as it left them) in dst, which must be zero and plan.words long.
func (p *planner) write(dst []uint64, ls []line, plan blockPlan) {
	if plan.class == classSorted {
		fillBlock(dst[:blockWords(len(ls))], ls)
		return
	}
	nb := int(classBuckets[plan.class])
	// Numbers by bucket, then by line number (a stable counting sort of
	// p.nums, which is by line number): each bucket's slots, and its
	// overflow block, are then in cmpLine order.
	if cap(p.start) < nb+1 {
		p.start = make([]int32, nb+1)
	}
	start := p.start[:nb+1]
	clear(start)
	for i := range p.nums {
		start[p.nums[i].b+1]++
	}
	for b := range nb {
		start[b+1] += start[b]
	}
	p.ord = slices.Grow(p.ord[:0], len(p.nums))[:len(p.nums)]
	for i := range p.nums {
		b := p.nums[i].b
		p.ord[start[b]] = int32(i)
		start[b]++
	}
	for b := range nb {
		bk := dst[b*lineWords : (b+1)*lineWords]
		for s := range 4 {
			bk[2*s] = emptyKey << slotKeyShift
		}
	}
	free := nb * lineWords // the next overflow block's place
	ov := p.ov[:0]
	defer func() { p.ov = ov[:0] }()
	for i := 0; i < len(p.ord); {
		b := p.nums[p.ord[i]].b
		j := i
		for j < len(p.ord) && p.nums[p.ord[j]].b == b {
			j++
		}
		bk := dst[int(b)*lineWords : int(b+1)*lineWords]
		s := 0
		ov = ov[:0]
		for _, o := range p.ord[i:j] {
			x := &p.nums[o]
			for _, l := range ls[x.lo : x.lo+x.n] {
				if x.inl {
					bk[2*s] = l.e.a | uint64(l.k)<<slotKeyShift
					bk[2*s+1] = l.e.b
					s++
				} else {
					ov = append(ov, l)
				}
			}
		}
		if len(ov) > 0 {
			w := blockWords(len(ov))
			fillBlock(dst[free:free+w], ov)
			var present uint64
			for _, l := range ov {
				present |= ovfBits(l.k)
			}
			bk[6] = ovfKey<<slotKeyShift | ^present&ovfFilterMask
			bk[7] = uint64(free - int(b)*lineWords)
			free += w
		}
		i = j
	}
}

// blockLines unpacks the block of entry e at b, appending its lines to dst
// in cmpLine order.
func blockLines(dst []line, e dirEntry, b unsafe.Pointer) []line {
	c := e.class()
	switch c {
	case 0:
		return dst
	case classSorted:
		return sortedAt(b).lines(dst)
	}
	start := len(dst)
	nb := int(classBuckets[c])
	for j := range nb {
		bk := bucketAt(b, uint32(j))
		for s := range 4 {
			x, y := bk[2*s], bk[2*s+1]
			switch k := x & slotKeyMask >> slotKeyShift; k {
			case emptyKey:
			case ovfKey:
				dst = sortedAt(unsafe.Add(unsafe.Pointer(bk), y*8)).lines(dst)
			default:
				dst = append(dst, line{uint16(k), entry{x &^ slotKeyMask, y}})
			}
		}
	}
	slices.SortFunc(dst[start:], cmpLine)
	return dst
}

// bucketAt returns bucket j of the bucket block at b.
func bucketAt(b unsafe.Pointer, j uint32) *[lineWords]uint64 {
	return (*[lineWords]uint64)(unsafe.Add(b, uintptr(j)*lineWords*8))
}

// sortedAt returns the sorted block at b.
func sortedAt(b unsafe.Pointer) block {
	n := int(*(*uint64)(b))
	return unsafe.Slice((*uint64)(b), blockWords(n))
}

// probe returns the slots of bucket bk that hold line number k, as bits
// 0-3 of a mask: adjacent ones, since the slots are sorted.
func probe(bk *[lineWords]uint64, k uint16) uint {
	kk := uint64(k) << slotKeyShift
	// (x^kk)&slotKeyMask is below 1<<57, so less one it has its top bit
	// set exactly when it is zero.
	return uint(((bk[0]^kk)&slotKeyMask-1)>>63 | ((bk[2]^kk)&slotKeyMask-1)>>63<<1 |
		((bk[4]^kk)&slotKeyMask-1)>>63<<2 | ((bk[6]^kk)&slotKeyMask-1)>>63<<3)
}

// overflowOf returns the offset in words of the overflow block of bucket
// bk from the bucket, or 0 when it has none.
func overflowOf(bk *[lineWords]uint64) uint64 {
	if bk[6]&slotKeyMask == ovfKey<<slotKeyShift {
		return bk[7]
	}
	return 0
}

func b2u(b bool) uint {
	var u uint
	if b {
		u = 1
	}
	return u
}

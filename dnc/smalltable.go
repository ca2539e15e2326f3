package dnc

import (
	"math/bits"
	"math/rand/v2"
	"slices"
	"unsafe"
)

// The small lists of a view (the internal list, and the litigator and state
// lists while they are small) are answered from one hash table instead of
// their Sets. A Set lookup costs two dependent memory accesses, to a
// directory entry and to a chunk, and a Set's directory takes 16 KB per area
// code with members whatever the list's size: a few thousand opt-outs
// spread over the ~330 US area codes make a 5 MB directory, so a lookup in
// a small list missed the cache about as often as one in the national list.
// The table answers every small list at once with one access to a 64-byte
// bucket, in an array of 8 to 16 bytes per member that stays in the core's
// cache.
//
// The table maps a number to the small lists that hold it. It is split into
// pages of smallPageSlots slots, each an independent open-addressing table of
// buckets of bucketSlots keys, so that Apply copies only the pages it
// touches: views are immutable, and the table's pages are shared between
// the views an Apply makes, like a Set's exchanges.
const (
	// smallMax is the largest list the table holds. It bounds what one
	// list adds to the table (about 2 MB) and stays far below the size at
	// which a Set of numbers spread over every area code would be smaller
	// than the table.
	smallMax = 1 << 16
	// smallBudget bounds the members of all the lists the table holds
	// together: at most 256 KB of tags, which a core's L2 cache holds
	// next to everything else, and 2 MB each of keys and Hits, which only
	// lookups whose tag matches read. A list that would take the table
	// over budget stays on its Set.
	smallBudget = 1 << 17

	bucketSlots      = 8 // slots per bucket: one tag word, one cache line of keys
	smallPageBits    = 9
	smallPageSlots   = 1 << smallPageBits
	smallPageBuckets = smallPageSlots / bucketSlots
	// ovfTag, in a bucket's tag word, says that a number whose probe
	// starts at or before the bucket was stored past it, so that a lookup
	// that does not find its number in the bucket must go on to the next
	// one. Deletions leave it set; rebuilding clears it.
	ovfTag = 0x80
	// tagMask has the seven tag bits of every slot of a tag word.
	tagMask = 0x7f7f7f7f7f7f7f7f
	// ones8 has the lowest bit of every byte set, high8 the highest.
	ones8 = 0x0101010101010101
	high8 = 0x8080808080808080
)

// smallTable is an immutable hash table from numbers to the small lists
// that hold them: buckets of bucketSlots slots, a tag word per bucket and,
// in pages of smallPageSlots slots, the slots' numbers and lists. Byte j of
// a bucket's tag word is the tag of its slot j, 1 to 127, or 0 when the
// slot is empty; bit 7 of byte 0 is the bucket's overflow flag (ovfTag).
// Its zero value is not used: views without small lists have a nil table.
//
// A number's probe starts at the bucket given by the top bits of its
// product with mul, a random odd number drawn for each table built
// (multiply-shift hashing), and the next seven bits are its tag: the
// numbers of a list, which the public can add to through opt-outs, cannot
// be chosen to crowd one bucket. A lookup reads one tag word, 8 bytes for 8
// slots, and reads a page only when a tag matches, about one time in forty
// for a number the table does not hold. The tags of a 5,000-number list
// take 16 KB.
//
// An edit copies the tags, and the pages it writes to: views are
// immutable, and pages are shared between the views Apply makes.
type smallTable struct {
	tags   []uint64     // a power of two of them
	pages  []*smallPage // a power of two of them
	mul    uint64       // odd
	bshift uint         // 64 - log2(buckets): the bucket is the product's top bits
	n      int          // numbers held
	ovf    int          // buckets with their overflow flag set
}

// smallPage is the numbers and lists of smallPageSlots slots of a
// smallTable: keys[s] is the number in slot s and hits[s] its lists,
// never none.
type smallPage struct {
	keys [smallPageSlots]uint64
	hits [smallPageSlots]Hits
}

// slots returns the number of slots in the table.
func (t *smallTable) slots() int { return len(t.tags) * bucketSlots }

// start returns the bucket and the tag of number n.
func (t *smallTable) start(n uint64) (uint, uint64) {
	h := n * t.mul
	tag := h >> (t.bshift - 7) & 0x7f
	return uint(h >> t.bshift), tag | uint64(b2uint(tag == 0))
}

// page returns the page of bucket b and b's first slot in it.
func (t *smallTable) page(b uint) (*smallPage, uint) {
	s := b * bucketSlots
	return t.pages[s>>smallPageBits], s & (smallPageSlots - 1)
}

// probe returns whether a lookup of n must read the table past the tag
// word of n's bucket: when a tag matches n's or the bucket overflows.
// Lookups inline it.
func (t *smallTable) probe(n uint64) bool {
	h := n * t.mul
	tw := t.tags[uint(h>>(t.bshift&63))&uint(len(t.tags)-1)]
	tag := h >> ((t.bshift - 7) & 63) & 0x7f
	x := tw&tagMask ^ (tag|uint64(b2uint(tag == 0)))*ones8
	return (x-ones8)&^x&high8|tw&ovfTag != 0
}

// lookup returns the small lists that hold n, which must be below
// MaxNumber.
func (t *smallTable) lookup(n uint64) Hits {
	if !t.probe(n) {
		return 0
	}
	return t.lookupSlow(n)
}

// lookupSlow is lookup past the tag word.
func (t *smallTable) lookupSlow(n uint64) Hits {
	b, j, ok := t.find(n)
	if !ok {
		return 0
	}
	p, s := t.page(b)
	return p.hits[s+j]
}

// find returns the bucket and the slot in it that hold n, and whether
// there is one.
func (t *smallTable) find(n uint64) (uint, uint, bool) {
	b, tag := t.start(n)
	mask := uint(len(t.tags) - 1)
	for range len(t.tags) {
		tw := t.tags[b]
		p, s := t.page(b)
		for j := range uint(bucketSlots) {
			if tw>>(8*j)&0x7f == tag && p.keys[s+j] == n {
				return b, j, true
			}
		}
		if tw&ovfTag == 0 {
			break
		}
		b = (b + 1) & mask
	}
	return 0, 0, false
}

// bytes returns the memory the table takes.
func (t *smallTable) bytes() int64 {
	if t == nil {
		return 0
	}
	return int64(len(t.pages))*int64(unsafe.Sizeof(smallPage{})) + int64(cap(t.pages))*8 + int64(cap(t.tags))*8 + int64(unsafe.Sizeof(*t))
}

// all calls fn for every number of the table with its lists.
func (t *smallTable) all(fn func(n uint64, h Hits)) {
	if t == nil {
		return
	}
	for b, tw := range t.tags {
		p, s := t.page(uint(b))
		for j := range uint(bucketSlots) {
			if tw>>(8*j)&0x7f != 0 {
				fn(p.keys[s+j], p.hits[s+j])
			}
		}
	}
}

// smallEdit makes a new table from an old one, copying the old one's tags
// and pages only when it first writes to them.
type smallEdit struct {
	t         *smallTable
	ownsTags  bool
	ownsPages []bool // ownsPages[i] when t.pages[i] is the edit's own copy
}

// newSmallTable returns an empty, writable table with room for n numbers.
func newSmallTable(n int) *smallEdit {
	// Size for a load of at most a half: a bucket of eight then overflows
	// rarely (about 2% of them at a load of one half, far fewer below).
	slots := smallPageSlots
	if n > smallPageSlots/2 {
		slots = 1 << bits.Len(uint(2*n-1))
	}
	pages := make([]*smallPage, slots/smallPageSlots)
	owned := make([]bool, len(pages))
	for i := range pages {
		pages[i] = new(smallPage)
		owned[i] = true
	}
	buckets := slots / bucketSlots
	return &smallEdit{
		t: &smallTable{
			tags:   make([]uint64, buckets),
			pages:  pages,
			mul:    rand.Uint64() | 1,
			bshift: uint(64 - bits.TrailingZeros(uint(buckets))),
		},
		ownsTags:  true,
		ownsPages: owned,
	}
}

// edit returns an edit of t, which may be nil.
func (t *smallTable) edit() *smallEdit {
	if t == nil {
		return newSmallTable(0)
	}
	nt := *t
	nt.pages = slices.Clone(t.pages)
	return &smallEdit{t: &nt, ownsPages: make([]bool, len(nt.pages))}
}

// without returns an edit of a new table, sized for n numbers, with the
// numbers of t (which may be nil) on lists other than h.
func (t *smallTable) without(h Hits, n int) *smallEdit {
	e := newSmallTable(n)
	t.all(func(x uint64, xh Hits) {
		if xh &^= h; xh != 0 {
			e.set(x, xh, true)
		}
	})
	return e
}

// writable returns the tags, and the page of bucket b with b's first slot
// in it, which the edit may write to, copying them on first use.
func (e *smallEdit) writable(b uint) ([]uint64, *smallPage, uint) {
	t := e.t
	if !e.ownsTags {
		t.tags = slices.Clone(t.tags)
		e.ownsTags = true
	}
	i := b * bucketSlots >> smallPageBits
	if !e.ownsPages[i] {
		c := *t.pages[i]
		t.pages[i] = &c
		e.ownsPages[i] = true
	}
	p, s := t.page(b)
	return t.tags, p, s
}

// set adds the lists h to number n (below MaxNumber), or removes them when
// on is false. A number left on no list leaves the table.
func (e *smallEdit) set(n uint64, h Hits, on bool) {
	t := e.t
	if b, j, ok := t.find(n); ok {
		p, s := t.page(b)
		old := p.hits[s+j]
		nh := old | h
		if !on {
			nh = old &^ h
		}
		if nh == old {
			return
		}
		tags, p, s := e.writable(b)
		p.hits[s+j] = nh
		if nh == 0 {
			tags[b] &^= 0x7f << (8 * j)
			t.n--
		}
		return
	}
	if !on || h == 0 {
		return
	}
	if t.n+1 > t.slots()/2 || t.ovf > len(t.tags)/8 {
		e.rebuild(t.n + 1)
		t = e.t
	}
	b, tag := t.start(n)
	mask := uint(len(t.tags) - 1)
	for range len(t.tags) {
		tags, p, s := e.writable(b)
		tw := tags[b]
		for j := range uint(bucketSlots) {
			if tw>>(8*j)&0x7f == 0 {
				tags[b] = tw | tag<<(8*j)
				p.keys[s+j] = n
				p.hits[s+j] = h
				t.n++
				return
			}
		}
		if tw&ovfTag == 0 {
			tags[b] = tw | ovfTag
			t.ovf++
		}
		b = (b + 1) & mask
	}
	// A table at most half full has a free slot.
	panic("dnc: a small-list table with no free slot")
}

// rebuild replaces the edit's table with a fresh one, sized for n numbers,
// that holds the same numbers.
func (e *smallEdit) rebuild(n int) {
	old := e.t
	ne := newSmallTable(max(n, old.n))
	old.all(func(x uint64, h Hits) { ne.set(x, h, true) })
	*e = *ne
}

// done returns the edited table, or nil when it holds no numbers.
func (e *smallEdit) done() *smallTable {
	if e.t.n == 0 {
		return nil
	}
	// Compact a table left mostly empty by deletions.
	if e.t.slots() > smallPageSlots && e.t.n < e.t.slots()/16 {
		e.rebuild(e.t.n)
	}
	return e.t
}

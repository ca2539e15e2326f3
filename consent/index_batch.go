package consent

import (
	"time"
	"unsafe"

	"github.com/heed-dialer/heed/dnc"
)

// Query is one lookup of a batch: what Snapshot.Lookup takes for one
// number, less the channel, which a batch shares.
type Query struct {
	// Number is the number's ten NANP digits, as phone.Number.NANP
	// returns them. Numbers out of range are looked up as absent.
	Number uint64
	// Purpose is the campaign's purpose.
	Purpose Purpose
	// At is the moment of the call.
	At time.Time
}

// The software pipeline of LookupBatch: queries go through it in groups,
// and each group's three dependent memory accesses (the block's place in
// its area code's directory, the block's line numbers, the records of the
// number) are started three, two and one groups before the group is
// decoded.
const (
	lookupGroup = 16
	lookupRing  = 4 // groups in flight
)

// LookupBatch sets out[i] to what Lookup(qs[i].Number, qs[i].Purpose, ch,
// qs[i].At, &out[i]) would write, for every i, and found[i] (when found is
// not nil) to what it would return. It is several times faster per query
// than Lookup on a large snapshot: it works on a group of queries while the
// memory the next groups need is on its way, so that memory latencies
// overlap instead of adding up. out, and found when not nil, must be at
// least as long as qs. It takes no lock and allocates nothing.
func (s *Snapshot) LookupBatch(qs []Query, ch Channel, out []ConsentFacts, found []bool) {
	out = out[:len(qs)]
	if found != nil {
		found = found[:len(qs)]
	}
	if s == nil {
		s = emptySnapshot
	}
	var (
		slots  [lookupRing][lookupGroup]*block // where each query's block is listed
		blocks [lookupRing][lookupGroup]block
		ranges [lookupRing][lookupGroup][2]int32 // the number's records in its block
		addrs  [4 * lookupGroup]uintptr
	)
	groups := (len(qs) + lookupGroup - 1) / lookupGroup
	part := func(g int) []Query { return qs[g*lookupGroup : min((g+1)*lookupGroup, len(qs))] }
	// findSlots finds where the blocks of group g are listed and prefetches
	// those places.
	findSlots := func(g int) {
		sl := &slots[g%lookupRing]
		k := 0
		for i := range part(g) {
			n := qs[g*lookupGroup+i].Number
			sl[i] = nil
			if n >= nanpLimit {
				continue
			}
			if d := s.npa[n/10_000_000]; d != nil {
				p := &d.blk[n/10_000%1000]
				sl[i] = p
				addrs[k] = uintptr(unsafe.Pointer(p))
				k++
			}
		}
		dnc.Prefetch(addrs[:k])
	}
	// findBlocks reads the places of group g, in cache by now, and
	// prefetches each block's count and line numbers.
	findBlocks := func(g int) {
		sl, bl := &slots[g%lookupRing], &blocks[g%lookupRing]
		k := 0
		for i := range part(g) {
			bl[i] = nil
			p := sl[i]
			if p == nil || *p == nil {
				continue
			}
			b := *p
			bl[i] = b
			// len(b) = 1 + ceil(n/4) + 2n: the count and line numbers are
			// in the first 1 + ceil(n/4) words, at most (len+2)/9 + 1.
			// Past four lines (over a hundred records) the search takes
			// its chances.
			if k > len(addrs)-5 {
				dnc.Prefetch(addrs[:k])
				k = 0
			}
			end := min((len(b)+2)/9+1, len(b)-1, 24)
			for w := 0; w < end; w += 8 {
				addrs[k] = uintptr(unsafe.Pointer(&b[w]))
				k++
			}
			addrs[k] = uintptr(unsafe.Pointer(&b[end]))
			k++
		}
		dnc.Prefetch(addrs[:k])
	}
	// findRecords searches the line numbers of group g, in cache by now,
	// and prefetches the records of the number, if it has any.
	findRecords := func(g int) {
		bl, rg := &blocks[g%lookupRing], &ranges[g%lookupRing]
		k := 0
		for i := range part(g) {
			b := bl[i]
			if b == nil {
				continue
			}
			lo, hi := b.find(uint16(qs[g*lookupGroup+i].Number % 10_000))
			rg[i] = [2]int32{int32(lo), int32(hi)}
			if lo == hi {
				continue
			}
			kw := (b.len() + 3) >> 2
			addrs[k] = uintptr(unsafe.Pointer(&b[1+kw+2*lo]))
			addrs[k+1] = uintptr(unsafe.Pointer(&b[kw+2*hi]))
			k += 2
		}
		dnc.Prefetch(addrs[:k])
	}
	for g := range min(groups, 3) {
		findSlots(g)
	}
	for g := range min(groups, 2) {
		findBlocks(g)
	}
	for g := range min(groups, 1) {
		findRecords(g)
	}
	for g := range groups {
		if g+3 < groups {
			findSlots(g + 3)
		}
		if g+2 < groups {
			findBlocks(g + 2)
		}
		if g+1 < groups {
			findRecords(g + 1)
		}
		bl, rg := &blocks[g%lookupRing], &ranges[g%lookupRing]
		for i := range part(g) {
			j := g*lookupGroup + i
			q := &qs[j]
			o := &out[j]
			*o = ConsentFacts{}
			ok := false
			if b := bl[i]; b != nil && rg[i][0] != rg[i][1] {
				pc, chBit := lookupScope(q.Purpose, ch)
				ok = b.decide(int(rg[i][0]), int(rg[i][1]), pc, chBit, q.At.Unix(), o)
			}
			if found != nil {
				found[j] = ok
			}
		}
	}
}

package consent

import "time"

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
// and each group's two dependent memory accesses (the block's place in its
// area code's directory, then the block) are started lookupAhead and one
// group before the group is decoded.
const (
	lookupGroup = 16
	lookupAhead = 2
	lookupRing  = 4 // at least lookupAhead+1, a power of two
)

// touchSink keeps the loads that bring blocks into the cache from being
// optimised away; it is written only when it would not change.
var touchSink uint64

// LookupBatch sets out[i] to what Lookup(qs[i].Number, qs[i].Purpose, ch,
// qs[i].At, &out[i]) would write, for every i, and found[i] (when found is
// not nil) to what it would return. It is several times faster per query
// than Lookup on a large snapshot: it finds the blocks of a group of
// queries while the blocks of the groups before it are still on their way
// from memory, so that their memory latencies overlap instead of adding
// up. out, and found when not nil, must be at least as long as qs. It
// takes no lock and allocates nothing.
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
	)
	groups := (len(qs) + lookupGroup - 1) / lookupGroup
	part := func(g int) []Query { return qs[g*lookupGroup : min((g+1)*lookupGroup, len(qs))] }
	var touched uint64
	// findSlots finds where the blocks of group g are listed and starts
	// loading those places.
	findSlots := func(g int) {
		sl := &slots[g%lookupRing]
		for i := range part(g) {
			n := qs[g*lookupGroup+i].Number
			sl[i] = nil
			if n >= nanpLimit {
				continue
			}
			if d := s.npa[n/10_000_000]; d != nil {
				p := &d.blk[n/10_000%1000]
				sl[i] = p
				touched += uint64(len(*p))
			}
		}
	}
	// findBlocks reads the places of group g, in cache by now, and starts
	// loading the block's count and the words where the number's line
	// number and records most likely are (line numbers are spread evenly
	// enough for a proportional guess to land close).
	findBlocks := func(g int) {
		sl, bl := &slots[g%lookupRing], &blocks[g%lookupRing]
		for i := range part(g) {
			bl[i] = nil
			p := sl[i]
			if p == nil || *p == nil {
				continue
			}
			b := *p
			bl[i] = b
			// len(b) = 1 + ceil(n/4) + 2n, so n is about 4(len-1)/9.
			cnt := (len(b) - 1) * 4 / 9
			k := int(qs[g*lookupGroup+i].Number % 10_000)
			j := min(k*cnt/10_000, max(cnt-1, 0))
			kw := (cnt + 3) >> 2
			touched += b[0] + b[min(1+j>>2, len(b)-1)] + b[min(1+kw+2*j, len(b)-1)]
		}
	}
	for g := range min(groups, lookupAhead+1) {
		findSlots(g)
	}
	for g := range min(groups, lookupAhead) {
		findBlocks(g)
	}
	for g := range groups {
		if g+lookupAhead+1 < groups {
			findSlots(g + lookupAhead + 1)
		}
		if g+lookupAhead < groups {
			findBlocks(g + lookupAhead)
		}
		bl := &blocks[g%lookupRing]
		for i := range part(g) {
			j := g*lookupGroup + i
			q := &qs[j]
			o := &out[j]
			*o = ConsentFacts{}
			ok := false
			if b := bl[i]; b != nil {
				pc, chBit := lookupScope(q.Purpose, ch)
				ok = b.lookup(uint16(q.Number%10_000), pc, chBit, q.At.Unix(), o)
			}
			if found != nil {
				found[j] = ok
			}
		}
	}
	if touched == ^uint64(0) {
		touchSink++
	}
}

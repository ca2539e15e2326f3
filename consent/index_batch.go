package consent

import (
	"math/bits"
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

// The software pipeline of LookupBatch: a first pass over a chunk of
// queries finds each query's directory and prefetches its entry (the
// directories are small and mostly in the CPU's caches, so the entries of
// a whole chunk arrive while the pass goes on). Then queries go through
// the pipeline in groups: for each group it reads the entries, finds
// every query's bucket (or sorted block) and prefetches it, and
// lookupAhead groups later decodes the group. Neither stage
// branches on what it loads before the group's prefetches are issued, so
// that the loads overlap. Most queries are answered from their bucket's
// one cache line; the few whose records are in a sorted block (an overflow
// block, or an exchange too large for buckets) wait two more groups: one
// for the block's line numbers, one for the records. A number without
// records whose bucket has an overflow block mostly stops at the bucket,
// whose overflow slot says which line numbers the block certainly lacks
// (see ovfBits).
const (
	lookupGroup = 16
	lookupAhead = 1
	lookupRing  = 32 // a power of two: at least (lookupAhead+1) groups, and 2
)

// emptyDir stands for the directory of an area code without records; its
// blocks start at emptyLine, which is what the pipeline prefetches for its
// numbers.
var (
	emptyDir  = npaDir{base: unsafe.Pointer(&emptyLine)}
	emptyLine [lineWords]uint64
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
	var bt batch
	bt.s = s
	_, bt.chBit = lookupScope("", ch)
	bt.chOK = ch == ChannelVoice || ch == ChannelText
	for lo := 0; lo < len(qs); lo += lookupChunk {
		hi := min(lo+lookupChunk, len(qs))
		var f []bool
		if found != nil {
			f = found[lo:hi]
		}
		bt.run(qs[lo:hi], out[lo:hi], f)
	}
}

// lookupChunk is the most queries the pipeline takes at once: the gate's
// batch. The batch's state, which every LookupBatch clears, grows with it.
const lookupChunk = 128

// batch is the state of one LookupBatch call. It holds no pointer to the
// caller's queries and answers, which its methods take as arguments: the
// caller may keep them on its stack.
type batch struct {
	s     *Snapshot
	chBit uint64
	chOK  bool
	// The scope of the last purpose seen (by the address and length of its
	// bytes), for the queries that share it.
	lastP  uintptr
	lastN  int
	lastPC uint64
	// The queries of the chunk that go through the pipeline, in order (the
	// others are out of range), with their directories, and their
	// exchanges and line numbers (exchange << 16 | line number).
	idx  [lookupChunk]int32
	dirs [lookupChunk]*npaDir
	nxk  [lookupChunk]uint32
	// Per query in flight, by its place in idx: its entry and its bucket
	// (or sorted block).
	ents [lookupRing]dirEntry
	ptrs [lookupRing]unsafe.Pointer
	sw   sortedWaits
}

// run looks up qs, at most lookupChunk of them, into out and found. Those out
// of range are answered at once, so that a caller can mark the queries it
// does not need as absent for little more than the cost of writing their
// empty answers; the others go through the pipeline.
func (bt *batch) run(qs []Query, out []ConsentFacts, found []bool) {
	var addrs [lookupChunk]uintptr
	s := bt.s
	n := 0
	for i := range qs {
		// Every query is written at n, which moves on past those in range.
		nn := qs[i].Number
		prefix, np := splitNumber(nn)
		d := s.npa[np&1023]
		if d == nil {
			d = &emptyDir
		}
		x := uint32(prefix-np*1000)<<16 | uint32(nn-prefix*10_000)
		bt.idx[n&(lookupChunk-1)] = int32(i)
		bt.dirs[n&(lookupChunk-1)] = d
		bt.nxk[n&(lookupChunk-1)] = x
		addrs[n&(lookupChunk-1)] = uintptr(unsafe.Pointer(&d.ent[x>>16&1023]))
		n += int(b2u(nn < nanpLimit))
	}
	dnc.Prefetch(addrs[:n])
	if n < len(qs) {
		for i := range qs {
			if qs[i].Number >= nanpLimit {
				out[i] = ConsentFacts{}
				if found != nil {
					found[i] = false
				}
			}
		}
	}
	bt.runPipeline(bt.idx[:n], qs, out, found)
}

// splitNumber returns n/10_000 and n/10_000_000 for n below nanpLimit
// (and something for the others), by multiplications that fit in 64 bits,
// which are cheaper than the compiler's divisions by constants.
func splitNumber(n uint64) (prefix, npa uint64) {
	// n>>4 < 1<<30, and 1759218605 = ceil(1<<40 / 625); prefix < 1<<20,
	// and 1073742 = ceil(1<<30 / 1000). TestSplitNumber checks them.
	prefix = (n >> 4 & (1<<30 - 1)) * 1759218605 >> 40
	return prefix, prefix * 1073742 >> 30
}

// runPipeline looks up the queries idx of qs, which are in range.
func (bt *batch) runPipeline(idx []int32, qs []Query, out []ConsentFacts, found []bool) {
	n := len(idx)
	// run has prefetched every query's directory entry: each group is
	// located at once, and decoded lookupAhead groups later, when its
	// buckets have had time to arrive.
	for g := 0; (g-lookupAhead)*lookupGroup < n; g++ {
		if lo := g * lookupGroup; lo < n {
			bt.locate(lo, min(lo+lookupGroup, n))
		}
		if lo := (g - lookupAhead) * lookupGroup; lo >= 0 {
			if bt.sw.nFresh|bt.sw.nReady != 0 {
				bt.advance(qs, out, found)
			}
			bt.decode(idx, lo, min(lo+lookupGroup, n), qs, out, found)
		}
	}
	for bt.sw.nFresh > 0 || bt.sw.nReady > 0 {
		bt.advance(qs, out, found)
	}
}

// locate reads the directory entries of the queries at [lo, hi) in idx,
// finds each query's bucket (or sorted block) and prefetches it. It
// branches on an entry only for blocks placed on their own, which are
// rare.
func (bt *batch) locate(lo, hi int) {
	var addrs [lookupGroup]uintptr
	for p := lo; p < hi; p++ {
		r := p & (lookupRing - 1)
		d, x := bt.dirs[p&(lookupChunk-1)], bt.nxk[p&(lookupChunk-1)]
		e := d.ent[x>>16&1023]
		c := e.class()
		// An entry of class 0 (no records) is 0 and takes no branch: a
		// batch's numbers with and without records come in a random mix.
		// Its offset and bucket are 0, so that it prefetches the first
		// line of its directory's blocks, which decode does not read.
		off := uintptr(e.off()) + uintptr(bucketOf(uint16(x), classBuckets[c], e.seed()))
		var ptr unsafe.Pointer
		if e.off() != extOff {
			ptr = unsafe.Add(d.base, off*lineWords*8)
		} else {
			// Rare (see Apply): a block of its own.
			ptr = unsafe.Add(d.extAt(uint64(x>>16)), (off-extOff)*lineWords*8)
		}
		a := uintptr(ptr)
		bt.ents[r], bt.ptrs[r] = e, ptr
		addrs[(p-lo)&(lookupGroup-1)] = a
	}
	dnc.Prefetch(addrs[:hi-lo])
}

// decode answers the queries idx[lo:hi] from their buckets, and sets the
// others on their way through the sorted blocks.
func (bt *batch) decode(idx []int32, lo, hi int, qs []Query, out []ConsentFacts, found []bool) {
	for p := lo; p < hi; p++ {
		j := int(idx[p])
		r := p & (lookupRing - 1)
		e, ptr := bt.ents[r], bt.ptrs[r]
		o := &out[j]
		c := e.class()
		ok := false
		switch {
		case c == 0:
			*o = ConsentFacts{}
		case c == classSorted:
			bt.wait(j, ptr, false, qs, out, found)
			continue
		default:
			q := &qs[j]
			bk := (*[lineWords]uint64)(ptr)
			k := uint16(bt.nxk[p&(lookupChunk-1)])
			if m := probe(bk, k); m&(m-1) == 0 && m != 0 {
				i := 2 * bits.TrailingZeros(m) & 7
				ok = decideOne(bk[i], bk[i+1], ^uint64(slotKeyMask), bt.scope(q.Purpose), bt.chBit, q.At.Unix(), o)
			} else if m != 0 {
				ok = decide(bk[2*bits.TrailingZeros(m):2*bits.Len(m)], ^uint64(slotKeyMask), bt.scope(q.Purpose), bt.chBit, q.At.Unix(), o)
			} else if ovf := overflowOf(bk); ovf == 0 || ovfAbsent(bk[6], k) {
				*o = ConsentFacts{}
			} else {
				bt.wait(j, unsafe.Add(unsafe.Pointer(bk), ovf*8), true, qs, out, found)
				continue
			}
		}
		if found != nil {
			found[j] = ok
		}
	}
}

// scope returns the scope code of purpose p on the batch's channel, as
// lookupScope does. The queries of a batch mostly name the package's
// Purpose constants, in no particular order: those it finds by the address
// of their bytes in purposeSlots, without a branch that depends on which
// one it is; for others it remembers the last purpose's code.
func (bt *batch) scope(p Purpose) uint64 {
	if len(p) > 0 {
		c := &purposeSlots[(len(p)^int(p[0]))&(len(purposeSlots)-1)]
		if c.data == unsafe.StringData(string(p)) && c.n == len(p) {
			if !bt.chOK {
				return 0
			}
			return c.pc
		}
	}
	if uintptr(unsafe.Pointer(unsafe.StringData(string(p)))) == bt.lastP && len(p) == bt.lastN {
		return bt.lastPC
	}
	pc := uint64(0)
	if bt.chOK {
		pc = scopeCode(p)
	}
	bt.lastP, bt.lastN, bt.lastPC = uintptr(unsafe.Pointer(unsafe.StringData(string(p)))), len(p), pc
	return pc
}

// purposeSlot is a Purpose constant, by the address and length of its
// bytes, and its scope code.
type purposeSlot struct {
	data *byte
	n    int
	pc   uint64
}

// purposeSlots holds the Purpose constants, each in the slot of its length
// and first byte (see batch.scope), if no other took it first.
var purposeSlots = func() (t [8]purposeSlot) {
	for _, p := range Purposes() {
		if c := &t[(len(p)^int(p[0]))&7]; c.data == nil {
			*c = purposeSlot{unsafe.StringData(string(p)), len(p), scopeCode(p)}
		}
	}
	return t
}()

// sortedWait is a query of a batch waiting for a sorted block: at p, and
// then, once its first line is in the cache, b.
type sortedWait struct {
	p      unsafe.Pointer
	b      block
	j      int
	lo, hi int
}

// sortedWaits are the queries of a batch waiting for a sorted block: fresh
// ones, whose line numbers are on their way, and ready ones, whose records
// are.
type sortedWaits struct {
	fresh, ready   [lookupGroup]sortedWait
	nFresh, nReady int
	addrs          [2 * lookupGroup]uintptr
}

// wait queues query j, whose records are in the sorted block at p;
// prefetch tells to prefetch the block's first line.
func (bt *batch) wait(j int, p unsafe.Pointer, prefetch bool, qs []Query, out []ConsentFacts, found []bool) {
	sw := &bt.sw
	if prefetch {
		a := [1]uintptr{uintptr(p)}
		dnc.Prefetch(a[:])
	}
	if sw.nFresh == len(sw.fresh) {
		bt.advance(qs, out, found)
	}
	sw.fresh[sw.nFresh] = sortedWait{p: p, j: j}
	sw.nFresh++
}

// advance answers the queries whose records are in the cache by now, and
// searches the line numbers of those whose first line is, prefetching
// their records.
func (bt *batch) advance(qs []Query, out []ConsentFacts, found []bool) {
	sw := &bt.sw
	for i := range sw.nReady {
		w := &sw.ready[i]
		q := &qs[w.j]
		kw := (w.b.len() + 3) >> 2
		ok := decide(w.b[1+kw+2*w.lo:1+kw+2*w.hi], ^uint64(0), bt.scope(q.Purpose), bt.chBit, q.At.Unix(), &out[w.j])
		if found != nil {
			found[w.j] = ok
		}
	}
	sw.nReady = 0
	k := 0
	for i := range sw.nFresh {
		w := sw.fresh[i]
		w.b = sortedAt(w.p)
		w.lo, w.hi = w.b.find(uint16(qs[w.j].Number % 10_000))
		kw := (w.b.len() + 3) >> 2
		if w.lo < w.hi {
			sw.addrs[k] = uintptr(unsafe.Pointer(&w.b[1+kw+2*w.lo]))
			sw.addrs[k+1] = uintptr(unsafe.Pointer(&w.b[kw+2*w.hi]))
			k += 2
		}
		sw.ready[i] = w
	}
	sw.nReady, sw.nFresh = sw.nFresh, 0
	dnc.Prefetch(sw.addrs[:k])
}

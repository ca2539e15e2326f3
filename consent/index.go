package consent

import (
	"cmp"
	"math"
	"math/bits"
	"slices"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/heed-dialer/heed/dnc"
)

// The in-memory consent index.
//
// A Snapshot is immutable. Numbers are split by area code (NPA) and exchange
// (NXX): the root holds one directory per area code, and a directory one
// four-byte entry per exchange, which locates the block of the exchange's
// records and tells how to read it. Mostly, a block is a small hash table
// of cache-line buckets, each holding up to four packed records (16 bytes
// each) with their line numbers (the last four digits): a lookup reads the
// directory entry, which mostly stays in the CPU's caches (the directories
// of 330 area codes take 1.3 MB), and one cache line, whether the number has
// records or not. See index_bucket.go for the block formats, and index_batch.go for
// the software pipeline of LookupBatch. Build lays all the blocks out in
// one array and all the directories in another, on huge pages where the
// kernel allows. Apply copies the root, the touched directories and the
// touched blocks, places the new blocks on their own and shares everything
// else with the snapshot it came from.
//
// A packed record holds times as whole Unix seconds, rounded so that the
// index never lets a call through that exact times would stop: revocation
// times are rounded down, so a consent given in the same second as a
// revocation counts as revoked; expiry times are rounded down; and a
// consent obtained at a fraction of a second counts only from the next whole
// second.

const (
	npaCount  = 1000
	nxxCount  = 1000
	nanpLimit = 10_000_000_000 // exclusive bound of ten-digit numbers
)

// entry is one packed record. Word a holds the id in bits 0-56 and the meta
// bits below; word b holds obtained_at or revoked_at (Unix seconds) in its
// low half and expires_at (Unix seconds, 0 for none) in its high half.
type entry struct{ a, b uint64 }

const (
	metaFrac       = 1 << 57 // obtained_at has a fraction of a second
	metaText       = 1 << 58 // channel text; clear for voice
	metaScopeShift = 59      // 3 bits: 0 every purpose, else scopeCode
	metaScopeMask  = 7 << metaScopeShift
	metaPEWC       = 1 << 62 // kind pewc; clear for pec
	metaConsent    = 1 << 63 // a consent; clear for a revocation, which sorts first

	// maxRecordID is the largest record id the index can hold.
	maxRecordID = 1<<57 - 1
)

func (e entry) id() int64       { return int64(e.a & maxRecordID) }
func (e entry) isConsent() bool { return e.a&metaConsent != 0 }
func (e entry) scope() uint64   { return e.a & metaScopeMask >> metaScopeShift }
func (e entry) at() int64       { return int64(uint32(e.b)) }
func (e entry) expires() int64  { return int64(e.b >> 32) }
func (e entry) kind() ConsentKind {
	if e.a&metaPEWC != 0 {
		return ConsentPEWC
	}
	return ConsentPEC
}

// scopeCode numbers the purposes from 1; 0 stands for every purpose (and
// for a purpose the index does not know).
func scopeCode(p Purpose) uint64 {
	switch p {
	case PurposeInformational:
		return 1
	case PurposeTelemarketing:
		return 2
	case PurposeDebtCollection:
		return 3
	case PurposeSolicitation:
		return 4
	}
	return 0
}

// unixSeconds returns t as Unix seconds clamped to what an entry holds, and
// whether t has a fraction of a second.
func unixSeconds(t time.Time) (uint64, bool) {
	u := t.Unix()
	switch {
	case u < 0:
		return 0, false
	case u > math.MaxUint32:
		return math.MaxUint32, false
	}
	return uint64(u), t.Nanosecond() != 0
}

// pack converts a record to its number and entry. It reports false for a
// record the index cannot use: a number outside the NANP, or a consent
// without a known kind, scope, channel or time, or with an id out of range.
func pack(r *Record) (uint64, entry, bool) {
	var e entry
	n := r.Number
	if n == 0 || n >= nanpLimit || r.ID < 0 || r.ID > maxRecordID {
		return 0, e, false
	}
	e.a = uint64(r.ID)
	switch r.Type {
	case RecordConsent:
		sc := scopeCode(r.Scope)
		if sc == 0 || (r.Kind != ConsentPEC && r.Kind != ConsentPEWC) || r.At.IsZero() {
			return 0, e, false
		}
		e.a |= metaConsent | sc<<metaScopeShift
		if r.Kind == ConsentPEWC {
			e.a |= metaPEWC
		}
		switch r.Channel {
		case ChannelVoice:
		case ChannelText:
			e.a |= metaText
		default:
			return 0, e, false
		}
		s, frac := unixSeconds(r.At)
		e.b = s
		if frac {
			e.a |= metaFrac
		}
		if !r.ExpiresAt.IsZero() {
			x, _ := unixSeconds(r.ExpiresAt)
			e.b |= max(x, 1) << 32
		}
	case RecordRevocation:
		// An unknown scope counts as every purpose, and a revocation without
		// a time beats every consent: both are the safe reading.
		e.a |= scopeCode(r.Scope) << metaScopeShift
		e.b = math.MaxUint32
		if !r.At.IsZero() {
			e.b, _ = unixSeconds(r.At)
		}
	default:
		return 0, e, false
	}
	return n, e, true
}

// pending is a packed record with its number, before it is placed in a block.
type pending struct {
	n uint64
	e entry
}

// line is a packed record with its line number.
type line struct {
	k uint16
	e entry
}

// cmpLine orders the records of a block: by line number, revocations
// before consents (Lookup relies on it), then by content, so that identical
// records are adjacent.
func cmpLine(x, y line) int {
	if c := cmp.Compare(x.k, y.k); c != 0 {
		return c
	}
	if c := cmp.Compare(x.e.a, y.e.a); c != 0 {
		return c
	}
	return cmp.Compare(x.e.b, y.e.b)
}

func cmpPending(x, y pending) int {
	if c := cmp.Compare(x.n/10_000, y.n/10_000); c != 0 {
		return c
	}
	return cmpLine(line{uint16(x.n % 10_000), x.e}, line{uint16(y.n % 10_000), y.e})
}

// A block (a sorted block) holds records in one slice of words:
//
//	[0]                n, the number of records
//	[1, 1+kw)          their line numbers, four to a word (kw = (n+3)/4)
//	[1+kw, 1+kw+2n)    the records, two words each
//
// sorted by cmpLine. It holds the records of a bucket that do not fit in
// it, or of an exchange too large for buckets (see index_bucket.go).
type block []uint64

// blockWords is the size in words of a block of n records.
func blockWords(n int) int { return 1 + (n+3)>>2 + 2*n }

// fillBlock packs sorted, distinct lines into b, which must be zero and
// blockWords(len(ls)) long, and returns it.
func fillBlock(b block, ls []line) block {
	n := len(ls)
	kw := (n + 3) >> 2
	b[0] = uint64(n)
	for i, l := range ls {
		b[1+i>>2] |= uint64(l.k) << (uint(i&3) * 16)
		b[1+kw+2*i], b[2+kw+2*i] = l.e.a, l.e.b
	}
	return b
}

func (b block) len() int { return int(b[0]) }

func (b block) key(i int) uint16 { return uint16(b[1+i>>2] >> (uint(i&3) * 16)) }

func (b block) entry(kw, i int) entry { return entry{b[1+kw+2*i], b[2+kw+2*i]} }

// lines unpacks the block, appending to dst.
func (b block) lines(dst []line) []line {
	if b == nil {
		return dst
	}
	n := b.len()
	kw := (n + 3) >> 2
	for i := range n {
		dst = append(dst, line{b.key(i), b.entry(kw, i)})
	}
	return dst
}

// countLines returns the number of distinct line numbers in sorted ls.
func countLines(ls []line) int {
	c := 0
	for i := range ls {
		if i == 0 || ls[i-1].k != ls[i].k {
			c++
		}
	}
	return c
}

// npaDir locates the blocks of one area code, by exchange. Its entries are
// four bytes each, so that the directories of every area code in use take
// about a megabyte and stay in the CPU's caches.
type npaDir struct {
	ent    [1024]dirEntry // by exchange; a power of two, so that indexes need no bounds check
	base   unsafe.Pointer // the blocks built with the directory: see dirEntry.off
	ext    []extBlock     // blocks placed on their own (by Apply), by exchange
	blocks int            // exchanges with records
}

// extBlock is a block placed on its own.
type extBlock struct {
	nxx uint64
	b   unsafe.Pointer
}

var (
	sizeofSnapshot = int64(unsafe.Sizeof(Snapshot{}))
	sizeofDir      = int64(unsafe.Sizeof(npaDir{}))
	sizeofExt      = int64(unsafe.Sizeof(extBlock{}))
)

// blockAt returns where the block of exchange nxx, whose entry is e (not
// empty), starts.
func (d *npaDir) blockAt(nxx uint64, e dirEntry) unsafe.Pointer {
	if off := e.off(); off != extOff {
		return unsafe.Add(d.base, uintptr(off)*lineWords*8)
	}
	return d.extAt(nxx)
}

// extAt returns the block of exchange nxx, which is on its own.
func (d *npaDir) extAt(nxx uint64) unsafe.Pointer {
	i, _ := slices.BinarySearchFunc(d.ext, nxx, func(x extBlock, nxx uint64) int { return cmp.Compare(x.nxx, nxx) })
	return d.ext[i].b
}

// setExt places the block of exchange nxx at b, on its own. d.ext must
// not be shared.
func (d *npaDir) setExt(nxx uint64, b unsafe.Pointer) {
	i, found := slices.BinarySearchFunc(d.ext, nxx, func(x extBlock, nxx uint64) int { return cmp.Compare(x.nxx, nxx) })
	if found {
		d.ext[i].b = b
		return
	}
	d.ext = slices.Insert(d.ext, i, extBlock{nxx, b})
}

// blockBytes returns the size of the block of entry e at b.
func blockBytes(e dirEntry, b unsafe.Pointer) int64 {
	c := e.class()
	switch c {
	case 0:
		return 0
	case classSorted:
		return int64(roundLine(len(sortedAt(b)))) * 8
	}
	nb := classBuckets[c]
	words := int(nb) * lineWords
	for j := range nb {
		if bk := bucketAt(b, j); bk[6]&slotKeyMask == ovfKey<<slotKeyShift {
			words += len(sortedAt(unsafe.Add(unsafe.Pointer(bk), bk[7]*8)))
		}
	}
	return int64(roundLine(words)) * 8
}

// newLines returns n words of zeros starting on a cache line.
func newLines(n int) []uint64 {
	w := make([]uint64, n+lineWords-1)
	skip := int(-uintptr(unsafe.Pointer(unsafe.SliceData(w))) / 8 % lineWords)
	return w[skip : skip+n : skip+n]
}

// Snapshot is an immutable consent index: for each NANP number, every
// consent and revocation on file. It is safe for concurrent use; Lookup
// takes no lock and allocates nothing. The zero Snapshot is empty.
type Snapshot struct {
	npa     [1024]*npaDir // by area code; those from npaCount on always nil, for numbers out of range
	seq     int64
	records int
	numbers int
	bytes   int64
}

var emptySnapshot = &Snapshot{bytes: sizeofSnapshot}

// NewSnapshot returns a snapshot holding records, at change sequence number
// seq (or the largest Seq among the records, if greater).
func NewSnapshot(seq int64, records ...Record) *Snapshot {
	var b Builder
	for i := range records {
		b.Add(records[i])
	}
	return b.Build(seq)
}

// Seq returns the change sequence number the snapshot is current to: the
// one it was built at, or the largest Seq among the records applied since.
func (s *Snapshot) Seq() int64 { return s.seq }

// Len returns the number of records (consents and revocations) the snapshot
// holds. Duplicates and records the index cannot use are not counted.
func (s *Snapshot) Len() int { return s.records }

// Numbers returns the number of distinct phone numbers with records.
func (s *Snapshot) Numbers() int { return s.numbers }

// Bytes returns the memory the snapshot's structures take, not counting
// what it shares with the snapshots it was derived from or that derive from
// it, nor the allocator's rounding.
func (s *Snapshot) Bytes() int64 { return s.bytes }

// Lookup writes to out what the engine's Facts need about number n (its ten
// NANP digits, as phone.Number.NANP returns them) for a call at `at` with
// purpose p on channel ch, overwriting out. It reports whether out names a
// consent record; out's revocation times are set either way.
//
// RevokedAt is the latest revocation of the number in any scope;
// PurposeRevokedAt the latest one that covers p (made for p or for every
// purpose). The consent chosen, in order of preference, is:
//  1. one in force at `at` that was given after every revocation;
//  2. one in force at `at` that was given after every revocation covering
//     p, but not after RevokedAt (it counts only when a firm narrows
//     revocations to a purpose, rule F13);
//  3. one given after every revocation covering p that has expired;
//  4. the latest revoked one.
//
// Within a group the strongest kind wins, then the latest obtained_at, the
// latest expiry (none is latest) and the highest id. Consents obtained after
// `at` are ignored. Ties in time go to the revocation (rule F12). Under the
// default revoke-all policy the engine's decision from out is exact; under
// a purpose-limited policy it can only be stricter than exact (when a weaker
// consent of group 1 hides a stronger one of group 2).
//
// The times in out are whole seconds: revocation and expiry times rounded
// down, so that the index is never looser than exact times would be.
// Lookup takes no lock and allocates nothing.
func (s *Snapshot) Lookup(n uint64, p Purpose, ch Channel, at time.Time, out *ConsentFacts) bool {
	if s == nil || n >= nanpLimit {
		*out = ConsentFacts{}
		return false
	}
	d := s.npa[n/10_000_000]
	if d == nil {
		*out = ConsentFacts{}
		return false
	}
	nxx := n / 10_000 % 1000
	e := d.ent[nxx]
	if e.class() == 0 {
		*out = ConsentFacts{}
		return false
	}
	pc, chBit := lookupScope(p, ch)
	return lookupBlock(d.blockAt(nxx, e), e, uint16(n%10_000), pc, chBit, at.Unix(), out)
}

// lookupScope returns the scope code and channel bit a lookup for purpose p
// on channel ch matches; scope 0 (an unknown purpose or channel) matches no
// consent, and every revocation covers it.
func lookupScope(p Purpose, ch Channel) (pc, chBit uint64) {
	pc = scopeCode(p)
	switch ch {
	case ChannelVoice:
	case ChannelText:
		chBit = metaText
	default:
		pc = 0 // no consent matches an unknown channel
	}
	return pc, chBit
}

// lookupBlock is Lookup within the block of n's exchange, whose entry is e
// and which starts at b: k is n's line number, pc and chBit come from
// lookupScope and atS is the call's Unix second.
func lookupBlock(b unsafe.Pointer, e dirEntry, k uint16, pc, chBit uint64, atS int64, out *ConsentFacts) bool {
	if c := e.class(); c != classSorted {
		bk := bucketAt(b, bucketOf(k, classBuckets[c], e.seed()))
		if m := probe(bk, k); m != 0 {
			return decide(bk[2*bits.TrailingZeros(m):2*bits.Len(m)], ^uint64(slotKeyMask), pc, chBit, atS, out)
		}
		ovf := overflowOf(bk)
		if ovf == 0 || ovfAbsent(bk[6], k) {
			*out = ConsentFacts{}
			return false
		}
		b = unsafe.Add(unsafe.Pointer(bk), ovf*8)
	}
	return sortedAt(b).lookup(k, pc, chBit, atS, out)
}

// lookup is Lookup within a sorted block.
func (b block) lookup(k uint16, pc, chBit uint64, atS int64, out *ConsentFacts) bool {
	lo, hi := b.find(k)
	kw := (b.len() + 3) >> 2
	return decide(b[1+kw+2*lo:1+kw+2*hi], ^uint64(0), pc, chBit, atS, out)
}

// find returns the range [lo, hi) of the records with line number k.
func (b block) find(k uint16) (lo, hi int) {
	cnt := b.len()
	lo, hi = 0, cnt
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if b.key(m) < k {
			lo = m + 1
		} else {
			hi = m
		}
	}
	hi = lo
	for hi < cnt && b.key(hi) == k {
		hi++
	}
	return lo, hi
}

// decide is Lookup over the records of one number, in cmpLine order, two
// words each in ws: the entry's word a (of which only the bits in aMask
// count) and its word b. It overwrites out.
func decide(ws []uint64, aMask, pc, chBit uint64, atS int64, out *ConsentFacts) bool {
	want := metaConsent | pc<<metaScopeShift | chBit
	const match = metaConsent | metaScopeMask | metaText
	rAll, rP := int64(-1), int64(-1)
	var best entry
	bestTier := 0
	for i := 1; i < len(ws); i += 2 {
		e := entry{ws[i-1] & aMask, ws[i]}
		if !e.isConsent() { // revocations come first
			t := e.at()
			rAll = max(rAll, t)
			if sc := e.scope(); sc == 0 || pc == 0 || sc == pc {
				rP = max(rP, t)
			}
			continue
		}
		if pc == 0 || e.a&match != want {
			continue
		}
		ob := e.at()
		if e.a&metaFrac != 0 && ob+1 > atS || ob > atS {
			continue // not given yet
		}
		exp := e.expires()
		var tier int
		switch {
		case ob <= rP:
			tier = 4
		case exp != 0 && atS >= exp:
			tier = 3
		case ob <= rAll:
			tier = 2
		default:
			tier = 1
		}
		if bestTier == 0 || tier < bestTier || (tier == bestTier && better(tier, e, best)) {
			best, bestTier = e, tier
		}
	}
	*out = ConsentFacts{}
	setUnix(&out.RevokedAt, rAll)
	setUnix(&out.PurposeRevokedAt, rP)
	if bestTier != 0 {
		out.ID, out.Kind = best.id(), best.kind()
		setUnix(&out.ObtainedAt, best.at())
		if x := best.expires(); x != 0 {
			setUnix(&out.ExpiresAt, x)
		}
	}
	return bestTier != 0
}

// decideOne is decide for a number with one record, whose words are a
// (of which only the bits in aMask count) and b.
func decideOne(a, b, aMask, pc, chBit uint64, atS int64, out *ConsentFacts) bool {
	e := entry{a & aMask, b}
	*out = ConsentFacts{}
	t := e.at()
	if !e.isConsent() {
		setUnix(&out.RevokedAt, t)
		if sc := e.scope(); sc == 0 || pc == 0 || sc == pc {
			setUnix(&out.PurposeRevokedAt, t)
		}
		return false
	}
	const match = metaConsent | metaScopeMask | metaText
	if pc == 0 || e.a&match != metaConsent|pc<<metaScopeShift|chBit || e.a&metaFrac != 0 && t+1 > atS || t > atS {
		return false // no match, or not given yet
	}
	out.ID, out.Kind = e.id(), e.kind()
	setUnix(&out.ObtainedAt, t)
	if x := e.expires(); x != 0 {
		setUnix(&out.ExpiresAt, x)
	}
	return true
}

// better reports whether consent x is preferable to consent y within a
// preference group.
func better(tier int, x, y entry) bool {
	if tier <= 2 {
		if kx, ky := x.a&metaPEWC, y.a&metaPEWC; kx != ky {
			return kx > ky
		}
	}
	if x.at() != y.at() {
		return x.at() > y.at()
	}
	if ex, ey := x.expires(), y.expires(); tier <= 2 && ex != ey {
		return ex == 0 || (ey != 0 && ex > ey)
	}
	return x.id() > y.id()
}

// Apply returns a new snapshot holding s's records and records, and leaves
// s unchanged. It copies only the parts of s that the records touch, so a
// single record costs microseconds whatever the snapshot's size; once an
// eighth of an area code's blocks have been replaced so, it also lays the
// area code's blocks out again together (see npaDir.repack), which costs
// about a millisecond per 10 MB of the area code's blocks. Records already
// held, and records the index cannot use (see Record), are skipped. When
// nothing changes it returns s.
func (s *Snapshot) Apply(records ...Record) *Snapshot {
	if s == nil {
		s = emptySnapshot
	}
	seq := s.seq
	ps := make([]pending, 0, len(records))
	for i := range records {
		seq = max(seq, records[i].Seq)
		if n, e, ok := pack(&records[i]); ok {
			ps = append(ps, pending{n, e})
		}
	}
	if len(ps) == 0 && seq == s.seq {
		return s
	}
	slices.SortFunc(ps, cmpPending)
	ns := *s
	ns.seq = seq
	var (
		own     [npaCount]bool // directories already copied into ns
		touched []uint64       // their area codes
	)
	changed := seq != s.seq
	pl := planners.Get().(*planner)
	defer planners.Put(pl)
	buf := pl.lines[:0]
	defer func() { pl.lines = buf[:0] }()
	for len(ps) > 0 {
		prefix := ps[0].n / 10_000
		j := 1
		for j < len(ps) && ps[j].n/10_000 == prefix {
			j++
		}
		group := ps[:j]
		ps = ps[j:]
		npa, nxx := prefix/1000, prefix%1000
		var (
			oldE dirEntry
			oldB unsafe.Pointer
		)
		if d := ns.npa[npa]; d != nil {
			if oldE = d.ent[nxx]; oldE.class() != 0 {
				oldB = d.blockAt(nxx, oldE)
			}
		}
		buf = blockLines(buf[:0], oldE, oldB)
		before, oldLines := len(buf), countLines(buf)
		for _, p := range group {
			buf = append(buf, line{uint16(p.n % 10_000), p.e})
		}
		slices.SortFunc(buf, cmpLine)
		buf = slices.Compact(buf)
		if len(buf) == before {
			continue // only duplicates
		}
		changed = true
		plan := pl.plan(buf)
		nb := newLines(plan.words)
		pl.write(nb, buf, plan)
		if !own[npa] {
			d := new(npaDir)
			if od := ns.npa[npa]; od != nil {
				*d = *od
				d.ext = slices.Clone(od.ext)
			} else {
				// No blocks of its own yet: class-0 entries' base for
				// LookupBatch's prefetch (see batch.locate).
				d.base = unsafe.Pointer(&emptyLine)
				ns.bytes += sizeofDir
			}
			ns.npa[npa], own[npa] = d, true
			touched = append(touched, npa)
		}
		d := ns.npa[npa]
		if oldE.class() == 0 {
			d.blocks++
		}
		if oldE.off() != extOff {
			ns.bytes += sizeofExt
		}
		d.setExt(nxx, unsafe.Pointer(unsafe.SliceData(nb)))
		d.ent[nxx] = makeEntry(plan.class, plan.seed, extOff)
		ns.records += len(buf) - before
		ns.numbers += countLines(buf) - oldLines
		ns.bytes += int64(plan.words)*8 - blockBytes(oldE, oldB)
	}
	if !changed {
		return s
	}
	for _, npa := range touched {
		if d := ns.npa[npa]; len(d.ext) > 8+d.blocks/8 {
			ns.bytes -= int64(len(d.ext)) * sizeofExt
			if !d.repack() {
				ns.bytes += int64(len(d.ext)) * sizeofExt
			}
		}
	}
	return &ns
}

// repack lays the blocks of d out again in one array of their own, and
// reports whether it could. Apply calls it once an eighth of the blocks are
// on their own: lookups of such blocks cost more (they are not on huge
// pages, and LookupBatch finds them by a branch that is cheap only while it
// is rarely taken), and repacking then keeps them few for a copy of a few
// times the blocks applied.
func (d *npaDir) repack() bool {
	words := 0
	for nxx, e := range d.ent {
		if e.class() != 0 {
			words += int(blockBytes(e, d.blockAt(uint64(nxx), e)) / 8)
		}
	}
	if words/lineWords >= extOff {
		return false
	}
	arena := newLines(words)
	pos := 0
	for nxx, e := range d.ent {
		if e.class() == 0 {
			continue
		}
		b := d.blockAt(uint64(nxx), e)
		w := int(blockBytes(e, b) / 8)
		copy(arena[pos:pos+w], unsafe.Slice((*uint64)(b), w))
		d.ent[nxx] = makeEntry(e.class(), e.seed(), uint32(pos/lineWords))
		pos += w
	}
	d.base, d.ext = unsafe.Pointer(unsafe.SliceData(arena)), nil
	return true
}

// Builder collects records for a new Snapshot without keeping the Records
// themselves: each costs 24 bytes until Build. The zero Builder is ready to
// use; a Builder is not safe for concurrent use.
type Builder struct {
	ps  []pending
	seq int64
	// offLimit, when not 0, lowers the largest offset of a block from its
	// directory's base below extOff, for tests.
	offLimit int
}

// Add adds one record. Records the index cannot use are skipped.
func (b *Builder) Add(r Record) {
	b.seq = max(b.seq, r.Seq)
	if n, e, ok := pack(&r); ok {
		b.ps = append(b.ps, pending{n, e})
	}
}

// Len returns the number of records added so far, duplicates included.
func (b *Builder) Len() int { return len(b.ps) }

// exchangeLines appends to dst the distinct lines of the exchange whose
// records start ps, sorted by cmpPending, and returns them and the rest of
// ps.
func exchangeLines(dst []line, ps []pending) ([]line, []pending) {
	prefix := ps[0].n / 10_000
	j := 0
	for ; j < len(ps) && ps[j].n/10_000 == prefix; j++ {
		if j == 0 || ps[j] != ps[j-1] {
			dst = append(dst, line{uint16(ps[j].n % 10_000), ps[j].e})
		}
	}
	return dst, ps[j:]
}

// Build returns a snapshot of the records added, at change sequence number
// seq (or the largest Seq among the records, if greater), and resets the
// builder.
func (b *Builder) Build(seq int64) *Snapshot {
	ps := b.ps
	s := &Snapshot{seq: max(seq, b.seq), bytes: sizeofSnapshot}
	limit := extOff - 1
	if b.offLimit > 0 {
		limit = b.offLimit
	}
	b.ps, b.seq, b.offLimit = nil, 0, 0
	slices.SortFunc(ps, cmpPending)
	// First the layout of every block, to size the arrays. The blocks share
	// one array, and the directories another, both backed by huge pages
	// where the kernel allows: lookups go to random places in them, and
	// with small pages most would miss the TLB.
	var (
		buf   []line
		pl    planner
		plans []blockPlan
	)
	words, dirs := 0, 0
	lastNPA := uint64(npaCount)
	for rest := ps; len(rest) > 0; {
		if npa := rest[0].n / 10_000_000; npa != lastNPA {
			dirs++
			lastNPA = npa
		}
		buf, rest = exchangeLines(buf[:0], rest)
		plan := pl.plan(buf)
		plans = append(plans, plan)
		words += plan.words
	}
	arena := newLines(words)
	blocks := arena
	dnc.AdviseHuge(unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(arena))), len(arena)*8))
	dirArena := make([]npaDir, dirs)
	if dirs > 0 {
		dnc.AdviseHuge(unsafe.Slice((*byte)(unsafe.Pointer(&dirArena[0])), dirs*int(sizeofDir)))
	}
	dirList := dirArena
	var d *npaDir
	lastNPA = npaCount
	baseAt := 0 // where in blocks d.base is
	for i := 0; len(ps) > 0; i++ {
		npa, nxx := ps[0].n/10_000_000, ps[0].n/10_000%1000
		buf, ps = exchangeLines(buf[:0], ps)
		plan := plans[i]
		pl.replan(buf, plan)
		if npa != lastNPA {
			d = &dirArena[0]
			dirArena = dirArena[1:]
			s.npa[npa] = d
			s.bytes += sizeofDir
			d.base = unsafe.Pointer(unsafe.SliceData(arena))
			baseAt = len(blocks) - len(arena)
			lastNPA = npa
		}
		mem := arena[:plan.words:plan.words]
		arena = arena[plan.words:]
		off := (len(blocks) - len(arena) - plan.words - baseAt) / lineWords
		if off > limit {
			// Too far from the directory's base: a block of its own.
			mem = newLines(plan.words)
			d.setExt(nxx, unsafe.Pointer(unsafe.SliceData(mem)))
			s.bytes += sizeofExt
			off = extOff
		}
		pl.write(mem, buf, plan)
		d.ent[nxx] = makeEntry(plan.class, plan.seed, uint32(off))
		d.blocks++
		s.records += len(buf)
		s.numbers += countLines(buf)
		s.bytes += int64(plan.words) * 8
	}
	// Memory the heap reused is on small pages whatever AdviseHuge said.
	dnc.CollapseHuge(unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(blocks))), len(blocks)*8))
	if len(dirList) > 0 {
		dnc.CollapseHuge(unsafe.Slice((*byte)(unsafe.Pointer(&dirList[0])), len(dirList)*int(sizeofDir)))
	}
	return s
}

// Index holds the current Snapshot behind an atomic pointer: lookups load
// it and read, taking no lock and allocating nothing, while Apply and
// Replace build a new snapshot and swap it in. Writers are serialised among
// themselves. The zero Index is empty and ready to use.
type Index struct {
	mu  sync.Mutex // serialises writers
	cur atomic.Pointer[Snapshot]
}

// NewIndex returns an index holding s (an empty snapshot when s is nil).
func NewIndex(s *Snapshot) *Index {
	x := &Index{}
	if s != nil {
		x.cur.Store(s)
	}
	return x
}

// Snapshot returns the current snapshot. Lookups on one snapshot agree with
// each other even while writers install new ones.
func (x *Index) Snapshot() *Snapshot {
	if s := x.cur.Load(); s != nil {
		return s
	}
	return emptySnapshot
}

// Lookup looks n up in the current snapshot; see Snapshot.Lookup.
func (x *Index) Lookup(n uint64, p Purpose, ch Channel, at time.Time, out *ConsentFacts) bool {
	return x.Snapshot().Lookup(n, p, ch, at, out)
}

// Apply installs a snapshot with records added to the current one, and
// returns it.
func (x *Index) Apply(records ...Record) *Snapshot {
	x.mu.Lock()
	defer x.mu.Unlock()
	s := x.Snapshot().Apply(records...)
	x.cur.Store(s)
	return s
}

// Replace installs s as the current snapshot (an empty one when s is nil),
// for example after a full reload from the ledger.
func (x *Index) Replace(s *Snapshot) {
	if s == nil {
		s = emptySnapshot
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	x.cur.Store(s)
}

package consent

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/require"
)

// refSeconds is the reference's reading of a record time as whole Unix
// seconds, clamped to what the index holds, and whether it has a fraction.
func refSeconds(t time.Time) (int64, bool) {
	u := t.Unix()
	if u < 0 {
		return 0, false
	}
	if u > math.MaxUint32 {
		return math.MaxUint32, false
	}
	return u, t.Nanosecond() != 0
}

var refScopes = map[Purpose]int{PurposeInformational: 1, PurposeTelemarketing: 2, PurposeDebtCollection: 3, PurposeSolicitation: 4}

// refUsable reports whether the index keeps r, as Record documents it.
func refUsable(r *Record) bool {
	if r.Number == 0 || r.Number >= nanpLimit || r.ID < 0 || r.ID > maxRecordID {
		return false
	}
	switch r.Type {
	case RecordConsent:
		return refScopes[r.Scope] != 0 && (r.Kind == ConsentPEC || r.Kind == ConsentPEWC) && !r.At.IsZero() &&
			(r.Channel == ChannelVoice || r.Channel == ChannelText)
	case RecordRevocation:
		return true
	}
	return false
}

// refLookup is Lookup written from its documentation, by brute force over
// the records of n: the reference the index is checked against.
func refLookup(recs []Record, n uint64, p Purpose, ch Channel, at time.Time) (ConsentFacts, bool) {
	var f ConsentFacts
	pc := refScopes[p]
	if ch != ChannelVoice && ch != ChannelText {
		pc = 0
	}
	atS := at.Unix()
	rAll, rP := int64(-1), int64(-1)
	for i := range recs {
		r := &recs[i]
		if r.Number != n || r.Type != RecordRevocation || !refUsable(r) {
			continue
		}
		t := int64(math.MaxUint32) // no time: beats every consent
		if !r.At.IsZero() {
			t, _ = refSeconds(r.At)
		}
		rAll = max(rAll, t)
		if sc := refScopes[r.Scope]; sc == 0 || pc == 0 || sc == pc {
			rP = max(rP, t)
		}
	}
	type cand struct {
		group   int
		pewc    bool
		ob, exp int64
		id      int64
	}
	var best *cand
	for i := range recs {
		r := &recs[i]
		if r.Number != n || r.Type != RecordConsent || !refUsable(r) {
			continue
		}
		if pc == 0 || refScopes[r.Scope] != pc || r.Channel != ch {
			continue
		}
		ob, frac := refSeconds(r.At)
		if from := ob + map[bool]int64{false: 0, true: 1}[frac]; from > atS {
			continue // given after the call
		}
		c := cand{pewc: r.Kind == ConsentPEWC, ob: ob, id: r.ID}
		if !r.ExpiresAt.IsZero() {
			c.exp, _ = refSeconds(r.ExpiresAt)
			c.exp = max(c.exp, 1)
		}
		switch {
		case ob <= rP:
			c.group = 4 // revoked
		case c.exp != 0 && atS >= c.exp:
			c.group = 3 // expired
		case ob <= rAll:
			c.group = 2 // in force, but revoked for another purpose
		default:
			c.group = 1
		}
		if best == nil || refPrefer(c.group, c.pewc, c.ob, c.exp, c.id, best.group, best.pewc, best.ob, best.exp, best.id) {
			best = &c
		}
	}
	if rAll >= 0 {
		f.RevokedAt = time.Unix(rAll, 0).UTC()
	}
	if rP >= 0 {
		f.PurposeRevokedAt = time.Unix(rP, 0).UTC()
	}
	if best == nil {
		return f, false
	}
	f.ID = best.id
	f.Kind = map[bool]ConsentKind{false: ConsentPEC, true: ConsentPEWC}[best.pewc]
	f.ObtainedAt = time.Unix(best.ob, 0).UTC()
	if best.exp != 0 {
		f.ExpiresAt = time.Unix(best.exp, 0).UTC()
	}
	return f, true
}

// refPrefer reports whether consent x is preferred to consent y: the lower
// group, then within groups 1 and 2 the stronger kind, then the later
// obtained_at, then within groups 1 and 2 the later expiry (none is
// latest), then the higher id.
func refPrefer(gx int, pewcX bool, obX, expX, idX int64, gy int, pewcY bool, obY, expY, idY int64) bool {
	if gx != gy {
		return gx < gy
	}
	if gx <= 2 && pewcX != pewcY {
		return pewcX
	}
	if obX != obY {
		return obX > obY
	}
	if gx <= 2 && expX != expY {
		later := func(e int64) int64 {
			if e == 0 {
				return math.MaxInt64
			}
			return e
		}
		return later(expX) > later(expY)
	}
	return idX > idY
}

// randomLedger makes records over a few area codes: most exchanges sparse,
// some dense enough for many buckets and overflow blocks, one too large
// for buckets; some numbers with many records, some ids too large for a
// bucket slot, and times that tie with each other and with the calls.
type randomLedger struct {
	rng     *rand.Rand
	base    time.Time
	nextID  int64
	numbers []uint64 // numbers with records
}

func (g *randomLedger) at() time.Time {
	t := g.base.Add(time.Duration(g.rng.IntN(40)) * time.Second)
	if g.rng.IntN(5) == 0 {
		t = t.Add(time.Duration(1 + g.rng.IntN(999_999_999)))
	}
	if g.rng.IntN(50) == 0 {
		t = g.base.Add(-time.Duration(g.rng.IntN(1000)) * time.Hour)
	}
	return t
}

func (g *randomLedger) id() int64 {
	g.nextID++
	switch g.rng.IntN(40) {
	case 0:
		return maxSlotID + int64(g.rng.IntN(3)) // around the largest a slot holds
	case 1:
		return maxRecordID - int64(g.rng.IntN(3))
	case 2:
		return 0
	}
	return g.nextID
}

// record makes a record for n: a consent, mostly, or a revocation.
func (g *randomLedger) record(n uint64) Record {
	rng := g.rng
	r := Record{ID: g.id(), Seq: g.nextID, Number: n, At: g.at()}
	if rng.IntN(4) == 0 {
		r.Type = RecordRevocation
		if rng.IntN(3) == 0 {
			r.Scope = modelPurposes[rng.IntN(len(modelPurposes))]
		}
		if rng.IntN(30) == 0 {
			r.At = time.Time{} // beats every consent
		}
		return r
	}
	r.Type, r.Kind = RecordConsent, ConsentKind(1+rng.IntN(2))
	r.Scope = modelPurposes[rng.IntN(2)]
	if rng.IntN(5) == 0 {
		r.Scope = modelPurposes[rng.IntN(len(modelPurposes))]
	}
	r.Channel = modelChannels[rng.IntN(2)]
	if rng.IntN(4) == 0 {
		r.ExpiresAt = r.At.Add(time.Duration(rng.IntN(30)-2) * time.Second)
	}
	if rng.IntN(40) == 0 { // unusable
		r.Kind = ConsentNone
	}
	return r
}

// ledger makes about n records over exchanges of every density.
func (g *randomLedger) ledger(n int) []Record {
	rng := g.rng
	var recs []Record
	// Exchanges: the first is too large for buckets, then a few dense
	// ones, then many sparse ones; area code 212 holds most of them.
	type exch struct {
		prefix uint64
		lines  int
	}
	exs := []exch{{860555, 6500}}
	for i := range 6 {
		exs = append(exs, exch{212550 + uint64(i), 40 + rng.IntN(400)})
	}
	for i := range 300 {
		exs = append(exs, exch{uint64(200+rng.IntN(3))*1000 + uint64(200+i%800), 1 + rng.IntN(12)})
	}
	for len(recs) < n {
		x := exs[min(rng.IntN(len(exs)+40), len(exs)-1)]
		if rng.IntN(8) == 0 {
			x = exs[rng.IntN(7)]
		}
		num := x.prefix*10_000 + uint64(rng.IntN(x.lines))%10_000
		if x.lines > 1000 {
			num = x.prefix*10_000 + uint64(rng.IntN(10_000))
		}
		k := 1
		switch rng.IntN(20) {
		case 0:
			k = 5 + rng.IntN(4) // too many for a bucket
		case 1, 2, 3:
			k = 2 + rng.IntN(3)
		}
		for range k {
			recs = append(recs, g.record(num))
		}
		g.numbers = append(g.numbers, num)
	}
	// The first exchange alone holds enough records to be too large.
	for i := range 6000 {
		num := 8605550000 + uint64(i*7919%10_000)
		recs = append(recs, g.record(num))
		g.numbers = append(g.numbers, num)
	}
	return recs
}

// queries makes queries for numbers with records, numbers without in
// exchanges with records, empty exchanges and area codes, and numbers out
// of range, at moments around the records'.
func (g *randomLedger) queries(n int) []Query {
	rng := g.rng
	purposes := append([]Purpose{"", "unknown"}, modelPurposes...)
	qs := make([]Query, n)
	for i := range qs {
		q := &qs[i]
		switch x := rng.IntN(20); {
		case x == 0:
			q.Number = nanpLimit + uint64(rng.IntN(3))
		case x == 1:
			q.Number = math.MaxUint64 - uint64(rng.IntN(3))
		case x == 2:
			q.Number = uint64(rng.IntN(nanpLimit))
		case x < 8:
			q.Number = g.numbers[rng.IntN(len(g.numbers))]/10_000*10_000 + uint64(rng.IntN(10_000))
		default:
			q.Number = g.numbers[rng.IntN(len(g.numbers))]
		}
		if rng.IntN(4) == 0 {
			q.Purpose = purposes[rng.IntN(len(purposes))]
		} else {
			q.Purpose = modelPurposes[0] // a run of the same purpose, as pacing batches have
		}
		q.At = g.base.Add(time.Duration(rng.IntN(45)-3) * time.Second)
		if rng.IntN(3) == 0 {
			q.At = q.At.Add(time.Duration(rng.IntN(1_000_000_000)))
		}
	}
	return qs
}

// checkAgainstReference checks Lookup and LookupBatch on s against the
// reference over recs, for qs.
func checkAgainstReference(t *testing.T, s *Snapshot, recs []Record, qs []Query, ch Channel, msg string) {
	t.Helper()
	byNumber := map[uint64][]Record{}
	for _, r := range recs {
		byNumber[r.Number] = append(byNumber[r.Number], r)
	}
	for i, q := range qs {
		want, wantOK := refLookup(byNumber[q.Number], q.Number, q.Purpose, ch, q.At)
		var got ConsentFacts
		ok := s.Lookup(q.Number, q.Purpose, ch, q.At, &got)
		require.Equalf(t, want, got, "%s: query %d %+v channel %s: records %+v", msg, i, q, ch, byNumber[q.Number])
		require.Equalf(t, wantOK, ok, "%s: query %d %+v", msg, i, q)
	}
	requireBatchMatches(t, s, qs, ch, msg)
	// In pacing batches of 128 too.
	got := make([]ConsentFacts, len(qs))
	found := make([]bool, len(qs))
	for lo := 0; lo < len(qs); lo += 128 {
		hi := min(lo+128, len(qs))
		s.LookupBatch(qs[lo:hi], ch, got[lo:hi], found[lo:hi])
	}
	for i, q := range qs {
		want, wantOK := refLookup(byNumber[q.Number], q.Number, q.Purpose, ch, q.At)
		require.Equalf(t, want, got[i], "%s: batch of 128, query %d %+v", msg, i, q)
		require.Equalf(t, wantOK, found[i], "%s: batch of 128, query %d %+v", msg, i, q)
	}
}

// snapshotShape counts the exchanges of s by block format, and the buckets
// with an overflow block, so that the test can tell it covered them all.
func snapshotShape(s *Snapshot) (buckets, sorted, own, overflows int) {
	for _, d := range s.npa {
		if d == nil {
			continue
		}
		for nxx, e := range d.ent {
			c := e.class()
			if c == 0 {
				continue
			}
			if e.off() == extOff {
				own++
			}
			if c == classSorted {
				sorted++
				continue
			}
			buckets++
			b := d.blockAt(uint64(nxx), e)
			for j := range classBuckets[c] {
				if overflowOf(bucketAt(b, j)) != 0 {
					overflows++
				}
			}
		}
	}
	return buckets, sorted, own, overflows
}

// TestIndexMatchesReference checks Lookup and LookupBatch against a brute
// force reference over many records in exchanges of every density (every
// block format), and again after applying revocations, re-consents and
// new numbers, on the new snapshot and on the old one.
func TestIndexMatchesReference(t *testing.T) {
	t.Parallel()
	for _, seed := range []uint64{1, 2, 3} {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			t.Parallel()
			g := &randomLedger{rng: rand.New(rand.NewPCG(seed, 99)), base: indexBase}
			recs := g.ledger(20_000)
			var b Builder
			for _, r := range recs {
				b.Add(r)
			}
			if seed == 3 {
				b.offLimit = 3 // most blocks on their own
			}
			s := b.Build(0)
			nb, ns, own, ovf := snapshotShape(s)
			t.Logf("%d records, %d numbers, %d bucket blocks, %d sorted, %d on their own, %d overflow blocks, %d bytes",
				s.Len(), s.Numbers(), nb, ns, own, ovf, s.Bytes())
			require.Positive(t, nb)
			require.Positive(t, ns)
			require.Positive(t, ovf)
			if seed == 3 {
				require.Positive(t, own)
			}
			for _, ch := range []Channel{ChannelVoice, ChannelText, "fax"} {
				checkAgainstReference(t, s, recs, g.queries(3000), ch, fmt.Sprintf("built, channel %s", ch))
			}
			// Apply revocations and re-consents to numbers with records,
			// and records of new numbers, in batches of every size.
			old, oldRecs := s, slices.Clone(recs)
			oldQs := g.queries(2000)
			for round := range 8 {
				var batch []Record
				for range 1 + g.rng.IntN([]int{1, 5, 300}[round%3]) {
					n := g.numbers[g.rng.IntN(len(g.numbers))]
					if g.rng.IntN(10) == 0 {
						n = uint64(200+g.rng.IntN(800))*10_000_000 + uint64(g.rng.IntN(10_000_000))
						g.numbers = append(g.numbers, n)
					}
					r := g.record(n)
					if g.rng.IntN(2) == 0 {
						r = Record{Type: RecordRevocation, ID: g.id(), Number: n, At: g.at()}
					}
					batch = append(batch, r)
					if g.rng.IntN(2) == 0 {
						re := g.record(n) // a re-consent, maybe in the revocation's second
						re.Type, re.Kind, re.Channel, re.Scope = RecordConsent, ConsentPEWC, ChannelVoice, PurposeInformational
						re.At = r.At.Add(time.Duration(g.rng.IntN(3)) * time.Second)
						if r.At.IsZero() {
							re.At = g.at()
						}
						batch = append(batch, re)
					}
				}
				if round == 5 {
					batch = append(batch, recs[:50]...) // duplicates change nothing
				}
				s = s.Apply(batch...)
				recs = append(recs, batch...)
				checkAgainstReference(t, s, recs, g.queries(1500), []Channel{ChannelVoice, ChannelText}[round%2], fmt.Sprintf("round %d", round))
			}
			checkAgainstReference(t, old, oldRecs, oldQs, ChannelVoice, "the snapshot applied to")
			// The same records built at once give the same counts.
			full := NewSnapshot(0, recs...)
			require.Equal(t, full.Len(), s.Len())
			require.Equal(t, full.Numbers(), s.Numbers())
		})
	}
}

// TestIndexBucketLayout checks the bucket format on exchanges of every
// size: every record is found where the directory says, each bucket
// holds at most four records with its overflow pointer, and the records
// unpack to what went in.
func TestIndexBucketLayout(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(5, 6))
	var pl planner
	for _, size := range []int{1, 2, 4, 5, 9, 30, 100, 1000, 5000, 6000, 20_000} {
		var ls []line
		for range size {
			e := entry{uint64(rng.IntN(1000)), uint64(rng.Uint32())}
			if rng.IntN(10) == 0 {
				e.a = maxSlotID + uint64(rng.IntN(2))
			}
			e.a |= uint64(rng.IntN(128)) << 57
			ls = append(ls, line{uint16(rng.IntN(10_000)), e})
		}
		slices.SortFunc(ls, cmpLine)
		ls = slices.Compact(ls)
		plan := pl.plan(ls)
		mem := newLines(plan.words)
		pl.write(mem, ls, plan)
		b := unsafe.Pointer(unsafe.SliceData(mem))
		e := makeEntry(plan.class, plan.seed, 0)
		got := blockLines(nil, e, b)
		require.Equal(t, ls, got, "size %d", size)
		require.Equal(t, int64(plan.words)*8, blockBytes(e, b), "size %d", size)
		if plan.class == classSorted {
			require.Greater(t, size, 4000)
			continue
		}
		for j := range classBuckets[plan.class] {
			bk := bucketAt(b, j)
			used := 0
			for s := range 4 {
				if k := bk[2*s] & slotKeyMask >> slotKeyShift; k != emptyKey {
					used++
					if k != ovfKey {
						require.Equal(t, j, bucketOf(uint16(k), classBuckets[plan.class], plan.seed))
					}
				}
			}
			require.LessOrEqual(t, used, 4)
		}
		// Every record's number finds all its records.
		for _, l := range ls {
			bk := bucketAt(b, bucketOf(l.k, classBuckets[plan.class], plan.seed))
			var recs []uint64
			if m := probe(bk, l.k); m != 0 {
				for s := range 4 {
					if m>>s&1 != 0 {
						recs = append(recs, bk[2*s]&^slotKeyMask, bk[2*s+1])
					}
				}
			} else {
				ovf := overflowOf(bk)
				require.NotZero(t, ovf)
				sb := sortedAt(unsafe.Add(unsafe.Pointer(bk), ovf*8))
				lo, hi := sb.find(l.k)
				kw := (sb.len() + 3) >> 2
				recs = sb[1+kw+2*lo : 1+kw+2*hi]
			}
			var want []uint64
			for _, x := range ls {
				if x.k == l.k {
					want = append(want, x.e.a, x.e.b)
				}
			}
			require.Equal(t, want, recs, "size %d line %d", size, l.k)
		}
	}
}

// TestSetUnix checks the direct construction of times against the time
// package's.
func TestSetUnix(t *testing.T) {
	t.Parallel()
	require.True(t, fastTimeOK, "time.Time is laid out as expected")
	for _, s := range []int64{-5, -1, 0, 1, 59, 86400, 1_000_000_000, 1_772_000_000, math.MaxUint32 - 1, math.MaxUint32} {
		var got time.Time
		setUnix(&got, s)
		want := time.Time{}
		if s >= 0 {
			want = time.Unix(s, 0).UTC()
		}
		require.Equal(t, want, got, "%d", s)
		require.True(t, want == got, "%d", s)
		if s >= 0 {
			require.Equal(t, s, got.Unix())
			require.Equal(t, time.UTC, got.Location())
			require.Equal(t, want.String(), got.String())
		}
	}
}

// TestApplyRepacks applies records to many exchanges of one area code, one
// at a time: the blocks Apply places on their own stay few, since it lays
// the area code out again, and every snapshot along the way answers as the
// reference does.
func TestApplyRepacks(t *testing.T) {
	t.Parallel()
	g := &randomLedger{rng: rand.New(rand.NewPCG(8, 9)), base: indexBase}
	var recs []Record
	for nxx := range 200 {
		for range 1 + g.rng.IntN(20) {
			recs = append(recs, g.record(2120000000+uint64(200+nxx)*10_000+uint64(g.rng.IntN(10_000))))
		}
	}
	s := NewSnapshot(0, recs...)
	first, firstRecs := s, slices.Clone(recs)
	maxOwn := 0
	for i := range 120 {
		n := 2120000000 + uint64(200+g.rng.IntN(250))*10_000 + uint64(g.rng.IntN(10_000))
		r := g.record(n)
		s = s.Apply(r)
		recs = append(recs, r)
		g.numbers = append(g.numbers, n)
		blocks, sorted, own, _ := snapshotShape(s)
		require.LessOrEqual(t, own, 8+(blocks+sorted)/8, "after %d records", i+1)
		maxOwn = max(maxOwn, own)
		if i%20 == 19 {
			checkAgainstReference(t, s, recs, g.queries(500), ChannelVoice, fmt.Sprintf("after %d records", i+1))
		}
	}
	require.Greater(t, maxOwn, 8, "the test reached a repack")
	g.numbers = nil
	for _, r := range firstRecs {
		g.numbers = append(g.numbers, r.Number)
	}
	checkAgainstReference(t, first, firstRecs, g.queries(500), ChannelVoice, "the first snapshot")
}

// TestSplitNumber checks splitNumber's divisions, for every prefix and the
// line numbers at its ends, and for random numbers.
func TestSplitNumber(t *testing.T) {
	t.Parallel()
	check := func(n uint64) {
		prefix, npa := splitNumber(n)
		if prefix != n/10_000 || npa != n/10_000_000 {
			t.Fatalf("splitNumber(%d) = %d, %d", n, prefix, npa)
		}
	}
	for p := uint64(0); p < nanpLimit/10_000; p++ {
		check(p * 10_000)
		check(p*10_000 + 9_999)
	}
	rng := rand.New(rand.NewPCG(10, 11))
	for range 1_000_000 {
		check(rng.Uint64N(nanpLimit))
	}
}

// TestPurposeSlots checks that every Purpose constant has a slot of its
// own, and that a batch finds the scope of a purpose by its slot, by its
// bytes when they are a copy, and for an unknown purpose or channel.
func TestPurposeSlots(t *testing.T) {
	t.Parallel()
	seen := map[Purpose]bool{}
	for _, c := range purposeSlots {
		if c.data != nil {
			seen[Purpose(unsafe.String(c.data, c.n))] = true
		}
	}
	require.Len(t, seen, 4)
	// A batch's purposes live as long as the batch: so do these.
	var copies []Purpose
	for _, ch := range []Channel{ChannelVoice, ChannelText, "fax"} {
		bt := batch{chOK: ch == ChannelVoice || ch == ChannelText}
		for _, p := range append(slices.Clone(modelPurposes), "", "marketing", "i") {
			want, _ := lookupScope(p, ch)
			require.Equal(t, want, bt.scope(p), "%q %s", p, ch)
			cp := Purpose(string(append([]byte(nil), p...))) // other bytes
			copies = append(copies, cp)
			require.Equal(t, want, bt.scope(cp), "copy of %q %s", p, ch)
			require.Equal(t, want, bt.scope(cp), "copy of %q %s, again", p, ch)
		}
	}
	runtime.KeepAlive(copies)
}

// TestOverflowFilter checks the absence filters of the overflow blocks of
// a dense exchange: no line number of a block is ever filtered out, most
// line numbers without records are, and a filter of zero (a slot written
// without one) still leads every lookup to the block.
func TestOverflowFilter(t *testing.T) {
	t.Parallel()
	g := &randomLedger{rng: rand.New(rand.NewPCG(12, 13)), base: indexBase}
	var recs []Record
	for range 4000 {
		recs = append(recs, g.record(2125550000+uint64(g.rng.IntN(10_000))))
	}
	s := NewSnapshot(0, recs...)
	d := s.npa[212]
	e := d.ent[555]
	require.NotEqual(t, uint32(classSorted), e.class())
	b := d.blockAt(555, e)
	nb := classBuckets[e.class()]
	held := map[uint16]bool{}
	for _, r := range recs {
		if refUsable(&r) {
			held[uint16(r.Number%10_000)] = true
		}
	}
	misses, filtered := 0, 0
	for k := range uint16(10_000) {
		bk := bucketAt(b, bucketOf(k, nb, e.seed()))
		if overflowOf(bk) == 0 || probe(bk, k) != 0 {
			continue
		}
		ov := sortedAt(unsafe.Add(unsafe.Pointer(bk), overflowOf(bk)*8))
		lo, hi := ov.find(k)
		if lo < hi {
			require.False(t, ovfAbsent(bk[6], k), "line %d is in its overflow block", k)
			continue
		}
		require.False(t, held[k], "line %d", k)
		misses++
		if ovfAbsent(bk[6], k) {
			filtered++
		}
	}
	t.Logf("%d line numbers without records in overflowing buckets, %d filtered out", misses, filtered)
	require.Greater(t, misses, 300)
	require.Greater(t, filtered, misses*3/4)

	// With every filter cleared, lookups read every overflow block and
	// answer the same.
	for j := range nb {
		if bk := bucketAt(b, j); overflowOf(bk) != 0 {
			bk[6] &^= ovfFilterMask
		}
	}
	g.numbers = []uint64{2125550000}
	for _, r := range recs {
		g.numbers = append(g.numbers, r.Number)
	}
	checkAgainstReference(t, s, recs, g.queries(3000), ChannelVoice, "filters cleared")
}

// TestOverflowFilterFollowsApply applies a consent, then a revocation, to
// numbers that an overflow block's filter leaves out: the very next lookup
// on the new snapshot sees each, and the snapshot applied to still answers
// as before.
func TestOverflowFilterFollowsApply(t *testing.T) {
	t.Parallel()
	g := &randomLedger{rng: rand.New(rand.NewPCG(14, 15)), base: indexBase}
	var recs []Record
	for range 3000 {
		r := g.record(2125550000 + uint64(g.rng.IntN(10_000)))
		r.ID = int64(len(recs) + 1) // ids a slot holds
		recs = append(recs, r)
	}
	s := NewSnapshot(0, recs...)
	// filteredLine returns a line number of exchange 212-555 that the
	// filter of its bucket's overflow block in s leaves out.
	filteredLine := func(s *Snapshot) uint64 {
		d := s.npa[212]
		e := d.ent[555]
		b := d.blockAt(555, e)
		for k := range uint16(10_000) {
			bk := bucketAt(b, bucketOf(k, classBuckets[e.class()], e.seed()))
			if overflowOf(bk) != 0 && probe(bk, k) == 0 && ovfAbsent(bk[6], k) {
				return 2125550000 + uint64(k)
			}
		}
		t.Fatal("no line number filtered out")
		return 0
	}
	at := indexBase.Add(time.Hour)
	lookup := func(s *Snapshot, n uint64) (ConsentFacts, bool) {
		out := make([]ConsentFacts, 1)
		found := make([]bool, 1)
		s.LookupBatch([]Query{{Number: n, Purpose: PurposeInformational, At: at}}, ChannelVoice, out, found)
		var one ConsentFacts
		require.Equal(t, found[0], s.Lookup(n, PurposeInformational, ChannelVoice, at, &one))
		require.Equal(t, out[0], one)
		return out[0], found[0]
	}

	n := filteredLine(s)
	_, found := lookup(s, n)
	require.False(t, found)
	c := Record{Type: RecordConsent, ID: 1 << 50, Number: n, Kind: ConsentPEWC, Scope: PurposeInformational,
		Channel: ChannelVoice, At: indexBase}
	s2 := s.Apply(c)
	f, found := lookup(s2, n)
	require.True(t, found, "the consent is seen by the next lookup")
	require.Equal(t, c.ID, f.ID)
	_, found = lookup(s, n)
	require.False(t, found, "the snapshot applied to is unchanged")

	m := filteredLine(s2)
	rev := Record{Type: RecordRevocation, ID: 1<<50 + 1, Number: m, At: indexBase.Add(time.Minute)}
	s3 := s2.Apply(rev)
	f, found = lookup(s3, m)
	require.False(t, found)
	require.Equal(t, rev.At.Unix(), f.RevokedAt.Unix(), "the revocation is seen by the next lookup")
	require.Equal(t, rev.At.Unix(), f.PurposeRevokedAt.Unix())
	f, _ = lookup(s2, m)
	require.True(t, f.RevokedAt.IsZero())
}

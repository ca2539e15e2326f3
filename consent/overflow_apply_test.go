package consent

import (
	"math/rand/v2"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/require"
)

// where tells where snapshot s keeps number n's records, as a lookup
// reads them: "" when its exchange has none, "bucket" when the number is
// in its bucket, "filtered" when its bucket's overflow block's absence
// filter stops the lookup, "overflow" when the lookup goes on to the
// overflow block, "none" when the bucket has no overflow block, and
// "sorted" for an exchange in a sorted block.
func where(s *Snapshot, n uint64) string {
	d := s.npa[n/10_000_000]
	if d == nil {
		return ""
	}
	nxx, k := n/10_000%1000, uint16(n%10_000)
	e := d.ent[nxx]
	switch e.class() {
	case 0:
		return ""
	case classSorted:
		return "sorted"
	}
	bk := bucketAt(d.blockAt(nxx, e), bucketOf(k, classBuckets[e.class()], e.seed()))
	switch {
	case probe(bk, k) != 0:
		return "bucket"
	case overflowOf(bk) == 0:
		return "none"
	case ovfAbsent(bk[6], k):
		return "filtered"
	}
	return "overflow"
}

// TestOverflowFilterUnderApply checks Lookup and LookupBatch against the
// reference after every one of a hundred and fifty live Applies to dense
// exchanges (few buckets, many records a bucket, so that many buckets
// overflow and numbers move between their bucket and its overflow block
// as the layout is redone), with records for line numbers 0 and 9,999,
// numbers of more than four records and ids too large for a slot, and
// many records (a revocation among them a quarter of the time) for
// numbers that the previous snapshot's absence filter left out. Area code
// 646 has no records when the snapshot is built: its directory is made by
// Apply (with emptyLine as its base) and repacked once enough of its
// exchanges have records (question 2 of the review: a directory's base
// before and after its first blocks). Each snapshot applied to must still
// answer as before.
func TestOverflowFilterUnderApply(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(22, 7))
	g := &randomLedger{rng: rng, base: indexBase}
	dense := []uint64{212555, 212556, 305555}
	sparse := make([]uint64, 0, 20)
	for x := range uint64(20) {
		sparse = append(sparse, 646200+x) // a new directory's exchanges
	}
	// Line numbers drawn from few, so that numbers collect records and
	// outgrow their buckets.
	lines := make([]uint64, 0, 400)
	lines = append(lines, 0, 9999)
	for len(lines) < cap(lines) {
		lines = append(lines, uint64(rng.IntN(10_000)))
	}
	number := func(exchanges []uint64) uint64 {
		return exchanges[rng.IntN(len(exchanges))]*10_000 + lines[rng.IntN(len(lines))]
	}
	var recs []Record
	for range 1500 {
		recs = append(recs, g.record(number(dense)))
	}
	s := NewSnapshot(0, recs...)
	d0 := s.npa[646]
	require.Nil(t, d0, "646 has no directory when built")

	has := map[uint64]bool{}
	for _, r := range recs {
		has[r.Number] = true
	}
	queries := func() []Query {
		var qs []Query
		add := func(n uint64) {
			p := modelPurposes[rng.IntN(len(modelPurposes))]
			qs = append(qs, Query{Number: n, Purpose: p, At: indexBase.Add(time.Duration(rng.IntN(45)-3) * time.Second)})
		}
		for n := range has {
			add(n)
		}
		for _, x := range append(append([]uint64{}, dense...), sparse...) {
			add(x*10_000 + 0)
			add(x*10_000 + 9999)
			for range 20 {
				add(x*10_000 + uint64(rng.IntN(10_000)))
			}
		}
		rng.Shuffle(len(qs), func(i, j int) { qs[i], qs[j] = qs[j], qs[i] })
		return qs
	}
	checkAgainstReference(t, s, recs, queries(), ChannelVoice, "built")

	var (
		filteredThenHeld, revokedWhileFiltered int
		moves                                  = map[[2]string]int{}
		repacked                               bool
	)
	prev, prevRecs := s, recs
	for step := range 150 {
		var batch []Record
		for range 1 + rng.IntN(6) {
			var n uint64
			switch x := rng.IntN(10); {
			case x < 4:
				// A number the current snapshot's filter leaves out, when
				// one can be found quickly.
				for range 200 {
					c := dense[rng.IntN(len(dense))]*10_000 + uint64(rng.IntN(10_000))
					if where(s, c) == "filtered" {
						n = c
						break
					}
				}
				if n == 0 {
					n = number(dense)
				}
			case x < 7:
				n = number(dense)
			default:
				n = number(sparse)
			}
			r := g.record(n)
			if where(s, n) == "filtered" {
				filteredThenHeld++
				if r.Type == RecordRevocation {
					revokedWhileFiltered++
				}
			}
			batch = append(batch, r)
		}
		before := map[uint64]string{}
		for n := range has {
			before[n] = where(s, n)
		}
		ns := s.Apply(batch...)
		recs = append(recs[:len(recs):len(recs)], batch...)
		for _, r := range batch {
			has[r.Number] = true
		}
		for n, w := range before {
			if a := where(ns, n); a != w {
				moves[[2]string{w, a}]++
			}
		}
		if d := ns.npa[646]; d != nil && d.base != unsafe.Pointer(&emptyLine) && len(d.ext) == 0 {
			repacked = true
		}
		checkAgainstReference(t, ns, recs, queries(), ChannelVoice, "after apply")
		if step%25 == 0 {
			// The snapshot applied to is unchanged.
			checkAgainstReference(t, prev, prevRecs, queries(), ChannelVoice, "an earlier snapshot")
			prev, prevRecs = ns, recs
		}
		s = ns
	}
	_, _, _, overflows := snapshotShape(s)
	t.Logf("overflowing buckets %d; records for filtered numbers %d (%d revocations); moves %v; 646 repacked %v",
		overflows, filteredThenHeld, revokedWhileFiltered, moves, repacked)
	require.Positive(t, overflows)
	require.Positive(t, revokedWhileFiltered, "revocations for numbers the filter left out")
	require.Positive(t, moves[[2]string{"bucket", "overflow"}], "numbers moved from their bucket to its overflow block")
	require.Positive(t, moves[[2]string{"overflow", "bucket"}], "numbers moved from an overflow block to their bucket")
	require.True(t, repacked, "646's directory was repacked")
}

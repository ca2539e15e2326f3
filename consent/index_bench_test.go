package consent_test

import (
	"flag"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/consent"
	"github.com/heed-dialer/heed/internal/cputime"
)

var benchRecords = flag.Int("consent.records", 10_000_000, "consent records in the index benchmarks")

var benchAt = time.Date(2026, 6, 10, 16, 0, 0, 0, time.UTC)

// randomNumber returns a number in one of 300 area codes.
func randomNumber(rng *rand.Rand, npas []uint64) uint64 {
	return npas[rng.IntN(len(npas))]*10_000_000 + uint64(200+rng.IntN(800))*10_000 + uint64(rng.IntN(10_000))
}

// buildIndex builds a snapshot of n records: consents of every kind, scope
// and channel over random numbers, a tenth of them with an expiry, and a
// revocation for one number in twenty. It returns the snapshot, the numbers
// it holds, the area codes used and the heap the snapshot takes.
func buildIndex(n int) (*consent.Snapshot, []uint64, []uint64, uint64) {
	rng := rand.New(rand.NewPCG(11, 12))
	npas := make([]uint64, 300)
	for i := range npas {
		npas[i] = uint64(200 + rng.IntN(800))
	}
	purposes := []consent.Purpose{consent.PurposeInformational, consent.PurposeTelemarketing, consent.PurposeDebtCollection, consent.PurposeSolicitation}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	var b consent.Builder
	held := make([]uint64, 0, 1<<16)
	for i := range n {
		num := randomNumber(rng, npas)
		if len(held) < cap(held) {
			held = append(held, num)
		}
		at := benchAt.Add(-time.Duration(rng.IntN(5*365*24)) * time.Hour)
		if i%20 == 19 {
			b.Add(consent.Record{Type: consent.RecordRevocation, ID: int64(i + 1), Number: num, At: at})
			continue
		}
		r := consent.Record{Type: consent.RecordConsent, ID: int64(i + 1), Number: num, Kind: consent.ConsentKind(1 + i%2),
			Scope: purposes[i%4], Channel: consent.ChannelVoice, At: at}
		if i%7 == 0 {
			r.Channel = consent.ChannelText
		}
		if i%10 == 0 {
			r.ExpiresAt = at.AddDate(2, 0, 0)
		}
		b.Add(r)
	}
	s := b.Build(int64(n))
	runtime.GC()
	runtime.ReadMemStats(&after)
	heap := uint64(0)
	if after.HeapAlloc > before.HeapAlloc {
		heap = after.HeapAlloc - before.HeapAlloc - uint64(cap(held))*8
	}
	return s, held, npas, heap
}

var bigIndex = sync.OnceValues(func() (*consent.Snapshot, []uint64) {
	s, held, npas, _ := buildIndex(*benchRecords)
	// Half the queries hit a number with records, half miss.
	rng := rand.New(rand.NewPCG(13, 14))
	qs := make([]uint64, 1<<16)
	for i := range qs {
		if i%2 == 0 {
			qs[i] = held[rng.IntN(len(held))]
		} else {
			qs[i] = randomNumber(rng, npas)
		}
	}
	return s, qs
})

// BenchmarkIndexBuild builds the index of -consent.records records and
// reports its size in bytes per record, as the heap measures it and as
// Snapshot.Bytes estimates it.
func BenchmarkIndexBuild(b *testing.B) {
	for b.Loop() {
		start := time.Now()
		s, _, _, heap := buildIndex(*benchRecords)
		b.ReportMetric(float64(heap)/float64(s.Len()), "heap-B/record")
		b.ReportMetric(float64(s.Bytes())/float64(s.Len()), "B/record")
		b.ReportMetric(float64(s.Len()), "records")
		b.ReportMetric(time.Since(start).Seconds(), "build-s")
	}
}

// BenchmarkIndexLookup measures Lookup in an index of -consent.records
// records (10 M by default), half hits and half misses.
func BenchmarkIndexLookup(b *testing.B) {
	s, qs := bigIndex()
	x := consent.NewIndex(s)
	var f consent.ConsentFacts
	b.ReportAllocs()
	b.ReportMetric(float64(s.Bytes())/float64(s.Len()), "B/record")
	i := 0
	for b.Loop() {
		x.Lookup(qs[i&(len(qs)-1)], consent.PurposeInformational, consent.ChannelVoice, benchAt, &f)
		i++
	}
}

// BenchmarkIndexLookupBatch measures LookupBatch over the queries of
// BenchmarkIndexLookup, 128 at a time (a pacing batch). Besides the time
// per lookup it reports the CPU time per lookup of the benchmark's thread
// (cpu-ns/lookup, on Linux), which other processes on a shared machine
// disturb less.
func BenchmarkIndexLookupBatch(b *testing.B) {
	s, ns := bigIndex()
	qs := make([]consent.Query, len(ns))
	for i, n := range ns {
		qs[i] = consent.Query{Number: n, Purpose: consent.PurposeInformational, At: benchAt}
	}
	out := make([]consent.ConsentFacts, 128)
	b.ReportAllocs()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	cpu := cputime.Thread()
	i := 0
	for b.Loop() {
		off := i & (len(qs) - 1) &^ 127
		s.LookupBatch(qs[off:off+128], consent.ChannelVoice, out, nil)
		i += 128
	}
	b.ReportMetric(b.Elapsed().Seconds()*1e9/float64(i), "ns/lookup")
	if cpu > 0 {
		b.ReportMetric(float64(cputime.Thread()-cpu)/float64(i), "cpu-ns/lookup")
	}
}

// BenchmarkIndexApplyRevocation measures installing one revocation in an
// index of -consent.records records: the copy-on-write of the touched
// parts, as a live opt-out costs.
func BenchmarkIndexApplyRevocation(b *testing.B) {
	s, qs := bigIndex()
	x := consent.NewIndex(s)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		x.Replace(s) // keep the index from growing between iterations
		x.Apply(consent.Record{Type: consent.RecordRevocation, ID: int64(1 << 40), Number: qs[i&(len(qs)-1)], At: benchAt})
		i++
	}
}

// TestIndexSize checks that the index stays compact: at a million records
// it takes well under 1 GB per 10 M.
func TestIndexSize(t *testing.T) {
	t.Parallel()
	s, held, _, _ := buildIndex(1_000_000)
	require.Greater(t, s.Len(), 990_000)
	perRecord := float64(s.Bytes()) / float64(s.Len())
	t.Logf("%d records, %d numbers, %.1f bytes per record", s.Len(), s.Numbers(), perRecord)
	require.Less(t, perRecord, 40.0)
	var f consent.ConsentFacts
	hits := 0
	for _, n := range held[:1000] {
		for _, p := range []consent.Purpose{consent.PurposeInformational, consent.PurposeTelemarketing, consent.PurposeDebtCollection, consent.PurposeSolicitation} {
			if s.Lookup(n, p, consent.ChannelVoice, benchAt, &f) {
				hits++
			}
		}
	}
	require.Greater(t, hits, 700)
}

// BenchmarkIndexLookupHot measures Lookup on 16 numbers whose blocks stay in
// the CPU caches: the cost of the lookup's own work.
func BenchmarkIndexLookupHot(b *testing.B) {
	s, qs := bigIndex()
	var f consent.ConsentFacts
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		s.Lookup(qs[i&15], consent.PurposeInformational, consent.ChannelVoice, benchAt, &f)
		i++
	}
}

package consent

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// requireBatchMatches looks qs up with LookupBatch, whole and in uneven
// pieces, and checks every answer against Lookup's.
func requireBatchMatches(t *testing.T, s *Snapshot, qs []Query, ch Channel, msg string) {
	t.Helper()
	want := make([]ConsentFacts, len(qs))
	wantFound := make([]bool, len(qs))
	for i, q := range qs {
		wantFound[i] = s.Lookup(q.Number, q.Purpose, ch, q.At, &want[i])
	}
	for _, piece := range []int{len(qs), 1, 15, 16, 17, 63, 200} {
		got := make([]ConsentFacts, len(qs))
		found := make([]bool, len(qs))
		for i := range got {
			got[i] = ConsentFacts{ID: -1, Kind: ConsentPEWC} // overwritten
		}
		for lo := 0; lo < len(qs); lo += max(piece, 1) {
			hi := min(lo+max(piece, 1), len(qs))
			s.LookupBatch(qs[lo:hi], ch, got[lo:hi], found[lo:hi])
		}
		for i := range qs {
			require.Equalf(t, want[i], got[i], "%s: piece %d query %d %+v", msg, piece, i, qs[i])
			require.Equalf(t, wantFound[i], found[i], "%s: piece %d query %d %+v", msg, piece, i, qs[i])
		}
	}
	// found may be nil.
	got := make([]ConsentFacts, len(qs))
	s.LookupBatch(qs, ch, got, nil)
	require.Equal(t, want, got, msg)
}

// TestLookupBatchMatchesLookup checks LookupBatch against Lookup on the
// random ledgers of TestIndexMatchesModel, whose records tie with each
// other and with the calls to the second (and, with frac, fall between
// whole seconds), for every purpose and channel, and for numbers without
// records or out of range.
func TestLookupBatchMatchesLookup(t *testing.T) {
	t.Parallel()
	purposes := append([]Purpose{"", "unknown"}, modelPurposes...)
	channels := []Channel{ChannelVoice, ChannelText, "fax"}
	for _, frac := range []bool{false, true} {
		rng := rand.New(rand.NewPCG(21, map[bool]uint64{false: 22, true: 23}[frac]))
		for round := range 150 {
			recs := genRecords(rng, 1+rng.IntN(40), frac)
			s := NewSnapshot(0, recs...)
			qs := make([]Query, 1+rng.IntN(300))
			for i := range qs {
				q := &qs[i]
				switch x := rng.IntN(20); {
				case x == 0:
					q.Number = nanpLimit + uint64(rng.IntN(3))
				case x == 1:
					q.Number = 8605550000 + uint64(rng.IntN(10_000)) // same exchange, mostly no records
				case x == 2:
					q.Number = 3035550101 // no directory
				default:
					q.Number = modelNumbers[rng.IntN(len(modelNumbers))]
				}
				q.Purpose = purposes[rng.IntN(len(purposes))]
				q.At = indexBase.Add(time.Duration(rng.IntN(30)-3) * time.Second)
				if frac && rng.IntN(3) == 0 {
					q.At = q.At.Add(time.Duration(rng.IntN(1_000_000_000)))
				}
			}
			ch := channels[rng.IntN(len(channels))]
			requireBatchMatches(t, s, qs, ch, fmt.Sprintf("frac=%v round %d", frac, round))
		}
	}
}

// TestLookupBatchRevocationRules runs the boundary cases of
// TestIndexRevocationRules through LookupBatch, all in one batch.
func TestLookupBatchRevocationRules(t *testing.T) {
	t.Parallel()
	t0, sec := indexBase, time.Second
	base := uint64(8605550000)
	var recs []Record
	var qs []Query
	id := int64(0)
	add := func(at time.Time, rs ...Record) {
		n := base + uint64(len(qs))*3 // one number per case, several per block
		for _, r := range rs {
			id++
			r.ID, r.Number = id, n
			recs = append(recs, r)
		}
		for _, p := range []Purpose{PurposeInformational, PurposeTelemarketing} {
			qs = append(qs, Query{Number: n, Purpose: p, At: at})
		}
	}
	consentAt := func(at time.Time, k ConsentKind) Record {
		return Record{Type: RecordConsent, Kind: k, Scope: PurposeInformational, Channel: ChannelVoice, At: at}
	}
	revokeAt := func(at time.Time, scope Purpose) Record {
		return Record{Type: RecordRevocation, Scope: scope, At: at}
	}
	add(t0)
	add(t0, consentAt(t0, ConsentPEC))
	add(t0, consentAt(t0.Add(sec), ConsentPEC))
	add(t0.Add(2*sec), consentAt(t0, ConsentPEWC), revokeAt(t0.Add(sec), ""))
	add(t0.Add(2*sec), consentAt(t0, ConsentPEWC), revokeAt(t0, ""))
	add(t0.Add(2*sec), consentAt(t0.Add(600*time.Millisecond), ConsentPEWC), revokeAt(t0.Add(300*time.Millisecond), ""))
	add(t0.Add(3*sec), consentAt(t0, ConsentPEWC), revokeAt(t0.Add(sec), ""), consentAt(t0.Add(2*sec), ConsentPEC))
	add(t0.Add(sec), consentAt(t0, ConsentPEC), revokeAt(t0.Add(5*sec), ""))
	add(t0.Add(2*sec), consentAt(t0, ConsentPEC), revokeAt(t0.Add(sec), PurposeTelemarketing))
	expiring := consentAt(t0, ConsentPEC)
	expiring.ExpiresAt = t0.Add(sec)
	add(t0.Add(sec), expiring)
	add(t0.Add(999*time.Millisecond), expiring)
	text := consentAt(t0, ConsentPEWC)
	text.Channel = ChannelText
	add(t0.Add(sec), text)
	other := consentAt(t0, ConsentPEWC)
	other.Scope = PurposeTelemarketing
	add(t0.Add(sec), other)
	s := NewSnapshot(0, recs...)
	requireBatchMatches(t, s, qs, ChannelVoice, "revocation rules")
	// The answers are the ones TestIndexRevocationRules expects.
	out := make([]ConsentFacts, len(qs))
	s.LookupBatch(qs, ChannelVoice, out, nil)
	require.Equal(t, ConsentPEC, out[2].Kind)               // consent
	require.Zero(t, out[4].ID)                              // consent given after the call
	require.Equal(t, t0.Add(sec), out[6].RevokedAt)         // revocation after consent
	require.Equal(t, int64(11), out[12].ID)                 // re-consent restores
	require.Equal(t, t0.Add(sec), out[16].RevokedAt)        // other-purpose revocation...
	require.True(t, out[16].PurposeRevokedAt.IsZero())      // ...does not cover informational
	require.Equal(t, t0.Add(sec), out[17].PurposeRevokedAt) // but covers telemarketing
	require.Equal(t, t0.Add(sec), out[18].ExpiresAt)        // expired
	require.Zero(t, out[22].ID)                             // text consent does not cover voice
	require.Zero(t, out[24].ID)                             // other scope does not cover
}

// TestLookupBatchLargeIndex checks LookupBatch against Lookup on an index
// with records in thousands of exchanges, so that many blocks are in
// flight at once.
func TestLookupBatchLargeIndex(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(31, 32))
	nums := make([]uint64, 20_000)
	for i := range nums {
		nums[i] = uint64(200+rng.IntN(800))*10_000_000 + uint64(200+rng.IntN(800))*10_000 + uint64(rng.IntN(10_000))
	}
	var b Builder
	for i := range 60_000 {
		r := Record{ID: int64(i + 1), Number: nums[rng.IntN(len(nums))], At: indexBase.Add(-time.Duration(rng.IntN(1000)) * time.Hour)}
		if rng.IntN(8) == 0 {
			r.Type = RecordRevocation
			if rng.IntN(2) == 0 {
				r.Scope = modelPurposes[rng.IntN(4)]
			}
		} else {
			r.Type, r.Kind, r.Scope, r.Channel = RecordConsent, ConsentKind(1+rng.IntN(2)), modelPurposes[rng.IntN(4)], modelChannels[rng.IntN(2)]
			if rng.IntN(5) == 0 {
				r.ExpiresAt = r.At.Add(time.Duration(rng.IntN(2000)) * time.Hour)
			}
		}
		b.Add(r)
	}
	s := b.Build(0)
	qs := make([]Query, 5000)
	for i := range qs {
		n := nums[rng.IntN(len(nums))]
		if i%2 == 1 {
			n = uint64(200+rng.IntN(800))*10_000_000 + uint64(rng.IntN(1000))*10_000 + uint64(rng.IntN(10_000))
		}
		qs[i] = Query{Number: n, Purpose: modelPurposes[rng.IntN(4)], At: indexBase}
	}
	requireBatchMatches(t, s, qs, ChannelVoice, "large index")
	var nilSnap *Snapshot
	out := make([]ConsentFacts, 3)
	nilSnap.LookupBatch(qs[:3], ChannelVoice, out, nil)
	require.Equal(t, make([]ConsentFacts, 3), out)
}

// TestLookupBatchAllocatesNothing checks the zero-allocation promise, also
// for a caller that keeps its queries and answers on its stack, as the
// gate does, over every block format.
func TestLookupBatchAllocatesNothing(t *testing.T) { //nolint:paralleltest // AllocsPerRun forbids t.Parallel.
	rng := rand.New(rand.NewPCG(3, 4))
	s := NewSnapshot(0, genRecords(rng, 200, true)...)
	qs := make([]Query, 100)
	for i := range qs {
		qs[i] = Query{Number: modelNumbers[i%len(modelNumbers)], Purpose: PurposeInformational, At: indexBase.Add(10 * time.Second)}
	}
	out := make([]ConsentFacts, len(qs))
	found := make([]bool, len(qs))
	require.Zero(t, testing.AllocsPerRun(100, func() { s.LookupBatch(qs, ChannelVoice, out, found) }))

	g := &randomLedger{rng: rand.New(rand.NewPCG(5, 6)), base: indexBase}
	s = NewSnapshot(0, g.ledger(5000)...)
	s = s.Apply(g.record(g.numbers[0])) // a block on its own
	many := g.queries(128)
	onStack := func() {
		var (
			qs  [128]Query
			out [128]ConsentFacts
		)
		copy(qs[:], many)
		s.LookupBatch(qs[:], ChannelVoice, out[:], nil)
		if out[0].ID == -1 {
			t.Fail() // use out
		}
	}
	require.Zero(t, testing.AllocsPerRun(100, onStack))
}

// TestCompactHistoryCaps checks that the caps and quiet periods counted
// over a compact history are the ones counted over the history itself.
func TestCompactHistoryCaps(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(41, 42))
	purposes := append([]Purpose{"", "other"}, modelPurposes...)
	methods := []Method{"", MethodLive, MethodPrerecorded, "other"}
	atN := indexBase.UnixNano()
	for range 20_000 {
		h := make([]Attempt, rng.IntN(compactHistoryLen+1))
		for i := range h {
			h[i] = Attempt{At: indexBase.Add(-time.Duration(rng.IntN(10)) * time.Hour), Purpose: purposes[rng.IntN(len(purposes))],
				Method: methods[rng.IntN(len(methods))], Conversation: rng.IntN(3) == 0, Open: rng.IntN(4) == 0, Answered: rng.IntN(2) == 0}
			if rng.IntN(2) == 0 {
				h[i].Ended = h[i].At.Add(time.Duration(rng.IntN(20)-5) * time.Minute)
			}
		}
		openLo := atN - int64(time.Duration(rng.IntN(10))*time.Hour)
		var buf [compactHistoryLen]compactAttempt
		c := compactHistory(h, &buf)
		require.Equal(t, len(h), len(c))
		period := int64(time.Duration(1+rng.IntN(10)) * time.Hour)
		pm, mm, max := uint8(1+rng.IntN(int(pAll))), uint8(1+rng.IntN(int(mAll))), 1+rng.IntN(4)
		over, clr := countCap(h, atN, period, pm, mm, max)
		cover, cclr := countCapCompact(c, atN, period, pm, mm, max)
		require.Equal(t, over, cover)
		require.Equal(t, clr, cclr)
		last, open := lastConversation(h, atN-period, openLo, pm, mm)
		clast, copen := lastConversationCompact(c, atN-period, openLo, pm, mm)
		require.Equal(t, last, clast)
		require.Equal(t, open, copen)
	}
	var buf [compactHistoryLen]compactAttempt
	require.Nil(t, compactHistory(make([]Attempt, compactHistoryLen+1), &buf), "too long for the buffer")
}

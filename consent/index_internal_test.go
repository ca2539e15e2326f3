package consent

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// indexBase is the instant the generated records cluster around.
var indexBase = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// modelNumbers are the numbers the generated records use: two share an
// exchange, one is alone in its area code.
var modelNumbers = []uint64{8605550101, 8605550102, 8605559999, 2125550101, 9072001234}

var (
	modelPurposes = []Purpose{PurposeInformational, PurposeTelemarketing, PurposeDebtCollection, PurposeSolicitation}
	modelChannels = []Channel{ChannelVoice, ChannelText}
)

// genRecords makes n random consents and revocations over a small grid of
// times, so that ties between consents, revocations, expiries and the
// instant of the call are common. With frac, some times fall between whole
// seconds.
func genRecords(rng *rand.Rand, n int, frac bool) []Record {
	at := func() time.Time {
		t := indexBase.Add(time.Duration(rng.IntN(24)) * time.Second)
		if frac && rng.IntN(4) == 0 {
			t = t.Add(time.Duration(1 + rng.IntN(999_999_999)))
		}
		return t
	}
	recs := make([]Record, n)
	for i := range recs {
		r := Record{ID: int64(i + 1), Seq: int64(i + 1), Number: modelNumbers[rng.IntN(len(modelNumbers))], At: at()}
		if rng.IntN(3) == 0 {
			r.Type = RecordRevocation
			if rng.IntN(3) == 0 {
				r.Scope = modelPurposes[rng.IntN(len(modelPurposes))]
			}
		} else {
			r.Type = RecordConsent
			r.Kind = ConsentKind(1 + rng.IntN(2))
			r.Scope = modelPurposes[rng.IntN(2)] // two scopes, so matches are common
			r.Channel = modelChannels[rng.IntN(2)]
			if rng.IntN(3) == 0 {
				r.ExpiresAt = r.At.Add(time.Duration(1+rng.IntN(12)) * time.Second)
			}
		}
		recs[i] = r
	}
	return recs
}

// modelAnswer is the naive model of rules F12 and F13: a consent counts at
// `at` when it was given by then, has not expired, and no revocation that
// covers the purpose was made at or after it. It returns the strongest
// consent that counts and the ids of the consents of that kind, or the
// reason there is none, as the engine words it.
func modelAnswer(recs []Record, n uint64, p Purpose, ch Channel, at time.Time, revokeAll bool) (ConsentKind, map[int64]bool, ReasonSet) {
	revoked := func(c *Record) bool {
		for i := range recs {
			r := &recs[i]
			if r.Type == RecordRevocation && r.Number == n && (revokeAll || r.Scope == "" || r.Scope == p) && !r.At.Before(c.At) {
				return true
			}
		}
		return false
	}
	var (
		best                 ConsentKind
		ids                  = map[int64]bool{}
		anyCounted, expired  bool
		anyRelevantRevokeRec bool
	)
	for i := range recs {
		r := &recs[i]
		if r.Number != n {
			continue
		}
		if r.Type == RecordRevocation {
			if revokeAll || r.Scope == "" || r.Scope == p {
				anyRelevantRevokeRec = true
			}
			continue
		}
		if r.Scope != p || r.Channel != ch || r.At.After(at) {
			continue
		}
		anyCounted = true
		if revoked(r) {
			continue
		}
		if !r.ExpiresAt.IsZero() && !at.Before(r.ExpiresAt) {
			expired = true
			continue
		}
		if r.Kind > best {
			best, ids = r.Kind, map[int64]bool{}
		}
		if r.Kind == best {
			ids[r.ID] = true
		}
	}
	switch {
	case best != ConsentNone:
		return best, ids, 0
	case expired:
		return ConsentNone, nil, bitConsentExpired
	case anyCounted || anyRelevantRevokeRec:
		return ConsentNone, nil, bitConsentRevoked
	}
	return ConsentNone, nil, bitConsentMissing
}

// TestIndexMatchesModel checks the index, read by the engine's own consent
// evaluation, against the naive model on random ledgers.
func TestIndexMatchesModel(t *testing.T) {
	t.Parallel()
	for _, frac := range []bool{false, true} {
		t.Run(fmt.Sprintf("frac=%v", frac), func(t *testing.T) {
			t.Parallel()
			rng := rand.New(rand.NewPCG(1, map[bool]uint64{false: 2, true: 3}[frac]))
			for round := range 400 {
				recs := genRecords(rng, 1+rng.IntN(30), frac)
				s := NewSnapshot(0, recs...)
				require.Equal(t, int64(len(recs)), s.Seq())
				for q := range 60 {
					n := modelNumbers[rng.IntN(len(modelNumbers))]
					p := modelPurposes[rng.IntN(len(modelPurposes))]
					ch := modelChannels[rng.IntN(2)]
					at := indexBase.Add(time.Duration(rng.IntN(30)-3) * time.Second)
					if frac && rng.IntN(3) == 0 {
						at = at.Add(time.Duration(rng.IntN(1_000_000_000)))
					}
					var f ConsentFacts
					found := s.Lookup(n, p, ch, at, &f)
					require.Equal(t, found, f.Kind != ConsentNone)
					for _, revokeAll := range []bool{true, false} {
						msg := fmt.Sprintf("round %d query %d: %d %s %s at %s revokeAll=%v facts %+v records %+v", round, q, n, p, ch, at.Format(time.RFC3339Nano), revokeAll, f, recs)
						wantKind, ids, wantReason := modelAnswer(recs, n, p, ch, at, revokeAll)
						kind, reason := evalConsent(&f, at, revokeAll, false, time.Time{})
						// The index may be stricter than exact, never looser.
						require.LessOrEqual(t, kind, wantKind, msg)
						if kind != ConsentNone {
							require.True(t, ids[f.ID] || kind < wantKind, msg)
						}
						if frac {
							continue
						}
						if revokeAll || wantKind == ConsentNone {
							require.Equal(t, wantKind, kind, msg)
							require.Equal(t, wantReason, reason, msg)
						}
					}
				}
			}
		})
	}
}

// TestIndexRevocationRules spells out rule F12 at its boundaries.
func TestIndexRevocationRules(t *testing.T) {
	t.Parallel()
	const n = 8605550101
	t0 := indexBase
	sec := time.Second
	consentAt := func(id int64, at time.Time, k ConsentKind) Record {
		return Record{Type: RecordConsent, ID: id, Number: n, Kind: k, Scope: PurposeInformational, Channel: ChannelVoice, At: at}
	}
	revokeAt := func(id int64, at time.Time, scope Purpose) Record {
		return Record{Type: RecordRevocation, ID: id, Number: n, Scope: scope, At: at}
	}
	cases := []struct {
		name   string
		recs   []Record
		at     time.Time
		kind   ConsentKind
		reason ReasonSet
		id     int64
	}{
		{"no record", nil, t0, ConsentNone, bitConsentMissing, 0},
		{"consent", []Record{consentAt(1, t0, ConsentPEC)}, t0, ConsentPEC, 0, 1},
		{"consent given after the call", []Record{consentAt(1, t0.Add(sec), ConsentPEC)}, t0, ConsentNone, bitConsentMissing, 0},
		{"revocation after consent", []Record{consentAt(1, t0, ConsentPEWC), revokeAt(2, t0.Add(sec), "")}, t0.Add(2 * sec), ConsentNone, bitConsentRevoked, 1},
		{"revocation at the same instant wins", []Record{consentAt(1, t0, ConsentPEWC), revokeAt(2, t0, "")}, t0.Add(2 * sec), ConsentNone, bitConsentRevoked, 1},
		{"revocation in the same second wins", []Record{consentAt(1, t0.Add(600*time.Millisecond), ConsentPEWC), revokeAt(2, t0.Add(300*time.Millisecond), "")}, t0.Add(2 * sec), ConsentNone, bitConsentRevoked, 1},
		{"re-consent restores", []Record{consentAt(1, t0, ConsentPEWC), revokeAt(2, t0.Add(sec), ""), consentAt(3, t0.Add(2*sec), ConsentPEC)}, t0.Add(3 * sec), ConsentPEC, 0, 3},
		{"revocation recorded after the call still wins", []Record{consentAt(1, t0, ConsentPEC), revokeAt(2, t0.Add(5*sec), "")}, t0.Add(sec), ConsentNone, bitConsentRevoked, 1},
		{"stronger old consent stays revoked", []Record{consentAt(1, t0, ConsentPEWC), revokeAt(2, t0.Add(sec), ""), consentAt(3, t0.Add(2*sec), ConsentPEC)}, t0.Add(3 * sec), ConsentPEC, 0, 3},
		{"other-purpose revocation (revoke-all default)", []Record{consentAt(1, t0, ConsentPEC), revokeAt(2, t0.Add(sec), PurposeTelemarketing)}, t0.Add(2 * sec), ConsentNone, bitConsentRevoked, 1},
		{"expired", []Record{{Type: RecordConsent, ID: 1, Number: n, Kind: ConsentPEC, Scope: PurposeInformational, Channel: ChannelVoice, At: t0, ExpiresAt: t0.Add(sec)}}, t0.Add(sec), ConsentNone, bitConsentExpired, 1},
		{"not expired yet", []Record{{Type: RecordConsent, ID: 1, Number: n, Kind: ConsentPEC, Scope: PurposeInformational, Channel: ChannelVoice, At: t0, ExpiresAt: t0.Add(sec)}}, t0.Add(999 * time.Millisecond), ConsentPEC, 0, 1},
		{"text consent does not cover voice", []Record{{Type: RecordConsent, ID: 1, Number: n, Kind: ConsentPEWC, Scope: PurposeInformational, Channel: ChannelText, At: t0}}, t0.Add(sec), ConsentNone, bitConsentMissing, 0},
		{"other scope does not cover", []Record{{Type: RecordConsent, ID: 1, Number: n, Kind: ConsentPEWC, Scope: PurposeTelemarketing, Channel: ChannelVoice, At: t0}}, t0.Add(sec), ConsentNone, bitConsentMissing, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			s := NewSnapshot(0, c.recs...)
			var f ConsentFacts
			s.Lookup(n, PurposeInformational, ChannelVoice, c.at, &f)
			kind, reason := evalConsent(&f, c.at, true, false, time.Time{})
			require.Equal(t, c.kind, kind)
			require.Equal(t, c.reason, reason)
			require.Equal(t, c.id, f.ID)
		})
	}

	t.Run("purpose-limited revocation", func(t *testing.T) {
		t.Parallel()
		s := NewSnapshot(0, consentAt(1, t0, ConsentPEC), revokeAt(2, t0.Add(sec), PurposeTelemarketing))
		var f ConsentFacts
		require.True(t, s.Lookup(n, PurposeInformational, ChannelVoice, t0.Add(2*sec), &f))
		require.Equal(t, t0.Add(sec), f.RevokedAt)
		require.True(t, f.PurposeRevokedAt.IsZero())
		kind, _ := evalConsent(&f, t0.Add(2*sec), false, false, time.Time{})
		require.Equal(t, ConsentPEC, kind, "a firm that narrows revocations to a purpose may still call")
		s.Lookup(n, PurposeTelemarketing, ChannelVoice, t0.Add(2*sec), &f)
		require.Equal(t, t0.Add(sec), f.PurposeRevokedAt)
	})
}

// TestSnapshotApply checks that applying records in batches gives the same
// answers as building from all of them, that older snapshots do not change,
// and that duplicates are skipped.
func TestSnapshotApply(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(7, 8))
	for round := range 100 {
		recs := genRecords(rng, 1+rng.IntN(40), true)
		full := NewSnapshot(0, recs...)
		inc := (*Snapshot)(nil).Apply()
		var olds []*Snapshot
		var oldRecs [][]Record
		for i := 0; i < len(recs); {
			j := min(len(recs), i+1+rng.IntN(5))
			olds, oldRecs = append(olds, inc), append(oldRecs, recs[:i])
			inc = inc.Apply(recs[i:j]...)
			i = j
		}
		require.Equal(t, full.Len(), inc.Len(), "round %d", round)
		require.Equal(t, full.Numbers(), inc.Numbers(), "round %d", round)
		require.Equal(t, full.Seq(), inc.Seq())
		again := inc.Apply(recs...)
		require.Same(t, inc, again, "duplicates are skipped")
		k := rng.IntN(len(olds))
		want := NewSnapshot(0, oldRecs[k]...)
		for _, n := range append(modelNumbers, 5555555555) {
			for _, p := range modelPurposes {
				for _, ch := range modelChannels {
					for d := -2; d < 30; d += 3 {
						at := indexBase.Add(time.Duration(d) * time.Second)
						var a, b ConsentFacts
						require.Equal(t, full.Lookup(n, p, ch, at, &a), inc.Lookup(n, p, ch, at, &b))
						require.Equal(t, a, b)
						want.Lookup(n, p, ch, at, &a)
						olds[k].Lookup(n, p, ch, at, &b)
						require.Equal(t, a, b, "an older snapshot is unchanged")
					}
				}
			}
		}
	}
}

func TestSnapshotSkipsUnusableRecords(t *testing.T) {
	t.Parallel()
	ok := Record{Type: RecordConsent, ID: 1, Number: 8605550101, Kind: ConsentPEC, Scope: PurposeInformational, Channel: ChannelVoice, At: indexBase}
	bad := []Record{
		{Type: RecordConsent, ID: 2, Number: 0, Kind: ConsentPEC, Scope: PurposeInformational, Channel: ChannelVoice, At: indexBase},
		{Type: RecordConsent, ID: 3, Number: 8605550101, Kind: ConsentNone, Scope: PurposeInformational, Channel: ChannelVoice, At: indexBase},
		{Type: RecordConsent, ID: 4, Number: 8605550101, Kind: ConsentPEC, Scope: "marketing", Channel: ChannelVoice, At: indexBase},
		{Type: RecordConsent, ID: 5, Number: 8605550101, Kind: ConsentPEC, Scope: PurposeInformational, Channel: "fax", At: indexBase},
		{Type: RecordConsent, ID: 6, Number: 8605550101, Kind: ConsentPEC, Scope: PurposeInformational, Channel: ChannelVoice},
		{Type: 9, ID: 7, Number: 8605550101, At: indexBase},
		{Type: RecordConsent, ID: maxRecordID + 1, Number: 8605550101, Kind: ConsentPEC, Scope: PurposeInformational, Channel: ChannelVoice, At: indexBase},
	}
	s := NewSnapshot(0, append(bad, ok)...)
	require.Equal(t, 1, s.Len())
	require.Equal(t, 1, s.Numbers())

	// A revocation with no time beats every consent; one with an unknown
	// scope covers every purpose.
	s = s.Apply(Record{Type: RecordRevocation, ID: 8, Number: 8605550101, Scope: "marketing", At: indexBase.Add(-time.Hour)},
		Record{Type: RecordRevocation, ID: 9, Number: 8605550101})
	var f ConsentFacts
	require.True(t, s.Lookup(8605550101, PurposeInformational, ChannelVoice, indexBase.Add(time.Hour), &f))
	require.Equal(t, f.RevokedAt, f.PurposeRevokedAt)
	kind, reason := evalConsent(&f, indexBase.Add(time.Hour), false, false, time.Time{})
	require.Equal(t, ConsentNone, kind)
	require.Equal(t, bitConsentRevoked, reason)

	// Large ids survive packing.
	big := ok
	big.ID, big.Number = maxRecordID, 2125550101
	s = s.Apply(big)
	require.True(t, s.Lookup(2125550101, PurposeInformational, ChannelVoice, indexBase, &f))
	require.Equal(t, int64(maxRecordID), f.ID)
}

// TestIndexLookupAllocatesNothing checks the zero-allocation promise. It
// does not run in parallel: testing.AllocsPerRun reads process-wide counters.
func TestIndexLookupAllocatesNothing(t *testing.T) { //nolint:paralleltest // AllocsPerRun forbids t.Parallel.
	rng := rand.New(rand.NewPCG(3, 4))
	x := NewIndex(NewSnapshot(0, genRecords(rng, 200, true)...))
	var f ConsentFacts
	allocs := testing.AllocsPerRun(200, func() {
		for _, n := range modelNumbers {
			x.Lookup(n, PurposeInformational, ChannelVoice, indexBase.Add(10*time.Second), &f)
			x.Lookup(n, PurposeTelemarketing, ChannelText, indexBase, &f)
		}
		x.Lookup(5555555555, PurposeInformational, ChannelVoice, indexBase, &f)
	})
	require.Zero(t, allocs)
}

// TestIndexConcurrentApply has readers look numbers up while a writer
// applies records one at a time: a reader never sees a revocation vanish.
func TestIndexConcurrentApply(t *testing.T) {
	t.Parallel()
	x := NewIndex(nil)
	const n = 8605550101
	x.Apply(Record{Type: RecordConsent, ID: 1, Number: n, Kind: ConsentPEWC, Scope: PurposeInformational, Channel: ChannelVoice, At: indexBase})
	done := make(chan struct{})
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var f ConsentFacts
			var last time.Time
			for {
				select {
				case <-done:
					return
				default:
				}
				x.Lookup(n, PurposeInformational, ChannelVoice, indexBase.Add(time.Hour), &f)
				if f.RevokedAt.Before(last) {
					t.Errorf("revocation went back from %s to %s", last, f.RevokedAt)
					return
				}
				last = f.RevokedAt
			}
		}()
	}
	for i := range 300 {
		x.Apply(Record{Type: RecordRevocation, ID: int64(2 + i), Number: n - uint64(i%3)*10_000, At: indexBase.Add(time.Duration(i) * time.Second)})
	}
	close(done)
	wg.Wait()
	require.Equal(t, 301, x.Snapshot().Len())
	require.Equal(t, 3, x.Snapshot().Numbers())
	x.Replace(nil)
	require.Zero(t, x.Snapshot().Len())
}

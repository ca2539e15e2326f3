package consent_test

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/consent"
	"github.com/heed-dialer/heed/internal/phone"
)

// TestConsultsConsent checks the promise a gate relies on to skip consent
// lookups: when ConsultsConsent reports false, the decision is the same
// whatever consent the facts hold. It also checks that it reports false
// for some attempts (or the promise would be empty).
func TestConsultsConsent(t *testing.T) {
	t.Parallel()
	e, err := consent.NewEngine(consent.Config{})
	require.NoError(t, err)
	rng := rand.New(rand.NewPCG(51, 52))
	base := time.Date(2026, 6, 10, 12, 0, 0, 0, time.UTC)
	consents := []consent.ConsentFacts{
		{},
		{ID: 7, Kind: consent.ConsentPEC, ObtainedAt: base.AddDate(-1, 0, 0)},
		{ID: 8, Kind: consent.ConsentPEWC, ObtainedAt: base.AddDate(-1, 0, 0)},
		{ID: 9, Kind: consent.ConsentPEWC, ObtainedAt: base.AddDate(-1, 0, 0), RevokedAt: base.AddDate(0, -1, 0), PurposeRevokedAt: base.AddDate(0, -1, 0)},
		{ID: 10, Kind: consent.ConsentPEWC, ObtainedAt: base.AddDate(-1, 0, 0), ExpiresAt: base.AddDate(0, 0, -1)},
	}
	skipped, consulted := 0, 0
	for range 20_000 {
		in := randomAttempt(rng, base.Add(time.Duration(rng.IntN(24*3600))*time.Second))
		for range rng.IntN(6) {
			in.History = append(in.History, consent.Attempt{At: in.At.Add(-time.Duration(1+rng.IntN(10*24*3600)) * time.Second),
				Purpose: in.Purpose, Method: in.Method, Conversation: rng.IntN(4) == 0})
		}
		f := consent.Facts{Fresh: true, NationalAsOf: base.AddDate(0, 0, -5), DNC: consent.DNCHits(rng.IntN(16))}
		if e.ConsultsConsent(in.Purpose, in.Method, in.Line, f.DNC) {
			consulted++
			continue
		}
		skipped++
		want := e.Check(in, f)
		for _, c := range consents[1:] {
			f.Consent = c
			require.Equal(t, want, e.Check(in, f), "%+v with consent %+v", in, c)
		}
	}
	t.Logf("%d attempts whose decision ignores consent, %d that may consult it", skipped, consulted)
	require.Positive(t, skipped)
	require.Positive(t, consulted)
	// Rules that need consent are consulted.
	require.True(t, e.ConsultsConsent(consent.PurposeTelemarketing, consent.MethodPrerecorded, consent.LineWireless, 0))
	require.True(t, e.ConsultsConsent(consent.PurposeInformational, consent.MethodPrerecorded, consent.LineWireless, 0))
}

// TestDNCLists checks the promise a gate relies on to skip do-not-call
// lookups: a hit on a list DNCLists leaves out changes no decision. It
// also checks that the national registry is left out of informational
// calls and kept for sales calls under the built-in packs.
func TestDNCLists(t *testing.T) {
	t.Parallel()
	e, err := consent.NewEngine(consent.Config{})
	require.NoError(t, err)
	rng := rand.New(rand.NewPCG(53, 54))
	base := time.Date(2026, 6, 10, 12, 0, 0, 0, time.UTC)
	all := consent.DNCInternal | consent.DNCNational | consent.DNCLitigator | consent.DNCState
	left := 0
	for range 20_000 {
		in := randomAttempt(rng, base.AddDate(0, 0, rng.IntN(400)-200).Add(time.Duration(rng.IntN(24*3600))*time.Second))
		f := consent.Facts{Fresh: true, NationalAsOf: in.At.AddDate(0, 0, -5), DNC: consent.DNCHits(rng.IntN(16))}
		if rng.IntN(2) == 0 {
			f.Consent = consent.ConsentFacts{ID: 8, Kind: consent.ConsentPEWC, ObtainedAt: base.AddDate(-2, 0, 0)}
		}
		lists := e.DNCLists(in.Purpose, in.Method, in.Line)
		if lists == all {
			continue
		}
		left++
		want := e.Check(in, f)
		f.DNC &= lists
		require.Equal(t, want, e.Check(in, f), "%+v: hits %v, lists %v", in, f.DNC, lists)
	}
	require.Positive(t, left)
	info := e.DNCLists(consent.PurposeInformational, consent.MethodPrerecorded, consent.LineWireless)
	require.Zero(t, info&consent.DNCNational, "informational calls do not consult the national registry")
	require.NotZero(t, info&consent.DNCInternal, "every call consults the internal list")
	sales := e.DNCLists(consent.PurposeTelemarketing, consent.MethodLive, consent.LineLandline)
	require.NotZero(t, sales&consent.DNCNational)
	require.NotZero(t, sales&consent.DNCState)
}

// randomAttempt returns an attempt at at with a number, purpose, method,
// line and contact state drawn from every kind the engine tells apart, and
// unknown ones.
func randomAttempt(rng *rand.Rand, at time.Time) consent.Input {
	numbers := []phone.Number{nyNumber, ctNumber, flNumber, okNumber, idahoNumber, alaskaNumber, tollFree}
	purposes := []consent.Purpose{"", "bogus", consent.PurposeInformational, consent.PurposeTelemarketing, consent.PurposeDebtCollection, consent.PurposeSolicitation}
	methods := []consent.Method{"", consent.MethodLive, consent.MethodPrerecorded}
	lines := []consent.LineType{"", consent.LineWireless, consent.LineLandline, consent.LineUnknown}
	states := []string{"", "CT", "FL", "OK", "NY"}
	return consent.Input{Number: numbers[rng.IntN(len(numbers))], Purpose: purposes[rng.IntN(len(purposes))],
		Method: methods[rng.IntN(len(methods))], Line: lines[rng.IntN(len(lines))], State: states[rng.IntN(len(states))], At: at}
}

package consent_test

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/consent"
)

// TestFirmPolicyLoosensFloor checks that every firm setting that would loosen
// a floor, or a tighten-only default, is refused with a FloorError naming the
// rule and both values.
func TestFirmPolicyLoosensFloor(t *testing.T) {
	t.Parallel()
	h := time.Hour
	day := 24 * h
	for _, c := range []struct {
		name    string
		policy  consent.FirmPolicy
		rules   []string // codes of the loosened rules, in order
		message string
	}{
		{"telemarketing window earlier than F6", consent.FirmPolicy{Windows: map[consent.Purpose]consent.Window{consent.PurposeTelemarketing: {Start: 7 * h, End: 21 * h}}},
			[]string{"F6"}, "firm setting window.telemarketing = 07:00-21:00 loosens rule F6 (08:00-21:00): firm setting loosens a floor"},
		{"solicitation window later than F6", consent.FirmPolicy{Windows: map[consent.Purpose]consent.Window{consent.PurposeSolicitation: {Start: 9 * h, End: 21*h + 30*time.Minute}}},
			[]string{"F6"}, "window.solicitation = 09:00-21:30"},
		{"debt collection window earlier than R2", consent.FirmPolicy{Windows: map[consent.Purpose]consent.Window{consent.PurposeDebtCollection: {Start: 7*h + 30*time.Minute, End: 20 * h}}},
			[]string{"R2"}, "rule R2 (08:00-21:00)"},
		{"informational window wider than H1", consent.FirmPolicy{Windows: map[consent.Purpose]consent.Window{consent.PurposeInformational: {Start: 8 * h, End: 22 * h}}},
			[]string{"H1"}, "rule H1 (08:00-21:00)"},
		{"R1 cap raised", consent.FirmPolicy{Caps: map[string]consent.Cap{"R1": {Max: 8, Period: 7 * day}}},
			[]string{"R1"}, "caps.R1 = 8 per 168h0m0s loosens rule R1 (7 per 168h0m0s)"},
		{"R1 period shortened", consent.FirmPolicy{Caps: map[string]consent.Cap{"R1": {Max: 7, Period: 6 * day}}},
			[]string{"R1"}, "R1"},
		{"S1 cap raised", consent.FirmPolicy{Caps: map[string]consent.Cap{"S1": {Max: 4, Period: day}}},
			[]string{"S1"}, "S1"},
		{"F3 cap raised", consent.FirmPolicy{Caps: map[string]consent.Cap{"F3": {Max: 5, Period: 30 * day}}},
			[]string{"F3"}, "F3"},
		{"national snapshot older than F8", consent.FirmPolicy{NationalMaxAge: 45 * day},
			[]string{"F8"}, "national_max_age = 1080h0m0s loosens rule F8 (744h0m0s)"},
		{"abandonment above heed's target", consent.FirmPolicy{AbandonTarget: 0.02},
			[]string{"H2"}, "abandon_target = 0.02 loosens rule H2 (0.015)"},
		{"abandonment above F10", consent.FirmPolicy{AbandonTarget: 0.04},
			[]string{"H2", "F10"}, "abandon_target = 0.04 loosens rule F10 (0.03)"},
		{"ring time below F10", consent.FirmPolicy{MinRing: 10 * time.Second},
			[]string{"H3", "F10"}, "min_ring = 10s loosens rule F10 (15s)"},
		{"several at once", consent.FirmPolicy{AbandonTarget: 0.02, NationalMaxAge: 32 * day},
			[]string{"F8", "H2"}, "H2"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			err := c.policy.Validate(nil)
			require.ErrorIs(t, err, consent.ErrLoosensFloor)
			require.NotErrorIs(t, err, consent.ErrInvalidPolicy)
			require.Contains(t, err.Error(), c.message)
			var got []string
			for _, e := range unjoin(err) {
				var fe *consent.FloorError
				require.True(t, errors.As(e, &fe), "%v", e)
				got = append(got, fe.Rule)
			}
			require.Equal(t, c.rules, got)

			_, err = consent.NewEngine(consent.Config{Firm: c.policy})
			require.ErrorIs(t, err, consent.ErrLoosensFloor)
		})
	}
}

func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// TestFirmPolicyTightens checks that tightening is accepted and takes effect.
func TestFirmPolicyTightens(t *testing.T) {
	t.Parallel()
	h := time.Hour
	day := 24 * h
	p := consent.FirmPolicy{
		Version: "7",
		Windows: map[consent.Purpose]consent.Window{
			consent.PurposeInformational:  {Start: 9 * h, End: 19 * h},
			consent.PurposeTelemarketing:  {Start: 10 * h, End: 18 * h},
			consent.PurposeDebtCollection: {Start: 8 * h, End: 21 * h},
		},
		Caps:                map[string]consent.Cap{"R1": {Max: 3, Period: 14 * day}, "F3": {Max: 1, Period: 60 * day}},
		NoSunday:            true,
		Holidays:            []string{"2026-12-25", "2027-01-01"},
		ResidentialNeedsPEC: true,
		NationalMaxAge:      7 * day,
		AbandonTarget:       0.01,
		MinRing:             25 * time.Second,
		RevocationScope:     consent.RevokePurpose,
		CheckReassigned:     true,
	}
	require.NoError(t, p.Validate(nil))
	b := setup(t, consent.Config{Firm: p})
	require.Equal(t, "federal@2026.2+connecticut@2026.2+regf@2026.2+florida@2026.2+oklahoma@2026.2+firm@heed-2026.2.firm-7", b.eng.Version())

	l := b.eng.Limits()
	require.Equal(t, 0.01, l.MaxAbandonRate)
	require.Equal(t, 25*time.Second, l.MinRing)
	require.Equal(t, 4, l.MinRings)
	require.Equal(t, 2*time.Second, l.AgentJoin)
	require.Equal(t, 30*day, l.AbandonPeriod)
	require.Equal(t, (5*365+2)*day, l.Retention, "five calendar years at the longest")
	require.Equal(t, 60*day, l.HistoryWindow, "the firm's F3 cap of 1 per 60 days")

	ny := zone(t, "America/New_York")
	at := local(t, ny, "2026-06-10 08:30")
	d := b.eng.Check(consent.Input{Number: nyNumber, Purpose: consent.PurposeInformational, Method: consent.MethodLive, At: at}, facts(at, consent.ConsentNone, 0))
	require.Equal(t, consent.Defer, d.Verdict)
	require.True(t, local(t, ny, "2026-06-10 09:00").Equal(d.Until))
	d = b.eng.Check(consent.Input{Number: nyNumber, Purpose: consent.PurposeTelemarketing, Method: consent.MethodLive, At: at.Add(9*h + 30*time.Minute)}, facts(at, consent.ConsentNone, 0))
	require.Equal(t, consent.Defer, d.Verdict, "18:00 is outside the firm's 10-18 window")
	require.True(t, local(t, ny, "2026-06-11 10:00").Equal(d.Until))
}

// TestFirmPolicyInvalid checks malformed values and pack-set errors.
func TestFirmPolicyInvalid(t *testing.T) {
	t.Parallel()
	h := time.Hour
	for _, c := range []struct {
		name   string
		policy consent.FirmPolicy
	}{
		{"empty window", consent.FirmPolicy{Windows: map[consent.Purpose]consent.Window{consent.PurposeInformational: {Start: 12 * h, End: 12 * h}}}},
		{"unknown purpose", consent.FirmPolicy{Windows: map[consent.Purpose]consent.Window{"marketing": {Start: 9 * h, End: 12 * h}}}},
		{"cap on a rule without one", consent.FirmPolicy{Caps: map[string]consent.Cap{"F6": {Max: 1, Period: h}}}},
		{"cap of zero calls", consent.FirmPolicy{Caps: map[string]consent.Cap{"R1": {Max: 0, Period: 7 * 24 * h}}}},
		{"bad holiday", consent.FirmPolicy{Holidays: []string{"25/12/2026"}}},
		{"bad revocation scope", consent.FirmPolicy{RevocationScope: 9}},
		{"ring time longer than a call rings", consent.FirmPolicy{MinRing: consent.MaxRing + time.Second}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			require.ErrorIs(t, c.policy.Validate(nil), consent.ErrInvalidPolicy)
			_, err := consent.NewEngine(consent.Config{Firm: c.policy})
			require.ErrorIs(t, err, consent.ErrInvalidPolicy)
		})
	}

	t.Run("required packs", func(t *testing.T) {
		t.Parallel()
		_, err := consent.NewEngine(consent.Config{Packs: []*consent.Pack{consent.Federal(), consent.RegF()}})
		require.ErrorIs(t, err, consent.ErrRequiredPack)
		require.Contains(t, err.Error(), "connecticut")
	})
	t.Run("duplicate pack", func(t *testing.T) {
		t.Parallel()
		_, err := consent.NewEngine(consent.Config{Packs: append(consent.DefaultPacks(), consent.Federal())})
		require.ErrorIs(t, err, consent.ErrInvalidPack)
	})
	t.Run("malformed rule", func(t *testing.T) {
		t.Parallel()
		p := consent.Federal()
		p.Rules[0].Window = &consent.Window{Start: 21 * h, End: 8 * h}
		_, err := consent.NewEngine(consent.Config{Packs: []*consent.Pack{p, consent.Connecticut(), consent.RegF()}})
		require.ErrorIs(t, err, consent.ErrInvalidPack)
	})
	t.Run("entry times on a list that has none", func(t *testing.T) {
		t.Parallel()
		p := consent.Federal()
		for i := range p.Rules {
			if p.Rules[i].DNC == consent.DNCNational {
				p.Rules[i].DNCExemptAfterEntry = true // the registry's numbers have no entry times
			}
		}
		_, err := consent.NewEngine(consent.Config{Packs: []*consent.Pack{p, consent.Connecticut(), consent.RegF()}})
		require.ErrorIs(t, err, consent.ErrInvalidPack)
		require.ErrorContains(t, err, "only its entries have times")
	})
	t.Run("packs are copied", func(t *testing.T) {
		t.Parallel()
		p := consent.Federal()
		b := setup(t, consent.Config{Packs: []*consent.Pack{p, consent.Connecticut(), consent.RegF()}})
		p.Rules[0].Consent = consent.ConsentNone // must not reach the engine
		at := noon(t)
		d := b.eng.Check(consent.Input{Number: nyNumber, Purpose: consent.PurposeInformational, Method: consent.MethodPrerecorded, At: at}, facts(at, consent.ConsentNone, 0))
		require.Equal(t, reasons(consent.ReasonConsentMissing), d.Reasons)
	})
}

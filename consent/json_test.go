package consent_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/consent"
)

// TestDecisionJSON checks the stable JSON form heed check prints.
func TestDecisionJSON(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		d    consent.Decision
		want string
	}{
		{"allow with consent", consent.Decision{Verdict: consent.Allow, Pack: "p@1", ConsentID: 42},
			`{"decision":"allow","until":null,"reasons":[],"pack":"p@1","consent_id":42}`},
		{"deny", consent.Decision{Verdict: consent.Deny, Reasons: []consent.Reason{consent.ReasonDNCInternal, consent.ReasonConsentMissing}, Pack: "p@1"},
			`{"decision":"deny","until":null,"reasons":["dnc.internal","consent.missing"],"pack":"p@1","consent_id":null}`},
		{"defer", consent.Decision{Verdict: consent.Defer, Until: time.Date(2026, 3, 8, 12, 0, 0, 0, time.UTC), Reasons: []consent.Reason{consent.ReasonWindowOutside}, Pack: "p@1"},
			`{"decision":"defer","until":"2026-03-08T12:00:00Z","reasons":["window.outside"],"pack":"p@1","consent_id":null}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			b, err := json.Marshal(c.d)
			require.NoError(t, err)
			require.Equal(t, c.want, string(b))
			var back consent.Decision
			require.NoError(t, json.Unmarshal(b, &back))
			require.Equal(t, c.d.Verdict, back.Verdict)
			require.Equal(t, c.d.Reasons, back.Reasons)
			require.True(t, c.d.Until.Equal(back.Until))
			require.Equal(t, c.d.ConsentID, back.ConsentID)
		})
	}

	t.Run("a real decision", func(t *testing.T) {
		t.Parallel()
		b := setup(t, consent.Config{})
		at := time.Date(2026, 3, 8, 6, 30, 0, 0, time.UTC)
		d := b.eng.Check(consent.Input{Number: ctNumber, Purpose: consent.PurposeTelemarketing, Method: consent.MethodLive, At: at}, facts(at, consent.ConsentPEWC, 17))
		out, err := json.Marshal(d)
		require.NoError(t, err)
		require.JSONEq(t, `{"decision":"defer","until":"2026-03-08T13:00:00Z","reasons":["window.outside"],"pack":"`+b.eng.Version()+`","consent_id":17}`, string(out))
	})

	t.Run("unknown verdict", func(t *testing.T) {
		t.Parallel()
		var d consent.Decision
		require.Error(t, json.Unmarshal([]byte(`{"decision":"maybe"}`), &d))
	})
}

// TestReasonSet checks the bitmask form of reasons.
func TestReasonSet(t *testing.T) {
	t.Parallel()
	s := consent.ReasonBit(consent.ReasonWindowOutside) | consent.ReasonBit(consent.ReasonDNCInternal)
	require.True(t, s.Has(consent.ReasonDNCInternal))
	require.False(t, s.Has(consent.ReasonDNCNational))
	require.False(t, s.Has("no.such.reason"))
	require.Zero(t, consent.ReasonBit("no.such.reason"))
	require.Equal(t, 2, s.Len())
	require.Equal(t, []consent.Reason{consent.ReasonDNCInternal, consent.ReasonWindowOutside}, s.Reasons())
	require.Equal(t, []consent.Reason{"x", consent.ReasonDNCInternal, consent.ReasonWindowOutside}, s.AppendTo([]consent.Reason{"x"}))
	a, b := s.Reasons(), s.Reasons()
	require.Same(t, &a[0], &b[0], "interned")
	require.Equal(t, len(a), cap(a), "appending must not write into the shared array")
	require.Nil(t, consent.ReasonSet(0).Reasons())

	for _, r := range []consent.Reason{
		consent.ReasonNumberInvalid, consent.ReasonNumberUnsupported, consent.ReasonDNCInternal, consent.ReasonDNCNational,
		consent.ReasonDNCState, consent.ReasonDNCLitigator, consent.ReasonDNCNationalStale, consent.ReasonConsentMissing,
		consent.ReasonConsentInsufficient, consent.ReasonConsentRevoked, consent.ReasonConsentExpired, consent.ReasonWindowOutside,
		consent.ReasonWindowDay, consent.ReasonCapFrequency, consent.ReasonCapAfterConversation, consent.ReasonCapResidential,
		consent.ReasonIndexStale, consent.ReasonEthicsSolicitation, consent.ReasonScriptIdentification, consent.ReasonScriptCallback,
		consent.ReasonScriptOptout, consent.ReasonScriptDisclosure, consent.ReasonScriptAdvertisingMatl,
	} {
		require.NotZero(t, consent.ReasonBit(r), r)
	}
}

// TestParse checks the parsers of the input vocabulary.
func TestParse(t *testing.T) {
	t.Parallel()
	m, err := consent.ParseMethod("live")
	require.NoError(t, err)
	require.Equal(t, consent.MethodLive, m)
	_, err = consent.ParseMethod("robot")
	require.Error(t, err)
	l, err := consent.ParseLineType("")
	require.NoError(t, err)
	require.Equal(t, consent.LineUnknown, l)
	_, err = consent.ParseLineType("fax")
	require.Error(t, err)
	k, err := consent.ParseConsentKind("pewc")
	require.NoError(t, err)
	require.Equal(t, consent.ConsentPEWC, k)
	require.Equal(t, "pewc", k.String())
	_, err = consent.ParseConsentKind("oral")
	require.Error(t, err)
}

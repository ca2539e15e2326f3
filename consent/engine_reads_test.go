package consent_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/consent"
)

// TestReadsCoversWhatDecideReads checks the promise the pacing loop relies
// on to skip per-batch lookups: where Reads says a fact is not read, setting
// it changes no decision; where it matters, Reads says so.
func TestReadsCoversWhatDecideReads(t *testing.T) {
	t.Parallel()
	ny, err := time.LoadLocation("America/New_York")
	require.NoError(t, err)
	at := time.Date(2026, 11, 24, 15, 0, 0, 0, ny) // a Tuesday afternoon
	var hist []consent.Attempt
	for i := 1; i <= 8; i++ { // eight calls in the last six days, one answered
		hist = append(hist, consent.Attempt{At: at.Add(-time.Duration(i) * 17 * time.Hour), Conversation: i == 2})
	}
	facts := consent.Facts{Fresh: true, NationalAsOf: at.AddDate(0, 0, -1),
		Consent: consent.ConsentFacts{ID: 7, Kind: consent.ConsentPEWC, ObtainedAt: at.AddDate(0, -1, 0)}}
	purposes := []consent.Purpose{consent.PurposeInformational, consent.PurposeTelemarketing, consent.PurposeDebtCollection, consent.PurposeSolicitation}
	methods := []consent.Method{consent.MethodPrerecorded, consent.MethodLive}
	lines := []consent.LineType{consent.LineWireless, consent.LineLandline, consent.LineUnknown}
	changed := map[string]bool{}
	for _, firm := range []consent.FirmPolicy{{}, {CheckReassigned: true}} {
		e, err := consent.NewEngine(consent.Config{Firm: firm})
		require.NoError(t, err)
		for _, p := range purposes {
			for _, m := range methods {
				for _, l := range lines {
					in := consent.Input{Number: "+18605550101", State: "CT", Purpose: p, Method: m, Line: l, At: at, History: hist}
					base := e.Check(in, facts)
					waived := in
					waived.RegFDirectConsent, waived.SolicitationException = true, true
					reassigned := facts
					reassigned.ReassignedAt = at.AddDate(0, 0, -1)
					reads := e.Reads(p, m, l)
					if d := e.Check(waived, facts); !reads.Overrides {
						require.Equal(t, base, d, "%s %s %s: overrides are read though Reads says not", p, m, l)
					} else if d.Verdict != base.Verdict {
						changed["overrides"] = true
					}
					if d := e.Check(in, reassigned); !reads.Reassigned {
						require.Equal(t, base, d, "%s %s %s (firm %+v): the reassigned date is read though Reads says not", p, m, l, firm)
					} else if d.Verdict != base.Verdict {
						changed["reassigned"] = true
					}
				}
			}
		}
	}
	// The cases the lookups exist for: Reg F's cap waived by direct consent,
	// a live solicitation exception, consent lost to a reported disconnection.
	require.True(t, changed["overrides"], "an override changed some decision")
	require.True(t, changed["reassigned"], "a reassigned number changed some decision")
	plain, err := consent.NewEngine(consent.Config{})
	require.NoError(t, err)
	require.Equal(t, consent.FactNeeds{Overrides: true}, plain.Reads(consent.PurposeDebtCollection, consent.MethodPrerecorded, consent.LineUnknown))
	require.Equal(t, consent.FactNeeds{Overrides: true}, plain.Reads(consent.PurposeSolicitation, consent.MethodLive, consent.LineWireless))
	require.Equal(t, consent.FactNeeds{}, plain.Reads(consent.PurposeInformational, consent.MethodPrerecorded, consent.LineUnknown),
		"an informational reminder reads neither: the pacing loop skips both lookups")
}

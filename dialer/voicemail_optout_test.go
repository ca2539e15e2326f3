package dialer_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/asterisk/testbed"
	"github.com/heed-dialer/heed/consent"
	"github.com/heed-dialer/heed/dialer"
	"github.com/heed-dialer/heed/internal/phone"
)

// TestVoicemailOffersTheOptOutKey: the voicemail version, which a person
// whom answering-machine detection takes for a machine hears, offers the
// key-press opt-out within 2 s after the identification (F7), as the call
// does: read as a call's text, it passes every script check, for every
// purpose, and still leaves the toll-free opt-out number.
func TestVoicemailOffersTheOptOutKey(t *testing.T) {
	t.Parallel()
	engine, err := consent.NewEngine(consent.Config{})
	require.NoError(t, err)
	at := time.Date(2026, 11, 26, 15, 0, 0, 0, time.UTC)
	const firm, msg = "Smith and Lee LLP", "Your hearing is on Tuesday, December 1 at 9:30 AM at the Hartford courthouse."
	for _, purpose := range []consent.Purpose{consent.PurposeInformational, consent.PurposeDebtCollection, consent.PurposeSolicitation, consent.PurposeTelemarketing} {
		txt := dialer.Script(dialer.Campaign{Purpose: purpose, CallerID: "+18605550100"}, firm, "+18005550199")
		vm := txt.Voicemail(msg)
		require.Contains(t, txt.VoicemailOpening, "press "+dialer.OptOutKey, purpose)
		s := consent.Script{Purpose: purpose, Method: consent.MethodPrerecorded, Text: vm, Voicemail: vm,
			FirmName: firm, Callback: "+18605550100", VoicemailOptOut: "+18005550199", States: []string{"NY"}, NationalAsOf: at.Add(-24 * time.Hour), At: at}
		require.Empty(t, engine.CheckScript(s), "%s:\n%s", purpose, vm)
	}
}

// TestOptOutKeyOnTheVoicemailVersion: a person whom answering-machine
// detection takes for a machine (PSTN 19: "hello" five times) hears the
// voicemail version, which offers the opt-out key; the switch honours
// keys while it plays, so their 9 takes the opt-out and heed hangs up at
// once: the call ends opted_out, not machine, and the opt-out is recorded.
func TestOptOutKeyOnTheVoicemailVersion(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	tb := testbed.ForTest(ctx, t)
	x := phone.Number("+18605550419")
	w, p, lines := optOutCall(ctx, t, amdSwitch(ctx, t, tb, "optout-vm", true), tb, x, nil)
	gap, ev := lines.keyToHangup(t)
	t.Logf("AMD %q: key 9 during the voicemail version -> hang-up %.2f s; outcome %q", ev.AMD, gap.Seconds(), attemptOutcome(t, w, w.campaignID, x))
	require.True(t, strings.HasPrefix(ev.AMD, "MACHINE "), "AMD took the person for a machine: %q", ev.AMD)
	require.Equal(t, "9", ev.DTMF)
	require.Less(t, gap, hangupBound)
	require.Equal(t, string(dialer.OutcomeOptedOut), attemptOutcome(t, w, w.campaignID, x))
	requireOptedOutRecorded(t, w, x)
	require.NoError(t, p.Drain(ctx))
}

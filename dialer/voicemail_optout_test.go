package dialer_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/asterisk/testbed"
	"github.com/heed-dialer/heed/dialer"
	"github.com/heed-dialer/heed/internal/phone"
)

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

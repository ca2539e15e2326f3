package dialer_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/consent"
	"github.com/heed-dialer/heed/dialer"
)

// TestScriptPassesLaunchChecks: the call heed assembles around a message
// meets the F7 and E1 script rules by itself, for every purpose, and so
// does its voicemail version read as a call, so the launch checks only
// ever refuse what the paralegal's message lacks. An answering machine may
// hear the call itself (detection off, an Asterisk without it, a NOTSURE or
// HUMAN verdict on a machine, a failed Continue) or, on a call a stopped
// process left, the abandoned-call message: both leave the toll-free
// opt-out number a voicemail must (F7), and the call passes as a
// voicemail.
func TestScriptPassesLaunchChecks(t *testing.T) {
	t.Parallel()
	engine, err := consent.NewEngine(consent.Config{})
	require.NoError(t, err)
	at := time.Date(2026, 11, 26, 15, 0, 0, 0, time.UTC)
	const firm, msg = "Smith and Lee LLP", "Your hearing is on Tuesday, December 1 at 9:30 AM at the Hartford courthouse."
	for _, purpose := range []consent.Purpose{consent.PurposeInformational, consent.PurposeDebtCollection, consent.PurposeSolicitation, consent.PurposeTelemarketing} {
		for _, record := range []bool{false, true} {
			c := dialer.Campaign{Purpose: purpose, CallerID: "+18605550100", Record: record, TransferTo: "+18605550111"}
			txt := dialer.Script(c, firm, "+18005550199")
			s := consent.Script{Purpose: purpose, Method: consent.MethodPrerecorded, Text: txt.Call(msg), Voicemail: txt.Voicemail(msg),
				VoicemailOptOut: "+18005550199", FirmName: firm, Callback: "+18605550100", States: []string{"NY"}, NationalAsOf: at.Add(-24 * time.Hour), At: at}
			require.Empty(t, engine.CheckScript(s), "%s, recorded %v:\n%s\n%s", purpose, record, s.Text, s.Voicemail)
			// The voicemail version, which a person whom answering-machine
			// detection takes for a machine hears, offers the key-press
			// opt-out within 2 s after the identification (F7), as the
			// call does: read as a call's text, it passes too, and still
			// leaves the toll-free opt-out number.
			require.Contains(t, txt.VoicemailOpening, "press "+dialer.OptOutKey, purpose)
			vm := s
			vm.Text = s.Voicemail
			require.Empty(t, engine.CheckScript(vm), "%s, recorded %v, the voicemail version as a call:\n%s", purpose, record, vm.Text)
			heard := s
			heard.Voicemail = s.Text
			require.Empty(t, engine.CheckScript(heard), "%s, recorded %v, the call as what a machine is left:\n%s", purpose, record, heard.Text)
			require.Contains(t, txt.Closing, "To stop these calls, call 8 0 0, 5 5 5, 0 1 9 9.", purpose)
			require.Contains(t, txt.Abandoned, "To stop these calls, press 9, or call 8 0 0, 5 5 5, 0 1 9 9.", purpose)
		}
	}

	// What the checks still catch: a voicemail whose opt-out number (the
	// callback number, as no opt-out number is set) is not toll-free,
	// a stale national registry copy for telemarketing, and a Connecticut
	// sales call without its disclosure.
	c := dialer.Campaign{Purpose: consent.PurposeTelemarketing, CallerID: "+18605550100"}
	txt := dialer.Script(c, firm, "")
	s := consent.Script{Purpose: consent.PurposeTelemarketing, Method: consent.MethodPrerecorded, Text: txt.Call(msg), Voicemail: txt.Voicemail(msg),
		VoicemailOptOut: "+18605550100", FirmName: firm, Callback: "+18605550100", States: []string{"CT"}, NationalAsOf: at.Add(-40 * 24 * time.Hour), At: at}
	require.ElementsMatch(t, []consent.Reason{"script.callback", "dnc.national_stale", "script.disclosure"}, engine.CheckScript(s))
}

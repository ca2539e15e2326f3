package dialer_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/consent"
	"github.com/heed-dialer/heed/dialer"
	"github.com/heed-dialer/heed/internal/phone"
)

// TestScriptPassesLaunchChecks: the call heed assembles around a message
// meets the F7 and E1 script rules by itself, for every purpose, and so
// does its voicemail version read as a call, so the launch checks only
// ever refuse what the paralegal's message lacks. Where an answering
// machine may hear the call itself (detection off for the campaign, or an
// Asterisk without it: dialer.MachinesHearCall), the call also passes as
// a voicemail, leaving the toll-free opt-out number (F7); where every
// machine is detected it does not say that number, which only the
// voicemail version needs.
func TestScriptPassesLaunchChecks(t *testing.T) {
	t.Parallel()
	engine, err := consent.NewEngine(consent.Config{})
	require.NoError(t, err)
	at := time.Date(2026, 11, 26, 15, 0, 0, 0, time.UTC)
	const firm, msg = "Smith and Lee LLP", "Your hearing is on Tuesday, December 1 at 9:30 AM at the Hartford courthouse."
	for _, purpose := range []consent.Purpose{consent.PurposeInformational, consent.PurposeDebtCollection, consent.PurposeSolicitation, consent.PurposeTelemarketing} {
		for _, record := range []bool{false, true} {
			c := dialer.Campaign{Purpose: purpose, CallerID: "+18605550100", Record: record, TransferTo: "+18605550111"}
			txt := dialer.Script(c, firm, "+18005550199", false)
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
			require.Equal(t, []consent.Reason{"script.callback"}, engine.CheckScript(heard), "%s: the call, where every machine is detected, leaves no opt-out number", purpose)
			heard.Text = dialer.Script(c, firm, "+18005550199", true).Call(msg)
			heard.Voicemail = heard.Text
			require.Empty(t, engine.CheckScript(heard), "%s, recorded %v, the call where a machine may hear it:\n%s", purpose, record, heard.Text)
		}
	}
	for _, c := range []struct {
		c          dialer.Campaign
		everywhere bool
		want       bool
	}{
		{dialer.Campaign{}, true, false},
		{dialer.Campaign{}, false, true},
		{dialer.Campaign{AMD: dialer.AMDSettings{Off: true}}, true, true},
		{dialer.Campaign{AMD: dialer.AMDSettings{Off: true}}, false, true},
	} {
		require.Equal(t, c.want, dialer.MachinesHearCall(c.c, c.everywhere), "%+v, detection everywhere %v", c.c.AMD, c.everywhere)
	}

	// What the checks still catch: a voicemail whose opt-out number (the
	// callback number, as no opt-out number is set) is not toll-free,
	// a stale national registry copy for telemarketing, and a Connecticut
	// sales call without its disclosure.
	c := dialer.Campaign{Purpose: consent.PurposeTelemarketing, CallerID: "+18605550100"}
	txt := dialer.Script(c, firm, "", false)
	s := consent.Script{Purpose: consent.PurposeTelemarketing, Method: consent.MethodPrerecorded, Text: txt.Call(msg), Voicemail: txt.Voicemail(msg),
		VoicemailOptOut: "+18605550100", FirmName: firm, Callback: "+18605550100", States: []string{"CT"}, NationalAsOf: at.Add(-40 * 24 * time.Hour), At: at}
	require.ElementsMatch(t, []consent.Reason{"script.callback", "dnc.national_stale", "script.disclosure"}, engine.CheckScript(s))
}

// TestPacerLeavesTheOptOutNumberWhereMachinesMayHearTheCall: the pacing
// loop's call ends with the toll-free opt-out number (rule F7) exactly
// where an answering machine may hear the call itself: the campaign turns
// detection off, or an Asterisk runs none (Pacer.DetectionEverywhere
// false). Before, with every HEED_AMD_CONTEXT empty, a machine heard a
// call that left no opt-out number.
func TestPacerLeavesTheOptOutNumberWhereMachinesMayHearTheCall(t *testing.T) {
	ctx := context.Background()
	const x = phone.Number("+18605550421")
	for _, c := range []struct {
		everywhere, off, want bool
	}{
		{true, false, false},
		{false, false, true},
		{true, true, true},
	} {
		w := newPersonWorld(t)
		if c.off {
			_, err := w.db.Exec(ctx, `UPDATE campaigns SET amd = '{"off": true}' WHERE id = $1`, w.campaignID)
			require.NoError(t, err)
		}
		w.contact(w.list, x, "")
		lines := &recordingLines{t: t, db: w.db}
		p := w.pacer(lines)
		p.OptOutNumber, p.DetectionEverywhere = "+18005550199", c.everywhere
		if err := p.Run(ctx, w.campaignID, 1); err != nil {
			var sn *dialer.Snooze
			require.ErrorAs(t, err, &sn)
		}
		require.Len(t, lines.reqs, 1)
		req := lines.reqs[0]
		closing := dialer.Script(dialer.Campaign{CallerID: "+18605550100"}, p.Firm, p.OptOutNumber, c.want).Closing
		require.Equal(t, c.want, strings.Contains(closing, "To stop these calls, call 8 0 0, 5 5 5, 0 1 9 9."))
		want, err := p.Media.Speak(ctx, closing)
		require.NoError(t, err)
		require.Equal(t, want, req.Media[len(req.Media)-1], "detection everywhere %v, off %v: the call's closing is %q", c.everywhere, c.off, closing)
	}
}

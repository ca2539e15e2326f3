package campaign

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/consent"
	"github.com/heed-dialer/heed/dialer"
)

// The firm, opt-out number and caller ID of the launch checks the C4
// detection tests run.
const c4Firm, c4OptOut, c4CallerID = "Smith and Lee", "+18005550199", "+18605550100"

// ctLaunch returns launch checks for a Connecticut sales campaign of firm,
// (c4Firm, leaving c4OptOut) with the default packs, a fresh national copy
// and heed's voice rendering into a directory of the test's, and that
// voice.
func ctLaunch(t *testing.T) (*Launch, dialer.Media) {
	t.Helper()
	dir := t.TempDir()
	media := dialer.Media{HostDir: dir, AsteriskDir: dir}
	engine, err := consent.NewEngine(consent.Config{})
	require.NoError(t, err)
	return &Launch{Engine: func() *consent.Engine { return engine }, Firm: c4Firm, OptOutNumber: c4OptOut,
		NationalAsOf: func(context.Context) (time.Time, error) { return time.Now(), nil }, Voice: media}, media
}

// TestC4RefusedWithDetection: a Connecticut sales campaign whose person's
// version says the disclosure within 10 s, with the shortest detection the
// form allows (total analysis, initial silence and greeting 1000 ms), is
// refused when an Asterisk runs answering-machine detection. A person
// detection takes for a machine (silent for 1 s, or saying more than two
// words; the testbed's PSTN 19 is one) hears the voicemail version: the
// dialplan waits for 1.2 s of silence after the MACHINE verdict
// (asterisk/pbx/extensions.conf WaitForSilence(1200,1,20)), then heed
// plays its voicemail opening (the opt-out number said digit by digit)
// before the message, which puts the disclosure past 10 s even counting
// nothing for detection itself, measured here on the real audio. The
// refusal says why and does not suggest shortening detection; without
// detection the same campaign passes.
func TestC4RefusedWithDetection(t *testing.T) {
	ctx := context.Background()
	launch, media := ctLaunch(t)
	const firm, optOut, callerID = c4Firm, c4OptOut, c4CallerID
	amd := dialer.AMDSettings{TotalAnalysisTime: 1000, InitialSilence: 1000, Greeting: 1000}
	for _, disclosure := range []string{"Calling about your claim.", "We are calling about your claim."} {
		msg := disclosure + " Would you like to continue, end the call, or be removed from our list? To end this call, hang up."
		c := Campaign{Purpose: consent.PurposeTelemarketing, Message: msg, CallerID: callerID, Callback: callerID, AMD: amd}

		launch.NoDetection = true
		require.NoError(t, launch.Check(ctx, c, []string{"CT"}, true), "%q: the person's version is in time without detection", disclosure)

		launch.NoDetection = false
		checkErr := launch.Check(ctx, c, []string{"CT"}, true)
		t.Logf("%q: launch check with detection (total analysis %d ms): %v", disclosure, amd.TotalAnalysisTime, checkErr)
		var le *LaunchError
		require.ErrorAs(t, checkErr, &le, "%q: refused with detection on", disclosure)
		require.Equal(t, []consent.Reason{consent.ReasonScriptDisclosure}, le.Reasons)
		require.Len(t, le.Details, 1)
		require.Contains(t, le.Details[0], dialer.ErrDetection.Error())
		require.NotContains(t, checkErr.Error(), "detection's wait", "the refusal does not offer a shorter detection as the remedy")
		require.Contains(t, checkErr.Error(), "every HEED_AMD_CONTEXT empty")

		// Why: the voicemail version's disclosure, at the least.
		txt := dialer.Script(dialer.Campaign{Purpose: c.Purpose, CallerID: callerID, Callback: callerID}, firm, optOut)
		vmOpening, err := media.Measure(ctx, txt.VoicemailOpening)
		require.NoError(t, err)
		said, err := media.Measure(ctx, disclosure)
		require.NoError(t, err)
		heard := 1200*time.Millisecond + vmOpening.Length + said.Sound
		t.Logf("voicemail version: 1.20 s silence wait + voicemail opening %.2f s (%q) + %q %.2f s = %.2f s at least",
			vmOpening.Length.Seconds(), txt.VoicemailOpening, disclosure, said.Sound.Seconds(), heard.Seconds())
		require.Greater(t, heard, 10*time.Second, "a person taken for a machine hears the disclosure after 10 s")
	}
}

// TestC4PassesWithDetectionOff: where an Asterisk runs answering-machine
// detection, the Connecticut sales campaign TestC4RefusedWithDetection
// refuses passes once the campaign turns detection off (AMD.Off, its
// thresholds left as they were): its calls play the person's version at
// once on answer, which is timed as having no detection. Turning detection
// off makes an answering machine hear the call itself, so the call's text
// must then leave the toll-free opt-out number a voicemail leaves (rule
// F7): it does (in its closing), and with no toll-free number to leave the
// campaign is refused, saying that the machine hears the call.
func TestC4PassesWithDetectionOff(t *testing.T) {
	ctx := context.Background()
	launch, _ := ctLaunch(t)
	const firm, optOut, callerID = c4Firm, c4OptOut, c4CallerID
	msg := "We are calling about your claim. Would you like to continue, end the call, or be removed from our list? To end this call, hang up."
	c := Campaign{Purpose: consent.PurposeTelemarketing, Message: msg, CallerID: callerID, Callback: callerID,
		AMD: dialer.AMDSettings{TotalAnalysisTime: 1000, InitialSilence: 1000, Greeting: 1000}}

	var le *LaunchError
	require.ErrorAs(t, launch.Check(ctx, c, []string{"CT"}, true), &le, "detection on, where an Asterisk runs it: refused")
	require.Equal(t, []consent.Reason{consent.ReasonScriptDisclosure}, le.Reasons)

	c.AMD.Off = true
	require.NoError(t, launch.Check(ctx, c, []string{"CT"}, true), "detection off for the campaign: timed without detection, in time")
	txt := dialer.Script(dialer.Campaign{Purpose: c.Purpose, CallerID: callerID, Callback: callerID, AMD: c.AMD}, firm, optOut)
	require.Contains(t, txt.Call(msg), "To stop these calls, call 8 0 0, 5 5 5, 0 1 9 9.", "the call itself leaves the toll-free opt-out number")

	// No toll-free number to leave: the callback (a Connecticut number)
	// would be the opt-out number, and a machine hears the call itself.
	launch.OptOutNumber = ""
	checkErr := launch.Check(ctx, c, []string{"CT"}, true)
	t.Logf("detection off, no toll-free opt-out number: %v", checkErr)
	require.ErrorAs(t, checkErr, &le)
	require.Equal(t, []consent.Reason{consent.ReasonScriptCallback}, le.Reasons)
	require.Contains(t, checkErr.Error(), "the call's closing, which an answering machine may record, leave +18605550100")
}

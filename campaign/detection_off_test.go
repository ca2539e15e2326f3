package campaign

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/consent"
	"github.com/heed-dialer/heed/dialer"
)

// TestDetectionOffCampaign: a campaign may turn answering-machine
// detection off (amd.off). Where an Asterisk runs detection, a
// Connecticut sales campaign with it off starts, where the same campaign
// with it on is refused (rule C4). Turning it off makes an answering
// machine hear the call itself, which must then leave a toll-free number
// that takes opt-outs (rule F7): without one (HEED_OPTOUT_NUMBER unset and
// a callback number that is not toll-free) the campaign is refused when
// created, when edited to turn detection off, and at its start should the
// configuration change after it was saved; nothing is stored then. The
// setting is kept with the thresholds, and the audit log holds it and its
// change.
func TestDetectionOffCampaign(t *testing.T) {
	t.Parallel()
	s, db := newService(t)
	s.Launch.NationalAsOf = func(context.Context) (time.Time, error) { return time.Now().Add(-24 * time.Hour), nil }
	ctx := context.Background()
	ct := importList(t, s, "ct", "name,phone,state\nAnn,8605550101,CT\n")
	const msg = "We are calling about your claim. Would you like to continue, end the call, or be removed from our list? To end this call, hang up."
	thresholds := dialer.AMDSettings{TotalAnalysisTime: 1000, InitialSilence: 1000, Greeting: 1000}
	in := NewCampaign{Name: "offer", Purpose: "telemarketing", ListID: ct, CallerID: "860-555-0100", Message: msg, AMD: thresholds}

	// Detection on, where an Asterisk runs it: refused at the start.
	on, err := s.Create(ctx, in, 0)
	require.NoError(t, err)
	_, err = s.Start(ctx, on.ID)
	var le *LaunchError
	require.ErrorAs(t, err, &le)
	require.Equal(t, []consent.Reason{consent.ReasonScriptDisclosure}, le.Reasons)
	require.ErrorContains(t, err, "or with detection turned off for the campaign (amd.off")

	// Detection off: stored with the thresholds, and it starts.
	in.AMD.Off = true
	off, err := s.Create(ctx, in, 0)
	require.NoError(t, err)
	require.Equal(t, in.AMD, off.AMD)
	dc, err := NewStore(db).Campaign(ctx, off.ID)
	require.NoError(t, err)
	require.True(t, dc.AMD.Off, "the pacer reads the setting")
	require.Equal(t, thresholds.Greeting, dc.AMD.Greeting)
	_, err = s.Start(ctx, off.ID)
	require.NoError(t, err)
	require.Equal(t, "running", campaignStatus(t, db, off.ID))
	var audited bool
	require.NoError(t, db.QueryRow(ctx, `SELECT (details->'amd'->>'off')::boolean FROM audit_log WHERE tbl = 'campaigns' AND row_id = $1 AND op = 'insert'`,
		off.ID).Scan(&audited))
	require.True(t, audited, "the audit log holds the setting as created")

	// No toll-free opt-out number: refused when created, with detection off
	// only (detection on is refused at its start, as before).
	s.Launch.OptOutNumber = ""
	_, err = s.Create(ctx, in, 0)
	var fe FieldErrors
	require.ErrorAs(t, err, &fe)
	require.True(t, errors.Is(err, ErrInvalid))
	require.Equal(t, FieldErrors{"amd.off": "with answering-machine detection off, an answering machine hears the call itself, which must then leave a toll-free number " +
		"(area code 800, 833, 844, 855, 866, 877 or 888) that takes opt-outs (rule F7): it would leave +18605550100 (the campaign's callback number, as " +
		"HEED_OPTOUT_NUMBER is not set), which is not toll-free; give the campaign a toll-free callback number, or have HEED_OPTOUT_NUMBER set to one"}, fe)
	withTollFree := in
	withTollFree.Callback = "+18885550123"
	_, err = s.Create(ctx, withTollFree, 0)
	require.NoError(t, err, "a toll-free callback number is left instead")

	// An edit that turns detection off is refused too, and changes
	// nothing; one that turns it back on is audited with what it replaced.
	in.AMD.Off = false
	draft, err := s.Create(ctx, in, 0)
	require.NoError(t, err)
	in.AMD.Off = true
	_, err = s.Update(ctx, draft.ID, in, Edit{})
	require.ErrorAs(t, err, &fe)
	require.Contains(t, fe["amd.off"], "is not toll-free")
	got, err := s.Get(ctx, draft.ID)
	require.NoError(t, err)
	require.False(t, got.AMD.Off, "the refused edit changed nothing")
	_, err = s.Update(ctx, off.ID, withTollFree, Edit{})
	require.ErrorIs(t, err, ErrInvalidTransition, "a running campaign is not edited")
	offDraft, err := s.Create(ctx, withTollFree, 0)
	require.NoError(t, err)
	withTollFree.AMD.Off = false
	_, err = s.Update(ctx, offDraft.ID, withTollFree, Edit{})
	require.NoError(t, err)
	var before bool
	require.NoError(t, db.QueryRow(ctx, `SELECT (details->'before'->'amd'->>'off')::boolean FROM audit_log WHERE tbl = 'campaigns' AND row_id = $1 AND op = 'update'
		ORDER BY seq DESC LIMIT 1`, offDraft.ID).Scan(&before))
	require.True(t, before, "the audited edit shows detection was off before it")

	// Saved while HEED_OPTOUT_NUMBER was set, started after it was unset:
	// refused at the start, saying the machine hears the call itself.
	s.Launch.OptOutNumber = "+18005550199"
	in.AMD.Off = true
	late, err := s.Create(ctx, in, 0)
	require.NoError(t, err)
	s.Launch.OptOutNumber = ""
	_, err = s.Start(ctx, late.ID)
	require.ErrorAs(t, err, &le)
	require.Equal(t, []consent.Reason{consent.ReasonScriptCallback}, le.Reasons)
	require.ErrorContains(t, err, "the call's closing, which an answering machine may record, leave")
	require.Equal(t, "draft", campaignStatus(t, db, late.ID))
}

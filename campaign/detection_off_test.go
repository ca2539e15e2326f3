package campaign

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/consent"
	"github.com/heed-dialer/heed/dialer"
)

// TestDetectionOffCampaign: a campaign may turn answering-machine
// detection off (amd.off). Where an Asterisk runs detection, a
// Connecticut sales campaign with it off starts, where the same campaign
// with it on is refused (rule C4). An answering machine then hears the
// call itself, whose closing leaves the toll-free opt-out number (rule F7,
// as every call's does): without one (HEED_OPTOUT_NUMBER unset and a
// callback number that is not toll-free) the campaign is refused at its
// start, as any campaign is. The setting is kept with the thresholds, and
// the audit log holds it and its change.
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

	// An edit that turns detection back on is audited with what it
	// replaced; a running campaign is not edited.
	withTollFree := in
	withTollFree.Callback = "+18885550123"
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

	// Without a toll-free number to leave, saved (as any campaign is) and
	// refused at its start, saying a machine may record the call's closing.
	in.AMD.Off = true
	s.Launch.OptOutNumber = ""
	late, err := s.Create(ctx, in, 0)
	require.NoError(t, err)
	_, err = s.Start(ctx, late.ID)
	require.ErrorAs(t, err, &le)
	require.Equal(t, []consent.Reason{consent.ReasonScriptCallback}, le.Reasons)
	require.ErrorContains(t, err, "the call's closing, which an answering machine may record, leave")
	require.Equal(t, "draft", campaignStatus(t, db, late.ID))
}

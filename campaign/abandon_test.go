package campaign

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/consent"
)

// TestTransferWithdrawnAtAbandonTarget: key 2 is offered while a campaign's
// abandoned calls stay under 1.5% of its answered calls over 30 days, and
// withdrawn once they reach it.
func TestTransferWithdrawnAtAbandonTarget(t *testing.T) {
	t.Parallel()
	s, db := newService(t)
	ctx := context.Background()
	listID := importList(t, s, "one", "name,phone\nAnn,8605550101\n")
	c, err := s.Create(ctx, NewCampaign{Name: "x", Purpose: "informational", ListID: listID, CallerID: "860-555-0100",
		Message: "Hello.", TransferTo: "+18605550112"}, 0)
	require.NoError(t, err)
	var contactID int64
	require.NoError(t, db.QueryRow(ctx, `SELECT contact_id FROM campaign_targets WHERE campaign_id = $1`, c.ID).Scan(&contactID))
	no := 0
	add := func(outcome string, n int, age string) {
		_, err := db.Exec(ctx, `
			INSERT INTO attempts (campaign_id, contact_id, attempt_no, phone, caller_id, decision, reasons, pack, decision_input, status, outcome, ended_at)
			SELECT $1, $2, $6 + i, '+18605550101', '+18605550100', 'allow', '{}', 'p', '{}', 'ended', $3, now() - $5::interval
			  FROM generate_series(1, $4) i`, c.ID, contactID, outcome, n, age, no)
		require.NoError(t, err)
		no += n
	}
	st := NewStore(db)
	st.abandonTTL = 0 // count at every load, so each step below is seen at once
	transfer := func() string {
		dc, err := st.Campaign(ctx, c.ID)
		require.NoError(t, err)
		return dc.TransferTo
	}
	require.Equal(t, "+18605550112", transfer(), "nothing abandoned yet")
	add("no_response", 66, "1 hour")
	add("abandoned", 1, "1 hour")
	require.Equal(t, "+18605550112", transfer(), "1 of 67 answered calls (1.49%) is under the target")
	add("busy", 50, "1 hour") // unanswered calls do not count either way
	require.Equal(t, "+18605550112", transfer())
	add("abandoned", 1, "1 hour")
	require.Empty(t, transfer(), "2 of 68 (2.9%) reaches the target: key 2 is withdrawn")
	add("confirmed", 70, "1 hour")
	require.Equal(t, "+18605550112", transfer(), "2 of 138 (1.45%) is under it again")
	add("abandoned", 5, "31 days")
	require.Equal(t, "+18605550112", transfer(), "abandoned calls older than 30 days do not count")
	add("opted_out", 1, "1 hour") // an opt-out with no office waited for
	require.Equal(t, "+18605550112", transfer(), "2 of 139 (1.44%)")
	// An abandoned call that ended with an opt-out keeps the office it
	// waited for: abandoned all the same.
	_, err = db.Exec(ctx, `
		INSERT INTO attempts (campaign_id, contact_id, attempt_no, phone, caller_id, decision, reasons, pack, decision_input, status, outcome, transfer_to, ended_at)
		VALUES ($1, $2, $3, '+18605550101', '+18605550100', 'allow', '{}', 'p', '{}', 'ended', 'opted_out', '+18605550112', now() - interval '1 hour')`, c.ID, contactID, no+1)
	require.NoError(t, err)
	no++
	require.Empty(t, transfer(), "3 of 140 (2.1%): the abandoned call that ended with a 9 counts")
	add("confirmed", 61, "1 hour")
	require.Equal(t, "+18605550112", transfer(), "3 of 201 (1.49%) is under it again")
	// An answered call without detection whose audio began more than 2 s
	// after the answer is abandoned too (F10, counted from the answer);
	// one whose audio began at 2 s, or later after detection (its time
	// included), is not. answered adds a call that lasted secs after the
	// answer, with its detection result, its audio start (nil: none), and
	// whether heed knew it (audio_known).
	answered := func(secs int, amd string, ms *int, known bool) {
		no++
		_, err := db.Exec(ctx, `
			INSERT INTO attempts (campaign_id, contact_id, attempt_no, phone, caller_id, decision, reasons, pack, decision_input, status, outcome,
			                      answered_at, ended_at, amd, audio_started_ms, audio_known)
			VALUES ($1, $2, $3, '+18605550101', '+18605550100', 'allow', '{}', 'p', '{}', 'ended', 'no_response',
			        now() - interval '1 hour' - make_interval(secs => $4), now() - interval '1 hour', $5, $6, $7)`, c.ID, contactID, no, secs, amd, ms, known)
		require.NoError(t, err)
	}
	late := func(ms int, amd string) { answered(30, amd, &ms, true) }
	late(2000, "")
	late(2500, "HUMAN HUMAN")
	require.Equal(t, "+18605550112", transfer(), "3 of 203 (1.48%)")
	late(2001, "")
	require.Empty(t, transfer(), "4 of 204 (1.96%): heed's audio began 2.001 s after the answer")
	add("confirmed", 66, "1 hour")
	require.Equal(t, "+18605550112", transfer(), "4 of 270 (1.48%)")
	// An answered call on which heed's audio never began (its first
	// playback failed, or the callee hung up on the silence) is abandoned
	// once it lasted more than 2 s after the answer; a row from before
	// heed knew (audio_known false) says nothing.
	silent := func(secs int, known bool) { answered(secs, "", nil, known) }
	silent(10, false)
	require.Equal(t, "+18605550112", transfer(), "4 of 271 (1.48%): a row from before heed knew")
	silent(1, true)
	require.Equal(t, "+18605550112", transfer(), "4 of 272 (1.47%): hung up within 2 s")
	silent(10, true)
	require.Empty(t, transfer(), "5 of 273 (1.83%): 10 s of silence from heed")
	add("confirmed", 61, "1 hour")
	require.Equal(t, "+18605550112", transfer(), "5 of 334 (1.497%)")

	// The pacing loop's store counts at most every abandonTTL: an abandoned
	// call shows at the next count, not before.
	cached := NewStore(db)
	dc, err := cached.Campaign(ctx, c.ID)
	require.NoError(t, err)
	require.Equal(t, "+18605550112", dc.TransferTo)
	add("abandoned", 5, "1 hour")
	dc, err = cached.Campaign(ctx, c.ID)
	require.NoError(t, err)
	require.Equal(t, "+18605550112", dc.TransferTo, "counted less than abandonTTL ago: the count is reused")
	cached.abandonTTL = 0
	dc, err = cached.Campaign(ctx, c.ID)
	require.NoError(t, err)
	require.Empty(t, dc.TransferTo, "10 of 339 once counted again")
}

// TestStoreAppliesFirmLimits: the firm's dialing limits (a lower abandonment
// target, a longer least ring time) hold for campaigns made before them.
func TestStoreAppliesFirmLimits(t *testing.T) {
	t.Parallel()
	s, db := newService(t)
	ctx := context.Background()
	listID := importList(t, s, "one", "name,phone\nAnn,8605550101\n")
	c, err := s.Create(ctx, NewCampaign{Name: "x", Purpose: "informational", ListID: listID, CallerID: "860-555-0100",
		Message: "Hello.", TransferTo: "+18605550112", RingSeconds: 20}, 0)
	require.NoError(t, err)
	var contactID int64
	require.NoError(t, db.QueryRow(ctx, `SELECT contact_id FROM campaign_targets WHERE campaign_id = $1`, c.ID).Scan(&contactID))
	_, err = db.Exec(ctx, `
		INSERT INTO attempts (campaign_id, contact_id, attempt_no, phone, caller_id, decision, reasons, pack, decision_input, status, outcome, ended_at)
		SELECT $1, $2, i, '+18605550101', '+18605550100', 'allow', '{}', 'p', '{}', 'ended', CASE WHEN i = 1 THEN 'abandoned' ELSE 'confirmed' END, now()
		  FROM generate_series(1, 80) i`, c.ID, contactID)
	require.NoError(t, err)
	st := NewStore(db)
	st.abandonTTL = 0
	dc, err := st.Campaign(ctx, c.ID)
	require.NoError(t, err)
	require.Equal(t, "+18605550112", dc.TransferTo, "1 of 80 (1.25%) is under heed's 1.5%")
	require.Equal(t, 20, dc.RingSeconds)
	engine, err := consent.NewEngine(consent.Config{Firm: consent.FirmPolicy{AbandonTarget: 0.01, MinRing: 30 * time.Second}})
	require.NoError(t, err)
	st.Limits = func() consent.DialingLimits { return engine.Limits().DialingLimits }
	dc, err = st.Campaign(ctx, c.ID)
	require.NoError(t, err)
	require.Empty(t, dc.TransferTo, "1 of 80 reaches the firm's 1%")
	require.Equal(t, 30, dc.RingSeconds, "the firm rings at least 30 s")
}

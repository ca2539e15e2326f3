package campaign

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/consent"
	"github.com/heed-dialer/heed/dialer"
	"github.com/heed-dialer/heed/internal/audit"
)

func TestRestoreContact(t *testing.T) {
	t.Parallel()
	s, db := newService(t)
	ctx := context.Background()
	draft, c, ids := withdrawable(t, s, db, "restore")
	var err error
	user := func(email string) int64 {
		var id int64
		require.NoError(t, db.QueryRow(ctx, `INSERT INTO users (email, role, password_hash) VALUES ($1, 'paralegal', 'x') RETURNING id`, email).Scan(&id))
		return id
	}
	pat, sam := user("pat@firm.test"), user("sam@firm.test")
	get := func() Campaign {
		t.Helper()
		got, err := s.Get(ctx, c.ID)
		require.NoError(t, err)
		return got
	}
	jobs := func(gen int64) int {
		return count(t, db, `SELECT count(*) FROM river_job WHERE kind = 'campaign_run' AND (args->>'campaign_id')::bigint = $1 AND (args->>'generation')::bigint = $2`, c.ID, gen)
	}
	contact := func(name string) CampaignContact {
		t.Helper()
		p, err := s.CampaignContacts(ctx, c.ID, ResultQuery{Search: name})
		require.NoError(t, err)
		require.Len(t, p.Contacts, 1)
		return p.Contacts[0]
	}
	_, err = db.Exec(ctx, `UPDATE campaign_targets SET state = CASE contact_id WHEN $2 THEN 'dialing' WHEN $3 THEN 'done' ELSE state END WHERE campaign_id = $1`,
		c.ID, ids["Bob"], ids["Cid"])
	require.NoError(t, err)

	// Ann, due again in an hour (a retry delay), is withdrawn by mistake
	// and put back: pending again, and due when she was due, not at once.
	var wasDue time.Time
	require.NoError(t, db.QueryRow(ctx, `UPDATE campaign_targets SET next_attempt_at = now() + interval '1 hour' WHERE campaign_id = $1 AND contact_id = $2
		RETURNING next_attempt_at`, c.ID, ids["Ann"]).Scan(&wasDue))
	require.NoError(t, s.SkipContact(ctx, c.ID, ids["Ann"], pat, "hearing cancelled"))
	before := time.Now()
	require.NoError(t, s.RestoreContact(ctx, c.ID, ids["Ann"], sam))
	var (
		state                 string
		due, restoredAt       time.Time
		restoredBy, skippedBy int64
	)
	require.NoError(t, db.QueryRow(ctx, `SELECT state, next_attempt_at, restored_at, restored_by, skipped_by FROM campaign_targets WHERE campaign_id = $1 AND contact_id = $2`,
		c.ID, ids["Ann"]).Scan(&state, &due, &restoredAt, &restoredBy, &skippedBy))
	require.Equal(t, "pending", state)
	require.True(t, due.Equal(wasDue), "the retry delay still holds: due %s, was due %s", due, wasDue)
	require.WithinDuration(t, before, restoredAt, time.Minute)
	require.Equal(t, sam, restoredBy)
	require.Equal(t, pat, skippedBy, "the withdrawal's columns stay")

	// The audit log has the withdrawal and the return, each with its
	// author, and the chain holds.
	var details []byte
	require.NoError(t, db.QueryRow(ctx, `SELECT details FROM audit_log WHERE tbl = 'campaign_targets' AND row_id = $1 ORDER BY seq DESC LIMIT 1`, ids["Ann"]).Scan(&details))
	var audited struct {
		State      string `json:"state"`
		RestoredBy int64  `json:"restored_by"`
		SkippedBy  int64  `json:"skipped_by"`
		Note       string `json:"skip_note"`
	}
	require.NoError(t, json.Unmarshal(details, &audited))
	require.Equal(t, "pending", audited.State)
	require.Equal(t, sam, audited.RestoredBy, "the return is in the audit log, with its author")
	require.Equal(t, pat, audited.SkippedBy, "and the withdrawal it undid")
	require.Equal(t, "hearing cancelled", audited.Note)
	require.Equal(t, 2, count(t, db, `SELECT count(*) FROM audit_log WHERE tbl = 'campaign_targets' AND row_id = $1`, ids["Ann"]))
	rep, err := audit.Verify(ctx, db)
	require.NoError(t, err, "the chain holds")
	require.Positive(t, rep.Rows)

	// The campaign runs again under a new generation, so that a run about
	// to complete it leaves it running, and its new run calls Ann.
	got := get()
	require.Equal(t, StatusRunning, got.Status)
	require.Equal(t, c.Generation+1, got.Generation)
	require.Equal(t, 1, jobs(got.Generation))
	require.Equal(t, 0, got.Counts.Skipped)
	open, ok := got.plan.next(wasDue)
	require.True(t, ok)
	due2, err := NewStore(db).Due(ctx, c.ID, 10, open)
	require.NoError(t, err)
	require.Len(t, due2, 1, "the pacer's query finds her due")
	require.Equal(t, ids["Ann"], due2[0].ContactID)

	// The page shows her to be called, not skipped, and who put her back.
	ann := contact("Ann")
	require.Equal(t, ResultNotCalled, ann.Result)
	require.Nil(t, ann.Skipped)
	require.NotNil(t, ann.Restored)
	require.Equal(t, "sam@firm.test", ann.Restored.By)
	var skippedAt time.Time
	require.NoError(t, db.QueryRow(ctx, `SELECT skipped_at FROM campaign_targets WHERE campaign_id = $1 AND contact_id = $2`, c.ID, ids["Ann"]).Scan(&skippedAt))
	require.True(t, skippedAt.Equal(ann.Restored.Withdrawal.At), "the withdrawal's time")
	require.Equal(t, "pat@firm.test", ann.Restored.Withdrawal.By)
	require.Equal(t, "hearing cancelled", ann.Restored.Withdrawal.Note)
	require.NotNil(t, ann.Next, "due")
	var csv strings.Builder
	require.NoError(t, s.ExportCampaignContacts(ctx, c.ID, ResultQuery{Search: "Ann"}, &csv))
	lines := strings.Split(strings.TrimSpace(csv.String()), "\n")
	require.Len(t, lines, 2)
	require.True(t, strings.HasSuffix(lines[0], ",skipped_at,skipped_by,skip_note,added_at,added_by,restored_at,restored_by,accident_date,line_type"), lines[0])
	require.Contains(t, lines[1], ",not_called,", "to be called")
	require.True(t, strings.HasSuffix(lines[1], ","+csvTime(&skippedAt)+",pat@firm.test,hearing cancelled,,,"+csvTime(&ann.Restored.At)+",sam@firm.test,,unknown"),
		"to be called, with the withdrawal it undid and who put it back: %s", lines[1])

	// Putting her back twice does nothing more.
	require.NoError(t, s.RestoreContact(ctx, c.ID, ids["Ann"], pat))
	require.Equal(t, got.Generation, get().Generation)
	require.Equal(t, 2, count(t, db, `SELECT count(*) FROM audit_log WHERE tbl = 'campaign_targets' AND row_id = $1`, ids["Ann"]))
	require.Equal(t, sam, int64(count(t, db, `SELECT restored_by FROM campaign_targets WHERE campaign_id = $1 AND contact_id = $2`, c.ID, ids["Ann"])))

	// The pacer records her attempt as any other's.
	req := dialer.Request{Phone: "+18605550101", Purpose: consent.PurposeInformational, Method: consent.MethodPrerecorded, At: time.Now()}
	_, err = NewStore(db).Decide(ctx, dialer.Target{CampaignID: c.ID, ContactID: ids["Ann"], AttemptNo: 1, Phone: "+18605550101"}, req,
		consent.Decision{Verdict: consent.Defer, Until: time.Now().Add(time.Hour), Pack: "p"})
	require.NoError(t, err)
	require.Equal(t, 1, count(t, db, `SELECT count(*) FROM attempts WHERE contact_id = $1`, ids["Ann"]))

	// Contacts not withdrawn are not put back; unknown ones are not found.
	err = s.RestoreContact(ctx, c.ID, ids["Bob"], sam)
	require.ErrorIs(t, err, ErrInvalidTransition)
	require.Contains(t, err.Error(), "being called now")
	err = s.RestoreContact(ctx, c.ID, ids["Cid"], sam)
	require.ErrorIs(t, err, ErrInvalidTransition)
	require.Contains(t, err.Error(), fmt.Sprintf("contact %d is done in this campaign, not withdrawn", ids["Cid"]))
	require.ErrorIs(t, s.RestoreContact(ctx, c.ID, 999999, sam), ErrNotFound)
	require.ErrorIs(t, s.RestoreContact(ctx, 999999, ids["Ann"], sam), ErrNotFound)
	err = s.RestoreContact(ctx, draft.ID, ids["Ann"], sam)
	require.ErrorIs(t, err, ErrInvalidTransition)
	require.Contains(t, err.Error(), "a draft has no withdrawn contacts")

	// Paused: she is put back, and called when it resumes; the campaign
	// does not run, and its audit row names who changed it.
	_, err = s.Pause(ctx, c.ID)
	require.NoError(t, err)
	var dueBefore time.Time
	require.NoError(t, db.QueryRow(ctx, `SELECT next_attempt_at FROM campaign_targets WHERE campaign_id = $1 AND contact_id = $2`, c.ID, ids["Ann"]).Scan(&dueBefore))
	require.NoError(t, s.SkipContact(ctx, c.ID, ids["Ann"], pat, "again"))
	require.NotNil(t, contact("Ann").Skipped, "withdrawn again: skipped, whatever came before")
	require.Nil(t, contact("Ann").Restored)
	gen := get().Generation
	require.NoError(t, s.RestoreContact(ctx, c.ID, ids["Ann"], sam))
	got = get()
	require.Equal(t, StatusPaused, got.Status)
	require.Equal(t, gen, got.Generation, "a paused campaign does not run")
	require.Equal(t, 1, count(t, db, `SELECT count(*) FROM campaign_targets WHERE campaign_id = $1 AND contact_id = $2 AND state = 'pending' AND next_attempt_at = $3`, c.ID, ids["Ann"], dueBefore), "pending, due when she was (her deferral holds)")
	var by int64
	require.NoError(t, db.QueryRow(ctx, `SELECT (details->>'updated_by')::bigint FROM audit_log WHERE tbl = 'campaigns' AND row_id = $1 ORDER BY seq DESC LIMIT 1`, c.ID).Scan(&by))
	require.Equal(t, sam, by)
	require.Equal(t, "again", contact("Ann").Restored.Withdrawal.Note, "the withdrawal it undid")

	// Completed because the only contact left was withdrawn: put back, it
	// runs again.
	c, err = s.Start(ctx, c.ID)
	require.NoError(t, err)
	require.NoError(t, s.SkipContact(ctx, c.ID, ids["Ann"], pat, ""))
	_, err = db.Exec(ctx, `UPDATE campaign_targets SET state = 'done' WHERE campaign_id = $1 AND contact_id = $2`, c.ID, ids["Bob"])
	require.NoError(t, err)
	done, _, err := NewStore(db).Settle(ctx, c.ID, c.Generation)
	require.NoError(t, err)
	require.True(t, done)
	require.Equal(t, StatusCompleted, get().Status)
	require.NoError(t, s.RestoreContact(ctx, c.ID, ids["Ann"], sam))
	got = get()
	require.Equal(t, StatusRunning, got.Status)
	require.Nil(t, got.CompletedAt)
	require.Equal(t, c.Generation+1, got.Generation)
	require.Equal(t, 1, jobs(got.Generation))
	done, _, err = NewStore(db).Settle(ctx, c.ID, c.Generation)
	require.NoError(t, err)
	require.False(t, done, "the old run finds Ann due")

	// Completed, with no calling time left: refused, and she stays
	// withdrawn.
	require.NoError(t, s.SkipContact(ctx, c.ID, ids["Ann"], pat, ""))
	done, _, err = NewStore(db).Settle(ctx, c.ID, got.Generation)
	require.NoError(t, err)
	require.True(t, done)
	_, err = db.Exec(ctx, `UPDATE campaigns SET starts_at = now() - interval '2 days', ends_at = now() - interval '1 hour' WHERE id = $1`, c.ID)
	require.NoError(t, err)
	require.False(t, get().CallingLeft(time.Now()))
	err = s.RestoreContact(ctx, c.ID, ids["Ann"], sam)
	require.ErrorIs(t, err, ErrInvalidTransition)
	require.Contains(t, err.Error(), "no calling time left")
	got = get()
	require.Equal(t, StatusCompleted, got.Status)
	require.Equal(t, 1, got.Counts.Skipped)

	// Cancelled: refused.
	_, err = s.Cancel(ctx, draft.ID)
	require.NoError(t, err)
	_, err = db.Exec(ctx, `INSERT INTO campaign_targets (campaign_id, contact_id, state, skipped_at) VALUES ($1, $2, 'skipped', now())
		ON CONFLICT (campaign_id, contact_id) DO UPDATE SET state = 'skipped', skipped_at = now()`, draft.ID, ids["Ann"])
	require.NoError(t, err)
	err = s.RestoreContact(ctx, draft.ID, ids["Ann"], sam)
	require.ErrorIs(t, err, ErrInvalidTransition)
	require.Contains(t, err.Error(), "cancelled campaign")
	require.Equal(t, 1, count(t, db, `SELECT count(*) FROM campaign_targets WHERE campaign_id = $1 AND contact_id = $2 AND state = 'skipped'`, draft.ID, ids["Ann"]))
}

// TestRestoreWaitsForSkip holds a withdrawal of a contact open while the
// contact is put back: the return waits for the campaign's row, which the
// withdrawal holds, and then finds the contact withdrawn and puts it back.
func TestRestoreWaitsForSkip(t *testing.T) {
	t.Parallel()
	s, db, c, ann := runningCampaign(t)
	ctx := context.Background()

	// What SkipContact does, held open.
	tx := holdOpen(t, db, `SELECT 1 FROM campaigns WHERE id = $1 FOR SHARE`, c.ID)
	_, err := tx.Exec(ctx, `UPDATE campaign_targets SET state = 'skipped', skipped_at = now() WHERE campaign_id = $1 AND contact_id = $2`, c.ID, ann)
	require.NoError(t, err)
	res := make(chan error, 1)
	go func() { res <- s.RestoreContact(ctx, c.ID, ann, 0) }()
	waitForLock(t, db, "FROM campaigns WHERE id = $1 FOR NO KEY UPDATE")
	require.NoError(t, tx.Commit(ctx))
	require.NoError(t, <-res)
	require.Equal(t, 1, count(t, db, `SELECT count(*) FROM campaign_targets WHERE campaign_id = $1 AND contact_id = $2 AND state = 'pending' AND restored_at IS NOT NULL`, c.ID, ann))
}

// TestRestoreChecksACompletedCampaign: putting a withdrawn contact back in
// a completed campaign runs it again (callAgain) only after its launch
// checks, as Start runs them. Here a Connecticut sales campaign started
// while no Asterisk ran detection and completed; heed now runs with one
// that does, so its calls cannot be timed (rule C4) and Start refuses the
// same campaign: RestoreContact is refused too, and leaves the campaign
// completed and the contact withdrawn. Once no Asterisk runs detection
// again, the contact is put back and the campaign runs.
func TestRestoreChecksACompletedCampaign(t *testing.T) {
	t.Parallel()
	s, db := newService(t)
	ctx := context.Background()
	s.Launch.NationalAsOf = func(context.Context) (time.Time, error) { return time.Now().Add(-24 * time.Hour), nil }
	s.Launch.NoDetection = true
	list := importList(t, s, "ct", "name,phone,state\nAnn,8605550101,CT\nBob,8605550102,CT\n")
	in := NewCampaign{Name: "offer", Purpose: "telemarketing", ListID: list, CallerID: testCallerID,
		Message: "We are calling about your claim. Would you like to continue, end the call, or be removed from our list? To end this call, hang up."}
	c, err := s.Create(ctx, in, 0)
	require.NoError(t, err)
	c, err = s.Start(ctx, c.ID)
	require.NoError(t, err)
	var ann, bob int64
	require.NoError(t, db.QueryRow(ctx, `SELECT id FROM contacts WHERE phone = '+18605550101'`).Scan(&ann))
	require.NoError(t, db.QueryRow(ctx, `SELECT id FROM contacts WHERE phone = '+18605550102'`).Scan(&bob))
	require.NoError(t, s.SkipContact(ctx, c.ID, ann, 0, ""))
	_, err = db.Exec(ctx, `UPDATE campaign_targets SET state = 'done' WHERE campaign_id = $1 AND contact_id = $2`, c.ID, bob)
	require.NoError(t, err)
	done, _, err := NewStore(db).Settle(ctx, c.ID, c.Generation)
	require.NoError(t, err)
	require.True(t, done)
	require.Equal(t, "completed", campaignStatus(t, db, c.ID))

	// heed restarts with an Asterisk that runs detection.
	s.Launch.NoDetection = false
	in.Name = "offer again"
	again, err := s.Create(ctx, in, 0)
	require.NoError(t, err)
	_, err = s.Start(ctx, again.ID)
	require.ErrorIs(t, err, ErrLaunchRefused, "Start refuses the same campaign now")

	err = s.RestoreContact(ctx, c.ID, ann, 0)
	var le *LaunchError
	require.ErrorAs(t, err, &le, "putting a contact back does not run the completed campaign again without its launch checks")
	require.ErrorIs(t, err, ErrLaunchRefused)
	require.Equal(t, []consent.Reason{consent.ReasonScriptDisclosure}, le.Reasons)
	require.Contains(t, err.Error(), dialer.ErrDetection.Error())
	require.Equal(t, "completed", campaignStatus(t, db, c.ID))
	var state string
	require.NoError(t, db.QueryRow(ctx, `SELECT state FROM campaign_targets WHERE campaign_id = $1 AND contact_id = $2`, c.ID, ann).Scan(&state))
	require.Equal(t, "skipped", state, "the refusal changes nothing")

	s.Launch.NoDetection = true
	require.NoError(t, s.RestoreContact(ctx, c.ID, ann, 0))
	require.Equal(t, "running", campaignStatus(t, db, c.ID))
}

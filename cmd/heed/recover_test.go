package main

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/campaign"
	"github.com/heed-dialer/heed/dialer"
	"github.com/heed-dialer/heed/internal/dbtest"
)

// fakeReconciler answers Recover's questions from a table and remembers
// them.
type fakeReconciler struct {
	answers map[int64]dialer.Orphan
	down    map[int64]bool
	asked   map[int64]string
}

func (f *fakeReconciler) Reconcile(_ context.Context, asterisk string, attemptID int64) (dialer.Orphan, error) {
	f.asked[attemptID] = asterisk
	if f.down[attemptID] {
		return "", fmt.Errorf("fake: %w", dialer.ErrARIUnavailable)
	}
	return f.answers[attemptID], nil
}

// TestRecoverReconciles checks Store.Recover against PostgreSQL with a
// stand-in for Asterisk: what it found is recorded on each attempt left in
// flight and its target is finished, never redialed; an attempt whose
// Asterisk cannot be asked, and a call this process still follows, stay in
// flight. A call left ringing that was answered with no process to follow
// it is abandoned (rule F10), and one whose callee pressed the opt-out key
// during the abandoned-call message keeps the key and has its opt-out
// taken with the close.
func TestRecoverReconciles(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := dbtest.New(t)
	var listID, campaignID int64
	require.NoError(t, db.QueryRow(ctx, `INSERT INTO contact_lists (name) VALUES ('recover') RETURNING id`).Scan(&listID))
	require.NoError(t, db.QueryRow(ctx, `INSERT INTO campaigns (name, purpose, list_id, message_text, caller_id, status)
		VALUES ('recover', 'informational', $1, 'hello', '+12035550184', 'running') RETURNING id`, listID).Scan(&campaignID))

	type row struct {
		status, asterisk string
		answer           dialer.Orphan
		down             bool
	}
	rows := []row{
		{"ringing", "pbx-a", dialer.OrphanHungUp, false},
		{"answered", "pbx-a", dialer.OrphanGone, false},
		{"originating", "", dialer.OrphanGone, false},
		{"answered", "retired", dialer.OrphanUnchecked, false},
		{"ringing", "pbx-b", "", true},
		{"answered", "pbx-a", dialer.OrphanFollowed, false},
		{"ringing", "pbx-a", dialer.OrphanRangOut, false},
		{"ringing", "pbx-a", dialer.OrphanAbandoned, false},
		{"ringing", "pbx-b", dialer.OrphanOptedOut, false},
	}
	f := &fakeReconciler{answers: map[int64]dialer.Orphan{}, down: map[int64]bool{}, asked: map[int64]string{}}
	ids := make([]int64, len(rows))
	for i, r := range rows {
		var contactID int64
		phone := fmt.Sprintf("+1860555%04d", 1000+i)
		require.NoError(t, db.QueryRow(ctx, `INSERT INTO contacts (list_id, name, phone) VALUES ($1, $2, $3) RETURNING id`,
			listID, fmt.Sprintf("c%d", i), phone).Scan(&contactID))
		_, err := db.Exec(ctx, `INSERT INTO campaign_targets (campaign_id, contact_id, state, attempts) VALUES ($1, $2, 'dialing', 1)`, campaignID, contactID)
		require.NoError(t, err)
		require.NoError(t, db.QueryRow(ctx, `INSERT INTO attempts (campaign_id, contact_id, attempt_no, phone, caller_id, decision, status, asterisk)
			VALUES ($1, $2, 1, $3, '+12035550184', 'allow', $4, $5) RETURNING id`, campaignID, contactID, phone, r.status, r.asterisk).Scan(&ids[i]))
		f.answers[ids[i]], f.down[ids[i]] = r.answer, r.down
	}

	store := campaign.NewStore(db)
	got, err := store.Recover(ctx, campaignID, f)
	require.NoError(t, err)
	require.Equal(t, campaign.Recovered{HungUp: 1, Gone: 2, Unchecked: 1, RangOut: 1, Abandoned: 2, OptedOut: 1, Left: 1}, got)
	for i, r := range rows {
		require.Equal(t, r.asterisk, f.asked[ids[i]], "attempt %d is asked about on the Asterisk its row names", i)
	}

	for i, r := range rows {
		var status, outcome, reconcile, state, keys string
		var optOuts int
		require.NoError(t, db.QueryRow(ctx, `SELECT a.status, a.outcome, a.reconcile, t.state, a.dtmf,
			       (SELECT count(*) FROM optout_requests o WHERE o.attempt_id = a.id AND o.phone = a.phone AND o.method = 'ivr')
			  FROM attempts a
			  JOIN campaign_targets t ON t.campaign_id = a.campaign_id AND t.contact_id = a.contact_id WHERE a.id = $1`, ids[i]).
			Scan(&status, &outcome, &reconcile, &state, &keys, &optOuts))
		wantKeys, wantOptOuts := "", 0
		if r.answer == dialer.OrphanOptedOut {
			wantKeys, wantOptOuts = dialer.OptOutKey, 1
		}
		require.Equal(t, wantKeys, keys, "attempt %d", i)
		require.Equal(t, wantOptOuts, optOuts, "attempt %d: the opt-out pressed is taken", i)
		if r.down || r.answer == dialer.OrphanFollowed {
			require.Equal(t, r.status, status, "attempt %d stays in flight", i)
			require.Equal(t, "dialing", state, "attempt %d's target waits", i)
			require.Empty(t, reconcile)
			continue
		}
		require.Equal(t, "ended", status, "attempt %d", i)
		wantOutcome := "unknown"
		if r.answer == dialer.OrphanAbandoned || r.answer == dialer.OrphanOptedOut {
			wantOutcome = "abandoned"
		}
		require.Equal(t, wantOutcome, outcome, "attempt %d", i)
		require.Equal(t, string(r.answer), reconcile, "attempt %d", i)
		require.Equal(t, "done", state, "attempt %d is never redialed", i)
	}

	// Once its Asterisk answers, the attempt left in flight is closed too.
	f.down[ids[4]], f.answers[ids[4]] = false, dialer.OrphanHungUp
	got, err = store.Recover(ctx, campaignID, f)
	require.NoError(t, err)
	require.Equal(t, campaign.Recovered{HungUp: 1}, got)

	_, err = store.Recover(ctx, campaignID, nil)
	require.ErrorIs(t, err, campaign.ErrNoReconciler)
}

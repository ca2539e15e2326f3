package dialer_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/campaign"
	"github.com/heed-dialer/heed/consent"
	"github.com/heed-dialer/heed/dialer"
	"github.com/heed-dialer/heed/internal/account"
	"github.com/heed-dialer/heed/internal/dbtest"
)

// TestPacerHonoursLoggedOverride: a debt-collection call that Reg F's 7-in-7
// cap defers is placed once an attorney logs the person's direct consent,
// and the attempt names the override it relied on.
func TestPacerHonoursLoggedOverride(t *testing.T) {
	t.Parallel()
	db := dbtest.New(t)
	ctx := context.Background()
	const number = "+18605550121"
	var listID, old, campaignID, contactID int64
	require.NoError(t, db.QueryRow(ctx, `INSERT INTO contact_lists (name) VALUES ('p') RETURNING id`).Scan(&listID))
	require.NoError(t, db.QueryRow(ctx, `INSERT INTO contacts (list_id, name, phone) VALUES ($1, 'x', $2) RETURNING id`, listID, number).Scan(&contactID))
	_, err := db.Exec(ctx, `INSERT INTO consents (phone, kind, scope, channel, obtained_at, source) VALUES ($1, 'pec', 'debt_collection', 'voice', now() - interval '30 days', 't')`, number)
	require.NoError(t, err)
	// Seven calls in the last days, from an earlier campaign, none answered.
	require.NoError(t, db.QueryRow(ctx, `INSERT INTO campaigns (name, purpose, list_id, message_text, caller_id, status)
		VALUES ('old', 'debt_collection', $1, 'Hello', '+18605550100', 'completed') RETURNING id`, listID).Scan(&old))
	_, err = db.Exec(ctx, `
		INSERT INTO attempts (campaign_id, contact_id, attempt_no, phone, caller_id, decision, reasons, pack, decision_input, status, outcome, originated_at, ended_at)
		SELECT $1, $2, i, $3, '+18605550100', 'allow', '{}', 'p', '{}', 'ended', 'no_answer', now() - make_interval(hours => 10 * i), now() - make_interval(hours => 10 * i)
		  FROM generate_series(1, 7) i`, old, contactID, number)
	require.NoError(t, err)
	require.NoError(t, db.QueryRow(ctx, `INSERT INTO campaigns (name, purpose, list_id, message_text, caller_id, status, generation, max_concurrent, max_attempts)
		VALUES ('c', 'debt_collection', $1, 'Hello', '+18605550100', 'running', 1, 2, 1) RETURNING id`, listID).Scan(&campaignID))
	_, err = db.Exec(ctx, `INSERT INTO campaign_targets (campaign_id, contact_id) VALUES ($1, $2)`, campaignID, contactID)
	require.NoError(t, err)

	lines := &recordingLines{t: t, db: db}
	engine, err := consent.NewEngine(consent.Config{})
	require.NoError(t, err)
	ix := dialer.NewIndexes(db, quiet())
	require.NoError(t, ix.Load(ctx))
	overrides := consent.NewOverrideStore(db)
	p := &dialer.Pacer{
		Gate: &dialer.PolicyGate{Engine: engine, Indexes: ix}, Store: campaign.NewStore(db), Lines: lines,
		Media: dialer.Media{HostDir: t.TempDir(), AsteriskDir: "/media"}, Log: quiet(), Tick: 10 * time.Millisecond,
		Now: officeHours(), Firm: "Smith and Lee", Overrides: overrides,
	}
	var sn *dialer.Snooze
	require.True(t, errors.As(p.Run(ctx, campaignID, 1), &sn), "the eighth call in 7 days waits")
	var decision string
	var reasons []string
	require.NoError(t, db.QueryRow(ctx, `SELECT decision, reasons FROM attempts WHERE campaign_id = $1`, campaignID).Scan(&decision, &reasons))
	require.Equal(t, "defer", decision)
	require.Contains(t, reasons, "cap.frequency")
	require.Empty(t, lines.placed)

	atty, err := account.NewService(db).Create(ctx, "atty@heed.test", account.RoleAttorney, "a long enough password")
	require.NoError(t, err)
	o, err := overrides.Log(ctx, consent.NewOverride{Phone: number, Kind: consent.OverrideRegFDirectConsent,
		Note: "Client called and asked us to keep calling this week.", LoggedBy: atty.ID, Via: consent.ViaCLI})
	require.NoError(t, err)
	// Due again now (the law deferred it; the override lifts the cap).
	_, err = db.Exec(ctx, `UPDATE campaign_targets SET next_attempt_at = now() - interval '1 minute' WHERE campaign_id = $1`, campaignID)
	require.NoError(t, err)
	require.NoError(t, p.Run(ctx, campaignID, 1))
	require.Len(t, lines.placed, 1, "placed once the override is logged")
	var overrideID int64
	require.NoError(t, db.QueryRow(ctx, `SELECT decision, (decision_input->'overrides'->>'regf_override_id')::bigint FROM attempts
		WHERE campaign_id = $1 AND attempt_no = 2`, campaignID).Scan(&decision, &overrideID))
	require.Equal(t, "allow", decision)
	require.Equal(t, o.ID, overrideID, "the attempt names the override it relied on")
}

package campaign

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestNumberHistory(t *testing.T) {
	t.Parallel()
	s, db := newService(t)
	ctx := context.Background()
	first := importList(t, s, "first", "name,phone,state\nAnn Lee,8605550101,CT\nBob Moss,8605550102,CT\n")
	second := importList(t, s, "second", "name,phone,zip\nAnn L.,(860) 555-0101,06103\n")
	c, err := s.Create(ctx, NewCampaign{Name: "Hearings", Purpose: "informational", ListID: first, CallerID: "860-555-0100", Message: "Hello."}, 0)
	require.NoError(t, err)
	// More attempts than the history lists, one a minute, oldest first;
	// and one to another number.
	base := time.Date(2026, 11, 1, 15, 0, 0, 0, time.UTC)
	_, err = db.Exec(ctx, `
		INSERT INTO attempts (campaign_id, contact_id, attempt_no, phone, caller_id, decision, reasons, pack, decision_input, status, created_at)
		SELECT $1, k.id, g, k.phone, '+18605550100', 'deny', '{dnc.internal}', 'p', '{}', 'blocked', $3::timestamptz + g * interval '1 minute'
		  FROM contacts k, generate_series(1, $4::int) g WHERE k.list_id = $2 AND k.phone = '+18605550101'`, c.ID, first, base, MaxNumberAttempts+1)
	require.NoError(t, err)
	_, err = db.Exec(ctx, `
		INSERT INTO attempts (campaign_id, contact_id, attempt_no, phone, caller_id, decision, reasons, pack, decision_input, status)
		SELECT $1, k.id, 1, k.phone, '+18605550100', 'deny', '{}', 'p', '{}', 'blocked' FROM contacts k WHERE k.list_id = $2 AND k.phone = '+18605550102'`, c.ID, first)
	require.NoError(t, err)
	_, err = db.Exec(ctx, `INSERT INTO dnc_internal (phone, method, source) VALUES ('+18605550101', 'staff', 'asked')`)
	require.NoError(t, err)
	// Two opt-outs taken, one recorded, one waiting; and one of another
	// number.
	for _, p := range []string{"+18605550101", "+18605550101", "+18605550102"} {
		_, err = db.Exec(ctx, `INSERT INTO optout_requests (phone, method, source) VALUES ($1, 'web', 'opt-out page')`, p)
		require.NoError(t, err)
	}
	_, err = db.Exec(ctx, `UPDATE optout_requests SET recorded_at = now(), revocation_id = 7, listed = true
		WHERE id = (SELECT min(id) FROM optout_requests)`)
	require.NoError(t, err)

	h, err := s.NumberHistory(ctx, "+18605550101")
	require.NoError(t, err)
	require.Equal(t, "+18605550101", h.Phone)
	require.Len(t, h.Contacts, 2, "the number's contacts in every list, not the other number's")
	require.Equal(t, second, h.Contacts[0].ListID, "newest first")
	require.Equal(t, "Ann L.", h.Contacts[0].Name)
	require.Equal(t, "06103", h.Contacts[0].ZIP)
	require.Equal(t, "first", h.Contacts[1].List)
	require.Equal(t, MaxNumberAttempts+1, h.Total)
	require.Len(t, h.Attempts, MaxNumberAttempts)
	require.True(t, h.Attempts[0].CreatedAt.Equal(base.Add(time.Duration(MaxNumberAttempts+1)*time.Minute)), "newest first: %s", h.Attempts[0].CreatedAt)
	require.True(t, h.Attempts[len(h.Attempts)-1].CreatedAt.Equal(base.Add(2*time.Minute)), "the oldest is left out")
	require.Equal(t, "Hearings", h.Attempts[0].Campaign)
	require.Equal(t, "informational", h.Attempts[0].Purpose)
	require.Equal(t, "Ann Lee", h.Attempts[0].ContactName)
	require.Equal(t, []string{"dnc.internal"}, h.Attempts[0].Reasons)
	require.Len(t, h.DNC, 1)
	require.Len(t, h.OptOuts, 2, "the number's opt-outs, not the other number's")
	require.NotNil(t, h.OptOuts[0].RecordedAt, "oldest first")
	require.Equal(t, int64(7), *h.OptOuts[0].RevocationID)
	require.Nil(t, h.OptOuts[1].RecordedAt)
	require.Equal(t, "web", h.OptOuts[1].Method)
	require.Nil(t, h.DNC[0].RemovedAt)
	require.Empty(t, h.Consents)
	require.NotNil(t, h.Consents, "an empty list, not null, in JSON")

	none, err := s.NumberHistory(ctx, "+12035550100")
	require.NoError(t, err)
	require.Empty(t, none.Contacts)
	require.Empty(t, none.Attempts)
	require.Zero(t, none.Total)
}

package campaign

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/consent"
	"github.com/heed-dialer/heed/dialer"
	"github.com/heed-dialer/heed/internal/audit"
)

func TestSkipContact(t *testing.T) {
	t.Parallel()
	s, db := newService(t)
	ctx := context.Background()
	draft, c, ids := withdrawable(t, s, db, "skip")
	var err error
	var userID int64
	require.NoError(t, db.QueryRow(ctx, `INSERT INTO users (email, role, password_hash) VALUES ('pat@firm.test', 'paralegal', 'x') RETURNING id`).Scan(&userID))
	_, err = db.Exec(ctx, `UPDATE campaign_targets SET state = CASE contact_id WHEN $2 THEN 'dialing' WHEN $3 THEN 'done' ELSE state END WHERE campaign_id = $1`,
		c.ID, ids["Bob"], ids["Cid"])
	require.NoError(t, err)

	require.NoError(t, s.SkipContact(ctx, c.ID, ids["Ann"], userID, "hearing cancelled"))
	var audited struct {
		By   int64  `json:"skipped_by"`
		Note string `json:"skip_note"`
	}
	var details []byte
	require.NoError(t, db.QueryRow(ctx, `SELECT details FROM audit_log WHERE tbl = 'campaign_targets' AND row_id = $1`, ids["Ann"]).Scan(&details))
	require.NoError(t, json.Unmarshal(details, &audited))
	require.Equal(t, userID, audited.By, "the withdrawal is in the audit log, with its author")
	require.Equal(t, "hearing cancelled", audited.Note)
	rep, err := audit.Verify(ctx, db)
	require.NoError(t, err, "the chain holds")
	require.Positive(t, rep.Rows)
	require.NoError(t, s.SkipContact(ctx, c.ID, ids["Ann"], userID, "again"), "already skipped: nothing to do")
	err = s.SkipContact(ctx, c.ID, ids["Bob"], userID, "")
	require.ErrorIs(t, err, ErrInvalidTransition)
	require.Contains(t, err.Error(), "being called now")
	err = s.SkipContact(ctx, c.ID, ids["Cid"], userID, "")
	require.ErrorIs(t, err, ErrInvalidTransition)
	require.Contains(t, err.Error(), "is done in this campaign")
	require.ErrorIs(t, s.SkipContact(ctx, c.ID, 999999, userID, ""), ErrNotFound)
	require.ErrorIs(t, s.SkipContact(ctx, 999999, ids["Ann"], userID, ""), ErrNotFound)
	require.ErrorIs(t, s.SkipContact(ctx, draft.ID, ids["Ann"], userID, ""), ErrInvalidTransition, "a draft takes its list as it is when it starts")

	p, err := s.CampaignContacts(ctx, c.ID, ResultQuery{Result: ResultSkipped})
	require.NoError(t, err)
	require.Len(t, p.Contacts, 1)
	ann := p.Contacts[0]
	require.Equal(t, "Ann", ann.Name)
	require.Equal(t, "Skipped: not to be called", ann.Label)
	require.NotNil(t, ann.Skipped)
	require.Equal(t, "pat@firm.test", ann.Skipped.By)
	require.Equal(t, "hearing cancelled", ann.Skipped.Note, "the first withdrawal's note stays")
	require.Nil(t, ann.Next, "not due")

	// The pacer, having read Ann as due before she was withdrawn, records
	// nothing for her.
	req := dialer.Request{Phone: "+18605550101", Purpose: consent.PurposeInformational, Method: consent.MethodPrerecorded, At: time.Now()}
	_, err = NewStore(db).Decide(ctx, dialer.Target{CampaignID: c.ID, ContactID: ids["Ann"], AttemptNo: 1, Phone: "+18605550101"}, req,
		consent.Decision{Verdict: consent.Allow, Pack: "p"})
	require.ErrorIs(t, err, dialer.ErrNotDue)
	var n int
	require.NoError(t, db.QueryRow(ctx, `SELECT count(*) FROM attempts WHERE contact_id = $1`, ids["Ann"]).Scan(&n))
	require.Zero(t, n)

	got, err := s.Get(ctx, c.ID)
	require.NoError(t, err)
	require.Equal(t, 1, got.Counts.Skipped)
	require.Equal(t, 1, count(t, db, `SELECT count(*) FROM audit_log WHERE tbl = 'campaign_targets'`), "only the withdrawal: the pacer's moves are not audited")

	// Nothing is left to call once Bob's call ends: the campaign completes.
	_, err = db.Exec(ctx, `UPDATE campaign_targets SET state = 'done' WHERE campaign_id = $1 AND contact_id = $2`, c.ID, ids["Bob"])
	require.NoError(t, err)
	done, _, err := NewStore(db).Settle(ctx, c.ID, c.Generation)
	require.NoError(t, err)
	require.True(t, done)
	require.ErrorIs(t, s.SkipContact(ctx, c.ID, ids["Ann"], userID, ""), ErrInvalidTransition, "a completed campaign")
}

// TestSkipWaitsForDecide holds a withdrawal open while the pacer's Decide
// of the contact comes: Decide waits for it and then records nothing.
func TestSkipWaitsForDecide(t *testing.T) {
	t.Parallel()
	_, db, c, ann := runningCampaign(t)
	ctx := context.Background()

	// A withdrawal, held open; Decide waits for it and records nothing.
	tx := holdOpen(t, db, `UPDATE campaign_targets SET state = 'skipped', skipped_at = now() WHERE campaign_id = $1 AND contact_id = $2`, c.ID, ann)
	res := make(chan error, 1)
	go func() {
		_, err := NewStore(db).Decide(ctx, dialer.Target{CampaignID: c.ID, ContactID: ann, AttemptNo: 1, Phone: "+18605550101"},
			dialer.Request{Phone: "+18605550101", At: time.Now()}, consent.Decision{Verdict: consent.Allow, Pack: "p"})
		res <- err
	}()
	waitForLock(t, db, "state = 'pending'")
	require.NoError(t, tx.Commit(ctx))
	require.ErrorIs(t, <-res, dialer.ErrNotDue)
	var n int
	require.NoError(t, db.QueryRow(ctx, `SELECT count(*) FROM attempts WHERE contact_id = $1`, ann).Scan(&n))
	require.Zero(t, n, "no attempt, so no call")
}

// TestDecideBeforeSkip holds what Decide does to a target (it moves it to
// dialing) open while a withdrawal comes: the withdrawal waits for it and
// then finds the contact being called.
func TestDecideBeforeSkip(t *testing.T) {
	t.Parallel()
	s, db, c, ann := runningCampaign(t)
	ctx := context.Background()

	tx := holdOpen(t, db, `UPDATE campaign_targets SET state = 'dialing' WHERE campaign_id = $1 AND contact_id = $2 AND state = 'pending'`, c.ID, ann)
	res := make(chan error, 1)
	go func() { res <- s.SkipContact(ctx, c.ID, ann, 0, "") }()
	waitForLock(t, db, "state = 'skipped'")
	require.NoError(t, tx.Commit(ctx))
	err := <-res
	require.ErrorIs(t, err, ErrInvalidTransition)
	require.Contains(t, err.Error(), "being called now")
}

// runningCampaign starts an informational campaign on a new list of one
// contact, Ann, and returns the service, the pool, the campaign and Ann's
// contact id.
func runningCampaign(t *testing.T) (*Service, *pgxpool.Pool, Campaign, int64) {
	t.Helper()
	s, db := newService(t)
	listID, c := startOn(t, s, "one", "name,phone\nAnn,8605550101\n")
	var ann int64
	require.NoError(t, db.QueryRow(context.Background(), `SELECT id FROM contacts WHERE list_id = $1`, listID).Scan(&ann))
	return s, db, c, ann
}

// startOn imports csv into a new list and starts an informational
// campaign on it, and returns the list's id and the campaign.
func startOn(t *testing.T, s *Service, list, csv string) (int64, Campaign) {
	t.Helper()
	ctx := context.Background()
	listID := importList(t, s, list, csv)
	c, err := s.Create(ctx, NewCampaign{Name: "Hearings", Purpose: "informational", ListID: listID, CallerID: "860-555-0100", Message: "Hello."}, 0)
	require.NoError(t, err)
	c, err = s.Start(ctx, c.ID)
	require.NoError(t, err)
	return listID, c
}

// TestDecideDoesNotWaitForCampaignLocks records an attempt while another
// transaction holds the campaign's row as Start, AddNewContacts and edits
// lock it. Its attempt row's reference to the campaign needs a key-share
// lock, which that lock must not block: AddNewContacts, which goes on to
// insert targets, would otherwise deadlock with a Decide holding a
// target's row.
func TestDecideDoesNotWaitForCampaignLocks(t *testing.T) {
	t.Parallel()
	_, db, c, ann := runningCampaign(t)
	ctx := context.Background()
	tx := holdOpen(t, db, `SELECT 1 FROM campaigns WHERE id = $1 FOR NO KEY UPDATE`, c.ID)
	res := make(chan error, 1)
	go func() {
		_, err := NewStore(db).Decide(ctx, dialer.Target{CampaignID: c.ID, ContactID: ann, AttemptNo: 1, Phone: "+18605550101"},
			dialer.Request{Phone: "+18605550101", At: time.Now()}, consent.Decision{Verdict: consent.Allow, Pack: "p"})
		res <- err
	}()
	select {
	case err := <-res:
		require.NoError(t, err)
	case <-time.After(30 * time.Second):
		t.Fatal("Decide waits for the campaign's row lock")
	}
	require.NoError(t, tx.Commit(ctx))
}

// count runs a query of one count.
func count(t *testing.T, db *pgxpool.Pool, sql string, args ...any) int {
	t.Helper()
	var n int
	require.NoError(t, db.QueryRow(context.Background(), sql, args...).Scan(&n))
	return n
}

// TestDecideNeedsARunningCampaign pauses a campaign after its pacer read a
// contact as due: Decide records nothing, and no call is placed.
func TestDecideNeedsARunningCampaign(t *testing.T) {
	t.Parallel()
	s, db, c, ann := runningCampaign(t)
	ctx := context.Background()
	_, err := s.Pause(ctx, c.ID)
	require.NoError(t, err)
	_, err = NewStore(db).Decide(ctx, dialer.Target{CampaignID: c.ID, ContactID: ann, AttemptNo: 1, Phone: "+18605550101"},
		dialer.Request{Phone: "+18605550101", At: time.Now()}, consent.Decision{Verdict: consent.Allow, Pack: "p"})
	require.ErrorIs(t, err, dialer.ErrNotDue)
	require.Zero(t, count(t, db, `SELECT count(*) FROM attempts`))
	require.Equal(t, 1, count(t, db, `SELECT count(*) FROM campaign_targets WHERE state = 'pending'`), "still due when it resumes")
}

// withdrawable returns a running campaign and a draft over a new list of
// Ann, Bob and Cid, and the contacts' ids by name: the setup of the tests
// that withdraw contacts and put them back.
func withdrawable(t *testing.T, s *Service, db *pgxpool.Pool, list string) (draft, c Campaign, ids map[string]int64) {
	t.Helper()
	ctx := context.Background()
	listID, c := startOn(t, s, list, "name,phone\nAnn,8605550101\nBob,8605550102\nCid,8605550103\n")
	draft, err := s.Create(ctx, NewCampaign{Name: "d", Purpose: "informational", ListID: listID, CallerID: "860-555-0100", Message: "Hello."}, 0)
	require.NoError(t, err)
	ids = map[string]int64{}
	for _, n := range []string{"Ann", "Bob", "Cid"} {
		var id int64
		require.NoError(t, db.QueryRow(ctx, `SELECT id FROM contacts WHERE list_id = $1 AND name = $2`, listID, n).Scan(&id))
		ids[n] = id
	}
	return draft, c, ids
}

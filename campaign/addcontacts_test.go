package campaign

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/consent"
)

func TestAddNewContacts(t *testing.T) {
	t.Parallel()
	s, db := newService(t)
	ctx := context.Background()
	listID := importList(t, s, "late", "name,phone,state,place\nAnn,8605550101,CT,Room 1\nBob,8605550102,CT,Room 2\n")
	more := func(rows string) {
		t.Helper()
		_, err := s.ImportContacts(ctx, "late", strings.NewReader("name,phone,state,place\n"+rows), ImportOptions{})
		require.NoError(t, err)
	}
	c, err := s.Create(ctx, NewCampaign{Name: "Hearings", Purpose: "informational", ListID: listID, CallerID: "860-555-0100",
		Message: "Your hearing is in {place}."}, 0)
	require.NoError(t, err)

	_, err = s.AddNewContacts(ctx, c.ID, 0)
	require.ErrorIs(t, err, ErrInvalidTransition, "a draft takes its list's contacts when it starts")
	require.Contains(t, err.Error(), "when it starts")
	c, err = s.Start(ctx, c.ID)
	require.NoError(t, err)
	require.Equal(t, int64(1), c.Generation)
	require.Equal(t, 0, c.Counts.New)
	n, err := s.AddNewContacts(ctx, c.ID, 0)
	require.NoError(t, err)
	require.Equal(t, 0, n, "no contact is new")

	jobs := func(gen int64) int {
		return count(t, db, `SELECT count(*) FROM river_job WHERE kind = 'campaign_run' AND (args->>'campaign_id')::bigint = $1 AND (args->>'generation')::bigint = $2`, c.ID, gen)
	}
	get := func() Campaign {
		t.Helper()
		c, err := s.Get(ctx, c.ID)
		require.NoError(t, err)
		return c
	}

	// Two contacts imported while it runs: added, due at once, and the
	// campaign runs again under a new generation.
	more("Cid,8605550103,CT,Room 3\nDee,8605550104,CT,Room 4\n")
	require.Equal(t, 2, get().Counts.New)
	n, err = s.AddNewContacts(ctx, c.ID, 0)
	require.NoError(t, err)
	require.Equal(t, 2, n)
	got := get()
	require.Equal(t, 4, got.Counts.Targets)
	require.Equal(t, 4, got.Counts.Pending)
	require.Equal(t, 0, got.Counts.New)
	require.Equal(t, StatusRunning, got.Status)
	require.Equal(t, int64(2), got.Generation)
	require.Equal(t, 1, jobs(2))
	require.Equal(t, 2, count(t, db, `SELECT count(*) FROM campaign_targets t JOIN contacts k ON k.id = t.contact_id
		WHERE t.campaign_id = $1 AND k.name IN ('Cid', 'Dee') AND t.state = 'pending' AND t.next_attempt_at <= now()`, c.ID))

	// The run of the old generation, finding nothing left, does not
	// complete the campaign: the new run does.
	_, err = db.Exec(ctx, `UPDATE campaign_targets SET state = 'done' WHERE campaign_id = $1`, c.ID)
	require.NoError(t, err)
	st := NewStore(db)
	done, _, err := st.Settle(ctx, c.ID, 1)
	require.NoError(t, err)
	require.True(t, done, "the old run is over")
	require.Equal(t, StatusRunning, get().Status, "left running for the new run")
	done, _, err = st.Settle(ctx, c.ID, 2)
	require.NoError(t, err)
	require.True(t, done)
	got = get()
	require.Equal(t, StatusCompleted, got.Status)
	require.NotNil(t, got.CompletedAt)

	// A completed campaign runs again for a contact imported since.
	more("Eve,8605550105,CT,Room 5\n")
	n, err = s.AddNewContacts(ctx, c.ID, 0)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	got = get()
	require.Equal(t, StatusRunning, got.Status)
	require.Nil(t, got.CompletedAt)
	require.Equal(t, int64(3), got.Generation)
	require.Equal(t, 1, jobs(3))

	// A paused campaign takes them and calls them when it resumes; the
	// audit log names the user.
	_, err = s.Pause(ctx, c.ID)
	require.NoError(t, err)
	more("Fay,8605550106,CT,Room 6\n")
	var userID int64
	require.NoError(t, db.QueryRow(ctx, `INSERT INTO users (email, role, password_hash) VALUES ('p@firm.test', 'paralegal', 'x') RETURNING id`).Scan(&userID))
	n, err = s.AddNewContacts(ctx, c.ID, userID)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	got = get()
	require.Equal(t, StatusPaused, got.Status)
	require.Equal(t, int64(3), got.Generation, "a paused campaign does not run")
	require.Equal(t, 6, got.Counts.Targets)
	var by int64
	require.NoError(t, db.QueryRow(ctx, `SELECT (details->>'updated_by')::bigint FROM audit_log WHERE tbl = 'campaigns' AND row_id = $1 ORDER BY seq DESC LIMIT 1`, c.ID).Scan(&by))
	require.Equal(t, userID, by)
	page, err := s.CampaignContacts(ctx, c.ID, ResultQuery{Search: "Fay"})
	require.NoError(t, err)
	require.Len(t, page.Contacts, 1)
	require.NotNil(t, page.Contacts[0].Added, "the target says who added it")
	require.Equal(t, "p@firm.test", page.Contacts[0].Added.By)
	page, err = s.CampaignContacts(ctx, c.ID, ResultQuery{Search: "Ann"})
	require.NoError(t, err)
	require.Nil(t, page.Contacts[0].Added, "Ann came with the campaign")

	// A new contact without the place the message says refuses the whole
	// addition; an old contact without it (already called) does not.
	_, err = db.Exec(ctx, `UPDATE contacts SET place = '' WHERE list_id = $1 AND name = 'Ann'`, listID)
	require.NoError(t, err)
	more("Gus,8605550107,CT,\nHal,8605550108,CT,Room 8\n")
	_, err = s.AddNewContacts(ctx, c.ID, 0)
	require.ErrorIs(t, err, ErrLaunchRefused)
	require.Contains(t, err.Error(), "1 contact(s) of the list have no place: Gus (+18605550107)")
	require.Equal(t, 2, get().Counts.New, "nothing added")
	_, err = db.Exec(ctx, `UPDATE contacts SET place = 'Room 7' WHERE list_id = $1 AND name = 'Gus'`, listID)
	require.NoError(t, err)
	n, err = s.AddNewContacts(ctx, c.ID, 0)
	require.NoError(t, err)
	require.Equal(t, 2, n)

	// A schedule whose end comes before its next calling time: refused.
	more("Ida,8605550109,CT,Room 9\n")
	start := time.Now().Add(48 * time.Hour).In(mustZone(DefaultTimeZone))
	later := (start.Weekday() + 3) % 7 // neither the start's day nor the end's
	_, err = db.Exec(ctx, `UPDATE campaigns SET time_zone = $2, starts_at = $3, ends_at = $4, window_days = $5 WHERE id = $1`,
		c.ID, DefaultTimeZone, start, start.Add(time.Hour), 1<<later)
	require.NoError(t, err)
	_, err = s.AddNewContacts(ctx, c.ID, 0)
	require.ErrorIs(t, err, ErrInvalidTransition)
	require.Contains(t, err.Error(), "no calling time left")
	got, err = s.Get(ctx, c.ID)
	require.NoError(t, err)
	require.False(t, got.CallingLeft(time.Now()))

	// A schedule that has ended: refused.
	_, err = db.Exec(ctx, `UPDATE campaigns SET starts_at = now() - interval '2 days', ends_at = now() - interval '1 hour', window_days = 127 WHERE id = $1`, c.ID)
	require.NoError(t, err)
	_, err = s.AddNewContacts(ctx, c.ID, 0)
	require.ErrorIs(t, err, ErrInvalidTransition)
	require.Contains(t, err.Error(), "copy it into a new campaign")
	require.Equal(t, 1, get().Counts.New)
	require.False(t, get().CallingLeft(time.Now()))
	_, err = db.Exec(ctx, `UPDATE campaigns SET ends_at = NULL WHERE id = $1`, c.ID)
	require.NoError(t, err)
	require.True(t, get().CallingLeft(time.Now()))
	_, err = db.Exec(ctx, `UPDATE campaigns SET ends_at = now() - interval '1 hour' WHERE id = $1`, c.ID)
	require.NoError(t, err)

	// A cancelled campaign calls no one.
	_, err = s.Cancel(ctx, c.ID)
	require.NoError(t, err)
	_, err = s.AddNewContacts(ctx, c.ID, 0)
	require.ErrorIs(t, err, ErrInvalidTransition)
	_, err = s.AddNewContacts(ctx, 999999, 0)
	require.ErrorIs(t, err, ErrNotFound)
}

// TestAddNewContactsRunsLaunchChecks adds a Connecticut contact to a
// solicitation that started with New York's alone: its script lacks the
// Connecticut sales disclosure, so nothing is added, while the campaign
// runs and once it has completed (it would run again: callAgain checks
// it, on its targets with the new contact among them).
func TestAddNewContactsRunsLaunchChecks(t *testing.T) {
	t.Parallel()
	s, db, c, _ := nySolicitation(t)
	ctx := context.Background()
	_, err := s.ImportContacts(ctx, "ny", strings.NewReader("name,phone,state\nAnn,8605550101,CT\n"), ImportOptions{})
	require.NoError(t, err)
	_, err = s.AddNewContacts(ctx, c.ID, 0)
	var le *LaunchError
	require.ErrorAs(t, err, &le)
	require.Equal(t, []consent.Reason{"script.disclosure"}, le.Reasons)
	got, err := s.Get(ctx, c.ID)
	require.NoError(t, err)
	require.Equal(t, 1, got.Counts.Targets)
	require.Equal(t, 1, got.Counts.New)
	require.Equal(t, int64(1), got.Generation)

	_, err = db.Exec(ctx, `UPDATE campaign_targets SET state = 'done' WHERE campaign_id = $1`, c.ID)
	require.NoError(t, err)
	done, _, err := NewStore(db).Settle(ctx, c.ID, c.Generation)
	require.NoError(t, err)
	require.True(t, done)
	_, err = s.AddNewContacts(ctx, c.ID, 0)
	require.ErrorAs(t, err, &le, "a completed campaign runs again only after its launch checks")
	require.Equal(t, []consent.Reason{"script.disclosure"}, le.Reasons)
	got, err = s.Get(ctx, c.ID)
	require.NoError(t, err)
	require.Equal(t, StatusCompleted, got.Status)
	require.Equal(t, 1, got.Counts.Targets)
	require.Equal(t, int64(1), got.Generation)
}

// TestSettleWaitsForAddedContacts has a run that finds nothing left try to
// complete its campaign while contacts are being added: it waits for the
// addition's lock, then finds the generation changed and leaves the
// campaign running for the newer run.
func TestSettleWaitsForAddedContacts(t *testing.T) {
	t.Parallel()
	s, db, c, _ := runningCampaign(t)
	ctx := context.Background()
	_, err := db.Exec(ctx, `UPDATE campaign_targets SET state = 'done' WHERE campaign_id = $1`, c.ID)
	require.NoError(t, err)

	// What AddNewContacts' transaction does to the campaign, held open.
	tx := holdOpen(t, db, `UPDATE campaigns SET generation = generation + 1 WHERE id = $1`, c.ID)

	type settled struct {
		done bool
		err  error
	}
	res := make(chan settled, 1)
	go func() {
		done, _, err := NewStore(db).Settle(ctx, c.ID, c.Generation)
		res <- settled{done, err}
	}()
	waitForLock(t, db, "status = 'completed'")
	require.NoError(t, tx.Commit(ctx))
	r := <-res
	require.NoError(t, r.err)
	require.True(t, r.done, "the old run is over")
	got, err := s.Get(ctx, c.ID)
	require.NoError(t, err)
	require.Equal(t, StatusRunning, got.Status, "not completed under the newer run")
}

// TestAddNewContactsWaitsForImport imports a Connecticut contact into a
// New York solicitation's list while contacts are being added to it: the
// addition waits for the import's lock and then weighs the new contact's
// state, which the solicitation's script does not cover.
func TestAddNewContactsWaitsForImport(t *testing.T) {
	t.Parallel()
	s, db, c, listID := nySolicitation(t)
	ctx := context.Background()
	_, err := s.ImportContacts(ctx, "ny", strings.NewReader("name,phone,state\nCy,2125550102,NY\n"), ImportOptions{})
	require.NoError(t, err)

	// What an import does, held open: the list's lock, and a contact.
	tx := holdOpen(t, db, `SELECT 1 FROM contact_lists WHERE id = $1 FOR UPDATE`, listID)
	_, err = tx.Exec(ctx, `INSERT INTO contacts (list_id, name, phone, state) VALUES ($1, 'Ann', '+18605550101', 'CT')`, listID)
	require.NoError(t, err)

	res := make(chan error, 1)
	go func() {
		_, err := s.AddNewContacts(ctx, c.ID, 0)
		res <- err
	}()
	waitForLock(t, db, "FOR SHARE")
	require.NoError(t, tx.Commit(ctx))
	err = <-res
	var le *LaunchError
	require.ErrorAs(t, err, &le, "the Connecticut contact is weighed")
	require.Equal(t, []consent.Reason{"script.disclosure"}, le.Reasons)
	got, err := s.Get(ctx, c.ID)
	require.NoError(t, err)
	require.Equal(t, 1, got.Counts.Targets, "nothing added")
}

// TestAuditNamesActor checks that the audit log's rows of a start, a pause
// and a cancellation name the user WithActor gives, and that a completion
// names none.
func TestAuditNamesActor(t *testing.T) {
	t.Parallel()
	s, db := newService(t)
	ctx := context.Background()
	listID := importList(t, s, "l", "name,phone\nAnn,8605550101\n")
	user := func(email string) int64 {
		var id int64
		require.NoError(t, db.QueryRow(ctx, `INSERT INTO users (email, role, password_hash) VALUES ($1, 'paralegal', 'x') RETURNING id`, email).Scan(&id))
		return id
	}
	pat, sam := user("pat@firm.test"), user("sam@firm.test")
	lastBy := func(id int64) *int64 {
		t.Helper()
		var by *int64
		require.NoError(t, db.QueryRow(ctx, `SELECT (details->>'updated_by')::bigint FROM audit_log WHERE tbl = 'campaigns' AND row_id = $1 ORDER BY seq DESC LIMIT 1`, id).Scan(&by))
		return by
	}
	c, err := s.Create(ctx, NewCampaign{Name: "x", Purpose: "informational", ListID: listID, CallerID: "860-555-0100", Message: "Hello."}, sam)
	require.NoError(t, err)
	c, err = s.Start(WithActor(ctx, pat), c.ID)
	require.NoError(t, err)
	require.Equal(t, &pat, lastBy(c.ID), "pat started it")
	_, err = s.Pause(WithActor(ctx, sam), c.ID)
	require.NoError(t, err)
	require.Equal(t, &sam, lastBy(c.ID))
	c, err = s.Start(WithActor(ctx, pat), c.ID)
	require.NoError(t, err)
	_, err = db.Exec(ctx, `UPDATE campaign_targets SET state = 'done' WHERE campaign_id = $1`, c.ID)
	require.NoError(t, err)
	done, _, err := NewStore(db).Settle(ctx, c.ID, c.Generation)
	require.NoError(t, err)
	require.True(t, done)
	require.Nil(t, lastBy(c.ID), "heed completed it, not pat")

	d, err := s.Create(ctx, NewCampaign{Name: "y", Purpose: "informational", ListID: listID, CallerID: "860-555-0100", Message: "Hello."}, sam)
	require.NoError(t, err)
	_, err = s.Cancel(WithActor(ctx, pat), d.ID)
	require.NoError(t, err)
	require.Equal(t, &pat, lastBy(d.ID))
}

// nySolicitation starts a solicitation, with a fresh national registry
// copy, on a new list "ny" of one New York contact, and returns the
// service, the pool, the campaign and the list's id.
func nySolicitation(t *testing.T) (*Service, *pgxpool.Pool, Campaign, int64) {
	t.Helper()
	return nyCampaign(t, "Offer", "solicitation", "We may be able to help with your claim.", "name,phone,state\nBo,2125550101,NY\n")
}

// nyCampaign starts a campaign named name of purpose with message, with a
// fresh national registry copy, on a new list "ny" of the contacts in
// csv, and returns the service, the pool, the campaign and the list's id.
func nyCampaign(t *testing.T, name, purpose, message, csv string) (*Service, *pgxpool.Pool, Campaign, int64) {
	t.Helper()
	s, db := newService(t)
	s.Launch.NationalAsOf = func(context.Context) (time.Time, error) { return time.Now().Add(-24 * time.Hour), nil }
	ctx := context.Background()
	listID := importList(t, s, "ny", csv)
	c, err := s.Create(ctx, NewCampaign{Name: name, Purpose: purpose, ListID: listID, CallerID: "860-555-0100", Message: message}, 0)
	require.NoError(t, err)
	c, err = s.Start(ctx, c.ID)
	require.NoError(t, err)
	return s, db, c, listID
}

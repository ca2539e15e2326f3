package campaign

import (
	"context"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/consent"
)

// user adds a user with the role (and disabled when told) and returns its id.
func user(t *testing.T, db *pgxpool.Pool, email, role string, disabled bool) int64 {
	t.Helper()
	var id int64
	require.NoError(t, db.QueryRow(context.Background(), `INSERT INTO users (email, role, password_hash, disabled) VALUES ($1, $2, 'x', $3) RETURNING id`,
		email, role, disabled).Scan(&id))
	return id
}

// adminID returns the id of the admin newService declared the test
// caller ID as.
func adminID(t *testing.T, db *pgxpool.Pool) int64 {
	t.Helper()
	var id int64
	require.NoError(t, db.QueryRow(context.Background(), `SELECT id FROM users WHERE email = 'numbers@firm.test'`).Scan(&id))
	return id
}

// TestAddCallerIDRefusesWhatIsNotTheFirms: a caller ID must be a valid
// number of the United States (the fifty states and DC, or toll-free),
// never a premium-rate (900, 976) number or an N11 code, with a label and
// the admin's attestation; every wrong field is named at once and nothing
// is stored. A number is current once; only an enabled admin declares.
func TestAddCallerIDRefusesWhatIsNotTheFirms(t *testing.T) {
	t.Parallel()
	s, db := newService(t)
	ctx := context.Background()
	admin := adminID(t, db)
	rows := func() int {
		var n int
		require.NoError(t, db.QueryRow(ctx, `SELECT count(*) FROM caller_ids`).Scan(&n))
		return n
	}
	before := rows()
	for number, want := range map[string]string{
		"":                 "a number is required",
		"call us":          `"call us" is not a valid phone number`,
		"+44 20 7123 4567": "+44 20 7123 4567 is a number of GB, outside North America",
		"900-555-0100":     "+1 900-555-0100 is a premium-rate 900 number",
		"860-976-1234":     "+1 860-976-1234 is in a 976 exchange",
		"860-411-1234":     "+1 860-411-1234: 411 is an N11 service code",
		"860-911-1234":     "+1 860-911-1234: 911 is an N11 service code",
		// The audit's Jamaican number, and the NANP's other countries.
		"+1 876 555 0100": "+1 876-555-0100 is a number of Jamaica (area code 876), not of the United States",
		"+1 416 555 0100": "+1 416-555-0100 is a number of Canada (area code 416), not of the United States",
		"+1 787 555 0100": "+1 787-555-0100 is a number of Puerto Rico (area code 787), not of the United States",
		"+1 809 555 0100": "+1 809-555-0100 is a number of the Dominican Republic (area code 809), not of the United States",
	} {
		_, err := s.AddCallerID(ctx, NewCallerID{Number: number, Label: "Main office", Attest: true}, admin)
		var fe FieldErrors
		require.ErrorAs(t, err, &fe, number)
		require.ErrorIs(t, err, ErrInvalid, number)
		require.Contains(t, fe["number"], want, number)
		require.Len(t, fe, 1, number)
	}
	// Every wrong field at once.
	_, err := s.AddCallerID(ctx, NewCallerID{Number: "+1 876 555 0100", Label: " ", Attest: false}, admin)
	var fe FieldErrors
	require.ErrorAs(t, err, &fe)
	require.Equal(t, []string{"attest", "label", "number"}, slices.Sorted(maps.Keys(fe)))
	require.Contains(t, fe["attest"], "confirm that the number is the firm's own")
	require.Equal(t, before, rows(), "nothing stored")

	// Numbers of the United States: a state's, DC's, toll-free.
	for _, number := range []string{"(203) 555-0101", "+1 202 555 0100", "800-555-0199"} {
		k, err := s.AddCallerID(ctx, NewCallerID{Number: number, Label: " Front desk ", Attest: true}, admin)
		require.NoError(t, err, number)
		require.True(t, k.Current())
		require.Equal(t, "Front desk", k.Label)
		require.Equal(t, CallerIDAttestation, k.Attestation, "the statement affirmed, kept word for word")
		require.Equal(t, "numbers@firm.test", k.AddedByEmail)
	}
	// A declaration no admin affirms records what it is instead, and
	// needs one to say so; Attest alone does not stand for it.
	_, err = s.AddCallerIDStated(ctx, NewCallerID{Number: "203-555-0188", Label: "Demo", Attest: true}, " ", admin)
	require.ErrorAs(t, err, &fe)
	require.Equal(t, []string{"attest"}, slices.Sorted(maps.Keys(fe)))
	const stated = "Declared by a test, not affirmed by anyone."
	k, err := s.AddCallerIDStated(ctx, NewCallerID{Number: "203-555-0188", Label: "Demo"}, stated, admin)
	require.NoError(t, err)
	require.Equal(t, stated, k.Attestation)
	_, err = s.AddCallerID(ctx, NewCallerID{Number: "203.555.0101", Label: "Again", Attest: true}, admin)
	require.ErrorAs(t, err, &fe)
	require.Contains(t, fe["number"], "+1 203-555-0101 is one of the firm's caller IDs already")

	// Only an enabled admin.
	for _, by := range []int64{user(t, db, "p@firm.test", "paralegal", false), user(t, db, "x@firm.test", "admin", true), 0} {
		_, err := s.AddCallerID(ctx, NewCallerID{Number: "203-555-0102", Label: "Main office", Attest: true}, by)
		require.ErrorIs(t, err, ErrNotAdmin, by)
	}
	require.Equal(t, before+4, rows())
}

// TestCampaignNeedsAFirmCallerID: creating or editing a campaign refuses
// a caller ID that is not a current caller ID of the firm (rule F11), a
// contact's own number or a retired one, and says where an admin declares
// one; a current one is accepted.
func TestCampaignNeedsAFirmCallerID(t *testing.T) {
	t.Parallel()
	s, db := newService(t)
	ctx := context.Background()
	list := importList(t, s, "plain", "name,phone\nAnn,8605550101\n")
	in := NewCampaign{Name: "Hearings", Purpose: "informational", ListID: list, Message: "Hello.", CallerID: "860-555-0101"}
	_, err := s.Create(ctx, in, 0)
	var fe FieldErrors
	require.ErrorAs(t, err, &fe)
	require.Len(t, fe, 1)
	require.Contains(t, fe["caller_id"], "+1 860-555-0101 is not one of the firm's caller IDs")
	require.Contains(t, fe["caller_id"], "rule F11")
	require.Contains(t, fe["caller_id"], "the Caller IDs page (/admin/callerids) or with `heed callerid add`")

	in.CallerID = "860-555-0100"
	c, err := s.Create(ctx, in, 0)
	require.NoError(t, err)
	k := declareCallerID(t, s, db, "+12035550101")
	in.CallerID = "203-555-0101"
	_, err = s.Update(ctx, c.ID, in, Edit{})
	require.NoError(t, err)

	_, err = s.RetireCallerID(ctx, k.ID, adminID(t, db))
	require.NoError(t, err)
	in.Name = "Hearings, again"
	_, err = s.Update(ctx, c.ID, in, Edit{})
	require.ErrorAs(t, err, &fe)
	require.Contains(t, fe["caller_id"], "+1 203-555-0101 is no longer one of the firm's caller IDs: it was retired at ")
	require.Contains(t, fe["caller_id"], " by numbers@firm.test")
	got, err := s.Get(ctx, c.ID)
	require.NoError(t, err)
	require.Equal(t, "Hearings", got.Name, "the refused edit changed nothing")
	_, err = s.Create(ctx, in, 0)
	require.ErrorAs(t, err, &fe)
}

// TestStartRefusesACallerIDNotTheFirms: the launch checks refuse a
// campaign whose caller ID was never declared the firm's (a campaign
// saved before migration 00045) or was retired since it was saved,
// naming the number and rule F11; declared again, it starts.
func TestStartRefusesACallerIDNotTheFirms(t *testing.T) {
	t.Parallel()
	s, db := newService(t)
	ctx := context.Background()
	list := importList(t, s, "ny", "name,phone,state\nBo,2125550101,NY\n")
	k := declareCallerID(t, s, db, "+12035550101")
	c, err := s.Create(ctx, NewCampaign{Name: "Hearings", Purpose: "informational", ListID: list, Message: "Hello.", CallerID: "203-555-0101"}, 0)
	require.NoError(t, err)
	_, err = s.RetireCallerID(ctx, k.ID, adminID(t, db))
	require.NoError(t, err)

	_, err = s.Start(ctx, c.ID)
	var le *LaunchError
	require.ErrorAs(t, err, &le)
	require.ErrorIs(t, err, ErrLaunchRefused)
	require.Equal(t, []consent.Reason{ReasonCallerIDRetired}, le.Reasons)
	require.ErrorContains(t, err, "callerid.retired: rule F11 (caller ID)")
	require.ErrorContains(t, err, "the campaign's caller ID +1 203-555-0101 is no longer one of the firm's caller IDs")
	require.Equal(t, "draft", campaignStatus(t, db, c.ID))

	// Saved before caller IDs were declared: never one of the firm's.
	_, err = db.Exec(ctx, `UPDATE campaigns SET caller_id = '+18765550100' WHERE id = $1`, c.ID)
	require.NoError(t, err)
	_, err = s.Start(ctx, c.ID)
	require.ErrorAs(t, err, &le)
	require.Equal(t, []consent.Reason{ReasonCallerIDUnregistered}, le.Reasons)
	require.ErrorContains(t, err, "the campaign's caller ID +1 876-555-0100 is not one of the firm's caller IDs")
	require.Equal(t, "draft", campaignStatus(t, db, c.ID))

	// With the other checks' reasons: all of them.
	s.Launch.OptOutNumber = ""
	_, err = s.Start(ctx, c.ID)
	require.ErrorAs(t, err, &le)
	require.Equal(t, []consent.Reason{"script.callback", ReasonCallerIDUnregistered}, le.Reasons)
	s.Launch.OptOutNumber = "+18005550199"

	_, err = db.Exec(ctx, `UPDATE campaigns SET caller_id = '+12035550101' WHERE id = $1`, c.ID)
	require.NoError(t, err)
	declareCallerID(t, s, db, "+12035550101")
	started, err := s.Start(ctx, c.ID)
	require.NoError(t, err)
	require.Equal(t, StatusRunning, started.Status)
}

// TestResumePausesCampaignsWithoutAFirmCallerID: at heed's start, a
// running campaign whose caller ID is not one of the firm's (every
// campaign running when migration 00045 declared none) is paused, with
// rule F11's reason; one whose caller ID the firm declared is resumed.
func TestResumePausesCampaignsWithoutAFirmCallerID(t *testing.T) {
	t.Parallel()
	s, db := newService(t)
	ctx := context.Background()
	list := importList(t, s, "ny", "name,phone,state\nBo,2125550101,NY\n")
	start := func(name string) Campaign {
		c, err := s.Create(ctx, NewCampaign{Name: name, Purpose: "informational", ListID: list, Message: "Hello.", CallerID: testCallerID}, 0)
		require.NoError(t, err)
		c, err = s.Start(ctx, c.ID)
		require.NoError(t, err)
		return c
	}
	good, old := start("good"), start("old")
	// As a campaign started before 00045, with a number no admin declared.
	_, err := db.Exec(ctx, `UPDATE campaigns SET caller_id = '+18605550101' WHERE id = $1`, old.ID)
	require.NoError(t, err)

	rep, err := s.Resume(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, rep.Resumed)
	require.Len(t, rep.Paused, 1)
	require.Equal(t, old.ID, rep.Paused[0].ID)
	require.Equal(t, []consent.Reason{ReasonCallerIDUnregistered}, rep.Paused[0].Why.Reasons)
	require.Contains(t, rep.Paused[0].Why.Error(), "+1 860-555-0101 is not one of the firm's caller IDs")
	require.Contains(t, rep.Paused[0].Why.Error(), "rule F11")
	require.Equal(t, "paused", campaignStatus(t, db, old.ID))
	require.Equal(t, "running", campaignStatus(t, db, good.ID))
}

// TestRetireCallerIDPausesItsRunningCampaigns: retiring a caller ID pauses
// the running campaigns that send it, in the same transaction and as the
// admin's change, and names them and the drafts and paused campaigns it
// holds; campaigns that send another number go on. Only an enabled admin
// retires, once.
func TestRetireCallerIDPausesItsRunningCampaigns(t *testing.T) {
	t.Parallel()
	s, db := newService(t)
	ctx := context.Background()
	admin := adminID(t, db)
	list := importList(t, s, "ny", "name,phone,state\nBo,2125550101,NY\n")
	x := declareCallerID(t, s, db, "+12035550101")
	create := func(name, callerID string) Campaign {
		c, err := s.Create(ctx, NewCampaign{Name: name, Purpose: "informational", ListID: list, Message: "Hello.", CallerID: callerID}, 0)
		require.NoError(t, err)
		return c
	}
	start := func(c Campaign) {
		_, err := s.Start(ctx, c.ID)
		require.NoError(t, err)
	}
	running, paused, draft, other := create("Running", "203-555-0101"), create("Paused", "203-555-0101"), create("Draft", "203-555-0101"),
		create("Other", testCallerID)
	start(running)
	start(paused)
	start(other)
	_, err := s.Pause(ctx, paused.ID)
	require.NoError(t, err)

	para := user(t, db, "p@firm.test", "paralegal", false)
	_, err = s.RetireCallerID(ctx, x.ID, para)
	require.ErrorIs(t, err, ErrNotAdmin)
	require.Equal(t, "running", campaignStatus(t, db, running.ID), "a refused retirement changes nothing")

	r, err := s.RetireCallerID(ctx, x.ID, admin)
	require.NoError(t, err)
	require.False(t, r.CallerID.Current())
	require.Equal(t, "numbers@firm.test", r.CallerID.RetiredByEmail)
	require.Equal(t, []CampaignRef{{ID: running.ID, Name: "Running", Status: StatusPaused}}, r.Paused)
	require.Equal(t, []CampaignRef{{ID: paused.ID, Name: "Paused", Status: StatusPaused}, {ID: draft.ID, Name: "Draft", Status: StatusDraft}}, r.Held)
	require.Equal(t, "paused", campaignStatus(t, db, running.ID))
	require.Equal(t, "running", campaignStatus(t, db, other.ID))
	var by int64
	require.NoError(t, db.QueryRow(ctx, `SELECT (details->>'updated_by')::bigint FROM audit_log
		WHERE tbl = 'campaigns' AND row_id = $1 ORDER BY seq DESC LIMIT 1`, running.ID).Scan(&by))
	require.Equal(t, admin, by, "the pause is the admin's, in the audit log")

	_, err = s.RetireCallerID(ctx, x.ID, admin)
	require.ErrorIs(t, err, ErrCallerIDRetired)
	_, err = s.RetireCallerID(ctx, x.ID+1000, admin)
	require.ErrorIs(t, err, ErrNotFound)

	// Neither paused campaign starts with it; declared again, both do.
	for _, c := range []Campaign{running, paused} {
		_, err = s.Start(ctx, c.ID)
		require.ErrorIs(t, err, ErrLaunchRefused, c.Name)
	}
	declareCallerID(t, s, db, "+12035550101")
	for _, c := range []Campaign{running, paused} {
		start(c)
	}
}

// TestRetireWhileStarting: a retirement that commits while a paused
// campaign that sends the number is being started (its launch checks
// passed, its transaction waiting for the campaign's row) leaves it
// paused: the start's transaction finds the caller ID retired (Start
// holds it FOR SHARE), and refuses with rule F11's reason.
func TestRetireWhileStarting(t *testing.T) {
	t.Parallel()
	s, db := newService(t)
	ctx := context.Background()
	c, x := runningHearings(t, s, db)
	_, err := s.Pause(ctx, c.ID)
	require.NoError(t, err)

	// The campaign's row, held as an edit holds it: the start waits for
	// it once its launch checks have passed.
	hold, err := db.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = hold.Rollback(ctx) }()
	_, err = hold.Exec(ctx, `SELECT 1 FROM campaigns WHERE id = $1 FOR NO KEY UPDATE`, c.ID)
	require.NoError(t, err)
	started := make(chan error, 1)
	go func() {
		_, err := s.Start(ctx, c.ID)
		started <- err
	}()
	waitForLockWait(t, db)

	r, err := s.RetireCallerID(ctx, x.ID, adminID(t, db))
	require.NoError(t, err)
	require.Empty(t, r.Paused, "not running yet")
	require.NoError(t, hold.Rollback(ctx))
	err = <-started
	var le *LaunchError
	require.ErrorAs(t, err, &le)
	require.Equal(t, []consent.Reason{ReasonCallerIDRetired}, le.Reasons)
	require.Equal(t, "paused", campaignStatus(t, db, c.ID))
}

// waitForLockWait waits until a session of db's database waits for a lock.
func waitForLockWait(t *testing.T, db *pgxpool.Pool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var n int
		require.NoError(t, db.QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&n))
		if n > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("no session waits for a lock")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestCompletedCampaignRunsAgainOnlyWithAFirmCallerID: contacts added to,
// or put back in, a completed campaign start it again only while its
// caller ID is one of the firm's (rule F11).
func TestCompletedCampaignRunsAgainOnlyWithAFirmCallerID(t *testing.T) {
	t.Parallel()
	s, db := newService(t)
	ctx := context.Background()
	c, x := runningHearings(t, s, db)
	para := user(t, db, "p@firm.test", "paralegal", false)
	var bo int64
	require.NoError(t, db.QueryRow(ctx, `SELECT id FROM contacts WHERE phone = '+12125550101'`).Scan(&bo))
	require.NoError(t, s.SkipContact(ctx, c.ID, bo, para, "hearing cancelled"))
	_, err := db.Exec(ctx, `UPDATE campaigns SET status = 'completed', completed_at = now() WHERE id = $1`, c.ID)
	require.NoError(t, err)
	_, err = s.RetireCallerID(ctx, x.ID, adminID(t, db))
	require.NoError(t, err)

	err = s.RestoreContact(ctx, c.ID, bo, para)
	var le *LaunchError
	require.ErrorAs(t, err, &le)
	require.Equal(t, []consent.Reason{ReasonCallerIDRetired}, le.Reasons)
	require.Equal(t, "completed", campaignStatus(t, db, c.ID))

	importList(t, s, "ny", "name,phone,state\nCy,2125550102,NY\n")
	_, err = s.AddNewContacts(ctx, c.ID, para)
	require.ErrorAs(t, err, &le)
	require.Equal(t, []consent.Reason{ReasonCallerIDRetired}, le.Reasons)
	require.Equal(t, "completed", campaignStatus(t, db, c.ID))

	declareCallerID(t, s, db, "+12035550101")
	require.NoError(t, s.RestoreContact(ctx, c.ID, bo, para))
	require.Equal(t, "running", campaignStatus(t, db, c.ID))
}

// runningHearings starts a campaign, "Hearings", of one New York contact,
// with the firm's caller ID +1 203-555-0101, declared for it, which it
// returns.
func runningHearings(t *testing.T, s *Service, db *pgxpool.Pool) (Campaign, CallerID) {
	t.Helper()
	ctx := context.Background()
	list := importList(t, s, "ny", "name,phone,state\nBo,2125550101,NY\n")
	x := declareCallerID(t, s, db, "+12035550101")
	c, err := s.Create(ctx, NewCampaign{Name: "Hearings", Purpose: "informational", ListID: list, Message: "Hello.", CallerID: "203-555-0101"}, 0)
	require.NoError(t, err)
	_, err = s.Start(ctx, c.ID)
	require.NoError(t, err)
	return c, x
}

package campaign

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/consent"
	"github.com/heed-dialer/heed/dialer"
	"github.com/heed-dialer/heed/internal/dbtest"
	"github.com/heed-dialer/heed/internal/phone"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

func newService(t *testing.T) (*Service, *pgxpool.Pool) {
	t.Helper()
	db := dbtest.New(t)
	rc, err := river.NewClient(riverpgxv5.New(db), &river.Config{})
	require.NoError(t, err)
	engine, err := consent.NewEngine(consent.Config{})
	require.NoError(t, err)
	s := NewService(db, rc)
	s.Launch = &Launch{Engine: func() *consent.Engine { return engine }, Firm: "Smith and Lee", OptOutNumber: "+18005550199",
		Voice: dialer.Media{HostDir: t.TempDir(), AsteriskDir: "/media"}}
	declareCallerID(t, s, db, testCallerID)
	return s, db
}

// testCallerID is the caller ID the tests' campaigns send, which
// newService declares one of the firm's (rule F11).
const testCallerID = "+18605550100"

// declareCallerID declares number one of the firm's caller IDs, as the
// tests' own admin (created at the first call), and returns it.
func declareCallerID(t *testing.T, s *Service, db *pgxpool.Pool, number string) CallerID {
	t.Helper()
	ctx := context.Background()
	var admin int64
	require.NoError(t, db.QueryRow(ctx, `
		WITH made AS (INSERT INTO users (email, role, password_hash) SELECT 'numbers@firm.test', 'admin', 'x'
		               WHERE NOT EXISTS (SELECT 1 FROM users WHERE email = 'numbers@firm.test') RETURNING id)
		SELECT id FROM made UNION ALL SELECT id FROM users WHERE email = 'numbers@firm.test'`).Scan(&admin))
	k, err := s.AddCallerID(ctx, NewCallerID{Number: number, Label: "Main office", Attest: true}, admin)
	require.NoError(t, err)
	return k
}

func importList(t *testing.T, s *Service, name, csv string) int64 {
	t.Helper()
	rep, err := s.ImportContacts(context.Background(), name, strings.NewReader(csv), ImportOptions{})
	require.NoError(t, err)
	return rep.ListID
}

const appointmentsCSV = `name,phone,appointment_at,place,matter,time_zone
Ann Lee,860-555-0101,2026-12-01 09:30,Hartford Superior Court,Lee v. Lee,
"Moss, Bob",860-555-0102,12/2/2026 2:00 pm,Room 4,Estate of Moss,America/Chicago
`

func TestCreateStoresSettings(t *testing.T) {
	t.Parallel()
	s, db := newService(t)
	ctx := context.Background()
	listID := importList(t, s, "appointments", appointmentsCSV)
	in := NewCampaign{
		Name: "Hearings", Purpose: "informational", ListID: listID, Message: "Hello {first_name}, see you on {date} at {time}.",
		CallerID: "860-555-0100", Callback: "(203) 555-0188", CallsPerSecond: 2.5, TransferTo: "+1 860 555 0142", Record: true,
		AMD:      dialer.AMDSettings{InitialSilence: 2000, Greeting: 1200, TotalAnalysisTime: 4000, MaxWords: 3},
		Retry:    &RetryRules{MaxAttempts: 2, BusySeconds: 60, NoAnswerSecs: 60, FailedSeconds: 0, MachineSeconds: 3600},
		Schedule: &Schedule{TimeZone: "America/Chicago", StartsAt: "2026-11-30T08:00", EndsAt: "2099-12-04", WindowStart: "09:00", WindowEnd: "17:00", Days: []string{"mon", "tue"}},
	}
	c, err := s.Create(ctx, in, 0)
	require.NoError(t, err)
	require.Equal(t, "+12035550188", c.Callback)
	require.Equal(t, 2.5, c.CallsPerSecond)
	require.Equal(t, "+18605550142", c.TransferTo)
	require.True(t, c.Record)
	require.Equal(t, in.AMD, c.AMD)
	require.Equal(t, *in.Retry, c.Retry)
	require.Equal(t, Schedule{TimeZone: "America/Chicago", StartsAt: "2026-11-30T08:00:00-06:00", EndsAt: "2099-12-05T00:00:00-06:00",
		WindowStart: "09:00", WindowEnd: "17:00", Days: []string{"mon", "tue"}}, c.Schedule)
	require.Equal(t, 2, c.Counts.Targets)

	dc, err := NewStore(db).Campaign(ctx, c.ID)
	require.NoError(t, err)
	require.Equal(t, "+12035550188", dc.Callback)
	require.Equal(t, 2.5, dc.CallsPerSecond)
	require.Equal(t, in.AMD, dc.AMD)
	require.Equal(t, "+18605550142", dc.TransferTo)
	require.True(t, dc.Record)

	// The defaults: callback = caller ID, no cap, no transfer, no recording,
	// next-day retry after a machine, any time in New York.
	d, err := s.Create(ctx, NewCampaign{Name: "Plain", Purpose: "informational", ListID: listID, Message: "Hello.", CallerID: "860-555-0100"}, 0)
	require.NoError(t, err)
	require.Equal(t, "+18605550100", d.Callback)
	require.Zero(t, d.CallsPerSecond)
	require.Empty(t, d.TransferTo)
	require.False(t, d.Record)
	require.Equal(t, DefaultRetry, d.Retry)
	require.Equal(t, Schedule{TimeZone: "America/New_York"}, d.Schedule)
	dd, err := NewStore(db).Campaign(ctx, d.ID)
	require.NoError(t, err)
	require.Equal(t, dialer.AMDSettings{}, dd.AMD)

	// A row written before the settings existed has no callback: the caller ID serves.
	var oldID int64
	require.NoError(t, db.QueryRow(ctx, `INSERT INTO campaigns (name, purpose, list_id, message_text, caller_id) VALUES ('old', 'informational', $1, 'Hi', '+18605550100') RETURNING id`, listID).Scan(&oldID))
	oc, err := NewStore(db).Campaign(ctx, oldID)
	require.NoError(t, err)
	require.Equal(t, "+18605550100", oc.Callback)
	og, err := s.Get(ctx, oldID)
	require.NoError(t, err)
	require.Equal(t, "+18605550100", og.Callback)
}

func TestCreateValidation(t *testing.T) {
	t.Parallel()
	s, db := newService(t)
	ctx := context.Background()
	listID := importList(t, s, "plain", "name,phone\nAnn,8605550101\n")
	base := func() NewCampaign {
		return NewCampaign{Name: "x", Purpose: "informational", ListID: listID, Message: "Hello.", CallerID: "860-555-0100"}
	}
	for _, tc := range []struct {
		name   string
		change func(*NewCampaign)
		field  string
		want   string
	}{
		{"Callback900", func(n *NewCampaign) { n.Callback = "900-555-0100" }, "callback", "must not be a premium-rate 900 number"},
		{"CallerID900", func(n *NewCampaign) { n.CallerID = "1-900-555-0100" }, "caller_id", "must not be a premium-rate 900 number"},
		{"CallbackNotNANP", func(n *NewCampaign) { n.Callback = "+44 20 7946 0958" }, "callback", "must be a North American number"},
		{"CallbackGarbage", func(n *NewCampaign) { n.Callback = "call us" }, "callback", "a valid phone number is required"},
		{"RingLongerThanMaxRing", func(n *NewCampaign) { n.RingSeconds = 121 }, "ring_seconds", "between 20 and 120 seconds (heed rings at least 20 s)"},
		{"CPSTooHigh", func(n *NewCampaign) { n.CallsPerSecond = 51 }, "calls_per_second", "between 0 (no cap of its own) and 50 calls per second"},
		{"CPSNegative", func(n *NewCampaign) { n.CallsPerSecond = -1 }, "calls_per_second", "between 0 (no cap of its own) and 50 calls per second"},
		{"AMDGreeting", func(n *NewCampaign) { n.AMD.Greeting = 50 }, "amd.greeting_ms", "0 (the default) or between 500 and 10000"},
		{"AMDNegative", func(n *NewCampaign) { n.AMD.MaxWords = -2 }, "amd.max_words", "0 (the default) or between 1 and 20"},
		{"AMDTotalTooShort", func(n *NewCampaign) { n.AMD.InitialSilence = 3000; n.AMD.TotalAnalysisTime = 2000 }, "amd.total_analysis_time_ms", "must be at least the initial silence and the greeting"},
		// Rule F10: a person hears heed within 2 s of their greeting.
		{"AMDAfterGreetingSilenceDeadAir", func(n *NewCampaign) { n.AMD.AfterGreetingSilence = 5000; n.AMD.TotalAnalysisTime = 30000 }, "amd.after_greeting_silence_ms",
			"0 (the default) or between 100 and 1500: at most 1500, since a person who answers must hear heed within 2 s of their greeting (rule F10, abandoned calls), " +
				"and detection waits this long after the greeting before the message starts, which leaves 500 ms for it to start playing"},
		{"AMDAfterGreetingSilenceJustOver", func(n *NewCampaign) { n.AMD.AfterGreetingSilence = 1501 }, "amd.after_greeting_silence_ms",
			"0 (the default) or between 100 and 1500: at most 1500, since a person who answers must hear heed within 2 s of their greeting (rule F10, abandoned calls), " +
				"and detection waits this long after the greeting before the message starts, which leaves 500 ms for it to start playing"},
		{"AMDAfterGreetingSilenceTooShort", func(n *NewCampaign) { n.AMD.AfterGreetingSilence = 50 }, "amd.after_greeting_silence_ms", "0 (the default) or between 100 and 1500"},
		{"AMDMinWordLengthMissesHello", func(n *NewCampaign) { n.AMD.MinWordLength = 1000 }, "amd.min_word_length_ms",
			`0 (the default) or between 10 and 200: at most 200, since a greeting with no sound this long (a short "hi") is not taken for one: ` +
				"detection then waits out the initial silence and takes the person for a machine, who hears nothing for more than the 2 s rule F10 (abandoned calls) allows after their greeting"},
		{"TransferBadExtension", func(n *NewCampaign) { n.TransferTo = "front desk" }, "transfer_to", "a North American phone number, or an extension or queue name of 1 to 40 letters, digits, - and _"},
		{"TransferShortPhone", func(n *NewCampaign) { n.TransferTo = "555-0100" }, "transfer_to", "a valid phone number is required (or give a PBX extension or queue name)"},
		{"Transfer900", func(n *NewCampaign) { n.TransferTo = "+19005550100" }, "transfer_to", "must not be a premium-rate 900 number (or give a PBX extension or queue name)"},
		{"RetryMachine", func(n *NewCampaign) { r := DefaultRetry; r.MachineSeconds = 10; n.Retry = &r }, "retry.machine_s", "0 (never) or between 30 seconds and 7 days"},
		{"UnknownPlaceholder", func(n *NewCampaign) { n.Message = "Hi {firstname}" }, "message", "unknown placeholder {firstname}; the placeholders are {name}, {first_name}, {date}, {time}, {place}, {matter}"},
		{"EndInPast", func(n *NewCampaign) { n.Schedule = &Schedule{EndsAt: "2020-01-01T10:00"} }, "schedule.ends_at", "is in the past"},
		{"BadZone", func(n *NewCampaign) { n.Schedule = &Schedule{TimeZone: "EST5"} }, "schedule.time_zone", `"EST5" is not a time zone name such as America/New_York`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := base()
			tc.change(&in)
			_, err := s.Create(ctx, in, 0)
			var fe FieldErrors
			require.True(t, errors.As(err, &fe), "%v", err)
			require.True(t, errors.Is(err, ErrInvalid))
			require.Equal(t, FieldErrors{tc.field: tc.want}, fe)
		})
	}
	var n int
	require.NoError(t, db.QueryRow(ctx, `SELECT count(*) FROM campaigns`).Scan(&n))
	require.Zero(t, n, "invalid campaigns are not stored")

	// The bounds themselves are accepted.
	in := base()
	in.AMD = dialer.AMDSettings{AfterGreetingSilence: MaxAfterGreetingSilence, MinWordLength: MaxMinWordLength}
	c, err := s.Create(ctx, in, 0)
	require.NoError(t, err)
	require.Equal(t, in.AMD, c.AMD)

	for _, ok := range []string{"1000", "sales-queue", "Front_Desk", "(860) 555-0142"} {
		in := base()
		in.TransferTo = ok
		_, err := s.Create(ctx, in, 0)
		require.NoError(t, err, ok)
	}
}

func TestCreateRefusesContactsLackingFields(t *testing.T) {
	t.Parallel()
	s, _ := newService(t)
	ctx := context.Background()
	listID := importList(t, s, "mixed", `name,phone,appointment_at,place
Ann,8605550101,2026-12-01 09:30,Room 1
Bob,8605550102,,Room 2
Cid,8605550103,,
Dee,8605550104,,
Eve,8605550105,,
`)
	in := NewCampaign{Name: "x", Purpose: "informational", ListID: listID, Message: "See you {date} at {time} in {place}.", CallerID: "860-555-0100"}
	_, err := s.Create(ctx, in, 0)
	var fe FieldErrors
	require.True(t, errors.As(err, &fe), "%v", err)
	require.Equal(t, "the message uses {date} and {time}, but 4 contact(s) of the list have no appointment date and time: "+
		"Bob (+18605550102), Cid (+18605550103), Dee (+18605550104) and 1 more; "+
		"the message uses {place}, but 3 contact(s) of the list have no place: Cid (+18605550103), Dee (+18605550104), Eve (+18605550105)",
		fe["message"])
	in.Message = "Hello {first_name}, about {matter}."
	_, err = s.Create(ctx, in, 0)
	require.ErrorAs(t, err, &fe)
	require.Contains(t, fe["message"], "5 contact(s) of the list have no matter: Ann (+18605550101)")
	in.Message = "Hello {first_name}."
	_, err = s.Create(ctx, in, 0)
	require.NoError(t, err, "every contact has a name")
}

// setRunning makes a campaign running, as Start does, without a job.
func setRunning(t *testing.T, db *pgxpool.Pool, id int64) {
	t.Helper()
	_, err := db.Exec(context.Background(), `UPDATE campaigns SET status = 'running' WHERE id = $1`, id)
	require.NoError(t, err)
}

func TestDueRendersAndKeepsSchedule(t *testing.T) {
	t.Parallel()
	s, db := newService(t)
	ctx := context.Background()
	listID := importList(t, s, "appointments", appointmentsCSV)
	c, err := s.Create(ctx, NewCampaign{Name: "x", Purpose: "informational", ListID: listID, CallerID: "860-555-0100",
		Message:  "{first_name}, your {matter} hearing is {date} at {time}, {place}.",
		Schedule: &Schedule{WindowStart: "09:00", WindowEnd: "17:00", Days: []string{"mon", "tue", "wed", "thu", "fri"}}}, 0)
	require.NoError(t, err)
	_, err = db.Exec(ctx, `UPDATE campaign_targets SET next_attempt_at = '2026-01-01T00:00:00Z' WHERE campaign_id = $1`, c.ID)
	require.NoError(t, err)
	st := NewStore(db)

	// Saturday noon in New York: closed.
	got, err := st.Due(ctx, c.ID, 10, mustTime(t, "2026-12-05T17:00:00Z"))
	require.NoError(t, err)
	require.NotNil(t, got)
	require.Empty(t, got)
	// Monday 8:59 EST: closed; 9:00: open.
	got, err = st.Due(ctx, c.ID, 10, mustTime(t, "2026-12-07T13:59:00Z"))
	require.NoError(t, err)
	require.Empty(t, got)
	got, err = st.Due(ctx, c.ID, 10, mustTime(t, "2026-12-07T14:00:00Z"))
	require.NoError(t, err)
	require.Len(t, got, 2)
	require.Equal(t, "Ann, your Lee v. Lee hearing is Tuesday, December 1 at 9:30 AM, Hartford Superior Court.", got[0].Message)
	// Bob's 2 PM was Chicago time: 3 PM in the campaign's time zone.
	require.Equal(t, "Bob, your Estate of Moss hearing is Wednesday, December 2 at 3 PM, Room 4.", got[1].Message)
	require.Equal(t, "+18605550102", got[1].Phone.String())

	// A message without placeholders leaves Target.Message empty.
	plain, err := s.Create(ctx, NewCampaign{Name: "y", Purpose: "informational", ListID: listID, CallerID: "860-555-0100", Message: "Hello."}, 0)
	require.NoError(t, err)
	got, err = st.Due(ctx, plain.ID, 10, time.Now().Add(time.Minute))
	require.NoError(t, err)
	require.Len(t, got, 2)
	require.Empty(t, got[0].Message)

	// A message stored before templates existed, with braces of its own,
	// is said as it is: each target carries it, since the pacer speaks a
	// message with braces per target.
	_, err = db.Exec(ctx, `UPDATE campaigns SET message_text = 'Call {the office}' WHERE id = $1`, plain.ID)
	require.NoError(t, err)
	got, err = st.Due(ctx, plain.ID, 10, time.Now().Add(time.Minute))
	require.NoError(t, err)
	require.Len(t, got, 2)
	require.Equal(t, "Call {the office}", got[0].Message)
}

func TestSettleFollowsSchedule(t *testing.T) {
	t.Parallel()
	s, db := newService(t)
	ctx := context.Background()
	listID := importList(t, s, "three", "name,phone\nAnn,8605550101\nBob,8605550102\nCid,8605550103\n")
	c, err := s.Create(ctx, NewCampaign{Name: "x", Purpose: "informational", ListID: listID, CallerID: "860-555-0100", Message: "Hello.",
		Schedule: &Schedule{WindowStart: "09:00", WindowEnd: "17:00", EndsAt: "2099-03-20T12:00"}}, 0)
	require.NoError(t, err)
	setRunning(t, db, c.ID)
	st := NewStore(db)
	_, err = db.Exec(ctx, `UPDATE campaign_targets SET next_attempt_at = '2099-03-07T12:00:00Z' WHERE campaign_id = $1`, c.ID)
	require.NoError(t, err)

	// Saturday 7 March 2099, 20:00 EST: the next opening is Sunday 9:00,
	// after clocks spring forward (EDT, 13:00 UTC).
	st.now = func() time.Time { return mustTime(t, "2099-03-08T01:00:00Z") }
	done, next, err := st.Settle(ctx, c.ID, c.Generation)
	require.NoError(t, err)
	require.False(t, done)
	require.Equal(t, mustTime(t, "2099-03-08T13:00:00Z"), next.UTC())

	// A retry due later than the opening waits for itself.
	_, err = db.Exec(ctx, `UPDATE campaign_targets SET next_attempt_at = '2099-03-09T15:30:00Z' WHERE campaign_id = $1`, c.ID)
	require.NoError(t, err)
	done, next, err = st.Settle(ctx, c.ID, c.Generation)
	require.NoError(t, err)
	require.False(t, done)
	require.Equal(t, mustTime(t, "2099-03-09T15:30:00Z"), next.UTC())

	// One contact is done; after the end the other two expire and the
	// campaign completes.
	_, err = db.Exec(ctx, `UPDATE campaign_targets SET state = 'done' WHERE campaign_id = $1 AND contact_id = (SELECT min(contact_id) FROM campaign_targets WHERE campaign_id = $1)`, c.ID)
	require.NoError(t, err)
	st.now = func() time.Time { return mustTime(t, "2099-03-20T16:00:00Z") }
	done, _, err = st.Settle(ctx, c.ID, c.Generation)
	require.NoError(t, err)
	require.True(t, done)
	got, err := s.Get(ctx, c.ID)
	require.NoError(t, err)
	require.Equal(t, StatusCompleted, got.Status)
	require.Equal(t, 2, got.Counts.Expired)
	require.Equal(t, 1, got.Counts.Done)
	require.Zero(t, got.Counts.Pending)
	due, err := st.Due(ctx, c.ID, 10, mustTime(t, "2099-03-20T16:00:00Z"))
	require.NoError(t, err)
	require.Empty(t, due)
}

func TestSettleWaitsForEndWhenNothingCanOpen(t *testing.T) {
	t.Parallel()
	s, db := newService(t)
	ctx := context.Background()
	listID := importList(t, s, "one", "name,phone\nAnn,8605550101\n")
	c, err := s.Create(ctx, NewCampaign{Name: "x", Purpose: "informational", ListID: listID, CallerID: "860-555-0100", Message: "Hello.",
		Schedule: &Schedule{EndsAt: "2099-03-20T12:00"}}, 0)
	require.NoError(t, err)
	setRunning(t, db, c.ID)
	_, err = db.Exec(ctx, `UPDATE campaign_targets SET next_attempt_at = '2099-04-01T00:00:00Z' WHERE campaign_id = $1`, c.ID)
	require.NoError(t, err)
	st := NewStore(db)
	st.now = func() time.Time { return mustTime(t, "2099-03-19T12:00:00Z") }
	done, next, err := st.Settle(ctx, c.ID, c.Generation)
	require.NoError(t, err)
	require.False(t, done)
	require.Equal(t, mustTime(t, "2099-03-20T16:00:00Z"), next.UTC(), "wakes at the end, to expire the retry that would come too late")
}

func TestStartPauseCancelWithSchedule(t *testing.T) {
	t.Parallel()
	s, db := newService(t)
	ctx := context.Background()
	listID := importList(t, s, "one", "name,phone\nAnn,8605550101\n")
	c, err := s.Create(ctx, NewCampaign{Name: "x", Purpose: "informational", ListID: listID, CallerID: "860-555-0100", Message: "Hello.",
		Schedule: &Schedule{StartsAt: "2099-01-01", WindowStart: "10:00", WindowEnd: "12:00"}}, 0)
	require.NoError(t, err)
	c, err = s.Start(ctx, c.ID)
	require.NoError(t, err)
	require.Equal(t, StatusRunning, c.Status)
	c, err = s.Pause(ctx, c.ID)
	require.NoError(t, err)
	require.Equal(t, StatusPaused, c.Status)
	c, err = s.Start(ctx, c.ID)
	require.NoError(t, err)
	require.Equal(t, StatusRunning, c.Status)
	st := NewStore(db)
	done, next, err := st.Settle(ctx, c.ID, c.Generation)
	require.NoError(t, err)
	require.False(t, done)
	require.Equal(t, mustTime(t, "2099-01-01T15:00:00Z"), next.UTC(), "a running campaign sleeps until its start")
	c, err = s.Cancel(ctx, c.ID)
	require.NoError(t, err)
	require.Equal(t, StatusCancelled, c.Status)
	_, err = s.Start(ctx, c.ID)
	require.ErrorIs(t, err, ErrInvalidTransition)
}

func TestCountsByOutcome(t *testing.T) {
	t.Parallel()
	s, db := newService(t)
	ctx := context.Background()
	listID := importList(t, s, "six", "name,phone\nA,8605550101\nB,8605550102\nC,8605550103\nD,8605550104\nE,8605550105\nF,8605550106\n")
	c, err := s.Create(ctx, NewCampaign{Name: "x", Purpose: "informational", ListID: listID, CallerID: "860-555-0100", Message: "Hello."}, 0)
	require.NoError(t, err)
	_, err = db.Exec(ctx, `
		INSERT INTO attempts (campaign_id, contact_id, attempt_no, phone, caller_id, decision, status, outcome)
		SELECT $1, id, 1, phone, '+18605550100', CASE WHEN o = 'blocked' THEN 'deny' ELSE 'allow' END,
		       CASE WHEN o = 'blocked' THEN 'blocked' ELSE 'ended' END, o
		  FROM (SELECT id, phone, (ARRAY['answered', 'opted_out', 'machine', 'busy', 'busy', 'blocked'])[row_number() OVER (ORDER BY id)] AS o
		          FROM contacts WHERE list_id = $2) x`, c.ID, listID)
	require.NoError(t, err)
	_, err = db.Exec(ctx, `INSERT INTO attempts (campaign_id, contact_id, attempt_no, phone, caller_id, decision, status)
		SELECT $1, id, 2, phone, '+18605550100', 'allow', 'ringing' FROM contacts WHERE list_id = $2 LIMIT 1`, c.ID, listID)
	require.NoError(t, err)
	got, err := s.Get(ctx, c.ID)
	require.NoError(t, err)
	require.Equal(t, map[string]int{"answered": 1, "opted_out": 1, "machine": 1, "busy": 2, "blocked": 1}, got.Counts.ByOutcome)
	require.Equal(t, 2, got.Counts.Reached, "answered (old rows) and opted out reached a person; a machine did not")
	require.Equal(t, 1, got.Counts.Blocked)
	require.Equal(t, 7, got.Counts.Attempts)
	require.Equal(t, []OutcomeCount{{"opted_out", "Opted out", 1}, {"answered", "Answered", 1}, {"machine", "Machine", 1}, {"busy", "Busy", 2}},
		got.Counts.Outcomes())
	b, err := json.Marshal(got.Counts)
	require.NoError(t, err)
	require.Contains(t, string(b), `"by_outcome":{`)
	require.Contains(t, string(b), `"reached":2`)
	require.NotContains(t, string(b), `"answered":1,"attempts"`)

	// Calls the last look refused count as blocked or deferred, as at the
	// decision; a call not placed for another reason stays called off.
	_, err = db.Exec(ctx, `
		INSERT INTO attempts (campaign_id, contact_id, attempt_no, phone, caller_id, decision, status, outcome, last_look, not_placed)
		SELECT $1, id, n, phone, '+18605550100', 'allow', 'ended', 'called_off',
		       CASE n WHEN 3 THEN '{"decision":{"decision":"deny"}}'::jsonb WHEN 4 THEN '{"decision":{"decision":"defer"}}'::jsonb END,
		       CASE n WHEN 5 THEN 'no Asterisk was up' ELSE '' END
		  FROM contacts, generate_series(3, 5) n WHERE list_id = $2 AND name = 'A'`, c.ID, listID)
	require.NoError(t, err)
	got, err = s.Get(ctx, c.ID)
	require.NoError(t, err)
	require.Equal(t, map[string]int{"answered": 1, "opted_out": 1, "machine": 1, "busy": 2, "blocked": 2, "deferred": 1, "called_off": 1}, got.Counts.ByOutcome)
	require.Equal(t, 2, got.Counts.Blocked)
	require.Equal(t, []OutcomeCount{{"opted_out", "Opted out", 1}, {"answered", "Answered", 1}, {"machine", "Machine", 1}, {"busy", "Busy", 2},
		{"called_off", "Not placed (due again)", 1}, {"deferred", "Deferred", 1}}, got.Counts.Outcomes())

	empty := Counts{}
	require.Empty(t, empty.Outcomes())
	odd := Counts{ByOutcome: map[string]int{"confirmed": 3, "zzz": 1, "transferred": 1}}
	require.Equal(t, []OutcomeCount{{"confirmed", "Confirmed", 3}, {"transferred", "Transferred", 1}, {"zzz", "zzz", 1}}, odd.Outcomes())
}

func TestRetryRulesJSON(t *testing.T) {
	var r RetryRules
	require.NoError(t, json.Unmarshal([]byte(`{"max_attempts":2,"busy_s":60}`), &r))
	require.Equal(t, RetryRules{MaxAttempts: 2, BusySeconds: 60, MachineSeconds: 86400}, r, "machine_s left out keeps the next-day default")
	require.NoError(t, json.Unmarshal([]byte(`{"max_attempts":2,"machine_s":0}`), &r))
	require.Equal(t, RetryRules{MaxAttempts: 2}, r, "machine_s 0 means never")
	require.Error(t, json.Unmarshal([]byte(`{"machine_s":"soon"}`), &r))
	var n NewCampaign
	require.NoError(t, json.Unmarshal([]byte(`{"retry":{"max_attempts":1},"schedule":{"time_zone":"America/Denver","days":["sat"]},"amd":{"greeting_ms":900}}`), &n))
	require.Equal(t, 86400, n.Retry.MachineSeconds)
	require.Equal(t, "America/Denver", n.Schedule.TimeZone)
	require.Equal(t, 900, n.AMD.Greeting)
}

// TestInjuryMatter: only a solicitation can be about personal-injury or
// wrongful-death matters (rule E1); such a campaign hands the pacing loop
// its flag, and each contact's accident as the instant the 40 days count
// from (consent.AccidentInstant of its accident_date).
func TestInjuryMatter(t *testing.T) {
	t.Parallel()
	s, _ := newService(t)
	ctx := context.Background()
	listID := importList(t, s, "pi", "name,phone,accident_date\nAnn,860-555-0101,2026-10-01\nBob,860-555-0102,\n")
	in := NewCampaign{Name: "PI", Purpose: "informational", ListID: listID, Message: "Hello.", CallerID: "860-555-0100", InjuryMatter: true}
	_, err := s.Create(ctx, in, 0)
	var fe FieldErrors
	require.ErrorAs(t, err, &fe)
	require.Equal(t, "only a solicitation can be about personal-injury or wrongful-death matters", fe["injury_matter"])

	// Bob has no accident date: such a campaign could never call him.
	in.Purpose = "solicitation"
	_, err = s.Create(ctx, in, 0)
	require.ErrorAs(t, err, &fe)
	require.Equal(t, "the campaign is about personal-injury or wrongful-death matters, but 1 contact(s) of the list have no accident_date, and would never be called: Bob (+18605550102)",
		fe["injury_matter"])
	_, err = s.ImportContacts(ctx, "pi", strings.NewReader("name,phone,accident_date\nBob,860-555-0102,2026-10-05\n"), ImportOptions{UpdateExisting: true})
	require.NoError(t, err)
	c, err := s.Create(ctx, in, 0)
	require.NoError(t, err)
	require.True(t, c.InjuryMatter)
	st := NewStore(s.db)
	dc, err := st.Campaign(ctx, c.ID)
	require.NoError(t, err)
	require.True(t, dc.InjuryMatter)
	_, err = s.db.Exec(ctx, `UPDATE campaigns SET status = 'running' WHERE id = $1`, c.ID)
	require.NoError(t, err)
	got, err := st.Due(ctx, c.ID, 10, time.Now())
	require.NoError(t, err)
	accidents := map[phone.Number]time.Time{}
	for _, tg := range got {
		accidents[tg.Phone] = tg.AccidentAt
	}
	require.Equal(t, map[phone.Number]time.Time{"+18605550101": time.Date(2026, 10, 2, 11, 0, 0, 0, time.UTC),
		"+18605550102": time.Date(2026, 10, 6, 11, 0, 0, 0, time.UTC)}, accidents)

	// An update that takes a pending contact's date away is refused.
	_, err = s.ImportContacts(ctx, "pi", strings.NewReader("name,phone,accident_date\nAnn,860-555-0101,\n"), ImportOptions{UpdateExisting: true})
	var ie *ImportError
	require.ErrorAs(t, err, &ie)
	require.Equal(t, []RowError{{Line: 2, Reason: `accident_date is empty, but campaign "PI", about personal-injury or wrongful-death matters, still has to call this contact`}},
		ie.Report.Rejected)

	// A contact added later without a date is refused as well.
	_, err = s.ImportContacts(ctx, "pi", strings.NewReader("name,phone\nCy,860-555-0103\n"), ImportOptions{})
	require.NoError(t, err)
	_, err = s.AddNewContacts(ctx, c.ID, 0)
	require.ErrorIs(t, err, ErrLaunchRefused)
	require.ErrorContains(t, err, "1 contact(s) of the list have no accident_date, and would never be called: Cy (+18605550103)")
}

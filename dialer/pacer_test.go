package dialer_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/campaign"
	"github.com/heed-dialer/heed/consent"
	"github.com/heed-dialer/heed/dialer"
	"github.com/heed-dialer/heed/dnc"
	"github.com/heed-dialer/heed/internal/dbtest"
	"github.com/heed-dialer/heed/internal/phone"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// recordingLines stands in for Asterisk in failure-path tests. At each Place
// it checks, in the database, that the attempt row was written first.
type recordingLines struct {
	t       *testing.T
	db      *pgxpool.Pool
	refuse  map[phone.Number]bool
	mu      sync.Mutex
	placed  []phone.Number
	at      []time.Time
	reqs    []dialer.CallRequest
	maxBusy int
	busy    int
	// beforeReady, when set, runs before the last look.
	beforeReady func(dialer.CallRequest)
	calledOff   []phone.Number
}

func (l *recordingLines) Place(ctx context.Context, req dialer.CallRequest, report func(dialer.CallEvent)) error {
	placedAt := time.Now()
	var status string
	err := l.db.QueryRow(ctx, `SELECT status FROM attempts WHERE id = $1`, req.AttemptID).Scan(&status)
	require.NoError(l.t, err, "the attempt row must exist before the call is placed")
	require.Equal(l.t, "originating", status)
	if l.beforeReady != nil {
		l.beforeReady(req)
	}
	// As the pool does once a line is free: the last look.
	if req.Ready != nil {
		if err := req.Ready(ctx); err != nil {
			l.mu.Lock()
			l.calledOff = append(l.calledOff, req.To)
			l.mu.Unlock()
			return err
		}
	}
	l.mu.Lock()
	l.placed = append(l.placed, req.To)
	l.at = append(l.at, placedAt)
	l.reqs = append(l.reqs, req)
	if l.refuse[req.To] {
		l.mu.Unlock()
		return dialer.ErrOriginate
	}
	l.busy++
	if l.busy > l.maxBusy {
		l.maxBusy = l.busy
	}
	l.mu.Unlock()
	go func() {
		now := time.Now()
		report(dialer.CallEvent{Kind: dialer.EventOriginated, At: now, ChannelID: dialer.ChannelID("test", req.AttemptID), Asterisk: "fake"})
		time.Sleep(50 * time.Millisecond)
		report(dialer.CallEvent{Kind: dialer.EventAnswered, At: now, ChannelID: dialer.ChannelID("test", req.AttemptID), Asterisk: "fake"})
		l.mu.Lock()
		l.busy--
		l.mu.Unlock()
		report(dialer.CallEvent{Kind: dialer.EventEnded, At: time.Now(), ChannelID: dialer.ChannelID("test", req.AttemptID), Asterisk: "fake",
			Outcome: dialer.OutcomeAnswered, Cause: 16, DTMF: "1"})
	}()
	return nil
}

func TestPacerDecidesRecordsAndPlaces(t *testing.T) {
	t.Parallel()
	db := dbtest.New(t)
	ctx := context.Background()
	var listID, campaignID int64
	require.NoError(t, db.QueryRow(ctx, `INSERT INTO contact_lists (name) VALUES ('p') RETURNING id`).Scan(&listID))
	type row struct {
		phone, consentSQL, want string
		reasons                 []string
		dnc                     bool
	}
	ok := `INSERT INTO consents (phone, kind, scope, channel, obtained_at, source) VALUES ($1, 'pec', 'informational', 'voice', now() - interval '1 day', 't')`
	rows := []row{
		{"+18605550101", ok, "answered", nil, false},
		{"+18605550102", ok, "answered", nil, false},
		{"+18605550103", ok, "answered", nil, false},
		{"+18605550104", "", "blocked", []string{"consent.missing"}, false},
		{"+18605550105", ok, "blocked", []string{"dnc.internal"}, true},
		{"+18605550106", `INSERT INTO consents (phone, kind, scope, channel, obtained_at, source) VALUES ($1, 'pec', 'telemarketing', 'voice', now() - interval '1 day', 't')`, "blocked", []string{"consent.missing"}, false},
		{"+18605550107", ok + `; INSERT INTO revocations (phone, revoked_at, method) VALUES ($1, now() - interval '1 hour', 'ivr')`, "blocked", []string{"consent.revoked"}, false},
		{"+18605550108", `INSERT INTO consents (phone, kind, scope, channel, obtained_at, source, expires_at) VALUES ($1, 'pec', 'informational', 'voice', now() - interval '2 days', 't', now() - interval '1 day')`, "blocked", []string{"consent.expired"}, false},
		{"+18605550109", ok, "failed", nil, false},
		{"+442071234567", ok, "blocked", []string{"number.unsupported"}, false},
		// A known landline (its list says so): a reminder robocall needs
		// no consent (F3).
		{"+18605550110", "", "answered", nil, false},
	}
	for _, r := range rows {
		_, err := db.Exec(ctx, `INSERT INTO contacts (list_id, name, phone) VALUES ($1, 'x', $2)`, listID, r.phone)
		require.NoError(t, err)
		if r.consentSQL != "" {
			for _, stmt := range splitSQL(r.consentSQL) {
				_, err := db.Exec(ctx, stmt, r.phone)
				require.NoError(t, err)
			}
		}
		if r.dnc {
			_, err := db.Exec(ctx, `INSERT INTO dnc_internal (phone, method) VALUES ($1, 'staff')`, r.phone)
			require.NoError(t, err)
		}
	}
	_, err := db.Exec(ctx, `UPDATE contacts SET line_type = 'landline' WHERE phone = '+18605550110'`)
	require.NoError(t, err)
	campaignID = runningCampaign(t, db, listID, "Hello", 2)

	lines := &recordingLines{t: t, db: db, refuse: map[phone.Number]bool{"+18605550109": true}}
	p := testPacer(t, db, campaign.NewStore(db), lines)
	// The gate's indexes hold a national registry copy, listing none of
	// these numbers.
	reg := dnc.NewRegistry(db, t.TempDir())
	var b dnc.Builder
	require.NoError(t, b.Add(2035550100))
	_, err = reg.Install(ctx, dnc.National, time.Now().AddDate(0, 0, -1), "test", b.Build(), 0)
	require.NoError(t, err)
	p.Gate.(*dialer.PolicyGate).Indexes.Registry = reg
	require.NoError(t, p.Gate.(*dialer.PolicyGate).Sync(ctx))
	require.NoError(t, p.Run(ctx, campaignID, 1))

	var status string
	require.NoError(t, db.QueryRow(ctx, `SELECT status FROM campaigns WHERE id = $1`, campaignID).Scan(&status))
	require.Equal(t, "completed", status)
	require.LessOrEqual(t, lines.maxBusy, 2, "never more calls at once than the campaign allows")
	require.ElementsMatch(t, []phone.Number{"+18605550101", "+18605550102", "+18605550103", "+18605550109", "+18605550110"}, lines.placed,
		"only allowed attempts reach the lines")
	var line string
	require.NoError(t, db.QueryRow(ctx, `SELECT decision_input->>'line' FROM attempts WHERE phone = '+18605550110'`).Scan(&line))
	require.Equal(t, "landline", line, "the gate was asked for the contact's line")
	require.NoError(t, db.QueryRow(ctx, `SELECT decision_input->>'line' FROM attempts WHERE phone = '+18605550104'`).Scan(&line))
	require.Equal(t, "unknown", line)
	for _, r := range rows {
		var outcome, decision, pack string
		var reasons []string
		err := db.QueryRow(ctx, `SELECT outcome, decision, reasons, pack FROM attempts WHERE phone = $1`, r.phone).Scan(&outcome, &decision, &reasons, &pack)
		require.NoError(t, err, r.phone)
		require.Equal(t, r.want, outcome, r.phone)
		require.Equal(t, p.Gate.(*dialer.PolicyGate).Engine.Version(), pack)
		if r.reasons != nil {
			require.Equal(t, "deny", decision, r.phone)
			require.Equal(t, r.reasons, reasons, r.phone)
		} else {
			require.Equal(t, "allow", decision, r.phone)
		}
	}

	// Every attempt keeps the change-log position its decision read: the
	// last consent, revocation or entry written before the run.
	var last int64
	require.NoError(t, db.QueryRow(ctx, `SELECT max(seq) FROM index_changes`).Scan(&last))
	var kept int
	require.NoError(t, db.QueryRow(ctx, `SELECT count(*) FROM attempts WHERE campaign_id = $1 AND (decision_input->>'index_seq')::bigint = $2`,
		campaignID, last).Scan(&kept))
	require.Equal(t, len(rows), kept)
	// And the registry copies it read.
	require.NoError(t, db.QueryRow(ctx, `SELECT count(*) FROM attempts WHERE campaign_id = $1 AND decision_input->'lists' = '{"national": 1}'`,
		campaignID).Scan(&kept))
	require.Equal(t, len(rows), kept)

	// A stopped campaign does nothing: a second run finds it completed.
	require.NoError(t, p.Run(ctx, campaignID, 1))
	require.Len(t, lines.placed, 5)
}

// officeHours is a clock at the next 11:00 in Connecticut, running at the
// real pace and never behind the real clock.
func officeHours() func() time.Time {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		panic(err)
	}
	start := time.Now()
	y, m, d := start.In(ny).Date()
	base := time.Date(y, m, d, 11, 0, 0, 0, ny)
	if base.Before(start) {
		base = time.Date(y, m, d+1, 11, 0, 0, 0, ny)
	}
	return func() time.Time { return base.Add(time.Since(start)) }
}

func splitSQL(s string) []string { return strings.Split(s, ";") }

func TestConnectARIGivesUp(t *testing.T) {
	t.Parallel()
	// A port that accepts connections and never answers, and one that refuses them.
	hang, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { hang.Close() })
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closedAddr := closed.Addr().String()
	closed.Close()
	for _, addr := range []string{hang.Addr().String(), closedAddr} {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		start := time.Now()
		_, err := dialer.ConnectARI(ctx, dialer.ARIConfig{URL: "http://" + addr + "/ari", Username: "u", Password: "p", Application: "heed"}, quiet())
		cancel()
		require.True(t, errors.Is(err, dialer.ErrARIUnavailable), "%s: %v", addr, err)
		require.Less(t, time.Since(start), 10*time.Second, "ConnectARI must honour its deadline")
	}
}

// TestPacerRetries checks the retry rules with a clock the test moves: a
// failed call is tried again only once its delay has passed by the pacer's
// clock, and no more than the campaign's calls per contact.
func TestPacerRetries(t *testing.T) {
	t.Parallel()
	db := dbtest.New(t)
	ctx := context.Background()
	var listID, campaignID int64
	require.NoError(t, db.QueryRow(ctx, `INSERT INTO contact_lists (name) VALUES ('r') RETURNING id`).Scan(&listID))
	_, err := db.Exec(ctx, `INSERT INTO contacts (list_id, name, phone) VALUES ($1, 'x', '+18605550109')`, listID)
	require.NoError(t, err)
	_, err = db.Exec(ctx, `INSERT INTO consents (phone, kind, scope, channel, obtained_at, source) VALUES ('+18605550109', 'pec', 'informational', 'voice', now() - interval '1 day', 't')`)
	require.NoError(t, err)
	require.NoError(t, db.QueryRow(ctx, `INSERT INTO campaigns (name, purpose, list_id, message_text, caller_id, status, generation, max_attempts, retry_failed_s)
		VALUES ('c', 'informational', $1, 'Hello', '+18605550100', 'running', 1, 2, 120) RETURNING id`, listID).Scan(&campaignID))
	_, err = db.Exec(ctx, `INSERT INTO campaign_targets (campaign_id, contact_id) SELECT $1, id FROM contacts`, campaignID)
	require.NoError(t, err)

	engine, err := consent.NewEngine(consent.Config{})
	require.NoError(t, err)
	ix := dialer.NewIndexes(db, quiet())
	require.NoError(t, ix.Load(ctx))
	clock := officeHours()().Truncate(time.Second)
	lines := &recordingLines{t: t, db: db, refuse: map[phone.Number]bool{"+18605550109": true}}
	p := &dialer.Pacer{
		Gate: &dialer.PolicyGate{Engine: engine, Indexes: ix}, Store: campaign.NewStore(db), Lines: lines,
		Media: dialer.Media{HostDir: t.TempDir(), AsteriskDir: "/media"}, Log: quiet(), Tick: 10 * time.Millisecond,
		Now: func() time.Time { return clock }, Firm: "Smith and Lee",
	}
	var sn *dialer.Snooze
	require.ErrorAs(t, p.Run(ctx, campaignID, 1), &sn, "nothing due until the retry delay passes")
	require.InDelta(t, float64(120*time.Second), float64(sn.After), float64(time.Millisecond))
	require.Len(t, lines.placed, 1)

	clock = clock.Add(119 * time.Second)
	require.ErrorAs(t, p.Run(ctx, campaignID, 1), &sn)
	require.Len(t, lines.placed, 1, "not before the delay")
	clock = clock.Add(time.Second)
	require.NoError(t, p.Run(ctx, campaignID, 1), "the second and last call ends the campaign")
	require.Len(t, lines.placed, 2)
	var status string
	var attempts []int
	require.NoError(t, db.QueryRow(ctx, `SELECT status FROM campaigns WHERE id = $1`, campaignID).Scan(&status))
	require.Equal(t, "completed", status)
	rows, err := db.Query(ctx, `SELECT attempt_no FROM attempts WHERE campaign_id = $1 AND decision = 'allow' ORDER BY id`, campaignID)
	require.NoError(t, err)
	for rows.Next() {
		var n int
		require.NoError(t, rows.Scan(&n))
		attempts = append(attempts, n)
	}
	require.Equal(t, []int{1, 2}, attempts)
}

// withdrawingStore withdraws one contact from its campaign just before the
// pacer records that contact's attempt: the race of a paralegal's "Don't
// call" with a batch that has already read the contact as due.
type withdrawingStore struct {
	*campaign.Store
	db       *pgxpool.Pool
	withdraw phone.Number
}

func (s withdrawingStore) Decide(ctx context.Context, t dialer.Target, req dialer.Request, d consent.Decision) (int64, error) {
	if t.Phone == s.withdraw {
		if _, err := s.db.Exec(ctx, `UPDATE campaign_targets SET state = 'skipped', skipped_at = now() WHERE campaign_id = $1 AND contact_id = $2`,
			t.CampaignID, t.ContactID); err != nil {
			return 0, err
		}
	}
	return s.Store.Decide(ctx, t, req, d)
}

func TestPacerSkipsWithdrawnContact(t *testing.T) {
	t.Parallel()
	db := dbtest.New(t)
	ctx := context.Background()
	listID := consentedList(t, db, "w", "+18605550101", "+18605550102")
	campaignID := runningCampaign(t, db, listID, "Hello", 2)

	lines := &recordingLines{t: t, db: db}
	p := testPacer(t, db, withdrawingStore{campaign.NewStore(db), db, "+18605550102"}, lines)
	require.NoError(t, p.Run(ctx, campaignID, 1))
	require.Equal(t, []phone.Number{"+18605550101"}, lines.placed, "the withdrawn contact is not called")
	var attempts int
	require.NoError(t, db.QueryRow(ctx, `SELECT count(*) FROM attempts WHERE phone = '+18605550102'`).Scan(&attempts))
	require.Zero(t, attempts, "nor is an attempt recorded for it")
	var status, state string
	require.NoError(t, db.QueryRow(ctx, `SELECT c.status, t.state FROM campaigns c JOIN campaign_targets t ON t.campaign_id = c.id
		JOIN contacts k ON k.id = t.contact_id WHERE c.id = $1 AND k.phone = '+18605550102'`, campaignID).Scan(&status, &state))
	require.Equal(t, "completed", status)
	require.Equal(t, "skipped", state)
}

// consentedList makes a list of contacts with the phones, each with an
// informational voice consent given a day ago, and returns its id.
func consentedList(t *testing.T, db *pgxpool.Pool, name string, phones ...string) int64 {
	t.Helper()
	ctx := context.Background()
	var listID int64
	require.NoError(t, db.QueryRow(ctx, `INSERT INTO contact_lists (name) VALUES ($1) RETURNING id`, name).Scan(&listID))
	for _, ph := range phones {
		_, err := db.Exec(ctx, `INSERT INTO contacts (list_id, name, phone) VALUES ($1, 'x', $2)`, listID, ph)
		require.NoError(t, err)
		_, err = db.Exec(ctx, `INSERT INTO consents (phone, kind, scope, channel, obtained_at, source) VALUES ($1, 'pec', 'informational', 'voice', now() - interval '1 day', 't')`, ph)
		require.NoError(t, err)
	}
	return listID
}

// testPacer is a pacer for campaigns in db, with store and lines, the
// built-in packs and indexes loaded from db, at the office hours'
// clock (officeHours).
func testPacer(t *testing.T, db *pgxpool.Pool, store dialer.Store, lines dialer.Lines) *dialer.Pacer {
	t.Helper()
	engine, err := consent.NewEngine(consent.Config{})
	require.NoError(t, err)
	ix := dialer.NewIndexes(db, quiet())
	require.NoError(t, ix.Load(context.Background()))
	return &dialer.Pacer{
		Gate: &dialer.PolicyGate{Engine: engine, Indexes: ix}, Store: store, Lines: lines,
		Media: dialer.Media{HostDir: t.TempDir(), AsteriskDir: "/media"}, Log: quiet(), Tick: 10 * time.Millisecond,
		Now: officeHours(), Firm: "Smith and Lee",
	}
}

// TestPacerEndsACallStoppedBeforeItIsPlaced: a job stopped while its call
// waits to be placed (here, at its last look) ends the attempt as called
// off, not placed, rather than leave it in flight (an open call in its
// person's history, consent.Attempt.Open, until recovery). A call never
// placed is no call: the contact stays due, and the campaign's one
// attempt is still the contact's to have.
func TestPacerEndsACallStoppedBeforeItIsPlaced(t *testing.T) {
	t.Parallel()
	db := dbtest.New(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	listID := consentedList(t, db, "s", "+18605550121")
	campaignID := runningCampaign(t, db, listID, "Hello", 1)
	var err error

	lines := &recordingLines{t: t, db: db, beforeReady: func(dialer.CallRequest) { cancel() }}
	store := campaign.NewStore(db)
	err = testPacer(t, db, store, lines).Run(ctx, campaignID, 1)
	require.ErrorIs(t, err, context.Canceled)
	require.Empty(t, lines.placed)
	bg := context.Background()
	var status, outcome, notPlaced, state string
	require.NoError(t, db.QueryRow(bg, `SELECT a.status, a.outcome, a.not_placed, t.state FROM attempts a
		JOIN campaign_targets t ON t.campaign_id = a.campaign_id AND t.contact_id = a.contact_id WHERE a.campaign_id = $1`, campaignID).
		Scan(&status, &outcome, &notPlaced, &state))
	require.Equal(t, []string{"ended", "called_off", "the dialing job stopped", "pending"}, []string{status, outcome, notPlaced, state},
		"the attempt is not left in flight, and its contact stays due")
	atts, err := campaign.NewService(db, nil).Attempts(bg, campaignID, 10)
	require.NoError(t, err)
	require.Len(t, atts, 1)
	require.Equal(t, "not placed: the dialing job stopped", atts[0].CalledOff, "the export says why")
	require.Equal(t, "the dialing job stopped", atts[0].NotPlaced, "the campaign page says why")

	// The next run calls the contact: the call never placed was no
	// attempt of the campaign's one.
	lines.beforeReady = nil
	require.NoError(t, testPacer(t, db, store, lines).Run(bg, campaignID, 1))
	require.Equal(t, []phone.Number{"+18605550121"}, lines.placed)
}

// mute is heed's media whose text-to-speech fails on any text holding
// word, as when espeak-ng or sox fails on a message.
type mute struct {
	dialer.Media
	word string
}

func (m mute) Speak(ctx context.Context, text string) (string, error) {
	if strings.Contains(text, m.word) {
		return "", errors.New("tts: synthesise: exit status 1")
	}
	return m.Media.Speak(ctx, text)
}

// TestPacerWaitsOutAMessageItCannotSay: a contact whose own message
// cannot be spoken (text-to-speech fails on it) is not called and counts
// as no call: its attempt is called off, saying why, and the contact is
// due again after UnspokenWait, while the campaign's other contacts are
// called at once. Mended, it is called then, though the campaign allows
// one attempt. Never mended, its call after UnspokenTries such tries
// counts as failed, and the campaign's one attempt ends it.
func TestPacerWaitsOutAMessageItCannotSay(t *testing.T) {
	t.Parallel()
	db := dbtest.New(t)
	ctx := context.Background()
	var listID, campaignID int64
	require.NoError(t, db.QueryRow(ctx, `INSERT INTO contact_lists (name) VALUES ('m') RETURNING id`).Scan(&listID))
	for ph, matter := range map[string]string{"+18605550151": "Your hearing is on Monday.", "+18605550152": "Your hearing is on Zqxj.",
		"+18605550153": "Zqxj again."} {
		_, err := db.Exec(ctx, `INSERT INTO contacts (list_id, name, phone, matter) VALUES ($1, 'x', $2, $3)`, listID, ph, matter)
		require.NoError(t, err)
		_, err = db.Exec(ctx, `INSERT INTO consents (phone, kind, scope, channel, obtained_at, source) VALUES ($1, 'pec', 'informational', 'voice', now() - interval '1 day', 't')`, ph)
		require.NoError(t, err)
	}
	campaignID = runningCampaign(t, db, listID, "{matter}", 3)
	var err error

	clock := officeHours()().Truncate(time.Second)
	lines := &recordingLines{t: t, db: db}
	p := testPacer(t, db, campaign.NewStore(db), lines)
	p.Now = func() time.Time { return clock }
	p.Media = mute{p.Media.(dialer.Media), "Zqxj"}
	var sn *dialer.Snooze
	require.ErrorAs(t, p.Run(ctx, campaignID, 1), &sn, "nothing due until the unspoken messages' contacts are again")
	require.True(t, clock.Add(dialer.UnspokenWait).Equal(sn.Until), "due again at %s", sn.Until)
	require.Equal(t, []phone.Number{"+18605550151"}, lines.placed, "the other contact is called at once")
	var outcome, notPlaced, state string
	var next time.Time
	require.NoError(t, db.QueryRow(ctx, `SELECT a.outcome, a.not_placed, t.state, t.next_attempt_at FROM attempts a
		JOIN campaign_targets t ON t.campaign_id = a.campaign_id AND t.contact_id = a.contact_id
		JOIN contacts c ON c.id = a.contact_id WHERE a.campaign_id = $1 AND c.phone = '+18605550152'`, campaignID).
		Scan(&outcome, &notPlaced, &state, &next))
	require.Equal(t, []string{"called_off", "its message could not be spoken", "pending"}, []string{outcome, notPlaced, state})
	require.True(t, clock.Add(dialer.UnspokenWait).Equal(next), "due again at %s", next)

	_, err = db.Exec(ctx, `UPDATE contacts SET matter = 'Your papers are due Friday.' WHERE phone = '+18605550152'`)
	require.NoError(t, err)
	for range dialer.UnspokenTries - 1 {
		clock = clock.Add(dialer.UnspokenWait)
		require.ErrorAs(t, p.Run(ctx, campaignID, 1), &sn)
	}
	require.Equal(t, []phone.Number{"+18605550151", "+18605550152"}, lines.placed, "mended, called at its next turn")
	clock = clock.Add(dialer.UnspokenWait)
	require.NoError(t, p.Run(ctx, campaignID, 1), "the never-spoken contact's last call counts, and ends the campaign")
	require.Len(t, lines.placed, 2)
	rows, err := db.Query(ctx, `SELECT a.outcome FROM attempts a JOIN contacts c ON c.id = a.contact_id
		WHERE a.campaign_id = $1 AND c.phone = '+18605550153' ORDER BY a.id`, campaignID)
	require.NoError(t, err)
	outcomes, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	require.Equal(t, []string{"called_off", "called_off", "called_off", "failed"}, outcomes)
	// That failed call was never placed, and says so: it counts toward
	// no cap or quiet period of any campaign.
	var last string
	require.NoError(t, db.QueryRow(ctx, `SELECT a.not_placed FROM attempts a JOIN contacts c ON c.id = a.contact_id
		WHERE a.campaign_id = $1 AND c.phone = '+18605550153' ORDER BY a.id DESC LIMIT 1`, campaignID).Scan(&last))
	require.Equal(t, dialer.NotSpoken, last)
	hist, err := campaign.NewStore(db).History(ctx, []dialer.Subject{{Phone: "+18605550153"}, {Phone: "+18605550151"}}, time.Now().Add(-48*time.Hour))
	require.NoError(t, err)
	require.Len(t, hist, 2)
	require.Empty(t, hist[0].Attempts, "no call to the never-spoken contact counts")
	require.Len(t, hist[1].Attempts, 1, "the call placed counts")
}

// lookFails is a campaign store whose last looks fail while fails is
// above zero, as when the database refuses the look's statement.
type lookFails struct {
	*campaign.Store
	fails atomic.Int32
}

func (s *lookFails) Look(ctx context.Context, attemptID int64, l dialer.LastLook) (bool, error) {
	if s.fails.Add(-1) >= 0 {
		return false, errors.New("statement timeout")
	}
	return s.Store.Look(ctx, attemptID, l)
}

// TestPacerWaitsWhenALastLookCannotBeRecorded: a call whose last look
// could not be recorded is not placed, and counts as no call; the batch
// stops and the pacer waits (StaleWait) rather than take the same
// contacts again at once. Then both contacts are called, each once,
// though the campaign allows one attempt.
func TestPacerWaitsWhenALastLookCannotBeRecorded(t *testing.T) {
	t.Parallel()
	db := dbtest.New(t)
	bg := context.Background()
	listID := consentedList(t, db, "l", "+18605550141", "+18605550142")
	campaignID := runningCampaign(t, db, listID, "Hello", 2)
	store := &lookFails{Store: campaign.NewStore(db)}
	store.fails.Store(1)
	ctx, cancel := context.WithCancel(bg)
	defer cancel()
	var once sync.Once
	lines := &recordingLines{t: t, db: db, beforeReady: func(dialer.CallRequest) {
		once.Do(func() { time.AfterFunc(time.Second, cancel) }) // the run stops a second after the first look
	}}
	require.ErrorIs(t, testPacer(t, db, store, lines).Run(ctx, campaignID, 1), context.Canceled)
	var n int
	var outcome, notPlaced string
	require.NoError(t, db.QueryRow(bg, `SELECT count(*) OVER (), outcome, not_placed FROM attempts WHERE campaign_id = $1`, campaignID).
		Scan(&n, &outcome, &notPlaced))
	require.Equal(t, 1, n, "the batch stopped at the call not placed")
	require.Equal(t, []string{"called_off", "its last look could not be recorded"}, []string{outcome, notPlaced})
	require.Empty(t, lines.placed)

	lines.beforeReady = nil
	require.NoError(t, testPacer(t, db, store, lines).Run(bg, campaignID, 1))
	require.ElementsMatch(t, []phone.Number{"+18605550141", "+18605550142"}, lines.placed)
}

// downLines are recordingLines behind a pool of Asterisks that can all
// be down: Up says so, and the next fails calls of Place fail with
// ErrNoAsterisk, as a pool's do when its last Asterisk went down after
// the pacer asked.
type downLines struct {
	*recordingLines
	up    atomic.Bool
	fails atomic.Int32
	calls atomic.Int32
	// asked, when set, runs once Up has said no; failed once Place has
	// failed.
	asked, failed func()
}

func (l *downLines) Up() bool {
	up := l.up.Load()
	if !up && l.asked != nil {
		l.asked()
	}
	return up
}

func (l *downLines) Place(ctx context.Context, req dialer.CallRequest, report func(dialer.CallEvent)) error {
	l.calls.Add(1)
	if l.fails.Add(-1) >= 0 {
		if l.failed != nil {
			l.failed()
		}
		return fmt.Errorf("attempt %d: %w", req.AttemptID, dialer.ErrNoAsterisk)
	}
	return l.recordingLines.Place(ctx, req, report)
}

// TestPacerWaitsWhileNoAsteriskIsUp: while no Asterisk is up the pacer
// takes no contact, and a call that finds none up (the last one went down
// meanwhile) is recorded as not placed, and the batch places no more: no
// contact's attempts are used up by an outage. Once an Asterisk is up
// every contact is called, each once, though the campaign allows one
// attempt.
func TestPacerWaitsWhileNoAsteriskIsUp(t *testing.T) {
	t.Parallel()
	db := dbtest.New(t)
	bg := context.Background()
	listID := consentedList(t, db, "d", "+18605550131", "+18605550132", "+18605550133")
	campaignID := runningCampaign(t, db, listID, "Hello", 3)
	lines := &downLines{recordingLines: &recordingLines{t: t, db: db}}
	store := campaign.NewStore(db)
	attempts := func() (n int) {
		require.NoError(t, db.QueryRow(bg, `SELECT count(*) FROM attempts WHERE campaign_id = $1`, campaignID).Scan(&n))
		return n
	}

	// Every Asterisk down: no contact is taken, no attempt recorded. The
	// run stops half a second after the pacer heard so (it then waits
	// StaleWait, 5 s), or after 30 s should it never ask.
	later := func(cancel context.CancelFunc) func() {
		var once sync.Once
		return func() { once.Do(func() { time.AfterFunc(500*time.Millisecond, cancel) }) }
	}
	ctx, cancel := context.WithTimeout(bg, 30*time.Second)
	defer cancel()
	lines.asked = later(cancel)
	require.ErrorIs(t, testPacer(t, db, store, lines).Run(ctx, campaignID, 1), context.Canceled)
	require.Zero(t, attempts())
	require.Zero(t, lines.calls.Load())

	// Up, but the first call finds none up: that attempt is not placed,
	// and the pacer waits (StaleWait) rather than take the other two. The
	// run stops half a second after the call failed.
	lines.up.Store(true)
	lines.fails.Store(1)
	ctx, cancel = context.WithCancel(bg)
	defer cancel()
	lines.failed = later(cancel)
	require.ErrorIs(t, testPacer(t, db, store, lines).Run(ctx, campaignID, 1), context.Canceled)
	require.Equal(t, int32(1), lines.calls.Load())
	var outcome, notPlaced, state string
	require.NoError(t, db.QueryRow(bg, `SELECT a.outcome, a.not_placed, t.state FROM attempts a
		JOIN campaign_targets t ON t.campaign_id = a.campaign_id AND t.contact_id = a.contact_id WHERE a.campaign_id = $1`, campaignID).
		Scan(&outcome, &notPlaced, &state))
	require.Equal(t, []string{"called_off", "no Asterisk was up", "pending"}, []string{outcome, notPlaced, state})

	// Up for good: every contact is called once, and the campaign completes.
	require.NoError(t, testPacer(t, db, store, lines).Run(bg, campaignID, 1))
	require.ElementsMatch(t, []phone.Number{"+18605550131", "+18605550132", "+18605550133"}, lines.placed)
	require.Equal(t, 4, attempts())
	var done int
	require.NoError(t, db.QueryRow(bg, `SELECT count(*) FROM campaign_targets WHERE campaign_id = $1 AND state = 'done'`, campaignID).Scan(&done))
	require.Equal(t, 3, done)
}

// TestCallLine checks which line the pacing loop asks the gate about: a
// listed landline only for reminders, wireless as wireless, and unknown
// for everything else.
func TestCallLine(t *testing.T) {
	t.Parallel()
	for _, p := range consent.Purposes() {
		want := consent.LineUnknown
		if p == consent.PurposeInformational {
			want = consent.LineLandline
		}
		require.Equal(t, want, dialer.CallLine(p, consent.LineLandline), p)
		require.Equal(t, consent.LineWireless, dialer.CallLine(p, consent.LineWireless), p)
		require.Equal(t, consent.LineUnknown, dialer.CallLine(p, consent.LineUnknown), p)
		require.Equal(t, consent.LineUnknown, dialer.CallLine(p, ""), p)
		require.Equal(t, consent.LineUnknown, dialer.CallLine(p, "voip"), p)
	}
}

package dialer_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/campaign"
	"github.com/heed-dialer/heed/consent"
	"github.com/heed-dialer/heed/dialer"
	"github.com/heed-dialer/heed/internal/dbtest"
	"github.com/heed-dialer/heed/internal/phone"
)

// personWorld is a database with a debt-collection campaign ready to run
// and an earlier, completed one whose calls make the history.
type personWorld struct {
	t          *testing.T
	db         *pgxpool.Pool
	at         time.Time // the pacer's clock
	old        int64     // the earlier campaign
	oldList    int64
	list       int64
	campaignID int64
	contacts   map[phone.Number]int64
	calls      int
}

func newPersonWorld(t *testing.T) *personWorld {
	t.Helper()
	w := &personWorld{t: t, db: dbtest.New(t), at: officeHours()().Truncate(time.Second), contacts: map[phone.Number]int64{}}
	ctx := context.Background()
	require.NoError(t, w.db.QueryRow(ctx, `INSERT INTO contact_lists (name) VALUES ('old') RETURNING id`).Scan(&w.oldList))
	require.NoError(t, w.db.QueryRow(ctx, `INSERT INTO contact_lists (name) VALUES ('new') RETURNING id`).Scan(&w.list))
	require.NoError(t, w.db.QueryRow(ctx, `INSERT INTO campaigns (name, purpose, list_id, message_text, caller_id, status)
		VALUES ('old', 'debt_collection', $1, 'Hello', '+18605550100', 'completed') RETURNING id`, w.oldList).Scan(&w.old))
	require.NoError(t, w.db.QueryRow(ctx, `INSERT INTO campaigns (name, purpose, list_id, message_text, caller_id, status, generation, max_concurrent, max_attempts)
		VALUES ('c', 'debt_collection', $1, 'Hello', '+18605550100', 'running', 1, 10, 1) RETURNING id`, w.list).Scan(&w.campaignID))
	return w
}

// contact adds a contact with debt-collection consent to a list; on the
// campaign's list it is also a target.
func (w *personWorld) contact(list int64, p phone.Number, person string) {
	w.t.Helper()
	ctx := context.Background()
	var id int64
	require.NoError(w.t, w.db.QueryRow(ctx, `INSERT INTO contacts (list_id, name, phone, person_ref) VALUES ($1, 'x', $2, $3) RETURNING id`,
		list, p, person).Scan(&id))
	_, err := w.db.Exec(ctx, `INSERT INTO consents (phone, kind, scope, channel, obtained_at, source)
		SELECT $1, 'pec', 'debt_collection', 'voice', now() - interval '60 days', 't' WHERE NOT EXISTS (SELECT 1 FROM consents WHERE phone = $1)`, p)
	require.NoError(w.t, err)
	if list == w.list {
		_, err = w.db.Exec(ctx, `INSERT INTO campaign_targets (campaign_id, contact_id) VALUES ($1, $2)`, w.campaignID, id)
		require.NoError(w.t, err)
	}
	w.contacts[p] = id
}

// call records a call of the earlier campaign to p's contact, ago before
// the pacer's clock.
func (w *personWorld) call(p phone.Number, outcome string, ago time.Duration) {
	w.t.Helper()
	w.calls++
	_, err := w.db.Exec(context.Background(), `INSERT INTO attempts (campaign_id, contact_id, attempt_no, phone, caller_id, decision, status, outcome, originated_at, ended_at)
		VALUES ($1, $2, $3, $4, '+18605550100', 'allow', 'ended', $5, $6, $6)`, w.old, w.contacts[p], w.calls, p, outcome, w.at.Add(-ago))
	require.NoError(w.t, err)
}

func (w *personWorld) pacer(lines dialer.Lines) *dialer.Pacer {
	w.t.Helper()
	engine, err := consent.NewEngine(consent.Config{})
	require.NoError(w.t, err)
	ix := dialer.NewIndexes(w.db, quiet())
	require.NoError(w.t, ix.Load(context.Background()))
	return &dialer.Pacer{
		Gate: &dialer.PolicyGate{Engine: engine, Indexes: ix}, Store: campaign.NewStore(w.db), Lines: lines,
		Media: dialer.Media{HostDir: w.t.TempDir(), AsteriskDir: "/media"}, Log: quiet(), Tick: 10 * time.Millisecond,
		Now: func() time.Time { return w.at }, Firm: "Smith and Lee",
	}
}

// runUntilWaiting runs the campaign's pacer once, which must end waiting
// for a target not yet due (Snooze), and returns the calls it placed.
func (w *personWorld) runUntilWaiting(why string) []phone.Number {
	w.t.Helper()
	lines := &recordingLines{t: w.t, db: w.db}
	var sn *dialer.Snooze
	require.ErrorAs(w.t, w.pacer(lines).Run(context.Background(), w.campaignID, 1), &sn, why)
	return lines.placed
}

// attemptRow is an attempt of the campaign as its row keeps it.
type attemptRow struct {
	decision string
	reasons  []string
	until    *time.Time
	input    struct {
		History   []consent.Attempt `json:"history"`
		HistoryOf *struct {
			Person  string         `json:"person_ref"`
			Numbers []phone.Number `json:"numbers"`
		} `json:"history_of"`
	}
}

func (w *personWorld) attempt(p phone.Number) attemptRow {
	w.t.Helper()
	var a attemptRow
	var input []byte
	require.NoError(w.t, w.db.QueryRow(context.Background(), `SELECT decision, reasons, decided_until, decision_input FROM attempts
		WHERE campaign_id = $1 AND phone = $2`, w.campaignID, p).Scan(&a.decision, &a.reasons, &a.until, &input), p)
	require.NoError(w.t, json.Unmarshal(input, &a.input))
	require.NotNil(w.t, a.input.HistoryOf, "%s: the attempt row says whose calls its history counted", p)
	return a
}

// TestPacerCountsRegFPerPerson: Reg F's caps count a person's calls to all
// their numbers, whatever list or campaign they were made from; a contact
// without a person reference counts its number's calls alone, and the
// attempt row keeps the history counted and whose it is.
func TestPacerCountsRegFPerPerson(t *testing.T) {
	t.Parallel()
	w := newPersonWorld(t)
	const (
		pMobile phone.Number = "+18605550301" // D-100, on the earlier list
		pHome   phone.Number = "+18605550302" // D-100
		q       phone.Number = "+18605550303" // D-200, never called
		rMobile phone.Number = "+18605550305" // D-300, on the earlier list
		rHome   phone.Number = "+18605550304" // D-300
		kOld    phone.Number = "+18605550306" // no person
		l       phone.Number = "+18605550307" // no person, never called
	)
	w.contact(w.oldList, pMobile, "D-100")
	w.contact(w.oldList, rMobile, "D-300")
	w.contact(w.oldList, kOld, "")
	w.contact(w.list, pHome, "D-100")
	w.contact(w.list, q, "D-200")
	w.contact(w.list, rHome, "D-300")
	w.contact(w.list, kOld, "")
	w.contact(w.list, l, "")
	// D-100: seven unanswered calls to the mobile in the last 70 hours.
	for i := range 7 {
		w.call(pMobile, "no_answer", time.Duration(10*(i+1))*time.Hour)
	}
	// D-300: a conversation on the mobile two days ago.
	w.call(rMobile, "answered", 48*time.Hour)
	// No person: seven calls to the number in the last 70 hours.
	for i := range 7 {
		w.call(kOld, "no_answer", time.Duration(10*(i+1))*time.Hour)
	}

	require.ElementsMatch(t, []phone.Number{q, l}, w.runUntilWaiting("the deferred targets wait"), "only the people with room under Reg F are called")

	// The second number of a person with 7 calls in 7 days on the first.
	a := w.attempt(pHome)
	require.Equal(t, "defer", a.decision)
	require.Equal(t, []string{"cap.frequency"}, a.reasons)
	require.NotNil(t, a.until)
	require.False(t, a.until.Before(w.at.Add(-70*time.Hour+7*24*time.Hour)), "until the oldest call leaves the 7 days: %s", a.until)
	require.Len(t, a.input.History, 7)
	require.Equal(t, "D-100", a.input.HistoryOf.Person)
	require.Equal(t, []phone.Number{pHome, pMobile}, a.input.HistoryOf.Numbers)

	// A conversation on one number starts the quiet period on the other.
	a = w.attempt(rHome)
	require.Equal(t, "defer", a.decision)
	require.Equal(t, []string{"cap.after_conversation"}, a.reasons)
	require.False(t, a.until.Before(w.at.Add(-48*time.Hour+7*24*time.Hour)), "7 days after the conversation: %s", a.until)
	require.Equal(t, []phone.Number{rHome, rMobile}, a.input.HistoryOf.Numbers)

	// An unrelated person at a number without calls.
	a = w.attempt(q)
	require.Equal(t, "allow", a.decision)
	require.Empty(t, a.input.History)
	require.Equal(t, "D-200", a.input.HistoryOf.Person)
	require.Equal(t, []phone.Number{q}, a.input.HistoryOf.Numbers)

	// Without a person reference the number's own calls still count...
	a = w.attempt(kOld)
	require.Equal(t, "defer", a.decision)
	require.Equal(t, []string{"cap.frequency"}, a.reasons)
	require.Len(t, a.input.History, 7)
	require.Empty(t, a.input.HistoryOf.Person)
	require.Equal(t, []phone.Number{kOld}, a.input.HistoryOf.Numbers)
	// ...and contacts without one are not one person.
	a = w.attempt(l)
	require.Equal(t, "allow", a.decision)
	require.Empty(t, a.input.History)
	require.Equal(t, []phone.Number{l}, a.input.HistoryOf.Numbers)
}

// TestPacerWaitsForACallUnderWay: while another campaign's call to one of
// a person's numbers is under way (being placed, ringing, or answered), it
// may become a conversation, which starts the Reg F quiet period: the
// person's other number is deferred for consent.OpenRecheck
// (cap.after_conversation, the open call in the attempt's history), and
// the rest of the campaign goes on. Decided again after the call has
// ended, the number is called when the call was a machine or unanswered,
// and waits the 7 days from its end when it was a conversation. A call
// left ringing longer than consent.OpenCallLimit (by a stopped process)
// holds no one; one left answered that long, or answered and closed by
// recovery with its outcome unknown, counts as a conversation that ended
// at the limit at the latest.
func TestPacerWaitsForACallUnderWay(t *testing.T) {
	t.Parallel()
	w := newPersonWorld(t)
	const (
		aMobile phone.Number = "+18605550341" // D-710: answered; it ends as a machine
		aHome   phone.Number = "+18605550342"
		bMobile phone.Number = "+18605550343" // D-720: ringing; it ends as a conversation
		bHome   phone.Number = "+18605550344"
		cMobile phone.Number = "+18605550345" // D-730: left ringing by a stopped process
		cHome   phone.Number = "+18605550346"
		dMobile phone.Number = "+18605550348" // D-740: decided long ago, looked at a moment ago, being placed
		dHome   phone.Number = "+18605550349"
		eMobile phone.Number = "+18605550350" // D-750: left answered by a stopped process
		eHome   phone.Number = "+18605550351"
		fMobile phone.Number = "+18605550352" // D-760: answered, closed by recovery as unknown
		fHome   phone.Number = "+18605550353"
		gMobile phone.Number = "+18605550354" // D-770: answered, still up when recovery hung it up
		gHome   phone.Number = "+18605550355"
		other   phone.Number = "+18605550347" // no person, never called
	)
	for i, c := range [][2]phone.Number{{aMobile, aHome}, {bMobile, bHome}, {cMobile, cHome}, {dMobile, dHome}, {eMobile, eHome}, {fMobile, fHome}, {gMobile, gHome}} {
		person := fmt.Sprintf("D-7%d0", i+1)
		w.contact(w.oldList, c[0], person)
		w.contact(w.list, c[1], person)
	}
	w.contact(w.list, other, "")
	ctx := context.Background()
	first := w.at
	ago := func(d time.Duration) *time.Time { t := first.Add(-d); return &t }
	// call records a call of the earlier campaign, with the pacer's clock.
	call := func(p phone.Number, status, outcome string, created, looked, originated, answered, ended *time.Time) int64 {
		t.Helper()
		w.calls++
		var id int64
		require.NoError(t, w.db.QueryRow(ctx, `INSERT INTO attempts (campaign_id, contact_id, attempt_no, phone, caller_id, decision, status, outcome,
				created_at, looked_at, originated_at, answered_at, ended_at)
			VALUES ($1, $2, $3, $4, '+18605550100', 'allow', $5, $6, coalesce($7, now()), $8, $9, $10, $11) RETURNING id`,
			w.old, w.contacts[p], w.calls, p, status, outcome, created, looked, originated, answered, ended).Scan(&id))
		return id
	}
	aCall := call(aMobile, "answered", "", ago(time.Minute), ago(time.Minute), ago(30*time.Second), ago(20*time.Second), nil)
	bCall := call(bMobile, "ringing", "", ago(time.Minute), ago(time.Minute), ago(10*time.Second), nil, nil)
	call(cMobile, "ringing", "", ago(consent.OpenCallLimit+2*time.Minute), nil, ago(consent.OpenCallLimit+time.Minute), nil, nil)
	dCall := call(dMobile, "originating", "", ago(consent.OpenCallLimit+5*time.Minute), ago(5*time.Second), nil, nil, nil)
	call(eMobile, "answered", "", ago(consent.OpenCallLimit+2*time.Minute), nil, ago(consent.OpenCallLimit+time.Minute), ago(consent.OpenCallLimit), nil)
	call(fMobile, "ended", "unknown", ago(2*time.Hour), nil, ago(2*time.Hour), ago(2*time.Hour-20*time.Second), ago(time.Hour))
	// Recovery closed this one an hour ago, as campaign's closeOrphan does.
	gCall := call(gMobile, "answered", "", ago(2*time.Hour), nil, ago(2*time.Hour), ago(2*time.Hour-20*time.Second), nil)
	_, err := w.db.Exec(ctx, `UPDATE attempts SET status = 'ended', outcome = 'unknown', ended_at = $2, reconcile = 'hung_up', reconciled_at = $2
		WHERE id = $1 AND status IN ('originating', 'ringing', 'answered')`, gCall, ago(time.Hour))
	require.NoError(t, err)
	latest := func(p phone.Number) attemptRow {
		t.Helper()
		var a attemptRow
		var input []byte
		require.NoError(t, w.db.QueryRow(ctx, `SELECT decision, reasons, decided_until, decision_input FROM attempts
			WHERE campaign_id = $1 AND phone = $2 ORDER BY id DESC LIMIT 1`, w.campaignID, p).Scan(&a.decision, &a.reasons, &a.until, &input))
		require.NoError(t, json.Unmarshal(input, &a.input))
		return a
	}
	deferred := func(p phone.Number, until time.Time) attemptRow {
		t.Helper()
		a := latest(p)
		require.Equal(t, "defer", a.decision, p)
		require.Equal(t, []string{"cap.after_conversation"}, a.reasons, p)
		require.NotNil(t, a.until, p)
		require.True(t, until.Equal(*a.until), "%s: deferred until %s, not %s", p, until, a.until)
		require.Len(t, a.input.History, 1, p)
		return a
	}

	require.ElementsMatch(t, []phone.Number{cHome, other}, w.runUntilWaiting("six people wait for their calls"),
		"the people with no call under way are called")
	for _, p := range []phone.Number{aHome, bHome, dHome} {
		require.True(t, deferred(p, first.Add(consent.OpenRecheck)).input.History[0].Open, "%s: the attempt row keeps the call under way", p)
	}
	require.True(t, ago(5*time.Second).Equal(latest(dHome).input.History[0].At), "a call not placed yet counts from its last look")
	a := latest(cHome)
	require.Equal(t, "allow", a.decision)
	require.Len(t, a.input.History, 1)
	require.True(t, a.input.History[0].Open, "a call left ringing is in the history, too old to hold anyone")
	e := deferred(eHome, first.Add(-time.Minute+7*24*time.Hour))
	require.True(t, e.input.History[0].Open && e.input.History[0].Answered, "left answered: a conversation that ended at the limit, the latest it can have")
	f := deferred(fHome, first.Add(-2*time.Hour+consent.OpenCallLimit+7*24*time.Hour))
	require.True(t, f.input.History[0].Conversation, "answered, its outcome unknown: a conversation")
	require.True(t, first.Add(-2*time.Hour+consent.OpenCallLimit).Equal(f.input.History[0].Ended),
		"ended at the limit at the latest, not when recovery closed it")
	g := deferred(gHome, first.Add(-time.Hour+7*24*time.Hour))
	require.True(t, first.Add(-time.Hour).Equal(g.input.History[0].Ended), "still up when recovery hung it up: it ended then")

	// The calls end: D-710's was a machine, D-720's a conversation,
	// D-740's was placed and not answered.
	end := func(id int64, outcome string, answered bool) {
		t.Helper()
		_, err := w.db.Exec(ctx, `UPDATE attempts SET status = 'ended', outcome = $2, originated_at = coalesce(originated_at, $3),
			answered_at = CASE WHEN $4 THEN $3 END, ended_at = $3 WHERE id = $1`, id, outcome, first, answered)
		require.NoError(t, err)
	}
	end(aCall, "machine", true)
	end(bCall, "answered", true)
	end(dCall, "no_answer", false)
	w.at = first.Add(consent.OpenRecheck)
	require.ElementsMatch(t, []phone.Number{aHome, dHome}, w.runUntilWaiting("the conversation's person waits 7 days"),
		"the machine's and the unanswered call's people are called")
	require.Equal(t, "allow", latest(aHome).decision)
	require.Equal(t, "allow", latest(dHome).decision)
	b := deferred(bHome, first.Add(7*24*time.Hour))
	require.False(t, b.input.History[0].Open)
	require.True(t, b.input.History[0].Conversation)
	require.True(t, first.Equal(b.input.History[0].Ended), "7 days from the conversation's end, which the attempt row keeps")
}

// TestPacerCallsAPersonOncePerBatch: two numbers of one person due in the
// same batch are not both decided on the history before it. With 6 calls
// in 7 days, the seventh goes out and the eighth, to the other number,
// waits.
func TestPacerCallsAPersonOncePerBatch(t *testing.T) {
	t.Parallel()
	w := newPersonWorld(t)
	const (
		mobile phone.Number = "+18605550311"
		home   phone.Number = "+18605550312"
	)
	w.contact(w.list, mobile, "D-400")
	w.contact(w.list, home, "D-400")
	for i := range 6 {
		w.call(mobile, "no_answer", time.Duration(10*(i+1))*time.Hour)
	}

	placed := w.runUntilWaiting("the eighth call waits")
	require.Len(t, placed, 1, "one call to the person: %v", placed)
	other := home
	if placed[0] == home {
		other = mobile
	}
	a := w.attempt(other)
	require.Equal(t, "defer", a.decision)
	require.Contains(t, a.reasons, "cap.frequency")
	require.Len(t, a.input.History, 7, "the batch's call is in the history")
}

// TestPacerHoldsBackANumberAnotherCounts: a person's home number is on the
// campaign's list without the person reference, and the person's mobile
// with it, both due in one batch. The mobile's history counts the home
// number's calls (another list names it with the person), so the mobile
// waits for the next batch and counts the call just placed to the home
// number: the eighth call in 7 days is deferred, not placed beside it.
func TestPacerHoldsBackANumberAnotherCounts(t *testing.T) {
	t.Parallel()
	w := newPersonWorld(t)
	const (
		mobile phone.Number = "+18605550331"
		home   phone.Number = "+18605550332"
	)
	w.contact(w.oldList, home, "D-600")
	w.contact(w.list, home, "") // due first
	w.contact(w.list, mobile, "D-600")
	for i := range 6 {
		w.call(mobile, "no_answer", time.Duration(10*(i+1))*time.Hour)
	}

	require.Equal(t, []phone.Number{home}, w.runUntilWaiting("the eighth call waits"), "one call to the person")
	a := w.attempt(home)
	require.Equal(t, "allow", a.decision)
	require.Equal(t, []phone.Number{home}, a.input.HistoryOf.Numbers, "without a person the home number counts its own calls")
	a = w.attempt(mobile)
	require.Equal(t, "defer", a.decision)
	require.Contains(t, a.reasons, "cap.frequency")
	require.Len(t, a.input.History, 7, "the home number's call is in the history")
	require.Equal(t, []phone.Number{mobile, home}, a.input.HistoryOf.Numbers)
}

// historyBarrier is a Store whose History waits, up to a bound, until
// every pacer sharing the barrier is reading its history: two pacers that
// may decide for one person at the same time then do.
type historyBarrier struct {
	*campaign.Store
	once    *sync.Once
	arrived *sync.WaitGroup
	all     chan struct{}
}

func (s historyBarrier) History(ctx context.Context, subjects []dialer.Subject, since time.Time) ([]dialer.History, error) {
	s.once.Do(s.arrived.Done)
	select {
	case <-s.all:
	case <-time.After(500 * time.Millisecond): // within the indexes' freshness
	}
	return s.Store.History(ctx, subjects, since)
}

// TestPacersCallAPersonOnceAcrossCampaigns: two campaigns running at once,
// each due to call one of a person's two numbers, with 6 calls to the
// person in the last 7 days, place one call between them, not two: the
// second pacer to decide counts the first one's call. Each pacer's history
// read waits for the other's (up to half a second), so without the lock on the
// person's numbers both would decide on the same 6 calls.
func TestPacersCallAPersonOnceAcrossCampaigns(t *testing.T) {
	t.Parallel()
	w := newPersonWorld(t)
	ctx := context.Background()
	const (
		mobile phone.Number = "+18605550321" // on the campaign's list
		home   phone.Number = "+18605550322" // on the other campaign's list
	)
	var list2, camp2 int64
	require.NoError(t, w.db.QueryRow(ctx, `INSERT INTO contact_lists (name) VALUES ('other') RETURNING id`).Scan(&list2))
	require.NoError(t, w.db.QueryRow(ctx, `INSERT INTO campaigns (name, purpose, list_id, message_text, caller_id, status, generation, max_concurrent, max_attempts)
		VALUES ('c2', 'debt_collection', $1, 'Hello', '+18605550100', 'running', 1, 10, 1) RETURNING id`, list2).Scan(&camp2))
	w.contact(w.list, mobile, "D-500")
	w.contact(list2, home, "D-500")
	_, err := w.db.Exec(ctx, `INSERT INTO campaign_targets (campaign_id, contact_id) VALUES ($1, $2)`, camp2, w.contacts[home])
	require.NoError(t, err)
	for i := range 6 {
		w.call(mobile, "no_answer", time.Duration(10*(i+1))*time.Hour)
	}

	lines := &recordingLines{t: t, db: w.db}
	var arrived sync.WaitGroup
	arrived.Add(2)
	all := make(chan struct{})
	go func() { arrived.Wait(); close(all) }()
	errs := make(chan error, 2)
	for _, id := range []int64{w.campaignID, camp2} {
		p := w.pacer(lines)
		p.Store = historyBarrier{Store: campaign.NewStore(w.db), once: &sync.Once{}, arrived: &arrived, all: all}
		go func() { errs <- p.Run(ctx, id, 1) }()
	}
	for range 2 {
		var sn *dialer.Snooze
		if err := <-errs; err != nil {
			require.ErrorAs(t, err, &sn)
		}
	}
	lines.mu.Lock()
	defer lines.mu.Unlock()
	require.Len(t, lines.placed, 1, "one call to the person between the two campaigns: %v", lines.placed)
	var decisions []string
	require.NoError(t, w.db.QueryRow(ctx, `SELECT array_agg(decision ORDER BY id) FROM attempts WHERE campaign_id IN ($1, $2)`,
		w.campaignID, camp2).Scan(&decisions))
	var reasons []string
	require.NoError(t, w.db.QueryRow(ctx, `SELECT array_agg(array_to_string(reasons, ',') ORDER BY id) FROM attempts WHERE campaign_id IN ($1, $2)`,
		w.campaignID, camp2).Scan(&reasons))
	require.Equal(t, []string{"allow", "defer"}, decisions, "the second pacer to decide defers the eighth call: %v", reasons)
}

// staleCounting is the policy gate, counting the decisions of its batches
// that failed closed on stale indexes.
type staleCounting struct {
	*dialer.PolicyGate
	stale atomic.Int32
}

func (g *staleCounting) CheckBatch(ctx context.Context, reqs []dialer.Request, out []consent.Decision) {
	g.PolicyGate.CheckBatch(ctx, reqs, out)
	for _, d := range out {
		if slices.Contains(d.Reasons, consent.ReasonIndexStale) {
			g.stale.Add(1)
		}
	}
}

// TestPacerWaitsOutStaleIndexes: while the gate's indexes cannot confirm
// they are current, it fails closed (index.stale) and the pacer places no
// call, but it does not use the contacts up either: they get no attempt
// and stay due, the pacer waits StaleWait before it tries again, and they
// are called once the indexes are current again.
func TestPacerWaitsOutStaleIndexes(t *testing.T) {
	t.Parallel()
	w := newPersonWorld(t)
	const q phone.Number = "+18605550341"
	w.contact(w.list, q, "D-700")
	lines := &recordingLines{t: t, db: w.db}
	p := w.pacer(lines)
	var stale atomic.Bool
	stale.Store(true)
	gate := &staleCounting{PolicyGate: p.Gate.(*dialer.PolicyGate)}
	gate.Clock = func() time.Time {
		if stale.Load() {
			return time.Now().Add(time.Hour) // the last sync is an hour old
		}
		return time.Now()
	}
	p.Gate = gate

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	require.ErrorIs(t, p.Run(ctx, w.campaignID, 1), context.DeadlineExceeded, "the pacer waits")
	require.Equal(t, int32(1), gate.stale.Load(), "the gate failed closed once; then the pacer waited StaleWait (5 s), longer than the run, not its tick")
	require.Empty(t, lines.placed)
	var attempts int
	var state string
	require.NoError(t, w.db.QueryRow(context.Background(), `SELECT (SELECT count(*) FROM attempts WHERE campaign_id = $1), t.state
		FROM campaign_targets t WHERE t.campaign_id = $1`, w.campaignID).Scan(&attempts, &state))
	require.Equal(t, 0, attempts, "no attempt is recorded for a stale gate's refusal")
	require.Equal(t, "pending", state, "the contact stays due")

	stale.Store(false)
	var sn *dialer.Snooze
	err := p.Run(context.Background(), w.campaignID, 1)
	if err != nil {
		require.ErrorAs(t, err, &sn)
	}
	require.Equal(t, []phone.Number{q}, lines.placed, "called once the indexes are current")
}

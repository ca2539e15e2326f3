package dialer_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/campaign"
	"github.com/heed-dialer/heed/dialer"
	"github.com/heed-dialer/heed/internal/phone"
)

// lookRow is an attempt's last look and outcome as its row keeps them.
type lookRow struct {
	decision, status, outcome string
	lookedAt                  *time.Time
	look                      struct {
		At       time.Time `json:"at"`
		Decision struct {
			Decision string   `json:"decision"`
			Until    *string  `json:"until"`
			Reasons  []string `json:"reasons"`
		} `json:"decision"`
		IndexSeq        int64 `json:"index_seq"`
		IndexTop        int64 `json:"index_top"`
		CampaignRunning *bool `json:"campaign_running"`
	}
	target string
	next   time.Time
}

func (w *personWorld) look(p phone.Number) lookRow {
	w.t.Helper()
	var r lookRow
	var raw []byte
	require.NoError(w.t, w.db.QueryRow(context.Background(), `SELECT a.decision, a.status, a.outcome, a.looked_at, coalesce(a.last_look, '{}'), t.state, t.next_attempt_at
		FROM attempts a JOIN campaign_targets t ON t.campaign_id = a.campaign_id AND t.contact_id = a.contact_id
		WHERE a.campaign_id = $1 AND a.phone = $2`, w.campaignID, p).Scan(&r.decision, &r.status, &r.outcome, &r.lookedAt, &raw, &r.target, &r.next))
	require.NoError(w.t, json.Unmarshal(raw, &r.look))
	return r
}

// TestPacerLastLook: once a line is free for an allowed call, right before
// it is placed, the pacer asks the gate again with its indexes synced. An
// opt-out that reached heed after the batch was decided calls the call off
// (never placed; the contact is done), a window that closed while the call
// waited for its line calls it off until the window opens, and a call the
// look allows is placed with its look recorded.
func TestPacerLastLook(t *testing.T) {
	t.Parallel()
	w := newPersonWorld(t)
	const (
		optedOut phone.Number = "+18605550351"
		late     phone.Number = "+18605550352"
		fine     phone.Number = "+18605550353"
		paused   phone.Number = "+18605550354"
	)
	w.contact(w.list, optedOut, "D-801")
	w.contact(w.list, late, "D-802")
	w.contact(w.list, fine, "D-803")
	w.contact(w.list, paused, "D-804")
	lines := &recordingLines{t: t, db: w.db}
	p := w.pacer(lines)
	var clock atomic.Pointer[time.Time]
	clock.Store(&w.at)
	p.Now = func() time.Time { return *clock.Load() }
	ny, err := time.LoadLocation("America/New_York")
	require.NoError(t, err)
	y, m, d := w.at.In(ny).Date()
	night := time.Date(y, m, d, 23, 0, 0, 0, ny)
	lines.beforeReady = func(req dialer.CallRequest) {
		switch req.To {
		case optedOut: // pressed 9 on another call, say, as this one waited
			_, err := w.db.Exec(context.Background(), `INSERT INTO dnc_internal (phone, method) VALUES ($1, 'ivr')`, optedOut)
			require.NoError(t, err)
		case late:
			clock.Store(&night)
		case fine:
			clock.Store(&w.at)
		case paused: // a paralegal paused the campaign as this call waited
			_, err := w.db.Exec(context.Background(), `UPDATE campaigns SET status = 'paused' WHERE id = $1`, w.campaignID)
			require.NoError(t, err)
		}
	}

	var sn *dialer.Snooze
	err = p.Run(context.Background(), w.campaignID, 1)
	if err != nil {
		require.True(t, errors.As(err, &sn), "%v", err)
	}
	require.Equal(t, []phone.Number{fine}, lines.placed, "only the call the last look allows is placed")
	require.ElementsMatch(t, []phone.Number{optedOut, late, paused}, lines.calledOff)

	r := w.look(optedOut)
	require.Equal(t, "allow", r.decision, "the batch's decision stands as made")
	require.Equal(t, "ended", r.status)
	require.Equal(t, string(dialer.OutcomeCalledOff), r.outcome)
	require.NotNil(t, r.lookedAt)
	require.Equal(t, "deny", r.look.Decision.Decision)
	require.Equal(t, []string{"dnc.internal"}, r.look.Decision.Reasons)
	require.Positive(t, r.look.IndexSeq, "the look read the entry")
	require.GreaterOrEqual(t, r.look.IndexTop, r.look.IndexSeq)
	require.Equal(t, "done", r.target)

	r = w.look(late)
	require.Equal(t, string(dialer.OutcomeCalledOff), r.outcome)
	require.Equal(t, "defer", r.look.Decision.Decision)
	require.Contains(t, r.look.Decision.Reasons, "window.outside")
	require.True(t, r.look.At.Equal(night), "the look decided for its own instant: %s", r.look.At)
	require.Equal(t, "pending", r.target, "due again when the window opens")
	require.NotNil(t, r.look.Decision.Until)
	until, err := time.Parse(time.RFC3339, *r.look.Decision.Until)
	require.NoError(t, err)
	require.True(t, r.next.Equal(until), "next attempt %s, until %s", r.next, until)
	require.True(t, until.After(night))

	r = w.look(fine)
	require.Equal(t, "allow", r.look.Decision.Decision)
	require.NotEqual(t, string(dialer.OutcomeCalledOff), r.outcome)
	require.NotNil(t, r.lookedAt)
	r = w.look(paused)
	require.Equal(t, "allow", r.look.Decision.Decision)
	require.Equal(t, string(dialer.OutcomeCalledOff), r.outcome, "the campaign stopped as the call waited for its line")
	require.Equal(t, "pending", r.target, "due again when the campaign runs again")
	require.NotNil(t, r.look.CampaignRunning)
	require.False(t, *r.look.CampaignRunning)

	var calls int
	require.NoError(t, w.db.QueryRow(context.Background(), `SELECT count(*) FROM attempts WHERE campaign_id = $1 AND looked_at IS NULL AND decision = 'allow'`,
		w.campaignID).Scan(&calls))
	require.Zero(t, calls, "every allowed attempt has its look")
	r = w.look(fine)
	require.NotNil(t, r.look.CampaignRunning)
	require.True(t, *r.look.CampaignRunning)
}

// deafGate is the policy gate whose next deaf syncs do nothing, as when
// opt-outs keep outrunning its syncs.
type deafGate struct {
	*dialer.PolicyGate
	deaf atomic.Int32
}

func (g *deafGate) Sync(ctx context.Context) error {
	if g.deaf.Add(-1) >= 0 {
		return nil
	}
	return g.PolicyGate.Sync(ctx)
}

// runOptOutWhileWaiting runs a campaign whose one contact, x, opts out on
// the opt-out page as its call waits for a line (an opt-out taken, not yet
// recorded), with a gate whose next deaf syncs then learn nothing; it
// checks that the call was called off, never placed.
func runOptOutWhileWaiting(t *testing.T, x phone.Number, deaf int32) *personWorld {
	t.Helper()
	w := newPersonWorld(t)
	w.contact(w.list, x, "D-811")
	lines := &recordingLines{t: t, db: w.db}
	p := w.pacer(lines)
	pg := p.Gate.(*dialer.PolicyGate)
	pg.Indexes.Bound = time.Minute // the deaf syncs confirm nothing
	gate := &deafGate{PolicyGate: pg}
	p.Gate = gate
	lines.beforeReady = func(req dialer.CallRequest) {
		_, err := w.db.Exec(context.Background(), `INSERT INTO optout_requests (phone, method, source) VALUES ($1, 'web', 'opt-out page')`, req.To)
		require.NoError(t, err)
		gate.deaf.Store(deaf)
	}
	var sn *dialer.Snooze
	if err := p.Run(context.Background(), w.campaignID, 1); err != nil {
		require.ErrorAs(t, err, &sn)
	}
	require.Empty(t, lines.placed)
	require.Equal(t, []phone.Number{x}, lines.calledOff)
	return w
}

// TestPacerLastLookWaitsForATakenOptOut: an opt-out taken as a call waited
// for its line is refused by the look that follows its sync, even when the
// exact looks ran out first: the fallback look is not recorded either
// while an opt-out of the number waits, and the pacer syncs and looks once
// more. The call is called off, never placed.
func TestPacerLastLookWaitsForATakenOptOut(t *testing.T) {
	t.Parallel()
	const x phone.Number = "+18605550381"
	w := runOptOutWhileWaiting(t, x, 3) // the syncs after the three exact looks learn nothing
	r := w.look(x)
	require.Equal(t, string(dialer.OutcomeCalledOff), r.outcome)
	require.Equal(t, "deny", r.look.Decision.Decision)
	require.Equal(t, []string{"dnc.internal"}, r.look.Decision.Reasons)
	require.Equal(t, "done", r.target)
}

// TestPacerLastLookFailsClosed: when the gate's indexes never catch up
// with an opt-out taken as the call waited (every sync learns nothing),
// the pacer records a look that fails closed after its last try: the call
// is called off, never placed, and the contact stays due.
func TestPacerLastLookFailsClosed(t *testing.T) {
	t.Parallel()
	const x phone.Number = "+18605550382"
	w := runOptOutWhileWaiting(t, x, 4) // every sync of the look's five tries
	// The first attempt was called off by a look that failed closed; the
	// contact stayed due, and the next batch, its indexes caught up,
	// refused the number.
	rows, err := w.db.Query(context.Background(), `SELECT decision, outcome, coalesce(last_look->'decision'->'reasons', '[]') FROM attempts
		WHERE campaign_id = $1 AND phone = $2 ORDER BY id`, w.campaignID, x)
	require.NoError(t, err)
	type attempt struct {
		decision, outcome string
		lookReasons       []string
	}
	got, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (attempt, error) {
		var a attempt
		err := r.Scan(&a.decision, &a.outcome, &a.lookReasons)
		return a, err
	})
	require.NoError(t, err)
	require.Equal(t, []attempt{
		{"allow", string(dialer.OutcomeCalledOff), []string{"index.stale"}},
		{"deny", "blocked", []string{}},
	}, got, "called off, not failed: never placed")
}

// failingGate is the policy gate whose next failing syncs fail, as when
// the database answers the look but a registry copy cannot be loaded.
type failingGate struct {
	*dialer.PolicyGate
	failing atomic.Int32
}

func (g *failingGate) Sync(ctx context.Context) error {
	if g.failing.Add(-1) >= 0 {
		return errors.New("dnc list national: open national-v2.heeddnc: no such file or directory")
	}
	return g.PolicyGate.Sync(ctx)
}

// TestPacerLastLookNeedsASync: an opt-out recorded as a call waited for
// its line, when every sync after it fails (the indexes stay fresh enough
// by their bound): the exact looks see the change log ahead of the
// indexes, and the look that is not exact, which would not see it, is not
// made on indexes whose sync failed: it fails closed. The call is called
// off, never placed.
func TestPacerLastLookNeedsASync(t *testing.T) {
	t.Parallel()
	const x phone.Number = "+18605550383"
	w := newPersonWorld(t)
	w.contact(w.list, x, "D-812")
	lines := &recordingLines{t: t, db: w.db}
	p := w.pacer(lines)
	pg := p.Gate.(*dialer.PolicyGate)
	pg.Indexes.Bound = time.Minute // still fresh through the failed syncs
	gate := &failingGate{PolicyGate: pg}
	p.Gate = gate
	lines.beforeReady = func(req dialer.CallRequest) {
		taken, err := campaign.RecordOptOut(context.Background(), w.db, campaign.OptOut{Phone: req.To, Method: "web", Source: "opt-out page"})
		require.NoError(t, err)
		require.True(t, taken.Recorded, "recorded, not waiting")
		gate.failing.Store(3) // the syncs after the three exact looks
	}
	var sn *dialer.Snooze
	if err := p.Run(context.Background(), w.campaignID, 1); err != nil {
		require.ErrorAs(t, err, &sn)
	}
	require.Empty(t, lines.placed, "never placed on indexes that missed the opt-out")
	require.Equal(t, []phone.Number{x}, lines.calledOff)
	// Called off by a look that failed closed; the contact stayed due, and
	// the next batch, its indexes synced, refused the number.
	var got [][]string
	rows, err := w.db.Query(context.Background(), `SELECT ARRAY[decision, outcome, coalesce(last_look->'decision'->'reasons'->>0, '')] FROM attempts
		WHERE campaign_id = $1 AND phone = $2 ORDER BY id`, w.campaignID, x)
	require.NoError(t, err)
	got, err = pgx.CollectRows(rows, pgx.RowTo[[]string])
	require.NoError(t, err)
	require.Equal(t, [][]string{{"allow", string(dialer.OutcomeCalledOff), "index.stale"}, {"deny", "blocked", ""}}, got)
}

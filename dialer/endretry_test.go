package dialer_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/campaign"
	"github.com/heed-dialer/heed/dialer"
	"github.com/heed-dialer/heed/internal/dbtest"
	"github.com/heed-dialer/heed/internal/logbuf"
)

// endsRefused is a campaign store that cannot record a call's end while
// down, as while the database cannot be reached; refused hears of the
// first refusal.
type endsRefused struct {
	*campaign.Store
	down    atomic.Bool
	refused chan struct{}
}

func (s *endsRefused) Progress(ctx context.Context, attemptID int64, ev dialer.CallEvent) error {
	if ev.Kind == dialer.EventEnded && s.down.Load() {
		select {
		case s.refused <- struct{}{}:
		default:
		}
		return errors.New("dial tcp 127.0.0.1:5432: connect: connection refused")
	}
	return s.Store.Progress(ctx, attemptID, ev)
}

// goneReconciler finds every channel gone, as Asterisk does once a call
// has ended.
type goneReconciler struct{}

func (goneReconciler) Reconcile(context.Context, string, int64) (dialer.Orphan, error) {
	return dialer.OrphanGone, nil
}

// endRefused is a campaign whose one call ends busy (two attempts
// allowed) while the database cannot record its end.
type endRefused struct {
	db         *pgxpool.Pool
	store      *endsRefused
	p          *dialer.Pacer
	logged     *logbuf.Buffer
	campaignID int64
	attemptID  int64
	run        chan error // the Run's result
}

// runEndRefused runs the campaign, and returns once its call's end has
// been refused.
func runEndRefused(t *testing.T) *endRefused {
	t.Helper()
	e := &endRefused{db: dbtest.New(t), logged: &logbuf.Buffer{}, run: make(chan error, 1)}
	ctx := context.Background()
	listID := consentedList(t, e.db, "e", "+18605550391")
	require.NoError(t, e.db.QueryRow(ctx, `INSERT INTO campaigns (name, purpose, list_id, message_text, caller_id, status, generation, max_concurrent, max_attempts, retry_busy_s)
		VALUES ('c', 'informational', $1, 'Hello', '+18605550100', 'running', 1, 1, 2, 60) RETURNING id`, listID).Scan(&e.campaignID))
	_, err := e.db.Exec(ctx, `INSERT INTO campaign_targets (campaign_id, contact_id) SELECT $1, id FROM contacts`, e.campaignID)
	require.NoError(t, err)
	e.store = &endsRefused{Store: campaign.NewStore(e.db), refused: make(chan struct{}, 1)}
	e.store.down.Store(true)
	hungUp := make(chan struct{})
	close(hungUp) // each call ends once placed
	e.p = testPacer(t, e.db, e.store, &holdingLines{hangUp: hungUp})
	e.p.Log = slog.New(slog.NewTextHandler(e.logged, nil))
	go func() { e.run <- e.p.Run(ctx, e.campaignID, 1) }()
	select {
	case <-e.store.refused:
	case err := <-e.run:
		t.Fatalf("the Run returned before its call ended: %v", err)
	}
	require.NoError(t, e.db.QueryRow(ctx, `SELECT id FROM attempts WHERE campaign_id = $1`, e.campaignID).Scan(&e.attemptID))
	return e
}

// retrying waits until the pacer tries the end again in the background:
// its first try, during the call, is refused before the pacer hands the
// write to its lifetime, so that a Drain called at once could come
// before there is anything to drain.
func (e *endRefused) retrying(t *testing.T) {
	t.Helper()
	select {
	case <-e.store.refused:
	case <-time.After(30 * time.Second):
		t.Fatal("the end was not tried again")
	}
}

// attempt returns the attempt's status and outcome, and its target's state.
func (e *endRefused) attempt(t *testing.T) []string {
	t.Helper()
	var status, outcome, state string
	require.NoError(t, e.db.QueryRow(context.Background(), `SELECT a.status, coalesce(a.outcome, ''), t.state FROM attempts a
		JOIN campaign_targets t ON t.campaign_id = a.campaign_id AND t.contact_id = a.contact_id WHERE a.id = $1`, e.attemptID).
		Scan(&status, &outcome, &state))
	return []string{status, outcome, state}
}

// snoozes waits for the Run, which must end waiting for the busy
// contact's next call.
func (e *endRefused) snoozes(t *testing.T) {
	t.Helper()
	var sn *dialer.Snooze
	require.ErrorAs(t, <-e.run, &sn)
}

// TestPacerRetriesACallsEnd: a call's end that the database refuses is
// not lost: the pacer keeps trying, and meanwhile follows the call, so
// that recovery (a next Run) does not close its attempt as unknown. Once
// the database is back the end is recorded, busy, and the contact is due
// again for its second call.
func TestPacerRetriesACallsEnd(t *testing.T) {
	t.Parallel()
	e := runEndRefused(t)
	require.True(t, e.p.Follows(e.attemptID), "the call is followed until its end is recorded")
	rec, err := e.store.Recover(context.Background(), e.campaignID, e.p.Following(goneReconciler{}))
	require.NoError(t, err)
	require.Zero(t, rec.Closed(), "recovery leaves the attempt to the pacer")

	e.store.down.Store(false)
	e.snoozes(t)
	require.Equal(t, []string{"ended", "busy", "pending"}, e.attempt(t), "the end is recorded, and the contact is due again")
	require.False(t, e.p.Follows(e.attemptID))
	require.Contains(t, e.logged.String(), "could not record a call's end; trying again")
}

// TestPacerDrainRecordsACallsEnd: a call's end still being retried when
// heed stops gets one last try at Drain, which returns once it is
// recorded.
func TestPacerDrainRecordsACallsEnd(t *testing.T) {
	t.Parallel()
	e := runEndRefused(t)
	e.retrying(t)
	e.store.down.Store(false) // back, in the middle of a wait
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	require.NoError(t, e.p.Drain(ctx))
	require.Equal(t, []string{"ended", "busy", "pending"}, e.attempt(t), "recorded by the time Drain returns")
	e.snoozes(t)
}

// TestPacerDrainGivesUpACallsEnd: a call's end the database still refuses
// at Drain does not keep Drain waiting: the log says at ERROR that it was
// not recorded, and what it was; the call is no longer followed, so that
// recovery closes its attempt.
func TestPacerDrainGivesUpACallsEnd(t *testing.T) {
	t.Parallel()
	e := runEndRefused(t)
	e.retrying(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	require.NoError(t, e.p.Drain(ctx))
	require.Regexp(t, `level=ERROR msg="pacer: a call's end NOT recorded[^\n]*phone=\+18605550391 outcome=busy`, e.logged.String())
	e.snoozes(t)
	require.False(t, e.p.Follows(e.attemptID))
	rec, err := e.store.Recover(context.Background(), e.campaignID, e.p.Following(goneReconciler{}))
	require.NoError(t, err)
	require.Equal(t, 1, rec.Gone)
}

// notPlacedRefused is a campaign store that cannot record a call not
// placed while down, as while the database cannot be reached.
type notPlacedRefused struct {
	*campaign.Store
	down atomic.Bool
}

func (s *notPlacedRefused) NotPlaced(ctx context.Context, attemptID int64, at time.Time, reason string) error {
	if s.down.Load() {
		return errors.New("dial tcp 127.0.0.1:5432: connect: connection refused")
	}
	return s.Store.NotPlaced(ctx, attemptID, at, reason)
}

// noAsteriskUp are lines with no Asterisk up: no call is placed, before
// any last look.
type noAsteriskUp struct{}

func (noAsteriskUp) Place(_ context.Context, req dialer.CallRequest, _ func(dialer.CallEvent)) error {
	return fmt.Errorf("attempt %d: %w", req.AttemptID, dialer.ErrNoAsterisk)
}

// TestPacerRetriesACallNotPlaced: a call never placed whose record the
// database refuses is not left to recovery, which would close it as a
// call of unknown outcome and its contact as done: the pacer keeps trying
// and follows the attempt meanwhile. Once the database is back, the call
// is recorded as not placed and its contact is due again.
func TestPacerRetriesACallNotPlaced(t *testing.T) {
	t.Parallel()
	db := dbtest.New(t)
	ctx := context.Background()
	listID := consentedList(t, db, "np", "+18605550392")
	campaignID := runningCampaign(t, db, listID, "Hello", 1)
	store := &notPlacedRefused{Store: campaign.NewStore(db)}
	store.down.Store(true)
	p := testPacer(t, db, store, noAsteriskUp{})
	logged := &logbuf.Buffer{}
	p.Log = slog.New(slog.NewTextHandler(logged, nil))
	require.ErrorContains(t, p.Run(ctx, campaignID, 1), "record a call not placed")

	var attemptID int64
	require.NoError(t, db.QueryRow(ctx, `SELECT id FROM attempts WHERE campaign_id = $1`, campaignID).Scan(&attemptID))
	require.True(t, p.Follows(attemptID), "followed until its record lands")
	rec, err := store.Recover(ctx, campaignID, p.Following(goneReconciler{}))
	require.NoError(t, err)
	require.Zero(t, rec.Closed(), "recovery leaves the attempt to the pacer")

	store.down.Store(false)
	require.Eventually(t, func() bool { return !p.Follows(attemptID) }, 60*time.Second, 10*time.Millisecond)
	var status, outcome, notPlaced, state string
	require.NoError(t, db.QueryRow(ctx, `SELECT a.status, a.outcome, a.not_placed, t.state FROM attempts a
		JOIN campaign_targets t ON t.campaign_id = a.campaign_id AND t.contact_id = a.contact_id WHERE a.id = $1`, attemptID).
		Scan(&status, &outcome, &notPlaced, &state))
	require.Equal(t, []string{"ended", "called_off", "no Asterisk was up", "pending"}, []string{status, outcome, notPlaced, state})
	require.Contains(t, logged.String(), "could not record a call not placed; trying again")
}

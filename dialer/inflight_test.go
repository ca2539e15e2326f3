package dialer_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/campaign"
	"github.com/heed-dialer/heed/dialer"
	"github.com/heed-dialer/heed/internal/dbtest"
)

// holdingLines place calls as the pool does, after their last look, and
// keep each up until hangUp is closed; then it ends, busy. They count the
// calls placed, the most up at once, and the reports of calls' ends that
// returned.
type holdingLines struct {
	hangUp   chan struct{}
	mu       sync.Mutex
	placed   int
	up       int
	maxUp    int
	reported atomic.Int32
}

func (l *holdingLines) Place(ctx context.Context, req dialer.CallRequest, report func(dialer.CallEvent)) error {
	if req.Ready != nil {
		if err := req.Ready(ctx); err != nil {
			return err
		}
	}
	l.mu.Lock()
	l.placed++
	l.up++
	l.maxUp = max(l.maxUp, l.up)
	l.mu.Unlock()
	go func() {
		ch := dialer.ChannelID("test", req.AttemptID)
		report(dialer.CallEvent{Kind: dialer.EventOriginated, ChannelID: ch, Asterisk: "fake"})
		<-l.hangUp
		l.mu.Lock()
		l.up--
		l.mu.Unlock()
		report(dialer.CallEvent{Kind: dialer.EventEnded, ChannelID: ch, Asterisk: "fake", Outcome: dialer.OutcomeBusy, Cause: 17})
		l.reported.Add(1)
	}()
	return nil
}

func (l *holdingLines) count() (placed, maxUp int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.placed, l.maxUp
}

// loadCounting is a campaign store that counts the loads of a campaign:
// the pacing loop loads it at the start of each of its rounds.
type loadCounting struct {
	*campaign.Store
	loads atomic.Int32
}

func (s *loadCounting) Campaign(ctx context.Context, id int64) (dialer.Campaign, error) {
	s.loads.Add(1)
	return s.Store.Campaign(ctx, id)
}

// TestPacerCountsCallsAcrossRuns: a Run that returns with calls still up
// (paused, it follows them for a bounded time) leaves them counted for the
// campaign's next Run, which places no call while they fill the
// campaign's lines, and the ends of more calls than any buffer holds,
// reported after that Run returned, each return.
func TestPacerCountsCallsAcrossRuns(t *testing.T) {
	t.Parallel()
	const lines = 65 // more than the 64 ends the pacer once buffered
	db := dbtest.New(t)
	ctx := context.Background()
	phones := make([]string, lines+1)
	for i := range phones {
		phones[i] = fmt.Sprintf("+1860555%04d", 2000+i)
	}
	listID := consentedList(t, db, "held", phones...)
	campaignID := runningCampaign(t, db, listID, "Hello", lines)
	var err error

	held := &holdingLines{hangUp: make(chan struct{})}
	store := &loadCounting{Store: campaign.NewStore(db)}
	p := testPacer(t, db, store, held)
	dialer.SetFollowFor(p, time.Millisecond)
	first := make(chan error, 1)
	go func() { first <- p.Run(ctx, campaignID, 1) }()
	require.Eventually(t, func() bool { n, _ := held.count(); return n == lines }, 30*time.Second, 10*time.Millisecond, "every line is taken")
	_, err = db.Exec(ctx, `UPDATE campaigns SET status = 'paused' WHERE id = $1`, campaignID)
	require.NoError(t, err)
	require.NoError(t, <-first, "paused, the Run returns with its calls still up")
	wctx, wcancel := context.WithTimeout(ctx, 100*time.Millisecond)
	err = p.WaitLanded(wctx)
	wcancel()
	require.ErrorIs(t, err, context.DeadlineExceeded, "as heed stops, it waits for those calls' ends")
	require.ErrorContains(t, err, fmt.Sprintf("%d calls still in flight", lines))

	_, err = db.Exec(ctx, `UPDATE campaigns SET status = 'running' WHERE id = $1`, campaignID)
	require.NoError(t, err)
	loads := store.loads.Load()
	second := make(chan error, 1)
	go func() { second <- p.Run(ctx, campaignID, 1) }()
	// Two rounds of the next Run's loop: the first could have placed the
	// contact left.
	require.Eventually(t, func() bool { return store.loads.Load() >= loads+3 }, 30*time.Second, 10*time.Millisecond)
	n, _ := held.count()
	require.Equal(t, lines, n, "no call is placed while the last Run's calls fill the campaign's lines")

	close(held.hangUp)
	require.NoError(t, <-second, "the contact left is called, and the campaign completes")
	n, maxUp := held.count()
	require.Equal(t, lines+1, n)
	require.LessOrEqual(t, maxUp, lines, "never more calls at once than the campaign allows")
	require.Eventually(t, func() bool { return held.reported.Load() == lines+1 }, 30*time.Second, 10*time.Millisecond,
		"the report of every call's end returns")
	var ended int
	require.NoError(t, db.QueryRow(ctx, `SELECT count(*) FROM attempts WHERE campaign_id = $1 AND outcome = 'busy'`, campaignID).Scan(&ended))
	require.Equal(t, lines+1, ended)
	wctx, wcancel = context.WithTimeout(ctx, 30*time.Second)
	defer wcancel()
	require.NoError(t, p.WaitLanded(wctx), "every end recorded: nothing in flight")
}

// TestPacerStopsFollowingWhenItsJobStops: a Run following the calls of a
// paused campaign (for the ring time and two minutes) returns soon after
// its job is stopped, as heed stops, rather than after the whole wait;
// the calls stay counted in flight.
func TestPacerStopsFollowingWhenItsJobStops(t *testing.T) {
	t.Parallel()
	db := dbtest.New(t)
	bg := context.Background()
	listID := consentedList(t, db, "followed", "+18605552201", "+18605552202")
	campaignID := runningCampaign(t, db, listID, "Hello", 2)
	var err error

	held := &holdingLines{hangUp: make(chan struct{})}
	defer close(held.hangUp)
	p := testPacer(t, db, campaign.NewStore(db), held)
	dialer.SetStopFollowFor(p, 50*time.Millisecond)
	ctx, cancel := context.WithCancel(bg)
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx, campaignID, 1) }()
	require.Eventually(t, func() bool { n, _ := held.count(); return n == 2 }, 30*time.Second, 10*time.Millisecond)
	_, err = db.Exec(bg, `UPDATE campaigns SET status = 'paused' WHERE id = $1`, campaignID)
	require.NoError(t, err)
	select {
	case err := <-done:
		t.Fatalf("paused, the Run follows its calls before it returns, not at once: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(30 * time.Second):
		t.Fatal("stopped, the Run still follows its calls for the ring time and two minutes")
	}
	wctx, wcancel := context.WithTimeout(bg, 50*time.Millisecond)
	defer wcancel()
	require.Error(t, p.WaitLanded(wctx), "its calls are still counted in flight")
}

// runningCampaign makes a running informational campaign of generation 1
// over list listID, saying message, with maxConcurrent lines and one
// attempt a contact, whose targets are every contact in the database.
func runningCampaign(t *testing.T, db *pgxpool.Pool, listID int64, message string, maxConcurrent int) int64 {
	t.Helper()
	ctx := context.Background()
	var id int64
	require.NoError(t, db.QueryRow(ctx, `INSERT INTO campaigns (name, purpose, list_id, message_text, caller_id, status, generation, max_concurrent, max_attempts)
		VALUES ('c', 'informational', $1, $2, '+18605550100', 'running', 1, $3, 1) RETURNING id`, listID, message, maxConcurrent).Scan(&id))
	_, err := db.Exec(ctx, `INSERT INTO campaign_targets (campaign_id, contact_id) SELECT $1, id FROM contacts`, id)
	require.NoError(t, err)
	return id
}

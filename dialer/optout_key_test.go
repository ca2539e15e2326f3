package dialer_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/campaign"
	"github.com/heed-dialer/heed/dialer"
	"github.com/heed-dialer/heed/internal/phone"
)

// optedOutMedia is what a call of p's says after the opt-out key.
func optedOutMedia(t *testing.T, p *dialer.Pacer) []string {
	t.Helper()
	m, err := p.Media.Speak(context.Background(), dialer.Script(dialer.Campaign{CallerID: "+18605550100"}, p.Firm, p.OptOutNumber).OptedOut)
	require.NoError(t, err)
	return []string{m}
}

// attemptOutcome is the outcome of campaign's attempt at n.
func attemptOutcome(t *testing.T, w *personWorld, campaignID int64, n phone.Number) string {
	t.Helper()
	var outcome string
	require.NoError(t, w.db.QueryRow(context.Background(), `SELECT outcome FROM attempts WHERE campaign_id = $1 AND phone = $2`,
		campaignID, n).Scan(&outcome))
	return outcome
}

// heldOptOuts is a Store whose opt-outs wait until released, whatever
// their context's deadline, as on a database that answers only then: the
// first try takes the opt-out however long the test takes to release it.
type heldOptOuts struct {
	*campaign.Store
	release chan struct{}
}

func (s *heldOptOuts) RecordOptOut(ctx context.Context, attemptID int64, p phone.Number) (bool, error) {
	<-s.release
	return s.Store.RecordOptOut(context.WithoutCancel(ctx), attemptID, p)
}

// keysLines places calls as recordingLines does, and presses keys on
// each once it is placed, one after the other, timing the key handler.
type keysLines struct {
	*recordingLines
	keys      []string
	responses []dialer.KeyResponse
	took      []time.Duration
}

func (l *keysLines) Place(ctx context.Context, req dialer.CallRequest, report func(dialer.CallEvent)) error {
	if err := l.recordingLines.Place(ctx, req, report); err != nil {
		return err
	}
	for _, k := range l.keys {
		start := time.Now()
		r := req.OnKey(k)
		l.mu.Lock()
		l.responses, l.took = append(l.responses, r), append(l.took, time.Since(start))
		l.mu.Unlock()
	}
	return nil
}

// TestPacerOptOutKeyWaitsForNoDatabase: the opt-out key is answered at once
// (F7: record the opt-out and hang up at once; C4: end the call within
// 10 s), however long the database takes the opt-out: while it waits
// behind a lock, the key handler answers within a fraction of a second
// with the short confirmation, after which the call hangs up, and no key
// after it does anything (no confirmation, no message again). Meanwhile
// the gate refuses the number: another campaign's contact with it is
// denied (dnc.internal) before any record of the opt-out exists. Once the
// database takes it, the call ends opted out and the opt-out is recorded.
func TestPacerOptOutKeyWaitsForNoDatabase(t *testing.T) {
	t.Parallel()
	w, x, y, camp2 := optOutWorld(t)
	ctx := context.Background()
	store := &heldOptOuts{Store: campaign.NewStore(w.db), release: make(chan struct{})}
	var releaseOnce sync.Once
	release := func() { releaseOnce.Do(func() { close(store.release) }) }
	t.Cleanup(release) // a failed test does not leave its call waiting
	lines := &keysLines{recordingLines: &recordingLines{t: t, db: w.db}, keys: []string{dialer.OptOutKey, dialer.ConfirmKey, dialer.RepeatKey, dialer.OptOutKey}}
	p := w.pacer(lines)
	p.Store = store
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx, w.campaignID, 1) }()

	// The call's end waits for the opt-out's first try (its outcome says
	// whether it was taken); the caller does not.
	require.Eventually(t, func() bool {
		lines.mu.Lock()
		defer lines.mu.Unlock()
		return len(lines.responses) == len(lines.keys)
	}, 4*time.Second, 10*time.Millisecond, "every key is answered while the database still holds the opt-out")
	lines.mu.Lock()
	require.Less(t, lines.took[0], 500*time.Millisecond, "the opt-out key's answer waits for no database")
	require.Equal(t, optedOutMedia(t, p), lines.responses[0].Media, "the short confirmation, then the hang-up")
	require.Empty(t, lines.responses[0].TransferTo)
	for i, r := range lines.responses[1:] {
		require.Equal(t, dialer.KeyResponse{}, r, "key %q after the opt-out key does nothing", lines.keys[i+1])
	}
	lines.mu.Unlock()

	// The number is refused meanwhile, by this process's gate.
	other := &recordingLines{t: t, db: w.db}
	second := w.pacer(other)
	second.Gate = p.Gate
	var sn *dialer.Snooze
	if err := second.Run(ctx, camp2, 1); err != nil {
		require.ErrorAs(t, err, &sn)
	}
	require.Equal(t, []phone.Number{y}, other.placed, "x is not called again")
	requireRefusedUnrecorded(t, w, x, camp2)

	release()
	if err := <-done; err != nil {
		require.ErrorAs(t, err, &sn)
	}
	require.Equal(t, string(dialer.OutcomeOptedOut), attemptOutcome(t, w, w.campaignID, x), "the call ends opted out once it is taken")
	require.Eventually(t, func() bool {
		var n int
		require.NoError(t, w.db.QueryRow(ctx, `SELECT count(*) FROM dnc_internal WHERE phone = $1 AND method = 'ivr'`, x).Scan(&n))
		return n == 1
	}, 10*time.Second, 50*time.Millisecond, "the opt-out is recorded")
	require.NoError(t, p.Drain(ctx))
}

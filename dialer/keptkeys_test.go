package dialer_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/campaign"
	"github.com/heed-dialer/heed/dialer"
	"github.com/heed-dialer/heed/internal/phone"
)

// keptKeysLines places calls as recordingLines does, but each call ends
// with keys whose handler never ran (the opt-out key pressed while the
// call waited for the office, or with its hang-up): the end carries them,
// with the outcome the call had.
type keptKeysLines struct {
	*recordingLines
	keys    string
	outcome dialer.Outcome
}

func (l *keptKeysLines) Place(ctx context.Context, req dialer.CallRequest, report func(dialer.CallEvent)) error {
	if req.Ready != nil {
		if err := req.Ready(ctx); err != nil {
			return err
		}
	}
	l.mu.Lock()
	l.placed = append(l.placed, req.To)
	l.mu.Unlock()
	go func() {
		id := dialer.ChannelID("test", req.AttemptID)
		report(dialer.CallEvent{Kind: dialer.EventOriginated, At: time.Now(), ChannelID: id, Asterisk: "fake"})
		report(dialer.CallEvent{Kind: dialer.EventAnswered, At: time.Now(), ChannelID: id, Asterisk: "fake"})
		report(dialer.CallEvent{Kind: dialer.EventEnded, At: time.Now(), ChannelID: id, Asterisk: "fake",
			Outcome: l.outcome, Cause: 16, DTMF: l.keys, TransferTo: "+18605550112"})
	}()
	return nil
}

// TestPacerTakesAnOptOutTheCallKept: a call whose keys hold the opt-out key
// that its key handler never took (pressed while the call waited for the
// office) has the opt-out taken when its end is recorded, at once, not at
// heed's next start: its number gets its internal entry, and another
// campaign does not call it.
func TestPacerTakesAnOptOutTheCallKept(t *testing.T) {
	t.Parallel()
	w, x, y, camp2 := optOutWorld(t)
	ctx := context.Background()
	lines := &keptKeysLines{recordingLines: &recordingLines{t: t, db: w.db}, keys: "29", outcome: dialer.OutcomeAbandoned}
	p := w.pacer(lines)
	var sn *dialer.Snooze
	if err := p.Run(ctx, w.campaignID, 1); err != nil {
		require.ErrorAs(t, err, &sn)
	}
	require.Equal(t, []phone.Number{x}, lines.placed)
	require.Eventually(t, func() bool {
		var n int
		require.NoError(t, w.db.QueryRow(ctx, `SELECT count(*) FROM dnc_internal WHERE phone = $1 AND method = 'ivr'`, x).Scan(&n))
		return n == 1
	}, 10*time.Second, 50*time.Millisecond, "the kept opt-out is taken and recorded")
	var source string
	require.NoError(t, w.db.QueryRow(ctx, `SELECT source FROM optout_requests WHERE phone = $1`, x).Scan(&source))
	require.Contains(t, source, "9")

	lines.keys, lines.outcome = "", dialer.OutcomeAnswered
	if err := p.Run(ctx, camp2, 1); err != nil {
		require.ErrorAs(t, err, &sn)
	}
	require.Equal(t, []phone.Number{x, y}, lines.placed, "x is not called again")
	require.NoError(t, p.Drain(ctx))
}

// slowOptOuts is a Store whose opt-outs wait until released, as while an
// import holds the change log's lock for long.
type slowOptOuts struct {
	*campaign.Store
	release chan struct{}
}

func (s *slowOptOuts) RecordOptOut(ctx context.Context, attemptID int64, p phone.Number) (bool, error) {
	select {
	case <-s.release:
		return s.Store.RecordOptOut(ctx, attemptID, p)
	case <-ctx.Done():
		return false, ctx.Err()
	}
}

// TestPacerHoldsAKeptOptOut: while the opt-out a call's keys held is being
// taken, the gate already refuses its number: another campaign's contact
// with it is denied (dnc.internal) before any record of the opt-out exists,
// and that campaign's other contact is called.
func TestPacerHoldsAKeptOptOut(t *testing.T) {
	t.Parallel()
	w, x, y, camp2 := optOutWorld(t)
	ctx := context.Background()
	lines := &keptKeysLines{recordingLines: &recordingLines{t: t, db: w.db}, keys: "29", outcome: dialer.OutcomeAbandoned}
	p := w.pacer(lines)
	store := &slowOptOuts{Store: campaign.NewStore(w.db), release: make(chan struct{})}
	p.Store = store
	var sn *dialer.Snooze
	if err := p.Run(ctx, w.campaignID, 1); err != nil {
		require.ErrorAs(t, err, &sn)
	}
	lines.keys, lines.outcome = "", dialer.OutcomeAnswered
	if err := p.Run(ctx, camp2, 1); err != nil {
		require.ErrorAs(t, err, &sn)
	}
	require.Equal(t, []phone.Number{x, y}, lines.placed, "x is not called again while its opt-out is taken")
	requireRefusedUnrecorded(t, w, x, camp2)
	close(store.release)
	require.NoError(t, p.Drain(ctx))
}

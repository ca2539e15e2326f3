package dialer_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/campaign"
	"github.com/heed-dialer/heed/dialer"
	"github.com/heed-dialer/heed/internal/dbtest"
	"github.com/heed-dialer/heed/internal/logbuf"
	"github.com/heed-dialer/heed/internal/phone"
)

// lockedOptOuts is a Store that cannot take opt-outs until released, as
// while the database cannot be reached.
type lockedOptOuts struct {
	*campaign.Store
	release chan struct{}
	mu      sync.Mutex
	tries   int
}

func (s *lockedOptOuts) RecordOptOut(ctx context.Context, attemptID int64, p phone.Number) (bool, error) {
	s.mu.Lock()
	s.tries++
	s.mu.Unlock()
	select {
	case <-s.release:
		return s.Store.RecordOptOut(ctx, attemptID, p)
	default:
		return false, errors.New("dial tcp 127.0.0.1:5432: connect: connection refused")
	}
}

// pressingLines places calls as recordingLines does, and presses a key on
// each once it is placed.
type pressingLines struct {
	*recordingLines
	key       string
	responses []dialer.KeyResponse
}

func (l *pressingLines) Place(ctx context.Context, req dialer.CallRequest, report func(dialer.CallEvent)) error {
	if err := l.recordingLines.Place(ctx, req, report); err != nil {
		return err
	}
	r := req.OnKey(l.key)
	l.mu.Lock()
	l.responses = append(l.responses, r)
	l.mu.Unlock()
	return nil
}

// optOutWorld is a person world whose campaign calls x, and a second
// running campaign (one line) with a contact with x, due first, and one
// with y.
func optOutWorld(t *testing.T) (w *personWorld, x, y phone.Number, camp2 int64) {
	w = newPersonWorld(t)
	ctx := context.Background()
	x, y = "+18605550361", "+18605550362"
	w.contact(w.list, x, "D-900")
	var list2 int64
	require.NoError(t, w.db.QueryRow(ctx, `INSERT INTO contact_lists (name) VALUES ('other') RETURNING id`).Scan(&list2))
	require.NoError(t, w.db.QueryRow(ctx, `INSERT INTO campaigns (name, purpose, list_id, message_text, caller_id, status, generation, max_concurrent, max_attempts)
		VALUES ('c2', 'debt_collection', $1, 'Hello', '+18605550100', 'running', 1, 1, 1) RETURNING id`, list2).Scan(&camp2))
	w.contact(w.oldList, y, "D-901")         // consent for y
	for _, n := range []phone.Number{x, y} { // x due first
		var other int64
		require.NoError(t, w.db.QueryRow(ctx, `INSERT INTO contacts (list_id, name, phone, person_ref) VALUES ($1, 'x', $2, '') RETURNING id`, list2, n).Scan(&other))
		_, err := w.db.Exec(ctx, `INSERT INTO campaign_targets (campaign_id, contact_id) VALUES ($1, $2)`, camp2, other)
		require.NoError(t, err)
	}
	return w, x, y, camp2
}

// requireRefusedUnrecorded checks that camp2's attempt at x was denied as
// on the internal list before any record of x's opt-out existed.
func requireRefusedUnrecorded(t *testing.T, w *personWorld, x phone.Number, camp2 int64) {
	t.Helper()
	ctx := context.Background()
	var decision string
	var reasons []string
	require.NoError(t, w.db.QueryRow(ctx, `SELECT decision, reasons FROM attempts WHERE campaign_id = $1 AND phone = $2`, camp2, x).Scan(&decision, &reasons))
	require.Equal(t, "deny", decision)
	require.Contains(t, reasons, "dnc.internal")
	require.NotContains(t, reasons, "consent.revoked", "refused before any record of the opt-out exists")
	var recorded int
	require.NoError(t, w.db.QueryRow(ctx, `SELECT count(*) FROM dnc_internal WHERE phone = $1`, x).Scan(&recorded))
	require.Zero(t, recorded)
}

// TestPacerKeepsRecordingAnOptOut: a key-press opt-out that cannot be
// taken during its call (the database cannot be reached) is not dropped.
// The caller hears the same short confirmation as when it is taken (not
// that it failed: heed keeps it), heed keeps trying in the background, and
// meanwhile the gate refuses the number as on the internal list: another
// campaign's contact with it is denied (dnc.internal) before any record of
// the opt-out exists, and that campaign's other contact is called (one
// line). The call keeps its own outcome, not opted_out, so that heed's
// next start takes the opt-out from its keys should the retries not.
func TestPacerKeepsRecordingAnOptOut(t *testing.T) {
	t.Parallel()
	w, x, y, camp2 := optOutWorld(t)
	ctx := context.Background()
	store := &lockedOptOuts{Store: campaign.NewStore(w.db), release: make(chan struct{})}
	lines := &pressingLines{recordingLines: &recordingLines{t: t, db: w.db}, key: dialer.OptOutKey}
	p := w.pacer(lines)
	p.Store = store
	var sn *dialer.Snooze
	if err := p.Run(ctx, w.campaignID, 1); err != nil {
		require.ErrorAs(t, err, &sn)
	}
	require.Equal(t, []phone.Number{x}, lines.placed)
	require.Len(t, lines.responses, 1)
	require.Equal(t, optedOutMedia(t, p), lines.responses[0].Media, "the caller hears the confirmation, then heed hangs up")
	require.Equal(t, "answered", attemptOutcome(t, w, w.campaignID, x), "the call's own outcome: the opt-out is not taken yet")

	// The other campaign's contact with x is refused while the opt-out is
	// unrecorded, and its other contact is called.
	if err := p.Run(ctx, camp2, 1); err != nil {
		require.ErrorAs(t, err, &sn)
	}
	require.Equal(t, []phone.Number{x, y}, lines.placed, "x is not called again")
	requireRefusedUnrecorded(t, w, x, camp2)
	require.Eventually(t, func() bool {
		store.mu.Lock()
		defer store.mu.Unlock()
		return store.tries >= 2
	}, 5*time.Second, 50*time.Millisecond, "heed tries again")

	close(store.release)
	require.Eventually(t, func() bool {
		var n int
		require.NoError(t, w.db.QueryRow(ctx, `SELECT count(*) FROM dnc_internal WHERE phone = $1 AND method = 'ivr'`, x).Scan(&n))
		return n == 1
	}, 10*time.Second, 50*time.Millisecond, "the opt-out is recorded in the background")
}

// TestPacerTakesAnOptOutDuringAnImport: a key press while a long import
// holds the change log's and the audit log's locks is taken at once. The
// caller hears that it is done, the call ends as opted out, and another
// process's pacer refuses the number (dnc.internal) before any record of
// the opt-out exists, while calling that campaign's other contact. Once
// the import ends, the opt-out is recorded, once.
func TestPacerTakesAnOptOutDuringAnImport(t *testing.T) {
	t.Parallel()
	w, x, y, camp2 := optOutWorld(t)
	ctx := context.Background()
	// Each campaign has a contact due tomorrow, so that neither completes
	// (marking a campaign complete waits for the audit log, too).
	for i, c := range []int64{w.campaignID, camp2} {
		_, err := w.db.Exec(ctx, `WITH k AS (INSERT INTO contacts (list_id, name, phone) SELECT list_id, 'later', $2 FROM campaigns WHERE id = $1 RETURNING id)
			INSERT INTO campaign_targets (campaign_id, contact_id, next_attempt_at) SELECT $1, k.id, $3 FROM k`,
			c, fmt.Sprintf("+1860555037%d", i), w.at.Add(24*time.Hour))
		require.NoError(t, err)
	}
	commit := dbtest.HoldLogs(t, w.db)

	lines := &pressingLines{recordingLines: &recordingLines{t: t, db: w.db}, key: dialer.OptOutKey}
	other := &recordingLines{t: t, db: w.db}
	second := w.pacer(other) // another process, its indexes loaded now
	var sn *dialer.Snooze
	first := w.pacer(lines)
	if err := first.Run(ctx, w.campaignID, 1); err != nil {
		require.ErrorAs(t, err, &sn)
	}
	require.Equal(t, []phone.Number{x}, lines.placed)
	require.Len(t, lines.responses, 1)
	require.Equal(t, optedOutMedia(t, first), lines.responses[0].Media, "the caller hears that it is done")
	require.Equal(t, string(dialer.OutcomeOptedOut), attemptOutcome(t, w, w.campaignID, x), "taken, its records waiting for the import")

	// The other process's indexes, loaded before the opt-out was taken,
	// learn of it at the sync before its batch.
	if err := second.Run(ctx, camp2, 1); err != nil {
		require.ErrorAs(t, err, &sn)
	}
	require.Equal(t, []phone.Number{y}, other.placed, "x is not called again")
	requireRefusedUnrecorded(t, w, x, camp2)

	commit()
	n, err := campaign.RecordPendingOptOuts(ctx, w.db)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	var entries, revs int
	require.NoError(t, w.db.QueryRow(ctx, `SELECT (SELECT count(*) FROM dnc_internal WHERE phone = $1 AND method = 'ivr'),
		(SELECT count(*) FROM revocations WHERE phone = $1)`, x).Scan(&entries, &revs))
	require.Equal(t, 1, entries)
	require.Equal(t, 1, revs)
}

// retryingOptOut runs a campaign whose callee, x, presses the opt-out key
// while the database cannot take it, and returns once the pacer has
// tried again in the background: its pacer, whose log is logged, and its
// store, which takes opt-outs once released.
func retryingOptOut(t *testing.T) (w *personWorld, p *dialer.Pacer, store *lockedOptOuts, x phone.Number, logged *logbuf.Buffer) {
	t.Helper()
	w, x, _, _ = optOutWorld(t)
	store = &lockedOptOuts{Store: campaign.NewStore(w.db), release: make(chan struct{})}
	lines := &pressingLines{recordingLines: &recordingLines{t: t, db: w.db}, key: dialer.OptOutKey}
	p = w.pacer(lines)
	p.Store = store
	logged = &logbuf.Buffer{}
	p.Log = slog.New(slog.NewTextHandler(logged, nil))
	var sn *dialer.Snooze
	if err := p.Run(context.Background(), w.campaignID, 1); err != nil {
		require.ErrorAs(t, err, &sn)
	}
	require.Equal(t, []phone.Number{x}, lines.placed)
	require.Eventually(t, func() bool {
		store.mu.Lock()
		defer store.mu.Unlock()
		return store.tries >= 2
	}, 10*time.Second, 20*time.Millisecond, "heed tries again")
	return w, p, store, x, logged
}

// TestPacerDrainTakesAnOptOut: a key-press opt-out still being retried in
// the background when heed stops is not left to die with the process:
// Drain cuts the wait before the next try short, makes one last try,
// which the database (back meanwhile) takes, and returns only then.
func TestPacerDrainTakesAnOptOut(t *testing.T) {
	t.Parallel()
	w, p, store, x, logged := retryingOptOut(t)
	close(store.release) // the database is back, in the middle of a wait
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	require.NoError(t, p.Drain(ctx))
	var n int
	require.NoError(t, w.db.QueryRow(context.Background(), `SELECT count(*) FROM optout_requests WHERE phone = $1 AND method = 'ivr'`, x).Scan(&n))
	require.Equal(t, 1, n, "taken by the time Drain returns")
	require.NotContains(t, logged.String(), "NOT taken")
}

// TestPacerDrainGivesUpAnOptOut: an opt-out the database still refuses
// when heed stops does not keep Drain waiting: it gets one last try, and
// the log says at ERROR that it was not taken, with the number.
func TestPacerDrainGivesUpAnOptOut(t *testing.T) {
	t.Parallel()
	_, p, store, x, logged := retryingOptOut(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	require.NoError(t, p.Drain(ctx), "Drain returns once the last try failed")
	store.mu.Lock()
	tries := store.tries
	store.mu.Unlock()
	out := logged.String()
	require.Regexp(t, `level=ERROR msg="pacer: opt-out NOT taken[^\n]*phone=\`+string(x), out)
	require.Contains(t, out, fmt.Sprintf("tries=%d ", tries), "the last try is the one logged")
}

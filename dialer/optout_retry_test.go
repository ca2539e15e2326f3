package dialer_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/campaign"
	"github.com/heed-dialer/heed/dialer"
	"github.com/heed-dialer/heed/internal/phone"
)

// lockedOptOuts is a Store that cannot record opt-outs until released, as
// while a long import holds the audit log's lock.
type lockedOptOuts struct {
	*campaign.Store
	release chan struct{}
	mu      sync.Mutex
	tries   int
}

func (s *lockedOptOuts) RecordOptOut(ctx context.Context, attemptID int64, p phone.Number) error {
	s.mu.Lock()
	s.tries++
	s.mu.Unlock()
	select {
	case <-s.release:
		return s.Store.RecordOptOut(ctx, attemptID, p)
	default:
		return errors.New("waiting for the audit log's lock: timeout")
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

// TestPacerKeepsRecordingAnOptOut: a key-press opt-out that cannot be
// recorded during its call is not dropped. The caller hears that it could
// not be recorded, heed keeps trying in the background, and meanwhile the
// gate refuses the number as on the internal list: another campaign's
// contact with it is denied (dnc.internal) before any record of the
// opt-out exists, and that campaign's other contact is called (one line).
func TestPacerKeepsRecordingAnOptOut(t *testing.T) {
	t.Parallel()
	w := newPersonWorld(t)
	ctx := context.Background()
	const x phone.Number = "+18605550361"
	w.contact(w.list, x, "D-900")
	var list2, camp2 int64
	require.NoError(t, w.db.QueryRow(ctx, `INSERT INTO contact_lists (name) VALUES ('other') RETURNING id`).Scan(&list2))
	require.NoError(t, w.db.QueryRow(ctx, `INSERT INTO campaigns (name, purpose, list_id, message_text, caller_id, status, generation, max_concurrent, max_attempts)
		VALUES ('c2', 'debt_collection', $1, 'Hello', '+18605550100', 'running', 1, 1, 1) RETURNING id`, list2).Scan(&camp2))
	const y phone.Number = "+18605550362"
	w.contact(w.oldList, y, "D-901")         // consent for y
	for _, n := range []phone.Number{x, y} { // x due first
		var other int64
		require.NoError(t, w.db.QueryRow(ctx, `INSERT INTO contacts (list_id, name, phone, person_ref) VALUES ($1, 'x', $2, '') RETURNING id`, list2, n).Scan(&other))
		_, err := w.db.Exec(ctx, `INSERT INTO campaign_targets (campaign_id, contact_id) VALUES ($1, $2)`, camp2, other)
		require.NoError(t, err)
	}

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
	require.Empty(t, lines.responses[0].Outcome, "the caller hears that it could not be recorded")
	require.NotEmpty(t, lines.responses[0].Media)

	// The other campaign's contact with x is refused while the opt-out is
	// unrecorded, and its other contact is called.
	if err := p.Run(ctx, camp2, 1); err != nil {
		require.ErrorAs(t, err, &sn)
	}
	require.Equal(t, []phone.Number{x, y}, lines.placed, "x is not called again")
	var decision string
	var reasons []string
	require.NoError(t, w.db.QueryRow(ctx, `SELECT decision, reasons FROM attempts WHERE campaign_id = $1 AND phone = $2`, camp2, x).Scan(&decision, &reasons))
	require.Equal(t, "deny", decision)
	require.Contains(t, reasons, "dnc.internal")
	require.NotContains(t, reasons, "consent.revoked", "refused before any record of the opt-out exists")
	var recorded int
	require.NoError(t, w.db.QueryRow(ctx, `SELECT count(*) FROM dnc_internal WHERE phone = $1`, x).Scan(&recorded))
	require.Zero(t, recorded)
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

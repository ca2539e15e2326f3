package dialbench_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/campaign"
	"github.com/heed-dialer/heed/consent"
	"github.com/heed-dialer/heed/dialer"
	"github.com/heed-dialer/heed/dialer/dialbench"
	"github.com/heed-dialer/heed/internal/dbtest"
	"github.com/heed-dialer/heed/internal/phone"
)

// fakeLines stands in for Asterisk in the pacing loop's tests. At each
// Place it checks that the attempt row was written first; calls end on
// their own after a moment, many at about the same time.
type fakeLines struct {
	t      *testing.T
	db     *pgxpool.Pool
	mu     sync.Mutex
	placed map[phone.Number]int
	busy   int
	most   int
	ended  int
}

func (l *fakeLines) Place(ctx context.Context, req dialer.CallRequest, report func(dialer.CallEvent)) error {
	var status string
	if err := l.db.QueryRow(ctx, `SELECT status FROM attempts WHERE id = $1`, req.AttemptID).Scan(&status); err != nil || status != "originating" {
		l.t.Errorf("attempt %d must be recorded as originating before its call: %q %v", req.AttemptID, status, err)
	}
	if req.Ready != nil {
		if err := req.Ready(ctx); err != nil {
			return err
		}
	}
	l.mu.Lock()
	l.placed[req.To]++
	l.busy++
	l.most = max(l.most, l.busy)
	l.mu.Unlock()
	go func() {
		report(dialer.CallEvent{Kind: dialer.EventOriginated, At: time.Now(), ChannelID: dialer.ChannelID("t", req.AttemptID), Asterisk: "fake"})
		time.Sleep(20 * time.Millisecond)
		l.mu.Lock()
		l.busy--
		l.ended++
		l.mu.Unlock()
		report(dialer.CallEvent{Kind: dialer.EventEnded, At: time.Now(), ChannelID: dialer.ChannelID("t", req.AttemptID), Asterisk: "fake",
			Outcome: dialer.OutcomeAnswered, Cause: 16})
	}()
	return nil
}

// failingStore fails to record the attempt of one number.
type failingStore struct {
	dialer.Store
	fail phone.Number
}

var errDisk = errors.New("disk full")

func (s failingStore) Decide(ctx context.Context, t dialer.Target, req dialer.Request, d consent.Decision) (int64, error) {
	if t.Phone == s.fail {
		return 0, errDisk
	}
	return s.Store.Decide(ctx, t, req, d)
}

// seedCampaign stores n contacts with consent and a running campaign of the
// given concurrency, and returns the campaign's id and the numbers.
func seedCampaign(t *testing.T, db *pgxpool.Pool, n, concurrent int) (int64, []phone.Number) {
	t.Helper()
	ctx := context.Background()
	nums := make([]string, n)
	out := make([]phone.Number, n)
	for i := range nums {
		out[i] = dialbench.Number(i)
		nums[i] = out[i].String()
	}
	var listID, id int64
	require.NoError(t, db.QueryRow(ctx, `INSERT INTO contact_lists (name) VALUES ('p') RETURNING id`).Scan(&listID))
	_, err := db.Exec(ctx, `INSERT INTO contacts (list_id, name, phone) SELECT $1, 'x', p FROM unnest($2::text[]) p`, listID, nums)
	require.NoError(t, err)
	_, err = db.Exec(ctx, `INSERT INTO consents (phone, kind, scope, channel, obtained_at, source) SELECT p, 'pec', 'informational', 'voice', now() - interval '1 day', 't' FROM unnest($1::text[]) p`, nums)
	require.NoError(t, err)
	require.NoError(t, db.QueryRow(ctx, `INSERT INTO campaigns (name, purpose, list_id, message_text, caller_id, status, generation, max_concurrent, max_attempts)
		VALUES ('c', 'informational', $1, 'Hello', '+18605550100', 'running', 1, $2, 1) RETURNING id`, listID, concurrent).Scan(&id))
	_, err = db.Exec(ctx, `INSERT INTO campaign_targets (campaign_id, contact_id) SELECT $1, id FROM contacts WHERE list_id = $2`, id, listID)
	require.NoError(t, err)
	return id, out
}

func newPacer(t *testing.T, db *pgxpool.Pool, store dialer.Store, lines dialer.Lines) *dialer.Pacer {
	t.Helper()
	engine, err := consent.NewEngine(consent.Config{})
	require.NoError(t, err)
	ix := dialer.NewIndexes(db, slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.NoError(t, ix.Load(context.Background()))
	return &dialer.Pacer{
		Gate: &dialer.PolicyGate{Engine: engine, Indexes: ix}, Store: store, Lines: lines,
		Media: dialer.Media{HostDir: t.TempDir(), AsteriskDir: "/media"}, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Tick: 10 * time.Millisecond, Now: dialbench.OfficeHours(), Firm: "Bench Law Firm",
	}
}

// TestPacerBatches checks the pacing loop's batches when many calls end at
// about the same time and each batch takes every end that came: each
// attempt recorded before its call, never more calls at once than the
// campaign allows, every contact dialed exactly once, and the campaign
// completed.
func TestPacerBatches(t *testing.T) {
	t.Parallel()
	db := dbtest.New(t)
	const contacts, concurrent = 60, 12
	id, nums := seedCampaign(t, db, contacts, concurrent)
	lines := &fakeLines{t: t, db: db, placed: map[phone.Number]int{}}
	p := newPacer(t, db, campaign.NewStore(db), lines)
	require.NoError(t, p.Run(context.Background(), id, 1))

	require.LessOrEqual(t, lines.most, concurrent, "never more calls at once than the campaign allows")
	require.Equal(t, contacts, lines.ended)
	require.Len(t, lines.placed, contacts)
	for _, n := range nums {
		require.Equal(t, 1, lines.placed[n], "%s dialed once", n)
	}
	var status string
	var attempts int
	require.NoError(t, db.QueryRow(context.Background(), `SELECT status FROM campaigns WHERE id = $1`, id).Scan(&status))
	require.NoError(t, db.QueryRow(context.Background(), `SELECT count(*) FROM attempts WHERE campaign_id = $1 AND status = 'ended'`, id).Scan(&attempts))
	require.Equal(t, "completed", status)
	require.Equal(t, contacts, attempts)
}

// TestPacerBatchError checks that when an attempt cannot be recorded, its
// call is never placed, the loop stops with the error, and it still
// follows the calls it did place to their end.
func TestPacerBatchError(t *testing.T) {
	t.Parallel()
	db := dbtest.New(t)
	id, nums := seedCampaign(t, db, 20, 10)
	lines := &fakeLines{t: t, db: db, placed: map[phone.Number]int{}}
	store := failingStore{Store: campaign.NewStore(db), fail: nums[3]}
	p := newPacer(t, db, store, lines)
	err := p.Run(context.Background(), id, 1)
	require.ErrorIs(t, err, errDisk)

	lines.mu.Lock()
	defer lines.mu.Unlock()
	require.Zero(t, lines.placed[nums[3]], "an attempt that was not recorded is never placed")
	require.NotEmpty(t, lines.placed)
	require.Zero(t, lines.busy, "every placed call was followed to its end before Run returned")
	total := 0
	for _, n := range lines.placed {
		require.Equal(t, 1, n)
		total += n
	}
	require.Equal(t, total, lines.ended)
	require.Less(t, total, 20, "no batch starts after the error")
}

package dialer_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/campaign"
	"github.com/heed-dialer/heed/dialer"
	"github.com/heed-dialer/heed/internal/phone"
)

// holdsWorld is a personWorld whose campaign calls first and then n, one
// of person D-900's numbers, whom the earlier campaign called 6 times in
// the last 7 days (Reg F allows 7), and a second running debt-collection
// campaign (camp2) that targets n too.
func holdsWorld(t *testing.T) (w *personWorld, first, n phone.Number, camp2 int64) {
	t.Helper()
	w = newPersonWorld(t)
	ctx := context.Background()
	first, n = "+18605550901", "+18605550903"
	w.contact(w.list, first, "")
	w.contact(w.list, n, "D-900")
	var list2, contact2 int64
	require.NoError(t, w.db.QueryRow(ctx, `INSERT INTO contact_lists (name) VALUES ('other') RETURNING id`).Scan(&list2))
	require.NoError(t, w.db.QueryRow(ctx, `INSERT INTO campaigns (name, purpose, list_id, message_text, caller_id, status, generation, max_concurrent, max_attempts)
		VALUES ('c2', 'debt_collection', $1, 'Hello', '+18605550100', 'running', 1, 10, 1) RETURNING id`, list2).Scan(&camp2))
	require.NoError(t, w.db.QueryRow(ctx, `INSERT INTO contacts (list_id, name, phone, person_ref) VALUES ($1, 'x', $2, 'D-900') RETURNING id`, list2, n).Scan(&contact2))
	_, err := w.db.Exec(ctx, `INSERT INTO campaign_targets (campaign_id, contact_id) VALUES ($1, $2)`, camp2, contact2)
	require.NoError(t, err)
	// first is due before n.
	_, err = w.db.Exec(ctx, `UPDATE campaign_targets t SET next_attempt_at = now() - interval '1 hour' + (t.contact_id - $2) * interval '1 second'
		WHERE t.campaign_id = $1`, w.campaignID, w.contacts[first])
	require.NoError(t, err)
	for i := range 6 {
		w.call(n, "no_answer", time.Duration(10*(i+1))*time.Hour)
	}
	return w, first, n, camp2
}

// requireRunDone requires a Run to have ended as it does once it has
// nothing more to do: the campaign complete (nil), or waiting for a
// target not yet due (Snooze).
func requireRunDone(t *testing.T, err error) {
	t.Helper()
	var sn *dialer.Snooze
	if err != nil {
		require.ErrorAs(t, err, &sn)
	}
}

// callsTo counts the allowed calls to p placed (or being placed) in the 7
// days before the world's clock.
func (w *personWorld) callsTo(p phone.Number) int {
	w.t.Helper()
	var n int
	require.NoError(w.t, w.db.QueryRow(context.Background(), `SELECT count(*) FROM attempts WHERE phone = $1 AND decision = 'allow'
		AND outcome <> 'called_off' AND not_placed = '' AND coalesce(originated_at, created_at) > $2::timestamptz - interval '7 days'`, p, w.at).Scan(&n))
	return n
}

// terminate ends the database sessions that match where (a condition on
// pg_stat_activity a and pg_locks l), as a dropped connection or a
// server's timeout would, and returns how many it ended.
func terminate(t *testing.T, db *pgxpool.Pool, where string) int {
	t.Helper()
	var n int
	require.NoError(t, db.QueryRow(context.Background(), `SELECT count(pg_terminate_backend(pid)) FROM (SELECT DISTINCT a.pid FROM pg_stat_activity a
		LEFT JOIN pg_locks l ON l.pid = a.pid AND l.locktype = 'advisory' AND l.granted
		WHERE a.datname = current_database() AND a.pid <> pg_backend_pid() AND `+where+`) s`).Scan(&n))
	return n
}

// TestPacerStopsOnceItsNumbersLockIsLost: a batch's numbers stay locked
// in a database session while the batch records and places its calls.
// When that session ends (here terminated, as a dropped connection or a
// server's timeout ends it), another campaign may lock the numbers and
// read a history without the calls the batch has still to record. So the
// batch places a call only once the lock is confirmed held after its
// attempt is recorded: here the other campaign calls n (the person's 7th
// call in 7 days) while the batch's lock is gone, and the batch places
// neither its first call nor n's, which would have been the 8th. Without
// the check, both were placed.
func TestPacerStopsOnceItsNumbersLockIsLost(t *testing.T) {
	t.Parallel()
	w, first, n, camp2 := holdsWorld(t)
	ctx := context.Background()
	linesB := &recordingLines{t: t, db: w.db}
	linesA := &recordingLines{t: t, db: w.db}
	killed := false
	linesA.beforeReady = func(req dialer.CallRequest) {
		if killed {
			return
		}
		killed = true
		require.Equal(t, first, req.To)
		require.Equal(t, 1, terminate(t, w.db, `l.pid IS NOT NULL`), "the batch's lock session")
		requireRunDone(t, w.pacer(linesB).Run(ctx, camp2, 1))
	}
	pa := w.pacer(linesA)
	runCtx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	requireRunDone(t, pa.Run(runCtx, w.campaignID, 1))

	require.Equal(t, []phone.Number{n}, linesB.placed, "the other campaign calls n while the lock is gone")
	require.Equal(t, []phone.Number{first}, linesA.calledOff, "the batch places nothing once its lock is gone")
	var notPlaced string
	require.NoError(t, w.db.QueryRow(ctx, `SELECT not_placed FROM attempts WHERE campaign_id = $1 AND phone = $2 ORDER BY id LIMIT 1`, w.campaignID, first).Scan(&notPlaced))
	require.Equal(t, "a lock or lease it relied on was lost", notPlaced)
	require.Equal(t, 7, w.callsTo(n), "Reg F: 7 calls in 7 days, not 8")
	require.Equal(t, "defer", w.attempt(n).decision, "the next batch counts the other campaign's call")
	require.Contains(t, linesA.placed, first, "the next batch places the first call")
}

// TestPacerBatchLockOutlivesIdleTimeout: a server that ends sessions idle
// in a transaction (idle_in_transaction_session_timeout, a common
// hardening setting) does not end a batch's lock while the batch waits
// between calls (here for the campaign's calls-per-second slot): the
// lock's transaction turns the timeout off, so every call of the batch is
// placed with its lock held.
func TestPacerBatchLockOutlivesIdleTimeout(t *testing.T) {
	t.Parallel()
	w, first, n, _ := holdsWorld(t)
	ctx := context.Background()
	_, err := w.db.Exec(ctx, `UPDATE campaigns SET calls_per_second = 1 WHERE id = $1`, w.campaignID)
	require.NoError(t, err)
	cfg := w.db.Config().Copy()
	cfg.ConnConfig.RuntimeParams["idle_in_transaction_session_timeout"] = "200ms"
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	lines := &recordingLines{t: t, db: w.db}
	pa := w.pacer(lines)
	pa.Store = campaign.NewStore(pool)
	requireRunDone(t, pa.Run(ctx, w.campaignID, 1))
	require.Equal(t, []phone.Number{first, n}, lines.placed, "both calls, the second a second after the first")
	require.Empty(t, lines.calledOff)
}

// TestRunStopsOnceItsLeaseIsLost: a campaign's run lease lives in a
// database session of its own. When that session ends, another run of the
// campaign may take the lease, dial, and close this run's calls in flight
// as left by a dead process. So a run places a call only once its lease is
// confirmed held after the attempt is recorded; once the lease is lost it
// places nothing more and fails (ErrHoldLost), and the job's next try
// takes the lease anew and calls the contact. Without the check, the call
// was placed on a lease another run could hold.
func TestRunStopsOnceItsLeaseIsLost(t *testing.T) {
	t.Parallel()
	w, first, n, _ := holdsWorld(t)
	ctx := context.Background()
	cfg := w.db.Config().Copy()
	cfg.MaxConns = 2
	cfg.ConnConfig.RuntimeParams["application_name"] = "heed-test-lease"
	leasePool, err := pgxpool.NewWithConfig(ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(leasePool.Close)
	lines := &recordingLines{t: t, db: w.db}
	killed := false
	lines.beforeReady = func(req dialer.CallRequest) {
		if !killed {
			killed = true
			require.Equal(t, 1, terminate(t, w.db, `a.application_name = 'heed-test-lease'`), "the lease's session")
		}
	}
	worker := &campaign.RunWorker{DB: w.db, Leases: campaign.NewLeases(leasePool), Store: campaign.NewStore(w.db),
		Pacer: w.pacer(lines), Reconciler: noReconcile{t}, Log: quiet()}
	job := &river.Job[campaign.RunArgs]{JobRow: &rivertype.JobRow{}, Args: campaign.RunArgs{CampaignID: w.campaignID, Generation: 1}}
	err = worker.Work(ctx, job)
	require.ErrorIs(t, err, dialer.ErrHoldLost)
	require.Empty(t, lines.placed, "no call on a lost lease")
	require.Equal(t, []phone.Number{first}, lines.calledOff)

	// River's next try.
	err = worker.Work(ctx, job)
	var sn *river.JobSnoozeError
	if err != nil {
		require.ErrorAs(t, err, &sn)
	}
	require.ElementsMatch(t, []phone.Number{first, n}, lines.placed, "the run goes on with the lease taken anew")
}

// noReconcile is a campaign.Reconciler for runs that leave nothing in
// flight: it fails the test when asked.
type noReconcile struct{ t *testing.T }

func (r noReconcile) Reconcile(ctx context.Context, asterisk string, attemptID int64) (dialer.Orphan, error) {
	r.t.Errorf("attempt %d left in flight", attemptID)
	return dialer.OrphanGone, nil
}

// lockHook is a Store whose LockSubjects runs after once it has locked:
// what another process does between the lock and the history read.
type lockHook struct {
	*campaign.Store
	locks int
	after func()
}

func (s *lockHook) LockSubjects(ctx context.Context, subjects []dialer.Subject) (dialer.SubjectLock, error) {
	l, err := s.Store.LockSubjects(ctx, subjects)
	if err == nil {
		s.locks++
		if s.after != nil {
			s.after()
			s.after = nil
		}
	}
	return l, err
}

// TestPacerHoldsBackANumberItDidNotLock: a batch locks each person's
// numbers as the contacts hold them when it locks, and its history counts
// them as they hold them when it reads it. A number given to the person
// in between (here a contact import's) is counted but not locked, so
// another pacer may call it meanwhile: the target waits for the next
// batch, which locks it too, and is called then.
func TestPacerHoldsBackANumberItDidNotLock(t *testing.T) {
	t.Parallel()
	w := newPersonWorld(t)
	ctx := context.Background()
	const (
		mobile phone.Number = "+18605550941"
		office phone.Number = "+18605550942"
	)
	w.contact(w.list, mobile, "D-940")
	store := &lockHook{Store: campaign.NewStore(w.db), after: func() {
		w.contact(w.oldList, office, "D-940") // the import
	}}
	lines := &recordingLines{t: t, db: w.db}
	var locksAtPlace []int
	lines.beforeReady = func(dialer.CallRequest) { locksAtPlace = append(locksAtPlace, store.locks) }
	pa := w.pacer(lines)
	pa.Store = store
	requireRunDone(t, pa.Run(ctx, w.campaignID, 1))
	require.Equal(t, []phone.Number{mobile}, lines.placed)
	require.Equal(t, []int{2}, locksAtPlace, "called by the batch that locked the person's new number, not the first")
	require.ElementsMatch(t, []phone.Number{mobile, office}, w.attempt(mobile).input.HistoryOf.Numbers)
}

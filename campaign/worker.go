package campaign

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"

	"github.com/heed-dialer/heed/dialer"
)

// RunArgs is the River job that runs one generation of a campaign. Each
// start of a campaign enqueues one, unique by its arguments.
type RunArgs struct {
	CampaignID int64 `json:"campaign_id"`
	Generation int64 `json:"generation"`
}

// Kind names the job kind in River's tables.
func (RunArgs) Kind() string { return "campaign_run" }

// InsertOpts makes the job unique per campaign generation.
func (RunArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: runMaxAttempts, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// runMaxAttempts is how many times a campaign's run job may fail before
// River gives it up: with retryCap between tries, about a week of a
// database or Asterisk that keeps failing. (Snoozes do not count.)
const runMaxAttempts = 10_000

// retryCap is the longest a failed run waits before it is tried again.
const retryCap = time.Minute

// leaseClass is the first key of the advisory lock that makes one process at
// a time run a campaign. (The migrations' triggers lock class 0x68656565.)
const leaseClass = 0x6865_6564 // "heed"

// leftRetry is how soon a campaign with attempts left in flight, whose
// Asterisk could not be asked, runs again when nothing else is due.
const leftRetry = 5 * time.Second

// RunWorker runs campaigns through the pacing loop.
type RunWorker struct {
	river.WorkerDefaults[RunArgs]
	DB *pgxpool.Pool
	// Leases holds each running campaign's lease: one connection for the
	// whole run. It must not be DB (NewLeases makes it), since running
	// campaigns would otherwise take DB's connections one by one, and
	// with as many campaigns as DB has connections every pacing loop
	// would wait forever for one.
	Leases *Leases
	Store  *Store
	Pacer  *dialer.Pacer
	// Reconciler settles, on Asterisk, the calls a dead process left in
	// flight; *dialer.Pool is one.
	Reconciler Reconciler
	Log        *slog.Logger
}

// NextRetry is when a failed run is tried again: 2, 4, 8 … seconds after
// its first failures, and never more than retryCap. River's default (the
// number of failures to the fourth power, in seconds) would leave a
// campaign idle for 20 minutes after a few database blips, since a run's
// failures are never forgotten while the campaign runs.
func (w *RunWorker) NextRetry(job *river.Job[RunArgs]) time.Time {
	return time.Now().Add(retryAfter(len(job.Errors)))
}

// retryAfter is the wait after a run's failures-th failure.
func retryAfter(failures int) time.Duration {
	return min(time.Second<<min(max(failures, 1), 16), retryCap)
}

// Timeout lets a campaign run as long as it needs.
func (w *RunWorker) Timeout(*river.Job[RunArgs]) time.Duration { return -1 }

// Work holds the campaign's lease (a session advisory lock, released if this
// process dies), reconciles with Asterisk what a dead process left in
// flight, and runs the pacing loop. It snoozes when nothing is due yet.
func (w *RunWorker) Work(ctx context.Context, job *river.Job[RunArgs]) error {
	id := job.Args.CampaignID
	lease, err := w.Leases.Take(ctx, id)
	if errors.Is(err, ErrLeaseHeld) {
		// An older generation is still finishing its calls.
		return river.JobSnooze(time.Second)
	}
	if err != nil {
		return err
	}
	defer lease.Release()
	var gen int64
	if err := w.DB.QueryRow(ctx, `SELECT generation FROM campaigns WHERE id = $1`, id).Scan(&gen); err != nil {
		return fmt.Errorf("campaign %d: %w", id, err)
	}
	if gen != job.Args.Generation {
		// A newer start (or a restart) superseded this job.
		return nil
	}
	// Calls this process's pacer follows are left to it: a call whose end
	// it is still trying to record is not closed as unknown.
	rec, err := w.Store.Recover(ctx, id, w.Pacer.Following(w.Reconciler))
	if err != nil {
		return err
	}
	if rec.Closed() > 0 {
		w.Log.Warn("campaign: reconciled attempts left in flight by a stopped process", "campaign", id,
			"hung_up", rec.HungUp, "gone", rec.Gone, "unchecked", rec.Unchecked,
			"rang_out", rec.RangOut, "abandoned", rec.Abandoned, "opted_out", rec.OptedOut)
	}
	if rec.Left > 0 {
		w.Log.Warn("campaign: attempts left in flight whose Asterisk cannot be asked now; will retry", "campaign", id, "attempts", rec.Left)
	}
	// Each call is placed only while the lease still holds (RunHeld): a
	// run whose lease was lost (its session ended) places no more calls
	// and fails, and River runs it again, to take the lease anew or find
	// another run holding it.
	err = w.Pacer.RunHeld(ctx, id, job.Args.Generation, lease)
	var sn *dialer.Snooze
	if errors.As(err, &sn) {
		d := sn.After
		if d < time.Second {
			d = time.Second
		}
		if rec.Left > 0 && d < leftRetry {
			// Targets wait on an Asterisk that cannot be asked yet.
			d = leftRetry
		}
		return river.JobSnooze(d)
	}
	if err != nil {
		return fmt.Errorf("campaign %d: %w", id, err)
	}
	return nil
}

// ErrLeaseHeld reports a campaign whose lease another run holds.
var ErrLeaseHeld = errors.New("the campaign's lease is held by another run")

// Leases are the campaigns' leases: a session advisory lock per running
// campaign, each on its own connection of a pool kept apart from the one
// the pacing loops query with, and released if the process dies.
type Leases struct {
	pool *pgxpool.Pool
}

// NewLeases returns Leases on pool, which must serve nothing else: it
// needs as many connections as campaigns run at once.
func NewLeases(pool *pgxpool.Pool) *Leases { return &Leases{pool: pool} }

// unlockWait bounds the unlock of a lease, so that a database that hangs
// rather than refuses cannot hold a run's end (or shutdown) for minutes.
const unlockWait = 5 * time.Second

// Take takes campaign id's lease, or returns ErrLeaseHeld when another run
// holds it. The lease's session turns off the server's idle session
// timeout, which would otherwise end it (and release the lease) while the
// run dials.
func (l *Leases) Take(ctx context.Context, id int64) (*Lease, error) {
	conn, err := l.pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("campaign %d: lease connection: %w", id, err)
	}
	var got bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1, $2)`, leaseClass, int32(id)).Scan(&got); err != nil {
		conn.Release()
		return nil, fmt.Errorf("campaign %d: lease: %w", id, err)
	}
	if !got {
		conn.Release()
		return nil, fmt.Errorf("campaign %d: %w", id, ErrLeaseHeld)
	}
	le := &Lease{id: id, conn: conn}
	if _, err := conn.Exec(ctx, `SET idle_session_timeout = 0`); err != nil {
		le.Release()
		return nil, fmt.Errorf("campaign %d: lease: %w", id, err)
	}
	return le, nil
}

// Lease is a run's hold on its campaign (Leases.Take): a session advisory
// lock on a connection of its own.
type Lease struct {
	id   int64
	mu   sync.Mutex // a connection serves one statement at a time
	conn *pgxpool.Conn
}

var _ dialer.Hold = (*Lease)(nil)

// Held reports whether the lease's session still holds the lease
// (dialer.Hold): the session's own locks say so, and a session that has
// ended answers nothing.
func (le *Lease) Held(ctx context.Context) error {
	le.mu.Lock()
	defer le.mu.Unlock()
	if le.conn == nil {
		return fmt.Errorf("campaign %d: lease released: %w", le.id, dialer.ErrHoldLost)
	}
	ctx, cancel := context.WithTimeout(ctx, heldWait)
	defer cancel()
	var held bool
	err := le.conn.QueryRow(ctx, `
		SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND granted
		                  AND classid = $1::int::oid AND objid = $2::int::oid AND objsubid = 2)`, leaseClass, int32(le.id)).Scan(&held)
	switch {
	case err != nil:
		return fmt.Errorf("campaign %d: lease: %w: %w", le.id, dialer.ErrHoldLost, err)
	case !held:
		return fmt.Errorf("campaign %d: lease: its session no longer holds it: %w", le.id, dialer.ErrHoldLost)
	}
	return nil
}

// Release gives the lease back and returns its connection to the pool.
// Calling it again does nothing.
func (le *Lease) Release() {
	le.mu.Lock()
	defer le.mu.Unlock()
	if le.conn == nil {
		return
	}
	conn := le.conn
	le.conn = nil
	ctx, cancel := context.WithTimeout(context.Background(), unlockWait)
	defer cancel()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_unlock($1, $2)`, leaseClass, int32(le.id)); err != nil {
		// The lock must not outlive the run on a pooled connection:
		// close the connection, which drops it.
		_ = conn.Hijack().Close(ctx)
		return
	}
	conn.Release()
}

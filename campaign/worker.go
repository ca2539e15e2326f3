package campaign

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
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
	return river.InsertOpts{MaxAttempts: 100, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// leaseClass is the first key of the advisory lock that makes one process at
// a time run a campaign. (The migrations' triggers lock class 0x68656565.)
const leaseClass = 0x6865_6564 // "heed"

// unlockTimeout bounds the release of a campaign's lease.
const unlockTimeout = 5 * time.Second

// leftRetry is how soon a campaign with attempts left in flight, whose
// Asterisk could not be asked, runs again when nothing else is due.
const leftRetry = 5 * time.Second

// RunWorker runs campaigns through the pacing loop.
type RunWorker struct {
	river.WorkerDefaults[RunArgs]
	DB    *pgxpool.Pool
	Store *Store
	Pacer *dialer.Pacer
	// Reconciler settles, on Asterisk, the calls a dead process left in
	// flight; *dialer.Pool is one.
	Reconciler Reconciler
	Log        *slog.Logger
}

// Timeout lets a campaign run as long as it needs.
func (w *RunWorker) Timeout(*river.Job[RunArgs]) time.Duration { return -1 }

// Work holds the campaign's lease (a session advisory lock, released if this
// process dies), reconciles with Asterisk what a dead process left in
// flight, and runs the pacing loop. It snoozes when nothing is due yet.
func (w *RunWorker) Work(ctx context.Context, job *river.Job[RunArgs]) error {
	id := job.Args.CampaignID
	conn, err := w.DB.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("campaign %d: lease connection: %w", id, err)
	}
	defer conn.Release()
	var got bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1, $2)`, leaseClass, int32(id)).Scan(&got); err != nil {
		return fmt.Errorf("campaign %d: lease: %w", id, err)
	}
	if !got {
		// An older generation is still finishing its calls.
		return river.JobSnooze(time.Second)
	}
	defer func() {
		// Bounded, so that a PostgreSQL that hangs cannot keep the job (and
		// a stopping process) from returning; a connection the timeout
		// closes releases the lock with its session.
		uctx, cancel := context.WithTimeout(context.Background(), unlockTimeout)
		defer cancel()
		_, _ = conn.Exec(uctx, `SELECT pg_advisory_unlock($1, $2)`, leaseClass, int32(id))
	}()
	var gen int64
	if err := conn.QueryRow(ctx, `SELECT generation FROM campaigns WHERE id = $1`, id).Scan(&gen); err != nil {
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
			"hung_up", rec.HungUp, "gone", rec.Gone, "unchecked", rec.Unchecked)
	}
	if rec.Left > 0 {
		w.Log.Warn("campaign: attempts left in flight whose Asterisk cannot be asked now; will retry", "campaign", id, "attempts", rec.Left)
	}
	err = w.Pacer.Run(ctx, id, job.Args.Generation)
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

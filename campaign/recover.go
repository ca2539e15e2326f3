package campaign

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/heed-dialer/heed/dialer"
)

// ErrNoReconciler reports a Recover call without a Reconciler.
var ErrNoReconciler = errors.New("recover: no reconciler to ask Asterisk")

// Reconciler settles, on the Asterisk an attempt's call went to, the
// channel of an attempt that a stopped process left in flight: it hangs the
// channel up if it is still there. *dialer.Pool is one.
type Reconciler interface {
	// Reconcile reports what it found of the attempt's channel. asterisk is
	// what the attempt row names ("" when the row never got that far). It
	// fails with dialer.ErrARIUnavailable when it could not ask.
	Reconcile(ctx context.Context, asterisk string, attemptID int64) (dialer.Orphan, error)
}

// Recovered counts what Recover found of the attempts left in flight.
type Recovered struct {
	// HungUp counts calls still up, which were hung up.
	HungUp int
	// Gone counts calls whose channel no longer existed.
	Gone int
	// Unchecked counts calls whose Asterisk is no longer configured.
	Unchecked int
	// Left counts attempts left in flight because an Asterisk that had to
	// be asked could not be; a later Recover tries them again.
	Left int
}

// Closed returns how many attempts Recover closed.
func (r Recovered) Closed() int { return r.HungUp + r.Gone + r.Unchecked }

// Recover reconciles the attempts that a stopped process left in flight
// with Asterisk. The campaign's run lease guarantees that no other process
// follows them. Each one's channel is looked up on its Asterisk: a channel
// still up is hung up (the process that played its message is gone), a
// missing one was already over. Either way the attempt is closed with the
// outcome unknown and what was found in its reconcile column, and its
// target is finished, never redialed, so that a crash cannot cause a second
// call for the same attempt. An attempt whose Asterisk cannot be asked now
// stays in flight (its target keeps the campaign from completing) until a
// later Recover can ask. Calls this process itself still follows are left
// alone.
func (s *Store) Recover(ctx context.Context, campaignID int64, r Reconciler) (Recovered, error) {
	var res Recovered
	if r == nil {
		return res, fmt.Errorf("recover campaign %d: %w", campaignID, ErrNoReconciler)
	}
	type inflight struct {
		id       int64
		asterisk string
	}
	rows, err := s.db.Query(ctx, `
		SELECT id, asterisk FROM attempts
		 WHERE campaign_id = $1 AND status IN ('originating', 'ringing', 'answered') ORDER BY id`, campaignID)
	if err != nil {
		return res, fmt.Errorf("recover campaign %d: attempts in flight: %w", campaignID, err)
	}
	left, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (inflight, error) {
		var a inflight
		err := row.Scan(&a.id, &a.asterisk)
		return a, err
	})
	if err != nil {
		return res, fmt.Errorf("recover campaign %d: attempts in flight: %w", campaignID, err)
	}
	for _, a := range left {
		found, err := r.Reconcile(ctx, a.asterisk, a.id)
		if errors.Is(err, dialer.ErrARIUnavailable) && ctx.Err() == nil {
			res.Left++
			continue
		}
		if err != nil {
			return res, fmt.Errorf("recover campaign %d: %w", campaignID, err)
		}
		switch found {
		case dialer.OrphanFollowed:
			continue
		case dialer.OrphanHungUp:
			res.HungUp++
		case dialer.OrphanGone:
			res.Gone++
		case dialer.OrphanUnchecked:
			res.Unchecked++
		default:
			return res, fmt.Errorf("recover campaign %d: attempt %d: unexpected reconcile result %q", campaignID, a.id, found)
		}
		if err := s.closeOrphan(ctx, campaignID, a.id, found); err != nil {
			return res, err
		}
	}
	// A target left dialing with no attempt in flight (none should be) is
	// finished too.
	_, err = s.db.Exec(ctx, `
		UPDATE campaign_targets t SET state = 'done'
		 WHERE t.campaign_id = $1 AND t.state = 'dialing'
		   AND NOT EXISTS (SELECT 1 FROM attempts a WHERE a.campaign_id = $1 AND a.contact_id = t.contact_id
		                      AND a.status IN ('originating', 'ringing', 'answered'))`, campaignID)
	if err != nil {
		return res, fmt.Errorf("recover campaign %d: targets: %w", campaignID, err)
	}
	return res, nil
}

// closeOrphan closes one reconciled attempt and finishes its target.
func (s *Store) closeOrphan(ctx context.Context, campaignID, attemptID int64, found dialer.Orphan) error {
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		var contactID int64
		err := tx.QueryRow(ctx, `
			UPDATE attempts SET status = 'ended', outcome = 'unknown', ended_at = now(), reconcile = $2, reconciled_at = now()
			 WHERE id = $1 AND status IN ('originating', 'ringing', 'answered') RETURNING contact_id`,
			attemptID, string(found)).Scan(&contactID)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil // it ended meanwhile
		}
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE campaign_targets SET state = 'done' WHERE campaign_id = $1 AND contact_id = $2`, campaignID, contactID)
		return err
	})
	if err != nil {
		return fmt.Errorf("recover campaign %d: close attempt %d: %w", campaignID, attemptID, err)
	}
	return nil
}

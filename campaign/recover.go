package campaign

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/heed-dialer/heed/consent"
	"github.com/heed-dialer/heed/dialer"
)

// ErrNoReconciler reports a Recover call without a Reconciler.
var ErrNoReconciler = errors.New("recover: no reconciler to ask Asterisk")

// Reconciler settles, on the Asterisk an attempt's call went to, the
// channel of an attempt that a stopped process left in flight: it hangs up
// a channel already answered, and waits for the end of one still ringing
// (dialer.Switch.Orphan). *dialer.Pool is one.
type Reconciler interface {
	// Reconcile reports what it found of the attempt's channel. asterisk is
	// what the attempt row names ("" when the row never got that far). It
	// fails with dialer.ErrARIUnavailable when it could not ask.
	Reconcile(ctx context.Context, asterisk string, attemptID int64) (dialer.Orphan, error)
}

// Recovered counts what Recover found of the attempts left in flight.
type Recovered struct {
	// HungUp counts calls already answered, which were hung up.
	HungUp int
	// Gone counts calls whose channel no longer existed.
	Gone int
	// Unchecked counts calls whose Asterisk is no longer configured.
	Unchecked int
	// RangOut counts calls still ringing, which were let ring to the end
	// of their ring time, unanswered.
	RangOut int
	// Abandoned counts calls still ringing that were answered then, with
	// no process to play their message: abandoned calls (rule F10), which
	// heard the abandoned-call message. OptedOut of them had the opt-out
	// key pressed, and the opt-out taken.
	Abandoned, OptedOut int
	// Left counts attempts left in flight because an Asterisk that had to
	// be asked could not be; a later Recover tries them again.
	Left int
}

// Closed returns how many attempts Recover closed.
func (r Recovered) Closed() int { return r.HungUp + r.Gone + r.Unchecked + r.RangOut + r.Abandoned }

// Recover reconciles the attempts that a stopped process left in flight
// with Asterisk. The campaign's run lease guarantees that no other process
// of this campaign follows them. Each one's channel is looked up on its
// Asterisk (dialer.Switch.Orphan): a channel already answered is hung up
// (the process that played its message is gone), a missing one was
// already over; a channel still ringing is never cut short (rule F10: let
// the phone ring at least 15 s), and Recover waits for its end: unanswered
// at the end of its ring time (rang_out), or answered and played the
// abandoned-call message (abandoned; opted_out when the callee pressed the
// opt-out key, which is then taken with the attempt's close, as a key
// press during the call). A channel gone, of a call that a switch took up
// and recorded the end of (NoteOrphan), is what was recorded. Whatever
// was found goes in the attempt's reconcile column; the attempt is closed with the outcome unknown, or
// abandoned for a call answered with no one to follow it (the campaign's
// abandonment rate counts it), and its target is finished, never
// redialed, so that a crash cannot cause a second call for the same
// attempt. An attempt whose Asterisk cannot be asked now stays in flight
// (its target keeps the campaign from completing) until a later Recover
// can ask. Calls this process itself still follows are left alone.
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
		case dialer.OrphanHungUp, dialer.OrphanGone, dialer.OrphanUnchecked, dialer.OrphanRangOut, dialer.OrphanAbandoned, dialer.OrphanOptedOut:
		default:
			return res, fmt.Errorf("recover campaign %d: attempt %d: unexpected reconcile result %q", campaignID, a.id, found)
		}
		found, err = s.closeOrphan(ctx, campaignID, a.id, found)
		if err != nil {
			return res, err
		}
		switch found {
		case dialer.OrphanHungUp:
			res.HungUp++
		case dialer.OrphanGone:
			res.Gone++
		case dialer.OrphanUnchecked:
			res.Unchecked++
		case dialer.OrphanRangOut:
			res.RangOut++
		case dialer.OrphanAbandoned:
			res.Abandoned++
		case dialer.OrphanOptedOut:
			res.Abandoned++
			res.OptedOut++
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

// TakeOrphanOptOut takes the opt-out key pressed on attempt attemptID's
// call after the process that placed it stopped (the switch that took the
// call up plays the abandoned-call message, which offers the key; it calls
// this through dialer.ARIConfig.OrphanOptOut): in one statement, the key
// joins the attempt's keys while the attempt is still in flight (a
// finished attempt is never changed), and the opt-out request is recorded,
// once per attempt, for every last look to see and the background loop to
// record as it records the public page's. Recovery's close of the attempt
// takes the same request again, which it then finds taken.
func (s *Store) TakeOrphanOptOut(ctx context.Context, attemptID int64) error {
	return takeOrphanOptOut(ctx, s.db, attemptID)
}

// takeOrphanOptOut is TakeOrphanOptOut, querying q: closeOrphan takes the
// opt-out with it too, in the transaction that closes the attempt.
func takeOrphanOptOut(ctx context.Context, q interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}, attemptID int64) error {
	var n int
	err := q.QueryRow(ctx, `
		WITH k AS (
			UPDATE attempts SET dtmf = dtmf || $2
			 WHERE id = $1 AND status IN ('originating', 'ringing', 'answered') AND strpos(dtmf, $2) = 0
			 RETURNING id),
		r AS (
			INSERT INTO optout_requests (phone, method, source, attempt_id)
			SELECT phone, $3, format('pressed %s during attempt %s, answered after the process that placed it stopped', $2::text, id), id
			  FROM attempts WHERE id = $1
			ON CONFLICT (attempt_id) DO NOTHING
			RETURNING id)
		SELECT count(*) FROM attempts WHERE id = $1`, attemptID, dialer.OptOutKey, string(consent.RevokedByIVR)).Scan(&n)
	if err != nil {
		return fmt.Errorf("take the opt-out of attempt %d: %w", attemptID, err)
	}
	if n == 0 {
		return fmt.Errorf("take the opt-out of attempt %d: %w", attemptID, ErrNotFound)
	}
	return nil
}

// noted are what a switch that took up an orphan records of it once it
// has ended (NoteOrphan).
var noted = []dialer.Orphan{dialer.OrphanRangOut, dialer.OrphanAbandoned, dialer.OrphanOptedOut}

// ErrNotNoted reports a NoteOrphan of something a switch never finds of
// an orphan it followed to its end.
var ErrNotNoted = fmt.Errorf("not what a call left by a stopped process can have ended as: %w", ErrInvalid)

// NoteOrphan records what became of attempt attemptID's call, which a
// stopped process placed and a switch took up and followed to its end
// (rang out, abandoned, or opted out): the switch calls this through
// dialer.ARIConfig.OrphanEnded. The attempt stays in flight, with found in
// its reconcile column, for recovery to close under the campaign's lease:
// it may ask only much later (its campaign paused meanwhile), or in
// another process, when the switch has long let the call go and its
// Asterisk no longer has the channel, and it closes the attempt with what
// was recorded (closeOrphan). An attempt no longer in flight (recovery
// closed it meanwhile), or that no longer exists, is left alone: there is
// nothing left to record.
func (s *Store) NoteOrphan(ctx context.Context, attemptID int64, found dialer.Orphan) error {
	if !slices.Contains(noted, found) {
		return fmt.Errorf("note attempt %d: %q: %w", attemptID, found, ErrNotNoted)
	}
	_, err := s.db.Exec(ctx, `
		UPDATE attempts SET reconcile = $2, reconciled_at = now()
		 WHERE id = $1 AND status IN ('originating', 'ringing', 'answered')`, attemptID, string(found))
	if err != nil {
		return fmt.Errorf("note attempt %d: %s: %w", attemptID, found, err)
	}
	return nil
}

// closeOrphan closes one reconciled attempt and finishes its target, and
// returns what it closed the attempt as: found, or, when found says only
// that the channel is gone (or its Asterisk could not be asked), what a
// switch recorded of the call when it ended (NoteOrphan). An orphan
// answered with no one to follow it is abandoned; one whose callee pressed
// the opt-out key keeps the key, and its opt-out is taken in the same
// transaction (takeOrphanOptOut; KeepRecordingOptOuts records it), unless
// the switch took it as the key was pressed.
func (s *Store) closeOrphan(ctx context.Context, campaignID, attemptID int64, found dialer.Orphan) (dialer.Orphan, error) {
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		var recorded string
		err := tx.QueryRow(ctx, `
			SELECT reconcile FROM attempts WHERE id = $1 AND status IN ('originating', 'ringing', 'answered') FOR UPDATE`,
			attemptID).Scan(&recorded)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil // it ended meanwhile
		}
		if err != nil {
			return err
		}
		if r := dialer.Orphan(recorded); (found == dialer.OrphanGone || found == dialer.OrphanUnchecked) && slices.Contains(noted, r) {
			found = r
		}
		outcome := "unknown"
		switch found {
		case dialer.OrphanAbandoned, dialer.OrphanOptedOut:
			outcome = string(dialer.OutcomeAbandoned)
		}
		if found == dialer.OrphanOptedOut {
			if err := takeOrphanOptOut(ctx, tx, attemptID); err != nil {
				return err
			}
		}
		var contactID int64
		err = tx.QueryRow(ctx, `
			UPDATE attempts SET status = 'ended', outcome = $3, ended_at = now(), reconcile = $2, reconciled_at = now()
			 WHERE id = $1 RETURNING contact_id`,
			attemptID, string(found), outcome).Scan(&contactID)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE campaign_targets SET state = 'done' WHERE campaign_id = $1 AND contact_id = $2`, campaignID, contactID)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("recover campaign %d: close attempt %d: %w", campaignID, attemptID, err)
	}
	return found, nil
}

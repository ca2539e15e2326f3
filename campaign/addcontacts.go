package campaign

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// AddNewContacts makes the contacts of campaign id's list that the
// campaign does not call yet (those imported since it started) its
// targets, due at once, and returns how many it added; 0 when there are
// none. It is for a running, paused or completed campaign: a draft takes
// its list's contacts when it starts, and a cancelled campaign calls no
// one (ErrInvalidTransition).
//
// The launch checks run again on the states of the list's contacts, and a
// new contact that lacks a field the message says refuses the whole
// addition (ErrLaunchRefused), as it refuses a campaign's creation; both
// run under the list's lock, so that they weigh the contacts added. A
// campaign whose schedule has no calling time left is refused: its new
// contacts could not be called. In the transaction that adds the targets, a running or
// completed campaign is started again with a new generation (a completed
// one is running again), so that a run that was about to complete it
// leaves it running and the new run calls the new contacts; a paused
// campaign calls them when it resumes. by, when not 0, is the user, whom
// the audit log and the added targets (added_at, added_by) name.
func (s *Service) AddNewContacts(ctx context.Context, id, by int64) (int, error) {
	c, err := s.Get(ctx, id)
	if err != nil {
		return 0, err
	}
	if err := canAddContacts(c.Status); err != nil {
		return 0, fmt.Errorf("campaign %d: %w", id, err)
	}
	if c.Counts.New == 0 {
		return 0, nil
	}
	// The audio the launch checks time is rendered now, so that the
	// checks below, under the campaign's and the list's locks, read it
	// from the media cache rather than wait on the speech engine.
	s.Launch.warm(ctx, c)
	var added int
	err = pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		status, gen, err := lockToCall(ctx, tx, id, canAddContacts)
		if err != nil {
			return err
		}
		// The list is locked, as for a campaign's creation, so that an
		// import cannot add or change contacts between the checks below
		// and the targets: the fields the message says, and the states the
		// launch checks weigh, are those of the contacts added.
		fe, err := lockedMissingFields(ctx, tx, c.ListID, c.Message, c.InjuryMatter, id)
		if err != nil {
			return err
		}
		if len(fe) > 0 {
			return fmt.Errorf("%s: %w", fe.text(), ErrLaunchRefused)
		}
		// A completed campaign's checks run in callAgain, on its targets
		// once added: the same contacts.
		if status != StatusCompleted {
			states, placed, err := s.Launch.reach(ctx, tx, id, c.ListID)
			if err != nil {
				return err
			}
			if err := s.launchCheck(ctx, tx, c, states, placed); err != nil {
				return err
			}
		}
		tag, err := tx.Exec(ctx, `INSERT INTO campaign_targets (campaign_id, contact_id, added_by)
			SELECT $1, k.id, NULLIF($3::bigint, 0) FROM contacts k WHERE k.list_id = $2 ON CONFLICT DO NOTHING`, id, c.ListID, by)
		if err != nil {
			return fmt.Errorf("new targets: %w", err)
		}
		if added = int(tag.RowsAffected()); added == 0 {
			return nil
		}
		return s.callAgain(ctx, tx, c, status, gen, by)
	})
	if err != nil {
		return 0, fmt.Errorf("campaign %d: add contacts: %w", id, err)
	}
	return added, nil
}

// lockToCall locks campaign id's row in tx, for a change that gives it
// targets to call (AddNewContacts, RestoreContact), and returns its status
// and generation. The row is locked FOR NO KEY UPDATE, never FOR UPDATE:
// the attempt rows Decide inserts while it holds a target's row need a
// key-share lock on it. It returns an error wrapping ErrNotFound when
// there is no such campaign, allowed's error when allowed refuses its
// status, and callingLeft's when its schedule has no calling time left:
// the targets could not be called.
func lockToCall(ctx context.Context, tx pgx.Tx, id int64, allowed func(Status) error) (Status, int64, error) {
	var (
		status           Status
		gen              int64
		tz               string
		start, end       *time.Time
		winStart, winEnd int
		days             int
	)
	err := tx.QueryRow(ctx, `SELECT status, generation, time_zone, starts_at, ends_at, window_start_min, window_end_min, window_days
		FROM campaigns WHERE id = $1 FOR NO KEY UPDATE`, id).Scan(&status, &gen, &tz, &start, &end, &winStart, &winEnd, &days)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", 0, fmt.Errorf("campaign %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return "", 0, fmt.Errorf("lock campaign: %w", err)
	}
	if err := allowed(status); err != nil {
		return "", 0, err
	}
	if err := callingLeft(tz, start, end, winStart, winEnd, days, time.Now()); err != nil {
		return "", 0, err
	}
	return status, gen, nil
}

// callAgain has campaign c, locked by lockToCall in tx with status st
// and generation gen, call the targets tx made due. A running or
// completed campaign is started again with a new generation, its run job
// enqueued in tx (a completed one is running again), so that a run that
// was about to complete it leaves it running (Store.Settle) and the new
// run calls them; a paused campaign calls them when it resumes, and the
// change is only noted on it. A completed campaign runs again only if it
// passes its launch checks, on its targets as tx leaves them, as Start
// runs them: it is refused with their *LaunchError otherwise (a law pack
// or the firm's settings changed since it ran, an Asterisk now runs
// answering-machine detection, its caller ID is no longer one of the
// firm's: rule F11). The caller warms its audio (Launch.warm) before tx
// begins, so that the check does not wait on the speech engine. by, when
// not 0, is the user whom the campaign's audit row names.
func (s *Service) callAgain(ctx context.Context, tx pgx.Tx, c Campaign, st Status, gen, by int64) error {
	id := c.ID
	if st == StatusPaused {
		_, err := tx.Exec(ctx, `UPDATE campaigns SET updated_by = NULLIF($2::bigint, 0), updated_at = now() WHERE id = $1`, id, by)
		if err != nil {
			return fmt.Errorf("note the change: %w", err)
		}
		return nil
	}
	if st == StatusCompleted {
		states, placed, err := s.Launch.reach(ctx, tx, id, 0)
		if err != nil {
			return err
		}
		if err := s.launchCheck(ctx, tx, c, states, placed); err != nil {
			return err
		}
	}
	// The campaign runs (again): its caller ID must still be one of the
	// firm's (rule F11), held until it runs, as Start holds it.
	var callerID string
	if err := tx.QueryRow(ctx, `SELECT caller_id FROM campaigns WHERE id = $1`, id).Scan(&callerID); err != nil {
		return fmt.Errorf("caller ID: %w", err)
	}
	if err := lockCallerID(ctx, tx, callerID); err != nil {
		return err
	}
	gen++
	_, err := tx.Exec(ctx, `UPDATE campaigns SET status = 'running', generation = $2, completed_at = NULL,
		updated_by = NULLIF($3::bigint, 0), updated_at = now() WHERE id = $1`, id, gen, by)
	if err != nil {
		return fmt.Errorf("run again: %w", err)
	}
	if _, err := s.river.InsertTx(ctx, tx, RunArgs{CampaignID: id, Generation: gen}, nil); err != nil {
		return fmt.Errorf("enqueue run job: %w", err)
	}
	return nil
}

// callingLeft returns nil when a campaign with the stored schedule can
// still place a call at or after now, and an error wrapping
// ErrInvalidTransition when its end comes before its next calling time.
func callingLeft(tz string, start, end *time.Time, winStart, winEnd, days int, now time.Time) error {
	p, err := storedPlan(tz, start, end, winStart, winEnd, days)
	if err != nil {
		return err
	}
	if _, ok := p.next(now); !ok {
		return fmt.Errorf("its schedule has no calling time left before its end, so no one could be called: copy it into a new campaign: %w", ErrInvalidTransition)
	}
	return nil
}

// CallingLeft reports whether campaign c's schedule still has a calling
// time at or after now: whether contacts added to it could be called.
func (c Campaign) CallingLeft(now time.Time) bool {
	_, ok := c.plan.next(now)
	return ok
}

// canAddContacts says whether AddNewContacts may add targets to a campaign
// in status st: nil, or an error wrapping ErrInvalidTransition that says
// why not.
func canAddContacts(st Status) error {
	switch st {
	case StatusRunning, StatusPaused, StatusCompleted:
		return nil
	case StatusDraft:
		return fmt.Errorf("a draft calls the contacts its list has when it starts: %w", ErrInvalidTransition)
	}
	return fmt.Errorf("add contacts to a %s campaign: %w", st, ErrInvalidTransition)
}

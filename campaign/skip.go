package campaign

import (
	"context"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
)

// MaxSkipNote bounds the note of a contact's withdrawal, in characters.
const MaxSkipNote = 200

// SkipContact withdraws contact contactID from running or paused campaign
// id before it is called again: the hearing was cancelled, the client
// already confirmed in person. Its target is skipped, with by (a user, or
// 0) and note recorded on it; no attempt is recorded for it afterwards,
// even by a batch that read it just before (dialer.ErrNotDue), unless it
// is put back (RestoreContact). It returns an error wrapping ErrNotFound
// when the campaign has no such contact, ErrInvalid for a note longer than
// MaxSkipNote, and ErrInvalidTransition when the contact is being called
// now, is done with, or the campaign is neither running nor paused.
func (s *Service) SkipContact(ctx context.Context, id, contactID, by int64, note string) error {
	if n := utf8.RuneCountInString(note); n > MaxSkipNote {
		return fmt.Errorf("campaign %d: withdraw contact: a note of %d characters (at most %d): %w", id, n, MaxSkipNote, ErrInvalid)
	}
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		var status Status
		err := tx.QueryRow(ctx, `SELECT status FROM campaigns WHERE id = $1 FOR SHARE`, id).Scan(&status)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("campaign %d: %w", id, ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("lock campaign: %w", err)
		}
		if status != StatusRunning && status != StatusPaused {
			return fmt.Errorf("withdraw a contact from a %s campaign: %w", status, ErrInvalidTransition)
		}
		// The target's row lock orders this with the pacer's Decide: the
		// one that comes second finds the target no longer pending. When
		// the update finds it so, its state is read again by a statement
		// of its own, which sees what made it so; a target back to pending
		// meanwhile (its call ended) is tried again.
		for range 3 {
			tag, err := tx.Exec(ctx, `UPDATE campaign_targets SET state = 'skipped', skipped_at = now(), skipped_by = NULLIF($3::bigint, 0), skip_note = $4
				WHERE campaign_id = $1 AND contact_id = $2 AND state = 'pending'`, id, contactID, by, note)
			if err != nil {
				return fmt.Errorf("skip: %w", err)
			}
			if tag.RowsAffected() == 1 {
				return nil
			}
			state, err := targetState(ctx, tx, id, contactID)
			switch {
			case err != nil:
				return err
			case state == "skipped":
				return nil
			case state == "dialing":
				return fmt.Errorf("contact %d is being called now: %w", contactID, ErrInvalidTransition)
			case state != "pending":
				return fmt.Errorf("contact %d is %s in this campaign: %w", contactID, state, ErrInvalidTransition)
			}
		}
		return fmt.Errorf("contact %d: its state keeps changing; try again: %w", contactID, ErrInvalidTransition)
	})
	if err != nil {
		return fmt.Errorf("campaign %d: withdraw contact: %w", id, err)
	}
	return nil
}

// RestoreContact puts contact contactID, withdrawn from campaign id by
// SkipContact, back among the contacts the campaign calls: its target is
// pending again, due when it was due before (a retry delay or a deferral
// still holds) or at once, with by (a user, or 0) and the time recorded
// on it (restored_by, restored_at) beside its withdrawal's, and the gate
// decides each of its attempts as any other's. It is for a running or
// paused campaign, and for a completed one (completed, it may be, because
// the contacts left were withdrawn), which runs again: as AddNewContacts
// does, a running or completed campaign is started again with a new
// generation in the same transaction, a completed one only if it passes
// its launch checks (ErrLaunchRefused, with a *LaunchError, otherwise, and
// the contact stays withdrawn), and a campaign whose schedule has no
// calling time left is refused. Putting back a contact that is pending
// already does nothing. It returns an error wrapping ErrNotFound when the
// campaign has no such contact, and ErrInvalidTransition when the contact
// was not withdrawn, or the campaign is a draft or cancelled.
func (s *Service) RestoreContact(ctx context.Context, id, contactID, by int64) error {
	c, err := s.Get(ctx, id)
	if err != nil {
		return fmt.Errorf("put back contact: %w", err)
	}
	if c.Status == StatusRunning || c.Status == StatusCompleted {
		// A completed campaign (or a running one that completes
		// meanwhile) runs again only after its launch checks: the audio
		// they time is rendered now, outside the transaction.
		s.Launch.warm(ctx, c)
	}
	err = pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		// The campaign's row first, as SkipContact and AddNewContacts lock
		// it: a withdrawal of the contact waits for this, or this for it.
		status, gen, err := lockToCall(ctx, tx, id, canRestore)
		if err != nil {
			return err
		}
		// A withdrawal needs the campaign's row FOR SHARE, which this
		// holds: a target the update does not find skipped cannot become
		// so before its state is read below.
		// It is due when it was due before it was withdrawn (a retry delay
		// or a deferral still holds), or at once.
		tag, err := tx.Exec(ctx, `UPDATE campaign_targets SET state = 'pending', next_attempt_at = greatest(next_attempt_at, now()), restored_at = now(), restored_by = NULLIF($3::bigint, 0)
			WHERE campaign_id = $1 AND contact_id = $2 AND state = 'skipped'`, id, contactID, by)
		if err != nil {
			return fmt.Errorf("put back: %w", err)
		}
		if tag.RowsAffected() == 1 {
			return s.callAgain(ctx, tx, c, status, gen, by)
		}
		state, err := targetState(ctx, tx, id, contactID)
		switch {
		case err != nil:
			return err
		case state == "pending":
			return nil
		case state == "dialing":
			return fmt.Errorf("contact %d is being called now, not withdrawn: %w", contactID, ErrInvalidTransition)
		}
		return fmt.Errorf("contact %d is %s in this campaign, not withdrawn: %w", contactID, state, ErrInvalidTransition)
	})
	if err != nil {
		return fmt.Errorf("campaign %d: put back contact: %w", id, err)
	}
	return nil
}

// canRestore says whether RestoreContact may put a withdrawn contact back
// in a campaign in status st: nil, or an error wrapping
// ErrInvalidTransition that says why not.
func canRestore(st Status) error {
	switch st {
	case StatusRunning, StatusPaused, StatusCompleted:
		return nil
	case StatusDraft:
		return fmt.Errorf("a draft has no withdrawn contacts: it calls its list's contacts when it starts: %w", ErrInvalidTransition)
	}
	return fmt.Errorf("put back a contact in a %s campaign, which calls no one again: copy it into a new campaign: %w", st, ErrInvalidTransition)
}

// targetState reads the state of contact contactID's target in campaign
// id, by a statement of its own in tx (which sees what made an update of
// the target miss it), or returns an error wrapping ErrNotFound when the
// campaign has no such contact.
func targetState(ctx context.Context, tx pgx.Tx, id, contactID int64) (string, error) {
	var state string
	err := tx.QueryRow(ctx, `SELECT state FROM campaign_targets WHERE campaign_id = $1 AND contact_id = $2`, id, contactID).Scan(&state)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", fmt.Errorf("contact %d: %w", contactID, ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("contact %d: state: %w", contactID, err)
	}
	return state, nil
}

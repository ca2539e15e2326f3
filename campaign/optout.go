package campaign

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/heed-dialer/heed/consent"
	"github.com/heed-dialer/heed/dialer"
	"github.com/heed-dialer/heed/internal/phone"
)

// OptOutRecordWait is how long taking an opt-out waits for its records to
// be written before it leaves them to RecordPendingOptOuts: a person on the
// line or at the opt-out page is not kept waiting behind a long import.
const OptOutRecordWait = 2 * time.Second

// OptOut is a person's request for no more calls to a number.
type OptOut struct {
	// Phone is the number.
	Phone phone.Number
	// Method is how the request came: ivr, web, staff, ...
	Method string
	// Source says where, in a few words.
	Source string
	// By is the user who took it, or 0.
	By int64
	// AttemptID is the call during which it was pressed, or 0: a call's
	// opt-out is taken once, however many times it is retried.
	AttemptID int64
}

// OptOutTaken is what became of an opt-out RecordOptOut took.
type OptOutTaken struct {
	// ID is the request's (optout_requests.id).
	ID int64
	// Recorded says its revocation and do-not-call entry are written.
	// When false they wait for the database (a long import holds the
	// change and audit logs' locks), RecordPendingOptOuts writes them, and
	// Wait says what kept them.
	Recorded bool
	// Listed says the number already had an internal do-not-call entry in
	// force when the opt-out was recorded.
	Listed bool
	// Wait is the error that kept the records from being written within
	// OptOutRecordWait, when Recorded is false.
	Wait error
}

// RecordOptOut takes a person's request for no more calls and records it.
// Taking it is one short insert (optout_requests) that waits for no other
// writer; from then on every heed process's gate refuses the number from
// its next sync (Indexes). Recording it writes, in one transaction, a
// revocation of every consent for the number and an internal do-not-call
// entry unless one is already in force (Listed); both are dated when the
// request was taken. Records that cannot be written within
// OptOutRecordWait (or before ctx ends) are left to RecordPendingOptOuts:
// the opt-out is taken all the same (Recorded false). An error means it
// was not taken.
func RecordOptOut(ctx context.Context, db *pgxpool.Pool, o OptOut) (OptOutTaken, error) {
	var id int64
	err := db.QueryRow(ctx, `
		INSERT INTO optout_requests (phone, method, source, taken_by, attempt_id)
		VALUES ($1, $2, $3, NULLIF($4::bigint, 0), NULLIF($5::bigint, 0))
		ON CONFLICT (attempt_id) DO NOTHING RETURNING id`, o.Phone.String(), o.Method, o.Source, o.By, o.AttemptID).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) && o.AttemptID != 0 {
		// The call's opt-out was taken already (the insert waited for a
		// take still committing): the request is that one.
		err = db.QueryRow(ctx, `SELECT id FROM optout_requests WHERE attempt_id = $1`, o.AttemptID).Scan(&id)
	}
	if err != nil {
		return OptOutTaken{}, fmt.Errorf("take opt-out of %s: %w", o.Phone, err)
	}
	rctx, cancel := context.WithTimeout(ctx, OptOutRecordWait)
	defer cancel()
	listed, _, err := recordOptOut(rctx, db, id, false)
	if err != nil {
		return OptOutTaken{ID: id, Wait: fmt.Errorf("opt-out of %s: %w", o.Phone, err)}, nil
	}
	return OptOutTaken{ID: id, Recorded: true, Listed: listed}, nil
}

// errOptOutBusy reports a pending opt-out another transaction is
// recording (recordOptOut's skipLocked).
var errOptOutBusy = errors.New("opt-out request is being recorded by another transaction")

// recordOptOut writes the records of opt-out request id, unless they are
// written already (then wrote is false), in one transaction that holds the
// request's row: the revocation, the do-not-call entry unless one is in
// force (listed), and the request marked recorded. With skipLocked, a
// request another transaction holds is left to it (errOptOutBusy);
// without, it waits for that transaction and reports what it recorded.
func recordOptOut(ctx context.Context, db *pgxpool.Pool, id int64, skipLocked bool) (listed, wrote bool, err error) {
	err = pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		var (
			p, method, source string
			by                *int64
			at                time.Time
		)
		q := `SELECT phone, method, source, taken_by, taken_at FROM optout_requests WHERE id = $1 AND recorded_at IS NULL FOR UPDATE`
		if skipLocked {
			q += ` SKIP LOCKED`
		}
		err := tx.QueryRow(ctx, q, id).Scan(&p, &method, &source, &by, &at)
		if errors.Is(err, pgx.ErrNoRows) {
			var l *bool
			if err := tx.QueryRow(ctx, `SELECT listed FROM optout_requests WHERE id = $1`, id).Scan(&l); err != nil {
				return fmt.Errorf("opt-out request %d: %w", id, err)
			}
			if l == nil {
				return errOptOutBusy
			}
			listed = *l
			return nil
		}
		if err != nil {
			return fmt.Errorf("opt-out request %d: %w", id, err)
		}
		var rev int64
		if err := tx.QueryRow(ctx, `INSERT INTO revocations (phone, revoked_at, method, source, recorded_by) VALUES ($1, $2, $3, $4, $5) RETURNING id`,
			p, at, method, source, by).Scan(&rev); err != nil {
			return fmt.Errorf("revocation: %w", err)
		}
		var entry *int64
		err = tx.QueryRow(ctx, `INSERT INTO dnc_internal (phone, added_at, method, source, added_by)
			SELECT $1, $2, $3, $4, $5 WHERE NOT EXISTS (SELECT 1 FROM dnc_internal WHERE phone = $1 AND removed_at IS NULL)
			RETURNING id`, p, at, method, source, by).Scan(&entry)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("do-not-call entry: %w", err)
		}
		listed, wrote = entry == nil, true
		if _, err := tx.Exec(ctx, `UPDATE optout_requests SET recorded_at = clock_timestamp(), revocation_id = $2, listed = $3, dnc_id = $4 WHERE id = $1`,
			id, rev, listed, entry); err != nil {
			return fmt.Errorf("mark opt-out request %d recorded: %w", id, err)
		}
		return nil
	})
	if err != nil {
		return false, false, fmt.Errorf("record opt-out request %d: %w", id, err)
	}
	return listed, wrote, nil
}

// RecordPendingOptOuts records the opt-outs taken but not yet recorded
// (OptOutTaken.Recorded false), oldest first, each in its own
// transaction; one another process is recording is left to it, and one
// that fails does not keep the others from being recorded (the errors are
// joined). It returns how many it recorded.
func RecordPendingOptOuts(ctx context.Context, db *pgxpool.Pool) (int, error) {
	rows, err := db.Query(ctx, `SELECT id FROM optout_requests WHERE recorded_at IS NULL ORDER BY id LIMIT 1000`)
	if err != nil {
		return 0, fmt.Errorf("pending opt-outs: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return 0, fmt.Errorf("pending opt-outs: %w", err)
	}
	n := 0
	var errs []error
	for _, id := range ids {
		switch _, wrote, err := recordOptOut(ctx, db, id, true); {
		case errors.Is(err, errOptOutBusy):
		case err != nil:
			errs = append(errs, err)
			if ctx.Err() != nil {
				return n, fmt.Errorf("pending opt-outs: %w", errors.Join(errs...))
			}
		case wrote:
			n++
		}
	}
	if len(errs) > 0 {
		return n, fmt.Errorf("pending opt-outs: %w", errors.Join(errs...))
	}
	return n, nil
}

// PendingOptOutWait is how often KeepRecordingOptOuts looks for opt-outs
// taken but not yet recorded.
const PendingOptOutWait = 2 * time.Second

// pendingOptOutTimeout bounds one pass of KeepRecordingOptOuts: a pass
// that waits behind a longer import gives up and starts again.
const pendingOptOutTimeout = 2 * time.Minute

// KeepRecordingOptOuts records pending opt-outs (RecordPendingOptOuts)
// every PendingOptOutWait until ctx ends, logging what it recorded and
// what it could not yet. heed serve runs it in every process.
func KeepRecordingOptOuts(ctx context.Context, db *pgxpool.Pool, log *slog.Logger) {
	t := time.NewTicker(PendingOptOutWait)
	defer t.Stop()
	for {
		pctx, cancel := context.WithTimeout(ctx, pendingOptOutTimeout)
		n, err := RecordPendingOptOuts(pctx, db)
		cancel()
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			log.Warn("opt-outs: could not record a taken opt-out yet; every gate refuses its number meanwhile", "recorded", n, "err", err)
		case n > 0:
			log.Info("opt-outs: recorded taken opt-outs", "recorded", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// RecordOptOut takes and records a key-press opt-out (RecordOptOut), named
// after the attempt, and reports whether it is recorded yet.
func (s *Store) RecordOptOut(ctx context.Context, attemptID int64, p phone.Number) (bool, error) {
	source := fmt.Sprintf("pressed %s during attempt %d", dialer.OptOutKey, attemptID)
	t, err := RecordOptOut(ctx, s.db, OptOut{Phone: p, Method: "ivr", Source: source, AttemptID: attemptID})
	if err != nil {
		return false, fmt.Errorf("opt-out of attempt %d: %w", attemptID, err)
	}
	return t.Recorded, nil
}

// RecoverOptOuts takes the key-press opt-outs that calls kept in their
// keys (the opt-out key among an attempt's dtmf) but that were never
// taken: the database could not be reached during the call, and the
// process stopped before its background retries took it. It takes one per
// number, as pressed during the first such attempt, unless an opt-out of
// the number was taken since that attempt, or the number got an internal
// do-not-call entry at or after it (recorded since, and perhaps taken off
// since by staff on purpose). An entry in force from before the attempt
// does not stand for it: a consent given after that entry lifted it for
// the call (rule F12), and only the revocation the opt-out records stops
// that consent. All are taken in one
// statement, which waits for no import, so every gate refuses their
// numbers from its next sync; KeepRecordingOptOuts, which heed serve starts
// right after, records them. heed serve runs it at start, before any
// campaign runs. It returns how many it took.
func (s *Store) RecoverOptOuts(ctx context.Context) (int, error) {
	rows, err := s.db.Query(ctx, `
		INSERT INTO optout_requests (phone, method, source, attempt_id)
		SELECT DISTINCT ON (a.phone) a.phone, $3, format('pressed %s during attempt %s; taken when heed started', $1::text, a.id), a.id
		  FROM attempts a
		 WHERE strpos(a.dtmf, $1) > 0 AND a.outcome <> $2
		   AND NOT EXISTS (SELECT 1 FROM optout_requests r WHERE r.phone = a.phone AND (r.attempt_id = a.id OR r.taken_at >= a.created_at))
		   AND NOT EXISTS (SELECT 1 FROM dnc_internal d WHERE d.phone = a.phone AND d.added_at >= a.created_at)
		 ORDER BY a.phone, a.id
		ON CONFLICT (attempt_id) DO NOTHING
		RETURNING id`, dialer.OptOutKey, string(dialer.OutcomeOptedOut), string(consent.RevokedByIVR))
	if err != nil {
		return 0, fmt.Errorf("recover opt-outs: %w", err)
	}
	taken, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return 0, fmt.Errorf("recover opt-outs: %w", err)
	}
	return len(taken), nil
}

package campaign

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/heed-dialer/heed/consent"
	"github.com/heed-dialer/heed/dialer"
	"github.com/heed-dialer/heed/internal/phone"
)

// Store is the pacing loop's storage, over PostgreSQL.
type Store struct {
	db *pgxpool.Pool
}

// NewStore returns a Store on db.
func NewStore(db *pgxpool.Pool) *Store { return &Store{db: db} }

var _ dialer.Store = (*Store)(nil)

// Campaign loads what the pacing loop needs of a campaign.
func (s *Store) Campaign(ctx context.Context, id int64) (dialer.Campaign, error) {
	var c dialer.Campaign
	var status string
	err := s.db.QueryRow(ctx, `SELECT id, status, generation, purpose, caller_id, message_text, message_audio, max_concurrent, ring_seconds FROM campaigns WHERE id = $1`, id).
		Scan(&c.ID, &status, &c.Generation, &c.Purpose, &c.CallerID, &c.Message, &c.Audio, &c.MaxConcurrent, &c.RingSeconds)
	if errors.Is(err, pgx.ErrNoRows) {
		return c, fmt.Errorf("campaign %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return c, fmt.Errorf("campaign %d: %w", id, err)
	}
	c.Running = status == string(StatusRunning)
	return c, nil
}

// Due returns pending targets whose next attempt is due, oldest first.
func (s *Store) Due(ctx context.Context, campaignID int64, limit int, now time.Time) ([]dialer.Target, error) {
	rows, err := s.db.Query(ctx, `
		SELECT t.contact_id, t.attempts + 1, c.phone, c.state, c.zip
		  FROM campaign_targets t JOIN contacts c ON c.id = t.contact_id
		 WHERE t.campaign_id = $1 AND t.state = 'pending' AND t.next_attempt_at <= $2
		 ORDER BY t.next_attempt_at, t.contact_id
		 LIMIT $3`, campaignID, now, limit)
	if err != nil {
		return nil, fmt.Errorf("due targets: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (dialer.Target, error) {
		t := dialer.Target{CampaignID: campaignID}
		var p string
		err := r.Scan(&t.ContactID, &t.AttemptNo, &p, &t.State, &t.ZIP)
		t.Phone = phone.Number(p)
		return t, err
	})
	if err != nil {
		return nil, fmt.Errorf("due targets: %w", err)
	}
	return out, nil
}

// Decide records the attempt with its decision and moves the target on, in
// one transaction, before any call is placed.
func (s *Store) Decide(ctx context.Context, t dialer.Target, req dialer.Request, d consent.Decision) (int64, error) {
	input, err := json.Marshal(req)
	if err != nil {
		return 0, fmt.Errorf("decision input: %w", err)
	}
	reasons := make([]string, len(d.Reasons))
	for i, r := range d.Reasons {
		reasons[i] = string(r)
	}
	status, outcome, targetState := "originating", "", "dialing"
	var until *time.Time
	switch d.Verdict {
	case consent.Allow:
	case consent.Defer:
		status, outcome, targetState = "deferred", "deferred", "pending"
		until = &d.Until
	default:
		status, outcome, targetState = "blocked", "blocked", "done"
	}
	var consentID *int64
	if d.ConsentID != 0 {
		consentID = &d.ConsentID
	}
	var id int64
	err = pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		var callerID string
		if err := tx.QueryRow(ctx, `SELECT caller_id FROM campaigns WHERE id = $1`, t.CampaignID).Scan(&callerID); err != nil {
			return fmt.Errorf("caller id: %w", err)
		}
		err := tx.QueryRow(ctx, `
			INSERT INTO attempts (campaign_id, contact_id, attempt_no, phone, caller_id, decision, decided_until, reasons, pack,
			                      consent_id, decision_input, status, outcome, ended_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, CASE WHEN $12 = 'originating' THEN NULL ELSE now() END)
			RETURNING id`,
			t.CampaignID, t.ContactID, t.AttemptNo, t.Phone.String(), callerID, string(d.Verdict), until, reasons, d.Pack,
			consentID, input, status, outcome).Scan(&id)
		if err != nil {
			return fmt.Errorf("insert attempt: %w", err)
		}
		_, err = tx.Exec(ctx, `
			UPDATE campaign_targets SET attempts = $3, state = $4, next_attempt_at = coalesce($5, next_attempt_at)
			 WHERE campaign_id = $1 AND contact_id = $2`, t.CampaignID, t.ContactID, t.AttemptNo, targetState, until)
		if err != nil {
			return fmt.Errorf("update target: %w", err)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("record attempt: %w", err)
	}
	return id, nil
}

// Progress records one step of a placed call. An ended call also finishes
// its target.
func (s *Store) Progress(ctx context.Context, attemptID int64, ev dialer.CallEvent) error {
	var err error
	switch ev.Kind {
	case dialer.EventOriginated:
		_, err = s.db.Exec(ctx, `UPDATE attempts SET status = 'ringing', originated_at = $2, channel_id = $3, asterisk = $4
			WHERE id = $1 AND status = 'originating'`, attemptID, ev.At, ev.ChannelID, ev.Asterisk)
	case dialer.EventAnswered:
		_, err = s.db.Exec(ctx, `UPDATE attempts SET status = 'answered', answered_at = $2, channel_id = $3, asterisk = $4,
			originated_at = coalesce(originated_at, $2) WHERE id = $1 AND status IN ('originating', 'ringing')`,
			attemptID, ev.At, ev.ChannelID, ev.Asterisk)
	case dialer.EventEnded:
		err = pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
			var campaignID, contactID int64
			err := tx.QueryRow(ctx, `
				UPDATE attempts SET status = 'ended', outcome = $2, hangup_cause = $3, dtmf = $4, ended_at = $5,
				       channel_id = $6, asterisk = $7
				 WHERE id = $1 AND status <> 'ended' RETURNING campaign_id, contact_id`,
				attemptID, string(ev.Outcome), ev.Cause, ev.DTMF, ev.At, ev.ChannelID, ev.Asterisk).Scan(&campaignID, &contactID)
			if errors.Is(err, pgx.ErrNoRows) {
				return nil
			}
			if err != nil {
				return err
			}
			return s.finishTarget(ctx, tx, campaignID, contactID, ev.Outcome, ev.At)
		})
	default:
		return fmt.Errorf("attempt %d: unknown call event %d", attemptID, ev.Kind)
	}
	if err != nil {
		return fmt.Errorf("attempt %d: record progress: %w", attemptID, err)
	}
	return nil
}

// finishTarget moves a target on after a call: to pending again, due after
// the campaign's retry delay, when the call did not reach the contact and
// calls are left; otherwise to done.
func (s *Store) finishTarget(ctx context.Context, tx pgx.Tx, campaignID, contactID int64, outcome dialer.Outcome, endedAt time.Time) error {
	_, err := tx.Exec(ctx, `
		UPDATE campaign_targets t
		   SET state = CASE WHEN r.delay > 0 AND r.calls < c.max_attempts THEN 'pending' ELSE 'done' END,
		       next_attempt_at = CASE WHEN r.delay > 0 THEN $4::timestamptz + make_interval(secs => r.delay) ELSE t.next_attempt_at END
		  FROM campaigns c,
		       LATERAL (SELECT CASE $3 WHEN 'busy' THEN c.retry_busy_s WHEN 'no_answer' THEN c.retry_no_answer_s
		                               WHEN 'failed' THEN c.retry_failed_s ELSE 0 END AS delay,
		                       (SELECT count(*) FROM attempts a WHERE a.campaign_id = $1 AND a.contact_id = $2 AND a.decision = 'allow') AS calls) r
		 WHERE c.id = $1 AND t.campaign_id = $1 AND t.contact_id = $2`, campaignID, contactID, string(outcome), endedAt)
	if err != nil {
		return fmt.Errorf("finish target: %w", err)
	}
	return nil
}

// OriginateFailed records that Asterisk refused to place the call.
func (s *Store) OriginateFailed(ctx context.Context, attemptID int64, at time.Time, _ error) error {
	return s.Progress(ctx, attemptID, dialer.CallEvent{Kind: dialer.EventEnded, At: at, Outcome: dialer.OutcomeFailed})
}

// Settle completes the campaign when no target is left, or says when the
// next one falls due.
func (s *Store) Settle(ctx context.Context, campaignID int64) (bool, time.Time, error) {
	var pending, dialing int
	var next *time.Time
	err := s.db.QueryRow(ctx, `
		SELECT count(*) FILTER (WHERE state = 'pending'), count(*) FILTER (WHERE state = 'dialing'),
		       min(next_attempt_at) FILTER (WHERE state = 'pending')
		  FROM campaign_targets WHERE campaign_id = $1`, campaignID).Scan(&pending, &dialing, &next)
	if err != nil {
		return false, time.Time{}, fmt.Errorf("settle: %w", err)
	}
	if pending == 0 && dialing == 0 {
		_, err := s.db.Exec(ctx, `UPDATE campaigns SET status = 'completed', completed_at = now(), updated_at = now() WHERE id = $1 AND status = 'running'`, campaignID)
		if err != nil {
			return false, time.Time{}, fmt.Errorf("complete: %w", err)
		}
		return true, time.Time{}, nil
	}
	if next == nil || dialing > 0 {
		t := time.Now().Add(time.Second)
		next = &t
	}
	return false, *next, nil
}

// Recover closes the attempts that a stopped process left in flight. The
// campaign's run lease guarantees no other process follows them. Their
// targets are finished, never redialed, so that a crash cannot cause a
// second call for the same attempt; the outcome is recorded as unknown.
func (s *Store) Recover(ctx context.Context, campaignID int64) (int, error) {
	var n int
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `
			UPDATE attempts SET status = 'ended', outcome = 'unknown', ended_at = now()
			 WHERE campaign_id = $1 AND status IN ('originating', 'ringing', 'answered') RETURNING contact_id`, campaignID)
		if err != nil {
			return err
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return err
		}
		n = len(ids)
		_, err = tx.Exec(ctx, `UPDATE campaign_targets SET state = 'done' WHERE campaign_id = $1 AND (state = 'dialing' OR contact_id = ANY($2))`, campaignID, ids)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("recover campaign %d: %w", campaignID, err)
	}
	return n, nil
}

// Installation returns this installation's id, making it on first use.
func (s *Store) Installation(ctx context.Context) (string, error) {
	_, err := s.db.Exec(ctx, `INSERT INTO installation (id) VALUES (substr(md5(random()::text || clock_timestamp()::text), 1, 10)) ON CONFLICT DO NOTHING`)
	if err != nil {
		return "", fmt.Errorf("installation id: %w", err)
	}
	var id string
	if err := s.db.QueryRow(ctx, `SELECT id FROM installation`).Scan(&id); err != nil {
		return "", fmt.Errorf("installation id: %w", err)
	}
	return id, nil
}

// History returns the calls placed to each number since the given time,
// across all campaigns. An answered call counts as a conversation, the
// cautious reading for the Reg F quiet period.
func (s *Store) History(ctx context.Context, phones []phone.Number, since time.Time) (map[phone.Number][]consent.Attempt, error) {
	list := make([]string, len(phones))
	for i, p := range phones {
		list[i] = p.String()
	}
	rows, err := s.db.Query(ctx, `
		SELECT a.phone, coalesce(a.originated_at, a.created_at), c.purpose, a.outcome = 'answered'
		  FROM attempts a JOIN campaigns c ON c.id = a.campaign_id
		 WHERE a.phone = ANY($1) AND a.decision = 'allow' AND coalesce(a.originated_at, a.created_at) >= $2`, list, since)
	if err != nil {
		return nil, fmt.Errorf("attempt history: %w", err)
	}
	defer rows.Close()
	out := map[phone.Number][]consent.Attempt{}
	for rows.Next() {
		var (
			p       string
			a       consent.Attempt
			purpose string
		)
		if err := rows.Scan(&p, &a.At, &purpose, &a.Conversation); err != nil {
			return nil, fmt.Errorf("attempt history: %w", err)
		}
		a.Purpose = consent.Purpose(purpose)
		a.Method = consent.MethodPrerecorded
		out[phone.Number(p)] = append(out[phone.Number(p)], a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("attempt history: %w", err)
	}
	return out, nil
}

// RecordOptOut records a key-press opt-out at once, in one transaction: a
// revocation of every consent for the number and an internal do-not-call
// entry (unless one is already there). Both name the attempt.
func (s *Store) RecordOptOut(ctx context.Context, attemptID int64, p phone.Number) error {
	source := fmt.Sprintf("pressed %s during attempt %d", dialer.OptOutKey, attemptID)
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO revocations (phone, revoked_at, method, source) VALUES ($1, now(), 'ivr', $2)`, p.String(), source); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO dnc_internal (phone, method, source)
			SELECT $1, 'ivr', $2 WHERE NOT EXISTS (SELECT 1 FROM dnc_internal WHERE phone = $1 AND removed_at IS NULL)`, p.String(), source)
		return err
	})
	if err != nil {
		return fmt.Errorf("record opt-out of attempt %d: %w", attemptID, err)
	}
	return nil
}

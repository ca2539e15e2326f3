package campaign

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/heed-dialer/heed/consent"
	"github.com/heed-dialer/heed/dialer"
	"github.com/heed-dialer/heed/internal/phone"
)

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
		err = pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error { return s.ended(ctx, tx, attemptID, ev) })
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
		                               WHEN 'failed' THEN c.retry_failed_s
		                               WHEN 'machine' THEN c.retry_machine_s ELSE 0 END AS delay,
		                       (SELECT count(*) FROM attempts a WHERE a.campaign_id = $1 AND a.contact_id = $2 AND a.decision = 'allow'
		                          AND a.outcome <> 'called_off') AS calls) r
		 WHERE c.id = $1 AND t.campaign_id = $1 AND t.contact_id = $2`, campaignID, contactID, string(outcome), endedAt)
	if err != nil {
		return fmt.Errorf("finish target: %w", err)
	}
	return nil
}

// lastLookRecord is an attempt's last_look: the gate's decision asked
// again right before the call was placed (dialer.LastLook), with the
// change log's last position committed when it was recorded, which Look's
// statement adds.
type lastLookRecord struct {
	At       time.Time        `json:"at"`
	Decision consent.Decision `json:"decision"`
	IndexSeq int64            `json:"index_seq,omitempty"`
	IndexTop int64            `json:"index_top,omitempty"`
	// CampaignRunning says whether the campaign was still running at the
	// look, which Look's statement adds: a call of a campaign paused or
	// cancelled while it waited for its line is called off.
	CampaignRunning *bool `json:"campaign_running,omitempty"`
}

// Look records the last look at an attempt's call, right before it is
// placed: when, by the database's clock (looked_at), and the look itself
// (last_look, with whether the campaign was still running), and reports
// whether the call may be placed: the look allowed it and its campaign is
// still running. When it may not, the attempt ends as called off, and its
// target moves on as the look decided: due again at a deferral's until;
// due again at once when the gate failed closed on stale indexes
// (index.stale, a state of heed rather than of the number); done when
// denied; due again, for when the campaign runs again, when it was paused
// or cancelled meanwhile. All in one statement. An attempt no longer
// about to be placed (status originating) gets no look: the error wraps
// dialer.ErrNotDue. A look that allowed the call is recorded only when, as
// the statement began, no opt-out of the number was taken but not yet
// recorded (the gate refuses a number with one it knows of), and, for an
// exact look (l.Exact), the change log held nothing beyond l.IndexSeq;
// otherwise nothing is recorded and the error wraps
// dialer.ErrIndexBehind.
func (s *Store) Look(ctx context.Context, attemptID int64, l dialer.LastLook) (bool, error) {
	rec, err := json.Marshal(lastLookRecord{At: l.At, Decision: l.Decision, IndexSeq: l.IndexSeq})
	if err != nil {
		return false, fmt.Errorf("attempt %d: last look: %w", attemptID, err)
	}
	allowed := l.Decision.Allowed()
	state, next := "done", (*time.Time)(nil)
	switch {
	case l.Decision.Verdict == consent.Defer:
		state, next = "pending", &l.Decision.Until
	case l.Decision.FailedClosed():
		state = "pending"
	}
	var placed *bool
	err = s.db.QueryRow(ctx, `
		WITH k AS (
			SELECT x.id, EXISTS (SELECT 1 FROM campaigns c WHERE c.id = x.campaign_id AND c.status = 'running') AS running,
			       (SELECT coalesce(max(seq), 0) FROM index_changes) AS top,
			       EXISTS (SELECT 1 FROM optout_requests o WHERE o.phone = x.phone AND o.recorded_at IS NULL) AS pending
			  FROM attempts x WHERE x.id = $1 AND x.status = 'originating'),
		a AS (
			UPDATE attempts x SET looked_at = clock_timestamp(),
			       last_look = jsonb_set(jsonb_set($2::jsonb, '{index_top}', to_jsonb(k.top)), '{campaign_running}', to_jsonb(k.running)),
			       status = CASE WHEN $3 AND k.running THEN x.status ELSE 'ended' END,
			       outcome = CASE WHEN $3 AND k.running THEN x.outcome ELSE '`+string(dialer.OutcomeCalledOff)+`' END,
			       ended_at = CASE WHEN $3 AND k.running THEN x.ended_at ELSE clock_timestamp() END
			  FROM k WHERE x.id = k.id AND x.status = 'originating' AND (NOT $3 OR NOT k.pending) AND (NOT $6 OR NOT $3 OR k.top <= $7)
			RETURNING x.campaign_id, x.contact_id, $3 AND k.running AS placed, k.running),
		t AS (
			UPDATE campaign_targets t SET state = CASE WHEN a.running THEN $4 ELSE 'pending' END,
			       next_attempt_at = CASE WHEN a.running THEN coalesce($5, t.next_attempt_at) ELSE t.next_attempt_at END
			  FROM a WHERE NOT a.placed AND t.campaign_id = a.campaign_id AND t.contact_id = a.contact_id)
		SELECT a.placed FROM k LEFT JOIN a ON true`, attemptID, rec, allowed, state, next, l.Exact, l.IndexSeq).Scan(&placed)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, fmt.Errorf("attempt %d: last look: %w", attemptID, dialer.ErrNotDue)
	}
	if err != nil {
		return false, fmt.Errorf("attempt %d: last look: %w", attemptID, err)
	}
	if placed == nil {
		return false, fmt.Errorf("attempt %d: last look: %w", attemptID, dialer.ErrIndexBehind)
	}
	return *placed, nil
}

// ended records in tx that attempt id's call ended as ev says, and
// settles its target.
func (s *Store) ended(ctx context.Context, tx pgx.Tx, attemptID int64, ev dialer.CallEvent) error {
	var campaignID, contactID int64
	err := tx.QueryRow(ctx, `
		UPDATE attempts SET status = 'ended', outcome = $2, hangup_cause = $3, dtmf = $4, ended_at = $5,
		       channel_id = $6, asterisk = $7, amd = $8, recording = $9, transfer_to = $10, audio_started_ms = $11, audio_known = $12
		 WHERE id = $1 AND status <> 'ended' RETURNING campaign_id, contact_id`,
		attemptID, string(ev.Outcome), ev.Cause, ev.DTMF, ev.At, ev.ChannelID, ev.Asterisk, ev.AMD, ev.Recording, ev.TransferTo,
		audioStartedMS(ev), ev.AudioKnown).Scan(&campaignID, &contactID)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	if err != nil {
		return err
	}
	return s.finishTarget(ctx, tx, campaignID, contactID, ev.Outcome, ev.At)
}

// audioStartedMS is ev's AudioStart in whole milliseconds, or nil when
// the call's audio never began.
func audioStartedMS(ev dialer.CallEvent) *int64 {
	if !ev.AudioStarted {
		return nil
	}
	ms := ev.AudioStart.Milliseconds()
	return &ms
}

// OriginateFailed records that Asterisk refused to place the call.
func (s *Store) OriginateFailed(ctx context.Context, attemptID int64, at time.Time, _ error) error {
	return s.Progress(ctx, attemptID, dialer.CallEvent{Kind: dialer.EventEnded, At: at, Outcome: dialer.OutcomeFailed})
}

// NotPlaced records that attempt id's call, about to be placed (status
// originating), was never placed, at the given time, for reason: the
// attempt ends as called off with not_placed = reason, and its target is
// due again as it was before the attempt (pending, next_attempt_at
// unchanged). A call never placed is no call: the attempt counts toward no
// cap and no maximum of attempts. An attempt no longer about to be placed
// is left as it is.
func (s *Store) NotPlaced(ctx context.Context, attemptID int64, at time.Time, reason string) error {
	return s.notPlaced(ctx, attemptID, at, reason, nil)
}

// notPlaced is NotPlaced, with the target due again not before retry
// when retry is not nil.
func (s *Store) notPlaced(ctx context.Context, attemptID int64, at time.Time, reason string, retry *time.Time) error {
	_, err := s.db.Exec(ctx, `
		WITH a AS (
			UPDATE attempts SET status = 'ended', outcome = '`+string(dialer.OutcomeCalledOff)+`', ended_at = $2, not_placed = $3
			 WHERE id = $1 AND status = 'originating' RETURNING campaign_id, contact_id)
		UPDATE campaign_targets t SET state = 'pending', next_attempt_at = greatest(t.next_attempt_at, $4)
		  FROM a
		 WHERE t.campaign_id = a.campaign_id AND t.contact_id = a.contact_id AND t.state = 'dialing'`, attemptID, at, reason, retry) // greatest() passes over NULL
	if err != nil {
		return fmt.Errorf("attempt %d: record a call not placed: %w", attemptID, err)
	}
	return nil
}

// Unspoken records that attempt id's call was not placed because its
// message could not be spoken, as dialer.Store.Unspoken says: not placed
// (NotPlaced, reason dialer.NotSpoken, due again after
// dialer.UnspokenWait) the first dialer.UnspokenTries times for its
// contact in its campaign, then failed, counted toward the campaign's
// retries and maximum of attempts, and still marked not placed
// (not_placed), so that no cap or quiet period anywhere counts it as a
// call, and the calls report checks it as none.
func (s *Store) Unspoken(ctx context.Context, attemptID int64, at time.Time) (bool, error) {
	var before int
	err := s.db.QueryRow(ctx, `
		SELECT count(*) FROM attempts a JOIN attempts p ON p.campaign_id = a.campaign_id AND p.contact_id = a.contact_id
		 WHERE a.id = $1 AND p.id <> a.id AND p.outcome = '`+string(dialer.OutcomeCalledOff)+`' AND p.not_placed = $2`,
		attemptID, dialer.NotSpoken).Scan(&before)
	if err != nil {
		return false, fmt.Errorf("attempt %d: earlier calls not spoken: %w", attemptID, err)
	}
	if before >= dialer.UnspokenTries {
		err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `UPDATE attempts SET not_placed = $2 WHERE id = $1 AND status = 'originating'`,
				attemptID, dialer.NotSpoken); err != nil {
				return err
			}
			return s.ended(ctx, tx, attemptID, dialer.CallEvent{Kind: dialer.EventEnded, At: at, Outcome: dialer.OutcomeFailed})
		})
		if err != nil {
			return false, fmt.Errorf("attempt %d: record a call not spoken as failed: %w", attemptID, err)
		}
		return true, nil
	}
	retry := at.Add(dialer.UnspokenWait)
	return false, s.notPlaced(ctx, attemptID, at, dialer.NotSpoken, &retry)
}

// personNumbers returns the query of each number of each person
// reference in the text[] parameter refs: the numbers whose calls count for
// the person (historyQuery), which LockSubjects locks.
func personNumbers(refs string) string {
	return `
		SELECT DISTINCT person_ref, phone FROM contacts
		 WHERE person_ref = ANY(` + refs + `) AND person_ref <> ''`
}

// historyQuery reads, in one statement (one snapshot), two kinds of rows:
// each number of each person reference in $4 (person_ref set, no attempt),
// and each call placed since $2 to a number in $1 or to a number of those
// persons (person_ref NULL): an attempt allowed, not called off, and not
// marked never placed (not_placed). An attempt is one row whichever way its number
// was reached, so it is counted once.
var historyQuery = `
	WITH person_numbers AS (` + personNumbers("$4") + `)
	SELECT person_ref, phone, NULL::timestamptz, NULL::text, NULL::boolean, NULL::boolean, NULL::timestamptz, NULL::boolean FROM person_numbers
	UNION ALL
	SELECT NULL, a.phone, ` + callPlacedSQL("a") + `, c.purpose, ` + conversationSQL("a", "$3") + `,
	       a.status IN ('originating', 'ringing', 'answered'), ` + callEndedSQL("a") + `, a.answered_at IS NOT NULL
	  FROM attempts a JOIN campaigns c ON c.id = a.campaign_id
	 WHERE a.phone = ANY($1::text[] || ARRAY(SELECT phone FROM person_numbers))
	   AND a.decision = 'allow' AND a.outcome <> 'called_off' AND a.not_placed = '' AND ` + callPlacedSQL("a") + ` >= $2`

// callPlacedSQL is when the call of attempt alias a was placed: when it
// was originated, or, for a call not placed yet (or never placed), the
// last moment before placing heed recorded (its last look, else its
// decision).
func callPlacedSQL(a string) string {
	return `coalesce(` + a + `.originated_at, greatest(` + a + `.created_at, ` + a + `.looked_at))`
}

// callEndedSQL is when the call of attempt alias a ended: ended_at, but
// for a call recovery closed with its outcome unknown and found gone
// (ended_at is when recovery ran), no later than consent.OpenCallLimit
// after it was placed, by which time Asterisk had hung it up (the
// channel's absolute timeout). A call recovery found still up and hung up
// itself ended then.
func callEndedSQL(a string) string {
	return `CASE WHEN ` + a + `.outcome = 'unknown' AND ` + a + `.reconcile <> 'hung_up' THEN least(` + a + `.ended_at, ` + callPlacedSQL(a) +
		` + ` + strconv.Itoa(int(consent.OpenCallLimit/time.Second)) + ` * interval '1 second') ELSE ` + a + `.ended_at END`
}

// conversationSQL says whether the call of attempt alias a was a
// conversation: it ended with an outcome in the text[] parameter reached
// (reachedOutcomes), or it was answered and closed by recovery with its
// outcome unknown (a person may have spoken).
func conversationSQL(a, reached string) string {
	return `(` + a + `.outcome = ANY(` + reached + `) OR ` + a + `.outcome = 'unknown' AND ` + a + `.answered_at IS NOT NULL)`
}

// History returns, for each subject, the calls placed since the given time
// across all campaigns: to its number, and, when it names a person, to
// every number of every contact with that person reference (any list). A
// person's calls are counted across all of their debts and matters, which
// is stricter than Reg F's per person per debt. An answered call counts as
// a conversation, the cautious reading for the Reg F quiet period. A call
// not yet ended (being placed, ringing, or answered and still going on:
// another campaign's, say) is open (consent.Attempt.Open): whether it is a
// conversation is not known yet, and a rule with a quiet period waits for
// it; one answered whose end is never recorded counts, after
// consent.OpenCallLimit, as a conversation that ended at that limit, as
// one answered that recovery closed with its outcome unknown does
// (callEndedSQL). A conversation's quiet period runs from its end
// (callEndedSQL). A call not placed yet counts from its last look.
// out[i] is subjects[i]'s history.
func (s *Store) History(ctx context.Context, subjects []dialer.Subject, since time.Time) ([]dialer.History, error) {
	phones := make([]string, len(subjects))
	refs := []string{}
	seen := map[string]bool{}
	for i, sub := range subjects {
		phones[i] = sub.Phone.String()
		if sub.Person != "" && !seen[sub.Person] {
			seen[sub.Person] = true
			refs = append(refs, sub.Person)
		}
	}
	rows, err := s.db.Query(ctx, historyQuery, phones, since, reachedOutcomes, refs)
	if err != nil {
		return nil, fmt.Errorf("attempt history: %w", err)
	}
	defer rows.Close()
	calls := map[phone.Number][]consent.Attempt{}
	numbers := map[string][]phone.Number{}
	for rows.Next() {
		var (
			ref, purpose *string
			p            string
			at           *time.Time
			conversation *bool
			open         *bool
			ended        *time.Time
			answered     *bool
		)
		if err := rows.Scan(&ref, &p, &at, &purpose, &conversation, &open, &ended, &answered); err != nil {
			return nil, fmt.Errorf("attempt history: %w", err)
		}
		if ref != nil {
			numbers[*ref] = append(numbers[*ref], phone.Number(p))
			continue
		}
		if at == nil || purpose == nil || conversation == nil || open == nil || answered == nil {
			return nil, fmt.Errorf("attempt history: an attempt to %s without time, purpose or outcome", p)
		}
		a := consent.Attempt{At: *at, Purpose: consent.Purpose(*purpose), Method: consent.MethodPrerecorded, Conversation: *conversation, Open: *open, Answered: *answered}
		if ended != nil {
			a.Ended = *ended
		}
		calls[phone.Number(p)] = append(calls[phone.Number(p)], a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("attempt history: %w", err)
	}
	for _, ns := range numbers {
		slices.Sort(ns)
	}
	out := make([]dialer.History, len(subjects))
	for i, sub := range subjects {
		out[i] = subjectHistory(sub, numbers, calls)
	}
	return out, nil
}

// subjectHistory gathers one subject's history from the calls to each
// number and the numbers of each person: its number first, then its
// person's other numbers. Each number is taken once, so each call is.
func subjectHistory(sub dialer.Subject, numbers map[string][]phone.Number, calls map[phone.Number][]consent.Attempt) dialer.History {
	h := dialer.History{Numbers: []phone.Number{sub.Phone}}
	if sub.Person != "" {
		for _, n := range numbers[sub.Person] {
			if n != sub.Phone {
				h.Numbers = append(h.Numbers, n)
			}
		}
	}
	if len(h.Numbers) == 1 {
		// Shared with other subjects of the number: the engine only reads it.
		h.Attempts = calls[sub.Phone]
		return h
	}
	for _, n := range h.Numbers {
		h.Attempts = append(h.Attempts, calls[n]...)
	}
	return h
}

// reachedOutcomes are the outcomes of calls on which a person was on the
// line: conversations, for the Reg F quiet period.
var reachedOutcomes = func() []string {
	var out []string
	for _, o := range []dialer.Outcome{dialer.OutcomeConfirmed, dialer.OutcomeNoResponse, dialer.OutcomeTransferred,
		dialer.OutcomeAbandoned, dialer.OutcomeOptedOut, dialer.OutcomeAnswered, dialer.OutcomeMachine} {
		if o.Reached() {
			out = append(out, string(o))
		}
	}
	return out
}()

// ErrNoRecording reports an attempt that has no stored recording.
var ErrNoRecording = errors.New("this call has no recording")

// Recording returns the name of an attempt's stored recording. The attempt
// must belong to the campaign.
func (s *Service) Recording(ctx context.Context, campaignID, attemptID int64) (string, error) {
	var name string
	err := s.db.QueryRow(ctx, `SELECT recording FROM attempts WHERE id = $1 AND campaign_id = $2`, attemptID, campaignID).Scan(&name)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", fmt.Errorf("attempt %d of campaign %d: %w", attemptID, campaignID, ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("attempt %d: recording: %w", attemptID, err)
	}
	if name == "" {
		return "", fmt.Errorf("attempt %d: %w", attemptID, ErrNoRecording)
	}
	return name, nil
}

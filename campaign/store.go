package campaign

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
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
	// now is Settle's clock.
	now func() time.Time
	// Limits returns the dialing limits in force (the law packs with the
	// firm's settings); nil means heed's defaults.
	Limits func() consent.DialingLimits

	// The pacing loop loads its campaign before every batch; the abandonment
	// counts (a scan of the campaign's attempts) are reused for abandonTTL.
	mu         sync.Mutex
	abandon    map[int64]abandonCounts
	abandonTTL time.Duration

	// lockSlots bounds the connections LockSubjects holds at once.
	lockSlots chan struct{}
}

// abandonCounts are a campaign's abandoned and answered calls over the
// abandonment window, as counted at a moment.
type abandonCounts struct {
	abandoned, reached int
	at                 time.Time
}

// NewStore returns a Store on db.
func NewStore(db *pgxpool.Pool) *Store {
	slots := 1
	if db != nil {
		slots = max(1, int(db.Config().MaxConns)/2)
	}
	return &Store{db: db, now: time.Now, abandon: map[int64]abandonCounts{}, abandonTTL: 10 * time.Second,
		lockSlots: make(chan struct{}, slots)}
}

var _ dialer.Store = (*Store)(nil)

// Campaign loads what the pacing loop needs of a campaign, with its call
// settings. A campaign stored without a callback number gives its caller ID.
func (s *Store) Campaign(ctx context.Context, id int64) (dialer.Campaign, error) {
	var c dialer.Campaign
	var status string
	err := s.db.QueryRow(ctx, `
		SELECT id, status, generation, purpose, caller_id, message_text, message_audio, max_concurrent, ring_seconds,
		       coalesce(NULLIF(callback, ''), caller_id), calls_per_second, amd, transfer_to, record, injury_matter
		  FROM campaigns WHERE id = $1`, id).
		Scan(&c.ID, &status, &c.Generation, &c.Purpose, &c.CallerID, &c.Message, &c.Audio, &c.MaxConcurrent, &c.RingSeconds,
			&c.Callback, &c.CallsPerSecond, &c.AMD, &c.TransferTo, &c.Record, &c.InjuryMatter)
	if errors.Is(err, pgx.ErrNoRows) {
		return c, fmt.Errorf("campaign %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return c, fmt.Errorf("campaign %d: %w", id, err)
	}
	c.Running = status == string(StatusRunning)
	target, window := AbandonTarget, AbandonWindow
	if s.Limits != nil {
		l := s.Limits()
		if l.MaxAbandonRate > 0 {
			target = l.MaxAbandonRate
		}
		if l.AbandonPeriod > window {
			window = l.AbandonPeriod
		}
		// The firm's least ring time holds for campaigns made before it.
		if ring := int(l.MinRing / time.Second); c.RingSeconds < ring {
			c.RingSeconds = ring
		}
	}
	if c.TransferTo != "" {
		n, err := s.abandonCounts(ctx, id, window)
		if err != nil {
			return c, err
		}
		if n.abandoned > 0 && float64(n.abandoned) >= target*float64(n.reached) {
			// Offering the office again could only raise the rate: key 2
			// is withdrawn until answered calls bring it under the target.
			c.TransferTo = ""
		}
	}
	return c, nil
}

// abandonCounts returns a campaign's abandoned and answered calls over the
// window, counting again when the last count is older than abandonTTL. An
// abandoned call that ended with an opt-out is opted_out with the office
// it waited for as its transfer target (the pacer keeps it only then), and
// is counted abandoned too. So is an answered call without detection whose
// audio began more than lateAudio after the answer, or that lasted longer
// than that with no audio at all (audio_known: its first playback failed,
// or the callee hung up on the silence): F10 counts a call abandoned when
// nothing joins within 2 s of the greeting, and heed, which cannot hear
// where a greeting ends without detection, counts from the answer, which
// comes first.
func (s *Store) abandonCounts(ctx context.Context, id int64, window time.Duration) (abandonCounts, error) {
	now := time.Now()
	s.mu.Lock()
	n, ok := s.abandon[id]
	s.mu.Unlock()
	if ok && now.Sub(n.at) < s.abandonTTL {
		return n, nil
	}
	err := s.db.QueryRow(ctx, `
		SELECT count(*) FILTER (WHERE outcome = 'abandoned' OR outcome = 'opted_out' AND transfer_to <> ''
		                           OR outcome = ANY($3) AND amd = '' AND (audio_started_ms > $4
		                              OR audio_known AND audio_started_ms IS NULL AND ended_at - answered_at > make_interval(secs => $4 / 1000.0))),
		       count(*) FILTER (WHERE outcome = ANY($3))
		  FROM attempts WHERE campaign_id = $1 AND ended_at >= $2`, id, s.now().Add(-window), reachedOutcomes, lateAudio.Milliseconds()).
		Scan(&n.abandoned, &n.reached)
	if err != nil {
		return n, fmt.Errorf("campaign %d: abandonment rate: %w", id, err)
	}
	n.at = now
	s.mu.Lock()
	s.abandon[id] = n
	s.mu.Unlock()
	return n, nil
}

// F10 bounds abandoned calls to 3% of live-answered calls per campaign per
// 30 days; heed's own target is 1.5%, and a firm may set a lower one. A
// campaign stops offering key 2 (the office) once its abandoned calls reach
// the target (AbandonTarget unless Store.Limits says otherwise) of its
// answered calls over AbandonWindow.
const (
	AbandonTarget = 0.015
	AbandonWindow = 30 * 24 * time.Hour
)

// lateAudio is how long after the answer heed's audio may begin on a call
// without detection before F10 counts it abandoned (abandonCounts).
const lateAudio = 2 * time.Second

// scheduleOf loads a campaign's schedule and message template.
func (s *Store) scheduleOf(ctx context.Context, campaignID int64) (plan, string, error) {
	var (
		tz, msg          string
		start, end       *time.Time
		winStart, winEnd int
		days             int
	)
	err := s.db.QueryRow(ctx, `SELECT time_zone, starts_at, ends_at, window_start_min, window_end_min, window_days, message_text
		FROM campaigns WHERE id = $1`, campaignID).Scan(&tz, &start, &end, &winStart, &winEnd, &days, &msg)
	if errors.Is(err, pgx.ErrNoRows) {
		return plan{}, "", fmt.Errorf("campaign %d: %w", campaignID, ErrNotFound)
	}
	if err != nil {
		return plan{}, "", fmt.Errorf("campaign %d schedule: %w", campaignID, err)
	}
	p, err := storedPlan(tz, start, end, winStart, winEnd, days)
	if err != nil {
		return plan{}, "", fmt.Errorf("campaign %d: %w", campaignID, err)
	}
	return p, msg, nil
}

// Due returns pending targets whose next attempt is due, oldest first, and
// none while the campaign's schedule is closed. Each target carries its
// message rendered for its contact, unless the message has no placeholders
// (then Target.Message is empty: every contact hears the campaign's own).
// A message stored before templates, with braces that are not
// placeholders, is carried as it is by every target.
func (s *Store) Due(ctx context.Context, campaignID int64, limit int, now time.Time) ([]dialer.Target, error) {
	p, msg, err := s.scheduleOf(ctx, campaignID)
	if err != nil {
		return nil, fmt.Errorf("due targets: %w", err)
	}
	if !p.open(now) {
		return []dialer.Target{}, nil
	}
	// A message stored before templates existed may hold braces that are
	// not placeholders: it is then said as it is, each target carrying it
	// (the pacer speaks a message with braces per target).
	tmpl, err := ParseTemplate(msg)
	raw := err != nil
	if raw {
		tmpl = Template{}
	}
	rows, err := s.db.Query(ctx, `
		SELECT t.contact_id, t.attempts + 1, c.phone, c.state, c.zip, c.person_ref, c.name, c.appointment_at, c.place, c.matter, c.accident_date, c.line_type
		  FROM campaign_targets t JOIN contacts c ON c.id = t.contact_id
		 WHERE t.campaign_id = $1 AND t.state = 'pending' AND t.next_attempt_at <= $2
		 ORDER BY t.next_attempt_at, t.contact_id
		 LIMIT $3`, campaignID, now, limit)
	if err != nil {
		return nil, fmt.Errorf("due targets: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (dialer.Target, error) {
		t := dialer.Target{CampaignID: campaignID}
		var (
			ph       string
			f        Fields
			accident *time.Time
		)
		if err := r.Scan(&t.ContactID, &t.AttemptNo, &ph, &t.State, &t.ZIP, &t.Person, &f.Name, &f.AppointmentAt, &f.Place, &f.Matter, &accident, &t.Line); err != nil {
			return t, err
		}
		if accident != nil {
			t.AccidentAt = consent.AccidentInstant(*accident)
		}
		t.Phone = phone.Number(ph)
		if raw {
			t.Message = msg
		} else if !tmpl.Static() {
			m, err := tmpl.Render(f, p.loc)
			if err != nil {
				return t, fmt.Errorf("message for contact %d: %w", t.ContactID, err)
			}
			t.Message = m
		}
		return t, nil
	})
	if err != nil {
		return nil, fmt.Errorf("due targets: %w", err)
	}
	return out, nil
}

// decisionInput is what an attempt row's decision_input keeps: the request
// the gate decided, and whose calls its history counted.
type decisionInput struct {
	dialer.Request
	HistoryOf *historyOf `json:"history_of,omitempty"`
	// IndexSeq is Target.IndexSeq: the change-log position of what the
	// decision read.
	IndexSeq int64 `json:"index_seq,omitempty"`
	// IndexTop is the change log's last position committed when the
	// attempt was recorded, which Decide's statement adds: no record
	// after it existed when the call was placed.
	IndexTop int64 `json:"index_top,omitempty"`
	// Lists is Target.Lists: the registry list copies the decision read,
	// by list name and version.
	Lists map[string]uint64 `json:"lists,omitempty"`
}

// historyOf says whose calls a request's history holds: the calls to
// Numbers, which are the called number and, when the contact names a
// person, every number of every contact with that person reference.
type historyOf struct {
	Person  string         `json:"person_ref,omitempty"`
	Numbers []phone.Number `json:"numbers"`
}

// Decide records the attempt with its decision and moves the target on, in
// one transaction, before any call is placed. The attempt's decision_input
// keeps the request, with its history, and the target's person and the
// numbers that history counted (Target.HistoryNumbers), when set, the
// change-log position its decision read (Target.IndexSeq) and the log's
// last position committed when the attempt was recorded (index_top).
func (s *Store) Decide(ctx context.Context, t dialer.Target, req dialer.Request, d consent.Decision) (int64, error) {
	in := decisionInput{Request: req, IndexSeq: t.IndexSeq, Lists: t.Lists}
	if len(t.HistoryNumbers) > 0 {
		in.HistoryOf = &historyOf{Person: t.Person, Numbers: t.HistoryNumbers}
	}
	input, err := json.Marshal(in)
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
	// One statement, so one round trip and atomic: the target's move and
	// the attempt row (with the campaign's caller ID). The target moves
	// only while it is pending, under its row lock, and its campaign is
	// running: a target skipped or expired, or a campaign paused or
	// cancelled, after the pacer read it gets no attempt (a pause or
	// cancellation that commits after this statement lets its call go
	// ahead, as a call in progress), and a skip that comes after this
	// statement finds the target no longer pending.
	var id int64
	err = s.db.QueryRow(ctx, `
		WITH t AS (
			UPDATE campaign_targets SET attempts = $3, state = $13, next_attempt_at = coalesce($6, next_attempt_at)
			 WHERE campaign_id = $1 AND contact_id = $2 AND state = 'pending'
			   AND EXISTS (SELECT 1 FROM campaigns c WHERE c.id = $1 AND c.status = 'running')
			RETURNING 1),
		a AS (
			INSERT INTO attempts (campaign_id, contact_id, attempt_no, phone, caller_id, decision, decided_until, reasons, pack,
			                      consent_id, decision_input, status, outcome, ended_at)
			SELECT $1, $2, $3, $4, c.caller_id, $5, $6, $7, $8, $9,
			       jsonb_set($10::jsonb, '{index_top}', to_jsonb((SELECT coalesce(max(seq), 0) FROM index_changes))),
			       $11, $12, CASE WHEN $11 = 'originating' THEN NULL ELSE now() END
			  FROM campaigns c WHERE c.id = $1 AND EXISTS (SELECT 1 FROM t)
			RETURNING id)
		SELECT id FROM a`,
		t.CampaignID, t.ContactID, t.AttemptNo, t.Phone.String(), string(d.Verdict), until, reasons, d.Pack,
		consentID, input, status, outcome, targetState).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, fmt.Errorf("record attempt: campaign %d, contact %d: %w", t.CampaignID, t.ContactID, dialer.ErrNotDue)
	}
	if err != nil {
		return 0, fmt.Errorf("record attempt: %w", err)
	}
	return id, nil
}

// Settle completes the campaign when no target is left, or says when the
// next one falls due: when its retry time has come and the campaign's
// schedule is open. Once the schedule's end has passed, the targets still
// pending are marked expired, and the campaign completes as soon as no call
// is in flight. Only the run of the campaign's current generation
// completes it: a campaign started again meanwhile (AddNewContacts does
// so, in the transaction that adds its targets) is left running for the
// newer run, which calls them.
func (s *Store) Settle(ctx context.Context, campaignID, generation int64) (bool, time.Time, error) {
	now := s.now()
	p, _, err := s.scheduleOf(ctx, campaignID)
	if err != nil {
		return false, time.Time{}, fmt.Errorf("settle: %w", err)
	}
	if p.ended(now) {
		_, err := s.db.Exec(ctx, `UPDATE campaign_targets SET state = 'expired' WHERE campaign_id = $1 AND state = 'pending'`, campaignID)
		if err != nil {
			return false, time.Time{}, fmt.Errorf("settle: expire targets: %w", err)
		}
	}
	var pending, dialing int
	var next *time.Time
	err = s.db.QueryRow(ctx, `
		SELECT count(*) FILTER (WHERE state = 'pending'), count(*) FILTER (WHERE state = 'dialing'),
		       min(next_attempt_at) FILTER (WHERE state = 'pending')
		  FROM campaign_targets WHERE campaign_id = $1`, campaignID).Scan(&pending, &dialing, &next)
	if err != nil {
		return false, time.Time{}, fmt.Errorf("settle: %w", err)
	}
	if pending == 0 && dialing == 0 {
		// A transaction that adds targets bumps the generation under the
		// campaign's row lock; waiting for it, this update then finds the
		// generation changed and leaves the campaign running.
		_, err := s.db.Exec(ctx, `UPDATE campaigns SET status = 'completed', completed_at = now(), updated_by = NULL, updated_at = now()
			WHERE id = $1 AND status = 'running' AND generation = $2`, campaignID, generation)
		if err != nil {
			return false, time.Time{}, fmt.Errorf("complete: %w", err)
		}
		return true, time.Time{}, nil
	}
	if next == nil || dialing > 0 {
		return false, now.Add(time.Second), nil
	}
	due := *next
	if due.Before(now) {
		due = now
	}
	if open, ok := p.next(due); ok {
		return false, open, nil
	}
	// Nothing can be called before the end: wake up then to expire the rest.
	if p.end != nil {
		return false, *p.end, nil
	}
	return false, now.Add(time.Second), nil
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

// Package campaign owns campaigns, contact lists, attempts and their
// outcomes, and the River job that runs a campaign through the dialer.
package campaign

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"

	"github.com/heed-dialer/heed/consent"
	"github.com/heed-dialer/heed/internal/phone"
)

// Sentinel errors of the campaign service. Callers map them to HTTP status
// codes or exit codes with errors.Is.
var (
	ErrNotFound          = errors.New("not found")
	ErrInvalid           = errors.New("invalid input")
	ErrInvalidTransition = errors.New("campaign cannot make that change from its current status")
)

// Status is a campaign's lifecycle state.
type Status string

// The campaign statuses.
const (
	StatusDraft     Status = "draft"
	StatusRunning   Status = "running"
	StatusPaused    Status = "paused"
	StatusCompleted Status = "completed"
	StatusCancelled Status = "cancelled"
)

// Campaign is a reminder campaign as stored.
type Campaign struct {
	ID            int64           `json:"id"`
	Name          string          `json:"name"`
	Purpose       consent.Purpose `json:"purpose"`
	ListID        int64           `json:"list_id"`
	ListName      string          `json:"list_name"`
	Message       string          `json:"message"`
	Audio         string          `json:"audio,omitempty"`
	CallerID      string          `json:"caller_id"`
	Status        Status          `json:"status"`
	MaxConcurrent int             `json:"max_concurrent"`
	RingSeconds   int             `json:"ring_seconds"`
	Retry         RetryRules      `json:"retry"`
	Generation    int64           `json:"-"`
	CreatedAt     time.Time       `json:"created_at"`
	StartedAt     *time.Time      `json:"started_at,omitempty"`
	CompletedAt   *time.Time      `json:"completed_at,omitempty"`
	Counts        Counts          `json:"counts"`
}

// Counts summarises a campaign's targets and attempts.
type Counts struct {
	Targets  int `json:"targets"`
	Pending  int `json:"pending"`
	Done     int `json:"done"`
	Attempts int `json:"attempts"`
	Blocked  int `json:"blocked"`
	Answered int `json:"answered"`
}

// RetryRules say when a contact is called again after a call that did not
// reach them: seconds to wait after a busy, unanswered or failed call (0:
// never again), and at most how many calls a contact gets. A call the law
// defers is not a call and does not count.
type RetryRules struct {
	MaxAttempts   int `json:"max_attempts"`
	BusySeconds   int `json:"busy_s"`
	NoAnswerSecs  int `json:"no_answer_s"`
	FailedSeconds int `json:"failed_s"`
}

// DefaultRetry is what a campaign gets when it names no rules: three calls
// at most, again after 10 minutes when busy, 2 hours when unanswered and 30
// minutes when the call failed.
var DefaultRetry = RetryRules{MaxAttempts: 3, BusySeconds: 600, NoAnswerSecs: 7200, FailedSeconds: 1800}

// NewCampaign is the input to Create.
type NewCampaign struct {
	Name    string `json:"name"`
	Purpose string `json:"purpose"`
	ListID  int64  `json:"list_id"`
	Message string `json:"message"`
	// Audio names a recorded message already imported into the media
	// directory; empty means the message text is read by text-to-speech.
	Audio         string `json:"-"`
	CallerID      string `json:"caller_id"`
	MaxConcurrent int    `json:"max_concurrent"`
	RingSeconds   int    `json:"ring_seconds"`
	// Retry is the retry rules; nil means DefaultRetry.
	Retry *RetryRules `json:"retry,omitempty"`
}

// FieldErrors maps form fields to what is wrong with them. It wraps ErrInvalid.
type FieldErrors map[string]string

func (f FieldErrors) Error() string {
	parts := make([]string, 0, len(f))
	for k, v := range f {
		parts = append(parts, k+": "+v)
	}
	return "invalid input: " + strings.Join(parts, "; ")
}

// Unwrap makes errors.Is(err, ErrInvalid) true.
func (f FieldErrors) Unwrap() error { return ErrInvalid }

// Service is the campaign API used by the web UI, the JSON API and the CLI.
type Service struct {
	db    *pgxpool.Pool
	river *river.Client[pgx.Tx]
}

// NewService returns a Service. The River client may be insert-only.
func NewService(db *pgxpool.Pool, rc *river.Client[pgx.Tx]) *Service {
	return &Service{db: db, river: rc}
}

// Create validates and stores a new draft campaign, with one target per
// contact of its list.
func (s *Service) Create(ctx context.Context, in NewCampaign, userID int64) (Campaign, error) {
	fe := FieldErrors{}
	in.Name = strings.TrimSpace(in.Name)
	if in.Name == "" {
		fe["name"] = "a name is required"
	} else if len(in.Name) > 200 {
		fe["name"] = "at most 200 characters"
	}
	purpose, err := consent.ParsePurpose(in.Purpose)
	if err != nil {
		fe["purpose"] = err.Error()
	}
	in.Message = strings.TrimSpace(in.Message)
	if in.Message == "" {
		fe["message"] = "a message is required"
	} else if len(in.Message) > 4000 {
		fe["message"] = "at most 4000 characters"
	}
	callerID, err := phone.Parse(in.CallerID)
	if err != nil {
		fe["caller_id"] = "a valid phone number is required"
	} else if _, err := callerID.NANP(); err != nil {
		fe["caller_id"] = "must be a North American number"
	}
	if in.MaxConcurrent == 0 {
		in.MaxConcurrent = 10
	}
	if in.MaxConcurrent < 1 || in.MaxConcurrent > 500 {
		fe["max_concurrent"] = "between 1 and 500"
	}
	if in.RingSeconds == 0 {
		in.RingSeconds = 25
	}
	if in.RingSeconds < 20 || in.RingSeconds > 120 {
		fe["ring_seconds"] = "between 20 and 120 seconds (heed rings at least 20 s)"
	}
	retry := DefaultRetry
	if in.Retry != nil {
		retry = *in.Retry
	}
	if retry.MaxAttempts < 1 || retry.MaxAttempts > 10 {
		fe["retry.max_attempts"] = "between 1 and 10 calls"
	}
	for k, v := range map[string]int{"retry.busy_s": retry.BusySeconds, "retry.no_answer_s": retry.NoAnswerSecs, "retry.failed_s": retry.FailedSeconds} {
		if v != 0 && (v < 30 || v > 604800) {
			fe[k] = "0 (never) or between 30 seconds and 7 days"
		}
	}
	var listExists bool
	if err := s.db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM contact_lists WHERE id = $1)`, in.ListID).Scan(&listExists); err != nil {
		return Campaign{}, fmt.Errorf("campaign: check list: %w", err)
	}
	if !listExists {
		fe["list_id"] = "choose an existing contact list"
	}
	if len(fe) > 0 {
		return Campaign{}, fe
	}
	var id int64
	err = pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `
			INSERT INTO campaigns (name, purpose, list_id, message_text, message_audio, caller_id, max_concurrent, ring_seconds, created_by,
			                       max_attempts, retry_busy_s, retry_no_answer_s, retry_failed_s)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, NULLIF($9, 0), $10, $11, $12, $13) RETURNING id`,
			in.Name, string(purpose), in.ListID, in.Message, in.Audio, callerID.String(), in.MaxConcurrent, in.RingSeconds, userID,
			retry.MaxAttempts, retry.BusySeconds, retry.NoAnswerSecs, retry.FailedSeconds).Scan(&id)
		if err != nil {
			return fmt.Errorf("insert campaign: %w", err)
		}
		_, err = tx.Exec(ctx, `INSERT INTO campaign_targets (campaign_id, contact_id) SELECT $1, id FROM contacts WHERE list_id = $2`, id, in.ListID)
		if err != nil {
			return fmt.Errorf("insert targets: %w", err)
		}
		return nil
	})
	if err != nil {
		return Campaign{}, fmt.Errorf("campaign: create: %w", err)
	}
	return s.Get(ctx, id)
}

const campaignColumns = `
	c.id, c.name, c.purpose, c.list_id, l.name, c.message_text, c.message_audio, c.caller_id, c.status, c.max_concurrent,
	c.ring_seconds, c.max_attempts, c.retry_busy_s, c.retry_no_answer_s, c.retry_failed_s, c.generation, c.created_at, c.started_at, c.completed_at,
	(SELECT count(*) FROM campaign_targets t WHERE t.campaign_id = c.id),
	(SELECT count(*) FROM campaign_targets t WHERE t.campaign_id = c.id AND t.state = 'pending'),
	(SELECT count(*) FROM campaign_targets t WHERE t.campaign_id = c.id AND t.state = 'done'),
	(SELECT count(*) FROM attempts a WHERE a.campaign_id = c.id),
	(SELECT count(*) FROM attempts a WHERE a.campaign_id = c.id AND a.decision = 'deny'),
	(SELECT count(*) FROM attempts a WHERE a.campaign_id = c.id AND a.outcome = 'answered')`

func scanCampaign(row pgx.Row) (Campaign, error) {
	var c Campaign
	err := row.Scan(&c.ID, &c.Name, &c.Purpose, &c.ListID, &c.ListName, &c.Message, &c.Audio, &c.CallerID, &c.Status,
		&c.MaxConcurrent, &c.RingSeconds, &c.Retry.MaxAttempts, &c.Retry.BusySeconds, &c.Retry.NoAnswerSecs, &c.Retry.FailedSeconds, &c.Generation, &c.CreatedAt, &c.StartedAt, &c.CompletedAt,
		&c.Counts.Targets, &c.Counts.Pending, &c.Counts.Done, &c.Counts.Attempts, &c.Counts.Blocked, &c.Counts.Answered)
	return c, err
}

// Get loads one campaign with its counts.
func (s *Service) Get(ctx context.Context, id int64) (Campaign, error) {
	c, err := scanCampaign(s.db.QueryRow(ctx, `SELECT `+campaignColumns+` FROM campaigns c JOIN contact_lists l ON l.id = c.list_id WHERE c.id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Campaign{}, fmt.Errorf("campaign %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return Campaign{}, fmt.Errorf("campaign: get %d: %w", id, err)
	}
	return c, nil
}

// List returns every campaign, newest first.
func (s *Service) List(ctx context.Context) ([]Campaign, error) {
	rows, err := s.db.Query(ctx, `SELECT `+campaignColumns+` FROM campaigns c JOIN contact_lists l ON l.id = c.list_id ORDER BY c.id DESC`)
	if err != nil {
		return nil, fmt.Errorf("campaign: list: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Campaign, error) { return scanCampaign(r) })
	if err != nil {
		return nil, fmt.Errorf("campaign: list: %w", err)
	}
	return out, nil
}

// Start moves a draft or paused campaign to running and enqueues its run
// job, in one transaction: either both happen or neither. Starting a
// running campaign changes nothing.
func (s *Service) Start(ctx context.Context, id int64) (Campaign, error) {
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		var status Status
		var gen int64
		err := tx.QueryRow(ctx, `SELECT status, generation FROM campaigns WHERE id = $1 FOR UPDATE`, id).Scan(&status, &gen)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("campaign %d: %w", id, ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("lock campaign: %w", err)
		}
		switch status {
		case StatusRunning:
			return nil
		case StatusDraft, StatusPaused:
		default:
			return fmt.Errorf("start a %s campaign: %w", status, ErrInvalidTransition)
		}
		gen++
		if _, err := tx.Exec(ctx, `UPDATE campaigns SET status = 'running', generation = $2, started_at = coalesce(started_at, now()), updated_at = now() WHERE id = $1`, id, gen); err != nil {
			return fmt.Errorf("set running: %w", err)
		}
		if _, err := s.river.InsertTx(ctx, tx, RunArgs{CampaignID: id, Generation: gen}, nil); err != nil {
			return fmt.Errorf("enqueue run job: %w", err)
		}
		return nil
	})
	if err != nil {
		return Campaign{}, fmt.Errorf("campaign: start: %w", err)
	}
	return s.Get(ctx, id)
}

// Pause stops a running campaign from placing new calls. Calls in flight end
// normally.
func (s *Service) Pause(ctx context.Context, id int64) (Campaign, error) {
	tag, err := s.db.Exec(ctx, `UPDATE campaigns SET status = 'paused', updated_at = now() WHERE id = $1 AND status = 'running'`, id)
	if err != nil {
		return Campaign{}, fmt.Errorf("campaign: pause: %w", err)
	}
	if tag.RowsAffected() == 0 {
		c, err := s.Get(ctx, id)
		if err != nil {
			return Campaign{}, err
		}
		if c.Status == StatusPaused {
			return c, nil
		}
		return Campaign{}, fmt.Errorf("campaign: pause a %s campaign: %w", c.Status, ErrInvalidTransition)
	}
	return s.Get(ctx, id)
}

// Attempt is one attempt row: the decision and, for placed calls, the outcome.
type Attempt struct {
	ID          int64      `json:"id"`
	CampaignID  int64      `json:"campaign_id"`
	ContactID   int64      `json:"contact_id"`
	ContactName string     `json:"contact_name"`
	AttemptNo   int        `json:"attempt_no"`
	Phone       string     `json:"phone"`
	Decision    string     `json:"decision"`
	Until       *time.Time `json:"until,omitempty"`
	Reasons     []string   `json:"reasons"`
	Pack        string     `json:"pack"`
	ConsentID   *int64     `json:"consent_id"`
	Status      string     `json:"status"`
	Outcome     string     `json:"outcome"`
	HangupCause *int       `json:"hangup_cause,omitempty"`
	DTMF        string     `json:"dtmf"`
	ChannelID   string     `json:"channel_id"`
	// AMD is the answering-machine detection result, "STATUS CAUSE".
	AMD string `json:"amd"`
	// Recording names the call's recording; empty when it was not recorded.
	Recording string `json:"recording,omitempty"`
	// TransferTo is where the callee asked to be connected (key 2).
	TransferTo string     `json:"transfer_to,omitempty"`
	CreatedAt  time.Time  `json:"created_at"`
	AnsweredAt *time.Time `json:"answered_at,omitempty"`
	EndedAt    *time.Time `json:"ended_at,omitempty"`
}

// Attempts lists a campaign's attempts, newest first, at most limit.
func (s *Service) Attempts(ctx context.Context, campaignID int64, limit int) ([]Attempt, error) {
	if limit <= 0 || limit > 10000 {
		limit = 1000
	}
	rows, err := s.db.Query(ctx, `
		SELECT a.id, a.campaign_id, a.contact_id, c.name, a.attempt_no, a.phone, a.decision, a.decided_until,
		       a.reasons, a.pack, a.consent_id, a.status, a.outcome, a.hangup_cause, a.dtmf, a.channel_id,
		       a.amd, a.recording, a.transfer_to, a.created_at, a.answered_at, a.ended_at
		  FROM attempts a JOIN contacts c ON c.id = a.contact_id
		 WHERE a.campaign_id = $1 ORDER BY a.id DESC LIMIT $2`, campaignID, limit)
	if err != nil {
		return nil, fmt.Errorf("campaign: attempts: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Attempt, error) {
		var a Attempt
		err := r.Scan(&a.ID, &a.CampaignID, &a.ContactID, &a.ContactName, &a.AttemptNo, &a.Phone, &a.Decision, &a.Until,
			&a.Reasons, &a.Pack, &a.ConsentID, &a.Status, &a.Outcome, &a.HangupCause, &a.DTMF, &a.ChannelID,
			&a.AMD, &a.Recording, &a.TransferTo, &a.CreatedAt, &a.AnsweredAt, &a.EndedAt)
		return a, err
	})
	if err != nil {
		return nil, fmt.Errorf("campaign: attempts: %w", err)
	}
	return out, nil
}

// Cancel stops a campaign for good: no more calls are placed, and calls in
// progress finish. A completed or cancelled campaign cannot be cancelled.
func (s *Service) Cancel(ctx context.Context, id int64) (Campaign, error) {
	tag, err := s.db.Exec(ctx, `UPDATE campaigns SET status = 'cancelled', updated_at = now(), completed_at = now()
		WHERE id = $1 AND status IN ('draft', 'running', 'paused')`, id)
	if err != nil {
		return Campaign{}, fmt.Errorf("campaign: cancel: %w", err)
	}
	if tag.RowsAffected() == 0 {
		c, err := s.Get(ctx, id)
		if err != nil {
			return Campaign{}, err
		}
		return Campaign{}, fmt.Errorf("campaign: cancel a %s campaign: %w", c.Status, ErrInvalidTransition)
	}
	return s.Get(ctx, id)
}

// csvHeader is the first line of an outcomes export.
var csvHeader = []string{"attempt_id", "contact", "external_ref", "phone", "attempt_no", "decision", "until", "reasons", "pack",
	"consent_id", "status", "outcome", "hangup_cause", "keys", "amd", "transfer_to", "recorded", "decided_at", "answered_at", "ended_at"}

// ExportAttempts writes every attempt of a campaign, oldest first, as CSV.
// Cells that a spreadsheet would read as a formula are quoted with a
// leading apostrophe.
func (s *Service) ExportAttempts(ctx context.Context, campaignID int64, w io.Writer) error {
	if _, err := s.Get(ctx, campaignID); err != nil {
		return err
	}
	rows, err := s.db.Query(ctx, `
		SELECT a.id, c.name, c.external_ref, a.phone, a.attempt_no, a.decision, a.decided_until, array_to_string(a.reasons, ' '), a.pack,
		       a.consent_id, a.status, a.outcome, a.hangup_cause, a.dtmf, a.amd, a.transfer_to, a.recording <> '',
		       a.created_at, a.answered_at, a.ended_at
		  FROM attempts a JOIN contacts c ON c.id = a.contact_id
		 WHERE a.campaign_id = $1 ORDER BY a.id`, campaignID)
	if err != nil {
		return fmt.Errorf("campaign: export: %w", err)
	}
	defer rows.Close()
	cw := csv.NewWriter(w)
	if err := cw.Write(csvHeader); err != nil {
		return fmt.Errorf("campaign: export: %w", err)
	}
	ts := func(t *time.Time) string {
		if t == nil {
			return ""
		}
		return t.UTC().Format(time.RFC3339)
	}
	for rows.Next() {
		var (
			id                                                  int64
			name, ref, ph, decision, reasons, pack, status, out string
			dtmf, amd, transfer                                 string
			recorded                                            bool
			no                                                  int
			until, answered, ended                              *time.Time
			created                                             time.Time
			consentID                                           *int64
			cause                                               *int
		)
		if err := rows.Scan(&id, &name, &ref, &ph, &no, &decision, &until, &reasons, &pack, &consentID, &status, &out, &cause, &dtmf,
			&amd, &transfer, &recorded, &created, &answered, &ended); err != nil {
			return fmt.Errorf("campaign: export: %w", err)
		}
		opt := func(p any) string {
			switch v := p.(type) {
			case *int64:
				if v != nil {
					return strconv.FormatInt(*v, 10)
				}
			case *int:
				if v != nil {
					return strconv.Itoa(*v)
				}
			}
			return ""
		}
		rec := []string{strconv.FormatInt(id, 10), safeCell(name), safeCell(ref), ph, strconv.Itoa(no), decision, ts(until), reasons, pack,
			opt(consentID), status, out, opt(cause), safeCell(dtmf), amd, safeCell(transfer), strconv.FormatBool(recorded),
			ts(&created), ts(answered), ts(ended)}
		if err := cw.Write(rec); err != nil {
			return fmt.Errorf("campaign: export: %w", err)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("campaign: export: %w", err)
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("campaign: export: %w", err)
	}
	return nil
}

// safeCell keeps a spreadsheet from running a cell as a formula.
func safeCell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// Resume gives every running campaign a new run job of a new generation.
// heed serve calls it at start: a process that died (even by kill -9)
// leaves its jobs marked running, and this picks their campaigns up again
// at once. A job of an older generation that is still alive elsewhere
// stops at its next step, and the campaign lease keeps the two from ever
// dialing together.
func (s *Service) Resume(ctx context.Context) (int, error) {
	rows, err := s.db.Query(ctx, `SELECT id FROM campaigns WHERE status = 'running'`)
	if err != nil {
		return 0, fmt.Errorf("campaign: resume: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return 0, fmt.Errorf("campaign: resume: %w", err)
	}
	n := 0
	for _, id := range ids {
		err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
			var gen int64
			err := tx.QueryRow(ctx, `UPDATE campaigns SET generation = generation + 1, updated_at = now()
				WHERE id = $1 AND status = 'running' RETURNING generation`, id).Scan(&gen)
			if errors.Is(err, pgx.ErrNoRows) {
				return nil
			}
			if err != nil {
				return err
			}
			if _, err := s.river.InsertTx(ctx, tx, RunArgs{CampaignID: id, Generation: gen}, nil); err != nil {
				return err
			}
			n++
			return nil
		})
		if err != nil {
			return n, fmt.Errorf("campaign: resume %d: %w", id, err)
		}
	}
	return n, nil
}

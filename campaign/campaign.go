// Package campaign owns campaigns, contact lists, attempts and their
// outcomes, and the River job that runs a campaign through the dialer.
package campaign

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"

	"github.com/heed-dialer/heed/consent"
	"github.com/heed-dialer/heed/dialer"
	"github.com/heed-dialer/heed/dnc"
	"github.com/heed-dialer/heed/internal/phone"
)

// Sentinel errors of the campaign service. Callers map them to HTTP status
// codes or exit codes with errors.Is.
var (
	ErrNotFound          = errors.New("not found")
	ErrInvalid           = errors.New("invalid input")
	ErrInvalidTransition = errors.New("campaign cannot make that change from its current status")
	// ErrEditConflict refuses an edit made from a form filled before
	// another edit of the same draft was saved.
	ErrEditConflict = errors.New("the campaign was edited by someone else meanwhile")
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
	// Callback is the number calls give for callbacks and opt-outs.
	Callback string `json:"callback"`
	// CallsPerSecond is the campaign's own pace cap; 0 means none.
	CallsPerSecond float64 `json:"calls_per_second"`
	// AMD is the answering-machine detection thresholds; zero fields keep
	// the dialplan's defaults.
	AMD dialer.AMDSettings `json:"amd"`
	// TransferTo is where key 2 connects the callee; empty means no transfer.
	TransferTo string `json:"transfer_to"`
	// Record says whether calls are recorded.
	Record bool `json:"record"`
	// InjuryMatter says that a solicitation concerns personal-injury or
	// wrongful-death matters (rule E1): each contact is called no sooner
	// than 40 days after its accident_date, and not at all without one.
	InjuryMatter bool `json:"injury_matter"`
	// Schedule is when the campaign may place calls.
	Schedule   Schedule `json:"schedule"`
	Generation int64    `json:"-"`
	// Edits counts the edits of the draft: Start checks the campaign it
	// starts is the one its launch checks passed.
	Edits       int        `json:"-"`
	CreatedAt   time.Time  `json:"created_at"`
	StartedAt   *time.Time `json:"started_at,omitempty"`
	CompletedAt *time.Time `json:"completed_at,omitempty"`
	Counts      Counts     `json:"counts"`

	// plan is Schedule as read from the campaign's row.
	plan plan
}

// Counts summarises a campaign's targets and attempts.
type Counts struct {
	Targets int `json:"targets"`
	Pending int `json:"pending"`
	Done    int `json:"done"`
	// Expired counts the contacts not reached before the schedule's end.
	Expired int `json:"expired"`
	// Skipped counts the contacts withdrawn from the campaign
	// (SkipContact).
	Skipped  int `json:"skipped"`
	Attempts int `json:"attempts"`
	// Blocked counts the attempts the gate refused, at their decision or
	// at the last look before their call was placed.
	Blocked int `json:"blocked"`
	// ByOutcome counts attempts by outcome (dialer.Outcome values, and
	// blocked, deferred and unknown; a call the last look refused counts
	// as blocked or deferred, not called off); outcomes with no attempt
	// are left out.
	ByOutcome map[string]int `json:"by_outcome"`
	// Reached counts the calls on which a person was on the line (the
	// outcomes for which dialer.Outcome.Reached is true).
	Reached int `json:"reached"`
	// New counts the list's contacts that are not targets of the
	// campaign: those imported since it was created (a draft adds them
	// when it starts) or since it started (AddNewContacts adds them).
	New int `json:"new_contacts"`
}

// OutcomeCount is one outcome and its number of attempts.
type OutcomeCount struct {
	Outcome string
	Label   string
	Count   int
}

// outcomeOrder is the order and wording in which outcomes are shown.
var outcomeOrder = []OutcomeCount{
	{Outcome: string(dialer.OutcomeConfirmed), Label: "Confirmed"},
	{Outcome: string(dialer.OutcomeNoResponse), Label: "No response"},
	{Outcome: string(dialer.OutcomeTransferred), Label: "Transferred"},
	{Outcome: string(dialer.OutcomeAbandoned), Label: "Abandoned"},
	{Outcome: string(dialer.OutcomeOptedOut), Label: "Opted out"},
	{Outcome: string(dialer.OutcomeAnswered), Label: "Answered"},
	{Outcome: string(dialer.OutcomeMachine), Label: "Machine"},
	{Outcome: string(dialer.OutcomeBusy), Label: "Busy"},
	{Outcome: string(dialer.OutcomeNoAnswer), Label: "No answer"},
	{Outcome: string(dialer.OutcomeFailed), Label: "Failed"},
	{Outcome: string(dialer.OutcomeCalledOff), Label: "Not placed (due again)"},
	{Outcome: "unknown", Label: "Unknown"},
	{Outcome: "deferred", Label: "Deferred"},
}

// Outcomes returns the call outcomes that have attempts, in a fixed order
// (reached first), with a label for people. Blocked attempts are counted in
// Blocked and not repeated here.
func (c Counts) Outcomes() []OutcomeCount {
	var out []OutcomeCount
	seen := map[string]bool{"blocked": true}
	for _, o := range outcomeOrder {
		seen[o.Outcome] = true
		if n := c.ByOutcome[o.Outcome]; n > 0 {
			o.Count = n
			out = append(out, o)
		}
	}
	var other []string
	for k := range c.ByOutcome {
		if !seen[k] {
			other = append(other, k)
		}
	}
	slices.Sort(other)
	for _, k := range other {
		out = append(out, OutcomeCount{Outcome: k, Label: k, Count: c.ByOutcome[k]})
	}
	return out
}

// RetryRules say when a contact is called again after a call that did not
// reach them: seconds to wait after a busy, unanswered or failed call, or
// one an answering machine answered (0: never again), and at most how many
// calls a contact gets. A call the law defers is not a call and does not
// count.
type RetryRules struct {
	MaxAttempts    int `json:"max_attempts"`
	BusySeconds    int `json:"busy_s"`
	NoAnswerSecs   int `json:"no_answer_s"`
	FailedSeconds  int `json:"failed_s"`
	MachineSeconds int `json:"machine_s"`
}

// UnmarshalJSON reads retry rules; a machine_s that is left out means
// DefaultRetry's, so that clients written before it existed keep the
// next-day retry after an answering machine.
func (r *RetryRules) UnmarshalJSON(b []byte) error {
	type plain RetryRules
	var v struct {
		plain
		MachineSeconds *int `json:"machine_s"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return fmt.Errorf("retry rules: %w", err)
	}
	*r = RetryRules(v.plain)
	r.MachineSeconds = DefaultRetry.MachineSeconds
	if v.MachineSeconds != nil {
		r.MachineSeconds = *v.MachineSeconds
	}
	return nil
}

// DefaultRetry is what a campaign gets when it names no rules: three calls
// at most, again after 10 minutes when busy, 2 hours when unanswered, 30
// minutes when the call failed and the next day after an answering machine.
var DefaultRetry = RetryRules{MaxAttempts: 3, BusySeconds: 600, NoAnswerSecs: 7200, FailedSeconds: 1800, MachineSeconds: 86400}

// MaxCallsPerSecond bounds a campaign's own pace cap.
const MaxCallsPerSecond = 50

// NewCampaign is the input to Create.
type NewCampaign struct {
	Name    string `json:"name"`
	Purpose string `json:"purpose"`
	ListID  int64  `json:"list_id"`
	// Message is the text read to the callee; it may use the placeholders
	// of Placeholders, such as {first_name} and {date}.
	Message string `json:"message"`
	// Audio names a recorded message already imported into the media
	// directory; empty means the message text is read by text-to-speech.
	Audio         string `json:"-"`
	CallerID      string `json:"caller_id"`
	MaxConcurrent int    `json:"max_concurrent"`
	RingSeconds   int    `json:"ring_seconds"`
	// Retry is the retry rules; nil means DefaultRetry.
	Retry *RetryRules `json:"retry,omitempty"`
	// Callback is the number given for callbacks; empty means the caller ID.
	Callback string `json:"callback"`
	// CallsPerSecond caps the campaign's pace; 0 means no cap of its own.
	CallsPerSecond float64 `json:"calls_per_second"`
	// AMD holds answering-machine detection thresholds; zero keeps the default.
	AMD dialer.AMDSettings `json:"amd"`
	// TransferTo is where key 2 connects: a NANP phone number, or a PBX
	// extension or queue name; empty means no transfer.
	TransferTo string `json:"transfer_to"`
	// Record turns call recording on.
	Record bool `json:"record"`
	// InjuryMatter marks a solicitation about personal-injury or
	// wrongful-death matters (rule E1; only for purpose solicitation).
	InjuryMatter bool `json:"injury_matter"`
	// Schedule is when calls may be placed; nil means at any time (within
	// the law's calling hours), with times read in DefaultTimeZone.
	Schedule *Schedule `json:"schedule,omitempty"`
}

// FieldErrors maps form fields to what is wrong with them. It wraps ErrInvalid.
type FieldErrors map[string]string

func (f FieldErrors) Error() string {
	parts := make([]string, 0, len(f))
	for _, k := range slices.Sorted(maps.Keys(f)) {
		parts = append(parts, k+": "+f[k])
	}
	return "invalid input: " + strings.Join(parts, "; ")
}

// Unwrap makes errors.Is(err, ErrInvalid) true.
func (f FieldErrors) Unwrap() error { return ErrInvalid }

// text is lockedMissingFields' refusals as one sentence: the message's
// missing fields, then the missing accident dates.
func (f FieldErrors) text() string {
	var parts []string
	for _, k := range []string{"message", "injury_matter"} {
		if m := f[k]; m != "" {
			parts = append(parts, m)
		}
	}
	return strings.Join(parts, "; ")
}

// Service is the campaign API used by the web UI, the JSON API and the CLI.
type Service struct {
	db    *pgxpool.Pool
	river *river.Client[pgx.Tx]
	now   func() time.Time
	// Launch runs the launch checks before a campaign starts; a Service
	// without them starts nothing.
	Launch *Launch
	// Copies, when set, is where the calls report reads the registry list
	// copies (national, state, litigator) each allowed call is checked
	// against (FindingRegistry); without it the report does not check
	// them.
	Copies CopyReader

	// reports holds a slot for each calls report running (CallsReport).
	reports chan struct{}
}

// MaxConcurrentReports is how many calls reports one Service runs at once;
// more wait for a slot. A report reads every allowed call of its period,
// and the registry list copies they were screened against (a national
// copy is some 200 MB), in the process that also places the calls.
const MaxConcurrentReports = 2

// CopyReader reads registry list copies, current or not: a
// *dnc.Registry reads their files, and the dialer's *Indexes the copies
// it holds in memory before the files.
type CopyReader interface {
	// LoadVersion returns version v of list l, or an error.
	LoadVersion(ctx context.Context, l dnc.ListID, v uint64) (dnc.Meta, *dnc.Set, error)
}

// NewService returns a Service. The River client may be insert-only.
func NewService(db *pgxpool.Pool, rc *river.Client[pgx.Tx]) *Service {
	return &Service{db: db, river: rc, now: time.Now, reports: make(chan struct{}, MaxConcurrentReports)}
}

// transferExtension is what a PBX extension or queue name may look like.
var transferExtension = regexp.MustCompile(`^[A-Za-z0-9_-]{1,40}$`)

// validated is a NewCampaign that passed validation, in stored form.
type validated struct {
	in       NewCampaign
	purpose  consent.Purpose
	callerID string
	callback string
	transfer string
	retry    RetryRules
	amd      []byte
	plan     plan
}

// parseNANP reads a North American number that is not a premium-rate (900)
// number, or says what is wrong with it.
func parseNANP(s string) (phone.Number, string) {
	p, err := phone.Parse(s)
	if err != nil {
		return "", "a valid phone number is required"
	}
	if _, err := p.NANP(); err != nil {
		return "", "must be a North American number"
	}
	if p.AreaCode() == "900" {
		return "", "must not be a premium-rate 900 number"
	}
	return p, ""
}

// looksLikePhone reports whether s is written like a phone number (digits
// and phone punctuation, seven digits or more) rather than an extension.
func looksLikePhone(s string) bool {
	digits := 0
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			digits++
		case strings.ContainsRune(" +-().", r):
		default:
			return false
		}
	}
	return digits >= 7
}

// MaxAfterGreetingSilence is the longest silence after a person's
// greeting, in milliseconds, that a campaign's answering-machine detection
// may wait before it decides a person answered (Asterisk AMD()'s
// afterGreetingSilence): the message starts only then, and rule F10 gives
// heed 2 s from the greeting to speak. The other 500 ms are for the
// decision to reach heed and its audio to start: on the testbed, with the
// dialplan's default of 800 ms, heed's audio started about 1.2 s after
// the greeting ended (with 5000 ms, about 5.4 s).
const MaxAfterGreetingSilence = 1500

// MaxMinWordLength is the longest minimum word length, in milliseconds,
// that a campaign's answering-machine detection may use (AMD()'s
// minimumWordLength): AMD takes the callee's first sound that long for
// the start of a greeting. A greeting with no sound that long (a short
// "hi" or "yes") is not taken for one: AMD then waits out the initial
// silence, takes the person for a machine and, after the dialplan's
// 1.2 s wait for the beep, plays the voicemail version: the person hears
// nothing for the initial silence and 1.2 s more after their greeting
// (3.7 s with the default 2500 ms), past F10's 2 s.
const MaxMinWordLength = 200

// amdLimits are the accepted ranges of the AMD thresholds (0 keeps the
// dialplan's default); why, when set, says what bounds the maximum.
var amdLimits = []struct {
	field    string
	get      func(dialer.AMDSettings) int
	min, max int
	why      string
}{
	{"amd.initial_silence_ms", func(a dialer.AMDSettings) int { return a.InitialSilence }, 500, 10000, ""},
	{"amd.greeting_ms", func(a dialer.AMDSettings) int { return a.Greeting }, 500, 10000, ""},
	{"amd.after_greeting_silence_ms", func(a dialer.AMDSettings) int { return a.AfterGreetingSilence }, 100, MaxAfterGreetingSilence,
		"a person who answers must hear heed within 2 s of their greeting (rule F10, abandoned calls), and detection waits this long after the greeting before the message starts, " +
			"which leaves 500 ms for it to start playing"},
	{"amd.total_analysis_time_ms", func(a dialer.AMDSettings) int { return a.TotalAnalysisTime }, 1000, 30000, ""},
	{"amd.min_word_length_ms", func(a dialer.AMDSettings) int { return a.MinWordLength }, 10, MaxMinWordLength,
		"a greeting with no sound this long (a short \"hi\") is not taken for one: detection then waits out the initial silence and takes the person for a machine, " +
			"who hears nothing for more than the 2 s rule F10 (abandoned calls) allows after their greeting"},
	{"amd.between_words_silence_ms", func(a dialer.AMDSettings) int { return a.BetweenWordsSilence }, 10, 1000, ""},
	{"amd.max_words", func(a dialer.AMDSettings) int { return a.MaxWords }, 1, 20, ""},
	{"amd.silence_threshold", func(a dialer.AMDSettings) int { return a.SilenceThreshold }, 1, 32767, ""},
	{"amd.max_word_length_ms", func(a dialer.AMDSettings) int { return a.MaxWordLength }, 100, 10000, ""},
}

// Validate checks a new campaign as Create would, without storing it: it
// returns FieldErrors (wrapping ErrInvalid) naming every invalid field.
func (s *Service) Validate(ctx context.Context, in NewCampaign) error {
	_, err := s.validate(ctx, in)
	return err
}

func (s *Service) validate(ctx context.Context, in NewCampaign) (validated, error) {
	fe := FieldErrors{}
	v := validated{}
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
	v.purpose = purpose
	in.Message = strings.TrimSpace(in.Message)
	var tmpl Template
	tmplOK := false
	if in.Message == "" {
		fe["message"] = "a message is required"
	} else if len(in.Message) > 4000 {
		fe["message"] = "at most 4000 characters"
	} else if tmpl, err = ParseTemplate(in.Message); err != nil {
		fe["message"] = strings.TrimPrefix(err.Error(), ErrTemplate.Error()+": ")
	} else {
		tmplOK = true
	}
	// The caller ID is the callback number when none is given, so it obeys
	// the same rule; and it must be one of the firm's caller IDs (rule
	// F11).
	callerID, msg := parseNANP(in.CallerID)
	if msg != "" {
		fe["caller_id"] = msg
	} else {
		st, err := callerIDStateOf(ctx, s.db, callerID.String())
		if err != nil {
			return v, fmt.Errorf("campaign: %w", err)
		}
		if !st.Current {
			fe["caller_id"] = callerIDFieldError(callerID.String(), st)
		}
	}
	v.callerID = callerID.String()
	if strings.TrimSpace(in.Callback) == "" {
		v.callback = v.callerID
	} else if cb, msg := parseNANP(in.Callback); msg != "" {
		fe["callback"] = msg
	} else {
		v.callback = cb.String()
	}
	if in.CallsPerSecond < 0 || in.CallsPerSecond > MaxCallsPerSecond || math.IsNaN(in.CallsPerSecond) {
		fe["calls_per_second"] = fmt.Sprintf("between 0 (no cap of its own) and %d calls per second", MaxCallsPerSecond)
	}
	for _, l := range amdLimits {
		if x := l.get(in.AMD); x != 0 && (x < l.min || x > l.max) {
			fe[l.field] = fmt.Sprintf("0 (the default) or between %d and %d", l.min, l.max)
			if x > l.max && l.why != "" {
				fe[l.field] += fmt.Sprintf(": at most %d, since %s", l.max, l.why)
			}
		}
	}
	if a := in.AMD; a.TotalAnalysisTime != 0 && fe["amd.total_analysis_time_ms"] == "" {
		if a.InitialSilence > a.TotalAnalysisTime || a.Greeting > a.TotalAnalysisTime {
			fe["amd.total_analysis_time_ms"] = "must be at least the initial silence and the greeting"
		}
	}
	if v.amd, err = json.Marshal(in.AMD); err != nil {
		return v, fmt.Errorf("campaign: amd settings: %w", err)
	}
	if in.InjuryMatter && v.purpose != consent.PurposeSolicitation {
		fe["injury_matter"] = "only a solicitation can be about personal-injury or wrongful-death matters"
	}
	in.TransferTo = strings.TrimSpace(in.TransferTo)
	switch {
	case in.TransferTo == "":
	case strings.HasPrefix(in.TransferTo, "+") || looksLikePhone(in.TransferTo):
		if p, msg := parseNANP(in.TransferTo); msg != "" {
			fe["transfer_to"] = msg + " (or give a PBX extension or queue name)"
		} else {
			v.transfer = p.String()
		}
	case transferExtension.MatchString(in.TransferTo):
		v.transfer = in.TransferTo
	default:
		fe["transfer_to"] = "a North American phone number, or an extension or queue name of 1 to 40 letters, digits, - and _"
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
	if in.RingSeconds < 20 || in.RingSeconds > int(consent.MaxRing/time.Second) {
		fe["ring_seconds"] = fmt.Sprintf("between 20 and %d seconds (heed rings at least 20 s)", int(consent.MaxRing/time.Second))
	}
	v.retry = DefaultRetry
	if in.Retry != nil {
		v.retry = *in.Retry
	}
	if v.retry.MaxAttempts < 1 || v.retry.MaxAttempts > 10 {
		fe["retry.max_attempts"] = "between 1 and 10 calls"
	}
	for k, d := range map[string]int{"retry.busy_s": v.retry.BusySeconds, "retry.no_answer_s": v.retry.NoAnswerSecs,
		"retry.failed_s": v.retry.FailedSeconds, "retry.machine_s": v.retry.MachineSeconds} {
		if d != 0 && (d < 30 || d > 604800) {
			fe[k] = "0 (never) or between 30 seconds and 7 days"
		}
	}
	sched := Schedule{}
	if in.Schedule != nil {
		sched = *in.Schedule
	}
	v.plan = sched.compile(fe)
	if v.plan.end != nil && fe["schedule.ends_at"] == "" && !v.plan.end.After(s.now()) {
		fe["schedule.ends_at"] = "is in the past"
	}
	var listExists bool
	if err := s.db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM contact_lists WHERE id = $1)`, in.ListID).Scan(&listExists); err != nil {
		return v, fmt.Errorf("campaign: check list: %w", err)
	}
	if !listExists {
		fe["list_id"] = "choose an existing contact list"
	} else if tmplOK {
		msg, err := missingFields(ctx, s.db, in.ListID, tmpl, 0)
		if err != nil {
			return v, err
		}
		if msg != "" {
			fe["message"] = msg
		}
	}
	if listExists && in.InjuryMatter && fe["injury_matter"] == "" {
		msg, err := missingAccidents(ctx, s.db, in.ListID, 0)
		if err != nil {
			return v, err
		}
		if msg != "" {
			fe["injury_matter"] = msg
		}
	}
	v.in = in
	if len(fe) > 0 {
		return v, fe
	}
	return v, nil
}

// fieldNeeds describes, for each contact column a template may need, the
// placeholders that read it and how to say a contact lacks it.
var fieldNeeds = map[string]struct{ uses, lacks, cond string }{
	"appointment_at": {"{date} and {time}", "no appointment date and time", "appointment_at IS NULL"},
	"place":          {"{place}", "no place", "place = ''"},
	"matter":         {"{matter}", "no matter", "matter = ''"},
}

// lockedMissingFields is missingFields of list listID and a message, under
// a lock of the list's row that a contacts import into it waits for (and
// that waits for one) until tx ends. A message that is not a template (one
// said as it is) needs no field.
//
// When newFor is not 0, only the list's contacts that are not yet targets
// of campaign newFor are checked: those AddNewContacts would add. With
// injury, a campaign about personal-injury or wrongful-death matters, the
// contacts without an accident date are reported too, by the field
// injury_matter (missingAccidents). The refusals are by form field, empty
// when there is none.
func lockedMissingFields(ctx context.Context, tx pgx.Tx, listID int64, message string, injury bool, newFor int64) (FieldErrors, error) {
	if _, err := tx.Exec(ctx, `SELECT 1 FROM contact_lists WHERE id = $1 FOR SHARE`, listID); err != nil {
		return nil, fmt.Errorf("lock list: %w", err)
	}
	fe := FieldErrors{}
	if t, err := ParseTemplate(message); err == nil {
		msg, err := missingFields(ctx, tx, listID, t, newFor)
		if err != nil {
			return nil, err
		}
		if msg != "" {
			fe["message"] = msg
		}
	}
	if injury {
		msg, err := missingAccidents(ctx, tx, listID, newFor)
		if err != nil {
			return nil, err
		}
		if msg != "" {
			fe["injury_matter"] = msg
		}
	}
	return fe, nil
}

// missingAccidents says which contacts of a list have no accident date,
// for a campaign about personal-injury or wrongful-death matters, which
// could never call them (rule E1): how many, and the first few by name and
// phone. It returns "" when none. newFor is as for missingFields.
func missingAccidents(ctx context.Context, q querier, listID, newFor int64) (string, error) {
	names, total, err := lacking(ctx, q, listID, "accident_date IS NULL", newFor)
	if err != nil || total == 0 {
		return "", err
	}
	return listed(fmt.Sprintf("the campaign is about personal-injury or wrongful-death matters, but %d contact(s) of the list have no accident_date, and would never be called", total), names, total), nil
}

// lacking returns how many contacts of list listID meet cond (a condition
// on contacts), and the first few by name and phone; when newFor is not 0,
// of those not yet targets of campaign newFor.
func lacking(ctx context.Context, q querier, listID int64, cond string, newFor int64) ([]string, int, error) {
	rows, err := q.Query(ctx, `SELECT name, phone, count(*) OVER () FROM contacts
		WHERE list_id = $1 AND `+cond+`
		  AND ($2::bigint = 0 OR NOT EXISTS (SELECT 1 FROM campaign_targets t WHERE t.campaign_id = $2 AND t.contact_id = contacts.id))
		ORDER BY id LIMIT 3`, listID, newFor)
	if err != nil {
		return nil, 0, fmt.Errorf("campaign: check contact fields: %w", err)
	}
	var (
		names []string
		total int
		name  string
		ph    string
	)
	_, err = pgx.ForEachRow(rows, []any{&name, &ph, &total}, func() error {
		names = append(names, fmt.Sprintf("%s (%s)", name, ph))
		return nil
	})
	if err != nil {
		return nil, 0, fmt.Errorf("campaign: check contact fields: %w", err)
	}
	return names, total, nil
}

// listed is msg with names, the first of total contacts, after it.
func listed(msg string, names []string, total int) string {
	msg += ": " + strings.Join(names, ", ")
	if total > len(names) {
		msg += fmt.Sprintf(" and %d more", total-len(names))
	}
	return msg
}

// querier runs queries: the pool, or a transaction.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// missingFields says which contacts of a list lack a field the template
// uses: how many, and the first few by name and phone. It returns "" when
// none does. When newFor is not 0, it checks only the contacts that are
// not yet targets of campaign newFor.
func missingFields(ctx context.Context, q querier, listID int64, t Template, newFor int64) (string, error) {
	var msgs []string
	for _, f := range t.Needs() {
		need := fieldNeeds[f]
		names, total, err := lacking(ctx, q, listID, need.cond, newFor)
		if err != nil {
			return "", err
		}
		if total == 0 {
			continue
		}
		msgs = append(msgs, listed(fmt.Sprintf("the message uses %s, but %d contact(s) of the list have %s", need.uses, total, need.lacks), names, total))
	}
	return strings.Join(msgs, "; "), nil
}

// Create validates and stores a new draft campaign, with one target per
// contact of its list. Invalid input is reported as FieldErrors, which
// wrap ErrInvalid.
func (s *Service) Create(ctx context.Context, in NewCampaign, userID int64) (Campaign, error) {
	return s.store(ctx, 0, in, Edit{By: userID})
}

// Edit says who edits a draft campaign, and how.
type Edit struct {
	// By is the user making the edit, or 0.
	By int64
	// KeepAudio keeps the draft's recorded message, whatever the new
	// settings' Audio says.
	KeepAudio bool
	// Edits, when not nil, is the campaign's Edits when the editor's form
	// was filled: a draft edited since is refused with ErrEditConflict.
	Edits *int
}

// Update replaces the settings of draft campaign id with in, validated as
// Create validates them, and its targets with the contacts of in's list.
// Invalid input is reported as FieldErrors; a campaign that is no longer a
// draft is refused with ErrInvalidTransition, one edited since the form
// of ed.Edits with ErrEditConflict, one that does not exist with
// ErrNotFound.
func (s *Service) Update(ctx context.Context, id int64, in NewCampaign, ed Edit) (Campaign, error) {
	return s.store(ctx, id, in, ed)
}

// store is Create (id 0, with the creator ed.By) and Update (of draft id).
func (s *Service) store(ctx context.Context, id int64, in NewCampaign, ed Edit) (Campaign, error) {
	v, err := s.validate(ctx, in)
	if err != nil {
		return Campaign{}, err
	}
	in, retry, p := v.in, v.retry, v.plan
	var (
		editing = id != 0
		changed FieldErrors // the list changed since validate
	)
	err = pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		if editing {
			var (
				status Status
				edits  int
				audio  string
			)
			err := tx.QueryRow(ctx, `SELECT status, edits, message_audio FROM campaigns WHERE id = $1 FOR NO KEY UPDATE`, id).Scan(&status, &edits, &audio)
			if errors.Is(err, pgx.ErrNoRows) {
				return fmt.Errorf("campaign %d: %w", id, ErrNotFound)
			}
			if err != nil {
				return fmt.Errorf("lock campaign: %w", err)
			}
			if status != StatusDraft {
				return fmt.Errorf("edit a %s campaign: %w", status, ErrInvalidTransition)
			}
			if ed.Edits != nil && *ed.Edits != edits {
				return fmt.Errorf("campaign %d: %w", id, ErrEditConflict)
			}
			if ed.KeepAudio {
				in.Audio = audio
			}
		}
		// The list's contacts, checked again: an import that emptied a
		// field the message says between validate and here would leave
		// targets whose message cannot be said.
		fe, err := lockedMissingFields(ctx, tx, in.ListID, in.Message, in.InjuryMatter, 0)
		if err != nil {
			return err
		}
		if len(fe) > 0 {
			changed = fe
			return changed
		}
		args := []any{in.Name, string(v.purpose), in.ListID, in.Message, in.Audio, v.callerID, in.MaxConcurrent, in.RingSeconds,
			retry.MaxAttempts, retry.BusySeconds, retry.NoAnswerSecs, retry.FailedSeconds, retry.MachineSeconds,
			v.callback, in.CallsPerSecond, v.amd, v.transfer, in.Record,
			p.loc.String(), p.start, p.end, p.winStart, p.winEnd, int(p.days), in.InjuryMatter}
		if !editing {
			err := tx.QueryRow(ctx, `
				INSERT INTO campaigns (name, purpose, list_id, message_text, message_audio, caller_id, max_concurrent, ring_seconds,
				                       max_attempts, retry_busy_s, retry_no_answer_s, retry_failed_s, retry_machine_s,
				                       callback, calls_per_second, amd, transfer_to, record,
				                       time_zone, starts_at, ends_at, window_start_min, window_end_min, window_days, injury_matter, created_by)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, NULLIF($26::bigint, 0))
				RETURNING id`, append(args, ed.By)...).Scan(&id)
			if err != nil {
				return fmt.Errorf("insert campaign: %w", err)
			}
		} else {
			_, err := tx.Exec(ctx, `
				UPDATE campaigns SET name = $1, purpose = $2, list_id = $3, message_text = $4, message_audio = $5, caller_id = $6,
				       max_concurrent = $7, ring_seconds = $8, max_attempts = $9, retry_busy_s = $10, retry_no_answer_s = $11,
				       retry_failed_s = $12, retry_machine_s = $13, callback = $14, calls_per_second = $15, amd = $16,
				       transfer_to = $17, record = $18, time_zone = $19, starts_at = $20, ends_at = $21, window_start_min = $22,
				       window_end_min = $23, window_days = $24, injury_matter = $25, edits = edits + 1, updated_by = NULLIF($27::bigint, 0), updated_at = now()
				 WHERE id = $26`, append(args, id, ed.By)...)
			if err != nil {
				return fmt.Errorf("update campaign: %w", err)
			}
			if _, err := tx.Exec(ctx, `DELETE FROM campaign_targets WHERE campaign_id = $1`, id); err != nil {
				return fmt.Errorf("replace targets: %w", err)
			}
		}
		_, err = tx.Exec(ctx, `INSERT INTO campaign_targets (campaign_id, contact_id) SELECT $1, id FROM contacts WHERE list_id = $2`, id, in.ListID)
		if err != nil {
			return fmt.Errorf("insert targets: %w", err)
		}
		return nil
	})
	if changed != nil {
		return Campaign{}, changed
	}
	if err != nil {
		if editing {
			return Campaign{}, fmt.Errorf("campaign: update: %w", err)
		}
		return Campaign{}, fmt.Errorf("campaign: create: %w", err)
	}
	return s.Get(ctx, id)
}

const campaignColumns = `
	c.id, c.name, c.purpose, c.list_id, l.name, c.message_text, c.message_audio, c.caller_id, c.status, c.max_concurrent,
	c.ring_seconds, c.max_attempts, c.retry_busy_s, c.retry_no_answer_s, c.retry_failed_s, c.retry_machine_s,
	coalesce(NULLIF(c.callback, ''), c.caller_id), c.calls_per_second, c.amd, c.transfer_to, c.record, c.injury_matter,
	c.time_zone, c.starts_at, c.ends_at, c.window_start_min, c.window_end_min, c.window_days,
	c.generation, c.edits, c.created_at, c.started_at, c.completed_at,
	(SELECT count(*) FROM campaign_targets t WHERE t.campaign_id = c.id),
	(SELECT count(*) FROM campaign_targets t WHERE t.campaign_id = c.id AND t.state = 'pending'),
	(SELECT count(*) FROM campaign_targets t WHERE t.campaign_id = c.id AND t.state = 'done'),
	(SELECT count(*) FROM campaign_targets t WHERE t.campaign_id = c.id AND t.state = 'expired'),
	(SELECT count(*) FROM campaign_targets t WHERE t.campaign_id = c.id AND t.state = 'skipped'),
	(SELECT count(*) FROM attempts a WHERE a.campaign_id = c.id),
	(SELECT count(*) FROM attempts a WHERE a.campaign_id = c.id AND (a.decision = 'deny' OR ` + lookRefusedSQL + ` = 'deny')),
	(SELECT count(*) FROM contacts k WHERE k.list_id = c.list_id
	    AND NOT EXISTS (SELECT 1 FROM campaign_targets t WHERE t.campaign_id = c.id AND t.contact_id = k.id)),
	(SELECT coalesce(jsonb_object_agg(o.outcome, o.n), '{}') FROM
	   (SELECT CASE ` + lookRefusedSQL + ` WHEN 'deny' THEN 'blocked' WHEN 'defer' THEN 'deferred' ELSE a.outcome END AS outcome, count(*) AS n
	      FROM attempts a WHERE a.campaign_id = c.id AND a.outcome <> '' GROUP BY 1) o)`

// lookRefusedSQL is the verdict of the last look that called attempt a's
// call off (deny or defer), or NULL for any other attempt: such an attempt
// is counted as blocked or deferred, as one refused at its decision is.
const lookRefusedSQL = `(CASE WHEN a.outcome = 'called_off' AND a.not_placed = '' THEN a.last_look->'decision'->>'decision' END)`

func scanCampaign(row pgx.Row) (Campaign, error) {
	var (
		c                Campaign
		tz               string
		start, end       *time.Time
		winStart, winEnd int
		days             int
		byOutcome        map[string]int
	)
	err := row.Scan(&c.ID, &c.Name, &c.Purpose, &c.ListID, &c.ListName, &c.Message, &c.Audio, &c.CallerID, &c.Status,
		&c.MaxConcurrent, &c.RingSeconds, &c.Retry.MaxAttempts, &c.Retry.BusySeconds, &c.Retry.NoAnswerSecs, &c.Retry.FailedSeconds, &c.Retry.MachineSeconds,
		&c.Callback, &c.CallsPerSecond, &c.AMD, &c.TransferTo, &c.Record, &c.InjuryMatter,
		&tz, &start, &end, &winStart, &winEnd, &days,
		&c.Generation, &c.Edits, &c.CreatedAt, &c.StartedAt, &c.CompletedAt,
		&c.Counts.Targets, &c.Counts.Pending, &c.Counts.Done, &c.Counts.Expired, &c.Counts.Skipped, &c.Counts.Attempts, &c.Counts.Blocked, &c.Counts.New, &byOutcome)
	if err != nil {
		return c, err
	}
	c.Counts.ByOutcome = byOutcome
	for o, n := range byOutcome {
		if dialer.Outcome(o).Reached() {
			c.Counts.Reached += n
		}
	}
	p, err := storedPlan(tz, start, end, winStart, winEnd, days)
	if err != nil {
		return c, fmt.Errorf("campaign %d: %w", c.ID, err)
	}
	c.Schedule, c.plan = p.schedule(), p
	return c, nil
}

// DefaultTimeZone is the time zone of a campaign that names none.
const DefaultTimeZone = "America/New_York"

// Schedule is when a campaign may place calls: between StartsAt and EndsAt,
// and each day inside the window from WindowStart to WindowEnd on Days, all
// read in TimeZone. The law's calling hours apply on top of it, in the
// callee's time zone.
type Schedule struct {
	// TimeZone is an IANA name such as "America/Chicago"; empty means
	// DefaultTimeZone.
	TimeZone string `json:"time_zone"`
	// StartsAt and EndsAt bound the campaign; empty means no bound. Input
	// is RFC 3339 ("2026-12-01T09:00:00-05:00"), or a local time in
	// TimeZone ("2026-12-01T09:00", "2026-12-01 09:00") or a date
	// ("2026-12-01": the start of that day for StartsAt, its end for
	// EndsAt). Output is RFC 3339 in TimeZone.
	StartsAt string `json:"starts_at,omitempty"`
	EndsAt   string `json:"ends_at,omitempty"`
	// WindowStart and WindowEnd are local times of day, "HH:MM"; empty
	// means 00:00 and 24:00. The window cannot cross midnight.
	WindowStart string `json:"window_start,omitempty"`
	WindowEnd   string `json:"window_end,omitempty"`
	// Days are the days of the week calls are placed on, "mon" to "sun";
	// empty means every day.
	Days []string `json:"days,omitempty"`
}

// dayNames are the names of Days, indexed by time.Weekday.
var dayNames = []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

// plan is a Schedule ready to compute with.
type plan struct {
	loc              *time.Location
	start, end       *time.Time
	winStart, winEnd int   // minutes after local midnight
	days             uint8 // bit i: time.Weekday(i)
}

// allDays is the day mask of every day of the week.
const allDays = 0x7f

// compile checks a schedule, writing what is wrong into fe under
// "schedule.<field>", and returns its plan (defaults where invalid).
func (s Schedule) compile(fe FieldErrors) plan {
	p := plan{loc: mustZone(DefaultTimeZone), winEnd: 1440, days: allDays}
	if tz := strings.TrimSpace(s.TimeZone); tz != "" {
		loc, err := loadZone(tz)
		if err != nil {
			fe["schedule.time_zone"] = fmt.Sprintf("%q is not a time zone name such as America/New_York", tz)
		} else {
			p.loc = loc
		}
	}
	if v := strings.TrimSpace(s.StartsAt); v != "" {
		t, err := parseWhen(v, p.loc, false)
		if err != nil {
			fe["schedule.starts_at"] = err.Error()
		} else {
			p.start = &t
		}
	}
	if v := strings.TrimSpace(s.EndsAt); v != "" {
		t, err := parseWhen(v, p.loc, true)
		if err != nil {
			fe["schedule.ends_at"] = err.Error()
		} else {
			p.end = &t
		}
	}
	if p.start != nil && p.end != nil && !p.end.After(*p.start) {
		fe["schedule.ends_at"] = "must be after the start"
	}
	okWindow := true
	if v := strings.TrimSpace(s.WindowStart); v != "" {
		m, err := parseClock(v)
		if err != nil || m == 1440 {
			fe["schedule.window_start"] = "a time of day such as 09:00"
			okWindow = false
		} else {
			p.winStart = m
		}
	}
	if v := strings.TrimSpace(s.WindowEnd); v != "" {
		m, err := parseClock(v)
		if err != nil || m == 0 {
			fe["schedule.window_end"] = "a time of day such as 17:00 (24:00 for midnight)"
			okWindow = false
		} else {
			p.winEnd = m
		}
	}
	if okWindow && p.winEnd <= p.winStart {
		fe["schedule.window_end"] = "must be after the window's start (a window cannot cross midnight)"
	}
	if len(s.Days) > 0 {
		p.days = 0
		for _, d := range s.Days {
			name := strings.ToLower(strings.TrimSpace(d))
			i := slices.IndexFunc(dayNames, func(n string) bool { return name == n })
			for w := time.Sunday; i < 0 && w <= time.Saturday; w++ {
				if name == strings.ToLower(w.String()) {
					i = int(w)
				}
			}
			if i < 0 {
				fe["schedule.days"] = fmt.Sprintf("%q is not a day of the week (mon, tue, wed, thu, fri, sat, sun)", d)
				continue
			}
			p.days |= 1 << i
		}
	}
	return p
}

// loadZone loads an IANA time zone; "Local" and "" are refused, because
// they mean different things on different machines.
func loadZone(name string) (*time.Location, error) {
	if name == "" || name == "Local" {
		return nil, fmt.Errorf("time zone %q: %w", name, ErrInvalid)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("time zone %q: %w", name, err)
	}
	return loc, nil
}

func mustZone(name string) *time.Location {
	loc, err := loadZone(name)
	if err != nil {
		panic(err)
	}
	return loc
}

// parseClock reads "HH:MM" (or "H:MM") as minutes after midnight; "24:00"
// is 1440.
func parseClock(s string) (int, error) {
	h, m, ok := strings.Cut(s, ":")
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if !ok || err1 != nil || err2 != nil || len(m) != 2 || hh < 0 || mm < 0 || mm > 59 || hh > 24 || (hh == 24 && mm != 0) {
		return 0, fmt.Errorf("time of day %q: %w", s, ErrInvalid)
	}
	return hh*60 + mm, nil
}

// whenLayouts are the local forms parseWhen accepts, read in the
// campaign's time zone.
var whenLayouts = []string{"2006-01-02T15:04", "2006-01-02 15:04", "2006-01-02T15:04:05", "2006-01-02 15:04:05"}

// parseWhen reads a schedule bound: RFC 3339, a local date and time in loc,
// or a date alone (its start, or for an end its end).
func parseWhen(s string, loc *time.Location, end bool) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	for _, l := range whenLayouts {
		wall, err := time.Parse(l, s)
		if err != nil {
			continue
		}
		t := time.Date(wall.Year(), wall.Month(), wall.Day(), wall.Hour(), wall.Minute(), wall.Second(), 0, loc)
		if t.Hour() != wall.Hour() || t.Minute() != wall.Minute() {
			return time.Time{}, fmt.Errorf("%q does not exist in %s: the clocks skip that hour", s, loc)
		}
		return t, nil
	}
	if d, err := time.ParseInLocation("2006-01-02", s, loc); err == nil {
		if end {
			d = time.Date(d.Year(), d.Month(), d.Day()+1, 0, 0, 0, 0, loc)
		}
		return d, nil
	}
	return time.Time{}, fmt.Errorf("%q is not a date and time such as 2026-12-01T09:00 (in the campaign's time zone) or 2026-12-01", s)
}

// storedPlan rebuilds a plan from a campaign row.
func storedPlan(tz string, start, end *time.Time, winStart, winEnd, days int) (plan, error) {
	loc, err := loadZone(tz)
	if err != nil {
		return plan{}, fmt.Errorf("schedule: %w", err)
	}
	return plan{loc: loc, start: start, end: end, winStart: winStart, winEnd: winEnd, days: uint8(days)}, nil
}

// schedule writes a plan in its stored, canonical form.
func (p plan) schedule() Schedule {
	s := Schedule{TimeZone: p.loc.String()}
	if p.start != nil {
		s.StartsAt = p.start.In(p.loc).Format(time.RFC3339)
	}
	if p.end != nil {
		s.EndsAt = p.end.In(p.loc).Format(time.RFC3339)
	}
	if p.winStart != 0 || p.winEnd != 1440 {
		s.WindowStart = fmt.Sprintf("%02d:%02d", p.winStart/60, p.winStart%60)
		s.WindowEnd = fmt.Sprintf("%02d:%02d", p.winEnd/60, p.winEnd%60)
	}
	if p.days != allDays {
		for _, d := range []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday, time.Saturday, time.Sunday} {
			if p.days&(1<<d) != 0 {
				s.Days = append(s.Days, dayNames[d])
			}
		}
	}
	return s
}

// ended reports whether the schedule's end has passed at t.
func (p plan) ended(t time.Time) bool { return p.end != nil && !t.Before(*p.end) }

// open reports whether calls may be placed at t.
func (p plan) open(t time.Time) bool {
	if p.start != nil && t.Before(*p.start) || p.ended(t) {
		return false
	}
	lt := t.In(p.loc)
	if p.days&(1<<lt.Weekday()) == 0 {
		return false
	}
	m := lt.Hour()*60 + lt.Minute()
	return m >= p.winStart && m < p.winEnd
}

// next returns the first moment at or after t when calls may be placed, or
// false when there is none before the schedule's end.
func (p plan) next(t time.Time) (time.Time, bool) {
	if p.start != nil && t.Before(*p.start) {
		t = *p.start
	}
	if p.ended(t) {
		return time.Time{}, false
	}
	if p.open(t) {
		return t, true
	}
	lt := t.In(p.loc)
	// Fifteen days cover every weekday twice, even when a daylight-saving
	// change swallows a window.
	for d := 0; d < 15; d++ {
		c := p.opening(lt.Year(), lt.Month(), lt.Day()+d)
		if c.Before(t) {
			continue
		}
		if p.ended(c) {
			return time.Time{}, false
		}
		if p.open(c) {
			return c, true
		}
	}
	return time.Time{}, false
}

// opening returns the first moment of a local date whose wall clock reads
// the window's start or later. When that time does not exist that day
// (clocks spring forward over it), it is the moment the clocks jump.
func (p plan) opening(y int, m time.Month, d int) time.Time {
	h, mi := p.winStart/60, p.winStart%60
	c := time.Date(y, m, d, h, mi, 0, 0, p.loc)
	lc := c.In(p.loc)
	want := time.Date(y, m, d, h, mi, 0, 0, time.UTC)
	got := time.Date(lc.Year(), lc.Month(), lc.Day(), lc.Hour(), lc.Minute(), 0, 0, time.UTC)
	switch {
	case got.Before(want):
		_, after := c.ZoneBounds()
		return after
	case got.After(want):
		before, _ := c.ZoneBounds()
		return before
	}
	return c
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
// running campaign changes nothing. A campaign edited or paused between
// its launch checks and that transaction is not started
// (ErrInvalidTransition): the checks must run on what it is.
func (s *Service) Start(ctx context.Context, id int64) (Campaign, error) {
	c, err := s.Get(ctx, id)
	if err != nil {
		return Campaign{}, err
	}
	if c.Status == StatusDraft {
		if err := s.refreshTargets(ctx, c); err != nil {
			return Campaign{}, fmt.Errorf("campaign %d: start: %w", id, err)
		}
	}
	if c.Status == StatusDraft || c.Status == StatusPaused {
		states, placed, err := s.reach(ctx, id)
		if err != nil {
			return Campaign{}, fmt.Errorf("campaign: start: %w", err)
		}
		if err := s.launchCheck(ctx, s.db, c, states, placed); err != nil {
			return Campaign{}, fmt.Errorf("campaign %d: start: %w", id, err)
		}
	}
	err = pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		var (
			status Status
			gen    int64
			edits  int
		)
		err := tx.QueryRow(ctx, `SELECT status, generation, edits FROM campaigns WHERE id = $1 FOR NO KEY UPDATE`, id).Scan(&status, &gen, &edits)
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
		if edits != c.Edits || status != c.Status {
			// Edited, or paused, since it was read: the launch checks ran
			// on (or were skipped for) another campaign than this one.
			return fmt.Errorf("the campaign changed while it was being started; start it again: %w", ErrInvalidTransition)
		}
		// Its caller ID, checked above, is held until the campaign runs:
		// a retirement meanwhile waits, then pauses it.
		if err := lockCallerID(ctx, tx, c.CallerID); err != nil {
			return err
		}
		gen++
		if _, err := tx.Exec(ctx, `UPDATE campaigns SET status = 'running', generation = $2, started_at = coalesce(started_at, now()), updated_by = NULLIF($3::bigint, 0), updated_at = now() WHERE id = $1`, id, gen, actorOf(ctx)); err != nil {
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

// refreshTargets gives draft c a target for each contact its list has
// gained since it was created or edited, so that a draft calls the
// contacts its list has when it starts, before the launch checks look at
// where they are. A contact that lacks a field the message says refuses
// the start (ErrLaunchRefused), as it refuses the campaign's creation.
func (s *Service) refreshTargets(ctx context.Context, c Campaign) error {
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		var status Status
		if err := tx.QueryRow(ctx, `SELECT status FROM campaigns WHERE id = $1 FOR NO KEY UPDATE`, c.ID).Scan(&status); err != nil {
			return fmt.Errorf("lock campaign: %w", err)
		}
		if status != StatusDraft {
			return nil // started meanwhile: Start finds out
		}
		fe, err := lockedMissingFields(ctx, tx, c.ListID, c.Message, c.InjuryMatter, 0)
		if err != nil {
			return err
		}
		if len(fe) > 0 {
			return fmt.Errorf("%s: %w", fe.text(), ErrLaunchRefused)
		}
		_, err = tx.Exec(ctx, `INSERT INTO campaign_targets (campaign_id, contact_id)
			SELECT $1, k.id FROM contacts k WHERE k.list_id = $2 ON CONFLICT DO NOTHING`, c.ID, c.ListID)
		if err != nil {
			return fmt.Errorf("new targets: %w", err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("refresh targets: %w", err)
	}
	return nil
}

// Pause stops a running campaign from placing new calls. Calls in flight end
// normally.
func (s *Service) Pause(ctx context.Context, id int64) (Campaign, error) {
	tag, err := s.db.Exec(ctx, `UPDATE campaigns SET status = 'paused', updated_by = NULLIF($2::bigint, 0), updated_at = now() WHERE id = $1 AND status = 'running'`, id, actorOf(ctx))
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
	TransferTo string `json:"transfer_to,omitempty"`
	// Asterisk names the Asterisk that placed the call.
	Asterisk string `json:"asterisk,omitempty"`
	// Reconcile says what start-up reconciliation found of a call a stopped
	// process left in flight: hung_up, gone or unchecked.
	Reconcile  string     `json:"reconcile,omitempty"`
	CreatedAt  time.Time  `json:"created_at"`
	AnsweredAt *time.Time `json:"answered_at,omitempty"`
	EndedAt    *time.Time `json:"ended_at,omitempty"`
	// AudioStartedMS is how long after the answer heed's first audio began
	// to play, in milliseconds by Asterisk's clock (with detection, its
	// time included); nil when the call was not answered or its audio
	// never began.
	AudioStartedMS *int64 `json:"audio_started_ms,omitempty"`
	// AudioKnown says heed followed the answered call from its answer: a
	// nil AudioStartedMS then means its audio never began.
	AudioKnown bool `json:"audio_known"`
	// CalledOff says why the call was never placed, for an attempt whose
	// outcome is called_off (calledOffSQL): what its last look decided, or
	// what kept it from being placed; empty otherwise.
	CalledOff string `json:"called_off,omitempty"`
	// NotPlaced says what kept a call from being placed ("no Asterisk was
	// up", "the dialing job stopped"), for an attempt that ended called off
	// without a last look that refused it (Store.NotPlaced); empty
	// otherwise.
	NotPlaced string `json:"not_placed,omitempty"`
}

// calledOffSQL is why the call of attempt a was never placed, in a few
// words: why its last look called it off ("deny dnc.internal", "campaign
// stopped"), or what kept it from being placed ("not placed: no Asterisk
// was up"); empty for any other attempt.
const calledOffSQL = `CASE WHEN a.outcome <> 'called_off' THEN ''
	WHEN a.not_placed <> '' THEN 'not placed: ' || a.not_placed
	WHEN a.last_look->'decision'->>'decision' <> 'allow' THEN concat_ws(' ', a.last_look->'decision'->>'decision',
	     (SELECT string_agg(r, ' ') FROM jsonb_array_elements_text(a.last_look->'decision'->'reasons') r))
	ELSE 'campaign stopped' END`

// attemptColumns are the columns of an Attempt, in the order of its
// fields, from attempts a joined with its contact c.
const attemptColumns = `a.id, a.campaign_id, a.contact_id, c.name, a.attempt_no, a.phone, a.decision, a.decided_until,
	a.reasons, a.pack, a.consent_id, a.status, a.outcome, a.hangup_cause, a.dtmf, a.channel_id,
	a.amd, a.recording, a.transfer_to, a.asterisk, a.reconcile, a.created_at, a.answered_at, a.ended_at, a.audio_started_ms, a.audio_known, ` + calledOffSQL + `, a.not_placed`

// fields returns the destinations of attemptColumns in a, followed by
// more.
func (a *Attempt) fields(more ...any) []any {
	return append([]any{&a.ID, &a.CampaignID, &a.ContactID, &a.ContactName, &a.AttemptNo, &a.Phone, &a.Decision, &a.Until,
		&a.Reasons, &a.Pack, &a.ConsentID, &a.Status, &a.Outcome, &a.HangupCause, &a.DTMF, &a.ChannelID,
		&a.AMD, &a.Recording, &a.TransferTo, &a.Asterisk, &a.Reconcile, &a.CreatedAt, &a.AnsweredAt, &a.EndedAt, &a.AudioStartedMS, &a.AudioKnown, &a.CalledOff, &a.NotPlaced}, more...)
}

// Attempts lists a campaign's attempts, newest first, at most limit.
func (s *Service) Attempts(ctx context.Context, campaignID int64, limit int) ([]Attempt, error) {
	if limit <= 0 || limit > 10000 {
		limit = 1000
	}
	rows, err := s.db.Query(ctx, `
		SELECT `+attemptColumns+`
		  FROM attempts a JOIN contacts c ON c.id = a.contact_id
		 WHERE a.campaign_id = $1 ORDER BY a.id DESC LIMIT $2`, campaignID, limit)
	if err != nil {
		return nil, fmt.Errorf("campaign: attempts: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Attempt, error) {
		var a Attempt
		err := r.Scan(a.fields()...)
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
	tag, err := s.db.Exec(ctx, `UPDATE campaigns SET status = 'cancelled', updated_by = NULLIF($2::bigint, 0), updated_at = now(), completed_at = now()
		WHERE id = $1 AND status IN ('draft', 'running', 'paused')`, id, actorOf(ctx))
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
	"consent_id", "status", "outcome", "hangup_cause", "keys", "amd", "transfer_to", "recorded", "decided_at", "answered_at", "ended_at",
	"called_off", "audio_started_ms"}

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
		       a.created_at, a.answered_at, a.ended_at, `+calledOffSQL+`, a.audio_started_ms
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
	for rows.Next() {
		var (
			id                                                  int64
			name, ref, ph, decision, reasons, pack, status, out string
			dtmf, amd, transfer, calledOff                      string
			recorded                                            bool
			no                                                  int
			until, answered, ended                              *time.Time
			created                                             time.Time
			consentID, audio                                    *int64
			cause                                               *int
		)
		if err := rows.Scan(&id, &name, &ref, &ph, &no, &decision, &until, &reasons, &pack, &consentID, &status, &out, &cause, &dtmf,
			&amd, &transfer, &recorded, &created, &answered, &ended, &calledOff, &audio); err != nil {
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
		rec := []string{strconv.FormatInt(id, 10), safeCell(name), safeCell(ref), ph, strconv.Itoa(no), decision, csvTime(until), reasons, pack,
			opt(consentID), status, out, opt(cause), safeCell(dtmf), amd, safeCell(transfer), strconv.FormatBool(recorded),
			csvTime(&created), csvTime(answered), csvTime(ended), calledOff, opt(audio)}
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

// csvTime writes an instant as a CSV cell: RFC 3339 in UTC, "" for nil.
func csvTime(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
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
//
// Each running campaign's launch checks run again first, as its start ran
// them: a campaign started under an earlier release's looser checks (one
// whose caller ID no admin has declared one of the firm's, rule F11, as
// every campaign saved before migration 00045), or under a configuration
// since changed (HEED_OPTOUT_NUMBER unset, so that its voicemail would
// leave a callback number that is not toll-free), would otherwise go on
// calling without them. One the checks now refuse
// is paused instead (audited as heed's change, with no user), and the
// report names it with the reasons; starting it again shows them too. A
// check that cannot run (the database) leaves the campaign running: the
// gate still decides every call.
func (s *Service) Resume(ctx context.Context) (ResumeReport, error) {
	var rep ResumeReport
	rows, err := s.db.Query(ctx, `SELECT id FROM campaigns WHERE status = 'running'`)
	if err != nil {
		return rep, fmt.Errorf("campaign: resume: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return rep, fmt.Errorf("campaign: resume: %w", err)
	}
	for _, id := range ids {
		var why *LaunchError
		if err := s.recheck(ctx, id); errors.As(err, &why) {
			tag, err := s.db.Exec(ctx, `UPDATE campaigns SET status = 'paused', updated_by = NULL, updated_at = now() WHERE id = $1 AND status = 'running'`, id)
			if err != nil {
				return rep, fmt.Errorf("campaign: resume %d: pause: %w", id, err)
			}
			if tag.RowsAffected() > 0 {
				rep.Paused = append(rep.Paused, PausedCampaign{ID: id, Why: why})
			}
			continue
		} else if err != nil {
			return rep, err
		}
		err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
			var gen int64
			err := tx.QueryRow(ctx, `UPDATE campaigns SET generation = generation + 1, updated_by = NULL, updated_at = now()
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
			rep.Resumed++
			return nil
		})
		if err != nil {
			return rep, fmt.Errorf("campaign: resume %d: %w", id, err)
		}
	}
	return rep, nil
}

// recheck runs running campaign id's launch checks again (Resume): it
// returns the *LaunchError of a campaign they refuse, nil for one they
// pass (or when no launch checks are configured, or they cannot run: the
// gate still decides every call), or another error when the campaign
// cannot be read.
func (s *Service) recheck(ctx context.Context, id int64) error {
	if s.Launch == nil {
		return nil
	}
	c, err := s.Get(ctx, id)
	if err != nil {
		return fmt.Errorf("campaign: resume %d: %w", id, err)
	}
	states, placed, err := s.reach(ctx, id)
	if err != nil {
		return fmt.Errorf("campaign: resume %d: %w", id, err)
	}
	var le *LaunchError
	if err := s.launchCheck(ctx, s.db, c, states, placed); errors.As(err, &le) {
		return le
	}
	return nil
}

// ResumeReport says what Resume did.
type ResumeReport struct {
	// Resumed is how many running campaigns got a new run job.
	Resumed int
	// Paused are the running campaigns whose launch checks now refuse
	// them, paused instead.
	Paused []PausedCampaign
}

// PausedCampaign is a running campaign Resume paused, and why.
type PausedCampaign struct {
	ID  int64
	Why *LaunchError
}

// actorKey is the context key of the user who makes a campaign change.
type actorKey struct{}

// WithActor returns a copy of ctx that names user userID as the author of
// the campaign changes made with it (Start, Pause, Cancel), which the
// audit log records as the campaign's updated_by. Without it, a change
// records no author.
func WithActor(ctx context.Context, userID int64) context.Context {
	return context.WithValue(ctx, actorKey{}, userID)
}

// actorOf returns the user WithActor put in ctx, or 0.
func actorOf(ctx context.Context) int64 {
	id, _ := ctx.Value(actorKey{}).(int64)
	return id
}

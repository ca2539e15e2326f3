package dialer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/heed-dialer/heed/consent"
	"github.com/heed-dialer/heed/internal/phone"
)

// ErrNotRunning reports a campaign that is not in the running state.
var ErrNotRunning = errors.New("campaign is not running")

// ErrNotDue reports that a target was no longer due when its attempt was
// to be recorded: after the pacer read it, a person withdrew it from the
// campaign (skipped it), the campaign's end expired it, or the campaign
// was paused or cancelled. Nothing is recorded and no call is placed.
var ErrNotDue = errors.New("the contact is no longer due in this campaign")

// ErrIndexBehind reports that a last look was not recorded: an opt-out of
// the number was taken that the gate's indexes did not yet hold, or, for
// an exact look (LastLook.Exact), the change log held changes they had not
// applied.
var ErrIndexBehind = errors.New("the database holds changes or opt-outs the gate's indexes have not applied")

// ErrCalledOff reports that the pacing loop's last look, right before a
// call was placed, refused it: the call was not placed.
var ErrCalledOff = errors.New("the last look before placing the call refused it")

// ErrHoldLost reports a lock or a lease a pacer relies on that it no
// longer holds: its database session ended (a dropped connection, a
// server-side timeout, a terminated backend), so another pacer may have
// taken it. A call whose hold is lost before it is placed is not placed.
var ErrHoldLost = errors.New("a lock or lease the pacer relies on is no longer held")

// Campaign is what the pacing loop needs to know of a campaign.
type Campaign struct {
	ID            int64
	Running       bool
	Generation    int64
	Purpose       consent.Purpose
	CallerID      string
	Message       string
	Audio         string
	MaxConcurrent int
	RingSeconds   int
	// Callback is the number the call gives for callbacks and opt-outs;
	// empty means CallerID.
	Callback string
	// CallsPerSecond caps how fast this campaign places calls; 0 means no
	// cap of its own (the Asterisk's own cap still holds).
	CallsPerSecond float64
	// AMD holds the answering-machine detection thresholds, zero fields
	// keeping the dialplan's defaults, and whether the campaign turns
	// detection off (AMD.Off).
	AMD AMDSettings
	// TransferTo is where key 2 connects the callee: a phone number, or a
	// PBX extension or queue; empty means key 2 is not offered.
	TransferTo string
	// Record turns call recording on; such calls announce it.
	Record bool
	// InjuryMatter reports a solicitation about personal-injury or
	// wrongful-death matters: each call waits 40 days after its contact's
	// accident, and a contact without an accident date is not called
	// (rule E1, consent.Input.InjuryMatter).
	InjuryMatter bool
}

// AMDSettings are a campaign's answering-machine detection: whether it
// runs, and the thresholds of Asterisk's AMD() application, in
// milliseconds except MaxWords and SilenceThreshold. A zero field keeps the
// dialplan's default.
type AMDSettings struct {
	InitialSilence       int `json:"initial_silence_ms,omitempty"`
	Greeting             int `json:"greeting_ms,omitempty"`
	AfterGreetingSilence int `json:"after_greeting_silence_ms,omitempty"`
	TotalAnalysisTime    int `json:"total_analysis_time_ms,omitempty"`
	MinWordLength        int `json:"min_word_length_ms,omitempty"`
	BetweenWordsSilence  int `json:"between_words_silence_ms,omitempty"`
	MaxWords             int `json:"max_words,omitempty"`
	SilenceThreshold     int `json:"silence_threshold,omitempty"`
	MaxWordLength        int `json:"max_word_length_ms,omitempty"`

	// Off turns detection off for the campaign's calls, on every Asterisk,
	// even one with an AMD context: the call plays the person's version
	// at once on answer, to a person and to an answering machine alike,
	// and the thresholds are ignored (kept for when it is turned on
	// again). The person's version leaves the toll-free opt-out number
	// that a voicemail must leave (rule F7; Script), as every call does.
	Off bool `json:"off,omitempty"`
}

// Variables returns the channel variables that carry the thresholds to the
// PBX dialplan (context heed-amd); zero fields are left out.
func (a AMDSettings) Variables() map[string]string {
	out := map[string]string{}
	for name, v := range map[string]int{
		"HEED_AMD_INITIAL_SILENCE": a.InitialSilence, "HEED_AMD_GREETING": a.Greeting,
		"HEED_AMD_AFTER_GREETING_SILENCE": a.AfterGreetingSilence, "HEED_AMD_TOTAL_ANALYSIS_TIME": a.TotalAnalysisTime,
		"HEED_AMD_MIN_WORD_LENGTH": a.MinWordLength, "HEED_AMD_BETWEEN_WORDS_SILENCE": a.BetweenWordsSilence,
		"HEED_AMD_MAX_WORDS": a.MaxWords, "HEED_AMD_SILENCE_THRESHOLD": a.SilenceThreshold, "HEED_AMD_MAX_WORD_LENGTH": a.MaxWordLength,
	} {
		if v > 0 {
			out[name] = strconv.Itoa(v)
		}
	}
	return out
}

// Target is one contact of a campaign that is due for an attempt.
type Target struct {
	CampaignID int64
	ContactID  int64
	AttemptNo  int
	Phone      phone.Number
	State      string
	ZIP        string
	// Message is the campaign's message template rendered with this
	// contact's fields; empty means the campaign's message as it is.
	Message string
	// Person is the contact's person reference (the firm's client or
	// debtor id), or "" when the contact has none. The caps and quiet
	// periods count a person's calls to every number of theirs; a contact
	// without a person counts the calls to its number alone.
	Person string
	// HistoryNumbers are the numbers whose calls the decision's history
	// counted: Phone and, when Person is set, the person's other numbers.
	// The pacing loop sets it, and the attempt row keeps it.
	HistoryNumbers []phone.Number
	// IndexSeq is the change-log position (index_changes.seq) the gate's
	// in-memory indexes had applied when the pacing loop decided the
	// target, or 0 when the gate does not say (IndexPositioner): the
	// consents, revocations and do-not-call entries up to it were in what
	// the decision read (later ones may have been too). The pacing loop
	// sets it, and the attempt row keeps it (not the Request, which the
	// gate reads for every decision).
	IndexSeq int64
	// Lists are the versions of the registry list copies the gate's
	// indexes held when the pacing loop decided the target, by list name,
	// or nil when the gate does not say (ListVersioner). The pacing loop
	// sets it, and the attempt row keeps it.
	Lists map[string]uint64
	// AccidentAt is when the contact's accident happened
	// (consent.AccidentInstant of its date), or zero: a solicitation
	// waits 40 days after it (rule E1).
	AccidentAt time.Time
	// Line is the type of the contact's line as its list gives it; the
	// pacing loop asks the gate about the call's line as CallLine reads it.
	Line consent.LineType
}

// Subject is whom an attempt history is counted for: a number, and the
// person behind it when the contact names one.
type Subject struct {
	// Phone is the number to be called.
	Phone phone.Number
	// Person is the person reference of the contact, or "" when unknown:
	// then only the calls to Phone count.
	Person string
}

// History is the attempt history of one Subject within a window.
type History struct {
	// Attempts are the calls placed to any of Numbers in the window, across
	// all campaigns, each once, in no particular order.
	Attempts []consent.Attempt
	// Numbers are the numbers whose calls Attempts holds: the subject's
	// number first, then every other number of any contact with the
	// subject's person reference, sorted.
	Numbers []phone.Number
}

// Store is the pacing loop's view of storage. The campaign package
// implements it over PostgreSQL.
type Store interface {
	// Campaign loads a campaign.
	Campaign(ctx context.Context, id int64) (Campaign, error)
	// Due returns up to limit pending targets whose next attempt is due.
	Due(ctx context.Context, campaignID int64, limit int, now time.Time) ([]Target, error)
	// Decide records an attempt and its decision before any call is placed,
	// and moves the target on: blocked targets are done, deferred ones wait
	// until the decision's Until, allowed ones are being dialed. A target
	// that is no longer pending gets no attempt: the error wraps ErrNotDue.
	Decide(ctx context.Context, t Target, req Request, d consent.Decision) (attemptID int64, err error)
	// History returns, for each subject, the calls placed since the given
	// time across all campaigns to its number and, when it names a person,
	// to every number of every contact with that person reference: out[i]
	// is subjects[i]'s.
	History(ctx context.Context, subjects []Subject, since time.Time) ([]History, error)
	// Look records the last look at an allowed attempt's call, right
	// before it is placed (LastLook), and reports whether the call may be
	// placed: the look allowed it and its campaign is still running. When
	// it may not, the attempt ends as called off (OutcomeCalledOff) and its
	// target moves on as the look decided (due again for when the campaign
	// runs again, when it was paused or cancelled). An attempt no longer
	// about to be placed gets no look: the error wraps ErrNotDue. A look
	// that allowed the call, taken while an opt-out of the number was
	// taken but not recorded, or, for an exact look (LastLook.Exact),
	// while the change log held changes beyond l.IndexSeq, is not
	// recorded: the error wraps ErrIndexBehind.
	Look(ctx context.Context, attemptID int64, l LastLook) (bool, error)
	// Progress records one step of a placed call.
	Progress(ctx context.Context, attemptID int64, ev CallEvent) error
	// RecordOptOut takes that the callee of an attempt pressed the
	// opt-out key, and records it: a revocation of every consent and an
	// internal do-not-call entry, in one transaction. Once taken, every
	// gate refuses the number from its next sync. It reports whether the
	// records are written yet (when not, they are written as soon as the
	// database allows); an error means the opt-out was not taken. A second
	// call for the same attempt takes nothing more.
	RecordOptOut(ctx context.Context, attemptID int64, p phone.Number) (recorded bool, err error)
	// OriginateFailed records that Asterisk refused the call at the given time.
	OriginateFailed(ctx context.Context, attemptID int64, at time.Time, cause error) error
	// NotPlaced records that the call of an attempt about to be placed
	// (status originating) was never placed, at the given time, for the
	// reason given in a few words: the attempt ends as called off
	// (OutcomeCalledOff), which counts as no call, and its target is due
	// again as it was before the attempt. An attempt no longer about to be
	// placed is left as it is.
	NotPlaced(ctx context.Context, attemptID int64, at time.Time, reason string) error
	// Unspoken records that the call of an attempt about to be placed was
	// not placed because its message could not be spoken, at the given
	// time: the first UnspokenTries times for its contact in its campaign
	// as NotPlaced does (reason NotSpoken), the contact due again after
	// UnspokenWait; after that as a failed call (OriginateFailed), which
	// counts, so that the campaign's retries and maximum of attempts end
	// a message that can never be said. It reports whether the attempt
	// counted.
	Unspoken(ctx context.Context, attemptID int64, at time.Time) (counted bool, err error)
	// Settle reports whether the run of the campaign's generation is over
	// and, if not, when its next target falls due. When nothing is left it
	// marks the campaign completed, unless the campaign is no longer
	// running that generation (paused, cancelled, or started again, for
	// example with contacts added): then the run is over without it.
	Settle(ctx context.Context, campaignID, generation int64) (done bool, next time.Time, err error)
}

// SubjectLocker is implemented by a Store that keeps pacers from deciding
// attempts to the same person at the same time. Without it, two campaigns
// (or two heed processes) due to call one person at once would each read
// the history without the other's call and could both call: two calls at
// once, or one more than a cap allows. A pacer whose Store is a
// SubjectLocker locks a batch's subjects before it reads their history and
// unlocks them once the batch's attempts are recorded and their calls
// placed, so the next pacer to decide for any of them counts those calls.
//
// A lock lives in a database session, which can end without the pacer
// hearing of it (a dropped connection, a server's idle timeout): then
// another pacer may lock the numbers and read a history without this
// batch's calls still to be recorded. So each call is placed only once
// its attempt is recorded and the lock is confirmed still held
// (Hold.Held): a pacer that locks the numbers after that point counts the
// call, and a batch whose lock was lost before it places no more calls.
type SubjectLocker interface {
	// LockSubjects waits until no other holder has any of the subjects
	// locked, then locks them all: each number, and every number of each
	// named person. Its SubjectLock's Unlock must be called once.
	LockSubjects(ctx context.Context, subjects []Subject) (SubjectLock, error)
}

// Hold is a lock or lease held in a database session: a batch's subjects
// (SubjectLock), a campaign's run lease.
type Hold interface {
	// Held returns nil when the hold is still held, and an error wrapping
	// ErrHoldLost when its session has ended, or when it cannot tell
	// (the database does not answer): the caller fails closed.
	Held(ctx context.Context) error
}

// SubjectLock is a batch's lock on its subjects (SubjectLocker).
type SubjectLock interface {
	Hold
	// Covers reports whether the lock holds each of numbers. A person's
	// numbers are read when the lock is taken and again when the history
	// is: a number given to the person in between (a contact import) is
	// counted but not locked.
	Covers(numbers []phone.Number) bool
	// Unlock releases the lock. Calling it again does nothing.
	Unlock()
}

// LastLook is the gate's decision on an allowed call asked again once a
// line is free for it, right before it is placed, with indexes that hold
// every change committed before the look (Exact): an opt-out, a revocation
// or a do-not-call entry that reached heed since the batch was decided, or
// a window that closed while the call waited for a line, stops the call.
type LastLook struct {
	// At is the instant the gate decided for, by the pacer's clock.
	At time.Time
	// Decision is the gate's.
	Decision consent.Decision
	// IndexSeq is the change-log position the gate's indexes had applied
	// (0 when the gate does not say; IndexPositioner).
	IndexSeq int64
	// Exact asks Store.Look to record a look that allowed the call only
	// when the change log held nothing beyond IndexSeq: every change
	// committed before the look was then in what the gate read. Otherwise
	// Look records nothing and returns an error wrapping ErrIndexBehind.
	// (Every look that allowed the call, exact or not, is refused so while
	// an opt-out of the number is taken but not yet recorded.)
	Exact bool
}

// OptOutHolder is implemented by a gate that can refuse a number as on the
// internal do-not-call list before its opt-out is taken: the pacer holds a
// key-press opt-out it is still trying to take (PolicyGate.HoldOptOut).
type OptOutHolder interface {
	// HoldOptOut refuses n until release is called.
	HoldOptOut(n phone.Number) (release func())
}

// followBound is how long a Run that stops while its process goes on (its
// campaign paused, completed, or started again) follows its calls in
// flight: past the longest a call can last (callLimit, after which
// Asterisk hangs it up itself). The run holds the campaign's lease all
// the while, so a run of the campaign in another process, whose recovery
// would take a call it finds in flight for one a dead process left and
// hang it up, cannot start before every call of this run has ended;
// unless the lease itself was lost (ErrHoldLost), when another run may
// take the campaign while this one follows its calls.
func followBound(ringSeconds int) time.Duration {
	return callLimit(CallRequest{RingSeconds: ringSeconds}) + followMargin
}

// followMargin is how long past a call's limit followBound waits for its
// end to be heard.
const followMargin = 30 * time.Second

// stopFollow is how long a Run whose job is being stopped follows its
// calls in flight before it returns.
const stopFollow = 30 * time.Second

// Snooze is returned by Pacer.Run when the campaign has targets left but
// none is due before Until, which is After from now by the pacer's clock.
type Snooze struct {
	Until time.Time
	After time.Duration
}

func (s *Snooze) Error() string { return "nothing due until " + s.Until.Format(time.RFC3339) }

// Pacer is the pacing loop: it takes due targets, asks the gate, records
// each attempt, and places the allowed calls within the concurrency limit.
type Pacer struct {
	Gate  Gate
	Store Store
	Lines Lines
	// Media makes the audio the calls play; Media (espeak-ng and sox) is
	// heed's. A pacer that only previews decisions needs none.
	Media Audio
	Log   *slog.Logger
	// Tick is how often the loop looks for due targets while calls are in
	// flight; zero means 250 ms.
	Tick time.Duration
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// Firm is the firm's registered name, which every call says first.
	Firm string
	// OptOutNumber is the toll-free number that takes opt-outs, left on
	// answering machines (F7); empty means the campaign's callback number.
	OptOutNumber string

	// Overrides looks up the logged overrides (rules R1, E1) in force for a
	// batch's numbers; nil honours none, so the floors apply.
	Overrides OverrideSource
	// Reassigned looks up the Reassigned Numbers Database's answers for a
	// batch's numbers (rule F15); nil reads none.
	Reassigned ReassignedSource

	mu       sync.Mutex
	nextSlot map[int64]time.Time // per campaign: when its next call may go
	flights  map[int64]*flight   // per campaign: its calls in flight
	// settling holds the attempts whose calls never rang and whose
	// records the pacer keeps trying to write (settle): followed, but no
	// call in flight.
	settling map[int64]struct{}
	// followFor, when not zero, is how long Run follows its calls in
	// flight before it returns, rather than its usual bounds (tests).
	followFor time.Duration
	// stopFollowFor, when not zero, stands for stopFollow (tests).
	stopFollowFor time.Duration
	// The pacer's own lifetime (lifetime), which Drain ends, and the
	// background work within it (background).
	life     context.Context
	endLife  context.CancelFunc
	draining bool
	bg       sync.WaitGroup
}

// ReassignedSource looks up the Reassigned Numbers Database's answers;
// consent.ReassignedStore is one.
type ReassignedSource interface {
	Reassigned(ctx context.Context, phones []phone.Number, at time.Time) (map[phone.Number]time.Time, error)
}

// OverrideSource looks up logged overrides; consent.OverrideStore is one.
type OverrideSource interface {
	Active(ctx context.Context, phones []phone.Number, at time.Time) (map[phone.Number]consent.OverrideFlags, error)
}

// Run dials the campaign until it is complete, paused, superseded by a newer
// generation, or has nothing due (then it returns *Snooze). Calls in flight
// are followed to their end before Run returns, for a bounded time; calls
// still up after it stay counted for the campaign's next Run of this
// pacer, which places no more calls at once than the campaign allows.
// While its Lines say no Asterisk is up (LineStatus), it takes no contact.
func (p *Pacer) Run(ctx context.Context, campaignID, generation int64) error {
	return p.RunHeld(ctx, campaignID, generation, nil)
}

// RunHeld is Run for a run that holds the campaign's lease, which keeps
// other runs of the campaign from dialing at once and from closing its
// calls in flight as left by a dead process. Each call is placed only
// once the lease is confirmed still held (Hold.Held), after its attempt is
// recorded; once it is lost, RunHeld places no more calls and returns an
// error wrapping ErrHoldLost, as soon as its calls in flight are followed
// to their end. lease nil means no lease (tests, and heed's own tools).
func (p *Pacer) RunHeld(ctx context.Context, campaignID, generation int64, lease Hold) error {
	now := p.Now
	if now == nil {
		now = time.Now
	}
	tick := p.Tick
	if tick == 0 {
		tick = 250 * time.Millisecond
	}
	log := p.Log.With("campaign", campaignID)
	c, err := p.Store.Campaign(ctx, campaignID)
	if err != nil {
		return fmt.Errorf("pacer: load campaign: %w", err)
	}
	msg, err := p.audio(ctx, c)
	if err != nil {
		return err
	}
	defer p.joinFlight(campaignID)()
	// waitAll follows the calls in flight to their end, for a bounded
	// time (followBound), shorter when the job is being stopped; calls
	// still up after that are left to the campaign's next Run, or to
	// recovery on the next start.
	waited := false
	waitAll := func() {
		if waited {
			return
		}
		waited = true
		wait, onStop := followBound(c.RingSeconds), stopFollow
		if p.stopFollowFor != 0 {
			onStop = p.stopFollowFor
		}
		if ctx.Err() != nil {
			wait = onStop
		}
		if p.followFor != 0 {
			wait = p.followFor
		}
		deadline := time.Now().Add(wait)
		limit := time.NewTimer(wait)
		defer limit.Stop()
		stopping := ctx.Done()
		for {
			n, landed := p.inFlight(campaignID)
			if n == 0 {
				return
			}
			select {
			case <-landed:
			case <-stopping:
				// The job is being stopped while it follows its calls
				// (after a pause): it follows them stopFollow more at most.
				stopping = nil
				if time.Until(deadline) > onStop {
					limit.Reset(onStop)
				}
			case <-limit.C:
				log.Warn("pacer: calls still in flight at stop", "calls", n)
				return
			}
		}
	}
	defer waitAll()
	linesUp := true
	for {
		c, err = p.Store.Campaign(ctx, campaignID)
		if err != nil {
			return fmt.Errorf("pacer: load campaign: %w", err)
		}
		if !c.Running || c.Generation != generation {
			log.Info("pacer: stopping", "running", c.Running, "generation", c.Generation)
			waitAll()
			return nil
		}
		wait := tick
		inflight, landed := p.inFlight(campaignID)
		up := true
		if ls, ok := p.Lines.(LineStatus); ok {
			up = ls.Up()
		}
		if up != linesUp {
			if !up {
				log.Warn("pacer: no Asterisk is up; no contact is taken until one is", "retry_in", StaleWait)
			} else {
				log.Info("pacer: an Asterisk is up again")
			}
			linesUp = up
		}
		if !up {
			wait = StaleWait
		} else if free := c.MaxConcurrent - inflight; free > 0 {
			targets, err := p.Store.Due(ctx, campaignID, free, now())
			if err != nil {
				return fmt.Errorf("pacer: due targets: %w", err)
			}
			hold, err := p.batch(ctx, c, targets, now(), msg, lease)
			if err != nil {
				return err
			}
			if hold {
				wait = StaleWait
			}
			if len(targets) == 0 && inflight == 0 {
				finished, next, err := p.Store.Settle(ctx, campaignID, generation)
				if err != nil {
					return fmt.Errorf("pacer: settle: %w", err)
				}
				if finished {
					log.Info("pacer: campaign complete")
					return nil
				}
				return &Snooze{Until: next, After: next.Sub(now())}
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("pacer: %w", ctx.Err())
		case <-landed:
			// A call ended. The next batch takes every other end that came
			// meanwhile (inFlight), so it fills all the free lines at once
			// and its fixed cost (campaign, due targets, index sync,
			// history) is paid once for them all.
		case <-time.After(wait):
		}
	}
}

// The keys of the call's menu.
const (
	// OptOutKey stops calls (F7: a key-press opt-out).
	OptOutKey = "9"
	// ConfirmKey confirms the appointment or date the message is about.
	ConfirmKey = "1"
	// OfficeKey connects the callee to the office, when the campaign has a
	// transfer target.
	OfficeKey = "2"
	// RepeatKey plays the message again.
	RepeatKey = "*"
)

// maxRepeats is how often one call plays its message again on request.
const maxRepeats = 3

// messages is the audio of a campaign's calls, apart from the message
// itself, which may differ for each contact.
type messages struct {
	message string   // the campaign's message, when it is the same for all
	opening []string // identification, recording notice, opt-out offer
	menu    []string // the keys, then a pause to press one
	// menuOffice is menu with key 2 (the office) offered: a call says it
	// when its campaign, as last loaded, has a transfer target, which the
	// store withdraws and restores as the campaign's abandoned calls come
	// and go (rule F10).
	menuOffice []string
	closing    []string // the callback number and goodbye
	confirmed  []string // after the confirm key
	hold       []string // before a transfer
	abandoned  []string // a transfer no one at the office answered (F10)
	optedOut   []string // after the opt-out key, before the hang-up
	vmOpening  []string // the voicemail version's start and end
	vmClosing  []string
}

// menuFor returns the menu a call of campaign c says: key 2 is offered
// exactly when the call's key handler honours it.
func (m messages) menuFor(c Campaign) []string {
	if c.TransferTo != "" {
		return m.menuOffice
	}
	return m.menu
}

// CallText is what a campaign's calls say around the message, as text:
// the launch checks read it. The call plays Opening, the message, Menu and
// Closing; an answering machine gets VoicemailOpening, the message and
// VoicemailClosing. OptedOut is all that follows the opt-out key before
// heed hangs up (F7: at once; C4: within 10 s).
type CallText struct {
	Opening, Menu, Closing, Confirmed, Hold, Abandoned, OptedOut string
	VoicemailOpening, VoicemailClosing                           string
}

// Call returns the whole call as a person hears it when no key is pressed.
func (t CallText) Call(message string) string {
	return strings.Join(t.played(message), " ")
}

// Voicemail returns what an answering machine is left.
func (t CallText) Voicemail(message string) string {
	return t.VoicemailOpening + " " + message + " " + t.VoicemailClosing
}

// Script returns the text of a campaign's calls for a firm. optOutNumber is
// the toll-free number left on answering machines (F7); empty means the
// campaign's callback number. An answering machine may hear the call itself,
// not the voicemail version, wherever detection does not say MACHINE: a
// campaign that turns it off (c.AMD.Off), an Asterisk that runs none, a
// NOTSURE verdict, a HUMAN verdict on a machine with a short greeting, a
// failed Continue into the AMD context. So the call's closing leaves that
// number too, as does the abandoned-call message (which an orphan plays at
// once, with no detection): at the end, which a machine records after its
// greeting, and not in the opening, which would put the purpose (said in
// the message) later than a Connecticut sales call may (rule C4).
func Script(c Campaign, firm, optOutNumber string) CallText {
	callback := c.Callback
	if callback == "" {
		callback = c.CallerID
	}
	if optOutNumber == "" {
		optOutNumber = callback
	}
	var t CallText
	t.Opening = "Hello. This is a message from " + firm + ". To stop these calls, press " + OptOutKey + " at any time."
	if c.Record {
		t.Opening += " This call is recorded."
	}
	t.Menu = menuText(c.TransferTo != "")
	t.Closing = "To reach us, call " + spokenNumber(callback) + ". To stop these calls, call " + spokenNumber(optOutNumber) + ". Goodbye."
	t.Confirmed = "Thank you. Your confirmation is recorded. " + t.Closing
	t.Hold = "Please hold while we connect you to our office."
	t.Abandoned = "We are sorry. No one at " + firm + " can take your call right now. Please call us at " + spokenNumber(callback) +
		". To stop these calls, press " + OptOutKey + ", or call " + spokenNumber(optOutNumber) + "."
	// Under 2 s of speech, then heed hangs up (F7: at once). The opt-out
	// is taken meanwhile, in the background: the caller never waits for
	// the database, and is never told that a request heed keeps failed.
	t.OptedOut = "You will get no more of these calls."
	// A person whom answering-machine detection takes for a machine hears
	// this version, and the switch honours keys while it plays: it offers
	// the opt-out key right after the identification, as the call does
	// (F7), with the toll-free number for a machine's listener.
	t.VoicemailOpening = "Hello. This is a message from " + firm + ". To stop these calls, press " + OptOutKey + " now, or call " +
		spokenNumber(optOutNumber) + "."
	t.VoicemailClosing = "To reach us, call " + spokenNumber(callback) + ". To stop these calls, call " + spokenNumber(optOutNumber) +
		". Again, to stop these calls, call " + spokenNumber(optOutNumber) + "."
	if c.Purpose == consent.PurposeSolicitation {
		// A recorded solicitation says so at its start and at its end (E1).
		const ad = "Advertising Material."
		t.Opening, t.VoicemailOpening = ad+" "+t.Opening, ad+" "+t.VoicemailOpening
		t.Closing, t.VoicemailClosing = t.Closing+" "+ad, t.VoicemailClosing+" "+ad
		t.Confirmed = t.Confirmed + " " + ad
	}
	return t
}

// menuText is the menu's text, with key 2 (the office) offered when
// office is set.
func menuText(office bool) string {
	menu := "To confirm, press " + ConfirmKey + "."
	if office {
		menu += " To speak with our office, press " + OfficeKey + "."
	}
	return menu + " To hear this message again, press star. To stop these calls, press " + OptOutKey + "."
}

// audio prepares a campaign's audio: everything the call says around the
// message, and the message itself when it is the same for every contact.
func (p *Pacer) audio(ctx context.Context, c Campaign) (messages, error) {
	var m messages
	if p.Firm == "" {
		return m, fmt.Errorf("pacer: %w", ErrNoFirm)
	}
	if c.Audio != "" {
		msg, err := p.Media.Recorded(c.Audio)
		if err != nil {
			return m, fmt.Errorf("pacer: message audio: %w", err)
		}
		m.message = msg
	}
	t := Script(c, p.Firm, p.OptOutNumber)
	speak := func(what string, texts ...string) ([]string, error) {
		out := make([]string, len(texts))
		for i, text := range texts {
			var err error
			if out[i], err = p.Media.Speak(ctx, text); err != nil {
				return nil, fmt.Errorf("pacer: %s audio: %w", what, err)
			}
		}
		return out, nil
	}
	var err error
	if m.opening, err = speak("opening", t.Opening); err != nil {
		return m, err
	}
	// Both menus: each call says the one its campaign offers when it is
	// placed (messages.menuFor).
	if m.menu, err = speak("menu", menuText(false)); err != nil {
		return m, err
	}
	if m.menuOffice, err = speak("menu", menuText(true)); err != nil {
		return m, err
	}
	pause, err := p.Media.Silence(ctx, menuPause)
	if err != nil {
		return m, fmt.Errorf("pacer: pause: %w", err)
	}
	m.menu, m.menuOffice = append(m.menu, pause), append(m.menuOffice, pause)
	for _, part := range []struct {
		dst  *[]string
		what string
		text string
	}{
		{&m.closing, "closing", t.Closing}, {&m.confirmed, "confirmation", t.Confirmed}, {&m.hold, "hold", t.Hold},
		{&m.abandoned, "abandoned-call", t.Abandoned}, {&m.optedOut, "opt-out confirmation", t.OptedOut},
		{&m.vmOpening, "voicemail opening", t.VoicemailOpening}, {&m.vmClosing, "voicemail closing", t.VoicemailClosing},
	} {
		if *part.dst, err = speak(part.what, part.text); err != nil {
			return m, err
		}
	}
	// A pause after the abandoned-call message leaves time to press 9.
	short, err := p.Media.Silence(ctx, 3)
	if err != nil {
		return m, fmt.Errorf("pacer: pause: %w", err)
	}
	m.abandoned = append(m.abandoned, short)
	if c.Audio == "" && !strings.Contains(c.Message, "{") {
		if m.message, err = p.Media.Speak(ctx, c.Message); err != nil {
			return m, fmt.Errorf("pacer: message audio: %w", err)
		}
	}
	return m, nil
}

// ErrNoFirm reports that the firm's name, which every call says first, is
// not configured.
var ErrNoFirm = errors.New("the firm's registered name is not configured; every call must say it first")

// spokenNumber writes a NANP number so text-to-speech reads it digit by
// digit, in its usual groups: "8 6 0, 5 5 5, 0 1 0 0".
func spokenNumber(e164 string) string {
	d := strings.TrimPrefix(e164, "+1")
	if len(d) != 10 {
		return strings.Join(strings.Split(strings.TrimPrefix(e164, "+"), ""), " ")
	}
	sp := func(s string) string { return strings.Join(strings.Split(s, ""), " ") }
	return sp(d[:3]) + ", " + sp(d[3:6]) + ", " + sp(d[6:])
}

func (p *Pacer) clock() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

// HistoryWindow is how far back the pacing loop reads attempt history for
// the caps (the longest cap window of the law packs is 30 days).
const HistoryWindow = 31 * 24 * time.Hour

// heldBack reports which targets of a decided batch wait for the next
// batch: each target whose history counts a number that an earlier target
// of the batch is called on. The batch's decisions all read the history as
// it was before the batch, so such a target decided with the others would
// miss that call: one person's two numbers, one number twice, or a number
// that one contact names without a person reference while another names it
// with one. A target held back gets no attempt and stays due: the next
// batch decides it with this batch's calls in its history. decide has set
// each target's HistoryNumbers.
func heldBack(targets []Target, decisions []consent.Decision) []bool {
	held := make([]bool, len(targets))
	var called map[phone.Number]bool // the numbers of the targets called so far
	for i, t := range targets {
		if called[t.Phone] || slices.ContainsFunc(t.HistoryNumbers, func(n phone.Number) bool { return called[n] }) {
			held[i] = true
			continue
		}
		if decisions[i].Allowed() {
			if called == nil {
				called = map[phone.Number]bool{}
			}
			called[t.Phone] = true
		}
	}
	return held
}

// decide syncs the gate's indexes, when it has any, loads the attempt
// history, the logged overrides and the Reassigned Numbers Database's
// answers of a batch's numbers in one query each,
// and decides the whole batch at the same instant: at once when the gate
// decides batches, one by one otherwise. Each target's history counts its
// person's calls to all their numbers when it names a person; decide sets
// the target's HistoryNumbers to the numbers counted. subjects[i] is
// targets[i]'s (subjectsOf).
func (p *Pacer) decide(ctx context.Context, c Campaign, targets []Target, subjects []Subject, at time.Time) ([]Request, []consent.Decision, error) {
	return p.decideAs(ctx, c, nil, consent.MethodPrerecorded, "", targets, subjects, at)
}

// decideAs is decide for calls placed by method to lines of type line, or
// when line is "" to each target's line as CallLine reads it (the pacing
// loop's calls are prerecorded, to the line its contact's list gives), for
// the purpose
// purposes[i] for targets[i] when purposes is not nil (Preview), c.Purpose
// for each otherwise.
func (p *Pacer) decideAs(ctx context.Context, c Campaign, purposes []consent.Purpose, method consent.Method, line consent.LineType, targets []Target, subjects []Subject, at time.Time) ([]Request, []consent.Decision, error) {
	if len(targets) == 0 {
		return []Request{}, []consent.Decision{}, nil
	}
	p.syncGate(ctx)
	// Read before the gate takes its snapshots, so every record up to it
	// is in what the gate reads.
	var seq int64
	if ip, ok := p.Gate.(IndexPositioner); ok {
		seq = ip.IndexSeq()
	}
	var (
		lists     map[string]uint64
		unchanged = func() bool { return true }
	)
	if lv, ok := p.Gate.(ListVersioner); ok {
		lists, unchanged = lv.ListVersions()
	}
	phones := make([]phone.Number, len(targets))
	for i, t := range targets {
		phones[i] = t.Phone
	}
	history, err := p.Store.History(ctx, subjects, at.Add(-HistoryWindow))
	if err != nil {
		return nil, nil, fmt.Errorf("pacer: attempt history: %w", err)
	}
	if len(history) != len(targets) {
		return nil, nil, fmt.Errorf("pacer: attempt history: %d histories for %d targets", len(history), len(targets))
	}
	lineOf := func(t *Target, pu consent.Purpose) consent.LineType {
		if line != "" {
			return line
		}
		return CallLine(pu, t.Line)
	}
	// Look up only the facts the batch's decisions can read, by purpose,
	// method and line (a gate that cannot say gets them all).
	needs := consent.FactNeeds{Overrides: true, Reassigned: true}
	if fr, ok := p.Gate.(FactReader); ok {
		needs = consent.FactNeeds{}
		for i := range targets {
			pu := c.Purpose
			if purposes != nil {
				pu = purposes[i]
			}
			n := fr.Reads(pu, method, lineOf(&targets[i], pu))
			needs.Overrides, needs.Reassigned = needs.Overrides || n.Overrides, needs.Reassigned || n.Reassigned
		}
	}
	var overrides map[phone.Number]consent.OverrideFlags
	if p.Overrides != nil && needs.Overrides {
		if overrides, err = p.Overrides.Active(ctx, phones, at); err != nil {
			return nil, nil, fmt.Errorf("pacer: logged overrides: %w", err)
		}
	}
	var reassigned map[phone.Number]time.Time
	if p.Reassigned != nil && needs.Reassigned {
		if reassigned, err = p.Reassigned.Reassigned(ctx, phones, at); err != nil {
			return nil, nil, fmt.Errorf("pacer: reassigned numbers: %w", err)
		}
	}
	reqs := make([]Request, len(targets))
	for i, t := range targets {
		purpose := c.Purpose
		if purposes != nil {
			purpose = purposes[i]
		}
		reqs[i] = Request{
			Phone: t.Phone, Purpose: purpose, Method: method, Line: lineOf(&t, purpose),
			State: t.State, ZIP: t.ZIP, At: at, CampaignID: c.ID, ContactID: t.ContactID, History: history[i].Attempts,
			Overrides: overrides[t.Phone].At(at), ReassignedAt: reassigned[t.Phone],
			InjuryMatter: c.InjuryMatter, AccidentAt: t.AccidentAt,
		}
		targets[i].HistoryNumbers, targets[i].IndexSeq = history[i].Numbers, seq
	}
	decisions := make([]consent.Decision, len(reqs))
	if bg, ok := p.Gate.(BatchGate); ok {
		bg.CheckBatch(ctx, reqs, decisions)
	} else {
		for i := range reqs {
			decisions[i] = p.Gate.Check(ctx, reqs[i])
		}
	}
	if !unchanged() {
		lists = nil // a copy was installed while the batch was decided
	}
	for i := range targets {
		targets[i].Lists = lists
	}
	return reqs, decisions, nil
}

// batch decides a batch of targets at instant at, records each attempt
// and places the allowed calls (each in flight, inFlight, until its end is
// recorded), and returns whether the loop should wait StaleWait before
// the next batch: the gate failed closed on stale indexes for some
// target, or a call could not be placed. Targets held back (heldBack) or failed closed
// (consent.Decision.FailedClosed: a state of heed, not of the number) get
// no attempt and stay due. Once a call could not be placed (no Asterisk
// was up, its last look could not be recorded), its attempt is recorded
// as not placed and the targets after it get none.
// When the Store is a SubjectLocker, it holds the targets' subjects locked
// from before their history is read until every attempt is recorded and
// its call placed (the call is in the history from its attempt's record
// on).
func (p *Pacer) batch(ctx context.Context, c Campaign, targets []Target, at time.Time, msg messages, lease Hold) (hold bool, err error) {
	subjects := subjectsOf(targets)
	holds := make([]Hold, 0, 2)
	if lease != nil {
		holds = append(holds, lease)
	}
	var lock SubjectLock
	if l, ok := p.Store.(SubjectLocker); ok && len(targets) > 0 {
		if lock, err = l.LockSubjects(ctx, subjects); err != nil {
			return false, fmt.Errorf("pacer: lock the batch's numbers: %w", err)
		}
		defer lock.Unlock()
		holds = append(holds, lock)
	}
	reqs, decisions, err := p.decide(ctx, c, targets, subjects, at)
	if err != nil {
		return false, err
	}
	held := heldBack(targets, decisions)
	waiting := 0
	for i, t := range targets {
		if held[i] {
			p.Log.Debug("pacer: contact waits for the next batch, which counts this batch's call", "campaign", t.CampaignID, "contact", t.ContactID)
			continue
		}
		if lock != nil && !lock.Covers(targets[i].HistoryNumbers) {
			// The history counted a number given to the person after the
			// lock was taken: another pacer may call it meanwhile. The
			// next batch locks it too.
			p.Log.Info("pacer: a number of the contact's person is not locked; the contact waits for the next batch", "campaign", t.CampaignID, "contact", t.ContactID)
			continue
		}
		if decisions[i].FailedClosed() {
			waiting++
			continue
		}
		err := p.attempt(ctx, c, t, reqs[i], decisions[i], msg, holds)
		if errors.Is(err, errNotPlaced) && lease != nil {
			if lerr := lease.Held(ctx); lerr != nil {
				// The run no longer holds the campaign: another run may
				// be dialing it. This one stops.
				return false, fmt.Errorf("pacer: campaign %d: %w", c.ID, lerr)
			}
		}
		if errors.Is(err, errNotPlaced) {
			p.Log.Warn("pacer: a call could not be placed; the batch stops, and its contacts stay due",
				"campaign", c.ID, "err", err, "retry_in", StaleWait)
			return true, nil
		}
		if err != nil {
			return waiting > 0, err
		}
	}
	if waiting > 0 {
		p.Log.Warn("pacer: the gate's indexes cannot confirm they are current; no call is placed until they do, and the contacts stay due",
			"campaign", c.ID, "contacts", waiting, "retry_in", StaleWait)
	}
	return waiting > 0, nil
}

// StaleWait is how long the pacing loop waits before it tries again when
// the gate failed closed because its indexes could not confirm they were
// current (index.stale), or when a call could not be placed (no Asterisk
// was up, its last look could not be recorded).
const StaleWait = 5 * time.Second

// subjectsOf returns whom each target's history is counted for, and
// whose numbers are locked while the batch is decided.
func subjectsOf(targets []Target) []Subject {
	subjects := make([]Subject, len(targets))
	for i, t := range targets {
		subjects[i] = Subject{Phone: t.Phone, Person: t.Person}
	}
	return subjects
}

// attempt records one decided target's attempt and, when allowed, places
// the call, which is in flight (inFlight) from just before it is placed
// until its end is recorded.
func (p *Pacer) attempt(ctx context.Context, c Campaign, t Target, req Request, d consent.Decision, msg messages, holds []Hold) error {
	id, err := p.Store.Decide(ctx, t, req, d)
	if errors.Is(err, ErrNotDue) {
		p.Log.Info("pacer: contact no longer due (withdrawn, expired, or the campaign paused or cancelled)", "campaign", t.CampaignID, "contact", t.ContactID)
		return nil
	}
	if err != nil {
		return fmt.Errorf("pacer: record attempt: %w", err)
	}
	if !d.Allowed() {
		return nil
	}
	msgMedia := msg.message
	if t.Message != "" && c.Audio == "" {
		if msgMedia, err = p.Media.Speak(ctx, t.Message); err != nil {
			p.Log.Error("pacer: message audio for a contact", "attempt", id, "err", err)
		}
	}
	if msgMedia == "" {
		// Nothing to say: the call is not placed. A job stopping meanwhile
		// is why, as notPlaced says; otherwise the contact is due again
		// after UnspokenWait (Store.Unspoken), so that a message that
		// cannot be said holds back neither the batch nor the campaign's
		// other contacts.
		now := p.clock()
		if reason, ok := notPlaced(ctx, ctx.Err(), lookNone); ok {
			if err := p.settle(id, "a call not placed", func(ctx context.Context) error {
				return p.Store.NotPlaced(ctx, id, now, reason)
			}); err != nil {
				return fmt.Errorf("pacer: record a call not placed: %w", err)
			}
			return fmt.Errorf("%w: %s", errNotPlaced, reason)
		}
		var counted bool
		if err := p.settle(id, "a call without audio", func(ctx context.Context) (err error) {
			counted, err = p.Store.Unspoken(ctx, id, now)
			return err
		}); err != nil {
			return fmt.Errorf("pacer: record a call without audio: %w", err)
		}
		if counted {
			p.Log.Warn("pacer: the message still cannot be spoken; the attempt counts as a failed call", "attempt", id, "tries", UnspokenTries+1)
		}
		return nil
	}
	var (
		endReported atomic.Bool
		optOut      keyedOptOut
	)
	report := func(ev CallEvent) {
		// Times are the pacer's, like the due times they are compared with.
		ev.At = p.clock()
		if ev.Kind == EventEnded {
			endReported.Store(true)
			keyed, kept := optOut.end(strings.Contains(ev.DTMF, OptOutKey) && ev.Outcome != OutcomeOptedOut)
			switch {
			case keyed && optOut.wait():
				// The opt-out key's take, which the call did not wait
				// for, is done: the call ends opted out, as it always
				// did once its opt-out was taken. One not taken yet is
				// being tried again, and the call keeps its own
				// outcome, whose keys RecoverOptOuts reads should heed
				// stop before a try succeeds.
				// An abandoned call (no one at the office joined) keeps
				// the office it waited for: the campaign's abandonment
				// rate counts it (rule F10).
				if ev.Outcome != OutcomeAbandoned {
					ev.TransferTo = ""
				}
				ev.Outcome = OutcomeOptedOut
			case kept:
				p.takeKeptOptOut(id, t.Phone)
			}
			p.recordEnd(c.ID, id, t.Phone, ev)
			return
		}
		// Progress is written with its own context: a stopping job must
		// still record how its calls go.
		wctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := p.Store.Progress(wctx, id, ev); err != nil {
			p.Log.Error("pacer: record call progress", "attempt", id, "err", err)
		}
	}
	// The menu offers key 2 as the campaign does now (its transfer target
	// may have been withdrawn since the Run began): onKey honours what
	// the menu said.
	menu := msg.menuFor(c)
	again := concat([]string{msgMedia}, menu, msg.closing)
	repeats := 0
	onKey := func(digit string) KeyResponse {
		if optOut.keyed() {
			// Nothing follows the opt-out key but its confirmation and
			// the hang-up: no office, no message again.
			return KeyResponse{}
		}
		switch digit {
		case OptOutKey:
			// F7: record the opt-out and hang up at once; C4: end the
			// call within 10 s of being asked to. The gate refuses the
			// number from now on, and the opt-out is taken in the
			// background, tried again for as long as the database
			// refuses it; the caller hears the short confirmation and
			// heed hangs up, whatever the database does.
			if !optOut.key() {
				return KeyResponse{} // the call's end took it already
			}
			p.takeOptOutSoon(id, t.Phone, "during the call", optOut.tried)
			return KeyResponse{Media: msg.optedOut}
		case ConfirmKey:
			return KeyResponse{Media: msg.confirmed, Outcome: OutcomeConfirmed}
		case OfficeKey:
			if c.TransferTo != "" {
				return KeyResponse{Media: msg.hold, TransferTo: c.TransferTo}
			}
		case RepeatKey:
			if repeats < maxRepeats {
				repeats++
				return KeyResponse{Media: again}
			}
		}
		return KeyResponse{}
	}
	p.space(ctx, c)
	var look atomic.Int32 // lookNone, lookFailed or lookAllowed
	p.takeOff(c.ID, id)
	err = p.Lines.Place(ctx, CallRequest{
		AttemptID: id, To: t.Phone, CallerID: c.CallerID, RingSeconds: c.RingSeconds, Variables: c.AMD.Variables(), NoDetection: c.AMD.Off,
		Media:     concat(msg.opening, []string{msgMedia}, menu, msg.closing),
		Voicemail: concat(msg.vmOpening, []string{msgMedia}, msg.vmClosing),
		Abandoned: msg.abandoned, OnKey: onKey, Record: c.Record,
		Ready: func(ctx context.Context) error {
			// The attempt is recorded: a pacer that takes the numbers'
			// lock, or the campaign's lease, from now on counts the call.
			// Both must still be held now, or another pacer may have
			// decided without it.
			for _, h := range holds {
				if err := h.Held(ctx); err != nil {
					p.Log.Warn("pacer: a lock or lease the call relies on was lost; the call is not placed", "attempt", id, "err", err)
					return err
				}
			}
			err := p.lastLook(ctx, id, req)
			if err == nil {
				look.Store(lookAllowed)
			} else {
				look.CompareAndSwap(lookNone, lookFailed) // an allowed look stays so
			}
			return err
		},
	}, report)
	if err != nil && !endReported.Load() {
		// Not placed, or refused: no end will be reported.
		p.scrub(c.ID, id)
	}
	if errors.Is(err, ErrCalledOff) {
		p.Log.Info("pacer: the last look called the call off", "attempt", id, "err", err)
		return nil
	}
	if reason, ok := notPlaced(ctx, err, look.Load()); ok {
		p.Log.Warn("pacer: call not placed; the contact stays due", "attempt", id, "reason", reason, "err", err)
		now := p.clock()
		if rerr := p.settle(id, "a call not placed", func(ctx context.Context) error {
			return p.Store.NotPlaced(ctx, id, now, reason)
		}); rerr != nil {
			return fmt.Errorf("pacer: record a call not placed: %w", rerr)
		}
		return fmt.Errorf("%w: %s", errNotPlaced, reason)
	}
	if err != nil {
		p.Log.Warn("pacer: originate failed", "attempt", id, "err", err)
		now, why := p.clock(), err
		if err := p.settle(id, "a call Asterisk refused", func(ctx context.Context) error {
			return p.Store.OriginateFailed(ctx, id, now, why)
		}); err != nil {
			return fmt.Errorf("pacer: record originate failure: %w", err)
		}
		return nil
	}
	return nil
}

// UnspokenWait is how long a contact whose message could not be spoken
// (its text-to-speech failed) waits before the pacing loop takes it again.
const UnspokenWait = 10 * time.Minute

// UnspokenTries is how many times a contact's call is not placed, and
// counts as no call, because its message could not be spoken, before the
// next such call counts as a failed one (Store.Unspoken).
const UnspokenTries = 3

// NotSpoken is the reason an attempt gives for a call not placed because
// its message could not be spoken.
const NotSpoken = "its message could not be spoken"

// errNotPlaced reports, from attempt to batch, that a call could not be
// placed (notPlaced): the batch places no more calls, and the pacing loop
// waits StaleWait before it tries again, rather than take the same
// contacts again at once.
var errNotPlaced = errors.New("a call could not be placed")

// What became of a call's last look, as attempt follows it.
const (
	lookNone    int32 = iota // not taken
	lookFailed               // taken, and it did not allow the call
	lookAllowed              // it allowed the call
)

// notPlaced reports whether a call whose Lines.Place returned err was
// certainly never placed, and says why in a few words, from err, the
// dialing job's context and what became of the call's last look. Lines
// place no call before a last look allows it (Lines), so a call is taken
// as not placed on that evidence only: no Asterisk was up, the look did
// not allow it, or the job stopped before any look. Any other error,
// after an allowed look or not, may have reached the network: the call
// ends as failed and counts.
func notPlaced(ctx context.Context, err error, look int32) (string, bool) {
	switch {
	case err == nil:
		return "", false
	case errors.Is(err, errNeverOriginated):
		return "its Asterisk's events were down", true
	case look == lookAllowed:
		return "", false
	case errors.Is(err, ErrNoAsterisk):
		return "no Asterisk was up", true
	case ctx.Err() != nil:
		return "the dialing job stopped", true
	case errors.Is(err, ErrHoldLost):
		// Ready failed before any look, and Lines place no call whose
		// Ready fails.
		return "a lock or lease it relied on was lost", true
	case look == lookFailed:
		return "its last look could not be recorded", true
	}
	return "", false
}

// settle records with write how attempt id's call ended without ringing
// (not placed, or refused by Asterisk), what: when the database refuses
// it, the pacer keeps trying (record) and follows the attempt meanwhile,
// so that recovery does not close it as a call of unknown outcome with
// its contact done (never to be called again, and counted in every
// history as a call). It returns the first try's error.
func (p *Pacer) settle(id int64, what string, write func(ctx context.Context) error) error {
	p.mu.Lock()
	if p.settling == nil {
		p.settling = map[int64]struct{}{}
	}
	p.settling[id] = struct{}{}
	p.mu.Unlock()
	return p.record(id, what, nil, write, func() {
		p.mu.Lock()
		delete(p.settling, id)
		p.mu.Unlock()
	})
}

// record writes what of attempt id with write, with its own context (a
// stopping job must still record how its calls went). When the database
// refuses it, the pacer keeps trying in the background, within its
// lifetime (Drain), for up to endRetryFor, logging each failure with args.
// done is called once the write has landed or been given up on. It
// returns the first try's error.
func (p *Pacer) record(id int64, what string, args []any, write func(ctx context.Context) error, done func()) error {
	try := func(ctx context.Context) error {
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		return write(wctx)
	}
	err := try(context.Background())
	if err == nil {
		done()
		return nil
	}
	log := p.Log.With(append([]any{"attempt", id}, args...)...)
	log.Error("pacer: could not record "+what+"; trying again", "err", err)
	p.background(func(life context.Context) {
		defer done()
		tries, err := keepTrying(life, endRetryWait, endRetryFor, try, func(tries int, err error) {
			log.Error("pacer: still could not record "+what+"; trying again", "tries", tries, "err", err)
		})
		if err != nil {
			log.Error("pacer: "+what+" NOT recorded; recovery will close the attempt with its outcome unknown", "tries", tries, "err", err)
			return
		}
		log.Info("pacer: recorded "+what+", after trying again", "tries", tries)
	})
	return err
}

// OptOutRetryWait is the longest wait between two tries to take a
// key-press opt-out that could not be taken during its call.
const OptOutRetryWait = 30 * time.Second

// endRetryFor is how long the pacer keeps trying to record a call's end
// that the database refused, and endRetryWait the longest wait between
// two tries.
const (
	endRetryFor  = 5 * time.Minute
	endRetryWait = 30 * time.Second
)

// recordEnd records how attempt id's call to n ended (Store.Progress): the
// outcome, the keys pressed and what becomes of the target, which decides
// whether a busy or unanswered contact is called again, and which keys
// RecoverOptOuts reads. When the database refuses, it keeps trying in the
// background (record), logging each failure, for up to endRetryFor
// within the pacer's lifetime, with one last try at Drain. Until then the
// call stays in flight (inFlight, Follows): its campaign's Run waits for
// it, and recovery does not close its attempt as unknown (Following).
// Once it gives up, it logs at ERROR that the end was NOT recorded, with
// what it was, and leaves the attempt to recovery.
func (p *Pacer) recordEnd(campaignID, id int64, n phone.Number, ev CallEvent) {
	_ = p.record(id, "a call's end", []any{"phone", n, "outcome", ev.Outcome, "dtmf", ev.DTMF},
		func(ctx context.Context) error { return p.Store.Progress(ctx, id, ev) },
		func() { p.land(campaignID, id) })
}

// takeKeptOptOut takes, in the background, a key-press opt-out the call
// kept among its keys but whose key handler never ran: the opt-out key came
// while the call waited for the office, while another key was being
// handled, or with the call's end. It is taken as a key press during the
// call is (takeOptOutSoon), with the same retries when the database
// refuses it; only its confirmation was not heard.
func (p *Pacer) takeKeptOptOut(attemptID int64, n phone.Number) {
	p.takeOptOutSoon(attemptID, n, "from the call's keys after it ended", nil)
}

// takeOptOutSoon takes a key-press opt-out of n pressed during attempt
// attemptID in the background (takeOptOut, which hands it to
// keepTakingOptOut when the database refuses it), and returns at once: the
// gate, when it can (OptOutHolder), refuses n from now on, until the
// opt-out is taken, from when on every last look does (the request is in
// the database). tried, when not nil, is told whether the first try took
// it, once that try has ended. Once Drain has begun, it returns only then
// (Pacer.background).
func (p *Pacer) takeOptOutSoon(attemptID int64, n phone.Number, when string, tried func(taken bool)) {
	release := func() {}
	if h, ok := p.Gate.(OptOutHolder); ok {
		release = h.HoldOptOut(n)
	}
	p.background(func(context.Context) {
		defer release()
		taken := p.takeOptOut(attemptID, n, when)
		if tried != nil {
			tried(taken)
		}
	})
}

// keyedOptOut follows a call's opt-out key, between its key handler and
// its end: which of the two took the opt-out, and, for the key handler,
// whether its first try took it.
type keyedOptOut struct {
	mu    sync.Mutex
	by    int           // optOutByNone, optOutByKey or optOutByEnd
	done  chan struct{} // closed once the key's first try has ended
	taken bool          // that try took it; set before done is closed
}

// Who took a call's opt-out (keyedOptOut.by).
const (
	optOutByNone = iota
	optOutByKey
	optOutByEnd
)

// key reports whether the key handler is to take the opt-out, and notes
// that it does: no one took it yet.
func (k *keyedOptOut) key() bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.by != optOutByNone {
		return false
	}
	k.by, k.done = optOutByKey, make(chan struct{})
	return true
}

// keyed reports whether the key handler took the opt-out.
func (k *keyedOptOut) keyed() bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.by == optOutByKey
}

// tried notes what the key's first try did (takeOptOutSoon).
func (k *keyedOptOut) tried(taken bool) {
	k.mu.Lock()
	k.taken = taken
	done := k.done
	k.mu.Unlock()
	close(done)
}

// end is told, as the call ends, whether its keys hold an opt-out that
// its outcome does not show. It reports whether the key handler took the
// opt-out (keyed), or else whether the end is to take it from the keys
// (kept), and notes that it does.
func (k *keyedOptOut) end(inKeys bool) (keyed, kept bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	switch {
	case k.by == optOutByKey:
		return true, false
	case k.by == optOutByNone && inKeys:
		k.by = optOutByEnd
		return false, true
	}
	return false, false
}

// wait waits for the key's first try (which takeOptOut bounds to a few
// seconds) and reports whether it took the opt-out.
func (k *keyedOptOut) wait() bool {
	k.mu.Lock()
	done := k.done
	k.mu.Unlock()
	<-done
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.taken
}

// takeOptOut takes a key-press opt-out of n pressed during attempt
// attemptID, trying for a few seconds, and logs how it went; when says
// when it is taken. When the database refuses it, it hands the opt-out to
// keepTakingOptOut (which refuses the number meanwhile) and returns false.
// Once taken, every gate refuses the number from its next sync.
func (p *Pacer) takeOptOut(attemptID int64, n phone.Number, when string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	switch recorded, err := p.Store.RecordOptOut(ctx, attemptID, n); {
	case err != nil:
		p.Log.Error("pacer: could not take an opt-out "+when+"; heed keeps trying, and refuses the number meanwhile",
			"attempt", attemptID, "phone", n, "err", err)
		p.keepTakingOptOut(attemptID, n)
		return false
	case !recorded:
		p.Log.Warn("pacer: opt-out taken "+when+"; its records wait for the database", "attempt", attemptID)
	default:
		p.Log.Info("pacer: opt-out recorded "+when, "attempt", attemptID)
	}
	return true
}

// keepTakingOptOut takes, in the background, a key-press opt-out of n
// that could not be taken during its call (the database could not be
// reached): it tries again after a second, then waiting twice as long each
// time, up to OptOutRetryWait, until the opt-out is taken (recorded or
// not yet). Until then the gate, when it can (OptOutHolder), refuses n as
// on the internal list, in every decision of this process, the last look
// included; once taken, every process's gate does. It keeps trying for as
// long as the pacer's lifetime lasts; at Drain it tries once more and, if
// that fails too, logs at ERROR that the opt-out was NOT taken, with the
// number. The next heed serve takes it at start from the keys the call
// kept, once the call's end is recorded
// (campaign.Store.RecoverOptOuts).
func (p *Pacer) keepTakingOptOut(attemptID int64, n phone.Number) {
	release := func() {}
	if h, ok := p.Gate.(OptOutHolder); ok {
		release = h.HoldOptOut(n)
	}
	p.background(func(life context.Context) {
		defer release()
		recorded := false
		tries, err := keepTrying(life, OptOutRetryWait, 0, func(ctx context.Context) error {
			ctx, cancel := context.WithTimeout(ctx, OptOutRetryWait)
			defer cancel()
			var err error
			recorded, err = p.Store.RecordOptOut(ctx, attemptID, n)
			return err
		}, func(tries int, err error) {
			p.Log.Error("pacer: still could not take an opt-out; trying again", "attempt", attemptID, "phone", n, "tries", tries, "err", err)
		})
		if err != nil {
			p.Log.Error("pacer: opt-out NOT taken: heed is stopping and the database still refuses it; the next start takes it from the call's keys if its end was recorded, otherwise take it by hand",
				"attempt", attemptID, "phone", n, "tries", tries, "err", err)
			return
		}
		// The records, or the taken request, in the indexes before the
		// hold goes: until its revocation is, a consent that lifted an
		// older entry of n (rule F12) would still count. A pacer that is
		// stopping lets go: its decisions are over.
		syncIndexes := func(ctx context.Context) error {
			if life.Err() != nil {
				return nil
			}
			ctx, cancel := context.WithTimeout(ctx, OptOutRetryWait)
			defer cancel()
			if !p.syncGate(ctx) {
				return errNotSynced
			}
			return nil
		}
		if syncIndexes(life) != nil {
			_, _ = keepTrying(life, OptOutRetryWait, 0, syncIndexes, func(int, error) {})
		}
		p.Log.Info("pacer: opt-out taken after the call", "attempt", attemptID, "tries", tries, "recorded", recorded)
	})
}

// errNotSynced reports that the gate's indexes did not sync (syncGate
// logs why).
var errNotSynced = errors.New("the gate's indexes did not sync")

// CallLine is the line type the pacing loop asks the gate about for a call
// of purpose p to a contact whose list gives its line as listed. A
// landline counts only for reminders (informational calls), the one
// purpose whose rules a landline loosens (F3: without consent, at most
// three in 30 days): a debt-collection robocall to a landline is asked
// about as to an unknown line, which needs consent (F1), as before lists
// gave line types. A wireless line is wireless; anything else unknown,
// which counts as wireless.
func CallLine(p consent.Purpose, listed consent.LineType) consent.LineType {
	switch {
	case listed == consent.LineWireless:
		return consent.LineWireless
	case listed == consent.LineLandline && p == consent.PurposeInformational:
		return consent.LineLandline
	}
	return consent.LineUnknown
}

// lastLookTries is how many exact last looks (LastLook.Exact) the pacer
// tries, syncing its indexes between them, before it syncs and records one
// that is not exact.
const lastLookTries = 3

// syncGate syncs the gate's indexes, when it has any, and reports whether
// they synced (true for a gate without any). A failure is logged: the
// gate fails closed on its own once freshness lapses.
func (p *Pacer) syncGate(ctx context.Context) bool {
	if s, ok := p.Gate.(Syncer); ok {
		if err := s.Sync(ctx); err != nil {
			p.Log.Warn("pacer: index sync failed", "err", err)
			return false
		}
	}
	return true
}

// lastLook asks the gate again about an allowed attempt's call, right
// before it is placed: at the pacer's clock's instant, with the overrides
// still in force then, the batch's history (the batch holds its subjects
// locked until its calls are placed) and indexes that hold every change
// committed before the look is recorded. When the gate says where its
// indexes are (IndexPositioner), the look is exact: it is recorded only if
// the change log held nothing newer, and otherwise the pacer syncs the
// indexes and looks again (lastLookTries exact looks, then one more after a
// sync, not exact), so that a quiet change log costs no sync query. A gate
// that does not say is synced before the look; one that failed closed on
// stale indexes is synced and asked again once. A look refused because an
// opt-out of the number was taken that the indexes did not hold yet
// (ErrIndexBehind, exact or not) is also followed by a sync and another
// look, up to lastLookTries+2 looks in all. A look that is not exact is
// made only after a sync that succeeded: otherwise, and when the indexes
// still have not caught up, it records a look that fails closed
// (index.stale), which
// calls the call off and leaves the contact due. It records the look
// (Store.Look) and returns an error wrapping ErrCalledOff when the gate no
// longer allows the call or the campaign is no longer running, or the
// error that kept the look from being recorded: either way the call is not
// placed.
func (p *Pacer) lastLook(ctx context.Context, attemptID int64, req Request) error {
	synced, syncedOK := false, false
	resync := func() {
		syncedOK = p.syncGate(ctx)
		synced = true
	}
	ip, positioned := p.Gate.(IndexPositioner)
	if !positioned {
		resync()
	}
	for try := 1; ; try++ {
		var seq int64
		if positioned {
			seq = ip.IndexSeq()
		}
		look := req
		look.At = p.clock()
		look.Overrides = req.Overrides.At(look.At)
		d := p.Gate.Check(ctx, look)
		if d.FailedClosed() && !synced {
			resync()
			continue
		}
		exact := positioned && try <= lastLookTries
		if positioned && !exact && !syncedOK && d.Allowed() {
			// A look that is not exact relies on the sync before it:
			// the exact looks saw changes the indexes did not hold, and
			// that sync failed (the indexes may be fresh by their bound
			// all the same). Fail closed.
			p.Log.Warn("pacer: the gate's indexes could not sync for a last look; the call is called off", "attempt", attemptID)
			d = consent.Decision{Verdict: consent.Deny, Reasons: []consent.Reason{consent.ReasonIndexStale}, Pack: d.Pack}
		}
		placed, err := p.Store.Look(ctx, attemptID, LastLook{At: look.At, Decision: d, IndexSeq: seq, Exact: exact})
		if errors.Is(err, ErrIndexBehind) && try <= lastLookTries+1 {
			resync()
			continue
		}
		if errors.Is(err, ErrIndexBehind) {
			// The indexes never caught up: fail closed, as on stale
			// indexes, and record that look (the contact stays due).
			p.Log.Warn("pacer: the gate's indexes did not catch up for a last look; the call is called off", "attempt", attemptID, "err", err)
			d = consent.Decision{Verdict: consent.Deny, Reasons: []consent.Reason{consent.ReasonIndexStale}, Pack: d.Pack}
			placed, err = p.Store.Look(ctx, attemptID, LastLook{At: look.At, Decision: d, IndexSeq: seq})
		}
		if err != nil {
			return fmt.Errorf("pacer: record the last look: %w", err)
		}
		switch {
		case !d.Allowed():
			return fmt.Errorf("%w: %s %s", ErrCalledOff, d.Verdict, d.Reasons)
		case !placed:
			return fmt.Errorf("%w: the campaign is no longer running", ErrCalledOff)
		}
		return nil
	}
}

func concat(parts ...[]string) []string {
	var out []string
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// space holds a campaign to its calls per second: each call waits for the
// slot after the previous one.
func (p *Pacer) space(ctx context.Context, c Campaign) {
	if c.CallsPerSecond <= 0 {
		return
	}
	gap := time.Duration(float64(time.Second) / c.CallsPerSecond)
	p.mu.Lock()
	if p.nextSlot == nil {
		p.nextSlot = map[int64]time.Time{}
	}
	now := time.Now()
	slot := p.nextSlot[c.ID]
	if slot.Before(now) {
		slot = now
	}
	p.nextSlot[c.ID] = slot.Add(gap)
	p.mu.Unlock()
	select {
	case <-ctx.Done():
	case <-time.After(time.Until(slot)):
	}
}

package dialer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/heed-dialer/heed/consent"
	"github.com/heed-dialer/heed/internal/phone"
)

// ErrNotRunning reports a campaign that is not in the running state.
var ErrNotRunning = errors.New("campaign is not running")

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
	// AMD holds the answering-machine detection thresholds; zero fields
	// keep the dialplan's defaults.
	AMD AMDSettings
	// TransferTo is where key 2 connects the callee: a phone number, or a
	// PBX extension or queue; empty means key 2 is not offered.
	TransferTo string
	// Record turns call recording on; such calls announce it.
	Record bool
}

// AMDSettings are the thresholds of Asterisk's AMD() application, in
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
	// until the decision's Until, allowed ones are being dialed.
	Decide(ctx context.Context, t Target, req Request, d consent.Decision) (attemptID int64, err error)
	// History returns, for each number, the calls placed to it since the
	// given time across all campaigns.
	History(ctx context.Context, phones []phone.Number, since time.Time) (map[phone.Number][]consent.Attempt, error)
	// Progress records one step of a placed call.
	Progress(ctx context.Context, attemptID int64, ev CallEvent) error
	// RecordOptOut records, at once and in one transaction, that the callee
	// of an attempt pressed the opt-out key: a revocation of every consent
	// and an internal do-not-call entry.
	RecordOptOut(ctx context.Context, attemptID int64, p phone.Number) error
	// OriginateFailed records that Asterisk refused the call at the given time.
	OriginateFailed(ctx context.Context, attemptID int64, at time.Time, cause error) error
	// Settle reports whether the campaign has nothing left to dial and, if
	// not, when its next target falls due. When nothing is left it marks the
	// campaign completed.
	Settle(ctx context.Context, campaignID int64) (done bool, next time.Time, err error)
}

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
	Media Media
	Log   *slog.Logger
	// Tick is how often the loop looks for due targets while calls are in
	// flight; zero means 250 ms.
	Tick time.Duration
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

type ended struct{ attemptID int64 }

// Run dials the campaign until it is complete, paused, superseded by a newer
// generation, or has nothing due (then it returns *Snooze). Calls in flight
// are followed to their end before Run returns.
func (p *Pacer) Run(ctx context.Context, campaignID, generation int64) error {
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
	inflight := 0
	done := make(chan ended, 64)
	// waitAll follows the calls in flight to their end. When the job is
	// being stopped it waits a bounded time; calls still up after that are
	// left to recovery on the next start.
	waitAll := func() {
		wait := time.Duration(c.RingSeconds)*time.Second + 2*time.Minute
		if ctx.Err() != nil {
			wait = 30 * time.Second
		}
		limit := time.NewTimer(wait)
		defer limit.Stop()
		for inflight > 0 {
			select {
			case <-done:
				inflight--
			case <-limit.C:
				log.Warn("pacer: calls still in flight at stop", "calls", inflight)
				return
			}
		}
	}
	defer waitAll()
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
		if free := c.MaxConcurrent - inflight; free > 0 {
			targets, err := p.Store.Due(ctx, campaignID, free, now())
			if err != nil {
				return fmt.Errorf("pacer: due targets: %w", err)
			}
			history, err := p.prepare(ctx, targets, now())
			if err != nil {
				return err
			}
			for _, t := range targets {
				ok, err := p.attempt(ctx, c, t, history[t.Phone], msg, now(), done)
				if err != nil {
					return err
				}
				if ok {
					inflight++
				}
			}
			if len(targets) == 0 && inflight == 0 {
				finished, next, err := p.Store.Settle(ctx, campaignID)
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
		case <-done:
			inflight--
			// Take every other end that came meanwhile, so the next batch
			// fills all the free lines at once and its fixed cost (campaign,
			// due targets, index sync, history) is paid once for them all.
			for more := true; more; {
				select {
				case <-done:
					inflight--
				default:
					more = false
				}
			}
		case <-time.After(tick):
		}
	}
}

// OptOutKey is the key that stops calls (F7: a key-press opt-out).
const OptOutKey = "9"

// messages is the audio of a campaign's calls.
type messages struct {
	call      []string // played after answer
	voicemail []string // left on an answering machine
	optedOut  []string // played once an opt-out is recorded
}

// audio prepares a campaign's audio: its message (recorded or spoken), the
// opt-out offer, a pause to answer it, and the opt-out confirmation.
func (p *Pacer) audio(ctx context.Context, c Campaign) (messages, error) {
	var (
		m   messages
		msg string
		err error
	)
	if c.Audio != "" {
		msg, err = p.Media.Recorded(c.Audio)
	} else {
		msg, err = p.Media.Speak(ctx, c.Message)
	}
	if err != nil {
		return m, fmt.Errorf("pacer: message audio: %w", err)
	}
	offer, err := p.Media.Speak(ctx, "To stop these calls, press "+OptOutKey+".")
	if err != nil {
		return m, fmt.Errorf("pacer: opt-out offer: %w", err)
	}
	done, err := p.Media.Speak(ctx, "Your request is recorded. You will not receive these calls again. Goodbye.")
	if err != nil {
		return m, fmt.Errorf("pacer: opt-out confirmation: %w", err)
	}
	pause, err := p.Media.Silence(ctx, 3)
	if err != nil {
		return m, fmt.Errorf("pacer: pause: %w", err)
	}
	m.call = []string{msg, offer, pause}
	m.optedOut = []string{done}
	// On a machine no key can be pressed: leave the number that takes opt-outs (F7).
	callBack, err := p.Media.Speak(ctx, "To stop these calls, call "+spokenNumber(c.CallerID)+". Again, "+spokenNumber(c.CallerID)+".")
	if err != nil {
		return m, fmt.Errorf("pacer: voicemail opt-out: %w", err)
	}
	m.voicemail = []string{msg, callBack}
	return m, nil
}

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

// prepare syncs the gate's indexes, when it has any, and loads the attempt
// history of a batch's numbers in one query.
func (p *Pacer) prepare(ctx context.Context, targets []Target, now time.Time) (map[phone.Number][]consent.Attempt, error) {
	if len(targets) == 0 {
		return nil, nil
	}
	if s, ok := p.Gate.(Syncer); ok {
		if err := s.Sync(ctx); err != nil {
			// The gate fails closed on its own once freshness lapses.
			p.Log.Warn("pacer: index sync failed", "err", err)
		}
	}
	phones := make([]phone.Number, len(targets))
	for i, t := range targets {
		phones[i] = t.Phone
	}
	h, err := p.Store.History(ctx, phones, now.Add(-HistoryWindow))
	if err != nil {
		return nil, fmt.Errorf("pacer: attempt history: %w", err)
	}
	return h, nil
}

// attempt decides one target, records the attempt and, when allowed, places
// the call. It reports whether a call is now in flight.
func (p *Pacer) attempt(ctx context.Context, c Campaign, t Target, history []consent.Attempt, msg messages, at time.Time, done chan<- ended) (bool, error) {
	req := Request{
		Phone: t.Phone, Purpose: c.Purpose, Method: consent.MethodPrerecorded, Line: consent.LineUnknown,
		State: t.State, ZIP: t.ZIP, At: at, CampaignID: c.ID, ContactID: t.ContactID, History: history,
	}
	d := p.Gate.Check(ctx, req)
	id, err := p.Store.Decide(ctx, t, req, d)
	if err != nil {
		return false, fmt.Errorf("pacer: record attempt: %w", err)
	}
	if !d.Allowed() {
		return false, nil
	}
	report := func(ev CallEvent) {
		// Times are the pacer's, like the due times they are compared with.
		ev.At = p.clock()
		// Outcomes are written with their own context: a stopping job must
		// still record how its calls ended.
		wctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := p.Store.Progress(wctx, id, ev); err != nil {
			p.Log.Error("pacer: record call progress", "attempt", id, "err", err)
		}
		if ev.Kind == EventEnded {
			done <- ended{id}
		}
	}
	onKey := func(digit string) ([]string, bool) {
		if digit != OptOutKey {
			return nil, false
		}
		rctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := p.Store.RecordOptOut(rctx, id, t.Phone); err != nil {
			p.Log.Error("pacer: could not record an opt-out; staff must follow up", "attempt", id, "phone", t.Phone, "err", err)
			return nil, false
		}
		p.Log.Info("pacer: opt-out recorded", "attempt", id)
		return msg.optedOut, true
	}
	err = p.Lines.Place(ctx, CallRequest{
		AttemptID: id, To: t.Phone, CallerID: c.CallerID, RingSeconds: c.RingSeconds, Media: msg.call, Voicemail: msg.voicemail, OnKey: onKey,
	}, report)
	if err != nil {
		p.Log.Warn("pacer: originate failed", "attempt", id, "err", err)
		if err := p.Store.OriginateFailed(ctx, id, p.clock(), err); err != nil {
			return false, fmt.Errorf("pacer: record originate failure: %w", err)
		}
		return false, nil
	}
	return true, nil
}

package dialer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/CyCoreSystems/ari/v5"

	"github.com/heed-dialer/heed/internal/phone"
)

// Outcome is how a placed call ended.
type Outcome string

// The outcomes of a placed call. A call the gate refused has no call
// outcome: its attempt row says blocked or deferred.
const (
	// OutcomeConfirmed is a person who pressed the confirm key.
	OutcomeConfirmed Outcome = "confirmed"
	// OutcomeNoResponse is a person who heard the message and pressed no
	// key that changed the outcome.
	OutcomeNoResponse Outcome = "no_response"
	// OutcomeTransferred is a person who asked for the office and was
	// connected to it.
	OutcomeTransferred Outcome = "transferred"
	// OutcomeAbandoned is a person who asked for the office when no one
	// there answered in time (rule F10); they were played the firm's name,
	// callback number and opt-out instead, unless they hung up first (while
	// the office rang, or while the hold message played): a call that ends
	// while it waits for the office is abandoned too.
	OutcomeAbandoned Outcome = "abandoned"
	// OutcomeOptedOut is an answered call in which the callee pressed the
	// opt-out key and whose opt-out was taken: the pacer takes it in the
	// background as the key is pressed, and records the call's end with
	// this outcome once the first try has taken it (recorded, unless the
	// database was busy). A call whose first try failed keeps its own
	// outcome, with the key among its keys.
	OutcomeOptedOut Outcome = "opted_out"
	// OutcomeMachine is a call answered by an answering machine, which was
	// left the voicemail version of the message.
	OutcomeMachine  Outcome = "machine"
	OutcomeBusy     Outcome = "busy"
	OutcomeNoAnswer Outcome = "no_answer"
	OutcomeFailed   Outcome = "failed"
	// OutcomeAnswered is the outcome of answered calls before outcomes were
	// told apart; old attempt rows keep it.
	OutcomeAnswered Outcome = "answered"
	// OutcomeCalledOff is a call that was never placed: the pacing loop's
	// last look refused it, right before it would have been placed, or it
	// could not be placed (no Asterisk was up, the dialing job stopped
	// while it waited for a line; Store.NotPlaced). It counts as no call.
	OutcomeCalledOff Outcome = "called_off"
)

// Reached reports whether the outcome means a person was on the line: such
// a call is a conversation for the Reg F quiet period.
func (o Outcome) Reached() bool {
	switch o {
	case OutcomeConfirmed, OutcomeNoResponse, OutcomeTransferred, OutcomeAbandoned, OutcomeOptedOut, OutcomeAnswered:
		return true
	}
	return false
}

// EventKind says which step of a call an event reports.
type EventKind int

// The steps of a call, in order.
const (
	EventOriginated EventKind = iota + 1
	EventAnswered
	EventEnded
)

// CallRequest asks for one outbound call.
type CallRequest struct {
	// AttemptID is the attempt row the call belongs to; it names the channel.
	AttemptID int64
	// To is the number to dial.
	To phone.Number
	// CallerID is the firm's number sent as caller ID.
	CallerID string
	// RingSeconds is how long to ring before giving up.
	RingSeconds int
	// Variables are channel variables set on the call, such as the
	// answering-machine detection thresholds (AMDSettings.Variables).
	Variables map[string]string
	// Media is played, in order, once a person answers; then heed hangs up.
	Media []string
	// Voicemail is played instead when an answering machine answers, after
	// its beep; empty means Media.
	Voicemail []string
	// NoDetection plays Media at once on answer even where the switch runs
	// answering-machine detection (ARIConfig.AMDContext): the campaign
	// turned detection off (AMDSettings.Off), so Voicemail is never
	// played.
	NoDetection bool
	// OnKey, when set, is called (on a goroutine of its own) for each key
	// the callee presses, except while the call is being transferred.
	OnKey func(digit string) KeyResponse
	// Abandoned is played when a transfer finds no one at the office
	// (rule F10: the firm's name, callback number and opt-out); then heed
	// hangs up.
	Abandoned []string
	// TransferRingSeconds is how long the office rings on a transfer before
	// the call counts as abandoned; zero means 20 s.
	TransferRingSeconds int
	// Record records the call, from the moment a person answers, into the
	// switch's recordings directory.
	Record bool
	// Ready, when set, is called once a line is free for the call, right
	// before it is originated: the pacing loop's last look (Pacer's
	// lastLook). When it returns an error the call is not placed, and
	// Place returns an error that wraps it.
	Ready func(ctx context.Context) error
}

// KeyResponse is what a call does after a key press.
type KeyResponse struct {
	// Media, when set, stops what is playing and plays instead; once it has
	// played heed hangs up, or transfers when TransferTo is set.
	Media []string
	// Outcome, when set, becomes the call's outcome unless it already has a
	// weightier one (an opt-out outweighs everything).
	Outcome Outcome
	// TransferTo, when set, connects the callee to this destination after
	// Media: a phone number (dialed through the trunk) or a PBX extension
	// or queue (dialed in the PBX's heed-office context).
	TransferTo string
}

// CallEvent reports one step of a call's progress.
type CallEvent struct {
	Kind      EventKind
	At        time.Time
	ChannelID string
	Asterisk  string
	// Outcome, Cause and CauseText are set on EventEnded.
	Outcome   Outcome
	Cause     int
	CauseText string
	// DTMF holds the digits the callee pressed so far.
	DTMF string
	// AMD is the answering-machine detection result, "STATUS CAUSE" (for
	// example "MACHINE LONGGREETING-1700-1500"); empty when none ran.
	AMD string
	// Recording names the call's stored recording, when it was recorded.
	Recording string
	// AudioStart is how long after the answer heed's first audio began to
	// play, by Asterisk's clock (its StasisStart and PlaybackStarted
	// events), on an answered call whose audio began; AudioStarted says
	// whether it did. With detection it includes detection's time.
	AudioStart   time.Duration
	AudioStarted bool
	// AudioKnown says the switch followed the call from its answer, so
	// that AudioStarted false means heed played nothing before it ended.
	AudioKnown bool
	// TransferTo is where the callee asked to be transferred, on a call
	// that was transferred or abandoned.
	TransferTo string
}

// Lines places calls. Place originates the call and returns once the
// originate request has been accepted or refused; report then receives the
// call's progress, ending with exactly one EventEnded.
//
// Place must call req.Ready, when set, once the call has its line and
// before it originates it, and not place the call when Ready fails: that
// is the pacing loop's last look. So a Place that fails before Ready, or
// when Ready fails, placed no call, and the pacing loop records it so
// (Store.NotPlaced).
type Lines interface {
	Place(ctx context.Context, req CallRequest, report func(CallEvent)) error
}

// LineStatus is implemented by Lines that know whether any Asterisk can
// take a call (Pool): while none can, the pacing loop takes no contact.
type LineStatus interface {
	// Up reports whether some Asterisk is up.
	Up() bool
}

// ErrOriginate reports that Asterisk refused to originate a call.
var ErrOriginate = errors.New("originate refused")

// Q.850 hangup causes that decide an unanswered call's outcome.
const (
	causeUserBusy       = 17
	causeNoUserResponse = 18
	causeNoAnswer       = 19
)

// Switch places calls through one Asterisk over ARI and follows them through
// ARI events.
type Switch struct {
	cfg    ARIConfig
	client ari.Client
	log    *slog.Logger
	subs   []ari.Subscription // one per event type heed follows
	keys   ari.Subscription   // the one of the keys (ChannelDtmfReceived)
	http   *http.Client

	mu    sync.Mutex
	calls map[string]*call // by channel, office leg, snoop, playback and recording ID
	// settled holds what became of the orphans this switch adopted that
	// have ended, by channel, until Orphan reports it or, with
	// ARIConfig.OrphanEnded, until it is recorded in the database: an
	// orphan whose attempt recovery never asks about here (it closed it in
	// another process, or its campaign is not running) is not kept for
	// the life of the process.
	settled map[string]Orphan
	wg      sync.WaitGroup
	stop    chan struct{}
}

var _ Lines = (*Switch)(nil)

type call struct {
	req       CallRequest
	channelID string
	events    chan CallEvent // delivered in order by the call's own goroutine
	answered  bool
	dtmf      []byte
	media     []string // what plays now: req.Media, or a key's response
	next      int      // index into media of the next media to play
	playing   string   // the current playback's id
	outcome   Outcome  // set by keys and transfers
	machine   bool
	amd       string
	// answeredAt is when Asterisk said the call entered the application
	// (answered); firstPlayback is the ID of the first playback heed asked
	// for on it, and audioStart how long after the answer that playback
	// began, once audioStarted.
	answeredAt    time.Time
	firstPlayback string
	audioStart    time.Duration
	audioStarted  bool
	keyBusy       bool // a key's response is being prepared
	ended         bool
	timer         *time.Timer
	placedAt      time.Time

	// An orphan: a call a stopped process placed, which this switch
	// adopted (adoptLocked) as no one followed it any more; done closes
	// once its end is settled, and found is then what became of it ("" for
	// one let go before its end).
	orphan bool
	done   chan struct{}
	found  Orphan

	// A transfer: after media, dial transferTo on officeID and bridge.
	transferTo   string
	transferring bool // the office leg is being dialed or is connected
	officeID     string
	office       string // where the callee was transferred
	officeUp     bool   // the office answered and is bridged
	bridgeID     string

	// A recording: a snoop channel spying on the call, recorded under
	// recording; recDone closes when Asterisk has finished the file.
	snoopID   string
	recording string
	recDone   chan struct{}
	recClosed bool
}

// weight orders outcomes set during a call: a weightier one is never
// replaced by a lighter one.
func weight(o Outcome) int {
	switch o {
	case OutcomeOptedOut:
		return 4
	case OutcomeTransferred:
		return 3
	case OutcomeAbandoned:
		return 2
	case OutcomeConfirmed:
		return 1
	}
	return 0
}

// NewSwitch connects to the Asterisk in cfg and starts following its events.
func NewSwitch(ctx context.Context, cfg ARIConfig, log *slog.Logger) (*Switch, error) {
	if cfg.Name == "" {
		cfg.Name = "asterisk"
	}
	client, err := ConnectARI(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	s := &Switch{cfg: cfg, client: client, log: log.With("asterisk", cfg.Name), calls: map[string]*call{},
		settled: map[string]Orphan{}, http: &http.Client{Timeout: time.Minute}}
	// One subscription per event type: the ari library drops an event when
	// a subscription's buffer (100 events) is full, so each type heed needs
	// gets a buffer of its own, and no other event type fills it.
	for _, kind := range followed {
		sub := client.Bus().Subscribe(nil, kind)
		s.subs = append(s.subs, sub)
		if kind == ari.Events.ChannelDtmfReceived {
			s.keys = sub
		}
	}
	s.stop = make(chan struct{})
	s.wg.Add(2)
	go s.loop()
	go s.reconcile()
	s.checkTimeout()
	return s, nil
}

// timeoutModule is the Asterisk module that lets a call's channel carry
// its absolute timeout (variables: TIMEOUT(absolute)).
const timeoutModule = "func_timeout.so"

// checkTimeout warns when this Asterisk lacks timeoutModule: its calls are
// then hung up by heed's timer alone, and one up when heed stops has no
// bound, which the open-call limit (consent.OpenCallLimit) counts on.
func (s *Switch) checkTimeout() {
	m, err := s.client.Asterisk().Modules().Data(ari.NewKey(ari.ModuleKey, timeoutModule))
	if err != nil || m.Status != "Running" {
		status := ""
		if m != nil {
			status = m.Status
		}
		s.log.Warn("switch: Asterisk cannot hang calls up on its own should heed stop: load "+timeoutModule+" (asterisk/pbx/modules.conf does)",
			"status", status, "err", err)
	}
}

// Name returns the configured name of this Asterisk.
func (s *Switch) Name() string { return s.cfg.Name }

// Ping checks that ARI answers.
func (s *Switch) Ping(ctx context.Context) error {
	done := make(chan error, 1)
	go func() {
		_, err := s.client.Asterisk().Info(nil)
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("%w: %v", ErrARIUnavailable, err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%w: %v", ErrARIUnavailable, ctx.Err())
	}
}

// Close stops following events and disconnects.
func (s *Switch) Close() {
	close(s.stop)
	for _, sub := range s.subs {
		sub.Cancel()
	}
	s.client.Close()
	s.wg.Wait()
}

// ChannelID is the deterministic channel name of an attempt's call: the
// installation's id and the attempt id. An attempt can never be originated
// twice under two names, can be found again after a restart, and never
// collides with another installation's calls on a shared Asterisk. The id is
// zero-padded so that no channel's id is a prefix of another's: Asterisk 22
// refused (409) an originate whose id prefixed a live channel's.
func ChannelID(installation string, attemptID int64) string {
	return fmt.Sprintf("heed-%s-%012d", installation, attemptID)
}

// Place originates one call, after req.Ready (the last look) allows it
// when it is set.
//
// It places no call while the event websocket is down, or Asterisk has
// said another connection took the application (ErrEventsDown,
// ErrApplicationTaken): the call's events would go unheard, or to another
// process, which would take the answered call for an orphan.
func (s *Switch) Place(ctx context.Context, req CallRequest, report func(CallEvent)) error {
	if !s.client.Connected() {
		err := error(ErrEventsDown)
		if e, ok := s.client.(interface{ eventsErr() error }); ok && e.eventsErr() != nil {
			err = e.eventsErr()
		}
		return fmt.Errorf("attempt %d: %s: %w: %w", req.AttemptID, s.cfg.Name, errNeverOriginated, err)
	}
	if req.Ready != nil {
		if err := req.Ready(ctx); err != nil {
			return fmt.Errorf("attempt %d: not placed: %w", req.AttemptID, err)
		}
	}
	c := &call{req: req, channelID: ChannelID(s.cfg.Installation, req.AttemptID), events: make(chan CallEvent, 4), placedAt: time.Now(),
		media: req.Media}
	go func() {
		for ev := range c.events {
			report(ev)
		}
	}()
	s.mu.Lock()
	s.calls[c.channelID] = c
	s.mu.Unlock()
	_, err := s.client.Channel().Originate(nil, ari.OriginateRequest{
		Endpoint:  fmt.Sprintf(s.cfg.Trunk, req.To.String()),
		App:       s.cfg.Application,
		AppArgs:   "attempt," + strconv.FormatInt(req.AttemptID, 10),
		CallerID:  req.CallerID,
		Timeout:   req.RingSeconds,
		ChannelID: c.channelID,
		Variables: variables(req, s.cfg.Application),
	})
	if err != nil {
		s.mu.Lock()
		delete(s.calls, c.channelID)
		if !c.ended {
			c.ended = true
			close(c.events)
		}
		s.mu.Unlock()
		return fmt.Errorf("%w: %s: %w", ErrOriginate, req.To, err)
	}
	// A guard against a call whose end we never hear of: hang it up well
	// after the longest plausible call.
	limit := callLimit(req)
	s.mu.Lock()
	if !c.ended {
		c.events <- CallEvent{Kind: EventOriginated, At: time.Now(), ChannelID: c.channelID, Asterisk: s.cfg.Name}
		c.timer = time.AfterFunc(limit, func() { s.hangup(c.channelID, "normal") })
	}
	s.mu.Unlock()
	return nil
}

func (s *Switch) hangup(channelID, reason string) {
	if err := s.client.Channel().Hangup(ari.NewKey(ari.ChannelKey, channelID), reason); err != nil {
		s.log.Debug("hangup", "channel", channelID, "err", err)
	}
}

func (s *Switch) lookup(id string) *call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[id]
}

// callLimit is how long after it is placed a call is hung up whatever
// happens: well after the longest plausible call.
func callLimit(req CallRequest) time.Duration {
	return time.Duration(req.RingSeconds)*time.Second + 10*time.Minute
}

// variables are the channel variables of a call: the attempt, the
// application the dialplan hands the call back to, and the request's own.
func variables(req CallRequest, app string) map[string]string {
	v := map[string]string{"HEED_ATTEMPT": strconv.FormatInt(req.AttemptID, 10), "HEED_APP": app,
		// Asterisk hangs the call up on its own at the limit heed's timer
		// keeps (callLimit), should heed stop while the call is up: a
		// call's length is bounded even then (consent.OpenCallLimit).
		"TIMEOUT(absolute)": strconv.Itoa(int(callLimit(req) / time.Second))}
	if len(req.Abandoned) > 0 {
		// For a process that adopts the call should this one stop
		// (Switch.Orphan): it plays the message if the call is answered
		// with no one left to follow it.
		v[abandonedVar] = strings.Join(req.Abandoned, abandonedSep)
	}
	for k, val := range req.Variables {
		v[k] = val
	}
	return v
}

// followed are the ARI event types the switch acts on, one subscription
// each; loop selects over exactly this many.
var followed = [7]string{ari.Events.StasisStart, ari.Events.ChannelDtmfReceived, ari.Events.PlaybackFinished,
	ari.Events.RecordingFinished, ari.Events.RecordingFailed, ari.Events.ChannelDestroyed, ari.Events.PlaybackStarted}

// loop dispatches ARI events. It must stay fast: the ari library drops
// events when a subscriber falls behind, so slow work runs elsewhere.
func (s *Switch) loop() {
	defer s.wg.Done()
	var e ari.Event
	for {
		var ok bool
		select {
		case e, ok = <-s.subs[0].Events():
		case e, ok = <-s.subs[1].Events():
		case e, ok = <-s.subs[2].Events():
		case e, ok = <-s.subs[3].Events():
		case e, ok = <-s.subs[4].Events():
		case e, ok = <-s.subs[5].Events():
		case e, ok = <-s.subs[6].Events():
		}
		if !ok {
			return
		}
		switch v := e.(type) {
		case *ari.StasisStart:
			if c := s.lookup(v.Channel.ID); c == nil && strings.HasSuffix(v.Channel.ID, officeSuffix) {
				// An office leg whose call stopped waiting for it (an
				// opt-out) before its originate was heard of: no one
				// is left to bridge it to.
				go s.hangup(v.Channel.ID, "normal")
			} else if c == nil {
				// A call a stopped process placed, answered now: no
				// one follows it, so this switch takes it up.
				if attemptID, ok := s.strayCall(v.Channel.ID, v.Args); ok {
					s.mu.Lock()
					c = s.calls[v.Channel.ID]
					if c == nil {
						c = s.adoptLocked(v.Channel.ID, attemptID, time.Now())
					}
					s.mu.Unlock()
					s.orphanAnswered(c)
				}
			} else if c.orphan {
				if v.Channel.ID == c.channelID {
					s.orphanAnswered(c)
				}
			} else {
				switch v.Channel.ID {
				case c.channelID:
					s.mu.Lock()
					if c.answeredAt.IsZero() {
						c.answeredAt = time.Time(v.Timestamp)
					}
					s.mu.Unlock()
					s.stasisStart(c, v.Args)
				case c.officeID:
					go s.officeAnswered(c)
				case c.snoopID:
					go s.record(c)
				}
			}
		case *ari.ChannelDtmfReceived:
			s.dtmf(v)
		case *ari.PlaybackStarted:
			// By the call's channel, not the playback's own entry: the
			// playback's PlaybackFinished, on a subscription of its own,
			// may have been handled first and removed that.
			if i := strings.LastIndex(v.Playback.ID, "-play-"); i > 0 {
				if c := s.lookup(v.Playback.ID[:i]); c != nil {
					s.audioBegan(c, v.Playback.ID, time.Time(v.Timestamp))
				}
			}
		case *ari.PlaybackFinished:
			if c := s.lookup(v.Playback.ID); c != nil {
				s.mu.Lock()
				delete(s.calls, v.Playback.ID)
				s.mu.Unlock()
				go s.playNext(c)
			}
		case *ari.RecordingFinished, *ari.RecordingFailed:
			var rec ari.LiveRecordingData
			if f, ok := v.(*ari.RecordingFinished); ok {
				rec = f.Recording
			} else {
				rec = v.(*ari.RecordingFailed).Recording
				s.log.Warn("recording failed", "recording", rec.Name, "cause", rec.Cause)
			}
			if c := s.lookup("rec:" + rec.Name); c != nil {
				s.mu.Lock()
				if !c.recClosed {
					c.recClosed = true
					close(c.recDone)
				}
				s.mu.Unlock()
			}
		case *ari.ChannelDestroyed:
			if c := s.lookup(v.Channel.ID); c != nil {
				switch v.Channel.ID {
				case c.channelID:
					if c.orphan && v.Channel.State == "Up" {
						// Answered, though it never entered this
						// switch's application: the application it was
						// placed for is gone, and Asterisk hung it up.
						s.mu.Lock()
						c.answered = true
						if weight(OutcomeAbandoned) >= weight(c.outcome) {
							c.outcome = OutcomeAbandoned
						}
						s.mu.Unlock()
					}
					// Each event type has a subscription of its own, so a
					// key pressed just before the hang-up may wait in its
					// own: the bus has already queued every key that came
					// before this event, and the call keeps them.
					if !s.drainKeys() {
						return
					}
					s.ended(c, v.Cause, v.CauseTxt)
				case c.officeID:
					go s.officeGone(c, v.Cause)
				}
			}
		}
	}
}

// dtmf keeps a key the callee pressed and hands it to the call's key
// handler, unless the call waits for the office.
func (s *Switch) dtmf(v *ari.ChannelDtmfReceived) {
	c := s.lookup(v.Channel.ID)
	if c == nil || v.Channel.ID != c.channelID {
		return
	}
	s.mu.Lock()
	c.dtmf = append(c.dtmf, v.Digit...)
	transferring := c.transferring
	s.mu.Unlock()
	switch {
	case c.orphan && v.Digit == OptOutKey:
		// The abandoned-call message offers the opt-out key: the call
		// ends at once, and the opt-out is taken now (takeOrphanOptOut),
		// not only when recovery closes the attempt (OrphanOptedOut),
		// which may fail, or run in another process, or not at all
		// while the campaign is paused.
		go s.hangup(c.channelID, "normal")
		go s.takeOrphanOptOut(c.req.AttemptID)
	case c.req.OnKey == nil:
	case !transferring:
		go s.key(c, v.Digit)
	case v.Digit == OptOutKey:
		go s.optOutWhileWaiting(c)
	}
}

// takeOrphanOptOut hands the opt-out key pressed on orphan attempt
// attemptID to ARIConfig.OrphanOptOut, and tries again as the pacer does
// an opt-out the database refused (keepTrying, OptOutRetryWait) until it
// succeeds or the switch closes; each failure is logged as an error, with
// the attempt.
func (s *Switch) takeOrphanOptOut(attemptID int64) {
	take := s.cfg.OrphanOptOut
	if take == nil {
		return
	}
	err := s.untilClosed(OptOutRetryWait, func(ctx context.Context) error { return take(ctx, attemptID) }, func(_ int, err error) {
		s.log.Error("could not take the opt-out pressed on a call left by a stopped process; trying again", "attempt", attemptID, "err", err)
	})
	if err != nil {
		s.log.Error("the switch closed before the opt-out pressed on a call left by a stopped process was taken; recovery takes it from the attempt if it can", "attempt", attemptID, "err", err)
		return
	}
	s.log.Info("took the opt-out pressed on a call left by a stopped process", "attempt", attemptID)
}

// untilClosed runs try, each time with wait as its deadline, and tries
// again as the pacer does an opt-out the database refused (keepTrying,
// waiting up to wait between tries), until it succeeds or the switch
// closes; failed hears of each failure. It returns the last try's error,
// nil once one succeeded.
func (s *Switch) untilClosed(wait time.Duration, try func(ctx context.Context) error, failed func(tries int, err error)) error {
	once := func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, wait)
		defer cancel()
		return try(ctx)
	}
	err := once(context.Background())
	if err == nil {
		return nil
	}
	failed(1, err)
	life, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-s.stop:
			cancel()
		case <-life.Done():
		}
	}()
	_, err = keepTrying(life, wait, 0, once, failed)
	return err
}

// optOutWhileWaiting takes the opt-out key pressed while the call waits for
// the office to answer (F7: record the opt-out and hang up at once): the
// office leg is hung up and forgotten, and the key is handled as at any
// other moment (its confirmation, then the hang-up). Once the office has
// answered, the callee speaks with a person; the key is kept with the
// call, and the pacer takes the opt-out when the call ends.
func (s *Switch) optOutWhileWaiting(c *call) {
	s.mu.Lock()
	if c.ended || !c.transferring || c.officeUp {
		s.mu.Unlock()
		return
	}
	officeID := c.officeID
	if officeID != "" && s.calls[officeID] == c {
		delete(s.calls, officeID)
	}
	// No one at the office joined while the callee waited: an abandoned
	// call (rule F10), whatever the 9 makes of its outcome, with the
	// office it waited for (the pacer keeps it beside opted_out, which the
	// campaign's abandonment rate counts too).
	if weight(OutcomeAbandoned) >= weight(c.outcome) {
		c.outcome = OutcomeAbandoned
		if c.office == "" {
			c.office = c.transferTo
		}
	}
	c.transferring, c.transferTo = false, ""
	s.mu.Unlock()
	if officeID != "" {
		s.hangup(officeID, "normal")
	}
	s.key(c, OptOutKey)
}

// drainKeys handles the keys already queued, without waiting for more. It
// returns false when the subscription has closed (the switch is stopping).
func (s *Switch) drainKeys() bool {
	for {
		select {
		case e, ok := <-s.keys.Events():
			if !ok {
				return false
			}
			if v, isKey := e.(*ari.ChannelDtmfReceived); isKey {
				s.dtmf(v)
			}
		default:
			return true
		}
	}
}

// stasisStart handles a call entering the application: once when it is
// answered and, with detection on (an AMD context, and a call that does
// not turn it off), again after answering-machine detection with the
// arguments amd, status and cause.
func (s *Switch) stasisStart(c *call, args []string) {
	if len(args) >= 2 && args[0] == "amd" {
		s.mu.Lock()
		c.amd = strings.Join(args[1:], " ")
		if args[1] == "MACHINE" {
			c.machine = true
			if len(c.req.Voicemail) > 0 {
				c.media, c.next = c.req.Voicemail, 0
			}
		}
		machine := c.machine
		s.mu.Unlock()
		s.log.Debug("answering-machine detection", "channel", c.channelID, "status", args[1:])
		if !machine && c.req.Record {
			go s.startRecording(c)
		}
		go s.playNext(c)
		return
	}
	if s.cfg.AMDContext == "" || c.req.NoDetection {
		s.answered(c)
		if c.req.Record {
			go s.startRecording(c)
		}
		go s.playNext(c)
		return
	}
	s.answered(c)
	go func() {
		if err := s.client.Channel().Continue(ari.NewKey(ari.ChannelKey, c.channelID), s.cfg.AMDContext, "s", 1); err != nil {
			s.log.Warn("answering-machine detection unavailable; playing the message", "channel", c.channelID, "err", err)
			if c.req.Record {
				s.startRecording(c)
			}
			s.playNext(c)
		}
	}()
}

// audioBegan notes when the call's first playback began (playback id
// started at at, Asterisk's clock): how long after the answer the callee
// started to hear heed. Only the first playback heed asked for counts: a
// later one's start, when the first one's event was lost (the websocket
// reconnected), says nothing of when heed began, and the call's audio
// start stays unknown. A
// call that detection did not hold up (c.amd is set before detection's
// verdict plays anything) whose audio began later than the
// launch checks' timing allows (playStart) is logged: its disclosure (rule
// C4) and its connection within 2 s (F10) came that much later than the
// checks took.
func (s *Switch) audioBegan(c *call, id string, at time.Time) {
	s.mu.Lock()
	if c.audioStarted || c.answeredAt.IsZero() || id != c.firstPlayback {
		s.mu.Unlock()
		return
	}
	c.audioStarted = true
	c.audioStart = max(at.Sub(c.answeredAt), 0)
	late := c.audioStart > playStart && c.amd == ""
	s.mu.Unlock()
	if late {
		s.log.Warn("heed's audio began late after the answer", "channel", c.channelID,
			"after", c.audioStart, "allowed", playStart)
	}
}

func (s *Switch) answered(c *call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.ended || c.answered {
		return
	}
	c.answered = true
	c.events <- CallEvent{Kind: EventAnswered, At: time.Now(), ChannelID: c.channelID, Asterisk: s.cfg.Name}
}

// playNext plays the call's next media. When none is left it transfers the
// call, when a key asked for that, or hangs up.
func (s *Switch) playNext(c *call) {
	s.mu.Lock()
	if c.ended || c.keyBusy || c.transferring {
		// A key's response is on its way and starts the next playback, or
		// the callee is being connected to the office.
		s.mu.Unlock()
		return
	}
	if c.next >= len(c.media) {
		if c.transferTo != "" {
			c.transferring = true
			s.mu.Unlock()
			s.transfer(c)
			return
		}
		s.mu.Unlock()
		s.hangup(c.channelID, "normal")
		return
	}
	media := c.media[c.next]
	playbackID := c.channelID + "-play-" + strconv.Itoa(len(c.dtmf)) + "-" + strconv.Itoa(c.next)
	if c.firstPlayback == "" {
		c.firstPlayback = playbackID
	}
	c.next++
	c.playing = playbackID
	s.calls[playbackID] = c
	s.mu.Unlock()
	if _, err := s.client.Channel().Play(ari.NewKey(ari.ChannelKey, c.channelID), playbackID, media); err != nil {
		s.log.Warn("play failed; hanging up", "channel", c.channelID, "media", media, "err", err)
		s.mu.Lock()
		delete(s.calls, playbackID)
		s.mu.Unlock()
		s.hangup(c.channelID, "normal")
	}
}

// key runs the call's key handler and, when it answers with media, stops
// what is playing and plays that instead.
func (s *Switch) key(c *call, digit string) {
	s.mu.Lock()
	if c.ended || c.keyBusy || c.transferring {
		s.mu.Unlock()
		return
	}
	c.keyBusy = true
	s.mu.Unlock()
	r := c.req.OnKey(digit)
	s.mu.Lock()
	c.keyBusy = false
	if r.Outcome != "" && weight(r.Outcome) >= weight(c.outcome) {
		c.outcome = r.Outcome
	}
	if c.outcome == OutcomeOptedOut {
		// Nothing follows an opt-out but its confirmation.
		r.TransferTo = ""
	}
	if c.ended || (len(r.Media) == 0 && r.TransferTo == "") {
		s.mu.Unlock()
		return
	}
	c.media, c.next, c.transferTo = r.Media, 0, r.TransferTo
	playing := c.playing
	s.mu.Unlock()
	if playing != "" {
		// Stopping it sends PlaybackFinished, which plays the response.
		if err := s.client.Playback().Stop(ari.NewKey(ari.PlaybackKey, playing)); err == nil {
			return
		}
	}
	s.playNext(c)
}

// transfer dials the office for a call whose callee asked for it. The office
// leg enters the application when answered and is then bridged to the callee
// (officeAnswered); a leg that ends first abandons the transfer (officeGone).
func (s *Switch) transfer(c *call) {
	s.mu.Lock()
	if c.ended || !c.transferring {
		// Ended, or an opt-out stopped the wait for the office before
		// its leg was dialed (optOutWhileWaiting).
		s.mu.Unlock()
		return
	}
	s.mu.Unlock()
	// The hold message ends too when the callee hangs up, and its end may
	// be handled before the hang-up's (each event type comes on its own
	// subscription): a callee already gone gets no office leg, which
	// would ring the office for no one.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	_, err := ariCall(ctx, func() (*ari.ChannelData, error) {
		return s.client.Channel().Data(ari.NewKey(ari.ChannelKey, c.channelID))
	})
	cancel()
	if IsNotFound(err) {
		s.log.Info("transfer: the callee hung up before the office was dialed", "channel", c.channelID)
		return
	}
	s.mu.Lock()
	if c.ended || !c.transferring {
		s.mu.Unlock()
		return
	}
	c.officeID = c.channelID + officeSuffix
	s.calls[c.officeID] = c
	to := c.transferTo
	c.office = to
	s.mu.Unlock()
	endpoint := "Local/" + to + "@" + OfficeContext
	if p, err := phone.Parse(to); err == nil {
		endpoint = fmt.Sprintf(s.cfg.Trunk, p.String())
	}
	ring := c.req.TransferRingSeconds
	if ring == 0 {
		ring = 20
	}
	s.log.Info("transferring to the office", "channel", c.channelID, "to", to)
	_, err = s.client.Channel().Originate(nil, ari.OriginateRequest{
		Endpoint:  endpoint,
		App:       s.cfg.Application,
		AppArgs:   "office," + strconv.FormatInt(c.req.AttemptID, 10),
		CallerID:  officeCallerID(c.req),
		Timeout:   ring,
		ChannelID: c.officeID,
		Variables: map[string]string{"HEED_ATTEMPT": strconv.FormatInt(c.req.AttemptID, 10), "HEED_CALLEE": c.req.To.String()},
	})
	if err != nil {
		s.log.Warn("transfer: originate to the office refused", "channel", c.channelID, "to", to, "err", err)
		s.abandon(c)
	}
}

// officeCallerID is the caller ID of a call's office leg (rule F11: never
// spoof): the campaign's own number, which heed may send, with the
// callee's number as the caller name, so that the office still sees whom
// it is about to speak with. The callee's number is a number heed does not
// own: sent as the leg's number over the trunk, it would be spoofed. The
// leg carries the callee's number in the channel variable HEED_CALLEE too,
// for a heed-office dialplan that wants it.
func officeCallerID(req CallRequest) string {
	name := strconv.Quote(req.To.String())
	if req.CallerID == "" {
		return name
	}
	return name + " <" + req.CallerID + ">"
}

// officeSuffix ends the channel ID of a call's office leg.
const officeSuffix = "-office"

// OfficeContext is the PBX dialplan context in which a transfer to an
// extension or queue (rather than a phone number) is dialed.
const OfficeContext = "heed-office"

// officeAnswered bridges the callee and the office once the office answers.
func (s *Switch) officeAnswered(c *call) {
	s.mu.Lock()
	if c.ended {
		s.mu.Unlock()
		s.hangup(c.officeID, "normal")
		return
	}
	c.bridgeID = c.channelID + "-bridge"
	s.mu.Unlock()
	key := ari.NewKey(ari.BridgeKey, c.bridgeID)
	_, err := s.client.Bridge().Create(key, "mixing", c.bridgeID)
	if err == nil {
		err = s.client.Bridge().AddChannel(key, c.channelID)
	}
	if err == nil {
		err = s.client.Bridge().AddChannel(key, c.officeID)
	}
	if err != nil {
		s.log.Warn("transfer: could not connect the callee to the office", "channel", c.channelID, "err", err)
		s.hangup(c.officeID, "normal")
		return
	}
	s.mu.Lock()
	c.officeUp = true
	if weight(OutcomeTransferred) >= weight(c.outcome) {
		c.outcome = OutcomeTransferred
	}
	s.mu.Unlock()
	s.log.Info("transfer connected", "channel", c.channelID, "office", c.officeID)
}

// officeGone handles the end of the office leg: after a conversation the
// callee is hung up too; an office that never answered abandons the call.
func (s *Switch) officeGone(c *call, cause int) {
	s.mu.Lock()
	up := c.officeUp
	delete(s.calls, c.officeID)
	s.mu.Unlock()
	if up {
		s.hangup(c.channelID, "normal")
		return
	}
	s.log.Info("transfer: the office did not answer", "channel", c.channelID, "cause", cause)
	s.abandon(c)
}

// abandon plays the abandoned-call message to a callee the office could not
// take, then hangs up.
func (s *Switch) abandon(c *call) {
	s.mu.Lock()
	if weight(OutcomeAbandoned) >= weight(c.outcome) {
		c.outcome = OutcomeAbandoned
	}
	c.transferring, c.transferTo = false, ""
	c.media, c.next = c.req.Abandoned, 0
	s.mu.Unlock()
	s.playNext(c)
}

// startRecording records the call through a snoop channel that hears both
// directions, so the recording runs alongside the call's own playbacks.
func (s *Switch) startRecording(c *call) {
	s.mu.Lock()
	if c.snoopID != "" || c.ended {
		s.mu.Unlock()
		return
	}
	c.snoopID = c.channelID + "-snoop"
	s.calls[c.snoopID] = c
	s.mu.Unlock()
	_, err := s.client.Channel().Snoop(ari.NewKey(ari.ChannelKey, c.channelID), c.snoopID, &ari.SnoopOptions{
		App: s.cfg.Application, AppArgs: "snoop", Spy: ari.DirectionBoth,
	})
	if err != nil {
		s.log.Warn("recording: snoop refused; the call goes on unrecorded", "channel", c.channelID, "err", err)
	}
}

// record starts recording the call's snoop channel once it is in the
// application.
func (s *Switch) record(c *call) {
	name := c.channelID
	s.mu.Lock()
	c.recording, c.recDone = name, make(chan struct{})
	s.calls["rec:"+name] = c
	s.mu.Unlock()
	_, err := s.client.Channel().Record(ari.NewKey(ari.ChannelKey, c.snoopID), name, &ari.RecordingOptions{
		Format: "wav", MaxDuration: 2 * time.Hour, Exists: "overwrite",
	})
	if err != nil {
		s.log.Warn("recording refused; the call goes on unrecorded", "channel", c.channelID, "err", err)
		s.mu.Lock()
		c.recording = ""
		delete(s.calls, "rec:"+name)
		s.mu.Unlock()
	}
}

func (s *Switch) ended(c *call, cause int, causeText string) {
	s.mu.Lock()
	if c.ended {
		s.mu.Unlock()
		return
	}
	c.ended = true
	if c.timer != nil {
		c.timer.Stop()
	}
	if c.transferTo != "" && !c.officeUp && weight(OutcomeAbandoned) >= weight(c.outcome) {
		// The callee asked for the office and no one there joined before
		// the call ended (they hung up while it rang, or while the hold
		// message played): an abandoned call (rule F10), which the
		// campaign's abandonment rate counts.
		c.outcome = OutcomeAbandoned
		if c.office == "" {
			c.office = c.transferTo
		}
	}
	officeID, officeAlive, bridgeID := c.officeID, c.officeID != "" && s.calls[c.officeID] == c, c.bridgeID
	for id, other := range s.calls {
		if other == c && !strings.HasPrefix(id, "rec:") {
			delete(s.calls, id)
		}
	}
	ev := CallEvent{Kind: EventEnded, ChannelID: c.channelID, Asterisk: s.cfg.Name,
		Cause: cause, CauseText: causeText, DTMF: string(c.dtmf), AMD: c.amd,
		Outcome:    outcomeOf(c.answered, c.outcome, c.machine, cause),
		AudioStart: c.audioStart, AudioStarted: c.audioStarted, AudioKnown: !c.answeredAt.IsZero()}
	if c.outcome == OutcomeTransferred || c.outcome == OutcomeAbandoned {
		ev.TransferTo = c.office
	}
	recording, recDone := c.recording, c.recDone
	s.mu.Unlock()
	if officeAlive {
		go s.hangup(officeID, "normal")
	}
	if bridgeID != "" {
		go func() { _ = s.client.Bridge().Delete(ari.NewKey(ari.BridgeKey, bridgeID)) }()
	}
	if recording == "" {
		s.emitEnd(c, ev)
		return
	}
	// The recording is complete once Asterisk says so; the call's end is
	// reported with the stored file.
	go func() {
		select {
		case <-recDone:
		case <-time.After(10 * time.Second):
			s.log.Warn("recording: no end event; fetching what was stored", "recording", recording)
		}
		s.mu.Lock()
		delete(s.calls, "rec:"+recording)
		s.mu.Unlock()
		name, err := s.fetchRecording(recording)
		if err != nil {
			s.log.Error("recording: could not store the call's recording", "channel", c.channelID, "err", err)
		}
		ev.Recording = name
		s.emitEnd(c, ev)
	}()
}

func (s *Switch) emitEnd(c *call, ev CallEvent) {
	ev.At = time.Now()
	c.events <- ev
	close(c.events)
}

// outcomeOf classifies a call from what happened on it and its Q.850 cause.
func outcomeOf(answered bool, set Outcome, machine bool, cause int) Outcome {
	switch {
	case set != "":
		return set
	case machine:
		return OutcomeMachine
	case answered:
		return OutcomeNoResponse
	case cause == causeUserBusy:
		return OutcomeBusy
	case cause == causeNoAnswer || cause == causeNoUserResponse:
		return OutcomeNoAnswer
	}
	return OutcomeFailed
}

// reconcileEvery is how often the switch asks Asterisk about calls whose end
// it has not heard of.
const reconcileEvery = 10 * time.Second

// reconcile ends the calls whose channel Asterisk no longer has. The ari
// library drops events when its buffer is full and loses them while its
// websocket reconnects, so a call must never depend on one event alone.
func (s *Switch) reconcile() {
	defer s.wg.Done()
	t := time.NewTicker(reconcileEvery)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		s.mu.Lock()
		var open []*call
		for id, c := range s.calls {
			if id == c.channelID && !c.ended && time.Since(c.placedAt) > reconcileEvery {
				open = append(open, c)
			}
		}
		s.mu.Unlock()
		for _, c := range open {
			_, err := s.client.Channel().Data(ari.NewKey(ari.ChannelKey, c.channelID))
			if err != nil && IsNotFound(err) {
				s.log.Warn("call ended without an event; closing it", "channel", c.channelID)
				s.ended(c, 0, "channel gone; its end event was lost")
			}
		}
	}
}

// IsNotFound reports whether an ARI error is a 404: the channel, bridge or
// recording it names does not exist.
func IsNotFound(err error) bool {
	for err != nil {
		if c, ok := err.(interface{ Code() int }); ok {
			return c.Code() == 404
		}
		if c, ok := err.(interface{ Cause() error }); ok && c.Cause() != err {
			if next := c.Cause(); next != nil {
				err = next
				continue
			}
		}
		err = errors.Unwrap(err)
	}
	return false
}

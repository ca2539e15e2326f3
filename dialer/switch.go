package dialer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
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
	// callback number and opt-out instead.
	OutcomeAbandoned Outcome = "abandoned"
	// OutcomeOptedOut is an answered call in which the callee pressed the
	// opt-out key; the opt-out was recorded before the call ended.
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
	// Media is played, in order, once the call is answered; then heed hangs up.
	Media []string
	// Voicemail is played instead when an answering machine answers, after
	// its beep; empty means Media.
	Voicemail []string
	// OnKey, when set, is called (on a goroutine of its own) for each key
	// the callee presses. When it returns media, what is playing stops and
	// that media plays instead, then heed hangs up. optOut marks the call's
	// outcome as opted out.
	OnKey func(digit string) (media []string, optOut bool)
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
	// TransferTo is where the call was transferred, when it was.
	TransferTo string
}

// Lines places calls. Place originates the call and returns once the
// originate request has been accepted or refused; report then receives the
// call's progress, ending with exactly one EventEnded.
type Lines interface {
	Place(ctx context.Context, req CallRequest, report func(CallEvent)) error
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
	sub    ari.Subscription

	mu    sync.Mutex
	calls map[string]*call // by channel ID and by playback ID
	wg    sync.WaitGroup
	stop  chan struct{}
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
	optedOut  bool
	machine   bool
	keyBusy   bool // a key's response is being prepared
	ended     bool
	timer     *time.Timer
	placedAt  time.Time
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
	s := &Switch{cfg: cfg, client: client, log: log.With("asterisk", cfg.Name), calls: map[string]*call{}}
	s.sub = client.Bus().Subscribe(nil, ari.Events.All)
	s.stop = make(chan struct{})
	s.wg.Add(2)
	go s.loop()
	go s.reconcile()
	return s, nil
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
	s.sub.Cancel()
	s.client.Close()
	s.wg.Wait()
}

// ChannelID is the deterministic channel name of an attempt's call: the
// installation's id and the attempt id. An attempt can never be originated
// twice under two names, can be found again after a restart, and never
// collides with another installation's calls on a shared Asterisk.
func ChannelID(installation string, attemptID int64) string {
	return "heed-" + installation + "-" + strconv.FormatInt(attemptID, 10)
}

// Place originates one call.
func (s *Switch) Place(ctx context.Context, req CallRequest, report func(CallEvent)) error {
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
		Variables: map[string]string{"HEED_ATTEMPT": strconv.FormatInt(req.AttemptID, 10), "HEED_APP": s.cfg.Application},
	})
	if err != nil {
		s.mu.Lock()
		delete(s.calls, c.channelID)
		if !c.ended {
			c.ended = true
			close(c.events)
		}
		s.mu.Unlock()
		return fmt.Errorf("%w: %s: %v", ErrOriginate, req.To, err)
	}
	// A guard against a call whose end we never hear of: hang it up well
	// after the longest plausible call.
	limit := time.Duration(req.RingSeconds)*time.Second + 10*time.Minute
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

// loop dispatches ARI events. It must stay fast: the ari library drops
// events when a subscriber falls behind, so slow work runs elsewhere.
func (s *Switch) loop() {
	defer s.wg.Done()
	for e := range s.sub.Events() {
		switch v := e.(type) {
		case *ari.StasisStart:
			if c := s.lookup(v.Channel.ID); c != nil {
				s.stasisStart(c, v.Args)
			}
		case *ari.ChannelDtmfReceived:
			if c := s.lookup(v.Channel.ID); c != nil {
				s.mu.Lock()
				c.dtmf = append(c.dtmf, v.Digit...)
				s.mu.Unlock()
				if c.req.OnKey != nil {
					go s.key(c, v.Digit)
				}
			}
		case *ari.PlaybackFinished:
			if c := s.lookup(v.Playback.ID); c != nil {
				s.mu.Lock()
				delete(s.calls, v.Playback.ID)
				s.mu.Unlock()
				go s.playNext(c)
			}
		case *ari.ChannelDestroyed:
			if c := s.lookup(v.Channel.ID); c != nil {
				s.ended(c, v.Cause, v.CauseTxt)
			}
		}
	}
}

// stasisStart handles a call entering the application: once when it is
// answered and, with detection on, again after answering-machine detection
// with the arguments amd, status and cause.
func (s *Switch) stasisStart(c *call, args []string) {
	if len(args) >= 2 && args[0] == "amd" {
		s.mu.Lock()
		if args[1] == "MACHINE" {
			c.machine = true
			if len(c.req.Voicemail) > 0 {
				c.media, c.next = c.req.Voicemail, 0
			}
		}
		s.mu.Unlock()
		s.log.Debug("answering-machine detection", "channel", c.channelID, "status", args[1:])
		go s.playNext(c)
		return
	}
	if s.cfg.AMDContext == "" {
		s.answered(c, true)
		return
	}
	s.answered(c, false)
	go func() {
		if err := s.client.Channel().Continue(ari.NewKey(ari.ChannelKey, c.channelID), s.cfg.AMDContext, "s", 1); err != nil {
			s.log.Warn("answering-machine detection unavailable; playing the message", "channel", c.channelID, "err", err)
			s.playNext(c)
		}
	}()
}

func (s *Switch) answered(c *call, play bool) {
	s.mu.Lock()
	if c.ended || c.answered {
		s.mu.Unlock()
		return
	}
	c.answered = true
	c.events <- CallEvent{Kind: EventAnswered, At: time.Now(), ChannelID: c.channelID, Asterisk: s.cfg.Name}
	s.mu.Unlock()
	if play {
		go s.playNext(c)
	}
}

// playNext plays the call's next media, or hangs up when none is left.
func (s *Switch) playNext(c *call) {
	s.mu.Lock()
	if c.ended {
		s.mu.Unlock()
		return
	}
	if c.keyBusy {
		// A key's response is on its way; it starts the next playback.
		s.mu.Unlock()
		return
	}
	if c.next >= len(c.media) {
		s.mu.Unlock()
		s.hangup(c.channelID, "normal")
		return
	}
	media := c.media[c.next]
	playbackID := c.channelID + "-play-" + strconv.Itoa(len(c.dtmf)) + "-" + strconv.Itoa(c.next)
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
	if c.ended || c.keyBusy {
		s.mu.Unlock()
		return
	}
	c.keyBusy = true
	s.mu.Unlock()
	media, optOut := c.req.OnKey(digit)
	s.mu.Lock()
	c.keyBusy = false
	if optOut {
		c.optedOut = true
	}
	if len(media) == 0 || c.ended {
		s.mu.Unlock()
		return
	}
	c.media, c.next = media, 0
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
	for id, other := range s.calls {
		if other == c {
			delete(s.calls, id)
		}
	}
	c.events <- CallEvent{Kind: EventEnded, At: time.Now(), ChannelID: c.channelID, Asterisk: s.cfg.Name,
		Cause: cause, CauseText: causeText, DTMF: string(c.dtmf), Outcome: outcomeOf(c.answered, c.optedOut, c.machine, cause)}
	close(c.events)
	s.mu.Unlock()
}

// outcomeOf classifies a call from whether it was answered and its Q.850 cause.
func outcomeOf(answered, optedOut, machine bool, cause int) Outcome {
	switch {
	case optedOut:
		return OutcomeOptedOut
	case machine:
		return OutcomeMachine
	case answered:
		return OutcomeAnswered
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
			if err != nil && isNotFound(err) {
				s.log.Warn("call ended without an event; closing it", "channel", c.channelID)
				s.ended(c, 0, "channel gone; its end event was lost")
			}
		}
	}
}

// isNotFound reports whether an ARI error is a 404.
func isNotFound(err error) bool {
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

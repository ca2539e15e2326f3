package dialer

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/CyCoreSystems/ari/v5"

	"github.com/heed-dialer/heed/consent"
)

// ErrEventsDown reports an Asterisk whose ARI answers requests but whose
// event websocket is not connected (it is reconnecting): calls placed
// through it now could not be followed.
var ErrEventsDown = errors.New("asterisk ARI event websocket not connected")

// Orphan says what reconciliation found of the channel of an attempt that a
// stopped heed process left in flight.
type Orphan string

// What reconciliation can find of an attempt's channel.
const (
	// OrphanHungUp is a channel that was still up: no one was following
	// it any more, so heed hung it up.
	OrphanHungUp Orphan = "hung_up"
	// OrphanGone is a channel the Asterisk no longer has: the call had
	// already ended (or was never originated).
	OrphanGone Orphan = "gone"
	// OrphanUnchecked is an attempt whose Asterisk is not configured any
	// more, so no one could be asked; no configured Asterisk has its
	// channel.
	OrphanUnchecked Orphan = "unchecked"
	// OrphanFollowed is a call this process is still following: it is no
	// orphan and is left alone.
	OrphanFollowed Orphan = "followed"
	// OrphanRangOut is a channel that was still ringing: heed let it ring
	// to the end of its own ring time (the campaign's, never below the
	// F10 floor), and no one answered it.
	OrphanRangOut Orphan = "rang_out"
	// OrphanAbandoned is a channel that was still ringing and was then
	// answered, with no process left to play its message: the callee
	// heard the abandoned-call message (rule F10: the firm's name,
	// callback number and opt-out) where the call carried one, and heed
	// hung up. An abandoned call.
	OrphanAbandoned Orphan = "abandoned"
	// OrphanOptedOut is an OrphanAbandoned call in which the callee
	// pressed the opt-out key: heed hung up at once, and the opt-out is
	// for recovery to take.
	OrphanOptedOut Orphan = "opted_out"
)

// abandonedVar is the channel variable in which a call carries its
// abandoned-call message (CallRequest.Abandoned, joined with
// abandonedSep), so that a process that adopts the call after the one
// that placed it stopped can play it.
const (
	abandonedVar = "HEED_ABANDONED"
	abandonedSep = "|"
)

// ariCall runs one blocking ARI request, giving up when ctx ends. The ari
// library's requests take no context; an abandoned request finishes (or
// times out) on its own.
func ariCall[T any](ctx context.Context, f func() (T, error)) (T, error) {
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		v, err := f()
		done <- result{v, err}
	}()
	select {
	case r := <-done:
		return r.v, r.err
	case <-ctx.Done():
		var zero T
		return zero, fmt.Errorf("%w: %w", ErrARIUnavailable, ctx.Err())
	}
}

// Health checks that this Asterisk can take calls: ARI answers, the event
// websocket is connected, and it holds the application (a user event
// posted to the application comes back on it: eventsClient.Owns; it fails
// with ErrApplicationTaken when another connection holds it). It returns the time Asterisk started, which
// changes when it restarts.
func (s *Switch) Health(ctx context.Context) (time.Time, error) {
	info, err := ariCall(ctx, func() (*ari.AsteriskInfo, error) { return s.client.Asterisk().Info(nil) })
	if err != nil {
		return time.Time{}, fmt.Errorf("%s: %w: %w", s.cfg.Name, ErrARIUnavailable, err)
	}
	if o, ok := s.client.(interface{ Owns(context.Context) error }); ok {
		if err := o.Owns(ctx); err != nil {
			return time.Time{}, fmt.Errorf("%s: %w", s.cfg.Name, err)
		}
	} else if !s.client.Connected() {
		return time.Time{}, fmt.Errorf("%s: %w", s.cfg.Name, ErrEventsDown)
	}
	return time.Time(info.StatusInfo.StartupTime), nil
}

// HangUpAll hangs up every call the switch follows that has not ended,
// as heed stops: Asterisk ends each one, and the switch reports its end
// (with the keys pressed on it) as for any call, while its events are
// still heard. It returns how many it asked Asterisk to hang up; a hang-up
// Asterisk refuses is logged.
func (s *Switch) HangUpAll(ctx context.Context) int {
	s.mu.Lock()
	// The calls are indexed by their playbacks', office legs' and
	// recordings' ids too: each call once, by its own channel.
	seen := map[*call]bool{}
	var ids []string
	for _, c := range s.calls {
		if !c.ended && !seen[c] {
			seen[c] = true
			ids = append(ids, c.channelID)
		}
	}
	s.mu.Unlock()
	n := 0
	for _, id := range ids {
		if _, err := s.HangupChannel(ctx, id); err != nil {
			s.log.Warn("ari: hang up a call at stop", "asterisk", s.cfg.Name, "channel", id, "err", err)
			continue
		}
		n++
	}
	return n
}

// EventsConnected reports whether the event websocket is connected now:
// a call placed while it is not would start unheard.
func (s *Switch) EventsConnected() bool { return s.client.Connected() }

// ChannelExists reports whether Asterisk has the channel.
func (s *Switch) ChannelExists(ctx context.Context, channelID string) (bool, error) {
	_, err := ariCall(ctx, func() (*ari.ChannelData, error) {
		return s.client.Channel().Data(ari.NewKey(ari.ChannelKey, channelID))
	})
	switch {
	case err == nil:
		return true, nil
	case IsNotFound(err):
		return false, nil
	}
	return false, fmt.Errorf("%s: channel %s: %w: %w", s.cfg.Name, channelID, ErrARIUnavailable, err)
}

// HangupChannel hangs up a channel. It reports false when the channel was
// already gone.
func (s *Switch) HangupChannel(ctx context.Context, channelID string) (bool, error) {
	_, err := ariCall(ctx, func() (struct{}, error) {
		return struct{}{}, s.client.Channel().Hangup(ari.NewKey(ari.ChannelKey, channelID), "normal")
	})
	switch {
	case err == nil:
		return true, nil
	case IsNotFound(err):
		return false, nil
	}
	return false, fmt.Errorf("%s: hang up %s: %w: %w", s.cfg.Name, channelID, ErrARIUnavailable, err)
}

// Follows reports whether this Switch is following the channel's call,
// its own or an orphan it took up (Orphan).
func (s *Switch) Follows(channelID string) bool {
	return s.lookup(channelID) != nil
}

// Orphan settles the channel of an attempt that a stopped process left in
// flight. A call this Switch follows is left alone (OrphanFollowed); a
// channel Asterisk no longer has was over (OrphanGone); one already
// answered before this Switch took it up is hung up, as no one follows it
// (OrphanHungUp). A channel still ringing is never cut short (rule F10:
// let the phone ring at least 15 s): this Switch adopts it and Orphan
// waits for its end. It rings to the end of the ring time it was placed
// with (the campaign's, which its policy keeps above the floor), when
// Asterisk gives up on it (OrphanRangOut). Answered meanwhile, it is an
// abandoned call: it plays the abandoned-call message the call carries
// (CallRequest.Abandoned) and hangs up (OrphanAbandoned; OrphanOptedOut
// when the callee pressed the opt-out key). A call whose application is
// gone (its process used another name) cannot play it: Asterisk hangs it
// up as it is answered, and it is abandoned all the same. An orphan that
// this Switch took up as it was answered before Orphan asked, and has
// ended since, is reported likewise, until its end is recorded
// (ARIConfig.OrphanEnded): Orphan then finds its channel gone, and
// recovery the record. When ctx ends, or the Switch closes,
// before the orphan's end, Orphan fails with ErrARIUnavailable and the
// Switch goes on following the orphan: a later Orphan reports it.
func (s *Switch) Orphan(ctx context.Context, attemptID int64) (Orphan, error) {
	id := ChannelID(s.cfg.Installation, attemptID)
	s.mu.Lock()
	if found, ok := s.settled[id]; ok {
		delete(s.settled, id)
		s.mu.Unlock()
		return found, nil
	}
	c := s.calls[id]
	if c != nil && !c.orphan {
		s.mu.Unlock()
		return OrphanFollowed, nil
	}
	if c == nil {
		// Taken up before Asterisk is asked, so that an answer heard
		// meanwhile finds it.
		c = s.adoptLocked(id, attemptID, time.Now())
		s.mu.Unlock()
		found, err := s.lookOrphan(ctx, c)
		if err != nil || found != "" {
			return found, err
		}
	} else {
		s.mu.Unlock()
	}
	select {
	case <-c.done:
	case <-ctx.Done():
		return "", fmt.Errorf("%s: channel %s: waiting for a call left ringing: %w: %w", s.cfg.Name, id, ErrARIUnavailable, ctx.Err())
	case <-s.stop:
		return "", fmt.Errorf("%s: channel %s: waiting for a call left ringing: %w: the switch closed", s.cfg.Name, id, ErrARIUnavailable)
	}
	s.mu.Lock()
	found := c.found
	delete(s.settled, id)
	s.mu.Unlock()
	if found == "" {
		return OrphanGone, nil
	}
	return found, nil
}

// lookOrphan asks Asterisk about the channel of an orphan Orphan has just
// taken up. It returns what Orphan reports when the channel is gone or
// was answered already (the orphan is then let go), or "" for one still
// ringing, which this Switch follows from now on.
func (s *Switch) lookOrphan(ctx context.Context, c *call) (Orphan, error) {
	key := ari.NewKey(ari.ChannelKey, c.channelID)
	data, err := ariCall(ctx, func() (*ari.ChannelData, error) { return s.client.Channel().Data(key) })
	switch {
	case IsNotFound(err):
		s.letGo(c)
		return OrphanGone, nil
	case err != nil:
		s.letGo(c)
		return "", fmt.Errorf("%s: channel %s: %w: %w", s.cfg.Name, c.channelID, ErrARIUnavailable, err)
	}
	s.mu.Lock()
	answered := c.answered
	s.mu.Unlock()
	if data.State == "Up" && !answered {
		// Answered before this Switch took it up: the stopped process's
		// call, its message cut short (or its callee with the office).
		s.letGo(c)
		up, err := s.HangupChannel(ctx, c.channelID)
		if err != nil {
			return "", err
		}
		if up {
			s.log.Warn("hung up a call left in flight by a stopped process", "channel", c.channelID)
			return OrphanHungUp, nil
		}
		return OrphanGone, nil
	}
	created := time.Now()
	if ts := data.Creationtime; ts != nil && ts.Seconds > 0 {
		created = time.Unix(ts.Seconds, int64(ts.Nanos))
	}
	s.mu.Lock()
	if !c.ended {
		c.placedAt = created
		// As for any call (callLimit): well after the longest ring.
		c.timer = time.AfterFunc(time.Until(created.Add(consent.MaxRing+10*time.Minute)), func() { s.hangup(c.channelID, "normal") })
	}
	s.mu.Unlock()
	// Its end is heard even when the call was placed for another
	// application (a process that used another name).
	if err := s.client.Application().Subscribe(ari.NewKey(ari.ApplicationKey, s.cfg.Application), "channel:"+c.channelID); err != nil {
		s.log.Warn("orphan: could not subscribe to a call left ringing; its end is found by asking", "channel", c.channelID, "err", err)
	}
	s.log.Warn("a call left ringing by a stopped process is left to ring out", "channel", c.channelID, "state", data.State,
		"rung", time.Since(created).Round(100*time.Millisecond))
	return "", nil
}

// adoptLocked takes up the channel of an attempt a stopped process placed
// (an orphan) and returns its call: this Switch follows it from now on,
// and once it ends what became of it is kept in settled for Orphan, and
// recorded (noteOrphan). s.mu must be held.
func (s *Switch) adoptLocked(channelID string, attemptID int64, now time.Time) *call {
	c := &call{req: CallRequest{AttemptID: attemptID}, channelID: channelID, events: make(chan CallEvent, 4),
		placedAt: now, orphan: true, done: make(chan struct{})}
	s.calls[channelID] = c
	go func() {
		for ev := range c.events {
			if ev.Kind != EventEnded {
				continue
			}
			found := OrphanRangOut
			switch {
			case ev.Outcome != OutcomeAbandoned:
			case strings.Contains(ev.DTMF, OptOutKey):
				found = OrphanOptedOut
			default:
				found = OrphanAbandoned
			}
			s.mu.Lock()
			c.found = found
			s.settled[channelID] = found
			s.mu.Unlock()
			s.log.Info("orphan: a call left by a stopped process ended", "channel", channelID, "found", found,
				"cause", ev.Cause, "dtmf", ev.DTMF)
			if s.cfg.OrphanEnded != nil {
				go s.noteOrphan(channelID, attemptID, found)
			}
		}
		close(c.done)
	}()
	return c
}

// noteOrphan records what became of an orphan that has ended
// (ARIConfig.OrphanEnded), trying again until it succeeds or the switch
// closes (untilClosed), and then forgets it: recovery finds it in the
// database. Until then Orphan finds it in settled; should the switch close
// first, it is lost with the process, as before there was a record.
func (s *Switch) noteOrphan(channelID string, attemptID int64, found Orphan) {
	note := s.cfg.OrphanEnded
	err := s.untilClosed(OptOutRetryWait, func(ctx context.Context) error { return note(ctx, attemptID, found) },
		func(_ int, err error) {
			s.log.Error("could not record what became of a call left by a stopped process; trying again", "attempt", attemptID,
				"found", found, "err", err)
		})
	if err != nil {
		s.log.Error("the switch closed before what became of a call left by a stopped process was recorded", "attempt", attemptID,
			"found", found, "err", err)
		return
	}
	s.mu.Lock()
	delete(s.settled, channelID)
	s.mu.Unlock()
}

// letGo stops following an orphan Orphan took up, as it reports it at
// once.
func (s *Switch) letGo(c *call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.calls[c.channelID] == c {
		delete(s.calls, c.channelID)
	}
	if !c.ended {
		c.ended = true
		if c.timer != nil {
			c.timer.Stop()
		}
		close(c.events)
	}
}

// strayCall reports whether a channel that entered the application
// unknown to this Switch is the call of an attempt that a stopped process
// of this installation placed (its StasisStart arguments: the answer, or
// answering-machine detection's end), and returns the attempt.
func (s *Switch) strayCall(channelID string, args []string) (int64, bool) {
	prefix := "heed-" + s.cfg.Installation + "-"
	if !strings.HasPrefix(channelID, prefix) || len(args) == 0 || (args[0] != "attempt" && args[0] != "amd") {
		return 0, false
	}
	attemptID, err := strconv.ParseInt(strings.TrimPrefix(channelID, prefix), 10, 64)
	if err != nil || ChannelID(s.cfg.Installation, attemptID) != channelID {
		return 0, false
	}
	return attemptID, true
}

// orphanAnswered marks an orphan that was just answered as an abandoned
// call (rule F10: no one follows it to play its message) and plays it the
// abandoned-call message its call carries (playAbandoned).
func (s *Switch) orphanAnswered(c *call) {
	s.mu.Lock()
	if c.ended || c.answered {
		s.mu.Unlock()
		return
	}
	c.outcome = OutcomeAbandoned
	s.mu.Unlock()
	s.answered(c)
	go s.playAbandoned(c)
}

// playAbandoned plays to an answered orphan the abandoned-call message its
// call carries (abandonedVar), then hangs up; without one it hangs up at
// once.
func (s *Switch) playAbandoned(c *call) {
	var media []string
	v, err := s.client.Channel().GetVariable(ari.NewKey(ari.ChannelKey, c.channelID), abandonedVar)
	if err != nil {
		s.log.Warn("orphan: no abandoned-call message to play; hanging up", "channel", c.channelID, "err", err)
	}
	for _, m := range strings.Split(v, abandonedSep) {
		if m != "" {
			media = append(media, m)
		}
	}
	s.log.Warn("a call left by a stopped process was answered: playing the abandoned-call message", "channel", c.channelID, "media", len(media))
	s.mu.Lock()
	c.media, c.next = media, 0
	s.mu.Unlock()
	s.playNext(c)
}

// Resync asks Asterisk about every call this Switch follows and ends those
// whose channel is gone. It is run after the event websocket reconnects or
// Asterisk restarts, when the events that ended calls may have been lost.
// It returns how many calls it ended.
func (s *Switch) Resync(ctx context.Context) (int, error) {
	s.mu.Lock()
	var open []*call
	for id, c := range s.calls {
		// A call without its guard timer is still being originated; its
		// channel may not exist yet.
		if id == c.channelID && !c.ended && c.timer != nil {
			open = append(open, c)
		}
	}
	s.mu.Unlock()
	n := 0
	for _, c := range open {
		ok, err := s.ChannelExists(ctx, c.channelID)
		if err != nil {
			return n, fmt.Errorf("resync: %w", err)
		}
		if !ok {
			s.log.Warn("call ended while ARI was disconnected; closing it", "channel", c.channelID)
			s.ended(c, 0, "channel gone; its end event was lost while ARI was disconnected")
			n++
		}
	}
	return n, nil
}

package dialer

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/CyCoreSystems/ari/v5"
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

// Health checks that this Asterisk can take calls: ARI answers and the
// event websocket is connected. It returns the time Asterisk started, which
// changes when it restarts.
func (s *Switch) Health(ctx context.Context) (time.Time, error) {
	info, err := ariCall(ctx, func() (*ari.AsteriskInfo, error) { return s.client.Asterisk().Info(nil) })
	if err != nil {
		return time.Time{}, fmt.Errorf("%s: %w: %w", s.cfg.Name, ErrARIUnavailable, err)
	}
	// The ari library keeps Connected as a plain field that its websocket
	// loop sets; a stale read only delays noticing a drop by one check.
	if !s.client.Connected() {
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

// Follows reports whether this Switch is following the channel's call.
func (s *Switch) Follows(channelID string) bool {
	return s.lookup(channelID) != nil
}

// Orphan settles the channel of an attempt that a stopped process left in
// flight: still up, it is hung up; gone, nothing is done. A call this
// Switch follows is left alone.
func (s *Switch) Orphan(ctx context.Context, attemptID int64) (Orphan, error) {
	id := ChannelID(s.cfg.Installation, attemptID)
	if s.Follows(id) {
		return OrphanFollowed, nil
	}
	up, err := s.HangupChannel(ctx, id)
	if err != nil {
		return "", err
	}
	if up {
		s.log.Warn("hung up a call left in flight by a stopped process", "channel", id)
		return OrphanHungUp, nil
	}
	return OrphanGone, nil
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

package dialer

import (
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/CyCoreSystems/ari/v5"
	"github.com/stretchr/testify/require"
)

// handSub is a subscription the test feeds by hand.
type handSub struct{ ch chan ari.Event }

func (r *handSub) Events() <-chan ari.Event { return r.ch }
func (r *handSub) Cancel()                  {}

// playChannels answers Play as Asterisk does, with the playback's
// PlaybackStarted (at started[id] after answer) on the switch's
// PlaybackStarted subscription, and tells played.
type playChannels struct {
	ari.Channel
	sub     *handSub
	answer  time.Time
	started map[string]time.Duration
	played  chan string
}

func (r *playChannels) Play(_ *ari.Key, id string, _ string) (*ari.PlaybackHandle, error) {
	if d, ok := r.started[id]; ok {
		r.sub.ch <- &ari.PlaybackStarted{EventData: ari.EventData{Timestamp: ari.DateTime(r.answer.Add(d))}, Playback: ari.PlaybackData{ID: id}}
	}
	r.played <- id
	return nil, nil
}

func (r *playChannels) Hangup(*ari.Key, string) error { return nil }

type playClient struct {
	ari.Client
	ch *playChannels
}

func (r playClient) Channel() ari.Channel { return r.ch }

// TestAudioStartIsTheFirstPlaybacks: audio_started_ms is when the call's
// FIRST playback began, driven through the real loop with hand-fed
// subscriptions (a review's test). Each event type has a subscription of
// its own, and the loop's select picks at random among the ready ones, so
// the opening's PlaybackStarted may be handled after its PlaybackFinished
// (which removes the playback's own entry): the start is still the
// opening's, 20 ms, every time. When the opening's PlaybackStarted is lost
// (the event websocket reconnected mid-call), the message's start 7 s
// into the call is not taken for heed's: the start stays unknown. The
// loop used to record the first PlaybackStarted it found a call for, 7 s
// in both cases, which F10's count then took for an abandoned call.
func TestAudioStartIsTheFirstPlaybacks(t *testing.T) {
	answer := time.Date(2026, 11, 28, 15, 0, 0, 0, time.UTC)
	trial := func(firstStarted bool) *call {
		subs := make([]*handSub, len(followed))
		s := &Switch{log: slog.New(slog.NewTextHandler(io.Discard, nil)), calls: map[string]*call{}, settled: map[string]Orphan{},
			stop: make(chan struct{})}
		for i := range subs {
			subs[i] = &handSub{ch: make(chan ari.Event, 16)}
			s.subs = append(s.subs, subs[i])
		}
		s.keys = subs[1]
		pbStarted := subs[6]
		chans := &playChannels{sub: pbStarted, answer: answer, played: make(chan string, 4),
			started: map[string]time.Duration{"ch-play-0-1": 7 * time.Second}}
		if firstStarted {
			chans.started["ch-play-0-0"] = 20 * time.Millisecond
		}
		s.client = playClient{ch: chans}
		media := []string{"sound:opening", "sound:message"}
		// The call was answered (as the loop's StasisStart leaves it) and
		// its first playback, the opening, starts; before the loop gets to
		// its PlaybackStarted, the opening has finished too.
		c := &call{req: CallRequest{AttemptID: 1, Media: media}, channelID: "ch", events: make(chan CallEvent, 8), media: media,
			answered: true, answeredAt: answer}
		s.calls["ch"] = c
		s.playNext(c)
		require.Equal(t, "ch-play-0-0", <-chans.played)
		subs[2].ch <- &ari.PlaybackFinished{Playback: ari.PlaybackData{ID: "ch-play-0-0"}}
		s.wg.Add(1)
		go s.loop()
		require.Equal(t, "ch-play-0-1", <-chans.played, "the message plays after the opening")
		close(pbStarted.ch) // loop handles what is queued there, then returns
		s.wg.Wait()
		return c
	}

	var mu sync.Mutex
	check := func(c *call, started bool, want time.Duration, what string) {
		mu.Lock()
		defer mu.Unlock()
		require.Equal(t, started, c.audioStarted, what)
		require.Equal(t, want, c.audioStart, what)
	}
	check(trial(false), false, 0, "the first PlaybackStarted lost (a websocket reconnect)")
	for i := range 20 {
		check(trial(true), true, 20*time.Millisecond, fmt.Sprintf("PlaybackStarted and PlaybackFinished of the opening both queued, trial %d", i))
	}
}

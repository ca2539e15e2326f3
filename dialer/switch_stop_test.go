package dialer_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/asterisk/testbed"
	"github.com/heed-dialer/heed/dialer"
	"github.com/heed-dialer/heed/internal/logbuf"
	"github.com/heed-dialer/heed/internal/phone"
)

// TestHangUpAllAtStop: as heed stops, the calls still up are hung up on
// the real testbed, and each one's end is reported as any call's is, while
// the switch still hears Asterisk: not left silent on the line until
// Asterisk's own limit, unrecorded.
func TestHangUpAllAtStop(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	sw, _, logged := testSwitch(ctx, t, testbed.ForTest(ctx, t), "stop")

	events := answeredCall(ctx, t, sw, "+12035550184", 30)

	require.Equal(t, 1, sw.HangUpAll(ctx), "the call up is hung up")
	for {
		select {
		case ev := <-events:
			if ev.Kind != dialer.EventEnded {
				continue
			}
			require.Equal(t, dialer.ChannelID("stop", 1), ev.ChannelID)
			require.True(t, ev.Outcome.Reached(), "answered, then hung up: %+v", ev)
			require.Zero(t, sw.HangUpAll(ctx), "no call left up")
			// A playback the hang-up cut short may be logged; nothing else.
			require.NotContains(t, logged.String(), "hang up a call at stop")
			return
		case <-ctx.Done():
			t.Fatal("no end reported for the call hung up")
		}
	}
}

// testSwitch connects a Switch to the testbed tb, under an application
// and installation named after name, warnings and errors logged to the
// buffer it returns with its configuration; the test closes it.
func testSwitch(ctx context.Context, t *testing.T, tb *testbed.Testbed, name string) (*dialer.Switch, dialer.ARIConfig, *logbuf.Buffer) {
	t.Helper()
	logged := &logbuf.Buffer{}
	log := slog.New(slog.NewTextHandler(logged, &slog.HandlerOptions{Level: slog.LevelWarn}))
	cfg := dialer.ARIConfig{
		Name: "pbx", URL: tb.ARIURL, Username: tb.ARIUser, Password: tb.ARIPassword,
		Application: fmt.Sprintf("heed-%s-%d", name, os.Getpid()), Trunk: tb.Trunk, Installation: name,
	}
	sw, err := dialer.NewSwitch(ctx, cfg, log)
	require.NoError(t, err)
	t.Cleanup(sw.Close)
	return sw, cfg, logged
}

// answeredCall places attempt 1's call, 30 s of silence, to the testbed's
// number that answers, from callerID, and returns its events once it is
// originated and answered, each once: the answer may be heard before the
// originate request returns (CI saw it), so in either order.
func answeredCall(ctx context.Context, t *testing.T, sw *dialer.Switch, callerID string, ring int) <-chan dialer.CallEvent {
	t.Helper()
	events := make(chan dialer.CallEvent, 16)
	require.NoError(t, sw.Place(ctx, dialer.CallRequest{
		AttemptID: 1, To: phone.Number("+18605550411"), CallerID: callerID, RingSeconds: ring,
		Media: []string{"sound:silence/10", "sound:silence/10", "sound:silence/10"},
	}, func(ev dialer.CallEvent) { events <- ev }))
	seen := map[dialer.EventKind]bool{}
	for !seen[dialer.EventOriginated] || !seen[dialer.EventAnswered] {
		select {
		case ev := <-events:
			require.Contains(t, []dialer.EventKind{dialer.EventOriginated, dialer.EventAnswered}, ev.Kind, "%+v", ev)
			require.False(t, seen[ev.Kind], "one %d event: %+v", ev.Kind, ev)
			seen[ev.Kind] = true
		case <-ctx.Done():
			t.Fatal("the call was not originated and answered")
		}
	}
	return events
}

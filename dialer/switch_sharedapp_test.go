package dialer_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/CyCoreSystems/ari/v5"
	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/asterisk/testbed"
	"github.com/heed-dialer/heed/dialer"
	"github.com/heed-dialer/heed/internal/logbuf"
	"github.com/heed-dialer/heed/internal/phone"
)

// TestSharedApplicationOlderGoesDown: two heed processes on one Asterisk
// with the same HEED_ARI_APP (its default, "heed", for both). The real
// Asterisk keeps both event websockets open and sends the application's
// events to the newer one only, and tells the older so (ApplicationReplaced):
// the older process, A, hears none of its call's events, and it must not
// read as connected (Connected, and so Switch.Health and the pool, which
// would place calls through it), and it logs an error that says what to
// do. Before the fix A read as connected in all ~700 samples over 4 s.
func TestSharedApplicationOlderGoesDown(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	tb := testbed.ForTest(ctx, t)
	app := fmt.Sprintf("heed-shared-%d", os.Getpid())
	cfg := dialer.ARIConfig{Name: "pbx", URL: tb.ARIURL, Username: tb.ARIUser, Password: tb.ARIPassword, Application: app}
	logA, logB := &logbuf.Buffer{}, &logbuf.Buffer{}
	a, err := dialer.ConnectARI(ctx, cfg, slog.New(slog.NewTextHandler(logA, nil)))
	require.NoError(t, err)
	defer a.Close()
	subA := a.Bus().Subscribe(nil, ari.Events.All)
	defer subA.Cancel()
	time.Sleep(500 * time.Millisecond)
	b, err := dialer.ConnectARI(ctx, cfg, slog.New(slog.NewTextHandler(logB, nil)))
	require.NoError(t, err)
	defer b.Close()
	subB := b.Bus().Subscribe(nil, ari.Events.All)
	defer subB.Cancel()
	// A places a call into the application (PSTN 01 answers and says
	// hello); both processes' connections are watched while it is up.
	h, err := a.Channel().Originate(nil, ari.OriginateRequest{Endpoint: fmt.Sprintf(tb.Trunk, "+18605550101"), App: app, AppArgs: "review"})
	require.NoError(t, err)
	downA, downB, samples := 0, 0, 0
	deadline := time.Now().Add(4 * time.Second)
	for time.Now().Before(deadline) {
		if !a.Connected() {
			downA++
		}
		if !b.Connected() {
			downB++
		}
		samples++
		time.Sleep(5 * time.Millisecond)
	}
	_ = h.Hangup()
	time.Sleep(time.Second)
	count := func(s ari.Subscription) int {
		n := 0
		for {
			select {
			case <-s.Events():
				n++
			default:
				return n
			}
		}
	}
	heardA, heardB := count(subA), count(subB)
	t.Logf("over 4 s with the call up, %d samples: A seen down %d, B seen down %d; drops logged: A %d, B %d; events of A's call on A's bus %d, on B's %d",
		samples, downA, downB, strings.Count(logA.String(), "event websocket lost"), strings.Count(logB.String(), "event websocket lost"),
		heardA, heardB)
	require.True(t, downA > 0 || heardA > 0, "A placed a call, heard none of its events (B heard %d), and never read as disconnected", heardB)
	require.Equal(t, samples, downA, "A read as connected after B took its application")
	require.Zero(t, downB, "B, which holds the application, read as disconnected")
	require.Contains(t, logA.String(), "level=ERROR")
	require.Contains(t, logA.String(), "give each heed process its own HEED_ARI_APP")
	require.NotContains(t, logB.String(), "level=ERROR")
}

// TestSharedApplicationOlderPlacesNoCall: two live heed processes of one
// installation on one Asterisk with the same Stasis application name.
// Before the fix the older, A, placed its call; Asterisk sent its events
// to B, the newer connection, which took A's answered call for a stopped
// process's orphan, played it the abandoned-call message, hung up, and
// recorded "abandoned" on A's attempt in flight (ARIConfig.OrphanEnded,
// campaign.Store.NoteOrphan) while A, alive, still followed the call. Now
// A's Health fails (ErrApplicationTaken: the pool places nothing through
// it) and its Place refuses before originating, so no channel exists and
// B records nothing; B stays healthy. Once B goes away, A's Health finds
// the application held by no one, dials its websocket again to take it,
// and A places and hears a call again.
func TestSharedApplicationOlderPlacesNoCall(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	_, cfg, log := orphanTestbed(ctx, t, "heed-shared-hijack")
	a, err := dialer.NewSwitch(ctx, cfg, log.With("process", "A"))
	require.NoError(t, err)
	defer a.Close()
	_, err = a.Health(ctx)
	require.NoError(t, err, "A alone holds its application")
	noted := make(chan dialer.Orphan, 4)
	cfgB := cfg
	cfgB.OrphanEnded = func(_ context.Context, attemptID int64, found dialer.Orphan) error {
		noted <- found
		return nil
	}
	b, err := dialer.NewSwitch(ctx, cfgB, log.With("process", "B"))
	require.NoError(t, err)
	bClosed := false
	defer func() {
		if !bClosed {
			b.Close()
		}
	}()

	_, err = a.Health(ctx)
	require.ErrorIs(t, err, dialer.ErrApplicationTaken, "A's health once B took its application")
	require.ErrorIs(t, err, dialer.ErrEventsDown)
	_, err = b.Health(ctx)
	require.NoError(t, err, "B holds the application")

	const person = "+18605550410" // PSTN 10: a person who says hello and listens 30 s
	place := func(s *dialer.Switch, attemptID int64, heard chan<- dialer.CallEvent) error {
		return s.Place(ctx, dialer.CallRequest{
			AttemptID: attemptID, To: phone.Number(person), CallerID: "+12035550188", RingSeconds: 20,
			Media: []string{"sound:silence/1"}, Abandoned: []string{"sound:beep"},
		}, func(ev dialer.CallEvent) { heard <- ev })
	}
	heard := make(chan dialer.CallEvent, 8)
	err = place(a, 7, heard)
	require.ErrorIs(t, err, dialer.ErrApplicationTaken, "A placed a call whose events go to B")
	exists, err := b.ChannelExists(ctx, dialer.ChannelID(cfg.Installation, 7))
	require.NoError(t, err)
	require.False(t, exists, "A's refused call has a channel")
	select {
	case found := <-noted:
		t.Fatalf("B recorded %q on a call of A's", found)
	case ev := <-heard:
		t.Fatalf("A's refused call reported %v", ev)
	default:
	}

	// B goes away: no connection holds the application, and A takes it
	// back at its next health check.
	b.Close()
	bClosed = true
	require.Eventually(t, func() bool {
		_, err := a.Health(ctx)
		return err == nil
	}, 15*time.Second, 200*time.Millisecond, "A never took its application back")
	require.NoError(t, place(a, 8, heard))
	var kinds []dialer.EventKind
	for ended := false; !ended; {
		select {
		case ev := <-heard:
			kinds = append(kinds, ev.Kind)
			ended = ev.Kind == dialer.EventEnded
		case <-ctx.Done():
			t.Fatalf("A's call after it took its application back: heard only %v", kinds)
		}
	}
	require.Equal(t, []dialer.EventKind{dialer.EventOriginated, dialer.EventAnswered, dialer.EventEnded}, kinds)
}

// BenchmarkSwitchHealth measures one health check on the testbed's
// Asterisk: ARI's info, and the ownership probe (a user event posted to
// the application, back on the switch's websocket). The pool runs one per
// Asterisk every 2 s.
func BenchmarkSwitchHealth(b *testing.B) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	tb := testbed.ForTest(ctx, b)
	cfg := dialer.ARIConfig{Name: "pbx", URL: tb.ARIURL, Username: tb.ARIUser, Password: tb.ARIPassword,
		Application: fmt.Sprintf("heed-health-bench-%d", os.Getpid()), Trunk: tb.Trunk, Installation: "bench"}
	s, err := dialer.NewSwitch(ctx, cfg, slog.New(slog.DiscardHandler))
	require.NoError(b, err)
	defer s.Close()
	for b.Loop() {
		if _, err := s.Health(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
